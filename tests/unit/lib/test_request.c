/* Signed manifest requests (secup-request): round trip, both signature algorithms, every
 * byte flipped and every truncation refused, the kid bound to the requester id, the
 * acceptance check (audience, replay, expiry, clock skew) and malformed maps named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cose/cose.h"
#include "secup/request.h"
#include "testutil.h"

static struct secup_request sample(void)
{
    static const char uri[] = "https://fw.example.com/v1/images/ab/manifest";
    struct secup_request r;
    memset(&r, 0, sizeof(r));
    r.requester = secup_bytes_of("alice", 5);
    r.tracker = secup_bytes_of("gw-1", 4);
    r.counter = 7;
    r.time = 1795000000;
    r.expires = 1795000600;
    r.uri = secup_bytes_of(uri, sizeof(uri) - 1);
    memset(r.digest, 0xab, 32);
    return r;
}

static void test_request_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct secup_request r = sample(), back;
    uint8_t buf[512], again[512];
    size_t len = 0, len2 = 0;
    struct secup_err err;
    assert_int_equal(secup_request_encode(&r, buf, sizeof(buf), &len, &err), SECUP_OK);
    assert_int_equal(secup_request_decode(&back, secup_bytes_of(buf, len), &err), SECUP_OK);
    assert_true(secup_bytes_equal(back.requester, r.requester));
    assert_true(secup_bytes_equal(back.tracker, r.tracker));
    assert_int_equal(back.counter, 7);
    assert_int_equal(back.time, 1795000000);
    assert_int_equal(back.expires, 1795000600);
    assert_true(secup_bytes_equal(back.uri, r.uri));
    assert_memory_equal(back.digest, r.digest, 32);
    assert_int_equal(secup_request_encode(&back, again, sizeof(again), &len2, &err), SECUP_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);
    assert_int_equal(secup_request_encode(&r, buf, len - 1, &len2, &err), SECUP_E_BUF_SMALL);
}

static void test_request_encoder_refuses_what_the_decoder_refuses(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len = 0;
    struct secup_err err;
    struct secup_request r = sample();
    r.counter = 0;
    assert_int_equal(secup_request_encode(&r, buf, sizeof(buf), &len, &err), SECUP_E_ARG);
    r = sample();
    r.tracker = secup_bytes_of("", 0);
    assert_int_equal(secup_request_encode(&r, buf, sizeof(buf), &len, &err), SECUP_E_ARG);
    r = sample();
    r.uri = secup_bytes_of(NULL, 0);
    assert_int_equal(secup_request_encode(&r, buf, sizeof(buf), &len, &err), SECUP_E_ARG);
}

static secup_rc verify_only(struct secup_bytes in, const struct secup_key *key,
                            struct secup_err *err)
{
    struct secup_request r;
    return secup_request_verify(in, key, &r, err);
}

static void sign_verify(enum secup_key_type type)
{
    struct secup_key *key = NULL, *other = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, type, &err), SECUP_OK);
    assert_int_equal(secup_key_generate(&other, type, &err), SECUP_OK);
    struct secup_request r = sample(), got;
    uint8_t buf[1024];
    size_t len = 0;
    assert_int_equal(secup_request_sign(&r, key, buf, sizeof(buf), &len, &err), SECUP_OK);
    struct secup_bytes who;
    assert_int_equal(secup_request_peek_requester(secup_bytes_of(buf, len), &who, &err), SECUP_OK);
    assert_true(secup_bytes_equal(who, r.requester));
    assert_int_equal(secup_request_verify(secup_bytes_of(buf, len), key, &got, &err), SECUP_OK);
    assert_int_equal(got.counter, 7);
    assert_int_equal(secup_request_verify(secup_bytes_of(buf, len), other, &got, &err), SECUP_E_SIG);
    assert_int_equal(got.counter, 0); /* zeroed on failure */
    tu_every_change_refused(buf, len, key, verify_only);
    secup_key_free(key);
    secup_key_free(other);
}

static void test_request_p256_signature_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_P256);
}

static void test_request_ed25519_signature_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_ED25519);
}

static void test_request_kid_must_be_the_requester(void **state)
{
    (void)state;
    struct secup_key *key = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, SECUP_KEY_P256, &err), SECUP_OK);
    struct secup_request r = sample(), got;
    uint8_t payload[512], buf[1024];
    size_t plen = 0, len = 0;
    assert_int_equal(secup_request_encode(&r, payload, sizeof(payload), &plen, &err), SECUP_OK);
    /* signed by alice's key, but named "mallory" in the kid */
    assert_int_equal(secup_cose_sign1_attached(key, secup_bytes_of(payload, plen),
                                               secup_bytes_of("mallory", 7), buf, sizeof(buf),
                                               &len, &err),
                     SECUP_OK);
    assert_int_equal(secup_request_verify(secup_bytes_of(buf, len), key, &got, &err), SECUP_E_VALUE);
    secup_key_free(key);
}

static void test_request_accept_checks_audience_order_and_time(void **state)
{
    (void)state;
    struct secup_err err;
    struct secup_request r = sample();
    uint64_t now = r.time + 10;
    assert_int_equal(secup_request_accept(&r, "gw-1", now, 6, 60, &err), SECUP_OK);
    assert_int_equal(secup_request_accept(&r, "gw-2", now, 6, 60, &err), SECUP_E_AUDIENCE);
    assert_int_equal(secup_request_accept(&r, "gw-10", now, 6, 60, &err), SECUP_E_AUDIENCE);
    assert_int_equal(secup_request_accept(&r, "gw-1", now, 7, 60, &err), SECUP_E_REPLAY);
    assert_int_equal(secup_request_accept(&r, "gw-1", now, 9, 60, &err), SECUP_E_REPLAY);
    assert_int_equal(secup_request_accept(&r, "gw-1", r.expires + 1, 6, 60, &err), SECUP_E_EXPIRED);
    assert_int_equal(secup_request_accept(&r, "gw-1", r.expires, 6, 60, &err), SECUP_OK);
    assert_int_equal(secup_request_accept(&r, "gw-1", r.time - 61, 6, 60, &err), SECUP_E_EXPIRED);
    assert_int_equal(secup_request_accept(&r, "gw-1", r.time - 60, 6, 60, &err), SECUP_OK);
    r.expires = r.time;
    assert_int_equal(secup_request_accept(&r, "gw-1", now, 6, 60, &err), SECUP_E_EXPIRED);
    assert_int_equal(secup_request_accept(NULL, "gw-1", now, 6, 60, &err), SECUP_E_ARG);
}

static void test_request_malformed_payloads_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        secup_rc rc;
    } cases[] = {
        { "a0", SECUP_E_MISSING },              /* {} */
        { "a10102", SECUP_E_UNSUPPORTED },      /* format 2 */
        { "a20101", SECUP_E_CBOR },             /* truncated */
        { "a201010101", SECUP_E_DUPLICATE },    /* {1: 1, 1: 1} */
        { "a10900", SECUP_E_UNKNOWN_KEY },      /* {9: 0} */
        { "a12000", SECUP_E_UNKNOWN_KEY },      /* {-1: 0} */
        { "a10201", SECUP_E_TYPE },             /* requester id not text */
        { "a10260", SECUP_E_VALUE },            /* empty requester id */
        { "a10400", SECUP_E_VALUE },            /* counter 0 */
        { "a108820040", SECUP_E_UNSUPPORTED },  /* digest [0, h''] */
        { "a9010101010101010101010101010101010101", SECUP_E_LIMIT_ITEMS }, /* 9 entries */
        { "80", SECUP_E_TYPE },                 /* not a map */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t in[32];
        size_t n = 0;
        struct secup_request got;
        struct secup_err err;
        assert_true(secup_hex_decode(cases[i].hex, in, sizeof(in), &n));
        secup_rc rc = secup_request_decode(&got, secup_bytes_of(in, n), &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %s, expected %s: %s", i, cases[i].hex, secup_rc_name(rc),
                     secup_rc_name(cases[i].rc), err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip_keeps_every_field),
        cmocka_unit_test(test_request_encoder_refuses_what_the_decoder_refuses),
        cmocka_unit_test(test_request_p256_signature_verifies_and_refuses_changes),
        cmocka_unit_test(test_request_ed25519_signature_verifies_and_refuses_changes),
        cmocka_unit_test(test_request_kid_must_be_the_requester),
        cmocka_unit_test(test_request_accept_checks_audience_order_and_time),
        cmocka_unit_test(test_request_malformed_payloads_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
