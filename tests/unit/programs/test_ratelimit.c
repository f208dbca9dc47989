/* Per-source request limiting of the HTTP server seam (programs/common/http/ratelimit.h,
 * THREATS.md U6): token buckets with their Retry-After, sources (IPv4, IPv6 /64, mapped
 * IPv4), a table that never grows past its size, an eviction that forgets full buckets
 * before a limited source, and many threads at once. The clock is the test's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

static struct sockaddr_storage v4(const char *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &s->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &s->sin6_addr), 1);
    return ss;
}

static struct sockaddr_storage v4n(uint32_t n)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_addr.s_addr = htonl(n);
    return ss;
}

static void test_ratelimit_burst_then_429_with_the_time_to_the_next_token(void **state)
{
    (void)state;
    const struct ratelimit_class cls[] = { { 2.0, 4 } };
    struct ratelimit *rl = ratelimit_new(64, cls, 1);
    assert_non_null(rl);
    struct sockaddr_storage a = v4("192.0.2.1");
    unsigned ra = 99;
    for (int i = 0; i < 4; i++) {
        assert_true(ratelimit_take(rl, &a, 0, 1000, &ra));
        assert_int_equal(ra, 0);
    }
    assert_false(ratelimit_take(rl, &a, 0, 1000, &ra));
    assert_int_equal(ra, 1); /* 2 per second: the next token in 0.5 s, said as 1 s */
    /* 0.6 s later one token is back, and only one */
    assert_true(ratelimit_take(rl, &a, 0, 1600, &ra));
    assert_false(ratelimit_take(rl, &a, 0, 1600, &ra));
    /* a slow class: 1 request a minute */
    const struct ratelimit_class slow[] = { { 1.0 / 60, 1 } };
    struct ratelimit *rs = ratelimit_new(64, slow, 1);
    assert_true(ratelimit_take(rs, &a, 0, 0, &ra));
    assert_false(ratelimit_take(rs, &a, 0, 0, &ra));
    assert_int_equal(ra, 60);
    assert_false(ratelimit_take(rs, &a, 0, 30000, &ra));
    assert_int_equal(ra, 30);
    assert_true(ratelimit_take(rs, &a, 0, 60000, &ra));
    ratelimit_free(rs);
    ratelimit_free(rl);
}

static void test_ratelimit_classes_are_separate_and_unlimited_ones_always_pass(void **state)
{
    (void)state;
    const struct ratelimit_class cls[] = { { 1.0, 1 }, { 0, 0 }, { 1.0, 0 } };
    struct ratelimit *rl = ratelimit_new(64, cls, 3);
    struct sockaddr_storage a = v4("192.0.2.1");
    unsigned ra;
    assert_true(ratelimit_take(rl, &a, 0, 0, &ra));
    assert_false(ratelimit_take(rl, &a, 0, 0, &ra));
    for (int i = 0; i < 1000; i++)
        assert_true(ratelimit_take(rl, &a, 1, 0, &ra)); /* rate 0: no limit */
    assert_true(ratelimit_take(rl, &a, 2, 0, &ra));   /* burst 0: max(1, rate) */
    assert_false(ratelimit_take(rl, &a, 2, 0, &ra));
    assert_true(ratelimit_take(rl, &a, 7, 0, &ra));   /* no such class */
    ratelimit_free(rl);
    assert_null(ratelimit_new(64, cls, 0));
    assert_null(ratelimit_new(64, cls, RATELIMIT_CLASSES + 1));
}

static void test_ratelimit_sources_ipv4_ipv6_prefix_and_mapped(void **state)
{
    (void)state;
    const struct ratelimit_class cls[] = { { 1.0, 1 } };
    struct ratelimit *rl = ratelimit_new(64, cls, 1);
    unsigned ra;
    struct sockaddr_storage a = v4("198.51.100.7"), m = v6("::ffff:198.51.100.7");
    assert_true(ratelimit_take(rl, &a, 0, 0, &ra));
    assert_false(ratelimit_take(rl, &m, 0, 0, &ra)); /* the same IPv4 source */
    struct sockaddr_storage b = v4("198.51.100.8");
    assert_true(ratelimit_take(rl, &b, 0, 0, &ra));
    /* one /64 is one source; the next /64 another */
    struct sockaddr_storage p1 = v6("2001:db8:1:2::1"), p2 = v6("2001:db8:1:2:ffff::9"),
                            q = v6("2001:db8:1:3::1");
    assert_true(ratelimit_take(rl, &p1, 0, 0, &ra));
    assert_false(ratelimit_take(rl, &p2, 0, 0, &ra));
    assert_true(ratelimit_take(rl, &q, 0, 0, &ra));
    /* another family: not limited */
    struct sockaddr_storage u;
    memset(&u, 0, sizeof(u));
    u.ss_family = AF_UNIX;
    assert_true(ratelimit_take(rl, &u, 0, 0, &ra));
    assert_true(ratelimit_take(rl, &u, 0, 0, &ra));
    ratelimit_free(rl);
}

static void test_ratelimit_table_stays_at_its_size_under_a_many_source_flood(void **state)
{
    (void)state;
    const struct ratelimit_class cls[] = { { 1.0, 2 } };
    struct ratelimit *rl = ratelimit_new(100, cls, 1);
    assert_int_equal(ratelimit_capacity(rl), 104); /* a multiple of the ways */
    unsigned ra;
    for (uint32_t i = 0; i < 200000; i++) {
        struct sockaddr_storage a = v4n(0x0a000000u + i);
        assert_true(ratelimit_take(rl, &a, 0, 5000, &ra)); /* each new source: a full bucket */
    }
    assert_true(ratelimit_used(rl) <= ratelimit_capacity(rl));
    ratelimit_free(rl);
}

static void test_ratelimit_eviction_forgets_full_buckets_before_a_limited_source(void **state)
{
    (void)state;
    /* one set of 8: every source competes for the same entries */
    const struct ratelimit_class cls[] = { { 0.01, 1 }, { 100.0, 1 } };
    struct ratelimit *rl = ratelimit_new(RATELIMIT_WAYS, cls, 2);
    assert_int_equal(ratelimit_capacity(rl), RATELIMIT_WAYS);
    unsigned ra;
    struct sockaddr_storage a = v4("203.0.113.1");
    assert_true(ratelimit_take(rl, &a, 0, 0, &ra));
    assert_false(ratelimit_take(rl, &a, 0, 0, &ra)); /* the limited source, the oldest */
    for (uint32_t i = 1; i < RATELIMIT_WAYS; i++) {
        struct sockaddr_storage b = v4n(0xc6336400u + i);
        assert_true(ratelimit_take(rl, &b, 1, 1000, &ra)); /* full again 10 ms later */
    }
    assert_int_equal(ratelimit_used(rl), RATELIMIT_WAYS);
    /* new sources take the entries whose buckets refilled, not the limited one's */
    for (uint32_t i = 1; i < RATELIMIT_WAYS; i++) {
        struct sockaddr_storage c = v4n(0xcb007100u + i);
        assert_true(ratelimit_take(rl, &c, 1, 5000, &ra));
    }
    assert_false(ratelimit_take(rl, &a, 0, 5000, &ra));
    assert_true(ra >= 50); /* still remembered: 0.05 of a token after 5 s */
    assert_int_equal(ratelimit_used(rl), RATELIMIT_WAYS);
    ratelimit_free(rl);
}

static void test_ratelimit_eviction_takes_the_entry_unused_longest_when_none_is_full(void **state)
{
    (void)state;
    const struct ratelimit_class cls[] = { { 0.01, 1 } };
    struct ratelimit *rl = ratelimit_new(RATELIMIT_WAYS, cls, 1);
    unsigned ra;
    for (uint32_t i = 0; i < RATELIMIT_WAYS; i++) {
        struct sockaddr_storage s = v4n(0xc0000200u + i);
        assert_true(ratelimit_take(rl, &s, 0, 10 * i, &ra)); /* each now empty */
    }
    struct sockaddr_storage newer = v4n(0xc00002ffu);
    assert_true(ratelimit_take(rl, &newer, 0, 100, &ra)); /* takes the first one's entry */
    struct sockaddr_storage first = v4n(0xc0000200u), last = v4n(0xc0000200u + RATELIMIT_WAYS - 1);
    assert_false(ratelimit_take(rl, &last, 0, 100, &ra)); /* remembered */
    assert_true(ratelimit_take(rl, &first, 0, 100, &ra)); /* forgotten: a new, full bucket */
    assert_int_equal(ratelimit_used(rl), RATELIMIT_WAYS);
    ratelimit_free(rl);
}

struct worker {
    struct ratelimit *rl;
    uint32_t base;
    unsigned allowed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned ra;
    for (uint32_t i = 0; i < 20000; i++) {
        struct sockaddr_storage a = v4n(w->base + (i % 16));
        if (ratelimit_take(w->rl, &a, 0, 0, &ra))
            w->allowed++;
    }
    return NULL;
}

static void test_ratelimit_many_threads_share_the_buckets(void **state)
{
    (void)state;
    const struct ratelimit_class cls[] = { { 1.0, 10 } };
    struct ratelimit *rl = ratelimit_new(4096, cls, 1);
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ rl, 0x0a010000u, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    unsigned total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += w[i].allowed;
    }
    /* 16 sources, 10 each at one instant, whatever the interleaving */
    assert_int_equal(total, 160);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_burst_then_429_with_the_time_to_the_next_token),
        cmocka_unit_test(test_ratelimit_classes_are_separate_and_unlimited_ones_always_pass),
        cmocka_unit_test(test_ratelimit_sources_ipv4_ipv6_prefix_and_mapped),
        cmocka_unit_test(test_ratelimit_table_stays_at_its_size_under_a_many_source_flood),
        cmocka_unit_test(test_ratelimit_eviction_forgets_full_buckets_before_a_limited_source),
        cmocka_unit_test(test_ratelimit_eviction_takes_the_entry_unused_longest_when_none_is_full),
        cmocka_unit_test(test_ratelimit_many_threads_share_the_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
