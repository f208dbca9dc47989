/* secup-author verify: is the envelope authentic, and does an image match it? */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author.h"
#include "cli.h"

#define MAX_IMAGES SECUP_MAX_COMPONENTS

static void help(void)
{
    printf("usage: secup-author verify ENVELOPE --pub KEY.pem [--pub ...] [--hmac-key FILE]\n"
           "                           [--image [INDEX=]FILE ...] [--quiet]\n\n"
           "Exits 0 only if the manifest digest matches and at least one COSE_Sign1 or\n"
           "COSE_Mac0 block verifies with a given key, and, with --image, the image's SHA-256\n"
           "and size match what the manifest says for that component (default index 0).\n\n"
           "  --pub FILE       trusted public key (PEM; P-256 or Ed25519), repeatable\n"
           "  --hmac-key FILE  trusted HMAC-SHA256 secret, as hex text\n"
           "  --image [N=]FILE image for component N (default 0), repeatable\n");
}

secup_rc author_check_image(const struct secup_manifest *m, uint32_t index, const char *path,
                           struct secup_err *err)
{
    struct secup_image_info info;
    secup_rc rc = secup_manifest_image_info(m, index, &info, err);
    if (rc != SECUP_OK)
        return rc;
    if (!info.has_digest || !info.has_size)
        return secup_err_set(err, SECUP_E_MISSING, "component %u: the manifest gives no %s", index,
                             info.has_digest ? "image-size" : "image-digest");
    struct secup_bytes img;
    rc = secup_file_map(path, &img, err);
    if (rc != SECUP_OK)
        return rc;
    if (img.len != info.size)
        rc = secup_err_set(err, SECUP_E_SIZE, "'%s' is %zu bytes, the manifest says %llu", path,
                           img.len, (unsigned long long)info.size);
    else
        rc = secup_digest_check(&info.digest, img, err);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "component %u", index);
    secup_file_unmap(img);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "pub", required_argument, NULL, 'p' },
        { "hmac-key", required_argument, NULL, 'm' },
        { "image", required_argument, NULL, 'i' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *pubs[SECUP_MAX_TRUST_ANCHORS];
    size_t n_pubs = 0;
    const char *hmac = NULL;
    const char *images[MAX_IMAGES];
    uint32_t image_index[MAX_IMAGES];
    size_t n_images = 0;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:i:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (n_pubs >= SECUP_MAX_TRUST_ANCHORS - 1)
                return cli_usage("verify", "too many --pub options");
            pubs[n_pubs++] = optarg;
            break;
        case 'm': hmac = optarg; break;
        case 'i': {
            if (n_images >= MAX_IMAGES)
                return cli_usage("verify", "too many --image options");
            const char *eq = strchr(optarg, '=');
            uint32_t idx = 0;
            const char *path = optarg;
            if (eq && eq > optarg && strspn(optarg, "0123456789") == (size_t)(eq - optarg)) {
                uint64_t v = 0;
                char num[16];
                size_t nl = (size_t)(eq - optarg);
                if (nl >= sizeof(num))
                    return cli_usage("verify", "component index in '%s' too large", optarg);
                memcpy(num, optarg, nl);
                num[nl] = '\0';
                if (!cli_parse_u64(num, &v) || v >= SECUP_MAX_COMPONENTS)
                    return cli_usage("verify", "component index in '%s' out of range", optarg);
                idx = (uint32_t)v;
                path = eq + 1;
            }
            images[n_images] = path;
            image_index[n_images++] = idx;
            break;
        }
        case 'q': quiet = true; break;
        case 'h': help(); return 0;
        default: return cli_usage("verify", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("verify", "exactly one envelope file is needed");
    if (n_pubs == 0 && !hmac)
        return cli_usage("verify", "give at least one trusted key (--pub or --hmac-key)");
    const char *path = argv[optind];

    struct secup_err err;
    struct secup_trust *trust = NULL;
    struct secup_envelope *env = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_err_clear(&err);
    secup_rc rc = secup_trust_new(&trust, &err);
    for (size_t i = 0; rc == SECUP_OK && i < n_pubs; i++) {
        struct secup_key *k = NULL;
        rc = secup_key_load_pem(&k, pubs[i], &err);
        if (rc == SECUP_OK) {
            rc = secup_trust_add(trust, k, pubs[i], &err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
    }
    if (rc == SECUP_OK && hmac) {
        struct secup_key *k = NULL;
        rc = author_load_hmac(hmac, &k, &err);
        if (rc == SECUP_OK) {
            rc = secup_trust_add(trust, k, hmac, &err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
    }
    if (rc == SECUP_OK)
        rc = author_load_envelope(path, &buf, &len, &env, &err);
    struct secup_verify_info info;
    if (rc == SECUP_OK) {
        rc = secup_envelope_verify(env, trust, &info, &err);
        if (rc != SECUP_OK)
            secup_err_prefix(&err, "'%s'", path);
    }
    for (size_t i = 0; rc == SECUP_OK && i < n_images; i++)
        rc = author_check_image(&env->manifest, image_index[i], images[i], &err);
    int status = 0;
    if (rc != SECUP_OK) {
        status = cli_fail("verify", &err);
    } else if (!quiet) {
        printf("%s: OK: sequence %llu, signed by %s (COSE alg %lld, block %zu)", path,
               (unsigned long long)env->manifest.sequence_number,
               secup_trust_name(trust, info.anchor), (long long)info.alg, info.block);
        if (n_images)
            printf(", %zu image%s match", n_images, n_images == 1 ? "" : "s");
        printf("\n");
    }
    free(env);
    secup_file_free(buf, len);
    secup_trust_free(trust);
    return status;
}
