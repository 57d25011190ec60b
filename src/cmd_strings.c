/* cmd_strings: the string commands: GET, SET and its variants, MGET, MSET,
 * MSETNX, the INCR family, INCRBYFLOAT, APPEND, STRLEN, GETRANGE, SETRANGE. */
#include "config.h"
#include "cmd.h"
#include "db.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_TOO_BIG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

void cmd_get(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    if (e)
        reply_entry_val(c, e);
    else
        reply_nil(c);
}

/* Relative or absolute expiry argument to an absolute unix-ms time.
 * unit_ms is 1000 for seconds, 1 for milliseconds. Replies and returns -1
 * on error. */
static int parse_expire(client *c, const char *arg, size_t len, int unit_ms, int absolute,
                        const char *cmdname, int64_t *out)
{
    long long v;
    if (arg_ll(c, arg, len, &v) < 0)
        return -1;
    if (v <= 0 || (unit_ms == 1000 && v > LLONG_MAX / 1000)) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
        return -1;
    }
    v *= unit_ms;
    if (!absolute) {
        if (v > LLONG_MAX - srv.now_ms) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
            return -1;
        }
        v += srv.now_ms;
    }
    *out = v;
    return 0;
}

#define SET_NX 1
#define SET_XX 2
#define SET_GET 4
#define SET_KEEPTTL 8
#define SET_EXPIRE 16  /* EX, PX, EXAT or PXAT given (or GETEX PERSIST) */
#define SET_PERSIST 32 /* GETEX PERSIST */

/* SET's / GETEX's options, as parsed; the time is checked later (by
 * expiry_of), where Redis checks it. */
typedef struct set_opts {
    int flags;
    int exp_arg;   /* argv index of the EX/PX/EXAT/PXAT value, 0 if none */
    int unit_ms;   /* 1000 for EX and EXAT, 1 for PX and PXAT */
    int absolute;  /* EXAT, PXAT */
} set_opts;

/* Parse SET's / GETEX's options (allow says which the command takes) as
 * Redis does: any conflict or unknown word is a syntax error, whatever the
 * values. Returns 0, or -1 after replying. */
static int parse_set_options(client *c, int argc, char **argv, size_t *argvlen, int first, int allow, set_opts *o)
{
    *o = (set_opts){0};
    char kind[5] = ""; /* which of EX/PX/EXAT/PXAT was given: a repeat overrides */
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        size_t l = argvlen[i];
        int more = i + 1 < argc;
        int is_exp = arg_is(a, l, "ex") || arg_is(a, l, "px") || arg_is(a, l, "exat") || arg_is(a, l, "pxat");
        if ((allow & SET_NX) && arg_is(a, l, "nx") && !(o->flags & SET_XX)) {
            o->flags |= SET_NX;
        } else if ((allow & SET_XX) && arg_is(a, l, "xx") && !(o->flags & SET_NX)) {
            o->flags |= SET_XX;
        } else if ((allow & SET_GET) && arg_is(a, l, "get")) {
            o->flags |= SET_GET;
        } else if ((allow & SET_KEEPTTL) && arg_is(a, l, "keepttl") && !(o->flags & SET_EXPIRE)) {
            o->flags |= SET_KEEPTTL;
        } else if ((allow & SET_PERSIST) && arg_is(a, l, "persist") && !o->exp_arg) {
            o->flags |= SET_EXPIRE | SET_PERSIST;
        } else if (is_exp && more && !(o->flags & (SET_KEEPTTL | SET_PERSIST)) &&
                   (!kind[0] || (strlen(kind) == l && strncasecmp(kind, a, l) == 0))) {
            snprintf(kind, sizeof kind, "%.*s", (int)l, a);
            o->flags |= SET_EXPIRE;
            o->exp_arg = ++i;
            o->unit_ms = a[0] == 'e' || a[0] == 'E' ? 1000 : 1;
            o->absolute = l == 4;
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* The expiry the options ask for (TABLE_NO_EXPIRE for none or PERSIST),
 * checking the time given. Returns 0, or -1 after replying. */
static int expiry_of(client *c, char **argv, size_t *argvlen, const set_opts *o, const char *cmdname, int64_t *exp)
{
    *exp = TABLE_NO_EXPIRE;
    if (!o->exp_arg)
        return 0;
    return parse_expire(c, argv[o->exp_arg], argvlen[o->exp_arg], o->unit_ms, o->absolute, cmdname, exp);
}

void cmd_set(client *c, int argc, char **argv, size_t *argvlen)
{
    set_opts o;
    int64_t exp;
    if (parse_set_options(c, argc, argv, argvlen, 3, SET_NX | SET_XX | SET_GET | SET_KEEPTTL, &o) < 0 ||
        expiry_of(c, argv, argvlen, &o, "set", &exp) < 0)
        return;
    int flags = o.flags;
    tentry_t *old = db_lookup(argv[1], argvlen[1]);
    if (flags & SET_GET) {
        if (old)
            reply_entry_val(c, old);
        else
            reply_nil(c);
    }
    if (((flags & SET_NX) && old) || ((flags & SET_XX) && !old)) {
        if (!(flags & SET_GET))
            reply_nil(c);
        return;
    }
    if ((flags & SET_KEEPTTL) && old)
        exp = tentry_expire(old);
    db_set(argv[1], argvlen[1], argv[2], argvlen[2], exp);
    if (!(flags & SET_GET))
        reply_ok(c);
}

void cmd_setnx(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    if (db_lookup(argv[1], argvlen[1])) {
        reply_int(c, 0);
        return;
    }
    db_set(argv[1], argvlen[1], argv[2], argvlen[2], TABLE_NO_EXPIRE);
    reply_int(c, 1);
}

static void setex_generic(client *c, char **argv, size_t *argvlen, int unit_ms, const char *name)
{
    int64_t exp;
    if (parse_expire(c, argv[2], argvlen[2], unit_ms, 0, name, &exp) < 0)
        return;
    db_set(argv[1], argvlen[1], argv[3], argvlen[3], exp);
    reply_ok(c);
}

void cmd_setex(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    setex_generic(c, argv, argvlen, 1000, "setex");
}

void cmd_psetex(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    setex_generic(c, argv, argvlen, 1, "psetex");
}

void cmd_getset(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *old = db_lookup_read(argv[1], argvlen[1]);
    if (old)
        reply_entry_val(c, old);
    else
        reply_nil(c);
    db_set(argv[1], argvlen[1], argv[2], argvlen[2], TABLE_NO_EXPIRE);
}

void cmd_getdel(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    if (!e) {
        reply_nil(c);
        return;
    }
    reply_entry_val(c, e);
    db_delete_entry(e);
}

void cmd_getex(client *c, int argc, char **argv, size_t *argvlen)
{
    set_opts o;
    int64_t exp;
    if (parse_set_options(c, argc, argv, argvlen, 2, SET_PERSIST, &o) < 0)
        return;
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    if (!e) {
        reply_nil(c); /* as Redis: a missing key answers before the time is checked */
        return;
    }
    if (expiry_of(c, argv, argvlen, &o, "getex", &exp) < 0)
        return;
    reply_entry_val(c, e);
    if (o.flags & SET_EXPIRE) {
        if (exp == TABLE_NO_EXPIRE && tentry_expire(e) == TABLE_NO_EXPIRE)
            return; /* PERSIST on a key without expiry: nothing to log */
        db_set_expire(e, exp);
    }
}

void cmd_mget(client *c, int argc, char **argv, size_t *argvlen)
{
    reply_array(c, argc - 1);
    for (int i = 1; i < argc; i++) {
        tentry_t *e = db_lookup_read(argv[i], argvlen[i]);
        if (e)
            reply_entry_val(c, e);
        else
            reply_nil(c);
    }
}

static void mset_all(int argc, char **argv, size_t *argvlen)
{
    /* One WAL group: after a crash either every key is set or none. */
    db_group((uint32_t)((argc - 1) / 2));
    for (int i = 1; i < argc; i += 2)
        db_set(argv[i], argvlen[i], argv[i + 1], argvlen[i + 1], TABLE_NO_EXPIRE);
}

void cmd_mset(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc % 2 == 0) {
        reply_error(c, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    mset_all(argc, argv, argvlen);
    reply_ok(c);
}

void cmd_msetnx(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc % 2 == 0) {
        reply_error(c, "ERR wrong number of arguments for 'msetnx' command");
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        if (db_lookup(argv[i], argvlen[i])) {
            reply_int(c, 0);
            return;
        }
    }
    mset_all(argc, argv, argvlen);
    reply_int(c, 1);
}

static void incr_generic(client *c, const char *key, size_t klen, long long by)
{
    tentry_t *e = db_lookup(key, klen);
    long long v = 0;
    if (e && kvd_str_to_ll(tentry_val(e), tentry_vlen(e), &v) < 0) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char num[24];
    size_t n = kvd_ll_to_str(num, v);
    if (e)
        db_set_value(e, num, n);
    else
        db_set(key, klen, num, n, TABLE_NO_EXPIRE);
    reply_int(c, v);
}

void cmd_incr(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    incr_generic(c, argv[1], argvlen[1], 1);
}

void cmd_decr(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    incr_generic(c, argv[1], argvlen[1], -1);
}

void cmd_incrby(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long long by;
    if (arg_ll(c, argv[2], argvlen[2], &by) < 0)
        return;
    incr_generic(c, argv[1], argvlen[1], by);
}

void cmd_decrby(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long long by;
    if (arg_ll(c, argv[2], argvlen[2], &by) < 0)
        return;
    if (by == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, argv[1], argvlen[1], -by);
}

/* Parse a long double as Redis does: the whole string (a NUL byte inside
 * makes it no number at all), no leading space, not NaN. Returns 0 or -1. */
static int parse_ld(const char *s, size_t n, long double *out)
{
    char buf[5500];
    if (n == 0 || n >= sizeof buf || memchr(s, '\0', n))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r'))
        return -1;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (*end != '\0' || isnan(v))
        return -1;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0))
        return -1;
    *out = v;
    return 0;
}

/* Format as Redis's INCRBYFLOAT does: 17 digits after the point, trailing
 * zeros (and a bare point) removed. */
static size_t format_ld(char *dst, size_t cap, long double v)
{
    int l = snprintf(dst, cap, "%.17Lf", v);
    if (l < 0 || (size_t)l >= cap)
        return 0;
    if (strchr(dst, '.')) {
        while (dst[l - 1] == '0')
            l--;
        if (dst[l - 1] == '.')
            l--;
    }
    if (l == 2 && dst[0] == '-' && dst[1] == '0') {
        dst[0] = '0';
        l = 1;
    }
    dst[l] = '\0';
    return (size_t)l;
}

void cmd_incrbyfloat(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long double by, v = 0;
    if (parse_ld(argv[2], argvlen[2], &by) < 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    tentry_t *e = db_lookup(argv[1], argvlen[1]);
    if (e && parse_ld(tentry_val(e), tentry_vlen(e), &v) < 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char num[5500];
    size_t n = format_ld(num, sizeof num, v);
    if (n == 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    e = e ? db_set_value(e, num, n) : db_set(argv[1], argvlen[1], num, n, TABLE_NO_EXPIRE);
    e->enc = TENTRY_ENC_EMBSTR; /* Redis makes a plain string of it, even of "10" */
    reply_bulk(c, num, n);
}

void cmd_append(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *e = db_lookup(argv[1], argvlen[1]);
    size_t old = e ? tentry_vlen(e) : 0;
    size_t max = (size_t)srv.cfg.proto_max_bulk_len;
    if (old > max || argvlen[2] > max - old) {
        reply_error(c, ERR_TOO_BIG);
        return;
    }
    e = db_append(argv[1], argvlen[1], argv[2], argvlen[2]);
    reply_int(c, (long long)tentry_vlen(e));
}

void cmd_strlen(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    reply_int(c, e ? (long long)tentry_vlen(e) : 0);
}

void cmd_getrange(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long long start, end;
    if (arg_ll(c, argv[2], argvlen[2], &start) < 0 || arg_ll(c, argv[3], argvlen[3], &end) < 0)
        return;
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    if (!e) {
        reply_bulk(c, "", 0);
        return;
    }
    long long len = (long long)tentry_vlen(e);
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (start > end || len == 0) {
        reply_bulk(c, "", 0);
        return;
    }
    reply_bulk(c, tentry_val(e) + start, (size_t)(end - start + 1));
}

void cmd_setrange(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long long off;
    if (arg_ll(c, argv[2], argvlen[2], &off) < 0)
        return;
    if (off < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    tentry_t *e = db_lookup(argv[1], argvlen[1]);
    size_t n = argvlen[3];
    if (n == 0) {
        reply_int(c, e ? (long long)tentry_vlen(e) : 0);
        return;
    }
    /* off + n without overflow: off is at most LLONG_MAX. */
    if (off > srv.cfg.proto_max_bulk_len || (long long)n > srv.cfg.proto_max_bulk_len - off) {
        reply_error(c, ERR_TOO_BIG);
        return;
    }
    /* Logged as the range written, not the whole value. */
    e = db_setrange(argv[1], argvlen[1], (uint64_t)off, argv[3], n);
    reply_int(c, (long long)tentry_vlen(e));
}
