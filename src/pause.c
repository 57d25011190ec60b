/* pause: CLIENT PAUSE / UNPAUSE, held commands and their resumption. See
 * pause.h. */
#include "config.h"
#include "pause.h"
#include "cmd.h"
#include "conn.h"
#include "db.h"
#include "list.h"
#include "log.h"
#include "multi.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A held command: its arguments, copied into the same allocation. */
typedef struct postponed {
    client *c;
    list_link link; /* on held, oldest first */
    int argc;
    char **argv;
    size_t *argvlen;
} postponed;

static pause_mode mode;
static uint64_t end_ms;   /* on the loop's clock (uv_now) */
static list held;         /* postponed, in the order they were held */
static uv_timer_t timer;  /* the end of the pause, or "resume now" after UNPAUSE */
static int timer_ready;   /* timer initialized (and not closed) */

static uint64_t loop_now(void)
{
    uv_update_time(srv.loop);
    return uv_now(srv.loop);
}

static void set_mode(pause_mode m)
{
    mode = m;
    db_freeze(m != PAUSE_OFF);
}

/* Run the held commands, oldest first. A command may pause again (it
 * was a CLIENT PAUSE held by PAUSE ALL): then the ones after it are held
 * anew, behind it. A client closed by one of them is forgotten on the way. */
static void resume_held(void)
{
    list todo = {0};
    while (held.first) {
        list_link *l = held.first;
        list_remove(l);
        list_push_back(&todo, l);
    }
    while (todo.first) {
        postponed *p = LIST_ITEM(todo.first, postponed, link);
        client *c = p->c;
        list_remove(&p->link);
        c->postponed = NULL;
        c->flags &= ~CLIENT_POSTPONED;
        cmd_dispatch(c, p->argc, p->argv, p->argvlen);
        free(p);
        conn_resume_input(c);
    }
}

static void on_timer(uv_timer_t *t)
{
    KVD_UNUSED(t);
    if (mode != PAUSE_OFF)
        log_notice("client pause ended (timeout): %zu held client(s) resume", held.len);
    set_mode(PAUSE_OFF);
    resume_held();
}

int pause_start(pause_mode m, uint64_t timeout_ms)
{
    if (!srv.loop)
        return 0;
    uint64_t now = loop_now();
    /* As Redis: 0 means an end in the past, not "now plus nothing". */
    uint64_t end = timeout_ms ? now + timeout_ms : 0;
    if (mode == PAUSE_OFF && end <= now)
        return 0; /* over before it began */
    if (!timer_ready) {
        int rc = uv_timer_init(srv.loop, &timer);
        if (rc < 0)
            return rc;
        timer_ready = 1;
    }
    uint64_t new_end = mode == PAUSE_OFF || end > end_ms ? end : end_ms;
    if (mode == PAUSE_OFF || new_end != end_ms) {
        int rc = uv_timer_start(&timer, on_timer, new_end - now, 0);
        if (rc < 0)
            return rc;
    }
    if (mode == PAUSE_OFF || m > mode)
        log_notice("client pause: %s commands held for %llu ms", m == PAUSE_ALL ? "all" : "write",
                   (unsigned long long)(new_end - now));
    end_ms = new_end;
    set_mode(m > mode ? m : mode);
    return 0;
}

void pause_stop(void)
{
    if (mode != PAUSE_OFF)
        log_notice("client pause ended (CLIENT UNPAUSE): %zu held client(s) resume", held.len);
    set_mode(PAUSE_OFF);
    if (!timer_ready)
        return;
    if (held.first)
        uv_timer_start(&timer, on_timer, 0, 0);
    else
        uv_timer_stop(&timer);
}

int pause_hold(client *c, const kvd_cmd *cmd, int argc, char **argv, size_t *argvlen)
{
    if (mode == PAUSE_OFF)
        return 0;
    /* As Redis 7.0: what may write is what the command table flags so
     * (writes, and PUBLISH, which Redis propagates to replicas), and an
     * EXEC whose queue holds such a command. */
    if (mode == PAUSE_WRITE && !(cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) &&
        !(cmd->fn == cmd_exec && (c->flags & CLIENT_MULTI) && multi_queued_writes(c)))
        return 0;
    size_t bytes = sizeof(postponed) + (sizeof(char *) + sizeof(size_t)) * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += argvlen[i] + 1;
    postponed *p = xcalloc(1, bytes);
    p->c = c;
    p->argc = argc;
    p->argv = (char **)(p + 1);
    p->argvlen = (size_t *)(p->argv + argc);
    char *s = (char *)(p->argvlen + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(s, argv[i], argvlen[i]);
        s[argvlen[i]] = '\0';
        p->argv[i] = s;
        p->argvlen[i] = argvlen[i];
        s += argvlen[i] + 1;
    }
    list_push_back(&held, &p->link);
    c->postponed = p;
    c->flags |= CLIENT_POSTPONED;
    return 1;
}

void pause_forget(client *c)
{
    postponed *p = c->postponed;
    if (!p)
        return;
    list_remove(&p->link);
    free(p);
    c->postponed = NULL;
    c->flags &= ~CLIENT_POSTPONED;
}

size_t pause_held_clients(void)
{
    return held.len;
}

pause_mode pause_current(void)
{
    return mode;
}

void pause_shutdown(void)
{
    set_mode(PAUSE_OFF);
    if (timer_ready && !uv_is_closing((uv_handle_t *)&timer))
        uv_close((uv_handle_t *)&timer, NULL);
    timer_ready = 0;
}
