/* Daemon log lines (log.h). */
#include <stdio.h>
#include <time.h>

#include "log.h"

void log_vline(const char *prog, const char *fmt, va_list ap)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(stderr, "%s %s: %s\n", ts, prog, line);
}
