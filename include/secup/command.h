/* secup — the signed tracker command (PROTOCOL.md "secup-command"): a tracker tells one
 * downstream party (a device or a downstream tracker) what to do. Signed by the issuing
 * tracker's key as a COSE_Sign1 (tag 18) with the CBOR map as attached payload and the
 * issuer id as kid.
 *
 * A receiver acts on a command only after all of:
 *   1. secup_command_peek_issuer() to find the issuer's key (nothing in it is trusted yet);
 *   2. secup_command_verify() with that key (signature, every field, kid == issuer);
 *   3. secup_command_accept() with its own id, the time and the issuer's stored counter
 *      (audience, order, freshness: THREATS.md S7 and S8).
 * Whether the issuer is entitled to command this receiver at all is the caller's decision
 * (its trust store), made before step 2. */
#ifndef SECUP_COMMAND_H
#define SECUP_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"
#include "secup/keys.h"

#define SECUP_COMMAND_MAX_SIZE 4096 /* bytes of a command payload */
#define SECUP_COMMAND_MAX_TEXT 1024 /* bytes of each id and URI */
#define SECUP_COMMAND_MAX_URIS 4    /* payload URIs (mirrors) */

enum secup_command_action {
    SECUP_COMMAND_INSTALL = 1, /* install the manifest named by uri, digest and seq */
    SECUP_COMMAND_NOTHING = 2, /* nothing to do until expires-at (freshness statement) */
    SECUP_COMMAND_REPORT = 3,  /* report status now */
    SECUP_COMMAND_CANCEL = 4,  /* cancel an earlier install command (by rollout id) */
};

struct secup_command_msg {
    uint8_t id[16];                  /* command id */
    struct secup_bytes issuer;       /* issuing tracker id (also the COSE kid) */
    struct secup_bytes target;       /* device id or downstream tracker id */
    uint64_t counter;                /* strictly increasing per (issuer, target) */
    uint64_t issued_at;              /* seconds since 1970 */
    uint64_t expires_at;             /* seconds since 1970 */
    enum secup_command_action action;
    struct secup_bytes manifest_uri; /* empty: absent; required for install */
    bool has_digest;                 /* required for install */
    uint8_t digest[32];              /* SHA-256 of the manifest (its auth-wrapper digest) */
    bool has_seq;                    /* required for install */
    uint64_t seq;                    /* sequence number the target must end up running */
    struct secup_bytes rollout;      /* rollout id; empty: absent; required for cancel */
    uint32_t n_uris;                 /* 0: absent */
    struct secup_bytes uris[SECUP_COMMAND_MAX_URIS]; /* payload URIs, preferred first */
};

/* Encodes the command's payload (the CBOR map, deterministic: ascending keys, shortest
 * heads, optional fields only when present) into buf; *len receives the size needed.
 * The encoder refuses what the decoder would refuse, so a signed command always decodes.
 * Ownership: c is borrowed. Returns: SECUP_E_BUF_SMALL (buf NULL or too small; *len is the
 * size needed), SECUP_E_ARG (an action outside 1..4, an empty or over-long id or URI, more
 * than SECUP_COMMAND_MAX_URIS URIs, install without URI, digest and sequence number,
 * cancel without rollout id). */
SECUP_API SECUP_NODISCARD secup_rc secup_command_encode(const struct secup_command_msg *c,
                                                        uint8_t *buf, size_t cap, size_t *len,
                                                        struct secup_err *err);

/* Decodes a payload; c is zeroed on failure. Ownership: views point into in.
 * Returns: SECUP_E_CBOR (malformed), _TYPE, _MISSING (a required field; install without
 * URI, digest or sequence number; cancel without rollout id), _DUPLICATE, _UNKNOWN_KEY,
 * _VALUE (command id not 16 bytes, action outside 1..4, an empty id, URI or URI list),
 * _UNSUPPORTED (format other than 1, a digest other than SHA-256), _TRAILING,
 * _LIMIT_SIZE, _LIMIT_STRING, _LIMIT_ITEMS. */
SECUP_API SECUP_NODISCARD secup_rc secup_command_decode(struct secup_command_msg *c,
                                                        struct secup_bytes in,
                                                        struct secup_err *err);

/* Encodes and signs into a tagged COSE_Sign1 with c->issuer as kid.
 * key: P-256 (ESP256) or Ed25519 private key. Ownership: c and key are borrowed.
 * Returns: the codes of secup_command_encode(), SECUP_E_LIMIT_SIZE (payload larger than
 * SECUP_COMMAND_MAX_SIZE), SECUP_E_ARG (a key that cannot sign), SECUP_E_BUF_SMALL,
 * SECUP_E_CRYPTO. */
SECUP_API SECUP_NODISCARD secup_rc secup_command_sign(const struct secup_command_msg *c,
                                                      const struct secup_key *key,
                                                      uint8_t *buf, size_t cap, size_t *len,
                                                      struct secup_err *err);

/* Reads the kid (issuer id) of a signed command without verifying anything, to choose
 * the key for secup_command_verify(). Ownership: *issuer points into signed_cmd.
 * Returns: SECUP_E_LIMIT_SIZE, the parse codes of a COSE_Sign1 (SECUP_E_CBOR, _TYPE,
 * _VALUE, _MISSING, ...). An empty *issuer means the command names no issuer. */
SECUP_API SECUP_NODISCARD secup_rc secup_command_peek_issuer(struct secup_bytes signed_cmd,
                                                             struct secup_bytes *issuer,
                                                             struct secup_err *err);

/* Verifies a signed command with the issuer's public key, decodes its payload and checks
 * that the payload's issuer equals the kid. c is zeroed on failure.
 * Ownership: views point into signed_cmd; key is borrowed.
 * Returns: SECUP_E_SIG (the signature does not verify), SECUP_E_VALUE (kid and issuer
 * differ), SECUP_E_LIMIT_SIZE, the codes of secup_command_decode(). */
SECUP_API SECUP_NODISCARD secup_rc secup_command_verify(struct secup_bytes signed_cmd,
                                                        const struct secup_key *key,
                                                        struct secup_command_msg *c,
                                                        struct secup_err *err);

/* The receiver's acceptance check of a verified command (pure: reads only its arguments).
 *   my_id         the receiver's own id (device or tracker id), NUL-terminated
 *   now           the receiver's time, seconds since 1970
 *   last_counter  the highest counter this receiver has acted on for c->issuer; 0 when it
 *                 never acted on one (a command's counter is then at least 1)
 *   max_clock_skew  seconds a command's issued-at may lie ahead of now
 * The caller keeps last_counter durably per issuer, and must store c->counter only AFTER
 * it has acted on the command (for install: once the result is known), never before and
 * never for a command that verify or accept refused: stored early, a crash loses the
 * command; stored for a refused one, a forged command with a huge counter locks the
 * issuer out.
 * Returns: SECUP_OK; SECUP_E_AUDIENCE (target is not my_id); SECUP_E_REPLAY (counter
 * not greater than last_counter: replayed or reordered); SECUP_E_EXPIRED (expires-at not
 * after issued-at, issued-at more than max_clock_skew ahead of now, or now past
 * expires-at); SECUP_E_ARG (c or my_id NULL). */
SECUP_API SECUP_NODISCARD secup_rc secup_command_accept(const struct secup_command_msg *c,
                                                        const char *my_id, uint64_t now,
                                                        uint64_t last_counter,
                                                        uint64_t max_clock_skew,
                                                        struct secup_err *err);

/* "install", "nothing", "report", "cancel"; NULL for a value outside 1..4. */
SECUP_API const char *secup_command_action_name(enum secup_command_action a);

#endif /* SECUP_COMMAND_H */
