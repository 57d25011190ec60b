/* slab: the keyspace's entries in 8-byte size classes with no per-entry
 * header.
 *
 * glibc's malloc puts an 8-byte size in front of every chunk and rounds
 * the chunk up to 16 bytes, so a 127-byte entry (a 17-byte header, a
 * 10-byte key, a 100-byte value) holds 144 bytes; here it holds 128. At a
 * million keys that is 16 MB less for the commonest shape of data.
 *
 * Slots of one size live in 64 KiB pages aligned to 64 KiB, carved from
 * arenas mapped 4 MiB at a time, so a slot finds its page by masking its
 * address. A page whose slots are all free goes back to the kernel
 * (MADV_DONTNEED) and to the free pages, for any size. Requests over
 * SLAB_MAX bytes go to malloc; slab_free and slab_size tell the two kinds
 * apart by address (a binary search over the arenas).
 *
 * Not thread-safe: entries belong to the loop thread. */
#ifndef KVD_SLAB_H
#define KVD_SLAB_H

#include <stddef.h>

#define SLAB_MAX 1024

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

/* Totals, for INFO and tests. */
typedef struct slab_stats {
    size_t mapped;    /* bytes of arenas mapped */
    size_t resident;  /* bytes of pages in use (not given back) */
    size_t slots;     /* bytes of slots handed out */
    size_t pages;     /* pages in use */
} slab_stats;
void slab_get_stats(slab_stats *st);

#endif
