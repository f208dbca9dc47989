/* The answer-header parsers of the HTTP client seam (httpc.h): Retry-After and
 * Content-Length. Apart from libcurl's date parser they are plain C, so that
 * fuzz/http_client_fuzz.c can drive them alone. */
#include <string.h>

#include <curl/curl.h>

#include "httpc.h"

unsigned httpc_parse_retry_after(const char *v, size_t n, time_t now)
{
    char buf[64];
    if (!v || n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (memchr(buf, '\0', n))
        return 0;
    uint64_t s = 0;
    size_t i = 0;
    for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
        if (s <= HTTPC_RETRY_AFTER_MAX)
            s = s * 10 + (uint64_t)(buf[i] - '0');
    if (i == n)
        return s > HTTPC_RETRY_AFTER_MAX ? HTTPC_RETRY_AFTER_MAX : (unsigned)s;
    if (i > 0)
        return 0; /* digits and then something else: neither form */
    time_t when = curl_getdate(buf, NULL);
    if (when == (time_t)-1 || when <= now)
        return 0;
    return (uint64_t)(when - now) > HTTPC_RETRY_AFTER_MAX ? HTTPC_RETRY_AFTER_MAX
                                                          : (unsigned)(when - now);
}

bool httpc_content_length_ok(const char *v, size_t n)
{
    if (!v || n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}
