/* Counting signers and co-signing (lib/suit/auth.c; THREATS.md T10):
 * secup_envelope_verify_signers() sets one bit per trust key that verified a block, so a
 * key whose signature appears twice counts once and a stranger's block counts not at all;
 * secup_envelope_cosign() adds blocks without touching the manifest, its digest, the
 * existing blocks (integrated payloads: tests/threats/test_author.sh), and refuses a manifest that no longer matches
 * its digest and an envelope that would exceed SECUP_MAX_AUTH blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "secup/secup.h"

enum { K_A, K_B, K_C, K_P256, K_N };
static struct secup_key *keys[K_N];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < K_N; i++) {
        if (secup_key_generate(&keys[i], i == K_P256 ? SECUP_KEY_P256 : SECUP_KEY_ED25519, NULL) != SECUP_OK)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < K_N; i++)
        secup_key_free(keys[i]);
    return 0;
}

/* A minimal manifest of one component, sealed with the given keys. */
static void seal(const int *ks, size_t n, uint8_t **out, size_t *len)
{
    static struct secup_manifest m;
    static const uint8_t part[] = { 'f', 'w' };
    struct secup_component_id id = { 1, { { part, sizeof(part) } } };
    secup_manifest_init(&m);
    m.sequence_number = 7;
    assert_int_equal(secup_manifest_add_component(&m, &id, NULL), SECUP_OK);
    const struct secup_key *k[SECUP_MAX_AUTH];
    for (size_t i = 0; i < n; i++)
        k[i] = keys[ks[i]];
    struct secup_seal_opts so = { false, NULL, 0 };
    struct secup_err err;
    secup_rc rc = secup_envelope_seal(&m, k, n, &so, out, len, &err);
    if (rc != SECUP_OK)
        fail_msg("seal: %s", err.msg);
}

/* A trust store of public copies of the listed keys, in that order. */
static struct secup_trust *trust_of(const int *ks, size_t n)
{
    struct secup_trust *t = NULL;
    assert_int_equal(secup_trust_new(&t, NULL), SECUP_OK);
    for (size_t i = 0; i < n; i++) {
        char path[] = "/tmp/secup-cosign-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        struct secup_key *pub = NULL;
        assert_int_equal(secup_key_save_public(keys[ks[i]], path, NULL), SECUP_OK);
        assert_int_equal(secup_key_load_pem(&pub, path, NULL), SECUP_OK);
        unlink(path);
        assert_int_equal(secup_trust_add(t, pub, "k", NULL), SECUP_OK);
    }
    return t;
}

static uint32_t signers_of(const uint8_t *buf, size_t len, const struct secup_trust *t, secup_rc want)
{
    static struct secup_envelope env;
    assert_int_equal(secup_envelope_decode(&env, secup_bytes_of(buf, len), NULL, NULL), SECUP_OK);
    uint32_t mask = 0xdead;
    struct secup_err err;
    assert_int_equal(secup_envelope_verify_signers(&env, t, &mask, NULL, &err), want);
    return mask;
}

static void test_signers_are_counted_once_per_key(void **state)
{
    (void)state;
    uint8_t *e = NULL;
    size_t n = 0;
    /* THREAT: T10 */
    seal((const int[]){ K_A, K_A, K_C }, 3, &e, &n);
    struct secup_trust *t = trust_of((const int[]){ K_A, K_B, K_C }, 3);
    assert_int_equal(signers_of(e, n, t, SECUP_OK), 0x5); /* A once, C; not B */
    secup_trust_free(t);
    t = trust_of((const int[]){ K_B, K_P256 }, 2);
    assert_int_equal(signers_of(e, n, t, SECUP_E_SIG), 0); /* none of the signers trusted */
    secup_trust_free(t);
    secup_buffer_free(e);
}

static void test_cosign_keeps_the_manifest_and_adds_a_signer(void **state)
{
    (void)state;
    uint8_t *e = NULL;
    size_t n = 0;
    seal((const int[]){ K_A }, 1, &e, &n);
    uint8_t *c = NULL;
    size_t cn = 0;
    struct secup_err err;
    const struct secup_key *add[] = { keys[K_B], keys[K_P256] };
    /* THREAT: T10 co-signing */
    assert_int_equal(secup_envelope_cosign(secup_bytes_of(e, n), NULL, add, 2, &c, &cn, &err), SECUP_OK);
    static struct secup_envelope before, after;
    assert_int_equal(secup_envelope_decode(&before, secup_bytes_of(e, n), NULL, NULL), SECUP_OK);
    assert_int_equal(secup_envelope_decode(&after, secup_bytes_of(c, cn), NULL, NULL), SECUP_OK);
    assert_true(secup_bytes_equal(before.manifest_wrapped, after.manifest_wrapped));
    assert_true(secup_bytes_equal(before.digest_bstr, after.digest_bstr));
    assert_int_equal(after.n_auth, 3);
    assert_true(secup_bytes_equal(before.auth[0].tag, after.auth[0].tag));
    struct secup_trust *t = trust_of((const int[]){ K_A, K_B, K_C, K_P256 }, 4);
    assert_int_equal(signers_of(c, cn, t, SECUP_OK), 0xb); /* A, B, P-256 */
    secup_trust_free(t);

    /* one more makes 4 blocks: allowed; a fifth is not */
    uint8_t *c2 = NULL;
    size_t c2n = 0;
    const struct secup_key *one[] = { keys[K_C] };
    assert_int_equal(secup_envelope_cosign(secup_bytes_of(c, cn), NULL, one, 1, &c2, &c2n, &err), SECUP_OK);
    uint8_t *c3 = NULL;
    size_t c3n = 0;
    assert_int_equal(secup_envelope_cosign(secup_bytes_of(c2, c2n), NULL, one, 1, &c3, &c3n, &err),
                     SECUP_E_LIMIT_AUTH);
    assert_null(c3);
    assert_int_equal(secup_envelope_cosign(secup_bytes_of(c2, c2n), NULL, one, 0, &c3, &c3n, &err), SECUP_E_ARG);
    secup_buffer_free(c2);
    secup_buffer_free(c);
    secup_buffer_free(e);
}

static void test_cosign_refuses_a_changed_manifest(void **state)
{
    (void)state;
    uint8_t *e = NULL;
    size_t n = 0;
    seal((const int[]){ K_A }, 1, &e, &n);
    static struct secup_envelope env;
    assert_int_equal(secup_envelope_decode(&env, secup_bytes_of(e, n), NULL, NULL), SECUP_OK);
    /* THREAT: C13 the sequence number's byte inside the manifest: 7 becomes 6 */
    size_t off = (size_t)(env.manifest_bytes.ptr - e);
    size_t i;
    for (i = off; i < off + env.manifest_bytes.len - 1; i++) {
        if (e[i] == 0x02 && e[i + 1] == 0x07) /* key 2 (sequence-number): 7 */
            break;
    }
    assert_true(i < off + env.manifest_bytes.len - 1);
    e[i + 1] = 0x06;
    uint8_t *c = NULL;
    size_t cn = 0;
    struct secup_err err;
    const struct secup_key *add[] = { keys[K_B] };
    assert_int_equal(secup_envelope_cosign(secup_bytes_of(e, n), NULL, add, 1, &c, &cn, &err), SECUP_E_DIGEST);
    assert_null(c);
    assert_non_null(strstr(err.msg, "does not match the digest"));
    secup_buffer_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signers_are_counted_once_per_key),
        cmocka_unit_test(test_cosign_keeps_the_manifest_and_adds_a_signer),
        cmocka_unit_test(test_cosign_refuses_a_changed_manifest),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
