/* One log line of a daemon on stderr: "<UTC time> <program>: <message>". */
#ifndef SECUP_LOG_H
#define SECUP_LOG_H

#include <stdarg.h>

#include "secup/export.h"

void log_vline(const char *prog, const char *fmt, va_list ap) SECUP_PRINTF(2, 0);

#endif /* SECUP_LOG_H */
