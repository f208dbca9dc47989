/* Bearer tokens of the daemons (token.h). */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "secup/bytes.h"
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
