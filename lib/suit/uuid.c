/* Name-based UUIDs (RFC 9562 section 5.5) as SUIT uses them for vendor and class ids. */
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "secup/policy.h"

/* The DNS namespace 6ba7b810-9dad-11d1-80b4-00c04fd430c8 (RFC 9562 section 6.6). */
static const uint8_t ns_dns[16] = { 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                    0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };

secup_rc secup_uuid5(const uint8_t ns[16], struct secup_bytes name, uint8_t out[16],
                     struct secup_err *err)
{
    uint8_t h[20];
    struct secup_bytes parts[2] = { secup_bytes_of(ns, 16), name };
    secup_rc rc = secup_crypto_sha1_parts(parts, 2, h, err);
    if (rc != SECUP_OK)
        return rc;
    memcpy(out, h, 16);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x50);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
    return SECUP_OK;
}

secup_rc secup_vendor_id(const char *domain, uint8_t out[16], struct secup_err *err)
{
    if (!domain || !*domain)
        return secup_err_set(err, SECUP_E_ARG, "empty vendor domain");
    return secup_uuid5(ns_dns, secup_bytes_of(domain, strlen(domain)), out, err);
}

secup_rc secup_class_id(const uint8_t vendor_id[16], const char *name, uint8_t out[16],
                        struct secup_err *err)
{
    if (!name || !*name)
        return secup_err_set(err, SECUP_E_ARG, "empty class name");
    return secup_uuid5(vendor_id, secup_bytes_of(name, strlen(name)), out, err);
}

void secup_uuid_format(const uint8_t u[16], char out[SECUP_UUID_STR_LEN + 1])
{
    snprintf(out, SECUP_UUID_STR_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

bool secup_uuid_parse(const char *s, uint8_t out[16])
{
    size_t n = 0;
    if (strlen(s) != SECUP_UUID_STR_LEN)
        return false;
    for (size_t i = 0; i < SECUP_UUID_STR_LEN;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        char pair[3] = { s[i], s[i + 1], 0 };
        size_t got = 0;
        if (!secup_hex_decode(pair, &out[n], 1, &got) || got != 1)
            return false;
        n++;
        i += 2;
    }
    return n == 16;
}
