/* Unit tests for args: Redis quoting rules, in place. */
#include "config.h"
#include "testutil.h"

#include "args.h"

#include <stdint.h>

static int split(const char *in, char out[][64], int max)
{
    static char line[1024];
    size_t n = strlen(in);
    memcpy(line, in, n);
    char *argv[32];
    size_t argvlen[32];
    int argc = args_split(line, n, argv, argvlen, max);
    for (int i = 0; i < argc; i++) {
        memcpy(out[i], argv[i], argvlen[i]);
        out[i][argvlen[i]] = 0;
    }
    return argc;
}

START_TEST(test_plain)
{
    char a[32][64];
    ck_assert_int_eq(split("SET k v", a, 32), 3);
    ck_assert_str_eq(a[0], "SET");
    ck_assert_str_eq(a[2], "v");
    ck_assert_int_eq(split("   \t  ", a, 32), 0);
    ck_assert_int_eq(split("  get   key  ", a, 32), 2);
    ck_assert_str_eq(a[1], "key");
}
END_TEST

START_TEST(test_double_quotes)
{
    char a[32][64];
    ck_assert_int_eq(split("set \"hello world\" \"a\\nb\\x41\\x4a\\\"\"", a, 32), 3);
    ck_assert_str_eq(a[1], "hello world");
    ck_assert_str_eq(a[2], "a\nbAJ\"");
    ck_assert_int_eq(split("set \"\" x", a, 32), 3);
    ck_assert_str_eq(a[1], "");
    /* \x with bad hex digits is just an escaped 'x'. */
    ck_assert_int_eq(split("\"\\xzz\"", a, 32), 1);
    ck_assert_str_eq(a[0], "xzz");
}
END_TEST

START_TEST(test_single_quotes)
{
    char a[32][64];
    ck_assert_int_eq(split("set 'it\\'s' '\\n'", a, 32), 3);
    ck_assert_str_eq(a[1], "it's");
    ck_assert_str_eq(a[2], "\\n");
}
END_TEST

START_TEST(test_errors)
{
    char a[32][64];
    ck_assert_int_eq(split("set \"unterminated", a, 32), ARGS_ERR_QUOTES);
    ck_assert_int_eq(split("set 'unterminated", a, 32), ARGS_ERR_QUOTES);
    ck_assert_int_eq(split("set \"a\"b", a, 32), ARGS_ERR_QUOTES);
    ck_assert_int_eq(split("a b c", a, 2), ARGS_ERR_TOOMANY);
}
END_TEST

/* args_quote and args_split are inverses, for any bytes: what CONFIG
 * REWRITE and `user` lines from the command line write is read back as
 * it was (passwords with any byte included). */
START_TEST(test_quote_round_trip)
{
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char in[64];
        size_t n = (size_t)(iter % 65);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            in[i] = (unsigned char)(x >> 24);
        }
        char q[4 * 64 + 3];
        size_t qn = args_quote(q, in, n);
        ck_assert_uint_le(qn, 4 * n + 2);
        q[qn] = '\0';
        char *argv[4];
        size_t lens[4];
        int argc = args_split(q, qn, argv, lens, 4);
        ck_assert_int_eq(argc, 1);
        ck_assert_uint_eq(lens[0], n);
        ck_assert(n == 0 || memcmp(argv[0], in, n) == 0);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("args");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_double_quotes);
    tcase_add_test(tc, test_single_quotes);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_quote_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
