/* The author-side path end to end: manifests built with the builder API of
 * include/secup/manifest.h, sealed by secup_envelope_seal() (lib/suit/auth.c) with P-256,
 * Ed25519 and HMAC keys, decoded, verified, and judged by secup_policy_check()
 * (lib/suit/policy.c). Also: deterministic encoding, byte-identical re-encoding, bit flips,
 * and the allocation-failure sweep of STYLE.md section 9.6.
 *
 * tests/support/alloc_fail.c (in the test support library) replaces the weak
 * secup_alloc_should_fail() of lib/util/alloc.c; disarmed, it never fails. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "cbor/codec.h"
#include "crypto/crypto.h"
#include "testutil.h"

enum signer { K_P256, K_ED, K_HMAC, K_P256_OTHER, K_ED_OTHER, K_HMAC_OTHER, K_X25519, K_COUNT };

struct fixture {
    struct secup_key *keys[K_COUNT];
    uint8_t *pub_pem[K_COUNT]; /* SPKI PEM text of the asymmetric keys */
    size_t pub_pem_len[K_COUNT];
    uint8_t secret[2][32]; /* K_HMAC, K_HMAC_OTHER */
    uint8_t vendor[16];
    uint8_t cls[16];
    uint8_t other_vendor[16];
    uint8_t other_cls[16];
    uint8_t image_digest[48]; /* encoded SUIT_Digest of the image */
    size_t image_digest_len;
    struct secup_manifest *m;
    struct secup_envelope *env;
    uint8_t *sealed; /* the last envelope sealed by seal_or_fail() */
    size_t sealed_len;
};

static const uint8_t part_flash[] = {'f', 'l', 'a', 's', 'h'};
static const uint8_t part_zero[] = {0x00};
static const uint8_t part_one[] = {0x01};
static const char uri_fw[] = "#firmware";

/* ---- fixture ---- */

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    /* Public keys go through PEM files once, as a device would load them, and are then kept
     * as text: nothing stays on disk if a test aborts. */
    char dir[] = "/tmp/secup-test-build-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    static const enum secup_key_type types[K_COUNT] = {
        [K_P256] = SECUP_KEY_P256,       [K_ED] = SECUP_KEY_ED25519,
        [K_P256_OTHER] = SECUP_KEY_P256, [K_ED_OTHER] = SECUP_KEY_ED25519,
        [K_X25519] = SECUP_KEY_X25519,   [K_HMAC] = SECUP_KEY_HMAC,
        [K_HMAC_OTHER] = SECUP_KEY_HMAC,
    };
    for (int k = 0; k < K_COUNT; k++) {
        secup_rc rc;
        if (types[k] == SECUP_KEY_HMAC) {
            uint8_t *s = fx->secret[k == K_HMAC ? 0 : 1];
            memset(s, k == K_HMAC ? 0x11 : 0x22, 32);
            rc = secup_key_from_secret(&fx->keys[k], secup_bytes_of(s, 32), NULL);
        } else {
            rc = secup_key_generate(&fx->keys[k], types[k], NULL);
            char path[sizeof(dir) + 32];
            snprintf(path, sizeof(path), "%s/key%d.pub.pem", dir, k);
            if (rc == SECUP_OK)
                rc = secup_key_save_public(fx->keys[k], path, NULL);
            if (rc == SECUP_OK)
                rc = secup_file_read(path, 64 * 1024, &fx->pub_pem[k], &fx->pub_pem_len[k], NULL);
            unlink(path);
        }
        if (rc != SECUP_OK) {
            rmdir(dir);
            return -1;
        }
    }
    rmdir(dir);
    if (secup_vendor_id("secup.example", fx->vendor, NULL) != SECUP_OK ||
        secup_class_id(fx->vendor, "test-board", fx->cls, NULL) != SECUP_OK ||
        secup_vendor_id("other.example", fx->other_vendor, NULL) != SECUP_OK ||
        secup_class_id(fx->vendor, "other-board", fx->other_cls, NULL) != SECUP_OK)
        return -1;
    uint8_t h[SECUP_SHA256_LEN];
    if (secup_crypto_sha256(secup_bytes_of("firmware image", 14), h, NULL) != SECUP_OK)
        return -1;
    struct secup_digest d = {SECUP_COSE_ALG_SHA256, secup_bytes_of(h, sizeof(h))};
    if (secup_digest_encode(&d, fx->image_digest, sizeof(fx->image_digest), &fx->image_digest_len,
                            NULL) != SECUP_OK)
        return -1;
    fx->m = malloc(sizeof(*fx->m));
    fx->env = malloc(sizeof(*fx->env));
    if (!fx->m || !fx->env)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    alloc_fail_reset();
    for (int k = 0; k < K_COUNT; k++) {
        secup_file_free(fx->pub_pem[k], fx->pub_pem_len[k]);
        secup_key_free(fx->keys[k]);
    }
    secup_buffer_free(fx->sealed);
    free(fx->env);
    free(fx->m);
    free(fx);
    return 0;
}

/* A public-only copy of an asymmetric key. */
static struct secup_key *pub_key(const struct fixture *fx, enum signer s)
{
    struct secup_key *k = NULL;
    assert_non_null(fx->pub_pem[s]);
    assert_int_equal(
        secup_key_parse_pem(&k, secup_bytes_of(fx->pub_pem[s], fx->pub_pem_len[s]), NULL),
        SECUP_OK);
    return k;
}

/* A trust store holding a fresh copy of each listed key (public part only for the
 * asymmetric ones), as a device would load them. */
static struct secup_trust *trust_of(const struct fixture *fx, const enum signer *ks, size_t n)
{
    struct secup_trust *t = NULL;
    assert_int_equal(secup_trust_new(&t, NULL), SECUP_OK);
    for (size_t i = 0; i < n; i++) {
        struct secup_key *k = NULL;
        if (ks[i] == K_HMAC || ks[i] == K_HMAC_OTHER)
            assert_int_equal(secup_key_from_secret(
                                 &k, secup_bytes_of(fx->secret[ks[i] == K_HMAC ? 0 : 1], 32), NULL),
                             SECUP_OK);
        else
            k = pub_key(fx, ks[i]);
        assert_false(ks[i] != K_HMAC && ks[i] != K_HMAC_OTHER && secup_key_has_private(k));
        assert_int_equal(secup_trust_add(t, k, "anchor", NULL), SECUP_OK);
    }
    return t;
}

#define TRUST(fx, ...)                                                                             \
    trust_of(fx, (const enum signer[]){__VA_ARGS__},                                               \
             sizeof((const enum signer[]){__VA_ARGS__}) / sizeof(enum signer))

/* ---- building manifests ---- */

enum {
    F_VENDOR_COND = 1 << 0,    /* shared sequence checks the vendor identifier */
    F_CLASS_COND = 1 << 1,     /* ... and the class identifier */
    F_TWO_COMPONENTS = 1 << 2, /* a second component ... */
    F_CHECK_SECOND = 1 << 3,   /* ... that the shared sequence checks as well */
    F_CONDS_FIRST = 1 << 4,    /* conditions before the parameters they check */
    F_SECOND_VENDOR = 1 << 5,  /* then checks another vendor identifier as well */
    F_DEFAULT = F_VENDOR_COND | F_CLASS_COND,
};

static struct secup_param bstr_param(int64_t key, const void *p, size_t len)
{
    struct secup_param prm;
    memset(&prm, 0, sizeof(prm));
    prm.key = key;
    prm.value.kind = SECUP_VAL_BSTR;
    prm.value.bytes = secup_bytes_of(p, len);
    return prm;
}

static struct secup_param uint_param(int64_t key, uint64_t v)
{
    struct secup_param prm;
    memset(&prm, 0, sizeof(prm));
    prm.key = key;
    prm.value.kind = SECUP_VAL_UINT;
    prm.value.u = v;
    return prm;
}

static struct secup_param tstr_param(int64_t key, const char *s)
{
    struct secup_param prm = bstr_param(key, s, strlen(s));
    prm.value.kind = SECUP_VAL_TSTR;
    return prm;
}

static void ok(secup_rc rc, const struct secup_err *err, const char *what)
{
    if (rc != SECUP_OK)
        fail_msg("%s: %s [%s]", what, err ? err->msg : "", secup_rc_name(rc));
}

static void check_component(struct secup_manifest *m, uint32_t seq, const uint8_t *vendor,
                            const uint8_t *cls, unsigned flags)
{
    struct secup_err err;
    struct secup_param p[2] = {bstr_param(SECUP_SUIT_PARAM_VENDOR_ID, vendor, 16),
                               bstr_param(SECUP_SUIT_PARAM_CLASS_ID, cls, 16)};
    if (!(flags & F_CONDS_FIRST))
        ok(secup_manifest_append_params(m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, 2, &err),
           &err, "override-parameters");
    if (flags & F_VENDOR_COND)
        ok(secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_VENDOR_ID, 15, &err), &err,
           "vendor condition");
    if (flags & F_CLASS_COND)
        ok(secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_CLASS_ID, 15, &err), &err,
           "class condition");
    if (flags & F_CONDS_FIRST)
        ok(secup_manifest_append_params(m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, 2, &err),
           &err, "override-parameters");
}

static void build(const struct fixture *fx, struct secup_manifest *m, const uint8_t *vendor,
                  const uint8_t *cls, uint64_t seq_nr, unsigned flags)
{
    struct secup_err err;
    secup_manifest_init(m);
    m->sequence_number = seq_nr;
    struct secup_component_id id = {2,
                                    {secup_bytes_of(part_flash, sizeof(part_flash)),
                                     secup_bytes_of(part_zero, sizeof(part_zero))}};
    ok(secup_manifest_add_component(m, &id, &err), &err, "component 0");
    if (flags & F_TWO_COMPONENTS) {
        id.parts[1] = secup_bytes_of(part_one, sizeof(part_one));
        ok(secup_manifest_add_component(m, &id, &err), &err, "component 1");
    }

    uint32_t shared = 0;
    ok(secup_manifest_begin_seq(m, &shared, &err), &err, "shared");
    check_component(m, shared, vendor, cls, flags);
    if (flags & F_SECOND_VENDOR)
        check_component(m, shared, fx->other_vendor, cls, F_VENDOR_COND);
    if ((flags & F_TWO_COMPONENTS) && (flags & F_CHECK_SECOND)) {
        ok(secup_manifest_append_index(m, shared, 1, &err), &err, "index 1");
        check_component(m, shared, vendor, cls, flags);
    }
    m->has_shared = true;
    m->shared_seq = shared;

    uint32_t install = 0;
    ok(secup_manifest_begin_seq(m, &install, &err), &err, "install");
    ok(secup_manifest_append_index(m, install, 0, &err), &err, "install index");
    struct secup_param p[3] = {
        bstr_param(SECUP_SUIT_PARAM_IMAGE_DIGEST, fx->image_digest, fx->image_digest_len),
        uint_param(SECUP_SUIT_PARAM_IMAGE_SIZE, 14),
        tstr_param(SECUP_SUIT_PARAM_URI, uri_fw),
    };
    ok(secup_manifest_append_params(m, install, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, 3, &err),
       &err, "install parameters");
    ok(secup_manifest_append_policy(m, install, SECUP_SUIT_DIR_FETCH, 2, &err), &err, "fetch");
    ok(secup_manifest_append_policy(m, install, SECUP_SUIT_COND_IMAGE_MATCH, 15, &err), &err,
       "image-match");
    m->members[SECUP_SECTION_INSTALL].state = SECUP_MEMBER_PRESENT;
    m->members[SECUP_SECTION_INSTALL].available = true;
    m->members[SECUP_SECTION_INSTALL].seq = install;

    ok(secup_manifest_add_text(m, secup_bytes_of("en", 2), NULL, 1,
                               secup_bytes_of("secup test firmware", 19), &err),
       &err, "text");
    ok(secup_manifest_add_text(m, secup_bytes_of("en", 2), &id, 3, secup_bytes_of("flash bank", 10),
                               &err),
       &err, "component text");
}

static void build_default(struct fixture *fx, uint64_t seq_nr)
{
    build(fx, fx->m, fx->vendor, fx->cls, seq_nr, F_DEFAULT);
}

/* Seals fx->m with the keys; the envelope stays in fx->sealed and is decoded into fx->env. */
static void seal_and_decode(struct fixture *fx, const enum signer *ks, size_t n,
                            const struct secup_seal_opts *opts)
{
    const struct secup_key *keys[SECUP_MAX_AUTH + 1];
    assert_true(n <= ARRAY_SIZE(keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = fx->keys[ks[i]];
    secup_buffer_free(fx->sealed);
    fx->sealed = NULL;
    struct secup_err err;
    ok(secup_envelope_seal(fx->m, keys, n, opts, &fx->sealed, &fx->sealed_len, &err), &err, "seal");
    ok(secup_envelope_decode(fx->env, secup_bytes_of(fx->sealed, fx->sealed_len), NULL, &err), &err,
       "decode of the sealed envelope");
}

#define SEAL(fx, opts, ...)                                                                        \
    seal_and_decode(fx, (const enum signer[]){__VA_ARGS__},                                        \
                    sizeof((const enum signer[]){__VA_ARGS__}) / sizeof(enum signer), opts)

static struct secup_device_policy device(const struct fixture *fx, uint64_t floor)
{
    struct secup_device_policy d;
    memcpy(d.vendor_id, fx->vendor, 16);
    memcpy(d.class_id, fx->cls, 16);
    d.sequence_floor = floor;
    return d;
}

/* ---- seal, decode, verify ---- */

static const struct {
    const char *what;
    enum signer signer;
    int64_t alg;
    enum secup_auth_type type;
} single[] = {
    {"P-256", K_P256, SECUP_COSE_ALG_ESP256, SECUP_AUTH_SIGN1},
    {"Ed25519", K_ED, SECUP_COSE_ALG_ED25519, SECUP_AUTH_SIGN1},
    {"HMAC", K_HMAC, SECUP_COSE_ALG_HMAC256, SECUP_AUTH_MAC0},
};

static void test_suit_build_sealed_with_each_key_type_decodes_and_verifies(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < ARRAY_SIZE(single); i++) {
        build_default(fx, 7);
        SEAL(fx, NULL, single[i].signer);
        assert_true(fx->env->tagged);
        assert_int_equal(fx->env->n_auth, 1);
        assert_int_equal(fx->env->auth[0].type, single[i].type);
        assert_int_equal(fx->env->auth[0].alg, single[i].alg);
        assert_false(fx->env->auth[0].has_payload);
        assert_int_equal(fx->env->manifest.sequence_number, 7);
        assert_int_equal(fx->env->manifest.n_components, 1);
        assert_int_equal(fx->env->manifest.n_text, 2);
        assert_int_equal(fx->env->manifest.members[SECUP_SECTION_INSTALL].state,
                         SECUP_MEMBER_PRESENT);

        struct secup_trust *t = trust_of(fx, &single[i].signer, 1);
        struct secup_verify_info info;
        struct secup_err err;
        secup_rc rc = secup_envelope_verify(fx->env, t, &info, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: verify: %s", single[i].what, err.msg);
        assert_int_equal(info.block, 0);
        assert_int_equal(info.anchor, 0);
        assert_int_equal(info.alg, single[i].alg);
        struct secup_device_policy dev = device(fx, 6);
        rc = secup_policy_check(fx->env, t, &dev, &info, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: policy: %s", single[i].what, err.msg);
        secup_trust_free(t);
    }
}

/* ---- the device's policy ---- */

enum dev_id { OWN, OTHER };
enum trust_set { TR_SIGNER, TR_OTHER_SAME_TYPE, TR_OTHER_TYPE, TR_EMPTY };

static const struct {
    const char *what;
    enum signer signer;
    unsigned flags;
    enum dev_id vendor;
    enum dev_id cls;
    uint64_t floor; /* the manifest's sequence number is 10 */
    enum trust_set trust;
    secup_rc want;
} decisions[] = {
    {"matching device", K_P256, F_DEFAULT, OWN, OWN, 9, TR_SIGNER, SECUP_OK},
    {"matching device, floor 0", K_ED, F_DEFAULT, OWN, OWN, 0, TR_SIGNER, SECUP_OK},
    {"matching device, MAC", K_HMAC, F_DEFAULT, OWN, OWN, 9, TR_SIGNER, SECUP_OK},
    {"wrong vendor", K_P256, F_DEFAULT, OTHER, OWN, 9, TR_SIGNER, SECUP_E_VENDOR},
    {"wrong class", K_P256, F_DEFAULT, OWN, OTHER, 9, TR_SIGNER, SECUP_E_CLASS},
    {"wrong vendor and class", K_ED, F_DEFAULT, OTHER, OTHER, 9, TR_SIGNER, SECUP_E_VENDOR},
    {"no class condition", K_P256, F_VENDOR_COND, OWN, OWN, 9, TR_SIGNER, SECUP_E_CLASS},
    {"no vendor condition", K_P256, F_CLASS_COND, OWN, OWN, 9, TR_SIGNER, SECUP_E_VENDOR},
    {"no condition at all", K_HMAC, 0, OWN, OWN, 9, TR_SIGNER, SECUP_E_VENDOR},
    {"conditions before the parameters", K_P256, F_DEFAULT | F_CONDS_FIRST, OWN, OWN, 9, TR_SIGNER,
     SECUP_E_VENDOR},
    {"second component never checked", K_P256, F_DEFAULT | F_TWO_COMPONENTS, OWN, OWN, 9, TR_SIGNER,
     SECUP_E_VENDOR},
    {"both components checked", K_P256, F_DEFAULT | F_TWO_COMPONENTS | F_CHECK_SECOND, OWN, OWN, 9,
     TR_SIGNER, SECUP_OK},
    {"sequence equal to the floor", K_P256, F_DEFAULT, OWN, OWN, 10, TR_SIGNER, SECUP_E_ROLLBACK},
    {"sequence below the floor", K_ED, F_DEFAULT, OWN, OWN, 11, TR_SIGNER, SECUP_E_ROLLBACK},
    {"sequence far below the floor", K_HMAC, F_DEFAULT, OWN, OWN, UINT64_MAX, TR_SIGNER,
     SECUP_E_ROLLBACK},
    {"untrusted P-256 signer", K_P256, F_DEFAULT, OWN, OWN, 9, TR_OTHER_SAME_TYPE, SECUP_E_SIG},
    {"untrusted Ed25519 signer", K_ED, F_DEFAULT, OWN, OWN, 9, TR_OTHER_SAME_TYPE, SECUP_E_SIG},
    {"MAC with another secret", K_HMAC, F_DEFAULT, OWN, OWN, 9, TR_OTHER_SAME_TYPE, SECUP_E_SIG},
    {"P-256 signer, only Ed25519 trusted", K_P256, F_DEFAULT, OWN, OWN, 9, TR_OTHER_TYPE,
     SECUP_E_KEY_UNKNOWN},
    {"Ed25519 signer, only P-256 trusted", K_ED, F_DEFAULT, OWN, OWN, 9, TR_OTHER_TYPE,
     SECUP_E_KEY_UNKNOWN},
    {"MAC, only P-256 trusted", K_HMAC, F_DEFAULT, OWN, OWN, 9, TR_OTHER_TYPE, SECUP_E_KEY_UNKNOWN},
    {"empty trust store", K_P256, F_DEFAULT, OWN, OWN, 9, TR_EMPTY, SECUP_E_KEY_UNKNOWN},
    /* Authenticity comes first: an untrusted manifest is refused as such even when it is
     * also for another device or older. */
    {"untrusted and wrong vendor", K_P256, F_DEFAULT, OTHER, OWN, 11, TR_OTHER_SAME_TYPE,
     SECUP_E_SIG},
};

static struct secup_trust *trust_for(const struct fixture *fx, enum signer s, enum trust_set t)
{
    switch (t) {
    case TR_SIGNER:
        return trust_of(fx, &s, 1);
    case TR_OTHER_SAME_TYPE: {
        enum signer o = s == K_P256 ? K_P256_OTHER : s == K_ED ? K_ED_OTHER : K_HMAC_OTHER;
        return trust_of(fx, &o, 1);
    }
    case TR_OTHER_TYPE: {
        enum signer o = s == K_P256 ? K_ED : K_P256;
        return trust_of(fx, &o, 1);
    }
    case TR_EMPTY:
        break;
    }
    return trust_of(fx, NULL, 0);
}

static void
test_suit_build_policy_check_accepts_only_a_matching_newer_trusted_manifest(void **state)
{
    struct fixture *fx = *state;
    size_t failed = 0;
    for (size_t i = 0; i < ARRAY_SIZE(decisions); i++) {
        build(fx, fx->m, fx->vendor, fx->cls, 10, decisions[i].flags);
        SEAL(fx, NULL, decisions[i].signer);
        struct secup_trust *t = trust_for(fx, decisions[i].signer, decisions[i].trust);
        struct secup_device_policy dev = device(fx, decisions[i].floor);
        if (decisions[i].vendor == OTHER)
            memcpy(dev.vendor_id, fx->other_vendor, 16);
        if (decisions[i].cls == OTHER)
            memcpy(dev.class_id, fx->other_cls, 16);
        struct secup_err err;
        secup_err_clear(&err);
        secup_rc rc = secup_policy_check(fx->env, t, &dev, NULL, &err);
        if (rc != decisions[i].want) {
            print_error("  %s: got %s (%s), expected %s\n", decisions[i].what, secup_rc_name(rc),
                        err.msg, secup_rc_name(decisions[i].want));
            failed++;
        } else if (rc != SECUP_OK && err.rc != rc) {
            print_error("  %s: error detail holds %s\n", decisions[i].what, secup_rc_name(err.rc));
            failed++;
        }
        secup_trust_free(t);
    }
    if (failed)
        fail_msg("%zu of %zu decisions wrong (listed above)", failed, ARRAY_SIZE(decisions));
}

/* The audience of a manifest is what its conditions check, for each component. */
static void test_suit_build_audience_gives_the_checked_vendor_and_class(void **state)
{
    struct fixture *fx = *state;
    struct secup_err err;
    uint8_t v[16], c[16];

    build(fx, fx->m, fx->vendor, fx->cls, 3, F_DEFAULT | F_TWO_COMPONENTS | F_CHECK_SECOND);
    ok(secup_manifest_audience(fx->m, 1, v, c, &err), &err, "audience of component 1");
    assert_memory_equal(v, fx->vendor, 16);
    assert_memory_equal(c, fx->cls, 16);

    build(fx, fx->m, fx->vendor, fx->cls, 3, F_CLASS_COND);
    assert_int_equal(secup_manifest_audience(fx->m, 0, v, c, &err), SECUP_E_VENDOR);
    build(fx, fx->m, fx->vendor, fx->cls, 3, F_VENDOR_COND);
    assert_int_equal(secup_manifest_audience(fx->m, 0, v, c, &err), SECUP_E_CLASS);
    build(fx, fx->m, fx->vendor, fx->cls, 3, F_DEFAULT);
    assert_int_equal(secup_manifest_audience(fx->m, 5, v, c, &err), SECUP_E_VALUE);
    /* only component 0 is checked: component 1 has no audience */
    build(fx, fx->m, fx->vendor, fx->cls, 3, F_DEFAULT | F_TWO_COMPONENTS);
    assert_int_equal(secup_manifest_audience(fx->m, 1, v, c, &err), SECUP_E_VENDOR);

    /* a second vendor check of another value in the same sequence */
    build(fx, fx->m, fx->vendor, fx->cls, 3, F_DEFAULT | F_SECOND_VENDOR);
    assert_int_equal(secup_manifest_audience(fx->m, 0, v, c, &err), SECUP_E_VALUE);
    assert_int_equal(err.rc, SECUP_E_VALUE);
}

/* An envelope with the digest but no authentication block. */
static void test_suit_build_unsigned_envelope_is_refused_as_unsigned(void **state)
{
    struct fixture *fx = *state;
    build_default(fx, 10);
    SEAL(fx, NULL, K_P256);
    struct secup_envelope *bare = malloc(sizeof(*bare));
    assert_non_null(bare);
    memcpy(bare, fx->env, sizeof(*bare));
    bare->n_auth = 0;
    size_t len = 0;
    assert_int_equal(secup_envelope_encode(bare, NULL, 0, &len, NULL), SECUP_E_BUF_SMALL);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(secup_envelope_encode(bare, buf, len, &len, NULL), SECUP_OK);
    assert_int_equal(secup_envelope_decode(bare, secup_bytes_of(buf, len), NULL, NULL), SECUP_OK);
    assert_int_equal(bare->n_auth, 0);

    struct secup_trust *t = TRUST(fx, K_P256, K_ED, K_HMAC);
    struct secup_device_policy dev = device(fx, 9);
    assert_int_equal(secup_envelope_verify(bare, t, NULL, NULL), SECUP_E_UNSIGNED);
    assert_int_equal(secup_policy_check(bare, t, &dev, NULL, NULL), SECUP_E_UNSIGNED);
    secup_trust_free(t);
    free(buf);
    free(bare);
}

/* ---- several signatures ---- */

static void test_suit_build_two_signatures_verify_with_either_anchor_alone(void **state)
{
    struct fixture *fx = *state;
    build_default(fx, 3);
    SEAL(fx, NULL, K_P256, K_ED);
    assert_int_equal(fx->env->n_auth, 2);
    assert_int_equal(fx->env->auth[0].alg, SECUP_COSE_ALG_ESP256);
    assert_int_equal(fx->env->auth[1].alg, SECUP_COSE_ALG_ED25519);

    static const struct {
        const char *what;
        enum signer anchor;
        secup_rc want;
        size_t block;
    } cases[] = {
        {"P-256 anchor", K_P256, SECUP_OK, 0},
        {"Ed25519 anchor", K_ED, SECUP_OK, 1},
        {"other P-256 anchor", K_P256_OTHER, SECUP_E_SIG, 0},
        {"other Ed25519 anchor", K_ED_OTHER, SECUP_E_SIG, 0},
        {"HMAC anchor", K_HMAC, SECUP_E_KEY_UNKNOWN, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct secup_trust *t = trust_of(fx, &cases[i].anchor, 1);
        struct secup_verify_info info;
        secup_rc rc = secup_envelope_verify(fx->env, t, &info, NULL);
        if (rc != cases[i].want)
            fail_msg("%s: %s", cases[i].what, secup_rc_name(rc));
        if (rc == SECUP_OK)
            assert_int_equal(info.block, cases[i].block);
        secup_trust_free(t);
    }
    /* The untrusted key listed first does not hide the trusted one after it. */
    struct secup_trust *t = TRUST(fx, K_P256_OTHER, K_ED_OTHER, K_HMAC, K_ED);
    struct secup_verify_info info;
    assert_int_equal(secup_envelope_verify(fx->env, t, &info, NULL), SECUP_OK);
    assert_int_equal(info.block, 1);
    assert_int_equal(info.anchor, 3);
    secup_trust_free(t);
}

static void test_suit_build_three_signers_each_verify_alone(void **state)
{
    struct fixture *fx = *state;
    build_default(fx, 3);
    SEAL(fx, NULL, K_HMAC, K_ED, K_P256);
    assert_int_equal(fx->env->n_auth, 3);
    assert_int_equal(fx->env->auth[0].type, SECUP_AUTH_MAC0);
    static const enum signer anchors[] = {K_HMAC, K_ED, K_P256};
    for (size_t i = 0; i < ARRAY_SIZE(anchors); i++) {
        struct secup_trust *t = trust_of(fx, &anchors[i], 1);
        struct secup_verify_info info;
        assert_int_equal(secup_envelope_verify(fx->env, t, &info, NULL), SECUP_OK);
        assert_int_equal(info.block, i);
        secup_trust_free(t);
    }
}

/* Authentication blocks are not covered by any signature: anyone on the path can add one.
 * A block that cannot be verified must therefore never hide a valid, trusted one. */
static void test_suit_build_unverifiable_block_before_a_valid_one_does_not_hide_it(void **state)
{
    struct fixture *fx = *state;
    build_default(fx, 3);
    SEAL(fx, NULL, K_P256);
    assert_int_equal(fx->env->n_auth, 1);

    static uint8_t big_hdr[1200];
    static const uint8_t zeros[1100];
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, big_hdr, sizeof(big_hdr));
    secup_cbor_put_map(&w, 2);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_int(&w, SECUP_COSE_ALG_ESP256);
    secup_cbor_put_int(&w, -65537); /* a private-use label the verifier skips */
    secup_cbor_put_bstr(&w, secup_bytes_of(zeros, sizeof(zeros)));
    assert_int_equal(secup_cbor_writer_finish(&w, NULL), SECUP_OK);
    static const uint8_t es384_hdr[] = {0xa1, 0x01, 0x38, 0x22}; /* {1: -35} */
    static const uint8_t esp256_hdr[] = {0xa1, 0x01, 0x28};      /* {1: -9} */
    static const uint8_t sig[64] = {1};
    static const uint8_t other_payload[] = {0x40};

    const struct {
        const char *what;
        struct secup_bytes protected_hdr;
        bool has_payload;
    } junk[] = {
        {"unsupported algorithm", {es384_hdr, sizeof(es384_hdr)}, false},
        {"signature that does not verify", {esp256_hdr, sizeof(esp256_hdr)}, false},
        {"signature over another payload", {esp256_hdr, sizeof(esp256_hdr)}, true},
        {"protected header too large for the Sig_structure", {big_hdr, w.len}, false},
    };
    struct secup_trust *t = TRUST(fx, K_P256);
    struct secup_envelope *e = malloc(sizeof(*e));
    assert_non_null(e);
    size_t failed = 0;
    for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
        memcpy(e, fx->env, sizeof(*e));
        e->auth[1] = e->auth[0];
        memset(&e->auth[0], 0, sizeof(e->auth[0]));
        e->auth[0].type = SECUP_AUTH_SIGN1;
        e->auth[0].protected_hdr = junk[i].protected_hdr;
        e->auth[0].has_payload = junk[i].has_payload;
        e->auth[0].payload = secup_bytes_of(other_payload, sizeof(other_payload));
        e->auth[0].tag = secup_bytes_of(sig, sizeof(sig));
        e->n_auth = 2;
        size_t len = 0;
        assert_int_equal(secup_envelope_encode(e, NULL, 0, &len, NULL), SECUP_E_BUF_SMALL);
        uint8_t *buf = malloc(len);
        assert_non_null(buf);
        assert_int_equal(secup_envelope_encode(e, buf, len, &len, NULL), SECUP_OK);
        struct secup_err err;
        secup_rc rc = secup_envelope_decode(e, secup_bytes_of(buf, len), NULL, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: decode: %s", junk[i].what, err.msg);
        assert_int_equal(e->n_auth, 2);
        struct secup_verify_info info;
        rc = secup_envelope_verify(e, t, &info, &err);
        if (rc != SECUP_OK) {
            print_error("  %s first: %s (%s)\n", junk[i].what, secup_rc_name(rc), err.msg);
            failed++;
        } else if (info.block != 1) {
            print_error("  %s first: verified by block %zu\n", junk[i].what, info.block);
            failed++;
        }
        free(buf);
    }
    free(e);
    secup_trust_free(t);
    if (failed)
        fail_msg("%zu of %zu junk blocks hid the valid signature (listed above)", failed,
                 ARRAY_SIZE(junk));
}

/* ---- deterministic encoding ---- */

static void test_suit_build_params_given_unsorted_encode_in_key_order(void **state)
{
    struct fixture *fx = *state;
    struct secup_err err;
    build_default(fx, 1);
    uint32_t seq = 0;
    ok(secup_manifest_begin_seq(fx->m, &seq, &err), &err, "validate");
    struct secup_param p[6] = {
        uint_param(SECUP_SUIT_PARAM_IMAGE_SIZE, 14),
        uint_param(-3, 3),
        bstr_param(SECUP_SUIT_PARAM_CLASS_ID, fx->cls, 16),
        uint_param(-1, 1),
        tstr_param(SECUP_SUIT_PARAM_URI, uri_fw),
        bstr_param(SECUP_SUIT_PARAM_VENDOR_ID, fx->vendor, 16),
    };
    ok(secup_manifest_append_params(fx->m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, 6, &err),
       &err, "unsorted parameters");
    fx->m->members[SECUP_SECTION_VALIDATE].state = SECUP_MEMBER_PRESENT;
    fx->m->members[SECUP_SECTION_VALIDATE].available = true;
    fx->m->members[SECUP_SECTION_VALIDATE].seq = seq;
    SEAL(fx, NULL, K_P256);

    /* The decoder keeps the encoded order: 1, 2, 14, 21, -1, -3 (RFC 8949 4.2.1). */
    static const int64_t want[] = {1, 2, 14, 21, -1, -3};
    const struct secup_manifest *m = &fx->env->manifest;
    const struct secup_seq *s = &m->seqs[m->members[SECUP_SECTION_VALIDATE].seq];
    assert_int_equal(s->count, 1);
    const struct secup_command *c = &m->commands[s->first];
    assert_int_equal(c->kind, SECUP_ARG_PARAMS);
    assert_int_equal(c->count, ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        if (m->params[c->first + i].key != want[i])
            fail_msg("parameter %zu has key %lld, expected %lld", i,
                     (long long)m->params[c->first + i].key, (long long)want[i]);
    }
    /* Building again in another order gives the same manifest bytes. */
    size_t len1 = 0;
    uint8_t buf1[2048];
    assert_int_equal(secup_manifest_encode(fx->m, buf1, sizeof(buf1), &len1, NULL), SECUP_OK);
    struct secup_param q[6] = {p[5], p[4], p[3], p[2], p[1], p[0]};
    const struct secup_command *built = &fx->m->commands[fx->m->seqs[seq].first];
    assert_int_equal(built->count, 6);
    memcpy(&fx->m->params[built->first], q, sizeof(q));
    size_t len2 = 0;
    uint8_t buf2[2048];
    assert_int_equal(secup_manifest_encode(fx->m, buf2, sizeof(buf2), &len2, NULL), SECUP_OK);
    assert_int_equal(len1, len2);
    assert_memory_equal(buf1, buf2, len1);
}

/* Text map keys are map keys too: languages and keys given out of order must be written in
 * deterministic order (encode.c promises "map keys in ascending order"). */
static void test_suit_build_text_given_unsorted_encodes_in_key_order(void **state)
{
    struct fixture *fx = *state;
    struct secup_err err;
    secup_manifest_init(fx->m);
    fx->m->sequence_number = 1;
    struct secup_component_id id = {1, {secup_bytes_of(part_zero, 1)}};
    ok(secup_manifest_add_component(fx->m, &id, &err), &err, "component");
    ok(secup_manifest_add_text(fx->m, secup_bytes_of("en", 2), NULL, 3, secup_bytes_of("c", 1),
                               &err),
       &err, "en 3");
    ok(secup_manifest_add_text(fx->m, secup_bytes_of("en", 2), NULL, 1, secup_bytes_of("a", 1),
                               &err),
       &err, "en 1");
    ok(secup_manifest_add_text(fx->m, secup_bytes_of("de", 2), NULL, 1, secup_bytes_of("x", 1),
                               &err),
       &err, "de 1");
    SEAL(fx, NULL, K_P256);
    const struct secup_manifest *m = &fx->env->manifest;
    assert_int_equal(m->n_text, 3);
    static const struct {
        const char *lang;
        int64_t key;
    } want[] = {{"de", 1}, {"en", 1}, {"en", 3}};
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        if (!secup_bytes_equal(m->text[i].lang, secup_bytes_of(want[i].lang, 2)) ||
            m->text[i].key != want[i].key)
            fail_msg("text entry %zu is %.*s/%lld, expected %s/%lld", i, (int)m->text[i].lang.len,
                     (const char *)m->text[i].lang.ptr, (long long)m->text[i].key, want[i].lang,
                     (long long)want[i].key);
    }
}

/* Text added in pieces (a language or a component revisited later) must still encode as
 * one map entry per language and per component; otherwise the sealed envelope carries
 * duplicate map keys, which secup's own decoder refuses. */
static void test_suit_build_text_added_in_pieces_seals_into_a_decodable_envelope(void **state)
{
    struct fixture *fx = *state;
    struct secup_component_id id = {1, {secup_bytes_of(part_zero, 1)}};
    const struct {
        const char *lang;
        bool component;
        int64_t key;
    } cases[][3] = {
        {{"en", false, 1}, {"de", false, 1}, {"en", false, 2}},
        {{"en", true, 1}, {"en", false, 2}, {"en", true, 3}},
    };
    static const char *const what[] = {"language revisited", "component revisited"};
    size_t failed = 0;
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        struct secup_err err;
        secup_manifest_init(fx->m);
        fx->m->sequence_number = 1;
        ok(secup_manifest_add_component(fx->m, &id, &err), &err, "component");
        for (size_t i = 0; i < 3; i++)
            ok(secup_manifest_add_text(fx->m, secup_bytes_of(cases[c][i].lang, 2),
                                       cases[c][i].component ? &id : NULL, cases[c][i].key,
                                       secup_bytes_of("t", 1), &err),
               &err, "text");
        const struct secup_key *keys[1] = {fx->keys[K_ED]};
        uint8_t *out = NULL;
        size_t len = 0;
        ok(secup_envelope_seal(fx->m, keys, 1, NULL, &out, &len, &err), &err, "seal");
        secup_rc rc = secup_envelope_decode(fx->env, secup_bytes_of(out, len), NULL, &err);
        if (rc != SECUP_OK) {
            print_error("  %s: decode: %s (%s)\n", what[c], secup_rc_name(rc), err.msg);
            failed++;
        } else if (fx->env->manifest.n_text != 3) {
            print_error("  %s: %u text entries\n", what[c], fx->env->manifest.n_text);
            failed++;
        }
        secup_buffer_free(out);
    }
    if (failed)
        fail_msg("%zu of %zu sealed envelopes are not decodable (listed above)", failed,
                 ARRAY_SIZE(cases));
}

/* Envelope map keys: integrated payload names are text keys, ordered by their encoding. */
static void test_suit_build_integrated_payloads_given_unsorted_encode_in_key_order(void **state)
{
    struct fixture *fx = *state;
    struct secup_err err;
    build_default(fx, 1);
    uint32_t seq = 0;
    ok(secup_manifest_begin_seq(fx->m, &seq, &err), &err, "load");
    struct secup_param p = tstr_param(SECUP_SUIT_PARAM_URI, "#b");
    ok(secup_manifest_append_params(fx->m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, &p, 1, &err),
       &err, "uri #b");
    fx->m->members[SECUP_SECTION_LOAD].state = SECUP_MEMBER_PRESENT;
    fx->m->members[SECUP_SECTION_LOAD].available = true;
    fx->m->members[SECUP_SECTION_LOAD].seq = seq;
    const struct secup_integrated payloads[] = {
        {secup_bytes_of(uri_fw, strlen(uri_fw)), secup_bytes_of("firmware image", 14)},
        {secup_bytes_of("#b", 2), secup_bytes_of("b", 1)},
    };
    const struct secup_seal_opts opts = {false, payloads, ARRAY_SIZE(payloads)};
    SEAL(fx, &opts, K_ED);
    assert_int_equal(fx->env->n_integrated, 2);
    /* "#b" encodes as 62 23 62, "#firmware" as 69 23 ..: the shorter one first. */
    assert_true(secup_bytes_equal(fx->env->integrated[0].name, secup_bytes_of("#b", 2)));
    assert_true(
        secup_bytes_equal(fx->env->integrated[1].name, secup_bytes_of(uri_fw, strlen(uri_fw))));
}

static void test_suit_build_sealed_envelopes_reencode_to_the_same_bytes(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *what;
        enum signer keys[3];
        size_t n;
        bool untagged;
        bool integrated;
    } cases[] = {
        {"P-256", {K_P256}, 1, false, false},
        {"Ed25519, untagged", {K_ED}, 1, true, false},
        {"HMAC", {K_HMAC}, 1, false, false},
        {"P-256 + Ed25519", {K_P256, K_ED}, 2, false, false},
        {"all three, integrated payload", {K_ED, K_HMAC, K_P256}, 3, false, true},
    };
    const struct secup_integrated payload = {secup_bytes_of(uri_fw, strlen(uri_fw)),
                                             secup_bytes_of("firmware image", 14)};
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        build_default(fx, 42);
        struct secup_seal_opts opts = {cases[i].untagged, cases[i].integrated ? &payload : NULL,
                                       cases[i].integrated ? 1u : 0u};
        seal_and_decode(fx, cases[i].keys, cases[i].n, &opts);
        assert_int_equal(fx->env->tagged, !cases[i].untagged);
        assert_int_equal(fx->sealed[0] == 0xd8, !cases[i].untagged);
        size_t len = 0;
        assert_int_equal(secup_envelope_encode(fx->env, NULL, 0, &len, NULL), SECUP_E_BUF_SMALL);
        if (len != fx->sealed_len)
            fail_msg("%s: size query %zu, sealed %zu", cases[i].what, len, fx->sealed_len);
        uint8_t *out = malloc(len);
        assert_non_null(out);
        assert_int_equal(secup_envelope_encode(fx->env, out, len, &len, NULL), SECUP_OK);
        if (memcmp(out, fx->sealed, len) != 0)
            fail_msg("%s: re-encoding differs", cases[i].what);
        free(out);

        /* The manifest alone re-encodes to the signed bytes, too. */
        uint8_t *mbuf = malloc(fx->env->manifest_bytes.len);
        assert_non_null(mbuf);
        assert_int_equal(secup_manifest_encode(&fx->env->manifest, mbuf,
                                               fx->env->manifest_bytes.len, &len, NULL),
                         SECUP_OK);
        assert_int_equal(len, fx->env->manifest_bytes.len);
        assert_memory_equal(mbuf, fx->env->manifest_bytes.ptr, len);
        free(mbuf);
        if (cases[i].integrated) {
            struct secup_bytes data;
            assert_true(secup_envelope_find_integrated(
                fx->env, secup_bytes_of(uri_fw, strlen(uri_fw)), &data));
            assert_int_equal(data.len, 14);
        }
    }
}

static void
test_suit_build_manifest_encode_short_buffer_gives_buf_small_without_overrun(void **state)
{
    struct fixture *fx = *state;
    build_default(fx, 5);
    size_t need = 0;
    assert_int_equal(secup_manifest_encode(fx->m, NULL, 0, &need, NULL), SECUP_E_BUF_SMALL);
    assert_true(need > 0);
    uint8_t *buf = malloc(need + 16);
    assert_non_null(buf);
    for (size_t cap = 0; cap < need; cap++) {
        memset(buf, 0xa5, need + 16);
        size_t len = 0;
        assert_int_equal(secup_manifest_encode(fx->m, buf, cap, &len, NULL), SECUP_E_BUF_SMALL);
        assert_int_equal(len, need);
        for (size_t i = cap; i < need + 16; i++) {
            if (buf[i] != 0xa5)
                fail_msg("cap %zu: byte %zu written", cap, i);
        }
    }
    size_t len = 0;
    assert_int_equal(secup_manifest_encode(fx->m, buf, need, &len, NULL), SECUP_OK);
    assert_int_equal(len, need);
    free(buf);
}

/* ---- refusals of the builder and of seal ---- */

static void test_suit_build_seal_refuses_unusable_key_sets(void **state)
{
    struct fixture *fx = *state;
    build_default(fx, 1);
    struct secup_key *pub = pub_key(fx, K_P256);
    const struct secup_key *five[5] = {fx->keys[K_P256], fx->keys[K_ED], fx->keys[K_HMAC],
                                       fx->keys[K_P256_OTHER], fx->keys[K_ED_OTHER]};
    const struct secup_key *x25519[1] = {fx->keys[K_X25519]};
    const struct secup_key *pubonly[1] = {pub};
    const struct secup_key *p256[1] = {fx->keys[K_P256]};
    struct secup_integrated many[SECUP_MAX_INTEGRATED + 1];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = (struct secup_integrated){secup_bytes_of(uri_fw, strlen(uri_fw)),
                                            secup_bytes_of("x", 1)};
    const struct secup_seal_opts too_many = {false, many, ARRAY_SIZE(many)};
    const struct {
        const char *what;
        const struct secup_key *const *keys;
        size_t n;
        const struct secup_seal_opts *opts;
        secup_rc want;
    } cases[] = {
        {"no key", p256, 0, NULL, SECUP_E_ARG},
        {"five keys", five, 5, NULL, SECUP_E_LIMIT_AUTH},
        {"an X25519 key", x25519, 1, NULL, SECUP_E_ARG},
        {"a public key only", pubonly, 1, NULL, SECUP_E_ARG},
        {"9 integrated payloads", p256, 1, &too_many, SECUP_E_LIMIT_DEPENDENCIES},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t *out = (uint8_t *)&out;
        size_t out_len = 99;
        struct secup_err err;
        secup_rc rc = secup_envelope_seal(fx->m, cases[i].keys, cases[i].n, cases[i].opts, &out,
                                          &out_len, &err);
        if (rc != cases[i].want)
            fail_msg("%s: %s", cases[i].what, secup_rc_name(rc));
        assert_null(out);
        assert_int_equal(out_len, 0);
    }
    secup_key_free(pub);
}

static void test_suit_build_builder_pools_refuse_with_their_limit_code(void **state)
{
    struct fixture *fx = *state;
    struct secup_manifest *m = fx->m;
    struct secup_err err;
    secup_manifest_init(m);
    assert_int_equal(m->version, 1);
    struct secup_component_id id = {1, {secup_bytes_of(part_zero, 1)}};
    for (int i = 0; i < SECUP_MAX_COMPONENTS; i++)
        ok(secup_manifest_add_component(m, &id, &err), &err, "component");
    assert_int_equal(secup_manifest_add_component(m, &id, &err), SECUP_E_LIMIT_COMPONENTS);
    assert_int_equal(m->n_components, SECUP_MAX_COMPONENTS);
    struct secup_component_id long_id = {SECUP_MAX_ID_PARTS + 1, {{NULL, 0}}};
    secup_manifest_init(m);
    assert_int_equal(secup_manifest_add_component(m, &long_id, &err), SECUP_E_LIMIT_ITEMS);

    uint32_t a = 0;
    uint32_t b = 0;
    ok(secup_manifest_begin_seq(m, &a, &err), &err, "seq a");
    struct secup_param p[SECUP_MAX_MAP_PARAMS + 1];
    for (size_t i = 0; i < ARRAY_SIZE(p); i++)
        p[i] = uint_param(-1 - (int64_t)i, i);
    assert_int_equal(
        secup_manifest_append_params(m, a, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, 0, &err),
        SECUP_E_LIMIT_PARAMS);
    assert_int_equal(secup_manifest_append_params(m, a, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p,
                                                  SECUP_MAX_MAP_PARAMS + 1, &err),
                     SECUP_E_LIMIT_PARAMS);
    ok(secup_manifest_append_params(m, a, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p,
                                    SECUP_MAX_MAP_PARAMS, &err),
       &err, "64 parameters");
    assert_int_equal(secup_manifest_append_params(m, a, SECUP_SUIT_DIR_FETCH, p, 1, &err),
                     SECUP_E_ARG);
    ok(secup_manifest_begin_seq(m, &b, &err), &err, "seq b");
    ok(secup_manifest_append_index(m, b, 0, &err), &err, "first command of b");
    /* Sequence a is finished once b has commands. */
    assert_int_equal(secup_manifest_append_policy(m, a, SECUP_SUIT_COND_VENDOR_ID, 15, &err),
                     SECUP_E_STATE);
    assert_int_equal(secup_manifest_append_index(m, a, 0, &err), SECUP_E_STATE);
    assert_int_equal(secup_manifest_append_policy(m, 99, SECUP_SUIT_COND_VENDOR_ID, 15, &err),
                     SECUP_E_STATE);
    for (int i = 1; i < SECUP_MAX_SEQ_LEN; i++)
        ok(secup_manifest_append_policy(m, b, SECUP_SUIT_COND_VENDOR_ID, 15, &err), &err, "cmd");
    assert_int_equal(secup_manifest_append_policy(m, b, SECUP_SUIT_COND_VENDOR_ID, 15, &err),
                     SECUP_E_LIMIT_COMMANDS);
    assert_int_equal(m->seqs[b].count, SECUP_MAX_SEQ_LEN);
    while (m->n_seqs < SECUP_MAX_SEQS)
        ok(secup_manifest_begin_seq(m, &b, &err), &err, "more sequences");
    assert_int_equal(secup_manifest_begin_seq(m, &b, &err), SECUP_E_LIMIT_COMMANDS);

    secup_manifest_init(m);
    for (int i = 0; i < SECUP_MAX_TEXT; i++)
        ok(secup_manifest_add_text(m, secup_bytes_of("en", 2), NULL, i, secup_bytes_of("t", 1),
                                   &err),
           &err, "text");
    assert_int_equal(
        secup_manifest_add_text(m, secup_bytes_of("en", 2), NULL, 99, secup_bytes_of("t", 1), &err),
        SECUP_E_LIMIT_TEXT);
    assert_int_equal(m->n_text, SECUP_MAX_TEXT);
}

/* manifest.h: commands go to the most recently started sequence. A sequence started
 * after `a` owns the commands appended from then on, even while it is still empty; letting
 * `a` grow would make both sequences claim the same command. */
static void test_suit_build_appending_to_an_earlier_sequence_gives_state(void **state)
{
    struct fixture *fx = *state;
    struct secup_manifest *m = fx->m;
    struct secup_err err;
    secup_manifest_init(m);
    uint32_t a = 0;
    uint32_t b = 0;
    ok(secup_manifest_begin_seq(m, &a, &err), &err, "seq a");
    ok(secup_manifest_append_policy(m, a, SECUP_SUIT_COND_VENDOR_ID, 15, &err), &err, "a[0]");
    ok(secup_manifest_begin_seq(m, &b, &err), &err, "seq b");
    secup_rc rc = secup_manifest_append_policy(m, a, SECUP_SUIT_COND_CLASS_ID, 15, &err);
    if (rc == SECUP_OK)
        fail_msg("appended to sequence %u after sequence %u began: a = [%u, +%u), b = [%u, +%u)", a,
                 b, m->seqs[a].first, m->seqs[a].count, m->seqs[b].first, m->seqs[b].count);
    assert_int_equal(rc, SECUP_E_STATE);
}

/* Kept last in main(): an out-of-bounds index aborts the whole executable under UBSan. */
static void test_suit_build_appending_to_a_sequence_never_begun_gives_state(void **state)
{
    struct fixture *fx = *state;
    struct secup_manifest *m = fx->m;
    secup_manifest_init(m);
    uint32_t a = 0;
    ok(secup_manifest_begin_seq(m, &a, NULL), NULL, "seq a");
    static const uint32_t bad[] = {1, SECUP_MAX_SEQS - 1, SECUP_MAX_SEQS, 1000, UINT32_MAX};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        secup_rc rc = secup_manifest_append_policy(m, bad[i], SECUP_SUIT_COND_CLASS_ID, 15, NULL);
        if (rc != SECUP_E_STATE)
            fail_msg("sequence %u: %s", bad[i], secup_rc_name(rc));
        assert_int_equal(secup_manifest_append_index(m, bad[i], 0, NULL), SECUP_E_STATE);
    }
    assert_int_equal(m->n_commands, 0);
}

/* ---- bit flips ---- */

static void test_suit_build_any_flipped_byte_is_refused(void **state)
{
    struct fixture *fx = *state;
    static const enum signer signers[] = {K_P256, K_ED, K_HMAC};
    for (size_t s = 0; s < ARRAY_SIZE(signers); s++) {
        build_default(fx, 10);
        SEAL(fx, NULL, signers[s]);
        struct secup_trust *t = trust_of(fx, &signers[s], 1);
        struct secup_device_policy dev = device(fx, 9);
        assert_int_equal(secup_policy_check(fx->env, t, &dev, NULL, NULL), SECUP_OK);
        size_t len = fx->sealed_len;
        size_t sig_at = (size_t)(fx->env->auth[0].tag.ptr - fx->sealed);
        size_t sig_len = fx->env->auth[0].tag.len;
        size_t dig_at = (size_t)(fx->env->digest.bytes.ptr - fx->sealed);
        size_t man_at = (size_t)(fx->env->manifest_bytes.ptr - fx->sealed);
        size_t man_len = fx->env->manifest_bytes.len;
        struct secup_envelope *e = malloc(sizeof(*e));
        uint8_t *copy = malloc(len);
        assert_non_null(e);
        assert_non_null(copy);
        static const uint8_t masks[] = {0x01, 0x80, 0xff};
        for (size_t i = 0; i < len; i++) {
            for (size_t k = 0; k < ARRAY_SIZE(masks); k++) {
                memcpy(copy, fx->sealed, len);
                copy[i] ^= masks[k];
                secup_rc rc = secup_envelope_decode(e, secup_bytes_of(copy, len), NULL, NULL);
                if (rc == SECUP_OK)
                    rc = secup_policy_check(e, t, &dev, NULL, NULL);
                bool in_sig = i >= sig_at && i < sig_at + sig_len;
                bool in_dig = i >= dig_at && i < dig_at + SECUP_SHA256_LEN;
                bool in_man = i >= man_at && i < man_at + man_len;
                bool good = rc != SECUP_OK;
                if (in_sig)
                    good = rc == SECUP_E_SIG;
                else if (in_dig)
                    good = rc == SECUP_E_DIGEST;
                else if (in_man)
                    good = rc == SECUP_E_DIGEST || (rc >= 200 && rc < 300);
                if (!good)
                    fail_msg("signer %zu: byte %zu of %zu ^ 0x%02x: %s", s, i, len, masks[k],
                             secup_rc_name(rc));
            }
        }
        free(copy);
        free(e);
        secup_trust_free(t);
    }
}

/* ---- allocation failures ---- */

/* Fails each allocation of op in turn until op succeeds without a failure: every earlier
 * run must end in SECUP_E_NOMEM (a crash or a leak fails the run under ASan). */
#define SWEEP(what, call, on_ok, on_fail)                                                          \
    do {                                                                                           \
        size_t n_;                                                                                 \
        for (n_ = 0;; n_++) {                                                                      \
            alloc_fail_after(n_);                                                                  \
            secup_rc rc_ = (call);                                                                 \
            bool hit_ = alloc_fail_triggered();                                                    \
            alloc_fail_reset();                                                                    \
            if (!hit_) {                                                                           \
                if (rc_ != SECUP_OK)                                                               \
                    fail_msg("%s: %s without an allocation failure", what, secup_rc_name(rc_));    \
                on_ok;                                                                             \
                break;                                                                             \
            }                                                                                      \
            if (rc_ != SECUP_E_NOMEM)                                                              \
                fail_msg("%s: allocation %zu failed, got %s", what, n_ + 1, secup_rc_name(rc_));   \
            on_fail;                                                                               \
            assert_true(n_ < 1000);                                                                \
        }                                                                                          \
        if (n_ == 0)                                                                               \
            fail_msg("%s: no allocation went through secup_alloc()", what);                        \
    } while (0)

static void test_suit_build_every_failed_allocation_in_seal_gives_nomem(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *what;
        enum signer keys[2];
        size_t n;
    } cases[] = {
        {"P-256", {K_P256}, 1},
        {"Ed25519", {K_ED}, 1},
        {"HMAC", {K_HMAC}, 1},
        {"P-256 + Ed25519", {K_P256, K_ED}, 2},
    };
    const struct secup_integrated payload = {secup_bytes_of(uri_fw, strlen(uri_fw)),
                                             secup_bytes_of("firmware image", 14)};
    const struct secup_seal_opts opts = {false, &payload, 1};
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        build_default(fx, 1);
        const struct secup_key *keys[2] = {fx->keys[cases[i].keys[0]],
                                           cases[i].n > 1 ? fx->keys[cases[i].keys[1]] : NULL};
        uint8_t *out = NULL;
        size_t out_len = 0;
        SWEEP(
            cases[i].what,
            secup_envelope_seal(fx->m, keys, cases[i].n, &opts, &out, &out_len, NULL),
            {
                assert_int_equal(
                    secup_envelope_decode(fx->env, secup_bytes_of(out, out_len), NULL, NULL),
                    SECUP_OK);
                secup_buffer_free(out);
            },
            {
                assert_null(out);
                assert_int_equal(out_len, 0);
            });
    }
}

static void test_suit_build_every_failed_allocation_of_trust_and_keys_gives_nomem(void **state)
{
    struct fixture *fx = *state;
    struct secup_trust *t = NULL;
    SWEEP("trust_new", secup_trust_new(&t, NULL), secup_trust_free(t), assert_null(t));

    struct secup_key *k = NULL;
    SWEEP("key_from_secret", secup_key_from_secret(&k, secup_bytes_of(fx->secret[0], 32), NULL),
          secup_key_free(k), assert_null(k));
    k = NULL;
    SWEEP("key_generate P-256", secup_key_generate(&k, SECUP_KEY_P256, NULL), secup_key_free(k),
          assert_null(k));
    k = NULL;
    SWEEP("key_generate Ed25519", secup_key_generate(&k, SECUP_KEY_ED25519, NULL),
          secup_key_free(k), assert_null(k));
    k = NULL;
    char dir[] = "/tmp/secup-test-build-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[sizeof(dir) + 16];
    snprintf(path, sizeof(path), "%s/p256.pub.pem", dir);
    assert_int_equal(secup_key_save_public(fx->keys[K_P256], path, NULL), SECUP_OK);
    SWEEP("key_load_pem", secup_key_load_pem(&k, path, NULL), secup_key_free(k), assert_null(k));
    unlink(path);
    rmdir(dir);
}

static void test_suit_build_alloc_fail_hook_is_off_until_armed(void **state)
{
    (void)state;
    /* The countdown stays off unless armed, so linking it changes nothing else. */
    alloc_fail_reset();
    struct secup_trust *t = NULL;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(secup_trust_new(&t, NULL), SECUP_OK);
        secup_trust_free(t);
    }
    assert_false(alloc_fail_triggered());
    alloc_fail_after(1);
    assert_int_equal(secup_trust_new(&t, NULL), SECUP_OK);
    secup_trust_free(t);
    assert_int_equal(secup_trust_new(&t, NULL), SECUP_E_NOMEM);
    assert_true(alloc_fail_triggered());
    /* One failure per arming. */
    assert_int_equal(secup_trust_new(&t, NULL), SECUP_OK);
    secup_trust_free(t);
    alloc_fail_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suit_build_sealed_with_each_key_type_decodes_and_verifies),
        cmocka_unit_test(
            test_suit_build_policy_check_accepts_only_a_matching_newer_trusted_manifest),
        cmocka_unit_test(test_suit_build_unsigned_envelope_is_refused_as_unsigned),
        cmocka_unit_test(test_suit_build_audience_gives_the_checked_vendor_and_class),
        cmocka_unit_test(test_suit_build_two_signatures_verify_with_either_anchor_alone),
        cmocka_unit_test(test_suit_build_three_signers_each_verify_alone),
        cmocka_unit_test(test_suit_build_unverifiable_block_before_a_valid_one_does_not_hide_it),
        cmocka_unit_test(test_suit_build_params_given_unsorted_encode_in_key_order),
        cmocka_unit_test(test_suit_build_text_given_unsorted_encodes_in_key_order),
        cmocka_unit_test(test_suit_build_text_added_in_pieces_seals_into_a_decodable_envelope),
        cmocka_unit_test(test_suit_build_integrated_payloads_given_unsorted_encode_in_key_order),
        cmocka_unit_test(test_suit_build_sealed_envelopes_reencode_to_the_same_bytes),
        cmocka_unit_test(
            test_suit_build_manifest_encode_short_buffer_gives_buf_small_without_overrun),
        cmocka_unit_test(test_suit_build_seal_refuses_unusable_key_sets),
        cmocka_unit_test(test_suit_build_builder_pools_refuse_with_their_limit_code),
        cmocka_unit_test(test_suit_build_appending_to_an_earlier_sequence_gives_state),
        cmocka_unit_test(test_suit_build_any_flipped_byte_is_refused),
        cmocka_unit_test(test_suit_build_every_failed_allocation_in_seal_gives_nomem),
        cmocka_unit_test(test_suit_build_every_failed_allocation_of_trust_and_keys_gives_nomem),
        cmocka_unit_test(test_suit_build_alloc_fail_hook_is_off_until_armed),
        cmocka_unit_test(test_suit_build_appending_to_a_sequence_never_begun_gives_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
