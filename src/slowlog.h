/* slowlog: the last commands that took longer than slowlog-log-slower-than
 * microseconds, with their (shortened, redacted) arguments and client, as
 * SLOWLOG GET shows them; and the latency monitor: the latest and worst
 * spikes of each kind of event (commands, fsyncs, forks, expiry and
 * eviction cycles) over latency-monitor-threshold milliseconds, as
 * LATENCY LATEST / HISTORY / DOCTOR show them. */
#ifndef KVD_SLOWLOG_H
#define KVD_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* A command of c took usec: log it if it was slow enough. */
void slowlog_command(client *c, int argc, char **argv, size_t *argvlen, uint64_t usec);

/* An event of this kind took ms milliseconds (recorded when at or over
 * latency-monitor-threshold, and the monitor is on). event is a literal. */
void latency_sample(const char *event, uint64_t ms);

/* Free both logs (at exit). */
void slowlog_free(void);

#endif
