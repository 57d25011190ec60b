/* libFuzzer target: the ACL rule parser. Each input line is split with
 * Redis's quoting into rules for ACL SETUSER on one of a few users; after
 * each accepted line the user is described, the description parsed back
 * into a fresh user, and both must have the same permissions and describe
 * the same way. Then every user is written as aclfile text and loaded
 * again. Any difference aborts. */
#include "config.h"
#include "acl.h"
#include "args.h"
#include "cmd.h"
#include "server.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int inited;

static void describe(const acl_user *u, buf_t *b)
{
    buf_reset(b);
    acl_describe_user(u, b);
}

static void check_same(const acl_user *a, const acl_user *b, const char *line)
{
    if (a->flags != b->flags || a->npass != b->npass || a->nkeys != b->nkeys || a->nchannels != b->nchannels ||
        memcmp(a->allowed, b->allowed, sizeof a->allowed) != 0) {
        fprintf(stderr, "described as [%s], which parses to other permissions\n", line);
        abort();
    }
    for (int i = 0; i < a->nkeys; i++)
        if (a->keys[i].len != b->keys[i].len || memcmp(a->keys[i].pat, b->keys[i].pat, a->keys[i].len) != 0 ||
            a->keys[i].perms != b->keys[i].perms) {
            fprintf(stderr, "key pattern %d differs after [%s]\n", i, line);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!inited) {
        pool_init(&srv.pool, 64, 1 << 20);
        cmd_init();
        inited = 1;
    }
    acl_init();
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    buf_t b = BUF_INIT(&srv.pool), b2 = BUF_INIT(&srv.pool);
    char *p = text, *end = text + size;
    int lineno = 0;
    while (p < end && lineno++ < 64) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *argv[128];
        size_t lens[128];
        int argc = args_split(p, n, argv, lens, 128);
        p += n + 1;
        if (argc <= 0)
            continue;
        char name[2] = {(char)('a' + lineno % 3), 0};
        char err[1024];
        if (acl_setuser(name, 1, argc, argv, lens, err, sizeof err) < 0)
            continue;
        acl_user *u = acl_find(name, 1);
        describe(u, &b);
        char *line = xmalloc(b.len + 1);
        memcpy(line, b.data, b.len);
        line[b.len] = '\0';
        char *copy = xstrdup(line);
        static char *av[1 << 16];
        static size_t al[1 << 16];
        int ac = 0;
        for (char *t = strtok(copy, " "); t && ac < (1 << 16); t = strtok(NULL, " ")) {
            av[ac] = t;
            al[ac++] = strlen(t);
        }
        if (ac < 3 || acl_setuser("zz", 2, ac - 2, av + 2, al + 2, err, sizeof err) < 0) {
            fprintf(stderr, "description [%s] does not parse: %s\n", line, err);
            abort();
        }
        acl_user *v = acl_find("zz", 2);
        check_same(u, v, line);
        describe(v, &b2);
        if (b2.len != b.len + 1) { /* "zz" for the one-letter name */
            fprintf(stderr, "[%s] described again as [%.*s]\n", line, (int)b2.len, b2.data);
            abort();
        }
        acl_user_free(acl_detach("zz", 2));
        free(copy);
        free(line);
    }
    /* All users as an aclfile, loaded back. */
    buf_reset(&b);
    int n;
    acl_user **all = acl_users(&n);
    for (int i = 0; i < n; i++) {
        acl_describe_user(all[i], &b);
        buf_putc(&b, '\n');
    }
    acl_user **old;
    int nold;
    char err[1024];
    if (acl_load_text(b.data ? b.data : "", b.len, 0, "fuzz", &old, &nold, err, sizeof err) < 0) {
        fprintf(stderr, "aclfile text does not load: %s\n", err);
        abort();
    }
    acl_user **now = acl_users(&n);
    if (n != nold)
        abort();
    for (int i = 0; i < n; i++)
        check_same(old[i], now[i], old[i]->name);
    acl_free_users(old, nold);
    buf_release(&b);
    buf_release(&b2);
    free(text);
    acl_free_all();
    return 0;
}
