/* Field helpers shared by the signed protocol messages. */
#include <string.h>

#include "cose/cose.h"
#include "msg/fields.h"

secup_rc secup_msg_seen_once(uint32_t *seen, int64_t key, const char *what,
                             struct secup_err *err)
{
    if (key < 0 || key > 31)
        return secup_err_set(err, SECUP_E_UNKNOWN_KEY, "%s: key %lld is not defined", what,
                             (long long)key);
    if (*seen & (UINT32_C(1) << key))
        return secup_err_set(err, SECUP_E_DUPLICATE, "%s: key %lld twice", what, (long long)key);
    *seen |= UINT32_C(1) << key;
    return SECUP_OK;
}

secup_rc secup_msg_read_digest(struct secup_cbor_reader *r, uint8_t out[32], const char *what,
                               struct secup_err *err)
{
    uint64_t m = 0;
    int64_t alg = 0;
    struct secup_bytes d;
    secup_rc rc = secup_cbor_read_array(r, &m, what, err);
    if (rc == SECUP_OK && m != 2)
        rc = secup_err_set(err, SECUP_E_VALUE, "%s is not [alg, bytes]", what);
    if (rc == SECUP_OK)
        rc = secup_cbor_read_int(r, &alg, "digest algorithm", err);
    if (rc == SECUP_OK)
        rc = secup_cbor_read_bstr(r, &d, "digest", err);
    if (rc == SECUP_OK && (alg != -16 || d.len != 32))
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "%s is not SHA-256", what);
    if (rc == SECUP_OK)
        memcpy(out, d.ptr, 32);
    return rc;
}

void secup_msg_put_digest(struct secup_cbor_writer *w, const uint8_t digest[32])
{
    secup_cbor_put_array(w, 2);
    secup_cbor_put_int(w, -16);
    secup_cbor_put_bstr(w, secup_bytes_of(digest, 32));
}

secup_rc secup_msg_verify_attached(struct secup_bytes in, size_t max, const char *what,
                                   const struct secup_key *key, struct secup_bytes *payload,
                                   struct secup_bytes *kid, struct secup_err *err)
{
    if (in.len > max)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "signed %s of %zu bytes", what, in.len);
    struct secup_auth_block b;
    secup_rc rc = secup_cose_sign1_parse(in, &b, payload, kid, err);
    if (rc == SECUP_OK)
        rc = secup_cose_verify_block(&b, *payload, key, err);
    return rc;
}

secup_rc secup_msg_peek_kid(struct secup_bytes in, size_t max, const char *what,
                            struct secup_bytes *kid, struct secup_err *err)
{
    struct secup_auth_block b;
    struct secup_bytes payload;
    *kid = secup_bytes_of(NULL, 0);
    if (in.len > max)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "signed %s of %zu bytes", what, in.len);
    return secup_cose_sign1_parse(in, &b, &payload, kid, err);
}
