/* respbuf: RESP2 replies and requests appended to a pooled buf (the
 * daemon's and tools' side of the resp module). */
#include "config.h"
#include "respbuf.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static inline void add_line_ll(buf_t *b, char type, long long v)
{
    buf_reserve(b, 24);
    char *d = b->data + b->len;
    d[0] = type;
    size_t n = kvd_ll_to_str(d + 1, v);
    d[n + 1] = '\r';
    d[n + 2] = '\n';
    b->len += n + 3;
}

void resp_add_simple(buf_t *b, const char *s)
{
    size_t n = strlen(s);
    buf_reserve(b, n + 3);
    b->data[b->len++] = '+';
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void resp_add_error(buf_t *b, const char *msg)
{
    /* An error is one line: newlines inside would break the framing. */
    size_t n = strlen(msg);
    buf_reserve(b, n + 3);
    b->data[b->len++] = '-';
    for (size_t i = 0; i < n; i++) {
        char c = msg[i];
        b->data[b->len++] = (c == '\r' || c == '\n') ? ' ' : c;
    }
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void resp_add_verrorf(buf_t *b, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    resp_add_error(b, msg);
}

void resp_add_int(buf_t *b, long long v)
{
    add_line_ll(b, ':', v);
}

void resp_add_bulk(buf_t *b, const void *p, size_t n)
{
    add_line_ll(b, '$', (long long)n);
    buf_reserve(b, n + 2);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void resp_add_bulk_str(buf_t *b, const char *s)
{
    resp_add_bulk(b, s, strlen(s));
}

void resp_add_bulk_ll(buf_t *b, long long v)
{
    char tmp[24];
    size_t n = kvd_ll_to_str(tmp, v);
    resp_add_bulk(b, tmp, n);
}

void resp_add_nil(buf_t *b)
{
    buf_append(b, "$-1\r\n", 5);
}

void resp_add_nil_array(buf_t *b)
{
    buf_append(b, "*-1\r\n", 5);
}

void resp_add_array(buf_t *b, long long n)
{
    add_line_ll(b, '*', n);
}

void resp_add_header(buf_t *b, char type, long long n)
{
    add_line_ll(b, type, n);
}

void resp_add_command(buf_t *b, int argc, const char *const *argv, const size_t *argvlen)
{
    size_t n = resp_command_size(argc, argv, argvlen);
    buf_reserve(b, n);
    resp_write_command(b->data + b->len, argc, argv, argvlen);
    b->len += n;
}
