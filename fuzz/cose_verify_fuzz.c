/* Fuzz target: secup_envelope_verify() with real cryptography, against a trust store that
 * holds the example P-256 key and the HMAC key of the SUIT vectors.
 *
 * The first input byte selects a mode (modulo MODE_COUNT); the rest is its argument:
 *   0  the argument is an envelope: decode, verify, run the device policy check, and verify
 *      each integrated payload that decodes as an envelope;
 *   1  protected header of the COSE_Sign1 block of a fixed valid envelope (example 0);
 *   2  its signature;
 *   3  protected header of the COSE_Mac0 block of a fixed valid envelope (encryption §9.1);
 *   4  its MAC tag;
 *   5  the COSE_Sign1 unprotected header;
 *   6  the COSE_Sign1 payload (normally detached);
 *   7  split: byte 0 = length n of a protected header, then n bytes of it, then the
 *      COSE_Sign1 signature.
 * Modes 1-7 verify the modified model directly, then encode it, decode the result and
 * verify that, so the verifier sees garbage both before and after the decoder's checks.
 *
 * Invariants: a refusal carries its code and message; a block verifies only if the signed
 * bytes are the original ones (for ECDSA the r half of the signature must be unchanged, as
 * (r, n - s) is an equally valid signature); an unmodified block always verifies; the
 * policy check never accepts what verify refuses. */
/* THREAT: P2 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

enum mode {
    MODE_ENVELOPE,
    MODE_SIGN1_PROTECTED,
    MODE_SIGN1_SIGNATURE,
    MODE_MAC0_PROTECTED,
    MODE_MAC0_TAG,
    MODE_SIGN1_UNPROTECTED,
    MODE_SIGN1_PAYLOAD,
    MODE_SIGN1_SPLIT,
    MODE_COUNT
};

enum { ECDSA_R_LEN = 32, ECDSA_SIG_LEN = 64 };

struct base {
    const char *file;
    uint8_t *bytes;
    size_t len;
    struct secup_envelope *env;
};

static struct base sign1_base = { FUZZ_VECTORS "manifest37-ex0-signed.cbor", NULL, 0, NULL };
static struct base mac0_base = { FUZZ_VECTORS "enc-manifest-aes-kw-content.cbor", NULL, 0, NULL };

/* vendor-id and class-id of the manifest-37 examples, so that their policy check gets past
 * the identity conditions. */
static const char example_vendor[] = "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe";
static const char example_class[] = "1492af14-2569-5e48-bf42-9b2d51f2ab45";

static struct secup_device_policy device;

static void load_base(struct base *b, enum secup_auth_type type)
{
    struct secup_err err;
    b->bytes = fuzz_common_read_source_file(b->file, &b->len);
    b->env = malloc(sizeof(*b->env));
    if (!b->env)
        fuzz_common_fail("out of memory");
    secup_rc rc = secup_envelope_decode(b->env, secup_bytes_of(b->bytes, b->len), NULL, &err);
    if (rc == SECUP_OK)
        rc = secup_envelope_verify(b->env, fuzz_common_vector_trust(), NULL, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("%s: the base envelope does not verify: %s [%s]", b->file, err.msg,
                         secup_rc_name(rc));
    if (b->env->n_auth != 1 || b->env->auth[0].type != type)
        fuzz_common_fail("%s: expected exactly one block of COSE tag %d", b->file, (int)type);
}

static void init_once(void)
{
    static bool done;
    if (done)
        return;
    (void)fuzz_common_vector_trust();
    load_base(&sign1_base, SECUP_AUTH_SIGN1);
    load_base(&mac0_base, SECUP_AUTH_MAC0);
    if (!secup_uuid_parse(example_vendor, device.vendor_id) ||
        !secup_uuid_parse(example_class, device.class_id))
        fuzz_common_fail("example UUIDs do not parse");
    device.sequence_floor = 0;
    done = true;
}

/* Signed material is compared in constant time here too, so that no MAC or tag is ever
 * compared with memcmp (STYLE.md section 8), even in a harness. */
static bool same(struct secup_bytes a, struct secup_bytes b)
{
    return secup_ct_equal(a, b);
}

/* Whether a block could honestly verify: what the signature or MAC covers (protected
 * header, payload) is unchanged, and so is the tag (up to ECDSA's s malleability). */
static bool may_verify(const struct secup_auth_block *a, const struct secup_auth_block *orig,
                       struct secup_bytes digest_bstr)
{
    if (!same(a->protected_hdr, orig->protected_hdr))
        return false;
    if (a->has_payload && !same(a->payload, digest_bstr))
        return false;
    if (a->type == SECUP_AUTH_MAC0)
        return same(a->tag, orig->tag);
    return a->tag.len == ECDSA_SIG_LEN && orig->tag.len == ECDSA_SIG_LEN &&
           same(secup_bytes_of(a->tag.ptr, ECDSA_R_LEN),
                secup_bytes_of(orig->tag.ptr, ECDSA_R_LEN));
}

/* Whether a block must still verify: everything the verifier reads is as signed (a payload
 * put in place of the detached one is allowed when it is exactly the signed digest). */
static bool must_verify(const struct secup_auth_block *a, const struct secup_auth_block *orig,
                        struct secup_bytes digest_bstr)
{
    return same(a->protected_hdr, orig->protected_hdr) && same(a->tag, orig->tag) &&
           a->alg == orig->alg && a->type == orig->type &&
           (!a->has_payload || same(a->payload, digest_bstr));
}

static void check_verdict(const struct secup_envelope *env, const struct secup_auth_block *orig,
                          const char *path)
{
    struct secup_err err;
    struct secup_verify_info info;
    secup_rc rc = secup_envelope_verify(env, fuzz_common_vector_trust(), &info, &err);
    const struct secup_auth_block *a = &env->auth[0];
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_envelope_verify");
        if (env->n_auth == 1 && must_verify(a, orig, env->digest_bstr))
            fuzz_common_fail("%s: an intact block no longer verifies: %s [%s]", path,
                             err.msg, secup_rc_name(rc));
        return;
    }
    if (env->n_auth != 1 || info.block != 0)
        fuzz_common_fail("%s: verified block %zu of %u", path, info.block, env->n_auth);
    if (!may_verify(a, orig, env->digest_bstr))
        fuzz_common_fail("%s: FORGERY: a block with a changed protected header, payload or "
                         "tag verified (alg %lld, protected %zu bytes, tag %zu bytes)",
                         path, (long long)a->alg, a->protected_hdr.len, a->tag.len);
}

static void run_modified(const struct base *b, enum mode mode, struct secup_bytes arg)
{
    const struct secup_auth_block *orig = &b->env->auth[0];
    struct secup_envelope *env = malloc(sizeof(*env));
    struct secup_envelope *again = malloc(sizeof(*again));
    uint8_t *buf = NULL;
    if (!env || !again)
        fuzz_common_fail("out of memory");
    memcpy(env, b->env, sizeof(*env));
    struct secup_auth_block *a = &env->auth[0];

    switch (mode) {
    case MODE_SIGN1_PROTECTED:
    case MODE_MAC0_PROTECTED:
        a->protected_hdr = arg;
        break;
    case MODE_SIGN1_SIGNATURE:
    case MODE_MAC0_TAG:
        a->tag = arg;
        break;
    case MODE_SIGN1_UNPROTECTED:
        a->unprotected = arg;
        break;
    case MODE_SIGN1_PAYLOAD:
        a->has_payload = true;
        a->payload = arg;
        break;
    case MODE_SIGN1_SPLIT:
        if (arg.len == 0) {
            a->protected_hdr = arg;
            a->tag = arg;
        } else {
            size_t n = arg.ptr[0] < arg.len - 1 ? arg.ptr[0] : arg.len - 1;
            a->protected_hdr = secup_bytes_of(arg.ptr + 1, n);
            a->tag = secup_bytes_of(arg.ptr + 1 + n, arg.len - 1 - n);
        }
        break;
    default:
        fuzz_common_fail("mode %d has no modification", (int)mode);
    }

    /* The model as a caller could build it: alg still says what the original did. */
    check_verdict(env, orig, "modified model");

    /* The same bytes through the encoder and the decoder, which re-reads alg and kid. */
    struct secup_err err;
    size_t need = 0;
    size_t len = 0;
    secup_rc rc = secup_envelope_encode(env, NULL, 0, &need, &err);
    if (rc != SECUP_E_BUF_SMALL && rc != SECUP_OK)
        fuzz_common_fail("size query of a modified envelope: %s [%s]", err.msg,
                         secup_rc_name(rc));
    buf = malloc(need ? need : 1);
    if (!buf)
        fuzz_common_fail("out of memory");
    rc = secup_envelope_encode(env, buf, need, &len, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("encoding a modified envelope: %s [%s]", err.msg, secup_rc_name(rc));
    rc = secup_envelope_decode(again, secup_bytes_of(buf, len), NULL, &err);
    if (rc == SECUP_OK) {
        fuzz_common_check_envelope(again, secup_bytes_of(buf, len));
        check_verdict(again, orig, "re-decoded envelope");
    } else {
        fuzz_common_check_failure(rc, &err, "secup_envelope_decode");
    }

    free(buf);
    free(again);
    free(env);
}

static void verify_any(const struct secup_envelope *env, bool with_policy)
{
    struct secup_err err;
    struct secup_verify_info info;
    secup_rc rc = secup_envelope_verify(env, fuzz_common_vector_trust(), &info, &err);
    if (rc != SECUP_OK)
        fuzz_common_check_failure(rc, &err, "secup_envelope_verify");
    else if (info.block >= env->n_auth || info.anchor >= 2)
        fuzz_common_fail("verify names block %zu of %u, anchor %zu of 2", info.block,
                         env->n_auth, info.anchor);
    if (!with_policy)
        return;
    secup_rc prc = secup_policy_check(env, fuzz_common_vector_trust(), &device, &info, &err);
    if (prc != SECUP_OK)
        fuzz_common_check_failure(prc, &err, "secup_policy_check");
    if (prc == SECUP_OK && rc != SECUP_OK)
        fuzz_common_fail("the policy check accepted an envelope that verify refuses (%s)",
                         secup_rc_name(rc));
}

static void run_envelope(struct secup_bytes in)
{
    struct secup_envelope *env = malloc(sizeof(*env));
    struct secup_envelope *inner = malloc(sizeof(*inner));
    struct secup_err err;
    if (!env || !inner)
        fuzz_common_fail("out of memory");
    secup_rc rc = secup_envelope_decode(env, in, NULL, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_envelope_decode");
        goto out;
    }
    fuzz_common_check_envelope(env, in);
    verify_any(env, true);
    /* Integrated dependencies are envelopes in their own right (manifest-37 7.5). */
    for (uint32_t i = 0; i < env->n_integrated; i++) {
        rc = secup_envelope_decode(inner, env->integrated[i].data, NULL, &err);
        if (rc == SECUP_OK)
            verify_any(inner, false);
    }
out:
    free(inner);
    free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size == 0)
        return 0;
    enum mode mode = (enum mode)(data[0] % MODE_COUNT);
    struct secup_bytes arg = secup_bytes_of(data + 1, size - 1);
    switch (mode) {
    case MODE_ENVELOPE:
        run_envelope(arg);
        break;
    case MODE_MAC0_PROTECTED:
    case MODE_MAC0_TAG:
        run_modified(&mac0_base, mode, arg);
        break;
    default:
        run_modified(&sign1_base, mode, arg);
        break;
    }
    return 0;
}
