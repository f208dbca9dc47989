/* The crypto seam on OpenSSL 3 libcrypto. The only file of libsecup that includes OpenSSL. */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <string.h>

#include "crypto.h"
#include "secup/file.h"
#include "util/alloc.h"

#define MAX_PEM_FILE (64 * 1024)
#define MIN_SECRET 16
#define MAX_SECRET 64

struct secup_key {
    enum secup_key_type type;
    bool has_private;
    EVP_PKEY *pkey;              /* asymmetric keys */
    uint8_t secret[MAX_SECRET];  /* HMAC keys */
    size_t secret_len;
};

/* The newest OpenSSL error reason, for messages; drains the queue. */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "no detail from OpenSSL";
}

static secup_rc crypto_fail(struct secup_err *err, const char *what)
{
    return secup_err_set(err, SECUP_E_CRYPTO, "%s failed: %s", what, ossl_reason());
}

const char *secup_key_type_name(enum secup_key_type type)
{
    switch (type) {
    case SECUP_KEY_P256: return "P-256";
    case SECUP_KEY_ED25519: return "Ed25519";
    case SECUP_KEY_X25519: return "X25519";
    case SECUP_KEY_HMAC: return "HMAC secret";
    case SECUP_KEY_NONE: break;
    }
    return "none";
}

enum secup_key_type secup_key_type(const struct secup_key *key)
{
    return key ? key->type : SECUP_KEY_NONE;
}

bool secup_key_has_private(const struct secup_key *key)
{
    return key && key->has_private;
}

void secup_key_free(struct secup_key *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey);
    secup_wipe(key, sizeof(*key));
    secup_free(key);
}

static secup_rc key_from_pkey(struct secup_key **out, EVP_PKEY *pkey, bool priv,
                              struct secup_err *err)
{
    enum secup_key_type type = SECUP_KEY_NONE;
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                           sizeof(group), &glen) != 1 ||
            strcmp(group, "prime256v1") != 0) {
            EVP_PKEY_free(pkey);
            return secup_err_set(err, SECUP_E_UNSUPPORTED,
                                 "EC key on curve '%s', only P-256 (prime256v1) is supported",
                                 group[0] ? group : "?");
        }
        type = SECUP_KEY_P256;
        break;
    }
    case EVP_PKEY_ED25519: type = SECUP_KEY_ED25519; break;
    case EVP_PKEY_X25519: type = SECUP_KEY_X25519; break;
    default:
        EVP_PKEY_free(pkey);
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "key type '%s' is not supported (P-256, Ed25519 or X25519)",
                             OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
    }
    struct secup_key *k = secup_alloc(sizeof(*k));
    if (!k) {
        EVP_PKEY_free(pkey);
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a key");
    }
    k->type = type;
    k->has_private = priv;
    k->pkey = pkey;
    *out = k;
    return SECUP_OK;
}

secup_rc secup_key_generate(struct secup_key **out, enum secup_key_type type,
                            struct secup_err *err)
{
    *out = NULL;
    EVP_PKEY *pkey = NULL;
    switch (type) {
    case SECUP_KEY_P256: pkey = EVP_EC_gen("P-256"); break;
    case SECUP_KEY_ED25519: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
    case SECUP_KEY_X25519: pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519"); break;
    default:
        return secup_err_set(err, SECUP_E_ARG, "cannot generate a key of type %s",
                             secup_key_type_name(type));
    }
    if (!pkey)
        return crypto_fail(err, "key generation");
    return key_from_pkey(out, pkey, true, err);
}

/* Encrypted key files are not supported: without this callback OpenSSL would prompt for a
 * passphrase on the terminal, and a daemon would hang. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

secup_rc secup_key_parse_pem(struct secup_key **out, struct secup_bytes pem, struct secup_err *err)
{
    *out = NULL;
    if (pem.len > MAX_PEM_FILE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "PEM text of %zu bytes is too large",
                             pem.len);
    BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    if (!bio)
        return crypto_fail(err, "BIO_new_mem_buf");
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    bool priv = pkey != NULL;
    if (!pkey) {
        ERR_clear_error();
        (void)BIO_reset(bio);
        pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    }
    BIO_free(bio);
    if (!pkey)
        return secup_err_set(err, SECUP_E_KEY_FORMAT, "no PEM private or public key found (%s)",
                             ossl_reason());
    return key_from_pkey(out, pkey, priv, err);
}

secup_rc secup_key_load_pem(struct secup_key **out, const char *path, struct secup_err *err)
{
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, MAX_PEM_FILE, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    rc = secup_key_parse_pem(out, secup_bytes_of(buf, len), err);
    secup_file_free(buf, len);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "key file '%s'", path);
    return rc;
}

secup_rc secup_key_from_secret(struct secup_key **out, struct secup_bytes secret,
                               struct secup_err *err)
{
    *out = NULL;
    if (secret.len < MIN_SECRET || secret.len > MAX_SECRET)
        return secup_err_set(err, SECUP_E_KEY_FORMAT,
                             "HMAC secret of %zu bytes; it must be %d to %d bytes", secret.len,
                             MIN_SECRET, MAX_SECRET);
    struct secup_key *k = secup_alloc(sizeof(*k));
    if (!k)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a key");
    k->type = SECUP_KEY_HMAC;
    k->has_private = true;
    memcpy(k->secret, secret.ptr, secret.len);
    k->secret_len = secret.len;
    *out = k;
    return SECUP_OK;
}

static secup_rc save_pem(const struct secup_key *key, const char *path, bool priv,
                         struct secup_err *err)
{
    if (!key || !key->pkey)
        return secup_err_set(err, SECUP_E_ARG, "only asymmetric keys are saved as PEM");
    if (priv && !key->has_private)
        return secup_err_set(err, SECUP_E_ARG, "the key has no private part");
    BIO *bio = BIO_new(BIO_s_secmem());
    if (!bio)
        return crypto_fail(err, "BIO_new");
    int ok = priv ? PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)
                  : PEM_write_bio_PUBKEY(bio, key->pkey);
    if (ok != 1) {
        BIO_free(bio);
        return crypto_fail(err, "PEM encoding");
    }
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    secup_rc rc = secup_file_write_atomic(path, secup_bytes_of(data, (size_t)n),
                                          priv ? 0600 : 0644, err);
    BIO_free(bio);
    return rc;
}

secup_rc secup_key_save_private(const struct secup_key *key, const char *path,
                                struct secup_err *err)
{
    return save_pem(key, path, true, err);
}

secup_rc secup_key_save_public(const struct secup_key *key, const char *path,
                               struct secup_err *err)
{
    return save_pem(key, path, false, err);
}

static secup_rc digest_parts(const char *md_name, const struct secup_bytes *parts, size_t n,
                             uint8_t *out, struct secup_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return crypto_fail(err, "EVP_MD_CTX_new");
    const EVP_MD *md = EVP_get_digestbyname(md_name);
    secup_rc rc = SECUP_OK;
    if (!md || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        rc = crypto_fail(err, "digest init");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len && EVP_DigestUpdate(ctx, parts[i].ptr, parts[i].len) != 1) {
            rc = crypto_fail(err, "digest update");
            goto out;
        }
    }
    if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        rc = crypto_fail(err, "digest final");
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

secup_rc secup_crypto_sha256(struct secup_bytes in, uint8_t out[SECUP_SHA256_LEN],
                             struct secup_err *err)
{
    if (EVP_Digest(in.ptr ? in.ptr : (const uint8_t *)"", in.len, out, NULL, EVP_sha256(), NULL) != 1)
        return crypto_fail(err, "SHA-256");
    return SECUP_OK;
}

secup_rc secup_crypto_sha256_parts(const struct secup_bytes *parts, size_t n,
                                   uint8_t out[SECUP_SHA256_LEN], struct secup_err *err)
{
    return digest_parts("SHA256", parts, n, out, err);
}

secup_rc secup_crypto_sha1_parts(const struct secup_bytes *parts, size_t n, uint8_t out[20],
                                 struct secup_err *err)
{
    return digest_parts("SHA1", parts, n, out, err);
}

secup_rc secup_key_id(const struct secup_key *key, uint8_t out[32], struct secup_err *err)
{
    if (!key)
        return secup_err_set(err, SECUP_E_ARG, "no key");
    if (key->type == SECUP_KEY_HMAC) {
        static const char label[] = "secup hmac key id";
        struct secup_bytes parts[2] = { secup_bytes_of(label, sizeof(label) - 1),
                                        secup_bytes_of(key->secret, key->secret_len) };
        return secup_crypto_sha256_parts(parts, 2, out, err);
    }
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key->pkey, &der);
    if (n <= 0)
        return crypto_fail(err, "public key encoding");
    secup_rc rc = secup_crypto_sha256(secup_bytes_of(der, (size_t)n), out, err);
    OPENSSL_free(der);
    return rc;
}

int64_t secup_crypto_default_sig_alg(const struct secup_key *key)
{
    switch (secup_key_type(key)) {
    case SECUP_KEY_P256: return SECUP_COSE_ALG_ESP256;
    case SECUP_KEY_ED25519: return SECUP_COSE_ALG_ED25519;
    case SECUP_KEY_HMAC: return SECUP_COSE_ALG_HMAC256;
    default: return 0;
    }
}

bool secup_crypto_key_fits_alg(const struct secup_key *key, int64_t alg)
{
    switch (alg) {
    case SECUP_COSE_ALG_ES256:
    case SECUP_COSE_ALG_ESP256: return secup_key_type(key) == SECUP_KEY_P256;
    case SECUP_COSE_ALG_EDDSA:
    case SECUP_COSE_ALG_ED25519: return secup_key_type(key) == SECUP_KEY_ED25519;
    case SECUP_COSE_ALG_HMAC256: return secup_key_type(key) == SECUP_KEY_HMAC;
    default: return false;
    }
}

/* COSE carries ECDSA signatures as fixed-size r||s (RFC 9053 section 2.1); OpenSSL wants
 * DER. Encoded by hand into the caller's buffer: no allocation on the verify path. */
static size_t der_integer(const uint8_t *v, size_t n, uint8_t *out)
{
    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    size_t pad = (v[0] & 0x80) ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

static secup_rc ecdsa_raw_to_der(struct secup_bytes raw, uint8_t der[72], size_t *der_len,
                                 struct secup_err *err)
{
    *der_len = 0;
    if (raw.len != 64)
        return secup_err_set(err, SECUP_E_SIG, "ECDSA P-256 signature is %zu bytes, expected 64",
                             raw.len);
    size_t n = 2;
    n += der_integer(raw.ptr, 32, der + n);
    n += der_integer(raw.ptr + 32, 32, der + n);
    der[0] = 0x30;
    der[1] = (uint8_t)(n - 2);
    *der_len = n;
    return SECUP_OK;
}

static secup_rc ecdsa_der_to_raw(const unsigned char *der, size_t der_len, uint8_t out[64],
                                 struct secup_err *err)
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!s)
        return crypto_fail(err, "ECDSA signature decoding");
    const BIGNUM *r = NULL;
    const BIGNUM *sv = NULL;
    ECDSA_SIG_get0(s, &r, &sv);
    int ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(sv, out + 32, 32) == 32;
    ECDSA_SIG_free(s);
    if (!ok)
        return crypto_fail(err, "ECDSA signature conversion");
    return SECUP_OK;
}

secup_rc secup_crypto_sign(const struct secup_key *key, int64_t alg, struct secup_bytes tbs,
                           uint8_t *sig, size_t sig_cap, size_t *sig_len, struct secup_err *err)
{
    *sig_len = 0;
    if (!secup_crypto_key_fits_alg(key, alg) || key->type == SECUP_KEY_HMAC)
        return secup_err_set(err, SECUP_E_ARG, "a %s key cannot sign with COSE algorithm %lld",
                             secup_key_type_name(secup_key_type(key)), (long long)alg);
    if (!key->has_private)
        return secup_err_set(err, SECUP_E_ARG, "the signing key has no private part");
    if (sig_cap < 64)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "signature buffer of %zu bytes", sig_cap);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return crypto_fail(err, "EVP_MD_CTX_new");
    secup_rc rc = SECUP_OK;
    bool ec = key->type == SECUP_KEY_P256;
    unsigned char der[80];
    size_t n = ec ? sizeof(der) : sig_cap;
    if (EVP_DigestSignInit(ctx, NULL, ec ? EVP_sha256() : NULL, NULL, key->pkey) != 1 ||
        EVP_DigestSign(ctx, ec ? der : sig, &n, tbs.ptr, tbs.len) != 1) {
        rc = crypto_fail(err, "signing");
        goto out;
    }
    if (ec) {
        rc = ecdsa_der_to_raw(der, n, sig, err);
        if (rc == SECUP_OK)
            *sig_len = 64;
    } else {
        *sig_len = n;
    }
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

secup_rc secup_crypto_verify(const struct secup_key *key, int64_t alg, struct secup_bytes tbs,
                             struct secup_bytes sig, struct secup_err *err)
{
    if (!secup_crypto_key_fits_alg(key, alg) || key->type == SECUP_KEY_HMAC)
        return secup_err_set(err, SECUP_E_KEY_UNKNOWN,
                             "a %s key cannot verify COSE algorithm %lld",
                             secup_key_type_name(secup_key_type(key)), (long long)alg);
    bool ec = key->type == SECUP_KEY_P256;
    if (!ec && sig.len != 64)
        return secup_err_set(err, SECUP_E_SIG, "Ed25519 signature is %zu bytes, expected 64",
                             sig.len);
    uint8_t der[72];
    size_t der_len = 0;
    if (ec) {
        secup_rc rc = ecdsa_raw_to_der(sig, der, &der_len, err);
        if (rc != SECUP_OK)
            return rc;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return crypto_fail(err, "EVP_MD_CTX_new");
    secup_rc rc = SECUP_OK;
    if (EVP_DigestVerifyInit(ctx, NULL, ec ? EVP_sha256() : NULL, NULL, key->pkey) != 1) {
        rc = crypto_fail(err, "verify init");
        goto out;
    }
    int v = ec ? EVP_DigestVerify(ctx, der, der_len, tbs.ptr, tbs.len)
               : EVP_DigestVerify(ctx, sig.ptr, sig.len, tbs.ptr, tbs.len);
    if (v == 1)
        rc = SECUP_OK;
    else if (v == 0) {
        ERR_clear_error();
        rc = secup_err_set(err, SECUP_E_SIG, "signature does not verify");
    } else {
        /* A malformed signature (r or s out of range) is a refusal, not a backend fault. */
        ERR_clear_error();
        rc = secup_err_set(err, SECUP_E_SIG, "signature does not verify (malformed)");
    }
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

secup_rc secup_crypto_hmac_sha256(const struct secup_key *key, struct secup_bytes data,
                                  uint8_t out[SECUP_SHA256_LEN], struct secup_err *err)
{
    if (secup_key_type(key) != SECUP_KEY_HMAC)
        return secup_err_set(err, SECUP_E_KEY_UNKNOWN, "HMAC needs a secret key, not a %s key",
                             secup_key_type_name(secup_key_type(key)));
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key->secret, (int)key->secret_len, data.ptr ? data.ptr : out, data.len,
              out, &n) ||
        n != SECUP_SHA256_LEN)
        return crypto_fail(err, "HMAC-SHA256");
    return SECUP_OK;
}

secup_rc secup_crypto_random(uint8_t *out, size_t len, struct secup_err *err)
{
    if (len > INT32_MAX || RAND_bytes(out, (int)len) != 1)
        return crypto_fail(err, "random bytes");
    return SECUP_OK;
}
