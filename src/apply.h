/* apply: the one place where a WAL entry changes the keyspace. A command
 * (through db.c), the replay at startup and, later, a replica all change
 * the table by handing apply_entry the entry that is (or was) logged, so
 * the table a replay builds is the table the commands built.
 *
 * An entry applies verbatim. In particular an expiry already in the past
 * is stored as given: whether a key is expired is a question of the clock
 * at the moment someone looks, never of when the entry is applied, so the
 * effect of later entries (PERSIST, EXPIRE, RENAME, APPEND on that key)
 * does not depend on when the log is replayed. Expired keys are removed
 * by deletes of their own (lazy and active expiry, or after a load).
 *
 * The undo log makes the changes of one WAL batch reversible: if the
 * batch cannot be written, the table goes back to what the log holds. */
#ifndef KVD_APPLY_H
#define KVD_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pool.h"
#include "table.h"
#include "wal_codec.h"
#include "wal_scan.h"

/* The databases: db[i] is database i (SELECT i), n of them. */
typedef struct keyspace {
    table_t **db;
    uint32_t n;
    uint64_t bad_seq;   /* replay: the first entry naming bad_db (0: none) */
    uint32_t bad_db;    /* ... the highest database past n that entries name */
    uint64_t long_seq;  /* replay: the first append past the longest value (0: none) */
} keyspace;

/* The longest value a key can get (the WAL's limit; the table's length
 * field would hold twice as much). */
#define KEYSPACE_MAX_VALUE ((uint32_t)WAL_OFF_MAX)

/* n empty databases; keyspace_free frees them and their keys. */
void keyspace_init(keyspace *ks, uint32_t n);
void keyspace_free(keyspace *ks);

/* Keys in all databases. */
uint64_t keyspace_count(const keyspace *ks);

/* Bytes the keys of all databases take (table_bytes summed). */
size_t keyspace_bytes(const keyspace *ks);

typedef struct apply_undo {
    buf_t log;          /* records of the prior state of each key changed, oldest first */
    table_t **taken;    /* tables emptied by a FLUSH, kept for a rollback */
    size_t ntaken, captaken;
    uint64_t records;   /* records in log */
} apply_undo;

void apply_undo_init(apply_undo *u, pool_t *pool);

/* Frees the records (as apply_undo_commit). NULL is a no-op. */
void apply_undo_free(apply_undo *u);

/* Apply e to database e->db of ks (and e->to for MOVE and SWAPDB; both
 * must be below ks->n, which the caller checked). With u, first record in
 * it what e is about to change. Returns the entry of e->key after the
 * change (of the destination for a rename or move), or NULL when there is
 * none (del, flush, swapdb, a key that does not exist for
 * expire/persist/rename/move). e's key and value may point into a table
 * (even into the entry being replaced). */
tentry_t *apply_entry(keyspace *ks, const wal_entry *e, apply_undo *u);

/* For replays (wal_apply_fn): apply an entry to the keyspace ctx without
 * undo; an entry for a database it does not have is skipped, the highest
 * such database noted in bad_db (with the first entry naming it in
 * bad_seq), and so is an append that would make a
 * value longer than KEYSPACE_MAX_VALUE (no kvd writes one: a damaged or
 * foreign log), noted in long_seq. The caller refuses the load. */
int apply_replay(void *keyspace, const wal_entry *e);
/* The hooks to pass with apply_replay: presizing makes room in database
 * 0 for about n entries (call table_expand_done on each once the replay
 * is over); prefetching warms the buckets of the keys ahead. */
extern const wal_load_hooks apply_hooks;

/* The changes recorded so far are in the log for good: forget them. */
void apply_undo_commit(apply_undo *u);

/* Take back every change recorded since the last commit, newest first,
 * leaving t as it was then (keys, values, expiries and access stamps). */
void apply_undo_rollback(apply_undo *u, keyspace *ks);

#endif
