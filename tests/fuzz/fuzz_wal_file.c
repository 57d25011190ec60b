/* libFuzzer target: a whole segment file through wal_scan, the reader the
 * replay and kvd-check-wal use: lines, groups, sequence, torn tails, the
 * prefilled tail of blank lines. Any input must scan without a crash, and
 * the inline and threaded scans must agree. What the result says must hold
 * of the bytes: with OK, the log is the file but its prefilled tail, and
 * the tail is only '\n'; with a torn tail or corruption, the damage lies
 * between the end of the good data and the end of the file; the entries
 * handed out carry consecutive seqs. */
#include "config.h"
#include "wal_scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pool_t pool;
static int ready;
static char path[64];

typedef struct seen {
    uint64_t n, last;
    int gap;
} seen;

static int apply(void *ctx, const wal_entry *e)
{
    seen *s = ctx;
    if (s->n && e->seq != s->last + 1)
        s->gap = 1;
    s->last = e->seq;
    s->n++;
    return 0;
}

static void scan(int threaded, seen *s, wal_scan_result *r)
{
    wal_scan_opts o = {.threaded = threaded};
    *s = (seen){0};
    if (wal_scan(path, &pool, &o, apply, s, r) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        pool_init(&pool, 0, 0);
        snprintf(path, sizeof path, "%s/kvd-fuzz-wal-%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (long)getpid());
        ready = 1;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    seen a, b;
    wal_scan_result ra, rb;
    scan(0, &a, &ra);
    scan(1, &b, &rb);
    unlink(path);
    if (ra.status != rb.status || ra.good_bytes != rb.good_bytes || ra.filler != rb.filler ||
        ra.applied != rb.applied || a.n != b.n || a.last != b.last || ra.bad_offset != rb.bad_offset)
        abort();
    if (a.gap || a.n != ra.applied || ra.bytes != size)
        abort();
    if (ra.status == WAL_SCAN_OK) {
        if (ra.good_bytes + ra.filler != size)
            abort();
        for (size_t i = ra.good_bytes; i < size; i++)
            if (data[i] != '\n')
                abort();
    } else if (ra.good_bytes > ra.bad_offset || ra.bad_offset > size) {
        abort();
    }
    return 0;
}
