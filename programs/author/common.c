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

/* "pkcs11:PATH?module-path=LIB&pin-source=FILE" (RFC 7512 query attributes): the PIN is
 * read from a file that must be as private as a key file; pin-value (a PIN on the command
 * line, visible to every user) is refused. */
static secup_rc load_pkcs11(const char *uri, struct secup_key **out, struct secup_err *err)
{
    char path[1024];
    char module[1024] = "";
    char pin_file[1024] = "";
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    if (plen >= sizeof(path))
        return secup_err_set(err, SECUP_E_VALUE, "PKCS#11 URI too long");
    memcpy(path, uri, plen);
    path[plen] = '\0';
    while (q && *q) {
        q++;
        const char *end = strchr(q, '&');
        size_t n = end ? (size_t)(end - q) : strlen(q);
        char *dst = NULL;
        size_t name_len = 0;
        if (n > 12 && strncmp(q, "module-path=", 12) == 0) {
            dst = module;
            name_len = 12;
        } else if (n > 11 && strncmp(q, "pin-source=", 11) == 0) {
            dst = pin_file;
            name_len = 11;
        } else if (strncmp(q, "pin-value=", 10) == 0) {
            return secup_err_set(err, SECUP_E_VALUE,
                                 "'%s': pin-value puts the PIN where other users can read it; use pin-source=FILE", path);
        } else {
            return secup_err_set(err, SECUP_E_VALUE, "'%s': unsupported query attribute '%.*s' (module-path, pin-source)",
                                 path, (int)n, q);
        }
        if (n - name_len >= 1024)
            return secup_err_set(err, SECUP_E_VALUE, "'%s': query attribute too long", path);
        memcpy(dst, q + name_len, n - name_len);
        dst[n - name_len] = '\0';
        q = end;
    }
    const char *file = strncmp(pin_file, "file:", 5) == 0 ? pin_file + 5 : pin_file;
    char pin[256] = "";
    if (file[0]) {
        secup_rc rc = author_check_key_file(file, err);
        uint8_t *buf = NULL;
        size_t n = 0;
        if (rc == SECUP_OK)
            rc = secup_file_read(file, sizeof(pin) - 1, &buf, &n, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "PIN of '%s'", path);
            return rc;
        }
        size_t used = n;
        while (used > 0 && (buf[used - 1] == '\n' || buf[used - 1] == '\r'))
            used--;
        memcpy(pin, buf, used);
        pin[used] = '\0';
        secup_file_free(buf, n);
    }
    secup_rc rc = secup_key_load_pkcs11(out, path, module[0] ? module : NULL, file[0] ? pin : NULL, err);
    secup_wipe(pin, sizeof(pin));
    if (rc != SECUP_OK)
        secup_err_prefix(err, "PKCS#11 key");
    return rc;
}

secup_rc author_load_signing_key(const struct author_key_ref *ref, struct secup_key **out,
                                 struct secup_err *err)
{
    *out = NULL;
    if (!ref->hmac && strncmp(ref->path, "pkcs11:", 7) == 0)
        return load_pkcs11(ref->path, out, err);
    /* THREATS.md C12: a signing key others can read is refused, with no override */
    secup_rc prc = author_check_key_file(ref->path, err);
    if (prc != SECUP_OK)
        return prc;
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
