/* Fuzz target: the JSON bodies of secup-tracker's REST admin API and of a consumer's
 * callback registration (programs/tracker/admin_req.c).
 *
 * The input is tried as both bodies. Invariants: a refusal carries its code and message
 * and leaves the result empty; an accepted rollout request has an id and a digest, counts
 * within their bounds, at most 256 consumer names; an accepted callback URL is an https://
 * URL of printable characters within the limit; the same bytes parse to the same result
 * twice. */
#include <string.h>

#include "admin_req.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trk_rollout_req a, b;
    struct secup_err err;
    secup_rc rc = trk_rollout_req_parse(data, size, &a, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "trk_rollout_req_parse");
        if (a.root || a.id || a.digest || a.n_only)
            fuzz_common_fail("a refused rollout request left values behind");
    } else {
        if (!a.root || !a.id || !a.digest || a.canary < 0 || a.canary > 1000000 ||
            a.max_failure_pct < 0 || a.max_failure_pct > 100 || a.n_only > TRK_ROLLOUT_REQ_MAX)
            fuzz_common_fail("accepted a rollout request outside its bounds");
        for (size_t i = 0; i < a.n_only; i++)
            if (!a.only[i])
                fuzz_common_fail("consumer name %zu is missing", i);
        if (trk_rollout_req_parse(data, size, &b, &err) != SECUP_OK || strcmp(a.id, b.id) != 0 ||
            strcmp(a.digest, b.digest) != 0 || a.canary != b.canary || a.n_only != b.n_only)
            fuzz_common_fail("the same rollout request parsed differently");
        trk_rollout_req_free(&b);
        trk_rollout_req_free(&a);
    }
    static char url[TRK_CALLBACK_URL_MAX + 1], url2[TRK_CALLBACK_URL_MAX + 1];
    rc = trk_callback_req_parse(data, size, url, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "trk_callback_req_parse");
        if (url[0])
            fuzz_common_fail("a refused callback left a URL behind");
        return 0;
    }
    if (!trk_callback_url_ok(url) || strncmp(url, "https://", 8) != 0 ||
        strlen(url) > TRK_CALLBACK_URL_MAX)
        fuzz_common_fail("accepted a callback URL that is not one");
    if (trk_callback_req_parse(data, size, url2, &err) != SECUP_OK || strcmp(url, url2) != 0)
        fuzz_common_fail("the same callback parsed differently");
    return 0;
}
