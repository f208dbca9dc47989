/* zstd (RFC 8878) for the pipeline: the decompress stage of the device and the compressor
 * of the author. The only file of libsecup that includes <zstd.h>.
 *
 * The decoder is a static ZSTD_DCtx in one workspace sized for the largest window a device
 * accepts (SECUP_ZSTD_WINDOW_LOG), so decompression never allocates and a frame that asks
 * for more memory is refused instead of honoured. */
#define ZSTD_STATIC_LINKING_ONLY
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "stages.h"
#include "util/alloc.h"

static secup_rc zstd_error(size_t r, struct secup_err *err)
{
    ZSTD_ErrorCode code = ZSTD_getErrorCode(r);
    if (code == ZSTD_error_frameParameter_windowTooLarge || code == ZSTD_error_memory_allocation)
        return secup_err_set(err, SECUP_E_LIMIT,
                             "compressed frame needs a window larger than 2^%d bytes (%s)",
                             SECUP_ZSTD_WINDOW_LOG, ZSTD_getErrorName(r));
    return secup_err_set(err, SECUP_E_COMPRESSED, "zstd: %s", ZSTD_getErrorName(r));
}

static secup_rc unzstd_write(struct secup_stage *base, struct secup_bytes in,
                             struct secup_err *err)
{
    struct secup_stage_unzstd *st = (struct secup_stage_unzstd *)base;
    ZSTD_inBuffer ib = { in.ptr, in.len, 0 };
    bool full = false;
    /* A payload is exactly one frame, so anything after it is appended, not a new frame. */
    if (in.len && st->frame_done)
        return secup_err_set(err, SECUP_E_OVERLONG, "bytes follow the compressed image");
    if (in.len)
        st->any_input = true;
    /* Until all input is consumed and the decoder had room to flush everything. */
    while (ib.pos < ib.size || full) {
        ZSTD_outBuffer ob = { st->buf, st->cap, 0 };
        size_t before = ib.pos;
        size_t r = ZSTD_decompressStream(st->dctx, &ob, &ib);
        if (ZSTD_isError(r))
            return zstd_error(r, err);
        if (ob.pos == 0 && ib.pos == before && ib.pos < ib.size)
            return secup_err_set(err, SECUP_E_COMPRESSED, "zstd decoder makes no progress");
        st->frame_done = r == 0;
        /* r == 0: the frame is decoded and flushed; zstd returns at its end, so input left
         * over was appended. */
        full = !st->frame_done && ob.pos == ob.size;
        if (st->frame_done && ib.pos < ib.size) {
            secup_wipe(st->buf, ob.pos);
            return secup_err_set(err, SECUP_E_OVERLONG, "bytes follow the compressed image");
        }
        if (ob.pos > st->bound - st->produced) {
            secup_wipe(st->buf, ob.pos);
            return secup_err_set(err, SECUP_E_BOMB,
                                 "decompressed image exceeds its declared %llu bytes",
                                 (unsigned long long)st->bound);
        }
        st->produced += ob.pos;
        secup_rc rc = secup_stage_forward(base, secup_bytes_of(st->buf, ob.pos), err);
        secup_wipe(st->buf, ob.pos);
        if (rc != SECUP_OK)
            return rc;
        if (ob.pos == 0 && ib.pos == ib.size)
            break;
    }
    return SECUP_OK;
}

static secup_rc unzstd_finish(struct secup_stage *base, struct secup_err *err)
{
    struct secup_stage_unzstd *st = (struct secup_stage_unzstd *)base;
    if (!st->any_input || !st->frame_done)
        return secup_err_set(err, SECUP_E_TRUNCATED, "compressed image ends inside a frame");
    return SECUP_OK;
}

static void unzstd_abort(struct secup_stage *base)
{
    struct secup_stage_unzstd *st = (struct secup_stage_unzstd *)base;
    secup_wipe(st->buf, st->cap);
    /* The window holds recent plaintext. */
    if (st->work)
        secup_wipe(st->work, st->work_len);
    st->dctx = NULL;
}

static const struct secup_stage_ops unzstd_ops = {
    .name = "decompress",
    .write = unzstd_write,
    .finish = unzstd_finish,
    .abort = unzstd_abort,
};

secup_rc secup_stage_unzstd_init(struct secup_stage_unzstd *st, uint8_t *buf, size_t cap,
                                 uint64_t bound, struct secup_err *err)
{
    memset(st, 0, sizeof(*st));
    st->base.ops = &unzstd_ops;
    st->buf = buf;
    st->cap = cap;
    st->bound = bound;
    st->work_len = ZSTD_estimateDStreamSize((size_t)1 << SECUP_ZSTD_WINDOW_LOG);
    st->work = secup_alloc(st->work_len);
    if (!st->work)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the zstd decoder (%zu bytes)",
                             st->work_len);
    ZSTD_DCtx *d = ZSTD_initStaticDCtx(st->work, st->work_len);
    if (!d || ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, SECUP_ZSTD_WINDOW_LOG)))
        return secup_err_set(err, SECUP_E_NOMEM, "zstd decoder setup failed");
    st->dctx = d;
    return SECUP_OK;
}

void secup_stage_unzstd_clear(struct secup_stage_unzstd *st)
{
    if (st->base.ops)
        unzstd_abort(&st->base);
    secup_free(st->work);
    st->work = NULL;
}

/* ---- Compressor (producing side) ---- */

struct secup_zstd_compressor {
    ZSTD_CCtx *cctx;
};

secup_rc secup_zstd_compressor_new(struct secup_zstd_compressor **out, int level,
                                   uint64_t pledged_size, struct secup_err *err)
{
    *out = NULL;
    struct secup_zstd_compressor *c = secup_alloc(sizeof(*c));
    if (!c)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a zstd compressor");
    c->cctx = ZSTD_createCCtx();
    if (!c->cctx ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level ? level : 3)) ||
        /* Devices decode with a window of at most 2^SECUP_ZSTD_WINDOW_LOG. */
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_windowLog, SECUP_ZSTD_WINDOW_LOG)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 1)) ||
        (pledged_size != UINT64_MAX &&
         ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(c->cctx, pledged_size)))) {
        secup_zstd_compressor_free(c);
        return secup_err_set(err, SECUP_E_ARG, "zstd compressor setup failed (level %d)", level);
    }
    *out = c;
    return SECUP_OK;
}

secup_rc secup_zstd_compress(struct secup_zstd_compressor *c, struct secup_bytes in, bool end,
                             uint8_t *buf, size_t cap,
                             secup_rc (*sink)(void *ctx, struct secup_bytes out,
                                              struct secup_err *err),
                             void *ctx, struct secup_err *err)
{
    ZSTD_inBuffer ib = { in.ptr, in.len, 0 };
    ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
        ZSTD_outBuffer ob = { buf, cap, 0 };
        size_t r = ZSTD_compressStream2(c->cctx, &ob, &ib, mode);
        if (ZSTD_isError(r))
            return secup_err_set(err, SECUP_E_ARG, "zstd: %s", ZSTD_getErrorName(r));
        if (ob.pos) {
            secup_rc rc = sink(ctx, secup_bytes_of(buf, ob.pos), err);
            secup_wipe(buf, ob.pos);
            if (rc != SECUP_OK)
                return rc;
        }
        bool done = end ? r == 0 : ib.pos == ib.size;
        if (done)
            return SECUP_OK;
    }
}

void secup_zstd_compressor_free(struct secup_zstd_compressor *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->cctx);
    secup_free(c);
}
