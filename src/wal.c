/* wal: JSON-lines write-ahead log: encoder, decoder, file scan/replay and
 * the group-commit writer. See docs/WAL.md for the format. */
#include "config.h"
#include "wal.h"
#include "codec.h"
#include "crc32c.h"
#include "manifest.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every line ends with this, 8 hex digits, then "}". */
#define CRC_PREFIX ",\"crc\":\""
#define CRC_PREFIX_LEN 8
#define CRC_SUFFIX_LEN (CRC_PREFIX_LEN + 8 + 2) /* ,"crc":"hhhhhhhh"} */

/* Numbers in the file are read as JSON numbers (doubles, as jq does), so
 * seq and exp must stay below 2^53 to be exact. */
#define WAL_MAX_EXACT 9007199254740992.0

static const char *const op_names[WAL_OP_MAX] = {
    [WAL_OP_SET] = "set",       [WAL_OP_DEL] = "del",     [WAL_OP_EXPIRE] = "expire",
    [WAL_OP_PERSIST] = "persist", [WAL_OP_FLUSH] = "flush", [WAL_OP_RENAME] = "rename",
    [WAL_OP_APPEND] = "append",
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
    int has_key = e->op != WAL_OP_FLUSH;
    int has_val = e->op == WAL_OP_SET || e->op == WAL_OP_RENAME || e->op == WAL_OP_APPEND;
    int has_exp = (e->op == WAL_OP_SET && e->exp != TABLE_NO_EXPIRE) || e->op == WAL_OP_EXPIRE;
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
    if (has_key)
        p = put_field(p, "key", 3, e->key, e->klen, ktext);
    if (has_val) {
        if (e->op == WAL_OP_RENAME)
            p = put_field(p, "dst", 3, e->val, e->vlen, vtext);
        else
            p = put_field(p, "val", 3, e->val, e->vlen, vtext);
    }
    if (has_exp) {
        p = PUTLIT(p, ",\"exp\":");
        p += kvd_ll_to_str(p, e->exp);
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
        switch (p[1]) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            /* Only \u00XX below 0x80 (what wal_encode writes); the rest
             * needs UTF-8 encoding and goes to cJSON. */
            if (c->end - p < 6 || p[2] != '0' || p[3] != '0')
                return 0;
            int hi = hexnib(p[4]), lo = hexnib(p[5]);
            if (hi < 0 || lo < 0 || hi > 7)
                return 0;
            *o++ = (char)(hi << 4 | lo);
            p += 4;
            break;
        }
        default:
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
    e->exp = TABLE_NO_EXPIRE;
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
    else
        return 0;
    if (LIT(&c, ",\"grp\":")) {
        if (!canon_uint(&c, &u) || u == 0 || u > 0xffffffffu)
            return 0;
        e->grp = (uint32_t)u;
    }
    if (e->op != WAL_OP_FLUSH && !canon_field(d, &c, "key", &e->key, &e->klen))
        return 0;
    if ((e->op == WAL_OP_SET || e->op == WAL_OP_APPEND) && !canon_field(d, &c, "val", &e->val, &e->vlen))
        return 0;
    if (e->op == WAL_OP_RENAME && !canon_field(d, &c, "dst", &e->val, &e->vlen))
        return 0;
    if (e->op == WAL_OP_SET || e->op == WAL_OP_EXPIRE) {
        if (LIT(&c, ",\"exp\":")) {
            if (!canon_uint(&c, &u))
                return 0;
            e->exp = (int64_t)u;
        } else if (e->op == WAL_OP_EXPIRE) {
            return 0;
        }
    }
    return c.p == c.end;
}

enum { F_SEQ, F_OP, F_GRP, F_KEY, F_KEY64, F_VAL, F_VAL64, F_DST, F_DST64, F_EXP, F_N };
static const char *const field_names[F_N] = {"seq", "op", "grp", "key", "key64",
                                             "val", "val64", "dst", "dst64", "exp"};

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

    if (!d->cjson_only && decode_canonical(d, line, len - CRC_SUFFIX_LEN, e))
        return 0;
    buf_reset(&d->scratch);

    active = d;
    cJSON *o = cJSON_ParseWithLength(line, len);
    active = NULL;
    d->json = o;
    if (!o || !cJSON_IsObject(o))
        FAIL("not a JSON object");

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
    e->exp = TABLE_NO_EXPIRE;
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

    size_t koff = 0, voff = 0;
    int kscr = 0, vscr = 0;
    if (e->op != WAL_OP_FLUSH &&
        field_bytes(d, f[F_KEY], f[F_KEY64], &e->key, &e->klen, &koff, &kscr) < 0)
        FAIL("missing or invalid \"key\"/\"key64\"");
    if ((e->op == WAL_OP_SET || e->op == WAL_OP_APPEND) &&
        field_bytes(d, f[F_VAL], f[F_VAL64], &e->val, &e->vlen, &voff, &vscr) < 0)
        FAIL("missing or invalid \"val\"/\"val64\"");
    if (e->op == WAL_OP_RENAME &&
        field_bytes(d, f[F_DST], f[F_DST64], &e->val, &e->vlen, &voff, &vscr) < 0)
        FAIL("missing or invalid \"dst\"/\"dst64\"");
    if (kscr)
        e->key = d->scratch.data + koff;
    if (vscr)
        e->val = d->scratch.data + voff;
    if (e->op == WAL_OP_SET || e->op == WAL_OP_EXPIRE) {
        if (f[F_EXP]) {
            if (as_uint(f[F_EXP], WAL_MAX_EXACT, &u) < 0)
                FAIL("invalid \"exp\"");
            e->exp = (int64_t)u;
        } else if (e->op == WAL_OP_EXPIRE) {
            FAIL("missing \"exp\"");
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ scan */

int wal_apply_table(void *ctx, const wal_entry *e)
{
    wal_table_ctx *c = ctx;
    table_t *t = c->table;
    switch (e->op) {
    case WAL_OP_SET:
        if (e->exp != TABLE_NO_EXPIRE && e->exp <= c->now_ms) {
            table_del(t, e->key, e->klen);
            c->expired++;
        } else {
            table_set(t, e->key, e->klen, e->val, e->vlen, e->exp, NULL);
        }
        break;
    case WAL_OP_DEL:
        table_del(t, e->key, e->klen);
        break;
    case WAL_OP_EXPIRE: {
        tentry_t *x = table_find(t, e->key, e->klen);
        if (!x)
            break;
        if (e->exp <= c->now_ms) {
            table_del_entry(t, x);
            c->expired++;
        } else {
            table_set_expire(t, x, e->exp);
        }
        break;
    }
    case WAL_OP_PERSIST: {
        tentry_t *x = table_find(t, e->key, e->klen);
        if (x)
            table_set_expire(t, x, TABLE_NO_EXPIRE);
        break;
    }
    case WAL_OP_FLUSH:
        table_clear(t);
        break;
    case WAL_OP_RENAME: {
        if (e->klen == e->vlen && memcmp(e->key, e->val, e->klen) == 0)
            break;
        tentry_t *x = table_find(t, e->key, e->klen);
        if (!x)
            break;
        table_set(t, e->val, e->vlen, tentry_val(x), tentry_vlen(x), tentry_expire(x), NULL);
        table_del(t, e->key, e->klen);
        break;
    }
    case WAL_OP_APPEND: {
        tentry_t *x = table_find(t, e->key, e->klen);
        if (!x) {
            table_set(t, e->key, e->klen, e->val, e->vlen, TABLE_NO_EXPIRE, NULL);
            break;
        }
        table_append(t, x, e->val, e->vlen);
        break;
    }
    default:
        return -1;
    }
    return 0;
}

#define SCAN_CHUNK ((size_t)1 << 20)

typedef struct scan_state {
    char *rb;           /* read buffer */
    size_t cap, start, end;
    uint64_t base;      /* file offset of rb[0] */
} scan_state;

static void note_bad(wal_scan_result *res, uint64_t line, uint64_t off, const char *why)
{
    res->bad_line = line;
    res->bad_offset = off;
    snprintf(res->bad_reason, sizeof res->bad_reason, "%s", why);
}

static int scan_file(const char *path, pool_t *pool, wal_apply_fn apply, void (*presize)(void *, uint64_t),
                     void *ctx, wal_scan_result *res)
{
    uint64_t t0 = kvd_mono_ns();
    *res = (wal_scan_result){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    res->bytes = (uint64_t)st.st_size;

    wal_decoder dec;
    wal_decoder_init(&dec, pool);
    scan_state s = {xmalloc(SCAN_CHUNK), SCAN_CHUNK, 0, 0, 0};
    int eof = 0, rc = 0, bad = 0;
    uint64_t lineno = 0, last_seq = 0;
    /* An open group: where it starts in rb and the file, and lines to go. */
    size_t gpos = 0;
    uint64_t goff = 0, gline = 0, gseq = 0;
    uint32_t gleft = 0, gsize = 0;
    char why[160];

    for (;;) {
        char *nl = memchr(s.rb + s.start, '\n', s.end - s.start);
        if (!nl) {
            if (eof) {
                if (s.end > s.start && !bad) {
                    bad = 1;
                    note_bad(res, lineno + 1, s.base + s.start, "last line is incomplete (no newline)");
                }
                break;
            }
            /* Keep an open group's lines: they are applied only once whole. */
            size_t keep = gleft ? gpos : s.start;
            if (keep > 0) {
                memmove(s.rb, s.rb + keep, s.end - keep);
                s.base += keep;
                s.end -= keep;
                s.start -= keep;
                if (gleft)
                    gpos = 0;
            }
            if (s.cap - s.end < SCAN_CHUNK / 2) {
                s.cap *= 2;
                s.rb = xrealloc(s.rb, s.cap);
            }
            ssize_t r = read(fd, s.rb + s.end, s.cap - s.end);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                break;
            }
            if (r == 0)
                eof = 1;
            s.end += (size_t)r;
            continue;
        }
        const char *line = s.rb + s.start;
        size_t len = (size_t)(nl - line);
        if (lineno == 1000 && presize && s.base + s.start > 0)
            presize(ctx, res->bytes / ((s.base + s.start) / 1000));
        uint64_t off = s.base + s.start;
        lineno++;
        s.start += len + 1;

        wal_entry e;
        int ok = wal_decode_line(&dec, line, len, &e, why, sizeof why) == 0;
        if (bad) {
            if (ok) {
                /* A good line after a bad one: the damage is not a torn tail. */
                res->status = WAL_SCAN_CORRUPT;
                break;
            }
            continue;
        }
        if (ok && e.seq <= last_seq) {
            snprintf(why, sizeof why, "sequence number %llu does not follow %llu",
                     (unsigned long long)e.seq, (unsigned long long)last_seq);
            ok = 0;
        }
        if (ok && gleft && e.grp > 1) {
            snprintf(why, sizeof why, "a group starts inside another group");
            ok = 0;
        }
        if (!ok) {
            bad = 1;
            note_bad(res, lineno, off, why);
            continue;
        }
        last_seq = e.seq;
        res->lines++;
        if (gleft) {
            if (--gleft)
                continue;
            /* The group is whole: decode its lines again and apply them. */
            const char *p = s.rb + gpos;
            for (uint32_t i = 0; i < gsize; i++) {
                const char *q = memchr(p, '\n', (size_t)(s.rb + s.end - p));
                wal_decode_line(&dec, p, (size_t)(q - p), &e, NULL, 0);
                if (!res->first_seq)
                    res->first_seq = e.seq;
                res->ops[e.op]++;
                res->applied++;
                if (apply)
                    apply(ctx, &e);
                p = q + 1;
            }
            res->good_bytes = s.base + s.start;
            res->last_seq = last_seq;
            continue;
        }
        if (e.grp > 1) {
            gpos = (size_t)(line - s.rb);
            goff = off;
            gline = lineno;
            gseq = e.seq;
            gsize = e.grp;
            gleft = e.grp - 1;
            continue;
        }
        if (!res->first_seq)
            res->first_seq = e.seq;
        res->ops[e.op]++;
        res->applied++;
        if (apply)
            apply(ctx, &e);
        res->good_bytes = s.base + s.start;
        res->last_seq = last_seq;
    }
    if (rc == 0 && gleft && !bad) {
        bad = 1;
        snprintf(why, sizeof why, "group of %u lines starting at seq %llu is incomplete", gsize,
                 (unsigned long long)gseq);
        note_bad(res, gline, goff, why);
    } else if (rc == 0 && gleft && bad && res->bad_offset > goff) {
        /* The bad line is inside a group: the group goes with it. */
        res->bad_line = gline;
        res->bad_offset = goff;
    }
    if (rc == 0 && bad && res->status != WAL_SCAN_CORRUPT)
        res->status = WAL_SCAN_TAIL;
    wal_decoder_free(&dec);
    free(s.rb);
    close(fd);
    res->elapsed_us = (kvd_mono_ns() - t0) / 1000;
    return rc;
}

int wal_scan(const char *path, pool_t *pool, wal_apply_fn apply, void *ctx, wal_scan_result *res)
{
    return scan_file(path, pool, apply, NULL, ctx, res);
}

/* Size the table from the file size and the mean length of the first 1000
 * lines, so a big replay does not rehash its way up. */
static void presize_table(void *ctx, uint64_t estimate)
{
    wal_table_ctx *c = ctx;
    table_expand(c->table, estimate);
}

/* ---------------------------------------------------------------- writer */

/* Replay one file into ctx's table. allow_tail: a bad tail may be cut
 * (only the newest file can have one); min_seq: every seq must be above
 * it (continuity across files). The file result is added to res. */
static int load_file(const char *path, pool_t *pool, wal_table_ctx *ctx, int allow_tail, uint64_t min_seq,
                     wal_open_result *res, char *err, size_t errlen)
{
    wal_scan_result r;
    int rc = scan_file(path, pool, wal_apply_table, presize_table, ctx, &r);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read WAL %s: %s", path, strerror(-rc));
        return -1;
    }
    if (r.status == WAL_SCAN_CORRUPT || (r.status == WAL_SCAN_TAIL && !allow_tail)) {
        snprintf(err, errlen,
                 "WAL %s is corrupt at line %llu (byte offset %llu): %s; %s, so this is not a torn "
                 "write and kvd will not guess. Inspect it with 'kvd-check-wal %s'; 'kvd-check-wal --fix %s' "
                 "cuts the file at that line (keeping the original as %s.broken), losing the entries after it",
                 path, (unsigned long long)r.bad_line, (unsigned long long)r.bad_offset, r.bad_reason,
                 r.status == WAL_SCAN_CORRUPT ? "valid entries follow it" : "newer files follow this one", path,
                 path, path);
        return -1;
    }
    if (r.first_seq && r.first_seq <= min_seq) {
        snprintf(err, errlen, "WAL %s starts at seq %llu, not after %llu: files are missing or out of order", path,
                 (unsigned long long)r.first_seq, (unsigned long long)min_seq);
        return -1;
    }
    if (r.status == WAL_SCAN_TAIL) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)r.good_bytes) < 0 || fdatasync(fd) < 0) {
            snprintf(err, errlen, "cannot cut the torn tail of WAL %s at offset %llu: %s", path,
                     (unsigned long long)r.good_bytes, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
        res->truncated_bytes += r.bytes - r.good_bytes;
        snprintf(res->truncated_file, sizeof res->truncated_file, "%s", path);
        res->scan.bad_line = r.bad_line;
        res->scan.bad_offset = r.bad_offset;
        memcpy(res->scan.bad_reason, r.bad_reason, sizeof r.bad_reason);
        res->scan.status = WAL_SCAN_TAIL;
    }
    res->files++;
    res->scan.lines += r.lines;
    res->scan.applied += r.applied;
    for (int i = 0; i < WAL_OP_MAX; i++)
        res->scan.ops[i] += r.ops[i];
    if (!res->scan.first_seq)
        res->scan.first_seq = r.first_seq;
    if (r.last_seq > res->scan.last_seq)
        res->scan.last_seq = r.last_seq;
    res->scan.bytes += r.good_bytes;
    res->scan.good_bytes = r.good_bytes; /* of the last file: where appends go */
    res->scan.elapsed_us += r.elapsed_us;
    return 0;
}

static wal_t *writer_new(const char *path, int fd, pool_t *pool, uint64_t last_seq, uint64_t size)
{
    wal_t *w = xcalloc(1, sizeof(*w));
    w->fd = fd;
    w->path = xstrdup(path);
    w->pool = pool;
    buf_init(&w->batch, pool);
    w->written_seq = w->durable_seq = last_seq;
    w->next_seq = last_seq + 1;
    w->size = size;
    manifest_init(&w->man);
    return w;
}

wal_t *wal_open(const char *path, pool_t *pool, table_t *t, wal_open_result *res, char *err,
                size_t errlen)
{
    *res = (wal_open_result){0};
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open WAL %s: %s", path, strerror(errno));
        return NULL;
    }
    wal_table_ctx ctx = {t, kvd_now_ms(), 0};
    int rc = load_file(path, pool, &ctx, 1, 0, res, err, errlen);
    table_expand_done(t);
    if (rc < 0) {
        close(fd);
        return NULL;
    }
    res->expired = ctx.expired;
    return writer_new(path, fd, pool, res->scan.last_seq, res->scan.good_bytes);
}

/* ---- a data directory: manifest, base, segments ---- */

static int is_wal_name(const char *name, const char *kind, uint64_t *num, int *tmp)
{
    size_t kl = strlen(kind);
    if (strncmp(name, kind, kl) != 0)
        return 0;
    const char *p = name + kl, *dot = strchr(p, '.');
    if (!dot || dot == p)
        return 0;
    long long v;
    if (kvd_str_to_ll(p, (size_t)(dot - p), &v) < 0 || v <= 0)
        return 0;
    if (strcmp(dot, ".jsonl") == 0)
        *tmp = 0;
    else if (strcmp(dot, ".jsonl.tmp") == 0)
        *tmp = 1;
    else
        return 0;
    *num = (uint64_t)v;
    return 1;
}

static int in_manifest(const manifest *m, int base, uint64_t n)
{
    if (base)
        return m->base == n;
    for (size_t i = 0; i < m->nincr; i++)
        if (m->incr[i] == n)
            return 1;
    return 0;
}

/* Remove WAL files the manifest does not list (left by a crash during a
 * rotation or compaction) and temp files. With m NULL, only count the WAL
 * files present. Returns how many were removed (or found). */
static int sweep_dir(const char *dir, const manifest *m, int *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    int removed = 0;
    *count = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t n;
        int tmp, base = 0;
        if (is_wal_name(de->d_name, "kvd.base.", &n, &tmp))
            base = 1;
        else if (!is_wal_name(de->d_name, "kvd.incr.", &n, &tmp)) {
            if (m && strcmp(de->d_name, MANIFEST_NAME ".tmp") == 0) {
                char p[4300];
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                unlink(p);
            }
            continue;
        }
        (*count)++;
        if (m && (tmp || !in_manifest(m, base, n))) {
            char p[4300];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            if (unlink(p) == 0)
                removed++;
        }
    }
    closedir(d);
    if (removed)
        kvd_fsync_dir(dir);
    return removed;
}

static void file_path(char *dst, size_t n, const char *dir, int base, uint64_t num)
{
    char name[64];
    if (base)
        manifest_base_name(name, sizeof name, num);
    else
        manifest_incr_name(name, sizeof name, num);
    snprintf(dst, n, "%s/%s", dir, name);
}

wal_t *wal_open_dir(const char *dir, pool_t *pool, table_t *t, wal_open_result *res, char *err, size_t errlen)
{
    *res = (wal_open_result){0};
    manifest m;
    int rc = manifest_load(dir, &m, err, errlen);
    if (rc < 0)
        return NULL;
    char path[4300];
    if (rc == 1) {
        /* No manifest: a new data dir, or one from before segments. */
        int count;
        sweep_dir(dir, NULL, &count);
        if (count > 0) {
            snprintf(err, errlen, "%s holds WAL segment files but no %s: kvd will not guess which to load "
                     "(restore the manifest; its format is in docs/WAL.md)", dir, MANIFEST_NAME);
            return NULL;
        }
        manifest_init(&m);
        if (manifest_add_incr(&m, 1) < 0) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        char legacy[4300];
        snprintf(legacy, sizeof legacy, "%s/kvd.wal", dir);
        file_path(path, sizeof path, dir, 0, 1);
        if (access(legacy, F_OK) == 0) {
            if (rename(legacy, path) < 0) {
                snprintf(err, errlen, "cannot rename %s to %s: %s", legacy, path, strerror(errno));
                manifest_free(&m);
                return NULL;
            }
            res->migrated = 1;
        } else {
            int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0) {
                snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
                manifest_free(&m);
                return NULL;
            }
            close(fd);
        }
        if (kvd_fsync_dir(dir) < 0 || manifest_store(dir, &m, NULL, err, errlen) < 0) {
            if (!err[0])
                snprintf(err, errlen, "cannot sync %s", dir);
            manifest_free(&m);
            return NULL;
        }
    } else {
        int count;
        rc = sweep_dir(dir, &m, &count);
        res->orphans_removed = rc > 0 ? rc : 0;
    }

    wal_table_ctx ctx = {t, kvd_now_ms(), 0};
    uint64_t min_seq = 0;
    if (m.base) {
        file_path(path, sizeof path, dir, 1, m.base);
        wal_open_result b = {0};
        if (load_file(path, pool, &ctx, 0, 0, &b, err, errlen) < 0)
            goto fail;
        res->files++;
        res->base_bytes = b.scan.bytes;
        res->scan.applied += b.scan.applied;
        res->scan.lines += b.scan.lines;
        res->scan.bytes += b.scan.bytes;
        res->scan.elapsed_us += b.scan.elapsed_us;
        for (int i = 0; i < WAL_OP_MAX; i++)
            res->scan.ops[i] += b.scan.ops[i];
        /* The base numbers its own lines; the segments continue from the
         * seq the base covers. */
        min_seq = m.base_upto;
        res->scan.last_seq = m.base_upto;
    }
    for (size_t i = 0; i < m.nincr; i++) {
        file_path(path, sizeof path, dir, 0, m.incr[i]);
        uint64_t before = res->scan.last_seq;
        if (load_file(path, pool, &ctx, i + 1 == m.nincr, min_seq, res, err, errlen) < 0)
            goto fail;
        if (res->scan.last_seq > before)
            min_seq = res->scan.last_seq;
    }
    res->expired = ctx.expired;
    table_expand_done(t);
    file_path(path, sizeof path, dir, 0, m.incr[m.nincr - 1]);
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open WAL %s: %s", path, strerror(errno));
        goto fail;
    }
    wal_t *w = writer_new(path, fd, pool, res->scan.last_seq, res->scan.good_bytes);
    w->dir = xstrdup(dir);
    w->man = m;
    for (size_t i = 0; i + 1 < m.nincr; i++) {
        struct stat st;
        file_path(path, sizeof path, dir, 0, m.incr[i]);
        if (stat(path, &st) == 0)
            w->older_bytes += (uint64_t)st.st_size;
    }
    w->base_bytes = res->base_bytes;
    return w;
fail:
    table_expand_done(t);
    manifest_free(&m);
    return NULL;
}

int wal_close(wal_t *w)
{
    if (!w)
        return 0;
    int rc = wal_error(w) ? wal_error(w) : wal_sync(w);
    close(w->fd);
    buf_release(&w->batch);
    free(w->path);
    free(w->dir);
    manifest_free(&w->man);
    free(w);
    return rc;
}

uint64_t wal_total_bytes(const wal_t *w)
{
    return w->base_bytes + w->older_bytes + w->size;
}

int wal_rotate(wal_t *w, uint64_t *upto, int *old_fd, char *err, size_t errlen)
{
    if (!w->dir) {
        snprintf(err, errlen, "the WAL is a single file: no segments to rotate");
        return -EINVAL;
    }
    int rc = wal_flush(w);
    if (rc == 0 && w->sync_error)
        rc = w->sync_error;
    if (rc < 0) {
        snprintf(err, errlen, "cannot flush the WAL before rotating: %s", strerror(-rc));
        return rc;
    }
    /* Everything in the old segment becomes durable before any write goes
     * to the new one, so a later fsync of the new file covers all seqs. */
    uint64_t target = w->written_seq;
    rc = wal_sync_fd(w->fd);
    wal_sync_done(w, target, rc, 0);
    if (rc < 0) {
        snprintf(err, errlen, "fdatasync of %s failed: %s", w->path, strerror(-rc));
        return rc;
    }
    manifest next = {0};
    uint64_t num = manifest_max_number(&w->man) + 1;
    char path[4300];
    file_path(path, sizeof path, w->dir, 0, num);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return rc;
    }
    next.base = w->man.base;
    next.base_upto = w->man.base_upto;
    for (size_t i = 0; i < w->man.nincr; i++)
        if (manifest_add_incr(&next, w->man.incr[i]) < 0)
            rc = -ENOMEM;
    if (rc == 0 && manifest_add_incr(&next, num) < 0)
        rc = -ENOMEM;
    if (rc == 0)
        rc = kvd_fsync_dir(w->dir);
    int renamed = 0;
    if (rc == 0)
        rc = manifest_store(w->dir, &next, &renamed, err, errlen);
    if (rc < 0) {
        if (!err[0])
            snprintf(err, errlen, "cannot add %s to the manifest: %s", path, strerror(-rc));
        close(fd);
        manifest_free(&next);
        if (!renamed) {
            unlink(path);
            return rc;
        }
        /* The new manifest may or may not survive a crash: a write to either
         * segment could be lost with it. Everything so far is durable in the
         * old one, which both manifests list; refuse writes from here on (as
         * after a failed fdatasync) and keep the new file for whichever
         * manifest a restart finds. */
        w->sync_error = rc;
        return rc;
    }
    *old_fd = w->fd;
    w->fd = fd;
    free(w->path);
    w->path = xstrdup(path);
    w->older_bytes += w->size;
    w->size = 0;
    manifest_free(&w->man);
    w->man = next;
    *upto = w->written_seq;
    return 0;
}

void wal_base_path(const wal_t *w, uint64_t num, int tmp, char *dst, size_t n)
{
    char name[64];
    manifest_base_name(name, sizeof name, num);
    snprintf(dst, n, "%s/%s%s", w->dir, name, tmp ? ".tmp" : "");
}

uint64_t wal_next_file_number(const wal_t *w)
{
    return manifest_max_number(&w->man) + 1;
}

#define BASE_SYNC_EVERY ((size_t)8 << 20)

typedef struct base_ctx {
    buf_t out;
    int fd;
    int rc;
    size_t unsynced;   /* bytes written since the last fdatasync */
    int64_t now;
    uint64_t seq, entries;
    wal_progress_fn progress;
    void *pctx;
} base_ctx;

static void base_entry(void *ctx, const tentry_t *e)
{
    base_ctx *b = ctx;
    if (b->rc)
        return;
    int64_t exp = tentry_expire(e);
    if (exp != TABLE_NO_EXPIRE && exp <= b->now)
        return;
    wal_entry we = {.seq = ++b->seq, .op = WAL_OP_SET, .key = tentry_key(e), .klen = tentry_klen(e),
                    .val = tentry_val((tentry_t *)e), .vlen = tentry_vlen(e), .exp = exp};
    wal_encode(&b->out, &we);
    b->entries++;
    if (b->out.len >= (1u << 20)) {
        b->rc = kvd_write_all(b->fd, b->out.data, b->out.len);
        b->unsynced += b->out.len;
        buf_reset(&b->out);
        /* Sync as we go: hundreds of MB of dirty pages at once would make
         * the kernel throttle every writer, the server's WAL included. */
        if (b->rc == 0 && b->unsynced >= BASE_SYNC_EVERY) {
            b->rc = wal_sync_fd(b->fd);
            b->unsynced = 0;
        }
        if (b->progress)
            b->progress(b->pctx, b->entries);
    }
}

int wal_write_base(table_t *t, const char *path, pool_t *pool, int64_t now, wal_progress_fn progress, void *pctx,
                   uint64_t *entries, uint64_t *bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    base_ctx b = {.out = BUF_INIT(pool), .fd = fd, .now = now, .progress = progress, .pctx = pctx};
    table_foreach(t, base_entry, &b);
    if (b.rc == 0 && b.out.len)
        b.rc = kvd_write_all(fd, b.out.data, b.out.len);
    buf_release(&b.out);
    struct stat st;
    if (b.rc == 0 && fstat(fd, &st) == 0)
        *bytes = (uint64_t)st.st_size;
    if (b.rc == 0)
        b.rc = wal_sync_fd(fd);
    close(fd);
    *entries = b.entries;
    return b.rc;
}

int wal_install_base(wal_t *w, uint64_t num, uint64_t upto, uint64_t first_kept, uint64_t base_bytes, char *err,
                     size_t errlen)
{
    char tmp[4300], final[4300], path[4300];
    wal_base_path(w, num, 1, tmp, sizeof tmp);
    wal_base_path(w, num, 0, final, sizeof final);
    int rc = rename(tmp, final) < 0 ? -errno : kvd_fsync_dir(w->dir);
    if (rc < 0) {
        snprintf(err, errlen, "cannot put the new base %s in place: %s", final, strerror(-rc));
        unlink(tmp); /* no manifest names either name yet */
        unlink(final);
        return rc;
    }
    manifest next = {0};
    next.base = num;
    next.base_upto = upto;
    for (size_t i = 0; i < w->man.nincr; i++)
        if (w->man.incr[i] >= first_kept && manifest_add_incr(&next, w->man.incr[i]) < 0)
            rc = -ENOMEM;
    int renamed = 0;
    if (rc == 0)
        rc = manifest_store(w->dir, &next, &renamed, err, errlen);
    if (rc < 0) {
        manifest_free(&next);
        /* If the new manifest may be the one on disk, its base must stay;
         * the old files stay in any case, and a restart removes whichever
         * set its manifest does not list. */
        if (!renamed)
            unlink(final);
        return rc;
    }
    /* The new manifest is in place: the old files are history. */
    kvd_test_crash("after-manifest");
    if (w->man.base) {
        file_path(path, sizeof path, w->dir, 1, w->man.base);
        unlink(path);
    }
    for (size_t i = 0; i < w->man.nincr; i++) {
        if (w->man.incr[i] < first_kept) {
            file_path(path, sizeof path, w->dir, 0, w->man.incr[i]);
            unlink(path);
            if (i == 0)
                kvd_test_crash("during-delete");
        }
    }
    kvd_fsync_dir(w->dir);
    manifest_free(&w->man);
    w->man = next;
    w->base_bytes = base_bytes;
    w->older_bytes = 0;
    for (size_t i = 0; i + 1 < w->man.nincr; i++) {
        struct stat st;
        file_path(path, sizeof path, w->dir, 0, w->man.incr[i]);
        if (stat(path, &st) == 0)
            w->older_bytes += (uint64_t)st.st_size;
    }
    return 0;
}

static uint64_t append(wal_t *w, wal_entry *e)
{
    e->seq = w->next_seq++;
    if (w->group_left > 1) {
        e->grp = w->group_left;
        w->group_left = 0;
    }
    wal_encode(&w->batch, e);
    return e->seq;
}

void wal_group(wal_t *w, uint32_t n)
{
    w->group_left = n;
}

uint64_t wal_append_set(wal_t *w, const void *key, size_t klen, const void *val, size_t vlen,
                        int64_t exp)
{
    wal_entry e = {.op = WAL_OP_SET, .key = key, .klen = klen, .val = val, .vlen = vlen, .exp = exp};
    return append(w, &e);
}

uint64_t wal_append_del(wal_t *w, const void *key, size_t klen)
{
    wal_entry e = {.op = WAL_OP_DEL, .key = key, .klen = klen, .exp = TABLE_NO_EXPIRE};
    return append(w, &e);
}

uint64_t wal_append_expire(wal_t *w, const void *key, size_t klen, int64_t exp)
{
    wal_entry e = {.op = WAL_OP_EXPIRE, .key = key, .klen = klen, .exp = exp};
    return append(w, &e);
}

uint64_t wal_append_persist(wal_t *w, const void *key, size_t klen)
{
    wal_entry e = {.op = WAL_OP_PERSIST, .key = key, .klen = klen, .exp = TABLE_NO_EXPIRE};
    return append(w, &e);
}

uint64_t wal_append_flush(wal_t *w)
{
    wal_entry e = {.op = WAL_OP_FLUSH, .exp = TABLE_NO_EXPIRE};
    return append(w, &e);
}

uint64_t wal_append_rename(wal_t *w, const void *key, size_t klen, const void *dst, size_t dlen)
{
    wal_entry e = {.op = WAL_OP_RENAME, .key = key, .klen = klen, .val = dst, .vlen = dlen,
                   .exp = TABLE_NO_EXPIRE};
    return append(w, &e);
}

uint64_t wal_append_append(wal_t *w, const void *key, size_t klen, const void *val, size_t vlen)
{
    wal_entry e = {.op = WAL_OP_APPEND, .key = key, .klen = klen, .val = val, .vlen = vlen,
                   .exp = TABLE_NO_EXPIRE};
    return append(w, &e);
}

#define WAL_BATCH_KEEP ((size_t)1 << 20) /* batch storage kept between flushes */

int wal_flush(wal_t *w)
{
    if (w->batch.len == 0)
        return 0;
    if (w->sync_error)
        return w->sync_error;
    int rc = kvd_write_all(w->fd, w->batch.data, w->batch.len);
    if (rc < 0) {
        w->stats.write_failures++;
        w->write_error = rc;
        /* Never leave half a batch in front of what comes next. If even
         * that fails, the file's tail is unknown: stop for good. */
        if (ftruncate(w->fd, (off_t)w->size) < 0)
            w->sync_error = -errno;
        return rc;
    }
    w->size += w->batch.len;
    w->stats.bytes_written += w->batch.len;
    w->stats.writes++;
    w->written_seq = w->next_seq - 1;
    w->write_error = 0;
    if (w->batch.cap > WAL_BATCH_KEEP)
        buf_release(&w->batch);
    else
        buf_reset(&w->batch);
    return 0;
}

int wal_sync_fd(int fd)
{
    for (;;) {
#ifdef HAVE_FDATASYNC
        int r = fdatasync(fd);
#else
        int r = fsync(fd);
#endif
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

void wal_sync_done(wal_t *w, uint64_t target, int rc, uint64_t took_us)
{
    if (rc < 0) {
        w->stats.fsync_failures++;
        w->sync_error = rc;
        return;
    }
    w->stats.fsyncs++;
    w->stats.last_fsync_us = took_us;
    w->stats.last_fsync_ms = kvd_now_ms();
    if (target > w->durable_seq)
        w->durable_seq = target;
}

int wal_sync(wal_t *w)
{
    int rc = wal_flush(w);
    if (rc < 0)
        return rc;
    if (w->sync_error)
        return w->sync_error;
    uint64_t target = w->written_seq;
    uint64_t t0 = kvd_mono_ns();
    rc = wal_sync_fd(w->fd);
    wal_sync_done(w, target, rc, (kvd_mono_ns() - t0) / 1000);
    return rc;
}
