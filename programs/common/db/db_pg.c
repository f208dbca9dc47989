/* The PostgreSQL backend of the database seam: the only file that includes <libpq-fe.h>.
 *
 * Statements go through PQexecParams with text parameters ($1..$n as in the SQL): a
 * DB_INT parameter is sent as BIGINT, text and NULL leave the type to the server.
 * Results come back in text form, which is what db_row_fn receives.
 *
 * db_begin() must serialise read-modify-write transactions against each other like
 * SQLite's BEGIN IMMEDIATE does. A READ COMMITTED transaction alone would not (two
 * transactions could read the same value and both write), so each one first takes one
 * transaction-level advisory lock shared by all secup connections; READ COMMITTED gives
 * every later statement a fresh snapshot, so it sees what the previous holder
 * committed. Lock waits end after 5 s like SQLite's busy timeout. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_backend.h"

#define PG_INT8_OID 20
/* The advisory lock key of db_begin(): "secup" in ASCII. */
#define PG_WRITE_LOCK "SELECT pg_advisory_xact_lock(495891149936)"

struct pg {
    PGconn *c;
    bool tx;        /* inside a db_begin() transaction */
    char where[200]; /* "postgresql 'db' on 'host'" for messages; never the password */
};

/* Copies a libpq message onto one line: newlines and tabs become spaces, runs of
 * spaces shrink to one and trailing space is dropped. */
static void pg_one_line(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = in ? in : ""; *p && n + 1 < cap; p++) {
        bool ws = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        if (ws) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap)
            out[n++] = ' ';
        space = false;
        out[n++] = *p;
    }
    out[n] = '\0';
}

static void pg_describe(struct pg *p)
{
    const char *db = PQdb(p->c);
    const char *host = PQhost(p->c);
    const char *port = PQport(p->c);
    snprintf(p->where, sizeof(p->where), "postgresql '%s' on '%s%s%s'", db ? db : "?",
             host && host[0] ? host : "default socket", port && port[0] ? ":" : "",
             port ? port : "");
}

static secup_rc pg_conn_fail(const struct pg *p, const char *what, struct secup_err *err)
{
    char msg[SECUP_ERR_MSG_MAX];
    pg_one_line(PQerrorMessage(p->c), msg, sizeof(msg));
    return secup_err_set(err, SECUP_E_DB, "%s: %s: %s", p->where, what,
                         msg[0] ? msg : "connection failed");
}

/* Checks a result; on failure translates the SQLSTATE and reports the server's
 * message, naming the statement. */
static secup_rc pg_check(const struct pg *p, const PGresult *res, const char *sql,
                         struct secup_err *err)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
        return SECUP_OK;
    char excerpt[80];
    db_sql_excerpt(sql, excerpt, sizeof(excerpt));
    if (!res) {
        char msg[SECUP_ERR_MSG_MAX];
        pg_one_line(PQerrorMessage(p->c), msg, sizeof(msg));
        return secup_err_set(err, SECUP_E_DB, "%s: %s in \"%s\"", p->where,
                             msg[0] ? msg : "no result (out of memory?)", excerpt);
    }
    if (st != PGRES_FATAL_ERROR && st != PGRES_NONFATAL_ERROR)
        return secup_err_set(err, SECUP_E_DB, "%s: unexpected result %s in \"%s\"", p->where,
                             PQresStatus(st), excerpt);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char msg[SECUP_ERR_MSG_MAX];
    pg_one_line(primary ? primary : PQresultErrorMessage(res), msg, sizeof(msg));
    secup_rc rc = SECUP_E_DB;
    if (state && strcmp(state, "23505") == 0) /* unique_violation */
        rc = SECUP_E_EXISTS;
    else if (state && strcmp(state, "53100") == 0) /* disk_full */
        rc = SECUP_E_NOSPACE;
    return secup_err_set(err, rc, "%s: %s [SQLSTATE %s] in \"%s\"", p->where,
                         msg[0] ? msg : "error", state ? state : "none", excerpt);
}

static void pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_close(void *impl)
{
    struct pg *p = impl;
    if (!p)
        return;
    PQfinish(p->c);
    free(p);
}

static secup_rc pg_open(const char *target, void **impl, struct secup_err *err)
{
    struct pg *p = calloc(1, sizeof(*p));
    if (!p)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory opening postgresql");
    /* Settings before "dbname" are defaults: the expanded URL or conninfo overrides
     * them. */
    const char *const keys[] = { "connect_timeout", "fallback_application_name", "dbname",
                                 NULL };
    const char *const vals[] = { "10", "secup", target, NULL };
    p->c = PQconnectdbParams(keys, vals, 1);
    if (!p->c) {
        free(p);
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory connecting to postgresql");
    }
    pg_describe(p);
    if (PQstatus(p->c) != CONNECTION_OK) {
        secup_rc rc = pg_conn_fail(p, "cannot connect", err);
        pg_close(p);
        return rc;
    }
    PQsetNoticeProcessor(p->c, pg_ignore_notice, NULL);
    /* Nothing acknowledged may be lost, whatever the server's default; client_encoding
     * makes text results UTF-8 like SQLite's. */
    static const char setup[] = "SET synchronous_commit = on; SET lock_timeout = '5s'; "
                                "SET client_encoding = 'UTF8'";
    PGresult *res = PQexec(p->c, setup);
    secup_rc rc = pg_check(p, res, setup, err);
    PQclear(res);
    if (rc != SECUP_OK) {
        pg_close(p);
        return rc;
    }
    *impl = p;
    return SECUP_OK;
}

/* A connection that broke outside a transaction is reconnected once before the next
 * statement; inside one it is an error (the transaction is gone). */
static secup_rc pg_ready(struct pg *p, struct secup_err *err)
{
    if (PQstatus(p->c) == CONNECTION_OK)
        return SECUP_OK;
    if (p->tx)
        return pg_conn_fail(p, "connection lost inside a transaction", err);
    PQreset(p->c);
    if (PQstatus(p->c) != CONNECTION_OK)
        return pg_conn_fail(p, "reconnecting", err);
    PQsetNoticeProcessor(p->c, pg_ignore_notice, NULL);
    return SECUP_OK;
}

static bool pg_changes_rows(const char *tag)
{
    static const char *const verbs[] = { "INSERT ", "UPDATE ", "DELETE ", "MERGE " };
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strncmp(tag, verbs[i], strlen(verbs[i])) == 0)
            return true;
    return false;
}

static secup_rc pg_exec(void *impl, const char *sql, const struct db_value *params,
                        size_t nparams, db_row_fn row, void *ctx, int64_t *changes,
                        struct secup_err *err)
{
    struct pg *p = impl;
    secup_rc rc = pg_ready(p, err);
    if (rc != SECUP_OK)
        return rc;

    const char **pv = NULL;
    Oid *types = NULL;
    char(*ints)[24] = NULL;
    const char **vals = NULL;
    PGresult *res = NULL;
    if (nparams > 0) {
        pv = calloc(nparams, sizeof(*pv));
        types = calloc(nparams, sizeof(*types));
        ints = calloc(nparams, sizeof(*ints));
        if (!pv || !types || !ints) {
            rc = secup_err_set(err, SECUP_E_NOMEM, "%s: out of memory for parameters",
                               p->where);
            goto out;
        }
    }
    for (size_t i = 0; i < nparams; i++) {
        if (params[i].type == DB_INT) {
            snprintf(ints[i], sizeof(ints[i]), "%" PRId64, params[i].i);
            pv[i] = ints[i];
            types[i] = PG_INT8_OID;
        } else if (params[i].type == DB_TEXT) {
            pv[i] = params[i].s;
        }
    }
    res = PQexecParams(p->c, sql, (int)nparams, types, pv, NULL, NULL, 0);
    rc = pg_check(p, res, sql, err);
    if (rc != SECUP_OK)
        goto out;

    int ntuples = PQntuples(res);
    int ncols = PQnfields(res);
    if (row && ntuples > 0) {
        vals = calloc(ncols > 0 ? (size_t)ncols : 1, sizeof(*vals));
        if (!vals) {
            rc = secup_err_set(err, SECUP_E_NOMEM, "%s: out of memory reading rows", p->where);
            goto out;
        }
        for (int r = 0; r < ntuples; r++) {
            for (int c = 0; c < ncols; c++)
                vals[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
            if (!row(ctx, (size_t)ncols, vals))
                break;
        }
    }
    if (changes && pg_changes_rows(PQcmdStatus(res)))
        *changes = (int64_t)strtoll(PQcmdTuples(res), NULL, 10);
out:
    PQclear(res);
    free(vals);
    free(pv);
    free(types);
    free(ints);
    return rc;
}

static secup_rc pg_run(struct pg *p, const char *sql, PGresult **out, struct secup_err *err)
{
    *out = NULL;
    secup_rc rc = pg_ready(p, err);
    if (rc != SECUP_OK)
        return rc;
    PGresult *res = PQexec(p->c, sql);
    rc = pg_check(p, res, sql, err);
    if (rc != SECUP_OK) {
        PQclear(res);
        return rc;
    }
    *out = res;
    return SECUP_OK;
}

static secup_rc pg_exec_script(void *impl, const char *sql, struct secup_err *err)
{
    PGresult *res;
    secup_rc rc = pg_run(impl, sql, &res, err);
    PQclear(res);
    return rc;
}

static bool pg_in_transaction(void *impl)
{
    struct pg *p = impl;
    PGTransactionStatusType ts = PQtransactionStatus(p->c);
    return p->tx || ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
}

static void pg_rollback(void *impl)
{
    struct pg *p = impl;
    p->tx = false;
    PGTransactionStatusType ts = PQtransactionStatus(p->c);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(PQexec(p->c, "ROLLBACK"));
}

static secup_rc pg_begin(void *impl, struct secup_err *err)
{
    struct pg *p = impl;
    PGresult *res;
    secup_rc rc = pg_run(p, "BEGIN ISOLATION LEVEL READ COMMITTED", &res, err);
    PQclear(res);
    if (rc != SECUP_OK)
        return rc;
    rc = pg_run(p, PG_WRITE_LOCK, &res, err);
    PQclear(res);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "waiting for the write lock");
        pg_rollback(p);
        return rc;
    }
    p->tx = true;
    return SECUP_OK;
}

static secup_rc pg_commit(void *impl, struct secup_err *err)
{
    struct pg *p = impl;
    if (PQstatus(p->c) != CONNECTION_OK) {
        p->tx = false;
        return pg_conn_fail(p, "connection lost before commit", err);
    }
    PGresult *res = PQexec(p->c, "COMMIT");
    secup_rc rc = pg_check(p, res, "COMMIT", err);
    /* COMMIT of a transaction that an earlier statement aborted "succeeds" as ROLLBACK. */
    if (rc == SECUP_OK && strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        rc = secup_err_set(err, SECUP_E_DB,
                           "%s: commit refused: an earlier statement failed, so the "
                           "transaction was rolled back",
                           p->where);
    PQclear(res);
    pg_rollback(p);
    return rc;
}

const struct db_ops db_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .in_transaction = pg_in_transaction,
    .private_target = NULL,
};
