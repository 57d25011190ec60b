/* Unit tests for the WAL codec, scan and writer: encode/decode of every
 * byte, checksums, huge expiries, torn tails at every cut point, what is
 * and is not a torn tail, mid-file corruption, groups, seq continuity,
 * verbatim replay of expiries, and failed writes that must not leave half
 * a line. (The directory: check_wal_dir.c.) */
#include "config.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include "codec.h"
#include "crc32c.h"
#include "table.h"
#include "util.h"
#include "apply.h"
#include "wal.h"
#include "wal_dir.h"

#define DOC_CRC "b377845e"

static pool_t pool;
static char *dir;
static char path[4300];

static void setup(void)
{
    pool_init(&pool, 0, 0);
    dir = tu_tmpdir();
    snprintf(path, sizeof path, "%s/kvd.incr.1.jsonl", dir);
}

static void teardown(void)
{
    tu_rmdir(dir);
    pool_destroy(&pool);
}

/* Open the test dir's WAL (one segment: path), replaying into t. */
static wal_t *open_wal(table_t *t, wal_open_result *res, char *err, size_t errlen)
{
    keyspace ks = {.db = &t, .n = 1};
    wal_t *w = wal_open_dir(dir, &pool, apply_replay, &ks, &apply_hooks, res, err, errlen);
    table_expand_done(t);
    return w;
}

static wal_t *open_ok(table_t *t, wal_open_result *res)
{
    char err[1024];
    wal_t *w = open_wal(t, res, err, sizeof err);
    ck_assert_msg(w != NULL, "wal_open_dir failed: %s", err);
    return w;
}

/* Append helpers: one entry each, returning its seq. */
static uint64_t ap(wal_t *w, wal_op op, const void *k, size_t kl, const void *v, size_t vl, int64_t exp)
{
    wal_entry e = {.op = op, .key = k, .klen = kl, .val = v, .vlen = vl, .exp = exp};
    return wal_append(w, &e);
}
#define ap_set(w, k, kl, v, vl, exp) ap((w), WAL_OP_SET, (k), (kl), (v), (vl), (exp))
#define ap_del(w, k, kl) ap((w), WAL_OP_DEL, (k), (kl), NULL, 0, TABLE_NO_EXPIRE)
#define ap_expire(w, k, kl, exp) ap((w), WAL_OP_EXPIRE, (k), (kl), NULL, 0, (exp))
#define ap_persist(w, k, kl) ap((w), WAL_OP_PERSIST, (k), (kl), NULL, 0, TABLE_NO_EXPIRE)
#define ap_flush(w) ap((w), WAL_OP_FLUSH, NULL, 0, NULL, 0, TABLE_NO_EXPIRE)
#define ap_rename(w, k, kl, d, dl) ap((w), WAL_OP_RENAME, (k), (kl), (d), (dl), TABLE_NO_EXPIRE)
#define ap_append(w, k, kl, v, vl) ap((w), WAL_OP_APPEND, (k), (kl), (v), (vl), TABLE_NO_EXPIRE)

static void assert_val(table_t *t, const void *k, size_t kl, const void *v, size_t vl)
{
    tentry_t *e = table_find(t, k, kl);
    ck_assert_msg(e != NULL, "key missing");
    ck_assert_uint_eq(tentry_vlen(e), vl);
    ck_assert_int_eq(memcmp(tentry_val(e), v, vl), 0);
}

START_TEST(test_crc32c_known_values)
{
    ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc32c_sw(0, "123456789", 9), 0xE3069283u);
    unsigned char b[1000];
    for (int i = 0; i < 1000; i++)
        b[i] = (unsigned char)(i * 7);
    for (size_t n = 0; n < 1000; n += 37)
        ck_assert_uint_eq(crc32c(0, b, n), crc32c_sw(0, b, n));
    /* Incremental equals one-shot. */
    ck_assert_uint_eq(crc32c(crc32c(0, b, 100), b + 100, 900), crc32c(0, b, 1000));
}
END_TEST

START_TEST(test_encode_format)
{
    buf_t b = BUF_INIT(&pool);
    wal_entry e = {.seq = 7, .op = WAL_OP_SET, .grp = 1, .key = "foo", .klen = 3, .val = "b\"a\nr", .vlen = 5,
                   .exp = 1700000000000LL};
    wal_encode(&b, &e);
    buf_putc(&b, 0);
    const char *want_prefix = "{\"seq\":7,\"op\":\"set\",\"key\":\"foo\",\"val\":\"b\\\"a\\nr\",\"exp\":1700000000000,\"crc\":\"";
    ck_assert_int_eq(strncmp(b.data, want_prefix, strlen(want_prefix)), 0);
    size_t body = strlen(want_prefix) - strlen(",\"crc\":\"");
    char hex[9];
    codec_hex32(hex, crc32c(0, b.data, body));
    hex[8] = 0;
    ck_assert_int_eq(strncmp(b.data + strlen(want_prefix), hex, 8), 0);
    ck_assert_str_eq(b.data + strlen(want_prefix) + 8, "\"}\n");

    /* Binary goes base64 under key64/val64. */
    buf_reset(&b);
    e = (wal_entry){.seq = 8, .op = WAL_OP_SET, .key = "a\0b", .klen = 3, .val = "\xff", .vlen = 1,
                    .exp = TABLE_NO_EXPIRE};
    wal_encode(&b, &e);
    buf_putc(&b, 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"key64\":\"YQBi\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"val64\":\"/w==\""));
    ck_assert_ptr_null(strstr(b.data, "\"exp\""));
    buf_release(&b);
}
END_TEST

START_TEST(test_every_byte_roundtrips)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    /* Each byte alone as key and as value, then all of them at once, and
     * text with multi-byte UTF-8 and escapes. */
    for (int i = 0; i < 256; i++) {
        char k[2] = {'k', (char)i};
        ap_set(w, k, 2, &all[i], 1, TABLE_NO_EXPIRE);
        ap_set(w, &all[i], 1, k, 2, TABLE_NO_EXPIRE);
    }
    ap_set(w, all, 256, all, 256, TABLE_NO_EXPIRE);
    const char *utf = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \"q\" \\ \t\x01\x7f";
    ap_set(w, utf, strlen(utf), utf, strlen(utf), TABLE_NO_EXPIRE);
    /* Invalid UTF-8 (overlong, surrogate, truncated) must go as base64. */
    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf5\x80\x80\x80"};
    for (int i = 0; i < 4; i++)
        ap_set(w, bad[i], strlen(bad[i]), bad[i], strlen(bad[i]), TABLE_NO_EXPIRE);
    ck_assert_int_eq(wal_close(w), 0);

    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    ck_assert_uint_eq(res.walk.applied, 512 + 1 + 1 + 4);
    for (int i = 0; i < 256; i++) {
        char k[2] = {'k', (char)i};
        assert_val(t2, k, 2, &all[i], 1);
        assert_val(t2, &all[i], 1, k, 2);
    }
    assert_val(t2, all, 256, all, 256);
    assert_val(t2, utf, strlen(utf), utf, strlen(utf));
    for (int i = 0; i < 4; i++)
        assert_val(t2, bad[i], strlen(bad[i]), bad[i], strlen(bad[i]));
    wal_close(w);
    table_free(t);
    table_free(t2);
}
END_TEST

START_TEST(test_one_mib_values)
{
    size_t n = 1 << 20;
    char *text = malloc(n), *bin = malloc(n);
    for (size_t i = 0; i < n; i++) {
        text[i] = (char)('a' + i % 26);
        bin[i] = (char)(i * 131 + 7);
    }
    text[n / 2] = '"'; /* needs escaping */
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    ap_set(w, "text", 4, text, n, TABLE_NO_EXPIRE);
    ap_set(w, "bin", 3, bin, n, TABLE_NO_EXPIRE);
    ck_assert_int_eq(wal_close(w), 0);
    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    assert_val(t2, "text", 4, text, n);
    assert_val(t2, "bin", 3, bin, n);
    wal_close(w);
    table_free(t);
    table_free(t2);
    free(text);
    free(bin);
}
END_TEST

START_TEST(test_flipped_byte_detected)
{
    wal_decoder d;
    wal_decoder_init(&d, &pool);
    buf_t b = BUF_INIT(&pool);
    wal_entry e = {.seq = 12345, .op = WAL_OP_SET, .key = "user:1", .klen = 6, .val = "{\"name\":\"x\"}",
                   .vlen = 12, .exp = 1800000000000LL};
    wal_encode(&b, &e);
    size_t len = b.len - 1; /* without '\n' */
    wal_entry out;
    char why[160];
    ck_assert_int_eq(wal_decode_line(&d, b.data, len, &out, why, sizeof why), 0);
    ck_assert_uint_eq(out.seq, 12345);
    ck_assert_int_eq(out.exp, 1800000000000LL);
    const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            b.data[i] ^= (char)masks[m];
            int rc = wal_decode_line(&d, b.data, len, &out, why, sizeof why);
            ck_assert_msg(rc == -1, "flip 0x%02x at byte %zu not detected", masks[m], i);
            b.data[i] ^= (char)masks[m];
        }
    }
    buf_release(&b);
    wal_decoder_free(&d);
}
END_TEST

START_TEST(test_decode_rules)
{
    wal_decoder d;
    wal_decoder_init(&d, &pool);
    buf_t b = BUF_INIT(&pool);
    wal_entry out;
    char why[160];
    /* Build lines by hand with a correct checksum. */
    const char *bodies[] = {
        "{\"seq\":1,\"op\":\"set\",\"key\":\"k\",\"val\":\"v\",\"future\":[1,2]", /* unknown field: ok */
        "{\"seq\":1,\"op\":\"set\",\"key\":\"k\"",                               /* no val */
        "{\"seq\":1,\"op\":\"del\"",                                             /* no key */
        "{\"op\":\"del\",\"key\":\"k\"",                                         /* no seq */
        "{\"seq\":1,\"op\":\"nope\",\"key\":\"k\"",                              /* bad op */
        "{\"seq\":1.5,\"op\":\"del\",\"key\":\"k\"",                             /* seq not integral */
        "{\"seq\":1,\"op\":\"expire\",\"key\":\"k\"",                            /* expire without exp */
        "{\"seq\":1,\"op\":\"set\",\"key\":\"k\",\"key64\":\"aw==\",\"val\":\"v\"", /* both forms */
        "{\"seq\":1,\"op\":\"set\",\"key64\":\"a\",\"val\":\"v\"",                 /* bad base64 */
        "{\"seq\":1,\"op\":\"flush\"",                                           /* ok */
        "{\"seq\":1,\"op\":\"setrange\",\"key\":\"k\",\"off\":2147483646,\"val\":\"x\"", /* ends at 2 GiB - 1 */
        "{\"seq\":1,\"op\":\"setrange\",\"key\":\"k\",\"off\":2147483647,\"val\":\"x\"", /* past it */
        "{\"seq\":1,\"op\":\"setrange\",\"key\":\"k\",\"val\":\"x\"",                 /* no off */
        "{\"seq\":1,\"op\":\"del\",\"db\":3,\"key\":\"k\"",                            /* ok */
        "{\"seq\":1,\"op\":\"del\",\"db\":0,\"key\":\"k\"",                            /* ok (not canonical) */
        "{\"seq\":1,\"op\":\"del\",\"db\":-1,\"key\":\"k\"",                           /* negative db */
        "{\"seq\":1,\"op\":\"del\",\"db\":\"3\",\"key\":\"k\"",                        /* db a string */
        "{\"seq\":1,\"op\":\"del\",\"db\":2147483647,\"key\":\"k\"",                   /* db too big */
        "{\"seq\":1,\"op\":\"move\",\"key\":\"k\",\"to\":2",                             /* ok */
        "{\"seq\":1,\"op\":\"move\",\"key\":\"k\"",                                      /* move without to */
        "{\"seq\":1,\"op\":\"move\",\"to\":2",                                             /* move without key */
        "{\"seq\":1,\"op\":\"swapdb\",\"db\":1,\"to\":2",                                  /* ok */
        "{\"seq\":1,\"op\":\"swapdb\",\"db\":1",                                           /* swapdb without to */
        "{\"seq\":1,\"op\":\"swapdb\",\"to\":1.5",                                         /* to not integral */
        "{\"seq\":1,\"op\":\"del\",\"key\":\"k\"}junk",                            /* bytes after the object */
    };
    const int ok[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        buf_reset(&b);
        buf_puts(&b, bodies[i]);
        uint32_t crc = crc32c(0, b.data, b.len);
        char hex[9];
        codec_hex32(hex, crc);
        hex[8] = 0;
        buf_appendf(&b, ",\"crc\":\"%s\"}", hex);
        int rc = wal_decode_line(&d, b.data, b.len, &out, why, sizeof why);
        ck_assert_msg((rc == 0) == ok[i], "line %zu: rc %d (%s)", i, rc, why);
    }
    buf_release(&b);
    wal_decoder_free(&d);
}
END_TEST

/* A line with a correct checksum around body ("{...", without the crc). */
static void with_crc(buf_t *b, const char *body)
{
    buf_reset(b);
    buf_puts(b, body);
    char hex[9];
    codec_hex32(hex, crc32c(0, b->data, b->len));
    hex[8] = 0;
    buf_appendf(b, ",\"crc\":\"%s\"}", hex);
}

/* \u0000 in a text field (another tool may write it; kvd writes such
 * values as base64): every byte comes back, whichever decoder reads the
 * line (cJSON's strings end at a NUL). */
START_TEST(test_nul_escapes)
{
    wal_decoder d;
    wal_decoder_init(&d, &pool);
    buf_t b = BUF_INIT(&pool);
    struct {
        const char *body;
        const char *key, *val;
        size_t klen, vlen;
    } cases[] = {
        {"{\"seq\":1,\"op\":\"set\",\"key\":\"a\",\"val\":\"\\u0000\\u00e9\"", "a", "\0\xc3\xa9", 1, 3},
        {"{\"seq\":1,\"op\":\"set\",\"key\":\"a\",\"val\":\"\\u0000\\ud800\\udc00\"", "a", "\0\xf0\x90\x80\x80", 1, 5},
        {"{\"seq\":1,\"op\":\"set\",\"key\":\"a\",\"val\":\"x\\u0000\"", "a", "x\0", 1, 2},
        {"{\"seq\":1, \"op\":\"set\", \"val\":\"v\\u0000w\", \"key\":\"k\\u0000\\n\\\"\", \"x\":[\"\\u0000\",{\"key\":\"no\"}]",
         "k\0\n\"", "v\0w", 4, 3},
        {"{\"seq\":1,\"op\":\"rename\",\"key\":\"s\\u0000\",\"dst\":\"d\\u0000\\u20ac\"", "s\0", "d\0\xe2\x82\xac", 2, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        with_crc(&b, cases[i].body);
        wal_entry e;
        char why[160];
        ck_assert_msg(wal_decode_line(&d, b.data, b.len, &e, why, sizeof why) == 0, "case %zu: %s", i, why);
        ck_assert_uint_eq(e.klen, cases[i].klen);
        ck_assert_int_eq(memcmp(e.key, cases[i].key, e.klen), 0);
        ck_assert_uint_eq(e.vlen, cases[i].vlen);
        ck_assert_msg(memcmp(e.val, cases[i].val, e.vlen) == 0, "case %zu: value bytes", i);
    }
    buf_release(&b);
    wal_decoder_free(&d);
}
END_TEST

static void assert_same_entry(const wal_entry *a, const wal_entry *b)
{
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_int_eq(a->op, b->op);
    ck_assert_uint_eq(a->grp, b->grp);
    ck_assert_uint_eq(a->db, b->db);
    ck_assert_uint_eq(a->to, b->to);
    ck_assert_uint_eq(a->klen, b->klen);
    if (a->klen)
        ck_assert_int_eq(memcmp(a->key, b->key, a->klen), 0);
    ck_assert_uint_eq(a->vlen, b->vlen);
    if (a->vlen)
        ck_assert_int_eq(memcmp(a->val, b->val, a->vlen), 0);
    ck_assert_int_eq(a->exp, b->exp);
    ck_assert_uint_eq(a->off, b->off);
}

START_TEST(test_fast_path_agrees_with_cjson)
{
    /* The canonical-form scanner and cJSON must decode every line the
     * encoder writes to the same entry. */
    wal_decoder fast, slow;
    wal_decoder_init(&fast, &pool);
    wal_decoder_init(&slow, &pool);
    slow.cjson_only = 1;
    buf_t b = BUF_INIT(&pool);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    const char *texts[] = {"", "plain", "q\"uote", "back\\slash", "ctl\x01\x1f\t\n\r\b\f", "h\xc3\xa9 \xe2\x82\xac",
                           "\x7f del", "/slash/"};
    wal_op ops[] = {WAL_OP_SET,    WAL_OP_DEL,    WAL_OP_EXPIRE,  WAL_OP_PERSIST, WAL_OP_FLUSH,
                    WAL_OP_RENAME, WAL_OP_APPEND, WAL_OP_SETRANGE, WAL_OP_MOVE, WAL_OP_SWAPDB};
    const uint32_t dbs[] = {0, 1, 15, 65535, WAL_DB_MAX - 1};
    uint64_t seq = 1;
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
        for (size_t k = 0; k < sizeof texts / sizeof *texts + 1; k++) {
            const char *key = k < 8 ? texts[k] : all;
            size_t klen = k < 8 ? strlen(texts[k]) : 256;
            for (int withexp = 0; withexp < 2; withexp++) {
                wal_entry e = {.seq = seq++, .op = ops[o], .grp = (uint32_t)(k % 3 + 1),
                               .db = dbs[(k + (size_t)withexp) % 5], .key = key, .klen = klen,
                               .val = texts[(k + 3) % 8], .vlen = strlen(texts[(k + 3) % 8]),
                               .exp = (withexp || ops[o] == WAL_OP_EXPIRE) ? 1234567890123LL : TABLE_NO_EXPIRE};
                if (ops[o] == WAL_OP_FLUSH || ops[o] == WAL_OP_SWAPDB)
                    e.klen = 0;
                if (ops[o] == WAL_OP_MOVE || ops[o] == WAL_OP_SWAPDB)
                    e.to = dbs[(k + 2) % 5];
                if (ops[o] != WAL_OP_SET && ops[o] != WAL_OP_RENAME && ops[o] != WAL_OP_APPEND &&
                    ops[o] != WAL_OP_SETRANGE)
                    e.vlen = 0;
                if (ops[o] == WAL_OP_SETRANGE)
                    e.off = k * 1000003u;
                if (ops[o] != WAL_OP_SET && ops[o] != WAL_OP_EXPIRE)
                    e.exp = TABLE_NO_EXPIRE;
                buf_reset(&b);
                wal_encode(&b, &e);
                wal_entry x, y;
                char why[160];
                ck_assert_int_eq(wal_decode_line(&fast, b.data, b.len - 1, &x, why, sizeof why), 0);
                ck_assert_int_eq(wal_decode_line(&slow, b.data, b.len - 1, &y, why, sizeof why), 0);
                if (ops[o] == WAL_OP_FLUSH || ops[o] == WAL_OP_SWAPDB)
                    e.key = x.key;
                assert_same_entry(&x, &y);
                assert_same_entry(&x, &e);
            }
        }
    }
    buf_release(&b);
    wal_decoder_free(&fast);
    wal_decoder_free(&slow);
}
END_TEST

START_TEST(test_docs_worked_example)
{
    /* docs/WAL.md's example line must be one the decoder accepts, with
     * the checksum and the fields the text around it states. */
    const char *src = getenv("KVD_SRCDIR");
    char p[4300];
    snprintf(p, sizeof p, "%s/docs/WAL.md", src && *src ? src : ".");
    size_t n;
    char *doc = tu_read(p, &n);
    char *line = strstr(doc, "\n{\"seq\":42,");
    ck_assert_msg(line != NULL, "no example line in %s", p);
    line++;
    size_t len = (size_t)(strchr(line, '\n') - line);
    wal_decoder d;
    wal_decoder_init(&d, &pool);
    wal_entry e;
    char why[200];
    ck_assert_msg(wal_decode_line(&d, line, len, &e, why, sizeof why) == 0, "the example does not decode: %s", why);
    ck_assert_uint_eq(e.seq, 42);
    ck_assert_int_eq(e.op, WAL_OP_SET);
    ck_assert_int_eq(e.exp, 1767225600000LL);
    char crc[64];
    snprintf(crc, sizeof crc, "CRC-32C of those bytes: `0x%.8s`", line + len - 10);
    ck_assert_msg(strstr(doc, crc) != NULL, "the worked example does not state the line's checksum (%s)", crc);
    ck_assert_ptr_nonnull(strstr(doc, DOC_CRC));
    wal_decoder_free(&d);
    free(doc);
}
END_TEST

/* Write n complete SETs to the file; return its size. */
static long write_n(int n)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    char k[32];
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof k, "key%d", i);
        ap_set(w, k, (size_t)l, "value", 5, TABLE_NO_EXPIRE);
    }
    ck_assert_int_eq(wal_close(w), 0);
    table_free(t);
    return tu_size(path);
}

START_TEST(test_every_truncation_of_last_line)
{
    long base = write_n(3);
    /* The 4th line, appended separately so we know its bytes. */
    buf_t b = BUF_INIT(&pool);
    wal_entry e = {.seq = 4, .op = WAL_OP_SET, .key = "last", .klen = 4, .val = "line\x01", .vlen = 5,
                   .exp = TABLE_NO_EXPIRE};
    wal_encode(&b, &e);
    size_t full;
    char *orig = tu_read(path, &full);
    ck_assert_int_eq((long)full, base);
    char *img = malloc(full + b.len);
    memcpy(img, orig, full);
    memcpy(img + full, b.data, b.len);
    for (size_t cut = 0; cut <= b.len; cut++) {
        tu_write(path, img, full + cut);
        table_t *t = table_new();
        wal_open_result res;
        wal_t *w = open_ok(t, &res);
        int complete = cut == b.len;
        ck_assert_uint_eq(table_count(t), complete ? 4 : 3);
        ck_assert_uint_eq(res.truncated_bytes, complete ? 0 : cut);
        ck_assert_int_eq(res.walk.status, (complete || cut == 0) ? WAL_SCAN_OK : WAL_SCAN_TAIL);
        ck_assert_int_eq(tu_size(path), complete ? (long)(full + cut) : base);
        if (!complete && cut > 0) {
            /* What was cut is kept, byte for byte. */
            size_t klen;
            char *kept = tu_read(res.kept_file, &klen);
            ck_assert_uint_eq(klen, cut);
            ck_assert_int_eq(memcmp(kept, b.data, cut), 0);
            free(kept);
            unlink(res.kept_file);
        }
        /* Appending after the repair continues cleanly. */
        uint64_t seq = ap_set(w, "after", 5, "x", 1, TABLE_NO_EXPIRE);
        ck_assert_uint_eq(seq, complete ? 5 : 4);
        ck_assert_int_eq(wal_close(w), 0);
        table_t *t2 = table_new();
        w = open_ok(t2, &res);
        ck_assert_int_eq(res.walk.status, WAL_SCAN_OK);
        ck_assert_uint_eq(table_count(t2), complete ? 5 : 4);
        assert_val(t2, "after", 5, "x", 1);
        wal_close(w);
        table_free(t);
        table_free(t2);
    }
    free(img);
    free(orig);
    buf_release(&b);
}
END_TEST

/* Write img (n bytes) as the segment, open, and expect it loads the first
 * `keep` bytes (cut == 1) or is refused (cut == 0). */
static void expect_tail(const char *img, size_t n, int cut, long keep, const char *why)
{
    tu_write(path, img, n);
    table_t *t = table_new();
    wal_open_result res;
    char err[1024];
    wal_t *w = open_wal(t, &res, err, sizeof err);
    if (cut) {
        ck_assert_msg(w != NULL, "%s: refused: %s", why, err);
        ck_assert_int_eq(tu_size(path), keep);
        ck_assert_uint_eq(res.truncated_bytes, n - (size_t)keep);
        ck_assert_int_eq(tu_size(res.kept_file), (long)(n - (size_t)keep));
        unlink(res.kept_file);
        wal_close(w);
    } else {
        ck_assert_msg(w == NULL, "%s: opened, but it is not a torn tail", why);
        ck_assert_int_eq(tu_size(path), (long)n); /* left alone */
        ck_assert_ptr_nonnull(strstr(err, "kvd-check-wal --fix"));
    }
    table_free(t);
}

START_TEST(test_what_a_torn_tail_is)
{
    long base = write_n(5);
    size_t n;
    char *good = tu_read(path, &n);
    char *img = malloc(n + 8192);
    memcpy(img, good, n);
    /* Zero blocks after a power loss (no newline in them): cut. */
    memset(img + n, 0, 4096);
    expect_tail(img, n + 4096, 1, base, "zeros");
    /* One damaged complete line, then an incomplete one: cut. */
    static const char torn[] = "{bad}\n{\"seq\":6,\"op";
    memcpy(img + n, torn, sizeof torn - 1);
    expect_tail(img, n + sizeof torn - 1, 1, base, "one damaged line");
    /* Two damaged complete lines: not what a crash leaves. */
    memcpy(img + n, "{bad}\n{bad}\n", 12);
    expect_tail(img, n + 12, 0, 0, "two damaged lines");
    /* A good line after a damaged one: corruption. */
    char *l5 = img;
    for (int i = 0; i < 4; i++)
        l5 = strchr(l5, '\n') + 1;
    size_t l5len = (size_t)(strchr(l5, '\n') + 1 - l5);
    memcpy(img + n, "{bad}\n", 6);
    memcpy(img + n + 6, l5, l5len);
    expect_tail(img, n + 6 + l5len, 0, 0, "good after damaged");
    /* Every line converted to CRLF: all damaged; never wiped. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (good[i] == '\n')
            img[m++] = '\r';
        img[m++] = good[i];
    }
    expect_tail(img, m, 0, 0, "CRLF");
    /* A whole line cut out of the middle: a sequence gap. */
    char *l2 = strchr(good, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    memcpy(img, good, (size_t)(l2 - good));
    memcpy(img + (l2 - good), l3, n - (size_t)(l3 - good));
    expect_tail(img, n - (size_t)(l3 - l2), 0, 0, "gap");
    /* The last line replaced by a valid line with a later seq: a gap
     * too, never a torn tail even at the end. */
    tu_write(path, good, n);
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    w->next_seq += 3;
    ap_set(w, "late", 4, "v", 1, TABLE_NO_EXPIRE);
    wal_close(w);
    table_free(t);
    size_t n2;
    char *gap = tu_read(path, &n2);
    expect_tail(gap, n2, 0, 0, "gap at the end");
    free(gap);
    free(img);
    free(good);
}
END_TEST

/* The prefilled tail (wal.h): with prefill on, the file runs
 * WAL_PREFILL_STEP to twice that past the log, in '\n' bytes; a close or a
 * rotation cuts it off; after a crash the replay ends where it begins,
 * nothing is cut and appends go over it; a torn line before it, or data
 * after its start, is a torn tail. */
START_TEST(test_prefilled_tail)
{
    long base = write_n(5);
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    w->prefill = 1;
    char v[1000];
    memset(v, 'v', sizeof v);
    char k[32];
    for (int i = 0; i < 3000; i++) {
        int l = snprintf(k, sizeof k, "p%d", i);
        ap_set(w, k, (size_t)l, v, sizeof v, TABLE_NO_EXPIRE);
        ck_assert_int_eq(wal_flush(w), 0);
        ck_assert_uint_ge(w->filled, w->size + WAL_PREFILL_STEP);
        ck_assert_uint_le(w->filled, w->size + 2 * WAL_PREFILL_STEP);
    }
    ck_assert_int_eq(tu_size(path), (long)w->filled);
    uint64_t logical = w->size;
    size_t fn;
    char *img = tu_read(path, &fn);
    ck_assert_uint_eq(fn, w->filled);
    for (size_t i = logical; i < fn; i++)
        ck_assert_int_eq(img[i], '\n');
    ck_assert_int_eq(img[logical - 1], '\n');
    ck_assert_int_ne(img[logical - 2], '\n');
    ck_assert_int_eq(wal_close(w), 0);
    ck_assert_int_eq(tu_size(path), (long)logical); /* cut off by the close */
    table_free(t);

    /* A crash leaves the file as it was before the close. */
    tu_write(path, img, fn);
    t = table_new();
    w = open_ok(t, &res);
    ck_assert_int_eq(res.walk.status, WAL_SCAN_OK);
    ck_assert_uint_eq(res.truncated_bytes, 0);
    ck_assert_uint_eq(res.walk.bytes, logical);
    ck_assert_uint_eq(table_count(t), 5 + 3000);
    ck_assert_uint_eq(w->size, logical);
    ck_assert_uint_eq(w->filled, fn);
    ck_assert_int_eq(tu_size(path), (long)fn);
    ck_assert_uint_eq(ap_set(w, "after", 5, "x", 1, TABLE_NO_EXPIRE), 5 + 3000 + 1);
    ck_assert_int_eq(wal_flush(w), 0);
    ck_assert_uint_eq(w->filled, fn); /* written over the tail, which was long enough */
    /* A rotation cuts it off the old segment. */
    uint64_t upto, logical2 = w->size;
    int old_fd;
    char err[512];
    ck_assert_int_eq(wal_rotate(w, &upto, &old_fd, err, sizeof err), 0);
    close(old_fd);
    ck_assert_int_eq(tu_size(path), (long)logical2);
    ck_assert_int_eq(wal_close(w), 0);
    table_free(t);
    t = table_new();
    w = open_ok(t, &res);
    ck_assert_int_eq(res.walk.status, WAL_SCAN_OK);
    ck_assert_uint_eq(table_count(t), 5 + 3000 + 1);
    assert_val(t, "after", 5, "x", 1);
    wal_close(w);
    table_free(t);
    tu_rmdir(dir);
    dir = tu_tmpdir();
    snprintf(path, sizeof path, "%s/kvd.incr.1.jsonl", dir);

    /* A line torn by the crash, ended by the tail's first '\n'. */
    ck_assert_int_eq(write_n(5), base);
    size_t n;
    char *good = tu_read(path, &n);
    size_t m = n + 3 * 4096;
    char *crash = malloc(m);
    memcpy(crash, good, n);
    memset(crash + n, '\n', m - n);
    static const char torn[] = "{\"seq\":6,\"op\":\"set\",\"ke";
    memcpy(crash + n, torn, sizeof torn - 1);
    expect_tail(crash, m, 1, base, "a torn line before the prefilled tail");
    /* A line that reached the disk after the tail's start did not. */
    memset(crash + n, '\n', m - n);
    memcpy(crash + n + 4096, good, (size_t)(strchr(good, '\n') + 1 - good));
    expect_tail(crash, m, 1, base, "data after the prefilled tail's start");
    /* Only blank lines after the log: no cut. */
    memset(crash + n, '\n', m - n);
    tu_write(path, crash, m);
    t = table_new();
    w = open_ok(t, &res);
    ck_assert_int_eq(res.walk.status, WAL_SCAN_OK);
    ck_assert_uint_eq(table_count(t), 5);
    ck_assert_int_eq(tu_size(path), (long)m);
    wal_close(w);
    ck_assert_int_eq(tu_size(path), base);
    table_free(t);
    free(crash);
    free(good);
    free(img);
}
END_TEST

START_TEST(test_middle_corruption_refused)
{
    write_n(5);
    size_t n;
    char *img = tu_read(path, &n);
    /* Flip a byte inside line 3. */
    char *l3 = img;
    for (int i = 0; i < 2; i++)
        l3 = strchr(l3, '\n') + 1;
    uint64_t off = (uint64_t)(l3 - img);
    l3[10] ^= 0x01;
    tu_write(path, img, n);
    table_t *t = table_new();
    wal_open_result res;
    char err[1024];
    wal_t *w = open_wal(t, &res, err, sizeof err);
    ck_assert_ptr_null(w);
    char want[64];
    snprintf(want, sizeof want, "line 3 (byte offset %llu)", (unsigned long long)off);
    ck_assert_msg(strstr(err, want) != NULL, "error does not name line/offset: %s", err);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "kvd-check-wal --fix"));
    /* The file is left alone. */
    ck_assert_int_eq(tu_size(path), (long)n);
    table_free(t);
    free(img);
}
END_TEST

START_TEST(test_seq_continues_after_reopen)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    ck_assert_uint_eq(ap_set(w, "a", 1, "1", 1, TABLE_NO_EXPIRE), 1);
    ck_assert_uint_eq(ap_del(w, "a", 1), 2);
    wal_close(w);
    w = open_ok(t, &res);
    ck_assert_uint_eq(res.walk.last_seq, 2);
    ck_assert_uint_eq(ap_set(w, "b", 1, "1", 1, TABLE_NO_EXPIRE), 3);
    wal_close(w);
    w = open_ok(t, &res);
    ck_assert_uint_eq(res.walk.applied, 3);
    ck_assert_uint_eq(res.walk.last_seq, 3);
    ck_assert_uint_eq(ap_flush(w), 4);
    wal_close(w);
    table_free(t);
}
END_TEST

START_TEST(test_seq_must_increase)
{
    write_n(2);
    size_t n;
    char *img = tu_read(path, &n);
    /* Append the same two lines again: seq goes backwards at line 3. */
    img = realloc(img, 2 * n);
    memcpy(img + n, img, n);
    tu_write(path, img, 2 * n);
    table_t *t = table_new();
    wal_open_result res;
    char err[1024];
    ck_assert_ptr_null(open_wal(t, &res, err, sizeof err));
    ck_assert_msg(strstr(err, "seq 1 where 3 was expected: the sequence goes backwards") != NULL, "%s", err);
    table_free(t);
    free(img);
}
END_TEST

START_TEST(test_replay_is_verbatim)
{
    /* Replay applies entries as logged, whatever the clock says: an
     * expiry already past is kept (the server deletes such keys after the
     * load), so the entries after it act on the key as they did live. */
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    int64_t past = kvd_now_ms() - 60000, future = kvd_now_ms() + 3600000;
    ap_set(w, "p", 1, "v", 1, past);      /* SET p v PX 300 ... */
    ap_persist(w, "p", 1);                /* PERSIST p while it lived */
    ap_set(w, "x", 1, "v", 1, past);
    ap_expire(w, "x", 1, future);         /* EXPIRE x 3600 */
    ap_set(w, "a", 1, "old", 3, TABLE_NO_EXPIRE);
    ap_set(w, "b", 1, "new", 3, past);
    ap_rename(w, "b", 1, "a", 1);         /* RENAME b a */
    ap_set(w, "s", 1, "abc", 3, past);
    ap_append(w, "s", 1, "def", 3);       /* APPEND s def: keeps the TTL */
    ap_set(w, "huge", 4, "v", 1, INT64_MAX);
    ap_set(w, "big", 3, "v", 1, 9007199254740993LL);
    ap_set(w, "e", 1, "v", 1, TABLE_NO_EXPIRE);
    ap_expire(w, "e", 1, 9999999999999000LL);
    ap_set(w, "d", 1, "v", 1, TABLE_NO_EXPIRE);
    ap_del(w, "d", 1);
    ck_assert_int_eq(wal_close(w), 0);

    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    ck_assert_int_eq(tentry_expire(table_find(t2, "p", 1)), TABLE_NO_EXPIRE);
    ck_assert_int_eq(tentry_expire(table_find(t2, "x", 1)), future);
    assert_val(t2, "a", 1, "new", 3);
    ck_assert_int_eq(tentry_expire(table_find(t2, "a", 1)), past);
    ck_assert_ptr_null(table_find(t2, "b", 1));
    assert_val(t2, "s", 1, "abcdef", 6);
    ck_assert_int_eq(tentry_expire(table_find(t2, "s", 1)), past);
    ck_assert_int_eq(tentry_expire(table_find(t2, "huge", 4)), INT64_MAX);
    ck_assert_int_eq(tentry_expire(table_find(t2, "big", 3)), 9007199254740993LL);
    ck_assert_int_eq(tentry_expire(table_find(t2, "e", 1)), 9999999999999000LL);
    ck_assert_ptr_null(table_find(t2, "d", 1));
    ck_assert_uint_eq(table_count(t2), 7);
    /* FLUSH empties everything before it. */
    ap_flush(w);
    ap_set(w, "z", 1, "1", 1, TABLE_NO_EXPIRE);
    wal_close(w);
    table_t *t3 = table_new();
    w = open_ok(t3, &res);
    ck_assert_uint_eq(table_count(t3), 1);
    wal_close(w);
    table_free(t);
    table_free(t2);
    table_free(t3);
}
END_TEST

START_TEST(test_huge_expiries_exact)
{
    /* Expiries at and above 2^53 go as strings, so JSON readers keep them
     * exact; both decoders read both forms. */
    wal_decoder fast, slow;
    wal_decoder_init(&fast, &pool);
    wal_decoder_init(&slow, &pool);
    slow.cjson_only = 1;
    buf_t b = BUF_INIT(&pool);
    const int64_t exps[] = {0, 1, 9007199254740991LL, 9007199254740992LL, 9007199254740993LL,
                            9999999999999000LL, INT64_MAX};
    for (size_t i = 0; i < sizeof exps / sizeof *exps; i++) {
        wal_entry e = {.seq = 1, .op = WAL_OP_SET, .grp = 1, .key = "k", .klen = 1, .val = "v", .vlen = 1,
                       .exp = exps[i]};
        buf_reset(&b);
        wal_encode(&b, &e);
        buf_putc(&b, 0);
        ck_assert_ptr_nonnull(strstr(b.data, exps[i] >= WAL_EXP_NUMBER_MAX ? "\"exp\":\"" : "\"exp\":"));
        wal_entry x, y;
        ck_assert_int_eq(wal_decode_line(&fast, b.data, b.len - 2, &x, NULL, 0), 0);
        ck_assert_int_eq(wal_decode_line(&slow, b.data, b.len - 2, &y, NULL, 0), 0);
        ck_assert_int_eq(x.exp, exps[i]);
        ck_assert_int_eq(y.exp, exps[i]);
    }
    /* Out of range, signed, or not canonical: refused. */
    const char *bad[] = {"\"9223372036854775808\"", "\"-5\"", "\"01\"", "-5", "\"\"", "1e3x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        buf_reset(&b);
        buf_appendf(&b, "{\"seq\":1,\"op\":\"set\",\"key\":\"k\",\"val\":\"v\",\"exp\":%s", bad[i]);
        char hex[9];
        codec_hex32(hex, crc32c(0, b.data, b.len));
        hex[8] = 0;
        buf_appendf(&b, ",\"crc\":\"%s\"}", hex);
        wal_entry x;
        ck_assert_msg(wal_decode_line(&fast, b.data, b.len, &x, NULL, 0) < 0, "accepted exp %s", bad[i]);
    }
    buf_release(&b);
    wal_decoder_free(&fast);
    wal_decoder_free(&slow);
}
END_TEST

START_TEST(test_groups_all_or_nothing)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    ap_set(w, "before", 6, "1", 1, TABLE_NO_EXPIRE);
    wal_group(w, 3);
    ap_set(w, "g1", 2, "1", 1, TABLE_NO_EXPIRE);
    ap_set(w, "g2", 2, "2", 1, TABLE_NO_EXPIRE);
    ap_set(w, "g3", 2, "3", 1, TABLE_NO_EXPIRE);
    ck_assert_int_eq(wal_close(w), 0);
    long whole = tu_size(path);
    size_t n;
    char *img = tu_read(path, &n);
    char *line2 = strchr(img, '\n') + 1;
    ck_assert_ptr_nonnull(strstr(line2, "\"grp\":3"));

    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    ck_assert_uint_eq(table_count(t2), 4);
    wal_close(w);

    /* Cut after the group's second line: the whole group goes. */
    char *cut = strchr(strchr(line2, '\n') + 1, '\n') + 1;
    tu_write(path, img, (size_t)(cut - img));
    table_t *t3 = table_new();
    w = open_ok(t3, &res);
    ck_assert_uint_eq(table_count(t3), 1);
    ck_assert_ptr_nonnull(table_find(t3, "before", 6));
    ck_assert_int_eq(tu_size(path), (long)(line2 - img));
    ck_assert_uint_eq(res.walk.bad_line, 2);
    ck_assert_uint_eq(ap_del(w, "before", 6), 2);
    wal_close(w);
    ck_assert_int_lt(tu_size(path), whole);
    table_free(t);
    table_free(t2);
    table_free(t3);
    free(img);
}
END_TEST

START_TEST(test_failed_write_leaves_no_half_line)
{
    signal(SIGXFSZ, SIG_IGN);
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    ap_set(w, "a", 1, "1", 1, TABLE_NO_EXPIRE);
    ck_assert_int_eq(wal_flush(w), 0);
    long good = tu_size(path);
    /* Let the next write get only part of the way. */
    struct rlimit rl = {(rlim_t)good + 10, (rlim_t)good + 10};
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    rl.rlim_max = old.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    char big[200];
    memset(big, 'v', sizeof big);
    ap_set(w, "b", 1, big, sizeof big, TABLE_NO_EXPIRE);
    int rc = wal_flush(w);
    ck_assert_int_eq(rc, -EFBIG);
    ck_assert_int_eq(wal_error(w), -EFBIG);
    ck_assert_int_eq(tu_size(path), good);
    ck_assert_uint_eq(w->written_seq, 1);
    /* Space comes back: the kept batch is written on retry. */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(wal_flush(w), 0);
    ck_assert_int_eq(wal_error(w), 0);
    ck_assert_uint_eq(w->written_seq, 2);
    ck_assert_int_eq(wal_close(w), 0);
    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    ck_assert_int_eq(res.walk.status, WAL_SCAN_OK);
    assert_val(t2, "b", 1, big, sizeof big);
    wal_close(w);
    table_free(t);
    table_free(t2);
}
END_TEST

START_TEST(test_sync_accounting)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    ap_set(w, "a", 1, "1", 1, TABLE_NO_EXPIRE);
    ck_assert_uint_gt(wal_pending(w), 0);
    ck_assert_int_eq(wal_flush(w), 0);
    ck_assert_uint_eq(wal_pending(w), 0);
    ck_assert_uint_eq(w->written_seq, 1);
    ck_assert_uint_eq(w->durable_seq, 0);
    uint64_t target = w->written_seq;
    ap_set(w, "b", 1, "1", 1, TABLE_NO_EXPIRE); /* arrives during the sync */
    ck_assert_int_eq(wal_sync_fd(wal_fd(w)), 0);
    wal_sync_done(w, target, 0, 10);
    ck_assert_uint_eq(w->durable_seq, 1);
    ck_assert_uint_eq(w->stats.fsyncs, 1);
    /* A failed fsync stops the WAL for good. */
    wal_sync_done(w, 2, -EIO, 10);
    ck_assert_int_eq(wal_error(w), -EIO);
    ck_assert_int_eq(wal_flush(w), -EIO);
    ck_assert_uint_eq(w->durable_seq, 1);
    ck_assert_int_eq(wal_close(w), -EIO);
    table_free(t);
}
END_TEST

START_TEST(test_file_modes)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    wal_close(w);
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    ck_assert_int_eq(kvd_mkdir_p(sub, 0700), 0);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    table_free(t);
}
END_TEST

/* ---- prefetch hints ---- */

/* What a replay with hooks saw: the hints and the applied entries, in
 * the order they came, as "h0 db key", "h1 db key", "a db key". */
typedef struct hint_log {
    char **ev;
    size_t n, cap;
} hint_log;

static void log_ev(hint_log *l, const char *kind, uint32_t db, const char *k, size_t kl)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->ev = realloc(l->ev, l->cap * sizeof *l->ev);
    }
    char *e = malloc(kl + 32);
    int n = snprintf(e, 32, "%s %u ", kind, db);
    memcpy(e + n, k, kl);
    e[n + kl] = 0;
    l->ev[l->n++] = e;
}

static void rec_prefetch(void *ctx, uint32_t db, const char *key, size_t klen, int stage, wal_memo *memo)
{
    (void)memo;
    log_ev(ctx, stage ? "h1" : "h0", db, key, klen);
}

static int rec_apply(void *ctx, const wal_entry *e)
{
    log_ev(ctx, "a", e->db, e->key, e->klen);
    return 0;
}

static int plain(const char *k)
{
    for (; *k; k++)
        if (*k == '"' || *k == '\\' || (unsigned char)*k < 0x20)
            return 0;
    return 1;
}

/* A stage 0 hint " db key" among the 40 events before event i. */
static int hinted_before(const hint_log *l, size_t i, const char *dbkey)
{
    char h0[128];
    snprintf(h0, sizeof h0, "h0%s", dbkey);
    for (size_t j = i; j-- > 0 && j + 40 > i;)
        if (strcmp(l->ev[j], h0) == 0)
            return 1;
    return 0;
}

START_TEST(test_prefetch_hints)
{
    /* 30000 lines, over two read buffers: keys plain and with escapes,
     * databases 0 and 12, values long enough that refills cut lines. */
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    enum { N = 30000 };
    char key[64], val[80];
    memset(val, 'v', sizeof val);
    for (int i = 0; i < N; i++) {
        int kl = snprintf(key, sizeof key, i % 7 == 3 ? "k\"%d\n" : i % 11 == 5 ? "k\\%d" : "key:%d", i);
        wal_entry e = {.op = WAL_OP_SET, .key = key, .klen = (size_t)kl, .val = val, .vlen = 40 + i % 40,
                       .exp = TABLE_NO_EXPIRE, .db = i % 5 == 0 ? 12 : 0};
        wal_append(w, &e);
        if (i % 100 == 99)
            ck_assert_int_eq(wal_flush(w), 0);
    }
    ck_assert_int_eq(wal_flush(w), 0);
    wal_close(w);
    table_free(t);

    hint_log l = {0};
    wal_load_hooks hooks = {.prefetch = rec_prefetch};
    wal_scan_opts o = {.first_seq = 1, .hooks = &hooks};
    wal_scan_result r;
    ck_assert_int_eq(wal_scan(path, &pool, &o, rec_apply, &l, &r), 0);
    ck_assert_int_eq(r.status, WAL_SCAN_OK);
    ck_assert_uint_eq(r.applied, N);
    /* Every hint names a key and database of the file, plain keys only,
     * stage 1 after a stage 0 of the same line; every plain key was
     * hinted before it was applied; the entries come in file order. */
    size_t applied = 0, stage1 = 0, unhinted = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *ev = l.ev[i];
        char kind[3] = {ev[0], ev[1], 0};
        if (ev[0] == 'a') {
            int idx = (int)applied++;
            char want[96];
            int kl = snprintf(key, sizeof key, idx % 7 == 3 ? "k\"%d\n" : idx % 11 == 5 ? "k\\%d" : "key:%d", idx);
            snprintf(want, sizeof want, "a %d %.*s", idx % 5 == 0 ? 12 : 0, kl, key);
            ck_assert_str_eq(ev, want);
            if (!plain(key))
                continue;
            /* Its stage 0 hint came before (but for the first line and
             * the line a refill of the read buffer starts with). */
            unhinted += !hinted_before(&l, i, want + 1);
        } else {
            const char *k = strchr(ev + 3, ' ') + 1;
            ck_assert_msg(plain(k), "a key with escapes was hinted: %s", ev);
            ck_assert_msg(strncmp(k, "key:", 4) == 0, "hinted a key not in the file: %s", ev);
            int idx = atoi(k + 4);
            char want[96];
            snprintf(want, sizeof want, "%s %d key:%d", kind, idx % 5 == 0 ? 12 : 0, idx);
            ck_assert_str_eq(ev, want);
            ck_assert_int_ge(idx, (int)applied); /* ahead of the replay */
            if (ev[1] == '1') {
                stage1++;
                ck_assert_msg(hinted_before(&l, i, want + 2), "stage 1 without stage 0: %s", ev);
            }
        }
    }
    ck_assert_uint_eq(applied, N);
    ck_assert_uint_gt(stage1, N / 2);
    ck_assert_uint_le(unhinted, 1 + r.bytes / (512 << 10)); /* at most one per read */
    for (size_t i = 0; i < l.n; i++)
        free(l.ev[i]);
    free(l.ev);
}
END_TEST

/* What a scan applied, as one string per entry, and how it was told. */
typedef struct scan_seen {
    hint_log log;
    uint64_t hash;
    int progress_calls, backwards, stop_at, stop_once_applied;
    uint64_t last_bytes, last_applied, hints;
} scan_seen;

static int seen_apply(void *ctx, const wal_entry *e)
{
    scan_seen *s = ctx;
    uint64_t h = s->hash ^ (e->seq * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)e->op << 56) ^ ((uint64_t)e->grp << 40) ^
                 ((uint64_t)e->db << 20) ^ e->to ^ e->off ^ (uint64_t)e->exp;
    h = crc32c((uint32_t)h, e->key ? e->key : "", e->klen) ^ (h << 7);
    h = crc32c((uint32_t)h, e->val ? e->val : "", e->vlen) ^ (h << 13) ^ e->vlen;
    s->hash = h;
    log_ev(&s->log, "a", e->db, e->key ? e->key : "", e->key ? (e->klen < 40 ? e->klen : 40) : 0);
    return 0;
}

static void seen_prefetch(void *ctx, uint32_t db, const char *key, size_t klen, int stage, wal_memo *memo)
{
    (void)db, (void)key, (void)klen, (void)stage, (void)memo;
    ((scan_seen *)ctx)->hints++;
}

static int seen_progress(void *ctx, uint64_t bytes, uint64_t applied)
{
    scan_seen *s = ctx;
    if (bytes < s->last_bytes || applied < s->last_applied)
        s->backwards = 1;
    s->last_bytes = bytes;
    s->last_applied = applied;
    s->progress_calls++;
    return (s->stop_at && s->progress_calls >= s->stop_at) || (s->stop_once_applied && applied > 0);
}

static void seen_free(scan_seen *s)
{
    for (size_t i = 0; i < s->log.n; i++)
        free(s->log.ev[i]);
    free(s->log.ev);
}

/* One random file: sets, deletes, appends, expiries, groups (some of
 * them with a big value), values from 0 bytes to over 1 MB, and then,
 * by kind, a clean end, a torn last line, an incomplete group, one
 * damaged line at the end, a damaged line in the middle, or a sequence
 * gap. Returns the file's size. */
static size_t random_file(uint64_t *rng, int kind)
{
    buf_t b, all;
    buf_init(&b, &pool);
    buf_init(&all, &pool);
    size_t n = 1 + tu_rand(rng) % 30000, big = 0;
    char key[64];
    static char val[(1 << 20) + 300];
    memset(val, 'q', sizeof val);
    uint64_t seq = 1;
    size_t mid = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tu_rand(rng);
        uint32_t grp = r % 50 == 0 ? 2 + (uint32_t)(r >> 8) % 4 : 1;
        for (uint32_t g = 0; g < grp; g++, seq++) {
            uint64_t q = tu_rand(rng);
            size_t vl = q % 97 == 0 && big < 4 ? (big++, (1 << 20) + q % 200) : q % 300;
            int kl = snprintf(key, sizeof key, q % 13 == 0 ? "k\"%llu\n" : "key:%llu", (unsigned long long)(q % 5000));
            wal_entry e = {.seq = seq, .op = WAL_OP_SET, .grp = g == 0 ? grp : 1, .db = (uint32_t)(q >> 40) % 3,
                           .key = key, .klen = (size_t)kl, .val = val, .vlen = vl, .exp = WAL_NO_EXPIRE};
            if (grp == 1 && q % 11 == 1)
                e.op = WAL_OP_DEL, e.val = NULL, e.vlen = 0;
            else if (grp == 1 && q % 11 == 2)
                e.op = WAL_OP_APPEND;
            else if (q % 11 == 3)
                e.exp = (int64_t)(q >> 20);
            buf_reset(&b);
            wal_encode(&b, &e);
            if (i == n / 2 && g == 0)
                mid = all.len;
            buf_append(&all, b.data, b.len);
        }
    }
    size_t len = all.len;
    uint64_t r = tu_rand(rng);
    if (kind == 1 && len > 10) {
        len -= 1 + r % 10; /* a torn last line */
    } else if (kind == 2) {
        wal_entry e = {.seq = seq, .op = WAL_OP_SET, .grp = 3, .key = "g", .klen = 1, .val = "v", .vlen = 1,
                       .exp = WAL_NO_EXPIRE};
        buf_reset(&b);
        wal_encode(&b, &e);
        buf_append(&all, b.data, b.len); /* a group that never ends */
        len = all.len;
    } else if (kind == 3) {
        buf_append(&all, "\0\0\0\0\0\0\n", 7); /* zeros where a line was */
        len = all.len;
    } else if (kind == 4 && mid + 20 < len) {
        all.data[mid + 12] ^= 0x20; /* a flipped byte in the middle */
    } else if (kind == 5) {
        wal_entry e = {.seq = seq + 2, .op = WAL_OP_DEL, .grp = 1, .key = "x", .klen = 1, .exp = WAL_NO_EXPIRE};
        buf_reset(&b);
        wal_encode(&b, &e);
        buf_append(&all, b.data, b.len);
        len = all.len;
    }
    tu_write(path, all.data, len);
    buf_release(&b);
    buf_release(&all);
    return len;
}

/* Read on a thread of its own (opts.threaded), a file gives the same
 * entries in the same order and the same result as read inline, clean
 * or damaged in any of the ways random_file damages it; progress never
 * goes backwards, and ends at what was applied. */
START_TEST(test_threaded_scan_agrees)
{
    uint64_t rng = 0x5eed0000ULL + (uint64_t)_i;
    for (int round = 0; round < 6; round++) {
        int kind = round % 6;
        size_t size = random_file(&rng, kind);
        wal_load_hooks hooks = {.prefetch = seen_prefetch};
        scan_seen a = {0}, t = {0};
        wal_scan_opts oa = {.first_seq = 1, .hooks = &hooks, .progress = seen_progress, .pctx = &a};
        wal_scan_opts ot = oa;
        ot.threaded = 1;
        ot.pctx = &t;
        wal_scan_result ra, rt;
        ck_assert_int_eq(wal_scan(path, &pool, &oa, seen_apply, &a, &ra), 0);
        ck_assert_int_eq(wal_scan(path, &pool, &ot, seen_apply, &t, &rt), 0);
        ck_assert_uint_eq(ra.bytes, size);
        ck_assert_int_eq(rt.status, ra.status);
        ck_assert_uint_eq(rt.lines, ra.lines);
        ck_assert_uint_eq(rt.applied, ra.applied);
        ck_assert_uint_eq(rt.first_seq, ra.first_seq);
        ck_assert_uint_eq(rt.last_seq, ra.last_seq);
        ck_assert_uint_eq(rt.good_bytes, ra.good_bytes);
        ck_assert_uint_eq(rt.bad_line, ra.bad_line);
        ck_assert_uint_eq(rt.bad_offset, ra.bad_offset);
        ck_assert_str_eq(rt.bad_reason, ra.bad_reason);
        ck_assert_int_eq(memcmp(rt.ops, ra.ops, sizeof ra.ops), 0);
        ck_assert_uint_eq(t.log.n, a.log.n);
        for (size_t i = 0; i < a.log.n; i++)
            ck_assert_str_eq(t.log.ev[i], a.log.ev[i]);
        ck_assert_uint_eq(t.hash, a.hash);
        ck_assert_int_eq(t.backwards, 0);
        ck_assert_int_ge(t.progress_calls, 1);
        ck_assert_uint_eq(t.last_applied, ra.applied);
        ck_assert_uint_ge(t.hints, t.log.n); /* every entry with a key hinted */
        if (kind == 0)
            ck_assert_int_eq(ra.status, WAL_SCAN_OK);
        seen_free(&a);
        seen_free(&t);
    }
}
END_TEST

/* A progress that says stop stops a threaded scan too: -ECANCELED, and
 * no entry is applied after that call (the first after some were: calls
 * while the reader is still busy with the first batch apply none). */
START_TEST(test_threaded_scan_stops)
{
    uint64_t rng = 77;
    do
        random_file(&rng, 0);
    while (tu_size(path) < (3 << 20));
    scan_seen t = {.stop_once_applied = 1};
    wal_scan_opts o = {.first_seq = 1, .threaded = 1, .progress = seen_progress, .pctx = &t};
    wal_scan_result r;
    ck_assert_int_eq(wal_scan(path, &pool, &o, seen_apply, &t, &r), -ECANCELED);
    ck_assert_uint_gt(t.log.n, 0);
    ck_assert_uint_eq(t.log.n, t.last_applied); /* nothing applied after the call that said stop */
    ck_assert_uint_lt(t.last_bytes, r.bytes);
    seen_free(&t);
}
END_TEST

/* A file that grows while it is scanned (a check of a live segment): the
 * length reported is what was read, never less than the good bytes. */
typedef struct grow_ctx {
    const char *line;
    size_t len;
    int done;
} grow_ctx;

static int grow_apply(void *ctx, const wal_entry *e)
{
    (void)e;
    grow_ctx *g = ctx;
    if (!g->done++) {
        int fd = open(path, O_WRONLY | O_APPEND);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, g->line, g->len), (ssize_t)g->len);
        close(fd);
    }
    return 0;
}

START_TEST(test_scan_of_a_growing_file)
{
    long six = write_n(6);
    size_t n;
    char *img = tu_read(path, &n);
    ck_assert_int_eq(truncate(path, 0), 0);
    long five = write_n(5);
    grow_ctx g = {img + five, (size_t)(six - five), 0};
    wal_scan_result r;
    ck_assert_int_eq(wal_scan(path, &pool, NULL, grow_apply, &g, &r), 0);
    ck_assert_int_eq(r.status, WAL_SCAN_OK);
    ck_assert_uint_eq(r.applied, 6);
    ck_assert_uint_eq(r.good_bytes, (uint64_t)six);
    ck_assert_uint_eq(r.bytes, (uint64_t)six);
    free(img);
}
END_TEST

START_TEST(test_scan_missing_file)
{
    wal_scan_result r;
    ck_assert_int_eq(wal_scan("/nonexistent/kvd.wal", &pool, NULL, NULL, NULL, &r), -ENOENT);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("wal");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_crc32c_known_values);
    tcase_add_test(tc, test_encode_format);
    tcase_add_test(tc, test_every_byte_roundtrips);
    tcase_add_test(tc, test_one_mib_values);
    tcase_add_test(tc, test_flipped_byte_detected);
    tcase_add_test(tc, test_decode_rules);
    tcase_add_test(tc, test_fast_path_agrees_with_cjson);
    tcase_add_test(tc, test_nul_escapes);
    tcase_add_test(tc, test_docs_worked_example);
    tcase_add_test(tc, test_every_truncation_of_last_line);
    tcase_add_test(tc, test_what_a_torn_tail_is);
    tcase_add_test(tc, test_prefilled_tail);
    tcase_add_test(tc, test_middle_corruption_refused);
    tcase_add_test(tc, test_seq_continues_after_reopen);
    tcase_add_test(tc, test_seq_must_increase);
    tcase_add_test(tc, test_replay_is_verbatim);
    tcase_add_test(tc, test_huge_expiries_exact);
    tcase_add_test(tc, test_groups_all_or_nothing);
    tcase_add_test(tc, test_failed_write_leaves_no_half_line);
    tcase_add_test(tc, test_sync_accounting);
    tcase_add_test(tc, test_file_modes);
    tcase_add_loop_test(tc, test_threaded_scan_agrees, 0, 4);
    tcase_add_test(tc, test_threaded_scan_stops);
    tcase_add_test(tc, test_scan_missing_file);
    tcase_add_test(tc, test_scan_of_a_growing_file);
    tcase_add_test(tc, test_prefetch_hints);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
