/* cmd_bits: the bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
 * BITFIELD, BITFIELD_RO) and LCS, as Redis 7.0 answers them. Bit 0 is the
 * most significant bit of the first byte. Writes are logged as the byte
 * range they change (a setrange), not the whole value. */
#include "config.h"
#include "cmd.h"
#include "db.h"
#include "util.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE "ERR bit is not an integer or out of range"

/* A bit offset argument: a non-negative integer whose byte is within
 * proto-max-bulk-len; with hash, "#N" means N * bits (BITFIELD). */
static int bit_offset(client *c, const char *s, size_t n, int hash, int bits, uint64_t *out)
{
    int usehash = hash && n > 1 && s[0] == '#';
    long long v;
    if (kvd_str_to_ll(s + usehash, n - (size_t)usehash, &v) < 0 ||
        (usehash && __builtin_mul_overflow(v, (long long)bits, &v)) || v < 0 ||
        (v >> 3) >= srv.cfg.proto_max_bulk_len) {
        reply_error(c, ERR_BIT_OFFSET);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int get_bit(const unsigned char *p, size_t len, uint64_t bit)
{
    uint64_t byte = bit >> 3;
    return byte < len ? (p[byte] >> (7 - (bit & 7))) & 1 : 0;
}

static long long popcount(const unsigned char *p, size_t n)
{
    long long count = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        count += __builtin_popcountll(w);
    }
    for (; i < n; i++)
        count += __builtin_popcount(p[i]);
    return count;
}

/* Store a bit command's n bytes at off of key's value (e: the entry, or
 * NULL). As Redis, bytes that are there already in a string long enough
 * are not stored (nothing logged, WATCH untouched); but Redis unshares
 * the string before it looks, so it is left raw either way. */
static void bits_store(const char *key, size_t klen, tentry_t *e, uint64_t off, const void *p, size_t n, int changed)
{
    if (changed || !e || off + n > tentry_vlen(e))
        db_setrange(key, klen, off, p, n);
    else
        e->enc = TENTRY_ENC_RAW;
}

void cmd_setbit(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    uint64_t off;
    long long on;
    if (bit_offset(c, argv[2], argvlen[2], 0, 0, &off) < 0)
        return;
    if (kvd_str_to_ll(argv[3], argvlen[3], &on) < 0 || (on & ~1LL)) {
        reply_error(c, ERR_BIT_VALUE);
        return;
    }
    tentry_t *e = db_lookup(argv[1], argvlen[1]);
    size_t len = e ? tentry_vlen(e) : 0;
    uint64_t byte = off >> 3;
    int shift = 7 - (int)(off & 7);
    unsigned char old = byte < len ? (unsigned char)tentry_val(e)[byte] : 0;
    int bit = (old >> shift) & 1;
    unsigned char nb = (unsigned char)((old & ~(1u << shift)) | ((unsigned)on << shift));
    bits_store(argv[1], argvlen[1], e, byte, &nb, 1, bit != on);
    reply_int(c, bit);
}

void cmd_getbit(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    uint64_t off;
    if (bit_offset(c, argv[2], argvlen[2], 0, 0, &off) < 0)
        return;
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    reply_int(c, e ? get_bit((const unsigned char *)tentry_val(e), tentry_vlen(e), off) : 0);
}

/* The [start, end] range of BITCOUNT and BITPOS in bits, from byte or bit
 * indexes that may be negative (from the end). Returns 0 with an empty
 * range as *s > *e. */
static void bit_range(long long start, long long end, int isbit, long long len, long long *s, long long *e)
{
    long long total = isbit ? len * 8 : len;
    if (start < 0)
        start += total;
    if (end < 0)
        end += total;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= total)
        end = total - 1;
    if (start > end) {
        /* Empty, and start may still be anything up to LLONG_MAX. */
        *s = 0;
        *e = -1;
    } else if (isbit) {
        *s = start;
        *e = end;
    } else {
        *s = start * 8; /* both within the value now */
        *e = end * 8 + 7;
    }
}

/* BYTE or BIT: 0, 1, or -1 (and a syntax error replied). */
static int unit_arg(client *c, const char *s, size_t n)
{
    if (arg_is(s, n, "bit"))
        return 1;
    if (arg_is(s, n, "byte"))
        return 0;
    reply_error(c, ERR_SYNTAX);
    return -1;
}

void cmd_bitcount(client *c, int argc, char **argv, size_t *argvlen)
{
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    if (!e) {
        reply_int(c, 0);
        return;
    }
    const unsigned char *p = (const unsigned char *)tentry_val(e);
    long long len = (long long)tentry_vlen(e), s, t;
    if (argc == 2) {
        reply_int(c, popcount(p, (size_t)len));
        return;
    }
    if (argc != 4 && argc != 5) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long start, end;
    if (arg_ll(c, argv[2], argvlen[2], &start) < 0 || arg_ll(c, argv[3], argvlen[3], &end) < 0)
        return;
    if (start < 0 && end < 0 && start > end) {
        reply_int(c, 0);
        return;
    }
    int isbit = 0;
    if (argc == 5 && (isbit = unit_arg(c, argv[4], argvlen[4])) < 0)
        return;
    bit_range(start, end, isbit, len, &s, &t);
    if (s > t) {
        reply_int(c, 0);
        return;
    }
    /* Whole bytes in the middle, single bits at the edges. */
    long long count = 0, b = s;
    for (; b <= t && (b & 7); b++)
        count += get_bit(p, (size_t)len, (uint64_t)b);
    long long whole = (t + 1 - b) / 8;
    count += popcount(p + b / 8, (size_t)whole);
    for (b += whole * 8; b <= t; b++)
        count += get_bit(p, (size_t)len, (uint64_t)b);
    reply_int(c, count);
}

void cmd_bitpos(client *c, int argc, char **argv, size_t *argvlen)
{
    long long bit;
    if (arg_ll(c, argv[2], argvlen[2], &bit) < 0)
        return;
    if (bit != 0 && bit != 1) {
        reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    tentry_t *e = db_lookup_read(argv[1], argvlen[1]);
    if (!e) {
        /* An infinite run of zeros. */
        reply_int(c, bit ? -1 : 0);
        return;
    }
    const unsigned char *p = (const unsigned char *)tentry_val(e);
    long long len = (long long)tentry_vlen(e), s, t;
    int isbit = 0, end_given = 0;
    if (argc > 6) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    if (argc == 3) {
        s = 0;
        t = len * 8 - 1;
    } else {
        long long start, end;
        if (arg_ll(c, argv[3], argvlen[3], &start) < 0)
            return;
        if (argc == 6 && (isbit = unit_arg(c, argv[5], argvlen[5])) < 0)
            return;
        if (argc >= 5) {
            if (arg_ll(c, argv[4], argvlen[4], &end) < 0)
                return;
            end_given = 1;
        } else {
            end = isbit ? len * 8 - 1 : len - 1;
        }
        bit_range(start, end, isbit, len, &s, &t);
    }
    if (s > t) {
        reply_int(c, -1);
        return;
    }
    unsigned char skip = bit ? 0x00 : 0xff;
    for (long long b = s; b <= t;) {
        if (!(b & 7) && b + 7 <= t && p[b / 8] == skip) {
            b += 8;
            continue;
        }
        if (get_bit(p, (size_t)len, (uint64_t)b) == bit) {
            reply_int(c, b);
            return;
        }
        b++;
    }
    /* Looking for a 0 with no end given: the string goes on with zeros. */
    reply_int(c, bit == 0 && !end_given ? t + 1 : -1);
}

void cmd_bitop(client *c, int argc, char **argv, size_t *argvlen)
{
    enum { AND, OR, XOR, NOT } op;
    if (arg_is(argv[1], argvlen[1], "and"))
        op = AND;
    else if (arg_is(argv[1], argvlen[1], "or"))
        op = OR;
    else if (arg_is(argv[1], argvlen[1], "xor"))
        op = XOR;
    else if (arg_is(argv[1], argvlen[1], "not"))
        op = NOT;
    else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int nsrc = argc - 3;
    if (op == NOT && nsrc != 1) {
        reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    size_t maxlen = 0;
    const unsigned char **src = xmalloc(sizeof(*src) * (size_t)nsrc);
    size_t *lens = xmalloc(sizeof(size_t) * (size_t)nsrc);
    for (int i = 0; i < nsrc; i++) {
        tentry_t *e = db_lookup_read(argv[3 + i], argvlen[3 + i]);
        src[i] = e ? (const unsigned char *)tentry_val(e) : NULL;
        lens[i] = e ? tentry_vlen(e) : 0;
        if (lens[i] > maxlen)
            maxlen = lens[i];
    }
    unsigned char *out = maxlen ? xmalloc(maxlen) : NULL;
    for (size_t j = 0; j < maxlen; j++) {
        unsigned char v = j < lens[0] ? src[0][j] : 0;
        if (op == NOT)
            v = (unsigned char)~v;
        for (int i = 1; i < nsrc; i++) {
            unsigned char w = j < lens[i] ? src[i][j] : 0;
            v = op == AND ? (unsigned char)(v & w) : op == OR ? (unsigned char)(v | w) : (unsigned char)(v ^ w);
        }
        out[j] = v;
    }
    /* The sources may include the destination: they are read before it is written. */
    if (maxlen)
        db_set(argv[2], argvlen[2], (const char *)out, maxlen, TABLE_NO_EXPIRE)->enc = TENTRY_ENC_RAW;
    else if (db_peek(argv[2], argvlen[2]))
        db_delete(argv[2], argvlen[2]);
    free(out);
    free(src);
    free(lens);
    reply_int(c, (long long)maxlen);
}

/* ---- BITFIELD ---- */

enum { BF_GET, BF_SET, BF_INCRBY };
enum { OV_WRAP, OV_SAT, OV_FAIL };

typedef struct bf_op {
    int op, sign, bits, overflow;
    uint64_t offset;
    long long value;
} bf_op;

/* Read bits bits at bit offset off of p (zero past len), unsigned. */
static uint64_t bf_get(const unsigned char *p, size_t len, uint64_t off, int bits)
{
    uint64_t v = 0;
    for (int i = 0; i < bits; i++)
        v = (v << 1) | (uint64_t)get_bit(p, len, off + (uint64_t)i);
    return v;
}

static void bf_set(unsigned char *p, uint64_t off, int bits, uint64_t v)
{
    for (int i = 0; i < bits; i++) {
        uint64_t b = off + (uint64_t)i;
        int shift = 7 - (int)(b & 7);
        int on = (int)((v >> (bits - 1 - i)) & 1);
        p[b >> 3] = (unsigned char)((p[b >> 3] & ~(1u << shift)) | ((unsigned)on << shift));
    }
}

static int64_t sign_extend(uint64_t v, int bits)
{
    if (bits < 64 && (v & (1ULL << (bits - 1))))
        v |= ~0ULL << bits;
    return (int64_t)v;
}

/* value + incr in an unsigned field of bits bits: the result in *out and
 * 0, or 1/-1 on overflow up/down (with *out the wrapped or saturated
 * value, as the policy says). */
static int bf_add_unsigned(uint64_t value, int64_t incr, int bits, int policy, uint64_t *out)
{
    uint64_t max = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
    int over = 0;
    if (value > max || (incr > 0 && (uint64_t)incr > max - value))
        over = 1;
    else if (incr < 0 && (uint64_t)0 - (uint64_t)incr > value)
        over = -1;
    uint64_t sum = value + (uint64_t)incr;
    if (!over || policy == OV_WRAP)
        *out = bits == 64 ? sum : sum & max;
    else
        *out = over > 0 ? max : 0;
    return over;
}

static int bf_add_signed(int64_t value, int64_t incr, int bits, int policy, int64_t *out)
{
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((1ULL << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int over = 0;
    if (value > max || (incr > 0 && value > max - incr))
        over = 1;
    else if (value < min || (incr < 0 && value < min - incr))
        over = -1;
    if (!over || policy == OV_WRAP) {
        uint64_t sum = (uint64_t)value + (uint64_t)incr;
        *out = sign_extend(bits == 64 ? sum : sum & ((1ULL << bits) - 1), bits);
    } else {
        *out = over > 0 ? max : min;
    }
    return over;
}

static void bitfield(client *c, int argc, char **argv, size_t *argvlen, int readonly)
{
    bf_op *ops = xmalloc(sizeof(bf_op) * (size_t)(argc / 2 + 1));
    int nops = 0, overflow = OV_WRAP, writes = 0;
    for (int i = 2; i < argc; i++) {
        int more = argc - i - 1;
        int op = arg_is(argv[i], argvlen[i], "get") && more >= 2      ? BF_GET
                 : arg_is(argv[i], argvlen[i], "set") && more >= 3    ? BF_SET
                 : arg_is(argv[i], argvlen[i], "incrby") && more >= 3 ? BF_INCRBY
                                                                      : -1;
        if (op < 0 && arg_is(argv[i], argvlen[i], "overflow") && more >= 1) {
            i++;
            if (arg_is(argv[i], argvlen[i], "wrap"))
                overflow = OV_WRAP;
            else if (arg_is(argv[i], argvlen[i], "sat"))
                overflow = OV_SAT;
            else if (arg_is(argv[i], argvlen[i], "fail"))
                overflow = OV_FAIL;
            else {
                reply_error(c, "ERR Invalid OVERFLOW type specified");
                goto out;
            }
            continue;
        }
        if (op < 0) {
            reply_error(c, ERR_SYNTAX);
            goto out;
        }
        bf_op *o = &ops[nops];
        o->op = op;
        o->overflow = overflow;
        /* The type: i1..i64 or u1..u63. */
        const char *t = argv[i + 1];
        long long bits;
        o->sign = argvlen[i + 1] > 1 && t[0] == 'i';
        if (argvlen[i + 1] < 2 || (t[0] != 'i' && t[0] != 'u') ||
            kvd_str_to_ll(t + 1, argvlen[i + 1] - 1, &bits) < 0 || bits < 1 || bits > (o->sign ? 64 : 63)) {
            reply_error(c, "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported "
                           "but i64 is.");
            goto out;
        }
        o->bits = (int)bits;
        if (bit_offset(c, argv[i + 2], argvlen[i + 2], 1, o->bits, &o->offset) < 0)
            goto out;
        if (op != BF_GET) {
            if (arg_ll(c, argv[i + 3], argvlen[i + 3], &o->value) < 0)
                goto out;
            writes++;
        }
        nops++;
        i += op == BF_GET ? 2 : 3;
    }
    if (readonly && writes) {
        reply_error(c, "ERR BITFIELD_RO only supports the GET subcommand");
        goto out;
    }
    /* Work on a copy of the bytes the operations touch; then log the
     * bytes the writes cover, as one setrange. */
    tentry_t *e = writes ? db_lookup(argv[1], argvlen[1]) : db_lookup_read(argv[1], argvlen[1]);
    size_t len = e ? tentry_vlen(e) : 0;
    uint64_t lo = UINT64_MAX, hi = 0, wlo = UINT64_MAX, whi = 0;
    for (int k = 0; k < nops; k++) {
        uint64_t a = ops[k].offset >> 3, b = (ops[k].offset + (uint64_t)ops[k].bits - 1) >> 3;
        if (a < lo)
            lo = a;
        if (b > hi)
            hi = b;
        if (ops[k].op != BF_GET) {
            if (a < wlo)
                wlo = a;
            if (b > whi)
                whi = b;
        }
    }
    size_t span = nops ? (size_t)(hi - lo + 1) : 0;
    unsigned char *w = xcalloc(span ? span : 1, 1);
    if (e && lo < len)
        memcpy(w, tentry_val(e) + lo, (size_t)(len - lo < span ? len - lo : span));
    reply_array(c, nops);
    int changed = 0; /* some SET or INCRBY stored other bits than were there */
    for (int k = 0; k < nops; k++) {
        bf_op *o = &ops[k];
        uint64_t rel = o->offset - lo * 8;
        uint64_t raw = bf_get(w, span, rel, o->bits);
        if (o->op == BF_GET) {
            if (o->sign)
                reply_int(c, sign_extend(raw, o->bits));
            else
                reply_int(c, (long long)raw);
            continue;
        }
        int over;
        uint64_t store;
        long long ret;
        if (o->sign) {
            int64_t old = sign_extend(raw, o->bits), nv;
            over = o->op == BF_INCRBY ? bf_add_signed(old, o->value, o->bits, o->overflow, &nv)
                                      : bf_add_signed(o->value, 0, o->bits, o->overflow, &nv);
            store = (uint64_t)nv;
            ret = o->op == BF_INCRBY ? nv : old;
        } else {
            uint64_t nv;
            over = o->op == BF_INCRBY ? bf_add_unsigned(raw, o->value, o->bits, o->overflow, &nv)
                                      : bf_add_unsigned((uint64_t)o->value, 0, o->bits, o->overflow, &nv);
            store = nv;
            ret = o->op == BF_INCRBY ? (long long)nv : (long long)raw;
        }
        if (over && o->overflow == OV_FAIL) {
            reply_nil(c);
            continue;
        }
        uint64_t mask = o->bits == 64 ? UINT64_MAX : (((uint64_t)1 << o->bits) - 1);
        changed |= (store & mask) != raw;
        bf_set(w, rel, o->bits, store);
        reply_int(c, ret);
    }
    /* As Redis: any write makes the string long enough, even if each
     * one failed on overflow. */
    if (writes)
        bits_store(argv[1], argvlen[1], e, wlo, w + (wlo - lo), (size_t)(whi - wlo + 1), changed);
    free(w);
out:
    free(ops);
}

void cmd_bitfield(client *c, int argc, char **argv, size_t *argvlen)
{
    bitfield(c, argc, argv, argvlen, 0);
}

void cmd_bitfield_ro(client *c, int argc, char **argv, size_t *argvlen)
{
    bitfield(c, argc, argv, argvlen, 1);
}

/* ---- LCS ---- */

void cmd_lcs(client *c, int argc, char **argv, size_t *argvlen)
{
    int getlen = 0, getidx = 0, withmatchlen = 0;
    long long minmatchlen = 0;
    tentry_t *ea = db_lookup_read(argv[1], argvlen[1]);
    const char *a = ea ? tentry_val(ea) : "";
    size_t alen = ea ? tentry_vlen(ea) : 0;
    tentry_t *eb = db_lookup_read(argv[2], argvlen[2]);
    const char *b = eb ? tentry_val(eb) : "";
    size_t blen = eb ? tentry_vlen(eb) : 0;
    for (int j = 3; j < argc; j++) {
        int more = argc - 1 - j;
        if (arg_is(argv[j], argvlen[j], "idx")) {
            getidx = 1;
        } else if (arg_is(argv[j], argvlen[j], "len")) {
            getlen = 1;
        } else if (arg_is(argv[j], argvlen[j], "withmatchlen")) {
            withmatchlen = 1;
        } else if (arg_is(argv[j], argvlen[j], "minmatchlen") && more) {
            if (arg_ll(c, argv[j + 1], argvlen[j + 1], &minmatchlen) < 0)
                return;
            if (minmatchlen < 0)
                minmatchlen = 0;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (getidx && getlen) {
        reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        reply_error(c, "ERR String too long for LCS");
        return;
    }
    /* The table of LCS lengths of every pair of prefixes: (alen+1)*(blen+1)
     * cells, bounded as Redis bounds it. */
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    if (cells > ULLONG_MAX / 4 || cells * 4 > (unsigned long long)srv.cfg.proto_max_bulk_len) {
        reply_error(c, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    uint32_t *dp = malloc((size_t)cells * sizeof(uint32_t));
    if (!dp) {
        reply_error(c, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
#define LCS(i, j) dp[(size_t)(j) + (size_t)(i) * (blen + 1)]
    for (size_t i = 0; i <= alen; i++) {
        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else
                LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
        }
    }
    uint32_t total = LCS(alen, blen);
    if (getlen) {
        reply_int(c, total);
        free(dp);
        return;
    }
    /* Walk back from the end: the string, and the matching ranges (the
     * last ones first, as Redis lists them). */
    char *result = xmalloc(total + 1);
    buf_t ranges = BUF_INIT(&srv.pool);
    long long nranges = 0;
    size_t i = alen, j = blen, idx = total;
    size_t as = alen, ae = 0, bs = 0, be = 0; /* as == alen: no range open */
    while (i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            result[--idx] = a[i - 1];
            if (as == alen) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = 1;
            }
            if (as == 0 || bs == 0)
                emit = 1;
            i--;
            j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1))
                i--;
            else
                j--;
            if (as != alen)
                emit = 1;
        }
        if (emit) {
            size_t mlen = ae - as + 1;
            if (getidx && (minmatchlen == 0 || (long long)mlen >= minmatchlen)) {
                resp_add_array(&ranges, 2 + withmatchlen);
                resp_add_array(&ranges, 2);
                resp_add_int(&ranges, (long long)as);
                resp_add_int(&ranges, (long long)ae);
                resp_add_array(&ranges, 2);
                resp_add_int(&ranges, (long long)bs);
                resp_add_int(&ranges, (long long)be);
                if (withmatchlen)
                    resp_add_int(&ranges, (long long)mlen);
                nranges++;
            }
            as = alen;
        }
    }
#undef LCS
    if (getidx) {
        reply_map(c, 2);
        reply_bulk_str(c, "matches");
        reply_array(c, nranges);
        buf_append(&c->out, ranges.data ? ranges.data : "", ranges.len);
        reply_bulk_str(c, "len");
        reply_int(c, total);
    } else {
        reply_bulk(c, result, total);
    }
    buf_release(&ranges);
    free(result);
    free(dp);
}
