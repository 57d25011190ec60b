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
};

/* NULL-terminated, for the config parser and INFO. */
extern const char *const evict_policy_names[];

/* The entry to evict under policy, chosen from `samples` random entries of
 * the candidate set (all keys, or those with an expiry for volatile-*):
 * the longest idle for *-lru, the nearest expiry for volatile-ttl, any for
 * *-random. NULL when the policy is noeviction or there is no candidate. */
tentry_t *evict_pick(table_t *t, int policy, int samples);

#endif
