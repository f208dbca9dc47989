#include <ctype.h>
#include <string.h>

#include "secup/bytes.h"

bool secup_bytes_equal(struct secup_bytes a, struct secup_bytes b)
{
    if (a.len != b.len)
        return false;
    if (a.len == 0)
        return true;
    return memcmp(a.ptr, b.ptr, a.len) == 0;
}

bool secup_ct_equal(struct secup_bytes a, struct secup_bytes b)
{
    if (a.len != b.len)
        return false;
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < a.len; i++)
        diff = (uint8_t)(diff | (a.ptr[i] ^ b.ptr[i]));
    return diff == 0;
}

/* memset, then a compiler barrier that claims to read the memory, so the stores cannot be
 * dropped as dead; a volatile byte loop was a tenth of a decrypting install's time. */
void secup_wipe(void *p, size_t len)
{
    if (!p || len == 0)
        return;
    memset(p, 0, len);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

bool secup_hex_encode(struct secup_bytes b, char *out, size_t out_cap)
{
    static const char digits[] = "0123456789abcdef";
    if (out_cap == 0)
        return false;
    if (b.len > (out_cap - 1) / 2) {
        out[0] = '\0';
        return false;
    }
    for (size_t i = 0; i < b.len; i++) {
        out[2 * i] = digits[b.ptr[i] >> 4];
        out[2 * i + 1] = digits[b.ptr[i] & 0x0f];
    }
    out[2 * b.len] = '\0';
    return true;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool secup_hex_decode(const char *hex, uint8_t *out, size_t out_cap, size_t *out_len)
{
    *out_len = 0;
    while (*hex && isspace((unsigned char)*hex))
        hex++;
    size_t n = strlen(hex);
    while (n > 0 && isspace((unsigned char)hex[n - 1]))
        n--;
    if (n % 2 != 0 || n / 2 > out_cap)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_value((unsigned char)hex[2 * i]);
        int lo = hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = n / 2;
    return true;
}
