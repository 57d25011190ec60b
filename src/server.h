/* server: the daemon's shared state and the libuv event loop that runs it:
 * listeners, client connections, the per-iteration group commit (flush the
 * WAL batch, fsync on a worker thread, release replies that waited for it),
 * timers and signals. Commands (cmd_*.c) work on a client and the keyspace
 * (db.c) and append replies with the reply_* helpers below. */
#ifndef KVD_SERVER_H
#define KVD_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "apply.h"
#include "buf.h"
#include "compact.h"
#include "conf.h"
#include "pool.h"
#include "respbuf.h"
#include "table.h"
#include "evict.h"
#include "list.h"
#include "wal.h"
#include "wal_dir.h"

/* client flags */
#define CLIENT_CLOSE_AFTER_REPLY 0x01 /* QUIT or a protocol error: close once the reply is out */
#define CLIENT_AUTHENTICATED 0x02
#define CLIENT_READ_PAUSED 0x04       /* output over the soft limit: not reading */
#define CLIENT_CLOSING 0x08           /* uv_close called */
#define CLIENT_UNIX 0x10              /* connected over the unix socket */
#define CLIENT_CLOSE_ASAP 0x20        /* close without sending more */
#define CLIENT_LINGER 0x100           /* replied and sent FIN; draining input until EOF */
#define CLIENT_MULTI 0x200            /* between MULTI and EXEC: commands are queued */
#define CLIENT_DIRTY_EXEC 0x400       /* a command was refused while queueing: EXEC aborts */
#define CLIENT_DIRTY_CAS 0x800        /* a watched key changed: EXEC fails */
#define CLIENT_REPLY_OFF 0x1000       /* CLIENT REPLY OFF: replies are dropped */
#define CLIENT_REPLY_SKIP 0x2000      /* CLIENT REPLY SKIP: this command's reply is dropped */
#define CLIENT_REPLY_SKIP_NEXT 0x4000 /* ... set by the SKIP itself: the next command's */
#define CLIENT_NO_EVICT 0x8000        /* CLIENT NO-EVICT on */
#define CLIENT_NO_TOUCH 0x10000       /* CLIENT NO-TOUCH on: reads leave keys' LRU/LFU alone */
#define CLIENT_MONITOR 0x20000        /* MONITOR: gets a line for every command run */
#define CLIENT_POSTPONED 0x40000      /* CLIENT PAUSE holds its command: its input waits (pause.c) */
#define CLIENT_WAITING 0x80000        /* blocked in WAIT: its input waits (repl.c) */

/* A span of a client's replies not yet sent (commit.c): from out[off] to
 * the next span (or the end), sent only once seq is acknowledged (written,
 * or fsynced under appendfsync always) and the spans before it are. */
typedef struct barrier {
    size_t off;
    uint64_t seq;
    uint64_t ncmds;         /* commands whose replies are in this span */
} barrier;

typedef struct client {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_stream_t stream;
        uv_handle_t handle;
    } h;
    uint64_t id;
    int flags;
    buf_t qbuf;             /* bytes read, not yet parsed */
    resp_parser parser;
    buf_t out;              /* replies not yet handed to the socket */
    barrier *bars;          /* FIFO of reply holds, oldest first */
    int nbars, capbars;
    size_t inflight;        /* bytes given to uv_write, not yet completed */
    char addr[64];          /* peer "ip:port" (or "/path:0") */
    char laddr[64];         /* local "ip:port" */
    char *name;             /* CLIENT SETNAME */
    char *lib_name, *lib_ver;
    int64_t ctime_ms;       /* when it connected */
    int64_t last_ms;        /* last command or read */
    int64_t obuf_soft_since; /* when output went over the soft limit (0: it is not) */
    int64_t linger_until;   /* CLIENT_LINGER: close by then even without EOF */
    uv_shutdown_t sreq;     /* CLIENT_LINGER: the FIN */
    struct tls_conn *tls;   /* TLS state (tls.c); NULL on a plain connection */
    const char *lastcmd;
    struct acl_user *user;  /* whose permissions apply (the default user until AUTH) */
    struct multi_state *mstate; /* MULTI's queue and WATCH's keys, or NULL */
    struct pubsub_state *pubsub; /* its channels and patterns, or NULL */
    struct postponed *postponed; /* the command CLIENT PAUSE holds (pause.c), or NULL */
    struct repl_link *repl; /* a replica's link (it sent SYNCWAL; repl.c), or NULL */
    int repl_port;          /* REPLCONF listening-port */
    char *repl_ip;          /* REPLCONF ip-address (its replica-announce-ip), or NULL */
    uint64_t woff;          /* seq of its last write (WAIT) */
    long wait_num;          /* WAIT: replicas it waits for */
    int64_t wait_until;     /* WAIT: ms deadline, 0 for none */
    list_link waiting;      /* on repl.c's list while blocked in WAIT */
    int resp;               /* protocol of the replies: 2, or 3 after HELLO 3 (0 counts as 2) */
    uint32_t db;            /* the database SELECT chose */
    uint64_t ncmds;         /* commands dispatched */
    list_link all;          /* on srv.clients (or srv.lingering once it lingers) */
    list_link pw;           /* on srv.pending: has replies to send */
    list_link held;         /* on srv.held: has replies waiting for the WAL */
} client;

typedef struct server_stats {
    uint64_t connections;       /* total_connections_received */
    uint64_t rejected;          /* rejected_connections */
    uint64_t commands;          /* total_commands_processed */
    uint64_t net_in, net_out;   /* bytes */
    uint64_t expired_keys;
    uint64_t evicted_keys;
    uint64_t hits, misses;      /* keyspace_hits / keyspace_misses */
    uint64_t errors;            /* total_error_replies */
    uint64_t oom_rejects;
    uint64_t acl_denied_auth, acl_denied_cmd, acl_denied_key, acl_denied_channel; /* acl_access_denied_* */
    uint64_t ops_sample_cmds;   /* for instantaneous_ops_per_sec */
    int64_t ops_sample_ms;
    double ops_per_sec;
    size_t max_qbuf, max_out;   /* client_recent_max_*_buffer */
    size_t peak_memory;         /* used_memory_peak, sampled by the cron and INFO */
} server_stats;

/* The replay at startup as clients, INFO and the log see it (loading.c). */
typedef struct loading_state {
    int active;                 /* replaying: commands without CMD_LOADING get -LOADING */
    int64_t start_time;         /* unix seconds (INFO loading_start_time) */
    uint64_t start_ns;          /* monotonic, for the rate and the ETA */
    uint64_t total_bytes;       /* the sizes of the WAL files to read */
    uint64_t loaded_bytes;      /* ... read so far */
    uint64_t entries;           /* entries applied so far */
} loading_state;

typedef struct server {
    kvd_config cfg;
    char *config_file;          /* absolute path, or NULL */
    char *executable;
    uv_loop_t *loop;
    uv_tcp_t listeners[16];
    int nlisteners;
    uv_pipe_t unix_listener;
    int has_unix;
    uv_prepare_t prepare;       /* group commit, once per loop iteration */
    uv_timer_t cron;            /* hz: expiry, timeouts, everysec fsync, rehash */
    uv_signal_t sig_term, sig_int, sig_hup;

    pool_t pool;
    keyspace ks;                /* the databases */
    table_t *db;                /* the one the running command selected: ks.db[dbid] */
    uint32_t dbid;
    wal_t *wal;

    /* fsync on a worker thread */
    uv_work_t sync_req;
    int sync_inflight;
    uint64_t sync_target;       /* written_seq when it began */
    int sync_rc;
    uint64_t sync_t0;
    int64_t sync_started_ms;
    int last_wal_error_logged;
    int64_t last_save_ms;       /* LASTSAVE: last successful fsync */

    list clients;               /* connected clients, least recently active first */
    uint64_t nclients;
    uint64_t next_client_id;
    list pending;               /* clients with output to send */
    list held;                  /* clients whose replies wait for the WAL */
    list lingering;             /* closed clients draining input */
    size_t clients_mem;         /* the clients' buffers, as of the last cron */
    evict_pool evpool;          /* maxmemory: eviction candidates */

    server_stats stats;
    int64_t start_ms;
    int64_t now_ms;             /* cached clock for the command running */
    int no_touch;               /* the running command's reads leave LRU/LFU alone */
    char run_id[41];
    int shutting_down;
    int exit_code;
    int64_t loaded_keys;
    wal_open_result load;       /* what the replay at startup found */
    loading_state loading;      /* ... and how far it is while it runs */
    compact_state compact;      /* WAL compaction */
    int sync_fd;                /* the fd the running fdatasync works on */
    int retired_fd;             /* an old segment's fd to close once that fdatasync ends */
} server;

extern server srv;

/* Give the keyspace table the access-tracking mode and LFU settings the
 * configuration asks for (maxmemory-policy, lfu-log-factor, lfu-decay-time). */
void server_apply_eviction_config(void);

/* Start listening and handling signals, before the WAL is replayed:
 * while it loads, clients can connect and are answered between chunks of
 * the replay (loading.c). Returns 0, or -1 (logged) when a listener or the
 * loop cannot be set up. */
int server_listen(void);

/* Once the data is loaded: start the group commit and the cron, tell the
 * service manager kvd is ready, and run the loop until shutdown. Returns
 * the exit code. */
int server_run(void);

/* When kvd stops before server_run (the replay failed, or a shutdown came
 * while loading): close the listeners, the clients and the loop's
 * handles, and let the loop finish closing them. */
void server_close(void);

/* Begin an orderly shutdown: stop accepting, flush and fsync the WAL, send
 * what replies can be sent, close clients, exit the loop. force: go on
 * even if the final fsync fails. Returns 0, or -errno if the final sync
 * failed and force was not given (the server keeps running). */
int server_shutdown(const char *why, int force);

/* Bytes of memory kvd accounts for (INFO used_memory). */
size_t server_used_memory(void);

/* INFO's busy_polling: "off" (busy-poll-us 0), "paused" (the loop thread
 * has been waiting for a CPU: see server.c) or "on". */
const char *server_busy_polling(void);

/* Apply a CONFIG SET that changed name (pool caps, log level, limits). */
void server_config_changed(const char *name);

/* ---- replies ---- */

static inline void reply_ok(client *c) { buf_append(&c->out, "+OK\r\n", 5); }
static inline void reply_simple(client *c, const char *s) { resp_add_simple(&c->out, s); }
static inline void reply_int(client *c, long long v) { resp_add_int(&c->out, v); }
static inline void reply_bulk(client *c, const void *p, size_t n) { resp_add_bulk(&c->out, p, n); }
static inline void reply_bulk_str(client *c, const char *s) { resp_add_bulk_str(&c->out, s); }
/* A missing value: $-1 in RESP2, _ in RESP3. */
static inline void reply_nil(client *c)
{
    if (c->resp == 3)
        buf_append(&c->out, "_\r\n", 3);
    else
        resp_add_nil(&c->out);
}
/* A missing array (EXEC after a WATCH failed, COMMAND INFO of no command). */
static inline void reply_nil_array(client *c)
{
    if (c->resp == 3)
        buf_append(&c->out, "_\r\n", 3);
    else
        resp_add_nil_array(&c->out);
}
/* n key-value pairs follow: a RESP3 map, or an array of 2n in RESP2. */
static inline void reply_map(client *c, long long n)
{
    if (c->resp == 3)
        resp_add_header(&c->out, '%', n);
    else
        resp_add_array(&c->out, 2 * n);
}
/* n distinct elements follow: a RESP3 set, or an array in RESP2. */
static inline void reply_set(client *c, long long n)
{
    if (c->resp == 3)
        resp_add_header(&c->out, '~', n);
    else
        resp_add_array(&c->out, n);
}
/* A double: RESP3's ,d, or a bulk string of it in RESP2 (as Redis). */
void reply_double(client *c, double d);
/* Text for people (INFO, CLIENT LIST): a RESP3 verbatim string, or a bulk. */
void reply_verbatim(client *c, const char *p, size_t n);
static inline void reply_array(client *c, long long n) { resp_add_array(&c->out, n); }
void reply_error(client *c, const char *msg);
void reply_errorf(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void reply_entry_val(client *c, tentry_t *e) { reply_bulk(c, tentry_val(e), tentry_vlen(e)); }

#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT "ERR value is not a valid float"

#endif
