/* Unit tests for resp: the request parser (inline and RESP2, split at
 * every byte, pipelined, errors and limits) and the reply encoders. */
#include "config.h"
#include "testutil.h"

#include "respbuf.h"

static pool_t pool;
static void setup(void) { pool_init(&pool, 0, 0); }
static void teardown(void) { pool_destroy(&pool); }

/* Parse all of in (copied, since inline parsing edits in place) and join
 * the commands as "arg|arg;arg;". Returns the last parse status. */
static int parse_all(const char *in, size_t n, char *out, size_t outcap, const resp_limits *lim)
{
    char *b = malloc(n + 1);
    memcpy(b, in, n);
    resp_parser p;
    resp_parser_init(&p, lim);
    out[0] = '\0';
    int rc, argc;
    while ((rc = resp_parse(&p, b, n, &argc)) == RESP_CMD) {
        for (int i = 0; i < argc; i++) {
            strncat(out, p.argv[i], p.arglen[i]);
            strncat(out, i + 1 < argc ? "|" : "", outcap - strlen(out) - 1);
        }
        strncat(out, ";", outcap - strlen(out) - 1);
    }
    if (rc == RESP_ERR)
        snprintf(out + strlen(out), outcap - strlen(out), "ERR:%s", p.err);
    resp_parser_free(&p);
    free(b);
    return rc;
}

#define P(in, out_) parse_all((in), sizeof(in) - 1, (out_), sizeof(out_), NULL)

START_TEST(test_inline)
{
    char out[512];
    ck_assert_int_eq(P("SET k v\r\nGET k\nPING\r\n", out), RESP_MORE);
    ck_assert_str_eq(out, "SET|k|v;GET|k;PING;");
    P("SET \"a b\" 'c d'\r\n   \r\n\r\nX\r\n", out);
    ck_assert_str_eq(out, "SET|a b|c d;;;X;");
    P("SET \"unbalanced\r\n", out);
    ck_assert_str_eq(out, "ERR:unbalanced quotes in request");
    P("PING", out); /* no newline yet */
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_resp)
{
    char out[512];
    ck_assert_int_eq(P("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n", out), RESP_MORE);
    ck_assert_str_eq(out, "SET|k|;PING;");
    P("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", out);
    ck_assert_str_eq(out, ";;PING;");
}
END_TEST

START_TEST(test_binary_args)
{
    const char in[] = "*2\r\n$3\r\na\0b\r\n$2\r\n\r\n\r\n";
    char *b = malloc(sizeof in);
    memcpy(b, in, sizeof in);
    resp_parser p;
    resp_parser_init(&p, NULL);
    int argc;
    ck_assert_int_eq(resp_parse(&p, b, sizeof in - 1, &argc), RESP_CMD);
    ck_assert_int_eq(argc, 2);
    ck_assert_uint_eq(p.arglen[0], 3);
    ck_assert_int_eq(memcmp(p.argv[0], "a\0b", 3), 0);
    ck_assert_int_eq(memcmp(p.argv[1], "\r\n", 2), 0);
    resp_parser_free(&p);
    free(b);
}
END_TEST

START_TEST(test_split_at_every_byte)
{
    /* Feeding the stream one more byte at a time, with the consumed prefix
     * dropped as the server does, gives the same commands. */
    const char in[] = "*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\nGET \"x y\"\r\n*1\r\n$4\r\nPING\r\n";
    size_t n = sizeof in - 1;
    char buf[256];
    size_t len = 0;
    char got[512] = "";
    resp_parser p;
    resp_parser_init(&p, NULL);
    for (size_t i = 0; i < n; i++) {
        buf[len++] = in[i];
        int argc, rc;
        while ((rc = resp_parse(&p, buf, len, &argc)) == RESP_CMD) {
            for (int a = 0; a < argc; a++) {
                strncat(got, p.argv[a], p.arglen[a]);
                strcat(got, a + 1 < argc ? "|" : ";");
            }
        }
        ck_assert_int_eq(rc, RESP_MORE);
        size_t used = p.cmd_start;
        memmove(buf, buf + used, len - used);
        len -= used;
        resp_parser_consume(&p, used);
    }
    ck_assert_str_eq(got, "SET|hello|world;GET|x y;PING;");
    ck_assert_uint_eq(len, 0);
    resp_parser_free(&p);
}
END_TEST

START_TEST(test_errors)
{
    char out[512];
    P("*x\r\n", out);
    ck_assert_str_eq(out, "ERR:invalid multibulk length");
    P("*1048577\r\n", out);
    ck_assert_str_eq(out, "ERR:invalid multibulk length");
    P("*01\r\n", out);
    ck_assert_str_eq(out, "ERR:invalid multibulk length");
    P("*1\r\n$-1\r\n", out);
    ck_assert_str_eq(out, "ERR:invalid bulk length");
    P("*1\r\n$536870913\r\n", out);
    ck_assert_str_eq(out, "ERR:invalid bulk length");
    P("*1\r\n:1\r\n", out);
    ck_assert_str_eq(out, "ERR:expected '$', got ':'");
    /* Once in error, the parser stays there. */
    resp_parser p;
    resp_parser_init(&p, NULL);
    char b[] = "*x\r\nPING\r\n";
    int argc;
    ck_assert_int_eq(resp_parse(&p, b, strlen(b), &argc), RESP_ERR);
    ck_assert_int_eq(resp_parse(&p, b, strlen(b), &argc), RESP_ERR);
    resp_parser_free(&p);
}
END_TEST

START_TEST(test_limits)
{
    resp_limits lim = {16, 8, 2, 0};
    char out[512];
    ck_assert_int_eq(parse_all("GET 0123456789abcdef\r\n", 22, out, sizeof out, &lim), RESP_ERR);
    ck_assert_str_eq(out, "ERR:too big inline request");
    ck_assert_int_eq(parse_all("GET 0123456789abcdefgh", 22, out, sizeof out, &lim), RESP_ERR);
    ck_assert_int_eq(parse_all("GET 0123456789\r\n", 16, out, sizeof out, &lim), RESP_MORE);
    ck_assert_str_eq(out, "GET|0123456789;");
    ck_assert_int_eq(parse_all("*1\r\n$9\r\n", 8, out, sizeof out, &lim), RESP_ERR);
    ck_assert_str_eq(out, "ERR:invalid bulk length");
    ck_assert_int_eq(parse_all("*3\r\n", 4, out, sizeof out, &lim), RESP_ERR);
    ck_assert_str_eq(out, "ERR:invalid multibulk length");
    char big[40];
    memset(big, '1', sizeof big);
    big[0] = '*';
    ck_assert_int_eq(parse_all(big, sizeof big, out, sizeof out, &lim), RESP_ERR);
    ck_assert_str_eq(out, "ERR:too big mbulk count string");
}
END_TEST

START_TEST(test_many_args)
{
    /* 5000 arguments: the argument arrays grow as they arrive. */
    buf_t b = BUF_INIT(&pool);
    resp_add_array(&b, 5000);
    for (int i = 0; i < 5000; i++)
        resp_add_bulk_ll(&b, i);
    resp_parser p;
    resp_parser_init(&p, NULL);
    int argc;
    ck_assert_int_eq(resp_parse(&p, b.data, b.len, &argc), RESP_CMD);
    ck_assert_int_eq(argc, 5000);
    ck_assert_int_eq(memcmp(p.argv[4999], "4999", 4), 0);
    resp_parser_free(&p);
    buf_release(&b);
}
END_TEST

/* The reply scanner: RESP3 types measured whole, malformed ones refused. */
static long long scan(const char *r)
{
    resp_scan sc;
    resp_scan_init(&sc, 0, 0);
    return resp_scan_reply(&sc, r, strlen(r));
}

START_TEST(test_resp3_replies)
{
    const char *good = "%2\r\n$1\r\na\r\n~2\r\n#t\r\n,1.5\r\n$1\r\nb\r\n>1\r\n(-12345678901234567890\r\n";
    ck_assert_int_eq(scan(good), (long long)strlen(good));
    ck_assert_int_eq(scan("_\r\n"), 3);
    ck_assert_int_eq(scan(",inf\r\n"), 6);
    ck_assert_int_eq(scan(",-1e10\r\n"), 8);
    ck_assert_int_eq(scan("=8\r\ntxt:abcd\r\n"), 14);
    ck_assert_int_eq(scan("!3\r\nERR\r\n"), 9);
    ck_assert_int_eq(scan("%1\r\n$1\r\na\r\n"), 0); /* a map's value still to come */
    static const char *const bad[] = {",abc\r\n", ",\r\n", "(\r\n", "(12x\r\n", "=4\r\ntxt-\r\n",
                                      "=3\r\ntxt\r\n", "#x\r\n", "_x\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(scan(bad[i]) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_encoders)
{
    buf_t b = BUF_INIT(&pool);
    resp_add_simple(&b, "OK");
    resp_add_error(&b, "ERR bad\r\nthing");
    resp_add_int(&b, -42);
    resp_add_bulk(&b, "a\0b", 3);
    resp_add_nil(&b);
    resp_add_array(&b, 2);
    resp_add_bulk_ll(&b, 9223372036854775807LL);
    resp_add_nil_array(&b);
    const char want[] = "+OK\r\n-ERR bad  thing\r\n:-42\r\n$3\r\na\0b\r\n$-1\r\n*2\r\n$19\r\n9223372036854775807\r\n*-1\r\n";
    ck_assert_uint_eq(b.len, sizeof want - 1);
    ck_assert_int_eq(memcmp(b.data, want, b.len), 0);
    buf_reset(&b);
    const char *argv[] = {"SET", "k", "v v"};
    resp_add_command(&b, 3, argv, NULL);
    ck_assert_int_eq(memcmp(b.data, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv v\r\n", b.len), 0);
    buf_release(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("resp");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_inline);
    tcase_add_test(tc, test_resp);
    tcase_add_test(tc, test_binary_args);
    tcase_add_test(tc, test_split_at_every_byte);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_many_args);
    tcase_add_test(tc, test_encoders);
    tcase_add_test(tc, test_resp3_replies);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
