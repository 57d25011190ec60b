/* wal_dir: manifest-driven open, the directory walk, torn-tail cuts,
 * rotation, and base writing and installation. */
#include "config.h"
#include "wal_dir.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

int wal_dir_is_wal_name(const char *name)
{
    uint64_t num;
    int tmp;
    return strcmp(name, "kvd.wal") == 0 ||
           ((is_wal_name(name, "kvd.incr.", &num, &tmp) || is_wal_name(name, "kvd.base.", &num, &tmp)) && !tmp);
}

int wal_dir_owns_name(const char *name)
{
    static const char *const prefixes[] = {MANIFEST_NAME, WAL_DIR_LOCK_NAME, WAL_DIR_COMPACT_PID, WAL_DIR_REPLID,
                                           WAL_DIR_REPLSYNC_PREFIX, "kvd.incr.", "kvd.base.", "kvd.wal"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

int wal_file_kind(const char *path)
{
    char head[16] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, head, sizeof head - 1);
    close(fd);
    head[n > 0 ? n : 0] = '\0';
    if (strncmp(head, MANIFEST_MAGIC, strlen(MANIFEST_MAGIC)) == 0)
        return WAL_FILE_MANIFEST;
    return strncmp(head, "{\"seq\":", 7) == 0 ? WAL_FILE_LOG : 0;
}

static int is_segment_listed(const manifest *m, uint64_t n)
{
    for (size_t i = 0; i < m->nincr; i++)
        if (m->incr[i] == n)
            return 1;
    return 0;
}

int wal_dir_strays(const char *dir, const manifest *m, wal_stray_fn fn, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    uint64_t first = m->nincr ? m->incr[0] : 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t n;
        int tmp, base = 0;
        if (strcmp(de->d_name, MANIFEST_NAME ".tmp") == 0) {
            fn(ctx, de->d_name, 0, 1);
            continue;
        }
        if (is_wal_name(de->d_name, "kvd.base.", &n, &tmp))
            base = 1;
        else if (!is_wal_name(de->d_name, "kvd.incr.", &n, &tmp))
            continue;
        if (!tmp && (base ? m->base == n : is_segment_listed(m, n)))
            continue;
        char p[4300];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        uint64_t bytes = stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
        /* What a crash can leave: temp files; a base never installed or
         * one replaced (the segments or the new base hold its data);
         * segments a compaction retired (numbered before the first one
         * kept); a segment a rotation created but never listed (empty). */
        int removable = tmp || base || n < first || bytes == 0;
        fn(ctx, de->d_name, bytes, removable);
    }
    closedir(d);
    return 0;
}

/* The WAL files (not temp files) in dir; -errno if it cannot be read. */
static int count_wal_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    int count = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t n;
        int tmp;
        if ((is_wal_name(de->d_name, "kvd.base.", &n, &tmp) || is_wal_name(de->d_name, "kvd.incr.", &n, &tmp)) &&
            !tmp)
            count++;
    }
    closedir(d);
    return count;
}

void wal_file_path(char *dst, size_t n, const char *dir, int base, uint64_t num)
{
    char name[64];
    if (base)
        manifest_base_name(name, sizeof name, num);
    else
        manifest_incr_name(name, sizeof name, num);
    snprintf(dst, n, "%s/%s", dir, name);
}

static long lock_holder(const char *dir)
{
    char p[4300], text[32] = "";
    snprintf(p, sizeof p, "%s/%s", dir, WAL_DIR_LOCK_NAME);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return strtol(text, NULL, 10);
}

/* The lock is a flock on the directory itself, so that removing kvd.lock
 * (a "stale lock", say) cannot let a second writer in; the file only
 * names the holder. */
static int lock_dir(const char *dir, int how, long *holder, char *err, size_t errlen)
{
    if (holder)
        *holder = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    if (flock(fd, how | LOCK_NB) < 0) {
        int e = errno;
        long pid = lock_holder(dir);
        if (holder)
            *holder = pid;
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "the data directory %s is in use by another process (pid %ld, per %s/%s): one kvd, "
                     "or one repair, per directory", dir, pid, dir, WAL_DIR_LOCK_NAME);
        else
            snprintf(err, errlen, "cannot lock %s: %s", dir, strerror(e));
        close(fd);
        return e == EWOULDBLOCK ? -2 : -1;
    }
    return fd;
}

int wal_dir_lock(const char *dir, long *holder, char *err, size_t errlen)
{
    int fd = lock_dir(dir, LOCK_EX, holder, err, errlen);
    if (fd < 0)
        return -1;
    wal_dir_lock_mark(dir);
    return fd;
}

int wal_dir_locked(const char *dir, long *holder)
{
    char err[8];
    int fd = lock_dir(dir, LOCK_SH, holder, err, sizeof err);
    if (fd >= 0)
        close(fd);
    return fd == -2;
}

void wal_dir_lock_mark(const char *dir)
{
    char p[4300], text[32];
    snprintf(p, sizeof p, "%s/%s", dir, WAL_DIR_LOCK_NAME);
    int fd = open(p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return; /* the pid is for messages only (a symlink is not followed) */
    /* Written, then cut to length: a reader never sees it empty. */
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (pwrite(fd, text, (size_t)n, 0) != n || ftruncate(fd, n) < 0)
        (void)0;
    close(fd);
}

/* ---- the walk ---- */

static void add_scan(wal_walk_result *res, const wal_scan_result *r)
{
    res->files++;
    res->lines += r->lines;
    res->applied += r->applied;
    for (int i = 0; i < WAL_OP_MAX; i++)
        res->ops[i] += r->ops[i];
    res->bytes += r->status == WAL_SCAN_OK ? r->bytes - r->filler : r->good_bytes;
    res->elapsed_us += r->elapsed_us;
    if (r->last_seq)
        res->last_seq = r->last_seq;
}

static void note_damage(wal_walk_result *res, int index, const char *path, const wal_scan_result *r,
                        const char *why)
{
    res->status = WAL_SCAN_CORRUPT;
    res->bad_index = index;
    snprintf(res->bad_path, sizeof res->bad_path, "%s", path);
    res->bad_line = r->bad_line;
    res->bad_offset = r->bad_offset;
    res->bad_good_bytes = r->good_bytes;
    res->bad_file_bytes = r->bytes;
    snprintf(res->bad_reason, sizeof res->bad_reason, "%s", why);
}

/* A watched walk: the watch's figures run across the files. */
typedef struct walk_watch {
    const wal_replay_watch *w;
    uint64_t done;    /* bytes of the files already read */
    uint64_t applied; /* entries they applied */
    uint64_t total;
} walk_watch;

static int walk_progress(void *ctx, uint64_t bytes, uint64_t applied)
{
    walk_watch *ww = ctx;
    return ww->w->progress(ww->w->ctx, ww->done + bytes, ww->total, ww->applied + applied);
}

/* wal_walk_dir, telling watch (may be NULL) how it goes. */
static int walk_dir(const char *dir, const manifest *m, pool_t *pool, wal_apply_fn apply, void *actx,
                    const wal_load_hooks *hooks, wal_walk_fn each, void *ectx, int keep_going,
                    const wal_replay_watch *watch, wal_walk_result *res, char *err, size_t errlen)
{
    *res = (wal_walk_result){0};
    char path[4200];
    uint64_t expect = 1; /* the seq the next line must carry; 0 once damage made it unknown */
    size_t nfiles = m->nincr + (m->base ? 1 : 0);
    walk_watch ww = {.w = watch};
    for (size_t i = 0; watch && i < nfiles; i++) {
        struct stat st;
        int base = m->base && i == 0;
        wal_file_path(path, sizeof path, dir, base, base ? m->base : m->incr[m->base ? i - 1 : i]);
        if (stat(path, &st) == 0)
            ww.total += (uint64_t)st.st_size;
    }
    if (watch && watch->progress(watch->ctx, 0, ww.total, 0)) {
        snprintf(err, errlen, "the replay was stopped before it began");
        return -1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        int base = m->base && i == 0;
        size_t seg = m->base ? i - 1 : i;
        int newest = !base && seg + 1 == m->nincr;
        wal_file_path(path, sizeof path, dir, base, base ? m->base : m->incr[seg]);
        int damaged = res->status != WAL_SCAN_OK;
        wal_scan_opts o = {.first_seq = base ? 1 : expect, .base = base, .hooks = hooks, .threaded = 1};
        if (watch && !damaged) {
            o.progress = walk_progress;
            o.pctx = &ww;
        }
        wal_walk_file f = {.path = path, .base = base, .newest = newest, .expect_seq = o.first_seq,
                           .after_damage = damaged};
        int rc = wal_scan(path, pool, &o, damaged ? NULL : apply, actx, &f.scan);
        if (rc == -ECANCELED) {
            snprintf(err, errlen, "the replay was stopped in %s at byte %llu, %llu of %llu bytes read", path,
                     (unsigned long long)f.scan.good_bytes, (unsigned long long)(ww.done + f.scan.good_bytes),
                     (unsigned long long)ww.total);
            return -1;
        }
        if (rc < 0) {
            snprintf(err, errlen, "cannot read WAL file %s: %s", path, strerror(-rc));
            return -1;
        }
        ww.done += f.scan.bytes;
        ww.applied += f.scan.applied;
        if (!damaged) {
            add_scan(res, &f.scan);
            if (base) {
                res->base_bytes = f.scan.bytes;
                /* The base numbers its own lines; the segments continue
                 * from the seq the base covers. */
                res->last_seq = m->base_upto;
            }
            if (base && m->base_bytes && f.scan.bytes != m->base_bytes) {
                /* Lines cut at a boundary (or added) leave a base that
                 * scans clean: its recorded size tells. */
                char why[sizeof f.scan.bad_reason];
                snprintf(why, sizeof why, "the base holds %llu bytes where the manifest records %llu: lines are %s",
                         (unsigned long long)f.scan.bytes, (unsigned long long)m->base_bytes,
                         f.scan.bytes < m->base_bytes ? "missing" : "added");
                f.scan.status = WAL_SCAN_CORRUPT;
                f.scan.bad_line = f.scan.lines + 1;
                f.scan.bad_offset = f.scan.good_bytes;
                snprintf(f.scan.bad_reason, sizeof f.scan.bad_reason, "%s", why);
            }
            if (f.scan.status == WAL_SCAN_CORRUPT) {
                note_damage(res, (int)i + (m->base ? 0 : 1), path, &f.scan, f.scan.bad_reason);
            } else if (f.scan.status == WAL_SCAN_TAIL && !newest) {
                char why[240];
                snprintf(why, sizeof why, "%.150s, in a file that %s follow: a crash damages only the newest segment",
                         f.scan.bad_reason, base ? "segments" : "newer segments");
                note_damage(res, (int)i + (m->base ? 0 : 1), path, &f.scan, why);
            } else if (f.scan.status == WAL_SCAN_TAIL) {
                note_damage(res, (int)i + (m->base ? 0 : 1), path, &f.scan, f.scan.bad_reason);
                res->status = WAL_SCAN_TAIL;
            }
            if (newest)
                res->newest_good = f.scan.good_bytes;
        }
        expect = res->status != WAL_SCAN_OK ? 0 : res->last_seq + 1;
        if (each)
            each(ectx, &f);
        if (res->status == WAL_SCAN_CORRUPT && !keep_going)
            break;
    }
    return 0;
}

int wal_walk_dir(const char *dir, const manifest *m, pool_t *pool, wal_apply_fn apply, void *actx,
                 const wal_load_hooks *hooks, wal_walk_fn each, void *ectx, int keep_going,
                 wal_walk_result *res, char *err, size_t errlen)
{
    return walk_dir(dir, m, pool, apply, actx, hooks, each, ectx, keep_going, NULL, res, err, errlen);
}

/* ---- keeping and cutting damaged bytes ---- */

int wal_keep_broken(const char *path, uint64_t from, char *kept, size_t keptlen)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = -1;
    for (int i = 0; i < 1000 && out < 0; i++) {
        if (i == 0)
            snprintf(kept, keptlen, "%s.broken", path);
        else
            snprintf(kept, keptlen, "%s.broken.%d", path, i);
        out = open(kept, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0 && errno != EEXIST)
            break;
    }
    int rc = 0;
    if (out < 0)
        rc = -errno;
    else if (lseek(in, (off_t)from, SEEK_SET) < 0)
        rc = -errno;
    char b[65536];
    while (rc == 0) {
        ssize_t r = read(in, b, sizeof b);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        if (r <= 0)
            break;
        rc = kvd_write_all(out, b, (size_t)r);
    }
    if (rc == 0 && fsync(out) < 0)
        rc = -errno;
    close(in);
    if (out >= 0) {
        close(out);
        if (rc < 0)
            unlink(kept); /* no half copy left to mislead */
    }
    if (rc == 0)
        rc = kvd_fsync_parent(path);
    return rc;
}

int wal_cut(const char *path, uint64_t offset, char *kept, size_t keptlen, char *err, size_t errlen)
{
    int rc = wal_keep_broken(path, offset, kept, keptlen);
    if (rc < 0) {
        snprintf(err, errlen, "cannot keep the bytes of %s from offset %llu in %s: %s (nothing was cut)", path,
                 (unsigned long long)offset, kept, strerror(-rc));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)offset) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "cannot cut %s at offset %llu: %s", path, (unsigned long long)offset, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- opening ---- */

/* Two names for one file (a migration cut short leaves kvd.wal and
 * kvd.incr.1.jsonl linked). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && kvd_same_file(&sa, &sb);
}

/* A directory without a manifest: a new one, or one from before segments
 * (a single kvd.wal). Either gets segment 1 and a manifest. The old file
 * is linked, not renamed, and unlinked only once the manifest is stored,
 * so a crash at any step leaves a directory that loads. */
static int create_dir(const char *dir, manifest *m, wal_open_result *res, char *err, size_t errlen)
{
    char legacy[4300], seg[4300];
    snprintf(legacy, sizeof legacy, "%s/kvd.wal", dir);
    wal_file_path(seg, sizeof seg, dir, 0, 1);
    int have_legacy = access(legacy, F_OK) == 0;
    if (have_legacy && same_file(legacy, seg) && unlink(seg) < 0) {
        snprintf(err, errlen, "cannot remove %s: %s", seg, strerror(errno));
        return -1;
    }
    int count = count_wal_files(dir);
    if (count != 0) {
        if (count < 0)
            snprintf(err, errlen, "cannot read %s: %s", dir, strerror(-count));
        else
            snprintf(err, errlen, "%s holds WAL segment files but no %s: kvd will not guess which to load "
                     "(restore the manifest; its format is in docs/WAL.md)", dir, MANIFEST_NAME);
        return -1;
    }
    if (have_legacy) {
        if (link(legacy, seg) < 0) {
            snprintf(err, errlen, "cannot link %s to %s: %s", legacy, seg, strerror(errno));
            return -1;
        }
        res->migrated = 1;
    } else {
        int fd = open(seg, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot create %s: %s", seg, strerror(errno));
            return -1;
        }
        close(fd);
    }
    manifest_init(m);
    if (manifest_add_incr(m, 1) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    err[0] = '\0';
    if (kvd_fsync_dir(dir) < 0 || manifest_store(dir, m, NULL, err, errlen) < 0) {
        if (!err[0])
            snprintf(err, errlen, "cannot sync %s", dir);
        manifest_free(m);
        /* Unless the manifest got in place (only its directory fsync
         * failed), leave the dir as it was (a full disk, say): a segment
         * file without a manifest would refuse every later start. */
        char man[4300];
        snprintf(man, sizeof man, "%s/%s", dir, MANIFEST_NAME);
        if (access(man, F_OK) != 0 && unlink(seg) == 0)
            kvd_fsync_dir(dir);
        return -1;
    }
    if (have_legacy && unlink(legacy) == 0)
        kvd_fsync_dir(dir);
    return 0;
}

typedef struct stray_ctx {
    const char *dir;
    int removed;
    char *names;          /* removed, for the log */
    size_t nameslen;
    char blocked[600];    /* strays with data the manifest cannot place */
} stray_ctx;

static void sweep_one(void *ctx, const char *name, uint64_t bytes, int removable)
{
    stray_ctx *s = ctx;
    size_t at;
    if (!removable) {
        at = strlen(s->blocked);
        snprintf(s->blocked + at, sizeof s->blocked - at, "%s%s (%llu bytes)", at ? ", " : "", name,
                 (unsigned long long)bytes);
        return;
    }
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", s->dir, name);
    if (unlink(p) == 0) {
        s->removed++;
        at = strlen(s->names);
        if (s->nameslen > at)
            snprintf(s->names + at, s->nameslen - at, "%s%s", at ? ", " : "", name);
    }
}

wal_t *wal_open_dir(const char *dir, pool_t *pool, wal_apply_fn apply, void *actx,
                    const wal_load_hooks *hooks, wal_open_result *res, char *err, size_t errlen)
{
    return wal_open_dir_watched(dir, -1, pool, apply, actx, hooks, NULL, res, err, errlen);
}

wal_t *wal_open_dir_watched(const char *dir, int lock, pool_t *pool, wal_apply_fn apply, void *actx,
                            const wal_load_hooks *hooks, const wal_replay_watch *watch,
                            wal_open_result *res, char *err, size_t errlen)
{
    *res = (wal_open_result){0};
    if (lock < 0)
        lock = wal_dir_lock(dir, NULL, err, errlen);
    if (lock < 0)
        return NULL;
    manifest m;
    manifest_init(&m);
    char path[4300];
    int rc = manifest_load(dir, &m, err, errlen);
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        if (create_dir(dir, &m, res, err, errlen) < 0)
            goto fail;
    } else {
        char legacy[4300];
        snprintf(legacy, sizeof legacy, "%s/kvd.wal", dir);
        wal_file_path(path, sizeof path, dir, 0, 1);
        if (access(legacy, F_OK) == 0 && same_file(legacy, path) && unlink(legacy) == 0)
            res->migrated = 1; /* finish a migration cut short */
    }

    wal_walk_result *wr = &res->walk;
    if (walk_dir(dir, &m, pool, apply, actx, hooks, NULL, NULL, 0, watch, wr, err, errlen) < 0)
        goto fail;
    if (wr->status == WAL_SCAN_CORRUPT) {
        snprintf(err, errlen,
                 "WAL %s is damaged at line %llu (byte offset %llu): %s. This is not what a crash leaves, so kvd "
                 "will not guess what to load. Inspect it with 'kvd-check-wal %s'; 'kvd-check-wal --fix %s' "
                 "repairs the directory (keeping every byte it removes in .broken files; see docs/WAL.md)",
                 wr->bad_path, (unsigned long long)wr->bad_line, (unsigned long long)wr->bad_offset,
                 wr->bad_reason, dir, dir);
        goto fail;
    }
    /* Files the manifest does not list: remove what a crash leaves, and
     * refuse what holds data it cannot place. */
    stray_ctx sc = {.dir = dir, .names = res->removed_files, .nameslen = sizeof res->removed_files};
    rc = wal_dir_strays(dir, &m, sweep_one, &sc);
    if (sc.removed)
        kvd_fsync_dir(dir);
    res->orphans_removed = sc.removed;
    if (rc < 0 || sc.blocked[0]) {
        if (rc < 0)
            snprintf(err, errlen, "cannot read %s: %s", dir, strerror(-rc));
        else
            snprintf(err, errlen, "%s holds WAL files with data that %s does not list: %s. No crash leaves those, "
                     "so kvd will not delete them or guess where they belong: restore the manifest, or move them "
                     "away ('kvd-check-wal --fix %s' keeps them as .broken)", dir, MANIFEST_NAME, sc.blocked, dir);
        goto fail;
    }
    if (wr->status == WAL_SCAN_TAIL) {
        if (wal_cut(wr->bad_path, wr->newest_good, res->kept_file, sizeof res->kept_file, err, errlen) < 0)
            goto fail;
        res->truncated_bytes = wr->bad_file_bytes - wr->newest_good;
        snprintf(res->truncated_file, sizeof res->truncated_file, "%s", wr->bad_path);
    }
    wal_file_path(path, sizeof path, dir, 0, m.incr[m.nincr - 1]);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open WAL %s: %s", path, strerror(errno));
        goto fail;
    }
    wal_t *w = wal_writer_new(path, fd, pool, wr->last_seq, wr->newest_good);
    struct stat fst;
    if (fstat(fd, &fst) == 0 && (uint64_t)fst.st_size > w->size)
        w->filled = (uint64_t)fst.st_size; /* a prefilled tail, which the scan checked */
    w->dir = xstrdup(dir);
    w->man = m;
    w->lock_fd = lock;
    for (size_t i = 0; i + 1 < m.nincr; i++) {
        struct stat st;
        wal_file_path(path, sizeof path, dir, 0, m.incr[i]);
        if (stat(path, &st) == 0)
            w->older_bytes += (uint64_t)st.st_size;
    }
    w->base_bytes = wr->base_bytes;
    return w;
fail:
    manifest_free(&m);
    close(lock);
    return NULL;
}

uint64_t wal_total_bytes(const wal_t *w)
{
    return w->base_bytes + w->older_bytes + w->size;
}

int wal_rotate(wal_t *w, uint64_t *upto, int *old_fd, char *err, size_t errlen)
{
    int rc = w->sync_error ? w->sync_error : w->write_error;
    if (rc == 0 && wal_pending(w))
        rc = -EBUSY;
    if (rc < 0) {
        snprintf(err, errlen, "cannot rotate the WAL: %s",
                 rc == -EBUSY ? "entries are waiting to be written" : strerror(-rc));
        return rc;
    }
    if (w->size == 0) {
        /* Nothing to rotate away from: a compaction can keep this one. */
        *upto = w->written_seq;
        *old_fd = -1;
        return 0;
    }
    /* Everything in the old segment becomes durable before any write goes
     * to the new one, so a later fsync of the new file covers all seqs. */
    uint64_t target = w->written_seq;
    rc = wal_trim(w);
    if (rc < 0) {
        snprintf(err, errlen, "cannot cut the prefilled tail of %s: %s", w->path, strerror(-rc));
        return rc;
    }
    rc = wal_sync_fd(w->fd);
    wal_sync_done(w, target, rc, 0);
    if (rc < 0) {
        snprintf(err, errlen, "fdatasync of %s failed: %s", w->path, strerror(-rc));
        return rc;
    }
    manifest next = {0};
    uint64_t num = manifest_max_number(&w->man) + 1;
    char path[4300];
    wal_file_path(path, sizeof path, w->dir, 0, num);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return rc;
    }
    wal_claim_segment(fd);
    next.base = w->man.base;
    next.base_upto = w->man.base_upto;
    next.base_bytes = w->man.base_bytes;
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
    w->size = w->filled = 0;
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

/* The child writing a base fdatasyncs it every BASE_SYNC_EVERY bytes, so
 * that the kernel never holds hundreds of MB of its dirty pages (which
 * would make it throttle every writer, the server's WAL included), and in
 * small steps: every flush of the base holds up the WAL fdatasyncs that
 * meet it in the disk's queue, for as long as it lasts. In steps of 8 MB
 * the p99 of the server's SETs under `always` (-P 16, per 100 ms) was
 * 6.5-11 ms while a compaction ran, in steps of 1 MB 2.5-5 ms, as
 * without one. */
#define BASE_SYNC_EVERY ((size_t)1 << 20)

typedef struct base_ctx {
    buf_t out;
    int fd;
    int rc;
    size_t unsynced;   /* bytes written since the last fdatasync */
    uint64_t seq, entries;
    wal_progress_fn progress;
    void *pctx;
} base_ctx;

static int base_entry(void *ctx, uint32_t db, const tentry_t *e)
{
    base_ctx *b = ctx;
    wal_entry we = {.seq = ++b->seq, .op = WAL_OP_SET, .grp = 1, .db = db, .key = tentry_key(e), .klen = tentry_klen(e),
                    .val = tentry_val((tentry_t *)e), .vlen = tentry_vlen(e), .exp = tentry_expire(e)};
    wal_encode(&b->out, &we);
    b->entries++;
    if (b->out.len >= WAL_BASE_CHUNK) {
        b->rc = kvd_write_all(b->fd, b->out.data, b->out.len);
        b->unsynced += b->out.len;
        buf_reset(&b->out);
        if (b->rc == 0 && b->unsynced >= BASE_SYNC_EVERY) {
            b->rc = wal_sync_fd(b->fd);
            b->unsynced = 0;
        }
        if (b->progress)
            b->progress(b->pctx, b->entries);
    }
    return b->rc;
}

int wal_write_base(table_t *const *dbs, uint32_t ndb, const char *path, pool_t *pool, wal_progress_fn progress,
                   void *pctx, uint64_t *entries, uint64_t *bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    base_ctx b = {.out = BUF_INIT(pool), .fd = fd, .progress = progress, .pctx = pctx};
    table_foreach_all(dbs, ndb, base_entry, &b);
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

/* Free a file's blocks a few MB at a time before unlinking it: ext4 frees
 * (and, mounted with discard, trims) a whole file's blocks in one journal
 * transaction, and every fdatasync of the WAL waits for it to commit (75
 * ms for a 200 MB segment here). Steps of 8 MB keep each commit short. */
#define SHRINK_STEP ((off_t)8 << 20)
static void shrink(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0)
        for (off_t size = st.st_size; size > 0;) {
            size = size > SHRINK_STEP ? size - SHRINK_STEP : 0;
            if (ftruncate(fd, size) < 0)
                break;
        }
    close(fd);
}

void wal_unlink_retired(char **paths, size_t n, const char *dir)
{
    for (size_t i = 0; i < n; i++) {
        shrink(paths[i]);
        unlink(paths[i]);
        free(paths[i]);
        if (i == 0)
            kvd_test_crash("during-delete");
    }
    free(paths);
    kvd_fsync_dir(dir);
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
    next.base_bytes = base_bytes;
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
    char **old = xcalloc(w->man.nincr + 1, sizeof *old);
    size_t nold = 0;
    if (w->man.base) {
        wal_file_path(path, sizeof path, w->dir, 1, w->man.base);
        old[nold++] = xstrdup(path);
    }
    for (size_t i = 0; i < w->man.nincr; i++) {
        if (w->man.incr[i] < first_kept) {
            wal_file_path(path, sizeof path, w->dir, 0, w->man.incr[i]);
            old[nold++] = xstrdup(path);
        }
    }
    (w->retire ? w->retire : wal_unlink_retired)(old, nold, w->dir);
    manifest_free(&w->man);
    w->man = next;
    w->base_bytes = base_bytes;
    w->older_bytes = 0;
    for (size_t i = 0; i + 1 < w->man.nincr; i++) {
        struct stat st;
        wal_file_path(path, sizeof path, w->dir, 0, w->man.incr[i]);
        if (stat(path, &st) == 0)
            w->older_bytes += (uint64_t)st.st_size;
    }
    return 0;
}

