/* client: libkvdclient. Blocking sockets with poll()-based timeouts, the
 * shared resp module for requests and replies, and typed helpers on top.
 * Nothing here aborts: allocation failures come back as KVD_ERR_OOM. */
#include "config.h"
#include "kvd/client.h"
#include "client_tls.h"
#include "num.h"
#include "resp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK (16 * 1024)
#define SEND_AHEAD (64 * 1024) /* appended bytes that trigger a write */

struct kvd_conn {
    int fd;
    char *host;         /* TCP target, or NULL */
    int port;
    char *path;         /* unix socket target, or NULL */
    kvd_options opt;    /* with copies of the strings */
    char *obuf;         /* requests not yet written: obuf[opos..olen) */
    size_t opos, olen, ocap;
    char *ibuf;         /* bytes read, not yet parsed: ibuf[ipos..ilen) */
    size_t ipos, ilen, icap;
    resp_scan scan;     /* progress through the reply at ibuf[ipos] */
    size_t pending;     /* replies still to read */
    int use_tls;        /* kvd_connect_tls: every connection is TLS */
    kvd_tls_options tls_opt; /* with copies of the strings */
    client_tls *tls;    /* the current connection's TLS state, or NULL */
    short tls_want;     /* the poll event TLS last waited for */
};

/* ------------------------------------------------------------------ errors */

typedef struct err_entry {
    int code;
    const char *name, *msg;
} err_entry;

static const err_entry err_table[] = {
    {KVD_OK, "KVD_OK", "success"},
#define KVD_ERR_ROW(name, code, msg) {code, "KVD_ERR_" #name, msg},
    KVD_ERRNO_MAP(KVD_ERR_ROW)
#undef KVD_ERR_ROW
};

static const err_entry *err_lookup(int code)
{
    for (size_t i = 0; i < sizeof err_table / sizeof *err_table; i++)
        if (err_table[i].code == code)
            return &err_table[i];
    return NULL;
}

KVD_API const char *kvd_err_name(int code)
{
    const err_entry *e = err_lookup(code);
    return e ? e->name : "KVD_ERR_UNKNOWN";
}

KVD_API const char *kvd_strerror(int code)
{
    const err_entry *e = err_lookup(code);
    return e ? e->msg : "unknown error";
}

static int set_err(kvd_context *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_err(kvd_context *c, int code, const char *fmt, ...)
{
    c->err = code;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errstr, sizeof c->errstr, fmt, ap);
        va_end(ap);
    } else {
        snprintf(c->errstr, sizeof c->errstr, "%s", kvd_strerror(code));
    }
    return code;
}

static int is_fatal(int code)
{
    return code == KVD_ERR_IO || code == KVD_ERR_EOF || code == KVD_ERR_PROTOCOL || code == KVD_ERR_TIMEOUT ||
           code == KVD_ERR_TLS;
}

/* Close the socket and drop what was in flight on it. */
static void close_fd(struct kvd_conn *k)
{
    client_tls_free(k->tls);
    k->tls = NULL;
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->opos = k->olen = k->ipos = k->ilen = 0;
    k->pending = 0;
    k->scan.pos = 0;
    k->scan.depth = 0;
}

/* A fatal error: the connection's state is unknown, so it is closed. */
static int fatal(kvd_context *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fatal(kvd_context *c, int code, const char *fmt, ...)
{
    c->err = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof c->errstr, fmt, ap);
    va_end(ap);
    close_fd(c->conn);
    return code;
}

/* Calls on a dead connection keep failing with its error. */
static int check_usable(kvd_context *c)
{
    if (c->conn->fd >= 0)
        return KVD_OK;
    if (is_fatal(c->err))
        return c->err;
    return set_err(c, KVD_ERR_IO, "not connected");
}

/* ------------------------------------------------------------------ replies */

static kvd_reply *reply_new(kvd_reply_type t)
{
    kvd_reply *r = calloc(1, sizeof(*r));
    if (r)
        r->type = t;
    return r;
}

KVD_API void kvd_reply_free(kvd_reply *r)
{
    if (!r)
        return;
    if (r->element) {
        for (size_t i = 0; i < r->elements; i++)
            kvd_reply_free(r->element[i]);
        free(r->element);
    }
    free(r->str);
    free(r);
}

static void *mk_string(void *ctx, int type, const char *p, size_t len)
{
    (void)ctx;
    kvd_reply_type t;
    switch (type) {
    case '+': t = KVD_REPLY_STATUS; break;
    case '-': case '!': t = KVD_REPLY_ERROR; break;
    case ',': t = KVD_REPLY_DOUBLE; break;
    case '(': t = KVD_REPLY_BIGNUM; break;
    case '#': t = KVD_REPLY_BOOL; break;
    case '=': t = KVD_REPLY_VERB; break;
    default: t = KVD_REPLY_BULK; break;
    }
    kvd_reply *r = reply_new(t);
    if (!r)
        return NULL;
    if (t == KVD_REPLY_VERB) {
        /* "txt:..." : the format apart, the text in str. */
        memcpy(r->vtype, p, 3);
        r->vtype[3] = '\0';
        p += 4;
        len -= 4;
    }
    r->str = malloc(len + 1);
    if (!r->str) {
        free(r);
        return NULL;
    }
    memcpy(r->str, p, len);
    r->str[len] = '\0';
    r->len = len;
    if (t == KVD_REPLY_BOOL)
        r->integer = p[0] == 't';
    else if (t == KVD_REPLY_DOUBLE)
        r->dval = strtod(r->str, NULL);
    return r;
}

static void *mk_integer(void *ctx, long long v)
{
    (void)ctx;
    kvd_reply *r = reply_new(KVD_REPLY_INTEGER);
    if (r)
        r->integer = v;
    return r;
}

static void *mk_nil(void *ctx, int type)
{
    (void)ctx;
    (void)type;
    return reply_new(KVD_REPLY_NIL);
}

static void *mk_array(void *ctx, int type, size_t n)
{
    (void)ctx;
    kvd_reply *r = reply_new(type == '%' ? KVD_REPLY_MAP : type == '~' ? KVD_REPLY_SET
                             : type == '>' ? KVD_REPLY_PUSH : KVD_REPLY_ARRAY);
    if (!r)
        return NULL;
    if (n) {
        r->element = calloc(n, sizeof(*r->element));
        if (!r->element) {
            free(r);
            return NULL;
        }
    }
    r->elements = n;
    return r;
}

static void mk_set(void *ctx, void *array, size_t i, void *elem)
{
    (void)ctx;
    ((kvd_reply *)array)->element[i] = elem;
}

static void mk_free(void *ctx, void *obj)
{
    (void)ctx;
    kvd_reply_free(obj);
}

static const resp_reply_fns reply_fns = {mk_string, mk_integer, mk_nil, mk_array, mk_set, mk_free};

/* ----------------------------------------------------------------- buffers */

static int reserve(char **b, size_t *cap, size_t len, size_t extra)
{
    if (*cap - len >= extra)
        return 0;
    size_t want = *cap ? *cap * 2 : IO_CHUNK;
    while (want - len < extra)
        want *= 2;
    char *n = realloc(*b, want);
    if (!n)
        return -1;
    *b = n;
    *cap = want;
    return 0;
}

/* ---------------------------------------------------------------------- I/O */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- TLS: the same through client_tls ---- */

/* A client_tls error (message already in errstr): the connection is dead. */
static int tls_fatal(kvd_context *c, int code)
{
    c->err = code;
    close_fd(c->conn);
    return code;
}

static int tls_read_some(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    int n = client_tls_read(k->tls, k->ibuf + k->ilen, k->icap - k->ilen, &k->tls_want, c->errstr, sizeof c->errstr);
    if (n < 0)
        return tls_fatal(c, n);
    k->ilen += (size_t)n;
    return n;
}

static int tls_write_some(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    while (k->opos < k->olen) {
        int n = client_tls_write(k->tls, k->obuf + k->opos, k->olen - k->opos, &k->tls_want, c->errstr,
                                 sizeof c->errstr);
        if (n < 0)
            return tls_fatal(c, n);
        if (n == 0)
            break;
        k->opos += (size_t)n;
    }
    if (k->opos == k->olen)
        k->opos = k->olen = 0;
    return KVD_OK;
}

/* Read what is available into ibuf without waiting. Returns bytes read,
 * 0 if nothing was there, or a fatal error. */
static int read_some(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    if (k->ipos == k->ilen) {
        k->ipos = k->ilen = 0;
        k->scan.pos = 0;
    } else if (k->ipos > k->icap / 2) {
        /* The scan position is relative to ipos, so it survives the move. */
        memmove(k->ibuf, k->ibuf + k->ipos, k->ilen - k->ipos);
        k->ilen -= k->ipos;
        k->ipos = 0;
    }
    if (reserve(&k->ibuf, &k->icap, k->ilen, IO_CHUNK) < 0)
        return set_err(c, KVD_ERR_OOM, "out of memory for the read buffer");
    if (k->tls)
        return tls_read_some(c);
    for (;;) {
        ssize_t n = read(k->fd, k->ibuf + k->ilen, k->icap - k->ilen);
        if (n > 0) {
            k->ilen += (size_t)n;
            return (int)n;
        }
        if (n == 0)
            return fatal(c, KVD_ERR_EOF, "connection closed by the server");
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return fatal(c, KVD_ERR_IO, "read: %s", strerror(errno));
    }
}

/* Write what the socket takes without waiting. Returns 0 or an error. */
static int write_some(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    if (k->tls)
        return tls_write_some(c);
    while (k->opos < k->olen) {
        ssize_t n = send(k->fd, k->obuf + k->opos, k->olen - k->opos, MSG_NOSIGNAL);
        if (n > 0) {
            k->opos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return fatal(c, KVD_ERR_IO, "write: %s", strerror(errno));
    }
    if (k->opos == k->olen)
        k->opos = k->olen = 0;
    return KVD_OK;
}

/* Wait until fd is ready for events or the deadline (-1: none) passes.
 * Returns the revents, or a fatal error. */
static int wait_fd(kvd_context *c, short events, int64_t deadline)
{
    struct kvd_conn *k = c->conn;
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return fatal(c, KVD_ERR_TIMEOUT, "timed out waiting for the server");
            timeout = (int)left;
        }
        if (k->tls)
            events |= k->tls_want; /* OpenSSL may need the other direction */
        struct pollfd p = {k->fd, events, 0};
        int r = poll(&p, 1, timeout);
        if (r > 0)
            return p.revents;
        if (r == 0)
            continue; /* the deadline check above reports it */
        if (errno != EINTR)
            return fatal(c, KVD_ERR_IO, "poll: %s", strerror(errno));
    }
}

static int64_t deadline_for(const kvd_context *c)
{
    int t = c->conn->opt.command_timeout_ms;
    return t > 0 ? now_ms() + t : -1;
}

/* Write every pending request. While the socket is full, read what
 * replies arrive so the server never blocks on us. */
static int flush_all(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    int64_t deadline = deadline_for(c);
    while (k->opos < k->olen) {
        int rc = write_some(c);
        if (rc < 0)
            return rc;
        if (k->opos == k->olen)
            break;
        int ev = wait_fd(c, POLLOUT | POLLIN, deadline);
        if (ev < 0)
            return ev;
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
            rc = read_some(c);
            if (rc < 0)
                return rc;
        }
    }
    return KVD_OK;
}

/* -------------------------------------------------------------- connecting */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Connect fd to addr within the connect timeout. Returns 0 or an errno. */
static int connect_fd(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms)
{
    if (connect(fd, addr, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EAGAIN)
        return errno;
    struct pollfd p = {fd, POLLOUT, 0};
    int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
    for (;;) {
        int t = deadline < 0 ? -1 : (int)(deadline - now_ms());
        if (deadline >= 0 && t <= 0)
            return ETIMEDOUT;
        int r = poll(&p, 1, t);
        if (r > 0)
            break;
        if (r == 0)
            continue;
        if (errno != EINTR)
            return errno;
    }
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        return errno;
    return err;
}

static int do_auth(kvd_context *c);
static int wait_fd(kvd_context *c, short events, int64_t deadline);

/* The TLS handshake on the fresh socket, within the connect timeout. */
static int tls_start(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    int code;
    k->tls = client_tls_new(&k->tls_opt, k->host, k->fd, &code, c->errstr, sizeof c->errstr);
    if (!k->tls)
        return tls_fatal(c, code);
    int t = k->opt.connect_timeout_ms;
    int64_t deadline = t > 0 ? now_ms() + t : -1;
    for (;;) {
        int r = client_tls_handshake(k->tls, &k->tls_want, c->errstr, sizeof c->errstr);
        if (r > 0)
            return KVD_OK;
        if (r < 0)
            return tls_fatal(c, r);
        int ev = wait_fd(c, k->tls_want, deadline);
        if (ev < 0)
            return ev;
    }
}

static int open_connection(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    close_fd(k);
    resp_scan_init(&k->scan, 0, 0);
    int err = 0;
    if (k->path) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        if (strlen(k->path) >= sizeof sa.sun_path)
            return set_err(c, KVD_ERR_ARG, "unix socket path too long");
        strcpy(sa.sun_path, k->path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return set_err(c, KVD_ERR_IO, "socket: %s", strerror(errno));
        set_nonblock(fd);
        err = connect_fd(fd, (struct sockaddr *)&sa, sizeof sa, k->opt.connect_timeout_ms);
        if (err) {
            close(fd);
            return set_err(c, err == ETIMEDOUT ? KVD_ERR_TIMEOUT : KVD_ERR_IO, "connect to %s: %s",
                           k->path, strerror(err));
        }
        k->fd = fd;
    } else {
        char port[16];
        snprintf(port, sizeof port, "%d", k->port);
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        int gai = getaddrinfo(k->host, port, &hints, &res);
        if (gai != 0)
            return set_err(c, KVD_ERR_IO, "cannot resolve %s: %s", k->host, gai_strerror(gai));
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
            if (fd < 0) {
                err = errno;
                continue;
            }
            set_nonblock(fd);
            err = connect_fd(fd, a->ai_addr, a->ai_addrlen, k->opt.connect_timeout_ms);
            if (err == 0) {
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                k->fd = fd;
                break;
            }
            close(fd);
        }
        freeaddrinfo(res);
        if (k->fd < 0)
            return set_err(c, err == ETIMEDOUT ? KVD_ERR_TIMEOUT : KVD_ERR_IO, "connect to %s:%d: %s", k->host,
                           k->port, strerror(err ? err : ECONNREFUSED));
    }
    if (k->use_tls) {
        int rc = tls_start(c);
        if (rc < 0)
            return rc;
    }
    c->err = 0;
    c->errstr[0] = '\0';
    if (k->opt.password || k->opt.resp == 3)
        return do_auth(c);
    return KVD_OK;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static kvd_context *context_new(const char *host, int port, const char *path, const kvd_options *opts,
                                const kvd_tls_options *tls)
{
    kvd_context *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->conn = calloc(1, sizeof(*c->conn));
    if (!c->conn) {
        free(c);
        return NULL;
    }
    struct kvd_conn *k = c->conn;
    k->fd = -1;
    k->port = port;
    int oom = 0;
    k->host = dup_or_null(host, &oom);
    k->path = dup_or_null(path, &oom);
    if (opts) {
        k->opt = *opts;
        k->opt.username = dup_or_null(opts->username, &oom);
        k->opt.password = dup_or_null(opts->password, &oom);
    }
    if (tls) {
        k->use_tls = 1;
        if (client_tls_opts_copy(&k->tls_opt, tls) < 0)
            oom = 1;
    }
    if (oom) {
        set_err(c, KVD_ERR_OOM, "out of memory");
        return c;
    }
    open_connection(c);
    return c;
}

KVD_API kvd_context *kvd_connect(const char *host, int port, const kvd_options *opts)
{
    return context_new(host ? host : "127.0.0.1", port, NULL, opts, NULL);
}

KVD_API kvd_context *kvd_connect_unix(const char *path, const kvd_options *opts)
{
    return context_new(NULL, 0, path, opts, NULL);
}

KVD_API kvd_context *kvd_connect_tls(const char *host, int port, const kvd_options *opts,
                                     const kvd_tls_options *tls)
{
    static const kvd_tls_options defaults = {0};
    return context_new(host ? host : "127.0.0.1", port, NULL, opts, tls ? tls : &defaults);
}

KVD_API int kvd_reconnect(kvd_context *c)
{
    if (!c->conn->host && !c->conn->path)
        return set_err(c, KVD_ERR_ARG, "nothing to reconnect to");
    return open_connection(c);
}

KVD_API void kvd_free(kvd_context *c)
{
    if (!c)
        return;
    struct kvd_conn *k = c->conn;
    if (k) {
        close_fd(k);
        free(k->host);
        free(k->path);
        free((char *)k->opt.username);
        free((char *)k->opt.password);
        client_tls_opts_free(&k->tls_opt);
        free(k->obuf);
        free(k->ibuf);
        free(k);
    }
    free(c);
}

KVD_API int kvd_fd(const kvd_context *c)
{
    return c->conn->fd;
}

/* ------------------------------------------------------------- commands */

KVD_API int kvd_append_argv(kvd_context *c, int argc, const char *const *argv, const size_t *argvlen)
{
    int rc = check_usable(c);
    if (rc < 0)
        return rc;
    if (argc <= 0 || !argv)
        return set_err(c, KVD_ERR_ARG, "a command needs at least one argument");
    struct kvd_conn *k = c->conn;
    size_t n = resp_command_size(argc, argv, argvlen);
    if (reserve(&k->obuf, &k->ocap, k->olen, n) < 0)
        return set_err(c, KVD_ERR_OOM, "out of memory for the request");
    resp_write_command(k->obuf + k->olen, argc, argv, argvlen);
    k->olen += n;
    k->pending++;
    /* Keep the output moving when many commands are appended. */
    if (k->olen - k->opos >= SEND_AHEAD) {
        rc = write_some(c);
        if (rc == KVD_OK && k->opos < k->olen)
            rc = read_some(c) < 0 ? c->err : KVD_OK;
        if (rc < 0)
            return rc;
    }
    c->err = 0;
    return KVD_OK;
}

KVD_API int kvd_get_reply(kvd_context *c, kvd_reply **reply)
{
    *reply = NULL;
    int rc = check_usable(c);
    if (rc < 0)
        return rc;
    struct kvd_conn *k = c->conn;
    if (k->pending == 0)
        return set_err(c, KVD_ERR_ARG, "no reply is pending");
    if ((rc = flush_all(c)) < 0)
        return rc;
    int64_t deadline = deadline_for(c);
    for (;;) {
        long long n = resp_scan_reply(&k->scan, k->ibuf + k->ipos, k->ilen - k->ipos);
        if (n < 0)
            return fatal(c, KVD_ERR_PROTOCOL, "protocol error: %s", k->scan.err);
        if (n > 0) {
            void *obj;
            if (resp_build_reply(&reply_fns, NULL, k->ibuf + k->ipos, (size_t)n, &obj) < 0)
                return set_err(c, KVD_ERR_OOM, "out of memory for the reply");
            k->ipos += (size_t)n;
            if (((kvd_reply *)obj)->type == KVD_REPLY_PUSH) {
                /* Out-of-band (RESP3 push: invalidations, pub/sub): not the
                 * reply to any command, so it must not take one's place. */
                kvd_reply_free(obj);
                continue;
            }
            k->pending--;
            if (k->ipos == k->ilen && k->icap > (1u << 20)) {
                free(k->ibuf); /* do not keep a huge buffer after a huge reply */
                k->ibuf = NULL;
                k->icap = k->ipos = k->ilen = 0;
            }
            *reply = obj;
            c->err = 0;
            return KVD_OK;
        }
        rc = read_some(c);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            int ev = wait_fd(c, POLLIN, deadline);
            if (ev < 0)
                return ev;
        }
    }
}

KVD_API size_t kvd_pending(const kvd_context *c)
{
    return c->conn->pending;
}

KVD_API int kvd_command_argv(kvd_context *c, kvd_reply **reply, int argc, const char *const *argv,
                             const size_t *argvlen)
{
    *reply = NULL;
    /* Replies to earlier appended commands come first: read and drop them
     * would be surprising, so refuse to mix the two styles. */
    if (c->conn->pending)
        return set_err(c, KVD_ERR_ARG, "read the pending pipelined replies first");
    int rc = kvd_append_argv(c, argc, argv, argvlen);
    if (rc < 0)
        return rc;
    return kvd_get_reply(c, reply);
}

/* --------------------------------------------------------- format strings */

typedef struct argbuf {
    char *data;        /* all arguments' bytes */
    size_t len, cap;
    size_t *ends;      /* end offset of each argument */
    int argc, capargs;
} argbuf;

static int ab_put(argbuf *a, const void *p, size_t n)
{
    if (reserve(&a->data, &a->cap, a->len, n + 1) < 0)
        return -1;
    memcpy(a->data + a->len, p, n);
    a->len += n;
    return 0;
}

static int ab_end_arg(argbuf *a)
{
    if (a->argc == a->capargs) {
        int cap = a->capargs ? a->capargs * 2 : 8;
        size_t *e = realloc(a->ends, (size_t)cap * sizeof(*e));
        if (!e)
            return -1;
        a->ends = e;
        a->capargs = cap;
    }
    a->ends[a->argc++] = a->len;
    return 0;
}

static int ab_printf(argbuf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ab_printf(argbuf *a, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    return ab_put(a, tmp, (size_t)n);
}

/* Turn fmt + ap into arguments. Returns KVD_OK or an error code. */
static int format_args(argbuf *a, const char *fmt, va_list ap)
{
    int in_arg = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p == ' ') {
            if (in_arg && ab_end_arg(a) < 0)
                return KVD_ERR_OOM;
            in_arg = 0;
            continue;
        }
        in_arg = 1;
        int r = 0;
        if (*p != '%') {
            r = ab_put(a, p, 1);
        } else {
            p++;
            switch (*p) {
            case 's': {
                const char *s = va_arg(ap, const char *);
                r = ab_put(a, s, strlen(s));
                break;
            }
            case 'b': {
                const void *b = va_arg(ap, const void *);
                size_t n = va_arg(ap, size_t);
                r = ab_put(a, b, n);
                break;
            }
            case 'd':
                r = ab_printf(a, "%d", va_arg(ap, int));
                break;
            case 'u':
                r = ab_printf(a, "%u", va_arg(ap, unsigned));
                break;
            case 'f':
                r = ab_printf(a, "%.17g", va_arg(ap, double));
                break;
            case 'z':
                if (p[1] != 'u')
                    return KVD_ERR_ARG;
                p++;
                r = ab_printf(a, "%zu", va_arg(ap, size_t));
                break;
            case 'l':
                if (p[1] == 'd') {
                    p++;
                    r = ab_printf(a, "%ld", va_arg(ap, long));
                } else if (p[1] == 'l' && p[2] == 'd') {
                    p += 2;
                    r = ab_printf(a, "%lld", va_arg(ap, long long));
                } else {
                    return KVD_ERR_ARG;
                }
                break;
            case '%':
                r = ab_put(a, "%", 1);
                break;
            default:
                return KVD_ERR_ARG;
            }
        }
        if (r < 0)
            return KVD_ERR_OOM;
    }
    if (in_arg && ab_end_arg(a) < 0)
        return KVD_ERR_OOM;
    return a->argc ? KVD_OK : KVD_ERR_ARG;
}

KVD_API int kvd_vappend(kvd_context *c, const char *fmt, va_list ap)
{
    argbuf a = {0};
    int rc = format_args(&a, fmt, ap);
    if (rc < 0) {
        free(a.data);
        free(a.ends);
        return set_err(c, rc, rc == KVD_ERR_ARG ? "bad format string" : "out of memory");
    }
    const char **argv = malloc((size_t)a.argc * sizeof(*argv));
    size_t *lens = malloc((size_t)a.argc * sizeof(*lens));
    if (!argv || !lens) {
        rc = set_err(c, KVD_ERR_OOM, "out of memory");
    } else {
        size_t start = 0;
        for (int i = 0; i < a.argc; i++) {
            argv[i] = a.data + start;
            lens[i] = a.ends[i] - start;
            start = a.ends[i];
        }
        rc = kvd_append_argv(c, a.argc, argv, lens);
    }
    free(argv);
    free(lens);
    free(a.data);
    free(a.ends);
    return rc;
}

KVD_API int kvd_append(kvd_context *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = kvd_vappend(c, fmt, ap);
    va_end(ap);
    return rc;
}

KVD_API int kvd_vcommand(kvd_context *c, kvd_reply **reply, const char *fmt, va_list ap)
{
    *reply = NULL;
    if (c->conn->pending)
        return set_err(c, KVD_ERR_ARG, "read the pending pipelined replies first");
    int rc = kvd_vappend(c, fmt, ap);
    if (rc < 0)
        return rc;
    return kvd_get_reply(c, reply);
}

KVD_API int kvd_command(kvd_context *c, kvd_reply **reply, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = kvd_vcommand(c, reply, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---------------------------------------------------------- typed helpers */

/* Run a command and check the reply's type: server errors become
 * KVD_ERR_SERVER (message in errstr), other types KVD_ERR_TYPE. types is
 * a bit mask of acceptable kvd_reply_type values. */
static int typed(kvd_context *c, kvd_reply **out, unsigned types, int argc, const char *const *argv,
                 const size_t *argvlen)
{
    kvd_reply *r;
    *out = NULL;
    int rc = kvd_command_argv(c, &r, argc, argv, argvlen);
    if (rc < 0)
        return rc;
    if (r->type == KVD_REPLY_ERROR) {
        set_err(c, KVD_ERR_SERVER, "%s", r->str);
        kvd_reply_free(r);
        return KVD_ERR_SERVER;
    }
    if (!(types & (1u << r->type))) {
        set_err(c, KVD_ERR_TYPE, "unexpected reply type %d to %.*s", (int)r->type,
                (int)(argvlen ? argvlen[0] : strlen(argv[0])), argv[0]);
        kvd_reply_free(r);
        return KVD_ERR_TYPE;
    }
    *out = r;
    return KVD_OK;
}

#define T(x) (1u << (x))

KVD_API int kvd_get(kvd_context *c, const void *key, size_t klen, char **val, size_t *vlen)
{
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, klen};
    kvd_reply *r;
    *val = NULL;
    if (vlen)
        *vlen = 0;
    int rc = typed(c, &r, T(KVD_REPLY_BULK) | T(KVD_REPLY_NIL), 2, argv, lens);
    if (rc < 0)
        return rc;
    if (r->type == KVD_REPLY_BULK) {
        *val = r->str; /* hand over the NUL-terminated copy */
        if (vlen)
            *vlen = r->len;
        r->str = NULL;
    }
    kvd_reply_free(r);
    return KVD_OK;
}

KVD_API int kvd_set(kvd_context *c, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t ttl_ms)
{
    char num[24];
    const char *argv[] = {"SET", key, val, "PX", num};
    size_t lens[] = {3, klen, vlen, 2, 0};
    int argc = 3;
    if (ttl_ms > 0) {
        lens[4] = kvd_ll_to_str(num, ttl_ms);
        argc = 5;
    } else if (ttl_ms < 0) {
        return set_err(c, KVD_ERR_ARG, "negative ttl");
    }
    kvd_reply *r;
    int rc = typed(c, &r, T(KVD_REPLY_STATUS), argc, argv, lens);
    kvd_reply_free(r);
    return rc;
}

/* Build "CMD k1 [v1] k2 [v2]..." argument arrays for the multi-key helpers. */
static int multi(kvd_context *c, kvd_reply **out, unsigned types, const char *cmd, size_t n,
                 const void *const *keys, const size_t *klens, const void *const *vals, const size_t *vlens)
{
    size_t per = vals ? 2 : 1;
    if (n == 0 || n > (size_t)(1 << 28))
        return set_err(c, KVD_ERR_ARG, "%s needs between 1 and 2^28 keys", cmd);
    const char **argv = malloc((1 + n * per) * sizeof(*argv));
    size_t *lens = malloc((1 + n * per) * sizeof(*lens));
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return set_err(c, KVD_ERR_OOM, "out of memory");
    }
    argv[0] = cmd;
    lens[0] = strlen(cmd);
    for (size_t i = 0; i < n; i++) {
        argv[1 + i * per] = keys[i];
        lens[1 + i * per] = klens[i];
        if (vals) {
            argv[2 + i * per] = vals[i];
            lens[2 + i * per] = vlens[i];
        }
    }
    int rc = typed(c, out, types, (int)(1 + n * per), argv, lens);
    free(argv);
    free(lens);
    return rc;
}

/* The integer a typed call returned (rc from typed or multi, r its reply,
 * which is freed). */
static int take_int(int rc, kvd_reply *r, long long *out)
{
    if (rc < 0)
        return rc;
    if (out)
        *out = r->integer;
    kvd_reply_free(r);
    return KVD_OK;
}

/* A one-key command with an optional number argument, whose reply is an
 * integer. */
static int int_cmd(kvd_context *c, const char *cmd, const void *key, size_t klen, const long long *arg,
                   long long *out)
{
    char num[24];
    const char *argv[] = {cmd, key, num};
    size_t lens[] = {strlen(cmd), klen, arg ? kvd_ll_to_str(num, *arg) : 0};
    kvd_reply *r;
    int rc = typed(c, &r, T(KVD_REPLY_INTEGER), arg ? 3 : 2, argv, lens);
    return take_int(rc, r, out);
}

KVD_API int kvd_del(kvd_context *c, size_t n, const void *const *keys, const size_t *klens, long long *deleted)
{
    kvd_reply *r;
    int rc = multi(c, &r, T(KVD_REPLY_INTEGER), "DEL", n, keys, klens, NULL, NULL);
    return take_int(rc, r, deleted);
}

KVD_API int kvd_exists(kvd_context *c, const void *key, size_t klen, int *exists)
{
    long long v = 0;
    int rc = int_cmd(c, "EXISTS", key, klen, NULL, &v);
    if (rc == KVD_OK)
        *exists = v > 0;
    return rc;
}

KVD_API int kvd_incr(kvd_context *c, const void *key, size_t klen, long long by, long long *value)
{
    return int_cmd(c, "INCRBY", key, klen, &by, value);
}

KVD_API int kvd_expire(kvd_context *c, const void *key, size_t klen, int64_t ttl_ms, int *applied)
{
    long long ms = ttl_ms, v = 0;
    int rc = int_cmd(c, "PEXPIRE", key, klen, &ms, &v);
    if (rc == KVD_OK && applied)
        *applied = v == 1;
    return rc;
}

KVD_API int kvd_ttl(kvd_context *c, const void *key, size_t klen, int64_t *ttl_ms)
{
    long long v = 0;
    int rc = int_cmd(c, "PTTL", key, klen, NULL, &v);
    if (rc == KVD_OK)
        *ttl_ms = v;
    return rc;
}

KVD_API int kvd_mget(kvd_context *c, size_t n, const void *const *keys, const size_t *klens, kvd_reply **values)
{
    *values = NULL;
    return multi(c, values, T(KVD_REPLY_ARRAY), "MGET", n, keys, klens, NULL, NULL);
}

KVD_API int kvd_mset(kvd_context *c, size_t n, const void *const *keys, const size_t *klens,
                     const void *const *vals, const size_t *vlens)
{
    kvd_reply *r;
    int rc = multi(c, &r, T(KVD_REPLY_STATUS), "MSET", n, keys, klens, vals, vlens);
    kvd_reply_free(r);
    return rc;
}

/* ------------------------------------------------------------------- SCAN */

struct kvd_scan {
    kvd_context *c;
    char *match;
    long count;
    char cursor[24];
    int started;
    kvd_reply *batch;   /* the last SCAN reply */
    size_t next;        /* next key in it */
};

KVD_API kvd_scan *kvd_scan_new(kvd_context *c, const char *match, long count)
{
    kvd_scan *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->c = c;
    s->count = count;
    if (match && !(s->match = strdup(match))) {
        free(s);
        return NULL;
    }
    strcpy(s->cursor, "0");
    return s;
}

KVD_API int kvd_scan_next(kvd_scan *s, const char **key, size_t *klen)
{
    for (;;) {
        if (s->batch) {
            kvd_reply *keys = s->batch->element[1];
            if (s->next < keys->elements) {
                kvd_reply *k = keys->element[s->next++];
                *key = k->str;
                *klen = k->len;
                return 1;
            }
            kvd_reply_free(s->batch);
            s->batch = NULL;
            if (strcmp(s->cursor, "0") == 0)
                return 0;
        } else if (s->started && strcmp(s->cursor, "0") == 0) {
            return 0;
        }
        const char *argv[6] = {"SCAN", s->cursor};
        size_t lens[6] = {4, strlen(s->cursor)};
        int argc = 2;
        char num[24];
        if (s->match) {
            argv[argc] = "MATCH";
            lens[argc++] = 5;
            argv[argc] = s->match;
            lens[argc++] = strlen(s->match);
        }
        if (s->count > 0) {
            argv[argc] = "COUNT";
            lens[argc++] = 5;
            argv[argc] = num;
            lens[argc++] = kvd_ll_to_str(num, s->count);
        }
        kvd_reply *r;
        int rc = typed(s->c, &r, T(KVD_REPLY_ARRAY), argc, argv, lens);
        if (rc < 0)
            return rc;
        if (r->elements != 2 || r->element[0]->type != KVD_REPLY_BULK || r->element[1]->type != KVD_REPLY_ARRAY ||
            r->element[0]->len >= sizeof s->cursor) {
            kvd_reply_free(r);
            return set_err(s->c, KVD_ERR_TYPE, "malformed SCAN reply");
        }
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            if (r->element[1]->element[i]->type != KVD_REPLY_BULK) {
                kvd_reply_free(r);
                return set_err(s->c, KVD_ERR_TYPE, "malformed SCAN reply");
            }
        }
        memcpy(s->cursor, r->element[0]->str, r->element[0]->len + 1);
        s->started = 1;
        s->batch = r;
        s->next = 0;
    }
}

KVD_API void kvd_scan_free(kvd_scan *s)
{
    if (!s)
        return;
    kvd_reply_free(s->batch);
    free(s->match);
    free(s);
}

/* ------------------------------------------------------------------- AUTH */

static int do_auth(kvd_context *c)
{
    struct kvd_conn *k = c->conn;
    const char *argv[6];
    int argc = 0;
    if (k->opt.resp == 3) {
        /* HELLO 3 [AUTH user pass]: the protocol and the login in one. */
        argv[argc++] = "HELLO";
        argv[argc++] = "3";
        if (k->opt.password) {
            argv[argc++] = "AUTH";
            argv[argc++] = k->opt.username ? k->opt.username : "default";
            argv[argc++] = k->opt.password;
        }
    } else {
        argv[argc++] = "AUTH";
        if (k->opt.username)
            argv[argc++] = k->opt.username;
        argv[argc++] = k->opt.password;
    }
    kvd_reply *r;
    int rc = kvd_command_argv(c, &r, argc, argv, NULL);
    if (rc < 0)
        return rc;
    if (r->type == KVD_REPLY_ERROR) {
        set_err(c, KVD_ERR_SERVER, "%s failed: %s", argv[0], r->str);
        kvd_reply_free(r);
        close_fd(k);
        return KVD_ERR_SERVER;
    }
    kvd_reply_free(r);
    return KVD_OK;
}
