/* wal_scan: read one WAL file line by line, check every line, its
 * sequence number and its groups, hand each good entry to a callback, and
 * classify what is wrong with the file, if anything. Never modifies the
 * file. The rules (docs/WAL.md, "Recovery at startup"):
 *
 * - Sequence numbers are contiguous: each line carries the previous
 *   line's seq + 1, the first line the seq the caller expects (if it
 *   knows). A well-formed line with another seq is corruption.
 * - A group (grp = N on its first line) is applied only when all N lines
 *   are there; a group cannot start inside another.
 * - A torn tail (WAL_SCAN_TAIL) is what a crash can leave after the last
 *   complete write: an incomplete last line, the lines of an incomplete
 *   group, and at most one damaged line (a block of zeros, say) among
 *   them. Anything more (a good line after a damaged one, two damaged
 *   lines, a sequence gap) is corruption (WAL_SCAN_CORRUPT).
 * - A segment (not a base) may end in a prefilled tail (wal.h): from its
 *   first blank line on, '\n' bytes to the end of the file. That is not
 *   damage (res->filler counts it); a blank line with anything after it
 *   is a torn tail from the blank line on. */
#ifndef KVD_WAL_SCAN_H
#define KVD_WAL_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "wal_codec.h"

/* Called for each entry of a good line, or of a complete group, in order. */
typedef int (*wal_apply_fn)(void *ctx, const wal_entry *e);

/* What a loader may do beside applying entries (either may be NULL):
 * presize: after 1000 lines, an estimate of the file's entries;
 * prefetch: a hint about a key a few lines ahead (in database db), so
 * that the memory its insertion will touch is on its way to the cache:
 * stage 0 about 8 lines ahead, stage 1 about 4 (after stage 0 for the
 * same key). A line whose key cannot be read at a glance gets none.
 * memo, when not NULL, is the memo of the entry the hint is about (the
 * same for both stages), which the hook may fill and apply will see;
 * the threaded scan passes it, the inline one (which hints lines before
 * decoding them) NULL. */
typedef struct wal_load_hooks {
    void (*presize)(void *ctx, uint64_t entries);
    void (*prefetch)(void *ctx, uint32_t db, const char *key, size_t klen, int stage, wal_memo *memo);
} wal_load_hooks;

typedef struct wal_scan_opts {
    uint64_t first_seq; /* the seq the first line must carry (0: any) */
    int base;           /* a base file: ungrouped "set" lines only */
    const wal_load_hooks *hooks; /* may be NULL */
    /* Read and decode on a thread of its own while the calling thread
     * applies (and runs hooks and progress): for a replay, whose two
     * halves then overlap. Same entries, same order, same result. */
    int threaded;
    /* Before each read of the file (about every MB; threaded: after each
     * batch applied, and every 10 ms while none comes; may be NULL): the
     * bytes checked so far and the entries applied. A nonzero return
     * stops the scan, which then returns -ECANCELED. */
    int (*progress)(void *pctx, uint64_t bytes, uint64_t applied);
    void *pctx;
} wal_scan_opts;

#define WAL_SCAN_OK 0
#define WAL_SCAN_TAIL 1    /* ends in a torn tail, from good_bytes on */
#define WAL_SCAN_CORRUPT 2 /* damaged in a way a crash does not leave */

typedef struct wal_scan_result {
    uint64_t lines;        /* good lines read */
    uint64_t applied;      /* entries handed to apply */
    uint64_t ops[WAL_OP_MAX];
    uint64_t first_seq, last_seq; /* of the entries applied (0 if none) */
    uint64_t bytes;        /* bytes in the file */
    uint64_t good_bytes;   /* end of the last good line or complete group */
    uint64_t filler;       /* the prefilled tail: '\n' bytes from the first blank line to the end */
    int status;            /* WAL_SCAN_OK, _TAIL or _CORRUPT */
    uint64_t bad_line;     /* 1-based line number where the damage starts */
    uint64_t bad_offset;   /* its byte offset */
    char bad_reason[200];
    uint64_t elapsed_us;
} wal_scan_result;

/* Read path with opts (NULL: defaults), calling apply (may be NULL) with
 * ctx for the entries before the first damage. Returns 0 (res->status
 * says what was found), -errno if the file could not be read, or
 * -ECANCELED when opts->progress stopped it (res then covers what was
 * read). */
int wal_scan(const char *path, pool_t *pool, const wal_scan_opts *opts, wal_apply_fn apply, void *ctx,
             wal_scan_result *res);

#endif
