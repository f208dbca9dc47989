/* TEST ONLY: signs a secup-command (include/secup/command.h) as a tracker would, for the
 * stand-in tracker of tests/integration/test_agent_online.sh.
 *   sign_command --key K --issuer I --target T --counter N --action A --out FILE
 *                [--issued-at S] [--expires-at S] [--uri U --digest HEX --seq N]
 *                [--payload-uri U]... [--rollout R]
 * issued-at defaults to now, expires-at to issued-at + 600. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secup/secup.h"

static struct secup_bytes text(const char *s)
{
    return secup_bytes_of(s, strlen(s));
}

static bool number(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end)
        return false;
    *out = (uint64_t)v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, NULL, 'k' },       { "issuer", required_argument, NULL, 'i' },
        { "target", required_argument, NULL, 't' },    { "counter", required_argument, NULL, 'n' },
        { "action", required_argument, NULL, 'a' },    { "out", required_argument, NULL, 'o' },
        { "issued-at", required_argument, NULL, 'I' }, { "expires-at", required_argument, NULL, 'E' },
        { "uri", required_argument, NULL, 'u' },       { "digest", required_argument, NULL, 'd' },
        { "seq", required_argument, NULL, 's' },       { "payload-uri", required_argument, NULL, 'p' },
        { "rollout", required_argument, NULL, 'r' },   { NULL, 0, NULL, 0 },
    };
    static struct secup_command_msg c;
    const char *key_path = NULL;
    const char *out = NULL;
    bool has_issued = false;
    bool has_expires = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        bool ok = true;
        size_t n = 0;
        switch (ch) {
        case 'k': key_path = optarg; break;
        case 'i': c.issuer = text(optarg); break;
        case 't': c.target = text(optarg); break;
        case 'n': ok = number(optarg, &c.counter); break;
        case 'o': out = optarg; break;
        case 'I': ok = number(optarg, &c.issued_at); has_issued = true; break;
        case 'E': ok = number(optarg, &c.expires_at); has_expires = true; break;
        case 'u': c.manifest_uri = text(optarg); break;
        case 'd':
            ok = secup_hex_decode(optarg, c.digest, sizeof(c.digest), &n) && n == 32;
            c.has_digest = true;
            break;
        case 's': ok = number(optarg, &c.seq); c.has_seq = true; break;
        case 'p':
            ok = c.n_uris < SECUP_COMMAND_MAX_URIS;
            if (ok)
                c.uris[c.n_uris++] = text(optarg);
            break;
        case 'r': c.rollout = text(optarg); break;
        case 'a':
            c.action = strcmp(optarg, "install") == 0   ? SECUP_COMMAND_INSTALL
                       : strcmp(optarg, "nothing") == 0 ? SECUP_COMMAND_NOTHING
                       : strcmp(optarg, "report") == 0  ? SECUP_COMMAND_REPORT
                       : strcmp(optarg, "cancel") == 0  ? SECUP_COMMAND_CANCEL
                                                        : (enum secup_command_action)0;
            break;
        default: ok = false; break;
        }
        if (!ok) {
            fprintf(stderr, "sign_command: bad option\n");
            return 2;
        }
    }
    if (!key_path || !out) {
        fprintf(stderr, "sign_command: --key and --out are required\n");
        return 2;
    }
    if (!has_issued)
        c.issued_at = (uint64_t)time(NULL);
    if (!has_expires)
        c.expires_at = c.issued_at + 600;
    for (int i = 0; i < 16; i++)
        c.id[i] = (uint8_t)((c.counter >> ((i % 8) * 8)) ^ (uint64_t)(0x5a + i));
    struct secup_err err;
    struct secup_key *key = NULL;
    static uint8_t buf[SECUP_COMMAND_MAX_SIZE + 512];
    size_t len = 0;
    secup_rc rc = secup_key_load_pem(&key, key_path, &err);
    if (rc == SECUP_OK)
        rc = secup_command_sign(&c, key, buf, sizeof(buf), &len, &err);
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(out, secup_bytes_of(buf, len), 0644, &err);
    secup_key_free(key);
    if (rc != SECUP_OK) {
        fprintf(stderr, "sign_command: %s [%s]\n", err.msg, secup_rc_name(rc));
        return 1;
    }
    return 0;
}
