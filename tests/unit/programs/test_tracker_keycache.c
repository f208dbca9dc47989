/* The tracker's cache of parsed consumer keys (programs/tracker/keycache.h): hits and
 * misses, a changed key, eviction of the least recently used key nobody holds, keys in
 * use never freed under their holder (ASan would see it), and many threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keycache.h"

#define NKEYS 6

static char pems[NKEYS][1024];
static uint8_t ids[NKEYS][32];

static void make_keys(void)
{
    static bool done;
    if (done)
        return;
    char dir[] = "/tmp/secup-keycache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < NKEYS; i++) {
        struct secup_err err;
        struct secup_key *k = NULL;
        assert_int_equal(secup_key_generate(&k, i % 2 ? SECUP_KEY_ED25519 : SECUP_KEY_P256,
                                            &err),
                         SECUP_OK);
        assert_int_equal(secup_key_id(k, ids[i], &err), SECUP_OK);
        char path[128];
        snprintf(path, sizeof(path), "%s/k%d.pem", dir, i);
        assert_int_equal(secup_key_save_public(k, path, &err), SECUP_OK);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(pems[i], 1, sizeof(pems[i]) - 1, f);
        fclose(f);
        assert_true(n > 0);
        pems[i][n] = '\0';
        unlink(path);
        secup_key_free(k);
    }
    rmdir(dir);
    done = true;
}

static bool is_key(const struct secup_key *k, int i)
{
    uint8_t id[32];
    struct secup_err err;
    return secup_key_id(k, id, &err) == SECUP_OK && memcmp(id, ids[i], 32) == 0;
}

static void test_keycache_miss_then_hit_gives_the_same_key(void **state)
{
    (void)state;
    make_keys();
    struct trk_keycache *kc;
    struct secup_err err;
    assert_int_equal(trk_keycache_new(8, &kc, &err), SECUP_OK);
    struct trk_keyref *r1, *r2;
    const struct secup_key *k1, *k2;
    assert_int_equal(trk_keycache_get(kc, "dev-a", pems[0], &r1, &k1, &err), SECUP_OK);
    assert_int_equal(trk_keycache_get(kc, "dev-a", pems[0], &r2, &k2, &err), SECUP_OK);
    assert_ptr_equal(k1, k2);
    assert_true(is_key(k1, 0));
    struct trk_keycache_stats st;
    trk_keycache_stats(kc, &st);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.entries, 1);
    trk_keycache_put(kc, r1);
    trk_keycache_put(kc, r2);
    trk_keycache_free(kc);
}

static void test_keycache_changed_key_is_parsed_and_the_old_one_outlives_its_holder(void **state)
{
    (void)state;
    make_keys();
    struct trk_keycache *kc;
    struct secup_err err;
    assert_int_equal(trk_keycache_new(8, &kc, &err), SECUP_OK);
    struct trk_keyref *old_ref, *new_ref;
    const struct secup_key *old_key, *new_key;
    assert_int_equal(trk_keycache_get(kc, "dev-a", pems[0], &old_ref, &old_key, &err), SECUP_OK);
    /* the consumer re-enrolled with another key while a report still uses the old one */
    assert_int_equal(trk_keycache_get(kc, "dev-a", pems[1], &new_ref, &new_key, &err), SECUP_OK);
    assert_true(is_key(new_key, 1));
    assert_true(is_key(old_key, 0)); /* still valid: not freed under its holder */
    struct trk_keycache_stats st;
    trk_keycache_stats(kc, &st);
    assert_int_equal(st.entries, 1);
    trk_keycache_put(kc, old_ref); /* freed now (ASan checks) */
    trk_keycache_put(kc, new_ref);
    trk_keycache_free(kc);
}

static void test_keycache_evicts_the_least_recently_used_key_nobody_holds(void **state)
{
    (void)state;
    make_keys();
    struct trk_keycache *kc;
    struct secup_err err;
    assert_int_equal(trk_keycache_new(2, &kc, &err), SECUP_OK);
    struct trk_keyref *ra, *rb, *rc, *held;
    const struct secup_key *k;
    assert_int_equal(trk_keycache_get(kc, "a", pems[0], &ra, &k, &err), SECUP_OK);
    assert_int_equal(trk_keycache_get(kc, "b", pems[1], &rb, &k, &err), SECUP_OK);
    trk_keycache_put(kc, ra);
    trk_keycache_put(kc, rb);
    assert_int_equal(trk_keycache_get(kc, "a", pems[0], &ra, &k, &err), SECUP_OK); /* a is newer */
    trk_keycache_put(kc, ra);
    assert_int_equal(trk_keycache_get(kc, "c", pems[2], &rc, &k, &err), SECUP_OK); /* evicts b */
    trk_keycache_put(kc, rc);
    struct trk_keycache_stats st;
    trk_keycache_stats(kc, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.evictions, 1);
    size_t misses = st.misses;
    assert_int_equal(trk_keycache_get(kc, "a", pems[0], &ra, &k, &err), SECUP_OK);
    trk_keycache_put(kc, ra);
    trk_keycache_stats(kc, &st);
    assert_int_equal(st.misses, misses); /* a stayed */
    assert_int_equal(trk_keycache_get(kc, "b", pems[1], &rb, &k, &err), SECUP_OK);
    trk_keycache_stats(kc, &st);
    assert_int_equal(st.misses, misses + 1); /* b had gone */
    /* every entry held: a new key is handed out uncached and freed at its put */
    assert_int_equal(trk_keycache_get(kc, "a", pems[0], &held, &k, &err), SECUP_OK);
    assert_int_equal(trk_keycache_get(kc, "d", pems[3], &rc, &k, &err), SECUP_OK);
    assert_true(is_key(k, 3));
    trk_keycache_stats(kc, &st);
    assert_int_equal(st.entries, 2);
    trk_keycache_put(kc, rc);
    trk_keycache_put(kc, held);
    trk_keycache_put(kc, rb);
    trk_keycache_free(kc);
}

static void test_keycache_bad_pem_is_refused_and_not_cached(void **state)
{
    (void)state;
    struct trk_keycache *kc;
    struct secup_err err;
    assert_int_equal(trk_keycache_new(4, &kc, &err), SECUP_OK);
    struct trk_keyref *r;
    const struct secup_key *k;
    assert_int_equal(trk_keycache_get(kc, "x", "-----BEGIN PUBLIC KEY-----\nAAAA\n", &r, &k,
                                      &err),
                     SECUP_E_KEY_FORMAT);
    assert_null(r);
    assert_null(k);
    struct trk_keycache_stats st;
    trk_keycache_stats(kc, &st);
    assert_int_equal(st.entries, 0);
    trk_keycache_free(kc);
}

struct worker {
    struct trk_keycache *kc;
    unsigned seed;
    int wrong, failed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 3000; i++) {
        w->seed = w->seed * 1103515245u + 12345u;
        int n = (int)((w->seed >> 8) % 40);
        char id[16];
        snprintf(id, sizeof(id), "dev-%d", n);
        int which = n % NKEYS;
        struct trk_keyref *r;
        const struct secup_key *k;
        struct secup_err err;
        if (trk_keycache_get(w->kc, id, pems[which], &r, &k, &err) != SECUP_OK) {
            w->failed++;
            continue;
        }
        if (!is_key(k, which))
            w->wrong++;
        trk_keycache_put(w->kc, r);
    }
    return NULL;
}

static void test_keycache_many_threads_get_the_right_keys(void **state)
{
    (void)state;
    make_keys();
    struct trk_keycache *kc;
    struct secup_err err;
    assert_int_equal(trk_keycache_new(16, &kc, &err), SECUP_OK); /* 40 ids: evictions */
    enum { N = 4 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){ .kc = kc, .seed = (unsigned)(i * 7919 + 1) };
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failed, 0);
        assert_int_equal(w[i].wrong, 0);
    }
    struct trk_keycache_stats st;
    trk_keycache_stats(kc, &st);
    assert_true(st.entries <= 16);
    assert_int_equal(st.hits + st.misses, N * 3000);
    trk_keycache_free(kc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keycache_miss_then_hit_gives_the_same_key),
        cmocka_unit_test(test_keycache_changed_key_is_parsed_and_the_old_one_outlives_its_holder),
        cmocka_unit_test(test_keycache_evicts_the_least_recently_used_key_nobody_holds),
        cmocka_unit_test(test_keycache_bad_pem_is_refused_and_not_cached),
        cmocka_unit_test(test_keycache_many_threads_get_the_right_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
