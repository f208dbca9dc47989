/* lib/suit/uuid.c: name-based UUIDs (RFC 9562 version 5) as SUIT vendor and class
 * identifiers (manifest-37 section 8.4.8.1), and their text form.
 *
 * Expected values were computed independently, once, with Python's uuid module, e.g.
 *   /usr/bin/python3 -c 'import uuid; print(uuid.uuid5(uuid.UUID("<vendor>"), "<name>"))'
 * and the vendor id of "arm.com" is the one spec/SUIT.md quotes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static const uint8_t ns_dns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
static const uint8_t ns_oid[16] = {0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1,
                                   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};

#define ARM_COM "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe"

static void parse_or_fail(const char *s, uint8_t out[16])
{
    if (!secup_uuid_parse(s, out))
        fail_msg("'%s' does not parse", s);
}

static void assert_uuid_is(const uint8_t got[16], const char *want)
{
    char text[SECUP_UUID_STR_LEN + 1];
    secup_uuid_format(got, text);
    assert_string_equal(text, want);
}

static void assert_version5_rfc_variant(const uint8_t u[16])
{
    assert_int_equal(u[6] >> 4, 5);
    assert_int_equal(u[8] & 0xc0, 0x80);
}

static const struct {
    const char *domain;
    const char *want;
} vendors[] = {
    {"arm.com", ARM_COM},
    {"example.com", "cfbff0d1-9375-5685-968c-48ce8b15ae17"},
    {"secup.example", "1de90c83-43d2-5682-abe7-5c51c6a33865"},
};

static void test_uuid_vendor_id_of_a_domain_matches_uuid5_of_the_dns_namespace(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(vendors); i++) {
        uint8_t got[16];
        struct secup_err err;
        secup_rc rc = secup_vendor_id(vendors[i].domain, got, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: %s", vendors[i].domain, err.msg);
        assert_uuid_is(got, vendors[i].want);
        assert_version5_rfc_variant(got);
    }
}

static const struct {
    const char *name;
    const char *want;
} classes[] = {
    {"secup-test-board", "9dc4e28b-98b2-52bb-969f-42219d932dfb"},
    {"nRF52840-dk", "af84a4ef-32b5-52a3-b78d-d86ca58d81a6"},
    {"a", "a4e6a293-9573-5659-953a-4b73407bee64"},
    {"class with spaces/and/slashes", "81ff8758-795d-5920-a777-64b3f6b6b2aa"},
};

static void test_uuid_class_id_under_arm_com_matches_independent_uuid5(void **state)
{
    (void)state;
    uint8_t vendor[16];
    assert_int_equal(secup_vendor_id("arm.com", vendor, NULL), SECUP_OK);
    for (size_t i = 0; i < ARRAY_SIZE(classes); i++) {
        uint8_t got[16];
        struct secup_err err;
        secup_rc rc = secup_class_id(vendor, classes[i].name, got, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: %s", classes[i].name, err.msg);
        assert_uuid_is(got, classes[i].want);
        assert_version5_rfc_variant(got);
    }
}

static void test_uuid_uuid5_with_the_dns_namespace_equals_vendor_id(void **state)
{
    (void)state;
    uint8_t a[16];
    uint8_t b[16];
    assert_int_equal(secup_uuid5(ns_dns, secup_bytes_of("arm.com", 7), a, NULL), SECUP_OK);
    assert_int_equal(secup_vendor_id("arm.com", b, NULL), SECUP_OK);
    assert_memory_equal(a, b, 16);
}

/* NAMESPACE_CBOR_PEN = UUID5(NAMESPACE_OID, h'D86F452B06010401') (spec/SUIT.md 2.1): the name
 * is binary, so it must be hashed as given, not as a C string. */
static void test_uuid_uuid5_of_binary_name_matches_the_cbor_pen_namespace(void **state)
{
    (void)state;
    static const uint8_t name[] = {0xd8, 0x6f, 0x45, 0x2b, 0x06, 0x01, 0x04, 0x01};
    uint8_t got[16];
    assert_int_equal(secup_uuid5(ns_oid, secup_bytes_of(name, sizeof(name)), got, NULL), SECUP_OK);
    assert_uuid_is(got, "47fbdabb-f2e4-55f0-bb39-3620c2f6df4e");
}

static void test_uuid_empty_domain_or_class_name_is_refused_as_arg(void **state)
{
    (void)state;
    uint8_t vendor[16];
    uint8_t out[16];
    assert_int_equal(secup_vendor_id("", out, NULL), SECUP_E_ARG);
    assert_int_equal(secup_vendor_id(NULL, out, NULL), SECUP_E_ARG);
    assert_int_equal(secup_vendor_id("arm.com", vendor, NULL), SECUP_OK);
    assert_int_equal(secup_class_id(vendor, "", out, NULL), SECUP_E_ARG);
    assert_int_equal(secup_class_id(vendor, NULL, out, NULL), SECUP_E_ARG);
}

static void test_uuid_format_then_parse_round_trips(void **state)
{
    (void)state;
    uint8_t u[16];
    for (size_t i = 0; i < ARRAY_SIZE(vendors); i++) {
        assert_int_equal(secup_vendor_id(vendors[i].domain, u, NULL), SECUP_OK);
        char text[SECUP_UUID_STR_LEN + 1];
        memset(text, 'x', sizeof(text));
        secup_uuid_format(u, text);
        assert_int_equal(strlen(text), SECUP_UUID_STR_LEN);
        uint8_t back[16];
        parse_or_fail(text, back);
        assert_memory_equal(u, back, 16);
    }
    /* Every byte value survives, in every position. */
    for (unsigned v = 0; v < 256; v++) {
        for (size_t pos = 0; pos < 16; pos++) {
            memset(u, (int)(255 - v), sizeof(u));
            u[pos] = (uint8_t)v;
            char text[SECUP_UUID_STR_LEN + 1];
            secup_uuid_format(u, text);
            uint8_t back[16];
            parse_or_fail(text, back);
            assert_memory_equal(u, back, 16);
        }
    }
}

static void test_uuid_parse_accepts_upper_case_hex(void **state)
{
    (void)state;
    uint8_t lower[16];
    uint8_t upper[16];
    parse_or_fail(ARM_COM, lower);
    parse_or_fail("FA6B4A53-D5AD-5FDF-BE9D-E663E4D41FFE", upper);
    assert_memory_equal(lower, upper, 16);
    assert_int_equal(lower[0], 0xfa);
    assert_int_equal(lower[15], 0xfe);
}

static const char *const malformed[] = {
    "",
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ff",    /* 35 characters */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe0",  /* 37 characters */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe\n", /* trailing newline */
    "fa6b4a53d5ad-5fdf-be9d-e663e4d41ffe0",   /* first hyphen missing */
    "fa6b4a53-d5ad5fdf-be9d-e663e4d41ffe0",   /* second hyphen missing */
    "fa6b4a53-d5ad-5fdfbe9d-e663e4d41ffe0",   /* third hyphen missing */
    "fa6b4a53-d5ad-5fdf-be9de663e4d41ffe0",   /* fourth hyphen missing */
    "fa6b4a5-3d5ad-5fdf-be9d-e663e4d41ffe",   /* hyphen moved */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d4-ffe",   /* hyphen in the last group */
    "fa6b4a53_d5ad_5fdf_be9d_e663e4d41ffe",   /* other separator */
    "ga6b4a53-d5ad-5fdf-be9d-e663e4d41ffe",   /* not hex */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffz",   /* not hex at the end */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ff ",   /* trailing space */
    " fa6b4a53-d5ad-5fdf-be9d-e663e4d41ff",   /* leading space */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d 1ffe",   /* space inside */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d41f e",   /* space in the low nibble */
    "fa6b4a53-d5ad-5fdf-be9d-e663e4d41f\te",  /* tab */
    "+a6b4a53-d5ad-5fdf-be9d-e663e4d41ffe",   /* sign */
    "{fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe}", /* braces */
    "urn:uuid:fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe",
    "fa6b4a53d5ad5fdfbe9de663e4d41ffe",     /* no hyphens */
    "------------------------------------", /* 36 hyphens */
    "fa6b4a53--d5ad-5fdf-be9d-e663e4d41ff",
};

static void test_uuid_parse_refuses_malformed_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
        uint8_t out[16];
        if (secup_uuid_parse(malformed[i], out))
            fail_msg("'%s' was accepted", malformed[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_vendor_id_of_a_domain_matches_uuid5_of_the_dns_namespace),
        cmocka_unit_test(test_uuid_class_id_under_arm_com_matches_independent_uuid5),
        cmocka_unit_test(test_uuid_uuid5_with_the_dns_namespace_equals_vendor_id),
        cmocka_unit_test(test_uuid_uuid5_of_binary_name_matches_the_cbor_pen_namespace),
        cmocka_unit_test(test_uuid_empty_domain_or_class_name_is_refused_as_arg),
        cmocka_unit_test(test_uuid_format_then_parse_round_trips),
        cmocka_unit_test(test_uuid_parse_accepts_upper_case_hex),
        cmocka_unit_test(test_uuid_parse_refuses_malformed_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
