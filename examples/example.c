/* example: libkvdclient in one page. Connects to kvd (or Redis), sets and
 * reads keys, pipelines, iterates with SCAN, and handles errors.
 *   cc example.c $(pkg-config --cflags --libs kvd-client) -o example
 *   ./example [host] [port] */
#include <kvd/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 7379;
    kvd_options opt = {.connect_timeout_ms = 2000, .command_timeout_ms = 5000};

    kvd_context *c = kvd_connect(host, port, &opt);
    if (!c) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (c->err) {
        fprintf(stderr, "connect: %s (%s)\n", c->errstr, kvd_err_name(c->err));
        kvd_free(c);
        return 1;
    }

    /* Typed helpers: binary-safe keys and values, a TTL in milliseconds. */
    if (kvd_set(c, "greeting", 8, "hello\0world", 11, 60000) != KVD_OK)
        goto fail;
    char *val;
    size_t vlen;
    if (kvd_get(c, "greeting", 8, &val, &vlen) != KVD_OK)
        goto fail;
    printf("greeting has %zu bytes\n", vlen);
    free(val);

    long long visits;
    if (kvd_incr(c, "visits", 6, 1, &visits) != KVD_OK)
        goto fail;
    printf("visits: %lld\n", visits);

    /* Any command, printf style; the reply may be any type. */
    kvd_reply *r;
    if (kvd_command(c, &r, "SET user:%d %s", 42, "Ada") != KVD_OK)
        goto fail;
    printf("SET user:42 -> %s\n", r->str);
    kvd_reply_free(r);

    /* A server error is a reply, not a broken connection. */
    if (kvd_command(c, &r, "INCR user:42") != KVD_OK)
        goto fail;
    if (r->type == KVD_REPLY_ERROR)
        printf("INCR user:42 -> error: %s\n", r->str);
    kvd_reply_free(r);

    /* Pipelining: append many commands, then read the replies in order. */
    for (int i = 0; i < 1000; i++)
        if (kvd_append(c, "SET item:%d %d", i, i * i) != KVD_OK)
            goto fail;
    for (int i = 0; i < 1000; i++) {
        if (kvd_get_reply(c, &r) != KVD_OK)
            goto fail;
        kvd_reply_free(r);
    }

    /* SCAN: every key matching a pattern, however big the keyspace. */
    kvd_scan *s = kvd_scan_new(c, "item:*", 200);
    const char *key;
    size_t klen;
    int rc, n = 0;
    while ((rc = kvd_scan_next(s, &key, &klen)) == 1)
        n++;
    kvd_scan_free(s);
    if (rc < 0)
        goto fail;
    printf("scan found %d item keys\n", n);

    kvd_free(c);
    return 0;

fail:
    fprintf(stderr, "error: %s (%s)\n", c->errstr, kvd_err_name(c->err));
    kvd_free(c);
    return 1;
}
