/* wal_codec: the JSON-lines encoder and decoder of WAL entries. */
#include "config.h"
#include "wal_codec.h"
#include "codec.h"
#include "crc32c.h"
#include "num.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every line ends with this, 8 hex digits, then "}". */
#define CRC_PREFIX ",\"crc\":\""
#define CRC_PREFIX_LEN 8
#define CRC_SUFFIX_LEN (CRC_PREFIX_LEN + 8 + 2) /* ,"crc":"hhhhhhhh"} */

/* Numbers in the file are JSON numbers, which readers hold as doubles:
 * seq stays below 2^53, and exp is written as a number only below it
 * (WAL_EXP_NUMBER_MAX), as a string of digits from there on. */
#define WAL_MAX_EXACT 9007199254740992.0

static const char *const op_names[WAL_OP_MAX] = {
    [WAL_OP_SET] = "set",       [WAL_OP_DEL] = "del",     [WAL_OP_EXPIRE] = "expire",
    [WAL_OP_PERSIST] = "persist", [WAL_OP_FLUSH] = "flush", [WAL_OP_RENAME] = "rename",
    [WAL_OP_APPEND] = "append", [WAL_OP_SETRANGE] = "setrange", [WAL_OP_MOVE] = "move",
    [WAL_OP_SWAPDB] = "swapdb",
};

const char *wal_op_name(wal_op op)
{
    return op > 0 && op < WAL_OP_MAX ? op_names[op] : "?";
}

/* ---------------------------------------------------------------- encode */

static inline char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUTLIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* Room a field needs: its name, quotes and the escaped or base64 bytes. */
static size_t field_room(const void *v, size_t n, int *text)
{
    *text = codec_text_ok(v, n);
    if (!*text)
        return 16 + CODEC_B64_LEN(n);
    return 16 + (n > 4096 ? codec_json_escaped_len(v, n) : CODEC_JSON_ESCAPE_MAX(n));
}

static char *put_field(char *p, const char *name, size_t nlen, const void *v, size_t n, int text)
{
    *p++ = ',';
    *p++ = '"';
    p = put(p, name, nlen);
    if (text) {
        p = PUTLIT(p, "\":\"");
        p += codec_json_escape(p, v, n);
    } else {
        p = PUTLIT(p, "64\":\"");
        p += codec_b64_encode(p, v, n);
    }
    *p++ = '"';
    return p;
}

size_t wal_encode(buf_t *out, const wal_entry *e)
{
    int has_key = e->op != WAL_OP_FLUSH && e->op != WAL_OP_SWAPDB;
    int has_val = e->op == WAL_OP_SET || e->op == WAL_OP_RENAME || e->op == WAL_OP_APPEND ||
                  e->op == WAL_OP_SETRANGE;
    int has_exp = (e->op == WAL_OP_SET && e->exp != WAL_NO_EXPIRE) || e->op == WAL_OP_EXPIRE;
    int ktext = 1, vtext = 1;
    size_t room = 96 + CRC_SUFFIX_LEN;
    if (has_key)
        room += field_room(e->key, e->klen, &ktext);
    if (has_val)
        room += field_room(e->val, e->vlen, &vtext);
    buf_reserve(out, room);

    char *start = out->data + out->len, *p = start;
    p = PUTLIT(p, "{\"seq\":");
    p += kvd_ull_to_str(p, e->seq);
    p = PUTLIT(p, ",\"op\":\"");
    const char *name = op_names[e->op];
    p = put(p, name, strlen(name));
    *p++ = '"';
    if (e->grp > 1) {
        p = PUTLIT(p, ",\"grp\":");
        p += kvd_ull_to_str(p, e->grp);
    }
    if (e->db) {
        p = PUTLIT(p, ",\"db\":");
        p += kvd_ull_to_str(p, e->db);
    }
    if (has_key)
        p = put_field(p, "key", 3, e->key, e->klen, ktext);
    if (e->op == WAL_OP_SETRANGE) {
        p = PUTLIT(p, ",\"off\":");
        p += kvd_ull_to_str(p, e->off);
    }
    if (has_val) {
        if (e->op == WAL_OP_RENAME)
            p = put_field(p, "dst", 3, e->val, e->vlen, vtext);
        else
            p = put_field(p, "val", 3, e->val, e->vlen, vtext);
    }
    if (e->op == WAL_OP_MOVE || e->op == WAL_OP_SWAPDB) {
        p = PUTLIT(p, ",\"to\":");
        p += kvd_ull_to_str(p, e->to);
    }
    if (has_exp) {
        p = PUTLIT(p, ",\"exp\":");
        int quoted = e->exp >= WAL_EXP_NUMBER_MAX;
        if (quoted)
            *p++ = '"';
        p += kvd_ll_to_str(p, e->exp);
        if (quoted)
            *p++ = '"';
    }
    uint32_t crc = crc32c(0, start, (size_t)(p - start));
    p = PUTLIT(p, CRC_PREFIX);
    codec_hex32(p, crc);
    p += 8;
    p = PUTLIT(p, "\"}\n");
    size_t n = (size_t)(p - start);
    out->len += n;
    return n;
}

/* ---------------------------------------------------------------- decode */

/* cJSON allocates every node and string with malloc. While a decoder is
 * parsing, this thread's cJSON allocations come from the decoder's arena
 * instead (reset per line), which takes malloc/free off the replay path.
 * The hooks fall through to malloc/free for everyone else. */
static __thread wal_decoder *active;

static void *json_alloc(size_t n)
{
    wal_decoder *d = active;
    if (d) {
        size_t at = (d->arena.len + 15) & ~(size_t)15;
        if (at + n <= d->arena.cap) {
            d->arena.len = at + n;
            return d->arena.data + at;
        }
    }
    return malloc(n);
}

static void json_free(void *p)
{
    wal_decoder *d = active;
    if (d && (char *)p >= d->arena.data && (char *)p < d->arena.data + d->arena.cap)
        return;
    free(p);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void hooks_init(void)
{
    cJSON_Hooks h = {json_alloc, json_free};
    cJSON_InitHooks(&h);
}

#define DECODER_ARENA (16 * 1024)

void wal_decoder_init(wal_decoder *d, pool_t *pool)
{
    pthread_once(&hooks_once, hooks_init);
    buf_init(&d->scratch, pool);
    buf_init(&d->arena, pool);
    buf_reserve(&d->arena, DECODER_ARENA);
    d->json = NULL;
    d->cjson_only = 0;
}

static void drop_tree(wal_decoder *d)
{
    if (d->json) {
        active = d;
        cJSON_Delete(d->json);
        active = NULL;
        d->json = NULL;
    }
    d->arena.len = 0;
}

void wal_decoder_free(wal_decoder *d)
{
    drop_tree(d);
    buf_release(&d->scratch);
    buf_release(&d->arena);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        if (why)                                                                                   \
            snprintf(why, whylen, __VA_ARGS__);                                                    \
        return -1;                                                                                 \
    } while (0)

/* A JSON number that is a non-negative integer below max. */
static int as_uint(const cJSON *it, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(it))
        return -1;
    double v = it->valuedouble;
    if (!(v >= 0 && v < max) || floor(v) != v)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* The bytes of a text field t or a base64 field b (exactly one of them).
 * Decoded base64 goes to scratch at *off (the caller fixes pointers up
 * once the line is decoded, as scratch may move). */
static int field_bytes(wal_decoder *d, const cJSON *t, const cJSON *b, const char **p, size_t *n,
                       size_t *off, int *in_scratch)
{
    *in_scratch = 0;
    if ((t != NULL) == (b != NULL))
        return -1;
    if (t) {
        if (!cJSON_IsString(t))
            return -1;
        *p = t->valuestring;
        *n = strlen(t->valuestring);
        return 0;
    }
    if (!cJSON_IsString(b))
        return -1;
    size_t blen = strlen(b->valuestring);
    buf_reserve(&d->scratch, blen / 4 * 3 + 1);
    long got = codec_b64_decode(d->scratch.data + d->scratch.len, b->valuestring, blen);
    if (got < 0)
        return -1;
    *off = d->scratch.len;
    *n = (size_t)got;
    d->scratch.len += (size_t)got;
    *in_scratch = 1;
    return 0;
}

/* ---- text fields holding \u0000, for the cJSON path ----
 * cJSON hands strings back NUL-terminated, so a text field with a \u0000
 * escape (which wal_encode never writes: such values go out as base64,
 * but a line written by another tool may hold one) would come back cut at
 * it. For those lines the field is read from the line itself. */

static size_t skip_ws(const char *p, size_t i, size_t len)
{
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* i at an opening quote: the index just past the closing one. */
static size_t skip_string(const char *p, size_t i, size_t len)
{
    for (i++; i < len && p[i] != '"'; i++)
        if (p[i] == '\\')
            i++;
    return i + 1;
}

/* The raw bytes between the quotes of the first top-level member named
 * name whose value is a string (the line is valid JSON: cJSON parsed it).
 * Returns 0, or -1 if there is none. */
static int raw_member(const char *p, size_t len, const char *name, const char **s, size_t *n)
{
    size_t nl = strlen(name), i = skip_ws(p, 0, len) + 1; /* past '{' */
    for (;;) {
        i = skip_ws(p, i, len);
        if (i >= len || p[i] != '"')
            return -1;
        size_t k0 = i + 1, k1 = skip_string(p, i, len) - 1;
        i = skip_ws(p, k1 + 1, len) + 1; /* past ':' */
        i = skip_ws(p, i, len);
        if (i >= len)
            return -1;
        if (p[i] == '"') {
            size_t end = skip_string(p, i, len);
            if (k1 - k0 == nl && memcmp(p + k0, name, nl) == 0) {
                *s = p + i + 1;
                *n = end - 1 - (i + 1);
                return 0;
            }
            i = end;
        } else {
            /* A number, a literal, or a nested array or object. */
            int depth = 0;
            while (i < len && (depth > 0 || (p[i] != ',' && p[i] != '}'))) {
                if (p[i] == '"') {
                    i = skip_string(p, i, len);
                    continue;
                }
                if (p[i] == '{' || p[i] == '[')
                    depth++;
                else if (p[i] == '}' || p[i] == ']')
                    depth--;
                i++;
            }
        }
        i = skip_ws(p, i, len);
        if (i >= len || p[i] != ',')
            return -1;
        i++;
    }
}

static inline int hexnib(char ch);

/* The byte a one-letter JSON escape (after the backslash) stands for, or
 * -1 for none. */
static int unescape_char(char e)
{
    switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'f': return '\f';
    default: return -1;
    }
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexnib(p[k]);
        if (h < 0)
            return -1;
        *v = *v << 4 | (unsigned)h;
    }
    return 0;
}

/* Unescape JSON string text s[0..n) (valid JSON) into out, which has room
 * for n bytes (no escape grows). Returns the bytes written, or -1. */
static long json_unescape(const char *s, size_t n, char *out)
{
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            *o++ = s[i];
            continue;
        }
        if (++i >= n)
            return -1;
        if (s[i] != 'u') {
            int ch = unescape_char(s[i]);
            if (ch < 0)
                return -1;
            *o++ = (char)ch;
            continue;
        }
        unsigned cp, lo;
        if (i + 4 >= n || hex4(s + i + 1, &cp) < 0)
            return -1;
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {
            if (i + 6 >= n || s[i + 1] != '\\' || s[i + 2] != 'u' || hex4(s + i + 3, &lo) < 0 || lo < 0xdc00 ||
                lo >= 0xe000)
                return -1;
            i += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xc0 | cp >> 6);
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xe0 | cp >> 12);
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        } else {
            *o++ = (char)(0xf0 | cp >> 18);
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char)(0x80 | (cp & 0x3f));
        }
    }
    return o - out;
}

/* A text field of a line decoded by cJSON: its bytes, read from the line
 * when it holds a \u0000 (see above), else cJSON's string. */
static int text_field(wal_decoder *d, const char *line, size_t len, const char *name, const cJSON *t,
                      const cJSON *b, const char **p, size_t *n, size_t *off, int *in_scratch)
{
    const char *raw;
    size_t rn;
    if (!t || !cJSON_IsString(t) || b || !memmem(line, len, "\\u0000", 6) || raw_member(line, len, name, &raw, &rn) < 0)
        return field_bytes(d, t, b, p, n, off, in_scratch);
    buf_reserve(&d->scratch, rn + 1);
    long got = json_unescape(raw, rn, d->scratch.data + d->scratch.len);
    if (got < 0)
        return -1;
    *off = d->scratch.len;
    *n = (size_t)got;
    d->scratch.len += (size_t)got;
    *in_scratch = 1;
    return 0;
}

/* ---- fast path: lines exactly as wal_encode writes them ----
 * Replay speed is dominated by JSON parsing, and cJSON (a node and a
 * string allocation per member, strtod per number) tops out near 1M
 * lines/s here. Lines in the canonical form that wal_encode produces are
 * decoded by this strict scanner instead; anything else (other field
 * order, extra fields, whitespace, escapes it does not know) goes to
 * cJSON, which stays the reference decoder. Tests check both agree. */

typedef struct cursor {
    const char *p, *end;
} cursor;

static inline int lit(cursor *c, const char *s, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return 0;
    c->p += n;
    return 1;
}
#define LIT(c, s) lit((c), (s), sizeof(s) - 1)

/* A canonical JSON integer below 2^53: "0" or [1-9][0-9]*. */
static int canon_uint(cursor *c, uint64_t *out)
{
    const char *p = c->p;
    if (p == c->end || *p < '0' || *p > '9')
        return 0;
    if (*p == '0') {
        *out = 0;
        c->p = p + 1;
        return c->p == c->end || c->p[0] < '0' || c->p[0] > '9';
    }
    uint64_t v = 0;
    int n = 0;
    while (p < c->end && *p >= '0' && *p <= '9') {
        if (++n > 16)
            return 0;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    if ((double)v >= WAL_MAX_EXACT)
        return 0;
    *out = v;
    c->p = p;
    return 1;
}

/* An expiry written as a string: decimal digits of a value in
 * 0..INT64_MAX, canonical (no sign, no leading zero). */
static int exp_digits(const char *s, size_t n, int64_t *out)
{
    long long v;
    if (n == 0 || s[0] == '-' || kvd_str_to_ll(s, n, &v) < 0)
        return -1;
    *out = v;
    return 0;
}

static inline int hexnib(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The inside of a JSON string up to its closing quote. Without escapes the
 * result points into the line; with them it is unescaped into scratch
 * (which the caller reserved, so it does not move). */
static int canon_string(wal_decoder *d, cursor *c, const char **out, size_t *n)
{
    const char *s = c->p, *p = s + codec_json_plain_prefix(s, (size_t)(c->end - s));
    if (p == c->end || (unsigned char)*p < 0x20)
        return 0;
    if (*p == '"') {
        *out = s;
        *n = (size_t)(p - s);
        c->p = p + 1;
        return 1;
    }
    char *dst = d->scratch.data + d->scratch.len, *o = dst;
    memcpy(o, s, (size_t)(p - s));
    o += p - s;
    while (p < c->end) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"') {
            *out = dst;
            *n = (size_t)(o - dst);
            d->scratch.len += *n;
            c->p = p + 1;
            return 1;
        }
        if (ch < 0x20)
            return 0;
        if (ch != '\\') {
            *o++ = (char)ch;
            p++;
            continue;
        }
        if (c->end - p < 2)
            return 0;
        int esc = unescape_char(p[1]);
        if (esc >= 0) {
            *o++ = (char)esc;
        } else if (p[1] == 'u') {
            /* Only \u00XX below 0x80 (what wal_encode writes); the rest
             * needs UTF-8 encoding and goes to cJSON. */
            if (c->end - p < 6 || p[2] != '0' || p[3] != '0')
                return 0;
            int hi = hexnib(p[4]), lo = hexnib(p[5]);
            if (hi < 0 || lo < 0 || hi > 7)
                return 0;
            *o++ = (char)(hi << 4 | lo);
            p += 4;
        } else {
            return 0;
        }
        p += 2;
    }
    return 0;
}

/* ,"name":"..." or ,"name64":"..." (name is 3 letters). */
static int canon_field(wal_decoder *d, cursor *c, const char *name, const char **out, size_t *n)
{
    if (!LIT(c, ",\"") || !lit(c, name, 3))
        return 0;
    if (LIT(c, "\":\""))
        return canon_string(d, c, out, n);
    if (!LIT(c, "64\":\""))
        return 0;
    const char *b = c->p, *q = memchr(b, '"', (size_t)(c->end - b));
    if (!q)
        return 0;
    char *dst = d->scratch.data + d->scratch.len;
    long got = codec_b64_decode(dst, b, (size_t)(q - b));
    if (got < 0)
        return 0;
    *out = dst;
    *n = (size_t)got;
    d->scratch.len += (size_t)got;
    c->p = q + 1;
    return 1;
}

/* Returns 1 with e filled when body (the line without its crc suffix) is
 * canonical, else 0. */
static int decode_canonical(wal_decoder *d, const char *body, size_t len, wal_entry *e)
{
    cursor c = {body, body + len};
    uint64_t u;
    buf_reserve(&d->scratch, len);
    *e = (wal_entry){0};
    e->exp = WAL_NO_EXPIRE;
    e->grp = 1;
    if (!LIT(&c, "{\"seq\":") || !canon_uint(&c, &e->seq) || e->seq == 0 || !LIT(&c, ",\"op\":\""))
        return 0;
    if (LIT(&c, "set\""))
        e->op = WAL_OP_SET;
    else if (LIT(&c, "del\""))
        e->op = WAL_OP_DEL;
    else if (LIT(&c, "expire\""))
        e->op = WAL_OP_EXPIRE;
    else if (LIT(&c, "persist\""))
        e->op = WAL_OP_PERSIST;
    else if (LIT(&c, "flush\""))
        e->op = WAL_OP_FLUSH;
    else if (LIT(&c, "rename\""))
        e->op = WAL_OP_RENAME;
    else if (LIT(&c, "append\""))
        e->op = WAL_OP_APPEND;
    else if (LIT(&c, "setrange\""))
        e->op = WAL_OP_SETRANGE;
    else if (LIT(&c, "move\""))
        e->op = WAL_OP_MOVE;
    else if (LIT(&c, "swapdb\""))
        e->op = WAL_OP_SWAPDB;
    else
        return 0;
    if (LIT(&c, ",\"grp\":")) {
        if (!canon_uint(&c, &u) || u == 0 || u > 0xffffffffu)
            return 0;
        e->grp = (uint32_t)u;
    }
    if (LIT(&c, ",\"db\":")) {
        /* Canonical lines omit database 0. */
        if (!canon_uint(&c, &u) || u == 0 || u >= WAL_DB_MAX)
            return 0;
        e->db = (uint32_t)u;
    }
    if (e->op != WAL_OP_FLUSH && e->op != WAL_OP_SWAPDB && !canon_field(d, &c, "key", &e->key, &e->klen))
        return 0;
    if (e->op == WAL_OP_SETRANGE && (!LIT(&c, ",\"off\":") || !canon_uint(&c, &e->off) || e->off > WAL_OFF_MAX))
        return 0;
    if ((e->op == WAL_OP_SET || e->op == WAL_OP_APPEND || e->op == WAL_OP_SETRANGE) &&
        !canon_field(d, &c, "val", &e->val, &e->vlen))
        return 0;
    if (e->op == WAL_OP_RENAME && !canon_field(d, &c, "dst", &e->val, &e->vlen))
        return 0;
    if (e->op == WAL_OP_MOVE || e->op == WAL_OP_SWAPDB) {
        if (!LIT(&c, ",\"to\":") || !canon_uint(&c, &u) || u >= WAL_DB_MAX)
            return 0;
        e->to = (uint32_t)u;
    }
    if (e->op == WAL_OP_SET || e->op == WAL_OP_EXPIRE) {
        if (LIT(&c, ",\"exp\":\"")) {
            const char *q = memchr(c.p, '"', (size_t)(c.end - c.p));
            if (!q || exp_digits(c.p, (size_t)(q - c.p), &e->exp) < 0)
                return 0;
            c.p = q + 1;
        } else if (LIT(&c, ",\"exp\":")) {
            if (!canon_uint(&c, &u))
                return 0;
            e->exp = (int64_t)u;
        } else if (e->op == WAL_OP_EXPIRE) {
            return 0;
        }
    }
    return c.p == c.end;
}

/* A value is at most WAL_OFF_MAX bytes: a line asking for more cannot
 * have come from kvd. */
static int within_limits(const wal_entry *e)
{
    if (e->op == WAL_OP_SETRANGE)
        return e->off <= WAL_OFF_MAX && e->vlen <= WAL_OFF_MAX - e->off;
    return e->vlen <= WAL_OFF_MAX;
}

enum { F_SEQ, F_OP, F_GRP, F_DB, F_KEY, F_KEY64, F_VAL, F_VAL64, F_DST, F_DST64, F_TO, F_EXP, F_OFF, F_N };
static const char *const field_names[F_N] = {"seq", "op", "grp", "db", "key", "key64", "val",
                                             "val64", "dst", "dst64", "to", "exp", "off"};

int wal_decode_line(wal_decoder *d, const char *line, size_t len, wal_entry *e, char *why,
                    size_t whylen)
{
    drop_tree(d);
    buf_reset(&d->scratch);
    if (len < CRC_SUFFIX_LEN + 2 || line[0] != '{')
        FAIL("not a WAL line");
    const char *sfx = line + len - CRC_SUFFIX_LEN;
    if (memcmp(sfx, CRC_PREFIX, CRC_PREFIX_LEN) != 0 || sfx[CRC_SUFFIX_LEN - 2] != '"' ||
        sfx[CRC_SUFFIX_LEN - 1] != '}')
        FAIL("line does not end with its checksum field");
    uint32_t want;
    if (codec_parse_hex32(sfx + CRC_PREFIX_LEN, &want) < 0)
        FAIL("checksum is not 8 lowercase hex digits");
    uint32_t got = crc32c(0, line, len - CRC_SUFFIX_LEN);
    if (got != want)
        FAIL("checksum mismatch (line says %08x, bytes give %08x)", want, got);

    if (!d->cjson_only && decode_canonical(d, line, len - CRC_SUFFIX_LEN, e)) {
        if (!within_limits(e))
            FAIL("the value (with \"off\") is longer than a value can be (2 GiB - 1 bytes)");
        return 0;
    }
    buf_reset(&d->scratch);

    active = d;
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    active = NULL;
    d->json = o;
    if (!o || !cJSON_IsObject(o))
        FAIL("not a JSON object");
    if (end != line + len)
        FAIL("bytes after the JSON object"); /* its own checksum field ends the line */

    /* One pass over the members; unknown ones are ignored, and the first
     * of a repeated name counts (as cJSON_GetObjectItem would). */
    const cJSON *f[F_N] = {0};
    for (const cJSON *it = o->child; it; it = it->next) {
        for (int i = 0; i < F_N; i++) {
            if (!f[i] && strcmp(it->string, field_names[i]) == 0) {
                f[i] = it;
                break;
            }
        }
    }

    uint64_t u;
    *e = (wal_entry){0};
    e->exp = WAL_NO_EXPIRE;
    e->grp = 1;
    if (!f[F_SEQ] || as_uint(f[F_SEQ], WAL_MAX_EXACT, &u) < 0 || u == 0)
        FAIL("missing or invalid \"seq\"");
    e->seq = u;
    if (!cJSON_IsString(f[F_OP]))
        FAIL("missing or invalid \"op\"");
    for (int i = 1; i < WAL_OP_MAX; i++)
        if (strcmp(f[F_OP]->valuestring, op_names[i]) == 0)
            e->op = (wal_op)i;
    if (!e->op)
        FAIL("unknown op \"%.32s\"", f[F_OP]->valuestring);
    if (f[F_GRP]) {
        if (as_uint(f[F_GRP], 4294967296.0, &u) < 0 || u == 0)
            FAIL("invalid \"grp\"");
        e->grp = (uint32_t)u;
    }
    if (f[F_DB]) {
        if (as_uint(f[F_DB], (double)WAL_DB_MAX, &u) < 0)
            FAIL("invalid \"db\"");
        e->db = (uint32_t)u;
    }
    if (e->op == WAL_OP_MOVE || e->op == WAL_OP_SWAPDB) {
        if (!f[F_TO] || as_uint(f[F_TO], (double)WAL_DB_MAX, &u) < 0)
            FAIL("missing or invalid \"to\"");
        e->to = (uint32_t)u;
    }

    size_t koff = 0, voff = 0;
    int kscr = 0, vscr = 0;
    if (e->op != WAL_OP_FLUSH && e->op != WAL_OP_SWAPDB &&
        text_field(d, line, len, "key", f[F_KEY], f[F_KEY64], &e->key, &e->klen, &koff, &kscr) < 0)
        FAIL("missing or invalid \"key\"/\"key64\"");
    if ((e->op == WAL_OP_SET || e->op == WAL_OP_APPEND || e->op == WAL_OP_SETRANGE) &&
        text_field(d, line, len, "val", f[F_VAL], f[F_VAL64], &e->val, &e->vlen, &voff, &vscr) < 0)
        FAIL("missing or invalid \"val\"/\"val64\"");
    if (e->op == WAL_OP_SETRANGE) {
        if (!f[F_OFF] || as_uint(f[F_OFF], (double)WAL_OFF_MAX + 1, &u) < 0)
            FAIL("missing or invalid \"off\"");
        e->off = u;
    }
    if (!within_limits(e))
        FAIL("the value (with \"off\") is longer than a value can be (2 GiB - 1 bytes)");
    if (e->op == WAL_OP_RENAME &&
        text_field(d, line, len, "dst", f[F_DST], f[F_DST64], &e->val, &e->vlen, &voff, &vscr) < 0)
        FAIL("missing or invalid \"dst\"/\"dst64\"");
    if (kscr)
        e->key = d->scratch.data + koff;
    if (vscr)
        e->val = d->scratch.data + voff;
    if (e->op == WAL_OP_SET || e->op == WAL_OP_EXPIRE) {
        if (f[F_EXP]) {
            const cJSON *x = f[F_EXP];
            if (cJSON_IsString(x)) {
                if (exp_digits(x->valuestring, strlen(x->valuestring), &e->exp) < 0)
                    FAIL("invalid \"exp\"");
            } else {
                if (as_uint(x, WAL_MAX_EXACT, &u) < 0)
                    FAIL("invalid \"exp\"");
                e->exp = (int64_t)u;
            }
        } else if (e->op == WAL_OP_EXPIRE) {
            FAIL("missing \"exp\"");
        }
    }
    return 0;
}


int wal_decode_unchecked(wal_decoder *d, const char *line, size_t len, wal_entry *e)
{
    drop_tree(d);
    buf_reset(&d->scratch);
    *e = (wal_entry){0};
    e->exp = WAL_NO_EXPIRE;
    e->grp = 1;
    active = d;
    cJSON *o = cJSON_ParseWithLength(line, len);
    active = NULL;
    d->json = o;
    if (!o || !cJSON_IsObject(o))
        return -1;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op");
    for (int i = 1; i < WAL_OP_MAX && cJSON_IsString(op); i++)
        if (strcmp(op->valuestring, op_names[i]) == 0)
            e->op = (wal_op)i;
    uint64_t u;
    if (as_uint(cJSON_GetObjectItemCaseSensitive(o, "seq"), WAL_MAX_EXACT, &u) == 0)
        e->seq = u;
    if (as_uint(cJSON_GetObjectItemCaseSensitive(o, "db"), (double)WAL_DB_MAX, &u) == 0)
        e->db = (uint32_t)u;
    if (e->op == WAL_OP_FLUSH || e->op == WAL_OP_SWAPDB)
        return 0;
    size_t koff = 0;
    int kscr = 0;
    if (!e->op || field_bytes(d, cJSON_GetObjectItemCaseSensitive(o, "key"),
                              cJSON_GetObjectItemCaseSensitive(o, "key64"), &e->key, &e->klen, &koff, &kscr) < 0)
        return -1;
    if (kscr)
        e->key = d->scratch.data + koff;
    return 0;
}
