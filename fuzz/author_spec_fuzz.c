/* Fuzz target: secup-author's release spec (`create --spec`, programs/author/cmd_create.c:
 * author_spec_parse(), the in-memory half of load_spec()).
 *
 * The input is the spec's JSON text, named /specs/release.json.
 * Invariants: a refusal carries its code and message and no components; an accepted spec
 * has 1 to SECUP_MAX_COMPONENTS components; the same text is judged the same way twice. */
/* THREAT: P9 */
#include <string.h>

#include "author.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t n = 99, n2 = 99;
    struct secup_err err, err2;
    secup_rc rc = author_spec_parse("/specs/release.json", data, size, &n, &err);
    secup_rc rc2 = author_spec_parse("/specs/release.json", data, size, &n2, &err2);
    if (rc != rc2 || n != n2 || (rc != SECUP_OK && strcmp(err.msg, err2.msg) != 0))
        fuzz_common_fail("the same spec is judged differently twice");
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "author_spec_parse");
        if (n != 0)
            fuzz_common_fail("a refused spec reports %u components", n);
        return 0;
    }
    if (n < 1 || n > SECUP_MAX_COMPONENTS)
        fuzz_common_fail("accepted a spec of %u components", n);
    return 0;
}
