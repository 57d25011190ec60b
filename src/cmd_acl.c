/* cmd_acl: the ACL command (SETUSER, GETUSER, DELUSER, LIST, USERS,
 * WHOAMI, CAT, GENPASS, LOG, SAVE, LOAD, DRYRUN) and the ACL LOG of
 * refused commands and failed AUTHs. The users themselves are acl.c's. */
#include "config.h"
#include "acl.h"
#include "cmd.h"
#include "pubsub.h"
#include "conn.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- ACL LOG */

#define LOG_GROUP_MS 60000 /* the same event within this long adds to one entry */

typedef struct log_entry {
    uint64_t id;
    long long count;
    int reason;            /* ACL_DENIED_CMD, _KEY, _AUTH, _CHANNEL */
    char *object;
    size_t objlen;
    char *username;
    size_t ulen;
    char *client_info;
    int64_t created_ms, updated_ms;
} log_entry;

static log_entry *entries; /* newest first */
static int nentries;
static uint64_t next_entry_id;

static void entry_free(log_entry *e)
{
    free(e->object);
    free(e->username);
    free(e->client_info);
}

static void log_trim(int max)
{
    while (nentries > max)
        entry_free(&entries[--nentries]);
}

static void log_add(client *c, int reason, const char *object, size_t olen, const char *user, size_t ulen)
{
    int64_t now = kvd_now_ms();
    if (srv.cfg.acllog_max_len <= 0) {
        log_trim(0); /* CONFIG SET acllog-max-len 0 empties it at the next event */
        return;
    }
    log_trim(srv.cfg.acllog_max_len);
    buf_t info = BUF_INIT(&srv.pool);
    conn_describe(c, &info);
    for (int i = 0; i < nentries; i++) {
        log_entry *e = &entries[i];
        if (e->reason == reason && e->objlen == olen && memcmp(e->object, object, olen) == 0 && e->ulen == ulen &&
            memcmp(e->username, user, ulen) == 0 && now - e->updated_ms < LOG_GROUP_MS) {
            e->count++;
            e->updated_ms = now;
            free(e->client_info);
            e->client_info = xmemdup(info.data, info.len + 1);
            e->client_info[info.len] = '\0';
            log_entry moved = *e; /* the entry becomes the newest */
            memmove(entries + 1, entries, sizeof(*entries) * (size_t)i);
            entries[0] = moved;
            buf_release(&info);
            return;
        }
    }
    if (nentries >= srv.cfg.acllog_max_len)
        log_trim(srv.cfg.acllog_max_len - 1);
    entries = xrealloc(entries, sizeof(*entries) * (size_t)(nentries + 1));
    memmove(entries + 1, entries, sizeof(*entries) * (size_t)nentries);
    nentries++;
    log_entry *e = &entries[0];
    e->id = next_entry_id++;
    e->count = 1;
    e->reason = reason;
    e->object = xmemdup(object, olen + 1);
    e->object[olen] = '\0';
    e->objlen = olen;
    e->username = xmemdup(user, ulen + 1);
    e->username[ulen] = '\0';
    e->ulen = ulen;
    e->client_info = xmemdup(info.data ? info.data : "", info.len + 1);
    e->client_info[info.len] = '\0';
    e->created_ms = e->updated_ms = now;
    buf_release(&info);
}

void cmd_acl_log(client *c, int reason, const char *object, size_t len)
{
    if (reason == ACL_DENIED_CMD)
        srv.stats.acl_denied_cmd++;
    else if (reason == ACL_DENIED_CHANNEL)
        srv.stats.acl_denied_channel++;
    else
        srv.stats.acl_denied_key++;
    log_add(c, reason, object, len, c->user->name, strlen(c->user->name));
}

void cmd_acl_log_auth(client *c, const char *username, size_t ulen)
{
    srv.stats.acl_denied_auth++;
    /* The object is the command that tried (auth or hello), as Redis. */
    const char *cmd = c->lastcmd ? c->lastcmd : "auth";
    log_add(c, ACL_DENIED_AUTH, cmd, strlen(cmd), username, ulen);
}

static void reply_log(client *c, long long count)
{
    if (count > nentries)
        count = nentries;
    static const char *const reasons[] = {"", "command", "key", "auth", "channel"};
    int64_t now = kvd_now_ms();
    reply_array(c, count);
    for (long long i = 0; i < count; i++) {
        const log_entry *e = &entries[i];
        reply_map(c, 10);
        reply_bulk_str(c, "count");
        reply_int(c, e->count);
        reply_bulk_str(c, "reason");
        reply_bulk_str(c, reasons[e->reason]);
        reply_bulk_str(c, "context");
        reply_bulk_str(c, "toplevel");
        reply_bulk_str(c, "object");
        reply_bulk(c, e->object, e->objlen);
        reply_bulk_str(c, "username");
        reply_bulk(c, e->username, e->ulen);
        reply_bulk_str(c, "age-seconds");
        reply_double(c, (double)(now - e->updated_ms) / 1000.0);
        reply_bulk_str(c, "client-info");
        reply_bulk_str(c, e->client_info);
        reply_bulk_str(c, "entry-id");
        reply_int(c, (long long)e->id);
        reply_bulk_str(c, "timestamp-created");
        reply_int(c, e->created_ms);
        reply_bulk_str(c, "timestamp-last-updated");
        reply_int(c, e->updated_ms);
    }
}

/* -------------------------------------------------------------- commands */

/* Close every client authenticated as u (which is going away); c, if
 * among them, once it has its reply. */
static void disconnect_user(client *self, const acl_user *u)
{
    client *c;
    LIST_EACH(&srv.clients, client, all, c) {
        if (c->user != u)
            continue;
        if (c == self) {
            c->user = acl_default_user();
            conn_close_after_reply(c);
        } else {
            conn_close(c);
        }
    }
}

static void acl_cat(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc == 2) {
        int n = 0;
        while (acl_category_names[n])
            n++;
        reply_array(c, n);
        for (int i = 0; i < n; i++)
            reply_bulk_str(c, acl_category_names[i]);
        return;
    }
    if (argc != 3) {
        reply_error(c, "ERR wrong number of arguments for 'acl|cat' command");
        return;
    }
    int ci = acl_category_index(argv[2], argvlen[2]);
    if (ci < 0) {
        reply_errorf(c, "ERR Unknown category '%.*s'", (int)(argvlen[2] > 64 ? 64 : argvlen[2]), argv[2]);
        return;
    }
    cmd_reply_names(c, ci, NULL, 0, 1);
}

static void acl_getuser(client *c, const acl_user *u)
{
    static const char hex[] = "0123456789abcdef";
    buf_t b = BUF_INIT(&srv.pool);
    reply_map(c, 6);
    reply_bulk_str(c, "flags");
    const char *flags[4];
    int nf = 0;
    flags[nf++] = u->flags & ACL_USER_ON ? "on" : "off";
    if (u->flags & ACL_USER_NOPASS)
        flags[nf++] = "nopass";
    if (u->flags & ACL_USER_SANITIZE)
        flags[nf++] = "sanitize-payload";
    if (u->flags & ACL_USER_SKIP_SANITIZE)
        flags[nf++] = "skip-sanitize-payload";
    reply_set(c, nf);
    for (int i = 0; i < nf; i++)
        reply_bulk_str(c, flags[i]);
    reply_bulk_str(c, "passwords");
    reply_array(c, u->npass);
    for (int i = 0; i < u->npass; i++) {
        char h[2 * ACL_SHA256_LEN];
        for (int j = 0; j < ACL_SHA256_LEN; j++) {
            h[2 * j] = hex[u->pass[i][j] >> 4];
            h[2 * j + 1] = hex[u->pass[i][j] & 15];
        }
        reply_bulk(c, h, sizeof h);
    }
    reply_bulk_str(c, "commands");
    acl_describe_commands(u, &b);
    reply_bulk(c, b.data, b.len);
    buf_reset(&b);
    reply_bulk_str(c, "keys");
    acl_describe_keys(u, &b);
    reply_bulk(c, b.data ? b.data : "", b.len);
    buf_reset(&b);
    reply_bulk_str(c, "channels");
    acl_describe_channels(u, &b);
    reply_bulk(c, b.data ? b.data : "", b.len);
    reply_bulk_str(c, "selectors");
    reply_array(c, 0);
    buf_release(&b);
}

static void acl_dryrun(client *c, int argc, char **argv, size_t *argvlen)
{
    acl_user *u = acl_find(argv[2], argvlen[2]);
    if (!u) {
        reply_errorf(c, "ERR User '%.*s' not found", (int)(argvlen[2] > 128 ? 128 : argvlen[2]), argv[2]);
        return;
    }
    kvd_cmd *cmd = cmd_lookup(argv[3], argvlen[3]);
    if (!cmd) {
        reply_errorf(c, "ERR Command '%.*s' not found", (int)(argvlen[3] > 128 ? 128 : argvlen[3]), argv[3]);
        return;
    }
    int cargc = argc - 3;
    char **cargv = argv + 3;
    size_t *clen = argvlen + 3;
    if (cmd->subs && cargc >= 2) {
        kvd_cmd *sub = cmd_lookup_sub(cmd, cargv[1], clen[1]);
        if (!sub) {
            reply_errorf(c, "ERR Command '%.*s' not found", (int)(clen[0] > 64 ? 64 : clen[0]), cargv[0]);
            return;
        }
        cmd = sub;
    }
    if ((cmd->arity > 0 && cargc != cmd->arity) || (cmd->arity < 0 && cargc < -cmd->arity)) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        return;
    }
    int keypos = 0;
    int rc = acl_check(u, cmd, cargc, cargv, clen, &keypos);
    buf_t b = BUF_INIT(&srv.pool);
    if (rc == ACL_OK) {
        reply_ok(c);
    } else {
        if (rc == ACL_DENIED_CMD)
            buf_appendf(&b, "This user has no permissions to run the '%s' command", cmd->name);
        else if (rc == ACL_DENIED_CHANNEL)
            buf_appendf(&b, "This user has no permissions to access the '%.*s' channel",
                        (int)(clen[keypos] > 128 ? 128 : clen[keypos]), cargv[keypos]);
        else
            buf_appendf(&b, "This user has no permissions to access the '%.*s' key",
                        (int)(clen[keypos] > 128 ? 128 : clen[keypos]), cargv[keypos]);
        reply_bulk(c, b.data, b.len);
    }
    buf_release(&b);
}

static void acl_genpass(client *c, int argc, char **argv, size_t *argvlen)
{
    long long bits = 256;
    if (argc == 3 && (kvd_str_to_ll(argv[2], argvlen[2], &bits) < 0 || bits <= 0 || bits > 4096)) {
        reply_error(c, "ERR ACL GENPASS argument must be the number of bits for the output password, a "
                       "positive number up to 4096");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t chars = (size_t)(bits + 3) / 4;
    unsigned char raw[512];
    char out[1024];
    kvd_random_bytes(raw, (chars + 1) / 2);
    for (size_t i = 0; i < chars; i++)
        out[i] = hex[i % 2 ? raw[i / 2] & 15 : raw[i / 2] >> 4];
    reply_bulk(c, out, chars);
}

static const char no_aclfile[] =
    "ERR This kvd instance is not configured to use an ACL file. You may want to specify users via the ACL "
    "SETUSER command and put them in the configuration as 'user' lines, or set 'aclfile' and use ACL SAVE.";

static void acl_load(client *c)
{
    if (!srv.cfg.aclfile[0]) {
        reply_error(c, no_aclfile);
        return;
    }
    size_t len;
    char *text = kvd_read_file(srv.cfg.aclfile, &len);
    if (!text) {
        reply_errorf(c, "ERR Error loading ACLs, opening file '%s': %s", srv.cfg.aclfile, strerror(errno));
        return;
    }
    acl_user **old;
    int nold;
    char err[1024];
    int rc = acl_load_text(text, len, 0, srv.cfg.aclfile, &old, &nold, err, sizeof err);
    free(text);
    if (rc < 0) {
        reply_errorf(c, "ERR Error loading ACLs: %s", err);
        return;
    }
    /* As Redis: every client authenticated as a user of the old set is
     * disconnected (a password rotated through the file must end the
     * sessions that used the old one); clients of the default user stay,
     * with the default user's new rules. */
    client *x;
    LIST_EACH(&srv.clients, client, all, x) {
        if (strcmp(x->user->name, "default") == 0) {
            x->user = acl_default_user();
        } else if (x == c) {
            x->user = acl_default_user();
            conn_close_after_reply(x);
        } else {
            x->user = acl_default_user();
            conn_close(x);
        }
    }
    acl_free_users(old, nold);
    pubsub_check_acl(c);
    log_notice("ACL LOAD: users reloaded from %s", srv.cfg.aclfile);
    reply_ok(c);
}

void cmd_acl(client *c, int argc, char **argv, size_t *argvlen)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if (arg_is(sub, sl, "setuser")) {
        char err[1024];
        if (acl_setuser(argv[2], argvlen[2], argc - 3, argv + 3, argvlen + 3, err, sizeof err) < 0) {
            reply_errorf(c, "ERR %s", err);
            return;
        }
        pubsub_check_acl(c);
        reply_ok(c);
    } else if (arg_is(sub, sl, "getuser")) {
        const acl_user *u = acl_find(argv[2], argvlen[2]);
        if (u)
            acl_getuser(c, u);
        else
            reply_nil(c);
    } else if (arg_is(sub, sl, "deluser")) {
        for (int i = 2; i < argc; i++) {
            if (argvlen[i] == 7 && memcmp(argv[i], "default", 7) == 0) {
                reply_error(c, "ERR The 'default' user cannot be removed");
                return;
            }
        }
        long long deleted = 0;
        for (int i = 2; i < argc; i++) {
            acl_user *u = acl_detach(argv[i], argvlen[i]);
            if (!u)
                continue;
            disconnect_user(c, u);
            acl_user_free(u);
            deleted++;
        }
        reply_int(c, deleted);
    } else if (arg_is(sub, sl, "list") || arg_is(sub, sl, "users")) {
        int n;
        acl_user **all = acl_users(&n);
        int full = arg_is(sub, sl, "list");
        buf_t b = BUF_INIT(&srv.pool);
        reply_array(c, n);
        for (int i = 0; i < n; i++) {
            if (!full) {
                reply_bulk_str(c, all[i]->name);
                continue;
            }
            buf_reset(&b);
            acl_describe_user(all[i], &b);
            reply_bulk(c, b.data, b.len);
        }
        buf_release(&b);
    } else if (arg_is(sub, sl, "whoami")) {
        reply_bulk_str(c, c->user->name);
    } else if (arg_is(sub, sl, "cat")) {
        acl_cat(c, argc, argv, argvlen);
    } else if (arg_is(sub, sl, "genpass")) {
        if (argc > 3) {
            reply_error(c, "ERR wrong number of arguments for 'acl|genpass' command");
            return;
        }
        acl_genpass(c, argc, argv, argvlen);
    } else if (arg_is(sub, sl, "dryrun")) {
        acl_dryrun(c, argc, argv, argvlen);
    } else if (arg_is(sub, sl, "log")) {
        long long count = 10;
        if (argc > 3) {
            reply_error(c, "ERR wrong number of arguments for 'acl|log' command");
            return;
        }
        if (argc == 3 && arg_is(argv[2], argvlen[2], "reset")) {
            log_trim(0);
            reply_ok(c);
            return;
        }
        if (argc == 3 && (kvd_str_to_ll(argv[2], argvlen[2], &count) < 0 || count < 0)) {
            reply_error(c, ERR_NOT_INT);
            return;
        }
        reply_log(c, count);
    } else if (arg_is(sub, sl, "save")) {
        if (!srv.cfg.aclfile[0]) {
            reply_error(c, no_aclfile);
            return;
        }
        int rc = acl_save_file(srv.cfg.aclfile);
        if (rc < 0) {
            log_warning("ACL SAVE: cannot write %s: %s", srv.cfg.aclfile, strerror(-rc));
            reply_errorf(c, "ERR There was an error trying to save the ACLs (%s): %s", srv.cfg.aclfile,
                         strerror(-rc));
            return;
        }
        reply_ok(c);
    } else if (arg_is(sub, sl, "load")) {
        acl_load(c);
    } else if (arg_is(sub, sl, "help")) {
        static const char *const help[] = {
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]", "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>", "    Get the user's details.",
            "GENPASS [<bits>]", "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST", "    Show users details in config file format.",
            "LOAD", "    Reload users from the ACL file.",
            "LOG [<count> | RESET]", "    Show the ACL log entries.",
            "SAVE", "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS", "    List all the registered usernames.",
            "WHOAMI", "    Return the current connection username.",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    }
}

void cmd_acl_free(void)
{
    log_trim(0);
    free(entries);
    entries = NULL;
}
