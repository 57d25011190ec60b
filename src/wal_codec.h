/* wal_codec: one WAL entry <-> one line of JSON. Pure functions: no files,
 * no table. The encoder writes the canonical form (fields in a fixed
 * order, no spaces) with its CRC-32C; the decoder checks the CRC and reads
 * the canonical form with a strict scanner, anything else with cJSON.
 * docs/WAL.md is the format reference. */
#ifndef KVD_WAL_CODEC_H
#define KVD_WAL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pool.h"

typedef enum wal_op {
    WAL_OP_SET = 1, /* key := val, with exp if present */
    WAL_OP_DEL,     /* remove key */
    WAL_OP_EXPIRE,  /* key's expiry := exp (absolute unix ms) */
    WAL_OP_PERSIST, /* key loses its expiry */
    WAL_OP_FLUSH,   /* remove every key */
    WAL_OP_RENAME,  /* key moves to dst (val field), replacing dst */
    WAL_OP_APPEND,  /* val is appended to key's value (created if missing) */
    WAL_OP_SETRANGE, /* val overwrites key's value from byte off (zero-padded; created if missing) */
    WAL_OP_MOVE,    /* key moves from database db to database to (which must not hold it) */
    WAL_OP_SWAPDB,  /* databases db and to trade their keys */
    WAL_OP_MAX
} wal_op;

/* No expiry (the table's TABLE_NO_EXPIRE). */
#define WAL_NO_EXPIRE (-1)

/* exp below this is written as a JSON number, from it on as a string of
 * digits: JSON readers (jq among them) hold numbers as doubles, exact
 * only below 2^53, and an expiry must come back exactly. */
#define WAL_EXP_NUMBER_MAX 9007199254740992LL

/* The longest value, and so the largest SETRANGE offset plus length:
 * 2 GiB - 1, proto-max-bulk-len's largest setting, which every command
 * that makes or grows a value obeys. */
#define WAL_OFF_MAX 0x7fffffffULL

/* Database numbers are below this. */
#define WAL_DB_MAX 0x7fffffffU

/* What a loader's prefetch hook (wal_load_hooks) worked out about an
 * entry's key while hinting, kept with the entry for its apply to use:
 * h, a hash the loader computed for the table `of` (NULL: nothing yet). */
typedef struct wal_memo {
    uint64_t h;
    const void *of;
} wal_memo;

/* One decoded line. Pointers stay valid until the next decode. */
typedef struct wal_entry {
    uint64_t seq;
    wal_op op;
    uint32_t grp;     /* lines in the group this line opens (1: no group) */
    uint32_t db;      /* the database the line is about ("db", omitted for 0) */
    uint32_t to;      /* MOVE, SWAPDB: the other database */
    const char *key;
    size_t klen;
    const char *val;  /* value for SET, APPEND and SETRANGE, destination key for RENAME */
    size_t vlen;
    uint64_t off;     /* SETRANGE: where val goes */
    int64_t exp;      /* absolute unix ms (0..INT64_MAX), or WAL_NO_EXPIRE */
    wal_memo memo;    /* zero as decoded; see wal_memo */
} wal_entry;

/* Name of an op as written in the file ("set", "del", ...), "?" if none. */
const char *wal_op_name(wal_op op);

/* Append one complete line (with '\n') for the entry to out. e->grp > 1
 * marks the first line of a group of that many lines. Allocates nothing
 * beyond growing out. Returns the bytes appended. */
size_t wal_encode(buf_t *out, const wal_entry *e);

typedef struct wal_decoder {
    buf_t scratch;     /* unescaped and base64-decoded bytes of the current line */
    buf_t arena;       /* cJSON's nodes and strings for the current line */
    void *json;        /* cJSON tree of the current line */
    int cjson_only;    /* skip the canonical-form fast path (tests) */
} wal_decoder;

void wal_decoder_init(wal_decoder *d, pool_t *pool);
void wal_decoder_free(wal_decoder *d);

/* Check and decode one line (without its '\n'). Returns 0 and fills e, or
 * -1 with a reason in why (e.g. "checksum mismatch"; why may be NULL). */
int wal_decode_line(wal_decoder *d, const char *line, size_t len, wal_entry *e, char *why, size_t whylen);

/* Read what a damaged line says it is about, ignoring its checksum (for
 * reports of what was lost): 0 with e's op and key filled (pointers into
 * the decoder, valid until its next use), or -1 if the line is not even
 * JSON with an op and a key. */
int wal_decode_unchecked(wal_decoder *d, const char *line, size_t len, wal_entry *e);

#endif
