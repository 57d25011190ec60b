/* cmd_server: connection and server commands: PING, ECHO, QUIT, SELECT,
 * AUTH, HELLO, CLIENT, CONFIG, INFO, DBSIZE, FLUSHDB, FLUSHALL, TIME,
 * SHUTDOWN, LASTSAVE, BGREWRITEAOF, SCRIPT KILL (kvd has no scripts). */
#include "config.h"
#include "cmd.h"
#include "acl.h"
#include "multi.h"
#include "pubsub.h"
#include "conn.h"
#include "db.h"
#include "evict.h"
#include "glob.h"
#include "loading.h"
#include "log.h"
#include "pause.h"
#include "repl.h"
#include "tls.h"
#include "util.h"
#include "version.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#define REDIS_COMPAT_VERSION "7.0.0"

void cmd_ping(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc > 2) {
        reply_error(c, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->resp != 3 && pubsub_count(c)) {
        /* A RESP2 subscriber cannot tell a reply from a message by its
         * type: PING answers as a message, as Redis. */
        reply_array(c, 2);
        reply_bulk_str(c, "pong");
        reply_bulk(c, argc == 2 ? argv[1] : "", argc == 2 ? argvlen[1] : 0);
    } else if (argc == 1) {
        reply_simple(c, "PONG");
    } else {
        reply_bulk(c, argv[1], argvlen[1]);
    }
}

void cmd_echo(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    reply_bulk(c, argv[1], argvlen[1]);
}

void cmd_quit(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    reply_ok(c);
    conn_close_after_reply(c);
}

void cmd_select(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    uint32_t db;
    if (arg_db(c, argv[1], argvlen[1], NULL, 0, &db) < 0)
        return;
    c->db = db;
    db_select(db);
    reply_ok(c);
}

/* Authenticate c as user with pass: on success c takes the user's
 * permissions; on failure it keeps what it had (as in Redis) and the
 * attempt goes to the ACL LOG. Returns 1 on success. */
static int authenticate(client *c, const char *user, size_t ulen, const char *pass, size_t plen)
{
    acl_user *u = acl_find(user, ulen);
    if (u && (u->flags & ACL_USER_ON) && acl_password_ok(u, pass, plen)) {
        conn_authenticated(c, u);
        return 1;
    }
    cmd_acl_log_auth(c, user, ulen);
    return 0;
}

#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

void cmd_auth(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (argc == 2 && (acl_default_user()->flags & ACL_USER_NOPASS)) {
        reply_error(c, "ERR AUTH <password> called without any password configured for the "
                       "default user. Are you sure your configuration is correct?");
        return;
    }
    int ok = argc == 2 ? authenticate(c, "default", 7, argv[1], argvlen[1])
                       : authenticate(c, argv[1], argvlen[1], argv[2], argvlen[2]);
    if (!ok) {
        reply_error(c, ERR_WRONGPASS);
        return;
    }
    reply_ok(c);
}

/* Client names: printable ASCII without spaces, as Redis requires. */
static int valid_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~')
            return 0;
    return 1;
}

static void set_name(client *c, const char *s, size_t n)
{
    free(c->name);
    c->name = n ? xmalloc(n + 1) : NULL;
    if (n) {
        memcpy(c->name, s, n);
        c->name[n] = '\0';
    }
}

void cmd_hello(client *c, int argc, char **argv, size_t *argvlen)
{
    int i = 1;
    long long ver = c->resp == 3 ? 3 : 2;
    if (argc >= 2) {
        if (kvd_str_to_ll(argv[1], argvlen[1], &ver) < 0) {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver != 2 && ver != 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    const char *name = NULL;
    size_t namelen = 0;
    for (; i < argc; i++) {
        int more = argc - i - 1;
        if (arg_is(argv[i], argvlen[i], "auth") && more >= 2) {
            if (!authenticate(c, argv[i + 1], argvlen[i + 1], argv[i + 2], argvlen[i + 2])) {
                reply_error(c, ERR_WRONGPASS);
                return;
            }
            i += 2;
        } else if (arg_is(argv[i], argvlen[i], "setname") && more >= 1) {
            if (!valid_name(argv[i + 1], argvlen[i + 1])) {
                reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            name = argv[i + 1];
            namelen = argvlen[i + 1];
            i++;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'", (int)(argvlen[i] > 64 ? 64 : argvlen[i]), argv[i]);
            return;
        }
    }
    if (!(c->flags & CLIENT_AUTHENTICATED)) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                       "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
                       "select the RESP protocol version at the same time");
        return;
    }
    if (name)
        set_name(c, name, namelen);
    c->resp = (int)ver;
    reply_map(c, 7);
    reply_bulk_str(c, "server");
    reply_bulk_str(c, "kvd");
    reply_bulk_str(c, "version");
    reply_bulk_str(c, REDIS_COMPAT_VERSION);
    reply_bulk_str(c, "proto");
    reply_int(c, ver);
    reply_bulk_str(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_str(c, "mode");
    reply_bulk_str(c, "standalone");
    reply_bulk_str(c, "role");
    reply_bulk_str(c, "master");
    reply_bulk_str(c, "modules");
    reply_array(c, 0);
}

/* CLIENT LIST/KILL TYPE t: 0 normal, 1 pubsub, 2 replica (or slave), 3
 * master (the link to the primary, replica.c); -1 after replying an error. */
static int client_type_arg(client *c, const char *v, size_t vl)
{
    if (arg_is(v, vl, "normal"))
        return 0;
    if (arg_is(v, vl, "pubsub"))
        return 1;
    if (arg_is(v, vl, "replica") || arg_is(v, vl, "slave"))
        return 2;
    if (arg_is(v, vl, "master"))
        return 3;
    reply_errorf(c, "ERR Unknown client type '%.*s'", (int)(vl > 32 ? 32 : vl), v);
    return -1;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = (*(client *const *)a)->id, y = (*(client *const *)b)->id;
    return x < y ? -1 : x > y;
}

static void client_list(client *c, int argc, char **argv, size_t *argvlen)
{
    /* CLIENT LIST [TYPE normal] [ID id ...] */
    uint64_t *ids = NULL;
    int nids = 0, type = -1; /* as in client_kill */
    for (int i = 2; i < argc; i++) {
        if (arg_is(argv[i], argvlen[i], "type") && i + 1 < argc) {
            if ((type = client_type_arg(c, argv[i + 1], argvlen[i + 1])) < 0) {
                free(ids);
                return;
            }
            i++;
        } else if (arg_is(argv[i], argvlen[i], "id") && i + 1 < argc) {
            ids = xrealloc(ids, (size_t)argc * sizeof(*ids));
            for (i++; i < argc; i++) {
                long long id;
                if (kvd_str_to_ll(argv[i], argvlen[i], &id) < 0 || id <= 0) {
                    reply_error(c, "ERR Invalid client ID");
                    free(ids);
                    return;
                }
                ids[nids++] = (uint64_t)id;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            free(ids);
            return;
        }
    }
    /* In connection order, as Redis lists them (srv.clients is kept in
     * order of activity). */
    client **v = xmalloc(sizeof(client *) * (srv.nclients ? srv.nclients : 1));
    size_t nv = 0;
    client *x;
    LIST_EACH(&srv.clients, client, all, x) {
        if (type >= 0 && type != (x->repl ? 2 : pubsub_count(x) ? 1 : 0))
            continue;
        if (nids) {
            int want = 0;
            for (int k = 0; k < nids; k++)
                want |= ids[k] == x->id;
            if (!want)
                continue;
        }
        if (nv < srv.nclients)
            v[nv++] = x;
    }
    qsort(v, nv, sizeof *v, by_id);
    buf_t out = BUF_INIT(&srv.pool);
    for (size_t i = 0; i < nv; i++) {
        conn_describe(v[i], &out);
        buf_putc(&out, '\n');
    }
    free(v);
    /* The link to the primary, as Redis lists its master client. */
    if (type < 0 || type == 3) {
        uint64_t mid = replica_link_id();
        int want = mid && !nids;
        for (int k = 0; mid && k < nids; k++)
            want |= ids[k] == mid;
        if (want) {
            replica_describe(&out);
            buf_putc(&out, '\n');
        }
    }
    reply_verbatim(c, out.data ? out.data : "", out.len);
    buf_release(&out);
    free(ids);
}

/* CLIENT KILL addr, or CLIENT KILL [ID id] [TYPE t] [USER u] [ADDR a]
 * [LADDR a] [SKIPME yes|no] [MAXAGE s]: the clients matching every filter
 * given. c itself, if killed, goes once its reply is out. */
static void client_kill(client *c, int argc, char **argv, size_t *argvlen)
{
    const char *addr = NULL, *laddr = NULL, *user = NULL;
    size_t addrlen = 0, laddrlen = 0, userlen = 0;
    long long id = 0, maxage = 0;
    int skipme = 1, old_form = argc == 3, type = -1; /* -1: any, 0 normal, 1 pubsub, 2 replica, 3 master */
    if (old_form) {
        addr = argv[2];
        addrlen = argvlen[2];
        skipme = 0;
    }
    for (int i = 2; !old_form && i < argc; i += 2) {
        if (i + 1 >= argc) {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        const char *v = argv[i + 1];
        size_t vl = argvlen[i + 1];
        if (arg_is(argv[i], argvlen[i], "id")) {
            if (kvd_str_to_ll(v, vl, &id) < 0 || id <= 0) {
                reply_error(c, "ERR client-id should be greater than 0");
                return;
            }
        } else if (arg_is(argv[i], argvlen[i], "type")) {
            if ((type = client_type_arg(c, v, vl)) < 0)
                return;
        } else if (arg_is(argv[i], argvlen[i], "user")) {
            if (!acl_find(v, vl)) {
                reply_errorf(c, "ERR No such user '%.*s'", (int)(vl > 64 ? 64 : vl), v);
                return;
            }
            user = v;
            userlen = vl;
        } else if (arg_is(argv[i], argvlen[i], "addr")) {
            addr = v;
            addrlen = vl;
        } else if (arg_is(argv[i], argvlen[i], "laddr")) {
            laddr = v;
            laddrlen = vl;
        } else if (arg_is(argv[i], argvlen[i], "skipme")) {
            if (arg_is(v, vl, "yes"))
                skipme = 1;
            else if (arg_is(v, vl, "no"))
                skipme = 0;
            else {
                reply_error(c, ERR_SYNTAX);
                return;
            }
        } else if (arg_is(argv[i], argvlen[i], "maxage")) {
            if (kvd_str_to_ll(v, vl, &maxage) < 0 || maxage <= 0) {
                reply_error(c, ERR_NOT_INT);
                return;
            }
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    long long killed = type == 3 ? replica_kill_link() : 0;
    int64_t now = kvd_now_ms();
    client *x;
    LIST_EACH(&srv.clients, client, all, x) {
        if ((type >= 0 && type != (x->repl ? 2 : pubsub_count(x) ? 1 : 0)) || (id && x->id != (uint64_t)id) ||
            (addr && (strlen(x->addr) != addrlen || memcmp(x->addr, addr, addrlen) != 0)) ||
            (laddr && (strlen(x->laddr) != laddrlen || memcmp(x->laddr, laddr, laddrlen) != 0)) ||
            (user && (strlen(x->user->name) != userlen || memcmp(x->user->name, user, userlen) != 0)) ||
            (maxage && (now - x->ctime_ms) / 1000 < maxage) || (skipme && x == c))
            continue;
        killed++;
        if (x == c)
            conn_close_after_reply(c);
        else
            conn_close(x);
    }
    if (!old_form)
        reply_int(c, killed);
    else if (killed)
        reply_ok(c);
    else
        reply_error(c, "ERR No such client");
}

void cmd_reset(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    /* As a new connection: no transaction or watches, RESP2, replies on,
     * the default user (authenticated only if it needs no password). */
    multi_free(c);
    pubsub_free(c);
    c->resp = 2;
    c->db = 0;
    db_select(0);
    /* As Redis 7.0: the name goes, NO-EVICT stays. */
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_NO_TOUCH);
    set_name(c, NULL, 0);
    conn_reset_auth(c);
    reply_simple(c, "RESET");
}

/* CLIENT PAUSE timeout [WRITE|ALL]: Redis's checks, in Redis's order
 * (the mode, then the timeout in ms: an integer, not negative). */
static void client_pause(client *c, int argc, char **argv, size_t *argvlen)
{
    pause_mode m = PAUSE_ALL;
    if (argc == 4) {
        if (arg_is(argv[3], argvlen[3], "write")) {
            m = PAUSE_WRITE;
        } else if (!arg_is(argv[3], argvlen[3], "all")) {
            reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long ms;
    if (kvd_str_to_ll(argv[2], argvlen[2], &ms) < 0) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    /* An end past what a unix-ms clock holds: Redis 7.2's error. (7.0
     * says +OK and, its end wrapping into the past, pauses nothing.) */
    if (ms > LLONG_MAX - kvd_now_ms()) {
        reply_error(c, "ERR timeout is out of range");
        return;
    }
    int rc = pause_start(m, (uint64_t)ms);
    if (rc < 0) {
        reply_errorf(c, "ERR cannot pause clients: %s", uv_strerror(rc));
        return;
    }
    reply_ok(c);
}

void cmd_client(client *c, int argc, char **argv, size_t *argvlen)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if (arg_is(sub, sl, "setname") && argc == 3) {
        if (!valid_name(argv[2], argvlen[2])) {
            reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_name(c, argv[2], argvlen[2]);
        reply_ok(c);
    } else if (arg_is(sub, sl, "getname") && argc == 2) {
        if (c->name)
            reply_bulk_str(c, c->name);
        else
            reply_nil(c);
    } else if (arg_is(sub, sl, "id") && argc == 2) {
        reply_int(c, (long long)c->id);
    } else if (arg_is(sub, sl, "list")) {
        client_list(c, argc, argv, argvlen);
    } else if (arg_is(sub, sl, "info") && argc == 2) {
        buf_t out = BUF_INIT(&srv.pool);
        conn_describe(c, &out);
        buf_putc(&out, '\n');
        reply_verbatim(c, out.data, out.len);
        buf_release(&out);
    } else if (arg_is(sub, sl, "setinfo") && argc == 4) {
        if (!valid_name(argv[3], argvlen[3])) {
            reply_errorf(c, "ERR %.*s cannot contain spaces, newlines or special characters.",
                         (int)argvlen[2], argv[2]);
            return;
        }
        char **field;
        if (arg_is(argv[2], argvlen[2], "lib-name"))
            field = &c->lib_name;
        else if (arg_is(argv[2], argvlen[2], "lib-ver"))
            field = &c->lib_ver;
        else {
            reply_errorf(c, "ERR Unrecognized option '%.*s'", (int)(argvlen[2] > 32 ? 32 : argvlen[2]), argv[2]);
            return;
        }
        free(*field);
        *field = xmalloc(argvlen[3] + 1);
        memcpy(*field, argv[3], argvlen[3]);
        (*field)[argvlen[3]] = '\0';
        reply_ok(c);
    } else if (arg_is(sub, sl, "kill")) {
        client_kill(c, argc, argv, argvlen);
    } else if (arg_is(sub, sl, "reply") && argc == 3) {
        if (arg_is(argv[2], argvlen[2], "on")) {
            c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
            reply_ok(c);
        } else if (arg_is(argv[2], argvlen[2], "off")) {
            c->flags |= CLIENT_REPLY_OFF;
        } else if (arg_is(argv[2], argvlen[2], "skip")) {
            if (!(c->flags & CLIENT_REPLY_OFF))
                c->flags |= CLIENT_REPLY_SKIP_NEXT;
        } else {
            reply_error(c, ERR_SYNTAX);
        }
    } else if ((arg_is(sub, sl, "no-evict") || arg_is(sub, sl, "no-touch")) && argc == 3) {
        int flag = arg_is(sub, sl, "no-evict") ? CLIENT_NO_EVICT : CLIENT_NO_TOUCH;
        if (arg_is(argv[2], argvlen[2], "on")) {
            c->flags |= flag;
        } else if (arg_is(argv[2], argvlen[2], "off")) {
            c->flags &= ~flag;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
        reply_ok(c);
    } else if (arg_is(sub, sl, "getredir") && argc == 2) {
        reply_int(c, -1); /* no client-side caching: nothing redirected */
    } else if (arg_is(sub, sl, "trackinginfo") && argc == 2) {
        reply_map(c, 3);
        reply_bulk_str(c, "flags");
        reply_set(c, 1);
        reply_bulk_str(c, "off");
        reply_bulk_str(c, "redirect");
        reply_int(c, -1);
        reply_bulk_str(c, "prefixes");
        reply_array(c, 0);
    } else if (arg_is(sub, sl, "pause") && (argc == 3 || argc == 4)) {
        client_pause(c, argc, argv, argvlen);
    } else if (arg_is(sub, sl, "unpause") && argc == 2) {
        pause_stop();
        reply_ok(c);
    } else if (arg_is(sub, sl, "pause")) {
        /* Too many arguments, in Redis's words for it. */
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try CLIENT HELP.",
                     (int)(sl > 128 ? 128 : sl), sub);
    } else if (arg_is(sub, sl, "unblock") && (argc == 3 || argc == 4)) {
        long long id;
        if (kvd_str_to_ll(argv[2], argvlen[2], &id) < 0) {
            reply_error(c, ERR_NOT_INT);
            return;
        }
        if (argc == 4 && !arg_is(argv[3], argvlen[3], "timeout") && !arg_is(argv[3], argvlen[3], "error")) {
            reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
        reply_int(c, 0); /* kvd has no blocking commands: nobody to unblock */
    } else if (arg_is(sub, sl, "help") && argc == 2) {
        static const char *const help[] = {
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "KILL <ip:port>", "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID <id>, TYPE normal|master|replica|pubsub, USER <username>,",
            "    ADDR <ip:port>, LADDR <ip:port>, SKIPME yes|no (default yes), MAXAGE <seconds>.",
            "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
            "NO-EVICT (ON|OFF)", "    Protect the current client connection from eviction.",
            "NO-TOUCH (ON|OFF)", "    Commands of this connection do not change the LRU/LFU of the keys they read.",
            "GETREDIR", "    Return the client ID tracking notifications go to (-1: none; kvd does not track).",
            "TRACKINGINFO", "    Return information about client-side caching for this connection (off).",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock a client (kvd has no blocking commands: 0).",
            "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "UNPAUSE", "    Stop the current client pause, resuming traffic.",
            "GETNAME", "    Return the name of the current connection.",
            "ID", "    Return the ID of the current connection.",
            "INFO", "    Return information about the current client connection.",
            "LIST [TYPE normal] [ID <id> ...]", "    Return information about client connections.",
            "SETINFO <lib-name|lib-ver> <value>", "    Set client library information.",
            "SETNAME <name>", "    Assign the name <name> to the current connection.",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"setname", "getname", "id", "info", "setinfo", "kill", "reply",
                                            "no-evict", "no-touch", "getredir", "trackinginfo", "unblock",
                                            "unpause", "help", NULL};
        reply_subcommand_error(c, "client", sub, sl, known);
    }
}

/* ---- CONFIG ---- */

typedef struct get_ctx {
    buf_t *names;   /* name\0 entries found */
    int n;
} get_ctx;

static void collect(void *ctx, const char *name, const kvd_config *cfg)
{
    KVD_UNUSED(cfg);
    get_ctx *g = ctx;
    /* Several patterns may match one name: list it once. */
    for (size_t off = 0; off < g->names->len; off += strlen(g->names->data + off) + 1)
        if (strcasecmp(g->names->data + off, name) == 0)
            return;
    buf_append(g->names, name, strlen(name) + 1);
    g->n++;
}

/* Settings that Redis tools ask for and that have one fixed answer in kvd:
 * it always logs every write (appendonly yes), never takes snapshots and
 * sends no keyspace notifications. CONFIG SET accepts that answer. */
#define NCOMPAT 3
static const char *const compat_names[NCOMPAT] = {"appendonly", "save", "notify-keyspace-events"};
static const char *const compat_values[NCOMPAT] = {"yes", "", ""};
static const char *const compat_why[NCOMPAT] = {"kvd always logs every write to its WAL",
                                                "kvd takes no snapshots: every write is in its WAL",
                                                "kvd sends no keyspace notifications"};

static int compat_index(const char *name)
{
    for (int k = 0; k < NCOMPAT; k++)
        if (strcasecmp(name, compat_names[k]) == 0)
            return k;
    return -1;
}

static int has_glob(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}
void cmd_config(client *c, int argc, char **argv, size_t *argvlen)
{
    if (arg_is(argv[1], argvlen[1], "get") && argc >= 3) {
        /* A name without glob characters is answered as it was typed
         * (CONFIG GET MAXMEMORY gives "MAXMEMORY"), a pattern with the
         * names it matches, as Redis 7 does. */
        buf_t names = BUF_INIT(&srv.pool);
        get_ctx g = {&names, 0};
        for (int i = 2; i < argc; i++) {
            char pat[256];
            snprintf(pat, sizeof pat, "%.*s", (int)(argvlen[i] > 255 ? 255 : argvlen[i]), argv[i]);
            if (!has_glob(pat)) {
                if (conf_exists(pat) || compat_index(pat) >= 0)
                    collect(&g, pat, &srv.cfg);
                continue;
            }
            conf_each(&srv.cfg, pat, collect, &g);
            for (int k = 0; k < NCOMPAT; k++)
                if (glob_match(pat, strlen(pat), compat_names[k], strlen(compat_names[k]), 1))
                    collect(&g, compat_names[k], &srv.cfg);
        }
        reply_map(c, (long long)g.n);
        buf_t val = BUF_INIT(&srv.pool);
        for (size_t off = 0; off < names.len; off += strlen(names.data + off) + 1) {
            const char *name = names.data + off;
            int k = compat_index(name);
            buf_reset(&val);
            if (k >= 0)
                buf_puts(&val, compat_values[k]);
            else
                conf_get_value(&srv.cfg, name, &val);
            reply_bulk_str(c, name);
            reply_bulk(c, val.data, val.len);
        }
        buf_release(&val);
        buf_release(&names);
    } else if (arg_is(argv[1], argvlen[1], "set") && argc >= 4 && argc % 2 == 0) {
        /* All or nothing: apply every pair to a copy of the current
         * configuration, and put the copy in place only if all applied. */
        for (int i = 2; i < argc; i += 2) {
            for (int j = 2; j < i; j += 2) {
                if (argvlen[j] == argvlen[i] && strncasecmp(argv[j], argv[i], argvlen[i]) == 0) {
                    reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%.*s') - duplicate parameter",
                                 (int)(argvlen[i] > 127 ? 127 : argvlen[i]), argv[i]);
                    return;
                }
            }
        }
        kvd_config trial;
        conf_copy(&trial, &srv.cfg);
        buf_t v = BUF_INIT(&srv.pool);
        for (int i = 2; i < argc; i += 2) {
            char name[128], err[256];
            snprintf(name, sizeof name, "%.*s", (int)(argvlen[i] > 127 ? 127 : argvlen[i]), argv[i]);
            int k = compat_index(name);
            if (k >= 0) {
                /* Accepted when it asks for what kvd does anyway. */
                if (strlen(compat_values[k]) == argvlen[i + 1] &&
                    strncasecmp(compat_values[k], argv[i + 1], argvlen[i + 1]) == 0)
                    continue;
                reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name,
                             compat_why[k]);
                conf_free(&trial);
                buf_release(&v);
                return;
            }
            buf_reset(&v);
            buf_append(&v, argv[i + 1], argvlen[i + 1]);
            buf_putc(&v, '\0');
            char *val = v.data;
            if (memchr(argv[i + 1], '\0', argvlen[i + 1])) {
                /* Never shortened silently: a password cut at a NUL is another password. */
                reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - the value holds a "
                                "NUL byte (\\x00), which kvd does not accept in a directive", name);
                conf_free(&trial);
                buf_release(&v);
                return;
            }
            if (conf_set(&trial, name, 1, &val, 1, err, sizeof err) < 0) {
                if (!conf_exists(name))
                    reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%s'", name);
                else if (strstr(err, "immutable"))
                    reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config", name);
                else
                    reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name, err);
                conf_free(&trial);
                buf_release(&v);
                return;
            }
        }
        kvd_config old = srv.cfg;
        srv.cfg = trial;
        conf_free(&old);
        for (int i = 2; i < argc; i += 2) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(argvlen[i] > 127 ? 127 : argvlen[i]), argv[i]);
            if (compat_index(name) >= 0)
                continue;
            server_config_changed(name);
            if (conf_is_sensitive(name))
                log_notice("CONFIG SET %s (value not logged)", name);
            else
                log_notice("CONFIG SET %s %.*s", name, (int)(argvlen[i + 1] > 256 ? 256 : argvlen[i + 1]),
                           argv[i + 1]);
        }
        buf_release(&v);
        reply_ok(c);
    } else if (arg_is(argv[1], argvlen[1], "resetstat") && argc == 2) {
        memset(&srv.stats, 0, sizeof srv.stats);
        srv.stats.ops_sample_ms = kvd_now_ms();
        cmd_reset_stats();
        pool_reset_stats(&srv.pool);
        reply_ok(c);
    } else if (arg_is(argv[1], argvlen[1], "rewrite") && argc == 2) {
        if (!srv.config_file) {
            reply_error(c, "ERR The server is running without a config file");
            return;
        }
        /* Without an aclfile the users live in the conf file. */
        buf_t users = BUF_INIT(&srv.pool);
        if (!srv.cfg.aclfile[0]) {
            int n;
            acl_user **all = acl_users(&n);
            for (int i = 0; i < n; i++) {
                acl_describe_user(all[i], &users);
                buf_putc(&users, '\n');
            }
            buf_putc(&users, '\0');
        }
        char err[512];
        int rc = conf_rewrite(&srv.cfg, srv.config_file, srv.cfg.aclfile[0] ? NULL : users.data, &srv.pool, err,
                              sizeof err);
        buf_release(&users);
        if (rc < 0) {
            log_warning("CONFIG REWRITE failed: %s", err);
            reply_errorf(c, "ERR Rewriting config file: %s", err);
            return;
        }
        log_notice("CONFIG REWRITE executed with success.");
        reply_ok(c);
    } else if (arg_is(argv[1], argvlen[1], "help") && argc == 2) {
        static const char *const help[] = {
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "REWRITE", "    Rewrite the configuration file.",
            "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
            "RESETSTAT", "    Reset statistics reported by the INFO command.",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"get", "set", "resetstat", "rewrite", "help", NULL};
        reply_subcommand_error(c, "config", argv[1], argvlen[1], known);
    }
}

/* ---- INFO ---- */

/* One commandstats line (subcommands as "config|get"), for commands used. */
static void commandstat(kvd_cmd *cmd, void *ctx)
{
    buf_t *b = ctx;
    if (!cmd->calls && !cmd->failed && !cmd->rejected)
        return;
    buf_appendf(b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
                cmd->name, (unsigned long long)cmd->calls, (unsigned long long)cmd->usec,
                cmd->calls ? (double)cmd->usec / (double)cmd->calls : 0.0, (unsigned long long)cmd->rejected,
                (unsigned long long)cmd->failed);
}

static void human(char *dst, size_t n, double bytes)
{
    const char *units = "BKMGTP";
    int u = 0;
    while (bytes >= 1024 && u < 5) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(dst, n, "%.0fB", bytes);
    else
        snprintf(dst, n, "%.2f%c", bytes, units[u]);
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long pages = 0, res = 0;
    int n = fscanf(f, "%lu %lu", &pages, &res);
    fclose(f);
    return n == 2 ? res * (size_t)sysconf(_SC_PAGESIZE) : 0;
}


static int want_section(int argc, char **argv, size_t *argvlen, const char *name, int in_default)
{
    if (argc <= 1)
        return in_default;
    for (int i = 1; i < argc; i++) {
        if (arg_is(argv[i], argvlen[i], name))
            return 1;
        if (arg_is(argv[i], argvlen[i], "all") || arg_is(argv[i], argvlen[i], "everything"))
            return 1;
        if (arg_is(argv[i], argvlen[i], "default") && in_default)
            return 1;
    }
    return 0;
}

#define SECTION(name, dflt)                                                                        \
    if (want_section(argc, argv, argvlen, name, dflt) && (b.len ? (buf_puts(&b, "\r\n"), 1) : 1))

/* The INFO "pool" section: totals, then one line per size class. */
static void info_pool(const pool_t *p, buf_t *out)
{
    uint64_t gets = 0, hits = 0, misses = 0, puts = 0, drops = 0;
    for (unsigned c = 0; c < POOL_NCLASSES; c++) {
        gets += p->stats[c].gets;
        hits += p->stats[c].hits;
        misses += p->stats[c].misses;
        puts += p->stats[c].puts;
        drops += p->stats[c].drops;
    }
    buf_appendf(out,
                "pool_gets:%llu\r\npool_hits:%llu\r\npool_misses:%llu\r\n"
                "pool_puts:%llu\r\npool_drops:%llu\r\npool_cached_bytes:%zu\r\n"
                "pool_max_cached_bytes:%zu\r\npool_max_per_class:%zu\r\n"
                "pool_oversize_gets:%llu\r\npool_oversize_frees:%llu\r\n",
                (unsigned long long)gets, (unsigned long long)hits, (unsigned long long)misses,
                (unsigned long long)puts, (unsigned long long)drops, p->cached_bytes, p->max_bytes,
                p->max_per_class, (unsigned long long)p->big_gets, (unsigned long long)p->big_puts);
    for (unsigned c = 0; c < POOL_NCLASSES; c++) {
        const pool_class_stats *st = &p->stats[c];
        size_t size = (size_t)1 << (c + POOL_MIN_SHIFT);
        buf_appendf(out,
                    "pool_class_%zu:gets=%llu,hits=%llu,misses=%llu,puts=%llu,drops=%llu,"
                    "cached=%zu,cached_bytes=%zu\r\n",
                    size, (unsigned long long)st->gets, (unsigned long long)st->hits,
                    (unsigned long long)st->misses, (unsigned long long)st->puts,
                    (unsigned long long)st->drops, st->cached, st->cached * size);
    }
}

/* INFO persistence once the data is loaded: Redis's fields and the WAL's. */
/* INFO persistence, the same fields while loading (when there is no WAL
 * writer yet: zeros), then the loading_* ones, as Redis. */
static void info_persistence(buf_t *b)
{
    static wal_t none = {.fd = -1, .lock_fd = -1, .next_seq = 1};
    const wal_t *w = srv.wal ? srv.wal : &none;
    int loading = srv.loading.active;
    int err = wal_error(w);
    buf_appendf(b,
                "# Persistence\r\nloading:%d\r\nasync_loading:0\r\n"
                "rdb_changes_since_last_save:%llu\r\nrdb_bgsave_in_progress:0\r\n"
                "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:ok\r\naof_enabled:1\r\n"
                "aof_last_write_status:%s\r\n"
                "wal_current_segment_size:%llu\r\naof_pending_bio_fsync:%d\r\naof_delayed_fsync:0\r\n"
                "appendfsync:%s\r\nwal_file:%s\r\nwal_size:%llu\r\nwal_pending_bytes:%zu\r\n"
                "wal_last_seq:%llu\r\nwal_written_seq:%llu\r\nwal_durable_seq:%llu\r\n"
                "wal_fsyncs:%llu\r\nwal_fsync_in_progress:%d\r\nwal_last_fsync_time:%lld\r\n"
                "wal_last_fsync_usec:%llu\r\nwal_fsync_failures:%llu\r\nwal_write_failures:%llu\r\n"
                "wal_last_error:%s\r\nwal_loaded_entries:%llu\r\nwal_load_time_usec:%llu\r\n"
                "wal_truncated_bytes_at_load:%llu\r\n",
                loading, (unsigned long long)(w->next_seq - 1 - w->durable_seq), (long long)(srv.last_save_ms / 1000),
                err ? "err" : "ok", (unsigned long long)w->size, srv.sync_inflight,
                srv.cfg.appendfsync == WAL_SYNC_ALWAYS ? "always"
                : srv.cfg.appendfsync == WAL_SYNC_EVERYSEC ? "everysec" : "no",
                w->path ? w->path : "", (unsigned long long)wal_total_bytes(w), wal_pending(w),
                (unsigned long long)(w->next_seq - 1), (unsigned long long)w->written_seq,
                (unsigned long long)w->durable_seq, (unsigned long long)w->stats.fsyncs, srv.sync_inflight,
                (long long)(w->stats.last_fsync_ms / 1000), (unsigned long long)w->stats.last_fsync_us,
                (unsigned long long)w->stats.fsync_failures, (unsigned long long)w->stats.write_failures,
                err ? strerror(-err) : "none",
                (unsigned long long)(loading ? srv.loading.entries : srv.load.walk.applied),
                (unsigned long long)srv.load.walk.elapsed_us, (unsigned long long)srv.load.truncated_bytes);
    compact_info(b, w);
    if (loading)
        loading_info(b);
}

void cmd_info(client *c, int argc, char **argv, size_t *argvlen)
{
    buf_t b = BUF_INIT(&srv.pool);
    int64_t now = kvd_now_ms();
    size_t used = server_used_memory();
    SECTION("server", 1)
    {
        struct utsname u;
        uname(&u);
        buf_appendf(&b,
                    "# Server\r\nredis_version:%s\r\nkvd_version:%s\r\nredis_git_sha1:00000000\r\n"
                    "redis_mode:standalone\r\nos:%s %s %s\r\narch_bits:%d\r\nmultiplexing_api:libuv %s\r\n"
                    "gcc_version:%d.%d.%d\r\nprocess_id:%d\r\nrun_id:%s\r\ntcp_port:%d\r\n"
                    "server_time_usec:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
                    "hz:%d\r\nconfigured_hz:%d\r\nexecutable:%s\r\nconfig_file:%s\r\n",
                    REDIS_COMPAT_VERSION, KVD_VERSION, u.sysname, u.release, u.machine,
                    (int)(sizeof(void *) * 8), uv_version_string(),
#ifdef __GNUC__
                    __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                    0, 0, 0,
#endif
                    (int)getpid(), srv.run_id, srv.cfg.port, (long long)kvd_now_us(),
                    (long long)((now - srv.start_ms) / 1000), (long long)((now - srv.start_ms) / 86400000),
                    srv.cfg.hz, srv.cfg.hz, srv.executable ? srv.executable : "",
                    srv.config_file ? srv.config_file : "");
    }
    SECTION("clients", 1)
    {
        buf_appendf(&b,
                    "# Clients\r\nconnected_clients:%llu\r\ncluster_connections:0\r\nmaxclients:%d\r\n"
                    "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\n"
                    "blocked_clients:%zu\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                    (unsigned long long)srv.nclients, srv.cfg.maxclients, srv.stats.max_qbuf, srv.stats.max_out,
                    pause_held_clients());
    }
    SECTION("memory", 1)
    {
        size_t rss = rss_bytes();
        char h1[32], h2[32], h3[32], h4[32];
        human(h1, sizeof h1, (double)used);
        human(h2, sizeof h2, (double)rss);
        human(h3, sizeof h3, (double)srv.stats.peak_memory);
        human(h4, sizeof h4, (double)srv.cfg.maxmemory);
        size_t dataset = keyspace_bytes(&srv.ks), kv_bytes = 0;
        for (uint32_t i = 0; i < srv.ks.n; i++)
            kv_bytes += srv.ks.db[i]->kv_bytes;
        buf_appendf(&b,
                    "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
                    "used_memory_rss_human:%s\r\nused_memory_peak:%zu\r\nused_memory_peak_human:%s\r\n"
                    "used_memory_dataset:%zu\r\nused_memory_keys_values:%zu\r\nmaxmemory:%lld\r\n"
                    "maxmemory_human:%s\r\nmaxmemory_policy:%s\r\nmaxmemory_samples:%d\r\n"
                    "used_memory_for_maxmemory:%zu\r\nmem_fragmentation_ratio:%.2f\r\nmem_allocator:libc\r\n"
                    "used_memory_overhead:%zu\r\ntotal_system_memory:%llu\r\n",
                    used, h1, rss, h2, srv.stats.peak_memory, h3, dataset, kv_bytes,
                    srv.cfg.maxmemory, h4, evict_policy_names[srv.cfg.maxmemory_policy],
                    srv.cfg.maxmemory_samples, db_evict_used(), used ? (double)rss / (double)used : 0.0,
                    used > dataset ? used - dataset : 0,
                    (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE));
    }
    SECTION("persistence", 1)
    {
        info_persistence(&b);
    }
    SECTION("stats", 1)
    {
        buf_appendf(&b,
                    "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                    "instantaneous_ops_per_sec:%.0f\r\ntotal_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
                    "rejected_connections:%llu\r\nexpired_keys:%llu\r\nevicted_keys:%llu\r\nevicted_clients:0\r\n"
                    "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\npubsub_channels:%zu\r\npubsub_patterns:%zu\r\n"
                    "pubsubshard_channels:0\r\ntotal_error_replies:%llu\r\nacl_access_denied_auth:%llu\r\n"
                    "acl_access_denied_cmd:%llu\r\nacl_access_denied_key:%llu\r\nacl_access_denied_channel:%llu\r\n"
                    "busy_polling:%s\r\n",
                    (unsigned long long)srv.stats.connections, (unsigned long long)srv.stats.commands,
                    srv.stats.ops_per_sec, (unsigned long long)srv.stats.net_in,
                    (unsigned long long)srv.stats.net_out, (unsigned long long)srv.stats.rejected,
                    (unsigned long long)srv.stats.expired_keys, (unsigned long long)srv.stats.evicted_keys,
                    (unsigned long long)srv.stats.hits, (unsigned long long)srv.stats.misses,
                    pubsub_nchannels(), pubsub_npatterns(), (unsigned long long)srv.stats.errors, (unsigned long long)srv.stats.acl_denied_auth,
                    (unsigned long long)srv.stats.acl_denied_cmd, (unsigned long long)srv.stats.acl_denied_key,
                    (unsigned long long)srv.stats.acl_denied_channel, server_busy_polling());
    }
    SECTION("replication", 1)
    {
        buf_puts(&b, "# Replication\r\n");
        repl_info(&b);
    }
    SECTION("cpu", 1)
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        buf_appendf(&b, "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n", (long)ru.ru_stime.tv_sec,
                    (long)ru.ru_stime.tv_usec, (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    }
    SECTION("modules", 1)
    {
        buf_puts(&b, "# Modules\r\n"); /* kvd loads no modules */
    }
    SECTION("pool", 1)
    {
        buf_puts(&b, "# Pool\r\n");
        info_pool(&srv.pool, &b);
    }
    SECTION("commandstats", 0)
    {
        buf_puts(&b, "# Commandstats\r\n");
        cmd_each(commandstat, &b);
    }
    SECTION("errorstats", 1)
    {
        buf_puts(&b, "# Errorstats\r\n");
        cmd_errorstats(&b);
    }
    SECTION("tls", srv.cfg.tls_port > 0)
    {
        buf_puts(&b, "# TLS\r\n");
        tls_info(&b);
    }
    SECTION("cluster", 1)
    {
        buf_puts(&b, "# Cluster\r\ncluster_enabled:0\r\n");
    }
    SECTION("keyspace", 1)
    {
        buf_puts(&b, "# Keyspace\r\n");
        /* INFO must answer even after a failed fsync (that is when an
         * operator needs it): the counts then do not wait. */
        if (srv.wal && !srv.wal->sync_error)
            db_saw_all();
        for (uint32_t i = 0; i < srv.ks.n; i++) {
            table_t *t = srv.ks.db[i];
            if (table_count(t))
                buf_appendf(&b, "db%u:keys=%llu,expires=%u,avg_ttl=%lld\r\n", i, (unsigned long long)table_count(t),
                            table_volatile_count(t), (long long)t->avg_ttl);
        }
    }
    reply_verbatim(c, b.data ? b.data : "", b.len);
    buf_release(&b);
}

void cmd_dbsize(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    db_saw_all();
    reply_int(c, (long long)table_count(srv.db));
}

static int flush_args_ok(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc > 2 || (argc == 2 && !arg_is(argv[1], argvlen[1], "async") && !arg_is(argv[1], argvlen[1], "sync"))) {
        reply_error(c, ERR_SYNTAX);
        return 0;
    }
    return 1;
}

void cmd_flushdb(client *c, int argc, char **argv, size_t *argvlen)
{
    if (!flush_args_ok(c, argc, argv, argvlen))
        return;
    db_flush();
    reply_ok(c);
}

void cmd_flushall(client *c, int argc, char **argv, size_t *argvlen)
{
    if (!flush_args_ok(c, argc, argv, argvlen))
        return;
    db_flush_all();
    reply_ok(c);
}

void cmd_swapdb(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    uint32_t a, b;
    if (arg_db(c, argv[1], argvlen[1], "ERR invalid first DB index", 0, &a) < 0 ||
        arg_db(c, argv[2], argvlen[2], "ERR invalid second DB index", 0, &b) < 0)
        return;
    if (a != b)
        db_swap(a, b);
    reply_ok(c);
}

void cmd_time(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    int64_t us = kvd_now_us();
    reply_array(c, 2);
    resp_add_bulk_ll(&c->out, us / 1000000);
    resp_add_bulk_ll(&c->out, us % 1000000);
}

void cmd_shutdown(client *c, int argc, char **argv, size_t *argvlen)
{
    int force = 0, abort_req = 0;
    for (int i = 1; i < argc; i++) {
        if (arg_is(argv[i], argvlen[i], "nosave") || arg_is(argv[i], argvlen[i], "save") ||
            arg_is(argv[i], argvlen[i], "now"))
            continue;
        if (arg_is(argv[i], argvlen[i], "force"))
            force = 1;
        else if (arg_is(argv[i], argvlen[i], "abort"))
            abort_req = 1;
        else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (abort_req) {
        if (argc != 2)
            reply_error(c, ERR_SYNTAX);
        else
            reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    if (server_shutdown("SHUTDOWN command", force) < 0)
        reply_error(c, "ERR Errors trying to SHUTDOWN. Check logs.");
}

void cmd_lastsave(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    reply_int(c, srv.last_save_ms / 1000);
}

void cmd_bgrewriteaof(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    char err[512];
    switch (compact_start("BGREWRITEAOF", err, sizeof err)) {
    case COMPACT_STARTED:
        reply_simple(c, "Background append only file rewriting started");
        break;
    case COMPACT_RUNNING:
        reply_error(c, "ERR Background append only file rewriting already in progress");
        break;
    default:
        reply_errorf(c, "ERR Background append only file rewriting could not start: %s", err);
    }
}

/* SCRIPT KILL | HELP. kvd runs no scripts, so there is never one to kill:
 * KILL answers as Redis does when none runs. */
void cmd_script(client *c, int argc, char **argv, size_t *argvlen)
{
    if (arg_is(argv[1], argvlen[1], "kill") && argc == 2) {
        reply_error(c, "NOTBUSY No scripts in execution right now.");
    } else if (arg_is(argv[1], argvlen[1], "help") && argc == 2) {
        static const char *const help[] = {
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "KILL", "    Kill the currently executing Lua script (kvd has no scripting: there is none).",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"kill", "help", NULL};
        reply_subcommand_error(c, "script", argv[1], argvlen[1], known);
    }
}
