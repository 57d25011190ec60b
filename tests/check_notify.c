/* Unit tests for notify: messages reach a datagram socket named by
 * NOTIFY_SOCKET as a path or an '@' abstract name, the variable leaves
 * the environment, and nothing is sent when not supervised or when the
 * name is not one systemd would give. */
#include "config.h"
#include "testutil.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "conf.h"
#include "log.h"
#include "notify.h"

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    log_open(NULL, LOG_NOTHING);
}

static void teardown(void)
{
    notify_close();
    unsetenv("NOTIFY_SOCKET");
    tu_rmdir(dir);
}

/* A datagram socket bound to name (a path, or '@' and an abstract name). */
static int bind_dgram(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    memcpy(a.sun_path, name, n);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* The next datagram on fd, or "" if none comes within wait_ms. */
static const char *next(int fd, int wait_ms)
{
    static char b[1024];
    struct timeval tv = {.tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(fd, b, sizeof b - 1, 0);
    b[n > 0 ? n : 0] = '\0';
    return b;
}

START_TEST(test_path)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/notify.sock", dir);
    int fd = bind_dgram(p);
    setenv("NOTIFY_SOCKET", p, 1);
    ck_assert_int_eq(notify_init(KVD_SUPERVISED_SYSTEMD), 1);
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
    ck_assert_int_eq(notify_send("STATUS=loading: 5%\n"), 0);
    ck_assert_int_eq(notify_sendf("READY=1\nSTATUS=%s\n", "ready"), 0);
    ck_assert_str_eq(next(fd, 5000), "STATUS=loading: 5%\n");
    ck_assert_str_eq(next(fd, 5000), "READY=1\nSTATUS=ready\n");
    /* The socket gone: an error, not a crash or a hang. */
    close(fd);
    unlink(p);
    ck_assert_int_lt(notify_send("STOPPING=1\n"), 0);
}
END_TEST

START_TEST(test_abstract_and_auto)
{
    char name[64];
    snprintf(name, sizeof name, "@kvd-check-notify-%d", (int)getpid());
    int fd = bind_dgram(name);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(notify_init(KVD_SUPERVISED_AUTO), 1);
    ck_assert_int_eq(notify_send("READY=1\n"), 0);
    ck_assert_str_eq(next(fd, 5000), "READY=1\n");
    close(fd);
}
END_TEST

START_TEST(test_not_supervised)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/notify.sock", dir);
    int fd = bind_dgram(p);
    /* supervised no: NOTIFY_SOCKET is left alone, nothing is sent. */
    setenv("NOTIFY_SOCKET", p, 1);
    ck_assert_int_eq(notify_init(KVD_SUPERVISED_NO), 0);
    ck_assert_ptr_nonnull(getenv("NOTIFY_SOCKET"));
    ck_assert_int_eq(notify_send("READY=1\n"), 0);
    ck_assert_str_eq(next(fd, 200), "");
    /* auto or systemd without the variable, or with a relative name. */
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(notify_init(KVD_SUPERVISED_AUTO), 0);
    ck_assert_int_eq(notify_init(KVD_SUPERVISED_SYSTEMD), 0);
    setenv("NOTIFY_SOCKET", "notify.sock", 1);
    ck_assert_int_eq(notify_init(KVD_SUPERVISED_SYSTEMD), 0);
    ck_assert_int_eq(notify_send("READY=1\n"), 0);
    ck_assert_str_eq(next(fd, 200), "");
    close(fd);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("notify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_path);
    tcase_add_test(tc, test_abstract_and_auto);
    tcase_add_test(tc, test_not_supervised);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
