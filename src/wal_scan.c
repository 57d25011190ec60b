/* wal_scan: one WAL file -> checked entries, and what is wrong with it. */
#include "config.h"
#include "wal_scan.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
        hooks->prefetch(ctx, h->db, s->rb + h->key, h->klen, stage);
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

static void note_bad(wal_scan_result *res, uint64_t line, uint64_t off, const char *why)
{
    res->bad_line = line;
    res->bad_offset = off;
    snprintf(res->bad_reason, sizeof res->bad_reason, "%s", why);
}

static void apply_one(wal_scan_result *res, const wal_entry *e, wal_apply_fn apply, void *ctx)
{
    if (!res->first_seq)
        res->first_seq = e->seq;
    res->last_seq = e->seq;
    res->ops[e->op]++;
    res->applied++;
    if (apply)
        apply(ctx, e);
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

    wal_decoder dec;
    const wal_load_hooks *hooks = opts->hooks;
    hint_state hs = {0};
    wal_decoder_init(&dec, pool);
    /* A small file (a fresh segment, a test's) gets a buffer its size,
     * not a whole chunk. */
    size_t cap = (uint64_t)st.st_size < SCAN_CHUNK ? (size_t)st.st_size + 4096 : SCAN_CHUNK;
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
            if (opts->progress && opts->progress(opts->pctx, s.base + s.start, res->applied)) {
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
                apply_one(res, &e, apply, ctx);
                p = q + 1;
            }
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
        apply_one(res, &e, apply, ctx);
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
    wal_decoder_free(&dec);
    free(s.rb);
    close(fd);
    res->elapsed_us = (kvd_mono_ns() - t0) / 1000;
    return rc;
}
