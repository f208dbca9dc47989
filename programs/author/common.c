/* Helpers shared by the secup-author commands. */
#include <stdlib.h>
#include <string.h>

#include "author.h"

secup_rc author_parse_component_id(const char *text, struct author_component_id *out,
                                   struct secup_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t used = 0;
    const char *p = text;
    if (!*text)
        return secup_err_set(err, SECUP_E_ARG, "empty component identifier");
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0)
            return secup_err_set(err, SECUP_E_ARG, "component identifier '%s' has an empty part",
                                 text);
        if (out->id.n_parts >= SECUP_MAX_ID_PARTS)
            return secup_err_set(err, SECUP_E_LIMIT_ITEMS,
                                 "component identifier '%s' has more than %d parts", text,
                                 SECUP_MAX_ID_PARTS);
        uint8_t *dst = out->storage + used;
        size_t len = 0;
        if (n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
            char hex[256];
            if (n - 2 >= sizeof(hex))
                return secup_err_set(err, SECUP_E_LIMIT_BYTES, "component part too long");
            memcpy(hex, p + 2, n - 2);
            hex[n - 2] = '\0';
            if (!secup_hex_decode(hex, dst, sizeof(out->storage) - used, &len))
                return secup_err_set(err, SECUP_E_ARG,
                                     "component part '%s' is not valid hex (after 0x)", hex);
        } else {
            if (n > sizeof(out->storage) - used)
                return secup_err_set(err, SECUP_E_LIMIT_BYTES, "component identifier too long");
            memcpy(dst, p, n);
            len = n;
        }
        out->id.parts[out->id.n_parts++] = secup_bytes_of(dst, len);
        used += len;
        if (!slash)
            break;
        p = slash + 1;
    }
    return SECUP_OK;
}

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
