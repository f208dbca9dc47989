/* The crypto seam. Only crypto_openssl.c includes OpenSSL headers. It speaks COSE algorithm
 * identifiers and byte views, and maps "does not verify" to SECUP_E_SIG and any other
 * backend failure to SECUP_E_CRYPTO (STYLE.md section 6). */
#ifndef SECUP_CRYPTO_H
#define SECUP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/bytes.h"
#include "secup/encrypt.h"
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

/* ---- Payload encryption (draft-ietf-suit-firmware-encryption; SUIT.md sections 2.9, 2.10) ----
 * Algorithm identifiers are the COSE ones of include/secup/encrypt.h. */

#define SECUP_AEAD_TAG_LEN 16
#define SECUP_MAX_CEK_LEN 32
#define SECUP_ECDH_SECRET_LEN 32
#define SECUP_EC_COORD_LEN 32

/* Key length of a content or key-wrap algorithm (A128GCM 16, A128CTR 16, A256CTR 32,
 * ChaCha20/Poly1305 32, A128KW 16, A256KW 32), or 0 when secup does not know it. */
size_t secup_crypto_key_len(int64_t alg);
/* IV length of a content algorithm (12 for the AEADs, 16 for AES-CTR), or 0. */
size_t secup_crypto_iv_len(int64_t alg);
/* Tag length of a content algorithm: 16 for the AEADs, 0 for AES-CTR. */
size_t secup_crypto_tag_len(int64_t alg);

/* AES key wrap (RFC 3394, default IV) of key (a multiple of 8 bytes, 16..32) under kek
 * (16 bytes: A128KW, 32 bytes: A256KW). out receives key.len + 8 bytes. */
secup_rc secup_crypto_aes_kw_wrap(struct secup_bytes kek, struct secup_bytes key, uint8_t *out,
                                  size_t cap, size_t *len, struct secup_err *err);
/* AES key unwrap. SECUP_E_UNWRAP when the integrity check fails (wrong KEK or a damaged
 * wrapped key); out is wiped then. */
secup_rc secup_crypto_aes_kw_unwrap(struct secup_bytes kek, struct secup_bytes wrapped,
                                    uint8_t *out, size_t cap, size_t *len, struct secup_err *err);

/* ECDH between a private key (P-256 or X25519) and a peer public key of the same type given
 * by its coordinates (P-256: x and y, 32 bytes each; X25519: x only, y empty). out receives
 * the shared secret (the x-coordinate for P-256). A point that is not on the curve is
 * SECUP_E_VALUE. */
secup_rc secup_crypto_ecdh(const struct secup_key *priv, struct secup_bytes peer_x,
                           struct secup_bytes peer_y, uint8_t out[SECUP_ECDH_SECRET_LEN],
                           struct secup_err *err);
/* The public coordinates of a P-256 (x, y) or X25519 (x; y untouched) key. */
secup_rc secup_crypto_key_public_xy(const struct secup_key *key, uint8_t x[SECUP_EC_COORD_LEN],
                                    uint8_t y[SECUP_EC_COORD_LEN], struct secup_err *err);

/* HKDF-SHA256 (RFC 5869); salt may be empty (absent). out_len at most 255 * 32. */
secup_rc secup_crypto_hkdf_sha256(struct secup_bytes salt, struct secup_bytes ikm,
                                  struct secup_bytes info, uint8_t *out, size_t out_len,
                                  struct secup_err *err);

/* A streaming content cipher: A128GCM, ChaCha20/Poly1305, A128CTR or A256CTR. Opaque; all
 * backend state is allocated by _new() and wiped by _free(); updates never allocate. */
struct secup_crypto_cipher;

/* key and iv must have the algorithm's lengths; aad is used by the AEADs only. */
secup_rc secup_crypto_cipher_new(struct secup_crypto_cipher **out, int64_t alg, bool encrypt,
                                 struct secup_bytes key, struct secup_bytes iv,
                                 struct secup_bytes aad, struct secup_err *err);
/* Transforms in.len bytes into out (which may be in.ptr itself, but must not otherwise
 * overlap). */
secup_rc secup_crypto_cipher_update(struct secup_crypto_cipher *c, struct secup_bytes in,
                                    uint8_t *out, struct secup_err *err);
/* Encryption: finishes and writes the tag (AEAD: 16 bytes, CTR: none) to tag. */
secup_rc secup_crypto_cipher_encrypt_final(struct secup_crypto_cipher *c, uint8_t *tag,
                                           size_t cap, size_t *tag_len, struct secup_err *err);
/* Decryption: checks the tag in constant time (AEAD; CTR takes an empty tag).
 * SECUP_E_TAG when it does not match. */
secup_rc secup_crypto_cipher_decrypt_final(struct secup_crypto_cipher *c, struct secup_bytes tag,
                                           struct secup_err *err);
void secup_crypto_cipher_free(struct secup_crypto_cipher *c);

/* Streaming SHA-256. Opaque; allocated once by _new(). */
struct secup_crypto_hash;
secup_rc secup_crypto_hash_new(struct secup_crypto_hash **out, struct secup_err *err);
secup_rc secup_crypto_hash_update(struct secup_crypto_hash *h, struct secup_bytes in,
                                  struct secup_err *err);
/* Writes the digest and leaves the context ready for a new message. */
secup_rc secup_crypto_hash_final(struct secup_crypto_hash *h, uint8_t out[SECUP_SHA256_LEN],
                                 struct secup_err *err);
void secup_crypto_hash_free(struct secup_crypto_hash *h);

#endif /* SECUP_CRYPTO_H */
