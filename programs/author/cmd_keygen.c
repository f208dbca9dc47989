/* secup-author keygen: a new signing (or key-agreement) key pair. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "author.h"
#include "cli.h"

static void help(void)
{
    printf("usage: secup-author keygen --alg esp256|ed25519|x25519 --out KEY.pem [--force]\n\n"
           "Generates a key pair. The private key is written to KEY.pem with mode 0600 and the\n"
           "public key to KEY.pub.pem (the .pem suffix replaced), both atomically.\n"
           "esp256 (ECDSA P-256, COSE -9) and ed25519 (COSE -19) sign manifests; x25519 keys\n"
           "receive content keys by ECDH.\n\n"
           "  --alg ALG   esp256 | ed25519 | x25519\n"
           "  --out FILE  private key file; the public key goes beside it\n"
           "  --force     replace existing key files (never done silently)\n");
}

static void public_path(const char *out, char *pub, size_t cap)
{
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".pem") == 0)
        snprintf(pub, cap, "%.*s.pub.pem", (int)(n - 4), out);
    else
        snprintf(pub, cap, "%s.pub.pem", out);
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "alg", required_argument, NULL, 'a' },
        { "out", required_argument, NULL, 'o' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *alg = NULL;
    const char *out = NULL;
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:o:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'a': alg = optarg; break;
        case 'o': out = optarg; break;
        case 'f': force = true; break;
        case 'h': help(); return 0;
        default: return cli_usage("keygen", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("keygen", "unexpected argument '%s'", argv[optind]);
    if (!alg || !out)
        return cli_usage("keygen", "--alg and --out are required");
    enum secup_key_type type;
    if (strcmp(alg, "esp256") == 0 || strcmp(alg, "es256") == 0 || strcmp(alg, "p256") == 0)
        type = SECUP_KEY_P256;
    else if (strcmp(alg, "ed25519") == 0 || strcmp(alg, "eddsa") == 0)
        type = SECUP_KEY_ED25519;
    else if (strcmp(alg, "x25519") == 0)
        type = SECUP_KEY_X25519;
    else
        return cli_usage("keygen", "unknown algorithm '%s' (esp256, ed25519 or x25519)", alg);

    char pub[4096];
    public_path(out, pub, sizeof(pub));
    struct secup_err err;
    secup_err_clear(&err);
    if (!force && (access(out, F_OK) == 0 || access(pub, F_OK) == 0)) {
        secup_err_set(&err, SECUP_E_EXISTS, "'%s' or '%s' already exists", out, pub);
        int st = cli_fail("keygen", &err);
        cli_hint("use --force to replace the existing key (the old key is lost)");
        return st;
    }
    struct secup_key *key = NULL;
    secup_rc rc = secup_key_generate(&key, type, &err);
    if (rc == SECUP_OK)
        rc = secup_key_save_private(key, out, &err);
    if (rc == SECUP_OK)
        rc = secup_key_save_public(key, pub, &err);
    secup_key_free(key);
    if (rc != SECUP_OK)
        return cli_fail("keygen", &err);
    printf("private key: %s (mode 0600)\npublic key:  %s\nalgorithm:   %s\n", out, pub,
           type == SECUP_KEY_P256 ? "ESP256 (ECDSA P-256)" : type == SECUP_KEY_ED25519 ? "Ed25519" : "X25519");
    return 0;
}
