/* secup — trust anchors, and the authentication of SUIT envelopes with COSE_Sign1
 * (ESP256/ES256, Ed25519/EdDSA) and COSE_Mac0 (HMAC 256/256). */
#ifndef SECUP_COSE_H
#define SECUP_COSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/err.h"
#include "secup/keys.h"
#include "secup/manifest.h"

#define SECUP_MAX_TRUST_ANCHORS 32
#define SECUP_TRUST_NAME_MAX 128

/* A set of trusted keys (public signature keys or HMAC secrets). Opaque. */
struct secup_trust;

/* Ownership: *out is freed with secup_trust_free(). */
SECUP_API SECUP_NODISCARD secup_rc secup_trust_new(struct secup_trust **out, struct secup_err *err);

/* Adds a key under a name (copied; used in messages). Ownership: the trust set takes the
 * key on success and frees it with itself; on failure the caller still owns it. */
SECUP_API SECUP_NODISCARD secup_rc secup_trust_add(struct secup_trust *t, struct secup_key *key,
                                                   const char *name, struct secup_err *err);

SECUP_API size_t secup_trust_count(const struct secup_trust *t);
SECUP_API const char *secup_trust_name(const struct secup_trust *t, size_t i);
SECUP_API const struct secup_key *secup_trust_key(const struct secup_trust *t, size_t i);
SECUP_API void secup_trust_free(struct secup_trust *t);

struct secup_verify_info {
    size_t block;   /* index of the authentication block that verified */
    size_t anchor;  /* index of the trust anchor that verified it */
    int64_t alg;    /* its COSE algorithm */
};

/* Authenticates a decoded envelope: the manifest digest in the authentication wrapper must
 * match the bstr-wrapped manifest, and at least one COSE_Sign1/COSE_Mac0 block must verify
 * with a trust anchor. Fails closed.
 * Returns SECUP_OK; SECUP_E_DIGEST (manifest changed); SECUP_E_UNSIGNED (no block);
 * SECUP_E_SIG (a fitting key exists but nothing verifies); SECUP_E_KEY_UNKNOWN (no anchor
 * fits any block's algorithm); SECUP_E_UNSUPPORTED (digest or signature algorithm). */
SECUP_API SECUP_NODISCARD secup_rc secup_envelope_verify(const struct secup_envelope *env,
                                                         const struct secup_trust *trust,
                                                         struct secup_verify_info *info,
                                                         struct secup_err *err);

/* As secup_envelope_verify(), but every authentication block is tried with every trust
 * key that fits its algorithm (at most SECUP_MAX_AUTH x SECUP_MAX_TRUST_ANCHORS checks):
 * bit k of *signers is set when trust key k verified at least one block, so a policy can
 * count distinct signers (k-of-n thresholds). A key whose signature appears twice sets
 * its bit once. info names the first block that verified. Returns SECUP_OK when at least
 * one block verified (*signers != 0), else the refusal secup_envelope_verify() gives. */
SECUP_API SECUP_NODISCARD secup_rc secup_envelope_verify_signers(const struct secup_envelope *env,
                                                                 const struct secup_trust *trust,
                                                                 uint32_t *signers,
                                                                 struct secup_verify_info *info,
                                                                 struct secup_err *err);

/* Adds COSE_Sign1/COSE_Mac0 blocks made with keys to an envelope that is already signed
 * (or carries only its digest): the manifest bytes, the existing blocks and everything
 * else stay as they are. The manifest must match the wrapper's digest (SECUP_E_DIGEST);
 * more than SECUP_MAX_AUTH blocks in all is SECUP_E_LIMIT_AUTH. in is decoded with lim
 * (NULL: defaults). Ownership: *out is freed with secup_buffer_free(). */
SECUP_API SECUP_NODISCARD secup_rc secup_envelope_cosign(struct secup_bytes in,
                                                         const struct secup_limits *lim,
                                                         const struct secup_key *const *keys,
                                                         size_t n_keys, uint8_t **out,
                                                         size_t *out_len, struct secup_err *err);

/* Options of secup_envelope_seal(). */
struct secup_seal_opts {
    bool untagged;                       /* omit CBOR tag 107 */
    const struct secup_integrated *integrated; /* integrated payloads to add */
    size_t n_integrated;
};

/* Encodes the manifest, computes its digest, signs it with every key in keys (COSE_Sign1
 * for P-256 as ESP256 and Ed25519; COSE_Mac0 for HMAC secrets) and writes the envelope.
 * Severed members of m whose content is available are written into the envelope.
 * Ownership: *out is allocated and freed with secup_buffer_free(). */
SECUP_API SECUP_NODISCARD secup_rc secup_envelope_seal(const struct secup_manifest *m,
                                                       const struct secup_key *const *keys,
                                                       size_t n_keys,
                                                       const struct secup_seal_opts *opts,
                                                       uint8_t **out, size_t *out_len,
                                                       struct secup_err *err);

SECUP_API void secup_buffer_free(void *p);

#endif /* SECUP_COSE_H */
