/* acl: users and what they may do, as Redis 6+ ACLs have them. A user has
 * passwords (kept only as SHA-256), an on/off switch, a bitmap of the
 * commands and subcommands it may run, and key patterns with read/write
 * permissions. Rules are parsed from the same words Redis takes in
 * ACL SETUSER, `user` lines and the aclfile; a user's rules are described
 * back in a form that, parsed again, gives the same permissions. The
 * module knows nothing of clients: cmd_acl.c and cmd.c use it. */
#ifndef KVD_ACL_H
#define KVD_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cmd.h"

/* User flags. */
#define ACL_USER_ON 0x01
#define ACL_USER_NOPASS 0x02
#define ACL_USER_ALLKEYS 0x04     /* ~* or allkeys */
#define ACL_USER_ALLCHANNELS 0x08 /* &* or allchannels */
#define ACL_USER_SANITIZE 0x10    /* sanitize-payload (accepted, shown; kvd has no RESTORE) */
#define ACL_USER_SKIP_SANITIZE 0x20

/* Key pattern permissions (a pattern with ~ alone has both). */
#define ACL_PERM_READ CMD_KEY_READ
#define ACL_PERM_WRITE CMD_KEY_WRITE

#define ACL_SHA256_LEN 32

typedef struct acl_pattern {
    char *pat;
    size_t len;
    int perms;                 /* ACL_PERM_* */
} acl_pattern;

typedef struct acl_user {
    char *name;
    int flags;                 /* ACL_USER_* */
    unsigned char (*pass)[ACL_SHA256_LEN]; /* SHA-256 of each password */
    int npass;
    uint64_t allowed[CMD_MAX_IDS / 64]; /* by kvd_cmd.id */
    int future;                /* started from +@all: commands added later are allowed */
    char *cmdrules;            /* the +/- rules after the +@all/-@all base, as applied */
    acl_pattern *keys;
    int nkeys;
    char **channels;           /* &patterns: the channels it may publish and subscribe to */
    int nchannels;
} acl_user;

/* What acl_check found. */
enum { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2, ACL_DENIED_CHANNEL = 4 };

/* Category names, in the order ACL CAT lists them. */
extern const char *const acl_category_names[];

/* The bit of a category name ("read", without '@'), or -1. */
int acl_category_index(const char *name, size_t len);

/* Set up the user list with the default user ("on nopass ~* &* +@all").
 * cmd_init must have run. */
void acl_init(void);

/* Free every user (at exit). */
void acl_free_all(void);

/* The default user (never NULL). */
acl_user *acl_default_user(void);

/* The user named so, or NULL. */
acl_user *acl_find(const char *name, size_t len);

/* The users, sorted by name; *n gets how many. The array stays valid until
 * the next change. */
acl_user **acl_users(int *n);

/* 1 when pass is one of u's passwords (or u has nopass), 0 otherwise.
 * Does not look at ACL_USER_ON. Constant time in the password's content. */
int acl_password_ok(const acl_user *u, const char *pass, size_t len);

/* Apply rules, in order, to the user called name, creating it (off, no
 * passwords, no keys, no commands) if it does not exist. All or nothing:
 * on an error the user is left as it was and err says which rule failed
 * and why, as Redis words it. Returns 0 or -1. */
int acl_setuser(const char *name, size_t nlen, int nrules, char **rules, const size_t *lens, char *err,
                size_t errlen);

/* Remove the user called name (not "default"). Returns the detached user,
 * which the caller frees with acl_user_free once no client refers to it,
 * or NULL if there is no such user. */
acl_user *acl_detach(const char *name, size_t len);

void acl_user_free(acl_user *u);

/* Describe u as an aclfile line: "user NAME on #hash ~keys resetchannels
 * -@all +get", appended to out (no newline). */
void acl_describe_user(const acl_user *u, buf_t *out);

/* The key patterns of u ("~* %R~foo"), the channel rules and the command
 * rules, each as ACL GETUSER shows them, appended to out. */
void acl_describe_keys(const acl_user *u, buf_t *out);
void acl_describe_channels(const acl_user *u, buf_t *out);
void acl_describe_commands(const acl_user *u, buf_t *out);

/* May u run cmd (a subcommand if it has one) with these arguments?
 * Returns ACL_OK, ACL_DENIED_CMD, or ACL_DENIED_KEY / ACL_DENIED_CHANNEL
 * with *keypos set to the index of the first key or channel refused. */
int acl_check(const acl_user *u, const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen, int *keypos);

/* May u use the channel (is_pattern 0: PUBLISH, SUBSCRIBE; one of its
 * &patterns must match it) or subscribe to the pattern (is_pattern 1:
 * PSUBSCRIBE; it must be one of its &patterns, as written)? As Redis 7. */
int acl_channel_allowed(const acl_user *u, const char *ch, size_t len, int is_pattern);

/* ---- users from text: `user` lines and the aclfile ---- */

/* Replace every user with those described by text: lines of "user NAME
 * rules...", blank lines and # comments allowed, words split at spaces
 * (an aclfile, as Redis reads it) or, with quoted, with the conf file's
 * quoting (user lines of kvd.conf); a "default" user is
 * created as "on nopass ~* &* +@all" if the text does not define one.
 * All or nothing: on an error nothing changes and err names the line
 * (origin:N) and the problem. The old users are handed to *old (an array
 * of *nold users the caller frees with acl_free_users once clients no
 * longer point at them). Returns 0 or -1. */
int acl_load_text(const char *text, size_t len, int quoted, const char *origin, acl_user ***old, int *nold,
                  char *err, size_t errlen);

/* Free users handed back by acl_load_text. */
void acl_free_users(acl_user **users, int n);

/* Write every user to path as an aclfile: a temp file in the same
 * directory, fsync, rename, directory fsync. Returns 0 or -errno. */
int acl_save_file(const char *path);

/* Make requirepass the default user's only password ("" = nopass), as
 * Redis does when requirepass is set. */
void acl_set_requirepass(const char *pass, size_t len);

/* SHA-256 of data, into out. */
void acl_sha256(const void *data, size_t len, unsigned char out[ACL_SHA256_LEN]);

#endif
