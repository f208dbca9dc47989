/* Signed server notifications: round trip, both signature algorithms, every byte flipped
 * and every truncation refused, the kid bound to the server id, malformed maps named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secup/notification.h"
#include "testutil.h"

static struct secup_notification sample(void)
{
    static const uint8_t comp[] = { 0x81, 0x48, 'f', 'i', 'r', 'm', 'w', 'a', 'r', 'e' };
    static const char uri[] = "https://fw.example.com/v1/images/ab/manifest";
    struct secup_notification n;
    memset(&n, 0, sizeof(n));
    n.server = secup_bytes_of("fw1", 3);
    n.counter = 7;
    n.time = 1795000000;
    memset(n.vendor_id, 0x11, 16);
    memset(n.class_id, 0x22, 16);
    n.component = secup_bytes_of(comp, sizeof(comp));
    n.seq = 42;
    n.uri = secup_bytes_of(uri, sizeof(uri) - 1);
    memset(n.digest, 0xab, 32);
    return n;
}

static void test_notification_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct secup_notification n = sample(), back;
    uint8_t buf[512], again[512];
    size_t len = 0, len2 = 0;
    struct secup_err err;
    assert_int_equal(secup_notification_encode(&n, buf, sizeof(buf), &len, &err), SECUP_OK);
    assert_int_equal(secup_notification_decode(&back, secup_bytes_of(buf, len), &err), SECUP_OK);
    assert_true(secup_bytes_equal(back.server, n.server));
    assert_int_equal(back.counter, 7);
    assert_int_equal(back.time, 1795000000);
    assert_memory_equal(back.vendor_id, n.vendor_id, 16);
    assert_memory_equal(back.class_id, n.class_id, 16);
    assert_true(secup_bytes_equal(back.component, n.component));
    assert_int_equal(back.seq, 42);
    assert_true(secup_bytes_equal(back.uri, n.uri));
    assert_memory_equal(back.digest, n.digest, 32);
    assert_int_equal(secup_notification_encode(&back, again, sizeof(again), &len2, &err), SECUP_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);
    /* a buffer one byte short is refused, not overrun */
    assert_int_equal(secup_notification_encode(&n, buf, len - 1, &len2, &err), SECUP_E_BUF_SMALL);
}

static secup_rc verify_only(struct secup_bytes in, const struct secup_key *key,
                            struct secup_err *err)
{
    struct secup_notification n;
    return secup_notification_verify(in, key, &n, err);
}

static void sign_verify(enum secup_key_type type)
{
    struct secup_key *key = NULL, *other = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, type, &err), SECUP_OK);
    assert_int_equal(secup_key_generate(&other, type, &err), SECUP_OK);
    struct secup_notification n = sample(), got;
    uint8_t buf[1024];
    size_t len = 0;
    assert_int_equal(secup_notification_sign(&n, key, buf, sizeof(buf), &len, &err), SECUP_OK);
    assert_int_equal(secup_notification_verify(secup_bytes_of(buf, len), key, &got, &err), SECUP_OK);
    assert_int_equal(got.seq, 42);
    assert_int_equal(secup_notification_verify(secup_bytes_of(buf, len), other, &got, &err),
                     SECUP_E_SIG);
    tu_every_change_refused(buf, len, key, verify_only);
    secup_key_free(key);
    secup_key_free(other);
}

static void test_notification_p256_signature_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_P256);
}

static void test_notification_ed25519_signature_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_ED25519);
}

static void test_notification_malformed_payloads_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        secup_rc rc;
    } cases[] = {
        { "a0", SECUP_E_MISSING },           /* {} */
        { "a10102", SECUP_E_UNSUPPORTED },   /* format 2 */
        { "a20101", SECUP_E_CBOR },          /* truncated */
        { "a201010101", SECUP_E_DUPLICATE }, /* {1: 1, 1: 1} */
        { "a10b00", SECUP_E_UNKNOWN_KEY },   /* {11: 0} */
        { "a10201", SECUP_E_TYPE },          /* server id not text */
        { "a1054100", SECUP_E_VALUE },       /* vendor id of 1 byte */
        { "a10a820040", SECUP_E_UNSUPPORTED },  /* digest [0, h''] */
        { "80", SECUP_E_TYPE },              /* not a map */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t in[32];
        size_t n = 0;
        struct secup_notification got;
        struct secup_err err;
        assert_true(secup_hex_decode(cases[i].hex, in, sizeof(in), &n));
        secup_rc rc = secup_notification_decode(&got, secup_bytes_of(in, n), &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %s, expected %s: %s", i, cases[i].hex, secup_rc_name(rc),
                     secup_rc_name(cases[i].rc), err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notification_round_trip_keeps_every_field),
        cmocka_unit_test(test_notification_p256_signature_verifies_and_refuses_changes),
        cmocka_unit_test(test_notification_ed25519_signature_verifies_and_refuses_changes),
        cmocka_unit_test(test_notification_malformed_payloads_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
