/* secup — the signed notification (PROTOCOL.md "secup-notification"): a server tells a
 * subscribed tracker that a new manifest exists. A hint only: the tracker verifies the
 * manifest itself. Signed by the server key as a COSE_Sign1 with attached payload and the
 * server id as kid. */
#ifndef SECUP_NOTIFICATION_H
#define SECUP_NOTIFICATION_H

#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"
#include "secup/keys.h"

#define SECUP_NOTIFICATION_MAX_SIZE 4096 /* bytes of a signed notification */
#define SECUP_NOTIFICATION_MAX_TEXT 1024

struct secup_notification {
    struct secup_bytes server;    /* server id */
    uint64_t counter;             /* strictly increasing per server */
    uint64_t time;
    uint8_t vendor_id[16];
    uint8_t class_id[16];
    struct secup_bytes component; /* SUIT component identifier, CBOR-encoded */
    uint64_t seq;
    struct secup_bytes uri;       /* where the manifest is */
    uint8_t digest[32];           /* manifest digest (SHA-256) */
};

SECUP_API SECUP_NODISCARD secup_rc secup_notification_encode(const struct secup_notification *n,
                                                             uint8_t *buf, size_t cap,
                                                             size_t *len,
                                                             struct secup_err *err);
/* Views point into in. SECUP_E_CBOR, _TYPE, _MISSING, _DUPLICATE, _UNKNOWN_KEY, _VALUE,
 * _UNSUPPORTED, _LIMIT_*. */
SECUP_API SECUP_NODISCARD secup_rc secup_notification_decode(struct secup_notification *n,
                                                             struct secup_bytes in,
                                                             struct secup_err *err);
SECUP_API SECUP_NODISCARD secup_rc secup_notification_sign(const struct secup_notification *n,
                                                           const struct secup_key *key,
                                                           uint8_t *buf, size_t cap,
                                                           size_t *len,
                                                           struct secup_err *err);
/* Reads the kid (server id) of a signed notification without trusting anything in it. */
SECUP_API SECUP_NODISCARD secup_rc secup_notification_peek_server(struct secup_bytes signed_msg,
                                                                  struct secup_bytes *server,
                                                                  struct secup_err *err);
/* Verifies with the server's public key, decodes, and checks that kid and server id
 * agree (SECUP_E_VALUE). */
SECUP_API SECUP_NODISCARD secup_rc secup_notification_verify(struct secup_bytes signed_msg,
                                                             const struct secup_key *key,
                                                             struct secup_notification *n,
                                                             struct secup_err *err);

#endif /* SECUP_NOTIFICATION_H */
