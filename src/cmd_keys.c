/* cmd_keys: the keyspace commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, the
 * EXPIRE family, TTL family, PERSIST, KEYS, SCAN, RANDOMKEY, RENAME,
 * RENAMENX, COPY. */
#include "config.h"
#include "conn.h"
#include "cmd.h"
#include "db.h"
#include "evict.h"
#include "glob.h"
#include "slab.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

void cmd_del(client *c, int argc, char **argv, size_t *argvlen)
{
    /* Expired keys are removed (and logged) first, so that the deletes of
     * this command form one WAL group: after a crash all or none apply. A
     * key named twice is logged twice (the second delete finds nothing). */
    int stack[64];
    int *hit = argc <= 64 ? stack : xmalloc((size_t)argc * sizeof(int));
    uint32_t n = 0;
    for (int i = 1; i < argc; i++)
        if (db_lookup(argv[i], argvlen[i]))
            hit[n++] = i;
    if (n > 1)
        db_group(n);
    long long deleted = 0;
    for (uint32_t k = 0; k < n; k++)
        deleted += db_delete(argv[hit[k]], argvlen[hit[k]]);
    if (hit != stack)
        free(hit);
    reply_int(c, deleted);
}

void cmd_exists(client *c, int argc, char **argv, size_t *argvlen)
{
    long long n = 0;
    for (int i = 1; i < argc; i++)
        n += db_lookup_read(argv[i], argvlen[i]) != NULL;
    reply_int(c, n);
}

void cmd_touch(client *c, int argc, char **argv, size_t *argvlen)
{
    long long n = 0;
    for (int i = 1; i < argc; i++)
        n += db_lookup(argv[i], argvlen[i]) != NULL;
    reply_int(c, n);
}

void cmd_type(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    reply_simple(c, db_lookup(argv[1], argvlen[1]) ? "string" : "none");
}

#define EXP_NX 1
#define EXP_XX 2
#define EXP_GT 4
#define EXP_LT 8

static void expire_generic(client *c, int argc, char **argv, size_t *argvlen, int64_t unit_ms,
                           int absolute, const char *name)
{
    /* As Redis: the options first, then the time. */
    int flags = 0;
    for (int i = 3; i < argc; i++) {
        if (arg_is(argv[i], argvlen[i], "nx"))
            flags |= EXP_NX;
        else if (arg_is(argv[i], argvlen[i], "xx"))
            flags |= EXP_XX;
        else if (arg_is(argv[i], argvlen[i], "gt"))
            flags |= EXP_GT;
        else if (arg_is(argv[i], argvlen[i], "lt"))
            flags |= EXP_LT;
        else {
            reply_errorf(c, "ERR Unsupported option %.*s", (int)(argvlen[i] > 64 ? 64 : argvlen[i]), argv[i]);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long when;
    if (arg_ll(c, argv[2], argvlen[2], &when) < 0)
        return;
    if (unit_ms == 1000 && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", name);
        return;
    }
    when *= unit_ms;
    if (!absolute) {
        if (when > LLONG_MAX - srv.now_ms) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when += srv.now_ms;
    }
    tentry_t *e = db_lookup(argv[1], argvlen[1]);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    int64_t cur = tentry_expire(e);
    int has = cur != TABLE_NO_EXPIRE;
    if (((flags & EXP_NX) && has) || ((flags & EXP_XX) && !has) ||
        ((flags & EXP_GT) && (!has || when <= cur)) || ((flags & EXP_LT) && has && when >= cur)) {
        reply_int(c, 0);
        return;
    }
    if (when <= srv.now_ms) {
        /* A time in the past deletes the key, as Redis does. */
        db_delete_entry(e);
    } else {
        db_set_expire(e, when);
    }
    reply_int(c, 1);
}

void cmd_expire(client *c, int argc, char **argv, size_t *argvlen)
{
    expire_generic(c, argc, argv, argvlen, 1000, 0, "expire");
}

void cmd_pexpire(client *c, int argc, char **argv, size_t *argvlen)
{
    expire_generic(c, argc, argv, argvlen, 1, 0, "pexpire");
}

void cmd_expireat(client *c, int argc, char **argv, size_t *argvlen)
{
    expire_generic(c, argc, argv, argvlen, 1000, 1, "expireat");
}

void cmd_pexpireat(client *c, int argc, char **argv, size_t *argvlen)
{
    expire_generic(c, argc, argv, argvlen, 1, 1, "pexpireat");
}

/* TTL family: relative or absolute, in seconds or milliseconds. */
static void ttl_generic(client *c, const char *key, size_t klen, int ms, int absolute)
{
    tentry_t *e = db_lookup_read(key, klen);
    if (!e) {
        reply_int(c, -2);
        return;
    }
    int64_t exp = tentry_expire(e);
    if (exp == TABLE_NO_EXPIRE) {
        reply_int(c, -1);
        return;
    }
    if (absolute) {
        reply_int(c, ms ? exp : exp / 1000);
        return;
    }
    int64_t left = exp - srv.now_ms;
    if (left < 0)
        left = 0;
    reply_int(c, ms ? left : (left + 500) / 1000);
}

void cmd_ttl(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    ttl_generic(c, argv[1], argvlen[1], 0, 0);
}

void cmd_pttl(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    ttl_generic(c, argv[1], argvlen[1], 1, 0);
}

void cmd_expiretime(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    ttl_generic(c, argv[1], argvlen[1], 0, 1);
}

void cmd_pexpiretime(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    ttl_generic(c, argv[1], argvlen[1], 1, 1);
}

void cmd_persist(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *e = db_lookup(argv[1], argvlen[1]);
    if (!e || tentry_expire(e) == TABLE_NO_EXPIRE) {
        reply_int(c, 0);
        return;
    }
    db_set_expire(e, TABLE_NO_EXPIRE);
    reply_int(c, 1);
}

/* Keys collected during a table walk: lengths and bytes, appended to a
 * buffer, so the walk never modifies the table. */
typedef struct collect_ctx {
    buf_t keys;          /* [size_t len][bytes] ... */
    size_t n;
    const char *pat;
    size_t patlen;
    int match_all;
    int64_t now;
} collect_ctx;

static void collect_key(void *ctx, const tentry_t *e)
{
    collect_ctx *k = ctx;
    int64_t exp = tentry_expire(e);
    if (exp != TABLE_NO_EXPIRE && exp <= k->now)
        return;
    size_t len = tentry_klen(e);
    if (!k->match_all && !glob_match(k->pat, k->patlen, tentry_key(e), len, 0))
        return;
    buf_append(&k->keys, &len, sizeof len);
    buf_append(&k->keys, tentry_key(e), len);
    k->n++;
}

static void reply_collected(client *c, collect_ctx *k)
{
    reply_array(c, (long long)k->n);
    for (size_t off = 0; off < k->keys.len;) {
        size_t len;
        memcpy(&len, k->keys.data + off, sizeof len);
        off += sizeof len;
        reply_bulk(c, k->keys.data + off, len);
        off += len;
    }
}

void cmd_keys(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    collect_ctx k = {BUF_INIT(&srv.pool), 0, argv[1], argvlen[1], argvlen[1] == 1 && argv[1][0] == '*', srv.now_ms};
    db_saw_all();
    table_foreach(srv.db, collect_key, &k);
    reply_collected(c, &k);
    buf_release(&k.keys);
}

void cmd_scan(client *c, int argc, char **argv, size_t *argvlen)
{
    /* Read as Redis reads it, with strtoul: a sign is taken ("-1" is the
     * largest cursor), an empty cursor is 0, leading space is not. */
    char tmp[256];
    if (argvlen[1] >= sizeof tmp) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    memcpy(tmp, argv[1], argvlen[1]);
    tmp[argvlen[1]] = '\0';
    char *end;
    errno = 0;
    unsigned long long cursor = strtoull(tmp, &end, 10);
    if (*end || errno == ERANGE || isspace((unsigned char)tmp[0])) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    long long count = 10;
    const char *pat = NULL;
    size_t patlen = 0;
    int type_none = 0;
    for (int i = 2; i < argc; i++) {
        int more = i + 1 < argc;
        if (arg_is(argv[i], argvlen[i], "count") && more) {
            if (arg_ll(c, argv[i + 1], argvlen[i + 1], &count) < 0)
                return;
            if (count < 1) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            i++;
        } else if (arg_is(argv[i], argvlen[i], "match") && more) {
            pat = argv[i + 1];
            patlen = argvlen[i + 1];
            i++;
        } else if (arg_is(argv[i], argvlen[i], "type") && more) {
            /* kvd holds strings only: any other type matches nothing. */
            type_none = !arg_is(argv[i + 1], argvlen[i + 1], "string");
            i++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    collect_ctx k = {BUF_INIT(&srv.pool), 0, pat, patlen, pat == NULL || (patlen == 1 && pat[0] == '*'), srv.now_ms};
    long long visits = 0, max_visits = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    db_saw_all();
    do {
        cursor = table_scan(srv.db, cursor, collect_key, &k);
        visits++;
    } while (cursor && (long long)k.n < count && visits < max_visits);
    if (type_none) {
        buf_reset(&k.keys);
        k.n = 0;
    }
    reply_array(c, 2);
    char num[24];
    size_t nl = kvd_ull_to_str(num, cursor);
    reply_bulk(c, num, nl);
    reply_collected(c, &k);
    buf_release(&k.keys);
}

void cmd_randomkey(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    db_saw_all();
    for (int tries = 0; tries < 100; tries++) {
        tentry_t *e = table_random(srv.db);
        if (!e)
            break;
        int64_t exp = tentry_expire(e);
        if (exp != TABLE_NO_EXPIRE && exp <= srv.now_ms) {
            if (!db_writable())
                continue;
            /* db_lookup removes (and logs) it. */
            db_lookup(tentry_key(e), tentry_klen(e));
            continue;
        }
        reply_bulk(c, tentry_key(e), tentry_klen(e));
        return;
    }
    reply_nil(c);
}

void cmd_rename(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *src = db_lookup(argv[1], argvlen[1]);
    if (!src) {
        reply_error(c, "ERR no such key");
        return;
    }
    db_lookup(argv[2], argvlen[2]); /* expire a stale destination first */
    src = table_find(srv.db, argv[1], argvlen[1]);
    db_rename(src, argv[2], argvlen[2]);
    reply_ok(c);
}

void cmd_renamenx(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *src = db_lookup(argv[1], argvlen[1]);
    if (!src) {
        reply_error(c, "ERR no such key");
        return;
    }
    if (db_lookup(argv[2], argvlen[2])) {
        reply_int(c, 0);
        return;
    }
    src = table_find(srv.db, argv[1], argvlen[1]);
    db_rename(src, argv[2], argvlen[2]);
    reply_int(c, 1);
}

void cmd_copy(client *c, int argc, char **argv, size_t *argvlen)
{
    int replace = 0;
    uint32_t self = srv.dbid, to = self;
    for (int i = 3; i < argc; i++) {
        if (arg_is(argv[i], argvlen[i], "replace")) {
            replace = 1;
        } else if (arg_is(argv[i], argvlen[i], "db") && i + 1 < argc) {
            if (arg_db(c, argv[i + 1], argvlen[i + 1], NULL, 1, &to) < 0)
                return;
            i++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (to == self && argvlen[1] == argvlen[2] && memcmp(argv[1], argv[2], argvlen[1]) == 0) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    tentry_t *src = db_lookup(argv[1], argvlen[1]);
    if (!src) {
        reply_int(c, 0);
        return;
    }
    db_select(to);
    if (db_lookup(argv[2], argvlen[2]) && !replace) {
        db_select(self);
        reply_int(c, 0);
        return;
    }
    /* The destination lookup may have expired (freed) nothing but dst, yet
     * look src up again rather than reason about it. Setting dst does not
     * move src: entries stay put while the table rehashes. */
    src = table_find(srv.ks.db[self], argv[1], argvlen[1]);
    db_set(argv[2], argvlen[2], tentry_val(src), tentry_vlen(src), tentry_expire(src))->enc = src->enc;
    db_select(self);
    reply_int(c, 1);
}

void cmd_move(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    uint32_t self = srv.dbid, to;
    if (arg_db(c, argv[2], argvlen[2], NULL, 0, &to) < 0)
        return;
    if (to == self) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    if (!db_lookup(argv[1], argvlen[1])) {
        reply_int(c, 0);
        return;
    }
    db_select(to);
    tentry_t *there = db_lookup(argv[1], argvlen[1]);
    db_select(self);
    if (there) {
        reply_int(c, 0);
        return;
    }
    /* Looked up again: the lookup in the other database may have deleted
     * an expired key there, which moves nothing here, but do not count on it. */
    db_move(table_peek(srv.db, argv[1], argvlen[1]), to);
    reply_int(c, 1);
}

/* ---- OBJECT, MEMORY ---- */

/* Redis stores a string as an integer when it reads back as one (at most
 * 20 characters, no leading zeros or sign tricks), inline with its header
 * up to 44 bytes, else on its own, unless the command that made it chose
 * (table.h's TENTRY_ENC_*). kvd keeps every value as bytes; OBJECT
 * ENCODING reports what Redis would. */
static int value_is_int(const tentry_t *e, long long *v)
{
    size_t n = tentry_vlen(e);
    if (e->enc)
        return 0;
    return n <= 20 && kvd_str_to_ll(tentry_val((tentry_t *)e), n, v) == 0;
}

void cmd_object(client *c, int argc, char **argv, size_t *argvlen)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if (arg_is(sub, sl, "help") && argc == 2) {
        static const char *const help[] = {
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>", "    How Redis would store the value: int, embstr or raw.",
            "FREQ <key>", "    The key's logarithmic access counter (LFU policies only).",
            "IDLETIME <key>", "    Seconds since the key was last read or written (not under LFU).",
            "REFCOUNT <key>", "    The value's reference count (as Redis reports it).",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
        return;
    }
    static const char *const known[] = {"encoding", "freq", "idletime", "refcount", "help", NULL};
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (arg_is(sub, sl, known[i]))
            which = i;
    if (which < 0 || argc != 3) {
        reply_subcommand_error(c, "object", sub, sl, known);
        return;
    }
    tentry_t *e = db_peek(argv[2], argvlen[2]);
    if (!e) {
        reply_nil(c);
        return;
    }
    long long v;
    switch (which) {
    case 0:
        reply_bulk_str(c, value_is_int(e, &v)                                     ? "int"
                          : e->enc != TENTRY_ENC_RAW && tentry_vlen(e) <= 44 ? "embstr"
                                                                                 : "raw");
        break;
    case 1:
        if (srv.db->lfu)
            reply_int(c, table_lfu_count(srv.db, e));
        else
            reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                           "Please note that when switching between policies at runtime LRU and LFU data "
                           "will take some time to adjust.");
        break;
    case 2:
        if (srv.db->lfu)
            reply_error(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note "
                           "that when switching between policies at runtime LRU and LFU data will take "
                           "some time to adjust.");
        else
            reply_int(c, (long long)tentry_idle(srv.db, e) * TABLE_LRU_MS / 1000);
        break;
    default: {
        /* Redis shares the integers 0..9999 (reported as INT_MAX) unless an
         * LRU or LFU policy needs a stamp per value. */
        int p = srv.cfg.maxmemory_policy;
        int stamped = srv.cfg.maxmemory && (p == EVICT_ALLKEYS_LRU || p == EVICT_VOLATILE_LRU ||
                                            evict_policy_is_lfu(p));
        reply_int(c, value_is_int(e, &v) && v >= 0 && v < 10000 && !stamped ? INT_MAX : 1);
        break;
    }
    }
}

/* What MEMORY STATS and DOCTOR look at. */
typedef struct mem_view {
    size_t used, peak, dataset, clients, wal, rss;
    uint64_t keys;
} mem_view;

static size_t rss_now(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long size;
        if (fscanf(f, "%ld %ld", &size, &pages) != 2)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static mem_view mem_look(void)
{
    mem_view m;
    m.used = server_used_memory();
    m.peak = srv.stats.peak_memory > m.used ? srv.stats.peak_memory : m.used;
    m.dataset = keyspace_bytes(&srv.ks);
    m.clients = conn_memory();
    m.wal = srv.wal->batch.cap;
    m.rss = rss_now();
    m.keys = keyspace_count(&srv.ks);
    return m;
}

static void memory_stats(client *c)
{
    mem_view m = mem_look();
    size_t overhead = m.used > m.dataset ? m.used - m.dataset : 0;
    reply_map(c, 17);
    reply_bulk_str(c, "peak.allocated");
    reply_int(c, (long long)m.peak);
    reply_bulk_str(c, "total.allocated");
    reply_int(c, (long long)m.used);
    reply_bulk_str(c, "startup.allocated");
    reply_int(c, 0);
    reply_bulk_str(c, "replication.backlog");
    reply_int(c, 0);
    reply_bulk_str(c, "clients.slaves");
    reply_int(c, 0);
    reply_bulk_str(c, "clients.normal");
    reply_int(c, (long long)m.clients);
    reply_bulk_str(c, "aof.buffer");
    reply_int(c, (long long)m.wal);
    reply_bulk_str(c, "overhead.total");
    reply_int(c, (long long)overhead);
    reply_bulk_str(c, "keys.count");
    reply_int(c, (long long)m.keys);
    reply_bulk_str(c, "keys.bytes-per-key");
    reply_int(c, m.keys ? (long long)(m.dataset / m.keys) : 0);
    reply_bulk_str(c, "dataset.bytes");
    reply_int(c, (long long)m.dataset);
    reply_bulk_str(c, "dataset.percentage");
    reply_double(c, m.used ? (double)m.dataset * 100.0 / (double)m.used : 0.0);
    reply_bulk_str(c, "peak.percentage");
    reply_double(c, m.peak ? (double)m.used * 100.0 / (double)m.peak : 0.0);
    reply_bulk_str(c, "pool.cached");
    reply_int(c, (long long)srv.pool.cached_bytes);
    reply_bulk_str(c, "rss");
    reply_int(c, (long long)m.rss);
    reply_bulk_str(c, "fragmentation");
    reply_double(c, m.used ? (double)m.rss / (double)m.used : 0.0);
    reply_bulk_str(c, "fragmentation.bytes");
    reply_int(c, (long long)m.rss - (long long)m.used);
}

static void memory_doctor(client *c)
{
    mem_view m = mem_look();
    buf_t b = BUF_INIT(&srv.pool);
    int found = 0;
    if (m.used < 5 * 1024 * 1024) {
        buf_appendf(&b, "kvd uses %zu bytes: too little to say anything useful about memory yet.\n", m.used);
        found = 1;
    } else {
        double frag = m.used ? (double)m.rss / (double)m.used : 0;
        if (frag > 1.4 && m.rss - m.used > 10 * 1024 * 1024) {
            buf_appendf(&b, "* Fragmentation: the process holds %.2f times what kvd uses (%zu bytes more). "
                            "MEMORY PURGE returns free memory to the system; after many deletes of large "
                            "values a restart (the WAL is replayed) packs the data again.\n",
                        frag, m.rss - m.used);
            found = 1;
        }
        if (m.peak > m.used + m.used / 2) {
            buf_appendf(&b, "* Peak: kvd once used %zu bytes, now %zu. The memory freed since may stay with "
                            "the process (see fragmentation).\n",
                        m.peak, m.used);
            found = 1;
        }
        if (m.clients > m.used / 4) {
            buf_appendf(&b, "* Clients: their buffers hold %zu bytes, %zu%% of what kvd uses: look for clients "
                            "that do not read their replies (CLIENT LIST, omem) or send huge pipelines.\n",
                        m.clients, m.clients * 100 / m.used);
            found = 1;
        }
        if (srv.cfg.maxmemory && m.used > (size_t)srv.cfg.maxmemory) {
            buf_appendf(&b, "* maxmemory: kvd uses %zu bytes, over the %lld allowed.\n", m.used,
                        srv.cfg.maxmemory);
            found = 1;
        }
    }
    if (!found)
        buf_puts(&b, "No memory problem found.\n");
    reply_verbatim(c, b.data, b.len);
    buf_release(&b);
}

void cmd_memory(client *c, int argc, char **argv, size_t *argvlen)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if (arg_is(sub, sl, "stats") && argc == 2) {
        memory_stats(c);
        return;
    }
    if (arg_is(sub, sl, "doctor") && argc == 2) {
        memory_doctor(c);
        return;
    }
    if (arg_is(sub, sl, "usage") && argc >= 3) {
        for (int i = 3; i < argc; i += 2) {
            long long samples;
            if (!arg_is(argv[i], argvlen[i], "samples") || i + 1 >= argc) {
                reply_error(c, "ERR syntax error");
                return;
            }
            if (arg_ll(c, argv[i + 1], argvlen[i + 1], &samples) < 0)
                return;
            if (samples < 0) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        }
        tentry_t *e = db_peek(argv[2], argvlen[2]);
        if (!e) {
            reply_nil(c);
            return;
        }
        /* The entry as the allocator sizes it, its bucket slot, and its
         * slot in the expiry index if it has one. */
        reply_int(c, (long long)(slab_size(e) + sizeof(slab_ref) + (tentry_has_expire(e) ? sizeof(tentry_t *) : 0)));
    } else if (arg_is(sub, sl, "purge") && argc == 2) {
#ifdef HAVE_MALLOC_TRIM
        malloc_trim(0);
#endif
        reply_ok(c);
    } else if (arg_is(sub, sl, "help") && argc == 2) {
        static const char *const help[] = {
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "USAGE <key> [SAMPLES <count>]", "    Bytes the key and its value take in memory (SAMPLES is accepted and ignored).",
            "PURGE", "    Return freed memory to the operating system (malloc_trim).",
            "STATS", "    Return information about the memory usage of the server.",
            "DOCTOR", "    Return memory problems reports.",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"usage", "purge", "stats", "doctor", "help", NULL};
        reply_subcommand_error(c, "memory", sub, sl, known);
    }
}
