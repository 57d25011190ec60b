/* compact: rotate, fork, write a base, switch the manifest. */
#include "config.h"
#include "compact.h"
#include "slowlog.h"
#include "commit.h"
#include "log.h"
#include "repl.h"
#include "server.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child, after each chunk of base (WAL_BASE_CHUNK): pacing, and
 * the test hooks. Pacing: the child sleeps long enough to use at most
 * compaction-cpu-percent of a CPU, so that the server, which may share a
 * core (or SMT siblings) with it, keeps most of its throughput. What is
 * paced is wall time, less the time the child waited for a CPU (see
 * runq_wait_ns): the time the child waits for the disk (its
 * fdatasync every 1 MB) earns sleep too, which keeps it off the disk as
 * much as off the CPU (paced by CPU time instead, the server's write
 * tail under a compaction was 30% longer). */
static int child_duty = 100;
static uint64_t chunk_t0, chunk_wait0;
static int schedstat_fd = -1;

/* How long the child has waited, runnable, for a CPU (the second field of
 * /proc/self/schedstat): 0 without schedstat, the last value read if a
 * read fails (never less, which would make a chunk's wait wrap around).
 * That time is not work: counted as work, a child starved by busier
 * processes slept four times as long again and a compaction of 80k keys
 * took over 10 minutes beside two busy loops. */
static uint64_t runq_wait_ns(void)
{
    static uint64_t last;
    uint64_t ns;
    if (kvd_runq_wait(schedstat_fd, &ns) == 0 && ns > last)
        last = ns;
    return last;
}
static int cow_wfd = -1;
static unsigned chunks;
#define COW_EVERY (((size_t)16 << 20) / WAL_BASE_CHUNK) /* chunks: 16 MiB */

/* What the child reports to the parent through the pipe, after each
 * chunk of base: its copy-on-write cost (measured every 16 MiB) and how
 * far it got. */
typedef struct child_report {
    uint64_t cow;     /* private dirty bytes */
    uint64_t entries; /* entries written */
} child_report;
static child_report report;

/* The child's private dirty memory: pages the parent changed since the
 * fork (copied for the parent, so the originals are the child's alone)
 * plus the child's own buffers. What a compaction costs in memory. */
static uint64_t private_dirty(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Private_Dirty: %" SCNu64 " kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static void send_report(void)
{
    if (cow_wfd < 0)
        return;
    /* Smaller than PIPE_BUF: written whole or not at all. */
    if (write(cow_wfd, &report, sizeof report) < 0)
        (void)0; /* the pipe is full or gone: the parent has enough */
}

static void child_progress(void *ctx, uint64_t entries)
{
    (void)ctx;
    if (child_duty < 100 && chunk_t0) {
        uint64_t wall = kvd_mono_ns() - chunk_t0, waited = runq_wait_ns() - chunk_wait0;
        uint64_t worked = waited < wall ? wall - waited : 0;
        uint64_t rest = worked * (uint64_t)(100 - child_duty) / (uint64_t)child_duty;
        usleep((useconds_t)(rest / 1000));
    }
    chunk_t0 = kvd_mono_ns();
    chunk_wait0 = runq_wait_ns();
    if (++chunks % COW_EVERY == 0)
        report.cow = private_dirty();
    report.entries = entries;
    send_report();
    const char *at = getenv("KVD_TEST_CRASH_AT");
    if (at && strcmp(at, "mid-base") == 0) {
        /* A power cut while the base is half written: both processes stop. */
        kill(getppid(), SIGKILL);
        kill(getpid(), SIGKILL);
    }
}

/* Close every descriptor from `from` on except keep (-1: none). */
static void close_from(int from, int keep)
{
#ifdef HAVE_CLOSE_RANGE
    if (keep < from) {
        if (close_range((unsigned)from, ~0U, 0) == 0)
            return;
    } else if (close_range((unsigned)from, (unsigned)keep - 1, 0) == 0 &&
               close_range((unsigned)keep + 1, ~0U, 0) == 0) {
        return;
    }
#endif
    struct rlimit rl;
    int maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1048576 ? (int)rl.rlim_cur : 65536;
    for (int fd = from; fd < maxfd; fd++)
        if (fd != keep)
            close(fd);
}

static void child_main(const char *tmp, pid_t parent, const char *name, int duty)
{
    /* Die with the server: a base nobody will install is wasted work, and
     * a child must not outlive the data dir's owner. (If the parent died
     * before the prctl, getppid no longer names it.) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    prctl(PR_SET_NAME, name);
    /* Default signal dispositions (libuv's handlers would wake the
     * parent's loop) and no inherited sockets or files: if the parent
     * dies, its port and clients must not stay held by the child. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    close_from(3, cow_wfd);
    /* The server's own work comes first: the base can wait a little. */
    errno = 0;
    if (nice(10) == -1 && errno)
        (void)0; /* not fatal: the pacing below still applies */
    child_duty = duty;
    schedstat_fd = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
    chunk_t0 = kvd_mono_ns();
    chunk_wait0 = runq_wait_ns();
    kvd_test_crash("child-start");
    const char *delay = getenv("KVD_TEST_COMPACT_DELAY_MS");
    if (delay)
        usleep((useconds_t)atoi(delay) * 1000);
    uint64_t entries = 0, bytes = 0;
    int rc = wal_write_base(srv.ks.db, srv.ks.n, tmp, &srv.pool, child_progress, NULL, &entries, &bytes);
    if (rc < 0) {
        fprintf(stderr, "kvd compaction child: writing %s failed: %s\n", tmp, strerror(-rc));
        _exit(-rc > 0 && -rc < 126 ? -rc : 125); /* the parent logs strerror(status) */
    }
    report.cow = private_dirty();
    report.entries = entries;
    send_report();
    _exit(0);
}

/* ---- the child's pid file: a child left by a kvd that died before
 * it (PR_SET_PDEATHSIG normally takes it along) is found at the next
 * start and stopped. The file holds "pid starttime", starttime being
 * field 22 of /proc/PID/stat, so a reused pid is never mistaken for it. */


static void pidfile_path(const char *dir, char *dst, size_t n)
{
    snprintf(dst, n, "%s/%s", dir, WAL_DIR_COMPACT_PID);
}

/* pid's start time in clock ticks since boot and its name, or -1. */
static long long proc_start(pid_t pid, char *comm, size_t commlen)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *open = strchr(line, '('), *close = strrchr(line, ')');
    if (!open || !close || close < open)
        return -1;
    snprintf(comm, commlen, "%.*s", (int)(close - open - 1), open + 1);
    /* Fields from 3 on follow ") "; starttime is field 22. */
    char *p = close + 2;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? strtoll(p, NULL, 10) : -1;
}

static void pidfile_write(pid_t pid)
{
    char path[4300], comm[64], text[64];
    pidfile_path(srv.cfg.dir, path, sizeof path);
    long long start = proc_start(pid, comm, sizeof comm);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int n = snprintf(text, sizeof text, "%d %lld\n", (int)pid, start);
    if (kvd_write_all(fd, text, (size_t)n) < 0)
        log_verbose("cannot write %s: %s", path, strerror(errno));
    close(fd);
}

static void pidfile_remove(void)
{
    char path[4300];
    pidfile_path(srv.cfg.dir, path, sizeof path);
    unlink(path);
}

void compact_stop_stale(const char *dir)
{
    char path[4300], comm[64];
    pidfile_path(dir, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int pid = 0;
    long long start = -2;
    int got = fscanf(f, "%d %lld", &pid, &start);
    fclose(f);
    if (got == 2 && pid > 1 && start >= 0 && proc_start(pid, comm, sizeof comm) == start &&
        strcmp(comm, COMPACT_CHILD_NAME) == 0) {
        log_warning("stopping compaction child %d left by an earlier kvd on %s", pid, dir);
        kill(pid, SIGKILL);
        for (int i = 0; i < 200 && proc_start(pid, comm, sizeof comm) == start; i++)
            usleep(5000);
    }
    unlink(path);
}

/* After a failed start or run, automatic compaction waits 10 s, doubling
 * with each failure in a row up to 10 minutes (a fork that fails for
 * want of memory must not be tried, and a segment rotated, ten times a
 * second). BGREWRITEAOF still starts one at once. */
static void note_failure(void)
{
    compact_state *cs = &srv.compact;
    cs->failures++;
    cs->last_status = 0;
    int64_t delay = 10000;
    for (uint32_t i = 1; i < cs->failures_in_row && delay < 600000; i++)
        delay *= 2;
    if (delay > 600000)
        delay = 600000;
    cs->failures_in_row++;
    cs->next_auto_ms = kvd_now_ms() + delay;
}

static int writers; /* base writer children running (compaction, replication) */

pid_t compact_fork_writer(const char *tmp, const char *name, int duty, int *cow_rfd, char *err, size_t errlen)
{
    /* No resize while a child shares the table's pages (fewer copies). */
    for (uint32_t i = 0; i < srv.ks.n; i++)
        table_set_shared(srv.ks.db[i], 1);
    int cow[2] = {-1, -1};
    if (cow_rfd && pipe2(cow, O_CLOEXEC | O_NONBLOCK) < 0)
        cow[0] = cow[1] = -1; /* no figures, the child still runs */
    fflush(NULL);
    pid_t parent = getpid();
    uint64_t fork_t0 = kvd_mono_ns();
    pid_t pid = fork();
    if (pid == 0) {
        cow_wfd = cow[1]; /* child_main closes every other descriptor */
        child_main(tmp, parent, name, duty);
    }
    latency_sample("fork", (kvd_mono_ns() - fork_t0) / 1000000);
    if (cow[1] >= 0)
        close(cow[1]);
    if (pid < 0) {
        int e = errno;
        if (cow[0] >= 0)
            close(cow[0]);
        if (writers == 0)
            for (uint32_t i = 0; i < srv.ks.n; i++)
                table_set_shared(srv.ks.db[i], 0);
        snprintf(err, errlen, "fork failed: %s", strerror(e));
        return -1;
    }
    writers++;
    if (cow_rfd)
        *cow_rfd = cow[0];
    return pid;
}

void compact_writer_ended(void)
{
    if (writers > 0)
        writers--;
    if (writers == 0)
        for (uint32_t i = 0; i < srv.ks.n; i++)
            table_set_shared(srv.ks.db[i], 0);
}

int compact_start(const char *why, char *err, size_t errlen)
{
    compact_state *cs = &srv.compact;
    if (cs->child)
        return COMPACT_RUNNING;
    /* The rotation needs the batch on disk first. */
    commit_flush();
    if (wal_error(srv.wal)) {
        snprintf(err, errlen, "the WAL has an error (%s): fix that first", strerror(-wal_error(srv.wal)));
        note_failure();
        return COMPACT_FAILED;
    }
    uint64_t upto;
    int old_fd;
    if (wal_rotate(srv.wal, &upto, &old_fd, err, errlen) < 0) {
        note_failure();
        return COMPACT_FAILED;
    }
    /* A fdatasync may still be running on the old segment's descriptor
     * (its target is already durable): close it only after that one. */
    if (old_fd >= 0 && srv.sync_inflight && srv.sync_fd == old_fd)
        srv.retired_fd = old_fd;
    else if (old_fd >= 0)
        close(old_fd);
    kvd_test_crash("after-rotate");
    cs->upto = upto;
    cs->first_kept = srv.wal->man.incr[srv.wal->man.nincr - 1];
    cs->base_num = wal_next_file_number(srv.wal);
    char tmp[4300];
    wal_base_path(srv.wal, cs->base_num, 1, tmp, sizeof tmp);
    int cow_rfd = -1;
    pid_t pid = compact_fork_writer(tmp, COMPACT_CHILD_NAME, srv.cfg.compaction_cpu_percent, &cow_rfd, err, errlen);
    if (pid < 0) {
        note_failure();
        return COMPACT_FAILED;
    }
    cs->child = pid;
    cs->cow_fd = cow_rfd;
    cs->cow_current = cs->cow_peak = 0;
    cs->entries_total = table_count(srv.db);
    cs->entries_done = 0;
    cs->started_ms = cs->progress_log_ms = kvd_now_ms();
    pidfile_write(pid);
    log_notice("compaction started (%s): child %d writes base %llu covering seq %llu; new writes go to "
               "segment %llu",
               why, (int)pid, (unsigned long long)cs->base_num, (unsigned long long)upto,
               (unsigned long long)cs->first_kept);
    return COMPACT_STARTED;
}

/* Take in the child's copy-on-write reports; at its end, close. */
static void read_cow(int done)
{
    compact_state *cs = &srv.compact;
    if (cs->cow_fd < 0)
        return;
    child_report v[64];
    ssize_t n;
    while ((n = read(cs->cow_fd, v, sizeof v)) > 0)
        for (ssize_t i = 0; i < n / (ssize_t)sizeof v[0]; i++) {
            cs->cow_current = v[i].cow;
            if (v[i].cow > cs->cow_peak)
                cs->cow_peak = v[i].cow;
            cs->entries_done = v[i].entries;
        }
    if (done) {
        close(cs->cow_fd);
        cs->cow_fd = -1;
        cs->cow_last = cs->cow_peak;
    }
}

/* The child is gone: take its last figures, let the table resize again. */
static void child_ended(void)
{
    read_cow(1);
    pidfile_remove();
    compact_writer_ended();
    srv.compact.child = 0;
}

static void finish(int status)
{
    compact_state *cs = &srv.compact;
    child_ended();
    char tmp[4300];
    wal_base_path(srv.wal, cs->base_num, 1, tmp, sizeof tmp);
    cs->runs++;
    cs->last_duration_ms = kvd_now_ms() - cs->started_ms;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        unlink(tmp);
        note_failure();
        if (WIFSIGNALED(status))
            log_warning("compaction failed: the child was killed by signal %d", WTERMSIG(status));
        else
            log_warning("compaction failed: the child could not write the base: %s (exit status %d)",
                        strerror(WEXITSTATUS(status)), WEXITSTATUS(status));
        return;
    }
    struct stat st;
    uint64_t base_bytes = stat(tmp, &st) == 0 ? (uint64_t)st.st_size : 0;
    kvd_test_crash("before-manifest");
    char err[512] = "";
    repl_hold_segments(cs->first_kept); /* replicas still reading segments it retires keep them open */
    if (wal_install_base(srv.wal, cs->base_num, cs->upto, cs->first_kept, base_bytes, err, sizeof err) < 0) {
        note_failure();
        log_warning("compaction failed: %s", err);
        return;
    }
    cs->last_status = 1;
    cs->failures_in_row = 0;
    cs->ref_bytes = wal_total_bytes(srv.wal);
    log_notice("compaction done in %lld ms (child CPU %lld ms): base %llu (%llu bytes) covers seq %llu; WAL now "
               "%llu bytes in %zu segment(s); copy-on-write peak %.1f MB",
               (long long)cs->last_duration_ms, (long long)cs->last_cpu_ms, (unsigned long long)cs->base_num,
               (unsigned long long)base_bytes,
               (unsigned long long)cs->upto, (unsigned long long)cs->ref_bytes, srv.wal->man.nincr,
               (double)cs->cow_last / (1024.0 * 1024.0));
}

/* ---- deleting retired files off the loop ---- */

typedef struct retire_job {
    uv_work_t req;
    char **paths;
    size_t n;
    char *dir;
} retire_job;

static void retire_work(uv_work_t *req)
{
    retire_job *j = req->data;
    wal_unlink_retired(j->paths, j->n, j->dir);
}

static void retire_after(uv_work_t *req, int status)
{
    (void)status;
    retire_job *j = req->data;
    free(j->dir);
    free(j);
}

void compact_retire(char **paths, size_t n, const char *dir)
{
    /* A file a replica still reads keeps its blocks until the link closes
     * it: unlink only its name (that is quick), here. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (repl_file_in_use(paths[i])) {
            unlink(paths[i]);
            free(paths[i]);
        } else {
            paths[kept++] = paths[i];
        }
    }
    n = kept;
    retire_job *j = xcalloc(1, sizeof *j);
    j->paths = paths;
    j->n = n;
    j->dir = xstrdup(dir);
    j->req.data = j;
    if (!srv.loop || uv_queue_work(srv.loop, &j->req, retire_work, retire_after) < 0) {
        retire_work(&j->req);
        retire_after(&j->req, 0);
    }
}

/* A line in the log every 5 s of a compaction that runs longer than 2 s:
 * how far the child got, from its reports. */
#define PROGRESS_FIRST_MS 2000
#define PROGRESS_EVERY_MS 5000
static void log_progress(void)
{
    compact_state *cs = &srv.compact;
    int64_t now = kvd_now_ms(), ran = now - cs->started_ms;
    int first = cs->progress_log_ms == cs->started_ms;
    if (ran < PROGRESS_FIRST_MS || (!first && now - cs->progress_log_ms < PROGRESS_EVERY_MS))
        return;
    cs->progress_log_ms = now;
    uint64_t done = cs->entries_done, total = cs->entries_total > done ? cs->entries_total : done;
    char tmp[4300];
    struct stat st;
    wal_base_path(srv.wal, cs->base_num, 1, tmp, sizeof tmp);
    double mb = stat(tmp, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0.0;
    char eta[32] = "unknown";
    if (done)
        snprintf(eta, sizeof eta, "%.0f s", (double)ran / 1000.0 * (double)(total - done) / (double)done);
    log_notice("compaction: %llu of %llu entries (%.0f%%), base %.1f MB so far, %.1f s, ETA %s",
               (unsigned long long)done, (unsigned long long)total, total ? (double)done * 100.0 / (double)total : 0.0,
               mb, (double)ran / 1000.0, eta);
}

void compact_cron(void)
{
    compact_state *cs = &srv.compact;
    if (cs->child) {
        int status;
        read_cow(0);
        struct rusage ru;
        pid_t r = wait4(cs->child, &status, WNOHANG, &ru);
        if (r == cs->child) {
            cs->last_cpu_ms = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                              (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
            finish(status);
        }
        else
            log_progress();
        return;
    }
    char err[512];
    long long pct = srv.cfg.auto_aof_rewrite_percentage;
    uint64_t total = wal_total_bytes(srv.wal);
    if (pct <= 0 || wal_error(srv.wal) || total < (uint64_t)srv.cfg.auto_aof_rewrite_min_size)
        return;
    uint64_t ref = cs->ref_bytes;
    if (ref && (total <= ref || (total - ref) * 100 / ref < (uint64_t)pct))
        return;
    if (kvd_now_ms() < cs->next_auto_ms)
        return; /* backing off after failures */
    char why[96];
    snprintf(why, sizeof why, "auto: WAL %llu bytes, %llu after the last compaction", (unsigned long long)total,
             (unsigned long long)ref);
    if (compact_start(why, err, sizeof err) == COMPACT_FAILED)
        log_warning("automatic compaction could not start: %s", err);
}

void compact_abort(void)
{
    compact_state *cs = &srv.compact;
    if (!cs->child)
        return;
    kill(cs->child, SIGKILL);
    int status;
    waitpid(cs->child, &status, 0);
    child_ended();
    char tmp[4300];
    wal_base_path(srv.wal, cs->base_num, 1, tmp, sizeof tmp);
    unlink(tmp);
    log_notice("compaction stopped by the shutdown; the WAL is unchanged");
}

void compact_info(buf_t *out, const wal_t *w)
{
    compact_state *cs = &srv.compact;
    int64_t now = kvd_now_ms();
    buf_appendf(out,
                "aof_rewrite_in_progress:%d\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:%lld\r\n"
                "aof_current_rewrite_time_sec:%lld\r\naof_last_bgrewrite_status:%s\r\naof_rewrites:%llu\r\n"
                "aof_current_size:%llu\r\naof_base_size:%llu\r\nwal_segments:%zu\r\nwal_base_file:%llu\r\n"
                "wal_compactions:%llu\r\nwal_compaction_failures:%llu\r\ncurrent_cow_size:%llu\r\n"
                "current_cow_peak:%llu\r\naof_last_cow_size:%llu\r\n",
                cs->child != 0,
                cs->last_status < 0 ? -1LL : (long long)(cs->last_duration_ms / 1000),
                cs->child ? (long long)((now - cs->started_ms) / 1000) : -1LL,
                cs->last_status == 0 ? "err" : "ok", (unsigned long long)cs->runs,
                (unsigned long long)wal_total_bytes(w), (unsigned long long)w->base_bytes,
                w->man.nincr, (unsigned long long)w->man.base, (unsigned long long)cs->runs,
                (unsigned long long)cs->failures, (unsigned long long)(cs->child ? cs->cow_current : 0),
                (unsigned long long)(cs->child ? cs->cow_peak : 0), (unsigned long long)cs->cow_last);
}
