/* db: keyspace operations with lazy expiry and WAL logging. */
#include "config.h"
#include "db.h"
#include "evict.h"
#include "log.h"
#include "server.h"
#include "util.h"
#include "wal.h"

#include <string.h>

static inline int expired(const tentry_t *e)
{
    int64_t exp = tentry_expire(e);
    return exp != TABLE_NO_EXPIRE && exp <= srv.now_ms;
}

int db_writable(void)
{
    return wal_error(srv.wal) == 0;
}

/* Remove an expired entry, logging it; while the WAL cannot be written the
 * key stays in memory (but is treated as missing) so memory and log agree. */
static void expire_entry(tentry_t *e)
{
    if (!db_writable())
        return;
    wal_append_del(srv.wal, tentry_key(e), tentry_klen(e));
    table_del_entry(srv.db, e);
    srv.stats.expired_keys++;
}

void db_set_now(int64_t now_ms)
{
    srv.now_ms = now_ms;
    srv.db->lru_clock = (uint32_t)(now_ms / TABLE_LRU_MS);
}

/* e if it is live; an expired entry is deleted (and logged) first. */
static tentry_t *live(tentry_t *e)
{
    if (e && expired(e)) {
        expire_entry(e);
        return NULL;
    }
    return e;
}

tentry_t *db_lookup(const char *key, size_t klen)
{
    return live(table_find(srv.db, key, klen));
}

tentry_t *db_peek(const char *key, size_t klen)
{
    return live(table_peek(srv.db, key, klen));
}

tentry_t *db_lookup_read(const char *key, size_t klen)
{
    tentry_t *e = db_lookup(key, klen);
    if (e)
        srv.stats.hits++;
    else
        srv.stats.misses++;
    return e;
}

tentry_t *db_set(const char *key, size_t klen, const char *val, size_t vlen, int64_t exp)
{
    wal_append_set(srv.wal, key, klen, val, vlen, exp);
    return table_set(srv.db, key, klen, val, vlen, exp, NULL);
}

tentry_t *db_set_value(tentry_t *e, const char *val, size_t vlen)
{
    wal_append_set(srv.wal, tentry_key(e), tentry_klen(e), val, vlen, tentry_expire(e));
    return table_set_value(srv.db, e, val, vlen);
}

tentry_t *db_append(const char *key, size_t klen, tentry_t *e, const char *p, size_t n)
{
    wal_append_append(srv.wal, key, klen, p, n);
    if (!e)
        return table_set(srv.db, key, klen, p, n, TABLE_NO_EXPIRE, NULL);
    return table_append(srv.db, e, p, n);
}

int db_delete(const char *key, size_t klen)
{
    tentry_t *e = table_find(srv.db, key, klen);
    if (!e)
        return 0;
    int live = !expired(e);
    if (!live)
        srv.stats.expired_keys++;
    wal_append_del(srv.wal, key, klen);
    table_del_entry(srv.db, e);
    return live;
}

void db_delete_entry(tentry_t *e)
{
    wal_append_del(srv.wal, tentry_key(e), tentry_klen(e));
    table_del_entry(srv.db, e);
}

tentry_t *db_set_expire(tentry_t *e, int64_t exp)
{
    if (exp != TABLE_NO_EXPIRE && exp <= srv.now_ms) {
        db_delete_entry(e);
        return NULL;
    }
    if (exp == TABLE_NO_EXPIRE)
        wal_append_persist(srv.wal, tentry_key(e), tentry_klen(e));
    else
        wal_append_expire(srv.wal, tentry_key(e), tentry_klen(e), exp);
    return table_set_expire(srv.db, e, exp);
}

void db_rename(tentry_t *src, const char *dst, size_t dlen)
{
    size_t klen = tentry_klen(src);
    if (klen == dlen && memcmp(tentry_key(src), dst, dlen) == 0)
        return;
    wal_append_rename(srv.wal, tentry_key(src), klen, dst, dlen);
    /* Setting dst never moves src (only a change to src itself would). */
    table_set(srv.db, dst, dlen, tentry_val(src), tentry_vlen(src), tentry_expire(src), NULL);
    table_del_entry(srv.db, src);
}

uint64_t db_flush(void)
{
    uint64_t n = table_count(srv.db);
    wal_append_flush(srv.wal);
    table_clear(srv.db);
    return n;
}

#define EXPIRE_SAMPLE 20

uint64_t db_active_expire(int64_t budget_us)
{
    if (!db_writable())
        return 0;
    uint64_t t0 = kvd_mono_ns(), deleted = 0;
    int64_t now = kvd_now_ms();
    db_set_now(now);
    for (int round = 0;; round++) {
        uint32_t n = table_volatile_count(srv.db);
        if (n == 0)
            break;
        int sample = n < EXPIRE_SAMPLE ? (int)n : EXPIRE_SAMPLE, hit = 0;
        for (int i = 0; i < sample; i++) {
            tentry_t *e = table_random_volatile(srv.db);
            if (e && tentry_expire(e) <= now) {
                expire_entry(e);
                hit++;
                deleted++;
            }
        }
        /* Go on while a good share of the sample was stale (as Redis:
         * more than 25%) and there is time left. */
        if (hit * 4 <= sample)
            break;
        if ((round & 15) == 15 && (int64_t)((kvd_mono_ns() - t0) / 1000) > budget_us)
            break;
    }
    return deleted;
}

size_t db_evict_used(void)
{
    return table_bytes(srv.db) + srv.clients_mem;
}

int db_make_room(int64_t budget_us)
{
    size_t limit = (size_t)srv.cfg.maxmemory;
    if (!limit || db_evict_used() <= limit)
        return 0;
    if (!db_writable())
        return -1;
    uint64_t t0 = kvd_mono_ns(), n = 0;
    while (db_evict_used() > limit) {
        tentry_t *e = evict_pick_pooled(srv.db, srv.cfg.maxmemory_policy, srv.cfg.maxmemory_samples, &srv.evpool);
        if (!e)
            return -1;
        db_delete_entry(e);
        srv.stats.evicted_keys++;
        if (++n % 64 == 0 && budget_us && kvd_mono_ns() - t0 > (uint64_t)budget_us * 1000)
            return 0;
    }
    return 0;
}
