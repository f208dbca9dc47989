/* k-of-n signature thresholds of the agent (THREATS.md T10): only distinct keys of
 * anchors in force that may sign for the component count, and the floor of a threshold
 * component is the highest of its anchors'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "trust.h"

#define N 4

static struct agent_anchor anchors[N];
static uint8_t ids[N][32];

/* author (firmware, boot), operator (firmware), boot-only (boot), and "author-alias":
 * a second name for author's key */
static void setup_anchors(void)
{
    memset(anchors, 0, sizeof(anchors));
    memset(ids, 0, sizeof(ids));
    static const char *const names[N] = { "author", "operator", "bootonly", "author-alias" };
    for (int i = 0; i < N; i++) {
        snprintf(anchors[i].name, sizeof(anchors[i].name), "%s", names[i]);
        ids[i][0] = (uint8_t)(i + 1);
    }
    anchors[0].components = 3; /* firmware (0) and boot (1) */
    anchors[1].components = 1;
    anchors[2].components = 2;
    anchors[3].components = 1;
    memcpy(ids[3], ids[0], 32);
}

static void test_two_distinct_authorised_signers_count_two(void **state)
{
    (void)state;
    setup_anchors();
    uint32_t first = 99;
    /* THREAT: T10 */
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x3, 0, &first), 2);
    assert_int_equal(first, 0);
    /* only 1 of 2: the author alone */
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x1, 0, &first), 1);
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x2, 0, &first), 1);
    assert_int_equal(first, 1);
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0, 0, &first), 0);
    assert_int_equal(first, N);
}

static void test_same_key_under_two_names_counts_once(void **state)
{
    (void)state;
    setup_anchors();
    /* THREAT: T10 (tuf-conformance test_duplicate_sig_keyids) */
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x9, 0, NULL), 1);
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0xb, 0, NULL), 2);
}

static void test_unauthorised_and_retired_anchors_do_not_count(void **state)
{
    (void)state;
    setup_anchors();
    uint32_t first = 99;
    /* THREAT: T10 */
    /* bootonly may not sign for firmware */
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x5, 0, &first), 1);
    assert_int_equal(first, 0);
    /* operator may not sign for boot */
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x3, 1, NULL), 1);
    /* a retired (rotated out) anchor never counts again */
    anchors[1].retired = true;
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x3, 0, &first), 1);
    anchors[0].retired = true;
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0x3, 0, &first), 0);
    assert_int_equal(first, N);
    /* the alias of a retired key's anchor counts only as itself */
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0xb, 0, &first), 1);
    assert_int_equal(first, 3);
    /* out-of-range component */
    assert_int_equal(trust_count_signers(anchors, (const uint8_t (*)[32])ids, N, 0xf, 40, NULL), 0);
}

static void test_threshold_floor_is_the_highest_of_the_anchors_in_force(void **state)
{
    (void)state;
    setup_anchors();
    static struct agent_state st;
    memset(&st, 0, sizeof(st));
    struct secup_err err;
    uint32_t by = 99;
    assert_int_equal(trust_threshold_floor(anchors, N, &st, 0, &by), 0);
    assert_int_equal(by, 0);
    assert_int_equal(state_raise_floor(&st, 0, "author", 7, &err), SECUP_OK);
    assert_int_equal(state_raise_floor(&st, 0, "operator", 9, &err), SECUP_OK);
    assert_int_equal(state_raise_floor(&st, 1, "bootonly", 50, &err), SECUP_OK);
    /* THREAT: T10 a manifest signed by another subset cannot slip under a floor */
    assert_int_equal(trust_threshold_floor(anchors, N, &st, 0, &by), 9);
    assert_int_equal(by, 1);
    assert_int_equal(trust_threshold_floor(anchors, N, &st, 1, &by), 50);
    assert_int_equal(by, 2);
    /* a retired anchor's floor no longer binds (it was dropped with the anchor) */
    anchors[1].retired = true;
    assert_int_equal(trust_threshold_floor(anchors, N, &st, 0, &by), 7);
    assert_int_equal(by, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_distinct_authorised_signers_count_two),
        cmocka_unit_test(test_same_key_under_two_names_counts_once),
        cmocka_unit_test(test_unauthorised_and_retired_anchors_do_not_count),
        cmocka_unit_test(test_threshold_floor_is_the_highest_of_the_anchors_in_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
