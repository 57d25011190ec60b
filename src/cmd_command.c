/* COMMAND and its subcommands: what kvd tells clients about its commands,
 * in the form Redis 7 gives it. The table (cmd.c) supplies names, arity,
 * flags, key positions, ACL categories and subcommands; cmd_docs supplies
 * what Redis says beyond that (key specs, tips, documentation). */
#include "config.h"
#include "cmd.h"
#include "cmd_docs.h"
#include "acl.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Command flags in the order COMMAND INFO lists them: each either a CMD_*
 * bit of the table or a CD_* bit of the docs. */
static const struct {
    const char *name;
    int cmd, doc;
} command_flags[] = {
    {"write", CMD_WRITE, 0},
    {"readonly", CMD_READONLY, 0},
    {"denyoom", CMD_DENYOOM, 0},
    {"admin", CMD_ADMIN, 0},
    {"pubsub", 0, CD_PUBSUB},
    {"noscript", 0, CD_NOSCRIPT},
    {"blocking", 0, CD_BLOCKING},
    {"loading", 0, CD_LOADING},
    {"stale", 0, CD_STALE},
    {"skip_monitor", 0, CD_SKIP_MONITOR},
    {"skip_slowlog", 0, CD_SKIP_SLOWLOG},
    {"asking", 0, CD_ASKING},
    {"fast", CMD_FAST, 0},
    {"no_auth", CMD_NOAUTH, 0},
    {"no_mandatory_keys", 0, CD_NO_MANDATORY_KEYS},
    {"no_async_loading", 0, CD_NO_ASYNC_LOADING},
    {"no_multi", CMD_NOMULTI, 0},
    {"movablekeys", 0, CD_MOVABLEKEYS},
    {"allow_busy", 0, CD_ALLOW_BUSY},
};

static const char *const key_spec_flags[] = {"RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
                                             "not_key", "incomplete", "variable_flags"};

/* A set of the names whose bits are in flags (names[i] is bit 1 << i). */
static void reply_flag_names(client *c, int flags, const char *const *names, size_t n)
{
    int count = 0;
    for (size_t i = 0; i < n; i++)
        count += (flags >> i) & 1;
    reply_set(c, count);
    for (size_t i = 0; i < n; i++)
        if ((flags >> i) & 1)
            reply_simple(c, names[i]);
}

static void reply_command_flags(client *c, const kvd_cmd *cmd, const cmd_doc *doc)
{
    int docflags = doc ? doc->flags : 0, n = 0;
    for (size_t i = 0; i < KVD_ARRAY_SIZE(command_flags); i++)
        n += (cmd->flags & command_flags[i].cmd) || (docflags & command_flags[i].doc);
    reply_set(c, n);
    for (size_t i = 0; i < KVD_ARRAY_SIZE(command_flags); i++)
        if ((cmd->flags & command_flags[i].cmd) || (docflags & command_flags[i].doc))
            reply_simple(c, command_flags[i].name);
}

static void reply_key_spec(client *c, const cmd_key_spec *ks)
{
    reply_map(c, ks->notes ? 4 : 3);
    if (ks->notes) {
        reply_bulk_str(c, "notes");
        reply_bulk_str(c, ks->notes);
    }
    reply_bulk_str(c, "flags");
    reply_flag_names(c, ks->flags, key_spec_flags, KVD_ARRAY_SIZE(key_spec_flags));
    reply_bulk_str(c, "begin_search");
    reply_map(c, 2);
    reply_bulk_str(c, "type");
    if (ks->bs == KS_BS_INDEX) {
        reply_bulk_str(c, "index");
        reply_bulk_str(c, "spec");
        reply_map(c, 1);
        reply_bulk_str(c, "index");
        reply_int(c, ks->index);
    } else if (ks->bs == KS_BS_KEYWORD) {
        reply_bulk_str(c, "keyword");
        reply_bulk_str(c, "spec");
        reply_map(c, 2);
        reply_bulk_str(c, "keyword");
        reply_bulk_str(c, ks->keyword);
        reply_bulk_str(c, "startfrom");
        reply_int(c, ks->startfrom);
    } else {
        reply_bulk_str(c, "unknown");
        reply_bulk_str(c, "spec");
        reply_map(c, 0);
    }
    reply_bulk_str(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_str(c, "type");
    if (ks->fk == KS_FK_UNKNOWN) {
        reply_bulk_str(c, "unknown");
        reply_bulk_str(c, "spec");
        reply_map(c, 0);
        return;
    }
    static const char *const range[] = {"lastkey", "keystep", "limit"};
    static const char *const keynum[] = {"keynumidx", "firstkey", "keystep"};
    const char *const *names = ks->fk == KS_FK_RANGE ? range : keynum;
    reply_bulk_str(c, ks->fk == KS_FK_RANGE ? "range" : "keynum");
    reply_bulk_str(c, "spec");
    reply_map(c, 3);
    reply_bulk_str(c, names[0]);
    reply_int(c, ks->a);
    reply_bulk_str(c, names[1]);
    reply_int(c, ks->b);
    reply_bulk_str(c, names[2]);
    reply_int(c, ks->c);
}

/* A NULL-terminated list of strings, as a set of bulk strings. */
static void reply_string_set(client *c, const char *const *strs)
{
    int n = 0;
    while (strs && strs[n])
        n++;
    reply_set(c, n);
    for (int i = 0; i < n; i++)
        reply_bulk_str(c, strs[i]);
}

/* COMMAND INFO's ten fields for one command, its subcommands nested. */
static void command_info(client *c, const kvd_cmd *cmd)
{
    const cmd_doc *doc = cmd_docs_find(cmd->name);
    reply_array(c, 10);
    reply_bulk_str(c, cmd->name);
    reply_int(c, cmd->arity);
    reply_command_flags(c, cmd, doc);
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
    reply_string_set(c, doc ? doc->tips : NULL);
    int nspecs = doc ? doc->nspecs : 0;
    reply_set(c, nspecs);
    for (int i = 0; i < nspecs; i++)
        reply_key_spec(c, &doc->specs[i]);
    int nsubs = 0;
    for (const kvd_cmd *s = cmd->subs; s && s->name; s++)
        nsubs++;
    if (nsubs == 0) {
        reply_set(c, 0); /* as Redis: an empty set, but an array when there are some */
        return;
    }
    reply_array(c, nsubs);
    for (const kvd_cmd *s = cmd->subs; s && s->name; s++)
        command_info(c, s);
}

static const char *const arg_flags[] = {"optional", "multiple", "multiple_token"};

static void reply_args(client *c, const cmd_doc_arg *args, int nargs)
{
    reply_array(c, nargs);
    for (int i = 0; i < nargs; i++) {
        const cmd_doc_arg *a = &args[i];
        int is_key = strcmp(a->type, "key") == 0;
        reply_map(c, 2 + (a->display != NULL) + is_key + (a->token != NULL) + (a->summary != NULL) +
                         (a->since != NULL) + (a->deprecated_since != NULL) + (a->flags != 0) + (a->nargs > 0));
        reply_bulk_str(c, "name");
        reply_bulk_str(c, a->name);
        reply_bulk_str(c, "type");
        reply_bulk_str(c, a->type);
        if (a->display) {
            reply_bulk_str(c, "display_text");
            reply_bulk_str(c, a->display);
        }
        if (is_key) {
            reply_bulk_str(c, "key_spec_index");
            reply_int(c, a->key_spec_index);
        }
        const struct {
            const char *name, *value;
        } strings[] = {{"token", a->token}, {"summary", a->summary}, {"since", a->since},
                       {"deprecated_since", a->deprecated_since}};
        for (size_t j = 0; j < KVD_ARRAY_SIZE(strings); j++) {
            if (strings[j].value) {
                reply_bulk_str(c, strings[j].name);
                reply_bulk_str(c, strings[j].value);
            }
        }
        if (a->flags) {
            reply_bulk_str(c, "flags");
            reply_flag_names(c, a->flags, arg_flags, KVD_ARRAY_SIZE(arg_flags));
        }
        if (a->nargs > 0) {
            reply_bulk_str(c, "arguments");
            reply_args(c, a->args, a->nargs);
        }
    }
}

/* COMMAND DOCS's name and map for one command, its subcommands nested. A
 * command Redis does not have is described by the table alone. */
static void command_docs(client *c, const kvd_cmd *cmd)
{
    static const char *const doc_flags[] = {"deprecated", "syscmd"};
    const cmd_doc *doc = cmd_docs_find(cmd->name);
    const char *complexity = doc ? doc->complexity : cmd->complexity;
    int nsubs = 0;
    for (const kvd_cmd *s = cmd->subs; s && s->name; s++)
        nsubs++;
    reply_bulk_str(c, cmd->name);
    reply_map(c, 3 + (complexity != NULL) + (nsubs > 0) +
                     (doc ? (doc->doc_flags != 0) + (doc->deprecated_since != NULL) + (doc->replaced_by != NULL) +
                                (doc->history != NULL) + (doc->nargs > 0)
                          : 0));
    reply_bulk_str(c, "summary");
    reply_bulk_str(c, doc ? doc->summary : cmd->summary);
    reply_bulk_str(c, "since");
    reply_bulk_str(c, doc ? doc->since : cmd->since);
    reply_bulk_str(c, "group");
    reply_bulk_str(c, doc ? doc->group : cmd->group);
    if (complexity) {
        reply_bulk_str(c, "complexity");
        reply_bulk_str(c, complexity);
    }
    if (doc && doc->doc_flags) {
        reply_bulk_str(c, "doc_flags");
        reply_flag_names(c, doc->doc_flags, doc_flags, KVD_ARRAY_SIZE(doc_flags));
    }
    if (doc && doc->deprecated_since) {
        reply_bulk_str(c, "deprecated_since");
        reply_bulk_str(c, doc->deprecated_since);
    }
    if (doc && doc->replaced_by) {
        reply_bulk_str(c, "replaced_by");
        reply_bulk_str(c, doc->replaced_by);
    }
    if (doc && doc->history) {
        int n = 0;
        while (doc->history[2 * n])
            n++;
        reply_bulk_str(c, "history");
        reply_set(c, n);
        for (int i = 0; i < n; i++) {
            reply_array(c, 2);
            reply_bulk_str(c, doc->history[2 * i]);
            reply_bulk_str(c, doc->history[2 * i + 1]);
        }
    }
    if (doc && doc->nargs > 0) {
        reply_bulk_str(c, "arguments");
        reply_args(c, doc->args, doc->nargs);
    }
    if (nsubs > 0) {
        reply_bulk_str(c, "subcommands");
        reply_map(c, nsubs);
        for (const kvd_cmd *s = cmd->subs; s && s->name; s++)
            command_docs(c, s);
    }
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

/* Keys GETKEYS finds without a malloc. */
#define GETKEYS_STACK 64

/* COMMAND GETKEYS / GETKEYSANDFLAGS command arg...: the key arguments as
 * the command's key specs find them (the table's key range for a command
 * Redis does not have), with the specs' flags. */
static void command_getkeys(client *c, int argc, char **argv, size_t *argvlen, int with_flags)
{
    kvd_cmd *cmd = cmd_lookup(argv[0], argvlen[0]);
    if (cmd && cmd->subs && argc >= 2)
        cmd = cmd_lookup_sub(cmd, argv[1], argvlen[1]);
    if (!cmd) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    const cmd_doc *doc = cmd_docs_find(cmd->name);
    int has_keys = 0;
    for (int i = 0; doc && i < doc->nspecs; i++)
        has_keys |= !(doc->specs[i].flags & KS_NOT_KEY);
    if (!doc)
        has_keys = cmd->firstkey > 0;
    if (!has_keys) {
        reply_error(c, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    cmd_key_ref stack[GETKEYS_STACK], *keys = stack;
    int n = 0;
    if (doc) {
        n = cmd_docs_keys(doc, argc, argv, argvlen, keys, GETKEYS_STACK);
        if (n > GETKEYS_STACK) {
            keys = xmalloc(sizeof(*keys) * (size_t)n);
            n = cmd_docs_keys(doc, argc, argv, argvlen, keys, n);
        }
    } else if (cmd->keystep > 0) {
        int last = cmd->lastkey < 0 ? argc + cmd->lastkey : cmd->lastkey;
        if (last >= argc)
            last = argc - 1;
        int count = last >= cmd->firstkey ? (last - cmd->firstkey) / cmd->keystep + 1 : 0;
        if (count > GETKEYS_STACK)
            keys = xmalloc(sizeof(*keys) * (size_t)count);
        for (int i = cmd->firstkey; i <= last; i += cmd->keystep)
            keys[n++] = (cmd_key_ref){i, 0};
    }
    if (n <= 0) {
        if (n == 0 && doc && (doc->flags & CD_NO_MANDATORY_KEYS))
            reply_array(c, 0);
        else
            reply_error(c, "ERR Invalid arguments specified for command");
    } else {
        reply_array(c, n);
        for (int i = 0; i < n; i++) {
            if (with_flags)
                reply_array(c, 2);
            reply_bulk(c, argv[keys[i].pos], argvlen[keys[i].pos]);
            if (with_flags)
                reply_flag_names(c, keys[i].flags, key_spec_flags, KVD_ARRAY_SIZE(key_spec_flags));
        }
    }
    if (keys != stack)
        free(keys);
}

void cmd_command(client *c, int argc, char **argv, size_t *argvlen)
{
    size_t n;
    kvd_cmd *table = cmd_table(&n);
    if (argc == 1 || (argc == 2 && arg_is(argv[1], argvlen[1], "info"))) {
        reply_array(c, (long long)n);
        for (size_t i = 0; i < n; i++)
            command_info(c, &table[i]);
    } else if (arg_is(argv[1], argvlen[1], "count") && argc == 2) {
        reply_int(c, (long long)n);
    } else if (arg_is(argv[1], argvlen[1], "info")) {
        reply_array(c, argc - 2);
        for (int i = 2; i < argc; i++) {
            kvd_cmd *cmd = cmd_lookup_full(argv[i], argvlen[i]);
            if (cmd)
                command_info(c, cmd);
            else
                reply_nil(c);
        }
    } else if (arg_is(argv[1], argvlen[1], "docs")) {
        if (argc == 2) {
            reply_map(c, (long long)n);
            for (size_t i = 0; i < n; i++)
                command_docs(c, &table[i]);
        } else {
            int found = 0;
            for (int i = 2; i < argc; i++)
                found += cmd_lookup_full(argv[i], argvlen[i]) != NULL;
            reply_map(c, found);
            for (int i = 2; i < argc; i++) {
                kvd_cmd *cmd = cmd_lookup_full(argv[i], argvlen[i]);
                if (cmd)
                    command_docs(c, cmd);
            }
        }
    } else if (arg_is(argv[1], argvlen[1], "list")) {
        command_list(c, argc, argv, argvlen);
    } else if (arg_is(argv[1], argvlen[1], "getkeys") && argc >= 4) {
        command_getkeys(c, argc - 2, argv + 2, argvlen + 2, 0);
    } else if (arg_is(argv[1], argvlen[1], "getkeysandflags") && argc >= 4) {
        command_getkeys(c, argc - 2, argv + 2, argvlen + 2, 1);
    } else if (arg_is(argv[1], argvlen[1], "help") && argc == 2) {
        static const char *const help[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return a list of all commands in this kvd server.",
            "GETKEYS <full-command>", "    Return the keys from a full kvd command.",
            "GETKEYSANDFLAGS <full-command>", "    Return the keys from a full kvd command, with their access flags.",
            "(no subcommand)", "    Return details about all commands.",
            "COUNT", "    Return the total number of commands.",
            "INFO [<command-name> ...]", "    Return details about the given commands, or all of them.",
            "DOCS [<command-name> ...]", "    Return documentation about the given commands, or all of them.",
            "HELP", "    Print this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else {
        static const char *const known[] = {"count", "info", "docs", "list", "getkeys", "getkeysandflags", "help",
                                            NULL};
        reply_subcommand_error(c, "command", argv[1], argvlen[1], known);
    }
}
