/* Unit tests for the entry allocator: every slot holds what was written
 * to it through any mix of allocations, frees and reallocations (so no
 * two live slots overlap), sizes round to 2 bytes, big requests go to
 * malloc, and pages whose slots are all free go back to the kernel. */
#include "config.h"
#include "testutil.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

/* Under AddressSanitizer the slab is plain malloc (slab.c): only the
 * contents checks apply. */
static int passthrough(void)
{
    void *p = slab_alloc(100);
    slab_stats st;
    slab_get_stats(&st);
    slab_free(p);
    return st.mapped == 0;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    return tu_rand(&rng);
}

typedef struct live {
    unsigned char *p;
    size_t n;
    unsigned char tag;
} live;

static void fill(live *l)
{
    memset(l->p, l->tag, l->n);
}

static void verify(const live *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->p[i] != l->tag)
            ck_abort_msg("slot %p (%zu bytes, tag %u) changed at byte %zu", (void *)l->p, l->n, l->tag, i);
}

/* p's name leads back to p (so no two live allocations share one). */
static void named(void *p)
{
    slab_ref r = slab_ref_of(p);
    ck_assert_uint_ne(r, 0);
    ck_assert_ptr_eq(slab_ptr(r), p);
}

START_TEST(test_sizes_round_to_2)
{
    if (passthrough())
        return;
    for (size_t n = 1; n <= SLAB_MAX; n++) {
        void *p = slab_alloc(n);
        size_t want = n <= SLAB_MIN ? SLAB_MIN : (n + 1) / 2 * 2;
        ck_assert_uint_eq((uintptr_t)p % 2, 0);
        ck_assert_uint_eq(slab_usable(p), want);
        ck_assert_uint_eq(slab_size(p), want);
        named(p);
        slab_free(p);
    }
    /* An odd and an even size share a class; the next even size does not. */
    void *a = slab_alloc(125), *b = slab_alloc(126), *c = slab_alloc(127);
    ck_assert_uint_eq(slab_size(a), 126);
    ck_assert_uint_eq(slab_size(c), 128);
    ck_assert_uint_eq(((uintptr_t)b - (uintptr_t)a), 126); /* next slot of the same page */
    slab_free(a);
    slab_free(b);
    slab_free(c);
    /* Past SLAB_MAX: malloc's own chunk. */
    void *big = slab_alloc(SLAB_MAX + 1);
    ck_assert_uint_ge(slab_usable(big), SLAB_MAX + 1);
    slab_free(big);
}
END_TEST

/* Every slot of full pages, for the smallest and the largest slots (the
 * most and the fewest a page holds), is found again by its name. */
START_TEST(test_names_reach_every_slot)
{
    if (passthrough())
        return;
    const size_t sizes[] = {SLAB_MIN, 9, 126, SLAB_MAX};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = 3 * 65536 / sizes[k] + 7;
        void **p = malloc(n * sizeof *p);
        for (size_t i = 0; i < n; i++) {
            p[i] = slab_alloc(sizes[k]);
            memset(p[i], (int)(i & 0xff), sizes[k]);
            named(p[i]);
        }
        for (size_t i = 0; i < n; i++) {
            ck_assert_ptr_eq(slab_ptr(slab_ref_of(p[i])), p[i]);
            ck_assert_uint_eq(((unsigned char *)p[i])[sizes[k] - 1], i & 0xff);
            slab_free(p[i]);
        }
        free(p);
    }
}
END_TEST

START_TEST(test_random_mix_keeps_contents)
{
    enum { SLOTS = 20000, STEPS = 400000 };
    live *l = calloc(SLOTS, sizeof *l);
    for (int step = 0; step < STEPS; step++) {
        live *x = &l[next() % SLOTS];
        uint64_t r = next();
        if (!x->p) {
            /* Mostly entry-sized, some over SLAB_MAX. */
            x->n = r % 16 == 0 ? SLAB_MAX - 64 + r % 200 : 1 + r % 300;
            x->p = slab_alloc(x->n);
            x->tag = (unsigned char)(step | 1);
            fill(x);
            named(x->p);
        } else if (r % 3 == 0) {
            verify(x);
            size_t n = r % 32 == 0 ? SLAB_MAX + r % 500 : 1 + (r >> 8) % 400;
            x->p = slab_realloc(x->p, n);
            if (n < x->n)
                x->n = n;
            verify(x); /* what fits came along */
            x->n = n;
            fill(x);
            named(x->p);
        } else {
            verify(x);
            slab_free(x->p);
            x->p = NULL;
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (l[i].p) {
            verify(&l[i]);
            slab_free(l[i].p);
        }
    free(l);
}
END_TEST

START_TEST(test_empty_pages_go_back)
{
    if (passthrough())
        return;
    slab_stats before, full, after;
    slab_get_stats(&before);
    enum { N = 100000 };
    void **p = malloc(N * sizeof *p);
    for (int i = 0; i < N; i++)
        p[i] = slab_alloc(136);
    slab_get_stats(&full);
    ck_assert_uint_eq(full.slots - before.slots, (size_t)N * 136);
    /* 136-byte slots fill 64 KiB pages but for a few bytes each. */
    ck_assert_uint_ge(full.pages - before.pages, (size_t)N * 136 / 65536);
    ck_assert_uint_le(full.pages - before.pages, (size_t)N * 136 / 65000 + 2);
    /* Every other one freed: no page is empty, none goes back. */
    for (int i = 0; i < N; i += 2)
        slab_free(p[i]);
    slab_get_stats(&after);
    ck_assert_uint_eq(after.pages, full.pages);
    for (int i = 1; i < N; i += 2)
        slab_free(p[i]);
    slab_get_stats(&after);
    ck_assert_uint_eq(after.slots, before.slots);
    /* All but at most one page a class is back with the kernel. */
    ck_assert_uint_le(after.pages, before.pages + 1);
    /* And reused before any new mapping. */
    size_t mapped = after.mapped;
    for (int i = 0; i < N; i++)
        p[i] = slab_alloc(128); /* another class, fewer pages */
    slab_get_stats(&after);
    ck_assert_uint_eq(after.mapped, mapped);
    for (int i = 0; i < N; i++)
        slab_free(p[i]);
    free(p);
}
END_TEST

START_TEST(test_realloc_same_class_stays)
{
    if (passthrough())
        return;
    char *p = slab_alloc(129);
    memcpy(p, "hello", 5);
    ck_assert_ptr_eq(slab_realloc(p, 130), p);
    char *q = slab_realloc(p, 131);
    ck_assert_ptr_ne(q, p);
    ck_assert_int_eq(memcmp(q, "hello", 5), 0);
    char *r = slab_realloc(q, 5000); /* to malloc */
    ck_assert_int_eq(memcmp(r, "hello", 5), 0);
    char *s = slab_realloc(r, 40); /* and back */
    ck_assert_int_eq(memcmp(s, "hello", 5), 0);
    ck_assert_uint_eq(slab_usable(s), 40);
    slab_free(s);
    slab_free(NULL);
}
END_TEST

/* Past the last arena (SLAB_ARENAS of them, 16 GiB), entry-sized requests
 * go to malloc and take numbers of their own: every name still leads to
 * its allocation, through reallocations both ways, and freeing them all
 * leaves nothing behind. */
START_TEST(test_past_the_last_arena)
{
    slab_stats before, after;
    slab_get_stats(&before);
    slab_limit_arenas(before.mapped / ((size_t)4 << 20) + 1);
    enum { MAXN = 200000 };
    unsigned char **p = malloc(MAXN * sizeof *p);
    slab_ref *r = malloc(MAXN * sizeof *r);
    uint32_t n = 0, big = 0;
    while (n < MAXN && big < 2000) {
        p[n] = slab_alloc(100 + n % 40);
        memcpy(p[n], &n, sizeof n);
        r[n] = slab_ref_of(p[n]);
        ck_assert_uint_ne(r[n], 0);
        big += (r[n] & SLAB_BIG) != 0;
        n++;
    }
    ck_assert_uint_eq(big, 2000);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_ptr_eq(slab_ptr(r[i]), p[i]);
        if (i % 3 == 0) { /* some to malloc, some to slots freed below */
            p[i] = slab_realloc(p[i], i % 2 ? SLAB_MAX + 100 : 60);
            r[i] = slab_ref_of(p[i]);
        }
        if (i % 5 == 0) {
            slab_free(p[i]);
            p[i] = slab_alloc(120);
            memcpy(p[i], &i, sizeof i);
            r[i] = slab_ref_of(p[i]);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        ck_assert_ptr_eq(slab_ptr(r[i]), p[i]);
        memcpy(&v, p[i], sizeof v);
        ck_assert_uint_eq(v, i);
        slab_free(p[i]);
    }
    slab_get_stats(&after);
    ck_assert_uint_eq(after.slots, before.slots);
    slab_limit_arenas(SLAB_ARENAS);
    free(p);
    free(r);
}
END_TEST

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return x < y ? -1 : x > y;
}

typedef struct seen {
    void **p;
    size_t n, cap, stop_at;
} seen;

static int collect(void *ctx, void *p)
{
    seen *s = ctx;
    ck_assert_uint_lt(s->n, s->cap);
    s->p[s->n++] = p;
    return s->n == s->stop_at;
}

/* slab_foreach visits exactly the allocations handed out and not freed,
 * each once, whatever mix of sizes, frees (pages with free slots, pages
 * given back), reallocations and big allocations made them; and stops
 * when told. */
START_TEST(test_foreach_visits_the_live)
{
    enum { SLOTS = 60000, STEPS = 300000 };
    size_t base = slab_count();
    void **l = calloc(SLOTS, sizeof *l);
    size_t nlive = 0;
    for (int step = 0; step < STEPS; step++) {
        size_t i = next() % SLOTS;
        uint64_t r = next();
        if (!l[i]) {
            l[i] = slab_alloc(r % 64 == 0 ? SLAB_MAX + r % 300 : 1 + r % 200);
            nlive++;
        } else if (r % 4 == 0) {
            l[i] = slab_realloc(l[i], r % 32 == 0 ? SLAB_MAX + r % 500 : 1 + (r >> 8) % 300);
        } else if (step < STEPS * 3 / 4 || r % 8) {
            /* Frees run ahead of allocations late on: whole pages empty. */
            slab_free(l[i]);
            l[i] = NULL;
            nlive--;
        }
    }
    ck_assert_uint_eq(slab_count(), base + nlive);
    seen s = {.p = malloc((slab_count() + 1) * sizeof *s.p), .cap = slab_count() + 1};
    slab_foreach(collect, &s);
    ck_assert_uint_eq(s.n, base + nlive);
    void **want = malloc((nlive + 1) * sizeof *want);
    size_t n = 0;
    for (size_t i = 0; i < SLOTS; i++)
        if (l[i])
            want[n++] = l[i];
    qsort(want, n, sizeof *want, cmp_ptr);
    qsort(s.p, s.n, sizeof *s.p, cmp_ptr);
    for (size_t i = 1; i < s.n; i++)
        ck_assert_ptr_ne(s.p[i - 1], s.p[i]); /* each once */
    for (size_t i = 0, j = 0; i < n; i++) {   /* every live one */
        while (j < s.n && (uintptr_t)s.p[j] < (uintptr_t)want[i])
            j++;
        ck_assert_msg(j < s.n && s.p[j] == want[i], "live allocation %p not visited", want[i]);
    }
    /* Told to stop, it stops. */
    s.n = 0;
    s.stop_at = nlive / 2;
    slab_foreach(collect, &s);
    ck_assert_uint_eq(s.n, nlive / 2);
    for (size_t i = 0; i < SLOTS; i++)
        slab_free(l[i]);
    ck_assert_uint_eq(slab_count(), base);
    free(want);
    free(s.p);
    free(l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("slab");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sizes_round_to_2);
    tcase_add_test(tc, test_names_reach_every_slot);
    tcase_add_test(tc, test_random_mix_keeps_contents);
    tcase_add_test(tc, test_empty_pages_go_back);
    tcase_add_test(tc, test_realloc_same_class_stays);
    tcase_add_test(tc, test_past_the_last_arena);
    tcase_add_test(tc, test_foreach_visits_the_live);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
