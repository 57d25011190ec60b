/* check_multi: a transaction is all or nothing on disk. Random
 * transactions (SET, MSET, INCR, APPEND, DEL of missing keys, SETRANGE,
 * errors inside) run through the real command table; then the WAL is cut
 * at every byte offset of its last transactions, as a torn write would
 * leave it, and replayed: each transaction's keys are all there or none
 * are, and no transaction is there without the ones before it. */
#include "config.h"
#include "apply.h"
#include "cmd.h"
#include "harness.h"
#include "manifest.h"
#include "server.h"
#include "table.h"
#include "util.h"
#include "wal_dir.h"

#include "testutil.h"
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t r32(void)
{
    return (uint32_t)tu_rand(&rng);
}

static void cmd(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
{
    const char *v[] = {a0, a1, a2, a3, a4};
    char *argv[5];
    size_t lens[5];
    int argc = 0;
    for (int i = 0; i < 5 && v[i]; i++) {
        argv[argc] = (char *)v[i];
        lens[argc++] = strlen(v[i]);
    }
    h_cmd(argc, argv, lens);
}

#define TXS 60

static int keys_of[TXS]; /* keys transaction t leaves */

/* Copy dir's manifest and segment into cut/, the segment cut at off;
 * replay it and count each transaction's keys. Returns 0 or -1 (the
 * replay refused the file). */
static int replay_cut(const char *dir, const char *seg, off_t off, int *count)
{
    char cut[4200], path[4400], src[4400];
    snprintf(cut, sizeof cut, "%s/cut", dir);
    mkdir(cut, 0700);
    snprintf(src, sizeof src, "%s/%s", dir, "kvd.manifest");
    size_t len;
    char *m = kvd_read_file(src, &len);
    ck_assert_ptr_nonnull(m);
    snprintf(path, sizeof path, "%s/kvd.manifest", cut);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(kvd_write_all(fd, m, len), 0);
    close(fd);
    free(m);
    snprintf(src, sizeof src, "%s/%s", dir, seg);
    char *s = kvd_read_file(src, &len);
    ck_assert_ptr_nonnull(s);
    snprintf(path, sizeof path, "%s/%s", cut, seg);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(kvd_write_all(fd, s, (size_t)off), 0);
    close(fd);
    free(s);
    manifest man;
    char err[2048];
    ck_assert_int_eq(manifest_load(cut, &man, err, sizeof err), 0);
    table_t *t = table_new();
    wal_walk_result w;
    keyspace ks = {.db = &t, .n = 1};
    int rc = wal_walk_dir(cut, &man, &srv.pool, apply_replay, &ks, &apply_hooks, NULL, NULL, 0, &w, err, sizeof err);
    manifest_free(&man);
    table_expand_done(t);
    if (rc < 0 || w.status == WAL_SCAN_CORRUPT) {
        table_free(t);
        return -1;
    }
    for (int i = 0; i < TXS; i++) {
        count[i] = 0;
        for (int k = 0; k < 8; k++) {
            char key[32];
            snprintf(key, sizeof key, "tx%d:%d", i, k);
            count[i] += table_peek(t, key, strlen(key)) != NULL;
        }
    }
    table_free(t);
    return 0;
}

START_TEST(test_transactions_all_or_nothing)
{
    char dir[] = "/tmp/check_multi_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    h_start(dir, 1700000000000LL);
    h_policy(1);
    for (int t = 0; t < TXS; t++) {
        char k[8][32];
        for (int i = 0; i < 8; i++)
            snprintf(k[i], sizeof k[i], "tx%d:%d", t, i);
        int n = 0;
        cmd("MULTI", NULL, NULL, NULL, NULL);
        int steps = 1 + (int)(r32() % 6);
        for (int s = 0; s < steps; s++) {
            switch (r32() % 7) {
            case 0: cmd("SET", k[n], "v", NULL, NULL); n++; break;
            case 1: cmd("MSET", k[n], "a", k[n + 1], "b"); n += 2; break;
            case 2: cmd("INCR", k[n], NULL, NULL, NULL); n++; break;
            case 3: cmd("APPEND", k[n], "xyz", NULL, NULL); n++; break;
            case 4: cmd("DEL", "nosuchkey", "another", NULL, NULL); break;
            case 5: cmd("SETRANGE", k[n], "3", "abc", NULL); n++; break;
            default: cmd("INCR", "tx-not-a-number", NULL, NULL, NULL); break; /* an error inside */
            }
            if (n >= 7)
                break;
        }
        if (t == 0)
            cmd("SET", "tx-not-a-number", "abc", NULL, NULL);
        cmd("EXEC", NULL, NULL, NULL, NULL);
        keys_of[t] = n;
        if (r32() % 3 == 0)
            h_flush(); /* several transactions in one batch, or one each */
    }
    h_sync();
    char why[600];
    ck_assert_msg(h_check(why, sizeof why) == 0, "%s", why);
    h_stop();
    pool_init(&srv.pool, 64, 1 << 20);
    /* The segment: the one file the WAL has without compactions. */
    const char *seg = "kvd.incr.1.jsonl";
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, seg);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    int count[TXS], cuts = 0, refused = 0, partial_seen = 0;
    off_t from = st.st_size > 6000 ? st.st_size - 6000 : 0;
    for (off_t off = from; off <= st.st_size; off++) {
        if (replay_cut(dir, seg, off, count) < 0) {
            refused++; /* a cut the replay will not take is not a lost transaction */
            continue;
        }
        cuts++;
        int last_whole = -1, gap = 0;
        for (int t = 0; t < TXS; t++) {
            ck_assert_msg(count[t] == 0 || count[t] == keys_of[t],
                          "cut at %lld: transaction %d has %d of its %d keys", (long long)off, t, count[t],
                          keys_of[t]);
            if (keys_of[t] == 0)
                continue;
            if (count[t]) {
                ck_assert_msg(!gap, "cut at %lld: transaction %d is there but an earlier one is not",
                              (long long)off, t);
                last_whole = t;
            } else {
                gap = 1;
            }
        }
        partial_seen += last_whole < TXS - 1;
    }
    ck_assert_int_gt(cuts, 5000);
    ck_assert_int_gt(partial_seen, 100);
    printf("transactions: %d cut points replayed (%d refused as corrupt), every transaction whole or absent\n",
           cuts, refused);
    char cmdline[4400];
    snprintf(cmdline, sizeof cmdline, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmdline), 0);
    pool_destroy(&srv.pool);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("multi");
    TCase *tc = tcase_create("wal");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_transactions_all_or_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
