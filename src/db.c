/* db: keyspace operations with lazy expiry. Every change is a WAL entry
 * handed to commit_entry, which logs it and applies it with the one apply
 * function; so memory is always what replaying the log gives. */
#include "config.h"
#include "db.h"
#include "apply.h"
#include "commit.h"
#include "compact.h"
#include "conf.h"
#include "evict.h"
#include "loading.h"
#include "log.h"
#include "server.h"
#include "util.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int paused;         /* db_freeze: CLIENT PAUSE */
static int replica_frozen; /* db_freeze_replica: a replica's keyspace */
/* Only commands (or a replica's stream) change the keyspace. */
#define frozen (paused || replica_frozen)

static inline int expired(const tentry_t *e)
{
    int64_t exp = tentry_expire(e);
    return exp != TABLE_NO_EXPIRE && exp <= srv.now_ms;
}

int db_writable(void)
{
    return commit_writable();
}

static tentry_t *change(wal_op op, const char *key, size_t klen, const char *val, size_t vlen, int64_t exp)
{
    wal_entry e = {.op = op, .db = srv.dbid, .key = key, .klen = klen, .val = val, .vlen = vlen, .exp = exp};
    return commit_entry(&e);
}

void db_select(uint32_t id)
{
    srv.dbid = id;
    srv.db = srv.ks.db[id];
}

void db_freeze(int on)
{
    paused = on;
}

void db_freeze_replica(int on)
{
    replica_frozen = on;
}

/* Remove an expired entry, logging it; while the WAL cannot be written, or
 * the keyspace is frozen, the key stays in memory (but is treated as
 * missing) so memory and log agree. */
static void expire_entry(tentry_t *e)
{
    if (frozen || !db_writable())
        return;
    change(WAL_OP_DEL, tentry_key(e), tentry_klen(e), NULL, 0, TABLE_NO_EXPIRE);
    srv.stats.expired_keys++;
}

void db_set_now(int64_t now_ms)
{
    /* Runs before every command: the tables' clocks are set only when the
     * clock moved (every TABLE_LRU_MS), not once per database per command.
     * They all move together, so database 0's says where they are (new
     * tables, after a full sync, start at 0). */
    uint32_t clk = (uint32_t)(now_ms / TABLE_LRU_MS);
    srv.now_ms = now_ms;
    if (srv.ks.n && srv.ks.db[0]->lru_clock == clk)
        return;
    for (uint32_t i = 0; i < srv.ks.n; i++)
        srv.ks.db[i]->lru_clock = clk;
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
    commit_saw_key(key, klen);
    return live(srv.no_touch ? table_peek(srv.db, key, klen) : table_find(srv.db, key, klen));
}

tentry_t *db_peek(const char *key, size_t klen)
{
    commit_saw_key(key, klen);
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

void db_saw_all(void)
{
    commit_saw_all();
}

tentry_t *db_set(const char *key, size_t klen, const char *val, size_t vlen, int64_t exp)
{
    return change(WAL_OP_SET, key, klen, val, vlen, exp);
}

tentry_t *db_set_value(tentry_t *e, const char *val, size_t vlen)
{
    return change(WAL_OP_SET, tentry_key(e), tentry_klen(e), val, vlen, tentry_expire(e));
}

/* Before a change that builds on key's value: an expired entry a frozen
 * lookup left in place goes first (see db_freeze). */
static void drop_stale(const char *key, size_t klen)
{
    tentry_t *e = frozen ? table_peek(srv.db, key, klen) : NULL;
    if (e && expired(e)) {
        change(WAL_OP_DEL, key, klen, NULL, 0, TABLE_NO_EXPIRE);
        srv.stats.expired_keys++;
    }
}

tentry_t *db_append(const char *key, size_t klen, const char *p, size_t n)
{
    drop_stale(key, klen);
    return change(WAL_OP_APPEND, key, klen, p, n, TABLE_NO_EXPIRE);
}

tentry_t *db_setrange(const char *key, size_t klen, uint64_t off, const char *p, size_t n)
{
    drop_stale(key, klen);
    wal_entry e = {.op = WAL_OP_SETRANGE, .db = srv.dbid, .key = key, .klen = klen, .val = p, .vlen = n, .off = off,
                   .exp = TABLE_NO_EXPIRE};
    return commit_entry(&e);
}

int db_delete(const char *key, size_t klen)
{
    int existed = table_peek(srv.db, key, klen) != NULL;
    change(WAL_OP_DEL, key, klen, NULL, 0, TABLE_NO_EXPIRE);
    return existed;
}

void db_delete_entry(tentry_t *e)
{
    change(WAL_OP_DEL, tentry_key(e), tentry_klen(e), NULL, 0, TABLE_NO_EXPIRE);
}

tentry_t *db_set_expire(tentry_t *e, int64_t exp)
{
    if (exp != TABLE_NO_EXPIRE && exp <= srv.now_ms) {
        db_delete_entry(e);
        return NULL;
    }
    return change(exp == TABLE_NO_EXPIRE ? WAL_OP_PERSIST : WAL_OP_EXPIRE, tentry_key(e), tentry_klen(e), NULL, 0,
                  exp);
}

void db_rename(tentry_t *src, const char *dst, size_t dlen)
{
    size_t klen = tentry_klen(src);
    if (klen == dlen && memcmp(tentry_key(src), dst, dlen) == 0)
        return;
    change(WAL_OP_RENAME, tentry_key(src), klen, dst, dlen, TABLE_NO_EXPIRE);
}

uint64_t db_flush(void)
{
    uint64_t n = table_count(srv.db);
    change(WAL_OP_FLUSH, NULL, 0, NULL, 0, TABLE_NO_EXPIRE);
    return n;
}

uint64_t db_flush_all(void)
{
    uint32_t self = srv.dbid, full = 0;
    for (uint32_t i = 0; i < srv.ks.n; i++)
        full += table_count(srv.ks.db[i]) != 0;
    uint64_t n = keyspace_count(&srv.ks);
    if (full == 0) {
        /* Logged all the same, as Redis propagates it. */
        db_select(0);
        change(WAL_OP_FLUSH, NULL, 0, NULL, 0, TABLE_NO_EXPIRE);
    } else {
        db_group(full);
        for (uint32_t i = 0; i < srv.ks.n; i++) {
            if (table_count(srv.ks.db[i])) {
                db_select(i);
                change(WAL_OP_FLUSH, NULL, 0, NULL, 0, TABLE_NO_EXPIRE);
            }
        }
    }
    db_select(self);
    return n;
}

tentry_t *db_move(tentry_t *e, uint32_t to)
{
    wal_entry w = {.op = WAL_OP_MOVE, .db = srv.dbid, .key = tentry_key(e), .klen = tentry_klen(e), .to = to,
                   .exp = TABLE_NO_EXPIRE};
    return commit_entry(&w);
}

void db_swap(uint32_t a, uint32_t b)
{
    wal_entry w = {.op = WAL_OP_SWAPDB, .db = a, .to = b, .exp = TABLE_NO_EXPIRE};
    commit_entry(&w);
    srv.db = srv.ks.db[srv.dbid];
}

void db_group(uint32_t n)
{
    commit_group(n);
}

#define EXPIRE_SAMPLE 20

/* The active expiry cycle in the selected database, until budget_us
 * (counted from t0) is spent. Returns keys deleted. */
static uint64_t expire_cycle(uint64_t t0, int64_t budget_us, int64_t now)
{
    uint64_t deleted = 0;
    double ttl_sum = 0;
    int ttl_n = 0;
    for (int round = 0;; round++) {
        uint32_t n = table_volatile_count(srv.db);
        if (n == 0) {
            srv.db->avg_ttl = 0;
            break;
        }
        int sample = n < EXPIRE_SAMPLE ? (int)n : EXPIRE_SAMPLE, hit = 0;
        for (int i = 0; i < sample; i++) {
            tentry_t *e = table_random_volatile(srv.db);
            if (e && tentry_expire(e) <= now) {
                expire_entry(e);
                hit++;
                deleted++;
            } else if (e) {
                ttl_sum += (double)(tentry_expire(e) - now);
                ttl_n++;
            }
        }
        if (ttl_n) {
            /* INFO's avg_ttl, smoothed over cycles as Redis does. */
            double avg = ttl_sum / ttl_n, prev = (double)srv.db->avg_ttl;
            double est = prev ? prev / 50 * 49 + avg / 50 : avg;
            srv.db->avg_ttl = est >= 9.2e18 ? INT64_MAX : (int64_t)est;
            ttl_sum = 0;
            ttl_n = 0;
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

uint64_t db_active_expire(int64_t budget_us)
{
    static uint32_t next; /* where the last cycle stopped, as Redis goes on from there */
    if (frozen || !db_writable())
        return 0;
    uint64_t t0 = kvd_mono_ns(), deleted = 0;
    int64_t now = kvd_now_ms();
    db_set_now(now);
    uint32_t self = srv.dbid;
    for (uint32_t k = 0; k < srv.ks.n; k++) {
        uint32_t i = (next + k) % srv.ks.n;
        if (!table_volatile_count(srv.ks.db[i]))
            continue;
        if ((int64_t)((kvd_mono_ns() - t0) / 1000) > budget_us) {
            next = i;
            break;
        }
        db_select(i);
        deleted += expire_cycle(t0, budget_us, now);
    }
    db_select(self);
    return deleted;
}

uint64_t db_drop_expired(void)
{
    uint64_t n = 0;
    uint32_t self = srv.dbid;
    db_set_now(kvd_now_ms());
    for (uint32_t d = 0; d < srv.ks.n; d++) {
        db_select(d);
        /* Deleting moves the last index slot into the freed one: walk down. */
        for (uint32_t i = table_volatile_count(srv.db); i-- > 0;) {
            if (i >= table_volatile_count(srv.db))
                continue;
            tentry_t *e = srv.db->vol[i];
            if (expired(e)) {
                expire_entry(e);
                /* Write as we go: a batch (and undo log) of a million deletes
                 * would hold as much memory again as the keys. */
                if (++n % 4096 == 0)
                    commit_flush();
            }
        }
    }
    db_select(self);
    commit_flush();
    return n;
}

void db_loaded(void)
{
    /* Fit the tables to what was loaded, now: while the two halves of a
     * resize coexist the keyspace looks bigger than it is, and maxmemory
     * would evict keys that fitted before the restart. */
    for (uint32_t i = 0; i < srv.ks.n; i++) {
        table_expand_done(srv.ks.db[i]);
        while (table_rehash(srv.ks.db[i], 4096))
            ;
    }
    /* The load's buffers, freed, would stay in the process (about 1 MB
     * of malloc's heap after a million keys): give them back. */
    pool_trim(&srv.pool);
#ifdef HAVE_MALLOC_TRIM
    malloc_trim(0);
#endif
}

int db_open(const char *dir, int lock, char *err, size_t errlen)
{
    /* The replay polls the loop, where a CONFIG SET replaces the strings
     * of srv.cfg (dir may be one): it reads a copy. */
    char *d = xstrdup(dir);
    srv.wal = wal_open_dir_watched(d, lock, &srv.pool, apply_replay, &srv.ks, &apply_hooks, &loading_watch, &srv.load,
                                   err, errlen);
    free(d);
    db_loaded();
    if (!srv.wal)
        return -1;
    /* What the replay skipped refuses the load. */
    if (srv.ks.bad_seq && srv.ks.bad_db >= KVD_MAX_DATABASES)
        snprintf(err, errlen,
                 "the WAL is damaged or not kvd's: entry %llu names database %u, and kvd has at most %u "
                 "(kvd-check-wal --dump shows it)",
                 (unsigned long long)srv.ks.bad_seq, srv.ks.bad_db, KVD_MAX_DATABASES);
    else if (srv.ks.bad_seq)
        snprintf(err, errlen,
                 "the WAL uses database %u (entry %llu) but there are only %u databases: raise 'databases' in "
                 "the configuration to at least %u",
                 srv.ks.bad_db, (unsigned long long)srv.ks.bad_seq, srv.ks.n, srv.ks.bad_db + 1);
    else if (srv.ks.long_seq)
        snprintf(err, errlen,
                 "the WAL is damaged: entry %llu appends to a value past the longest a key can hold (%u bytes); "
                 "kvd never writes such an entry (kvd-check-wal --dump shows it)",
                 (unsigned long long)srv.ks.long_seq, KEYSPACE_MAX_VALUE);
    if (srv.ks.bad_seq || srv.ks.long_seq) {
        wal_close(srv.wal);
        srv.wal = NULL;
        return -1;
    }
    srv.wal->retire = compact_retire;
    commit_init();
    return 0;
}

void db_close(void)
{
    commit_free();
}

size_t db_evict_used(void)
{
    return keyspace_bytes(&srv.ks) + srv.clients_mem;
}

int db_make_room(int64_t budget_us)
{
    size_t limit = (size_t)srv.cfg.maxmemory;
    if (!limit || frozen || db_evict_used() <= limit)
        return 0;
    if (!db_writable())
        return -1;
    uint64_t t0 = kvd_mono_ns(), n = 0;
    uint32_t self = srv.dbid;
    int rc = 0;
    while (db_evict_used() > limit) {
        uint32_t db;
        tentry_t *e = evict_pick_pooled(srv.ks.db, srv.ks.n, srv.cfg.maxmemory_policy, srv.cfg.maxmemory_samples,
                                        &srv.evpool, &db);
        if (!e) {
            rc = -1;
            break;
        }
        db_select(db);
        db_delete_entry(e);
        srv.stats.evicted_keys++;
        if (++n % 64 == 0 && budget_us && kvd_mono_ns() - t0 > (uint64_t)budget_us * 1000)
            break;
    }
    db_select(self);
    return rc;
}
