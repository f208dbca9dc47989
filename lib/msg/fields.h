/* Field helpers shared by the signed protocol messages of lib/msg/. */
#ifndef SECUP_MSG_FIELDS_H
#define SECUP_MSG_FIELDS_H

#include <stdint.h>

#include "cbor/codec.h"
#include "secup/keys.h"

/* Records map key `key` (0..31) as seen; SECUP_E_UNKNOWN_KEY outside that range,
 * SECUP_E_DUPLICATE the second time. */
secup_rc secup_msg_seen_once(uint32_t *seen, int64_t key, const char *what,
                             struct secup_err *err);
/* A SUIT_Digest [-16, bstr .size 32] into out. */
secup_rc secup_msg_read_digest(struct secup_cbor_reader *r, uint8_t out[32], const char *what,
                               struct secup_err *err);
void secup_msg_put_digest(struct secup_cbor_writer *w, const uint8_t digest[32]);

/* The common checks of a signed message (an attached-payload COSE_Sign1 whose kid names
 * the sender): at most max bytes, parses, and verifies with key. *payload and *kid point
 * into in. The caller decodes the payload and compares its sender with *kid. */
secup_rc secup_msg_verify_attached(struct secup_bytes in, size_t max, const char *what,
                                   const struct secup_key *key, struct secup_bytes *payload,
                                   struct secup_bytes *kid, struct secup_err *err);

/* Reads the kid of a signed message (its sender) without verifying anything, after
 * refusing more than max bytes (SECUP_E_LIMIT_SIZE). *kid points into in; empty on error. */
secup_rc secup_msg_peek_kid(struct secup_bytes in, size_t max, const char *what,
                            struct secup_bytes *kid, struct secup_err *err);

#endif /* SECUP_MSG_FIELDS_H */
