/* kvd-check-wal: verify WAL files or whole data directories (manifest,
 * base and segments, read by the same walk the server replays with),
 * print a summary, optionally dump the entries or repair the damage:
 * cut a torn tail, salvage every good line of a damaged base, or cut a
 * damaged segment and retire the ones after it, so that the directory
 * loads the longest history the damage left whole. Every byte a repair
 * removes is kept in a .broken file.
 *
 * Exit codes: 0 every file is valid (or was repaired by --fix),
 *             1 the newest segment ends in a torn tail (kvd cuts it itself),
 *             2 damage kvd refuses to start on,
 *             3 usage error or a file could not be read or repaired. */
#include "config.h"
#include "args.h"
#include "manifest.h"
#include "pool.h"
#include "util.h"
#include "version.h"
#include "wal_codec.h"
#include "wal_dir.h"
#include "wal_scan.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: kvd-check-wal [--fix] [--dump] FILE|DIR...\n"
               "Verify kvd WAL files, or a data directory (its manifest, base and\n"
               "segments, in replay order), and print a summary of each.\n"
               "  --fix    repair: cut a torn tail; keep every good line of a damaged\n"
               "           base; cut a damaged segment at its first bad line and retire\n"
               "           the segments after it. What is removed is kept in .broken\n"
               "           files and what is lost is listed. It takes the data\n"
               "           directory's lock (of a FILE's directory too): not while\n"
               "           kvd runs there.\n"
               "  --dump   print every valid entry as text\n"
               "Exit: 0 valid, 1 torn tail, 2 damaged, 3 error.\n");
}

static int dump_entry(void *ctx, const wal_entry *e)
{
    KVD_UNUSED(ctx);
    printf("%llu %s", (unsigned long long)e->seq, wal_op_name(e->op));
    if (e->op != WAL_OP_FLUSH) {
        putchar(' ');
        args_print_quoted(stdout, e->key, e->klen);
    }
    if (e->op == WAL_OP_SETRANGE)
        printf(" %llu", (unsigned long long)e->off);
    if (e->op == WAL_OP_SET || e->op == WAL_OP_RENAME || e->op == WAL_OP_APPEND || e->op == WAL_OP_SETRANGE) {
        putchar(' ');
        args_print_quoted(stdout, e->val, e->vlen);
    }
    if (e->exp != WAL_NO_EXPIRE) {
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

static void print_scan(const char *path, const wal_scan_result *r)
{
    printf("%s: %llu entries, %llu bytes", path, (unsigned long long)r->applied,
           (unsigned long long)(r->bytes - r->filler));
    if (r->filler)
        printf(" and a prefilled tail of %llu (blank lines, docs/WAL.md)", (unsigned long long)r->filler);
    printf(", seq %llu..%llu\n", (unsigned long long)r->first_seq, (unsigned long long)r->last_seq);
    printf("  ops:");
    for (int op = 1; op < WAL_OP_MAX; op++)
        printf(" %s=%llu", wal_op_name((wal_op)op), (unsigned long long)r->ops[op]);
    printf("\n");
}

/* The exit code for a file's status; prints it. tail_ok: a torn tail is
 * the kind kvd cuts itself (the newest segment). */
static int print_status(const wal_scan_result *r, int tail_ok, const char *extra)
{
    if (r->status == WAL_SCAN_OK) {
        printf("  status: OK\n");
        return 0;
    }
    int code = r->status == WAL_SCAN_TAIL && tail_ok ? 1 : 2;
    printf("  status: %s\n  first bad line: %llu at byte offset %llu: %s%s\n",
           code == 1 ? "BAD TAIL (kvd cuts it off at startup)"
           : r->status == WAL_SCAN_TAIL ? "BAD TAIL in a file that newer files follow (kvd will not start)"
                                         : "CORRUPT (kvd will not start)",
           (unsigned long long)r->bad_line, (unsigned long long)r->bad_offset, r->bad_reason, extra);
    printf("  valid data ends at byte %llu; %llu bytes after it\n", (unsigned long long)r->good_bytes,
           (unsigned long long)(r->bytes - r->good_bytes));
    return code;
}

static int is_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strncmp(slash ? slash + 1 : path, "kvd.base.", 9) == 0;
}

/* ---- repairs ---- */

/* Rewrite a damaged base with every line that is still good, renumbered
 * 1..n, and list the keys of the lines lost. The original is kept in a
 * .broken file. Returns 0 or -1. */
static int salvage_base(const char *path, pool_t *pool)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    char tmp[4300], kept[4400];
    snprintf(tmp, sizeof tmp, "%s.salvage.tmp", path);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        fprintf(stderr, "%s: cannot create: %s\n", tmp, strerror(errno));
        fclose(in);
        return -1;
    }
    wal_decoder dec, look;
    wal_decoder_init(&dec, pool);
    wal_decoder_init(&look, pool);
    buf_t b = BUF_INIT(pool);
    char *line = NULL, why[200];
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0, off = 0, seq = 0, lost = 0, expect = 1;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, in)) > 0) {
        size_t len = (size_t)n;
        lineno++;
        int complete = line[len - 1] == '\n';
        if (complete)
            len--;
        wal_entry e;
        int ok = complete && wal_decode_line(&dec, line, len, &e, why, sizeof why) == 0;
        if (ok && (e.op != WAL_OP_SET || e.grp > 1)) {
            ok = 0;
            snprintf(why, sizeof why, "not a single \"set\" line");
        }
        if (!complete)
            snprintf(why, sizeof why, "incomplete line");
        if (ok) {
            if (e.seq > expect) {
                printf("  lost: %llu line(s) missing before line %llu (seq %llu..%llu): their keys are unknown\n",
                       (unsigned long long)(e.seq - expect), (unsigned long long)lineno,
                       (unsigned long long)expect, (unsigned long long)e.seq - 1);
                lost += e.seq - expect;
            }
            expect = e.seq + 1;
            e.seq = ++seq;
            e.grp = 1;
            wal_encode(&b, &e);
            if (b.len >= (1u << 20)) {
                rc = kvd_write_all(out, b.data, b.len);
                buf_reset(&b);
            }
        } else {
            lost++;
            expect++;
            wal_entry k;
            printf("  lost: line %llu (byte offset %llu): %s; ", (unsigned long long)lineno,
                   (unsigned long long)off, why);
            if (wal_decode_unchecked(&look, line, len, &k) == 0 && k.op != WAL_OP_FLUSH) {
                printf("its key reads as ");
                args_print_quoted(stdout, k.key, k.klen);
                printf(" (unverified)\n");
            } else {
                printf("its key cannot be read\n");
            }
        }
        off += (uint64_t)n;
    }
    if (rc == 0 && ferror(in))
        rc = -EIO;
    if (rc == 0 && b.len)
        rc = kvd_write_all(out, b.data, b.len);
    if (rc == 0 && fsync(out) < 0)
        rc = -errno;
    close(out);
    fclose(in);
    free(line);
    buf_release(&b);
    wal_decoder_free(&dec);
    wal_decoder_free(&look);
    if (rc == 0)
        rc = wal_keep_broken(path, 0, kept, sizeof kept);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "%s: cannot salvage: %s\n", path, strerror(-rc));
        unlink(tmp);
        return -1;
    }
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    kvd_fsync_dir(slash ? dir : ".");
    printf("fixed: rewrote base %s with the %llu good entries; %llu lost; original kept as %s\n", path,
           (unsigned long long)seq, (unsigned long long)lost, kept);
    return 0;
}

/* Cut a damaged file at its last good byte (keeping what is cut). */
static int cut_file(const char *path, const wal_scan_result *r)
{
    char kept[4400], err[8600];
    if (wal_cut(path, r->good_bytes, kept, sizeof kept, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    struct stat st; /* what was cut is all in the kept file */
    printf("fixed: cut %s at byte %llu (removed %llu bytes); they are kept in %s\n", path,
           (unsigned long long)r->good_bytes, stat(kept, &st) == 0 ? (unsigned long long)st.st_size : 0ULL, kept);
    return 0;
}

/* Check one file on its own; min_seq unknown. Returns the exit code. The
 * file is taken by its real path (through any symlink). One in a data
 * directory (with a manifest or a kvd.lock) is kvd's while kvd runs
 * there: only the WAL's own files are checked, a repair takes the
 * directory's lock as one of the whole directory does, and any repair
 * also needs the file itself, which a running kvd holds (a hard link
 * elsewhere reaches it too). A manifest is never taken for a WAL file. */
static int check_file(const char *path, pool_t *pool, int fix, int dump)
{
    char real[PATH_MAX], dir[PATH_MAX], probe[PATH_MAX + 32], err[1024];
    const char *rp = realpath(path, real) ? real : path;
    const char *name = kvd_path_split(rp, dir, sizeof dir);
    if (strcmp(name, MANIFEST_NAME) == 0 || wal_file_kind(rp) == WAL_FILE_MANIFEST) {
        fprintf(stderr, "%s: a manifest, not a WAL file; to check the data directory: kvd-check-wal %s\n", path,
                dir);
        return 3;
    }
    snprintf(probe, sizeof probe, "%s/%s", dir, MANIFEST_NAME);
    int in_dir = access(probe, F_OK) == 0;
    snprintf(probe, sizeof probe, "%s/%s", dir, WAL_DIR_LOCK_NAME);
    in_dir = in_dir || access(probe, F_OK) == 0;
    if (in_dir && !wal_dir_is_wal_name(name)) {
        fprintf(stderr, "%s: not one of the WAL's files (kvd.incr.N.jsonl, kvd.base.N.jsonl, kvd.wal); to check "
                "the data directory: kvd-check-wal %s\n", path, dir);
        return 3;
    }
    int lock = -1, held = -1;
    long holder = 0;
    if (fix) {
        if (in_dir && (lock = wal_dir_lock(dir, &holder, err, sizeof err)) < 0) {
            fprintf(stderr, "%s: not repaired: %s. Stop it first.\n", path, err);
            return 3;
        }
        held = open(rp, O_RDONLY | O_CLOEXEC);
        if (held >= 0 && flock(held, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
            fprintf(stderr, "%s: not repaired: a running kvd is writing to this file. Stop it first.\n", path);
            close(held);
            if (lock >= 0)
                close(lock);
            return 3;
        }
    } else if (in_dir && wal_dir_locked(dir, &holder)) {
        printf("%s: kvd (pid %ld) is running on its directory: what it is writing now may look like a torn "
               "tail\n", path, holder);
    }
    wal_scan_opts o = {.base = is_base_name(rp)};
    wal_scan_result r;
    int code, rc = wal_scan(rp, pool, &o, dump ? dump_entry : NULL, NULL, &r);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-rc));
        code = 3;
    } else {
        print_scan(path, &r);
        code = print_status(&r, !o.base, "");
        if (code && fix)
            code = (o.base ? salvage_base(rp, pool) : cut_file(rp, &r)) < 0 ? 3 : 0;
    }
    if (held >= 0)
        close(held);
    if (lock >= 0)
        close(lock);
    return code;
}

/* ---- data directories ---- */

typedef struct dir_report {
    int worst;
    uint64_t lines_after;   /* good lines in files after the damaged one */
} dir_report;

static void report_file(void *ctx, const wal_walk_file *f)
{
    dir_report *d = ctx;
    if (f->base)
        printf("base (covers the WAL up to its seq, lines numbered from 1):\n");
    print_scan(f->path, &f->scan);
    char extra[96] = "";
    if (f->after_damage) {
        printf("  (after the damaged file: checked, not replayed)\n");
        d->lines_after += f->scan.lines;
    } else if (f->scan.status == WAL_SCAN_OK) {
        /* fine */
    } else if (f->expect_seq && f->scan.bad_line == 1 && f->scan.lines == 0) {
        snprintf(extra, sizeof extra, " (the file had to start at seq %llu)", (unsigned long long)f->expect_seq);
    }
    int code = print_status(&f->scan, f->newest, extra);
    if (code > d->worst)
        d->worst = code;
}

/* Move path out of the way as path.broken (or .broken.1, ...), keeping it
 * whole. Returns 0 or -1. */
static int retire(const char *path, char *kept, size_t keptlen)
{
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(kept, keptlen, "%s.broken", path);
        else
            snprintf(kept, keptlen, "%s.broken.%d", path, i);
        if (access(kept, F_OK) == 0)
            continue;
        if (rename(path, kept) < 0) {
            fprintf(stderr, "%s: cannot move it to %s: %s\n", path, kept, strerror(errno));
            return -1;
        }
        return 0;
    }
    fprintf(stderr, "%s: no free .broken name\n", path);
    return -1;
}

/* Lines (newline-terminated or not) from byte from on. */
static uint64_t count_lines(const char *path, uint64_t from)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseeko(f, (off_t)from, SEEK_SET) < 0) {
        if (f)
            fclose(f);
        return 0;
    }
    uint64_t n = 0;
    int c, last = '\n';
    while ((c = getc(f)) != EOF) {
        if (c == '\n')
            n++;
        last = c;
    }
    fclose(f);
    return n + (last != '\n');
}

/* Repairs that lose nothing, tried before any cut: a line copied twice in
 * a row (the same bytes) is dropped, and a CR before a line's newline
 * (a file converted to CRLF) is removed, when the line then decodes. The
 * file is rewritten only if something changed (the original kept as
 * .broken). Returns 1 if it was rewritten, 0 if not, -1 on error. */
static int mend_segment(const char *path, pool_t *pool)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return -1;
    char tmp[4400], kept[4400];
    snprintf(tmp, sizeof tmp, "%.4300s.mend.tmp", path);
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    wal_decoder dec;
    wal_decoder_init(&dec, pool);
    char *line = NULL, *prev = NULL, why[200];
    size_t cap = 0, prevlen = 0;
    ssize_t n;
    uint64_t dups = 0, crs = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        size_t len = (size_t)n;
        wal_entry e;
        if (len >= 2 && line[len - 1] == '\n' && line[len - 2] == '\r' &&
            wal_decode_line(&dec, line, len - 2, &e, why, sizeof why) == 0) {
            line[len - 2] = '\n';
            len--;
            crs++;
        }
        if (prev && len == prevlen && memcmp(prev, line, len) == 0 && line[len - 1] == '\n' &&
            wal_decode_line(&dec, line, len - 1, &e, why, sizeof why) == 0) {
            dups++;
            continue;
        }
        fwrite(line, 1, len, out);
        free(prev);
        prev = malloc(len);
        memcpy(prev, line, len);
        prevlen = len;
    }
    free(line);
    free(prev);
    wal_decoder_free(&dec);
    fclose(in);
    int ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
    fclose(out);
    if (!ok || (!dups && !crs)) {
        unlink(tmp);
        return ok ? 0 : -1;
    }
    if (retire(path, kept, sizeof kept) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    printf("fixed: %s: removed %llu line(s) written twice and %llu carriage return(s); nothing lost "
           "(the original is kept as %s)\n",
           path, (unsigned long long)dups, (unsigned long long)crs, kept);
    return 1;
}

/* Cut segment i of m at its damage and retire the segments after it, so
 * the directory holds the longest history the damage left whole. The
 * shortened manifest is stored before anything is moved, so a crash
 * leaves either the old manifest and files, or the new manifest and some
 * files it does not list (which kvd refuses and this tool moves away). */
static int cut_history(const char *dir, manifest *m, size_t i, const wal_walk_result *w)
{
    char path[4300], kept[4400], err[8600];
    wal_file_path(path, sizeof path, dir, 0, m->incr[i]);
    uint64_t lost = count_lines(path, w->bad_good_bytes);
    if (wal_cut(path, w->bad_good_bytes, kept, sizeof kept, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    printf("fixed: cut %s at byte %llu: its %llu line(s) from line %llu on are lost (kept in %s)\n", path,
           (unsigned long long)w->bad_good_bytes, (unsigned long long)lost, (unsigned long long)w->bad_line, kept);
    manifest next = *m;
    next.nincr = i + 1;
    if (manifest_store(dir, &next, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (size_t j = i + 1; j < m->nincr; j++) {
        wal_file_path(path, sizeof path, dir, 0, m->incr[j]);
        uint64_t lines = count_lines(path, 0);
        if (retire(path, kept, sizeof kept) < 0)
            return -1;
        printf("fixed: retired %s, which follows the damage: its %llu line(s) are lost (kept as %s)\n", path,
               (unsigned long long)lines, kept);
        lost += lines;
    }
    kvd_fsync_dir(dir);
    m->nincr = i + 1;
    printf("fixed: the directory now loads up to the damage; %llu entr%s after it lost\n", (unsigned long long)lost,
           lost == 1 ? "y" : "ies");
    return 0;
}

/* Repair the first damage the walk found. Returns 0 or -1. */
static int fix_dir(const char *dir, manifest *m, pool_t *pool, const wal_walk_result *w)
{
    if (w->status == WAL_SCAN_TAIL) {
        wal_scan_result r = {.good_bytes = w->newest_good, .bytes = w->bad_file_bytes};
        return cut_file(w->bad_path, &r);
    }
    if (m->base && w->bad_index == 0) {
        if (salvage_base(w->bad_path, pool) < 0)
            return -1;
        /* The base is what it is now: record its size. */
        struct stat st;
        char err[8600];
        if (stat(w->bad_path, &st) == 0)
            m->base_bytes = (uint64_t)st.st_size;
        if (manifest_store(dir, m, NULL, err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
        return 0;
    }
    size_t seg = (size_t)w->bad_index - 1;
    char path[4300];
    wal_file_path(path, sizeof path, dir, 0, m->incr[seg]);
    int mended = mend_segment(path, pool);
    if (mended != 0)
        return mended < 0 ? -1 : 0; /* walk again: it may load now */
    return cut_history(dir, m, seg, w);
}

typedef struct stray_report {
    int blocked, removable, fix, failed;
    const char *dir;
} stray_report;

static void report_stray(void *ctx, const char *name, uint64_t bytes, int removable)
{
    stray_report *s = ctx;
    if (removable) {
        s->removable++;
        printf("not in the manifest: %s (%llu bytes), what a crash leaves: kvd removes it at start\n", name,
               (unsigned long long)bytes);
        return;
    }
    s->blocked++;
    printf("not in the manifest: %s (%llu bytes) holds data the manifest cannot place: kvd will not start\n", name,
           (unsigned long long)bytes);
    if (s->fix) {
        char path[4300], kept[4400];
        snprintf(path, sizeof path, "%s/%s", s->dir, name);
        if (retire(path, kept, sizeof kept) < 0)
            s->failed = 1;
        else
            printf("fixed: moved %s away, to %s\n", path, kept);
    }
}

/* Check a data directory: the manifest, then its files in replay order. */
static int check_dir(const char *dir, pool_t *pool, int fix, int dump)
{
    /* A repair needs the directory to itself; a check only warns. */
    char err[1024];
    long holder;
    int lock = -1;
    if (fix && (lock = wal_dir_lock(dir, &holder, err, sizeof err)) < 0) {
        fprintf(stderr, "%s: not repaired: %s. Stop it first.\n", dir, err);
        return 3;
    }
    if (!fix && wal_dir_locked(dir, &holder))
        printf("%s: kvd (pid %ld) is running on it: what it is writing now may look like a torn tail\n", dir, holder);
    manifest m;
    int rc = manifest_load(dir, &m, err, sizeof err);
    if (rc == 1) {
        char legacy[4300];
        snprintf(legacy, sizeof legacy, "%s/kvd.wal", dir);
        if (lock >= 0)
            close(lock);
        if (access(legacy, F_OK) == 0) {
            printf("%s: no manifest; single-file WAL\n", dir);
            return check_file(legacy, pool, fix, dump);
        }
        fprintf(stderr, "%s: no %s and no kvd.wal: not a kvd data directory\n", dir, MANIFEST_NAME);
        return 3;
    }
    if (rc < 0) {
        printf("%s\n", err);
        if (lock >= 0)
            close(lock);
        return 2;
    }
    int code = 0;
    for (int round = 0;; round++) {
        printf("%s: manifest lists %s%zu segment(s)%s\n", dir, m.base ? "a base and " : "", m.nincr,
               round ? " (after the repair)" : "");
        dir_report d = {0};
        wal_walk_result w;
        if (wal_walk_dir(dir, &m, pool, dump && !round ? dump_entry : NULL, NULL, NULL, report_file, &d, 1, &w, err,
                         sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            code = 3;
            break;
        }
        code = w.status == WAL_SCAN_OK ? 0 : w.status == WAL_SCAN_TAIL ? 1 : 2;
        if (code == 2)
            printf("the replay stops at %s, line %llu: %s%s\n", w.bad_path, (unsigned long long)w.bad_line,
                   w.bad_reason, d.lines_after ? "; the good lines of the files after it cannot be replayed" : "");
        if (code != 2) {
            stray_report s = {.fix = fix, .dir = dir};
            wal_dir_strays(dir, &m, report_stray, &s);
            if (s.failed) {
                code = 3;
                break;
            }
            if (s.blocked && !fix)
                code = 2;
        }
        if (!fix || code == 0)
            break;
        if (round == 8 || fix_dir(dir, &m, pool, &w) < 0) {
            code = 3;
            break;
        }
    }
    manifest_free(&m);
    if (lock >= 0)
        close(lock);
    return code;
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
                                                                   : check_file(argv[i], &pool, fix, dump);
        if (code > worst)
            worst = code;
    }
    pool_destroy(&pool);
    return worst;
}
