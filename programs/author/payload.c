/* secup-author: encrypted and compressed payloads (issue [stream]). The image is read
 * once, compressed and/or encrypted for its recipients, and written beside the envelope;
 * the manifest keeps the plaintext's digest and size, so devices check the image they
 * end up with, not the bytes in transit. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "author.h"

bool author_enc_active(const struct author_enc_opts *o)
{
    return o->n_recipients > 0 || o->kek_path || o->compress || o->profile;
}

static secup_rc load_kek(const char *path, uint8_t *kek, size_t *len, struct secup_err *err)
{
    secup_rc rc = author_read_hex_key(path, "a key-encryption key", kek, 32, len, err);
    if (rc == SECUP_OK && *len != 16 && *len != 32) {
        secup_wipe(kek, 32);
        return secup_err_set(err, SECUP_E_KEY_FORMAT,
                             "'%s' must hold a 16- or 32-byte key-encryption key as hex", path);
    }
    return rc;
}

/* The content and key-distribution algorithms: from the profile when one is named, else
 * A128GCM with the key distribution the recipients imply. */
static secup_rc choose_algs(const struct author_enc_opts *o, size_t kek_len,
                            const int64_t *sign_algs, size_t n_sign, int64_t *enc_alg,
                            int64_t *key_alg, struct secup_err *err)
{
    *enc_alg = SECUP_COSE_ALG_A128GCM;
    *key_alg = o->kek_path ? (kek_len == 32 ? SECUP_COSE_ALG_A256KW : SECUP_COSE_ALG_A128KW)
                           : SECUP_COSE_ALG_ECDH_ES_A128KW;
    if (!o->profile)
        return SECUP_OK;
    const struct secup_profile *p = secup_profile_find(o->profile);
    if (!p) {
        secup_err_set(err, SECUP_E_VALUE, "unknown profile '%s'", o->profile);
        return SECUP_E_VALUE;
    }
    if (!p->supported)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "profile '%s' is not implemented (HSS-LMS)",
                             p->name);
    bool signer = false;
    for (size_t i = 0; i < n_sign; i++)
        signer = signer || sign_algs[i] == p->auth_alg;
    if (!signer)
        return secup_err_set(err, SECUP_E_VALUE,
                             "profile '%s' authenticates with COSE algorithm %lld; give a --key (or --hmac-key) of that kind",
                             p->name, (long long)p->auth_alg);
    if (p->key_alg == SECUP_COSE_ALG_ECDH_ES_A128KW && o->kek_path)
        return secup_err_set(err, SECUP_E_VALUE, "profile '%s' distributes keys by ECDH-ES: use --encrypt-for",
                             p->name);
    if (p->key_alg != SECUP_COSE_ALG_ECDH_ES_A128KW &&
        (!o->kek_path || (p->key_alg == SECUP_COSE_ALG_A128KW) != (kek_len == 16)))
        return secup_err_set(err, SECUP_E_VALUE, "profile '%s' needs --kek with a %d-byte key",
                             p->name, p->key_alg == SECUP_COSE_ALG_A128KW ? 16 : 32);
    *enc_alg = p->enc_alg;
    *key_alg = p->key_alg;
    return SECUP_OK;
}

secup_rc author_payload_build(const struct author_enc_opts *o, const char *image_path,
                              const int64_t *sign_algs, size_t n_sign,
                              struct secup_payload_result *res, char *tmp_path, size_t tmp_cap,
                              struct secup_err *err)
{
    struct secup_key *pubs[SECUP_MAX_RECIPIENTS] = { 0 };
    struct secup_enc_recipient_spec rs[SECUP_MAX_RECIPIENTS + 1];
    size_t n_rs = 0;
    uint8_t kek[32];
    size_t kek_len = 0;
    int in_fd = -1;
    int out_fd = -1;
    secup_rc rc = SECUP_OK;
    tmp_path[0] = '\0';
    memset(rs, 0, sizeof(rs));

    if (!o->payload_out)
        return secup_err_set(err, SECUP_E_ARG, "an encrypted or compressed payload needs --payload-out FILE");
    bool encrypt = o->n_recipients > 0 || o->kek_path;
    if (!encrypt && o->profile)
        return secup_err_set(err, SECUP_E_ARG, "--profile needs recipients (--encrypt-for or --kek)");
    if (o->kek_path && !o->kid)
        return secup_err_set(err, SECUP_E_ARG, "--kek needs --kid (the key id devices look for)");
    if (o->kek_path && o->n_recipients)
        return secup_err_set(err, SECUP_E_ARG, "use either --kek or --encrypt-for, not both");
    if (o->kek_path)
        rc = load_kek(o->kek_path, kek, &kek_len, err);
    int64_t enc_alg = 0;
    int64_t key_alg = 0;
    if (rc == SECUP_OK && encrypt)
        rc = choose_algs(o, kek_len, sign_algs, n_sign, &enc_alg, &key_alg, err);
    for (size_t i = 0; rc == SECUP_OK && i < o->n_recipients; i++) {
        rc = secup_key_load_pem(&pubs[i], o->recipients[i], err);
        if (rc == SECUP_OK && secup_key_type(pubs[i]) != SECUP_KEY_P256 &&
            secup_key_type(pubs[i]) != SECUP_KEY_X25519)
            rc = secup_err_set(err, SECUP_E_KEY_FORMAT,
                               "'%s' is a %s key; recipients need P-256 or X25519 keys",
                               o->recipients[i], secup_key_type_name(secup_key_type(pubs[i])));
        rs[n_rs].alg = SECUP_COSE_ALG_ECDH_ES_A128KW;
        rs[n_rs].pub = pubs[i];
        n_rs++;
    }
    if (rc == SECUP_OK && o->kek_path) {
        rs[n_rs].alg = key_alg;
        rs[n_rs].kek = secup_bytes_of(kek, kek_len);
        rs[n_rs].kid = secup_bytes_of(o->kid, strlen(o->kid));
        n_rs++;
    }
    if (rc != SECUP_OK)
        goto out;

    in_fd = open(image_path, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) {
        rc = secup_err_set(err, SECUP_E_NOENT, "cannot open image '%s'", image_path);
        goto out;
    }
    int n = snprintf(tmp_path, tmp_cap, "%s.tmp.XXXXXX", o->payload_out);
    if (n < 0 || (size_t)n >= tmp_cap) {
        rc = secup_err_set(err, SECUP_E_ARG, "--payload-out path too long");
        goto out;
    }
    out_fd = mkstemp(tmp_path);
    if (out_fd < 0) {
        rc = secup_err_set(err, SECUP_E_IO, "cannot create a file beside '%s'", o->payload_out);
        tmp_path[0] = '\0';
        goto out;
    }
    struct secup_payload_spec spec = {
        .compression = o->compress ? SECUP_COMPRESSION_ZSTD : SECUP_COMPRESSION_NONE,
        .enc_alg = encrypt ? enc_alg : 0,
        .recipients = rs,
        .n_recipients = n_rs,
    };
    rc = secup_payload_build_fd(in_fd, out_fd, &spec, res, err);
    if (rc == SECUP_OK && (fchmod(out_fd, 0644) != 0 || fsync(out_fd) != 0))
        rc = secup_err_set(err, SECUP_E_IO, "writing '%s'", tmp_path);
out:
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (rc != SECUP_OK && tmp_path[0]) {
        unlink(tmp_path);
        tmp_path[0] = '\0';
    }
    for (size_t i = 0; i < SECUP_MAX_RECIPIENTS; i++)
        secup_key_free(pubs[i]);
    secup_wipe(kek, sizeof(kek));
    return rc;
}
