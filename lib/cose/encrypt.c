/* Streaming payload decryption and encryption for SUIT_Encryption_Info, and the algorithm
 * profiles of draft-ietf-suit-mti (SUIT.md 2.10). */
#include <stdio.h>
#include <string.h>

#include "cbor/codec.h"
#include "crypto/crypto.h"
#include "enc.h"
#include "util/alloc.h"

enum dec_state { DEC_FRESH, DEC_RUNNING, DEC_DONE, DEC_FAILED };

struct secup_decryptor {
    struct secup_crypto_cipher *cipher;
    struct secup_crypto_cipher *regen; /* replay only: re-encrypts plaintext */
    int64_t alg;
    size_t tag_len;
    enum dec_state state;
    uint64_t consumed;
    /* The last tag_len bytes seen: the tag if the stream ends here. */
    uint8_t held[SECUP_ENC_TAG_LEN];
    size_t held_len;
    /* Kept only while a replay may still come (before the first update), then wiped. */
    uint8_t cek[SECUP_MAX_CEK];
    size_t cek_len;
    uint8_t iv[16];
    size_t iv_len;
    uint8_t aad[SECUP_ENC_AAD_MAX];
    size_t aad_len;
};

const char *secup_enc_alg_name(int64_t alg)
{
    switch (alg) {
    case SECUP_COSE_ALG_A128GCM: return "A128GCM";
    case SECUP_COSE_ALG_CHACHA20_POLY1305: return "ChaCha20/Poly1305";
    case SECUP_COSE_ALG_A128CTR: return "A128CTR";
    case SECUP_COSE_ALG_A256CTR: return "A256CTR";
    case SECUP_COSE_ALG_A128KW: return "A128KW";
    case SECUP_COSE_ALG_A256KW: return "A256KW";
    case SECUP_COSE_ALG_ECDH_ES_A128KW: return "ECDH-ES+A128KW";
    default: return NULL;
    }
}

static void drop_replay_material(struct secup_decryptor *d)
{
    secup_crypto_cipher_free(d->regen);
    d->regen = NULL;
    secup_wipe(d->cek, sizeof(d->cek));
    d->cek_len = 0;
}

void secup_decryptor_free(struct secup_decryptor *d)
{
    if (!d)
        return;
    secup_crypto_cipher_free(d->cipher);
    drop_replay_material(d);
    secup_wipe(d, sizeof(*d));
    secup_free(d);
}

static secup_rc aad_for(const struct secup_enc_info *info, uint8_t *buf, size_t cap, size_t *len,
                        struct secup_err *err)
{
    *len = 0;
    if (secup_crypto_tag_len(info->alg) == 0)
        return SECUP_OK; /* CTR: no AAD */
    secup_rc rc = secup_cose_enc_structure(info->protected_hdr, buf, cap, len, err);
    if (rc != SECUP_OK)
        return secup_err_set(err, SECUP_E_LIMIT_BYTES, "protected header too large for the AAD");
    return SECUP_OK;
}

secup_rc secup_decryptor_new_cek(struct secup_decryptor **out, const struct secup_enc_info *info,
                                 struct secup_bytes cek, struct secup_err *err)
{
    *out = NULL;
    if (!info)
        return secup_err_set(err, SECUP_E_ARG, "no encryption info");
    size_t key_len = secup_crypto_key_len(info->alg);
    if (key_len == 0 || secup_crypto_iv_len(info->alg) == 0)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "content algorithm %lld",
                             (long long)info->alg);
    if (cek.len != key_len || info->iv.len != secup_crypto_iv_len(info->alg))
        return secup_err_set(err, SECUP_E_ARG, "CEK of %zu or IV of %zu bytes for %s", cek.len,
                             info->iv.len, secup_enc_alg_name(info->alg));
    struct secup_decryptor *d = secup_alloc(sizeof(*d));
    if (!d)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a decryption context");
    d->alg = info->alg;
    d->tag_len = secup_crypto_tag_len(info->alg);
    memcpy(d->cek, cek.ptr, cek.len);
    d->cek_len = cek.len;
    memcpy(d->iv, info->iv.ptr, info->iv.len);
    d->iv_len = info->iv.len;
    secup_rc rc = aad_for(info, d->aad, sizeof(d->aad), &d->aad_len, err);
    if (rc == SECUP_OK)
        rc = secup_crypto_cipher_new(&d->cipher, d->alg, false, cek,
                                     secup_bytes_of(d->iv, d->iv_len),
                                     secup_bytes_of(d->aad, d->aad_len), err);
    if (rc != SECUP_OK) {
        secup_decryptor_free(d);
        return rc;
    }
    *out = d;
    return SECUP_OK;
}

secup_rc secup_decryptor_new(struct secup_decryptor **out, const struct secup_enc_info *info,
                             const struct secup_recipient_key *key, struct secup_err *err)
{
    *out = NULL;
    uint8_t cek[SECUP_MAX_CEK];
    size_t cek_len = 0;
    secup_rc rc = secup_enc_info_unwrap(info, key, cek, sizeof(cek), &cek_len, NULL, err);
    if (rc == SECUP_OK)
        rc = secup_decryptor_new_cek(out, info, secup_bytes_of(cek, cek_len), err);
    secup_wipe(cek, sizeof(cek));
    return rc;
}

static secup_rc fail(struct secup_decryptor *d, secup_rc rc)
{
    d->state = DEC_FAILED;
    drop_replay_material(d);
    secup_wipe(d->held, sizeof(d->held));
    return rc;
}

secup_rc secup_decryptor_update(struct secup_decryptor *d, struct secup_bytes in, uint8_t *out,
                                size_t cap, size_t *out_len, struct secup_err *err)
{
    *out_len = 0;
    if (!d || d->state == DEC_DONE || d->state == DEC_FAILED)
        return secup_err_set(err, SECUP_E_STATE, "decryption already finished or failed");
    if (in.len == 0)
        return SECUP_OK;
    if (!out || cap < in.len)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "output of %zu bytes for %zu bytes of input",
                             cap, in.len);
    if (d->state == DEC_FRESH) {
        drop_replay_material(d);
        d->state = DEC_RUNNING;
    }
    /* The stream's end is unknown, so the newest tag_len bytes are held back as the
     * possible tag; everything before them is decrypted now. */
    size_t total = d->held_len + in.len;
    size_t release = total > d->tag_len ? total - d->tag_len : 0;
    size_t from_held = release < d->held_len ? release : d->held_len;
    size_t from_in = release - from_held;
    secup_rc rc = secup_crypto_cipher_update(d->cipher, secup_bytes_of(d->held, from_held), out,
                                             err);
    if (rc == SECUP_OK)
        rc = secup_crypto_cipher_update(d->cipher, secup_bytes_of(in.ptr, from_in),
                                        out + from_held, err);
    if (rc != SECUP_OK) {
        secup_wipe(out, release);
        return fail(d, rc);
    }
    size_t keep = d->held_len - from_held;
    memmove(d->held, d->held + from_held, keep);
    memcpy(d->held + keep, in.ptr + from_in, in.len - from_in);
    d->held_len = keep + in.len - from_in;
    d->consumed += in.len;
    *out_len = release;
    return SECUP_OK;
}

secup_rc secup_decryptor_finish(struct secup_decryptor *d, struct secup_err *err)
{
    if (!d || d->state == DEC_DONE || d->state == DEC_FAILED)
        return secup_err_set(err, SECUP_E_STATE, "decryption already finished or failed");
    drop_replay_material(d);
    if (d->held_len < d->tag_len)
        return fail(d, secup_err_set(err, SECUP_E_TRUNCATED,
                                     "payload of %llu bytes is shorter than its %zu-byte tag",
                                     (unsigned long long)d->consumed, d->tag_len));
    secup_rc rc = secup_crypto_cipher_decrypt_final(d->cipher,
                                                    secup_bytes_of(d->held, d->held_len), err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s payload", secup_enc_alg_name(d->alg));
        return fail(d, rc);
    }
    secup_wipe(d->held, sizeof(d->held));
    d->state = DEC_DONE;
    return SECUP_OK;
}

secup_rc secup_decryptor_replay(struct secup_decryptor *d, struct secup_bytes plain,
                                uint8_t *scratch, size_t cap, struct secup_err *err)
{
    if (!d || d->state != DEC_FRESH || d->cek_len == 0)
        return secup_err_set(err, SECUP_E_STATE, "replay only before the first update");
    if (plain.len == 0)
        return SECUP_OK;
    if (!scratch || cap < plain.len)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "scratch of %zu bytes for %zu bytes", cap,
                             plain.len);
    secup_rc rc = SECUP_OK;
    if (!d->regen) {
        rc = secup_crypto_cipher_new(&d->regen, d->alg, true,
                                     secup_bytes_of(d->cek, d->cek_len),
                                     secup_bytes_of(d->iv, d->iv_len),
                                     secup_bytes_of(d->aad, d->aad_len), err);
        if (rc != SECUP_OK)
            return fail(d, rc);
    }
    /* The same key and IV regenerate the original ciphertext; the decryption context then
     * absorbs it exactly as if it had been received, so the final tag covers it too. */
    rc = secup_crypto_cipher_update(d->regen, plain, scratch, err);
    if (rc == SECUP_OK)
        rc = secup_crypto_cipher_update(d->cipher, secup_bytes_of(scratch, plain.len), scratch,
                                        err);
    if (rc == SECUP_OK && !secup_ct_equal(secup_bytes_of(scratch, plain.len), plain))
        rc = secup_err_set(err, SECUP_E_CRYPTO, "replayed plaintext does not round-trip");
    secup_wipe(scratch, plain.len);
    if (rc != SECUP_OK)
        return fail(d, rc);
    d->consumed += plain.len;
    return SECUP_OK;
}

uint64_t secup_decryptor_consumed(const struct secup_decryptor *d)
{
    return d ? d->consumed : 0;
}

int64_t secup_decryptor_alg(const struct secup_decryptor *d)
{
    return d ? d->alg : 0;
}

size_t secup_decryptor_tag_len(const struct secup_decryptor *d)
{
    return d ? d->tag_len : 0;
}

secup_rc secup_enc_decrypt(struct secup_bytes info_cbor, const struct secup_recipient_key *key,
                           struct secup_bytes payload, uint8_t *out, size_t cap, size_t *out_len,
                           struct secup_err *err)
{
    *out_len = 0;
    if (!out || cap < payload.len)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "output of %zu bytes for a %zu-byte payload",
                             cap, payload.len);
    struct secup_enc_info info;
    secup_rc rc = secup_enc_info_decode(&info, info_cbor, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_decryptor *d = NULL;
    rc = secup_decryptor_new(&d, &info, key, err);
    if (rc != SECUP_OK)
        return rc;
    size_t n = 0;
    rc = secup_decryptor_update(d, payload, out, cap, &n, err);
    if (rc == SECUP_OK)
        rc = secup_decryptor_finish(d, err);
    secup_decryptor_free(d);
    if (rc != SECUP_OK) {
        secup_wipe(out, payload.len);
        return rc;
    }
    *out_len = n;
    return SECUP_OK;
}

/* ---- Producing side ---- */

struct secup_encryptor {
    struct secup_crypto_cipher *cipher;
    int64_t alg;
    bool finished;
    size_t info_len;
    uint8_t info[SECUP_MAX_ENC_INFO];
};

void secup_encryptor_free(struct secup_encryptor *e)
{
    if (!e)
        return;
    secup_crypto_cipher_free(e->cipher);
    secup_wipe(e, sizeof(*e));
    secup_free(e);
}

static secup_rc put_info(struct secup_encryptor *e, struct secup_bytes iv, struct secup_bytes cek,
                         const struct secup_enc_recipient_spec *r, size_t n,
                         const struct secup_encrypt_opts *opts, struct secup_bytes *prot,
                         struct secup_err *err)
{
    static const uint8_t prot_gcm[] = { 0xa1, 0x01, 0x01 };       /* {1: 1} */
    static const uint8_t prot_chacha[] = { 0xa1, 0x01, 0x18, 0x18 }; /* {1: 24} */
    bool aead = secup_crypto_tag_len(e->alg) != 0;
    *prot = secup_bytes_of(NULL, 0);
    if (e->alg == SECUP_COSE_ALG_A128GCM)
        *prot = secup_bytes_of(prot_gcm, sizeof(prot_gcm));
    else if (e->alg == SECUP_COSE_ALG_CHACHA20_POLY1305)
        *prot = secup_bytes_of(prot_chacha, sizeof(prot_chacha));

    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, e->info, sizeof(e->info));
    secup_cbor_put_tag(&w, SECUP_COSE_TAG_ENCRYPT);
    secup_cbor_put_array(&w, 4);
    secup_cbor_put_bstr(&w, *prot);
    /* AEAD: {5: iv}; AES-CTR (RFC 9459): {1: alg, 5: iv} with an empty protected header. */
    secup_cbor_put_map(&w, aead ? 1 : 2);
    if (!aead) {
        secup_cbor_put_int(&w, SECUP_HDR_ALG);
        secup_cbor_put_int(&w, e->alg);
    }
    secup_cbor_put_int(&w, SECUP_HDR_IV);
    secup_cbor_put_bstr(&w, iv);
    secup_cbor_put_null(&w);
    secup_cbor_put_array(&w, n);
    for (size_t i = 0; i < n; i++) {
        const struct secup_key *eph = opts && opts->ephemeral ? opts->ephemeral[i] : NULL;
        secup_rc rc = secup_cose_put_recipient(&w, &r[i], cek, eph, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "recipient %zu", i);
            return rc;
        }
    }
    if (secup_cbor_writer_finish(&w, NULL) != SECUP_OK)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE,
                             "encryption info needs %zu bytes (at most %d)", w.len,
                             SECUP_MAX_ENC_INFO);
    e->info_len = w.len;
    return SECUP_OK;
}

secup_rc secup_encryptor_new(struct secup_encryptor **out, int64_t content_alg,
                             const struct secup_enc_recipient_spec *r, size_t n,
                             const struct secup_encrypt_opts *opts, struct secup_err *err)
{
    *out = NULL;
    size_t key_len = secup_crypto_key_len(content_alg);
    size_t iv_len = secup_crypto_iv_len(content_alg);
    if (key_len == 0 || iv_len == 0)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "content algorithm %lld (A128GCM, A128CTR, A256CTR or "
                             "ChaCha20/Poly1305)", (long long)content_alg);
    if (!r || n == 0)
        return secup_err_set(err, SECUP_E_ARG, "no recipients");
    if (n > SECUP_MAX_RECIPIENTS)
        return secup_err_set(err, SECUP_E_LIMIT_ITEMS, "%zu recipients (at most %d)", n,
                             SECUP_MAX_RECIPIENTS);
    if (opts && ((opts->cek.len && opts->cek.len != key_len) ||
                 (opts->iv.len && opts->iv.len != iv_len)))
        return secup_err_set(err, SECUP_E_ARG, "CEK or IV override of the wrong length");

    struct secup_encryptor *e = secup_alloc(sizeof(*e));
    if (!e)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for an encryption context");
    e->alg = content_alg;
    uint8_t cek[SECUP_MAX_CEK];
    uint8_t iv[16];
    uint8_t aad[SECUP_ENC_AAD_MAX];
    size_t aad_len = 0;
    struct secup_bytes prot;
    secup_rc rc = SECUP_OK;
    if (opts && opts->cek.len)
        memcpy(cek, opts->cek.ptr, key_len);
    else
        rc = secup_crypto_random(cek, key_len, err);
    /* A fresh random IV per payload: the CEK is fresh too, so IV reuse under one key
     * cannot happen even for CTR. */
    if (rc == SECUP_OK && opts && opts->iv.len)
        memcpy(iv, opts->iv.ptr, iv_len);
    else if (rc == SECUP_OK)
        rc = secup_crypto_random(iv, iv_len, err);
    if (rc == SECUP_OK)
        rc = put_info(e, secup_bytes_of(iv, iv_len), secup_bytes_of(cek, key_len), r, n, opts,
                      &prot, err);
    if (rc == SECUP_OK && secup_crypto_tag_len(content_alg)) {
        rc = secup_cose_enc_structure(prot, aad, sizeof(aad), &aad_len, err);
    }
    if (rc == SECUP_OK)
        rc = secup_crypto_cipher_new(&e->cipher, content_alg, true, secup_bytes_of(cek, key_len),
                                     secup_bytes_of(iv, iv_len), secup_bytes_of(aad, aad_len),
                                     err);
    secup_wipe(cek, sizeof(cek));
    if (rc != SECUP_OK) {
        secup_encryptor_free(e);
        return rc;
    }
    *out = e;
    return SECUP_OK;
}

struct secup_bytes secup_encryptor_info(const struct secup_encryptor *e)
{
    return e ? secup_bytes_of(e->info, e->info_len) : secup_bytes_of(NULL, 0);
}

secup_rc secup_encryptor_update(struct secup_encryptor *e, struct secup_bytes in, uint8_t *out,
                                size_t cap, struct secup_err *err)
{
    if (!e || e->finished)
        return secup_err_set(err, SECUP_E_STATE, "encryption already finished");
    if (in.len == 0)
        return SECUP_OK;
    if (!out || cap < in.len)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "output of %zu bytes for %zu bytes", cap,
                             in.len);
    return secup_crypto_cipher_update(e->cipher, in, out, err);
}

secup_rc secup_encryptor_finish(struct secup_encryptor *e, uint8_t *tag, size_t cap,
                                size_t *tag_len, struct secup_err *err)
{
    *tag_len = 0;
    if (!e || e->finished)
        return secup_err_set(err, SECUP_E_STATE, "encryption already finished");
    e->finished = true;
    return secup_crypto_cipher_encrypt_final(e->cipher, tag, cap, tag_len, err);
}

/* ---- Profiles ---- */

static const struct secup_profile profiles[] = {
    { "suit-sha256-hmac-a128kw-a128ctr", -16, 5, SECUP_COSE_ALG_A128KW, SECUP_COSE_ALG_A128CTR,
      true },
    { "suit-sha256-esp256-ecdh-a128ctr", -16, -9, SECUP_COSE_ALG_ECDH_ES_A128KW,
      SECUP_COSE_ALG_A128CTR, true },
    { "suit-sha256-ed25519-ecdh-a128ctr", -16, -19, SECUP_COSE_ALG_ECDH_ES_A128KW,
      SECUP_COSE_ALG_A128CTR, true },
    { "suit-sha256-esp256-ecdh-a128gcm", -16, -9, SECUP_COSE_ALG_ECDH_ES_A128KW,
      SECUP_COSE_ALG_A128GCM, true },
    { "suit-sha256-ed25519-ecdh-chacha-poly", -16, -19, SECUP_COSE_ALG_ECDH_ES_A128KW,
      SECUP_COSE_ALG_CHACHA20_POLY1305, true },
    { "suit-sha256-hsslms-a256kw-a256ctr", -16, -46, SECUP_COSE_ALG_A256KW,
      SECUP_COSE_ALG_A256CTR, false },
};

const struct secup_profile *secup_profile_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    }
    return NULL;
}

size_t secup_profile_count(void)
{
    return sizeof(profiles) / sizeof(profiles[0]);
}

const struct secup_profile *secup_profile_at(size_t i)
{
    return i < secup_profile_count() ? &profiles[i] : NULL;
}

void secup_profile_describe(int64_t auth_alg, const struct secup_enc_info *enc, char *out,
                            size_t cap)
{
    if (enc && enc->n_recipients) {
        for (size_t i = 0; i < secup_profile_count(); i++) {
            const struct secup_profile *p = &profiles[i];
            if (p->auth_alg == auth_alg && p->enc_alg == enc->alg &&
                p->key_alg == enc->recipients[0].alg) {
                snprintf(out, cap, "%s", p->name);
                return;
            }
        }
    }
    /* COSE algorithms of authentication blocks (RFC 9053, draft-ietf-jose-fully-specified) */
    const char *a = auth_alg == -9                       ? "esp256"
                    : auth_alg == -7                     ? "es256"
                    : auth_alg == -19 || auth_alg == -8  ? "eddsa"
                    : auth_alg == 5                      ? "hmac"
                                                         : "other";
    if (enc) {
        const char *e = secup_enc_alg_name(enc->alg);
        snprintf(out, cap, "suit-sha256-%s-%s", a, e ? e : "encrypted");
    } else {
        snprintf(out, cap, "suit-sha256-%s", a);
    }
}
