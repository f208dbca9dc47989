/* Private to programs/common/db: the ops table a database backend fills in.
 *
 * db.c owns struct db and everything the backends share (URL dispatch, argument checks,
 * transaction state checks, the single-value helpers, the pool); a backend only talks to
 * its vendor library and translates the vendor's errors into secup_rc. */
#ifndef SECUP_DB_BACKEND_H
#define SECUP_DB_BACKEND_H

#include "db.h"

struct db_ops {
    const char *name; /* what db_backend() returns */
    /* target is the URL without a prefix the backend does not want ("sqlite:" is cut,
     * "postgresql://" is kept). *impl is the backend's connection. */
    secup_rc (*open)(const char *target, void **impl, struct secup_err *err);
    void (*close)(void *impl);
    /* params/nparams are already checked (params != NULL when nparams > 0). */
    secup_rc (*exec)(void *impl, const char *sql, const struct db_value *params,
                     size_t nparams, db_row_fn row, void *ctx, int64_t *changes,
                     struct secup_err *err);
    secup_rc (*exec_script)(void *impl, const char *sql, struct secup_err *err);
    /* Starts a transaction that holds the write lock (called only outside one). */
    secup_rc (*begin)(void *impl, struct secup_err *err);
    /* Commits; on failure the transaction is no longer open (called only inside one). */
    secup_rc (*commit)(void *impl, struct secup_err *err);
    /* Rolls back whatever is open; never fails. */
    void (*rollback)(void *impl);
    bool (*in_transaction)(void *impl);
    /* True when every connection to this target is a separate database
     * (SQLite :memory:), so a pool must not hold more than one. */
    bool (*private_target)(const char *target);
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

/* Shortens a statement for an error message: its first line, at most ~60 characters. */
void db_sql_excerpt(const char *sql, char *buf, size_t cap);

#endif /* SECUP_DB_BACKEND_H */
