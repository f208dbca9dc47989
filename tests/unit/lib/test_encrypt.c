/* lib/cose/enc_info.c, enc_keys.c, encrypt.c: SUIT_Encryption_Info vectors of
 * draft-ietf-suit-firmware-encryption decrypt to the published plaintext with the published
 * CEKs; the producing side reproduces the AES-KW vectors byte for byte and round-trips every
 * profile and recipient type; every malformed field, wrong key and damaged byte is refused
 * with its own code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cose/enc.h"
#include "crypto/crypto.h"
#include "secup/encrypt.h"
#include "testutil.h"

/* Allocation-failure injection: a strong definition of lib/util/alloc.c's weak hook.
 * fail_countdown < 0 disarms it. */
static long fail_countdown = -1;
bool secup_alloc_should_fail(size_t size);
bool secup_alloc_should_fail(size_t size)
{
    (void)size;
    if (fail_countdown < 0)
        return false;
    return fail_countdown-- == 0;
}

struct bin {
    uint8_t *ptr;
    size_t len;
};

static struct bin load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), VECTORS "%s", name);
    struct bin b;
    b.ptr = tu_read(path, &b.len);
    return b;
}

static struct bin load_hex(const char *name)
{
    struct bin t = load(name);
    char *text = malloc(t.len + 1);
    assert_non_null(text);
    memcpy(text, t.ptr, t.len);
    text[t.len] = '\0';
    struct bin b = { malloc(t.len / 2 + 1), 0 };
    assert_true(secup_hex_decode(text, b.ptr, t.len / 2 + 1, &b.len));
    free(text);
    free(t.ptr);
    return b;
}

static struct secup_bytes view(struct bin b)
{
    return secup_bytes_of(b.ptr, b.len);
}

static const uint8_t kid1[] = { 'k', 'i', 'd', '-', '1' };

struct keys {
    struct bin kek;
    struct bin plain;
    struct secup_key *p256;
    struct secup_recipient_key kw;
    struct secup_recipient_key ecdh;
};

static int setup(void **state)
{
    struct keys *k = calloc(1, sizeof(*k));
    k->kek = load_hex("keys/enc-kek-a128kw-kid-1.hex");
    k->plain = load("keys/plaintext-firmware.bin");
    k->p256 = tu_key(VECTORS "keys/enc-recipient-p256-ecdh-kid-2-private.pem");
    k->kw.kind = SECUP_RECIPIENT_KEK;
    k->kw.kek = view(k->kek);
    k->kw.kid = secup_bytes_of(kid1, sizeof(kid1));
    k->ecdh.kind = SECUP_RECIPIENT_ECDH;
    k->ecdh.priv = k->p256;
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    struct keys *k = *state;
    free(k->kek.ptr);
    free(k->plain.ptr);
    secup_key_free(k->p256);
    free(k);
    return 0;
}

/* Decrypts payload with the streaming API in pieces of `chunk` bytes. */
static secup_rc stream_decrypt(const struct secup_enc_info *info,
                               const struct secup_recipient_key *key, struct secup_bytes payload,
                               size_t chunk, uint8_t *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    struct secup_decryptor *d = NULL;
    struct secup_err err;
    secup_rc rc = secup_decryptor_new(&d, info, key, &err);
    if (rc != SECUP_OK)
        return rc;
    for (size_t off = 0; off < payload.len && rc == SECUP_OK;) {
        size_t n = payload.len - off < chunk ? payload.len - off : chunk;
        size_t got = 0;
        rc = secup_decryptor_update(d, secup_bytes_of(payload.ptr + off, n), out + *out_len,
                                    cap - *out_len, &got, &err);
        *out_len += got;
        off += n;
    }
    if (rc == SECUP_OK)
        rc = secup_decryptor_finish(d, &err);
    secup_decryptor_free(d);
    return rc;
}

/* ---- KDF context ---- */

static void test_encrypt_kdf_context_equals_spec_hex(void **state)
{
    (void)state;
    static const char want_hex[] = "842283f6f6f683f6f6f683188044a101381c5753554954205061796c6f61"
                                   "6420456e6372797074696f6e";
    static const uint8_t prot[] = { 0xa1, 0x01, 0x38, 0x1c };
    uint8_t want[128];
    size_t want_len = 0;
    assert_true(secup_hex_decode(want_hex, want, sizeof(want), &want_len));
    uint8_t got[SECUP_KDF_CONTEXT_MAX];
    size_t got_len = 0;
    assert_int_equal(secup_cose_kdf_context(secup_bytes_of(prot, sizeof(prot)), got, sizeof(got),
                                            &got_len, NULL),
                     SECUP_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* ---- Vectors ---- */

struct enc_vector {
    const char *info;
    const char *payload;
    const char *cek;
    bool ecdh;
    int64_t alg;
};

static const struct enc_vector enc_vectors[] = {
    { "enc-info-aes-kw-aes-gcm.cbor", "enc-payload-aes-kw-aes-gcm.bin", "keys/enc-cek-a128gcm.hex",
      false, SECUP_COSE_ALG_A128GCM },
    { "enc-info-es-ecdh-aes-gcm.cbor", "enc-payload-es-ecdh-aes-gcm.bin",
      "keys/enc-cek-a128gcm.hex", true, SECUP_COSE_ALG_A128GCM },
    { "enc-info-aes-kw-aes-ctr.cbor", "enc-payload-aes-kw-aes-ctr.bin", "keys/enc-cek-a128ctr.hex",
      false, SECUP_COSE_ALG_A128CTR },
    { "enc-info-es-ecdh-aes-ctr.cbor", "enc-payload-es-ecdh-aes-ctr.bin",
      "keys/enc-cek-a128ctr.hex", true, SECUP_COSE_ALG_A128CTR },
};

static void test_encrypt_vectors_unwrap_published_cek_and_decrypt_for_any_chunking(void **state)
{
    struct keys *k = *state;
    static const size_t chunks[] = { 1, 7, 16, 17, 4096, SIZE_MAX };
    for (size_t i = 0; i < ARRAY_SIZE(enc_vectors); i++) {
        const struct enc_vector *v = &enc_vectors[i];
        struct bin info_cbor = load(v->info);
        struct bin payload = load(v->payload);
        struct bin want_cek = load_hex(v->cek);
        const struct secup_recipient_key *key = v->ecdh ? &k->ecdh : &k->kw;
        struct secup_enc_info info;
        struct secup_err err;
        secup_rc rc = secup_enc_info_decode(&info, view(info_cbor), &err);
        if (rc != SECUP_OK)
            fail_msg("%s: %s", v->info, err.msg);
        assert_int_equal(info.alg, v->alg);
        assert_int_equal(info.n_recipients, 1);

        uint8_t cek[SECUP_MAX_CEK];
        size_t cek_len = 0;
        size_t used = 99;
        rc = secup_enc_info_unwrap(&info, key, cek, sizeof(cek), &cek_len, &used, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: unwrap: %s", v->info, err.msg);
        assert_int_equal(used, 0);
        assert_int_equal(cek_len, want_cek.len);
        assert_memory_equal(cek, want_cek.ptr, cek_len);

        for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
            uint8_t out[256];
            size_t out_len = 0;
            rc = stream_decrypt(&info, key, view(payload), chunks[c], out, sizeof(out), &out_len);
            assert_int_equal(rc, SECUP_OK);
            assert_int_equal(out_len, k->plain.len);
            assert_memory_equal(out, k->plain.ptr, out_len);
        }
        uint8_t out[256];
        size_t out_len = 0;
        assert_int_equal(secup_enc_decrypt(view(info_cbor), key, view(payload), out, sizeof(out),
                                           &out_len, &err),
                         SECUP_OK);
        assert_int_equal(out_len, k->plain.len);
        assert_memory_equal(out, k->plain.ptr, out_len);
        free(info_cbor.ptr);
        free(payload.ptr);
        free(want_cek.ptr);
    }
}

/* Finds the last value of parameter `key` in the manifest's parameter pool. */
static bool find_param(const struct secup_manifest *m, int64_t key, struct secup_bytes *out)
{
    bool found = false;
    for (uint32_t i = 0; i < m->n_params; i++) {
        if (m->params[i].key == key) {
            *out = m->params[i].value.bytes;
            found = true;
        }
    }
    return found;
}

static void test_encrypt_manifest_vectors_decrypt_to_plaintext(void **state)
{
    struct keys *k = *state;
    static const struct {
        const char *file;
        bool ecdh;
        bool content;
    } manifests[] = {
        { "enc-manifest-aes-kw-content.cbor", false, true },
        { "enc-manifest-aes-kw.cbor", false, false },
        { "enc-manifest-aes-kw-slot.cbor", false, false },
        { "enc-manifest-es-ecdh-content.cbor", true, true },
        { "enc-manifest-es-ecdh-dependency.cbor", true, true },
    };
    struct bin fetched = load("enc-payload-aes-kw-aes-gcm.bin");
    struct secup_envelope *env = malloc(sizeof(*env));
    for (size_t i = 0; i < ARRAY_SIZE(manifests); i++) {
        struct bin cbor = load(manifests[i].file);
        struct secup_err err;
        secup_rc rc = secup_envelope_decode(env, view(cbor), NULL, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: %s", manifests[i].file, err.msg);
        struct secup_bytes info = { NULL, 0 };
        struct secup_bytes content = { NULL, 0 };
        assert_true(find_param(&env->manifest, SECUP_SUIT_PARAM_ENCRYPTION_INFO, &info));
        bool has_content = find_param(&env->manifest, SECUP_SUIT_PARAM_CONTENT, &content);
        assert_int_equal(has_content, manifests[i].content);
        struct secup_bytes payload = has_content ? content : view(fetched);
        uint8_t out[256];
        size_t out_len = 0;
        rc = secup_enc_decrypt(info, manifests[i].ecdh ? &k->ecdh : &k->kw, payload, out,
                               sizeof(out), &out_len, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: %s", manifests[i].file, err.msg);
        assert_int_equal(out_len, k->plain.len);
        assert_memory_equal(out, k->plain.ptr, out_len);
        free(cbor.ptr);
    }
    free(env);
    free(fetched.ptr);
}

/* The producing side reproduces the AES-KW vectors exactly from their CEK and IV (AES-KW
 * is deterministic; ECDH-ES vectors use an unpublished ephemeral key). */
static void test_encrypt_producer_reproduces_aes_kw_vectors(void **state)
{
    struct keys *k = *state;
    static const struct {
        const char *info, *payload, *cek;
        int64_t alg;
    } kat[] = {
        { "enc-info-aes-kw-aes-gcm.cbor", "enc-payload-aes-kw-aes-gcm.bin",
          "keys/enc-cek-a128gcm.hex", SECUP_COSE_ALG_A128GCM },
        { "enc-info-aes-kw-aes-ctr.cbor", "enc-payload-aes-kw-aes-ctr.bin",
          "keys/enc-cek-a128ctr.hex", SECUP_COSE_ALG_A128CTR },
    };
    for (size_t i = 0; i < ARRAY_SIZE(kat); i++) {
        struct bin want_info = load(kat[i].info);
        struct bin want_payload = load(kat[i].payload);
        struct bin cek = load_hex(kat[i].cek);
        struct secup_enc_info parsed;
        assert_int_equal(secup_enc_info_decode(&parsed, view(want_info), NULL), SECUP_OK);
        struct secup_enc_recipient_spec spec = { SECUP_COSE_ALG_A128KW, view(k->kek),
                                                 secup_bytes_of(kid1, sizeof(kid1)), NULL };
        struct secup_encrypt_opts opts = { view(cek), parsed.iv, NULL };
        struct secup_encryptor *e = NULL;
        struct secup_err err;
        assert_int_equal(secup_encryptor_new(&e, kat[i].alg, &spec, 1, &opts, &err), SECUP_OK);
        struct secup_bytes info = secup_encryptor_info(e);
        assert_int_equal(info.len, want_info.len);
        assert_memory_equal(info.ptr, want_info.ptr, info.len);
        uint8_t out[256];
        assert_int_equal(secup_encryptor_update(e, view(k->plain), out, sizeof(out), &err),
                         SECUP_OK);
        size_t tag_len = 0;
        assert_int_equal(secup_encryptor_finish(e, out + k->plain.len, sizeof(out) - k->plain.len,
                                                &tag_len, &err),
                         SECUP_OK);
        assert_int_equal(k->plain.len + tag_len, want_payload.len);
        assert_memory_equal(out, want_payload.ptr, want_payload.len);
        secup_encryptor_free(e);
        free(want_info.ptr);
        free(want_payload.ptr);
        free(cek.ptr);
    }
}

/* ---- Round trips ---- */

struct party {
    struct secup_enc_recipient_spec spec;
    struct secup_recipient_key key;
};

struct parties {
    uint8_t kek16[16];
    uint8_t kek32[32];
    struct secup_key *p256;
    struct secup_key *x25519;
    struct party p[4]; /* A128KW, A256KW, ECDH P-256, ECDH X25519 */
};

static const uint8_t kid_a[] = "device-class-a";
static const uint8_t kid_b[] = "single-device-b";
static const uint8_t kid_p[] = "p256-device";

static void parties_init(struct parties *ps)
{
    memset(ps, 0, sizeof(*ps));
    for (size_t i = 0; i < sizeof(ps->kek16); i++)
        ps->kek16[i] = (uint8_t)(0x10 + i);
    for (size_t i = 0; i < sizeof(ps->kek32); i++)
        ps->kek32[i] = (uint8_t)(0x80 + i);
    assert_int_equal(secup_key_generate(&ps->p256, SECUP_KEY_P256, NULL), SECUP_OK);
    assert_int_equal(secup_key_generate(&ps->x25519, SECUP_KEY_X25519, NULL), SECUP_OK);
    struct secup_bytes ka = secup_bytes_of(kid_a, sizeof(kid_a) - 1);
    struct secup_bytes kb = secup_bytes_of(kid_b, sizeof(kid_b) - 1);
    struct secup_bytes kp = secup_bytes_of(kid_p, sizeof(kid_p) - 1);
    ps->p[0].spec = (struct secup_enc_recipient_spec){ SECUP_COSE_ALG_A128KW,
                                                        secup_bytes_of(ps->kek16, 16), ka, NULL };
    ps->p[0].key = (struct secup_recipient_key){ SECUP_RECIPIENT_KEK,
                                                 secup_bytes_of(ps->kek16, 16), ka, NULL };
    ps->p[1].spec = (struct secup_enc_recipient_spec){ SECUP_COSE_ALG_A256KW,
                                                        secup_bytes_of(ps->kek32, 32), kb, NULL };
    ps->p[1].key = (struct secup_recipient_key){ SECUP_RECIPIENT_KEK,
                                                 secup_bytes_of(ps->kek32, 32), kb, NULL };
    ps->p[2].spec = (struct secup_enc_recipient_spec){ SECUP_COSE_ALG_ECDH_ES_A128KW,
                                                        secup_bytes_of(NULL, 0), kp, ps->p256 };
    ps->p[2].key = (struct secup_recipient_key){ SECUP_RECIPIENT_ECDH, secup_bytes_of(NULL, 0),
                                                 kp, ps->p256 };
    ps->p[3].spec = (struct secup_enc_recipient_spec){ SECUP_COSE_ALG_ECDH_ES_A128KW,
                                                        secup_bytes_of(NULL, 0),
                                                        secup_bytes_of(NULL, 0), ps->x25519 };
    ps->p[3].key = (struct secup_recipient_key){ SECUP_RECIPIENT_ECDH, secup_bytes_of(NULL, 0),
                                                 secup_bytes_of(NULL, 0), ps->x25519 };
}

static void parties_clear(struct parties *ps)
{
    secup_key_free(ps->p256);
    secup_key_free(ps->x25519);
}

/* Encrypts plain for the given specs; out receives ciphertext || tag. */
static struct secup_encryptor *encrypt_for(int64_t alg, const struct secup_enc_recipient_spec *s,
                                           size_t n, struct secup_bytes plain, uint8_t *out,
                                           size_t cap, size_t *out_len)
{
    struct secup_encryptor *e = NULL;
    struct secup_err err;
    if (secup_encryptor_new(&e, alg, s, n, NULL, &err) != SECUP_OK)
        fail_msg("encryptor: %s", err.msg);
    assert_int_equal(secup_encryptor_update(e, plain, out, cap, &err), SECUP_OK);
    size_t tag_len = 0;
    assert_int_equal(secup_encryptor_finish(e, out + plain.len, cap - plain.len, &tag_len, &err),
                     SECUP_OK);
    *out_len = plain.len + tag_len;
    return e;
}

static const int64_t content_algs[] = { SECUP_COSE_ALG_A128GCM, SECUP_COSE_ALG_A128CTR,
                                        SECUP_COSE_ALG_A256CTR,
                                        SECUP_COSE_ALG_CHACHA20_POLY1305 };

static void test_encrypt_round_trip_every_alg_with_all_recipient_types(void **state)
{
    (void)state;
    struct parties ps;
    parties_init(&ps);
    uint8_t plain[5000];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i * 31 + 7);
    struct secup_enc_recipient_spec specs[4];
    for (size_t i = 0; i < 4; i++)
        specs[i] = ps.p[i].spec;
    for (size_t a = 0; a < ARRAY_SIZE(content_algs); a++) {
        uint8_t ct[sizeof(plain) + 16];
        size_t ct_len = 0;
        struct secup_encryptor *e = encrypt_for(content_algs[a], specs, 4,
                                                secup_bytes_of(plain, sizeof(plain)), ct,
                                                sizeof(ct), &ct_len);
        assert_int_equal(ct_len, sizeof(plain) + secup_crypto_tag_len(content_algs[a]));
        struct secup_enc_info info;
        struct secup_err err;
        assert_int_equal(secup_enc_info_decode(&info, secup_encryptor_info(e), &err), SECUP_OK);
        assert_int_equal(info.alg, content_algs[a]);
        assert_int_equal(info.n_recipients, 4);
        for (size_t r = 0; r < 4; r++) {
            uint8_t out[sizeof(plain) + 16];
            size_t out_len = 0;
            secup_rc rc = stream_decrypt(&info, &ps.p[r].key, secup_bytes_of(ct, ct_len), 777,
                                         out, sizeof(out), &out_len);
            if (rc != SECUP_OK)
                fail_msg("alg %lld recipient %zu: %s", (long long)content_algs[a], r,
                         secup_rc_name(rc));
            assert_int_equal(out_len, sizeof(plain));
            assert_memory_equal(out, plain, sizeof(plain));
            size_t used = 99;
            uint8_t cek[SECUP_MAX_CEK];
            size_t cek_len = 0;
            assert_int_equal(secup_enc_info_unwrap(&info, &ps.p[r].key, cek, sizeof(cek), &cek_len,
                                                   &used, &err),
                             SECUP_OK);
            assert_int_equal(used, r);
        }
        secup_encryptor_free(e);
    }
    parties_clear(&ps);
}

static void test_encrypt_round_trip_every_supported_profile(void **state)
{
    (void)state;
    struct parties ps;
    parties_init(&ps);
    static const uint8_t plain[] = "profile round trip payload";
    size_t supported = 0;
    for (size_t i = 0; i < secup_profile_count(); i++) {
        const struct secup_profile *p = secup_profile_at(i);
        assert_ptr_equal(secup_profile_find(p->name), p);
        assert_int_equal(p->digest_alg, SECUP_COSE_ALG_SHA256);
        if (!p->supported)
            continue;
        supported++;
        /* ESP256 profiles encrypt for P-256 devices, Ed25519 profiles for X25519 devices. */
        const struct party *who = p->key_alg == SECUP_COSE_ALG_A128KW ? &ps.p[0]
                                  : p->auth_alg == SECUP_COSE_ALG_ESP256 ? &ps.p[2]
                                                                          : &ps.p[3];
        uint8_t ct[sizeof(plain) + 16];
        size_t ct_len = 0;
        struct secup_encryptor *e = encrypt_for(p->enc_alg, &who->spec, 1,
                                                secup_bytes_of(plain, sizeof(plain)), ct,
                                                sizeof(ct), &ct_len);
        uint8_t out[sizeof(ct)];
        size_t out_len = 0;
        struct secup_err err;
        assert_int_equal(secup_enc_decrypt(secup_encryptor_info(e), &who->key,
                                           secup_bytes_of(ct, ct_len), out, sizeof(out), &out_len,
                                           &err),
                         SECUP_OK);
        assert_int_equal(out_len, sizeof(plain));
        assert_memory_equal(out, plain, sizeof(plain));
        secup_encryptor_free(e);
    }
    assert_int_equal(supported, 5);
    assert_null(secup_profile_find("suit-sha256-nope"));
    parties_clear(&ps);
}

/* Servers and trackers name an image's profile with secup_profile_describe(): an MTI
 * profile by its name, any other combination by a name built from its algorithms. */
static void test_encrypt_profile_describe_names_mti_and_other_combinations(void **state)
{
    (void)state;
    char name[96];
    for (size_t i = 0; i < secup_profile_count(); i++) {
        const struct secup_profile *p = secup_profile_at(i);
        if (p->enc_alg == 0)
            continue; /* signed-only profiles carry no encryption info */
        struct secup_enc_info enc = { .alg = p->enc_alg, .n_recipients = 1 };
        enc.recipients[0].alg = p->key_alg;
        secup_profile_describe(p->auth_alg, &enc, name, sizeof(name));
        assert_string_equal(name, p->name);
    }
    secup_profile_describe(-9 /* ESP256 */, NULL, name, sizeof(name));
    assert_string_equal(name, "suit-sha256-esp256");
    secup_profile_describe(-19, NULL, name, sizeof(name));
    assert_string_equal(name, "suit-sha256-eddsa");
    secup_profile_describe(12345, NULL, name, sizeof(name));
    assert_string_equal(name, "suit-sha256-other");
    /* an encryption no profile has: ESP256 signatures over A128GCM for an A128KW key */
    struct secup_enc_info odd = { .alg = SECUP_COSE_ALG_A128GCM, .n_recipients = 1 };
    odd.recipients[0].alg = SECUP_COSE_ALG_A128KW;
    secup_profile_describe(-9, &odd, name, sizeof(name));
    assert_string_equal(name, "suit-sha256-esp256-A128GCM");
    /* a small buffer is cut, never overrun */
    char tiny[8];
    secup_profile_describe(-9 /* ESP256 */, NULL, tiny, sizeof(tiny));
    assert_string_equal(tiny, "suit-sh");
}

/* ---- Wrong keys and damaged bytes ---- */

static secup_rc try_decrypt(struct secup_bytes info, const struct secup_recipient_key *key,
                            struct secup_bytes payload)
{
    uint8_t out[512];
    size_t out_len = 0;
    struct secup_err err;
    secup_rc rc = secup_enc_decrypt(info, key, payload, out, sizeof(out), &out_len, &err);
    if (rc != SECUP_OK) {
        assert_int_equal(out_len, 0);
        assert_int_equal(err.rc, rc);
        assert_true(err.msg[0] != '\0');
    }
    return rc;
}

static void test_encrypt_wrong_keys_are_refused_with_their_codes(void **state)
{
    struct keys *k = *state;
    struct bin kw_info = load("enc-info-aes-kw-aes-gcm.cbor");
    struct bin kw_payload = load("enc-payload-aes-kw-aes-gcm.bin");
    struct bin dh_info = load("enc-info-es-ecdh-aes-gcm.cbor");
    struct bin dh_payload = load("enc-payload-es-ecdh-aes-gcm.bin");

    uint8_t bad_kek[16];
    memcpy(bad_kek, k->kek.ptr, 16);
    bad_kek[5] ^= 1;
    struct secup_recipient_key wrong_kek = k->kw;
    wrong_kek.kek = secup_bytes_of(bad_kek, 16);
    assert_int_equal(try_decrypt(view(kw_info), &wrong_kek, view(kw_payload)), SECUP_E_UNWRAP);

    static const uint8_t kid9[] = { 'k', 'i', 'd', '-', '9' };
    struct secup_recipient_key wrong_kid = k->kw;
    wrong_kid.kid = secup_bytes_of(kid9, sizeof(kid9));
    assert_int_equal(try_decrypt(view(kw_info), &wrong_kid, view(kw_payload)),
                     SECUP_E_NO_RECIPIENT);

    uint8_t kek32[32] = { 0 };
    struct secup_recipient_key wrong_size = k->kw;
    wrong_size.kek = secup_bytes_of(kek32, 32);
    assert_int_equal(try_decrypt(view(kw_info), &wrong_size, view(kw_payload)),
                     SECUP_E_NO_RECIPIENT);

    struct secup_key *other = NULL;
    assert_int_equal(secup_key_generate(&other, SECUP_KEY_P256, NULL), SECUP_OK);
    struct secup_recipient_key wrong_dh = { SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 }, other };
    assert_int_equal(try_decrypt(view(dh_info), &wrong_dh, view(dh_payload)), SECUP_E_UNWRAP);
    secup_key_free(other);

    struct secup_key *x = NULL;
    assert_int_equal(secup_key_generate(&x, SECUP_KEY_X25519, NULL), SECUP_OK);
    struct secup_recipient_key wrong_curve = { SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 }, x };
    assert_int_equal(try_decrypt(view(dh_info), &wrong_curve, view(dh_payload)),
                     SECUP_E_NO_RECIPIENT);
    secup_key_free(x);

    /* A KEK for an ECDH-only info, and an ECDH key for a KEK-only info. */
    assert_int_equal(try_decrypt(view(dh_info), &k->kw, view(dh_payload)), SECUP_E_NO_RECIPIENT);
    assert_int_equal(try_decrypt(view(kw_info), &k->ecdh, view(kw_payload)), SECUP_E_NO_RECIPIENT);

    /* A public-only key cannot decrypt. */
    struct secup_recipient_key no_priv = { SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 }, NULL };
    assert_int_equal(try_decrypt(view(dh_info), &no_priv, view(dh_payload)), SECUP_E_ARG);

    free(kw_info.ptr);
    free(kw_payload.ptr);
    free(dh_info.ptr);
    free(dh_payload.ptr);
}

/* Offsets of the IV and wrapped key inside enc-info-aes-kw-aes-gcm.cbor. */
static size_t find_sub(struct bin hay, struct secup_bytes needle)
{
    for (size_t i = 0; i + needle.len <= hay.len; i++) {
        if (memcmp(hay.ptr + i, needle.ptr, needle.len) == 0)
            return i;
    }
    fail_msg("needle not found");
    return 0;
}

static void test_encrypt_damaged_aead_payload_or_info_gives_specific_codes(void **state)
{
    struct keys *k = *state;
    static const char *pairs[][2] = {
        { "enc-info-aes-kw-aes-gcm.cbor", "enc-payload-aes-kw-aes-gcm.bin" },
        { "enc-info-es-ecdh-aes-gcm.cbor", "enc-payload-es-ecdh-aes-gcm.bin" },
    };
    for (size_t p = 0; p < ARRAY_SIZE(pairs); p++) {
        const struct secup_recipient_key *key = p == 0 ? &k->kw : &k->ecdh;
        struct bin info = load(pairs[p][0]);
        struct bin payload = load(pairs[p][1]);
        struct secup_enc_info parsed;
        assert_int_equal(secup_enc_info_decode(&parsed, view(info), NULL), SECUP_OK);
        size_t iv_at = find_sub(info, parsed.iv);
        size_t wrapped_at = find_sub(info, parsed.recipients[0].wrapped);

        /* Every byte of ciphertext or tag. */
        for (size_t i = 0; i < payload.len; i++) {
            payload.ptr[i] ^= 0x01;
            assert_int_equal(try_decrypt(view(info), key, view(payload)), SECUP_E_TAG);
            payload.ptr[i] ^= 0x01;
        }
        for (size_t i = 0; i < parsed.iv.len; i++) {
            info.ptr[iv_at + i] ^= 0x80;
            assert_int_equal(try_decrypt(view(info), key, view(payload)), SECUP_E_TAG);
            info.ptr[iv_at + i] ^= 0x80;
        }
        for (size_t i = 0; i < parsed.recipients[0].wrapped.len; i++) {
            info.ptr[wrapped_at + i] ^= 0x04;
            assert_int_equal(try_decrypt(view(info), key, view(payload)), SECUP_E_UNWRAP);
            info.ptr[wrapped_at + i] ^= 0x04;
        }
        /* Truncated: a shorter stream is not authentic; shorter than a tag is truncated. */
        for (size_t len = 0; len < payload.len; len++) {
            secup_rc rc = try_decrypt(view(info), key, secup_bytes_of(payload.ptr, len));
            assert_int_equal(rc, len < SECUP_ENC_TAG_LEN ? SECUP_E_TRUNCATED : SECUP_E_TAG);
        }
        /* Appended bytes shift the tag. */
        uint8_t longer[128];
        memcpy(longer, payload.ptr, payload.len);
        for (size_t extra = 1; extra <= 20; extra++) {
            memset(longer + payload.len, 0, extra);
            assert_int_equal(try_decrypt(view(info), key, secup_bytes_of(longer, payload.len + extra)),
                             SECUP_E_TAG);
        }
        assert_int_equal(try_decrypt(view(info), key, view(payload)), SECUP_OK);
        free(info.ptr);
        free(payload.ptr);
    }
}

/* Every single-byte change of an AEAD info or payload is refused (never SECUP_OK), and every
 * truncation of an info is a decode error. */
static void test_encrypt_bit_flip_and_truncation_sweeps_never_succeed(void **state)
{
    struct keys *k = *state;
    for (size_t v = 0; v < ARRAY_SIZE(enc_vectors); v++) {
        struct bin info = load(enc_vectors[v].info);
        struct bin payload = load(enc_vectors[v].payload);
        const struct secup_recipient_key *key = enc_vectors[v].ecdh ? &k->ecdh : &k->kw;
        bool aead = enc_vectors[v].alg == SECUP_COSE_ALG_A128GCM;
        for (size_t len = 0; len < info.len; len++) {
            struct secup_enc_info parsed;
            struct secup_err err;
            secup_rc rc = secup_enc_info_decode(&parsed, secup_bytes_of(info.ptr, len), &err);
            assert_int_not_equal(rc, SECUP_OK);
            assert_true(rc >= 200 && rc < 300);
        }
        for (size_t i = 0; i < info.len; i++) {
            for (unsigned bit = 0; bit < 8; bit++) {
                info.ptr[i] ^= (uint8_t)(1u << bit);
                secup_rc rc = try_decrypt(view(info), key, view(payload));
                /* CTR has no integrity (its IV is unprotected): there the image digest is the
                 * check, exercised in test_stream. Everything else must fail. */
                if (aead)
                    assert_int_not_equal(rc, SECUP_OK);
                info.ptr[i] ^= (uint8_t)(1u << bit);
            }
        }
        free(info.ptr);
        free(payload.ptr);
    }
}

/* ---- Malformed fields: one case per field ---- */

struct bad_info {
    const char *what;
    const char *hex;
    secup_rc rc;
};

/* Built from enc-info-aes-kw-aes-gcm (A = its recipient) by hand. */
#define GCM_PROT "43a10101"
#define GCM_UNPROT "a1054cf14aab9d81d51f7ad943fe87"
#define KW_RCPT "8340a2012204456b69642d31581875603ffc9518d794713c8ca8a115a7fb32565a6d59534d62"
#define CTR_UNPROT "a20139fffd0550dae613b2e0dc55f4322be38bdba9dc68"
#define P256_KEY                                                                              \
    "a40102200121582073024f415aa51529a66ccefd88f3f62a734492ff45f6ad37fd2888e73eaf19da2258204005" \
    "b48a6fd091aa6abfe3cfbeede88b347e521d43405fdbd7d2cff0ebc21b26"
#define WRAPPED "5818a06b8e6550f308712b1df044b21b7d11d9b22792f1de0997"

static const struct bad_info bad_infos[] = {
    { "empty input", "", SECUP_E_CBOR },
    { "untagged", "84" GCM_PROT GCM_UNPROT "f681" KW_RCPT, SECUP_E_TYPE },
    { "wrong tag", "d86184" GCM_PROT GCM_UNPROT "f681" KW_RCPT, SECUP_E_VALUE },
    { "array of 3", "d86083" GCM_PROT GCM_UNPROT "f6", SECUP_E_VALUE },
    { "not an array", "d860a0", SECUP_E_TYPE },
    { "trailing byte", "d86084" GCM_PROT GCM_UNPROT "f681" KW_RCPT "00", SECUP_E_TRAILING },
    { "indefinite array", "d8609f" GCM_PROT GCM_UNPROT "f681" KW_RCPT "ff", SECUP_E_INDEFINITE },
    { "protected not bstr", "d86084a10101" GCM_UNPROT "f681" KW_RCPT, SECUP_E_TYPE },
    { "protected not a map", "d860844101" GCM_UNPROT "f681" KW_RCPT, SECUP_E_TYPE },
    { "protected with trailing", "d8608444a1010100" GCM_UNPROT "f681" KW_RCPT, SECUP_E_TRAILING },
    { "unprotected not a map", "d86084" GCM_PROT "80f681" KW_RCPT, SECUP_E_TYPE },
    { "attached ciphertext", "d86084" GCM_PROT GCM_UNPROT "4100" "81" KW_RCPT,
      SECUP_E_UNSUPPORTED },
    { "ciphertext wrong type", "d86084" GCM_PROT GCM_UNPROT "00" "81" KW_RCPT, SECUP_E_TYPE },
    { "no algorithm", "d8608440" GCM_UNPROT "f681" KW_RCPT, SECUP_E_MISSING },
    { "unknown content alg", "d8608443a10103" GCM_UNPROT "f681" KW_RCPT, SECUP_E_UNSUPPORTED },
    { "text alg", "d8608445a101624131" GCM_UNPROT "f681" KW_RCPT, SECUP_E_UNSUPPORTED },
    { "GCM alg unprotected", "d8608440a20101054cf14aab9d81d51f7ad943fe87f681" KW_RCPT,
      SECUP_E_VALUE },
    { "alg in both headers", "d86084" GCM_PROT "a20101054cf14aab9d81d51f7ad943fe87f681" KW_RCPT,
      SECUP_E_DUPLICATE },
    { "duplicate label", "d86084" GCM_PROT "a2054cf14aab9d81d51f7ad943fe87054cf14aab9d81d51f7ad943fe87f681" KW_RCPT,
      SECUP_E_DUPLICATE },
    { "crit header", "d8608446a20101028101" GCM_UNPROT "f681" KW_RCPT, SECUP_E_UNSUPPORTED },
    { "partial IV", "d86084" GCM_PROT "a20641000" "54cf14aab9d81d51f7ad943fe87f681" KW_RCPT,
      SECUP_E_UNSUPPORTED },
    { "missing IV", "d86084" GCM_PROT "a0f681" KW_RCPT, SECUP_E_MISSING },
    { "IV too short", "d86084" GCM_PROT "a1054bf14aab9d81d51f7ad943fef681" KW_RCPT, SECUP_E_VALUE },
    { "IV not bstr", "d86084" GCM_PROT "a10501f681" KW_RCPT, SECUP_E_TYPE },
    { "CTR with protected alg", "d8608445a10139fffd" "a10550dae613b2e0dc55f4322be38bdba9dc68"
      "f681" KW_RCPT, SECUP_E_VALUE },
    { "CTR with 12-byte IV", "d8608440a20139fffd054cf14aab9d81d51f7ad943fe87f681" KW_RCPT,
      SECUP_E_VALUE },
    { "recipients not array", "d86084" GCM_PROT GCM_UNPROT "f6a0", SECUP_E_TYPE },
    { "no recipients", "d86084" GCM_PROT GCM_UNPROT "f680", SECUP_E_MISSING },
    { "9 recipients", "d86084" GCM_PROT GCM_UNPROT "f689" KW_RCPT KW_RCPT KW_RCPT KW_RCPT KW_RCPT
      KW_RCPT KW_RCPT KW_RCPT KW_RCPT, SECUP_E_LIMIT_ITEMS },
    { "recipient of 2", "d86084" GCM_PROT GCM_UNPROT "f6818240a0", SECUP_E_VALUE },
    { "nested recipients", "d86084" GCM_PROT GCM_UNPROT "f6818440a0f680", SECUP_E_UNSUPPORTED },
    { "recipient without alg", "d86084" GCM_PROT GCM_UNPROT "f6818340a104456b69642d31"
      "581875603ffc9518d794713c8ca8a115a7fb32565a6d59534d62", SECUP_E_MISSING },
    { "recipient unknown alg", "d86084" GCM_PROT GCM_UNPROT "f6818340a2012504456b69642d31"
      "581875603ffc9518d794713c8ca8a115a7fb32565a6d59534d62", SECUP_E_UNSUPPORTED },
    { "AES-KW with protected", "d86084" GCM_PROT GCM_UNPROT "f6818343a10122a104456b69642d31"
      "581875603ffc9518d794713c8ca8a115a7fb32565a6d59534d62", SECUP_E_VALUE },
    { "wrapped key wrong length", "d86084" GCM_PROT GCM_UNPROT "f6818340a2012204456b69642d31"
      "581075603ffc9518d794713c8ca8a115a7fb", SECUP_E_VALUE },
    { "wrapped key nil", "d86084" GCM_PROT GCM_UNPROT "f6818340a2012204456b69642d31f6",
      SECUP_E_UNSUPPORTED },
    { "kid not bstr", "d86084" GCM_PROT GCM_UNPROT "f6818340a2012204656b69642d31"
      "581875603ffc9518d794713c8ca8a115a7fb32565a6d59534d62", SECUP_E_TYPE },
    { "ECDH without ephemeral key", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca0" WRAPPED,
      SECUP_E_MISSING },
    { "ECDH key not a map", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca12001" WRAPPED,
      SECUP_E_TYPE },
    { "ECDH key with d", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca120a2010123420000" WRAPPED,
      SECUP_E_VALUE },
    { "ECDH key without y", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca120a3010220012158"
      "2073024f415aa51529a66ccefd88f3f62a734492ff45f6ad37fd2888e73eaf19da" WRAPPED,
      SECUP_E_MISSING },
    { "ECDH compressed point", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca120a4010220012158"
      "2073024f415aa51529a66ccefd88f3f62a734492ff45f6ad37fd2888e73eaf19da22f5" WRAPPED,
      SECUP_E_UNSUPPORTED },
    { "ECDH unknown curve", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca120a30102200221"
      "41aa" WRAPPED, SECUP_E_UNSUPPORTED },
    { "ECDH X25519 with y", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca120a40101200421"
      "5820" "0000000000000000000000000000000000000000000000000000000000000000" "2241aa" WRAPPED,
      SECUP_E_VALUE },
    { "ECDH key x short", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca120a4010220012141aa"
      "2241aa" WRAPPED, SECUP_E_VALUE },
    { "ECDH key duplicate label", "d86084" GCM_PROT GCM_UNPROT "f6818344a101381ca120a2010101"
      "02" WRAPPED, SECUP_E_DUPLICATE },
};

static void test_encrypt_malformed_fields_are_refused_with_precise_codes(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    for (size_t i = 0; i < ARRAY_SIZE(bad_infos); i++) {
        size_t len = 0;
        if (!secup_hex_decode(bad_infos[i].hex, buf, sizeof(buf), &len))
            fail_msg("%s: bad hex in the test table", bad_infos[i].what);
        struct secup_enc_info info;
        struct secup_err err;
        secup_err_clear(&err);
        secup_rc rc = secup_enc_info_decode(&info, secup_bytes_of(buf, len), &err);
        if (rc != bad_infos[i].rc)
            fail_msg("%s: got %s (%s), expected %s", bad_infos[i].what, secup_rc_name(rc), err.msg,
                     secup_rc_name(bad_infos[i].rc));
        assert_true(strncmp(err.msg, "encryption info", 15) == 0);
        assert_int_equal(info.n_recipients, 0);
    }
}

/* A point off the curve is refused before any key agreement (invalid-curve attacks). */
static void test_encrypt_ephemeral_point_off_curve_is_refused(void **state)
{
    struct keys *k = *state;
    struct bin info = load("enc-info-es-ecdh-aes-gcm.cbor");
    struct bin payload = load("enc-payload-es-ecdh-aes-gcm.bin");
    struct secup_enc_info parsed;
    assert_int_equal(secup_enc_info_decode(&parsed, view(info), NULL), SECUP_OK);
    size_t y_at = find_sub(info, parsed.recipients[0].eph_y);
    info.ptr[y_at + 31] ^= 0x01;
    assert_int_equal(try_decrypt(view(info), &k->ecdh, view(payload)), SECUP_E_VALUE);
    free(info.ptr);
    free(payload.ptr);
}

/* ---- Producing side: argument checks ---- */

static void test_encrypt_producer_refuses_bad_specs(void **state)
{
    (void)state;
    struct parties ps;
    parties_init(&ps);
    struct secup_encryptor *e = NULL;
    struct secup_err err;
    struct secup_enc_recipient_spec s = ps.p[0].spec;
    s.kid = secup_bytes_of(NULL, 0);
    assert_int_equal(secup_encryptor_new(&e, SECUP_COSE_ALG_A128GCM, &s, 1, NULL, &err),
                     SECUP_E_ARG);
    s = ps.p[0].spec;
    s.alg = SECUP_COSE_ALG_A256KW;
    assert_int_equal(secup_encryptor_new(&e, SECUP_COSE_ALG_A128GCM, &s, 1, NULL, &err),
                     SECUP_E_ARG);
    s = ps.p[2].spec;
    s.pub = NULL;
    assert_int_equal(secup_encryptor_new(&e, SECUP_COSE_ALG_A128GCM, &s, 1, NULL, &err),
                     SECUP_E_ARG);
    assert_int_equal(secup_encryptor_new(&e, 3, &ps.p[0].spec, 1, NULL, &err),
                     SECUP_E_UNSUPPORTED);
    assert_int_equal(secup_encryptor_new(&e, SECUP_COSE_ALG_A128GCM, &ps.p[0].spec, 0, NULL, &err),
                     SECUP_E_ARG);
    struct secup_enc_recipient_spec many[SECUP_MAX_RECIPIENTS + 1];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = ps.p[0].spec;
    assert_int_equal(secup_encryptor_new(&e, SECUP_COSE_ALG_A128GCM, many, ARRAY_SIZE(many), NULL,
                                         &err),
                     SECUP_E_LIMIT_ITEMS);
    assert_null(e);
    /* The maximum: eight ECDH-ES P-256 recipients with 64-byte kids still fit. */
    static const uint8_t long_kid[SECUP_MAX_KID] = { 1 };
    for (size_t i = 0; i < SECUP_MAX_RECIPIENTS; i++) {
        many[i] = ps.p[2].spec;
        many[i].kid = secup_bytes_of(long_kid, sizeof(long_kid));
    }
    assert_int_equal(secup_encryptor_new(&e, SECUP_COSE_ALG_A128GCM, many, SECUP_MAX_RECIPIENTS,
                                         NULL, &err),
                     SECUP_OK);
    struct secup_enc_info info;
    assert_int_equal(secup_enc_info_decode(&info, secup_encryptor_info(e), &err), SECUP_OK);
    assert_int_equal(info.n_recipients, SECUP_MAX_RECIPIENTS);
    secup_encryptor_free(e);
    parties_clear(&ps);
}

/* ---- Allocation failures ---- */

static void test_encrypt_allocation_failure_sweep_fails_cleanly(void **state)
{
    struct keys *k = *state;
    struct bin info_cbor = load("enc-info-aes-kw-aes-gcm.cbor");
    struct secup_enc_info info;
    assert_int_equal(secup_enc_info_decode(&info, view(info_cbor), NULL), SECUP_OK);
    bool succeeded = false;
    for (long n = 0; n < 16 && !succeeded; n++) {
        struct secup_decryptor *d = NULL;
        struct secup_encryptor *e = NULL;
        fail_countdown = n;
        secup_rc rc = secup_decryptor_new(&d, &info, &k->kw, NULL);
        struct secup_enc_recipient_spec s = { SECUP_COSE_ALG_A128KW, view(k->kek),
                                              secup_bytes_of(kid1, sizeof(kid1)), NULL };
        secup_rc rc2 = secup_encryptor_new(&e, SECUP_COSE_ALG_A128GCM, &s, 1, NULL, NULL);
        bool armed = fail_countdown >= 0;
        fail_countdown = -1;
        if (rc != SECUP_OK) {
            assert_int_equal(rc, SECUP_E_NOMEM);
            assert_null(d);
        }
        if (rc2 != SECUP_OK) {
            assert_int_equal(rc2, SECUP_E_NOMEM);
            assert_null(e);
        }
        succeeded = armed && rc == SECUP_OK && rc2 == SECUP_OK;
        secup_decryptor_free(d);
        secup_encryptor_free(e);
    }
    assert_true(succeeded);
    free(info_cbor.ptr);
}

/* ---- State misuse ---- */

static void test_encrypt_decryptor_refuses_use_after_finish_and_late_replay(void **state)
{
    struct keys *k = *state;
    struct bin info_cbor = load("enc-info-aes-kw-aes-gcm.cbor");
    struct bin payload = load("enc-payload-aes-kw-aes-gcm.bin");
    struct secup_enc_info info;
    assert_int_equal(secup_enc_info_decode(&info, view(info_cbor), NULL), SECUP_OK);
    struct secup_decryptor *d = NULL;
    assert_int_equal(secup_decryptor_new(&d, &info, &k->kw, NULL), SECUP_OK);
    uint8_t out[128];
    size_t n = 0;
    assert_int_equal(secup_decryptor_update(d, secup_bytes_of(payload.ptr, 10), out, 5, &n, NULL),
                     SECUP_E_BUF_SMALL);
    assert_int_equal(secup_decryptor_update(d, secup_bytes_of(payload.ptr, 10), out, 10, &n, NULL),
                     SECUP_OK);
    assert_int_equal(secup_decryptor_replay(d, secup_bytes_of(k->plain.ptr, 4), out, sizeof(out),
                                            NULL),
                     SECUP_E_STATE);
    assert_int_equal(secup_decryptor_update(d, secup_bytes_of(payload.ptr + 10, payload.len - 10),
                                            out, sizeof(out), &n, NULL),
                     SECUP_OK);
    assert_int_equal(secup_decryptor_finish(d, NULL), SECUP_OK);
    assert_int_equal(secup_decryptor_consumed(d), payload.len);
    assert_int_equal(secup_decryptor_finish(d, NULL), SECUP_E_STATE);
    assert_int_equal(secup_decryptor_update(d, view(payload), out, sizeof(out), &n, NULL),
                     SECUP_E_STATE);
    secup_decryptor_free(d);
    free(info_cbor.ptr);
    free(payload.ptr);
}

/* Replaying the plaintext of a prefix brings a fresh context to the state of one that
 * decrypted that prefix, for every cut and every algorithm. */
static void test_encrypt_replay_resumes_at_any_offset(void **state)
{
    (void)state;
    struct parties ps;
    parties_init(&ps);
    uint8_t plain[300];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i ^ 0x5a);
    for (size_t a = 0; a < ARRAY_SIZE(content_algs); a++) {
        uint8_t ct[sizeof(plain) + 16];
        size_t ct_len = 0;
        struct secup_encryptor *e = encrypt_for(content_algs[a], &ps.p[0].spec, 1,
                                                secup_bytes_of(plain, sizeof(plain)), ct,
                                                sizeof(ct), &ct_len);
        struct secup_enc_info info;
        assert_int_equal(secup_enc_info_decode(&info, secup_encryptor_info(e), NULL), SECUP_OK);
        for (size_t cut = 0; cut <= sizeof(plain); cut += 13) {
            struct secup_decryptor *d = NULL;
            assert_int_equal(secup_decryptor_new(&d, &info, &ps.p[0].key, NULL), SECUP_OK);
            uint8_t scratch[sizeof(plain)];
            /* in two pieces, to cover repeated replays */
            assert_int_equal(secup_decryptor_replay(d, secup_bytes_of(plain, cut / 2), scratch,
                                                    sizeof(scratch), NULL),
                             SECUP_OK);
            assert_int_equal(secup_decryptor_replay(d, secup_bytes_of(plain + cut / 2, cut - cut / 2),
                                                    scratch, sizeof(scratch), NULL),
                             SECUP_OK);
            assert_int_equal(secup_decryptor_consumed(d), cut);
            uint8_t out[sizeof(ct)];
            size_t n = 0;
            assert_int_equal(secup_decryptor_update(d, secup_bytes_of(ct + cut, ct_len - cut), out,
                                                    sizeof(out), &n, NULL),
                             SECUP_OK);
            assert_int_equal(n, sizeof(plain) - cut);
            assert_memory_equal(out, plain + cut, n);
            assert_int_equal(secup_decryptor_finish(d, NULL), SECUP_OK);
            secup_decryptor_free(d);
        }
        secup_encryptor_free(e);
    }
    parties_clear(&ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encrypt_kdf_context_equals_spec_hex),
        cmocka_unit_test(test_encrypt_vectors_unwrap_published_cek_and_decrypt_for_any_chunking),
        cmocka_unit_test(test_encrypt_manifest_vectors_decrypt_to_plaintext),
        cmocka_unit_test(test_encrypt_producer_reproduces_aes_kw_vectors),
        cmocka_unit_test(test_encrypt_round_trip_every_alg_with_all_recipient_types),
        cmocka_unit_test(test_encrypt_round_trip_every_supported_profile),
        cmocka_unit_test(test_encrypt_profile_describe_names_mti_and_other_combinations),
        cmocka_unit_test(test_encrypt_wrong_keys_are_refused_with_their_codes),
        cmocka_unit_test(test_encrypt_damaged_aead_payload_or_info_gives_specific_codes),
        cmocka_unit_test(test_encrypt_bit_flip_and_truncation_sweeps_never_succeed),
        cmocka_unit_test(test_encrypt_malformed_fields_are_refused_with_precise_codes),
        cmocka_unit_test(test_encrypt_ephemeral_point_off_curve_is_refused),
        cmocka_unit_test(test_encrypt_producer_refuses_bad_specs),
        cmocka_unit_test(test_encrypt_allocation_failure_sweep_fails_cleanly),
        cmocka_unit_test(test_encrypt_decryptor_refuses_use_after_finish_and_late_replay),
        cmocka_unit_test(test_encrypt_replay_resumes_at_any_offset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
