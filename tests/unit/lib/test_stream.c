/* lib/stream/: the install pipeline (decrypt -> decompress -> digest -> slot). Vectors and
 * generated payloads install identically for any chunking; every kind of bad input fails
 * with its own code and leaves the stream incomplete; an install cut at many offsets
 * resumes from its checkpoint to the same image. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "secup/stream.h"
#include "testutil.h"

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

static struct secup_bytes view(struct bin b)
{
    return secup_bytes_of(b.ptr, b.len);
}

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
    memcpy(text, t.ptr, t.len);
    text[t.len] = '\0';
    struct bin b = { malloc(t.len / 2 + 1), 0 };
    assert_true(secup_hex_decode(text, b.ptr, t.len / 2 + 1, &b.len));
    free(text);
    free(t.ptr);
    return b;
}

static const uint8_t kid1[] = { 'k', 'i', 'd', '-', '1' };

struct fx {
    char dir[64];
    char slot_path[128];
    char tmp_path[128];
    struct bin kek;
    struct secup_key *p256;   /* the vectors' ECDH recipient */
    struct secup_key *x25519;
    uint8_t kek32[32];
    struct secup_recipient_key kw;
    struct secup_recipient_key kw256;
    struct secup_recipient_key ecdh;
    struct secup_recipient_key ecdh_x;
    struct secup_enc_recipient_spec spec_kw;
    struct secup_enc_recipient_spec spec_kw256;
    struct secup_enc_recipient_spec spec_x;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/secup-stream-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->slot_path, sizeof(f->slot_path), "%s/slot", f->dir);
    snprintf(f->tmp_path, sizeof(f->tmp_path), "%s/tmp", f->dir);
    f->kek = load_hex("keys/enc-kek-a128kw-kid-1.hex");
    f->p256 = tu_key(VECTORS "keys/enc-recipient-p256-ecdh-kid-2-private.pem");
    assert_int_equal(secup_key_generate(&f->x25519, SECUP_KEY_X25519, NULL), SECUP_OK);
    for (size_t i = 0; i < sizeof(f->kek32); i++)
        f->kek32[i] = (uint8_t)(3 * i + 1);
    struct secup_bytes k1 = secup_bytes_of(kid1, sizeof(kid1));
    f->kw = (struct secup_recipient_key){ SECUP_RECIPIENT_KEK, view(f->kek), k1, NULL };
    f->kw256 = (struct secup_recipient_key){ SECUP_RECIPIENT_KEK,
                                             secup_bytes_of(f->kek32, 32), k1, NULL };
    f->ecdh = (struct secup_recipient_key){ SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 },
                                            f->p256 };
    f->ecdh_x = (struct secup_recipient_key){ SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 },
                                              f->x25519 };
    f->spec_kw = (struct secup_enc_recipient_spec){ SECUP_COSE_ALG_A128KW, view(f->kek), k1,
                                                    NULL };
    f->spec_kw256 = (struct secup_enc_recipient_spec){ SECUP_COSE_ALG_A256KW,
                                                       secup_bytes_of(f->kek32, 32), k1, NULL };
    f->spec_x = (struct secup_enc_recipient_spec){ SECUP_COSE_ALG_ECDH_ES_A128KW, { NULL, 0 },
                                                   { NULL, 0 }, f->x25519 };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    unlink(f->slot_path);
    unlink(f->tmp_path);
    rmdir(f->dir);
    free(f->kek.ptr);
    secup_key_free(f->p256);
    secup_key_free(f->x25519);
    free(f);
    return 0;
}

/* A payload made by the producing side, with what a manifest would say about it. */
struct made {
    struct bin payload;
    struct secup_payload_result res;
};

static void write_file(const char *path, struct secup_bytes data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data.ptr, data.len), (ssize_t)data.len);
    close(fd);
}

static struct made make(struct fx *f, struct secup_bytes image, int64_t enc_alg,
                        const struct secup_enc_recipient_spec *spec,
                        enum secup_compression comp)
{
    struct made m;
    memset(&m, 0, sizeof(m));
    write_file(f->tmp_path, image);
    int in = open(f->tmp_path, O_RDONLY);
    char out_path[160];
    snprintf(out_path, sizeof(out_path), "%s.out", f->tmp_path);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(in >= 0 && out >= 0);
    struct secup_payload_spec ps = { comp, 0, enc_alg, spec, spec ? 1 : 0, NULL };
    struct secup_err err;
    if (secup_payload_build_fd(in, out, &ps, &m.res, &err) != SECUP_OK)
        fail_msg("building a payload: %s", err.msg);
    close(in);
    close(out);
    m.payload.ptr = tu_read(out_path, &m.payload.len);
    unlink(out_path);
    assert_int_equal(m.payload.len, m.res.payload_size);
    assert_int_equal(m.res.image_size, image.len);
    return m;
}

static struct secup_stream_cfg cfg_of(const struct made *m, const struct secup_recipient_key *key,
                                      enum secup_compression comp, size_t chunk)
{
    struct secup_stream_cfg c;
    memset(&c, 0, sizeof(c));
    c.chunk = chunk;
    c.encryption_info = secup_bytes_of(m->res.enc_info, m->res.enc_info_len);
    c.key = m->res.enc_info_len ? key : NULL;
    c.compression = comp;
    c.image_size = m->res.image_size;
    c.image_digest.alg = SECUP_COSE_ALG_SHA256;
    c.image_digest.bytes = secup_bytes_of(m->res.image_digest, 32);
    return c;
}

/* Larger than every image of these tests: a slot's capacity is always bounded. */
#define SLOT_CAP (64u * 1024u * 1024u)

static void open_slot(struct fx *f, struct secup_slot *slot, bool fresh)
{
    struct secup_err err;
    unsigned flags = SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | (fresh ? SECUP_SLOT_TRUNCATE : 0u);
    if (secup_slot_file_open(slot, f->slot_path, SLOT_CAP, flags, &err) != SECUP_OK)
        fail_msg("slot: %s", err.msg);
}

/* Installs payload into a fresh slot writing `piece` bytes at a time. On success the slot
 * must hold exactly `image`; on failure the stream must not be complete. */
static secup_rc install(struct fx *f, const struct secup_stream_cfg *cfg,
                        struct secup_bytes payload, size_t piece, struct secup_bytes image,
                        struct secup_err *err)
{
    struct secup_slot slot;
    open_slot(f, &slot, true);
    struct secup_stream *s = NULL;
    secup_rc rc = secup_stream_new(&s, cfg, &slot, err);
    if (rc != SECUP_OK) {
        assert_null(s);
        slot.ops->close(&slot);
        return rc;
    }
    for (size_t off = 0; off < payload.len && rc == SECUP_OK;) {
        size_t n = payload.len - off < piece ? payload.len - off : piece;
        rc = secup_stream_write(s, secup_bytes_of(payload.ptr + off, n), err);
        off += n;
    }
    if (rc == SECUP_OK)
        rc = secup_stream_finish(s, err);
    assert_int_equal(secup_stream_is_complete(s), rc == SECUP_OK);
    if (rc == SECUP_OK) {
        assert_int_equal(secup_stream_written(s), image.len);
        assert_int_equal(secup_stream_consumed(s), payload.len);
        uint8_t *got = malloc(image.len + 1);
        assert_int_equal(slot.ops->read(&slot, 0, got, image.len, NULL), SECUP_OK);
        assert_memory_equal(got, image.ptr, image.len);
        free(got);
        struct stat st;
        assert_int_equal(stat(f->slot_path, &st), 0);
        assert_int_equal((size_t)st.st_size, image.len);
    } else {
        assert_int_equal(err->rc, rc);
        /* A failed stream stays failed. */
        assert_int_equal(secup_stream_finish(s, NULL), SECUP_E_STATE);
        assert_int_equal(secup_stream_write(s, secup_bytes_of("x", 1), NULL), SECUP_E_STATE);
        assert_false(secup_stream_is_complete(s));
    }
    secup_stream_free(s);
    slot.ops->close(&slot);
    return rc;
}

static struct bin pattern_image(size_t len, unsigned seed)
{
    /* Compressible but not trivial: text-like runs with a varying counter. */
    struct bin b = { malloc(len ? len : 1), len };
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        if (i % 64 == 0)
            x = x * 1103515245u + 12345u;
        b.ptr[i] = (uint8_t)("firmware block "[i % 15] ^ ((x >> 16) & (i % 7 == 0 ? 0xff : 0)));
    }
    return b;
}

/* ---- Vectors ---- */

static void test_stream_vectors_install_for_any_chunking(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *info, *payload;
        bool ecdh;
    } v[] = {
        { "enc-info-aes-kw-aes-gcm.cbor", "enc-payload-aes-kw-aes-gcm.bin", false },
        { "enc-info-es-ecdh-aes-gcm.cbor", "enc-payload-es-ecdh-aes-gcm.bin", true },
        { "enc-info-aes-kw-aes-ctr.cbor", "enc-payload-aes-kw-aes-ctr.bin", false },
        { "enc-info-es-ecdh-aes-ctr.cbor", "enc-payload-es-ecdh-aes-ctr.bin", true },
    };
    static const size_t pieces[] = { 1, 7, 4096, SIZE_MAX };
    struct bin plain = load("keys/plaintext-firmware.bin");
    uint8_t digest[32];
    assert_int_equal(secup_crypto_sha256(view(plain), digest, NULL), SECUP_OK);
    for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
        struct bin info = load(v[i].info);
        struct bin payload = load(v[i].payload);
        struct secup_stream_cfg cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.encryption_info = view(info);
        cfg.key = v[i].ecdh ? &f->ecdh : &f->kw;
        cfg.image_size = plain.len;
        cfg.image_digest.alg = SECUP_COSE_ALG_SHA256;
        cfg.image_digest.bytes = secup_bytes_of(digest, 32);
        for (size_t p = 0; p < ARRAY_SIZE(pieces); p++) {
            struct secup_err err;
            secup_rc rc = install(f, &cfg, view(payload), pieces[p], view(plain), &err);
            if (rc != SECUP_OK)
                fail_msg("%s piece %zu: %s", v[i].info, pieces[p], err.msg);
        }
        free(info.ptr);
        free(payload.ptr);
    }
    free(plain.ptr);
}

/* The encrypted manifests through the pipeline with their own image-size and image-digest
 * parameters. */
static bool find_param(const struct secup_manifest *m, int64_t key, const struct secup_param **out)
{
    bool found = false;
    for (uint32_t i = 0; i < m->n_params; i++) {
        if (m->params[i].key == key) {
            *out = &m->params[i];
            found = true;
        }
    }
    return found;
}

static void test_stream_manifest_vectors_install_with_their_size_and_digest(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *file;
        bool ecdh;
    } manifests[] = {
        { "enc-manifest-aes-kw-content.cbor", false },
        { "enc-manifest-aes-kw.cbor", false },
        { "enc-manifest-aes-kw-slot.cbor", false },
        { "enc-manifest-es-ecdh-content.cbor", true },
        { "enc-manifest-es-ecdh-dependency.cbor", true },
    };
    struct bin plain = load("keys/plaintext-firmware.bin");
    struct bin fetched = load("enc-payload-aes-kw-aes-gcm.bin");
    uint8_t plain_digest[32];
    assert_int_equal(secup_crypto_sha256(view(plain), plain_digest, NULL), SECUP_OK);
    struct secup_envelope *env = malloc(sizeof(*env));
    for (size_t i = 0; i < ARRAY_SIZE(manifests); i++) {
        struct bin cbor = load(manifests[i].file);
        struct secup_err err;
        assert_int_equal(secup_envelope_decode(env, view(cbor), NULL, &err), SECUP_OK);
        const struct secup_manifest *m = &env->manifest;
        struct secup_envelope *dep = NULL;
        const struct secup_param *info = NULL;
        const struct secup_param *content = NULL;
        const struct secup_param *digest = NULL;
        const struct secup_param *size = NULL;
        assert_true(find_param(m, SECUP_SUIT_PARAM_ENCRYPTION_INFO, &info));
        bool has_content = find_param(m, SECUP_SUIT_PARAM_CONTENT, &content);
        struct secup_stream_cfg cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.encryption_info = info->value.bytes;
        cfg.key = manifests[i].ecdh ? &f->ecdh : &f->kw;
        if (env->n_integrated) {
            /* The dependency example: the dependency image-matches the plaintext. */
            dep = malloc(sizeof(*dep));
            assert_int_equal(secup_envelope_decode(dep, env->integrated[0].data, NULL, &err),
                             SECUP_OK);
            assert_true(find_param(&dep->manifest, SECUP_SUIT_PARAM_IMAGE_DIGEST, &digest));
            assert_true(find_param(&dep->manifest, SECUP_SUIT_PARAM_IMAGE_SIZE, &size));
            cfg.image_size = size->value.u;
            assert_int_equal(secup_digest_decode(&cfg.image_digest, digest->value.bytes, &err),
                             SECUP_OK);
        } else {
            /* The other examples write without an image-match: use the plaintext's. */
            cfg.image_size = plain.len;
            cfg.image_digest.alg = SECUP_COSE_ALG_SHA256;
            cfg.image_digest.bytes = secup_bytes_of(plain_digest, 32);
        }
        struct secup_bytes payload = has_content ? content->value.bytes : view(fetched);
        secup_rc rc = install(f, &cfg, payload, 7, view(plain), &err);
        if (rc != SECUP_OK)
            fail_msg("%s: %s", manifests[i].file, err.msg);
        free(dep);
        free(cbor.ptr);
    }
    free(env);
    free(plain.ptr);
    free(fetched.ptr);
}

/* ---- Chunk-size invariance for every algorithm, with and without compression ---- */

static const int64_t algs[] = { 0, SECUP_COSE_ALG_A128GCM, SECUP_COSE_ALG_A128CTR,
                                SECUP_COSE_ALG_A256CTR, SECUP_COSE_ALG_CHACHA20_POLY1305 };

static const struct secup_enc_recipient_spec *spec_for(struct fx *f, int64_t alg,
                                                       const struct secup_recipient_key **key)
{
    switch (alg) {
    case SECUP_COSE_ALG_A256CTR: *key = &f->kw256; return &f->spec_kw256;
    case SECUP_COSE_ALG_CHACHA20_POLY1305: *key = &f->ecdh_x; return &f->spec_x;
    case 0: *key = NULL; return NULL;
    default: *key = &f->kw; return &f->spec_kw;
    }
}

static void test_stream_same_result_for_any_chunking(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(150000, 1);
    struct bin small = pattern_image(3000, 2);
    static const size_t pieces[] = { 7, 4096, SIZE_MAX };
    static const size_t chunks[] = { SECUP_STREAM_CHUNK_MIN, 4096, 0 };
    for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
        for (int comp = 0; comp <= 1; comp++) {
            const struct secup_recipient_key *key = NULL;
            const struct secup_enc_recipient_spec *spec = spec_for(f, algs[a], &key);
            enum secup_compression c = comp ? SECUP_COMPRESSION_ZSTD : SECUP_COMPRESSION_NONE;
            struct made m = make(f, view(image), algs[a], spec, c);
            if (comp)
                assert_true(m.payload.len < image.len / 2);
            for (size_t k = 0; k < ARRAY_SIZE(chunks); k++) {
                struct secup_stream_cfg cfg = cfg_of(&m, key, c, chunks[k]);
                for (size_t p = 0; p < ARRAY_SIZE(pieces); p++) {
                    struct secup_err err;
                    secup_rc rc = install(f, &cfg, view(m.payload), pieces[p], view(image), &err);
                    if (rc != SECUP_OK)
                        fail_msg("alg %lld comp %d chunk %zu piece %zu: %s", (long long)algs[a],
                                 comp, chunks[k], pieces[p], err.msg);
                }
            }
            free(m.payload.ptr);
            /* One byte at a time, on a smaller image. */
            m = make(f, view(small), algs[a], spec, c);
            struct secup_stream_cfg cfg = cfg_of(&m, key, c, 0);
            struct secup_err err;
            assert_int_equal(install(f, &cfg, view(m.payload), 1, view(small), &err), SECUP_OK);
            free(m.payload.ptr);
        }
    }
    free(image.ptr);
    free(small.ptr);
}

/* An empty image is a valid (if odd) install. */
static void test_stream_empty_image_installs(void **state)
{
    struct fx *f = *state;
    for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
        for (int comp = 0; comp <= 1; comp++) {
            const struct secup_recipient_key *key = NULL;
            const struct secup_enc_recipient_spec *spec = spec_for(f, algs[a], &key);
            enum secup_compression c = comp ? SECUP_COMPRESSION_ZSTD : SECUP_COMPRESSION_NONE;
            struct made m = make(f, secup_bytes_of(NULL, 0), algs[a], spec, c);
            struct secup_stream_cfg cfg = cfg_of(&m, key, c, 0);
            struct secup_err err;
            secup_rc rc = install(f, &cfg, view(m.payload), 5, secup_bytes_of(NULL, 0), &err);
            if (rc != SECUP_OK)
                fail_msg("alg %lld comp %d: %s", (long long)algs[a], comp, err.msg);
            free(m.payload.ptr);
        }
    }
}

/* ---- Bad input: each its own code, never complete ---- */

static secup_rc install_bad(struct fx *f, const struct secup_stream_cfg *cfg,
                            struct secup_bytes payload, struct secup_bytes image)
{
    struct secup_err err;
    secup_err_clear(&err);
    secup_rc rc = install(f, cfg, payload, 4096, image, &err);
    if (rc != SECUP_OK)
        assert_true(err.msg[0] != '\0');
    return rc;
}

static void test_stream_wrong_key_or_kid_fails_before_writing(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(5000, 3);
    struct made m = make(f, view(image), SECUP_COSE_ALG_A128GCM, &f->spec_kw,
                         SECUP_COMPRESSION_NONE);
    uint8_t bad[16];
    memcpy(bad, f->kek.ptr, 16);
    bad[0] ^= 0x80;
    struct secup_recipient_key wrong = f->kw;
    wrong.kek = secup_bytes_of(bad, 16);
    struct secup_stream_cfg cfg = cfg_of(&m, &wrong, SECUP_COMPRESSION_NONE, 0);
    assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), SECUP_E_UNWRAP);
    static const uint8_t kid2[] = { 'k', 'i', 'd', '-', '2' };
    wrong = f->kw;
    wrong.kid = secup_bytes_of(kid2, sizeof(kid2));
    cfg = cfg_of(&m, &wrong, SECUP_COMPRESSION_NONE, 0);
    assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), SECUP_E_NO_RECIPIENT);
    cfg = cfg_of(&m, &f->ecdh, SECUP_COMPRESSION_NONE, 0);
    assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), SECUP_E_NO_RECIPIENT);
    free(m.payload.ptr);

    /* ECDH with the wrong private key. */
    m = make(f, view(image), SECUP_COSE_ALG_CHACHA20_POLY1305, &f->spec_x, SECUP_COMPRESSION_NONE);
    struct secup_key *other = NULL;
    assert_int_equal(secup_key_generate(&other, SECUP_KEY_X25519, NULL), SECUP_OK);
    struct secup_recipient_key wrong_dh = { SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 },
                                            other };
    cfg = cfg_of(&m, &wrong_dh, SECUP_COMPRESSION_NONE, 0);
    assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), SECUP_E_UNWRAP);
    secup_key_free(other);

    /* A flipped wrapped key (last byte of the info is the wrapped key's). */
    m.res.enc_info[m.res.enc_info_len - 1] ^= 0x01;
    cfg = cfg_of(&m, &f->ecdh_x, SECUP_COMPRESSION_NONE, 0);
    assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), SECUP_E_UNWRAP);
    free(m.payload.ptr);
    free(image.ptr);
}

/* Truncation at every length, appended bytes, flipped bytes anywhere. */
static void test_stream_truncated_appended_and_flipped_payloads_have_their_codes(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(700, 4);
    for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
        const struct secup_recipient_key *key = NULL;
        const struct secup_enc_recipient_spec *spec = spec_for(f, algs[a], &key);
        bool aead = algs[a] == SECUP_COSE_ALG_A128GCM ||
                    algs[a] == SECUP_COSE_ALG_CHACHA20_POLY1305;
        struct made m = make(f, view(image), algs[a], spec, SECUP_COMPRESSION_NONE);
        struct secup_stream_cfg cfg = cfg_of(&m, key, SECUP_COMPRESSION_NONE, 256);
        for (size_t len = 0; len < m.payload.len; len += (len < 40 || len > 660) ? 1 : 13)
            assert_int_equal(install_bad(f, &cfg, secup_bytes_of(m.payload.ptr, len), view(image)),
                             SECUP_E_TRUNCATED);
        uint8_t *longer = malloc(m.payload.len + 64);
        memcpy(longer, m.payload.ptr, m.payload.len);
        for (size_t extra = 1; extra <= 40; extra += 3) {
            memset(longer + m.payload.len, 0xa5, extra);
            assert_int_equal(install_bad(f, &cfg, secup_bytes_of(longer, m.payload.len + extra),
                                         view(image)),
                             SECUP_E_OVERLONG);
        }
        free(longer);
        for (size_t i = 0; i < m.payload.len; i += (i < 8 || i + 20 > m.payload.len) ? 1 : 37) {
            m.payload.ptr[i] ^= 0x10;
            secup_rc want = aead ? SECUP_E_TAG : SECUP_E_DIGEST;
            assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), want);
            m.payload.ptr[i] ^= 0x10;
        }
        if (algs[a] != 0) {
            /* Flipped IV: the AEADs' tags catch it, for CTR the image digest does. */
            struct secup_enc_info info;
            assert_int_equal(secup_enc_info_decode(&info, cfg.encryption_info, NULL), SECUP_OK);
            size_t iv_at = (size_t)(info.iv.ptr - m.res.enc_info);
            m.res.enc_info[iv_at + 3] ^= 0x01;
            assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)),
                             aead ? SECUP_E_TAG : SECUP_E_DIGEST);
            m.res.enc_info[iv_at + 3] ^= 0x01;
        }
        assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), SECUP_OK);
        free(m.payload.ptr);
    }
    free(image.ptr);
}

/* The same with compression: the frame tells truncation and appended bytes apart. */
static void test_stream_compressed_payload_damage_has_its_codes(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(20000, 5);
    for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
        const struct secup_recipient_key *key = NULL;
        const struct secup_enc_recipient_spec *spec = spec_for(f, algs[a], &key);
        bool aead = algs[a] == SECUP_COSE_ALG_A128GCM ||
                    algs[a] == SECUP_COSE_ALG_CHACHA20_POLY1305;
        struct made m = make(f, view(image), algs[a], spec, SECUP_COMPRESSION_ZSTD);
        struct secup_stream_cfg cfg = cfg_of(&m, key, SECUP_COMPRESSION_ZSTD, 0);
        for (size_t len = 0; len < m.payload.len; len += 1 + len / 4) {
            secup_rc rc = install_bad(f, &cfg, secup_bytes_of(m.payload.ptr, len), view(image));
            /* Without the plaintext size an AEAD cannot tell a cut tag from a bad one. */
            if (aead)
                assert_true(rc == SECUP_E_TAG || rc == SECUP_E_TRUNCATED);
            else
                assert_int_equal(rc, SECUP_E_TRUNCATED);
        }
        if (!aead) {
            uint8_t *longer = malloc(m.payload.len + 8);
            memcpy(longer, m.payload.ptr, m.payload.len);
            for (size_t extra = 1; extra <= 8; extra++) {
                memset(longer + m.payload.len, 0, extra);
                assert_int_equal(install_bad(f, &cfg, secup_bytes_of(longer, m.payload.len + extra),
                                             view(image)),
                                 SECUP_E_OVERLONG);
            }
            free(longer);
        }
        for (size_t i = 0; i < m.payload.len; i += 1 + i / 3) {
            m.payload.ptr[i] ^= 0x01;
            secup_rc rc = install_bad(f, &cfg, view(m.payload), view(image));
            assert_int_not_equal(rc, SECUP_OK);
            if (aead)
                assert_true(rc == SECUP_E_TAG || rc == SECUP_E_COMPRESSED || rc == SECUP_E_BOMB ||
                            rc == SECUP_E_TRUNCATED || rc == SECUP_E_OVERLONG ||
                            rc == SECUP_E_LIMIT || rc == SECUP_E_DIGEST);
            m.payload.ptr[i] ^= 0x01;
        }
        free(m.payload.ptr);
    }
    free(image.ptr);
}

static void test_stream_decompression_bomb_is_refused(void **state)
{
    struct fx *f = *state;
    size_t big = 4u * 1024 * 1024;
    struct bin zeros = { calloc(1, big), big };
    for (size_t a = 0; a < 3; a++) {
        const struct secup_recipient_key *key = NULL;
        const struct secup_enc_recipient_spec *spec = spec_for(f, algs[a], &key);
        struct made m = make(f, view(zeros), algs[a], spec, SECUP_COMPRESSION_ZSTD);
        assert_true(m.payload.len < 2000);
        /* The manifest claims a small image; its digest is whatever the author claims. */
        struct secup_stream_cfg cfg = cfg_of(&m, key, SECUP_COMPRESSION_ZSTD, 0);
        cfg.image_size = 1000;
        assert_int_equal(install_bad(f, &cfg, view(m.payload), secup_bytes_of(zeros.ptr, 1000)),
                         SECUP_E_BOMB);
        free(m.payload.ptr);
    }
    free(zeros.ptr);
}

static void test_stream_image_larger_than_declared_is_refused(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(3000, 6);
    for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
        const struct secup_recipient_key *key = NULL;
        const struct secup_enc_recipient_spec *spec = spec_for(f, algs[a], &key);
        struct made m = make(f, view(image), algs[a], spec, SECUP_COMPRESSION_NONE);
        struct secup_stream_cfg cfg = cfg_of(&m, key, SECUP_COMPRESSION_NONE, 0);
        cfg.image_size = image.len - 1; /* the digest is the whole image's */
        assert_int_equal(install_bad(f, &cfg, view(m.payload), view(image)), SECUP_E_SIZE);
        free(m.payload.ptr);
    }
    free(image.ptr);
}

static void test_stream_bad_compressed_frames_are_refused(void **state)
{
    struct fx *f = *state;
    uint8_t digest[32] = { 0 };
    struct secup_stream_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.compression = SECUP_COMPRESSION_ZSTD;
    cfg.image_size = 100;
    cfg.image_digest.alg = SECUP_COSE_ALG_SHA256;
    cfg.image_digest.bytes = secup_bytes_of(digest, 32);
    /* A frame header asking for a 1 GiB window (descriptor 0x00, window byte 0xa0). */
    static const uint8_t huge_window[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x00, 0x00, 0x00 };
    assert_int_equal(install_bad(f, &cfg, secup_bytes_of(huge_window, sizeof(huge_window)),
                                 secup_bytes_of(NULL, 0)),
                     SECUP_E_LIMIT);
    static const uint8_t garbage[] = "this is not a zstd frame";
    assert_int_equal(install_bad(f, &cfg, secup_bytes_of(garbage, sizeof(garbage)),
                                 secup_bytes_of(NULL, 0)),
                     SECUP_E_COMPRESSED);
    assert_int_equal(install_bad(f, &cfg, secup_bytes_of(NULL, 0), secup_bytes_of(NULL, 0)),
                     SECUP_E_TRUNCATED);
}

/* ---- Resumption ---- */

/* Installs the payload cut at `cut`: the first stream is dropped after a checkpoint (as if
 * power failed), a second one resumes from the saved checkpoint and completes. */
static secup_rc cut_and_resume(struct fx *f, const struct secup_stream_cfg *cfg,
                               struct secup_bytes payload, size_t cut, struct secup_bytes image,
                               size_t tamper_at)
{
    struct secup_err err;
    struct secup_slot slot;
    open_slot(f, &slot, true);
    struct secup_stream *s = NULL;
    assert_int_equal(secup_stream_new(&s, cfg, &slot, &err), SECUP_OK);
    for (size_t off = 0; off < cut;) {
        size_t n = cut - off < 100 ? cut - off : 100;
        assert_int_equal(secup_stream_write(s, secup_bytes_of(payload.ptr + off, n), &err),
                         SECUP_OK);
        off += n;
    }
    struct secup_stream_checkpoint cp;
    assert_int_equal(secup_stream_checkpoint(s, &cp, &err), SECUP_OK);
    uint8_t saved[SECUP_STREAM_CHECKPOINT_LEN];
    secup_stream_checkpoint_encode(&cp, saved);
    /* Some more data after the checkpoint, then the power cut. */
    size_t more = payload.len - cut < 50 ? payload.len - cut : 50;
    assert_int_equal(secup_stream_write(s, secup_bytes_of(payload.ptr + cut, more), &err),
                     SECUP_OK);
    assert_false(secup_stream_is_complete(s));
    secup_stream_free(s);
    slot.ops->close(&slot);

    open_slot(f, &slot, false);
    if (tamper_at != SIZE_MAX) {
        uint8_t b = 0;
        assert_int_equal(slot.ops->read(&slot, tamper_at, &b, 1, NULL), SECUP_OK);
        b ^= 0x40;
        assert_int_equal(slot.ops->write(&slot, tamper_at, secup_bytes_of(&b, 1), NULL), SECUP_OK);
    }
    struct secup_stream_checkpoint back;
    assert_int_equal(secup_stream_checkpoint_decode(&back, secup_bytes_of(saved, sizeof(saved)),
                                                    &err),
                     SECUP_OK);
    assert_int_equal(secup_stream_new(&s, cfg, &slot, &err), SECUP_OK);
    secup_rc rc = secup_stream_resume(s, &back, &err);
    assert_int_equal(rc, SECUP_OK);
    assert_true(back.in_offset <= cut);
    assert_int_equal(secup_stream_consumed(s), back.in_offset);
    size_t from = (size_t)back.in_offset;
    for (size_t off = from; off < payload.len && rc == SECUP_OK;) {
        size_t n = payload.len - off < 333 ? payload.len - off : 333;
        rc = secup_stream_write(s, secup_bytes_of(payload.ptr + off, n), &err);
        off += n;
    }
    if (rc == SECUP_OK)
        rc = secup_stream_finish(s, &err);
    assert_int_equal(secup_stream_is_complete(s), rc == SECUP_OK);
    if (rc == SECUP_OK) {
        uint8_t *got = malloc(image.len + 1);
        assert_int_equal(slot.ops->read(&slot, 0, got, image.len, NULL), SECUP_OK);
        assert_memory_equal(got, image.ptr, image.len);
        free(got);
    }
    secup_stream_free(s);
    slot.ops->close(&slot);
    return rc;
}

static void test_stream_resumes_from_a_checkpoint_at_many_offsets(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(6000, 7);
    for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
        const struct secup_recipient_key *key = NULL;
        const struct secup_enc_recipient_spec *spec = spec_for(f, algs[a], &key);
        struct made m = make(f, view(image), algs[a], spec, SECUP_COMPRESSION_NONE);
        struct secup_stream_cfg cfg = cfg_of(&m, key, SECUP_COMPRESSION_NONE, 512);
        for (size_t cut = 0; cut <= m.payload.len; cut += (cut + 20 > m.payload.len) ? 1 : 211) {
            secup_rc rc = cut_and_resume(f, &cfg, view(m.payload), cut, view(image), SIZE_MAX);
            if (rc != SECUP_OK)
                fail_msg("alg %lld cut %zu: %s", (long long)algs[a], cut, secup_rc_name(rc));
        }
        /* A slot changed behind the checkpoint's back fails at the end. */
        bool aead = algs[a] == SECUP_COSE_ALG_A128GCM ||
                    algs[a] == SECUP_COSE_ALG_CHACHA20_POLY1305;
        assert_int_equal(cut_and_resume(f, &cfg, view(m.payload), 3000, view(image), 1234),
                         aead ? SECUP_E_TAG : SECUP_E_DIGEST);
        free(m.payload.ptr);
    }
    free(image.ptr);
}

static void test_stream_resume_refuses_foreign_or_impossible_checkpoints(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(2000, 8);
    struct made m = make(f, view(image), SECUP_COSE_ALG_A128CTR, &f->spec_kw,
                         SECUP_COMPRESSION_NONE);
    struct secup_stream_cfg cfg = cfg_of(&m, &f->kw, SECUP_COMPRESSION_NONE, 0);
    struct secup_slot slot;
    open_slot(f, &slot, true);
    struct secup_stream *s = NULL;
    struct secup_err err;
    assert_int_equal(secup_stream_new(&s, &cfg, &slot, &err), SECUP_OK);
    assert_int_equal(secup_stream_write(s, secup_bytes_of(m.payload.ptr, 1000), &err), SECUP_OK);
    struct secup_stream_checkpoint cp;
    assert_int_equal(secup_stream_checkpoint(s, &cp, &err), SECUP_OK);
    assert_int_equal(cp.out_offset, 1000);
    /* Not on a stream that already took data. */
    assert_int_equal(secup_stream_resume(s, &cp, &err), SECUP_E_STATE);
    secup_stream_free(s);

    /* Another image size: another payload. */
    struct secup_stream_cfg other = cfg;
    other.image_size = image.len + 1;
    assert_int_equal(secup_stream_new(&s, &other, &slot, &err), SECUP_OK);
    assert_int_equal(secup_stream_resume(s, &cp, &err), SECUP_E_STATE);
    secup_stream_free(s);

    struct secup_stream_checkpoint bad = cp;
    bad.in_offset = 999;
    assert_int_equal(secup_stream_new(&s, &cfg, &slot, &err), SECUP_OK);
    assert_int_equal(secup_stream_resume(s, &bad, &err), SECUP_E_VALUE);
    secup_stream_free(s);
    bad.in_offset = bad.out_offset = image.len + 1;
    assert_int_equal(secup_stream_new(&s, &cfg, &slot, &err), SECUP_OK);
    assert_int_equal(secup_stream_resume(s, &bad, &err), SECUP_E_VALUE);
    secup_stream_free(s);

    /* Damaged encodings. */
    uint8_t enc[SECUP_STREAM_CHECKPOINT_LEN];
    secup_stream_checkpoint_encode(&cp, enc);
    struct secup_stream_checkpoint back;
    for (size_t i = 0; i < sizeof(enc); i++) {
        enc[i] ^= 0x01;
        assert_int_equal(secup_stream_checkpoint_decode(&back, secup_bytes_of(enc, sizeof(enc)),
                                                        &err),
                         SECUP_E_VALUE);
        enc[i] ^= 0x01;
    }
    assert_int_equal(secup_stream_checkpoint_decode(&back, secup_bytes_of(enc, 63), &err),
                     SECUP_E_VALUE);
    free(m.payload.ptr);

    /* Compressed payloads restart instead. */
    m = make(f, view(image), SECUP_COSE_ALG_A128CTR, &f->spec_kw, SECUP_COMPRESSION_ZSTD);
    cfg = cfg_of(&m, &f->kw, SECUP_COMPRESSION_ZSTD, 0);
    assert_int_equal(secup_stream_new(&s, &cfg, &slot, &err), SECUP_OK);
    assert_int_equal(secup_stream_checkpoint(s, &cp, &err), SECUP_E_UNSUPPORTED);
    secup_stream_free(s);
    slot.ops->close(&slot);
    free(m.payload.ptr);
    free(image.ptr);
}

/* ---- Configuration, source, allocation failures ---- */

static void test_stream_refuses_bad_configuration(void **state)
{
    struct fx *f = *state;
    uint8_t digest[32] = { 0 };
    struct secup_stream_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.image_size = 10;
    cfg.image_digest.alg = SECUP_COSE_ALG_SHA256;
    cfg.image_digest.bytes = secup_bytes_of(digest, 32);
    struct secup_slot slot;
    assert_int_equal(secup_slot_file_open(&slot, f->slot_path, 100,
                                          SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE |
                                              SECUP_SLOT_TRUNCATE,
                                          NULL),
                     SECUP_OK);
    struct secup_stream *s = NULL;
    struct secup_stream_cfg c = cfg;
    c.image_digest.alg = -44;
    assert_int_equal(secup_stream_new(&s, &c, &slot, NULL), SECUP_E_UNSUPPORTED);
    c = cfg;
    c.image_digest.bytes.len = 31;
    assert_int_equal(secup_stream_new(&s, &c, &slot, NULL), SECUP_E_VALUE);
    c = cfg;
    c.compression = 7;
    assert_int_equal(secup_stream_new(&s, &c, &slot, NULL), SECUP_E_UNSUPPORTED);
    c = cfg;
    c.chunk = 3;
    assert_int_equal(secup_stream_new(&s, &c, &slot, NULL), SECUP_E_ARG);
    c = cfg;
    c.image_size = 101;
    assert_int_equal(secup_stream_new(&s, &c, &slot, NULL), SECUP_E_LIMIT_SIZE);
    c = cfg;
    c.encryption_info = secup_bytes_of(digest, 5);
    assert_int_equal(secup_stream_new(&s, &c, &slot, NULL), SECUP_E_ARG);
    c.key = &f->kw;
    assert_int_equal(secup_stream_new(&s, &c, &slot, NULL), SECUP_E_TRAILING);
    assert_null(s);
    assert_int_equal(secup_stream_new(&s, NULL, &slot, NULL), SECUP_E_ARG);
    slot.ops->close(&slot);
    assert_int_equal(secup_slot_file_open(&slot, "/nonexistent/dir/slot", 100,
                                          SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE, NULL),
                     SECUP_E_NOENT);
    assert_int_equal(secup_slot_file_open(&slot, "/tmp", 100, SECUP_SLOT_WRITABLE, NULL),
                     SECUP_E_IO);
    assert_int_equal(secup_slot_file_open(&slot, "/tmp", 100, 0, NULL), SECUP_E_VALUE);
}

static void test_stream_pump_fd_reads_the_source_to_its_end(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(300000, 9);
    struct made m = make(f, view(image), SECUP_COSE_ALG_A128GCM, &f->spec_kw,
                         SECUP_COMPRESSION_ZSTD);
    write_file(f->tmp_path, view(m.payload));
    struct secup_stream_cfg cfg = cfg_of(&m, &f->kw, SECUP_COMPRESSION_ZSTD, 1000);
    struct secup_slot slot;
    open_slot(f, &slot, true);
    struct secup_stream *s = NULL;
    struct secup_err err;
    assert_int_equal(secup_stream_new(&s, &cfg, &slot, &err), SECUP_OK);
    int fd = open(f->tmp_path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(secup_stream_pump_fd(s, fd, &err), SECUP_OK);
    close(fd);
    assert_false(secup_stream_is_complete(s));
    assert_int_equal(secup_stream_finish(s, &err), SECUP_OK);
    assert_true(secup_stream_is_complete(s));
    assert_int_equal(secup_stream_pump_fd(s, 0, &err), SECUP_E_STATE);
    assert_int_equal(secup_stream_checkpoint(s, &(struct secup_stream_checkpoint){ 0 }, &err),
                     SECUP_E_STATE);
    secup_stream_free(s);
    uint8_t *got = malloc(image.len);
    assert_int_equal(slot.ops->read(&slot, 0, got, image.len, NULL), SECUP_OK);
    assert_memory_equal(got, image.ptr, image.len);
    free(got);
    /* A read error is reported and does not spoil the stream. */
    assert_int_equal(secup_stream_new(&s, &cfg, &slot, &err), SECUP_OK);
    assert_int_equal(secup_stream_pump_fd(s, -1, &err), SECUP_E_IO);
    fd = open(f->tmp_path, O_RDONLY);
    assert_int_equal(secup_stream_pump_fd(s, fd, &err), SECUP_OK);
    close(fd);
    assert_int_equal(secup_stream_finish(s, &err), SECUP_OK);
    secup_stream_free(s);
    slot.ops->close(&slot);
    free(m.payload.ptr);
    free(image.ptr);
}

static void test_stream_allocation_failure_sweep_fails_cleanly(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(1000, 10);
    struct made m = make(f, view(image), SECUP_COSE_ALG_A128GCM, &f->spec_kw,
                         SECUP_COMPRESSION_ZSTD);
    struct secup_stream_cfg cfg = cfg_of(&m, &f->kw, SECUP_COMPRESSION_ZSTD, 0);
    bool succeeded = false;
    for (long n = 0; n < 32 && !succeeded; n++) {
        struct secup_slot slot;
        open_slot(f, &slot, true);
        struct secup_stream *s = NULL;
        fail_countdown = n;
        secup_rc rc = secup_stream_new(&s, &cfg, &slot, NULL);
        bool armed = fail_countdown >= 0;
        fail_countdown = -1;
        if (rc != SECUP_OK) {
            assert_int_equal(rc, SECUP_E_NOMEM);
            assert_null(s);
        } else {
            assert_int_equal(secup_stream_write(s, view(m.payload), NULL), SECUP_OK);
            assert_int_equal(secup_stream_finish(s, NULL), SECUP_OK);
            succeeded = armed;
        }
        secup_stream_free(s);
        slot.ops->close(&slot);
    }
    assert_true(succeeded);
    free(m.payload.ptr);
    free(image.ptr);
}

/* The producing side's result describes the image, and its payload decrypts with the
 * one-shot API as well. */
static void test_stream_payload_builder_reports_size_digest_and_info(void **state)
{
    struct fx *f = *state;
    struct bin image = pattern_image(5000, 11);
    uint8_t digest[32];
    assert_int_equal(secup_crypto_sha256(view(image), digest, NULL), SECUP_OK);
    struct made m = make(f, view(image), SECUP_COSE_ALG_A128GCM, &f->spec_kw,
                         SECUP_COMPRESSION_NONE);
    assert_memory_equal(m.res.image_digest, digest, 32);
    assert_int_equal(m.res.payload_size, image.len + SECUP_ENC_TAG_LEN);
    uint8_t *out = malloc(m.payload.len);
    size_t out_len = 0;
    assert_int_equal(secup_enc_decrypt(secup_bytes_of(m.res.enc_info, m.res.enc_info_len), &f->kw,
                                       view(m.payload), out, m.payload.len, &out_len, NULL),
                     SECUP_OK);
    assert_int_equal(out_len, image.len);
    assert_memory_equal(out, image.ptr, image.len);
    free(out);
    free(m.payload.ptr);
    m = make(f, view(image), 0, NULL, SECUP_COMPRESSION_NONE);
    assert_int_equal(m.res.enc_info_len, 0);
    assert_int_equal(m.payload.len, image.len);
    assert_memory_equal(m.payload.ptr, image.ptr, image.len);
    free(m.payload.ptr);
    free(image.ptr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_vectors_install_for_any_chunking),
        cmocka_unit_test(test_stream_manifest_vectors_install_with_their_size_and_digest),
        cmocka_unit_test(test_stream_same_result_for_any_chunking),
        cmocka_unit_test(test_stream_empty_image_installs),
        cmocka_unit_test(test_stream_wrong_key_or_kid_fails_before_writing),
        cmocka_unit_test(test_stream_truncated_appended_and_flipped_payloads_have_their_codes),
        cmocka_unit_test(test_stream_compressed_payload_damage_has_its_codes),
        cmocka_unit_test(test_stream_decompression_bomb_is_refused),
        cmocka_unit_test(test_stream_image_larger_than_declared_is_refused),
        cmocka_unit_test(test_stream_bad_compressed_frames_are_refused),
        cmocka_unit_test(test_stream_resumes_from_a_checkpoint_at_many_offsets),
        cmocka_unit_test(test_stream_resume_refuses_foreign_or_impossible_checkpoints),
        cmocka_unit_test(test_stream_refuses_bad_configuration),
        cmocka_unit_test(test_stream_pump_fd_reads_the_source_to_its_end),
        cmocka_unit_test(test_stream_allocation_failure_sweep_fails_cleanly),
        cmocka_unit_test(test_stream_payload_builder_reports_size_digest_and_info),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
