/* The SQLite backend of the database seam: the only file that includes <sqlite3.h>.
 *
 * Every file database runs in WAL mode with synchronous=FULL, so that a commit that
 * returned is on disk, and with foreign keys enforced. A busy database is waited for up
 * to 5 s (the busy handler), and db_begin() is BEGIN IMMEDIATE so a transaction holds
 * the write lock from its first statement. Parameters are written $1..$n in SQL; SQLite
 * sees those as named parameters "$1".."$n", so they are bound by name. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "db_backend.h"

#define SQ_BUSY_TIMEOUT_MS 5000

#define SQ_CACHE 48 /* prepared statements kept per connection */

struct sq {
    sqlite3 *h;
    char *path; /* for messages */
    /* Statements are prepared once per connection and reused: parsing SQL was the largest
     * cost of a small query. The key is the SQL text (its address first, the text to be
     * sure); a full cache replaces entries in turn. */
    struct {
        const char *key;
        sqlite3_stmt *st;
    } cache[SQ_CACHE];
    size_t next_victim;
    bool holds_writer; /* sq_writers is held for this connection's transaction */
};

static pthread_once_t sq_once = PTHREAD_ONCE_INIT;

/* Writers of this process queue here rather than in SQLite's busy handler, which sleeps
 * in steps of up to 100 ms: a thread waiting for the write lock wakes the moment it is
 * free. Waiting is bounded like the busy timeout. */
static pthread_mutex_t sq_writers = PTHREAD_MUTEX_INITIALIZER;

static void sq_rollback(void *impl);

/* Process-wide settings, before the first connection: no global memory statistics (a
 * mutex taken on every allocation). */
static void sq_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* A cached statement for sql, or NULL. */
static sqlite3_stmt *sq_cached(struct sq *s, const char *sql)
{
    for (size_t i = 0; i < SQ_CACHE; i++) {
        if (s->cache[i].st && (s->cache[i].key == sql || strcmp(s->cache[i].key, sql) == 0))
            return s->cache[i].st;
    }
    return NULL;
}

static void sq_cache_put(struct sq *s, sqlite3_stmt *st)
{
    size_t i = s->next_victim;
    s->next_victim = (s->next_victim + 1) % SQ_CACHE;
    if (s->cache[i].st)
        sqlite3_finalize(s->cache[i].st);
    s->cache[i].st = st;
    s->cache[i].key = sqlite3_sql(st); /* owned by the statement */
}

static bool sq_is_memory(const char *target)
{
    return strcmp(target, ":memory:") == 0 || strstr(target, "mode=memory") != NULL;
}

static secup_rc sq_rc(int code)
{
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
        return SECUP_E_EXISTS;
    if ((code & 0xff) == SQLITE_FULL)
        return SECUP_E_NOSPACE;
    return SECUP_E_DB;
}

/* Reports the connection's current error for code, naming the statement. */
static secup_rc sq_fail(const struct sq *s, int code, const char *what, struct secup_err *err)
{
    char excerpt[80];
    db_sql_excerpt(what, excerpt, sizeof(excerpt));
    return secup_err_set(err, sq_rc(code), "sqlite '%s': %s (%s) in \"%s\"", s->path,
                         sqlite3_errmsg(s->h), sqlite3_errstr(code), excerpt);
}

static void sq_close(void *impl)
{
    struct sq *s = impl;
    if (!s)
        return;
    for (size_t i = 0; i < SQ_CACHE; i++)
        sqlite3_finalize(s->cache[i].st);
    sq_rollback(s); /* a transaction left open releases the writers' lock */
    sqlite3_close_v2(s->h);
    free(s->path);
    free(s);
}

/* Runs a pragma that returns one text row (journal_mode) and copies the answer. */
static int sq_pragma_text(struct sq *s, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(s->h, sql, -1, &st, NULL);
    if (r != SQLITE_OK)
        return r;
    buf[0] = '\0';
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(buf, cap, "%s", v ? (const char *)v : "");
        r = SQLITE_OK;
    } else if (r == SQLITE_DONE) {
        r = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return r;
}

static secup_rc sq_open(const char *target, void **impl, struct secup_err *err)
{
    pthread_once(&sq_once, sq_global_init);
    struct sq *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(target))) {
        free(s);
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory opening sqlite '%s'", target);
    }
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                      SQLITE_OPEN_URI;
    int r = sqlite3_open_v2(target, &s->h, flags, NULL);
    if (r != SQLITE_OK) {
        secup_rc rc = s->h ? secup_err_set(err, sq_rc(r), "sqlite '%s': cannot open: %s",
                                           target, sqlite3_errmsg(s->h))
                           : secup_err_set(err, SECUP_E_NOMEM,
                                           "sqlite '%s': out of memory", target);
        sq_close(s);
        return rc;
    }
    sqlite3_extended_result_codes(s->h, 1);
    sqlite3_busy_timeout(s->h, SQ_BUSY_TIMEOUT_MS);

    char mode[32];
    r = sq_pragma_text(s, "PRAGMA journal_mode=WAL", mode, sizeof(mode));
    if (r != SQLITE_OK) {
        secup_rc rc = sq_fail(s, r, "PRAGMA journal_mode=WAL", err);
        secup_err_prefix(err, "opening database");
        sq_close(s);
        return rc;
    }
    if (strcmp(mode, "wal") != 0 && !sq_is_memory(target)) {
        secup_err_set(err, SECUP_E_DB,
                      "sqlite '%s': cannot switch to WAL journal mode (still '%s')", target,
                      mode);
        sq_close(s);
        return SECUP_E_DB;
    }
    static const char setup[] = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                " PRAGMA cache_size=-16384"; /* KiB per connection */
    r = sqlite3_exec(s->h, setup, NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        secup_rc rc = sq_fail(s, r, setup, err);
        secup_err_prefix(err, "opening database");
        sq_close(s);
        return rc;
    }
    *impl = s;
    return SECUP_OK;
}

/* Parses a parameter name "$N" (N in 1..max, no leading zero); 0 if it is not one. */
static size_t sq_param_number(const char *name, size_t max)
{
    if (!name || name[0] != '$' || name[1] < '1' || name[1] > '9')
        return 0;
    size_t n = 0;
    for (const char *p = name + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        n = n * 10 + (size_t)(*p - '0');
        if (n > max)
            return 0;
    }
    return n;
}

static int sq_bind(sqlite3_stmt *st, int idx, const struct db_value *v)
{
    if (v->type == DB_INT)
        return sqlite3_bind_int64(st, idx, (sqlite3_int64)v->i);
    if (v->type == DB_TEXT && v->s)
        return sqlite3_bind_text64(st, idx, v->s, strlen(v->s), SQLITE_STATIC, SQLITE_UTF8);
    return sqlite3_bind_null(st, idx);
}

static bool sq_only_space(const char *p)
{
    for (; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != ';')
            return false;
    return true;
}

static secup_rc sq_exec(void *impl, const char *sql, const struct db_value *params,
                        size_t nparams, db_row_fn row, void *ctx, int64_t *changes,
                        struct secup_err *err)
{
    struct sq *s = impl;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    const char **vals = NULL;
    secup_rc rc = SECUP_OK;
    char excerpt[80];

    int r = SQLITE_OK;
    bool cached = false;
    st = sq_cached(s, sql);
    if (st) {
        cached = true;
    } else {
        r = sqlite3_prepare_v3(s->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
        if (r != SQLITE_OK)
            return sq_fail(s, r, sql, err);
        if (!st) /* only whitespace or comments */
            return SECUP_OK;
    }
    if (!cached && tail && !sq_only_space(tail)) {
        db_sql_excerpt(sql, excerpt, sizeof(excerpt));
        rc = secup_err_set(err, SECUP_E_DB,
                           "sqlite '%s': more than one statement in \"%s\" "
                           "(db_exec_script runs scripts)",
                           s->path, excerpt);
        goto out;
    }

    int nbind = sqlite3_bind_parameter_count(st);
    for (int i = 1; i <= nbind; i++) {
        const char *name = sqlite3_bind_parameter_name(st, i);
        size_t k = sq_param_number(name, nparams);
        if (k == 0) {
            db_sql_excerpt(sql, excerpt, sizeof(excerpt));
            rc = secup_err_set(err, SECUP_E_DB,
                               "sqlite '%s': parameter '%s' in \"%s\" is not one of $1..$%zu",
                               s->path, name ? name : "?", excerpt, nparams);
            goto out;
        }
        r = sq_bind(st, i, &params[k - 1]);
        if (r != SQLITE_OK) {
            rc = sq_fail(s, r, sql, err);
            goto out;
        }
    }

    int ncols = sqlite3_column_count(st);
    if (row && ncols > 0) {
        vals = calloc((size_t)ncols, sizeof(*vals));
        if (!vals) {
            rc = secup_err_set(err, SECUP_E_NOMEM, "sqlite '%s': out of memory", s->path);
            goto out;
        }
    }
    sqlite3_int64 before = sqlite3_total_changes64(s->h);
    bool want_rows = row != NULL;
    for (;;) {
        r = sqlite3_step(st);
        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = sq_fail(s, r, sql, err);
            goto out;
        }
        if (!want_rows)
            continue;
        for (int c = 0; c < ncols; c++) {
            vals[c] = NULL;
            if (sqlite3_column_type(st, c) == SQLITE_NULL)
                continue;
            vals[c] = (const char *)sqlite3_column_text(st, c);
            if (!vals[c]) {
                rc = secup_err_set(err, SECUP_E_NOMEM, "sqlite '%s': out of memory reading a row",
                                   s->path);
                goto out;
            }
        }
        if (!row(ctx, (size_t)ncols, vals)) {
            /* A query may stop here; a write (INSERT ... RETURNING) runs to its end so
             * that it completes and counts its changes, as on PostgreSQL. */
            if (sqlite3_stmt_readonly(st))
                break;
            want_rows = false;
        }
    }
    /* sqlite3_changes64() keeps the count of the last INSERT/UPDATE/DELETE, so it is read
     * only when this statement changed something. */
    if (changes && !sqlite3_stmt_readonly(st) && sqlite3_total_changes64(s->h) != before)
        *changes = (int64_t)sqlite3_changes64(s->h);
out:
    free(vals);
    if (cached) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else if (rc == SECUP_OK || tail == NULL || sq_only_space(tail)) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sq_cache_put(s, st);
    } else {
        sqlite3_finalize(st);
    }
    return rc;
}

static secup_rc sq_exec_script(void *impl, const char *sql, struct secup_err *err)
{
    struct sq *s = impl;
    char *msg = NULL;
    int r = sqlite3_exec(s->h, sql, NULL, NULL, &msg);
    if (r == SQLITE_OK)
        return SECUP_OK;
    char excerpt[80];
    db_sql_excerpt(sql, excerpt, sizeof(excerpt));
    secup_rc rc = secup_err_set(err, sq_rc(r), "sqlite '%s': %s (%s) in script \"%s\"",
                                s->path, msg ? msg : sqlite3_errmsg(s->h), sqlite3_errstr(r),
                                excerpt);
    sqlite3_free(msg);
    return rc;
}

static bool sq_in_transaction(void *impl)
{
    struct sq *s = impl;
    return sqlite3_get_autocommit(s->h) == 0;
}

static void sq_release_writer(struct sq *s)
{
    if (s->holds_writer) {
        s->holds_writer = false;
        pthread_mutex_unlock(&sq_writers);
    }
}

static void sq_rollback(void *impl)
{
    struct sq *s = impl;
    if (sq_in_transaction(s))
        sqlite3_exec(s->h, "ROLLBACK", NULL, NULL, NULL);
    sq_release_writer(s);
}

static secup_rc sq_begin(void *impl, struct secup_err *err)
{
    struct sq *s = impl;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SQ_BUSY_TIMEOUT_MS / 1000;
    if (pthread_mutex_timedlock(&sq_writers, &until) != 0)
        return secup_err_set(err, SECUP_E_DB,
                             "sqlite '%s': database is locked by another writer of this process "
                             "for %d s",
                             s->path, SQ_BUSY_TIMEOUT_MS / 1000);
    s->holds_writer = true;
    int r = sqlite3_exec(s->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        sq_release_writer(s);
        return sq_fail(s, r, "BEGIN IMMEDIATE", err);
    }
    return SECUP_OK;
}

static secup_rc sq_commit(void *impl, struct secup_err *err)
{
    struct sq *s = impl;
    int r = sqlite3_exec(s->h, "COMMIT", NULL, NULL, NULL);
    if (r == SQLITE_OK) {
        sq_release_writer(s);
        return SECUP_OK;
    }
    secup_rc rc = sq_fail(s, r, "COMMIT", err);
    sq_rollback(s);
    return rc;
}

const struct db_ops db_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .exec_script = sq_exec_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .in_transaction = sq_in_transaction,
    .private_target = sq_is_memory,
};
