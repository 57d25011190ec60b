/* The invariant that protects every acknowledged write: replaying the WAL
 * directory yields exactly the live table. Checked on long random command
 * streams through the real command table (tests/harness.c), with a clock
 * that jumps (TTLs expire between commands and across restarts), writes
 * batched as the loop batches them, and, in between, compactions, clean
 * restarts, restarts after kill -9, failed writes taken back, active
 * expiry and evictions; appendfsync switches between everysec and always,
 * so many kills leave a prefilled tail (wal.h) to the replay. After every
 * restart the keys that were live (and are not expired by then) are there,
 * with their values and expiries.
 *
 * KVD_SEED picks the seed (printed; default fixed), KVD_REPLAY_COMMANDS
 * the number of commands (default 120000). */
#include "config.h"
#include "testutil.h"
#include "harness.h"
#include "cmd.h"
#include "evict.h"

#include <inttypes.h>

static uint64_t rng;

static int next_byte(void *ctx)
{
    (void)ctx;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng >> 24) & 0xff;
}

static uint32_t r32(void)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | (uint32_t)next_byte(NULL);
    return v;
}

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
}

static void teardown(void)
{
    tu_rmdir(dir);
}

typedef struct stats {
    uint64_t commands, checks, compared, compactions, clean, killed, killed_tail, failed_writes, expiry_runs,
        evictions;
} stats;

static void check_now(uint64_t seed, const stats *st, const char *after)
{
    char why[600];
    int rc = h_check(why, sizeof why);
    ck_assert_msg(rc == 0, "seed %" PRIu64 ", after command %" PRIu64 " (%s): %s", seed, st->commands, after, why);
}

static void restart(uint64_t seed, stats *st, int clean)
{
    char why[600];
    if (!clean) {
        /* Commands after the last write are lost with the process: the
         * snapshot is what the WAL held when it died. */
        void *snap = h_snapshot();
        char store[8192], *argv[16];
        size_t lens[16];
        for (uint32_t i = r32() % 20; i > 0; i--) {
            int argc = h_gen(next_byte, NULL, argv, lens, store);
            h_cmd(argc, argv, lens);
        }
        st->killed_tail += h_wal_tail() > 0;
        h_restart(0);
        st->killed++;
        int rc = h_same_as(snap, why, sizeof why);
        h_snapshot_free(snap);
        ck_assert_msg(rc == 0, "seed %" PRIu64 ", restart after kill -9 at command %" PRIu64 ": %s", seed,
                      st->commands, why);
    } else {
        void *snap = h_snapshot();
        h_restart(1);
        st->clean++;
        int rc = h_same_as(snap, why, sizeof why);
        h_snapshot_free(snap);
        ck_assert_msg(rc == 0, "seed %" PRIu64 ", clean restart at command %" PRIu64 ": %s", seed, st->commands,
                      why);
    }
    check_now(seed, st, "restart");
}

/* One stream of n commands. always: appendfsync always throughout (else
 * it starts as the seed says and switches now and then); kill9: restarts
 * after kill -9 per 100,000 commands. */
static void run(uint64_t seed, uint64_t n, stats *st, int always, uint32_t kill9)
{
    rng = seed | 1;
    char path[4300];
    snprintf(path, sizeof path, "%s/s%" PRIu64, dir, seed);
    h_start(path, 1700000000000LL + (int64_t)(seed % 1000) * 86400000LL);
    h_policy(always || (seed & 1));
    char store[8192], *argv[16];
    size_t lens[16];
    static const int policies[] = {EVICT_ALLKEYS_LRU, EVICT_VOLATILE_LRU, EVICT_ALLKEYS_RANDOM,
                                   EVICT_VOLATILE_RANDOM, EVICT_VOLATILE_TTL, EVICT_ALLKEYS_LFU};
    for (uint64_t i = 0; i < n; i++) {
        uint32_t r = r32() % 100000;
        if (r < 2000)
            h_advance(r32() % 2500);        /* near TTLs run out */
        else if (r < 2100)
            h_advance(r32() % 200000000);   /* days go by */
        int argc = h_gen(next_byte, NULL, argv, lens, store);
        h_cmd(argc, argv, lens);
        st->commands++;
        if (r32() % 40 == 0)
            h_flush();                      /* a loop iteration ends */
        if (!always && r32() % 3000 == 0)
            h_policy((int)(r32() & 1));     /* CONFIG SET appendfsync */
        r = r32() % 100000;
        if (r < 20) {
            h_compact();
            st->compactions++;
            check_now(seed, st, "compaction");
        } else if (r < 35) {
            restart(seed, st, 1);
        } else if (r < 35 + kill9) {
            restart(seed, st, 0);
        } else if (r < 75 + kill9) {
            h_fail_write();
            st->failed_writes++;
            check_now(seed, st, "failed write");
        } else if (r < 235 + kill9) {
            h_active_expire();
            st->expiry_runs++;
        } else if (r < 265 + kill9) {
            h_evict(policies[r32() % 6]);
            st->evictions++;
        }
        if (i % 1000 == 999) {
            check_now(seed, st, "periodic");
            st->checks++;
            st->compared += h_keys();
        }
    }
    check_now(seed, st, "end");
    restart(seed, st, 1);
    h_stop();
}

START_TEST(test_replay_equals_live)
{
    const char *s = getenv("KVD_SEED"), *c = getenv("KVD_REPLAY_COMMANDS");
    uint64_t seed0 = s ? strtoull(s, NULL, 10) : 20261129;
    uint64_t total = c ? strtoull(c, NULL, 10) : 120000;
    stats st = {0};
    /* Several streams, so restarts and compactions come at other points. */
    int streams = total >= 40000 ? 4 : 1;
    for (int k = 0; k < streams; k++)
        run(seed0 + (uint64_t)k, total / (uint64_t)streams, &st, 0, 15);
    printf("replay invariant: seeds %" PRIu64 "..%" PRIu64 ", %" PRIu64 " commands, %" PRIu64 " checks (%" PRIu64
           " entries compared), %" PRIu64 " compactions, %" PRIu64 " clean restarts, %" PRIu64
           " restarts after kill -9 (%" PRIu64 " with a prefilled tail), %" PRIu64
           " failed writes taken back, %" PRIu64 " expiry cycles, %" PRIu64 " eviction passes, %" PRIu64
           " transactions (EXEC)\n",
           seed0, seed0 + (uint64_t)streams - 1, st.commands, st.checks, st.compared, st.compactions, st.clean,
           st.killed, st.killed_tail, st.failed_writes, st.expiry_runs, st.evictions, cmd_lookup("exec", 4)->calls);
}
END_TEST

/* The same under appendfsync always, with kill -9 twenty times as often:
 * the replay after a kill finds a prefilled tail (wal.h) nearly every
 * time, and must still equal what was live. */
START_TEST(test_replay_equals_live_after_kills_with_a_tail)
{
    const char *s = getenv("KVD_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 10) : 20261201;
    stats st = {0};
    run(seed, 30000, &st, 1, 300);
    printf("replay invariant under always: seed %" PRIu64 ", %" PRIu64 " commands, %" PRIu64
           " restarts after kill -9 (%" PRIu64 " with a prefilled tail), %" PRIu64 " compactions, %" PRIu64
           " failed writes taken back\n",
           seed, st.commands, st.killed, st.killed_tail, st.compactions, st.failed_writes);
    ck_assert_uint_gt(st.killed_tail, st.killed / 2);
}
END_TEST

/* A log no kvd writes: an append that would take a value past the longest
 * a key can hold (its length would wrap). The replay skips it, leaves the
 * value as it was, and notes its seq for the caller to refuse the load;
 * an append that fits is applied. */
START_TEST(test_append_past_the_longest_value_refused)
{
    keyspace ks;
    keyspace_init(&ks, 2);
    static const char pad[16];
    wal_entry set = {.seq = 1, .op = WAL_OP_SET, .db = 1, .key = "a", .klen = 1, .val = "xyz", .vlen = 3,
                     .exp = WAL_NO_EXPIRE};
    ck_assert_int_eq(apply_replay(&ks, &set), 0);
    /* 3 + (2^32 - 3) = 2^32: one past; the bytes are never read. */
    wal_entry app = {.seq = 2, .op = WAL_OP_APPEND, .db = 1, .key = "a", .klen = 1, .val = pad,
                     .vlen = (size_t)KEYSPACE_MAX_VALUE - 2, .exp = WAL_NO_EXPIRE};
    ck_assert_int_eq(apply_replay(&ks, &app), -1);
    ck_assert_uint_eq(ks.long_seq, 2);
    wal_entry ok = {.seq = 3, .op = WAL_OP_APPEND, .db = 1, .key = "a", .klen = 1, .val = "!!", .vlen = 2,
                    .exp = WAL_NO_EXPIRE};
    ck_assert_int_eq(apply_replay(&ks, &ok), 0);
    ck_assert_uint_eq(ks.long_seq, 2); /* the first one stays noted */
    tentry_t *e = table_peek(ks.db[1], "a", 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(tentry_vlen(e), 5);
    ck_assert_int_eq(memcmp(tentry_val(e), "xyz!!", 5), 0);
    /* An append to a missing key creates it, whatever its length. */
    wal_entry fresh = {.seq = 4, .op = WAL_OP_APPEND, .db = 0, .key = "b", .klen = 1, .val = "v", .vlen = 1,
                       .exp = WAL_NO_EXPIRE};
    ck_assert_int_eq(apply_replay(&ks, &fresh), 0);
    ck_assert_ptr_nonnull(table_peek(ks.db[0], "b", 1));
    keyspace_free(&ks);
}
END_TEST

/* A loader hashes a key once, at its first prefetch hint, and its apply
 * uses that hash. A SWAPDB applied between the hints and the inserts
 * changes which table the database number names; the keys must still go
 * where a lookup finds them. */
START_TEST(test_hints_across_a_swapdb)
{
    keyspace ks;
    keyspace_init(&ks, 2);
    enum { N = 300 };
    static char keys[N][16];
    wal_entry sets[N];
    for (int i = 0; i < N; i++) {
        int n = snprintf(keys[i], sizeof keys[i], "key:%d", i);
        sets[i] = (wal_entry){.seq = (uint64_t)i + 1, .op = WAL_OP_SET, .db = (uint32_t)(i % 2), .key = keys[i],
                              .klen = (size_t)n, .val = "v", .vlen = 1, .exp = WAL_NO_EXPIRE};
        apply_hooks.prefetch(&ks, sets[i].db, sets[i].key, sets[i].klen, 0, &sets[i].memo);
        ck_assert_ptr_eq(sets[i].memo.of, ks.db[i % 2]);
        apply_hooks.prefetch(&ks, sets[i].db, sets[i].key, sets[i].klen, 1, &sets[i].memo);
    }
    /* Half of them applied before the swap, half after. */
    for (int i = 0; i < N / 2; i++)
        ck_assert_int_eq(apply_replay(&ks, &sets[i]), 0);
    wal_entry sw = {.seq = N + 1, .op = WAL_OP_SWAPDB, .db = 0, .to = 1, .exp = WAL_NO_EXPIRE};
    ck_assert_int_eq(apply_replay(&ks, &sw), 0);
    for (int i = N / 2; i < N; i++)
        ck_assert_int_eq(apply_replay(&ks, &sets[i]), 0);
    for (int i = 0; i < N; i++) {
        /* Before the swap a key went to database i % 2 and then moved with
         * its table; after it, it went to i % 2 as it is now. */
        uint32_t db = i < N / 2 ? (uint32_t)(1 - i % 2) : (uint32_t)(i % 2);
        ck_assert_msg(table_peek(ks.db[db], keys[i], strlen(keys[i])) != NULL, "%s is not found in db %u", keys[i],
                      db);
    }
    ck_assert_uint_eq(table_count(ks.db[0]) + table_count(ks.db[1]), N);
    keyspace_free(&ks);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("invariant");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_replay_equals_live);
    tcase_add_test(tc, test_replay_equals_live_after_kills_with_a_tail);
    tcase_add_test(tc, test_append_past_the_longest_value_refused);
    tcase_add_test(tc, test_hints_across_a_swapdb);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(suite)
