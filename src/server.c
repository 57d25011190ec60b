/* server: the libuv loop and the server's life: listeners, the
 * per-iteration group commit (commit.c), the cron, signals, live
 * configuration changes and shutdown. One thread runs everything except
 * fdatasync, which goes to libuv's thread pool. The connections
 * themselves are conn.c's. */
#include "config.h"
#include "server.h"
#include "slowlog.h"
#include "acl.h"
#include "cmd.h"
#include "commit.h"
#include "conn.h"
#include "db.h"
#include "evict.h"
#include "loading.h"
#include "log.h"
#include "pause.h"
#include "repl.h"
#include "notify.h"
#include "tls.h"
#include "util.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

server srv;

/* ------------------------------------------------------------- group commit */

/* Busy polling. A loop that blocks in epoll_wait is woken by the next
 * request through the scheduler, which on busy cores costs a context
 * switch and often a migration per wake-up: at one request per round
 * trip that is a large part of what a request costs. For busy-poll-us
 * after an iteration that moved bytes the loop polls without blocking
 * (an active idle handle makes libuv's poll timeout 0), then blocks
 * again: an idle server uses no CPU. */
static uv_idle_t spin;
static uint64_t spin_moved, spin_until;

/* Polling holds a core that other work may want. The kernel counts how
 * long the loop thread waited, runnable, for a CPU (schedstat): on a
 * quiet machine 4-5% of the time under a -P 1 load, polling or not; beside
 * busy processes 30% and more. When it waited over SPIN_CONTENDED_PCT of
 * the last cron period, polling stops for SPIN_BACKOFF_NS (and as long as
 * that goes on), so a shared machine sees the loop block as Redis's does.
 * Without schedstat (a kernel without CONFIG_SCHED_INFO) it polls as set. */
#define SPIN_CONTENDED_PCT 15
#define SPIN_BACKOFF_NS 5000000000ull
static int spin_stat_fd = -1;
static uint64_t spin_off_until, spin_waited, spin_checked;

static void busy_poll_cron(void)
{
    uint64_t waited;
    if (spin_stat_fd < 0 || srv.cfg.busy_poll_us <= 0) {
        spin_checked = 0; /* turned on again, it starts afresh */
        return;
    }
    if (kvd_runq_wait(spin_stat_fd, &waited) < 0)
        return;
    uint64_t now = kvd_mono_ns(), d = waited - spin_waited, ns = now - spin_checked;
    int first = spin_checked == 0;
    spin_waited = waited;
    spin_checked = now;
    if (first || ns == 0 || d * 100 <= ns * SPIN_CONTENDED_PCT)
        return;
    if (spin_off_until < now)
        log_verbose("busy polling paused: the loop thread waited for a CPU %llu%% of the last %llu ms",
                    (unsigned long long)(d * 100 / ns), (unsigned long long)(ns / 1000000));
    spin_off_until = now + SPIN_BACKOFF_NS;
}

const char *server_busy_polling(void)
{
    if (srv.cfg.busy_poll_us <= 0)
        return "off";
    return kvd_mono_ns() < spin_off_until ? "paused" : "on";
}

static void on_spin(uv_idle_t *h)
{
    KVD_UNUSED(h);
}

static void busy_poll(void)
{
    uint64_t moved = srv.stats.net_in + srv.stats.net_out, now = 0;
    if (srv.cfg.busy_poll_us > 0) {
        now = kvd_mono_ns();
        if (moved != spin_moved)
            spin_until = now + (uint64_t)srv.cfg.busy_poll_us * 1000;
    }
    spin_moved = moved;
    int want = srv.cfg.busy_poll_us > 0 && now < spin_until && now >= spin_off_until;
    if (want && !uv_is_active((uv_handle_t *)&spin))
        uv_idle_start(&spin, on_spin);
    else if (!want && uv_is_active((uv_handle_t *)&spin))
        uv_idle_stop(&spin);
}

static void on_prepare(uv_prepare_t *h)
{
    KVD_UNUSED(h);
    commit_prepare();
    busy_poll();
}

/* ------------------------------------------------------------------- cron */

static void on_cron(uv_timer_t *t)
{
    KVD_UNUSED(t);
    int64_t now = kvd_now_ms();
    int hz = srv.cfg.hz > 0 ? srv.cfg.hz : 10;
    /* Expiry gets at most 25% of each cycle's period, as in Redis. */
    uint64_t t0 = kvd_mono_ns();
    db_active_expire(1000000 / hz / 4);
    latency_sample("expire-cycle", (kvd_mono_ns() - t0) / 1000000);
    busy_poll_cron();
    for (uint32_t i = 0; i < srv.ks.n; i++)
        table_rehash_ms(srv.ks.db[i], 1);
    conn_cron(now);
    tls_cron(now);
    compact_cron();
    server_used_memory(); /* the clients' buffers, and the peak */
    if (srv.cfg.maxmemory) {
        db_set_now(now);
        db_make_room(1000000 / hz / 4);
    }
    if (now - srv.stats.ops_sample_ms >= 1000) {
        srv.stats.ops_per_sec = (double)(srv.stats.commands - srv.stats.ops_sample_cmds) * 1000.0 /
                                (double)(now - srv.stats.ops_sample_ms);
        srv.stats.ops_sample_cmds = srv.stats.commands;
        srv.stats.ops_sample_ms = now;
    }
    commit_cron(now);
    conn_send_all();
}

void server_apply_eviction_config(void)
{
    for (uint32_t i = 0; i < srv.ks.n; i++) {
        table_t *t = srv.ks.db[i];
        t->lfu = evict_policy_is_lfu(srv.cfg.maxmemory_policy);
        t->lfu_log_factor = srv.cfg.lfu_log_factor;
        t->lfu_decay_min = srv.cfg.lfu_decay_time;
    }
}

void server_config_changed(const char *name)
{
    if (strcasecmp(name, "maxmemory-policy") == 0 || strncasecmp(name, "lfu-", 4) == 0)
        server_apply_eviction_config();
    if (strcasecmp(name, "loglevel") == 0)
        log_set_level(srv.cfg.loglevel);
    else if (strncasecmp(name, "pool-", 5) == 0)
        pool_set_caps(&srv.pool, (size_t)srv.cfg.pool_max_per_class, (size_t)srv.cfg.pool_max_bytes);
    else if (strcasecmp(name, "hz") == 0)
        uv_timer_set_repeat(&srv.cron, (uint64_t)(1000 / srv.cfg.hz));
    else if (strncasecmp(name, "proto-", 6) == 0) {
        conn_set_limits();
    } else if (strcasecmp(name, "maxmemory") == 0 && !srv.loading.active) {
        /* A lower limit applies now, as in Redis, not at the next write.
         * (While loading there is no keyspace to evict from yet, nor a
         * WAL for appendfsync below: the cron and the group commit take
         * the new values once loaded.) */
        db_set_now(kvd_now_ms());
        if (db_make_room(0) < 0)
            log_warning("used memory is over the new maxmemory and the policy (%s) can evict nothing "
                        "more: writes get -OOM",
                        evict_policy_names[srv.cfg.maxmemory_policy]);
    } else if (strcasecmp(name, "appendfsync") == 0 && !srv.loading.active) {
        commit_policy_changed();
    } else if (strcasecmp(name, "requirepass") == 0) {
        acl_set_requirepass(srv.cfg.requirepass, strlen(srv.cfg.requirepass));
    }
}

/* What used_memory counts, with the clients' buffers as of the last walk. */
static size_t used_memory(void)
{
    size_t used = keyspace_bytes(&srv.ks) + srv.pool.cached_bytes + (srv.wal ? srv.wal->batch.cap : 0) + srv.clients_mem;
    if (used > srv.stats.peak_memory)
        srv.stats.peak_memory = used;
    return used;
}

size_t server_used_memory(void)
{
    srv.clients_mem = conn_memory();
    return used_memory();
}

/* ---------------------------------------------------------------- shutdown */

/* Close h unless it is closing or was never initialized (all zeros). */
static void close_handle(uv_handle_t *h)
{
    if (h->type != UV_UNKNOWN_HANDLE && !uv_is_closing(h))
        uv_close(h, NULL);
}

/* Make room for a unix socket at path: a socket left by a server that is
 * gone is removed (as Redis does); a live one (another server answers
 * there) or anything that is not a socket (a file given by mistake, a
 * data file) is left alone and refused. */
static int clear_socket_path(const char *path, char *why, size_t n)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(why, n, "it exists and is not a socket (kvd replaces only a socket left by a server that is gone)");
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) < sizeof sa.sun_path) {
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
            close(fd);
            if (live) {
                snprintf(why, n, "another server is listening there");
                return -1;
            }
        }
    }
    unlink(path);
    return 0;
}

/* Stop listening, close the clients and the loop's own handles. */
static void close_all(void)
{
    for (int i = 0; i < srv.nlisteners; i++)
        close_handle((uv_handle_t *)&srv.listeners[i]);
    if (srv.has_unix) {
        close_handle((uv_handle_t *)&srv.unix_listener);
        unlink(srv.cfg.unixsocket);
    }
    /* Everything written is durable now: send what we can, then close.
     * Commands a CLIENT PAUSE holds never run. */
    pause_shutdown();
    conn_close_all();
    close_handle((uv_handle_t *)&srv.prepare);
    close_handle((uv_handle_t *)&spin);
    if (spin_stat_fd >= 0) {
        close(spin_stat_fd);
        spin_stat_fd = -1;
    }
    close_handle((uv_handle_t *)&srv.cron);
    close_handle((uv_handle_t *)&srv.sig_term);
    close_handle((uv_handle_t *)&srv.sig_int);
    close_handle((uv_handle_t *)&srv.sig_hup);
}

int server_shutdown(const char *why, int force)
{
    if (srv.shutting_down)
        return 0;
    if (srv.loading.active) {
        /* Nothing was written yet, and nothing will be: the replay stops
         * (loading.c) and kvd exits. */
        log_warning("%s while loading the data: shutting down without writing anything", why);
        srv.shutting_down = 1;
        notify_send("STOPPING=1\nSTATUS=shutting down\n");
        close_all();
        return 0;
    }
    log_warning("%s: shutting down", why);
    int rc = commit_sync_now();
    if (rc < 0 && srv.wal->sync_error) {
        /* An fdatasync failed, now or before (or a failed write could not
         * be cut back): writes stay refused, and another fdatasync could
         * prove nothing (the kernel may have dropped the pages), so there
         * is nothing to wait for. */
        log_warning("an fdatasync of the WAL failed earlier (%s), or a failed write could not be cut back: what "
                    "was written since the last good fdatasync may not be on disk; exiting without syncing again",
                    strerror(-rc));
        srv.exit_code = 1;
    } else if (rc < 0) {
        log_warning("the WAL could not be written: %s", strerror(-rc));
        if (!force) {
            /* A write that failed (a full disk) can be tried again. */
            log_warning("shutdown aborted: kvd keeps running, so the WAL can be written and synced once the "
                        "disk takes it (SHUTDOWN again; SHUTDOWN FORCE or SIGTERM exits without it)");
            return rc;
        }
        srv.exit_code = 1;
    } else {
        log_notice("WAL flushed and synced (last seq %llu)", (unsigned long long)srv.wal->durable_seq);
    }
    srv.shutting_down = 1;
    notify_send("STOPPING=1\nSTATUS=shutting down\n");
    compact_abort();
    repl_shutdown(rc == 0);
    close_all();
    return 0;
}

void server_close(void)
{
    if (!srv.loop)
        return;
    if (!srv.shutting_down) {
        srv.shutting_down = 1;
        close_all();
    }
    uv_run(srv.loop, UV_RUN_DEFAULT);
}

static void on_signal(uv_signal_t *h, int sig)
{
    KVD_UNUSED(h);
    if (sig == SIGHUP) {
        if (log_reopen() < 0)
            log_warning("SIGHUP: cannot reopen the log file: %s", strerror(errno));
        else
            log_notice("SIGHUP: log file reopened");
        return;
    }
    server_shutdown(sig == SIGTERM ? "received SIGTERM" : "received SIGINT", 1);
}

/* --------------------------------------------------------------- listeners */

static int listen_tcp(const char *addr_in, int port, uv_connection_cb on_connection)
{
    int optional = addr_in[0] == '-';
    const char *addr = optional ? addr_in + 1 : addr_in;
    struct sockaddr_storage ss;
    int rc;
    if (strchr(addr, ':'))
        rc = uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss);
    if (rc < 0) {
        log_warning("bad bind address '%s': %s", addr, uv_strerror(rc));
        return optional ? 0 : -1;
    }
    if (srv.nlisteners == (int)KVD_ARRAY_SIZE(srv.listeners)) {
        log_warning("too many bind addresses");
        return -1;
    }
    uv_tcp_t *t = &srv.listeners[srv.nlisteners];
    rc = uv_tcp_init(srv.loop, t);
    if (rc < 0) {
        log_warning("cannot listen on %s:%d: %s", addr, port, uv_strerror(rc));
        return -1;
    }
    rc = uv_tcp_bind(t, (struct sockaddr *)&ss, strchr(addr, ':') ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)t, srv.cfg.tcp_backlog, on_connection);
    if (rc < 0) {
        uv_close((uv_handle_t *)t, NULL);
        if (optional) {
            log_notice("skipping optional bind address %s:%d: %s", addr, port, uv_strerror(rc));
            return 0;
        }
        log_warning("cannot listen on %s:%d: %s", addr, port, uv_strerror(rc));
        return -1;
    }
    srv.nlisteners++;
    return 0;
}

/* port on every bind address. */
static int listen_port(int port, uv_connection_cb on_connection)
{
    char *addrs = xstrdup(srv.cfg.bind);
    int rc = 0;
    for (char *a = strtok(addrs, " "); a && rc == 0; a = strtok(NULL, " "))
        rc = listen_tcp(a, port, on_connection);
    free(addrs);
    return rc;
}

static int listen_all(void)
{
    if (srv.cfg.port > 0 && listen_port(srv.cfg.port, conn_accept) < 0)
        return -1;
    if (srv.cfg.tls_port > 0) {
        if (listen_port(srv.cfg.tls_port, conn_accept_tls) < 0)
            return -1;
        char what[512];
        tls_describe(what, sizeof what);
        log_notice("%s", what);
    }
    if (srv.cfg.unixsocket[0]) {
        char why[256];
        if (clear_socket_path(srv.cfg.unixsocket, why, sizeof why) < 0) {
            log_warning("cannot listen on unix socket %s: %s", srv.cfg.unixsocket, why);
            return -1;
        }
        int rc = uv_pipe_init(srv.loop, &srv.unix_listener, 0);
        if (rc < 0) {
            log_warning("cannot listen on unix socket %s: %s", srv.cfg.unixsocket, uv_strerror(rc));
            return -1;
        }
        rc = uv_pipe_bind(&srv.unix_listener, srv.cfg.unixsocket);
        if (rc == 0 && chmod(srv.cfg.unixsocket, (mode_t)srv.cfg.unixsocketperm) < 0)
            rc = -errno;
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&srv.unix_listener, srv.cfg.tcp_backlog, conn_accept);
        if (rc < 0) {
            log_warning("cannot listen on unix socket %s: %s", srv.cfg.unixsocket, uv_strerror(rc));
            uv_close((uv_handle_t *)&srv.unix_listener, NULL);
            return -1;
        }
        srv.has_unix = 1;
    }
    if (srv.nlisteners == 0 && !srv.has_unix) {
        log_warning("nothing to listen on: set port or unixsocket");
        return -1;
    }
    return 0;
}

int server_listen(void)
{
    srv.loop = uv_default_loop();
    /* The handles first, so that server_close can close them all. */
    int rc = uv_prepare_init(srv.loop, &srv.prepare);
    if (rc == 0)
        rc = uv_idle_init(srv.loop, &spin);
    spin_stat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (rc == 0)
        rc = uv_timer_init(srv.loop, &srv.cron);
    if (rc == 0)
        rc = uv_signal_init(srv.loop, &srv.sig_term);
    if (rc == 0)
        rc = uv_signal_init(srv.loop, &srv.sig_int);
    if (rc == 0)
        rc = uv_signal_init(srv.loop, &srv.sig_hup);
    if (rc < 0) {
        log_warning("cannot set up the event loop: %s", uv_strerror(rc));
        return -1;
    }
    if (listen_all() < 0)
        return -1;
    /* Without the signals kvd could not be stopped cleanly: it does not
     * start. */
    rc = uv_signal_start(&srv.sig_term, on_signal, SIGTERM);
    if (rc == 0)
        rc = uv_signal_start(&srv.sig_int, on_signal, SIGINT);
    if (rc == 0)
        rc = uv_signal_start(&srv.sig_hup, on_signal, SIGHUP);
    if (rc < 0) {
        log_warning("cannot set up the event loop: %s", uv_strerror(rc));
        return -1;
    }
    srv.last_save_ms = kvd_now_ms();
    return 0;
}

int server_run(void)
{
    /* The group commit and the cron: without either kvd cannot keep its
     * promises, so it does not start. */
    uint64_t period = (uint64_t)(1000 / srv.cfg.hz);
    int rc = uv_prepare_start(&srv.prepare, on_prepare);
    if (rc == 0)
        rc = uv_timer_start(&srv.cron, on_cron, period, period);
    if (rc < 0) {
        log_warning("cannot set up the event loop: %s", uv_strerror(rc));
        return 1;
    }
    if (rc == 0)
        rc = repl_start();
    if (rc < 0) {
        log_warning("cannot set up replication: %s", uv_strerror(rc));
        return 1;
    }
    srv.stats.ops_sample_ms = kvd_now_ms();
    loading_end();
    char tlsport[32] = "";
    if (srv.cfg.tls_port)
        snprintf(tlsport, sizeof tlsport, ", tls-port %d", srv.cfg.tls_port);
    log_notice("ready to accept connections (port %d%s%s%s)", srv.cfg.port, tlsport,
               srv.has_unix ? ", unix socket " : "", srv.has_unix ? srv.cfg.unixsocket : "");
    notify_ready();
    uv_run(srv.loop, UV_RUN_DEFAULT);
    return srv.exit_code;
}
