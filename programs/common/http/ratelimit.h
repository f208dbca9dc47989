/* Per-source-address request limiting for the HTTP server seam (THREATS.md U6): a token
 * bucket per client address and route class, in a table of fixed size.
 *
 * Addresses: an IPv4 address is one source (IPv4-mapped IPv6 addresses too); an IPv6
 * address counts by its /64 prefix (what one host or one customer gets).
 *
 * The table: `size` entries in sets of RATELIMIT_WAYS, found by a keyed hash of the
 * address (the key is random per table, so sources cannot be chosen to collide). A new
 * source takes a free entry of its set, else one whose buckets have all refilled (which
 * forgets nothing: a full bucket is what a new source gets), else the one unused longest.
 * Memory is fixed at creation: about (24 + 8 * classes) bytes per entry.
 *
 * No libmicrohttpd here, so that the unit tests can drive it with their own clock. */
#ifndef SECUP_RATELIMIT_H
#define SECUP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMIT_WAYS 8
#define RATELIMIT_CLASSES 8

struct ratelimit_class {
    double rate;    /* requests per second a source may keep up; 0: no limit */
    unsigned burst; /* requests a source may make at once (the bucket); 0: max(1, rate) */
};

struct ratelimit;

/* size: entries (rounded up to a multiple of RATELIMIT_WAYS; 0: 16384); at most
 * RATELIMIT_CLASSES classes. NULL when out of memory or given no class. */
struct ratelimit *ratelimit_new(size_t size, const struct ratelimit_class *classes,
                                size_t n_classes);
void ratelimit_free(struct ratelimit *rl);

/* Takes one request of class cls for addr at now_ms (a monotonic clock). True: allowed.
 * False: over the limit, and *retry_after_s holds the whole seconds (at least 1) until the
 * source may ask again. A class without a limit, an unknown class or an address that is
 * neither IPv4 nor IPv6 is always allowed. Thread-safe. */
bool ratelimit_take(struct ratelimit *rl, const struct sockaddr_storage *addr, unsigned cls,
                    uint64_t now_ms, unsigned *retry_after_s);

/* Entries in use (for tests and diagnostics). */
size_t ratelimit_used(struct ratelimit *rl);
/* The table's capacity (entries). */
size_t ratelimit_capacity(const struct ratelimit *rl);

#endif /* SECUP_RATELIMIT_H */
