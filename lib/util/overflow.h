/* Checked size arithmetic (STYLE.md section 5.9). */
#ifndef SECUP_UTIL_OVERFLOW_H
#define SECUP_UTIL_OVERFLOW_H

#include <stdbool.h>
#include <stddef.h>

/* True if a + b overflows size_t; otherwise stores the sum in *out. */
static inline bool secup_add_overflows(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

/* True if a * b overflows size_t; otherwise stores the product in *out. */
static inline bool secup_mul_overflows(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

#endif /* SECUP_UTIL_OVERFLOW_H */
