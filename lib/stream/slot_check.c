/* Re-verifying what a slot holds: the boot stage trusts an image only after hashing it
 * again (THREATS.md C7: an image replaced between verification and boot). */
#include <string.h>

#include "crypto/crypto.h"
#include "secup/slot.h"
#include "secup/stream.h"
#include "util/alloc.h"

#define CHECK_CHUNK (64u * 1024u)

secup_rc secup_slot_digest_check(struct secup_slot *s, const struct secup_digest *d,
                                 uint64_t size, struct secup_err *err)
{
    if (!s || !d)
        return secup_err_set(err, SECUP_E_ARG, "no slot or digest");
    if (d->alg != SECUP_COSE_ALG_SHA256 || d->bytes.len != SECUP_SHA256_LEN)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "digest algorithm %lld", (long long)d->alg);
    if (size > s->capacity)
        return secup_err_set(err, SECUP_E_SIZE, "image of %llu bytes does not fit the slot (%llu)",
                             (unsigned long long)size, (unsigned long long)s->capacity);
    uint8_t *buf = secup_alloc(CHECK_CHUNK);
    struct secup_crypto_hash *h = NULL;
    if (!buf)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory to check a slot");
    secup_rc rc = secup_crypto_hash_new(&h, err);
    for (uint64_t off = 0; rc == SECUP_OK && off < size;) {
        size_t n = size - off < CHECK_CHUNK ? (size_t)(size - off) : CHECK_CHUNK;
        rc = s->ops->read(s, off, buf, n, err);
        if (rc == SECUP_OK)
            rc = secup_crypto_hash_update(h, secup_bytes_of(buf, n), err);
        off += n;
    }
    uint8_t out[SECUP_SHA256_LEN];
    if (rc == SECUP_OK)
        rc = secup_crypto_hash_final(h, out, err);
    if (rc == SECUP_OK && !secup_ct_equal(secup_bytes_of(out, sizeof(out)), d->bytes))
        rc = secup_err_set(err, SECUP_E_DIGEST, "the slot '%s' does not hold the expected image",
                           s->path);
    secup_crypto_hash_free(h);
    secup_wipe(buf, CHECK_CHUNK);
    secup_free(buf);
    return rc;
}
