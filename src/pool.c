/* pool: size-classed buffer cache with per-class and total caps. */
#include "config.h"
#include "pool.h"
#include "util.h"

#include <assert.h>
#include <stdlib.h>

#ifdef KVD_DEBUG
#define POOL_CHECK_OWNER(p) assert(pthread_equal((p)->owner, pthread_self()))
#else
#define POOL_CHECK_OWNER(p) ((void)(p))
#endif

/* Index of the smallest class that holds want bytes (want <= POOL_MAX_SIZE). */
static inline unsigned class_for_get(size_t want)
{
    if (want <= POOL_MIN_SIZE)
        return 0;
    unsigned bits = 64u - (unsigned)__builtin_clzll((unsigned long long)(want - 1));
    return bits - POOL_MIN_SHIFT;
}

/* Index of the largest class not above cap (cap >= POOL_MIN_SIZE). */
static inline unsigned class_for_put(size_t cap)
{
    unsigned bits = 63u - (unsigned)__builtin_clzll((unsigned long long)cap);
    if (bits > POOL_MAX_SHIFT)
        bits = POOL_MAX_SHIFT;
    return bits - POOL_MIN_SHIFT;
}

void pool_init(pool_t *p, size_t max_per_class, size_t max_bytes)
{
    *p = (pool_t){0};
    p->max_per_class = max_per_class ? max_per_class : POOL_DEFAULT_MAX_PER_CLASS;
    p->max_bytes = max_bytes ? max_bytes : POOL_DEFAULT_MAX_BYTES;
    p->owner = pthread_self();
}

void pool_trim(pool_t *p)
{
    for (unsigned c = 0; c < POOL_NCLASSES; c++) {
        void *b = p->free[c];
        while (b) {
            void *next = *(void **)b;
            free(b);
            b = next;
        }
        p->free[c] = NULL;
        p->stats[c].cached = 0;
    }
    p->cached_bytes = 0;
}

void pool_destroy(pool_t *p)
{
    pool_trim(p);
}

size_t pool_round(size_t want)
{
    if (want > POOL_MAX_SIZE)
        return want;
    return (size_t)1 << (class_for_get(want) + POOL_MIN_SHIFT);
}

void *pool_get(pool_t *p, size_t want, size_t *cap)
{
    POOL_CHECK_OWNER(p);
    if (want > POOL_MAX_SIZE) {
        p->big_gets++;
        *cap = want;
        return xmalloc(want);
    }
    unsigned c = class_for_get(want);
    size_t size = (size_t)1 << (c + POOL_MIN_SHIFT);
    pool_class_stats *st = &p->stats[c];
    st->gets++;
    *cap = size;
    void *b = p->free[c];
    if (b) {
        p->free[c] = *(void **)b;
        st->cached--;
        st->hits++;
        p->cached_bytes -= size;
        return b;
    }
    st->misses++;
    return xmalloc(size);
}

void pool_put(pool_t *p, void *ptr, size_t cap)
{
    POOL_CHECK_OWNER(p);
    if (!ptr)
        return;
    if (cap > POOL_MAX_SIZE || cap < POOL_MIN_SIZE) {
        /* Oversized buffers are rare and long: caching them would pin memory. */
        if (cap > POOL_MAX_SIZE)
            p->big_puts++;
        free(ptr);
        return;
    }
    unsigned c = class_for_put(cap);
    size_t size = (size_t)1 << (c + POOL_MIN_SHIFT);
    pool_class_stats *st = &p->stats[c];
    st->puts++;
    if (st->cached >= p->max_per_class || p->cached_bytes + size > p->max_bytes) {
        st->drops++;
        free(ptr);
        return;
    }
    *(void **)ptr = p->free[c];
    p->free[c] = ptr;
    st->cached++;
    p->cached_bytes += size;
}

void pool_set_caps(pool_t *p, size_t max_per_class, size_t max_bytes)
{
    POOL_CHECK_OWNER(p);
    p->max_per_class = max_per_class ? max_per_class : POOL_DEFAULT_MAX_PER_CLASS;
    p->max_bytes = max_bytes ? max_bytes : POOL_DEFAULT_MAX_BYTES;
    /* Shed from the largest classes first: they hold the most bytes. */
    for (int c = POOL_NCLASSES - 1; c >= 0; c--) {
        size_t size = (size_t)1 << (c + POOL_MIN_SHIFT);
        pool_class_stats *st = &p->stats[c];
        while (p->free[c] && (st->cached > p->max_per_class || p->cached_bytes > p->max_bytes)) {
            void *b = p->free[c];
            p->free[c] = *(void **)b;
            free(b);
            st->cached--;
            p->cached_bytes -= size;
        }
    }
}

void pool_reset_stats(pool_t *p)
{
    for (unsigned c = 0; c < POOL_NCLASSES; c++) {
        size_t cached = p->stats[c].cached;
        p->stats[c] = (pool_class_stats){0};
        p->stats[c].cached = cached;
    }
    p->big_gets = p->big_puts = 0;
}
