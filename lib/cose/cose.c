#include <string.h>

#include "cbor/codec.h"
#include "cose.h"
#include "crypto/crypto.h"

secup_rc secup_cose_tbs(enum secup_auth_type type, struct secup_bytes protected_hdr,
                        struct secup_bytes payload, uint8_t *buf, size_t cap, size_t *len,
                        struct secup_err *err)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_array(&w, 4);
    secup_cbor_put_tstr_cstr(&w, type == SECUP_AUTH_SIGN1 ? "Signature1" : "MAC0");
    secup_cbor_put_bstr(&w, protected_hdr);
    secup_cbor_put_bstr(&w, secup_bytes_of(NULL, 0)); /* external_aad */
    secup_cbor_put_bstr(&w, payload);
    *len = w.len;
    secup_rc rc = secup_cbor_writer_finish(&w, err);
    if (rc != SECUP_OK)
        return secup_err_set(err, SECUP_E_LIMIT_BYTES,
                             "COSE protected header of %zu bytes is too large", protected_hdr.len);
    return SECUP_OK;
}

bool secup_cose_alg_supported(enum secup_auth_type type, int64_t alg)
{
    if (type == SECUP_AUTH_MAC0)
        return alg == SECUP_COSE_ALG_HMAC256;
    return alg == SECUP_COSE_ALG_ES256 || alg == SECUP_COSE_ALG_ESP256 ||
           alg == SECUP_COSE_ALG_EDDSA || alg == SECUP_COSE_ALG_ED25519;
}

secup_rc secup_cose_verify_block(const struct secup_auth_block *a, struct secup_bytes payload,
                                 const struct secup_key *key, struct secup_err *err)
{
    /* large enough for the detached SUIT digest and for attached protocol messages */
    uint8_t tbs[SECUP_STATUS_TBS_MAX];
    size_t tbs_len = 0;
    if (!secup_crypto_key_fits_alg(key, a->alg))
        return secup_err_set(err, SECUP_E_KEY_UNKNOWN, "key does not fit COSE algorithm %lld",
                             (long long)a->alg);
    secup_rc rc = secup_cose_tbs(a->type, a->protected_hdr, payload, tbs, sizeof(tbs), &tbs_len,
                                 err);
    if (rc != SECUP_OK)
        return rc;
    if (a->type == SECUP_AUTH_SIGN1)
        return secup_crypto_verify(key, a->alg, secup_bytes_of(tbs, tbs_len), a->tag, err);
    uint8_t mac[SECUP_SHA256_LEN];
    rc = secup_crypto_hmac_sha256(key, secup_bytes_of(tbs, tbs_len), mac, err);
    if (rc != SECUP_OK)
        return rc;
    bool ok = secup_ct_equal(secup_bytes_of(mac, sizeof(mac)), a->tag);
    secup_wipe(mac, sizeof(mac));
    if (!ok)
        return secup_err_set(err, SECUP_E_SIG, "MAC does not verify");
    return SECUP_OK;
}
