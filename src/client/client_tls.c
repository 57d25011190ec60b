/* client_tls: TLS for libkvdclient, OpenSSL over the library's socket
 * (see client_tls.h). The context is built per connection, so that a
 * reconnect reads certificates that were renewed on disk. */
#include "config.h"
#include "client_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct client_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO_METHOD *method; /* the socket BIO's functions */
    int fd;
    int eof;            /* the last BIO read met the end of the stream */
    int err_no;         /* ... or failed with this errno */
    int sound;          /* handshake done and no error since: close_notify on free */
};

/* ------------------------------------------------------------- options */

static int dup_into(const char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

int client_tls_opts_copy(kvd_tls_options *dst, const kvd_tls_options *src)
{
    memset(dst, 0, sizeof(*dst));
    if (!src)
        return 0;
    dst->insecure = src->insecure;
    int bad = dup_into(&dst->cacert, src->cacert);
    bad |= dup_into(&dst->cacertdir, src->cacertdir);
    bad |= dup_into(&dst->cert, src->cert);
    bad |= dup_into(&dst->key, src->key);
    bad |= dup_into(&dst->server_name, src->server_name);
    return bad ? -1 : 0;
}

void client_tls_opts_free(kvd_tls_options *o)
{
    free((char *)o->cacert);
    free((char *)o->cacertdir);
    free((char *)o->cert);
    free((char *)o->key);
    free((char *)o->server_name);
    memset(o, 0, sizeof(*o));
}

/* ----------------------------------------------------------- the BIO */

static int sock_write(BIO *b, const char *p, int n)
{
    client_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t w = send(t->fd, p, (size_t)n, MSG_NOSIGNAL);
        if (w >= 0)
            return (int)w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        else
            t->err_no = errno;
        return -1;
    }
}

static int sock_read(BIO *b, char *p, int n)
{
    client_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = recv(t->fd, p, (size_t)n, 0);
        if (r > 0)
            return (int)r;
        if (r == 0) {
            t->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        else
            t->err_no = errno;
        return -1;
    }
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* -------------------------------------------------------------- errors */

/* err = "<what>: <reason>" from OpenSSL's queue (its oldest error, the
 * cause) and the certificate check. Empties the queue. Returns code. */
static int tls_err(const SSL *ssl, int code, const char *what, char *err, size_t errlen)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
#ifdef ERR_SYSTEM_ERROR
    if (e && ERR_SYSTEM_ERROR(e)) /* its reason is an errno */
#else
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS)
#endif
        r = strerror(ERR_GET_REASON(e));
    char buf[256];
    if (!r && e) {
        ERR_error_string_n(e, buf, sizeof buf);
        r = buf;
    }
    ERR_clear_error();
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(err, errlen, "%s: %s (%s)", what, r ? r : "failed", X509_verify_cert_error_string(v));
    else
        snprintf(err, errlen, "%s: %s", what, r ? r : "failed");
    return code;
}

/* After an SSL call returned r <= 0: 0 with *events to wait for, or the
 * error. */
static int want_or_fail(client_tls *t, int r, const char *what, short *events, char *err, size_t errlen)
{
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        *events = POLLIN;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        *events = POLLOUT;
        return 0;
    }
    t->sound = 0;
    unsigned long q = ERR_peek_error();
    int eof_only = t->eof && !q;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    eof_only |= t->eof && ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
#endif
    if (e == SSL_ERROR_ZERO_RETURN || eof_only) {
        ERR_clear_error();
        snprintf(err, errlen, "%s: connection closed by the server", what);
        return KVD_ERR_EOF;
    }
    if (t->err_no && !q) {
        snprintf(err, errlen, "%s: %s", what, strerror(t->err_no));
        return KVD_ERR_IO;
    }
    return tls_err(t->ssl, KVD_ERR_TLS, what, err, errlen);
}

static void ssl_call_begin(client_tls *t)
{
    ERR_clear_error();
    t->eof = 0;
    t->err_no = 0;
}

/* ------------------------------------------------------------------ API */

static int is_address(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* The context: whom to trust, and what to show. Returns 0 or an error. */
static int setup_context(client_tls *t, const kvd_tls_options *o, char *err, size_t errlen)
{
    char what[PATH_MAX + 64];
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (o->insecure) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        if (o->cacert || o->cacertdir) {
            snprintf(what, sizeof what, "cannot load the CA certificates from %s",
                     o->cacert ? o->cacert : o->cacertdir);
            if (SSL_CTX_load_verify_locations(t->ctx, o->cacert, o->cacertdir) != 1)
                return tls_err(NULL, KVD_ERR_TLS, what, err, errlen);
        } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            return tls_err(NULL, KVD_ERR_TLS, "cannot load the system's CA certificates", err, errlen);
        }
    }
    if (o->cert) {
        const char *key = o->key ? o->key : o->cert;
        snprintf(what, sizeof what, "cannot load the client certificate %s", o->cert);
        if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert) != 1)
            return tls_err(NULL, KVD_ERR_TLS, what, err, errlen);
        snprintf(what, sizeof what, "cannot load the private key %s", key);
        if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1)
            return tls_err(NULL, KVD_ERR_TLS, what, err, errlen);
        snprintf(what, sizeof what, "the private key %s is not the client certificate's", key);
        if (SSL_CTX_check_private_key(t->ctx) != 1)
            return tls_err(NULL, KVD_ERR_TLS, what, err, errlen);
    } else if (o->key) {
        snprintf(err, errlen, "a client key without a client certificate");
        return KVD_ERR_ARG;
    }
    return 0;
}

client_tls *client_tls_new(const kvd_tls_options *o, const char *host, int fd, int *code, char *err,
                           size_t errlen)
{
    client_tls *t = calloc(1, sizeof(*t));
    if (!t) {
        *code = KVD_ERR_OOM;
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->fd = fd;
    ERR_clear_error();
    BIO *b = NULL;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        *code = tls_err(NULL, KVD_ERR_TLS, "cannot create a TLS context", err, errlen);
        goto fail;
    }
    if ((*code = setup_context(t, o, err, errlen)) < 0)
        goto fail;
    t->ssl = SSL_new(t->ctx);
    t->method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kvd socket");
    if (t->method && (!BIO_meth_set_write(t->method, sock_write) || !BIO_meth_set_read(t->method, sock_read) ||
                      !BIO_meth_set_ctrl(t->method, sock_ctrl) || !BIO_meth_set_create(t->method, sock_create))) {
        BIO_meth_free(t->method);
        t->method = NULL;
    }
    b = t->ssl && t->method ? BIO_new(t->method) : NULL;
    if (!b) {
        *code = tls_err(NULL, KVD_ERR_TLS, "cannot set up TLS", err, errlen);
        goto fail;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b);
    const char *name = o->server_name ? o->server_name : host;
    int addr = is_address(name);
    int ok = 1;
    if (!addr)
        ok = SSL_set_tlsext_host_name(t->ssl, name) == 1; /* SNI carries names only */
    if (ok && !o->insecure)
        ok = addr ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) == 1
                  : SSL_set1_host(t->ssl, name) == 1;
    if (!ok) {
        *code = tls_err(NULL, KVD_ERR_TLS, "cannot set the server name to check", err, errlen);
        goto fail;
    }
    SSL_set_connect_state(t->ssl);
    return t;
fail:
    client_tls_free(t);
    return NULL;
}

int client_tls_handshake(client_tls *t, short *events, char *err, size_t errlen)
{
    ssl_call_begin(t);
    int r = SSL_connect(t->ssl);
    if (r == 1) {
        t->sound = 1;
        return 1;
    }
    return want_or_fail(t, r, "TLS handshake", events, err, errlen);
}

int client_tls_read(client_tls *t, void *buf, size_t n, short *events, char *err, size_t errlen)
{
    ssl_call_begin(t);
    int r = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : want_or_fail(t, r, "TLS", events, err, errlen);
}

int client_tls_write(client_tls *t, const void *buf, size_t n, short *events, char *err, size_t errlen)
{
    ssl_call_begin(t);
    int r = SSL_write(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : want_or_fail(t, r, "TLS", events, err, errlen);
}

void client_tls_free(client_tls *t)
{
    if (!t)
        return;
    if (t->ssl && t->sound) {
        SSL_shutdown(t->ssl); /* close_notify if the socket takes it now */
        ERR_clear_error();
    }
    SSL_free(t->ssl); /* and its BIO */
    SSL_CTX_free(t->ctx);
    BIO_meth_free(t->method);
    free(t);
}
