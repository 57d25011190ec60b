/* acl: ACL users: rule parsing, the permission check, describing users
 * back as rules, and the aclfile. See acl.h. */
#include "config.h"
#include "acl.h"
#include "args.h"
#include "glob.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

const char *const acl_category_names[] = {
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
    "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction",
    "scripting", NULL};

static acl_user **users; /* sorted by name */
static int nusers, capusers;

int acl_category_index(const char *name, size_t len)
{
    for (int i = 0; acl_category_names[i]; i++)
        if (strlen(acl_category_names[i]) == len && strncasecmp(acl_category_names[i], name, len) == 0)
            return i;
    return -1;
}

void acl_sha256(const void *data, size_t len, unsigned char out[ACL_SHA256_LEN])
{
    unsigned int n = ACL_SHA256_LEN;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL)) {
        fprintf(stderr, "kvd: SHA-256 failed (OpenSSL)\n");
        abort();
    }
}

/* ------------------------------------------------------------------ users */

static acl_user *user_new(const char *name, size_t len)
{
    acl_user *u = xcalloc(1, sizeof(*u));
    u->name = xmalloc(len + 1);
    memcpy(u->name, name, len);
    u->name[len] = '\0';
    u->cmdrules = xstrdup("");
    return u;
}

static void user_clear_keys(acl_user *u)
{
    for (int i = 0; i < u->nkeys; i++)
        free(u->keys[i].pat);
    free(u->keys);
    u->keys = NULL;
    u->nkeys = 0;
}

static void user_clear_channels(acl_user *u)
{
    for (int i = 0; i < u->nchannels; i++)
        free(u->channels[i]);
    free(u->channels);
    u->channels = NULL;
    u->nchannels = 0;
}

/* Free what u owns, not u itself or its name. */
static void user_clear(acl_user *u)
{
    free(u->pass);
    u->pass = NULL;
    u->npass = 0;
    free(u->cmdrules);
    u->cmdrules = NULL;
    user_clear_keys(u);
    user_clear_channels(u);
}

void acl_user_free(acl_user *u)
{
    if (!u)
        return;
    user_clear(u);
    free(u->name);
    free(u);
}

static acl_user *user_dup(const acl_user *src)
{
    acl_user *u = xmalloc(sizeof(*u));
    *u = *src;
    u->name = xstrdup(src->name);
    u->pass = src->npass ? xmemdup(src->pass, (size_t)src->npass * ACL_SHA256_LEN) : NULL;
    u->cmdrules = xstrdup(src->cmdrules);
    u->keys = src->nkeys ? xmalloc(sizeof(acl_pattern) * (size_t)src->nkeys) : NULL;
    for (int i = 0; i < src->nkeys; i++) {
        u->keys[i] = src->keys[i];
        u->keys[i].pat = xmemdup(src->keys[i].pat, src->keys[i].len + 1);
    }
    u->channels = src->nchannels ? xmalloc(sizeof(char *) * (size_t)src->nchannels) : NULL;
    for (int i = 0; i < src->nchannels; i++)
        u->channels[i] = xstrdup(src->channels[i]);
    return u;
}

static int find_index(const char *name, size_t len, int *pos)
{
    int lo = 0, hi = nusers;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const char *n = users[mid]->name;
        size_t nl = strlen(n);
        int cmp = memcmp(n, name, nl < len ? nl : len);
        if (cmp == 0)
            cmp = nl < len ? -1 : nl > len ? 1 : 0;
        if (cmp == 0) {
            *pos = mid;
            return 1;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static void insert_user(acl_user *u)
{
    int pos;
    find_index(u->name, strlen(u->name), &pos);
    if (nusers == capusers) {
        capusers = capusers ? capusers * 2 : 8;
        users = xrealloc(users, sizeof(*users) * (size_t)capusers);
    }
    memmove(users + pos + 1, users + pos, sizeof(*users) * (size_t)(nusers - pos));
    users[pos] = u;
    nusers++;
}

acl_user *acl_find(const char *name, size_t len)
{
    int pos;
    return find_index(name, len, &pos) ? users[pos] : NULL;
}

acl_user *acl_default_user(void)
{
    return acl_find("default", 7);
}

acl_user **acl_users(int *n)
{
    *n = nusers;
    return users;
}

int acl_password_ok(const acl_user *u, const char *pass, size_t len)
{
    if (u->flags & ACL_USER_NOPASS)
        return 1;
    unsigned char h[ACL_SHA256_LEN];
    acl_sha256(pass, len, h);
    int ok = 0;
    for (int i = 0; i < u->npass; i++)
        ok |= kvd_consttime_eq(h, sizeof h, u->pass[i], ACL_SHA256_LEN);
    return ok;
}

/* -------------------------------------------------------- command bitmaps */

static void bit_set(acl_user *u, int id, int on)
{
    if (on)
        u->allowed[id >> 6] |= 1ULL << (id & 63);
    else
        u->allowed[id >> 6] &= ~(1ULL << (id & 63));
}

static int bit_get(const acl_user *u, int id)
{
    return (int)((u->allowed[id >> 6] >> (id & 63)) & 1);
}

/* A command and, for a container, every subcommand. */
static void set_command(acl_user *u, kvd_cmd *cmd, int on)
{
    bit_set(u, cmd->id, on);
    for (kvd_cmd *s = cmd->subs; s && s->name; s++)
        bit_set(u, s->id, on);
}

typedef struct cat_ctx {
    acl_user *u;
    uint32_t mask;
    int on;
} cat_ctx;

static void set_category_one(kvd_cmd *cmd, void *ctx)
{
    cat_ctx *cc = ctx;
    if (cmd->catmask & cc->mask)
        bit_set(cc->u, cmd->id, cc->on);
}

/* Remove from u's rule list every earlier rule about target (a later rule
 * about the same commands overrides it entirely); for a container, rules
 * about its subcommands too. */
static void rules_forget(acl_user *u, const char *target, int container)
{
    char *src = u->cmdrules, *out = xmalloc(strlen(src) + 1);
    size_t o = 0, tl = strlen(target);
    char *p = src;
    while (*p) {
        char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *name = p + 1;
        size_t nl = n - 1;
        int same = nl == tl && memcmp(name, target, tl) == 0;
        int sub = container && nl > tl && memcmp(name, target, tl) == 0 && name[tl] == '|';
        if (!same && !sub) {
            if (o)
                out[o++] = ' ';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    out[o] = '\0';
    free(u->cmdrules);
    u->cmdrules = out;
}

static void rules_append(acl_user *u, char sign, const char *target)
{
    size_t old = strlen(u->cmdrules), tl = strlen(target);
    u->cmdrules = xrealloc(u->cmdrules, old + tl + 3);
    char *p = u->cmdrules + old;
    if (old)
        *p++ = ' ';
    *p++ = sign;
    memcpy(p, target, tl + 1);
}

static void set_all_commands(acl_user *u, int on)
{
    memset(u->allowed, on ? 0xff : 0, sizeof u->allowed);
    u->future = on;
    u->cmdrules[0] = '\0';
}

/* "+name", "-name", "+@cat", "-@cat", "+container|sub". */
static int apply_command_rule(acl_user *u, const char *r, size_t n, char *why, size_t whylen)
{
    int on = r[0] == '+';
    char target[128];
    if (n < 2 || n - 1 >= sizeof target) {
        snprintf(why, whylen, "Unknown command or category name in ACL");
        return -1;
    }
    for (size_t i = 1; i < n; i++)
        target[i - 1] = (char)tolower((unsigned char)r[i]);
    target[n - 1] = '\0';
    if (target[0] == '@') {
        if (strcmp(target, "@all") == 0) {
            set_all_commands(u, on);
            return 0;
        }
        int ci = acl_category_index(target + 1, n - 2);
        if (ci < 0) {
            snprintf(why, whylen, "Unknown command or category name in ACL");
            return -1;
        }
        cat_ctx cc = {u, 1u << ci, on};
        cmd_each(set_category_one, &cc);
        rules_forget(u, target, 0);
        rules_append(u, on ? '+' : '-', target);
        return 0;
    }
    kvd_cmd *cmd = cmd_lookup_full(target, n - 1);
    if (!cmd) {
        char *bar = strchr(target, '|');
        if (bar && cmd_lookup_full(target, (size_t)(bar - target)) &&
            !cmd_lookup_full(target, (size_t)(bar - target))->subs)
            snprintf(why, whylen, "kvd does not support first-argument rules (<command>|<first-arg>); "
                                  "only container commands have subcommands");
        else
            snprintf(why, whylen, "Unknown command or category name in ACL");
        return -1;
    }
    set_command(u, cmd, on);
    rules_forget(u, target, cmd->subs != NULL);
    rules_append(u, on ? '+' : '-', target);
    return 0;
}

/* --------------------------------------------------------------- patterns */

/* Patterns may not hold whitespace or NUL: an aclfile line is split at
 * spaces (as Redis says, a syntax error). */
static int has_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\0' || isspace((unsigned char)p[i]))
            return 1;
    return 0;
}

static int add_key_pattern(acl_user *u, const char *p, size_t n, int perms, char *why, size_t whylen)
{
    if (has_space(p, n)) {
        snprintf(why, whylen, "Syntax error");
        return -1;
    }
    if (u->flags & ACL_USER_ALLKEYS) {
        snprintf(why, whylen, "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
                              "does not have any effect. Try 'resetkeys' to start with an empty list of patterns");
        return -1;
    }
    if (n == 1 && p[0] == '*' && perms == (ACL_PERM_READ | ACL_PERM_WRITE)) {
        user_clear_keys(u);
        u->flags |= ACL_USER_ALLKEYS;
        return 0;
    }
    for (int i = 0; i < u->nkeys; i++) {
        if (u->keys[i].len == n && memcmp(u->keys[i].pat, p, n) == 0) {
            u->keys[i].perms |= perms;
            if (n == 1 && p[0] == '*' && u->keys[i].perms == (ACL_PERM_READ | ACL_PERM_WRITE)) {
                /* %R~* and %W~*: every key, both ways, which is allkeys (and
                 * is described, and read back, as ~*). */
                user_clear_keys(u);
                u->flags |= ACL_USER_ALLKEYS;
            }
            return 0;
        }
    }
    u->keys = xrealloc(u->keys, sizeof(acl_pattern) * (size_t)(u->nkeys + 1));
    acl_pattern *k = &u->keys[u->nkeys++];
    k->pat = xmalloc(n + 1);
    memcpy(k->pat, p, n);
    k->pat[n] = '\0';
    k->len = n;
    k->perms = perms;
    return 0;
}

static int add_channel(acl_user *u, const char *p, size_t n, char *why, size_t whylen)
{
    if (has_space(p, n)) {
        snprintf(why, whylen, "Syntax error");
        return -1;
    }
    if (u->flags & ACL_USER_ALLCHANNELS) {
        snprintf(why, whylen, "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid "
                              "and does not have any effect. Try 'resetchannels' to start with an empty list "
                              "of channels");
        return -1;
    }
    if (n == 1 && p[0] == '*') {
        user_clear_channels(u);
        u->flags |= ACL_USER_ALLCHANNELS;
        return 0;
    }
    for (int i = 0; i < u->nchannels; i++)
        if (strlen(u->channels[i]) == n && memcmp(u->channels[i], p, n) == 0)
            return 0;
    u->channels = xrealloc(u->channels, sizeof(char *) * (size_t)(u->nchannels + 1));
    char *c = xmalloc(n + 1);
    memcpy(c, p, n);
    c[n] = '\0';
    u->channels[u->nchannels++] = c;
    return 0;
}

/* -------------------------------------------------------------- passwords */

static int find_hash(const acl_user *u, const unsigned char *h)
{
    for (int i = 0; i < u->npass; i++)
        if (memcmp(u->pass[i], h, ACL_SHA256_LEN) == 0)
            return i;
    return -1;
}

static void add_hash(acl_user *u, const unsigned char *h)
{
    u->flags &= ~ACL_USER_NOPASS;
    if (find_hash(u, h) >= 0)
        return;
    u->pass = xrealloc(u->pass, (size_t)(u->npass + 1) * ACL_SHA256_LEN);
    memcpy(u->pass[u->npass++], h, ACL_SHA256_LEN);
}

static int remove_hash(acl_user *u, const unsigned char *h, char *why, size_t whylen)
{
    u->flags &= ~ACL_USER_NOPASS;
    int i = find_hash(u, h);
    if (i < 0) {
        snprintf(why, whylen, "The password you are trying to remove from the user does not exist");
        return -1;
    }
    memmove(u->pass[i], u->pass[i + 1], (size_t)(u->npass - i - 1) * ACL_SHA256_LEN);
    u->npass--;
    return 0;
}

static int parse_hex_hash(const char *p, size_t n, unsigned char *h, char *why, size_t whylen)
{
    static const char hex[] = "0123456789abcdef";
    if (n != 2 * ACL_SHA256_LEN)
        goto bad;
    for (size_t i = 0; i < n; i += 2) {
        const char *a = memchr(hex, p[i], 16), *b = memchr(hex, p[i + 1], 16);
        if (!p[i] || !p[i + 1] || !a || !b)
            goto bad;
        h[i / 2] = (unsigned char)(((a - hex) << 4) | (b - hex));
    }
    return 0;
bad:
    snprintf(why, whylen, "The password hash must be exactly 64 characters and contain only lowercase "
                          "hexadecimal characters");
    return -1;
}

/* ------------------------------------------------------------------ rules */

static int word_is(const char *r, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(r, w, n) == 0;
}

static void reset_user(acl_user *u)
{
    u->flags &= ~(ACL_USER_ON | ACL_USER_NOPASS | ACL_USER_ALLKEYS | ACL_USER_ALLCHANNELS |
                  ACL_USER_SKIP_SANITIZE);
    u->flags |= ACL_USER_SANITIZE;
    free(u->pass);
    u->pass = NULL;
    u->npass = 0;
    user_clear_keys(u);
    user_clear_channels(u);
    set_all_commands(u, 0);
}

/* Apply one rule to u. On failure why says what is wrong with it. */
static int apply_rule(acl_user *u, const char *r, size_t n, char *why, size_t whylen)
{
    unsigned char h[ACL_SHA256_LEN];
    if (n == 0) {
        snprintf(why, whylen, "Syntax error");
        return -1;
    }
    if (word_is(r, n, "on")) {
        u->flags |= ACL_USER_ON;
    } else if (word_is(r, n, "off")) {
        u->flags &= ~ACL_USER_ON;
    } else if (word_is(r, n, "nopass")) {
        u->flags |= ACL_USER_NOPASS;
        free(u->pass);
        u->pass = NULL;
        u->npass = 0;
    } else if (word_is(r, n, "resetpass")) {
        u->flags &= ~ACL_USER_NOPASS;
        free(u->pass);
        u->pass = NULL;
        u->npass = 0;
    } else if (word_is(r, n, "allkeys") || (n == 2 && r[0] == '~' && r[1] == '*')) {
        user_clear_keys(u);
        u->flags |= ACL_USER_ALLKEYS;
    } else if (word_is(r, n, "resetkeys")) {
        user_clear_keys(u);
        u->flags &= ~ACL_USER_ALLKEYS;
    } else if (word_is(r, n, "allchannels") || (n == 2 && r[0] == '&' && r[1] == '*')) {
        user_clear_channels(u);
        u->flags |= ACL_USER_ALLCHANNELS;
    } else if (word_is(r, n, "resetchannels")) {
        user_clear_channels(u);
        u->flags &= ~ACL_USER_ALLCHANNELS;
    } else if (word_is(r, n, "allcommands")) {
        set_all_commands(u, 1);
    } else if (word_is(r, n, "nocommands")) {
        set_all_commands(u, 0);
    } else if (word_is(r, n, "sanitize-payload")) {
        u->flags = (u->flags & ~ACL_USER_SKIP_SANITIZE) | ACL_USER_SANITIZE;
    } else if (word_is(r, n, "skip-sanitize-payload")) {
        u->flags = (u->flags & ~ACL_USER_SANITIZE) | ACL_USER_SKIP_SANITIZE;
    } else if (word_is(r, n, "reset")) {
        reset_user(u);
    } else if (word_is(r, n, "clearselectors")) {
        /* kvd has no selectors: nothing to clear. */
    } else if (r[0] == '>') {
        acl_sha256(r + 1, n - 1, h);
        add_hash(u, h);
    } else if (r[0] == '<') {
        acl_sha256(r + 1, n - 1, h);
        return remove_hash(u, h, why, whylen);
    } else if (r[0] == '#') {
        if (parse_hex_hash(r + 1, n - 1, h, why, whylen) < 0)
            return -1;
        add_hash(u, h);
    } else if (r[0] == '!') {
        if (parse_hex_hash(r + 1, n - 1, h, why, whylen) < 0)
            return -1;
        return remove_hash(u, h, why, whylen);
    } else if (r[0] == '~') {
        return add_key_pattern(u, r + 1, n - 1, ACL_PERM_READ | ACL_PERM_WRITE, why, whylen);
    } else if (r[0] == '%') {
        int perms = 0;
        size_t i = 1;
        for (; i < n && r[i] != '~'; i++) {
            if (toupper((unsigned char)r[i]) == 'R')
                perms |= ACL_PERM_READ;
            else if (toupper((unsigned char)r[i]) == 'W')
                perms |= ACL_PERM_WRITE;
            else
                break;
        }
        if (i >= n || r[i] != '~' || !perms) {
            snprintf(why, whylen, "Syntax error");
            return -1;
        }
        return add_key_pattern(u, r + i + 1, n - i - 1, perms, why, whylen);
    } else if (r[0] == '&') {
        return add_channel(u, r + 1, n - 1, why, whylen);
    } else if (r[0] == '+' || r[0] == '-') {
        return apply_command_rule(u, r, n, why, whylen);
    } else if (r[0] == '(') {
        snprintf(why, whylen, "kvd does not support selectors");
        return -1;
    } else {
        snprintf(why, whylen, "Syntax error");
        return -1;
    }
    return 0;
}

static int valid_username(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '\0' || isspace((unsigned char)name[i]))
            return 0;
    return 1;
}

/* Print rule r into err for an error message: at most 128 bytes, NULs
 * and control bytes as '?'. */
static void rule_for_message(const char *r, size_t n, char *out, size_t outlen)
{
    size_t m = n < 128 ? n : 128;
    if (m >= outlen)
        m = outlen - 1;
    for (size_t i = 0; i < m; i++)
        out[i] = (unsigned char)r[i] < 0x20 || r[i] == 0x7f ? '?' : r[i];
    out[m] = '\0';
}

static int apply_rules(acl_user *u, int nrules, char **rules, const size_t *lens, char *err, size_t errlen)
{
    for (int i = 0; i < nrules; i++) {
        char why[512];
        if (apply_rule(u, rules[i], lens[i], why, sizeof why) < 0) {
            char shown[130];
            rule_for_message(rules[i], lens[i], shown, sizeof shown);
            snprintf(err, errlen, "Error in ACL SETUSER modifier '%s': %s", shown, why);
            return -1;
        }
    }
    return 0;
}

int acl_setuser(const char *name, size_t nlen, int nrules, char **rules, const size_t *lens, char *err,
                size_t errlen)
{
    if (!valid_username(name, nlen)) {
        snprintf(err, errlen, "Usernames can't contain spaces or null characters");
        return -1;
    }
    acl_user *cur = acl_find(name, nlen);
    acl_user *work = cur ? user_dup(cur) : user_new(name, nlen);
    if (apply_rules(work, nrules, rules, lens, err, errlen) < 0) {
        acl_user_free(work);
        return -1;
    }
    if (!cur) {
        insert_user(work);
        return 0;
    }
    /* Keep cur's address: clients point at it. */
    user_clear(cur);
    free(work->name);
    work->name = cur->name;
    *cur = *work;
    free(work);
    return 0;
}

acl_user *acl_detach(const char *name, size_t len)
{
    int pos;
    if ((len == 7 && memcmp(name, "default", 7) == 0) || !find_index(name, len, &pos))
        return NULL;
    acl_user *u = users[pos];
    memmove(users + pos, users + pos + 1, sizeof(*users) * (size_t)(nusers - pos - 1));
    nusers--;
    return u;
}

static acl_user *make_default(void)
{
    acl_user *u = user_new("default", 7);
    char *rules[] = {"on", "nopass", "~*", "&*", "+@all"};
    size_t lens[] = {2, 6, 2, 2, 5};
    char err[256];
    if (apply_rules(u, 5, rules, lens, err, sizeof err) < 0)
        abort();
    return u;
}

void acl_init(void)
{
    acl_free_all();
    insert_user(make_default());
}

void acl_free_users(acl_user **old, int n)
{
    for (int i = 0; i < n; i++)
        acl_user_free(old[i]);
    free(old);
}

void acl_free_all(void)
{
    acl_free_users(users, nusers);
    users = NULL;
    nusers = capusers = 0;
}

void acl_set_requirepass(const char *pass, size_t len)
{
    acl_user *u = acl_default_user();
    free(u->pass);
    u->pass = NULL;
    u->npass = 0;
    if (len == 0) {
        u->flags |= ACL_USER_NOPASS;
        return;
    }
    unsigned char h[ACL_SHA256_LEN];
    acl_sha256(pass, len, h);
    add_hash(u, h);
}

/* ------------------------------------------------------------- describing */

/* prefix then s: patterns hold no whitespace, so a line split at spaces
 * reads them back. */
static void put_token(buf_t *out, const char *prefix, const char *s, size_t n)
{
    buf_puts(out, prefix);
    buf_append(out, s, n);
}

void acl_describe_keys(const acl_user *u, buf_t *out)
{
    size_t start = out->len;
    if (u->flags & ACL_USER_ALLKEYS) {
        buf_puts(out, "~*");
        return;
    }
    for (int i = 0; i < u->nkeys; i++) {
        const acl_pattern *k = &u->keys[i];
        if (out->len > start)
            buf_putc(out, ' ');
        const char *prefix = k->perms == (ACL_PERM_READ | ACL_PERM_WRITE) ? "~" : k->perms == ACL_PERM_READ ? "%R~" : "%W~";
        put_token(out, prefix, k->pat, k->len);
    }
}

void acl_describe_channels(const acl_user *u, buf_t *out)
{
    if (u->flags & ACL_USER_ALLCHANNELS) {
        buf_puts(out, "&*");
        return;
    }
    for (int i = 0; i < u->nchannels; i++) {
        if (i)
            buf_putc(out, ' ');
        put_token(out, "&", u->channels[i], strlen(u->channels[i]));
    }
}

void acl_describe_commands(const acl_user *u, buf_t *out)
{
    buf_puts(out, u->future ? "+@all" : "-@all");
    if (u->cmdrules[0]) {
        buf_putc(out, ' ');
        buf_puts(out, u->cmdrules);
    }
}

void acl_describe_user(const acl_user *u, buf_t *out)
{
    static const char hex[] = "0123456789abcdef";
    buf_puts(out, "user ");
    buf_puts(out, u->name);
    buf_puts(out, u->flags & ACL_USER_ON ? " on" : " off");
    if (u->flags & ACL_USER_NOPASS)
        buf_puts(out, " nopass");
    if (u->flags & ACL_USER_SANITIZE)
        buf_puts(out, " sanitize-payload");
    if (u->flags & ACL_USER_SKIP_SANITIZE)
        buf_puts(out, " skip-sanitize-payload");
    for (int i = 0; i < u->npass; i++) {
        buf_puts(out, " #");
        for (int j = 0; j < ACL_SHA256_LEN; j++) {
            buf_putc(out, hex[u->pass[i][j] >> 4]);
            buf_putc(out, hex[u->pass[i][j] & 15]);
        }
    }
    if ((u->flags & ACL_USER_ALLKEYS) || u->nkeys) {
        buf_putc(out, ' ');
        acl_describe_keys(u, out);
    }
    buf_putc(out, ' ');
    if ((u->flags & ACL_USER_ALLCHANNELS) || u->nchannels)
        acl_describe_channels(u, out);
    else
        buf_puts(out, "resetchannels");
    buf_putc(out, ' ');
    acl_describe_commands(u, out);
}

/* ------------------------------------------------------------------ check */

static int key_allowed(const acl_user *u, const char *key, size_t len, int needs)
{
    for (int i = 0; i < u->nkeys; i++) {
        const acl_pattern *k = &u->keys[i];
        if ((k->perms & needs) == needs && glob_match(k->pat, k->len, key, len, 0))
            return 1;
    }
    return 0;
}

int acl_channel_allowed(const acl_user *u, const char *ch, size_t len, int is_pattern)
{
    if (u->flags & ACL_USER_ALLCHANNELS)
        return 1;
    for (int i = 0; i < u->nchannels; i++) {
        size_t n = strlen(u->channels[i]);
        if (is_pattern ? n == len && memcmp(u->channels[i], ch, len) == 0
                       : glob_match(u->channels[i], n, ch, len, 0))
            return 1;
    }
    return 0;
}

/* The channels among cmd's arguments. */
static int channels_allowed(const acl_user *u, const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen,
                            int *pos)
{
    int last = cmd->flags & CMD_CHANNEL ? 1 : argc - 1;
    for (int i = 1; i <= last && i < argc; i++) {
        if (!acl_channel_allowed(u, argv[i], argvlen[i], (cmd->flags & CMD_PATTERNS) != 0)) {
            *pos = i;
            return 0;
        }
    }
    return 1;
}

int acl_check(const acl_user *u, const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen, int *keypos)
{
    if (!(cmd->flags & CMD_NOAUTH) && !bit_get(u, cmd->id))
        return ACL_DENIED_CMD;
    if ((cmd->flags & (CMD_CHANNEL | CMD_CHANNELS | CMD_PATTERNS)) &&
        !channels_allowed(u, cmd, argc, argv, argvlen, keypos))
        return ACL_DENIED_CHANNEL;
    if ((u->flags & ACL_USER_ALLKEYS) || cmd->firstkey <= 0)
        return ACL_OK;
    int last = cmd->lastkey < 0 ? argc + cmd->lastkey : cmd->lastkey;
    if (last >= argc)
        last = argc - 1;
    for (int i = cmd->firstkey; i <= last; i += cmd->keystep) {
        if (!key_allowed(u, argv[i], argvlen[i], cmd_key_needs(cmd, argc, argv, argvlen, i))) {
            *keypos = i;
            return ACL_DENIED_KEY;
        }
    }
    return ACL_OK;
}

/* -------------------------------------------------------------- aclfile */

/* Split line[0..n) at spaces and tabs (the aclfile's rule, as Redis
 * reads it): no quoting. Returns the number of words. */
static int split_spaces(char *line, size_t n, char **argv, size_t *argvlen, int max)
{
    int argc = 0;
    size_t i = 0;
    while (i < n && argc < max) {
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i >= n)
            break;
        size_t start = i;
        while (i < n && line[i] != ' ' && line[i] != '\t')
            i++;
        argv[argc] = line + start;
        argvlen[argc++] = i - start;
    }
    return argc;
}

int acl_load_text(const char *text, size_t len, int quoted, const char *origin, acl_user ***old, int *nold,
                  char *err, size_t errlen)
{
    acl_user **saved = users;
    int nsaved = nusers, capsaved = capusers;
    users = NULL;
    nusers = capusers = 0;
    char *line = xmalloc(len + 1);
    /* A line of n bytes has at most n / 2 + 1 words. */
    int maxw = (int)(len / 2 + 2);
    char **argv = xmalloc(sizeof(char *) * (size_t)maxw);
    size_t *argvlen = xmalloc(sizeof(size_t) * (size_t)maxw);
    const char *p = text, *end = text + len;
    int lineno = 0, rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        lineno++;
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl ? nl + 1 : end;
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        size_t sn = n - (size_t)(s - line);
        int argc = quoted ? args_split(s, sn, argv, argvlen, maxw) : split_spaces(s, sn, argv, argvlen, maxw);
        char why[600];
        if (argc < 0) {
            snprintf(why, sizeof why, "unbalanced quotes");
        } else if (argc == 0) {
            continue;
        } else if (!word_is(argv[0], argvlen[0], "user")) {
            snprintf(why, sizeof why, "line should start with user keyword");
        } else if (argc < 2) {
            snprintf(why, sizeof why, "a user line needs a user name");
        } else if (!valid_username(argv[1], argvlen[1])) {
            snprintf(why, sizeof why, "Usernames can't contain spaces or null characters");
        } else if (acl_find(argv[1], argvlen[1])) {
            snprintf(why, sizeof why, "duplicate user '%.*s'", (int)argvlen[1], argv[1]);
        } else {
            acl_user *u = user_new(argv[1], argvlen[1]);
            if (apply_rules(u, argc - 2, argv + 2, argvlen + 2, why, sizeof why) < 0) {
                acl_user_free(u);
            } else {
                insert_user(u);
                continue;
            }
        }
        snprintf(err, errlen, "%s:%d: %s", origin, lineno, why);
        rc = -1;
    }
    free(line);
    free(argv);
    free(argvlen);
    if (rc < 0) {
        acl_free_all();
        users = saved;
        nusers = nsaved;
        capusers = capsaved;
        return -1;
    }
    if (!acl_default_user())
        insert_user(make_default());
    *old = saved;
    *nold = nsaved;
    return 0;
}

int acl_save_file(const char *path)
{
    pool_t pool;
    pool_init(&pool, 4, 1 << 20);
    buf_t b = BUF_INIT(&pool);
    for (int i = 0; i < nusers; i++) {
        acl_describe_user(users[i], &b);
        buf_putc(&b, '\n');
    }
    int rc = kvd_replace_file(path, b.data, b.len, 0600);
    buf_release(&b);
    pool_destroy(&pool);
    return rc;
}
