/* wal: the group-commit writer of the newest WAL segment. */
#include "config.h"
#include "wal.h"
#include "wal_codec.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

wal_t *wal_writer_new(const char *path, int fd, pool_t *pool, uint64_t last_seq, uint64_t size)
{
    wal_t *w = xcalloc(1, sizeof(*w));
    wal_claim_segment(fd);
    w->fd = fd;
    w->path = xstrdup(path);
    w->pool = pool;
    buf_init(&w->batch, pool);
    w->lock_fd = -1;
    w->written_seq = w->durable_seq = last_seq;
    w->next_seq = last_seq + 1;
    w->size = w->filled = size;
    manifest_init(&w->man);
    return w;
}

void wal_claim_segment(int fd)
{
    /* Whatever name or link reaches the file, kvd-check-wal --fix cannot
     * take it (LOCK_EX) while it is written to. */
    if (flock(fd, LOCK_SH | LOCK_NB) < 0)
        (void)0; /* the directory's lock still guards it */
}

int wal_close(wal_t *w)
{
    if (!w)
        return 0;
    /* A write that failed earlier was taken back; what counts is whether
     * what is in the file now reaches the disk. */
    int rc = w->sync_error ? w->sync_error : wal_flush(w);
    if (rc == 0) {
        /* A tail that cannot be cut is reported, but what the file
         * holds is synced all the same. */
        int trimmed = wal_trim(w);
        rc = wal_sync(w);
        if (rc == 0)
            rc = trimmed;
    }
    close(w->fd);
    if (w->lock_fd >= 0)
        close(w->lock_fd);
    buf_release(&w->batch);
    free(w->path);
    free(w->dir);
    manifest_free(&w->man);
    free(w);
    return rc;
}

uint64_t wal_append(wal_t *w, wal_entry *e)
{
    e->seq = w->next_seq++;
    e->grp = 1;
    if (w->group_next > 1) {
        e->grp = w->group_next;
        w->group_next = 0;
    }
    wal_encode(&w->batch, e);
    return e->seq;
}

uint64_t wal_append_raw(wal_t *w, const char *line, size_t len, uint64_t seq)
{
    if (seq != w->next_seq)
        abort(); /* the caller checked the sequence */
    buf_append(&w->batch, line, len);
    w->next_seq = seq + 1;
    return seq;
}

void wal_group(wal_t *w, uint32_t n)
{
    if (!w->in_txn)
        w->group_next = n;
}

void wal_txn_begin(wal_t *w)
{
    w->in_txn = 1;
    w->group_next = 0;
    w->txn_off = w->batch.len;
    w->txn_seq = w->next_seq;
}

void wal_txn_end(wal_t *w)
{
    w->in_txn = 0;
    uint64_t n = w->next_seq - w->txn_seq;
    if (n <= 1 || w->batch.len <= w->txn_off)
        return;
    /* Encode the first line again, now with "grp", and put it in place
     * of the old one. */
    char *line = w->batch.data + w->txn_off;
    char *nl = memchr(line, '\n', w->batch.len - w->txn_off);
    size_t oldlen = (size_t)(nl - line) + 1;
    wal_decoder d;
    wal_decoder_init(&d, w->pool);
    wal_entry e;
    buf_t one = BUF_INIT(w->pool);
    if (wal_decode_line(&d, line, oldlen - 1, &e, NULL, 0) < 0)
        abort(); /* we encoded it a moment ago */
    e.grp = (uint32_t)n;
    wal_encode(&one, &e);
    size_t tail = w->batch.len - w->txn_off - oldlen;
    if (one.len > oldlen)
        buf_reserve(&w->batch, one.len - oldlen);
    line = w->batch.data + w->txn_off;
    memmove(line + one.len, line + oldlen, tail);
    memcpy(line, one.data, one.len);
    w->batch.len = w->txn_off + one.len + tail;
    buf_release(&one);
    wal_decoder_free(&d);
}

#define WAL_BATCH_KEEP ((size_t)1 << 20) /* batch storage kept between flushes */

static void batch_done(wal_t *w)
{
    if (w->batch.cap > WAL_BATCH_KEEP)
        buf_release(&w->batch);
    else
        buf_reset(&w->batch);
}

/* Extend the prefilled tail by WAL_PREFILL_STEP, at the file's end. */
static void prefill(wal_t *w)
{
    static char nl[1 << 16];
    struct iovec iov[WAL_PREFILL_STEP / sizeof nl];
    if (!nl[0])
        memset(nl, '\n', sizeof nl);
    for (size_t i = 0; i < sizeof iov / sizeof iov[0]; i++)
        iov[i] = (struct iovec){nl, sizeof nl};
    ssize_t n = pwritev(w->fd, iov, (int)(sizeof iov / sizeof iov[0]), (off_t)w->filled);
    if (n > 0)
        w->filled += (uint64_t)n; /* a short extension is a shorter one */
    if (n != (ssize_t)WAL_PREFILL_STEP)
        w->prefill_retry_ms = kvd_now_ms() + 1000;
}

int wal_trim(wal_t *w)
{
    if (w->filled <= w->size)
        return 0;
    if (ftruncate(w->fd, (off_t)w->size) < 0)
        return -errno;
    w->filled = w->size;
    return 0;
}

int wal_flush(wal_t *w)
{
    if (w->batch.len == 0)
        return 0;
    if (w->sync_error)
        return w->sync_error;
    int rc = kvd_pwrite_all(w->fd, w->batch.data, w->batch.len, w->size);
    if (rc < 0) {
        w->stats.write_failures++;
        w->write_error = rc;
        /* Never leave half a batch in front of what comes next (nor a
         * prefilled tail after it). If even that fails, the file's tail
         * is unknown: stop for good. */
        if (ftruncate(w->fd, (off_t)w->size) < 0)
            w->sync_error = -errno;
        w->filled = w->size;
        return rc;
    }
    w->size += w->batch.len;
    if (w->filled < w->size)
        w->filled = w->size;
    if (w->prefill && w->filled - w->size < WAL_PREFILL_STEP &&
        (!w->prefill_retry_ms || kvd_now_ms() >= w->prefill_retry_ms))
        prefill(w);
    if (w->on_written)
        w->on_written(w->on_written_ctx, w->batch.data, w->batch.len);
    w->stats.bytes_written += w->batch.len;
    w->stats.writes++;
    w->written_seq = w->next_seq - 1;
    w->write_error = 0;
    batch_done(w);
    return 0;
}

void wal_discard(wal_t *w)
{
    batch_done(w);
    w->next_seq = w->written_seq + 1;
    w->group_next = 0;
    w->in_txn = 0;
}

int wal_sync_fd(int fd)
{
    for (;;) {
#ifdef HAVE_FDATASYNC
        int r = fdatasync(fd);
#else
        int r = fsync(fd);
#endif
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

void wal_sync_done(wal_t *w, uint64_t target, int rc, uint64_t took_us)
{
    if (w->sync_error)
        return; /* after a failed fsync, a later success proves nothing */
    if (rc < 0) {
        w->stats.fsync_failures++;
        w->sync_error = rc;
        return;
    }
    w->stats.fsyncs++;
    w->stats.last_fsync_us = took_us;
    w->stats.last_fsync_ms = kvd_now_ms();
    if (target > w->durable_seq)
        w->durable_seq = target;
}

int wal_sync(wal_t *w)
{
    int rc = wal_flush(w);
    if (rc < 0)
        return rc;
    if (w->sync_error)
        return w->sync_error;
    uint64_t target = w->written_seq;
    uint64_t t0 = kvd_mono_ns();
    rc = wal_sync_fd(w->fd);
    wal_sync_done(w, target, rc, (kvd_mono_ns() - t0) / 1000);
    return rc;
}
