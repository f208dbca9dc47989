/* secup-author create: builds a SUIT manifest for one or more images and signs it.
 *
 * Layout of the manifest (one component shown; with several, each block is preceded by
 * set-component-index):
 *   shared:   override-parameters {vendor-id, class-id, image-digest, image-size},
 *             condition vendor-identifier, condition class-identifier
 *   validate: condition image-match
 *   install:  override-parameters {uri}, directive fetch, condition image-match
 *             (only for components with a URI or an integrated payload)
 *   invoke:   directive invoke (the component marked for it; by default the only one)
 *   text:     "en-US": per component {model-name, vendor-domain, component-version}
 *   set-version (update-management): the release version, when given */
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "author.h"
#include "cli.h"

#define MAX_SPEC_FILE (1024 * 1024)
#define REPORT_POLICY 15 /* record and report on success and failure (manifest-37 8.4.7) */

struct comp {
    struct text_component_id cid;
    char image_path[4096];
    struct secup_bytes image;   /* mapped */
    uint8_t digest[32];
    uint8_t digest_enc[48];
    size_t digest_enc_len;
    char uri[2048];
    bool integrate;
    bool invoke;
    char version[64];
    char name[300];             /* "#name" of an integrated payload */
    /* an encrypted and/or compressed payload (component 0 with --payload-out) */
    bool transformed;
    struct secup_payload_result payload;
    char payload_tmp[4200];     /* built payload, renamed into place at the end */
    struct secup_bytes payload_map;
};

struct release {
    uint64_t seq;
    bool has_seq;
    char vendor_domain[256];
    char class_name[256];
    char version[64];
    char description[1024];
    uint32_t n;
    struct comp comps[SECUP_MAX_COMPONENTS];
    uint8_t vendor_id[16];
    uint8_t class_id[16];
    bool compress;
};

static void help(void)
{
    printf(
        "usage: secup-author create --key KEY.pem --image FILE --seq N --vendor-domain DOMAIN\n"
        "                           --class NAME [--component ID] [--version X.Y.Z] [--uri URL]\n"
        "                           [--integrate] [--description TEXT] [--untagged] --out FILE\n"
        "       secup-author create --key KEY.pem --spec release.json --out FILE\n\n"
        "Builds a SUIT envelope (draft-ietf-suit-manifest-37) and signs it with COSE_Sign1\n"
        "(ESP256 for P-256 keys, Ed25519 for Ed25519 keys). --key may be repeated to add\n"
        "signatures. vendor-id = UUID5(DNS, DOMAIN), class-id = UUID5(vendor-id, NAME).\n\n"
        "  --key FILE          private signing key (repeatable, up to %d); mode 0600 or\n"
        "                      stricter, or a PKCS#11 URI (pkcs11:...; docs/author.md)\n"
        "  --image FILE        the image; its SHA-256 and size go into the manifest\n"
        "  --seq N             sequence number (anti-rollback counter; must grow per release)\n"
        "  --vendor-domain D   vendor's DNS domain\n"
        "  --class NAME        device class name\n"
        "  --component ID      component identifier, parts separated by '/', 0x for hex\n"
        "                      (default: firmware)\n"
        "  --version X.Y.Z     human version; also encoded as suit-set-version\n"
        "  --uri URL           where devices fetch the payload (adds an install sequence)\n"
        "  --integrate         put the image inside the envelope (implies an install sequence)\n"
        "  --description TEXT  manifest description in the text section\n"
        "  --untagged          omit the CBOR tag 107\n"
        "  --hmac-key FILE     also authenticate with COSE_Mac0 (HMAC-SHA256 secret, hex)\n"
        "encrypted or compressed payloads (one image):\n"
        "  --encrypt-for PUB   encrypt for a P-256 or X25519 public key (ECDH-ES+A128KW),\n"
        "                      repeatable\n"
        "  --kek FILE --kid ID encrypt for a pre-shared AES-KW key (16 or 32 bytes, hex)\n"
        "  --profile NAME      an MTI profile (suit-sha256-esp256-ecdh-a128gcm, ...);\n"
        "                      default content encryption A128GCM\n"
        "  --compress          compress with zstd before encrypting\n"
        "  --payload-out FILE  where the payload to serve is written\n"
        "  --spec FILE         several components from JSON (see docs/author.md)\n"
        "  --out FILE          output envelope (written atomically)\n",
        SECUP_MAX_AUTH);
}

static secup_rc copy_str(char *dst, size_t cap, const char *src, const char *what,
                         struct secup_err *err)
{
    size_t n = strlen(src);
    if (n >= cap)
        return secup_err_set(err, SECUP_E_LIMIT_STRING, "%s is longer than %zu characters", what,
                             cap - 1);
    memcpy(dst, src, n + 1);
    return SECUP_OK;
}

/* "1.2.3", "1.2-rc.3", "1.2.3-beta.1", "2.0-alpha" (update-management section 3.2). */
static secup_rc parse_version(const char *s, int64_t *out, uint32_t cap, uint32_t *n,
                              struct secup_err *err)
{
    *n = 0;
    const char *p = s;
    bool pre = false;
    while (*p) {
        if (*n >= cap)
            return secup_err_set(err, SECUP_E_VALUE, "version '%s' has too many parts", s);
        if (isdigit((unsigned char)*p)) {
            uint64_t v = 0;
            while (isdigit((unsigned char)*p)) {
                v = v * 10 + (uint64_t)(*p - '0');
                if (v > INT32_MAX)
                    return secup_err_set(err, SECUP_E_VALUE, "version '%s': number too large", s);
                p++;
            }
            out[(*n)++] = (int64_t)v;
        } else if (*p == '-' && !pre && *n > 0) {
            p++;
            pre = true;
            int64_t marker = 0;
            if (strncmp(p, "rc", 2) == 0) {
                marker = -1;
                p += 2;
            } else if (strncmp(p, "beta", 4) == 0) {
                marker = -2;
                p += 4;
            } else if (strncmp(p, "alpha", 5) == 0) {
                marker = -3;
                p += 5;
            } else {
                return secup_err_set(err, SECUP_E_VALUE,
                                     "version '%s': pre-release must be rc, beta or alpha", s);
            }
            out[(*n)++] = marker;
            if (*p == '\0')
                break;
            if (*p != '.')
                return secup_err_set(err, SECUP_E_VALUE, "version '%s': expected '.' after %s", s,
                                     marker == -1 ? "rc" : marker == -2 ? "beta" : "alpha");
            p++;
            continue;
        } else {
            return secup_err_set(err, SECUP_E_VALUE,
                                 "version '%s' is not of the form X.Y.Z[-rc|beta|alpha[.N]]", s);
        }
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return secup_err_set(err, SECUP_E_VALUE, "version '%s': empty part", s);
        } else if (*p && *p != '-') {
            return secup_err_set(err, SECUP_E_VALUE,
                                 "version '%s' is not of the form X.Y.Z[-rc|beta|alpha[.N]]", s);
        }
    }
    if (*n == 0)
        return secup_err_set(err, SECUP_E_VALUE, "empty version");
    return SECUP_OK;
}

static void id_name(const struct comp *c, uint32_t index, char *out, size_t cap)
{
    size_t used = 0;
    bool printable = true;
    for (uint32_t i = 0; i < c->cid.id.n_parts && printable; i++) {
        struct secup_bytes b = c->cid.id.parts[i];
        for (size_t k = 0; k < b.len; k++) {
            unsigned char ch = b.ptr[k];
            if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
                printable = false;
        }
        if (!printable || used + b.len + 2 >= cap)
            break;
        if (i > 0)
            out[used++] = '/';
        memcpy(out + used, b.ptr, b.len);
        used += b.len;
    }
    out[used] = '\0';
    if (!printable || used == 0)
        snprintf(out, cap, "component-%u", index);
}

static secup_rc load_images(struct release *r, struct secup_err *err)
{
    for (uint32_t i = 0; i < r->n; i++) {
        struct comp *c = &r->comps[i];
        secup_rc rc = secup_file_map(c->image_path, &c->image, err);
        if (rc == SECUP_OK)
            rc = secup_sha256(c->image, c->digest, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "image of component %u", i);
            return rc;
        }
        struct secup_digest d = { -16, secup_bytes_of(c->digest, sizeof(c->digest)) };
        rc = secup_digest_encode(&d, c->digest_enc, sizeof(c->digest_enc), &c->digest_enc_len, err);
        if (rc != SECUP_OK)
            return rc;
        if (c->integrate) {
            char base[256];
            id_name(c, i, base, sizeof(base));
            snprintf(c->name, sizeof(c->name), "#%s", base);
            if (c->uri[0])
                return secup_err_set(err, SECUP_E_ARG,
                                     "component %u: --uri and --integrate exclude each other", i);
            memcpy(c->uri, c->name, strlen(c->name) + 1);
        }
    }
    return SECUP_OK;
}

static void unmap_images(struct release *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        secup_file_unmap(r->comps[i].image);
}

static struct secup_param param_bstr(int64_t key, const void *p, size_t n)
{
    struct secup_param x = { .key = key, .value = { .kind = SECUP_VAL_BSTR } };
    x.value.bytes = secup_bytes_of(p, n);
    return x;
}

static struct secup_param param_uint(int64_t key, uint64_t v)
{
    struct secup_param x = { .key = key, .value = { .kind = SECUP_VAL_UINT, .u = v } };
    return x;
}

static struct secup_param param_tstr(int64_t key, const char *s)
{
    struct secup_param x = { .key = key, .value = { .kind = SECUP_VAL_TSTR } };
    x.value.bytes = secup_bytes_of(s, strlen(s));
    return x;
}

static secup_rc select_component(struct secup_manifest *m, uint32_t seq, const struct release *r,
                                 uint32_t i, struct secup_err *err)
{
    return r->n > 1 ? secup_manifest_append_index(m, seq, i, err) : SECUP_OK;
}

static secup_rc build_section(struct secup_manifest *m, enum secup_section s, uint32_t seq)
{
    m->members[s].state = SECUP_MEMBER_PRESENT;
    m->members[s].available = true;
    m->members[s].seq = seq;
    return SECUP_OK;
}

static secup_rc build_manifest(struct secup_manifest *m, struct release *r, struct secup_err *err)
{
    static const char lang[] = "en-US";
    secup_rc rc = SECUP_OK;
    uint32_t seq = 0;
    secup_manifest_init(m);
    m->sequence_number = r->seq;

    for (uint32_t i = 0; i < r->n && rc == SECUP_OK; i++)
        rc = secup_manifest_add_component(m, &r->comps[i].cid.id, err);
    if (rc != SECUP_OK)
        return rc;

    rc = secup_manifest_begin_seq(m, &seq, err);
    m->has_shared = true;
    m->shared_seq = seq;
    for (uint32_t i = 0; i < r->n && rc == SECUP_OK; i++) {
        const struct comp *c = &r->comps[i];
        struct secup_param p[4] = {
            param_bstr(SECUP_SUIT_PARAM_VENDOR_ID, r->vendor_id, 16),
            param_bstr(SECUP_SUIT_PARAM_CLASS_ID, r->class_id, 16),
            param_bstr(SECUP_SUIT_PARAM_IMAGE_DIGEST, c->digest_enc, c->digest_enc_len),
            param_uint(SECUP_SUIT_PARAM_IMAGE_SIZE, c->image.len),
        };
        rc = select_component(m, seq, r, i, err);
        if (rc == SECUP_OK)
            rc = secup_manifest_append_params(m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, 4, err);
        if (rc == SECUP_OK)
            rc = secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_VENDOR_ID, REPORT_POLICY, err);
        if (rc == SECUP_OK)
            rc = secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_CLASS_ID, REPORT_POLICY, err);
    }

    if (rc == SECUP_OK)
        rc = secup_manifest_begin_seq(m, &seq, err);
    if (rc == SECUP_OK)
        rc = build_section(m, SECUP_SECTION_VALIDATE, seq);
    for (uint32_t i = 0; i < r->n && rc == SECUP_OK; i++) {
        rc = select_component(m, seq, r, i, err);
        if (rc == SECUP_OK)
            rc = secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_IMAGE_MATCH, REPORT_POLICY, err);
    }

    bool any_uri = false;
    for (uint32_t i = 0; i < r->n; i++)
        any_uri = any_uri || r->comps[i].uri[0];
    if (rc == SECUP_OK && any_uri) {
        rc = secup_manifest_begin_seq(m, &seq, err);
        if (rc == SECUP_OK)
            rc = build_section(m, SECUP_SECTION_INSTALL, seq);
        for (uint32_t i = 0; i < r->n && rc == SECUP_OK; i++) {
            const struct comp *c = &r->comps[i];
            if (!c->uri[0])
                continue;
            struct secup_param p[3] = { param_tstr(SECUP_SUIT_PARAM_URI, c->uri) };
            size_t np = 1;
            /* Encryption info and compression travel with the fetch that delivers the
             * payload: the device decrypts and decompresses while it writes (a fetch
             * with encryption info is a fetch + copy done in one stream, SUIT.md 3.8). */
            if (c->transformed && c->payload.enc_info_len)
                p[np++] = param_bstr(SECUP_SUIT_PARAM_ENCRYPTION_INFO, c->payload.enc_info,
                                     c->payload.enc_info_len);
            if (c->transformed && r->compress)
                p[np++] = param_uint(SECUP_SUIT_PARAM_COMPRESSION, SECUP_COMPRESSION_ZSTD);
            rc = select_component(m, seq, r, i, err);
            if (rc == SECUP_OK)
                rc = secup_manifest_append_params(m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, np, err);
            if (rc == SECUP_OK)
                rc = secup_manifest_append_policy(m, seq, SECUP_SUIT_DIR_FETCH, 2, err);
            if (rc == SECUP_OK)
                rc = secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_IMAGE_MATCH, REPORT_POLICY, err);
        }
    }

    int invoke = -1;
    for (uint32_t i = 0; i < r->n; i++) {
        if (r->comps[i].invoke)
            invoke = (int)i;
    }
    if (r->n == 1)
        invoke = 0;
    if (rc == SECUP_OK && invoke >= 0) {
        rc = secup_manifest_begin_seq(m, &seq, err);
        if (rc == SECUP_OK)
            rc = build_section(m, SECUP_SECTION_INVOKE, seq);
        if (rc == SECUP_OK)
            rc = select_component(m, seq, r, (uint32_t)invoke, err);
        if (rc == SECUP_OK)
            rc = secup_manifest_append_policy(m, seq, SECUP_SUIT_DIR_INVOKE, 2, err);
    }

    /* text: manifest-level description first, then one map per component */
    struct secup_bytes l = secup_bytes_of(lang, sizeof(lang) - 1);
    if (rc == SECUP_OK && r->description[0])
        rc = secup_manifest_add_text(m, l, NULL, 1, secup_bytes_of(r->description, strlen(r->description)), err);
    for (uint32_t i = 0; i < r->n && rc == SECUP_OK; i++) {
        const struct comp *c = &r->comps[i];
        rc = secup_manifest_add_text(m, l, &c->cid.id, 2,
                                     secup_bytes_of(r->class_name, strlen(r->class_name)), err);
        if (rc == SECUP_OK)
            rc = secup_manifest_add_text(m, l, &c->cid.id, 3,
                                         secup_bytes_of(r->vendor_domain, strlen(r->vendor_domain)), err);
        const char *v = c->version[0] ? c->version : r->version;
        if (rc == SECUP_OK && v[0])
            rc = secup_manifest_add_text(m, l, &c->cid.id, 6, secup_bytes_of(v, strlen(v)), err);
    }

    if (rc == SECUP_OK && r->version[0]) {
        uint32_t n = 0;
        rc = parse_version(r->version, m->ints + m->n_ints, SECUP_MAX_INTS - m->n_ints, &n, err);
        if (rc == SECUP_OK) {
            m->has_set_version = true;
            m->set_version_first = m->n_ints;
            m->set_version_count = n;
            m->n_ints += n;
        }
    }
    return rc;
}

static secup_rc spec_string(json_t *obj, const char *key, char *dst, size_t cap, bool required,
                            const char *where, struct secup_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return secup_err_set(err, SECUP_E_JSON, "%s: \"%s\" is required", where, key);
        return SECUP_OK;
    }
    if (!json_is_string(v))
        return secup_err_set(err, SECUP_E_JSON, "%s: \"%s\" must be a string", where, key);
    return copy_str(dst, cap, json_string_value(v), key, err);
}

static secup_rc spec_path(const char *spec_path, const char *rel, char *out, size_t cap,
                          struct secup_err *err)
{
    if (rel[0] == '/')
        return copy_str(out, cap, rel, "image path", err);
    const char *slash = strrchr(spec_path, '/');
    int dir_len = slash ? (int)(slash - spec_path) : 1;
    int n = snprintf(out, cap, "%.*s/%s", dir_len, slash ? spec_path : ".", rel);
    if (n < 0 || (size_t)n >= cap)
        return secup_err_set(err, SECUP_E_LIMIT_STRING, "image path too long");
    return SECUP_OK;
}

static const char *const spec_keys[] = { "sequence", "vendor-domain", "class", "version",
                                         "description", "components", NULL };
static const char *const comp_keys[] = { "id", "image", "uri", "integrate", "version", "invoke", NULL };

static secup_rc check_keys(json_t *obj, const char *const *allowed, const char *where,
                           struct secup_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        if (!ok)
            return secup_err_set(err, SECUP_E_JSON, "%s: unknown key \"%s\"", where, key);
    }
    return SECUP_OK;
}

static secup_rc parse_spec(const char *path, const uint8_t *buf, size_t len, struct release *r,
                           struct secup_err *err)
{
    secup_rc rc = SECUP_OK;
    if (len > MAX_SPEC_FILE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "'%s' is larger than %d bytes", path, MAX_SPEC_FILE);
    json_error_t je;
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return secup_err_set(err, SECUP_E_JSON, "'%s' line %d column %d: %s", path, je.line,
                             je.column, je.text);
    if (!json_is_object(root)) {
        rc = secup_err_set(err, SECUP_E_JSON, "'%s': the top level must be an object", path);
        goto out;
    }
    rc = check_keys(root, spec_keys, path, err);
    if (rc != SECUP_OK)
        goto out;
    json_t *seq = json_object_get(root, "sequence");
    if (seq) {
        if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
            rc = secup_err_set(err, SECUP_E_JSON, "'%s': \"sequence\" must be a non-negative integer", path);
            goto out;
        }
        r->seq = (uint64_t)json_integer_value(seq);
        r->has_seq = true;
    }
    rc = spec_string(root, "vendor-domain", r->vendor_domain, sizeof(r->vendor_domain), false, path, err);
    if (rc == SECUP_OK)
        rc = spec_string(root, "class", r->class_name, sizeof(r->class_name), false, path, err);
    if (rc == SECUP_OK)
        rc = spec_string(root, "version", r->version, sizeof(r->version), false, path, err);
    if (rc == SECUP_OK)
        rc = spec_string(root, "description", r->description, sizeof(r->description), false, path, err);
    if (rc != SECUP_OK)
        goto out;
    json_t *comps = json_object_get(root, "components");
    if (!json_is_array(comps) || json_array_size(comps) == 0) {
        rc = secup_err_set(err, SECUP_E_JSON, "'%s': \"components\" must be a non-empty array", path);
        goto out;
    }
    if (json_array_size(comps) > SECUP_MAX_COMPONENTS) {
        rc = secup_err_set(err, SECUP_E_LIMIT_COMPONENTS, "'%s': %zu components exceed the limit of %d",
                           path, json_array_size(comps), SECUP_MAX_COMPONENTS);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(comps); i++) {
        json_t *o = json_array_get(comps, i);
        struct comp *c = &r->comps[r->n];
        char where[64];
        char id[512] = "";
        char image[4096] = "";
        snprintf(where, sizeof(where), "components[%zu]", i);
        if (!json_is_object(o)) {
            rc = secup_err_set(err, SECUP_E_JSON, "%s must be an object", where);
            goto out;
        }
        rc = check_keys(o, comp_keys, where, err);
        if (rc == SECUP_OK)
            rc = spec_string(o, "id", id, sizeof(id), true, where, err);
        if (rc == SECUP_OK)
            rc = spec_string(o, "image", image, sizeof(image), true, where, err);
        if (rc == SECUP_OK)
            rc = spec_string(o, "uri", c->uri, sizeof(c->uri), false, where, err);
        if (rc == SECUP_OK)
            rc = spec_string(o, "version", c->version, sizeof(c->version), false, where, err);
        if (rc == SECUP_OK) {
            struct secup_err ie;
            rc = compid_parse(id, &c->cid, &ie);
            /* bad input in a file, not a caller's mistake: never the 1xx band */
            if (rc != SECUP_OK)
                rc = secup_err_set(err, rc == SECUP_E_ARG ? SECUP_E_VALUE : rc, "%s: \"id\": %s",
                                   where, ie.msg);
        }
        if (rc == SECUP_OK)
            rc = spec_path(path, image, c->image_path, sizeof(c->image_path), err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "'%s'", path);
            goto out;
        }
        json_t *integ = json_object_get(o, "integrate");
        json_t *inv = json_object_get(o, "invoke");
        if ((integ && !json_is_boolean(integ)) || (inv && !json_is_boolean(inv))) {
            rc = secup_err_set(err, SECUP_E_JSON, "'%s': %s: \"integrate\" and \"invoke\" must be true or false",
                               path, where);
            goto out;
        }
        c->integrate = integ && json_is_true(integ);
        c->invoke = inv && json_is_true(inv);
        for (uint32_t k = 0; k < r->n; k++) {
            if (secup_component_id_equal(&r->comps[k].cid.id, &c->cid.id)) {
                rc = secup_err_set(err, SECUP_E_DUPLICATE, "'%s': component \"%s\" twice", path, id);
                goto out;
            }
        }
        r->n++;
    }
out:
    json_decref(root);
    return rc;
}

static secup_rc load_spec(const char *path, struct release *r, struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, MAX_SPEC_FILE, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    rc = parse_spec(path, buf, len, r, err);
    secup_file_free(buf, len);
    return rc;
}

secup_rc author_spec_parse(const char *path, const uint8_t *text, size_t len,
                           uint32_t *n_components, struct secup_err *err)
{
    *n_components = 0;
    struct release *r = calloc(1, sizeof(*r));
    if (!r)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a release");
    secup_rc rc = parse_spec(path, text, len, r, err);
    if (rc == SECUP_OK)
        *n_components = r->n;
    free(r);
    return rc;
}

/* Before any key is used (THREATS.md C13): the manifest as built is encoded and decoded
 * again, and every component's image is read again from its file and checked against the
 * digest and size that decoded manifest gives. An image replaced or changed on disk since
 * it was hashed, or a manifest that does not survive its own encoding, is never signed. */
static secup_rc presign_check(const struct secup_manifest *m, const struct release *r,
                              struct secup_err *err)
{
    size_t mlen = 0;
    if (secup_manifest_encode(m, NULL, 0, &mlen, NULL) != SECUP_E_BUF_SMALL && mlen == 0)
        return secup_err_set(err, SECUP_E_VALUE, "the built manifest cannot be encoded");
    uint8_t *mbuf = malloc(mlen ? mlen : 1);
    struct secup_manifest *back = malloc(sizeof(*back));
    secup_rc rc = SECUP_OK;
    if (!mbuf || !back)
        rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for the pre-signing check");
    if (rc == SECUP_OK)
        rc = secup_manifest_encode(m, mbuf, mlen, &mlen, err);
    if (rc == SECUP_OK) {
        struct secup_limits lim = secup_limits_default();
        lim.max_envelope = AUTHOR_MAX_ENVELOPE;
        rc = secup_manifest_decode(back, secup_bytes_of(mbuf, mlen), &lim, err);
        if (rc != SECUP_OK)
            secup_err_prefix(err, "the built manifest does not decode");
    }
    if (rc == SECUP_OK && back->n_components != r->n)
        rc = secup_err_set(err, SECUP_E_VALUE, "the built manifest has %u components, the release %u",
                           back->n_components, r->n);
    for (uint32_t i = 0; rc == SECUP_OK && i < r->n; i++) {
        rc = author_check_image(back, i, r->comps[i].image_path, err);
        if (rc != SECUP_OK)
            secup_err_prefix(err, "'%s' changed after it was hashed", r->comps[i].image_path);
    }
    if (rc != SECUP_OK)
        secup_err_prefix(err, "pre-signing check failed; nothing signed");
    free(back);
    free(mbuf);
    return rc;
}

/* Before the package leaves the Author, it is read back the way a device would read it:
 * decoded, verified with every signing key, and each image hashed again and compared with
 * the manifest (THREATS.md C13: an image changed between hashing and signing, or an
 * encoder bug, must never produce a signed package). */
static secup_rc self_check(const uint8_t *env, size_t env_len,
                           const struct author_key_ref *keys, size_t n_keys,
                           const struct release *r, struct secup_err *err)
{
    struct secup_envelope *e = malloc(sizeof(*e));
    struct secup_trust *t = NULL;
    if (!e)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the self-check");
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = AUTHOR_MAX_ENVELOPE;
    secup_rc rc = secup_envelope_decode(e, secup_bytes_of(env, env_len), &lim, err);
    for (size_t i = 0; rc == SECUP_OK && i < n_keys; i++) {
        struct secup_key *k = NULL;
        secup_trust_free(t);
        t = NULL;
        rc = secup_trust_new(&t, err);
        if (rc == SECUP_OK)
            rc = author_load_signing_key(&keys[i], &k, err);
        if (rc == SECUP_OK) {
            rc = secup_trust_add(t, k, keys[i].path, err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
        if (rc == SECUP_OK)
            rc = secup_envelope_verify(e, t, NULL, err);
    }
    for (uint32_t i = 0; rc == SECUP_OK && i < r->n; i++) {
        struct secup_image_info info;
        rc = secup_manifest_image_info(&e->manifest, i, &info, err);
        if (rc == SECUP_OK && (!info.has_digest || !info.has_size || info.size != r->comps[i].image.len))
            rc = secup_err_set(err, SECUP_E_SIZE, "component %u: size in the manifest differs from the image", i);
        if (rc == SECUP_OK)
            rc = secup_digest_check(&info.digest, r->comps[i].image, err);
        if (rc != SECUP_OK)
            secup_err_prefix(err, "component %u ('%s') changed while it was being signed", i,
                             r->comps[i].image_path);
    }
    if (rc != SECUP_OK)
        secup_err_prefix(err, "self-check of the new package failed; nothing written");
    secup_trust_free(t);
    free(e);
    return rc;
}

int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "image", required_argument, NULL, 'i' },
        { "seq", required_argument, NULL, 's' },
        { "vendor-domain", required_argument, NULL, 'V' },
        { "class", required_argument, NULL, 'C' },
        { "component", required_argument, NULL, 'c' },
        { "version", required_argument, NULL, 'v' },
        { "uri", required_argument, NULL, 'u' },
        { "integrate", no_argument, NULL, 'I' },
        { "description", required_argument, NULL, 'd' },
        { "untagged", no_argument, NULL, 'T' },
        { "spec", required_argument, NULL, 'S' },
        { "hmac-key", required_argument, NULL, 'H' },
        { "encrypt-for", required_argument, NULL, 'E' },
        { "kek", required_argument, NULL, 'K' },
        { "kid", required_argument, NULL, 'D' },
        { "profile", required_argument, NULL, 'P' },
        { "compress", no_argument, NULL, 'Z' },
        { "payload-out", required_argument, NULL, 'O' },
        { "out", required_argument, NULL, 'o' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct author_key_ref keys[SECUP_MAX_AUTH];
    size_t n_keys = 0;
    struct author_enc_opts enc = { 0 };
    const char *image = NULL;
    const char *seq = NULL;
    const char *component = "firmware";
    const char *spec = NULL;
    const char *out = NULL;
    const char *vendor = NULL;
    const char *cls = NULL;
    const char *version = NULL;
    const char *uri = NULL;
    const char *description = NULL;
    bool integrate = false;
    bool untagged = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:i:s:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
        case 'H':
            if (n_keys >= SECUP_MAX_AUTH)
                return cli_usage("create", "at most %d --key and --hmac-key options", SECUP_MAX_AUTH);
            keys[n_keys].path = optarg;
            keys[n_keys++].hmac = c == 'H';
            break;
        case 'E':
            if (enc.n_recipients >= SECUP_MAX_RECIPIENTS)
                return cli_usage("create", "at most %d --encrypt-for options", SECUP_MAX_RECIPIENTS);
            enc.recipients[enc.n_recipients++] = optarg;
            break;
        case 'K': enc.kek_path = optarg; break;
        case 'D': enc.kid = optarg; break;
        case 'P': enc.profile = optarg; break;
        case 'Z': enc.compress = true; break;
        case 'O': enc.payload_out = optarg; break;
        case 'i': image = optarg; break;
        case 's': seq = optarg; break;
        case 'V': vendor = optarg; break;
        case 'C': cls = optarg; break;
        case 'c': component = optarg; break;
        case 'v': version = optarg; break;
        case 'u': uri = optarg; break;
        case 'I': integrate = true; break;
        case 'd': description = optarg; break;
        case 'T': untagged = true; break;
        case 'S': spec = optarg; break;
        case 'o': out = optarg; break;
        case 'q': cli_set_quiet(true); break;
        case 'h': help(); return 0;
        default: return cli_usage("create", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("create", "unexpected argument '%s'", argv[optind]);
    if (n_keys == 0 || !out)
        return cli_usage("create", "--key (or --hmac-key) and --out are required");
    if (author_enc_active(&enc) && spec)
        return cli_usage("create", "encryption and compression options apply to one --image, not --spec");
    if (enc.payload_out && !author_enc_active(&enc))
        return cli_usage("create", "--payload-out is for encrypted or compressed payloads");
    if (author_enc_active(&enc) && !uri && !integrate)
        return cli_usage("create", "an encrypted or compressed payload needs --uri or --integrate");
    if (spec && image)
        return cli_usage("create", "--spec and --image exclude each other");
    if (!spec && !image)
        return cli_usage("create", "give --image (one component) or --spec (several)");

    struct release *r = calloc(1, sizeof(*r));
    struct secup_manifest *m = malloc(sizeof(*m));
    struct secup_key *sk[SECUP_MAX_AUTH] = { 0 };
    struct secup_err err;
    uint8_t *env = NULL;
    size_t env_len = 0;
    int status = 0;
    secup_rc rc = SECUP_OK;
    secup_err_clear(&err);
    if (!r || !m) {
        free(r);
        free(m);
        secup_err_set(&err, SECUP_E_NOMEM, "no memory");
        return cli_fail("create", &err);
    }

    if (spec) {
        rc = load_spec(spec, r, &err);
        if (rc != SECUP_OK)
            goto fail;
    } else {
        r->n = 1;
        rc = compid_parse(component, &r->comps[0].cid, &err);
        if (rc == SECUP_OK)
            rc = copy_str(r->comps[0].image_path, sizeof(r->comps[0].image_path), image, "--image", &err);
        if (rc == SECUP_OK && uri)
            rc = copy_str(r->comps[0].uri, sizeof(r->comps[0].uri), uri, "--uri", &err);
        r->comps[0].integrate = integrate;
        if (rc != SECUP_OK)
            goto fail;
    }
    /* Command-line values override the spec's. */
    if (seq) {
        if (!cli_parse_u64(seq, &r->seq)) {
            status = cli_usage("create", "--seq '%s' is not a non-negative integer", seq);
            goto out;
        }
        r->has_seq = true;
    }
    if (vendor)
        rc = copy_str(r->vendor_domain, sizeof(r->vendor_domain), vendor, "--vendor-domain", &err);
    if (rc == SECUP_OK && cls)
        rc = copy_str(r->class_name, sizeof(r->class_name), cls, "--class", &err);
    if (rc == SECUP_OK && version)
        rc = copy_str(r->version, sizeof(r->version), version, "--version", &err);
    if (rc == SECUP_OK && description)
        rc = copy_str(r->description, sizeof(r->description), description, "--description", &err);
    if (rc != SECUP_OK)
        goto fail;
    if (!r->has_seq || !r->vendor_domain[0] || !r->class_name[0]) {
        status = cli_usage("create", "a sequence number (--seq), --vendor-domain and --class are required");
        goto out;
    }

    rc = secup_vendor_id(r->vendor_domain, r->vendor_id, &err);
    if (rc == SECUP_OK)
        rc = secup_class_id(r->vendor_id, r->class_name, r->class_id, &err);
    int64_t sign_algs[SECUP_MAX_AUTH];
    for (size_t i = 0; rc == SECUP_OK && i < n_keys; i++) {
        rc = author_load_signing_key(&keys[i], &sk[i], &err);
        sign_algs[i] = rc == SECUP_OK ? (secup_key_type(sk[i]) == SECUP_KEY_HMAC ? 5
                                         : secup_key_type(sk[i]) == SECUP_KEY_P256 ? -9 : -19)
                                      : 0;
    }
    if (rc == SECUP_OK)
        rc = load_images(r, &err);
    if (rc == SECUP_OK && author_enc_active(&enc)) {
        struct comp *c0 = &r->comps[0];
        rc = author_payload_build(&enc, c0->image_path, sign_algs, n_keys, &c0->payload,
                                  c0->payload_tmp, sizeof(c0->payload_tmp), &err);
        /* the digest the device checks is the plaintext's, computed twice independently */
        if (rc == SECUP_OK && (c0->payload.image_size != c0->image.len ||
                               memcmp(c0->payload.image_digest, c0->digest, 32) != 0))
            rc = secup_err_set(&err, SECUP_E_DIGEST, "image '%s' changed while its payload was built",
                               c0->image_path);
        if (rc == SECUP_OK && c0->integrate)
            rc = secup_file_map(c0->payload_tmp, &c0->payload_map, &err);
        c0->transformed = rc == SECUP_OK;
        r->compress = enc.compress;
    }
    if (rc == SECUP_OK)
        rc = build_manifest(m, r, &err);
    if (rc != SECUP_OK)
        goto fail;

    struct secup_integrated integ[SECUP_MAX_INTEGRATED];
    size_t n_integ = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        if (!r->comps[i].integrate)
            continue;
        if (n_integ >= SECUP_MAX_INTEGRATED) {
            rc = secup_err_set(&err, SECUP_E_LIMIT_DEPENDENCIES, "more than %d integrated images",
                               SECUP_MAX_INTEGRATED);
            goto fail;
        }
        integ[n_integ].name = secup_bytes_of(r->comps[i].name, strlen(r->comps[i].name));
        integ[n_integ].data = r->comps[i].transformed ? r->comps[i].payload_map : r->comps[i].image;
        n_integ++;
    }
    struct secup_seal_opts so = { untagged, integ, n_integ };
    rc = presign_check(m, r, &err);
    if (rc != SECUP_OK)
        goto fail;
    rc = secup_envelope_seal(m, (const struct secup_key *const *)sk, n_keys, &so, &env, &env_len, &err);
    if (rc == SECUP_OK)
        rc = self_check(env, env_len, keys, n_keys, r, &err);
    /* the payload first: an envelope never points at a payload that is not there */
    if (rc == SECUP_OK && r->comps[0].transformed) {
        rc = secup_file_commit(r->comps[0].payload_tmp, enc.payload_out, &err);
        if (rc == SECUP_OK)
            r->comps[0].payload_tmp[0] = '\0';
    }
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(out, secup_bytes_of(env, env_len), 0644, &err);
    if (rc != SECUP_OK)
        goto fail;
    if (r->comps[0].transformed)
        cli_note("wrote %s: %llu bytes (%s%s%s)", enc.payload_out,
                 (unsigned long long)r->comps[0].payload.payload_size,
                 enc.compress ? "zstd" : "", enc.compress && r->comps[0].payload.enc_info_len ? ", " : "",
                 r->comps[0].payload.enc_info_len ? "encrypted" : "");
    cli_note("wrote %s: %zu bytes, sequence %llu, %u component%s, %zu signature%s", out, env_len,
             (unsigned long long)r->seq, r->n, r->n == 1 ? "" : "s", n_keys, n_keys == 1 ? "" : "s");
    goto out;
fail:
    status = cli_fail("create", &err);
out:
    secup_buffer_free(env);
    for (size_t i = 0; i < n_keys; i++)
        secup_key_free(sk[i]);
    unmap_images(r);
    secup_file_unmap(r->comps[0].payload_map);
    if (r->comps[0].payload_tmp[0])
        unlink(r->comps[0].payload_tmp);
    free(m);
    free(r);
    return status;
}
