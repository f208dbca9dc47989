/* Per-source-address token buckets in a fixed, set-associative table (ratelimit.h). */
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ratelimit.h"

#define DEFAULT_SIZE 16384u
#define STRIPES 64u

struct entry {
    uint8_t key[17]; /* family tag, then 4 (IPv4) or 8 (IPv6 /64) bytes; zero padded */
    bool used;
    uint64_t last_ms; /* the buckets were refilled up to this time; also "last used" */
};

struct ratelimit {
    size_t sets;
    size_t n_classes;
    struct ratelimit_class cls[RATELIMIT_CLASSES];
    double burst[RATELIMIT_CLASSES];
    uint64_t seed[2];
    struct entry *e;  /* sets * RATELIMIT_WAYS */
    double *tokens;   /* per entry, n_classes */
    pthread_mutex_t lock[STRIPES];
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_key(const struct ratelimit *rl, const uint8_t key[17])
{
    uint64_t a, b;
    memcpy(&a, key + 1, 8);
    memcpy(&b, key + 9, 8);
    uint64_t h = mix(rl->seed[0] ^ key[0]);
    h = mix(h ^ a ^ rl->seed[1]);
    h = mix(h ^ b);
    return h;
}

/* The source an address counts as; false for other families. */
static bool make_key(const struct sockaddr_storage *addr, uint8_t key[17])
{
    memset(key, 0, 17);
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
        key[0] = 4;
        memcpy(key + 1, &v4->sin_addr, 4);
        return true;
    }
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
        const uint8_t *b = v6->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(b, mapped, 12) == 0) {
            key[0] = 4;
            memcpy(key + 1, b + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, b, 8); /* the /64 */
        }
        return true;
    }
    return false;
}

struct ratelimit *ratelimit_new(size_t size, const struct ratelimit_class *classes,
                                size_t n_classes)
{
    if (!classes || n_classes == 0 || n_classes > RATELIMIT_CLASSES)
        return NULL;
    if (size == 0)
        size = DEFAULT_SIZE;
    size_t sets = (size + RATELIMIT_WAYS - 1) / RATELIMIT_WAYS;
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->sets = sets;
    rl->n_classes = n_classes;
    for (size_t i = 0; i < n_classes; i++) {
        rl->cls[i] = classes[i];
        if (!(classes[i].rate > 0)) {
            rl->cls[i].rate = 0;
            continue;
        }
        double b = classes[i].burst ? (double)classes[i].burst : ceil(classes[i].rate);
        rl->burst[i] = b < 1 ? 1 : b;
    }
    rl->e = calloc(sets * RATELIMIT_WAYS, sizeof(*rl->e));
    rl->tokens = calloc(sets * RATELIMIT_WAYS * n_classes, sizeof(*rl->tokens));
    if (!rl->e || !rl->tokens) {
        free(rl->e);
        free(rl->tokens);
        free(rl);
        return NULL;
    }
    if (getrandom(rl->seed, sizeof(rl->seed), 0) != (ssize_t)sizeof(rl->seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rl->seed[0] = mix((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)rl);
        rl->seed[1] = mix((uint64_t)ts.tv_sec ^ rl->seed[0]);
    }
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->lock[i], NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->lock[i]);
    free(rl->e);
    free(rl->tokens);
    free(rl);
}

/* Refills entry i's buckets up to now. */
static void refill(struct ratelimit *rl, size_t i, uint64_t now_ms)
{
    struct entry *e = &rl->e[i];
    double dt = now_ms > e->last_ms ? (double)(now_ms - e->last_ms) / 1000.0 : 0;
    double *t = &rl->tokens[i * rl->n_classes];
    for (size_t c = 0; c < rl->n_classes; c++) {
        if (rl->cls[c].rate == 0)
            continue;
        t[c] += rl->cls[c].rate * dt;
        if (t[c] > rl->burst[c])
            t[c] = rl->burst[c];
    }
    if (now_ms > e->last_ms)
        e->last_ms = now_ms;
}

/* Every bucket of entry i would be full at now: forgetting it loses nothing. */
static bool all_full(const struct ratelimit *rl, size_t i, uint64_t now_ms)
{
    const struct entry *e = &rl->e[i];
    double dt = now_ms > e->last_ms ? (double)(now_ms - e->last_ms) / 1000.0 : 0;
    const double *t = &rl->tokens[i * rl->n_classes];
    for (size_t c = 0; c < rl->n_classes; c++)
        if (rl->cls[c].rate != 0 && t[c] + rl->cls[c].rate * dt < rl->burst[c])
            return false;
    return true;
}

bool ratelimit_take(struct ratelimit *rl, const struct sockaddr_storage *addr, unsigned cls,
                    uint64_t now_ms, unsigned *retry_after_s)
{
    uint8_t key[17];
    *retry_after_s = 0;
    if (!rl || !addr || cls >= rl->n_classes || rl->cls[cls].rate == 0 || !make_key(addr, key))
        return true;
    size_t set = (size_t)(hash_key(rl, key) % rl->sets);
    size_t base = set * RATELIMIT_WAYS;
    pthread_mutex_t *lock = &rl->lock[set % STRIPES];
    pthread_mutex_lock(lock);
    size_t found = SIZE_MAX, free_i = SIZE_MAX, full_i = SIZE_MAX, old_i = base;
    for (size_t i = base; i < base + RATELIMIT_WAYS; i++) {
        const struct entry *e = &rl->e[i];
        if (!e->used) {
            if (free_i == SIZE_MAX)
                free_i = i;
            continue;
        }
        if (memcmp(e->key, key, sizeof(key)) == 0) {
            found = i;
            break;
        }
        if (full_i == SIZE_MAX && all_full(rl, i, now_ms))
            full_i = i;
        if (rl->e[old_i].used && e->last_ms < rl->e[old_i].last_ms)
            old_i = i;
    }
    if (found == SIZE_MAX) {
        found = free_i != SIZE_MAX ? free_i : full_i != SIZE_MAX ? full_i : old_i;
        struct entry *e = &rl->e[found];
        memcpy(e->key, key, sizeof(key));
        e->used = true;
        e->last_ms = now_ms;
        double *t = &rl->tokens[found * rl->n_classes];
        for (size_t c = 0; c < rl->n_classes; c++)
            t[c] = rl->burst[c];
    } else {
        refill(rl, found, now_ms);
    }
    double *t = &rl->tokens[found * rl->n_classes + cls];
    bool ok = *t >= 1.0;
    if (ok) {
        *t -= 1.0;
    } else {
        double wait = ceil((1.0 - *t) / rl->cls[cls].rate);
        *retry_after_s = wait < 1 ? 1 : wait > 86400 ? 86400 : (unsigned)wait;
    }
    pthread_mutex_unlock(lock);
    return ok;
}

size_t ratelimit_used(struct ratelimit *rl)
{
    size_t n = 0;
    for (size_t s = 0; s < rl->sets; s++) {
        pthread_mutex_lock(&rl->lock[s % STRIPES]);
        for (size_t w = 0; w < RATELIMIT_WAYS; w++)
            n += rl->e[s * RATELIMIT_WAYS + w].used;
        pthread_mutex_unlock(&rl->lock[s % STRIPES]);
    }
    return n;
}

size_t ratelimit_capacity(const struct ratelimit *rl)
{
    return rl->sets * RATELIMIT_WAYS;
}
