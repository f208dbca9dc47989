/* Fuzz target: the answer-header parsers of the HTTP client seam
 * (programs/common/http/httpc_parse.c): httpc_parse_retry_after() and
 * httpc_content_length_ok().
 *
 * Input: header value text. Invariants: a Retry-After is at most HTTPC_RETRY_AFTER_MAX and,
 * for 1 to 5 digits alone, is their value; a Content-Length is taken only as 1 to 18
 * digits, and then always. */
/* THREAT: P5 U6 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    unsigned ra = httpc_parse_retry_after(v, size, (time_t)1700000000);
    if (ra > HTTPC_RETRY_AFTER_MAX)
        abort();
    bool digits = size > 0;
    for (size_t i = 0; i < size; i++)
        digits = digits && data[i] >= '0' && data[i] <= '9';
    if (digits && size <= 5) {
        unsigned want = 0;
        for (size_t i = 0; i < size; i++)
            want = want * 10 + (unsigned)(data[i] - '0');
        if (ra != (want > HTTPC_RETRY_AFTER_MAX ? HTTPC_RETRY_AFTER_MAX : want))
            abort();
    }
    if (httpc_content_length_ok(v, size) != (digits && size <= 18))
        abort();
    return 0;
}
