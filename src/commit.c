/* commit: log-then-apply, reply holds, group commit, and taking back a
 * batch that could not be written. */
#include "config.h"
#include "commit.h"
#include "conn.h"
#include "apply.h"
#include "multi.h"
#include "repl.h"
#include "slowlog.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

static apply_undo undo;      /* the changes of the batch not yet written */

/* Which changes are in flight (logged, not yet acknowledged), by key:
 * slot h(key) holds the seq of the newest change to a key that hashes
 * there, and that key's fingerprint (other bits of the hash). A read
 * whose key finds its own fingerprint, or FP_ANY, in a slot above the
 * acknowledged seq waits for it. Two keys in flight in one slot make it
 * FP_ANY: a collision can make a read wait for an unrelated change (rarely:
 * both must be in flight), never let one through early. */
/* 64K slots (1 MB, mostly in cache): a few thousand keys in flight, as
 * under a deep pipeline with `always`, make a few dozen FP_ANY slots,
 * so a read waits needlessly about once in a thousand. */
#define INFLIGHT_SLOTS (1u << 16)
#define FP_ANY 0u /* fingerprints are odd, so never this */
typedef struct slot_t {
    uint64_t seq;
    uint32_t fp;
    uint32_t gen; /* a slot of an older generation is empty */
} slot_t;
static slot_t inflight[INFLIGHT_SLOTS];
static uint32_t inflight_gen; /* bumped when a failed write takes changes back */
static uint64_t inflight_all;  /* a FLUSH: every key waits for it */
static uint64_t slot_seed[2];

static uint64_t cmd_seen;      /* the newest in-flight change the running command looked at */
static uint64_t cmd_seq0;      /* the WAL's next seq when it began */

static int64_t retry_at;       /* after a failed write: writes are refused until then */
static int write_failure_logged;

/* Group commit under appendfsync always. The fdatasync runs on a worker,
 * which binds its target late: just before the call it takes the newest
 * seq the loop has written to the file being synced, so writes that
 * arrived while it was queued ride along. And it waits a little for them:
 * the clients whose replies the previous fdatasync released usually send
 * their next write within a round trip, and an fdatasync started before
 * they do would cover only the early ones, leaving the rest for the next
 * (batches alternating small and large halve the writes per fdatasync).
 * So the worker waits until as many write commands are in the file as
 * were in flight when the previous fdatasync ended, or a quarter of the
 * last fdatasync's time (at most a millisecond) has passed, whichever
 * comes first. */
static uint64_t batch_cmds;               /* write commands in the batch not yet written */
static uint64_t unsynced_cmds;            /* ... written, not yet covered by an fdatasync */
static _Atomic uint64_t pub_target;       /* newest seq written to the file being synced */
static _Atomic uint64_t pub_cmds;         /* write commands written since the last fdatasync's target */
static uint64_t expect_cmds;              /* what the last fdatasync covered: the next one waits for as many */
static uint64_t wait_budget_us;           /* how long it may wait for them */
static uint64_t covered_cmds;             /* set by the worker: write commands its target covered */
static uint64_t fsync_us;                 /* set by the worker: how long its fdatasync took */

#define RETRY_MS 1000

static inline slot_t *slot(const char *key, size_t klen, uint32_t *fp)
{
    uint64_t h = kvd_siphash(key, klen, slot_seed);
    *fp = (uint32_t)(h >> 32) | 1u;
    return &inflight[h & (INFLIGHT_SLOTS - 1)];
}

static void mark(const char *key, size_t klen, uint64_t seq)
{
    uint32_t fp;
    slot_t *s = slot(key, klen, &fp);
    if (s->gen != inflight_gen || s->seq <= commit_ack_seq()) {
        s->fp = fp; /* what the slot held is acknowledged: it is this key's now */
        s->gen = inflight_gen;
    } else if (s->fp != fp)
        s->fp = FP_ANY;
    s->seq = seq;
}

/* Empty every slot at once: a slot of an older generation is empty. This
 * touches none of the table (a memset would make all of its 1 MB resident
 * in a server that never writes). */
static void new_generation(void)
{
    if (++inflight_gen == 0)
        memset(inflight, 0, sizeof inflight); /* wrapped: no slot may look current */
}

void commit_init(void)
{
    apply_undo_init(&undo, &srv.pool);
    new_generation();
    inflight_all = 0;
    kvd_random_bytes(slot_seed, sizeof slot_seed);
    retry_at = 0;
    write_failure_logged = 0;
}

void commit_free(void)
{
    apply_undo_free(&undo);
}

uint64_t commit_ack_seq(void)
{
    return srv.cfg.appendfsync == WAL_SYNC_ALWAYS ? srv.wal->durable_seq : srv.wal->written_seq;
}

static inline int in_flight(void)
{
    return srv.wal->next_seq - 1 > commit_ack_seq();
}

/* e, logged with seq, goes into the keyspace. */
static tentry_t *logged(wal_entry *e, uint64_t seq)
{
    /* The in-flight table knows keys by name only: a read of the same
     * name in another database may wait for a change it did not need to. */
    if (e->op == WAL_OP_FLUSH || e->op == WAL_OP_SWAPDB) {
        inflight_all = seq;
        if (e->op == WAL_OP_FLUSH)
            multi_touch_all(e->db);
        else
            multi_touch_swap(e->db, e->to);
    } else {
        mark(e->key, e->klen, seq);
        if (e->op == WAL_OP_RENAME)
            mark(e->val, e->vlen, seq);
    }
    /* WATCH: found before the change (which may free the key's bytes),
     * touched after it (deleted or not). A DEL of a missing key changes
     * nothing a WATCH could see. */
    struct wkey *w1 = NULL, *w2 = NULL;
    if (multi_watching() && e->op != WAL_OP_FLUSH && e->op != WAL_OP_SWAPDB) {
        if (e->op != WAL_OP_DEL || table_peek(srv.ks.db[e->db], e->key, e->klen))
            w1 = multi_find(e->db, e->key, e->klen);
        if (e->op == WAL_OP_RENAME)
            w2 = multi_find(e->db, e->val, e->vlen);
        else if (e->op == WAL_OP_MOVE)
            w2 = multi_find(e->to, e->key, e->klen);
    }
    tentry_t *t = apply_entry(&srv.ks, e, &undo);
    if (w1)
        multi_touch(w1);
    if (w2)
        multi_touch(w2);
    return t;
}

tentry_t *commit_entry(wal_entry *e)
{
    return logged(e, wal_append(srv.wal, e));
}

tentry_t *commit_replicated(const char *line, size_t len, wal_entry *e)
{
    return logged(e, wal_append_raw(srv.wal, line, len, e->seq));
}

void commit_group(uint32_t n)
{
    wal_group(srv.wal, n);
}

void commit_saw_key(const char *key, size_t klen)
{
    if (!in_flight())
        return;
    uint32_t fp;
    const slot_t *sl = slot(key, klen, &fp);
    uint64_t s = sl->gen == inflight_gen && (sl->fp == fp || sl->fp == FP_ANY) ? sl->seq : 0;
    if (s < inflight_all)
        s = inflight_all;
    if (s > cmd_seen)
        cmd_seen = s;
}

void commit_saw_all(void)
{
    cmd_seen = srv.wal->next_seq - 1;
}

/* ---- holding replies ---- */

/* srv.held: the clients with barriers. */
static void held_add(client *c)
{
    if (!list_linked(&c->held))
        list_push_back(&srv.held, &c->held);
}

static void held_remove(client *c)
{
    list_remove(&c->held);
}

void commit_forget(client *c)
{
    held_remove(c);
}

/* A client's replies not yet sent are split into spans (its bars), each
 * the replies of one or more commands in a row and the seq they wait for
 * (0: none). A span goes out once it and every span before it are
 * acknowledged. Spans are kept only from the first held reply on; two in
 * a row merge when a failed write would treat them alike (both in the
 * batch not yet written, or both not), since the later one cannot be sent
 * before the earlier anyway. */
static inline int at_risk(uint64_t seq)
{
    return seq > srv.wal->written_seq;
}

static void add_span(client *c, size_t off, uint64_t seq)
{
    if (c->nbars > 0) {
        barrier *last = &c->bars[c->nbars - 1];
        if (at_risk(seq) == at_risk(last->seq)) {
            if (seq > last->seq)
                last->seq = seq;
            last->ncmds++;
            return;
        }
    }
    if (c->nbars == c->capbars) {
        c->capbars = c->capbars ? c->capbars * 2 : 4;
        c->bars = xrealloc(c->bars, (size_t)c->capbars * sizeof(*c->bars));
    }
    c->bars[c->nbars++] = (barrier){off, seq, 1};
    held_add(c);
}

/* The loop wrote the batch: publish it to a running fdatasync's worker. */
static void publish_written(void)
{
    unsynced_cmds += batch_cmds;
    batch_cmds = 0;
    if (srv.sync_inflight && wal_fd(srv.wal) == srv.sync_fd) {
        atomic_store_explicit(&pub_target, srv.wal->written_seq, memory_order_relaxed);
        atomic_store_explicit(&pub_cmds, unsynced_cmds, memory_order_release);
    }
}

void commit_begin(void)
{
    cmd_seen = 0;
    cmd_seq0 = srv.wal->next_seq;
}

void commit_end(client *c, size_t reply_start)
{
    uint64_t need = cmd_seen;
    if (srv.wal->next_seq != cmd_seq0) {
        c->woff = srv.wal->next_seq - 1; /* for WAIT */
        batch_cmds++;
        if (srv.wal->next_seq - 1 > need)
            need = srv.wal->next_seq - 1;
    }
    if (need <= commit_ack_seq()) {
        if (c->nbars > 0)
            add_span(c, reply_start, 0); /* nothing to wait for, but in line */
        return;
    }
    if (srv.wal->sync_error) {
        /* What it would show may not be on disk, and never will be known
         * to be: an error instead of a reply that waits forever. */
        c->out.len = reply_start;
        reply_errorf(c, "MISCONF Errors writing to the WAL file: %s (this reply would show data that may not be "
                     "on disk)", strerror(-srv.wal->sync_error));
        if (c->nbars > 0)
            add_span(c, reply_start, 0);
        return;
    }
    add_span(c, reply_start, need);
}

/* Release the holds that the WAL now covers. */
static void release_held(void)
{
    uint64_t ack = commit_ack_seq();
    repl_acked(ack);
    client *c;
    LIST_EACH(&srv.held, client, held, c) {
        int n = 0;
        while (n < c->nbars && c->bars[n].seq <= ack)
            n++;
        if (n) {
            memmove(c->bars, c->bars + n, (size_t)(c->nbars - n) * sizeof(*c->bars));
            c->nbars -= n;
            conn_send_later(c);
        }
        if (c->nbars == 0)
            held_remove(c);
    }
}

/* A failed fsync means the held replies can never be acknowledged: their
 * clients are disconnected, which tells them the outcome is unknown. */
static void drop_held(const char *why)
{
    while (srv.held.first) {
        client *c = LIST_ITEM(srv.held.first, client, held);
        held_remove(c);
        c->nbars = 0;
        log_warning("closing client id=%llu addr=%s: its writes cannot be acknowledged (%s)",
                    (unsigned long long)c->id, c->addr, why);
        conn_close(c);
    }
}

/* The batch was taken back: the replies that depended on it (spans
 * waiting for a seq past the last one written) become errors, one per
 * command; every other reply stays as it was. */
static void fail_held(int err)
{
    char msg[200];
    snprintf(msg, sizeof msg, "MISCONF Errors writing to the WAL file: %s", strerror(-err));
    client *c;
    LIST_EACH(&srv.held, client, held, c) {
        int i = 0;
        while (i < c->nbars && !at_risk(c->bars[i].seq))
            i++;
        if (i == c->nbars)
            continue;
        buf_t nb = BUF_INIT(&srv.pool);
        buf_append(&nb, c->out.data, c->bars[i].off);
        for (; i < c->nbars; i++) {
            barrier *b = &c->bars[i];
            size_t end = i + 1 < c->nbars ? c->bars[i + 1].off : c->out.len, start = b->off;
            b->off = nb.len;
            if (at_risk(b->seq)) {
                for (uint64_t k = 0; k < b->ncmds; k++) {
                    srv.stats.errors++;
                    resp_add_error(&nb, msg);
                }
                b->seq = 0;
            } else {
                buf_append(&nb, c->out.data + start, end - start);
            }
        }
        buf_release(&c->out);
        c->out = nb;
        conn_send_later(c);
    }
    release_held(); /* what no longer waits goes out */
}

/* ---- writing ---- */

int commit_flush(void)
{
    wal_t *w = srv.wal;
    if (!wal_pending(w))
        return 0;
    /* Under always each batch waits for an fdatasync, which the prefilled
     * tail makes cheaper (wal.h); otherwise it would only double what the
     * disk writes. */
    w->prefill = srv.cfg.appendfsync == WAL_SYNC_ALWAYS;
    int rc = wal_flush(w);
    if (rc == 0) {
        publish_written();
        apply_undo_commit(&undo);
        if (write_failure_logged) {
            log_warning("WAL write succeeded again: writes are accepted");
            write_failure_logged = 0;
        }
        return 0;
    }
    if (w->sync_error) {
        /* The file could not even be cut back: part of the batch may be
         * in it. The outcome of its commands is unknown, so their clients
         * are disconnected, not answered (writes are refused until a
         * restart replays what the file holds). */
        apply_undo_commit(&undo);
        wal_discard(w);
        log_warning("WAL write failed (%s) and the file could not be cut back: writes are refused until kvd is "
                    "restarted", strerror(-rc));
        drop_held("the end of the WAL file is unknown after a failed write");
        return rc;
    }
    /* Nothing of the batch reached the file: take it back out of memory,
     * so that what clients see is what the WAL holds. */
    uint64_t n = undo.records;
    batch_cmds = 0;
    apply_undo_rollback(&undo, &srv.ks);
    srv.db = srv.ks.db[srv.dbid]; /* a SWAPDB taken back moved the tables */
    wal_discard(w);
    /* The slots hold the numbers of the changes taken back, which the
     * next writes will reuse: a new generation empties them all at once.
     * That forgets, too, the changes written but not yet acknowledged
     * (under always, awaiting their fdatasync): every read waits for
     * those instead, for the one fdatasync that covers them. */
    new_generation();
    inflight_all = w->written_seq;
    fail_held(rc);
    retry_at = kvd_now_ms() + RETRY_MS;
    if (!write_failure_logged)
        log_warning("WAL write failed: %s. The %llu change(s) of that batch were taken back and their commands "
                    "answered with -MISCONF; writes are refused and tried again every %d ms",
                    strerror(-rc), (unsigned long long)n, RETRY_MS);
    write_failure_logged = 1;
    return rc;
}

int commit_writable(void)
{
    wal_t *w = srv.wal;
    if (w->sync_error)
        return 0;
    return !w->write_error || kvd_now_ms() >= retry_at;
}

/* ---- fdatasync on a worker thread ---- */

static void sync_work(uv_work_t *req)
{
    KVD_UNUSED(req);
    if (expect_cmds > 1) {
        uint64_t t0 = kvd_mono_ns(), budget_ns = wait_budget_us * 1000;
        while (atomic_load_explicit(&pub_cmds, memory_order_acquire) < expect_cmds &&
               kvd_mono_ns() - t0 < budget_ns) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    /* Everything written before this load is in the page cache of
     * sync_fd: the fdatasync below covers it. */
    covered_cmds = atomic_load_explicit(&pub_cmds, memory_order_acquire);
    srv.sync_target = atomic_load_explicit(&pub_target, memory_order_relaxed);
    uint64_t t1 = kvd_mono_ns();
    srv.sync_rc = wal_sync_fd(srv.sync_fd);
    fsync_us = (kvd_mono_ns() - t1) / 1000;
}

static void maybe_start_sync(void);

static void sync_after(uv_work_t *req, int status)
{
    KVD_UNUSED(req);
    srv.sync_inflight = 0;
    if (srv.retired_fd > 0) {
        close(srv.retired_fd);
        srv.retired_fd = 0;
    }
    uint64_t took = (kvd_mono_ns() - srv.sync_t0) / 1000;
    int rc = status < 0 ? status : srv.sync_rc;
    if (srv.shutting_down)
        return;
    wal_sync_done(srv.wal, srv.sync_target, rc, fsync_us);
    /* The next fdatasync waits for as many writes as there were writers
     * in flight: those this one covered (their clients get their replies
     * now and will likely write again) and those written too late for it
     * (already waiting for the next), for at most a quarter of the time
     * this one took. */
    expect_cmds = unsynced_cmds > covered_cmds ? unsynced_cmds : covered_cmds;
    unsynced_cmds = unsynced_cmds > covered_cmds ? unsynced_cmds - covered_cmds : 0;
    wait_budget_us = fsync_us / 4;
    if (wait_budget_us > 1000)
        wait_budget_us = 1000;
    if (rc < 0) {
        log_warning("WAL fdatasync failed: %s. Writes are refused until kvd is restarted "
                    "(a failed fsync is never retried: the kernel may have dropped the data)",
                    strerror(-rc));
        drop_held("fsync failed");
        return;
    }
    srv.last_save_ms = kvd_now_ms();
    if (took > 2000000)
        log_warning("WAL fdatasync took %.1f s: the disk is slow", (double)took / 1e6);
    latency_sample(srv.cfg.appendfsync == WAL_SYNC_ALWAYS ? "aof-fsync-always" : "aof-fsync", took / 1000);
    release_held();
    conn_send_all();
    if (srv.cfg.appendfsync == WAL_SYNC_ALWAYS)
        maybe_start_sync();
}

static void start_sync(void)
{
    srv.sync_inflight = 1;
    srv.sync_fd = wal_fd(srv.wal);
    srv.sync_target = srv.wal->written_seq;
    atomic_store_explicit(&pub_target, srv.wal->written_seq, memory_order_relaxed);
    atomic_store_explicit(&pub_cmds, unsynced_cmds, memory_order_release);
    covered_cmds = unsynced_cmds;
    if (srv.cfg.appendfsync != WAL_SYNC_ALWAYS)
        expect_cmds = 0; /* everysec: nobody waits for it */
    srv.sync_t0 = kvd_mono_ns();
    srv.sync_started_ms = kvd_now_ms();
    int rc = srv.loop ? uv_queue_work(srv.loop, &srv.sync_req, sync_work, sync_after) : -1;
    if (rc < 0) {
        /* No worker: sync here rather than never. */
        srv.sync_inflight = 0;
        unsynced_cmds = 0;
        int r = wal_sync_fd(wal_fd(srv.wal));
        wal_sync_done(srv.wal, srv.sync_target, r, (kvd_mono_ns() - srv.sync_t0) / 1000);
        if (r < 0)
            drop_held("fsync failed");
    }
}

static void maybe_start_sync(void)
{
    if (!srv.sync_inflight && srv.wal->written_seq > srv.wal->durable_seq && !srv.wal->sync_error)
        start_sync();
}

void commit_prepare(void)
{
    commit_flush();
    if (srv.cfg.appendfsync == WAL_SYNC_ALWAYS)
        maybe_start_sync();
    release_held();
    conn_send_all();
}

void commit_cron(int64_t now)
{
    if (srv.cfg.appendfsync == WAL_SYNC_EVERYSEC && !srv.sync_inflight && !srv.wal->sync_error &&
        srv.wal->written_seq > srv.wal->durable_seq && now - srv.sync_started_ms >= 1000)
        start_sync();
    if (srv.cfg.appendfsync == WAL_SYNC_EVERYSEC && srv.sync_inflight && now - srv.sync_started_ms > 2000)
        log_verbose("WAL fdatasync has been running for %lld ms", (long long)(now - srv.sync_started_ms));
    release_held();
}

void commit_policy_changed(void)
{
    if (srv.cfg.appendfsync == WAL_SYNC_ALWAYS)
        maybe_start_sync();
    release_held();
}

int commit_sync_now(void)
{
    /* A batch that cannot be written is taken back (its clients get
     * -MISCONF); what was written before it is synced all the same. */
    int rc = commit_flush();
    if (srv.wal->sync_error)
        return srv.wal->sync_error;
    uint64_t target = srv.wal->written_seq;
    int s = wal_sync_fd(wal_fd(srv.wal));
    wal_sync_done(srv.wal, target, s, 0);
    if (s < 0)
        return s;
    release_held();
    return rc;
}
