/* Fuzz target: secup-server's configuration file (programs/server/config.c through
 * programs/common/jconf.c).
 *
 * Invariants: a refusal carries its code and message and leaves only the defaults; an
 * accepted configuration keeps its bounds (limits, retry order, NUL-free strings) and
 * parses to the same result twice. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct srv_config a, b;
    struct secup_err err;
    secup_rc rc = srv_config_parse("/srv/secup", (const char *)data, size, &a, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "srv_config_parse");
        if (a.id[0] || a.db_url[0] || a.scanner[0])
            fuzz_common_fail("a refused configuration left values behind");
        return 0;
    }
    if (!a.id[0] || !a.db_url[0] || !a.blobs[0] || !a.signing_key[0])
        fuzz_common_fail("accepted without a required value");
    if (a.notify_retry_max < a.notify_retry_initial || a.max_envelope < 1024 ||
        a.max_payload == 0 || a.timeout == 0)
        fuzz_common_fail("accepted a value out of its bounds");
    for (size_t i = 0; a.scanner[i]; i++) {
        if (i >= SRV_SCANNER_ARGS || !a.scanner[i][0])
            fuzz_common_fail("scanner argument %zu empty or beyond the bound", i);
    }
    if (srv_config_parse("/srv/secup", (const char *)data, size, &b, &err) != SECUP_OK ||
        strcmp(a.db_url, b.db_url) != 0 || strcmp(a.public_url, b.public_url) != 0 ||
        a.max_payload != b.max_payload)
        fuzz_common_fail("the same text parsed differently");
    return 0;
}
