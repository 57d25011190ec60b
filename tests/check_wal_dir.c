/* Unit tests for the WAL of a data directory: the manifest (round trip,
 * far over 64 KiB), migration from a single file, rotation (and none away
 * from an empty segment), installing a base, the orphan sweep, the
 * sequence checked across files, torn tails cut only in the newest
 * segment, their bytes kept, and a watched replay: its progress across
 * the files, and stopped, it writes nothing. */
#include "config.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>

#include "apply.h"
#include "manifest.h"
#include "table.h"
#include "util.h"
#include "wal.h"
#include "wal_dir.h"

static pool_t pool;
static char *dir;

static void setup(void)
{
    pool_init(&pool, 0, 0);
    dir = tu_tmpdir();
}

static void teardown(void)
{
    tu_rmdir(dir);
    pool_destroy(&pool);
}

static wal_t *open_dir(table_t *t, wal_open_result *res, char *err, size_t errlen)
{
    keyspace ks = {.db = &t, .n = 1};
    wal_t *w = wal_open_dir(dir, &pool, apply_replay, &ks, &apply_hooks, res, err, errlen);
    table_expand_done(t);
    return w;
}

static wal_t *open_ok(table_t *t, wal_open_result *res)
{
    char err[2048];
    wal_t *w = open_dir(t, res, err, sizeof err);
    ck_assert_msg(w != NULL, "open failed: %s", err);
    return w;
}

/* Open, expect a refusal whose message holds want. */
static void open_refused(const char *want)
{
    table_t *t = table_new();
    wal_open_result res;
    char err[2048];
    wal_t *w = open_dir(t, &res, err, sizeof err);
    ck_assert_msg(w == NULL, "opened, expected a refusal with \"%s\"", want);
    ck_assert_msg(strstr(err, want) != NULL, "refused, but with: %s", err);
    table_free(t);
}

static void put(wal_t *w, const char *k, const char *v)
{
    wal_entry e = {.op = WAL_OP_SET, .key = k, .klen = strlen(k), .val = v, .vlen = strlen(v), .exp = TABLE_NO_EXPIRE};
    wal_append(w, &e);
}

static void path_of(char *dst, size_t n, int base, uint64_t num)
{
    wal_file_path(dst, n, dir, base, num);
}

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

START_TEST(test_manifest_round_trip_over_64k)
{
    manifest m, back;
    manifest_init(&m);
    m.base = 7;
    m.base_upto = 123456789012ULL;
    /* 20000 segments: about 330 KB of manifest. */
    for (uint64_t i = 0; i < 20000; i++)
        ck_assert_int_eq(manifest_add_incr(&m, 1000000000000ULL + i * 3), 0);
    char err[512];
    int renamed = 0;
    ck_assert_int_eq(manifest_store(dir, &m, &renamed, err, sizeof err), 0);
    ck_assert_int_eq(renamed, 1);
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, MANIFEST_NAME);
    ck_assert_int_gt(tu_size(p), 300000);
    ck_assert_int_eq(manifest_load(dir, &back, err, sizeof err), 0);
    ck_assert_uint_eq(back.base, 7);
    ck_assert_uint_eq(back.base_upto, 123456789012ULL);
    ck_assert_uint_eq(back.nincr, 20000);
    for (size_t i = 0; i < back.nincr; i++)
        ck_assert_uint_eq(back.incr[i], m.incr[i]);
    manifest_free(&back);
    /* A byte changed anywhere is caught by the checksum. */
    size_t n;
    char *text = tu_read(p, &n);
    text[n / 2] ^= 1;
    tu_write(p, text, n);
    ck_assert_int_eq(manifest_load(dir, &back, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "is not a valid kvd manifest"));
    free(text);
    manifest_free(&m);
}
END_TEST

START_TEST(test_new_dir_and_migration)
{
    /* An empty dir gets segment 1 and a manifest. */
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    put(w, "a", "1");
    ck_assert_int_eq(wal_close(w), 0);
    char p[4300];
    path_of(p, sizeof p, 0, 1);
    ck_assert(exists(p));
    table_free(t);
    /* A single-file kvd.wal becomes segment 1 of a new dir. */
    char legacy[4300];
    snprintf(legacy, sizeof legacy, "%s/kvd.wal", dir);
    ck_assert_int_eq(rename(p, legacy), 0);
    snprintf(p, sizeof p, "%s/%s", dir, MANIFEST_NAME);
    unlink(p);
    t = table_new();
    w = open_ok(t, &res);
    ck_assert_int_eq(res.migrated, 1);
    ck_assert_ptr_nonnull(table_find(t, "a", 1));
    ck_assert(!exists(legacy));
    wal_close(w);
    table_free(t);
    /* Segment files without a manifest are refused. */
    unlink(p);
    open_refused("holds WAL segment files but no kvd.manifest");
}
END_TEST

START_TEST(test_rotate_and_install_base)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    uint64_t upto;
    int old_fd;
    char err[1024];
    /* Nothing written yet: nothing to rotate away from. */
    ck_assert_int_eq(wal_rotate(w, &upto, &old_fd, err, sizeof err), 0);
    ck_assert_int_eq(old_fd, -1);
    ck_assert_uint_eq(w->man.nincr, 1);
    put(w, "a", "1");
    put(w, "b", "2");
    /* Entries waiting in the batch: the caller must write them first. */
    ck_assert_int_eq(wal_rotate(w, &upto, &old_fd, err, sizeof err), -EBUSY);
    ck_assert_int_eq(wal_flush(w), 0);
    ck_assert_int_eq(wal_rotate(w, &upto, &old_fd, err, sizeof err), 0);
    ck_assert_int_ge(old_fd, 0);
    close(old_fd);
    ck_assert_uint_eq(upto, 2);
    ck_assert_uint_eq(w->man.nincr, 2);
    ck_assert_uint_eq(w->durable_seq, 2); /* the old segment was synced */
    put(w, "c", "3");
    ck_assert_int_eq(wal_flush(w), 0);
    /* A base of what the table held at the rotation (seq 1..2). */
    table_t *snap = table_new();
    table_set(snap, "a", 1, "1", 1, TABLE_NO_EXPIRE, NULL);
    table_set(snap, "b", 1, "2", 1, 1000, NULL); /* long expired: kept as it is */
    uint64_t num = wal_next_file_number(w), entries = 0, bytes = 0;
    char tmp[4300];
    wal_base_path(w, num, 1, tmp, sizeof tmp);
    ck_assert_int_eq(wal_write_base(&snap, 1, tmp, &pool, NULL, NULL, &entries, &bytes), 0);
    ck_assert_uint_eq(entries, 2);
    ck_assert_int_eq(wal_install_base(w, num, upto, w->man.incr[1], bytes, err, sizeof err), 0);
    char p[4300];
    path_of(p, sizeof p, 0, 1);
    ck_assert(!exists(p)); /* the retired segment is gone */
    ck_assert_uint_eq(w->man.base, num);
    ck_assert_uint_eq(w->man.base_upto, 2);
    ck_assert_int_eq(wal_close(w), 0);
    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    ck_assert_uint_eq(table_count(t2), 3);
    ck_assert_int_eq(tentry_expire(table_find(t2, "b", 1)), 1000);
    ck_assert_uint_eq(res.walk.last_seq, 3);
    wal_close(w);
    table_free(t);
    table_free(t2);
    table_free(snap);
}
END_TEST

/* A server hands the retired files to a worker: wal_install_base gives
 * them to the hook and deletes nothing itself; wal_unlink_retired then
 * removes them, a large one in steps. */
static char **handed;
static size_t nhanded;
static char handed_dir[4300];
static void keep_retired(char **paths, size_t n, const char *where)
{
    handed = paths;
    nhanded = n;
    snprintf(handed_dir, sizeof handed_dir, "%s", where);
}

START_TEST(test_retire_hook)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    w->retire = keep_retired;
    /* 20 MB in segment 1: more than one step of the shrinking. */
    char val[1000];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < 20000; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%d", i);
        put(w, k, val);
        if (i % 1000 == 999)
            ck_assert_int_eq(wal_flush(w), 0);
    }
    uint64_t upto, entries = 0, bytes = 0;
    int old_fd;
    char err[1024], tmp[4300], seg1[4300];
    ck_assert_int_eq(wal_rotate(w, &upto, &old_fd, err, sizeof err), 0);
    close(old_fd);
    table_t *snap = table_new();
    table_set(snap, "a", 1, "1", 1, TABLE_NO_EXPIRE, NULL);
    uint64_t num = wal_next_file_number(w);
    wal_base_path(w, num, 1, tmp, sizeof tmp);
    ck_assert_int_eq(wal_write_base(&snap, 1, tmp, &pool, NULL, NULL, &entries, &bytes), 0);
    ck_assert_int_eq(wal_install_base(w, num, upto, w->man.incr[1], bytes, err, sizeof err), 0);
    path_of(seg1, sizeof seg1, 0, 1);
    ck_assert_uint_eq(nhanded, 1);
    ck_assert_str_eq(handed[0], seg1);
    ck_assert_str_eq(handed_dir, w->dir);
    ck_assert(exists(seg1)); /* not deleted by wal_install_base */
    wal_unlink_retired(handed, nhanded, handed_dir);
    ck_assert(!exists(seg1));
    wal_close(w);
    table_free(t);
    table_free(snap);
}
END_TEST

START_TEST(test_orphans_swept)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    put(w, "a", "1");
    ck_assert_int_eq(wal_flush(w), 0);
    uint64_t upto;
    int old_fd;
    char err[1024];
    ck_assert_int_eq(wal_rotate(w, &upto, &old_fd, err, sizeof err), 0); /* segments 1 and 2 */
    close(old_fd);
    put(w, "b", "2");
    wal_close(w);
    /* What a crash during a rotation or compaction leaves behind: temp
     * files, an empty segment never listed, a base never installed. */
    char p[4300];
    const char *names[] = {"kvd.incr.9.jsonl", "kvd.base.8.jsonl", "kvd.base.10.jsonl.tmp", "kvd.manifest.tmp"};
    const char *contents[] = {"", "x\n", "x\n", "x\n"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        tu_write(p, contents[i], strlen(contents[i]));
    }
    snprintf(p, sizeof p, "%s/notes.txt", dir); /* not ours: left alone */
    tu_write(p, "keep", 4);
    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    ck_assert_int_eq(res.orphans_removed, 4);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        ck_assert_msg(!exists(p), "%s not removed", names[i]);
    }
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    ck_assert(exists(p));
    ck_assert_ptr_nonnull(table_find(t2, "a", 1));
    wal_close(w);
    /* A segment with data the manifest does not list, numbered after the
     * listed ones: no crash leaves that, so it is neither deleted nor
     * loaded: the open is refused. */
    snprintf(p, sizeof p, "%s/kvd.incr.7.jsonl", dir);
    tu_write(p, "data\n", 5);
    open_refused("holds WAL files with data that kvd.manifest does not list: kvd.incr.7.jsonl (5 bytes)");
    ck_assert(exists(p));
    unlink(p);
    table_free(t);
    table_free(t2);
}
END_TEST

START_TEST(test_one_writer_per_dir)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    open_refused("is in use by another process");
    wal_close(w);
    wal_t *w2 = open_ok(t, &res); /* released with the writer */
    wal_close(w2);
    table_free(t);
}
END_TEST

START_TEST(test_migration_cut_short)
{
    /* kvd.wal linked as segment 1, then a crash before the manifest. */
    char legacy[4300], seg[4300];
    snprintf(legacy, sizeof legacy, "%s/kvd.wal", dir);
    path_of(seg, sizeof seg, 0, 1);
    int fd = open(legacy, O_WRONLY | O_CREAT | O_APPEND, 0600);
    wal_t *w = wal_writer_new(legacy, fd, &pool, 0, 0);
    put(w, "old", "v");
    ck_assert_int_eq(wal_close(w), 0);
    ck_assert_int_eq(link(legacy, seg), 0);
    table_t *t = table_new();
    wal_open_result res;
    w = open_ok(t, &res);
    ck_assert_ptr_nonnull(table_find(t, "old", 3));
    ck_assert(!exists(legacy));
    wal_close(w);
    /* ... or after the manifest, before kvd.wal was unlinked. */
    ck_assert_int_eq(link(seg, legacy), 0);
    table_t *t2 = table_new();
    w = open_ok(t2, &res);
    ck_assert_ptr_nonnull(table_find(t2, "old", 3));
    ck_assert(!exists(legacy));
    wal_close(w);
    table_free(t);
    table_free(t2);
}
END_TEST

/* Three segments: 1 (seq 1..3), 2 (4..6), 3 (7..9). */
static void three_segments(void)
{
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    char k[8];
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 3; i++) {
            snprintf(k, sizeof k, "k%d", s * 3 + i);
            put(w, k, "v");
        }
        ck_assert_int_eq(wal_flush(w), 0);
        if (s < 2) {
            uint64_t upto;
            int old_fd;
            char err[1024];
            ck_assert_int_eq(wal_rotate(w, &upto, &old_fd, err, sizeof err), 0);
            close(old_fd);
        }
    }
    wal_close(w);
    table_free(t);
}

START_TEST(test_sequence_across_files)
{
    three_segments();
    char p1[4300], p2[4300], p3[4300];
    path_of(p1, sizeof p1, 0, 1);
    path_of(p2, sizeof p2, 0, 2);
    path_of(p3, sizeof p3, 0, 3);
    size_t n1, n2;
    char *s1 = tu_read(p1, &n1), *s2 = tu_read(p2, &n2);
    /* A middle segment emptied: seq 4..6 are missing. */
    tu_write(p2, "", 0);
    open_refused("seq 7 where 4 was expected: entries 4..6 are missing");
    /* ... or cut at a line boundary. */
    char *l2 = strchr(s2, '\n') + 1;
    tu_write(p2, s2, (size_t)(l2 - s2));
    open_refused("seq 7 where 5 was expected");
    tu_write(p2, s2, n2);
    /* A line deleted from the middle of a segment. */
    char *l1 = strchr(s1, '\n') + 1, *l1b = strchr(l1, '\n') + 1;
    char *img = malloc(n1);
    memcpy(img, s1, (size_t)(l1 - s1));
    memcpy(img + (l1 - s1), l1b, n1 - (size_t)(l1b - s1));
    tu_write(p1, img, n1 - (size_t)(l1b - l1));
    open_refused("seq 3 where 2 was expected");
    tu_write(p1, s1, n1);
    /* A torn tail in a segment newer ones follow: not a crash's doing. */
    char *torn = malloc(n1 + 10);
    memcpy(torn, s1, n1);
    memcpy(torn + n1, "{\"seq\":4,", 9);
    tu_write(p1, torn, n1 + 9);
    open_refused("in a file that newer segments follow");
    tu_write(p1, s1, n1);
    /* All well again: everything loads, in order. */
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    ck_assert_uint_eq(table_count(t), 9);
    ck_assert_uint_eq(res.walk.last_seq, 9);
    wal_close(w);
    table_free(t);
    free(s1);
    free(s2);
    free(img);
    free(torn);
}
END_TEST

START_TEST(test_base_then_gap)
{
    /* A base covering seq 1..300 followed by a segment starting at 401. */
    table_t *t = table_new();
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "b%d", i);
        table_set(t, k, strlen(k), "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    char bp[4300], p[4300], err[1024];
    path_of(bp, sizeof bp, 1, 5);
    uint64_t entries, bytes;
    ck_assert_int_eq(wal_write_base(&t, 1, bp, &pool, NULL, NULL, &entries, &bytes), 0);
    manifest m;
    manifest_init(&m);
    m.base = 5;
    m.base_upto = 300;
    manifest_add_incr(&m, 6);
    ck_assert_int_eq(manifest_store(dir, &m, NULL, err, sizeof err), 0);
    path_of(p, sizeof p, 0, 6);
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
    wal_t *w = wal_writer_new(p, fd, &pool, 400, 0);
    put(w, "late", "v");
    ck_assert_int_eq(wal_close(w), 0);
    open_refused("seq 401 where 301 was expected: entries 301..400 are missing");
    /* The right start loads. */
    fd = open(p, O_WRONLY | O_TRUNC);
    close(fd);
    fd = open(p, O_WRONLY | O_APPEND);
    w = wal_writer_new(p, fd, &pool, 300, 0);
    put(w, "next", "v");
    ck_assert_int_eq(wal_close(w), 0);
    table_t *t2 = table_new();
    wal_open_result res;
    w = open_ok(t2, &res);
    ck_assert_uint_eq(table_count(t2), 301);
    ck_assert_uint_eq(res.walk.last_seq, 301);
    wal_close(w);
    manifest_free(&m);
    table_free(t);
    table_free(t2);
}
END_TEST

START_TEST(test_base_cut_at_a_line)
{
    /* A base cut at a line boundary (or emptied) scans clean: the size
     * the manifest records tells. */
    table_t *t = table_new();
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "b%d", i);
        table_set(t, k, strlen(k), "v", 1, TABLE_NO_EXPIRE, NULL);
    }
    char bp[4300], p[4300], err[1024];
    path_of(bp, sizeof bp, 1, 2);
    uint64_t entries, bytes;
    ck_assert_int_eq(wal_write_base(&t, 1, bp, &pool, NULL, NULL, &entries, &bytes), 0);
    manifest m;
    manifest_init(&m);
    m.base = 2;
    m.base_upto = 100;
    m.base_bytes = bytes;
    manifest_add_incr(&m, 3);
    ck_assert_int_eq(manifest_store(dir, &m, NULL, err, sizeof err), 0);
    path_of(p, sizeof p, 0, 3);
    tu_write(p, "", 0);
    table_t *t2 = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t2, &res);
    ck_assert_uint_eq(table_count(t2), 100);
    wal_close(w);
    size_t n;
    char *img = tu_read(bp, &n);
    char *half = img;
    for (int i = 0; i < 50; i++)
        half = strchr(half, '\n') + 1;
    tu_write(bp, img, (size_t)(half - img));
    char want[200];
    snprintf(want, sizeof want, "the base holds %zu bytes where the manifest records %llu: lines are missing",
             (size_t)(half - img), (unsigned long long)bytes);
    open_refused(want);
    tu_write(bp, "", 0);
    open_refused("lines are missing");
    free(img);
    manifest_free(&m);
    table_free(t);
    table_free(t2);
}
END_TEST

START_TEST(test_torn_tail_only_in_newest)
{
    three_segments();
    char p3[4300];
    path_of(p3, sizeof p3, 0, 3);
    long good = tu_size(p3);
    FILE *f = fopen(p3, "ab");
    fputs("{\"seq\":10,\"op\":\"set\",\"ke", f);
    fclose(f);
    table_t *t = table_new();
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    ck_assert_int_eq(tu_size(p3), good);
    ck_assert_uint_eq(res.truncated_bytes, 24);
    ck_assert_str_eq(res.truncated_file, p3);
    size_t kn;
    char *kept = tu_read(res.kept_file, &kn);
    ck_assert_uint_eq(kn, 24);
    ck_assert_int_eq(memcmp(kept, "{\"seq\":10,\"op\":\"set\",\"ke", 24), 0);
    ck_assert_uint_eq(table_count(t), 9);
    /* New writes continue the sequence. */
    put(w, "k9", "v");
    ck_assert_uint_eq(w->next_seq, 11);
    wal_close(w);
    free(kept);
    table_free(t);
}
END_TEST

typedef struct watched {
    int calls, stop_after;   /* stop_after: the call that returns 1 (0: never) */
    uint64_t stop_past;      /* or the first call past this many bytes (0: never) */
    uint64_t bytes, total, entries;
    int backwards;           /* a figure went down */
} watched;

static int watch_progress(void *ctx, uint64_t bytes, uint64_t total, uint64_t entries)
{
    watched *w = ctx;
    if (w->calls && (bytes < w->bytes || entries < w->entries || total != w->total))
        w->backwards = 1;
    w->calls++;
    w->bytes = bytes;
    w->total = total;
    w->entries = entries;
    return (w->stop_after && w->calls >= w->stop_after) || (w->stop_past && bytes > w->stop_past);
}

START_TEST(test_watched_replay)
{
    /* Three segments, the newest over 3 MB: a watch hears about each
     * MB, across the files, and can stop the replay. */
    three_segments();
    table_t *t = table_new();
    keyspace ks1 = {.db = &t, .n = 1}; /* follows t */
    wal_open_result res;
    wal_t *w = open_ok(t, &res);
    char k[32], v[200];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0; i < 15000; i++) {
        snprintf(k, sizeof k, "big%d", i);
        put(w, k, v);
    }
    ck_assert_int_eq(wal_close(w), 0);
    table_free(t);
    char p1[4300], p2[4300], p3[4300];
    path_of(p1, sizeof p1, 0, 1);
    path_of(p2, sizeof p2, 0, 2);
    path_of(p3, sizeof p3, 0, 3);
    uint64_t total = (uint64_t)(tu_size(p1) + tu_size(p2) + tu_size(p3));
    ck_assert_uint_gt(total, 3u << 20);

    watched seen = {0};
    wal_replay_watch watch = {.progress = watch_progress, .ctx = &seen};
    char err[2048];
    t = table_new();
    w = wal_open_dir_watched(dir, -1, &pool, apply_replay, &ks1, &apply_hooks, &watch, &res, err, sizeof err);
    ck_assert_msg(w != NULL, "open failed: %s", err);
    ck_assert_int_ge(seen.calls, 4); /* the start, then about one per MB */
    ck_assert_int_eq(seen.backwards, 0);
    ck_assert_uint_eq(seen.total, total);
    ck_assert_uint_eq(seen.bytes, total);
    ck_assert_uint_eq(seen.entries, 15009);
    wal_close(w);
    table_free(t);

    /* Stopped once inside the newest segment (the first call that reports
     * bytes of it, about its first MB): NULL, and nothing written, not even
     * the cut of a torn tail or the removal of a stray. */
    FILE *f = fopen(p3, "ab");
    fputs("{\"seq\":99999,\"op\":\"set\",\"ke", f);
    fclose(f);
    long torn = tu_size(p3);
    char stray[4300];
    snprintf(stray, sizeof stray, "%s/kvd.incr.7.jsonl.tmp", dir);
    tu_write(stray, "x", 1);
    seen = (watched){.stop_past = (uint64_t)(tu_size(p1) + tu_size(p2))};
    t = table_new();
    w = wal_open_dir_watched(dir, -1, &pool, apply_replay, &ks1, &apply_hooks, &watch, &res, err, sizeof err);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(err, "the replay was stopped in") != NULL, "err: %s", err);
    ck_assert_uint_gt(seen.bytes, (uint64_t)(tu_size(p1) + tu_size(p2)));
    ck_assert_uint_lt(seen.bytes, total);
    ck_assert_int_eq(tu_size(p3), torn);
    ck_assert(exists(stray));
    char kept[4400];
    snprintf(kept, sizeof kept, "%s.broken", p3);
    ck_assert(!exists(kept));
    table_free(t);
    /* Stopped at the start: nothing replayed. */
    seen = (watched){.stop_after = 1};
    t = table_new();
    w = wal_open_dir_watched(dir, -1, &pool, apply_replay, &ks1, &apply_hooks, &watch, &res, err, sizeof err);
    ck_assert_ptr_null(w);
    ck_assert_uint_eq(table_count(t), 0);
    table_free(t);
    /* Not stopped, it loads as ever: the tail cut and kept, the stray gone. */
    t = table_new();
    w = open_ok(t, &res);
    ck_assert_uint_eq(table_count(t), 15009);
    ck_assert(exists(kept));
    ck_assert(!exists(stray));
    wal_close(w);
    table_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("wal_dir");
    TCase *tc = tcase_create("dir");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_manifest_round_trip_over_64k);
    tcase_add_test(tc, test_new_dir_and_migration);
    tcase_add_test(tc, test_rotate_and_install_base);
    tcase_add_test(tc, test_retire_hook);
    tcase_add_test(tc, test_orphans_swept);
    tcase_add_test(tc, test_one_writer_per_dir);
    tcase_add_test(tc, test_migration_cut_short);
    tcase_add_test(tc, test_sequence_across_files);
    tcase_add_test(tc, test_base_then_gap);
    tcase_add_test(tc, test_base_cut_at_a_line);
    tcase_add_test(tc, test_torn_tail_only_in_newest);
    tcase_add_test(tc, test_watched_replay);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
