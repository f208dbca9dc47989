/* Helpers shared by the secup-author commands. */
#include <stdlib.h>
#include <string.h>

#include "author.h"

secup_rc author_load_envelope(const char *path, uint8_t **buf, size_t *len,
                              struct secup_envelope **env, struct secup_err *err)
{
    *env = NULL;
    secup_rc rc = secup_file_read(path, AUTHOR_MAX_ENVELOPE, buf, len, err);
    if (rc != SECUP_OK)
        return rc;
    *env = malloc(sizeof(**env));
    if (!*env) {
        secup_file_free(*buf, *len);
        *buf = NULL;
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for an envelope");
    }
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = AUTHOR_MAX_ENVELOPE;
    rc = secup_envelope_decode(*env, secup_bytes_of(*buf, *len), &lim, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "'%s'", path);
        free(*env);
        *env = NULL;
        secup_file_free(*buf, *len);
        *buf = NULL;
    }
    return rc;
}
