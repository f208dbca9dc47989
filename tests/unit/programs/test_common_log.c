/* The daemons' log lines (programs/common/log.c): what a peer sent never reaches the log
 * as raw bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void test_log_printable_ascii_is_kept(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(log_escape("device 'cam-1' reported counter 7", out, sizeof(out)),
                        "device 'cam-1' reported counter 7");
}

static void test_log_controls_newlines_and_high_bytes_are_escaped(void **state)
{
    (void)state;
    char out[128];
    /* a forged second line, an ANSI escape, a DEL, UTF-8 and a lone high byte */
    assert_string_equal(log_escape("id x\n2026 secup: forged\x1b[2J\x7f\xc3\xa9\xff", out,
                                   sizeof(out)),
                        "id x\\x0a2026 secup: forged\\x1b[2J\\x7f\\xc3\\xa9\\xff");
    assert_null(strchr(out, '\n'));
    /* the backslash itself, so that an escape in the input cannot pass for ours */
    assert_string_equal(log_escape("a\\x0ab", out, sizeof(out)), "a\\\\x0ab");
}

static void test_log_cut_at_a_whole_escape(void **state)
{
    (void)state;
    char out[8];
    /* "ab" fits, the escape of \n needs 4 more bytes and a NUL: cut before it */
    assert_string_equal(log_escape("abcd\nef", out, 7), "abcd");
    assert_string_equal(log_escape("abc\\", out, 5), "abc");
    assert_string_equal(log_escape("abcdefghij", out, sizeof(out)), "abcdefg");
    char one[1] = { 'z' };
    assert_string_equal(log_escape("abc", one, 1), "");
    assert_ptr_equal(log_escape("abc", one, 0), one); /* cap 0: nothing written */
    assert_int_equal(one[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_printable_ascii_is_kept),
        cmocka_unit_test(test_log_controls_newlines_and_high_bytes_are_escaped),
        cmocka_unit_test(test_log_cut_at_a_whole_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
