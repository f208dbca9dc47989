/* Fuzz target: what a client sends secup-server before anything else looks at it
 * (programs/common/reqparse.c): paths, bearer tokens, ids, component names, and the
 * location-policy lists.
 *
 * Byte 0 picks the parser, the rest is its text. Invariants: an accepted path consists of
 * safe segments that rebuild the path exactly; an accepted id or component name is a
 * fixed point of its normalisation; a CIDR list with an exact entry appended always
 * contains that address. */
/* THREAT: P6 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "reqparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *s)
{
    struct req_route r;
    if (!req_split_path(s, &r))
        return;
    char again[1100];
    size_t used = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (!req_safe_segment(r.seg[i]))
            fuzz_common_fail("accepted path '%s' has an unsafe segment '%s'", s, r.seg[i]);
        size_t n = strlen(r.seg[i]);
        if (used + n + 2 > sizeof(again))
            fuzz_common_fail("accepted path longer than its buffer");
        again[used++] = '/';
        memcpy(again + used, r.seg[i], n);
        used += n;
    }
    again[used] = '\0';
    if (r.n == 0 && strcmp(s, "/") == 0)
        return; /* the root: no segment, no route */
    if (strcmp(again, s) != 0 || r.n == 0 || r.n > REQ_MAX_SEGMENTS)
        fuzz_common_fail("path '%s' split into segments that rebuild '%s'", s, again);
}

static void check_nets(const char *csv)
{
    struct sockaddr_storage a;
    memset(&a, 0, sizeof(a));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a;
    v4->sin_family = AF_INET;
    inet_pton(AF_INET, "10.1.2.3", &v4->sin_addr);
    (void)req_in_nets(csv, &a);
    size_t n = strlen(csv);
    char *with = malloc(n + 32);
    if (!with)
        return;
    memcpy(with, csv, n);
    memcpy(with + n, ",10.1.2.3/32", 13);
    if (!req_in_nets(with, &a))
        fuzz_common_fail("'%s' does not contain 10.1.2.3", with);
    memset(&a, 0, sizeof(a));
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a;
    v6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::7", &v6->sin6_addr);
    memcpy(with + n, ",2001:db8::/32", 15);
    if (!req_in_nets(with, &a))
        fuzz_common_fail("'%s' does not contain 2001:db8::7", with);
    free(with);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4096)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    char out[300], again[300];
    switch (data[0] % 6) {
    case 0: check_path(s); break;
    case 1:
        if (req_token_ok(s) && (strlen(s) == 0 || strlen(s) > REQ_MAX_TOKEN))
            fuzz_common_fail("token of %zu characters accepted", strlen(s));
        break;
    case 2:
        if (req_parse_id16(s, out)) {
            if (!req_is_hex(out, 32) || !req_parse_id16(out, again) || strcmp(out, again) != 0)
                fuzz_common_fail("id '%s' normalised to '%s', not a fixed point", s, out);
        }
        break;
    case 3:
        if (req_parse_component(s, out, sizeof(out))) {
            if (!req_parse_component(out, again, sizeof(again)) || strcmp(out, again) != 0)
                fuzz_common_fail("component '%s' normalised to '%s', then '%s'", s, out, again);
        }
        break;
    case 4: (void)req_in_csv(s, "eu"); break;
    default: check_nets(s); break;
    }
    free(s);
    return 0;
}
