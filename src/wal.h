/* wal: the write-ahead log's writer. Every change to the keyspace becomes
 * one line of JSON (wal_codec), appended to the newest segment of the data
 * directory (wal_dir) and replayed at startup. docs/WAL.md is the format
 * reference.
 *
 * Writing is split so the server can group-commit: wal_append encodes an
 * entry into the in-memory batch (a pooled buffer: no malloc per entry),
 * wal_flush writes the whole batch with one pwrite() at the log's end,
 * and an fdatasync of wal_fd() may run on any thread, its result handed
 * back with wal_sync_done() on the owner thread. Everything except wal_sync_fd() must
 * be called from the thread that owns the WAL (and its pool).
 *
 * The prefilled tail. An fdatasync after an append must also commit the
 * file's new length and its newly allocated blocks to the filesystem's
 * journal; one after a write over blocks the file already has need not,
 * and takes about half as long (ext4 here: 190-225 us against 330-520 us
 * for 3 KB). So under appendfsync always the writer keeps the file
 * WAL_PREFILL_STEP to twice that longer than the log, the extra bytes all
 * '\n' (blank lines, which JSON Lines readers such as jq skip), and
 * writes each batch over them with pwrite() at the log's end. The file is
 * cut back to the log's length when the segment is closed or rotated
 * away from; after a crash the replay stops at the first blank line
 * (wal_scan). docs/WAL.md, "The prefilled tail". */
#ifndef KVD_WAL_H
#define KVD_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "manifest.h"
#include "pool.h"
#include "wal_codec.h"
#include "wal_scan.h"

typedef enum wal_sync_policy {
    WAL_SYNC_NO = 0,   /* leave syncing to the OS */
    WAL_SYNC_EVERYSEC, /* fdatasync about once a second */
    WAL_SYNC_ALWAYS,   /* fdatasync before a write is acknowledged */
} wal_sync_policy;

typedef struct wal_stats {
    uint64_t bytes_written;   /* since open */
    uint64_t writes;          /* write() batches */
    uint64_t fsyncs;
    uint64_t fsync_failures;
    uint64_t write_failures;
    uint64_t last_fsync_us;   /* duration of the last fdatasync */
    int64_t last_fsync_ms;    /* unix ms when it finished */
} wal_stats;

typedef struct wal {
    int fd;                 /* the newest segment, open for appending */
    char *path;             /* its path */
    pool_t *pool;
    buf_t batch;            /* encoded lines not yet written */
    uint64_t next_seq;      /* seq the next append gets */
    uint64_t written_seq;   /* highest seq written to the file */
    uint64_t durable_seq;   /* highest seq known to be on disk */
    uint64_t size;          /* the log's length: all written lines */
    uint64_t filled;        /* the file's length: size and the prefilled tail after it */
    int prefill;            /* keep a prefilled tail (set under appendfsync always) */
    int64_t prefill_retry_ms; /* an extension failed (a full disk): not again before this */
    uint32_t group_next;    /* size of the group the next append opens (0, 1: none) */
    int in_txn;             /* wal_txn_begin ran: every append joins one group */
    size_t txn_off;         /* where that group's first line starts in the batch */
    uint64_t txn_seq;       /* and its seq */
    int sync_error;         /* -errno of a failed fdatasync: fatal until restart */
    int write_error;        /* -errno of the last failed write, 0 once one succeeds */
    wal_stats stats;
    char *dir;              /* the data directory */
    manifest man;           /* the files that make up the WAL */
    uint64_t base_bytes;    /* size of the base */
    uint64_t older_bytes;   /* size of the segments before the current one */
    int lock_fd;            /* holds the data directory's lock, -1 if none */
    /* Called by wal_flush with the bytes it has just written (whole lines),
     * before the batch is reused: replication feeds its replicas from it. */
    void (*on_written)(void *ctx, const char *p, size_t n);
    void *on_written_ctx;
    /* Deletes the files a new base retires, taking the malloc'd array of
     * n malloc'd paths (NULL: wal_install_base deletes them itself, with
     * wal_unlink_retired). Unlinking a file of hundreds of MB takes ~100
     * ms: a server hands it to a worker thread. */
    void (*retire)(char **paths, size_t n, const char *dir);
} wal_t;

/* A writer appending to fd (path) whose last entry is last_seq and whose
 * length is size. Takes fd (and claims it, below). Used by wal_open_dir. */
wal_t *wal_writer_new(const char *path, int fd, pool_t *pool, uint64_t last_seq, uint64_t size);

/* Mark a segment opened for writing as in use (a shared flock on it):
 * kvd-check-wal --fix refuses a file it cannot lock exclusively, however
 * it was named (a symlink, a hard link, /proc/PID/fd). */
void wal_claim_segment(int fd);

/* Flush and fdatasync what is pending, then close. NULL is a no-op.
 * Returns 0 or the -errno of a failed flush/sync. */
int wal_close(wal_t *w);

/* Encode e into the batch with the next sequence number, which it stores
 * in e->seq (and, at the start of a group, the group size in e->grp).
 * Returns the sequence number. */
uint64_t wal_append(wal_t *w, wal_entry *e);

/* Append a line already encoded elsewhere (a replica writing its
 * primary's line verbatim), len bytes ending in '\n', whose seq is seq:
 * it must be the next one (w->next_seq), which becomes seq + 1. Copies
 * the bytes into the batch, nothing else: no malloc once the batch is
 * warm. Returns seq. */
uint64_t wal_append_raw(wal_t *w, const char *line, size_t len, uint64_t seq);

/* The next n appends form a group: replay applies all of them or none.
 * Inside a transaction (below) it does nothing: the transaction's group
 * holds them. */
void wal_group(wal_t *w, uint32_t n);

/* Every append until wal_txn_end forms one group (MULTI/EXEC), however
 * many there turn out to be: wal_txn_end writes the count into the
 * group's first line, which is still in the batch. Nothing may flush the
 * batch in between. */
void wal_txn_begin(wal_t *w);
void wal_txn_end(wal_t *w);

/* Bytes waiting in the batch. */
static inline size_t wal_pending(const wal_t *w) { return w->batch.len; }

#define WAL_PREFILL_STEP ((uint64_t)1 << 20)

/* Write the batch with one pwrite() at the log's end, retrying EINTR and
 * short writes; then, with prefill set, extend the prefilled tail if less
 * than WAL_PREFILL_STEP of it is left (a failed extension is not an
 * error: writes append until it works again). On failure the file is cut
 * back to the log's length, the batch stays (wal_discard drops it) and
 * -errno is returned. */
int wal_flush(wal_t *w);

/* Drop the batch after a failed flush: its entries will never be written
 * and their sequence numbers are given out again. */
void wal_discard(wal_t *w);

/* 0 while writes are accepted; else the -errno that stopped them (a failed
 * fsync, or a write that failed and has not been retried with success). */
static inline int wal_error(const wal_t *w) { return w->sync_error ? w->sync_error : w->write_error; }

static inline int wal_fd(const wal_t *w) { return w->fd; }

/* fdatasync fd, retrying EINTR. Safe on any thread. Returns 0 or -errno. */
int wal_sync_fd(int fd);

/* Report the result of an fdatasync that began when written_seq was
 * target. On success durable_seq advances; on failure the WAL refuses
 * further writes until restart (a failed fsync is never retried). */
void wal_sync_done(wal_t *w, uint64_t target, int rc, uint64_t took_us);

/* Cut the prefilled tail off the file (its length becomes the log's), as
 * before the segment is closed or rotated away from. Returns 0 or -errno. */
int wal_trim(wal_t *w);

/* Flush and fdatasync on the calling thread. Returns 0 or -errno. */
int wal_sync(wal_t *w);

#endif
