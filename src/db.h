/* db: the keyspace as commands see it. Wraps the table with expiry (keys
 * past their time are deleted on access) and makes every change through
 * commit_entry (logged, then applied), so memory and log never disagree.
 * Lookups tell the commit module what a command saw, so its reply waits
 * for the changes in flight there. All times are srv.now_ms. */
#ifndef KVD_DB_H
#define KVD_DB_H

#include <stddef.h>
#include <stdint.h>

#include "table.h"

/* Open the WAL in dir and replay it into srv.db (which must exist and be
 * empty), polling the loop as it goes (loading.h). lock is dir's lock if
 * the caller holds it (the WAL takes it over), else -1. Returns 0, or -1 with
 * err set (also when a shutdown stopped the replay: srv.shutting_down).
 * Expired keys are still there: db_drop_expired removes them, logged,
 * once the caller wants. */
int db_open(const char *dir, int lock, char *err, size_t errlen);

/* A load (db_open's replay, a replica's full sync) is over: fit the tables
 * to what it loaded and give the memory it used and freed back. */
void db_loaded(void);
void db_close(void);

/* Delete every key whose expiry has passed (after a load). Returns how many. */
uint64_t db_drop_expired(void);

/* Make database id (below srv.ks.n) the one the db_* functions below work
 * on: srv.db and srv.dbid. Dispatch selects the client's database before
 * each command. */
void db_select(uint32_t id);

/* Set the clock commands and eviction see: srv.now_ms, and the table's
 * LRU clock derived from it. */
void db_set_now(int64_t now_ms);

/* The live entry for key, or NULL. An expired key is deleted (and the
 * delete logged) first. Does not touch hit/miss counters. */
tentry_t *db_lookup(const char *key, size_t klen);

/* db_lookup that leaves the key's LRU stamp alone (OBJECT, MEMORY). */
tentry_t *db_peek(const char *key, size_t klen);

/* db_lookup, counting keyspace_hits / keyspace_misses (read commands). */
tentry_t *db_lookup_read(const char *key, size_t klen);

/* Set key to val with expiry exp (unix ms or TABLE_NO_EXPIRE); logged.
 * Returns the new entry. */
tentry_t *db_set(const char *key, size_t klen, const char *val, size_t vlen, int64_t exp);

/* Replace e's value, keeping its expiry; logged as a set. Returns the
 * entry (it may move). */
tentry_t *db_set_value(tentry_t *e, const char *val, size_t vlen);

/* Append to key's value (creating it without expiry); logged as append.
 * Returns the entry. */
tentry_t *db_append(const char *key, size_t klen, const char *p, size_t n);

/* Write n bytes of p into key's value at off (zero-padded, the key
 * created without expiry if missing); logged as setrange. Returns the
 * entry. */
tentry_t *db_setrange(const char *key, size_t klen, uint64_t off, const char *p, size_t n);

/* Delete key, logged even when it does not exist (a group may count on
 * the line). Returns 1 if it existed. */
int db_delete(const char *key, size_t klen);

/* Delete an entry returned by a lookup; logged. */
void db_delete_entry(tentry_t *e);

/* Give e the expiry exp (TABLE_NO_EXPIRE removes it); logged as expire or
 * persist. An exp at or before now deletes the key instead (logged as a
 * delete) and returns NULL. Otherwise returns the entry (it may move). */
tentry_t *db_set_expire(tentry_t *e, int64_t exp);

/* Move src's value and expiry to dst (replacing it); logged as rename. */
void db_rename(tentry_t *src, const char *dst, size_t dlen);

/* Remove every key of the selected database (FLUSHDB); logged. Returns
 * how many there were. */
uint64_t db_flush(void);

/* Remove every key of every database (FLUSHALL): one logged flush per
 * database that has keys, as one group. Returns how many there were. */
uint64_t db_flush_all(void);

/* Move e (of the selected database) to database to, which must not hold
 * its key (the caller looked it up there); logged as move. Returns the
 * entry in database to. */
tentry_t *db_move(tentry_t *e, uint32_t to);

/* Databases a and b trade their keys (SWAPDB); logged. */
void db_swap(uint32_t a, uint32_t b);

/* The next n changes form one WAL group: after a crash all or none apply. */
void db_group(uint32_t n);

/* A command looked at the whole keyspace (KEYS, SCAN, DBSIZE, ...): its
 * reply waits for every change in flight. */
void db_saw_all(void);

/* Delete up to a time budget of expired keys with expiries (the active
 * expiry cycle). Returns keys deleted. */
uint64_t db_active_expire(int64_t budget_us);

/* Memory that counts against maxmemory: the keyspace and the clients'
 * buffers (as of the last cron). The WAL's batch buffer and the buffer
 * pool's cache do not count, as Redis leaves out its AOF buffers. */
size_t db_evict_used(void);

/* Evict keys by maxmemory-policy until db_evict_used() <= maxmemory, each
 * one logged as a delete and counted in evicted_keys. Spends at most about
 * budget_us (0: no limit); the next command or the cron goes on from
 * there. Returns 0 when under the limit (or no limit, or out of time), -1
 * when over it with nothing left the policy may evict (or the WAL cannot
 * log a delete). */
int db_make_room(int64_t budget_us);

/* 1 when writes are possible (the WAL has no error). */
int db_writable(void);

/* Freeze the keyspace (CLIENT PAUSE) or thaw it. While frozen only
 * commands change it: a key past its expiry reads as missing but stays
 * (nothing is logged for it), the active expiry cycle deletes nothing and
 * eviction evicts nothing (db_make_room returns 0, so nothing is refused
 * with -OOM either). A write that builds on a key's value (APPEND,
 * SETRANGE, SETBIT, BITFIELD) deletes such a stale key first, logged, so
 * that it starts from nothing, as it would had the key been expired. */
void db_freeze(int on);

/* The same for a replica, independently of CLIENT PAUSE: a replica never
 * expires or evicts on its own; its primary's deletes arrive in the
 * stream. */
void db_freeze_replica(int on);

#endif
