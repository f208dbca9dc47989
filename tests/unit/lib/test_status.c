/* Signed status reports: round trip, both signature algorithms, every byte flipped and
 * every truncation refused, the kid bound to the reporter. */
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
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0x20;
        secup_rc rc = secup_status_verify(secup_bytes_of(buf, n), key, &got, &err);
        if (rc == SECUP_OK)
            fail_msg("byte %zu flipped and still accepted", i);
        buf[i] ^= 0x20;
    }
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        assert_int_not_equal(secup_status_verify(secup_bytes_of(part, cut), key, &got, &err), SECUP_OK);
        free(part);
    }
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
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t in[32];
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_round_trip_keeps_every_field),
        cmocka_unit_test(test_status_signed_with_p256_verifies_and_refuses_changes),
        cmocka_unit_test(test_status_signed_with_ed25519_verifies_and_refuses_changes),
        cmocka_unit_test(test_status_x25519_key_cannot_sign),
        cmocka_unit_test(test_status_malformed_payloads_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
