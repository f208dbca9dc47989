/* "Poll now" (docs/tracker.md): a consumer that can be reached registers a callback URL (an
 * HTTPS listener of its own) besides long-polling. When the tracker has a command for a
 * consumer that is not parked in a long poll, it POSTs the same signed secup-command to
 * that URL, so nothing new is trusted: the consumer verifies it exactly as a polled one.
 * Failed deliveries back off (doubling, capped); an administrator's poke ("report status
 * now", action 3) goes the same way. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_req.h"
#include "httpc.h"
#include "reqparse.h"
#include "secup/command.h"
#include "secup/hash.h"
#include "secup/manifest.h"
#include "token.h"
#include "trk.h"

#define CMD_CAP (SECUP_COMMAND_MAX_SIZE + 512)
#define SCAN_MAX 256

bool trk_is_parked(struct trk *t, const char *consumer)
{
    bool parked = false;
    pthread_mutex_lock(&t->park_lock);
    for (struct trk_parked *p = t->parked; p && !parked; p = p->next)
        parked = p->listed && strcmp(p->consumer, consumer) == 0;
    pthread_mutex_unlock(&t->park_lock);
    return parked;
}

/* One POST of a signed command. *final: the consumer answered (2xx: taken; 4xx: refused,
 * and sending the same bytes again would be refused again); else a transport failure or
 * a 5xx, 408 or 429 worth another attempt after the back-off. */
static secup_rc deliver(const struct trk *t, const char *url, const uint8_t *body, size_t len,
                        long *status, bool *final, struct secup_err *err)
{
    *status = 0;
    *final = false;
    struct httpc_config hc;
    memset(&hc, 0, sizeof(hc));
    hc.ca_file = t->cfg.cb_ca[0] ? t->cfg.cb_ca : NULL;
    /* without a CA the listener is not authenticated: the body is a signed command bound to
     * the consumer, with nothing secret in it, and nothing in the answer is believed */
    hc.insecure = !t->cfg.cb_ca[0];
    hc.connect_timeout_s = 5;
    hc.timeout_s = 15;
    hc.low_speed_time_s = 15;
    struct httpc_request rq = {
        .method = "POST", .url = url, .body = body, .body_len = len,
        .content_type = "application/cose; cose-type=\"cose-sign1\"", .max_response = 16384,
    };
    struct httpc_response resp;
    secup_rc rc = httpc_perform(&hc, &rq, &resp, err);
    if (rc != SECUP_OK)
        return rc;
    *status = resp.status;
    if (resp.status >= 200 && resp.status < 300) {
        *final = true;
    } else {
        *final = resp.status >= 400 && resp.status < 500 && resp.status != 408 &&
                 resp.status != 429;
        rc = httpc_response_error(&resp, err);
        secup_err_prefix(err, "the consumer answered %ld", resp.status);
    }
    httpc_response_free(&resp);
    return rc;
}

struct push_result {
    bool attempted, delivered;
    long status;
    struct secup_err err;
};

/* Records the outcome of one delivery. */
static void settle(struct trk *t, struct db *db, const char *consumer, bool final,
                   bool was_pending, const char *pushed)
{
    struct secup_err err;
    if (trk_callback_done(db, consumer, final, was_pending, final ? pushed : NULL,
                          (int64_t)time(NULL), (int64_t)t->cfg.cb_retry_initial,
                          (int64_t)t->cfg.cb_retry_max, &err) != SECUP_OK)
        trk_log("callback of '%s': cannot record the delivery: %s", consumer, err.msg);
}

static void log_delivery(const char *consumer, const char *what, const struct push_result *r)
{
    if (r->delivered)
        trk_log("callback of '%s': %s delivered (HTTP %ld)", consumer, what, r->status);
    else
        trk_log("callback of '%s': %s not delivered: %s [%s]", consumer, what, r->err.msg,
                secup_rc_name(r->err.rc));
}

/* Sends the consumer's waiting poke, if any. */
static void push_pending(struct trk *t, const char *consumer, const char *url,
                         struct push_result *r)
{
    static _Thread_local char hex[2 * CMD_CAP + 1];
    static _Thread_local uint8_t body[CMD_CAP];
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_callback_pending(db, consumer, hex, sizeof(hex), &r->err);
    db_pool_put(t->pool, db);
    size_t len = 0;
    if (rc != SECUP_OK || !secup_hex_decode(hex, body, sizeof(body), &len))
        return;
    r->attempted = true;
    bool final = false;
    rc = deliver(t, url, body, len, &r->status, &final, &r->err);
    r->delivered = rc == SECUP_OK;
    db = db_pool_get(t->pool);
    settle(t, db, consumer, final, true, NULL);
    db_pool_put(t->pool, db);
    log_delivery(consumer, "poke", r);
}

/* Sends what a poll would get now (an install, a cancel), unless it was delivered before. */
static void push_decided(struct trk *t, const char *consumer, const char *url,
                         const char *pushed, struct push_result *r)
{
    static _Thread_local uint8_t body[CMD_CAP];
    size_t len = 0;
    if (trk_command_decide(t, consumer, body, sizeof(body), &len, &r->err) != SECUP_OK) {
        trk_log("callback of '%s': no decision: %s", consumer, r->err.msg);
        return;
    }
    if (len == 0)
        return;
    uint8_t d[32];
    char hex[65];
    if (secup_sha256(secup_bytes_of(body, len), d, &r->err) != SECUP_OK)
        return;
    secup_hex_encode(secup_bytes_of(d, 32), hex, sizeof(hex));
    if (strcmp(hex, pushed) == 0)
        return; /* the same command again: the consumer has it */
    r->attempted = true;
    bool final = false;
    secup_rc rc = deliver(t, url, body, len, &r->status, &final, &r->err);
    r->delivered = rc == SECUP_OK;
    struct db *db = db_pool_get(t->pool);
    settle(t, db, consumer, final, false, hex);
    db_pool_put(t->pool, db);
    log_delivery(consumer, "command", r);
}

static void push_consumer(struct trk *t, const char *consumer)
{
    struct trk_callback cb;
    bool found = false;
    struct push_result r;
    memset(&r, 0, sizeof(r));
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_callback_get(db, consumer, &cb, &found, &r.err);
    db_pool_put(t->pool, db);
    if (rc != SECUP_OK || !found)
        return;
    if (cb.has_pending && cb.pending_expires > (int64_t)time(NULL))
        push_pending(t, consumer, cb.url, &r);
    if (r.attempted && !r.delivered)
        return; /* backing off */
    /* a consumer parked in a long poll hears of its commands there */
    if (!trk_is_parked(t, consumer)) {
        memset(&r, 0, sizeof(r));
        push_decided(t, consumer, cb.url, cb.pushed, &r);
    }
}

static void scan(struct trk *t)
{
    struct secup_err err;
    json_t *due = NULL;
    struct db *db = db_pool_get(t->pool);
    int64_t now = (int64_t)time(NULL);
    secup_rc rc = trk_callback_drop_expired(db, now, &err);
    if (rc == SECUP_OK)
        rc = trk_callbacks_due(db, now, SCAN_MAX, &due, &err);
    db_pool_put(t->pool, db);
    if (rc != SECUP_OK) {
        trk_log("callbacks: %s [%s]", err.msg, secup_rc_name(rc));
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(due, i, c) {
        if (__atomic_load_n(&t->push_stop, __ATOMIC_RELAXED))
            break; /* the tracker stops: the rest waits for its next start */
        push_consumer(t, json_string_value(c));
    }
    json_decref(due);
}

void trk_push_kick(struct trk *t)
{
    if (!t->push_ready)
        return;
    pthread_mutex_lock(&t->push_lock);
    t->push_kicked = true;
    pthread_cond_signal(&t->push_cond);
    pthread_mutex_unlock(&t->push_lock);
}

void trk_push_stop(struct trk *t)
{
    if (!t->push_ready)
        return;
    pthread_mutex_lock(&t->push_lock);
    t->push_stop = true;
    pthread_cond_signal(&t->push_cond);
    pthread_mutex_unlock(&t->push_lock);
}

void *trk_pusher(void *arg)
{
    struct trk *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->push_lock);
        if (!t->push_kicked && !t->push_stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (time_t)t->cfg.cb_interval;
            pthread_cond_timedwait(&t->push_cond, &t->push_lock, &ts);
        }
        bool stop = t->push_stop;
        t->push_kicked = false;
        pthread_mutex_unlock(&t->push_lock);
        if (stop)
            break;
        scan(t);
    }
    return NULL;
}

/* ---- the poke ---- */

secup_rc trk_poke(struct trk *t, struct db *db, const char *actor, const char *consumer,
                  json_t **out, struct secup_err *err)
{
    *out = NULL;
    if (!req_valid_name(consumer))
        return secup_err_set(err, SECUP_E_VALUE, "a consumer name is A-Z a-z 0-9 . _ -");
    static _Thread_local char pem[8192];
    secup_rc rc = trk_consumer_key(db, consumer, pem, sizeof(pem), err);
    struct trk_callback cb;
    bool found = false;
    if (rc == SECUP_OK)
        rc = trk_callback_get(db, consumer, &cb, &found, err);
    if (rc == SECUP_OK && !found)
        rc = secup_err_set(err, SECUP_E_STATE,
                           "'%s' has registered no callback URL: it hears of commands only when it polls",
                           consumer);
    if (rc != SECUP_OK)
        return rc;
    static _Thread_local uint8_t body[CMD_CAP];
    static _Thread_local char hex[2 * CMD_CAP + 1];
    size_t len = 0;
    rc = db_begin(db, err);
    if (rc != SECUP_OK)
        return rc;
    rc = trk_command_report(t, db, consumer, body, sizeof(body), &len, err);
    if (rc == SECUP_OK) {
        secup_hex_encode(secup_bytes_of(body, len), hex, sizeof(hex));
        rc = trk_callback_queue(db, consumer, hex,
                                (int64_t)time(NULL) + (int64_t)t->cfg.freshness_ttl, err);
    }
    if (rc == SECUP_OK)
        rc = trk_event(db, actor, "poke", consumer, cb.url, err);
    if (rc == SECUP_OK)
        rc = db_commit(db, err);
    else
        db_rollback(db);
    if (rc != SECUP_OK)
        return rc;
    /* one attempt now; a failed one is retried with back-off while the poke is valid */
    struct push_result r;
    memset(&r, 0, sizeof(r));
    r.attempted = true;
    bool final = false;
    secup_rc dr = deliver(t, cb.url, body, len, &r.status, &final, &r.err);
    r.delivered = dr == SECUP_OK;
    settle(t, db, consumer, final, true, NULL);
    log_delivery(consumer, "poke", &r);
    *out = json_pack("{s:s, s:s, s:b, s:b}", "consumer", consumer, "url", cb.url, "delivered",
                     r.delivered, "retrying", !final);
    if (r.status)
        json_object_set_new(*out, "status", json_integer(r.status));
    if (!r.delivered)
        json_object_set_new(*out, "error", json_pack("{s:s, s:s}", "error",
                                                     secup_rc_name(r.err.rc), "message", r.err.msg));
    return SECUP_OK;
}

secup_rc trk_poke_cli(const char *dir, struct db *db, const char *consumer, json_t **out,
                      struct secup_err *err)
{
    struct trk *t = calloc(1, sizeof(*t));
    if (!t)
        return secup_err_set(err, SECUP_E_NOMEM, "tracker state");
    secup_rc rc = trk_config_load(dir, &t->cfg, err);
    if (rc == SECUP_OK)
        rc = secup_key_load_pem(&t->sign_key, t->cfg.signing_key, err);
    if (rc == SECUP_OK)
        rc = trk_poke(t, db, "admin", consumer, out, err);
    secup_key_free(t->sign_key);
    free(t);
    return rc;
}

/* ---- PUT /v1/callback: a consumer registers its listener ---- */

void trk_callback_put(struct trk *t, struct httpd_req *req, const char *consumer,
                      const uint8_t *p, size_t n)
{
    struct secup_err err;
    secup_err_clear(&err);
    char url[TRK_CALLBACK_URL_MAX + 1];
    secup_rc rc = trk_callback_req_parse(p, n, url, &err);
    if (rc == SECUP_OK) {
        struct db *db = db_pool_get(t->pool);
        rc = db_begin(db, &err);
        if (rc == SECUP_OK)
            rc = trk_callback_set(db, consumer, url, &err);
        if (rc == SECUP_OK)
            rc = trk_event(db, consumer, "callback", consumer, url, &err);
        if (rc == SECUP_OK)
            rc = db_commit(db, &err);
        else
            db_rollback(db);
        db_pool_put(t->pool, db);
    }
    if (rc != SECUP_OK) {
        httpd_respond_err(req, &err);
        return;
    }
    trk_log("'%s' registered the callback %s", consumer, url);
    json_t *r = json_pack("{s:s, s:s}", "id", consumer, "url", url);
    httpd_respond_json(req, 200, r);
    json_decref(r);
    trk_push_kick(t); /* it may have something waiting */
}

static void callback_done(struct trk *t, struct httpd_req *req, const char *const *args,
                          const uint8_t *p, size_t n)
{
    trk_callback_put(t, req, args[0], p, n);
}

void trk_callback_route(struct trk *t, struct httpd_req *req)
{
    struct secup_err err;
    secup_err_clear(&err);
    const char *h = httpd_req_header(req, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0 || !req_token_ok(h + 7)) {
        trk_refuse_code(req, SECUP_E_AUTH, "a callback URL is registered with the consumer's bearer token");
        return;
    }
    char hash[TOKEN_HASH_HEX];
    token_hash(h + 7, hash);
    struct trk_consumer c;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_consumer_by_token(db, hash, &c, &err);
    db_pool_put(t->pool, db);
    if (rc != SECUP_OK) {
        trk_refuse(req, &err);
        return;
    }
    trk_accept_json(t, req, 4096, callback_done, c.id, NULL);
}
