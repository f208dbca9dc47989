/* Fuzz target: the state-file bootloader backend's format (programs/agent/boot_statefile.c).
 *
 * Byte 0 selects: even = the rest is a whole file as stored (its sha256 line must match);
 * odd = the rest is the body, and the correct checksum line is appended here so that the
 * fuzzer reaches the line parser behind the checksum. Invariants: a refusal carries its
 * code and message and leaves the output empty; the format is canonical, so an accepted
 * file formats back to exactly its bytes, and every accepted entry is a state a backend
 * may store. */
/* THREAT: P8 */
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct boot_statefile sf;
    static char text[BOOT_STATEFILE_MAX_SIZE + 128];
    static char out[BOOT_STATEFILE_MAX_SIZE + 128];
    struct secup_err err;
    if (size < 1 || size - 1 > BOOT_STATEFILE_MAX_SIZE + 64)
        return 0;
    size_t len = size - 1;
    memcpy(text, data + 1, len);
    if (data[0] & 1) {
        uint8_t h[32];
        char hex[65];
        if (secup_sha256(secup_bytes_of(text, len), h, &err) != SECUP_OK)
            fuzz_common_fail("sha256: %s", err.msg);
        secup_hex_encode(secup_bytes_of(h, 32), hex, sizeof(hex));
        int n = snprintf(text + len, sizeof(text) - len, "sha256=%s\n", hex);
        if (n < 0 || (size_t)n >= sizeof(text) - len)
            return 0;
        len += (size_t)n;
    }
    secup_rc rc = boot_statefile_parse(text, len, &sf, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "boot_statefile_parse");
        if (sf.n != 0)
            fuzz_common_fail("a refused file left %u entries", sf.n);
        return 0;
    }
    if (sf.n > BOOT_STATEFILE_MAX_COMPONENTS)
        fuzz_common_fail("%u entries accepted", sf.n);
    for (uint32_t i = 0; i < sf.n; i++) {
        if (!boot_is_valid_name(sf.e[i].comp) ||
            boot_state_check(sf.e[i].comp, &sf.e[i].st, &err) != SECUP_OK)
            fuzz_common_fail("entry %u accepted but not storable", i);
    }
    size_t n = 0;
    if (boot_statefile_format(&sf, out, sizeof(out), &n, &err) != SECUP_OK)
        fuzz_common_fail("an accepted file does not format: %s", err.msg);
    if (n != len || memcmp(out, text, len) != 0)
        fuzz_common_fail("an accepted file is not in canonical form (%zu bytes, formats to %zu)", len, n);
    return 0;
}
