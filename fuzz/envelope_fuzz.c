/* Fuzz target: secup_envelope_decode() on arbitrary bytes.
 *
 * Invariants checked for every input:
 *  - a refusal carries a 2xx-4xx code with its message in err, and leaves no views behind;
 *  - an accepted envelope's model stays inside its pools and points into the input;
 *  - encode(decode(x)) decodes again, and encoding that once more gives the same bytes:
 *    the encoder's output is a fixed point (secup/manifest.h). */
/* THREAT: P3 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

/* Encodes env with a size query first, as callers do. Ownership: *out is freed with free(). */
static void encode(const struct secup_envelope *env, uint8_t **out, size_t *out_len,
                   const char *what)
{
    struct secup_err err;
    size_t need = 0;
    secup_rc rc = secup_envelope_encode(env, NULL, 0, &need, &err);
    if (rc != SECUP_E_BUF_SMALL && rc != SECUP_OK)
        fuzz_common_fail("%s: size query returned %s: %s", what, secup_rc_name(rc), err.msg);
    if (need == 0)
        fuzz_common_fail("%s: size query gave 0 bytes", what);
    uint8_t *buf = malloc(need);
    if (!buf)
        fuzz_common_fail("%s: out of memory for %zu bytes", what, need);
    size_t len = 0;
    rc = secup_envelope_encode(env, buf, need, &len, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("%s: encoding into %zu bytes returned %s: %s", what, need,
                         secup_rc_name(rc), err.msg);
    if (len != need)
        fuzz_common_fail("%s: size query said %zu bytes, encoding wrote %zu", what, need, len);
    *out = buf;
    *out_len = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct secup_envelope *env = malloc(sizeof(*env));
    struct secup_envelope *again = malloc(sizeof(*again));
    uint8_t *enc1 = NULL;
    uint8_t *enc2 = NULL;
    size_t len1 = 0;
    size_t len2 = 0;
    struct secup_err err;
    if (!env || !again)
        fuzz_common_fail("out of memory for the envelope models");

    struct secup_bytes in = secup_bytes_of(data, size);
    secup_rc rc = secup_envelope_decode(env, in, NULL, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_envelope_decode");
        if (env->n_auth != 0 || env->manifest_bytes.ptr || env->manifest.n_commands != 0)
            fuzz_common_fail("a refused envelope left a partly filled model behind");
        goto out;
    }
    fuzz_common_check_envelope(env, in);

    encode(env, &enc1, &len1, "first encoding");
    rc = secup_envelope_decode(again, secup_bytes_of(enc1, len1), NULL, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("the re-encoded envelope (%zu bytes) does not decode: %s [%s]", len1,
                         err.msg, secup_rc_name(rc));
    fuzz_common_check_envelope(again, secup_bytes_of(enc1, len1));
    encode(again, &enc2, &len2, "second encoding");
    if (len1 != len2 || memcmp(enc1, enc2, len1) != 0)
        fuzz_common_fail("encode(decode(x)) is not a fixed point: %zu bytes, then %zu bytes",
                         len1, len2);

out:
    free(enc2);
    free(enc1);
    free(again);
    free(env);
    return 0;
}
