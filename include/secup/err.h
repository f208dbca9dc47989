/* secup — error detail that travels beside a result code (STYLE.md section 4). */
#ifndef SECUP_ERR_H
#define SECUP_ERR_H

#include "secup/rc.h"

#define SECUP_ERR_MSG_MAX 512

struct secup_err {
    secup_rc rc;
    char msg[SECUP_ERR_MSG_MAX]; /* one line, no trailing newline */
};

/* Clears err (rc = SECUP_OK, empty message). err may be NULL. */
SECUP_API void secup_err_clear(struct secup_err *err);

/* Sets rc and a formatted message in err (which may be NULL) and returns rc,
 * so that it can end a return statement. */
SECUP_API secup_rc secup_err_set(struct secup_err *err, secup_rc rc, const char *fmt, ...)
    SECUP_PRINTF(3, 4);

/* Prefixes the existing message with outer context: "<context>: <message>".
 * err may be NULL. */
SECUP_API void secup_err_prefix(struct secup_err *err, const char *fmt, ...) SECUP_PRINTF(2, 3);

#endif /* SECUP_ERR_H */
