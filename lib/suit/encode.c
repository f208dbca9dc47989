/* SUIT envelope and manifest encoder: deterministic CBOR (shortest-form heads, definite
 * lengths, map keys in ascending order) from the model of secup/manifest.h.
 *
 * bstr-wrapped elements need their length before their content, so each wrapped element
 * is first encoded into a counting writer and then for real. */
#include <string.h>

#include "cbor/codec.h"
#include "secup/manifest.h"

typedef void (*put_fn)(struct secup_cbor_writer *w, const void *ctx, uint64_t arg);

/* Writes bstr(<what put() writes>). */
static void put_wrapped(struct secup_cbor_writer *w, put_fn put, const void *ctx, uint64_t arg)
{
    struct secup_cbor_writer count;
    secup_cbor_writer_init(&count, NULL, 0);
    put(&count, ctx, arg);
    secup_cbor_put_bstr_head(w, count.len);
    put(w, ctx, arg);
}

static void put_value(struct secup_cbor_writer *w, const struct secup_value *v)
{
    switch (v->kind) {
    case SECUP_VAL_UINT: secup_cbor_put_uint(w, v->u); break;
    case SECUP_VAL_NINT: secup_cbor_put_nint(w, v->u); break;
    case SECUP_VAL_BOOL: secup_cbor_put_bool(w, v->b); break;
    case SECUP_VAL_BSTR: secup_cbor_put_bstr(w, v->bytes); break;
    case SECUP_VAL_TSTR: secup_cbor_put_tstr(w, v->bytes); break;
    case SECUP_VAL_RAW: secup_cbor_put_raw(w, v->bytes); break;
    case SECUP_VAL_NULL:
    case SECUP_VAL_NONE: secup_cbor_put_null(w); break;
    }
}

static void put_component_id(struct secup_cbor_writer *w, const struct secup_component_id *id)
{
    secup_cbor_put_array(w, id->n_parts);
    for (uint32_t i = 0; i < id->n_parts; i++)
        secup_cbor_put_bstr(w, id->parts[i]);
}

/* Deterministic order of integer keys: 0, 1, 2, ... then -1, -2, ... (RFC 8949 4.2.1). */
static bool key_before(int64_t a, int64_t b)
{
    if ((a >= 0) != (b >= 0))
        return a >= 0;
    return a >= 0 ? a < b : a > b;
}

static void put_param_map(struct secup_cbor_writer *w, const struct secup_manifest *m,
                          uint32_t first, uint32_t count)
{
    uint32_t order[SECUP_MAX_MAP_PARAMS];
    uint32_t n = count < SECUP_MAX_MAP_PARAMS ? count : SECUP_MAX_MAP_PARAMS;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i;
        while (j > 0 && key_before(m->params[first + i].key, m->params[order[j - 1]].key)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = first + i;
    }
    secup_cbor_put_map(w, n);
    for (uint32_t i = 0; i < n; i++) {
        secup_cbor_put_int(w, m->params[order[i]].key);
        put_value(w, &m->params[order[i]].value);
    }
}

/* Parameters of override-multiple and copy-params are grouped by their index. */
static uint32_t group_end(const struct secup_manifest *m, uint32_t i, uint32_t end)
{
    uint32_t j = i + 1;
    while (j < end && m->params[j].index == m->params[i].index)
        j++;
    return j;
}

static uint32_t count_groups(const struct secup_manifest *m, uint32_t first, uint32_t count)
{
    uint32_t groups = 0;
    for (uint32_t i = first; i < first + count; i = group_end(m, i, first + count))
        groups++;
    return groups;
}

static void put_seq(struct secup_cbor_writer *w, const void *ctx, uint64_t seq_index);

static void put_command(struct secup_cbor_writer *w, const struct secup_manifest *m,
                        const struct secup_command *c)
{
    secup_cbor_put_int(w, c->code);
    switch (c->kind) {
    case SECUP_ARG_POLICY:
    case SECUP_ARG_INDEX:
        secup_cbor_put_uint(w, c->u);
        break;
    case SECUP_ARG_INDEX_ALL:
        secup_cbor_put_bool(w, true);
        break;
    case SECUP_ARG_INDEX_LIST:
        secup_cbor_put_array(w, c->count);
        for (uint32_t i = 0; i < c->count; i++)
            secup_cbor_put_uint(w, (uint64_t)m->ints[c->first + i]);
        break;
    case SECUP_ARG_PARAMS:
        put_param_map(w, m, c->first, c->count);
        break;
    case SECUP_ARG_MULTI_PARAMS: {
        uint32_t end = c->first + c->count;
        secup_cbor_put_map(w, count_groups(m, c->first, c->count));
        for (uint32_t i = c->first; i < end;) {
            uint32_t j = group_end(m, i, end);
            secup_cbor_put_uint(w, m->params[i].index);
            put_param_map(w, m, i, j - i);
            i = j;
        }
        break;
    }
    case SECUP_ARG_COPY_PARAMS: {
        uint32_t end = c->first + c->count;
        secup_cbor_put_map(w, count_groups(m, c->first, c->count));
        for (uint32_t i = c->first; i < end;) {
            uint32_t j = group_end(m, i, end);
            secup_cbor_put_uint(w, m->params[i].index);
            secup_cbor_put_array(w, j - i);
            for (uint32_t k = i; k < j; k++)
                secup_cbor_put_int(w, m->params[k].key);
            i = j;
        }
        break;
    }
    case SECUP_ARG_SEQUENCE:
        put_wrapped(w, put_seq, m, c->first);
        break;
    case SECUP_ARG_TRY_EACH:
        secup_cbor_put_array(w, c->count + (c->try_each_nil ? 1u : 0u));
        for (uint32_t i = 0; i < c->count; i++)
            put_wrapped(w, put_seq, m, c->first + i);
        if (c->try_each_nil)
            secup_cbor_put_null(w);
        break;
    case SECUP_ARG_VALUE:
        put_value(w, &c->value);
        break;
    }
}

static void put_seq(struct secup_cbor_writer *w, const void *ctx, uint64_t seq_index)
{
    const struct secup_manifest *m = ctx;
    const struct secup_seq *s = &m->seqs[seq_index];
    secup_cbor_put_array(w, (size_t)s->count * 2);
    for (uint32_t i = 0; i < s->count; i++)
        put_command(w, m, &m->commands[s->first + i]);
}

static void put_digest(struct secup_cbor_writer *w, const struct secup_digest *d)
{
    secup_cbor_put_array(w, 2);
    secup_cbor_put_int(w, d->alg);
    secup_cbor_put_bstr(w, d->bytes);
}

static void put_common(struct secup_cbor_writer *w, const void *ctx, uint64_t unused)
{
    const struct secup_manifest *m = ctx;
    (void)unused;
    size_t n = (m->has_dependencies ? 1u : 0u) + (m->has_components ? 1u : 0u) +
               (m->has_shared ? 1u : 0u);
    secup_cbor_put_map(w, n);
    if (m->has_dependencies) {
        secup_cbor_put_uint(w, 1);
        secup_cbor_put_map(w, m->n_dependencies);
        for (uint32_t i = 0; i < m->n_dependencies; i++) {
            const struct secup_dependency *d = &m->dependencies[i];
            secup_cbor_put_uint(w, d->index);
            secup_cbor_put_map(w, d->has_prefix ? 1 : 0);
            if (d->has_prefix) {
                secup_cbor_put_uint(w, 1);
                put_component_id(w, &d->prefix);
            }
        }
    }
    if (m->has_components) {
        secup_cbor_put_uint(w, 2);
        secup_cbor_put_array(w, m->n_components);
        for (uint32_t i = 0; i < m->n_components; i++)
            put_component_id(w, &m->components[i]);
    }
    if (m->has_shared) {
        secup_cbor_put_uint(w, 4);
        put_wrapped(w, put_seq, m, m->shared_seq);
    }
}

/* Deterministic map order (RFC 8949 section 4.2.1) is the bytewise order of the encoded
 * keys; keys are short, so they are encoded into small buffers and compared. */
#define KEY_ENC_MAX 600

static size_t enc_tstr_key(struct secup_bytes s, uint8_t *buf)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, KEY_ENC_MAX);
    secup_cbor_put_tstr(&w, s);
    return w.len < KEY_ENC_MAX ? w.len : KEY_ENC_MAX;
}

static size_t enc_id_key(const struct secup_component_id *id, uint8_t *buf)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, KEY_ENC_MAX);
    put_component_id(&w, id);
    return w.len < KEY_ENC_MAX ? w.len : KEY_ENC_MAX;
}

static int cmp_enc(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static int cmp_tstr_keys(struct secup_bytes x, struct secup_bytes y)
{
    uint8_t a[KEY_ENC_MAX];
    uint8_t b[KEY_ENC_MAX];
    size_t an = enc_tstr_key(x, a);
    size_t bn = enc_tstr_key(y, b);
    return cmp_enc(a, an, b, bn);
}

/* Order of two text entries: by language, then manifest-level integer keys (which encode
 * below any array) before component maps, then by key. */
static int cmp_text(const struct secup_manifest *m, const struct secup_text *x,
                    const struct secup_text *y)
{
    int c = cmp_tstr_keys(x->lang, y->lang);
    if (c != 0)
        return c;
    if ((x->component < 0) != (y->component < 0))
        return x->component < 0 ? -1 : 1;
    if (x->component >= 0 && x->component != y->component) {
        uint8_t a[KEY_ENC_MAX];
        uint8_t b[KEY_ENC_MAX];
        size_t an = enc_id_key(&m->text_ids[x->component], a);
        size_t bn = enc_id_key(&m->text_ids[y->component], b);
        c = cmp_enc(a, an, b, bn);
        if (c != 0)
            return c;
    }
    if (x->key == y->key)
        return 0;
    return key_before(x->key, y->key) ? -1 : 1;
}

static bool same_comp(const struct secup_manifest *m, const struct secup_text *x,
                      const struct secup_text *y)
{
    if (x->component < 0 || y->component < 0)
        return false;
    return x->component == y->component ||
           secup_component_id_equal(&m->text_ids[x->component], &m->text_ids[y->component]);
}

/* Text entries are written sorted, so that entries added in any order (or a language
 * added in several pieces) still give one deterministic map. */
static void put_text(struct secup_cbor_writer *w, const void *ctx, uint64_t unused)
{
    const struct secup_manifest *m = ctx;
    uint32_t order[SECUP_MAX_TEXT];
    uint32_t n = m->n_text < SECUP_MAX_TEXT ? m->n_text : SECUP_MAX_TEXT;
    (void)unused;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i;
        while (j > 0 && cmp_text(m, &m->text[i], &m->text[order[j - 1]]) < 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    uint32_t langs = 0;
    for (uint32_t i = 0; i < n; i++)
        langs += i == 0 || !secup_bytes_equal(m->text[order[i]].lang, m->text[order[i - 1]].lang);
    secup_cbor_put_map(w, langs);
    for (uint32_t i = 0; i < n;) {
        const struct secup_text *first = &m->text[order[i]];
        uint32_t le = i + 1;
        while (le < n && secup_bytes_equal(m->text[order[le]].lang, first->lang))
            le++;
        uint32_t keys = 0;
        for (uint32_t j = i; j < le; j++)
            keys += j == i || !same_comp(m, &m->text[order[j]], &m->text[order[j - 1]]);
        secup_cbor_put_tstr(w, first->lang);
        secup_cbor_put_map(w, keys);
        for (uint32_t j = i; j < le;) {
            const struct secup_text *t = &m->text[order[j]];
            if (t->component < 0) {
                secup_cbor_put_int(w, t->key);
                secup_cbor_put_tstr(w, t->value);
                j++;
                continue;
            }
            uint32_t ce = j + 1;
            while (ce < le && same_comp(m, &m->text[order[ce]], t))
                ce++;
            put_component_id(w, &m->text_ids[t->component]);
            secup_cbor_put_map(w, ce - j);
            for (uint32_t k = j; k < ce; k++) {
                secup_cbor_put_int(w, m->text[order[k]].key);
                secup_cbor_put_tstr(w, m->text[order[k]].value);
            }
            j = ce;
        }
        i = le;
    }
}

static void put_ints(struct secup_cbor_writer *w, const void *ctx, uint64_t unused)
{
    const struct secup_manifest *m = ctx;
    (void)unused;
    secup_cbor_put_array(w, m->set_version_count);
    for (uint32_t i = 0; i < m->set_version_count; i++)
        secup_cbor_put_int(w, m->ints[m->set_version_first + i]);
}

/* The content of a member as it appears wrapped in the manifest or the envelope. */
static void put_member_wrapped(struct secup_cbor_writer *w, const struct secup_manifest *m,
                               enum secup_section s)
{
    const struct secup_member *mem = &m->members[s];
    if (s == SECUP_SECTION_TEXT)
        put_wrapped(w, put_text, m, 0);
    else if (s == SECUP_SECTION_COSWID)
        secup_cbor_put_bstr(w, mem->content);
    else
        put_wrapped(w, put_seq, m, mem->seq);
}

/* Manifest keys in ascending order, with the section each belongs to (or -1). */
static const struct {
    int64_t key;
    int section;
} manifest_order[] = {
    { 1, -1 }, { 2, -1 }, { 3, -1 }, { 4, -1 }, { 5, -1 }, { 6, -1 },
    { 7, SECUP_SECTION_VALIDATE }, { 8, SECUP_SECTION_LOAD }, { 9, SECUP_SECTION_INVOKE },
    { 14, SECUP_SECTION_COSWID }, { 15, SECUP_SECTION_DEPENDENCY_RESOLUTION },
    { 16, SECUP_SECTION_PAYLOAD_FETCH }, { 18, SECUP_SECTION_CANDIDATE_VERIFICATION },
    { 20, SECUP_SECTION_INSTALL }, { 23, SECUP_SECTION_TEXT }, { 24, SECUP_SECTION_UNINSTALL },
};

static bool has_key(const struct secup_manifest *m, int64_t key, int section)
{
    if (section >= 0)
        return m->members[section].state != SECUP_MEMBER_ABSENT;
    switch (key) {
    case 4: return m->has_reference_uri;
    case 5: return m->has_component_id;
    case 6: return m->has_set_version;
    default: return true;
    }
}

static void put_manifest(struct secup_cbor_writer *w, const void *ctx, uint64_t unused)
{
    const struct secup_manifest *m = ctx;
    (void)unused;
    size_t n = 0;
    size_t count = sizeof(manifest_order) / sizeof(manifest_order[0]);
    for (size_t i = 0; i < count; i++)
        n += has_key(m, manifest_order[i].key, manifest_order[i].section) ? 1 : 0;
    secup_cbor_put_map(w, n);
    for (size_t i = 0; i < count; i++) {
        int64_t key = manifest_order[i].key;
        int s = manifest_order[i].section;
        if (!has_key(m, key, s))
            continue;
        secup_cbor_put_uint(w, (uint64_t)key);
        switch (key) {
        case 1: secup_cbor_put_uint(w, m->version); continue;
        case 2: secup_cbor_put_uint(w, m->sequence_number); continue;
        case 3: put_wrapped(w, put_common, m, 0); continue;
        case 4: secup_cbor_put_tstr(w, m->reference_uri); continue;
        case 5: put_component_id(w, &m->component_id); continue;
        case 6: put_wrapped(w, put_ints, m, 0); continue;
        default: break;
        }
        if (m->members[s].state == SECUP_MEMBER_SEVERED)
            put_digest(w, &m->members[s].digest);
        else
            put_member_wrapped(w, m, (enum secup_section)s);
    }
}

static secup_rc finish(const struct secup_cbor_writer *w, size_t *len, struct secup_err *err)
{
    *len = w->len;
    return secup_cbor_writer_finish(w, err);
}

secup_rc secup_manifest_encode(const struct secup_manifest *m, uint8_t *buf, size_t cap,
                               size_t *len, struct secup_err *err)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    put_manifest(&w, m, 0);
    return finish(&w, len, err);
}

secup_rc secup_component_id_encode(const struct secup_component_id *id, uint8_t *buf, size_t cap,
                                   size_t *len, struct secup_err *err)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    put_component_id(&w, id);
    return finish(&w, len, err);
}

secup_rc secup_digest_encode(const struct secup_digest *d, uint8_t *buf, size_t cap, size_t *len,
                             struct secup_err *err)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    put_digest(&w, d);
    return finish(&w, len, err);
}

static void put_auth_block(struct secup_cbor_writer *w, const void *ctx, uint64_t unused)
{
    const struct secup_auth_block *a = ctx;
    (void)unused;
    secup_cbor_put_tag(w, (uint64_t)a->type);
    secup_cbor_put_array(w, 4);
    secup_cbor_put_bstr(w, a->protected_hdr);
    if (a->unprotected.len)
        secup_cbor_put_raw(w, a->unprotected);
    else
        secup_cbor_put_map(w, 0);
    if (a->has_payload)
        secup_cbor_put_bstr(w, a->payload);
    else
        secup_cbor_put_null(w);
    secup_cbor_put_bstr(w, a->tag);
}

static void put_digest_cb(struct secup_cbor_writer *w, const void *ctx, uint64_t unused)
{
    (void)unused;
    put_digest(w, ctx);
}

static void put_auth_wrapper(struct secup_cbor_writer *w, const void *ctx, uint64_t unused)
{
    const struct secup_envelope *env = ctx;
    (void)unused;
    secup_cbor_put_array(w, 1 + (size_t)env->n_auth);
    put_wrapped(w, put_digest_cb, &env->digest, 0);
    for (uint32_t i = 0; i < env->n_auth; i++)
        put_wrapped(w, put_auth_block, &env->auth[i], 0);
}

secup_rc secup_envelope_encode(const struct secup_envelope *env, uint8_t *buf, size_t cap,
                               size_t *len, struct secup_err *err)
{
    const struct secup_manifest *m = &env->manifest;
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    size_t n = 2 + env->n_integrated;
    for (size_t i = 0; i < sizeof(manifest_order) / sizeof(manifest_order[0]); i++) {
        int s = manifest_order[i].section;
        if (s >= 0 && m->members[s].state == SECUP_MEMBER_SEVERED && m->members[s].available)
            n++;
    }
    if (env->tagged)
        secup_cbor_put_tag(&w, 107);
    secup_cbor_put_map(&w, n);
    secup_cbor_put_uint(&w, 2);
    put_wrapped(&w, put_auth_wrapper, env, 0);
    secup_cbor_put_uint(&w, 3);
    put_wrapped(&w, put_manifest, m, 0);
    for (size_t i = 0; i < sizeof(manifest_order) / sizeof(manifest_order[0]); i++) {
        int s = manifest_order[i].section;
        if (s < 0 || m->members[s].state != SECUP_MEMBER_SEVERED || !m->members[s].available)
            continue;
        secup_cbor_put_uint(&w, (uint64_t)manifest_order[i].key);
        /* The manifest keeps the digest of the severed bytes as they were: write those
         * bytes, not a re-encoding that could differ from non-deterministic input. */
        if (m->members[s].content.ptr)
            secup_cbor_put_bstr(&w, m->members[s].content);
        else
            put_member_wrapped(&w, m, (enum secup_section)s);
    }
    uint32_t order[SECUP_MAX_INTEGRATED];
    uint32_t ni = env->n_integrated < SECUP_MAX_INTEGRATED ? env->n_integrated : SECUP_MAX_INTEGRATED;
    for (uint32_t i = 0; i < ni; i++) {
        uint32_t j = i;
        while (j > 0 && cmp_tstr_keys(env->integrated[i].name, env->integrated[order[j - 1]].name) < 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (uint32_t i = 0; i < ni; i++) {
        secup_cbor_put_tstr(&w, env->integrated[order[i]].name);
        secup_cbor_put_bstr(&w, env->integrated[order[i]].data);
    }
    return finish(&w, len, err);
}

/* ---- builders ---- */

bool secup_component_id_equal(const struct secup_component_id *a,
                              const struct secup_component_id *b)
{
    if (a->n_parts != b->n_parts)
        return false;
    for (uint32_t i = 0; i < a->n_parts; i++) {
        if (!secup_bytes_equal(a->parts[i], b->parts[i]))
            return false;
    }
    return true;
}

void secup_manifest_init(struct secup_manifest *m)
{
    memset(m, 0, sizeof(*m));
    m->version = 1;
}

secup_rc secup_manifest_add_component(struct secup_manifest *m, const struct secup_component_id *id,
                                      struct secup_err *err)
{
    if (m->n_components >= SECUP_MAX_COMPONENTS)
        return secup_err_set(err, SECUP_E_LIMIT_COMPONENTS, "more than %d components",
                             SECUP_MAX_COMPONENTS);
    if (id->n_parts > SECUP_MAX_ID_PARTS)
        return secup_err_set(err, SECUP_E_LIMIT_ITEMS, "component identifier of %u parts",
                             id->n_parts);
    m->components[m->n_components++] = *id;
    m->has_components = true;
    return SECUP_OK;
}

secup_rc secup_manifest_begin_seq(struct secup_manifest *m, uint32_t *seq, struct secup_err *err)
{
    if (m->n_seqs >= SECUP_MAX_SEQS)
        return secup_err_set(err, SECUP_E_LIMIT_COMMANDS, "more than %d sequences", SECUP_MAX_SEQS);
    *seq = m->n_seqs++;
    m->seqs[*seq].first = m->n_commands;
    m->seqs[*seq].count = 0;
    return SECUP_OK;
}

static secup_rc append(struct secup_manifest *m, uint32_t seq, struct secup_command **out,
                       struct secup_err *err)
{
    /* Only the most recently begun sequence can grow: its commands must stay contiguous
     * at the end of the pool. */
    if (m->n_seqs == 0 || seq != m->n_seqs - 1)
        return secup_err_set(err, SECUP_E_STATE, "sequence %u is not the one being built", seq);
    struct secup_seq *s = &m->seqs[seq];
    if (s->first + s->count != m->n_commands)
        return secup_err_set(err, SECUP_E_STATE, "sequence %u is not the one being built", seq);
    if (m->n_commands >= SECUP_MAX_COMMANDS || s->count >= SECUP_MAX_SEQ_LEN)
        return secup_err_set(err, SECUP_E_LIMIT_COMMANDS, "too many commands");
    *out = &m->commands[m->n_commands++];
    memset(*out, 0, sizeof(**out));
    s->count++;
    return SECUP_OK;
}

secup_rc secup_manifest_append_policy(struct secup_manifest *m, uint32_t seq, int64_t code,
                                      uint64_t policy, struct secup_err *err)
{
    struct secup_command *c = NULL;
    secup_rc rc = append(m, seq, &c, err);
    if (rc != SECUP_OK)
        return rc;
    c->code = code;
    c->kind = SECUP_ARG_POLICY;
    c->u = policy;
    return SECUP_OK;
}

secup_rc secup_manifest_append_index(struct secup_manifest *m, uint32_t seq, uint64_t index,
                                     struct secup_err *err)
{
    struct secup_command *c = NULL;
    secup_rc rc = append(m, seq, &c, err);
    if (rc != SECUP_OK)
        return rc;
    c->code = SECUP_SUIT_DIR_SET_COMPONENT_INDEX;
    c->kind = SECUP_ARG_INDEX;
    c->u = index;
    return SECUP_OK;
}

secup_rc secup_manifest_append_params(struct secup_manifest *m, uint32_t seq, int64_t code,
                                      const struct secup_param *p, size_t n,
                                      struct secup_err *err)
{
    if (code != SECUP_SUIT_DIR_SET_PARAMETERS && code != SECUP_SUIT_DIR_OVERRIDE_PARAMETERS)
        return secup_err_set(err, SECUP_E_ARG, "command %lld does not take parameters",
                             (long long)code);
    if (n == 0 || n > SECUP_MAX_MAP_PARAMS || n > SECUP_MAX_PARAMS - m->n_params)
        return secup_err_set(err, SECUP_E_LIMIT_PARAMS, "cannot add %zu parameters", n);
    struct secup_command *c = NULL;
    secup_rc rc = append(m, seq, &c, err);
    if (rc != SECUP_OK)
        return rc;
    c->code = code;
    c->kind = SECUP_ARG_PARAMS;
    c->first = m->n_params;
    c->count = (uint32_t)n;
    memcpy(&m->params[m->n_params], p, n * sizeof(*p));
    m->n_params += (uint32_t)n;
    return SECUP_OK;
}

secup_rc secup_manifest_add_text(struct secup_manifest *m, struct secup_bytes lang,
                                 const struct secup_component_id *id, int64_t key,
                                 struct secup_bytes value, struct secup_err *err)
{
    if (m->n_text >= SECUP_MAX_TEXT)
        return secup_err_set(err, SECUP_E_LIMIT_TEXT, "more than %d text entries", SECUP_MAX_TEXT);
    int32_t comp = -1;
    if (id) {
        for (uint32_t i = 0; i < m->n_text_ids; i++) {
            if (secup_component_id_equal(&m->text_ids[i], id))
                comp = (int32_t)i;
        }
        if (comp < 0) {
            if (m->n_text_ids >= SECUP_MAX_COMPONENTS)
                return secup_err_set(err, SECUP_E_LIMIT_TEXT, "text for too many components");
            m->text_ids[m->n_text_ids] = *id;
            comp = (int32_t)m->n_text_ids++;
        }
    }
    struct secup_text *t = &m->text[m->n_text++];
    t->lang = lang;
    t->component = comp;
    t->key = key;
    t->value = value;
    m->members[SECUP_SECTION_TEXT].state = SECUP_MEMBER_PRESENT;
    m->members[SECUP_SECTION_TEXT].available = true;
    return SECUP_OK;
}
