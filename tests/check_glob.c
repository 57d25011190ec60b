/* Unit tests for glob: the patterns KEYS and SCAN MATCH accept. */
#include "config.h"
#include "testutil.h"

#include "glob.h"

static int m(const char *p, const char *s)
{
    return glob_match(p, strlen(p), s, strlen(s), 0);
}

START_TEST(test_basic)
{
    /* An empty string matches only the empty pattern, as in Redis (which
     * special-cases a lone "*" in KEYS and SCAN, as kvd's callers do). */
    ck_assert(!m("*", ""));
    ck_assert(!m("**", ""));
    ck_assert(m("", ""));
    ck_assert(!m("", "a"));
    ck_assert(m("a*", "a"));
    ck_assert(m("a**", "a"));
    ck_assert(m("*", "anything"));
    ck_assert(m("h?llo", "hello"));
    ck_assert(!m("h?llo", "hllo"));
    ck_assert(m("h*llo", "heeeello"));
    ck_assert(m("h[ae]llo", "hallo"));
    ck_assert(!m("h[ae]llo", "hillo"));
    ck_assert(m("h[^e]llo", "hallo"));
    ck_assert(!m("h[^e]llo", "hello"));
    ck_assert(m("h[a-b]llo", "hbllo"));
    ck_assert(!m("h[a-b]llo", "hcllo"));
    ck_assert(m("user:*:name", "user:42:name"));
    ck_assert(!m("user:*:name", "user:42:names"));
    ck_assert(m("a\\*b", "a*b"));
    ck_assert(!m("a\\*b", "axb"));
    ck_assert(m("*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
    ck_assert(!m("*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    ck_assert(glob_match("APPEND*", 7, "appendfsync", 11, 1));
    ck_assert(!glob_match("APPEND*", 7, "appendfsync", 11, 0));
    ck_assert(glob_match("a?c", 3, "a\0c", 3, 0));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("glob");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_basic);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
