/* log: timestamped, leveled log output. */
#include "config.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static FILE *log_fp;
static char log_path[4096];
static int log_min = LOG_NOTICE;

const char *const log_level_names[] = {"debug", "verbose", "notice", "warning", "nothing", NULL};
static const char level_marks[] = ".-*#";

int log_open(const char *path, int level)
{
    log_min = level;
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    log_fp = stderr;
    log_path[0] = '\0';
    if (!path || !*path)
        return 0;
    FILE *f = fopen(path, "a");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IOLBF, 0);
    log_fp = f;
    snprintf(log_path, sizeof log_path, "%s", path);
    return 0;
}

int log_reopen(void)
{
    if (!log_path[0])
        return 0;
    FILE *f = fopen(log_path, "a");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_fp && log_fp != stderr)
        fclose(log_fp);
    log_fp = f;
    return 0;
}

void log_set_level(int level)
{
    log_min = level;
}

void log_msg(int level, const char *fmt, ...)
{
    if (level < log_min || level >= LOG_NOTHING)
        return;
    FILE *f = log_fp ? log_fp : stderr;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[64];
    size_t n = strftime(ts, sizeof ts, "%d %b %Y %H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03d", (int)(tv.tv_usec / 1000));
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(f, "%d:M %s %c %s\n", (int)getpid(), ts, level_marks[level], msg);
    fflush(f);
}
