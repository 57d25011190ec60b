/* evict: sampling victim choice for maxmemory. */
#include "config.h"
#include "evict.h"

const char *const evict_policy_names[] = {"noeviction",     "allkeys-lru",     "volatile-lru",
                                          "allkeys-random", "volatile-random", "volatile-ttl",
                                          NULL};

/* Higher is a better victim. */
static uint64_t score(const table_t *t, const tentry_t *e, int policy)
{
    if (policy == EVICT_VOLATILE_TTL)
        return UINT64_MAX - (uint64_t)tentry_expire(e); /* expiries are positive */
    return tentry_idle(t, e);
}

tentry_t *evict_pick(table_t *t, int policy, int samples)
{
    int volatile_only = policy == EVICT_VOLATILE_LRU || policy == EVICT_VOLATILE_RANDOM ||
                        policy == EVICT_VOLATILE_TTL;
    if (policy == EVICT_NOEVICTION)
        return NULL;
    if (policy == EVICT_ALLKEYS_RANDOM)
        return table_random(t);
    if (policy == EVICT_VOLATILE_RANDOM)
        return table_random_volatile(t);
    if (samples < 1)
        samples = 1;
    tentry_t *best = NULL;
    uint64_t best_score = 0;
    for (int i = 0; i < samples; i++) {
        tentry_t *e = volatile_only ? table_random_volatile(t) : table_random(t);
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
