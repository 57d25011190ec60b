/* wal_scan: one WAL file -> checked entries, and what is wrong with it. */
#include "config.h"
#include "wal_scan.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCAN_CHUNK ((size_t)1 << 20)

typedef struct scan_state {
    char *rb;           /* read buffer */
    size_t cap, start, end;
    uint64_t base;      /* file offset of rb[0] */
} scan_state;

/* ---- prefetch hints: the keys of the lines ahead ---- */

#define HINT_FAR 8  /* lines ahead whose key gets stage 0 */
#define HINT_NEAR 4 /* and then stage 1 */

typedef struct hint {
    size_t line;      /* rb offset of the line */
    size_t key, klen; /* rb offset and length of its key; klen SIZE_MAX: none */
    uint32_t db;
} hint;

typedef struct hint_state {
    size_t pos;          /* rb offset of the next line to look at */
    hint ring[HINT_FAR]; /* the lines hinted ahead */
    unsigned head, n;    /* the ring's first and count */
} hint_state;

/* The key (and database) of the line [p, p + len) at a glance, into h:
 * lines as the encoder writes them, {"seq":N,"op":"..."[,"grp":N][,"db":N],
 * "key":"... with a key of plain text (no escapes). Anything else has
 * none (klen SIZE_MAX). */
static void glance(const char *rb, const char *p, size_t len, hint *h)
{
    h->klen = SIZE_MAX;
    const char *end = p + len, *q = p + 7;
    if (len < 32 || memcmp(p, "{\"seq\":", 7) != 0)
        return;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    if (end - q < 8 || memcmp(q, ",\"op\":\"", 7) != 0)
        return;
    q = memchr(q + 7, '"', (size_t)(end - q - 7));
    if (!q++)
        return;
    if (end - q > 7 && memcmp(q, ",\"grp\":", 7) == 0)
        for (q += 7; q < end && *q >= '0' && *q <= '9'; q++)
            ;
    h->db = 0;
    if (end - q > 6 && memcmp(q, ",\"db\":", 6) == 0)
        for (q += 6; q < end && *q >= '0' && *q <= '9'; q++)
            h->db = h->db * 10 + (uint32_t)(*q - '0');
    if (end - q < 8 || memcmp(q, ",\"key\":\"", 8) != 0)
        return;
    const char *k = q + 8;
    for (q = k; q < end && *q != '"' && *q != '\\'; q++)
        ;
    if (q < end && *q == '"') {
        h->key = (size_t)(k - rb);
        h->klen = (size_t)(q - k);
    }
}

static void give_hint(const hint *h, const scan_state *s, const wal_load_hooks *hooks, void *ctx, int stage)
{
    if (h->klen != SIZE_MAX)
        hooks->prefetch(ctx, h->db, s->rb + h->key, h->klen, stage, NULL);
}

/* The line at s->start is next: hint the keys of the lines after it, each
 * looked at once. */
static void hint_ahead(hint_state *hs, const scan_state *s, const wal_load_hooks *hooks, void *ctx)
{
    if (hs->n && hs->ring[hs->head].line == s->start) {
        hs->head = (hs->head + 1) % HINT_FAR; /* the line about to be decoded */
        hs->n--;
    } else {
        /* Nothing hinted ahead (the start, the end of what was read, or
         * a refill that moved the lines): begin after this line. */
        const char *nl = memchr(s->rb + s->start, '\n', s->end - s->start);
        if (!nl)
            return;
        hs->pos = (size_t)(nl + 1 - s->rb);
        hs->head = hs->n = 0;
    }
    while (hs->n < HINT_FAR && hs->pos < s->end) {
        const char *p = s->rb + hs->pos, *nl = memchr(p, '\n', s->end - hs->pos);
        if (!nl)
            break;
        hint *h = &hs->ring[(hs->head + hs->n++) % HINT_FAR];
        h->line = hs->pos;
        glance(s->rb, p, (size_t)(nl - p), h);
        give_hint(h, s, hooks, ctx, 0);
        hs->pos = (size_t)(nl + 1 - s->rb);
        if (hs->n > HINT_NEAR)
            give_hint(&hs->ring[(hs->head + hs->n - 1 - HINT_NEAR) % HINT_FAR], s, hooks, ctx, 1);
    }
}

/* From s->start on, past every '\n' byte, reading on as needed (what
 * the buffer held is dropped). Returns 1 if another byte follows, 0 at
 * the end of the file, or -errno. */
static int skip_filler(int fd, scan_state *s)
{
    for (;;) {
        while (s->start < s->end && s->rb[s->start] == '\n')
            s->start++;
        if (s->start < s->end)
            return 1;
        s->base += s->end;
        s->start = s->end = 0;
        ssize_t r = read(fd, s->rb, s->cap);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return 0;
        s->end = (size_t)r;
    }
}

static void note_bad(wal_scan_result *res, uint64_t line, uint64_t off, const char *why)
{
    res->bad_line = line;
    res->bad_offset = off;
    snprintf(res->bad_reason, sizeof res->bad_reason, "%s", why);
}

/* ---- handing the entries to the calling thread (opts->threaded) ----
 * A thread of its own reads, decodes and checks the file as below and,
 * instead of applying each entry, copies it (key and value bytes too)
 * into a batch; the calling thread applies the batches in order, gives
 * the prefetch hints and calls progress, so the two halves of a replay,
 * decoding and inserting, run side by side. */

#define BATCH_ENTRIES 8192
#define BATCH_BYTES ((size_t)1 << 20)
#define NBATCH 3

typedef struct batch {
    wal_entry *e;  /* key and val: 1 + their offset in bytes (0: NULL) until applied */
    size_t n, cap;
    int borrowed;  /* one big entry whose key and val point into the reader's buffers */
    char *bytes;
    size_t used, size;
    uint64_t end; /* the file offset read up to when the batch was sent */
} batch;

typedef struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch ring[NBATCH];
    unsigned head, count; /* the batches sent and not yet applied: ring[head] on */
    int finished;         /* the reading thread sends no more */
    int stop;             /* the applying thread wants no more */
} handoff;

typedef struct scan_job {
    int fd;
    pool_t *pool;
    const wal_scan_opts *opts;
    wal_apply_fn apply;
    void *ctx;
    wal_scan_result *res;
    handoff *ho; /* NULL: apply inline */
    batch *cur;  /* the batch being filled */
    int rc;
    uint64_t read_end; /* the file's length as read (a live one grows) */
} scan_job;

/* Send the batch being filled and take the next free one; with drain,
 * wait until every batch sent is applied. Returns -1 when the applying
 * thread asked to stop. */
static int send_batch(scan_job *j, uint64_t end, int drain)
{
    handoff *ho = j->ho;
    j->cur->end = end;
    pthread_mutex_lock(&ho->mu);
    ho->count++;
    pthread_cond_broadcast(&ho->cv);
    while ((ho->count == NBATCH || (drain && ho->count)) && !ho->stop)
        pthread_cond_wait(&ho->cv, &ho->mu);
    int stop = ho->stop;
    j->cur = &ho->ring[(ho->head + ho->count) % NBATCH];
    pthread_mutex_unlock(&ho->mu);
    j->cur->n = j->cur->used = 0;
    j->cur->borrowed = 0;
    return stop ? -1 : 0;
}

static int stop_asked(scan_job *j)
{
    pthread_mutex_lock(&j->ho->mu);
    int stop = j->ho->stop;
    pthread_mutex_unlock(&j->ho->mu);
    return stop;
}

static size_t batch_bytes(batch *b, const char *p, size_t n)
{
    if (!p)
        return 0;
    if (!b->bytes || b->size - b->used < n) {
        size_t size = b->size ? b->size : BATCH_BYTES;
        while (size - b->used < n)
            size *= 2;
        b->bytes = xrealloc(b->bytes, size);
        b->size = size;
    }
    memcpy(b->bytes + b->used, p, n);
    b->used += n;
    return b->used - n + 1;
}

/* Count e as applied and apply it, or copy it into the batch (sending the
 * batch when full; end: the file offset read up to). Returns -1 when the
 * applying thread asked to stop. */
static int apply_one(scan_job *j, const wal_entry *e, uint64_t end)
{
    wal_scan_result *res = j->res;
    if (!res->first_seq)
        res->first_seq = e->seq;
    res->last_seq = e->seq;
    res->ops[e->op]++;
    res->applied++;
    if (!j->apply)
        return 0;
    if (!j->ho) {
        j->apply(j->ctx, e);
        return 0;
    }
    if (e->klen + e->vlen > BATCH_BYTES) {
        /* A big entry is not copied: it goes alone, pointing into this
         * thread's buffers, which stay as they are until it is applied. */
        if (j->cur->n && send_batch(j, end, 0) < 0)
            return -1;
        batch *b = j->cur;
        if (!b->cap) {
            b->cap = BATCH_ENTRIES;
            b->e = xrealloc(b->e, b->cap * sizeof *b->e);
        }
        b->e[b->n++] = *e;
        b->borrowed = 1;
        return send_batch(j, end, 1);
    }
    batch *b = j->cur;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : BATCH_ENTRIES;
        b->e = xrealloc(b->e, b->cap * sizeof *b->e);
    }
    wal_entry *c = &b->e[b->n++];
    *c = *e;
    c->key = (const char *)(uintptr_t)batch_bytes(b, e->key, e->klen);
    c->val = (const char *)(uintptr_t)batch_bytes(b, e->val, e->vlen);
    if (b->n >= BATCH_ENTRIES || b->used >= BATCH_BYTES)
        return send_batch(j, end, 0);
    return 0;
}

static int scan_lines(scan_job *j)
{
    int fd = j->fd;
    const wal_scan_opts *opts = j->opts;
    wal_scan_result *res = j->res;
    wal_apply_fn apply = j->apply;
    void *ctx = j->ctx;
    wal_decoder dec;
    const wal_load_hooks *hooks = j->ho ? NULL : opts->hooks;
    pool_t *pool = j->pool;
    hint_state hs = {0};
    wal_decoder_init(&dec, pool);
    /* A small file (a fresh segment, a test's) gets a buffer its size,
     * not a whole chunk. */
    size_t cap = res->bytes < SCAN_CHUNK ? (size_t)res->bytes + 4096 : SCAN_CHUNK;
    scan_state s = {xmalloc(cap), cap, 0, 0, 0};
    int eof = 0, rc = 0;
    uint64_t lineno = 0, last_seq = 0;
    uint64_t damaged = 0; /* complete lines that failed to decode */
    /* An open group: where it starts in rb and the file, and lines to go. */
    size_t gpos = 0;
    uint64_t goff = 0, gline = 0, gseq = 0;
    uint32_t gleft = 0, gsize = 0;
    char why[200];

    for (;;) {
        char *nl = memchr(s.rb + s.start, '\n', s.end - s.start);
        if (!nl) {
            if (eof) {
                if (s.end > s.start && !damaged)
                    note_bad(res, lineno + 1, s.base + s.start, "the last line is incomplete (no newline)");
                if (s.end > s.start && res->status == WAL_SCAN_OK)
                    res->status = WAL_SCAN_TAIL;
                break;
            }
            /* Keep an open group's lines: they are applied only once whole. */
            size_t keep = gleft ? gpos : s.start;
            if (keep > 0) {
                memmove(s.rb, s.rb + keep, s.end - keep);
                hs = (hint_state){0}; /* its offsets moved */
                s.base += keep;
                s.end -= keep;
                s.start -= keep;
                if (gleft)
                    gpos = 0;
            }
            if (s.cap - s.end < s.cap / 2) {
                s.cap *= 2;
                s.rb = xrealloc(s.rb, s.cap);
            }
            if (j->ho ? stop_asked(j)
                      : opts->progress && opts->progress(opts->pctx, s.base + s.start, res->applied)) {
                rc = -ECANCELED;
                break;
            }
            ssize_t r = read(fd, s.rb + s.end, s.cap - s.end);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                break;
            }
            if (r == 0)
                eof = 1;
            s.end += (size_t)r;
            continue;
        }
        const char *line = s.rb + s.start;
        size_t len = (size_t)(nl - line);
        if (lineno == 1000 && hooks && hooks->presize && s.base + s.start > 0)
            hooks->presize(ctx, res->bytes / ((s.base + s.start) / 1000));
        if (hooks && hooks->prefetch && apply)
            hint_ahead(&hs, &s, hooks, ctx);
        uint64_t off = s.base + s.start;
        lineno++;
        s.start += len + 1;
        if (len == 0 && !opts->base) {
            /* A blank line: kvd writes none, so the prefilled tail begins
             * here (docs/WAL.md). Up to the end of the file it is only
             * that; anything after it was written after the last write
             * that reached the disk before it, so after the last
             * completed fdatasync: a torn tail. */
            int more = skip_filler(fd, &s);
            if (more < 0) {
                rc = more;
            } else if (!more) {
                res->filler = s.base - off; /* s.base: where the file ended */
            } else if (res->status == WAL_SCAN_OK) {
                note_bad(res, lineno, off, "a blank line (the prefilled tail) with more data after it");
                res->status = WAL_SCAN_TAIL;
            }
            break;
        }

        wal_entry e;
        if (wal_decode_line(&dec, line, len, &e, why, sizeof why) < 0) {
            if (!damaged++) {
                note_bad(res, lineno, off, why);
                res->status = WAL_SCAN_TAIL;
            } else {
                /* A crash damages at most the end of one write. */
                res->status = WAL_SCAN_CORRUPT;
                snprintf(why, sizeof why, "%.120s; line %llu is damaged too, and a crash leaves at most one damaged "
                         "line", res->bad_reason, (unsigned long long)lineno);
                snprintf(res->bad_reason, sizeof res->bad_reason, "%s", why);
                break;
            }
            continue;
        }
        /* A well-formed line: it must continue the sequence, and nothing
         * damaged may come before it. Neither is what a crash leaves. */
        const char *bad = NULL;
        uint64_t want = last_seq ? last_seq + 1 : opts->first_seq;
        if (damaged) {
            snprintf(why, sizeof why, "%.120s; a valid line (line %llu) follows it, so this is not a torn write",
                     res->bad_reason, (unsigned long long)lineno);
            res->status = WAL_SCAN_CORRUPT;
            snprintf(res->bad_reason, sizeof res->bad_reason, "%s", why);
            break;
        }
        if (want && e.seq != want) {
            if (e.seq > want)
                snprintf(why, sizeof why, "seq %llu where %llu was expected: entries %llu..%llu are missing",
                         (unsigned long long)e.seq, (unsigned long long)want, (unsigned long long)want,
                         (unsigned long long)e.seq - 1);
            else
                snprintf(why, sizeof why, "seq %llu where %llu was expected: the sequence goes backwards",
                         (unsigned long long)e.seq, (unsigned long long)want);
            bad = why;
        } else if (gleft && e.grp > 1) {
            bad = "a group starts inside another group";
        } else if (opts->base && (e.op != WAL_OP_SET || e.grp > 1)) {
            bad = "a base holds only single \"set\" lines";
        }
        if (bad) {
            note_bad(res, lineno, off, bad);
            res->status = WAL_SCAN_CORRUPT;
            break;
        }
        last_seq = e.seq;
        res->lines++;
        if (gleft) {
            if (--gleft)
                continue;
            /* The group is whole: decode its lines again and apply them. */
            const char *p = s.rb + gpos;
            for (uint32_t i = 0; i < gsize; i++) {
                const char *q = memchr(p, '\n', (size_t)(s.rb + s.end - p));
                wal_decode_line(&dec, p, (size_t)(q - p), &e, NULL, 0);
                if (apply_one(j, &e, s.base + s.start) < 0) {
                    rc = -ECANCELED;
                    break;
                }
                p = q + 1;
            }
            if (rc)
                break;
            res->good_bytes = s.base + s.start;
            continue;
        }
        if (e.grp > 1) {
            gpos = (size_t)(line - s.rb);
            goff = off;
            gline = lineno;
            gseq = e.seq;
            gsize = e.grp;
            gleft = e.grp - 1;
            continue;
        }
        if (apply_one(j, &e, s.base + s.start) < 0) {
            rc = -ECANCELED;
            break;
        }
        res->good_bytes = s.base + s.start;
    }
    if (rc == 0 && gleft) {
        /* The damage (or the end) is inside a group: the group goes with it. */
        if (res->status == WAL_SCAN_OK) {
            snprintf(why, sizeof why, "the group of %u lines starting at seq %llu is incomplete", gsize,
                     (unsigned long long)gseq);
            note_bad(res, gline, goff, why);
            res->status = WAL_SCAN_TAIL;
        } else if (res->bad_offset > goff) {
            char why2[sizeof res->bad_reason];
            snprintf(why2, sizeof why2, "the group of %u lines starting at line %llu is incomplete: line %llu: %.120s",
                     gsize, (unsigned long long)gline, (unsigned long long)res->bad_line, res->bad_reason);
            snprintf(res->bad_reason, sizeof res->bad_reason, "%s", why2);
            res->bad_line = gline;
            res->bad_offset = goff;
        }
    }
    j->read_end = s.base + s.end;
    wal_decoder_free(&dec);
    free(s.rb);
    if (j->ho && rc == 0 && j->cur->n)
        rc = send_batch(j, s.base + s.start, 0) < 0 ? -ECANCELED : 0;
    return rc;
}

static void *reader_main(void *arg)
{
    scan_job *j = arg;
    pool_t pool;
    pool_init(&pool, 4, (size_t)8 << 20);
    j->pool = &pool;
    j->rc = scan_lines(j);
    pool_destroy(&pool);
    pthread_mutex_lock(&j->ho->mu);
    j->ho->finished = 1;
    pthread_cond_broadcast(&j->ho->cv);
    pthread_mutex_unlock(&j->ho->mu);
    return NULL;
}

#define PROGRESS_WAIT_NS 10000000 /* progress is called at least this often (10 ms) */

static int ask_stop(handoff *ho)
{
    pthread_mutex_lock(&ho->mu);
    ho->stop = 1;
    pthread_cond_broadcast(&ho->cv);
    pthread_mutex_unlock(&ho->mu);
    return -ECANCELED;
}

/* Apply the batches as they come, in order. While none comes (a long line,
 * a long group) progress is still called every 10 ms, so that a loader
 * keeps answering clients and can stop. Returns -ECANCELED when progress
 * stopped it. */
static int apply_batches(scan_job *j)
{
    handoff *ho = j->ho;
    const wal_scan_opts *opts = j->opts;
    const wal_load_hooks *hooks = opts->hooks;
    void (*pf)(void *, uint32_t, const char *, size_t, int, wal_memo *) = hooks ? hooks->prefetch : NULL;
    uint64_t applied = 0, done = 0;
    int presized = 0;
    for (;;) {
        pthread_mutex_lock(&ho->mu);
        while (!ho->count && !ho->finished) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += PROGRESS_WAIT_NS;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (pthread_cond_timedwait(&ho->cv, &ho->mu, &ts) == ETIMEDOUT && !ho->count && !ho->finished &&
                opts->progress) {
                pthread_mutex_unlock(&ho->mu);
                if (opts->progress(opts->pctx, done, applied))
                    return ask_stop(ho);
                pthread_mutex_lock(&ho->mu);
            }
        }
        if (!ho->count) {
            pthread_mutex_unlock(&ho->mu);
            return 0;
        }
        batch *b = &ho->ring[ho->head];
        pthread_mutex_unlock(&ho->mu);

        for (size_t i = 0; !b->borrowed && i < b->n; i++) {
            wal_entry *e = &b->e[i];
            e->key = e->key ? b->bytes + ((uintptr_t)e->key - 1) : NULL;
            e->val = e->val ? b->bytes + ((uintptr_t)e->val - 1) : NULL;
        }
        if (!presized && hooks && hooks->presize && b->n >= 1000 && b->end > 0) {
            hooks->presize(j->ctx, j->res->bytes / (b->end / b->n));
            presized = 1;
        }
        /* A pipeline over the batch: at step i, entry i gets its stage 0
         * hint, entry i - 4 its stage 1, and entry i - 8 is applied. */
        for (size_t i = 0; i < b->n + 8; i++) {
            wal_entry *h0 = i < b->n ? &b->e[i] : NULL;
            wal_entry *h1 = i >= 4 && i - 4 < b->n ? &b->e[i - 4] : NULL;
            if (pf && h0 && h0->key)
                pf(j->ctx, h0->db, h0->key, h0->klen, 0, &h0->memo);
            if (pf && h1 && h1->key)
                pf(j->ctx, h1->db, h1->key, h1->klen, 1, &h1->memo);
            if (i >= 8)
                j->apply(j->ctx, &b->e[i - 8]);
        }
        applied += b->n;
        done = b->end;
        int cancel = opts->progress && opts->progress(opts->pctx, done, applied);

        pthread_mutex_lock(&ho->mu);
        ho->head = (ho->head + 1) % NBATCH;
        ho->count--;
        if (cancel)
            ho->stop = 1;
        pthread_cond_broadcast(&ho->cv);
        pthread_mutex_unlock(&ho->mu);
        if (cancel)
            return -ECANCELED;
    }
}

int wal_scan(const char *path, pool_t *pool, const wal_scan_opts *opts, wal_apply_fn apply, void *ctx,
             wal_scan_result *res)
{
    static const wal_scan_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    uint64_t t0 = kvd_mono_ns();
    *res = (wal_scan_result){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    res->bytes = (uint64_t)st.st_size;
    scan_job j = {.fd = fd, .pool = pool, .opts = opts, .apply = apply, .ctx = ctx, .res = res};
    int rc;
    handoff ho = {.mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t reader;
    int started = 0;
    if (opts->threaded && apply) {
        j.ho = &ho;
        j.cur = &ho.ring[0];
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&ho.cv, &ca);
        pthread_condattr_destroy(&ca);
        /* The reader takes no signals: the loop's handlers stay on this thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        started = pthread_create(&reader, NULL, reader_main, &j) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (started) {
        int arc = apply_batches(&j);
        pthread_join(reader, NULL);
        rc = arc ? arc : j.rc;
        for (int i = 0; i < NBATCH; i++) {
            free(ho.ring[i].e);
            free(ho.ring[i].bytes);
        }
    } else {
        j.ho = NULL;
        rc = scan_lines(&j);
    }
    if (j.cur) /* the condition variable was made */
        pthread_cond_destroy(&ho.cv);
    pthread_mutex_destroy(&ho.mu);
    close(fd);
    /* A live segment may have grown since the fstat: its length is what
     * was read, so that no count past the good bytes goes negative.
     * (Set here, once the reader is done: the applying thread reads
     * res->bytes meanwhile.) */
    if (j.read_end > res->bytes)
        res->bytes = j.read_end;
    res->elapsed_us = (kvd_mono_ns() - t0) / 1000;
    return rc;
}
