/* Decoding of SUIT_Encryption_Info = #6.96(COSE_Encrypt) with detached ciphertext
 * (draft-ietf-suit-firmware-encryption section 4; RFC 9052 section 5.1; SUIT.md 2.9).
 * The model keeps views into the input; nothing is allocated. */
#include <string.h>

#include "cbor/codec.h"
#include "crypto/crypto.h"
#include "enc.h"

/* Bounds of this decoder. Real infos carry 2..4 header entries per map. */
#define MAX_HDR_ENTRIES 16
#define ENC_MAX_DEPTH 8

/* The header parameters secup acts on; everything else is skipped. */
struct hdr {
    uint32_t n_labels;
    int64_t labels[MAX_HDR_ENTRIES];
    bool has_alg;
    int64_t alg;
    bool has_kid;
    struct secup_bytes kid;
    bool has_iv;
    struct secup_bytes iv;
    bool has_eph;
    struct secup_bytes eph; /* encoding of the COSE_Key map */
};

static bool hdr_has_label(const struct hdr *h, int64_t label)
{
    for (uint32_t i = 0; i < h->n_labels; i++) {
        if (h->labels[i] == label)
            return true;
    }
    return false;
}

/* Reads one header map (protected: from its bstr content; unprotected: in place). */
static secup_rc read_hdr(struct secup_cbor_reader *r, struct hdr *h, bool recipient,
                         const char *what, struct secup_err *err)
{
    memset(h, 0, sizeof(*h));
    uint64_t n = 0;
    secup_rc rc = secup_cbor_read_map(r, &n, what, err);
    if (rc != SECUP_OK)
        return rc;
    if (n > MAX_HDR_ENTRIES)
        return secup_err_set(err, SECUP_E_LIMIT_ITEMS, "%s: %llu entries (at most %d)", what,
                             (unsigned long long)n, MAX_HDR_ENTRIES);
    for (uint64_t i = 0; i < n; i++) {
        struct secup_cbor_item key;
        rc = secup_cbor_next(r, &key, err);
        if (rc != SECUP_OK)
            return rc;
        if (key.type == SECUP_CBOR_TSTR) {
            /* Text labels are private-use; nothing secup acts on. */
            rc = secup_cbor_skip(r, NULL, err);
            if (rc != SECUP_OK)
                return rc;
            continue;
        }
        if ((key.type != SECUP_CBOR_UINT && key.type != SECUP_CBOR_NINT) ||
            key.u > (uint64_t)INT64_MAX)
            return secup_err_set(err, SECUP_E_TYPE, "%s: label at offset %zu is a %s", what,
                                 key.offset, secup_cbor_type_name(key.type));
        int64_t label = key.type == SECUP_CBOR_UINT ? (int64_t)key.u : -1 - (int64_t)key.u;
        if (hdr_has_label(h, label))
            return secup_err_set(err, SECUP_E_DUPLICATE, "%s: label %lld appears twice", what,
                                 (long long)label);
        h->labels[h->n_labels++] = label;
        switch (label) {
        case SECUP_HDR_ALG:
            h->has_alg = true;
            rc = secup_cbor_read_int(r, &h->alg, "alg", err);
            if (rc == SECUP_E_TYPE)
                return secup_err_set(err, SECUP_E_UNSUPPORTED,
                                     "%s: only integer COSE algorithms are supported", what);
            break;
        case SECUP_HDR_CRIT:
            return secup_err_set(err, SECUP_E_UNSUPPORTED,
                                 "%s: critical header parameters are not supported", what);
        case SECUP_HDR_PARTIAL_IV:
            return secup_err_set(err, SECUP_E_UNSUPPORTED, "%s: Partial IV is not supported",
                                 what);
        case SECUP_HDR_KID:
            h->has_kid = true;
            rc = secup_cbor_read_bstr(r, &h->kid, "kid", err);
            if (rc == SECUP_OK && h->kid.len > SECUP_MAX_KID)
                return secup_err_set(err, SECUP_E_LIMIT_BYTES, "%s: kid of %zu bytes (at most %d)",
                                     what, h->kid.len, SECUP_MAX_KID);
            break;
        case SECUP_HDR_IV:
            h->has_iv = true;
            rc = secup_cbor_read_bstr(r, &h->iv, "IV", err);
            break;
        case SECUP_HDR_EPHEMERAL_KEY:
            if (!recipient) {
                rc = secup_cbor_skip(r, NULL, err);
                break;
            }
            h->has_eph = true;
            rc = secup_cbor_skip(r, &h->eph, err);
            break;
        default:
            rc = secup_cbor_skip(r, NULL, err);
            break;
        }
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "%s", what);
            return rc;
        }
    }
    return SECUP_OK;
}

/* A protected header: bstr holding either nothing or exactly one map. */
static secup_rc read_protected(struct secup_cbor_reader *r, struct secup_bytes *content,
                               struct hdr *h, bool recipient, const char *what,
                               struct secup_err *err)
{
    memset(h, 0, sizeof(*h));
    secup_rc rc = secup_cbor_read_bstr(r, content, what, err);
    if (rc != SECUP_OK)
        return rc;
    if (content->len == 0)
        return SECUP_OK;
    rc = secup_cbor_check_item(*content, ENC_MAX_DEPTH, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s", what);
        return rc;
    }
    struct secup_cbor_reader in;
    secup_cbor_reader_init(&in, *content, ENC_MAX_DEPTH);
    return read_hdr(&in, h, recipient, what, err);
}

/* RFC 9052 section 3: a label must not be both protected and unprotected. */
static secup_rc merge_hdrs(const struct hdr *prot, const struct hdr *unprot, const char *what,
                           struct secup_err *err)
{
    for (uint32_t i = 0; i < prot->n_labels; i++) {
        if (hdr_has_label(unprot, prot->labels[i]))
            return secup_err_set(err, SECUP_E_DUPLICATE,
                                 "%s: label %lld is both protected and unprotected", what,
                                 (long long)prot->labels[i]);
    }
    return SECUP_OK;
}

/* Only P-256 (EC2, x and y) and X25519 (OKP, x) ephemeral keys, with 32-byte coordinates. */
static secup_rc check_key_shape(struct secup_enc_recipient *rcp, int64_t kty, int64_t crv,
                                bool has_y, const char *what, struct secup_err *err)
{
    if (kty == SECUP_COSE_KTY_EC2 && crv == SECUP_COSE_CRV_P256) {
        rcp->eph_type = SECUP_KEY_P256;
        if (!has_y)
            return secup_err_set(err, SECUP_E_MISSING, "%s: P-256 key without y", what);
        if (rcp->eph_y.len != SECUP_EC_COORD_LEN)
            return secup_err_set(err, SECUP_E_VALUE, "%s: y of %zu bytes", what, rcp->eph_y.len);
    } else if (kty == SECUP_COSE_KTY_OKP && crv == SECUP_COSE_CRV_X25519) {
        rcp->eph_type = SECUP_KEY_X25519;
        if (has_y)
            return secup_err_set(err, SECUP_E_VALUE, "%s: X25519 key with a y coordinate", what);
    } else if (kty == 0 || crv == 0) {
        return secup_err_set(err, SECUP_E_MISSING, "%s: kty or crv missing", what);
    } else {
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "%s: kty %lld crv %lld (P-256 or X25519 expected)", what,
                             (long long)kty, (long long)crv);
    }
    if (rcp->eph_x.len != SECUP_EC_COORD_LEN)
        return secup_err_set(err, SECUP_E_VALUE, "%s: x of %zu bytes", what, rcp->eph_x.len);
    return SECUP_OK;
}

static secup_rc read_cose_key(struct secup_enc_recipient *rcp, struct secup_bytes raw,
                              struct secup_err *err)
{
    struct secup_cbor_reader r;
    secup_cbor_reader_init(&r, raw, ENC_MAX_DEPTH);
    uint64_t n = 0;
    const char *what = "ephemeral COSE_Key";
    secup_rc rc = secup_cbor_read_map(&r, &n, what, err);
    if (rc != SECUP_OK)
        return rc;
    if (n > MAX_HDR_ENTRIES)
        return secup_err_set(err, SECUP_E_LIMIT_ITEMS, "%s: %llu entries", what,
                             (unsigned long long)n);
    int64_t seen[MAX_HDR_ENTRIES];
    int64_t kty = 0;
    int64_t crv = 0;
    bool has_y = false;
    for (uint64_t i = 0; i < n; i++) {
        int64_t label = 0;
        rc = secup_cbor_read_int(&r, &label, "COSE_Key label", err);
        if (rc != SECUP_OK)
            return rc;
        for (uint64_t j = 0; j < i; j++) {
            if (seen[j] == label)
                return secup_err_set(err, SECUP_E_DUPLICATE, "%s: label %lld appears twice",
                                     what, (long long)label);
        }
        seen[i] = label;
        struct secup_cbor_item it;
        switch (label) {
        case SECUP_COSE_KEY_KTY:
            rc = secup_cbor_read_int(&r, &kty, "COSE_Key kty", err);
            break;
        case SECUP_COSE_KEY_CRV:
            rc = secup_cbor_read_int(&r, &crv, "COSE_Key crv", err);
            break;
        case SECUP_COSE_KEY_X:
            rc = secup_cbor_read_bstr(&r, &rcp->eph_x, "COSE_Key x", err);
            break;
        case SECUP_COSE_KEY_Y:
            rc = secup_cbor_peek(&r, &it, err);
            if (rc == SECUP_OK && (it.type == SECUP_CBOR_TRUE || it.type == SECUP_CBOR_FALSE))
                return secup_err_set(err, SECUP_E_UNSUPPORTED,
                                     "%s: compressed points are not supported", what);
            has_y = true;
            if (rc == SECUP_OK)
                rc = secup_cbor_read_bstr(&r, &rcp->eph_y, "COSE_Key y", err);
            break;
        case SECUP_COSE_KEY_D:
            return secup_err_set(err, SECUP_E_VALUE, "%s carries a private key", what);
        default:
            rc = secup_cbor_skip(&r, NULL, err);
            break;
        }
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "%s", what);
            return rc;
        }
    }
    return check_key_shape(rcp, kty, crv, has_y, what, err);
}

static secup_rc read_recipient(struct secup_cbor_reader *r, struct secup_enc_recipient *rcp,
                               size_t cek_len, struct secup_err *err)
{
    memset(rcp, 0, sizeof(*rcp));
    uint64_t n = 0;
    secup_rc rc = secup_cbor_read_array(r, &n, "COSE_recipient", err);
    if (rc != SECUP_OK)
        return rc;
    if (n == 4)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "COSE_recipient with nested recipients is not supported");
    if (n != 3)
        return secup_err_set(err, SECUP_E_VALUE, "COSE_recipient has %llu elements, expected 3",
                             (unsigned long long)n);
    struct hdr prot;
    struct hdr unprot;
    rc = read_protected(r, &rcp->protected_hdr, &prot, true, "recipient protected header", err);
    if (rc != SECUP_OK)
        return rc;
    rc = read_hdr(r, &unprot, true, "recipient unprotected header", err);
    if (rc != SECUP_OK)
        return rc;
    rc = merge_hdrs(&prot, &unprot, "recipient header", err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_cbor_item it;
    rc = secup_cbor_peek(r, &it, err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type == SECUP_CBOR_NULL)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "recipient without wrapped key (direct key agreement)");
    rc = secup_cbor_read_bstr(r, &rcp->wrapped, "wrapped key", err);
    if (rc != SECUP_OK)
        return rc;

    if (!prot.has_alg && !unprot.has_alg)
        return secup_err_set(err, SECUP_E_MISSING, "recipient has no algorithm");
    rcp->alg = prot.has_alg ? prot.alg : unprot.alg;
    rcp->has_kid = prot.has_kid || unprot.has_kid;
    rcp->kid = prot.has_kid ? prot.kid : unprot.kid;
    switch (rcp->alg) {
    case SECUP_COSE_ALG_A128KW:
    case SECUP_COSE_ALG_A256KW:
        /* RFC 9052 section 8.5.2: key wrap recipients have an empty protected header. */
        if (rcp->protected_hdr.len != 0)
            return secup_err_set(err, SECUP_E_VALUE,
                                 "AES-KW recipient with a non-empty protected header");
        break;
    case SECUP_COSE_ALG_ECDH_ES_A128KW:
        if (!unprot.has_eph)
            return secup_err_set(err, SECUP_E_MISSING,
                                 "ECDH-ES recipient without ephemeral key (label -1)");
        rc = read_cose_key(rcp, unprot.eph, err);
        if (rc != SECUP_OK)
            return rc;
        break;
    default:
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "key distribution algorithm %lld (A128KW, A256KW or ECDH-ES+A128KW)",
                             (long long)rcp->alg);
    }
    if (rcp->wrapped.len != cek_len + 8)
        return secup_err_set(err, SECUP_E_VALUE, "wrapped key of %zu bytes, expected %zu",
                             rcp->wrapped.len, cek_len + 8);
    return SECUP_OK;
}

/* The content layer's algorithm rules (SUIT.md 2.9; RFC 9459 section 4 for AES-CTR). */
static secup_rc check_content_layer(struct secup_enc_info *info, const struct hdr *prot,
                                    const struct hdr *unprot, struct secup_err *err)
{
    if (!prot->has_alg && !unprot->has_alg)
        return secup_err_set(err, SECUP_E_MISSING, "no content algorithm");
    info->alg = prot->has_alg ? prot->alg : unprot->alg;
    switch (info->alg) {
    case SECUP_COSE_ALG_A128GCM:
    case SECUP_COSE_ALG_CHACHA20_POLY1305:
        /* The AAD protects the algorithm only if it is in the protected header. */
        if (!prot->has_alg)
            return secup_err_set(err, SECUP_E_VALUE,
                                 "AEAD algorithm %lld must be in the protected header",
                                 (long long)info->alg);
        break;
    case SECUP_COSE_ALG_A128CTR:
    case SECUP_COSE_ALG_A256CTR:
        /* RFC 9459 section 4: with AES-CTR the protected header MUST be empty. */
        if (info->protected_hdr.len != 0)
            return secup_err_set(err, SECUP_E_VALUE,
                                 "AES-CTR requires an empty protected header (RFC 9459)");
        break;
    default:
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "content algorithm %lld (A128GCM, A128CTR, A256CTR or "
                             "ChaCha20/Poly1305)",
                             (long long)info->alg);
    }
    if (!prot->has_iv && !unprot->has_iv)
        return secup_err_set(err, SECUP_E_MISSING, "no IV (label 5)");
    info->iv = prot->has_iv ? prot->iv : unprot->iv;
    if (info->iv.len != secup_crypto_iv_len(info->alg))
        return secup_err_set(err, SECUP_E_VALUE, "IV of %zu bytes, %s needs %zu", info->iv.len,
                             secup_enc_alg_name(info->alg), secup_crypto_iv_len(info->alg));
    return SECUP_OK;
}

static secup_rc decode_info(struct secup_enc_info *info, struct secup_bytes in,
                            struct secup_err *err)
{
    if (in.len > SECUP_MAX_ENC_INFO)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "%zu bytes (at most %d)", in.len,
                             SECUP_MAX_ENC_INFO);
    secup_rc rc = secup_cbor_check_item(in, ENC_MAX_DEPTH, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_cbor_reader r;
    secup_cbor_reader_init(&r, in, ENC_MAX_DEPTH);
    struct secup_cbor_item it;
    rc = secup_cbor_next(&r, &it, err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type != SECUP_CBOR_TAG)
        return secup_err_set(err, SECUP_E_TYPE, "expected COSE_Encrypt tag 96, found %s",
                             secup_cbor_type_name(it.type));
    if (it.u != SECUP_COSE_TAG_ENCRYPT)
        return secup_err_set(err, SECUP_E_VALUE, "tag %llu, expected COSE_Encrypt (96)",
                             (unsigned long long)it.u);
    uint64_t n = 0;
    rc = secup_cbor_read_array(&r, &n, "COSE_Encrypt", err);
    if (rc != SECUP_OK)
        return rc;
    if (n != 4)
        return secup_err_set(err, SECUP_E_VALUE, "COSE_Encrypt has %llu elements, expected 4",
                             (unsigned long long)n);
    struct hdr prot;
    struct hdr unprot;
    rc = read_protected(&r, &info->protected_hdr, &prot, false, "protected header", err);
    if (rc != SECUP_OK)
        return rc;
    rc = read_hdr(&r, &unprot, false, "unprotected header", err);
    if (rc != SECUP_OK)
        return rc;
    rc = merge_hdrs(&prot, &unprot, "header", err);
    if (rc != SECUP_OK)
        return rc;
    rc = secup_cbor_peek(&r, &it, err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type != SECUP_CBOR_NULL)
        return secup_err_set(err, it.type == SECUP_CBOR_BSTR ? SECUP_E_UNSUPPORTED : SECUP_E_TYPE,
                             "ciphertext must be nil (detached), found %s",
                             secup_cbor_type_name(it.type));
    (void)secup_cbor_next(&r, &it, err);

    rc = check_content_layer(info, &prot, &unprot, err);
    if (rc != SECUP_OK)
        return rc;

    rc = secup_cbor_read_array(&r, &n, "recipients", err);
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(err, SECUP_E_MISSING, "no recipients");
    if (n > SECUP_MAX_RECIPIENTS)
        return secup_err_set(err, SECUP_E_LIMIT_ITEMS, "%llu recipients (at most %d)",
                             (unsigned long long)n, SECUP_MAX_RECIPIENTS);
    size_t cek_len = secup_crypto_key_len(info->alg);
    for (uint64_t i = 0; i < n; i++) {
        rc = read_recipient(&r, &info->recipients[i], cek_len, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "recipient %llu", (unsigned long long)i);
            return rc;
        }
        info->n_recipients = (uint32_t)(i + 1);
    }
    return SECUP_OK;
}

secup_rc secup_enc_info_decode(struct secup_enc_info *info, struct secup_bytes in,
                               struct secup_err *err)
{
    if (!info)
        return secup_err_set(err, SECUP_E_ARG, "no output");
    memset(info, 0, sizeof(*info));
    secup_rc rc = decode_info(info, in, err);
    if (rc != SECUP_OK) {
        memset(info, 0, sizeof(*info));
        secup_err_prefix(err, "encryption info");
    }
    return rc;
}
