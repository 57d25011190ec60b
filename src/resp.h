/* resp: the Redis protocol without I/O. A request parser (RESP2 arrays of
 * bulk strings, and inline commands with Redis's quoting), the request
 * encoder, and a reply scanner and builder. The daemon, the client library
 * and the fuzzers all use this module: bytes in, commands or replies out.
 * (The daemon's reply encoders, on pooled buffers, are respbuf.h.)
 *
 * The request parser never copies arguments: it works on the caller's
 * buffer (inline commands are unquoted in place) and hands back pointers
 * into it. */
#ifndef KVD_RESP_H
#define KVD_RESP_H

#include <stddef.h>
#include <stdint.h>


typedef struct resp_limits {
    size_t inline_max;       /* longest inline line (Redis: 64 KiB) */
    long long bulk_max;      /* proto-max-bulk-len (Redis: 512 MiB) */
    long long multibulk_max; /* most arguments in one array (Redis: 1024*1024) */
    int unauthenticated;     /* errors say "unauthenticated ..." (the limits are the caller's) */
} resp_limits;

#define RESP_INLINE_MAX_DEFAULT (64 * 1024)
#define RESP_BULK_MAX_DEFAULT (512LL * 1024 * 1024)
#define RESP_MULTIBULK_MAX_DEFAULT (1024LL * 1024)

typedef struct resp_parser {
    resp_limits lim;
    size_t pos;          /* where parsing resumes, from the buffer start */
    size_t cmd_start;    /* start of the command being parsed */
    long long left;      /* array elements still to come; 0 between commands */
    long long bulklen;   /* length of the bulk being read, -1 before its $ line */
    int argc;            /* arguments parsed so far */
    int argcap;
    size_t *argoff;      /* argument offsets, from cmd_start */
    size_t *arglen;
    char **argv;         /* filled in when a command completes */
    const char *err;     /* protocol error text, once RESP_ERR was returned */
    char errbuf[64];
} resp_parser;

enum {
    RESP_MORE = 0, /* need more bytes */
    RESP_CMD = 1,  /* a command is ready: argc/argv/arglen */
    RESP_ERR = -1, /* protocol error: p->err says which; close after replying */
    RESP_OOM = -2, /* out of memory */
};

/* Set up p with the given limits (NULL for Redis's defaults). */
void resp_parser_init(resp_parser *p, const resp_limits *lim);
void resp_parser_free(resp_parser *p);

/* Parse from buf[p->pos .. len). On RESP_CMD, *argc, p->argv and
 * p->arglen describe the command (pointers into buf, valid until buf is
 * changed) and p->pos is just past it. An empty inline line yields
 * RESP_CMD with *argc == 0, which the caller skips. */
int resp_parse(resp_parser *p, char *buf, size_t len, int *argc);

/* The caller dropped the first n bytes of its buffer (all before
 * p->cmd_start): shift the parser's positions to match. Between commands
 * it also frees argument arrays grown past 64 entries (the last
 * command's argv is gone then). */
void resp_parser_consume(resp_parser *p, size_t n);

/* Bytes the parser expects next (a bulk still arriving), to size reads. */
size_t resp_parser_want(const resp_parser *p);

/* ---- requests as a client sends them ---- */

/* Bytes resp_write_command needs for this command (a RESP array of bulk
 * strings). argvlen may be NULL for NUL-terminated arguments. */
size_t resp_command_size(int argc, const char *const *argv, const size_t *argvlen);

/* Write the command at dst (resp_command_size bytes); returns the end. */
char *resp_write_command(char *dst, int argc, const char *const *argv, const size_t *argvlen);

/* ---- replies (the client side) ----
 * Two steps. resp_scan_reply finds where a complete reply ends, resuming
 * where it stopped when more bytes arrive (linear in the bytes, however
 * they are split). resp_build_reply then turns those bytes into objects
 * through caller callbacks, so this module does not fix the reply type. */

#define RESP_MAX_DEPTH 32

typedef struct resp_scan {
    size_t pos;                     /* scan position, from the reply's start */
    int depth;                      /* open arrays */
    long long left[RESP_MAX_DEPTH]; /* elements still to come in each */
    long long bulk_max, array_max;  /* limits on lengths announced */
    const char *err;                /* what was wrong, after -1 */
} resp_scan;

/* Limits of 0 select defaults (512 MiB bulk, 2^32 elements). */
void resp_scan_init(resp_scan *s, long long bulk_max, long long array_max);

/* Look for one complete reply at the start of buf[0..len). Returns its
 * length in bytes, 0 if more bytes are needed (call again with the same
 * start and more bytes), or -1 on a protocol violation (s->err). */
long long resp_scan_reply(resp_scan *s, const char *buf, size_t len);

typedef struct resp_reply_fns {
    /* type '+', '-', '$', and RESP3's '=' (verbatim, p starts with
     * "txt:"), '!' (bulk error), ',' (double), '(' (big number), '#'
     * (boolean: "t" or "f") */
    void *(*string)(void *ctx, int type, const char *p, size_t len);
    void *(*integer)(void *ctx, long long v);
    void *(*nil)(void *ctx, int type);                               /* '$', '*' or RESP3's '_' */
    /* type '*', or RESP3's '%' (map: n is twice the pairs, keys and
     * values alternating), '~' (set), '>' (push) */
    void *(*array)(void *ctx, int type, size_t n);
    void (*set)(void *ctx, void *array, size_t i, void *elem);
    void (*free)(void *ctx, void *obj);                              /* frees a partial array */
} resp_reply_fns;

/* Build the reply that resp_scan_reply measured (buf[0..len)). Returns 0
 * with *out set, or RESP_OOM when a callback returned NULL (nothing is
 * leaked). */
int resp_build_reply(const resp_reply_fns *f, void *ctx, const char *buf, size_t len, void **out);

#endif
