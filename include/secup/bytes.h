/* secup — byte views and writable buffers (STYLE.md section 5.6). */
#ifndef SECUP_BYTES_H
#define SECUP_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/export.h"

/* A borrowed, read-only view. It dies with the storage it points into. */
struct secup_bytes {
    const uint8_t *ptr;
    size_t len;
};

/* A caller-owned writable buffer: cap bytes at ptr. */
struct secup_buf {
    uint8_t *ptr;
    size_t cap;
};

static inline struct secup_bytes secup_bytes_of(const void *ptr, size_t len)
{
    struct secup_bytes b = { (const uint8_t *)ptr, len };
    return b;
}

/* True when both views hold the same bytes. Not constant time: never use it on MACs,
 * tags or secrets; use secup_ct_equal() for those. */
SECUP_API bool secup_bytes_equal(struct secup_bytes a, struct secup_bytes b);

/* Constant-time comparison of two equal-length secrets. Different lengths: false. */
SECUP_API bool secup_ct_equal(struct secup_bytes a, struct secup_bytes b);

/* Overwrites len bytes at p with zeros in a way the compiler cannot elide. */
SECUP_API void secup_wipe(void *p, size_t len);

/* Lower-case hex of b into out (NUL-terminated); out_cap must be at least 2*len+1.
 * Returns false (and writes an empty string if it can) when out is too small. */
SECUP_API bool secup_hex_encode(struct secup_bytes b, char *out, size_t out_cap);

/* Decodes hex text (upper or lower case, surrounding whitespace ignored) into out.
 * Returns false on odd length, a non-hex character or when out_cap is too small. */
SECUP_API bool secup_hex_decode(const char *hex, uint8_t *out, size_t out_cap, size_t *out_len);

#endif /* SECUP_BYTES_H */
