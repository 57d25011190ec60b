/* table: chained hash table with incremental rehash and a resize-safe
 * cursor scan. Layout and algorithm follow the well-known two-table scheme:
 * while rehashing, lookups consult both halves and every operation moves
 * one bucket from ht[0] to ht[1]. */
#include "config.h"
#include "table.h"
#include "slab.h"
#include "util.h"

#include <malloc.h>
#include <stdlib.h>

#define TABLE_INITIAL_SIZE 4
#define TABLE_FORCE_RATIO 4 /* grow even while paused once this full */

uint64_t table_hash(const table_t *t, const void *key, size_t len)
{
    return kvd_siphash(key, len, t->seed);
}

static inline uint64_t rng_next(table_t *t)
{
    uint64_t x = t->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t->rng = x;
    return x;
}

/* ---- entries ---- */

/* ---- access stamps: LRU clock, or LFU counter ---- */

static inline uint32_t lfu_minutes(const table_t *t)
{
    return (t->lru_clock / (60000 / TABLE_LRU_MS)) & 0xffff;
}

unsigned table_lfu_count(const table_t *t, const tentry_t *e)
{
    unsigned count = e->lru & 0xff;
    if (t->lfu_decay_min <= 0)
        return count;
    uint32_t elapsed = (lfu_minutes(t) - (e->lru >> 8)) & 0xffff;
    uint32_t periods = elapsed / (uint32_t)t->lfu_decay_min;
    return periods >= count ? 0 : count - periods;
}

/* The stamp for an access to e (old: its current stamp; fresh: a new key),
 * as wide as the entry's field. */
static uint32_t access_stamp(table_t *t, const tentry_t *e, int fresh)
{
    if (!t->lfu)
        return t->lru_clock & TENTRY_LRU_MASK;
    unsigned count = fresh ? TABLE_LFU_INIT : table_lfu_count(t, e);
    if (!fresh && count < 255) {
        unsigned base = count > TABLE_LFU_INIT ? count - TABLE_LFU_INIT : 0;
        uint64_t factor = t->lfu_log_factor > 0 ? (uint64_t)t->lfu_log_factor : 0;
        /* With probability 1 / (base * factor + 1), from 32 random bits. */
        if ((rng_next(t) & 0xffffffffu) < (1ULL << 32) / ((uint64_t)base * factor + 1))
            count++;
    }
    return (lfu_minutes(t) << 8) | count;
}

/* Store e's value length (which its format can hold). */
static inline void set_vlen(tentry_t *e, size_t vlen)
{
    if (e->lens == TENTRY_LENS_TINY) {
        e->data[1] = (unsigned char)vlen;
    } else if (e->lens == TENTRY_LENS_NARROW) {
        uint16_t v = (uint16_t)vlen;
        memcpy(e->data + 1, &v, sizeof v);
    } else {
        uint32_t v = (uint32_t)vlen;
        memcpy(e->data + 4, &v, sizeof v);
    }
}

static inline void set_lens(tentry_t *e, size_t klen, size_t vlen)
{
    if (e->lens == TENTRY_LENS_WIDE) {
        uint32_t k = (uint32_t)klen;
        memcpy(e->data, &k, sizeof k);
    } else {
        e->data[0] = (unsigned char)klen;
    }
    set_vlen(e, vlen);
}

/* The narrowest format for these lengths. */
static inline unsigned lens_format(size_t klen, size_t vlen)
{
    if (klen > TENTRY_NARROW_KLEN || vlen > TENTRY_NARROW_VLEN)
        return TENTRY_LENS_WIDE;
    return vlen > TENTRY_TINY_VLEN ? TENTRY_LENS_NARROW : TENTRY_LENS_TINY;
}

/* Does e's format hold a value of vlen bytes? */
static inline int holds(const tentry_t *e, size_t vlen)
{
    return e->lens >= lens_format(tentry_klen(e), vlen);
}

static tentry_t *entry_new(table_t *t, const void *key, size_t klen, const void *val, size_t vlen,
                           int64_t expire)
{
    size_t blk = expire != TABLE_NO_EXPIRE ? TENTRY_EXPIRE_BLOCK : 0;
    unsigned format = lens_format(klen, vlen);
    size_t lens = tentry_lens_size(format);
    tentry_t *e = slab_alloc(TENTRY_HDR + lens + blk + klen + vlen);
    e->next = 0;
    e->enc = 0;
    e->lens = format & 3;
    e->expires = blk != 0;
    e->lru = access_stamp(t, e, 1);
    set_lens(e, klen, vlen);
    if (blk)
        memcpy(e->data + lens, &expire, sizeof expire);
    if (klen)
        memcpy(e->data + lens + blk, key, klen);
    if (vlen)
        memcpy(e->data + lens + blk + klen, val, vlen);
    t->entry_bytes += slab_size(e);
    t->kv_bytes += klen + vlen;
    return e;
}

static void entry_free(table_t *t, tentry_t *e)
{
    t->entry_bytes -= slab_size(e);
    t->kv_bytes -= tentry_klen(e) + tentry_vlen(e);
    slab_free(e);
}

static inline uint32_t vol_index(const tentry_t *e)
{
    uint32_t i;
    memcpy(&i, e->data + tentry_lens(e) + 8, sizeof i);
    return i;
}

static inline void vol_set_index(tentry_t *e, uint32_t i)
{
    memcpy(e->data + tentry_lens(e) + 8, &i, sizeof i);
}

static void vol_add(table_t *t, tentry_t *e)
{
    if (t->nvol == t->capvol) {
        t->capvol = t->capvol ? t->capvol * 2 : 16;
        t->vol = xrealloc(t->vol, (size_t)t->capvol * sizeof(*t->vol));
    }
    vol_set_index(e, t->nvol);
    t->vol[t->nvol++] = e;
}

static void vol_remove(table_t *t, tentry_t *e)
{
    uint32_t i = vol_index(e);
    tentry_t *last = t->vol[--t->nvol];
    t->vol[i] = last;
    vol_set_index(last, i);
    if (t->capvol > 64 && t->nvol < t->capvol / 4) {
        t->capvol /= 2;
        t->vol = xrealloc(t->vol, (size_t)t->capvol * sizeof(*t->vol));
    }
}

/* ---- table ---- */

table_t *table_new(void)
{
    table_t *t = xcalloc(1, sizeof(*t));
    t->rehashidx = -1;
    kvd_random_bytes(t->seed, sizeof t->seed);
    kvd_random_bytes(&t->rng, sizeof t->rng);
    t->rng |= 1;
    return t;
}

static void ht_free_entries(table_t *t, table_ht *h)
{
    for (uint64_t i = 0; i < h->size && h->used; i++) {
        slab_ref r = h->buckets[i];
        while (r) {
            tentry_t *e = slab_ptr(r);
            r = e->next;
            entry_free(t, e);
            h->used--;
        }
    }
    free(h->buckets);
    *h = (table_ht){0};
}

void table_clear(table_t *t)
{
    ht_free_entries(t, &t->ht[0]);
    ht_free_entries(t, &t->ht[1]);
    t->rehashidx = -1;
    free(t->vol);
    t->vol = NULL;
    t->nvol = t->capvol = 0;
    t->avg_ttl = 0;
}

/* The fields that belong to the entries (the rest are settings). */
static void move_contents(table_t *to, table_t *from)
{
    memcpy(to->ht, from->ht, sizeof to->ht);
    to->rehashidx = from->rehashidx;
    memcpy(to->seed, from->seed, sizeof to->seed); /* bucket places depend on it */
    to->vol = from->vol;
    to->nvol = from->nvol;
    to->capvol = from->capvol;
    to->entry_bytes = from->entry_bytes;
    to->kv_bytes = from->kv_bytes;
    to->min_size = from->min_size;
    to->avg_ttl = from->avg_ttl;
    from->avg_ttl = 0;
    memset(from->ht, 0, sizeof from->ht);
    from->rehashidx = -1;
    from->vol = NULL;
    from->nvol = from->capvol = 0;
    from->entry_bytes = from->kv_bytes = 0;
    from->min_size = 0;
}

table_t *table_take(table_t *t)
{
    table_t *old = table_new();
    move_contents(old, t);
    kvd_random_bytes(t->seed, sizeof t->seed);
    return old;
}

void table_give_back(table_t *t, table_t *old)
{
    table_clear(t);
    move_contents(t, old);
    table_free(old);
}

void table_free(table_t *t)
{
    if (!t)
        return;
    table_clear(t);
    free(t);
}

size_t table_bytes(const table_t *t)
{
    return sizeof(*t) + t->entry_bytes + (size_t)(t->ht[0].size + t->ht[1].size) * sizeof(slab_ref) +
           (size_t)t->capvol * sizeof(tentry_t *);
}

static inline int rehashing(const table_t *t)
{
    return t->rehashidx != -1;
}

static void maybe_shrink(table_t *t);

int table_rehash(table_t *t, int n)
{
    if (!rehashing(t))
        return 0;
    int empty_visits = n * 10;
    table_ht *from = &t->ht[0], *to = &t->ht[1];
    uint64_t mask = to->size - 1;
    while (n-- && from->used) {
        while (from->buckets[t->rehashidx] == 0) {
            t->rehashidx++;
            if (--empty_visits == 0)
                return 1;
        }
        slab_ref r = from->buckets[t->rehashidx];
        while (r) {
            tentry_t *e = slab_ptr(r);
            slab_ref next = e->next;
            uint64_t h = table_hash(t, tentry_key(e), tentry_klen(e)) & mask;
            e->next = to->buckets[h];
            to->buckets[h] = r;
            from->used--;
            to->used++;
            r = next;
        }
        from->buckets[t->rehashidx] = 0;
        t->rehashidx++;
    }
    if (from->used == 0) {
        free(from->buckets);
        *from = *to;
        *to = (table_ht){0};
        t->rehashidx = -1;
        /* Deletes during the rehash may have left the new size too big. */
        maybe_shrink(t);
        return rehashing(t);
    }
    return 1;
}

int table_rehash_ms(table_t *t, int ms)
{
    uint64_t deadline = kvd_mono_ns() + (uint64_t)ms * 1000000u;
    int steps = 0;
    while (table_rehash(t, 100)) {
        steps += 100;
        if (kvd_mono_ns() > deadline)
            break;
    }
    return steps;
}

static inline void rehash_step(table_t *t)
{
    if (rehashing(t))
        table_rehash(t, 1);
}

static uint64_t next_pow2(uint64_t n)
{
    if (n <= TABLE_INITIAL_SIZE)
        return TABLE_INITIAL_SIZE;
    return 1ULL << (64 - __builtin_clzll(n - 1));
}

static void resize_to(table_t *t, uint64_t size)
{
    if (rehashing(t))
        return;
    size = next_pow2(size);
    if (size == t->ht[0].size)
        return;
    table_ht n = {xcalloc(size, sizeof(slab_ref)), size, 0};
    if (t->ht[0].size == 0) {
        t->ht[0] = n;
        return;
    }
    t->ht[1] = n;
    t->rehashidx = 0;
}

void table_expand(table_t *t, uint64_t n)
{
    /* A rehash in flight is finished first (it is small next to n). */
    while (rehashing(t) && n > t->ht[1].size)
        table_rehash(t, 1024);
    if (rehashing(t) || n <= t->ht[0].size)
        return;
    t->min_size = next_pow2(n);
    if (table_count(t) == 0) {
        free(t->ht[0].buckets);
        t->ht[0] = (table_ht){xcalloc(next_pow2(n), sizeof(slab_ref)), next_pow2(n), 0};
        return;
    }
    resize_to(t, n);
}

static void maybe_grow(table_t *t)
{
    if (rehashing(t))
        return;
    uint64_t used = t->ht[0].used, size = t->ht[0].size;
    if (size == 0) {
        resize_to(t, TABLE_INITIAL_SIZE);
        return;
    }
    if (used >= size && (!t->shared || used / size > TABLE_FORCE_RATIO))
        resize_to(t, used * 2);
}

static void maybe_shrink(table_t *t)
{
    if (rehashing(t) || t->shared)
        return;
    uint64_t used = t->ht[0].used, size = t->ht[0].size;
    if (size > TABLE_INITIAL_SIZE && size > t->min_size && used * 10 < size)
        resize_to(t, used > t->min_size ? used : t->min_size);
}

void table_expand_done(table_t *t)
{
    t->min_size = 0;
    /* Overwrites and deletes in the log make the estimate high: fit the
     * table to what was loaded (load factor over 1/2, as growth leaves it). */
    uint64_t used = t->ht[0].used, size = t->ht[0].size;
    if (!rehashing(t) && size > TABLE_INITIAL_SIZE && used * 2 < size)
        resize_to(t, used);
}

void table_set_shared(table_t *t, int shared)
{
    t->shared = shared;
}

/* Return the link that names key's entry (or NULL if absent), and in *half
 * (if not NULL) the half it is in. */
static tlink_t *find_link(table_t *t, const void *key, size_t klen, uint64_t h, int *half)
{
    for (int i = 0; i <= 1; i++) {
        table_ht *ht = &t->ht[i];
        if (ht->size == 0)
            break;
        for (tlink_t *link = &ht->buckets[h & (ht->size - 1)]; *link;) {
            tentry_t *e = slab_ptr(*link);
            if (tentry_klen(e) == klen && memcmp(tentry_key(e), key, klen) == 0) {
                if (half)
                    *half = i;
                return link;
            }
            link = &e->next;
        }
        if (!rehashing(t))
            break;
    }
    return NULL;
}

void table_prefetch(const table_t *t, uint64_t h, int stage)
{
    const table_ht *ht = rehashing(t) ? &t->ht[1] : &t->ht[0];
    if (!ht->size)
        return;
    const slab_ref *b = &ht->buckets[h & (ht->size - 1)];
    if (stage == 0) {
        __builtin_prefetch(b);
    } else if (*b) {
        /* Slots are not aligned to cache lines: the header may end a line
         * and the lengths and key start the next. */
        const char *e = slab_ptr(*b);
        __builtin_prefetch(e);
        __builtin_prefetch(e + 24);
    }
}

tentry_t *table_peek(table_t *t, const void *key, size_t klen)
{
    if (table_count(t) == 0)
        return NULL;
    tlink_t *link = find_link(t, key, klen, table_hash(t, key, klen), NULL);
    return link ? slab_ptr(*link) : NULL;
}

tentry_t *table_find(table_t *t, const void *key, size_t klen)
{
    if (table_count(t) == 0)
        return NULL;
    rehash_step(t);
    tentry_t *e = table_peek(t, key, klen);
    if (e && !t->shared)
        e->lru = access_stamp(t, e, 0);
    return e;
}

static size_t entry_room(tentry_t *e);

/* Bytes before the value. */
static size_t entry_header(const tentry_t *e)
{
    return TENTRY_HDR + tentry_key_off(e) + tentry_klen(e);
}

/* Overwrite e in place when the new value fits its allocation without
 * wasting much of it and the expiry block stays (or stays away): a SET
 * over an existing key then costs no malloc. Returns 1 if done. */
static int reuse_entry(table_t *t, tentry_t *e, const void *val, size_t vlen, int64_t expire)
{
    int blk = expire != TABLE_NO_EXPIRE;
    if (blk != tentry_has_expire(e) || !holds(e, vlen))
        return 0;
    size_t need = entry_header(e) + vlen, room = entry_room(e);
    if (need > room || room > 2 * need + 32)
        return 0;
    if (blk)
        memcpy(e->data + tentry_lens(e), &expire, sizeof expire); /* the index slot stays */
    memmove(tentry_val(e), val, vlen);
    t->kv_bytes = t->kv_bytes - tentry_vlen(e) + vlen;
    set_vlen(e, vlen);
    e->enc = 0;
    e->lru = access_stamp(t, e, 0);
    return 1;
}

tentry_t *table_set(table_t *t, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t expire, int *replaced)
{
    return table_set_hashed(t, table_hash(t, key, klen), key, klen, val, vlen, expire, replaced);
}

tentry_t *table_set_hashed(table_t *t, uint64_t h, const void *key, size_t klen, const void *val, size_t vlen,
                           int64_t expire, int *replaced)
{
    rehash_step(t);
    tlink_t *link = table_count(t) ? find_link(t, key, klen, h, NULL) : NULL;
    if (link && reuse_entry(t, slab_ptr(*link), val, vlen, expire)) {
        if (replaced)
            *replaced = 1;
        return slab_ptr(*link);
    }
    tentry_t *n = entry_new(t, key, klen, val, vlen, expire);
    if (link) {
        tentry_t *old = slab_ptr(*link);
        n->lru = access_stamp(t, old, 0); /* an overwrite is a use (LFU: keeps the count) */
        n->next = old->next;
        *link = slab_ref_of(n);
        if (tentry_has_expire(old))
            vol_remove(t, old);
        entry_free(t, old);
        if (replaced)
            *replaced = 1;
    } else {
        maybe_grow(t);
        table_ht *ht = rehashing(t) ? &t->ht[1] : &t->ht[0];
        slab_ref *b = &ht->buckets[h & (ht->size - 1)];
        n->next = *b;
        *b = slab_ref_of(n);
        ht->used++;
        if (replaced)
            *replaced = 0;
    }
    if (expire != TABLE_NO_EXPIRE)
        vol_add(t, n);
    return n;
}

/* Unlink the entry at link, from half i, and free it. */
static void unlink_free(table_t *t, tlink_t *link, int i)
{
    tentry_t *e = slab_ptr(*link);
    *link = e->next;
    t->ht[i].used--;
    if (tentry_has_expire(e))
        vol_remove(t, e);
    entry_free(t, e);
    maybe_shrink(t);
}

static int del_hashed(table_t *t, const void *key, size_t klen, uint64_t h)
{
    int half;
    tlink_t *link = find_link(t, key, klen, h, &half);
    if (!link)
        return 0;
    unlink_free(t, link, half);
    return 1;
}

int table_del(table_t *t, const void *key, size_t klen)
{
    if (table_count(t) == 0)
        return 0;
    rehash_step(t);
    return del_hashed(t, key, klen, table_hash(t, key, klen));
}

void table_del_entry(table_t *t, tentry_t *e)
{
    /* No rehash step here: the caller may hold e from before. */
    del_hashed(t, tentry_key(e), tentry_klen(e), table_hash(t, tentry_key(e), tentry_klen(e)));
}

tentry_t *table_set_expire(table_t *t, tentry_t *e, int64_t expire)
{
    int had = tentry_has_expire(e);
    if (had && expire != TABLE_NO_EXPIRE) {
        memcpy(e->data + tentry_lens(e), &expire, sizeof expire);
        return e;
    }
    if (!had && expire == TABLE_NO_EXPIRE)
        return e;
    /* The block appears or disappears: rebuild the entry in its slot. */
    size_t klen = tentry_klen(e);
    uint64_t h = table_hash(t, tentry_key(e), klen);
    tlink_t *link = find_link(t, tentry_key(e), klen, h, NULL);
    tentry_t *n = entry_new(t, tentry_key(e), klen, tentry_val(e), tentry_vlen(e), expire);
    n->lru = e->lru;
    n->enc = e->enc;
    n->next = e->next;
    *link = slab_ref_of(n);
    if (had)
        vol_remove(t, e);
    else
        vol_add(t, n);
    entry_free(t, e);
    return n;
}

/* Resize e's allocation to alloc bytes, fixing
 * the chain link and the expiry index if it moves. */
static tentry_t *entry_resize(table_t *t, tentry_t *e, size_t alloc)
{
    size_t klen = tentry_klen(e);
    tlink_t *link = find_link(t, tentry_key(e), klen, table_hash(t, tentry_key(e), klen), NULL);
    t->entry_bytes -= slab_size(e);
    tentry_t *n = slab_realloc(e, alloc);
    t->entry_bytes += slab_size(n);
    *link = slab_ref_of(n);
    if (tentry_has_expire(n))
        t->vol[vol_index(n)] = n;
    return n;
}

static size_t entry_room(tentry_t *e)
{
    return slab_usable(e);
}

/* e's value is about to grow to vlen bytes, which its lengths' format
 * does not hold: the format becomes the one that does (the expiry block,
 * key and value move up). Returns the entry, which may have moved. */
static tentry_t *entry_widen(table_t *t, tentry_t *e, size_t vlen)
{
    size_t klen = tentry_klen(e), cur = tentry_vlen(e), from = tentry_lens(e);
    unsigned format = lens_format(klen, vlen);
    size_t to = tentry_lens_size(format);
    size_t rest = (tentry_has_expire(e) ? TENTRY_EXPIRE_BLOCK : 0) + klen + cur;
    if (TENTRY_HDR + to + rest > entry_room(e))
        e = entry_resize(t, e, TENTRY_HDR + to + rest);
    memmove(e->data + to, e->data + from, rest);
    e->lens = format & 3;
    set_lens(e, klen, cur);
    return e;
}

tentry_t *table_append(table_t *t, tentry_t *e, const void *p, size_t n)
{
    if (!holds(e, tentry_vlen(e) + n))
        e = entry_widen(t, e, tentry_vlen(e) + n);
    size_t hdr = entry_header(e), old = tentry_vlen(e), need = hdr + old + n;
    if (need > entry_room(e)) {
        size_t alloc = need + (old + n) / 2; /* room for the next appends */
        e = entry_resize(t, e, alloc);
    }
    memcpy((char *)e + hdr + old, p, n);
    set_vlen(e, old + n);
    t->kv_bytes += n;
    return e;
}

tentry_t *table_write_at(table_t *t, tentry_t *e, size_t off, const void *p, size_t n)
{
    size_t old = tentry_vlen(e);
    if (off + n > old) {
        if (!holds(e, off + n))
            e = entry_widen(t, e, off + n);
        size_t hdr = entry_header(e), need = hdr + off + n;
        if (need > entry_room(e))
            e = entry_resize(t, e, need);
        memset(tentry_val(e) + old, 0, off + n - old);
        t->kv_bytes += off + n - old;
        set_vlen(e, off + n);
    }
    if (n)
        memcpy(tentry_val(e) + off, p, n);
    return e;
}

void table_truncate(table_t *t, tentry_t *e, size_t vlen)
{
    t->kv_bytes -= tentry_vlen(e) - vlen;
    set_vlen(e, vlen);
}

tentry_t *table_set_value(table_t *t, tentry_t *e, const void *val, size_t vlen)
{
    if (!holds(e, vlen))
        e = entry_widen(t, e, vlen);
    size_t hdr = entry_header(e), old = tentry_vlen(e);
    if (hdr + vlen > entry_room(e))
        e = entry_resize(t, e, hdr + vlen);
    memcpy((char *)e + hdr, val, vlen);
    set_vlen(e, vlen);
    t->kv_bytes = t->kv_bytes - old + vlen;
    return e;
}

tentry_t *table_random(table_t *t)
{
    if (table_count(t) == 0)
        return NULL;
    rehash_step(t);
    slab_ref r = 0;
    if (rehashing(t)) {
        /* Buckets below rehashidx in ht[0] are empty: skip them. */
        uint64_t lo = (uint64_t)t->rehashidx;
        uint64_t span = t->ht[0].size + t->ht[1].size - lo;
        while (!r) {
            uint64_t i = lo + rng_next(t) % span;
            r = i >= t->ht[0].size ? t->ht[1].buckets[i - t->ht[0].size] : t->ht[0].buckets[i];
        }
    } else {
        uint64_t mask = t->ht[0].size - 1;
        while (!r)
            r = t->ht[0].buckets[rng_next(t) & mask];
    }
    /* Pick uniformly within the chain. */
    uint64_t len = 0;
    for (slab_ref c = r; c; c = ((tentry_t *)slab_ptr(c))->next)
        len++;
    tentry_t *e = slab_ptr(r);
    uint64_t k = rng_next(t) % len;
    while (k--)
        e = slab_ptr(e->next);
    return e;
}

tentry_t *table_random_volatile(table_t *t)
{
    if (t->nvol == 0)
        return NULL;
    return t->vol[rng_next(t) % t->nvol];
}

static inline uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return __builtin_bswap64(v);
}

static void emit_bucket(slab_ref r, table_scan_fn fn, void *ctx)
{
    while (r) {
        const tentry_t *e = slab_ptr(r);
        fn(ctx, e);
        r = e->next;
    }
}

uint64_t table_scan(table_t *t, uint64_t v, table_scan_fn fn, void *ctx)
{
    if (table_count(t) == 0)
        return 0;
    if (!rehashing(t)) {
        uint64_t m0 = t->ht[0].size - 1;
        emit_bucket(t->ht[0].buckets[v & m0], fn, ctx);
        v |= ~m0;
        v = rev64(v);
        v++;
        v = rev64(v);
        return v;
    }
    table_ht *small = &t->ht[0], *large = &t->ht[1];
    if (small->size > large->size) {
        small = &t->ht[1];
        large = &t->ht[0];
    }
    uint64_t m0 = small->size - 1, m1 = large->size - 1;
    emit_bucket(small->buckets[v & m0], fn, ctx);
    /* Visit every bucket of the larger half that expands the small one's. */
    do {
        emit_bucket(large->buckets[v & m1], fn, ctx);
        v |= ~m1;
        v = rev64(v);
        v++;
        v = rev64(v);
    } while (v & (m0 ^ m1));
    return v;
}

/* How many buckets ahead table_foreach fetches entries: entries lie in
 * no order the buckets follow, so without it the walk waits for memory at
 * every entry. */
#define FOREACH_AHEAD 16

void table_foreach(table_t *t, table_scan_fn fn, void *ctx)
{
    for (int i = 0; i <= 1; i++) {
        const table_ht *h = &t->ht[i];
        for (uint64_t b = 0; b < h->size; b++) {
            if (b + FOREACH_AHEAD < h->size && h->buckets[b + FOREACH_AHEAD]) {
                const char *e = slab_ptr(h->buckets[b + FOREACH_AHEAD]);
                __builtin_prefetch(e);
                __builtin_prefetch(e + 64);
                __builtin_prefetch(e + 127);
            }
            emit_bucket(h->buckets[b], fn, ctx);
        }
    }
}

typedef struct each_ctx {
    table_each_fn fn;
    void *ctx;
    uint32_t i;
    int stop;
} each_ctx;

static int each_slot(void *ctx, void *p)
{
    each_ctx *c = ctx;
    return c->fn(c->ctx, c->i, p);
}

static void each_entry(void *ctx, const tentry_t *e)
{
    each_ctx *c = ctx;
    if (!c->stop)
        c->stop = c->fn(c->ctx, c->i, e);
}

void table_foreach_all(table_t *const *t, uint32_t n, table_each_fn fn, void *ctx)
{
    each_ctx c = {.fn = fn, .ctx = ctx};
    uint32_t nonempty = 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        if (table_count(t[i])) {
            nonempty++;
            c.i = i;
            total += table_count(t[i]);
        }
    if (nonempty == 1 && total == slab_count()) {
        slab_foreach(each_slot, &c);
        return;
    }
    for (c.i = 0; c.i < n && !c.stop; c.i++)
        table_foreach(t[c.i], each_entry, &c);
}
