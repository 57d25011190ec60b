/* libFuzzer target: random command streams through the real command
 * table (tests/harness.c) into a fresh data dir, with the clock, batch
 * writes, failed writes, compactions, restarts (clean and kill -9),
 * expiry and evictions interleaved as the input says. After every
 * restart, and at the end, replaying the WAL directory must give exactly
 * the live table, and the keys live before a restart must be there after
 * it; any difference aborts (a crash for libFuzzer), as does any crash of
 * a command. Each input byte is consumed by the generator: the first of
 * each step picks an action, the next ones the command and its
 * arguments. */
#include "config.h"
#include "harness.h"
#include "evict.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct src {
    const uint8_t *p;
    size_t n, i;
} src;

static int next_byte(void *ctx)
{
    src *s = ctx;
    return s->i < s->n ? s->p[s->i++] : 0;
}

static char base[4096];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_commands: %s: %s\n", what, why);
    abort();
}

static void check(const char *what)
{
    char why[600];
    if (h_check(why, sizeof why) < 0)
        fail(what, why);
}

static void restart(int clean)
{
    char why[600];
    void *snap = h_snapshot();
    h_restart(clean);
    int rc = h_same_as(snap, why, sizeof why);
    h_snapshot_free(snap);
    if (rc < 0)
        fail(clean ? "clean restart" : "restart after kill -9", why);
    check("after a restart");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(base, sizeof base, "%s/kvd-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(base))
            abort();
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/d", base);
    nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    src s = {data, size, 0};
    h_start(dir, 1700000000000LL);
    char store[8192], *argv[16];
    size_t lens[16];
    int compactions = 0, restarts = 0;
    static const int policies[] = {EVICT_ALLKEYS_LRU, EVICT_VOLATILE_TTL, EVICT_ALLKEYS_RANDOM, EVICT_ALLKEYS_LFU};
    while (s.i < s.n) {
        int a = next_byte(&s);
        if (a < 200) {
            int argc = h_gen(next_byte, &s, argv, lens, store);
            h_cmd(argc, argv, lens);
        } else if (a < 215) {
            h_advance(next_byte(&s) * 20);
        } else if (a < 220) {
            h_advance((int64_t)next_byte(&s) * 3600000);
        } else if (a < 232) {
            h_flush();
        } else if (a < 238) {
            h_fail_write();
            check("after a failed write");
        } else if (a < 240) {
            if (compactions++ < 1) {
                h_compact();
                check("after a compaction");
            }
        } else if (a < 246) {
            if (restarts++ < 4)
                restart(a < 243);
        } else if (a < 250) {
            h_active_expire();
        } else if (a < 252) {
            h_evict(policies[next_byte(&s) % 4]);
        } else {
            check("on request");
        }
    }
    check("at the end");
    restart(1);
    h_stop();
    return 0;
}
