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

secup_rc author_parse_hex_key(const char *name, struct secup_bytes text, const char *what,
                              uint8_t *out, size_t cap, size_t *len, struct secup_err *err)
{
    *len = 0;
    if (text.len > 2 * cap + 64)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "'%s' is too large for %s", name, what);
    char *copy = malloc(text.len + 1);
    if (!copy)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for '%s'", name);
    if (text.len)
        memcpy(copy, text.ptr, text.len);
    copy[text.len] = '\0';
    bool ok = secup_hex_decode(copy, out, cap, len);
    secup_wipe(copy, text.len + 1);
    free(copy);
    if (!ok) {
        secup_wipe(out, cap);
        *len = 0;
        return secup_err_set(err, SECUP_E_KEY_FORMAT, "'%s' is not %s written as hex", name, what);
    }
    return SECUP_OK;
}

secup_rc author_read_hex_key(const char *path, const char *what, uint8_t *out, size_t cap,
                             size_t *len, struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    *len = 0;
    secup_rc rc = secup_file_read(path, 2 * cap + 64, &buf, &n, err);
    if (rc != SECUP_OK)
        return rc;
    rc = author_parse_hex_key(path, secup_bytes_of(buf, n), what, out, cap, len, err);
    secup_file_free(buf, n);
    return rc;
}

static secup_rc hmac_from_hex(const char *name, secup_rc rc, uint8_t *secret, size_t n,
                              struct secup_key **out, struct secup_err *err)
{
    if (rc == SECUP_OK)
        rc = secup_key_from_secret(out, secup_bytes_of(secret, n), err);
    secup_wipe(secret, 64);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "'%s'", name);
    return rc;
}

#define HMAC_WHAT "an HMAC secret of at most 64 bytes"

secup_rc author_load_hmac(const char *path, struct secup_key **out, struct secup_err *err)
{
    uint8_t secret[64];
    size_t n = 0;
    secup_rc rc = author_read_hex_key(path, HMAC_WHAT, secret, sizeof(secret), &n, err);
    return hmac_from_hex(path, rc, secret, n, out, err);
}

/* A signing key must hold its private part. */
static secup_rc signing_key_check(const char *name, secup_rc rc, struct secup_key **out,
                                  struct secup_err *err)
{
    if (rc == SECUP_OK && !secup_key_has_private(*out)) {
        secup_key_free(*out);
        *out = NULL;
        rc = secup_err_set(err, SECUP_E_KEY_FORMAT,
                           "'%s' holds a public key; signing needs the private key", name);
    }
    return rc;
}

secup_rc author_load_signing_key(const struct author_key_ref *ref, struct secup_key **out,
                                 struct secup_err *err)
{
    if (ref->hmac)
        return author_load_hmac(ref->path, out, err);
    return signing_key_check(ref->path, secup_key_load_pem(out, ref->path, err), out, err);
}

secup_rc author_parse_signing_key(const char *name, struct secup_bytes text, bool hmac,
                                  struct secup_key **out, struct secup_err *err)
{
    *out = NULL;
    if (hmac) {
        uint8_t secret[64];
        size_t n = 0;
        secup_rc rc = author_parse_hex_key(name, text, HMAC_WHAT, secret, sizeof(secret), &n, err);
        return hmac_from_hex(name, rc, secret, n, out, err);
    }
    secup_rc rc = secup_key_parse_pem(out, text, err);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "key file '%s'", name);
    return signing_key_check(name, rc, out, err);
}
