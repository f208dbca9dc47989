/* lib/util/rc.c: every result code has a name and a description, names are unique and
 * round-trip, and the exit status follows the code's band (include/secup/rc.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define RC_LIMIT 500
#define UNKNOWN_NAME "SECUP_E_UNKNOWN_CODE"
#define UNKNOWN_STR "unknown result code"

/* Every enumerator of rc.h, spelled as in the header, with the exit status its band
 * documents: 0 ok, 1 refusal (3xx), 2 usage (1xx), 3 bad input (2xx), 4 environment (4xx). */
#define C(code, status)                                                                            \
    {                                                                                              \
        code, #code, status                                                                        \
    }
static const struct {
    secup_rc rc;
    const char *name;
    int exit_status;
} codes[] = {
    C(SECUP_OK, 0),
    C(SECUP_E_ARG, 2),
    C(SECUP_E_STATE, 2),
    C(SECUP_E_BUF_SMALL, 2),
    C(SECUP_E_USAGE, 2),
    C(SECUP_E_CBOR, 3),
    C(SECUP_E_LIMIT, 3),
    C(SECUP_E_UNSUPPORTED, 3),
    C(SECUP_E_TYPE, 3),
    C(SECUP_E_MISSING, 3),
    C(SECUP_E_DUPLICATE, 3),
    C(SECUP_E_TRAILING, 3),
    C(SECUP_E_INDEFINITE, 3),
    C(SECUP_E_UNKNOWN_KEY, 3),
    C(SECUP_E_VALUE, 3),
    C(SECUP_E_LIMIT_SIZE, 3),
    C(SECUP_E_LIMIT_DEPTH, 3),
    C(SECUP_E_LIMIT_COMPONENTS, 3),
    C(SECUP_E_LIMIT_COMMANDS, 3),
    C(SECUP_E_LIMIT_STRING, 3),
    C(SECUP_E_LIMIT_BYTES, 3),
    C(SECUP_E_LIMIT_PARAMS, 3),
    C(SECUP_E_LIMIT_AUTH, 3),
    C(SECUP_E_LIMIT_ITEMS, 3),
    C(SECUP_E_JSON, 3),
    C(SECUP_E_KEY_FORMAT, 3),
    C(SECUP_E_SEVERED, 3),
    C(SECUP_E_LIMIT_TEXT, 3),
    C(SECUP_E_LIMIT_DEPENDENCIES, 3),
    C(SECUP_E_SIG, 1),
    C(SECUP_E_DIGEST, 1),
    C(SECUP_E_KEY_UNKNOWN, 1),
    C(SECUP_E_ROLLBACK, 1),
    C(SECUP_E_VENDOR, 1),
    C(SECUP_E_CLASS, 1),
    C(SECUP_E_SIZE, 1),
    C(SECUP_E_UNSIGNED, 1),
    C(SECUP_E_POLICY, 1),
    C(SECUP_E_NOMEM, 4),
    C(SECUP_E_IO, 4),
    C(SECUP_E_NET, 4),
    C(SECUP_E_DB, 4),
    C(SECUP_E_CRYPTO, 4),
    C(SECUP_E_NOENT, 4),
    C(SECUP_E_EXISTS, 4),
};
#undef C

static bool is_known(int v)
{
    return strcmp(secup_rc_name((secup_rc)v), UNKNOWN_NAME) != 0;
}

static int band_exit_status(int v)
{
    if (v == 0)
        return 0;
    switch (v / 100) {
    case 1:
        return 2;
    case 2:
        return 3;
    case 3:
        return 1;
    default:
        return 4;
    }
}

static void test_rc_every_enumerator_has_its_own_name_and_a_description(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
        const char *str = secup_rc_str(codes[i].rc);
        assert_non_null(str);
        if (strcmp(str, UNKNOWN_STR) == 0 || str[0] == '\0')
            fail_msg("%s has no description", codes[i].name);
        assert_string_equal(secup_rc_name(codes[i].rc), codes[i].name);
    }
}

static void test_rc_every_known_code_below_500_is_named_secup_and_described(void **state)
{
    (void)state;
    size_t known = 0;
    for (int v = 0; v < RC_LIMIT; v++) {
        if (!is_known(v))
            continue;
        known++;
        const char *name = secup_rc_name((secup_rc)v);
        const char *str = secup_rc_str((secup_rc)v);
        if (strncmp(name, "SECUP_", 6) != 0)
            fail_msg("code %d is named '%s'", v, name);
        assert_non_null(str);
        if (strcmp(str, UNKNOWN_STR) == 0 || str[0] == '\0')
            fail_msg("code %d (%s) has no description", v, name);
    }
    /* At least every enumerator listed above (codes added later are covered by the loop). */
    assert_true(known >= ARRAY_SIZE(codes));
}

static void test_rc_names_are_unique(void **state)
{
    (void)state;
    for (int a = 0; a < RC_LIMIT; a++) {
        if (!is_known(a))
            continue;
        for (int b = a + 1; b < RC_LIMIT; b++) {
            if (is_known(b) && strcmp(secup_rc_name((secup_rc)a), secup_rc_name((secup_rc)b)) == 0)
                fail_msg("codes %d and %d share the name %s", a, b, secup_rc_name((secup_rc)a));
        }
    }
}

static void test_rc_descriptions_are_unique(void **state)
{
    (void)state;
    for (size_t a = 0; a < ARRAY_SIZE(codes); a++) {
        for (size_t b = a + 1; b < ARRAY_SIZE(codes); b++) {
            if (strcmp(secup_rc_str(codes[a].rc), secup_rc_str(codes[b].rc)) == 0)
                fail_msg("%s and %s share the description '%s'", codes[a].name, codes[b].name,
                         secup_rc_str(codes[a].rc));
        }
    }
}

static void test_rc_from_name_round_trips_every_known_code(void **state)
{
    (void)state;
    for (int v = 0; v < RC_LIMIT; v++) {
        if (!is_known(v))
            continue;
        secup_rc back = (secup_rc)-1;
        if (!secup_rc_from_name(secup_rc_name((secup_rc)v), &back))
            fail_msg("%s is not found by its own name", secup_rc_name((secup_rc)v));
        assert_int_equal(back, v);
    }
}

static void test_rc_from_name_unknown_name_returns_false_and_leaves_output(void **state)
{
    (void)state;
    static const char *const names[] = {
        "",           "SECUP_E_NOPE", "secup_e_sig", "SECUP_E_SIG ", " SECUP_E_SIG",
        "SECUP_E_SI", "SECUP_E_SIGX", UNKNOWN_NAME,  "SECUP_",       "E_SIG",
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        secup_rc out = SECUP_E_DB;
        if (secup_rc_from_name(names[i], &out))
            fail_msg("'%s' was taken for code %d", names[i], (int)out);
        assert_int_equal(out, SECUP_E_DB);
    }
}

static void test_rc_unknown_values_get_the_unknown_name_and_description(void **state)
{
    (void)state;
    /* Outside every band, so that no later code can take one of them. */
    static const int values[] = {-1, 1, 50, 99, 500, 599, 1000, 65535};
    for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
        assert_string_equal(secup_rc_name((secup_rc)values[i]), UNKNOWN_NAME);
        assert_string_equal(secup_rc_str((secup_rc)values[i]), UNKNOWN_STR);
    }
}

static void test_rc_exit_status_of_each_enumerator_follows_its_band(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
        int got = secup_rc_exit_status(codes[i].rc);
        if (got != codes[i].exit_status)
            fail_msg("%s: exit status %d, expected %d", codes[i].name, got, codes[i].exit_status);
    }
}

static void test_rc_exit_status_of_every_value_in_a_band_follows_the_band(void **state)
{
    (void)state;
    /* A range test must work for codes added later, so unnamed values in a band too. */
    for (int v = 0; v < RC_LIMIT; v++) {
        if (v > 0 && v < 100)
            continue; /* no band */
        int got = secup_rc_exit_status((secup_rc)v);
        if (got != band_exit_status(v))
            fail_msg("value %d: exit status %d, expected %d", v, got, band_exit_status(v));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rc_every_enumerator_has_its_own_name_and_a_description),
        cmocka_unit_test(test_rc_every_known_code_below_500_is_named_secup_and_described),
        cmocka_unit_test(test_rc_names_are_unique),
        cmocka_unit_test(test_rc_descriptions_are_unique),
        cmocka_unit_test(test_rc_from_name_round_trips_every_known_code),
        cmocka_unit_test(test_rc_from_name_unknown_name_returns_false_and_leaves_output),
        cmocka_unit_test(test_rc_unknown_values_get_the_unknown_name_and_description),
        cmocka_unit_test(test_rc_exit_status_of_each_enumerator_follows_its_band),
        cmocka_unit_test(test_rc_exit_status_of_every_value_in_a_band_follows_the_band),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
