/* slab: size classes for the keyspace's entries (see slab.h). */
#include "config.h"
#include "slab.h"
#include "list.h"
#include "util.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_PASSTHROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_PASSTHROUGH 1
#endif
#endif

char *slab_arena_at[SLAB_ARENAS];
uint16_t slab_page_size[SLAB_ARENAS << SLAB_ARENA_PAGE_BITS];
void **slab_big_at;
static uint32_t nbig, capbig;
static uint32_t big_free_head; /* 1 + the first free number, or 0 */
static size_t nallocs;         /* slab_count */

/* What precedes a big allocation: its number (8 bytes keep it aligned). */
#define BIG_PAD 8

static void *big_alloc(size_t n)
{
    char *b = xmalloc(n + BIG_PAD);
    uint32_t i;
    if (big_free_head) {
        i = big_free_head - 1;
        big_free_head = (uint32_t)(uintptr_t)slab_big_at[i];
    } else {
        if (nbig == capbig) {
            if (capbig >= SLAB_BIG / 2) {
                fprintf(stderr, "kvd: out of numbers for big entries\n");
                abort();
            }
            capbig = capbig ? capbig * 2 : 64;
            slab_big_at = xrealloc(slab_big_at, (size_t)capbig * sizeof *slab_big_at);
        }
        i = nbig++;
    }
    memcpy(b, &i, sizeof i);
    slab_big_at[i] = b + BIG_PAD;
    nallocs++;
    return b + BIG_PAD;
}

static uint32_t big_number(const void *p)
{
    uint32_t i;
    memcpy(&i, (const char *)p - BIG_PAD, sizeof i);
    return i;
}

static void big_free(void *p)
{
    uint32_t i = big_number(p);
    slab_big_at[i] = (void *)(uintptr_t)big_free_head;
    big_free_head = i + 1;
    nallocs--;
    free((char *)p - BIG_PAD);
}

static void *big_realloc(void *p, size_t n)
{
    uint32_t i = big_number(p);
    char *b = xrealloc((char *)p - BIG_PAD, n + BIG_PAD);
    slab_big_at[i] = b + BIG_PAD;
    return b + BIG_PAD;
}

static size_t big_usable(const void *p)
{
    return malloc_usable_size((char *)p - BIG_PAD) - BIG_PAD;
}

static size_t big_size(const void *p)
{
    return xmalloc_size((char *)p - BIG_PAD);
}

size_t slab_count(void)
{
    return nallocs;
}

/* The big allocations by number, skipping the free numbers. */
static int big_foreach(slab_each_fn fn, void *ctx)
{
    uint64_t *freed = calloc(nbig / 64 + 1, sizeof *freed);
    if (!freed && nbig) {
        fprintf(stderr, "kvd: out of memory walking the entries\n");
        abort();
    }
    for (uint32_t h = big_free_head; h; h = (uint32_t)(uintptr_t)slab_big_at[h - 1])
        freed[(h - 1) / 64] |= (uint64_t)1 << ((h - 1) % 64);
    int stop = 0;
    for (uint32_t i = 0; i < nbig && !stop; i++)
        if (!(freed[i / 64] >> (i % 64) & 1))
            stop = fn(ctx, slab_big_at[i]);
    free(freed);
    return stop;
}

#ifdef SLAB_PASSTHROUGH
/* Under AddressSanitizer every entry stays a malloc of its own, so that
 * overflows and uses after free of entries are still caught. */
void *slab_alloc(size_t n) { return big_alloc(n); }
void slab_free(void *p)
{
    if (p)
        big_free(p);
}
void *slab_realloc(void *p, size_t n) { return p ? big_realloc(p, n) : big_alloc(n); }
size_t slab_usable(const void *p) { return big_usable(p); }
size_t slab_size(const void *p) { return big_size(p); }
slab_ref slab_ref_of(const void *p) { return p ? SLAB_BIG | big_number(p) : 0; }
void slab_limit_arenas(size_t n) { (void)n; }
void slab_get_stats(slab_stats *st) { memset(st, 0, sizeof *st); }
void slab_foreach(slab_each_fn fn, void *ctx) { big_foreach(fn, ctx); }
#else

#define PAGE ((size_t)1 << SLAB_PAGE_SHIFT)
#define PAGES_PER_ARENA ((size_t)1 << SLAB_ARENA_PAGE_BITS)
#define ARENA (PAGE * PAGES_PER_ARENA) /* 4 MiB */
#define GRAIN 2                         /* slot sizes are multiples of this */
#define NCLASS (SLAB_MAX / GRAIN)       /* class c: slots of (c + 1) * GRAIN bytes */
#define HDR SLAB_PAGE_HDR
#define MAX_SLOTS ((PAGE - HDR) / SLAB_MIN)

_Static_assert(MAX_SLOTS < (1u << SLAB_SLOT_BITS), "1 + a slot's index fits its name");
_Static_assert(SLAB_MAX < 65536, "a slot size fits slab_page_size");

typedef struct spage {
    list_link room;   /* on partial[its class] while it has a free slot */
    void *free;       /* freed slots, linked through their first word */
    char *bump, *end; /* never-used slots: [bump, end) */
    uint32_t size;    /* slot size */
    uint32_t live;    /* slots handed out */
    uint32_t number;  /* its index in slab_page_size */
} spage;

_Static_assert(sizeof(spage) <= HDR, "a page's header fits before its slots");

static list partial[NCLASS]; /* by class: the pages with a free slot */
typedef struct arena {
    uintptr_t start;
    uint32_t number; /* its index in slab_arena_at */
} arena;
static arena *arenas; /* ascending by start */
static size_t narenas, caparenas;
static size_t arena_limit = SLAB_ARENAS;
static char *fresh, *fresh_end; /* the newest arena's never-used pages */
static spage **spare;           /* pages given back to the kernel, to reuse */
static size_t nspare, capspare;
static slab_stats S;

static void oom(size_t n)
{
    fprintf(stderr, "kvd: out of memory mapping %zu bytes for entries\n", n);
    abort();
}

/* Map a new arena. Returns 0 when no more may be mapped. */
static int map_arena(void)
{
    if (narenas >= arena_limit)
        return 0;
    /* Map one page more than the arena and trim to a 64 KiB boundary. */
    size_t len = ARENA + PAGE;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        oom(len);
    uintptr_t a = ((uintptr_t)m + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
    size_t head = a - (uintptr_t)m;
    if (head)
        munmap(m, head);
    if (len - head > ARENA)
        munmap((char *)a + ARENA, len - head - ARENA);
    if (narenas == caparenas) {
        caparenas = caparenas ? caparenas * 2 : 16;
        arenas = xrealloc(arenas, caparenas * sizeof *arenas);
    }
    uint32_t number = (uint32_t)narenas;
    slab_arena_at[number] = (char *)a;
    size_t i = narenas++;
    while (i > 0 && arenas[i - 1].start > a) {
        arenas[i] = arenas[i - 1];
        i--;
    }
    arenas[i] = (arena){a, number};
    fresh = (char *)a;
    fresh_end = fresh + ARENA;
    S.mapped += ARENA;
    return 1;
}

/* The arena holding p, or NULL when malloc's. */
static const arena *owner(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    size_t lo = 0, hi = narenas;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (arenas[mid].start <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && a < arenas[lo - 1].start + ARENA ? &arenas[lo - 1] : NULL;
}

static inline int owned(const void *p)
{
    return owner(p) != NULL;
}

static inline spage *page_of(const void *p)
{
    return (spage *)((uintptr_t)p & ~(uintptr_t)(PAGE - 1));
}

/* p's page number: its arena's number and its place in the arena. */
static uint32_t page_number(const arena *a, const void *p)
{
    return a->number << SLAB_ARENA_PAGE_BITS | (uint32_t)(((uintptr_t)p - a->start) >> SLAB_PAGE_SHIFT);
}

/* A page for slots of size bytes, or NULL when no arena may be mapped. */
static spage *new_page(uint32_t size)
{
    char *p;
    if (nspare) {
        p = (char *)spare[--nspare];
    } else {
        if (fresh == fresh_end && !map_arena())
            return NULL;
        p = fresh;
        fresh += PAGE;
    }
    spage *g = (spage *)p;
    *g = (spage){.bump = p + HDR, .end = p + HDR + (PAGE - HDR) / size * size, .size = size,
                 .number = page_number(owner(p), p)};
    slab_page_size[g->number] = (uint16_t)size;
    S.pages++;
    S.resident += PAGE;
    return g;
}

/* g has no slot in use: its memory goes back to the kernel. */
static void give_back(spage *g)
{
    if (nspare == capspare) {
        capspare = capspare ? capspare * 2 : 64;
        spare = xrealloc(spare, capspare * sizeof *spare);
    }
    madvise(g, PAGE, MADV_DONTNEED);
    spare[nspare++] = g;
    S.pages--;
    S.resident -= PAGE;
}

/* The slot size for n bytes (n <= SLAB_MAX). */
static inline uint32_t slot_size(size_t n)
{
    return n <= SLAB_MIN ? SLAB_MIN : (uint32_t)((n + GRAIN - 1) & ~(size_t)(GRAIN - 1));
}

void *slab_alloc(size_t n)
{
    if (n > SLAB_MAX)
        return big_alloc(n);
    uint32_t size = slot_size(n);
    size_t c = size / GRAIN - 1;
    spage *g;
    if (partial[c].first) {
        g = LIST_ITEM(partial[c].first, spage, room);
    } else {
        g = new_page(size);
        if (!g)
            return big_alloc(n); /* past the last arena */
        list_push_back(&partial[c], &g->room);
    }
    void *p;
    if (g->free) {
        p = g->free;
        memcpy(&g->free, p, sizeof g->free);
    } else {
        p = g->bump;
        g->bump += size;
    }
    g->live++;
    nallocs++;
    if (!g->free && g->bump == g->end)
        list_remove(&g->room); /* full */
    S.slots += size;
    return p;
}

void slab_free(void *p)
{
    if (!p)
        return;
    if (!owned(p)) {
        big_free(p);
        return;
    }
    spage *g = page_of(p);
    size_t c = g->size / GRAIN - 1;
    memcpy(p, &g->free, sizeof g->free);
    g->free = p;
    g->live--;
    nallocs--;
    S.slots -= g->size;
    if (!list_linked(&g->room)) {
        list_push_back(&partial[c], &g->room);
    } else if (g->live == 0 && partial[c].len > 1) {
        /* Empty, and not the class's last page with room (which stays,
         * so that a key set and deleted in turn costs no system call). */
        list_remove(&g->room);
        give_back(g);
    }
}

size_t slab_usable(const void *p)
{
    return owned(p) ? page_of(p)->size : big_usable(p);
}

size_t slab_size(const void *p)
{
    return owned(p) ? page_of(p)->size : big_size(p);
}

void *slab_realloc(void *p, size_t n)
{
    if (!p)
        return slab_alloc(n);
    size_t old = slab_usable(p);
    if (!owned(p) && n > SLAB_MAX)
        return big_realloc(p, n);
    if (owned(p) && n <= SLAB_MAX && slot_size(n) == old)
        return p; /* the same class */
    void *q = slab_alloc(n);
    memcpy(q, p, n < old ? n : old);
    slab_free(p);
    return q;
}

slab_ref slab_ref_of(const void *p)
{
    if (!p)
        return 0;
    const arena *a = owner(p);
    if (!a)
        return SLAB_BIG | big_number(p);
    const spage *g = page_of(p);
    return g->number << SLAB_SLOT_BITS | (slab_ref)(1 + ((const char *)p - (const char *)g - HDR) / g->size);
}

void slab_limit_arenas(size_t n)
{
    arena_limit = n < SLAB_ARENAS ? n : SLAB_ARENAS;
}

void slab_get_stats(slab_stats *st)
{
    *st = S;
}

_Static_assert(PAGES_PER_ARENA <= 64, "an arena's pages fit a 64-bit mask");

/* The live slots of g in address order. */
static int page_foreach(spage *g, slab_each_fn fn, void *ctx)
{
    uint64_t freed[MAX_SLOTS / 64 + 1];
    char *first = (char *)g + HDR;
    if (g->free) {
        memset(freed, 0, sizeof freed);
        for (char *f = g->free; f; memcpy(&f, f, sizeof f)) {
            size_t i = (size_t)(f - first) / g->size;
            freed[i / 64] |= (uint64_t)1 << (i % 64);
        }
    }
    size_t i = 0;
    for (char *p = first; p < g->bump; p += g->size, i++)
        if (!g->free || !(freed[i / 64] >> (i % 64) & 1))
            if (fn(ctx, p))
                return 1;
    return 0;
}

void slab_foreach(slab_each_fn fn, void *ctx)
{
    /* The pages given back, by arena: not to be read (their headers are
     * gone with their memory). */
    uint64_t *spared = calloc(narenas + 1, sizeof *spared);
    if (!spared) {
        fprintf(stderr, "kvd: out of memory walking the entries\n");
        abort();
    }
    for (size_t i = 0; i < nspare; i++) {
        const arena *a = owner(spare[i]);
        spared[a->number] |= (uint64_t)1 << (((uintptr_t)spare[i] - a->start) / PAGE);
    }
    int stop = 0;
    for (size_t k = 0; k < narenas && !stop; k++) {
        char *start = (char *)arenas[k].start, *end = start + ARENA;
        if (arenas[k].number == narenas - 1)
            end = fresh; /* the newest arena: its pages from fresh on were never used */
        uint64_t skip = spared[arenas[k].number];
        size_t j = 0;
        for (char *pg = start; pg < end && !stop; pg += PAGE, j++)
            if (!(skip >> j & 1))
                stop = page_foreach((spage *)pg, fn, ctx);
    }
    free(spared);
    if (!stop)
        big_foreach(fn, ctx);
}
#endif
