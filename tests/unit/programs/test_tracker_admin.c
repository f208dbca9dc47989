/* secup-tracker's administrator tokens, callback URLs and their back-off, the shared
 * administrator actions' refusals, and the parsers of the REST admin bodies
 * (programs/tracker: store_admin.c, admin.c, admin_req.c), on an in-memory SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "admin_req.h"
#include "tracker.h"

static struct db *db;

static int setup(void **state)
{
    (void)state;
    struct secup_err err;
    if (db_open("sqlite::memory:", &db, &err) != SECUP_OK || trk_schema(db, &err) != SECUP_OK)
        return -1;
    struct trk_consumer c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "cam-1");
    c.kind = TRK_DEVICE;
    snprintf(c.vendor, sizeof(c.vendor), "%032d", 1);
    snprintf(c.class_id, sizeof(c.class_id), "%032d", 2);
    return trk_consumer_add(db, &c, "consumer-hash", "pem", NULL, &err) == SECUP_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    db = NULL;
    return 0;
}

static void test_admin_tokens_hashed_unique_revocable(void **state)
{
    (void)state;
    struct secup_err err;
    char name[TRK_ID_MAX + 1];
    assert_int_equal(trk_admin_token_add(db, "ops", "hash-ops", &err), SECUP_OK);
    assert_int_equal(trk_admin_token_add(db, "ops", "hash-other", &err), SECUP_E_EXISTS);
    assert_non_null(strstr(err.msg, "ops"));
    assert_int_equal(trk_admin_by_token(db, "hash-ops", name, &err), SECUP_OK);
    assert_string_equal(name, "ops");
    assert_int_equal(trk_admin_by_token(db, "consumer-hash", name, &err), SECUP_E_AUTH);
    assert_string_equal(name, "");
    assert_int_equal(trk_admin_token_revoke(db, "ops", &err), SECUP_OK);
    assert_int_equal(trk_admin_by_token(db, "hash-ops", name, &err), SECUP_E_AUTH);
    assert_int_equal(trk_admin_token_revoke(db, "ops", &err), SECUP_E_NOENT);
    assert_int_equal(trk_admin_token_revoke(db, "nobody", &err), SECUP_E_NOENT);
    json_t *list = NULL;
    assert_int_equal(trk_admin_token_list(db, &list, &err), SECUP_OK);
    assert_int_equal(json_array_size(list), 1);
    assert_true(json_is_true(json_object_get(json_array_get(list, 0), "revoked")));
    assert_null(json_object_get(json_array_get(list, 0), "token_hash"));
    json_decref(list);
}

static void test_callback_back_off_doubles_to_its_cap_and_clears(void **state)
{
    (void)state;
    struct secup_err err;
    struct trk_callback cb;
    bool found = true;
    assert_int_equal(trk_callback_get(db, "cam-1", &cb, &found, &err), SECUP_OK);
    assert_false(found);
    assert_int_equal(trk_callback_queue(db, "cam-1", "00", 2000, &err), SECUP_E_STATE);
    assert_int_equal(trk_callback_set(db, "cam-1", "https://cam-1.local/v1/command", &err),
                     SECUP_OK);
    assert_int_equal(trk_callback_queue(db, "cam-1", "a1b2", 2000, &err), SECUP_OK);
    /* failures at time 1000 with 5 s doubling up to 30 s: 5, 10, 20, 30, 30 */
    const int64_t want[] = { 1005, 1010, 1020, 1030, 1030 };
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(trk_callback_done(db, "cam-1", false, true, NULL, 1000, 5, 30, &err),
                         SECUP_OK);
        assert_int_equal(trk_callback_get(db, "cam-1", &cb, &found, &err), SECUP_OK);
        assert_int_equal(cb.failures, (int64_t)i + 1);
        assert_int_equal(cb.next_try, want[i]);
        assert_true(cb.has_pending);
    }
    json_t *due = NULL;
    assert_int_equal(trk_callbacks_due(db, 1029, 10, &due, &err), SECUP_OK);
    assert_int_equal(json_array_size(due), 0);
    json_decref(due);
    assert_int_equal(trk_callbacks_due(db, 1030, 10, &due, &err), SECUP_OK);
    assert_int_equal(json_array_size(due), 1);
    json_decref(due);
    /* a poke queued meanwhile is sent at once, failures notwithstanding */
    assert_int_equal(trk_callback_queue(db, "cam-1", "c3d4", 2000, &err), SECUP_OK);
    assert_int_equal(trk_callback_get(db, "cam-1", &cb, &found, &err), SECUP_OK);
    assert_int_equal(cb.next_try, 0);
    char hex[16];
    assert_int_equal(trk_callback_pending(db, "cam-1", hex, sizeof(hex), &err), SECUP_OK);
    assert_string_equal(hex, "c3d4");
    /* delivered: back-off cleared, the poke gone, the command remembered */
    assert_int_equal(trk_callback_done(db, "cam-1", true, true, "feed", 1040, 5, 30, &err),
                     SECUP_OK);
    assert_int_equal(trk_callback_get(db, "cam-1", &cb, &found, &err), SECUP_OK);
    assert_int_equal(cb.failures, 0);
    assert_int_equal(cb.next_try, 0);
    assert_false(cb.has_pending);
    assert_string_equal(cb.pushed, "feed");
    assert_int_equal(trk_callback_pending(db, "cam-1", hex, sizeof(hex), &err), SECUP_E_NOENT);
    /* an expired poke is dropped; a new URL forgets what was delivered to the old one */
    assert_int_equal(trk_callback_queue(db, "cam-1", "e5", 1050, &err), SECUP_OK);
    assert_int_equal(trk_callback_drop_expired(db, 1050, &err), SECUP_OK);
    assert_int_equal(trk_callback_pending(db, "cam-1", hex, sizeof(hex), &err), SECUP_E_NOENT);
    assert_int_equal(trk_callback_set(db, "cam-1", "https://cam-1.local:9/v1/command", &err),
                     SECUP_OK);
    assert_int_equal(trk_callback_get(db, "cam-1", &cb, &found, &err), SECUP_OK);
    assert_string_equal(cb.pushed, "");
    assert_string_equal(cb.url, "https://cam-1.local:9/v1/command");
    /* the callback goes with its consumer */
    assert_int_equal(trk_consumer_remove(db, "cam-1", &err), SECUP_OK);
    assert_int_equal(trk_callback_get(db, "cam-1", &cb, &found, &err), SECUP_OK);
    assert_false(found);
}

static const char *state_of(int64_t now)
{
    static char state[32];
    json_t *out = NULL;
    struct secup_err err;
    assert_int_equal(trk_inventory(db, now, 3600, NULL, NULL, &out, &err), SECUP_OK);
    assert_int_equal(json_array_size(out), 1);
    snprintf(state, sizeof(state), "%s",
             json_string_value(json_object_get(json_array_get(out, 0), "state")));
    json_decref(out);
    return state;
}

static void test_stale_when_every_statement_expired(void **state)
{
    (void)state;
    struct secup_err err;
    int64_t now = (int64_t)time(NULL);
    assert_string_equal(state_of(now), "never-seen");
    assert_int_equal(trk_report_store(db, "cam-1", 1, now, false, false, 100, "[]", NULL, "00", &err), SECUP_OK);
    assert_string_equal(state_of(now), "up-to-date"); /* never polled: nothing to expire */
    assert_int_equal(trk_freshness_set(db, "cam-1", now + 600, &err), SECUP_OK);
    assert_string_equal(state_of(now), "up-to-date");
    assert_int_equal(trk_freshness_set(db, "cam-1", now + 60, &err), SECUP_OK); /* never lowered */
    assert_string_equal(state_of(now + 599), "up-to-date");
    assert_string_equal(state_of(now + 601), "stale");
    assert_string_equal(state_of(now + 4000), "unreachable"); /* no report for an hour first */
    json_t *out = NULL;
    assert_int_equal(trk_op_consumer_list(db, "admin:t", 3600, "stale", NULL, &out, &err), SECUP_OK);
    assert_int_equal(json_array_size(out), 0); /* the action judges at the time of asking */
    json_decref(out);
}

static int64_t events(void)
{
    int64_t n = -1;
    struct secup_err err;
    assert_int_equal(db_query_int(db, "SELECT COUNT(*) FROM events", NULL, 0, &n, &err), SECUP_OK);
    return n;
}

static void test_actions_refuse_before_touching_anything(void **state)
{
    (void)state;
    struct secup_err err;
    json_t *out = NULL;
    int64_t before = events();
    assert_true(trk_state_valid("never-seen"));
    assert_false(trk_state_valid("stale-ish"));
    assert_int_equal(trk_op_consumer_list(db, "admin:t", 60, "sleepy", NULL, &out, &err),
                     SECUP_E_VALUE);
    assert_int_equal(trk_op_consumer_list(db, "admin:t", 60, NULL, "ABC", &out, &err),
                     SECUP_E_VALUE);
    assert_int_equal(trk_op_consumer_show(db, "admin:t", 60, "nobody", &out, &err), SECUP_E_NOENT);
    assert_int_equal(trk_op_rollout_create(db, "admin:t", "../r", "00", 0, 20, NULL, 0, &out, &err),
                     SECUP_E_VALUE);
    char digest[65];
    memset(digest, '0', 64);
    digest[64] = '\0';
    assert_int_equal(trk_op_rollout_create(db, "admin:t", "r1", digest, -1, 20, NULL, 0, &out, &err),
                     SECUP_E_VALUE);
    assert_int_equal(trk_op_rollout_create(db, "admin:t", "r1", digest, 0, 101, NULL, 0, &out, &err),
                     SECUP_E_VALUE);
    assert_int_equal(trk_op_rollout_create(db, "admin:t", "r1", digest, 0, 20, NULL, 0, &out, &err),
                     SECUP_E_NOENT);
    assert_int_equal(trk_op_rollout_show(db, "admin:t", "r1", &out, &err), SECUP_E_NOENT);
    assert_int_equal(trk_op_rollout_step(db, "admin:t", "r1", "pause", &out, &err), SECUP_E_NOENT);
    assert_int_equal(trk_op_rollout_step(db, "admin:t", "r1", "explode", &out, &err), SECUP_E_VALUE);
    assert_null(out);
    assert_int_equal(events(), before);
    /* an accepted read is recorded with its actor */
    assert_int_equal(trk_op_consumer_list(db, "admin:t", 60, "never-seen", NULL, &out, &err),
                     SECUP_OK);
    assert_int_equal(json_array_size(out), 1);
    json_decref(out);
    assert_int_equal(events(), before + 1);
}

static void test_rollout_body_parser(void **state)
{
    (void)state;
    struct secup_err err;
    struct trk_rollout_req r;
#define PARSE(s) trk_rollout_req_parse((const uint8_t *)(s), strlen(s), &r, &err)
    assert_int_equal(PARSE("{\"id\": \"r1\", \"digest\": \"ab\"}"), SECUP_OK);
    assert_string_equal(r.id, "r1");
    assert_int_equal(r.canary, 0);
    assert_int_equal(r.max_failure_pct, 20);
    assert_int_equal(r.n_only, 0);
    trk_rollout_req_free(&r);
    assert_int_equal(PARSE("{\"id\": \"r1\", \"digest\": \"ab\", \"canary\": 3, \"max_failures\": 0,"
                           " \"consumers\": [\"a\", \"b\"]}"),
                     SECUP_OK);
    assert_int_equal(r.canary, 3);
    assert_int_equal(r.max_failure_pct, 0);
    assert_int_equal(r.n_only, 2);
    assert_string_equal(r.only[1], "b");
    trk_rollout_req_free(&r);
    const char *bad[] = {
        "", "{", "[]", "{\"id\": 1, \"digest\": \"ab\"}", "{\"id\": \"r1\"}",
        "{\"id\": \"r1\", \"id\": \"r2\", \"digest\": \"ab\"}",
        "{\"id\": \"r1\", \"digest\": \"ab\", \"force\": true}",
        "{\"id\": \"r1\", \"digest\": \"ab\", \"canary\": 1.5}",
        "{\"id\": \"r1\", \"digest\": \"ab\", \"canary\": 1000001}",
        "{\"id\": \"r1\", \"digest\": \"ab\", \"max_failures\": -1}",
        "{\"id\": \"r1\", \"digest\": \"ab\", \"consumers\": []}",
        "{\"id\": \"r1\", \"digest\": \"ab\", \"consumers\": [\"a\", 2]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(PARSE(bad[i]), SECUP_E_JSON);
        assert_null(r.root);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(PARSE("{\"id\": \"r1\", \"digest\": \"ab\", \"force\": true}"), SECUP_E_JSON);
    assert_non_null(strstr(err.msg, "force"));
#undef PARSE
}

static void test_callback_body_parser(void **state)
{
    (void)state;
    struct secup_err err;
    char url[TRK_CALLBACK_URL_MAX + 1];
#define PARSE(s) trk_callback_req_parse((const uint8_t *)(s), strlen(s), url, &err)
    assert_int_equal(PARSE("{\"url\": \"https://cam-1.local:8443/v1/command\"}"), SECUP_OK);
    assert_string_equal(url, "https://cam-1.local:8443/v1/command");
    assert_int_equal(PARSE("{\"url\": \"http://cam-1.local/\"}"), SECUP_E_VALUE);
    assert_string_equal(url, "");
    assert_int_equal(PARSE("{\"url\": \"https://a b/\"}"), SECUP_E_VALUE);
    assert_int_equal(PARSE("{\"url\": \"https://\"}"), SECUP_E_VALUE);
    assert_int_equal(PARSE("{\"url\": 5}"), SECUP_E_VALUE);
    assert_int_equal(PARSE("{\"url\": \"https://x/\", \"for\": \"d2\"}"), SECUP_E_JSON);
    static char u[TRK_CALLBACK_URL_MAX + 2], big[TRK_CALLBACK_URL_MAX + 64];
    memcpy(u, "https://", 8);
    memset(u + 8, 'a', TRK_CALLBACK_URL_MAX - 8); /* exactly the limit */
    snprintf(big, sizeof(big), "{\"url\": \"%s\"}", u);
    assert_int_equal(PARSE(big), SECUP_OK);
    assert_int_equal(strlen(url), TRK_CALLBACK_URL_MAX);
    u[TRK_CALLBACK_URL_MAX] = 'a'; /* one more */
    snprintf(big, sizeof(big), "{\"url\": \"%s\"}", u);
    assert_int_equal(PARSE(big), SECUP_E_VALUE);
#undef PARSE
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admin_tokens_hashed_unique_revocable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_back_off_doubles_to_its_cap_and_clears, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_actions_refuse_before_touching_anything, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_when_every_statement_expired, setup, teardown),
        cmocka_unit_test(test_rollout_body_parser),
        cmocka_unit_test(test_callback_body_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
