/* Fuzz target: the install pipeline (secup/stream.h) with a fixed key and a fixed image.
 *
 * Input: byte 0 selects the payload kind (bits 0-2: none, A128GCM, A128CTR, A256CTR,
 * ChaCha20/Poly1305; bit 3: zstd; bit 4: mutate mode), byte 1 the write size, byte 2 the
 * stage chunk size. The rest is either the raw payload, or (mutate mode) a script of 3-byte
 * edits applied to the valid payload of that kind: xor a byte, cut, or append.
 *
 * Invariants checked for every input:
 *  - the stream reports complete only if the slot holds exactly the image;
 *  - nothing is ever written past the declared image size;
 *  - a refusal carries a 2xx-4xx code with its message, and the stream is not complete;
 *  - the unmodified valid payload always installs. */
/* THREAT: P4 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "secup/stream.h"

#define IMAGE_LEN 3000
#define N_ALGS 5
#define MAX_PAYLOAD (IMAGE_LEN * 2 + 4096)

static const int64_t algs[N_ALGS] = { 0, SECUP_COSE_ALG_A128GCM, SECUP_COSE_ALG_A128CTR,
                                      SECUP_COSE_ALG_A256CTR, SECUP_COSE_ALG_CHACHA20_POLY1305 };
static const uint8_t kid[] = { 'f', 'u', 'z', 'z' };

struct kind {
    uint8_t payload[MAX_PAYLOAD];
    size_t payload_len;
    struct secup_payload_result res;
};

struct fixed {
    uint8_t image[IMAGE_LEN];
    uint8_t kek16[16];
    uint8_t kek32[32];
    struct kind kinds[N_ALGS][2];
};

static struct fixed *fixed_setup(void)
{
    static struct fixed *fx;
    if (fx)
        return fx;
    fx = calloc(1, sizeof(*fx));
    if (!fx)
        fuzz_common_fail("out of memory");
    for (size_t i = 0; i < IMAGE_LEN; i++)
        fx->image[i] = (uint8_t)("fuzzed firmware "[i % 16] + (i / 256));
    for (size_t i = 0; i < 32; i++) {
        fx->kek32[i] = (uint8_t)(0xa0 + i);
        if (i < 16)
            fx->kek16[i] = (uint8_t)(0x30 + i);
    }
    /* Fixed CEK and IV: the payloads, and so the corpus, are the same in every run. */
    static const uint8_t cek[32] = { 7, 6, 5, 4, 3, 2, 1 };
    static const uint8_t iv[16] = { 9, 9, 9, 9, 1 };
    for (size_t a = 0; a < N_ALGS; a++) {
        for (int z = 0; z < 2; z++) {
            struct kind *k = &fx->kinds[a][z];
            bool wide = algs[a] == SECUP_COSE_ALG_A256CTR ||
                        algs[a] == SECUP_COSE_ALG_CHACHA20_POLY1305;
            bool ctr = algs[a] == SECUP_COSE_ALG_A128CTR || algs[a] == SECUP_COSE_ALG_A256CTR;
            struct secup_enc_recipient_spec spec = {
                wide ? SECUP_COSE_ALG_A256KW : SECUP_COSE_ALG_A128KW,
                wide ? secup_bytes_of(fx->kek32, 32) : secup_bytes_of(fx->kek16, 16),
                secup_bytes_of(kid, sizeof(kid)), NULL
            };
            struct secup_encrypt_opts opts = { secup_bytes_of(cek, wide ? 32 : 16),
                                               secup_bytes_of(iv, ctr ? 16 : 12), NULL };
            struct secup_payload_spec ps = { z ? SECUP_COMPRESSION_ZSTD : SECUP_COMPRESSION_NONE,
                                             0, algs[a], &spec, algs[a] ? 1 : 0, &opts };
            FILE *in = tmpfile();
            FILE *out = tmpfile();
            if (!in || !out || fwrite(fx->image, 1, IMAGE_LEN, in) != IMAGE_LEN || fflush(in) ||
                fseek(in, 0, SEEK_SET))
                fuzz_common_fail("temporary files");
            struct secup_err err;
            if (secup_payload_build_fd(fileno(in), fileno(out), &ps, &k->res, &err) != SECUP_OK)
                fuzz_common_fail("building payload %zu/%d: %s", a, z, err.msg);
            if (k->res.payload_size > MAX_PAYLOAD || fseek(out, 0, SEEK_SET))
                fuzz_common_fail("payload %zu/%d too large", a, z);
            k->payload_len = fread(k->payload, 1, MAX_PAYLOAD, out);
            if (k->payload_len != k->res.payload_size)
                fuzz_common_fail("payload %zu/%d read back short", a, z);
            fclose(in);
            fclose(out);
        }
    }
    return fx;
}

/* A slot in memory that records the highest offset written. */
struct mem_slot {
    struct secup_slot slot;
    uint8_t data[IMAGE_LEN + 64];
    uint64_t high;
};

static secup_rc mem_write(struct secup_slot *s, uint64_t off, struct secup_bytes d,
                          struct secup_err *err)
{
    struct mem_slot *m = (struct mem_slot *)s;
    if (d.len > s->capacity || off > s->capacity - d.len)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "past the slot");
    memcpy(m->data + off, d.ptr, d.len);
    if (off + d.len > m->high)
        m->high = off + d.len;
    return SECUP_OK;
}

static secup_rc mem_read(struct secup_slot *s, uint64_t off, uint8_t *buf, size_t len,
                         struct secup_err *err)
{
    struct mem_slot *m = (struct mem_slot *)s;
    if (len > s->capacity || off > s->capacity - len)
        return secup_err_set(err, SECUP_E_IO, "past the slot");
    memcpy(buf, m->data + off, len);
    return SECUP_OK;
}

static secup_rc mem_sync(struct secup_slot *s, struct secup_err *err)
{
    (void)s;
    (void)err;
    return SECUP_OK;
}

static void mem_close(struct secup_slot *s)
{
    (void)s;
}

static const struct secup_slot_ops mem_ops = { "mem", mem_write, mem_read, mem_sync, mem_close };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fixed *fx = fixed_setup();
    if (size < 3)
        return 0;
    size_t a = (size_t)(data[0] & 7) % N_ALGS;
    int z = (data[0] >> 3) & 1;
    bool mutate = (data[0] >> 4) & 1;
    size_t piece = data[1] ? data[1] : SIZE_MAX;
    size_t chunk = (size_t)SECUP_STREAM_CHUNK_MIN << (data[2] % 8);
    const struct kind *k = &fx->kinds[a][z];

    static uint8_t payload[MAX_PAYLOAD + 256];
    size_t len = 0;
    bool changed = true;
    if (mutate) {
        memcpy(payload, k->payload, k->payload_len);
        len = k->payload_len;
        changed = false;
        for (size_t i = 3; i + 3 <= size; i += 3) {
            size_t at = ((size_t)(data[i] & 0x3f) << 8 | data[i + 1]);
            switch (data[i] >> 6) {
            case 0:
                if (len && data[i + 2]) {
                    payload[at % len] ^= data[i + 2];
                    changed = true;
                }
                break;
            case 1:
                if (at % (len + 1) != len) {
                    len = at % (len + 1);
                    changed = true;
                }
                break;
            default:
                if (len < sizeof(payload)) {
                    payload[len++] = data[i + 2];
                    changed = true;
                }
                break;
            }
        }
    } else {
        len = size - 3 < sizeof(payload) ? size - 3 : sizeof(payload);
        memcpy(payload, data + 3, len);
    }

    bool wide = algs[a] == SECUP_COSE_ALG_A256CTR || algs[a] == SECUP_COSE_ALG_CHACHA20_POLY1305;
    struct secup_recipient_key key = {
        SECUP_RECIPIENT_KEK, wide ? secup_bytes_of(fx->kek32, 32) : secup_bytes_of(fx->kek16, 16),
        secup_bytes_of(kid, sizeof(kid)), NULL
    };
    struct secup_stream_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.chunk = chunk;
    cfg.encryption_info = secup_bytes_of(k->res.enc_info, k->res.enc_info_len);
    cfg.key = algs[a] ? &key : NULL;
    cfg.compression = z ? SECUP_COMPRESSION_ZSTD : SECUP_COMPRESSION_NONE;
    cfg.image_size = IMAGE_LEN;
    cfg.image_digest.alg = -16;
    cfg.image_digest.bytes = secup_bytes_of(k->res.image_digest, 32);

    static struct mem_slot ms;
    memset(&ms, 0, sizeof(ms));
    ms.slot.ops = &mem_ops;
    ms.slot.fd = -1;
    ms.slot.capacity = sizeof(ms.data);
    struct secup_stream *s = NULL;
    struct secup_err err;
    secup_rc rc = secup_stream_new(&s, &cfg, &ms.slot, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("stream setup: %s", err.msg);
    for (size_t off = 0; off < len && rc == SECUP_OK;) {
        size_t n = len - off < piece ? len - off : piece;
        rc = secup_stream_write(s, secup_bytes_of(payload + off, n), &err);
        off += n;
    }
    if (rc == SECUP_OK)
        rc = secup_stream_finish(s, &err);
    bool complete = secup_stream_is_complete(s);
    secup_stream_free(s);

    if (ms.high > IMAGE_LEN)
        fuzz_common_fail("wrote %llu bytes into the slot, the image has %d",
                         (unsigned long long)ms.high, IMAGE_LEN);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "install");
        if (complete)
            fuzz_common_fail("a failed install is marked complete");
        if (!changed)
            fuzz_common_fail("the valid payload failed: %s", err.msg);
        return 0;
    }
    if (!complete)
        fuzz_common_fail("a successful install is not marked complete");
    if (ms.high != IMAGE_LEN || memcmp(ms.data, fx->image, IMAGE_LEN) != 0)
        fuzz_common_fail("complete, but the slot does not hold the image");
    return 0;
}
