/* loading: the WAL replay at startup as the outside sees it. The replay
 * runs on the loop's thread and calls loading_progress about every MB it
 * reads; from there the event loop is polled (at most every 10 ms), so
 * clients connect while the data loads and get their answers: -LOADING,
 * or what the commands Redis allows while loading (CMD_LOADING) reply,
 * INFO's progress among them. Nothing else runs during the replay: no
 * cron, no group commit, no WAL; the only part of the half-loaded table
 * anything looks at is INFO's counters. The log gets a progress line
 * after 2 s and every 5 s after that, a supervising systemd a STATUS=
 * line every second. A shutdown (SHUTDOWN, SIGTERM) stops the replay,
 * and kvd exits without writing anything.
 *
 * For the tests, KVD_TEST_LOAD_DELAY_MS=N in the environment makes the
 * replay wait N ms (polling the loop) before each chunk it reads, so that
 * a small data dir takes seconds to load. */
#ifndef KVD_LOADING_H
#define KVD_LOADING_H

#include <stdint.h>

#include "buf.h"
#include "wal_dir.h"

/* Mark the server as loading (srv.loading): before the listeners open. */
void loading_begin(void);

/* The replay is over, loaded or not: commands run normally from here. */
void loading_end(void);

/* What db_open hands wal_open_dir_watched. Between loading_begin and
 * loading_end it records the figures, polls the loop, and stops the
 * replay once a shutdown has begun; otherwise it does nothing. */
extern const wal_replay_watch loading_watch;

/* INFO persistence's loading_* fields, which Redis adds at the end of the
 * section while it loads. */
void loading_info(buf_t *out);

#endif
