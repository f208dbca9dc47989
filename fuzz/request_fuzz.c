/* Fuzz target: signed manifest requests (lib/msg/request.c).
 *
 * The input is tried as a bare payload (secup_request_decode) and as a signed
 * request (secup_request_peek_requester, secup_request_verify with a fixed key), through
 * the checks every signed message shares (fuzz_common.h). Invariants: a refusal
 * carries its code and message; an accepted payload re-encodes to a fixed point; only the
 * request signed here verifies. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "secup/request.h"

static struct secup_key *key;
static uint8_t good[1024];
static size_t good_len;

static void init(void)
{
    struct secup_err err;
    if (key)
        return;
    if (secup_key_generate(&key, SECUP_KEY_ED25519, &err) != SECUP_OK)
        fuzz_common_fail("keygen: %s", err.msg);
    struct secup_request n;
    memset(&n, 0, sizeof(n));
    n.requester = secup_bytes_of("alice", 5);
    n.tracker = secup_bytes_of("gw-1", 4);
    n.counter = 1;
    n.time = 10;
    n.expires = 20;
    n.uri = secup_bytes_of("https://x/m", 11);
    if (secup_request_sign(&n, key, good, sizeof(good), &good_len, &err) != SECUP_OK)
        fuzz_common_fail("sign: %s", err.msg);
}

FUZZ_SIGNED_TYPE(type, request, struct secup_request, SECUP_REQUEST_MAX_SIZE, secup_request_peek_requester);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct secup_request n, scratch;
    struct secup_err err;
    struct secup_bytes in = secup_bytes_of(data, size);
    init();
    (void)fuzz_common_payload_round_trip(&type, in, &n, &scratch);
    if (fuzz_common_signed_check(&type, in, key, secup_bytes_of(good, good_len), &n, &scratch) ==
        SECUP_OK) {
        /* the acceptance check is pure and total */
        secup_rc rc = secup_request_accept(&n, "gw-1", 15, 0, 60, &err);
        if (rc != SECUP_OK)
            fuzz_common_check_failure(rc, &err, "secup_request_accept");
    }
    return 0;
}
