/* One log line of a daemon on stderr: "<UTC time> <program>: <message>". Messages often
 * quote what a peer sent (an id, a reason, a URL); every byte outside printable ASCII is
 * written as \xNN, so that no input can forge a line, move the cursor or smuggle bytes
 * into a log reader. */
#ifndef SECUP_LOG_H
#define SECUP_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "secup/export.h"

void log_vline(const char *prog, const char *fmt, va_list ap) SECUP_PRINTF(2, 0);

/* Copies in to out (cap bytes, always NUL-terminated when cap > 0) with every byte outside
 * 0x20..0x7e, and the backslash, escaped (\xNN, \\); cut at a whole escape. Returns out. */
char *log_escape(const char *in, char *out, size_t cap);

#endif /* SECUP_LOG_H */
