/* secup — the signed manifest request (PROTOCOL.md "secup-request"; docs/api.md): an Author
 * or an administrator tells one tracker "this manifest is available" (its URI and digest).
 * Signed by the requester's key as a COSE_Sign1 (tag 18) with the CBOR map as attached
 * payload and the requester id as kid. A hint only: the tracker fetches the manifest,
 * checks the digest and verifies the Author's signature itself before believing it.
 *
 * A tracker acts on a request only after all of:
 *   1. secup_request_peek_requester() to find the requester's key (nothing is trusted yet);
 *   2. secup_request_verify() with that key (signature, every field, kid == requester);
 *   3. secup_request_accept() with its own id, the time and the requester's stored counter
 *      (audience, order, freshness). */
#ifndef SECUP_REQUEST_H
#define SECUP_REQUEST_H

#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"
#include "secup/keys.h"

#define SECUP_REQUEST_MAX_SIZE 4096 /* bytes of a request payload */
#define SECUP_REQUEST_MAX_TEXT 1024 /* bytes of each id and the URI */

struct secup_request {
    struct secup_bytes requester; /* requester id (also the COSE kid) */
    struct secup_bytes tracker;   /* the audience: the id of the tracker it is for */
    uint64_t counter;             /* strictly increasing per (requester, tracker), >= 1 */
    uint64_t time;                /* issued at, seconds since 1970 */
    uint64_t expires;             /* seconds since 1970; after time */
    struct secup_bytes uri;       /* where the manifest (SUIT envelope) is */
    uint8_t digest[32];           /* SHA-256 manifest digest (its auth-wrapper digest) */
};

/* Encodes the payload (deterministic CBOR: ascending keys, shortest heads); *len receives
 * the size needed. The encoder refuses what the decoder refuses.
 * Returns: SECUP_E_BUF_SMALL, SECUP_E_ARG (an empty or over-long id or URI, counter 0). */
SECUP_API SECUP_NODISCARD secup_rc secup_request_encode(const struct secup_request *r,
                                                        uint8_t *buf, size_t cap, size_t *len,
                                                        struct secup_err *err);
/* Decodes a payload; r is zeroed on failure; views point into in.
 * Returns: SECUP_E_CBOR, _TYPE, _MISSING, _DUPLICATE, _UNKNOWN_KEY, _VALUE (an empty id or
 * URI, counter 0), _UNSUPPORTED (format other than 1, a digest other than SHA-256),
 * _TRAILING, _LIMIT_STRING, _LIMIT_ITEMS. */
SECUP_API SECUP_NODISCARD secup_rc secup_request_decode(struct secup_request *r,
                                                        struct secup_bytes in,
                                                        struct secup_err *err);
/* Encodes and signs into a tagged COSE_Sign1 with r->requester as kid.
 * Returns: the codes of secup_request_encode(), SECUP_E_ARG (a key that cannot sign),
 * SECUP_E_BUF_SMALL, SECUP_E_CRYPTO. */
SECUP_API SECUP_NODISCARD secup_rc secup_request_sign(const struct secup_request *r,
                                                      const struct secup_key *key, uint8_t *buf,
                                                      size_t cap, size_t *len,
                                                      struct secup_err *err);
/* Reads the kid (requester id) without verifying anything. *requester points into in;
 * SECUP_E_LIMIT_SIZE and the parse codes of a COSE_Sign1. */
SECUP_API SECUP_NODISCARD secup_rc secup_request_peek_requester(struct secup_bytes signed_msg,
                                                                struct secup_bytes *requester,
                                                                struct secup_err *err);
/* Verifies with the requester's public key, decodes, and checks that kid and requester id
 * agree. r is zeroed on failure. Returns: SECUP_E_SIG, SECUP_E_VALUE (kid and requester
 * differ), SECUP_E_LIMIT_SIZE, the codes of secup_request_decode(). */
SECUP_API SECUP_NODISCARD secup_rc secup_request_verify(struct secup_bytes signed_msg,
                                                        const struct secup_key *key,
                                                        struct secup_request *r,
                                                        struct secup_err *err);
/* The tracker's acceptance check of a verified request (pure).
 * Returns: SECUP_OK; SECUP_E_AUDIENCE (not for my_id); SECUP_E_REPLAY (counter not above
 * last_counter); SECUP_E_EXPIRED (expires not after time, time more than max_clock_skew
 * ahead of now, or now past expires); SECUP_E_ARG. */
SECUP_API SECUP_NODISCARD secup_rc secup_request_accept(const struct secup_request *r,
                                                        const char *my_id, uint64_t now,
                                                        uint64_t last_counter,
                                                        uint64_t max_clock_skew,
                                                        struct secup_err *err);

#endif /* SECUP_REQUEST_H */
