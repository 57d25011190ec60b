/* compact: online WAL compaction. The WAL rotates to a new segment, a
 * forked child writes the live data from its copy-on-write snapshot as a
 * new base, and once the child has fsynced it the parent switches the
 * manifest atomically and deletes the retired files. The loop never
 * blocks on it; a crash at any moment leaves a data dir that loads with
 * every acknowledged write. Triggers: BGREWRITEAOF / COMPACT, and growth
 * past auto-aof-rewrite-percentage once the WAL is auto-aof-rewrite-min-size. */
#ifndef KVD_COMPACT_H
#define KVD_COMPACT_H

#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct wal;

typedef struct compact_state {
    pid_t child;              /* the base writer, 0 when none runs */
    int64_t started_ms;
    uint64_t base_num;        /* file number of the base being written */
    uint64_t upto;            /* last seq the new base covers */
    uint64_t first_kept;      /* first segment kept after the switch */
    int last_status;          /* 1 ok, 0 failed, -1 never ran */
    int64_t last_duration_ms;
    int64_t last_cpu_ms;      /* the last child's CPU time (user + system) */
    uint64_t last_base_entries;
    uint64_t ref_bytes;       /* WAL size after the last compaction (or at startup) */
    uint64_t runs, failures;
    uint32_t failures_in_row; /* failed starts and runs since the last success */
    int64_t next_auto_ms;     /* no automatic compaction before this (backoff) */
    int cow_fd;               /* read end of the child's copy-on-write reports, -1 if none */
    uint64_t cow_current;     /* the child's private dirty bytes, latest report */
    uint64_t cow_peak;        /* the most it reported in this run */
    uint64_t cow_last;        /* the peak of the last finished run */
    uint64_t entries_total;   /* keys the child's snapshot holds */
    uint64_t entries_done;    /* ... written to the base so far, latest report */
    int64_t progress_log_ms;  /* when the last progress line was logged */
} compact_state;

enum { COMPACT_STARTED = 0, COMPACT_RUNNING = 2, COMPACT_FAILED = -1 };

/* Start a compaction now. Returns COMPACT_STARTED, COMPACT_RUNNING (one is
 * already under way) or COMPACT_FAILED (err says why). */
int compact_start(const char *why, char *err, size_t errlen);

/* Fork a child that writes the keyspace, as of now, as a base to tmp
 * (wal_write_base) and exits 0 when it is fsynced, else non-zero: the
 * compaction's child, shared with replication's full sync. name is its
 * process name, duty the most of a CPU it may use (percent). With
 * cow_rfd, *cow_rfd gets the read end of a pipe of its copy-on-write
 * reports (uint64_t bytes each). Returns the pid, or -1 with err set.
 * Once it is reaped, call compact_writer_ended. */
pid_t compact_fork_writer(const char *tmp, const char *name, int duty, int *cow_rfd, char *err, size_t errlen);
void compact_writer_ended(void);

/* From the server cron: reap a finished child and install its base, or
 * start a compaction because the WAL grew enough. */
void compact_cron(void);

/* The name a compaction child goes by (/proc/PID/comm). */
#define COMPACT_CHILD_NAME "kvd-compact"

/* At startup, once the data directory's lock is held and before the WAL
 * is read: stop a compaction child that an earlier kvd on dir left
 * running, if there is one. (Before the lock it could be the child of a
 * kvd still running there.) */
void compact_stop_stale(const char *dir);

/* The WAL's retire hook (wal_t.retire): unlink the files a new base
 * retired on a worker thread (a file of hundreds of MB takes ~100 ms to
 * unlink, all of it a stall of every client if done on the loop). */
void compact_retire(char **paths, size_t n, const char *dir);

/* At shutdown: stop a running child and remove its temp file. */
void compact_abort(void);

/* INFO persistence fields about compaction, with the WAL's files as w
 * has them. */
void compact_info(buf_t *out, const struct wal *w);

#endif
