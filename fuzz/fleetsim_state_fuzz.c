/* Fuzz target: secup-fleetsim's device state files (programs/fleetsim/state.c).
 *
 * Invariants: a refusal carries its code and message and leaves the output zeroed; an
 * accepted state keeps its bounds (an id of A-Z a-z 0-9 . _ -, a token and a result code
 * without spaces or control characters, slot 0 or 1) and formats to a text that parses to
 * the same state and formats to the same bytes again (a fixed point). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fleet_dev_state a, b;
    struct secup_err err;
    secup_rc rc = fleet_state_parse("/s/sim-00001.json", (const char *)data, size, &a, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "fleet_state_parse");
        if (!is_zero(&a, sizeof(a)))
            fuzz_common_fail("a refused state left values behind");
        return 0;
    }
    if (!a.id[0] || a.slot > 1 || strchr(a.token, ' ') || strchr(a.last_code, ' ') ||
        (a.has_last && !a.last_code[0]))
        fuzz_common_fail("accepted a state outside its bounds");
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (fleet_state_format(&a, &t1, &n1, &err) != SECUP_OK)
        fuzz_common_fail("an accepted state does not format: %s", err.msg);
    if (fleet_state_parse("/s/x.json", t1, n1, &b, &err) != SECUP_OK)
        fuzz_common_fail("a formatted state does not parse: %s (%.*s)", err.msg, (int)n1, t1);
    if (memcmp(&a, &b, sizeof(a)) != 0)
        fuzz_common_fail("a formatted state parses to another state");
    if (fleet_state_format(&b, &t2, &n2, &err) != SECUP_OK || n1 != n2 || memcmp(t1, t2, n1) != 0)
        fuzz_common_fail("formatting is not a fixed point");
    free(t1);
    free(t2);
    return 0;
}
