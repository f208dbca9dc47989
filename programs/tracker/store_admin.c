/* The tracker's administrator tokens and consumers' callback URLs ("poll now"): their
 * tables and queries, for SQLite and PostgreSQL (docs/tracker.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tracker.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS admin_tokens ("
    " name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, created BIGINT NOT NULL,"
    " revoked BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS callbacks ("
    " consumer TEXT PRIMARY KEY REFERENCES consumers(id) ON DELETE CASCADE,"
    " url TEXT NOT NULL, updated BIGINT NOT NULL, failures BIGINT NOT NULL DEFAULT 0,"
    " next_try BIGINT NOT NULL DEFAULT 0, pushed TEXT, pending TEXT,"
    " pending_expires BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS freshness ("
    " consumer TEXT PRIMARY KEY REFERENCES consumers(id) ON DELETE CASCADE,"
    " fresh_until BIGINT NOT NULL);";

secup_rc trk_schema_admin(struct db *db, struct secup_err *err)
{
    return db_exec_script(db, schema, err);
}

/* ---- freshness: how long the consumer's newest signed statement is valid ---- */

secup_rc trk_freshness_set(struct db *db, const char *consumer, int64_t until,
                           struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(consumer), DB_INT_V(until) };
    return db_exec(db, "INSERT INTO freshness (consumer, fresh_until) VALUES ($1, $2)"
                       " ON CONFLICT (consumer) DO UPDATE SET fresh_until ="
                       " CASE WHEN freshness.fresh_until > $2 THEN freshness.fresh_until ELSE $2 END",
                   v, 2, NULL, NULL, NULL, err);
}

/* ---- administrator tokens ---- */

secup_rc trk_admin_token_add(struct db *db, const char *name, const char *hash,
                             struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(name), DB_TEXT_V(hash), DB_INT_V(time(NULL)) };
    secup_rc rc = db_exec(db, "INSERT INTO admin_tokens (name, token_hash, created)"
                              " VALUES ($1, $2, $3)",
                          v, 3, NULL, NULL, NULL, err);
    if (rc == SECUP_E_EXISTS)
        secup_err_set(err, SECUP_E_EXISTS, "an administrator token named '%s' exists", name);
    return rc;
}

secup_rc trk_admin_token_revoke(struct db *db, const char *name, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_INT_V(time(NULL)), DB_TEXT_V(name) };
    secup_rc rc = db_exec(db, "UPDATE admin_tokens SET revoked = $1 WHERE name = $2"
                              " AND revoked = 0",
                          v, 2, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        rc = secup_err_set(err, SECUP_E_NOENT, "no live administrator token named '%s'", name);
    return rc;
}

static bool token_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 3)
        return false;
    json_t *o = json_pack("{s:s, s:I, s:b}", "name", v[0], "created", (json_int_t)db_col_int(v[1]),
                          "revoked", db_col_int(v[2]) != 0);
    if (db_col_int(v[2]))
        json_object_set_new(o, "revoked_at", json_integer(db_col_int(v[2])));
    json_array_append_new(ctx, o);
    return true;
}

secup_rc trk_admin_token_list(struct db *db, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    secup_rc rc = db_exec(db, "SELECT name, created, revoked FROM admin_tokens ORDER BY name",
                          NULL, 0, token_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

secup_rc trk_admin_by_token(struct db *db, const char *hash, char name[TRK_ID_MAX + 1],
                            struct secup_err *err)
{
    name[0] = '\0';
    struct db_value v[] = { DB_TEXT_V(hash) };
    secup_rc rc = db_query_text(db, "SELECT name FROM admin_tokens WHERE token_hash = $1"
                                    " AND revoked = 0",
                                v, 1, name, TRK_ID_MAX + 1, err);
    if (rc == SECUP_E_NOENT)
        rc = secup_err_set(err, SECUP_E_AUTH, "unknown or revoked administrator token");
    return rc;
}

/* ---- callbacks ---- */

secup_rc trk_callback_set(struct db *db, const char *consumer, const char *url,
                          struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(consumer), DB_TEXT_V(url), DB_INT_V(time(NULL)) };
    /* a new address is tried at once, with nothing remembered of the old one */
    return db_exec(db, "INSERT INTO callbacks (consumer, url, updated) VALUES ($1, $2, $3)"
                       " ON CONFLICT (consumer) DO UPDATE SET url = $2, updated = $3,"
                       " failures = 0, next_try = 0, pushed = NULL",
                   v, 3, NULL, NULL, NULL, err);
}

static bool cb_row(void *ctx, size_t n, const char *const *v)
{
    struct trk_callback *c = ctx;
    if (n < 7)
        return false;
    db_col_copy(c->consumer, sizeof(c->consumer), v[0]);
    db_col_copy(c->url, sizeof(c->url), v[1]);
    c->failures = db_col_int(v[2]);
    c->next_try = db_col_int(v[3]);
    db_col_copy(c->pushed, sizeof(c->pushed), v[4]);
    c->has_pending = v[5] != NULL && v[5][0];
    c->pending_expires = db_col_int(v[6]);
    return false;
}

#define CB_COLS "consumer, url, failures, next_try, pushed, pending, pending_expires"

secup_rc trk_callback_get(struct db *db, const char *consumer, struct trk_callback *c,
                          bool *found, struct secup_err *err)
{
    memset(c, 0, sizeof(*c));
    struct db_value v[] = { DB_TEXT_V(consumer) };
    secup_rc rc = db_exec(db, "SELECT " CB_COLS " FROM callbacks WHERE consumer = $1", v, 1,
                          cb_row, c, NULL, err);
    *found = rc == SECUP_OK && c->consumer[0];
    return rc;
}

secup_rc trk_callback_pending(struct db *db, const char *consumer, char *hex, size_t cap,
                              struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(consumer) };
    return db_query_text(db, "SELECT pending FROM callbacks WHERE consumer = $1"
                             " AND pending IS NOT NULL",
                         v, 1, hex, cap, err);
}

static bool due_row(void *ctx, size_t n, const char *const *v)
{
    if (n >= 1 && v[0])
        json_array_append_new(ctx, json_string(v[0]));
    return true;
}

secup_rc trk_callbacks_due(struct db *db, int64_t now, size_t max, json_t **out,
                           struct secup_err *err)
{
    json_t *list = json_array();
    struct db_value v[] = { DB_INT_V(now), DB_INT_V((int64_t)max) };
    secup_rc rc = db_exec(db, "SELECT consumer FROM callbacks WHERE next_try <= $1"
                              " ORDER BY next_try, consumer LIMIT $2",
                          v, 2, due_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

secup_rc trk_callback_queue(struct db *db, const char *consumer, const char *body_hex,
                            int64_t expires, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_TEXT_V(consumer), DB_TEXT_V(body_hex), DB_INT_V(expires) };
    /* a poke is sent at once: the back-off of earlier failures does not hold it back */
    secup_rc rc = db_exec(db, "UPDATE callbacks SET pending = $2, pending_expires = $3,"
                              " next_try = 0 WHERE consumer = $1",
                          v, 3, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        rc = secup_err_set(err, SECUP_E_STATE,
                           "'%s' has registered no callback URL: it hears of commands only when it polls",
                           consumer);
    return rc;
}

secup_rc trk_callback_done(struct db *db, const char *consumer, bool delivered,
                           bool was_pending, const char *pushed, int64_t now,
                           int64_t backoff_initial, int64_t backoff_max, struct secup_err *err)
{
    if (delivered) {
        struct db_value v[] = { DB_TEXT_V(consumer), DB_TEXT_V(pushed), DB_INT_V(was_pending) };
        return db_exec(db, "UPDATE callbacks SET failures = 0, next_try = 0,"
                           " pushed = COALESCE($2, pushed),"
                           " pending = CASE WHEN $3 = 1 THEN NULL ELSE pending END"
                           " WHERE consumer = $1",
                       v, 3, NULL, NULL, NULL, err);
    }
    /* back-off: initial, doubled per failure, at most max */
    struct trk_callback c;
    bool found = false;
    secup_rc rc = trk_callback_get(db, consumer, &c, &found, err);
    if (rc != SECUP_OK || !found)
        return rc;
    int64_t delay = backoff_initial;
    for (int64_t i = 0; i < c.failures && delay < backoff_max; i++)
        delay *= 2;
    if (delay > backoff_max)
        delay = backoff_max;
    struct db_value v[] = { DB_TEXT_V(consumer), DB_INT_V(now + delay) };
    return db_exec(db, "UPDATE callbacks SET failures = failures + 1, next_try = $2"
                       " WHERE consumer = $1",
                   v, 2, NULL, NULL, NULL, err);
}

secup_rc trk_callback_drop_expired(struct db *db, int64_t now, struct secup_err *err)
{
    struct db_value v[] = { DB_INT_V(now) };
    return db_exec(db, "UPDATE callbacks SET pending = NULL WHERE pending IS NOT NULL"
                       " AND pending_expires <= $1",
                   v, 1, NULL, NULL, NULL, err);
}

static bool target_row(void *ctx, size_t n, const char *const *v)
{
    if (n >= 2)
        json_array_append_new(ctx, json_pack("{s:s, s:I}", "consumer", v[0], "wave",
                                             (json_int_t)db_col_int(v[1])));
    return true;
}

secup_rc trk_rollout_targets(struct db *db, const char *id, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "SELECT consumer, wave FROM rollout_targets WHERE rollout = $1"
                              " ORDER BY wave, consumer",
                          v, 1, target_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}
