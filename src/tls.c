/* tls: TLS on client connections. OpenSSL never touches a socket here: a
 * BIO of our own reads the ciphertext libuv read (tls_conn.in) and
 * appends what OpenSSL writes to a pooled buffer (tls_conn.out) that
 * conn_write_pooled sends as it is. So both directions cost one copy
 * beyond OpenSSL's own, and an idle TLS connection holds no buffer (the
 * SSL object releases its own too, SSL_MODE_RELEASE_BUFFERS): unlike
 * BIO_s_mem, which keeps its largest size for the connection's life.
 *
 *   socket -> tls_read_cb -> in -> SSL_read -> c->qbuf -> conn_input
 *   c->out -> tls_write -> SSL_write -> out -> conn_write_pooled -> socket
 *
 * A connection is on `handshaking` from accept until its handshake ends;
 * tls_cron closes it if that takes longer than tls-handshake-timeout. */
#include "config.h"
#include "tls.h"
#include "conn.h"
#include "list.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Ciphertext read per socket read: the largest pool class, four records. */
#define IN_CHUNK POOL_MAX_SIZE
/* Plaintext encrypted per output buffer: with the records' overhead
 * (RECORD_OVERHEAD each, at most) it still fits the largest pool class. */
#define OUT_CHUNK (60 * 1024)
#define RECORD_OVERHEAD 128
#define MAX_RECORD 16384

/* Stop decrypting for a client in any of these states. */
#define STOP_INPUT (CLIENT_READ_PAUSED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_CLOSING | CLIENT_LINGER)

typedef struct tls_conn {
    SSL *ssl;
    client *c;          /* the connection this is the TLS state of */
    buf_t in;           /* ciphertext read, not yet taken by OpenSSL: in.data[in_pos..in.len) */
    size_t in_pos;
    buf_t out;          /* ciphertext OpenSSL made, not yet handed to conn.c */
    list_link hs;       /* on `handshaking` until the handshake ends */
    int done;           /* the handshake finished */
} tls_conn;

static SSL_CTX *ctx;
static BIO_METHOD *bio_method;
static list handshaking;        /* oldest first */

static struct {
    uint64_t accepted;          /* connections accepted on the TLS port */
    uint64_t handshakes;        /* ... whose handshake finished */
    uint64_t failures;          /* ... whose handshake failed (garbage, refused certificate, EOF) */
    uint64_t timeouts;          /* ... closed at the handshake deadline */
} stats;

/* ------------------------------------------------------------------ errors */

/* What went wrong, in words: the oldest error on OpenSSL's queue (the
 * cause; later ones are its consequences), and the certificate check's
 * verdict when that is what failed. Empties the queue. */
static void ssl_reason(const SSL *ssl, char *out, size_t n)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
#ifdef ERR_SYSTEM_ERROR
    if (e && ERR_SYSTEM_ERROR(e)) /* its reason is an errno */
#else
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS)
#endif
        r = strerror(ERR_GET_REASON(e));
    if (r)
        snprintf(out, n, "%s", r);
    else if (e)
        ERR_error_string_n(e, out, n);
    else
        snprintf(out, n, "%s", "connection closed");
    ERR_clear_error();
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (v != X509_V_OK) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, " (%s)", X509_verify_cert_error_string(v));
    }
}

/* --------------------------------------------------------------- the BIO */

static int bio_write(BIO *b, const char *p, int n)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (n <= 0)
        return 0;
    buf_append(&t->out, p, (size_t)n);
    return n;
}

static int bio_read(BIO *b, char *p, int n)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t avail = t->in.len - t->in_pos;
    if (avail == 0 || n <= 0) {
        BIO_set_retry_read(b); /* not an EOF: more may come */
        return -1;
    }
    size_t k = avail < (size_t)n ? avail : (size_t)n;
    memcpy(p, t->in.data + t->in_pos, k);
    t->in_pos += k;
    return (int)k;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    KVD_UNUSED(num);
    KVD_UNUSED(ptr);
    tls_conn *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return t ? (long)(t->in.len - t->in_pos) : 0;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ------------------------------------------------------------------- I/O */

/* Hand the ciphertext made so far to conn.c. */
static int send_out(client *c)
{
    tls_conn *t = c->tls;
    if (t->out.len == 0 || (c->flags & CLIENT_CLOSING))
        return 0;
    size_t len, cap;
    char *data = buf_detach(&t->out, &len, &cap);
    return conn_write_pooled(c, data, len, cap);
}

/* Forget the ciphertext OpenSSL took; the buffer goes back to the pool
 * once it is empty. */
static void trim_in(tls_conn *t)
{
    if (t->in_pos) {
        buf_consume(&t->in, t->in_pos);
        t->in_pos = 0;
    }
    if (t->in.len == 0 && t->in.cap)
        buf_release(&t->in);
}

/* A fatal TLS error: send the alert OpenSSL made, log, close. */
static void fail(client *c, const char *what)
{
    char why[256];
    ssl_reason(c->tls->ssl, why, sizeof why);
    log_verbose("closing TLS client id=%llu addr=%s: %s: %s", (unsigned long long)c->id, c->addr, what, why);
    send_out(c);
    conn_close(c);
}

/* Decrypt what `in` holds into qbuf and run it, until OpenSSL needs more
 * ciphertext or the client may not be read now (paused, closing). */
static void pump(client *c)
{
    tls_conn *t = c->tls;
    while (!(c->flags & STOP_INPUT)) {
        uv_buf_t room;
        conn_input_room(c, &room);
        size_t got = 0;
        int e = SSL_ERROR_NONE;
        ERR_clear_error();
        while (got < room.len) {
            size_t want = room.len - got;
            int n = SSL_read(t->ssl, room.base + got, want > INT_MAX ? INT_MAX : (int)want);
            if (n <= 0) {
                e = SSL_get_error(t->ssl, n);
                break;
            }
            got += (size_t)n;
        }
        if (got)
            conn_input(c, got);
        if (e == SSL_ERROR_NONE)
            continue; /* the room is full: there may be more */
        if (c->flags & CLIENT_CLOSING)
            break;
        if (c->qbuf.len == 0)
            buf_release(&c->qbuf); /* the room went unused */
        if (e == SSL_ERROR_WANT_READ)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            /* close_notify: as an EOF. Our own goes out as the close lingers. */
            conn_input_end(c, UV_EOF);
            break;
        }
        fail(c, "TLS error");
        return;
    }
    if (send_out(c) < 0)
        conn_close(c);
}

static void handshake(client *c)
{
    tls_conn *t = c->tls;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
        int e = SSL_get_error(t->ssl, r);
        if (e != SSL_ERROR_WANT_READ) {
            stats.failures++;
            list_remove(&t->hs);
            fail(c, "TLS handshake failed");
            return;
        }
        if (send_out(c) < 0)
            conn_close(c);
        return;
    }
    t->done = 1;
    list_remove(&t->hs);
    stats.handshakes++;
    char who[300] = "";
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
#else
    X509 *peer = SSL_get_peer_certificate(t->ssl);
#endif
    if (peer) {
        char subject[256];
        X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof subject);
        snprintf(who, sizeof who, ", client certificate %s", subject);
        X509_free(peer);
    }
    log_verbose("TLS client id=%llu addr=%s: %s, %s%s", (unsigned long long)c->id, c->addr,
                SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl), who);
    pump(c); /* what came behind the handshake, and the server's last flight */
}

static void tls_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    KVD_UNUSED(suggested);
    client *c = h->data;
    tls_conn *t = c->tls;
    buf_reserve(&t->in, IN_CHUNK);
    *b = uv_buf_init(t->in.data + t->in.len, (unsigned)(t->in.cap - t->in.len));
}

static void tls_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    KVD_UNUSED(b);
    client *c = s->data;
    tls_conn *t = c->tls;
    if (nread == 0) {
        trim_in(t);
        return;
    }
    if (nread < 0) {
        trim_in(t);
        if (t->done) {
            conn_input_end(c, nread);
            return;
        }
        stats.failures++;
        list_remove(&t->hs);
        log_verbose("closing TLS client id=%llu addr=%s: it left during the handshake: %s", (unsigned long long)c->id,
                    c->addr, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    t->in.len += (size_t)nread;
    if (t->done)
        pump(c);
    else
        handshake(c);
    trim_in(t);
}

int tls_read_start(client *c)
{
    return uv_read_start(&c->h.stream, tls_alloc_cb, tls_read_cb);
}

void tls_resume(client *c)
{
    tls_conn *t = c->tls;
    if (!t->done || (c->flags & STOP_INPUT))
        return;
    pump(c);
    trim_in(t);
}

int tls_accept(client *c)
{
    tls_conn *t = xcalloc(1, sizeof(*t));
    t->c = c;
    buf_init(&t->in, &srv.pool);
    buf_init(&t->out, &srv.pool);
    t->ssl = SSL_new(ctx);
    BIO *b = t->ssl ? BIO_new(bio_method) : NULL;
    if (!b) {
        char why[256];
        ssl_reason(NULL, why, sizeof why);
        log_warning("cannot set up TLS for client id=%llu addr=%s: %s", (unsigned long long)c->id, c->addr, why);
        SSL_free(t->ssl);
        free(t);
        return UV_ENOMEM;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b);
    SSL_set_accept_state(t->ssl);
    c->tls = t;
    list_push_back(&handshaking, &t->hs);
    stats.accepted++;
    return tls_read_start(c);
}

int tls_write(client *c, const char *p, size_t n)
{
    tls_conn *t = c->tls;
    if (!t->done)
        return -EPROTO; /* no replies before the handshake: cannot happen */
    srv.stats.net_out += n; /* plaintext, as Redis counts it */
    while (n > 0) {
        size_t chunk = n < OUT_CHUNK ? n : OUT_CHUNK;
        buf_reserve(&t->out, chunk + (chunk / MAX_RECORD + 1) * RECORD_OVERHEAD);
        ERR_clear_error();
        int w = SSL_write(t->ssl, p, (int)chunk);
        if (w <= 0) {
            char why[256];
            ssl_reason(t->ssl, why, sizeof why);
            log_verbose("TLS write to client id=%llu addr=%s failed: %s", (unsigned long long)c->id, c->addr, why);
            return -EIO;
        }
        p += w;
        n -= (size_t)w;
        int rc = send_out(c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void tls_close_notify(client *c)
{
    tls_conn *t = c->tls;
    t->in_pos = t->in.len;
    trim_in(t);
    if (!t->done)
        return;
    ERR_clear_error();
    SSL_shutdown(t->ssl); /* 0: ours is out, the client's not yet in; linger reads none */
    ERR_clear_error();
    send_out(c); /* a failure: the linger timer closes it */
}

void tls_conn_free(client *c)
{
    tls_conn *t = c->tls;
    list_remove(&t->hs);
    SSL_free(t->ssl); /* and the BIO */
    buf_release(&t->in);
    buf_release(&t->out);
    free(t);
    c->tls = NULL;
}

void tls_cron(int64_t now)
{
    tls_conn *t;
    LIST_EACH(&handshaking, tls_conn, hs, t) {
        if (now - t->c->ctime_ms < (int64_t)srv.cfg.tls_handshake_timeout)
            break; /* the rest came later */
        list_remove(&t->hs);
        if (t->c->flags & CLIENT_CLOSING)
            continue;
        stats.timeouts++;
        log_verbose("closing TLS client id=%llu addr=%s: no TLS handshake within tls-handshake-timeout (%d ms)",
                    (unsigned long long)t->c->id, t->c->addr, srv.cfg.tls_handshake_timeout);
        conn_close(t->c);
    }
}

/* ------------------------------------------------------------ the context */

static const struct {
    const char *name;
    int version;
} protocols[] = {
    {"TLSv1", TLS1_VERSION},
    {"TLSv1.1", TLS1_1_VERSION},
    {"TLSv1.2", TLS1_2_VERSION},
    {"TLSv1.3", TLS1_3_VERSION},
};

/* tls-protocols: a space-separated subset of `protocols` ("": TLSv1.2 and
 * TLSv1.3). Sets the lowest and highest versions allowed and, for gaps,
 * the SSL_OP_NO_* options. */
static int set_protocols(SSL_CTX *x, const char *names, char *err, size_t errlen)
{
    unsigned mask = 0;
    char *copy = xstrdup(names);
    int rc = 0;
    for (char *w = strtok(copy, " \t,"); w && rc == 0; w = strtok(NULL, " \t,")) {
        size_t i;
        for (i = 0; i < KVD_ARRAY_SIZE(protocols); i++)
            if (strcasecmp(w, protocols[i].name) == 0)
                break;
        if (i == KVD_ARRAY_SIZE(protocols)) {
            snprintf(err, errlen, "tls-protocols: unknown protocol '%s' (known: TLSv1 TLSv1.1 TLSv1.2 TLSv1.3)", w);
            rc = -1;
        } else {
            mask |= 1u << i;
        }
    }
    free(copy);
    if (rc < 0)
        return rc;
    if (mask == 0)
        mask = 1u << 2 | 1u << 3;
    int lo = -1, hi = -1;
    for (int i = 0; i < (int)KVD_ARRAY_SIZE(protocols); i++) {
        if (mask & (1u << i)) {
            if (lo < 0)
                lo = i;
            hi = i;
        }
    }
    static const long no_op[] = {SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3};
    for (int i = lo; i <= hi; i++)
        if (!(mask & (1u << i)))
            SSL_CTX_set_options(x, no_op[i]);
    if (SSL_CTX_set_min_proto_version(x, protocols[lo].version) != 1 ||
        SSL_CTX_set_max_proto_version(x, protocols[hi].version) != 1) {
        snprintf(err, errlen, "tls-protocols '%s': not supported by this OpenSSL", names);
        return -1;
    }
    return 0;
}

/* err = "<what>: <OpenSSL's reason>"; returns -1. */
static int ssl_err(char *err, size_t errlen, const char *what)
{
    char why[256];
    ssl_reason(NULL, why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, why);
    return -1;
}

static int passphrase_asked;

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    passphrase_asked = 1;
    return 0;
}

static int build_context(SSL_CTX *x, const kvd_config *cfg, char *err, size_t errlen)
{
    char what[PATH_MAX + 128];
    long opts = SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_NO_RENEGOTIATION
    opts |= SSL_OP_NO_RENEGOTIATION; /* TLSv1.2: none, from either side */
#endif
    SSL_CTX_set_options(x, opts);
    SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS);
    /* Needed for session resumption once client certificates are checked. */
    SSL_CTX_set_session_id_context(x, (const unsigned char *)"kvd", 3);
    if (set_protocols(x, cfg->tls_protocols, err, errlen) < 0)
        return -1;
    /* Never prompt for a passphrase (kvd would hang at a terminal): an
     * encrypted key fails to load and is reported as such. */
    SSL_CTX_set_default_passwd_cb(x, no_passphrase);
    snprintf(what, sizeof what, "tls-cert-file %s: cannot load the certificate", cfg->tls_cert_file);
    if (SSL_CTX_use_certificate_chain_file(x, cfg->tls_cert_file) != 1)
        return ssl_err(err, errlen, what);
    char mismatch[2 * PATH_MAX + 64];
    snprintf(mismatch, sizeof mismatch, "tls-key-file %s is not the key of tls-cert-file %s", cfg->tls_key_file,
             cfg->tls_cert_file);
    snprintf(what, sizeof what, "tls-key-file %s: cannot load the private key", cfg->tls_key_file);
    passphrase_asked = 0;
    if (SSL_CTX_use_PrivateKey_file(x, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1) {
        if (passphrase_asked) {
            ERR_clear_error();
            snprintf(err, errlen, "tls-key-file %s is encrypted with a passphrase: kvd needs it unencrypted "
                                  "(openssl pkey -in %s -out plain.key), readable only by kvd's user",
                     cfg->tls_key_file, cfg->tls_key_file);
            return -1;
        }
        return ssl_err(err, errlen, ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH ? mismatch : what);
    }
    if (SSL_CTX_check_private_key(x) != 1)
        return ssl_err(err, errlen, mismatch);
    const char *cafile = cfg->tls_ca_cert_file[0] ? cfg->tls_ca_cert_file : NULL;
    const char *cadir = cfg->tls_ca_cert_dir[0] ? cfg->tls_ca_cert_dir : NULL;
    struct stat dst;
    if (cadir && (stat(cadir, &dst) < 0 || !S_ISDIR(dst.st_mode) || access(cadir, R_OK | X_OK) < 0)) {
        snprintf(err, errlen, "tls-ca-cert-dir %s: %s", cadir,
                 stat(cadir, &dst) < 0 ? strerror(errno) : !S_ISDIR(dst.st_mode) ? "not a directory" : strerror(errno));
        return -1;
    }
    if (cafile || cadir) {
        snprintf(what, sizeof what, "%s %s: cannot load the CA certificates", cafile ? "tls-ca-cert-file" : "tls-ca-cert-dir",
                 cafile ? cafile : cadir);
        if (SSL_CTX_load_verify_locations(x, cafile, cadir) != 1)
            return ssl_err(err, errlen, what);
        if (cafile) {
            /* Tell clients which CAs their certificate should come from. */
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cafile);
            if (!names)
                return ssl_err(err, errlen, what);
            SSL_CTX_set_client_CA_list(x, names);
        }
    } else if (cfg->tls_auth_clients != KVD_TLS_AUTH_NO) {
        snprintf(err, errlen,
                 "tls-auth-clients is %s, but there is no tls-ca-cert-file (or tls-ca-cert-dir) to check client "
                 "certificates against: set one, or tls-auth-clients no",
                 cfg->tls_auth_clients == KVD_TLS_AUTH_YES ? "yes" : "optional");
        return -1;
    }
    int mode = SSL_VERIFY_NONE;
    if (cfg->tls_auth_clients == KVD_TLS_AUTH_YES)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    else if (cfg->tls_auth_clients == KVD_TLS_AUTH_OPTIONAL)
        mode = SSL_VERIFY_PEER;
    SSL_CTX_set_verify(x, mode, NULL);
    snprintf(what, sizeof what, "tls-ciphers '%s'", cfg->tls_ciphers);
    if (cfg->tls_ciphers[0] && SSL_CTX_set_cipher_list(x, cfg->tls_ciphers) != 1)
        return ssl_err(err, errlen, what);
    snprintf(what, sizeof what, "tls-ciphersuites '%s'", cfg->tls_ciphersuites);
    if (cfg->tls_ciphersuites[0] && SSL_CTX_set_ciphersuites(x, cfg->tls_ciphersuites) != 1)
        return ssl_err(err, errlen, what);
    return 0;
}

int tls_configure(const kvd_config *cfg, char *err, size_t errlen)
{
    if (cfg->tls_port == 0)
        return 0;
    if (!cfg->tls_cert_file[0] || !cfg->tls_key_file[0]) {
        snprintf(err, errlen, "tls-port %d needs tls-cert-file and tls-key-file", cfg->tls_port);
        return -1;
    }
    ERR_clear_error();
    SSL_CTX *x = SSL_CTX_new(TLS_server_method());
    if (!x)
        return ssl_err(err, errlen, "cannot create the TLS context");
    if (build_context(x, cfg, err, errlen) < 0) {
        SSL_CTX_free(x);
        return -1;
    }
    if (!bio_method) {
        bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kvd client");
        if (!bio_method || !BIO_meth_set_write(bio_method, bio_write) || !BIO_meth_set_read(bio_method, bio_read) ||
            !BIO_meth_set_ctrl(bio_method, bio_ctrl) || !BIO_meth_set_create(bio_method, bio_create)) {
            SSL_CTX_free(x);
            return ssl_err(err, errlen, "cannot set up the TLS I/O");
        }
    }
    SSL_CTX_free(ctx);
    ctx = x;
    return 0;
}

void tls_cleanup(void)
{
    SSL_CTX_free(ctx);
    ctx = NULL;
    BIO_meth_free(bio_method);
    bio_method = NULL;
}

static const char *auth_name(int a)
{
    return a == KVD_TLS_AUTH_YES ? "yes" : a == KVD_TLS_AUTH_OPTIONAL ? "optional" : "no";
}

void tls_describe(char *out, size_t n)
{
    snprintf(out, n, "TLS on port %d (%s; client certificates: %s; handshake deadline %d ms)", srv.cfg.tls_port,
             srv.cfg.tls_protocols, auth_name(srv.cfg.tls_auth_clients), srv.cfg.tls_handshake_timeout);
}

void tls_info(buf_t *out)
{
    buf_appendf(out,
                "tls_port:%d\r\ntls_protocols:%s\r\ntls_auth_clients:%s\r\ntls_handshake_timeout:%d\r\n"
                "tls_connections_received:%llu\r\ntls_handshakes:%llu\r\ntls_handshake_failures:%llu\r\n"
                "tls_handshake_timeouts:%llu\r\ntls_clients_in_handshake:%zu\r\n",
                srv.cfg.tls_port, srv.cfg.tls_protocols, auth_name(srv.cfg.tls_auth_clients),
                srv.cfg.tls_handshake_timeout, (unsigned long long)stats.accepted,
                (unsigned long long)stats.handshakes, (unsigned long long)stats.failures,
                (unsigned long long)stats.timeouts, handshaking.len);
}
