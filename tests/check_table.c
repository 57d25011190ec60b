/* Unit tests for the hash table: binary keys, replace, expiry index,
 * 1M-key consistency, scans across growth and shrink, sampling, and the
 * entries' two header formats under random changes against a model. */
#include "config.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static int keyf(char *dst, int i)
{
    return sprintf(dst, "key:%d", i);
}

START_TEST(test_binary_keys)
{
    table_t *t = table_new();
    char k1[] = {'a', 0, 'b'};
    char k2[] = {'a', 0, 'c'};
    table_set(t, k1, 3, "v1", 2, TABLE_NO_EXPIRE, NULL);
    table_set(t, k2, 3, "\0\1\2", 3, TABLE_NO_EXPIRE, NULL);
    table_set(t, "", 0, "", 0, TABLE_NO_EXPIRE, NULL); /* empty key and value */
    ck_assert_uint_eq(table_count(t), 3);
    tentry_t *e = table_find(t, k1, 3);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(tentry_vlen(e), 2);
    ck_assert_int_eq(memcmp(tentry_val(e), "v1", 2), 0);
    e = table_find(t, k2, 3);
    ck_assert_int_eq(memcmp(tentry_val(e), "\0\1\2", 3), 0);
    ck_assert_ptr_null(table_find(t, "a", 1));
    ck_assert_ptr_nonnull(table_find(t, "", 0));
    ck_assert_int_eq(table_del(t, k1, 3), 1);
    ck_assert_int_eq(table_del(t, k1, 3), 0);
    ck_assert_uint_eq(table_count(t), 2);
    table_free(t);
}
END_TEST

START_TEST(test_replace)
{
    table_t *t = table_new();
    int replaced = -1;
    table_set(t, "k", 1, "one", 3, TABLE_NO_EXPIRE, &replaced);
    ck_assert_int_eq(replaced, 0);
    table_set(t, "k", 1, "three", 5, TABLE_NO_EXPIRE, &replaced);
    ck_assert_int_eq(replaced, 1);
    ck_assert_uint_eq(table_count(t), 1);
    tentry_t *e = table_find(t, "k", 1);
    ck_assert_uint_eq(tentry_vlen(e), 5);
    ck_assert_int_eq(memcmp(tentry_val(e), "three", 5), 0);
    ck_assert_uint_eq(t->kv_bytes, 6);
    table_free(t);
}
END_TEST

START_TEST(test_expire_index)
{
    table_t *t = table_new();
    table_set(t, "a", 1, "1", 1, 1000, NULL);
    table_set(t, "b", 1, "2", 1, TABLE_NO_EXPIRE, NULL);
    ck_assert_uint_eq(table_volatile_count(t), 1);
    tentry_t *e = table_find(t, "a", 1);
    ck_assert_int_eq(tentry_expire(e), 1000);
    ck_assert_int_eq(memcmp(tentry_key(e), "a", 1), 0);
    ck_assert_int_eq(memcmp(tentry_val(e), "1", 1), 0);
    ck_assert_ptr_eq(table_random_volatile(t), e);

    e = table_find(t, "b", 1);
    e = table_set_expire(t, e, 5000);
    ck_assert_int_eq(tentry_expire(e), 5000);
    ck_assert_int_eq(memcmp(tentry_val(e), "2", 1), 0);
    ck_assert_uint_eq(table_volatile_count(t), 2);
    e = table_set_expire(t, e, 6000); /* in place */
    ck_assert_int_eq(tentry_expire(table_find(t, "b", 1)), 6000);

    e = table_find(t, "a", 1);
    e = table_set_expire(t, e, TABLE_NO_EXPIRE);
    ck_assert_int_eq(tentry_expire(e), TABLE_NO_EXPIRE);
    ck_assert_uint_eq(table_volatile_count(t), 1);
    ck_assert_ptr_eq(table_random_volatile(t), table_find(t, "b", 1));

    /* Replacing drops the old expiry unless given again. */
    table_set(t, "b", 1, "x", 1, TABLE_NO_EXPIRE, NULL);
    ck_assert_uint_eq(table_volatile_count(t), 0);
    ck_assert_ptr_null(table_random_volatile(t));
    table_free(t);
}
END_TEST

static void million_inserts_and_deletes(void)
{
    table_t *t = table_new();
    const int n = 1000000;
    char k[32];
    for (int i = 0; i < n; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, k, (size_t)l, (i % 10 == 0) ? 1000 + i : TABLE_NO_EXPIRE, NULL);
    }
    ck_assert_uint_eq(table_count(t), (uint64_t)n);
    ck_assert_uint_eq(table_volatile_count(t), (uint32_t)(n / 10));
    for (int i = 0; i < n; i += 2) {
        int l = keyf(k, i);
        ck_assert_int_eq(table_del(t, k, (size_t)l), 1);
    }
    ck_assert_uint_eq(table_count(t), (uint64_t)(n / 2));
    ck_assert_uint_eq(table_volatile_count(t), 0); /* every 10th is even */
    for (int i = 0; i < n; i++) {
        int l = keyf(k, i);
        tentry_t *e = table_find(t, k, (size_t)l);
        if (i % 2) {
            ck_assert_ptr_nonnull(e);
            ck_assert_int_eq(memcmp(tentry_val(e), k, (size_t)l), 0);
        } else {
            ck_assert_ptr_null(e);
        }
    }
    for (int i = 1; i < n; i += 2) {
        int l = keyf(k, i);
        ck_assert_int_eq(table_del(t, k, (size_t)l), 1);
    }
    ck_assert_uint_eq(table_count(t), 0);
    ck_assert_uint_eq(t->kv_bytes, 0);
    ck_assert_uint_eq(t->entry_bytes, 0);
    /* It shrank back down (allow the rehash target to still be live). */
    table_rehash_ms(t, 1000);
    ck_assert_uint_le(table_bytes(t), 4096);
    table_free(t);
}

START_TEST(test_million_inserts_and_deletes)
{
    million_inserts_and_deletes();
}
END_TEST

/* The same with the slab out of arenas after 16 MiB (of the 32 a million
 * entries take): the rest live in malloc's memory, named through the
 * slab's table of big allocations, in the same chains. */
START_TEST(test_million_past_the_last_arena)
{
    slab_stats st;
    slab_get_stats(&st);
    slab_limit_arenas(st.mapped / ((size_t)4 << 20) + 4);
    million_inserts_and_deletes();
    slab_limit_arenas(SLAB_ARENAS);
}
END_TEST

typedef struct seen {
    unsigned char *hit;
    int n;
} seen;

static void mark(void *ctx, const tentry_t *e)
{
    seen *s = ctx;
    char k[32];
    size_t l = tentry_klen(e);
    ck_assert_uint_lt(l, sizeof k);
    memcpy(k, tentry_key(e), l);
    k[l] = '\0';
    int i = atoi(k + 4);
    if (i >= 0 && i < s->n)
        s->hit[i] = 1;
}

START_TEST(test_scan_across_growth)
{
    table_t *t = table_new();
    const int n = 1000;
    char k[32];
    for (int i = 0; i < n; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    seen s = {calloc((size_t)n, 1), n};
    uint64_t cursor = 0;
    int steps = 0, extra = 0;
    do {
        cursor = table_scan(t, cursor, mark, &s);
        /* Keep growing the table while the scan is under way (one key per
         * step: it crosses two doublings before the scan ends). */
        for (int j = 0; j < 1; j++, extra++) {
            int l = sprintf(k, "new:%d", extra);
            table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
        }
        steps++;
    } while (cursor != 0);
    for (int i = 0; i < n; i++)
        ck_assert_msg(s.hit[i], "key %d not returned by scan", i);
    ck_assert_int_gt(steps, 1);
    ck_assert_int_gt(extra, 2048 - n); /* the table resized mid-scan */
    free(s.hit);
    table_free(t);
}
END_TEST

START_TEST(test_scan_across_shrink)
{
    table_t *t = table_new();
    const int n = 100, junk = 20000;
    char k[32];
    for (int i = 0; i < junk; i++) {
        int l = sprintf(k, "junk:%d", i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    for (int i = 0; i < n; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    table_rehash_ms(t, 1000);
    seen s = {calloc((size_t)n, 1), n};
    uint64_t cursor = 0;
    int next_junk = 0;
    do {
        cursor = table_scan(t, cursor, mark, &s);
        /* Delete the junk quickly so the table shrinks mid-scan. */
        for (int j = 0; j < 2000 && next_junk < junk; j++, next_junk++) {
            int l = sprintf(k, "junk:%d", next_junk);
            table_del(t, k, (size_t)l);
        }
    } while (cursor != 0);
    for (int i = 0; i < n; i++)
        ck_assert_msg(s.hit[i], "key %d not returned by scan", i);
    free(s.hit);
    table_free(t);
}
END_TEST

static void count_cb(void *ctx, const tentry_t *e)
{
    (void)e;
    (*(int *)ctx)++;
}

START_TEST(test_scan_full_no_changes)
{
    table_t *t = table_new();
    char k[32];
    for (int i = 0; i < 5000; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    int count = 0;
    uint64_t c = 0;
    do
        c = table_scan(t, c, count_cb, &count);
    while (c);
    /* Without changes no key is returned twice. */
    ck_assert_int_eq(count, 5000);
    count = 0;
    table_foreach(t, count_cb, &count);
    ck_assert_int_eq(count, 5000);
    table_free(t);
}
END_TEST

/* What table_foreach_all saw: per key number, the table it came from
 * (+1), or 0. */
typedef struct saw {
    unsigned char *from;
    int n, dup;
} saw;

static int saw_entry(void *ctx, uint32_t i, const tentry_t *e)
{
    saw *s = ctx;
    char kk[32];
    memcpy(kk, tentry_key(e), tentry_klen(e));
    kk[tentry_klen(e)] = 0;
    int k = atoi(kk + 4);
    s->dup += s->from[k] != 0;
    s->from[k] = (unsigned char)(i + 1);
    s->n++;
    return 0;
}

static int stop_at_100(void *ctx, uint32_t i, const tentry_t *e)
{
    (void)i;
    (void)e;
    return ++*(int *)ctx == 100;
}

/* table_foreach_all visits every entry of the tables it is given once,
 * with its table's index, and no entry of a table it is not given: with
 * one table holding entries (the memory-order walk), with two, and with
 * a table outside the list holding some (back to bucket order). Values
 * of mixed sizes, some past SLAB_MAX, and deletions leave holes. */
START_TEST(test_foreach_all)
{
    enum { N = 30000 };
    table_t *t[3] = {table_new(), table_new(), table_new()};
    char k[32];
    static char val[3000];
    memset(val, 'v', sizeof val);
    unsigned char where[N] = {0}; /* the table holding key i, +1 */
    uint64_t rng = 42;
    for (int step = 0; step < 4 * N; step++) {
        int i = (int)(tu_rand(&rng) % N);
        int l = keyf(k, i);
        uint64_t r = tu_rand(&rng);
        if (where[i] && r % 3 == 0) {
            ck_assert_int_eq(table_del(t[where[i] - 1], k, (size_t)l), 1);
            where[i] = 0;
        } else if (!where[i]) {
            table_set(t[0], k, (size_t)l, val, r % 50 == 0 ? 1500 + r % 1000 : r % 200, TABLE_NO_EXPIRE, NULL);
            where[i] = 1;
        }
    }
    saw s = {.from = calloc(N, 1)};
    for (int round = 0; round < 3; round++) {
        if (round == 1) /* a second table with entries */
            for (int i = 0; i < N; i += 7)
                if (!where[i]) {
                    int l = keyf(k, i);
                    table_set(t[1], k, (size_t)l, val, 10, TABLE_NO_EXPIRE, NULL);
                    where[i] = 2;
                }
        if (round == 2) /* every entry of t[1] moves to a table not walked */
            for (int i = 0; i < N; i++)
                if (where[i] == 2) {
                    int l = keyf(k, i);
                    table_del(t[1], k, (size_t)l);
                    table_set(t[2], k, (size_t)l, val, 10, TABLE_NO_EXPIRE, NULL);
                    where[i] = 3;
                }
        memset(s.from, 0, N);
        s.n = s.dup = 0;
        table_foreach_all(t, 2, saw_entry, &s);
        ck_assert_int_eq(s.dup, 0);
        for (int i = 0; i < N; i++)
            ck_assert_msg(s.from[i] == (where[i] == 3 ? 0 : where[i]), "round %d: key %d in table %d seen as %d",
                          round, i, where[i], s.from[i]);
        int calls = 0;
        table_foreach_all(t, 2, stop_at_100, &calls);
        ck_assert_int_eq(calls, 100);
    }
    free(s.from);
    for (int i = 0; i < 3; i++)
        table_free(t[i]);
}
END_TEST

START_TEST(test_random)
{
    table_t *t = table_new();
    ck_assert_ptr_null(table_random(t));
    char k[32];
    for (int i = 0; i < 100; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    unsigned char hit[100] = {0};
    for (int i = 0; i < 10000; i++) {
        tentry_t *e = table_random(t);
        ck_assert_ptr_nonnull(e);
        char kk[32];
        memcpy(kk, tentry_key(e), tentry_klen(e));
        kk[tentry_klen(e)] = 0;
        hit[atoi(kk + 4)] = 1;
    }
    for (int i = 0; i < 100; i++)
        ck_assert(hit[i]);
    table_free(t);
}
END_TEST

START_TEST(test_incremental_rehash)
{
    table_t *t = table_new();
    char k[32];
    int saw_rehash = 0;
    for (int i = 0; i < 100000; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
        if (t->rehashidx != -1)
            saw_rehash = 1;
        /* Every key stays findable while a rehash is in flight. */
        if (i % 997 == 0)
            for (int j = 0; j <= i; j += 101) {
                int m = keyf(k, j);
                ck_assert_ptr_nonnull(table_find(t, k, (size_t)m));
            }
    }
    ck_assert(saw_rehash);
    table_free(t);
}
END_TEST

/* A bulk load expanded up front never rehashes, even though its first
 * entries leave the table mostly empty (a shrink there would undo the
 * expansion and make the load rehash its way up after all). */
START_TEST(test_expand_for_bulk_load)
{
    table_t *t = table_new();
    char k[32];
    for (int i = 0; i < 10; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    table_expand(t, 100000);
    for (int i = 10; i < 100000; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
        if (i > 1000)
            ck_assert_int_eq(t->rehashidx, -1);
    }
    ck_assert_uint_eq(t->ht[0].size, 131072);
    table_expand_done(t);
    ck_assert_uint_eq(t->ht[0].size, 131072);
    /* Expanded for far more than came: once done, it shrinks. */
    table_t *u = table_new();
    table_expand(u, 1000000);
    for (int i = 0; i < 5000; i++) {
        int l = keyf(k, i);
        table_set(u, k, (size_t)l, "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    ck_assert_uint_eq(u->ht[0].size + u->ht[1].size, 1048576);
    table_expand_done(u);
    while (table_rehash(u, 1000))
        ;
    ck_assert_uint_lt(u->ht[0].size, 16384);
    for (int i = 0; i < 5000; i += 7) {
        int l = keyf(k, i);
        ck_assert_ptr_nonnull(table_find(u, k, (size_t)l));
    }
    table_free(t);
    table_free(u);
}
END_TEST

/* SET over an existing key reuses the entry when the value fits (no
 * malloc), and only then. */
START_TEST(test_overwrite_in_place)
{
    table_t *t = table_new();
    char big[1000];
    memset(big, 'b', sizeof big);
    tentry_t *e = table_set(t, "k", 1, big, 100, TABLE_NO_EXPIRE, NULL);
    size_t kv = t->kv_bytes, bytes = table_bytes(t);
    int replaced = 0;
    tentry_t *f = table_set(t, "k", 1, "abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789", 80,
                            TABLE_NO_EXPIRE, &replaced);
    ck_assert_ptr_eq(f, e);
    ck_assert_int_eq(replaced, 1);
    ck_assert_uint_eq(tentry_vlen(f), 80);
    ck_assert_mem_eq(tentry_val(f), "abcdefghij", 10);
    ck_assert_uint_eq(t->kv_bytes, kv - 20);
    ck_assert_uint_eq(table_bytes(t), bytes);
    /* Gaining an expiry needs the block: a new entry, in the index. */
    f = table_set(t, "k", 1, "v", 1, 5000, NULL);
    ck_assert_uint_eq(table_volatile_count(t), 1);
    /* With an expiry both times: in place, the expiry updated. */
    tentry_t *g = table_set(t, "k", 1, "w", 1, 6000, NULL);
    ck_assert_ptr_eq(g, f);
    ck_assert_int_eq(tentry_expire(g), 6000);
    ck_assert_ptr_eq(table_random_volatile(t), g);
    /* Far bigger, or far smaller: a fresh allocation. */
    g = table_set(t, "k", 1, big, sizeof big, TABLE_NO_EXPIRE, NULL);
    ck_assert_uint_eq(table_volatile_count(t), 0);
    tentry_t *h = table_set(t, "k", 1, "x", 1, TABLE_NO_EXPIRE, NULL);
    ck_assert_ptr_ne(h, g);
    ck_assert_uint_eq(t->kv_bytes, 2);
    ck_assert_uint_eq(table_count(t), 1);
    table_free(t);
}
END_TEST

START_TEST(test_clear_and_bytes)
{
    table_t *t = table_new();
    size_t empty = table_bytes(t);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        int l = keyf(k, i);
        table_set(t, k, (size_t)l, "value", 5, i % 2 ? 99 : TABLE_NO_EXPIRE, NULL);
    }
    ck_assert_uint_gt(table_bytes(t), empty + 1000 * 10);
    table_clear(t);
    ck_assert_uint_eq(table_count(t), 0);
    ck_assert_uint_eq(table_volatile_count(t), 0);
    ck_assert_uint_eq(table_bytes(t), empty);
    table_set(t, "x", 1, "y", 1, TABLE_NO_EXPIRE, NULL);
    ck_assert_uint_eq(table_count(t), 1);
    table_free(t);
}
END_TEST


/* Every way an entry's key, value and expiry change, at random, with keys
 * on both sides of the narrow key length and values crossing the narrow
 * value length both ways, checked against a plain model after each step. */
#define M_KEYS 24
typedef struct mkey {
    char *key, *val;
    size_t klen, vlen;
    int64_t exp;
    int live;
} mkey;

static void model_check(table_t *t, mkey *m)
{
    uint64_t n = 0, nvol = 0;
    for (int i = 0; i < M_KEYS; i++) {
        tentry_t *e = table_peek(t, m[i].key, m[i].klen);
        if (!m[i].live) {
            ck_assert_ptr_null(e);
            continue;
        }
        n++;
        nvol += m[i].exp != TABLE_NO_EXPIRE;
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(tentry_klen(e), m[i].klen);
        ck_assert_mem_eq(tentry_key(e), m[i].key, m[i].klen);
        ck_assert_uint_eq(tentry_vlen(e), m[i].vlen);
        ck_assert_int_eq(memcmp(tentry_val(e), m[i].val, m[i].vlen), 0);
        ck_assert_int_eq(tentry_expire(e), m[i].exp);
    }
    ck_assert_uint_eq(table_count(t), n);
    ck_assert_uint_eq(table_volatile_count(t), nvol);
    for (uint32_t i = 0; i < t->nvol; i++) /* the index points at live entries that expire */
        ck_assert_int_ne(tentry_expire(t->vol[i]), TABLE_NO_EXPIRE);
}

START_TEST(test_header_formats_random)
{
    uint64_t rs = 20261130;
    table_t *t = table_new();
    mkey m[M_KEYS];
    static const size_t klens[] = {0, 1, 10, 254, 255, 256, 300, 1000};
    for (int i = 0; i < M_KEYS; i++) {
        m[i] = (mkey){.klen = klens[i % 8], .exp = TABLE_NO_EXPIRE};
        m[i].key = malloc(m[i].klen + 4);
        memset(m[i].key, 'a' + i, m[i].klen);
        if (m[i].klen >= 2) /* distinct keys of one length */
            m[i].key[0] = (char)i, m[i].key[1] = (char)(i >> 8);
        m[i].val = malloc(1);
    }
    /* Keys of length 0 and 1 of the same letter collide in the model: one each. */
    for (int i = 8; i < M_KEYS; i++)
        if (m[i].klen < 2)
            m[i].klen = 2, m[i].key = realloc(m[i].key, 4), m[i].key[0] = (char)i, m[i].key[1] = 'z';
    static const size_t vlens[] = {0, 1, 100, 254, 255, 256, 65534, 65535, 65536, 70000};
    char *src = malloc(140000);
    for (int i = 0; i < 140000; i++)
        src[i] = (char)(i * 7 + 3);
    for (int step = 0; step < 6000; step++) {
        int i = (int)(tu_rand(&rs) % M_KEYS);
        mkey *k = &m[i];
        size_t v = vlens[tu_rand(&rs) % 10] + (tu_rand(&rs) % 3 == 0 ? tu_rand(&rs) % 5 : 0);
        const char *p = src + tu_rand(&rs) % 1000;
        tentry_t *e = k->live ? table_peek(t, k->key, k->klen) : NULL;
        switch (tu_rand(&rs) % 8) {
        case 0: case 1: {
            int64_t exp = tu_rand(&rs) % 2 ? TABLE_NO_EXPIRE : (int64_t)(tu_rand(&rs) % 100000);
            table_set(t, k->key, k->klen, p, v, exp, NULL);
            k->val = realloc(k->val, v + 1);
            memcpy(k->val, p, v);
            k->vlen = v, k->exp = exp, k->live = 1;
            break;
        }
        case 2:
            if (e) {
                size_t n = v > 70000 ? 70000 : v / (1 + tu_rand(&rs) % 4);
                table_append(t, e, p, n);
                k->val = realloc(k->val, k->vlen + n + 1);
                memcpy(k->val + k->vlen, p, n);
                k->vlen += n;
            }
            break;
        case 3:
            if (e) {
                size_t off = tu_rand(&rs) % (k->vlen + 70000), n = tu_rand(&rs) % 50;
                table_write_at(t, e, off, p, n);
                if (off + n > k->vlen) {
                    k->val = realloc(k->val, off + n + 1);
                    memset(k->val + k->vlen, 0, off + n - k->vlen);
                    k->vlen = off + n;
                }
                memcpy(k->val + off, p, n);
            }
            break;
        case 4:
            if (e) {
                table_set_value(t, e, p, v);
                k->val = realloc(k->val, v + 1);
                memcpy(k->val, p, v);
                k->vlen = v;
            }
            break;
        case 5:
            if (e) {
                size_t to = k->vlen ? tu_rand(&rs) % (k->vlen + 1) : 0;
                table_truncate(t, e, to);
                k->vlen = to;
            }
            break;
        case 6:
            if (e) {
                int64_t exp = tu_rand(&rs) % 2 ? TABLE_NO_EXPIRE : (int64_t)(tu_rand(&rs) % 100000);
                table_set_expire(t, e, exp);
                k->exp = exp;
            }
            break;
        default:
            ck_assert_int_eq(table_del(t, k->key, k->klen), k->live);
            k->live = 0;
            break;
        }
        model_check(t, m);
    }
    for (int i = 0; i < M_KEYS; i++) {
        free(m[i].key);
        free(m[i].val);
    }
    free(src);
    table_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_binary_keys);
    tcase_add_test(tc, test_header_formats_random);
    tcase_add_test(tc, test_replace);
    tcase_add_test(tc, test_expire_index);
    tcase_add_test(tc, test_million_inserts_and_deletes);
    tcase_add_test(tc, test_million_past_the_last_arena);
    tcase_add_test(tc, test_scan_across_growth);
    tcase_add_test(tc, test_scan_across_shrink);
    tcase_add_test(tc, test_scan_full_no_changes);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_foreach_all);
    tcase_add_test(tc, test_incremental_rehash);
    tcase_add_test(tc, test_expand_for_bulk_load);
    tcase_add_test(tc, test_overwrite_in_place);
    tcase_add_test(tc, test_clear_and_bytes);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
