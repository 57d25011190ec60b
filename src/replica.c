/* replica: the replica's side of replication. One connection to the
 * primary, made with libuv as a client: AUTH (masterauth / masteruser),
 * REPLCONF listening-port, SYNCWAL <replid> <next-seq>; then the stream
 * (repl_stream.c checks it): for a full sync a base, installed through
 * the manifest as a compaction installs one and loaded into an emptied
 * keyspace; then WAL lines, each written verbatim to this server's WAL
 * with the primary's seq and applied with the one apply function
 * (commit_replicated). What this server's fsync policy made durable is
 * acknowledged with REPLCONF ACK after each batch and every second. A
 * broken link is made again with backoff, continuing from the last seq
 * held. */
#include "config.h"
#include "repl.h"
#include "repl_stream.h"
#include "commit.h"
#include "compact.h"
#include "db.h"
#include "log.h"
#include "multi.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum rstate {
    R_OFF,        /* not a replica */
    R_WAIT,       /* link down: the next try is at next_try_ms */
    R_CONNECTING, /* TCP connect under way */
    R_HANDSHAKE,  /* AUTH, REPLCONF, SYNCWAL sent; reading their replies */
    R_SYNC,       /* full sync: receiving the base */
    R_STREAM,     /* the link is up: WAL lines */
};

#define RECV_NAME WAL_DIR_REPLSYNC_PREFIX "recv.tmp"
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

typedef struct mlink {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uint64_t id;            /* its client id (CLIENT LIST) */
    int64_t ctime_ms;
    char addr[300], laddr[80];
} mlink;

typedef struct wreq {
    uv_write_t req;
    char data[];
} wreq;

static struct {
    enum rstate state;
    char host[256];
    int port;
    mlink *link;
    buf_t in;               /* read from the primary, not yet parsed */
    repl_stream ps;
    wal_decoder dec;
    int ready;              /* ps and dec are initialised */
    int replies_due;        /* handshake replies still to come */
    int auth_reply;         /* the next reply answers AUTH */
    int64_t next_try_ms, backoff_ms;
    int64_t last_io_ms, down_since_ms;
    uint64_t acked_sent;
    int64_t last_ack_ms;
    int base_fd;            /* R_SYNC: the base being received */
    uint64_t upto, base_total, base_got;
    char pend_id[41];
    uint64_t read_seq;      /* the last seq received */
    int logged_down;        /* the current outage is logged */
} M = {.base_fd = -1};

static void recv_path(char *p, size_t n)
{
    snprintf(p, n, "%s/%s", srv.cfg.dir, RECV_NAME);
}

/* ---------------------------------------------------------------- writing */

static void on_written(uv_write_t *req, int status)
{
    KVD_UNUSED(status); /* a broken link is seen by the read side */
    free(req);
}

static void send_bytes(const char *p, size_t n)
{
    if (!M.link)
        return;
    wreq *w = xmalloc(sizeof *w + n);
    memcpy(w->data, p, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&M.link->tcp, &b, 1, on_written) < 0)
        free(w);
}

static void add_arg(buf_t *b, const char *s)
{
    buf_appendf(b, "$%zu\r\n%s\r\n", strlen(s), s);
}

static void send_ack(uint64_t seq)
{
    char num[24], cmd[96];
    snprintf(num, sizeof num, "%" PRIu64, seq);
    int n = snprintf(cmd, sizeof cmd, "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%zu\r\n%s\r\n", strlen(num), num);
    send_bytes(cmd, (size_t)n);
    M.acked_sent = seq;
    M.last_ack_ms = kvd_now_ms();
}

void replica_acked(uint64_t seq)
{
    if (M.state == R_STREAM && seq > M.acked_sent)
        send_ack(seq);
}

/* ------------------------------------------------------------- the link */

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

static void drop_base(void)
{
    if (M.base_fd >= 0) {
        close(M.base_fd);
        M.base_fd = -1;
        char p[4300];
        recv_path(p, sizeof p);
        unlink(p);
    }
}

static void close_link(void)
{
    if (M.link) {
        uv_read_stop((uv_stream_t *)&M.link->tcp);
        uv_close((uv_handle_t *)&M.link->tcp, on_close);
        M.link = NULL;
    }
    drop_base();
    if (M.ready)
        buf_release(&M.in);
}

/* The link broke (or could not be made): try again after the backoff. */
static void link_lost(const char *why)
{
    int was_up = M.state == R_STREAM;
    close_link();
    if (M.state == R_OFF)
        return;
    int64_t now = kvd_now_ms();
    if (was_up)
        M.down_since_ms = now;
    if (!M.logged_down || was_up)
        log_warning("link with primary %s:%d %s: %s; trying again in %lld ms", M.host, M.port,
                    was_up ? "lost" : "not up", why, (long long)M.backoff_ms);
    else
        log_verbose("link with primary %s:%d not up: %s", M.host, M.port, why);
    M.logged_down = 1;
    M.state = R_WAIT;
    M.next_try_ms = now + M.backoff_ms;
    M.backoff_ms = M.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : M.backoff_ms * 2;
}

static void link_up(const char *how)
{
    M.state = R_STREAM;
    M.backoff_ms = BACKOFF_MIN_MS;
    M.logged_down = 0;
    M.last_io_ms = kvd_now_ms();
    log_notice("link with primary %s:%d up (%s), at seq %" PRIu64, M.host, M.port, how, srv.wal->next_seq - 1);
    send_ack(commit_ack_seq());
}

/* ------------------------------------------------------------ full sync */

/* The whole base is here: make it this server's data. */
/* The highest database a received base's lines use (wal_scan's apply). */
typedef struct db_range {
    uint32_t max;
} db_range;

static int note_db(void *ctx, const wal_entry *e)
{
    db_range *r = ctx;
    if (e->db > r->max)
        r->max = e->db;
    return 0;
}

static int install_base(char *err, size_t errlen)
{
    wal_t *w = srv.wal;
    if (fsync(M.base_fd) < 0) {
        snprintf(err, errlen, "fsync of the received base: %s", strerror(errno));
        return -1;
    }
    close(M.base_fd);
    M.base_fd = -1;
    char recv[4300], tmp[4300];
    recv_path(recv, sizeof recv);
    /* Refused before anything changes if it needs more databases than
     * this server has: installed, the keys past them would be missing
     * while the link claims to be in sync. */
    db_range r = {0};
    wal_scan_opts so = {.first_seq = 1, .base = 1};
    wal_scan_result sr;
    if (wal_scan(recv, &srv.pool, &so, note_db, &r, &sr) == 0 && sr.status == WAL_SCAN_OK && r.max >= srv.ks.n) {
        snprintf(err, errlen, "the primary uses database %u but this server has only %u (raise 'databases')", r.max,
                 srv.ks.n);
        unlink(recv);
        return -1;
    }
    if (commit_flush() < 0 || wal_error(w)) {
        snprintf(err, errlen, "the WAL has an error");
        unlink(recv);
        return -1;
    }
    if (srv.compact.child)
        compact_abort(); /* its base would describe the data being replaced */
    /* New lines go to an empty segment, listed after the new base (which
     * is numbered after it: numbers only grow). */
    uint64_t upto_old;
    int old_fd;
    if (wal_rotate(w, &upto_old, &old_fd, err, errlen) < 0) {
        unlink(recv);
        return -1;
    }
    if (old_fd >= 0 && srv.sync_inflight && srv.sync_fd == old_fd)
        srv.retired_fd = old_fd;
    else if (old_fd >= 0)
        close(old_fd);
    uint64_t num = wal_next_file_number(w);
    wal_base_path(w, num, 1, tmp, sizeof tmp);
    if (rename(recv, tmp) < 0) {
        snprintf(err, errlen, "cannot rename the received base: %s", strerror(errno));
        unlink(recv);
        return -1;
    }
    uint64_t first_kept = w->man.incr[w->man.nincr - 1];
    if (wal_install_base(w, num, M.upto, first_kept, M.base_total, err, errlen) < 0)
        return -1;
    w->next_seq = M.upto + 1;
    w->written_seq = w->durable_seq = M.upto;
    /* The received base is as compact as a compaction's: the automatic
     * trigger measures growth from it (from 0, a fresh replica compacted
     * the base it had just written, at once). */
    srv.compact.ref_bytes = wal_total_bytes(w);
    /* Empty the keyspace and load the base. */
    for (uint32_t i = 0; i < srv.ks.n; i++)
        multi_touch_all(i);
    uint32_t n = srv.ks.n;
    keyspace_free(&srv.ks);
    keyspace_init(&srv.ks, n);
    server_apply_eviction_config();
    db_select(0);
    wal_walk_result res;
    char werr[512] = "";
    int rc = wal_walk_dir(srv.cfg.dir, &w->man, &srv.pool, apply_replay, &srv.ks, &apply_hooks, NULL, NULL, 0,
                          &res, werr, sizeof werr);
    db_loaded();
    if (rc < 0 || res.status != WAL_SCAN_OK) {
        snprintf(err, errlen, "the received base does not load: %s %s", werr, res.bad_reason);
        return -1;
    }
    if (srv.ks.long_seq) {
        snprintf(err, errlen, "the received base does not load: entry %llu appends past the longest value",
                 (unsigned long long)srv.ks.long_seq);
        return -1;
    }
    if (srv.ks.bad_seq)
        log_warning("the primary's data uses database %u but this server has only %u: raise 'databases'; "
                    "those keys are missing here",
                    srv.ks.bad_db, srv.ks.n);
    /* Only now that the data is the primary's: its id. */
    repl_set_ids(M.pend_id, NULL, 0);
    repl_drop_sub_replicas("this server did a full sync");
    log_notice("full sync done: base of %" PRIu64 " bytes, %llu keys, up to seq %" PRIu64, M.base_total,
               (unsigned long long)keyspace_count(&srv.ks), M.upto);
    return 0;
}

/* ---------------------------------------------------------- the stream */

/* The handshake's replies, in order: AUTH (if sent), REPLCONF, SYNCWAL. */
static int on_reply(const char *p, size_t n)
{
    M.replies_due--;
    if (M.auth_reply) {
        M.auth_reply = 0;
        if (n && p[0] == '-') {
            char why[200];
            snprintf(why, sizeof why, "the primary refused AUTH (masterauth/masteruser): %.*s",
                     (int)(n > 120 ? 120 : n), p);
            link_lost(why);
            return -1;
        }
        return 0;
    }
    if (M.replies_due > 0) {
        if (n && p[0] == '-')
            log_verbose("the primary answered REPLCONF with %.*s", (int)(n > 120 ? 120 : n), p);
        return 0;
    }
    char id[64];
    unsigned long long seq;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(n > 255 ? 255 : n), p);
    if (line[0] == '-') {
        char why[400];
        if (strstr(line, "unknown command"))
            snprintf(why, sizeof why,
                     "the primary is not kvd: it does not know SYNCWAL (kvd replicates from kvd only; it said %s)",
                     line);
        else
            snprintf(why, sizeof why, "the primary refused SYNCWAL: %s", line);
        link_lost(why);
        return -1;
    }
    if (sscanf(line, "+CONTINUE %63s %llu", id, &seq) == 2 && strlen(id) == 40) {
        if (seq != srv.wal->next_seq) {
            link_lost("the primary would continue from another seq than asked");
            return -1;
        }
        if (strcmp(id, repl_id()) != 0) {
            char old[41];
            memcpy(old, repl_id(), 41);
            repl_set_ids(id, old, seq); /* sub-replicas may still continue with the old one */
        }
        repl_stream_expect(&M.ps, RS_MODE_LINES, seq);
        link_up("partial sync");
        return 0;
    }
    if (sscanf(line, "+FULLSYNC %63s %llu", id, &seq) == 2 && strlen(id) == 40) {
        memcpy(M.pend_id, id, 41);
        M.upto = seq;
        M.base_total = M.base_got = 0;
        char path[4300];
        recv_path(path, sizeof path);
        M.base_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (M.base_fd < 0) {
            link_lost("cannot create the file for the base");
            return -1;
        }
        repl_stream_expect(&M.ps, RS_MODE_BULKHDR, seq + 1);
        M.state = R_SYNC;
        log_notice("full sync from primary %s:%d: base up to seq %llu", M.host, M.port, seq);
        return 0;
    }
    char why[300];
    snprintf(why, sizeof why, "unexpected answer to SYNCWAL: %s", line);
    link_lost(why);
    return -1;
}

/* Apply one checked group (or line). */
static int on_group(const repl_stream_out *o)
{
    /* db_writable: a write that failed (a full disk) is tried again after a
     * while, as on a primary; a failed fsync stays fatal. */
    if (!db_writable()) {
        link_lost("this server's WAL has an error");
        return -1;
    }
    /* A group applies whole or not at all: check every line first. */
    const char *p = o->p, *end = o->p + o->len;
    wal_entry e;
    char why[160];
    if (o->lines > 1) {
        for (const char *q = p; q < end;) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            if (wal_decode_line(&M.dec, q, (size_t)(nl - q), &e, why, sizeof why) < 0 || e.db >= srv.ks.n ||
                ((e.op == WAL_OP_MOVE || e.op == WAL_OP_SWAPDB) && e.to >= srv.ks.n)) {
                link_lost("the primary uses more databases than this server has (raise 'databases')");
                return -1;
            }
            q = nl + 1;
        }
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (wal_decode_line(&M.dec, p, (size_t)(nl - p), &e, why, sizeof why) < 0 || e.db >= srv.ks.n ||
            ((e.op == WAL_OP_MOVE || e.op == WAL_OP_SWAPDB) && e.to >= srv.ks.n)) {
            link_lost("the primary uses more databases than this server has (raise 'databases')");
            return -1;
        }
        commit_replicated(p, (size_t)(nl - p) + 1, &e);
        p = nl + 1;
    }
    M.read_seq = o->last;
    return 0;
}

static void process(void)
{
    size_t pos = 0;
    while (M.link && pos <= M.in.len) {
        size_t used;
        repl_stream_out o;
        repl_stream_event ev = repl_stream_next(&M.ps, M.in.data + pos, M.in.len - pos, &used, &o);
        pos += used;
        int rc = 0;
        switch (ev) {
        case RS_MORE:
            goto done;
        case RS_REPLY:
            rc = on_reply(o.p, o.len);
            break;
        case RS_BULK:
            M.base_total = o.bulk;
            log_notice("receiving a base of %" PRIu64 " bytes", o.bulk);
            break;
        case RS_BULK_DATA:
            if (kvd_write_all(M.base_fd, o.p, o.len) < 0) {
                link_lost("cannot write the received base");
                rc = -1;
            }
            M.base_got += o.len;
            break;
        case RS_BULK_END: {
            char err[600] = "";
            if (install_base(err, sizeof err) < 0) {
                log_warning("full sync failed: %s", err);
                link_lost("the full sync failed");
                rc = -1;
            } else {
                link_up("full sync");
            }
            break;
        }
        case RS_GROUP:
            rc = on_group(&o);
            break;
        case RS_ERROR: {
            char why[300];
            snprintf(why, sizeof why, "the stream is damaged: %s", M.ps.err);
            link_lost(why);
            rc = -1;
            break;
        }
        }
        if (rc < 0 || !M.link)
            return; /* the link is gone, and its buffer */
    }
done:
    if (M.link && pos)
        buf_consume(&M.in, pos);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    KVD_UNUSED(h);
    KVD_UNUSED(suggested);
    buf_reserve(&M.in, 64 * 1024);
    *b = uv_buf_init(M.in.data + M.in.len, 64 * 1024);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    KVD_UNUSED(b);
    if (!M.link || s != (uv_stream_t *)&M.link->tcp)
        return;
    if (nread < 0) {
        link_lost(nread == UV_EOF ? "the primary closed the connection" : uv_strerror((int)nread));
        return;
    }
    M.in.len += (size_t)nread;
    M.last_io_ms = kvd_now_ms();
    process();
}

static void on_connect(uv_connect_t *req, int status)
{
    mlink *l = req->handle->data;
    if (l != M.link)
        return; /* given up on meanwhile */
    if (status < 0) {
        link_lost(uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&l->tcp, 1);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    char ip[64] = "?";
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        int port = 0;
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
        snprintf(l->laddr, sizeof l->laddr, "%s:%d", ip, port);
    }
    if (uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, on_read) < 0) {
        link_lost("cannot read from the connection");
        return;
    }
    /* Everything this server holds is in its WAL file before it asks. */
    commit_flush();
    M.ps.broken = 0;
    repl_stream_expect(&M.ps, RS_MODE_REPLY, 0);
    buf_t b = BUF_INIT(&srv.pool);
    M.replies_due = 0;
    M.auth_reply = 0;
    if (srv.cfg.masterauth && srv.cfg.masterauth[0]) {
        int user = srv.cfg.masteruser && srv.cfg.masteruser[0];
        buf_appendf(&b, "*%d\r\n", user ? 3 : 2);
        add_arg(&b, "AUTH");
        if (user)
            add_arg(&b, srv.cfg.masteruser);
        add_arg(&b, srv.cfg.masterauth);
        M.replies_due++;
        M.auth_reply = 1;
    }
    char port[16], seq[24];
    snprintf(port, sizeof port, "%d", srv.cfg.replica_announce_port ? srv.cfg.replica_announce_port : srv.cfg.port);
    snprintf(seq, sizeof seq, "%" PRIu64, srv.wal->next_seq);
    buf_puts(&b, "*3\r\n");
    add_arg(&b, "REPLCONF");
    add_arg(&b, "listening-port");
    add_arg(&b, port);
    if (srv.cfg.replica_announce_ip && srv.cfg.replica_announce_ip[0]) {
        buf_puts(&b, "*3\r\n");
        add_arg(&b, "REPLCONF");
        add_arg(&b, "ip-address");
        add_arg(&b, srv.cfg.replica_announce_ip);
        M.replies_due++;
    }
    buf_puts(&b, "*3\r\n");
    add_arg(&b, "SYNCWAL");
    add_arg(&b, repl_id());
    add_arg(&b, seq);
    M.replies_due += 2;
    send_bytes(b.data, b.len);
    buf_release(&b);
    M.state = R_HANDSHAKE;
    M.last_io_ms = kvd_now_ms();
}

static void try_connect(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", M.port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    uv_getaddrinfo_t gr;
    int rc = uv_getaddrinfo(srv.loop, &gr, NULL, M.host, port, &hints); /* synchronous */
    if (rc < 0) {
        M.state = R_CONNECTING;
        link_lost(uv_strerror(rc));
        return;
    }
    mlink *l = xcalloc(1, sizeof *l);
    uv_tcp_init(srv.loop, &l->tcp);
    l->tcp.data = l;
    l->id = ++srv.next_client_id;
    l->ctime_ms = kvd_now_ms();
    snprintf(l->addr, sizeof l->addr, "%s:%d", M.host, M.port);
    M.link = l;
    M.state = R_CONNECTING;
    M.last_io_ms = kvd_now_ms();
    rc = uv_tcp_connect(&l->creq, &l->tcp, gr.addrinfo->ai_addr, on_connect);
    uv_freeaddrinfo(gr.addrinfo);
    if (rc < 0)
        link_lost(uv_strerror(rc));
}

/* ------------------------------------------------------------- control */

void replica_connect_to(const char *host, int port)
{
    if (!M.ready) {
        repl_stream_init(&M.ps, &srv.pool);
        wal_decoder_init(&M.dec, &srv.pool);
        buf_init(&M.in, &srv.pool);
        M.ready = 1;
    }
    close_link();
    snprintf(M.host, sizeof M.host, "%s", host);
    M.port = port;
    M.state = R_WAIT;
    M.backoff_ms = BACKOFF_MIN_MS;
    M.logged_down = 0;
    M.down_since_ms = 0; /* -1 in INFO until the link was up once, as Redis says */
    M.acked_sent = 0;
    log_notice("connecting to primary %s:%d", host, port);
    try_connect();
}

void replica_stop(void)
{
    close_link();
    M.state = R_OFF;
}

int replica_kill_link(void)
{
    if (!M.link)
        return 0;
    link_lost("killed (CLIENT KILL)");
    return 1;
}

void replica_cron(int64_t now)
{
    switch (M.state) {
    case R_OFF:
        return;
    case R_WAIT:
        if (now >= M.next_try_ms)
            try_connect();
        return;
    default:
        break;
    }
    if (now - M.last_io_ms > (int64_t)srv.cfg.repl_timeout * 1000) {
        link_lost("timeout: nothing from the primary for repl-timeout seconds");
        return;
    }
    if (M.state == R_STREAM) {
        if (srv.wal->next_seq != M.ps.next_seq) {
            link_lost("a write to this server's WAL failed: continuing from what it holds");
            return;
        }
        if (now - M.last_ack_ms >= 1000)
            send_ack(commit_ack_seq());
    }
}

uint64_t replica_link_id(void)
{
    return M.link ? M.link->id : 0;
}

void replica_describe(buf_t *out)
{
    mlink *l = M.link;
    if (!l)
        return;
    int64_t now = kvd_now_ms();
    uv_os_fd_t fd = -1;
    uv_fileno((uv_handle_t *)&l->tcp, &fd);
    buf_appendf(out,
                "id=%llu addr=%s laddr=%s fd=%d name= age=%lld idle=%lld flags=M db=0 sub=0 psub=0 ssub=0 "
                "multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu rbp=0 obl=0 oll=0 omem=0 "
                "tot-mem=%zu events=r cmd=NULL user=default redir=-1 resp=2 lib-name= lib-ver=",
                (unsigned long long)l->id, l->addr, l->laddr, (int)fd, (long long)((now - l->ctime_ms) / 1000),
                (long long)((now - M.last_io_ms) / 1000), M.in.len, M.in.cap - M.in.len, M.in.cap,
                sizeof *l + M.in.cap);
}

void replica_shutdown(void)
{
    replica_stop();
    if (M.ready) {
        repl_stream_free(&M.ps);
        wal_decoder_free(&M.dec);
        M.ready = 0;
    }
}

int replica_link_up(void)
{
    return M.state == R_STREAM;
}

void replica_info(buf_t *out)
{
    int64_t now = kvd_now_ms();
    uint64_t applied = srv.wal ? srv.wal->next_seq - 1 : 0;
    buf_appendf(out,
                "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\nmaster_last_io_seconds_ago:%lld\r\n"
                "master_sync_in_progress:%d\r\nslave_read_repl_offset:%" PRIu64 "\r\nslave_repl_offset:%" PRIu64
                "\r\n",
                M.host, M.port, M.state == R_STREAM ? "up" : "down",
                M.state >= R_HANDSHAKE ? (long long)((now - M.last_io_ms) / 1000) : -1LL, M.state == R_SYNC,
                M.read_seq > applied ? M.read_seq : applied, applied);
    if (M.state == R_SYNC)
        buf_appendf(out,
                    "master_sync_total_bytes:%lld\r\nmaster_sync_read_bytes:%" PRIu64 "\r\n"
                    "master_sync_left_bytes:%lld\r\nmaster_sync_perc:%.2f\r\n"
                    "master_sync_last_io_seconds_ago:%lld\r\n",
                    M.base_total ? (long long)M.base_total : -1LL, M.base_got,
                    M.base_total ? (long long)(M.base_total - M.base_got) : -1LL,
                    M.base_total ? 100.0 * (double)M.base_got / (double)M.base_total : 0.0,
                    (long long)((now - M.last_io_ms) / 1000));
    if (M.state != R_STREAM)
        buf_appendf(out, "master_link_down_since_seconds:%lld\r\n",
                    M.down_since_ms ? (long long)((now - M.down_since_ms) / 1000) : -1LL);
    buf_appendf(out, "slave_priority:%d\r\nslave_read_only:1\r\nreplica_announced:%d\r\n",
                srv.cfg.replica_priority, srv.cfg.replica_announced);
}

void replica_role(client *c)
{
    static const char *const names[] = {"none", "connect", "connecting", "handshake", "sync", "connected"};
    reply_array(c, 5);
    reply_bulk_str(c, "slave");
    reply_bulk_str(c, M.host);
    reply_int(c, M.port);
    reply_bulk_str(c, names[M.state]);
    reply_int(c, srv.wal ? (long long)(srv.wal->next_seq - 1) : 0);
}
