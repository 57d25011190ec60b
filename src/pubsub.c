/* pubsub: channels, patterns, and the commands. See pubsub.h. */
#include "config.h"
#include "pubsub.h"
#include "acl.h"
#include "cmd.h"
#include "conn.h"
#include "glob.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A channel with subscribers, in a chained hash table that doubles. */
typedef struct chan {
    char *name;
    size_t len;
    client **subs;            /* in subscription order */
    int n, cap;
    struct chan *next;
} chan;

/* A pattern subscription: one per (client, pattern). */
typedef struct pat {
    char *p;
    size_t len;
    client *c;
} pat;

/* What one client is subscribed to. */
typedef struct pubsub_state {
    chan **chans;             /* in subscription order */
    int nchans, capchans;
    char **pats;              /* its patterns (copies), in subscription order */
    size_t *patlens;
    int npats, cappats;
} pubsub_state;

static chan **buckets;
static size_t nbuckets, nchannels;
static pat *pats;             /* every pattern subscription, in order */
static size_t npats, cappats;
static size_t nclients;       /* clients with at least one subscription */
static uint64_t seed[2] = {0x7075627375622121ULL, 0x6b76642d63686e73ULL};

static size_t slot(const char *name, size_t len)
{
    return kvd_siphash(name, len, seed) & (nbuckets - 1);
}

static chan *find_chan(const char *name, size_t len)
{
    if (!nbuckets)
        return NULL;
    for (chan *ch = buckets[slot(name, len)]; ch; ch = ch->next)
        if (ch->len == len && memcmp(ch->name, name, len) == 0)
            return ch;
    return NULL;
}

static void grow(void)
{
    size_t old = nbuckets;
    chan **ob = buckets;
    nbuckets = old ? old * 2 : 64;
    buckets = xcalloc(nbuckets, sizeof(*buckets));
    for (size_t i = 0; i < old; i++) {
        for (chan *ch = ob[i], *next; ch; ch = next) {
            next = ch->next;
            size_t s = slot(ch->name, ch->len);
            ch->next = buckets[s];
            buckets[s] = ch;
        }
    }
    free(ob);
}

static chan *add_chan(const char *name, size_t len)
{
    if (nchannels >= nbuckets)
        grow();
    chan *ch = xcalloc(1, sizeof(*ch));
    ch->name = xmemdup(name, len ? len : 1);
    ch->len = len;
    size_t s = slot(name, len);
    ch->next = buckets[s];
    buckets[s] = ch;
    nchannels++;
    return ch;
}

static void del_chan(chan *ch)
{
    chan **pp = &buckets[slot(ch->name, ch->len)];
    while (*pp != ch)
        pp = &(*pp)->next;
    *pp = ch->next;
    free(ch->name);
    free(ch->subs);
    free(ch);
    nchannels--;
}

static pubsub_state *state(client *c)
{
    if (!c->pubsub)
        c->pubsub = xcalloc(1, sizeof(pubsub_state));
    return c->pubsub;
}

int pubsub_count(const client *c)
{
    return c->pubsub ? c->pubsub->nchans + c->pubsub->npats : 0;
}

int pubsub_channels_of(const client *c)
{
    return c->pubsub ? c->pubsub->nchans : 0;
}

int pubsub_patterns_of(const client *c)
{
    return c->pubsub ? c->pubsub->npats : 0;
}

size_t pubsub_nchannels(void)
{
    return nchannels;
}

size_t pubsub_npatterns(void)
{
    return npats;
}

size_t pubsub_nclients(void)
{
    return nclients;
}

/* Count c in or out of nclients around a change of its subscriptions. */
static void count_before(const client *c, int *had)
{
    *had = pubsub_count(c) > 0;
}

static void count_after(const client *c, int had)
{
    int has = pubsub_count(c) > 0;
    if (has && !had)
        nclients++;
    else if (had && !has)
        nclients--;
}

/* ---- subscribing ---- */

/* Subscribe c to a channel; 0 if it already was. */
static int subscribe(client *c, const char *name, size_t len)
{
    pubsub_state *s = state(c);
    chan *ch = find_chan(name, len);
    if (ch)
        for (int i = 0; i < s->nchans; i++)
            if (s->chans[i] == ch)
                return 0;
    if (!ch)
        ch = add_chan(name, len);
    if (ch->n == ch->cap) {
        ch->cap = ch->cap ? ch->cap * 2 : 4;
        ch->subs = xrealloc(ch->subs, sizeof(client *) * (size_t)ch->cap);
    }
    ch->subs[ch->n++] = c;
    if (s->nchans == s->capchans) {
        s->capchans = s->capchans ? s->capchans * 2 : 4;
        s->chans = xrealloc(s->chans, sizeof(chan *) * (size_t)s->capchans);
    }
    s->chans[s->nchans++] = ch;
    return 1;
}

/* Unsubscribe c from its i-th channel. */
static void unsubscribe_at(client *c, int i)
{
    pubsub_state *s = c->pubsub;
    chan *ch = s->chans[i];
    memmove(&s->chans[i], &s->chans[i + 1], sizeof(chan *) * (size_t)(s->nchans - i - 1));
    s->nchans--;
    for (int j = 0; j < ch->n; j++) {
        if (ch->subs[j] == c) {
            memmove(&ch->subs[j], &ch->subs[j + 1], sizeof(client *) * (size_t)(ch->n - j - 1));
            ch->n--;
            break;
        }
    }
    if (ch->n == 0)
        del_chan(ch);
}

static int psubscribe(client *c, const char *p, size_t len)
{
    pubsub_state *s = state(c);
    for (int i = 0; i < s->npats; i++)
        if (s->patlens[i] == len && memcmp(s->pats[i], p, len) == 0)
            return 0;
    char *copy = xmemdup(p, len ? len : 1);
    if (s->npats == s->cappats) {
        s->cappats = s->cappats ? s->cappats * 2 : 4;
        s->pats = xrealloc(s->pats, sizeof(char *) * (size_t)s->cappats);
        s->patlens = xrealloc(s->patlens, sizeof(size_t) * (size_t)s->cappats);
    }
    s->pats[s->npats] = copy;
    s->patlens[s->npats++] = len;
    if (npats == cappats) {
        cappats = cappats ? cappats * 2 : 8;
        pats = xrealloc(pats, sizeof(pat) * cappats);
    }
    pats[npats++] = (pat){copy, len, c};
    return 1;
}

static void punsubscribe_at(client *c, int i)
{
    pubsub_state *s = c->pubsub;
    char *p = s->pats[i];
    for (size_t j = 0; j < npats; j++) {
        if (pats[j].p == p) {
            memmove(&pats[j], &pats[j + 1], sizeof(pat) * (npats - j - 1));
            npats--;
            break;
        }
    }
    free(p);
    memmove(&s->pats[i], &s->pats[i + 1], sizeof(char *) * (size_t)(s->npats - i - 1));
    memmove(&s->patlens[i], &s->patlens[i + 1], sizeof(size_t) * (size_t)(s->npats - i - 1));
    s->npats--;
}

void pubsub_free(client *c)
{
    pubsub_state *s = c->pubsub;
    if (!s)
        return;
    int had;
    count_before(c, &had);
    while (s->nchans)
        unsubscribe_at(c, s->nchans - 1);
    while (s->npats)
        punsubscribe_at(c, s->npats - 1);
    count_after(c, had);
    free(s->chans);
    free(s->pats);
    free(s->patlens);
    free(s);
    c->pubsub = NULL;
}

void pubsub_shutdown(void)
{
    for (size_t i = 0; i < nbuckets; i++)
        while (buckets[i])
            del_chan(buckets[i]);
    free(buckets);
    buckets = NULL;
    nbuckets = 0;
    free(pats);
    pats = NULL;
    npats = cappats = 0;
}

/* ---- replies ---- */

/* The header of a message or (un)subscribe confirmation: a push in
 * RESP3, an array in RESP2. */
static void push_header(client *c, int n)
{
    resp_add_header(&c->out, c->resp == 3 ? '>' : '*', n);
}

static void confirm(client *c, const char *kind, const char *name, size_t len)
{
    push_header(c, 3);
    reply_bulk_str(c, kind);
    if (name)
        reply_bulk(c, name, len);
    else
        reply_nil(c);
    reply_int(c, pubsub_count(c));
}

/* A message to a subscriber: appended to its output, sent with the rest. */
static void deliver(client *to, const char *pattern, size_t plen, const char *ch, size_t chlen, const char *msg,
                    size_t mlen)
{
    if (to->flags & (CLIENT_CLOSING | CLIENT_CLOSE_AFTER_REPLY | CLIENT_LINGER))
        return;
    push_header(to, pattern ? 4 : 3);
    if (pattern) {
        reply_bulk_str(to, "pmessage");
        reply_bulk(to, pattern, plen);
    } else {
        reply_bulk_str(to, "message");
    }
    reply_bulk(to, ch, chlen);
    reply_bulk(to, msg, mlen);
    conn_send_later(to);
}

/* ---- the commands ---- */

void cmd_subscribe(client *c, int argc, char **argv, size_t *argvlen)
{
    int had;
    count_before(c, &had);
    for (int i = 1; i < argc; i++) {
        subscribe(c, argv[i], argvlen[i]);
        confirm(c, "subscribe", argv[i], argvlen[i]);
    }
    count_after(c, had);
}

void cmd_psubscribe(client *c, int argc, char **argv, size_t *argvlen)
{
    int had;
    count_before(c, &had);
    for (int i = 1; i < argc; i++) {
        psubscribe(c, argv[i], argvlen[i]);
        confirm(c, "psubscribe", argv[i], argvlen[i]);
    }
    count_after(c, had);
}

/* c's i-th channel (patterns 0) or pattern (1), and how many it has. */
static int sub_count(const pubsub_state *s, int patterns)
{
    return !s ? 0 : patterns ? s->npats : s->nchans;
}

static void sub_name(const pubsub_state *s, int patterns, int i, const char **name, size_t *len)
{
    *name = patterns ? s->pats[i] : s->chans[i]->name;
    *len = patterns ? s->patlens[i] : s->chans[i]->len;
}

/* UNSUBSCRIBE and PUNSUBSCRIBE: the ones named (each confirmed, even if c
 * had no such subscription), or all of them newest first (one
 * confirmation with a null when there were none). */
static void unsubscribe_cmd(client *c, int argc, char **argv, size_t *argvlen, int patterns)
{
    const char *kind = patterns ? "punsubscribe" : "unsubscribe";
    int had;
    count_before(c, &had);
    pubsub_state *s = c->pubsub;
    if (argc == 1 && !sub_count(s, patterns))
        confirm(c, kind, NULL, 0);
    while (argc == 1 && sub_count(s, patterns)) {
        int i = sub_count(s, patterns) - 1;
        const char *name;
        size_t len;
        sub_name(s, patterns, i, &name, &len);
        char *copy = xmemdup(name, len ? len : 1); /* the removal frees it */
        if (patterns)
            punsubscribe_at(c, i);
        else
            unsubscribe_at(c, i);
        confirm(c, kind, copy, len);
        free(copy);
    }
    for (int a = 1; a < argc; a++) {
        for (int i = 0; i < sub_count(s, patterns); i++) {
            const char *name;
            size_t len;
            sub_name(s, patterns, i, &name, &len);
            if (len == argvlen[a] && memcmp(name, argv[a], len) == 0) {
                if (patterns)
                    punsubscribe_at(c, i);
                else
                    unsubscribe_at(c, i);
                break;
            }
        }
        confirm(c, kind, argv[a], argvlen[a]);
    }
    count_after(c, had);
}

void cmd_unsubscribe(client *c, int argc, char **argv, size_t *argvlen)
{
    unsubscribe_cmd(c, argc, argv, argvlen, 0);
}

void cmd_punsubscribe(client *c, int argc, char **argv, size_t *argvlen)
{
    unsubscribe_cmd(c, argc, argv, argvlen, 1);
}

void cmd_publish(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long long receivers = 0;
    chan *ch = find_chan(argv[1], argvlen[1]);
    for (int i = 0; ch && i < ch->n; i++, receivers++)
        deliver(ch->subs[i], NULL, 0, argv[1], argvlen[1], argv[2], argvlen[2]);
    for (size_t i = 0; i < npats; i++) {
        if (glob_match(pats[i].p, pats[i].len, argv[1], argvlen[1], 0)) {
            deliver(pats[i].c, pats[i].p, pats[i].len, argv[1], argvlen[1], argv[2], argvlen[2]);
            receivers++;
        }
    }
    reply_int(c, receivers);
}

typedef struct chan_list {
    chan **v;
    size_t n, cap;
} chan_list;

void cmd_pubsub(client *c, int argc, char **argv, size_t *argvlen)
{
    const char *sub = argv[1];
    size_t sl = argvlen[1];
    if (arg_is(sub, sl, "help") && argc == 2) {
        static const char *const help[] = {
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help."};
        reply_lines(c, help, KVD_ARRAY_SIZE(help));
    } else if (arg_is(sub, sl, "channels") || arg_is(sub, sl, "shardchannels")) {
        if (argc > 3) {
            reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB HELP.",
                         (int)(sl > 128 ? 128 : sl), sub);
            return;
        }
        if (arg_is(sub, sl, "shardchannels")) {
            reply_array(c, 0); /* no cluster, no shard channels */
            return;
        }
        chan_list l = {0};
        for (size_t b = 0; b < nbuckets; b++) {
            for (chan *ch = buckets[b]; ch; ch = ch->next) {
                if (argc == 3 && !glob_match(argv[2], argvlen[2], ch->name, ch->len, 0))
                    continue;
                if (l.n == l.cap) {
                    l.cap = l.cap ? l.cap * 2 : 16;
                    l.v = xrealloc(l.v, sizeof(chan *) * l.cap);
                }
                l.v[l.n++] = ch;
            }
        }
        reply_array(c, (long long)l.n);
        for (size_t i = 0; i < l.n; i++)
            reply_bulk(c, l.v[i]->name, l.v[i]->len);
        free(l.v);
    } else if (arg_is(sub, sl, "numsub")) {
        reply_array(c, 2 * (argc - 2)); /* an array in RESP3 too (Redis 7.0) */
        for (int i = 2; i < argc; i++) {
            chan *ch = find_chan(argv[i], argvlen[i]);
            reply_bulk(c, argv[i], argvlen[i]);
            reply_int(c, ch ? ch->n : 0);
        }
    } else if (arg_is(sub, sl, "numpat") && argc == 2) {
        reply_int(c, (long long)npats);
    } else if (arg_is(sub, sl, "shardnumsub")) {
        reply_array(c, 2 * (argc - 2)); /* an array in RESP3 too (Redis 7.0) */
        for (int i = 2; i < argc; i++) {
            reply_bulk(c, argv[i], argvlen[i]);
            reply_int(c, 0);
        }
    } else {
        static const char *const known[] = {"channels", "numsub", "numpat", "shardchannels", "shardnumsub", "help",
                                            NULL};
        reply_subcommand_error(c, "pubsub", sub, sl, known);
    }
}

/* ---- ACL ---- */

static int client_allowed(const client *c)
{
    const pubsub_state *s = c->pubsub;
    for (int i = 0; i < s->nchans; i++)
        if (!acl_channel_allowed(c->user, s->chans[i]->name, s->chans[i]->len, 0))
            return 0;
    for (int i = 0; i < s->npats; i++)
        if (!acl_channel_allowed(c->user, s->pats[i], s->patlens[i], 1))
            return 0;
    return 1;
}

void pubsub_check_acl(client *self)
{
    if (!nclients)
        return;
    client *c;
    LIST_EACH(&srv.clients, client, all, c) {
        if (pubsub_count(c) && !(c->flags & CLIENT_CLOSING) && !client_allowed(c)) {
            log_notice("closing client id=%llu addr=%s: its user may no longer use the channels it is "
                       "subscribed to",
                       (unsigned long long)c->id, c->addr);
            if (c == self)
                conn_close_after_reply(c);
            else
                conn_close(c);
        }
    }
}
