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

/* The same for the TLS listeners: the client goes through tls.c. */
void conn_accept_tls(uv_stream_t *listener, int status);

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

/* c's command held by CLIENT PAUSE has run (pause.c): run the complete
 * commands it sent after it, unless c is held again or closing. */
void conn_resume_input(client *c);

/* One line of CLIENT LIST / CLIENT INFO for c, appended to out. */
void conn_describe(client *c, buf_t *out);

/* ---- for tls.c, which stands between a TLS client's socket and its
 * buffers: ciphertext never reaches qbuf or out ---- */

/* Room at the end of c->qbuf for the next plaintext bytes, sized as a
 * socket read into it would be. */
void conn_input_room(client *c, uv_buf_t *b);

/* n plaintext bytes were put at the end of c->qbuf: count them, check the
 * query buffer limit, run the complete commands. c may be closing after. */
void conn_input(client *c, size_t n);

/* c sent no more (UV_EOF: answer what it sent, then close) or reading
 * failed (close). */
void conn_input_end(client *c, ssize_t nread);

/* Send len bytes at data, a buffer of cap bytes from srv.pool that c takes
 * over (it goes back to the pool once written), behind what is in flight.
 * Returns 0, or a negative libuv error; the caller then closes c. */
int conn_write_pooled(client *c, char *data, size_t len, size_t cap);

#endif
