/* The crypto seam on OpenSSL 3 libcrypto. The only file of libsecup that includes OpenSSL. */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <limits.h>
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
    /* a public key is read as one directly: trying the private-key decoders first costs
     * ten times a signature verification (OpenSSL 3 decoders) on every report a tracker
     * checks */
    static const char pub_label[] = "-----BEGIN PUBLIC KEY-----";
    bool looks_public = false;
    for (size_t i = 0; !looks_public && i + sizeof(pub_label) - 1 <= pem.len; i++)
        looks_public = memcmp(pem.ptr + i, pub_label, sizeof(pub_label) - 1) == 0;
    EVP_PKEY *pkey = looks_public ? NULL : PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
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

/* PKCS#11 (THREATS.md C12): the private key stays in the token; OpenSSL signs through the
 * pkcs11 engine of libp11 (Debian libengine-pkcs11-openssl), loaded once per process and
 * kept for the keys it made. The ENGINE API is deprecated in OpenSSL 3 but is what Debian 12
 * packages (no pkcs11 provider); its use is confined to this function. Only P-256 keys
 * (libp11 0.4.12 has no EdDSA). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static ENGINE *pkcs11_engine;
static char pkcs11_module[1024]; /* the module the engine was set up with ("": default) */

secup_rc secup_key_load_pkcs11(struct secup_key **out, const char *uri, const char *module,
                               const char *pin, struct secup_err *err)
{
    *out = NULL;
    if (!uri || strncmp(uri, "pkcs11:", 7) != 0 || strchr(uri, '?'))
        return secup_err_set(err, SECUP_E_ARG, "a PKCS#11 URI (pkcs11:...) without query attributes is needed");
    if (!pkcs11_engine) {
        ENGINE_load_dynamic();
        ENGINE *e = ENGINE_by_id("pkcs11");
        if (!e) {
            ERR_clear_error();
            return secup_err_set(err, SECUP_E_UNSUPPORTED,
                                 "PKCS#11 keys need OpenSSL's pkcs11 engine (libengine-pkcs11-openssl), which is not installed");
        }
        if ((module && module[0] && ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0) != 1) ||
            ENGINE_init(e) != 1) {
            ENGINE_free(e);
            return secup_err_set(err, SECUP_E_CRYPTO, "PKCS#11 module '%s' cannot be loaded (%s)",
                                 module && module[0] ? module : "(the engine's default)", ossl_reason());
        }
        ENGINE_free(e); /* the functional reference of ENGINE_init stays */
        pkcs11_engine = e;
        snprintf(pkcs11_module, sizeof(pkcs11_module), "%s", module ? module : "");
    } else if (strcmp(pkcs11_module, module ? module : "") != 0) {
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "one PKCS#11 module per process ('%s' is in use)",
                             pkcs11_module[0] ? pkcs11_module : "(the engine's default)");
    }
    if (pin && ENGINE_ctrl_cmd_string(pkcs11_engine, "PIN", pin, 0) != 1)
        return secup_err_set(err, SECUP_E_CRYPTO, "the PKCS#11 engine refused the PIN (%s)", ossl_reason());
    EVP_PKEY *pkey = ENGINE_load_private_key(pkcs11_engine, uri, NULL, NULL);
    if (!pkey)
        return secup_err_set(err, SECUP_E_KEY_FORMAT,
                             "no private key at '%s': no such object, a wrong PIN or an unusable module (%s)",
                             uri, ossl_reason());
    return key_from_pkey(out, pkey, true, err);
}
#pragma GCC diagnostic pop

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

static bool add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return false;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

secup_rc secup_key_save_self_signed_cert(const struct secup_key *key, const char *name,
                                         unsigned days, const char *path,
                                         struct secup_err *err)
{
    if (!key || !key->pkey || !key->has_private || !name || !*name || !path || days == 0)
        return secup_err_set(err, SECUP_E_ARG, "a private P-256 or Ed25519 key, a name and a path are needed");
    char san[512];
    int n = snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1", name);
    if (n < 0 || (size_t)n >= sizeof(san) || strchr(name, ','))
        return secup_err_set(err, SECUP_E_VALUE, "certificate name '%s' is too long or has a comma", name);
    X509 *cert = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    secup_rc rc = SECUP_OK;
    uint8_t serial[16];
    if (!cert || !bio || RAND_bytes(serial, sizeof(serial)) != 1) {
        rc = crypto_fail(err, "certificate allocation");
        goto out;
    }
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    X509_NAME *subj = X509_get_subject_name(cert);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
        X509_set_version(cert, 2) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), -300) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400L) ||
        X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)name, -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, subj) != 1 || X509_set_pubkey(cert, key->pkey) != 1 ||
        !add_ext(cert, NID_subject_alt_name, san) ||
        !add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(cert, NID_ext_key_usage, "serverAuth,clientAuth")) {
        BN_free(bn);
        rc = crypto_fail(err, "certificate fields");
        goto out;
    }
    BN_free(bn);
    const EVP_MD *md = key->type == SECUP_KEY_ED25519 ? NULL : EVP_sha256();
    if (X509_sign(cert, key->pkey, md) <= 0 || PEM_write_bio_X509(bio, cert) != 1) {
        rc = crypto_fail(err, "certificate signature");
        goto out;
    }
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    rc = secup_file_write_atomic(path, secup_bytes_of(data, (size_t)len), 0644, err);
out:
    BIO_free(bio);
    X509_free(cert);
    return rc;
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

/* ---- Payload encryption ---- */

size_t secup_crypto_key_len(int64_t alg)
{
    switch (alg) {
    case SECUP_COSE_ALG_A128GCM:
    case SECUP_COSE_ALG_A128CTR:
    case SECUP_COSE_ALG_A128KW: return 16;
    case SECUP_COSE_ALG_A256CTR:
    case SECUP_COSE_ALG_CHACHA20_POLY1305:
    case SECUP_COSE_ALG_A256KW: return 32;
    default: return 0;
    }
}

size_t secup_crypto_iv_len(int64_t alg)
{
    switch (alg) {
    case SECUP_COSE_ALG_A128GCM:
    case SECUP_COSE_ALG_CHACHA20_POLY1305: return 12;
    case SECUP_COSE_ALG_A128CTR:
    case SECUP_COSE_ALG_A256CTR: return 16;
    default: return 0;
    }
}

size_t secup_crypto_tag_len(int64_t alg)
{
    return alg == SECUP_COSE_ALG_A128GCM || alg == SECUP_COSE_ALG_CHACHA20_POLY1305
               ? SECUP_AEAD_TAG_LEN
               : 0;
}

static const EVP_CIPHER *kw_cipher(size_t kek_len)
{
    return kek_len == 16 ? EVP_aes_128_wrap() : kek_len == 32 ? EVP_aes_256_wrap() : NULL;
}

static secup_rc aes_kw(bool wrap, struct secup_bytes kek, struct secup_bytes in, uint8_t *out,
                       size_t cap, size_t *len, struct secup_err *err)
{
    *len = 0;
    const EVP_CIPHER *cipher = kw_cipher(kek.len);
    if (!cipher)
        return secup_err_set(err, SECUP_E_ARG, "AES-KW key of %zu bytes (16 or 32 expected)",
                             kek.len);
    /* RFC 3394 works on 64-bit blocks; a CEK is 16..32 bytes, its wrap 8 bytes more. */
    size_t min = wrap ? 16 : 24;
    size_t max = wrap ? SECUP_MAX_CEK_LEN : SECUP_MAX_CEK_LEN + 8;
    if (in.len % 8 != 0 || in.len < min || in.len > max)
        return secup_err_set(err, wrap ? SECUP_E_ARG : SECUP_E_VALUE,
                             "AES-KW input of %zu bytes (a multiple of 8 from %zu to %zu)",
                             in.len, min, max);
    size_t need = wrap ? in.len + 8 : in.len - 8;
    if (cap < need)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "AES-KW output needs %zu bytes", need);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return crypto_fail(err, "EVP_CIPHER_CTX_new");
    secup_rc rc = SECUP_OK;
    int n1 = 0;
    int n2 = 0;
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(ctx, cipher, NULL, kek.ptr, NULL, wrap ? 1 : 0) != 1) {
        rc = crypto_fail(err, "AES-KW init");
        goto out;
    }
    if (EVP_CipherUpdate(ctx, out, &n1, in.ptr, (int)in.len) != 1 ||
        EVP_CipherFinal_ex(ctx, out + n1, &n2) != 1 || (size_t)n1 + (size_t)n2 != need) {
        if (wrap) {
            rc = crypto_fail(err, "AES key wrap");
        } else {
            /* The only way an unwrap of well-sized input fails is the RFC 3394 integrity
             * check: a wrong KEK or a damaged wrapped key. */
            ERR_clear_error();
            secup_wipe(out, need);
            rc = secup_err_set(err, SECUP_E_UNWRAP,
                               "AES key unwrap integrity check failed (wrong KEK?)");
        }
        goto out;
    }
    *len = need;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

secup_rc secup_crypto_aes_kw_wrap(struct secup_bytes kek, struct secup_bytes key, uint8_t *out,
                                  size_t cap, size_t *len, struct secup_err *err)
{
    return aes_kw(true, kek, key, out, cap, len, err);
}

secup_rc secup_crypto_aes_kw_unwrap(struct secup_bytes kek, struct secup_bytes wrapped,
                                    uint8_t *out, size_t cap, size_t *len, struct secup_err *err)
{
    return aes_kw(false, kek, wrapped, out, cap, len, err);
}

/* Builds the peer's public key from its COSE coordinates. EC points are validated (on the
 * curve, not infinity) before use: an invalid point is an invalid-curve attack vector. */
static secup_rc peer_from_xy(enum secup_key_type type, struct secup_bytes x, struct secup_bytes y,
                             EVP_PKEY **out, struct secup_err *err)
{
    *out = NULL;
    if (x.len != SECUP_EC_COORD_LEN)
        return secup_err_set(err, SECUP_E_VALUE, "ephemeral key x of %zu bytes", x.len);
    if (type == SECUP_KEY_X25519) {
        if (y.len != 0)
            return secup_err_set(err, SECUP_E_VALUE, "an X25519 key has no y coordinate");
        *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, x.ptr, x.len);
        if (!*out)
            return secup_err_set(err, SECUP_E_VALUE, "invalid X25519 public key (%s)",
                                 ossl_reason());
        return SECUP_OK;
    }
    if (type != SECUP_KEY_P256)
        return secup_err_set(err, SECUP_E_ARG, "ECDH needs a P-256 or X25519 key");
    if (y.len != SECUP_EC_COORD_LEN)
        return secup_err_set(err, SECUP_E_VALUE, "ephemeral key y of %zu bytes", y.len);
    uint8_t point[1 + 2 * SECUP_EC_COORD_LEN];
    point[0] = 0x04;
    memcpy(point + 1, x.ptr, SECUP_EC_COORD_LEN);
    memcpy(point + 1 + SECUP_EC_COORD_LEN, y.ptr, SECUP_EC_COORD_LEN);
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!pctx)
        return crypto_fail(err, "EVP_PKEY_CTX_new_from_name");
    EVP_PKEY *pkey = NULL;
    secup_rc rc = SECUP_OK;
    if (EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        ERR_clear_error();
        rc = secup_err_set(err, SECUP_E_VALUE, "ephemeral P-256 key is not a point on the curve");
        goto out;
    }
    EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = check ? EVP_PKEY_public_check(check) : -1;
    EVP_PKEY_CTX_free(check);
    if (ok != 1) {
        ERR_clear_error();
        EVP_PKEY_free(pkey);
        pkey = NULL;
        rc = secup_err_set(err, SECUP_E_VALUE, "ephemeral P-256 key fails validation");
        goto out;
    }
    *out = pkey;
out:
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

secup_rc secup_crypto_ecdh(const struct secup_key *priv, struct secup_bytes peer_x,
                           struct secup_bytes peer_y, uint8_t out[SECUP_ECDH_SECRET_LEN],
                           struct secup_err *err)
{
    enum secup_key_type type = secup_key_type(priv);
    if (type != SECUP_KEY_P256 && type != SECUP_KEY_X25519)
        return secup_err_set(err, SECUP_E_ARG, "ECDH needs a P-256 or X25519 key, not %s",
                             secup_key_type_name(type));
    if (!priv->has_private)
        return secup_err_set(err, SECUP_E_ARG, "ECDH needs the private key");
    EVP_PKEY *peer = NULL;
    secup_rc rc = peer_from_xy(type, peer_x, peer_y, &peer, err);
    if (rc != SECUP_OK)
        return rc;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv->pkey, NULL);
    size_t n = SECUP_ECDH_SECRET_LEN;
    if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
        EVP_PKEY_derive(ctx, out, &n) != 1 || n != SECUP_ECDH_SECRET_LEN) {
        /* X25519 with a low-order peer point yields the all-zero secret, which OpenSSL
         * refuses: that is bad input, not a backend fault. */
        rc = type == SECUP_KEY_X25519
                 ? secup_err_set(err, SECUP_E_VALUE, "X25519 key agreement failed (%s)",
                                 ossl_reason())
                 : crypto_fail(err, "ECDH");
        secup_wipe(out, SECUP_ECDH_SECRET_LEN);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    return rc;
}

secup_rc secup_crypto_key_public_xy(const struct secup_key *key, uint8_t x[SECUP_EC_COORD_LEN],
                                    uint8_t y[SECUP_EC_COORD_LEN], struct secup_err *err)
{
    enum secup_key_type type = secup_key_type(key);
    if (type == SECUP_KEY_X25519) {
        size_t n = SECUP_EC_COORD_LEN;
        if (EVP_PKEY_get_raw_public_key(key->pkey, x, &n) != 1 || n != SECUP_EC_COORD_LEN)
            return crypto_fail(err, "X25519 public key export");
        return SECUP_OK;
    }
    if (type != SECUP_KEY_P256)
        return secup_err_set(err, SECUP_E_ARG, "a %s key has no EC public coordinates",
                             secup_key_type_name(type));
    BIGNUM *bx = NULL;
    BIGNUM *by = NULL;
    secup_rc rc = SECUP_OK;
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
        EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
        BN_bn2binpad(bx, x, SECUP_EC_COORD_LEN) != SECUP_EC_COORD_LEN ||
        BN_bn2binpad(by, y, SECUP_EC_COORD_LEN) != SECUP_EC_COORD_LEN)
        rc = crypto_fail(err, "P-256 public key export");
    BN_free(bx);
    BN_free(by);
    return rc;
}

secup_rc secup_crypto_hkdf_sha256(struct secup_bytes salt, struct secup_bytes ikm,
                                  struct secup_bytes info, uint8_t *out, size_t out_len,
                                  struct secup_err *err)
{
    if (out_len == 0 || out_len > 255 * SECUP_SHA256_LEN)
        return secup_err_set(err, SECUP_E_ARG, "HKDF output of %zu bytes", out_len);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!ctx)
        return crypto_fail(err, "HKDF fetch");
    char md[] = "SHA256";
    OSSL_PARAM params[5];
    size_t i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm.ptr, ikm.len);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.ptr,
                                                    info.len);
    /* An absent salt is HashLen zeros (RFC 5869 section 2.2), which OpenSSL applies itself. */
    if (salt.len)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt.ptr,
                                                        salt.len);
    params[i] = OSSL_PARAM_construct_end();
    secup_rc rc = SECUP_OK;
    if (EVP_KDF_derive(ctx, out, out_len, params) != 1) {
        secup_wipe(out, out_len);
        rc = crypto_fail(err, "HKDF-SHA256");
    }
    EVP_KDF_CTX_free(ctx);
    return rc;
}

struct secup_crypto_cipher {
    EVP_CIPHER_CTX *ctx;
    int64_t alg;
    bool encrypt;
};

static const EVP_CIPHER *content_cipher(int64_t alg)
{
    switch (alg) {
    case SECUP_COSE_ALG_A128GCM: return EVP_aes_128_gcm();
    case SECUP_COSE_ALG_CHACHA20_POLY1305: return EVP_chacha20_poly1305();
    case SECUP_COSE_ALG_A128CTR: return EVP_aes_128_ctr();
    case SECUP_COSE_ALG_A256CTR: return EVP_aes_256_ctr();
    default: return NULL;
    }
}

void secup_crypto_cipher_free(struct secup_crypto_cipher *c)
{
    if (!c)
        return;
    /* EVP_CIPHER_CTX_free() cleanses the key schedule before releasing it. */
    EVP_CIPHER_CTX_free(c->ctx);
    secup_wipe(c, sizeof(*c));
    secup_free(c);
}

secup_rc secup_crypto_cipher_new(struct secup_crypto_cipher **out, int64_t alg, bool encrypt,
                                 struct secup_bytes key, struct secup_bytes iv,
                                 struct secup_bytes aad, struct secup_err *err)
{
    *out = NULL;
    const EVP_CIPHER *cipher = content_cipher(alg);
    if (!cipher)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "content algorithm %lld",
                             (long long)alg);
    if (key.len != secup_crypto_key_len(alg) || iv.len != secup_crypto_iv_len(alg))
        return secup_err_set(err, SECUP_E_ARG, "key of %zu or IV of %zu bytes for algorithm %lld",
                             key.len, iv.len, (long long)alg);
    if (aad.len > INT_MAX)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "AAD of %zu bytes", aad.len);
    struct secup_crypto_cipher *c = secup_alloc(sizeof(*c));
    if (!c)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a cipher context");
    c->alg = alg;
    c->encrypt = encrypt;
    c->ctx = EVP_CIPHER_CTX_new();
    secup_rc rc = SECUP_OK;
    int n = 0;
    int enc = encrypt ? 1 : 0;
    if (!c->ctx || EVP_CipherInit_ex(c->ctx, cipher, NULL, NULL, NULL, enc) != 1) {
        rc = crypto_fail(err, "cipher init");
        goto fail;
    }
    if (secup_crypto_tag_len(alg) &&
        EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)iv.len, NULL) != 1) {
        rc = crypto_fail(err, "cipher IV length");
        goto fail;
    }
    if (EVP_CipherInit_ex(c->ctx, NULL, NULL, key.ptr, iv.ptr, enc) != 1) {
        rc = crypto_fail(err, "cipher key setup");
        goto fail;
    }
    if (secup_crypto_tag_len(alg) && aad.len &&
        EVP_CipherUpdate(c->ctx, NULL, &n, aad.ptr, (int)aad.len) != 1) {
        rc = crypto_fail(err, "cipher AAD");
        goto fail;
    }
    *out = c;
    return SECUP_OK;
fail:
    secup_crypto_cipher_free(c);
    return rc;
}

secup_rc secup_crypto_cipher_update(struct secup_crypto_cipher *c, struct secup_bytes in,
                                    uint8_t *out, struct secup_err *err)
{
    size_t done = 0;
    /* EVP lengths are int: feed large inputs in pieces. */
    while (done < in.len) {
        size_t piece = in.len - done;
        if (piece > (size_t)1 << 30)
            piece = (size_t)1 << 30;
        int n = 0;
        if (EVP_CipherUpdate(c->ctx, out + done, &n, in.ptr + done, (int)piece) != 1 ||
            (size_t)n != piece)
            return crypto_fail(err, "cipher update");
        done += piece;
    }
    return SECUP_OK;
}

secup_rc secup_crypto_cipher_encrypt_final(struct secup_crypto_cipher *c, uint8_t *tag,
                                           size_t cap, size_t *tag_len, struct secup_err *err)
{
    *tag_len = 0;
    if (!c->encrypt)
        return secup_err_set(err, SECUP_E_STATE, "not an encryption context");
    size_t tl = secup_crypto_tag_len(c->alg);
    if (cap < tl)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "tag needs %zu bytes", tl);
    uint8_t rest[32];
    int n = 0;
    if (EVP_CipherFinal_ex(c->ctx, rest, &n) != 1 || n != 0)
        return crypto_fail(err, "cipher final");
    if (tl && EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_GET_TAG, (int)tl, tag) != 1)
        return crypto_fail(err, "cipher tag");
    *tag_len = tl;
    return SECUP_OK;
}

secup_rc secup_crypto_cipher_decrypt_final(struct secup_crypto_cipher *c, struct secup_bytes tag,
                                           struct secup_err *err)
{
    if (c->encrypt)
        return secup_err_set(err, SECUP_E_STATE, "not a decryption context");
    size_t tl = secup_crypto_tag_len(c->alg);
    if (tag.len != tl)
        return secup_err_set(err, SECUP_E_TAG, "tag of %zu bytes, expected %zu", tag.len, tl);
    uint8_t tagbuf[SECUP_AEAD_TAG_LEN];
    if (tl) {
        memcpy(tagbuf, tag.ptr, tl);
        if (EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_TAG, (int)tl, tagbuf) != 1)
            return crypto_fail(err, "cipher set tag");
    }
    uint8_t rest[32];
    int n = 0;
    /* OpenSSL compares AEAD tags with CRYPTO_memcmp (constant time). */
    if (EVP_CipherFinal_ex(c->ctx, rest, &n) != 1) {
        ERR_clear_error();
        return secup_err_set(err, SECUP_E_TAG, "authentication tag does not verify");
    }
    return SECUP_OK;
}

struct secup_crypto_hash {
    EVP_MD_CTX *ctx;
    EVP_MD *md;
};

void secup_crypto_hash_free(struct secup_crypto_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    secup_free(h);
}

secup_rc secup_crypto_hash_new(struct secup_crypto_hash **out, struct secup_err *err)
{
    *out = NULL;
    struct secup_crypto_hash *h = secup_alloc(sizeof(*h));
    if (!h)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a hash context");
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx || EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1) {
        secup_crypto_hash_free(h);
        return crypto_fail(err, "SHA-256 init");
    }
    *out = h;
    return SECUP_OK;
}

secup_rc secup_crypto_hash_update(struct secup_crypto_hash *h, struct secup_bytes in,
                                  struct secup_err *err)
{
    if (in.len && EVP_DigestUpdate(h->ctx, in.ptr, in.len) != 1)
        return crypto_fail(err, "SHA-256 update");
    return SECUP_OK;
}

secup_rc secup_crypto_hash_final(struct secup_crypto_hash *h, uint8_t out[SECUP_SHA256_LEN],
                                 struct secup_err *err)
{
    if (EVP_DigestFinal_ex(h->ctx, out, NULL) != 1 ||
        EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1)
        return crypto_fail(err, "SHA-256 final");
    return SECUP_OK;
}
