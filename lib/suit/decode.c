/* SUIT envelope and manifest decoder (draft-ietf-suit-manifest-37, SUIT.md section 2).
 *
 * Everything is decoded into the fixed pools of struct secup_manifest, with views into the
 * input. Every count read from the input is checked against a bound before it is used,
 * and every map key is checked for duplicates: two values for one key would let two
 * processors read different manifests from the same signed bytes. */
#include <string.h>

#include "cbor/codec.h"
#include "crypto/crypto.h"
#include "decode.h"
#include "secup/manifest.h"

struct secup_limits secup_limits_default(void)
{
    struct secup_limits l = {
        .max_envelope = 16u * 1024 * 1024,
        .max_tstr = 4096,
        .max_bstr = 64u * 1024,
        .max_items = 256,
    };
    return l;
}

struct severed_copy {
    bool present;
    struct secup_bytes content;
    struct secup_bytes wrapped;
};

struct dec {
    const struct secup_limits *lim;
    struct secup_manifest *m;
    unsigned seq_depth;
    struct secup_err *err;
};

/* ---- bounded primitive reads ---- */

static secup_rc get_bstr(struct dec *d, struct secup_cbor_reader *r, struct secup_bytes *out,
                         const char *what)
{
    secup_rc rc = secup_cbor_read_bstr(r, out, what, d->err);
    if (rc == SECUP_OK && out->len > d->lim->max_bstr)
        return secup_err_set(d->err, SECUP_E_LIMIT_BYTES,
                             "%s: byte string of %zu bytes exceeds the limit of %zu", what,
                             out->len, d->lim->max_bstr);
    return rc;
}

static secup_rc get_tstr(struct dec *d, struct secup_cbor_reader *r, struct secup_bytes *out,
                         const char *what)
{
    secup_rc rc = secup_cbor_read_tstr(r, out, what, d->err);
    if (rc == SECUP_OK && out->len > d->lim->max_tstr)
        return secup_err_set(d->err, SECUP_E_LIMIT_STRING,
                             "%s: text string of %zu bytes exceeds the limit of %zu", what,
                             out->len, d->lim->max_tstr);
    return rc;
}

/* A container count is bounded by the configured maximum and by the bytes left (every
 * entry takes at least one byte), before anything is sized from it. */
static secup_rc check_count(struct dec *d, const struct secup_cbor_reader *r, uint64_t n,
                            uint64_t per_entry, const char *what)
{
    if (n > d->lim->max_items)
        return secup_err_set(d->err, SECUP_E_LIMIT_ITEMS, "%s: %llu entries exceed the limit of %zu",
                             what, (unsigned long long)n, d->lim->max_items);
    if (n * per_entry > r->len - r->pos)
        return secup_err_set(d->err, SECUP_E_CBOR, "%s: %llu entries declared but the input ends",
                             what, (unsigned long long)n);
    return SECUP_OK;
}

static secup_rc get_array(struct dec *d, struct secup_cbor_reader *r, uint64_t *n, const char *what)
{
    secup_rc rc = secup_cbor_read_array(r, n, what, d->err);
    return rc != SECUP_OK ? rc : check_count(d, r, *n, 1, what);
}

static secup_rc get_map(struct dec *d, struct secup_cbor_reader *r, uint64_t *n, const char *what)
{
    secup_rc rc = secup_cbor_read_map(r, n, what, d->err);
    return rc != SECUP_OK ? rc : check_count(d, r, *n, 2, what);
}

static secup_rc expect_end(struct dec *d, const struct secup_cbor_reader *r, const char *what)
{
    if (!secup_cbor_at_end(r))
        return secup_err_set(d->err, SECUP_E_TRAILING, "%s: %zu trailing bytes", what,
                             r->len - r->pos);
    return SECUP_OK;
}

static void sub_reader(struct secup_cbor_reader *r, struct secup_bytes in)
{
    secup_cbor_reader_init(r, in, SECUP_MAX_CBOR_DEPTH);
}

/* Reads an integer map key; text keys are refused where only integers are defined. */
static secup_rc get_int_key(struct dec *d, struct secup_cbor_reader *r, int64_t *key,
                            const char *what)
{
    return secup_cbor_read_int(r, key, what, d->err);
}

static bool seen_key(int64_t *seen, size_t n, int64_t key)
{
    for (size_t i = 0; i < n; i++) {
        if (seen[i] == key)
            return true;
    }
    return false;
}

/* ---- values shared by several places ---- */

secup_rc secup_digest_decode(struct secup_digest *dg, struct secup_bytes in, struct secup_err *err)
{
    struct secup_cbor_reader r;
    uint64_t n = 0;
    memset(dg, 0, sizeof(*dg));
    sub_reader(&r, in);
    secup_rc rc = secup_cbor_read_array(&r, &n, "SUIT_Digest", err);
    if (rc != SECUP_OK)
        return rc;
    if (n != 2)
        return secup_err_set(err, n < 2 ? SECUP_E_MISSING : SECUP_E_UNSUPPORTED,
                             "SUIT_Digest has %llu elements; expected [algorithm, bytes]",
                             (unsigned long long)n);
    rc = secup_cbor_read_int(&r, &dg->alg, "SUIT_Digest algorithm", err);
    if (rc != SECUP_OK)
        return rc;
    rc = secup_cbor_read_bstr(&r, &dg->bytes, "SUIT_Digest bytes", err);
    if (rc != SECUP_OK)
        return rc;
    if (dg->alg == SECUP_COSE_ALG_SHA256 && dg->bytes.len != SECUP_SHA256_LEN)
        return secup_err_set(err, SECUP_E_VALUE, "SHA-256 digest of %zu bytes", dg->bytes.len);
    if (dg->bytes.len > 64)
        return secup_err_set(err, SECUP_E_LIMIT_BYTES, "digest of %zu bytes", dg->bytes.len);
    if (!secup_cbor_at_end(&r))
        return secup_err_set(err, SECUP_E_TRAILING, "trailing bytes after SUIT_Digest");
    return SECUP_OK;
}

static secup_rc decode_component_id(struct dec *d, struct secup_cbor_reader *r,
                                    struct secup_component_id *id, const char *what)
{
    uint64_t n = 0;
    memset(id, 0, sizeof(*id));
    secup_rc rc = get_array(d, r, &n, what);
    if (rc != SECUP_OK)
        return rc;
    if (n > SECUP_MAX_ID_PARTS)
        return secup_err_set(d->err, SECUP_E_LIMIT_ITEMS,
                             "%s: %llu parts exceed the limit of %d", what, (unsigned long long)n,
                             SECUP_MAX_ID_PARTS);
    for (uint64_t i = 0; i < n; i++) {
        rc = get_bstr(d, r, &id->parts[i], what);
        if (rc != SECUP_OK)
            return rc;
    }
    id->n_parts = (uint32_t)n;
    return SECUP_OK;
}

/* A value of a custom (negative) parameter or command: int, bool, tstr, bstr or nil. */
static secup_rc decode_plain_value(struct dec *d, struct secup_cbor_reader *r,
                                   struct secup_value *v, bool allow_bool, bool allow_nil,
                                   const char *what)
{
    struct secup_cbor_item it;
    secup_rc rc = secup_cbor_peek(r, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    switch (it.type) {
    case SECUP_CBOR_UINT:
    case SECUP_CBOR_NINT:
        (void)secup_cbor_next(r, &it, d->err);
        v->kind = it.type == SECUP_CBOR_UINT ? SECUP_VAL_UINT : SECUP_VAL_NINT;
        v->u = it.u;
        return SECUP_OK;
    case SECUP_CBOR_BSTR:
        v->kind = SECUP_VAL_BSTR;
        return get_bstr(d, r, &v->bytes, what);
    case SECUP_CBOR_TSTR:
        v->kind = SECUP_VAL_TSTR;
        return get_tstr(d, r, &v->bytes, what);
    case SECUP_CBOR_TRUE:
    case SECUP_CBOR_FALSE:
        if (!allow_bool)
            break;
        (void)secup_cbor_next(r, &it, d->err);
        v->kind = SECUP_VAL_BOOL;
        v->b = it.type == SECUP_CBOR_TRUE;
        return SECUP_OK;
    case SECUP_CBOR_NULL:
        if (!allow_nil)
            break;
        (void)secup_cbor_next(r, &it, d->err);
        v->kind = SECUP_VAL_NULL;
        return SECUP_OK;
    default:
        break;
    }
    return secup_err_set(d->err, SECUP_E_TYPE, "%s: %s not allowed at offset %zu", what,
                         secup_cbor_type_name(it.type), it.offset);
}

static secup_rc want_uint(struct dec *d, struct secup_cbor_reader *r, struct secup_value *v,
                          const char *what)
{
    v->kind = SECUP_VAL_UINT;
    return secup_cbor_read_uint(r, &v->u, what, d->err);
}

static secup_rc want_bstr(struct dec *d, struct secup_cbor_reader *r, struct secup_value *v,
                          const char *what)
{
    v->kind = SECUP_VAL_BSTR;
    return get_bstr(d, r, &v->bytes, what);
}

/* A bstr that must hold one well-formed CBOR item of the given type. */
static secup_rc want_wrapped(struct dec *d, struct secup_cbor_reader *r, struct secup_value *v,
                             enum secup_cbor_type inner, const char *what)
{
    secup_rc rc = want_bstr(d, r, v, what);
    if (rc != SECUP_OK)
        return rc;
    rc = secup_cbor_check_item(v->bytes, SECUP_MAX_CBOR_DEPTH, d->err);
    if (rc != SECUP_OK) {
        secup_err_prefix(d->err, "%s", what);
        return rc;
    }
    struct secup_cbor_reader in;
    struct secup_cbor_item it;
    sub_reader(&in, v->bytes);
    rc = secup_cbor_next(&in, &it, d->err);
    if (rc == SECUP_OK && it.type == SECUP_CBOR_TAG && inner != SECUP_CBOR_TAG)
        rc = secup_cbor_next(&in, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type != inner)
        return secup_err_set(d->err, SECUP_E_TYPE, "%s: wraps a %s, expected a %s", what,
                             secup_cbor_type_name(it.type), secup_cbor_type_name(inner));
    return SECUP_OK;
}

static secup_rc want_uuid(struct dec *d, struct secup_cbor_reader *r, struct secup_value *v,
                          const char *what)
{
    secup_rc rc = want_bstr(d, r, v, what);
    if (rc == SECUP_OK && v->bytes.len != 16)
        return secup_err_set(d->err, SECUP_E_VALUE, "%s: UUID of %zu bytes, expected 16", what,
                             v->bytes.len);
    return rc;
}

/* The version parameter: bstr .cbor [comparison-type 1..5, [+ int]] (SUIT.md section 2.8). */
static secup_rc check_version_param(struct dec *d, struct secup_bytes in)
{
    struct secup_cbor_reader r;
    uint64_t n = 0;
    uint64_t type = 0;
    sub_reader(&r, in);
    secup_rc rc = get_array(d, &r, &n, "version parameter");
    if (rc == SECUP_OK && n != 2)
        rc = secup_err_set(d->err, SECUP_E_VALUE, "version parameter: %llu elements, expected 2",
                           (unsigned long long)n);
    if (rc == SECUP_OK)
        rc = secup_cbor_read_uint(&r, &type, "version comparison type", d->err);
    if (rc == SECUP_OK && (type < 1 || type > 5))
        rc = secup_err_set(d->err, SECUP_E_VALUE, "version comparison type %llu is not 1..5",
                           (unsigned long long)type);
    if (rc == SECUP_OK)
        rc = get_array(d, &r, &n, "version value");
    if (rc == SECUP_OK && n == 0)
        rc = secup_err_set(d->err, SECUP_E_VALUE, "version value is empty");
    for (uint64_t i = 0; rc == SECUP_OK && i < n; i++) {
        int64_t x = 0;
        rc = secup_cbor_read_int(&r, &x, "version component", d->err);
    }
    return rc == SECUP_OK ? expect_end(d, &r, "version parameter") : rc;
}

static secup_rc decode_param_value(struct dec *d, struct secup_cbor_reader *r, int64_t key,
                                   struct secup_value *v)
{
    const char *name = secup_param_name(key);
    secup_rc rc;
    memset(v, 0, sizeof(*v));
    switch (key) {
    case SECUP_SUIT_PARAM_VENDOR_ID: {
        struct secup_cbor_item it;
        rc = secup_cbor_peek(r, &it, d->err);
        if (rc != SECUP_OK)
            return rc;
        if (it.type == SECUP_CBOR_TAG) {
            /* #6.112(bstr): a relative OID under the IANA PEN arc (SUIT.md section 2.1). */
            if (it.u != 112)
                return secup_err_set(d->err, SECUP_E_VALUE,
                                     "vendor-identifier: tag %llu, expected 112 (PEN) or a UUID",
                                     (unsigned long long)it.u);
            struct secup_bytes inner;
            v->kind = SECUP_VAL_RAW;
            rc = secup_cbor_skip(r, &v->bytes, d->err);
            if (rc != SECUP_OK)
                return rc;
            struct secup_cbor_reader tr;
            struct secup_cbor_item tag;
            sub_reader(&tr, v->bytes);
            (void)secup_cbor_next(&tr, &tag, d->err);
            return get_bstr(d, &tr, &inner, "vendor-identifier PEN");
        }
        return want_uuid(d, r, v, name);
    }
    case SECUP_SUIT_PARAM_CLASS_ID:
    case SECUP_SUIT_PARAM_DEVICE_ID:
        return want_uuid(d, r, v, name);
    case SECUP_SUIT_PARAM_IMAGE_DIGEST: {
        struct secup_digest dg;
        rc = want_bstr(d, r, v, name);
        if (rc != SECUP_OK)
            return rc;
        rc = secup_digest_decode(&dg, v->bytes, d->err);
        if (rc != SECUP_OK)
            secup_err_prefix(d->err, "image-digest parameter");
        return rc;
    }
    case SECUP_SUIT_PARAM_USE_BEFORE:
    case SECUP_SUIT_PARAM_COMPONENT_SLOT:
    case SECUP_SUIT_PARAM_IMAGE_SIZE:
    case SECUP_SUIT_PARAM_SOURCE_COMPONENT:
    case SECUP_SUIT_PARAM_MINIMUM_BATTERY:
        return want_uint(d, r, v, name);
    case SECUP_SUIT_PARAM_STRICT_ORDER:
    case SECUP_SUIT_PARAM_SOFT_FAILURE:
        v->kind = SECUP_VAL_BOOL;
        return secup_cbor_read_bool(r, &v->b, name, d->err);
    case SECUP_SUIT_PARAM_CONTENT:
    case SECUP_SUIT_PARAM_INVOKE_ARGS:
    case SECUP_SUIT_PARAM_FETCH_ARGS:
        return want_bstr(d, r, v, name);
    case SECUP_SUIT_PARAM_ENCRYPTION_INFO:
        return want_wrapped(d, r, v, SECUP_CBOR_TAG, name);
    case SECUP_SUIT_PARAM_URI:
        v->kind = SECUP_VAL_TSTR;
        return get_tstr(d, r, &v->bytes, name);
    case SECUP_SUIT_PARAM_UPDATE_PRIORITY: {
        struct secup_cbor_item it;
        rc = secup_cbor_next(r, &it, d->err);
        if (rc != SECUP_OK)
            return rc;
        if (it.type != SECUP_CBOR_UINT && it.type != SECUP_CBOR_NINT)
            return secup_err_set(d->err, SECUP_E_TYPE, "update-priority: expected integer, found %s",
                                 secup_cbor_type_name(it.type));
        v->kind = it.type == SECUP_CBOR_UINT ? SECUP_VAL_UINT : SECUP_VAL_NINT;
        v->u = it.u;
        return SECUP_OK;
    }
    case SECUP_SUIT_PARAM_VERSION:
        rc = want_bstr(d, r, v, name);
        return rc == SECUP_OK ? check_version_param(d, v->bytes) : rc;
    case SECUP_SUIT_PARAM_WAIT_INFO:
    case SECUP_SUIT_PARAM_COMPONENT_METADATA:
        return want_wrapped(d, r, v, SECUP_CBOR_MAP, name);
    default:
        if (key < 0)
            return decode_plain_value(d, r, v, true, false, "custom parameter");
        return secup_err_set(d->err, SECUP_E_UNSUPPORTED, "unknown SUIT parameter %lld",
                             (long long)key);
    }
}

static secup_rc reserve_params(struct dec *d, uint64_t n, const char *what)
{
    struct secup_manifest *m = d->m;
    if (n > SECUP_MAX_MAP_PARAMS)
        return secup_err_set(d->err, SECUP_E_LIMIT_PARAMS,
                             "%s: %llu parameters exceed the limit of %d per map", what,
                             (unsigned long long)n, SECUP_MAX_MAP_PARAMS);
    if (n > SECUP_MAX_PARAMS - m->n_params)
        return secup_err_set(d->err, SECUP_E_LIMIT_PARAMS,
                             "%s: the manifest holds more than %d parameters", what,
                             SECUP_MAX_PARAMS);
    return SECUP_OK;
}

/* { + int => value }; appended to the params pool, each tagged with `index`. */
static secup_rc decode_params(struct dec *d, struct secup_cbor_reader *r, uint64_t index,
                              const char *what)
{
    struct secup_manifest *m = d->m;
    uint64_t n = 0;
    secup_rc rc = get_map(d, r, &n, what);
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "%s: empty parameter map", what);
    rc = reserve_params(d, n, what);
    if (rc != SECUP_OK)
        return rc;
    uint32_t first = m->n_params;
    for (uint64_t i = 0; i < n; i++) {
        struct secup_param *p = &m->params[m->n_params];
        rc = get_int_key(d, r, &p->key, "parameter key");
        if (rc != SECUP_OK)
            return rc;
        for (uint32_t j = first; j < m->n_params; j++) {
            if (m->params[j].key == p->key)
                return secup_err_set(d->err, SECUP_E_DUPLICATE, "%s: parameter %lld twice", what,
                                     (long long)p->key);
        }
        p->index = index;
        rc = decode_param_value(d, r, p->key, &p->value);
        if (rc != SECUP_OK)
            return rc;
        m->n_params++;
    }
    return SECUP_OK;
}

/* ---- command sequences ---- */

static secup_rc decode_seq_into(struct dec *d, struct secup_bytes content, bool shared,
                                uint32_t slot, const char *where);

static secup_rc reserve_seqs(struct dec *d, uint64_t n, uint32_t *first)
{
    if (n > SECUP_MAX_SEQS - d->m->n_seqs)
        return secup_err_set(d->err, SECUP_E_LIMIT_COMMANDS,
                             "more than %d command sequences in one manifest", SECUP_MAX_SEQS);
    *first = d->m->n_seqs;
    d->m->n_seqs += (uint32_t)n;
    return SECUP_OK;
}

static bool is_policy_directive(int64_t code)
{
    switch (code) {
    case 11: case 18: case 21: case 22: case 23: case 29: case 31: case 33:
        return true;
    default:
        return false;
    }
}

static secup_rc decode_index_arg(struct dec *d, struct secup_cbor_reader *r,
                                 struct secup_command *c)
{
    struct secup_manifest *m = d->m;
    struct secup_cbor_item it;
    secup_rc rc = secup_cbor_peek(r, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type == SECUP_CBOR_UINT) {
        c->kind = SECUP_ARG_INDEX;
        return secup_cbor_read_uint(r, &c->u, "set-component-index", d->err);
    }
    if (it.type == SECUP_CBOR_TRUE) {
        (void)secup_cbor_next(r, &it, d->err);
        c->kind = SECUP_ARG_INDEX_ALL;
        return SECUP_OK;
    }
    uint64_t n = 0;
    rc = get_array(d, r, &n, "set-component-index list");
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "set-component-index: empty index list");
    if (n > SECUP_MAX_INTS - m->n_ints)
        return secup_err_set(d->err, SECUP_E_LIMIT_ITEMS, "set-component-index: too many indices");
    c->kind = SECUP_ARG_INDEX_LIST;
    c->first = m->n_ints;
    c->count = (uint32_t)n;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t idx = 0;
        rc = secup_cbor_read_uint(r, &idx, "set-component-index entry", d->err);
        if (rc != SECUP_OK)
            return rc;
        if (idx > INT64_MAX)
            return secup_err_set(d->err, SECUP_E_VALUE, "component index out of range");
        m->ints[m->n_ints++] = (int64_t)idx;
    }
    return SECUP_OK;
}

static secup_rc decode_try_each(struct dec *d, struct secup_cbor_reader *r,
                                struct secup_command *c, bool shared)
{
    uint64_t n = 0;
    secup_rc rc = get_array(d, r, &n, "try-each");
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "try-each without alternatives");
    /* The last element may be nil: "do nothing if every alternative failed". */
    struct secup_bytes alts[SECUP_MAX_SEQS];
    uint64_t n_alts = 0;
    if (n > SECUP_MAX_SEQS)
        return secup_err_set(d->err, SECUP_E_LIMIT_COMMANDS, "try-each with %llu alternatives",
                             (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        struct secup_cbor_item it;
        rc = secup_cbor_peek(r, &it, d->err);
        if (rc != SECUP_OK)
            return rc;
        if (it.type == SECUP_CBOR_NULL && i == n - 1 && i > 0) {
            (void)secup_cbor_next(r, &it, d->err);
            c->try_each_nil = true;
            break;
        }
        rc = get_bstr(d, r, &alts[n_alts], "try-each alternative");
        if (rc != SECUP_OK)
            return rc;
        n_alts++;
    }
    c->kind = SECUP_ARG_TRY_EACH;
    rc = reserve_seqs(d, n_alts, &c->first);
    if (rc != SECUP_OK)
        return rc;
    c->count = (uint32_t)n_alts;
    for (uint64_t i = 0; i < n_alts; i++) {
        rc = decode_seq_into(d, alts[i], shared, c->first + (uint32_t)i, "try-each alternative");
        if (rc != SECUP_OK)
            return rc;
    }
    return SECUP_OK;
}

static secup_rc decode_override_multiple(struct dec *d, struct secup_cbor_reader *r,
                                         struct secup_command *c)
{
    uint64_t n = 0;
    secup_rc rc = get_map(d, r, &n, "override-multiple");
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "override-multiple: empty map");
    c->kind = SECUP_ARG_MULTI_PARAMS;
    c->first = d->m->n_params;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t idx = 0;
        rc = secup_cbor_read_uint(r, &idx, "override-multiple component index", d->err);
        if (rc != SECUP_OK)
            return rc;
        if (i > 0 && idx <= prev)
            return secup_err_set(d->err, idx == prev ? SECUP_E_DUPLICATE : SECUP_E_VALUE,
                                 "override-multiple: component index %llu out of order or twice",
                                 (unsigned long long)idx);
        prev = idx;
        rc = decode_params(d, r, idx, "override-multiple parameters");
        if (rc != SECUP_OK)
            return rc;
    }
    c->count = d->m->n_params - c->first;
    return SECUP_OK;
}

static secup_rc decode_copy_params(struct dec *d, struct secup_cbor_reader *r,
                                   struct secup_command *c)
{
    struct secup_manifest *m = d->m;
    uint64_t n = 0;
    secup_rc rc = get_map(d, r, &n, "copy-params");
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "copy-params: empty map");
    c->kind = SECUP_ARG_COPY_PARAMS;
    c->first = m->n_params;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t src = 0;
        uint64_t k = 0;
        rc = secup_cbor_read_uint(r, &src, "copy-params source index", d->err);
        if (rc == SECUP_OK && i > 0 && src <= prev)
            rc = secup_err_set(d->err, src == prev ? SECUP_E_DUPLICATE : SECUP_E_VALUE,
                               "copy-params: source index %llu out of order or twice",
                               (unsigned long long)src);
        if (rc == SECUP_OK)
            rc = get_array(d, r, &k, "copy-params keys");
        if (rc == SECUP_OK && k == 0)
            rc = secup_err_set(d->err, SECUP_E_VALUE, "copy-params: empty key list");
        if (rc == SECUP_OK)
            rc = reserve_params(d, k, "copy-params");
        if (rc != SECUP_OK)
            return rc;
        prev = src;
        for (uint64_t j = 0; j < k; j++) {
            struct secup_param *p = &m->params[m->n_params];
            memset(p, 0, sizeof(*p));
            p->index = src;
            rc = secup_cbor_read_int(r, &p->key, "copy-params key", d->err);
            if (rc != SECUP_OK)
                return rc;
            m->n_params++;
        }
    }
    c->count = m->n_params - c->first;
    return SECUP_OK;
}

static secup_rc decode_command(struct dec *d, struct secup_cbor_reader *r,
                               struct secup_command *c, bool shared)
{
    secup_rc rc;
    memset(c, 0, sizeof(*c));
    rc = secup_cbor_read_int(r, &c->code, "command code", d->err);
    if (rc != SECUP_OK)
        return rc;
    int64_t code = c->code;
    const char *name = secup_command_name(code);
    if (shared && !secup_command_is_condition(code) && code != SECUP_SUIT_DIR_SET_COMPONENT_INDEX &&
        code != SECUP_SUIT_DIR_TRY_EACH && code != SECUP_SUIT_DIR_RUN_SEQUENCE &&
        code != SECUP_SUIT_DIR_OVERRIDE_PARAMETERS)
        return secup_err_set(d->err, SECUP_E_VALUE,
                             "command %lld (%s) is not allowed in the shared sequence",
                             (long long)code, name ? name : "unknown");
    if (code < 0) {
        c->kind = SECUP_ARG_VALUE;
        return decode_plain_value(d, r, &c->value, false, true, "custom command argument");
    }
    if (secup_command_is_condition(code) || is_policy_directive(code)) {
        c->kind = SECUP_ARG_POLICY;
        return secup_cbor_read_uint(r, &c->u, name, d->err);
    }
    switch (code) {
    case SECUP_SUIT_DIR_SET_COMPONENT_INDEX:
        return decode_index_arg(d, r, c);
    case SECUP_SUIT_DIR_TRY_EACH:
        return decode_try_each(d, r, c, shared);
    case SECUP_SUIT_DIR_SET_PARAMETERS:
    case SECUP_SUIT_DIR_OVERRIDE_PARAMETERS:
        c->kind = SECUP_ARG_PARAMS;
        c->first = d->m->n_params;
        rc = decode_params(d, r, 0, name);
        c->count = d->m->n_params - c->first;
        return rc;
    case SECUP_SUIT_DIR_RUN_SEQUENCE: {
        struct secup_bytes body;
        rc = get_bstr(d, r, &body, "run-sequence");
        if (rc == SECUP_OK)
            rc = reserve_seqs(d, 1, &c->first);
        if (rc != SECUP_OK)
            return rc;
        c->kind = SECUP_ARG_SEQUENCE;
        c->count = 1;
        return decode_seq_into(d, body, shared, c->first, "run-sequence");
    }
    case SECUP_SUIT_DIR_OVERRIDE_MULTIPLE:
        return decode_override_multiple(d, r, c);
    case SECUP_SUIT_DIR_COPY_PARAMS:
        return decode_copy_params(d, r, c);
    default:
        return secup_err_set(d->err, SECUP_E_UNSUPPORTED, "unknown SUIT command %lld",
                             (long long)code);
    }
}

static secup_rc decode_seq_into(struct dec *d, struct secup_bytes content, bool shared,
                                uint32_t slot, const char *where)
{
    struct secup_manifest *m = d->m;
    struct secup_cbor_reader r;
    uint64_t n = 0;
    if (d->seq_depth >= SECUP_MAX_SEQ_DEPTH)
        return secup_err_set(d->err, SECUP_E_LIMIT_DEPTH,
                             "%s: command sequences nested deeper than %d", where,
                             SECUP_MAX_SEQ_DEPTH);
    sub_reader(&r, content);
    secup_rc rc = secup_cbor_read_array(&r, &n, where, d->err);
    if (rc != SECUP_OK)
        return rc;
    /* the sequence bound has its own code, so it is checked before the generic item bound */
    if (n / 2 > SECUP_MAX_SEQ_LEN)
        return secup_err_set(d->err, SECUP_E_LIMIT_COMMANDS,
                             "%s: %llu commands exceed the limit of %d per sequence", where,
                             (unsigned long long)(n / 2), SECUP_MAX_SEQ_LEN);
    rc = check_count(d, &r, n, 1, where);
    if (rc != SECUP_OK)
        return rc;
    if (n == 0 || n % 2 != 0)
        return secup_err_set(d->err, SECUP_E_VALUE,
                             "%s: command sequence of %llu items; expected command/argument pairs",
                             where, (unsigned long long)n);
    uint64_t count = n / 2;
    if (count > SECUP_MAX_SEQ_LEN)
        return secup_err_set(d->err, SECUP_E_LIMIT_COMMANDS,
                             "%s: %llu commands exceed the limit of %d per sequence", where,
                             (unsigned long long)count, SECUP_MAX_SEQ_LEN);
    if (count > SECUP_MAX_COMMANDS - m->n_commands)
        return secup_err_set(d->err, SECUP_E_LIMIT_COMMANDS,
                             "%s: the manifest holds more than %d commands", where,
                             SECUP_MAX_COMMANDS);
    m->seqs[slot].first = m->n_commands;
    m->seqs[slot].count = (uint32_t)count;
    m->n_commands += (uint32_t)count;
    d->seq_depth++;
    for (uint64_t i = 0; i < count; i++) {
        rc = decode_command(d, &r, &m->commands[m->seqs[slot].first + i], shared);
        if (rc != SECUP_OK) {
            secup_err_prefix(d->err, "%s, command %llu", where, (unsigned long long)i);
            d->seq_depth--;
            return rc;
        }
    }
    d->seq_depth--;
    return expect_end(d, &r, where);
}

static secup_rc decode_seq_new(struct dec *d, struct secup_bytes content, bool shared,
                               uint32_t *slot, const char *where)
{
    secup_rc rc = reserve_seqs(d, 1, slot);
    return rc != SECUP_OK ? rc : decode_seq_into(d, content, shared, *slot, where);
}

/* ---- text ---- */

static secup_rc add_text(struct dec *d, struct secup_bytes lang, int32_t comp, int64_t key,
                         struct secup_bytes value)
{
    struct secup_manifest *m = d->m;
    if (m->n_text >= SECUP_MAX_TEXT)
        return secup_err_set(d->err, SECUP_E_LIMIT_TEXT, "more than %d text entries",
                             SECUP_MAX_TEXT);
    struct secup_text *t = &m->text[m->n_text++];
    t->lang = lang;
    t->component = comp;
    t->key = key;
    t->value = value;
    return SECUP_OK;
}

static secup_rc decode_text_keys(struct dec *d, struct secup_cbor_reader *r,
                                 struct secup_bytes lang, int32_t comp, const char *what)
{
    uint64_t n = 0;
    int64_t seen[SECUP_MAX_TEXT];
    size_t n_seen = 0;
    secup_rc rc = get_map(d, r, &n, what);
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "%s: empty map", what);
    for (uint64_t i = 0; i < n; i++) {
        int64_t key = 0;
        struct secup_bytes value;
        rc = get_int_key(d, r, &key, "text key");
        if (rc != SECUP_OK)
            return rc;
        if (seen_key(seen, n_seen, key))
            return secup_err_set(d->err, SECUP_E_DUPLICATE, "%s: key %lld twice", what,
                                 (long long)key);
        if (n_seen < SECUP_MAX_TEXT)
            seen[n_seen++] = key;
        rc = get_tstr(d, r, &value, "text value");
        if (rc == SECUP_OK)
            rc = add_text(d, lang, comp, key, value);
        if (rc != SECUP_OK)
            return rc;
    }
    return SECUP_OK;
}

static secup_rc decode_text(struct dec *d, struct secup_bytes content)
{
    struct secup_manifest *m = d->m;
    struct secup_cbor_reader r;
    uint64_t n_langs = 0;
    sub_reader(&r, content);
    secup_rc rc = get_map(d, &r, &n_langs, "text");
    if (rc != SECUP_OK)
        return rc;
    if (n_langs == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "text: no language");
    uint32_t first_entry = m->n_text;
    for (uint64_t l = 0; l < n_langs; l++) {
        struct secup_bytes lang;
        uint64_t n = 0;
        rc = get_tstr(d, &r, &lang, "text language tag");
        if (rc != SECUP_OK)
            return rc;
        for (uint32_t i = first_entry; i < m->n_text; i++) {
            if (secup_bytes_equal(m->text[i].lang, lang))
                return secup_err_set(d->err, SECUP_E_DUPLICATE, "text: language '%.*s' twice",
                                     (int)lang.len, (const char *)lang.ptr);
        }
        rc = get_map(d, &r, &n, "text language map");
        if (rc != SECUP_OK)
            return rc;
        if (n == 0)
            return secup_err_set(d->err, SECUP_E_VALUE, "text: empty map for a language");
        uint32_t lang_first = m->n_text;
        uint32_t lang_first_id = m->n_text_ids;
        for (uint64_t i = 0; i < n; i++) {
            struct secup_cbor_item it;
            rc = secup_cbor_peek(&r, &it, d->err);
            if (rc != SECUP_OK)
                return rc;
            if (it.type == SECUP_CBOR_ARRAY) {
                if (m->n_text_ids >= SECUP_MAX_COMPONENTS)
                    return secup_err_set(d->err, SECUP_E_LIMIT_TEXT,
                                         "text describes more than %d components",
                                         SECUP_MAX_COMPONENTS);
                struct secup_component_id *id = &m->text_ids[m->n_text_ids];
                rc = decode_component_id(d, &r, id, "text component identifier");
                if (rc != SECUP_OK)
                    return rc;
                for (uint32_t j = lang_first_id; j < m->n_text_ids; j++) {
                    if (secup_component_id_equal(&m->text_ids[j], id))
                        return secup_err_set(d->err, SECUP_E_DUPLICATE,
                                             "text: component described twice");
                }
                int32_t comp = (int32_t)m->n_text_ids++;
                rc = decode_text_keys(d, &r, lang, comp, "text component map");
            } else {
                int64_t key = 0;
                struct secup_bytes value;
                rc = get_int_key(d, &r, &key, "text key");
                if (rc != SECUP_OK)
                    return rc;
                for (uint32_t j = lang_first; j < m->n_text; j++) {
                    if (m->text[j].component < 0 && m->text[j].key == key)
                        return secup_err_set(d->err, SECUP_E_DUPLICATE, "text: key %lld twice",
                                             (long long)key);
                }
                rc = get_tstr(d, &r, &value, "text value");
                if (rc == SECUP_OK)
                    rc = add_text(d, lang, -1, key, value);
            }
            if (rc != SECUP_OK)
                return rc;
        }
    }
    return expect_end(d, &r, "text");
}

/* ---- common and manifest ---- */

static secup_rc decode_dependencies(struct dec *d, struct secup_cbor_reader *r)
{
    struct secup_manifest *m = d->m;
    uint64_t n = 0;
    secup_rc rc = get_map(d, r, &n, "dependencies");
    if (rc != SECUP_OK)
        return rc;
    if (n > SECUP_MAX_DEPENDENCIES)
        return secup_err_set(d->err, SECUP_E_LIMIT_DEPENDENCIES,
                             "%llu dependencies exceed the limit of %d", (unsigned long long)n,
                             SECUP_MAX_DEPENDENCIES);
    m->has_dependencies = true;
    for (uint64_t i = 0; i < n; i++) {
        struct secup_dependency *dep = &m->dependencies[i];
        uint64_t fields = 0;
        rc = secup_cbor_read_uint(r, &dep->index, "dependency component index", d->err);
        if (rc != SECUP_OK)
            return rc;
        for (uint64_t j = 0; j < i; j++) {
            if (m->dependencies[j].index == dep->index)
                return secup_err_set(d->err, SECUP_E_DUPLICATE, "dependency %llu twice",
                                     (unsigned long long)dep->index);
        }
        rc = get_map(d, r, &fields, "dependency metadata");
        if (rc != SECUP_OK)
            return rc;
        for (uint64_t f = 0; f < fields; f++) {
            int64_t key = 0;
            rc = get_int_key(d, r, &key, "dependency metadata key");
            if (rc != SECUP_OK)
                return rc;
            if (key != 1)
                return secup_err_set(d->err, SECUP_E_UNKNOWN_KEY,
                                     "dependency metadata key %lld is not defined", (long long)key);
            if (dep->has_prefix)
                return secup_err_set(d->err, SECUP_E_DUPLICATE, "dependency prefix twice");
            dep->has_prefix = true;
            rc = decode_component_id(d, r, &dep->prefix, "dependency prefix");
            if (rc != SECUP_OK)
                return rc;
        }
        m->n_dependencies++;
    }
    return SECUP_OK;
}

static secup_rc decode_common(struct dec *d, struct secup_bytes content)
{
    struct secup_manifest *m = d->m;
    struct secup_cbor_reader r;
    uint64_t n = 0;
    int64_t seen[8];
    size_t n_seen = 0;
    sub_reader(&r, content);
    secup_rc rc = get_map(d, &r, &n, "common");
    if (rc != SECUP_OK)
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        int64_t key = 0;
        rc = get_int_key(d, &r, &key, "common key");
        if (rc != SECUP_OK)
            return rc;
        if (seen_key(seen, n_seen, key))
            return secup_err_set(d->err, SECUP_E_DUPLICATE, "common: key %lld twice",
                                 (long long)key);
        if (n_seen < 8)
            seen[n_seen++] = key;
        switch (key) {
        case 1:
            rc = decode_dependencies(d, &r);
            break;
        case 2: {
            uint64_t nc = 0;
            rc = get_array(d, &r, &nc, "components");
            if (rc != SECUP_OK)
                return rc;
            if (nc > SECUP_MAX_COMPONENTS)
                return secup_err_set(d->err, SECUP_E_LIMIT_COMPONENTS,
                                     "%llu components exceed the limit of %d",
                                     (unsigned long long)nc, SECUP_MAX_COMPONENTS);
            if (nc == 0)
                return secup_err_set(d->err, SECUP_E_VALUE, "components: empty list");
            m->has_components = true;
            for (uint64_t c = 0; c < nc && rc == SECUP_OK; c++)
                rc = decode_component_id(d, &r, &m->components[c], "component identifier");
            m->n_components = (uint32_t)nc;
            break;
        }
        case 4: {
            struct secup_bytes body;
            rc = get_bstr(d, &r, &body, "shared sequence");
            if (rc == SECUP_OK)
                rc = decode_seq_new(d, body, true, &m->shared_seq, "shared sequence");
            m->has_shared = rc == SECUP_OK;
            break;
        }
        default:
            return secup_err_set(d->err, SECUP_E_UNKNOWN_KEY, "common: key %lld is not defined",
                                 (long long)key);
        }
        if (rc != SECUP_OK)
            return rc;
    }
    return expect_end(d, &r, "common");
}

static secup_rc decode_set_version(struct dec *d, struct secup_bytes content)
{
    struct secup_manifest *m = d->m;
    struct secup_cbor_reader r;
    uint64_t n = 0;
    sub_reader(&r, content);
    secup_rc rc = get_array(d, &r, &n, "set-version");
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_VALUE, "set-version: empty version");
    if (n > SECUP_MAX_INTS - m->n_ints)
        return secup_err_set(d->err, SECUP_E_LIMIT_ITEMS, "set-version: too many integers");
    m->has_set_version = true;
    m->set_version_first = m->n_ints;
    m->set_version_count = (uint32_t)n;
    for (uint64_t i = 0; i < n; i++) {
        rc = secup_cbor_read_int(&r, &m->ints[m->n_ints], "set-version component", d->err);
        if (rc != SECUP_OK)
            return rc;
        m->n_ints++;
    }
    return expect_end(d, &r, "set-version");
}

static bool section_of_key(int64_t key, enum secup_section *s)
{
    for (int i = 0; i < SECUP_SECTION_COUNT; i++) {
        if (secup_section_key((enum secup_section)i) == key) {
            *s = (enum secup_section)i;
            return true;
        }
    }
    return false;
}

static bool is_severable(enum secup_section s)
{
    return s >= SECUP_SECTION_DEPENDENCY_RESOLUTION;
}

static secup_rc decode_member_content(struct dec *d, enum secup_section s)
{
    struct secup_member *mem = &d->m->members[s];
    switch (s) {
    case SECUP_SECTION_TEXT:
        return decode_text(d, mem->content);
    case SECUP_SECTION_COSWID:
        return secup_cbor_check_item(mem->content, SECUP_MAX_CBOR_DEPTH, d->err);
    default:
        return decode_seq_new(d, mem->content, false, &mem->seq, secup_section_name(s));
    }
}

static secup_rc decode_section(struct dec *d, struct secup_cbor_reader *r, enum secup_section s,
                               const struct severed_copy *copies)
{
    struct secup_member *mem = &d->m->members[s];
    struct secup_cbor_item it;
    secup_rc rc = secup_cbor_peek(r, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type == SECUP_CBOR_ARRAY && is_severable(s)) {
        struct secup_bytes raw;
        rc = secup_cbor_skip(r, &raw, d->err);
        if (rc == SECUP_OK)
            rc = secup_digest_decode(&mem->digest, raw, d->err);
        if (rc != SECUP_OK) {
            secup_err_prefix(d->err, "digest of severed %s", secup_section_name(s));
            return rc;
        }
        mem->state = SECUP_MEMBER_SEVERED;
        if (!copies || !copies[s].present)
            return SECUP_OK;
        /* A severed member is bound to the signed manifest by the digest of its
         * bstr-wrapped form (manifest-37 section 8.4.12). */
        if (mem->digest.alg != SECUP_COSE_ALG_SHA256)
            return secup_err_set(d->err, SECUP_E_UNSUPPORTED,
                                 "severed %s: digest algorithm %lld is not supported",
                                 secup_section_name(s), (long long)mem->digest.alg);
        uint8_t h[SECUP_SHA256_LEN];
        rc = secup_crypto_sha256(copies[s].wrapped, h, d->err);
        if (rc != SECUP_OK)
            return rc;
        if (!secup_ct_equal(secup_bytes_of(h, sizeof(h)), mem->digest.bytes))
            return secup_err_set(d->err, SECUP_E_DIGEST,
                                 "severed %s in the envelope does not match its digest in the manifest",
                                 secup_section_name(s));
        mem->content = copies[s].content;
        mem->available = true;
        return decode_member_content(d, s);
    }
    if (it.type != SECUP_CBOR_BSTR)
        return secup_err_set(d->err, SECUP_E_TYPE, "%s: expected %s, found %s",
                             secup_section_name(s),
                             is_severable(s) ? "byte string or SUIT_Digest" : "byte string",
                             secup_cbor_type_name(it.type));
    rc = secup_cbor_read_bstr(r, &mem->content, secup_section_name(s), d->err);
    if (rc != SECUP_OK)
        return rc;
    if (copies && copies[s].present)
        return secup_err_set(d->err, SECUP_E_VALUE,
                             "envelope carries a severed %s but the manifest holds it in place",
                             secup_section_name(s));
    mem->state = SECUP_MEMBER_PRESENT;
    mem->available = true;
    return decode_member_content(d, s);
}

static secup_rc decode_manifest_body(struct dec *d, struct secup_bytes in,
                                     const struct severed_copy *copies)
{
    struct secup_manifest *m = d->m;
    struct secup_cbor_reader r;
    uint64_t n = 0;
    uint64_t seen = 0; /* bit per key 0..63 */
    sub_reader(&r, in);
    struct secup_cbor_item it;
    secup_rc rc = secup_cbor_peek(&r, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type == SECUP_CBOR_TAG) {
        if (it.u != 1070)
            return secup_err_set(d->err, SECUP_E_VALUE, "manifest: unexpected tag %llu",
                                 (unsigned long long)it.u);
        (void)secup_cbor_next(&r, &it, d->err);
    }
    rc = get_map(d, &r, &n, "manifest");
    if (rc != SECUP_OK)
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        int64_t key = 0;
        rc = get_int_key(d, &r, &key, "manifest key");
        if (rc != SECUP_OK)
            return rc;
        if (key >= 0 && key < 64) {
            if (seen & (UINT64_C(1) << key))
                return secup_err_set(d->err, SECUP_E_DUPLICATE, "manifest: key %lld twice",
                                     (long long)key);
            seen |= UINT64_C(1) << key;
        }
        enum secup_section s;
        switch (key) {
        case 1:
            rc = secup_cbor_read_uint(&r, &m->version, "manifest version", d->err);
            if (rc == SECUP_OK && m->version != 1)
                rc = secup_err_set(d->err, SECUP_E_UNSUPPORTED,
                                   "manifest version %llu is not supported (only 1)",
                                   (unsigned long long)m->version);
            break;
        case 2:
            rc = secup_cbor_read_uint(&r, &m->sequence_number, "sequence number", d->err);
            break;
        case 3: {
            struct secup_bytes body;
            rc = get_bstr(d, &r, &body, "common");
            if (rc == SECUP_OK)
                rc = decode_common(d, body);
            break;
        }
        case 4:
            rc = get_tstr(d, &r, &m->reference_uri, "reference-uri");
            m->has_reference_uri = true;
            break;
        case 5:
            rc = decode_component_id(d, &r, &m->component_id, "manifest component id");
            m->has_component_id = true;
            break;
        case 6: {
            struct secup_bytes body;
            rc = get_bstr(d, &r, &body, "set-version");
            if (rc == SECUP_OK)
                rc = decode_set_version(d, body);
            break;
        }
        default:
            if (!section_of_key(key, &s))
                return secup_err_set(d->err, SECUP_E_UNKNOWN_KEY,
                                     "manifest: key %lld is not defined", (long long)key);
            rc = decode_section(d, &r, s, copies);
            break;
        }
        if (rc != SECUP_OK)
            return rc;
    }
    if (!(seen & (UINT64_C(1) << 1)))
        return secup_err_set(d->err, SECUP_E_MISSING, "manifest: no version (key 1)");
    if (!(seen & (UINT64_C(1) << 2)))
        return secup_err_set(d->err, SECUP_E_MISSING, "manifest: no sequence number (key 2)");
    if (!(seen & (UINT64_C(1) << 3)))
        return secup_err_set(d->err, SECUP_E_MISSING, "manifest: no common section (key 3)");
    for (int s = 0; copies && s < SECUP_SECTION_COUNT; s++) {
        if (copies[s].present && m->members[s].state == SECUP_MEMBER_ABSENT)
            return secup_err_set(d->err, SECUP_E_VALUE,
                                 "envelope carries a severed %s the manifest does not name",
                                 secup_section_name((enum secup_section)s));
    }
    return expect_end(d, &r, "manifest");
}

secup_rc secup_manifest_decode(struct secup_manifest *m, struct secup_bytes in,
                               const struct secup_limits *lim, struct secup_err *err)
{
    struct secup_limits def = secup_limits_default();
    struct dec d = { lim ? lim : &def, m, 0, err };
    memset(m, 0, sizeof(*m));
    if (in.len > d.lim->max_envelope)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "manifest of %zu bytes exceeds the limit of %zu",
                             in.len, d.lim->max_envelope);
    secup_rc rc = decode_manifest_body(&d, in, NULL);
    if (rc != SECUP_OK)
        memset(m, 0, sizeof(*m));
    return rc;
}

/* ---- COSE authentication blocks ---- */

/* Reads alg (1) and kid (4) from an encoded header map; refuses critical headers (2),
 * which would oblige us to understand labels we do not. */
static secup_rc parse_header(struct dec *d, struct secup_bytes enc, bool *has_alg, int64_t *alg,
                             struct secup_bytes *kid, const char *what)
{
    struct secup_cbor_reader r;
    uint64_t n = 0;
    int64_t seen[16];
    size_t n_seen = 0;
    if (enc.len == 0)
        return SECUP_OK;
    sub_reader(&r, enc);
    secup_rc rc = get_map(d, &r, &n, what);
    if (rc != SECUP_OK)
        return rc;
    if (n > 16)
        return secup_err_set(d->err, SECUP_E_LIMIT_ITEMS, "%s: %llu entries", what,
                             (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        struct secup_cbor_item it;
        rc = secup_cbor_peek(&r, &it, d->err);
        if (rc != SECUP_OK)
            return rc;
        if (it.type == SECUP_CBOR_TSTR) {
            /* Text labels are private; skip the label and its value. */
            rc = secup_cbor_skip(&r, NULL, d->err);
            if (rc == SECUP_OK)
                rc = secup_cbor_skip(&r, NULL, d->err);
            if (rc != SECUP_OK)
                return rc;
            continue;
        }
        int64_t label = 0;
        rc = secup_cbor_read_int(&r, &label, "COSE header label", d->err);
        if (rc != SECUP_OK)
            return rc;
        if (seen_key(seen, n_seen, label))
            return secup_err_set(d->err, SECUP_E_DUPLICATE, "%s: label %lld twice", what,
                                 (long long)label);
        seen[n_seen++] = label;
        if (label == 1) {
            rc = secup_cbor_peek(&r, &it, d->err);
            if (rc == SECUP_OK && it.type == SECUP_CBOR_TSTR)
                return secup_err_set(d->err, SECUP_E_UNSUPPORTED, "%s: text algorithm names",
                                     what);
            rc = secup_cbor_read_int(&r, alg, "COSE alg", d->err);
            *has_alg = true;
        } else if (label == 2) {
            return secup_err_set(d->err, SECUP_E_UNSUPPORTED,
                                 "%s: critical header parameters are not supported", what);
        } else if (label == 4) {
            rc = get_bstr(d, &r, kid, "COSE kid");
        } else {
            rc = secup_cbor_skip(&r, NULL, d->err);
        }
        if (rc != SECUP_OK)
            return rc;
    }
    return expect_end(d, &r, what);
}

static secup_rc decode_auth_block(struct dec *d, struct secup_bytes in, struct secup_auth_block *a)
{
    struct secup_cbor_reader r;
    struct secup_cbor_item it;
    uint64_t n = 0;
    sub_reader(&r, in);
    secup_rc rc = secup_cbor_next(&r, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type != SECUP_CBOR_TAG)
        return secup_err_set(d->err, SECUP_E_TYPE,
                             "authentication block: expected a tagged COSE structure, found %s",
                             secup_cbor_type_name(it.type));
    if (it.u == 98 || it.u == 97)
        return secup_err_set(d->err, SECUP_E_UNSUPPORTED,
                             "authentication block: COSE_%s (tag %llu) is not supported; use COSE_Sign1 or COSE_Mac0",
                             it.u == 98 ? "Sign" : "Mac", (unsigned long long)it.u);
    if (it.u != SECUP_AUTH_SIGN1 && it.u != SECUP_AUTH_MAC0)
        return secup_err_set(d->err, SECUP_E_VALUE, "authentication block: unexpected tag %llu",
                             (unsigned long long)it.u);
    a->type = (enum secup_auth_type)it.u;
    rc = get_array(d, &r, &n, "COSE structure");
    if (rc != SECUP_OK)
        return rc;
    if (n != 4)
        return secup_err_set(d->err, SECUP_E_VALUE, "COSE structure has %llu elements, expected 4",
                             (unsigned long long)n);
    rc = get_bstr(d, &r, &a->protected_hdr, "COSE protected header");
    if (rc != SECUP_OK)
        return rc;
    rc = secup_cbor_peek(&r, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type != SECUP_CBOR_MAP)
        return secup_err_set(d->err, SECUP_E_TYPE, "COSE unprotected header: expected map, found %s",
                             secup_cbor_type_name(it.type));
    rc = secup_cbor_skip(&r, &a->unprotected, d->err);
    if (rc != SECUP_OK)
        return rc;
    rc = secup_cbor_peek(&r, &it, d->err);
    if (rc != SECUP_OK)
        return rc;
    if (it.type == SECUP_CBOR_NULL) {
        (void)secup_cbor_next(&r, &it, d->err);
    } else {
        rc = get_bstr(d, &r, &a->payload, "COSE payload");
        if (rc != SECUP_OK)
            return rc;
        a->has_payload = true;
    }
    rc = get_bstr(d, &r, &a->tag, a->type == SECUP_AUTH_SIGN1 ? "COSE signature" : "COSE tag");
    if (rc != SECUP_OK)
        return rc;
    rc = expect_end(d, &r, "authentication block");
    if (rc != SECUP_OK)
        return rc;
    bool has_alg = false;
    bool unprot_alg = false;
    int64_t ualg = 0;
    struct secup_bytes ukid = { NULL, 0 };
    rc = parse_header(d, a->protected_hdr, &has_alg, &a->alg, &a->kid, "COSE protected header");
    if (rc == SECUP_OK)
        rc = parse_header(d, a->unprotected, &unprot_alg, &ualg, &ukid, "COSE unprotected header");
    if (rc != SECUP_OK)
        return rc;
    if (!has_alg)
        return secup_err_set(d->err, SECUP_E_MISSING,
                             "COSE protected header: no algorithm (label 1)%s",
                             unprot_alg ? "; an unprotected one is not accepted" : "");
    if (a->kid.len == 0)
        a->kid = ukid;
    return SECUP_OK;
}

static secup_rc decode_auth_wrapper(struct dec *d, struct secup_envelope *env, struct secup_bytes in)
{
    struct secup_cbor_reader r;
    uint64_t n = 0;
    sub_reader(&r, in);
    secup_rc rc = get_array(d, &r, &n, "authentication wrapper");
    if (rc != SECUP_OK)
        return rc;
    if (n == 0)
        return secup_err_set(d->err, SECUP_E_MISSING, "authentication wrapper: no digest");
    if (n - 1 > SECUP_MAX_AUTH)
        return secup_err_set(d->err, SECUP_E_LIMIT_AUTH,
                             "authentication wrapper: %llu blocks exceed the limit of %d",
                             (unsigned long long)(n - 1), SECUP_MAX_AUTH);
    rc = get_bstr(d, &r, &env->digest_bstr, "manifest digest");
    if (rc == SECUP_OK)
        rc = secup_digest_decode(&env->digest, env->digest_bstr, d->err);
    if (rc != SECUP_OK) {
        secup_err_prefix(d->err, "authentication wrapper");
        return rc;
    }
    for (uint64_t i = 1; i < n; i++) {
        struct secup_bytes block;
        rc = get_bstr(d, &r, &block, "authentication block");
        if (rc == SECUP_OK)
            rc = decode_auth_block(d, block, &env->auth[env->n_auth]);
        if (rc != SECUP_OK) {
            secup_err_prefix(d->err, "authentication block %llu", (unsigned long long)i);
            return rc;
        }
        env->n_auth++;
    }
    return expect_end(d, &r, "authentication wrapper");
}

/* An integrated payload is addressed by a uri parameter "#name" (manifest-37 section 7.5).
 * One that nothing addresses is unsigned baggage whose name nobody checks: refuse it. */
static secup_rc check_integrated_referenced(const struct secup_envelope *env,
                                           struct secup_err *err)
{
    const struct secup_manifest *m = &env->manifest;
    for (uint32_t i = 0; i < env->n_integrated; i++) {
        bool found = false;
        for (uint32_t p = 0; p < m->n_params && !found; p++) {
            found = m->params[p].key == SECUP_SUIT_PARAM_URI &&
                    m->params[p].value.kind == SECUP_VAL_TSTR &&
                    secup_bytes_equal(m->params[p].value.bytes, env->integrated[i].name);
        }
        if (!found)
            return secup_err_set(err, SECUP_E_VALUE,
                                 "integrated payload '%.*s' is not referenced by the manifest",
                                 (int)env->integrated[i].name.len,
                                 (const char *)env->integrated[i].name.ptr);
    }
    return SECUP_OK;
}

secup_rc secup_envelope_decode(struct secup_envelope *env, struct secup_bytes in,
                               const struct secup_limits *lim, struct secup_err *err)
{
    struct secup_limits def = secup_limits_default();
    struct dec d = { lim ? lim : &def, &env->manifest, 0, err };
    struct severed_copy copies[SECUP_SECTION_COUNT];
    struct secup_bytes auth = { NULL, 0 };
    bool has_auth = false;
    bool has_manifest = false;
    struct secup_cbor_reader r;
    struct secup_cbor_item it;
    uint64_t n = 0;
    secup_rc rc;

    memset(env, 0, sizeof(*env));
    memset(copies, 0, sizeof(copies));
    if (in.len > d.lim->max_envelope) {
        rc = secup_err_set(err, SECUP_E_LIMIT_SIZE, "envelope of %zu bytes exceeds the limit of %zu",
                           in.len, d.lim->max_envelope);
        goto out;
    }
    secup_cbor_reader_init(&r, in, SECUP_MAX_CBOR_DEPTH);
    rc = secup_cbor_peek(&r, &it, err);
    if (rc != SECUP_OK)
        goto out;
    if (it.type == SECUP_CBOR_TAG) {
        if (it.u != 107) {
            rc = secup_err_set(err, SECUP_E_VALUE, "envelope: unexpected tag %llu (expected 107)",
                               (unsigned long long)it.u);
            goto out;
        }
        (void)secup_cbor_next(&r, &it, err);
        env->tagged = true;
    }
    rc = get_map(&d, &r, &n, "envelope");
    if (rc != SECUP_OK)
        goto out;
    for (uint64_t i = 0; i < n; i++) {
        rc = secup_cbor_peek(&r, &it, err);
        if (rc != SECUP_OK)
            goto out;
        if (it.type == SECUP_CBOR_TSTR) {
            if (env->n_integrated >= SECUP_MAX_INTEGRATED) {
                rc = secup_err_set(err, SECUP_E_LIMIT_DEPENDENCIES,
                                   "envelope: more than %d integrated payloads",
                                   SECUP_MAX_INTEGRATED);
                goto out;
            }
            struct secup_integrated *ip = &env->integrated[env->n_integrated];
            rc = get_tstr(&d, &r, &ip->name, "integrated payload name");
            if (rc == SECUP_OK)
                rc = secup_cbor_read_bstr(&r, &ip->data, "integrated payload", err);
            if (rc != SECUP_OK)
                goto out;
            for (uint32_t j = 0; j < env->n_integrated; j++) {
                if (secup_bytes_equal(env->integrated[j].name, ip->name)) {
                    rc = secup_err_set(err, SECUP_E_DUPLICATE,
                                       "envelope: integrated payload '%.*s' twice",
                                       (int)ip->name.len, (const char *)ip->name.ptr);
                    goto out;
                }
            }
            env->n_integrated++;
            continue;
        }
        int64_t key = 0;
        rc = get_int_key(&d, &r, &key, "envelope key");
        if (rc != SECUP_OK)
            goto out;
        enum secup_section s;
        if (key == 2 || key == 3) {
            if ((key == 2 && has_auth) || (key == 3 && has_manifest)) {
                rc = secup_err_set(err, SECUP_E_DUPLICATE, "envelope: key %lld twice",
                                   (long long)key);
                goto out;
            }
            if (key == 2) {
                rc = secup_cbor_read_bstr(&r, &auth, "authentication wrapper", err);
                has_auth = true;
            } else {
                rc = secup_cbor_read_bstr_wrapped(&r, &env->manifest_bytes, &env->manifest_wrapped,
                                                  "manifest", err);
                has_manifest = true;
            }
        } else if (section_of_key(key, &s) && is_severable(s)) {
            if (copies[s].present) {
                rc = secup_err_set(err, SECUP_E_DUPLICATE, "envelope: key %lld twice",
                                   (long long)key);
                goto out;
            }
            copies[s].present = true;
            rc = secup_cbor_read_bstr_wrapped(&r, &copies[s].content, &copies[s].wrapped,
                                              secup_section_name(s), err);
        } else {
            rc = secup_err_set(err, SECUP_E_UNKNOWN_KEY, "envelope: key %lld is not %s",
                               (long long)key, key == 1 ? "used (delegation was removed)" : "defined");
        }
        if (rc != SECUP_OK)
            goto out;
    }
    rc = expect_end(&d, &r, "envelope");
    if (rc != SECUP_OK)
        goto out;
    if (!has_auth) {
        rc = secup_err_set(err, SECUP_E_MISSING, "envelope: no authentication wrapper (key 2)");
        goto out;
    }
    if (!has_manifest) {
        rc = secup_err_set(err, SECUP_E_MISSING, "envelope: no manifest (key 3)");
        goto out;
    }
    rc = decode_auth_wrapper(&d, env, auth);
    if (rc != SECUP_OK)
        goto out;
    rc = decode_manifest_body(&d, env->manifest_bytes, copies);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "manifest");
        goto out;
    }
    rc = check_integrated_referenced(env, err);
out:
    if (rc != SECUP_OK)
        memset(env, 0, sizeof(*env));
    return rc;
}

bool secup_envelope_find_integrated(const struct secup_envelope *env, struct secup_bytes name,
                                    struct secup_bytes *data)
{
    for (uint32_t i = 0; i < env->n_integrated; i++) {
        if (secup_bytes_equal(env->integrated[i].name, name)) {
            *data = env->integrated[i].data;
            return true;
        }
    }
    *data = secup_bytes_of(NULL, 0);
    return false;
}
