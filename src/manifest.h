/* manifest: which files make up the WAL. The data directory holds a base
 * (every key in memory at some point, as JSON lines) and incremental segments
 * written after it; the manifest names them in replay order. It is
 * replaced atomically (temp file, fsync, rename, directory fsync), so a
 * crash at any moment leaves either the old or the new list.
 *
 * File format (text, checksummed):
 *     kvd-manifest 1
 *     base 2 15000 812345 base number, the last WAL seq it covers, its size
 *     incr 3              incremental segments, oldest first
 *     incr 4
 *     crc 1a2b3c4d        CRC-32C of every byte before this line */
#ifndef KVD_MANIFEST_H
#define KVD_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_NAME "kvd.manifest"
/* What a manifest starts with (then its version). */
#define MANIFEST_MAGIC "kvd-manifest "

typedef struct manifest {
    uint64_t base;       /* base file number, 0 when there is none */
    uint64_t base_upto;  /* the last WAL seq the base reflects */
    uint64_t base_bytes; /* the base's size, so a cut is seen (0: not recorded) */
    uint64_t *incr;      /* segment numbers, replay order */
    size_t nincr, capincr;
} manifest;

void manifest_init(manifest *m);
void manifest_free(manifest *m);

/* Append segment number n. Returns 0, or -1 out of memory. */
int manifest_add_incr(manifest *m, uint64_t n);

/* The highest file number in use (base or segment). */
uint64_t manifest_max_number(const manifest *m);

/* File names for numbers: "kvd.base.N.jsonl", "kvd.incr.N.jsonl". */
void manifest_base_name(char *dst, size_t n, uint64_t num);
void manifest_incr_name(char *dst, size_t n, uint64_t num);

/* Read dir's manifest. Returns 0, 1 if there is none, or -1 with a
 * message in err when it exists but is not a valid manifest. */
int manifest_load(const char *dir, manifest *m, char *err, size_t errlen);

/* Parse manifest text (for tests and the fuzzer). Same returns, minus 1. */
int manifest_parse(const char *text, size_t len, manifest *m, char *err, size_t errlen);

/* Write m as dir's manifest atomically: temp file, fsync, rename,
 * directory fsync. Returns 0 or -errno (err says what failed). *renamed
 * (if not NULL) says whether the rename happened: after a failure with
 * *renamed set, either manifest may be the one a restart finds, so the
 * caller must keep every file either one names. */
int manifest_store(const char *dir, const manifest *m, int *renamed, char *err, size_t errlen);

#endif
