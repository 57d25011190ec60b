/* Unit tests for CLIENT PAUSE (src/pause.c) and the frozen keyspace it
 * brings (db_freeze), through the real command table (tests/harness.c)
 * and a real libuv loop for the pause's timer: a write is held and runs
 * when the pause ends, in order and as if it came then (CLIENT REPLY
 * SKIP still applies); reads are not held; a forgotten client's command
 * never runs; and while frozen nothing deletes keys but commands, so the
 * WAL replays to the same table. */
#include "config.h"
#include "testutil.h"
#include "harness.h"
#include "db.h"
#include "evict.h"
#include "pause.h"
#include "server.h"
#include "table.h"
#include "wal.h"

#include <stdarg.h>
#include <uv.h>

static char *dir;
static uv_loop_t loop;

static void setup(void)
{
    dir = tu_tmpdir();
    char d[4300];
    snprintf(d, sizeof d, "%s/data", dir);
    h_start(d, 1700000000000LL);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    srv.loop = &loop;
}

static void teardown(void)
{
    pause_shutdown();
    uv_run(&loop, UV_RUN_DEFAULT); /* the timer's close */
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    srv.loop = NULL;
    h_stop();
    tu_rmdir(dir);
}

/* Run a command given as words, for fake client i. */
static void run(int i, const char *first, ...)
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
    h_use(i);
    h_cmd(argc, argv, lens);
}

/* Client i's replies not yet sent, as a string (they are then dropped). */
static const char *replies(int i)
{
    static char b[4096];
    h_use(i);
    h_flush(); /* the WAL write that releases held replies */
    const buf_t *r = h_reply();
    snprintf(b, sizeof b, "%.*s", (int)r->len, r->data);
    h_send();
    return b;
}

START_TEST(test_write_held_until_unpause)
{
    run(0, "SET", "k", "old", NULL);
    run(0, "CLIENT", "PAUSE", "60000", "WRITE", NULL);
    ck_assert_str_eq(replies(0), "+OK\r\n+OK\r\n");
    ck_assert_int_eq(pause_current(), PAUSE_WRITE);
    uint64_t seq = srv.wal->next_seq;
    run(1, "SET", "k", "new", NULL);
    ck_assert_str_eq(replies(1), ""); /* held */
    ck_assert_uint_eq(pause_held_clients(), 1);
    ck_assert_uint_eq(srv.wal->next_seq, seq); /* nothing logged */
    run(0, "GET", "k", NULL);                  /* reads are served */
    ck_assert_str_eq(replies(0), "$3\r\nold\r\n");
    run(0, "CLIENT", "UNPAUSE", NULL);
    ck_assert_str_eq(replies(0), "+OK\r\n");
    ck_assert_int_eq(pause_current(), PAUSE_OFF);
    /* Not inside UNPAUSE: at the loop's next turn. */
    ck_assert_uint_eq(pause_held_clients(), 1);
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_uint_eq(pause_held_clients(), 0);
    ck_assert_str_eq(replies(1), "+OK\r\n");
    run(0, "GET", "k", NULL);
    ck_assert_str_eq(replies(0), "$3\r\nnew\r\n");
    char why[512];
    ck_assert_msg(h_check(why, sizeof why) == 0, "%s", why);
}
END_TEST

START_TEST(test_timeout_ends_it_and_all_holds_reads)
{
    run(1, "SET", "k", "v", NULL);
    ck_assert_str_eq(replies(1), "+OK\r\n");
    run(0, "CLIENT", "PAUSE", "50", "ALL", NULL);
    ck_assert_str_eq(replies(0), "+OK\r\n");
    uint64_t t0 = uv_hrtime();
    run(1, "CLIENT", "REPLY", "SKIP", NULL); /* held too, then applies */
    ck_assert_str_eq(replies(1), "");
    ck_assert_uint_eq(pause_held_clients(), 1);
    /* Only the timer is left on the loop: this returns once it fired. */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_uint_ge(uv_hrtime() - t0, 49 * 1000000ull);
    ck_assert_uint_eq(pause_held_clients(), 0);
    ck_assert_int_eq(pause_current(), PAUSE_OFF);
    run(1, "GET", "k", NULL); /* skipped */
    run(1, "PING", NULL);
    ck_assert_str_eq(replies(1), "+PONG\r\n");
}
END_TEST

START_TEST(test_reply_skip_survives_the_hold)
{
    run(0, "CLIENT", "PAUSE", "60000", "WRITE", NULL);
    run(1, "CLIENT", "REPLY", "SKIP", NULL);
    run(1, "SET", "k", "v", NULL); /* held: its reply is still the one skipped */
    ck_assert_str_eq(replies(1), "");
    run(0, "CLIENT", "UNPAUSE", NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_str_eq(replies(1), "");
    run(1, "GET", "k", NULL);
    ck_assert_str_eq(replies(1), "$1\r\nv\r\n");
}
END_TEST

START_TEST(test_longer_end_and_stricter_mode_kept)
{
    run(0, "CLIENT", "PAUSE", "0", NULL); /* over before it began */
    ck_assert_int_eq(pause_current(), PAUSE_OFF);
    run(0, "CLIENT", "PAUSE", "60000", "WRITE", NULL);
    run(0, "CLIENT", "PAUSE", "1", "ALL", NULL);
    ck_assert_int_eq(pause_current(), PAUSE_ALL);
    /* The 1 ms end does not shorten the 60 s one. */
    uv_sleep(20);
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(pause_current(), PAUSE_ALL);
    ck_assert_str_eq(replies(0), "+OK\r\n");
}
END_TEST

START_TEST(test_forgotten_client_never_runs)
{
    run(0, "CLIENT", "PAUSE", "60000", "WRITE", NULL);
    run(1, "SET", "gone", "1", NULL);
    ck_assert_uint_eq(pause_held_clients(), 1);
    h_use(1);
    pause_forget(h_client()); /* it hung up, as conn.c tells it */
    ck_assert_uint_eq(pause_held_clients(), 0);
    run(0, "CLIENT", "UNPAUSE", NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    run(0, "EXISTS", "gone", NULL);
    ck_assert_str_eq(replies(0), ":0\r\n");
}
END_TEST

START_TEST(test_frozen_keyspace)
{
    run(0, "SET", "e", "stale", "PX", "100", NULL);
    run(0, "SET", "f", "abc", "PX", "100", NULL);
    run(0, "SET", "g", "x", "PX", "100", NULL);
    run(0, "SET", "k", "v", NULL);
    replies(0);
    h_advance(1000);
    db_freeze(1);
    uint64_t seq = srv.wal->next_seq;
    run(0, "GET", "e", NULL);
    ck_assert_str_eq(replies(0), "$-1\r\n");
    run(0, "EXISTS", "f", NULL);
    ck_assert_str_eq(replies(0), ":0\r\n");
    run(0, "TTL", "g", NULL);
    ck_assert_str_eq(replies(0), ":-2\r\n");
    h_active_expire();
    h_evict(EVICT_ALLKEYS_RANDOM);
    ck_assert_uint_eq(h_keys(), 4);             /* they stay */
    ck_assert_uint_eq(srv.wal->next_seq, seq);  /* and nothing was logged */
    /* A write that builds on a value starts from nothing, not from the
     * stale one (the key goes first, logged). */
    run(0, "APPEND", "e", "new", NULL);
    ck_assert_str_eq(replies(0), ":3\r\n");
    run(0, "SETRANGE", "f", "0", "z", NULL);
    ck_assert_str_eq(replies(0), ":1\r\n");
    run(0, "GET", "e", NULL);
    ck_assert_str_eq(replies(0), "$3\r\nnew\r\n");
    run(0, "GET", "f", NULL);
    ck_assert_str_eq(replies(0), "$1\r\nz\r\n");
    char why[512];
    ck_assert_msg(h_check(why, sizeof why) == 0, "%s", why);
    db_freeze(0);
    run(0, "GET", "g", NULL); /* deleted as usual now */
    ck_assert_str_eq(replies(0), "$-1\r\n");
    ck_assert_uint_eq(h_keys(), 3);
    ck_assert_msg(h_check(why, sizeof why) == 0, "%s", why);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pause");
    TCase *tc = tcase_create("pause");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_write_held_until_unpause);
    tcase_add_test(tc, test_timeout_ends_it_and_all_holds_reads);
    tcase_add_test(tc, test_reply_skip_survives_the_hold);
    tcase_add_test(tc, test_longer_end_and_stricter_mode_kept);
    tcase_add_test(tc, test_forgotten_client_never_runs);
    tcase_add_test(tc, test_frozen_keyspace);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
