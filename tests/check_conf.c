/* Unit tests for conf: defaults, file syntax, units, bounds, errors. */
#include "config.h"
#include "testutil.h"

#include "buf.h"
#include "conf.h"
#include "wal.h"

START_TEST(test_defaults)
{
    kvd_config c;
    conf_init(&c);
    ck_assert_str_eq(c.dir, "./data");
    ck_assert_int_eq(c.appendfsync, WAL_SYNC_EVERYSEC);
    ck_assert_int_eq(c.pool_max_bytes, 32LL << 20);
    conf_free(&c);
}
END_TEST

START_TEST(test_file_text)
{
    kvd_config c;
    conf_init(&c);
    char text[] = "# comment\n"
                  "\n"
                  "   dir \"/tmp/with space\"  \r\n"
                  "APPENDFSYNC always\n"
                  "pool-max-cached-bytes 1mb\n";
    char err[256];
    ck_assert_int_eq(conf_load_text(&c, text, strlen(text), "t", err, sizeof err), 0);
    ck_assert_str_eq(c.dir, "/tmp/with space");
    ck_assert_int_eq(c.appendfsync, WAL_SYNC_ALWAYS);
    ck_assert_int_eq(c.pool_max_bytes, 1 << 20);
    conf_free(&c);
}
END_TEST

START_TEST(test_errors_name_the_line)
{
    kvd_config c;
    conf_init(&c);
    char err[256];
    char t1[] = "dir x\nbogus 1\n";
    ck_assert_int_eq(conf_load_text(&c, t1, strlen(t1), "f.conf", err, sizeof err), -1);
    ck_assert_str_eq(err, "f.conf line 2: unknown directive 'bogus'");
    char t2[] = "appendfsync sometimes\n";
    ck_assert_int_eq(conf_load_text(&c, t2, strlen(t2), "f.conf", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "line 1"));
    ck_assert_ptr_nonnull(strstr(err, "no, everysec, always"));
    char t3[] = "pool-max-buffers-per-class 0\n";
    ck_assert_int_eq(conf_load_text(&c, t3, strlen(t3), "f.conf", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "between 1 and"));
    char t4[] = "dir \"unbalanced\n";
    ck_assert_int_eq(conf_load_text(&c, t4, strlen(t4), "f.conf", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "unbalanced quotes"));
    char t5[] = "dir a b\n";
    ck_assert_int_eq(conf_load_text(&c, t5, strlen(t5), "f.conf", err, sizeof err), -1);
    conf_free(&c);
}
END_TEST

START_TEST(test_memory_units)
{
    long long v;
    ck_assert_int_eq(conf_parse_memory("100", &v), 0);
    ck_assert_int_eq(v, 100);
    ck_assert_int_eq(conf_parse_memory("1k", &v), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(conf_parse_memory("1KB", &v), 0);
    ck_assert_int_eq(v, 1024);
    ck_assert_int_eq(conf_parse_memory("2gb", &v), 0);
    ck_assert_int_eq(v, 2LL << 30);
    ck_assert_int_eq(conf_parse_memory("5m", &v), 0);
    ck_assert_int_eq(v, 5000000);
    ck_assert_int_eq(conf_parse_memory("1tb", &v), -1);
    ck_assert_int_eq(conf_parse_memory("x", &v), -1);
    ck_assert_int_eq(conf_parse_memory("", &v), -1);
}
END_TEST

START_TEST(test_runtime_and_get)
{
    kvd_config c;
    conf_init(&c);
    char err[256];
    char *v[] = {"no"};
    ck_assert_int_eq(conf_set(&c, "appendfsync", 1, v, 1, err, sizeof err), 0);
    char *d[] = {"/x"};
    ck_assert_int_eq(conf_set(&c, "dir", 1, d, 1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "immutable"));
    pool_t p;
    pool_init(&p, 0, 0);
    buf_t b = BUF_INIT(&p);
    ck_assert_int_eq(conf_get_value(&c, "appendfsync", &b), 0);
    buf_putc(&b, 0);
    ck_assert_str_eq(b.data, "no");
    ck_assert_int_eq(conf_get_value(&c, "nope", &b), -1);
    buf_release(&b);
    pool_destroy(&p);
    conf_free(&c);
}
END_TEST

static void count(void *ctx, const char *name, const kvd_config *c)
{
    (void)name;
    (void)c;
    (*(int *)ctx)++;
}

START_TEST(test_each_glob)
{
    kvd_config c;
    conf_init(&c);
    int n = 0;
    conf_each(&c, "pool-*", count, &n);
    ck_assert_int_eq(n, 2);
    n = 0;
    conf_each(&c, "*", count, &n);
    ck_assert_int_gt(n, 4);
    conf_free(&c);
}
END_TEST

START_TEST(test_tls_directives)
{
    kvd_config c;
    conf_init(&c);
    ck_assert_int_eq(c.tls_port, 0);
    ck_assert_int_eq(c.tls_auth_clients, KVD_TLS_AUTH_YES);
    ck_assert_str_eq(c.tls_protocols, "TLSv1.2 TLSv1.3");
    ck_assert_int_eq(c.tls_handshake_timeout, 10000);
    char text[] = "tls-port 6380\n"
                  "tls-cert-file /etc/kvd/kvd.crt\n"
                  "tls-auth-clients optional\n"
                  "tls-protocols \"TLSv1.3\"\n";
    char err[256];
    ck_assert_int_eq(conf_load_text(&c, text, strlen(text), "t", err, sizeof err), 0);
    ck_assert_int_eq(c.tls_port, 6380);
    ck_assert_str_eq(c.tls_cert_file, "/etc/kvd/kvd.crt");
    ck_assert_int_eq(c.tls_auth_clients, KVD_TLS_AUTH_OPTIONAL);
    ck_assert_str_eq(c.tls_protocols, "TLSv1.3");
    /* The certificates are loaded once: only the deadline changes live. */
    char *v[] = {"7000"};
    ck_assert_int_eq(conf_set(&c, "tls-port", 1, v, 1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "immutable"));
    ck_assert_int_eq(conf_set(&c, "tls-handshake-timeout", 1, v, 1, err, sizeof err), 0);
    ck_assert_int_eq(c.tls_handshake_timeout, 7000);
    char *bad[] = {"sometimes"};
    ck_assert_int_eq(conf_set(&c, "tls-auth-clients", 1, bad, 0, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no, yes, optional"));
    conf_free(&c);
}
END_TEST

/* What Redis Sentinel relies on: a conf file written for Redis (slaveof,
 * slave-priority) loads; CONFIG REWRITE on a primary leaves no replicaof
 * line, on a replica one replicaof line where the slaveof was, and
 * repeated rewrites add no second header. */
START_TEST(test_replicaof_rewrite)
{
    char *dir = tu_tmpdir(), path[512], err[256];
    snprintf(path, sizeof path, "%s/kvd.conf", dir);
    const char *text = "port 7000\nslaveof 10.0.0.1 6379\nslave-priority 50\n";
    tu_write(path, text, strlen(text));
    kvd_config c;
    conf_init(&c);
    ck_assert_int_eq(conf_load_file(&c, path, err, sizeof err), 0);
    ck_assert_str_eq(c.replicaof, "10.0.0.1 6379");
    ck_assert_int_eq(c.replica_priority, 50);
    pool_t p;
    pool_init(&p, 0, 0);
    free(c.replicaof);
    c.replicaof = strdup(""); /* REPLICAOF NO ONE */
    ck_assert_int_eq(conf_rewrite(&c, path, NULL, &p, err, sizeof err), 0);
    size_t n;
    char *got = tu_read(path, &n);
    ck_assert_str_eq(got, "port 7000\nslave-priority 50\n");
    free(got);
    for (int round = 0; round < 3; round++) {
        free(c.replicaof);
        c.replicaof = strdup(round == 1 ? "" : "10.0.0.2 6380");
        ck_assert_int_eq(conf_rewrite(&c, path, NULL, &p, err, sizeof err), 0);
    }
    got = tu_read(path, &n);
    ck_assert_str_eq(got, "port 7000\nslave-priority 50\n# Generated by CONFIG REWRITE\nreplicaof 10.0.0.2 6380\n");
    free(got);
    kvd_config back;
    conf_init(&back);
    ck_assert_int_eq(conf_load_file(&back, path, err, sizeof err), 0);
    ck_assert_str_eq(back.replicaof, "10.0.0.2 6380");
    conf_free(&back);
    conf_free(&c);
    pool_destroy(&p);
    tu_rmdir(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_file_text);
    tcase_add_test(tc, test_errors_name_the_line);
    tcase_add_test(tc, test_memory_units);
    tcase_add_test(tc, test_runtime_and_get);
    tcase_add_test(tc, test_each_glob);
    tcase_add_test(tc, test_tls_directives);
    tcase_add_test(tc, test_replicaof_rewrite);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
