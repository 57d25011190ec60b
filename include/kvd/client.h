/* libkvdclient: a small, blocking C client for kvd and any server that
 * speaks the Redis protocol (RESP2).
 *
 *   kvd_context *c = kvd_connect("127.0.0.1", 7379, NULL);
 *   if (c->err) { fprintf(stderr, "%s\n", c->errstr); kvd_free(c); return 1; }
 *   kvd_set(c, "k", 1, "v", 1, 0);
 *
 * Conventions
 * - Every function that can fail returns KVD_OK (0) or a negative KVD_ERR_*
 *   code; kvd_strerror() names it. The context's err and errstr say the
 *   same, and stay set until the next call that succeeds.
 * - An I/O error, EOF, timeout or protocol error leaves the connection
 *   unusable: later calls fail with the same code until kvd_reconnect().
 *   A server error reply (-ERR ...) does not: the connection is fine.
 * - Out of memory is reported (KVD_ERR_OOM), never fatal.
 * - Ownership: a kvd_reply handed out belongs to the caller, who frees it
 *   with kvd_reply_free(); strings from kvd_get() are freed with free().
 *   Arguments are only read during the call and never kept.
 * - Threads: a context belongs to one thread at a time. Different contexts
 *   may be used from different threads freely; the library has no global
 *   state.
 * - Every create has a free: kvd_connect (or _unix, _tls) and kvd_free, kvd_scan_new/
 *   kvd_scan_free, replies/kvd_reply_free. */
#ifndef KVD_CLIENT_H
#define KVD_CLIENT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(KVD_CLIENT_BUILD)
#define KVD_API __attribute__((visibility("default")))
#else
#define KVD_API
#endif

/* ---- errors: one table gives each code its name and message ---- */
#define KVD_ERRNO_MAP(X)                                                                           \
    X(IO, -1, "I/O error")                                                                         \
    X(EOF, -2, "connection closed by the server")                                                  \
    X(PROTOCOL, -3, "protocol error in the server's reply")                                        \
    X(TIMEOUT, -4, "timed out")                                                                    \
    X(OOM, -5, "out of memory")                                                                    \
    X(SERVER, -6, "the server replied with an error")                                              \
    X(ARG, -7, "invalid argument")                                                                 \
    X(TYPE, -8, "unexpected reply type")                                                           \
    X(TLS, -9, "TLS error")

enum {
    KVD_OK = 0,
#define KVD_ERR_ENUM(name, code, msg) KVD_ERR_##name = (code),
    KVD_ERRNO_MAP(KVD_ERR_ENUM)
#undef KVD_ERR_ENUM
};

/* "KVD_ERR_TIMEOUT" for KVD_ERR_TIMEOUT, ...; "KVD_OK" for 0. Never NULL. */
KVD_API const char *kvd_err_name(int code);
/* "timed out" for KVD_ERR_TIMEOUT, ...; "success" for 0. Never NULL. */
KVD_API const char *kvd_strerror(int code);

/* ---- replies ---- */
typedef enum kvd_reply_type {
    KVD_REPLY_STATUS = 1, /* +OK: str/len */
    KVD_REPLY_ERROR,      /* -ERR ...: str/len (without the '-') */
    KVD_REPLY_INTEGER,    /* :42: integer */
    KVD_REPLY_BULK,       /* $3 foo: str/len, binary-safe */
    KVD_REPLY_NIL,        /* $-1 or *-1, or RESP3's _ */
    KVD_REPLY_ARRAY,      /* *N: elements/element, nested to any depth */
    /* RESP3 (after HELLO 3, or kvd_options.resp = 3): */
    KVD_REPLY_MAP,        /* %N: 2N elements, keys and values alternating */
    KVD_REPLY_SET,        /* ~N: elements */
    KVD_REPLY_PUSH,       /* >N: elements (out-of-band data) */
    KVD_REPLY_DOUBLE,     /* ,3.14: str/len as sent, and dval */
    KVD_REPLY_BOOL,       /* #t / #f: integer 1 or 0 */
    KVD_REPLY_BIGNUM,     /* (123...: str/len, the digits */
    KVD_REPLY_VERB,       /* =N txt:...: str/len the text, vtype its format ("txt", "mkd") */
} kvd_reply_type;

typedef struct kvd_reply {
    kvd_reply_type type;
    long long integer;         /* KVD_REPLY_INTEGER */
    size_t len;                /* STATUS, ERROR, BULK: bytes in str */
    char *str;                 /* ... followed by a NUL the length does not count */
    size_t elements;           /* ARRAY, MAP, SET, PUSH */
    struct kvd_reply **element;
    double dval;               /* DOUBLE */
    char vtype[4];             /* VERB */
} kvd_reply;

/* Free a reply and everything in it. NULL is a no-op. */
KVD_API void kvd_reply_free(kvd_reply *r);

/* ---- connecting ---- */
typedef struct kvd_options {
    int connect_timeout_ms; /* 0: wait as long as the system does */
    int command_timeout_ms; /* 0: no limit on waiting for a reply */
    const char *username;   /* for AUTH; NULL means the default user */
    const char *password;   /* NULL: no AUTH on connect */
    int resp;               /* 3: HELLO 3 on connect, replies in RESP3 types; 0 or 2: RESP2 */
} kvd_options;

typedef struct kvd_context {
    int err;              /* last error (KVD_ERR_*), 0 if the last call succeeded */
    char errstr[128];     /* what happened, in words */
    struct kvd_conn *conn; /* private */
} kvd_context;

/* Connect to host:port (a name or an address) with TCP_NODELAY set, then
 * AUTH if opts has a password. opts may be NULL. Returns a context even on
 * failure (check c->err; free it with kvd_free), NULL only if there was no
 * memory for the context itself. */
KVD_API kvd_context *kvd_connect(const char *host, int port, const kvd_options *opts);

/* The same over a unix socket. */
KVD_API kvd_context *kvd_connect_unix(const char *path, const kvd_options *opts);

/* ---- TLS ---- */
typedef struct kvd_tls_options {
    const char *cacert;      /* PEM file of the CAs to trust; NULL with cacertdir NULL: the system's */
    const char *cacertdir;   /* a directory of hashed CA certificates (openssl rehash), or NULL */
    const char *cert;        /* client certificate chain (PEM) for servers that ask; NULL: none */
    const char *key;         /* its private key (PEM); NULL: the key is in the cert file */
    const char *server_name; /* the name sent (SNI) and checked in the server's certificate;
                                NULL: host (an address is checked against the IP names) */
    int insecure;            /* 1: do not check the server's certificate at all (tests only) */
} kvd_tls_options;

/* kvd_connect over TLS (tls-port), tls may be NULL (the system's CAs, the
 * name checked is host). The handshake is part of connecting: it counts
 * against connect_timeout_ms, then AUTH runs as without TLS. A failed
 * handshake or TLS record is KVD_ERR_TLS, with OpenSSL's reason (and the
 * certificate check's, when that failed) in errstr; the connection is
 * then closed, as after an I/O error. kvd_reconnect does the handshake
 * again. Certificates and keys are read at connect time (and again on
 * each reconnect). kvd_fd works as before, but a TLS connection may have
 * data waiting in the library that poll() on the fd does not see. */
KVD_API kvd_context *kvd_connect_tls(const char *host, int port, const kvd_options *opts,
                                     const kvd_tls_options *tls);

/* Close the connection (if any) and connect again to the same place with
 * the same options, dropping replies still pending. Returns KVD_OK or the
 * error (also in c->err). */
KVD_API int kvd_reconnect(kvd_context *c);

/* Close and free. NULL is a no-op. */
KVD_API void kvd_free(kvd_context *c);

/* The socket, for poll()ing it yourself; -1 when not connected. */
KVD_API int kvd_fd(const kvd_context *c);

/* ---- commands ---- */

/* Send one command and wait for its reply. argv[i] has argvlen[i] bytes
 * (argvlen NULL: NUL-terminated strings). On KVD_OK *reply is the reply,
 * which may be an error reply (the call itself succeeded). */
KVD_API int kvd_command_argv(kvd_context *c, kvd_reply **reply, int argc, const char *const *argv,
                             const size_t *argvlen);

/* printf-style: the format is split into arguments at spaces; %s is a C
 * string, %b a binary string (two arguments: const void *, size_t), %d
 * int, %u unsigned, %ld long, %lld long long, %zu size_t, %f double, %%
 * a '%'. A directive may be part of a word: "user:%d". */
KVD_API int kvd_command(kvd_context *c, kvd_reply **reply, const char *fmt, ...);
KVD_API int kvd_vcommand(kvd_context *c, kvd_reply **reply, const char *fmt, va_list ap);

/* ---- pipelining ----
 * Append any number of commands, then read their replies in order with
 * kvd_get_reply. Appending writes to the socket as it goes (and reads
 * what replies have arrived, so neither side can stall), so memory holds
 * at most the commands not yet sent and the replies not yet read. */
KVD_API int kvd_append_argv(kvd_context *c, int argc, const char *const *argv, const size_t *argvlen);
KVD_API int kvd_append(kvd_context *c, const char *fmt, ...);
KVD_API int kvd_vappend(kvd_context *c, const char *fmt, va_list ap);

/* Wait for the reply to the oldest appended command. KVD_ERR_ARG if none
 * is pending. */
KVD_API int kvd_get_reply(kvd_context *c, kvd_reply **reply);

/* Commands appended whose replies have not been read yet. */
KVD_API size_t kvd_pending(const kvd_context *c);

/* ---- typed helpers ----
 * A server error reply makes these return KVD_ERR_SERVER with the message
 * in c->errstr; a reply of an unexpected type returns KVD_ERR_TYPE. */

/* GET. On KVD_OK *val is a malloc'ed copy (NUL-terminated, *vlen bytes
 * without the NUL) to free(), or NULL when the key does not exist. */
KVD_API int kvd_get(kvd_context *c, const void *key, size_t klen, char **val, size_t *vlen);

/* SET, with a time to live in milliseconds (0: none). */
KVD_API int kvd_set(kvd_context *c, const void *key, size_t klen, const void *val, size_t vlen,
                    int64_t ttl_ms);

/* DEL of n keys; *deleted (may be NULL) gets how many existed. */
KVD_API int kvd_del(kvd_context *c, size_t n, const void *const *keys, const size_t *klens,
                    long long *deleted);

/* EXISTS: *exists is 1 or 0. */
KVD_API int kvd_exists(kvd_context *c, const void *key, size_t klen, int *exists);

/* INCRBY by (INCR is by = 1): *value (may be NULL) gets the new value. */
KVD_API int kvd_incr(kvd_context *c, const void *key, size_t klen, long long by, long long *value);

/* PEXPIRE: *applied (may be NULL) is 1 if the key exists and got the TTL. */
KVD_API int kvd_expire(kvd_context *c, const void *key, size_t klen, int64_t ttl_ms, int *applied);

/* PTTL: *ttl_ms is the time left, -1 without expiry, -2 if no such key. */
KVD_API int kvd_ttl(kvd_context *c, const void *key, size_t klen, int64_t *ttl_ms);

/* MGET: *values is an ARRAY reply with one BULK or NIL per key, to free
 * with kvd_reply_free. */
KVD_API int kvd_mget(kvd_context *c, size_t n, const void *const *keys, const size_t *klens,
                     kvd_reply **values);

/* MSET of n pairs. */
KVD_API int kvd_mset(kvd_context *c, size_t n, const void *const *keys, const size_t *klens,
                     const void *const *vals, const size_t *vlens);

/* ---- SCAN ----
 *   kvd_scan *s = kvd_scan_new(c, "user:*", 100);
 *   const char *k; size_t kl; int rc;
 *   while ((rc = kvd_scan_next(s, &k, &kl)) == 1) use(k, kl);
 *   kvd_scan_free(s);     (rc is 0 when done, or a KVD_ERR_* code)
 * Every key present for the whole iteration is returned at least once;
 * some may come twice. The key stays valid until the next call. */
typedef struct kvd_scan kvd_scan;

/* match (NULL: every key) and count (0: the server's default) are passed
 * to SCAN. NULL only when out of memory. */
KVD_API kvd_scan *kvd_scan_new(kvd_context *c, const char *match, long count);
KVD_API int kvd_scan_next(kvd_scan *s, const char **key, size_t *klen);
KVD_API void kvd_scan_free(kvd_scan *s);

#ifdef __cplusplus
}
#endif

#endif
