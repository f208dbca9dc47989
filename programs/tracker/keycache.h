/* Parsed public keys of consumers, by consumer id (keycache.c).
 *
 * Parsing a PEM key costs several verifications, so each report would otherwise pay
 * more for its key than for its signature. The cache holds up to a fixed number of
 * parsed keys, least recently used first out; an entry remembers the PEM text it was
 * parsed from, so a consumer whose stored key changed gets its new key parsed. A key in
 * use by a report is never freed under it: lookups take a reference that trk_keycache_put
 * gives back. Thread-safe. */
#ifndef SECUP_TRACKER_KEYCACHE_H
#define SECUP_TRACKER_KEYCACHE_H

#include <stddef.h>

#include "secup/err.h"
#include "secup/keys.h"

struct trk_keycache;
struct trk_keyref;

/* cap: the most parsed keys kept (at least 1). */
secup_rc trk_keycache_new(size_t cap, struct trk_keycache **out, struct secup_err *err);
/* The parsed key of consumer id whose stored PEM is pem: *key stays valid until
 * trk_keycache_put(*ref). Errors are secup_key_parse_pem()'s. */
secup_rc trk_keycache_get(struct trk_keycache *kc, const char *id, const char *pem,
                          struct trk_keyref **ref, const struct secup_key **key,
                          struct secup_err *err);
void trk_keycache_put(struct trk_keycache *kc, struct trk_keyref *ref);
/* Counters for tests and logs. */
struct trk_keycache_stats {
    size_t entries, hits, misses, evictions;
};
void trk_keycache_stats(struct trk_keycache *kc, struct trk_keycache_stats *out);
/* Every reference must have been put back. */
void trk_keycache_free(struct trk_keycache *kc);

#endif /* SECUP_TRACKER_KEYCACHE_H */
