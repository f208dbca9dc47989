/* secup-agent's procedures. Every state change is written durably before the next step:
 * the agent state (two checksummed copies) first, the bootloader's view second, so that a
 * power cut between them is detected and undone at the next boot. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "boot_tool.h"
#include "run.h"

#define CHUNK_IO (64u * 1024u)

static uint64_t now(void)
{
    return (uint64_t)time(NULL);
}

static void record(struct agent *a, secup_rc rc, const char *reason, uint64_t seq,
                   const uint8_t *manifest_digest)
{
    struct state_result *l = &a->st.last;
    char hex[65] = "";
    if (manifest_digest)
        secup_hex_encode(secup_bytes_of(manifest_digest, 32), hex, sizeof(hex));
    /* a result without a manifest digest (a trial's fallback) belongs to the last manifest */
    state_count_result(l, rc == SECUP_OK, manifest_digest ? hex : l->manifest_digest);
    snprintf(l->code, sizeof(l->code), "%s", rc == SECUP_OK ? "OK" : secup_rc_name(rc));
    state_set_reason(l, reason);
    l->time = now();
    l->seq = seq;
    if (manifest_digest)
        secup_hex_encode(secup_bytes_of(manifest_digest, 32), l->manifest_digest,
                         sizeof(l->manifest_digest));
}

/* The trust store: rotated-in and retired anchors. Damaged beyond recovery, it is not
 * replaced by the configured anchors (a retired key would come back): installs are
 * refused, and the boot stage verifies with the configured anchors only. */
static secup_rc open_trust(struct agent *a, struct secup_err *err)
{
    struct secup_err terr;
    bool recovered = false;
    secup_err_clear(&terr);
    secup_rc trc = trust_load(&a->cfg, &a->trust, &recovered, &terr);
    if (trc == SECUP_E_IO) /* unreadable now, not damaged: nothing starts without it */
        return secup_err_set(err, trc, "%s", terr.msg);
    if (trc != SECUP_OK) {
        a->trust_broken = true;
        memset(&a->trust, 0, sizeof(a->trust));
        size_t used = strlen(a->state_note);
        snprintf(a->state_note + used, sizeof(a->state_note) - used, "%s%.400s",
                 used ? "; " : "", terr.msg);
    } else if (recovered) {
        size_t used = strlen(a->state_note);
        snprintf(a->state_note + used, sizeof(a->state_note) - used,
                 "%sone trust store copy was bad: %.400s", used ? "; " : "", terr.msg);
    }
    trust_anchors(&a->cfg, &a->trust, a->anchors, &a->n_anchors);
    /* floors of retired anchors are gone (a cut may have come between the two saves) */
    for (uint32_t i = 0; i < a->n_anchors; i++) {
        if (a->anchors[i].retired)
            state_drop_floors(&a->st, a->anchors[i].name);
    }
    return SECUP_OK;
}

secup_rc agent_open(struct agent *a, const char *config, struct secup_err *err)
{
    memset(a, 0, sizeof(*a));
    secup_rc rc = agent_config_load(&a->cfg, config, err);
    if (rc != SECUP_OK)
        return rc;
    rc = boot_open(&a->boot, a->cfg.boot_type, a->cfg.boot_path, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_err serr;
    secup_err_clear(&serr);
    rc = state_load(&a->cfg, &a->st, &a->state_recovered, &serr);
    if (rc == SECUP_E_IO) /* unreadable now: the next start tries again, nothing changed */
        return secup_err_set(err, rc, "%s", serr.msg);
    if (rc == SECUP_E_STATE_ROLLBACK) {
        /* A state older than the secure counter, or none where one was: its floors cannot
         * be trusted, and safe mode (floors 0) would accept older manifests. Nothing runs. */
        *err = serr;
        return rc;
    }
    if (rc != SECUP_OK) {
        /* No trustworthy record of what is installed: keep running, but only in safe
         * mode, which accepts nothing but a signed local install (§11.1.4). */
        memset(&a->st, 0, sizeof(a->st));
        a->st.safe_mode = true;
        snprintf(a->st.safe_reason, sizeof(a->st.safe_reason), "state unreadable: %.200s", serr.msg);
        state_clean_text(a->st.safe_reason);
        snprintf(a->state_note, sizeof(a->state_note), "%s", serr.msg);
        return open_trust(a, err);
    }
    if (a->state_recovered)
        snprintf(a->state_note, sizeof(a->state_note), "one state copy was bad: %.400s", serr.msg);
    return open_trust(a, err);
}

void agent_close(struct agent *a)
{
    if (a->boot.ops && a->boot.ops->close)
        a->boot.ops->close(&a->boot);
}

static secup_rc slot_open(const struct agent_config *cfg, uint32_t c, int slot, unsigned flags,
                          struct secup_slot *s, struct secup_err *err)
{
    const struct agent_component *comp = &cfg->components[c];
    if (strcmp(comp->slot_type, "blockdev") == 0)
        return secup_slot_blockdev_open(s, comp->slot_path[slot], flags, err);
    return secup_slot_file_open(s, comp->slot_path[slot], comp->slot_size, flags, err);
}

static secup_rc undo_partial_commit(struct agent *a, struct secup_err *err);
static secup_rc finish_journal(struct agent *a, struct secup_err *err);

static void envelope_path(const struct agent_config *cfg, uint32_t c, int slot, char *out,
                          size_t cap)
{
    snprintf(out, cap, "%.900s/%.64s-%c.suit", cfg->state_dir, cfg->components[c].name, 'A' + slot);
}

static secup_rc load_trust(const struct agent *a, bool installing, struct secup_trust **out,
                           uint32_t *index, uint8_t (*key_ids)[32], struct secup_err *err);

/* ---- install ---- */

/* Which device component each manifest component is, and which of its slots a procedure
 * works on: the inactive slot during an install, the slot being booted at boot. */
struct slot_view {
    struct agent *a;
    int map[SECUP_PROC_MAX_INDEX];   /* manifest index -> device component, -1 none */
    int slot[AGENT_MAX_COMPONENTS];
};

static int view_comp(const struct slot_view *v, const struct secup_proc_params *p,
                     struct secup_err *err)
{
    int c = p->index < SECUP_PROC_MAX_INDEX ? v->map[p->index] : -1;
    if (c < 0)
        secup_err_set(err, SECUP_E_UNSUPPORTED, "manifest component %u is not on this device",
                      p->index);
    return c;
}

static secup_rc view_component_slot(void *ctx, const struct secup_proc_params *p, uint64_t slot,
                                    struct secup_err *err)
{
    struct slot_view *v = ctx;
    int c = view_comp(v, p, err);
    if (c < 0)
        return SECUP_E_UNSUPPORTED;
    if ((uint64_t)v->slot[c] != slot)
        return secup_err_set(err, SECUP_E_CONDITION, "component %s uses slot %d, not %llu",
                             v->a->cfg.components[c].name, v->slot[c], (unsigned long long)slot);
    return SECUP_OK;
}

static secup_rc image_params(const struct secup_proc_params *p, struct secup_digest *d,
                             struct secup_err *err)
{
    if (!secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_SIZE))
        return secup_err_set(err, SECUP_E_MISSING, "image-match needs an image-size");
    return secup_digest_decode(d, p->v[SECUP_SUIT_PARAM_IMAGE_DIGEST].bytes, err);
}

static secup_rc view_image_match(void *ctx, const struct secup_proc_params *p,
                                 struct secup_err *err)
{
    struct slot_view *v = ctx;
    struct secup_digest d;
    struct secup_slot s;
    int c = view_comp(v, p, err);
    if (c < 0)
        return SECUP_E_UNSUPPORTED;
    secup_rc rc = image_params(p, &d, err);
    if (rc == SECUP_OK)
        rc = slot_open(&v->a->cfg, (uint32_t)c, v->slot[c], 0, &s, err);
    if (rc != SECUP_OK)
        return rc;
    rc = secup_slot_digest_check(&s, &d, p->v[SECUP_SUIT_PARAM_IMAGE_SIZE].u, err);
    s.ops->close(&s);
    return rc;
}

/* One manifest being run: the root envelope, or one of its integrated dependencies. What
 * the install wrote is kept in the root's context only (storage is shared by component
 * identifier, SUIT.md section 3 rule 6): every context reaches it through `root`. */
struct install {
    struct slot_view v;                    /* first: the processor's ctx is a slot_view too */
    const struct secup_envelope *env;      /* the manifest of this context */
    struct secup_bytes raw;                /* its encoded envelope (kept beside the slots) */
    struct install *root;                  /* the root's context (itself for the root) */
    uint32_t signer;                       /* anchors[] index of the anchor that signed env */
    uint32_t signed_mask;                  /* bit i: a signature of anchors[i] verified */
    bool is_dep;
    /* ---- the root's context only ---- */
    enum secup_section section;            /* the section being run (process-dependency) */
    const struct secup_proc_identity *id;
    const struct secup_trust *trust;       /* the anchors in force, and their anchors[] index */
    const uint32_t *trust_index;
    uint32_t written;                      /* components whose target slot was written */
    uint8_t digest[AGENT_MAX_COMPONENTS][32];
    uint64_t size[AGENT_MAX_COMPONENTS];
    const struct install *writer[AGENT_MAX_COMPONENTS]; /* the manifest that wrote it */
    struct secup_envelope *dep_env[SECUP_PROC_MAX_INDEX]; /* dependencies that held integrity */
    struct secup_bytes dep_raw[SECUP_PROC_MAX_INDEX];
    uint32_t dep_signer[SECUP_PROC_MAX_INDEX];
    uint32_t dep_mask[SECUP_PROC_MAX_INDEX];
    const uint8_t (*key_ids)[32];          /* per anchors[] index: secup_key_id() */
    struct install *dep_ctx[SECUP_PROC_MAX_INDEX];
    const char *const *payloads;
    size_t n_payloads;
    struct secup_key *device_key;
    uint8_t kek[AGENT_MAX_KEKS][32];       /* secrets: wiped when the install ends */
    size_t kek_len[AGENT_MAX_KEKS];
};

/* Reads a pre-shared key-encryption key: 16 (A128KW) or 32 (A256KW) bytes as hex, white
 * space around it allowed. */
static secup_rc load_kek(const struct agent_kek *k, uint8_t *out, size_t *len,
                         struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    char hex[80];
    *len = 0;
    secup_rc rc = secup_file_read(k->key_path, 256, &buf, &n, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "key-encryption key \"%s\"", k->kid);
        return rc;
    }
    size_t start = 0;
    while (start < n && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n' || buf[start] == '\r'))
        start++;
    size_t end = n;
    while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t' || buf[end - 1] == '\n' ||
                           buf[end - 1] == '\r'))
        end--;
    if (end - start >= sizeof(hex)) {
        rc = SECUP_E_KEY_FORMAT;
    } else {
        memcpy(hex, buf + start, end - start);
        hex[end - start] = '\0';
        if (!secup_hex_decode(hex, out, 32, len) || (*len != 16 && *len != 32))
            rc = SECUP_E_KEY_FORMAT;
    }
    secup_wipe(hex, sizeof(hex));
    secup_file_free(buf, n);
    if (rc != SECUP_OK) {
        secup_wipe(out, 32);
        *len = 0;
        return secup_err_set(err, rc,
                             "key-encryption key \"%s\": '%s' must hold 16 or 32 bytes as hex",
                             k->kid, k->key_path);
    }
    return SECUP_OK;
}

/* Picks the device key a payload is encrypted for: a pre-shared KEK whose kid a recipient
 * names (or that unwraps a recipient without a kid), else the ECDH device key. The choice
 * is proven by unwrapping the content key once; the pipeline unwraps it again. */
static secup_rc choose_key(const struct install *in, struct secup_bytes enc_info,
                           struct secup_recipient_key *key, struct secup_err *err)
{
    static struct secup_enc_info info;
    const struct agent_config *cfg = &in->v.a->cfg;
    in = in->root;
    uint8_t cek[SECUP_MAX_CEK];
    size_t cek_len = 0;
    secup_rc rc = secup_enc_info_decode(&info, enc_info, err);
    if (rc != SECUP_OK)
        return rc;
    secup_rc worst = SECUP_E_NO_RECIPIENT;
    struct secup_err last;
    secup_err_clear(&last);
    for (uint32_t i = 0; i <= cfg->n_keks; i++) {
        struct secup_recipient_key k;
        if (i < cfg->n_keks) {
            k = (struct secup_recipient_key){ SECUP_RECIPIENT_KEK,
                                              secup_bytes_of(in->kek[i], in->kek_len[i]),
                                              secup_bytes_of(cfg->keks[i].kid, strlen(cfg->keks[i].kid)),
                                              NULL };
        } else if (in->device_key) {
            k = (struct secup_recipient_key){ SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 },
                                              in->device_key };
        } else {
            break;
        }
        struct secup_err e;
        rc = secup_enc_info_unwrap(&info, &k, cek, sizeof(cek), &cek_len, NULL, &e);
        secup_wipe(cek, sizeof(cek));
        if (rc == SECUP_OK) {
            *key = k;
            return SECUP_OK;
        }
        if (rc != SECUP_E_NO_RECIPIENT && worst == SECUP_E_NO_RECIPIENT) {
            worst = rc; /* a candidate that does not unwrap says more than "none fits" */
            last = e;
        }
    }
    if (cfg->n_keks == 0 && !in->device_key)
        return secup_err_set(err, SECUP_E_NO_RECIPIENT,
                             "the payload is encrypted and this device has no key (device.key, device.keks)");
    if (worst == SECUP_E_NO_RECIPIENT)
        return secup_err_set(err, SECUP_E_NO_RECIPIENT,
                             "the payload is not encrypted for any key of this device (%u pre-shared, %s ECDH)",
                             cfg->n_keks, in->device_key ? "one" : "no");
    return secup_err_set(err, worst, "%s", last.msg);
}

static secup_rc dep_integrity(struct install *in, const struct secup_proc_params *p,
                              struct secup_err *err);

static secup_rc op_image_match(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct install *in = ctx;
    struct secup_digest d;
    if (p->is_dependency) /* a dependency's image is its envelope (SUIT.md section 3 rule 4) */
        return dep_integrity(in, p, err);
    int c = view_comp(&in->v, p, err);
    if (c < 0)
        return SECUP_E_UNSUPPORTED;
    secup_rc rc = image_params(p, &d, err);
    if (rc != SECUP_OK)
        return rc;
    /* The pipeline that wrote this slot in this install already checked the image against
     * exactly this digest and size, before the slot counted as written: reading 64 MiB
     * back twice more (install and validate both ask) would prove nothing new. The boot
     * stage re-reads it before it trusts it. */
    const struct install *r = in->root;
    if ((r->written & (UINT32_C(1) << c)) && d.bytes.len == 32 &&
        memcmp(r->digest[c], d.bytes.ptr, 32) == 0 &&
        r->size[c] == p->v[SECUP_SUIT_PARAM_IMAGE_SIZE].u)
        return SECUP_OK;
    return view_image_match(&in->v, p, err);
}

/* Finds the payload for a fetch: an integrated one for "#name", else --payload. */
static secup_rc payload_for(struct install *in, const struct secup_proc_params *p, int c,
                            struct secup_bytes *mem, const char **file, struct secup_err *err)
{
    struct secup_bytes uri = p->v[SECUP_SUIT_PARAM_URI].bytes;
    *file = NULL;
    if (uri.len > 0 && uri.ptr[0] == '#') {
        if (secup_envelope_find_integrated(in->env, uri, mem) ||
            secup_envelope_find_integrated(in->root->env, uri, mem))
            return SECUP_OK;
        return secup_err_set(err, SECUP_E_MISSING, "integrated payload '%.*s' is not in the envelope",
                             (int)uri.len, (const char *)uri.ptr);
    }
    const char *name = in->v.a->cfg.components[c].name;
    const char *path = NULL;
    in = in->root;
    for (size_t i = 0; i < in->n_payloads; i++) {
        const char *eq = strchr(in->payloads[i], '=');
        if (eq && (size_t)(eq - in->payloads[i]) == strlen(name) &&
            strncmp(in->payloads[i], name, strlen(name)) == 0)
            path = eq + 1;
        else if (!eq && !path)
            path = in->payloads[i];
    }
    if (!path)
        return secup_err_set(err, SECUP_E_MISSING,
                             "component %s: the manifest fetches '%.*s'; give it with --payload", name,
                             (int)uri.len, (const char *)uri.ptr);
    *file = path;
    return SECUP_OK;
}

/* Where the bytes of a copy come from: the source component's slot that this install
 * wrote, `len` bytes from offset 0. */
struct slot_source {
    struct secup_slot *slot;
    uint64_t len;
};

/* Pushes a source slot's bytes through the pipeline in chunks. */
static secup_rc pump_slot(struct secup_stream *st, const struct slot_source *from,
                          struct secup_err *err)
{
    uint8_t *buf = malloc(CHUNK_IO);
    if (!buf)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a copy");
    secup_rc rc = SECUP_OK;
    for (uint64_t off = 0; rc == SECUP_OK && off < from->len; off += CHUNK_IO) {
        size_t n = from->len - off < CHUNK_IO ? (size_t)(from->len - off) : CHUNK_IO;
        rc = from->slot->ops->read(from->slot, off, buf, n, err);
        if (rc == SECUP_OK)
            rc = secup_stream_write(st, secup_bytes_of(buf, n), err);
    }
    secup_wipe(buf, CHUNK_IO); /* may hold plaintext of a staged payload's neighbour */
    free(buf);
    return rc;
}

/* THREATS.md F7: before the first byte of an image, its file slot's file system must have
 * room for it (statvfs), counting the blocks the slot file holds already (it is
 * overwritten in place). SECUP_E_NOSPACE naming what is needed and what is free. A block
 * device slot is preallocated: its capacity is checked by the caller. */
static secup_rc slot_space_check(const struct agent_config *cfg, uint32_t c, int slot, uint64_t size,
                                 struct secup_err *err)
{
    const struct agent_component *comp = &cfg->components[c];
    if (strcmp(comp->slot_type, "file") != 0)
        return SECUP_OK;
    if (size > comp->slot_size)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE,
                             "component %s: an image of %llu bytes does not fit its slot of %llu bytes; nothing written",
                             comp->name, (unsigned long long)size, (unsigned long long)comp->slot_size);
    const char *path = comp->slot_path[slot];
    char dir[AGENT_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    struct statvfs fs;
    if (statvfs(slash ? (dir[0] ? dir : "/") : ".", &fs) != 0)
        return SECUP_OK; /* the open that follows names the problem */
    uint64_t held = 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        held = (uint64_t)st.st_blocks * 512u;
        if (held > (uint64_t)st.st_size)
            held = (uint64_t)st.st_size;
    }
    uint64_t need = size > held ? size - held : 0;
    uint64_t unit = fs.f_frsize ? fs.f_frsize : fs.f_bsize;
    uint64_t avail = (uint64_t)fs.f_bavail * unit;
    /* whole blocks, and one more for the file system's own bookkeeping */
    uint64_t blocks = unit ? (need + unit - 1) / unit + (need ? 1 : 0) : 0;
    if (need > 0 && blocks * unit > avail)
        return secup_err_set(err, SECUP_E_NOSPACE,
                             "no space left for component %s: slot '%s' needs %llu more bytes for the signed "
                             "image of %llu bytes, its file system has %llu bytes free; nothing written",
                             comp->name, path, (unsigned long long)need, (unsigned long long)size,
                             (unsigned long long)avail);
    return SECUP_OK;
}

/* THREATS.md C11: after an image is written, a file slot ends where the image ends, so no
 * residue of an older, longer image stays behind it. A block device keeps its size: there
 * every reader (the boot stage, secup_slot_digest_check) reads exactly the signed size. */
static secup_rc slot_cut_tail(const struct agent_config *cfg, uint32_t c, struct secup_slot *s,
                              uint64_t size, struct secup_err *err)
{
    if (strcmp(cfg->components[c].slot_type, "file") != 0)
        return SECUP_OK;
    struct stat st;
    if (fstat(s->fd, &st) != 0)
        return secup_err_set(err, SECUP_E_IO, "slot '%s': %s", s->path, strerror(errno));
    if ((uint64_t)st.st_size <= size)
        return SECUP_OK;
    if (ftruncate(s->fd, (off_t)size) != 0)
        return secup_err_set(err, SECUP_E_IO, "cannot cut slot '%s' to %llu bytes: %s", s->path,
                             (unsigned long long)size, strerror(errno));
    return s->ops->sync(s, err);
}

/* Streams one payload into the component's inactive slot: decrypt, decompress, digest.
 * The payload is in memory (inline content, integrated payload), a file read in chunks
 * (file != NULL) or, for a copy, another component's slot (from != NULL), so memory does
 * not grow with the image. */
static secup_rc stream_into(struct install *in, const struct secup_proc_params *p, int c,
                            struct secup_bytes payload, const char *file,
                            const struct slot_source *from, struct secup_err *err)
{
    struct agent *a = in->v.a;
    struct install *r = in->root;
    struct secup_digest d;
    if (!secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_DIGEST) || !secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_SIZE))
        return secup_err_set(err, SECUP_E_MISSING,
                             "component %s: an image without image-digest and image-size is never written",
                             a->cfg.components[c].name);
    secup_rc rc = secup_digest_decode(&d, p->v[SECUP_SUIT_PARAM_IMAGE_DIGEST].bytes, err);
    if (rc != SECUP_OK)
        return rc;
    const struct secup_value *comp = secup_proc_custom(p, SECUP_SUIT_PARAM_COMPRESSION);
    if (comp && (comp->kind != SECUP_VAL_UINT || comp->u > SECUP_COMPRESSION_ZSTD))
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "compression parameter not understood");
    struct secup_recipient_key key = { SECUP_RECIPIENT_ECDH, { NULL, 0 }, { NULL, 0 }, NULL };
    bool encrypted = secup_proc_has(p, SECUP_SUIT_PARAM_ENCRYPTION_INFO);
    if (encrypted) {
        rc = choose_key(in, p->v[SECUP_SUIT_PARAM_ENCRYPTION_INFO].bytes, &key, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "component %s", a->cfg.components[c].name);
            return rc;
        }
    }
    struct secup_stream_cfg cfg = {
        .encryption_info = encrypted ? p->v[SECUP_SUIT_PARAM_ENCRYPTION_INFO].bytes : secup_bytes_of(NULL, 0),
        .key = encrypted ? &key : NULL,
        .compression = comp ? (enum secup_compression)comp->u : SECUP_COMPRESSION_NONE,
        .image_size = p->v[SECUP_SUIT_PARAM_IMAGE_SIZE].u,
        .image_digest = d,
    };
    struct secup_slot s;
    int fd = -1;
    if (file) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return secup_err_set(err, SECUP_E_NOENT, "cannot open payload '%s'", file);
    }
    /* Nothing is written that cannot fit: the slot's capacity and, for a file slot, the free
     * space of its file system (THREATS.md C4, F7). */
    rc = slot_space_check(&a->cfg, (uint32_t)c, r->v.slot[c], cfg.image_size, err);
    if (rc != SECUP_OK) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    /* Overwritten in place, not emptied first: the digest and size bound the image, the
     * boot stage reads exactly that many bytes, and a file slot's tail is cut afterwards. */
    rc = slot_open(&a->cfg, (uint32_t)c, r->v.slot[c], SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE,
                   &s, err);
    if (rc == SECUP_OK && cfg.image_size > s.capacity) {
        s.ops->close(&s);
        rc = secup_err_set(err, SECUP_E_LIMIT_SIZE,
                           "component %s: an image of %llu bytes does not fit its slot of %llu bytes; nothing written",
                           a->cfg.components[c].name, (unsigned long long)cfg.image_size,
                           (unsigned long long)s.capacity);
    }
    if (rc != SECUP_OK) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    /* Before the first byte: the slot is no longer a verified image, on disk too. */
    a->st.comp[c].slot[r->v.slot[c]].valid = false;
    r->written &= ~(UINT32_C(1) << c);
    struct secup_stream *st = NULL;
    rc = secup_stream_new(&st, &cfg, &s, err);
    if (rc == SECUP_OK)
        rc = fd >= 0 ? secup_stream_pump_fd(st, fd, err)
           : from    ? pump_slot(st, from, err)
                     : secup_stream_write(st, payload, err);
    if (rc == SECUP_OK)
        rc = secup_stream_finish(st, err);
    if (fd >= 0)
        close(fd);
    if (rc == SECUP_OK && !secup_stream_is_complete(st))
        rc = secup_err_set(err, SECUP_E_STATE, "the pipeline did not complete");
    secup_stream_free(st);
    if (rc == SECUP_OK)
        rc = slot_cut_tail(&a->cfg, (uint32_t)c, &s, cfg.image_size, err);
    s.ops->close(&s);
    if (rc == SECUP_OK) {
        r->written |= UINT32_C(1) << c;
        memcpy(r->digest[c], d.bytes.ptr, 32);
        r->size[c] = cfg.image_size;
        r->writer[c] = in;
    }
    return rc;
}

static secup_rc dep_resolve(struct install *in, const struct secup_proc_params *p,
                            struct secup_bytes *out, struct secup_err *err);

static secup_rc op_fetch(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct install *in = ctx;
    if (p->is_dependency) { /* an integrated dependency is in the envelope already */
        struct secup_bytes dep;
        return dep_resolve(in, p, &dep, err);
    }
    int c = view_comp(&in->v, p, err);
    if (c < 0)
        return SECUP_E_UNSUPPORTED;
    struct secup_bytes mem = { NULL, 0 };
    const char *file = NULL;
    secup_rc rc = payload_for(in, p, c, &mem, &file, err);
    if (rc == SECUP_OK)
        rc = stream_into(in, p, c, mem, file, NULL, err);
    return rc;
}

static secup_rc op_write(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct install *in = ctx;
    int c = view_comp(&in->v, p, err);
    if (c < 0)
        return SECUP_E_UNSUPPORTED;
    return stream_into(in, p, c, p->v[SECUP_SUIT_PARAM_CONTENT].bytes, NULL, NULL, err);
}

/* Both components of a copy or swap: device components, distinct, and the source written
 * by this install (its inactive slot, already checked against its digest). */
static secup_rc pair_comps(struct install *in, const char *what, const struct secup_proc_params *dst,
                           const struct secup_proc_params *src, int *c, int *s,
                           struct secup_err *err)
{
    if (dst->is_dependency || src->is_dependency)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "%s: a dependency is not a component with a slot", what);
    *c = view_comp(&in->v, dst, err);
    if (*c < 0)
        return SECUP_E_UNSUPPORTED;
    *s = view_comp(&in->v, src, err);
    if (*s < 0)
        return SECUP_E_UNSUPPORTED;
    const struct agent_config *cfg = &in->v.a->cfg;
    if (*c == *s)
        return secup_err_set(err, SECUP_E_VALUE, "%s: source and destination are both component %s", what,
                             cfg->components[*c].name);
    if (!(in->root->written & (UINT32_C(1) << *s)))
        return secup_err_set(err, SECUP_E_POLICY,
                             "%s into %s: the source component %s was not written by this install (only an "
                             "image this install wrote to an inactive slot and verified is a source)",
                             what, cfg->components[*c].name, cfg->components[*s].name);
    return SECUP_OK;
}

/* copy (22): the source's inactive slot, written and verified earlier in this install,
 * goes through the pipeline (decryption with the destination's encryption-info,
 * decompression, digest and size of the destination) into the destination's inactive
 * slot: SUIT example 4 and the encryption draft's fetch + copy (section 9.2). */
static secup_rc op_copy(void *ctx, const struct secup_proc_params *dst,
                        const struct secup_proc_params *src, struct secup_err *err)
{
    struct install *in = ctx;
    struct install *r = in->root;
    int c = -1, s = -1;
    secup_rc rc = pair_comps(in, "copy", dst, src, &c, &s, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_slot from;
    rc = slot_open(&in->v.a->cfg, (uint32_t)s, r->v.slot[s], 0, &from, err);
    if (rc != SECUP_OK)
        return rc;
    struct slot_source source = { &from, r->size[s] };
    rc = stream_into(in, dst, c, secup_bytes_of(NULL, 0), NULL, &source, err);
    from.ops->close(&from);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "copy from %s into %s", in->v.a->cfg.components[s].name,
                         in->v.a->cfg.components[c].name);
    return rc;
}

/* swap (31): only between two images this install wrote (both inactive slots): exchanged
 * chunk by chunk through memory, synced, and each read back against the digest it now
 * holds. A running slot is never a side of a swap (docs/decisions/0005). */
static secup_rc op_swap(void *ctx, const struct secup_proc_params *dst,
                        const struct secup_proc_params *src, struct secup_err *err)
{
    struct install *in = ctx;
    struct install *r = in->root;
    const struct agent_config *cfg = &in->v.a->cfg;
    int c = -1, s = -1;
    secup_rc rc = pair_comps(in, "swap", dst, src, &c, &s, err);
    if (rc == SECUP_OK && !(r->written & (UINT32_C(1) << c)))
        rc = secup_err_set(err, SECUP_E_POLICY,
                           "swap of %s and %s: %s was not written by this install; a swap never touches "
                           "a running slot or an image this install did not verify",
                           cfg->components[c].name, cfg->components[s].name, cfg->components[c].name);
    if (rc != SECUP_OK)
        return rc;
    struct secup_slot x, y;
    rc = slot_open(cfg, (uint32_t)c, r->v.slot[c], SECUP_SLOT_WRITABLE, &x, err);
    if (rc != SECUP_OK)
        return rc;
    rc = slot_open(cfg, (uint32_t)s, r->v.slot[s], SECUP_SLOT_WRITABLE, &y, err);
    if (rc != SECUP_OK) {
        x.ops->close(&x);
        return rc;
    }
    uint64_t nx = r->size[c], ny = r->size[s];
    if (ny > x.capacity || nx > y.capacity)
        rc = secup_err_set(err, SECUP_E_LIMIT_SIZE, "swap of %s and %s: an image does not fit the other slot",
                           cfg->components[c].name, cfg->components[s].name);
    /* from here on neither slot holds what was verified until both are read back */
    r->written &= ~((UINT32_C(1) << c) | (UINT32_C(1) << s));
    uint8_t *bx = malloc(CHUNK_IO), *by = malloc(CHUNK_IO);
    if (rc == SECUP_OK && (!bx || !by))
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for a swap");
    uint64_t n = nx > ny ? nx : ny;
    for (uint64_t off = 0; rc == SECUP_OK && off < n; off += CHUNK_IO) {
        size_t lx = nx > off ? (size_t)(nx - off < CHUNK_IO ? nx - off : CHUNK_IO) : 0;
        size_t ly = ny > off ? (size_t)(ny - off < CHUNK_IO ? ny - off : CHUNK_IO) : 0;
        if (lx)
            rc = x.ops->read(&x, off, bx, lx, err);
        if (rc == SECUP_OK && ly)
            rc = y.ops->read(&y, off, by, ly, err);
        if (rc == SECUP_OK && ly)
            rc = x.ops->write(&x, off, secup_bytes_of(by, ly), err);
        if (rc == SECUP_OK && lx)
            rc = y.ops->write(&y, off, secup_bytes_of(bx, lx), err);
    }
    if (bx)
        secup_wipe(bx, CHUNK_IO);
    if (by)
        secup_wipe(by, CHUNK_IO);
    free(bx);
    free(by);
    if (rc == SECUP_OK)
        rc = x.ops->sync(&x, err);
    if (rc == SECUP_OK)
        rc = y.ops->sync(&y, err);
    struct secup_digest dx = { -16, secup_bytes_of(r->digest[s], 32) };
    struct secup_digest dy = { -16, secup_bytes_of(r->digest[c], 32) };
    if (rc == SECUP_OK)
        rc = secup_slot_digest_check(&x, &dx, ny, err);
    if (rc == SECUP_OK)
        rc = secup_slot_digest_check(&y, &dy, nx, err);
    if (rc == SECUP_OK)
        rc = slot_cut_tail(cfg, (uint32_t)c, &x, ny, err);
    if (rc == SECUP_OK)
        rc = slot_cut_tail(cfg, (uint32_t)s, &y, nx, err);
    x.ops->close(&x);
    y.ops->close(&y);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "swap of %s and %s", cfg->components[c].name, cfg->components[s].name);
        return rc;
    }
    uint8_t t[32];
    memcpy(t, r->digest[c], 32);
    memcpy(r->digest[c], r->digest[s], 32);
    memcpy(r->digest[s], t, 32);
    r->size[c] = ny;
    r->size[s] = nx;
    const struct install *w = r->writer[c];
    r->writer[c] = r->writer[s];
    r->writer[s] = w;
    r->written |= (UINT32_C(1) << c) | (UINT32_C(1) << s);
    return SECUP_OK;
}

/* ---- dependencies (trust-domains section 5; SUIT.md section 3 rules 4-5) ---- */

/* The integrated dependency envelope the uri of dependency p names ("#name"). */
static secup_rc dep_resolve(struct install *in, const struct secup_proc_params *p,
                            struct secup_bytes *out, struct secup_err *err)
{
    if (in->is_dep)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "a dependency with dependencies of its own is not supported");
    if (!secup_proc_has(p, SECUP_SUIT_PARAM_URI))
        return secup_err_set(err, SECUP_E_MISSING, "dependency %u has no uri", p->index);
    struct secup_bytes uri = p->v[SECUP_SUIT_PARAM_URI].bytes;
    if (uri.len == 0 || uri.ptr[0] != '#')
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "dependency %u: '%.*s' is detached; only dependencies integrated in the "
                             "envelope (\"#name\") are supported", p->index, (int)uri.len, (const char *)uri.ptr);
    if (!secup_envelope_find_integrated(in->env, uri, out))
        return secup_err_set(err, SECUP_E_MISSING, "dependency %u: '%.*s' is not in the envelope", p->index,
                             (int)uri.len, (const char *)uri.ptr);
    return SECUP_OK;
}

/* The trust set's signer bits (secup_envelope_verify_signers) as anchors[] bits. */
static uint32_t signers_to_anchors(const struct install *r, uint32_t signers)
{
    uint32_t mask = 0;
    for (uint32_t k = 0; k < 32; k++) {
        if ((signers >> k) & 1u)
            mask |= UINT32_C(1) << r->trust_index[k];
    }
    return mask;
}

/* dependency-integrity (7), and image-match on a dependency: the dependency's manifest
 * digest (SHA-256 over its bstr-wrapped manifest) must be the image-digest, its whole
 * envelope the image-size, and it must be signed by an anchor in force. The decoded
 * envelope is kept for process-dependency. */
static secup_rc dep_integrity(struct install *in, const struct secup_proc_params *p,
                              struct secup_err *err)
{
    struct install *r = in->root;
    struct secup_bytes raw;
    secup_rc rc = dep_resolve(in, p, &raw, err);
    if (rc != SECUP_OK)
        return rc;
    if (!secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_DIGEST) || !secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_SIZE))
        return secup_err_set(err, SECUP_E_MISSING, "dependency %u: integrity needs image-digest and image-size",
                             p->index);
    struct secup_digest d;
    rc = secup_digest_decode(&d, p->v[SECUP_SUIT_PARAM_IMAGE_DIGEST].bytes, err);
    if (rc != SECUP_OK)
        return rc;
    if (d.alg != -16 || d.bytes.len != 32)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "dependency %u: only SHA-256 digests", p->index);
    if (raw.len != p->v[SECUP_SUIT_PARAM_IMAGE_SIZE].u)
        return secup_err_set(err, SECUP_E_SIZE, "dependency %u: the envelope has %zu bytes, the manifest says %llu",
                             p->index, raw.len, (unsigned long long)p->v[SECUP_SUIT_PARAM_IMAGE_SIZE].u);
    uint32_t k = p->index;
    if (r->dep_env[k] && (r->dep_raw[k].ptr != raw.ptr || r->dep_raw[k].len != raw.len))
        return secup_err_set(err, SECUP_E_VALUE, "dependency %u names two different envelopes", k);
    if (!r->dep_env[k]) {
        struct secup_envelope *env = malloc(sizeof(*env));
        if (!env)
            return secup_err_set(err, SECUP_E_NOMEM, "no memory for a dependency");
        struct secup_limits lim = secup_limits_default();
        lim.max_envelope = in->v.a->cfg.max_envelope;
        rc = secup_envelope_decode(env, raw, &lim, err);
        if (rc != SECUP_OK) {
            free(env);
            secup_err_prefix(err, "dependency %u", k);
            return rc;
        }
        r->dep_env[k] = env;
        r->dep_raw[k] = raw;
    }
    const struct secup_envelope *env = r->dep_env[k];
    uint8_t h[32];
    rc = secup_sha256(env->manifest_wrapped, h, err);
    if (rc == SECUP_OK && !secup_ct_equal(secup_bytes_of(h, 32), d.bytes))
        rc = secup_err_set(err, SECUP_E_DIGEST, "dependency %u: its manifest does not match the digest of "
                                                "dependency-integrity", k);
    struct secup_verify_info vi;
    uint32_t signers = 0;
    if (rc == SECUP_OK)
        rc = secup_envelope_verify_signers(env, r->trust, &signers, &vi, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "dependency %u", k);
        return rc;
    }
    r->dep_signer[k] = r->trust_index[vi.anchor];
    r->dep_mask[k] = signers_to_anchors(r, signers);
    return SECUP_OK;
}

static secup_rc op_dependency_integrity(void *ctx, const struct secup_proc_params *p,
                                        struct secup_err *err)
{
    return dep_integrity(ctx, p, err);
}

static secup_rc check_and_map(struct install *in, struct secup_err *err);
static const struct secup_proc_ops install_ops;

/* process-dependency (11): the dependency's shared sequence and its sequence of the
 * section being run, for its own components, after its integrity held in this install
 * (trust-domains 5.5.2: abort otherwise) and its own policy: vendor and class, anchor
 * allowed for its components, sequence number above each component's floor. */
static secup_rc op_process_dependency(void *ctx, const struct secup_proc_params *p,
                                      struct secup_err *err)
{
    struct install *in = ctx;
    struct install *r = in->root;
    struct agent *a = in->v.a;
    uint32_t k = p->index;
    if (in->is_dep)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "a dependency with dependencies of its own is not supported");
    if (!r->dep_env[k])
        return secup_err_set(err, SECUP_E_STATE, "process-dependency %u before its dependency-integrity held", k);
    secup_rc rc = dep_integrity(in, p, err); /* the same envelope, the same digest, now */
    if (rc != SECUP_OK)
        return rc;
    const struct secup_envelope *env = r->dep_env[k];
    if (env->manifest.n_dependencies > 0)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "dependency %u has dependencies of its own: not supported", k);
    struct secup_device_policy pol;
    memcpy(pol.vendor_id, a->cfg.vendor_id, 16);
    memcpy(pol.class_id, a->cfg.class_id, 16);
    pol.sequence_floor = 0; /* per component and anchor, in check_and_map */
    rc = secup_policy_check(env, r->trust, &pol, NULL, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "dependency %u", k);
        return rc;
    }
    struct install *d = r->dep_ctx[k];
    if (!d) {
        d = calloc(1, sizeof(*d));
        if (!d)
            return secup_err_set(err, SECUP_E_NOMEM, "no memory for a dependency");
        r->dep_ctx[k] = d;
    }
    d->v.a = a;
    d->env = env;
    d->raw = r->dep_raw[k];
    d->root = r;
    d->signer = r->dep_signer[k];
    d->signed_mask = r->dep_mask[k];
    d->is_dep = true;
    rc = check_and_map(d, err);
    struct secup_processor *proc = NULL;
    if (rc == SECUP_OK) {
        proc = malloc(sizeof(*proc));
        if (!proc)
            rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for a dependency");
    }
    if (rc == SECUP_OK)
        rc = secup_process(proc, &env->manifest, r->section, &install_ops, d, r->id, err);
    free(proc);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "dependency %u", k);
    return rc;
}

static const struct secup_proc_ops install_ops = {
    .image_match = op_image_match,
    .component_slot = view_component_slot,
    .dependency_integrity = op_dependency_integrity,
    .fetch = op_fetch,
    .write = op_write,
    .copy = op_copy,
    .swap = op_swap,
    .process_dependency = op_process_dependency,
};

/* The trust set for verifying: to install, the anchors in force; at boot, every anchor
 * still known (an image that a since retired anchor signed keeps booting until it is
 * replaced; it only cannot be installed again). index[k] is the anchors[] index of the
 * k-th key in the set. */
static secup_rc load_trust(const struct agent *a, bool installing, struct secup_trust **out,
                           uint32_t *index, uint8_t (*key_ids)[32], struct secup_err *err)
{
    secup_rc rc = secup_trust_new(out, err);
    uint32_t n = 0;
    for (uint32_t i = 0; rc == SECUP_OK && i < a->n_anchors; i++) {
        const struct agent_anchor *an = &a->anchors[i];
        if (installing && an->retired)
            continue;
        struct secup_key *k = NULL;
        rc = trust_anchor_key(an, &k, err);
        if (rc == SECUP_OK && key_ids) {
            rc = secup_key_id(k, key_ids[i], err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
        if (rc == SECUP_OK) {
            rc = secup_trust_add(*out, k, an->name, err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
        if (rc != SECUP_OK)
            secup_err_prefix(err, "trust anchor \"%s\"", an->name);
        if (index)
            index[n] = i;
        n++;
    }
    return rc;
}

static secup_rc check_threshold(struct install *in, struct secup_err *err);
/* A version of dot-separated decimal numbers ("1.2.10"), at most 8 of them: true with the
 * numbers, false for anything else (such a version is for people and is not compared). */
static bool version_numbers(const char *v, uint64_t *n, uint32_t *count)
{
    *count = 0;
    if (!*v)
        return false;
    while (*v) {
        if (*count == 8 || *v < '0' || *v > '9')
            return false;
        uint64_t x = 0;
        while (*v >= '0' && *v <= '9') {
            if (x > (UINT64_MAX - 9) / 10)
                return false;
            x = x * 10 + (uint64_t)(*v++ - '0');
        }
        n[(*count)++] = x;
        if (*v == '.' && v[1])
            v++;
        else if (*v)
            return false;
    }
    return true;
}

/* THREATS.md T8 "a newer sequence carrying an older firmware version": the sequence number
 * orders manifests, the version orders firmware. A manifest whose version of component c is
 * below the version running in slot `active` is a downgrade; secup has no signed downgrade
 * authorisation yet, so every downgrade is refused (docs/agent.md). Versions that are not
 * dot-separated numbers on both sides, or whose images different trust anchors signed, are
 * not compared. */
static secup_rc check_version(const struct agent *a, int c, int active, const struct secup_manifest *m,
                              const char *anchor, struct secup_err *err)
{
    const struct state_slot *run = &a->st.comp[c].slot[active];
    char next[STATE_VERSION_MAX];
    uint64_t x[8], y[8];
    uint32_t nx = 0, ny = 0;
    /* like the floors, per trust anchor: a rotated-in anchor starts its own numbering */
    if (!run->valid || strcmp(run->anchor, anchor) != 0)
        return SECUP_OK;
    secup_manifest_version_text(m, &a->cfg.components[c].id.id, next, sizeof(next));
    if (!version_numbers(run->version, x, &nx) || !version_numbers(next, y, &ny))
        return SECUP_OK;
    for (uint32_t i = 0; i < nx || i < ny; i++) {
        uint64_t vx = i < nx ? x[i] : 0, vy = i < ny ? y[i] : 0;
        if (vy > vx)
            return SECUP_OK;
        if (vy < vx)
            return secup_err_set(err, SECUP_E_ROLLBACK,
                                 "component %s: version %s is older than the running %s (sequence %llu above "
                                 "%llu notwithstanding); a downgrade needs a signed downgrade authorisation, "
                                 "which this device does not accept",
                                 a->cfg.components[c].name, next, run->version,
                                 (unsigned long long)m->sequence_number, (unsigned long long)run->seq);
    }
    return SECUP_OK;
}

/* Maps a manifest's components (the root's or a dependency's) to the device's, with that
 * manifest's own checks: the anchor that signed it may sign for each component (or, with
 * a threshold, enough distinct anchors did), its sequence number exceeds the component's
 * floor for that anchor (with a threshold: the highest floor of its anchors), nothing is
 * on trial. */
static secup_rc check_and_map(struct install *in, struct secup_err *err)
{
    struct agent *a = in->v.a;
    const struct secup_manifest *m = &in->env->manifest;
    secup_rc trc = check_threshold(in, err);
    if (trc != SECUP_OK)
        return trc;
    const struct agent_anchor *anchor = &a->anchors[in->signer];
    for (uint32_t i = 0; i < SECUP_PROC_MAX_INDEX; i++)
        in->v.map[i] = -1;
    for (uint32_t i = 0; i < m->n_components; i++) {
        int c = agent_config_find_component(&a->cfg, &m->components[i]);
        if (c < 0)
            return secup_err_set(err, SECUP_E_POLICY, "manifest component %u is not a component of this device", i);
        if (a->cfg.components[c].threshold > 1) {
            /* counted in check_threshold; the floor is the highest of the anchors
             * that may sign for it (trust_threshold_floor) */
            uint32_t by = 0;
            uint64_t floor = trust_threshold_floor(a->anchors, a->n_anchors, &a->st, (uint32_t)c, &by);
            if (m->sequence_number <= floor)
                return secup_err_set(err, SECUP_E_ROLLBACK,
                                     "component %s: sequence number %llu is not greater than %llu (anchor \"%s\", threshold %u)",
                                     a->cfg.components[c].name, (unsigned long long)m->sequence_number,
                                     (unsigned long long)floor, by < a->n_anchors ? a->anchors[by].name : "",
                                     a->cfg.components[c].threshold);
        } else if (!(anchor->components & (UINT32_C(1) << c)))
            return secup_err_set(err, SECUP_E_POLICY, "trust anchor \"%s\" may not sign for component %s",
                                 anchor->name, a->cfg.components[c].name);
        uint64_t floor = state_floor(&a->st, (uint32_t)c, anchor->name);
        if (m->sequence_number <= floor)
            return secup_err_set(err, SECUP_E_ROLLBACK,
                                 "component %s: sequence number %llu is not greater than %llu (anchor \"%s\")",
                                 a->cfg.components[c].name, (unsigned long long)m->sequence_number,
                                 (unsigned long long)floor, anchor->name);
        struct boot_state bs;
        secup_rc rc = a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs, err);
        if (rc != SECUP_OK)
            return rc;
        if (bs.trial != BOOT_NO_SLOT)
            return secup_err_set(err, SECUP_E_STATE,
                                 "component %s has an update on trial; boot and confirm or roll back first",
                                 a->cfg.components[c].name);
        rc = check_version(a, c, bs.active, m, anchor->name, err);
        if (rc != SECUP_OK)
            return rc;
        in->v.map[i] = c;
        in->v.slot[c] = 1 - bs.active; /* writes go to the inactive slot only */
        in->root->v.slot[c] = in->v.slot[c];
    }
    return SECUP_OK;
}

/* k-of-n thresholds (docs/agent.md "Thresholds"): a component whose threshold exceeds 1
 * needs that many distinct anchors in force, allowed to sign for it, whose signatures
 * verified (one key counts once, whatever its name or how often it signed). The
 * manifest's signer, whose floor rises at confirmation and is recorded with the slot, is
 * then the first anchor (configured order, then rotated in) counted for every such
 * component and allowed for every other component of the manifest. */
static secup_rc check_threshold(struct install *in, struct secup_err *err)
{
    struct agent *a = in->v.a;
    const struct secup_manifest *m = &in->env->manifest;
    uint32_t common = UINT32_MAX;
    bool any = false;
    for (uint32_t i = 0; i < m->n_components; i++) {
        int c = agent_config_find_component(&a->cfg, &m->components[i]);
        if (c < 0 || a->cfg.components[c].threshold <= 1)
            continue; /* an unknown component is check_and_map's refusal */
        any = true;
        uint32_t need = a->cfg.components[c].threshold;
        uint32_t have = trust_count_signers(a->anchors, in->root->key_ids, a->n_anchors,
                                            in->signed_mask, (uint32_t)c, NULL);
        if (have < need)
            return secup_err_set(err, SECUP_E_THRESHOLD,
                                 "component %s: %u of %u required signatures (distinct trust anchors in "
                                 "force that may sign for it)", a->cfg.components[c].name, have, need);
        uint32_t allowed = 0;
        for (uint32_t j = 0; j < a->n_anchors && j < 32; j++) {
            if (((in->signed_mask >> j) & 1u) && !a->anchors[j].retired &&
                ((a->anchors[j].components >> c) & 1u))
                allowed |= UINT32_C(1) << j;
        }
        common &= allowed;
    }
    if (!any)
        return SECUP_OK;
    for (uint32_t j = 0; j < a->n_anchors && j < 32; j++) {
        bool ok = (common >> j) & 1u;
        for (uint32_t i = 0; ok && i < m->n_components; i++) {
            int c = agent_config_find_component(&a->cfg, &m->components[i]);
            ok = c >= 0 && ((a->anchors[j].components >> c) & 1u);
        }
        if (ok) {
            in->signer = j;
            return SECUP_OK;
        }
    }
    return secup_err_set(err, SECUP_E_POLICY,
                         "no trust anchor that signed the manifest may sign for all of its components");
}

/* ---- trust-anchor updates (trust.h, docs/decisions/0004) ---- */

static void device_identity(const struct agent *a, struct secup_proc_identity *id)
{
    memset(id, 0, sizeof(*id));
    id->vendor_ids[0] = secup_bytes_of(a->cfg.vendor_id, 16);
    id->n_vendor_ids = 1;
    id->class_ids[0] = secup_bytes_of(a->cfg.class_id, 16);
    id->n_class_ids = 1;
    id->now = now();
}

static bool is_trust_update(const struct secup_manifest *m)
{
    for (uint32_t i = 0; i < m->n_components; i++) {
        if (agent_is_trust_component(&m->components[i]))
            return true;
    }
    return false;
}

/* The trust-update document travels as the "image" of the reserved component: fetched
 * (integrated, or --payload) or written inline, checked against the manifest's digest and
 * size, and held in memory, never in a slot. */
struct trust_doc {
    struct install *in;
    uint8_t doc[TRUST_MAX_UPDATE];
    size_t len;
    bool have;
};

static secup_rc trust_doc_check(const struct secup_proc_params *p, struct secup_bytes data,
                                struct secup_err *err)
{
    struct secup_digest d;
    uint8_t h[32];
    if (p->index != 0)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "manifest component %u is not on this device", p->index);
    if (!secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_DIGEST) || !secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_SIZE))
        return secup_err_set(err, SECUP_E_MISSING, "a trust update needs image-digest and image-size");
    uint64_t size = p->v[SECUP_SUIT_PARAM_IMAGE_SIZE].u;
    if (size > TRUST_MAX_UPDATE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "a trust update of %llu bytes (at most %d)",
                             (unsigned long long)size, TRUST_MAX_UPDATE);
    secup_rc rc = secup_digest_decode(&d, p->v[SECUP_SUIT_PARAM_IMAGE_DIGEST].bytes, err);
    if (rc != SECUP_OK)
        return rc;
    if (d.alg != -16 || d.bytes.len != 32)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "trust update digest: only SHA-256");
    if (data.len != size)
        return secup_err_set(err, SECUP_E_DIGEST, "the trust update has %zu bytes, the manifest says %llu",
                             data.len, (unsigned long long)size);
    rc = secup_sha256(data, h, err);
    if (rc == SECUP_OK && !secup_ct_equal(secup_bytes_of(h, 32), d.bytes))
        rc = secup_err_set(err, SECUP_E_DIGEST, "the trust update does not match the manifest's digest");
    return rc;
}

static secup_rc trust_doc_take(struct trust_doc *td, const struct secup_proc_params *p,
                               struct secup_bytes data, struct secup_err *err)
{
    if (secup_proc_has(p, SECUP_SUIT_PARAM_ENCRYPTION_INFO) || secup_proc_custom(p, SECUP_SUIT_PARAM_COMPRESSION))
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "a trust update is neither encrypted nor compressed");
    secup_rc rc = trust_doc_check(p, data, err);
    if (rc != SECUP_OK)
        return rc;
    memcpy(td->doc, data.ptr, data.len);
    td->len = data.len;
    td->have = true;
    return SECUP_OK;
}

static secup_rc trust_op_fetch(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct trust_doc *td = ctx;
    struct secup_bytes uri = p->v[SECUP_SUIT_PARAM_URI].bytes;
    struct secup_bytes mem = { NULL, 0 };
    if (uri.len > 0 && uri.ptr[0] == '#') {
        if (!secup_envelope_find_integrated(td->in->env, uri, &mem))
            return secup_err_set(err, SECUP_E_MISSING, "integrated payload '%.*s' is not in the envelope",
                                 (int)uri.len, (const char *)uri.ptr);
        return trust_doc_take(td, p, mem, err);
    }
    const char *path = NULL;
    for (size_t i = 0; i < td->in->n_payloads; i++) {
        const char *pl = td->in->payloads[i];
        if (strncmp(pl, "trust=", 6) == 0)
            path = pl + 6;
        else if (!strchr(pl, '=') && !path)
            path = pl;
    }
    if (!path)
        return secup_err_set(err, SECUP_E_MISSING, "the trust update fetches '%.*s'; give it with --payload",
                             (int)uri.len, (const char *)uri.ptr);
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, TRUST_MAX_UPDATE, &buf, &len, err);
    if (rc == SECUP_OK)
        rc = trust_doc_take(td, p, secup_bytes_of(buf, len), err);
    secup_file_free(buf, len);
    return rc;
}

static secup_rc trust_op_write(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    return trust_doc_take(ctx, p, p->v[SECUP_SUIT_PARAM_CONTENT].bytes, err);
}

static secup_rc trust_op_image_match(void *ctx, const struct secup_proc_params *p,
                                     struct secup_err *err)
{
    const struct trust_doc *td = ctx;
    if (!td->have)
        return secup_err_set(err, SECUP_E_CONDITION, "image-match before the trust update was fetched");
    return trust_doc_check(p, secup_bytes_of(td->doc, td->len), err);
}

static secup_rc trust_op_component_slot(void *ctx, const struct secup_proc_params *p,
                                        uint64_t slot, struct secup_err *err)
{
    (void)ctx;
    (void)p;
    return secup_err_set(err, SECUP_E_CONDITION, "the trust-anchor component has no slot %llu",
                         (unsigned long long)slot);
}

static const struct secup_proc_ops trust_ops = {
    .image_match = trust_op_image_match,
    .component_slot = trust_op_component_slot,
    .fetch = trust_op_fetch,
    .write = trust_op_write,
};

static void describe_update(const struct trust_update *u, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < u->n_add + u->n_retire && used + 1 < cap; i++) {
        bool add = i < u->n_add;
        int n = snprintf(out + used, cap - used, "%s%s %s", used ? ", " : "", add ? "added" : "retired",
                         add ? u->add[i].name : u->retire[i - u->n_add]);
        if (n < 0)
            break;
        used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
    }
}

/* A manifest for the reserved trust-anchor component: the anchor that signed it must be
 * allowed to rotate; its document is applied to the trust store, which is saved (two
 * copies) before the state records the result and drops the floors of retired anchors. */
static secup_rc install_trust_update(struct install *in, const struct secup_trust *trust,
                                     uint32_t signer, struct secup_err *err)
{
    struct agent *a = in->v.a;
    const struct secup_manifest *m = &in->env->manifest;
    static struct trust_update u;
    static struct trust_store next;
    if (m->n_dependencies > 0)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "a trust update has no dependencies");
    if (m->n_components != 1)
        return secup_err_set(err, SECUP_E_POLICY,
                             "a trust update names the component \"%s\" and nothing else", AGENT_TRUST_COMPONENT);
    if (a->st.pending)
        return secup_err_set(err, SECUP_E_STATE, "an install is not settled; boot first");
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        struct boot_state bs;
        secup_rc rc = a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs, err);
        if (rc != SECUP_OK)
            return rc;
        if (bs.trial != BOOT_NO_SLOT)
            return secup_err_set(err, SECUP_E_STATE,
                                 "component %s has an update on trial; boot and confirm or roll back first",
                                 a->cfg.components[c].name);
    }
    struct secup_device_policy pol;
    memcpy(pol.vendor_id, a->cfg.vendor_id, 16);
    memcpy(pol.class_id, a->cfg.class_id, 16);
    pol.sequence_floor = 0; /* the rotation floor is per signing anchor, below */
    secup_rc rc = secup_policy_check(in->env, trust, &pol, NULL, err);
    if (rc != SECUP_OK)
        return rc;
    struct trust_doc *td = calloc(1, sizeof(*td));
    struct secup_processor *proc = malloc(sizeof(*proc));
    if (!td || !proc) {
        free(td);
        free(proc);
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a trust update");
    }
    td->in = in;
    struct secup_proc_identity id;
    device_identity(a, &id);
    static const enum secup_section steps[] = { SECUP_SECTION_DEPENDENCY_RESOLUTION,
                                                SECUP_SECTION_PAYLOAD_FETCH, SECUP_SECTION_INSTALL,
                                                SECUP_SECTION_VALIDATE };
    for (size_t i = 0; rc == SECUP_OK && i < sizeof(steps) / sizeof(steps[0]); i++)
        rc = secup_process(proc, m, steps[i], &trust_ops, td, &id, err);
    if (rc == SECUP_OK && !td->have)
        rc = secup_err_set(err, SECUP_E_MISSING, "the manifest carries no trust-update document");
    if (rc == SECUP_OK)
        rc = trust_update_parse(&a->cfg, (const char *)td->doc, td->len, &u, err);
    next = a->trust;
    uint32_t retired = 0;
    if (rc == SECUP_OK)
        rc = trust_update_apply(&a->cfg, &next, a->anchors, a->n_anchors, signer,
                                m->sequence_number, &u, &a->st, &retired, err);
    free(proc);
    free(td);
    if (rc != SECUP_OK)
        return rc;
    char by[AGENT_NAME_MAX];
    memcpy(by, a->anchors[signer].name, sizeof(by));
    rc = trust_save(&a->cfg, &next, err);
    if (rc != SECUP_OK)
        return rc;
    a->trust = next;
    for (uint32_t i = 0; i < a->n_anchors; i++) {
        if (retired & (UINT32_C(1) << i))
            state_drop_floors(&a->st, a->anchors[i].name);
    }
    trust_anchors(&a->cfg, &a->trust, a->anchors, &a->n_anchors);
    char what[STATE_REASON_MAX];
    describe_update(&u, what, sizeof(what));
    char reason[STATE_REASON_MAX];
    snprintf(reason, sizeof(reason), "trust anchors updated by \"%.60s\": %.150s", by, what);
    record(a, SECUP_OK, reason, m->sequence_number,
           in->env->digest.bytes.len == 32 ? in->env->digest.bytes.ptr : NULL);
    a->trust_updated = true;
    return state_save(&a->cfg, &a->st, err);
}

/* Every image of the root manifest whose size the manifest states plainly, checked against
 * its slot before anything is written (a bundle does not fill one slot and then find the
 * next one short). Images the manifest chooses at install time (try-each) and those of
 * dependencies are checked as they are written. Two slots on one file system are checked
 * one by one, not summed. */
static secup_rc space_precheck(struct install *in, struct secup_err *err)
{
    const struct secup_manifest *m = &in->env->manifest;
    for (uint32_t i = 0; i < m->n_components && i < SECUP_PROC_MAX_INDEX; i++) {
        int c = in->v.map[i];
        struct secup_image_info info;
        struct secup_err ie;
        if (c < 0 || secup_manifest_image_info(m, i, &info, &ie) != SECUP_OK || !info.has_size)
            continue;
        secup_rc rc = slot_space_check(&in->v.a->cfg, (uint32_t)c, in->v.slot[c], info.size, err);
        if (rc != SECUP_OK)
            return rc;
    }
    return SECUP_OK;
}

secup_rc agent_install(struct agent *a, const char *envelope, const char *const *payloads,
                       size_t n_payloads, struct secup_err *err)
{
    struct install *in = calloc(1, sizeof(*in));
    struct secup_envelope *env = malloc(sizeof(*env));
    struct secup_processor *proc = malloc(sizeof(*proc));
    struct secup_trust *trust = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    const uint8_t *mdigest = NULL;
    secup_rc rc = SECUP_OK;
    if (!in || !env || !proc) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for an install");
        goto out;
    }
    in->v.a = a;
    in->env = env;
    in->root = in;
    /* settle what a power cut left half done before judging "an update is on trial" */
    rc = undo_partial_commit(a, err);
    if (rc == SECUP_OK)
        rc = finish_journal(a, err);
    if (rc != SECUP_OK)
        goto done;
    in->payloads = payloads;
    in->n_payloads = n_payloads;
    rc = secup_file_read(envelope, a->cfg.max_envelope, &buf, &len, err);
    if (rc == SECUP_OK) {
        struct secup_limits lim = secup_limits_default();
        lim.max_envelope = a->cfg.max_envelope;
        rc = secup_envelope_decode(env, secup_bytes_of(buf, len), &lim, err);
    }
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "'%s'", envelope);
        goto out;
    }
    seq = env->manifest.sequence_number;
    mdigest = env->digest.bytes.len == 32 ? env->digest.bytes.ptr : NULL;
    struct secup_verify_info vi;
    uint32_t index[AGENT_MAX_ALL_ANCHORS];
    uint32_t signer = 0;
    if (a->trust_broken)
        rc = secup_err_set(err, SECUP_E_DIGEST,
                           "the trust store is damaged (no usable copy of trust.A, trust.B): nothing is installed");
    static uint8_t key_ids[AGENT_MAX_ALL_ANCHORS][32];
    uint32_t signers = 0;
    in->trust_index = index;
    in->key_ids = (const uint8_t (*)[32])key_ids;
    if (rc == SECUP_OK)
        rc = load_trust(a, true, &trust, index, key_ids, err);
    if (rc == SECUP_OK)
        rc = secup_envelope_verify_signers(env, trust, &signers, &vi, err);
    if (rc == SECUP_OK) {
        signer = index[vi.anchor];
        in->signed_mask = signers_to_anchors(in, signers);
        /* THREATS.md C14: from here on only this in-memory copy is used (the processor,
         * the kept envelope); the file may change under us and nothing reads it again */
        uint8_t h[32];
        char hex[65];
        if (secup_sha256(secup_bytes_of(buf, len), h, NULL) == SECUP_OK) {
            secup_hex_encode(secup_bytes_of(h, 32), hex, sizeof(hex));
            fprintf(stderr, "secup-agent: install: envelope '%s': %zu bytes verified in memory, SHA-256 %s; "
                            "only this copy is used\n", envelope, len, hex);
        }
    }
    in->signer = signer;
    in->raw = secup_bytes_of(buf, len);
    in->trust = trust;
    in->trust_index = index;
    if (rc == SECUP_OK && is_trust_update(&env->manifest)) {
        rc = install_trust_update(in, trust, signer, err);
        if (rc != SECUP_OK)
            goto out;
        goto done;
    }
    if (rc == SECUP_OK)
        rc = check_and_map(in, err);
    rc = rc == SECUP_OK ? space_precheck(in, err) : rc;
    if (rc == SECUP_OK && a->cfg.device_key[0]) {
        rc = secup_key_load_pem(&in->device_key, a->cfg.device_key, err);
        if (rc != SECUP_OK)
            secup_err_prefix(err, "device key");
    }
    for (uint32_t k = 0; rc == SECUP_OK && k < a->cfg.n_keks; k++)
        rc = load_kek(&a->cfg.keks[k], in->kek[k], &in->kek_len[k], err);
    struct secup_proc_identity id;
    device_identity(a, &id);
    in->id = &id;
    /* The device's acceptance policy first: both identity conditions must be stated
     * (THREATS.md C2), then the Update Procedure: payload-fetch, install, validate. */
    if (rc == SECUP_OK) {
        struct secup_device_policy pol;
        memcpy(pol.vendor_id, a->cfg.vendor_id, 16);
        memcpy(pol.class_id, a->cfg.class_id, 16);
        pol.sequence_floor = 0; /* floors are per component and anchor, checked above */
        rc = secup_policy_check(env, trust, &pol, NULL, err);
    }
    static const enum secup_section steps[] = { SECUP_SECTION_DEPENDENCY_RESOLUTION,
                                                SECUP_SECTION_PAYLOAD_FETCH, SECUP_SECTION_INSTALL,
                                                SECUP_SECTION_VALIDATE };
    for (size_t i = 0; rc == SECUP_OK && i < sizeof(steps) / sizeof(steps[0]); i++) {
        in->section = steps[i];
        rc = secup_process(proc, &env->manifest, steps[i], &install_ops, in, &id, err);
    }
    /* Staging components held bytes for a copy only: they are not committed. */
    uint32_t commit = in->written;
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        if (a->cfg.components[c].staging)
            commit &= ~(UINT32_C(1) << c);
    }
    if (rc == SECUP_OK && commit == 0)
        rc = secup_err_set(err, SECUP_E_POLICY, "the manifest installs nothing on this device");
    if (rc != SECUP_OK)
        goto out;

    /* Commit, all components or none (the root's and its dependencies'): the state records
     * the new slots and the bundle as pending, then each component is put on trial; a cut
     * in between is found at boot. Each slot records the manifest that wrote it: its
     * sequence number and anchor (its floor) and, kept beside it, its envelope. */
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        if (!(commit & (UINT32_C(1) << c)))
            continue;
        const struct install *w = in->writer[c];
        const char *anchor = a->anchors[w->signer].name;
        struct state_slot *s = &a->st.comp[c].slot[in->v.slot[c]];
        s->valid = true;
        s->seq = w->env->manifest.sequence_number;
        memcpy(s->digest, in->digest[c], 32);
        s->size = in->size[c];
        size_t an = strlen(anchor) < sizeof(s->anchor) - 1 ? strlen(anchor) : sizeof(s->anchor) - 1;
        memmove(s->anchor, anchor, an);
        s->anchor[an] = '\0';
        secup_manifest_version_text(&w->env->manifest, &a->cfg.components[c].id.id, s->version,
                                    sizeof(s->version));
    }
    /* The envelope goes beside the slot it describes, so that the boot stage can run its
     * validate and invoke sequences; it is written before the state refers to it. */
    for (uint32_t c = 0; rc == SECUP_OK && c < a->cfg.n_components; c++) {
        if (!(commit & (UINT32_C(1) << c)))
            continue;
        char path[AGENT_PATH_MAX + 96];
        envelope_path(&a->cfg, c, in->v.slot[c], path, sizeof(path));
        rc = secup_file_write_atomic(path, in->writer[c]->raw, 0600, err);
    }
    if (rc != SECUP_OK)
        goto done;
    a->st.pending = commit;
    record(a, SECUP_OK, "installed; trial boot pending", seq, mdigest);
    rc = state_save(&a->cfg, &a->st, err);
    for (uint32_t c = 0; rc == SECUP_OK && c < a->cfg.n_components; c++) {
        if (!(commit & (UINT32_C(1) << c)))
            continue;
        struct boot_state bs;
        rc = a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs, err);
        bs.trial = in->v.slot[c];
        bs.attempts = a->cfg.boot_attempts;
        if (rc == SECUP_OK)
            rc = a->boot.ops->set(&a->boot, a->cfg.components[c].name, &bs, err);
    }
    if (rc == SECUP_OK) {
        a->st.pending = 0;
        rc = state_save(&a->cfg, &a->st, err);
    }
    goto done;
out:
    /* A refused install changes nothing but the record of its result. Slots it started to
     * write were already marked invalid in memory; keep that on disk. */
    if (rc != SECUP_OK && !a->st.safe_mode) {
        struct secup_err keep = *err;
        record(a, rc, err->msg, seq, mdigest);
        if (state_save(&a->cfg, &a->st, err) != SECUP_OK)
            fprintf(stderr, "secup-agent: could not record the failed install: %s\n", err->msg);
        *err = keep;
    }
done:
    for (uint32_t k = 0; in && k < SECUP_PROC_MAX_INDEX; k++) {
        free(in->dep_env[k]);
        free(in->dep_ctx[k]);
    }
    if (in)
        secup_wipe(in->kek, sizeof(in->kek));
    secup_key_free(in ? in->device_key : NULL);
    secup_trust_free(trust);
    secup_file_free(buf, len);
    free(proc);
    free(env);
    free(in);
    return rc;
}

/* ---- boot, confirm, rollback ---- */

/* ---- the boot stage ---- */

struct boot_run {
    struct slot_view v; /* first: the processor's ctx is a slot_view too */
    uint32_t invoked;
};

/* Starting the image is the boot loader's job once the agent has judged it: the invoke
 * directive records which component the manifest starts. */
static secup_rc boot_invoke(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct boot_run *b = ctx;
    int c = view_comp(&b->v, p, err);
    if (c < 0)
        return SECUP_E_UNSUPPORTED;
    b->invoked |= UINT32_C(1) << c;
    return SECUP_OK;
}

/* A dependency's components boot with the envelope kept beside their own slots (the
 * dependency's, authenticated and run by their own invocation): nothing more here. */
static secup_rc boot_process_dependency(void *ctx, const struct secup_proc_params *p,
                                        struct secup_err *err)
{
    (void)ctx;
    (void)p;
    (void)err;
    return SECUP_OK;
}

static const struct secup_proc_ops boot_ops = {
    .image_match = view_image_match,
    .component_slot = view_component_slot,
    .invoke = boot_invoke,
    .process_dependency = boot_process_dependency,
};

/* The Invocation Procedure for the image in slot `slot` of component c: its envelope is
 * authenticated again and its validate, load and invoke sequences run against the slots
 * the device boots from (for a bundle, the members installed with it). */
static secup_rc invocation(struct agent *a, uint32_t c, int slot, struct secup_err *err)
{
    char path[AGENT_PATH_MAX + 96];
    uint8_t *buf = NULL;
    size_t len = 0;
    envelope_path(&a->cfg, c, slot, path, sizeof(path));
    secup_rc rc = secup_file_read(path, a->cfg.max_envelope, &buf, &len, err);
    if (rc == SECUP_E_NOENT)
        return SECUP_OK; /* installed before envelopes were kept: the digest check stands */
    if (rc != SECUP_OK)
        return rc;
    struct secup_envelope *env = malloc(sizeof(*env));
    struct secup_processor *proc = malloc(sizeof(*proc));
    struct boot_run *b = calloc(1, sizeof(*b));
    struct secup_trust *trust = NULL;
    if (!env || !proc || !b) {
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for the boot stage");
        goto out;
    }
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = a->cfg.max_envelope;
    rc = secup_envelope_decode(env, secup_bytes_of(buf, len), &lim, err);
    if (rc == SECUP_OK)
        rc = load_trust(a, false, &trust, NULL, NULL, err);
    if (rc == SECUP_OK)
        rc = secup_envelope_verify(env, trust, NULL, err);
    if (rc == SECUP_OK && env->manifest.sequence_number != a->st.comp[c].slot[slot].seq)
        rc = secup_err_set(err, SECUP_E_DIGEST, "the kept envelope is not the one installed in the slot");
    b->v.a = a;
    for (uint32_t i = 0; i < SECUP_PROC_MAX_INDEX; i++)
        b->v.map[i] = -1;
    for (uint32_t i = 0; rc == SECUP_OK && i < env->manifest.n_components; i++) {
        int d = agent_config_find_component(&a->cfg, &env->manifest.components[i]);
        if (d < 0) {
            rc = secup_err_set(err, SECUP_E_POLICY, "manifest component %u is not on this device", i);
            break;
        }
        b->v.map[i] = d;
        /* a bundle member boots from the slot that holds this release */
        b->v.slot[d] = (uint32_t)d == c ? slot
                     : a->st.comp[d].slot[1].valid && a->st.comp[d].slot[1].seq == env->manifest.sequence_number ? 1
                     : 0;
    }
    struct secup_proc_identity id = { 0 };
    id.vendor_ids[0] = secup_bytes_of(a->cfg.vendor_id, 16);
    id.n_vendor_ids = 1;
    id.class_ids[0] = secup_bytes_of(a->cfg.class_id, 16);
    id.n_class_ids = 1;
    id.now = now();
    static const enum secup_section steps[] = { SECUP_SECTION_VALIDATE, SECUP_SECTION_LOAD,
                                                SECUP_SECTION_INVOKE };
    for (size_t i = 0; rc == SECUP_OK && i < sizeof(steps) / sizeof(steps[0]); i++)
        rc = secup_process(proc, &env->manifest, steps[i], &boot_ops, b, &id, err);
out:
    secup_trust_free(trust);
    free(b);
    free(proc);
    free(env);
    secup_file_free(buf, len);
    return rc;
}

static secup_rc verify_slot(struct agent *a, uint32_t c, int slot, struct secup_err *err)
{
    const struct state_slot *info = &a->st.comp[c].slot[slot];
    if (!info->valid)
        return secup_err_set(err, SECUP_E_DIGEST, "slot %c of %s holds no verified image",
                             'A' + slot, a->cfg.components[c].name);
    struct secup_slot s;
    secup_rc rc = slot_open(&a->cfg, c, slot, 0, &s, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_digest d = { -16, secup_bytes_of(info->digest, 32) };
    rc = secup_slot_digest_check(&s, &d, info->size, err);
    s.ops->close(&s);
    if (rc == SECUP_OK)
        rc = invocation(a, c, slot, err);
    return rc;
}

/* verify_slot, and for the boot stage also the floor (THREATS.md T8, MCUboot's
 * downgrade_prevention): an image below the floor of the anchor that signed it is not
 * booted, even when it verifies (an older image staged by changing the bootloader's
 * record). A retired anchor's floors are gone: its images keep booting. */
static secup_rc boot_verify(struct agent *a, uint32_t c, int slot, struct secup_err *err)
{
    secup_rc rc = verify_slot(a, c, slot, err);
    const struct state_slot *s = &a->st.comp[c].slot[slot];
    if (rc != SECUP_OK || !s->anchor[0])
        return rc;
    uint64_t floor = state_floor(&a->st, c, s->anchor);
    if (s->seq < floor)
        return secup_err_set(err, SECUP_E_ROLLBACK,
                             "slot %c of %s holds sequence %llu, below the floor %llu of anchor \"%s\": "
                             "an older image is not booted",
                             'A' + slot, a->cfg.components[c].name, (unsigned long long)s->seq,
                             (unsigned long long)floor, s->anchor);
    return SECUP_OK;
}

static secup_rc health_check(struct agent *a, struct secup_err *err)
{
    if (!a->cfg.health_argv[0])
        return SECUP_OK;
    char out[1024];
    size_t n = 0;
    return boot_tool_run_timeout(NULL, NULL, (const char *const *)a->cfg.health_argv,
                                 secup_bytes_of(NULL, 0), out, sizeof(out), &n,
                                 (long long)a->cfg.health_timeout * 1000, err);
}

/* The components on trial together (one install puts a bundle on trial, and no other
 * install is accepted until it is settled): they are confirmed or abandoned together
 * (THREATS.md U4), each through a journal in the state that the next boot finishes. */
static secup_rc trial_group(struct agent *a, uint32_t *group, struct boot_state *bs,
                            struct secup_err *err)
{
    *group = 0;
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        secup_rc rc = a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs[c], err);
        if (rc != SECUP_OK)
            return rc;
        if (bs[c].trial != BOOT_NO_SLOT)
            *group |= UINT32_C(1) << c;
    }
    return SECUP_OK;
}

/* Finishes a journaled confirmation or fallback that a power cut interrupted. */
static secup_rc finish_journal(struct agent *a, struct secup_err *err)
{
    uint32_t conf = a->st.confirming;
    uint32_t back = a->st.falling_back;
    if (!conf && !back)
        return SECUP_OK;
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        uint32_t bit = UINT32_C(1) << c;
        if (!((conf | back) & bit))
            continue;
        struct boot_state bs;
        secup_rc rc = a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs, err);
        if (rc != SECUP_OK)
            return rc;
        if (bs.trial == BOOT_NO_SLOT)
            continue; /* this one was switched before the cut */
        if (conf & bit)
            bs.active = bs.trial;
        bs.trial = BOOT_NO_SLOT;
        bs.attempts = 0;
        rc = a->boot.ops->set(&a->boot, a->cfg.components[c].name, &bs, err);
        if (rc != SECUP_OK)
            return rc;
    }
    a->st.confirming = 0;
    a->st.falling_back = 0;
    return state_save(&a->cfg, &a->st, err);
}

static secup_rc group_fall_back(struct agent *a, uint32_t group, const struct boot_state *bs,
                                secup_rc why, const char *reason, struct secup_err *err)
{
    uint64_t seq = 0;
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        if (!(group & (UINT32_C(1) << c)))
            continue;
        a->st.comp[c].slot[bs[c].trial].valid = false;
        seq = a->st.comp[c].slot[bs[c].trial].seq;
    }
    a->st.falling_back = group;
    record(a, why, reason, seq, NULL);
    secup_rc rc = state_save(&a->cfg, &a->st, err);
    return rc == SECUP_OK ? finish_journal(a, err) : rc;
}

/* The floors rise in the journal entry itself, before any bootloader switch: a cut can
 * leave a floor ahead of what runs for a moment, never behind it. */
static secup_rc group_confirm(struct agent *a, uint32_t group, const struct boot_state *bs,
                              struct secup_err *err)
{
    uint64_t seq = 0;
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        if (!(group & (UINT32_C(1) << c)))
            continue;
        const struct state_slot *s = &a->st.comp[c].slot[bs[c].trial];
        secup_rc rc = state_raise_floor(&a->st, c, s->anchor, s->seq, err);
        if (rc != SECUP_OK)
            return rc;
        seq = s->seq;
    }
    a->st.confirming = group;
    record(a, SECUP_OK, "confirmed", seq, NULL);
    a->st.last.failures = 0;
    secup_rc rc = state_save(&a->cfg, &a->st, err);
    return rc == SECUP_OK ? finish_journal(a, err) : rc;
}

/* A bundle whose commit was cut before every component went on trial: none goes. */
static secup_rc undo_partial_commit(struct agent *a, struct secup_err *err)
{
    if (!a->st.pending)
        return SECUP_OK;
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        if (!(a->st.pending & (UINT32_C(1) << c)))
            continue;
        struct boot_state bs;
        secup_rc rc = a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs, err);
        if (rc != SECUP_OK)
            return rc;
        if (bs.trial != BOOT_NO_SLOT) {
            bs.trial = BOOT_NO_SLOT;
            bs.attempts = 0;
            rc = a->boot.ops->set(&a->boot, a->cfg.components[c].name, &bs, err);
            if (rc != SECUP_OK)
                return rc;
        }
        a->st.comp[c].slot[1 - bs.active].valid = false;
    }
    a->st.pending = 0;
    record(a, SECUP_E_STATE, "an install was interrupted before all components were committed; none was", 0, NULL);
    return state_save(&a->cfg, &a->st, err);
}

/* Leftovers of atomic writes a power cut interrupted ("<name>.tmp.XXXXXX" beside the
 * state copies, the report and the bootloader state file) are removed before anything is
 * written again. */
static void remove_temps_in(const char *dir, const char *const *names, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    bool removed = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(names[i]);
            bool ours = names[i][0] == '\0' ? strstr(e->d_name, ".tmp.") != NULL
                                             : strncmp(e->d_name, names[i], len) == 0 &&
                                                   strncmp(e->d_name + len, ".tmp.", 5) == 0;
            if (ours) {
                char path[AGENT_PATH_MAX + 300];
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                removed = unlink(path) == 0 || removed;
            }
        }
    }
    closedir(d);
    if (removed) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
}

void agent_remove_temps(struct agent *a)
{
    /* the state directory is the agent's own: every "*.tmp.*" in it is a leftover (state
     * copies, the report, kept envelopes) */
    static const char *const any[] = { "" };
    remove_temps_in(a->cfg.state_dir, any, 1);
    if (a->cfg.counter_path[0]) { /* the secure counter's own atomic write */
        char dir[AGENT_PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", a->cfg.counter_path);
        char *slash = strrchr(dir, '/');
        char name[AGENT_PATH_MAX];
        snprintf(name, sizeof(name), "%s", slash ? slash + 1 : dir);
        const char *names[1] = { name };
        if (slash)
            *slash = '\0';
        remove_temps_in(slash ? (dir[0] ? dir : "/") : ".", names, 1);
    }
    if (strcmp(a->cfg.boot_type, "statefile") == 0) {
        char dir[AGENT_PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", a->cfg.boot_path);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : dir;
        const char *names[1] = { base };
        if (slash) {
            *slash = '\0';
            char name[AGENT_PATH_MAX];
            snprintf(name, sizeof(name), "%s", base);
            names[0] = name;
            remove_temps_in(dir[0] ? dir : "/", names, 1);
        } else {
            remove_temps_in(".", names, 1);
        }
    }
}

secup_rc agent_boot(struct agent *a, struct secup_err *err)
{
    struct boot_state bs[AGENT_MAX_COMPONENTS];
    uint32_t group = 0;
    secup_rc rc = undo_partial_commit(a, err);
    if (rc == SECUP_OK)
        rc = finish_journal(a, err);
    if (rc == SECUP_OK)
        rc = trial_group(a, &group, bs, err);
    if (rc != SECUP_OK)
        return rc;

    /* Components not on trial: the running image must still verify (bit rot, tampering);
     * else the other slot takes over when it verifies; else safe mode. A verified running
     * image also brings its floor up to it, in case a cut came before the floor rose. */
    bool usable = true;
    char why[STATE_REASON_MAX] = "";
    for (uint32_t c = 0; rc == SECUP_OK && c < a->cfg.n_components; c++) {
        if ((group & (UINT32_C(1) << c)) || a->cfg.components[c].staging)
            continue; /* a staging component holds nothing that runs */
        struct secup_err e;
        const struct state_slot *run = &a->st.comp[c].slot[bs[c].active];
        if (boot_verify(a, c, bs[c].active, &e) == SECUP_OK) {
            if (run->anchor[0] && !trust_is_retired(&a->trust, run->anchor) &&
                state_floor(&a->st, c, run->anchor) < run->seq) {
                rc = state_raise_floor(&a->st, c, run->anchor, run->seq, err);
                if (rc == SECUP_OK)
                    rc = state_save(&a->cfg, &a->st, err);
            }
            continue;
        }
        /* a slot, its kept envelope or a key that cannot be read now is no verdict on
         * the image: the boot stops, nothing changed, and the next start tries again */
        if (e.rc == SECUP_E_IO || e.rc == SECUP_E_NOENT)
            return secup_err_set(err, SECUP_E_IO, "%s", e.msg);
        struct secup_err e2;
        if (boot_verify(a, c, 1 - bs[c].active, &e2) == SECUP_OK) {
            bs[c].active = 1 - bs[c].active;
            a->st.comp[c].slot[1 - bs[c].active].valid = false;
            record(a, e.rc, e.msg, a->st.comp[c].slot[bs[c].active].seq, NULL);
            rc = state_save(&a->cfg, &a->st, err);
            if (rc == SECUP_OK)
                rc = a->boot.ops->set(&a->boot, a->cfg.components[c].name, &bs[c], err);
            continue;
        }
        if (e2.rc == SECUP_E_IO || e2.rc == SECUP_E_NOENT)
            return secup_err_set(err, SECUP_E_IO, "%s", e2.msg);
        usable = false;
        snprintf(why, sizeof(why), "component %.60s: no slot holds a verified image (%.150s)",
                 a->cfg.components[c].name, e.msg);
    }
    if (rc != SECUP_OK)
        return rc;
    if (!usable) {
        if (group) {
            rc = group_fall_back(a, group, bs, SECUP_E_POLICY, "another component has no verified image", err);
            if (rc != SECUP_OK)
                return rc;
        }
        a->st.safe_mode = true;
        snprintf(a->st.safe_reason, sizeof(a->st.safe_reason), "%s", why);
        state_clean_text(a->st.safe_reason);
        rc = state_save(&a->cfg, &a->st, err);
        return rc == SECUP_OK ? secup_err_set(err, SECUP_E_POLICY, "safe mode: %s", why) : rc;
    }
    if (a->st.safe_mode && !group) {
        a->st.safe_mode = false;
        a->st.safe_reason[0] = '\0';
        rc = state_save(&a->cfg, &a->st, err);
        if (rc != SECUP_OK)
            return rc;
    }
    if (!group)
        return SECUP_OK;

    /* The trial: one attempt budget for the whole bundle; any member out of attempts or
     * failing verification sends all of them back. */
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        if ((group & (UINT32_C(1) << c)) && bs[c].attempts == 0)
            return group_fall_back(a, group, bs, SECUP_E_POLICY, "trial boot attempts exhausted", err);
    }
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        if (!(group & (UINT32_C(1) << c)))
            continue;
        bs[c].attempts--;
        rc = a->boot.ops->set(&a->boot, a->cfg.components[c].name, &bs[c], err);
        if (rc != SECUP_OK)
            return rc;
    }
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        struct secup_err e;
        if (!(group & (UINT32_C(1) << c)) || boot_verify(a, c, bs[c].trial, &e) == SECUP_OK)
            continue;
        char reason[STATE_REASON_MAX];
        snprintf(reason, sizeof(reason), "trial image of %.60s failed verification: %.150s",
                 a->cfg.components[c].name, e.msg);
        return group_fall_back(a, group, bs, e.rc, reason, err);
    }
    if (a->st.safe_mode) {
        a->st.safe_mode = false;
        a->st.safe_reason[0] = '\0';
    }
    /* The images on trial are running now: the health check decides. */
    struct secup_err he;
    secup_err_clear(&he);
    if (health_check(a, &he) == SECUP_OK)
        return group_confirm(a, group, bs, err);
    char reason[STATE_REASON_MAX];
    snprintf(reason, sizeof(reason), "health check failed: %.200s", he.msg);
    rc = group_fall_back(a, group, bs, SECUP_E_POLICY, reason, err);
    return rc == SECUP_OK ? secup_err_set(err, SECUP_E_POLICY, "%s; fell back", reason) : rc;
}

secup_rc agent_confirm(struct agent *a, struct secup_err *err)
{
    struct boot_state bs[AGENT_MAX_COMPONENTS];
    uint32_t group = 0;
    secup_rc rc = finish_journal(a, err);
    if (rc == SECUP_OK)
        rc = trial_group(a, &group, bs, err);
    if (rc != SECUP_OK)
        return rc;
    if (!group)
        return secup_err_set(err, SECUP_E_STATE, "nothing is on trial");
    return group_confirm(a, group, bs, err);
}

secup_rc agent_rollback(struct agent *a, const char *reason, struct secup_err *err)
{
    struct boot_state bs[AGENT_MAX_COMPONENTS];
    uint32_t group = 0;
    secup_rc rc = finish_journal(a, err);
    if (rc == SECUP_OK)
        rc = trial_group(a, &group, bs, err);
    if (rc != SECUP_OK)
        return rc;
    if (!group)
        return secup_err_set(err, SECUP_E_STATE, "nothing is on trial to roll back");
    return group_fall_back(a, group, bs, SECUP_E_POLICY, reason ? reason : "rolled back by request", err);
}

/* ---- the signed status report ---- */

secup_rc agent_report(struct agent *a, const char *out, struct secup_err *err)
{
    static struct secup_status st;
    static uint8_t ids[AGENT_MAX_COMPONENTS][300];
    static uint8_t signed_buf[SECUP_STATUS_MAX_SIZE + 512];
    uint8_t last_id[32];
    size_t last_id_len = 0;
    struct secup_key *key = NULL;
    char path[AGENT_PATH_MAX + 32];
    if (!a->cfg.device_key[0])
        return secup_err_set(err, SECUP_E_STATE, "no device key configured (device.key): reports cannot be signed");
    secup_rc rc = secup_key_load_pem(&key, a->cfg.device_key, err);
    if (rc != SECUP_OK)
        return rc;
    enum secup_key_type type = secup_key_type(key);
    if (type != SECUP_KEY_P256 && type != SECUP_KEY_ED25519) {
        secup_key_free(key);
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "the device key is %s; signed reports need a P-256 or Ed25519 key",
                             secup_key_type_name(type));
    }
    memset(&st, 0, sizeof(st));
    st.reporter = secup_bytes_of(a->cfg.device_id, strlen(a->cfg.device_id));
    st.time = now();
    st.safe_mode = a->st.safe_mode;
    for (uint32_t c = 0; rc == SECUP_OK && c < a->cfg.n_components; c++) {
        struct boot_state bs;
        rc = a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs, err);
        if (rc != SECUP_OK)
            break;
        const struct state_slot *run = &a->st.comp[c].slot[bs.active];
        struct secup_status_component *sc = &st.components[st.n_components++];
        size_t n = 0;
        rc = secup_component_id_encode(&a->cfg.components[c].id.id, ids[c], sizeof(ids[c]), &n, err);
        sc->id = secup_bytes_of(ids[c], n);
        sc->seq = run->valid ? run->seq : 0;
        sc->version = secup_bytes_of(run->version, run->valid ? strlen(run->version) : 0);
        sc->slot = (uint64_t)bs.active;
        if (run->valid)
            memcpy(sc->digest, run->digest, 32);
        if (run->valid && run->anchor[0]) {
            sc->has_floor = true;
            sc->floor = state_floor(&a->st, c, run->anchor);
        }
    }
    if (a->st.last.code[0]) {
        st.has_last = true;
        if (!secup_hex_decode(a->st.last.manifest_digest, last_id, sizeof(last_id), &last_id_len))
            last_id_len = 0;
        st.last_id = secup_bytes_of(last_id, last_id_len);
        st.last_code = secup_bytes_of(a->st.last.code, strlen(a->st.last.code));
        st.last_reason = secup_bytes_of(a->st.last.reason, strlen(a->st.last.reason));
        st.last_time = a->st.last.time;
    }
    if (rc == SECUP_OK) {
        a->st.report_counter++;
        st.counter = a->st.report_counter;
        rc = state_save(&a->cfg, &a->st, err);
    }
    size_t len = 0;
    if (rc == SECUP_OK)
        rc = secup_status_sign(&st, key, signed_buf, sizeof(signed_buf), &len, err);
    if (rc == SECUP_OK) {
        if (!out) {
            snprintf(path, sizeof(path), "%s/status.cose", a->cfg.state_dir);
            out = path;
        }
        rc = secup_file_write_atomic(out, secup_bytes_of(signed_buf, len), 0644, err);
    }
    secup_key_free(key);
    return rc;
}
