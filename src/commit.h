/* commit: the server's promise that no reply shows what a crash could
 * undo. Every change to the keyspace goes through commit_entry: logged to
 * the WAL batch, then applied to the table with the one apply function.
 * A command's reply is held until every change it made, and every change
 * it saw, is acknowledged under the fsync policy: written (everysec, no)
 * or fsynced (always). A read never waits for someone else's fsync unless
 * it looked at a key (or, for whole-keyspace reads, at a keyspace) with a
 * change still in flight.
 *
 * Once per loop iteration the batch is written with one write(); under
 * always one fdatasync runs on a worker thread, and replies are released
 * as their sequence numbers become acknowledged. When a write fails (a
 * full disk), the batch is taken back out of memory (apply's undo log),
 * every reply that depended on it becomes an error, and writes are
 * refused for a second before they are tried again: an error means the
 * write did not happen, and nothing is ever acknowledged that the WAL does
 * not hold. A failed fdatasync is never retried: writes are refused until
 * restart and the clients waiting on it are disconnected (the kernel may
 * or may not have kept their data). */
#ifndef KVD_COMMIT_H
#define KVD_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"
#include "wal.h"

/* Set up (after the WAL is open) and tear down. */
void commit_init(void);
void commit_free(void);

/* Log e (its seq is set) and apply it to the keyspace. Returns the entry
 * apply_entry returns. The caller checked db_writable(). */
tentry_t *commit_entry(wal_entry *e);

/* A replica's commit_entry: line (len bytes, '\n' included) is its
 * primary's encoding of e, checked, whose seq is the WAL's next: it goes
 * into the batch verbatim, and e is applied as commit_entry does. */
tentry_t *commit_replicated(const char *line, size_t len, wal_entry *e);

/* The next n commit_entry calls form one WAL group (all or nothing). */
void commit_group(uint32_t n);

/* A command looked at key / at the whole keyspace: its reply waits for
 * the changes in flight there. */
void commit_saw_key(const char *key, size_t klen);
void commit_saw_all(void);

/* Around each command: commit_begin before it runs, commit_end after,
 * with the offset in c->out where its reply starts. */
void commit_begin(void);
void commit_end(client *c, size_t reply_start);

/* 1 when a write may run: no failed fdatasync, and no failed write in
 * the last second (after that, writes are tried again). */
int commit_writable(void);

/* The sequence number up to which changes are acknowledged. */
uint64_t commit_ack_seq(void);

/* Write the batch now. On failure the batch is taken back (see above) and
 * -errno returned. 0 when there was nothing to write. */
int commit_flush(void);

/* Once per loop iteration: write the batch, start an fdatasync if the
 * policy wants one, release the replies that are now acknowledged and
 * send them. */
void commit_prepare(void);

/* From the server cron: the everysec fdatasync, and writes tried again
 * a while after a failed write. */
void commit_cron(int64_t now);

/* Flush and fdatasync on this thread (shutdown); releases the replies
 * that are then acknowledged. A batch that cannot be written is taken
 * back and what was written before it synced all the same. Returns 0,
 * the write's -errno, or the fdatasync's (now or from before: sticky). */
int commit_sync_now(void);

/* The fsync policy changed (CONFIG SET appendfsync). */
void commit_policy_changed(void);

/* c is going away: forget its holds. */
void commit_forget(client *c);

#endif
