/* Tests for libkvdclient against a live server. tests/integration/client.sh
 * starts the servers and runs this, once against kvd and, when it is
 * installed, once against a real Redis:
 *   KVD_PORT       the server under test (127.0.0.1)
 *   KVD_AUTH_PORT  the same kind of server with requirepass "pw"
 *   KVD_SOCK       its unix socket (optional)
 *   KVD_RESTART    a shell command that restarts the server on KVD_PORT
 * tests/integration/tls.sh runs only the "tls" case, with:
 *   KVD_PORT             a kvd's plain port
 *   KVD_TLS_PORT         the same kvd's tls-port (tls-auth-clients optional)
 *   KVD_TLS_STRICT_PORT  another kvd's tls-port, with tls-auth-clients yes
 *   KVD_TLS_DIR          ca.crt (signed both servers' certificates),
 *                        client.crt and client.key (signed by ca.crt), and
 *                        other-ca.crt (a CA that signed nothing here) */
#include "config.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <kvd/client.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

static int port, auth_port, tls_port, tls_strict_port;
static const char *tls_dir;

static kvd_context *conn(void)
{
    kvd_options o = {.connect_timeout_ms = 2000, .command_timeout_ms = 10000};
    kvd_context *c = kvd_connect("127.0.0.1", port, &o);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(c->err == 0, "connect: %s", c->errstr);
    return c;
}

static kvd_reply *cmd(kvd_context *c, const char *fmt)
{
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, fmt), KVD_OK);
    return r;
}

START_TEST(test_reply_types)
{
    kvd_context *c = conn();
    kvd_reply *r = cmd(c, "SET rt:s hello");
    ck_assert_int_eq(r->type, KVD_REPLY_STATUS);
    ck_assert_str_eq(r->str, "OK");
    kvd_reply_free(r);
    r = cmd(c, "INCR rt:s");
    ck_assert_int_eq(r->type, KVD_REPLY_ERROR);
    ck_assert_str_eq(r->str, "ERR value is not an integer or out of range");
    ck_assert_int_eq(c->err, 0); /* an error reply is not a failed call */
    kvd_reply_free(r);
    r = cmd(c, "STRLEN rt:s");
    ck_assert_int_eq(r->type, KVD_REPLY_INTEGER);
    ck_assert_int_eq(r->integer, 5);
    kvd_reply_free(r);
    r = cmd(c, "GET rt:s");
    ck_assert_int_eq(r->type, KVD_REPLY_BULK);
    ck_assert_uint_eq(r->len, 5);
    ck_assert_str_eq(r->str, "hello");
    kvd_reply_free(r);
    r = cmd(c, "GET rt:nosuch");
    ck_assert_int_eq(r->type, KVD_REPLY_NIL);
    kvd_reply_free(r);
    r = cmd(c, "KEYS rt:nomatch*");
    ck_assert_int_eq(r->type, KVD_REPLY_ARRAY);
    ck_assert_uint_eq(r->elements, 0);
    kvd_reply_free(r);
    /* Nested arrays: COMMAND INFO gives arrays inside arrays. */
    r = cmd(c, "COMMAND INFO get");
    ck_assert_int_eq(r->type, KVD_REPLY_ARRAY);
    ck_assert_uint_eq(r->elements, 1);
    ck_assert_int_eq(r->element[0]->type, KVD_REPLY_ARRAY);
    ck_assert_str_eq(r->element[0]->element[0]->str, "get");
    ck_assert_int_eq(r->element[0]->element[1]->integer, 2);
    ck_assert_int_eq(r->element[0]->element[2]->type, KVD_REPLY_ARRAY);
    kvd_reply_free(r);
    r = cmd(c, "COMMAND INFO nosuchcommand");
    ck_assert_int_eq(r->type, KVD_REPLY_ARRAY);
    ck_assert_int_eq(r->element[0]->type, KVD_REPLY_NIL);
    kvd_reply_free(r);
    kvd_free(c);
}
END_TEST

START_TEST(test_binary_and_large_values)
{
    kvd_context *c = conn();
    const char bin[] = "a\0b\r\n\xff\x00z";
    ck_assert_int_eq(kvd_set(c, "bin\0key", 7, bin, sizeof bin, 0), KVD_OK);
    char *v;
    size_t n;
    ck_assert_int_eq(kvd_get(c, "bin\0key", 7, &v, &n), KVD_OK);
    ck_assert_uint_eq(n, sizeof bin);
    ck_assert_int_eq(memcmp(v, bin, n), 0);
    free(v);
    size_t big = 1 << 20;
    char *b = malloc(big);
    for (size_t i = 0; i < big; i++)
        b[i] = (char)(i * 2654435761u >> 13);
    ck_assert_int_eq(kvd_set(c, "big", 3, b, big, 0), KVD_OK);
    ck_assert_int_eq(kvd_get(c, "big", 3, &v, &n), KVD_OK);
    ck_assert_uint_eq(n, big);
    ck_assert_int_eq(memcmp(v, b, big), 0);
    ck_assert_int_eq(v[big], '\0');
    free(v);
    free(b);
    ck_assert_int_eq(kvd_get(c, "nosuch", 6, &v, &n), KVD_OK);
    ck_assert_ptr_null(v);
    kvd_free(c);
}
END_TEST

START_TEST(test_format)
{
    kvd_context *c = conn();
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, "SET fmt:%d:%s %b", 7, "x", "v\0w", (size_t)3), KVD_OK);
    kvd_reply_free(r);
    ck_assert_int_eq(kvd_command(c, &r, "GET fmt:7:x"), KVD_OK);
    ck_assert_uint_eq(r->len, 3);
    ck_assert_int_eq(memcmp(r->str, "v\0w", 3), 0);
    kvd_reply_free(r);
    ck_assert_int_eq(kvd_command(c, &r, "SET fmt:n %lld%%", 123456789012LL), KVD_OK);
    kvd_reply_free(r);
    ck_assert_int_eq(kvd_command(c, &r, "GET   fmt:n  "), KVD_OK);
    ck_assert_str_eq(r->str, "123456789012%");
    kvd_reply_free(r);
    ck_assert_int_eq(kvd_command(c, &r, "SET fmt:e %s", ""), KVD_OK); /* empty argument */
    kvd_reply_free(r);
    ck_assert_int_eq(kvd_command(c, &r, "STRLEN fmt:e"), KVD_OK);
    ck_assert_int_eq(r->integer, 0);
    kvd_reply_free(r);
    ck_assert_int_eq(kvd_command(c, &r, "GET %q"), KVD_ERR_ARG);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(kvd_command(c, &r, "   "), KVD_ERR_ARG);
    /* The connection is still fine after an argument error. */
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_OK);
    ck_assert_str_eq(r->str, "PONG");
    kvd_reply_free(r);
    kvd_free(c);
}
END_TEST

START_TEST(test_typed_helpers)
{
    kvd_context *c = conn();
    kvd_del(c, 1, (const void *[]){"th:n"}, (size_t[]){4}, NULL);
    long long v;
    ck_assert_int_eq(kvd_incr(c, "th:n", 4, 5, &v), KVD_OK);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(kvd_incr(c, "th:n", 4, -7, &v), KVD_OK);
    ck_assert_int_eq(v, -2);
    int ex;
    ck_assert_int_eq(kvd_exists(c, "th:n", 4, &ex), KVD_OK);
    ck_assert_int_eq(ex, 1);
    int64_t ttl;
    ck_assert_int_eq(kvd_ttl(c, "th:n", 4, &ttl), KVD_OK);
    ck_assert_int_eq(ttl, -1);
    int applied;
    ck_assert_int_eq(kvd_expire(c, "th:n", 4, 100000, &applied), KVD_OK);
    ck_assert_int_eq(applied, 1);
    ck_assert_int_eq(kvd_ttl(c, "th:n", 4, &ttl), KVD_OK);
    ck_assert(ttl > 90000 && ttl <= 100000);
    ck_assert_int_eq(kvd_set(c, "th:t", 4, "x", 1, 50000), KVD_OK);
    ck_assert_int_eq(kvd_ttl(c, "th:t", 4, &ttl), KVD_OK);
    ck_assert(ttl > 40000 && ttl <= 50000);
    ck_assert_int_eq(kvd_ttl(c, "th:none", 7, &ttl), KVD_OK);
    ck_assert_int_eq(ttl, -2);
    ck_assert_int_eq(kvd_expire(c, "th:none", 7, 1000, &applied), KVD_OK);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(kvd_set(c, "th:t", 4, "x", 1, -5), KVD_ERR_ARG);

    const void *keys[] = {"th:a", "th:b", "th:c"};
    size_t klens[] = {4, 4, 4};
    const void *vals[] = {"1", "22", "333"};
    size_t vlens[] = {1, 2, 3};
    ck_assert_int_eq(kvd_mset(c, 3, keys, klens, vals, vlens), KVD_OK);
    kvd_reply *r;
    const void *mk[] = {"th:a", "th:missing", "th:c"};
    size_t mkl[] = {4, 10, 4};
    ck_assert_int_eq(kvd_mget(c, 3, mk, mkl, &r), KVD_OK);
    ck_assert_uint_eq(r->elements, 3);
    ck_assert_str_eq(r->element[0]->str, "1");
    ck_assert_int_eq(r->element[1]->type, KVD_REPLY_NIL);
    ck_assert_str_eq(r->element[2]->str, "333");
    kvd_reply_free(r);
    long long deleted;
    ck_assert_int_eq(kvd_del(c, 3, mk, mkl, &deleted), KVD_OK);
    ck_assert_int_eq(deleted, 2);
    ck_assert_int_eq(kvd_exists(c, "th:a", 4, &ex), KVD_OK);
    ck_assert_int_eq(ex, 0);

    /* A server error through a typed helper: KVD_ERR_SERVER and the text. */
    ck_assert_int_eq(kvd_set(c, "th:s", 4, "abc", 3, 0), KVD_OK);
    ck_assert_int_eq(kvd_incr(c, "th:s", 4, 1, &v), KVD_ERR_SERVER);
    ck_assert_int_eq(c->err, KVD_ERR_SERVER);
    ck_assert_str_eq(c->errstr, "ERR value is not an integer or out of range");
    ck_assert_int_eq(kvd_exists(c, "th:s", 4, &ex), KVD_OK); /* still usable */
    ck_assert_int_eq(c->err, 0);
    kvd_free(c);
}
END_TEST

START_TEST(test_scan_iterator)
{
    kvd_context *c = conn();
    for (int i = 0; i < 3000; i++)
        ck_assert_int_eq(kvd_append(c, "SET scan:%d x", i), KVD_OK);
    for (int i = 0; i < 3000; i++) {
        kvd_reply *r;
        ck_assert_int_eq(kvd_get_reply(c, &r), KVD_OK);
        kvd_reply_free(r);
    }
    unsigned char *seen = calloc(3000, 1);
    kvd_scan *s = kvd_scan_new(c, "scan:*", 100);
    const char *k;
    size_t kl;
    int rc, n = 0;
    while ((rc = kvd_scan_next(s, &k, &kl)) == 1) {
        char tmp[32];
        ck_assert_uint_lt(kl, sizeof tmp);
        memcpy(tmp, k, kl);
        tmp[kl] = 0;
        int i = atoi(tmp + 5);
        ck_assert(i >= 0 && i < 3000);
        seen[i] = 1;
        n++;
    }
    ck_assert_int_eq(rc, 0);
    kvd_scan_free(s);
    for (int i = 0; i < 3000; i++)
        ck_assert_msg(seen[i], "scan missed scan:%d", i);
    ck_assert_int_ge(n, 3000);
    free(seen);
    kvd_free(c);
}
END_TEST

START_TEST(test_pipeline_100k)
{
    kvd_context *c = conn();
    const int n = 100000;
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(kvd_append(c, "SET pipe:%d %d", i, i), KVD_OK);
    ck_assert_uint_eq(kvd_pending(c), (size_t)n);
    for (int i = 0; i < n; i++) {
        kvd_reply *r;
        ck_assert_int_eq(kvd_get_reply(c, &r), KVD_OK);
        ck_assert_int_eq(r->type, KVD_REPLY_STATUS);
        kvd_reply_free(r);
    }
    ck_assert_uint_eq(kvd_pending(c), 0);
    /* Reads, interleaved: replies come back in order. */
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(kvd_append(c, "GET pipe:%d", i), KVD_OK);
    for (int i = 0; i < n; i++) {
        kvd_reply *r;
        ck_assert_int_eq(kvd_get_reply(c, &r), KVD_OK);
        ck_assert_int_eq(atoi(r->str), i);
        kvd_reply_free(r);
    }
    kvd_reply *r;
    ck_assert_int_eq(kvd_get_reply(c, &r), KVD_ERR_ARG); /* nothing pending */
    /* Memory stays bounded: at most the commands not yet sent and the
     * replies not yet read (a few MB here). Sanitizers keep freed memory
     * in quarantine and valgrind counts itself, so the figure means
     * nothing under them. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
#ifndef __SANITIZE_ADDRESS__
    if (!getenv("KVD_UNDER_VALGRIND"))
        ck_assert_msg(ru.ru_maxrss < 64 * 1024, "max RSS %ld KiB", ru.ru_maxrss);
#endif
    fprintf(stderr, "pipeline of 100k: max RSS %ld KiB\n", ru.ru_maxrss);
    kvd_free(c);
}
END_TEST

START_TEST(test_timeout_on_silent_server)
{
    /* A listener that accepts (the kernel does it) and never answers. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 8), 0);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    kvd_options o = {.connect_timeout_ms = 1000, .command_timeout_ms = 300};
    kvd_context *c = kvd_connect("127.0.0.1", ntohs(a.sin_port), &o);
    ck_assert_int_eq(c->err, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1000 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    /* Not before the 300 ms; the upper bound only tells a timeout from a
     * hang, with room for a loaded machine (or valgrind) to be slow. */
    ck_assert_msg(ms >= 250 && ms < 10000, "timeout took %.0f ms", ms);
    ck_assert_int_eq(c->err, KVD_ERR_TIMEOUT);
    ck_assert_str_eq(kvd_err_name(c->err), "KVD_ERR_TIMEOUT");
    /* The connection is dead until reconnected. */
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_ERR_TIMEOUT);
    ck_assert_int_eq(kvd_fd(c), -1);
    kvd_free(c);
    close(l);
}
END_TEST

START_TEST(test_connect_refused)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(l, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    close(l); /* nothing listens there now */
    kvd_context *c = kvd_connect("127.0.0.1", ntohs(a.sin_port), NULL);
    ck_assert_int_eq(c->err, KVD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(c->errstr, "refused"));
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_ERR_IO);
    kvd_free(c);
    ck_assert_str_eq(kvd_strerror(KVD_ERR_OOM), "out of memory");
    ck_assert_str_eq(kvd_strerror(0), "success");
}
END_TEST

START_TEST(test_restart_and_reconnect)
{
    const char *restart = getenv("KVD_RESTART");
    kvd_context *c = conn();
    ck_assert_int_eq(kvd_set(c, "rs:k", 4, "kept", 4, 0), KVD_OK);
    ck_assert_int_eq(system(restart), 0);
    char *v;
    size_t n;
    int rc = kvd_get(c, "rs:k", 4, &v, &n);
    ck_assert_msg(rc == KVD_ERR_EOF || rc == KVD_ERR_IO, "after a restart: %s", kvd_err_name(rc));
    ck_assert_int_eq(kvd_get(c, "rs:k", 4, &v, &n), rc); /* sticky */
    ck_assert_int_eq(kvd_reconnect(c), KVD_OK);
    ck_assert_int_eq(c->err, 0);
    ck_assert_int_eq(kvd_get(c, "rs:k", 4, &v, &n), KVD_OK);
    ck_assert_str_eq(v, "kept");
    free(v);
    kvd_free(c);
}
END_TEST

START_TEST(test_auth)
{
    kvd_options bad = {.password = "wrong"};
    kvd_context *c = kvd_connect("127.0.0.1", auth_port, &bad);
    ck_assert_int_eq(c->err, KVD_ERR_SERVER);
    ck_assert_ptr_nonnull(strstr(c->errstr, "WRONGPASS"));
    kvd_free(c);
    c = kvd_connect("127.0.0.1", auth_port, NULL);
    ck_assert_int_eq(c->err, 0);
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, "GET x"), KVD_OK);
    ck_assert_int_eq(r->type, KVD_REPLY_ERROR);
    ck_assert_ptr_nonnull(strstr(r->str, "NOAUTH"));
    kvd_reply_free(r);
    kvd_free(c);
    kvd_options good = {.username = "default", .password = "pw"};
    c = kvd_connect("127.0.0.1", auth_port, &good);
    ck_assert_msg(c->err == 0, "%s", c->errstr);
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_OK);
    ck_assert_str_eq(r->str, "PONG");
    kvd_reply_free(r);
    /* AUTH is repeated on reconnect. */
    ck_assert_int_eq(kvd_reconnect(c), KVD_OK);
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_OK);
    ck_assert_str_eq(r->str, "PONG");
    kvd_reply_free(r);
    kvd_free(c);
}
END_TEST

START_TEST(test_unix_socket)
{
    const char *path = getenv("KVD_SOCK");
    kvd_context *c = kvd_connect_unix(path, NULL);
    ck_assert_msg(c->err == 0, "%s", c->errstr);
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_OK);
    ck_assert_str_eq(r->str, "PONG");
    kvd_reply_free(r);
    kvd_free(c);
}
END_TEST

/* ------------------------------------------------------------------ TLS */

/* A file in KVD_TLS_DIR (one of four static buffers, for one call). */
static const char *tls_file(const char *name)
{
    static char paths[4][4096];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 4096, "%s/%s", tls_dir, name);
    return p;
}

static kvd_context *tls_conn(int p, const kvd_tls_options *t)
{
    kvd_options o = {.connect_timeout_ms = 10000, .command_timeout_ms = 10000};
    kvd_context *c = kvd_connect_tls("127.0.0.1", p, &o, t);
    ck_assert_ptr_nonnull(c);
    return c;
}

START_TEST(test_tls_verified_and_shared)
{
    kvd_tls_options t = {.cacert = tls_file("ca.crt")};
    kvd_context *c = tls_conn(tls_port, &t);
    ck_assert_msg(c->err == 0, "connect: %s", c->errstr);
    ck_assert_int_eq(kvd_set(c, "tls:k", 5, "over tls", 8, 0), KVD_OK);
    /* The plain port serves the same data. */
    kvd_context *plain = conn();
    char *v;
    size_t n;
    ck_assert_int_eq(kvd_get(plain, "tls:k", 5, &v, &n), KVD_OK);
    ck_assert_str_eq(v, "over tls");
    free(v);
    ck_assert_int_eq(kvd_set(plain, "tls:p", 5, "plain", 5, 0), KVD_OK);
    ck_assert_int_eq(kvd_get(c, "tls:p", 5, &v, &n), KVD_OK);
    ck_assert_str_eq(v, "plain");
    free(v);
    kvd_free(plain);
    /* A value of many records, both ways. */
    size_t big = 3 * 1024 * 1024 + 7;
    char *val = malloc(big);
    for (size_t i = 0; i < big; i++)
        val[i] = (char)(i * 7 + i / 4096);
    ck_assert_int_eq(kvd_set(c, "tls:big", 7, val, big, 0), KVD_OK);
    ck_assert_int_eq(kvd_get(c, "tls:big", 7, &v, &n), KVD_OK);
    ck_assert_uint_eq(n, big);
    ck_assert(memcmp(v, val, big) == 0);
    free(v);
    free(val);
    /* A long pipeline: the socket fills both ways while TLS records flow. */
    ck_assert_int_eq(kvd_set(c, "tls:n", 5, "0", 1, 0), KVD_OK);
    int count = getenv("KVD_UNDER_VALGRIND") ? 5000 : 50000;
    for (int i = 0; i < count; i++)
        ck_assert_int_eq(kvd_append(c, "INCR tls:n"), KVD_OK);
    for (int i = 0; i < count; i++) {
        kvd_reply *r;
        ck_assert_int_eq(kvd_get_reply(c, &r), KVD_OK);
        ck_assert_int_eq(r->integer, i + 1);
        kvd_reply_free(r);
    }
    /* A reconnect does the handshake again. */
    ck_assert_int_eq(kvd_reconnect(c), KVD_OK);
    ck_assert_int_eq(kvd_get(c, "tls:n", 5, &v, &n), KVD_OK);
    ck_assert_int_eq(atoi(v), count);
    free(v);
    kvd_free(c);
}
END_TEST

START_TEST(test_tls_untrusted_server_refused)
{
    kvd_tls_options t = {.cacert = tls_file("other-ca.crt")};
    kvd_context *c = tls_conn(tls_port, &t);
    ck_assert_int_eq(c->err, KVD_ERR_TLS);
    ck_assert_str_eq(kvd_err_name(c->err), "KVD_ERR_TLS");
    ck_assert_msg(strstr(c->errstr, "certificate verify failed"), "%s", c->errstr);
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_ERR_TLS); /* sticky */
    ck_assert_int_eq(kvd_fd(c), -1);
    kvd_free(c);
    /* The right CA, but not the name the certificate is for. */
    kvd_tls_options named = {.cacert = tls_file("ca.crt"), .server_name = "db.example.com"};
    c = tls_conn(tls_port, &named);
    ck_assert_int_eq(c->err, KVD_ERR_TLS);
    ck_assert_msg(strstr(c->errstr, "mismatch"), "%s", c->errstr);
    kvd_free(c);
    /* Its DNS name is fine. */
    kvd_tls_options local = {.cacert = tls_file("ca.crt"), .server_name = "localhost"};
    c = tls_conn(tls_port, &local);
    ck_assert_msg(c->err == 0, "%s", c->errstr);
    kvd_free(c);
    /* insecure: no check at all. */
    kvd_tls_options any = {.cacert = tls_file("other-ca.crt"), .insecure = 1};
    c = tls_conn(tls_port, &any);
    ck_assert_msg(c->err == 0, "%s", c->errstr);
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_OK);
    ck_assert_str_eq(r->str, "PONG");
    kvd_reply_free(r);
    kvd_free(c);
    /* Files that do not load say which. */
    kvd_tls_options missing = {.cacert = tls_file("nosuch.crt")};
    c = tls_conn(tls_port, &missing);
    ck_assert_int_eq(c->err, KVD_ERR_TLS);
    ck_assert_msg(strstr(c->errstr, "nosuch.crt"), "%s", c->errstr);
    kvd_free(c);
}
END_TEST

START_TEST(test_tls_client_certificate)
{
    /* tls-auth-clients yes, no certificate: refused, at the handshake or
     * (TLS 1.3, where the client finishes first) at the first reply. */
    kvd_tls_options t = {.cacert = tls_file("ca.crt")};
    kvd_context *c = tls_conn(tls_strict_port, &t);
    int rc = c->err;
    if (rc == 0) {
        kvd_reply *r;
        rc = kvd_command(c, &r, "PING");
        if (rc == KVD_OK)
            kvd_reply_free(r);
    }
    ck_assert_msg(rc == KVD_ERR_TLS || rc == KVD_ERR_EOF || rc == KVD_ERR_IO, "without a certificate: %s (%s)",
                  kvd_err_name(rc), c->errstr);
    if (rc == KVD_ERR_TLS)
        ck_assert_msg(strstr(c->errstr, "certificate"), "%s", c->errstr);
    kvd_free(c);
    /* With one signed by the CA kvd trusts. */
    kvd_tls_options mine = {.cacert = tls_file("ca.crt"), .cert = tls_file("client.crt"), .key = tls_file("client.key")};
    c = tls_conn(tls_strict_port, &mine);
    ck_assert_msg(c->err == 0, "%s", c->errstr);
    kvd_reply *r;
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_OK);
    ck_assert_str_eq(r->str, "PONG");
    kvd_reply_free(r);
    kvd_free(c);
    /* tls-auth-clients optional: without one is fine too. */
    c = tls_conn(tls_port, &t);
    ck_assert_msg(c->err == 0, "%s", c->errstr);
    ck_assert_int_eq(kvd_command(c, &r, "PING"), KVD_OK);
    kvd_reply_free(r);
    kvd_free(c);
    /* A key that is not the certificate's. */
    kvd_tls_options wrong = {.cacert = tls_file("ca.crt"), .cert = tls_file("client.crt"), .key = tls_file("other-ca.key")};
    c = tls_conn(tls_strict_port, &wrong);
    ck_assert_int_eq(c->err, KVD_ERR_TLS);
    ck_assert_msg(strstr(c->errstr, "other-ca.key"), "%s", c->errstr);
    kvd_free(c);
}
END_TEST

START_TEST(test_tls_handshake_timeout)
{
    /* A listener that accepts (the kernel does it) and never answers the
     * ClientHello: the handshake is bounded by the connect timeout. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 8), 0);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    kvd_options o = {.connect_timeout_ms = 300, .command_timeout_ms = 300};
    kvd_tls_options t = {.cacert = tls_file("ca.crt")};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kvd_context *c = kvd_connect_tls("127.0.0.1", ntohs(a.sin_port), &o, &t);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1000 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert_int_eq(c->err, KVD_ERR_TIMEOUT);
    ck_assert_msg(ms >= 250 && ms < 10000, "the handshake timed out after %.0f ms", ms);
    kvd_free(c);
    close(l);
    /* TLS to the plain port fails (kvd takes the ClientHello for a
     * request), within the timeout and without hanging. */
    c = kvd_connect_tls("127.0.0.1", port, &o, &t);
    ck_assert_int_ne(c->err, 0);
    kvd_free(c);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tls_verified_and_shared);
    tcase_add_test(tc, test_tls_untrusted_server_refused);
    tcase_add_test(tc, test_tls_client_certificate);
    tcase_add_test(tc, test_tls_handshake_timeout);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reply_types);
    tcase_add_test(tc, test_binary_and_large_values);
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_typed_helpers);
    tcase_add_test(tc, test_scan_iterator);
    tcase_add_test(tc, test_pipeline_100k);
    tcase_add_test(tc, test_timeout_on_silent_server);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_auth);
    tcase_add_test(tc, test_unix_socket);
    tcase_add_test(tc, test_restart_and_reconnect);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (getenv("KVD_TLS_PORT")) {
        const char *need[] = {"KVD_PORT", "KVD_TLS_STRICT_PORT", "KVD_TLS_DIR"};
        for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
            if (!getenv(need[i]) || !*getenv(need[i])) {
                fprintf(stderr, "check_client needs %s with KVD_TLS_PORT (see tests/integration/tls.sh)\n", need[i]);
                return EXIT_FAILURE;
            }
        }
        port = atoi(getenv("KVD_PORT"));
        tls_port = atoi(getenv("KVD_TLS_PORT"));
        tls_strict_port = atoi(getenv("KVD_TLS_STRICT_PORT"));
        tls_dir = getenv("KVD_TLS_DIR");
        SRunner *sr = srunner_create(tls_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    /* Every test runs, or none: the servers come from client.sh. */
    const char *need[] = {"KVD_PORT", "KVD_AUTH_PORT", "KVD_SOCK", "KVD_RESTART"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
        if (!getenv(need[i]) || !*getenv(need[i])) {
            fprintf(stderr, "check_client needs %s (run it through tests/integration/client.sh): skipped\n", need[i]);
            return 77;
        }
    }
    port = atoi(getenv("KVD_PORT"));
    auth_port = atoi(getenv("KVD_AUTH_PORT"));
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
