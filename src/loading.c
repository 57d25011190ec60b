/* loading: progress of the startup replay, the loop polled meanwhile. */
#include "config.h"
#include "loading.h"
#include "conn.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "util.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MS ((uint64_t)1000000)     /* in ns */
#define POLL_EVERY (10 * MS)       /* clients are answered at least this often */
#define STATUS_EVERY (1000 * MS)   /* systemd STATUS= lines */
#define LOG_FIRST (2000 * MS)      /* a progress line once the replay has run this long */
#define LOG_EVERY (5000 * MS)      /* ... and then this often */

static uint64_t last_poll, last_status, last_log;
static uint64_t poll_gap = POLL_EVERY; /* until the next poll: grows with the time clients took */
static uint64_t delay_ms;          /* KVD_TEST_LOAD_DELAY_MS */
static int announced;

void loading_begin(void)
{
    uint64_t now = kvd_mono_ns();
    srv.loading = (loading_state){.active = 1, .start_time = (int64_t)time(NULL), .start_ns = now};
    last_poll = last_status = now;
    poll_gap = POLL_EVERY;
    last_log = 0;
    announced = 0;
    const char *d = getenv("KVD_TEST_LOAD_DELAY_MS");
    delay_ms = d ? strtoull(d, NULL, 10) : 0;
}

void loading_end(void)
{
    srv.loading.active = 0;
}

/* Let clients in: accept, read, run what they sent, send the replies. */
static void poll_loop(void)
{
    if (!srv.loop)
        return;
    uint64_t t0 = kvd_mono_ns();
    uv_run(srv.loop, UV_RUN_NOWAIT);
    conn_send_all();
    last_poll = kvd_mono_ns();
    /* Clients flooding kvd with commands during the load must not hold it
     * back: the replay gets at least nine tenths of the time (the next
     * poll waits nine times as long as this one took, 10 ms at least). */
    uint64_t took = last_poll - t0;
    poll_gap = took * 9 > POLL_EVERY ? took * 9 : POLL_EVERY;
}

static double percent(void)
{
    const loading_state *l = &srv.loading;
    return l->total_bytes ? (double)l->loaded_bytes * 100.0 / (double)l->total_bytes : 0.0;
}

/* Seconds to go at the rate so far (1 until there is a rate). */
static uint64_t eta_seconds(uint64_t now)
{
    const loading_state *l = &srv.loading;
    uint64_t left = l->total_bytes > l->loaded_bytes ? l->total_bytes - l->loaded_bytes : 0;
    if (!l->loaded_bytes)
        return 1;
    return (uint64_t)((double)(now - l->start_ns) / 1e9 * (double)left / (double)l->loaded_bytes + 0.5);
}

static double mb(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static int progress(void *ctx, uint64_t bytes, uint64_t total, uint64_t entries)
{
    KVD_UNUSED(ctx);
    loading_state *l = &srv.loading;
    if (!l->active)
        return 0; /* a replay without the server around it (tests/harness.c) */
    l->loaded_bytes = bytes;
    l->total_bytes = total;
    l->entries = entries;
    uint64_t now = kvd_mono_ns();
    if (!announced && total) {
        log_notice("loading the WAL in %s: %.1f MB; commands get -LOADING until it is loaded", srv.cfg.dir,
                   mb(total));
        notify_send("STATUS=loading: 0%\n");
    }
    announced = 1;
    if (now - l->start_ns >= LOG_FIRST && now - last_log >= LOG_EVERY) {
        log_notice("loading: %.1f of %.1f MB (%.0f%%), %llu entries, %.1f s so far, ETA %llu s", mb(bytes),
                   mb(total), percent(), (unsigned long long)entries, (double)(now - l->start_ns) / 1e9,
                   (unsigned long long)eta_seconds(now));
        last_log = now;
    }
    if (now - last_status >= STATUS_EVERY) {
        notify_sendf("STATUS=loading: %.0f%%, ETA %llu s\n", percent(), (unsigned long long)eta_seconds(now));
        last_status = now;
    }
    if (now - last_poll >= poll_gap)
        poll_loop();
    /* The tests' slow disk: wait, answering clients meanwhile. */
    for (uint64_t until = kvd_mono_ns() + delay_ms * MS; delay_ms && !srv.shutting_down && kvd_mono_ns() < until;) {
        poll_loop();
        usleep(5000);
    }
    return srv.shutting_down;
}

const wal_replay_watch loading_watch = {progress, NULL};

void loading_info(buf_t *out)
{
    const loading_state *l = &srv.loading;
    /* The ETA as Redis reckons it: whole seconds elapsed, 1 at first. */
    int64_t elapsed = (int64_t)time(NULL) - l->start_time;
    uint64_t left = !l->total_bytes ? 1 : l->total_bytes > l->loaded_bytes ? l->total_bytes - l->loaded_bytes : 0;
    int64_t eta = elapsed <= 0 ? 1 : (int64_t)((uint64_t)elapsed * left / (l->loaded_bytes + 1));
    buf_appendf(out,
                "loading_start_time:%lld\r\nloading_total_bytes:%llu\r\n"
                "loading_rdb_used_mem:0\r\nloading_loaded_bytes:%llu\r\nloading_loaded_perc:%.2f\r\n"
                "loading_eta_seconds:%lld\r\n",
                (long long)l->start_time, (unsigned long long)l->total_bytes, (unsigned long long)l->loaded_bytes,
                percent(), (long long)eta);
}
