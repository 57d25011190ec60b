/* evict: which key to give up when memory is over maxmemory. The choice
 * is approximate, as in Redis: sample a few keys (maxmemory-samples) and
 * take the best of them by the policy. No server state here: the caller
 * deletes the victim (and logs the delete) and decides when to stop. */
#ifndef KVD_EVICT_H
#define KVD_EVICT_H

#include "table.h"

/* maxmemory-policy values; evict_policy_names[] lists them in this order. */
enum evict_policy {
    EVICT_NOEVICTION,
    EVICT_ALLKEYS_LRU,
    EVICT_VOLATILE_LRU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_VOLATILE_RANDOM,
    EVICT_VOLATILE_TTL,
    EVICT_ALLKEYS_LFU,
    EVICT_VOLATILE_LFU,
};

/* 1 for the LFU policies (the table must keep LFU counters). */
static inline int evict_policy_is_lfu(int policy)
{
    return policy == EVICT_ALLKEYS_LFU || policy == EVICT_VOLATILE_LFU;
}

/* NULL-terminated, for the config parser and INFO. */
extern const char *const evict_policy_names[];

/* The entry to evict under policy, chosen from `samples` random entries of
 * the candidate set (all keys, or those with an expiry for volatile-*):
 * the longest idle for *-lru, the least frequently used for *-lfu (the
 * table must be in LFU mode), the nearest expiry for volatile-ttl, any for
 * *-random. NULL when the policy is noeviction or there is no candidate. */
tentry_t *evict_pick(table_t *t, int policy, int samples);

/* Candidates kept between evictions, as Redis 3.0 and later do: each call
 * samples `samples` keys into the pool, which holds the best 16 seen so
 * far, and evicts the best of the pool. Over a run of evictions this
 * tracks true LRU (or TTL) order much more closely than the best of each
 * sample alone. Keys are copied in (those longer than EVICT_POOL_KEY are
 * not pooled but still compete from the sample). Zero-initialise. */
#define EVICT_POOL_SIZE 16
#define EVICT_POOL_KEY 64
typedef struct evict_pool {
    int n, policy;            /* entries in use, sorted by score, best last */
    uint32_t next_db;         /* the random policies take databases in turn */
    struct {
        uint64_t score;
        uint32_t db, klen;
        char key[EVICT_POOL_KEY];
    } slot[EVICT_POOL_SIZE];
} evict_pool;

/* evict_pick through a pool, over the ndb tables of dbs (the databases):
 * each call samples every non-empty one, as Redis does, and the best
 * candidate of all wins. The same contract as evict_pick (NULL when
 * nothing can be evicted), with the victim's database in *db. The random
 * policies do not use the pool. The caller must delete or otherwise use
 * the entry before the next call. */
tentry_t *evict_pick_pooled(table_t *const *dbs, uint32_t ndb, int policy, int samples, evict_pool *pool,
                            uint32_t *db);

#endif
