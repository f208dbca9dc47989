/* COSE structures for SUIT authentication blocks (RFC 9052 sections 4.4 and 6.3). */
#ifndef SECUP_COSE_INTERNAL_H
#define SECUP_COSE_INTERNAL_H

#include "secup/keys.h"
#include "secup/manifest.h"

/* The largest Sig_structure / MAC_structure we build; a protected header that would not
 * fit is refused, so that verification never allocates. */
#define SECUP_COSE_TBS_MAX 1024
/* The largest signed message payload plus its Sig_structure framing. */
#define SECUP_STATUS_TBS_MAX (8192 + 64)

/* Builds ["Signature1" | "MAC0", protected, h'', payload] into buf. */
secup_rc secup_cose_tbs(enum secup_auth_type type, struct secup_bytes protected_hdr,
                        struct secup_bytes payload, uint8_t *buf, size_t cap, size_t *len,
                        struct secup_err *err);

/* Verifies one block over payload with one key. SECUP_E_SIG when it does not verify. */
secup_rc secup_cose_verify_block(const struct secup_auth_block *a, struct secup_bytes payload,
                                 const struct secup_key *key, struct secup_err *err);

/* True when the block's algorithm is one secup verifies. */
bool secup_cose_alg_supported(enum secup_auth_type type, int64_t alg);

#endif /* SECUP_COSE_INTERNAL_H */

/* ---- COSE_Sign1 with an attached payload (signed protocol messages) ---- */

/* Signs payload with key (ESP256 for P-256, Ed25519) into a tagged COSE_Sign1:
 * [<<{1: alg}>>, {4: kid} or {}, payload, signature]. Size query with buf NULL. */
secup_rc secup_cose_sign1_attached(const struct secup_key *key, struct secup_bytes payload,
                                   struct secup_bytes kid, uint8_t *buf, size_t cap, size_t *len,
                                   struct secup_err *err);

/* Parses a tagged COSE_Sign1 with an attached payload: views of the payload and kid, and
 * the block for secup_cose_verify_block(). */
secup_rc secup_cose_sign1_parse(struct secup_bytes in, struct secup_auth_block *block,
                                struct secup_bytes *payload, struct secup_bytes *kid,
                                struct secup_err *err);
