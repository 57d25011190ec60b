/* apply: WAL entry -> table change, and the undo log of a batch. */
#include "config.h"
#include "apply.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(WAL_NO_EXPIRE == TABLE_NO_EXPIRE, "the WAL and the table mean the same by no expiry");

/* An undo record: this header, then the key and the value, then the
 * record's total length (a uint32_t) so the log can be walked backwards. */
enum {
    UNDO_ABSENT = 1, /* the key did not exist */
    UNDO_ENTRY,      /* the key's whole entry: value, expiry, access stamp */
    UNDO_EXPIRE,     /* only the key's expiry changed (exp) */
    UNDO_LENGTH,     /* only bytes were appended: the old length (keep) */
    UNDO_RANGE,      /* bytes were overwritten: the old length (keep), where (exp), the old bytes (value) */
    UNDO_TABLE,      /* a FLUSH emptied the table (taken) */
    UNDO_SWAP,       /* databases db and keep traded places */
};
typedef struct undo_hdr {
    uint32_t kind;
    uint32_t db;           /* the database of the key */
    uint32_t klen, vlen;   /* bytes of key and value that follow */
    uint32_t keep;         /* UNDO_LENGTH: the value's length before the append */
    uint32_t lru;
    uint32_t enc;          /* UNDO_ENTRY: the entry's TENTRY_ENC_* */
    int64_t exp;
    table_t *taken; /* UNDO_TABLE: the table the flush emptied */
} undo_hdr;

void apply_undo_init(apply_undo *u, pool_t *pool)
{
    memset(u, 0, sizeof(*u));
    buf_init(&u->log, pool);
}

static void push(apply_undo *u, const undo_hdr *h, const void *key, const void *val)
{
    uint32_t total = (uint32_t)(sizeof(*h) + h->klen + h->vlen + sizeof(uint32_t));
    buf_reserve(&u->log, total);
    buf_append(&u->log, h, sizeof(*h));
    if (h->klen)
        buf_append(&u->log, key, h->klen);
    if (h->vlen)
        buf_append(&u->log, val, h->vlen);
    buf_append(&u->log, &total, sizeof total);
    u->records++;
}

/* Record x's expiry (the change touches nothing else): the value is not
 * copied, however big. */
static void save_expire(apply_undo *u, uint32_t db, const tentry_t *x)
{
    undo_hdr h = {.kind = UNDO_EXPIRE, .db = db, .klen = (uint32_t)tentry_klen(x), .exp = tentry_expire(x)};
    push(u, &h, tentry_key(x), NULL);
}

/* Record x's length (the change only appends to it). */
static void save_length(apply_undo *u, uint32_t db, const tentry_t *x)
{
    undo_hdr h = {.kind = UNDO_LENGTH, .db = db, .klen = (uint32_t)tentry_klen(x), .keep = (uint32_t)tentry_vlen(x)};
    push(u, &h, tentry_key(x), NULL);
}

/* Record what a SETRANGE of n bytes at off is about to overwrite in x:
 * its length and the old bytes in that range (not the whole value). */
static void save_range(apply_undo *u, uint32_t db, tentry_t *x, uint64_t off, size_t n)
{
    size_t old = tentry_vlen(x);
    size_t have = off >= old ? 0 : (old - off < n ? old - off : n);
    undo_hdr h = {.kind = UNDO_RANGE, .db = db, .klen = (uint32_t)tentry_klen(x), .vlen = (uint32_t)have,
                  .keep = (uint32_t)old, .exp = (int64_t)off};
    push(u, &h, tentry_key(x), tentry_val(x) + (have ? off : 0));
}

/* Record key's state as it is now: its entry, or that it is absent. */
static void save(apply_undo *u, keyspace *ks, uint32_t db, const void *key, size_t klen)
{
    tentry_t *x = table_peek(ks->db[db], key, klen);
    if (!x) {
        undo_hdr h = {.kind = UNDO_ABSENT, .db = db, .klen = (uint32_t)klen};
        push(u, &h, key, NULL);
        return;
    }
    undo_hdr h = {.kind = UNDO_ENTRY, .db = db, .klen = (uint32_t)tentry_klen(x), .vlen = (uint32_t)tentry_vlen(x),
                  .lru = x->lru, .enc = x->enc, .exp = tentry_expire(x)};
    push(u, &h, tentry_key(x), tentry_val(x));
}

void keyspace_init(keyspace *ks, uint32_t n)
{
    *ks = (keyspace){.n = n, .db = xcalloc(n, sizeof(*ks->db))};
    for (uint32_t i = 0; i < n; i++)
        ks->db[i] = table_new();
}

void keyspace_free(keyspace *ks)
{
    for (uint32_t i = 0; ks->db && i < ks->n; i++)
        table_free(ks->db[i]);
    free(ks->db);
    ks->db = NULL;
    ks->n = 0;
}

uint64_t keyspace_count(const keyspace *ks)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < ks->n; i++)
        n += table_count(ks->db[i]);
    return n;
}

size_t keyspace_bytes(const keyspace *ks)
{
    size_t n = 0;
    for (uint32_t i = 0; i < ks->n; i++)
        n += table_bytes(ks->db[i]);
    return n;
}

/* MOVE: key's entry goes from database e->db to e->to, value, expiry and
 * access stamp with it. */
static tentry_t *move(keyspace *ks, const wal_entry *e, apply_undo *u)
{
    table_t *src = ks->db[e->db], *dst = ks->db[e->to];
    tentry_t *x = table_peek(src, e->key, e->klen);
    if (!x || src == dst)
        return x;
    if (u) {
        save(u, ks, e->to, e->key, e->klen);
        save(u, ks, e->db, e->key, e->klen);
    }
    tentry_t *n = table_set(dst, tentry_key(x), tentry_klen(x), tentry_val(x), tentry_vlen(x), tentry_expire(x), NULL);
    n->lru = x->lru;
    n->enc = x->enc;
    table_del_entry(src, x);
    return n;
}

static void swap(keyspace *ks, uint32_t a, uint32_t b)
{
    table_t *t = ks->db[a];
    ks->db[a] = ks->db[b];
    ks->db[b] = t;
}

tentry_t *apply_entry(keyspace *ks, const wal_entry *e, apply_undo *u)
{
    table_t *t = ks->db[e->db];
    switch (e->op) {
    case WAL_OP_SET:
        if (u)
            save(u, ks, e->db, e->key, e->klen);
        if (e->memo.of == t)
            return table_set_hashed(t, e->memo.h, e->key, e->klen, e->val, e->vlen, e->exp, NULL);
        return table_set(t, e->key, e->klen, e->val, e->vlen, e->exp, NULL);
    case WAL_OP_DEL:
        if (u)
            save(u, ks, e->db, e->key, e->klen);
        table_del(t, e->key, e->klen);
        return NULL;
    case WAL_OP_EXPIRE:
    case WAL_OP_PERSIST: {
        tentry_t *x = table_peek(t, e->key, e->klen);
        if (!x)
            return NULL;
        if (u)
            save_expire(u, e->db, x);
        return table_set_expire(t, x, e->op == WAL_OP_EXPIRE ? e->exp : TABLE_NO_EXPIRE);
    }
    case WAL_OP_FLUSH:
        if (!u) {
            table_clear(t);
            return NULL;
        }
        if (u->ntaken == u->captaken) {
            u->captaken = u->captaken ? u->captaken * 2 : 4;
            u->taken = xrealloc(u->taken, u->captaken * sizeof(*u->taken));
        }
        undo_hdr h = {.kind = UNDO_TABLE, .db = e->db, .taken = table_take(t)};
        u->taken[u->ntaken++] = h.taken;
        push(u, &h, NULL, NULL);
        return NULL;
    case WAL_OP_RENAME: {
        if (e->klen == e->vlen && memcmp(e->key, e->val, e->klen) == 0)
            return table_peek(t, e->key, e->klen);
        tentry_t *x = table_peek(t, e->key, e->klen);
        if (!x)
            return NULL;
        if (u) {
            save(u, ks, e->db, e->val, e->vlen);
            save(u, ks, e->db, e->key, e->klen);
        }
        /* Setting the destination never moves the source entry. */
        tentry_t *n = table_set(t, e->val, e->vlen, tentry_val(x), tentry_vlen(x), tentry_expire(x), NULL);
        n->enc = x->enc;
        table_del_entry(t, x);
        return n;
    }
    case WAL_OP_APPEND: {
        tentry_t *x = table_peek(t, e->key, e->klen);
        if (!x) {
            if (u)
                save(u, ks, e->db, e->key, e->klen);
            return table_set(t, e->key, e->klen, e->val, e->vlen, TABLE_NO_EXPIRE, NULL);
        }
        if (u)
            save_length(u, e->db, x);
        x = table_append(t, x, e->val, e->vlen);
        x->enc = TENTRY_ENC_RAW; /* as Redis: a string appended to is raw */
        return x;
    }
    case WAL_OP_SETRANGE: {
        tentry_t *x = table_peek(t, e->key, e->klen);
        if (!x) {
            if (u)
                save(u, ks, e->db, e->key, e->klen);
            x = table_set(t, e->key, e->klen, NULL, 0, TABLE_NO_EXPIRE, NULL);
        } else if (u) {
            save_range(u, e->db, x, e->off, e->vlen);
        }
        x = table_write_at(t, x, e->off, e->val, e->vlen);
        x->enc = TENTRY_ENC_RAW;
        return x;
    }
    case WAL_OP_MOVE:
        return move(ks, e, u);
    case WAL_OP_SWAPDB:
        if (u) {
            undo_hdr sw = {.kind = UNDO_SWAP, .db = e->db, .keep = e->to};
            push(u, &sw, NULL, NULL);
        }
        swap(ks, e->db, e->to);
        return NULL;
    default:
        return NULL;
    }
}

int apply_replay(void *ctx, const wal_entry *e)
{
    keyspace *ks = ctx;
    /* The highest database the entry names: the one message of a refused
     * load says how many databases the whole log needs. */
    uint32_t db = (e->op == WAL_OP_MOVE || e->op == WAL_OP_SWAPDB) && e->to > e->db ? e->to : e->db;
    if (db >= ks->n) {
        if (!ks->bad_seq || db > ks->bad_db) {
            ks->bad_seq = e->seq;
            ks->bad_db = db;
        }
        return -1;
    }
    if (e->op == WAL_OP_APPEND) {
        const tentry_t *x = table_peek(ks->db[e->db], e->key, e->klen);
        if (x && e->vlen > KEYSPACE_MAX_VALUE - tentry_vlen(x)) {
            if (!ks->long_seq)
                ks->long_seq = e->seq;
            return -1;
        }
    }
    apply_entry(ks, e, NULL);
    return 0;
}

static void presize(void *ctx, uint64_t n)
{
    keyspace *ks = ctx;
    table_expand(ks->db[0], n);
}

/* The key's hash is worked out once: at the first hint, kept in the
 * entry's memo (when the scan gives one) for the second hint and the
 * insert. The memo names the table it was hashed for, so a SWAPDB
 * between hint and apply only costs a hash again. */
static void prefetch(void *ctx, uint32_t db, const char *key, size_t klen, int stage, wal_memo *memo)
{
    keyspace *ks = ctx;
    if (db >= ks->n)
        return;
    table_t *t = ks->db[db];
    uint64_t h;
    if (memo && memo->of == t) {
        h = memo->h;
    } else {
        h = table_hash(t, key, klen);
        if (memo)
            *memo = (wal_memo){h, t};
    }
    table_prefetch(t, h, stage);
}

const wal_load_hooks apply_hooks = {presize, prefetch};

#define UNDO_KEEP ((size_t)1 << 20) /* log storage kept between batches */

static void reset(apply_undo *u)
{
    u->ntaken = 0;
    u->records = 0;
    if (u->log.cap > UNDO_KEEP)
        buf_release(&u->log);
    else
        buf_reset(&u->log);
}

void apply_undo_commit(apply_undo *u)
{
    for (size_t i = 0; i < u->ntaken; i++)
        table_free(u->taken[i]);
    reset(u);
}

void apply_undo_rollback(apply_undo *u, keyspace *ks)
{
    size_t end = u->log.len;
    while (end > 0) {
        uint32_t total;
        memcpy(&total, u->log.data + end - sizeof total, sizeof total);
        const char *rec = u->log.data + end - total;
        undo_hdr h;
        memcpy(&h, rec, sizeof h);
        const char *key = rec + sizeof h, *val = key + h.klen;
        table_t *t = ks->db[h.db];
        if (h.kind == UNDO_ABSENT) {
            table_del(t, key, h.klen);
        } else if (h.kind == UNDO_EXPIRE || h.kind == UNDO_LENGTH || h.kind == UNDO_RANGE) {
            tentry_t *x = table_peek(t, key, h.klen); /* restored by the records after this one */
            if (h.kind == UNDO_EXPIRE) {
                table_set_expire(t, x, h.exp);
            } else {
                if (h.kind == UNDO_RANGE && h.vlen)
                    memcpy(tentry_val(x) + h.exp, val, h.vlen);
                table_truncate(t, x, h.keep);
            }
        } else if (h.kind == UNDO_ENTRY) {
            tentry_t *x = table_set(t, key, h.klen, val, h.vlen, h.exp, NULL);
            x->lru = h.lru;
            x->enc = (uint8_t)h.enc;
        } else if (h.kind == UNDO_TABLE) {
            table_give_back(t, h.taken);
        } else {
            swap(ks, h.db, h.keep);
        }
        end -= total;
    }
    reset(u);
}

void apply_undo_free(apply_undo *u)
{
    if (!u)
        return;
    apply_undo_commit(u);
    buf_release(&u->log);
    free(u->taken);
    u->taken = NULL;
    u->captaken = 0;
}
