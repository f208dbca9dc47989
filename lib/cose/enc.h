/* Internals of SUIT payload encryption shared by the files of lib/cose/ (enc_info.c,
 * enc_keys.c, encrypt.c). */
#ifndef SECUP_COSE_ENC_H
#define SECUP_COSE_ENC_H

#include "secup/encrypt.h"

/* CBOR tag of COSE_Encrypt (RFC 9052 section 5.1) = SUIT_Encryption_Info. */
#define SECUP_COSE_TAG_ENCRYPT 96

/* COSE header labels (RFC 9052 section 3.1) and COSE_Key labels (RFC 9052 section 7,
 * RFC 9053 section 7). */
enum {
    SECUP_HDR_ALG = 1,
    SECUP_HDR_CRIT = 2,
    SECUP_HDR_KID = 4,
    SECUP_HDR_IV = 5,
    SECUP_HDR_PARTIAL_IV = 6,
    SECUP_HDR_EPHEMERAL_KEY = -1,
    SECUP_COSE_KEY_KTY = 1,
    SECUP_COSE_KEY_CRV = -1,
    SECUP_COSE_KEY_X = -2,
    SECUP_COSE_KEY_Y = -3,
    SECUP_COSE_KEY_D = -4,
    SECUP_COSE_KTY_OKP = 1,
    SECUP_COSE_KTY_EC2 = 2,
    SECUP_COSE_CRV_P256 = 1,
    SECUP_COSE_CRV_X25519 = 4,
};

/* The largest Enc_structure / COSE_KDF_Context we build. */
#define SECUP_ENC_AAD_MAX (SECUP_MAX_ENC_INFO + 32)
#define SECUP_KDF_CONTEXT_MAX 256

/* Enc_structure ["Encrypt", protected, h''] (RFC 9052 section 5.3): the AEAD's AAD. */
secup_rc secup_cose_enc_structure(struct secup_bytes protected_hdr, uint8_t *buf, size_t cap,
                                  size_t *len, struct secup_err *err);

/* COSE_KDF_Context of SUIT (SUIT.md 2.9): [-3, [nil,nil,nil], [nil,nil,nil],
 * [128, recipient protected, 'SUIT Payload Encryption']] with `other` a BYTE string. */
secup_rc secup_cose_kdf_context(struct secup_bytes recipient_protected, uint8_t *buf, size_t cap,
                                size_t *len, struct secup_err *err);

/* The key-encryption key of an ECDH-ES+A128KW recipient: HKDF-SHA256(no salt, ECDH secret,
 * context, 16). */
secup_rc secup_cose_ecdh_kek(const struct secup_key *priv, struct secup_bytes peer_x,
                             struct secup_bytes peer_y, struct secup_bytes recipient_protected,
                             uint8_t kek[16], struct secup_err *err);

/* Encodes one recipient for `spec` wrapping cek into w (lib/cbor writer). eph may be NULL
 * (a fresh ephemeral key is generated for ECDH-ES). */
struct secup_cbor_writer;
secup_rc secup_cose_put_recipient(struct secup_cbor_writer *w,
                                  const struct secup_enc_recipient_spec *spec,
                                  struct secup_bytes cek, const struct secup_key *eph,
                                  struct secup_err *err);

#endif /* SECUP_COSE_ENC_H */
