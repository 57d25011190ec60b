/* repl: the primary's side of replication (links to replicas: SYNCWAL,
 * catch-up from the segment files, the live feed, full syncs, REPLCONF
 * ACK, WAIT, min-replicas-*), the replication ids, and what INFO and ROLE
 * say. The replica's side is replica.c. */
#include "config.h"
#include "repl.h"
#include "commit.h"
#include "compact.h"
#include "conn.h"
#include "db.h"
#include "cmd.h"
#include "log.h"
#include "num.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLID_FILE WAL_DIR_REPLID
#define SYNC_TMP_PREFIX WAL_DIR_REPLSYNC_PREFIX
#define PUMP_HIGH ((size_t)4 << 20) /* catch-up reads stop while a link has this much output pending */
#define PUMP_CHUNK ((size_t)256 << 10)
#define TICK_MS 100
#define ZERO_ID "0000000000000000000000000000000000000000"

enum link_state {
    LINK_WAIT_BGSAVE, /* a child writes the base for its full sync */
    LINK_SEND_BULK,   /* sending that base */
    LINK_CATCHUP,     /* sending lines from the segment files */
    LINK_ONLINE,      /* gets each batch as it is written */
};

typedef struct held_seg {
    uint64_t num;
    int fd;
} held_seg;

struct repl_link {
    client *c;
    list_link all;          /* on links */
    enum link_state state;
    uint64_t ack;           /* highest seq it acknowledged */
    int64_t ack_ms;         /* when */
    uint64_t from;          /* the first seq it was sent in this sync */
    pid_t child;            /* LINK_WAIT_BGSAVE: the base writer */
    char tmp[4300];         /* ... its file */
    uint64_t upto;          /* full sync: the seq the base covers */
    int bulk_fd;            /* LINK_SEND_BULK: the base */
    uint64_t bulk_left;
    int fd;                 /* the segment being read (LINK_CATCHUP), -1 if none */
    uint64_t seg;           /* its number */
    uint64_t off;           /* where reading goes on */
    held_seg *held;         /* later segments kept open (a compaction retired them) */
    size_t nheld, capheld;
    int64_t last_send_ms;   /* last bytes queued to it (keepalives) */
};

static struct {
    char id[41], id2[41];
    uint64_t second;        /* id2 is valid for seqs before this (0: no id2) */
    int saved;              /* kvd.replid exists (it is written once replication is used) */
    uint64_t clean;         /* kvd.replid says a clean shutdown left the WAL ending at seq clean - 1 */
    list links;             /* repl_link, all replicas */
    list waiters;           /* clients blocked in WAIT */
    uv_timer_t tick, wake;
    uv_prepare_t pump;
    uv_idle_t more; /* keeps the loop polling while file-fed links drain at once */
    int started;
    int wake_pending;
    uint64_t sync_children;
} R;

/* ------------------------------------------------------------------ the ids */

static void random_id(char *out)
{
    unsigned char b[20];
    kvd_random_bytes(b, sizeof b);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int valid_id(const char *s)
{
    if (strlen(s) != 40)
        return 0;
    for (int i = 0; i < 40; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Temp file, fsync, rename, directory fsync. */
static int save_ids(void)
{
    char path[4300], tmp[4310], text[200];
    snprintf(path, sizeof path, "%s/%s", srv.cfg.dir, REPLID_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text, "replid %s\nreplid2 %s\nsecond %" PRIu64 "\n", R.id, R.id2, R.second);
    if (R.clean)
        n += snprintf(text + n, sizeof text - (size_t)n, "clean %" PRIu64 "\n", R.clean);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    if (kvd_write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
        close(fd);
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) < 0)
        goto fail;
    R.saved = 1;
    int dfd = open(srv.cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
fail:
    log_warning("cannot write %s: %s (the replication id will change at the next start, which costs replicas "
                "a full sync)",
                path, strerror(errno));
    unlink(tmp);
    return -1;
}

static void load_ids(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", srv.cfg.dir, REPLID_FILE);
    FILE *f = fopen(path, "r");
    int ok = 0;
    if (f) {
        char a[64] = "", b[64] = "";
        unsigned long long second = 0;
        unsigned long long clean = 0;
        ok = fscanf(f, "replid %63s\nreplid2 %63s\nsecond %llu", a, b, &second) == 3 && valid_id(a) &&
             valid_id(b);
        if (ok && fscanf(f, " clean %llu", &clean) == 1)
            R.clean = clean;
        fclose(f);
        R.saved = 1;
        if (ok) {
            memcpy(R.id, a, 41);
            memcpy(R.id2, b, 41);
            R.second = second;
        } else {
            log_warning("%s is not valid: a new replication id is made (replicas will do a full sync)", path);
        }
    }
    if (!ok) {
        /* Kept in memory only until replication is used. */
        random_id(R.id);
        memcpy(R.id2, ZERO_ID, 41);
        R.second = 0;
        if (R.saved)
            save_ids();
    }
}

const char *repl_id(void)
{
    return R.id;
}

void repl_set_ids(const char *id, const char *id2, uint64_t second)
{
    memcpy(R.id, id, 40);
    R.id[40] = '\0';
    memcpy(R.id2, id2 ? id2 : ZERO_ID, 40);
    R.id2[40] = '\0';
    R.second = id2 ? second : 0;
    save_ids();
}

void repl_new_id_on_promotion(void)
{
    memcpy(R.id2, R.id, 41);
    R.second = srv.wal->next_seq; /* the old id is valid for seqs up to next_seq - 1 */
    random_id(R.id);
    save_ids();
}

/* Full-sync temp files left by a kvd that died. */
static void remove_stale_sync_files(void)
{
    DIR *d = opendir(srv.cfg.dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, SYNC_TMP_PREFIX, strlen(SYNC_TMP_PREFIX)) == 0) {
            char p[4300];
            snprintf(p, sizeof p, "%s/%s", srv.cfg.dir, de->d_name);
            unlink(p);
        }
    closedir(d);
}

/* --------------------------------------------------------------- the links */

int repl_is_link(const client *c)
{
    return c->repl != NULL;
}

static uint64_t live_segment(void)
{
    const manifest *m = &srv.wal->man;
    return m->nincr ? m->incr[m->nincr - 1] : 0;
}

static int open_segment(uint64_t num)
{
    char p[4300];
    wal_file_path(p, sizeof p, srv.cfg.dir, 0, num);
    return open(p, O_RDONLY | O_CLOEXEC);
}

static void close_link_files(struct repl_link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->bulk_fd >= 0)
        close(l->bulk_fd);
    l->bulk_fd = -1;
    for (size_t i = 0; i < l->nheld; i++)
        close(l->held[i].fd);
    l->nheld = 0;
}

static void link_free(struct repl_link *l)
{
    if (l->child > 0) {
        kill(l->child, SIGKILL);
        int st;
        waitpid(l->child, &st, 0);
        compact_writer_ended();
        l->child = 0;
    }
    if (l->tmp[0])
        unlink(l->tmp);
    close_link_files(l);
    free(l->held);
    list_remove(&l->all);
    free(l);
}

static void drop_link(struct repl_link *l, const char *why)
{
    client *c = l->c;
    log_warning("closing replica %s (port %d): %s", c->addr, c->repl_port, why);
    conn_close(c); /* repl_forget frees the link */
}

void repl_forget(client *c)
{
    if (c->repl) {
        struct repl_link *l = c->repl;
        c->repl = NULL;
        log_notice("replica %s (listening port %d) disconnected", c->addr, c->repl_port);
        link_free(l);
    }
    if (c->flags & CLIENT_WAITING) {
        c->flags &= ~CLIENT_WAITING;
        list_remove(&c->waiting);
    }
}

int repl_kill_replicas(void)
{
    int n = 0;
    while (R.links.first) {
        struct repl_link *l = LIST_ITEM(R.links.first, struct repl_link, all);
        conn_close(l->c);
        n++;
    }
    return n;
}

void repl_drop_sub_replicas(const char *why)
{
    if (R.links.first)
        log_notice("disconnecting %d replica(s): %s", repl_kill_replicas(), why);
}

/* Keep open the segments after l's current one that a compaction is
 * about to retire (numbered below first_kept): l has yet to read them. */
static void hold_segments(struct repl_link *l, uint64_t first_kept)
{
    const manifest *m = &srv.wal->man;
    uint64_t after = l->nheld ? l->held[l->nheld - 1].num : l->seg;
    for (size_t i = 0; i < m->nincr && m->incr[i] < first_kept; i++) {
        if (m->incr[i] <= after)
            continue;
        int fd = open_segment(m->incr[i]);
        if (fd < 0)
            continue; /* noticed when l gets there */
        if (l->nheld == l->capheld) {
            l->capheld = l->capheld ? 2 * l->capheld : 4;
            l->held = xrealloc(l->held, l->capheld * sizeof *l->held);
        }
        l->held[l->nheld++] = (held_seg){m->incr[i], fd};
        after = m->incr[i];
        log_notice("replica %s still has to read segment %" PRIu64 ": kept open for it past the compaction",
                   l->c->addr, m->incr[i]);
    }
}

void repl_hold_segments(uint64_t first_kept)
{
    struct repl_link *l;
    LIST_EACH(&R.links, struct repl_link, all, l)
        if (l->state != LINK_ONLINE)
            hold_segments(l, first_kept);
}

static int fd_is(int fd, const struct stat *st)
{
    struct stat f;
    return fd >= 0 && fstat(fd, &f) == 0 && kvd_same_file(&f, st);
}

int repl_file_in_use(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    struct repl_link *l;
    LIST_EACH(&R.links, struct repl_link, all, l) {
        if (fd_is(l->fd, &st) || fd_is(l->bulk_fd, &st))
            return 1;
        for (size_t i = 0; i < l->nheld; i++)
            if (fd_is(l->held[i].fd, &st))
                return 1;
    }
    return 0;
}

/* l read all of segment l->seg: on to the next one. Returns 0 or -1. */
static int next_segment(struct repl_link *l)
{
    close(l->fd);
    l->fd = -1;
    l->off = 0;
    if (l->nheld) {
        l->seg = l->held[0].num;
        l->fd = l->held[0].fd;
        memmove(l->held, l->held + 1, (l->nheld - 1) * sizeof *l->held);
        l->nheld--;
        return 0;
    }
    const manifest *m = &srv.wal->man;
    for (size_t i = 0; i < m->nincr; i++)
        if (m->incr[i] > l->seg) {
            l->seg = m->incr[i];
            l->fd = open_segment(l->seg);
            return l->fd < 0 ? -1 : 0;
        }
    return -1;
}

static void queue(struct repl_link *l, const char *p, size_t n)
{
    buf_append(&l->c->out, p, n);
    l->last_send_ms = kvd_now_ms();
    conn_send_later(l->c);
}

/* Read what l has to be sent from files, as long as its output is not
 * backed up. */
/* Returns -1 if the link was dropped (l is freed). */
static int pump(struct repl_link *l)
{
    client *c = l->c;
    while (c->out.len + c->inflight < PUMP_HIGH && !(c->flags & CLIENT_CLOSING)) {
        if (l->state == LINK_SEND_BULK) {
            if (l->bulk_left == 0) {
                close(l->bulk_fd);
                l->bulk_fd = -1;
                l->state = LINK_CATCHUP;
                log_notice("replica %s: base sent, streaming from seq %" PRIu64, c->addr, l->upto + 1);
                continue;
            }
            size_t want = l->bulk_left < PUMP_CHUNK ? (size_t)l->bulk_left : PUMP_CHUNK;
            buf_reserve(&c->out, want);
            ssize_t n = read(l->bulk_fd, c->out.data + c->out.len, want);
            if (n <= 0) {
                drop_link(l, n < 0 ? strerror(errno) : "the base file is shorter than it was");
                return -1;
            }
            c->out.len += (size_t)n;
            l->bulk_left -= (uint64_t)n;
        } else if (l->state == LINK_CATCHUP) {
            /* The live segment is read up to the log's end: past it
             * lies its prefilled tail (wal.h). */
            size_t want = PUMP_CHUNK;
            if (l->seg == live_segment()) {
                uint64_t left = srv.wal->size > l->off ? srv.wal->size - l->off : 0;
                if (left < want)
                    want = (size_t)left;
            }
            buf_reserve(&c->out, want);
            ssize_t n = want ? pread(l->fd, c->out.data + c->out.len, want, (off_t)l->off) : 0;
            if (n < 0) {
                drop_link(l, strerror(errno));
                return -1;
            }
            if (n > 0) {
                c->out.len += (size_t)n;
                l->off += (uint64_t)n;
                continue;
            }
            if (l->seg == live_segment()) {
                /* Everything written is queued: from now on each batch
                 * is, as it is written. */
                close(l->fd);
                l->fd = -1;
                l->state = LINK_ONLINE;
                log_notice("replica %s (port %d) is online at seq %" PRIu64, c->addr, c->repl_port,
                           srv.wal->written_seq);
                break;
            }
            if (next_segment(l) < 0) {
                drop_link(l, "a segment it needs is gone");
                return -1;
            }
        } else {
            break;
        }
    }
    l->last_send_ms = kvd_now_ms();
    conn_send_later(c);
    return 0;
}

/* A link whose data still comes from files (a base, or segments). */
static inline int file_fed(const struct repl_link *l)
{
    return l->state == LINK_SEND_BULK || l->state == LINK_CATCHUP;
}

static void on_more(uv_idle_t *h)
{
    KVD_UNUSED(h);
}

/* Before the loop blocks: top up the links that read from files. When
 * the socket takes a whole top-up at once (the send just before the loop
 * blocks, so no write completion will wake it), nothing else would
 * bring the loop back for the next one until a timer fired: R.more, an
 * idle handle, keeps the loop from blocking while that can happen. */
static void on_pump(uv_prepare_t *h)
{
    KVD_UNUSED(h);
    int more = 0;
    list_link *it = R.links.first;
    while (it) {
        struct repl_link *l = LIST_ITEM(it, struct repl_link, all);
        it = it->next; /* pump may free l, never another link */
        /* (pump may end the file part, or the link) */
        if (file_fed(l) && pump(l) == 0 && file_fed(l) && l->c->inflight == 0 && l->c->out.len > 0)
            more = 1;
    }
    if (more)
        uv_idle_start(&R.more, on_more);
    else
        uv_idle_stop(&R.more);
}

/* The WAL writer's hook: each batch, as it is written, to the online links. */
static void on_written(void *ctx, const char *p, size_t n)
{
    KVD_UNUSED(ctx);
    struct repl_link *l;
    LIST_EACH(&R.links, struct repl_link, all, l)
        if (l->state == LINK_ONLINE)
            queue(l, p, n);
}

/* The seq of the first line at or after `from` in a segment file, or 0;
 * with *off its offset. Lines start with {"seq":N (kvd writes them so). */
static uint64_t scan_for(int fd, uint64_t want, uint64_t *off, uint64_t *first)
{
    FILE *f = fdopen(dup(fd), "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t pos = 0, found = 0;
    *first = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        unsigned long long seq;
        if (sscanf(line, "{\"seq\":%llu", &seq) != 1)
            break;
        if (!*first)
            *first = seq;
        if (seq == want) {
            *off = pos;
            found = seq;
            break;
        }
        if (seq > want)
            break;
        pos += (uint64_t)n;
    }
    free(line);
    fclose(f);
    return found;
}

/* Where seq `want` starts in the segments: *seg, *off. 0, or -1 when the
 * segments do not hold it. */
static int find_start(uint64_t want, uint64_t *seg, uint64_t *off)
{
    const manifest *m = &srv.wal->man;
    if (want == srv.wal->written_seq + 1) {
        *seg = live_segment();
        *off = srv.wal->size;
        return 0;
    }
    for (size_t i = 0; i < m->nincr; i++) {
        int fd = open_segment(m->incr[i]);
        if (fd < 0)
            return -1;
        uint64_t first = 0;
        uint64_t found = scan_for(fd, want, off, &first);
        close(fd);
        if (found) {
            *seg = m->incr[i];
            return 0;
        }
        if (first > want)
            return -1;
    }
    return -1;
}

static struct repl_link *link_new(client *c)
{
    struct repl_link *l = xcalloc(1, sizeof *l);
    l->c = c;
    l->fd = l->bulk_fd = -1;
    l->ack_ms = kvd_now_ms();
    l->last_send_ms = kvd_now_ms();
    list_push_back(&R.links, &l->all);
    c->repl = l;
    return l;
}

/* SYNCWAL <replid> <next-seq> */
void cmd_syncwal(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long long want;
    if (c->repl) {
        reply_error(c, "ERR this connection is already a replica link");
        return;
    }
    if (kvd_str_to_ll(argv[2], argvlen[2], &want) < 0 || want < 1) {
        reply_error(c, "ERR next-seq must be a positive integer");
        return;
    }
    /* As Redis: a replica streams only what it holds from a live link
     * (this also stops REPLICAOF loops: to itself, or two replicas of
     * each other). */
    if (repl_is_replica() && !replica_link_up()) {
        reply_error(c, "NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    commit_flush();
    if (wal_error(srv.wal)) {
        reply_errorf(c, "ERR the WAL has an error (%s): cannot replicate", strerror(-wal_error(srv.wal)));
        return;
    }
    char id[41];
    snprintf(id, sizeof id, "%.*s", (int)(argvlen[1] > 40 ? 40 : argvlen[1]), argv[1]);
    uint64_t seq = (uint64_t)want, written = srv.wal->written_seq;
    int same = strcmp(id, R.id) == 0 || (R.second && strcmp(id, R.id2) == 0 && seq <= R.second);
    uint64_t seg = 0, off = 0;
    int can = same && seq > srv.wal->man.base_upto && seq <= written + 1 && find_start(seq, &seg, &off) == 0;
    if (!R.saved)
        save_ids(); /* from now on the id must outlive this process */
    struct repl_link *l = link_new(c);
    if (can) {
        l->fd = open_segment(seg);
        if (l->fd < 0) {
            reply_errorf(c, "ERR cannot open a WAL segment: %s", strerror(errno));
            c->repl = NULL;
            link_free(l);
            return;
        }
        l->seg = seg;
        l->off = off;
        l->from = seq;
        l->state = LINK_CATCHUP;
        buf_appendf(&c->out, "+CONTINUE %s %" PRIu64 "\r\n", R.id, seq);
        log_notice("replica %s (port %d) continues from seq %" PRIu64 " (partial sync, %" PRIu64
                   " entries behind)",
                   c->addr, c->repl_port, seq, written + 1 - seq);
        return;
    }
    /* A full sync: a child writes the keyspace as of seq `written`; the
     * lines after it are in the live segment from its current end on. */
    snprintf(l->tmp, sizeof l->tmp, "%s/%s%d.%" PRIu64 ".tmp", srv.cfg.dir, SYNC_TMP_PREFIX, (int)getpid(),
             ++R.sync_children);
    l->seg = live_segment();
    l->off = srv.wal->size;
    l->fd = open_segment(l->seg);
    char err[256] = "";
    pid_t pid = l->fd < 0 ? -1 : compact_fork_writer(l->tmp, "kvd-replsync", 100, NULL, err, sizeof err);
    if (pid < 0) {
        log_warning("full sync for replica %s could not start: %s", c->addr, err[0] ? err : strerror(errno));
        reply_errorf(c, "ERR full sync could not start: %s", err[0] ? err : strerror(errno));
        c->repl = NULL;
        link_free(l);
        return;
    }
    l->child = pid;
    l->upto = written;
    l->from = written + 1;
    l->state = LINK_WAIT_BGSAVE;
    buf_appendf(&c->out, "+FULLSYNC %s %" PRIu64 "\r\n", R.id, written);
    log_notice("replica %s (port %d) asked for seq %" PRIu64 " of replication id %s: full sync, child %d writes "
               "the base up to seq %" PRIu64,
               c->addr, c->repl_port, seq, id, (int)pid, written);
}

/* A full sync's child ended. */
static void child_done(struct repl_link *l, int status)
{
    l->child = 0;
    compact_writer_ended();
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        drop_link(l, "the child writing its base failed");
        return;
    }
    l->bulk_fd = open(l->tmp, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (l->bulk_fd < 0 || fstat(l->bulk_fd, &st) < 0) {
        drop_link(l, "cannot open the base its child wrote");
        return;
    }
    unlink(l->tmp);
    l->tmp[0] = '\0';
    l->bulk_left = (uint64_t)st.st_size;
    char hdr[48];
    int n = snprintf(hdr, sizeof hdr, "$%" PRIu64 "\r\n", l->bulk_left);
    queue(l, hdr, (size_t)n);
    l->state = LINK_SEND_BULK;
    log_notice("replica %s: sending a base of %" PRIu64 " bytes (up to seq %" PRIu64 ")", l->c->addr, l->bulk_left,
               l->upto);
    pump(l);
}

static void on_wake(uv_timer_t *t);

/* Check the WAITs at the next loop iteration (not inside a command). */
static void wake_soon(void)
{
    if (R.waiters.first && !R.wake_pending && R.started) {
        R.wake_pending = 1;
        uv_timer_start(&R.wake, on_wake, 0, 0);
    }
}

/* REPLCONF <option> <value> ... */
void cmd_replconf(client *c, int argc, char **argv, size_t *argvlen)
{
    if (argc % 2 == 0) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int i = 1; i < argc; i += 2) {
        long long v = 0;
        if (arg_is(argv[i], argvlen[i], "ack")) {
            if (kvd_str_to_ll(argv[i + 1], argvlen[i + 1], &v) < 0 || v < 0)
                return;
            if (c->repl) {
                /* Nothing past what this server wrote can be held
                 * anywhere: an ACK beyond it is not believed (WAIT and
                 * min-replicas count acks). */
                if ((uint64_t)v > srv.wal->written_seq)
                    v = (long long)srv.wal->written_seq;
                if ((uint64_t)v > c->repl->ack)
                    c->repl->ack = (uint64_t)v;
                c->repl->ack_ms = kvd_now_ms();
                wake_soon();
            }
            return; /* no reply, as Redis */
        } else if (arg_is(argv[i], argvlen[i], "listening-port")) {
            if (kvd_str_to_ll(argv[i + 1], argvlen[i + 1], &v) < 0 || v < 0 || v > 65535) {
                reply_error(c, "ERR value is not an integer or out of range");
                return;
            }
            c->repl_port = (int)v;
        } else if (arg_is(argv[i], argvlen[i], "ip-address")) {
            if (argvlen[i + 1] > 255) {
                reply_errorf(c, "ERR REPLCONF ip-address provided by replica instance is too long: %zu bytes",
                             argvlen[i + 1]);
                return;
            }
            free(c->repl_ip);
            c->repl_ip = xmalloc(argvlen[i + 1] + 1);
            memcpy(c->repl_ip, argv[i + 1], argvlen[i + 1]);
            c->repl_ip[argvlen[i + 1]] = '\0';
        } else if (arg_is(argv[i], argvlen[i], "getack")) {
            return; /* a replica answers that; a primary ignores it */
        } else if (!arg_is(argv[i], argvlen[i], "capa") &&
                   !arg_is(argv[i], argvlen[i], "rdb-only") && !arg_is(argv[i], argvlen[i], "rdb-filter-only")) {
            reply_errorf(c, "ERR Unrecognized REPLCONF option: %.*s", (int)(argvlen[i] > 64 ? 64 : argvlen[i]),
                         argv[i]);
            return;
        }
    }
    reply_ok(c);
}

/* ----------------------------------------------------------------- WAIT */

static long count_acked(uint64_t seq)
{
    long n = 0;
    struct repl_link *l;
    LIST_EACH(&R.links, struct repl_link, all, l)
        if (l->state == LINK_ONLINE && l->ack >= seq)
            n++;
    return n;
}

static void unblock(client *c, long n)
{
    c->flags &= ~CLIENT_WAITING;
    list_remove(&c->waiting);
    reply_int(c, n);
    conn_send_later(c);
    conn_resume_input(c);
}

/* Wake the WAITs that have their count, or whose time is up. */
static void check_waiters(int64_t now)
{
    list_link *it = R.waiters.first;
    while (it) {
        client *c = LIST_ITEM(it, client, waiting);
        it = it->next;
        long n = count_acked(c->woff);
        if (n >= c->wait_num || (c->wait_until && now >= c->wait_until)) {
            unblock(c, n);
            it = R.waiters.first; /* resuming may have run anything */
        }
    }
}

static void on_wake(uv_timer_t *t)
{
    KVD_UNUSED(t);
    R.wake_pending = 0;
    check_waiters(kvd_now_ms());
    conn_send_all();
}

/* WAIT numreplicas timeout */
void cmd_wait(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    long long num, timeout;
    if (repl_is_replica()) {
        reply_error(c, "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
                       "replica is configured to be writable (which is not the default) writes to replicas are "
                       "just local and are not propagated.");
        return;
    }
    if (kvd_str_to_ll(argv[1], argvlen[1], &num) < 0) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (kvd_str_to_ll(argv[2], argvlen[2], &timeout) < 0) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    long n = count_acked(c->woff);
    if (n >= num || (c->flags & CLIENT_MULTI) || !R.started) {
        reply_int(c, n);
        return;
    }
    c->wait_num = (long)num;
    int64_t now = kvd_now_ms();
    /* A timeout past the end of the clock waits for ever, as 0 does. */
    c->wait_until = timeout && timeout <= INT64_MAX - now ? now + timeout : 0;
    c->flags |= CLIENT_WAITING;
    list_push_back(&R.waiters, &c->waiting);
}

/* ---------------------------------------------------- refusals, acks, cron */

static int good_replicas(int64_t now)
{
    int n = 0;
    struct repl_link *l;
    LIST_EACH(&R.links, struct repl_link, all, l)
        if (l->state == LINK_ONLINE && now - l->ack_ms <= (int64_t)srv.cfg.min_replicas_max_lag * 1000)
            n++;
    return n;
}

const char *repl_refuse(client *c, int write, int data)
{
    KVD_UNUSED(c);
    if (repl_is_replica()) {
        if (write)
            return "READONLY You can't write against a read only replica.";
        if (data && !srv.cfg.replica_serve_stale_data && !replica_link_up())
            return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
        return NULL;
    }
    if (write && srv.cfg.min_replicas_to_write > 0 && srv.cfg.min_replicas_max_lag > 0 &&
        good_replicas(kvd_now_ms()) < srv.cfg.min_replicas_to_write)
        return "NOREPLICAS Not enough good replicas to write.";
    return NULL;
}

void repl_acked(uint64_t seq)
{
    if (repl_is_replica())
        replica_acked(seq);
}

static void on_tick(uv_timer_t *t)
{
    KVD_UNUSED(t);
    int64_t now = kvd_now_ms();
    list_link *it = R.links.first;
    while (it) {
        struct repl_link *l = LIST_ITEM(it, struct repl_link, all);
        it = it->next;
        if (l->state == LINK_WAIT_BGSAVE && l->child > 0) {
            int status;
            if (waitpid(l->child, &status, WNOHANG) == l->child) {
                child_done(l, status);
                continue;
            }
        }
        /* Keepalives: a replica takes a silent primary for dead. They go
         * between batches only, never inside a group. */
        if ((l->state == LINK_WAIT_BGSAVE || l->state == LINK_ONLINE) && now - l->last_send_ms >= 1000 &&
            l->c->out.len == 0)
            queue(l, "\n", 1);
    }
    if (R.waiters.first)
        check_waiters(now);
    if (repl_is_replica())
        replica_cron(now);
    conn_send_all();
}

/* ------------------------------------------------------------------ setup */

void repl_init(void)
{
    load_ids();
    /* A primary that did not shut down cleanly may have sent its replicas
     * lines that never reached its disk (written, not fsynced, then a
     * power loss): its history from the replay's end on is not the one
     * they hold. A new id, the old one valid up to where the replay
     * ended: a replica not past that continues, one past it syncs fully,
     * however far this server writes before it comes back. */
    if (R.saved && !repl_is_replica() && R.clean != srv.wal->next_seq && srv.wal->next_seq > 1) {
        memcpy(R.id2, R.id, 41);
        R.second = srv.wal->next_seq;
        random_id(R.id);
        log_notice("not a clean shutdown before this start: new replication id %s, the old one valid up to seq "
                   "%" PRIu64,
                   R.id, R.second - 1);
    }
    R.clean = 0;
    if (R.saved)
        save_ids();
    remove_stale_sync_files();
    srv.wal->on_written = on_written;
    srv.wal->on_written_ctx = NULL;
    if (repl_is_replica())
        db_freeze_replica(1);
}

int repl_start(void)
{
    int rc = uv_timer_init(srv.loop, &R.tick);
    if (rc == 0)
        rc = uv_timer_start(&R.tick, on_tick, TICK_MS, TICK_MS);
    if (rc == 0)
        rc = uv_timer_init(srv.loop, &R.wake);
    if (rc == 0)
        rc = uv_prepare_init(srv.loop, &R.pump);
    if (rc == 0)
        rc = uv_prepare_start(&R.pump, on_pump);
    if (rc == 0)
        rc = uv_idle_init(srv.loop, &R.more);
    if (rc < 0)
        return rc;
    R.started = 1;
    if (repl_is_replica()) {
        char host[256];
        int port;
        if (sscanf(srv.cfg.replicaof, "%255s %d", host, &port) == 2)
            replica_connect_to(host, port);
    }
    return 0;
}

void repl_shutdown(int clean)
{
    if (!R.started)
        return;
    R.started = 0;
    if (clean && R.saved && !repl_is_replica()) {
        R.clean = srv.wal->durable_seq + 1; /* everything it wrote is on disk */
        if (R.clean == srv.wal->next_seq)
            save_ids();
    }
    replica_shutdown();
    while (R.links.first) {
        struct repl_link *l = LIST_ITEM(R.links.first, struct repl_link, all);
        l->c->repl = NULL;
        link_free(l);
    }
    uv_close((uv_handle_t *)&R.tick, NULL);
    uv_close((uv_handle_t *)&R.wake, NULL);
    uv_close((uv_handle_t *)&R.pump, NULL);
    uv_close((uv_handle_t *)&R.more, NULL);
}

int repl_is_replica(void)
{
    return srv.cfg.replicaof && srv.cfg.replicaof[0];
}

/* ------------------------------------------------------------ INFO, ROLE */

static const char *state_name(enum link_state s)
{
    switch (s) {
    case LINK_WAIT_BGSAVE:
        return "wait_bgsave";
    case LINK_SEND_BULK:
    case LINK_CATCHUP:
        return "send_bulk";
    case LINK_ONLINE:
        return "online";
    }
    return "?";
}

/* The address a replica is listed with: its replica-announce-ip, else
 * the one its connection comes from. */
static void link_ip(const client *c, char *ip, size_t cap)
{
    if (c->repl_ip) {
        snprintf(ip, cap, "%s", c->repl_ip);
        return;
    }
    snprintf(ip, cap, "%s", c->addr);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = '\0';
}

static void replica_lines(buf_t *out)
{
    int64_t now = kvd_now_ms();
    int n = 0;
    struct repl_link *l;
    LIST_EACH(&R.links, struct repl_link, all, l) {
        char ip[256];
        link_ip(l->c, ip, sizeof ip);
        buf_appendf(out, "slave%d:ip=%s,port=%d,state=%s,offset=%" PRIu64 ",lag=%lld\r\n", n++, ip,
                    l->c->repl_port, state_name(l->state), l->ack, (long long)((now - l->ack_ms) / 1000));
    }
}

static size_t nlinks(void)
{
    return R.links.len;
}

void repl_info(buf_t *out)
{
    if (repl_is_replica()) {
        buf_puts(out, "role:slave\r\n");
        replica_info(out);
    } else {
        buf_puts(out, "role:master\r\n");
    }
    buf_appendf(out, "connected_slaves:%zu\r\n", nlinks());
    if (!repl_is_replica() && srv.cfg.min_replicas_to_write > 0)
        buf_appendf(out, "min_slaves_good_slaves:%d\r\n", good_replicas(kvd_now_ms()));
    replica_lines(out);
    /* While loading (INFO answers then) there is no WAL yet. */
    uint64_t first = srv.wal ? srv.wal->man.base_upto + 1 : 0, last = srv.wal ? srv.wal->written_seq : 0;
    uint64_t backlog = srv.wal ? wal_total_bytes(srv.wal) - srv.wal->base_bytes : 0;
    buf_appendf(out,
                "master_failover_state:no-failover\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n"
                "master_repl_offset:%" PRIu64 "\r\nsecond_repl_offset:%lld\r\nrepl_backlog_active:1\r\n"
                "repl_backlog_size:%" PRIu64 "\r\nrepl_backlog_first_byte_offset:%" PRIu64 "\r\n"
                "repl_backlog_histlen:%" PRIu64 "\r\n",
                R.id, R.id2, last, R.second ? (long long)R.second : -1LL,
                backlog, first, last >= first ? last - first + 1 : 0);
}

void cmd_role(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    KVD_UNUSED(argv);
    KVD_UNUSED(argvlen);
    if (repl_is_replica()) {
        replica_role(c);
        return;
    }
    reply_array(c, 3);
    reply_bulk_str(c, "master");
    reply_int(c, srv.wal ? (long long)srv.wal->written_seq : 0);
    reply_array(c, (long long)nlinks());
    struct repl_link *l;
    LIST_EACH(&R.links, struct repl_link, all, l) {
        char ip[256], port[16], off[24];
        link_ip(l->c, ip, sizeof ip);
        snprintf(port, sizeof port, "%d", l->c->repl_port);
        snprintf(off, sizeof off, "%" PRIu64, l->ack);
        reply_array(c, 3);
        reply_bulk_str(c, ip);
        reply_bulk_str(c, port);
        reply_bulk_str(c, off);
    }
}

/* REPLICAOF host port | NO ONE (and SLAVEOF) */
void cmd_replicaof(client *c, int argc, char **argv, size_t *argvlen)
{
    KVD_UNUSED(argc);
    if (arg_is(argv[1], argvlen[1], "no") && arg_is(argv[2], argvlen[2], "one")) {
        if (repl_is_replica()) {
            replica_stop();
            free(srv.cfg.replicaof);
            srv.cfg.replicaof = xstrdup("");
            db_freeze_replica(0);
            repl_new_id_on_promotion();
            log_notice("promoted to primary (REPLICAOF NO ONE): new replication id %s, the old one is valid up "
                       "to seq %" PRIu64,
                       R.id, R.second - 1);
        }
        reply_ok(c);
        return;
    }
    long long port;
    if (kvd_str_to_ll(argv[2], argvlen[2], &port) < 0 || port < 0 || port > 65535) {
        reply_error(c, "ERR Invalid master port");
        return;
    }
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(argvlen[1] > 255 ? 255 : argvlen[1]), argv[1]);
    char want[300];
    snprintf(want, sizeof want, "%s %lld", host, port);
    if (repl_is_replica() && strcmp(srv.cfg.replicaof, want) == 0) {
        reply_simple(c, "OK Already connected to specified master");
        return;
    }
    /* No flush here: inside EXEC (Sentinel sends REPLICAOF in MULTI) the
     * batch holds an open group. The link flushes before it asks. */
    if (repl_is_replica())
        replica_stop();
    if (!R.saved)
        save_ids();
    free(srv.cfg.replicaof);
    srv.cfg.replicaof = xstrdup(want);
    db_freeze_replica(1);
    /* The WAITs end now (with what they have): this server no longer
     * takes writes. */
    client *w;
    LIST_EACH(&R.waiters, client, waiting, w)
        w->wait_until = 1;
    wake_soon();
    log_notice("REPLICAOF %s %lld: this server is now a replica", host, port);
    if (R.started)
        replica_connect_to(host, (int)port);
    reply_ok(c);
}
