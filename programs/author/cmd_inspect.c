/* secup-author inspect: every field of an envelope, as indented text or as JSON.
 * One JSON tree is built and either dumped or rendered as text, so both show the same. */
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "author.h"
#include "cli.h"

static void help(void)
{
    printf("usage: secup-author inspect ENVELOPE [--json]\n\n"
           "Decodes the envelope and prints every field: authentication blocks, manifest\n"
           "sequence number, components, each command sequence with its parameters, text,\n"
           "severed members and integrated payloads. It does not check signatures (use\n"
           "'secup-author verify').\n");
}

static json_t *hex_of(struct secup_bytes b)
{
    size_t cap = b.len * 2 + 1;
    char *s = malloc(cap);
    if (!s)
        return json_null();
    secup_hex_encode(b, s, cap);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static bool is_printable(struct secup_bytes b)
{
    if (b.len == 0)
        return false;
    for (size_t i = 0; i < b.len; i++) {
        if (b.ptr[i] < 0x20 || b.ptr[i] > 0x7e)
            return false;
    }
    return true;
}

static json_t *text_of(struct secup_bytes b)
{
    return json_stringn((const char *)b.ptr, b.len);
}

/* A component-id part: printable text as is, anything else as h'..'. */
static json_t *part_of(struct secup_bytes b)
{
    if (is_printable(b))
        return text_of(b);
    size_t cap = b.len * 2 + 4;
    char *s = malloc(cap);
    if (!s)
        return json_null();
    s[0] = 'h';
    s[1] = '\'';
    secup_hex_encode(b, s + 2, cap - 3);
    size_t n = strlen(s);
    s[n] = '\'';
    s[n + 1] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *component_id_of(const struct secup_component_id *id)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < id->n_parts; i++)
        json_array_append_new(a, part_of(id->parts[i]));
    return a;
}

static const char *digest_alg_name(int64_t alg)
{
    switch (alg) {
    case -16: return "sha-256";
    case -18: return "shake128";
    case -43: return "sha-384";
    case -44: return "sha-512";
    case -45: return "shake256";
    default: return "unknown";
    }
}

static json_t *digest_of(const struct secup_digest *d)
{
    return json_pack("{s:s, s:I, s:o}", "algorithm", digest_alg_name(d->alg), "alg", (json_int_t)d->alg,
                     "value", hex_of(d->bytes));
}

static json_t *int_of(enum secup_value_kind kind, uint64_t u)
{
    if (u > (uint64_t)INT64_MAX) {
        char s[32];
        snprintf(s, sizeof(s), "%s%llu", kind == SECUP_VAL_NINT ? "-1-" : "", (unsigned long long)u);
        return json_string(s);
    }
    return json_integer(kind == SECUP_VAL_NINT ? -1 - (json_int_t)u : (json_int_t)u);
}

static json_t *value_of(const struct secup_value *v)
{
    switch (v->kind) {
    case SECUP_VAL_UINT:
    case SECUP_VAL_NINT: return int_of(v->kind, v->u);
    case SECUP_VAL_BOOL: return json_boolean(v->b);
    case SECUP_VAL_TSTR: return text_of(v->bytes);
    case SECUP_VAL_BSTR: return hex_of(v->bytes);
    case SECUP_VAL_RAW: return json_pack("{s:o}", "cbor", hex_of(v->bytes));
    case SECUP_VAL_NULL:
    case SECUP_VAL_NONE: break;
    }
    return json_null();
}

static json_t *param_value_of(const struct secup_param *p)
{
    const struct secup_value *v = &p->value;
    if ((p->key == SECUP_SUIT_PARAM_VENDOR_ID || p->key == SECUP_SUIT_PARAM_CLASS_ID ||
         p->key == SECUP_SUIT_PARAM_DEVICE_ID) &&
        v->kind == SECUP_VAL_BSTR && v->bytes.len == 16) {
        char u[SECUP_UUID_STR_LEN + 1];
        secup_uuid_format(v->bytes.ptr, u);
        return json_string(u);
    }
    if (p->key == SECUP_SUIT_PARAM_IMAGE_DIGEST && v->kind == SECUP_VAL_BSTR) {
        struct secup_digest d;
        if (secup_digest_decode(&d, v->bytes, NULL) == SECUP_OK)
            return digest_of(&d);
    }
    if (p->key == SECUP_SUIT_PARAM_ENCRYPTION_INFO || p->key == SECUP_SUIT_PARAM_CONTENT)
        return json_pack("{s:I, s:o}", "size", (json_int_t)v->bytes.len, "hex", hex_of(v->bytes));
    return value_of(v);
}

static void param_key(int64_t key, char *buf, size_t cap)
{
    const char *n = secup_param_name(key);
    if (n && key >= 0)
        snprintf(buf, cap, "%s", n);
    else
        snprintf(buf, cap, "custom(%lld)", (long long)key);
}

static json_t *params_of(const struct secup_manifest *m, uint32_t first, uint32_t count)
{
    json_t *o = json_object();
    for (uint32_t i = 0; i < count; i++) {
        const struct secup_param *p = &m->params[first + i];
        char key[64];
        param_key(p->key, key, sizeof(key));
        json_object_set_new(o, key, param_value_of(p));
    }
    return o;
}

static json_t *seq_of(const struct secup_manifest *m, uint32_t seq);

static json_t *command_of(const struct secup_manifest *m, const struct secup_command *c)
{
    const char *name = secup_command_name(c->code);
    bool cond = secup_command_is_condition(c->code);
    json_t *o = json_object();
    json_object_set_new(o, cond ? "condition" : "directive",
                        json_string(name ? name : "unknown"));
    json_object_set_new(o, "code", json_integer(c->code));
    switch (c->kind) {
    case SECUP_ARG_POLICY:
        json_object_set_new(o, "report-policy", json_integer((json_int_t)c->u));
        break;
    case SECUP_ARG_INDEX:
        json_object_set_new(o, "index", json_integer((json_int_t)c->u));
        break;
    case SECUP_ARG_INDEX_ALL:
        json_object_set_new(o, "index", json_true());
        break;
    case SECUP_ARG_INDEX_LIST: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < c->count; i++)
            json_array_append_new(a, json_integer(m->ints[c->first + i]));
        json_object_set_new(o, "index", a);
        break;
    }
    case SECUP_ARG_PARAMS:
        json_object_set_new(o, "parameters", params_of(m, c->first, c->count));
        break;
    case SECUP_ARG_MULTI_PARAMS:
    case SECUP_ARG_COPY_PARAMS: {
        json_t *g = json_object();
        for (uint32_t i = c->first; i < c->first + c->count;) {
            uint32_t j = i;
            while (j < c->first + c->count && m->params[j].index == m->params[i].index)
                j++;
            char idx[32];
            snprintf(idx, sizeof(idx), "%llu", (unsigned long long)m->params[i].index);
            if (c->kind == SECUP_ARG_MULTI_PARAMS) {
                json_object_set_new(g, idx, params_of(m, i, j - i));
            } else {
                json_t *keys = json_array();
                for (uint32_t k = i; k < j; k++)
                    json_array_append_new(keys, json_integer(m->params[k].key));
                json_object_set_new(g, idx, keys);
            }
            i = j;
        }
        json_object_set_new(o, c->kind == SECUP_ARG_MULTI_PARAMS ? "components" : "copy-from", g);
        break;
    }
    case SECUP_ARG_SEQUENCE:
        json_object_set_new(o, "sequence", seq_of(m, c->first));
        break;
    case SECUP_ARG_TRY_EACH: {
        json_t *alts = json_array();
        for (uint32_t i = 0; i < c->count; i++)
            json_array_append_new(alts, seq_of(m, c->first + i));
        json_object_set_new(o, "alternatives", alts);
        json_object_set_new(o, "else-nothing", json_boolean(c->try_each_nil));
        break;
    }
    case SECUP_ARG_VALUE:
        json_object_set_new(o, "argument", value_of(&c->value));
        break;
    }
    return o;
}

static json_t *seq_of(const struct secup_manifest *m, uint32_t seq)
{
    json_t *a = json_array();
    const struct secup_seq *s = &m->seqs[seq];
    for (uint32_t i = 0; i < s->count; i++)
        json_array_append_new(a, command_of(m, &m->commands[s->first + i]));
    return a;
}

static const char *text_key_name(int64_t key, bool component)
{
    static const char *const manifest_keys[] = { NULL, "manifest-description", "update-description",
                                                 "manifest-json-source", "manifest-yaml-source" };
    static const char *const comp_keys[] = { NULL, "vendor-name", "model-name", "vendor-domain",
                                             "model-info", "component-description",
                                             "component-version", "version-required",
                                             "current-version" };
    if (!component && key >= 1 && key <= 4)
        return manifest_keys[key];
    if (component && key >= 1 && key <= 8)
        return comp_keys[key];
    return NULL;
}

static json_t *text_map_of(const struct secup_manifest *m)
{
    json_t *langs = json_object();
    for (uint32_t i = 0; i < m->n_text; i++) {
        const struct secup_text *t = &m->text[i];
        char lang[128];
        snprintf(lang, sizeof(lang), "%.*s", (int)t->lang.len, (const char *)t->lang.ptr);
        json_t *l = json_object_get(langs, lang);
        if (!l) {
            l = json_object();
            json_object_set_new(langs, lang, l);
        }
        json_t *target = l;
        if (t->component >= 0) {
            json_t *comps = json_object_get(l, "components");
            if (!comps) {
                comps = json_array();
                json_object_set_new(l, "components", comps);
            }
            json_t *entry = NULL;
            size_t k;
            json_t *e;
            json_array_foreach(comps, k, e) {
                if (json_integer_value(json_object_get(e, "_index")) == t->component)
                    entry = e;
            }
            if (!entry) {
                entry = json_pack("{s:o, s:I}", "id", component_id_of(&m->text_ids[t->component]),
                                  "_index", (json_int_t)t->component);
                json_array_append_new(comps, entry);
            }
            target = entry;
        }
        const char *name = text_key_name(t->key, t->component >= 0);
        char key[32];
        if (!name) {
            snprintf(key, sizeof(key), "key(%lld)", (long long)t->key);
            name = key;
        }
        json_object_set_new(target, name, text_of(t->value));
    }
    /* drop the helper indices */
    const char *lang;
    json_t *l;
    json_object_foreach(langs, lang, l) {
        json_t *comps = json_object_get(l, "components");
        size_t k;
        json_t *e;
        json_array_foreach(comps, k, e)
            json_object_del(e, "_index");
    }
    return langs;
}

static json_t *member_of(const struct secup_manifest *m, enum secup_section s)
{
    const struct secup_member *mem = &m->members[s];
    json_t *body = NULL;
    if (mem->available) {
        if (s == SECUP_SECTION_TEXT)
            body = text_map_of(m);
        else if (s == SECUP_SECTION_COSWID)
            body = hex_of(mem->content);
        else
            body = seq_of(m, mem->seq);
    }
    if (mem->state != SECUP_MEMBER_SEVERED)
        return body;
    return json_pack("{s:b, s:o, s:b, s:o}", "severed", 1, "digest", digest_of(&mem->digest),
                     "in-envelope", mem->available, "content", body ? body : json_null());
}

static const char *alg_name(int64_t alg)
{
    switch (alg) {
    case -7: return "ES256";
    case -8: return "EdDSA";
    case -9: return "ESP256";
    case -19: return "Ed25519";
    case 5: return "HMAC 256/256";
    default: return "unknown";
    }
}

static json_t *envelope_json(const char *path, size_t len, const struct secup_envelope *env)
{
    const struct secup_manifest *m = &env->manifest;
    json_t *blocks = json_array();
    for (uint32_t i = 0; i < env->n_auth; i++) {
        const struct secup_auth_block *a = &env->auth[i];
        json_array_append_new(
            blocks, json_pack("{s:s, s:I, s:s, s:o, s:o}", "type",
                              a->type == SECUP_AUTH_SIGN1 ? "COSE_Sign1" : "COSE_Mac0", "alg",
                              (json_int_t)a->alg, "algorithm", alg_name(a->alg), "kid",
                              a->kid.len ? hex_of(a->kid) : json_null(),
                              a->type == SECUP_AUTH_SIGN1 ? "signature" : "tag", hex_of(a->tag)));
    }
    json_t *man = json_object();
    json_object_set_new(man, "version", json_integer((json_int_t)m->version));
    json_object_set_new(man, "sequence-number", int_of(SECUP_VAL_UINT, m->sequence_number));
    if (m->has_reference_uri)
        json_object_set_new(man, "reference-uri", text_of(m->reference_uri));
    if (m->has_component_id)
        json_object_set_new(man, "manifest-component-id", component_id_of(&m->component_id));
    if (m->has_set_version) {
        json_t *v = json_array();
        for (uint32_t i = 0; i < m->set_version_count; i++)
            json_array_append_new(v, json_integer(m->ints[m->set_version_first + i]));
        json_object_set_new(man, "set-version", v);
    }
    json_t *common = json_object();
    if (m->has_dependencies) {
        json_t *deps = json_array();
        for (uint32_t i = 0; i < m->n_dependencies; i++) {
            const struct secup_dependency *d = &m->dependencies[i];
            json_t *o = json_pack("{s:I}", "index", (json_int_t)d->index);
            if (d->has_prefix)
                json_object_set_new(o, "prefix", component_id_of(&d->prefix));
            json_array_append_new(deps, o);
        }
        json_object_set_new(common, "dependencies", deps);
    }
    json_t *comps = json_array();
    for (uint32_t i = 0; i < m->n_components; i++)
        json_array_append_new(comps, component_id_of(&m->components[i]));
    json_object_set_new(common, "components", comps);
    if (m->has_shared)
        json_object_set_new(common, "shared-sequence", seq_of(m, m->shared_seq));
    json_object_set_new(man, "common", common);
    for (int s = 0; s < SECUP_SECTION_COUNT; s++) {
        if (m->members[s].state == SECUP_MEMBER_ABSENT)
            continue;
        json_t *body = member_of(m, (enum secup_section)s);
        json_object_set_new(man, secup_section_name((enum secup_section)s), body ? body : json_null());
    }
    json_t *integ = json_array();
    for (uint32_t i = 0; i < env->n_integrated; i++)
        json_array_append_new(integ, json_pack("{s:o, s:I}", "name", text_of(env->integrated[i].name),
                                               "size", (json_int_t)env->integrated[i].data.len));
    return json_pack("{s:s, s:I, s:b, s:{s:o, s:o}, s:o, s:o}", "file", path, "size", (json_int_t)len,
                     "tagged", env->tagged, "authentication", "digest", digest_of(&env->digest),
                     "blocks", blocks, "manifest", man, "integrated-payloads", integ);
}

static void indent(int n)
{
    for (int i = 0; i < n; i++)
        fputs("  ", stdout);
}

static void print_scalar(json_t *v)
{
    if (json_is_string(v))
        fputs(json_string_value(v), stdout);
    else if (json_is_integer(v))
        printf("%lld", (long long)json_integer_value(v));
    else if (json_is_true(v))
        fputs("true", stdout);
    else if (json_is_false(v))
        fputs("false", stdout);
    else
        fputs("-", stdout);
}

static bool is_scalar(json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

static void print_text(json_t *v, int depth);

static bool all_scalars(json_t *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!is_scalar(e))
            return false;
    }
    return true;
}

/* Arrays of scalars (component ids, versions) print inline as [a, b]. */
static bool print_inline_array(json_t *v)
{
    size_t i;
    json_t *e;
    if (!all_scalars(v))
        return false;
    fputc('[', stdout);
    json_array_foreach(v, i, e) {
        if (i)
            fputs(", ", stdout);
        print_scalar(e);
    }
    fputc(']', stdout);
    return true;
}

static void print_member(const char *key, json_t *v, int depth)
{
    indent(depth);
    printf("%s:", key);
    if (is_scalar(v)) {
        fputc(' ', stdout);
        print_scalar(v);
        fputc('\n', stdout);
    } else if (json_is_array(v) && json_array_size(v) == 0) {
        fputs(" []\n", stdout);
    } else if (json_is_array(v) && all_scalars(v)) {
        fputc(' ', stdout);
        print_inline_array(v);
        fputc('\n', stdout);
    } else {
        fputc('\n', stdout);
        print_text(v, depth + 1);
    }
}

static void print_text(json_t *v, int depth)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *e;
        json_object_foreach(v, key, e)
            print_member(key, e, depth);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        indent(depth);
        fputs("- ", stdout);
        if (is_scalar(e)) {
            print_scalar(e);
            fputc('\n', stdout);
        } else if (json_is_array(e) && print_inline_array(e)) {
            fputc('\n', stdout);
        } else if (json_is_object(e)) {
            /* first member on the dash line, the rest aligned under it */
            const char *key;
            json_t *x;
            bool first = true;
            json_object_foreach(e, key, x) {
                if (first) {
                    first = false;
                    print_member(key, x, 0);
                } else {
                    print_member(key, x, depth + 1);
                }
            }
            if (first)
                fputs("{}\n", stdout);
        } else {
            fputc('\n', stdout);
            print_text(e, depth + 1);
        }
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': as_json = true; break;
        case 'h': help(); return 0;
        default: return cli_usage("inspect", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("inspect", "exactly one envelope file is needed");
    const char *path = argv[optind];
    struct secup_err err;
    struct secup_envelope *env = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_err_clear(&err);
    if (author_load_envelope(path, &buf, &len, &env, &err) != SECUP_OK)
        return cli_fail("inspect", &err);
    json_t *j = envelope_json(path, len, env);
    if (as_json) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else {
        print_text(j, 0);
    }
    json_decref(j);
    free(env);
    secup_file_free(buf, len);
    return 0;
}
