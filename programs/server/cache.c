/* Small in-memory caches of secup-server (cache.h): direct-mapped, one mutex each. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"

struct cache_slot {
    char key[CACHE_KEY_MAX];
    uint64_t expires_ms; /* 0: empty */
};

struct cache {
    pthread_mutex_t lock;
    size_t n;
    size_t value_size;
    uint64_t ttl_ms;
    struct cache_slot *slots;
    unsigned char *values;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t slot_of(const struct cache *c, const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (size_t)(h % c->n);
}

struct cache *cache_new(size_t n, size_t value_size, uint64_t ttl_ms)
{
    struct cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->n = n ? n : 1;
    c->value_size = value_size;
    c->ttl_ms = ttl_ms;
    c->slots = calloc(c->n, sizeof(*c->slots));
    c->values = calloc(c->n, value_size);
    if (!c->slots || !c->values) {
        free(c->slots);
        free(c->values);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void cache_free(struct cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c->values);
    free(c);
}

bool cache_get(struct cache *c, const char *key, void *out)
{
    if (!c || c->ttl_ms == 0 || strlen(key) >= CACHE_KEY_MAX)
        return false;
    size_t i = slot_of(c, key);
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    struct cache_slot *s = &c->slots[i];
    if (s->expires_ms && s->expires_ms > now_ms() && strcmp(s->key, key) == 0) {
        memcpy(out, c->values + i * c->value_size, c->value_size);
        hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void cache_put(struct cache *c, const char *key, const void *value)
{
    size_t len = strlen(key);
    if (!c || c->ttl_ms == 0 || len >= CACHE_KEY_MAX)
        return;
    size_t i = slot_of(c, key);
    pthread_mutex_lock(&c->lock);
    memcpy(c->slots[i].key, key, len + 1);
    memcpy(c->values + i * c->value_size, value, c->value_size);
    c->slots[i].expires_ms = now_ms() + c->ttl_ms;
    pthread_mutex_unlock(&c->lock);
}

void cache_clear(struct cache *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++)
        c->slots[i].expires_ms = 0;
    pthread_mutex_unlock(&c->lock);
}

static void stamp_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/admin.stamp", dir);
}

void cache_stamp_touch(const char *dir)
{
    char path[4200], tmp[4220];
    stamp_path(dir, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return;
    close(fd);
    if (rename(tmp, path) != 0)
        unlink(tmp);
}

bool cache_stamp_changed(const char *dir, _Atomic uint64_t *last)
{
    char path[4200];
    stamp_path(dir, path, sizeof(path));
    struct stat st;
    uint64_t v = 0;
    if (stat(path, &st) == 0)
        v = ((uint64_t)st.st_ino << 32) ^ (uint64_t)st.st_mtim.tv_nsec ^
            ((uint64_t)st.st_mtim.tv_sec << 20);
    return atomic_exchange(last, v) != v;
}
