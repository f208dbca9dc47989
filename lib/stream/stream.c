/* The install pipeline: builds the stage chain for a payload, drives it, and persists and
 * resumes it at chunk boundaries. Fail closed: `complete` is set in one place only, after
 * every stage's finish() succeeded. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "stages.h"
#include "util/alloc.h"

enum stream_state { ST_NEW, ST_RUNNING, ST_DONE, ST_FAILED };

struct secup_stream {
    enum stream_state state;
    bool complete;
    bool encrypted;
    bool compressed;
    size_t chunk;
    uint64_t consumed;
    uint64_t image_size;
    uint8_t bind[32];
    struct secup_slot *slot;
    struct secup_stage *head;
    struct secup_stage_decrypt dec;
    struct secup_stage_unzstd unz;
    struct secup_stage_digest dig;
    struct secup_stage_slot out;
    uint8_t *inbuf;  /* source reads and resume reads */
    uint8_t *decbuf; /* decrypt output */
    uint8_t *zbuf;   /* decompress output */
};

static const char checkpoint_magic[8] = { 'S', 'E', 'C', 'U', 'P', 'C', 'K', '1' };

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Ties checkpoints to one payload and manifest, so that a checkpoint of an earlier update
 * can never be applied to this one. */
static secup_rc compute_bind(const struct secup_stream_cfg *cfg, uint8_t out[32],
                             struct secup_err *err)
{
    static const char label[] = "secup stream checkpoint v1";
    uint8_t fixed[9];
    fixed[0] = (uint8_t)cfg->compression;
    put_be64(fixed + 1, cfg->image_size);
    struct secup_bytes parts[4] = {
        secup_bytes_of(label, sizeof(label) - 1),
        cfg->encryption_info,
        secup_bytes_of(fixed, sizeof(fixed)),
        cfg->image_digest.bytes,
    };
    return secup_crypto_sha256_parts(parts, 4, out, err);
}

static void abort_all(struct secup_stream *s)
{
    for (struct secup_stage *st = s->head; st; st = st->next)
        st->ops->abort(st);
    secup_wipe(s->inbuf, s->chunk);
    s->state = ST_FAILED;
    s->complete = false;
}

/* Releases the secrets and plaintext-derived state that outlive a successful finish. */
static void clear_all(struct secup_stream *s)
{
    secup_stage_decrypt_clear(&s->dec);
    secup_stage_unzstd_clear(&s->unz);
    secup_stage_digest_clear(&s->dig);
    if (s->inbuf)
        secup_wipe(s->inbuf, s->chunk);
}

void secup_stream_free(struct secup_stream *s)
{
    if (!s)
        return;
    if (s->state != ST_DONE && s->state != ST_FAILED && s->head)
        abort_all(s);
    clear_all(s);
    secup_free(s->inbuf);
    secup_wipe(s, sizeof(*s));
    secup_free(s);
}

void secup_stream_abort(struct secup_stream *s)
{
    if (!s || s->state == ST_FAILED)
        return;
    abort_all(s);
}

static secup_rc check_cfg(const struct secup_stream_cfg *cfg, const struct secup_slot *slot,
                          size_t *chunk, struct secup_err *err)
{
    if (!cfg || !slot || !slot->ops)
        return secup_err_set(err, SECUP_E_ARG, "no configuration or slot");
    *chunk = cfg->chunk ? cfg->chunk : SECUP_STREAM_CHUNK_DEFAULT;
    if (*chunk < SECUP_STREAM_CHUNK_MIN || *chunk > SECUP_STREAM_CHUNK_MAX)
        return secup_err_set(err, SECUP_E_ARG, "chunk of %zu bytes (%u to %u)", *chunk,
                             SECUP_STREAM_CHUNK_MIN, SECUP_STREAM_CHUNK_MAX);
    if (cfg->image_digest.alg != SECUP_COSE_ALG_SHA256)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "image digest algorithm %lld (SHA-256 only)",
                             (long long)cfg->image_digest.alg);
    if (cfg->image_digest.bytes.len != SECUP_SHA256_LEN)
        return secup_err_set(err, SECUP_E_VALUE, "image digest of %zu bytes",
                             cfg->image_digest.bytes.len);
    if (cfg->compression != SECUP_COMPRESSION_NONE && cfg->compression != SECUP_COMPRESSION_ZSTD)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "compression %d", (int)cfg->compression);
    if (cfg->image_size > slot->capacity)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE,
                             "image of %llu bytes does not fit the %llu-byte slot",
                             (unsigned long long)cfg->image_size,
                             (unsigned long long)slot->capacity);
    if (cfg->encryption_info.len && !cfg->key)
        return secup_err_set(err, SECUP_E_ARG, "encrypted payload but no recipient key");
    return SECUP_OK;
}

static secup_rc build(struct secup_stream *s, const struct secup_stream_cfg *cfg,
                      struct secup_err *err)
{
    struct secup_stage *chain[4];
    size_t n = 0;
    if (s->encrypted) {
        struct secup_enc_info info;
        struct secup_decryptor *d = NULL;
        secup_rc rc = secup_enc_info_decode(&info, cfg->encryption_info, err);
        if (rc == SECUP_OK)
            rc = secup_decryptor_new(&d, &info, cfg->key, err);
        if (rc != SECUP_OK)
            return rc;
        secup_stage_decrypt_init(&s->dec, d, s->decbuf, s->chunk,
                                 s->compressed ? UINT64_MAX : cfg->image_size);
        chain[n++] = &s->dec.base;
    }
    if (s->compressed) {
        secup_rc rc = secup_stage_unzstd_init(&s->unz, s->zbuf, s->chunk, cfg->image_size, err);
        if (rc != SECUP_OK)
            return rc;
        chain[n++] = &s->unz.base;
    }
    secup_rc rc = secup_stage_digest_init(&s->dig, cfg->image_size, cfg->image_digest.bytes.ptr,
                                          err);
    if (rc != SECUP_OK)
        return rc;
    chain[n++] = &s->dig.base;
    secup_stage_slot_init(&s->out, s->slot);
    chain[n++] = &s->out.base;
    for (size_t i = 0; i + 1 < n; i++)
        chain[i]->next = chain[i + 1];
    s->head = chain[0];
    return SECUP_OK;
}

secup_rc secup_stream_new(struct secup_stream **out, const struct secup_stream_cfg *cfg,
                          struct secup_slot *slot, struct secup_err *err)
{
    *out = NULL;
    size_t chunk = 0;
    secup_rc rc = check_cfg(cfg, slot, &chunk, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_stream *s = secup_alloc(sizeof(*s));
    if (!s)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a stream");
    s->chunk = chunk;
    s->slot = slot;
    s->image_size = cfg->image_size;
    s->encrypted = cfg->encryption_info.len != 0;
    s->compressed = cfg->compression != SECUP_COMPRESSION_NONE;
    /* All buffers in one allocation, sized once: the pipeline's memory does not depend on
     * the image. */
    s->inbuf = secup_alloc(3 * chunk);
    if (!s->inbuf) {
        secup_stream_free(s);
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for stream buffers");
    }
    s->decbuf = s->inbuf + chunk;
    s->zbuf = s->inbuf + 2 * chunk;
    rc = compute_bind(cfg, s->bind, err);
    if (rc == SECUP_OK)
        rc = build(s, cfg, err);
    if (rc != SECUP_OK) {
        s->state = ST_FAILED;
        secup_stream_free(s);
        return rc;
    }
    *out = s;
    return SECUP_OK;
}

static secup_rc stage_failed(struct secup_stream *s, secup_rc rc, struct secup_err *err)
{
    (void)err;
    abort_all(s);
    return rc;
}

secup_rc secup_stream_write(struct secup_stream *s, struct secup_bytes in, struct secup_err *err)
{
    if (!s || (s->state != ST_NEW && s->state != ST_RUNNING))
        return secup_err_set(err, SECUP_E_STATE, "the stream is finished or failed");
    s->state = ST_RUNNING;
    if (in.len == 0)
        return SECUP_OK;
    secup_rc rc = s->head->ops->write(s->head, in, err);
    if (rc != SECUP_OK)
        return stage_failed(s, rc, err);
    s->consumed += in.len;
    return SECUP_OK;
}

secup_rc secup_stream_pump_fd(struct secup_stream *s, int fd, struct secup_err *err)
{
    if (!s || (s->state != ST_NEW && s->state != ST_RUNNING))
        return secup_err_set(err, SECUP_E_STATE, "the stream is finished or failed");
    for (;;) {
        ssize_t n = read(fd, s->inbuf, s->chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return secup_err_set(err, SECUP_E_IO, "reading the payload: %s", strerror(errno));
        if (n == 0)
            return SECUP_OK;
        secup_rc rc = secup_stream_write(s, secup_bytes_of(s->inbuf, (size_t)n), err);
        if (rc != SECUP_OK)
            return rc;
    }
}

secup_rc secup_stream_finish(struct secup_stream *s, struct secup_err *err)
{
    if (!s || (s->state != ST_NEW && s->state != ST_RUNNING))
        return secup_err_set(err, SECUP_E_STATE, "the stream is finished or failed");
    /* In chain order: the tag before the frame, the frame before size and digest, and the
     * slot's sync last. */
    for (struct secup_stage *st = s->head; st; st = st->next) {
        secup_rc rc = st->ops->finish(st, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "%s", st->ops->name);
            return stage_failed(s, rc, err);
        }
    }
    clear_all(s);
    s->state = ST_DONE;
    s->complete = true;
    return SECUP_OK;
}

bool secup_stream_is_complete(const struct secup_stream *s)
{
    return s && s->state == ST_DONE && s->complete;
}

uint64_t secup_stream_consumed(const struct secup_stream *s)
{
    return s ? s->consumed : 0;
}

uint64_t secup_stream_written(const struct secup_stream *s)
{
    return s ? s->out.offset : 0;
}

secup_rc secup_stream_checkpoint(struct secup_stream *s, struct secup_stream_checkpoint *cp,
                                 struct secup_err *err)
{
    memset(cp, 0, sizeof(*cp));
    if (!s || (s->state != ST_NEW && s->state != ST_RUNNING))
        return secup_err_set(err, SECUP_E_STATE, "the stream is finished or failed");
    if (s->compressed)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "compressed payloads cannot resume; restart the install");
    secup_rc rc = s->slot->ops->sync(s->slot, err);
    if (rc != SECUP_OK)
        return rc;
    /* Without compression payload byte i is image byte i (the AEAD tag only follows), so
     * the source continues where the durable image ends; bytes an AEAD held back as a
     * possible tag are simply sent again. */
    cp->out_offset = s->out.offset;
    cp->in_offset = s->out.offset;
    memcpy(cp->bind, s->bind, sizeof(cp->bind));
    return SECUP_OK;
}

secup_rc secup_stream_resume(struct secup_stream *s, const struct secup_stream_checkpoint *cp,
                             struct secup_err *err)
{
    if (!s || !cp)
        return secup_err_set(err, SECUP_E_ARG, "no stream or checkpoint");
    if (s->state != ST_NEW)
        return secup_err_set(err, SECUP_E_STATE, "resume only a fresh stream");
    if (!secup_ct_equal(secup_bytes_of(cp->bind, sizeof(cp->bind)),
                        secup_bytes_of(s->bind, sizeof(s->bind))))
        return secup_err_set(err, SECUP_E_STATE, "the checkpoint belongs to another payload");
    if (s->compressed)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "compressed payloads cannot resume; restart the install");
    if (cp->in_offset != cp->out_offset || cp->out_offset > s->image_size)
        return secup_err_set(err, SECUP_E_VALUE, "checkpoint offsets %llu/%llu impossible for "
                             "a %llu-byte image", (unsigned long long)cp->in_offset,
                             (unsigned long long)cp->out_offset,
                             (unsigned long long)s->image_size);
    s->state = ST_RUNNING;
    for (uint64_t off = 0; off < cp->out_offset;) {
        uint64_t left = cp->out_offset - off;
        size_t n = left < s->chunk ? (size_t)left : s->chunk;
        secup_rc rc = s->slot->ops->read(s->slot, off, s->inbuf, n, err);
        struct secup_bytes piece = secup_bytes_of(s->inbuf, n);
        if (rc == SECUP_OK && s->encrypted)
            rc = secup_stage_decrypt_replay(&s->dec, piece, err);
        if (rc == SECUP_OK)
            rc = secup_stage_digest_replay(&s->dig, piece, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "resuming at %llu bytes", (unsigned long long)cp->out_offset);
            return stage_failed(s, rc, err);
        }
        off += n;
    }
    secup_wipe(s->inbuf, s->chunk);
    s->out.offset = cp->out_offset;
    s->consumed = cp->in_offset;
    return SECUP_OK;
}

void secup_stream_checkpoint_encode(const struct secup_stream_checkpoint *cp,
                                    uint8_t out[SECUP_STREAM_CHECKPOINT_LEN])
{
    memcpy(out, checkpoint_magic, 8);
    put_be64(out + 8, cp->in_offset);
    put_be64(out + 16, cp->out_offset);
    memcpy(out + 24, cp->bind, 32);
    uint8_t h[SECUP_SHA256_LEN];
    if (secup_crypto_sha256(secup_bytes_of(out, 56), h, NULL) != SECUP_OK)
        memset(h, 0, sizeof(h)); /* decodes as damaged: fails closed */
    memcpy(out + 56, h, 8);
}

secup_rc secup_stream_checkpoint_decode(struct secup_stream_checkpoint *cp, struct secup_bytes in,
                                        struct secup_err *err)
{
    memset(cp, 0, sizeof(*cp));
    if (in.len != SECUP_STREAM_CHECKPOINT_LEN || memcmp(in.ptr, checkpoint_magic, 8) != 0)
        return secup_err_set(err, SECUP_E_VALUE, "not a stream checkpoint");
    uint8_t h[SECUP_SHA256_LEN];
    secup_rc rc = secup_crypto_sha256(secup_bytes_of(in.ptr, 56), h, err);
    if (rc != SECUP_OK)
        return rc;
    if (memcmp(h, in.ptr + 56, 8) != 0)
        return secup_err_set(err, SECUP_E_VALUE, "stream checkpoint is damaged");
    cp->in_offset = get_be64(in.ptr + 8);
    cp->out_offset = get_be64(in.ptr + 16);
    memcpy(cp->bind, in.ptr + 24, 32);
    return SECUP_OK;
}
