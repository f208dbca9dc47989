/* The tracker's store for discovery and variant choice (programs/tracker/store.c), on a
 * real SQLite database in memory: the variant a consumer is offered (profile declared,
 * image fits the slot, newest first), the hold that says why none fits, requesters'
 * counters, the poll tags, and what a consumer reports that the tracker does not know. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tracker.h"

#define VENDOR "11111111111111111111111111111111"
#define CLASS "22222222222222222222222222222222"
#define COMP "81486669726d77617265" /* ["firmware"] */

static struct db *db;

static int setup(void **state)
{
    (void)state;
    struct secup_err err;
    if (db_open("sqlite::memory:", &db, &err) != SECUP_OK || trk_schema(db, &err) != SECUP_OK) {
        print_error("store: %s\n", err.msg);
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

/* A consumer running sequence seq of "firmware", with the given attributes. */
static void consumer(const char *id, const char *attrs, int64_t seq)
{
    struct secup_err err;
    struct trk_consumer c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s", id);
    c.kind = TRK_DEVICE;
    snprintf(c.vendor, sizeof(c.vendor), VENDOR);
    snprintf(c.class_id, sizeof(c.class_id), CLASS);
    char hash[80], comps[200];
    snprintf(hash, sizeof(hash), "hash-%s", id);
    assert_int_equal(trk_consumer_add(db, &c, hash, "pem", attrs, &err), SECUP_OK);
    snprintf(comps, sizeof(comps), "[{\"id\": \"" COMP "\", \"sequence\": %lld, \"digest\": \"00\"}]",
             (long long)seq);
    assert_int_equal(trk_report_store(db, id, 1, 1, false, false, 1000, comps, NULL, "00", &err), SECUP_OK);
}

static void manifest(char tag, int64_t seq, const char *profile, int64_t size)
{
    struct secup_err err;
    struct trk_manifest m;
    memset(&m, 0, sizeof(m));
    memset(m.digest, tag, 64);
    snprintf(m.vendor, sizeof(m.vendor), VENDOR);
    snprintf(m.class_id, sizeof(m.class_id), CLASS);
    snprintf(m.component, sizeof(m.component), COMP);
    m.seq = seq;
    snprintf(m.uri, sizeof(m.uri), "https://fw/%c", tag);
    snprintf(m.profile, sizeof(m.profile), "%s", profile);
    m.has_size = size >= 0;
    m.size = size;
    bool added = false;
    assert_int_equal(trk_manifest_put(db, "fw1", &m, &added, &err), SECUP_OK);
    assert_true(added);
    assert_int_equal(trk_manifest_put(db, "fw1", &m, &added, &err), SECUP_OK);
    assert_false(added); /* known: nothing changes */
}

static char offered(const char *id)
{
    struct secup_err err;
    struct trk_need need;
    bool found = false;
    assert_int_equal(trk_needed_install(db, id, true, &need, &found, &err), SECUP_OK);
    return found ? need.digest[0] : '-';
}

static const char *hold_of(const char *id)
{
    static char hold[600];
    struct secup_err err;
    struct db_value v[] = { DB_TEXT_V(id) };
    if (db_query_text(db, "SELECT COALESCE(hold, '') FROM consumers WHERE id = $1", v, 1, hold,
                      sizeof(hold), &err) != SECUP_OK)
        return "?";
    return hold;
}

static void test_the_variant_offered_fits_profile_and_slot(void **state)
{
    (void)state;
    manifest('a', 4, "suit-sha256-esp256", 200000);
    manifest('b', 4, "suit-sha256-eddsa", 200000);
    manifest('c', 3, "suit-sha256-esp256", 50000);
    consumer("esp", "{\"profiles\": [\"suit-sha256-esp256\"], \"slot-size\": 300000}", 2);
    consumer("ed", "{\"profiles\": [\"suit-sha256-eddsa\"], \"slot-size\": 300000}", 2);
    consumer("any", "{}", 2);
    consumer("small", "{\"profiles\": [\"suit-sha256-esp256\"], \"slot-size\": 100000}", 2);
    consumer("tiny", "{\"slot-size\": 1000}", 2);
    consumer("hmac", "{\"profiles\": [\"suit-sha256-hmac\"]}", 2);
    consumer("current", "{}", 4);
    assert_int_equal(offered("esp"), 'a');
    assert_int_equal(offered("ed"), 'b');
    /* no profile declared, no slot size: the newest, either variant (by digest order) */
    assert_int_equal(offered("any"), 'a');
    /* the newest does not fit: an older one that does */
    assert_int_equal(offered("small"), 'c');
    assert_string_equal(hold_of("small"), "");
    assert_int_equal(offered("tiny"), '-');
    assert_non_null(strstr(hold_of("tiny"), "does not fit the 1000-byte slot"));
    assert_int_equal(offered("hmac"), '-');
    assert_non_null(strstr(hold_of("hmac"), "is not one the consumer declared"));
    assert_int_equal(offered("current"), '-');
    assert_string_equal(hold_of("current"), "");
}

static void test_a_hold_clears_when_a_variant_arrives(void **state)
{
    (void)state;
    manifest('a', 4, "suit-sha256-esp256", 200000);
    consumer("ed", "{\"profiles\": [\"suit-sha256-eddsa\"]}", 2);
    assert_int_equal(offered("ed"), '-');
    assert_non_null(strstr(hold_of("ed"), "sequence 4"));
    struct secup_err err;
    json_t *inv = NULL;
    assert_int_equal(trk_inventory(db, 2, 3600, "no-variant", NULL, &inv, &err), SECUP_OK);
    assert_int_equal(json_array_size(inv), 1);
    json_decref(inv);
    manifest('b', 4, "suit-sha256-eddsa", 200000);
    assert_int_equal(offered("ed"), 'b');
    assert_string_equal(hold_of("ed"), "");
}

static void test_unknown_profile_or_size_does_not_exclude(void **state)
{
    (void)state;
    manifest('n', 5, "", -1); /* e.g. from a notification without trust anchors */
    consumer("esp", "{\"profiles\": [\"suit-sha256-esp256\"], \"slot-size\": 10}", 1);
    assert_int_equal(offered("esp"), 'n');
}

static void test_requester_counters_only_rise(void **state)
{
    (void)state;
    struct secup_err err;
    char pem[100];
    int64_t last = -1;
    assert_int_equal(trk_requester_key(db, "ops", pem, sizeof(pem), &last, &err), SECUP_E_KEY_UNKNOWN);
    assert_int_equal(trk_requester_add(db, "ops", "PEM", &err), SECUP_OK);
    assert_int_equal(trk_requester_add(db, "ops", "PEM", &err), SECUP_E_EXISTS);
    assert_int_equal(trk_requester_key(db, "ops", pem, sizeof(pem), &last, &err), SECUP_OK);
    assert_string_equal(pem, "PEM");
    assert_int_equal(last, 0);
    assert_int_equal(trk_requester_advance(db, "ops", 5, &err), SECUP_OK);
    assert_int_equal(trk_requester_advance(db, "ops", 5, &err), SECUP_E_REPLAY);
    assert_int_equal(trk_requester_advance(db, "ops", 4, &err), SECUP_E_REPLAY);
    assert_int_equal(trk_requester_key(db, "ops", pem, sizeof(pem), &last, &err), SECUP_OK);
    assert_int_equal(last, 5);
}

static void test_poll_tags_and_server_links(void **state)
{
    (void)state;
    struct secup_err err;
    char tag[130];
    assert_int_equal(trk_server_add(db, "fw1", "PEM", "https://fw1", &err), SECUP_OK);
    assert_int_equal(trk_server_add(db, "fw2", "PEM", NULL, &err), SECUP_OK);
    struct trk_server_link links[4];
    size_t n = 0;
    assert_int_equal(trk_server_links(db, links, 4, &n, &err), SECUP_OK);
    assert_int_equal(n, 1); /* only the one with a URL is polled */
    assert_string_equal(links[0].url, "https://fw1");
    assert_int_equal(trk_poll_tag_get(db, "fw1", "latest|x", tag, sizeof(tag), &err), SECUP_OK);
    assert_string_equal(tag, "");
    assert_int_equal(trk_poll_tag_set(db, "fw1", "latest|x", "\"t1\"", &err), SECUP_OK);
    assert_int_equal(trk_poll_tag_set(db, "fw1", "latest|x", "\"t2\"", &err), SECUP_OK);
    assert_int_equal(trk_poll_tag_get(db, "fw1", "latest|x", tag, sizeof(tag), &err), SECUP_OK);
    assert_string_equal(tag, "\"t2\"");
}

static void test_fleet_tuples_give_the_highest_reported_sequence(void **state)
{
    (void)state;
    struct secup_err err;
    consumer("a", "{}", 3);
    consumer("b", "{}", 7);
    json_t *t = NULL;
    assert_int_equal(trk_fleet_tuples(db, 0, &t, &err), SECUP_OK);
    assert_int_equal(json_array_size(t), 1);
    json_t *o = json_array_get(t, 0);
    assert_int_equal(json_integer_value(json_object_get(o, "sequence")), 7);
    assert_string_equal(json_string_value(json_object_get(o, "consumer")), "b");
    assert_string_equal(json_string_value(json_object_get(o, "component")), COMP);
    json_decref(t);
    /* nobody seen since far in the future */
    assert_int_equal(trk_fleet_tuples(db, INT64_MAX, &t, &err), SECUP_OK);
    assert_int_equal(json_array_size(t), 0);
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_variant_offered_fits_profile_and_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_hold_clears_when_a_variant_arrives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_profile_or_size_does_not_exclude, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requester_counters_only_rise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_tags_and_server_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fleet_tuples_give_the_highest_reported_sequence, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
