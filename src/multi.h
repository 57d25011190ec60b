/* multi: transactions (MULTI, EXEC, DISCARD) and optimistic locking
 * (WATCH, UNWATCH), as Redis has them. Between MULTI and EXEC a client's
 * commands are checked and queued; EXEC runs them back to back as one WAL
 * group, so a restart applies all of them or none, and its reply waits
 * for the group like any write's. A watched key changed by anyone (a
 * write, an expiry, an eviction, a flush) makes the next EXEC fail. */
#ifndef KVD_MULTI_H
#define KVD_MULTI_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

struct kvd_cmd;

/* Queue cmd with its arguments (copied) for c's EXEC; replies +QUEUED. */
void multi_queue(client *c, struct kvd_cmd *cmd, int argc, char **argv, size_t *argvlen);

/* A command c sent inside MULTI was refused: EXEC will abort. */
void multi_flag_error(client *c);

/* Drop c's transaction (MULTI ends) and its watches. */
void multi_discard(client *c);

/* c goes away: drop its transaction and its watches. */
void multi_free(client *c);

/* 1 when some client watches some key. */
int multi_watching(void);

/* The watch record of key, or NULL if nobody watches it. Found before a
 * change (the key's bytes may be freed by it), touched after it. */
struct wkey;
struct wkey *multi_find(uint32_t db, const char *key, size_t klen);

/* The watched key changed (commit.c calls this after applying a logged
 * change): its watchers' next EXEC fails. */
void multi_touch(struct wkey *k);

/* Every key of database db is about to go (a flush): watches on keys
 * that exist there fail. */
void multi_touch_all(uint32_t db);

/* Databases a and b are about to trade their keys (SWAPDB): watches on
 * keys whose value changes by it fail, as Redis 7 decides. */
void multi_touch_swap(uint32_t a, uint32_t b);

/* Bytes c's queued commands take (CLIENT LIST's multi-mem). */
size_t multi_memory(const client *c);

/* Commands c has queued, or -1 outside MULTI (CLIENT LIST's multi=). */
int multi_count(const client *c);

/* Queued commands of c's transaction that write or may replicate
 * (PUBLISH): CLIENT PAUSE WRITE holds its EXEC when there is one. */
int multi_queued_writes(const client *c);

#endif
