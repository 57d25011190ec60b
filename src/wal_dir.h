/* wal_dir: the WAL of a data directory. A manifest (manifest.h) names a
 * base (the live data at some point) and the segments written after it;
 * this module reads them in order (one walk, used by the server and by
 * kvd-check-wal alike), opens the newest for appending, rotates to a new
 * segment, and installs a compacted base. docs/WAL.md describes the files
 * and the rules a walk checks:
 *
 * - the base numbers its lines 1..n; the first segment line after it
 *   carries the seq the manifest says the base covers, plus one (1 when
 *   there is no base); every later line the seq before it plus one, across
 *   files (an empty segment passes the sequence on). A gap is corruption.
 * - only the newest segment may end in a torn tail (wal_scan.h says what
 *   that is); the server cuts it off, keeping the bytes in a .broken file.
 * - anything else refuses to load. */
#ifndef KVD_WAL_DIR_H
#define KVD_WAL_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "pool.h"
#include "table.h"
#include "wal.h"
#include "wal_scan.h"

/* One file of a walk, as handed to the walk's per-file callback. */
typedef struct wal_walk_file {
    const char *path;
    int base;                /* the base (else a segment) */
    int newest;              /* the newest segment (where writes go) */
    uint64_t expect_seq;     /* the seq its first line had to carry (0: unknown, after damage) */
    int after_damage;        /* an earlier file is damaged: this one was checked, not replayed */
    wal_scan_result scan;
} wal_walk_file;

typedef void (*wal_walk_fn)(void *ctx, const wal_walk_file *f);

typedef struct wal_walk_result {
    int files;               /* files read */
    uint64_t lines, applied, ops[WAL_OP_MAX];
    uint64_t bytes;          /* bytes replayed (up to any damage) */
    uint64_t base_bytes;     /* the base's size */
    uint64_t elapsed_us;
    uint64_t last_seq;       /* the last seq replayed (the base's coverage if no segment line follows) */
    uint64_t newest_good;    /* where the newest segment's good data ends (appends go there) */
    int status;              /* WAL_SCAN_OK; _TAIL: the newest segment ends in a torn tail; _CORRUPT */
    int bad_index;           /* the damaged file: 0 the base, i + 1 segment i of the manifest */
    char bad_path[4200];
    uint64_t bad_line, bad_offset, bad_good_bytes, bad_file_bytes;
    char bad_reason[240];
} wal_walk_result;

/* Read dir's files in the order m lists them, checking every line and the
 * sequence across files, calling apply (may be NULL) with actx for each
 * entry before the first damage and each (may be NULL) with ectx after
 * each file. With keep_going, the files after a damaged one are still
 * read and reported (not replayed). Returns 0 (res->status says what was
 * found) or -1 with err set when a file cannot be read. */
int wal_walk_dir(const char *dir, const manifest *m, pool_t *pool, wal_apply_fn apply, void *actx,
                 const wal_load_hooks *hooks, wal_walk_fn each, void *ectx, int keep_going,
                 wal_walk_result *res, char *err, size_t errlen);

/* The files of a data directory besides the WAL's own (kvd.incr.N.jsonl,
 * kvd.base.N.jsonl; manifest.h names the manifest); docs/WAL.md lists
 * them all. Their temp files add ".tmp". */
#define WAL_DIR_LOCK_NAME "kvd.lock"
#define WAL_DIR_COMPACT_PID "kvd.compact.pid"   /* a running compaction child */
#define WAL_DIR_REPLID "kvd.replid"             /* replication ids */
#define WAL_DIR_REPLSYNC_PREFIX "kvd.replsync." /* a full sync's base, sent or received */

/* Whether name is one of the WAL's files as kvd names them
 * (kvd.incr.N.jsonl, kvd.base.N.jsonl, or a single-file kvd.wal). */
int wal_dir_is_wal_name(const char *name);

/* Whether name is any file kvd keeps in a data directory: the WAL's, the
 * manifest, the ones above, and their temp files. */
int wal_dir_owns_name(const char *name);

/* What a file's first bytes say it is: a manifest, a WAL (a line of one),
 * or neither (0, also when it cannot be read). */
enum { WAL_FILE_MANIFEST = 1, WAL_FILE_LOG };
int wal_file_kind(const char *path);

/* Take the data directory's lock (a flock on the directory itself), which
 * the server holds while it runs and kvd-check-wal --fix while it
 * repairs: one writer per directory. Returns the descriptor that holds it
 * (close it to release), or -1 with err set; *holder (if not NULL) gets
 * the pid the current holder wrote in kvd.lock when the lock is taken.
 * kvd.lock names this process; after a fork that keeps the lock (a
 * daemon's), wal_dir_lock_mark(dir) names the new one. */
int wal_dir_lock(const char *dir, long *holder, char *err, size_t errlen);
void wal_dir_lock_mark(const char *dir);

/* Whether a writer holds dir's lock now (*holder: its pid, as above),
 * without taking it: for a check that only reads. */
int wal_dir_locked(const char *dir, long *holder);

/* Call fn for each WAL file in dir that m does not list, saying whether
 * it is what a crash leaves (removable: a temp file, a base not installed
 * or replaced, a segment a compaction retired, an empty segment a
 * rotation never listed) or holds data m cannot place. Returns 0 or
 * -errno. */
typedef void (*wal_stray_fn)(void *ctx, const char *name, uint64_t bytes, int removable);
int wal_dir_strays(const char *dir, const manifest *m, wal_stray_fn fn, void *ctx);

/* Path of a file of dir: the base (base != 0) or segment number num. */
void wal_file_path(char *dst, size_t n, const char *dir, int base, uint64_t num);

/* Copy the bytes of path from offset on into a new file next to it,
 * path.broken (or path.broken.1, .2, ... if taken), and fsync it. The name
 * goes to kept. Returns 0 or -errno. */
int wal_keep_broken(const char *path, uint64_t from, char *kept, size_t keptlen);

/* Cut path at offset after keeping the bytes cut (wal_keep_broken), and
 * fsync it. Returns 0 or -1 with err set. */
int wal_cut(const char *path, uint64_t offset, char *kept, size_t keptlen, char *err, size_t errlen);

typedef struct wal_open_result {
    wal_walk_result walk;       /* what was replayed */
    uint64_t truncated_bytes;   /* cut off a torn tail */
    char truncated_file[4200];  /* ... of this file */
    char kept_file[4300];       /* ... and kept in this one */
    int migrated;               /* a single-file kvd.wal became segment 1 */
    int orphans_removed;        /* files the manifest does not list, removed */
    char removed_files[512];    /* ... their names */
} wal_open_result;

/* Someone watching a replay as it goes (the server, to answer clients and
 * report progress while it loads). */
typedef struct wal_replay_watch {
    /* Called once before the first file with bytes 0, then about every MB
     * read: bytes read so far across the files, of total (the sizes of the
     * files the manifest lists), and the entries applied. A nonzero return
     * stops the replay. */
    int (*progress)(void *ctx, uint64_t bytes, uint64_t total, uint64_t entries);
    void *ctx;
} wal_replay_watch;

/* Open the WAL of a data directory: the manifest, its base and segments,
 * replayed in order with apply (actx), appending to the newest segment.
 * Takes the directory's lock (wal_dir_lock) for the writer's lifetime.
 * Without a manifest, a kvd.wal from a single-file data dir becomes
 * segment 1, and an empty dir starts with one; segment files without a
 * manifest are refused. Files the manifest does not list are removed when
 * a crash can have left them (wal_dir_strays), else refused. A torn tail
 * of the newest segment is cut (and kept, see wal_cut); any other damage
 * refuses to open. Returns NULL with err set on failure. */
wal_t *wal_open_dir(const char *dir, pool_t *pool, wal_apply_fn apply, void *actx,
                    const wal_load_hooks *hooks, wal_open_result *res, char *err, size_t errlen);

/* wal_open_dir, telling watch (may be NULL) how the replay goes, with
 * the directory's lock already taken by the caller (wal_dir_lock) if lock
 * is not -1: the WAL owns that descriptor from here, failure or not. When
 * watch stops the replay, returns NULL with err saying so; nothing was
 * written then but what opening an empty or single-file directory writes
 * before the replay begins (segment 1 and the manifest). */
wal_t *wal_open_dir_watched(const char *dir, int lock, pool_t *pool, wal_apply_fn apply, void *actx,
                            const wal_load_hooks *hooks, const wal_replay_watch *watch,
                            wal_open_result *res, char *err, size_t errlen);

/* Bytes in all files of the WAL (base, older segments, current one). */
uint64_t wal_total_bytes(const wal_t *w);

/* Start a new segment: the batch must be flushed (returns -EBUSY if not);
 * fdatasync the current segment, create the next, list it in the
 * manifest (atomically) and append there from now on. *upto is the last
 * seq in the older files. *old_fd is the old segment's descriptor, which
 * the caller closes once no fdatasync that started on it is still running.
 * When the current segment is still empty there is nothing to rotate
 * away from: it stays, *upto is the last seq written and *old_fd is -1.
 * Returns 0 or -errno with err set (the WAL keeps using the old segment;
 * if the new manifest may have reached the disk without its directory
 * fsync, the WAL also refuses writes until restart, as after a failed
 * fdatasync). */
int wal_rotate(wal_t *w, uint64_t *upto, int *old_fd, char *err, size_t errlen);

/* Number for the next new file (base or segment). */
uint64_t wal_next_file_number(const wal_t *w);

/* Path of base file num, or of its temp file while it is being written. */
void wal_base_path(const wal_t *w, uint64_t num, int tmp, char *dst, size_t n);

typedef void (*wal_progress_fn)(void *ctx, uint64_t entries);

/* wal_write_base writes (and reports progress) every WAL_BASE_CHUNK bytes
 * of base: a paced child's bursts of work are this long (about 0.4 ms of
 * CPU at 128 KiB), so the server waits little when it shares a core. */
#define WAL_BASE_CHUNK ((size_t)128 << 10)

/* Write every entry of the ndb databases dbs exactly as it is (expiries
 * in the past included: a later segment may act on such a key) to path as
 * a base: one "set" line each (with its database), numbered from 1, then
 * fsync. progress (may be NULL) is called after each chunk. Meant for a forked
 * child working on its copy of the tables. Returns 0 or -errno. */
int wal_write_base(table_t *const *dbs, uint32_t ndb, const char *path, pool_t *pool, wal_progress_fn progress,
                   void *pctx, uint64_t *entries, uint64_t *bytes);

/* Make base num (written to its temp path) the WAL's base covering seqs
 * up to upto, keep the segments numbered first_kept and later, switch the
 * manifest atomically, then delete the files it no longer lists. Returns
 * 0 or -errno with err set; the WAL keeps its old manifest in memory and
 * deletes nothing either manifest names (the new one may be on disk if
 * only its directory fsync failed). */
int wal_install_base(wal_t *w, uint64_t num, uint64_t upto, uint64_t first_kept, uint64_t base_bytes, char *err,
                     size_t errlen);

/* Unlink the n files of paths (each malloc'd, as is the array, all freed
 * here), then fsync dir. A crash part way leaves files the manifest no
 * longer lists, which the next start removes. Safe on any thread. */
void wal_unlink_retired(char **paths, size_t n, const char *dir);

#endif
