/* The stages of the install pipeline (lib/stream/). Each stage embeds struct secup_stage
 * first, so a stage pointer converts to its concrete type. Buffers are provided by the
 * pipeline (one allocation); stages never allocate after init. */
#ifndef SECUP_STREAM_STAGES_H
#define SECUP_STREAM_STAGES_H

#include "crypto/crypto.h"
#include "secup/stream.h"

/* Passes bytes to the next stage (SECUP_OK when there is none or nothing to pass). */
secup_rc secup_stage_forward(struct secup_stage *st, struct secup_bytes out,
                             struct secup_err *err);

/* decrypt: ciphertext in, plaintext out in pieces of at most cap bytes. */
struct secup_stage_decrypt {
    struct secup_stage base;
    struct secup_decryptor *dec; /* owned */
    uint8_t *buf;
    size_t cap;
    uint64_t expect_plain; /* UINT64_MAX: unknown (compressed) */
};
void secup_stage_decrypt_init(struct secup_stage_decrypt *st, struct secup_decryptor *dec,
                              uint8_t *buf, size_t cap, uint64_t expect_plain);
/* Resumption: absorbs image bytes already in the slot. */
secup_rc secup_stage_decrypt_replay(struct secup_stage_decrypt *st, struct secup_bytes plain,
                                    struct secup_err *err);
void secup_stage_decrypt_clear(struct secup_stage_decrypt *st);

/* decompress (zstd, lib/stream/codec_zstd.c): output bounded by `bound` bytes. */
struct secup_stage_unzstd {
    struct secup_stage base;
    void *dctx;       /* ZSTD_DCtx living in work */
    void *work;       /* owned */
    size_t work_len;
    uint8_t *buf;
    size_t cap;
    uint64_t bound;
    uint64_t produced;
    bool frame_done;  /* the last frame is complete */
    bool any_input;
};
secup_rc secup_stage_unzstd_init(struct secup_stage_unzstd *st, uint8_t *buf, size_t cap,
                                 uint64_t bound, struct secup_err *err);
void secup_stage_unzstd_clear(struct secup_stage_unzstd *st);

/* digest: SHA-256 and size of the image; passes the bytes on unchanged. */
struct secup_stage_digest {
    struct secup_stage base;
    struct secup_crypto_hash *hash; /* owned */
    uint64_t expect;
    uint64_t seen;
    uint8_t want[SECUP_SHA256_LEN];
};
secup_rc secup_stage_digest_init(struct secup_stage_digest *st, uint64_t expect,
                                 const uint8_t want[SECUP_SHA256_LEN], struct secup_err *err);
/* Resumption: hashes image bytes already in the slot without passing them on. */
secup_rc secup_stage_digest_replay(struct secup_stage_digest *st, struct secup_bytes data,
                                   struct secup_err *err);
void secup_stage_digest_clear(struct secup_stage_digest *st);

/* slot writer: positioned writes from offset 0; sync at finish. */
struct secup_stage_slot {
    struct secup_stage base;
    struct secup_slot *slot; /* borrowed */
    uint64_t offset;
};
void secup_stage_slot_init(struct secup_stage_slot *st, struct secup_slot *slot);

/* Producer-side zstd compressor (lib/stream/codec_zstd.c). Opaque. */
struct secup_zstd_compressor;
secup_rc secup_zstd_compressor_new(struct secup_zstd_compressor **out, int level,
                                   uint64_t pledged_size, struct secup_err *err);
/* Compresses in (end: also finishes the frame); emits every output piece to sink. */
secup_rc secup_zstd_compress(struct secup_zstd_compressor *c, struct secup_bytes in, bool end,
                             uint8_t *buf, size_t cap,
                             secup_rc (*sink)(void *ctx, struct secup_bytes out,
                                              struct secup_err *err),
                             void *ctx, struct secup_err *err);
void secup_zstd_compressor_free(struct secup_zstd_compressor *c);

#endif /* SECUP_STREAM_STAGES_H */
