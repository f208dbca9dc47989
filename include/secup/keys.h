/* secup — keys: loading, generating and saving the keys that sign and verify manifests. */
#ifndef SECUP_KEYS_H
#define SECUP_KEYS_H

#include <stdbool.h>

#include "secup/bytes.h"
#include "secup/err.h"

enum secup_key_type {
    SECUP_KEY_NONE = 0,
    SECUP_KEY_P256,    /* ECDSA/ECDH over P-256 */
    SECUP_KEY_ED25519, /* EdDSA signatures */
    SECUP_KEY_X25519,  /* ECDH only */
    SECUP_KEY_HMAC,    /* a symmetric secret for COSE_Mac0 */
};

/* An opaque key: public only, or a key pair, or a symmetric secret. */
struct secup_key;

/* Generates a new key pair of the given type (P256, ED25519, X25519).
 * Ownership: *out is freed with secup_key_free(). */
SECUP_API SECUP_NODISCARD secup_rc secup_key_generate(struct secup_key **out,
                                                      enum secup_key_type type,
                                                      struct secup_err *err);

/* Loads a PEM file: a private key (PKCS#8 or traditional) or a public key (SPKI).
 * Returns SECUP_E_NOENT / SECUP_E_IO when the file cannot be read, SECUP_E_KEY_FORMAT when
 * it holds no key, SECUP_E_UNSUPPORTED for a key type secup does not use. */
SECUP_API SECUP_NODISCARD secup_rc secup_key_load_pem(struct secup_key **out, const char *path,
                                                      struct secup_err *err);

/* Loads a PEM from memory, as secup_key_load_pem() does from a file. */
SECUP_API SECUP_NODISCARD secup_rc secup_key_parse_pem(struct secup_key **out,
                                                       struct secup_bytes pem,
                                                       struct secup_err *err);

/* A private key in a PKCS#11 token (RFC 7512 URI "pkcs11:token=...;object=...", without
 * query attributes), used through OpenSSL's pkcs11 engine: module is the PKCS#11 library
 * (NULL: the engine's default, p11-kit), pin the user PIN (NULL: none). The key never
 * leaves the token. P-256 only. SECUP_E_UNSUPPORTED when the engine is not installed,
 * SECUP_E_KEY_FORMAT when no such key. */
SECUP_API SECUP_NODISCARD secup_rc secup_key_load_pkcs11(struct secup_key **out, const char *uri,
                                                         const char *module, const char *pin,
                                                         struct secup_err *err);

/* Wraps a symmetric secret (16 to 64 bytes) as an HMAC key. The bytes are copied. */
SECUP_API SECUP_NODISCARD secup_rc secup_key_from_secret(struct secup_key **out,
                                                         struct secup_bytes secret,
                                                         struct secup_err *err);

/* Writes the private key as PKCS#8 PEM to path with mode 0600 (created or replaced
 * atomically: temp file, fsync, rename). */
SECUP_API SECUP_NODISCARD secup_rc secup_key_save_private(const struct secup_key *key,
                                                          const char *path,
                                                          struct secup_err *err);

/* Writes the public key as SPKI PEM to path (mode 0644, atomically). */
SECUP_API SECUP_NODISCARD secup_rc secup_key_save_public(const struct secup_key *key,
                                                         const char *path,
                                                         struct secup_err *err);

SECUP_API enum secup_key_type secup_key_type(const struct secup_key *key);
SECUP_API bool secup_key_has_private(const struct secup_key *key);
SECUP_API const char *secup_key_type_name(enum secup_key_type type);

/* A stable identifier of the public key: SHA-256 of its SubjectPublicKeyInfo DER (for
 * HMAC keys, of the secret under a domain label). out must hold 32 bytes. */
SECUP_API SECUP_NODISCARD secup_rc secup_key_id(const struct secup_key *key, uint8_t out[32],
                                                struct secup_err *err);

/* Writes a self-signed X.509 certificate (PEM) for key, valid for `days` days, with
 * `name` as common name and subject alternative names DNS:name, DNS:localhost and
 * IP:127.0.0.1, for development TLS (secup-server init). key: P-256 or Ed25519 with its
 * private part. */
SECUP_API SECUP_NODISCARD secup_rc secup_key_save_self_signed_cert(const struct secup_key *key,
                                                                   const char *name,
                                                                   unsigned days,
                                                                   const char *path,
                                                                   struct secup_err *err);

SECUP_API void secup_key_free(struct secup_key *key);

#endif /* SECUP_KEYS_H */
