/* harness: the daemon's modules driven without a loop (see harness.h). */
#include "config.h"
#include "harness.h"
#include "acl.h"
#include "multi.h"
#include "pubsub.h"
#include "apply.h"
#include "cmd.h"
#include "commit.h"
#include "compact.h"
#include "db.h"
#include "evict.h"
#include "log.h"
#include "server.h"
#include "util.h"
#include "wal_dir.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLIENTS 4
static client *fakes[CLIENTS];
static client *fake; /* the one h_cmd runs for */
static char data_dir[4096];

static void die(const char *what)
{
    fprintf(stderr, "harness: %s\n", what);
    abort();
}

static void open_db(void)
{
    char err[2048];
    keyspace_init(&srv.ks, (uint32_t)srv.cfg.databases);
    db_select(0);
    db_set_now(kvd_now_ms());
    server_apply_eviction_config();
    compact_stop_stale(data_dir);
    if (db_open(data_dir, -1, err, sizeof err) < 0) {
        fprintf(stderr, "harness: the data dir does not load: %s\n", err);
        abort();
    }
    db_drop_expired();
    srv.compact = (compact_state){.last_status = -1, .cow_fd = -1, .ref_bytes = wal_total_bytes(srv.wal)};
}

static void close_db(int clean)
{
    if (clean) {
        if (commit_sync_now() < 0)
            die("the final sync failed");
    } else {
        wal_discard(srv.wal); /* kill -9: the batch never reached the file */
        srv.wal->filled = srv.wal->size; /* and nothing cuts off a prefilled tail */
    }
    for (int i = 0; i < CLIENTS; i++) {
        list_remove(&fakes[i]->held);
        list_remove(&fakes[i]->pw);
        fakes[i]->nbars = 0;
        buf_reset(&fakes[i]->out);
    }
    wal_close(srv.wal);
    srv.wal = NULL;
    db_close();
    keyspace_free(&srv.ks);
    srv.db = NULL;
}

void h_start(const char *dir, int64_t now_ms)
{
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    if (kvd_mkdir_p(dir, 0700) < 0)
        die("cannot create the data dir");
    kvd_clock_set(now_ms);
    conf_init(&srv.cfg);
    free(srv.cfg.dir);
    srv.cfg.dir = xstrdup(dir);
    srv.cfg.appendfsync = WAL_SYNC_EVERYSEC;
    srv.cfg.auto_aof_rewrite_percentage = 0; /* compactions when the test says */
    srv.cfg.compaction_cpu_percent = 100;
    log_open(NULL, LOG_NOTHING);
    pool_init(&srv.pool, 0, 0);
    cmd_init();
    acl_init();
    open_db();
    for (int i = 0; i < CLIENTS; i++) {
        client *c = xcalloc(1, sizeof(*c));
        buf_init(&c->qbuf, &srv.pool);
        buf_init(&c->out, &srv.pool);
        c->flags = CLIENT_AUTHENTICATED;
        c->user = acl_default_user();
        c->id = (uint64_t)i + 1;
        snprintf(c->addr, sizeof c->addr, "harness:%d", i);
        fakes[i] = c;
    }
    fake = fakes[0];
}

void h_use(int i)
{
    fake = fakes[i];
}

client *h_client(void)
{
    return fake;
}

size_t h_sendable(void)
{
    return fake->nbars ? fake->bars[0].off : fake->out.len;
}

int h_holds(void)
{
    return fake->nbars;
}

void h_policy(int always)
{
    srv.cfg.appendfsync = always ? WAL_SYNC_ALWAYS : WAL_SYNC_EVERYSEC;
}

uint64_t h_wal_tail(void)
{
    return srv.wal->filled - srv.wal->size;
}

void h_sync(void)
{
    if (commit_sync_now() < 0)
        die("sync failed");
}

void h_stop(void)
{
    close_db(1);
    for (int i = 0; i < CLIENTS; i++) {
        multi_free(fakes[i]);
        pubsub_free(fakes[i]);
        resp_parser_free(&fakes[i]->parser);
        buf_release(&fakes[i]->out);
        buf_release(&fakes[i]->qbuf);
        free(fakes[i]->bars);
        free(fakes[i]);
        fakes[i] = NULL;
    }
    fake = NULL;
    pool_destroy(&srv.pool);
    conf_free(&srv.cfg);
    memset(&srv, 0, sizeof srv);
    kvd_clock_set(0);
}

void h_send(void)
{
    size_t sendable = h_sendable();
    buf_consume(&fake->out, sendable);
    for (int i = 0; i < fake->nbars; i++)
        fake->bars[i].off -= sendable;
}

void h_cmd(int argc, char **argv, size_t *argvlen)
{
    h_send(); /* what the loop would have sent by now */
    cmd_dispatch(fake, argc, argv, argvlen);
}

const buf_t *h_reply(void)
{
    return &fake->out;
}

void h_advance(int64_t ms)
{
    kvd_clock_set(kvd_now_ms() + ms);
}

void h_flush(void)
{
    commit_flush();
    commit_cron(kvd_now_ms()); /* releases the holds the write covered */
}

void h_fail_write(void)
{
    if (!wal_pending(srv.wal))
        return;
    struct rlimit old, rl;
    getrlimit(RLIMIT_FSIZE, &old);
    rl = old;
    rl.rlim_cur = (rlim_t)srv.wal->size;
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        die("setrlimit");
    int rc = commit_flush();
    setrlimit(RLIMIT_FSIZE, &old);
    if (rc == 0)
        die("a write over RLIMIT_FSIZE succeeded");
}

void h_compact(void)
{
    char err[1024];
    if (compact_start("harness", err, sizeof err) != COMPACT_STARTED)
        return; /* e.g. refused while a failed write is being retried */
    while (srv.compact.child) {
        compact_cron();
        if (srv.compact.child)
            usleep(500);
    }
    if (srv.compact.last_status != 1)
        die("the compaction failed");
}

void h_restart(int clean)
{
    /* The clients' connections go with the server: their transactions,
     * watches and subscriptions too. */
    for (int i = 0; i < CLIENTS; i++) {
        multi_free(fakes[i]);
        pubsub_free(fakes[i]);
    }
    close_db(clean);
    open_db();
}

void h_active_expire(void)
{
    db_active_expire(1000000);
}

void h_evict(int policy)
{
    srv.cfg.maxmemory_policy = policy;
    server_apply_eviction_config();
    srv.cfg.maxmemory = (long long)(db_evict_used() * 3 / 4) + 1;
    db_set_now(kvd_now_ms());
    db_make_room(0);
    srv.cfg.maxmemory = 0;
}

uint64_t h_keys(void)
{
    return keyspace_count(&srv.ks);
}

/* ---- the check ---- */

typedef struct cmp_ctx {
    table_t *other;
    uint32_t db;
    char *why;
    size_t whylen;
    int bad;
} cmp_ctx;

static void quote(char *dst, size_t n, const char *p, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            dst[o++] = (char)ch;
        else
            o += (size_t)snprintf(dst + o, n - o, "\\x%02x", ch);
    }
    dst[o] = '\0';
}

static void compare_entry(void *ctx, const tentry_t *e)
{
    cmp_ctx *c = ctx;
    if (c->bad)
        return;
    char k[200];
    quote(k, sizeof k, tentry_key(e), tentry_klen(e));
    tentry_t *x = table_peek(c->other, tentry_key(e), tentry_klen(e));
    if (!x) {
        snprintf(c->why, c->whylen, "key \"%s\" of database %u is live but not in the replay", k, c->db);
        c->bad = 1;
    } else if (tentry_vlen(x) != tentry_vlen(e) || memcmp(tentry_val(x), tentry_val((tentry_t *)e), tentry_vlen(e))) {
        snprintf(c->why, c->whylen, "key \"%s\": live and replayed values differ (%zu vs %zu bytes)", k,
                 tentry_vlen(e), tentry_vlen(x));
        c->bad = 1;
    } else if (tentry_expire(x) != tentry_expire(e)) {
        snprintf(c->why, c->whylen, "key \"%s\": live expiry %" PRId64 ", replayed %" PRId64, k, tentry_expire(e),
                 tentry_expire(x));
        c->bad = 1;
    }
}

int h_check(char *why, size_t whylen)
{
    commit_flush();
    manifest m;
    char err[2048];
    if (manifest_load(data_dir, &m, err, sizeof err) != 0) {
        snprintf(why, whylen, "manifest: %s", err);
        return -1;
    }
    keyspace ks;
    keyspace_init(&ks, srv.ks.n);
    wal_walk_result w;
    int rc = wal_walk_dir(data_dir, &m, &srv.pool, apply_replay, &ks, &apply_hooks, NULL, NULL, 0, &w, err, sizeof err);
    manifest_free(&m);
    if (rc < 0 || w.status != WAL_SCAN_OK || ks.bad_seq) {
        snprintf(why, whylen, "the WAL does not replay: %s%s%s", rc < 0 ? err : w.bad_path, rc < 0 ? "" : w.bad_reason,
                 ks.bad_seq ? " (an entry names a database past the last)" : "");
        keyspace_free(&ks);
        return -1;
    }
    cmp_ctx c = {.why = why, .whylen = whylen};
    for (uint32_t d = 0; d < ks.n && !c.bad; d++) {
        table_expand_done(ks.db[d]);
        c.other = ks.db[d];
        c.db = d;
        table_foreach(srv.ks.db[d], compare_entry, &c);
        if (!c.bad && table_count(ks.db[d]) != table_count(srv.ks.db[d])) {
            snprintf(why, whylen, "database %u: the replay has %" PRIu64 " keys, the live table %" PRIu64, d,
                     table_count(ks.db[d]), table_count(srv.ks.db[d]));
            c.bad = 1;
        }
    }
    if (!c.bad && w.last_seq != srv.wal->written_seq) {
        snprintf(why, whylen, "the replay ends at seq %" PRIu64 ", the WAL wrote up to %" PRIu64, w.last_seq,
                 srv.wal->written_seq);
        c.bad = 1;
    }
    keyspace_free(&ks);
    return c.bad ? -1 : 0;
}

static void copy_entry(void *ctx, const tentry_t *e)
{
    table_set(ctx, tentry_key(e), tentry_klen(e), tentry_val((tentry_t *)e), tentry_vlen(e), tentry_expire(e), NULL);
}

void *h_snapshot(void)
{
    commit_flush();
    keyspace *ks = xmalloc(sizeof *ks);
    keyspace_init(ks, srv.ks.n);
    for (uint32_t d = 0; d < ks->n; d++)
        table_foreach(srv.ks.db[d], copy_entry, ks->db[d]);
    return ks;
}

void h_snapshot_free(void *snap)
{
    keyspace_free(snap);
    free(snap);
}

typedef struct live_ctx {
    uint64_t n;
    int64_t now;
} live_ctx;

static void count_live(void *ctx, const tentry_t *e)
{
    live_ctx *l = ctx;
    if (tentry_expire(e) == TABLE_NO_EXPIRE || tentry_expire(e) > l->now)
        l->n++;
}

int h_same_as(void *snap, char *why, size_t whylen)
{
    /* Every live entry is in the snapshot, unexpired; and the snapshot has
     * no other unexpired entry. */
    keyspace *ks = snap;
    for (uint32_t d = 0; d < ks->n; d++) {
        cmp_ctx c = {.other = ks->db[d], .db = d, .why = why, .whylen = whylen};
        table_foreach(srv.ks.db[d], compare_entry, &c);
        if (c.bad)
            return -1;
        live_ctx l = {0, kvd_now_ms()};
        table_foreach(ks->db[d], count_live, &l);
        if (l.n != table_count(srv.ks.db[d])) {
            snprintf(why, whylen, "database %u: %" PRIu64 " keys were live before the restart, %" PRIu64 " are after",
                     d, l.n, table_count(srv.ks.db[d]));
            return -1;
        }
    }
    return 0;
}

/* ---- the command generator ---- */

typedef struct gen {
    int (*next)(void *);
    void *ctx;
    char **argv;
    size_t *argvlen;
    char *store;
    size_t used;
    int argc;
} gen;

#define STORE 8192

static unsigned pick(gen *g, unsigned n)
{
    return (unsigned)g->next(g->ctx) % n;
}

static void add(gen *g, const void *p, size_t n)
{
    if (g->used + n + 1 > STORE || g->argc >= 16)
        return;
    memcpy(g->store + g->used, p, n);
    g->store[g->used + n] = '\0';
    g->argv[g->argc] = g->store + g->used;
    g->argvlen[g->argc++] = n;
    g->used += n + 1;
}

static void add_str(gen *g, const char *s)
{
    add(g, s, strlen(s));
}

static void add_num(gen *g, long long v)
{
    char b[32];
    add(g, b, (size_t)snprintf(b, sizeof b, "%lld", v));
}

static void add_key(gen *g)
{
    static const char *const keys[] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9",
                                       "user:1", "user:2", "", "sp ace", "\xff\xfe", "caf\xc3\xa9"};
    unsigned i = pick(g, 18);
    if (i < 16)
        add_str(g, keys[i]);
    else if (i == 16)
        add(g, "b\0in", 4);
    else
        add(g, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", 79);
}

static void add_value(gen *g)
{
    static const char *const vals[] = {"v", "hello", "0", "12", "-5", "9223372036854775806", "1.5", "-0.25",
                                       "3e2", "", "abc def", "\xff", "10.0", " 7", "0x10", "inf"};
    unsigned i = pick(g, 20);
    if (i < 16) {
        add_str(g, vals[i]);
    } else if (i == 16) {
        add(g, "12\0" "34", 5);
    } else if (i == 17) {
        add(g, "\0\0\0\0\0" "12", 7);
    } else {
        char b[600];
        size_t n = 1 + pick(g, 255) + (i == 19 ? 300 : 0);
        memset(b, 'a' + (int)pick(g, 26), n);
        add(g, b, n);
    }
}

/* A number for a TTL, an offset, an increment: small ones (which with
 * this clock expire soon), and the edges where arithmetic overflows. */
static long long number(gen *g)
{
    static const long long edges[] = {0, 1, -1, 2, 5, 10, 100, 300, 1000, 3600, 86400, 2147483648LL,
                                      9007199254740LL, 9007199254740991LL, 9007199254740992LL, 9007199254740993LL,
                                      9999999999999LL, 9223372036854775LL, 9223372036854775807LL,
                                      -9223372036854775807LL - 1, 536870912LL, -100};
    unsigned i = pick(g, 40);
    if (i < sizeof edges / sizeof *edges)
        return edges[i];
    return (long long)pick(g, 64);
}

/* An absolute time: around now (past or near future), or far, or huge. */
static long long abstime(gen *g, int ms)
{
    long long now = kvd_now_ms();
    switch (pick(g, 6)) {
    case 0: return ms ? now - (long long)pick(g, 5000) : now / 1000 - (long long)pick(g, 5);
    case 1: return ms ? now + (long long)pick(g, 5000) : now / 1000 + (long long)pick(g, 5);
    case 2: return ms ? now + 86400000LL : now / 1000 + 86400;
    default: return number(g);
    }
}

static void add_expire_flag(gen *g)
{
    static const char *const flags[] = {"NX", "XX", "GT", "LT"};
    if (pick(g, 3) == 0)
        add_str(g, flags[pick(g, 4)]);
}

static void add_set_options(gen *g, int getex)
{
    unsigned n = pick(g, 3);
    for (unsigned i = 0; i < n; i++) {
        switch (pick(g, getex ? 5 : 8)) {
        case 0: add_str(g, "EX"); add_num(g, number(g)); break;
        case 1: add_str(g, "PX"); add_num(g, number(g)); break;
        case 2: add_str(g, "EXAT"); add_num(g, abstime(g, 0)); break;
        case 3: add_str(g, "PXAT"); add_num(g, abstime(g, 1)); break;
        case 4: add_str(g, getex ? "PERSIST" : "KEEPTTL"); break;
        case 5: add_str(g, "NX"); break;
        case 6: add_str(g, "XX"); break;
        default: add_str(g, "GET"); break;
        }
    }
}

int h_gen(int (*next)(void *), void *ctx, char **argv, size_t *argvlen, char *store)
{
    gen g = {next, ctx, argv, argvlen, store, 0, 0};
    switch (pick(&g, 58)) {
    case 0: case 1: case 2:
        add_str(&g, "SET"); add_key(&g); add_value(&g); add_set_options(&g, 0); break;
    case 3: add_str(&g, "SETNX"); add_key(&g); add_value(&g); break;
    case 4: add_str(&g, "SETEX"); add_key(&g); add_num(&g, number(&g)); add_value(&g); break;
    case 5: add_str(&g, "PSETEX"); add_key(&g); add_num(&g, number(&g)); add_value(&g); break;
    case 6: add_str(&g, "GETSET"); add_key(&g); add_value(&g); break;
    case 7: add_str(&g, "GETDEL"); add_key(&g); break;
    case 8: add_str(&g, "GETEX"); add_key(&g); add_set_options(&g, 1); break;
    case 9: case 10: {
        add_str(&g, pick(&g, 2) ? "MSET" : "MSETNX");
        unsigned n = 1 + pick(&g, 3);
        for (unsigned i = 0; i < n; i++) {
            add_key(&g);
            add_value(&g);
        }
        break;
    }
    case 11: add_str(&g, pick(&g, 2) ? "INCR" : "DECR"); add_key(&g); break;
    case 12: add_str(&g, pick(&g, 2) ? "INCRBY" : "DECRBY"); add_key(&g); add_num(&g, number(&g)); break;
    case 13: {
        static const char *const f[] = {"1.5", "-2", "0.1", "1e300", "-1e300", "abc", "1e5000", "3"};
        add_str(&g, "INCRBYFLOAT"); add_key(&g); add_str(&g, f[pick(&g, 8)]);
        break;
    }
    case 14: case 15: add_str(&g, "APPEND"); add_key(&g); add_value(&g); break;
    case 16: case 17: add_str(&g, "SETRANGE"); add_key(&g); add_num(&g, number(&g)); add_value(&g); break;
    case 18: case 19: {
        add_str(&g, pick(&g, 2) ? "DEL" : "UNLINK");
        unsigned n = 1 + pick(&g, 3);
        for (unsigned i = 0; i < n; i++)
            add_key(&g);
        break;
    }
    case 20: case 21: add_str(&g, "EXPIRE"); add_key(&g); add_num(&g, number(&g)); add_expire_flag(&g); break;
    case 22: add_str(&g, "PEXPIRE"); add_key(&g); add_num(&g, number(&g)); add_expire_flag(&g); break;
    case 23: add_str(&g, "EXPIREAT"); add_key(&g); add_num(&g, abstime(&g, 0)); add_expire_flag(&g); break;
    case 24: add_str(&g, "PEXPIREAT"); add_key(&g); add_num(&g, abstime(&g, 1)); add_expire_flag(&g); break;
    case 25: case 26: add_str(&g, "PERSIST"); add_key(&g); break;
    case 27: case 28: add_str(&g, pick(&g, 2) ? "RENAME" : "RENAMENX"); add_key(&g); add_key(&g); break;
    case 29:
        add_str(&g, "COPY"); add_key(&g); add_key(&g);
        if (pick(&g, 2)) {
            add_str(&g, "DB"); add_num(&g, pick(&g, 4));
        }
        if (pick(&g, 2))
            add_str(&g, "REPLACE");
        break;
    /* Databases: a few of them in use (and one past the last now and then). */
    case 52: case 53: add_str(&g, "SELECT"); add_num(&g, pick(&g, 30) == 0 ? 16 : pick(&g, 4)); break;
    case 54: add_str(&g, "MOVE"); add_key(&g); add_num(&g, pick(&g, 4)); break;
    case 55: add_str(&g, "SWAPDB"); add_num(&g, pick(&g, 4)); add_num(&g, pick(&g, 4)); break;
    /* The protocol the replies are in must not change what is stored. */
    case 56: add_str(&g, "HELLO"); add_num(&g, 2 + pick(&g, 2)); break;
    /* Pub/sub: messages to the other fake clients, and a subscribed
     * client's refusals; nothing stored may change. */
    case 57: {
        /* Unsubscribing (from all) as often as subscribing: a RESP2
         * subscriber refuses most commands, which would starve the rest
         * of the stream of that client. */
        static const char *const ps[] = {"PUBLISH", "PUBLISH", "PUBLISH", "PUBLISH", "SUBSCRIBE",
                                         "PSUBSCRIBE", "UNSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "PUNSUBSCRIBE"};
        int which = (int)pick(&g, 10);
        add_str(&g, ps[which]);
        if (which < 4) {
            add_key(&g);
            add_value(&g);
        } else if (which < 6) {
            add_str(&g, which == 5 ? "k*" : "k1");
        }
        break;
    }
    case 30:
        if (pick(&g, 8) == 0) {
            add_str(&g, pick(&g, 2) ? "FLUSHALL" : "FLUSHDB");
            break;
        }
        /* fall through */
    case 31: case 32: add_str(&g, "GET"); add_key(&g); break;
    case 33: add_str(&g, "MGET"); add_key(&g); add_key(&g); break;
    case 34: add_str(&g, pick(&g, 2) ? "EXISTS" : "TOUCH"); add_key(&g); add_key(&g); break;
    case 35: add_str(&g, pick(&g, 2) ? "TTL" : "PEXPIRETIME"); add_key(&g); break;
    case 36: add_str(&g, "GETRANGE"); add_key(&g); add_num(&g, number(&g)); add_num(&g, number(&g)); break;
    case 37: add_str(&g, pick(&g, 2) ? "STRLEN" : "TYPE"); add_key(&g); break;
    case 38: add_str(&g, pick(&g, 2) ? "RANDOMKEY" : "DBSIZE"); break;
    /* Transactions: the commands between MULTI and EXEC are one group. */
    case 40: case 41: add_str(&g, "MULTI"); break;
    case 42: add_str(&g, "EXEC"); break;
    case 43:
        if (pick(&g, 2)) {
            add_str(&g, "DISCARD");
        } else {
            add_str(&g, "WATCH"); add_key(&g);
        }
        break;
    /* Bitmaps: logged as the bytes they change. */
    case 44: add_str(&g, "SETBIT"); add_key(&g); add_num(&g, pick(&g, 200)); add_num(&g, pick(&g, 2)); break;
    case 45: {
        static const char *const ops[] = {"AND", "OR", "XOR", "NOT"};
        int op = (int)pick(&g, 4);
        add_str(&g, "BITOP"); add_str(&g, ops[op]); add_key(&g); add_key(&g);
        if (op != 3)
            add_key(&g);
        break;
    }
    case 46: case 47: {
        static const char *const types[] = {"u8", "i8", "u3", "i16", "i64", "u63", "i5"};
        static const char *const ovf[] = {"WRAP", "SAT", "FAIL"};
        add_str(&g, "BITFIELD"); add_key(&g);
        add_str(&g, "OVERFLOW"); add_str(&g, ovf[pick(&g, 3)]);
        add_str(&g, pick(&g, 2) ? "SET" : "INCRBY"); add_str(&g, types[pick(&g, 7)]);
        add_num(&g, pick(&g, 100)); add_num(&g, number(&g));
        break;
    }
    /* The bitmap reads and LCS, with edge numbers for offsets and ranges:
     * they must answer (or refuse) and change nothing. */
    case 48: {
        static const char *const r[] = {"BITCOUNT", "BITPOS"};
        int which = (int)pick(&g, 2);
        add_str(&g, r[which]); add_key(&g);
        if (which)
            add_num(&g, pick(&g, 3)); /* 2 is refused */
        if (pick(&g, 3)) {
            add_num(&g, number(&g)); add_num(&g, number(&g));
            if (pick(&g, 2))
                add_str(&g, pick(&g, 2) ? "BIT" : "BYTE");
        }
        break;
    }
    case 49: add_str(&g, "GETBIT"); add_key(&g); add_num(&g, number(&g)); break;
    case 50:
        add_str(&g, "BITFIELD_RO"); add_key(&g); add_str(&g, "GET");
        add_str(&g, pick(&g, 2) ? "i64" : "u7"); add_num(&g, number(&g));
        break;
    case 51:
        add_str(&g, "LCS"); add_key(&g); add_key(&g);
        if (pick(&g, 2)) {
            add_str(&g, "IDX");
            if (pick(&g, 2)) { add_str(&g, "MINMATCHLEN"); add_num(&g, number(&g)); }
            if (pick(&g, 2)) add_str(&g, "WITHMATCHLEN");
        } else if (pick(&g, 2)) {
            add_str(&g, "LEN");
        }
        break;
    case 39:
    default:
        add_str(&g, "SCAN"); add_num(&g, 0);
        if (pick(&g, 2)) {
            add_str(&g, "COUNT");
            add_num(&g, number(&g));
        }
        break;
    }
    return g.argc;
}
