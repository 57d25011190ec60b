/* codec: UTF-8 check, JSON escaping, base64 and hex for the WAL. */
#include "config.h"
#include "codec.h"

#include <string.h>

int codec_text_ok(const void *buf, size_t n)
{
    const unsigned char *p = buf, *end = p + n;
    while (p < end) {
        /* Fast path: eight ASCII bytes with no NUL. */
        if (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t high = w & 0x8080808080808080ULL;
            uint64_t zero = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
            if ((high | zero) == 0) {
                p += 8;
                continue;
            }
        }
        unsigned c = *p;
        if (c < 0x80) {
            if (c == 0)
                return 0;
            p++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= need)
            return 0;
        for (size_t i = 1; i <= need; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += need + 1;
    }
    return 1;
}

static const char hexdig[] = "0123456789abcdef";

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

size_t codec_json_plain_prefix(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    size_t i = 0;
    /* Eight bytes at a time: flag any byte < 0x20, == '"' or == '\\'. */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
        uint64_t hit = ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b);
        if (hit & HIGHS)
            break;
    }
    for (; i < n; i++) {
        unsigned char c = p[i];
        if (c < 0x20 || c == '"' || c == '\\')
            break;
    }
    return i;
}

size_t codec_json_escape(char *dst, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    char *d = dst;
    for (size_t i = 0; i < n; i++) {
        size_t run = codec_json_plain_prefix(p + i, n - i);
        memcpy(d, p + i, run);
        d += run;
        i += run;
        if (i == n)
            break;
        unsigned char c = p[i];
        *d++ = '\\';
        switch (c) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\n': *d++ = 'n'; break;
        case '\r': *d++ = 'r'; break;
        case '\t': *d++ = 't'; break;
        case '\b': *d++ = 'b'; break;
        case '\f': *d++ = 'f'; break;
        default:
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hexdig[c >> 4];
            *d++ = hexdig[c & 15];
        }
    }
    return (size_t)(d - dst);
}

size_t codec_json_escaped_len(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    size_t out = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        switch (c) {
        case '"': case '\\': case '\n': case '\r': case '\t': case '\b': case '\f': out += 1; break;
        default: out += 5;
        }
    }
    return out;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t codec_b64_encode(char *dst, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    char *d = dst;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *d++ = b64chars[v >> 18];
        *d++ = b64chars[(v >> 12) & 63];
        *d++ = b64chars[(v >> 6) & 63];
        *d++ = b64chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *d++ = b64chars[v >> 18];
        *d++ = b64chars[(v >> 12) & 63];
        *d++ = '=';
        *d++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *d++ = b64chars[v >> 18];
        *d++ = b64chars[(v >> 12) & 63];
        *d++ = b64chars[(v >> 6) & 63];
        *d++ = '=';
    }
    return (size_t)(d - dst);
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long codec_b64_decode(void *dst, const char *src, size_t n)
{
    if (n % 4)
        return -1;
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int a = b64val((unsigned char)src[i]), b = b64val((unsigned char)src[i + 1]);
        if (a < 0 || b < 0)
            return -1;
        if (last && src[i + 2] == '=') {
            if (src[i + 3] != '=' || (b & 15))
                return -1;
            *d++ = (unsigned char)(a << 2 | b >> 4);
            break;
        }
        int c = b64val((unsigned char)src[i + 2]);
        if (c < 0)
            return -1;
        if (last && src[i + 3] == '=') {
            if (c & 3)
                return -1;
            *d++ = (unsigned char)(a << 2 | b >> 4);
            *d++ = (unsigned char)(b << 4 | c >> 2);
            break;
        }
        int e = b64val((unsigned char)src[i + 3]);
        if (e < 0)
            return -1;
        *d++ = (unsigned char)(a << 2 | b >> 4);
        *d++ = (unsigned char)(b << 4 | c >> 2);
        *d++ = (unsigned char)(c << 6 | e);
    }
    return (long)(d - (unsigned char *)dst);
}

void codec_hex32(char *dst, uint32_t v)
{
    for (int i = 7; i >= 0; i--) {
        dst[i] = hexdig[v & 15];
        v >>= 4;
    }
}

int codec_parse_hex32(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1; /* lowercase only: one spelling per value */
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}
