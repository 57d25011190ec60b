/* pool: a size-classed cache of byte buffers, so hot paths (WAL encoding,
 * socket reads, replies) reuse memory instead of calling malloc per request.
 *
 * Classes are powers of two from 256 B to 64 KiB. Each class keeps a free
 * list capped at max_per_class buffers, and the pool as a whole caches at
 * most max_bytes. A request larger than the biggest class is served by
 * malloc and freed on put, never cached.
 *
 * Thread rule: a pool belongs to the thread that created it (the event-loop
 * thread in the daemon). No function here may be called from another thread;
 * debug builds abort if one is. Code on other threads (the fsync worker) does
 * not touch buffers at all, and a forked compaction child owns its copy of
 * the pool outright. Use a separate pool per thread if that ever changes. */
#ifndef KVD_POOL_H
#define KVD_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_MIN_SHIFT 8  /* smallest class: 256 B */
#define POOL_MAX_SHIFT 16 /* largest class: 64 KiB */
#define POOL_NCLASSES (POOL_MAX_SHIFT - POOL_MIN_SHIFT + 1)
#define POOL_MIN_SIZE ((size_t)1 << POOL_MIN_SHIFT)
#define POOL_MAX_SIZE ((size_t)1 << POOL_MAX_SHIFT)

typedef struct pool_class_stats {
    uint64_t gets;       /* pool_get calls served from this class */
    uint64_t hits;       /* ... that found a cached buffer */
    uint64_t misses;     /* ... that had to malloc */
    uint64_t puts;       /* buffers returned to this class */
    uint64_t drops;      /* returned buffers freed because a cap was hit */
    size_t cached;       /* buffers on the free list now */
} pool_class_stats;

typedef struct pool {
    void *free[POOL_NCLASSES];          /* free lists, linked through the first word */
    pool_class_stats stats[POOL_NCLASSES];
    size_t max_per_class;               /* cap on cached buffers per class */
    size_t max_bytes;                   /* cap on cached bytes over all classes */
    size_t cached_bytes;                /* bytes on all free lists now */
    uint64_t big_gets;                  /* requests above the largest class */
    uint64_t big_puts;                  /* ... returned and freed */
    pthread_t owner;                    /* the only thread allowed in */
} pool_t;

#define POOL_DEFAULT_MAX_PER_CLASS 512
#define POOL_DEFAULT_MAX_BYTES ((size_t)32 << 20)

/* Initialise p for the calling thread. A cap of 0 selects the default. */
void pool_init(pool_t *p, size_t max_per_class, size_t max_bytes);

/* Free every cached buffer. p may be reused after pool_init. */
void pool_destroy(pool_t *p);

/* Return a buffer of at least want bytes; *cap receives its real size (a
 * class size, or want itself above the largest class). Aborts on OOM. */
void *pool_get(pool_t *p, size_t want, size_t *cap);

/* Give back a buffer obtained from pool_get (or grown by buf), cap being its
 * real size. It goes to the largest class not above cap; above the largest
 * class, or when a cap is reached, it is freed. ptr may be NULL. */
void pool_put(pool_t *p, void *ptr, size_t cap);

/* The class size pool_get would hand out for want (want itself if above
 * the largest class). */
size_t pool_round(size_t want);

/* Change the caps; shrinks the cache at once if it is over them. */
void pool_set_caps(pool_t *p, size_t max_per_class, size_t max_bytes);

/* Free every cached buffer (e.g. on memory pressure); counters are kept. */
void pool_trim(pool_t *p);

/* Zero all counters (CONFIG RESETSTAT); the cache itself is kept. */
void pool_reset_stats(pool_t *p);

#endif
