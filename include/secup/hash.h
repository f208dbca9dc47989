/* secup — streaming SHA-256 for programs that hash what they receive (server blobs,
 * uploads), on top of the crypto seam. */
#ifndef SECUP_HASH_H
#define SECUP_HASH_H

#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"

struct secup_sha256_ctx;

SECUP_API SECUP_NODISCARD secup_rc secup_sha256_new(struct secup_sha256_ctx **out,
                                                    struct secup_err *err);
SECUP_API SECUP_NODISCARD secup_rc secup_sha256_update(struct secup_sha256_ctx *h,
                                                       struct secup_bytes in,
                                                       struct secup_err *err);
/* Writes the digest; the context starts over for a new message. */
SECUP_API SECUP_NODISCARD secup_rc secup_sha256_final(struct secup_sha256_ctx *h,
                                                      uint8_t out[32], struct secup_err *err);
SECUP_API void secup_sha256_free(struct secup_sha256_ctx *h);

#endif /* SECUP_HASH_H */
