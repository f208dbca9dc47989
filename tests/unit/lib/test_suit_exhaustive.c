/* Every input of one and two bytes (QCBOR's exhaustive check, THREATS.md P1): the decoders
 * never crash or read out of bounds (ASan), and refuse with a 2xx code. */
/* THREAT: P1 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cbor/codec.h"
#include "testutil.h"

static void test_exhaustive_short_inputs_never_decode_as_envelopes(void **state)
{
    (void)state;
    struct secup_envelope *env = malloc(sizeof(*env));
    size_t refused = 0;
    for (unsigned len = 1; len <= 2; len++) {
        for (unsigned v = 0; v < (1u << (8 * len)); v++) {
            /* exactly `len` bytes on the heap, so that an over-read is an ASan report */
            uint8_t *in = malloc(len);
            in[0] = (uint8_t)(v & 0xff);
            if (len == 2)
                in[1] = (uint8_t)(v >> 8);
            struct secup_err err;
            secup_rc rc = secup_envelope_decode(env, secup_bytes_of(in, len), NULL, &err);
            assert_int_not_equal(rc, SECUP_OK);
            assert_true(rc >= 200 && rc < 300);
            struct secup_manifest *m = &env->manifest;
            rc = secup_manifest_decode(m, secup_bytes_of(in, len), NULL, &err);
            assert_int_not_equal(rc, SECUP_OK);
            refused++;
            free(in);
        }
    }
    assert_int_equal(refused, 256 + 65536);
    free(env);
}

static void test_exhaustive_short_inputs_are_well_formed_or_refused(void **state)
{
    (void)state;
    size_t well_formed = 0;
    size_t one_byte_items = 0;
    for (unsigned len = 1; len <= 2; len++) {
        for (unsigned v = 0; v < (1u << (8 * len)); v++) {
            uint8_t *in = malloc(len);
            in[0] = (uint8_t)(v & 0xff);
            if (len == 2)
                in[1] = (uint8_t)(v >> 8);
            struct secup_err err;
            secup_rc rc = secup_cbor_check_item(secup_bytes_of(in, len), 16, &err);
            if (rc == SECUP_OK) {
                well_formed++;
                one_byte_items += len == 1;
            }
            else
                assert_true(rc >= 200 && rc < 300);
            free(in);
        }
    }
    /* One-byte items (RFC 8949): 24 small uints, 24 small nints, the empty bstr, tstr,
     * array and map, false, true, null and undefined. Unassigned simple values (0xe0..0xf3)
     * are refused. */
    assert_int_equal(one_byte_items, 24 + 24 + 4 + 4);
    assert_true(well_formed > one_byte_items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustive_short_inputs_never_decode_as_envelopes),
        cmocka_unit_test(test_exhaustive_short_inputs_are_well_formed_or_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
