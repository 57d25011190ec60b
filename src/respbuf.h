/* respbuf: RESP2 encoders that append to a pooled buf: the replies the
 * daemon sends and requests that tools build. Part of the resp module on
 * the daemon's side (the client library writes requests with
 * resp_write_command into its own buffer instead). */
#ifndef KVD_RESPBUF_H
#define KVD_RESPBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "buf.h"
#include "resp.h"

void resp_add_simple(buf_t *b, const char *s);           /* +s\r\n */
void resp_add_error(buf_t *b, const char *msg);          /* -msg\r\n (msg has the code: "ERR ...") */
/* -<fmt formatted>\r\n, cut at 511 bytes (reply_errorf in the daemon). */
void resp_add_verrorf(buf_t *b, const char *fmt, va_list ap);
void resp_add_int(buf_t *b, long long v);                /* :v\r\n */
void resp_add_bulk(buf_t *b, const void *p, size_t n);   /* $n\r\n...\r\n */
void resp_add_bulk_str(buf_t *b, const char *s);
void resp_add_bulk_ll(buf_t *b, long long v);
void resp_add_nil(buf_t *b);                             /* $-1\r\n */
void resp_add_nil_array(buf_t *b);                       /* *-1\r\n */
void resp_add_array(buf_t *b, long long n);              /* *n\r\n */
void resp_add_header(buf_t *b, char type, long long n);  /* typen\r\n: RESP3's %n (map), ~n (set), =n (verbatim) */

/* A request as a RESP array of bulk strings (what clients send). */
void resp_add_command(buf_t *b, int argc, const char *const *argv, const size_t *argvlen);

#endif
