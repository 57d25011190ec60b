/* notify: tells a service manager how kvd is doing, by systemd's notify
 * protocol (sd_notify(3)): each message is one datagram of "NAME=value"
 * lines sent to the unix socket that $NOTIFY_SOCKET names, a path or,
 * after an '@', an abstract socket name. kvd sends STATUS= lines while it
 * loads, READY=1 once the data is loaded and the listeners take commands,
 * and STOPPING=1 when it begins to shut down. No libsystemd needed. */
#ifndef KVD_NOTIFY_H
#define KVD_NOTIFY_H

/* Get ready to talk to the manager under mode (the `supervised`
 * directive, enum kvd_supervised): KVD_SUPERVISED_SYSTEMD, or
 * KVD_SUPERVISED_AUTO when NOTIFY_SOCKET is set. Takes NOTIFY_SOCKET out of
 * the environment (it is kvd's alone, not its children's). Returns 1 when
 * messages will be sent, 0 when not: not supervised, or a problem that is
 * logged as a warning (systemd asked for without NOTIFY_SOCKET, a name
 * that is not a path or '@' name, no socket). */
int notify_init(int mode);

/* Send text, "NAME=value" lines ("READY=1\nSTATUS=...\n"), in one
 * datagram; a no-op (0) when notify_init did not set up. A full receive
 * queue blocks it for at most a second. Returns 0 or -errno (logged once
 * at verbose level; the manager may simply be gone). */
int notify_send(const char *text);

/* After a daemonize: fd is a pipe the parent waits on. notify_ready
 * writes one byte to it and closes it, and the parent exits 0; if this
 * process exits before, the parent sees the pipe close and exits 1.
 * stderr is still the parent's: notify_ready puts /dev/null there. */
void notify_parent(int fd);

/* kvd is ready to accept connections: tell the manager (READY=1) and a
 * daemonize's parent. */
int notify_ready(void);

/* notify_send of a formatted text. */
int notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Close the socket; notify_send is a no-op after. */
void notify_close(void);

#endif
