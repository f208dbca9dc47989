/* secup-author request: a signed secup-request telling one tracker that a manifest is
 * available (docs/api.md, POST /v1/requests). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "author.h"
#include "cli.h"
#include "secup/file.h"
#include "secup/request.h"

static void help(void)
{
    printf("usage: secup-author request --key KEY.pem --id ID --tracker TRACKER-ID --uri URI\n"
           "                            --manifest ENVELOPE --out FILE [--counter N] [--ttl S]\n\n"
           "Writes a secup-request (COSE_Sign1 by KEY, kid = ID) that tells the tracker\n"
           "TRACKER-ID that the manifest at URI, whose digest is ENVELOPE's, is available.\n"
           "POST it to the tracker's /v1/requests as application/cose. The tracker fetches the\n"
           "manifest itself, checks the digest and verifies the Author's signature.\n\n"
           "  --key FILE      the requester's private key (P-256 or Ed25519, PEM)\n"
           "  --id ID         the requester id the tracker knows the key by\n"
           "  --tracker ID    the tracker the request is for (its audience)\n"
           "  --uri URI       where the tracker fetches the manifest\n"
           "  --manifest FILE the envelope at URI (its manifest digest goes in the request)\n"
           "  --counter N     strictly increasing per requester and tracker (default: the\n"
           "                  time in milliseconds)\n"
           "  --ttl S         seconds the request stays valid (default 600)\n"
           "  --out FILE      where to write it\n");
}

int cmd_request(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "id", required_argument, NULL, 'i' },
        { "tracker", required_argument, NULL, 't' },
        { "uri", required_argument, NULL, 'u' },
        { "manifest", required_argument, NULL, 'm' },
        { "counter", required_argument, NULL, 'c' },
        { "ttl", required_argument, NULL, 'T' },
        { "out", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *key = NULL, *id = NULL, *tracker = NULL, *uri = NULL, *manifest = NULL,
               *out = NULL;
    uint64_t counter = 0, ttl = 600;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:i:t:u:m:c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'i': id = optarg; break;
        case 't': tracker = optarg; break;
        case 'u': uri = optarg; break;
        case 'm': manifest = optarg; break;
        case 'o': out = optarg; break;
        case 'c':
            if (!cli_parse_u64(optarg, &counter) || counter == 0)
                return cli_usage("request", "--counter must be a whole number of at least 1");
            break;
        case 'T':
            if (!cli_parse_u64(optarg, &ttl) || ttl == 0 || ttl > 366u * 86400)
                return cli_usage("request", "--ttl must be 1 to %u seconds", 366u * 86400);
            break;
        case 'h': help(); return 0;
        default: return cli_usage("request", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage("request", "unexpected argument '%s'", argv[optind]);
    if (!key || !id || !tracker || !uri || !manifest || !out)
        return cli_usage("request", "--key, --id, --tracker, --uri, --manifest and --out are needed");
    if (counter == 0) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        counter = (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
    }
    struct secup_err err;
    secup_err_clear(&err);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct secup_envelope *env = NULL;
    struct secup_key *k = NULL;
    struct author_key_ref ref = { key, false };
    secup_rc rc = author_load_envelope(manifest, &buf, &len, &env, &err);
    if (rc == SECUP_OK && (env->digest.alg != -16 || env->digest.bytes.len != 32))
        rc = secup_err_set(&err, SECUP_E_UNSUPPORTED, "'%s': the manifest digest is not SHA-256",
                           manifest);
    if (rc == SECUP_OK)
        rc = author_load_signing_key(&ref, &k, &err);
    uint8_t signed_req[SECUP_REQUEST_MAX_SIZE + 256];
    size_t slen = 0;
    if (rc == SECUP_OK) {
        struct secup_request r;
        memset(&r, 0, sizeof(r));
        r.requester = secup_bytes_of(id, strlen(id));
        r.tracker = secup_bytes_of(tracker, strlen(tracker));
        r.counter = counter;
        r.time = (uint64_t)time(NULL);
        r.expires = r.time + ttl;
        r.uri = secup_bytes_of(uri, strlen(uri));
        memcpy(r.digest, env->digest.bytes.ptr, 32);
        rc = secup_request_sign(&r, k, signed_req, sizeof(signed_req), &slen, &err);
    }
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(out, secup_bytes_of(signed_req, slen), 0644, &err);
    secup_key_free(k);
    free(env);
    if (buf)
        secup_file_free(buf, len);
    if (rc != SECUP_OK)
        return cli_fail("request", &err);
    cli_note("request %llu for tracker '%s' written to %s", (unsigned long long)counter, tracker,
             out);
    return 0;
}
