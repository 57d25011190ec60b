/* libFuzzer target: the client library's reply parser (the resp framing
 * scan and builder). The input is scanned in growing prefixes, as it
 * would arrive; every reply found is built into a tree and freed. */
#include "config.h"
#include "resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    int type;
    size_t n;
    struct node **kids;
} node;

static void *mk(int type, size_t n)
{
    node *x = calloc(1, sizeof(*x));
    x->type = type;
    x->n = n;
    if (type == '*' && n)
        x->kids = calloc(n, sizeof(*x->kids));
    return x;
}
static void *f_string(void *ctx, int type, const char *p, size_t len)
{
    (void)ctx;
    volatile char sink = len ? p[len - 1] : 0; /* touch the bytes */
    (void)sink;
    return mk(type, 0);
}
static void *f_int(void *ctx, long long v)
{
    (void)ctx;
    (void)v;
    return mk(':', 0);
}
static void *f_nil(void *ctx, int type)
{
    (void)ctx;
    return mk(type == '*' ? 'N' : 'n', 0);
}
static void *f_array(void *ctx, int type, size_t n)
{
    (void)ctx;
    return mk('*', n);
}
static void f_set(void *ctx, void *a, size_t i, void *e)
{
    (void)ctx;
    ((node *)a)->kids[i] = e;
}
static void f_free(void *ctx, void *o)
{
    node *x = o;
    if (!x)
        return;
    for (size_t i = 0; i < x->n && x->kids; i++)
        f_free(ctx, x->kids[i]);
    free(x->kids);
    free(x);
}
static const resp_reply_fns fns = {f_string, f_int, f_nil, f_array, f_set, f_free};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t pos = 0, avail = 0;
    resp_scan s;
    resp_scan_init(&s, 1 << 20, 1 << 16);
    while (pos < size) {
        avail = avail + 7 <= size ? avail + 7 : size; /* bytes trickle in */
        long long n = resp_scan_reply(&s, buf + pos, avail - pos);
        if (n < 0)
            break;
        if (n == 0) {
            if (avail == size)
                break;
            continue;
        }
        void *tree;
        if (resp_build_reply(&fns, NULL, buf + pos, (size_t)n, &tree) == 0)
            f_free(NULL, tree);
        pos += (size_t)n;
        if (avail < pos)
            avail = pos;
    }
    return 0;
}
