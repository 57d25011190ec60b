/* util: allocation that aborts on OOM, the clocks (and the tests' fixed
 * clock), careful write/fsync helpers, random bytes and SipHash. */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif

static void oom(size_t n)
{
    fprintf(stderr, "kvd: out of memory allocating %zu bytes\n", n);
    fflush(stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        oom(n * m);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xmemdup(s, strlen(s) + 1);
}

void *xmemdup(const void *p, size_t n)
{
    void *q = xmalloc(n);
    if (n)
        memcpy(q, p, n);
    return q;
}

size_t xmalloc_size(void *p)
{
    if (!p)
        return 0;
#ifdef HAVE_MALLOC_USABLE_SIZE
    /* glibc keeps an 8-byte size header in front of every chunk. */
    return malloc_usable_size(p) + sizeof(size_t);
#else
    return 0;
#endif
}

static int64_t fixed_ms; /* kvd_clock_set: 0 means the real clock */

void kvd_clock_set(int64_t ms)
{
    fixed_ms = ms;
}

int64_t kvd_now_ms(void)
{
    if (fixed_ms)
        return fixed_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kvd_now_us(void)
{
    if (fixed_ms)
        return fixed_ms * 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t kvd_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Both below: write() at the file position when off is negative, else
 * pwrite() at off. */
static int write_all_at(int fd, const void *p, size_t n, int64_t off)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = off < 0 ? write(fd, c, n) : pwrite(fd, c, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

int kvd_write_all(int fd, const void *p, size_t n)
{
    return write_all_at(fd, p, n, -1);
}

int kvd_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    return write_all_at(fd, p, n, (int64_t)off);
}

const char *kvd_path_split(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else
        snprintf(dir, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return slash ? slash + 1 : path;
}

int kvd_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = -errno;
    close(fd);
    return rc;
}

int kvd_fsync_parent(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    int rc = kvd_fsync_dir(slash ? dir : ".");
    free(dir);
    return rc;
}

int kvd_replace_file(const char *path, const void *data, size_t len, unsigned mode)
{
    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + 32);
    snprintf(tmp, plen + 32, "%s.tmp-%d", path, (int)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        rc = -errno;
    } else {
        if (fchmod(fd, (mode_t)mode) < 0) /* not the umask's idea of it */
            rc = -errno;
        if (rc == 0)
            rc = kvd_write_all(fd, len ? data : "", len);
        if (rc == 0 && fsync(fd) < 0)
            rc = -errno;
        if (close(fd) < 0 && rc == 0)
            rc = -errno;
        if (rc == 0 && rename(tmp, path) < 0)
            rc = -errno;
        if (rc < 0)
            unlink(tmp);
        else
            rc = kvd_fsync_parent(path);
    }
    free(tmp);
    return rc;
}

int kvd_mkdir_p(const char *dir, unsigned mode)
{
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    if (rc == 0) {
        struct stat st;
        if (stat(dir, &st) < 0)
            rc = -errno;
        else if (!S_ISDIR(st.st_mode))
            rc = -ENOTDIR;
    }
    return rc;
}

void kvd_random_bytes(void *p, size_t n)
{
    unsigned char *c = p;
    size_t got = 0;
#ifdef HAVE_GETRANDOM
    while (got < n) {
        ssize_t r = getrandom(c + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
#endif
    if (got < n) {
        uint64_t x = (uint64_t)kvd_now_us() ^ ((uint64_t)getpid() << 32) ^ kvd_mono_ns();
        for (; got < n; got++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c[got] = (unsigned char)x;
        }
    }
}

int kvd_consttime_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    /* Compare over the longer length so the time taken reveals nothing about
     * where the first difference is. */
    const unsigned char *x = a, *y = b;
    size_t n = alen > blen ? alen : blen;
    unsigned diff = (unsigned)(alen != blen);
    for (size_t i = 0; i < n; i++) {
        unsigned char cx = i < alen ? x[i] : 0;
        unsigned char cy = i < blen ? y[i] : 0;
        diff |= (unsigned)(cx ^ cy);
    }
    return diff == 0;
}

void kvd_test_crash(const char *phase)
{
    const char *at = getenv("KVD_TEST_CRASH_AT");
    if (at && strcmp(at, phase) == 0) {
        fprintf(stderr, "kvd: KVD_TEST_CRASH_AT=%s: killing myself\n", phase);
        kill(getpid(), SIGKILL);
    }
}

/* SipHash-1-3 (a keyed hash: bucket placement cannot be predicted). */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

uint64_t kvd_siphash(const void *p, size_t len, const uint64_t k[2])
{
    const unsigned char *in = p;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k[0];
    uint64_t v1 = 0x646f72616e646f6dULL ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ k[0];
    uint64_t v3 = 0x7465646279746573ULL ^ k[1];
    uint64_t b = (uint64_t)len << 56;
    const unsigned char *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m;
        memcpy(&m, in, 8); /* little-endian hosts; fine for placement */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    switch (len & 7) {
    case 7: b |= (uint64_t)in[6] << 48; /* fall through */
    case 6: b |= (uint64_t)in[5] << 40; /* fall through */
    case 5: b |= (uint64_t)in[4] << 32; /* fall through */
    case 4: b |= (uint64_t)in[3] << 24; /* fall through */
    case 3: b |= (uint64_t)in[2] << 16; /* fall through */
    case 2: b |= (uint64_t)in[1] << 8;  /* fall through */
    case 1: b |= (uint64_t)in[0]; break;
    default: break;
    }
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

char *kvd_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *text = xmalloc(cap);
    for (;;) {
        if (n + 1 == cap) {
            cap *= 2;
            text = xrealloc(text, cap);
        }
        ssize_t r = read(fd, text + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(text);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    text[n] = '\0';
    *len = n;
    return text;
}

int kvd_runq_wait(int fd, uint64_t *ns)
{
    char b[128];
    ssize_t n = fd < 0 ? -1 : pread(fd, b, sizeof b - 1, 0);
    if (n <= 0)
        return -1;
    b[n] = 0;
    /* schedstat: ns run, ns waited runnable, timeslices */
    char *q;
    strtoull(b, &q, 10);
    *ns = strtoull(q, NULL, 10);
    return 0;
}
