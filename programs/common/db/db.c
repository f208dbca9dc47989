/* The database seam (db.h): URL dispatch to a backend's ops table, the checks that both
 * backends share, the single-value helpers and the connection pool. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_backend.h"

struct db {
    const struct db_ops *ops;
    void *impl;
    bool tx_failed; /* a statement failed inside the open transaction */
};

struct db_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned n;         /* connections opened */
    unsigned nfree;     /* how many of free[] are in use */
    struct db **all;    /* every connection, for db_pool_close() */
    struct db **free;   /* a stack of idle connections */
};

struct scheme {
    const char *prefix;
    bool keep_prefix; /* libpq parses "postgresql://" URIs itself */
    const struct db_ops *ops;
};

static const struct scheme schemes[] = {
    { "sqlite:", false, &db_sqlite_ops },
    { "postgresql://", true, &db_pg_ops },
    { "postgres://", true, &db_pg_ops },
    { "pg:", false, &db_pg_ops },
};

static const struct scheme *find_scheme(const char *url)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
            return &schemes[i];
    return NULL;
}

/* The part of url before ':' (at most 16 characters), for "unknown scheme" messages;
 * never the rest, which may hold a password. */
static void url_scheme(const char *url, char *buf, size_t cap)
{
    size_t n = strcspn(url, ":");
    if (n > 16)
        n = 16;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, url, n);
    buf[n] = '\0';
}

static secup_rc resolve(const char *url, const struct db_ops **ops, const char **target,
                        struct secup_err *err)
{
    if (!url)
        return secup_err_set(err, SECUP_E_ARG, "database URL is missing");
    const struct scheme *s = find_scheme(url);
    if (!s) {
        char scheme[24];
        url_scheme(url, scheme, sizeof(scheme));
        return secup_err_set(err, SECUP_E_ARG,
                             "database URL with unknown scheme '%s' (want sqlite:PATH, "
                             "postgresql://..., postgres://... or pg:CONNINFO)",
                             scheme);
    }
    *ops = s->ops;
    *target = s->keep_prefix ? url : url + strlen(s->prefix);
    if ((*target)[0] == '\0')
        return secup_err_set(err, SECUP_E_ARG, "database URL '%s' names no database",
                             s->prefix);
    return SECUP_OK;
}

secup_rc db_open(const char *url, struct db **out, struct secup_err *err)
{
    if (!out)
        return secup_err_set(err, SECUP_E_ARG, "db_open: no output pointer");
    *out = NULL;
    const struct db_ops *ops;
    const char *target;
    secup_rc rc = resolve(url, &ops, &target, err);
    if (rc != SECUP_OK)
        return rc;
    struct db *db = calloc(1, sizeof(*db));
    if (!db)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory opening a database");
    db->ops = ops;
    rc = ops->open(target, &db->impl, err);
    if (rc != SECUP_OK) {
        free(db);
        return rc;
    }
    *out = db;
    return SECUP_OK;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    db->ops->close(db->impl);
    free(db);
}

const char *db_backend(const struct db *db)
{
    return db ? db->ops->name : "none";
}

secup_rc db_exec(struct db *db, const char *sql, const struct db_value *params,
                 size_t nparams, db_row_fn row, void *ctx, int64_t *changes,
                 struct secup_err *err)
{
    if (changes)
        *changes = 0;
    if (!db || !sql)
        return secup_err_set(err, SECUP_E_ARG, "db_exec: no %s", db ? "statement" : "database");
    if (nparams > 0 && !params)
        return secup_err_set(err, SECUP_E_ARG, "db_exec: %zu parameters but no array", nparams);
    if (nparams > 65535)
        return secup_err_set(err, SECUP_E_ARG, "db_exec: %zu parameters (at most 65535)",
                             nparams);
    for (size_t i = 0; i < nparams; i++)
        if (params[i].type != DB_NULL && params[i].type != DB_INT && params[i].type != DB_TEXT)
            return secup_err_set(err, SECUP_E_ARG, "db_exec: parameter $%zu has unknown type %d",
                                 i + 1, (int)params[i].type);
    bool in_tx = db->ops->in_transaction(db->impl);
    if (!in_tx)
        db->tx_failed = false;
    else if (db->tx_failed)
        return secup_err_set(err, SECUP_E_DB,
                             "%s: an earlier statement of this transaction failed; "
                             "it can only be rolled back",
                             db->ops->name);
    secup_rc rc = db->ops->exec(db->impl, sql, params, nparams, row, ctx, changes, err);
    if (rc != SECUP_OK && in_tx)
        db->tx_failed = true;
    return rc;
}

secup_rc db_exec_script(struct db *db, const char *sql, struct secup_err *err)
{
    if (!db || !sql)
        return secup_err_set(err, SECUP_E_ARG, "db_exec_script: no %s",
                             db ? "script" : "database");
    return db->ops->exec_script(db->impl, sql, err);
}

secup_rc db_add_column(struct db *db, const char *table, const char *column, const char *type,
                       struct secup_err *err)
{
    char sql[256];
    if (!db || !table || !column || !type)
        return secup_err_set(err, SECUP_E_ARG, "db_add_column: missing argument");
    int n = snprintf(sql, sizeof(sql), "SELECT %s FROM %s LIMIT 0", column, table);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return secup_err_set(err, SECUP_E_ARG, "db_add_column: names too long");
    struct secup_err probe;
    if (db_exec(db, sql, NULL, 0, NULL, NULL, NULL, &probe) == SECUP_OK)
        return SECUP_OK; /* there already */
    n = snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", table, column, type);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return secup_err_set(err, SECUP_E_ARG, "db_add_column: names too long");
    secup_rc rc = db_exec(db, sql, NULL, 0, NULL, NULL, NULL, err);
    if (rc != SECUP_OK) {
        /* another process may have added it meanwhile */
        snprintf(sql, sizeof(sql), "SELECT %s FROM %s LIMIT 0", column, table);
        if (db_exec(db, sql, NULL, 0, NULL, NULL, NULL, &probe) == SECUP_OK)
            return SECUP_OK;
        secup_err_prefix(err, "upgrading the schema");
    }
    return rc;
}

secup_rc db_begin(struct db *db, struct secup_err *err)
{
    if (!db)
        return secup_err_set(err, SECUP_E_ARG, "db_begin: no database");
    if (db->ops->in_transaction(db->impl))
        return secup_err_set(err, SECUP_E_STATE, "%s: a transaction is already open",
                             db->ops->name);
    db->tx_failed = false;
    return db->ops->begin(db->impl, err);
}

secup_rc db_commit(struct db *db, struct secup_err *err)
{
    if (!db)
        return secup_err_set(err, SECUP_E_ARG, "db_commit: no database");
    if (!db->ops->in_transaction(db->impl))
        return secup_err_set(err, SECUP_E_STATE, "%s: commit without an open transaction",
                             db->ops->name);
    if (db->tx_failed) {
        db_rollback(db);
        return secup_err_set(err, SECUP_E_DB,
                             "%s: commit refused: an earlier statement of the transaction "
                             "failed, so it was rolled back",
                             db->ops->name);
    }
    return db->ops->commit(db->impl, err);
}

void db_rollback(struct db *db)
{
    if (!db)
        return;
    db->tx_failed = false;
    db->ops->rollback(db->impl);
}

static secup_rc savepoint_step(struct db *db, const char *sql, bool allow_failed,
                               struct secup_err *err)
{
    if (!db)
        return secup_err_set(err, SECUP_E_ARG, "savepoint: no database");
    if (!db->ops->in_transaction(db->impl))
        return secup_err_set(err, SECUP_E_STATE, "%s: savepoint outside a transaction",
                             db->ops->name);
    if (db->tx_failed && !allow_failed)
        return secup_err_set(err, SECUP_E_DB,
                             "%s: an earlier statement of this transaction failed; "
                             "it can only be rolled back",
                             db->ops->name);
    secup_rc rc = db->ops->exec_script(db->impl, sql, err);
    if (rc != SECUP_OK)
        db->tx_failed = true;
    return rc;
}

secup_rc db_savepoint(struct db *db, struct secup_err *err)
{
    return savepoint_step(db, "SAVEPOINT secup_sp", false, err);
}

secup_rc db_savepoint_release(struct db *db, struct secup_err *err)
{
    return savepoint_step(db, "RELEASE SAVEPOINT secup_sp", false, err);
}

secup_rc db_savepoint_rollback(struct db *db, struct secup_err *err)
{
    secup_rc rc = savepoint_step(
        db, "ROLLBACK TO SAVEPOINT secup_sp; RELEASE SAVEPOINT secup_sp", true, err);
    if (rc == SECUP_OK)
        db->tx_failed = false;
    return rc;
}

/* The single-value helpers: the first column of the first row. */
struct first_value {
    char *buf;
    size_t cap;
    bool seen;
    bool is_null;
    size_t len;
};

static bool take_first(void *ctx, size_t ncols, const char *const *vals)
{
    struct first_value *fv = ctx;
    fv->seen = true;
    if (ncols == 0 || !vals[0]) {
        fv->is_null = true;
        return false;
    }
    fv->len = strlen(vals[0]);
    if (fv->len < fv->cap)
        memcpy(fv->buf, vals[0], fv->len + 1);
    return false;
}

secup_rc db_query_text(struct db *db, const char *sql, const struct db_value *params,
                       size_t nparams, char *buf, size_t cap, struct secup_err *err)
{
    if (!buf || cap == 0)
        return secup_err_set(err, SECUP_E_ARG, "db_query_text: no output buffer");
    buf[0] = '\0';
    struct first_value fv = { .buf = buf, .cap = cap };
    secup_rc rc = db_exec(db, sql, params, nparams, take_first, &fv, NULL, err);
    if (rc != SECUP_OK)
        return rc;
    char excerpt[80];
    db_sql_excerpt(sql, excerpt, sizeof(excerpt));
    if (!fv.seen)
        return secup_err_set(err, SECUP_E_NOENT, "no row for \"%s\"", excerpt);
    if (fv.is_null)
        return secup_err_set(err, SECUP_E_DB, "value is NULL in \"%s\"", excerpt);
    if (fv.len >= cap) {
        buf[0] = '\0';
        return secup_err_set(err, SECUP_E_BUF_SMALL,
                             "value of %zu bytes does not fit a buffer of %zu for \"%s\"",
                             fv.len, cap, excerpt);
    }
    return SECUP_OK;
}

secup_rc db_query_int(struct db *db, const char *sql, const struct db_value *params,
                      size_t nparams, int64_t *out, struct secup_err *err)
{
    if (!out)
        return secup_err_set(err, SECUP_E_ARG, "db_query_int: no output pointer");
    *out = 0;
    char text[32];
    secup_rc rc = db_query_text(db, sql, params, nparams, text, sizeof(text), err);
    char excerpt[80];
    db_sql_excerpt(sql, excerpt, sizeof(excerpt));
    if (rc == SECUP_E_BUF_SMALL)
        return secup_err_set(err, SECUP_E_DB, "value is not an integer in \"%s\"", excerpt);
    if (rc != SECUP_OK)
        return rc;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE)
        return secup_err_set(err, SECUP_E_DB, "value '%s' is not an integer in \"%s\"", text,
                             excerpt);
    *out = (int64_t)v;
    return SECUP_OK;
}

void db_sql_excerpt(const char *sql, char *buf, size_t cap)
{
    const size_t max = 60;
    if (cap == 0)
        return;
    if (!sql) {
        buf[0] = '\0';
        return;
    }
    while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '\r')
        sql++;
    size_t n = strcspn(sql, "\r\n");
    bool cut = sql[n] != '\0' || n > max;
    if (n > max)
        n = max;
    if (n + 4 > cap)
        n = cap > 4 ? cap - 4 : 0;
    memcpy(buf, sql, n);
    if (cut && cap >= n + 4) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

/* The pool: a stack of idle connections under one mutex; db_pool_get() waits on the
 * condition variable while the stack is empty. */
secup_rc db_pool_open(const char *url, unsigned n, struct db_pool **out,
                      struct secup_err *err)
{
    if (!out)
        return secup_err_set(err, SECUP_E_ARG, "db_pool_open: no output pointer");
    *out = NULL;
    if (n == 0)
        return secup_err_set(err, SECUP_E_ARG, "db_pool_open: a pool of 0 connections");
    const struct db_ops *ops;
    const char *target;
    secup_rc rc = resolve(url, &ops, &target, err);
    if (rc != SECUP_OK)
        return rc;
    if (ops->private_target && ops->private_target(target))
        n = 1; /* every connection would be a separate, empty database */

    struct db_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory for a database pool");
    pool->all = calloc(n, sizeof(*pool->all));
    pool->free = calloc(n, sizeof(*pool->free));
    if (!pool->all || !pool->free) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "out of memory for a database pool");
        goto fail;
    }
    if (pthread_mutex_init(&pool->mu, NULL) != 0) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "cannot create the database pool's mutex");
        goto fail;
    }
    if (pthread_cond_init(&pool->cv, NULL) != 0) {
        pthread_mutex_destroy(&pool->mu);
        rc = secup_err_set(err, SECUP_E_NOMEM, "cannot create the database pool's condition");
        goto fail;
    }
    for (; pool->n < n; pool->n++) {
        rc = db_open(url, &pool->all[pool->n], err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "opening pool connection %u of %u", pool->n + 1, n);
            db_pool_close(pool);
            return rc;
        }
        pool->free[pool->nfree++] = pool->all[pool->n];
    }
    *out = pool;
    return SECUP_OK;
fail:
    free(pool->all);
    free(pool->free);
    free(pool);
    return rc;
}

struct db *db_pool_get(struct db_pool *pool)
{
    if (!pool)
        return NULL;
    pthread_mutex_lock(&pool->mu);
    while (pool->nfree == 0)
        pthread_cond_wait(&pool->cv, &pool->mu);
    struct db *db = pool->free[--pool->nfree];
    pthread_mutex_unlock(&pool->mu);
    return db;
}

void db_pool_put(struct db_pool *pool, struct db *db)
{
    if (!pool || !db)
        return;
    db_rollback(db);
    pthread_mutex_lock(&pool->mu);
    assert(pool->nfree < pool->n); /* more returned than handed out */
    pool->free[pool->nfree++] = db;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

void db_pool_close(struct db_pool *pool)
{
    if (!pool)
        return;
    for (unsigned i = 0; i < pool->n; i++)
        db_close(pool->all[i]);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->all);
    free(pool->free);
    free(pool);
}

void db_col_copy(char *dst, size_t cap, const char *col)
{
    snprintf(dst, cap, "%s", col ? col : "");
}

int64_t db_col_int(const char *col)
{
    return col ? strtoll(col, NULL, 10) : 0;
}

secup_rc db_event(struct db *db, const char *actor, const char *action, const char *object,
                  const char *detail, struct secup_err *err)
{
    struct db_value v[] = { DB_INT_V((int64_t)time(NULL)), DB_TEXT_V(actor), DB_TEXT_V(action),
                            DB_TEXT_V(object), DB_TEXT_V(detail) };
    return db_exec(db, "INSERT INTO events (time, actor, action, object, detail)"
                       " VALUES ($1, $2, $3, $4, $5)",
                   v, 5, NULL, NULL, NULL, err);
}
