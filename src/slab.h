/* slab: the keyspace's entries in 8-byte size classes with no per-entry
 * header.
 *
 * glibc's malloc puts an 8-byte size in front of every chunk and rounds
 * the chunk up to 16 bytes, so a 120-byte entry (a 10-byte header with its
 * lengths, a 10-byte key, a 100-byte value) would hold 128 bytes; here it
 * holds 120.
 *
 * Slots of one size live in 64 KiB pages aligned to 64 KiB, carved from
 * arenas mapped 4 MiB at a time, so a slot finds its page by masking its
 * address. A page whose slots are all free goes back to the kernel
 * (MADV_DONTNEED) and to the free pages, for any size. Requests over
 * SLAB_MAX bytes go to malloc (see slab_ref below); slab_free and
 * slab_size tell the two kinds apart by address (a binary search over the
 * arenas).
 *
 * Not thread-safe: entries belong to the loop thread. */
#ifndef KVD_SLAB_H
#define KVD_SLAB_H

#include <stddef.h>
#include <stdint.h>

#define SLAB_MAX 1024

/* Every allocation also has a 32-bit name, half a pointer, which the table
 * keeps in its buckets and chains instead of pointers. A slot's is its
 * arena's number and its offset in 8-byte units (at most SLAB_ARENAS
 * arenas of 4 MiB: 16 GiB of slots). An allocation the arenas do not hold
 * (over SLAB_MAX bytes, or past SLAB_ARENAS arenas, or every one under
 * AddressSanitizer) comes from malloc with 8 bytes in front holding its
 * number in a table of pointers, and its name is that number with
 * SLAB_BIG set. 0 names nothing. */
typedef uint32_t slab_ref;
#define SLAB_BIG 0x80000000u
#define SLAB_UNIT_BITS 19                           /* a slot's offset in its arena, in 8-byte units: 4 MiB arenas */
#define SLAB_ARENAS (SLAB_BIG >> SLAB_UNIT_BITS) /* the arena numbers left below SLAB_BIG: 4096 */

extern char *slab_arena_at[SLAB_ARENAS]; /* arenas by number */
extern void **slab_big_at;               /* big allocations by number */

/* The allocation named r (not 0). */
static inline void *slab_ptr(slab_ref r)
{
    if (r & SLAB_BIG)
        return slab_big_at[r & ~SLAB_BIG];
    return slab_arena_at[r >> SLAB_UNIT_BITS] + ((size_t)(r & ((1u << SLAB_UNIT_BITS) - 1)) << 3);
}

/* p's name (p from slab_alloc or slab_realloc, or NULL: 0). */
slab_ref slab_ref_of(const void *p);

/* For tests: map no more than n arenas (n <= SLAB_ARENAS), so that what
 * happens past the last one can be seen without 16 GiB. */
void slab_limit_arenas(size_t n);

/* n bytes (n > 0), 8-byte aligned. Aborts on out-of-memory, like xmalloc. */
void *slab_alloc(size_t n);

/* Free p (from slab_alloc or slab_realloc). NULL is a no-op. */
void slab_free(void *p);

/* p's new home for n bytes, holding its first min(n, old size) bytes. */
void *slab_realloc(void *p, size_t n);

/* Bytes usable at p. */
size_t slab_usable(const void *p);

/* Bytes p takes from the system: its slot, or malloc's chunk with its
 * header (for memory accounting). */
size_t slab_size(const void *p);

/* Allocations handed out and not freed (slots and big ones). */
size_t slab_count(void);

/* Call fn(ctx, p) for every allocation handed out and not freed, until
 * fn returns nonzero: the slots arena by arena in address order, then the
 * big allocations. For a walk over every entry that reads memory in the
 * order it lies (a forked child writing a base: in the table's order
 * every entry is a cache and TLB miss of its own). Allocating or freeing
 * during the walk is not allowed. */
typedef int (*slab_each_fn)(void *ctx, void *p);
void slab_foreach(slab_each_fn fn, void *ctx);

/* Totals, for INFO and tests. */
typedef struct slab_stats {
    size_t mapped;    /* bytes of arenas mapped */
    size_t resident;  /* bytes of pages in use (not given back) */
    size_t slots;     /* bytes of slots handed out */
    size_t pages;     /* pages in use */
} slab_stats;
void slab_get_stats(slab_stats *st);

#endif
