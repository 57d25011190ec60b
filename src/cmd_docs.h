/* cmd_docs: what Redis 7 says about each command beyond kvd's command
 * table: the key specifications, the tips, the command flags kvd does not
 * act on (noscript, loading, ...), and the documentation COMMAND DOCS
 * gives (summary, history, the argument tree). Static data, generated from
 * a redis-server 7.0 by scripts/gen-cmd-docs, looked up by command name;
 * and where a command's keys are in its arguments, found from its specs. */
#ifndef KVD_CMD_DOCS_H
#define KVD_CMD_DOCS_H

#include <stddef.h>

/* Command flags Redis reports that kvd's table (CMD_*) does not carry. */
#define CD_PUBSUB 0x0001
#define CD_NOSCRIPT 0x0002
#define CD_BLOCKING 0x0004
#define CD_LOADING 0x0008
#define CD_STALE 0x0010
#define CD_SKIP_MONITOR 0x0020
#define CD_SKIP_SLOWLOG 0x0040
#define CD_ASKING 0x0080
#define CD_NO_MANDATORY_KEYS 0x0100
#define CD_NO_ASYNC_LOADING 0x0200
#define CD_MOVABLEKEYS 0x0400
#define CD_ALLOW_BUSY 0x0800

/* Key specification flags, as COMMAND INFO names them (RO, access, ...). */
#define KS_RO 0x0001             /* reads the value */
#define KS_RW 0x0002             /* reads and changes it */
#define KS_OW 0x0004             /* overwrites it without reading */
#define KS_RM 0x0008             /* deletes it */
#define KS_ACCESS 0x0010         /* returns, copies or uses the value */
#define KS_UPDATE 0x0020         /* changes an existing value */
#define KS_INSERT 0x0040         /* adds data, never changes what is there */
#define KS_DELETE 0x0080         /* removes data */
#define KS_NOT_KEY 0x0100        /* not really a key (cluster routing only) */
#define KS_INCOMPLETE 0x0200     /* may not find every key */
#define KS_VARIABLE_FLAGS 0x0400 /* the flags depend on the arguments */

/* Where a spec starts looking (begin_search) and how it finds the keys
 * from there (find_keys). */
enum { KS_BS_INDEX = 1, KS_BS_KEYWORD, KS_BS_UNKNOWN };
enum { KS_FK_RANGE = 1, KS_FK_KEYNUM, KS_FK_UNKNOWN };

typedef struct cmd_key_spec {
    const char *notes;  /* NULL: none */
    int flags;          /* KS_* */
    int bs;             /* KS_BS_* */
    int index;          /* KS_BS_INDEX: the argument where the keys start */
    const char *keyword;/* KS_BS_KEYWORD: the keys follow this word... */
    int startfrom;      /* ... searched for from here (negative: from the end, backwards) */
    int fk;             /* KS_FK_* */
    int a, b, c;        /* RANGE: lastkey, keystep, limit; KEYNUM: keynumidx, firstkey, keystep */
} cmd_key_spec;

/* Argument flags. */
#define CDA_OPTIONAL 0x1
#define CDA_MULTIPLE 0x2
#define CDA_MULTIPLE_TOKEN 0x4

typedef struct cmd_doc_arg {
    const char *name;
    const char *type;       /* "key", "string", "integer", "pure-token", "oneof", "block", ... */
    const char *display;    /* display_text, or NULL */
    int key_spec_index;     /* of a "key" argument */
    const char *token;      /* or NULL */
    const char *summary;    /* or NULL */
    const char *since;      /* or NULL */
    const char *deprecated_since; /* or NULL */
    int flags;              /* CDA_* */
    const struct cmd_doc_arg *args; /* a oneof's or block's arguments */
    int nargs;
} cmd_doc_arg;

/* Documentation flags. */
#define CDD_DEPRECATED 0x1
#define CDD_SYSCMD 0x2

typedef struct cmd_doc {
    const char *name;       /* lowercase; "container|sub" for a subcommand */
    const char *summary;
    const char *since;
    const char *group;
    const char *complexity; /* or NULL */
    int doc_flags;          /* CDD_* */
    const char *deprecated_since; /* or NULL */
    const char *replaced_by;      /* or NULL */
    const char *const *history;   /* version, text, version, text, ..., NULL; or NULL */
    const cmd_doc_arg *args;
    int nargs;
    int flags;              /* CD_* */
    const char *const *tips;      /* NULL-terminated, or NULL */
    const cmd_key_spec *specs;
    int nspecs;
} cmd_doc;

/* What Redis says about the command named name (any case, "container|sub"
 * for a subcommand), or NULL when kvd has nothing beyond its table (a
 * command of its own, like COMPACT). */
const cmd_doc *cmd_docs_find(const char *name);

/* Every entry, sorted by name (for tests). */
const cmd_doc *cmd_docs_all(size_t *n);

/* A key the specs found: argument pos of the command, with the spec's KS_*
 * flags. */
typedef struct cmd_key_ref {
    int pos;
    int flags;
} cmd_key_ref;

/* The keys of a call (argv[0] is the command's name; for a subcommand,
 * argv[1] its own) as doc's key specs find them, in spec order, written
 * to keys (at most max of them). Flags that depend on the arguments
 * (KS_VARIABLE_FLAGS: SET ... GET, BITFIELD's writes) are worked out as
 * Redis does. Returns how many keys there are (which may exceed max), or
 * -1 when a spec cannot be applied (a KEYNUM count that is not a number
 * or runs past the end). */
int cmd_docs_keys(const cmd_doc *doc, int argc, char **argv, size_t *argvlen, cmd_key_ref *keys, int max);

#endif
