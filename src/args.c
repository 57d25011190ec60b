/* args: in-place argument splitting with Redis's quoting rules. */
#include "config.h"
#include "args.h"

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

void args_print_quoted(FILE *o, const void *p, size_t n)
{
    const unsigned char *s = p;
    fputc('"', o);
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '\\': fputs("\\\\", o); break;
        case '"': fputs("\\\"", o); break;
        case '\n': fputs("\\n", o); break;
        case '\r': fputs("\\r", o); break;
        case '\t': fputs("\\t", o); break;
        case '\a': fputs("\\a", o); break;
        case '\b': fputs("\\b", o); break;
        default:
            if (s[i] >= 0x20 && s[i] < 0x7f)
                fputc(s[i], o);
            else
                fprintf(o, "\\x%02x", s[i]);
        }
    }
    fputc('"', o);
}
