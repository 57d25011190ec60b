/* buf: a growable, binary-safe byte buffer whose storage comes from a pool
 * and goes back to it. Growth asks the pool for the next class and returns
 * the old storage, so a buffer that grew is cached under its new size. */
#ifndef KVD_BUF_H
#define KVD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "pool.h"

typedef struct buf {
    char *data;   /* storage (NULL until the first append) */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes owned */
    pool_t *pool; /* where storage comes from and returns to */
} buf_t;

#define BUF_INIT(p) {NULL, 0, 0, (p)}

/* Make b empty, drawing storage from pool. Allocates nothing. */
static inline void buf_init(buf_t *b, pool_t *pool)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->pool = pool;
}

/* Grow so at least extra more bytes fit (slow path of buf_reserve). */
void buf_grow(buf_t *b, size_t extra);

/* Ensure room for extra bytes after len. Aborts on OOM. */
static inline void buf_reserve(buf_t *b, size_t extra)
{
    if (b->cap - b->len < extra)
        buf_grow(b, extra);
}

static inline void buf_append(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void buf_putc(buf_t *b, char c)
{
    buf_reserve(b, 1);
    b->data[b->len++] = c;
}

static inline void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* printf-style append. */
void buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vappendf(buf_t *b, const char *fmt, va_list ap);

/* Forget the contents, keep the storage. */
static inline void buf_reset(buf_t *b)
{
    b->len = 0;
}

/* Drop the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(buf_t *b, size_t n);

/* Return the storage to the pool; b is empty and reusable afterwards. */
void buf_release(buf_t *b);

/* Hand the storage to the caller (who must pool_put(pool, p, cap) it).
 * Returns the data pointer and leaves b empty. */
char *buf_detach(buf_t *b, size_t *len, size_t *cap);

#endif
