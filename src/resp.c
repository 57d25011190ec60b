/* resp: the request parser, the request encoder, and the reply scanner and
 * builder (the reply encoders the daemon uses are in respbuf.c). */
#include "config.h"
#include "resp.h"
#include "args.h"
#include "num.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
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

/* Grow the argument arrays to hold n. Returns 0, or -1 out of memory. */
static int reserve_args(resp_parser *p, long long n)
{
    if (n <= p->argcap)
        return 0;
    int cap = p->argcap ? p->argcap : 8;
    while (cap < n)
        cap *= 2;
    size_t *off = realloc(p->argoff, (size_t)cap * sizeof(size_t));
    if (off)
        p->argoff = off;
    size_t *len = realloc(p->arglen, (size_t)cap * sizeof(size_t));
    if (len)
        p->arglen = len;
    char **argv = realloc(p->argv, (size_t)cap * sizeof(char *));
    if (argv)
        p->argv = argv;
    if (!off || !len || !argv)
        return -1;
    p->argcap = cap;
    return 0;
}

/* Argument arrays bigger than this are freed between commands, so that
 * one request of many arguments does not pin memory for the connection's
 * lifetime. */
#define ARGS_KEEP 64

void resp_parser_consume(resp_parser *p, size_t n)
{
    p->pos -= n;
    p->cmd_start -= n;
    if (p->left == 0 && p->argcap > ARGS_KEEP)
        resp_parser_free(p);
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

static int oom(resp_parser *p)
{
    p->err = "out of memory";
    return RESP_OOM;
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
    if (reserve_args(p, words + 1) < 0)
        return oom(p);
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
    if (p->argcap == 0 && reserve_args(p, 8) < 0)
        return oom(p);
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
        if (parse_len(s + 1, nl, &n) < 0)
            return fail(p, "invalid multibulk length");
        if (n > p->lim.multibulk_max)
            return fail(p, p->lim.unauthenticated ? "unauthenticated multibulk length" : "invalid multibulk length");
        p->pos = (size_t)(nl - buf) + 2;
        if (n <= 0) {
            /* "*0" and "*-1" are empty commands: skip them. */
            p->cmd_start = p->pos;
            *argc = 0;
            return RESP_CMD;
        }
        if (reserve_args(p, n < 1024 ? n : 1024) < 0)
            return oom(p);
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
            if (parse_len(s + 1, nl, &bl) < 0 || bl < 0)
                return fail(p, "invalid bulk length");
            if (bl > p->lim.bulk_max)
                return fail(p, p->lim.unauthenticated ? "unauthenticated bulk length" : "invalid bulk length");
            p->bulklen = bl;
            p->pos = (size_t)(nl - buf) + 2;
        }
        if (len - p->pos < (size_t)p->bulklen + 2)
            return RESP_MORE;
        if (p->argc == p->argcap && reserve_args(p, (long long)p->argcap * 2) < 0)
            return oom(p);
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


/* ---- requests, written into caller memory ---- */

static size_t ull_digits(unsigned long long v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static size_t argsize(const char *const *argv, const size_t *argvlen, int i)
{
    return argvlen ? argvlen[i] : strlen(argv[i]);
}

size_t resp_command_size(int argc, const char *const *argv, const size_t *argvlen)
{
    size_t n = 1 + ull_digits((unsigned long long)argc) + 2;
    for (int i = 0; i < argc; i++) {
        size_t l = argsize(argv, argvlen, i);
        n += 1 + ull_digits(l) + 2 + l + 2;
    }
    return n;
}

static char *put_header(char *d, char type, unsigned long long v)
{
    *d++ = type;
    d += kvd_ull_to_str(d, v);
    *d++ = '\r';
    *d++ = '\n';
    return d;
}

char *resp_write_command(char *dst, int argc, const char *const *argv, const size_t *argvlen)
{
    char *d = put_header(dst, '*', (unsigned long long)argc);
    for (int i = 0; i < argc; i++) {
        size_t l = argsize(argv, argvlen, i);
        d = put_header(d, '$', l);
        memcpy(d, argv[i], l);
        d += l;
        *d++ = '\r';
        *d++ = '\n';
    }
    return d;
}

/* ---- replies: framing scan, then build ---- */

void resp_scan_init(resp_scan *s, long long bulk_max, long long array_max)
{
    memset(s, 0, sizeof(*s));
    s->bulk_max = bulk_max > 0 ? bulk_max : RESP_BULK_MAX_DEFAULT;
    s->array_max = array_max > 0 ? array_max : (1LL << 32);
}

static int valid_bignum(const char *p, size_t n)
{
    size_t i = n && (p[0] == '-' || p[0] == '+');
    if (i >= n)
        return 0;
    for (; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int valid_double(const char *p, size_t n)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (!strcmp(tmp, "inf") || !strcmp(tmp, "-inf") || !strcmp(tmp, "nan") || !strcmp(tmp, "-nan"))
        return 1;
    char *end;
    strtod(tmp, &end);
    return end == tmp + n && !isspace((unsigned char)tmp[0]);
}

/* The line starting at p (up to "\r\n"): its end, or NULL if incomplete. */
static const char *line_end(const char *p, const char *end)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    if (!cr || cr + 1 >= end)
        return NULL;
    return cr;
}

long long resp_scan_reply(resp_scan *s, const char *buf, size_t len)
{
    const char *end = buf + len;
    for (;;) {
        const char *p = buf + s->pos;
        if (p >= end)
            return 0;
        const char *cr = line_end(p, end);
        if (!cr) {
            if ((size_t)(end - p) > RESP_INLINE_MAX_DEFAULT) {
                s->err = "reply line too long";
                return -1;
            }
            return 0;
        }
        if (cr[1] != '\n') {
            s->err = "reply line not ended by CRLF";
            return -1;
        }
        long long v = 0;
        size_t next = (size_t)(cr + 2 - buf);
        switch (*p) {
        case '+':
        case '-':
            break;
        case ',': /* RESP3 double: a number, inf, -inf or nan */
            if (!valid_double(p + 1, (size_t)(cr - p - 1))) {
                s->err = "bad double reply";
                return -1;
            }
            break;
        case '(': /* RESP3 big number: [-]digits */
            if (!valid_bignum(p + 1, (size_t)(cr - p - 1))) {
                s->err = "bad big number reply";
                return -1;
            }
            break;
        case '_': /* RESP3 null */
            if (cr != p + 1) {
                s->err = "bad null reply";
                return -1;
            }
            break;
        case '#': /* RESP3 boolean */
            if (cr != p + 2 || (p[1] != 't' && p[1] != 'f')) {
                s->err = "bad boolean reply";
                return -1;
            }
            break;
        case ':':
            if (kvd_str_to_ll(p + 1, (size_t)(cr - p - 1), &v) < 0) {
                s->err = "bad integer reply";
                return -1;
            }
            break;
        case '$':
        case '=': /* RESP3 verbatim string: "txt:..." */
        case '!': /* RESP3 bulk error */
            if (kvd_str_to_ll(p + 1, (size_t)(cr - p - 1), &v) < 0 || v < (*p == '$' ? -1 : *p == '=' ? 4 : 0) ||
                v > s->bulk_max) {
                s->err = "bad bulk length in reply";
                return -1;
            }
            if (v >= 0) {
                if (len - next < (size_t)v + 2)
                    return 0; /* the payload is not all here: rescan this header later */
                if (*p == '=' && buf[next + 3] != ':') {
                    s->err = "bad verbatim string reply";
                    return -1;
                }
                if (buf[next + (size_t)v] != '\r' || buf[next + (size_t)v + 1] != '\n') {
                    s->err = "bulk reply not ended by CRLF";
                    return -1;
                }
                next += (size_t)v + 2;
            }
            break;
        case '*':
        case '%': /* RESP3 map: n pairs */
        case '~': /* RESP3 set */
        case '>': /* RESP3 push */
            if (kvd_str_to_ll(p + 1, (size_t)(cr - p - 1), &v) < 0 || v < (*p == '*' ? -1 : 0) ||
                v > s->array_max / (*p == '%' ? 2 : 1)) {
                s->err = "bad array length in reply";
                return -1;
            }
            if (*p == '%')
                v *= 2;
            if (v > 0) {
                if (s->depth == RESP_MAX_DEPTH) {
                    s->err = "reply nested too deeply";
                    return -1;
                }
                s->left[s->depth++] = v;
                s->pos = next;
                continue; /* an array is complete only once its elements are */
            }
            break;
        case '|':
            s->err = "RESP3 attribute replies are not supported";
            return -1;
        default:
            s->err = "unknown reply type";
            return -1;
        }
        s->pos = next;
        /* One element is complete: close the arrays it completes. */
        while (s->depth > 0 && --s->left[s->depth - 1] == 0)
            s->depth--;
        if (s->depth == 0) {
            long long n = (long long)s->pos;
            s->pos = 0;
            return n;
        }
    }
}

/* Build the reply at *pp (known to be complete). NULL when out of memory. */
static void *build(const resp_reply_fns *f, void *ctx, const char **pp, const char *end, int *oom)
{
    const char *p = *pp;
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    long long v = 0;
    void *obj = NULL;
    switch (*p) {
    case '+':
    case '-':
    case ',':
    case '(':
    case '#':
        obj = f->string(ctx, *p, p + 1, (size_t)(cr - p - 1));
        *pp = cr + 2;
        break;
    case '_':
        obj = f->nil(ctx, '_');
        *pp = cr + 2;
        break;
    case ':':
        kvd_str_to_ll(p + 1, (size_t)(cr - p - 1), &v);
        obj = f->integer(ctx, v);
        *pp = cr + 2;
        break;
    case '$':
    case '=':
    case '!':
        kvd_str_to_ll(p + 1, (size_t)(cr - p - 1), &v);
        if (v < 0) {
            obj = f->nil(ctx, '$');
            *pp = cr + 2;
        } else {
            obj = f->string(ctx, *p, cr + 2, (size_t)v);
            *pp = cr + 2 + v + 2;
        }
        break;
    default: /* '*', '%', '~', '>' */
        kvd_str_to_ll(p + 1, (size_t)(cr - p - 1), &v);
        *pp = cr + 2;
        if (v < 0) {
            obj = f->nil(ctx, '*');
            break;
        }
        if (*p == '%')
            v *= 2;
        obj = f->array(ctx, *p, (size_t)v);
        if (!obj) {
            *oom = 1;
            return NULL;
        }
        for (long long i = 0; i < v; i++) {
            void *e = build(f, ctx, pp, end, oom);
            if (!e) {
                f->free(ctx, obj);
                return NULL;
            }
            f->set(ctx, obj, (size_t)i, e);
        }
        return obj;
    }
    if (!obj)
        *oom = 1;
    return obj;
}

int resp_build_reply(const resp_reply_fns *f, void *ctx, const char *buf, size_t len, void **out)
{
    /* resp_scan_reply already proved buf[0..len) is one whole reply. */
    const char *p = buf;
    int oom = 0;
    *out = build(f, ctx, &p, buf + len, &oom);
    return *out ? 0 : RESP_OOM;
}
