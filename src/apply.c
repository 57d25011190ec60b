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
};
typedef struct undo_hdr {
    uint32_t kind;
    uint32_t klen, vlen;   /* bytes of key and value that follow */
    uint32_t keep;         /* UNDO_LENGTH: the value's length before the append */
    uint32_t lru;
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
static void save_expire(apply_undo *u, const tentry_t *x)
{
    undo_hdr h = {.kind = UNDO_EXPIRE, .klen = (uint32_t)tentry_klen(x), .exp = tentry_expire(x)};
    push(u, &h, tentry_key(x), NULL);
}

/* Record x's length (the change only appends to it). */
static void save_length(apply_undo *u, const tentry_t *x)
{
    undo_hdr h = {.kind = UNDO_LENGTH, .klen = (uint32_t)tentry_klen(x), .keep = (uint32_t)tentry_vlen(x)};
    push(u, &h, tentry_key(x), NULL);
}

/* Record what a SETRANGE of n bytes at off is about to overwrite in x:
 * its length and the old bytes in that range (not the whole value). */
static void save_range(apply_undo *u, tentry_t *x, uint64_t off, size_t n)
{
    size_t old = tentry_vlen(x);
    size_t have = off >= old ? 0 : (old - off < n ? old - off : n);
    undo_hdr h = {.kind = UNDO_RANGE, .klen = (uint32_t)tentry_klen(x), .vlen = (uint32_t)have,
                  .keep = (uint32_t)old, .exp = (int64_t)off};
    push(u, &h, tentry_key(x), tentry_val(x) + (have ? off : 0));
}

/* Record key's state as it is now: its entry, or that it is absent. */
static void save(apply_undo *u, table_t *t, const void *key, size_t klen)
{
    tentry_t *x = table_peek(t, key, klen);
    if (!x) {
        undo_hdr h = {.kind = UNDO_ABSENT, .klen = (uint32_t)klen};
        push(u, &h, key, NULL);
        return;
    }
    undo_hdr h = {.kind = UNDO_ENTRY, .klen = (uint32_t)tentry_klen(x), .vlen = (uint32_t)tentry_vlen(x),
                  .lru = x->lru, .exp = tentry_expire(x)};
    push(u, &h, tentry_key(x), tentry_val(x));
}

tentry_t *apply_entry(table_t *t, const wal_entry *e, apply_undo *u)
{
    switch (e->op) {
    case WAL_OP_SET:
        if (u)
            save(u, t, e->key, e->klen);
        return table_set(t, e->key, e->klen, e->val, e->vlen, e->exp, NULL);
    case WAL_OP_DEL:
        if (u)
            save(u, t, e->key, e->klen);
        table_del(t, e->key, e->klen);
        return NULL;
    case WAL_OP_EXPIRE:
    case WAL_OP_PERSIST: {
        tentry_t *x = table_peek(t, e->key, e->klen);
        if (!x)
            return NULL;
        if (u)
            save_expire(u, x);
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
        undo_hdr h = {.kind = UNDO_TABLE, .taken = table_take(t)};
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
            save(u, t, e->val, e->vlen);
            save(u, t, e->key, e->klen);
        }
        /* Setting the destination never moves the source entry. */
        tentry_t *n = table_set(t, e->val, e->vlen, tentry_val(x), tentry_vlen(x), tentry_expire(x), NULL);
        table_del_entry(t, x);
        return n;
    }
    case WAL_OP_APPEND: {
        tentry_t *x = table_peek(t, e->key, e->klen);
        if (!x) {
            if (u)
                save(u, t, e->key, e->klen);
            return table_set(t, e->key, e->klen, e->val, e->vlen, TABLE_NO_EXPIRE, NULL);
        }
        if (u)
            save_length(u, x);
        return table_append(t, x, e->val, e->vlen);
    }
    case WAL_OP_SETRANGE: {
        tentry_t *x = table_peek(t, e->key, e->klen);
        if (!x) {
            if (u)
                save(u, t, e->key, e->klen);
            x = table_set(t, e->key, e->klen, NULL, 0, TABLE_NO_EXPIRE, NULL);
        } else if (u) {
            save_range(u, x, e->off, e->vlen);
        }
        return table_write_at(t, x, e->off, e->val, e->vlen);
    }
    default:
        return NULL;
    }
}

int apply_replay(void *table, const wal_entry *e)
{
    apply_entry(table, e, NULL);
    return 0;
}

void apply_presize(void *table, uint64_t n)
{
    table_expand(table, n);
}

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

void apply_undo_rollback(apply_undo *u, table_t *t)
{
    size_t end = u->log.len;
    while (end > 0) {
        uint32_t total;
        memcpy(&total, u->log.data + end - sizeof total, sizeof total);
        const char *rec = u->log.data + end - total;
        undo_hdr h;
        memcpy(&h, rec, sizeof h);
        const char *key = rec + sizeof h, *val = key + h.klen;
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
        } else {
            table_give_back(t, h.taken);
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
