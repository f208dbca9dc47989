/* Fuzz target: the request-header parsers of the HTTP server seam
 * (programs/common/http/httpd_parse.c): httpd_parse_range() and httpd_etag_matches().
 *
 * Input: 8 bytes of resource size (little-endian), then text. The text is a Range header;
 * split at its first '\n', it is also an If-None-Match value and an entity tag.
 * Invariants: a range answer is 200 (the whole resource), 206 (a non-empty slice inside
 * the resource) or 416; an entity tag matches itself exactly when it matches "*"; and the
 * comparison is weak: W/ on the tag changes nothing. */
/* THREAT: P5 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t res_size = 0;
    if (size < 8)
        return 0;
    for (int i = 7; i >= 0; i--)
        res_size = (res_size << 8) | data[i];
    /* small sizes are where the edges are; keep a few huge ones too */
    if ((res_size >> 63) == 0)
        res_size &= 0xffff;
    size -= 8;
    data += 8;

    char *text = malloc(size + 3);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    uint64_t off = 1, len = 1;
    unsigned st = httpd_parse_range(text, res_size, &off, &len);
    if (st == 206) {
        if (len == 0 || off >= res_size || len > res_size - off)
            fuzz_common_fail("206 with off %llu len %llu outside %llu", (unsigned long long)off,
                             (unsigned long long)len, (unsigned long long)res_size);
    } else if (st == 200) {
        if (off != 0 || len != res_size)
            fuzz_common_fail("200 that is not the whole resource");
    } else if (st != 416) {
        fuzz_common_fail("range answer %u", st);
    }

    char *nl = strchr(text, '\n');
    const char *inm = text, *etag = text;
    if (nl) {
        *nl = '\0';
        etag = nl + 1;
    }
    bool self = httpd_etag_matches(etag, etag);
    bool star = httpd_etag_matches("*", etag);
    if (self != star)
        fuzz_common_fail("tag matches itself: %d, matches *: %d", self, star);
    bool m = httpd_etag_matches(inm, etag);
    if (strncmp(etag, "W/", 2) != 0) {
        size_t n = strlen(etag);
        char *weak = malloc(n + 3);
        if (weak) {
            memcpy(weak, "W/", 2);
            memcpy(weak + 2, etag, n + 1);
            if (httpd_etag_matches(inm, weak) != m)
                fuzz_common_fail("W/ changed the weak comparison");
            free(weak);
        }
    }
    free(text);
    return 0;
}
