#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

uint8_t *tu_read(const char *path, size_t *len)
{
    uint8_t *buf = NULL;
    struct secup_err err;
    secup_rc rc = secup_file_read(path, 64u * 1024 * 1024, &buf, len, &err);
    if (rc != SECUP_OK)
        fail_msg("reading %s: %s", path, err.msg);
    /* secup_file_read() allocates through secup_alloc(); hand back a malloc copy so that
     * tests free with free(). */
    uint8_t *copy = malloc(*len ? *len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, *len);
    secup_file_free(buf, *len);
    return copy;
}

struct secup_key *tu_key(const char *path)
{
    struct secup_key *k = NULL;
    struct secup_err err;
    if (secup_key_load_pem(&k, path, &err) != SECUP_OK)
        fail_msg("loading key %s: %s", path, err.msg);
    return k;
}

struct secup_trust *tu_trust(const char *first, ...)
{
    struct secup_trust *t = NULL;
    struct secup_err err;
    assert_int_equal(secup_trust_new(&t, &err), SECUP_OK);
    va_list ap;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *))
        assert_int_equal(secup_trust_add(t, tu_key(p), p, &err), SECUP_OK);
    va_end(ap);
    return t;
}

struct secup_trust *tu_vector_trust(void)
{
    struct secup_trust *t = tu_trust(VECTORS "keys/suit-example-p256-public.pem", NULL);
    size_t len = 0;
    uint8_t *hex = tu_read(VECTORS "keys/enc-hmac256-key.hex", &len);
    char text[256];
    assert_true(len < sizeof(text));
    memcpy(text, hex, len);
    text[len] = '\0';
    free(hex);
    uint8_t secret[64];
    size_t n = 0;
    assert_true(secup_hex_decode(text, secret, sizeof(secret), &n));
    struct secup_key *k = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_from_secret(&k, secup_bytes_of(secret, n), &err), SECUP_OK);
    assert_int_equal(secup_trust_add(t, k, "hmac", &err), SECUP_OK);
    return t;
}

void tu_every_change_refused(uint8_t *buf, size_t len, const struct secup_key *key,
                             tu_verify_fn verify)
{
    struct secup_err err;
    assert_int_equal(verify(secup_bytes_of(buf, len), key, &err), SECUP_OK);
    static const uint8_t masks[] = { 0x01, 0x20, 0x80 };
    for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
        for (size_t i = 0; i < len; i++) {
            buf[i] ^= masks[m];
            if (verify(secup_bytes_of(buf, len), key, &err) == SECUP_OK)
                fail_msg("byte %zu ^ 0x%02x and still accepted", i, masks[m]);
            buf[i] ^= masks[m];
        }
    }
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        assert_non_null(part);
        memcpy(part, buf, cut);
        assert_int_not_equal(verify(secup_bytes_of(part, cut), key, &err), SECUP_OK);
        free(part);
    }
    assert_int_equal(verify(secup_bytes_of(buf, len), key, &err), SECUP_OK);
}
