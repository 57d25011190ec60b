/* resp: the Redis protocol without I/O. A request parser (RESP2 arrays of
 * bulk strings, and inline commands with Redis's quoting) and the encoders
 * for RESP2 replies and requests. The daemon, the client library and the
 * fuzzers all use this module: bytes in, commands or replies out.
 *
 * The request parser never copies arguments: it works on the caller's
 * buffer (inline commands are unquoted in place) and hands back pointers
 * into it. */
#ifndef KVD_RESP_H
#define KVD_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct resp_limits {
    size_t inline_max;       /* longest inline line (Redis: 64 KiB) */
    long long bulk_max;      /* proto-max-bulk-len (Redis: 512 MiB) */
    long long multibulk_max; /* most arguments in one array (Redis: 1024*1024) */
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
 * p->cmd_start): shift the parser's positions to match. */
void resp_parser_consume(resp_parser *p, size_t n);

/* Bytes the parser expects next (a bulk still arriving), to size reads. */
size_t resp_parser_want(const resp_parser *p);

/* ---- reply encoding (RESP2) ---- */

void resp_add_simple(buf_t *b, const char *s);           /* +s\r\n */
void resp_add_error(buf_t *b, const char *msg);          /* -msg\r\n (msg has the code: "ERR ...") */
void resp_add_errorf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_add_int(buf_t *b, long long v);                /* :v\r\n */
void resp_add_bulk(buf_t *b, const void *p, size_t n);   /* $n\r\n...\r\n */
void resp_add_bulk_str(buf_t *b, const char *s);
void resp_add_bulk_ll(buf_t *b, long long v);
void resp_add_nil(buf_t *b);                             /* $-1\r\n */
void resp_add_nil_array(buf_t *b);                       /* *-1\r\n */
void resp_add_array(buf_t *b, long long n);              /* *n\r\n */

/* A request as a RESP array of bulk strings (what clients send). */
void resp_add_command(buf_t *b, int argc, const char *const *argv, const size_t *argvlen);

#endif
