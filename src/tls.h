/* tls: TLS on client connections (tls-port), with OpenSSL kept off the
 * socket: the ciphertext a client sends is read by libuv as on any
 * connection and handed to OpenSSL from memory; the plaintext it yields
 * lands in the client's qbuf as a plain read would; replies are encrypted
 * into pooled buffers that conn.c writes. The event loop, group commit,
 * output limits and lingering close are therefore the same code for
 * both kinds of connection. Also here: the server's TLS context (from the
 * tls-* directives), the handshake deadline, and INFO's tls section. */
#ifndef KVD_TLS_H
#define KVD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "server.h"

/* Build the TLS context from cfg: certificate and key, the CAs for client
 * certificates, tls-auth-clients, protocols and ciphers. Nothing to do
 * (returns 0) when tls-port is 0. Returns 0, or -1 with err saying what
 * is wrong and naming the directive and file. Call once, before the loop
 * starts; --test-config calls it too. */
int tls_configure(const kvd_config *cfg, char *err, size_t errlen);

/* Free the context (at exit, after every TLS client is freed). */
void tls_cleanup(void);

/* One line for the log: the TLS port and how it is set up. */
void tls_describe(char *out, size_t n);

/* c was just accepted on a TLS listener and counted as a client: give it
 * TLS state and start reading its handshake. The handshake must finish
 * within tls-handshake-timeout (tls_cron). Returns 0, or a negative libuv
 * error after which the caller closes c. */
int tls_accept(client *c);

/* Start (again) reading c's socket through the TLS layer. Returns 0 or a
 * negative libuv error. */
int tls_read_start(client *c);

/* Decrypt and run what c sent while its reading was paused. */
void tls_resume(client *c);

/* Encrypt the n bytes at p (replies, in order) and send them. The caller
 * consumes them from c->out. Returns 0, or a negative error after which
 * the caller closes c. */
int tls_write(client *c, const char *p, size_t n);

/* A lingering close is starting: queue close_notify ahead of the FIN and
 * drop the ciphertext not yet read. */
void tls_close_notify(client *c);

/* Free c's TLS state (from the client's last close callback). */
void tls_conn_free(client *c);

/* From the cron: close the clients whose handshake is past its deadline. */
void tls_cron(int64_t now);

/* INFO's "tls" section, without its header. */
void tls_info(buf_t *out);

#endif
