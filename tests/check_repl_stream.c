/* Unit tests for the replication stream parser: a valid stream (handshake
 * replies, a base, lines with groups and keepalives) fed in random splits
 * comes out the same; a bad CRC, a skipped or repeated seq, a group cut
 * short or broken by another are refused. */
#include "config.h"
#include "testutil.h"

#include <inttypes.h>

#include "buf.h"
#include "pool.h"
#include "repl_stream.h"
#include "wal_codec.h"

static pool_t pool;

static void setup(void)
{
    pool_init(&pool, 0, 0);
}

static void teardown(void)
{
    pool_destroy(&pool);
}

/* Lines from seq first on: a set, a group of three, a del, ... */
static void make_lines(buf_t *b, uint64_t first, int n)
{
    uint64_t seq = first;
    for (int i = 0; i < n; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "key:%d", i);
        snprintf(val, sizeof val, "value %d", i);
        if (i % 5 == 2) {
            for (uint32_t g = 0; g < 3; g++) {
                wal_entry e = {.seq = seq++, .op = WAL_OP_SET, .grp = g == 0 ? 3 : 1, .db = g, .key = key,
                               .klen = strlen(key), .val = val, .vlen = strlen(val), .exp = WAL_NO_EXPIRE};
                wal_encode(b, &e);
            }
        } else {
            wal_entry e = {.seq = seq++, .op = i % 3 ? WAL_OP_SET : WAL_OP_DEL, .grp = 1, .key = key,
                           .klen = strlen(key), .val = val, .vlen = strlen(val), .exp = WAL_NO_EXPIRE};
            wal_encode(b, &e);
        }
        if (i % 7 == 0)
            buf_putc(b, '\n'); /* a keepalive between batches */
    }
}

typedef struct summary {
    int replies;
    uint64_t bulk_bytes;
    int bulk_ends;
    uint64_t groups, lines, last;
    int error;
    char err[200];
} summary;

/* Feed data in pieces of random sizes (seeded); after "+FULLSYNC" the
 * parser is told to expect a base, as the replica does. */
static void run(const char *data, size_t len, unsigned seed, repl_stream_mode mode0, uint64_t seq0, summary *s)
{
    memset(s, 0, sizeof *s);
    repl_stream ps;
    repl_stream_init(&ps, &pool);
    repl_stream_expect(&ps, mode0, seq0);
    buf_t in = BUF_INIT(&pool);
    size_t fed = 0;
    srand(seed);
    while (!s->error) {
        if (fed < len) {
            size_t n = 1 + (size_t)rand() % 97;
            if (n > len - fed)
                n = len - fed;
            buf_append(&in, data + fed, n);
            fed += n;
        }
        size_t pos = 0;
        for (;;) {
            size_t used;
            repl_stream_out o;
            repl_stream_event ev = repl_stream_next(&ps, in.data + pos, in.len - pos, &used, &o);
            pos += used;
            if (ev == RS_MORE)
                break;
            if (ev == RS_ERROR) {
                s->error = 1;
                snprintf(s->err, sizeof s->err, "%s", ps.err);
                break;
            }
            if (ev == RS_REPLY) {
                s->replies++;
                unsigned long long upto;
                char line[128];
                snprintf(line, sizeof line, "%.*s", (int)o.len, o.p);
                if (sscanf(line, "+FULLSYNC %*s %llu", &upto) == 1)
                    repl_stream_expect(&ps, RS_MODE_BULKHDR, upto + 1);
                else if (sscanf(line, "+CONTINUE %*s %llu", &upto) == 1)
                    repl_stream_expect(&ps, RS_MODE_LINES, upto);
            } else if (ev == RS_BULK_DATA) {
                s->bulk_bytes += o.len;
            } else if (ev == RS_BULK_END) {
                s->bulk_ends++;
            } else if (ev == RS_GROUP) {
                ck_assert_uint_eq(o.first, s->groups ? s->last + 1 : o.first);
                ck_assert_uint_eq(o.last - o.first + 1, o.lines);
                ck_assert_int_eq(o.p[o.len - 1], '\n');
                s->groups++;
                s->lines += o.lines;
                s->last = o.last;
            }
        }
        buf_consume(&in, pos);
        if (fed == len && (in.len == 0 || s->error))
            break;
        if (fed == len && pos == 0)
            break; /* an incomplete tail: nothing more will come */
    }
    buf_release(&in);
    repl_stream_free(&ps);
}

START_TEST(test_full_stream_random_splits)
{
    buf_t base = BUF_INIT(&pool), lines = BUF_INIT(&pool), all = BUF_INIT(&pool);
    make_lines(&base, 1, 40); /* any bytes do for a base: it goes to a file */
    make_lines(&lines, 58, 200);
    buf_appendf(&all, "+OK\r\n+FULLSYNC %s 57\r\n\n\n$%zu\r\n", "0123456789012345678901234567890123456789",
                base.len);
    buf_append(&all, base.data, base.len);
    buf_append(&all, lines.data, lines.len);
    for (unsigned seed = 1; seed <= 200; seed++) {
        summary s;
        run(all.data, all.len, seed, RS_MODE_REPLY, 0, &s);
        ck_assert_msg(!s.error, "seed %u: %s", seed, s.err);
        ck_assert_int_eq(s.replies, 2);
        ck_assert_uint_eq(s.bulk_bytes, base.len);
        ck_assert_int_eq(s.bulk_ends, 1);
        ck_assert_uint_eq(s.lines, 200 + 2 * 40); /* every fifth "line" is a group of three */
        ck_assert_uint_eq(s.groups, 200);
        ck_assert_uint_eq(s.last, 57 + 280);
    }
    buf_release(&base);
    buf_release(&lines);
    buf_release(&all);
}
END_TEST

START_TEST(test_continue)
{
    buf_t all = BUF_INIT(&pool), lines = BUF_INIT(&pool);
    make_lines(&lines, 1000, 30);
    buf_appendf(&all, "+CONTINUE %s 1000\r\n", "0123456789012345678901234567890123456789");
    buf_append(&all, lines.data, lines.len);
    summary s;
    run(all.data, all.len, 7, RS_MODE_REPLY, 0, &s);
    ck_assert(!s.error);
    ck_assert_uint_eq(s.last, 999 + 30 + 2 * 6);
    buf_release(&all);
    buf_release(&lines);
}
END_TEST

/* The lines of make_lines(1, n), with one change made by fn. */
static void broken(void (*fn)(buf_t *), const char *expect)
{
    buf_t lines = BUF_INIT(&pool);
    make_lines(&lines, 1, 20);
    fn(&lines);
    for (unsigned seed = 1; seed <= 20; seed++) {
        summary s;
        run(lines.data, lines.len, seed, RS_MODE_LINES, 1, &s);
        ck_assert_msg(s.error, "seed %u: accepted", seed);
        ck_assert_msg(strstr(s.err, expect) != NULL, "seed %u: '%s' does not say '%s'", seed, s.err, expect);
        /* Nothing past the damage came out. */
        ck_assert_uint_le(s.last, 12);
    }
    buf_release(&lines);
}

/* The start of the line carrying seq. */
static char *line_of(buf_t *b, uint64_t seq)
{
    char pat[32];
    snprintf(pat, sizeof pat, "{\"seq\":%" PRIu64 ",", seq);
    char *p = memmem(b->data, b->len, pat, strlen(pat));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void corrupt_crc(buf_t *b)
{
    char *p = line_of(b, 12);
    char *q = memchr(p, ':', 40);
    q = memchr(q + 1, '"', 40); /* the op's opening quote */
    q[1] ^= 0x20;                /* "set" -> "Set": valid JSON, wrong CRC */
}

static void skip_seq(buf_t *b)
{
    char *p = line_of(b, 12), *q = line_of(b, 13);
    memmove(p, q, (size_t)(b->data + b->len - q));
    b->len -= (size_t)(q - p);
}

static void repeat_seq(buf_t *b)
{
    char *p = line_of(b, 12), *q = line_of(b, 13);
    size_t n = (size_t)(q - p);
    char *copy = malloc(n);
    memcpy(copy, p, n);
    size_t at = (size_t)(q - b->data);
    buf_reserve(b, n);
    memmove(b->data + at + n, b->data + at, b->len - at);
    memcpy(b->data + at, copy, n);
    b->len += n;
    free(copy);
}

/* Seq 13 opens a group of 3 (i = 12 % 5 == 2 in make_lines? find it). */
static void cut_group(buf_t *b)
{
    /* make_lines(1, 20): i = 2 is a group at seqs 3..5; drop seq 4. */
    char *p = line_of(b, 4), *q = line_of(b, 5);
    memmove(p, q, (size_t)(b->data + b->len - q));
    b->len -= (size_t)(q - p);
}

static void blank_in_group(buf_t *b)
{
    char *p = line_of(b, 4);
    size_t at = (size_t)(p - b->data);
    buf_reserve(b, 1);
    memmove(b->data + at + 1, b->data + at, b->len - at);
    b->data[at] = '\n';
    b->len++;
}

/* A big group arriving in small pieces: each line is decoded and
 * CRC-checked once, not again with every piece (which made a replica
 * spend time in the square of a transaction's size). */
START_TEST(test_big_group_checked_once)
{
    enum { N = 5000 };
    buf_t b = BUF_INIT(&pool);
    char key[32], val[200];
    memset(val, 'x', sizeof val);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%u", i);
        wal_entry e = {.seq = 1 + i, .op = WAL_OP_SET, .grp = i == 0 ? N : 1, .key = key, .klen = strlen(key),
                       .val = val, .vlen = sizeof val, .exp = WAL_NO_EXPIRE};
        wal_encode(&b, &e);
    }
    buf_putc(&b, '\n'); /* a keepalive after it */
    repl_stream ps;
    repl_stream_init(&ps, &pool);
    repl_stream_expect(&ps, RS_MODE_LINES, 1);
    buf_t in = BUF_INIT(&pool);
    size_t fed = 0;
    int groups = 0;
    while (fed < b.len) {
        size_t n = b.len - fed < 100 ? b.len - fed : 100;
        buf_append(&in, b.data + fed, n);
        fed += n;
        size_t used;
        repl_stream_out o;
        repl_stream_event ev = repl_stream_next(&ps, in.data, in.len, &used, &o);
        ck_assert_int_ne(ev, RS_ERROR);
        if (ev == RS_GROUP) {
            groups++;
            ck_assert_uint_eq(o.lines, N);
            ck_assert_uint_eq(o.first, 1);
            ck_assert_uint_eq(o.last, N);
            ck_assert_uint_eq(o.len, b.len - 1);
        }
        buf_consume(&in, used);
    }
    ck_assert_int_eq(groups, 1);
    ck_assert_uint_eq(ps.lines_checked, N);
    /* And the stream goes on after it. */
    buf_reset(&b);
    wal_entry e = {.seq = N + 1, .op = WAL_OP_DEL, .grp = 1, .key = "k1", .klen = 2, .exp = WAL_NO_EXPIRE};
    wal_encode(&b, &e);
    buf_append(&in, b.data, b.len);
    size_t used;
    repl_stream_out o;
    ck_assert_int_eq(repl_stream_next(&ps, in.data, in.len, &used, &o), RS_GROUP);
    ck_assert_uint_eq(o.first, N + 1);
    buf_release(&in);
    buf_release(&b);
    repl_stream_free(&ps);
}
END_TEST

START_TEST(test_bad_crc)
{
    broken(corrupt_crc, "checksum");
}
END_TEST

START_TEST(test_skipped_seq)
{
    broken(skip_seq, "where seq 12 was due");
}
END_TEST

START_TEST(test_repeated_seq)
{
    broken(repeat_seq, "where seq 13 was due");
}
END_TEST

START_TEST(test_group_cut)
{
    broken(cut_group, "where seq 4 was due");
}
END_TEST

START_TEST(test_blank_inside_group)
{
    broken(blank_in_group, "inside a group");
}
END_TEST

START_TEST(test_bad_bulk_header)
{
    const char *s1 = "+FULLSYNC 0123456789012345678901234567890123456789 5\r\n+OK\r\n";
    summary s;
    run(s1, strlen(s1), 1, RS_MODE_REPLY, 0, &s);
    ck_assert(s.error);
    ck_assert_ptr_nonnull(strstr(s.err, "header"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("repl_stream");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_full_stream_random_splits);
    tcase_add_test(tc, test_continue);
    tcase_add_test(tc, test_big_group_checked_once);
    tcase_add_test(tc, test_bad_crc);
    tcase_add_test(tc, test_skipped_seq);
    tcase_add_test(tc, test_repeated_seq);
    tcase_add_test(tc, test_group_cut);
    tcase_add_test(tc, test_blank_inside_group);
    tcase_add_test(tc, test_bad_bulk_header);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
