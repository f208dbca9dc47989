/* The secup-notification message (PROTOCOL.md): encode, decode, sign, verify. */
#include <string.h>

#include "cbor/codec.h"
#include "cose/cose.h"
#include "msg/fields.h"
#include "secup/notification.h"

secup_rc secup_notification_encode(const struct secup_notification *n, uint8_t *buf, size_t cap,
                                   size_t *len, struct secup_err *err)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_map(&w, 10);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_uint(&w, 2);
    secup_cbor_put_tstr(&w, n->server);
    secup_cbor_put_uint(&w, 3);
    secup_cbor_put_uint(&w, n->counter);
    secup_cbor_put_uint(&w, 4);
    secup_cbor_put_uint(&w, n->time);
    secup_cbor_put_uint(&w, 5);
    secup_cbor_put_bstr(&w, secup_bytes_of(n->vendor_id, 16));
    secup_cbor_put_uint(&w, 6);
    secup_cbor_put_bstr(&w, secup_bytes_of(n->class_id, 16));
    secup_cbor_put_uint(&w, 7);
    secup_cbor_put_bstr(&w, n->component);
    secup_cbor_put_uint(&w, 8);
    secup_cbor_put_uint(&w, n->seq);
    secup_cbor_put_uint(&w, 9);
    secup_cbor_put_tstr(&w, n->uri);
    secup_cbor_put_uint(&w, 10);
    secup_msg_put_digest(&w, n->digest);
    *len = w.len;
    return secup_cbor_writer_finish(&w, err);
}

static secup_rc bounded(secup_rc rc, struct secup_bytes b, const char *what,
                        struct secup_err *err)
{
    if (rc == SECUP_OK && b.len > SECUP_NOTIFICATION_MAX_TEXT)
        return secup_err_set(err, SECUP_E_LIMIT_STRING, "%s: %zu bytes", what, b.len);
    return rc;
}

static secup_rc id16(struct secup_cbor_reader *r, uint8_t out[16], const char *what,
                     struct secup_err *err)
{
    struct secup_bytes b;
    secup_rc rc = secup_cbor_read_bstr(r, &b, what, err);
    if (rc == SECUP_OK && b.len != 16)
        rc = secup_err_set(err, SECUP_E_VALUE, "%s is %zu bytes, not 16", what, b.len);
    if (rc == SECUP_OK)
        memcpy(out, b.ptr, 16);
    return rc;
}

secup_rc secup_notification_decode(struct secup_notification *n, struct secup_bytes in,
                                   struct secup_err *err)
{
    memset(n, 0, sizeof(*n));
    struct secup_cbor_reader r;
    secup_cbor_reader_init(&r, in, 4);
    uint64_t count = 0;
    uint32_t seen = 0;
    secup_rc rc = secup_cbor_read_map(&r, &count, "notification", err);
    if (rc == SECUP_OK && count > 10)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "notification with %llu entries",
                           (unsigned long long)count);
    for (uint64_t i = 0; rc == SECUP_OK && i < count; i++) {
        int64_t key = 0;
        rc = secup_cbor_read_int(&r, &key, "notification key", err);
        if (rc == SECUP_OK)
            rc = secup_msg_seen_once(&seen, key, "notification", err);
        if (rc != SECUP_OK)
            break;
        switch (key) {
        case 1: {
            uint64_t v = 0;
            rc = secup_cbor_read_uint(&r, &v, "format version", err);
            if (rc == SECUP_OK && v != 1)
                rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "notification format %llu",
                                   (unsigned long long)v);
            break;
        }
        case 2:
            rc = bounded(secup_cbor_read_tstr(&r, &n->server, "server id", err), n->server,
                         "server id", err);
            break;
        case 3: rc = secup_cbor_read_uint(&r, &n->counter, "counter", err); break;
        case 4: rc = secup_cbor_read_uint(&r, &n->time, "time", err); break;
        case 5: rc = id16(&r, n->vendor_id, "vendor id", err); break;
        case 6: rc = id16(&r, n->class_id, "class id", err); break;
        case 7:
            rc = bounded(secup_cbor_read_bstr(&r, &n->component, "component", err), n->component,
                         "component", err);
            break;
        case 8: rc = secup_cbor_read_uint(&r, &n->seq, "sequence number", err); break;
        case 9:
            rc = bounded(secup_cbor_read_tstr(&r, &n->uri, "manifest uri", err), n->uri,
                         "manifest uri", err);
            break;
        case 10: rc = secup_msg_read_digest(&r, n->digest, "manifest digest", err); break;
        default:
            rc = secup_err_set(err, SECUP_E_UNKNOWN_KEY, "notification: key %lld is not defined",
                               (long long)key);
        }
    }
    if (rc == SECUP_OK && seen != 0x7fe)
        rc = secup_err_set(err, SECUP_E_MISSING, "notification lacks a required field");
    if (rc == SECUP_OK && !secup_cbor_at_end(&r))
        rc = secup_err_set(err, SECUP_E_TRAILING, "trailing bytes after the notification");
    if (rc != SECUP_OK)
        memset(n, 0, sizeof(*n));
    return rc;
}

secup_rc secup_notification_sign(const struct secup_notification *n, const struct secup_key *key,
                                 uint8_t *buf, size_t cap, size_t *len, struct secup_err *err)
{
    uint8_t payload[SECUP_NOTIFICATION_MAX_SIZE];
    size_t plen = 0;
    secup_rc rc = secup_notification_encode(n, payload, sizeof(payload), &plen, err);
    if (rc != SECUP_OK)
        return rc;
    return secup_cose_sign1_attached(key, secup_bytes_of(payload, plen), n->server, buf, cap,
                                     len, err);
}

secup_rc secup_notification_peek_server(struct secup_bytes signed_msg, struct secup_bytes *server,
                                       struct secup_err *err)
{
    return secup_msg_peek_kid(signed_msg, SECUP_NOTIFICATION_MAX_SIZE + 256, "notification", server,
                              err);
}

secup_rc secup_notification_verify(struct secup_bytes signed_msg, const struct secup_key *key,
                                   struct secup_notification *n, struct secup_err *err)
{
    struct secup_bytes payload;
    struct secup_bytes kid;
    memset(n, 0, sizeof(*n));
    secup_rc rc = secup_msg_verify_attached(signed_msg, SECUP_NOTIFICATION_MAX_SIZE + 256,
                                            "notification", key, &payload, &kid, err);
    if (rc == SECUP_OK)
        rc = secup_notification_decode(n, payload, err);
    if (rc == SECUP_OK && !secup_bytes_equal(kid, n->server)) {
        memset(n, 0, sizeof(*n));
        rc = secup_err_set(err, SECUP_E_VALUE, "the notification's kid and its server id differ");
    }
    return rc;
}
