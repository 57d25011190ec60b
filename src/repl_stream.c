/* repl_stream: the replication stream's I/O-free parser (replica side). */
#include "config.h"
#include "repl_stream.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void repl_stream_init(repl_stream *s, pool_t *pool)
{
    memset(s, 0, sizeof *s);
    wal_decoder_init(&s->dec, pool);
}

void repl_stream_free(repl_stream *s)
{
    wal_decoder_free(&s->dec);
}

void repl_stream_expect(repl_stream *s, repl_stream_mode mode, uint64_t next_seq)
{
    s->mode = mode;
    s->next_seq = next_seq;
    s->bulk_left = 0;
    s->g_off = 0;
    s->g_got = s->g_want = 0;
}

static repl_stream_event fail(repl_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static repl_stream_event fail(repl_stream *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    s->broken = 1;
    return RS_ERROR;
}

/* Check the line at p (len bytes, no '\n') as the one carrying seq. */
static int check_line(repl_stream *s, const char *p, size_t len, uint64_t seq, uint32_t *grp)
{
    wal_entry e;
    char why[120];
    s->lines_checked++;
    if (wal_decode_line(&s->dec, p, len, &e, why, sizeof why) < 0) {
        fail(s, "bad WAL line where seq %" PRIu64 " was due: %s", seq, why);
        return -1;
    }
    if (e.seq != seq) {
        fail(s, "WAL line with seq %" PRIu64 " where seq %" PRIu64 " was due", e.seq, seq);
        return -1;
    }
    *grp = e.grp;
    return 0;
}

static repl_stream_event next_lines(repl_stream *s, const char *data, size_t len, size_t *used,
                                    repl_stream_out *out)
{
    size_t pos = 0;
    while (pos < len && data[pos] == '\n') /* keepalives */
        pos++;
    *used = pos;
    if (pos == len)
        return RS_MORE;
    /* data starts where the last call left off: with a group pending
     * (g_want), at its first line, of which g_off bytes are checked. */
    const char *start = data + pos;
    size_t avail = len - pos, off = s->g_off;
    uint32_t want = s->g_want ? s->g_want : 1, got = s->g_got;
    uint64_t seq = s->next_seq + got;
    while (got < want) {
        const char *nl = memchr(start + off, '\n', avail - off);
        if (!nl) {
            s->g_off = off;
            s->g_got = got;
            s->g_want = got ? want : 0;
            return RS_MORE;
        }
        size_t llen = (size_t)(nl - (start + off));
        uint32_t grp;
        if (llen == 0)
            return fail(s, "an empty line inside a group of %u lines (seq %" PRIu64 ")", want, seq);
        if (check_line(s, start + off, llen, seq, &grp) < 0)
            return RS_ERROR;
        if (got == 0)
            want = grp ? grp : 1;
        else if (grp > 1)
            return fail(s, "a group opens (seq %" PRIu64 ") inside another one", seq);
        got++;
        seq++;
        off += llen + 1;
    }
    s->g_off = 0;
    s->g_got = s->g_want = 0;
    out->p = start;
    out->len = off;
    out->lines = want;
    out->first = s->next_seq;
    out->last = seq - 1;
    s->next_seq = seq;
    *used = pos + off;
    return RS_GROUP;
}

repl_stream_event repl_stream_next(repl_stream *s, const char *data, size_t len, size_t *used,
                                   repl_stream_out *out)
{
    memset(out, 0, sizeof *out);
    *used = 0;
    if (s->broken)
        return RS_ERROR;
    switch (s->mode) {
    case RS_MODE_REPLY:
    case RS_MODE_BULKHDR: {
        size_t pos = 0;
        if (s->mode == RS_MODE_BULKHDR)
            while (pos < len && data[pos] == '\n')
                pos++;
        *used = pos;
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl) {
            if (len - pos > 4096)
                return fail(s, "a reply line longer than 4096 bytes");
            return RS_MORE;
        }
        size_t n = (size_t)(nl - (data + pos));
        if (n && nl[-1] == '\r')
            n--;
        *used = (size_t)(nl - data) + 1;
        if (s->mode == RS_MODE_REPLY) {
            out->p = data + pos;
            out->len = n;
            return RS_REPLY;
        }
        const char *p = data + pos;
        if (n < 2 || p[0] != '$')
            return fail(s, "expected the base's $<bytes> header, got '%.*s'", (int)(n > 60 ? 60 : n), p);
        uint64_t v = 0;
        for (size_t i = 1; i < n; i++) {
            if (p[i] < '0' || p[i] > '9' || v > UINT64_MAX / 10 - 1)
                return fail(s, "bad base header '%.*s'", (int)(n > 60 ? 60 : n), p);
            v = v * 10 + (uint64_t)(p[i] - '0');
        }
        out->bulk = v;
        s->bulk_left = v;
        s->mode = RS_MODE_BULK;
        return RS_BULK;
    }
    case RS_MODE_BULK:
        if (s->bulk_left == 0) {
            s->mode = RS_MODE_LINES;
            return RS_BULK_END;
        }
        if (len == 0)
            return RS_MORE;
        out->p = data;
        out->len = len < s->bulk_left ? len : (size_t)s->bulk_left;
        s->bulk_left -= out->len;
        *used = out->len;
        return RS_BULK_DATA;
    case RS_MODE_LINES:
        return next_lines(s, data, len, used, out);
    }
    return fail(s, "bad parser state");
}
