/* repl: replication over the WAL stream. A replica (replica.c) connects
 * to its primary as a client and sends SYNCWAL <replid> <next-seq>; the
 * primary (repl.c) answers +CONTINUE and streams its WAL lines verbatim
 * from that seq (its segment files, then each batch as it is written), or
 * +FULLSYNC and sends a base a forked child wrote, followed by the lines
 * after it. The replica checks every line (CRC, seq, whole groups), writes
 * it verbatim to its own WAL with the primary's seq, applies it with the
 * one apply function and acknowledges (REPLCONF ACK) what its own fsync
 * policy made durable. Offsets are sequence numbers (WAL entries), not
 * bytes. WAIT counts those acknowledgements.
 *
 * A data directory has a replication id (kvd.replid), kept with the
 * previous one and the seq up to which that one is valid (set when a
 * replica is promoted), as Redis's PSYNC does. */
#ifndef KVD_REPL_H
#define KVD_REPL_H

#include <stdint.h>

#include "buf.h"
#include "server.h"

/* ---- shared (repl.c) ---- */

/* After the WAL is open, before the loop: read or create kvd.replid,
 * hook the WAL writer, freeze the keyspace if cfg.replicaof names a
 * primary. */
void repl_init(void);

/* Once the loop exists: timers, and the connection to the primary. */
int repl_start(void);

/* Shutdown: stop children, close handles. clean: the WAL is flushed
 * and fsynced (the replication id then stays valid across the restart). */
void repl_shutdown(int clean);

/* 1 when this server is a replica (replicaof is set). */
int repl_is_replica(void);

/* A command about to run: NULL when it may, else the error to refuse it
 * with (READONLY, MASTERDOWN, NOREPLICAS). write: it changes the
 * keyspace; data: it reads or writes the keyspace. */
const char *repl_refuse(client *c, int write, int data);

/* c is going away (or resetting): forget its link and its WAIT. */
void repl_forget(client *c);

/* commit.c: the acknowledged seq may have moved (a replica tells its
 * primary). Cheap when nothing changed. */
void repl_acked(uint64_t seq);

/* compact.c: a compaction is about to delete the segments numbered below
 * first_kept: keep open those a replica link still has to read. */
void repl_hold_segments(uint64_t first_kept);

/* 1 if a replica link has path open (a segment it still reads): its
 * content must stay as it is until the link closes it. */
int repl_file_in_use(const char *path);

/* INFO replication, and the 'S' flag of CLIENT LIST. */
void repl_info(buf_t *out);
int repl_is_link(const client *c);

/* CLIENT KILL TYPE replica / master: close the links. Returns how many. */
int repl_kill_replicas(void);

/* The replication ids (repl.c) for the replica side. */
const char *repl_id(void);
void repl_set_ids(const char *id, const char *id2, uint64_t second);
void repl_new_id_on_promotion(void);
void repl_drop_sub_replicas(const char *why);

/* ---- the replica side (replica.c) ---- */
void replica_connect_to(const char *host, int port);
void replica_stop(void);
void replica_cron(int64_t now);
int replica_link_up(void);
void replica_info(buf_t *out);
void replica_role(client *c);
int replica_kill_link(void);
/* The link to the primary in CLIENT LIST: its client id (0: no link) and
 * its line (flags=M). */
uint64_t replica_link_id(void);
void replica_describe(buf_t *out);
void replica_acked(uint64_t seq);
void replica_shutdown(void);

/* commands */
void cmd_syncwal(client *c, int argc, char **argv, size_t *argvlen);
void cmd_replconf(client *c, int argc, char **argv, size_t *argvlen);
void cmd_wait(client *c, int argc, char **argv, size_t *argvlen);
void cmd_replicaof(client *c, int argc, char **argv, size_t *argvlen);
void cmd_role(client *c, int argc, char **argv, size_t *argvlen);

#endif
