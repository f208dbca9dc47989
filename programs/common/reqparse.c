/* Parsers of what a client sends secup-server (reqparse.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compid.h"
#include "reqparse.h"
#include "secup/bytes.h"
#include "secup/policy.h"

bool req_safe_segment(const char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool req_split_path(const char *path, struct req_route *r)
{
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(r->buf) || path[0] != '/')
        return false;
    memcpy(r->buf, path, len + 1);
    r->n = 0;
    char *p = r->buf + 1;
    while (*p) {
        if (r->n >= REQ_MAX_SEGMENTS)
            return false;
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (!req_safe_segment(p))
            return false;
        r->seg[r->n++] = p;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p)
            return false; /* trailing slash */
    }
    return true;
}

bool req_is_hex(const char *s, size_t n)
{
    size_t i = 0;
    for (; s[i]; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return i == n;
}

bool req_match(const struct req_route *r, const char *method, size_t n, const char *const *segs)
{
    if (strcmp(r->method, method) != 0 || r->n != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (segs[i] && strcmp(segs[i], r->seg[i]) != 0)
            return false;
    }
    return true;
}

bool req_parse_id16(const char *s, char out[33])
{
    uint8_t b[16];
    size_t n = 0;
    if (strlen(s) == 32 && secup_hex_decode(s, b, sizeof(b), &n) && n == 16) {
    } else if (!secup_uuid_parse(s, b)) {
        return false;
    }
    secup_hex_encode(secup_bytes_of(b, 16), out, 33);
    return true;
}

bool req_parse_component(const char *s, char *out, size_t cap)
{
    struct text_component_id t;
    struct secup_err err;
    if (compid_parse(s, &t, &err) != SECUP_OK)
        return false;
    char name[256];
    if (!compid_format(&t.id, name, sizeof(name)))
        return false;
    snprintf(out, cap, "%s", name);
    return true;
}

bool req_in_csv(const char *csv, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = csv; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && n && strncmp(p, item, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

static bool cidr_contains(const char *cidr, size_t len, const struct sockaddr_storage *a)
{
    char buf[64];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, cidr, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end = NULL;
        bits = strtol(slash + 1, &end, 10);
        if (!end || *end)
            return false;
    }
    uint8_t net[16], addr[16];
    size_t alen = 0;
    if (a->ss_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)a)->sin_addr, 4);
        alen = 4;
    } else if (a->ss_family == AF_INET6) {
        const uint8_t *v6 = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(v6, mapped, 12) == 0) {
            memcpy(addr, v6 + 12, 4);
            alen = 4;
        } else {
            memcpy(addr, v6, 16);
            alen = 16;
        }
    } else {
        return false;
    }
    size_t nlen = 0;
    if (inet_pton(AF_INET, buf, net) == 1)
        nlen = 4;
    else if (inet_pton(AF_INET6, buf, net) == 1)
        nlen = 16;
    if (nlen != alen)
        return false;
    if (bits < 0)
        bits = (long)(8 * nlen);
    if (bits > (long)(8 * nlen))
        return false;
    for (long i = 0; i < bits; i++) {
        uint8_t m = (uint8_t)(0x80 >> (i % 8));
        if ((net[i / 8] & m) != (addr[i / 8] & m))
            return false;
    }
    return true;
}

bool req_in_nets(const char *csv, const struct sockaddr_storage *a)
{
    for (const char *p = csv; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (cidr_contains(p, len, a))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

bool req_token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > REQ_MAX_TOKEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

bool req_valid_name(const char *s)
{
    return strlen(s) <= 64 && req_safe_segment(s);
}
