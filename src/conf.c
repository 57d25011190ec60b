/* conf: the directive table, file and command-line parsing, CONFIG GET/SET
 * value rendering. Adding a directive means one row in `directives`. */
#include "config.h"
#include "conf.h"
#include "evict.h"
#include "args.h"
#include "buf.h"
#include "glob.h"
#include "log.h"
#include "util.h"
#include "wal_codec.h"

#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { CT_BOOL, CT_INT, CT_MEM, CT_STR, CT_ENUM, CT_OCTAL, CT_LIST, CT_OBUF } conf_type;

#define CF_MUTABLE 1   /* CONFIG SET may change it */
#define CF_SENSITIVE 2 /* never logged */
#define CF_CLAMP 4     /* a number past min..max is taken as the nearest bound (any non-negative int is accepted), as Redis does for hz */

typedef struct conf_def {
    const char *name;
    conf_type type;
    size_t off;                     /* field offset in kvd_config */
    int flags;
    long long min, max;             /* bounds for CT_INT / CT_MEM */
    const char *const *enums;       /* names for CT_ENUM, NULL-terminated */
    const char *dflt;               /* default, as it would be written in the file */
} conf_def;

static const char *const fsync_names[] = {"no", "everysec", "always", NULL};
/* In the order of enum kvd_tls_auth. */
static const char *const tls_auth_names[] = {"no", "yes", "optional", NULL};
/* In the order of enum kvd_supervised. */
static const char *const supervised_names[] = {"no", "systemd", "auto", NULL};

/* As CONFIG GET shows them (Redis 7.0 still says "slave"). */
static const char *const obuf_class_names[KVD_OBUF_CLASSES] = {"normal", "slave", "pubsub"};

#define OFF(f) offsetof(kvd_config, f)
#define LL_MAX 0x7fffffffffffffffLL

static const conf_def directives[] = {
    {"bind", CT_LIST, OFF(bind), 0, 0, 0, NULL, "127.0.0.1"},
    {"port", CT_INT, OFF(port), 0, 0, 65535, NULL, "7379"},
    {"unixsocket", CT_STR, OFF(unixsocket), 0, 0, 0, NULL, ""},
    {"unixsocketperm", CT_OCTAL, OFF(unixsocketperm), 0, 0, 0777, NULL, "0700"},
    /* TLS: read once at startup by tls_configure (tls.c) */
    {"tls-port", CT_INT, OFF(tls_port), 0, 0, 65535, NULL, "0"},
    {"tls-cert-file", CT_STR, OFF(tls_cert_file), 0, 0, 0, NULL, ""},
    {"tls-key-file", CT_STR, OFF(tls_key_file), 0, 0, 0, NULL, ""},
    {"tls-ca-cert-file", CT_STR, OFF(tls_ca_cert_file), 0, 0, 0, NULL, ""},
    {"tls-ca-cert-dir", CT_STR, OFF(tls_ca_cert_dir), 0, 0, 0, NULL, ""},
    {"tls-auth-clients", CT_ENUM, OFF(tls_auth_clients), 0, 0, 0, tls_auth_names, "yes"},
    {"tls-protocols", CT_STR, OFF(tls_protocols), 0, 0, 0, NULL, "TLSv1.2 TLSv1.3"},
    {"tls-ciphers", CT_STR, OFF(tls_ciphers), 0, 0, 0, NULL, ""},
    {"tls-ciphersuites", CT_STR, OFF(tls_ciphersuites), 0, 0, 0, NULL, ""},
    {"tls-handshake-timeout", CT_INT, OFF(tls_handshake_timeout), CF_MUTABLE, 100, 3600000, NULL, "10000"},
    {"tcp-backlog", CT_INT, OFF(tcp_backlog), 0, 1, 65535, NULL, "511"},
    {"timeout", CT_INT, OFF(timeout), CF_MUTABLE, 0, 0x7fffffff, NULL, "0"},
    {"tcp-keepalive", CT_INT, OFF(tcp_keepalive), CF_MUTABLE, 0, 0x7fffffff, NULL, "300"},
    {"maxclients", CT_INT, OFF(maxclients), CF_MUTABLE, 1, 1000000, NULL, "10000"},
    {"requirepass", CT_STR, OFF(requirepass), CF_MUTABLE | CF_SENSITIVE, 0, 0, NULL, ""},
    {"aclfile", CT_STR, OFF(aclfile), 0, 0, 0, NULL, ""},
    {"acllog-max-len", CT_INT, OFF(acllog_max_len), CF_MUTABLE, 0, 1000000, NULL, "128"},
    {"slowlog-log-slower-than", CT_INT, OFF(slowlog_log_slower_than), CF_MUTABLE, -1, 0x7fffffff, NULL, "10000"},
    {"slowlog-max-len", CT_INT, OFF(slowlog_max_len), CF_MUTABLE, 0, 0x7fffffff, NULL, "128"},
    {"latency-monitor-threshold", CT_INT, OFF(latency_monitor_threshold), CF_MUTABLE, 0, 0x7fffffff, NULL, "0"},
    {"protected-mode", CT_BOOL, OFF(protected_mode), CF_MUTABLE, 0, 0, NULL, "yes"},
    {"daemonize", CT_BOOL, OFF(daemonize), 0, 0, 0, NULL, "no"},
    {"supervised", CT_ENUM, OFF(supervised), 0, 0, 0, supervised_names, "no"},
    {"pidfile", CT_STR, OFF(pidfile), 0, 0, 0, NULL, ""},
    {"hz", CT_INT, OFF(hz), CF_MUTABLE | CF_CLAMP, 1, 500, NULL, "10"},
    {"busy-poll-us", CT_INT, OFF(busy_poll_us), CF_MUTABLE, 0, 100000, NULL, "50"},
    {"databases", CT_INT, OFF(databases), 0, 1, KVD_MAX_DATABASES, NULL, "16"},
    /* Keys and values are stored with 31- and 32-bit lengths. */
    {"proto-max-bulk-len", CT_MEM, OFF(proto_max_bulk_len), CF_MUTABLE, 1024 * 1024, (long long)WAL_OFF_MAX, NULL, "512mb"},
    {"proto-inline-max-size", CT_MEM, OFF(proto_inline_max_size), CF_MUTABLE, 1024, 1LL << 30, NULL, "64kb"},
    {"proto-max-multibulk-len", CT_INT, OFF(proto_max_multibulk_len), CF_MUTABLE, 1, 0x7fffffff, NULL, "1048576"},
    {"client-query-buffer-limit", CT_MEM, OFF(client_query_buffer_limit), CF_MUTABLE, 1024 * 1024, LL_MAX, NULL, "1gb"},
    {"client-output-buffer-limit", CT_OBUF, 0, CF_MUTABLE, 0, 0, NULL,
     "normal 1gb 64mb 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60"},
    {"dir", CT_STR, OFF(dir), 0, 0, 0, NULL, "./data"},
    /* Replication (repl.c, replica.c). replicaof is "host port", or empty
     * on a primary; the REPLICAOF command changes it. */
    {"replicaof", CT_LIST, OFF(replicaof), 0, 0, 0, NULL, ""},
    {"masterauth", CT_STR, OFF(masterauth), CF_MUTABLE | CF_SENSITIVE, 0, 0, NULL, ""},
    {"masteruser", CT_STR, OFF(masteruser), CF_MUTABLE, 0, 0, NULL, ""},
    {"replica-read-only", CT_BOOL, OFF(replica_read_only), CF_MUTABLE, 0, 0, NULL, "yes"},
    {"replica-serve-stale-data", CT_BOOL, OFF(replica_serve_stale_data), CF_MUTABLE, 0, 0, NULL, "yes"},
    {"replica-priority", CT_INT, OFF(replica_priority), CF_MUTABLE, 0, 0x7fffffff, NULL, "100"},
    {"replica-announced", CT_BOOL, OFF(replica_announced), CF_MUTABLE, 0, 0, NULL, "yes"},
    {"replica-announce-ip", CT_STR, OFF(replica_announce_ip), CF_MUTABLE, 0, 0, NULL, ""},
    {"replica-announce-port", CT_INT, OFF(replica_announce_port), CF_MUTABLE, 0, 65535, NULL, "0"},
    {"repl-timeout", CT_INT, OFF(repl_timeout), CF_MUTABLE, 1, 0x7fffffff, NULL, "60"},
    {"min-replicas-to-write", CT_INT, OFF(min_replicas_to_write), CF_MUTABLE, 0, 0x7fffffff, NULL, "0"},
    {"min-replicas-max-lag", CT_INT, OFF(min_replicas_max_lag), CF_MUTABLE, 0, 0x7fffffff, NULL, "10"},
    {"auto-aof-rewrite-percentage", CT_INT, OFF(auto_aof_rewrite_percentage), CF_MUTABLE, 0, 1000000, NULL, "100"},
    {"auto-aof-rewrite-min-size", CT_MEM, OFF(auto_aof_rewrite_min_size), CF_MUTABLE, 0, LL_MAX, NULL, "64mb"},
    {"compaction-cpu-percent", CT_INT, OFF(compaction_cpu_percent), CF_MUTABLE, 5, 100, NULL, "20"},
    {"appendfsync", CT_ENUM, OFF(appendfsync), CF_MUTABLE, 0, 0, fsync_names, "everysec"},
    {"loglevel", CT_ENUM, OFF(loglevel), CF_MUTABLE, 0, 0, log_level_names, "notice"},
    {"logfile", CT_STR, OFF(logfile), 0, 0, 0, NULL, ""},
    {"maxmemory", CT_MEM, OFF(maxmemory), CF_MUTABLE, 0, LL_MAX, NULL, "0"},
    {"maxmemory-policy", CT_ENUM, OFF(maxmemory_policy), CF_MUTABLE, 0, 0, evict_policy_names, "noeviction"},
    {"maxmemory-samples", CT_INT, OFF(maxmemory_samples), CF_MUTABLE, 1, 64, NULL, "5"},
    {"lfu-log-factor", CT_INT, OFF(lfu_log_factor), CF_MUTABLE, 0, 1000000, NULL, "10"},
    {"lfu-decay-time", CT_INT, OFF(lfu_decay_time), CF_MUTABLE, 0, 1000000, NULL, "1"},
    {"pool-max-cached-bytes", CT_MEM, OFF(pool_max_bytes), CF_MUTABLE, 65536, LL_MAX, NULL, "32mb"},
    {"pool-max-buffers-per-class", CT_INT, OFF(pool_max_per_class), CF_MUTABLE, 1, 1 << 20, NULL,
     "512"},
};

static const conf_def *find_def(const char *name)
{
    for (size_t i = 0; i < KVD_ARRAY_SIZE(directives); i++)
        if (strcasecmp(directives[i].name, name) == 0)
            return &directives[i];
    return NULL;
}

/* find_def, also under Redis's old names: slaveof for replicaof,
 * slave-* for replica-* (slave-priority, slave-read-only, ...), which
 * conf files written for Redis still use. */
static const conf_def *find_def_alias(const char *name)
{
    if (strcasecmp(name, "slaveof") == 0)
        return find_def("replicaof");
    if (strncasecmp(name, "slave-", 6) == 0 && strlen(name) < 64) {
        char alias[80];
        snprintf(alias, sizeof alias, "replica-%s", name + 6);
        const conf_def *d = find_def(alias);
        if (d)
            return d;
    }
    return find_def(name);
}

int conf_exists(const char *name)
{
    return find_def(name) != NULL;
}

int conf_parse_memory(const char *s, long long *out)
{
    size_t n = strlen(s);
    size_t digits = 0;
    if (n && s[0] == '-')
        digits = 1;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    const char *unit = s + digits;
    long long mul;
    if (!*unit || strcasecmp(unit, "b") == 0)
        mul = 1;
    else if (strcasecmp(unit, "k") == 0)
        mul = 1000;
    else if (strcasecmp(unit, "kb") == 0)
        mul = 1024;
    else if (strcasecmp(unit, "m") == 0)
        mul = 1000 * 1000;
    else if (strcasecmp(unit, "mb") == 0)
        mul = 1024 * 1024;
    else if (strcasecmp(unit, "g") == 0)
        mul = 1000LL * 1000 * 1000;
    else if (strcasecmp(unit, "gb") == 0)
        mul = 1024LL * 1024 * 1024;
    else
        return -1;
    long long v;
    if (kvd_str_to_ll(s, digits, &v) < 0)
        return -1;
    if (v && (v > LL_MAX / mul || v < -LL_MAX / mul))
        return -1;
    *out = v * mul;
    return 0;
}

void conf_init(kvd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char err[256];
    for (size_t i = 0; i < KVD_ARRAY_SIZE(directives); i++) {
        char *v = (char *)directives[i].dflt;
        if (conf_set(cfg, directives[i].name, 1, &v, 0, err, sizeof err) < 0) {
            fprintf(stderr, "kvd: bad built-in default for %s: %s\n", directives[i].name, err);
            abort();
        }
    }
}

void conf_copy(kvd_config *dst, const kvd_config *src)
{
    *dst = *src;
    if (dst->users)
        dst->users = xstrdup(dst->users);
    for (size_t i = 0; i < KVD_ARRAY_SIZE(directives); i++) {
        if (directives[i].type == CT_STR || directives[i].type == CT_LIST) {
            char **f = (char **)((char *)dst + directives[i].off);
            if (*f)
                *f = xstrdup(*f);
        }
    }
}

int conf_is_sensitive(const char *name)
{
    const conf_def *d = find_def(name);
    return d && (d->flags & CF_SENSITIVE);
}

void conf_free(kvd_config *cfg)
{
    free(cfg->users);
    cfg->users = NULL;
    for (size_t i = 0; i < KVD_ARRAY_SIZE(directives); i++) {
        if (directives[i].type == CT_STR || directives[i].type == CT_LIST) {
            char **f = (char **)((char *)cfg + directives[i].off);
            free(*f);
            *f = NULL;
        }
    }
}

static void set_int_field(const conf_def *d, kvd_config *cfg, long long v)
{
    void *f = (char *)cfg + d->off;
    if (d->type == CT_MEM)
        *(long long *)f = v;
    else
        *(int *)f = (int)v;
}

/* Directives whose value is a list of words: the words may come as
 * several arguments (config file) or as one space-separated string
 * (CONFIG SET). */
static int set_multi(kvd_config *cfg, const conf_def *d, int argc, char **argv, char *err,
                     size_t errlen)
{
    size_t total = 1;
    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    char *joined = xmalloc(total);
    joined[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(joined, " ");
        strcat(joined, argv[i]);
    }
    char *words[64];
    int n = 0;
    for (char *tok = strtok(joined, " \t"); tok && n < 64; tok = strtok(NULL, " \t"))
        words[n++] = tok;
    int rc = 0;
    if (d->type == CT_LIST) {
        if (n == 0 && d->off == OFF(replicaof)) {
            char **f = (char **)((char *)cfg + d->off);
            free(*f);
            *f = xstrdup("");
        } else if (n == 0) {
            snprintf(err, errlen, "at least one address is needed");
            rc = -1;
        } else {
            char *v = xmalloc(total);
            v[0] = '\0';
            for (int i = 0; i < n; i++) {
                if (i)
                    strcat(v, " ");
                strcat(v, words[i]);
            }
            char **f = (char **)((char *)cfg + d->off);
            free(*f);
            *f = v;
        }
    } else {
        /* client-output-buffer-limit <class> <hard> <soft> <soft-seconds> ... */
        if (n == 0 || n % 4) {
            snprintf(err, errlen, "wrong number of arguments");
            rc = -1;
        }
        /* All classes are checked before any changes (all or nothing). */
        kvd_obuf_limit next[KVD_OBUF_CLASSES];
        memcpy(next, cfg->obuf, sizeof next);
        for (int i = 0; rc == 0 && i < n; i += 4) {
            long long hard, soft, secs;
            int cls = strcasecmp(words[i], "normal") == 0                                             ? KVD_OBUF_NORMAL
                      : strcasecmp(words[i], "replica") == 0 || strcasecmp(words[i], "slave") == 0 ? KVD_OBUF_REPLICA
                      : strcasecmp(words[i], "pubsub") == 0                                         ? KVD_OBUF_PUBSUB
                                                                                                      : -1;
            if (cls < 0) {
                snprintf(err, errlen, "unknown client class '%s' (normal, replica or pubsub)", words[i]);
                rc = -1;
            } else if (conf_parse_memory(words[i + 1], &hard) < 0 || conf_parse_memory(words[i + 2], &soft) < 0 ||
                       kvd_str_to_ll(words[i + 3], strlen(words[i + 3]), &secs) < 0 || hard < 0 ||
                       soft < 0 || secs < 0 || secs > 0x7fffffff) {
                snprintf(err, errlen, "invalid limits: expected <class> <hard> <soft> <soft-seconds>");
                rc = -1;
            } else {
                next[cls] = (kvd_obuf_limit){hard, soft, (int)secs};
            }
        }
        if (rc == 0)
            memcpy(cfg->obuf, next, sizeof next);
    }
    free(joined);
    return rc;
}

/* Append one `user` line (without the newline) to cfg->users. */
static void add_user_line(kvd_config *cfg, const char *line, size_t n)
{
    size_t old = cfg->users ? strlen(cfg->users) : 0;
    cfg->users = xrealloc(cfg->users, old + n + 2);
    memcpy(cfg->users + old, line, n);
    cfg->users[old + n] = '\n';
    cfg->users[old + n + 1] = '\0';
}

/* "user NAME rules..." given as arguments (the command line): quoted
 * again, so that the ACL module reads back exactly these words. */
static void add_user_args(kvd_config *cfg, int argc, char **argv)
{
    size_t cap = 8;
    for (int i = 0; i < argc; i++)
        cap += strlen(argv[i]) * 4 + 3;
    char *line = xmalloc(cap), *o = line;
    o += sprintf(o, "user");
    for (int i = 0; i < argc; i++) {
        *o++ = ' ';
        o += args_quote(o, argv[i], strlen(argv[i]));
    }
    add_user_line(cfg, line, (size_t)(o - line));
    free(line);
}

int conf_set(kvd_config *cfg, const char *name, int argc, char **argv, int runtime, char *err,
             size_t errlen)
{
    if (strcasecmp(name, "user") == 0 && !runtime) {
        if (argc < 1) {
            snprintf(err, errlen, "a user line needs a user name");
            return -1;
        }
        add_user_args(cfg, argc, argv);
        return 0;
    }
    const conf_def *d = find_def_alias(name);
    if (!d) {
        snprintf(err, errlen, "Unknown option or number of arguments for CONFIG SET - '%s'", name);
        return -1;
    }
    if (runtime && !(d->flags & CF_MUTABLE)) {
        snprintf(err, errlen, "CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", d->name);
        return -1;
    }
    if (d->type == CT_LIST || d->type == CT_OBUF)
        return set_multi(cfg, d, argc, argv, err, errlen);
    if (argc != 1) {
        snprintf(err, errlen, "wrong number of arguments for '%s'", d->name);
        return -1;
    }
    const char *v = argv[0];
    void *f = (char *)cfg + d->off;
    switch (d->type) {
    case CT_LIST:
    case CT_OBUF:
        return -1; /* handled above */
    case CT_OCTAL: {
        char *end;
        long m = strtol(v, &end, 8);
        if (!*v || *end || m < d->min || m > d->max) {
            snprintf(err, errlen, "argument must be an octal file mode between 0 and 0777");
            return -1;
        }
        *(int *)f = (int)m;
        return 0;
    }
    case CT_BOOL:
        if (strcasecmp(v, "yes") == 0)
            *(int *)f = 1;
        else if (strcasecmp(v, "no") == 0)
            *(int *)f = 0;
        else {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        return 0;
    case CT_INT:
    case CT_MEM: {
        long long x;
        int bad = d->type == CT_INT ? kvd_str_to_ll(v, strlen(v), &x) : conf_parse_memory(v, &x);
        if (bad < 0) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if ((d->flags & CF_CLAMP) && x >= 0 && x <= 0x7fffffff)
            x = x < d->min ? d->min : x > d->max ? d->max : x;
        if (x < d->min || x > d->max) {
            if (d->flags & CF_CLAMP)
                snprintf(err, errlen, "argument must be between 0 and 2147483647 inclusive");
            else
                snprintf(err, errlen, "argument must be between %lld and %lld inclusive", d->min, d->max);
            return -1;
        }
        set_int_field(d, cfg, x);
        return 0;
    }
    case CT_STR:
        free(*(char **)f);
        *(char **)f = xstrdup(v);
        return 0;
    case CT_ENUM:
        for (int i = 0; d->enums[i]; i++) {
            if (strcasecmp(v, d->enums[i]) == 0) {
                *(int *)f = i;
                return 0;
            }
        }
        snprintf(err, errlen, "argument(s) must be one of the following: ");
        for (int i = 0; d->enums[i]; i++) {
            size_t l = strlen(err);
            snprintf(err + l, errlen - l, "%s%s", i ? ", " : "", d->enums[i]);
        }
        return -1;
    }
    return -1;
}

int conf_load_text(kvd_config *cfg, char *text, size_t len, const char *origin, char *err,
                   size_t errlen)
{
    char *p = text, *end = text + len;
    int lineno = 0;
    char *line = xmalloc(len + 1);
    int rc = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        lineno++;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            /* strlen would cut the line there: refuse it rather than read
             * half of it (a password, a user's rules). */
            snprintf(err, errlen, "%s line %d: the line holds a NUL byte (\\x00)", origin, lineno);
            rc = -1;
            break;
        }
        memcpy(line, p, (size_t)(eol - p));
        line[eol - p] = '\0';
        p = nl ? nl + 1 : end;

        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (*s == '#' || *s == '\0')
            continue;
        if (strncasecmp(s, "user", 4) == 0 && (s[4] == ' ' || s[4] == '\t')) {
            /* Kept as written, for the ACL module to split: any number of
             * rules, passwords with any byte ("\x00" included). */
            add_user_line(cfg, s, strlen(s));
            continue;
        }
        char *argv[64];
        size_t argvlen[64];
        int argc = args_split(s, strlen(s), argv, argvlen, 64);
        if (argc < 0) {
            snprintf(err, errlen, "%s line %d: %s", origin, lineno,
                     argc == ARGS_ERR_QUOTES ? "unbalanced quotes" : "too many arguments");
            rc = -1;
            break;
        }
        if (argc == 0)
            continue;
        int nul = 0;
        for (int i = 0; i < argc; i++) {
            nul |= memchr(argv[i], '\0', argvlen[i]) != NULL;
            argv[i][argvlen[i]] = '\0';
        }
        char why[256];
        if (nul) {
            snprintf(err, errlen, "%s line %d: '%s': the value holds a NUL byte (\\x00), which kvd does not "
                     "accept in a directive", origin, lineno, argv[0]);
            rc = -1;
            break;
        }
        if (!find_def_alias(argv[0])) {
            snprintf(err, errlen, "%s line %d: unknown directive '%s'", origin, lineno, argv[0]);
            rc = -1;
            break;
        }
        if (conf_set(cfg, argv[0], argc - 1, argv + 1, 0, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s line %d: '%s': %s", origin, lineno, argv[0], why);
            rc = -1;
            break;
        }
    }
    free(line);
    return rc;
}

int conf_load_file(kvd_config *cfg, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = kvd_read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = conf_load_text(cfg, text, len, path, err, errlen);
    free(text);
    return rc;
}

static void render(const conf_def *d, const kvd_config *cfg, buf_t *out)
{
    const void *f = (const char *)cfg + d->off;
    switch (d->type) {
    case CT_BOOL:
        buf_puts(out, *(const int *)f ? "yes" : "no");
        break;
    case CT_INT:
        buf_appendf(out, "%d", *(const int *)f);
        break;
    case CT_MEM:
        buf_appendf(out, "%lld", *(const long long *)f);
        break;
    case CT_STR: {
        const char *s = *(char *const *)f;
        buf_puts(out, s ? s : "");
        break;
    }
    case CT_ENUM:
        buf_puts(out, d->enums[*(const int *)f]);
        break;
    case CT_OCTAL:
        buf_appendf(out, "%o", (unsigned)*(const int *)f);
        break;
    case CT_LIST: {
        const char *s = *(char *const *)f;
        buf_puts(out, s ? s : "");
        break;
    }
    case CT_OBUF:
        for (int i = 0; i < KVD_OBUF_CLASSES; i++)
            buf_appendf(out, "%s%s %lld %lld %d", i ? " " : "", obuf_class_names[i], cfg->obuf[i].hard,
                        cfg->obuf[i].soft, cfg->obuf[i].soft_seconds);
        break;
    }
}

int conf_get_value(const kvd_config *cfg, const char *name, buf_t *out)
{
    const conf_def *d = find_def(name);
    if (!d)
        return -1;
    render(d, cfg, out);
    return 0;
}

void conf_each(const kvd_config *cfg, const char *pattern, conf_each_fn fn, void *ctx)
{
    size_t plen = strlen(pattern);
    for (size_t i = 0; i < KVD_ARRAY_SIZE(directives); i++) {
        const char *n = directives[i].name;
        if (glob_match(pattern, plen, n, strlen(n), 1))
            fn(ctx, n, cfg);
    }
}

/* ---- CONFIG REWRITE ---- */

/* The line above the directives a rewrite appended, as Redis marks them. */
#define REWRITE_HEADER "# Generated by CONFIG REWRITE"

/* The directive a conf line sets ("" for blanks and comments), in name. */
static void line_directive(const char *line, size_t n, char *name, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i < n && line[i] == '#')
        i = n;
    while (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && o + 1 < cap)
        name[o++] = (char)tolower((unsigned char)line[i++]);
    name[o] = '\0';
}

/* value as a conf file reads it back: bare when plain, else quoted. */
static void put_value(buf_t *out, const conf_def *d, const char *v, size_t n)
{
    int plain = n > 0;
    for (size_t i = 0; i < n && plain; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < '!' || ch > '~' || ch == '"' || ch == '\'' || ch == '\\')
            plain = ch == ' ' && (d->type == CT_LIST || d->type == CT_OBUF); /* lists are words */
    }
    if (plain) {
        buf_append(out, v, n);
        return;
    }
    buf_reserve(out, 4 * n + 2);
    out->len += args_quote(out->data + out->len, v, n);
}

/* A byte count as a conf file would say it: "2mb" rather than 2097152. */
static void put_mem(buf_t *out, long long v)
{
    if (v && v % (1LL << 30) == 0)
        buf_appendf(out, "%lldgb", v >> 30);
    else if (v && v % (1LL << 20) == 0)
        buf_appendf(out, "%lldmb", v >> 20);
    else if (v && v % 1024 == 0)
        buf_appendf(out, "%lldkb", v >> 10);
    else
        buf_appendf(out, "%lld", v);
}

/* d's value in cfg as CONFIG REWRITE writes it (sizes with units). */
static void render_for_file(const conf_def *d, const kvd_config *cfg, buf_t *out)
{
    if (d->type == CT_MEM) {
        put_mem(out, *(const long long *)((const char *)cfg + d->off));
    } else if (d->type == CT_OBUF) {
        for (int i = 0; i < KVD_OBUF_CLASSES; i++) {
            buf_appendf(out, "%s%s ", i ? " " : "", obuf_class_names[i]);
            put_mem(out, cfg->obuf[i].hard);
            buf_putc(out, ' ');
            put_mem(out, cfg->obuf[i].soft);
            buf_appendf(out, " %d", cfg->obuf[i].soft_seconds);
        }
    } else {
        render(d, cfg, out);
    }
}

/* Does the conf line line[0..n) set d to the value rendered in want? */
static int line_says(const conf_def *d, const char *line, size_t n, const buf_t *want, pool_t *pool)
{
    char *copy = xmalloc(n + 1);
    memcpy(copy, line, n);
    copy[n] = '\0';
    char *argv[64];
    size_t argvlen[64];
    int argc = args_split(copy, n, argv, argvlen, 64), same = 0;
    if (argc >= 2) {
        for (int i = 0; i < argc; i++)
            argv[i][argvlen[i]] = '\0';
        kvd_config scratch;
        conf_init(&scratch);
        char why[256];
        if (conf_set(&scratch, d->name, argc - 1, argv + 1, 0, why, sizeof why) == 0) {
            buf_t got = BUF_INIT(pool);
            render(d, &scratch, &got);
            same = got.len == want->len && (got.len == 0 || memcmp(got.data, want->data, got.len) == 0);
            buf_release(&got);
        }
        conf_free(&scratch);
    }
    free(copy);
    return same;
}

int conf_rewrite(const kvd_config *cfg, const char *path, const char *users, pool_t *pool, char *err,
                 size_t errlen)
{
    size_t len;
    char *text = kvd_read_file(path, &len);
    if (!text && errno == ENOENT) {
        /* Deleted while kvd ran: written anew, as Redis does. */
        text = xstrdup("");
        len = 0;
    }
    if (!text) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    kvd_config dflt;
    conf_init(&dflt);
    size_t nd = KVD_ARRAY_SIZE(directives);
    int *written = xcalloc(nd, sizeof(int));
    int users_written = 0;
    int header = 0; /* the file has the header above what a rewrite added */
    buf_t out = BUF_INIT(pool), cur = BUF_INIT(pool), def = BUF_INIT(pool);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char name[64];
        line_directive(p, n, name, sizeof name);
        const conf_def *d = name[0] ? find_def_alias(name) : NULL; /* a slaveof line becomes replicaof */
        if (n >= sizeof REWRITE_HEADER - 1 && memcmp(p, REWRITE_HEADER, sizeof REWRITE_HEADER - 1) == 0)
            header = 1; /* kept; what this rewrite adds goes below it too */
        if (strcmp(name, "user") == 0 && users) {
            /* The users as they are now, where the first user line was. */
            if (!users_written)
                buf_puts(&out, users);
            users_written = 1;
        } else if (d) {
            size_t i = (size_t)(d - directives);
            if (!written[i] && d->off == OFF(replicaof) && !(cfg->replicaof && cfg->replicaof[0])) {
                /* A primary: no replicaof line at all, as Redis writes it
                 * (an empty one would read back the same, but surprises). */
                written[i] = 1;
            } else if (!written[i]) {
                buf_reset(&cur);
                render(d, cfg, &cur);
                if (line_says(d, p, n, &cur, pool)) {
                    /* Already says it ("512mb" stays "512mb"). */
                    buf_append(&out, p, n);
                    buf_putc(&out, '\n');
                } else {
                    buf_reset(&cur);
                    render_for_file(d, cfg, &cur);
                    buf_puts(&out, d->name);
                    buf_putc(&out, ' ');
                    put_value(&out, d, cur.data ? cur.data : "", cur.len);
                    buf_putc(&out, '\n');
                }
                written[i] = 1;
            } /* a second line for the same directive goes */
        } else {
            buf_append(&out, p, n);
            buf_putc(&out, '\n');
        }
        p = nl ? nl + 1 : end;
    }
    /* What differs from the defaults and the file did not mention. */
    for (size_t i = 0; i < nd; i++) {
        if (written[i])
            continue;
        buf_reset(&cur);
        buf_reset(&def);
        render(&directives[i], cfg, &cur);
        render(&directives[i], &dflt, &def);
        if (cur.len == def.len && (cur.len == 0 || memcmp(cur.data, def.data, cur.len) == 0))
            continue;
        if (!header)
            buf_puts(&out, REWRITE_HEADER "\n");
        header = 1;
        buf_reset(&cur);
        render_for_file(&directives[i], cfg, &cur);
        buf_puts(&out, directives[i].name);
        buf_putc(&out, ' ');
        put_value(&out, &directives[i], cur.data ? cur.data : "", cur.len);
        buf_putc(&out, '\n');
    }
    if (users && !users_written && users[0]) {
        if (!header)
            buf_puts(&out, REWRITE_HEADER "\n");
        buf_puts(&out, users);
    }
    free(text);
    free(written);
    conf_free(&dflt);
    buf_release(&cur);
    buf_release(&def);
    /* Replace the file crash-safely; its mode kept. */
    struct stat st;
    int rc = kvd_replace_file(path, out.data, out.len, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0600);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    buf_release(&out);
    return rc < 0 ? -1 : 0;
}
