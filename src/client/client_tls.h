/* client_tls: TLS for libkvdclient. OpenSSL runs over the library's own
 * non-blocking socket through a BIO that sends with MSG_NOSIGNAL (a
 * library must not raise SIGPIPE in its caller). Nothing here waits:
 * each call does what the socket allows and says which poll() event it
 * needs next, and client.c waits with its deadlines. Nothing aborts. */
#ifndef KVD_CLIENT_TLS_H
#define KVD_CLIENT_TLS_H

#include <stddef.h>

#include "kvd/client.h"

typedef struct client_tls client_tls;

/* dst becomes a copy of src with strings of its own (or all zero when src
 * is NULL). Returns 0, or -1 when out of memory (dst is then freeable). */
int client_tls_opts_copy(kvd_tls_options *dst, const kvd_tls_options *src);

/* Free the strings client_tls_opts_copy made. */
void client_tls_opts_free(kvd_tls_options *o);

/* TLS state for a client of host (for SNI and the certificate's name,
 * unless opts->server_name says otherwise) on fd, connected and
 * non-blocking: reads the CA and client certificate files now. Returns
 * NULL with a KVD_ERR_* code in *code and the reason in err on failure. */
client_tls *client_tls_new(const kvd_tls_options *opts, const char *host, int fd, int *code, char *err,
                           size_t errlen);

/* The handshake, a read into buf (at most n bytes) or a write of the n
 * bytes at buf (which may be retried with the same first bytes, moved or
 * followed by more). Each returns > 0 (the handshake is done; bytes read
 * or written), 0 when it must wait for *events (POLLIN or POLLOUT) on
 * fd, or a negative KVD_ERR_* code (KVD_ERR_TLS, KVD_ERR_EOF, KVD_ERR_IO)
 * with the reason in err: the connection is then unusable. */
int client_tls_handshake(client_tls *t, short *events, char *err, size_t errlen);
int client_tls_read(client_tls *t, void *buf, size_t n, short *events, char *err, size_t errlen);
int client_tls_write(client_tls *t, const void *buf, size_t n, short *events, char *err, size_t errlen);

/* Send close_notify if the connection is still sound (without waiting),
 * then free t. Does not close fd. NULL is a no-op. */
void client_tls_free(client_tls *t);

#endif
