/* The public streaming SHA-256 (include/secup/hash.h) over the crypto seam. */
#include "secup/hash.h"

#include "crypto/crypto.h"

struct secup_sha256_ctx {
    struct secup_crypto_hash *h;
};

secup_rc secup_sha256_new(struct secup_sha256_ctx **out, struct secup_err *err)
{
    struct secup_crypto_hash *h = NULL;
    secup_rc rc = secup_crypto_hash_new(&h, err);
    if (rc != SECUP_OK)
        return rc;
    *out = (struct secup_sha256_ctx *)h;
    return SECUP_OK;
}

secup_rc secup_sha256_update(struct secup_sha256_ctx *h, struct secup_bytes in,
                             struct secup_err *err)
{
    return secup_crypto_hash_update((struct secup_crypto_hash *)h, in, err);
}

secup_rc secup_sha256_final(struct secup_sha256_ctx *h, uint8_t out[32], struct secup_err *err)
{
    return secup_crypto_hash_final((struct secup_crypto_hash *)h, out, err);
}

void secup_sha256_free(struct secup_sha256_ctx *h)
{
    secup_crypto_hash_free((struct secup_crypto_hash *)h);
}
