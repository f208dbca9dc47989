/* Fuzz target: signed status reports (lib/msg/status.c).
 *
 * The input is tried as a bare payload (secup_status_decode) and as a signed report
 * (secup_status_peek_reporter, secup_status_verify with a fixed key), through the checks
 * every signed message shares (fuzz_common.h), and read with secup_status_peek (no
 * signature check, for a tracker reading a downstream tracker's aggregate). Invariants: a
 * refusal carries its code and message; an accepted payload re-encodes to a fixed point;
 * only the report signed here verifies; what verifies also peeks, and what peeks encodes. */
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

FUZZ_SIGNED_TYPE(type, status, struct secup_status, SECUP_STATUS_MAX_SIZE, secup_status_peek_reporter);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct secup_status st, scratch;
    struct secup_bytes in = secup_bytes_of(data, size);
    init();
    (void)fuzz_common_payload_round_trip(&type, in, &st, &scratch);
    secup_rc vrc =
        fuzz_common_signed_check(&type, in, key, secup_bytes_of(good, good_len), &st, &scratch);
    struct secup_err err;
    secup_rc prc = secup_status_peek(in, &scratch, &err);
    if (prc != SECUP_OK) {
        fuzz_common_check_failure(prc, &err, "secup_status_peek");
        if (vrc == SECUP_OK)
            fuzz_common_fail("a report verifies that secup_status_peek refused");
    } else {
        static uint8_t out[SECUP_STATUS_MAX_SIZE + 64];
        size_t n = 0;
        if (secup_status_encode(&scratch, out, sizeof(out), &n, &err) != SECUP_OK)
            fuzz_common_fail("re-encoding a peeked status failed: %s", err.msg);
    }
    return 0;
}
