/* Fuzz target: signed tracker commands (lib/msg/command.c).
 *
 * The input is tried as a bare payload (secup_command_decode, then secup_command_accept)
 * and as a signed command (secup_command_peek_issuer, secup_command_verify with a fixed
 * key). Invariants: a refusal carries its code and message; an accepted payload encodes
 * again (the encoder takes everything the decoder takes) and re-encodes to a fixed point;
 * the acceptance check agrees with the fields it judges; only the command signed here
 * verifies. */
/* THREAT: P7 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "secup/command.h"

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
    struct secup_command_msg c;
    memset(&c, 0, sizeof(c));
    c.issuer = secup_bytes_of("trk", 3);
    c.target = secup_bytes_of("dev", 3);
    c.counter = 2;
    c.issued_at = 100;
    c.expires_at = 200;
    c.action = SECUP_COMMAND_INSTALL;
    c.manifest_uri = secup_bytes_of("https://x/m", 11);
    c.has_digest = true;
    c.has_seq = true;
    c.seq = 5;
    if (secup_command_sign(&c, key, good, sizeof(good), &good_len, &err) != SECUP_OK)
        fuzz_common_fail("sign: %s", err.msg);
}

/* The acceptance check recomputed from its definition, for "dev" at time 150, last
 * counter 1 and a skew of 10 s. */
static void check_accept(const struct secup_command_msg *c)
{
    struct secup_err err;
    const uint64_t now = 150;
    const uint64_t last = 1;
    const uint64_t skew = 10;
    bool want = secup_bytes_equal(c->target, secup_bytes_of("dev", 3)) && c->counter > last &&
                c->expires_at > c->issued_at && (c->issued_at <= now || c->issued_at - now <= skew) &&
                now <= c->expires_at;
    secup_rc rc = secup_command_accept(c, "dev", now, last, skew, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_command_accept");
        if (rc != SECUP_E_AUDIENCE && rc != SECUP_E_REPLAY && rc != SECUP_E_EXPIRED)
            fuzz_common_fail("secup_command_accept: unexpected %s", secup_rc_name(rc));
    }
    if ((rc == SECUP_OK) != want)
        fuzz_common_fail("secup_command_accept said %s against its definition", secup_rc_name(rc));
}

FUZZ_SIGNED_TYPE(type, command, struct secup_command_msg, SECUP_COMMAND_MAX_SIZE, secup_command_peek_issuer);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct secup_command_msg c, scratch;
    struct secup_err err;
    struct secup_bytes in = secup_bytes_of(data, size);
    init();
    if (fuzz_common_payload_round_trip(&type, in, &c, &scratch))
        check_accept(&c);
    if (fuzz_common_signed_check(&type, in, key, secup_bytes_of(good, good_len), &c, &scratch) ==
        SECUP_OK) {
        /* Ed25519 signatures are not malleable and every field is signed, so whatever
         * verifies carries the command made here, and a kid equal to its issuer */
        struct secup_bytes who;
        if (secup_command_peek_issuer(in, &who, &err) != SECUP_OK ||
            !secup_bytes_equal(who, c.issuer))
            fuzz_common_fail("a verified command's kid is not its issuer");
    }
    return 0;
}
