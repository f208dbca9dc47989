/* COSE_Sign1 with an attached payload, for secup's own signed messages (status reports,
 * commands, notifications): RFC 9052 section 4.2. */
#include <string.h>

#include "cbor/codec.h"
#include "cose.h"
#include "crypto/crypto.h"

#define MAX_PROTECTED 64

secup_rc secup_cose_sign1_attached(const struct secup_key *key, struct secup_bytes payload,
                                   struct secup_bytes kid, uint8_t *buf, size_t cap, size_t *len,
                                   struct secup_err *err)
{
    int64_t alg = secup_crypto_default_sig_alg(key);
    if (alg != SECUP_COSE_ALG_ESP256 && alg != SECUP_COSE_ALG_ED25519)
        return secup_err_set(err, SECUP_E_ARG, "a %s key cannot sign messages",
                             secup_key_type_name(secup_key_type(key)));
    uint8_t prot[16];
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, prot, sizeof(prot));
    secup_cbor_put_map(&w, 1);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_int(&w, alg);
    secup_rc rc = secup_cbor_writer_finish(&w, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_bytes protected_hdr = secup_cbor_writer_bytes(&w);

    /* Sig_structure = ["Signature1", protected, h'', payload]; the payload may be large,
     * so the to-be-signed bytes are built in the caller's buffer's tail when it fits, or
     * on the stack for small messages. */
    struct secup_cbor_writer t;
    secup_cbor_writer_init(&t, NULL, 0);
    secup_cbor_put_array(&t, 4);
    secup_cbor_put_tstr_cstr(&t, "Signature1");
    secup_cbor_put_bstr(&t, protected_hdr);
    secup_cbor_put_bstr(&t, secup_bytes_of(NULL, 0));
    secup_cbor_put_bstr(&t, payload);
    uint8_t tbs[SECUP_STATUS_TBS_MAX];
    if (t.len > sizeof(tbs))
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "message of %zu bytes is too large to sign",
                             payload.len);
    secup_cbor_writer_init(&t, tbs, sizeof(tbs));
    secup_cbor_put_array(&t, 4);
    secup_cbor_put_tstr_cstr(&t, "Signature1");
    secup_cbor_put_bstr(&t, protected_hdr);
    secup_cbor_put_bstr(&t, secup_bytes_of(NULL, 0));
    secup_cbor_put_bstr(&t, payload);
    uint8_t sig[SECUP_MAX_SIG_LEN];
    size_t sig_len = 0;
    rc = secup_crypto_sign(key, alg, secup_cbor_writer_bytes(&t), sig, sizeof(sig), &sig_len, err);
    if (rc != SECUP_OK)
        return rc;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_tag(&w, SECUP_AUTH_SIGN1);
    secup_cbor_put_array(&w, 4);
    secup_cbor_put_bstr(&w, protected_hdr);
    if (kid.len) {
        secup_cbor_put_map(&w, 1);
        secup_cbor_put_uint(&w, 4);
        secup_cbor_put_bstr(&w, kid);
    } else {
        secup_cbor_put_map(&w, 0);
    }
    secup_cbor_put_bstr(&w, payload);
    secup_cbor_put_bstr(&w, secup_bytes_of(sig, sig_len));
    *len = w.len;
    return secup_cbor_writer_finish(&w, err);
}

static secup_rc read_header(struct secup_bytes enc, int64_t *alg, bool *has_alg,
                            struct secup_bytes *kid, bool protected_hdr, struct secup_err *err)
{
    struct secup_cbor_reader r;
    uint64_t n = 0;
    if (enc.len == 0)
        return SECUP_OK;
    secup_cbor_reader_init(&r, enc, 8);
    secup_rc rc = secup_cbor_read_map(&r, &n, "COSE header", err);
    if (rc == SECUP_OK && n > 8)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "COSE header with %llu entries",
                           (unsigned long long)n);
    bool seen_alg = false;
    bool seen_kid = false;
    for (uint64_t i = 0; rc == SECUP_OK && i < n; i++) {
        int64_t label = 0;
        rc = secup_cbor_read_int(&r, &label, "COSE header label", err);
        if (rc != SECUP_OK)
            break;
        if (label == 1 && protected_hdr && !seen_alg) {
            seen_alg = true;
            *has_alg = true;
            rc = secup_cbor_read_int(&r, alg, "COSE alg", err);
        } else if (label == 4 && !seen_kid) {
            seen_kid = true;
            rc = secup_cbor_read_bstr(&r, kid, "COSE kid", err);
        } else if (label == 2) {
            rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "critical COSE headers are not supported");
        } else if (label == 1 || label == 4) {
            rc = secup_err_set(err, label == 1 && !protected_hdr ? SECUP_E_VALUE : SECUP_E_DUPLICATE,
                               "COSE header label %lld %s", (long long)label,
                               label == 1 && !protected_hdr ? "must be protected" : "twice");
        } else {
            rc = secup_cbor_skip(&r, NULL, err);
        }
    }
    if (rc == SECUP_OK && !secup_cbor_at_end(&r))
        rc = secup_err_set(err, SECUP_E_TRAILING, "trailing bytes in a COSE header");
    return rc;
}

secup_rc secup_cose_sign1_parse(struct secup_bytes in, struct secup_auth_block *block,
                                struct secup_bytes *payload, struct secup_bytes *kid,
                                struct secup_err *err)
{
    struct secup_cbor_reader r;
    struct secup_cbor_item it;
    uint64_t n = 0;
    memset(block, 0, sizeof(*block));
    *payload = secup_bytes_of(NULL, 0);
    *kid = secup_bytes_of(NULL, 0);
    secup_cbor_reader_init(&r, in, 8);
    secup_rc rc = secup_cbor_next(&r, &it, err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type != SECUP_CBOR_TAG || it.u != SECUP_AUTH_SIGN1)
        return secup_err_set(err, SECUP_E_TYPE, "expected a COSE_Sign1 (tag 18)");
    block->type = SECUP_AUTH_SIGN1;
    rc = secup_cbor_read_array(&r, &n, "COSE_Sign1", err);
    if (rc == SECUP_OK && n != 4)
        rc = secup_err_set(err, SECUP_E_VALUE, "COSE_Sign1 with %llu elements", (unsigned long long)n);
    if (rc == SECUP_OK)
        rc = secup_cbor_read_bstr(&r, &block->protected_hdr, "COSE protected header", err);
    if (rc == SECUP_OK && block->protected_hdr.len > MAX_PROTECTED)
        rc = secup_err_set(err, SECUP_E_LIMIT_BYTES, "COSE protected header of %zu bytes",
                           block->protected_hdr.len);
    if (rc == SECUP_OK) {
        rc = secup_cbor_peek(&r, &it, err);
        if (rc == SECUP_OK && it.type != SECUP_CBOR_MAP)
            rc = secup_err_set(err, SECUP_E_TYPE, "COSE unprotected header is not a map");
    }
    if (rc == SECUP_OK)
        rc = secup_cbor_skip(&r, &block->unprotected, err);
    if (rc == SECUP_OK)
        rc = secup_cbor_read_bstr(&r, payload, "COSE payload", err);
    if (rc == SECUP_OK)
        rc = secup_cbor_read_bstr(&r, &block->tag, "COSE signature", err);
    if (rc == SECUP_OK && !secup_cbor_at_end(&r))
        rc = secup_err_set(err, SECUP_E_TRAILING, "trailing bytes after the COSE_Sign1");
    bool has_alg = false;
    struct secup_bytes pkid = { NULL, 0 };
    if (rc == SECUP_OK)
        rc = read_header(block->protected_hdr, &block->alg, &has_alg, &pkid, true, err);
    bool dummy = false;
    int64_t ualg = 0;
    if (rc == SECUP_OK)
        rc = read_header(block->unprotected, &ualg, &dummy, kid, false, err);
    if (rc == SECUP_OK && !has_alg)
        rc = secup_err_set(err, SECUP_E_MISSING, "COSE_Sign1 without a protected algorithm");
    if (rc == SECUP_OK && pkid.len)
        *kid = pkid;
    block->has_payload = true;
    block->payload = *payload;
    block->kid = *kid;
    return rc;
}
