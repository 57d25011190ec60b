/* buf: growable byte buffer backed by a pool. */
#include "config.h"
#include "buf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

void buf_grow(buf_t *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need < b->len)
        abort(); /* size_t overflow: no caller can legitimately ask for this */
    size_t want = b->cap * 2;
    if (want < need)
        want = need;
    if (b->cap > POOL_MAX_SIZE && want > POOL_MAX_SIZE) {
        /* Already outside the pool: realloc can often grow in place. */
        b->data = xrealloc(b->data, want);
        b->cap = want;
        return;
    }
    size_t cap;
    char *p = pool_get(b->pool, want, &cap);
    if (b->len)
        memcpy(p, b->data, b->len);
    pool_put(b->pool, b->data, b->cap);
    b->data = p;
    b->cap = cap;
}

void buf_vappendf(buf_t *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n >= room) {
        buf_reserve(b, (size_t)n + 1);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
}

void buf_appendf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vappendf(b, fmt, ap);
    va_end(ap);
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_release(buf_t *b)
{
    pool_put(b->pool, b->data, b->cap);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *buf_detach(buf_t *b, size_t *len, size_t *cap)
{
    char *p = b->data;
    *len = b->len;
    *cap = b->cap;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
