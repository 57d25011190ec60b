/* conn: the clients' connections (conn.c): accepting, reading and
 * parsing, dispatching, sending replies in order (what commit.c holds
 * waits), output limits, idle timeouts, and closing. */
#ifndef KVD_CONN_H
#define KVD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "server.h"

/* The listeners' connection callback. */
void conn_accept(uv_stream_t *listener, int status);

/* c has replies to send: send them before the loop next blocks. */
void conn_send_later(client *c);

/* Send what every client with replies has (see conn_send_later). */
void conn_send_all(void);

/* Close c at once, sending nothing more. */
void conn_close(client *c);

/* Close c once its pending replies are written (QUIT, SHUTDOWN). */
void conn_close_after_reply(client *c);

/* From the cron: idle timeouts, the output soft limit's seconds, and the
 * end of lingering. */
void conn_cron(int64_t now);

/* Bytes the clients' buffers hold. */
size_t conn_memory(void);

/* c has authenticated as u: it gets u's permissions and the full
 * protocol limits. */
struct acl_user;
void conn_authenticated(client *c, struct acl_user *u);

/* RESET: c is the default user's again, authenticated only if that user
 * needs no password. */
void conn_reset_auth(client *c);

/* The proto-* limits changed: every client's parser takes them. */
void conn_set_limits(void);

/* Shutdown: send every client what it may be sent, then close them all. */
void conn_close_all(void);

/* One line of CLIENT LIST / CLIENT INFO for c, appended to out. */
void conn_describe(client *c, buf_t *out);

#endif
