/* Parsed consumer keys: a hash table by id with a least-recently-used list (keycache.h). */
#include "keycache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct trk_keyref {
    struct trk_keyref *bucket_next;
    struct trk_keyref *lru_prev, *lru_next; /* most recent at the head */
    char *id;
    char *pem;
    struct secup_key *key;
    size_t refs;
    bool listed;   /* in its bucket and the LRU list */
};

struct trk_keycache {
    pthread_mutex_t lock;
    struct trk_keyref **buckets;
    size_t nbuckets; /* a power of two */
    size_t cap, count;
    struct trk_keyref *head, *tail;
    struct trk_keycache_stats stats;
};

static uint64_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

secup_rc trk_keycache_new(size_t cap, struct trk_keycache **out, struct secup_err *err)
{
    *out = NULL;
    if (cap == 0)
        cap = 1;
    struct trk_keycache *kc = calloc(1, sizeof(*kc));
    size_t nb = 1;
    while (nb < cap && nb < ((size_t)1 << 30))
        nb <<= 1;
    if (kc)
        kc->buckets = calloc(nb, sizeof(*kc->buckets));
    if (!kc || !kc->buckets) {
        free(kc);
        return secup_err_set(err, SECUP_E_NOMEM, "key cache of %zu entries", cap);
    }
    pthread_mutex_init(&kc->lock, NULL);
    kc->nbuckets = nb;
    kc->cap = cap;
    *out = kc;
    return SECUP_OK;
}

static void ref_free(struct trk_keyref *r)
{
    secup_key_free(r->key);
    free(r->id);
    free(r->pem);
    free(r);
}

static void lru_unlink(struct trk_keycache *kc, struct trk_keyref *r)
{
    if (r->lru_prev)
        r->lru_prev->lru_next = r->lru_next;
    else
        kc->head = r->lru_next;
    if (r->lru_next)
        r->lru_next->lru_prev = r->lru_prev;
    else
        kc->tail = r->lru_prev;
    r->lru_prev = r->lru_next = NULL;
}

static void lru_push(struct trk_keycache *kc, struct trk_keyref *r)
{
    r->lru_prev = NULL;
    r->lru_next = kc->head;
    if (kc->head)
        kc->head->lru_prev = r;
    kc->head = r;
    if (!kc->tail)
        kc->tail = r;
}

/* Takes r out of the table (under the lock); freed now or by its last put. */
static void unlist(struct trk_keycache *kc, struct trk_keyref *r)
{
    struct trk_keyref **pp = &kc->buckets[hash_id(r->id) & (kc->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->bucket_next)
        if (*pp == r) {
            *pp = r->bucket_next;
            break;
        }
    lru_unlink(kc, r);
    r->listed = false;
    kc->count--;
    if (r->refs == 0)
        ref_free(r);
}

static struct trk_keyref *find(struct trk_keycache *kc, const char *id)
{
    for (struct trk_keyref *r = kc->buckets[hash_id(id) & (kc->nbuckets - 1)]; r;
         r = r->bucket_next)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

secup_rc trk_keycache_get(struct trk_keycache *kc, const char *id, const char *pem,
                          struct trk_keyref **ref, const struct secup_key **key,
                          struct secup_err *err)
{
    *ref = NULL;
    *key = NULL;
    pthread_mutex_lock(&kc->lock);
    struct trk_keyref *r = find(kc, id);
    if (r && strcmp(r->pem, pem) == 0) {
        r->refs++;
        lru_unlink(kc, r);
        lru_push(kc, r);
        kc->stats.hits++;
        pthread_mutex_unlock(&kc->lock);
        *ref = r;
        *key = r->key;
        return SECUP_OK;
    }
    kc->stats.misses++;
    pthread_mutex_unlock(&kc->lock);

    /* parsed outside the lock: other consumers' reports go on meanwhile */
    struct trk_keyref *n = calloc(1, sizeof(*n));
    if (!n)
        return secup_err_set(err, SECUP_E_NOMEM, "key cache entry");
    n->id = strdup(id);
    n->pem = strdup(pem);
    if (!n->id || !n->pem) {
        ref_free(n);
        return secup_err_set(err, SECUP_E_NOMEM, "key cache entry");
    }
    secup_rc rc = secup_key_parse_pem(&n->key, secup_bytes_of(pem, strlen(pem)), err);
    if (rc != SECUP_OK) {
        ref_free(n);
        return rc;
    }

    pthread_mutex_lock(&kc->lock);
    r = find(kc, id);
    if (r && strcmp(r->pem, pem) == 0) { /* another thread was quicker */
        r->refs++;
        pthread_mutex_unlock(&kc->lock);
        ref_free(n);
        *ref = r;
        *key = r->key;
        return SECUP_OK;
    }
    if (r) /* the consumer's key changed: the old one goes */
        unlist(kc, r);
    /* make room: the least recently used keys nobody holds */
    for (struct trk_keyref *v = kc->tail; v && kc->count >= kc->cap;) {
        struct trk_keyref *prev = v->lru_prev;
        if (v->refs == 0) {
            unlist(kc, v);
            kc->stats.evictions++;
        }
        v = prev;
    }
    if (kc->count < kc->cap) {
        size_t b = hash_id(id) & (kc->nbuckets - 1);
        n->bucket_next = kc->buckets[b];
        kc->buckets[b] = n;
        lru_push(kc, n);
        n->listed = true;
        kc->count++;
    }
    n->refs = 1; /* unlisted (every entry in use): freed by the put */
    pthread_mutex_unlock(&kc->lock);
    *ref = n;
    *key = n->key;
    return SECUP_OK;
}

void trk_keycache_put(struct trk_keycache *kc, struct trk_keyref *ref)
{
    if (!ref)
        return;
    pthread_mutex_lock(&kc->lock);
    bool last = --ref->refs == 0 && !ref->listed;
    pthread_mutex_unlock(&kc->lock);
    if (last)
        ref_free(ref);
}

void trk_keycache_stats(struct trk_keycache *kc, struct trk_keycache_stats *out)
{
    pthread_mutex_lock(&kc->lock);
    *out = kc->stats;
    out->entries = kc->count;
    pthread_mutex_unlock(&kc->lock);
}

void trk_keycache_free(struct trk_keycache *kc)
{
    if (!kc)
        return;
    for (struct trk_keyref *r = kc->head, *next; r; r = next) {
        next = r->lru_next;
        ref_free(r);
    }
    free(kc->buckets);
    pthread_mutex_destroy(&kc->lock);
    free(kc);
}
