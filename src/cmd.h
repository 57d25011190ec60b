/* cmd: the command table and dispatch. Looks a command up by name (any
 * case), checks arity, authentication and whether writes are possible,
 * runs it, and holds a write's reply until the WAL acknowledges it. */
#ifndef KVD_CMD_H
#define KVD_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

#define CMD_WRITE 0x01    /* changes the keyspace (logged; reply waits for the WAL) */
#define CMD_READONLY 0x02
#define CMD_FAST 0x04     /* O(1) or O(log N) */
#define CMD_NOAUTH 0x08   /* allowed before AUTH */
#define CMD_DENYOOM 0x10  /* may grow memory */
#define CMD_ADMIN 0x20
#define CMD_NOQUEUE 0x40  /* runs at once inside MULTI (MULTI, EXEC, DISCARD, WATCH, QUIT) */
#define CMD_NOMULTI 0x80  /* refused inside MULTI (SHUTDOWN) */
#define CMD_CHANNEL 0x100 /* argument 1 is a pub/sub channel (PUBLISH): ACL channel rules apply */
#define CMD_CHANNELS 0x200 /* every argument is a channel (SUBSCRIBE) */
#define CMD_PATTERNS 0x400 /* every argument is a channel pattern (PSUBSCRIBE) */
#define CMD_PUBSUB 0x800  /* allowed to a RESP2 client with subscriptions */
#define CMD_MAY_REPLICATE 0x1000 /* not a write, yet Redis propagates it (PUBLISH): CLIENT PAUSE WRITE holds it */
#define CMD_LOADING 0x2000 /* runs while the WAL is replayed at startup (the rest get -LOADING) */

typedef void (*cmd_fn)(client *c, int argc, char **argv, size_t *argvlen);

/* What a command needs on a key for ACL key patterns (%R~, %W~): READ when
 * it returns or uses the value, WRITE when it changes or deletes the key.
 * A key it only looks at (EXISTS, TTL's absence) needs neither, so any
 * pattern that matches the key allows it, as in Redis. */
#define CMD_KEY_READ 0x1
#define CMD_KEY_WRITE 0x2

typedef struct kvd_cmd {
    const char *name;       /* lowercase; "container|sub" for a subcommand */
    cmd_fn fn;
    int arity;              /* N: exactly N args with the name; -N: at least N */
    int flags;
    int firstkey, lastkey, keystep; /* key positions, as COMMAND INFO reports them */
    const char *group;      /* "string", "generic", "server", "connection" */
    const char *since;      /* Redis version that introduced it */
    const char *complexity;
    const char *summary;
    const char *categories; /* ACL categories, as Redis files the command: "@read @string @fast" */
    int kfirst, krest;      /* CMD_KEY_* its first key needs, and the others */
    struct kvd_cmd *subs;   /* subcommands, ended by a NULL name; NULL if none */
    /* set by cmd_init: */
    int id;                 /* bit in an ACL user's command bitmap */
    uint32_t catmask;       /* categories as bits (acl.h's category index) */
    struct kvd_cmd *parent; /* the container of a subcommand */
    uint64_t calls, usec, failed; /* INFO commandstats: runs, time, runs that replied an error */
    uint64_t rejected;      /* ... and refusals before running (arity, ACL, OOM, ...) */
} kvd_cmd;

/* Most commands and subcommands kvd can have (ACL bitmaps are this wide). */
#define CMD_MAX_IDS 512

/* Build the lookup index (once, at startup). */
void cmd_init(void);

/* Find a command by name, case-insensitively. */
kvd_cmd *cmd_lookup(const char *name, size_t len);

/* May argument i of this command be shown (SLOWLOG, MONITOR)? 0 when it
 * may, 1 for passwords and ACL rules, which show as "(redacted)". */
int cmd_arg_redacted(int argc, char **argv, size_t *argvlen, int i);

/* Reply with the names of the commands and subcommands in category cat
 * (-1: any) matching the glob pat (NULL: any); with leaves, containers
 * only through their subcommands. */
void cmd_reply_names(client *c, int cat, const char *pat, size_t plen, int leaves);

/* MONITOR: a line for every monitor about a command c ran; forget a
 * monitor that goes away. */
void cmd_monitor_feed(client *c, const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen);
void cmd_monitor_forget(client *c);

/* Errors the commands run by the current EXEC replied (not EXEC's own). */
extern uint64_t cmd_exec_inner_errors;

/* Run one parsed command for c. */
void cmd_dispatch(client *c, int argc, char **argv, size_t *argvlen);

/* Iterate the table (for COMMAND and INFO commandstats). */
kvd_cmd *cmd_table(size_t *n);

/* The subcommand of container cmd named by name (any case), or NULL. */
kvd_cmd *cmd_lookup_sub(const kvd_cmd *cmd, const char *name, size_t len);

/* The command (or "container|sub" subcommand) named exactly so, any case,
 * or NULL: for ACL rules. */
kvd_cmd *cmd_lookup_full(const char *name, size_t len);

/* Call fn for every command and subcommand, containers first. */
void cmd_each(void (*fn)(kvd_cmd *cmd, void *ctx), void *ctx);

/* The CMD_KEY_* that argument i (a key position of cmd) needs. */
int cmd_key_needs(const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen, int i);

/* Zero commandstats and errorstats (CONFIG RESETSTAT). */
void cmd_reset_stats(void);

/* INFO errorstats: one line per error prefix replied ("errorstat_ERR:count=3"). */
void cmd_errorstats(buf_t *out);

/* Case-insensitive compare of an argument with a lowercase word. */
int arg_is(const char *arg, size_t len, const char *word);

/* Parse an argument as a Redis integer (replying ERR_NOT_INT on failure).
 * Returns 0 or -1. */
int arg_ll(client *c, const char *arg, size_t len, long long *out);

/* Parse a database number, as Redis reads it for the command: an int
 * (SELECT, MOVE, SWAPDB) or, with as_long, a long (COPY). Replies notint
 * (NULL: Redis's texts for a non-number and a number past an int) when it
 * is not one, "ERR DB index is out of range" when there is no such
 * database. Returns 0 or -1. */
int arg_db(client *c, const char *arg, size_t len, const char *notint, int as_long, uint32_t *out);

/* An array of status lines (the HELP subcommands). */
void reply_lines(client *c, const char *const *lines, size_t n);

/* Reply to a bad subcommand as Redis 7 does: "wrong number of arguments
 * for 'cmd|sub' command" when sub is one of known (a NULL-terminated
 * list), else "unknown subcommand 'sub'. Try CMD HELP.". */
void reply_subcommand_error(client *c, const char *cmd, const char *sub, size_t sublen,
                            const char *const *known);

/* Record a refused command (ACL_DENIED_CMD: object is the command's
 * name; ACL_DENIED_KEY: the key) or a failed AUTH (ACL_DENIED_AUTH,
 * object "AUTH") in the ACL LOG, as c's user (or username, for AUTH). */
#define ACL_DENIED_AUTH 3
void cmd_acl_log(client *c, int reason, const char *object, size_t len);
void cmd_acl_log_auth(client *c, const char *username, size_t ulen);

/* Free the ACL LOG (at exit). */
void cmd_acl_free(void);

/* ---- command implementations, by family ---- */
#define CMD_DECL(f) void f(client *c, int argc, char **argv, size_t *argvlen)
/* server / connection */
CMD_DECL(cmd_ping); CMD_DECL(cmd_echo); CMD_DECL(cmd_quit); CMD_DECL(cmd_reset); CMD_DECL(cmd_select);
CMD_DECL(cmd_auth); CMD_DECL(cmd_hello); CMD_DECL(cmd_client); CMD_DECL(cmd_command);
CMD_DECL(cmd_config); CMD_DECL(cmd_info); CMD_DECL(cmd_dbsize); CMD_DECL(cmd_flushdb);
CMD_DECL(cmd_flushall); CMD_DECL(cmd_time); CMD_DECL(cmd_shutdown); CMD_DECL(cmd_lastsave);
CMD_DECL(cmd_bgrewriteaof); CMD_DECL(cmd_role); CMD_DECL(cmd_acl); CMD_DECL(cmd_slowlog); CMD_DECL(cmd_script); CMD_DECL(cmd_latency); CMD_DECL(cmd_monitor);
/* transactions */
/* pub/sub */
CMD_DECL(cmd_subscribe); CMD_DECL(cmd_unsubscribe); CMD_DECL(cmd_psubscribe); CMD_DECL(cmd_punsubscribe);
CMD_DECL(cmd_publish); CMD_DECL(cmd_pubsub);
CMD_DECL(cmd_multi); CMD_DECL(cmd_exec); CMD_DECL(cmd_discard); CMD_DECL(cmd_watch); CMD_DECL(cmd_unwatch);
/* strings */
CMD_DECL(cmd_get); CMD_DECL(cmd_set); CMD_DECL(cmd_setnx); CMD_DECL(cmd_setex);
CMD_DECL(cmd_psetex); CMD_DECL(cmd_getset); CMD_DECL(cmd_getdel); CMD_DECL(cmd_getex);
CMD_DECL(cmd_mget); CMD_DECL(cmd_mset); CMD_DECL(cmd_msetnx); CMD_DECL(cmd_incr);
CMD_DECL(cmd_decr); CMD_DECL(cmd_incrby); CMD_DECL(cmd_decrby); CMD_DECL(cmd_incrbyfloat);
CMD_DECL(cmd_append); CMD_DECL(cmd_strlen); CMD_DECL(cmd_getrange); CMD_DECL(cmd_setrange);
/* bitmaps and LCS */
CMD_DECL(cmd_setbit); CMD_DECL(cmd_getbit); CMD_DECL(cmd_bitcount); CMD_DECL(cmd_bitpos); CMD_DECL(cmd_bitop);
CMD_DECL(cmd_bitfield); CMD_DECL(cmd_bitfield_ro); CMD_DECL(cmd_lcs);
/* keys */
CMD_DECL(cmd_del); CMD_DECL(cmd_exists); CMD_DECL(cmd_type); CMD_DECL(cmd_touch);
CMD_DECL(cmd_expire); CMD_DECL(cmd_pexpire); CMD_DECL(cmd_expireat); CMD_DECL(cmd_pexpireat);
CMD_DECL(cmd_ttl); CMD_DECL(cmd_pttl); CMD_DECL(cmd_expiretime); CMD_DECL(cmd_pexpiretime);
CMD_DECL(cmd_persist); CMD_DECL(cmd_keys); CMD_DECL(cmd_scan); CMD_DECL(cmd_randomkey);
CMD_DECL(cmd_rename); CMD_DECL(cmd_renamenx); CMD_DECL(cmd_copy); CMD_DECL(cmd_move); CMD_DECL(cmd_swapdb);
CMD_DECL(cmd_object); CMD_DECL(cmd_memory);

#endif
