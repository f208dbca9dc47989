/* The secup-status message (PROTOCOL.md): encode, decode, sign, verify. */
#include <string.h>

#include "cbor/codec.h"
#include "cose/cose.h"
#include "msg/fields.h"
#include "secup/status.h"

static void put_component(struct secup_cbor_writer *w, const struct secup_status_component *c)
{
    size_t n = 4 + (c->version.len ? 1 : 0) + (c->has_floor ? 1 : 0);
    secup_cbor_put_map(w, n);
    secup_cbor_put_uint(w, 1);
    secup_cbor_put_bstr(w, c->id);
    secup_cbor_put_uint(w, 2);
    secup_cbor_put_uint(w, c->seq);
    if (c->version.len) {
        secup_cbor_put_uint(w, 3);
        secup_cbor_put_tstr(w, c->version);
    }
    secup_cbor_put_uint(w, 4);
    secup_cbor_put_uint(w, c->slot);
    secup_cbor_put_uint(w, 5);
    secup_msg_put_digest(w, c->digest);
    if (c->has_floor) {
        secup_cbor_put_uint(w, 6);
        secup_cbor_put_uint(w, c->floor);
    }
}

secup_rc secup_status_encode(const struct secup_status *st, uint8_t *buf, size_t cap, size_t *len,
                             struct secup_err *err)
{
    if (st->n_components > SECUP_STATUS_MAX_COMPONENTS)
        return secup_err_set(err, SECUP_E_LIMIT_COMPONENTS, "status with %u components",
                             st->n_components);
    if (st->n_aggregate > SECUP_STATUS_MAX_AGGREGATE || (st->n_aggregate && !st->has_aggregate))
        return secup_err_set(err, SECUP_E_ARG, "status with %u aggregated reports",
                             st->n_aggregate);
    for (uint32_t i = 0; i < st->n_aggregate; i++)
        if (st->aggregate[i].len == 0 || st->aggregate[i].len > SECUP_STATUS_MAX_SIGNED_SIZE)
            return secup_err_set(err, SECUP_E_ARG, "aggregated report %u of %zu bytes", i,
                                 st->aggregate[i].len);
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_map(&w, 6 + (st->has_last ? 1 : 0) + (st->has_aggregate ? 1 : 0) +
                               (st->has_last_command ? 1 : 0));
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_uint(&w, 2);
    secup_cbor_put_tstr(&w, st->reporter);
    secup_cbor_put_uint(&w, 3);
    secup_cbor_put_uint(&w, st->counter);
    secup_cbor_put_uint(&w, 4);
    secup_cbor_put_uint(&w, st->time);
    secup_cbor_put_uint(&w, 5);
    secup_cbor_put_array(&w, st->n_components);
    for (uint32_t i = 0; i < st->n_components; i++)
        put_component(&w, &st->components[i]);
    if (st->has_last) {
        secup_cbor_put_uint(&w, 6);
        secup_cbor_put_map(&w, st->last_reason.len ? 4 : 3);
        secup_cbor_put_uint(&w, 1);
        secup_cbor_put_bstr(&w, st->last_id);
        secup_cbor_put_uint(&w, 2);
        secup_cbor_put_tstr(&w, st->last_code);
        if (st->last_reason.len) {
            secup_cbor_put_uint(&w, 3);
            secup_cbor_put_tstr(&w, st->last_reason);
        }
        secup_cbor_put_uint(&w, 4);
        secup_cbor_put_uint(&w, st->last_time);
    }
    secup_cbor_put_uint(&w, 7);
    secup_cbor_put_bool(&w, st->safe_mode);
    if (st->has_aggregate) {
        secup_cbor_put_uint(&w, 8);
        secup_cbor_put_array(&w, st->n_aggregate);
        for (uint32_t i = 0; i < st->n_aggregate; i++)
            secup_cbor_put_bstr(&w, st->aggregate[i]);
    }
    if (st->has_last_command) {
        secup_cbor_put_uint(&w, 9);
        secup_cbor_put_bstr(&w, secup_bytes_of(st->last_command, sizeof(st->last_command)));
    }
    *len = w.len;
    return secup_cbor_writer_finish(&w, err);
}

static secup_rc text(struct secup_cbor_reader *r, struct secup_bytes *out, const char *what,
                     struct secup_err *err)
{
    secup_rc rc = secup_cbor_read_tstr(r, out, what, err);
    if (rc == SECUP_OK && out->len > SECUP_STATUS_MAX_TEXT)
        return secup_err_set(err, SECUP_E_LIMIT_STRING, "%s: %zu bytes", what, out->len);
    return rc;
}

static secup_rc decode_component(struct secup_cbor_reader *r, struct secup_status_component *c,
                                 struct secup_err *err)
{
    uint64_t n = 0;
    uint32_t seen = 0;
    secup_rc rc = secup_cbor_read_map(r, &n, "component status", err);
    if (rc == SECUP_OK && n > 6)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "component status with %llu entries",
                           (unsigned long long)n);
    for (uint64_t i = 0; rc == SECUP_OK && i < n; i++) {
        int64_t key = 0;
        rc = secup_cbor_read_int(r, &key, "component status key", err);
        if (rc == SECUP_OK)
            rc = secup_msg_seen_once(&seen, key, "component status", err);
        if (rc != SECUP_OK)
            break;
        switch (key) {
        case 1:
            rc = secup_cbor_read_bstr(r, &c->id, "component id", err);
            if (rc == SECUP_OK && c->id.len > SECUP_STATUS_MAX_TEXT)
                rc = secup_err_set(err, SECUP_E_LIMIT_BYTES, "component id of %zu bytes", c->id.len);
            break;
        case 2: rc = secup_cbor_read_uint(r, &c->seq, "sequence number", err); break;
        case 3: rc = text(r, &c->version, "version", err); break;
        case 4: rc = secup_cbor_read_uint(r, &c->slot, "slot", err); break;
        case 5: rc = secup_msg_read_digest(r, c->digest, "image digest", err); break;
        case 6:
            c->has_floor = true;
            rc = secup_cbor_read_uint(r, &c->floor, "floor", err);
            break;
        default:
            rc = secup_err_set(err, SECUP_E_UNKNOWN_KEY, "component status: key %lld is not defined",
                               (long long)key);
        }
    }
    uint32_t need = (1u << 1) | (1u << 2) | (1u << 4) | (1u << 5);
    if (rc == SECUP_OK && (seen & need) != need)
        rc = secup_err_set(err, SECUP_E_MISSING, "component status lacks a required field");
    return rc;
}

static secup_rc decode_last(struct secup_cbor_reader *r, struct secup_status *st,
                            struct secup_err *err)
{
    uint64_t n = 0;
    uint32_t seen = 0;
    secup_rc rc = secup_cbor_read_map(r, &n, "last result", err);
    if (rc == SECUP_OK && n > 4)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "last result with %llu entries",
                           (unsigned long long)n);
    for (uint64_t i = 0; rc == SECUP_OK && i < n; i++) {
        int64_t key = 0;
        rc = secup_cbor_read_int(r, &key, "last result key", err);
        if (rc == SECUP_OK)
            rc = secup_msg_seen_once(&seen, key, "last result", err);
        if (rc != SECUP_OK)
            break;
        switch (key) {
        case 1:
            rc = secup_cbor_read_bstr(r, &st->last_id, "last result id", err);
            if (rc == SECUP_OK && st->last_id.len > 64)
                rc = secup_err_set(err, SECUP_E_LIMIT_BYTES, "last result id of %zu bytes",
                                   st->last_id.len);
            break;
        case 2: rc = text(r, &st->last_code, "result code", err); break;
        case 3: rc = text(r, &st->last_reason, "reason", err); break;
        case 4: rc = secup_cbor_read_uint(r, &st->last_time, "result time", err); break;
        default:
            rc = secup_err_set(err, SECUP_E_UNKNOWN_KEY, "last result: key %lld is not defined",
                               (long long)key);
        }
    }
    uint32_t need = (1u << 1) | (1u << 2) | (1u << 4);
    if (rc == SECUP_OK && (seen & need) != need)
        rc = secup_err_set(err, SECUP_E_MISSING, "last result lacks a required field");
    st->has_last = rc == SECUP_OK;
    return rc;
}

static secup_rc decode_aggregate(struct secup_cbor_reader *r, struct secup_status *st,
                                 struct secup_err *err)
{
    uint64_t m = 0;
    secup_rc rc = secup_cbor_read_array(r, &m, "aggregate", err);
    if (rc == SECUP_OK && m > SECUP_STATUS_MAX_AGGREGATE)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "aggregate of %llu reports",
                           (unsigned long long)m);
    for (uint64_t k = 0; rc == SECUP_OK && k < m; k++) {
        struct secup_bytes *b = &st->aggregate[k];
        rc = secup_cbor_read_bstr(r, b, "aggregated report", err);
        if (rc == SECUP_OK && b->len > SECUP_STATUS_MAX_SIGNED_SIZE)
            rc = secup_err_set(err, SECUP_E_LIMIT_BYTES, "aggregated report %llu of %zu bytes",
                               (unsigned long long)k, b->len);
        if (rc == SECUP_OK && b->len == 0)
            rc = secup_err_set(err, SECUP_E_VALUE, "aggregated report %llu is empty",
                               (unsigned long long)k);
    }
    if (rc == SECUP_OK) {
        st->has_aggregate = true;
        st->n_aggregate = (uint32_t)m;
    }
    return rc;
}

static secup_rc decode_last_command(struct secup_cbor_reader *r, struct secup_status *st,
                                    struct secup_err *err)
{
    struct secup_bytes b;
    secup_rc rc = secup_cbor_read_bstr(r, &b, "last command id", err);
    if (rc == SECUP_OK && b.len != sizeof(st->last_command))
        rc = secup_err_set(err, SECUP_E_VALUE, "last command id is %zu bytes, not 16", b.len);
    if (rc == SECUP_OK) {
        memcpy(st->last_command, b.ptr, sizeof(st->last_command));
        st->has_last_command = true;
    }
    return rc;
}

secup_rc secup_status_decode(struct secup_status *st, struct secup_bytes in, struct secup_err *err)
{
    struct secup_cbor_reader r;
    uint64_t n = 0;
    uint32_t seen = 0;
    memset(st, 0, sizeof(*st));
    if (in.len > SECUP_STATUS_MAX_SIZE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "status of %zu bytes", in.len);
    secup_cbor_reader_init(&r, in, 8);
    secup_rc rc = secup_cbor_read_map(&r, &n, "status", err);
    if (rc == SECUP_OK && n > 9)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "status with %llu entries", (unsigned long long)n);
    for (uint64_t i = 0; rc == SECUP_OK && i < n; i++) {
        int64_t key = 0;
        rc = secup_cbor_read_int(&r, &key, "status key", err);
        if (rc == SECUP_OK)
            rc = secup_msg_seen_once(&seen, key, "status", err);
        if (rc != SECUP_OK)
            break;
        switch (key) {
        case 1: {
            uint64_t v = 0;
            rc = secup_cbor_read_uint(&r, &v, "format version", err);
            if (rc == SECUP_OK && v != 1)
                rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "status format %llu", (unsigned long long)v);
            break;
        }
        case 2: rc = text(&r, &st->reporter, "reporter", err); break;
        case 3: rc = secup_cbor_read_uint(&r, &st->counter, "counter", err); break;
        case 4: rc = secup_cbor_read_uint(&r, &st->time, "time", err); break;
        case 5: {
            uint64_t m = 0;
            rc = secup_cbor_read_array(&r, &m, "components", err);
            if (rc == SECUP_OK && m > SECUP_STATUS_MAX_COMPONENTS)
                rc = secup_err_set(err, SECUP_E_LIMIT_COMPONENTS, "status with %llu components",
                                   (unsigned long long)m);
            for (uint64_t k = 0; rc == SECUP_OK && k < m; k++)
                rc = decode_component(&r, &st->components[k], err);
            st->n_components = (uint32_t)m;
            break;
        }
        case 6: rc = decode_last(&r, st, err); break;
        case 7: rc = secup_cbor_read_bool(&r, &st->safe_mode, "safe mode", err); break;
        case 8: rc = decode_aggregate(&r, st, err); break;
        case 9: rc = decode_last_command(&r, st, err); break;
        default:
            rc = secup_err_set(err, SECUP_E_UNKNOWN_KEY, "status: key %lld is not defined",
                               (long long)key);
        }
    }
    uint32_t need = (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 7);
    if (rc == SECUP_OK && (seen & need) != need)
        rc = secup_err_set(err, SECUP_E_MISSING, "status lacks a required field");
    if (rc == SECUP_OK && !secup_cbor_at_end(&r))
        rc = secup_err_set(err, SECUP_E_TRAILING, "trailing bytes after the status");
    if (rc != SECUP_OK)
        memset(st, 0, sizeof(*st));
    return rc;
}

secup_rc secup_status_sign(const struct secup_status *st, const struct secup_key *key,
                           uint8_t *buf, size_t cap, size_t *len, struct secup_err *err)
{
    uint8_t payload[SECUP_STATUS_MAX_SIZE];
    size_t n = 0;
    secup_rc rc = secup_status_encode(st, payload, sizeof(payload), &n, err);
    if (rc != SECUP_OK)
        return rc;
    return secup_cose_sign1_attached(key, secup_bytes_of(payload, n), st->reporter, buf, cap, len,
                                     err);
}

secup_rc secup_status_peek_reporter(struct secup_bytes signed_report, struct secup_bytes *reporter,
                                    struct secup_err *err)
{
    return secup_msg_peek_kid(signed_report, SIZE_MAX, "status", reporter, err);
}

secup_rc secup_status_peek(struct secup_bytes signed_report, struct secup_status *st,
                           struct secup_err *err)
{
    struct secup_auth_block b;
    struct secup_bytes payload, kid;
    memset(st, 0, sizeof(*st));
    if (signed_report.len > SECUP_STATUS_MAX_SIGNED_SIZE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "signed status of %zu bytes",
                             signed_report.len);
    secup_rc rc = secup_cose_sign1_parse(signed_report, &b, &payload, &kid, err);
    if (rc == SECUP_OK)
        rc = secup_status_decode(st, payload, err);
    if (rc == SECUP_OK && !secup_bytes_equal(kid, st->reporter)) {
        memset(st, 0, sizeof(*st));
        rc = secup_err_set(err, SECUP_E_VALUE, "the report's kid and its reporter differ");
    }
    return rc;
}

secup_rc secup_status_verify(struct secup_bytes signed_report, const struct secup_key *key,
                             struct secup_status *st, struct secup_err *err)
{
    struct secup_bytes payload;
    struct secup_bytes kid;
    memset(st, 0, sizeof(*st));
    secup_rc rc = secup_msg_verify_attached(signed_report, SECUP_STATUS_MAX_SIGNED_SIZE,
                                            "status", key, &payload, &kid, err);
    if (rc == SECUP_OK)
        rc = secup_status_decode(st, payload, err);
    if (rc == SECUP_OK && !secup_bytes_equal(kid, st->reporter)) {
        memset(st, 0, sizeof(*st));
        rc = secup_err_set(err, SECUP_E_VALUE, "the report's kid and its reporter differ");
    }
    return rc;
}
