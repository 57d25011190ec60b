/* pause: CLIENT PAUSE and CLIENT UNPAUSE, how an operator stops writes
 * (or everything) while a failover happens. While a pause is on, a
 * command it covers does not run: it is kept, the client's later input
 * waits behind it (reading goes on, so a client that hangs up is seen),
 * and when the pause ends (its timer, or UNPAUSE) the kept commands run,
 * clients in the order they were held, each through the whole dispatch
 * again (permissions, the WAL's state, ...), as Redis 7.0 does. Meanwhile
 * the keyspace stands still: keys past their expiry read as missing but
 * stay, and nothing is evicted (db_freeze). */
#ifndef KVD_PAUSE_H
#define KVD_PAUSE_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

struct kvd_cmd;

typedef enum pause_mode {
    PAUSE_OFF = 0,
    PAUSE_WRITE = 1, /* commands that may write, and EXEC of a transaction holding one */
    PAUSE_ALL = 2,   /* every command (CLIENT UNPAUSE too: only the timeout ends it) */
} pause_mode;

/* CLIENT PAUSE: hold what mode covers for timeout_ms from now (0: a pause
 * that is already over). A pause in force keeps the later of the two ends
 * and the stricter of the two modes, as Redis does. Needs srv.loop (its
 * end is a libuv timer); without a loop nothing is paused. Returns 0, or
 * a negative libuv error if the timer cannot be set (nothing changed). */
int pause_start(pause_mode mode, uint64_t timeout_ms);

/* CLIENT UNPAUSE: the pause ends now. The held commands run at the start
 * of the next loop iteration, not inside the command that ended it. */
void pause_stop(void);

/* From dispatch, once cmd passed its checks and before it runs or is
 * queued inside MULTI: 1 when the pause holds it (its arguments are
 * copied, c gets CLIENT_POSTPONED and c->postponed, and conn.c runs none
 * of c's input until the command has run); 0 when it may run now. */
int pause_hold(client *c, const struct kvd_cmd *cmd, int argc, char **argv, size_t *argvlen);

/* c goes away (closed, or its peer hung up): its held command is dropped
 * without running, as Redis drops it. Nothing if it has none. */
void pause_forget(client *c);

/* Clients with a held command (INFO's blocked_clients). */
size_t pause_held_clients(void);

/* The mode in force. */
pause_mode pause_current(void);

/* Shutdown: the pause ends without running anything and its timer is
 * closed (the held clients are closed by conn_close_all). */
void pause_shutdown(void);

#endif
