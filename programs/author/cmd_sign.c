/* secup-author sign: adds signatures to an envelope another key already signed (k-of-n
 * thresholds: an Author and an operator; THREATS.md T10). Before signing, the manifest is
 * decoded again and every component's image is hashed and compared with it (C13): a
 * co-signer vouches for what it checked, never for bytes it did not see. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author.h"
#include "cli.h"

static void help(void)
{
    printf("usage: secup-author sign ENVELOPE --key KEY.pem [--key ...] [--hmac-key FILE]\n"
           "                         --image [INDEX=]FILE ... --out FILE [--quiet]\n\n"
           "Adds a COSE_Sign1 (or COSE_Mac0) block per key to ENVELOPE, leaving the manifest,\n"
           "its digest, the signatures already there and any integrated payloads unchanged\n"
           "(at most %d blocks in all). Every component whose manifest gives an image digest\n"
           "needs an --image: its SHA-256 and size are checked before anything is signed.\n"
           "Private key files must not be readable by group or others.\n\n"
           "  --key FILE        private signing key (P-256 or Ed25519 PEM, or a pkcs11: URI),\n"
           "                    repeatable\n"
           "  --hmac-key FILE   also add a COSE_Mac0 with this HMAC-SHA256 secret (hex)\n"
           "  --image [N=]FILE  image of component N (default: the next one), repeatable\n"
           "  --out FILE        the co-signed envelope (written atomically)\n",
           SECUP_MAX_AUTH);
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "hmac-key", required_argument, NULL, 'H' },
        { "image", required_argument, NULL, 'i' },
        { "out", required_argument, NULL, 'o' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct author_key_ref keys[SECUP_MAX_AUTH];
    size_t n_keys = 0;
    const char *images[SECUP_MAX_COMPONENTS];
    bool have_image[SECUP_MAX_COMPONENTS] = { false };
    uint32_t next = 0;
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:H:i:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
        case 'H':
            if (n_keys >= SECUP_MAX_AUTH)
                return cli_usage("sign", "at most %d --key and --hmac-key options", SECUP_MAX_AUTH);
            keys[n_keys].path = optarg;
            keys[n_keys++].hmac = c == 'H';
            break;
        case 'i': {
            const char *eq = strchr(optarg, '=');
            uint32_t idx = next;
            const char *path = optarg;
            if (eq && eq > optarg && strspn(optarg, "0123456789") == (size_t)(eq - optarg)) {
                uint64_t v = 0;
                char num[16];
                size_t nl = (size_t)(eq - optarg);
                if (nl >= sizeof(num))
                    return cli_usage("sign", "component index in '%s' too large", optarg);
                memcpy(num, optarg, nl);
                num[nl] = '\0';
                if (!cli_parse_u64(num, &v) || v >= SECUP_MAX_COMPONENTS)
                    return cli_usage("sign", "component index in '%s' out of range", optarg);
                idx = (uint32_t)v;
                path = eq + 1;
            }
            if (idx >= SECUP_MAX_COMPONENTS)
                return cli_usage("sign", "too many --image options");
            if (have_image[idx])
                return cli_usage("sign", "two --image options for component %u", idx);
            images[idx] = path;
            have_image[idx] = true;
            next = idx + 1;
            break;
        }
        case 'o': out = optarg; break;
        case 'q': cli_set_quiet(true); break;
        case 'h': help(); return 0;
        default: return cli_usage("sign", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("sign", "exactly one envelope file is needed");
    if (n_keys == 0 || !out)
        return cli_usage("sign", "--key (or --hmac-key) and --out are required");
    const char *path = argv[optind];

    struct secup_err err;
    secup_err_clear(&err);
    struct secup_envelope *env = NULL;
    struct secup_envelope *back = NULL;
    struct secup_key *sk[SECUP_MAX_AUTH] = { 0 };
    struct secup_trust *t = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t *signed_env = NULL;
    size_t signed_len = 0;
    secup_rc rc = author_load_envelope(path, &buf, &len, &env, &err);
    /* C13: the manifest as decoded now, and every image against it, before any key is used */
    for (uint32_t i = 0; rc == SECUP_OK && i < env->manifest.n_components; i++) {
        struct secup_image_info info;
        rc = secup_manifest_image_info(&env->manifest, i, &info, &err);
        if (rc != SECUP_OK || !info.has_digest)
            continue;
        if (!have_image[i])
            rc = secup_err_set(&err, SECUP_E_MISSING,
                               "component %u has an image digest: give --image %u=FILE, it is checked before signing",
                               i, i);
        else
            rc = author_check_image(&env->manifest, i, images[i], &err);
        if (rc != SECUP_OK)
            secup_err_prefix(&err, "'%s': nothing signed", path);
    }
    for (uint32_t i = env ? env->manifest.n_components : 0; rc == SECUP_OK && i < SECUP_MAX_COMPONENTS; i++) {
        if (have_image[i])
            rc = secup_err_set(&err, SECUP_E_VALUE, "--image %u: the manifest has %u components", i,
                               env->manifest.n_components);
    }
    for (size_t i = 0; rc == SECUP_OK && i < n_keys; i++)
        rc = author_load_signing_key(&keys[i], &sk[i], &err);
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = AUTHOR_MAX_ENVELOPE;
    if (rc == SECUP_OK)
        rc = secup_envelope_cosign(secup_bytes_of(buf, len), &lim, (const struct secup_key *const *)sk,
                                   n_keys, &signed_env, &signed_len, &err);
    /* read back: every new key verifies the result on its own */
    if (rc == SECUP_OK) {
        back = malloc(sizeof(*back));
        rc = back ? secup_envelope_decode(back, secup_bytes_of(signed_env, signed_len), &lim, &err)
                  : secup_err_set(&err, SECUP_E_NOMEM, "no memory for the self-check");
    }
    for (size_t i = 0; rc == SECUP_OK && i < n_keys; i++) {
        struct secup_key *k = NULL;
        secup_trust_free(t);
        t = NULL;
        rc = secup_trust_new(&t, &err);
        if (rc == SECUP_OK)
            rc = author_load_signing_key(&keys[i], &k, &err);
        if (rc == SECUP_OK) {
            rc = secup_trust_add(t, k, keys[i].path, &err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
        if (rc == SECUP_OK)
            rc = secup_envelope_verify(back, t, NULL, &err);
        if (rc != SECUP_OK)
            secup_err_prefix(&err, "self-check of the co-signed envelope failed; nothing written");
    }
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(out, secup_bytes_of(signed_env, signed_len), 0644, &err);
    int status = 0;
    if (rc != SECUP_OK)
        status = cli_fail("sign", &err);
    else
        cli_note("wrote %s: %zu bytes, %u signatures in all (%zu added)", out, signed_len,
                 back->n_auth, n_keys);
    for (size_t i = 0; i < n_keys; i++)
        secup_key_free(sk[i]);
    secup_trust_free(t);
    secup_buffer_free(signed_env);
    free(back);
    free(env);
    secup_file_free(buf, len);
    return status;
}
