/* Fuzz target: the secure counter stand-in's file (programs/agent/state.c counter_parse,
 * THREATS.md T8).
 *
 * Byte 0 selects the form; the rest is its input:
 *   0  the file as stored (its sha256 line must match)
 *   1  a JSON body, sealed here with its correct checksum line so that the fuzzer reaches
 *      the JSON checks behind the checksum
 * Invariants: a refusal carries its code and message and leaves the value 0; an accepted
 * value formats to a file that parses to the same value and formats to the same bytes again
 * (a fixed point). */
/* THREAT: T8 */
#include <string.h>

#include "fuzz_common.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char sealed[8 * 1024];
    static char buf[1024];
    static char buf2[1024];
    struct secup_err err;
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        size_t n = 0;
        if (state_seal(text, len, sealed, sizeof(sealed), &n, &err) != SECUP_OK)
            return 0;
        text = sealed;
        len = n;
    }
    uint64_t value = 1;
    secup_rc rc = counter_parse(text, len, &value, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "counter_parse");
        if (value != 0)
            fuzz_common_fail("a refused counter left the value %llu", (unsigned long long)value);
        return 0;
    }
    size_t n = 0, n2 = 0;
    uint64_t again = 0;
    if (counter_format(value, buf, sizeof(buf), &n, &err) != SECUP_OK)
        fuzz_common_fail("an accepted counter does not format: %s", err.msg);
    if (counter_parse(buf, n, &again, &err) != SECUP_OK || again != value)
        fuzz_common_fail("a formatted counter does not parse back to %llu", (unsigned long long)value);
    if (counter_format(again, buf2, sizeof(buf2), &n2, &err) != SECUP_OK || n != n2 ||
        memcmp(buf, buf2, n) != 0)
        fuzz_common_fail("the counter format is not a fixed point");
    return 0;
}
