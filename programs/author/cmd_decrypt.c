/* secup-author decrypt: turns an encrypted (and/or compressed) payload back into the
 * image, through the same pipeline a device runs, so the result is checked against the
 * manifest's digest and size before it is kept. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "author.h"
#include "cli.h"

static void help(void)
{
    printf("usage: secup-author decrypt ENVELOPE [--payload FILE] (--recipient-key KEY.pem |\n"
           "                            --kek FILE [--kid ID]) [--component N]\n"
           "                            [--pub KEY.pem ...] --out FILE\n\n"
           "Decrypts (and decompresses) a component's payload with the parameters its manifest\n"
           "gives, checks the result against the manifest's SHA-256 and size, and only then\n"
           "writes it to --out. Without --payload the manifest's own content parameter (or the\n"
           "integrated payload its uri names) is used. With --pub the envelope's signature is\n"
           "checked first.\n\n"
           "  --payload FILE        the encrypted payload\n"
           "  --recipient-key FILE  the recipient's P-256 or X25519 private key (ECDH-ES)\n"
           "  --kek FILE            a pre-shared AES-KW key as hex; --kid picks the recipient\n"
           "  --component N         component index (default 0)\n"
           "  --pub FILE            trusted signing key, repeatable\n"
           "  --out FILE            the decrypted image (written only if it verifies)\n");
}

struct source {
    struct secup_bytes mem;  /* content, integrated payload, or mapped --payload file */
    bool mapped;
};

static secup_rc find_source(const struct secup_envelope *env, const struct secup_image_info *info,
                            const char *payload, struct source *src, struct secup_err *err)
{
    memset(src, 0, sizeof(*src));
    if (payload) {
        secup_rc rc = secup_file_map(payload, &src->mem, err);
        src->mapped = rc == SECUP_OK;
        return rc;
    }
    if (info->has_content) {
        src->mem = info->content;
        return SECUP_OK;
    }
    if (info->has_uri && secup_envelope_find_integrated(env, info->uri, &src->mem))
        return SECUP_OK;
    return secup_err_set(err, SECUP_E_MISSING,
                         "the manifest carries no payload for this component; give --payload");
}

static secup_rc verify_first(const struct secup_envelope *env, const char *const *pubs, size_t n,
                             struct secup_err *err)
{
    struct secup_trust *t = NULL;
    secup_rc rc = secup_trust_new(&t, err);
    for (size_t i = 0; rc == SECUP_OK && i < n; i++) {
        struct secup_key *k = NULL;
        rc = secup_key_load_pem(&k, pubs[i], err);
        if (rc == SECUP_OK) {
            rc = secup_trust_add(t, k, pubs[i], err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
    }
    if (rc == SECUP_OK)
        rc = secup_envelope_verify(env, t, NULL, err);
    secup_trust_free(t);
    return rc;
}

static secup_rc decrypt_to(const struct secup_image_info *info, struct secup_bytes payload,
                           const struct secup_recipient_key *key, const char *tmp,
                           struct secup_err *err)
{
    struct secup_slot slot;
    struct secup_stream *s = NULL;
    struct secup_stream_cfg cfg = {
        .encryption_info = info->has_encryption ? info->encryption_info : secup_bytes_of(NULL, 0),
        .key = key,
        .compression = (enum secup_compression)info->compression,
        .image_size = info->size,
        .image_digest = info->digest,
    };
    if (info->compression > SECUP_COMPRESSION_ZSTD)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "compression %llu",
                             (unsigned long long)info->compression);
    /* The slot is exactly as large as the manifest says the image is (a slot holds at least
     * one byte, so an empty image gets one it never writes). */
    secup_rc rc = secup_slot_file_open(&slot, tmp, info->size ? info->size : 1,
                                       SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE |
                                           SECUP_SLOT_TRUNCATE,
                                       err);
    if (rc != SECUP_OK)
        return rc;
    rc = secup_stream_new(&s, &cfg, &slot, err);
    if (rc == SECUP_OK)
        rc = secup_stream_write(s, payload, err);
    if (rc == SECUP_OK)
        rc = secup_stream_finish(s, err);
    if (rc == SECUP_OK && !secup_stream_is_complete(s))
        rc = secup_err_set(err, SECUP_E_STATE, "the pipeline did not complete");
    secup_stream_free(s);
    slot.ops->close(&slot);
    return rc;
}

/* Some manifests (the encryption draft's examples among them) give no image digest and
 * rely on the AEAD tag alone. That is accepted only for AEAD content: CTR without a digest
 * would have no integrity at all. */
static secup_rc decrypt_aead_only(const struct secup_image_info *info, struct secup_bytes payload,
                                  const struct secup_recipient_key *key, const char *tmp,
                                  struct secup_err *err)
{
    struct secup_enc_info ei;
    if (!info->has_encryption || info->compression)
        return secup_err_set(err, SECUP_E_MISSING, "the manifest gives no image digest and size");
    secup_rc rc = secup_enc_info_decode(&ei, info->encryption_info, err);
    if (rc != SECUP_OK)
        return rc;
    if (ei.alg != SECUP_COSE_ALG_A128GCM && ei.alg != SECUP_COSE_ALG_CHACHA20_POLY1305)
        return secup_err_set(err, SECUP_E_MISSING,
                             "the manifest gives no image digest, and %s has no integrity of its own",
                             secup_enc_alg_name(ei.alg) ? secup_enc_alg_name(ei.alg) : "this cipher");
    if (payload.len > AUTHOR_MAX_ENVELOPE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "payload without a digest larger than %u bytes",
                             AUTHOR_MAX_ENVELOPE);
    uint8_t *plain = malloc(payload.len ? payload.len : 1);
    size_t n = 0;
    if (!plain)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for %zu bytes", payload.len);
    rc = secup_enc_decrypt(info->encryption_info, key, payload, plain, payload.len, &n, err);
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(tmp, secup_bytes_of(plain, n), 0600, err);
    secup_wipe(plain, payload.len);
    free(plain);
    return rc;
}

int cmd_decrypt(int argc, char **argv)
{
    static const struct option opts[] = {
        { "payload", required_argument, NULL, 'p' },
        { "recipient-key", required_argument, NULL, 'r' },
        { "kek", required_argument, NULL, 'k' },
        { "kid", required_argument, NULL, 'i' },
        { "component", required_argument, NULL, 'c' },
        { "pub", required_argument, NULL, 'P' },
        { "out", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *payload = NULL;
    const char *recipient = NULL;
    const char *kek_path = NULL;
    const char *kid = NULL;
    const char *out = NULL;
    const char *pubs[SECUP_MAX_TRUST_ANCHORS];
    size_t n_pubs = 0;
    uint64_t component = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': payload = optarg; break;
        case 'r': recipient = optarg; break;
        case 'k': kek_path = optarg; break;
        case 'i': kid = optarg; break;
        case 'c':
            if (!cli_parse_u64(optarg, &component) || component >= SECUP_MAX_COMPONENTS)
                return cli_usage("decrypt", "--component '%s' is not a component index", optarg);
            break;
        case 'P':
            if (n_pubs >= SECUP_MAX_TRUST_ANCHORS)
                return cli_usage("decrypt", "too many --pub options");
            pubs[n_pubs++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'h': help(); return 0;
        default: return cli_usage("decrypt", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("decrypt", "exactly one envelope file is needed");
    if (!out)
        return cli_usage("decrypt", "--out is required");
    if ((recipient != NULL) == (kek_path != NULL))
        return cli_usage("decrypt", "give either --recipient-key or --kek");

    struct secup_err err;
    struct secup_envelope *env = NULL;
    struct secup_key *priv = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t kek[32];
    size_t kek_len = 0;
    struct source src = { { NULL, 0 }, false };
    struct secup_image_info info;
    char tmp[4200];
    tmp[0] = '\0';
    secup_err_clear(&err);

    secup_rc rc = author_load_envelope(argv[optind], &buf, &len, &env, &err);
    if (rc == SECUP_OK && n_pubs)
        rc = verify_first(env, pubs, n_pubs, &err);
    if (rc == SECUP_OK)
        rc = secup_manifest_image_info(&env->manifest, (uint32_t)component, &info, &err);
    if (rc == SECUP_OK && !info.has_encryption && !info.compression)
        rc = secup_err_set(&err, SECUP_E_VALUE, "component %llu: the payload is neither encrypted nor compressed",
                           (unsigned long long)component);
    if (rc == SECUP_OK)
        rc = find_source(env, &info, payload, &src, &err);
    struct secup_recipient_key key = { 0 };
    if (rc == SECUP_OK && recipient) {
        rc = secup_key_load_pem(&priv, recipient, &err);
        if (rc == SECUP_OK && !secup_key_has_private(priv))
            rc = secup_err_set(&err, SECUP_E_KEY_FORMAT, "'%s' holds no private key", recipient);
        key.kind = SECUP_RECIPIENT_ECDH;
        key.priv = priv;
    } else if (rc == SECUP_OK) {
        rc = author_read_hex_key(kek_path, "a key-encryption key", kek, sizeof(kek), &kek_len, &err);
        if (rc == SECUP_OK && kek_len != 16 && kek_len != 32)
            rc = secup_err_set(&err, SECUP_E_KEY_FORMAT, "'%s' must hold a 16- or 32-byte key as hex", kek_path);
        key.kind = SECUP_RECIPIENT_KEK;
        key.kek = secup_bytes_of(kek, kek_len);
        key.kid = kid ? secup_bytes_of(kid, strlen(kid)) : secup_bytes_of(NULL, 0);
    }
    if (rc == SECUP_OK) {
        int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof(tmp))
            rc = secup_err_set(&err, SECUP_E_ARG, "--out path too long");
    }
    if (rc == SECUP_OK && info.has_digest && info.has_size)
        rc = decrypt_to(&info, src.mem, &key, tmp, &err);
    else if (rc == SECUP_OK)
        rc = decrypt_aead_only(&info, src.mem, &key, tmp, &err);
    if (rc == SECUP_OK)
        rc = secup_file_commit(tmp, out, &err);
    int status = 0;
    if (rc != SECUP_OK) {
        if (tmp[0])
            unlink(tmp);
        status = cli_fail("decrypt", &err);
    } else {
        printf("%s: decrypted, %s%s\n", out,
               info.has_digest ? "SHA-256 and size match the manifest" : "AEAD tag verified (the manifest gives no digest)",
               n_pubs ? ", signature verified" : "");
        if (!n_pubs)
            cli_note("the envelope's signature was not checked (no --pub)");
    }
    if (src.mapped)
        secup_file_unmap(src.mem);
    secup_wipe(kek, sizeof(kek));
    secup_key_free(priv);
    free(env);
    secup_file_free(buf, len);
    return status;
}
