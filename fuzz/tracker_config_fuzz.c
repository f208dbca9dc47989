/* Fuzz target: secup-tracker's configuration file (programs/tracker/config.c through
 * programs/common/jconf.c).
 *
 * Invariants: a refusal carries its code and message and leaves only the defaults; an
 * accepted configuration has a valid id and a database, keeps its bounds, and parses to
 * the same result twice. */
#include <string.h>

#include "fuzz_common.h"
#include "reqparse.h"
#include "tracker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trk_config a, b;
    struct secup_err err;
    secup_rc rc = trk_config_parse("/srv/trk", (const char *)data, size, &a, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "trk_config_parse");
        if (a.id[0] || a.db_url[0])
            fuzz_common_fail("a refused configuration left values behind");
        return 0;
    }
    if (!req_valid_name(a.id) || !a.db_url[0] || !a.signing_key[0] || a.timeout == 0 ||
        a.unreachable_after == 0 || a.command_ttl < 60 || a.cb_interval == 0 ||
        a.cb_retry_initial == 0 || a.cb_retry_max < a.cb_retry_initial)
        fuzz_common_fail("accepted a configuration outside its bounds");
    if (trk_config_parse("/srv/trk", (const char *)data, size, &b, &err) != SECUP_OK ||
        strcmp(a.db_url, b.db_url) != 0 || a.max_wait != b.max_wait)
        fuzz_common_fail("the same text parsed differently");
    return 0;
}
