/* log: leveled log lines with a timestamp, to stderr or a file, in the
 * shape Redis uses ("pid:M 26 Nov 2026 18:10:36.123 * message"), so
 * operators' tooling reads both. */
#ifndef KVD_LOG_H
#define KVD_LOG_H

enum { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING, LOG_NOTHING };

/* Send log lines at or above level to path (NULL or "" for stderr).
 * Returns 0, or -errno if the file cannot be opened (stderr is kept). */
int log_open(const char *path, int level);

/* Reopen the current file (after logrotate moved it; SIGHUP). */
int log_reopen(void);

void log_set_level(int level);

/* The levels' names, in order, NULL-terminated (loglevel in kvd.conf). */
extern const char *const log_level_names[];

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)

#endif
