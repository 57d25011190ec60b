/* evict: sampling victim choice for maxmemory. */
#include "config.h"
#include "evict.h"

#include <string.h>

const char *const evict_policy_names[] = {"noeviction",   "allkeys-lru",     "volatile-lru",
                                          "allkeys-random", "volatile-random", "volatile-ttl",
                                          "allkeys-lfu",  "volatile-lfu",    NULL};

/* Higher is a better victim. */
static uint64_t score(const table_t *t, const tentry_t *e, int policy)
{
    if (policy == EVICT_VOLATILE_TTL)
        return UINT64_MAX - (uint64_t)tentry_expire(e); /* expiries are positive */
    if (evict_policy_is_lfu(policy))
        return 255 - table_lfu_count(t, e);
    return tentry_idle(t, e);
}

static int volatile_only(int policy)
{
    return policy == EVICT_VOLATILE_LRU || policy == EVICT_VOLATILE_RANDOM || policy == EVICT_VOLATILE_TTL ||
           policy == EVICT_VOLATILE_LFU;
}

static int random_policy(int policy)
{
    return policy == EVICT_ALLKEYS_RANDOM || policy == EVICT_VOLATILE_RANDOM;
}

/* A random entry from the policy's candidate set, or NULL if it is empty. */
static tentry_t *sample(table_t *t, int policy)
{
    return volatile_only(policy) ? table_random_volatile(t) : table_random(t);
}

tentry_t *evict_pick(table_t *t, int policy, int samples)
{
    if (policy == EVICT_NOEVICTION)
        return NULL;
    if (random_policy(policy))
        return sample(t, policy);
    if (samples < 1)
        samples = 1;
    tentry_t *best = NULL;
    uint64_t best_score = 0;
    for (int i = 0; i < samples; i++) {
        tentry_t *e = sample(t, policy);
        if (!e)
            return NULL;
        uint64_t s = score(t, e, policy);
        if (!best || s > best_score) {
            best = e;
            best_score = s;
        }
    }
    return best;
}

static void pool_remove(evict_pool *p, int i)
{
    memmove(&p->slot[i], &p->slot[i + 1], (size_t)(p->n - i - 1) * sizeof p->slot[0]);
    p->n--;
}

/* Offer e with score s: it takes its place in score order if the pool has
 * room or s beats the worst; a key already pooled gets its new score. */
static void pool_offer(evict_pool *p, uint32_t db, const tentry_t *e, uint64_t s)
{
    size_t klen = tentry_klen(e);
    for (int i = 0; i < p->n; i++)
        if (p->slot[i].db == db && p->slot[i].klen == klen && memcmp(p->slot[i].key, tentry_key(e), klen) == 0) {
            pool_remove(p, i);
            break;
        }
    if (p->n == EVICT_POOL_SIZE) {
        if (s <= p->slot[0].score)
            return;
        pool_remove(p, 0);
    }
    int i = p->n;
    while (i > 0 && p->slot[i - 1].score > s)
        i--;
    memmove(&p->slot[i + 1], &p->slot[i], (size_t)(p->n - i) * sizeof p->slot[0]);
    p->slot[i].score = s;
    p->slot[i].db = db;
    p->slot[i].klen = (uint32_t)klen;
    memcpy(p->slot[i].key, tentry_key(e), klen);
    p->n++;
}

tentry_t *evict_pick_pooled(table_t *const *dbs, uint32_t ndb, int policy, int samples, evict_pool *pool,
                            uint32_t *db)
{
    if (policy == EVICT_NOEVICTION || ndb == 0)
        return NULL;
    if (random_policy(policy)) {
        for (uint32_t k = 0; k < ndb; k++) {
            uint32_t i = (pool->next_db + k) % ndb;
            tentry_t *e = sample(dbs[i], policy);
            if (e) {
                pool->next_db = i + 1;
                *db = i;
                return e;
            }
        }
        return NULL;
    }
    if (pool->policy != policy) {
        pool->n = 0;
        pool->policy = policy;
    }
    if (samples < 1)
        samples = 1;
    /* Keys too long to pool compete straight from the sample. */
    tentry_t *direct = NULL;
    uint64_t direct_score = 0;
    uint32_t direct_db = 0;
    for (uint32_t d = 0; d < ndb; d++) {
        for (int i = 0; i < samples; i++) {
            tentry_t *e = sample(dbs[d], policy);
            if (!e)
                break;
            uint64_t s = score(dbs[d], e, policy);
            if (tentry_klen(e) <= EVICT_POOL_KEY)
                pool_offer(pool, d, e, s);
            else if (!direct || s > direct_score) {
                direct = e;
                direct_score = s;
                direct_db = d;
            }
        }
    }
    /* The best pooled key that still exists (and, for volatile policies,
     * still has an expiry); stale ones are dropped on the way. */
    while (pool->n > 0) {
        int i = pool->n - 1;
        if (direct && direct_score > pool->slot[i].score)
            break;
        uint32_t d = pool->slot[i].db;
        tentry_t *e = d < ndb ? table_peek(dbs[d], pool->slot[i].key, pool->slot[i].klen) : NULL;
        pool_remove(pool, i);
        if (e && (!volatile_only(policy) || tentry_has_expire(e))) {
            *db = d;
            return e;
        }
    }
    *db = direct_db;
    return direct;
}
