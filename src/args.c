/* args: in-place argument splitting with Redis's quoting rules. */
#include "config.h"
#include "args.h"

#include <stdlib.h>

static inline int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int args_split(char *line, size_t len, char **argv, size_t *argvlen, int max)
{
    char *p = line, *end = line + len;
    int argc = 0;
    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            return argc;
        if (argc == max)
            return ARGS_ERR_TOOMANY;
        char *out = p, *start = p;
        int inq = 0, insq = 0;
        for (;;) {
            if (inq) {
                if (p == end)
                    return ARGS_ERR_QUOTES;
                if (*p == '\\' && end - p >= 4 && p[1] == 'x' && hexval(p[2]) >= 0 &&
                    hexval(p[3]) >= 0) {
                    *out++ = (char)(hexval(p[2]) * 16 + hexval(p[3]));
                    p += 4;
                } else if (*p == '\\' && end - p >= 2) {
                    char c;
                    switch (p[1]) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = p[1]; break;
                    }
                    *out++ = c;
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    if (p < end && !is_space(*p))
                        return ARGS_ERR_QUOTES;
                    break;
                } else {
                    *out++ = *p++;
                }
            } else if (insq) {
                if (p == end)
                    return ARGS_ERR_QUOTES;
                if (*p == '\\' && end - p >= 2 && p[1] == '\'') {
                    *out++ = '\'';
                    p += 2;
                } else if (*p == '\'') {
                    p++;
                    if (p < end && !is_space(*p))
                        return ARGS_ERR_QUOTES;
                    break;
                } else {
                    *out++ = *p++;
                }
            } else {
                if (p == end || is_space(*p))
                    break;
                if (*p == '"') {
                    inq = 1;
                    p++;
                } else if (*p == '\'') {
                    insq = 1;
                    p++;
                } else {
                    *out++ = *p++;
                }
            }
        }
        argv[argc] = start;
        argvlen[argc] = (size_t)(out - start);
        argc++;
    }
}

size_t args_quote(char *dst, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = p;
    char *o = dst;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\': esc = "\\\\"; break;
        case '"': esc = "\\\""; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\a': esc = "\\a"; break;
        case '\b': esc = "\\b"; break;
        }
        if (esc) {
            *o++ = esc[0];
            *o++ = esc[1];
        } else if (s[i] >= 0x20 && s[i] < 0x7f) {
            *o++ = (char)s[i];
        } else {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[s[i] >> 4];
            *o++ = hex[s[i] & 15];
        }
    }
    *o++ = '"';
    return (size_t)(o - dst);
}

void args_print_quoted(FILE *o, const void *p, size_t n)
{
    char small[256];
    char *q = n <= (sizeof small - 2) / 4 ? small : malloc(4 * n + 2);
    if (!q)
        return;
    fwrite(q, 1, args_quote(q, p, n), o);
    if (q != small)
        free(q);
}
