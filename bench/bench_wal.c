/* bench_wal: the storage engine's benchmarks.
 *  1. WAL encode, three ways, 1M SET entries (16-byte key, 100-byte value):
 *     the pooled writer; the same encoder with a malloc/free per entry; a
 *     cJSON tree plus cJSON_PrintUnformatted per entry. Allocations are
 *     counted by wrapping malloc/calloc/realloc/free in this binary.
 *  2. Replay of a 1M-entry WAL into the table (entries/s).
 *  3. Table memory: bytes per key, and overhead beyond key+value bytes.
 * Usage: bench_wal [N]   (default 1000000) */
#include "config.h"
#include "codec.h"
#include "crc32c.h"
#include "pool.h"
#include "table.h"
#include "util.h"
#include "apply.h"
#include "wal.h"
#include "wal_dir.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- allocation counting: interpose the C allocator ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static int counting;
static unsigned long long n_allocs, n_bytes;

void *malloc(size_t n)
{
    if (counting) {
        n_allocs++;
        n_bytes += n;
    }
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
    if (counting) {
        n_allocs++;
        n_bytes += n * m;
    }
    return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
    if (counting) {
        n_allocs++;
        n_bytes += n;
    }
    return __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}

#define BATCH 64 /* entries per flush, like one busy loop iteration */

static char key[17], val[101];

/* Key "key:" + 12 digits of i; value 100 letters whose first bytes vary
 * with i. Cheap, so the timings are the encoder's, not snprintf's. */
static void make_kv(long i)
{
    static int init;
    if (!init) {
        memcpy(key, "key:", 4);
        for (int j = 0; j < 100; j++)
            val[j] = (char)('a' + j % 26);
        init = 1;
    }
    long v = i;
    for (int j = 15; j >= 4; j--) {
        key[j] = (char)('0' + v % 10);
        v /= 10;
    }
    for (int j = 0; j < 8; j++)
        val[j] = (char)('a' + (i >> (j * 3)) % 26);
}

static void report(const char *name, long n, uint64_t ns)
{
    printf("%-16s %8ld ops %9.1f ns/op %8.1f B/op %7.2f allocs/op\n", name, n, (double)ns / (double)n,
           (double)n_bytes / (double)n, (double)n_allocs / (double)n);
}

static void append_set(wal_t *w)
{
    wal_entry e = {.op = WAL_OP_SET, .key = key, .klen = 16, .val = val, .vlen = 100, .exp = WAL_NO_EXPIRE};
    wal_append(w, &e);
}

static double run_pooled(wal_t *w, long n)
{
    /* Warm-up: the batch buffer reaches its steady size. */
    for (long i = 0; i < 10000; i++) {
        make_kv(i);
        append_set(w);
        if (i % BATCH == BATCH - 1)
            wal_flush(w);
    }
    wal_flush(w);
    n_allocs = n_bytes = 0;
    counting = 1;
    uint64_t t0 = kvd_mono_ns();
    for (long i = 0; i < n; i++) {
        make_kv(i);
        append_set(w);
        if (i % BATCH == BATCH - 1)
            wal_flush(w);
    }
    wal_flush(w);
    uint64_t ns = kvd_mono_ns() - t0;
    counting = 0;
    report("pooled", n, ns);
    return (double)ns / (double)n;
}

static double run_malloc(wal_t *w, long n)
{
    n_allocs = n_bytes = 0;
    counting = 1;
    uint64_t t0 = kvd_mono_ns();
    for (long i = 0; i < n; i++) {
        make_kv(i);
        /* The same encoder, but into a fresh heap buffer per entry that
         * is copied into the batch and freed (the pre-pool design). */
        size_t room = 256 + 6 * 116;
        buf_t tmp = {malloc(room), 0, room, w->pool};
        wal_entry e = {.seq = w->next_seq++, .op = WAL_OP_SET, .key = key, .klen = 16, .val = val,
                       .vlen = 100, .exp = WAL_NO_EXPIRE};
        wal_encode(&tmp, &e);
        buf_append(&w->batch, tmp.data, tmp.len);
        free(tmp.data);
        if (i % BATCH == BATCH - 1)
            wal_flush(w);
    }
    wal_flush(w);
    uint64_t ns = kvd_mono_ns() - t0;
    counting = 0;
    report("malloc-per-entry", n, ns);
    return (double)ns / (double)n;
}

static double run_cjson(wal_t *w, long n)
{
    n_allocs = n_bytes = 0;
    counting = 1;
    uint64_t t0 = kvd_mono_ns();
    for (long i = 0; i < n; i++) {
        make_kv(i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)w->next_seq++);
        cJSON_AddStringToObject(o, "op", "set");
        cJSON_AddStringToObject(o, "key", key);
        cJSON_AddStringToObject(o, "val", val);
        char *s = cJSON_PrintUnformatted(o);
        size_t len = strlen(s) - 1; /* without the closing brace */
        char sfx[32];
        memcpy(sfx, ",\"crc\":\"", 8);
        codec_hex32(sfx + 8, crc32c(0, s, len));
        memcpy(sfx + 16, "\"}\n", 3);
        buf_append(&w->batch, s, len);
        buf_append(&w->batch, sfx, 19);
        free(s);
        cJSON_Delete(o);
        if (i % BATCH == BATCH - 1)
            wal_flush(w);
    }
    wal_flush(w);
    uint64_t ns = kvd_mono_ns() - t0;
    counting = 0;
    report("cjson-tree", n, ns);
    return (double)ns / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    pool_t pool;
    pool_init(&pool, 0, 0);
    char err[1024];
    wal_open_result res;

    printf("== WAL encode: %ld SET entries, 16-byte key, 100-byte value, flushed every %d to /dev/null\n",
           n, BATCH);
    int nullfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (nullfd < 0) {
        perror("/dev/null");
        return 1;
    }
    wal_t *w = wal_writer_new("/dev/null", nullfd, &pool, 0, 0);
    double pooled = run_pooled(w, n);
    double mall = run_malloc(w, n);
    double cj = run_cjson(w, n);
    printf("pooled vs cjson-tree: %.1fx faster; vs malloc-per-entry: %.2fx\n", cj / pooled, mall / pooled);
    wal_close(w);

    /* ---- replay ---- */
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/kvd-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    keyspace scratch; /* what apply_replay fills: one database is enough */
    keyspace_init(&scratch, 1);
    w = wal_open_dir(dir, &pool, apply_replay, &scratch, NULL, &res, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        make_kv(i);
        append_set(w);
        if (wal_pending(w) > (1 << 20))
            wal_flush(w);
    }
    wal_close(w);
    keyspace_free(&scratch);

    /* Drop the file from the page cache's dirty state so the read is steady. */
    keyspace ks;
    keyspace_init(&ks, 1);
    table_t *t = ks.db[0];
    w = wal_open_dir(dir, &pool, apply_replay, &ks, &apply_hooks, &res, err, sizeof err);
    table_expand_done(t);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double secs = (double)res.walk.elapsed_us / 1e6;
    printf("== replay: %llu entries, %.1f MB in %.3f s: %.2fM entries/s\n",
           (unsigned long long)res.walk.applied, (double)res.walk.bytes / 1e6, secs,
           (double)res.walk.applied / secs / 1e6);
    wal_close(w);

    /* ---- table memory ---- */
    uint64_t keys = table_count(t);
    size_t bytes = table_bytes(t);
    printf("== table: %llu keys, %.1f bytes/key, %.1f bytes/key overhead beyond key+value\n",
           (unsigned long long)keys, (double)bytes / (double)keys,
           (double)(bytes - t->kv_bytes) / (double)keys);
    keyspace_free(&ks);
    snprintf(path, sizeof path, "%s/kvd.incr.1.jsonl", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/kvd.manifest", dir);
    unlink(path);
    rmdir(dir);
    pool_destroy(&pool);
    return 0;
}
