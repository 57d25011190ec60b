/* wal: the write-ahead log. Every change to the keyspace becomes one line
 * of JSON (JSON Lines), checksummed with CRC32C, appended to a file and
 * replayed into the table at startup. docs/WAL.md is the format reference.
 *
 * Writing is split so the server can group-commit: wal_append_* encodes an
 * entry into the in-memory batch (a pooled buffer: no malloc per entry),
 * wal_flush writes the whole batch with one write(), and an fdatasync of
 * wal_fd() may run on any thread, its result handed back with
 * wal_sync_done() on the owner thread. Everything except wal_sync_fd() must
 * be called from the thread that owns the WAL (and its pool). */
#ifndef KVD_WAL_H
#define KVD_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "manifest.h"
#include "pool.h"
#include "table.h"

typedef enum wal_op {
    WAL_OP_SET = 1, /* key := val, with exp if present */
    WAL_OP_DEL,     /* remove key */
    WAL_OP_EXPIRE,  /* key's expiry := exp (absolute unix ms) */
    WAL_OP_PERSIST, /* key loses its expiry */
    WAL_OP_FLUSH,   /* remove every key */
    WAL_OP_RENAME,  /* key moves to dst (val field), replacing dst */
    WAL_OP_APPEND,  /* val is appended to key's value (created if missing) */
    WAL_OP_MAX
} wal_op;

typedef enum wal_sync_policy {
    WAL_SYNC_NO = 0,   /* leave syncing to the OS */
    WAL_SYNC_EVERYSEC, /* fdatasync about once a second */
    WAL_SYNC_ALWAYS,   /* fdatasync before a write is acknowledged */
} wal_sync_policy;

/* One decoded line. Pointers stay valid until the next decode. */
typedef struct wal_entry {
    uint64_t seq;
    wal_op op;
    uint32_t grp;     /* lines in the group this line opens (1: no group) */
    const char *key;
    size_t klen;
    const char *val;  /* value for SET, destination key for RENAME */
    size_t vlen;
    int64_t exp;      /* absolute unix ms, or TABLE_NO_EXPIRE */
} wal_entry;

/* Name of an op as written in the file ("set", "del", ...). */
const char *wal_op_name(wal_op op);

/* ---- encoding ---- */

/* Append one complete line (with '\n') for the entry to out. e->grp > 1
 * marks the first line of a group of that many lines. Allocates nothing
 * beyond growing out. Returns the bytes appended. */
size_t wal_encode(buf_t *out, const wal_entry *e);

/* ---- decoding ---- */

typedef struct wal_decoder {
    buf_t scratch;     /* base64 output for the current line */
    buf_t arena;       /* cJSON's nodes and strings for the current line */
    void *json;        /* cJSON tree of the current line */
    int cjson_only;    /* skip the canonical-form fast path (tests) */
} wal_decoder;

void wal_decoder_init(wal_decoder *d, pool_t *pool);
void wal_decoder_free(wal_decoder *d);

/* Check and decode one line (without its '\n'). Returns 0 and fills e, or
 * -1 with a reason in why (e.g. "checksum mismatch"). */
int wal_decode_line(wal_decoder *d, const char *line, size_t len, wal_entry *e, char *why,
                    size_t whylen);

/* ---- reading a whole file ---- */

typedef int (*wal_apply_fn)(void *ctx, const wal_entry *e);

typedef struct wal_scan_result {
    uint64_t lines;        /* good lines read */
    uint64_t applied;      /* entries handed to apply */
    uint64_t ops[WAL_OP_MAX];
    uint64_t first_seq, last_seq;
    uint64_t bytes;        /* bytes in the file */
    uint64_t good_bytes;   /* end of the last good line (or complete group) */
    int status;            /* WAL_SCAN_OK, _TAIL (bad end, repairable), _CORRUPT */
    uint64_t bad_line;     /* 1-based line number of the first bad line */
    uint64_t bad_offset;   /* its byte offset */
    char bad_reason[160];
    uint64_t elapsed_us;
} wal_scan_result;

#define WAL_SCAN_OK 0
#define WAL_SCAN_TAIL 1
#define WAL_SCAN_CORRUPT 2

/* Read path line by line, calling apply (may be NULL) for each entry of
 * every good line or complete group, in order, until the first bad line.
 * The file is never modified. Returns 0 (see res->status for what was
 * found), or -errno if the file could not be read. */
int wal_scan(const char *path, pool_t *pool, wal_apply_fn apply, void *ctx, wal_scan_result *res);

/* apply function that replays entries into a table_t (ctx), dropping keys
 * whose expiry is before the time given by wal_apply_now (set it first). */
int wal_apply_table(void *ctx, const wal_entry *e);
typedef struct wal_table_ctx {
    table_t *table;
    int64_t now_ms;    /* entries expiring at or before this are dropped */
    uint64_t expired;  /* SETs and EXPIREs skipped because already expired */
} wal_table_ctx;

/* ---- the writer ---- */

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
    int fd;
    char *path;
    pool_t *pool;
    buf_t batch;            /* encoded lines not yet written */
    uint64_t next_seq;      /* seq the next append gets */
    uint64_t written_seq;   /* highest seq written to the file */
    uint64_t durable_seq;   /* highest seq known to be on disk */
    uint64_t size;          /* file length (all written lines) */
    uint32_t group_left;    /* lines still to come in an open group */
    int sync_error;         /* -errno of a failed fdatasync: fatal until restart */
    int write_error;        /* -errno of the last failed write, 0 once one succeeds */
    wal_stats stats;
    char *dir;              /* data directory (NULL for a single-file WAL) */
    manifest man;           /* the files that make up the WAL */
    uint64_t base_bytes;    /* size of the base */
    uint64_t older_bytes;   /* size of the segments before the current one */
} wal_t;

typedef struct wal_open_result {
    wal_scan_result scan;       /* summed over the files read */
    uint64_t truncated_bytes;   /* removed from a torn tail */
    char truncated_file[4200];  /* ... of this file */
    uint64_t expired;           /* entries skipped as already expired */
    int files;                  /* files replayed */
    uint64_t base_bytes;        /* size of the base among them */
    int migrated;               /* a single-file kvd.wal became segment 1 */
    int orphans_removed;        /* files no manifest listed, removed */
} wal_open_result;

/* Open (creating if needed, mode 0600) the WAL at path, replay it into t
 * and position for appending. A bad tail is cut off (res->truncated_bytes
 * says how much); corruption followed by good lines refuses to open.
 * Returns the WAL, or NULL with a message in err. */
wal_t *wal_open(const char *path, pool_t *pool, table_t *t, wal_open_result *res, char *err,
                size_t errlen);

/* Open the WAL of a data directory: the manifest, its base and segments,
 * replayed in order into t, appending to the newest segment. Without a
 * manifest, a kvd.wal from a single-file data dir becomes segment 1, and
 * an empty dir starts with one; segment files without a manifest are
 * refused. Files the manifest does not list (left by a crash during a
 * compaction) are removed. Only the newest segment may have its torn tail
 * cut; damage anywhere else refuses to open. Returns NULL with err set. */
wal_t *wal_open_dir(const char *dir, pool_t *pool, table_t *t, wal_open_result *res, char *err, size_t errlen);

/* Bytes in all files of the WAL (base, older segments, current one). */
uint64_t wal_total_bytes(const wal_t *w);

/* Start a new segment: flush and fdatasync the current one, create the
 * next, list it in the manifest (atomically) and append there from now
 * on. *upto is the last seq in the older files. *old_fd is the old
 * segment's descriptor, which the caller closes once no fdatasync that
 * started on it is still running. Directory WALs only. Returns 0 or
 * -errno with err set (the WAL keeps using the old segment; if the new
 * manifest may have reached the disk without its directory fsync, the
 * WAL also refuses writes until restart, as after a failed fdatasync). */
int wal_rotate(wal_t *w, uint64_t *upto, int *old_fd, char *err, size_t errlen);

/* Number for the next new file (base or segment). */
uint64_t wal_next_file_number(const wal_t *w);

/* Path of base file num, or of its temp file while it is being written. */
void wal_base_path(const wal_t *w, uint64_t num, int tmp, char *dst, size_t n);

typedef void (*wal_progress_fn)(void *ctx, uint64_t entries);

/* Write every live entry of t (as of now) to path as a base: one "set"
 * line each, numbered from 1, then fsync. progress (may be NULL) is called
 * as it goes. Meant for a forked child working on its copy of t. Returns
 * 0 or -errno. */
int wal_write_base(table_t *t, const char *path, pool_t *pool, int64_t now, wal_progress_fn progress, void *pctx,
                   uint64_t *entries, uint64_t *bytes);

/* Make base num (written to its temp path) the WAL's base covering seqs
 * up to upto, keep the segments numbered first_kept and later, switch the
 * manifest atomically, then delete the files it no longer lists. Returns
 * 0 or -errno with err set; the WAL keeps its old manifest in memory and
 * deletes nothing either manifest names (the new one may be on disk if
 * only its directory fsync failed). */
int wal_install_base(wal_t *w, uint64_t num, uint64_t upto, uint64_t first_kept, uint64_t base_bytes, char *err,
                     size_t errlen);

/* Flush and fdatasync what is pending, then close. NULL is a no-op.
 * Returns 0 or the -errno of a failed flush/sync. */
int wal_close(wal_t *w);

/* Encode one entry into the batch; returns its sequence number. */
uint64_t wal_append_set(wal_t *w, const void *key, size_t klen, const void *val, size_t vlen,
                        int64_t exp);
uint64_t wal_append_del(wal_t *w, const void *key, size_t klen);
uint64_t wal_append_expire(wal_t *w, const void *key, size_t klen, int64_t exp);
uint64_t wal_append_persist(wal_t *w, const void *key, size_t klen);
uint64_t wal_append_flush(wal_t *w);
uint64_t wal_append_rename(wal_t *w, const void *key, size_t klen, const void *dst, size_t dlen);
uint64_t wal_append_append(wal_t *w, const void *key, size_t klen, const void *val, size_t vlen);

/* The next n appends form a group: replay applies all of them or none. */
void wal_group(wal_t *w, uint32_t n);

/* Bytes waiting in the batch. */
static inline size_t wal_pending(const wal_t *w) { return w->batch.len; }

/* Write the batch with one write(), retrying EINTR and short writes. On
 * failure the file is cut back to its last good length, the batch is kept
 * for a later retry, and -errno is returned. */
int wal_flush(wal_t *w);

/* 0 while writes are accepted; else the -errno that stopped them (a failed
 * fsync, or a write that has not yet succeeded on retry). */
static inline int wal_error(const wal_t *w) { return w->sync_error ? w->sync_error : w->write_error; }

static inline int wal_fd(const wal_t *w) { return w->fd; }

/* fdatasync fd, retrying EINTR. Safe on any thread. Returns 0 or -errno. */
int wal_sync_fd(int fd);

/* Report the result of an fdatasync that began when written_seq was
 * target. On success durable_seq advances; on failure the WAL refuses
 * further writes until restart (a failed fsync is never retried). */
void wal_sync_done(wal_t *w, uint64_t target, int rc, uint64_t took_us);

/* Flush and fdatasync on the calling thread. Returns 0 or -errno. */
int wal_sync(wal_t *w);

#endif
