/* lib/crypto/crypto_openssl.c through the crypto seam (lib/crypto/crypto.h) and the key API
 * (include/secup/keys.h): key generation, PEM save/reload with the right file modes,
 * sign/verify for every COSE algorithm secup speaks, refusals with their codes, and the
 * hash/HMAC known-answer vectors. Files go to a fresh mkdtemp() directory under /tmp. */
/* posix_openpt() and friends for the terminal test. */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "secup/hash.h"
#include "secup/manifest.h"
#include "testutil.h"

/* TEST-ONLY keys, generated with `openssl genpkey` for this file; never used elsewhere. */
static const char test_only_p384_private_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBN44vdE8Mnd+Kfy1uN\n"
    "vpIpYmdpbsN9HNe4RBOkaJEJDSRMCPggSdKfWxSw9GuuGIehZANiAAQTuCRRSnLw\n"
    "DimlY1Isb/5Hm1ULVS4YHNA06Kg+20FFSz9QUqMvS9OYmzxrR7r3qMEqdIGkxh2x\n"
    "yFPJVaG3Wg6vlPbJzKwbE/pOt9PMKfdUOHebOXHlV3S9+0T8PnOsyhE=\n"
    "-----END PRIVATE KEY-----\n";
static const char test_only_p384_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEE7gkUUpy8A4ppWNSLG/+R5tVC1UuGBzQ\n"
    "NOioPttBRUs/UFKjL0vTmJs8a0e696jBKnSBpMYdschTyVWht1oOr5T2ycysGxP6\n"
    "TrfTzCn3VDh3mzlx5Vd0vftE/D5zrMoR\n"
    "-----END PUBLIC KEY-----\n";
static const char test_only_secp256k1_private_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgOLgJPOaRU82XDWLvE3Ik\n"
    "GEkJru7l3NiwrZjJIqZNbqWhRANCAAQb/6UDyuloSldfhOkYIvv2HWhCPPai830c\n"
    "3rFIB4jn50VpvIup0egxBdSt9PVz0WxKy9ju0aaZZvU5XcXOVOCE\n"
    "-----END PRIVATE KEY-----\n";
static const char test_only_ed448_private_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MEcCAQAwBQYDK2VxBDsEOaaRvFzNOI/GXTH7pLcmoSUu7AB7GCZB9LkdRR98IN2A\n"
    "HDiajkfJWCJBwhyg6WTiWsxyNRdGK2Kdgw==\n"
    "-----END PRIVATE KEY-----\n";

/* TEST-ONLY Ed25519 key encrypted with the passphrase "secret". */
static const char test_only_encrypted_ed25519_pem[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhF7dQSINLhewICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEOwxheWtk9OTyf9Km3W5fQIEQOzT\n"
    "MgI6GsSttzc2G6vUVF1yADXk1vS4wnn6B4xuWNZz7bi9OFC5ihhkmoCiPqk1NUPC\n"
    "p7s5M/T6blNbV9IudYA=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    memcpy(fx->dir, "/tmp/secup-test-crypto-XXXXXX", sizeof("/tmp/secup-test-crypto-XXXXXX"));
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[sizeof(fx->dir) + sizeof(e->d_name) + 1];
            snprintf(p, sizeof(p), "%s/%s", fx->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    int rc = rmdir(fx->dir);
    free(fx);
    return rc;
}

static const char *path_in(const struct fixture *fx, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", fx->dir, name);
    assert_true(n > 0 && (size_t)n < cap);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static struct secup_key *generate(enum secup_key_type type)
{
    struct secup_key *k = NULL;
    struct secup_err err;
    secup_rc rc = secup_key_generate(&k, type, &err);
    if (rc != SECUP_OK)
        fail_msg("generating %s: %s", secup_key_type_name(type), err.msg);
    return k;
}

static struct secup_key *load(const char *path)
{
    struct secup_key *k = NULL;
    struct secup_err err;
    secup_rc rc = secup_key_load_pem(&k, path, &err);
    if (rc != SECUP_OK)
        fail_msg("loading %s: %s", path, err.msg);
    return k;
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void key_id(const struct secup_key *k, uint8_t out[32])
{
    assert_int_equal(secup_key_id(k, out, NULL), SECUP_OK);
}

/* ---- generation, save and reload ---- */

static const enum secup_key_type asymmetric[] = {SECUP_KEY_P256, SECUP_KEY_ED25519,
                                                 SECUP_KEY_X25519};

static void test_crypto_keygen_each_type_gives_a_private_key_of_that_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(asymmetric); i++) {
        struct secup_key *k = generate(asymmetric[i]);
        assert_int_equal(secup_key_type(k), asymmetric[i]);
        assert_true(secup_key_has_private(k));
        struct secup_key *k2 = generate(asymmetric[i]);
        uint8_t a[32];
        uint8_t b[32];
        key_id(k, a);
        key_id(k2, b);
        assert_memory_not_equal(a, b, sizeof(a)); /* fresh randomness each time */
        secup_key_free(k2);
        secup_key_free(k);
    }
}

static void test_crypto_keygen_of_hmac_or_none_is_refused_as_arg(void **state)
{
    (void)state;
    static const enum secup_key_type bad[] = {SECUP_KEY_NONE, SECUP_KEY_HMAC,
                                              (enum secup_key_type)99};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct secup_key *k = (struct secup_key *)&k;
        assert_int_equal(secup_key_generate(&k, bad[i], NULL), SECUP_E_ARG);
        assert_null(k);
    }
}

static void test_crypto_saved_keys_reload_with_mode_type_and_same_key_id(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < ARRAY_SIZE(asymmetric); i++) {
        char priv[128];
        char pub[128];
        char name[32];
        snprintf(name, sizeof(name), "k%zu.pem", i);
        path_in(fx, name, priv, sizeof(priv));
        snprintf(name, sizeof(name), "k%zu.pub.pem", i);
        path_in(fx, name, pub, sizeof(pub));

        struct secup_key *k = generate(asymmetric[i]);
        struct secup_err err;
        assert_int_equal(secup_key_save_private(k, priv, &err), SECUP_OK);
        assert_int_equal(secup_key_save_public(k, pub, &err), SECUP_OK);
        assert_int_equal(file_mode(priv), 0600);
        assert_int_equal(file_mode(pub), 0644);

        struct secup_key *kp = load(priv);
        struct secup_key *ku = load(pub);
        assert_int_equal(secup_key_type(kp), asymmetric[i]);
        assert_int_equal(secup_key_type(ku), asymmetric[i]);
        assert_true(secup_key_has_private(kp));
        assert_false(secup_key_has_private(ku));

        uint8_t id[32];
        uint8_t id_priv[32];
        uint8_t id_pub[32];
        key_id(k, id);
        key_id(kp, id_priv);
        key_id(ku, id_pub);
        assert_memory_equal(id, id_priv, sizeof(id));
        assert_memory_equal(id, id_pub, sizeof(id));

        /* Saving again replaces the file atomically and keeps the mode. */
        assert_int_equal(secup_key_save_private(kp, priv, &err), SECUP_OK);
        assert_int_equal(file_mode(priv), 0600);
        secup_key_free(ku);
        secup_key_free(kp);
        secup_key_free(k);
    }
}

/* Runs a shell command line; its exit status, or -1. */
static int run_shell(const char *cmd)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* The certificate verifies with its own key, names the host, and is checked by openssl. */
static void test_crypto_self_signed_certificate_verifies_with_its_key(void **state)
{
    struct fixture *fx = *state;
    struct secup_err err;
    char crt[128];
    path_in(fx, "tls.crt", crt, sizeof(crt));
    struct secup_key *k = generate(SECUP_KEY_P256);
    assert_int_equal(secup_key_save_self_signed_cert(k, "fw.example.com", 30, crt, &err), SECUP_OK);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "openssl verify -CAfile %s -x509_strict -purpose sslserver -verify_hostname fw.example.com %s >/dev/null 2>&1",
             crt, crt);
    int st = run_shell(cmd);
    assert_int_equal(st, 0);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s -verify_ip 127.0.0.1 %s >/dev/null 2>&1", crt, crt);
    assert_int_equal(run_shell(cmd), 0);
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s -verify_hostname other.example %s >/dev/null 2>&1", crt, crt);
    assert_int_not_equal(run_shell(cmd), 0);
    /* without the private part, or with a comma in the name: refused, nothing written */
    assert_int_equal(secup_key_save_self_signed_cert(k, "a,IP:1.2.3.4", 30, crt, &err), SECUP_E_VALUE);
    struct secup_key *pub = NULL;
    char pubpath[128];
    path_in(fx, "tls.pub.pem", pubpath, sizeof(pubpath));
    assert_int_equal(secup_key_save_public(k, pubpath, &err), SECUP_OK);
    pub = load(pubpath);
    char crt2[128];
    path_in(fx, "none.crt", crt2, sizeof(crt2));
    assert_int_equal(secup_key_save_self_signed_cert(pub, "x", 30, crt2, &err), SECUP_E_ARG);
    assert_int_equal(access(crt2, F_OK), -1);
    secup_key_free(pub);
    secup_key_free(k);
}

/* Hashing in pieces gives the one-shot digest, and the context starts over. */
static void test_crypto_streaming_sha256_equals_one_shot(void **state)
{
    (void)state;
    static const char msg[] = "the quick brown fox jumps over the lazy dog";
    struct secup_err err;
    uint8_t one[32], two[32], again[32];
    assert_int_equal(secup_sha256(secup_bytes_of(msg, sizeof(msg) - 1), one, &err), SECUP_OK);
    struct secup_sha256_ctx *h = NULL;
    assert_int_equal(secup_sha256_new(&h, &err), SECUP_OK);
    for (size_t i = 0; i < sizeof(msg) - 1; i += 5) {
        size_t n = sizeof(msg) - 1 - i < 5 ? sizeof(msg) - 1 - i : 5;
        assert_int_equal(secup_sha256_update(h, secup_bytes_of(msg + i, n), &err), SECUP_OK);
    }
    assert_int_equal(secup_sha256_final(h, two, &err), SECUP_OK);
    assert_memory_equal(one, two, 32);
    assert_int_equal(secup_sha256_update(h, secup_bytes_of(msg, sizeof(msg) - 1), &err), SECUP_OK);
    assert_int_equal(secup_sha256_final(h, again, &err), SECUP_OK);
    assert_memory_equal(one, again, 32);
    secup_sha256_free(h);
}

static void test_crypto_saving_without_a_private_part_is_refused(void **state)
{
    struct fixture *fx = *state;
    char priv[128];
    char pub[128];
    path_in(fx, "pubonly.pub.pem", pub, sizeof(pub));
    path_in(fx, "pubonly.pem", priv, sizeof(priv));
    struct secup_key *k = generate(SECUP_KEY_P256);
    assert_int_equal(secup_key_save_public(k, pub, NULL), SECUP_OK);
    struct secup_key *ku = load(pub);
    assert_int_equal(secup_key_save_private(ku, priv, NULL), SECUP_E_ARG);
    assert_int_equal(access(priv, F_OK), -1);

    uint8_t secret[32] = {1};
    struct secup_key *h = NULL;
    assert_int_equal(secup_key_from_secret(&h, secup_bytes_of(secret, sizeof(secret)), NULL),
                     SECUP_OK);
    assert_int_equal(secup_key_save_private(h, priv, NULL), SECUP_E_ARG);
    assert_int_equal(secup_key_save_public(h, priv, NULL), SECUP_E_ARG);
    assert_int_equal(access(priv, F_OK), -1);
    secup_key_free(h);
    secup_key_free(ku);
    secup_key_free(k);
}

/* ---- sign and verify ---- */

static const struct {
    const char *what;
    enum secup_key_type type;
    int64_t alg;
} sig_algs[] = {
    {"ESP256", SECUP_KEY_P256, SECUP_COSE_ALG_ESP256},
    {"ES256", SECUP_KEY_P256, SECUP_COSE_ALG_ES256},
    {"Ed25519", SECUP_KEY_ED25519, SECUP_COSE_ALG_ED25519},
    {"EdDSA", SECUP_KEY_ED25519, SECUP_COSE_ALG_EDDSA},
};

static const uint8_t tbs[] = "Signature1 over the bstr-wrapped manifest digest";

static void test_crypto_sign_then_verify_round_trips_through_saved_keys(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < ARRAY_SIZE(sig_algs); i++) {
        char priv[128];
        char pub[128];
        char name[32];
        snprintf(name, sizeof(name), "s%zu.pem", i);
        path_in(fx, name, priv, sizeof(priv));
        snprintf(name, sizeof(name), "s%zu.pub.pem", i);
        path_in(fx, name, pub, sizeof(pub));
        struct secup_key *k = generate(sig_algs[i].type);
        assert_int_equal(secup_key_save_private(k, priv, NULL), SECUP_OK);
        assert_int_equal(secup_key_save_public(k, pub, NULL), SECUP_OK);
        secup_key_free(k);
        struct secup_key *signer = load(priv);
        struct secup_key *verifier = load(pub);
        assert_true(secup_crypto_key_fits_alg(verifier, sig_algs[i].alg));

        uint8_t sig[SECUP_MAX_SIG_LEN];
        size_t sig_len = 0;
        struct secup_err err;
        secup_rc rc = secup_crypto_sign(signer, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                        sig, sizeof(sig), &sig_len, &err);
        if (rc != SECUP_OK)
            fail_msg("%s: sign: %s", sig_algs[i].what, err.msg);
        assert_int_equal(sig_len, 64); /* r||s for ECDSA, R||S for EdDSA */
        rc = secup_crypto_verify(verifier, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                 secup_bytes_of(sig, sig_len), &err);
        if (rc != SECUP_OK)
            fail_msg("%s: verify: %s", sig_algs[i].what, err.msg);
        /* The private key verifies as well. */
        assert_int_equal(secup_crypto_verify(signer, sig_algs[i].alg,
                                             secup_bytes_of(tbs, sizeof(tbs)),
                                             secup_bytes_of(sig, sig_len), NULL),
                         SECUP_OK);
        secup_key_free(verifier);
        secup_key_free(signer);
    }
}

static void test_crypto_any_flipped_signature_bit_gives_sig(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(sig_algs); i++) {
        struct secup_key *k = generate(sig_algs[i].type);
        uint8_t sig[SECUP_MAX_SIG_LEN];
        size_t sig_len = 0;
        assert_int_equal(secup_crypto_sign(k, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                           sig, sizeof(sig), &sig_len, NULL),
                         SECUP_OK);
        for (size_t bit = 0; bit < sig_len * 8; bit++) {
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            struct secup_err err;
            secup_rc rc = secup_crypto_verify(k, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                              secup_bytes_of(sig, sig_len), &err);
            if (rc != SECUP_E_SIG)
                fail_msg("%s: bit %zu flipped: %s", sig_algs[i].what, bit, secup_rc_name(rc));
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        assert_int_equal(secup_crypto_verify(k, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                             secup_bytes_of(sig, sig_len), NULL),
                         SECUP_OK);
        secup_key_free(k);
    }
}

static void test_crypto_changed_message_or_signature_length_gives_sig(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(sig_algs); i++) {
        struct secup_key *k = generate(sig_algs[i].type);
        uint8_t sig[SECUP_MAX_SIG_LEN + 1] = {0};
        size_t sig_len = 0;
        assert_int_equal(secup_crypto_sign(k, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                           sig, SECUP_MAX_SIG_LEN, &sig_len, NULL),
                         SECUP_OK);
        uint8_t other[sizeof(tbs)];
        memcpy(other, tbs, sizeof(tbs));
        other[0] ^= 1;
        assert_int_equal(secup_crypto_verify(k, sig_algs[i].alg,
                                             secup_bytes_of(other, sizeof(other)),
                                             secup_bytes_of(sig, sig_len), NULL),
                         SECUP_E_SIG);
        assert_int_equal(secup_crypto_verify(k, sig_algs[i].alg,
                                             secup_bytes_of(tbs, sizeof(tbs) - 1),
                                             secup_bytes_of(sig, sig_len), NULL),
                         SECUP_E_SIG);
        static const size_t lens[] = {0, 1, 32, 63, 65};
        for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
            secup_rc rc = secup_crypto_verify(k, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                              secup_bytes_of(sig, lens[l]), NULL);
            if (rc != SECUP_E_SIG)
                fail_msg("%s: signature of %zu bytes: %s", sig_algs[i].what, lens[l],
                         secup_rc_name(rc));
        }
        /* All-zero and all-ones r||s are out of range for ECDSA, and no EdDSA signature. */
        uint8_t zeros[64] = {0};
        uint8_t ones[64];
        memset(ones, 0xff, sizeof(ones));
        assert_int_equal(secup_crypto_verify(k, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                             secup_bytes_of(zeros, sizeof(zeros)), NULL),
                         SECUP_E_SIG);
        assert_int_equal(secup_crypto_verify(k, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                             secup_bytes_of(ones, sizeof(ones)), NULL),
                         SECUP_E_SIG);
        secup_key_free(k);
    }
}

static void test_crypto_signature_from_another_key_gives_sig(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(sig_algs); i++) {
        struct secup_key *a = generate(sig_algs[i].type);
        struct secup_key *b = generate(sig_algs[i].type);
        uint8_t sig[SECUP_MAX_SIG_LEN];
        size_t sig_len = 0;
        assert_int_equal(secup_crypto_sign(a, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                           sig, sizeof(sig), &sig_len, NULL),
                         SECUP_OK);
        assert_int_equal(secup_crypto_verify(b, sig_algs[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                             secup_bytes_of(sig, sig_len), NULL),
                         SECUP_E_SIG);
        secup_key_free(b);
        secup_key_free(a);
    }
}

static const struct {
    const char *what;
    enum secup_key_type type;
    int64_t alg;
} mismatched[] = {
    {"P-256 with Ed25519", SECUP_KEY_P256, SECUP_COSE_ALG_ED25519},
    {"P-256 with EdDSA", SECUP_KEY_P256, SECUP_COSE_ALG_EDDSA},
    {"P-256 with HMAC 256/256", SECUP_KEY_P256, SECUP_COSE_ALG_HMAC256},
    {"Ed25519 with ESP256", SECUP_KEY_ED25519, SECUP_COSE_ALG_ESP256},
    {"Ed25519 with ES256", SECUP_KEY_ED25519, SECUP_COSE_ALG_ES256},
    {"X25519 with ESP256", SECUP_KEY_X25519, SECUP_COSE_ALG_ESP256},
    {"X25519 with Ed25519", SECUP_KEY_X25519, SECUP_COSE_ALG_ED25519},
    {"P-256 with ES384", SECUP_KEY_P256, -35},
    {"P-256 with SHA-256", SECUP_KEY_P256, SECUP_COSE_ALG_SHA256},
    {"HMAC with ESP256", SECUP_KEY_HMAC, SECUP_COSE_ALG_ESP256},
    {"HMAC with HMAC 256/256", SECUP_KEY_HMAC, SECUP_COSE_ALG_HMAC256},
};

static struct secup_key *key_of_type(enum secup_key_type type)
{
    if (type != SECUP_KEY_HMAC)
        return generate(type);
    uint8_t secret[32];
    memset(secret, 0x42, sizeof(secret));
    struct secup_key *k = NULL;
    assert_int_equal(secup_key_from_secret(&k, secup_bytes_of(secret, sizeof(secret)), NULL),
                     SECUP_OK);
    return k;
}

static void test_crypto_key_of_the_wrong_type_for_the_alg_is_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(mismatched); i++) {
        struct secup_key *k = key_of_type(mismatched[i].type);
        uint8_t sig[SECUP_MAX_SIG_LEN];
        memset(sig, 0x11, sizeof(sig));
        size_t sig_len = 99;
        if (mismatched[i].alg != SECUP_COSE_ALG_HMAC256 || mismatched[i].type != SECUP_KEY_HMAC)
            assert_false(secup_crypto_key_fits_alg(k, mismatched[i].alg));
        secup_rc rc = secup_crypto_sign(k, mismatched[i].alg, secup_bytes_of(tbs, sizeof(tbs)), sig,
                                        sizeof(sig), &sig_len, NULL);
        if (rc == SECUP_OK)
            fail_msg("%s: signed", mismatched[i].what);
        assert_int_equal(sig_len, 0);
        rc = secup_crypto_verify(k, mismatched[i].alg, secup_bytes_of(tbs, sizeof(tbs)),
                                 secup_bytes_of(sig, sizeof(sig)), NULL);
        if (rc == SECUP_OK)
            fail_msg("%s: verified", mismatched[i].what);
        secup_key_free(k);
    }
}

static void test_crypto_signing_with_a_public_key_or_short_buffer_is_refused(void **state)
{
    struct fixture *fx = *state;
    char pub[128];
    path_in(fx, "signpub.pub.pem", pub, sizeof(pub));
    struct secup_key *k = generate(SECUP_KEY_ED25519);
    assert_int_equal(secup_key_save_public(k, pub, NULL), SECUP_OK);
    struct secup_key *ku = load(pub);
    uint8_t sig[SECUP_MAX_SIG_LEN];
    size_t sig_len = 0;
    assert_int_equal(secup_crypto_sign(ku, SECUP_COSE_ALG_ED25519, secup_bytes_of(tbs, sizeof(tbs)),
                                       sig, sizeof(sig), &sig_len, NULL),
                     SECUP_E_ARG);
    assert_int_equal(secup_crypto_sign(k, SECUP_COSE_ALG_ED25519, secup_bytes_of(tbs, sizeof(tbs)),
                                       sig, 63, &sig_len, NULL),
                     SECUP_E_BUF_SMALL);
    assert_int_equal(sig_len, 0);
    secup_key_free(ku);
    secup_key_free(k);
}

static void test_crypto_default_sig_alg_follows_key_type(void **state)
{
    (void)state;
    struct secup_key *p = key_of_type(SECUP_KEY_P256);
    struct secup_key *e = key_of_type(SECUP_KEY_ED25519);
    struct secup_key *x = key_of_type(SECUP_KEY_X25519);
    struct secup_key *h = key_of_type(SECUP_KEY_HMAC);
    assert_int_equal(secup_crypto_default_sig_alg(p), SECUP_COSE_ALG_ESP256);
    assert_int_equal(secup_crypto_default_sig_alg(e), SECUP_COSE_ALG_ED25519);
    assert_int_equal(secup_crypto_default_sig_alg(h), SECUP_COSE_ALG_HMAC256);
    assert_int_equal(secup_crypto_default_sig_alg(x), 0);
    assert_int_equal(secup_crypto_default_sig_alg(NULL), 0);
    secup_key_free(h);
    secup_key_free(x);
    secup_key_free(e);
    secup_key_free(p);
}

/* ---- loading refusals ---- */

static void test_crypto_loading_a_file_without_a_key_gives_key_format(void **state)
{
    struct fixture *fx = *state;
    static const char *const texts[] = {
        "",
        "hello, not a key\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
         "-----END PUBLIC KEY-----\n"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
        char p[128];
        char name[32];
        snprintf(name, sizeof(name), "junk%zu.pem", i);
        path_in(fx, name, p, sizeof(p));
        write_file(p, texts[i]);
        struct secup_key *k = (struct secup_key *)&k;
        struct secup_err err;
        secup_rc rc = secup_key_load_pem(&k, p, &err);
        if (rc != SECUP_E_KEY_FORMAT)
            fail_msg("text %zu: %s (%s)", i, secup_rc_name(rc), err.msg);
        assert_null(k);
        /* The message names the file. */
        assert_non_null(strstr(err.msg, name));
        rc = secup_key_parse_pem(&k, secup_bytes_of(texts[i], strlen(texts[i])), NULL);
        assert_int_equal(rc, SECUP_E_KEY_FORMAT);
    }
}

static void test_crypto_loading_a_missing_file_gives_noent(void **state)
{
    struct fixture *fx = *state;
    char p[128];
    path_in(fx, "does-not-exist.pem", p, sizeof(p));
    struct secup_key *k = (struct secup_key *)&k;
    assert_int_equal(secup_key_load_pem(&k, p, NULL), SECUP_E_NOENT);
    assert_null(k);
}

static void test_crypto_loading_a_directory_gives_io(void **state)
{
    struct fixture *fx = *state;
    struct secup_key *k = (struct secup_key *)&k;
    assert_int_equal(secup_key_load_pem(&k, fx->dir, NULL), SECUP_E_IO);
    assert_null(k);
}

/* A library that signs in daemons and CI must never ask for a passphrase: OpenSSL's default
 * PEM callback prompts on the controlling terminal and blocks. The key is parsed in a child
 * whose controlling terminal is a pseudo-terminal we watch; the child is killed after 5 s. */
static void
test_crypto_encrypted_private_key_is_refused_without_prompting_on_the_terminal(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) {
        print_message("no pseudo-terminal available; skipped\n");
        skip();
    }
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    char slave[128];
    const char *name = ptsname(master);
    assert_non_null(name);
    assert_true(strlen(name) < sizeof(slave));
    memcpy(slave, name, strlen(name) + 1);
    int result_pipe[2];
    assert_int_equal(pipe(result_pipe), 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(master);
        close(result_pipe[0]);
        if (setsid() < 0)
            _exit(2);
        int tty = open(slave, O_RDWR); /* becomes the controlling terminal */
        if (tty < 0)
            _exit(2);
        dup2(tty, 0);
        dup2(tty, 1);
        dup2(tty, 2);
        struct secup_key *k = NULL;
        int rc = (int)secup_key_parse_pem(&k,
                                          secup_bytes_of(test_only_encrypted_ed25519_pem,
                                                         strlen(test_only_encrypted_ed25519_pem)),
                                          NULL);
        secup_key_free(k);
        ssize_t w = write(result_pipe[1], &rc, sizeof(rc));
        _exit(w == (ssize_t)sizeof(rc) ? 0 : 3);
    }
    close(result_pipe[1]);

    char out[4096];
    size_t out_len = 0;
    int result = -1;
    bool done = false;
    for (int waited = 0; waited < 5000 && !done; waited += 100) {
        struct pollfd fds[2] = {{master, POLLIN, 0}, {result_pipe[0], POLLIN, 0}};
        if (poll(fds, 2, 100) <= 0)
            continue;
        if ((fds[0].revents & POLLIN) && out_len < sizeof(out) - 1) {
            ssize_t n = read(master, out + out_len, sizeof(out) - 1 - out_len);
            if (n > 0)
                out_len += (size_t)n;
            out[out_len] = '\0';
            if (strstr(out, "pass phrase") || strstr(out, "passphrase"))
                break; /* it is waiting for us: no need to wait any longer */
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            done = read(result_pipe[0], &result, sizeof(result)) == (ssize_t)sizeof(result);
            if (!done)
                break;
        }
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        close(master);
        close(result_pipe[0]);
        print_message("cannot make the pseudo-terminal a controlling terminal; skipped\n");
        skip();
    }
    /* Whatever is still buffered on the terminal. */
    for (;;) {
        struct pollfd fd = {master, POLLIN, 0};
        if (out_len >= sizeof(out) - 1 || poll(&fd, 1, 0) <= 0 || !(fd.revents & POLLIN))
            break;
        ssize_t n = read(master, out + out_len, sizeof(out) - 1 - out_len);
        if (n <= 0)
            break;
        out_len += (size_t)n;
    }
    out[out_len] = '\0';
    close(master);
    close(result_pipe[0]);
    if (strstr(out, "pass phrase") || strstr(out, "passphrase"))
        fail_msg("secup_key_parse_pem() asked for a passphrase on the terminal: \"%s\"", out);
    if (!done)
        fail_msg("secup_key_parse_pem() did not return within 5 s");
    assert_int_equal(result, SECUP_E_KEY_FORMAT);
}

static void test_crypto_keys_of_unsupported_curves_give_unsupported(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *what;
        const char *pem;
    } cases[] = {
        {"P-384 private", test_only_p384_private_pem},
        {"P-384 public", test_only_p384_public_pem},
        {"secp256k1 private", test_only_secp256k1_private_pem},
        {"Ed448 private", test_only_ed448_private_pem},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct secup_key *k = (struct secup_key *)&k;
        struct secup_err err;
        secup_rc rc =
            secup_key_parse_pem(&k, secup_bytes_of(cases[i].pem, strlen(cases[i].pem)), &err);
        if (rc != SECUP_E_UNSUPPORTED)
            fail_msg("%s (memory): %s", cases[i].what, secup_rc_name(rc));
        assert_null(k);
        char p[128];
        char name[32];
        snprintf(name, sizeof(name), "unsupported%zu.pem", i);
        path_in(fx, name, p, sizeof(p));
        write_file(p, cases[i].pem);
        k = (struct secup_key *)&k;
        rc = secup_key_load_pem(&k, p, &err);
        if (rc != SECUP_E_UNSUPPORTED)
            fail_msg("%s (file): %s", cases[i].what, secup_rc_name(rc));
        assert_null(k);
    }
}

static const struct {
    size_t len;
    secup_rc want;
} secret_lens[] = {
    {0, SECUP_E_KEY_FORMAT},  {1, SECUP_E_KEY_FORMAT},
    {15, SECUP_E_KEY_FORMAT}, {16, SECUP_OK},
    {32, SECUP_OK},           {64, SECUP_OK},
    {65, SECUP_E_KEY_FORMAT}, {128, SECUP_E_KEY_FORMAT},
};

static void test_crypto_hmac_secret_outside_16_to_64_bytes_gives_key_format(void **state)
{
    (void)state;
    uint8_t secret[128];
    memset(secret, 0x5a, sizeof(secret));
    for (size_t i = 0; i < ARRAY_SIZE(secret_lens); i++) {
        struct secup_key *k = (struct secup_key *)&k;
        secup_rc rc = secup_key_from_secret(&k, secup_bytes_of(secret, secret_lens[i].len), NULL);
        if (rc != secret_lens[i].want)
            fail_msg("secret of %zu bytes: %s", secret_lens[i].len, secup_rc_name(rc));
        if (rc == SECUP_OK) {
            assert_int_equal(secup_key_type(k), SECUP_KEY_HMAC);
            secup_key_free(k);
        } else {
            assert_null(k);
        }
    }
}

/* ---- known answers ---- */

static const struct {
    const char *what;
    const char *msg;
    const char *sha256;
} sha_vectors[] = {
    /* FIPS 180-2 appendix B.1 and B.2, and the empty message. */
    {"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"448-bit", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
};

static void test_crypto_sha256_matches_fips_180_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(sha_vectors); i++) {
        uint8_t want[32];
        size_t n = 0;
        assert_true(secup_hex_decode(sha_vectors[i].sha256, want, sizeof(want), &n));
        assert_int_equal(n, 32);
        uint8_t got[32];
        size_t len = strlen(sha_vectors[i].msg);
        assert_int_equal(secup_crypto_sha256(secup_bytes_of(sha_vectors[i].msg, len), got, NULL),
                         SECUP_OK);
        if (memcmp(got, want, 32) != 0)
            fail_msg("SHA-256(%s) differs", sha_vectors[i].what);
        /* Split into two parts anywhere: same digest. */
        for (size_t cut = 0; cut <= len; cut++) {
            struct secup_bytes parts[2] = {secup_bytes_of(sha_vectors[i].msg, cut),
                                           secup_bytes_of(sha_vectors[i].msg + cut, len - cut)};
            memset(got, 0, sizeof(got));
            assert_int_equal(secup_crypto_sha256_parts(parts, 2, got, NULL), SECUP_OK);
            if (memcmp(got, want, 32) != 0)
                fail_msg("SHA-256(%s) in parts cut at %zu differs", sha_vectors[i].what, cut);
        }
    }
}

static void test_crypto_sha256_of_a_null_empty_view_is_the_empty_digest(void **state)
{
    (void)state;
    uint8_t got[32];
    uint8_t want[32];
    size_t n = 0;
    assert_true(secup_hex_decode(sha_vectors[2].sha256, want, sizeof(want), &n));
    assert_int_equal(secup_crypto_sha256(secup_bytes_of(NULL, 0), got, NULL), SECUP_OK);
    assert_memory_equal(got, want, 32);
}

static void test_crypto_sha1_parts_matches_fips_180_vector(void **state)
{
    (void)state;
    uint8_t want[20];
    size_t n = 0;
    assert_true(
        secup_hex_decode("a9993e364706816aba3e25717850c26c9cd0d89d", want, sizeof(want), &n));
    struct secup_bytes parts[2] = {secup_bytes_of("a", 1), secup_bytes_of("bc", 2)};
    uint8_t got[20];
    assert_int_equal(secup_crypto_sha1_parts(parts, 2, got, NULL), SECUP_OK);
    assert_memory_equal(got, want, 20);
}

static void test_crypto_hmac_sha256_matches_rfc_4231_case_1(void **state)
{
    (void)state;
    uint8_t key[20];
    memset(key, 0x0b, sizeof(key));
    struct secup_key *k = NULL;
    assert_int_equal(secup_key_from_secret(&k, secup_bytes_of(key, sizeof(key)), NULL), SECUP_OK);
    uint8_t want[32];
    size_t n = 0;
    assert_true(secup_hex_decode("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                                 want, sizeof(want), &n));
    uint8_t got[32];
    assert_int_equal(secup_crypto_hmac_sha256(k, secup_bytes_of("Hi There", 8), got, NULL),
                     SECUP_OK);
    assert_memory_equal(got, want, 32);

    struct secup_key *p = generate(SECUP_KEY_P256);
    assert_int_not_equal(secup_crypto_hmac_sha256(p, secup_bytes_of("Hi There", 8), got, NULL),
                         SECUP_OK);
    secup_key_free(p);
    secup_key_free(k);
}

static void test_crypto_key_id_differs_between_keys_and_secrets(void **state)
{
    (void)state;
    uint8_t s1[32];
    uint8_t s2[32];
    memset(s1, 1, sizeof(s1));
    memset(s2, 1, sizeof(s2));
    s2[31] = 2;
    struct secup_key *a = NULL;
    struct secup_key *b = NULL;
    struct secup_key *a2 = NULL;
    assert_int_equal(secup_key_from_secret(&a, secup_bytes_of(s1, sizeof(s1)), NULL), SECUP_OK);
    assert_int_equal(secup_key_from_secret(&a2, secup_bytes_of(s1, sizeof(s1)), NULL), SECUP_OK);
    assert_int_equal(secup_key_from_secret(&b, secup_bytes_of(s2, sizeof(s2)), NULL), SECUP_OK);
    uint8_t ia[32];
    uint8_t ia2[32];
    uint8_t ib[32];
    key_id(a, ia);
    key_id(a2, ia2);
    key_id(b, ib);
    assert_memory_equal(ia, ia2, 32);
    assert_memory_not_equal(ia, ib, 32);
    /* The id of a secret is not the bare hash of the secret. */
    uint8_t h[32];
    assert_int_equal(secup_crypto_sha256(secup_bytes_of(s1, sizeof(s1)), h, NULL), SECUP_OK);
    assert_memory_not_equal(ia, h, 32);
    assert_int_equal(secup_key_id(NULL, ia, NULL), SECUP_E_ARG);
    secup_key_free(b);
    secup_key_free(a2);
    secup_key_free(a);
}

static void test_crypto_random_fills_the_buffer(void **state)
{
    (void)state;
    uint8_t a[64] = {0};
    uint8_t b[64] = {0};
    assert_int_equal(secup_crypto_random(a, sizeof(a), NULL), SECUP_OK);
    assert_int_equal(secup_crypto_random(b, sizeof(b), NULL), SECUP_OK);
    assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crypto_keygen_each_type_gives_a_private_key_of_that_type),
        cmocka_unit_test(test_crypto_keygen_of_hmac_or_none_is_refused_as_arg),
        cmocka_unit_test(test_crypto_saved_keys_reload_with_mode_type_and_same_key_id),
        cmocka_unit_test(test_crypto_saving_without_a_private_part_is_refused),
        cmocka_unit_test(test_crypto_self_signed_certificate_verifies_with_its_key),
        cmocka_unit_test(test_crypto_streaming_sha256_equals_one_shot),
        cmocka_unit_test(test_crypto_sign_then_verify_round_trips_through_saved_keys),
        cmocka_unit_test(test_crypto_any_flipped_signature_bit_gives_sig),
        cmocka_unit_test(test_crypto_changed_message_or_signature_length_gives_sig),
        cmocka_unit_test(test_crypto_signature_from_another_key_gives_sig),
        cmocka_unit_test(test_crypto_key_of_the_wrong_type_for_the_alg_is_refused),
        cmocka_unit_test(test_crypto_signing_with_a_public_key_or_short_buffer_is_refused),
        cmocka_unit_test(test_crypto_default_sig_alg_follows_key_type),
        cmocka_unit_test(test_crypto_loading_a_file_without_a_key_gives_key_format),
        cmocka_unit_test(test_crypto_loading_a_missing_file_gives_noent),
        cmocka_unit_test(test_crypto_loading_a_directory_gives_io),
        cmocka_unit_test(
            test_crypto_encrypted_private_key_is_refused_without_prompting_on_the_terminal),
        cmocka_unit_test(test_crypto_keys_of_unsupported_curves_give_unsupported),
        cmocka_unit_test(test_crypto_hmac_secret_outside_16_to_64_bytes_gives_key_format),
        cmocka_unit_test(test_crypto_sha256_matches_fips_180_vectors),
        cmocka_unit_test(test_crypto_sha256_of_a_null_empty_view_is_the_empty_digest),
        cmocka_unit_test(test_crypto_sha1_parts_matches_fips_180_vector),
        cmocka_unit_test(test_crypto_hmac_sha256_matches_rfc_4231_case_1),
        cmocka_unit_test(test_crypto_key_id_differs_between_keys_and_secrets),
        cmocka_unit_test(test_crypto_random_fills_the_buffer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
