/* Report intake with group commit (docs/tracker.md, "Report intake").
 *
 * A status report is authenticated on the HTTP thread that received it: token, quota,
 * reporter, signature (the costly part, done by every thread at once). What it changes
 * in the store is then queued here and its request parked. One committer thread writes
 * every report queued meanwhile in one transaction, each report inside its own savepoint
 * (a refused one, a replay say, is undone alone), advances the rollouts once, and one
 * commit (one fsync) makes the batch durable. Only then is each report answered: a 200
 * still means "stored". When the store is slow, batches grow by themselves; when it is
 * idle, a lone report is written at once. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trk.h"

#define BATCH_MAX 512

void trk_report_free(struct trk_report *r)
{
    if (!r)
        return;
    free(r->components_json);
    free(r->last_json);
    free(r->report_hex);
    for (size_t i = 0; i < r->n_agg; i++)
        free(r->agg_hex[i]);
    free(r);
}

/* What one report changes, inside the batch's transaction. */
static secup_rc apply(struct trk *t, struct db *db, const struct trk_report *r, int64_t now,
                      struct secup_err *err)
{
    /* the quota is checked again here: a flood queued within one batch still counts */
    secup_rc rc = trk_report_store(db, r->consumer, r->counter, r->time, r->safe_mode,
                                   (int64_t)t->cfg.report_quota, r->components_json,
                                   r->last_json, r->report_hex, err);
    if (rc == SECUP_OK)
        rc = trk_report_trim(db, r->consumer, (int64_t)t->cfg.report_history, err);
    if (rc == SECUP_OK)
        rc = trk_commands_settle(db, r->consumer, r->components_json,
                                 r->has_last ? r->last_id : NULL,
                                 r->has_last ? r->last_code : NULL, now, err);
    /* a downstream tracker's aggregate: its consumers' reports, kept as received */
    for (size_t i = 0; rc == SECUP_OK && i < r->n_agg; i++)
        rc = trk_aggregate_put(db, r->consumer, r->agg_reporter[i], r->agg_hex[i], err);
    for (size_t i = 0; rc == SECUP_OK && i < r->n_agg; i++)
        rc = trk_divergence_check(db, r->consumer, r->agg_reporter[i], r->agg_last[i],
                                  r->agg_last_time[i], now, err);
    return rc;
}

static void commit_batch(struct trk *t, struct trk_report *batch, size_t n)
{
    struct secup_err err;
    secup_err_clear(&err);
    int64_t now = (int64_t)time(NULL);
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = db_begin(db, &err);
    size_t stored = 0;
    for (struct trk_report *r = batch; rc == SECUP_OK && r; r = r->next) {
        rc = db_savepoint(db, &err);
        if (rc != SECUP_OK)
            break;
        secup_err_clear(&r->err);
        r->rc = apply(t, db, r, now, &r->err);
        if (r->rc == SECUP_OK) {
            rc = db_savepoint_release(db, &err);
            stored++;
        } else {
            rc = db_savepoint_rollback(db, &err);
        }
    }
    if (rc == SECUP_OK && stored > 0)
        rc = trk_rollouts_advance(db, &err);
    if (rc == SECUP_OK)
        rc = db_commit(db, &err);
    else
        db_rollback(db);
    db_pool_put(t->pool, db);
    if (rc != SECUP_OK) {
        /* nothing of this batch is stored: each report gets the store's error (its own
         * refusal stays, it was undone anyway) */
        trk_log("report intake: a batch of %zu reports was not stored: %s", n, err.msg);
        for (struct trk_report *r = batch; r; r = r->next)
            if (r->rc == SECUP_OK) {
                r->rc = rc;
                r->err = err;
            }
    }
    /* each answered now; a woken request's report is freed by its cleanup */
    for (struct trk_report *r = batch, *next; r; r = next) {
        next = r->next;
        httpd_req_wake(r->req);
    }
}

static void *committer(void *arg)
{
    struct trk *t = arg;
    pthread_mutex_lock(&t->intake_lock);
    for (;;) {
        while (!t->intake_head && !t->intake_stopping)
            pthread_cond_wait(&t->intake_cond, &t->intake_lock);
        if (!t->intake_head)
            break; /* stopping, and everything queued has been answered */
        struct trk_report *batch = t->intake_head, *last = batch;
        size_t n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        t->intake_head = last->next;
        if (!t->intake_head)
            t->intake_tail = NULL;
        last->next = NULL;
        t->intake_queued -= n;
        pthread_mutex_unlock(&t->intake_lock);
        commit_batch(t, batch, n);
        pthread_mutex_lock(&t->intake_lock);
    }
    pthread_mutex_unlock(&t->intake_lock);
    return NULL;
}

static void report_wake(void *ctx, struct httpd_req *req)
{
    struct trk_report *r = ctx;
    if (r->rc != SECUP_OK) {
        httpd_respond_err(req, &r->err);
        return;
    }
    json_t *o = json_pack("{s:s, s:I}", "id", r->consumer, "counter", (json_int_t)r->counter);
    httpd_respond_json(req, 200, o);
    json_decref(o);
}

static void report_cleanup(void *ctx, bool completed)
{
    (void)completed;
    trk_report_free(ctx);
}

static const struct httpd_park_ops report_ops = { report_wake, report_cleanup };

void trk_intake_submit(struct trk *t, struct httpd_req *req, struct trk_report *r)
{
    pthread_mutex_lock(&t->intake_lock);
    bool stopping = t->intake_stopping;
    pthread_mutex_unlock(&t->intake_lock);
    if (stopping) {
        httpd_respond_error(req, SECUP_E_UNAVAILABLE, "the tracker is stopping; report again");
        trk_report_free(r);
        return;
    }
    r->t = t;
    r->req = req;
    r->next = NULL;
    /* parked before it is queued: the committer's wake can only follow the suspension */
    httpd_req_park(req, &report_ops, r);
    pthread_mutex_lock(&t->intake_lock);
    if (t->intake_tail)
        t->intake_tail->next = r;
    else
        t->intake_head = r;
    t->intake_tail = r;
    t->intake_queued++;
    pthread_cond_signal(&t->intake_cond);
    pthread_mutex_unlock(&t->intake_lock);
}

secup_rc trk_intake_start(struct trk *t, struct secup_err *err)
{
    pthread_mutex_init(&t->intake_lock, NULL);
    pthread_cond_init(&t->intake_cond, NULL);
    t->intake_inited = true;
    if (pthread_create(&t->intake, NULL, committer, t) != 0)
        return secup_err_set(err, SECUP_E_NOMEM, "cannot start the report committer thread");
    t->intake_started = true;
    return SECUP_OK;
}

void trk_intake_stop(struct trk *t)
{
    if (!t->intake_inited)
        return;
    pthread_mutex_lock(&t->intake_lock);
    t->intake_stopping = true;
    pthread_cond_signal(&t->intake_cond);
    pthread_mutex_unlock(&t->intake_lock);
    if (t->intake_started)
        pthread_join(t->intake, NULL); /* every queued report is stored and answered first */
    t->intake_started = false;
}

void trk_intake_destroy(struct trk *t)
{
    if (!t->intake_inited)
        return;
    pthread_cond_destroy(&t->intake_cond);
    pthread_mutex_destroy(&t->intake_lock);
    t->intake_inited = false;
}
