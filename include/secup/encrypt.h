/* secup — encrypted payloads: SUIT_Encryption_Info (a detached COSE_Encrypt, tag 96) with
 * AES-KW and ECDH-ES+A128KW recipients, and the content ciphers A128GCM, A128CTR, A256CTR
 * and ChaCha20/Poly1305 (draft-ietf-suit-firmware-encryption, RFC 9052/9053, RFC 9459;
 * SUIT.md sections 2.9 and 2.10).
 *
 * Consuming side (the device):
 *   secup_enc_info_decode()  parses the encoded info into a model of views (no allocation);
 *   secup_decryptor_new()    finds the recipient for the device's key, unwraps the content
 *                            key (CEK) and returns a streaming decryption context;
 *   secup_enc_decrypt()      does all of that in one call for a payload held in memory.
 * Producing side (the author):
 *   secup_encryptor_new()    draws a CEK and IV, wraps the CEK for every recipient, encodes
 *                            the info and returns a streaming encryption context.
 *
 * Ciphertext layout: AEAD payloads are the ciphertext followed by the 16-byte tag; AES-CTR
 * payloads are exactly as long as the plaintext (CTR has no integrity: the image digest in
 * the manifest is what protects it, so always check it).
 */
#ifndef SECUP_ENCRYPT_H
#define SECUP_ENCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"
#include "secup/keys.h"

/* COSE algorithm identifiers of payload encryption. */
enum {
    SECUP_COSE_ALG_A128GCM = 1,
    SECUP_COSE_ALG_CHACHA20_POLY1305 = 24,
    SECUP_COSE_ALG_A128KW = -3,
    SECUP_COSE_ALG_A256KW = -5,
    SECUP_COSE_ALG_ECDH_ES_A128KW = -29,
    SECUP_COSE_ALG_A128CTR = -65534,
    SECUP_COSE_ALG_A256CTR = -65532,
};

#define SECUP_MAX_RECIPIENTS 8    /* recipients in one info: SECUP_E_LIMIT_ITEMS */
#define SECUP_MAX_KID 64          /* bytes of a kid: SECUP_E_LIMIT_BYTES */
#define SECUP_MAX_ENC_INFO 2048   /* bytes of an encoded info: SECUP_E_LIMIT_SIZE */
#define SECUP_MAX_CEK 32          /* bytes of a content key */
#define SECUP_ENC_TAG_LEN 16      /* AEAD tag appended to the ciphertext */

/* One COSE_recipient of a decoded info. Views point into the decoded input. */
struct secup_enc_recipient {
    int64_t alg;                      /* A128KW, A256KW or ECDH-ES+A128KW */
    struct secup_bytes protected_hdr; /* bstr content of its protected header (KDF context) */
    bool has_kid;
    struct secup_bytes kid;
    struct secup_bytes wrapped;       /* the wrapped CEK: CEK length + 8 bytes */
    enum secup_key_type eph_type;     /* ECDH-ES: SECUP_KEY_P256 or SECUP_KEY_X25519 */
    struct secup_bytes eph_x;         /* ECDH-ES ephemeral public key, 32 bytes */
    struct secup_bytes eph_y;         /* P-256 only, 32 bytes */
};

/* A decoded SUIT_Encryption_Info. */
struct secup_enc_info {
    int64_t alg;                      /* content algorithm */
    struct secup_bytes protected_hdr; /* bstr content of the protected header (AEAD AAD) */
    struct secup_bytes iv;            /* 12 bytes (AEAD) or 16 bytes (CTR) */
    uint32_t n_recipients;
    struct secup_enc_recipient recipients[SECUP_MAX_RECIPIENTS];
};

/* Decodes an encoded SUIT_Encryption_Info: #6.96([protected, unprotected, nil,
 * [+recipient]]), exactly one item. The algorithm rules of SUIT.md 2.9 are enforced: AEAD
 * algorithms in the protected header with a 12-byte IV; AES-CTR with an empty protected
 * header, the algorithm unprotected and a 16-byte IV; AES-KW recipients with an empty
 * protected header; ECDH-ES recipients with an ephemeral P-256 or X25519 COSE_Key.
 * Ownership: info's views point into `in`, which must outlive info.
 * Returns SECUP_OK; SECUP_E_CBOR/SECUP_E_TYPE/SECUP_E_MISSING/SECUP_E_DUPLICATE/
 * SECUP_E_TRAILING/SECUP_E_VALUE (malformed, naming the field); SECUP_E_UNSUPPORTED
 * (algorithm, attached ciphertext, crit); SECUP_E_LIMIT_* (over a bound). */
SECUP_API SECUP_NODISCARD secup_rc secup_enc_info_decode(struct secup_enc_info *info,
                                                         struct secup_bytes in,
                                                         struct secup_err *err);

/* How a device decrypts: a pre-shared KEK with its kid, or an ECDH private key. */
enum secup_recipient_kind {
    SECUP_RECIPIENT_KEK = 1,  /* A128KW (16-byte KEK) or A256KW (32-byte KEK) */
    SECUP_RECIPIENT_ECDH = 2, /* ECDH-ES+A128KW with a P-256 or X25519 private key */
};

struct secup_recipient_key {
    enum secup_recipient_kind kind;
    struct secup_bytes kek;       /* KEK only */
    struct secup_bytes kid;       /* empty: any recipient of the right kind may be tried */
    const struct secup_key *priv; /* ECDH only; must hold the private part */
};

/* Unwraps the content key for `key`: every recipient whose algorithm fits the key (and
 * whose kid equals key->kid when both are set) is tried until one unwraps.
 * cek (cap >= SECUP_MAX_CEK) receives the CEK; *cek_len its length; *used (may be NULL)
 * the index of the recipient that unwrapped.
 * Ownership: the CEK is a secret; wipe it with secup_wipe() when done.
 * Returns SECUP_OK; SECUP_E_NO_RECIPIENT (no recipient for this key kind or kid);
 * SECUP_E_UNWRAP (candidates exist, none unwraps: wrong key or damaged wrapped key);
 * SECUP_E_ARG; SECUP_E_CRYPTO. */
SECUP_API SECUP_NODISCARD secup_rc secup_enc_info_unwrap(const struct secup_enc_info *info,
                                                         const struct secup_recipient_key *key,
                                                         uint8_t *cek, size_t cap,
                                                         size_t *cek_len, size_t *used,
                                                         struct secup_err *err);

/* A streaming payload decryption. Opaque; created and freed as a pair. Memory is fixed at
 * creation: updates never allocate. For AEAD algorithms the last 16 bytes of the stream are
 * the tag, so an update holds back up to 16 bytes until more input shows they are not. */
struct secup_decryptor;

/* Unwraps the CEK (see secup_enc_info_unwrap()) and keys a decryption context with it.
 * Ownership: *out is freed with secup_decryptor_free(), which wipes every secret.
 * Returns as secup_enc_info_unwrap(); SECUP_E_NOMEM. */
SECUP_API SECUP_NODISCARD secup_rc secup_decryptor_new(struct secup_decryptor **out,
                                                       const struct secup_enc_info *info,
                                                       const struct secup_recipient_key *key,
                                                       struct secup_err *err);

/* As secup_decryptor_new() with a content key that is already unwrapped (copied). */
SECUP_API SECUP_NODISCARD secup_rc secup_decryptor_new_cek(struct secup_decryptor **out,
                                                           const struct secup_enc_info *info,
                                                           struct secup_bytes cek,
                                                           struct secup_err *err);

/* Decrypts the next piece of the payload into out (cap >= in.len); *out_len receives the
 * plaintext released, which is at most in.len. Plaintext of an AEAD payload is released
 * before its tag is checked: treat it as unverified until secup_decryptor_finish().
 * Returns SECUP_OK; SECUP_E_BUF_SMALL; SECUP_E_STATE (after finish or failure). */
SECUP_API SECUP_NODISCARD secup_rc secup_decryptor_update(struct secup_decryptor *d,
                                                          struct secup_bytes in, uint8_t *out,
                                                          size_t cap, size_t *out_len,
                                                          struct secup_err *err);

/* Ends the payload and checks the AEAD tag in constant time.
 * Returns SECUP_OK; SECUP_E_TAG (tag, ciphertext, IV, AAD or key do not match);
 * SECUP_E_TRUNCATED (shorter than a tag). */
SECUP_API SECUP_NODISCARD secup_rc secup_decryptor_finish(struct secup_decryptor *d,
                                                          struct secup_err *err);

/* Resumption: brings a fresh context (nothing decrypted yet) to the state it would have
 * after decrypting the payload whose plaintext is `plain` (call repeatedly with the
 * consecutive pieces of an interrupted install, as read back from the slot). The
 * ciphertext is regenerated from the plaintext with the same key and IV and absorbed, so
 * that a later tag check covers it. scratch needs plain.len bytes.
 * Returns SECUP_OK; SECUP_E_STATE (after an update); SECUP_E_BUF_SMALL. */
SECUP_API SECUP_NODISCARD secup_rc secup_decryptor_replay(struct secup_decryptor *d,
                                                          struct secup_bytes plain,
                                                          uint8_t *scratch, size_t cap,
                                                          struct secup_err *err);

/* Payload bytes consumed so far (including replayed ones). */
SECUP_API uint64_t secup_decryptor_consumed(const struct secup_decryptor *d);
/* The content algorithm and its tag length (0 for CTR). */
SECUP_API int64_t secup_decryptor_alg(const struct secup_decryptor *d);
SECUP_API size_t secup_decryptor_tag_len(const struct secup_decryptor *d);

SECUP_API void secup_decryptor_free(struct secup_decryptor *d);

/* One call for a payload in memory (e.g. the content parameter of a write directive):
 * decodes info_cbor, unwraps for key, decrypts `payload` into out (cap >= payload.len) and
 * checks the tag. On any failure out is wiped and *out_len is 0.
 * Returns the codes of the calls above. */
SECUP_API SECUP_NODISCARD secup_rc secup_enc_decrypt(struct secup_bytes info_cbor,
                                                     const struct secup_recipient_key *key,
                                                     struct secup_bytes payload, uint8_t *out,
                                                     size_t cap, size_t *out_len,
                                                     struct secup_err *err);

/* ---- Producing side ---- */

/* One recipient to encrypt for. */
struct secup_enc_recipient_spec {
    int64_t alg;                  /* SECUP_COSE_ALG_A128KW, _A256KW or _ECDH_ES_A128KW */
    struct secup_bytes kek;       /* AES-KW: 16 or 32 bytes, matching alg */
    struct secup_bytes kid;       /* AES-KW: required; ECDH-ES: optional (then put in the
                                   * recipient's unprotected header) */
    const struct secup_key *pub;  /* ECDH-ES: the recipient's P-256 or X25519 key */
};

/* Overrides for known-answer tests only; leave zeroed in production (random values). */
struct secup_encrypt_opts {
    struct secup_bytes cek;       /* the content key */
    struct secup_bytes iv;        /* the IV */
    const struct secup_key *const *ephemeral; /* per recipient (ECDH-ES), may hold NULLs */
};

/* A streaming payload encryption. Opaque. */
struct secup_encryptor;

/* Creates the content key and IV, wraps the key for every recipient (1..SECUP_MAX_RECIPIENTS)
 * and encodes the SUIT_Encryption_Info. content_alg is A128GCM, A128CTR, A256CTR or
 * ChaCha20/Poly1305. opts may be NULL.
 * Ownership: *out is freed with secup_encryptor_free(), which wipes the key.
 * Returns SECUP_OK; SECUP_E_ARG (bad spec: kek length, missing kid, key type);
 * SECUP_E_UNSUPPORTED (algorithm); SECUP_E_LIMIT_ITEMS; SECUP_E_NOMEM; SECUP_E_CRYPTO. */
SECUP_API SECUP_NODISCARD secup_rc secup_encryptor_new(struct secup_encryptor **out,
                                                       int64_t content_alg,
                                                       const struct secup_enc_recipient_spec *r,
                                                       size_t n,
                                                       const struct secup_encrypt_opts *opts,
                                                       struct secup_err *err);

/* The encoded SUIT_Encryption_Info (the value of SUIT parameter 19, before bstr-wrapping).
 * Ownership: a view into e, valid until secup_encryptor_free(). */
SECUP_API struct secup_bytes secup_encryptor_info(const struct secup_encryptor *e);

/* Encrypts in into out (cap >= in.len); the output is exactly in.len bytes. */
SECUP_API SECUP_NODISCARD secup_rc secup_encryptor_update(struct secup_encryptor *e,
                                                          struct secup_bytes in, uint8_t *out,
                                                          size_t cap, struct secup_err *err);

/* Ends the payload: writes the tag to append (AEAD: 16 bytes; CTR: none) into tag. */
SECUP_API SECUP_NODISCARD secup_rc secup_encryptor_finish(struct secup_encryptor *e,
                                                          uint8_t *tag, size_t cap,
                                                          size_t *tag_len, struct secup_err *err);

SECUP_API void secup_encryptor_free(struct secup_encryptor *e);

/* ---- Algorithm profiles (draft-ietf-suit-mti; SUIT.md section 2.10) ---- */

struct secup_profile {
    const char *name;        /* "suit-sha256-esp256-ecdh-a128gcm" */
    int64_t digest_alg;      /* -16 */
    int64_t auth_alg;        /* 5 HMAC, -9 ESP256, -19 Ed25519, -46 HSS-LMS */
    int64_t key_alg;         /* -3 A128KW, -5 A256KW, -29 ECDH-ES+A128KW */
    int64_t enc_alg;         /* content algorithm */
    bool supported;          /* false for HSS-LMS signatures (not implemented) */
};

/* The profile of that name, or NULL. */
SECUP_API const struct secup_profile *secup_profile_find(const char *name);
/* All profiles, for listing: index 0 .. secup_profile_count() - 1. */
SECUP_API size_t secup_profile_count(void);
SECUP_API const struct secup_profile *secup_profile_at(size_t i);

/* The profile name of an image signed with auth_alg and, when enc is not NULL, encrypted as
 * enc describes: the MTI profile these algorithms form, else a name built the same way
 * ("suit-sha256-esp256" signed only, "suit-sha256-esp256-A128GCM" encrypted otherwise).
 * Servers and trackers name images by it, so that consumers' declared profiles compare. */
SECUP_API void secup_profile_describe(int64_t auth_alg, const struct secup_enc_info *enc,
                                      char *out, size_t cap);

/* The name of a content or key-distribution algorithm ("A128GCM"), or NULL. */
SECUP_API const char *secup_enc_alg_name(int64_t alg);

#endif /* SECUP_ENCRYPT_H */
