/* The producing side of the pipeline: image -> (zstd) -> (encrypt) -> payload, with the
 * image's SHA-256 and size computed on the way, in one pass with fixed memory. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stages.h"
#include "util/alloc.h"

#define PAYLOAD_CHUNK (64u * 1024u)

struct build {
    int out_fd;
    struct secup_encryptor *enc;
    uint8_t *encbuf;
    uint64_t written;
};

static secup_rc write_all(int fd, struct secup_bytes b, struct secup_err *err)
{
    size_t done = 0;
    while (done < b.len) {
        ssize_t n = write(fd, b.ptr + done, b.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return secup_err_set(err, SECUP_E_IO, "writing the payload: %s",
                                 n < 0 ? strerror(errno) : "no progress");
        done += (size_t)n;
    }
    return SECUP_OK;
}

/* Encrypts (when asked) and writes one piece of the compressed or plain image. */
static secup_rc emit(void *ctx, struct secup_bytes piece, struct secup_err *err)
{
    struct build *b = ctx;
    for (size_t off = 0; off < piece.len;) {
        size_t n = piece.len - off < PAYLOAD_CHUNK ? piece.len - off : PAYLOAD_CHUNK;
        struct secup_bytes in = secup_bytes_of(piece.ptr + off, n);
        secup_rc rc = SECUP_OK;
        if (b->enc) {
            rc = secup_encryptor_update(b->enc, in, b->encbuf, PAYLOAD_CHUNK, err);
            in = secup_bytes_of(b->encbuf, n);
        }
        if (rc == SECUP_OK)
            rc = write_all(b->out_fd, in, err);
        if (rc != SECUP_OK)
            return rc;
        b->written += n;
        off += n;
    }
    return SECUP_OK;
}

secup_rc secup_payload_build_fd(int in_fd, int out_fd, const struct secup_payload_spec *spec,
                                struct secup_payload_result *res, struct secup_err *err)
{
    if (!spec || !res)
        return secup_err_set(err, SECUP_E_ARG, "no payload spec or result");
    memset(res, 0, sizeof(*res));
    if (spec->compression != SECUP_COMPRESSION_NONE && spec->compression != SECUP_COMPRESSION_ZSTD)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "compression %d", (int)spec->compression);
    struct build b = { out_fd, NULL, NULL, 0 };
    struct secup_crypto_hash *hash = NULL;
    struct secup_zstd_compressor *z = NULL;
    uint8_t *mem = secup_alloc(3 * PAYLOAD_CHUNK);
    if (!mem)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for payload buffers");
    uint8_t *inbuf = mem;
    uint8_t *zbuf = mem + PAYLOAD_CHUNK;
    b.encbuf = mem + 2 * PAYLOAD_CHUNK;
    secup_rc rc = secup_crypto_hash_new(&hash, err);
    if (rc == SECUP_OK && spec->enc_alg)
        rc = secup_encryptor_new(&b.enc, spec->enc_alg, spec->recipients, spec->n_recipients,
                                 spec->enc_opts, err);
    if (rc == SECUP_OK && spec->compression == SECUP_COMPRESSION_ZSTD) {
        struct stat st;
        uint64_t pledged = fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
                                                                          : UINT64_MAX;
        rc = secup_zstd_compressor_new(&z, spec->level, pledged, err);
    }
    while (rc == SECUP_OK) {
        ssize_t n = read(in_fd, inbuf, PAYLOAD_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = secup_err_set(err, SECUP_E_IO, "reading the image: %s", strerror(errno));
            break;
        }
        struct secup_bytes in = secup_bytes_of(inbuf, (size_t)n);
        rc = secup_crypto_hash_update(hash, in, err);
        if (rc != SECUP_OK)
            break;
        res->image_size += (uint64_t)n;
        if (z)
            rc = secup_zstd_compress(z, in, n == 0, zbuf, PAYLOAD_CHUNK, emit, &b, err);
        else
            rc = emit(&b, in, err);
        if (n == 0)
            break;
    }
    if (rc == SECUP_OK && b.enc) {
        uint8_t tag[SECUP_ENC_TAG_LEN];
        size_t tag_len = 0;
        rc = secup_encryptor_finish(b.enc, tag, sizeof(tag), &tag_len, err);
        if (rc == SECUP_OK)
            rc = write_all(out_fd, secup_bytes_of(tag, tag_len), err);
        b.written += tag_len;
        struct secup_bytes info = secup_encryptor_info(b.enc);
        memcpy(res->enc_info, info.ptr, info.len);
        res->enc_info_len = info.len;
    }
    if (rc == SECUP_OK)
        rc = secup_crypto_hash_final(hash, res->image_digest, err);
    res->payload_size = b.written;
    secup_zstd_compressor_free(z);
    secup_encryptor_free(b.enc);
    secup_crypto_hash_free(hash);
    secup_wipe(mem, 3 * PAYLOAD_CHUNK);
    secup_free(mem);
    if (rc != SECUP_OK)
        memset(res, 0, sizeof(*res));
    return rc;
}
