/* The decrypt stage: a SUIT payload decryption (lib/cose/encrypt.c) as a pipeline stage. */
#include <string.h>

#include "stages.h"

secup_rc secup_stage_forward(struct secup_stage *st, struct secup_bytes out,
                             struct secup_err *err)
{
    if (!st->next || out.len == 0)
        return SECUP_OK;
    return st->next->ops->write(st->next, out, err);
}

static secup_rc decrypt_write(struct secup_stage *base, struct secup_bytes in,
                              struct secup_err *err)
{
    struct secup_stage_decrypt *st = (struct secup_stage_decrypt *)base;
    for (size_t off = 0; off < in.len;) {
        size_t n = in.len - off < st->cap ? in.len - off : st->cap;
        size_t got = 0;
        secup_rc rc = secup_decryptor_update(st->dec, secup_bytes_of(in.ptr + off, n), st->buf,
                                             st->cap, &got, err);
        if (rc == SECUP_OK)
            rc = secup_stage_forward(base, secup_bytes_of(st->buf, got), err);
        secup_wipe(st->buf, got);
        if (rc != SECUP_OK)
            return rc;
        off += n;
    }
    return SECUP_OK;
}

static secup_rc decrypt_finish(struct secup_stage *base, struct secup_err *err)
{
    struct secup_stage_decrypt *st = (struct secup_stage_decrypt *)base;
    /* When the plaintext size is known (no compression), a short payload is reported as
     * truncated rather than as a tag failure: the held-back "tag" is then image bytes. */
    uint64_t consumed = secup_decryptor_consumed(st->dec);
    size_t tag = secup_decryptor_tag_len(st->dec);
    if (st->expect_plain != UINT64_MAX &&
        (consumed < tag || consumed - tag < st->expect_plain))
        return secup_err_set(err, SECUP_E_TRUNCATED,
                             "payload of %llu bytes ends before the %llu-byte image and its "
                             "%zu-byte tag",
                             (unsigned long long)consumed, (unsigned long long)st->expect_plain,
                             tag);
    return secup_decryptor_finish(st->dec, err);
}

static void decrypt_abort(struct secup_stage *base)
{
    struct secup_stage_decrypt *st = (struct secup_stage_decrypt *)base;
    secup_wipe(st->buf, st->cap);
    /* The content key lives in the decryptor: release it now, not at free time. */
    secup_decryptor_free(st->dec);
    st->dec = NULL;
}

static const struct secup_stage_ops decrypt_ops = {
    .name = "decrypt",
    .write = decrypt_write,
    .finish = decrypt_finish,
    .abort = decrypt_abort,
};

void secup_stage_decrypt_init(struct secup_stage_decrypt *st, struct secup_decryptor *dec,
                              uint8_t *buf, size_t cap, uint64_t expect_plain)
{
    memset(st, 0, sizeof(*st));
    st->base.ops = &decrypt_ops;
    st->dec = dec;
    st->buf = buf;
    st->cap = cap;
    st->expect_plain = expect_plain;
}

secup_rc secup_stage_decrypt_replay(struct secup_stage_decrypt *st, struct secup_bytes plain,
                                    struct secup_err *err)
{
    return secup_decryptor_replay(st->dec, plain, st->buf, st->cap, err);
}

void secup_stage_decrypt_clear(struct secup_stage_decrypt *st)
{
    if (st->base.ops)
        decrypt_abort(&st->base);
}
