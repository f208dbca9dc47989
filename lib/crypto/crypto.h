/* The crypto seam. Only crypto_openssl.c includes OpenSSL headers. It speaks COSE algorithm
 * identifiers and byte views, and maps "does not verify" to SECUP_E_SIG and any other
 * backend failure to SECUP_E_CRYPTO (STYLE.md section 6). */
#ifndef SECUP_CRYPTO_H
#define SECUP_CRYPTO_H

#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"
#include "secup/keys.h"

/* COSE algorithm identifiers used by secup. */
enum {
    SECUP_COSE_ALG_ES256 = -7,
    SECUP_COSE_ALG_EDDSA = -8,
    SECUP_COSE_ALG_ESP256 = -9,
    SECUP_COSE_ALG_ED25519 = -19,
    SECUP_COSE_ALG_SHA256 = -16,
    SECUP_COSE_ALG_HMAC256 = 5,
};

#define SECUP_SHA256_LEN 32
#define SECUP_MAX_SIG_LEN 64

/* One-shot SHA-256. */
secup_rc secup_crypto_sha256(struct secup_bytes in, uint8_t out[SECUP_SHA256_LEN],
                             struct secup_err *err);
/* SHA-256 over several pieces, as if concatenated. */
secup_rc secup_crypto_sha256_parts(const struct secup_bytes *parts, size_t n,
                                   uint8_t out[SECUP_SHA256_LEN], struct secup_err *err);
/* SHA-1 over several pieces; used only for name-based UUIDs (RFC 9562 version 5). */
secup_rc secup_crypto_sha1_parts(const struct secup_bytes *parts, size_t n, uint8_t out[20],
                                 struct secup_err *err);

/* The COSE signature algorithm a key signs with by default (ESP256 for P-256, Ed25519 for
 * Ed25519), or 0 when the key does not sign. */
int64_t secup_crypto_default_sig_alg(const struct secup_key *key);
/* True when key can verify signatures of the COSE algorithm alg. */
bool secup_crypto_key_fits_alg(const struct secup_key *key, int64_t alg);

/* Signs tbs with a private key. ECDSA signatures are COSE's fixed r||s (64 bytes). */
secup_rc secup_crypto_sign(const struct secup_key *key, int64_t alg, struct secup_bytes tbs,
                           uint8_t *sig, size_t sig_cap, size_t *sig_len, struct secup_err *err);
/* Verifies sig over tbs. SECUP_E_SIG when it does not verify. */
secup_rc secup_crypto_verify(const struct secup_key *key, int64_t alg, struct secup_bytes tbs,
                             struct secup_bytes sig, struct secup_err *err);
/* HMAC-SHA256 with an HMAC key. */
secup_rc secup_crypto_hmac_sha256(const struct secup_key *key, struct secup_bytes data,
                                  uint8_t out[SECUP_SHA256_LEN], struct secup_err *err);

/* Cryptographically secure random bytes. */
secup_rc secup_crypto_random(uint8_t *out, size_t len, struct secup_err *err);

#endif /* SECUP_CRYPTO_H */
