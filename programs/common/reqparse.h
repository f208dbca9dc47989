/* Parsers of what a client sends secup-server and secup-tracker before anything else
 * looks at it: path segments, bearer-token syntax, ids, component names; and the
 * location-policy lists. Pure functions, fuzzed by fuzz/server_request_fuzz.c. */
#ifndef SECUP_SERVER_REQPARSE_H
#define SECUP_SERVER_REQPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define REQ_MAX_SEGMENTS 6
#define REQ_MAX_TOKEN 128

struct req_route {
    const char *method;
    char buf[1024];
    const char *seg[REQ_MAX_SEGMENTS];
    size_t n;
};

/* A path segment of A-Z a-z 0-9 . _ - other than "." and "..". */
bool req_safe_segment(const char *s);
/* A principal or server name: a safe segment of at most 64 characters. */
bool req_valid_name(const char *s);
/* Splits an absolute path into at most REQ_MAX_SEGMENTS safe segments; false for
 * anything else (traversal, empty or trailing segments, odd bytes, too long). */
bool req_split_path(const char *path, struct req_route *r);
/* Exactly n lowercase hex digits. */
bool req_is_hex(const char *s, size_t n);
/* The route has this method and these n segments (NULL: any segment). */
bool req_match(const struct req_route *r, const char *method, size_t n, const char *const *segs);
/* Bearer-token syntax: 1 to REQ_MAX_TOKEN characters of base64url. */
bool req_token_ok(const char *t);
/* A 16-byte id as 32 hex digits or a UUID, normalised to 32 lowercase hex digits. */
bool req_parse_id16(const char *s, char out[33]);
/* A component identifier in text form, normalised (compid_format). */
bool req_parse_component(const char *s, char *out, size_t cap);
/* item is one of the comma-separated entries of csv. */
bool req_in_csv(const char *csv, const char *item);
/* The address is inside one of the comma-separated CIDRs (IPv4, IPv6, IPv4-mapped IPv6;
 * a bare address is a /32 or /128). Malformed entries match nothing. */
bool req_in_nets(const char *csv, const struct sockaddr_storage *a);

#endif /* SECUP_SERVER_REQPARSE_H */
