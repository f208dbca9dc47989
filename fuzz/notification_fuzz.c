/* Fuzz target: signed server notifications (lib/msg/notification.c).
 *
 * The input is tried as a bare payload (secup_notification_decode) and as a signed
 * notification (secup_notification_peek_server, secup_notification_verify with a fixed
 * key), through the checks every signed message shares (fuzz_common.h). Invariants: a refusal
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

FUZZ_SIGNED_TYPE(type, notification, struct secup_notification, SECUP_NOTIFICATION_MAX_SIZE, secup_notification_peek_server);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct secup_notification n, scratch;
    struct secup_bytes in = secup_bytes_of(data, size);
    init();
    (void)fuzz_common_payload_round_trip(&type, in, &n, &scratch);
    (void)fuzz_common_signed_check(&type, in, key, secup_bytes_of(good, good_len), &n, &scratch);
    return 0;
}
