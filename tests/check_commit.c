/* Unit tests for the acknowledgement promise (src/commit.c), through the
 * real command table (tests/harness.c): a write's reply waits for its
 * WAL entry under the policy; replies keep request order; holds in one
 * batch coalesce; a read waits only for the in-flight changes it looked
 * at (any, for whole-keyspace reads); and a batch that cannot be written
 * is taken back, each command that depended on it answered with an error. */
#include "config.h"
#include "testutil.h"
#include "harness.h"

#include <stdarg.h>

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    char d[4300];
    snprintf(d, sizeof d, "%s/data", dir);
    h_start(d, 1700000000000LL);
}

static void teardown(void)
{
    h_stop();
    tu_rmdir(dir);
}

/* Run a command given as words. */
static void run(const char *first, ...)
{
    char *argv[16];
    size_t lens[16];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w && argc < 16; w = va_arg(ap, const char *)) {
        argv[argc] = (char *)w;
        lens[argc++] = strlen(w);
    }
    va_end(ap);
    h_cmd(argc, argv, lens);
}

/* The replies not yet sent, as a string; and what may be sent now. */
static const char *pending(void)
{
    static char b[4096];
    const buf_t *r = h_reply();
    snprintf(b, sizeof b, "%.*s", (int)r->len, r->data);
    return b;
}

static const char *sendable(void)
{
    static char b[4096];
    snprintf(b, sizeof b, "%.*s", (int)h_sendable(), h_reply()->data);
    return b;
}

START_TEST(test_write_waits_for_its_write)
{
    run("SET", "k", "v", NULL);
    ck_assert_str_eq(pending(), "+OK\r\n");
    ck_assert_str_eq(sendable(), "");
    h_flush();
    ck_assert_str_eq(sendable(), "+OK\r\n");
    ck_assert_int_eq(h_holds(), 0);
}
END_TEST

START_TEST(test_order_and_coalescing)
{
    /* A pipeline: a read of a durable key, two writes, a PING. Replies
     * keep request order and the two writes share one hold. */
    run("SET", "old", "1", NULL);
    h_flush();
    h_send();
    run("GET", "old", NULL);
    ck_assert_str_eq(sendable(), "$1\r\n1\r\n"); /* nothing to wait for */
    run("SET", "a", "1", NULL);
    run("INCR", "n", NULL);
    ck_assert_int_eq(h_holds(), 1); /* one batch, one hold */
    run("PING", NULL);
    ck_assert_str_eq(pending(), "+OK\r\n:1\r\n+PONG\r\n");
    ck_assert_str_eq(sendable(), ""); /* the PING's reply waits its turn */
    h_flush();
    ck_assert_str_eq(sendable(), "+OK\r\n:1\r\n+PONG\r\n");
}
END_TEST

START_TEST(test_always_waits_for_the_fsync)
{
    h_policy(1);
    run("SET", "k", "v", NULL);
    h_flush(); /* written, not yet fsynced */
    ck_assert_str_eq(sendable(), "");
    /* Another batch while that fsync is out: a hold of its own. */
    run("SET", "j", "w", NULL);
    ck_assert_int_eq(h_holds(), 2);
    h_sync();
    ck_assert_str_eq(sendable(), "+OK\r\n+OK\r\n");
}
END_TEST

START_TEST(test_reads_wait_only_for_what_they_saw)
{
    h_policy(1);
    run("SET", "durable", "d", NULL);
    h_sync();
    h_send();
    run("SET", "hot", "h", NULL); /* client 0: in flight */
    h_flush();
    h_use(1);
    run("GET", "durable", NULL);
    ck_assert_str_eq(sendable(), "$1\r\nd\r\n"); /* never waits for someone else's fsync */
    h_send();
    run("GET", "hot", NULL);
    ck_assert_str_eq(sendable(), ""); /* it saw a change a crash could undo */
    run("EXISTS", "durable", NULL);   /* behind it, in order */
    ck_assert_str_eq(sendable(), "");
    h_sync();
    ck_assert_str_eq(sendable(), "$1\r\nh\r\n:1\r\n");
    h_send();
    /* A delete in flight: a read of the key waits for it too. */
    h_use(0);
    run("DEL", "durable", NULL);
    h_use(1);
    run("GET", "durable", NULL);
    ck_assert_str_eq(pending(), "$-1\r\n");
    ck_assert_str_eq(sendable(), "");
    h_sync();
    h_send();
    /* Whole-keyspace reads wait while anything is in flight. */
    h_use(0);
    run("SET", "elsewhere", "x", NULL);
    h_use(1);
    run("DBSIZE", NULL);
    ck_assert_str_eq(sendable(), "");
    h_sync();
    ck_assert_str_eq(sendable(), ":2\r\n");
    h_send();
    /* A FLUSHALL in flight: every read waits. */
    h_use(0);
    run("FLUSHALL", NULL);
    h_use(1);
    run("GET", "unrelated", NULL);
    ck_assert_str_eq(sendable(), "");
    h_sync();
    ck_assert_str_eq(sendable(), "$-1\r\n");
}
END_TEST

/* Under always, a write that is in the file but not yet fsynced when a
 * later batch fails to be written stays in flight: a read of its key
 * still waits for the fsync (a failed write must not forget it). */
START_TEST(test_failed_write_keeps_earlier_unsynced_in_flight)
{
    h_policy(1);
    run("SET", "k", "written", NULL);
    h_flush(); /* in the file, not yet fsynced */
    run("SET", "other", "x", NULL);
    h_fail_write(); /* this batch never reaches the file */
    h_send();
    h_use(1);
    run("GET", "k", NULL);
    ck_assert_str_eq(pending(), "$7\r\nwritten\r\n");
    ck_assert_str_eq(sendable(), ""); /* a crash now could still lose it */
    h_sync();
    ck_assert_str_eq(sendable(), "$7\r\nwritten\r\n");
}
END_TEST

START_TEST(test_failed_write_is_taken_back)
{
    run("SET", "k", "old", NULL);
    h_flush();
    h_send();
    /* One batch: client 0 writes and reads, client 1 reads what 0 wrote. */
    run("SET", "k", "new", NULL);
    run("APPEND", "k", "er", NULL);
    run("GET", "k", NULL);
    h_use(1);
    run("GET", "k", NULL);
    ck_assert_str_eq(pending(), "$5\r\nnewer\r\n");
    h_fail_write();
    /* The value they saw never reached the WAL: errors, one per command. */
    const char *err = "-MISCONF Errors writing to the WAL file: File too large\r\n";
    char three[512];
    snprintf(three, sizeof three, "%s%s%s", err, err, err);
    ck_assert_str_eq(sendable(), err);
    h_use(0);
    ck_assert_str_eq(sendable(), three);
    h_send();
    /* The change is gone from memory; writes are refused for a while. */
    run("GET", "k", NULL);
    ck_assert_str_eq(pending(), "$3\r\nold\r\n");
    h_send();
    run("SET", "k", "again", NULL);
    ck_assert_str_eq(pending(), err);
    h_send();
    /* Replies that did not depend on the batch stay as they were: a read
     * of a durable key and a PING between two writes that are taken back. */
    h_advance(1000);
    h_send();
    run("SET", "a", "1", NULL);
    run("GET", "k", NULL);
    run("PING", NULL);
    run("SET", "b", "2", NULL);
    h_fail_write();
    char mixed[512];
    snprintf(mixed, sizeof mixed, "%s$3\r\nold\r\n+PONG\r\n%s", err, err);
    ck_assert_str_eq(sendable(), mixed);
    h_send();
    /* A second later writes are tried again. */
    h_advance(1000);
    run("SET", "k", "again", NULL);
    h_flush();
    ck_assert_str_eq(sendable(), "+OK\r\n");
    char why[512];
    ck_assert_msg(h_check(why, sizeof why) == 0, "%s", why);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("commit");
    TCase *tc = tcase_create("holds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_write_waits_for_its_write);
    tcase_add_test(tc, test_order_and_coalescing);
    tcase_add_test(tc, test_always_waits_for_the_fsync);
    tcase_add_test(tc, test_reads_wait_only_for_what_they_saw);
    tcase_add_test(tc, test_failed_write_is_taken_back);
    tcase_add_test(tc, test_failed_write_keeps_earlier_unsynced_in_flight);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
