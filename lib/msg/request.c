/* The secup-request message (docs/api.md, "POST /v1/requests"): encode, decode, sign,
 * verify, and the tracker's acceptance check (audience, order, freshness). */
#include <string.h>

#include "cbor/codec.h"
#include "cose/cose.h"
#include "msg/fields.h"
#include "secup/request.h"

enum {
    K_FORMAT = 1,
    K_REQUESTER = 2,
    K_TRACKER = 3,
    K_COUNTER = 4,
    K_TIME = 5,
    K_EXPIRES = 6,
    K_URI = 7,
    K_DIGEST = 8,
};

#define ALL_KEYS 0x1feu /* keys 1..8, every one required */

static bool text_ok(struct secup_bytes b)
{
    return b.len > 0 && b.len <= SECUP_REQUEST_MAX_TEXT && b.ptr != NULL;
}

secup_rc secup_request_encode(const struct secup_request *r, uint8_t *buf, size_t cap,
                              size_t *len, struct secup_err *err)
{
    *len = 0;
    if (!text_ok(r->requester) || !text_ok(r->tracker) || !text_ok(r->uri))
        return secup_err_set(err, SECUP_E_ARG,
                             "a request needs requester id, tracker id and URI of 1 to %d bytes",
                             SECUP_REQUEST_MAX_TEXT);
    if (r->counter == 0)
        return secup_err_set(err, SECUP_E_ARG, "a request counter starts at 1");
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_map(&w, 8);
    secup_cbor_put_uint(&w, K_FORMAT);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_uint(&w, K_REQUESTER);
    secup_cbor_put_tstr(&w, r->requester);
    secup_cbor_put_uint(&w, K_TRACKER);
    secup_cbor_put_tstr(&w, r->tracker);
    secup_cbor_put_uint(&w, K_COUNTER);
    secup_cbor_put_uint(&w, r->counter);
    secup_cbor_put_uint(&w, K_TIME);
    secup_cbor_put_uint(&w, r->time);
    secup_cbor_put_uint(&w, K_EXPIRES);
    secup_cbor_put_uint(&w, r->expires);
    secup_cbor_put_uint(&w, K_URI);
    secup_cbor_put_tstr(&w, r->uri);
    secup_cbor_put_uint(&w, K_DIGEST);
    secup_msg_put_digest(&w, r->digest);
    *len = w.len;
    return secup_cbor_writer_finish(&w, err);
}

static secup_rc text(struct secup_cbor_reader *rd, struct secup_bytes *out, const char *what,
                     struct secup_err *err)
{
    secup_rc rc = secup_cbor_read_tstr(rd, out, what, err);
    if (rc == SECUP_OK && out->len > SECUP_REQUEST_MAX_TEXT)
        rc = secup_err_set(err, SECUP_E_LIMIT_STRING, "request %s: %zu bytes", what, out->len);
    if (rc == SECUP_OK && out->len == 0)
        rc = secup_err_set(err, SECUP_E_VALUE, "request %s is empty", what);
    return rc;
}

secup_rc secup_request_decode(struct secup_request *r, struct secup_bytes in,
                              struct secup_err *err)
{
    memset(r, 0, sizeof(*r));
    struct secup_cbor_reader rd;
    secup_cbor_reader_init(&rd, in, 4);
    uint64_t count = 0;
    uint32_t seen = 0;
    secup_rc rc = secup_cbor_read_map(&rd, &count, "request", err);
    if (rc == SECUP_OK && count > 8)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "request with %llu entries",
                           (unsigned long long)count);
    for (uint64_t i = 0; rc == SECUP_OK && i < count; i++) {
        int64_t key = 0;
        rc = secup_cbor_read_int(&rd, &key, "request key", err);
        if (rc == SECUP_OK && (key < K_FORMAT || key > K_DIGEST))
            rc = secup_err_set(err, SECUP_E_UNKNOWN_KEY, "request: key %lld is not defined",
                               (long long)key);
        if (rc == SECUP_OK)
            rc = secup_msg_seen_once(&seen, key, "request", err);
        if (rc != SECUP_OK)
            break;
        switch (key) {
        case K_FORMAT: {
            uint64_t v = 0;
            rc = secup_cbor_read_uint(&rd, &v, "format version", err);
            if (rc == SECUP_OK && v != 1)
                rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "request format %llu",
                                   (unsigned long long)v);
            break;
        }
        case K_REQUESTER: rc = text(&rd, &r->requester, "requester id", err); break;
        case K_TRACKER: rc = text(&rd, &r->tracker, "tracker id", err); break;
        case K_COUNTER:
            rc = secup_cbor_read_uint(&rd, &r->counter, "counter", err);
            if (rc == SECUP_OK && r->counter == 0)
                rc = secup_err_set(err, SECUP_E_VALUE, "request counter 0 (counters start at 1)");
            break;
        case K_TIME: rc = secup_cbor_read_uint(&rd, &r->time, "time", err); break;
        case K_EXPIRES: rc = secup_cbor_read_uint(&rd, &r->expires, "expiry", err); break;
        case K_URI: rc = text(&rd, &r->uri, "manifest uri", err); break;
        default: rc = secup_msg_read_digest(&rd, r->digest, "manifest digest", err); break;
        }
    }
    if (rc == SECUP_OK && seen != ALL_KEYS)
        rc = secup_err_set(err, SECUP_E_MISSING, "request lacks a required field");
    if (rc == SECUP_OK && !secup_cbor_at_end(&rd))
        rc = secup_err_set(err, SECUP_E_TRAILING, "trailing bytes after the request");
    if (rc != SECUP_OK)
        memset(r, 0, sizeof(*r));
    return rc;
}

secup_rc secup_request_sign(const struct secup_request *r, const struct secup_key *key,
                            uint8_t *buf, size_t cap, size_t *len, struct secup_err *err)
{
    uint8_t payload[SECUP_REQUEST_MAX_SIZE];
    size_t plen = 0;
    secup_rc rc = secup_request_encode(r, payload, sizeof(payload), &plen, err);
    if (rc == SECUP_E_BUF_SMALL)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "request payload over %d bytes",
                             SECUP_REQUEST_MAX_SIZE);
    if (rc != SECUP_OK)
        return rc;
    return secup_cose_sign1_attached(key, secup_bytes_of(payload, plen), r->requester, buf, cap,
                                     len, err);
}

secup_rc secup_request_peek_requester(struct secup_bytes signed_msg,
                                      struct secup_bytes *requester, struct secup_err *err)
{
    return secup_msg_peek_kid(signed_msg, SECUP_REQUEST_MAX_SIZE + 256, "request", requester, err);
}

secup_rc secup_request_verify(struct secup_bytes signed_msg, const struct secup_key *key,
                              struct secup_request *r, struct secup_err *err)
{
    struct secup_bytes payload, kid;
    memset(r, 0, sizeof(*r));
    secup_rc rc = secup_msg_verify_attached(signed_msg, SECUP_REQUEST_MAX_SIZE + 256, "request",
                                            key, &payload, &kid, err);
    if (rc == SECUP_OK)
        rc = secup_request_decode(r, payload, err);
    if (rc == SECUP_OK && !secup_bytes_equal(kid, r->requester)) {
        memset(r, 0, sizeof(*r));
        rc = secup_err_set(err, SECUP_E_VALUE, "the request's kid and its requester id differ");
    }
    return rc;
}

secup_rc secup_request_accept(const struct secup_request *r, const char *my_id, uint64_t now,
                              uint64_t last_counter, uint64_t max_clock_skew,
                              struct secup_err *err)
{
    if (r == NULL || my_id == NULL)
        return secup_err_set(err, SECUP_E_ARG, "request acceptance without a request or an id");
    if (!secup_bytes_equal(r->tracker, secup_bytes_of(my_id, strlen(my_id))))
        return secup_err_set(err, SECUP_E_AUDIENCE, "request %llu is for tracker '%.*s', not '%s'",
                             (unsigned long long)r->counter, (int)(r->tracker.len > 64 ? 64 : r->tracker.len),
                             (const char *)r->tracker.ptr, my_id);
    if (r->counter <= last_counter)
        return secup_err_set(err, SECUP_E_REPLAY,
                             "request counter %llu is not greater than the last %llu",
                             (unsigned long long)r->counter, (unsigned long long)last_counter);
    if (r->expires <= r->time)
        return secup_err_set(err, SECUP_E_EXPIRED, "request expires (%llu) before it is issued (%llu)",
                             (unsigned long long)r->expires, (unsigned long long)r->time);
    if (r->time > now && r->time - now > max_clock_skew)
        return secup_err_set(err, SECUP_E_EXPIRED,
                             "request issued at %llu, %llu s ahead of the clock (skew %llu)",
                             (unsigned long long)r->time, (unsigned long long)(r->time - now),
                             (unsigned long long)max_clock_skew);
    if (now > r->expires)
        return secup_err_set(err, SECUP_E_EXPIRED, "request expired at %llu (now %llu)",
                             (unsigned long long)r->expires, (unsigned long long)now);
    return SECUP_OK;
}
