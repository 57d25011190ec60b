/* slowflush: an LD_PRELOAD shim for scripts/bench that makes every
 * fdatasync() and fsync() of the process take SLOWFLUSH_US microseconds
 * longer (a sleep before the real call), as on a disk whose cache flush is
 * that much slower than this machine's. scripts/bench preloads it into
 * kvd and redis-server alike, so both pay the same delay for each flush;
 * which calls they make, and on which thread, is their own. Unset or 0:
 * no delay. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static void flush_delay(void)
{
    const char *e = getenv("SLOWFLUSH_US");
    long us = e ? strtol(e, NULL, 10) : 0;
    if (us <= 0)
        return;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    int saved = errno;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    errno = saved;
}

static int call(const char *name, int fd)
{
    sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    flush_delay();
    return real(fd);
}

int fdatasync(int fd)
{
    return call("fdatasync", fd);
}

int fsync(int fd)
{
    return call("fsync", fd);
}
