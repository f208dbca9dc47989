/* The REST API of secup-tracker (docs/api.md): enrolment, signed status reports, signed
 * server notifications. Every refusal is a JSON error with a result-code name. */
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reqparse.h"
#include "secup/notification.h"
#include "secup/status.h"
#include "token.h"
#include "trk.h"

#define MAX_BODY (SECUP_STATUS_MAX_SIZE + 4096)

struct body {
    struct trk *t;
    uint8_t buf[MAX_BODY];
    size_t len;
    char bearer_hash[TOKEN_HASH_HEX];
    void (*done)(struct body *b, struct httpd_req *req);
};

static secup_rc body_data(void *ctx, struct httpd_req *req, const uint8_t *p, size_t n,
                          struct secup_err *err)
{
    (void)req;
    struct body *b = ctx;
    if (n > sizeof(b->buf) - b->len)
        return secup_err_set(err, SECUP_E_LIMIT_BODY, "body larger than %d bytes", MAX_BODY);
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return SECUP_OK;
}

static void body_done(void *ctx, struct httpd_req *req)
{
    struct body *b = ctx;
    b->done(b, req);
}

static void body_cleanup(void *ctx, bool completed)
{
    (void)completed;
    free(ctx);
}

static const struct httpd_body_ops body_ops = { body_data, NULL, body_done, body_cleanup };

static void accept_body(struct trk *t, struct httpd_req *req,
                        void (*done)(struct body *, struct httpd_req *))
{
    struct body *b = calloc(1, sizeof(*b));
    if (!b) {
        httpd_respond_error(req, SECUP_E_NOMEM, "body buffer");
        return;
    }
    b->t = t;
    b->done = done;
    const char *h = httpd_req_header(req, "Authorization");
    if (h && strncmp(h, "Bearer ", 7) == 0 && req_token_ok(h + 7))
        token_hash(h + 7, b->bearer_hash);
    else if (h) {
        free(b);
        trk_refuse_code(req, SECUP_E_AUTH, "malformed Authorization header");
        return;
    }
    httpd_req_accept_body(req, MAX_BODY, &body_ops, b);
}

/* ---- refusals ---- */

void trk_refuse(struct httpd_req *req, const struct secup_err *err)
{
    if (err->rc == SECUP_E_AUTH || err->rc == SECUP_E_FORBIDDEN)
        trk_log("refused %s %.200s: %s [%s]", httpd_req_method(req), httpd_req_path(req),
                err->msg, secup_rc_name(err->rc));
    httpd_respond_err(req, err);
}

secup_rc trk_refuse_code(struct httpd_req *req, secup_rc rc, const char *fmt, ...)
{
    struct secup_err err;
    secup_err_clear(&err);
    char msg[sizeof(err.msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    secup_err_set(&err, rc, "%s", msg);
    trk_refuse(req, &err);
    return rc;
}

/* ---- POST /v1/register ---- */

static void register_done(struct body *b, struct httpd_req *req)
{
    struct secup_err err;
    secup_err_clear(&err);
    if (!b->bearer_hash[0]) {
        trk_refuse_code(req, SECUP_E_AUTH, "registration needs an enrolment token");
        return;
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)b->buf, b->len, JSON_REJECT_DUPLICATES, &je);
    struct trk_consumer c;
    memset(&c, 0, sizeof(c));
    secup_rc rc = json_is_object(o) ? SECUP_OK
                                    : secup_err_set(&err, SECUP_E_JSON, "body: %s",
                                                    o ? "not an object" : je.text);
    const char *key;
    json_t *v;
    if (rc == SECUP_OK) {
        json_object_foreach(o, key, v) {
            if (strcmp(key, "id") && strcmp(key, "kind") && strcmp(key, "key") &&
                strcmp(key, "region") && strcmp(key, "profiles") && strcmp(key, "slot-size")) {
                rc = secup_err_set(&err, SECUP_E_JSON, "unknown key \"%.32s\"", key);
                break;
            }
        }
    }
    const char *id = rc == SECUP_OK ? json_string_value(json_object_get(o, "id")) : NULL;
    const char *kind = rc == SECUP_OK ? json_string_value(json_object_get(o, "kind")) : NULL;
    const char *pem = rc == SECUP_OK ? json_string_value(json_object_get(o, "key")) : NULL;
    const char *region = rc == SECUP_OK ? json_string_value(json_object_get(o, "region")) : NULL;
    if (rc == SECUP_OK && (!id || !req_valid_name(id)))
        rc = secup_err_set(&err, SECUP_E_JSON, "\"id\" must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    if (rc == SECUP_OK && kind && strcmp(kind, "device") && strcmp(kind, "tracker"))
        rc = secup_err_set(&err, SECUP_E_JSON, "\"kind\" is \"device\" or \"tracker\"");
    if (rc == SECUP_OK && region && (strlen(region) > 64 || !req_valid_name(region)))
        rc = secup_err_set(&err, SECUP_E_JSON, "\"region\" must be a name of at most 64 characters");
    struct secup_key *k = NULL;
    if (rc == SECUP_OK && (!pem || strlen(pem) > 4096))
        rc = secup_err_set(&err, SECUP_E_JSON, "\"key\" must be a PEM public key");
    if (rc == SECUP_OK)
        rc = secup_key_parse_pem(&k, secup_bytes_of(pem, strlen(pem)), &err);
    if (rc == SECUP_OK && (secup_key_has_private(k) ||
                           (secup_key_type(k) != SECUP_KEY_P256 && secup_key_type(k) != SECUP_KEY_ED25519)))
        rc = secup_err_set(&err, SECUP_E_KEY_FORMAT,
                           "\"key\" must be a P-256 or Ed25519 public key (it signs status reports)");
    secup_key_free(k);
    char token[64], hash[TOKEN_HASH_HEX];
    struct db *db = db_pool_get(b->t->pool);
    if (rc == SECUP_OK)
        rc = db_begin(db, &err);
    if (rc == SECUP_OK) {
        rc = trk_enrolment_take(db, b->bearer_hash, c.vendor, c.class_id, &err);
        snprintf(c.id, sizeof(c.id), "%s", id);
        c.kind = kind && strcmp(kind, "tracker") == 0 ? TRK_TRACKER : TRK_DEVICE;
        if (region)
            snprintf(c.region, sizeof(c.region), "%s", region);
        if (rc == SECUP_OK)
            rc = token_new(token, &err);
        token_hash(token, hash);
        char *attrs = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        if (rc == SECUP_OK)
            rc = trk_consumer_add(db, &c, hash, pem, attrs, &err);
        free(attrs);
        if (rc == SECUP_OK)
            rc = trk_event(db, c.id, "register", c.id, c.class_id, &err);
        if (rc == SECUP_OK)
            rc = db_commit(db, &err);
        if (rc != SECUP_OK)
            db_rollback(db);
    }
    db_pool_put(b->t->pool, db);
    json_decref(o);
    if (rc != SECUP_OK) {
        trk_refuse(req, &err);
        return;
    }
    trk_log("registered %s '%s' (class %s)", c.kind == TRK_TRACKER ? "tracker" : "device", c.id,
            c.class_id);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "id", c.id, "token", token, "vendor", c.vendor,
                          "class", c.class_id);
    httpd_respond_json(req, 201, r);
    json_decref(r);
}

/* ---- POST /v1/status ---- */

static json_t *components_json(const struct secup_status *st)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < st->n_components; i++) {
        const struct secup_status_component *c = &st->components[i];
        char id[2 * SECUP_STATUS_MAX_TEXT + 1], dg[65];
        secup_hex_encode(c->id, id, sizeof(id));
        secup_hex_encode(secup_bytes_of(c->digest, 32), dg, sizeof(dg));
        json_t *o = json_pack("{s:s, s:I, s:I, s:s}", "id", id, "sequence", (json_int_t)c->seq,
                              "slot", (json_int_t)c->slot, "digest", dg);
        if (c->version.len)
            json_object_set_new(o, "version",
                                json_stringn((const char *)c->version.ptr, c->version.len));
        if (c->has_floor)
            json_object_set_new(o, "floor", json_integer((json_int_t)c->floor));
        json_array_append_new(a, o);
    }
    return a;
}

static char *hex_dup(struct secup_bytes in)
{
    char *h = malloc(2 * in.len + 1);
    if (h)
        secup_hex_encode(in, h, 2 * in.len + 1);
    return h;
}

/* What the committer writes for a verified report (intake.c). */
static secup_rc report_prepare(struct trk_report *r, const struct trk_consumer *c,
                               struct secup_bytes in, const struct secup_status *st,
                               struct secup_err *err)
{
    snprintf(r->consumer, sizeof(r->consumer), "%s", c->id);
    r->counter = (int64_t)st->counter;
    r->time = (int64_t)st->time;
    r->safe_mode = st->safe_mode;
    r->stale = st->has_freshness && st->stale;
    json_t *comps = components_json(st);
    r->components_json = comps ? json_dumps(comps, JSON_COMPACT) : NULL;
    json_decref(comps);
    if (st->has_last) {
        r->has_last = true;
        secup_hex_encode(st->last_id.len <= 64 ? st->last_id : secup_bytes_of(st->last_id.ptr, 64),
                         r->last_id, sizeof(r->last_id));
        snprintf(r->last_code, sizeof(r->last_code), "%.*s", (int)st->last_code.len,
                 (const char *)st->last_code.ptr);
        json_t *l = json_pack("{s:s, s:I}", "id", r->last_id, "time", (json_int_t)st->last_time);
        json_object_set_new(l, "code", json_stringn((const char *)st->last_code.ptr,
                                                    st->last_code.len));
        if (st->last_reason.len)
            json_object_set_new(l, "reason", json_stringn((const char *)st->last_reason.ptr,
                                                          st->last_reason.len));
        r->last_json = json_dumps(l, JSON_COMPACT);
        json_decref(l);
        if (!r->last_json)
            return secup_err_set(err, SECUP_E_NOMEM, "report");
    }
    r->report_hex = hex_dup(in);
    if (!r->components_json || !r->report_hex)
        return secup_err_set(err, SECUP_E_NOMEM, "report");
    /* a downstream tracker's aggregate: its consumers' reports, kept as received */
    for (uint32_t i = 0; c->kind == TRK_TRACKER && st->has_aggregate && i < st->n_aggregate;
         i++) {
        struct secup_bytes who;
        struct secup_err e2;
        if (secup_status_peek_reporter(st->aggregate[i], &who, &e2) != SECUP_OK ||
            who.len == 0 || who.len > TRK_ID_MAX)
            continue;
        memcpy(r->agg_reporter[r->n_agg], who.ptr, who.len);
        r->agg_reporter[r->n_agg][who.len] = '\0';
        if (!(r->agg_hex[r->n_agg] = hex_dup(st->aggregate[i])))
            return secup_err_set(err, SECUP_E_NOMEM, "report");
        trk_divergence_read(st->aggregate[i], r->agg_last[r->n_agg], &r->agg_last_time[r->n_agg]);
        r->n_agg++;
    }
    return SECUP_OK;
}

static void status_done(struct body *b, struct httpd_req *req)
{
    struct secup_err err;
    secup_err_clear(&err);
    struct trk_consumer c;
    struct db *db = db_pool_get(b->t->pool);
    struct secup_bytes in = secup_bytes_of(b->buf, b->len);
    struct secup_bytes who;
    char pem[8192];
    static _Thread_local struct secup_status st;
    /* the sender and its key; a flood is refused before any signature is checked */
    secup_rc rc = b->bearer_hash[0]
                      ? trk_report_sender(db, b->bearer_hash, (int64_t)time(NULL),
                                          (int64_t)b->t->cfg.report_quota, &c, pem, sizeof(pem),
                                          &err)
                      : secup_err_set(&err, SECUP_E_AUTH, "a status report needs the consumer's token");
    db_pool_put(b->t->pool, db);
    if (rc == SECUP_OK)
        rc = secup_status_peek_reporter(in, &who, &err);
    if (rc == SECUP_OK && (who.len != strlen(c.id) || memcmp(who.ptr, c.id, who.len) != 0))
        rc = secup_err_set(&err, SECUP_E_FORBIDDEN, "'%s' may not report for another consumer", c.id);
    const struct secup_key *ck = NULL;
    struct trk_keyref *kref = NULL;
    if (rc == SECUP_OK)
        rc = trk_keycache_get(b->t->keys, c.id, pem, &kref, &ck, &err);
    if (rc == SECUP_OK)
        rc = secup_status_verify(in, ck, &st, &err);
    trk_keycache_put(b->t->keys, kref);
    int64_t now = (int64_t)time(NULL);
    if (rc == SECUP_OK && (int64_t)st.time > now + 300)
        rc = secup_err_set(&err, SECUP_E_EXPIRED, "the report is dated %" PRIu64 ", in the future",
                           st.time);
    if (rc == SECUP_OK && st.counter > INT64_MAX)
        rc = secup_err_set(&err, SECUP_E_VALUE, "report counter too large");
    struct trk_report *r = NULL;
    if (rc == SECUP_OK && !(r = calloc(1, sizeof(*r))))
        rc = secup_err_set(&err, SECUP_E_NOMEM, "report");
    if (rc == SECUP_OK)
        rc = report_prepare(r, &c, in, &st, &err);
    if (rc != SECUP_OK) {
        trk_report_free(r);
        trk_refuse(req, &err);
        return;
    }
    /* stored with the reports queued beside it, then answered (intake.c) */
    trk_intake_submit(b->t, req, r);
}

/* ---- POST /v1/notify ---- */

static void notify_done(struct body *b, struct httpd_req *req)
{
    struct secup_err err;
    secup_err_clear(&err);
    struct secup_bytes in = secup_bytes_of(b->buf, b->len);
    struct secup_bytes kid = { 0 };
    struct secup_notification n;
    char server[TRK_ID_MAX + 1] = "";
    char pem[8192];
    struct secup_key *k = NULL;
    struct db *db = db_pool_get(b->t->pool);
    /* the kid names the server; nothing else is read before the signature verifies */
    secup_rc rc = secup_notification_peek_server(in, &kid, &err);
    if (rc == SECUP_OK && (kid.len == 0 || kid.len > TRK_ID_MAX))
        rc = secup_err_set(&err, SECUP_E_KEY_UNKNOWN, "notification without a usable server id");
    if (rc == SECUP_OK) {
        memcpy(server, kid.ptr, kid.len);
        server[kid.len] = '\0';
        rc = trk_server_key(db, server, pem, sizeof(pem), &err);
    }
    if (rc == SECUP_OK)
        rc = secup_key_parse_pem(&k, secup_bytes_of(pem, strlen(pem)), &err);
    if (rc == SECUP_OK)
        rc = secup_notification_verify(in, k, &n, &err);
    secup_key_free(k);
    if (rc == SECUP_OK && n.counter > INT64_MAX)
        rc = secup_err_set(&err, SECUP_E_VALUE, "notification counter too large");
    if (rc == SECUP_OK) {
        char digest[65], vendor[33], cls[33], comp[2 * SECUP_NOTIFICATION_MAX_TEXT + 1],
            uri[SECUP_NOTIFICATION_MAX_TEXT + 1];
        secup_hex_encode(secup_bytes_of(n.digest, 32), digest, sizeof(digest));
        secup_hex_encode(secup_bytes_of(n.vendor_id, 16), vendor, sizeof(vendor));
        secup_hex_encode(secup_bytes_of(n.class_id, 16), cls, sizeof(cls));
        secup_hex_encode(n.component, comp, sizeof(comp));
        memcpy(uri, n.uri.ptr, n.uri.len);
        uri[n.uri.len] = '\0';
        /* with trust anchors, the manifest is fetched and verified here first (discovery.c) */
        struct trk_manifest m;
        bool verified = b->t->cfg.n_trust > 0;
        if (verified) { /* no database connection is held while the manifest is fetched */
            db_pool_put(b->t->pool, db);
            rc = trk_manifest_fetch_verify(b->t, uri, n.digest, &m, &err);
            db = db_pool_get(b->t->pool);
        }
        if (verified && rc == SECUP_OK &&
            (m.seq != (int64_t)n.seq || strcmp(m.vendor, vendor) || strcmp(m.class_id, cls) ||
             strcmp(m.component, comp)))
            rc = secup_err_set(&err, SECUP_E_VALUE, "the manifest at %s is not what the "
                               "notification says (sequence, vendor, class or component)", uri);
        bool began = rc == SECUP_OK && db_begin(db, &err) == SECUP_OK;
        if (rc == SECUP_OK && !began)
            rc = err.rc;
        if (rc == SECUP_OK)
            rc = trk_manifest_add(db, server, (int64_t)n.counter, digest, vendor, cls, comp,
                                  (int64_t)n.seq, uri, &err);
        if (rc == SECUP_OK && verified)
            rc = trk_manifest_describe(db, digest, m.profile, m.has_size ? m.size : -1, &err);
        if (rc == SECUP_OK)
            rc = trk_event(db, server, "notify", digest, uri, &err);
        if (rc == SECUP_OK)
            rc = db_commit(db, &err);
        else if (began)
            db_rollback(db);
        if (rc == SECUP_OK)
            trk_log("server '%s': sequence %" PRIu64 " at %s%s", server, n.seq, uri,
                    verified ? ", Author signature verified here" : "");
        if (rc == SECUP_OK)
            trk_wake_all(b->t); /* waiting consumers may have something to install now */
    }
    db_pool_put(b->t->pool, db);
    if (rc != SECUP_OK) {
        trk_log("refused a notification: %s [%s]", err.msg, secup_rc_name(err.rc));
        httpd_respond_err(req, &err);
        return;
    }
    httpd_respond(req, 204, NULL, NULL, 0);
}

/* ---- POST /v1/requests (discovery.c) ---- */

static void requests_done(struct body *b, struct httpd_req *req)
{
    trk_requests_post(b->t, req, b->buf, b->len);
}

/* ---- the router ---- */

void trk_handle(void *app, struct httpd_req *req)
{
    struct trk *t = app;
    struct req_route r;
    r.method = httpd_req_method(req);
    if (!req_split_path(httpd_req_path(req), &r)) {
        if (httpd_req_limit(req, TRK_RATE_OTHER))
            httpd_respond_error(req, SECUP_E_HTTP, "malformed path: segments are A-Z a-z 0-9 . _ -");
        return;
    }
    static const char *const health[] = { "v1", "health" };
    static const char *const reg[] = { "v1", "register" };
    static const char *const status[] = { "v1", "status" };
    static const char *const notify[] = { "v1", "notify" };
    static const char *const commands[] = { "v1", "commands" };
    static const char *const callback[] = { "v1", "callback" };
    if (!httpd_req_limit(req, req_match(&r, "GET", 2, commands)   ? TRK_RATE_POLL
                              : req_match(&r, "POST", 2, status) ? TRK_RATE_REPORT
                              : req_match(&r, "POST", 2, reg)    ? TRK_RATE_ENROL
                                                                 : TRK_RATE_OTHER))
        return; /* 429 with Retry-After */
    if (req_match(&r, "GET", 2, health)) {
        json_t *o = json_pack("{s:s, s:s}", "status", "ok", "tracker", t->cfg.id);
        httpd_respond_json(req, 200, o);
        json_decref(o);
    } else if (req_match(&r, "POST", 2, reg)) {
        accept_body(t, req, register_done);
    } else if (req_match(&r, "POST", 2, status)) {
        accept_body(t, req, status_done);
    } else if (req_match(&r, "GET", 2, commands)) {
        trk_commands_get(t, req);
    } else if (req_match(&r, "POST", 2, notify)) {
        accept_body(t, req, notify_done);
    } else if (req_match(&r, "POST", 2, (const char *const[]){ "v1", "requests" })) {
        accept_body(t, req, requests_done);
    } else if (req_match(&r, "PUT", 2, callback)) {
        trk_callback_route(t, req);
    } else if (r.n >= 2 && strcmp(r.seg[0], "v1") == 0 && strcmp(r.seg[1], "admin") == 0) {
        trk_admin_route(t, req, &r);
    } else {
        httpd_respond_error(req, SECUP_E_NOENT, "no route %s %.200s", r.method,
                            httpd_req_path(req));
    }
}
