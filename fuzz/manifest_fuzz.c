/* Fuzz target: secup_manifest_decode() on bare SUIT_Manifest bytes (envelope key 3).
 *
 * Invariants: a refusal carries its code and message and leaves the model empty; an
 * accepted manifest stays inside its pools and points into the input; encoding it gives
 * bytes that decode again, and encoding those gives the same bytes once more. */
/* THREAT: P3 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static void encode(const struct secup_manifest *m, uint8_t **out, size_t *out_len,
                   const char *what)
{
    struct secup_err err;
    size_t need = 0;
    secup_rc rc = secup_manifest_encode(m, NULL, 0, &need, &err);
    if (rc != SECUP_E_BUF_SMALL && rc != SECUP_OK)
        fuzz_common_fail("%s: size query returned %s: %s", what, secup_rc_name(rc), err.msg);
    uint8_t *buf = malloc(need ? need : 1);
    if (!buf)
        fuzz_common_fail("%s: out of memory for %zu bytes", what, need);
    size_t len = 0;
    rc = secup_manifest_encode(m, buf, need, &len, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("%s: encoding into %zu bytes returned %s: %s", what, need,
                         secup_rc_name(rc), err.msg);
    if (len != need)
        fuzz_common_fail("%s: size query said %zu bytes, encoding wrote %zu", what, need, len);
    *out = buf;
    *out_len = len;
}

/* The name tables must answer for any code the decoder let through. */
static void touch_names(const struct secup_manifest *m)
{
    volatile size_t total = 0; /* keeps the look-ups from being optimised away */
    for (uint32_t i = 0; i < m->n_commands; i++) {
        const char *name = secup_command_name(m->commands[i].code);
        total += name ? strlen(name) : 0;
    }
    for (uint32_t i = 0; i < m->n_params; i++) {
        const char *name = secup_param_name(m->params[i].key);
        total += name ? strlen(name) : 0;
    }
    (void)total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct secup_manifest *m = malloc(sizeof(*m));
    struct secup_manifest *again = malloc(sizeof(*again));
    uint8_t *enc1 = NULL;
    uint8_t *enc2 = NULL;
    size_t len1 = 0;
    size_t len2 = 0;
    struct secup_err err;
    if (!m || !again)
        fuzz_common_fail("out of memory for the manifest models");

    struct secup_bytes in = secup_bytes_of(data, size);
    secup_rc rc = secup_manifest_decode(m, in, NULL, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_manifest_decode");
        if (m->n_commands != 0 || m->n_components != 0 || m->n_seqs != 0)
            fuzz_common_fail("a refused manifest left a partly filled model behind");
        goto out;
    }
    fuzz_common_check_manifest(m, in);
    touch_names(m);

    encode(m, &enc1, &len1, "first encoding");
    rc = secup_manifest_decode(again, secup_bytes_of(enc1, len1), NULL, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("the re-encoded manifest (%zu bytes) does not decode: %s [%s]", len1,
                         err.msg, secup_rc_name(rc));
    fuzz_common_check_manifest(again, secup_bytes_of(enc1, len1));
    encode(again, &enc2, &len2, "second encoding");
    if (len1 != len2 || memcmp(enc1, enc2, len1) != 0)
        fuzz_common_fail("encode(decode(x)) is not a fixed point: %zu bytes, then %zu bytes",
                         len1, len2);

out:
    free(enc2);
    free(enc1);
    free(again);
    free(m);
    return 0;
}
