/* kvdload: load and check data for the black-box tests, with
 * libkvdclient.
 *   kvdload fill   PORT PREFIX N VALBYTES [WIDTH]
 *                                             SET PREFIX<i> to value(i), pipelined;
 *                                             i zero-padded to WIDTH digits if given
 *                                             (key: and 12: redis-benchmark's keys)
 *   kvdload verify PORT PREFIX N VALBYTES     every PREFIX<i> holds value(i)
 *   kvdload stress PORT PREFIX CLIENTS MS OUT writers until killed or MS pass;
 *                                             OUT gets each acknowledged write
 *   kvdload check  PORT OUT [GRACE_MS [END_MS]]
 *                                             every acknowledged write is there
 *   kvdload race   PORT PREFIX WRITERS READERS MS OUT SEEN
 *                                             writers as stress on 2 keys each, and
 *                                             readers GETting those keys; SEEN
 *                                             gets every value a reader saw
 *   kvdload check-reads PORT SEEN             every value a reader saw is there
 * stress: each client c writes keys PREFIX<c>:<k> (k < 50) with values
 * that only increase; OUT holds "key acked sent ack_ms" per key, where acked
 * is the last value the server acknowledged and sent the last one sent.
 * check: each key must hold a value in [acked, sent]. A key may fall short
 * only if GRACE_MS is given and its ack came within GRACE_MS of the end
 * (everysec's allowance); such keys are counted separately.
 * race: the writers are stress's, on 2 keys each (one writer per key, so a
 * key's value only grows), and write OUT the same way; each reader GETs
 * random keys of that small set and SEEN gets "key value" for every reply
 * with a value. It prints "ACKED READS" (the acknowledged writes, the reads
 * recorded).
 * check-reads: each key must hold at least every value a reader saw of it,
 * since values only grow: a smaller one means a reply showed a write that
 * was then lost.
 * Exit 0 when all is well, 1 on a mismatch or loss, 2 on usage errors. */
#include <kvd/client.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int port;

static void value_of(char *dst, size_t n, long i)
{
    int l = snprintf(dst, n, "v%ld-", i);
    for (size_t k = (size_t)l; k + 1 < n; k++)
        dst[k] = (char)('a' + (i + (long)k) % 26);
    dst[n - 1] = '\0';
}

static kvd_context *conn(void)
{
    kvd_options o = {.connect_timeout_ms = 2000, .command_timeout_ms = 20000};
    kvd_context *c = kvd_connect("127.0.0.1", port, &o);
    if (!c || c->err) {
        fprintf(stderr, "kvdload: connect: %s\n", c ? c->errstr : "out of memory");
        exit(2);
    }
    return c;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fill(const char *prefix, long n, size_t vb, int width)
{
    kvd_context *c = conn();
    char *v = malloc(vb + 1);
    size_t klen = strlen(prefix) + (size_t)(width > 0 ? width : 0) + 24;
    char *k = malloc(klen);
    long done = 0;
    for (long i = 0; i < n; i++) {
        value_of(v, vb + 1, i);
        snprintf(k, klen, "%s%0*ld", prefix, width, i);
        if (kvd_append(c, "SET %s %s", k, v) != KVD_OK)
            break;
        if (kvd_pending(c) >= 1000 || i + 1 == n) {
            while (kvd_pending(c)) {
                kvd_reply *r;
                if (kvd_get_reply(c, &r) != KVD_OK)
                    goto out;
                done += r->type == KVD_REPLY_STATUS;
                kvd_reply_free(r);
            }
        }
    }
out:
    free(v);
    free(k);
    int rc = done == n ? 0 : 1;
    if (rc)
        fprintf(stderr, "kvdload fill: %ld of %ld acknowledged: %s\n", done, n, c->errstr);
    kvd_free(c);
    return rc;
}

static int verify(const char *prefix, long n, size_t vb)
{
    kvd_context *c = conn();
    char *v = malloc(vb + 1);
    long bad = 0;
    const long chunk = 500;
    char **keys = calloc((size_t)chunk, sizeof(*keys));
    size_t *lens = calloc((size_t)chunk, sizeof(*lens));
    for (long i = 0; i < chunk; i++)
        keys[i] = malloc(strlen(prefix) + 24);
    for (long base = 0; base < n; base += chunk) {
        long m = n - base < chunk ? n - base : chunk;
        for (long i = 0; i < m; i++)
            lens[i] = (size_t)sprintf(keys[i], "%s%ld", prefix, base + i);
        kvd_reply *r;
        if (kvd_mget(c, (size_t)m, (const void *const *)keys, lens, &r) != KVD_OK) {
            fprintf(stderr, "kvdload verify: %s\n", c->errstr);
            return 1;
        }
        for (long i = 0; i < m; i++) {
            value_of(v, vb + 1, base + i);
            kvd_reply *e = r->element[i];
            if (e->type != KVD_REPLY_BULK || e->len != vb || memcmp(e->str, v, vb) != 0) {
                if (bad < 5)
                    fprintf(stderr, "kvdload verify: %s%ld is %s\n", prefix, base + i,
                            e->type == KVD_REPLY_NIL ? "missing" : "wrong");
                bad++;
            }
        }
        kvd_reply_free(r);
    }
    printf("verified %ld keys, %ld bad\n", n, bad);
    for (long i = 0; i < chunk; i++)
        free(keys[i]);
    free(keys);
    free(lens);
    free(v);
    kvd_free(c);
    return bad ? 1 : 0;
}

#define KEYS_PER_CLIENT 50

typedef struct writer {
    int id;
    int nkeys; /* keys PREFIX<id>:<k> for k < nkeys (at most KEYS_PER_CLIENT) */
    const char *prefix;
    int64_t deadline;
    long acked[KEYS_PER_CLIENT], sent[KEYS_PER_CLIENT];
    int64_t ack_ms[KEYS_PER_CLIENT];
    long total_acked;
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    kvd_options o = {.connect_timeout_ms = 2000, .command_timeout_ms = 10000};
    kvd_context *c = kvd_connect("127.0.0.1", port, &o);
    if (!c || c->err) {
        kvd_free(c);
        return NULL;
    }
    for (long n = 1; now_ms() < w->deadline; n++) {
        int k = (int)(n % w->nkeys);
        w->sent[k] = n;
        kvd_reply *r;
        if (kvd_command(c, &r, "SET %s%d:%d %ld", w->prefix, w->id, k, n) != KVD_OK)
            break; /* the server is gone */
        if (r->type == KVD_REPLY_STATUS) {
            w->acked[k] = n;
            w->ack_ms[k] = now_ms();
            w->total_acked++;
        }
        kvd_reply_free(r);
    }
    kvd_free(c);
    return NULL;
}

/* Start clients writers with nkeys keys each, running until deadline. */
static writer *start_writers(const char *prefix, int clients, int nkeys, int64_t deadline, pthread_t *t)
{
    writer *w = calloc((size_t)clients, sizeof(*w));
    for (int i = 0; i < clients; i++) {
        w[i].id = i;
        w[i].nkeys = nkeys;
        w[i].prefix = prefix;
        w[i].deadline = deadline;
        pthread_create(&t[i], NULL, write_loop, &w[i]);
    }
    return w;
}

/* Join the writers, write OUT as described above; the writes acknowledged. */
static long finish_writers(writer *w, int clients, pthread_t *t, const char *out)
{
    long total = 0;
    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        exit(2);
    }
    for (int i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        total += w[i].total_acked;
        for (int k = 0; k < w[i].nkeys; k++)
            if (w[i].sent[k])
                fprintf(f, "%s%d:%d %ld %ld %lld\n", w[i].prefix, i, k, w[i].acked[k], w[i].sent[k],
                        (long long)w[i].ack_ms[k]);
    }
    fclose(f);
    free(w);
    return total;
}

static int stress(const char *prefix, int clients, long ms, const char *out)
{
    pthread_t *t = calloc((size_t)clients, sizeof(*t));
    writer *w = start_writers(prefix, clients, KEYS_PER_CLIENT, now_ms() + ms, t);
    printf("%ld\n", finish_writers(w, clients, t, out));
    free(t);
    return 0;
}

#define RACE_KEYS_PER_WRITER 2

typedef struct reader {
    const char *prefix;
    int writers;      /* keys are PREFIX<w>:<k>, w < writers, k < RACE_KEYS_PER_WRITER */
    int64_t deadline;
    unsigned seed;
    int *key;         /* reads: key index w * RACE_KEYS_PER_WRITER + k ... */
    long *val;        /* ... and the value the reply showed */
    size_t n, cap;
} reader;

static void *read_loop(void *arg)
{
    reader *r = arg;
    kvd_options o = {.connect_timeout_ms = 2000, .command_timeout_ms = 10000};
    kvd_context *c = kvd_connect("127.0.0.1", port, &o);
    if (!c || c->err) {
        kvd_free(c);
        return NULL;
    }
    int nkeys = r->writers * RACE_KEYS_PER_WRITER;
    while (now_ms() < r->deadline) {
        int key = (int)(rand_r(&r->seed) % (unsigned)nkeys);
        kvd_reply *rep;
        if (kvd_command(c, &rep, "GET %s%d:%d", r->prefix, key / RACE_KEYS_PER_WRITER,
                        key % RACE_KEYS_PER_WRITER) != KVD_OK)
            break; /* the server is gone */
        if (rep->type == KVD_REPLY_BULK) {
            if (r->n == r->cap) {
                r->cap = r->cap ? 2 * r->cap : 4096;
                r->key = realloc(r->key, r->cap * sizeof(*r->key));
                r->val = realloc(r->val, r->cap * sizeof(*r->val));
                if (!r->key || !r->val) {
                    fprintf(stderr, "kvdload race: out of memory\n");
                    exit(2);
                }
            }
            r->key[r->n] = key;
            r->val[r->n] = atol(rep->str);
            r->n++;
        }
        kvd_reply_free(rep);
    }
    kvd_free(c);
    return NULL;
}

static int race(const char *prefix, int writers, int readers, long ms, const char *out, const char *seen)
{
    int64_t deadline = now_ms() + ms;
    pthread_t *wt = calloc((size_t)writers, sizeof(*wt)), *rt = calloc((size_t)readers, sizeof(*rt));
    writer *w = start_writers(prefix, writers, RACE_KEYS_PER_WRITER, deadline, wt);
    reader *r = calloc((size_t)readers, sizeof(*r));
    for (int i = 0; i < readers; i++) {
        r[i].prefix = prefix;
        r[i].writers = writers;
        r[i].deadline = deadline;
        r[i].seed = (unsigned)(now_ms() * 31 + i);
        pthread_create(&rt[i], NULL, read_loop, &r[i]);
    }
    long acked = finish_writers(w, writers, wt, out), reads = 0;
    FILE *f = fopen(seen, "w");
    if (!f) {
        perror(seen);
        return 2;
    }
    for (int i = 0; i < readers; i++) {
        pthread_join(rt[i], NULL);
        for (size_t j = 0; j < r[i].n; j++)
            fprintf(f, "%s%d:%d %ld\n", prefix, r[i].key[j] / RACE_KEYS_PER_WRITER,
                    r[i].key[j] % RACE_KEYS_PER_WRITER, r[i].val[j]);
        reads += (long)r[i].n;
        free(r[i].key);
        free(r[i].val);
    }
    fclose(f);
    printf("%ld %ld\n", acked, reads);
    free(r);
    free(wt);
    free(rt);
    return 0;
}

static int check(const char *in, long grace_ms, int64_t end_ms)
{
    kvd_context *c = conn();
    FILE *f = fopen(in, "r");
    if (!f) {
        perror(in);
        return 2;
    }
    char key[256];
    long acked, sent, keys = 0, lost = 0, tolerated = 0;
    long long ack_ms;
    while (fscanf(f, "%255s %ld %ld %lld", key, &acked, &sent, &ack_ms) == 4) {
        keys++;
        char *v;
        size_t vl;
        if (kvd_get(c, key, strlen(key), &v, &vl) != KVD_OK) {
            fprintf(stderr, "kvdload check: %s\n", c->errstr);
            return 1;
        }
        long have = v ? atol(v) : 0;
        free(v);
        if (have >= acked && have <= sent)
            continue;
        if (have < acked && grace_ms > 0 && end_ms - ack_ms <= grace_ms) {
            tolerated++;
            continue;
        }
        if (lost < 5)
            fprintf(stderr, "kvdload check: %s holds %ld, but %ld was acknowledged (%ld sent)\n", key, have, acked,
                    sent);
        lost++;
    }
    fclose(f);
    printf("%ld keys, %ld lost, %ld within the grace period\n", keys, lost, tolerated);
    kvd_free(c);
    return lost ? 1 : 0;
}

/* The values the keys of SEEN hold now, fetched once per key. */
typedef struct held_key {
    char key[256];
    long have;
} held_key;

static int check_reads(const char *in)
{
    kvd_context *c = conn();
    FILE *f = fopen(in, "r");
    if (!f) {
        perror(in);
        return 2;
    }
    held_key *keys = NULL;
    size_t nkeys = 0;
    char key[256];
    long v, reads = 0, lost = 0;
    while (fscanf(f, "%255s %ld", key, &v) == 2) {
        reads++;
        size_t i = 0;
        while (i < nkeys && strcmp(keys[i].key, key) != 0)
            i++;
        if (i == nkeys) {
            char *s;
            size_t sl;
            if (kvd_get(c, key, strlen(key), &s, &sl) != KVD_OK) {
                fprintf(stderr, "kvdload check-reads: %s\n", c->errstr);
                return 1;
            }
            keys = realloc(keys, (nkeys + 1) * sizeof(*keys));
            snprintf(keys[i].key, sizeof keys[i].key, "%s", key);
            keys[i].have = s ? atol(s) : 0;
            nkeys++;
            free(s);
        }
        if (keys[i].have >= v)
            continue;
        if (lost < 5)
            fprintf(stderr, "kvdload check-reads: a reader saw %s = %ld, but after the crash it holds %ld\n", key,
                    v, keys[i].have);
        lost++;
    }
    fclose(f);
    printf("%ld reads of %zu keys, %ld of values lost\n", reads, nkeys, lost);
    free(keys);
    kvd_free(c);
    return lost ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: kvdload fill|verify|stress|check|race|check-reads PORT ...\n");
        return 2;
    }
    port = atoi(argv[2]);
    if (!strcmp(argv[1], "fill") && (argc == 6 || argc == 7))
        return fill(argv[3], atol(argv[4]), (size_t)atol(argv[5]), argc == 7 ? atoi(argv[6]) : 0);
    if (!strcmp(argv[1], "verify") && argc == 6)
        return verify(argv[3], atol(argv[4]), (size_t)atol(argv[5]));
    if (!strcmp(argv[1], "stress") && argc == 7)
        return stress(argv[3], atoi(argv[4]), atol(argv[5]), argv[6]);
    if (!strcmp(argv[1], "race") && argc == 9)
        return race(argv[3], atoi(argv[4]), atoi(argv[5]), atol(argv[6]), argv[7], argv[8]);
    if (!strcmp(argv[1], "check-reads") && argc == 4)
        return check_reads(argv[3]);
    if (!strcmp(argv[1], "check") && argc >= 4)
        return check(argv[3], argc > 4 ? atol(argv[4]) : 0, argc > 5 ? atoll(argv[5]) : now_ms());
    fprintf(stderr, "kvdload: bad arguments\n");
    return 2;
}
