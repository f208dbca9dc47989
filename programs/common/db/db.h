/* The database seam of secup-server and secup-tracker (STYLE.md section 6).
 *
 * One small interface, two backends chosen at run time by the URL in the configuration:
 *   sqlite:PATH               SQLite 3, WAL, the zero-setup default ("sqlite::memory:" in tests)
 *   postgresql://...          PostgreSQL through libpq (any libpq connection URI;
 *   postgres://...            "host=/run/x dbname=y" style strings need the "pg:" prefix)
 *   pg:CONNINFO
 *
 * SQL is written once for both backends: parameters are $1..$n, types are BIGINT and
 * TEXT (binary data as lowercase hex), and conflicts are handled with
 * ON CONFLICT ... DO NOTHING / DO UPDATE and RETURNING, which both support.
 *
 * A struct db is one connection and is used by one thread at a time; a struct db_pool
 * hands connections to the threads of a daemon. */
#ifndef SECUP_DB_H
#define SECUP_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/err.h"

struct db;
struct db_pool;

enum db_type { DB_NULL = 0, DB_INT, DB_TEXT };

/* A statement parameter. DB_TEXT with s == NULL binds SQL NULL. */
struct db_value {
    enum db_type type;
    int64_t i;
    const char *s;
};
#define DB_INT_V(x) ((struct db_value){ .type = DB_INT, .i = (int64_t)(x) })
#define DB_TEXT_V(x) ((struct db_value){ .type = DB_TEXT, .s = (x) })
#define DB_NULL_V ((struct db_value){ .type = DB_NULL })

/* Called once per result row. vals[i] is the column's text form (integers in decimal),
 * NULL for SQL NULL; valid only during the call. Return false to stop early (the
 * statement still counts as successful). */
typedef bool (*db_row_fn)(void *ctx, size_t ncols, const char *const *vals);

/* Opens one connection. Errors: SECUP_E_ARG (unknown URL scheme), SECUP_E_DB (cannot
 * connect or open), SECUP_E_NOSPACE. */
secup_rc db_open(const char *url, struct db **out, struct secup_err *err);
void db_close(struct db *db);

/* "sqlite" or "postgresql". */
const char *db_backend(const struct db *db);

/* Runs one statement. row may be NULL. *changes (if not NULL) receives the number of
 * rows inserted, updated or deleted. Errors:
 *   SECUP_E_EXISTS   a UNIQUE or PRIMARY KEY constraint was violated
 *   SECUP_E_NOSPACE  the database is full (disk full, quota)
 *   SECUP_E_DB       anything else; the message carries the backend's own text.
 * A busy SQLite database is retried for up to the busy timeout (5 s) before
 * SECUP_E_DB. */
secup_rc db_exec(struct db *db, const char *sql, const struct db_value *params,
                 size_t nparams, db_row_fn row, void *ctx, int64_t *changes,
                 struct secup_err *err);

/* Runs several ';'-separated statements without parameters (schema creation). */
secup_rc db_exec_script(struct db *db, const char *sql, struct secup_err *err);

/* Schema upgrades: adds column (SQL type `type`, no constraint beyond a DEFAULT) to table
 * unless it is there already, so that a database made by an older version keeps its rows.
 * Identifiers are the caller's constants, never input. Outside a transaction. */
secup_rc db_add_column(struct db *db, const char *table, const char *column, const char *type,
                       struct secup_err *err);

/* Transactions. db_begin() takes the write lock at once (BEGIN IMMEDIATE on SQLite),
 * so a read-modify-write inside it is serialised against other writers on both
 * backends; db_rollback() never fails (it is called on error paths).
 * On PostgreSQL the write lock is one advisory lock that every db_begin() takes (in
 * READ COMMITTED), so db_begin() transactions are serialised with each other, not with
 * statements run outside a transaction. A writer that waits longer than 5 s gets
 * SECUP_E_DB on both backends.
 * Once a statement fails inside a transaction (even with SECUP_E_EXISTS) the
 * transaction is doomed on both backends, as PostgreSQL has it: later statements and
 * db_commit() fail with SECUP_E_DB (db_commit() rolls it back). Avoid expected
 * conflicts with ON CONFLICT instead. db_begin() inside a transaction and db_commit()
 * outside one return SECUP_E_STATE; a failed db_commit() leaves no transaction open. */
secup_rc db_begin(struct db *db, struct secup_err *err);
secup_rc db_commit(struct db *db, struct secup_err *err);
void db_rollback(struct db *db);

/* One savepoint inside a transaction (not nested), so that one unit of a batch can fail
 * without dooming the others: db_savepoint() marks, db_savepoint_release() keeps what
 * followed, db_savepoint_rollback() undoes it and clears the failed state a statement
 * error left (on both backends). db_savepoint() outside a transaction is SECUP_E_STATE;
 * in a doomed transaction, SECUP_E_DB. */
secup_rc db_savepoint(struct db *db, struct secup_err *err);
secup_rc db_savepoint_release(struct db *db, struct secup_err *err);
secup_rc db_savepoint_rollback(struct db *db, struct secup_err *err);

/* Convenience for single-value queries: copies the first column of the first row
 * into buf (NUL-terminated). Returns SECUP_E_NOENT when there is no row,
 * SECUP_E_BUF_SMALL when it does not fit (buf is then ""), SECUP_E_DB for NULL. */
secup_rc db_query_text(struct db *db, const char *sql, const struct db_value *params,
                       size_t nparams, char *buf, size_t cap, struct secup_err *err);
/* Same for an integer column (SECUP_E_NOENT without a row, SECUP_E_DB for NULL or
 * non-integer text). */
secup_rc db_query_int(struct db *db, const char *sql, const struct db_value *params,
                      size_t nparams, int64_t *out, struct secup_err *err);

/* Row helpers: a column's text copied (NULL as ""), a column as an integer (NULL as 0). */
void db_col_copy(char *dst, size_t cap, const char *col);
int64_t db_col_int(const char *col);

/* The audit log shared by the daemons: the table (part of their schema scripts) and one
 * record of who did what to what, now. */
#define DB_EVENTS_TABLE                                                                     \
    "CREATE TABLE IF NOT EXISTS events ("                                                   \
    " time BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT,"        \
    " detail TEXT);"
secup_rc db_event(struct db *db, const char *actor, const char *action, const char *object,
                  const char *detail, struct secup_err *err);

/* A fixed set of n connections to one URL, for a daemon's worker threads.
 * db_pool_get() blocks until a connection is free; db_pool_put() returns it (a
 * transaction left open is rolled back). A pool on "sqlite::memory:" holds one
 * connection whatever n is, because each connection would be its own empty database. */
secup_rc db_pool_open(const char *url, unsigned n, struct db_pool **out,
                      struct secup_err *err);
struct db *db_pool_get(struct db_pool *pool);
void db_pool_put(struct db_pool *pool, struct db *db);
void db_pool_close(struct db_pool *pool);

#endif /* SECUP_DB_H */
