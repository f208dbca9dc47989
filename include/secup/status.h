/* secup — the signed status report (PROTOCOL.md "secup-status"): what a device (or a
 * tracker, for its consumers) runs and how its last update ended, signed with its own key
 * as a COSE_Sign1 (tag 18) with the CBOR map as attached payload. */
#ifndef SECUP_STATUS_H
#define SECUP_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"
#include "secup/keys.h"

#define SECUP_STATUS_MAX_COMPONENTS 16
#define SECUP_STATUS_MAX_TEXT 256
#define SECUP_STATUS_MAX_SIZE 8192 /* bytes of a report's payload */
/* A tracker's aggregate (key 8): at most this many of its consumers' signed reports, each
 * at most the size a signed report may have. The whole payload still stays within
 * SECUP_STATUS_MAX_SIZE, so a tracker splits a large aggregate across several reports. */
#define SECUP_STATUS_MAX_AGGREGATE 32
#define SECUP_STATUS_MAX_SIGNED_SIZE (SECUP_STATUS_MAX_SIZE + 256)

struct secup_status_component {
    struct secup_bytes id;        /* the SUIT component identifier, CBOR-encoded */
    uint64_t seq;                 /* running sequence number */
    struct secup_bytes version;   /* running version text (may be empty) */
    uint64_t slot;                /* running slot */
    uint8_t digest[32];           /* SHA-256 of the running image */
    bool has_floor;
    uint64_t floor;               /* anti-rollback floor */
};

struct secup_status {
    struct secup_bytes reporter;  /* device or tracker id */
    uint64_t counter;             /* strictly increasing per reporter */
    uint64_t time;                /* seconds since 1970 */
    uint32_t n_components;
    struct secup_status_component components[SECUP_STATUS_MAX_COMPONENTS];
    bool has_last;
    struct secup_bytes last_id;   /* command id, or manifest digest for a local install */
    struct secup_bytes last_code; /* result-code name, "OK" on success */
    struct secup_bytes last_reason;
    uint64_t last_time;
    bool safe_mode;
    /* key 8, a tracker's aggregate: its consumers' own signed reports (COSE_Sign1 bytes),
     * as received. Decoding does not parse or verify them: the receiver verifies each with
     * secup_status_verify() and the key of the reporter it names. */
    bool has_aggregate;           /* present (possibly empty) */
    uint32_t n_aggregate;
    struct secup_bytes aggregate[SECUP_STATUS_MAX_AGGREGATE];
    /* key 9, freshness: the id of the last command the reporter has seen */
    bool has_last_command;
    uint8_t last_command[16];
};

/* Encodes the report's payload (the CBOR map) into buf; *len receives the size needed
 * (SECUP_E_BUF_SMALL when it does not fit). */
SECUP_API SECUP_NODISCARD secup_rc secup_status_encode(const struct secup_status *st,
                                                       uint8_t *buf, size_t cap, size_t *len,
                                                       struct secup_err *err);

/* Decodes a payload. Views point into in. Every field checked: SECUP_E_CBOR, _TYPE,
 * _MISSING, _DUPLICATE, _UNKNOWN_KEY, _VALUE (an empty aggregated report, a last command
 * id other than 16 bytes), _LIMIT_* (_LIMIT_ITEMS: more than SECUP_STATUS_MAX_AGGREGATE
 * aggregated reports; _LIMIT_BYTES: one larger than SECUP_STATUS_MAX_SIGNED_SIZE). */
SECUP_API SECUP_NODISCARD secup_rc secup_status_decode(struct secup_status *st,
                                                       struct secup_bytes in,
                                                       struct secup_err *err);

/* Encodes and signs: a tagged COSE_Sign1 whose unprotected header carries the reporter id
 * as kid, so that a receiver can find the key before it trusts the content.
 * key: P-256 (ESP256) or Ed25519. */
SECUP_API SECUP_NODISCARD secup_rc secup_status_sign(const struct secup_status *st,
                                                     const struct secup_key *key, uint8_t *buf,
                                                     size_t cap, size_t *len,
                                                     struct secup_err *err);

/* Reads the kid (reporter id) of a signed report without trusting anything in it. */
SECUP_API SECUP_NODISCARD secup_rc secup_status_peek_reporter(struct secup_bytes signed_report,
                                                              struct secup_bytes *reporter,
                                                              struct secup_err *err);

/* Verifies a signed report with the reporter's public key, then decodes its payload and
 * checks that the payload's reporter equals the kid. Views point into signed_report.
 * SECUP_E_SIG when the signature does not verify; SECUP_E_VALUE when kid and payload
 * disagree; the codes of secup_status_decode(). */
SECUP_API SECUP_NODISCARD secup_rc secup_status_verify(struct secup_bytes signed_report,
                                                       const struct secup_key *key,
                                                       struct secup_status *st,
                                                       struct secup_err *err);

/* Decodes a signed report WITHOUT verifying its signature: for a tracker reading the
 * reports a downstream tracker carries up for consumers whose keys it does not hold.
 * Nothing in *st is the reporter's proven word. Refuses more than
 * SECUP_STATUS_MAX_SIGNED_SIZE bytes (SECUP_E_LIMIT_SIZE), a malformed COSE_Sign1, the codes
 * of secup_status_decode(), and SECUP_E_VALUE when kid and payload disagree. Views point
 * into signed_report. */
SECUP_API SECUP_NODISCARD secup_rc secup_status_peek(struct secup_bytes signed_report,
                                                     struct secup_status *st,
                                                     struct secup_err *err);
#endif /* SECUP_STATUS_H */
