#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "log.h"

static const char *prog_name = "secup";
static bool quiet;

void cli_init(const char *prog)
{
    prog_name = prog;
}

const char *cli_prog(void)
{
    return prog_name;
}

void cli_set_quiet(bool q)
{
    quiet = q;
}

int cli_fail(const char *cmd, const struct secup_err *err)
{
    secup_rc rc = err->rc == SECUP_OK ? SECUP_E_STATE : err->rc;
    char safe[4 * sizeof(err->msg)]; /* the message may quote what the input held */
    fprintf(stderr, "%s: %s: %s [%s]\n", prog_name, cmd,
            log_escape(err->msg[0] ? err->msg : secup_rc_str(rc), safe, sizeof(safe)),
            secup_rc_name(rc));
    return secup_rc_exit_status(rc);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: %s: ", prog_name, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " [%s]\nhint: see '%s %s --help'\n", secup_rc_name(SECUP_E_USAGE), prog_name,
            cmd);
    return secup_rc_exit_status(SECUP_E_USAGE);
}

void cli_hint(const char *fmt, ...)
{
    va_list ap;
    fputs("hint: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_note(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    fprintf(stderr, "%s: ", prog_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}
