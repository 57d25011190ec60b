/* harness: the daemon without its loop, for the tests that explore on
 * their own (tests/check_replay.c, tests/fuzz/fuzz_commands.c). It sets
 * srv up as kvd.c does on a data dir, runs commands through the real
 * command table (cmd_dispatch) for a fake client, under a clock that only
 * moves when told, and performs what the loop and the operator would do
 * between commands: write the batch, compact (a real forked compaction),
 * restart cleanly or after a kill, fail a write, expire, evict. The
 * check: replaying the WAL directory yields exactly the live table. */
#ifndef KVD_HARNESS_H
#define KVD_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Start a server on dir (created if missing) with the clock at now_ms. */
void h_start(const char *dir, int64_t now_ms);

/* Stop it (a clean shutdown) and free everything. */
void h_stop(void);

/* Run one command for the current client (first sending what the loop
 * would have sent by then); its reply is left in h_reply(). */
void h_cmd(int argc, char **argv, size_t *argvlen);
const buf_t *h_reply(void);

/* Four fake clients: h_use picks the one commands run for (h_client is
 * it, for tests that act on it as conn.c would). h_reply holds
 * its replies not yet sent; the first h_sendable() bytes of them may go
 * out now, the rest wait (h_holds() holds) for the WAL. h_send drops what
 * may go out, as the loop would send it. */
void h_use(int i);
struct client *h_client(void);
size_t h_sendable(void);
int h_holds(void);
void h_send(void);

/* appendfsync always (1) or everysec (0); fdatasync now (as the worker
 * thread would) and release what that acknowledges. */
void h_policy(int always);
/* Bytes of the WAL's prefilled tail now (wal.h). */
uint64_t h_wal_tail(void);
void h_sync(void);

/* Move the clock (ms may be large). */
void h_advance(int64_t ms);

/* What the loop does once per iteration: write the batch (the replies
 * are then acknowledged under everysec). */
void h_flush(void);

/* The next batch write fails (a full disk): its changes are taken back. */
void h_fail_write(void);

/* A compaction, start to end (the child is forked as in the server). */
void h_compact(void);

/* Restart: clean (flush, fsync, close) or as after kill -9 (the batch not
 * yet written is lost), then open again as kvd.c does. */
void h_restart(int clean);

/* The cron's active expiry; an eviction pass down to `keep` keys' worth
 * under a random maxmemory policy (the limit is lifted again after). */
void h_active_expire(void);
void h_evict(int policy);

/* Replay the WAL directory (read-only) into a fresh table and compare it
 * with the live one: same keys, values and expiries. Returns 0, or -1
 * with the first difference in why. Flushes the batch first. */
int h_check(char *why, size_t whylen);

/* A copy of the live table (every entry, expired ones too). */
void *h_snapshot(void);
void h_snapshot_free(void *snap);

/* The live table holds exactly the entries of snap that are not expired
 * at the clock's time now (after a restart). 0, or -1 with why. */
int h_same_as(void *snap, char *why, size_t whylen);

/* Keys in the live table. */
uint64_t h_keys(void);

/* A random command built from a byte source: next() returns the next
 * byte (0..255). Fills argv (pointers into store, which must hold 8 KiB)
 * and returns argc. Covers every write command of kvd (MULTI/EXEC too), the
 * bitmap reads and LCS with edge offsets, and the reads that
 * expire keys lazily, with keys from a small set (some binary), values
 * of every kind, and TTLs past, near, far and huge. */
int h_gen(int (*next)(void *), void *ctx, char **argv, size_t *argvlen, char *store);

#endif
