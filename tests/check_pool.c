/* Unit tests for the buffer pool: classes, caps, counters, INFO output. */
#include "config.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pool.h"

START_TEST(test_round)
{
    ck_assert_uint_eq(pool_round(1), 256);
    ck_assert_uint_eq(pool_round(256), 256);
    ck_assert_uint_eq(pool_round(257), 512);
    ck_assert_uint_eq(pool_round(65536), 65536);
    ck_assert_uint_eq(pool_round(65537), 65537);
}
END_TEST

START_TEST(test_get_put_reuses)
{
    pool_t p;
    pool_init(&p, 0, 0);
    size_t cap;
    void *a = pool_get(&p, 300, &cap);
    ck_assert_uint_eq(cap, 512);
    memset(a, 0xab, cap); /* the whole capacity is usable */
    pool_put(&p, a, cap);
    ck_assert_uint_eq(p.stats[1].cached, 1);
    ck_assert_uint_eq(p.cached_bytes, 512);
    void *b = pool_get(&p, 400, &cap);
    ck_assert_ptr_eq(a, b);
    ck_assert_uint_eq(p.stats[1].gets, 2);
    ck_assert_uint_eq(p.stats[1].hits, 1);
    ck_assert_uint_eq(p.stats[1].misses, 1);
    ck_assert_uint_eq(p.stats[1].puts, 1);
    ck_assert_uint_eq(p.cached_bytes, 0);
    pool_put(&p, b, cap);
    pool_destroy(&p);
}
END_TEST

START_TEST(test_oversize_not_cached)
{
    pool_t p;
    pool_init(&p, 0, 0);
    size_t cap;
    void *a = pool_get(&p, 100000, &cap);
    ck_assert_uint_eq(cap, 100000);
    pool_put(&p, a, cap);
    ck_assert_uint_eq(p.cached_bytes, 0);
    ck_assert_uint_eq(p.big_gets, 1);
    ck_assert_uint_eq(p.big_puts, 1);
    pool_destroy(&p);
}
END_TEST

START_TEST(test_per_class_cap)
{
    pool_t p;
    pool_init(&p, 2, 0);
    size_t cap;
    void *v[3];
    for (int i = 0; i < 3; i++)
        v[i] = pool_get(&p, 256, &cap);
    for (int i = 0; i < 3; i++)
        pool_put(&p, v[i], cap);
    ck_assert_uint_eq(p.stats[0].cached, 2);
    ck_assert_uint_eq(p.stats[0].drops, 1);
    pool_destroy(&p);
}
END_TEST

START_TEST(test_total_bytes_cap)
{
    pool_t p;
    pool_init(&p, 100, 65536 + 1024);
    size_t cap;
    void *a = pool_get(&p, 65536, &cap);
    void *b = pool_get(&p, 1024, &cap);
    void *c = pool_get(&p, 1024, &cap);
    pool_put(&p, a, 65536);
    pool_put(&p, b, 1024);
    pool_put(&p, c, 1024); /* would exceed the byte cap */
    ck_assert_uint_eq(p.cached_bytes, 65536 + 1024);
    ck_assert_uint_eq(p.stats[2].drops, 1);
    pool_set_caps(&p, 100, 2048);
    ck_assert_uint_le(p.cached_bytes, 2048);
    pool_destroy(&p);
}
END_TEST

START_TEST(test_grown_buffer_goes_to_new_class)
{
    pool_t p;
    pool_init(&p, 0, 0);
    buf_t b = BUF_INIT(&p);
    buf_append(&b, "x", 1);
    ck_assert_uint_eq(b.cap, 256);
    char big[3000];
    memset(big, 'y', sizeof big);
    buf_append(&b, big, sizeof big);
    ck_assert_uint_eq(b.cap, 4096);
    /* The 256 B storage it outgrew went back to its class. */
    ck_assert_uint_eq(p.stats[0].cached, 1);
    buf_release(&b);
    ck_assert_uint_eq(p.stats[4].cached, 1);
    ck_assert_uint_eq(p.cached_bytes, 256 + 4096);
    pool_destroy(&p);
}
END_TEST

START_TEST(test_stats)
{
    /* The counters INFO pool reports (its text: commands.sh). */
    pool_t p;
    pool_init(&p, 0, 0);
    size_t cap;
    void *a = pool_get(&p, 10, &cap);
    pool_put(&p, a, cap);
    ck_assert_uint_eq(p.stats[0].gets, 1);
    ck_assert_uint_eq(p.stats[0].hits, 0);
    ck_assert_uint_eq(p.stats[0].misses, 1);
    ck_assert_uint_eq(p.stats[0].puts, 1);
    ck_assert_uint_eq(p.stats[0].drops, 0);
    ck_assert_uint_eq(p.stats[0].cached, 1);
    ck_assert_uint_eq(p.cached_bytes, 256);
    pool_reset_stats(&p);
    ck_assert_uint_eq(p.stats[0].gets, 0);
    ck_assert_uint_eq(p.stats[0].puts, 0);
    ck_assert_uint_eq(p.stats[0].cached, 1); /* the cache itself is kept */
    ck_assert_uint_eq(p.cached_bytes, 256);
    pool_destroy(&p);
}
END_TEST

START_TEST(test_trim)
{
    pool_t p;
    pool_init(&p, 0, 0);
    size_t cap;
    void *a = pool_get(&p, 10, &cap);
    pool_put(&p, a, cap);
    pool_trim(&p);
    ck_assert_uint_eq(p.cached_bytes, 0);
    ck_assert_ptr_null(p.free[0]);
    pool_destroy(&p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round);
    tcase_add_test(tc, test_get_put_reuses);
    tcase_add_test(tc, test_oversize_not_cached);
    tcase_add_test(tc, test_per_class_cap);
    tcase_add_test(tc, test_total_bytes_cap);
    tcase_add_test(tc, test_grown_buffer_goes_to_new_class);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_trim);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
