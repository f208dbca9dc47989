/* One log line of a daemon on stderr: "<UTC time> <program>: <message>". */
#ifndef SECUP_LOG_H
#define SECUP_LOG_H

#include <stdarg.h>

void log_vline(const char *prog, const char *fmt, va_list ap);

#endif /* SECUP_LOG_H */
