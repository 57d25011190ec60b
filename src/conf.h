/* conf: kvd's settings, read from a redis.conf-style file ("directive
 * value", # comments, Redis quoting) and from "--directive value" on the
 * command line, and served to CONFIG GET/SET. One table describes every
 * directive: its type, bounds, default and whether it can change live. */
#ifndef KVD_CONF_H
#define KVD_CONF_H

#include <stddef.h>

struct buf;

/* The most databases a server can be configured with. */
#define KVD_MAX_DATABASES 65536

/* Client classes of client-output-buffer-limit, as Redis names them. */
enum { KVD_OBUF_NORMAL, KVD_OBUF_REPLICA, KVD_OBUF_PUBSUB, KVD_OBUF_CLASSES };

typedef struct kvd_obuf_limit {
    long long hard;              /* close over this many bytes (0 = no limit) */
    long long soft;              /* reading pauses above it (0 = no limit) */
    int soft_seconds;            /* close if over soft this long (0 = never) */
} kvd_obuf_limit;

typedef struct kvd_config {
    char *bind;                  /* space-separated addresses */
    int port;                    /* 0: no TCP listener */
    char *unixsocket;            /* "" = none */
    int unixsocketperm;          /* octal mode for the socket file */
    /* TLS (tls.c); every tls-* directive is ignored while tls_port is 0 */
    int tls_port;                /* 0: no TLS listener */
    char *tls_cert_file;         /* the server's certificate chain, PEM */
    char *tls_key_file;          /* its private key, PEM */
    char *tls_ca_cert_file;      /* CAs trusted for client certificates, PEM ("" = none) */
    char *tls_ca_cert_dir;       /* ... as a directory of hashed certificates ("" = none) */
    int tls_auth_clients;        /* enum kvd_tls_auth */
    char *tls_protocols;         /* "TLSv1.2 TLSv1.3": the versions allowed */
    char *tls_ciphers;           /* OpenSSL cipher list for TLSv1.2 and older ("" = its default) */
    char *tls_ciphersuites;      /* TLSv1.3 suites ("" = OpenSSL's default) */
    int tls_handshake_timeout;   /* ms from accept to a finished handshake */
    int tcp_backlog;
    int timeout;                 /* close clients idle this many seconds (0 = never) */
    int tcp_keepalive;           /* seconds; 0 = off */
    int maxclients;
    char *requirepass;           /* "" = no password: the default user's password */
    char *aclfile;               /* "" = none: users come from `user` lines */
    int acllog_max_len;          /* entries ACL LOG keeps */
    int slowlog_log_slower_than; /* microseconds; < 0: off */
    int slowlog_max_len;         /* entries SLOWLOG keeps */
    int latency_monitor_threshold; /* ms; 0: the latency monitor is off */
    char *users;                 /* the `user` lines given, one per line, as written */
    int protected_mode;
    int daemonize;
    int supervised;              /* enum kvd_supervised: whom to tell when kvd is ready (notify.c) */
    char *pidfile;               /* "" = none */
    int hz;                      /* background cycles per second */
    int busy_poll_us;            /* the loop polls without blocking this long after it moved bytes (0 = never) */
    int databases;               /* SELECT 0 .. databases-1 */
    long long proto_max_bulk_len;
    long long proto_inline_max_size;
    int proto_max_multibulk_len;
    long long client_query_buffer_limit;
    kvd_obuf_limit obuf[KVD_OBUF_CLASSES]; /* client-output-buffer-limit, by client class */
    char *dir;                   /* data directory */
    char *replicaof;             /* "host port" of the primary, "" on a primary */
    char *masterauth;            /* password for the primary ("" = none) */
    char *masteruser;            /* user for the primary ("" = AUTH with the password only) */
    int replica_read_only;       /* a replica refuses clients' writes (only yes is supported) */
    int replica_serve_stale_data; /* a replica whose link is down still serves reads */
    int replica_priority;        /* for Sentinel: lower is preferred, 0 never promoted */
    int replica_announced;       /* for Sentinel: listed in its replies */
    char *replica_announce_ip;   /* the address the primary lists for us ("" = the one it sees) */
    int replica_announce_port;   /* the port the primary lists for us (0 = port) */
    int repl_timeout;            /* seconds without news before a link is taken for dead */
    int min_replicas_to_write;   /* refuse writes with fewer good replicas (0 = off) */
    int min_replicas_max_lag;    /* ... a good replica acknowledged within this many seconds */
    int auto_aof_rewrite_percentage; /* compact when the WAL grew this much (0 = never) */
    long long auto_aof_rewrite_min_size; /* ... and is at least this big */
    int compaction_cpu_percent;  /* most of a CPU the compaction child may use */
    long long maxmemory;         /* bytes; 0 = no limit */
    int maxmemory_policy;        /* enum evict_policy */
    int maxmemory_samples;       /* keys sampled per eviction */
    int lfu_log_factor;          /* LFU counter growth (higher: slower) */
    int lfu_decay_time;          /* minutes per LFU counter decrement */
    int appendfsync;             /* wal_sync_policy */
    int loglevel;
    char *logfile;               /* "" = stderr */
    long long pool_max_bytes;    /* buffer pool: cached bytes cap */
    int pool_max_per_class;      /* buffer pool: cached buffers per class */
} kvd_config;

/* tls-auth-clients: whether a TLS client must show a certificate. */
enum kvd_tls_auth { KVD_TLS_AUTH_NO = 0, KVD_TLS_AUTH_YES, KVD_TLS_AUTH_OPTIONAL };

/* supervised: no; systemd (the notify protocol); auto (systemd when
 * NOTIFY_SOCKET is set). */
enum kvd_supervised { KVD_SUPERVISED_NO = 0, KVD_SUPERVISED_SYSTEMD, KVD_SUPERVISED_AUTO };

/* Fill cfg with every directive's default. */
void conf_init(kvd_config *cfg);

/* Free the strings cfg owns. */
void conf_free(kvd_config *cfg);

/* dst becomes a copy of src with strings of its own (conf_free it). */
void conf_copy(kvd_config *dst, const kvd_config *src);

/* 1 when the named directive's value must never be logged (a password). */
int conf_is_sensitive(const char *name);

/* Set one directive from its text arguments (as split from a line).
 * runtime says the change comes from CONFIG SET: directives that cannot
 * change live are refused then. Returns 0, or -1 with a message in err. */
int conf_set(kvd_config *cfg, const char *name, int argc, char **argv, int runtime, char *err,
               size_t errlen);

/* Apply a whole config text (file contents or the joined command line).
 * On error err names the line and the problem. Returns 0 or -1. */
int conf_load_text(kvd_config *cfg, char *text, size_t len, const char *origin, char *err,
                     size_t errlen);

/* Read and apply the file at path. Returns 0 or -1 with err set. */
int conf_load_file(kvd_config *cfg, const char *path, char *err, size_t errlen);

/* Append the current value of the named directive, as CONFIG GET shows it,
 * to out. Returns 0, or -1 if there is no such directive. */
int conf_get_value(const kvd_config *cfg, const char *name, struct buf *out);

/* Call fn for each directive whose name matches the glob pattern. */
/* CONFIG REWRITE: rewrite the conf file at path so that it says cfg,
 * keeping its comments, order and other lines: each directive's first
 * line gets the current value (later duplicates go), directives the file
 * does not mention are appended when they differ from their defaults,
 * and the `user` lines are replaced by users (lines ending in '\n'; NULL
 * leaves them as they are). Temp file, fsync, rename. Returns 0, or -1
 * with err set. */
struct pool;
int conf_rewrite(const kvd_config *cfg, const char *path, const char *users, struct pool *pool, char *err,
                 size_t errlen);

typedef void (*conf_each_fn)(void *ctx, const char *name, const kvd_config *cfg);
void conf_each(const kvd_config *cfg, const char *pattern, conf_each_fn fn, void *ctx);

/* 1 when the named directive exists. */
int conf_exists(const char *name);

/* Parse a size with Redis's units (k=1000, kb=1024, m, mb, g, gb).
 * Returns 0 or -1. */
int conf_parse_memory(const char *s, long long *out);

#endif
