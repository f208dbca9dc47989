/* Fuzz target: secup-author's key files (programs/author/common.c:
 * author_parse_signing_key(), the in-memory half of author_load_signing_key(): PEM through
 * the crypto seam's secup_key_parse_pem(), or an HMAC secret written as hex through
 * author_parse_hex_key()).
 *
 * Byte 0 picks the loader: even = PEM signing key (--key K.pem), odd = hex HMAC secret
 * (--hmac-key); the rest is the file's text.
 * Invariants: a refusal carries its code and message and hands out no key (nothing can be
 * signed with it); an accepted PEM key holds its private part and is one of the key types
 * secup uses; an accepted HMAC secret is an HMAC key; an accepted key has an identifier,
 * and the same text gives the same key (identifier) again. */
/* THREAT: P9 */
#include <string.h>

#include "author.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool hmac = data[0] & 1;
    struct secup_bytes text = secup_bytes_of(data + 1, size - 1);
    struct secup_key *k = NULL;
    struct secup_err err;
    secup_rc rc = author_parse_signing_key("fuzz.key", text, hmac, &k, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "author_parse_signing_key");
        if (k)
            fuzz_common_fail("a refused key file handed out a key");
        return 0;
    }
    if (!k)
        fuzz_common_fail("an accepted key file gave no key");
    enum secup_key_type t = secup_key_type(k);
    if (hmac ? t != SECUP_KEY_HMAC
             : (t != SECUP_KEY_P256 && t != SECUP_KEY_ED25519 && t != SECUP_KEY_X25519))
        fuzz_common_fail("accepted a key of type %d", (int)t);
    if (!secup_key_has_private(k))
        fuzz_common_fail("accepted a signing key without its private part");
    uint8_t id1[32], id2[32];
    if (secup_key_id(k, id1, &err) != SECUP_OK)
        fuzz_common_fail("an accepted key has no identifier: %s", err.msg);
    struct secup_key *k2 = NULL;
    if (author_parse_signing_key("fuzz.key", text, hmac, &k2, &err) != SECUP_OK)
        fuzz_common_fail("the same key file is refused the second time: %s", err.msg);
    if (secup_key_id(k2, id2, &err) != SECUP_OK || memcmp(id1, id2, 32) != 0)
        fuzz_common_fail("the same key file gives another key");
    secup_key_free(k);
    secup_key_free(k2);
    return 0;
}
