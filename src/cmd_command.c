/* COMMAND and its subcommands: what kvd tells clients about its commands,
 * from the command table (cmd.c). */
#include "config.h"
#include "cmd.h"
#include "acl.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

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
    reply_set(c, n);
    for (int i = 0; i < n; i++)
        reply_simple(c, names[i]);
}

static void command_info(client *c, const kvd_cmd *cmd)
{
    if (!cmd) {
        reply_nil_array(c);
        return;
    }
    reply_array(c, 10);
    reply_bulk_str(c, cmd->name);
    reply_int(c, cmd->arity);
    add_flag_list(c, cmd);
    reply_int(c, cmd->firstkey);
    reply_int(c, cmd->lastkey);
    reply_int(c, cmd->keystep);
    int ncat = 0;
    for (int i = 0; acl_category_names[i]; i++)
        ncat += (cmd->catmask >> i) & 1;
    reply_set(c, ncat);
    for (int i = 0; acl_category_names[i]; i++) {
        if ((cmd->catmask >> i) & 1) {
            char cat[32];
            snprintf(cat, sizeof cat, "@%s", acl_category_names[i]);
            reply_simple(c, cat);
        }
    }
    reply_set(c, 0); /* tips */
    reply_array(c, 0); /* key specs */
    int nsubs = 0;
    for (const kvd_cmd *s = cmd->subs; s && s->name; s++)
        nsubs++;
    reply_array(c, nsubs);
    for (const kvd_cmd *s = cmd->subs; s && s->name; s++)
        command_info(c, s);
}

static void command_docs(client *c, const kvd_cmd *cmd)
{
    reply_bulk_str(c, cmd->name);
    reply_map(c, 4);
    reply_bulk_str(c, "summary");
    reply_bulk_str(c, cmd->summary);
    reply_bulk_str(c, "since");
    reply_bulk_str(c, cmd->since);
    reply_bulk_str(c, "group");
    reply_bulk_str(c, cmd->group);
    reply_bulk_str(c, "complexity");
    reply_bulk_str(c, cmd->complexity);
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern] */
static void command_list(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc != 2 && !(argc == 5 && arg_is(argv[2], argvlen[2], "filterby"))) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (argc == 2) {
        cmd_reply_names(c, -1, NULL, 0, 0);
    } else if (arg_is(argv[3], argvlen[3], "module")) {
        reply_array(c, 0); /* no modules */
    } else if (arg_is(argv[3], argvlen[3], "aclcat")) {
        int cat = acl_category_index(argv[4], argvlen[4]);
        if (cat < 0)
            reply_array(c, 0);
        else
            cmd_reply_names(c, cat, NULL, 0, 0);
    } else if (arg_is(argv[3], argvlen[3], "pattern")) {
        cmd_reply_names(c, -1, argv[4], argvlen[4], 0);
    } else {
        reply_error(c, ERR_SYNTAX);
    }
}

/* COMMAND GETKEYS command arg...: the key arguments, by the table. */
static void command_getkeys(client *c, int argc, char **argv, size_t *argvlen)
{
    kvd_cmd *cmd = cmd_lookup(argv[0], argvlen[0]);
    if (cmd && cmd->subs && argc >= 2)
        cmd = cmd_lookup_sub(cmd, argv[1], argvlen[1]);
    if (!cmd) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    int last = cmd->lastkey < 0 ? argc + cmd->lastkey : cmd->lastkey;
    if (cmd->firstkey <= 0 || last < cmd->firstkey) {
        reply_error(c, "ERR The command has no key arguments");
        return;
    }
    if (last >= argc)
        last = argc - 1;
    reply_array(c, (last - cmd->firstkey) / cmd->keystep + 1);
    for (int i = cmd->firstkey; i <= last; i += cmd->keystep)
        reply_bulk(c, argv[i], argvlen[i]);
}

void cmd_command(client *c, int argc, char **argv, size_t *argvlen)
{
    size_t n;
    kvd_cmd *table = cmd_table(&n);
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
            reply_map(c, (long long)n);
            for (size_t i = 0; i < n; i++)
                command_docs(c, &table[i]);
        } else {
            int found = 0;
            for (int i = 2; i < argc; i++)
                found += cmd_lookup(argv[i], argvlen[i]) != NULL;
            reply_map(c, found);
            for (int i = 2; i < argc; i++) {
                kvd_cmd *cmd = cmd_lookup(argv[i], argvlen[i]);
                if (cmd)
                    command_docs(c, cmd);
            }
        }
    } else if (arg_is(argv[1], argvlen[1], "list")) {
        command_list(c, argc, argv, argvlen);
    } else if (arg_is(argv[1], argvlen[1], "getkeys")) {
        command_getkeys(c, argc - 2, argv + 2, argvlen + 2);
    } else if (arg_is(argv[1], argvlen[1], "help")) {
        static const char *const help[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return a list of all commands in this kvd server.",
            "GETKEYS <full-command>", "    Return the keys from a full kvd command.",
            "(no subcommand)", "    Return details about all commands.",
            "COUNT", "    Return the total number of commands.",
            "INFO [<command-name> ...]", "    Return details about the given commands, or all of them.",
            "DOCS [<command-name> ...]", "    Return documentation about the given commands, or all of them.",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"count", "info", "docs", "list", "getkeys", "help", NULL};
        reply_subcommand_error(c, "command", argv[1], argvlen[1], known);
    }
}
