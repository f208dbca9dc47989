/* Fuzz target: signed server notifications (lib/msg/notification.c).
 *
 * The input is tried as a bare payload (secup_notification_decode) and as a signed
 * notification (secup_notification_verify with a fixed key). Invariants: a refusal
 * carries its code and message; an accepted payload re-encodes to a fixed point; only the
 * notification signed here verifies. */
/* THREAT: P7 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "secup/notification.h"

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
    static const uint8_t comp[] = { 0x81, 0x41, 0x00 };
    struct secup_notification n;
    memset(&n, 0, sizeof(n));
    n.server = secup_bytes_of("fw1", 3);
    n.counter = 1;
    n.component = secup_bytes_of(comp, sizeof(comp));
    n.seq = 5;
    n.uri = secup_bytes_of("https://x/m", 11);
    if (secup_notification_sign(&n, key, good, sizeof(good), &good_len, &err) != SECUP_OK)
        fuzz_common_fail("sign: %s", err.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct secup_notification n;
    struct secup_err err;
    struct secup_bytes in = secup_bytes_of(data, size);
    init();

    secup_rc rc = secup_notification_decode(&n, in, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_notification_decode");
    } else {
        uint8_t out[SECUP_NOTIFICATION_MAX_SIZE + 64], out2[SECUP_NOTIFICATION_MAX_SIZE + 64];
        size_t len = 0, len2 = 0;
        struct secup_notification again;
        if (secup_notification_encode(&n, out, sizeof(out), &len, &err) != SECUP_OK)
            fuzz_common_fail("re-encoding a decoded notification failed: %s", err.msg);
        if (secup_notification_decode(&again, secup_bytes_of(out, len), &err) != SECUP_OK ||
            secup_notification_encode(&again, out2, sizeof(out2), &len2, &err) != SECUP_OK ||
            len2 != len || memcmp(out, out2, len) != 0)
            fuzz_common_fail("notification encoding is not a fixed point");
    }
    rc = secup_notification_verify(in, key, &n, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_notification_verify");
    } else {
        /* the unprotected header is not signed, so other bytes may verify; what they say
         * must be exactly what was signed */
        struct secup_notification g;
        uint8_t a[SECUP_NOTIFICATION_MAX_SIZE], b[SECUP_NOTIFICATION_MAX_SIZE];
        size_t la = 0, lb = 0;
        if (secup_notification_verify(secup_bytes_of(good, good_len), key, &g, &err) != SECUP_OK ||
            secup_notification_encode(&n, a, sizeof(a), &la, &err) != SECUP_OK ||
            secup_notification_encode(&g, b, sizeof(b), &lb, &err) != SECUP_OK || la != lb ||
            memcmp(a, b, la) != 0)
            fuzz_common_fail("a notification other than the signed one verified");
    }
    return 0;
}
