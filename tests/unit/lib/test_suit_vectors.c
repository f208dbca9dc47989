/* Every SUIT envelope of tests/vectors/suit decodes, verifies with its key and re-encodes
 * to the same bytes; every single-byte change and every truncation is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

enum signer { BY_EXAMPLE, BY_HMAC, BY_DEPENDENT, UNSIGNED };

struct vector {
    const char *file;
    enum signer signer;
    uint64_t seq;
    uint32_t components;
};

static const struct vector vectors[] = {
    { "manifest37-ex0-signed.cbor", BY_EXAMPLE, 0, 1 },
    { "manifest37-ex0-unsigned.cbor", UNSIGNED, 0, 1 },
    { "manifest37-ex1-signed.cbor", BY_EXAMPLE, 1, 1 },
    { "manifest37-ex1-unsigned.cbor", UNSIGNED, 1, 1 },
    { "manifest37-ex2-signed.cbor", BY_EXAMPLE, 2, 1 },
    { "manifest37-ex2-severed-signed.cbor", BY_EXAMPLE, 2, 1 },
    { "manifest37-ex2-severed-unsigned.cbor", UNSIGNED, 2, 1 },
    { "manifest37-ex3-signed.cbor", BY_EXAMPLE, 3, 1 },
    { "manifest37-ex3-unsigned.cbor", UNSIGNED, 3, 1 },
    { "manifest37-ex4-signed.cbor", BY_EXAMPLE, 4, 3 },
    { "manifest37-ex4-unsigned.cbor", UNSIGNED, 4, 3 },
    { "manifest37-ex5-signed.cbor", BY_EXAMPLE, 5, 2 },
    { "manifest37-ex5-unsigned.cbor", UNSIGNED, 5, 2 },
    { "enc-manifest-aes-kw-content.cbor", BY_HMAC, 1, 1 },
    { "enc-manifest-aes-kw.cbor", BY_HMAC, 1, 2 },
    { "enc-manifest-aes-kw-slot.cbor", BY_HMAC, 1, 2 },
    { "enc-manifest-es-ecdh-content.cbor", BY_EXAMPLE, 1, 1 },
    { "enc-manifest-es-ecdh-dependency.cbor", BY_DEPENDENT, 1, 1 },
};

struct fixture {
    struct secup_trust *example_and_hmac;
    struct secup_trust *dependent;
    struct secup_envelope *env;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->example_and_hmac = tu_vector_trust();
    fx->dependent = tu_trust(VECTORS "keys/enc-dependent-signer-p256-private.pem", NULL);
    fx->env = malloc(sizeof(*fx->env));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    secup_trust_free(fx->example_and_hmac);
    secup_trust_free(fx->dependent);
    free(fx->env);
    free(fx);
    return 0;
}

static const struct secup_trust *trust_for(const struct fixture *fx, enum signer s)
{
    return s == BY_DEPENDENT ? fx->dependent : fx->example_and_hmac;
}

static void test_vectors_decode_verify_and_reencode_identically(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
        const struct vector *v = &vectors[i];
        char path[256];
        snprintf(path, sizeof(path), VECTORS "%s", v->file);
        size_t len = 0;
        uint8_t *in = tu_read(path, &len);
        struct secup_err err;
        secup_rc rc = secup_envelope_decode(fx->env, secup_bytes_of(in, len), NULL, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: decode: %s [%s]", v->file, err.msg, secup_rc_name(rc));
        assert_int_equal(fx->env->manifest.sequence_number, v->seq);
        assert_int_equal(fx->env->manifest.n_components, v->components);

        struct secup_verify_info info;
        rc = secup_envelope_verify(fx->env, trust_for(fx, v->signer), &info, &err);
        if (v->signer == UNSIGNED) {
            assert_int_equal(rc, SECUP_E_UNSIGNED);
        } else if (rc != SECUP_OK) {
            fail_msg("%s: verify: %s [%s]", v->file, err.msg, secup_rc_name(rc));
        }
        /* The wrong trust store never accepts. */
        if (v->signer == BY_DEPENDENT || v->signer == BY_EXAMPLE) {
            const struct secup_trust *other =
                v->signer == BY_DEPENDENT ? fx->example_and_hmac : fx->dependent;
            assert_int_not_equal(secup_envelope_verify(fx->env, other, NULL, &err), SECUP_OK);
        }

        size_t out_len = 0;
        rc = secup_envelope_encode(fx->env, NULL, 0, &out_len, &err);
        assert_int_equal(rc, SECUP_E_BUF_SMALL);
        assert_int_equal(out_len, len);
        uint8_t *out = malloc(out_len);
        rc = secup_envelope_encode(fx->env, out, out_len, &out_len, &err);
        assert_int_equal(rc, SECUP_OK);
        if (memcmp(out, in, len) != 0)
            fail_msg("%s: re-encoding differs", v->file);
        free(out);
        free(in);
    }
}

static void test_vectors_integrated_dependency_verifies_with_its_own_signer(void **state)
{
    struct fixture *fx = *state;
    size_t len = 0;
    uint8_t *in = tu_read(VECTORS "enc-manifest-es-ecdh-dependency.cbor", &len);
    struct secup_err err;
    assert_int_equal(secup_envelope_decode(fx->env, secup_bytes_of(in, len), NULL, &err), SECUP_OK);
    assert_int_equal(fx->env->manifest.n_dependencies, 1);
    assert_int_equal(fx->env->n_integrated, 1);
    struct secup_bytes dep;
    assert_true(secup_envelope_find_integrated(
        fx->env, secup_bytes_of("#dependency-manifest", 20), &dep));
    struct secup_envelope *inner = malloc(sizeof(*inner));
    assert_int_equal(secup_envelope_decode(inner, dep, NULL, &err), SECUP_OK);
    assert_int_equal(secup_envelope_verify(inner, fx->example_and_hmac, NULL, &err), SECUP_OK);
    assert_int_equal(secup_envelope_verify(inner, fx->dependent, NULL, &err), SECUP_E_SIG);
    free(inner);
    free(in);
}

static void test_vectors_severed_text_is_bound_by_digest(void **state)
{
    struct fixture *fx = *state;
    size_t len = 0;
    uint8_t *in = tu_read(VECTORS "manifest37-ex2-signed.cbor", &len);
    struct secup_err err;
    assert_int_equal(secup_envelope_decode(fx->env, secup_bytes_of(in, len), NULL, &err), SECUP_OK);
    const struct secup_member *text = &fx->env->manifest.members[SECUP_SECTION_TEXT];
    assert_int_equal(text->state, SECUP_MEMBER_SEVERED);
    assert_true(text->available);
    assert_true(fx->env->manifest.n_text > 0);
    free(in);

    in = tu_read(VECTORS "manifest37-ex2-severed-signed.cbor", &len);
    assert_int_equal(secup_envelope_decode(fx->env, secup_bytes_of(in, len), NULL, &err), SECUP_OK);
    text = &fx->env->manifest.members[SECUP_SECTION_TEXT];
    assert_int_equal(text->state, SECUP_MEMBER_SEVERED);
    assert_false(text->available);
    assert_int_equal(fx->env->manifest.n_text, 0);
    free(in);
}

/* An envelope is accepted when it verifies and every integrated dependency in it decodes
 * and verifies with the example key (the signer of the dependency vector's dependency). */
static secup_rc accept(struct fixture *fx, const struct vector *v, struct secup_bytes in)
{
    struct secup_err err;
    secup_rc rc = secup_envelope_decode(fx->env, in, NULL, &err);
    if (rc == SECUP_OK)
        rc = secup_envelope_verify(fx->env, trust_for(fx, v->signer), NULL, &err);
    for (uint32_t i = 0; rc == SECUP_OK && i < fx->env->n_integrated; i++) {
        struct secup_envelope *inner = malloc(sizeof(*inner));
        rc = secup_envelope_decode(inner, fx->env->integrated[i].data, NULL, &err);
        if (rc == SECUP_OK)
            rc = secup_envelope_verify(inner, fx->example_and_hmac, NULL, &err);
        free(inner);
    }
    return rc;
}

/* Every changed byte of every signed vector is refused: by the decoder, by the digest,
 * or by the signature. Never accepted, never a crash. */
static void test_vectors_any_flipped_byte_is_refused(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
        const struct vector *v = &vectors[i];
        if (v->signer == UNSIGNED)
            continue;
        char path[256];
        snprintf(path, sizeof(path), VECTORS "%s", v->file);
        size_t len = 0;
        uint8_t *in = tu_read(path, &len);
        for (size_t pos = 0; pos < len; pos++) {
            for (unsigned mask = 0x01; mask <= 0x80; mask <<= 7) {
                in[pos] ^= (uint8_t)mask;
                secup_rc rc = accept(fx, v, secup_bytes_of(in, len));
                if (rc == SECUP_OK)
                    fail_msg("%s: byte %zu ^ 0x%02x accepted", v->file, pos, mask);
                in[pos] ^= (uint8_t)mask;
            }
        }
        free(in);
    }
}

static void test_vectors_every_truncation_is_refused(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
        char path[256];
        snprintf(path, sizeof(path), VECTORS "%s", vectors[i].file);
        size_t len = 0;
        uint8_t *in = tu_read(path, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* a fresh allocation of exactly `cut` bytes, so ASan sees any over-read */
            uint8_t *part = malloc(cut ? cut : 1);
            memcpy(part, in, cut);
            struct secup_err err;
            secup_rc rc = secup_envelope_decode(fx->env, secup_bytes_of(part, cut), NULL, &err);
            if (rc == SECUP_OK)
                fail_msg("%s: truncation to %zu bytes decoded", vectors[i].file, cut);
            assert_true(rc >= 200 && rc < 400);
            free(part);
        }
        free(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_decode_verify_and_reencode_identically),
        cmocka_unit_test(test_vectors_integrated_dependency_verifies_with_its_own_signer),
        cmocka_unit_test(test_vectors_severed_text_is_bound_by_digest),
        cmocka_unit_test(test_vectors_any_flipped_byte_is_refused),
        cmocka_unit_test(test_vectors_every_truncation_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
