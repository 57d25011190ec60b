/* kvd: main(). Reads the configuration, opens the data directory and
 * replays the WAL. The network server is not built yet: after loading, kvd
 * reports what it loaded and exits. */
#include "config.h"
#include "conf.h"
#include "log.h"
#include "pool.h"
#include "table.h"
#include "util.h"
#include "version.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
            "  kvd conf/kvd.conf --dir /var/lib/kvd --appendfsync always\n");
}

/* Build the config from argv: an optional file first, then --name value. */
static int load_config(kvd_config *cfg, int argc, char **argv, int *test_only)
{
    char err[512];
    int i = 1;
    *test_only = 0;
    if (i < argc && strcmp(argv[i], "--test-config") == 0) {
        *test_only = 1;
        i++;
    }
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        if (conf_load_file(cfg, argv[i], err, sizeof err) < 0) {
            fprintf(stderr, "*** FATAL CONFIG FILE ERROR ***\n%s\n", err);
            return -1;
        }
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
        if (!conf_exists(name)) {
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
    kvd_config cfg;
    conf_init(&cfg);
    pool_t pool;
    table_t *t = NULL;
    wal_t *w = NULL;
    int test_only, status = 1;
    pool_init(&pool, 0, 0);
    if (load_config(&cfg, argc, argv, &test_only) < 0)
        goto out;
    if (test_only) {
        printf("configuration OK\n");
        status = 0;
        goto out;
    }
    if (log_open(cfg.logfile, cfg.loglevel) < 0) {
        fprintf(stderr, "kvd: cannot open logfile %s\n", cfg.logfile);
        goto out;
    }
    log_notice("kvd %s starting, pid %d", KVD_VERSION, (int)getpid());

    int rc = kvd_mkdir_p(cfg.dir, 0700);
    if (rc < 0) {
        log_warning("cannot create data directory %s: %s", cfg.dir, strerror(-rc));
        goto out;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/kvd.wal", cfg.dir);

    pool_set_caps(&pool, (size_t)cfg.pool_max_per_class, (size_t)cfg.pool_max_bytes);
    t = table_new();
    wal_open_result res;
    char err[1024];
    w = wal_open(path, &pool, t, &res, err, sizeof err);
    if (!w) {
        log_warning("%s", err);
        goto out;
    }
    if (res.truncated_bytes)
        log_warning("WAL %s: cut a torn tail of %llu bytes at offset %llu (line %llu: %s)", path,
                    (unsigned long long)res.truncated_bytes,
                    (unsigned long long)res.scan.good_bytes,
                    (unsigned long long)res.scan.bad_line, res.scan.bad_reason);
    double secs = (double)res.scan.elapsed_us / 1e6;
    log_notice("WAL %s replayed: %llu entries applied (%llu already expired), %llu bytes, "
               "%.3f s, last seq %llu; %llu keys loaded",
               path, (unsigned long long)res.scan.applied, (unsigned long long)res.expired,
               (unsigned long long)res.scan.good_bytes, secs,
               (unsigned long long)res.scan.last_seq, (unsigned long long)table_count(t));
    log_warning("the network server is not built yet (issue 3): kvd loaded the data directory "
                "and is exiting");
    status = 0;
out:
    if (w && wal_close(w) < 0)
        status = 1;
    table_free(t);
    pool_destroy(&pool);
    conf_free(&cfg);
    return status;
}
