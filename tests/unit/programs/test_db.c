/* The database seam (programs/common/db/db.h): the same cases run against every backend
 * a URL can name, so SQL written against one behaves the same on the other.
 *
 *   test_db sqlite   SQLite on a temporary file and on ":memory:", plus the URL checks
 *   test_db pg       PostgreSQL at $SECUP_TEST_PG_URL (tests/support/pg-cluster.sh);
 *                    fails when the variable is not set
 *
 * Cases that need two connections to one database are skipped on ":memory:"; the
 * disk-full case runs on SQLite only (PRAGMA max_page_count). */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"

struct variant {
    const char *name;
    char url[512];
    bool shared; /* two connections see one database */
    bool sqlite;
};

static struct variant *cur;
static struct db *db; /* the test's connection, opened by setup() */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Fails the test unless rc is SECUP_OK, printing the message. */
#define OK(call)                                                                       \
    do {                                                                               \
        struct secup_err e_;                                                           \
        secup_err_clear(&e_);                                                          \
        struct secup_err *err = &e_;                                                   \
        secup_rc rc_ = (call);                                                         \
        if (rc_ != SECUP_OK)                                                           \
            fail_msg("%s: %s: %s", #call, secup_rc_name(rc_), e_.msg);                 \
    } while (0)

/* Expects rc `want` and a message containing `part` (if not NULL). */
static void check_failure(const char *what, secup_rc got, const struct secup_err *e,
                          secup_rc want, const char *part)
{
    if (got != want)
        fail_msg("%s: want %s, got %s: %s", what, secup_rc_name(want), secup_rc_name(got),
                 e->msg);
    if (e->rc != want || e->msg[0] == '\0')
        fail_msg("%s: no message set for %s", what, secup_rc_name(want));
    if (part && !strstr(e->msg, part))
        fail_msg("%s: message '%s' lacks '%s'", what, e->msg, part);
}

#define FAILS(call, want, part)                                                        \
    do {                                                                               \
        struct secup_err e_;                                                           \
        secup_err_clear(&e_);                                                          \
        struct secup_err *err = &e_;                                                   \
        secup_rc rc_ = (call);                                                         \
        check_failure(#call, rc_, &e_, (want), (part));                                \
    } while (0)

static const char schema[] =
    "DROP TABLE IF EXISTS child;\n"
    "DROP TABLE IF EXISTS t;\n"
    "DROP TABLE IF EXISTS counter;\n"
    "DROP TABLE IF EXISTS big;\n"
    "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT UNIQUE, n BIGINT);\n"
    "CREATE TABLE child (id BIGINT PRIMARY KEY, t_id BIGINT NOT NULL REFERENCES t(id));\n"
    "CREATE TABLE counter (id BIGINT PRIMARY KEY, v BIGINT NOT NULL);\n"
    "INSERT INTO counter (id, v) VALUES (1, 0);\n"
    "CREATE TABLE big (id BIGINT PRIMARY KEY, s TEXT NOT NULL);\n";

static int setup(void **state)
{
    (void)state;
    struct secup_err err;
    if (db_open(cur->url, &db, &err) != SECUP_OK) {
        print_error("db_open(%s): %s\n", cur->url, err.msg);
        return -1;
    }
    if (db_exec_script(db, schema, &err) != SECUP_OK) {
        print_error("schema: %s\n", err.msg);
        db_close(db);
        db = NULL;
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    db = NULL;
    return 0;
}

static struct db *open_second(void)
{
    struct db *d = NULL;
    OK(db_open(cur->url, &d, err));
    return d;
}

static int64_t counter(struct db *d)
{
    int64_t v = -1;
    OK(db_query_int(d, "SELECT v FROM counter WHERE id = 1", NULL, 0, &v, err));
    return v;
}

/* Collected result rows: at most 16 rows of 4 columns, values copied. */
struct rows {
    size_t n;
    size_t ncols;
    size_t stop_after; /* 0: take all */
    char *v[16][4];
    bool null[16][4];
};

static bool collect(void *ctx, size_t ncols, const char *const *vals)
{
    struct rows *r = ctx;
    assert_true(r->n < 16);
    assert_true(ncols <= 4);
    r->ncols = ncols;
    for (size_t c = 0; c < ncols; c++) {
        r->null[r->n][c] = vals[c] == NULL;
        r->v[r->n][c] = vals[c] ? strdup(vals[c]) : NULL;
    }
    r->n++;
    return r->stop_after == 0 || r->n < r->stop_after;
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        for (size_t c = 0; c < r->ncols; c++)
            free(r->v[i][c]);
    memset(r, 0, sizeof(*r));
}

static void test_db_schema_script_creates_tables(void **state)
{
    (void)state;
    int64_t n = -1;
    OK(db_query_int(db, "SELECT COUNT(*) FROM counter", NULL, 0, &n, err));
    assert_int_equal(n, 1);
    OK(db_query_int(db, "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
    assert_int_equal(n, 0);
    /* Running it again starts over. */
    OK(db_exec(db, "INSERT INTO t (id) VALUES (1)", NULL, 0, NULL, NULL, NULL, err));
    OK(db_exec_script(db, schema, err));
    OK(db_query_int(db, "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
    assert_int_equal(n, 0);
    /* An empty statement is not an error. */
    OK(db_exec_script(db, "  ", err));
    FAILS(db_exec_script(db, "CREATE TABLE x (a BIGINT); CREAT TABLE y (b BIGINT)", err),
          SECUP_E_DB, "syntax");
    assert_string_equal(db_backend(db), cur->sqlite ? "sqlite" : "postgresql");
}

static void test_db_insert_select_int_text_null_round_trip(void **state)
{
    (void)state;
    const char *ins = "INSERT INTO t (id, name, n) VALUES ($1, $2, $3)";
    const struct db_value r1[] = { DB_INT_V(1), DB_TEXT_V("one"), DB_NULL_V };
    const struct db_value r2[] = { DB_INT_V(2), DB_TEXT_V(NULL), DB_INT_V(INT64_MIN) };
    const struct db_value r3[] = { DB_INT_V(3), DB_TEXT_V("drei \xc3\xa4 'q' \"dq\""),
                                   DB_INT_V(INT64_MAX) };
    int64_t changes = -1;
    OK(db_exec(db, ins, r1, 3, NULL, NULL, &changes, err));
    assert_int_equal(changes, 1);
    OK(db_exec(db, ins, r2, 3, NULL, NULL, &changes, err));
    OK(db_exec(db, ins, r3, 3, NULL, NULL, &changes, err));

    struct rows r = { 0 };
    OK(db_exec(db, "SELECT id, name, n FROM t ORDER BY id", NULL, 0, collect, &r, &changes, err));
    assert_int_equal(changes, 0); /* a SELECT changes nothing */
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ncols, 3);
    assert_string_equal(r.v[0][0], "1");
    assert_string_equal(r.v[0][1], "one");
    assert_true(r.null[0][2]);
    assert_true(r.null[1][1]);
    assert_string_equal(r.v[1][2], "-9223372036854775808");
    assert_string_equal(r.v[2][1], "drei \xc3\xa4 'q' \"dq\"");
    assert_string_equal(r.v[2][2], "9223372036854775807");
    rows_free(&r);

    const struct db_value key[] = { DB_INT_V(1) };
    char name[16];
    OK(db_query_text(db, "SELECT name FROM t WHERE id = $1", key, 1, name, sizeof(name), err));
    assert_string_equal(name, "one");
    /* NULL parameters compare as SQL NULL: nothing equals them. */
    const struct db_value nul[] = { DB_NULL_V };
    FAILS(db_query_text(db, "SELECT name FROM t WHERE n = $1", nul, 1, name, sizeof(name), err),
          SECUP_E_NOENT, "no row");
    int64_t n = 0;
    OK(db_query_int(db, "SELECT COUNT(*) FROM t WHERE n IS NULL OR name IS NULL", NULL, 0, &n, err));
    assert_int_equal(n, 2);

    /* UPDATE and DELETE count their rows. */
    OK(db_exec(db, "UPDATE t SET n = 5 WHERE id >= $1", key, 1, NULL, NULL, &changes, err));
    assert_int_equal(changes, 3);
    OK(db_exec(db, "DELETE FROM t WHERE id > $1", key, 1, NULL, NULL, &changes, err));
    assert_int_equal(changes, 2);
    OK(db_exec(db, "CREATE TABLE IF NOT EXISTS t (id BIGINT)", NULL, 0, NULL, NULL, &changes, err));
    assert_int_equal(changes, 0);
}

static void test_db_params_reused_and_out_of_order(void **state)
{
    (void)state;
    /* $2 before $1, and $2 twice. */
    const struct db_value p[] = { DB_TEXT_V("x"), DB_INT_V(7) };
    OK(db_exec(db, "INSERT INTO t (id, name, n) VALUES ($2, $1, $2)", p, 2, NULL, NULL, NULL, err));
    struct rows r = { 0 };
    OK(db_exec(db, "SELECT id, name, n FROM t WHERE n = $2 AND id = $2 AND name = $1", p, 2,
               collect, &r, NULL, err));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0][0], "7");
    assert_string_equal(r.v[0][1], "x");
    assert_string_equal(r.v[0][2], "7");
    rows_free(&r);
    /* A parameter that is not given is an error, not a silent NULL. */
    FAILS(db_exec(db, "SELECT id FROM t WHERE id = $3", p, 2, NULL, NULL, NULL, err), SECUP_E_DB,
          NULL);
    /* A statement is one statement. */
    FAILS(db_exec(db, "SELECT 1; SELECT 2", NULL, 0, NULL, NULL, NULL, err), SECUP_E_DB, NULL);
    FAILS(db_exec(db, NULL, NULL, 0, NULL, NULL, NULL, err), SECUP_E_ARG, NULL);
    FAILS(db_exec(db, "SELECT 1", NULL, 1, NULL, NULL, NULL, err), SECUP_E_ARG, NULL);
}

static void test_db_unique_violation_is_exists(void **state)
{
    (void)state;
    const char *ins = "INSERT INTO t (id, name) VALUES ($1, $2)";
    const struct db_value a[] = { DB_INT_V(1), DB_TEXT_V("a") };
    const struct db_value same_id[] = { DB_INT_V(1), DB_TEXT_V("b") };
    const struct db_value same_name[] = { DB_INT_V(2), DB_TEXT_V("a") };
    OK(db_exec(db, ins, a, 2, NULL, NULL, NULL, err));
    FAILS(db_exec(db, ins, same_id, 2, NULL, NULL, NULL, err), SECUP_E_EXISTS, "INSERT INTO t");
    FAILS(db_exec(db, ins, same_name, 2, NULL, NULL, NULL, err), SECUP_E_EXISTS, NULL);
    /* Other constraints are plain database errors. */
    const struct db_value orphan[] = { DB_INT_V(1), DB_INT_V(99) };
    FAILS(db_exec(db, "INSERT INTO child (id, t_id) VALUES ($1, $2)", orphan, 2, NULL, NULL, NULL,
                  err),
          SECUP_E_DB, NULL);
    FAILS(db_exec(db, "INSERT INTO counter (id) VALUES (2)", NULL, 0, NULL, NULL, NULL, err),
          SECUP_E_DB, NULL);
}

static void test_db_commit_keeps_and_rollback_leaves_no_trace(void **state)
{
    (void)state;
    FAILS(db_commit(db, err), SECUP_E_STATE, NULL);
    OK(db_begin(db, err));
    FAILS(db_begin(db, err), SECUP_E_STATE, "already");
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (1, 'kept')", NULL, 0, NULL, NULL, NULL, err));
    OK(db_commit(db, err));

    OK(db_begin(db, err));
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (2, 'gone')", NULL, 0, NULL, NULL, NULL, err));
    OK(db_exec(db, "UPDATE t SET name = 'changed' WHERE id = 1", NULL, 0, NULL, NULL, NULL, err));
    OK(db_exec(db, "UPDATE counter SET v = 99", NULL, 0, NULL, NULL, NULL, err));
    db_rollback(db);
    db_rollback(db); /* harmless without a transaction */

    struct db *views[2] = { db, NULL };
    if (cur->shared)
        views[1] = open_second();
    for (size_t i = 0; i < ARRAY_SIZE(views) && views[i]; i++) {
        int64_t n = -1;
        OK(db_query_int(views[i], "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
        assert_int_equal(n, 1);
        char name[16];
        OK(db_query_text(views[i], "SELECT name FROM t WHERE id = 1", NULL, 0, name,
                         sizeof(name), err));
        assert_string_equal(name, "kept");
        assert_int_equal(counter(views[i]), 0);
    }
    db_close(views[1]);
}

static void test_db_failed_statement_dooms_the_transaction(void **state)
{
    (void)state;
    OK(db_exec(db, "INSERT INTO t (id) VALUES (1)", NULL, 0, NULL, NULL, NULL, err));
    OK(db_begin(db, err));
    OK(db_exec(db, "INSERT INTO t (id) VALUES (2)", NULL, 0, NULL, NULL, NULL, err));
    FAILS(db_exec(db, "INSERT INTO t (id) VALUES (1)", NULL, 0, NULL, NULL, NULL, err),
          SECUP_E_EXISTS, NULL);
    FAILS(db_exec(db, "INSERT INTO t (id) VALUES (3)", NULL, 0, NULL, NULL, NULL, err), SECUP_E_DB,
          NULL);
    FAILS(db_commit(db, err), SECUP_E_DB, "rolled back");
    int64_t n = -1;
    OK(db_query_int(db, "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
    assert_int_equal(n, 1);
    /* The connection is usable again. */
    OK(db_begin(db, err));
    OK(db_exec(db, "INSERT INTO t (id) VALUES (4)", NULL, 0, NULL, NULL, NULL, err));
    OK(db_commit(db, err));
    OK(db_query_int(db, "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
    assert_int_equal(n, 2);
}

/* A batch: a unit that fails inside its savepoint is undone alone; the others commit. */
static void test_db_savepoint_undoes_one_unit_and_keeps_the_batch(void **state)
{
    (void)state;
    FAILS(db_savepoint(db, err), SECUP_E_STATE, "outside a transaction");
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (1, 'old')", NULL, 0, NULL, NULL, NULL, err));
    OK(db_begin(db, err));
    /* unit 1: kept */
    OK(db_savepoint(db, err));
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (2, 'two')", NULL, 0, NULL, NULL, NULL, err));
    OK(db_savepoint_release(db, err));
    /* unit 2: a write, then a constraint violation: both undone, the transaction lives */
    OK(db_savepoint(db, err));
    OK(db_exec(db, "UPDATE t SET name = 'clobbered' WHERE id = 1", NULL, 0, NULL, NULL, NULL, err));
    FAILS(db_exec(db, "INSERT INTO t (id, name) VALUES (2, 'dup')", NULL, 0, NULL, NULL, NULL, err),
          SECUP_E_EXISTS, NULL);
    FAILS(db_savepoint_release(db, err), SECUP_E_DB, "earlier statement");
    OK(db_savepoint_rollback(db, err));
    /* unit 3: a write undone by choice (a logical refusal) */
    OK(db_savepoint(db, err));
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (3, 'refused')", NULL, 0, NULL, NULL, NULL,
               err));
    OK(db_savepoint_rollback(db, err));
    /* unit 4: kept */
    OK(db_savepoint(db, err));
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (4, 'four')", NULL, 0, NULL, NULL, NULL, err));
    OK(db_savepoint_release(db, err));
    OK(db_commit(db, err));
    int64_t n = -1;
    OK(db_query_int(db, "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
    assert_int_equal(n, 3);
    OK(db_query_int(db, "SELECT COUNT(*) FROM t WHERE id IN (1, 2, 4)", NULL, 0, &n, err));
    assert_int_equal(n, 3);
    char name[16];
    OK(db_query_text(db, "SELECT name FROM t WHERE id = 1", NULL, 0, name, sizeof(name), err));
    assert_string_equal(name, "old");
    OK(db_query_text(db, "SELECT name FROM t WHERE id = 2", NULL, 0, name, sizeof(name), err));
    assert_string_equal(name, "two");
}

/* A database made by an older schema gets a new column, keeps its rows, and a second
 * upgrade changes nothing. */
static void test_db_add_column_upgrades_once_and_keeps_rows(void **state)
{
    (void)state;
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (7, 'old row')", NULL, 0, NULL, NULL, NULL,
               err));
    FAILS(db_exec(db, "SELECT extra FROM t", NULL, 0, NULL, NULL, NULL, err), SECUP_E_DB, NULL);
    OK(db_add_column(db, "t", "extra", "BIGINT", err));
    OK(db_add_column(db, "t", "extra", "BIGINT", err)); /* there already: nothing to do */
    int64_t n = -1;
    OK(db_query_int(db, "SELECT COUNT(*) FROM t WHERE id = 7 AND extra IS NULL", NULL, 0, &n,
                    err));
    assert_int_equal(n, 1);
    OK(db_exec(db, "UPDATE t SET extra = 42 WHERE id = 7", NULL, 0, NULL, NULL, NULL, err));
    OK(db_query_int(db, "SELECT extra FROM t WHERE id = 7", NULL, 0, &n, err));
    assert_int_equal(n, 42);
    FAILS(db_add_column(db, "no_such_table", "x", "TEXT", err), SECUP_E_DB, "upgrading the schema");
}

/* The second writer of test_db_begin_serialises_two_writers. */
struct writer {
    struct db *db;
    int64_t seen; /* the counter as read inside the transaction */
    secup_rc rc;
    char msg[SECUP_ERR_MSG_MAX];
};

static void *second_writer(void *arg)
{
    struct writer *w = arg;
    struct secup_err err;
    secup_err_clear(&err);
    w->seen = -1;
    w->rc = db_begin(w->db, &err);
    if (w->rc == SECUP_OK)
        w->rc = db_query_int(w->db, "SELECT v FROM counter WHERE id = 1", NULL, 0, &w->seen, &err);
    if (w->rc == SECUP_OK) {
        const struct db_value v[] = { DB_INT_V(w->seen + 1) };
        w->rc = db_exec(w->db, "UPDATE counter SET v = $1 WHERE id = 1", v, 1, NULL, NULL, NULL,
                        &err);
    }
    if (w->rc == SECUP_OK)
        w->rc = db_commit(w->db, &err);
    else
        db_rollback(w->db);
    memcpy(w->msg, err.msg, sizeof(w->msg));
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_db_begin_serialises_two_writers(void **state)
{
    (void)state;
    if (!cur->shared)
        skip(); /* every ":memory:" connection is its own database */
    struct writer w = { .db = open_second() };

    /* The first writer reads, lets the second one start, then writes from what it read.
     * Without the write lock the second would read 0 as well and one increment would be
     * lost. */
    OK(db_begin(db, err));
    int64_t v = counter(db);
    assert_int_equal(v, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, second_writer, &w), 0);
    sleep_ms(200);
    const struct db_value nv[] = { DB_INT_V(v + 1) };
    OK(db_exec(db, "UPDATE counter SET v = $1 WHERE id = 1", nv, 1, NULL, NULL, NULL, err));
    OK(db_commit(db, err));
    assert_int_equal(pthread_join(th, NULL), 0);

    if (w.rc != SECUP_OK)
        fail_msg("second writer: %s: %s", secup_rc_name(w.rc), w.msg);
    assert_int_equal(w.seen, 1);
    assert_int_equal(counter(db), 2);
    db_close(w.db);
}

static void test_db_second_writer_gives_up_cleanly_after_the_busy_timeout(void **state)
{
    (void)state;
    if (!cur->shared)
        skip();
    struct db *b = open_second();
    OK(db_begin(db, err));
    OK(db_exec(db, "UPDATE counter SET v = 1", NULL, 0, NULL, NULL, NULL, err));
    time_t t0 = time(NULL);
    FAILS(db_begin(b, err), SECUP_E_DB, "lock"); /* waits 5 s for db's transaction */
    time_t waited = time(NULL) - t0;
    assert_true(waited >= 4 && waited <= 15);
    OK(db_commit(db, err));
    /* Nothing was left open on b: it can write now. */
    OK(db_begin(b, err));
    OK(db_exec(b, "UPDATE counter SET v = v + 1", NULL, 0, NULL, NULL, NULL, err));
    OK(db_commit(b, err));
    assert_int_equal(counter(db), 2);
    db_close(b);
}

static void test_db_lost_connection_fails_once_then_reconnects(void **state)
{
    (void)state;
    if (cur->sqlite)
        skip(); /* no server to lose */
    int64_t pid = 0;
    OK(db_query_int(db, "SELECT pg_backend_pid()", NULL, 0, &pid, err));
    struct db *b = open_second();
    const struct db_value p[] = { DB_INT_V(pid) };
    OK(db_exec(b, "SELECT pg_terminate_backend($1::int)", p, 1, NULL, NULL, NULL, err));
    db_close(b);
    struct secup_err e;
    secup_rc rc = db_exec(db, "SELECT 1", NULL, 0, NULL, NULL, NULL, &e);
    if (rc != SECUP_OK) /* the statement that finds the connection gone fails */
        assert_int_equal(rc, SECUP_E_DB);
    int64_t v = 0;
    OK(db_query_int(db, "SELECT COUNT(*) FROM counter", NULL, 0, &v, err));
    assert_int_equal(v, 1);
}

static void test_db_returning_gives_the_written_rows(void **state)
{
    (void)state;
    struct rows r = { 0 };
    int64_t changes = -1;
    OK(db_exec(db, "INSERT INTO t (id, name, n) VALUES (1, 'a', 10), (2, 'b', 20) RETURNING id, name",
               NULL, 0, collect, &r, &changes, err));
    assert_int_equal(changes, 2);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[1][1], "b");
    rows_free(&r);
    const struct db_value add[] = { DB_INT_V(5) };
    OK(db_exec(db, "UPDATE t SET n = n + $1 WHERE id = 2 RETURNING n", add, 1, collect, &r,
               &changes, err));
    assert_int_equal(changes, 1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0][0], "25");
    rows_free(&r);
    OK(db_exec(db, "DELETE FROM t WHERE id = 1 RETURNING name", NULL, 0, collect, &r, NULL, err));
    assert_string_equal(r.v[0][0], "a");
    rows_free(&r);
}

static void test_db_on_conflict_do_nothing_and_do_update(void **state)
{
    (void)state;
    const char *ins = "INSERT INTO t (id, name, n) VALUES ($1, $2, 1) ON CONFLICT (id) DO NOTHING";
    const struct db_value p[] = { DB_INT_V(1), DB_TEXT_V("first") };
    const struct db_value again[] = { DB_INT_V(1), DB_TEXT_V("second") };
    int64_t changes = -1;
    OK(db_exec(db, ins, p, 2, NULL, NULL, &changes, err));
    assert_int_equal(changes, 1);
    OK(db_exec(db, ins, again, 2, NULL, NULL, &changes, err));
    assert_int_equal(changes, 0);
    /* DO NOTHING ... RETURNING returns nothing for the conflicting row. */
    struct rows r = { 0 };
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id",
               again, 2, collect, &r, NULL, err));
    assert_int_equal(r.n, 0);
    const char *upsert = "INSERT INTO t (id, name, n) VALUES ($1, $2, 1) ON CONFLICT (id) "
                         "DO UPDATE SET n = t.n + excluded.n RETURNING n";
    OK(db_exec(db, upsert, again, 2, collect, &r, &changes, err));
    assert_int_equal(changes, 1);
    assert_string_equal(r.v[0][0], "2");
    rows_free(&r);
    char name[16];
    OK(db_query_text(db, "SELECT name FROM t WHERE id = 1", NULL, 0, name, sizeof(name), err));
    assert_string_equal(name, "first");
}

static void test_db_large_text_round_trips(void **state)
{
    (void)state;
    const size_t len = 1024 * 1024;
    char *s = malloc(len + 1);
    char *back = malloc(len + 1);
    assert_non_null(s);
    assert_non_null(back);
    for (size_t i = 0; i < len; i++)
        s[i] = "0123456789abcdef"[(i * 7 + i / 16) % 16];
    s[len] = '\0';
    const struct db_value p[] = { DB_INT_V(1), DB_TEXT_V(s) };
    OK(db_exec(db, "INSERT INTO big (id, s) VALUES ($1, $2)", p, 2, NULL, NULL, NULL, err));
    int64_t n = 0;
    OK(db_query_int(db, "SELECT length(s) FROM big WHERE id = 1", NULL, 0, &n, err));
    assert_int_equal(n, (int64_t)len);
    OK(db_query_text(db, "SELECT s FROM big WHERE id = 1", NULL, 0, back, len + 1, err));
    assert_memory_equal(s, back, len + 1);
    FAILS(db_query_text(db, "SELECT s FROM big WHERE id = 1", NULL, 0, back, len, err),
          SECUP_E_BUF_SMALL, "1048576");
    free(s);
    free(back);
}

static void test_db_row_callback_stops_early(void **state)
{
    (void)state;
    int64_t changes = -1;
    struct rows r = { .stop_after = 2 };
    OK(db_exec(db, "INSERT INTO t (id) VALUES (1), (2), (3), (4), (5) RETURNING id", NULL, 0,
               collect, &r, &changes, err));
    assert_int_equal(r.n, 2);
    assert_int_equal(changes, 5);
    rows_free(&r);
    int64_t n = 0;
    OK(db_query_int(db, "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
    assert_int_equal(n, 5); /* stopping early did not undo the insert */
    r.stop_after = 3;
    OK(db_exec(db, "SELECT id FROM t ORDER BY id", NULL, 0, collect, &r, NULL, err));
    assert_int_equal(r.n, 3);
    assert_string_equal(r.v[2][0], "3");
    rows_free(&r);
    /* No callback: the rows are run through and dropped. */
    OK(db_exec(db, "SELECT id FROM t", NULL, 0, NULL, NULL, NULL, err));
}

static void test_db_query_helpers_report_small_missing_null_and_non_integer(void **state)
{
    (void)state;
    OK(db_exec(db, "INSERT INTO t (id, name) VALUES (1, 'hello')", NULL, 0, NULL, NULL, NULL, err));
    char buf[6] = "xxxxx";
    OK(db_query_text(db, "SELECT name FROM t WHERE id = 1", NULL, 0, buf, 6, err));
    assert_string_equal(buf, "hello");
    FAILS(db_query_text(db, "SELECT name FROM t WHERE id = 1", NULL, 0, buf, 5, err),
          SECUP_E_BUF_SMALL, "SELECT name FROM t");
    assert_string_equal(buf, "");
    FAILS(db_query_text(db, "SELECT name FROM t WHERE id = 2", NULL, 0, buf, 6, err),
          SECUP_E_NOENT, "no row");
    FAILS(db_query_text(db, "SELECT n FROM t WHERE id = 1", NULL, 0, buf, 6, err), SECUP_E_DB,
          "NULL");
    FAILS(db_query_text(db, "SELECT name FROM t", NULL, 0, buf, 0, err), SECUP_E_ARG, NULL);
    int64_t v = 7;
    FAILS(db_query_int(db, "SELECT name FROM t WHERE id = 1", NULL, 0, &v, err), SECUP_E_DB,
          "not an integer");
    assert_int_equal(v, 0);
    FAILS(db_query_int(db, "SELECT n FROM t WHERE id = 1", NULL, 0, &v, err), SECUP_E_DB, "NULL");
    FAILS(db_query_int(db, "SELECT id FROM t WHERE id = 2", NULL, 0, &v, err), SECUP_E_NOENT, NULL);
    OK(db_query_int(db, "SELECT MAX(id) + 41 FROM t", NULL, 0, &v, err));
    assert_int_equal(v, 42);
}

struct incrementer {
    struct db_pool *pool;
    int rounds;
    int failures;
    char msg[SECUP_ERR_MSG_MAX];
};

static void *increment(void *arg)
{
    struct incrementer *in = arg;
    for (int i = 0; i < in->rounds; i++) {
        struct secup_err err;
        secup_err_clear(&err);
        struct db *d = db_pool_get(in->pool);
        int64_t v = 0;
        secup_rc rc = db_begin(d, &err);
        if (rc == SECUP_OK)
            rc = db_query_int(d, "SELECT v FROM counter WHERE id = 1", NULL, 0, &v, &err);
        if (rc == SECUP_OK) {
            const struct db_value p[] = { DB_INT_V(v + 1) };
            rc = db_exec(d, "UPDATE counter SET v = $1 WHERE id = 1", p, 1, NULL, NULL, NULL,
                         &err);
        }
        if (rc == SECUP_OK)
            rc = db_commit(d, &err);
        if (rc != SECUP_OK) {
            in->failures++;
            memcpy(in->msg, err.msg, sizeof(in->msg));
        }
        db_pool_put(in->pool, d); /* rolls back what a failure left open */
    }
    return NULL;
}

static void test_db_pool_concurrent_increments_lose_nothing(void **state)
{
    (void)state;
    enum { THREADS = 6, ROUNDS = 40 };
    struct db_pool *pool = NULL;
    OK(db_pool_open(cur->url, 3, &pool, err));
    if (!cur->shared) { /* ":memory:": the pool's one connection needs its own schema */
        struct db *d0 = db_pool_get(pool);
        OK(db_exec_script(d0, schema, err));
        db_pool_put(pool, d0);
    }
    struct incrementer in[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        in[i] = (struct incrementer){ .pool = pool, .rounds = ROUNDS };
        assert_int_equal(pthread_create(&th[i], NULL, increment, &in[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (in[i].failures)
            fail_msg("thread %d: %d failures, last: %s", i, in[i].failures, in[i].msg);
    }
    struct db *d = db_pool_get(pool);
    assert_int_equal(counter(d), THREADS * ROUNDS);
    /* A transaction left open is rolled back when the connection comes back. */
    OK(db_begin(d, err));
    OK(db_exec(d, "UPDATE counter SET v = 0", NULL, 0, NULL, NULL, NULL, err));
    db_pool_put(pool, d);
    d = db_pool_get(pool);
    assert_int_equal(counter(d), THREADS * ROUNDS);
    db_pool_put(pool, d);
    db_pool_close(pool);
    FAILS(db_pool_open(cur->url, 0, &pool, err), SECUP_E_ARG, NULL);
}

static void test_db_syntax_error_is_db_with_the_backend_message(void **state)
{
    (void)state;
    FAILS(db_exec(db, "SELEC id FROM t", NULL, 0, NULL, NULL, NULL, err), SECUP_E_DB,
          "syntax error");
    FAILS(db_exec(db, "SELECT nope FROM t", NULL, 0, NULL, NULL, NULL, err), SECUP_E_DB, "nope");
    FAILS(db_exec(db, "SELECT id FROM no_such_table", NULL, 0, NULL, NULL, NULL, err), SECUP_E_DB,
          "no_such_table");
    /* The connection still works. */
    int64_t n = -1;
    OK(db_query_int(db, "SELECT COUNT(*) FROM t", NULL, 0, &n, err));
    assert_int_equal(n, 0);
}

static void test_db_full_database_is_nospace(void **state)
{
    (void)state;
    if (!cur->sqlite)
        skip(); /* no cheap way to fill a PostgreSQL disk */
    /* The file may not grow; the row needs more pages than its free list holds. */
    int64_t pages = 0, free_pages = 0, page_size = 0;
    OK(db_query_int(db, "PRAGMA page_count", NULL, 0, &pages, err));
    OK(db_query_int(db, "PRAGMA freelist_count", NULL, 0, &free_pages, err));
    OK(db_query_int(db, "PRAGMA page_size", NULL, 0, &page_size, err));
    char pragma[64];
    snprintf(pragma, sizeof(pragma), "PRAGMA max_page_count = %" PRId64, pages);
    OK(db_exec(db, pragma, NULL, 0, NULL, NULL, NULL, err));
    size_t len = (size_t)((free_pages + 8) * page_size);
    char *s = malloc(len + 1);
    assert_non_null(s);
    memset(s, 'z', len);
    s[len] = '\0';
    const struct db_value p[] = { DB_INT_V(1), DB_TEXT_V(s) };
    FAILS(db_exec(db, "INSERT INTO big (id, s) VALUES ($1, $2)", p, 2, NULL, NULL, NULL, err),
          SECUP_E_NOSPACE, "full");
    free(s);
}

/* Backend-independent: URLs that name no backend, and backends that cannot be reached. */
static void test_db_bad_url_is_arg(void **state)
{
    (void)state;
    struct db *d = (struct db *)&d;
    FAILS(db_open("mysql://root:hunter2@db/x", &d, err), SECUP_E_ARG, "mysql");
    assert_null(d);
    struct secup_err e;
    assert_int_equal(db_open("mysql://root:hunter2@db/x", &d, &e), SECUP_E_ARG);
    assert_null(strstr(e.msg, "hunter2"));
    FAILS(db_open("", &d, err), SECUP_E_ARG, NULL);
    FAILS(db_open("sqlite:", &d, err), SECUP_E_ARG, NULL);
    FAILS(db_open("pg:", &d, err), SECUP_E_ARG, NULL);
    FAILS(db_open("/var/lib/secup/db.sqlite", &d, err), SECUP_E_ARG, NULL);
    FAILS(db_open(NULL, &d, err), SECUP_E_ARG, NULL);
    struct db_pool *pool = NULL;
    FAILS(db_pool_open("oracle:x", 2, &pool, err), SECUP_E_ARG, "oracle");
    assert_null(pool);
    assert_string_equal(db_backend(NULL), "none");
}

static void test_db_unreachable_backend_is_db_with_a_message(void **state)
{
    (void)state;
    struct db *d = NULL;
    FAILS(db_open("postgresql://secup:hunter2@/nodb?host=/nonexistent-secup-dir", &d, err),
          SECUP_E_DB, "cannot connect");
    struct secup_err e;
    assert_int_equal(
        db_open("postgresql://secup:hunter2@/nodb?host=/nonexistent-secup-dir", &d, &e),
        SECUP_E_DB);
    assert_null(strstr(e.msg, "hunter2"));
    assert_non_null(strstr(e.msg, "/nonexistent-secup-dir"));
    FAILS(db_open("postgres:///nodb?host=/nonexistent-secup-dir", &d, err), SECUP_E_DB, "nodb");
    FAILS(db_open("pg:host=/nonexistent-secup-dir dbname=nodb", &d, err), SECUP_E_DB,
          "cannot connect");
    FAILS(db_open("pg:this is not a conninfo", &d, err), SECUP_E_DB, NULL);
    FAILS(db_open("sqlite:/nonexistent-secup-dir/x.db", &d, err), SECUP_E_DB,
          "/nonexistent-secup-dir/x.db");
    assert_null(d);
    struct db_pool *pool = NULL;
    FAILS(db_pool_open("pg:host=/nonexistent-secup-dir dbname=nodb", 2, &pool, err), SECUP_E_DB,
          "pool connection 1 of 2");
    assert_null(pool);
}

#define CASES(setup_fn, teardown_fn)                                                              \
    cmocka_unit_test_setup_teardown(test_db_schema_script_creates_tables, setup_fn, teardown_fn), \
    cmocka_unit_test_setup_teardown(test_db_insert_select_int_text_null_round_trip, setup_fn,     \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_params_reused_and_out_of_order, setup_fn,             \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_unique_violation_is_exists, setup_fn, teardown_fn),   \
    cmocka_unit_test_setup_teardown(test_db_commit_keeps_and_rollback_leaves_no_trace, setup_fn,  \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_failed_statement_dooms_the_transaction, setup_fn,     \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_add_column_upgrades_once_and_keeps_rows, setup_fn,    \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_savepoint_undoes_one_unit_and_keeps_the_batch,       \
                                    setup_fn, teardown_fn),                                       \
    cmocka_unit_test_setup_teardown(test_db_begin_serialises_two_writers, setup_fn, teardown_fn), \
    cmocka_unit_test_setup_teardown(test_db_second_writer_gives_up_cleanly_after_the_busy_timeout, \
                                    setup_fn, teardown_fn),                                       \
    cmocka_unit_test_setup_teardown(test_db_lost_connection_fails_once_then_reconnects, setup_fn, \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_returning_gives_the_written_rows, setup_fn,           \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_on_conflict_do_nothing_and_do_update, setup_fn,       \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_large_text_round_trips, setup_fn, teardown_fn),       \
    cmocka_unit_test_setup_teardown(test_db_row_callback_stops_early, setup_fn, teardown_fn),     \
    cmocka_unit_test_setup_teardown(                                                              \
        test_db_query_helpers_report_small_missing_null_and_non_integer, setup_fn, teardown_fn),  \
    cmocka_unit_test_setup_teardown(test_db_pool_concurrent_increments_lose_nothing, setup_fn,    \
                                    teardown_fn),                                                 \
    cmocka_unit_test_setup_teardown(test_db_syntax_error_is_db_with_the_backend_message,          \
                                    setup_fn, teardown_fn),                                       \
    cmocka_unit_test_setup_teardown(test_db_full_database_is_nospace, setup_fn, teardown_fn)

static int run_variant(struct variant *v)
{
    const struct CMUnitTest tests[] = { CASES(setup, teardown) };
    cur = v;
    return cmocka_run_group_tests_name(v->name, tests, NULL, NULL);
}

static void remove_sqlite_files(const char *path)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "sqlite";
    int failed = 0;
    if (strcmp(which, "sqlite") == 0) {
        const char *tmp = getenv("TMPDIR");
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/secup-test-db.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        char path[300];
        snprintf(path, sizeof(path), "%s/test.db", dir);
        struct variant file = { .name = "db_sqlite_file", .shared = true, .sqlite = true };
        snprintf(file.url, sizeof(file.url), "sqlite:%s", path);
        struct variant mem = { .name = "db_sqlite_memory", .url = "sqlite::memory:",
                               .sqlite = true };
        const struct CMUnitTest common[] = {
            cmocka_unit_test(test_db_bad_url_is_arg),
            cmocka_unit_test(test_db_unreachable_backend_is_db_with_a_message),
        };
        failed += cmocka_run_group_tests_name("db_urls", common, NULL, NULL);
        failed += run_variant(&file);
        failed += run_variant(&mem);
        remove_sqlite_files(path);
        rmdir(dir);
    } else if (strcmp(which, "pg") == 0) {
        const char *url = getenv("SECUP_TEST_PG_URL");
        if (!url || !url[0]) {
            fprintf(stderr, "test_db pg: SECUP_TEST_PG_URL is not set; start a cluster with "
                            "tests/support/pg-cluster.sh (ctest does)\n");
            return 1;
        }
        struct variant pg = { .name = "db_postgresql", .shared = true };
        snprintf(pg.url, sizeof(pg.url), "%s", url);
        failed += run_variant(&pg);
    } else {
        fprintf(stderr, "usage: test_db sqlite|pg\n");
        return 2;
    }
    return failed ? 1 : 0;
}
