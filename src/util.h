/* util: the few helpers every kvd module leans on: allocation that aborts on
 * out-of-memory (the daemon's single OOM policy), clocks, and careful I/O. */
#ifndef KVD_UTIL_H
#define KVD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "num.h"

#define KVD_UNUSED(x) ((void)(x))
#define KVD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate or abort with a message naming the size: the daemon has no way to
 * continue meaningfully without memory. Never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t n);

/* Bytes the allocator really holds for p (malloc_usable_size plus the chunk
 * header where known); used for memory accounting. */
size_t xmalloc_size(void *p);

/* Wall clock in unix milliseconds / microseconds. */
int64_t kvd_now_ms(void);
int64_t kvd_now_us(void);
/* Tests: make the wall clock stand at ms until told otherwise (0: the
 * real clock again). */
void kvd_clock_set(int64_t ms);
/* Monotonic clock in nanoseconds, for measuring durations. */
uint64_t kvd_mono_ns(void);

/* Write all n bytes to fd, retrying EINTR and short writes.
 * Returns 0, or -errno on failure (bytes may have been partly written). */
int kvd_write_all(int fd, const void *p, size_t n);
/* The same at offset off, with pwrite(). */
int kvd_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* The whole file at path, NUL-terminated (the NUL not counted in *len),
 * in memory the caller frees; NULL with errno set if it cannot be read. */
char *kvd_read_file(const char *path, size_t *len);

/* fsync the directory that holds path ("." for a bare name).
 * Returns 0 or -errno. */
int kvd_fsync_parent(const char *path);

/* Replace the file at path with data[0..len), crash-safely: a temp file
 * beside it (created with mode), written, fsynced, renamed over path, and
 * the directory fsynced. The temp file is removed on failure. Returns 0
 * or -errno. */
int kvd_replace_file(const char *path, const void *data, size_t len, unsigned mode);

/* 1 if a and b (from stat/fstat) are the same file. */
static inline int kvd_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* How long the thread whose /proc/.../schedstat is open at fd has waited,
 * runnable, for a CPU (its second field), into *ns. Returns 0, or -1 when
 * it cannot be read. */
int kvd_runq_wait(int fd, uint64_t *ns);

/* fsync the directory dir (to make a rename or a new file in it durable).
 * Returns 0 or -errno. */
int kvd_fsync_dir(const char *dir);

/* The directory part of path ("." when it has none, "/" for "/name");
 * returns the last component (in path). */
const char *kvd_path_split(const char *path, char *dir, size_t n);

/* Create dir and any missing parents with mode (existing ones are left as
 * they are). Returns 0 or -errno. */
int kvd_mkdir_p(const char *dir, unsigned mode);

/* Fill p with n bytes from the kernel's random source (falls back to a
 * time/pid mix only if that is unavailable). */
void kvd_random_bytes(void *p, size_t n);

/* Test hook: when the environment variable KVD_TEST_CRASH_AT equals
 * phase, die at once with SIGKILL (as a power cut would stop the process
 * there). Used by the crash tests; costs one getenv otherwise. */
void kvd_test_crash(const char *phase);

/* SipHash-1-3 of p[0..len) under the 128-bit key k: a keyed hash, so
 * that clients cannot choose keys that collide. */
uint64_t kvd_siphash(const void *p, size_t len, const uint64_t k[2]);

/* Compare two byte strings in time that depends only on their lengths.
 * Returns 1 when equal. */
int kvd_consttime_eq(const void *a, size_t alen, const void *b, size_t blen);

#endif
