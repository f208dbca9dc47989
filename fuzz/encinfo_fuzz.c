/* Fuzz target: secup_enc_info_decode() and the key unwrap / decryption behind it, on
 * arbitrary SUIT_Encryption_Info bytes.
 *
 * Invariants checked for every input:
 *  - a refusal carries a 2xx-4xx code with its message, and leaves an empty model;
 *  - an accepted info obeys the rules the decoder promises (counts, IV and wrapped-key
 *    lengths per algorithm, ephemeral key shapes) and every view points into the input;
 *  - unwrapping with the vectors' KEK (kid-1) and ECDH P-256 key either succeeds with a
 *    CEK of the content algorithm's length, or fails with a 2xx-4xx code and message;
 *  - a successful unwrap keys a decryption of the vectors' GCM payload, which (fed in
 *    pieces) either verifies to the published plaintext or fails with a code. */
/* THREAT: P4 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "secup/encrypt.h"

struct keys {
    uint8_t kek[16];
    struct secup_key *p256;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *plain;
    size_t plain_len;
};

/* Loaded on first use and kept for the life of the process. */
static const struct keys *keys(void)
{
    static struct keys k;
    static bool loaded;
    if (loaded)
        return &k;
    size_t len = 0;
    uint8_t *hex = fuzz_common_read_source_file(FUZZ_VECTORS "keys/enc-kek-a128kw-kid-1.hex",
                                                &len);
    char text[64];
    if (len >= sizeof(text))
        fuzz_common_fail("KEK file too long");
    memcpy(text, hex, len);
    text[len] = '\0';
    free(hex);
    size_t n = 0;
    if (!secup_hex_decode(text, k.kek, sizeof(k.kek), &n) || n != sizeof(k.kek))
        fuzz_common_fail("KEK file is not 16 bytes of hex");
    uint8_t *pem = fuzz_common_read_source_file(
        FUZZ_VECTORS "keys/enc-recipient-p256-ecdh-kid-2-private.pem", &len);
    struct secup_err err;
    if (secup_key_parse_pem(&k.p256, secup_bytes_of(pem, len), &err) != SECUP_OK)
        fuzz_common_fail("recipient key: %s", err.msg);
    free(pem);
    k.payload = fuzz_common_read_source_file(FUZZ_VECTORS "enc-payload-aes-kw-aes-gcm.bin",
                                             &k.payload_len);
    k.plain = fuzz_common_read_source_file(FUZZ_VECTORS "keys/plaintext-firmware.bin",
                                           &k.plain_len);
    loaded = true;
    return &k;
}

static bool inside(struct secup_bytes v, struct secup_bytes in)
{
    if (v.len == 0)
        return true;
    return v.ptr >= in.ptr && v.len <= in.len && (size_t)(v.ptr - in.ptr) <= in.len - v.len;
}

static size_t key_len(int64_t alg)
{
    return alg == SECUP_COSE_ALG_A128GCM || alg == SECUP_COSE_ALG_A128CTR ? 16 : 32;
}

static void check_info(const struct secup_enc_info *info, struct secup_bytes in)
{
    size_t iv = info->alg == SECUP_COSE_ALG_A128CTR || info->alg == SECUP_COSE_ALG_A256CTR ? 16
                                                                                            : 12;
    if (!secup_enc_alg_name(info->alg) || info->alg == SECUP_COSE_ALG_A128KW ||
        info->alg == SECUP_COSE_ALG_A256KW || info->alg == SECUP_COSE_ALG_ECDH_ES_A128KW)
        fuzz_common_fail("accepted content algorithm %lld", (long long)info->alg);
    if (info->iv.len != iv || !inside(info->iv, in) || !inside(info->protected_hdr, in))
        fuzz_common_fail("IV or protected header out of shape");
    if (iv == 16 && info->protected_hdr.len != 0)
        fuzz_common_fail("AES-CTR accepted with a protected header");
    if (info->n_recipients == 0 || info->n_recipients > SECUP_MAX_RECIPIENTS)
        fuzz_common_fail("%u recipients accepted", info->n_recipients);
    for (uint32_t i = 0; i < info->n_recipients; i++) {
        const struct secup_enc_recipient *r = &info->recipients[i];
        if (r->wrapped.len != key_len(info->alg) + 8 || !inside(r->wrapped, in) ||
            !inside(r->kid, in) || !inside(r->protected_hdr, in) || r->kid.len > SECUP_MAX_KID)
            fuzz_common_fail("recipient %u out of shape", i);
        if (r->alg == SECUP_COSE_ALG_ECDH_ES_A128KW) {
            size_t y = r->eph_type == SECUP_KEY_P256 ? 32 : 0;
            if ((r->eph_type != SECUP_KEY_P256 && r->eph_type != SECUP_KEY_X25519) ||
                r->eph_x.len != 32 || r->eph_y.len != y || !inside(r->eph_x, in) ||
                !inside(r->eph_y, in))
                fuzz_common_fail("recipient %u: ephemeral key out of shape", i);
        } else if (r->alg != SECUP_COSE_ALG_A128KW && r->alg != SECUP_COSE_ALG_A256KW) {
            fuzz_common_fail("recipient %u: accepted algorithm %lld", i, (long long)r->alg);
        } else if (r->protected_hdr.len != 0) {
            fuzz_common_fail("recipient %u: AES-KW with a protected header", i);
        }
    }
}

static void try_key(const struct secup_enc_info *info, const struct secup_recipient_key *key,
                    const struct keys *k)
{
    uint8_t cek[SECUP_MAX_CEK];
    size_t cek_len = 0;
    size_t used = 0;
    struct secup_err err;
    secup_rc rc = secup_enc_info_unwrap(info, key, cek, sizeof(cek), &cek_len, &used, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_enc_info_unwrap");
        return;
    }
    if (cek_len != key_len(info->alg) || used >= info->n_recipients)
        fuzz_common_fail("unwrap gave a %zu-byte CEK from recipient %zu", cek_len, used);
    struct secup_decryptor *d = NULL;
    rc = secup_decryptor_new_cek(&d, info, secup_bytes_of(cek, cek_len), &err);
    secup_wipe(cek, sizeof(cek));
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_decryptor_new_cek");
        return;
    }
    uint8_t out[256];
    size_t total = 0;
    for (size_t off = 0; off < k->payload_len && rc == SECUP_OK; off += 5) {
        size_t n = k->payload_len - off < 5 ? k->payload_len - off : 5;
        size_t got = 0;
        rc = secup_decryptor_update(d, secup_bytes_of(k->payload + off, n), out + total,
                                    sizeof(out) - total, &got, &err);
        total += got;
    }
    if (rc == SECUP_OK)
        rc = secup_decryptor_finish(d, &err);
    secup_decryptor_free(d);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "decryption");
        return;
    }
    /* CTR has no integrity: only an authenticated decryption must give the plaintext. */
    bool aead = info->alg == SECUP_COSE_ALG_A128GCM || info->alg == SECUP_COSE_ALG_CHACHA20_POLY1305;
    if (aead && (total != k->plain_len || memcmp(out, k->plain, total) != 0))
        fuzz_common_fail("an AEAD decryption verified to something other than the plaintext");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct keys *k = keys();
    struct secup_bytes in = secup_bytes_of(data, size);
    struct secup_enc_info info;
    struct secup_err err;
    secup_rc rc = secup_enc_info_decode(&info, in, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "secup_enc_info_decode");
        if (info.n_recipients != 0 || info.iv.ptr || info.protected_hdr.ptr)
            fuzz_common_fail("a refused info left a partly filled model behind");
        return 0;
    }
    check_info(&info, in);
    static const uint8_t kid1[] = { 'k', 'i', 'd', '-', '1' };
    struct secup_recipient_key kw = { SECUP_RECIPIENT_KEK, secup_bytes_of(k->kek, 16),
                                      secup_bytes_of(kid1, sizeof(kid1)), NULL };
    struct secup_recipient_key dh = { SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 }, k->p256 };
    try_key(&info, &kw, k);
    try_key(&info, &dh, k);
    return 0;
}
