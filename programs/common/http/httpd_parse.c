/* The pure parts of the HTTP server seam: status mapping, Range and If-None-Match.
 * No libmicrohttpd here, so that the fuzz target (fuzz/http_range_fuzz.c) can compile this
 * file alone. */
#include <string.h>

#include "httpd.h"

unsigned httpd_status_for_rc(secup_rc rc)
{
    switch (rc) {
    case SECUP_OK: return 200;
    case SECUP_E_AUTH: return 401;
    case SECUP_E_FORBIDDEN:
    case SECUP_E_BANNED: return 403;
    case SECUP_E_NOENT: return 404;
    case SECUP_E_EXISTS:
    case SECUP_E_ROLLBACK:
    case SECUP_E_REPLAY: return 409;
    case SECUP_E_AUDIENCE: return 403;
    case SECUP_E_QUOTA: return 429;
    case SECUP_E_QUARANTINED: return 410;
    case SECUP_E_LIMIT_BODY:
    case SECUP_E_LIMIT_SIZE: return 413;
    case SECUP_E_LOCATION: return 451;
    case SECUP_E_NOSPACE: return 507;
    case SECUP_E_UNAVAILABLE: return 503;
    case SECUP_E_TIMEOUT: return 408;
    case SECUP_E_RATE: return 429;
    default: break;
    }
    unsigned band = (unsigned)rc / 100u;
    if (band == 1 || band == 2)
        return 400;
    if (band == 3)
        return 422;
    return 500;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
    while (is_ows(*p))
        p++;
    return p;
}

/* Decimal digits into *v, saturating at UINT64_MAX; false without a digit. */
static bool parse_u64_sat(const char **pp, uint64_t *v)
{
    const char *p = *pp;
    uint64_t x = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10u)
            x = UINT64_MAX;
        else
            x = x * 10u + d;
    }
    *pp = p;
    *v = x;
    return true;
}

static bool prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char a = *s, b = *prefix;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

unsigned httpd_parse_range(const char *header, uint64_t size, uint64_t *off, uint64_t *len)
{
    *off = 0;
    *len = size;
    if (!header)
        return 200;
    const char *p = skip_ows(header);
    if (!prefix_nocase(p, "bytes"))
        return 200; /* another unit: ignorable */
    p = skip_ows(p + 5);
    if (*p != '=')
        return 200;
    p = skip_ows(p + 1);
    if (strchr(p, ','))
        return 200; /* a multi-range request is answered with the whole resource */

    uint64_t first = 0, last = 0;
    bool has_first = parse_u64_sat(&p, &first);
    if (*p != '-')
        return 200;
    p++;
    bool has_last = parse_u64_sat(&p, &last);
    p = skip_ows(p);
    if (*p != '\0' || (!has_first && !has_last))
        return 200;

    if (!has_first) { /* suffix: the last `last` bytes */
        if (last == 0 || size == 0)
            return 416;
        uint64_t n = last < size ? last : size;
        *off = size - n;
        *len = n;
        return 206;
    }
    if (has_last && last < first)
        return 200; /* invalid range-spec: the header is ignored */
    if (first >= size)
        return 416;
    uint64_t end = (has_last && last < size - 1) ? last : size - 1;
    *off = first;
    *len = end - first + 1;
    return 206;
}

/* One entity-tag at *pp: [W/]"etagc*". Sets the opaque tag (quotes included) as a view. */
static bool parse_etag(const char **pp, const char **tag, size_t *tag_len)
{
    const char *p = *pp;
    if (p[0] == 'W' && p[1] == '/')
        p += 2;
    if (*p != '"')
        return false;
    const char *start = p++;
    /* etagc = %x21 / %x23-7E / obs-text */
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c == '\0' || c < 0x21 || c == 0x7f)
            return false;
        p++;
    }
    p++;
    *tag = start;
    *tag_len = (size_t)(p - start);
    *pp = p;
    return true;
}

bool httpd_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return false;
    const char *own = etag, *own_tag;
    size_t own_len;
    if (!parse_etag(&own, &own_tag, &own_len) || *own != '\0')
        return false;

    const char *p = skip_ows(if_none_match);
    if (*p == '*')
        return *skip_ows(p + 1) == '\0';
    for (;;) {
        const char *tag;
        size_t tag_len;
        if (*p == ',') { /* empty list elements are allowed */
            p = skip_ows(p + 1);
            continue;
        }
        if (*p == '\0')
            return false;
        if (!parse_etag(&p, &tag, &tag_len))
            return false; /* malformed: no match, so the resource is sent */
        if (tag_len == own_len && memcmp(tag, own_tag, tag_len) == 0)
            return true;
        p = skip_ows(p);
        if (*p != ',' && *p != '\0')
            return false;
    }
}
