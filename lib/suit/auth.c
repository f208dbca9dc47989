/* Authentication of SUIT envelopes: the manifest digest and the COSE blocks over it
 * (manifest-37 section 8.3; SUIT.md section 3 rules 1 and 2). */
#include <stdio.h>
#include <string.h>

#include "cbor/codec.h"
#include "cose/cose.h"
#include "crypto/crypto.h"
#include "secup/cose.h"
#include "util/alloc.h"

/* signers NULL: stops at the first block that verifies. Otherwise every block is tried
 * with every fitting key, and bit k of *signers is set when trust key k verified one. */
static secup_rc verify_core(const struct secup_envelope *env, const struct secup_trust *trust,
                            struct secup_verify_info *info, uint32_t *signers,
                            struct secup_err *err)
{
    struct secup_verify_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof(*info));
    if (!env || !trust)
        return secup_err_set(err, SECUP_E_ARG, "no envelope or trust store");
    if (env->digest.alg != SECUP_COSE_ALG_SHA256)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "manifest digest algorithm %lld is not supported (SHA-256 only)",
                             (long long)env->digest.alg);
    uint8_t h[SECUP_SHA256_LEN];
    secup_rc rc = secup_crypto_sha256(env->manifest_wrapped, h, err);
    if (rc != SECUP_OK)
        return rc;
    if (!secup_ct_equal(secup_bytes_of(h, sizeof(h)), env->digest.bytes))
        return secup_err_set(err, SECUP_E_DIGEST,
                             "the manifest does not match the digest in the authentication wrapper");
    if (env->n_auth == 0)
        return secup_err_set(err, SECUP_E_UNSIGNED,
                             "the envelope carries no signature or MAC, only a digest");

    /* Fail closed: the answer stays a refusal unless one block verifies. */
    bool verified = false;
    secup_rc result = SECUP_E_KEY_UNKNOWN;
    char why[SECUP_ERR_MSG_MAX] = "no trust anchor fits the algorithm of any authentication block";
    for (size_t b = 0; b < env->n_auth; b++) {
        const struct secup_auth_block *a = &env->auth[b];
        if (!secup_cose_alg_supported(a->type, a->alg)) {
            if (result == SECUP_E_KEY_UNKNOWN) {
                result = SECUP_E_UNSUPPORTED;
                snprintf(why, sizeof(why), "authentication block %zu: COSE algorithm %lld is not supported",
                         b, (long long)a->alg);
            }
            continue;
        }
        /* The payload is detached; if a signer put it in place anyway it must be exactly
         * the digest, or the block would vouch for something else. */
        if (a->has_payload && !secup_bytes_equal(a->payload, env->digest_bstr)) {
            result = SECUP_E_SIG;
            snprintf(why, sizeof(why), "authentication block %zu signs another payload", b);
            continue;
        }
        for (size_t k = 0; k < secup_trust_count(trust); k++) {
            const struct secup_key *key = secup_trust_key(trust, k);
            if (!secup_crypto_key_fits_alg(key, a->alg))
                continue;
            struct secup_err e;
            secup_err_clear(&e);
            rc = secup_cose_verify_block(a, env->digest_bstr, key, &e);
            if (rc == SECUP_OK) {
                if (!verified) {
                    info->block = b;
                    info->anchor = k;
                    info->alg = a->alg;
                }
                verified = true;
                if (!signers) {
                    secup_err_clear(err);
                    return SECUP_OK;
                }
                if (k < 32)
                    *signers |= UINT32_C(1) << k;
                continue;
            }
            /* Blocks are not covered by any signature, so anyone on the path can add one:
             * a block that cannot even be checked must not hide a valid one after it. */
            if (rc != SECUP_E_SIG && rc != SECUP_E_KEY_UNKNOWN) {
                if (result != SECUP_E_SIG) {
                    result = rc;
                    snprintf(why, sizeof(why), "authentication block %zu: %.400s", b, e.msg);
                }
                continue;
            }
            if (rc == SECUP_E_SIG || result != SECUP_E_SIG) {
                result = SECUP_E_SIG;
                snprintf(why, sizeof(why), "authentication block %zu (%s, alg %lld) does not verify with any trusted key",
                         b, a->type == SECUP_AUTH_SIGN1 ? "COSE_Sign1" : "COSE_Mac0",
                         (long long)a->alg);
            }
        }
    }
    if (verified) {
        secup_err_clear(err);
        return SECUP_OK;
    }
    return secup_err_set(err, result, "%s", why);
}

secup_rc secup_envelope_verify(const struct secup_envelope *env, const struct secup_trust *trust,
                               struct secup_verify_info *info, struct secup_err *err)
{
    return verify_core(env, trust, info, NULL, err);
}

secup_rc secup_envelope_verify_signers(const struct secup_envelope *env,
                                       const struct secup_trust *trust, uint32_t *signers,
                                       struct secup_verify_info *info, struct secup_err *err)
{
    uint32_t none = 0;
    if (!signers)
        signers = &none;
    *signers = 0;
    return verify_core(env, trust, info, signers, err);
}

/* ---- sealing ---- */

struct sig_out {
    enum secup_auth_type type;
    uint8_t protected_hdr[8];
    size_t protected_len;
    uint8_t tag[SECUP_MAX_SIG_LEN];
    size_t tag_len;
};

static secup_rc make_block(const struct secup_key *key, struct secup_bytes payload,
                           struct sig_out *s, struct secup_err *err)
{
    int64_t alg = secup_crypto_default_sig_alg(key);
    if (alg == 0)
        return secup_err_set(err, SECUP_E_ARG, "a %s key cannot sign manifests",
                             secup_key_type_name(secup_key_type(key)));
    s->type = secup_key_type(key) == SECUP_KEY_HMAC ? SECUP_AUTH_MAC0 : SECUP_AUTH_SIGN1;
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, s->protected_hdr, sizeof(s->protected_hdr));
    secup_cbor_put_map(&w, 1);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_int(&w, alg);
    secup_rc rc = secup_cbor_writer_finish(&w, err);
    if (rc != SECUP_OK)
        return rc;
    s->protected_len = w.len;
    uint8_t tbs[SECUP_COSE_TBS_MAX];
    size_t tbs_len = 0;
    rc = secup_cose_tbs(s->type, secup_bytes_of(s->protected_hdr, s->protected_len), payload, tbs,
                        sizeof(tbs), &tbs_len, err);
    if (rc != SECUP_OK)
        return rc;
    if (s->type == SECUP_AUTH_MAC0) {
        s->tag_len = SECUP_SHA256_LEN;
        return secup_crypto_hmac_sha256(key, secup_bytes_of(tbs, tbs_len), s->tag, err);
    }
    return secup_crypto_sign(key, alg, secup_bytes_of(tbs, tbs_len), s->tag, sizeof(s->tag),
                             &s->tag_len, err);
}

secup_rc secup_envelope_seal(const struct secup_manifest *m, const struct secup_key *const *keys,
                             size_t n_keys, const struct secup_seal_opts *opts, uint8_t **out,
                             size_t *out_len, struct secup_err *err)
{
    struct secup_seal_opts none = { false, NULL, 0 };
    struct secup_envelope *env = NULL;
    struct sig_out sigs[SECUP_MAX_AUTH];
    uint8_t *mbuf = NULL;
    uint8_t *obuf = NULL;
    size_t mlen = 0;
    size_t olen = 0;
    secup_rc rc;

    *out = NULL;
    *out_len = 0;
    if (!opts)
        opts = &none;
    if (n_keys == 0 || n_keys > SECUP_MAX_AUTH)
        return secup_err_set(err, n_keys ? SECUP_E_LIMIT_AUTH : SECUP_E_ARG,
                             "sealing needs 1 to %d keys, got %zu", SECUP_MAX_AUTH, n_keys);
    if (opts->n_integrated > SECUP_MAX_INTEGRATED)
        return secup_err_set(err, SECUP_E_LIMIT_DEPENDENCIES, "%zu integrated payloads",
                             opts->n_integrated);

    /* The envelope model is large; it lives on the heap on this author-side path. */
    env = secup_alloc(sizeof(*env));
    if (!env)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for an envelope");
    env->manifest = *m;
    env->tagged = !opts->untagged;

    rc = secup_manifest_encode(m, NULL, 0, &mlen, NULL); /* size query */
    struct secup_cbor_writer w;
    size_t head_len = 0;
    secup_cbor_writer_init(&w, NULL, 0);
    secup_cbor_put_bstr_head(&w, mlen);
    head_len = w.len;
    mbuf = secup_alloc(head_len + mlen);
    if (!mbuf) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for a manifest of %zu bytes", mlen);
        goto out;
    }
    secup_cbor_writer_init(&w, mbuf, head_len);
    secup_cbor_put_bstr_head(&w, mlen);
    rc = secup_manifest_encode(m, mbuf + head_len, mlen, &mlen, err);
    if (rc != SECUP_OK)
        goto out;

    uint8_t digest[SECUP_SHA256_LEN];
    uint8_t digest_enc[48];
    size_t digest_enc_len = 0;
    rc = secup_crypto_sha256(secup_bytes_of(mbuf, head_len + mlen), digest, err);
    if (rc != SECUP_OK)
        goto out;
    env->digest.alg = SECUP_COSE_ALG_SHA256;
    env->digest.bytes = secup_bytes_of(digest, sizeof(digest));
    rc = secup_digest_encode(&env->digest, digest_enc, sizeof(digest_enc), &digest_enc_len, err);
    if (rc != SECUP_OK)
        goto out;
    env->digest_bstr = secup_bytes_of(digest_enc, digest_enc_len);

    for (size_t i = 0; i < n_keys; i++) {
        rc = make_block(keys[i], env->digest_bstr, &sigs[i], err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "signing with key %zu", i + 1);
            goto out;
        }
        struct secup_auth_block *a = &env->auth[env->n_auth++];
        a->type = sigs[i].type;
        a->protected_hdr = secup_bytes_of(sigs[i].protected_hdr, sigs[i].protected_len);
        a->tag = secup_bytes_of(sigs[i].tag, sigs[i].tag_len);
    }
    for (size_t i = 0; i < opts->n_integrated; i++)
        env->integrated[env->n_integrated++] = opts->integrated[i];

    rc = secup_envelope_encode(env, NULL, 0, &olen, NULL); /* size query */
    obuf = secup_alloc(olen);
    if (!obuf) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for an envelope of %zu bytes", olen);
        goto out;
    }
    rc = secup_envelope_encode(env, obuf, olen, &olen, err);
    if (rc != SECUP_OK)
        goto out;
    *out = obuf;
    *out_len = olen;
    obuf = NULL;
out:
    secup_free(obuf);
    secup_free(mbuf);
    secup_free(env);
    return rc;
}

/* ---- co-signing ---- */

secup_rc secup_envelope_cosign(struct secup_bytes in, const struct secup_limits *lim,
                               const struct secup_key *const *keys, size_t n_keys, uint8_t **out,
                               size_t *out_len, struct secup_err *err)
{
    struct secup_envelope *env = NULL;
    struct secup_envelope *back = NULL;
    struct sig_out sigs[SECUP_MAX_AUTH];
    uint8_t *obuf = NULL;
    size_t olen = 0;
    secup_rc rc;

    *out = NULL;
    *out_len = 0;
    if (n_keys == 0 || !keys)
        return secup_err_set(err, SECUP_E_ARG, "co-signing needs at least one key");
    env = secup_alloc(sizeof(*env));
    back = secup_alloc(sizeof(*back));
    if (!env || !back) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for an envelope");
        goto out;
    }
    rc = secup_envelope_decode(env, in, lim, err);
    if (rc != SECUP_OK)
        goto out;
    if (env->digest.alg != SECUP_COSE_ALG_SHA256) {
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED,
                           "manifest digest algorithm %lld is not supported (SHA-256 only)",
                           (long long)env->digest.alg);
        goto out;
    }
    uint8_t h[SECUP_SHA256_LEN];
    rc = secup_crypto_sha256(env->manifest_wrapped, h, err);
    if (rc != SECUP_OK)
        goto out;
    if (!secup_ct_equal(secup_bytes_of(h, sizeof(h)), env->digest.bytes)) {
        rc = secup_err_set(err, SECUP_E_DIGEST,
                           "the manifest does not match the digest in the authentication wrapper");
        goto out;
    }
    uint32_t had = env->n_auth;
    if (had + n_keys > SECUP_MAX_AUTH) {
        rc = secup_err_set(err, SECUP_E_LIMIT_AUTH,
                           "the envelope has %u authentication blocks; %zu more exceed the limit of %d",
                           had, n_keys, SECUP_MAX_AUTH);
        goto out;
    }
    for (size_t i = 0; i < n_keys; i++) {
        rc = make_block(keys[i], env->digest_bstr, &sigs[i], err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "signing with key %zu", i + 1);
            goto out;
        }
        struct secup_auth_block *a = &env->auth[env->n_auth++];
        memset(a, 0, sizeof(*a));
        a->type = sigs[i].type;
        a->protected_hdr = secup_bytes_of(sigs[i].protected_hdr, sigs[i].protected_len);
        a->tag = secup_bytes_of(sigs[i].tag, sigs[i].tag_len);
    }
    rc = secup_envelope_encode(env, NULL, 0, &olen, NULL); /* size query */
    obuf = secup_alloc(olen);
    if (!obuf) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for an envelope of %zu bytes", olen);
        goto out;
    }
    rc = secup_envelope_encode(env, obuf, olen, &olen, err);
    if (rc != SECUP_OK)
        goto out;
    /* The signatures already there cover the manifest digest as written: the new
     * envelope must carry exactly the same manifest and digest bytes, or co-signing would
     * silently invalidate them (an input that is not in deterministic encoding). */
    rc = secup_envelope_decode(back, secup_bytes_of(obuf, olen), lim, err);
    if (rc == SECUP_OK && (!secup_bytes_equal(back->manifest_wrapped, env->manifest_wrapped) ||
                           !secup_bytes_equal(back->digest_bstr, env->digest_bstr) ||
                           back->n_auth != had + n_keys))
        rc = secup_err_set(err, SECUP_E_VALUE,
                           "the envelope does not re-encode to the same manifest bytes; co-signing it "
                           "would break its signatures");
    if (rc != SECUP_OK)
        goto out;
    *out = obuf;
    *out_len = olen;
    obuf = NULL;
out:
    secup_free(obuf);
    secup_free(back);
    secup_free(env);
    return rc;
}
