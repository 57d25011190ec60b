/* Unit tests for buf: binary safety, printf, reset, consume, release. */
#include "config.h"
#include "testutil.h"
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static pool_t pool;

static void setup(void) { pool_init(&pool, 0, 0); }
static void teardown(void) { pool_destroy(&pool); }

START_TEST(test_binary_safe)
{
    buf_t b = BUF_INIT(&pool);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    buf_append(&b, all, sizeof all);
    buf_append(&b, all, sizeof all);
    ck_assert_uint_eq(b.len, 512);
    ck_assert_int_eq(memcmp(b.data, all, 256), 0);
    ck_assert_int_eq(memcmp(b.data + 256, all, 256), 0);
    buf_release(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_printf)
{
    buf_t b = BUF_INIT(&pool);
    buf_appendf(&b, "%s=%d", "x", 42);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_int_eq(memcmp(b.data, "x=42", 4), 0);
    /* Longer than the current capacity. */
    char big[1000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_appendf(&b, "[%s]", big);
    ck_assert_uint_eq(b.len, 4 + 1001);
    ck_assert_int_eq(b.data[4], '[');
    ck_assert_int_eq(b.data[b.len - 1], ']');
    buf_release(&b);
}
END_TEST

START_TEST(test_reset_keeps_capacity)
{
    buf_t b = BUF_INIT(&pool);
    buf_append(&b, "hello", 5);
    char *data = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, cap);
    buf_append(&b, "again", 5);
    ck_assert_ptr_eq(b.data, data);
    buf_release(&b);
}
END_TEST

START_TEST(test_consume)
{
    buf_t b = BUF_INIT(&pool);
    buf_append(&b, "abcdef", 6);
    buf_consume(&b, 2);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_int_eq(memcmp(b.data, "cdef", 4), 0);
    buf_consume(&b, 10);
    ck_assert_uint_eq(b.len, 0);
    buf_release(&b);
}
END_TEST

START_TEST(test_huge_growth)
{
    buf_t b = BUF_INIT(&pool);
    char *chunk = malloc(100000);
    memset(chunk, 'z', 100000);
    for (int i = 0; i < 30; i++)
        buf_append(&b, chunk, 100000);
    ck_assert_uint_eq(b.len, 3000000);
    ck_assert_int_eq(b.data[2999999], 'z');
    buf_release(&b);
    /* Oversized storage is never cached. */
    ck_assert_uint_le(pool.cached_bytes, POOL_MAX_SIZE * 2);
    free(chunk);
}
END_TEST

START_TEST(test_detach)
{
    buf_t b = BUF_INIT(&pool);
    buf_puts(&b, "abc");
    size_t len, cap;
    char *p = buf_detach(&b, &len, &cap);
    ck_assert_uint_eq(len, 3);
    ck_assert_ptr_null(b.data);
    pool_put(&pool, p, cap);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_binary_safe);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_reset_keeps_capacity);
    tcase_add_test(tc, test_consume);
    tcase_add_test(tc, test_huge_growth);
    tcase_add_test(tc, test_detach);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
