/* The submission gate (X.secup-iot §11.3.1, DESIGN.md §4.2): what an Author's package must
 * pass before the server stores and distributes it. Nothing is stored unless every check
 * passed; a flagged image is stored only as quarantined evidence. */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compid.h"
#include "gate.h"
#include "secup/cose.h"
#include "secup/encrypt.h"
#include "secup/file.h"
#include "secup/policy.h"
#include "secup/stream.h"

extern char **environ;


/* A slot that keeps nothing: the pipeline checks digest and size on the way. */
static secup_rc null_write(struct secup_slot *s, uint64_t off, struct secup_bytes d,
                           struct secup_err *err)
{
    (void)s;
    (void)off;
    (void)d;
    (void)err;
    return SECUP_OK;
}
static secup_rc null_read(struct secup_slot *s, uint64_t off, uint8_t *buf, size_t len,
                          struct secup_err *err)
{
    (void)s;
    (void)off;
    (void)buf;
    (void)len;
    return secup_err_set(err, SECUP_E_STATE, "the check slot keeps no bytes");
}
static secup_rc null_sync(struct secup_slot *s, struct secup_err *err)
{
    (void)s;
    (void)err;
    return SECUP_OK;
}
static void null_close(struct secup_slot *s)
{
    (void)s;
}
static const struct secup_slot_ops null_ops = { "discard", null_write, null_read, null_sync,
                                                null_close };

/* Runs the payload through the pipeline into slot: decrypts when the server holds a
 * recipient key, decompresses, and checks size and digest against the manifest. */
static secup_rc check_payload(const struct gate_in *in, const struct secup_image_info *info,
                              struct secup_slot *slot, struct secup_bytes data, int fd,
                              struct secup_err *err)
{
    struct secup_stream_cfg cfg = { 0 };
    struct secup_recipient_key rk = { 0 };
    if (info->has_encryption) {
        cfg.encryption_info = info->encryption_info;
        rk.kind = SECUP_RECIPIENT_ECDH;
        rk.priv = in->inspection_key;
        cfg.key = &rk;
    }
    cfg.compression = (enum secup_compression)info->compression;
    cfg.image_size = info->size;
    cfg.image_digest = info->digest;
    struct secup_stream *s = NULL;
    secup_rc rc = secup_stream_new(&s, &cfg, slot, err);
    if (rc == SECUP_OK)
        rc = fd >= 0 ? secup_stream_pump_fd(s, fd, err) : secup_stream_write(s, data, err);
    if (rc == SECUP_OK)
        rc = secup_stream_finish(s, err);
    secup_stream_free(s);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "payload");
    return rc;
}

/* Runs the scanner on path: exit 0 clean, 1 flagged, anything else (or no answer within
 * the timeout) is a scanner failure. */
static secup_rc scan(const struct srv_config *cfg, const char *path, struct secup_err *err)
{
    char *argv[SRV_SCANNER_ARGS + 2];
    size_t n = 0;
    while (cfg->scanner[n] && n < SRV_SCANNER_ARGS) {
        argv[n] = cfg->scanner[n];
        n++;
    }
    argv[n++] = (char *)path;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0)
        return secup_err_set(err, SECUP_E_UNAVAILABLE, "scanner '%s' cannot start: %s", argv[0],
                             strerror(e));
    int status = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return secup_err_set(err, SECUP_E_UNAVAILABLE, "scanner: waitpid: %s",
                                 strerror(errno));
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((uint64_t)(t.tv_sec - start.tv_sec) >= cfg->scanner_timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return secup_err_set(err, SECUP_E_TIMEOUT, "scanner gave no verdict within %" PRIu64 " s",
                                 cfg->scanner_timeout);
        }
        struct timespec nap = { 0, 20 * 1000 * 1000 };
        nanosleep(&nap, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return SECUP_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
        return secup_err_set(err, SECUP_E_FLAGGED, "the scanner flagged the image");
    return secup_err_set(err, SECUP_E_UNAVAILABLE, "scanner failed (status %d)", status);
}

/* Finds which component the detached payload belongs to: the one whose uri is not an
 * integrated payload ("#..."). */
static secup_rc payload_component(const struct secup_envelope *env, bool have_payload,
                                  int *index, struct secup_image_info *info,
                                  struct secup_err *err)
{
    *index = -1;
    for (uint32_t k = 0; k < env->manifest.n_components; k++) {
        struct secup_image_info ii;
        secup_rc rc = secup_manifest_image_info(&env->manifest, k, &ii, err);
        if (rc == SECUP_E_UNSUPPORTED)
            continue; /* chosen at install time (try-each): not checkable here */
        if (rc != SECUP_OK)
            return rc;
        if (!ii.has_uri || (ii.uri.len && ii.uri.ptr[0] == '#'))
            continue;
        if (*index >= 0 && have_payload)
            return secup_err_set(err, SECUP_E_UNSUPPORTED,
                                 "components %d and %u both fetch a detached payload; submit one"
                                 " payload per manifest",
                                 *index, k);
        *index = (int)k;
        *info = ii;
    }
    return SECUP_OK;
}

static bool uri_integrated(const struct secup_envelope *env, struct secup_bytes uri,
                           struct secup_bytes *data)
{
    for (uint32_t i = 0; i < env->n_integrated; i++) {
        if (secup_bytes_equal(env->integrated[i].name, uri)) {
            *data = env->integrated[i].data;
            return true;
        }
    }
    return false;
}

secup_rc gate_check(const struct gate_in *in, struct db *db, struct srv_image *img,
                    struct gate_out *out, struct secup_err *err)
{
    const struct srv_config *cfg = in->cfg;
    memset(out, 0, sizeof(*out));
    memset(img, 0, sizeof(*img));
    struct secup_envelope *env = calloc(1, sizeof(*env));
    struct secup_enc_info *enc = calloc(1, sizeof(*enc));
    struct secup_trust *trust = NULL;
    struct secup_key *key = NULL;
    secup_rc rc = env && enc ? SECUP_OK : secup_err_set(err, SECUP_E_NOMEM, "envelope model");
    if (rc != SECUP_OK)
        goto out;

    /* 1. well-formed, 2. signed by this Author's registered key */
    rc = secup_envelope_decode(env, in->envelope, NULL, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "envelope");
        goto out;
    }
    char pem[8192];
    rc = store_author_key(db, in->author->id, pem, sizeof(pem), err);
    if (rc == SECUP_OK)
        rc = secup_key_parse_pem(&key, secup_bytes_of(pem, strlen(pem)), err);
    if (rc == SECUP_OK)
        rc = secup_trust_new(&trust, err);
    if (rc == SECUP_OK) {
        rc = secup_trust_add(trust, key, in->author->id, err);
        if (rc == SECUP_OK)
            key = NULL; /* the trust store owns it */
    }
    if (rc == SECUP_OK)
        rc = secup_envelope_verify(env, trust, NULL, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "signature of Author '%s'", in->author->id);
        goto out;
    }

    /* 3. audience and grants per component */
    const struct secup_manifest *m = &env->manifest;
    if (m->n_components == 0 || m->n_components > SRV_MAX_COMPONENTS) {
        rc = secup_err_set(err, SECUP_E_LIMIT_COMPONENTS, "the manifest names %u components (1 to %d)",
                           m->n_components, SRV_MAX_COMPONENTS);
        goto out;
    }
    if (m->sequence_number > INT64_MAX) {
        rc = secup_err_set(err, SECUP_E_VALUE, "sequence number too large");
        goto out;
    }
    img->seq = (int64_t)m->sequence_number;
    for (uint32_t k = 0; k < m->n_components; k++) {
        uint8_t v[16], c[16];
        rc = secup_manifest_audience(m, k, v, c, err);
        if (rc != SECUP_OK)
            goto out;
        char vh[33], ch[33];
        secup_hex_encode(secup_bytes_of(v, 16), vh, sizeof(vh));
        secup_hex_encode(secup_bytes_of(c, 16), ch, sizeof(ch));
        if (k == 0) {
            memcpy(img->vendor, vh, sizeof(vh));
            memcpy(img->class_id, ch, sizeof(ch));
        } else if (strcmp(vh, img->vendor) != 0 || strcmp(ch, img->class_id) != 0) {
            rc = secup_err_set(err, SECUP_E_UNSUPPORTED,
                               "components 0 and %u are for different vendors or classes", k);
            goto out;
        }
        uint8_t enc_id[512];
        size_t len = 0;
        rc = secup_component_id_encode(&m->components[k], enc_id, sizeof(enc_id), &len, err);
        if (rc == SECUP_OK && 2 * len + 1 > sizeof(img->components[k]))
            rc = secup_err_set(err, SECUP_E_LIMIT_BYTES, "component %u identifier too long", k);
        if (rc != SECUP_OK)
            goto out;
        secup_hex_encode(secup_bytes_of(enc_id, len), img->components[k], sizeof(img->components[k]));
        if (!compid_format(&m->components[k], img->component_names[k],
                           sizeof(img->component_names[k]))) {
            /* not printable as text: the hex of its encoding stands in */
            char hexname[sizeof(img->component_names[k])];
            snprintf(hexname, sizeof(hexname), "0x%.200s", img->components[k]);
            memcpy(img->component_names[k], hexname, sizeof(hexname));
        }
        rc = store_grant_check(db, in->author->id, img->vendor, img->class_id,
                               img->component_names[k], err);
        if (rc != SECUP_OK)
            goto out;
        img->n_components = k + 1;
    }

    /* 4. the payload: size and digest as the manifest says, where the server can tell */
    int pk = -1;
    struct secup_image_info info;
    memset(&info, 0, sizeof(info));
    rc = payload_component(env, in->payload != NULL, &pk, &info, err);
    if (rc != SECUP_OK)
        goto out;
    if (in->payload && pk < 0) {
        rc = secup_err_set(err, SECUP_E_VALUE,
                           "a payload was submitted, but the manifest fetches no detached payload");
        goto out;
    }
    bool encrypted = false;
    struct secup_bytes integrated = { 0 };
    if (pk >= 0) {
        if (!info.has_digest || !info.has_size) {
            rc = secup_err_set(err, SECUP_E_MISSING, "component %d: no image digest or size", pk);
            goto out;
        }
        encrypted = info.has_encryption;
        if (encrypted) {
            rc = secup_enc_info_decode(enc, info.encryption_info, err);
            if (rc != SECUP_OK) {
                secup_err_prefix(err, "encryption info");
                goto out;
            }
        }
        img->image_size = (int64_t)info.size;
    }
    if (in->payload) {
        uint64_t psize = blob_size(in->payload);
        img->payload_size = (int64_t)psize;
        snprintf(img->payload_blob, sizeof(img->payload_blob), "%s",
                 blob_digest_hex(in->payload));
        bool readable = !encrypted || in->inspection_key;
        if (!readable) {
            /* the ciphertext size follows from the image size when nothing is compressed */
            uint64_t want = info.size + (enc->alg == SECUP_COSE_ALG_A128CTR ||
                                                 enc->alg == SECUP_COSE_ALG_A256CTR
                                             ? 0
                                             : SECUP_ENC_TAG_LEN);
            if (info.compression == 0 && psize != want) {
                rc = secup_err_set(err, SECUP_E_SIZE,
                                   "payload is %" PRIu64 " bytes; the manifest's image of %" PRIu64
                                   " bytes encrypted with %s is %" PRIu64,
                                   psize, info.size, secup_enc_alg_name(enc->alg), want);
                goto out;
            }
        }
    }
    img->encrypted = encrypted;
    secup_profile_describe(env->n_auth ? env->auth[0].alg : 0, encrypted ? enc : NULL, img->profile,
                           sizeof(img->profile));

    /* 5. newer than everything before, or a new variant of the newest */
    for (uint32_t k = 0; k < img->n_components; k++) {
        int64_t max = 0;
        rc = store_max_seq(db, img->vendor, img->class_id, img->components[k], &max, err);
        if (rc != SECUP_OK)
            goto out;
        if (img->seq > max)
            continue;
        bool exists = true;
        if (img->seq == max)
            rc = store_variant_exists(db, img->vendor, img->class_id, img->components[k],
                                      img->seq, img->profile, &exists, err);
        if (rc != SECUP_OK)
            goto out;
        if (exists) {
            rc = secup_err_set(err, SECUP_E_ROLLBACK,
                               "component %s: sequence number %" PRId64
                               " is not greater than the stored %" PRId64,
                               img->component_names[k], img->seq, max);
            goto out;
        }
    }

    /* 6. content checks where the server can read the image, then the scanner */
    bool readable_payload = in->payload && (!encrypted || in->inspection_key);
    bool has_integrated = pk >= 0 && !in->payload && info.has_uri &&
                          uri_integrated(env, info.uri, &integrated);
    if (has_integrated && encrypted && !in->inspection_key)
        has_integrated = false;
    if (readable_payload || has_integrated) {
        struct secup_slot slot = { .ops = &null_ops, .fd = -1, .capacity = info.size };
        char plain[SRV_PATH + 64] = "";
        if (cfg->scanner[0]) {
            snprintf(plain, sizeof(plain), "%s/tmp/scan-XXXXXX", cfg->blobs);
            int tfd = mkostemp(plain, O_CLOEXEC);
            if (tfd < 0) {
                rc = secup_err_set(err, SECUP_E_IO, "scan file: %s", strerror(errno));
                goto out;
            }
            close(tfd);
            rc = secup_slot_file_open(&slot, plain, info.size ? info.size : 1,
                                      SECUP_SLOT_WRITABLE | SECUP_SLOT_TRUNCATE, err);
            if (rc != SECUP_OK) {
                unlink(plain);
                goto out;
            }
        }
        int fd = -1;
        if (readable_payload) {
            fd = open(blob_tmp_path(in->payload), O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                rc = secup_err_set(err, SECUP_E_IO, "payload: %s", strerror(errno));
        }
        if (rc == SECUP_OK)
            rc = check_payload(in, &info, &slot, integrated, fd, err);
        if (fd >= 0)
            close(fd);
        slot.ops->close(&slot);
        if (rc == SECUP_OK && plain[0])
            rc = scan(cfg, plain, err);
        if (plain[0])
            unlink(plain);
        out->scanned = plain[0] != '\0';
    } else if (cfg->scanner[0] && in->payload && !in->inspection_key) {
        out->scanned = false; /* ciphertext only: the scanner cannot see inside */
    }
    if (rc == SECUP_E_FLAGGED) {
        out->flagged = true;
        snprintf(out->reason, sizeof(out->reason), "%.200s", err->msg);
    } else if (rc != SECUP_OK) {
        goto out;
    }

    /* the identity: the manifest digest (what a tracker's command names) */
    secup_hex_encode(env->digest.bytes, img->id, sizeof(img->id));
    secup_manifest_version_text(m, &m->components[0], img->version, sizeof(img->version));
    snprintf(img->author, sizeof(img->author), "%s", in->author->id);
    snprintf(img->status, sizeof(img->status), "%s", out->flagged ? "quarantined" : "active");
    if (out->flagged)
        snprintf(img->reason, sizeof(img->reason), "%s", out->reason);
    img->envelope_size = (int64_t)in->envelope.len;
    img->created = (int64_t)time(NULL);
    rc = out->flagged ? SECUP_E_FLAGGED : SECUP_OK;
out:
    secup_key_free(key);
    secup_trust_free(trust);
    free(enc);
    free(env);
    return rc;
}
