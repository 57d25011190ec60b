/* slowlog: SLOWLOG and LATENCY. See slowlog.h. */
#include "config.h"
#include "slowlog.h"
#include "cmd.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SLOWLOG ---- */

#define SLOW_MAX_ARGS 32    /* arguments kept per entry, as Redis */
#define SLOW_MAX_STRING 128 /* bytes kept per argument */

typedef struct slow_entry {
    uint64_t id;
    int64_t time;           /* unix seconds */
    uint64_t usec;
    int argc;
    char **argv;
    size_t *argvlen;
    char *addr, *name;
} slow_entry;

static slow_entry *slow;    /* newest first */
static int nslow;
static uint64_t next_slow_id;

static void slow_free_entry(slow_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    free(e->argv);
    free(e->argvlen);
    free(e->addr);
    free(e->name);
}

static void slow_trim(long long max)
{
    while (nslow > 0 && nslow > max)
        slow_free_entry(&slow[--nslow]);
}

static char *copy_arg(const char *p, size_t n, size_t *outlen)
{
    char *s;
    if (n > SLOW_MAX_STRING) {
        char tail[64];
        int t = snprintf(tail, sizeof tail, "... (%zu more bytes)", n - SLOW_MAX_STRING);
        s = xmalloc(SLOW_MAX_STRING + (size_t)t + 1);
        memcpy(s, p, SLOW_MAX_STRING);
        memcpy(s + SLOW_MAX_STRING, tail, (size_t)t + 1);
        *outlen = SLOW_MAX_STRING + (size_t)t;
    } else {
        s = xmalloc(n + 1);
        memcpy(s, p, n);
        s[n] = '\0';
        *outlen = n;
    }
    return s;
}

void slowlog_command(client *c, int argc, char **argv, size_t *argvlen, uint64_t usec)
{
    long long limit = srv.cfg.slowlog_log_slower_than;
    if (limit < 0 || usec < (uint64_t)limit || srv.cfg.slowlog_max_len <= 0)
        return;
    if (nslow >= srv.cfg.slowlog_max_len)
        slow_trim(srv.cfg.slowlog_max_len - 1);
    slow = xrealloc(slow, sizeof(*slow) * (size_t)(nslow + 1));
    memmove(slow + 1, slow, sizeof(*slow) * (size_t)nslow);
    nslow++;
    slow_entry *e = &slow[0];
    e->id = next_slow_id++;
    e->time = kvd_now_ms() / 1000;
    e->usec = usec;
    e->argc = argc > SLOW_MAX_ARGS ? SLOW_MAX_ARGS : argc;
    e->argv = xmalloc(sizeof(char *) * (size_t)e->argc);
    e->argvlen = xmalloc(sizeof(size_t) * (size_t)e->argc);
    for (int i = 0; i < e->argc; i++) {
        if (argc > SLOW_MAX_ARGS && i == SLOW_MAX_ARGS - 1) {
            char more[64];
            int t = snprintf(more, sizeof more, "... (%d more arguments)", argc - SLOW_MAX_ARGS + 1);
            e->argv[i] = xmemdup(more, (size_t)t + 1);
            e->argvlen[i] = (size_t)t;
        } else if (cmd_arg_redacted(argc, argv, argvlen, i)) {
            e->argv[i] = xstrdup("(redacted)");
            e->argvlen[i] = 10;
        } else {
            e->argv[i] = copy_arg(argv[i], argvlen[i], &e->argvlen[i]);
        }
    }
    e->addr = xstrdup(c->addr);
    e->name = xstrdup(c->name ? c->name : "");
}

void cmd_slowlog(client *c, int argc, char **argv, size_t *argvlen)
{
    if (arg_is(argv[1], argvlen[1], "get") && argc <= 3) {
        long long count = 10;
        if (argc == 3 && (kvd_str_to_ll(argv[2], argvlen[2], &count) < 0 || count < -1)) {
            reply_error(c, "ERR count should be greater than or equal to -1");
            return;
        }
        if (count == -1 || count > nslow)
            count = nslow;
        reply_array(c, count);
        for (long long i = 0; i < count; i++) {
            const slow_entry *e = &slow[i];
            reply_array(c, 6);
            reply_int(c, (long long)e->id);
            reply_int(c, e->time);
            reply_int(c, (long long)e->usec);
            reply_array(c, e->argc);
            for (int j = 0; j < e->argc; j++)
                reply_bulk(c, e->argv[j], e->argvlen[j]);
            reply_bulk_str(c, e->addr);
            reply_bulk_str(c, e->name);
        }
    } else if (arg_is(argv[1], argvlen[1], "len") && argc == 2) {
        reply_int(c, nslow);
    } else if (arg_is(argv[1], argvlen[1], "reset") && argc == 2) {
        slow_trim(0);
        reply_ok(c);
    } else if (arg_is(argv[1], argvlen[1], "help") && argc == 2) {
        static const char *const help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN", "    Return the length of the slowlog.",
            "RESET", "    Reset the slowlog.",
            "HELP", "    Prints this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"get", "len", "reset", "help", NULL};
        reply_subcommand_error(c, "slowlog", argv[1], argvlen[1], known);
    }
}

/* ---- LATENCY ---- */

#define LAT_SAMPLES 160 /* per event, as Redis */
#define LAT_EVENTS 16

typedef struct lat_event {
    const char *name;
    struct {
        int64_t time;       /* unix seconds */
        uint64_t ms;
    } s[LAT_SAMPLES];
    int idx, n;             /* ring: next slot, samples held */
    uint64_t max;
} lat_event;

static lat_event events[LAT_EVENTS];
static int nevents;

static lat_event *find_event(const char *name, size_t len)
{
    for (int i = 0; i < nevents; i++)
        if (strlen(events[i].name) == len && memcmp(events[i].name, name, len) == 0)
            return &events[i];
    return NULL;
}

void latency_sample(const char *event, uint64_t ms)
{
    long long threshold = srv.cfg.latency_monitor_threshold;
    if (threshold <= 0 || ms < (uint64_t)threshold)
        return;
    lat_event *e = find_event(event, strlen(event));
    if (!e) {
        if (nevents == LAT_EVENTS)
            return;
        e = &events[nevents++];
        memset(e, 0, sizeof *e);
        e->name = event;
    }
    int64_t now = kvd_now_ms() / 1000;
    int prev = (e->idx + LAT_SAMPLES - 1) % LAT_SAMPLES;
    if (e->n && e->s[prev].time == now) {
        /* One sample a second: the worst of that second. */
        if (ms > e->s[prev].ms)
            e->s[prev].ms = ms;
    } else {
        e->s[e->idx].time = now;
        e->s[e->idx].ms = ms;
        e->idx = (e->idx + 1) % LAT_SAMPLES;
        if (e->n < LAT_SAMPLES)
            e->n++;
    }
    if (ms > e->max)
        e->max = ms;
}

static int latest(const lat_event *e)
{
    return (e->idx + LAT_SAMPLES - 1) % LAT_SAMPLES;
}

static void latency_doctor(client *c)
{
    buf_t b = BUF_INIT(&srv.pool);
    if (srv.cfg.latency_monitor_threshold <= 0) {
        buf_puts(&b, "The latency monitor is off: latency-monitor-threshold is 0. Set it to a number of "
                     "milliseconds (CONFIG SET latency-monitor-threshold 100) to record what takes that long.\n");
    } else if (nevents == 0) {
        buf_appendf(&b, "Nothing took %d ms or more since kvd started (or since LATENCY RESET).\n",
                    srv.cfg.latency_monitor_threshold);
    } else {
        buf_appendf(&b, "Events of %d ms or more since kvd started (or since LATENCY RESET):\n\n",
                    srv.cfg.latency_monitor_threshold);
        for (int i = 0; i < nevents; i++) {
            const lat_event *e = &events[i];
            uint64_t sum = 0;
            for (int j = 0; j < e->n; j++)
                sum += e->s[j].ms;
            buf_appendf(&b, "%d. %s: %d latency spikes (average %llums, worst %llums, latest %llums at %lld).\n",
                        i + 1, e->name, e->n, (unsigned long long)(e->n ? sum / (uint64_t)e->n : 0),
                        (unsigned long long)e->max, (unsigned long long)e->s[latest(e)].ms,
                        (long long)e->s[latest(e)].time);
        }
        buf_puts(&b, "\nWhat helps: for \"command\", look for slow commands in SLOWLOG GET (KEYS, big MGET, "
                     "DEL of large values); for \"aof-fsync-always\", a faster disk or appendfsync everysec; "
                     "for \"fork\", a smaller dataset or more memory; for \"expire-cycle\" and "
                     "\"eviction-cycle\", fewer keys expiring or being evicted at once.\n");
    }
    reply_verbatim(c, b.data, b.len);
    buf_release(&b);
}

void cmd_latency(client *c, int argc, char **argv, size_t *argvlen)
{
    if (arg_is(argv[1], argvlen[1], "latest") && argc == 2) {
        reply_array(c, nevents);
        for (int i = 0; i < nevents; i++) {
            const lat_event *e = &events[i];
            reply_array(c, 4);
            reply_bulk_str(c, e->name);
            reply_int(c, e->s[latest(e)].time);
            reply_int(c, (long long)e->s[latest(e)].ms);
            reply_int(c, (long long)e->max);
        }
    } else if (arg_is(argv[1], argvlen[1], "history") && argc == 3) {
        const lat_event *e = find_event(argv[2], argvlen[2]);
        int n = e ? e->n : 0;
        reply_array(c, n);
        for (int j = 0; j < n; j++) {
            int k = (e->idx + LAT_SAMPLES - n + j) % LAT_SAMPLES;
            reply_array(c, 2);
            reply_int(c, e->s[k].time);
            reply_int(c, (long long)e->s[k].ms);
        }
    } else if (arg_is(argv[1], argvlen[1], "reset")) {
        long long reset = 0;
        if (argc == 2) {
            reset = nevents;
            nevents = 0;
        } else {
            for (int i = 2; i < argc; i++) {
                lat_event *e = find_event(argv[i], argvlen[i]);
                if (!e)
                    continue;
                *e = events[--nevents];
                reset++;
            }
        }
        reply_int(c, reset);
    } else if (arg_is(argv[1], argvlen[1], "doctor") && argc == 2) {
        latency_doctor(c);
    } else if (arg_is(argv[1], argvlen[1], "help") && argc == 2) {
        static const char *const help[] = {
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR", "    Return a human readable latency analysis report.",
            "HISTORY <event>", "    Return time-latency samples for the <event> class.",
            "LATEST", "    Return the latest latency samples for all events.",
            "RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"latest", "history", "reset", "doctor", "help", NULL};
        reply_subcommand_error(c, "latency", argv[1], argvlen[1], known);
    }
}

void slowlog_free(void)
{
    slow_trim(0);
    free(slow);
    slow = NULL;
}
