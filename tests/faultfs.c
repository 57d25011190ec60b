/* faultfs: an LD_PRELOAD shim for the fault tests. It makes write(),
 * fdatasync() and fsync() fail on kvd's WAL segments when told to, or
 * keeps what is written to them in memory until it is synced, so that a
 * kill -9 of kvd is a power loss for its WAL.
 * KVD_FAULT_FILE names a control file, read on every call, whose content
 * selects the fault:
 *     write ENOSPC    write() fails with ENOSPC (a full disk)
 *     write EIO       write() fails with EIO
 *     fsync EIO       fdatasync()/fsync() fail with EIO
 *     dirsync N       the Nth fsync() of a directory from when this line
 *                     appears fails with EIO (once)
 *     volatile        the page cache is lost at power-off (see below)
 *     fork EAGAIN     fork() fails with EAGAIN (as for want of memory)
 *     (anything else) no fault
 * Apart from dirsync and fork, only file descriptors whose path contains
 * "/kvd.incr." are affected; volatile only holds the segments themselves
 * (kvd.incr.N.jsonl), not other files named after them.
 *
 * volatile: write() to a segment is not passed to the kernel. The bytes
 * are kept in memory, per descriptor and in order, and only an fdatasync()
 * or fsync() of that descriptor writes them to the file (then syncs it).
 * Whatever kvd wrote but did not sync when it is killed is gone, as the
 * dirty pages of a machine that loses power are. kvd writes on its loop
 * thread and syncs on a libuv worker, so the held bytes are guarded by a
 * mutex; a sync takes every byte held when it starts (bytes written while
 * it runs wait for the next sync) and syncs are serialized, so the file
 * always receives the bytes in the order they were written. Choices for
 * the other calls that touch those descriptors:
 *   - Mode changes: a descriptor that holds bytes keeps holding every
 *     later write until its next sync, whatever the control file says, so
 *     nothing can overtake them; once drained it follows the mode again.
 *   - Offsets: kvd writes its segments with pwrite() at the log's end
 *     (and extends their prefilled tails the same way): held changes go
 *     to the file with the same calls, in order, at each sync. A write()
 *     or writev() lands at the end only through an O_APPEND descriptor
 *     (as a pwrite() through one does, as in Linux); through any other
 *     it aborts the process with a message (the file position would have
 *     to be modelled), so a test can never silently check nothing.
 *   - ftruncate() of a descriptor that holds changes is held too, in its
 *     place among them; of any other it goes to the file.
 *   - fdatasync()/fsync() while "fsync EIO" is set: fails, and the held
 *     bytes are dropped, as a kernel drops pages it failed to write back.
 *   - close(): held bytes are dropped, as if the power went before the
 *     kernel wrote them back (kvd syncs a segment before it closes it);
 *     the count is reported on stderr. A close that races a sync of the
 *     same descriptor is not supported (kvd closes a rotated-out segment
 *     only after its sync returns).
 *   - lseek() on a descriptor that holds bytes aborts like a non-append
 *     write (the offset would be wrong). fstat() and other processes see
 *     the synced bytes only, which is what the disk holds.
 *   - fork(): the child forgets the held bytes of its copy (they are the
 *     parent's to sync) and starts with fresh locks.
 *   - Not modelled (kvd does not use them on segments): dup(), mmap(),
 *     sync_file_range(), sync(), syncfs(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* The next definition of a symbol: the libc one (or a sanitizer's). */
#define REAL(name, type)                                                                                    \
    static type real_##name;                                                                                \
    if (!real_##name)                                                                                       \
        real_##name = (type)dlsym(RTLD_NEXT, #name)

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int (*sync_fn)(int);
typedef int (*ftruncate_fn)(int, off_t);
typedef off_t (*lseek_fn)(int, off_t, int);
typedef int (*close_fn)(int);

/* close() without going through our own close (read_spec runs inside
 * write(), which may hold no lock but must not recurse into ours). */
static int plain_close(int fd)
{
    REAL(close, close_fn);
    return real_close(fd);
}

/* 1 if fd's path contains "/kvd.incr." (what the fault modes act on), 2
 * if it is a segment itself, ".../kvd.incr.N.jsonl" (what volatile holds:
 * not a copy named after one, like the .broken file a repair keeps). */
static int is_segment(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    const char *p = strstr(path, "/kvd.incr.");
    if (!p)
        return 0;
    for (const char *q; (q = strstr(p + 1, "/kvd.incr.")) != NULL;)
        p = q;
    p += strlen("/kvd.incr.");
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (digits && strncmp(p, ".jsonl", 6) == 0 && (p[6] == '\0' || strcmp(p + 6, " (deleted)") == 0))
        return 2;
    return 1;
}

/* The control file's content, or "" (spec holds 64 bytes). */
static void read_spec(char *spec)
{
    spec[0] = '\0';
    const char *ctl = getenv("KVD_FAULT_FILE");
    int c = ctl ? open(ctl, O_RDONLY | O_CLOEXEC) : -1;
    if (c < 0)
        return;
    ssize_t n = read(c, spec, 63);
    plain_close(c);
    spec[n > 0 ? n : 0] = '\0';
}

/* "dirsync N": EIO for the Nth directory fsync since the line appeared. */
static int dir_fault(int fd)
{
    static char last[64];
    static int count;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    char spec[64];
    read_spec(spec);
    if (strncmp(spec, "dirsync ", 8) != 0)
        return 0;
    if (strcmp(spec, last) != 0) {
        strcpy(last, spec);
        count = 0;
    }
    return ++count == atoi(spec + 8) ? EIO : 0;
}

/* The errno that spec says op fails with, or 0. */
static int spec_fault(const char *spec, const char *op)
{
    size_t ol = strlen(op);
    if (strncmp(spec, op, ol) != 0 || spec[ol] != ' ')
        return 0;
    if (strncmp(spec + ol + 1, "ENOSPC", 6) == 0)
        return ENOSPC;
    if (strncmp(spec + ol + 1, "EIO", 3) == 0)
        return EIO;
    if (strncmp(spec + ol + 1, "EAGAIN", 6) == 0)
        return EAGAIN;
    return 0;
}

static int spec_volatile(const char *spec)
{
    return strncmp(spec, "volatile", 8) == 0 && (spec[8] == '\0' || spec[8] == '\n' || spec[8] == ' ');
}

/* ------------------------------------------------------------ volatile */

/* What a descriptor holds: its writes (and truncations) since its last
 * sync, in order. An entry exists from the first held change until a
 * sync leaves it empty; while it exists every change to the descriptor
 * is held, so order is kept. A sync keeps the entry until the changes it
 * took are in the file, so changes made meanwhile are held behind them. */
enum { OP_APPEND, OP_AT, OP_TRUNCATE };
typedef struct op {
    int kind;   /* OP_APPEND: a write landing at the end (an O_APPEND descriptor) */
    off_t off;  /* OP_AT: a pwrite's offset; OP_TRUNCATE: the length */
    char *data; /* OP_APPEND, OP_AT: the bytes */
    size_t len;
} op;

typedef struct held {
    int fd;
    op *ops;
    size_t nops, cap;
    size_t bytes; /* data bytes held */
    struct held *next;
} held;

static held *helds;      /* guarded by mu */
static int nhelds;       /* entries in helds; read unlocked (atomically) as a hint */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* Serializes syncs of held descriptors: taken before mu. */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;

static held *find(int fd)
{
    for (held *h = helds; h; h = h->next)
        if (h->fd == fd)
            return h;
    return NULL;
}

static void free_ops(op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ops[i].data);
    free(ops);
}

static void drop(held *h)
{
    held **p = &helds;
    while (*p != h)
        p = &(*p)->next;
    *p = h->next;
    __atomic_sub_fetch(&nhelds, 1, __ATOMIC_RELAXED);
    free_ops(h->ops, h->nops);
    free(h);
}

static void die(const char *what, int fd)
{
    fprintf(stderr, "faultfs: volatile mode does not model %s (fd %d); aborting\n", what, fd);
    abort();
}

/* Add a change to h: the iovcnt buffers (none for a truncation). */
static void hold_op(held *h, int kind, off_t off, const struct iovec *iov, int iovcnt)
{
    if (h->nops == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        op *o = realloc(h->ops, h->cap * sizeof *o);
        if (!o)
            die("running out of memory", h->fd);
        h->ops = o;
    }
    op *o = &h->ops[h->nops++];
    *o = (op){kind, off, NULL, 0};
    for (int i = 0; i < iovcnt; i++)
        o->len += iov[i].iov_len;
    if (kind == OP_TRUNCATE)
        return;
    o->data = malloc(o->len ? o->len : 1);
    if (!o->data)
        die("running out of memory", h->fd);
    size_t at = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(o->data + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    h->bytes += o->len;
}

/* If fd's changes are to be held (it holds some already, or the mode is
 * volatile), hold this one and return 1; else 0. fd is a segment. off is
 * a pwrite's offset, or -1 for a write at the file position, which only
 * an O_APPEND descriptor may do (the position is not modelled). */
static int hold(int fd, const char *spec, int kind, off_t off, const struct iovec *iov, int iovcnt)
{
    pthread_mutex_lock(&mu);
    held *h = find(fd);
    if (!h && spec_volatile(spec)) {
        h = calloc(1, sizeof *h);
        if (!h)
            die("running out of memory", fd);
        h->fd = fd;
        h->next = helds;
        helds = h;
        __atomic_add_fetch(&nhelds, 1, __ATOMIC_RELAXED);
    }
    if (h && kind != OP_TRUNCATE) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_APPEND))
            kind = OP_APPEND; /* as Linux does, a pwrite's offset is ignored */
        else if (off < 0) {
            pthread_mutex_unlock(&mu);
            die("write() through a descriptor without O_APPEND", fd);
        }
    }
    if (h)
        hold_op(h, kind, off, iov, iovcnt);
    pthread_mutex_unlock(&mu);
    return h != NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
    REAL(write, write_fn);
    while (n > 0) {
        ssize_t w = real_write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The sync of a segment, e the fault to fail it with (or 0): write out the
 * bytes fd holds, then sync with real_sync. */
static int sync_segment(int fd, int e, sync_fn real_sync)
{
    pthread_mutex_lock(&mu);
    int has = find(fd) != NULL;
    pthread_mutex_unlock(&mu);
    if (!has) {
        if (e) {
            errno = e;
            return -1;
        }
        return real_sync(fd);
    }
    pthread_mutex_lock(&sync_mu);
    pthread_mutex_lock(&mu);
    held *h = find(fd);
    op *ops = NULL;
    size_t nops = 0;
    if (h) {
        ops = h->ops;
        nops = h->nops;
        h->ops = NULL;
        h->nops = h->cap = h->bytes = 0;
    }
    pthread_mutex_unlock(&mu);
    int rc = 0, err = e;
    REAL(pwrite, pwrite_fn);
    REAL(ftruncate, ftruncate_fn);
    for (size_t i = 0; i < nops && !err; i++) {
        const op *o = &ops[i];
        if (o->kind == OP_APPEND && write_all(fd, o->data, o->len) < 0)
            err = errno;
        else if (o->kind == OP_AT && real_pwrite(fd, o->data, o->len, o->off) != (ssize_t)o->len)
            err = errno ? errno : EIO;
        else if (o->kind == OP_TRUNCATE && real_ftruncate(fd, o->off) < 0)
            err = errno;
    }
    free_ops(ops, nops);
    if (!err && real_sync(fd) < 0)
        err = errno;
    pthread_mutex_lock(&mu);
    h = find(fd);
    if (h && h->nops == 0)
        drop(h);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&sync_mu);
    if (err) {
        errno = err;
        rc = -1;
    }
    return rc;
}

/* In a forked child: forget the held bytes (they are the parent's to sync;
 * the copies are left as they are, since another thread may have been
 * changing the list when the fork happened) and reset the locks, which
 * such a thread may have held. Nothing is locked around the fork itself:
 * a thread holding mu may be waiting for the allocator, which a
 * sanitizer's fork locks before it runs the fork handlers. */
static void after_fork_child(void)
{
    helds = NULL;
    nhelds = 0;
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    mu = fresh;
    sync_mu = fresh;
}

__attribute__((constructor)) static void faultfs_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* ------------------------------------------------------------ wrappers */

/* Whether any descriptor holds bytes: lets close(), lseek() and
 * ftruncate() of every other file skip the lock. An entry is only ever
 * created by a write to that same descriptor, which cannot race its close. */
static int any_held(void)
{
    return __atomic_load_n(&nhelds, __ATOMIC_RELAXED) != 0;
}

/* Common to the write calls: 1 if handled (result in *ret), else 0. */
static int intercept_write(int fd, off_t off, const struct iovec *iov, int iovcnt, ssize_t *ret)
{
    int seg = fd > 2 ? is_segment(fd) : 0;
    if (!seg)
        return 0;
    char spec[64];
    read_spec(spec);
    int e = spec_fault(spec, "write");
    if (e) {
        errno = e;
        *ret = -1;
        return 1;
    }
    if (seg != 2 || !hold(fd, spec, off < 0 ? OP_APPEND : OP_AT, off, iov, iovcnt))
        return 0;
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    *ret = (ssize_t)n;
    return 1;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    REAL(write, write_fn);
    struct iovec v = {(void *)buf, count};
    ssize_t r;
    if (intercept_write(fd, -1, &v, 1, &r))
        return r;
    return real_write(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    REAL(writev, writev_fn);
    ssize_t r;
    if (iovcnt >= 0 && intercept_write(fd, -1, iov, iovcnt, &r))
        return r;
    return real_writev(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
    REAL(pwrite, pwrite_fn);
    struct iovec v = {(void *)buf, count};
    ssize_t r;
    if (off >= 0 && intercept_write(fd, off, &v, 1, &r))
        return r;
    return real_pwrite(fd, buf, count, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    REAL(pwritev, pwritev_fn);
    ssize_t r;
    if (iovcnt >= 0 && off >= 0 && intercept_write(fd, off, iov, iovcnt, &r))
        return r;
    return real_pwritev(fd, iov, iovcnt, off);
}

/* The errno to fail a sync of fd with, or 0. */
static int sync_fault(int fd)
{
    char spec[64];
    read_spec(spec);
    return spec_fault(spec, "fsync");
}

int fdatasync(int fd)
{
    REAL(fdatasync, sync_fn);
    if (!is_segment(fd))
        return real_fdatasync(fd);
    return sync_segment(fd, sync_fault(fd), real_fdatasync);
}

int fsync(int fd)
{
    REAL(fsync, sync_fn);
    int e = dir_fault(fd);
    if (e) {
        errno = e;
        return -1;
    }
    if (!is_segment(fd))
        return real_fsync(fd);
    return sync_segment(fd, sync_fault(fd), real_fsync);
}

int ftruncate(int fd, off_t len)
{
    REAL(ftruncate, ftruncate_fn);
    if (!any_held() || len < 0 || !is_segment(fd))
        return real_ftruncate(fd, len);
    pthread_mutex_lock(&mu);
    held *h = find(fd);
    if (h)
        hold_op(h, OP_TRUNCATE, len, NULL, 0);
    pthread_mutex_unlock(&mu);
    return h ? 0 : real_ftruncate(fd, len);
}

off_t lseek(int fd, off_t off, int whence)
{
    REAL(lseek, lseek_fn);
    if (any_held()) {
        pthread_mutex_lock(&mu);
        int has = find(fd) != NULL;
        pthread_mutex_unlock(&mu);
        if (has)
            die("lseek", fd);
    }
    return real_lseek(fd, off, whence);
}

int close(int fd)
{
    REAL(close, close_fn);
    if (any_held()) {
        pthread_mutex_lock(&mu);
        held *h = find(fd);
        size_t lost = h ? h->bytes : 0;
        if (h)
            drop(h);
        pthread_mutex_unlock(&mu);
        if (lost)
            fprintf(stderr, "faultfs: close of fd %d dropped %zu bytes never synced\n", fd, lost);
    }
    return real_close(fd);
}

typedef pid_t (*fork_fn)(void);

/* "fork EAGAIN": kvd cannot start its compaction child. */
pid_t fork(void)
{
    REAL(fork, fork_fn);
    char spec[64];
    read_spec(spec);
    int e = spec_fault(spec, "fork");
    if (e) {
        errno = e;
        return -1;
    }
    return real_fork();
}
