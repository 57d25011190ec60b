/* faultfs: an LD_PRELOAD shim for the fault tests. It makes write(),
 * fdatasync() and fsync() fail on kvd's WAL segments when told to.
 * KVD_FAULT_FILE names a control file, read on every call, whose content
 * selects the fault:
 *     write ENOSPC    write() fails with ENOSPC (a full disk)
 *     write EIO       write() fails with EIO
 *     fsync EIO       fdatasync()/fsync() fail with EIO
 *     dirsync N       the Nth fsync() of a directory from when this line
 *                     appears fails with EIO (once)
 *     (anything else) no fault
 * Apart from dirsync, only file descriptors whose path contains
 * "/kvd.incr." are affected. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_segment(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return strstr(path, "/kvd.incr.") != NULL;
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
    close(c);
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

/* The errno to fail op with, or 0. */
static int fault(int fd, const char *op)
{
    char spec[64];
    read_spec(spec);
    if (!spec[0])
        return 0;
    size_t ol = strlen(op);
    if (strncmp(spec, op, ol) != 0 || spec[ol] != ' ' || !is_segment(fd))
        return 0;
    if (strncmp(spec + ol + 1, "ENOSPC", 6) == 0)
        return ENOSPC;
    if (strncmp(spec + ol + 1, "EIO", 3) == 0)
        return EIO;
    return 0;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    int e = fd > 2 ? fault(fd, "write") : 0;
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd, buf, count);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int e = fault(fd, "fsync");
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int e = dir_fault(fd);
    if (!e)
        e = fault(fd, "fsync");
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd);
}
