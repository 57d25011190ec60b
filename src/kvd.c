/* kvd: main(). Reads the configuration (file, then --directive value
 * overrides), daemonizes if asked, replays the WAL into memory and runs the
 * server until SIGTERM, SIGINT or SHUTDOWN. The listeners open before the
 * replay, so clients can connect (and get -LOADING) while it runs.
 *
 * Exit codes: 0 after a clean shutdown (WAL flushed and fsynced, or a
 *               shutdown while loading, which writes nothing);
 *             1 when startup fails (bad configuration, data directory or
 *               WAL problems, cannot listen) or the final WAL flush/fsync
 *               failed on shutdown. */
#include "config.h"
#include "acl.h"
#include "slowlog.h"
#include "cmd.h"
#include "conf.h"
#include "compact.h"
#include "db.h"
#include "repl.h"
#include "loading.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "pubsub.h"
#include "server.h"
#include "table.h"
#include "tls.h"
#include "util.h"
#include "version.h"
#include "wal.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kvd [/path/to/kvd.conf] [--directive value ...]\n"
            "       kvd --test-config [/path/to/kvd.conf] [--directive value ...]\n"
            "       kvd -v | --version\n"
            "       kvd -h | --help\n"
            "\n"
            "Every directive of kvd.conf can also be given on the command line as\n"
            "--directive value; the command line wins over the file.\n"
            "Examples:\n"
            "  kvd conf/kvd.conf\n"
            "  kvd conf/kvd.conf --port 7380 --dir /var/lib/kvd --appendfsync always\n"
            "Secrets (requirepass, user lines) belong in the file, readable only by\n"
            "kvd's user: other users can read a command line. kvd rewrites its own\n"
            "command line to \"kvd ADDRESS:PORT\" once it has read it.\n");
}

/* Build the config from argv: an optional file first, then --name value. */
static int load_config(kvd_config *cfg, int argc, char **argv, int *test_only, char **file)
{
    char err[512];
    int i = 1;
    *test_only = 0;
    *file = NULL;
    if (i < argc && strcmp(argv[i], "--test-config") == 0) {
        *test_only = 1;
        i++;
    }
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        if (conf_load_file(cfg, argv[i], err, sizeof err) < 0) {
            fprintf(stderr, "*** FATAL CONFIG FILE ERROR ***\n%s\n", err);
            return -1;
        }
        char *abs = realpath(argv[i], NULL);
        *file = abs ? abs : xstrdup(argv[i]);
        i++;
    }
    while (i < argc) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fprintf(stderr, "*** FATAL CONFIG ERROR ***\nexpected --directive, got '%s'\n", a);
            return -1;
        }
        const char *name = a + 2;
        int n = 0;
        while (i + 1 + n < argc && strncmp(argv[i + 1 + n], "--", 2) != 0)
            n++;
        if (!conf_exists(name) && strcasecmp(name, "user") != 0) {
            fprintf(stderr, "*** FATAL CONFIG ERROR ***\ncommand line: unknown directive '%s'\n", name);
            return -1;
        }
        if (conf_set(cfg, name, n, argv + i + 1, 0, err, sizeof err) < 0) {
            fprintf(stderr, "*** FATAL CONFIG ERROR ***\ncommand line: '--%s': %s\n", name, err);
            return -1;
        }
        i += 1 + n;
    }
    return 0;
}

/* The users: from the aclfile, or from `user` lines; then requirepass as
 * the default user's password, unless the aclfile or a `user default`
 * line says what the default user is (they win, as in Redis: requirepass
 * is then ignored and *ignored says so). Returns 0, or -1 with err set. */
static int load_users(const kvd_config *cfg, int *ignored, char *err, size_t errlen)
{
    acl_user **old;
    int nold;
    *ignored = 0;
    if (cfg->aclfile[0] && cfg->users) {
        snprintf(err, errlen, "'user' lines in the configuration and 'aclfile' cannot be used together: "
                              "put the users in the aclfile");
        return -1;
    }
    int default_given = 0;
    if (cfg->aclfile[0]) {
        size_t len;
        char *text = kvd_read_file(cfg->aclfile, &len);
        if (!text) {
            snprintf(err, errlen, "cannot read aclfile %s: %s", cfg->aclfile, strerror(errno));
            return -1;
        }
        int rc = acl_load_text(text, len, 0, cfg->aclfile, &old, &nold, err, errlen);
        free(text);
        if (rc < 0)
            return -1;
        acl_free_users(old, nold);
        default_given = 1; /* the file is the truth, as ACL LOAD makes it */
    } else if (cfg->users) {
        if (acl_load_text(cfg->users, strlen(cfg->users), 1, "user line", &old, &nold, err, errlen) < 0)
            return -1;
        acl_free_users(old, nold);
        /* Is one of the lines "user default ..."? */
        for (char *l = cfg->users; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            char *w = l + 4;
            while (*w == ' ' || *w == '\t')
                w++;
            int q = *w == '"' || *w == '\'';
            w += q;
            if (strncmp(w, "default", 7) == 0 && strchr(q ? "\"'" : " \t\r\n", w[7]) && w[7])
                default_given = 1;
        }
    }
    if (cfg->requirepass[0]) {
        if (default_given)
            *ignored = 1;
        else
            acl_set_requirepass(cfg->requirepass, strlen(cfg->requirepass));
    }
    return 0;
}

/* Show "kvd ADDRESS:PORT" as the command line (ps, /proc/PID/cmdline)
 * instead of the arguments, which may hold a password: the title is
 * written over the arguments' own memory, and the rest of it zeroed. */
static void set_process_title(int argc, char **argv, const kvd_config *cfg)
{
    char title[256];
    char addr[128];
    snprintf(addr, sizeof addr, "%s", cfg->bind);
    addr[strcspn(addr, " ")] = '\0';
    if (cfg->port)
        snprintf(title, sizeof title, "kvd %s:%d", addr, cfg->port);
    else
        snprintf(title, sizeof title, "kvd %s", cfg->unixsocket);
    char *start = argv[0], *end = argv[0] + strlen(argv[0]);
    for (int i = 1; i < argc && argv[i] == end + 1; i++)
        end = argv[i] + strlen(argv[i]);
    size_t room = (size_t)(end - start), n = strlen(title);
    if (n > room)
        n = room;
    memcpy(start, title, n);
    memset(start + n, 0, room - n);
    for (int i = 1; i < argc; i++)
        if (argv[i] > end) /* not contiguous: zero it in place */
            memset(argv[i], 0, strlen(argv[i]));
}

/* The parent of a daemonize: reads what the daemon writes to stderr (its
 * log, without a logfile) until the pipe closes, which it does when the
 * daemon is ready (notify_ready puts /dev/null there) or gone; then exits
 * 0 if the daemon said it is ready (a byte on ready_fd), else prints what
 * it read (the last 8-16 KiB: why it stopped) and exits 1. The daemon
 * forks nothing before it is ready, so nothing else holds the pipe. */
#define DAEMON_ERR_KEEP 16384
static void daemon_parent(pid_t pid, int ready_fd, int err_fd)
{
    static char kept[DAEMON_ERR_KEEP];
    size_t len = 0;
    int cut = 0;
    for (;;) {
        ssize_t r = read(err_fd, kept + len, sizeof kept - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof kept) { /* keep the newer half */
            memmove(kept, kept + sizeof kept / 2, sizeof kept / 2);
            len = sizeof kept / 2;
            cut = 1;
        }
    }
    char c = 0;
    ssize_t n;
    do
        n = read(ready_fd, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1 && c == 'R')
        _exit(0);
    if (cut)
        fputs("...\n", stderr);
    fwrite(kept, 1, len, stderr);
    fprintf(stderr, "kvd: the daemon (pid %d) stopped before it was ready to accept connections%s%s\n", (int)pid,
            srv.cfg.logfile[0] ? ": see " : "", srv.cfg.logfile);
    _exit(1);
}

/* Detach from the terminal: fork, new session, stdio to /dev/null. The
 * parent waits until the daemon is ready to accept connections (its data
 * loaded) and exits 0, or exits 1 if the daemon stops before that (a
 * full disk, a damaged WAL): its exit status says whether kvd started.
 * Until then the daemon's stderr goes to the parent, which shows it only
 * if the start failed. */
static int daemonize(void)
{
    int ready[2], err[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(err, O_CLOEXEC) < 0) {
        int e = errno;
        close(ready[0]);
        close(ready[1]);
        return -e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(ready[0]);
        close(ready[1]);
        close(err[0]);
        close(err[1]);
        return -e;
    }
    if (pid > 0) {
        close(ready[1]);
        close(err[1]);
        daemon_parent(pid, ready[0], err[0]);
    }
    close(ready[0]);
    close(err[0]);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    /* notify_ready puts /dev/null on stderr too. */
    dup2(err[1], STDERR_FILENO);
    close(err[1]);
    notify_parent(ready[1]);
    return 0;
}

/* Whether path reaches one of the files kvd keeps in the data dir dir,
 * by any name (a symlink, a hard link, a bind mount, /proc/PID/fd): a
 * logfile, pidfile or unix socket there would be written over them, by a
 * start that is then refused too. Files are told apart by device and
 * inode, not by path. */
static int is_data_dir_file(const char *path, const char *dir)
{
    struct stat dst, st, fst;
    if (stat(dir, &dst) < 0)
        return 0;
    if (stat(path, &st) == 0) {
        DIR *d = opendir(dir);
        if (!d)
            return 0;
        int found = 0;
        struct dirent *de;
        while (!found && (de = readdir(d)))
            found = wal_dir_owns_name(de->d_name) && fstatat(dirfd(d), de->d_name, &fst, 0) == 0 &&
                    fst.st_dev == st.st_dev && fst.st_ino == st.st_ino;
        closedir(d);
        if (found)
            return 1;
    }
    /* One of kvd's names in the dir itself (by whatever path), whether or
     * not it exists yet. */
    char parent[PATH_MAX];
    const char *name = kvd_path_split(path, parent, sizeof parent);
    return wal_dir_owns_name(name) && stat(parent, &fst) == 0 && fst.st_dev == dst.st_dev &&
           fst.st_ino == dst.st_ino;
}

/* Why the logfile, pidfile or unix socket at path must not be used, or
 * NULL. A logfile or pidfile never looks like a WAL or a manifest (of
 * another kvd, say). */
static const char *bad_own_file(const char *path, const char *dir, int by_content)
{
    if (!path[0])
        return NULL;
    if (is_data_dir_file(path, dir))
        return "is one of the files kvd keeps in the data directory";
    if (by_content && wal_file_kind(path))
        return "holds a kvd WAL or manifest (another kvd's data?)";
    return NULL;
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

/* Room for maxclients sockets plus our own files, as far as allowed. */
static void raise_fd_limit(int maxclients)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = (rlim_t)maxclients + 64;
    if (rl.rlim_cur >= want)
        return;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = want;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        rl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        log_warning("could not raise the open files limit to %llu (it is %llu, was %llu): fewer "
                    "clients than maxclients %d may be able to connect",
                    (unsigned long long)want, (unsigned long long)rl.rlim_cur, (unsigned long long)old,
                    maxclients);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("kvd v=%s\n", KVD_VERSION);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    conf_init(&srv.cfg);
    int test_only, status = 1, pidfile_written = 0, dir_lock = -1;
    if (load_config(&srv.cfg, argc, argv, &test_only, &srv.config_file) < 0)
        goto out;
    set_process_title(argc, argv, &srv.cfg);
    cmd_init();
    acl_init();
    char acl_err[1024];
    int requirepass_ignored;
    if (load_users(&srv.cfg, &requirepass_ignored, acl_err, sizeof acl_err) < 0) {
        fprintf(stderr, "*** FATAL CONFIG ERROR ***\n%s\n", acl_err);
        goto out;
    }
    char tls_err[PATH_MAX + 512];
    if (tls_configure(&srv.cfg, tls_err, sizeof tls_err) < 0) {
        fprintf(stderr, "*** FATAL CONFIG ERROR ***\n%s\n", tls_err);
        goto out;
    }
    if (test_only) {
        printf("configuration OK\n");
        status = 0;
        goto out;
    }
    const struct {
        const char *what, *path;
        int by_content;
    } own[] = {{"logfile", srv.cfg.logfile, 1}, {"pidfile", srv.cfg.pidfile, 1}, {"unixsocket", srv.cfg.unixsocket, 0}};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        const char *why = bad_own_file(own[i].path, srv.cfg.dir, own[i].by_content);
        if (why) {
            fprintf(stderr, "*** FATAL CONFIG ERROR ***\n%s %s %s (the data directory is %s)\n", own[i].what,
                    own[i].path, why, srv.cfg.dir);
            goto out;
        }
    }
    /* The log first, so that what refuses a start below is said there and,
     * before a daemonize, on the terminal too. */
    if (log_open(srv.cfg.logfile, srv.cfg.loglevel) < 0) {
        fprintf(stderr, "kvd: cannot open logfile %s: %s\n", srv.cfg.logfile, strerror(errno));
        goto out;
    }
    /* The data directory is this process's alone before anything it names
     * is touched: the pidfile, a unix socket, a compaction child an earlier
     * kvd left. A second kvd on it stops here, and before the daemonize
     * fork, so that its exit status says so. */
    int rc = kvd_mkdir_p(srv.cfg.dir, 0700);
    if (rc < 0) {
        log_warning("cannot create data directory %s: %s", srv.cfg.dir, strerror(-rc));
        goto out;
    }
    char err[1024] = "";
    dir_lock = wal_dir_lock(srv.cfg.dir, NULL, err, sizeof err);
    if (dir_lock < 0) {
        log_warning("%s", err);
        if (srv.cfg.logfile[0]) /* and on the terminal, whatever the log level */
            fprintf(stderr, "kvd: %s\n", err);
        goto out;
    }
    compact_stop_stale(srv.cfg.dir);
    if (srv.cfg.daemonize) {
        if (daemonize() < 0) {
            log_warning("cannot daemonize: %s", strerror(errno));
            goto out;
        }
        wal_dir_lock_mark(srv.cfg.dir);
    }
    /* The pool belongs to the thread that runs the loop: this one, and
     * after a fork, this process. */
    pool_init(&srv.pool, (size_t)srv.cfg.pool_max_per_class, (size_t)srv.cfg.pool_max_bytes);
    srv.executable = realpath("/proc/self/exe", NULL);
    srv.start_ms = kvd_now_ms();
    unsigned char rid[20];
    kvd_random_bytes(rid, sizeof rid);
    for (int i = 0; i < 20; i++)
        snprintf(srv.run_id + 2 * i, 3, "%02x", rid[i]);
    log_notice("kvd %s starting: pid %d, port %d, config %s", KVD_VERSION, (int)getpid(), srv.cfg.port,
               srv.config_file ? srv.config_file : "(none)");
    if (requirepass_ignored)
        log_warning("requirepass is ignored: %s says who the default user is (as in Redis)",
                    srv.cfg.aclfile[0] ? "the aclfile" : "a 'user default' line");
    if (srv.cfg.pidfile[0]) {
        int prc = write_pidfile(srv.cfg.pidfile);
        if (prc < 0)
            log_warning("cannot write pidfile %s: %s", srv.cfg.pidfile, strerror(-prc));
        pidfile_written = prc == 0;
    }
    raise_fd_limit(srv.cfg.maxclients);

    keyspace_init(&srv.ks, (uint32_t)srv.cfg.databases);
    db_select(0);
    db_set_now(kvd_now_ms());
    server_apply_eviction_config();
    if (notify_init(srv.cfg.supervised) && srv.cfg.daemonize)
        log_warning("supervised systemd with daemonize yes: systemd takes notifications from the process it "
                    "started, which has exited; run kvd with daemonize no (conf/kvd.service does)");
    /* Listen first: while the WAL replays, clients connect and get
     * -LOADING (loading.h). */
    loading_begin();
    if (server_listen() < 0)
        goto out;
    rc = db_open(srv.cfg.dir, dir_lock, err, sizeof err);
    dir_lock = -1; /* the WAL's now, or closed */
    if (rc < 0) {
        if (srv.shutting_down) {
            log_notice("%s", err);
            status = srv.exit_code;
            log_notice("kvd exiting: bye");
        } else {
            log_warning("%s", err);
        }
        goto out;
    }
    const wal_open_result *ld = &srv.load;
    if (ld->migrated)
        log_notice("WAL %s/kvd.wal became segment 1 of a manifest-managed WAL", srv.cfg.dir);
    if (ld->orphans_removed)
        log_notice("removed %d file(s) the manifest does not list, as a crash during a rotation or compaction "
                   "leaves them: %s",
                   ld->orphans_removed, ld->removed_files);
    if (ld->truncated_bytes)
        log_warning("WAL %s: cut a torn tail of %llu bytes at offset %llu (line %llu: %s); the bytes cut are kept "
                    "in %s",
                    ld->truncated_file, (unsigned long long)ld->truncated_bytes,
                    (unsigned long long)ld->walk.newest_good, (unsigned long long)ld->walk.bad_line,
                    ld->walk.bad_reason, ld->kept_file);
    repl_init();
    /* A replica never deletes on its own: its primary's deletes come. */
    uint64_t expired = repl_is_replica() ? 0 : db_drop_expired();
    log_notice("WAL in %s replayed: %d file(s), %llu entries applied, %llu bytes, %.3f s, last seq %llu; "
               "%llu keys loaded, %llu of them expired and deleted",
               srv.cfg.dir, ld->walk.files, (unsigned long long)ld->walk.applied,
               (unsigned long long)ld->walk.bytes, (double)ld->walk.elapsed_us / 1e6,
               (unsigned long long)ld->walk.last_seq, (unsigned long long)(keyspace_count(&srv.ks) + expired),
               (unsigned long long)expired);
    srv.compact.last_status = -1;
    srv.compact.cow_fd = -1;
    srv.compact.ref_bytes = wal_total_bytes(srv.wal);
    status = server_run();
    if (status == 0)
        log_notice("kvd exiting: bye");
out:
    server_close();
    /* Whatever the reason for exiting, the pid in the file is gone, and
     * before the data dir's lock is: a kvd started as soon as it is free
     * may write its own pidfile at once. */
    if (pidfile_written)
        unlink(srv.cfg.pidfile);
    if (srv.wal && wal_close(srv.wal) < 0 && status == 0)
        status = 1;
    if (srv.wal)
        db_close();
    if (dir_lock >= 0)
        close(dir_lock);
    keyspace_free(&srv.ks);
    srv.db = NULL;
    pool_destroy(&srv.pool);
    cmd_acl_free();
    pubsub_shutdown();
    slowlog_free();
    acl_free_all();
    conf_free(&srv.cfg);
    free(srv.config_file);
    free(srv.executable);
    if (srv.loop)
        uv_loop_close(srv.loop);
    tls_cleanup();
    notify_close();
    return status;
}
