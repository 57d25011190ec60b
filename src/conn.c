/* conn: client connections: accept, read and parse, dispatch, send the
 * replies (one write per iteration, holding back what commit.c holds),
 * output limits, idle timeouts, and closing (lingering after a last reply
 * so that the kernel does not reset it away). */
#include "config.h"
#include "conn.h"
#include "acl.h"
#include "multi.h"
#include "pubsub.h"
#include "cmd.h"
#include "commit.h"
#include "log.h"
#include "pause.h"
#include "repl.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (16 * 1024)

/* Before AUTH a client gets only what AUTH or HELLO needs: at most
 * UNAUTH_MAX_ARGS arguments of UNAUTH_MAX_BULK bytes, inline lines of at
 * most UNAUTH_MAX_INLINE (Redis's limits), and its replies may not pile
 * up past UNAUTH_MAX_OUTPUT bytes. */
#define UNAUTH_MAX_ARGS 10
#define UNAUTH_MAX_BULK 16384
#define UNAUTH_MAX_INLINE 65536
#define UNAUTH_MAX_OUTPUT 1024

static void client_flush(client *c);
static void client_close(client *c);
static void process_input(client *c);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* ------------------------------------------------------------ client lists */

/* srv.clients: every connected client, least recently active first. */
static void lru_touch(client *c)
{
    list_move_back(&srv.clients, &c->all);
}

/* srv.pending: clients with replies to send before the loop blocks. */
static void pw_add(client *c)
{
    if (!list_linked(&c->pw) && !(c->flags & CLIENT_CLOSING))
        list_push_back(&srv.pending, &c->pw);
}

void conn_send_later(client *c)
{
    pw_add(c);
}

void conn_send_all(void)
{
    while (srv.pending.first) {
        client *c = LIST_ITEM(srv.pending.first, client, pw);
        list_remove(&c->pw);
        client_flush(c);
    }
}

/* ------------------------------------------------------------------ writes */

typedef struct wreq {
    uv_write_t req;
    client *c;
    char *data;
    size_t len, cap;
} wreq;

static void client_free_cb(uv_handle_t *h)
{
    client *c = h->data;
    if (c->tls)
        tls_conn_free(c);
    multi_free(c);
    pubsub_free(c);
    if (c->flags & CLIENT_MONITOR)
        cmd_monitor_forget(c);
    buf_release(&c->qbuf);
    buf_release(&c->out);
    resp_parser_free(&c->parser);
    free(c->bars);
    free(c->name);
    free(c->repl_ip);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

static void client_close(client *c)
{
    if (c->flags & CLIENT_CLOSING)
        return;
    pubsub_free(c); /* at once: PUBSUB NUMSUB and PUBLISH's count must not see it */
    if (c->flags & CLIENT_LINGER) {
        c->flags |= CLIENT_CLOSING;
        list_remove(&c->all); /* from srv.lingering */
        uv_close(&c->h.handle, client_free_cb);
        return;
    }
    c->flags |= CLIENT_CLOSING;
    list_remove(&c->all);
    commit_forget(c);
    pause_forget(c);
    repl_forget(c);
    list_remove(&c->pw);
    srv.nclients--;
    uv_close(&c->h.handle, client_free_cb);
}

void conn_close(client *c)
{
    c->flags |= CLIENT_CLOSE_ASAP;
    client_close(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    KVD_UNUSED(req);
    KVD_UNUSED(status); /* a failed FIN: the linger timeout closes it */
}

#define LINGER_MS 2000

/* Close a client whose last reply is out (QUIT, a protocol error) but
 * which may have sent more behind it. Closing a socket with unread input
 * makes the kernel send a reset, which can destroy the reply still in
 * flight; so send FIN instead, read and drop whatever comes, and close on
 * the client's EOF or after LINGER_MS. It no longer counts as a client. */
static void client_linger(client *c)
{
    if (c->flags & (CLIENT_CLOSING | CLIENT_LINGER))
        return;
    list_remove(&c->all);
    commit_forget(c);
    pause_forget(c);
    repl_forget(c);
    list_remove(&c->pw);
    srv.nclients--;
    c->flags |= CLIENT_LINGER;
    c->linger_until = kvd_now_ms() + LINGER_MS;
    list_push_back(&srv.lingering, &c->all);
    buf_release(&c->qbuf);
    uv_read_stop(&c->h.stream);
    if (c->tls)
        tls_close_notify(c); /* queued ahead of the FIN */
    if (uv_shutdown(&c->sreq, &c->h.stream, shutdown_cb) < 0 ||
        uv_read_start(&c->h.stream, alloc_cb, read_cb) < 0)
        client_close(c);
}

static void close_lingering(int64_t now)
{
    client *c;
    LIST_EACH(&srv.lingering, client, all, c)
        if (now < 0 || now >= c->linger_until)
            client_close(c);
}

/* The output limits of c's class: pubsub while it is subscribed to
 * anything, as in Redis. */
static const kvd_obuf_limit *obuf_limit(const client *c)
{
    if (c->repl)
        return &srv.cfg.obuf[KVD_OBUF_REPLICA];
    return &srv.cfg.obuf[pubsub_count(c) ? KVD_OBUF_PUBSUB : KVD_OBUF_NORMAL];
}

static int over_soft_limit(const client *c)
{
    const kvd_obuf_limit *l = obuf_limit(c);
    return l->soft > 0 && (long long)(c->out.len + c->inflight) > l->soft;
}

/* Output the peer is not taking: whatever made it (replies, or what TLS
 * sends on its own, such as answers to key updates), the limits are the
 * same. Closes c (returns -1) past the unauthenticated cap or the hard
 * limit; stops reading from it past the soft limit. */
static int output_limits(client *c)
{
    size_t pending = c->out.len + c->inflight;
    if (!(c->flags & CLIENT_AUTHENTICATED) && pending > UNAUTH_MAX_OUTPUT) {
        log_verbose("closing client id=%llu addr=%s: %zu bytes of output unread before AUTH",
                    (unsigned long long)c->id, c->addr, pending);
        client_close(c);
        return -1;
    }
    if (obuf_limit(c)->hard > 0 && (long long)pending > obuf_limit(c)->hard) {
        log_warning("closing client id=%llu addr=%s: output buffer of %zu bytes is over the hard "
                    "limit (client-output-buffer-limit)",
                    (unsigned long long)c->id, c->addr, pending);
        client_close(c);
        return -1;
    }
    if (over_soft_limit(c) && !(c->flags & (CLIENT_READ_PAUSED | CLIENT_CLOSING | CLIENT_LINGER))) {
        c->flags |= CLIENT_READ_PAUSED;
        uv_read_stop(&c->h.stream);
    }
    return 0;
}

static void maybe_resume(client *c)
{
    if (!(c->flags & CLIENT_READ_PAUSED) || (c->flags & CLIENT_CLOSING))
        return;
    const kvd_obuf_limit *l = obuf_limit(c);
    if (l->soft > 0 && (long long)(c->out.len + c->inflight) > l->soft / 2)
        return;
    c->flags &= ~CLIENT_READ_PAUSED;
    int rc = c->tls ? tls_read_start(c) : uv_read_start(&c->h.stream, alloc_cb, read_cb);
    if (rc < 0) {
        log_warning("closing client id=%llu addr=%s: cannot read from it again: %s", (unsigned long long)c->id,
                    c->addr, uv_strerror(rc));
        client_close(c);
        return;
    }
    process_input(c);
    if (c->tls)
        tls_resume(c); /* what it decrypted no further while paused */
}

static void write_cb(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    client *c = w->c;
    c->inflight -= w->len;
    pool_put(&srv.pool, w->data, w->cap);
    free(w);
    if (c->flags & CLIENT_CLOSING)
        return;
    if (status < 0) {
        log_verbose("write to client id=%llu addr=%s failed: %s", (unsigned long long)c->id, c->addr,
                    uv_strerror(status));
        client_close(c);
        return;
    }
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && c->inflight == 0 && c->out.len == 0 && c->nbars == 0) {
        client_linger(c);
        return;
    }
    maybe_resume(c);
}

static void client_flush(client *c)
{
    if (c->flags & CLIENT_CLOSING)
        return;
    if (c->flags & CLIENT_CLOSE_ASAP) {
        client_close(c);
        return;
    }
    size_t sendable = c->nbars ? c->bars[0].off : c->out.len;
    if (sendable > 0 && c->tls) {
        if (tls_write(c, c->out.data, sendable) < 0) {
            client_close(c);
            return;
        }
        buf_consume(&c->out, sendable);
        for (int i = 0; i < c->nbars; i++)
            c->bars[i].off -= sendable;
        if (c->out.len == 0 && c->out.cap > POOL_MAX_SIZE)
            buf_release(&c->out);
    } else if (sendable > 0) {
        size_t done = 0;
        if (c->inflight == 0) {
            uv_buf_t b = uv_buf_init(c->out.data, (unsigned)sendable);
            int n = uv_try_write(&c->h.stream, &b, 1);
            if (n > 0)
                done = (size_t)n;
            else if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
                client_close(c);
                return;
            }
        }
        srv.stats.net_out += done;
        if (done < sendable) {
            /* The rest goes through uv_write, which needs stable memory. */
            wreq *w = xmalloc(sizeof(*w));
            w->c = c;
            w->len = sendable - done;
            if (done == 0 && sendable == c->out.len) {
                size_t len;
                w->data = buf_detach(&c->out, &len, &w->cap);
            } else {
                w->data = pool_get(&srv.pool, w->len, &w->cap);
                memcpy(w->data, c->out.data + done, w->len);
            }
            srv.stats.net_out += w->len;
            c->inflight += w->len;
            uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
            int rc = uv_write(&w->req, &c->h.stream, &b, 1, write_cb);
            if (rc < 0) {
                c->inflight -= w->len;
                pool_put(&srv.pool, w->data, w->cap);
                free(w);
                client_close(c);
                return;
            }
        }
        if (c->out.data)
            buf_consume(&c->out, sendable);
        for (int i = 0; i < c->nbars; i++)
            c->bars[i].off -= sendable;
        if (c->out.len == 0 && c->out.cap > POOL_MAX_SIZE)
            buf_release(&c->out);
    }
    if (output_limits(c) < 0)
        return;
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && c->inflight == 0 && c->out.len == 0 && c->nbars == 0) {
        client_linger(c);
        return;
    }
    if (c->out.len + c->inflight > srv.stats.max_out)
        srv.stats.max_out = c->out.len + c->inflight;
    maybe_resume(c);
}

void conn_close_after_reply(client *c)
{
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    pw_add(c);
}

/* ------------------------------------------------------------------- reads */

static void apply_limits(client *c)
{
    resp_limits lim = {(size_t)srv.cfg.proto_inline_max_size, srv.cfg.proto_max_bulk_len,
                       srv.cfg.proto_max_multibulk_len, 0};
    if (!(c->flags & CLIENT_AUTHENTICATED)) {
        lim.unauthenticated = 1;
        if (lim.inline_max > UNAUTH_MAX_INLINE)
            lim.inline_max = UNAUTH_MAX_INLINE;
        if (lim.bulk_max > UNAUTH_MAX_BULK)
            lim.bulk_max = UNAUTH_MAX_BULK;
        if (lim.multibulk_max > UNAUTH_MAX_ARGS)
            lim.multibulk_max = UNAUTH_MAX_ARGS;
    }
    c->parser.lim = lim;
}

void conn_reset_auth(client *c)
{
    c->user = acl_default_user();
    int open = (c->user->flags & (ACL_USER_NOPASS | ACL_USER_ON)) == (ACL_USER_NOPASS | ACL_USER_ON);
    c->flags = open ? c->flags | CLIENT_AUTHENTICATED : c->flags & ~CLIENT_AUTHENTICATED;
    apply_limits(c);
}

void conn_authenticated(client *c, struct acl_user *u)
{
    c->user = u;
    if (!(c->flags & CLIENT_AUTHENTICATED)) {
        c->flags |= CLIENT_AUTHENTICATED;
        apply_limits(c);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    KVD_UNUSED(suggested);
    client *c = h->data;
    size_t want = READ_CHUNK;
    size_t more = (c->flags & CLIENT_LINGER) ? 0 : resp_parser_want(&c->parser);
    if (more > want)
        want = more > (1u << 20) ? (1u << 20) : more;
    buf_reserve(&c->qbuf, want);
    *b = uv_buf_init(c->qbuf.data + c->qbuf.len, (unsigned)(c->qbuf.cap - c->qbuf.len));
}

/* Redis's guard against cross-protocol scripting: an HTTP request sent to
 * the port closes the connection. */
static int is_http(char **argv, size_t *argvlen)
{
    return arg_is(argv[0], argvlen[0], "post") || arg_is(argv[0], argvlen[0], "host:");
}

static void process_input(client *c)
{
    /* A command CLIENT PAUSE holds stops the loop as output over the soft
     * limit does, but reading goes on (bounded by the query buffer limit):
     * a client that hangs up while held is seen, and dropped. */
    while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_CLOSING | CLIENT_READ_PAUSED |
                         CLIENT_POSTPONED | CLIENT_WAITING))) {
        int argc;
        int rc = resp_parse(&c->parser, c->qbuf.data, c->qbuf.len, &argc);
        if (rc == RESP_MORE)
            break;
        if (rc == RESP_OOM) {
            fprintf(stderr, "kvd: out of memory parsing a request\n");
            abort();
        }
        if (rc == RESP_ERR) {
            reply_errorf(c, "ERR Protocol error: %s", c->parser.err);
            log_verbose("protocol error from client id=%llu addr=%s: %s", (unsigned long long)c->id,
                        c->addr, c->parser.err);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            break;
        }
        if (argc == 0)
            continue;
        if (is_http(c->parser.argv, c->parser.arglen)) {
            log_warning("possible security attack: a client (%s) sent an HTTP request to kvd; "
                        "connection closed",
                        c->addr);
            c->flags |= CLIENT_CLOSE_ASAP;
            break;
        }
        cmd_dispatch(c, argc, c->parser.argv, c->parser.arglen);
        if (over_soft_limit(c)) {
            c->flags |= CLIENT_READ_PAUSED;
            break;
        }
    }
    size_t used = c->parser.cmd_start;
    if (used) {
        buf_consume(&c->qbuf, used);
        resp_parser_consume(&c->parser, used);
    }
    if (c->qbuf.len > srv.stats.max_qbuf)
        srv.stats.max_qbuf = c->qbuf.len;
    if (c->qbuf.len == 0 && c->qbuf.cap)
        buf_release(&c->qbuf);
    if ((c->flags & (CLIENT_READ_PAUSED | CLIENT_CLOSE_AFTER_REPLY)) && !(c->flags & CLIENT_CLOSING))
        uv_read_stop(&c->h.stream);
    pw_add(c);
}

void conn_resume_input(client *c)
{
    if (!(c->flags & CLIENT_CLOSING))
        process_input(c);
}

/* The peer is done sending (UV_EOF), or reading failed. */
static void input_end(client *c, ssize_t nread)
{
    if (nread != UV_EOF)
        log_verbose("read from client id=%llu addr=%s failed: %s", (unsigned long long)c->id, c->addr,
                    uv_strerror((int)nread));
    /* Answer what it sent, then close; but a command CLIENT PAUSE holds
     * (and what came after it) is dropped, as Redis drops it: the client
     * that sent it is gone, or at least no longer waiting. */
    pause_forget(c);
    uv_read_stop(&c->h.stream);
    if (nread == UV_EOF && (c->out.len || c->nbars || c->inflight))
        conn_close_after_reply(c);
    else
        client_close(c);
}

/* n more bytes at the end of qbuf. */
static inline void got_input(client *c, size_t n)
{
    c->qbuf.len += n;
    srv.stats.net_in += (uint64_t)n;
    c->last_ms = kvd_now_ms();
    lru_touch(c);
    if ((long long)c->qbuf.len > srv.cfg.client_query_buffer_limit) {
        log_warning("closing client id=%llu addr=%s: query buffer of %zu bytes is over "
                    "client-query-buffer-limit",
                    (unsigned long long)c->id, c->addr, c->qbuf.len);
        client_close(c);
        return;
    }
    process_input(c);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    KVD_UNUSED(b);
    client *c = s->data;
    if (c->flags & CLIENT_LINGER) {
        if (nread < 0)
            client_close(c);
        else
            c->qbuf.len = 0; /* dropped */
        return;
    }
    if (nread < 0) {
        input_end(c, nread);
        return;
    }
    if (nread == 0) {
        if (c->qbuf.len == 0)
            buf_release(&c->qbuf);
        return;
    }
    got_input(c, (size_t)nread);
}

/* ------------------------------------------------------ the TLS layer's side
 * tls.c sits between the socket and qbuf/out: it reads ciphertext itself
 * and hands plaintext in here, and it sends ciphertext through
 * conn_write_pooled. Plain connections never come through these. */

void conn_input_room(client *c, uv_buf_t *b)
{
    alloc_cb(&c->h.handle, READ_CHUNK, b);
}

void conn_input(client *c, size_t n)
{
    got_input(c, n);
}

void conn_input_end(client *c, ssize_t nread)
{
    input_end(c, nread);
}

int conn_write_pooled(client *c, char *data, size_t len, size_t cap)
{
    size_t done = 0;
    if (c->inflight == 0) {
        uv_buf_t b = uv_buf_init(data, (unsigned)len);
        int n = uv_try_write(&c->h.stream, &b, 1);
        if (n > 0)
            done = (size_t)n;
        else if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
            pool_put(&srv.pool, data, cap);
            return n;
        }
    }
    if (done == len) {
        pool_put(&srv.pool, data, cap);
        return 0;
    }
    /* The rest goes through uv_write from the same buffer. */
    wreq *w = xmalloc(sizeof(*w));
    w->c = c;
    w->data = data;
    w->cap = cap;
    w->len = len - done;
    c->inflight += w->len;
    uv_buf_t b = uv_buf_init(data + done, (unsigned)w->len);
    int rc = uv_write(&w->req, &c->h.stream, &b, 1, write_cb);
    if (rc < 0) {
        c->inflight -= w->len;
        pool_put(&srv.pool, data, cap);
        free(w);
        return rc;
    }
    output_limits(c);
    return 0;
}

/* ------------------------------------------------------------- connections */

static void addr_to_str(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

static int is_loopback_peer(const struct sockaddr_storage *ss)
{
    char ip[64] = "";
    if (ss->ss_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)ss, ip, sizeof ip);
    else if (ss->ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)ss, ip, sizeof ip);
    /* As Redis: exactly 127.0.0.1 and ::1 count as local. */
    return strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0;
}

static const char denied_msg[] =
    "-DENIED kvd is running in protected mode: protected mode is on and no password is set, so "
    "only clients on the loopback interface (127.0.0.1, ::1) are served. To accept other clients, "
    "do one of these: 1) set a password with 'requirepass' (or CONFIG SET requirepass from a "
    "local connection); 2) turn protected mode off with 'CONFIG SET protected-mode no' from a "
    "local connection, after making sure kvd is not reachable from untrusted networks; 3) set "
    "'protected-mode no' in the configuration file and restart; 4) if this is a test, start kvd "
    "with '--protected-mode no'.\r\n";

/* msg NULL: close without a word (a TLS client could not read one before
 * its handshake, and a refused client is not worth one). */
static void reject_and_close(client *c, const char *msg)
{
    if (msg) {
        uv_buf_t b = uv_buf_init((char *)msg, (unsigned)strlen(msg));
        uv_try_write(&c->h.stream, &b, 1);
    }
    srv.stats.rejected++;
    c->flags |= CLIENT_CLOSING;
    uv_close(&c->h.handle, client_free_cb);
}

static void accept_client(uv_stream_t *server_h, int status, int tls)
{
    if (status < 0) {
        log_warning("accept failed: %s", uv_strerror(status));
        return;
    }
    client *c = xcalloc(1, sizeof(*c));
    int is_unix = server_h->type == UV_NAMED_PIPE;
    int rc = is_unix ? uv_pipe_init(srv.loop, &c->h.pipe, 0) : uv_tcp_init(srv.loop, &c->h.tcp);
    if (rc < 0) {
        free(c);
        return;
    }
    c->h.handle.data = c;
    buf_init(&c->qbuf, &srv.pool);
    buf_init(&c->out, &srv.pool);
    resp_parser_init(&c->parser, NULL);
    if (uv_accept(server_h, &c->h.stream) < 0) {
        c->flags |= CLIENT_CLOSING;
        uv_close(&c->h.handle, client_free_cb);
        return;
    }
    srv.stats.connections++;
    c->id = ++srv.next_client_id;
    c->ctime_ms = c->last_ms = kvd_now_ms();
    if (is_unix) {
        c->flags |= CLIENT_UNIX;
        snprintf(c->addr, sizeof c->addr, "%s:0", srv.cfg.unixsocket);
        snprintf(c->laddr, sizeof c->laddr, "%s:0", srv.cfg.unixsocket);
    } else {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        int len = sizeof ss;
        if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0)
            addr_to_str(&ss, c->addr, sizeof c->addr);
        len = sizeof ss;
        struct sockaddr_storage ls;
        if (uv_tcp_getsockname(&c->h.tcp, (struct sockaddr *)&ls, &len) == 0)
            addr_to_str(&ls, c->laddr, sizeof c->laddr);
        uv_tcp_nodelay(&c->h.tcp, 1);
        if (srv.cfg.tcp_keepalive > 0)
            uv_tcp_keepalive(&c->h.tcp, 1, (unsigned)srv.cfg.tcp_keepalive);
        if (srv.cfg.protected_mode && (acl_default_user()->flags & ACL_USER_NOPASS) && !is_loopback_peer(&ss)) {
            log_verbose("protected mode: refused %sclient %s", tls ? "TLS " : "", c->addr);
            reject_and_close(c, tls ? NULL : denied_msg);
            return;
        }
    }
    if (srv.nclients >= (uint64_t)srv.cfg.maxclients) {
        if (tls)
            log_verbose("max number of clients reached: refused TLS client %s", c->addr);
        reject_and_close(c, tls ? NULL : "-ERR max number of clients reached\r\n");
        return;
    }
    /* As Redis: the default user without a password needs no AUTH. */
    c->user = acl_default_user();
    if ((c->user->flags & (ACL_USER_NOPASS | ACL_USER_ON)) == (ACL_USER_NOPASS | ACL_USER_ON))
        c->flags |= CLIENT_AUTHENTICATED;
    apply_limits(c);
    srv.nclients++;
    list_push_back(&srv.clients, &c->all);
    rc = tls ? tls_accept(c) : uv_read_start(&c->h.stream, alloc_cb, read_cb);
    if (rc < 0) {
        log_warning("closing client id=%llu addr=%s: cannot read from it: %s", (unsigned long long)c->id, c->addr,
                    uv_strerror(rc));
        client_close(c);
    }
}

void conn_accept(uv_stream_t *listener, int status)
{
    accept_client(listener, status, 0);
}

void conn_accept_tls(uv_stream_t *listener, int status)
{
    accept_client(listener, status, 1);
}

static size_t clients_memory(void)
{
    size_t n = 0;
    client *c;
    LIST_EACH(&srv.clients, client, all, c)
        n += sizeof(*c) + c->qbuf.cap + c->out.cap + c->inflight + multi_memory(c);
    return n;
}

static void close_idle_clients(int64_t now)
{
    if (srv.cfg.timeout <= 0)
        return;
    int64_t limit = (int64_t)srv.cfg.timeout * 1000;
    client *c;
    LIST_EACH(&srv.clients, client, all, c) {
        if (now - c->last_ms <= limit)
            break; /* the rest were active more recently */
        if (c->nbars == 0 && c->inflight == 0 && !(c->flags & (CLIENT_POSTPONED | CLIENT_WAITING))) {
            log_verbose("closing idle client id=%llu addr=%s", (unsigned long long)c->id, c->addr);
            client_close(c);
        }
    }
}

/* client-output-buffer-limit's soft-seconds: a client that stays over
 * the soft limit that long is disconnected. */
static void enforce_soft_limit(int64_t now)
{
    client *c;
    LIST_EACH(&srv.clients, client, all, c) {
        const kvd_obuf_limit *l = obuf_limit(c);
        if (l->soft_seconds <= 0 || !over_soft_limit(c)) {
            c->obuf_soft_since = 0;
        } else if (!c->obuf_soft_since) {
            c->obuf_soft_since = now;
        } else if (now - c->obuf_soft_since > (int64_t)l->soft_seconds * 1000) {
            log_warning("closing client id=%llu addr=%s: output buffer over the soft limit for more "
                        "than %d s (client-output-buffer-limit)",
                        (unsigned long long)c->id, c->addr, l->soft_seconds);
            client_close(c);
        }
    }
}

void conn_cron(int64_t now)
{
    close_idle_clients(now);
    enforce_soft_limit(now);
    close_lingering(now);
}

size_t conn_memory(void)
{
    return clients_memory();
}

void conn_set_limits(void)
{
    client *c;
    LIST_EACH(&srv.clients, client, all, c)
        apply_limits(c);
}

void conn_close_all(void)
{
    client *c;
    LIST_EACH(&srv.clients, client, all, c) {
        size_t sendable = c->nbars ? c->bars[0].off : c->out.len;
        if (sendable && c->inflight == 0 && c->tls) {
            tls_write(c, c->out.data, sendable);
        } else if (sendable && c->inflight == 0) {
            uv_buf_t b = uv_buf_init(c->out.data, (unsigned)sendable);
            uv_try_write(&c->h.stream, &b, 1);
        }
    }
    while (srv.clients.first)
        client_close(LIST_ITEM(srv.clients.first, client, all));
    close_lingering(-1);
}

/* The client's socket descriptor (CLIENT LIST's fd=), -1 if it has none. */
static int conn_fd(client *c)
{
    uv_os_fd_t fd;
    if (c->flags & CLIENT_CLOSING || uv_fileno(&c->h.handle, &fd) != 0)
        return -1;
    return (int)fd;
}

void conn_describe(client *c, buf_t *out)
{
    int64_t now = kvd_now_ms();
    char flags[8];
    int nf = 0;
    if (c->flags & CLIENT_MULTI)
        flags[nf++] = 'x';
    if (c->flags & CLIENT_POSTPONED)
        flags[nf++] = 'b'; /* as Redis shows a client its pause holds: blocked */
    if (c->flags & CLIENT_NO_EVICT)
        flags[nf++] = 'e';
    if (c->flags & CLIENT_NO_TOUCH)
        flags[nf++] = 'T';
    if (c->flags & CLIENT_MONITOR)
        flags[nf++] = 'O';
    if (pubsub_count(c))
        flags[nf++] = 'P';
    if (repl_is_link(c))
        flags[nf++] = 'S';
    if (!nf)
        flags[nf++] = 'N';
    flags[nf] = '\0';
    buf_appendf(out,
                "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%u sub=%d "
                "psub=%d ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=%zu rbs=%zu "
                "rbp=%zu obl=%zu oll=%d omem=%zu tot-mem=%zu events=r cmd=%s user=%s "
                "redir=-1 resp=%d lib-name=%s lib-ver=%s",
                (unsigned long long)c->id, c->addr, c->laddr, conn_fd(c), c->name ? c->name : "",
                (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000),
                flags, c->db, pubsub_channels_of(c), pubsub_patterns_of(c), multi_count(c), c->qbuf.len, c->qbuf.cap - c->qbuf.len, multi_memory(c), c->qbuf.cap,
                c->qbuf.len, c->out.len, c->inflight ? 1 : 0, c->out.cap + c->inflight,
                sizeof(*c) + c->qbuf.cap + c->out.cap + c->inflight + multi_memory(c),
                c->lastcmd ? c->lastcmd : "NULL", c->user ? c->user->name : "default", c->resp == 3 ? 3 : 2,
                c->lib_name ? c->lib_name : "",
                c->lib_ver ? c->lib_ver : "");
}
