/* Bearer tokens of the daemons (token.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include "secup/bytes.h"
#include "secup/file.h"
#include "secup/manifest.h"
#include "token.h"

void token_hash(const char *token, char out[TOKEN_HASH_HEX])
{
    uint8_t d[32];
    struct secup_err err;
    if (secup_sha256(secup_bytes_of(token, strlen(token)), d, &err) != SECUP_OK) {
        out[0] = '\0'; /* matches no stored hash */
        return;
    }
    secup_hex_encode(secup_bytes_of(d, 32), out, TOKEN_HASH_HEX);
}

secup_rc token_new(char out[64], struct secup_err *err)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t r[43];
    size_t got = 0;
    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return secup_err_set(err, SECUP_E_CRYPTO, "getrandom: %s", strerror(errno));
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(r); i++)
        out[i] = alphabet[r[i] & 63];
    out[sizeof(r)] = '\0';
    return SECUP_OK;
}

secup_rc token_read_file(const char *path, char *out, size_t cap, struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, 4096, &buf, &len, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "reading the token file '%s'", path);
        return rc;
    }
    size_t a = 0, b = len;
    while (a < b && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\n' || buf[a] == '\r'))
        a++;
    while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t' || buf[b - 1] == '\n' ||
                     buf[b - 1] == '\r'))
        b--;
    bool printable = true;
    for (size_t i = a; i < b; i++)
        if (buf[i] <= ' ' || buf[i] >= 0x7f)
            printable = false;
    if (b == a || b - a >= cap || !printable)
        rc = secup_err_set(err, SECUP_E_VALUE, "token file '%s' does not hold one token", path);
    else {
        memcpy(out, buf + a, b - a);
        out[b - a] = '\0';
    }
    secup_file_free(buf, len);
    return rc;
}
