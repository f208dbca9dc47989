/* Helpers shared by the secup-author commands. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

secup_rc author_read_hex_key(const char *path, const char *what, uint8_t *out, size_t cap,
                             size_t *len, struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    *len = 0;
    secup_rc rc = secup_file_read(path, 2 * cap + 64, &buf, &n, err);
    if (rc != SECUP_OK)
        return rc;
    char *text = malloc(n + 1);
    if (!text) {
        secup_file_free(buf, n);
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for '%s'", path);
    }
    memcpy(text, buf, n);
    text[n] = '\0';
    secup_file_free(buf, n);
    bool ok = secup_hex_decode(text, out, cap, len);
    secup_wipe(text, n + 1);
    free(text);
    if (!ok) {
        secup_wipe(out, cap);
        *len = 0;
        return secup_err_set(err, SECUP_E_KEY_FORMAT, "'%s' is not %s written as hex", path, what);
    }
    return SECUP_OK;
}

secup_rc author_load_hmac(const char *path, struct secup_key **out, struct secup_err *err)
{
    uint8_t secret[64];
    size_t n = 0;
    secup_rc rc = author_read_hex_key(path, "an HMAC secret of at most 64 bytes", secret,
                                      sizeof(secret), &n, err);
    if (rc == SECUP_OK)
        rc = secup_key_from_secret(out, secup_bytes_of(secret, n), err);
    secup_wipe(secret, sizeof(secret));
    if (rc != SECUP_OK)
        secup_err_prefix(err, "'%s'", path);
    return rc;
}

secup_rc author_check_key_file(const char *path, struct secup_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return secup_err_set(err, e == ENOENT ? SECUP_E_NOENT : SECUP_E_IO, "key file '%s': %s", path,
                             strerror(e));
    }
    struct stat st;
    int r = fstat(fd, &st);
    int e = errno;
    close(fd);
    if (r != 0)
        return secup_err_set(err, SECUP_E_IO, "key file '%s': %s", path, strerror(e));
    if (!S_ISREG(st.st_mode))
        return secup_err_set(err, SECUP_E_KEY_FORMAT, "key file '%s' is not a regular file", path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return secup_err_set(err, SECUP_E_KEY_EXPOSED,
                             "private key file '%s' has mode %04o: group or others may read or write it; "
                             "it is not used (chmod 600 it, and consider the key exposed if others could read it)",
                             path, (unsigned)(st.st_mode & 07777));
    return SECUP_OK;
}

secup_rc author_load_signing_key(const struct author_key_ref *ref, struct secup_key **out,
                                 struct secup_err *err)
{
    *out = NULL;
    /* THREATS.md C12: a signing key others can read is refused, with no override */
    secup_rc prc = author_check_key_file(ref->path, err);
    if (prc != SECUP_OK)
        return prc;
    if (ref->hmac)
        return author_load_hmac(ref->path, out, err);
    secup_rc rc = secup_key_load_pem(out, ref->path, err);
    if (rc == SECUP_OK && !secup_key_has_private(*out)) {
        secup_key_free(*out);
        *out = NULL;
        rc = secup_err_set(err, SECUP_E_KEY_FORMAT,
                           "'%s' holds a public key; signing needs the private key", ref->path);
    }
    return rc;
}
