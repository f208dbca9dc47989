/* Signed status reports: round trip, both signature algorithms, every byte flipped and
 * every truncation refused, the kid bound to the reporter, a tracker's aggregate (key 8)
 * and the last command seen (key 9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static struct secup_status sample(void)
{
    static const uint8_t id[] = { 0x81, 0x48, 'f', 'i', 'r', 'm', 'w', 'a', 'r', 'e' };
    static const uint8_t mdig[32] = { 9, 8, 7 };
    struct secup_status st;
    memset(&st, 0, sizeof(st));
    st.reporter = secup_bytes_of("cam-0001", 8);
    st.counter = 41;
    st.time = 1795000000;
    st.n_components = 1;
    st.components[0].id = secup_bytes_of(id, sizeof(id));
    st.components[0].seq = 7;
    st.components[0].version = secup_bytes_of("1.7.0", 5);
    st.components[0].slot = 1;
    st.components[0].digest[0] = 0xaa;
    st.components[0].digest[31] = 0x55;
    st.components[0].has_floor = true;
    st.components[0].floor = 7;
    st.has_last = true;
    st.last_id = secup_bytes_of(mdig, 32);
    st.last_code = secup_bytes_of("SECUP_E_DIGEST", 14);
    st.last_reason = secup_bytes_of("trial image failed verification", 31);
    st.last_time = 1794999999;
    st.safe_mode = false;
    return st;
}

static void test_status_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct secup_status st = sample();
    struct secup_status back;
    uint8_t buf[1024];
    size_t n = 0;
    struct secup_err err;
    assert_int_equal(secup_status_encode(&st, buf, sizeof(buf), &n, &err), SECUP_OK);
    assert_int_equal(secup_status_decode(&back, secup_bytes_of(buf, n), &err), SECUP_OK);
    assert_true(secup_bytes_equal(back.reporter, st.reporter));
    assert_int_equal(back.counter, 41);
    assert_int_equal(back.components[0].seq, 7);
    assert_int_equal(back.components[0].floor, 7);
    assert_memory_equal(back.components[0].digest, st.components[0].digest, 32);
    assert_true(secup_bytes_equal(back.last_code, st.last_code));
    assert_true(secup_bytes_equal(back.last_reason, st.last_reason));
    assert_false(back.safe_mode);
    /* the encoding is deterministic: encoding the decoded report gives the same bytes */
    uint8_t again[1024];
    size_t m = 0;
    assert_int_equal(secup_status_encode(&back, again, sizeof(again), &m, &err), SECUP_OK);
    assert_int_equal(m, n);
    assert_memory_equal(again, buf, n);
}

static secup_rc verify_only(struct secup_bytes in, const struct secup_key *key,
                            struct secup_err *err)
{
    static struct secup_status st;
    return secup_status_verify(in, key, &st, err);
}

static void sign_verify(enum secup_key_type type)
{
    struct secup_key *key = NULL;
    struct secup_key *other = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, type, &err), SECUP_OK);
    assert_int_equal(secup_key_generate(&other, type, &err), SECUP_OK);
    struct secup_status st = sample();
    struct secup_status got;
    uint8_t buf[2048];
    size_t n = 0;
    assert_int_equal(secup_status_sign(&st, key, buf, sizeof(buf), &n, &err), SECUP_OK);
    assert_int_equal(secup_status_verify(secup_bytes_of(buf, n), key, &got, &err), SECUP_OK);
    assert_int_equal(got.counter, 41);
    struct secup_bytes who;
    assert_int_equal(secup_status_peek_reporter(secup_bytes_of(buf, n), &who, &err), SECUP_OK);
    assert_true(secup_bytes_equal(who, st.reporter));
    assert_int_equal(secup_status_verify(secup_bytes_of(buf, n), other, &got, &err), SECUP_E_SIG);
    tu_every_change_refused(buf, n, key, verify_only);
    /* peeking reads the same report without any key, and refuses a cut one */
    struct secup_status peeked;
    assert_int_equal(secup_status_peek(secup_bytes_of(buf, n), &peeked, &err), SECUP_OK);
    assert_int_equal(peeked.counter, 41);
    assert_true(secup_bytes_equal(peeked.reporter, st.reporter));
    assert_int_not_equal(secup_status_peek(secup_bytes_of(buf, n - 1), &peeked, &err), SECUP_OK);
    assert_int_equal(peeked.counter, 0);
    secup_key_free(key);
    secup_key_free(other);
}

static void test_status_signed_with_p256_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_P256);
}

static void test_status_signed_with_ed25519_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_ED25519);
}

static void test_status_x25519_key_cannot_sign(void **state)
{
    (void)state;
    struct secup_key *key = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, SECUP_KEY_X25519, &err), SECUP_OK);
    struct secup_status st = sample();
    uint8_t buf[2048];
    size_t n = 0;
    assert_int_equal(secup_status_sign(&st, key, buf, sizeof(buf), &n, &err), SECUP_E_ARG);
    secup_key_free(key);
}

static void test_status_malformed_payloads_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        secup_rc rc;
    } cases[] = {
        { "a0", SECUP_E_MISSING },                    /* {} */
        { "a10102", SECUP_E_UNSUPPORTED },            /* {1: 2} */
        { "a20101", SECUP_E_CBOR },                   /* truncated */
        { "a2010102", SECUP_E_CBOR },                 /* truncated map */
        { "a201010101", SECUP_E_DUPLICATE },          /* {1: 1, 1: 1} */
        { "a1181e00", SECUP_E_UNKNOWN_KEY },          /* {30: 0} */
        { "a10201", SECUP_E_TYPE },                   /* reporter not text */
        { "80", SECUP_E_TYPE },                       /* not a map */
        { "a10a00", SECUP_E_UNKNOWN_KEY },            /* {10: 0} */
        { "a10880", SECUP_E_MISSING },                /* {8: []}, nothing else */
        { "a10801", SECUP_E_TYPE },                   /* aggregate not an array */
        { "a1089821", SECUP_E_LIMIT_ITEMS },          /* 33 aggregated reports */
        { "a1088140", SECUP_E_VALUE },                /* an empty aggregated report */
        { "a1088101", SECUP_E_TYPE },                 /* an aggregated report not bstr */
        { "a108816161", SECUP_E_TYPE },               /* ... nor text */
        { "a108814a", SECUP_E_CBOR },                 /* a truncated one */
        { "a20880" "0880", SECUP_E_DUPLICATE },       /* {8: [], 8: []} */
        { "a10901", SECUP_E_TYPE },                   /* last command id not bstr */
        { "a10940", SECUP_E_VALUE },                  /* last command id empty */
        { "a1094f000000000000000000000000000000", SECUP_E_VALUE }, /* of 15 bytes */
        { "a10951" "0000000000000000000000000000000000", SECUP_E_VALUE }, /* of 17 */
        { "a20950" "00000000000000000000000000000000" "0950"
          "00000000000000000000000000000000", SECUP_E_DUPLICATE }, /* twice */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t in[64];
        size_t n = 0;
        struct secup_status st;
        struct secup_err err;
        assert_true(secup_hex_decode(cases[i].hex, in, sizeof(in), &n));
        secup_rc rc = secup_status_decode(&st, secup_bytes_of(in, n), &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %s, expected %s: %s", i, cases[i].hex, secup_rc_name(rc),
                     secup_rc_name(cases[i].rc), err.msg);
    }
}

/* A tracker's report: its own state, its consumers' signed reports as received, and the
 * id of the last command it saw. */
static void test_status_aggregate_and_freshness_round_trip(void **state)
{
    (void)state;
    struct secup_key *dev = NULL;
    struct secup_key *dev2 = NULL;
    struct secup_key *trk = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&dev, SECUP_KEY_P256, &err), SECUP_OK);
    assert_int_equal(secup_key_generate(&dev2, SECUP_KEY_P256, &err), SECUP_OK);
    assert_int_equal(secup_key_generate(&trk, SECUP_KEY_ED25519, &err), SECUP_OK);
    static uint8_t reports[3][1024];
    size_t report_len[3] = { 0 };
    static const char *const devices[] = { "cam-0001", "cam-0002", "cam-0003" };
    for (size_t i = 0; i < 3; i++) {
        struct secup_status d = sample();
        d.reporter = secup_bytes_of(devices[i], strlen(devices[i]));
        d.counter = 100 + i;
        assert_int_equal(secup_status_sign(&d, dev, reports[i], sizeof(reports[i]),
                                           &report_len[i], &err),
                         SECUP_OK);
    }
    struct secup_status st = sample();
    st.reporter = secup_bytes_of("trk-eu", 6);
    st.has_aggregate = true;
    st.n_aggregate = 3;
    for (size_t i = 0; i < 3; i++)
        st.aggregate[i] = secup_bytes_of(reports[i], report_len[i]);
    st.has_last_command = true;
    for (int i = 0; i < 16; i++)
        st.last_command[i] = (uint8_t)(0xe0 + i);

    static uint8_t buf[SECUP_STATUS_MAX_SIGNED_SIZE];
    size_t n = 0;
    assert_int_equal(secup_status_sign(&st, trk, buf, sizeof(buf), &n, &err), SECUP_OK);
    struct secup_status got;
    assert_int_equal(secup_status_verify(secup_bytes_of(buf, n), trk, &got, &err), SECUP_OK);
    assert_true(got.has_aggregate);
    assert_int_equal(got.n_aggregate, 3);
    assert_true(got.has_last_command);
    assert_memory_equal(got.last_command, st.last_command, 16);
    for (size_t i = 0; i < 3; i++) {
        assert_true(secup_bytes_equal(got.aggregate[i], st.aggregate[i]));
        /* each aggregated report is verified on its own, with its reporter's key */
        struct secup_bytes who;
        struct secup_status inner;
        assert_int_equal(secup_status_peek_reporter(got.aggregate[i], &who, &err), SECUP_OK);
        assert_true(secup_bytes_equal(who, secup_bytes_of(devices[i], strlen(devices[i]))));
        assert_int_equal(secup_status_verify(got.aggregate[i], dev, &inner, &err), SECUP_OK);
        assert_int_equal(inner.counter, 100 + i);
        assert_int_equal(secup_status_verify(got.aggregate[i], dev2, &inner, &err), SECUP_E_SIG);
    }
    /* the payload re-encodes to the same bytes */
    static uint8_t p1[SECUP_STATUS_MAX_SIZE];
    static uint8_t p2[SECUP_STATUS_MAX_SIZE];
    size_t l1 = 0;
    size_t l2 = 0;
    assert_int_equal(secup_status_encode(&st, p1, sizeof(p1), &l1, &err), SECUP_OK);
    assert_int_equal(secup_status_decode(&got, secup_bytes_of(p1, l1), &err), SECUP_OK);
    assert_int_equal(secup_status_encode(&got, p2, sizeof(p2), &l2, &err), SECUP_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(p1, p2, l1);

    /* an empty aggregate is kept as present; absent fields stay absent */
    st.n_aggregate = 0;
    st.has_last_command = false;
    assert_int_equal(secup_status_encode(&st, p1, sizeof(p1), &l1, &err), SECUP_OK);
    assert_int_equal(secup_status_decode(&got, secup_bytes_of(p1, l1), &err), SECUP_OK);
    assert_true(got.has_aggregate);
    assert_int_equal(got.n_aggregate, 0);
    assert_false(got.has_last_command);
    st.has_aggregate = false;
    assert_int_equal(secup_status_encode(&st, p2, sizeof(p2), &l2, &err), SECUP_OK);
    assert_int_equal(l2 + 2, l1); /* key 8 and [] */
    assert_int_equal(secup_status_decode(&got, secup_bytes_of(p2, l2), &err), SECUP_OK);
    assert_false(got.has_aggregate);

    /* the encoder refuses what the decoder would refuse */
    st.has_aggregate = true;
    st.n_aggregate = SECUP_STATUS_MAX_AGGREGATE + 1;
    assert_int_equal(secup_status_encode(&st, p1, sizeof(p1), &l1, &err), SECUP_E_ARG);
    st.n_aggregate = 1;
    st.aggregate[0] = secup_bytes_of("", 0);
    assert_int_equal(secup_status_encode(&st, p1, sizeof(p1), &l1, &err), SECUP_E_ARG);
    st.has_aggregate = false;
    st.aggregate[0] = secup_bytes_of(reports[0], report_len[0]);
    assert_int_equal(secup_status_encode(&st, p1, sizeof(p1), &l1, &err), SECUP_E_ARG);
    secup_key_free(dev);
    secup_key_free(dev2);
    secup_key_free(trk);
}

/* The aggregate is bounded by the payload size too: a report whose aggregate would not fit
 * in SECUP_STATUS_MAX_SIZE is not signed, and a larger payload is not decoded. */
static void test_status_aggregate_is_bounded_by_the_payload_size(void **state)
{
    (void)state;
    static uint8_t blob[3000];
    memset(blob, 0x42, sizeof(blob));
    struct secup_status st = sample();
    st.has_aggregate = true;
    st.n_aggregate = 3;
    for (size_t i = 0; i < 3; i++)
        st.aggregate[i] = secup_bytes_of(blob, sizeof(blob));
    struct secup_key *key = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, SECUP_KEY_ED25519, &err), SECUP_OK);
    static uint8_t buf[4 * SECUP_STATUS_MAX_SIZE];
    size_t n = 0;
    assert_int_not_equal(secup_status_sign(&st, key, buf, sizeof(buf), &n, &err), SECUP_OK);
    assert_int_equal(secup_status_encode(&st, buf, sizeof(buf), &n, &err), SECUP_OK);
    assert_true(n > SECUP_STATUS_MAX_SIZE);
    struct secup_status got;
    assert_int_equal(secup_status_decode(&got, secup_bytes_of(buf, n), &err), SECUP_E_LIMIT_SIZE);
    st.n_aggregate = 2;
    assert_int_equal(secup_status_sign(&st, key, buf, sizeof(buf), &n, &err), SECUP_OK);
    assert_int_equal(secup_status_verify(secup_bytes_of(buf, n), key, &got, &err), SECUP_OK);
    assert_int_equal(got.n_aggregate, 2);
    secup_key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_round_trip_keeps_every_field),
        cmocka_unit_test(test_status_signed_with_p256_verifies_and_refuses_changes),
        cmocka_unit_test(test_status_signed_with_ed25519_verifies_and_refuses_changes),
        cmocka_unit_test(test_status_x25519_key_cannot_sign),
        cmocka_unit_test(test_status_malformed_payloads_are_named),
        cmocka_unit_test(test_status_aggregate_and_freshness_round_trip),
        cmocka_unit_test(test_status_aggregate_is_bounded_by_the_payload_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
