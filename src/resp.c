/* resp: request parser and RESP2 encoders. */
#include "config.h"
#include "resp.h"
#include "args.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void resp_parser_init(resp_parser *p, const resp_limits *lim)
{
    memset(p, 0, sizeof(*p));
    if (lim) {
        p->lim = *lim;
    } else {
        p->lim.inline_max = RESP_INLINE_MAX_DEFAULT;
        p->lim.bulk_max = RESP_BULK_MAX_DEFAULT;
        p->lim.multibulk_max = RESP_MULTIBULK_MAX_DEFAULT;
    }
    p->bulklen = -1;
}

void resp_parser_free(resp_parser *p)
{
    free(p->argoff);
    free(p->arglen);
    free(p->argv);
    p->argoff = p->arglen = NULL;
    p->argv = NULL;
    p->argcap = 0;
}

static void reserve_args(resp_parser *p, long long n)
{
    if (n <= p->argcap)
        return;
    int cap = p->argcap ? p->argcap : 8;
    while (cap < n)
        cap *= 2;
    p->argoff = xrealloc(p->argoff, (size_t)cap * sizeof(size_t));
    p->arglen = xrealloc(p->arglen, (size_t)cap * sizeof(size_t));
    p->argv = xrealloc(p->argv, (size_t)cap * sizeof(char *));
    p->argcap = cap;
}

void resp_parser_consume(resp_parser *p, size_t n)
{
    p->pos -= n;
    p->cmd_start -= n;
}

size_t resp_parser_want(const resp_parser *p)
{
    if (p->left > 0 && p->bulklen >= 0)
        return (size_t)p->bulklen + 2;
    return 0;
}

static int fail(resp_parser *p, const char *msg)
{
    p->err = msg;
    return RESP_ERR;
}

/* Parse the decimal number between s and e (no sign handling beyond '-'),
 * as Redis does for lengths. Returns 0 or -1. */
static int parse_len(const char *s, const char *e, long long *out)
{
    return kvd_str_to_ll(s, (size_t)(e - s), out);
}

static void finish(resp_parser *p, char *buf, int *argc)
{
    for (int i = 0; i < p->argc; i++)
        p->argv[i] = buf + p->cmd_start + p->argoff[i];
    *argc = p->argc;
    p->argc = 0;
    p->left = 0;
    p->bulklen = -1;
    p->cmd_start = p->pos;
}

static int parse_inline(resp_parser *p, char *buf, size_t len, int *argc)
{
    char *s = buf + p->pos;
    size_t avail = len - p->pos;
    char *nl = memchr(s, '\n', avail);
    if (!nl) {
        if (avail > p->lim.inline_max)
            return fail(p, "too big inline request");
        return RESP_MORE;
    }
    size_t linelen = (size_t)(nl - s);
    if (linelen > p->lim.inline_max)
        return fail(p, "too big inline request");
    size_t end = linelen;
    if (end && s[end - 1] == '\r')
        end--;
    /* Quoting can only merge whitespace-separated words, never split them,
     * so the word count bounds the argument count. */
    long long words = 0;
    int in_word = 0;
    for (size_t i = 0; i < end; i++) {
        int sp = s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
        if (!sp && !in_word)
            words++;
        in_word = !sp;
    }
    reserve_args(p, words + 1);
    int n = args_split(s, end, p->argv, p->arglen, p->argcap);
    if (n < 0)
        return fail(p, "unbalanced quotes in request");
    for (int i = 0; i < n; i++)
        p->argoff[i] = (size_t)(p->argv[i] - (buf + p->cmd_start));
    p->argc = n;
    p->pos += linelen + 1;
    finish(p, buf, argc);
    return RESP_CMD;
}

int resp_parse(resp_parser *p, char *buf, size_t len, int *argc)
{
    if (p->err)
        return RESP_ERR;
    if (p->left == 0) {
        if (p->pos >= len)
            return RESP_MORE;
        p->cmd_start = p->pos;
        if (buf[p->pos] != '*')
            return parse_inline(p, buf, len, argc);
        /* "*<count>\r\n" */
        char *s = buf + p->pos;
        char *nl = memchr(s, '\r', len - p->pos);
        if (!nl) {
            if (len - p->pos > p->lim.inline_max)
                return fail(p, "too big mbulk count string");
            return RESP_MORE;
        }
        if (nl + 1 >= buf + len)
            return RESP_MORE; /* the \n is not here yet */
        long long n;
        if (parse_len(s + 1, nl, &n) < 0 || n > p->lim.multibulk_max)
            return fail(p, "invalid multibulk length");
        p->pos = (size_t)(nl - buf) + 2;
        if (n <= 0) {
            /* "*0" and "*-1" are empty commands: skip them. */
            p->cmd_start = p->pos;
            *argc = 0;
            return RESP_CMD;
        }
        reserve_args(p, n < 1024 ? n : 1024);
        p->left = n;
        p->argc = 0;
        p->bulklen = -1;
    }
    while (p->left > 0) {
        if (p->bulklen < 0) {
            if (p->pos >= len)
                return RESP_MORE;
            char *s = buf + p->pos;
            char *nl = memchr(s, '\r', len - p->pos);
            if (!nl) {
                if (len - p->pos > p->lim.inline_max)
                    return fail(p, "too big bulk count string");
                return RESP_MORE;
            }
            if (nl + 1 >= buf + len)
                return RESP_MORE;
            if (*s != '$') {
                snprintf(p->errbuf, sizeof p->errbuf, "expected '$', got '%c'", *s);
                return fail(p, p->errbuf);
            }
            long long bl;
            if (parse_len(s + 1, nl, &bl) < 0 || bl < 0 || bl > p->lim.bulk_max)
                return fail(p, "invalid bulk length");
            p->bulklen = bl;
            p->pos = (size_t)(nl - buf) + 2;
        }
        if (len - p->pos < (size_t)p->bulklen + 2)
            return RESP_MORE;
        if (p->argc == p->argcap)
            reserve_args(p, (long long)p->argcap * 2);
        p->argoff[p->argc] = p->pos - p->cmd_start;
        p->arglen[p->argc] = (size_t)p->bulklen;
        p->argc++;
        p->pos += (size_t)p->bulklen + 2; /* the payload, then CRLF (not checked, as Redis) */
        p->bulklen = -1;
        p->left--;
    }
    finish(p, buf, argc);
    return RESP_CMD;
}

/* ---- encoders ---- */

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

void resp_add_errorf(buf_t *b, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
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

void resp_add_command(buf_t *b, int argc, const char *const *argv, const size_t *argvlen)
{
    resp_add_array(b, argc);
    for (int i = 0; i < argc; i++)
        resp_add_bulk(b, argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
}
