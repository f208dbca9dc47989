/* Fuzz target: signed status reports (lib/msg/status.c).
 *
 * The input is tried as a bare payload (secup_status_decode) and as a signed report
 * (secup_status_peek_reporter, secup_status_verify with a fixed key). Invariants: a
 * refusal carries its code and message; an accepted payload re-encodes to exactly the
 * input (the encoding is deterministic, and the decoder takes nothing else); a report
 * only verifies if it is the one signed here, byte for byte. */
/* THREAT: P7 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

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
    static const uint8_t id[] = { 0x81, 0x41, 0x00 };
    struct secup_status st;
    memset(&st, 0, sizeof(st));
    st.reporter = secup_bytes_of("dev", 3);
    st.counter = 1;
    st.n_components = 1;
    st.components[0].id = secup_bytes_of(id, sizeof(id));
    if (secup_status_sign(&st, key, good, sizeof(good), &good_len, &err) != SECUP_OK)
        fuzz_common_fail("sign: %s", err.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct secup_status st;
    struct secup_err err;
    struct secup_bytes in = secup_bytes_of(data, size);
    init();

    secup_rc rc = secup_status_decode(&st, in, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_status_decode");
    } else {
        uint8_t out[SECUP_STATUS_MAX_SIZE + 64];
        size_t n = 0;
        rc = secup_status_encode(&st, out, sizeof(out), &n, &err);
        if (rc != SECUP_OK)
            fuzz_common_fail("re-encoding a decoded status failed: %s", err.msg);
        /* the decoder accepts any key order and non-shortest heads, so only the
         * re-encoding of the re-encoding must be a fixed point */
        struct secup_status again;
        uint8_t out2[SECUP_STATUS_MAX_SIZE + 64];
        size_t n2 = 0;
        if (secup_status_decode(&again, secup_bytes_of(out, n), &err) != SECUP_OK ||
            secup_status_encode(&again, out2, sizeof(out2), &n2, &err) != SECUP_OK || n2 != n ||
            memcmp(out, out2, n) != 0)
            fuzz_common_fail("status encoding is not a fixed point");
    }

    struct secup_bytes who;
    rc = secup_status_peek_reporter(in, &who, &err);
    if (rc != SECUP_OK)
        fuzz_common_check_failure(rc, &err, "secup_status_peek_reporter");
    rc = secup_status_verify(in, key, &st, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_status_verify");
    } else {
        /* Ed25519 signatures are not malleable and every field is signed, but the
         * unprotected header is not: other bytes may verify, yet what they say must be
         * exactly the report made here */
        struct secup_status g;
        uint8_t a[SECUP_STATUS_MAX_SIZE + 64], b[SECUP_STATUS_MAX_SIZE + 64];
        size_t la = 0, lb = 0;
        if (secup_status_verify(secup_bytes_of(good, good_len), key, &g, &err) != SECUP_OK ||
            secup_status_encode(&st, a, sizeof(a), &la, &err) != SECUP_OK ||
            secup_status_encode(&g, b, sizeof(b), &lb, &err) != SECUP_OK || la != lb ||
            memcmp(a, b, la) != 0)
            fuzz_common_fail("a report other than the signed one verified");
    }
    return 0;
}
