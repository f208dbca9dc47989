/* Content-key distribution of SUIT payload encryption: AES-KW (RFC 9053 section 6.2) and
 * ECDH-ES+A128KW (RFC 9053 section 6.4) with the SUIT KDF context
 * (draft-ietf-suit-firmware-encryption section 5; SUIT.md 2.9). Both the unwrapping of a
 * device and the wrapping of an author live here. */
#include <string.h>

#include "cbor/codec.h"
#include "crypto/crypto.h"
#include "enc.h"

#define KW_KEK_LEN 16 /* ECDH-ES+A128KW derives an A128KW key */

static const char suit_kdf_other[] = "SUIT Payload Encryption";

secup_rc secup_cose_enc_structure(struct secup_bytes protected_hdr, uint8_t *buf, size_t cap,
                                  size_t *len, struct secup_err *err)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_array(&w, 3);
    secup_cbor_put_tstr_cstr(&w, "Encrypt");
    secup_cbor_put_bstr(&w, protected_hdr);
    secup_cbor_put_bstr(&w, secup_bytes_of(NULL, 0)); /* external_aad: none in SUIT */
    *len = w.len;
    return secup_cbor_writer_finish(&w, err);
}

secup_rc secup_cose_kdf_context(struct secup_bytes recipient_protected, uint8_t *buf, size_t cap,
                                size_t *len, struct secup_err *err)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_array(&w, 4);
    /* AlgorithmID is the algorithm the derived key is used with: A128KW, not -29. */
    secup_cbor_put_int(&w, SECUP_COSE_ALG_A128KW);
    for (int party = 0; party < 2; party++) {
        secup_cbor_put_array(&w, 3);
        secup_cbor_put_null(&w);
        secup_cbor_put_null(&w);
        secup_cbor_put_null(&w);
    }
    secup_cbor_put_array(&w, 3);
    secup_cbor_put_uint(&w, KW_KEK_LEN * 8);
    secup_cbor_put_bstr(&w, recipient_protected);
    /* SUIT.md 2.9: `other` is a byte string (CDDL single quotes); a text string yields a
     * different key and does not interoperate. */
    secup_cbor_put_bstr(&w, secup_bytes_of(suit_kdf_other, sizeof(suit_kdf_other) - 1));
    *len = w.len;
    return secup_cbor_writer_finish(&w, err);
}

secup_rc secup_cose_ecdh_kek(const struct secup_key *priv, struct secup_bytes peer_x,
                             struct secup_bytes peer_y, struct secup_bytes recipient_protected,
                             uint8_t kek[16], struct secup_err *err)
{
    uint8_t secret[SECUP_ECDH_SECRET_LEN];
    uint8_t ctx[SECUP_KDF_CONTEXT_MAX];
    size_t ctx_len = 0;
    secup_rc rc = secup_cose_kdf_context(recipient_protected, ctx, sizeof(ctx), &ctx_len, err);
    if (rc != SECUP_OK)
        return secup_err_set(err, SECUP_E_LIMIT_BYTES, "recipient protected header too large");
    rc = secup_crypto_ecdh(priv, peer_x, peer_y, secret, err);
    if (rc == SECUP_OK)
        rc = secup_crypto_hkdf_sha256(secup_bytes_of(NULL, 0), secup_bytes_of(secret, sizeof(secret)),
                                      secup_bytes_of(ctx, ctx_len), kek, KW_KEK_LEN, err);
    secup_wipe(secret, sizeof(secret));
    return rc;
}

static bool kid_fits(const struct secup_enc_recipient *r, struct secup_bytes want, bool strict)
{
    if (want.len == 0)
        return true;
    if (!r->has_kid)
        return !strict;
    return secup_bytes_equal(r->kid, want);
}

/* Whether recipient r is meant for key (a candidate to try). AES-KW recipients must carry
 * the key's kid when the key has one; an ECDH-ES recipient without kid may be for anyone. */
static bool is_candidate(const struct secup_enc_recipient *r, const struct secup_recipient_key *key)
{
    if (key->kind == SECUP_RECIPIENT_KEK)
        return (r->alg == SECUP_COSE_ALG_A128KW || r->alg == SECUP_COSE_ALG_A256KW) &&
               secup_crypto_key_len(r->alg) == key->kek.len && kid_fits(r, key->kid, true);
    return r->alg == SECUP_COSE_ALG_ECDH_ES_A128KW && r->eph_type == secup_key_type(key->priv) &&
           kid_fits(r, key->kid, false);
}

static secup_rc unwrap_one(const struct secup_enc_recipient *r,
                           const struct secup_recipient_key *key, uint8_t *cek, size_t cap,
                           size_t *cek_len, struct secup_err *err)
{
    if (key->kind == SECUP_RECIPIENT_KEK)
        return secup_crypto_aes_kw_unwrap(key->kek, r->wrapped, cek, cap, cek_len, err);
    uint8_t kek[KW_KEK_LEN];
    secup_rc rc = secup_cose_ecdh_kek(key->priv, r->eph_x, r->eph_y, r->protected_hdr, kek, err);
    if (rc == SECUP_OK)
        rc = secup_crypto_aes_kw_unwrap(secup_bytes_of(kek, sizeof(kek)), r->wrapped, cek, cap,
                                        cek_len, err);
    secup_wipe(kek, sizeof(kek));
    return rc;
}

static secup_rc check_key(const struct secup_recipient_key *key, struct secup_err *err)
{
    if (!key)
        return secup_err_set(err, SECUP_E_ARG, "no recipient key");
    if (key->kind == SECUP_RECIPIENT_KEK) {
        if (key->kek.len != 16 && key->kek.len != 32)
            return secup_err_set(err, SECUP_E_ARG, "KEK of %zu bytes (16 or 32 expected)",
                                 key->kek.len);
        return SECUP_OK;
    }
    if (key->kind != SECUP_RECIPIENT_ECDH)
        return secup_err_set(err, SECUP_E_ARG, "unknown recipient key kind %d", (int)key->kind);
    enum secup_key_type t = secup_key_type(key->priv);
    if (t != SECUP_KEY_P256 && t != SECUP_KEY_X25519)
        return secup_err_set(err, SECUP_E_ARG, "ECDH needs a P-256 or X25519 key, not %s",
                             secup_key_type_name(t));
    if (!secup_key_has_private(key->priv))
        return secup_err_set(err, SECUP_E_ARG, "the ECDH key has no private part");
    return SECUP_OK;
}

secup_rc secup_enc_info_unwrap(const struct secup_enc_info *info,
                               const struct secup_recipient_key *key, uint8_t *cek, size_t cap,
                               size_t *cek_len, size_t *used, struct secup_err *err)
{
    *cek_len = 0;
    if (used)
        *used = 0;
    if (!info || !cek)
        return secup_err_set(err, SECUP_E_ARG, "no encryption info or output");
    secup_rc rc = check_key(key, err);
    if (rc != SECUP_OK)
        return rc;
    size_t want = secup_crypto_key_len(info->alg);
    if (want == 0)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "content algorithm %lld",
                             (long long)info->alg);
    if (cap < want)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "CEK buffer of %zu bytes", cap);

    /* Fail closed: only a successful unwrap ends the search with SECUP_OK. An integrity
     * failure is reported in preference to other failures of a candidate, since it is what
     * a wrong key looks like. */
    size_t candidates = 0;
    secup_rc result = SECUP_E_NO_RECIPIENT;
    struct secup_err first;
    secup_err_clear(&first);
    for (size_t i = 0; i < info->n_recipients; i++) {
        const struct secup_enc_recipient *r = &info->recipients[i];
        if (!is_candidate(r, key))
            continue;
        candidates++;
        struct secup_err e;
        secup_err_clear(&e);
        rc = unwrap_one(r, key, cek, cap, cek_len, &e);
        if (rc == SECUP_OK && *cek_len == want) {
            if (used)
                *used = i;
            return SECUP_OK;
        }
        if (rc == SECUP_OK)
            rc = secup_err_set(&e, SECUP_E_UNWRAP, "unwrapped key of %zu bytes, expected %zu",
                               *cek_len, want);
        secup_wipe(cek, cap);
        *cek_len = 0;
        if (result == SECUP_E_NO_RECIPIENT || (rc == SECUP_E_UNWRAP && result != SECUP_E_UNWRAP)) {
            result = rc;
            first = e;
            secup_err_prefix(&first, "recipient %zu", i);
        }
    }
    if (candidates == 0) {
        if (key->kid.len)
            return secup_err_set(err, SECUP_E_NO_RECIPIENT,
                                 "encryption info: no %s recipient with kid '%.*s'",
                                 key->kind == SECUP_RECIPIENT_KEK ? "AES-KW" : "ECDH-ES",
                                 (int)key->kid.len, (const char *)key->kid.ptr);
        return secup_err_set(err, SECUP_E_NO_RECIPIENT,
                             "encryption info: no recipient for a %s key",
                             key->kind == SECUP_RECIPIENT_KEK
                                 ? (key->kek.len == 16 ? "A128KW" : "A256KW")
                                 : secup_key_type_name(secup_key_type(key->priv)));
    }
    return secup_err_set(err, result, "encryption info: %s", first.msg);
}

/* ---- Producing side ---- */

static secup_rc put_cose_key(struct secup_cbor_writer *w, const struct secup_key *eph,
                             struct secup_err *err)
{
    uint8_t x[SECUP_EC_COORD_LEN];
    uint8_t y[SECUP_EC_COORD_LEN];
    secup_rc rc = secup_crypto_key_public_xy(eph, x, y, err);
    if (rc != SECUP_OK)
        return rc;
    bool p256 = secup_key_type(eph) == SECUP_KEY_P256;
    secup_cbor_put_map(w, p256 ? 4 : 3);
    secup_cbor_put_int(w, SECUP_COSE_KEY_KTY);
    secup_cbor_put_int(w, p256 ? SECUP_COSE_KTY_EC2 : SECUP_COSE_KTY_OKP);
    secup_cbor_put_int(w, SECUP_COSE_KEY_CRV);
    secup_cbor_put_int(w, p256 ? SECUP_COSE_CRV_P256 : SECUP_COSE_CRV_X25519);
    secup_cbor_put_int(w, SECUP_COSE_KEY_X);
    secup_cbor_put_bstr(w, secup_bytes_of(x, sizeof(x)));
    if (p256) {
        secup_cbor_put_int(w, SECUP_COSE_KEY_Y);
        secup_cbor_put_bstr(w, secup_bytes_of(y, sizeof(y)));
    }
    return SECUP_OK;
}

static secup_rc put_ecdh_recipient(struct secup_cbor_writer *w,
                                   const struct secup_enc_recipient_spec *spec,
                                   struct secup_bytes cek, const struct secup_key *eph_in,
                                   struct secup_err *err)
{
    static const uint8_t prot[] = { 0xa1, 0x01, 0x38, 0x1c }; /* {1: -29} */
    enum secup_key_type t = secup_key_type(spec->pub);
    if (t != SECUP_KEY_P256 && t != SECUP_KEY_X25519)
        return secup_err_set(err, SECUP_E_ARG, "ECDH-ES recipient needs a P-256 or X25519 key, "
                             "not %s", secup_key_type_name(t));
    struct secup_key *eph_own = NULL;
    const struct secup_key *eph = eph_in;
    secup_rc rc = SECUP_OK;
    if (!eph) {
        rc = secup_key_generate(&eph_own, t, err);
        if (rc != SECUP_OK)
            return rc;
        eph = eph_own;
    } else if (secup_key_type(eph) != t) {
        return secup_err_set(err, SECUP_E_ARG, "ephemeral key type differs from the recipient's");
    }
    uint8_t px[SECUP_EC_COORD_LEN];
    uint8_t py[SECUP_EC_COORD_LEN];
    uint8_t kek[KW_KEK_LEN];
    uint8_t wrapped[SECUP_MAX_CEK + 8];
    size_t wrapped_len = 0;
    rc = secup_crypto_key_public_xy(spec->pub, px, py, err);
    if (rc != SECUP_OK)
        goto out;
    rc = secup_cose_ecdh_kek(eph, secup_bytes_of(px, sizeof(px)),
                             secup_bytes_of(py, t == SECUP_KEY_P256 ? sizeof(py) : 0),
                             secup_bytes_of(prot, sizeof(prot)), kek, err);
    if (rc != SECUP_OK)
        goto out;
    rc = secup_crypto_aes_kw_wrap(secup_bytes_of(kek, sizeof(kek)), cek, wrapped,
                                  sizeof(wrapped), &wrapped_len, err);
    if (rc != SECUP_OK)
        goto out;
    secup_cbor_put_array(w, 3);
    secup_cbor_put_bstr(w, secup_bytes_of(prot, sizeof(prot)));
    /* Deterministic order (RFC 8949 section 4.2.1): 4 (0x04) sorts before -1 (0x20). */
    secup_cbor_put_map(w, spec->kid.len ? 2 : 1);
    if (spec->kid.len) {
        secup_cbor_put_int(w, SECUP_HDR_KID);
        secup_cbor_put_bstr(w, spec->kid);
    }
    secup_cbor_put_int(w, SECUP_HDR_EPHEMERAL_KEY);
    rc = put_cose_key(w, eph, err);
    if (rc != SECUP_OK)
        goto out;
    secup_cbor_put_bstr(w, secup_bytes_of(wrapped, wrapped_len));
out:
    secup_wipe(kek, sizeof(kek));
    secup_key_free(eph_own);
    return rc;
}

secup_rc secup_cose_put_recipient(struct secup_cbor_writer *w,
                                  const struct secup_enc_recipient_spec *spec,
                                  struct secup_bytes cek, const struct secup_key *eph,
                                  struct secup_err *err)
{
    if (spec->kid.len > SECUP_MAX_KID)
        return secup_err_set(err, SECUP_E_ARG, "kid of %zu bytes (at most %d)", spec->kid.len,
                             SECUP_MAX_KID);
    if (spec->alg == SECUP_COSE_ALG_ECDH_ES_A128KW)
        return put_ecdh_recipient(w, spec, cek, eph, err);
    if (spec->alg != SECUP_COSE_ALG_A128KW && spec->alg != SECUP_COSE_ALG_A256KW)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "key distribution algorithm %lld",
                             (long long)spec->alg);
    if (spec->kek.len != secup_crypto_key_len(spec->alg))
        return secup_err_set(err, SECUP_E_ARG, "%s needs a %zu-byte KEK, got %zu bytes",
                             secup_enc_alg_name(spec->alg), secup_crypto_key_len(spec->alg),
                             spec->kek.len);
    if (spec->kid.len == 0)
        return secup_err_set(err, SECUP_E_ARG, "an AES-KW recipient needs a kid");
    uint8_t wrapped[SECUP_MAX_CEK + 8];
    size_t wrapped_len = 0;
    secup_rc rc = secup_crypto_aes_kw_wrap(spec->kek, cek, wrapped, sizeof(wrapped),
                                           &wrapped_len, err);
    if (rc != SECUP_OK)
        return rc;
    secup_cbor_put_array(w, 3);
    secup_cbor_put_bstr(w, secup_bytes_of(NULL, 0));
    secup_cbor_put_map(w, 2);
    secup_cbor_put_int(w, SECUP_HDR_ALG);
    secup_cbor_put_int(w, spec->alg);
    secup_cbor_put_int(w, SECUP_HDR_KID);
    secup_cbor_put_bstr(w, spec->kid);
    secup_cbor_put_bstr(w, secup_bytes_of(wrapped, wrapped_len));
    return SECUP_OK;
}
