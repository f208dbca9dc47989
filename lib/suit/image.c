/* Resolving a component's image parameters from the command sequences, the way a SUIT
 * processor sees them when it reaches the validate or install sequence. */
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "secup/manifest.h"
#include "secup/stream.h"

struct resolve {
    const struct secup_manifest *m;
    uint32_t component;
    bool selected;
    bool in_try_each_hit;
    struct secup_image_info *info;
};

static void apply(struct resolve *r, const struct secup_param *p, bool keep_set)
{
    struct secup_image_info *in = r->info;
    switch (p->key) {
    case SECUP_SUIT_PARAM_IMAGE_DIGEST:
        if (keep_set && in->has_digest)
            return;
        if (p->value.kind == SECUP_VAL_BSTR &&
            secup_digest_decode(&in->digest, p->value.bytes, NULL) == SECUP_OK)
            in->has_digest = true;
        return;
    case SECUP_SUIT_PARAM_IMAGE_SIZE:
        if (keep_set && in->has_size)
            return;
        in->has_size = p->value.kind == SECUP_VAL_UINT;
        in->size = p->value.u;
        return;
    case SECUP_SUIT_PARAM_URI:
        if (keep_set && in->has_uri)
            return;
        in->has_uri = p->value.kind == SECUP_VAL_TSTR;
        in->uri = p->value.bytes;
        return;
    case SECUP_SUIT_PARAM_CONTENT:
        if (keep_set && in->has_content)
            return;
        in->has_content = p->value.kind == SECUP_VAL_BSTR;
        in->content = p->value.bytes;
        return;
    case SECUP_SUIT_PARAM_COMPRESSION:
        if (keep_set && in->compression)
            return;
        in->compression = p->value.kind == SECUP_VAL_UINT ? p->value.u : UINT64_MAX;
        return;
    case SECUP_SUIT_PARAM_ENCRYPTION_INFO:
        if (keep_set && in->has_encryption)
            return;
        in->has_encryption = p->value.kind == SECUP_VAL_BSTR;
        in->encryption_info = p->value.bytes;
        return;
    default:
        return;
    }
}

static bool index_selects(const struct secup_manifest *m, const struct secup_command *c,
                          uint32_t component)
{
    switch (c->kind) {
    case SECUP_ARG_INDEX: return c->u == component;
    case SECUP_ARG_INDEX_ALL: return true;
    case SECUP_ARG_INDEX_LIST:
        for (uint32_t i = 0; i < c->count; i++) {
            if (m->ints[c->first + i] == (int64_t)component)
                return true;
        }
        return false;
    default: return false;
    }
}

static secup_rc walk(struct resolve *r, uint32_t seq, unsigned depth, struct secup_err *err)
{
    const struct secup_manifest *m = r->m;
    if (depth > SECUP_MAX_SEQ_DEPTH)
        return secup_err_set(err, SECUP_E_LIMIT_DEPTH, "sequences nested too deep");
    const struct secup_seq *s = &m->seqs[seq];
    for (uint32_t i = 0; i < s->count; i++) {
        const struct secup_command *c = &m->commands[s->first + i];
        switch (c->code) {
        case SECUP_SUIT_DIR_SET_COMPONENT_INDEX:
            r->selected = index_selects(m, c, r->component);
            break;
        case SECUP_SUIT_DIR_OVERRIDE_PARAMETERS:
        case SECUP_SUIT_DIR_SET_PARAMETERS:
            if (!r->selected)
                break;
            for (uint32_t k = 0; k < c->count; k++)
                apply(r, &m->params[c->first + k], c->code == SECUP_SUIT_DIR_SET_PARAMETERS);
            break;
        case SECUP_SUIT_DIR_OVERRIDE_MULTIPLE:
            for (uint32_t k = 0; k < c->count; k++) {
                if (m->params[c->first + k].index == r->component)
                    apply(r, &m->params[c->first + k], false);
            }
            break;
        case SECUP_SUIT_DIR_RUN_SEQUENCE: {
            secup_rc rc = walk(r, c->first, depth + 1, err);
            if (rc != SECUP_OK)
                return rc;
            break;
        }
        case SECUP_SUIT_DIR_TRY_EACH:
            /* Parameters set inside try-each depend on which alternative's conditions
             * hold on the device; a static reading cannot pick one. */
            for (uint32_t a = 0; a < c->count; a++) {
                const struct secup_seq *alt = &m->seqs[c->first + a];
                for (uint32_t k = 0; k < alt->count; k++) {
                    const struct secup_command *ac = &m->commands[alt->first + k];
                    if ((ac->code == SECUP_SUIT_DIR_OVERRIDE_PARAMETERS ||
                         ac->code == SECUP_SUIT_DIR_SET_PARAMETERS) && r->selected)
                        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                                             "component %u: image parameters are chosen by try-each on the device",
                                             r->component);
                }
            }
            break;
        default:
            break;
        }
    }
    return SECUP_OK;
}

secup_rc secup_manifest_image_info(const struct secup_manifest *m, uint32_t component,
                                   struct secup_image_info *info, struct secup_err *err)
{
    memset(info, 0, sizeof(*info));
    if (component >= m->n_components)
        return secup_err_set(err, SECUP_E_VALUE, "component %u does not exist (the manifest has %u)",
                             component, m->n_components);
    struct resolve r = { m, component, component == 0, false, info };
    secup_rc rc = SECUP_OK;
    if (m->has_shared)
        rc = walk(&r, m->shared_seq, 0, err);
    /* The uri (and, for encrypted payloads, the encryption info) is normally set where it
     * is used: in payload-fetch or install. */
    static const enum secup_section later[] = { SECUP_SECTION_PAYLOAD_FETCH, SECUP_SECTION_INSTALL };
    for (size_t i = 0; rc == SECUP_OK && i < sizeof(later) / sizeof(later[0]); i++) {
        const struct secup_member *mem = &m->members[later[i]];
        if (mem->state == SECUP_MEMBER_ABSENT || !mem->available)
            continue;
        r.selected = component == 0;
        rc = walk(&r, mem->seq, 0, err);
    }
    if (rc != SECUP_OK)
        memset(info, 0, sizeof(*info));
    return rc;
}

secup_rc secup_sha256(struct secup_bytes data, uint8_t out[32], struct secup_err *err)
{
    return secup_crypto_sha256(data, out, err);
}

secup_rc secup_digest_check(const struct secup_digest *d, struct secup_bytes data,
                            struct secup_err *err)
{
    if (d->alg != SECUP_COSE_ALG_SHA256)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "digest algorithm %lld is not supported",
                             (long long)d->alg);
    uint8_t h[SECUP_SHA256_LEN];
    secup_rc rc = secup_crypto_sha256(data, h, err);
    if (rc != SECUP_OK)
        return rc;
    if (!secup_ct_equal(secup_bytes_of(h, sizeof(h)), d->bytes))
        return secup_err_set(err, SECUP_E_DIGEST, "SHA-256 of the image does not match the manifest");
    return SECUP_OK;
}

void secup_manifest_version_text(const struct secup_manifest *m,
                                 const struct secup_component_id *id, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    for (uint32_t i = 0; i < m->n_text; i++) {
        const struct secup_text *t = &m->text[i];
        if (t->component >= 0 && t->key == 6 &&
            secup_component_id_equal(&m->text_ids[t->component], id)) {
            snprintf(out, cap, "%.*s", (int)t->value.len, (const char *)t->value.ptr);
            return;
        }
    }
    size_t used = 0;
    for (uint32_t i = 0; m->has_set_version && i < m->set_version_count && used + 24 < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%lld", i ? "." : "",
                         (long long)m->ints[m->set_version_first + i]);
        if (n > 0)
            used += (size_t)n;
    }
}
