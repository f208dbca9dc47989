/* Small in-memory caches of secup-server: the principal of a token, the newest image of a
 * class, an image record. Entries live at most ttl_ms; every cache is also cleared when
 * the server accepts an image and when the administrator changes the store (admin touches
 * DIR/admin.stamp, which the server watches), so a ban, a quarantine or a policy change
 * takes effect at the next request on this host and within ttl_ms on others. */
#ifndef SECUP_SERVER_CACHE_H
#define SECUP_SERVER_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_KEY_MAX 192

struct cache;

/* n slots of value_size bytes each; ttl_ms 0 disables the cache (every get misses). */
struct cache *cache_new(size_t n, size_t value_size, uint64_t ttl_ms);
void cache_free(struct cache *c);
/* Copies the value of key into out (value_size bytes) if present and fresh. */
bool cache_get(struct cache *c, const char *key, void *out);
void cache_put(struct cache *c, const char *key, const void *value);
void cache_clear(struct cache *c);

/* Touches DIR/admin.stamp (created if missing): the administrator changed the store. */
void cache_stamp_touch(const char *dir);
/* True when DIR/admin.stamp changed since the last call with this state (a new file
 * replaces it each time, so its inode and time change together). */
bool cache_stamp_changed(const char *dir, _Atomic uint64_t *last);

#endif /* SECUP_SERVER_CACHE_H */
