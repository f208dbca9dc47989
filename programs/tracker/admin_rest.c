/* The REST admin API of secup-tracker, /v1/admin/... (docs/tracker.md "The REST admin
 * API"): the administrator actions of `secup-tracker admin` (admin.c, the same functions)
 * for holders of an administrator bearer token (`admin token add NAME`, stored as its
 * SHA-256, revocable). JSON bodies and answers; every refusal is
 * {"error": NAME, "message": ...} and changes nothing; every action is in the event log
 * with the actor "admin:NAME". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_req.h"
#include "reqparse.h"
#include "token.h"
#include "trk.h"

#define ADMIN_BODY_MAX (64 * 1024)
#define ARG_MAX 160

/* ---- small JSON bodies ---- */

struct small_body {
    struct trk *t;
    trk_body_fn done;
    char args[2][ARG_MAX];
    size_t len, max;
    uint8_t buf[];
};

static secup_rc small_data(void *ctx, struct httpd_req *req, const uint8_t *p, size_t n,
                           struct secup_err *err)
{
    (void)req;
    struct small_body *b = ctx;
    if (n > b->max - b->len)
        return secup_err_set(err, SECUP_E_LIMIT_BODY, "body larger than %zu bytes", b->max);
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return SECUP_OK;
}

static void small_done(void *ctx, struct httpd_req *req)
{
    struct small_body *b = ctx;
    const char *args[2] = { b->args[0], b->args[1] };
    b->done(b->t, req, args, b->buf, b->len);
}

static void small_cleanup(void *ctx, bool completed)
{
    (void)completed;
    free(ctx);
}

static const struct httpd_body_ops small_ops = { small_data, NULL, small_done, small_cleanup };

void trk_accept_json(struct trk *t, struct httpd_req *req, size_t max, trk_body_fn done,
                     const char *a0, const char *a1)
{
    struct small_body *b = calloc(1, sizeof(*b) + max);
    if (!b) {
        httpd_respond_error(req, SECUP_E_NOMEM, "body buffer");
        return;
    }
    b->t = t;
    b->done = done;
    b->max = max;
    snprintf(b->args[0], ARG_MAX, "%s", a0 ? a0 : "");
    snprintf(b->args[1], ARG_MAX, "%s", a1 ? a1 : "");
    httpd_req_accept_body(req, max, &small_ops, b);
}

/* ---- authentication ---- */

/* The administrator behind the request's bearer token, or the refusal (answered). */
static bool admin_auth(struct trk *t, struct httpd_req *req, char actor[TRK_ID_MAX + 8])
{
    struct secup_err err;
    secup_err_clear(&err);
    const char *h = httpd_req_header(req, "Authorization");
    secup_rc rc = SECUP_OK;
    if (!h)
        rc = secup_err_set(&err, SECUP_E_AUTH, "admin routes need an administrator bearer token");
    else if (strncmp(h, "Bearer ", 7) != 0 || !req_token_ok(h + 7))
        rc = secup_err_set(&err, SECUP_E_AUTH, "the Authorization header is not 'Bearer <token>'");
    char hash[TOKEN_HASH_HEX], name[TRK_ID_MAX + 1];
    if (rc == SECUP_OK) {
        token_hash(h + 7, hash);
        struct db *db = db_pool_get(t->pool);
        rc = trk_admin_by_token(db, hash, name, &err);
        if (rc == SECUP_E_AUTH) {
            /* a consumer's token is known, but gives no right here */
            struct trk_consumer c;
            struct secup_err e2;
            if (trk_consumer_by_token(db, hash, &c, &e2) == SECUP_OK)
                rc = secup_err_set(&err, SECUP_E_FORBIDDEN,
                                   "'%s' is a consumer: admin routes need an administrator token",
                                   c.id);
        }
        db_pool_put(t->pool, db);
    }
    if (rc != SECUP_OK) {
        trk_log("refused %s %.200s: %s [%s]", httpd_req_method(req), httpd_req_path(req),
                err.msg, secup_rc_name(rc));
        httpd_respond_err(req, &err);
        return false;
    }
    snprintf(actor, TRK_ID_MAX + 8, "admin:%s", name);
    return true;
}

/* ---- answers ---- */

static void answer(struct httpd_req *req, unsigned status, secup_rc rc, json_t *out,
                   const struct secup_err *err)
{
    if (rc != SECUP_OK)
        httpd_respond_err(req, err);
    else
        httpd_respond_json(req, status, out);
    json_decref(out);
}

/* POST /v1/admin/rollouts {"id", "digest", "canary", "max_failures", "consumers"} */
static void rollout_create_done(struct trk *t, struct httpd_req *req, const char *const *args,
                                const uint8_t *p, size_t n)
{
    struct secup_err err;
    secup_err_clear(&err);
    json_t *out = NULL;
    struct trk_rollout_req rr;
    secup_rc rc = trk_rollout_req_parse(p, n, &rr, &err);
    if (rc == SECUP_OK) {
        struct db *db = db_pool_get(t->pool);
        rc = trk_op_rollout_create(db, args[0], rr.id, rr.digest, rr.canary, rr.max_failure_pct,
                                   rr.only, rr.n_only, &out, &err);
        db_pool_put(t->pool, db);
    }
    trk_rollout_req_free(&rr);
    answer(req, 201, rc, out, &err);
    if (rc == SECUP_OK)
        trk_push_kick(t);
}

static void rollout_step(struct trk *t, struct httpd_req *req, const char *actor,
                         const char *id, const char *verb)
{
    struct secup_err err;
    secup_err_clear(&err);
    json_t *out = NULL;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_op_rollout_step(db, actor, id, verb, &out, &err);
    db_pool_put(t->pool, db);
    answer(req, 200, rc, out, &err);
    if (rc == SECUP_OK)
        trk_push_kick(t);
}

static void poke(struct trk *t, struct httpd_req *req, const char *actor, const char *id)
{
    struct secup_err err;
    secup_err_clear(&err);
    json_t *out = NULL;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_poke(t, db, actor, id, &out, &err);
    db_pool_put(t->pool, db);
    answer(req, 200, rc, out, &err);
}

static void step_done(struct trk *t, struct httpd_req *req, const char *const *args,
                      const uint8_t *p, size_t n)
{
    (void)p;
    if (n != 0) { /* a body meant for another route is not half-understood */
        httpd_respond_error(req, SECUP_E_JSON, "this route takes no body");
        return;
    }
    /* args: actor, "ID/verb" */
    char id[ARG_MAX];
    snprintf(id, sizeof(id), "%s", args[1]);
    char *slash = strchr(id, '/');
    if (!slash) {
        httpd_respond_error(req, SECUP_E_STATE, "lost route");
        return;
    }
    *slash = '\0';
    if (strcmp(slash + 1, "poke") == 0)
        poke(t, req, args[0], id);
    else
        rollout_step(t, req, args[0], id, slash + 1);
}

/* ---- the router ---- */

void trk_admin_route(struct trk *t, struct httpd_req *req, const struct req_route *r)
{
    char actor[TRK_ID_MAX + 8];
    if (!admin_auth(t, req, actor))
        return;
    static const char *const consumers[] = { "v1", "admin", "consumers" };
    static const char *const consumer[] = { "v1", "admin", "consumers", NULL };
    static const char *const poke_r[] = { "v1", "admin", "consumers", NULL, "poke" };
    static const char *const manifests[] = { "v1", "admin", "manifests" };
    static const char *const rollouts[] = { "v1", "admin", "rollouts" };
    static const char *const rollout[] = { "v1", "admin", "rollouts", NULL };
    static const char *const step[] = { "v1", "admin", "rollouts", NULL, NULL };
    struct secup_err err;
    secup_err_clear(&err);
    json_t *out = NULL;
    secup_rc rc;
    struct db *db;
    if (req_match(r, "GET", 3, consumers)) {
        const char *state = httpd_req_query(req, "state");
        const char *cls = httpd_req_query(req, "class");
        db = db_pool_get(t->pool);
        rc = trk_op_consumer_list(db, actor, (int64_t)t->cfg.unreachable_after, state, cls, &out,
                                  &err);
        db_pool_put(t->pool, db);
        answer(req, 200, rc, out, &err);
    } else if (req_match(r, "GET", 4, consumer)) {
        db = db_pool_get(t->pool);
        rc = trk_op_consumer_show(db, actor, (int64_t)t->cfg.unreachable_after, r->seg[3], &out,
                                  &err);
        db_pool_put(t->pool, db);
        answer(req, 200, rc, out, &err);
    } else if (req_match(r, "POST", 5, poke_r)) {
        char arg[ARG_MAX];
        snprintf(arg, sizeof(arg), "%.64s/poke", r->seg[3]);
        trk_accept_json(t, req, ADMIN_BODY_MAX, step_done, actor, arg);
    } else if (req_match(r, "GET", 3, manifests)) {
        db = db_pool_get(t->pool);
        rc = trk_op_manifest_list(db, actor, &out, &err);
        db_pool_put(t->pool, db);
        answer(req, 200, rc, out, &err);
    } else if (req_match(r, "GET", 3, rollouts)) {
        db = db_pool_get(t->pool);
        rc = trk_op_rollout_list(db, actor, &out, &err);
        db_pool_put(t->pool, db);
        answer(req, 200, rc, out, &err);
    } else if (req_match(r, "POST", 3, rollouts)) {
        trk_accept_json(t, req, ADMIN_BODY_MAX, rollout_create_done, actor, NULL);
    } else if (req_match(r, "GET", 4, rollout)) {
        db = db_pool_get(t->pool);
        rc = trk_op_rollout_show(db, actor, r->seg[3], &out, &err);
        db_pool_put(t->pool, db);
        answer(req, 200, rc, out, &err);
    } else if (req_match(r, "POST", 5, step) &&
               (strcmp(r->seg[4], "pause") == 0 || strcmp(r->seg[4], "resume") == 0 ||
                strcmp(r->seg[4], "cancel") == 0)) {
        char arg[ARG_MAX];
        snprintf(arg, sizeof(arg), "%.64s/%.16s", r->seg[3], r->seg[4]);
        trk_accept_json(t, req, ADMIN_BODY_MAX, step_done, actor, arg);
    } else {
        httpd_respond_error(req, SECUP_E_NOENT, "no admin route %s %.200s", r->method,
                            httpd_req_path(req));
    }
}
