#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "secup/err.h"

void secup_err_clear(struct secup_err *err)
{
    if (!err)
        return;
    err->rc = SECUP_OK;
    err->msg[0] = '\0';
}

secup_rc secup_err_set(struct secup_err *err, secup_rc rc, const char *fmt, ...)
{
    if (!err)
        return rc;
    err->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return rc;
}

void secup_err_prefix(struct secup_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char ctx[SECUP_ERR_MSG_MAX];
    char old[SECUP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    old[sizeof(old) - 1] = '\0';
    /* Truncation is acceptable: messages are one line for humans. */
    size_t n = strlen(ctx);
    if (n >= sizeof(err->msg))
        n = sizeof(err->msg) - 1;
    memcpy(err->msg, ctx, n);
    if (old[0] != '\0' && n + 2 < sizeof(err->msg)) {
        err->msg[n++] = ':';
        err->msg[n++] = ' ';
        size_t m = strlen(old);
        if (m > sizeof(err->msg) - 1 - n)
            m = sizeof(err->msg) - 1 - n;
        memcpy(err->msg + n, old, m);
        n += m;
    }
    err->msg[n] = '\0';
}
