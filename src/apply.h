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

typedef struct apply_undo {
    buf_t log;          /* records of the prior state of each key changed, oldest first */
    table_t **taken;    /* tables emptied by a FLUSH, kept for a rollback */
    size_t ntaken, captaken;
    uint64_t records;   /* records in log */
} apply_undo;

void apply_undo_init(apply_undo *u, pool_t *pool);

/* Frees the records (as apply_undo_commit). NULL is a no-op. */
void apply_undo_free(apply_undo *u);

/* Apply e to t. With u, first record in it what e is about to change.
 * Returns the entry of e->key after the change (of the destination for a
 * rename), or NULL when there is none (del, flush, a key that does not
 * exist for expire/persist/rename). e's key and value may point into t
 * (even into the entry being replaced). */
tentry_t *apply_entry(table_t *t, const wal_entry *e, apply_undo *u);

/* For replays (wal_apply_fn, wal_scan's presize): apply an entry to the
 * table ctx without undo; make room in it for about n entries (call
 * table_expand_done once the replay is over). */
int apply_replay(void *table, const wal_entry *e);
void apply_presize(void *table, uint64_t n);

/* The changes recorded so far are in the log for good: forget them. */
void apply_undo_commit(apply_undo *u);

/* Take back every change recorded since the last commit, newest first,
 * leaving t as it was then (keys, values, expiries and access stamps). */
void apply_undo_rollback(apply_undo *u, table_t *t);

#endif
