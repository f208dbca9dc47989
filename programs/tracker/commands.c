/* Commands to consumers (issue [tracker]; PROTOCOL.md secup-command): the tracker judges
 * at each poll what a consumer needs, and answers with a command signed by its key, bound
 * to the consumer, numbered per consumer and expiring: an install of the newest manifest
 * it knows for an obsolete component, the open install again until it is settled, or a
 * "nothing to do" statement so that the consumer can tell a live feed from a frozen one.
 * Long polls are parked (no thread held) and answered when a manifest arrives or their
 * wait ends. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "reqparse.h"
#include "secup/command.h"
#include "token.h"
#include "trk.h"

#define TICK_MS 100

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Signs a command for consumer and keeps its bytes in out. */
static secup_rc issue(struct trk *t, struct db *db, const char *consumer,
                      enum secup_command_action action, const struct trk_need *need,
                      uint8_t *out, size_t cap, size_t *len, struct secup_err *err)
{
    struct secup_command_msg m;
    memset(&m, 0, sizeof(m));
    if (getrandom(m.id, sizeof(m.id), 0) != (ssize_t)sizeof(m.id))
        return secup_err_set(err, SECUP_E_CRYPTO, "no randomness for a command id");
    int64_t counter = 0;
    secup_rc rc = trk_next_counter(db, consumer, &counter, err);
    if (rc != SECUP_OK)
        return rc;
    int64_t now = (int64_t)time(NULL);
    m.issuer = secup_bytes_of(t->cfg.id, strlen(t->cfg.id));
    m.target = secup_bytes_of(consumer, strlen(consumer));
    m.counter = (uint64_t)counter;
    m.issued_at = (uint64_t)now;
    m.action = action;
    char payload_uri[1100];
    if (action == SECUP_COMMAND_INSTALL) {
        m.expires_at = (uint64_t)now + t->cfg.command_ttl;
        m.manifest_uri = secup_bytes_of(need->uri, strlen(need->uri));
        size_t n = 0;
        m.has_digest = secup_hex_decode(need->digest, m.digest, sizeof(m.digest), &n) && n == 32;
        if (!m.has_digest)
            return secup_err_set(err, SECUP_E_VALUE, "stored manifest digest is malformed");
        m.has_seq = true;
        m.seq = (uint64_t)need->seq;
        if (need->rollout[0])
            m.rollout = secup_bytes_of(need->rollout, strlen(need->rollout));
        /* a Firmware Server serves the payload beside the manifest */
        size_t ul = strlen(need->uri);
        static const char suffix[] = "/manifest";
        if (ul > sizeof(suffix) - 1 && strcmp(need->uri + ul - (sizeof(suffix) - 1), suffix) == 0) {
            snprintf(payload_uri, sizeof(payload_uri), "%.*s/payload",
                     (int)(ul - (sizeof(suffix) - 1)), need->uri);
            m.uris[0] = secup_bytes_of(payload_uri, strlen(payload_uri));
            m.n_uris = 1;
        }
    } else if (action == SECUP_COMMAND_CANCEL) {
        m.expires_at = (uint64_t)now + t->cfg.command_ttl;
        m.rollout = secup_bytes_of(need->rollout, strlen(need->rollout));
    } else {
        m.expires_at = (uint64_t)now + t->cfg.freshness_ttl;
    }
    rc = secup_command_sign(&m, t->sign_key, out, cap, len, err);
    if (rc == SECUP_OK) /* the inventory's "stale": every statement given has expired */
        rc = trk_freshness_set(db, consumer, (int64_t)m.expires_at, err);
    if (rc != SECUP_OK || action != SECUP_COMMAND_INSTALL)
        return rc;
    /* an install is kept until the consumer's reports settle it */
    struct trk_command *c = calloc(1, sizeof(*c));
    if (!c)
        return secup_err_set(err, SECUP_E_NOMEM, "command record");
    secup_hex_encode(secup_bytes_of(m.id, 16), c->id, sizeof(c->id));
    snprintf(c->consumer, sizeof(c->consumer), "%s", consumer);
    c->counter = counter;
    c->action = action;
    snprintf(c->digest, sizeof(c->digest), "%s", need->digest);
    c->seq = need->seq;
    snprintf(c->component, sizeof(c->component), "%s", need->component);
    c->issued = now;
    c->expires = (int64_t)m.expires_at;
    snprintf(c->state, sizeof(c->state), "issued");
    secup_hex_encode(secup_bytes_of(out, *len), c->body_hex, sizeof(c->body_hex));
    rc = trk_command_add(db, c, err);
    if (rc == SECUP_OK)
        rc = trk_event(db, t->cfg.id, "install", consumer, need->digest, err);
    if (rc == SECUP_OK)
        trk_log("install command %" PRId64 " for '%s': sequence %" PRId64 " (%.16s)", counter,
                consumer, need->seq, need->digest);
    free(c);
    return rc;
}

/* What consumer gets now: *len 0 when there is nothing and allow_nothing is false. */
static secup_rc decide(struct trk *t, const char *consumer, bool allow_nothing, uint8_t *out,
                       size_t cap, size_t *len, struct secup_err *err)
{
    *len = 0;
    static _Thread_local struct trk_command open;
    struct trk_need need;
    bool found = false;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = db_begin(db, err); /* one decision at a time: never two installs */
    if (rc == SECUP_OK)
        rc = trk_command_open(db, consumer, (int64_t)time(NULL), &open, &found, err);
    if (rc == SECUP_OK && found) {
        size_t n = 0;
        if (!secup_hex_decode(open.body_hex, out, cap, &n))
            rc = secup_err_set(err, SECUP_E_DB, "stored command is malformed");
        *len = n;
    }
    bool withdrawn = false;
    if (rc == SECUP_OK && !found) {
        /* a cancelled rollout's install is withdrawn first: the consumer is told */
        memset(&need, 0, sizeof(need));
        rc = trk_command_withdrawn(db, consumer, need.rollout, sizeof(need.rollout), &withdrawn,
                                   err);
        if (rc == SECUP_OK && withdrawn)
            rc = issue(t, db, consumer, SECUP_COMMAND_CANCEL, &need, out, cap, len, err);
    }
    if (rc == SECUP_OK && !found && !withdrawn) {
        rc = trk_needed_install(db, consumer, t->cfg.auto_update, &need, &found, err);
        if (rc == SECUP_OK && found)
            rc = issue(t, db, consumer, SECUP_COMMAND_INSTALL, &need, out, cap, len, err);
        else if (rc == SECUP_OK && allow_nothing)
            rc = issue(t, db, consumer, SECUP_COMMAND_NOTHING, NULL, out, cap, len, err);
    }
    if (rc == SECUP_OK)
        rc = db_commit(db, err);
    else
        db_rollback(db);
    db_pool_put(t->pool, db);
    return rc;
}

secup_rc trk_command_decide(struct trk *t, const char *consumer, uint8_t *out, size_t cap,
                            size_t *len, struct secup_err *err)
{
    return decide(t, consumer, false, out, cap, len, err);
}

secup_rc trk_command_report(struct trk *t, struct db *db, const char *consumer, uint8_t *out,
                            size_t cap, size_t *len, struct secup_err *err)
{
    return issue(t, db, consumer, SECUP_COMMAND_REPORT, NULL, out, cap, len, err);
}

static void answer(struct trk *t, struct httpd_req *req, const char *consumer)
{
    uint8_t body[SECUP_COMMAND_MAX_SIZE + 512];
    size_t len = 0;
    struct secup_err err;
    secup_err_clear(&err);
    if (decide(t, consumer, true, body, sizeof(body), &len, &err) != SECUP_OK) {
        httpd_respond_err(req, &err);
        return;
    }
    httpd_respond(req, 200, "application/cose; cose-type=\"cose-sign1\"", body, len);
}

/* ---- parked long polls ---- */

static void parked_wake(void *ctx, struct httpd_req *req)
{
    struct trk_parked *p = ctx;
    answer(p->t, req, p->consumer);
}

static void parked_cleanup(void *ctx, bool completed)
{
    (void)completed;
    struct trk_parked *p = ctx;
    struct trk *t = p->t;
    pthread_mutex_lock(&t->park_lock);
    if (p->listed) { /* ended without a wake (cannot happen, but never leave it listed) */
        for (struct trk_parked **pp = &t->parked; *pp; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&t->park_lock);
    free(p);
}

static const struct httpd_park_ops park_ops = { parked_wake, parked_cleanup };

/* Unlists and wakes the parked polls for which pick() says so. */
static void wake_where(struct trk *t, bool all, uint64_t now)
{
    struct httpd_req *woken[256];
    size_t n;
    do {
        n = 0;
        pthread_mutex_lock(&t->park_lock);
        for (struct trk_parked **pp = &t->parked; *pp && n < 256;) {
            struct trk_parked *p = *pp;
            if (all || p->deadline_ms <= now) {
                *pp = p->next;
                p->listed = false;
                woken[n++] = p->req;
            } else {
                pp = &p->next;
            }
        }
        pthread_mutex_unlock(&t->park_lock);
        for (size_t i = 0; i < n; i++)
            httpd_req_wake(woken[i]);
    } while (n == 256);
}

void trk_wake_all(struct trk *t)
{
    wake_where(t, true, 0);
    trk_push_kick(t); /* consumers not in a long poll are told at their callback URL */
}

/* FNV-1a over every rollout's id, state and wave. */
static bool rollout_row(void *ctx, size_t n, const char *const *v)
{
    uint64_t *h = ctx;
    for (size_t i = 0; i < n; i++) {
        for (const char *p = v[i] ? v[i] : ""; *p; p++)
            *h = (*h ^ (uint8_t)*p) * 1099511628211u;
        *h = (*h ^ 0x1f) * 1099511628211u;
    }
    return true;
}

/* A fingerprint of the rollouts' states, to notice changes made from the command line
 * (another process); 0 when the store cannot say. */
static uint64_t rollouts_fingerprint(struct trk *t)
{
    struct secup_err err;
    uint64_t h = 14695981039346656037u;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = db_exec(db, "SELECT id, state, wave FROM rollouts ORDER BY id", NULL, 0,
                          rollout_row, &h, NULL, &err);
    db_pool_put(t->pool, db);
    return rc == SECUP_OK ? h : 0;
}

void *trk_ticker(void *arg)
{
    struct trk *t = arg;
    uint64_t seen = 0;
    for (unsigned tick = 0;; tick++) {
        pthread_mutex_lock(&t->park_lock);
        bool stop = t->stopping;
        pthread_mutex_unlock(&t->park_lock);
        if (stop)
            break;
        wake_where(t, false, now_ms());
        /* a rollout created, paused, resumed or cancelled with `admin rollout ...` (or a
         * wave opened): the parked polls decide again now, not at their deadline */
        if (tick % (1000 / TICK_MS) == 0) {
            uint64_t fp = rollouts_fingerprint(t);
            if (fp && seen && fp != seen)
                trk_wake_all(t);
            if (fp)
                seen = fp;
        }
        struct timespec ts = { 0, TICK_MS * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

void trk_commands_get(struct trk *t, struct httpd_req *req)
{
    struct secup_err err;
    secup_err_clear(&err);
    const char *h = httpd_req_header(req, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0 || !req_token_ok(h + 7)) {
        trk_refuse_code(req, SECUP_E_AUTH, "commands need the consumer's bearer token");
        return;
    }
    uint64_t wait = 0;
    const char *w = httpd_req_query(req, "wait");
    if (w) {
        char *end = NULL;
        unsigned long long v = strtoull(w, &end, 10);
        if (!*w || !end || *end || w[0] == '-' || v > t->cfg.max_wait) {
            httpd_respond_error(req, SECUP_E_HTTP, "wait must be 0 to %" PRIu64 " seconds",
                                t->cfg.max_wait);
            return;
        }
        wait = v;
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
    if (wait == 0) {
        answer(t, req, c.id);
        return;
    }
    /* something to install now? then no waiting */
    uint8_t body[SECUP_COMMAND_MAX_SIZE + 512];
    size_t len = 0;
    rc = decide(t, c.id, false, body, sizeof(body), &len, &err);
    if (rc != SECUP_OK) {
        httpd_respond_err(req, &err);
        return;
    }
    if (len) {
        httpd_respond(req, 200, "application/cose; cose-type=\"cose-sign1\"", body, len);
        return;
    }
    struct trk_parked *p = calloc(1, sizeof(*p));
    if (!p) {
        httpd_respond_error(req, SECUP_E_NOMEM, "long poll");
        return;
    }
    p->t = t;
    p->req = req;
    snprintf(p->consumer, sizeof(p->consumer), "%s", c.id);
    p->deadline_ms = now_ms() + wait * 1000u;
    httpd_req_park(req, &park_ops, p);
    pthread_mutex_lock(&t->park_lock);
    p->listed = true;
    p->next = t->parked;
    t->parked = p;
    bool stop = t->stopping;
    pthread_mutex_unlock(&t->park_lock);
    if (stop)
        trk_wake_all(t);
}
