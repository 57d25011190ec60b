/* multi: MULTI/EXEC/DISCARD and WATCH/UNWATCH. See multi.h. */
#include "config.h"
#include "multi.h"
#include "acl.h"
#include "cmd.h"
#include "commit.h"
#include "db.h"
#include "slowlog.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* One queued command: its arguments in one allocation. */
typedef struct queued {
    kvd_cmd *cmd;
    int argc;
    char **argv;
    size_t *argvlen;
    size_t bytes;
} queued;

/* A watched key and the clients watching it. */
typedef struct wkey {
    char *key;
    size_t klen;
    uint32_t db;         /* the database it is watched in */
    client **clients;
    int n, cap;
    struct wkey *next;   /* same hash bucket */
} wkey;

/* What a client watches: the key, and whether it was already expired
 * (present but past its time) when WATCH ran. */
typedef struct watch_ref {
    wkey *k;
    int expired;
} watch_ref;

typedef struct multi_state {
    queued *q;
    int nq, capq;
    size_t bytes;
    int writes, denyoom;     /* queued commands that write / may grow memory */
    int replicates;          /* queued commands that write or may replicate (PUBLISH) */
    watch_ref *w;
    int nw, capw;
} multi_state;

#define NBUCKETS 1024
static wkey *buckets[NBUCKETS];
static size_t nwatched;      /* keys with watchers */
static uint64_t hash_seed[2] = {0x6b76642d77617463ULL, 0x68206b6579732121ULL};

static multi_state *state(client *c)
{
    if (!c->mstate)
        c->mstate = xcalloc(1, sizeof(multi_state));
    return c->mstate;
}

static wkey **bucket(uint32_t db, const char *key, size_t klen)
{
    return &buckets[(kvd_siphash(key, klen, hash_seed) + db) & (NBUCKETS - 1)];
}

static wkey *find_key(uint32_t db, const char *key, size_t klen)
{
    for (wkey *k = *bucket(db, key, klen); k; k = k->next)
        if (k->db == db && k->klen == klen && memcmp(k->key, key, klen) == 0)
            return k;
    return NULL;
}

static inline tentry_t *peek(uint32_t db, const char *key, size_t klen)
{
    return table_peek(srv.ks.db[db], key, klen);
}

/* Is key present in db but past its expiry (logically gone, not yet deleted)? */
static int present_but_expired(uint32_t db, const char *key, size_t klen)
{
    tentry_t *e = peek(db, key, klen);
    if (!e)
        return 0;
    int64_t exp = tentry_expire(e);
    return exp != TABLE_NO_EXPIRE && exp <= srv.now_ms;
}

static void watch_key(client *c, uint32_t db, const char *key, size_t klen)
{
    multi_state *m = state(c);
    for (int i = 0; i < m->nw; i++)
        if (m->w[i].k->db == db && m->w[i].k->klen == klen && memcmp(m->w[i].k->key, key, klen) == 0)
            return;
    wkey *k = find_key(db, key, klen);
    if (!k) {
        k = xcalloc(1, sizeof(*k));
        k->key = xmemdup(key, klen ? klen : 1);
        k->klen = klen;
        k->db = db;
        wkey **b = bucket(db, key, klen);
        k->next = *b;
        *b = k;
        nwatched++;
    }
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 4;
        k->clients = xrealloc(k->clients, sizeof(client *) * (size_t)k->cap);
    }
    k->clients[k->n++] = c;
    if (m->nw == m->capw) {
        m->capw = m->capw ? m->capw * 2 : 4;
        m->w = xrealloc(m->w, sizeof(watch_ref) * (size_t)m->capw);
    }
    m->w[m->nw].k = k;
    m->w[m->nw].expired = present_but_expired(db, key, klen);
    m->nw++;
}

static void unwatch_all(client *c)
{
    multi_state *m = c->mstate;
    if (!m)
        return;
    for (int i = 0; i < m->nw; i++) {
        wkey *k = m->w[i].k;
        for (int j = 0; j < k->n; j++) {
            if (k->clients[j] == c) {
                k->clients[j] = k->clients[--k->n];
                break;
            }
        }
        if (k->n == 0) {
            wkey **pp = bucket(k->db, k->key, k->klen);
            while (*pp != k)
                pp = &(*pp)->next;
            *pp = k->next;
            free(k->key);
            free(k->clients);
            free(k);
            nwatched--;
        }
    }
    m->nw = 0;
    c->flags &= ~CLIENT_DIRTY_CAS;
}

static void discard(client *c)
{
    multi_state *m = c->mstate;
    if (m) {
        for (int i = 0; i < m->nq; i++)
            free(m->q[i].argv);
        m->nq = 0;
        srv.clients_mem = srv.clients_mem > m->bytes ? srv.clients_mem - m->bytes : 0;
        m->bytes = 0;
        m->writes = m->denyoom = m->replicates = 0;
    }
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

void multi_discard(client *c)
{
    discard(c);
    unwatch_all(c);
}

void multi_free(client *c)
{
    if (!c->mstate)
        return;
    discard(c);
    unwatch_all(c);
    free(c->mstate->q);
    free(c->mstate->w);
    free(c->mstate);
    c->mstate = NULL;
}

void multi_flag_error(client *c)
{
    if (c->flags & CLIENT_MULTI)
        c->flags |= CLIENT_DIRTY_EXEC;
}

void multi_queue(client *c, kvd_cmd *cmd, int argc, char **argv, size_t *argvlen)
{
    multi_state *m = state(c);
    size_t bytes = (sizeof(char *) + sizeof(size_t)) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += argvlen[i] + 1;
    char *mem = xmalloc(bytes);
    queued q = {cmd, argc, (char **)mem, (size_t *)(mem + sizeof(char *) * (size_t)argc), bytes};
    char *p = mem + (sizeof(char *) + sizeof(size_t)) * (size_t)argc;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], argvlen[i]);
        p[argvlen[i]] = '\0';
        q.argv[i] = p;
        q.argvlen[i] = argvlen[i];
        p += argvlen[i] + 1;
    }
    if (m->nq == m->capq) {
        m->capq = m->capq ? m->capq * 2 : 8;
        m->q = xrealloc(m->q, sizeof(queued) * (size_t)m->capq);
    }
    m->q[m->nq++] = q;
    m->bytes += bytes;
    /* Counted against maxmemory at once, not at the next cron. */
    srv.clients_mem += bytes;
    m->writes += (cmd->flags & CMD_WRITE) != 0;
    m->replicates += (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
    m->denyoom += (cmd->flags & CMD_DENYOOM) != 0;
    reply_simple(c, "QUEUED");
}

size_t multi_memory(const client *c)
{
    return c->mstate && c->mstate->nq ? c->mstate->bytes + sizeof(queued) * (size_t)c->mstate->capq : 0;
}

int multi_count(const client *c)
{
    if (!(c->flags & CLIENT_MULTI))
        return -1;
    return c->mstate ? c->mstate->nq : 0;
}

int multi_queued_writes(const client *c)
{
    return c->mstate ? c->mstate->replicates : 0;
}

static void dirty_watchers(wkey *k, int deleted)
{
    for (int i = 0; i < k->n; i++) {
        client *c = k->clients[i];
        multi_state *m = c->mstate;
        /* A key that was already expired when watched and is now deleted
         * has not logically changed (Redis 7's rule). */
        int skip = 0;
        for (int j = 0; deleted && j < m->nw; j++) {
            if (m->w[j].k == k && m->w[j].expired) {
                m->w[j].expired = 0;
                skip = 1;
            }
        }
        if (!skip)
            c->flags |= CLIENT_DIRTY_CAS;
    }
}

int multi_watching(void)
{
    return nwatched != 0;
}

struct wkey *multi_find(uint32_t db, const char *key, size_t klen)
{
    return nwatched ? find_key(db, key, klen) : NULL;
}

void multi_touch(wkey *k)
{
    /* Our own copy of the key: the change may have freed the caller's. */
    dirty_watchers(k, peek(k->db, k->key, k->klen) == NULL);
}

void multi_touch_all(uint32_t db)
{
    if (!nwatched)
        return;
    for (size_t b = 0; b < NBUCKETS; b++)
        for (wkey *k = buckets[b]; k; k = k->next)
            if (k->db == db && peek(db, k->key, k->klen))
                /* A key already expired when watched "changes" by going: no change (Redis 7). */
                dirty_watchers(k, present_but_expired(db, k->key, k->klen));
}

/* Watches in database a, whose keys are about to be replaced by those of
 * database b (one half of a SWAPDB). */
static void touch_replaced(uint32_t a, uint32_t b)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (wkey *k = buckets[i]; k; k = k->next) {
            if (k->db != a)
                continue;
            int in_a = peek(a, k->key, k->klen) != NULL, in_b = peek(b, k->key, k->klen) != NULL;
            if (!in_a && !in_b)
                continue;
            int b_expired = present_but_expired(b, k->key, k->klen);
            for (int j = 0; j < k->n; j++) {
                client *c = k->clients[j];
                multi_state *m = c->mstate;
                watch_ref *r = NULL;
                for (int x = 0; x < m->nw && !r; x++)
                    if (m->w[x].k == k)
                        r = &m->w[x];
                /* As Redis 7: a key expired when watched that is replaced
                 * by nothing, or by another expired value, has not
                 * logically changed; nor has a missing one replaced by an
                 * expired one (which counts as expired from now on). */
                if (r->expired) {
                    if (!in_b) {
                        r->expired = 0;
                        continue;
                    }
                    if (b_expired)
                        continue;
                } else if (!in_a && b_expired) {
                    r->expired = 1;
                    continue;
                }
                c->flags |= CLIENT_DIRTY_CAS;
            }
        }
    }
}

void multi_touch_swap(uint32_t a, uint32_t b)
{
    if (!nwatched || a == b)
        return;
    touch_replaced(a, b);
    touch_replaced(b, a);
}

/* A watched key that was live at WATCH and has expired since (even if
 * nothing deleted it yet) counts as changed. */
static int watched_key_expired(client *c)
{
    multi_state *m = c->mstate;
    for (int i = 0; m && i < m->nw; i++)
        if (!m->w[i].expired && present_but_expired(m->w[i].k->db, m->w[i].k->key, m->w[i].k->klen))
            return 1;
    return 0;
}

/* ---- the commands ---- */

void cmd_multi(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    state(c);
    c->flags |= CLIENT_MULTI;
    reply_ok(c);
}

void cmd_discard(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    discard(c);
    unwatch_all(c);
    reply_ok(c);
}

void cmd_watch(client *c, int argc, char **argv, size_t *argvlen)
{
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < argc; i++) {
        commit_saw_key(argv[i], argvlen[i]);
        watch_key(c, c->db, argv[i], argvlen[i]);
    }
    reply_ok(c);
}

void cmd_unwatch(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    unwatch_all(c);
    reply_ok(c);
}

void cmd_exec(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    multi_state *m = c->mstate;
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        discard(c);
        unwatch_all(c);
        return;
    }
    if ((c->flags & CLIENT_DIRTY_CAS) || watched_key_expired(c)) {
        reply_nil_array(c);
        discard(c);
        unwatch_all(c);
        return;
    }
    if (m->writes && !db_writable()) {
        reply_errorf(c, "EXECABORT Transaction discarded because of: MISCONF Errors writing to the WAL file: %s",
                     strerror(-wal_error(srv.wal)));
        discard(c);
        unwatch_all(c);
        return;
    }
    if (m->denyoom && srv.cfg.maxmemory && db_make_room(1000) < 0) {
        reply_error(c, "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > "
                       "'maxmemory'.");
        discard(c);
        unwatch_all(c);
        return;
    }
    /* Our own writes must not dirty us: unwatch first, as Redis does. */
    unwatch_all(c);
    int n = m->nq;
    reply_array(c, n);
    /* While loading there is no WAL, and nothing queued writes (cmd.c). */
    if (!srv.loading.active)
        wal_txn_begin(srv.wal);
    for (int i = 0; i < n; i++) {
        queued *q = &m->q[i];
        int keypos = 0, denied = acl_check(c->user, q->cmd, q->argc, q->argv, q->argvlen, &keypos);
        uint64_t errors0 = srv.stats.errors;
        if (denied) {
            /* The user's rules changed since the command was queued. */
            reply_errorf(c, "NOPERM ACLs rules changed between the moment the transaction was accumulated and "
                            "the EXEC call. This command is no longer allowed for the following reason: %s",
                         denied == ACL_DENIED_CMD       ? "no permission to execute the command or subcommand"
                         : denied == ACL_DENIED_CHANNEL ? "no permission to access one of the channels used as arguments"
                                                        : "no permission to touch the specified keys");
            q->cmd->rejected++;
            cmd_exec_inner_errors += srv.stats.errors - errors0;
            continue;
        }
        uint64_t t0 = kvd_mono_ns();
        db_select(c->db); /* a SELECT queued before may have changed it */
        q->cmd->fn(c, q->argc, q->argv, q->argvlen);
        uint64_t usec = (kvd_mono_ns() - t0) / 1000;
        q->cmd->usec += usec;
        q->cmd->calls++;
        srv.stats.commands++;
        if (srv.stats.errors > errors0)
            q->cmd->failed++;
        cmd_exec_inner_errors += srv.stats.errors - errors0;
        slowlog_command(c, q->argc, q->argv, q->argvlen, usec);
        cmd_monitor_feed(c, q->cmd, q->argc, q->argv, q->argvlen);
    }
    if (!srv.loading.active)
        wal_txn_end(srv.wal);
    discard(c);
}
