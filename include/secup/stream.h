/* secup — the streaming install pipeline: payload bytes in, a verified image in a slot out,
 * in one pass with fixed memory (STYLE.md section 6).
 *
 *   source -> decrypt (optional) -> decompress (optional, zstd) -> digest + size -> slot
 *
 * Every stage holds at most one chunk (cfg.chunk bytes); memory is allocated once by
 * secup_stream_new() and does not grow with the image. Fail closed: the stream reports
 * complete only after every stage's finish() succeeded (AEAD tag, compressed frame, image
 * size and SHA-256 digest, slot sync). Until then nothing may treat the slot as valid.
 * Plaintext buffers and keys are wiped on every exit path.
 *
 * Error codes of the pipeline, one per failure:
 *   SECUP_E_NO_RECIPIENT  no recipient in the encryption info for this key (kid)
 *   SECUP_E_UNWRAP        wrong key, or a damaged wrapped key
 *   SECUP_E_TAG           AEAD tag: flipped ciphertext, tag, IV, or a payload cut inside
 *                         the tag of a compressed AEAD payload
 *   SECUP_E_TRUNCATED     the payload ends before the declared image (or compressed frame)
 *   SECUP_E_OVERLONG      bytes appended after a complete, matching image (or frame)
 *   SECUP_E_SIZE          the image is larger than the declared image-size (and what was
 *                         declared does not match the digest)
 *   SECUP_E_BOMB          decompressed output exceeds the declared image-size
 *   SECUP_E_COMPRESSED    malformed compressed data
 *   SECUP_E_LIMIT         a compressed frame needs a larger window than the device allows
 *   SECUP_E_DIGEST        the image does not match its digest (e.g. flipped AES-CTR bytes)
 *   SECUP_E_IO            the slot or the source failed
 */
#ifndef SECUP_STREAM_H
#define SECUP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/bytes.h"
#include "secup/encrypt.h"
#include "secup/err.h"
#include "secup/manifest.h"
#include "secup/slot.h"

/* ---- Stages ---- */

struct secup_stage;

struct secup_stage_ops {
    const char *name;
    /* Consumes all of in, passing its output to st->next. */
    secup_rc (*write)(struct secup_stage *st, struct secup_bytes in, struct secup_err *err);
    /* End of input: checks tags, frames, sizes, digests; flushes. */
    secup_rc (*finish)(struct secup_stage *st, struct secup_err *err);
    /* Wipes buffers and secrets; never fails. */
    void (*abort)(struct secup_stage *st);
};

struct secup_stage {
    const struct secup_stage_ops *ops;
    struct secup_stage *next;
};

/* ---- Manifest parameters of the pipeline ---- */

/* Custom SUIT parameter (private-use range < -255, SUIT.md 2.2/2.6) saying how the payload
 * is compressed: uint, one of enum secup_compression. Absent = not compressed. The image
 * digest and image-size describe the decompressed image; compression happens before
 * encryption. Documented in docs/ (parameter -257, "secup-compression"). */
#define SECUP_SUIT_PARAM_COMPRESSION (-257)

enum secup_compression {
    SECUP_COMPRESSION_NONE = 0,
    SECUP_COMPRESSION_ZSTD = 1, /* RFC 8878 frames, window at most 2^SECUP_ZSTD_WINDOW_LOG */
};

/* The largest zstd window a device accepts: a frame needing more is SECUP_E_LIMIT. The
 * decoder's memory (about 1.1 MiB) is allocated once from this bound. */
#define SECUP_ZSTD_WINDOW_LOG 20

#define SECUP_STREAM_CHUNK_DEFAULT (64u * 1024u)
#define SECUP_STREAM_CHUNK_MIN 64u
#define SECUP_STREAM_CHUNK_MAX (4u * 1024u * 1024u)

struct secup_stream_cfg {
    size_t chunk;                          /* stage buffer size; 0: the default */
    struct secup_bytes encryption_info;    /* parameter 19 (encoded COSE_Encrypt); empty:
                                            * the payload is not encrypted */
    const struct secup_recipient_key *key; /* the device's key for it */
    enum secup_compression compression;    /* parameter -257 */
    uint64_t image_size;                   /* parameter 14: bytes of the final image */
    struct secup_digest image_digest;      /* parameter 3: SHA-256 (-16) of the final image */
};

/* ---- The pipeline ---- */

/* Opaque: all memory is allocated by secup_stream_new(). */
struct secup_stream;

/* Builds the stage chain for cfg, writing into slot from offset 0. For an encrypted payload
 * the content key is unwrapped here, so key errors come before any byte is written.
 * Ownership: slot is borrowed (not closed) and must outlive the stream; *out is freed with
 * secup_stream_free().
 * Returns SECUP_OK; SECUP_E_ARG; SECUP_E_UNSUPPORTED (digest or compression algorithm);
 * SECUP_E_LIMIT_SIZE (image larger than the slot); the codes of secup_enc_info_decode()
 * and secup_decryptor_new() (SECUP_E_NO_RECIPIENT, SECUP_E_UNWRAP); SECUP_E_NOMEM. */
SECUP_API SECUP_NODISCARD secup_rc secup_stream_new(struct secup_stream **out,
                                                    const struct secup_stream_cfg *cfg,
                                                    struct secup_slot *slot,
                                                    struct secup_err *err);

/* Pushes the next payload bytes through the chain (any length; split internally into
 * chunks). On a failure the stream is aborted (everything wiped) and later calls return
 * SECUP_E_STATE. */
SECUP_API SECUP_NODISCARD secup_rc secup_stream_write(struct secup_stream *s,
                                                      struct secup_bytes in,
                                                      struct secup_err *err);

/* The source for a file descriptor (file, pipe, socket): reads chunk-sized pieces until end
 * of file and writes them. A read error is SECUP_E_IO and leaves the stream usable (take a
 * checkpoint and resume later); a stage error aborts it as secup_stream_write() does. Does
 * not call secup_stream_finish(). */
SECUP_API SECUP_NODISCARD secup_rc secup_stream_pump_fd(struct secup_stream *s, int fd,
                                                        struct secup_err *err);

/* Ends the payload: runs every stage's finish() in chain order (tag, frame, size, digest,
 * slot sync) and marks the stream complete only if all succeed.
 * Returns SECUP_OK or the first failing stage's code (the stream is then aborted). */
SECUP_API SECUP_NODISCARD secup_rc secup_stream_finish(struct secup_stream *s,
                                                       struct secup_err *err);

/* True only after secup_stream_finish() returned SECUP_OK. */
SECUP_API bool secup_stream_is_complete(const struct secup_stream *s);

/* Payload bytes accepted so far (including those skipped by a resume), and image bytes
 * written to the slot. */
SECUP_API uint64_t secup_stream_consumed(const struct secup_stream *s);
SECUP_API uint64_t secup_stream_written(const struct secup_stream *s);

/* Abandons the install: wipes every buffer and secret. The slot stays incomplete. */
SECUP_API void secup_stream_abort(struct secup_stream *s);

/* Aborts if not complete, then frees. NULL is a no-op. */
SECUP_API void secup_stream_free(struct secup_stream *s);

/* ---- Resumption at chunk boundaries ---- */

/* Where an interrupted install continues. bind ties it to one payload and manifest
 * (SHA-256 over the encryption info, compression, image size and digest). */
struct secup_stream_checkpoint {
    uint64_t in_offset;   /* payload bytes to skip: the source continues from here */
    uint64_t out_offset;  /* image bytes durably in the slot */
    uint8_t bind[32];
};

#define SECUP_STREAM_CHECKPOINT_LEN 64

/* Between writes: syncs the slot and describes the state. Persist the result (e.g. with
 * secup_file_write_atomic() of secup_stream_checkpoint_encode()) and continue writing.
 * Returns SECUP_OK; SECUP_E_STATE (finished or failed); SECUP_E_UNSUPPORTED (compressed
 * payloads: a decompressor's state cannot be rebuilt from the image, restart those);
 * SECUP_E_IO. */
SECUP_API SECUP_NODISCARD secup_rc secup_stream_checkpoint(struct secup_stream *s,
                                                           struct secup_stream_checkpoint *cp,
                                                           struct secup_err *err);

/* On a new stream for the same cfg and slot, before any write: re-reads and re-hashes the
 * out_offset image bytes already in the slot (and, for an encrypted payload, regenerates
 * their ciphertext so that the AEAD tag still covers them). The caller then continues the
 * source at cp->in_offset. The final digest covers the re-read bytes, so a slot changed
 * since the checkpoint fails at finish (SECUP_E_DIGEST or SECUP_E_TAG).
 * Returns SECUP_OK; SECUP_E_STATE (not a fresh stream; a checkpoint of another payload);
 * SECUP_E_VALUE (offsets impossible for this payload); SECUP_E_UNSUPPORTED; SECUP_E_IO. */
SECUP_API SECUP_NODISCARD secup_rc secup_stream_resume(struct secup_stream *s,
                                                       const struct secup_stream_checkpoint *cp,
                                                       struct secup_err *err);

/* Fixed-size binary form of a checkpoint (magic, offsets, bind, check value). */
SECUP_API void secup_stream_checkpoint_encode(const struct secup_stream_checkpoint *cp,
                                              uint8_t out[SECUP_STREAM_CHECKPOINT_LEN]);
/* Returns SECUP_OK or SECUP_E_VALUE (not a checkpoint, or damaged). */
SECUP_API SECUP_NODISCARD secup_rc secup_stream_checkpoint_decode(
    struct secup_stream_checkpoint *cp, struct secup_bytes in, struct secup_err *err);

/* ---- Checking a slot ---- */

/* Reads the first `size` bytes of the slot and checks them against d (SHA-256).
 * Returns SECUP_OK; SECUP_E_DIGEST; SECUP_E_SIZE (size beyond the slot); SECUP_E_IO. */
SECUP_API SECUP_NODISCARD secup_rc secup_slot_digest_check(struct secup_slot *s,
                                                           const struct secup_digest *d,
                                                           uint64_t size, struct secup_err *err);

/* ---- Producing side (the author) ---- */

struct secup_payload_spec {
    enum secup_compression compression;
    int level;                                     /* zstd level; 0: the default (3) */
    int64_t enc_alg;                               /* content algorithm; 0: not encrypted */
    const struct secup_enc_recipient_spec *recipients;
    size_t n_recipients;
    const struct secup_encrypt_opts *enc_opts;     /* tests only; NULL */
};

struct secup_payload_result {
    uint64_t image_size;                   /* plaintext bytes: parameter 14 */
    uint8_t image_digest[32];              /* SHA-256 of the plaintext: parameter 3 */
    uint64_t payload_size;                 /* bytes written to the payload */
    size_t enc_info_len;                   /* 0 when not encrypted */
    uint8_t enc_info[SECUP_MAX_ENC_INFO];  /* encoded SUIT_Encryption_Info: parameter 19 */
};

/* Reads an image from in_fd to its end, compresses and/or encrypts it as spec says and
 * writes the payload to out_fd, in one pass with fixed memory. The zstd window is limited
 * to 2^SECUP_ZSTD_WINDOW_LOG so that devices can decode it.
 * Returns SECUP_OK; SECUP_E_ARG; the codes of secup_encryptor_new(); SECUP_E_IO. */
SECUP_API SECUP_NODISCARD secup_rc secup_payload_build_fd(int in_fd, int out_fd,
                                                          const struct secup_payload_spec *spec,
                                                          struct secup_payload_result *res,
                                                          struct secup_err *err);

#endif /* SECUP_STREAM_H */
