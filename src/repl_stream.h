/* repl_stream: the replica's side of the replication stream, as an
 * I/O-free parser (feed it the bytes read from the primary, get events
 * out). The stream is: the primary's reply lines to the handshake
 * (+OK, +CONTINUE, +FULLSYNC, -ERR ...), for a full sync a base framed
 * as a bulk string ("$<bytes>\r\n" then the bytes; bare "\n" keepalives
 * may come before the header), then WAL lines exactly as the primary's
 * segments hold them, with bare "\n" keepalives between batches.
 *
 * Every WAL line is checked before anything sees it: its CRC, that its
 * seq is the previous one plus one, and that a group (grp) is whole: a
 * group comes out only once all its lines have arrived, as one event. */
#ifndef KVD_REPL_STREAM_H
#define KVD_REPL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "wal_codec.h"

typedef enum repl_stream_mode {
    RS_MODE_REPLY = 0, /* reply lines of the handshake */
    RS_MODE_BULKHDR,   /* after +FULLSYNC: the base's "$<bytes>" header */
    RS_MODE_BULK,      /* the base's bytes */
    RS_MODE_LINES,     /* WAL lines */
} repl_stream_mode;

typedef enum repl_stream_event {
    RS_MORE = 0,   /* need more bytes (some keepalives may have been consumed) */
    RS_REPLY,      /* a reply line, without its CRLF: out.p, out.len */
    RS_BULK,       /* the base's header: out.bulk bytes follow */
    RS_BULK_DATA,  /* bytes of the base: out.p, out.len */
    RS_BULK_END,   /* the base is complete; WAL lines follow */
    RS_GROUP,      /* out.lines complete, checked WAL lines (one group, or one line) at out.p, out.len bytes
                    * (each ending in '\n'), seqs out.first..out.last */
    RS_ERROR,      /* the stream is broken: err says how; the parser stays broken */
} repl_stream_event;

typedef struct repl_stream_out {
    const char *p;
    size_t len;
    uint64_t bulk;
    uint32_t lines;
    uint64_t first, last;
} repl_stream_out;

typedef struct repl_stream {
    repl_stream_mode mode;
    uint64_t next_seq;    /* the seq the next WAL line must carry */
    uint64_t bulk_left;   /* RS_MODE_BULK: bytes of the base still to come */
    int broken;
    /* A group still arriving: bytes of it checked so far (from its first
     * line), its lines checked, the lines it has (0: none pending). Each
     * line is checked once however the group arrives in pieces. */
    size_t g_off;
    uint32_t g_got, g_want;
    uint64_t lines_checked; /* lines decoded and CRC-checked, ever */
    wal_decoder dec;
    char err[200];
} repl_stream;

void repl_stream_init(repl_stream *s, pool_t *pool);
void repl_stream_free(repl_stream *s);

/* What comes next: reply lines (the handshake), a base then lines from
 * seq next_seq (after +FULLSYNC <id> <upto>: next_seq = upto + 1), or
 * lines from next_seq (after +CONTINUE). */
void repl_stream_expect(repl_stream *s, repl_stream_mode mode, uint64_t next_seq);

/* Look at the len bytes at data (what has been read and not yet
 * consumed) for the next event. *used gets how many bytes it consumed:
 * the caller drops them once it is done with out (which points into
 * data). Returns the event. */
repl_stream_event repl_stream_next(repl_stream *s, const char *data, size_t len, size_t *used,
                                   repl_stream_out *out);

#endif
