/* kvd-check-wal: verify WAL files or whole data directories (manifest,
 * base and segments), print a summary, optionally dump the entries or
 * repair a file by cutting it at its first bad line.
 *
 * Exit codes: 0 every file is valid (or was repaired by --fix),
 *             1 a file ends in a torn or bad tail (kvd would cut it itself),
 *             2 a file is corrupt before its end (kvd refuses to start),
 *             3 usage error or a file could not be read or repaired. */
#include "config.h"
#include "manifest.h"
#include "pool.h"
#include "util.h"
#include "version.h"
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: kvd-check-wal [--fix] [--dump] FILE|DIR...\n"
               "Verify kvd WAL files, or a data directory (its manifest, base and\n"
               "segments, in replay order), and print a summary of each.\n"
               "  --fix    cut a damaged file at its first bad line, keeping the\n"
               "           original as FILE.broken (entries after that line are lost)\n"
               "  --dump   print every valid entry as text\n"
               "Exit: 0 valid, 1 bad tail, 2 corrupt before the end, 3 error.\n");
}

/* Print bytes quoted the way redis-cli shows them. */
static void print_quoted(const char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '\\': fputs("\\\\", stdout); break;
        case '"': fputs("\\\"", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (c < 0x20 || c >= 0x7f)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
    }
    putchar('"');
}

static int dump_entry(void *ctx, const wal_entry *e)
{
    KVD_UNUSED(ctx);
    printf("%llu %s", (unsigned long long)e->seq, wal_op_name(e->op));
    if (e->op != WAL_OP_FLUSH) {
        putchar(' ');
        print_quoted(e->key, e->klen);
    }
    if (e->op == WAL_OP_SET || e->op == WAL_OP_RENAME) {
        putchar(' ');
        print_quoted(e->val, e->vlen);
    }
    if (e->exp != TABLE_NO_EXPIRE) {
        time_t s = (time_t)(e->exp / 1000);
        struct tm tm;
        char ts[32];
        gmtime_r(&s, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        printf(" exp=%lld (%s.%03dZ)", (long long)e->exp, ts, (int)(e->exp % 1000));
    }
    if (e->grp > 1)
        printf(" group=%u", e->grp);
    putchar('\n');
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = -errno;
        close(in);
        return e;
    }
    char b[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, b, sizeof b);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        if ((rc = kvd_write_all(out, b, (size_t)r)) < 0)
            break;
    }
    if (rc == 0 && fsync(out) < 0)
        rc = -errno;
    close(in);
    close(out);
    return rc;
}

static int fix_file(const char *path, const wal_scan_result *r)
{
    char broken[4096];
    snprintf(broken, sizeof broken, "%s.broken", path);
    int rc = copy_file(path, broken);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot copy to %s: %s\n", path, broken, strerror(-rc));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)r->good_bytes) < 0 || fsync(fd) < 0) {
        fprintf(stderr, "%s: cannot truncate: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    printf("fixed: cut %s at byte %llu (removed %llu bytes); original kept as %s\n", path,
           (unsigned long long)r->good_bytes, (unsigned long long)(r->bytes - r->good_bytes),
           broken);
    return 0;
}

/* Check one file; min_seq: seqs must be above it (0: no check); last:
 * whether a bad tail is the repairable kind. Returns the exit code. */
static int check_file(const char *path, pool_t *pool, int fix, int dump, uint64_t min_seq, int last,
                      uint64_t *last_seq)
{
    wal_scan_result r;
    int rc = wal_scan(path, pool, dump ? dump_entry : NULL, NULL, &r);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-rc));
        return 3;
    }
    printf("%s: %llu entries, %llu bytes, seq %llu..%llu\n", path, (unsigned long long)r.applied,
           (unsigned long long)r.bytes, (unsigned long long)r.first_seq, (unsigned long long)r.last_seq);
    printf("  ops:");
    for (int op = 1; op < WAL_OP_MAX; op++)
        printf(" %s=%llu", wal_op_name((wal_op)op), (unsigned long long)r.ops[op]);
    printf("\n");
    if (last_seq)
        *last_seq = r.last_seq;
    int code = 0;
    if (min_seq && r.first_seq && r.first_seq <= min_seq) {
        printf("  status: CORRUPT (starts at seq %llu, not after %llu: files missing or out of order)\n",
               (unsigned long long)r.first_seq, (unsigned long long)min_seq);
        return 2;
    }
    if (r.status == WAL_SCAN_OK) {
        printf("  status: OK\n");
        return 0;
    }
    code = r.status == WAL_SCAN_TAIL && last ? 1 : 2;
    printf("  status: %s\n  first bad line: %llu at byte offset %llu: %s\n",
           code == 1 ? "BAD TAIL (kvd cuts it off at startup)"
                     : r.status == WAL_SCAN_TAIL ? "BAD TAIL in a file that newer files follow (kvd will not start)"
                                                 : "CORRUPT (valid entries follow the bad line; kvd will not start)",
           (unsigned long long)r.bad_line, (unsigned long long)r.bad_offset, r.bad_reason);
    printf("  valid data ends at byte %llu; %llu bytes after it\n", (unsigned long long)r.good_bytes,
           (unsigned long long)(r.bytes - r.good_bytes));
    if (fix)
        code = fix_file(path, &r) < 0 ? 3 : 0;
    return code;
}

/* Check a data directory: the manifest, then its files in replay order. */
static int check_dir(const char *dir, pool_t *pool, int fix, int dump)
{
    manifest m;
    char err[1024];
    int rc = manifest_load(dir, &m, err, sizeof err);
    if (rc == 1) {
        char legacy[4300];
        snprintf(legacy, sizeof legacy, "%s/kvd.wal", dir);
        if (access(legacy, F_OK) == 0) {
            printf("%s: no manifest; single-file WAL\n", dir);
            return check_file(legacy, pool, fix, dump, 0, 1, NULL);
        }
        fprintf(stderr, "%s: no %s and no kvd.wal: not a kvd data directory\n", dir, MANIFEST_NAME);
        return 3;
    }
    if (rc < 0) {
        printf("%s\n", err);
        return 2;
    }
    printf("%s: manifest lists %s%zu segment(s)\n", dir, m.base ? "a base and " : "", m.nincr);
    int worst = 0;
    char path[4300], name[64];
    uint64_t min_seq = 0, last = 0;
    if (m.base) {
        manifest_base_name(name, sizeof name, m.base);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        printf("base (covers seq 1..%llu of the WAL):\n", (unsigned long long)m.base_upto);
        int code = check_file(path, pool, fix, dump, 0, 0, NULL);
        if (code > worst)
            worst = code;
        min_seq = m.base_upto;
    }
    for (size_t i = 0; i < m.nincr; i++) {
        manifest_incr_name(name, sizeof name, m.incr[i]);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int code = check_file(path, pool, fix, dump, min_seq, i + 1 == m.nincr, &last);
        if (code > worst)
            worst = code;
        if (last > min_seq)
            min_seq = last;
    }
    manifest_free(&m);
    return worst;
}

int main(int argc, char **argv)
{
    int fix = 0, dump = 0;
    static const struct option opts[] = {{"fix", no_argument, NULL, 'f'},
                                         {"dump", no_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "fdhv", opts, NULL)) != -1) {
        switch (c) {
        case 'f': fix = 1; break;
        case 'd': dump = 1; break;
        case 'h': usage(stdout); return 0;
        case 'v': printf("kvd-check-wal v=%s\n", KVD_VERSION); return 0;
        default: usage(stderr); return 3;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 3;
    }
    pool_t pool;
    pool_init(&pool, 0, 0);
    int worst = 0;
    for (int i = optind; i < argc; i++) {
        struct stat st;
        int code = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? check_dir(argv[i], &pool, fix, dump)
                                                                   : check_file(argv[i], &pool, fix, dump, 0, 1, NULL);
        if (code > worst)
            worst = code;
    }
    pool_destroy(&pool);
    return worst;
}
