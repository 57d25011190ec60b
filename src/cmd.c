/* cmd: command table, lookup and dispatch, and the COMMAND command. */
#include "config.h"
#include "cmd.h"
#include "commit.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define NA CMD_NOAUTH
#define OOM CMD_DENYOOM
#define ADM CMD_ADMIN

static kvd_cmd table[] = {
    /* connection and server */
    {"ping", cmd_ping, -1, F, 0, 0, 0, "connection", "1.0.0", "O(1)", "Returns the server's liveliness response.", 0, 0, 0},
    {"echo", cmd_echo, 2, F, 0, 0, 0, "connection", "1.0.0", "O(1)", "Returns the given string.", 0, 0, 0},
    {"quit", cmd_quit, -1, F | NA, 0, 0, 0, "connection", "1.0.0", "O(1)", "Closes the connection.", 0, 0, 0},
    {"select", cmd_select, 2, F, 0, 0, 0, "connection", "1.0.0", "O(1)", "Changes the selected database (kvd has only database 0).", 0, 0, 0},
    {"auth", cmd_auth, -2, F | NA, 0, 0, 0, "connection", "1.0.0", "O(N)", "Authenticates the connection.", 0, 0, 0},
    {"hello", cmd_hello, -1, F | NA, 0, 0, 0, "connection", "6.0.0", "O(1)", "Handshakes with the server (RESP2 only).", 0, 0, 0},
    {"client", cmd_client, -2, 0, 0, 0, 0, "connection", "2.4.0", "O(N)", "Connection management: SETNAME, GETNAME, ID, LIST, INFO, SETINFO.", 0, 0, 0},
    {"command", cmd_command, -1, 0, 0, 0, 0, "server", "2.8.13", "O(N)", "Returns details about commands: COUNT, INFO, DOCS.", 0, 0, 0},
    {"config", cmd_config, -2, ADM, 0, 0, 0, "server", "2.0.0", "O(N)", "Reads and changes configuration: GET, SET, RESETSTAT.", 0, 0, 0},
    {"info", cmd_info, -1, 0, 0, 0, 0, "server", "1.0.0", "O(1)", "Returns information and statistics about the server.", 0, 0, 0},
    {"dbsize", cmd_dbsize, 1, R | F, 0, 0, 0, "server", "1.0.0", "O(1)", "Returns the number of keys.", 0, 0, 0},
    {"flushdb", cmd_flushdb, -1, W, 0, 0, 0, "server", "1.0.0", "O(N)", "Removes all keys.", 0, 0, 0},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "server", "1.0.0", "O(N)", "Removes all keys.", 0, 0, 0},
    {"time", cmd_time, 1, F, 0, 0, 0, "server", "2.6.0", "O(1)", "Returns the server time.", 0, 0, 0},
    {"shutdown", cmd_shutdown, -1, ADM, 0, 0, 0, "server", "1.0.0", "O(N)", "Flushes and fsyncs the WAL, then shuts the server down.", 0, 0, 0},
    {"lastsave", cmd_lastsave, 1, F, 0, 0, 0, "server", "1.0.0", "O(1)", "Returns the unix time of the last successful WAL fsync.", 0, 0, 0},
    {"bgrewriteaof", cmd_bgrewriteaof, 1, ADM, 0, 0, 0, "server", "1.0.0", "O(1)", "Compacts the WAL in the background.", 0, 0, 0},
    {"compact", cmd_bgrewriteaof, 1, ADM, 0, 0, 0, "server", "0.1.0", "O(1)", "Compacts the WAL in the background (kvd's name for BGREWRITEAOF).", 0, 0, 0},
    /* strings */
    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Returns the string value of a key.", 0, 0, 0},
    {"set", cmd_set, -3, W | OOM, 1, 1, 1, "string", "1.0.0", "O(1)", "Sets the string value of a key, with optional expiry and conditions.", 0, 0, 0},
    {"setnx", cmd_setnx, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Sets a key only if it does not exist.", 0, 0, 0},
    {"setex", cmd_setex, 4, W | OOM, 1, 1, 1, "string", "2.0.0", "O(1)", "Sets a key with an expiry in seconds.", 0, 0, 0},
    {"psetex", cmd_psetex, 4, W | OOM, 1, 1, 1, "string", "2.6.0", "O(1)", "Sets a key with an expiry in milliseconds.", 0, 0, 0},
    {"getset", cmd_getset, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Sets a key and returns its previous value.", 0, 0, 0},
    {"getdel", cmd_getdel, 2, W | F, 1, 1, 1, "string", "6.2.0", "O(1)", "Returns a key's value and deletes it.", 0, 0, 0},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string", "6.2.0", "O(1)", "Returns a key's value and changes its expiry.", 0, 0, 0},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string", "1.0.0", "O(N)", "Returns the values of several keys.", 0, 0, 0},
    {"mset", cmd_mset, -3, W | OOM, 1, -1, 2, "string", "1.0.1", "O(N)", "Sets several keys at once.", 0, 0, 0},
    {"msetnx", cmd_msetnx, -3, W | OOM, 1, -1, 2, "string", "1.0.1", "O(N)", "Sets several keys only if none of them exists.", 0, 0, 0},
    {"incr", cmd_incr, 2, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Increments an integer value by one.", 0, 0, 0},
    {"decr", cmd_decr, 2, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Decrements an integer value by one.", 0, 0, 0},
    {"incrby", cmd_incrby, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Increments an integer value by a number.", 0, 0, 0},
    {"decrby", cmd_decrby, 3, W | OOM | F, 1, 1, 1, "string", "1.0.0", "O(1)", "Decrements an integer value by a number.", 0, 0, 0},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | OOM | F, 1, 1, 1, "string", "2.6.0", "O(1)", "Increments a floating point value by a number.", 0, 0, 0},
    {"append", cmd_append, 3, W | OOM | F, 1, 1, 1, "string", "2.0.0", "O(1)", "Appends to a string value.", 0, 0, 0},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "2.2.0", "O(1)", "Returns the length of a string value.", 0, 0, 0},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string", "2.4.0", "O(N)", "Returns a substring of a string value.", 0, 0, 0},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "string", "1.0.0", "O(N)", "Returns a substring of a string value (old name of GETRANGE).", 0, 0, 0},
    {"setrange", cmd_setrange, 4, W | OOM, 1, 1, 1, "string", "2.2.0", "O(1)", "Overwrites part of a string value at an offset.", 0, 0, 0},
    /* keys */
    {"del", cmd_del, -2, W, 1, -1, 1, "generic", "1.0.0", "O(N)", "Deletes keys.", 0, 0, 0},
    {"unlink", cmd_del, -2, W | F, 1, -1, 1, "generic", "4.0.0", "O(N)", "Deletes keys.", 0, 0, 0},
    {"exists", cmd_exists, -2, R | F, 1, -1, 1, "generic", "1.0.0", "O(N)", "Counts how many of the given keys exist.", 0, 0, 0},
    {"type", cmd_type, 2, R | F, 1, 1, 1, "generic", "1.0.0", "O(1)", "Returns the type of a key.", 0, 0, 0},
    {"object", cmd_object, -2, R, 2, 2, 1, "generic", "2.2.3", "O(1)", "Inspects a key: ENCODING, IDLETIME, REFCOUNT, FREQ.", 0, 0, 0},
    {"memory", cmd_memory, -2, R, 2, 2, 1, "server", "4.0.0", "O(1)", "Memory use: USAGE of a key, PURGE.", 0, 0, 0},
    {"touch", cmd_touch, -2, R | F, 1, -1, 1, "generic", "3.2.1", "O(N)", "Counts how many of the given keys exist.", 0, 0, 0},
    {"expire", cmd_expire, -3, W | F, 1, 1, 1, "generic", "1.0.0", "O(1)", "Sets a key's time to live in seconds.", 0, 0, 0},
    {"pexpire", cmd_pexpire, -3, W | F, 1, 1, 1, "generic", "2.6.0", "O(1)", "Sets a key's time to live in milliseconds.", 0, 0, 0},
    {"expireat", cmd_expireat, -3, W | F, 1, 1, 1, "generic", "1.2.0", "O(1)", "Sets a key's expiry as a unix time in seconds.", 0, 0, 0},
    {"pexpireat", cmd_pexpireat, -3, W | F, 1, 1, 1, "generic", "2.6.0", "O(1)", "Sets a key's expiry as a unix time in milliseconds.", 0, 0, 0},
    {"ttl", cmd_ttl, 2, R | F, 1, 1, 1, "generic", "1.0.0", "O(1)", "Returns a key's time to live in seconds.", 0, 0, 0},
    {"pttl", cmd_pttl, 2, R | F, 1, 1, 1, "generic", "2.6.0", "O(1)", "Returns a key's time to live in milliseconds.", 0, 0, 0},
    {"expiretime", cmd_expiretime, 2, R | F, 1, 1, 1, "generic", "7.0.0", "O(1)", "Returns a key's expiry as a unix time in seconds.", 0, 0, 0},
    {"pexpiretime", cmd_pexpiretime, 2, R | F, 1, 1, 1, "generic", "7.0.0", "O(1)", "Returns a key's expiry as a unix time in milliseconds.", 0, 0, 0},
    {"persist", cmd_persist, 2, W | F, 1, 1, 1, "generic", "2.2.0", "O(1)", "Removes a key's expiry.", 0, 0, 0},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "generic", "1.0.0", "O(N)", "Returns every key that matches a pattern.", 0, 0, 0},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "generic", "2.8.0", "O(1) per call", "Iterates over the keys.", 0, 0, 0},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "generic", "1.0.0", "O(1)", "Returns a random key.", 0, 0, 0},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "generic", "1.0.0", "O(1)", "Renames a key, replacing the destination.", 0, 0, 0},
    {"renamenx", cmd_renamenx, 3, W | F, 1, 2, 1, "generic", "1.0.0", "O(1)", "Renames a key only if the new name does not exist.", 0, 0, 0},
    {"copy", cmd_copy, -3, W | OOM, 1, 2, 1, "generic", "6.2.0", "O(N)", "Copies a key's value and expiry to another key.", 0, 0, 0},
};

#define NSLOTS 256
static kvd_cmd *slots[NSLOTS];

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

void cmd_init(void)
{
    memset(slots, 0, sizeof slots);
    for (size_t i = 0; i < KVD_ARRAY_SIZE(table); i++) {
        uint32_t h = name_hash(table[i].name, strlen(table[i].name)) & (NSLOTS - 1);
        while (slots[h])
            h = (h + 1) & (NSLOTS - 1);
        slots[h] = &table[i];
    }
}

kvd_cmd *cmd_lookup(const char *name, size_t len)
{
    if (len > 32)
        return NULL;
    uint32_t h = name_hash(name, len) & (NSLOTS - 1);
    while (slots[h]) {
        kvd_cmd *c = slots[h];
        if (strlen(c->name) == len && strncasecmp(c->name, name, len) == 0)
            return c;
        h = (h + 1) & (NSLOTS - 1);
    }
    return NULL;
}

kvd_cmd *cmd_table(size_t *n)
{
    *n = KVD_ARRAY_SIZE(table);
    return table;
}

void cmd_reset_stats(void)
{
    for (size_t i = 0; i < KVD_ARRAY_SIZE(table); i++)
        table[i].calls = table[i].usec = table[i].failed = 0;
}

int arg_is(const char *arg, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(arg, word, len) == 0;
}

int arg_ll(client *c, const char *arg, size_t len, long long *out)
{
    if (kvd_str_to_ll(arg, len, out) < 0) {
        reply_error(c, ERR_NOT_INT);
        return -1;
    }
    return 0;
}

void reply_error(client *c, const char *msg)
{
    srv.stats.errors++;
    resp_add_error(&c->out, msg);
}

void reply_errorf(client *c, const char *fmt, ...)
{
    va_list ap;
    srv.stats.errors++;
    va_start(ap, fmt);
    resp_add_verrorf(&c->out, fmt, ap);
    va_end(ap);
}

void reply_lines(client *c, const char *const *lines, size_t n)
{
    reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

void reply_subcommand_error(client *c, const char *cmd, const char *sub, size_t sublen,
                            const char *const *known)
{
    for (int i = 0; known[i]; i++) {
        if (arg_is(sub, sublen, known[i])) {
            reply_errorf(c, "ERR wrong number of arguments for '%s|%s' command", cmd, known[i]);
            return;
        }
    }
    char upper[16];
    size_t n = strlen(cmd) < sizeof upper - 1 ? strlen(cmd) : sizeof upper - 1;
    for (size_t i = 0; i < n; i++)
        upper[i] = (char)toupper((unsigned char)cmd[i]);
    upper[n] = '\0';
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)(sublen > 128 ? 128 : sublen), sub, upper);
}

/* An argument in an error message, as Redis prints it with "%.*s": at
 * most max bytes, and only up to a NUL. */
static void append_quoted(buf_t *b, const char *s, size_t n, size_t max)
{
    if (n > max)
        n = max;
    buf_putc(b, '\'');
    buf_append(b, s, strnlen(s, n));
    buf_puts(b, "' ");
}

static void unknown_command(client *c, int argc, char **argv, size_t *argvlen)
{
    buf_t msg = BUF_INIT(&srv.pool);
    buf_puts(&msg, "ERR unknown command '");
    size_t n = argvlen[0] > 128 ? 128 : argvlen[0];
    buf_append(&msg, argv[0], strnlen(argv[0], n));
    buf_puts(&msg, "', with args beginning with: ");
    size_t args_start = msg.len;
    for (int i = 1; i < argc && msg.len - args_start < 128; i++)
        append_quoted(&msg, argv[i], argvlen[i], 128 - (msg.len - args_start));
    buf_putc(&msg, '\0');
    reply_error(c, msg.data);
    buf_release(&msg);
}

void cmd_dispatch(client *c, int argc, char **argv, size_t *argvlen)
{
    db_set_now(kvd_now_ms());
    c->last_ms = srv.now_ms;
    srv.stats.commands++;
    c->ncmds++;
    kvd_cmd *cmd = cmd_lookup(argv[0], argvlen[0]);
    if (!cmd) {
        c->lastcmd = "unknown";
        unknown_command(c, argc, argv, argvlen);
        return;
    }
    c->lastcmd = cmd->name;
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        cmd->failed++;
        return;
    }
    if (srv.cfg.requirepass[0] && !(c->flags & CLIENT_AUTHENTICATED) && !(cmd->flags & CMD_NOAUTH)) {
        reply_error(c, "NOAUTH Authentication required.");
        cmd->failed++;
        return;
    }
    if ((cmd->flags & CMD_WRITE) && !db_writable()) {
        reply_errorf(c, "MISCONF Errors writing to the WAL file: %s", strerror(-wal_error(srv.wal)));
        cmd->failed++;
        return;
    }
    if (srv.cfg.maxmemory && db_make_room(1000) < 0 && (cmd->flags & CMD_DENYOOM)) {
        reply_error(c, "OOM command not allowed when used memory > 'maxmemory'.");
        srv.stats.oom_rejects++;
        cmd->failed++;
        return;
    }
    size_t start = c->out.len;
    uint64_t errors0 = srv.stats.errors;
    uint64_t t0 = kvd_mono_ns();
    commit_begin();
    cmd->fn(c, argc, argv, argvlen);
    /* The reply waits for what the command changed and what it saw. */
    commit_end(c, start);
    cmd->usec += (kvd_mono_ns() - t0) / 1000;
    cmd->calls++;
    if (srv.stats.errors > errors0)
        cmd->failed++;
}

/* ---- COMMAND ---- */

static void add_flag_list(client *c, const kvd_cmd *cmd)
{
    const char *names[8];
    int n = 0;
    if (cmd->flags & CMD_WRITE)
        names[n++] = "write";
    if (cmd->flags & CMD_READONLY)
        names[n++] = "readonly";
    if (cmd->flags & CMD_DENYOOM)
        names[n++] = "denyoom";
    if (cmd->flags & CMD_ADMIN)
        names[n++] = "admin";
    if (cmd->flags & CMD_FAST)
        names[n++] = "fast";
    if (cmd->flags & CMD_NOAUTH)
        names[n++] = "no_auth";
    reply_array(c, n);
    for (int i = 0; i < n; i++)
        reply_simple(c, names[i]);
}

static void command_info(client *c, const kvd_cmd *cmd)
{
    if (!cmd) {
        resp_add_nil_array(&c->out);
        return;
    }
    reply_array(c, 10);
    reply_bulk_str(c, cmd->name);
    reply_int(c, cmd->arity);
    add_flag_list(c, cmd);
    reply_int(c, cmd->firstkey);
    reply_int(c, cmd->lastkey);
    reply_int(c, cmd->keystep);
    reply_array(c, 1); /* ACL categories */
    char cat[32];
    snprintf(cat, sizeof cat, "@%s", cmd->group);
    reply_simple(c, cat);
    reply_array(c, 0); /* tips */
    reply_array(c, 0); /* key specs */
    reply_array(c, 0); /* subcommands */
}

static void command_docs(client *c, const kvd_cmd *cmd)
{
    reply_bulk_str(c, cmd->name);
    reply_array(c, 8);
    reply_bulk_str(c, "summary");
    reply_bulk_str(c, cmd->summary);
    reply_bulk_str(c, "since");
    reply_bulk_str(c, cmd->since);
    reply_bulk_str(c, "group");
    reply_bulk_str(c, cmd->group);
    reply_bulk_str(c, "complexity");
    reply_bulk_str(c, cmd->complexity);
}

void cmd_command(client *c, int argc, char **argv, size_t *argvlen)
{
    size_t n = KVD_ARRAY_SIZE(table);
    if (argc == 1) {
        reply_array(c, (long long)n);
        for (size_t i = 0; i < n; i++)
            command_info(c, &table[i]);
        return;
    }
    if (arg_is(argv[1], argvlen[1], "count") && argc == 2) {
        reply_int(c, (long long)n);
    } else if (arg_is(argv[1], argvlen[1], "info")) {
        if (argc == 2) {
            reply_array(c, (long long)n);
            for (size_t i = 0; i < n; i++)
                command_info(c, &table[i]);
        } else {
            reply_array(c, argc - 2);
            for (int i = 2; i < argc; i++)
                command_info(c, cmd_lookup(argv[i], argvlen[i]));
        }
    } else if (arg_is(argv[1], argvlen[1], "docs")) {
        if (argc == 2) {
            reply_array(c, (long long)n * 2);
            for (size_t i = 0; i < n; i++)
                command_docs(c, &table[i]);
        } else {
            int found = 0;
            for (int i = 2; i < argc; i++)
                found += cmd_lookup(argv[i], argvlen[i]) != NULL;
            reply_array(c, found * 2);
            for (int i = 2; i < argc; i++) {
                kvd_cmd *cmd = cmd_lookup(argv[i], argvlen[i]);
                if (cmd)
                    command_docs(c, cmd);
            }
        }
    } else if (arg_is(argv[1], argvlen[1], "help")) {
        static const char *const help[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)", "    Return details about all commands.",
            "COUNT", "    Return the total number of commands.",
            "INFO [<command-name> ...]", "    Return details about the given commands, or all of them.",
            "DOCS [<command-name> ...]", "    Return documentation about the given commands, or all of them.",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"count", "info", "docs", "help", NULL};
        reply_subcommand_error(c, "command", argv[1], argvlen[1], known);
    }
}
