/* table: the in-memory keyspace. A chained hash table keyed by arbitrary
 * bytes, with incremental rehashing (no stop-the-world resize), a
 * reverse-binary cursor scan that survives resizes (the dictScan
 * guarantee), random sampling, and a side index of the keys that carry an
 * expiry so the expiry cycle can sample them in O(1).
 *
 * Each entry is one allocation from the slab: header, optional expiry
 * block, key, value. Buckets and chains hold the entries' 32-bit slab
 * names, not pointers (4 bytes a key less in each). Entry pointers are
 * invalidated by any call that modifies that entry (table_set,
 * table_set_expire) or removes it.
 *
 * Not thread-safe: one table belongs to one thread. */
#ifndef KVD_TABLE_H
#define KVD_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slab.h"

#define TABLE_NO_EXPIRE (-1)

/* Redis keeps a string as an int, inline with its header (embstr) or on
 * its own (raw), and OBJECT ENCODING shows which. kvd keeps bytes; an
 * entry's encoding is what Redis would pick for its bytes (int if they
 * read back as a 64-bit integer, embstr up to 44 bytes, else raw) unless
 * a command set one of these, as Redis's own paths do: APPEND, SETRANGE,
 * SETBIT, BITFIELD and BITOP leave a raw string, INCRBYFLOAT an embstr.
 * A new value resets it; it lives in memory only, as Redis re-encodes
 * strings when it loads them. */
#define TENTRY_ENC_RAW 1
#define TENTRY_ENC_EMBSTR 2

/* An entry's lengths come in three sizes: tiny (key and value up to 255
 * bytes: 2 bytes), narrow (key up to 255, value up to 65535: 3 bytes) or
 * wide (4 bytes each). An entry whose value outgrows its format is
 * rewritten in the wider one in place (or moved). */
#define TENTRY_LENS_TINY 0
#define TENTRY_LENS_NARROW 1
#define TENTRY_LENS_WIDE 2
#define TENTRY_TINY_VLEN 255u
#define TENTRY_NARROW_KLEN 255u
#define TENTRY_NARROW_VLEN 65535u

/* Bits of an entry's access stamp (lru). */
#define TENTRY_LRU_BITS 27
#define TENTRY_LRU_MASK ((1u << TENTRY_LRU_BITS) - 1)

/* A link of a chain: a bucket, or an entry's next. Entries are only
 * 2-byte aligned (slab.h), so links are read as such. */
typedef slab_ref __attribute__((aligned(2))) tlink_t;

/* An entry's 8-byte header: a 16-byte key with a 100-byte value fills a
 * 126-byte slab slot. Packed and 2-byte aligned, as the slab hands out. */
typedef struct __attribute__((packed, aligned(2))) tentry {
    tlink_t next __attribute__((aligned(2))); /* the next entry of the bucket's chain, 0 ends it */
    uint32_t lru : TENTRY_LRU_BITS; /* the table's lru_clock when last created or found */
    uint32_t enc : 2;     /* TENTRY_ENC_*: what OBJECT ENCODING says beyond what the bytes say */
    uint32_t lens : 2;    /* TENTRY_LENS_*: the format of the lengths */
    uint32_t expires : 1; /* an expiry block follows the lengths */
    unsigned char data[]; /* lengths (tiny: u8 klen, u8 vlen; narrow: u8, u16; wide: u32, u32),
                           * [int64 expire_ms, uint32 vol_index], key, value */
} tentry_t;

#define TENTRY_HDR offsetof(tentry_t, data)
#define TENTRY_EXPIRE_BLOCK 12

_Static_assert(TENTRY_HDR == 8, "an entry's header is 8 bytes");
_Static_assert(_Alignof(tentry_t) == 2, "an entry needs no more alignment than the slab's");

/* Bytes the lengths take in a format (TENTRY_LENS_*), and in e. */
static inline size_t tentry_lens_size(unsigned format) { return format == TENTRY_LENS_WIDE ? 8 : 2u + format; }
static inline size_t tentry_lens(const tentry_t *e) { return tentry_lens_size(e->lens); }
static inline size_t tentry_klen(const tentry_t *e)
{
    uint32_t v;
    if (e->lens != TENTRY_LENS_WIDE)
        return e->data[0];
    memcpy(&v, e->data, sizeof v);
    return v;
}
static inline size_t tentry_vlen(const tentry_t *e)
{
    if (e->lens == TENTRY_LENS_TINY)
        return e->data[1];
    if (e->lens == TENTRY_LENS_NARROW) {
        uint16_t v;
        memcpy(&v, e->data + 1, sizeof v);
        return v;
    }
    uint32_t v;
    memcpy(&v, e->data + 4, sizeof v);
    return v;
}
static inline int tentry_has_expire(const tentry_t *e) { return e->expires; }
/* Where the key starts, from the start of data. */
static inline size_t tentry_key_off(const tentry_t *e)
{
    return tentry_lens(e) + (tentry_has_expire(e) ? TENTRY_EXPIRE_BLOCK : 0);
}
static inline const char *tentry_key(const tentry_t *e) { return (const char *)e->data + tentry_key_off(e); }
static inline char *tentry_val(tentry_t *e) { return (char *)e->data + tentry_key_off(e) + tentry_klen(e); }
/* Absolute expiry in unix ms, or TABLE_NO_EXPIRE. */
static inline int64_t tentry_expire(const tentry_t *e)
{
    int64_t x;
    if (!tentry_has_expire(e))
        return TABLE_NO_EXPIRE;
    memcpy(&x, e->data + tentry_lens(e), sizeof x);
    return x;
}

typedef struct table_ht {
    slab_ref *buckets;    /* each the first entry of its chain, or 0 */
    uint64_t size; /* a power of two, or 0 */
    uint64_t used; /* entries in this half */
} table_ht;

typedef struct table {
    table_ht ht[2];       /* ht[1] is the target of a rehash in progress */
    int64_t rehashidx;    /* next ht[0] bucket to move, -1 when not rehashing */
    int shared;           /* a forked child shares the entries' pages: no resize starts
                           * and lookups stamp no LRU (either would copy pages) */
    uint64_t seed[2];     /* SipHash key, random per process */
    uint64_t rng;         /* xorshift state for sampling */
    tentry_t **vol;       /* entries that carry an expiry */
    uint32_t nvol, capvol;
    size_t entry_bytes;   /* bytes the allocator holds for entries */
    size_t kv_bytes;      /* key + value bytes of all entries */
    uint32_t lru_clock;   /* set by the owner; stamped on entries it finds or creates */
    int64_t avg_ttl;      /* set by the owner: INFO keyspace's mean TTL of sampled keys, ms */
    uint64_t min_size;    /* no shrinking below this (table_expand) */
    int lfu;              /* entries' lru fields hold LFU data (see below) */
    int lfu_log_factor;   /* LFU: how slowly the counter grows */
    int lfu_decay_min;    /* LFU: minutes per counter decrement (0: no decay) */
} table_t;

/* Units of lru_clock in ms: an entry's 27 bits of 100 ms last 155 days
 * before an idle time wraps (Redis: 24 bits of 1 s, 194 days). */
#define TABLE_LRU_MS 100

/* How long e has gone unused, in lru_clock units. */
static inline uint32_t tentry_idle(const table_t *t, const tentry_t *e)
{
    return (t->lru_clock - e->lru) & TENTRY_LRU_MASK;
}

/* With t->lfu set, an entry's lru field holds, as in Redis, the minute it
 * was last decayed (16 bits, lru_clock / 600) and a logarithmic access
 * counter (8 bits) that starts at TABLE_LFU_INIT, grows with probability
 * 1 / ((counter - TABLE_LFU_INIT) * lfu_log_factor + 1) per access, and
 * loses one every lfu_decay_min minutes. */
#define TABLE_LFU_INIT 5

/* e's access counter after decay, without changing e. */
unsigned table_lfu_count(const table_t *t, const tentry_t *e);

/* Create an empty table. Aborts on OOM. */
table_t *table_new(void);

/* Free the table and every entry. NULL is a no-op. */
void table_free(table_t *t);

/* Remove every entry; the table stays usable. */
void table_clear(table_t *t);

/* Move t's entries into a new table, returned, and leave t empty: O(1),
 * for a FLUSH that may have to be taken back. t keeps its settings (LRU
 * clock, LFU mode, whether a fork shares it). */
table_t *table_take(table_t *t);

/* Undo table_take: t's current entries are freed, old's become t's again,
 * and old is freed. */
void table_give_back(table_t *t, table_t *old);

/* Number of entries. */
static inline uint64_t table_count(const table_t *t) { return t->ht[0].used + t->ht[1].used; }

/* Number of entries that carry an expiry. */
static inline uint32_t table_volatile_count(const table_t *t) { return t->nvol; }

/* Bytes the table holds: entries as the allocator sizes them, bucket
 * arrays and the expiry index. */
size_t table_bytes(const table_t *t);

/* A hint that the key whose table_hash is h is about to be looked up or
 * inserted: stage 0 starts loading its bucket, stage 1 (later, once that
 * has arrived) the first entry of the bucket's chain. Changes nothing. */
void table_prefetch(const table_t *t, uint64_t h, int stage);

/* The entry for key, or NULL. Does not look at expiry. Stamps the entry
 * with lru_clock, except while the table is shared with a fork (a stamp
 * would copy a page). */
tentry_t *table_find(table_t *t, const void *key, size_t klen);

/* table_find without the LRU stamp (for looking at, not using, a key). */
tentry_t *table_peek(table_t *t, const void *key, size_t klen);

/* Insert or replace key with val and expire (unix ms, or TABLE_NO_EXPIRE).
 * Returns the new entry. *replaced (if not NULL) says whether key existed. */
tentry_t *table_set(table_t *t, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t expire, int *replaced);

/* table_set for a caller that has the key's table_hash already (a loader
 * that hashed it to prefetch): h must be table_hash(t, key, klen). */
tentry_t *table_set_hashed(table_t *t, uint64_t h, const void *key, size_t klen, const void *val, size_t vlen,
                           int64_t expire, int *replaced);

/* Change the expiry of e (TABLE_NO_EXPIRE removes it). Returns the entry,
 * which may have moved. */
tentry_t *table_set_expire(table_t *t, tentry_t *e, int64_t expire);

/* Append n bytes to e's value, keeping its expiry. Returns the entry,
 * which may have moved. Growth is geometric, so repeated appends to one
 * key cost amortised O(n) in total. */
tentry_t *table_append(table_t *t, tentry_t *e, const void *p, size_t n);

/* Write n bytes of p at offset off of e's value, padding with zero bytes
 * when off is past its end and growing it as needed (SETRANGE); the
 * expiry stays. Returns the entry, which may have moved. */
tentry_t *table_write_at(table_t *t, tentry_t *e, size_t off, const void *p, size_t n);

/* Cut e's value to its first vlen bytes (an append taken back). */
void table_truncate(table_t *t, tentry_t *e, size_t vlen);

/* Replace e's value in place when the new value fits the allocation;
 * otherwise as table_set. Keeps the expiry. Returns the entry. */
tentry_t *table_set_value(table_t *t, tentry_t *e, const void *val, size_t vlen);

/* Remove key. Returns 1 when it existed, else 0. */
int table_del(table_t *t, const void *key, size_t klen);

/* Remove an entry found earlier. */
void table_del_entry(table_t *t, tentry_t *e);

/* A uniformly-ish random entry, or NULL when empty. */
tentry_t *table_random(table_t *t);

/* A random entry among those that carry an expiry, or NULL. */
tentry_t *table_random_volatile(table_t *t);

typedef void (*table_scan_fn)(void *ctx, const tentry_t *e);

/* Visit one step of a cursor scan, calling fn for the entries of the
 * buckets it covers, and return the next cursor (0 when done). Every entry
 * present for the whole scan is visited at least once, even across resizes;
 * some may be visited twice. fn must not modify the table. */
uint64_t table_scan(table_t *t, uint64_t cursor, table_scan_fn fn, void *ctx);

/* Call fn for every entry. fn must not modify the table. */
void table_foreach(table_t *t, table_scan_fn fn, void *ctx);

/* Call fn(ctx, i, e) for every entry e of the n tables t[0..n-1] (i: its
 * table), until fn returns nonzero. When only one table has entries and
 * they are every entry the slab holds (no other table alive), the entries
 * come in the order they lie in memory (slab_foreach), else table by table
 * in bucket order. For a walk over everything, such as a forked child
 * writing a base: in bucket order every entry is a cache miss and a TLB
 * miss of its own. fn must not modify the tables. */
typedef int (*table_each_fn)(void *ctx, uint32_t i, const tentry_t *e);
void table_foreach_all(table_t *const *t, uint32_t n, table_each_fn fn, void *ctx);

/* Make room for about n entries at once (bulk loads), so the load does not
 * pay for repeated growth: a rehash in progress is finished first, then the
 * table rehashes to the new size. Does nothing when the table is already
 * that big. Until table_expand_done(), the table
 * does not shrink below that size (it is mostly empty on purpose). */
void table_expand(table_t *t, uint64_t n);

/* The bulk load is over: the table may shrink again, and does so now
 * (to a load factor over 1/2) if the load turned out smaller than
 * expanded for. */
void table_expand_done(table_t *t);

/* Do up to n steps of incremental rehash. Returns 1 if rehash remains. */
int table_rehash(table_t *t, int n);

/* Rehash for about ms milliseconds (server cron). Returns steps done. */
int table_rehash_ms(table_t *t, int ms);

/* A forked child shares (1) or no longer shares (0) the table's pages:
 * while it does, no resize starts (unless the table is four times fuller
 * than its size) and lookups leave LRU stamps alone. */
void table_set_shared(table_t *t, int shared);

/* The keyed hash the table uses. It depends on the table's seed, which
 * stays the table's for its life except through table_take. */
uint64_t table_hash(const table_t *t, const void *key, size_t len);

#endif
