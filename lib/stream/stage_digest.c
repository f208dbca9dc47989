/* The digest stage: SHA-256 and size of the image, checked against the manifest's
 * image-digest and image-size. Bytes past the declared size are never passed on. */
#include <string.h>

#include "stages.h"

/* Called with the first byte beyond the declared size: the verdict depends on whether
 * what was declared is intact. If the first `expect` bytes match the digest, the image is
 * complete and the rest was appended; otherwise the image itself is larger than declared. */
static secup_rc overflow(struct secup_stage_digest *st, struct secup_bytes in, size_t take,
                         struct secup_err *err)
{
    uint8_t got[SECUP_SHA256_LEN];
    secup_rc rc = secup_crypto_hash_update(st->hash, secup_bytes_of(in.ptr, take), err);
    if (rc == SECUP_OK)
        rc = secup_crypto_hash_final(st->hash, got, err);
    if (rc != SECUP_OK)
        return rc;
    bool intact = secup_ct_equal(secup_bytes_of(got, sizeof(got)),
                                 secup_bytes_of(st->want, sizeof(st->want)));
    if (intact)
        return secup_err_set(err, SECUP_E_OVERLONG,
                             "bytes follow the complete %llu-byte image",
                             (unsigned long long)st->expect);
    return secup_err_set(err, SECUP_E_SIZE, "image larger than its declared %llu bytes",
                         (unsigned long long)st->expect);
}

static secup_rc digest_write(struct secup_stage *base, struct secup_bytes in,
                             struct secup_err *err)
{
    struct secup_stage_digest *st = (struct secup_stage_digest *)base;
    uint64_t room = st->expect - st->seen;
    if (in.len > room)
        return overflow(st, in, (size_t)room, err);
    secup_rc rc = secup_crypto_hash_update(st->hash, in, err);
    if (rc != SECUP_OK)
        return rc;
    st->seen += in.len;
    return secup_stage_forward(base, in, err);
}

static secup_rc digest_finish(struct secup_stage *base, struct secup_err *err)
{
    struct secup_stage_digest *st = (struct secup_stage_digest *)base;
    if (st->seen < st->expect)
        return secup_err_set(err, SECUP_E_TRUNCATED, "image of %llu bytes, %llu declared",
                             (unsigned long long)st->seen, (unsigned long long)st->expect);
    uint8_t got[SECUP_SHA256_LEN];
    secup_rc rc = secup_crypto_hash_final(st->hash, got, err);
    if (rc != SECUP_OK)
        return rc;
    if (!secup_ct_equal(secup_bytes_of(got, sizeof(got)),
                        secup_bytes_of(st->want, sizeof(st->want))))
        return secup_err_set(err, SECUP_E_DIGEST, "image does not match its SHA-256 digest");
    return SECUP_OK;
}

static void digest_abort(struct secup_stage *base)
{
    struct secup_stage_digest *st = (struct secup_stage_digest *)base;
    /* The hash state is derived from plaintext: drop it. */
    secup_crypto_hash_free(st->hash);
    st->hash = NULL;
}

static const struct secup_stage_ops digest_ops = {
    .name = "digest",
    .write = digest_write,
    .finish = digest_finish,
    .abort = digest_abort,
};

secup_rc secup_stage_digest_init(struct secup_stage_digest *st, uint64_t expect,
                                 const uint8_t want[SECUP_SHA256_LEN], struct secup_err *err)
{
    memset(st, 0, sizeof(*st));
    st->base.ops = &digest_ops;
    st->expect = expect;
    memcpy(st->want, want, SECUP_SHA256_LEN);
    return secup_crypto_hash_new(&st->hash, err);
}

secup_rc secup_stage_digest_replay(struct secup_stage_digest *st, struct secup_bytes data,
                                   struct secup_err *err)
{
    if (data.len > st->expect - st->seen)
        return secup_err_set(err, SECUP_E_VALUE, "resumed image beyond its declared size");
    secup_rc rc = secup_crypto_hash_update(st->hash, data, err);
    if (rc == SECUP_OK)
        st->seen += data.len;
    return rc;
}

void secup_stage_digest_clear(struct secup_stage_digest *st)
{
    if (st->base.ops)
        digest_abort(&st->base);
}
