/* notify: the service manager's datagram socket and what goes to it. */
#include "config.h"
#include "notify.h"
#include "conf.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static int notify_fd = -1;
static int parent_fd = -1;  /* a daemonize's parent, waiting for READY=1 */
static struct sockaddr_un notify_addr;
static socklen_t notify_addrlen;
static int notify_failed; /* a send failed: said once in the log */

static void close_socket(void)
{
    if (notify_fd >= 0)
        close(notify_fd);
    notify_fd = -1;
}

int notify_init(int mode)
{
    close_socket();
    const char *env = getenv("NOTIFY_SOCKET");
    if (mode == KVD_SUPERVISED_NO || (mode == KVD_SUPERVISED_AUTO && (!env || !*env)))
        return 0;
    if (!env || !*env) {
        log_warning("supervised systemd: NOTIFY_SOCKET is not set, so systemd will not hear when kvd is "
                    "ready (is the unit Type=notify?)");
        return 0;
    }
    size_t n = strlen(env);
    if ((env[0] != '/' && env[0] != '@') || n >= sizeof notify_addr.sun_path) {
        log_warning("supervised systemd: NOTIFY_SOCKET '%s' is not an absolute path or an '@' abstract name "
                    "of at most %zu bytes: not notifying",
                    env, sizeof notify_addr.sun_path - 1);
        return 0;
    }
    memset(&notify_addr, 0, sizeof notify_addr);
    notify_addr.sun_family = AF_UNIX;
    memcpy(notify_addr.sun_path, env, n);
    if (env[0] == '@')
        notify_addr.sun_path[0] = '\0'; /* abstract: the name is the bytes after the NUL, no terminator */
    notify_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (env[0] == '/'));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warning("supervised systemd: cannot create a socket: %s: not notifying", strerror(errno));
        return 0;
    }
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    notify_fd = fd;
    notify_failed = 0;
    log_notice("supervised by systemd: notifying %s", env);
    unsetenv("NOTIFY_SOCKET");
    return 1;
}

void notify_parent(int fd)
{
    parent_fd = fd;
}

int notify_ready(void)
{
    if (parent_fd >= 0) {
        ssize_t w;
        do
            w = write(parent_fd, "R", 1);
        while (w < 0 && errno == EINTR);
        close(parent_fd);
        parent_fd = -1;
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            if (fd != STDERR_FILENO)
                close(fd);
        }
    }
    return notify_send("READY=1\nSTATUS=ready to accept connections\n");
}

int notify_send(const char *text)
{
    if (notify_fd < 0)
        return 0;
    ssize_t r;
    do
        r = sendto(notify_fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&notify_addr, notify_addrlen);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return 0;
    int e = errno;
    if (!notify_failed++)
        log_warning("cannot notify the service manager: %s (further failures are not logged)", strerror(e));
    return -e;
}

int notify_sendf(const char *fmt, ...)
{
    if (notify_fd < 0)
        return 0;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return notify_send(text);
}

void notify_close(void)
{
    if (parent_fd >= 0)
        close(parent_fd);
    parent_fd = -1;
    close_socket();
}
