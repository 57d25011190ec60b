/* Unit tests for the acknowledgement promise (src/commit.c), through the
 * real command table (tests/harness.c): a write's reply waits for its
 * WAL entry under the policy; replies keep request order; holds in one
 * batch coalesce; a read waits only for the in-flight changes it looked
 * at (any, for whole-keyspace reads); and a batch that cannot be written
 * is taken back, each command that depended on it answered with an error.
 * Then the rule itself on random streams of every command the harness
 * generates, from four clients, with writes, fdatasyncs, failed writes,
 * expiry and eviction in between (KVD_SEED picks the seeds). */
#include "config.h"
#include "testutil.h"
#include "harness.h"

#include "cmd.h"
#include "cmd_docs.h"
#include "evict.h"
#include "server.h"
#include "util.h"
#include "wal_codec.h"

#include <inttypes.h>
#include <stdarg.h>

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    char d[4300];
    snprintf(d, sizeof d, "%s/data", dir);
    h_start(d, 1700000000000LL);
}

static void teardown(void)
{
    h_stop();
    tu_rmdir(dir);
}

/* Run a command given as words. */
static void run(const char *first, ...)
{
    char *argv[16];
    size_t lens[16];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w && argc < 16; w = va_arg(ap, const char *)) {
        argv[argc] = (char *)w;
        lens[argc++] = strlen(w);
    }
    va_end(ap);
    h_cmd(argc, argv, lens);
}

/* The replies not yet sent, as a string; and what may be sent now. */
static const char *pending(void)
{
    static char b[4096];
    const buf_t *r = h_reply();
    snprintf(b, sizeof b, "%.*s", (int)r->len, r->data);
    return b;
}

static const char *sendable(void)
{
    static char b[4096];
    snprintf(b, sizeof b, "%.*s", (int)h_sendable(), h_reply()->data);
    return b;
}

START_TEST(test_write_waits_for_its_write)
{
    run("SET", "k", "v", NULL);
    ck_assert_str_eq(pending(), "+OK\r\n");
    ck_assert_str_eq(sendable(), "");
    h_flush();
    ck_assert_str_eq(sendable(), "+OK\r\n");
    ck_assert_int_eq(h_holds(), 0);
}
END_TEST

START_TEST(test_order_and_coalescing)
{
    /* A pipeline: a read of a durable key, two writes, a PING. Replies
     * keep request order and the two writes share one hold. */
    run("SET", "old", "1", NULL);
    h_flush();
    h_send();
    run("GET", "old", NULL);
    ck_assert_str_eq(sendable(), "$1\r\n1\r\n"); /* nothing to wait for */
    run("SET", "a", "1", NULL);
    run("INCR", "n", NULL);
    ck_assert_int_eq(h_holds(), 1); /* one batch, one hold */
    run("PING", NULL);
    ck_assert_str_eq(pending(), "+OK\r\n:1\r\n+PONG\r\n");
    ck_assert_str_eq(sendable(), ""); /* the PING's reply waits its turn */
    h_flush();
    ck_assert_str_eq(sendable(), "+OK\r\n:1\r\n+PONG\r\n");
}
END_TEST

START_TEST(test_always_waits_for_the_fsync)
{
    h_policy(1);
    run("SET", "k", "v", NULL);
    h_flush(); /* written, not yet fsynced */
    ck_assert_str_eq(sendable(), "");
    /* Another batch while that fsync is out: a hold of its own. */
    run("SET", "j", "w", NULL);
    ck_assert_int_eq(h_holds(), 2);
    h_sync();
    ck_assert_str_eq(sendable(), "+OK\r\n+OK\r\n");
}
END_TEST

START_TEST(test_reads_wait_only_for_what_they_saw)
{
    h_policy(1);
    run("SET", "durable", "d", NULL);
    h_sync();
    h_send();
    run("SET", "hot", "h", NULL); /* client 0: in flight */
    h_flush();
    h_use(1);
    run("GET", "durable", NULL);
    ck_assert_str_eq(sendable(), "$1\r\nd\r\n"); /* never waits for someone else's fsync */
    h_send();
    run("GET", "hot", NULL);
    ck_assert_str_eq(sendable(), ""); /* it saw a change a crash could undo */
    run("EXISTS", "durable", NULL);   /* behind it, in order */
    ck_assert_str_eq(sendable(), "");
    h_sync();
    ck_assert_str_eq(sendable(), "$1\r\nh\r\n:1\r\n");
    h_send();
    /* A delete in flight: a read of the key waits for it too. */
    h_use(0);
    run("DEL", "durable", NULL);
    h_use(1);
    run("GET", "durable", NULL);
    ck_assert_str_eq(pending(), "$-1\r\n");
    ck_assert_str_eq(sendable(), "");
    h_sync();
    h_send();
    /* Whole-keyspace reads wait while anything is in flight. */
    h_use(0);
    run("SET", "elsewhere", "x", NULL);
    h_use(1);
    run("DBSIZE", NULL);
    ck_assert_str_eq(sendable(), "");
    h_sync();
    ck_assert_str_eq(sendable(), ":2\r\n");
    h_send();
    /* A FLUSHALL in flight: every read waits. */
    h_use(0);
    run("FLUSHALL", NULL);
    h_use(1);
    run("GET", "unrelated", NULL);
    ck_assert_str_eq(sendable(), "");
    h_sync();
    ck_assert_str_eq(sendable(), "$-1\r\n");
}
END_TEST

/* Under always, a write that is in the file but not yet fsynced when a
 * later batch fails to be written stays in flight: a read of its key
 * still waits for the fsync (a failed write must not forget it). */
START_TEST(test_failed_write_keeps_earlier_unsynced_in_flight)
{
    h_policy(1);
    run("SET", "k", "written", NULL);
    h_flush(); /* in the file, not yet fsynced */
    run("SET", "other", "x", NULL);
    h_fail_write(); /* this batch never reaches the file */
    h_send();
    h_use(1);
    run("GET", "k", NULL);
    ck_assert_str_eq(pending(), "$7\r\nwritten\r\n");
    ck_assert_str_eq(sendable(), ""); /* a crash now could still lose it */
    h_sync();
    ck_assert_str_eq(sendable(), "$7\r\nwritten\r\n");
}
END_TEST

START_TEST(test_failed_write_is_taken_back)
{
    run("SET", "k", "old", NULL);
    h_flush();
    h_send();
    /* One batch: client 0 writes and reads, client 1 reads what 0 wrote. */
    run("SET", "k", "new", NULL);
    run("APPEND", "k", "er", NULL);
    run("GET", "k", NULL);
    h_use(1);
    run("GET", "k", NULL);
    ck_assert_str_eq(pending(), "$5\r\nnewer\r\n");
    h_fail_write();
    /* The value they saw never reached the WAL: errors, one per command. */
    const char *err = "-MISCONF Errors writing to the WAL file: File too large\r\n";
    char three[512];
    snprintf(three, sizeof three, "%s%s%s", err, err, err);
    ck_assert_str_eq(sendable(), err);
    h_use(0);
    ck_assert_str_eq(sendable(), three);
    h_send();
    /* The change is gone from memory; writes are refused for a while. */
    run("GET", "k", NULL);
    ck_assert_str_eq(pending(), "$3\r\nold\r\n");
    h_send();
    run("SET", "k", "again", NULL);
    ck_assert_str_eq(pending(), err);
    h_send();
    /* Replies that did not depend on the batch stay as they were: a read
     * of a durable key and a PING between two writes that are taken back. */
    h_advance(1000);
    h_send();
    run("SET", "a", "1", NULL);
    run("GET", "k", NULL);
    run("PING", NULL);
    run("SET", "b", "2", NULL);
    h_fail_write();
    char mixed[512];
    snprintf(mixed, sizeof mixed, "%s$3\r\nold\r\n+PONG\r\n%s", err, err);
    ck_assert_str_eq(sendable(), mixed);
    h_send();
    /* A second later writes are tried again. */
    h_advance(1000);
    run("SET", "k", "again", NULL);
    h_flush();
    ck_assert_str_eq(sendable(), "+OK\r\n");
    char why[512];
    ck_assert_msg(h_check(why, sizeof why) == 0, "%s", why);
}
END_TEST


/* ---- the rule on random streams ----
 *
 * A model of what each reply depends on, built from outside commit.c: the
 * WAL lines themselves (decoded from the batch as commands append them,
 * marked written when the writer hands them to its on_written hook,
 * fsynced when the test runs an fdatasync, taken back when the test makes
 * a write fail), and the keys each command read as the command table's
 * key specs name them. A reply depends on the newest change, at the time
 * the command ran, to every key it read (or to its whole database, for
 * DBSIZE, RANDOMKEY, SCAN), and on the changes it made. The rule: a reply
 * that goes out is either an error or depends only on changes that are
 * acknowledged (written under everysec, fsynced under always); and a reply
 * that depends on a change taken back goes out as an error. */

enum { PENDING, WRITTEN, SYNCED, TAKEN_BACK };

typedef struct change {
    uint64_t seq;
    int op, state;
    uint32_t db, to;
    char *key, *dst; /* dst: RENAME's destination */
    size_t klen, dlen;
} change;

typedef struct rec {
    uint32_t *deps; /* indexes into the change log */
    uint32_t ndeps;
    uint64_t step;  /* for the failure message: when it ran, and what */
    char what[80];
} rec;

/* A command queued in MULTI (argc <= 16, as h_gen makes them). */
typedef struct queued {
    int argc;
    char *argv[16];
    size_t lens[16];
} queued;

#define ACK_CLIENTS 4
static struct {
    change *log;
    uint32_t nlog, caplog;
    size_t decoded;            /* bytes of the batch already decoded */
    wal_decoder dec;
    rec *recs[ACK_CLIENTS];    /* commands whose replies have not gone out, in order */
    uint32_t nrecs[ACK_CLIENTS], caprecs[ACK_CLIENTS], first[ACK_CLIENTS];
    queued *queued[ACK_CLIENTS]; /* MULTI: the commands queued so far */
    int nqueued[ACK_CLIENTS];
    int always;
    uint64_t released, held, errors_for_taken_back, step;
    void (*chained)(void *, const char *, size_t);
    void *chained_ctx;
} A;

static void ack_fail(const char *fmt, ...)
{
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    ck_abort_msg("%s", b);
}

/* Decode the lines appended to the batch since the last look. */
static void ack_decode_batch(void)
{
    const buf_t *b = &srv.wal->batch;
    while (A.decoded < b->len) {
        const char *line = b->data + A.decoded;
        const char *nl = memchr(line, '\n', b->len - A.decoded);
        ck_assert_ptr_nonnull(nl);
        wal_entry e;
        char why[200];
        if (wal_decode_line(&A.dec, line, (size_t)(nl - line), &e, why, sizeof why) < 0)
            ack_fail("a line of the batch does not decode: %s", why);
        if (A.nlog == A.caplog) {
            A.caplog = A.caplog ? A.caplog * 2 : 1024;
            A.log = realloc(A.log, A.caplog * sizeof *A.log);
        }
        change *c = &A.log[A.nlog++];
        *c = (change){.seq = e.seq, .op = e.op, .state = PENDING, .db = e.db, .to = e.to, .klen = e.klen};
        c->key = malloc(e.klen + 1);
        if (e.klen)
            memcpy(c->key, e.key, e.klen);
        c->key[e.klen] = 0;
        if (e.op == WAL_OP_RENAME) {
            c->dlen = e.vlen;
            c->dst = malloc(e.vlen + 1);
            memcpy(c->dst, e.val, e.vlen);
            c->dst[e.vlen] = 0;
        }
        A.decoded = (size_t)(nl - b->data) + 1;
    }
}

/* The WAL wrote these lines (whole ones) to the file. */
static void ack_on_written(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    ack_decode_batch(); /* nothing may be written that was not decoded */
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        wal_entry e;
        ck_assert_int_eq(wal_decode_line(&A.dec, p, (size_t)(nl - p), &e, NULL, 0), 0);
        uint32_t i = A.nlog;
        while (i > 0 && !(A.log[i - 1].seq == e.seq && A.log[i - 1].state == PENDING))
            i--;
        if (i == 0)
            ack_fail("seq %" PRIu64 " was written but never seen in the batch", e.seq);
        A.log[i - 1].state = WRITTEN;
        p = nl + 1;
    }
    A.decoded = 0; /* the batch starts again */
    if (A.chained)
        A.chained(A.chained_ctx, end - n, n);
}

static int ack_keyeq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Does change c affect key (or, key NULL, anything) in database db? */
static int ack_touches(const change *c, uint32_t db, const char *key, size_t klen)
{
    switch (c->op) {
    case WAL_OP_FLUSH: return c->db == db;
    case WAL_OP_SWAPDB: return c->db == db || c->to == db;
    case WAL_OP_MOVE:
        return (c->db == db || c->to == db) && (!key || ack_keyeq(c->key, c->klen, key, klen));
    case WAL_OP_RENAME:
        return c->db == db && (!key || ack_keyeq(c->key, c->klen, key, klen) || ack_keyeq(c->dst, c->dlen, key, klen));
    default: return c->db == db && (!key || ack_keyeq(c->key, c->klen, key, klen));
    }
}

static void rec_add(rec *r, uint32_t dep)
{
    r->deps = realloc(r->deps, (r->ndeps + 1) * sizeof *r->deps);
    r->deps[r->ndeps++] = dep;
}

/* The newest change (not taken back) among the first `before` of the log
 * that affects key (NULL: anything) in db: the reply depends on it. */
static void dep_on(rec *r, uint32_t before, uint32_t db, const char *key, size_t klen)
{
    for (uint32_t i = before; i-- > 0;) {
        if (A.log[i].state != TAKEN_BACK && ack_touches(&A.log[i], db, key, klen)) {
            rec_add(r, i);
            return;
        }
    }
}

static int is_word(const char *a, size_t len, const char *w)
{
    return len == strlen(w) && strncasecmp(a, w, len) == 0;
}

static int ack_live(uint32_t db, const char *key, size_t klen)
{
    if (db >= srv.ks.n)
        return 0;
    tentry_t *e = table_peek(srv.ks.db[db], key, klen);
    return e && (tentry_expire(e) == TABLE_NO_EXPIRE || tentry_expire(e) > kvd_now_ms());
}

/* The keys one command (run in database db) read, as its key specs say;
 * its whole database for the commands that look at all of it. Some stop
 * at the first key that settles the reply: COPY and MOVE when the source
 * is missing, MSETNX at the first key that exists. `now` says whether the
 * command runs next (so which keys exist is known); in a transaction only
 * the keys they always read count. */
static void deps_of(rec *r, uint32_t before, uint32_t db, int argc, char **argv, size_t *lens, int now)
{
    if (is_word(argv[0], lens[0], "DBSIZE") || is_word(argv[0], lens[0], "RANDOMKEY") ||
        is_word(argv[0], lens[0], "SCAN") || is_word(argv[0], lens[0], "KEYS")) {
        dep_on(r, before, db, NULL, 0);
        return;
    }
    kvd_cmd *cmd = cmd_lookup(argv[0], lens[0]);
    const cmd_doc *doc = cmd ? cmd_docs_find(cmd->name) : NULL;
    if (!doc)
        return;
    cmd_key_ref keys[32];
    int n = cmd_docs_keys(doc, argc, argv, lens, keys, 32);
    /* COPY src dst DB n: dst is in database n. */
    int copy_db = -1;
    if (is_word(argv[0], lens[0], "COPY"))
        for (int i = 3; i + 1 < argc; i++)
            if (is_word(argv[i], lens[i], "DB"))
                copy_db = atoi(argv[i + 1]);
    int copy_or_move = is_word(argv[0], lens[0], "COPY") || is_word(argv[0], lens[0], "MOVE");
    int msetnx = is_word(argv[0], lens[0], "MSETNX");
    if (n > 0 && copy_or_move && (!now || !ack_live(db, argv[keys[0].pos], lens[keys[0].pos])))
        n = 1;
    for (int i = 0; i < n && i < 32; i++) {
        uint32_t d = copy_db >= 0 && keys[i].pos == 2 ? (uint32_t)copy_db : db;
        dep_on(r, before, d, argv[keys[i].pos], lens[keys[i].pos]);
        if (msetnx && (!now || ack_live(db, argv[keys[i].pos], lens[keys[i].pos])))
            break;
    }
}

/* Length of the one complete RESP2 reply at p, or 0. */
static size_t resp_len(const char *p, size_t n)
{
    const char *nl = n ? memchr(p, '\n', n) : NULL;
    if (!nl)
        return 0;
    size_t head = (size_t)(nl - p) + 1;
    long long v = strtoll(p + 1, NULL, 10);
    if (p[0] == '$')
        return v < 0 ? head : head + (size_t)v + 2 <= n ? head + (size_t)v + 2 : 0;
    if (p[0] == '*') {
        size_t off = head;
        for (long long i = 0; i < v; i++) {
            size_t k = resp_len(p + off, n - off);
            if (!k)
                return 0;
            off += k;
        }
        return off;
    }
    return head;
}

static void ack_push(int c, rec r)
{
    if (A.nrecs[c] == A.caprecs[c]) {
        A.caprecs[c] = A.caprecs[c] ? A.caprecs[c] * 2 : 64;
        A.recs[c] = realloc(A.recs[c], A.caprecs[c] * sizeof(rec));
    }
    A.recs[c][A.nrecs[c]++] = r;
}

static void ack_clear_queue(int c)
{
    for (int i = 0; i < A.nqueued[c]; i++)
        for (int j = 0; j < A.queued[c][i].argc; j++)
            free(A.queued[c][i].argv[j]);
    A.nqueued[c] = 0;
}

/* Run one command for client c and note what its reply depends on. */
static void ack_cmd(int c, int argc, char **argv, size_t *lens)
{
    h_use(c);
    struct client *cl = h_client();
    int in_multi = (cl->flags & CLIENT_MULTI) != 0;
    uint32_t db = cl->db;
    size_t off = h_reply()->len;
    uint32_t before = A.nlog;
    int exec = is_word(argv[0], lens[0], "EXEC"), discard = is_word(argv[0], lens[0], "DISCARD");
    rec keys = {0}; /* what it reads, if it runs now (not queued) */
    if (!in_multi && !exec)
        deps_of(&keys, before, db, argc, argv, lens, 1);
    h_cmd(argc, argv, lens);
    ack_decode_batch();
    const buf_t *out = h_reply();
    const char *reply = out->data + off;
    size_t rlen = out->len - off;
    ck_assert_uint_eq(resp_len(reply, rlen), rlen); /* one whole reply */
    rec r = {.step = A.step};
    for (int i = 0, o = 0; i < argc && o < (int)sizeof r.what - 1; i++)
        o += snprintf(r.what + o, sizeof r.what - (size_t)o, "%s%.*s", i ? " " : "", (int)(lens[i] > 20 ? 20 : lens[i]),
                      argv[i]);
    for (uint32_t i = before; i < A.nlog; i++)
        rec_add(&r, i); /* its own changes */
    if (reply[0] != '-' && in_multi && !exec && !discard) {
        /* Queued: read when EXEC runs. */
        A.queued[c] = realloc(A.queued[c], (size_t)(A.nqueued[c] + 1) * sizeof(queued));
        queued *q = &A.queued[c][A.nqueued[c]++];
        q->argc = argc;
        for (int j = 0; j < argc; j++) {
            q->argv[j] = malloc(lens[j] + 1);
            memcpy(q->argv[j], argv[j], lens[j]);
            q->argv[j][lens[j]] = 0;
            q->lens[j] = lens[j];
        }
    } else if (exec && in_multi && reply[0] == '*' && reply[1] != '-') {
        /* Each queued command read in turn, in the database it ran in;
         * one that failed may not have read its keys. */
        const char *p = (const char *)memchr(reply, '\n', rlen) + 1;
        uint32_t qdb = db;
        for (int i = 0; i < A.nqueued[c]; i++) {
            queued *q = &A.queued[c][i];
            size_t k = resp_len(p, (size_t)(reply + rlen - p));
            if (p[0] != '-') {
                deps_of(&r, before, qdb, q->argc, q->argv, q->lens, 0);
                if (is_word(q->argv[0], q->lens[0], "SELECT"))
                    qdb = (uint32_t)atoi(q->argv[1]);
            }
            p += k;
        }
    } else if (reply[0] != '-') {
        for (uint32_t i = 0; i < keys.ndeps; i++)
            rec_add(&r, keys.deps[i]);
    }
    free(keys.deps);
    for (uint32_t i = 0; i < r.ndeps; i++) {
        int st = A.log[r.deps[i]].state;
        if (st == PENDING || (A.always && st == WRITTEN)) {
            A.held++; /* it has to wait */
            break;
        }
    }
    if (exec || discard || !(h_client()->flags & CLIENT_MULTI))
        ack_clear_queue(c);
    ack_push(c, r);
}

/* Look at what each client may now be sent, check it against the rule,
 * and send it. */
static void ack_observe(void)
{
    for (int c = 0; c < ACK_CLIENTS; c++) {
        h_use(c);
        const buf_t *out = h_reply();
        size_t n = h_sendable(), off = 0;
        while (off < n) {
            size_t k = resp_len(out->data + off, n - off);
            if (!k)
                ack_fail("client %d: what may go out ends inside a reply", c);
            if (A.first[c] >= A.nrecs[c])
                ack_fail("client %d: a reply goes out for no command", c);
            rec *r = &A.recs[c][A.first[c]++];
            int err = out->data[off] == '-';
            for (uint32_t i = 0; i < r->ndeps; i++) {
                const change *ch = &A.log[r->deps[i]];
                if (ch->state == TAKEN_BACK) {
                    if (!err)
                        ack_fail("client %d, step %" PRIu64 ": the reply to %s (step %" PRIu64 ", %.*s) went out "
                                 "though it shows a change taken back (seq %" PRIu64 ")", c, A.step, r->what, r->step,
                                 (int)(k > 40 ? 40 : k), out->data + off, ch->seq);
                    A.errors_for_taken_back++;
                    break;
                }
                if (!err && (ch->state == PENDING || (A.always && ch->state == WRITTEN)))
                    ack_fail("client %d, step %" PRIu64 ": the reply to %s (step %" PRIu64 ", %.*s) went out before "
                             "the change it depends on (seq %" PRIu64 ", %s %.*s in db %u) was %s", c, A.step, r->what,
                             r->step, (int)(k > 40 ? 40 : k), out->data + off, ch->seq, wal_op_name(ch->op),
                             (int)(ch->klen > 20 ? 20 : ch->klen), ch->key, ch->db, A.always ? "fsynced" : "written");
            }
            A.released++;
            free(r->deps);
            off += k;
        }
        if (A.first[c] == A.nrecs[c])
            A.first[c] = A.nrecs[c] = 0;
        h_send();
    }
}

static void ack_synced(void)
{
    for (uint32_t i = 0; i < A.nlog; i++)
        if (A.log[i].state == WRITTEN)
            A.log[i].state = SYNCED;
}

static int next_byte_ack(void *ctx)
{
    return (int)(tu_rand(ctx) >> 24) & 0xff;
}

static void ack_run(uint64_t seed, int always, uint64_t steps)
{
    uint64_t rs = seed;
    memset(&A, 0, sizeof A);
    A.always = always;
    char path[4300];
    snprintf(path, sizeof path, "%s/a%" PRIu64, dir, seed);
    h_stop(); /* the fixture's server: this test starts its own */
    h_start(path, 1700000000000LL);
    h_policy(always);
    wal_decoder_init(&A.dec, &srv.pool);
    A.chained = srv.wal->on_written;
    A.chained_ctx = srv.wal->on_written_ctx;
    srv.wal->on_written = ack_on_written;
    srv.wal->on_written_ctx = NULL;
    char store[8192], *argv[16];
    size_t lens[16];
    for (uint64_t i = 0; i < steps; i++) {
        A.step = i;
        uint32_t r = (uint32_t)(tu_rand(&rs) % 1000);
        if (r < 700) {
            /* Clients 0 and 1 run anything; 2 and 3 only read (and
             * SELECT), so that their replies wait for nothing of their own. */
            int c = (int)(tu_rand(&rs) % ACK_CLIENTS), argc;
            if (c >= 2 && A.nlog && tu_rand(&rs) % 2) {
                /* Half of the reads are of a key just changed. */
                static const char *const reads[] = {"GET", "EXISTS", "PTTL", "STRLEN"};
                const change *ch = &A.log[A.nlog - 1 - tu_rand(&rs) % (A.nlog < 8 ? A.nlog : 8)];
                int all = ch->op == WAL_OP_FLUSH || ch->op == WAL_OP_SWAPDB;
                argv[0] = (char *)(all ? "DBSIZE" : reads[tu_rand(&rs) % 4]);
                lens[0] = strlen(argv[0]);
                argv[1] = ch->dst && tu_rand(&rs) % 2 ? ch->dst : ch->key;
                lens[1] = argv[1] == ch->dst ? ch->dlen : ch->klen;
                ack_cmd(c, all ? 1 : 2, argv, lens);
                goto observe;
            }
            for (;;) {
                argc = h_gen(next_byte_ack, &rs, argv, lens, store);
                if (is_word(argv[0], lens[0], "HELLO") || is_word(argv[0], lens[0], "PUBLISH") ||
                    is_word(argv[0], lens[0], "SUBSCRIBE") || is_word(argv[0], lens[0], "PSUBSCRIBE") ||
                    is_word(argv[0], lens[0], "UNSUBSCRIBE") || is_word(argv[0], lens[0], "PUNSUBSCRIBE"))
                    continue; /* replies one per command, in RESP2 */
                kvd_cmd *cmd = cmd_lookup(argv[0], lens[0]);
                if (c < 2 || (cmd->flags & CMD_READONLY) || is_word(argv[0], lens[0], "SELECT"))
                    break;
            }
            ack_cmd(c, argc, argv, lens);
        } else if (r < 850) {
            h_flush(); /* a loop iteration ends */
            A.decoded = 0;
        } else if (r < 930) {
            if (always) {
                h_sync(); /* the worker's fdatasync */
                ack_synced();
            }
        } else if (r < 945) {
            ack_decode_batch();
            h_fail_write();
            if (srv.wal->batch.len == 0) {
                for (uint32_t j = 0; j < A.nlog; j++)
                    if (A.log[j].state == PENDING)
                        A.log[j].state = TAKEN_BACK;
                A.decoded = 0;
            }
        } else if (r < 970) {
            h_advance((int64_t)(tu_rand(&rs) % 1500)); /* TTLs run out; refused writes are tried again */
        } else if (r < 990) {
            h_active_expire();
            ack_decode_batch();
        } else {
            static const int policies[] = {EVICT_ALLKEYS_LRU, EVICT_ALLKEYS_RANDOM, EVICT_VOLATILE_TTL};
            h_evict(policies[tu_rand(&rs) % 3]);
            ack_decode_batch();
        }
    observe:
        ack_observe();
    }
    /* The end: everything is acknowledged and every reply goes out. */
    h_flush();
    if (always) {
        h_sync();
        ack_synced();
    }
    ack_observe();
    for (int c = 0; c < ACK_CLIENTS; c++)
        ck_assert_msg(A.nrecs[c] == 0, "client %d: %u replies never went out", c, A.nrecs[c] - A.first[c]);
    for (uint32_t i = 0; i < A.nlog; i++) {
        free(A.log[i].key);
        free(A.log[i].dst);
    }
    free(A.log);
    for (int c = 0; c < ACK_CLIENTS; c++) {
        ack_clear_queue(c);
        free(A.recs[c]);
        free(A.queued[c]);
    }
    wal_decoder_free(&A.dec);
}

START_TEST(test_ack_rule_on_random_streams)
{
    const char *s = getenv("KVD_SEED");
    uint64_t seed0 = s ? strtoull(s, NULL, 10) : 20261130;
    uint64_t released = 0, held = 0, taken = 0;
    for (uint64_t k = 0; k < 8; k++) {
        ack_run(seed0 + k, (int)(k % 2), 12000);
        released += A.released;
        held += A.held;
        taken += A.errors_for_taken_back;
    }
    printf("acknowledgement rule: seeds %" PRIu64 "..%" PRIu64 ", %" PRIu64 " replies checked (%" PRIu64
           " of them had to wait), %" PRIu64 " errors for changes taken back\n",
           seed0, seed0 + 7, released, held, taken);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("commit");
    TCase *tc = tcase_create("holds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_write_waits_for_its_write);
    tcase_add_test(tc, test_order_and_coalescing);
    tcase_add_test(tc, test_always_waits_for_the_fsync);
    tcase_add_test(tc, test_reads_wait_only_for_what_they_saw);
    tcase_add_test(tc, test_failed_write_is_taken_back);
    tcase_add_test(tc, test_failed_write_keeps_earlier_unsynced_in_flight);
    suite_add_tcase(s, tc);
    TCase *gen = tcase_create("random streams");
    tcase_set_timeout(gen, 600);
    tcase_add_checked_fixture(gen, setup, teardown);
    tcase_add_test(gen, test_ack_rule_on_random_streams);
    suite_add_tcase(s, gen);
    return s;
}

TU_MAIN(suite)
