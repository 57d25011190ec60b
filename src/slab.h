/* slab: the keyspace's entries in 2-byte size classes with no per-entry
 * header.
 *
 * glibc's malloc puts an 8-byte size in front of every chunk and rounds
 * the chunk up to 16 bytes, so a 126-byte entry (a 10-byte header with its
 * lengths, a 16-byte key, a 100-byte value) would hold 144 bytes; here it
 * holds 126 (8-byte classes would give it 128: 2-byte classes waste half
 * a byte an entry on average, 8-byte ones three and a half). Allocations
 * are 2-byte aligned only: what lives in them is read through types that
 * say so (table.h).
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
 * page's number (arena number and page in the arena) and 1 + its index
 * in the page (so that no slot is named 0): at most SLAB_ARENAS arenas of
 * 4 MiB, 16 GiB of slots. The
 * slot size of every page is kept in a dense array beside the arenas
 * (2 bytes a page), so finding a slot from its name reads no page. An
 * allocation the arenas do not hold (over SLAB_MAX bytes, or past
 * SLAB_ARENAS arenas, or every one under AddressSanitizer) comes from
 * malloc with 8 bytes in front holding its number in a table of pointers,
 * and its name is that number with SLAB_BIG set. 0 names nothing. */
typedef uint32_t slab_ref;
#define SLAB_BIG 0x80000000u
#define SLAB_PAGE_SHIFT 16 /* 64 KiB pages */
#define SLAB_PAGE_HDR 64   /* a page's slots start past its header */
#define SLAB_MIN 8         /* the smallest slot: a free slot holds a pointer */
#define SLAB_SLOT_BITS 13  /* 1 + a slot's index in its page: (64 KiB - 64) / 8 < 8192 */
#define SLAB_ARENA_PAGE_BITS 6 /* 64 pages: 4 MiB arenas */
#define SLAB_ARENAS (SLAB_BIG >> (SLAB_SLOT_BITS + SLAB_ARENA_PAGE_BITS)) /* 4096 */

extern char *slab_arena_at[SLAB_ARENAS]; /* arenas by number */
/* Slot size of each page, by page number (arena number << 6 | page). */
extern uint16_t slab_page_size[SLAB_ARENAS << SLAB_ARENA_PAGE_BITS];
extern void **slab_big_at; /* big allocations by number */

/* The allocation named r (not 0). */
static inline void *slab_ptr(slab_ref r)
{
    if (r & SLAB_BIG)
        return slab_big_at[r & ~SLAB_BIG];
    uint32_t pg = r >> SLAB_SLOT_BITS;
    return slab_arena_at[pg >> SLAB_ARENA_PAGE_BITS] +
           ((size_t)(pg & ((1u << SLAB_ARENA_PAGE_BITS) - 1)) << SLAB_PAGE_SHIFT) + SLAB_PAGE_HDR +
           (size_t)((r & ((1u << SLAB_SLOT_BITS) - 1)) - 1) * slab_page_size[pg];
}

/* p's name (p from slab_alloc or slab_realloc, or NULL: 0). */
slab_ref slab_ref_of(const void *p);

/* For tests: map no more than n arenas (n <= SLAB_ARENAS), so that what
 * happens past the last one can be seen without 16 GiB. */
void slab_limit_arenas(size_t n);

/* n bytes (n > 0), 2-byte aligned. Aborts on out-of-memory, like xmalloc. */
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
