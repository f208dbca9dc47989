/* The trust store and trust-anchor rotation (trust.h, docs/decisions/0004). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "trust.h"

#define TRUST_MAX_FILE (64 * 1024)

static bool is_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static json_t *component_names(const struct agent_config *cfg, uint32_t bits)
{
    json_t *arr = json_array();
    for (uint32_t c = 0; c < cfg->n_components; c++) {
        if (bits & (UINT32_C(1) << c))
            json_array_append_new(arr, json_string(cfg->components[c].name));
    }
    return arr;
}

secup_rc trust_format(const struct agent_config *cfg, const struct trust_store *ts, char *buf,
                      size_t cap, size_t *len, struct secup_err *err)
{
    json_t *added = json_array();
    json_t *retired = json_array();
    json_t *floors = json_object();
    for (uint32_t i = 0; i < ts->n_added; i++) {
        const struct trust_added *t = &ts->added[i];
        json_array_append_new(added, json_pack("{s:s, s:s, s:o, s:b}", "name", t->name, "key",
                                               t->pem, "components",
                                               component_names(cfg, t->components), "rotate",
                                               t->rotate));
    }
    for (uint32_t i = 0; i < ts->n_retired; i++) {
        char hex[65];
        secup_hex_encode(secup_bytes_of(ts->retired[i].key_id, 32), hex, sizeof(hex));
        json_array_append_new(retired, json_pack("{s:s, s:s}", "name", ts->retired[i].name,
                                                 "key-id", hex));
    }
    for (uint32_t i = 0; i < ts->n_floors; i++)
        json_object_set_new(floors, ts->floors[i].anchor, json_integer((json_int_t)ts->floors[i].seq));
    json_t *root = json_pack("{s:i, s:I, s:o, s:o, s:o}", "format", 1, "generation",
                             (json_int_t)ts->generation, "added", added, "retired", retired,
                             "rotation-floors", floors);
    if (!root)
        return secup_err_set(err, SECUP_E_NOMEM, "cannot build the trust store document");
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "cannot serialise the trust store");
    secup_rc rc = state_seal(text, strlen(text), buf, cap, len, err);
    free(text);
    return rc;
}

static secup_rc get_name(json_t *o, const char *key, char *dst, const char *where,
                         struct secup_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= AGENT_NAME_MAX ||
        strlen(json_string_value(v)) != json_string_length(v) || !is_name(json_string_value(v)))
        return secup_err_set(err, SECUP_E_VALUE,
                             "%s: \"%s\" must be a name of 1 to %d letters, digits, '_' or '-'",
                             where, key, AGENT_NAME_MAX - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return SECUP_OK;
}

static secup_rc get_pem(json_t *o, char *dst, const char *where, struct secup_err *err)
{
    json_t *v = json_object_get(o, "key");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= TRUST_PEM_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return secup_err_set(err, SECUP_E_VALUE, "%s: \"key\" must be a PEM public key of at most %d bytes",
                             where, TRUST_PEM_MAX - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return SECUP_OK;
}

/* Component names into bits; strict: an unknown name is an error (update documents), else
 * dropped (a stored anchor outliving a configuration change). */
static secup_rc get_components(const struct agent_config *cfg, json_t *arr, bool strict,
                               uint32_t *bits, const char *where, struct secup_err *err)
{
    *bits = 0;
    if (!json_is_array(arr))
        return secup_err_set(err, SECUP_E_VALUE, "%s: \"components\" must be an array of names", where);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            return secup_err_set(err, SECUP_E_VALUE, "%s: \"components\" must hold names", where);
        int found = -1;
        for (uint32_t c = 0; c < cfg->n_components; c++) {
            if (strcmp(cfg->components[c].name, json_string_value(v)) == 0)
                found = (int)c;
        }
        if (found < 0 && strict)
            return secup_err_set(err, SECUP_E_VALUE, "%s: \"%.64s\" is not a component of this device",
                                 where, json_string_value(v));
        if (found >= 0)
            *bits |= UINT32_C(1) << found;
    }
    return SECUP_OK;
}

static secup_rc check_keys(json_t *o, const char *const *allowed, const char *where,
                           struct secup_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return secup_err_set(err, SECUP_E_JSON, "%s: unknown key \"%.64s\"", where, key);
    }
    return SECUP_OK;
}

static bool get_bool(json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (!json_is_boolean(v))
        return false;
    *out = json_is_true(v);
    return true;
}

static const char *const store_added_keys[] = { "name", "key", "components", "rotate", NULL };
static const char *const store_retired_keys[] = { "name", "key-id", NULL };

static secup_rc parse_store(const struct agent_config *cfg, json_t *root, struct trust_store *ts,
                            struct secup_err *err)
{
    json_t *format = json_object_get(root, "format");
    json_t *gen = json_object_get(root, "generation");
    json_t *added = json_object_get(root, "added");
    json_t *retired = json_object_get(root, "retired");
    json_t *floors = json_object_get(root, "rotation-floors");
    if (!json_is_integer(format) || json_integer_value(format) != 1)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "trust store: format is not 1");
    if (!json_is_integer(gen) || json_integer_value(gen) < 0)
        return secup_err_set(err, SECUP_E_VALUE, "trust store: \"generation\" is not a non-negative integer");
    ts->generation = (uint64_t)json_integer_value(gen);
    if (!json_is_array(added) || json_array_size(added) > TRUST_MAX_ADDED || !json_is_array(retired) ||
        json_array_size(retired) > TRUST_MAX_RETIRED || !json_is_object(floors) ||
        json_object_size(floors) > AGENT_MAX_ALL_ANCHORS)
        return secup_err_set(err, SECUP_E_VALUE, "trust store: \"added\", \"retired\" or \"rotation-floors\" malformed or over its bound");
    size_t i;
    json_t *o;
    secup_rc rc = SECUP_OK;
    json_array_foreach(added, i, o) {
        struct trust_added *t = &ts->added[ts->n_added];
        if (!json_is_object(o))
            return secup_err_set(err, SECUP_E_VALUE, "trust store: an added anchor is not an object");
        rc = check_keys(o, store_added_keys, "trust store: added anchor", err);
        if (rc == SECUP_OK)
            rc = get_name(o, "name", t->name, "trust store: added anchor", err);
        if (rc == SECUP_OK)
            rc = get_pem(o, t->pem, "trust store: added anchor", err);
        if (rc == SECUP_OK)
            rc = get_components(cfg, json_object_get(o, "components"), false, &t->components,
                                "trust store: added anchor", err);
        if (rc == SECUP_OK && !get_bool(o, "rotate", &t->rotate))
            rc = secup_err_set(err, SECUP_E_VALUE, "trust store: \"rotate\" is not a boolean");
        if (rc != SECUP_OK)
            return rc;
        for (uint32_t k = 0; k < ts->n_added; k++) {
            if (strcmp(ts->added[k].name, t->name) == 0)
                return secup_err_set(err, SECUP_E_DUPLICATE, "trust store: anchor \"%s\" added twice", t->name);
        }
        ts->n_added++;
    }
    json_array_foreach(retired, i, o) {
        struct trust_retired *r = &ts->retired[ts->n_retired];
        json_t *id = json_object_get(o, "key-id");
        size_t n = 0;
        if (!json_is_object(o))
            return secup_err_set(err, SECUP_E_VALUE, "trust store: a retired anchor is not an object");
        rc = check_keys(o, store_retired_keys, "trust store: retired anchor", err);
        if (rc == SECUP_OK)
            rc = get_name(o, "name", r->name, "trust store: retired anchor", err);
        if (rc == SECUP_OK && (!json_is_string(id) || json_string_length(id) != 64 ||
                               !secup_hex_decode(json_string_value(id), r->key_id, 32, &n) || n != 32))
            rc = secup_err_set(err, SECUP_E_VALUE, "trust store: \"key-id\" is not 32 bytes of hex");
        if (rc != SECUP_OK)
            return rc;
        ts->n_retired++;
    }
    const char *name;
    json_t *v;
    json_object_foreach(floors, name, v) {
        if (strlen(name) >= AGENT_NAME_MAX || !json_is_integer(v) || json_integer_value(v) < 0)
            return secup_err_set(err, SECUP_E_VALUE, "trust store: bad rotation floor");
        memcpy(ts->floors[ts->n_floors].anchor, name, strlen(name) + 1);
        ts->floors[ts->n_floors].seq = (uint64_t)json_integer_value(v);
        ts->n_floors++;
    }
    return SECUP_OK;
}

secup_rc trust_parse(const struct agent_config *cfg, const char *text, size_t len,
                     struct trust_store *ts, struct secup_err *err)
{
    memset(ts, 0, sizeof(*ts));
    json_t *root = NULL;
    secup_rc rc = state_unseal_object(text, len, "trust store", &root, err);
    if (rc != SECUP_OK)
        return rc;
    rc = parse_store(cfg, root, ts, err);
    json_decref(root);
    if (rc != SECUP_OK)
        memset(ts, 0, sizeof(*ts));
    return rc;
}

static void copy_path(const struct agent_config *cfg, char which, char *out, size_t cap)
{
    snprintf(out, cap, "%s/trust.%c", cfg->state_dir, which);
}

/* A copy that failed with an I/O error, or that "does not exist" although it is there
 * (an open can fail with ENOENT), is unreadable now, not missing or damaged. */
static bool copy_unreadable(const struct agent_config *cfg, char which, secup_rc rc)
{
    if (rc == SECUP_E_IO)
        return true;
    if (rc != SECUP_E_NOENT)
        return false;
    char path[AGENT_PATH_MAX + 16];
    struct stat sb;
    copy_path(cfg, which, path, sizeof(path));
    return stat(path, &sb) == 0;
}

static secup_rc load_copy(const struct agent_config *cfg, char which, struct trust_store *ts,
                          struct secup_err *err)
{
    char path[AGENT_PATH_MAX + 16];
    uint8_t *buf = NULL;
    size_t len = 0;
    copy_path(cfg, which, path, sizeof(path));
    secup_rc rc = secup_file_read(path, TRUST_MAX_FILE, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    rc = trust_parse(cfg, (const char *)buf, len, ts, err);
    secup_file_free(buf, len);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "'%s'", path);
    return rc;
}

secup_rc trust_load(const struct agent_config *cfg, struct trust_store *ts, bool *recovered,
                    struct secup_err *err)
{
    static struct trust_store b;
    struct secup_err ea;
    struct secup_err eb;
    *recovered = false;
    secup_rc ra = load_copy(cfg, 'A', ts, &ea);
    secup_rc rb = load_copy(cfg, 'B', &b, &eb);
    if (ra != SECUP_OK && rb != SECUP_OK &&
        (copy_unreadable(cfg, 'A', ra) || copy_unreadable(cfg, 'B', rb))) {
        /* neither a new device nor a damaged store: nothing may start from an empty one */
        memset(ts, 0, sizeof(*ts));
        return secup_err_set(err, SECUP_E_IO, "no trust store copy could be read: %s; %s", ea.msg, eb.msg);
    }
    if (ra == SECUP_E_NOENT && rb == SECUP_E_NOENT) {
        memset(ts, 0, sizeof(*ts));
        return SECUP_OK; /* no rotation yet: the configured anchors */
    }
    if (ra == SECUP_OK && rb == SECUP_OK) {
        if (b.generation > ts->generation)
            *ts = b;
        return SECUP_OK;
    }
    if (ra == SECUP_OK || rb == SECUP_OK) {
        if (rb == SECUP_OK)
            *ts = b;
        *recovered = true;
        secup_err_set(err, SECUP_OK, "%s", ra == SECUP_OK ? eb.msg : ea.msg);
        return SECUP_OK;
    }
    memset(ts, 0, sizeof(*ts));
    return secup_err_set(err, SECUP_E_DIGEST, "no usable trust store copy: %s; %s", ea.msg, eb.msg);
}

secup_rc trust_save(const struct agent_config *cfg, struct trust_store *ts, struct secup_err *err)
{
    static char buf[TRUST_MAX_FILE];
    size_t len = 0;
    char path[AGENT_PATH_MAX + 16];
    ts->generation++;
    secup_rc rc = trust_format(cfg, ts, buf, sizeof(buf), &len, err);
    for (int i = 0; rc == SECUP_OK && i < 2; i++) {
        copy_path(cfg, i == 0 ? 'A' : 'B', path, sizeof(path));
        rc = secup_file_write_atomic(path, secup_bytes_of(buf, len), 0600, err);
    }
    return rc;
}

bool trust_is_retired(const struct trust_store *ts, const char *name)
{
    for (uint32_t i = 0; i < ts->n_retired; i++) {
        if (strcmp(ts->retired[i].name, name) == 0)
            return true;
    }
    return false;
}

void trust_anchors(const struct agent_config *cfg, const struct trust_store *ts,
                   struct agent_anchor *out, uint32_t *n)
{
    *n = 0;
    for (uint32_t i = 0; i < cfg->n_anchors && *n < AGENT_MAX_ALL_ANCHORS; i++) {
        out[*n] = cfg->anchors[i];
        out[*n].pem = NULL;
        out[*n].retired = trust_is_retired(ts, cfg->anchors[i].name);
        (*n)++;
    }
    for (uint32_t i = 0; i < ts->n_added && *n < AGENT_MAX_ALL_ANCHORS; i++) {
        struct agent_anchor *a = &out[*n];
        memset(a, 0, sizeof(*a));
        memcpy(a->name, ts->added[i].name, sizeof(a->name));
        a->pem = ts->added[i].pem;
        a->components = ts->added[i].components;
        a->rotate = ts->added[i].rotate;
        a->retired = trust_is_retired(ts, a->name);
        (*n)++;
    }
}

secup_rc trust_anchor_key(const struct agent_anchor *a, struct secup_key **out,
                          struct secup_err *err)
{
    if (a->pem)
        return secup_key_parse_pem(out, secup_bytes_of(a->pem, strlen(a->pem)), err);
    return secup_key_load_pem(out, a->key_path, err);
}

/* ---- trust-update documents ---- */

static const char *const update_keys[] = { "secup-trust-update", "add", "retire", NULL };
static const char *const add_keys[] = { "name", "key", "components", "rotate", NULL };

static secup_rc parse_add(const struct agent_config *cfg, json_t *o, struct trust_added *t,
                          uint32_t index, struct secup_err *err)
{
    char where[48];
    snprintf(where, sizeof(where), "trust update: add[%u]", index);
    if (!json_is_object(o))
        return secup_err_set(err, SECUP_E_JSON, "%s is not an object", where);
    secup_rc rc = check_keys(o, add_keys, where, err);
    if (rc == SECUP_OK)
        rc = get_name(o, "name", t->name, where, err);
    if (rc == SECUP_OK)
        rc = get_pem(o, t->pem, where, err);
    if (rc != SECUP_OK)
        return rc;
    json_t *comps = json_object_get(o, "components");
    t->all_components = comps == NULL;
    if (comps)
        rc = get_components(cfg, comps, true, &t->components, where, err);
    if (rc == SECUP_OK && !get_bool(o, "rotate", &t->rotate))
        rc = secup_err_set(err, SECUP_E_VALUE, "%s: \"rotate\" must be true or false", where);
    if (rc != SECUP_OK)
        return rc;
    struct secup_key *key = NULL;
    rc = secup_key_parse_pem(&key, secup_bytes_of(t->pem, strlen(t->pem)), err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s \"%s\": key", where, t->name);
        return rc;
    }
    enum secup_key_type type = secup_key_type(key);
    bool priv = secup_key_has_private(key);
    secup_key_free(key);
    if (priv)
        return secup_err_set(err, SECUP_E_VALUE, "%s \"%s\": \"key\" is a private key; give the public key",
                             where, t->name);
    if (type != SECUP_KEY_P256 && type != SECUP_KEY_ED25519)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "%s \"%s\": a %s key cannot sign manifests (P-256 or Ed25519)", where,
                             t->name, secup_key_type_name(type));
    return SECUP_OK;
}

secup_rc trust_update_parse(const struct agent_config *cfg, const char *text, size_t len,
                            struct trust_update *u, struct secup_err *err)
{
    memset(u, 0, sizeof(*u));
    if (len > TRUST_MAX_UPDATE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "trust update: %zu bytes, more than %d", len,
                             TRUST_MAX_UPDATE);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return secup_err_set(err, SECUP_E_JSON, "trust update: line %d: %s", je.line, je.text);
    secup_rc rc = SECUP_OK;
    json_t *fmt = json_object_get(root, "secup-trust-update");
    json_t *add = json_object_get(root, "add");
    json_t *retire = json_object_get(root, "retire");
    if (!json_is_object(root))
        rc = secup_err_set(err, SECUP_E_JSON, "trust update: not a JSON object");
    if (rc == SECUP_OK)
        rc = check_keys(root, update_keys, "trust update", err);
    if (rc == SECUP_OK && !json_is_integer(fmt))
        rc = secup_err_set(err, SECUP_E_JSON, "trust update: \"secup-trust-update\" (the format, 1) is required");
    if (rc == SECUP_OK && json_integer_value(fmt) != TRUST_UPDATE_FORMAT)
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "trust update: format %lld (only 1)",
                           (long long)json_integer_value(fmt));
    if (rc == SECUP_OK && ((add && !json_is_array(add)) || (retire && !json_is_array(retire))))
        rc = secup_err_set(err, SECUP_E_JSON, "trust update: \"add\" and \"retire\" must be arrays");
    if (rc == SECUP_OK && json_array_size(add) + json_array_size(retire) == 0)
        rc = secup_err_set(err, SECUP_E_VALUE, "trust update: it neither adds nor retires an anchor");
    if (rc == SECUP_OK && json_array_size(add) > TRUST_MAX_ADDED)
        rc = secup_err_set(err, SECUP_E_LIMIT, "trust update: adds more than %d anchors", TRUST_MAX_ADDED);
    if (rc == SECUP_OK && json_array_size(retire) > AGENT_MAX_ALL_ANCHORS)
        rc = secup_err_set(err, SECUP_E_LIMIT, "trust update: retires more than %d anchors",
                           AGENT_MAX_ALL_ANCHORS);
    size_t i;
    json_t *o;
    json_array_foreach(add, i, o) {
        if (rc != SECUP_OK)
            break;
        rc = parse_add(cfg, o, &u->add[u->n_add], (uint32_t)i, err);
        for (uint32_t k = 0; rc == SECUP_OK && k < u->n_add; k++) {
            if (strcmp(u->add[k].name, u->add[u->n_add].name) == 0)
                rc = secup_err_set(err, SECUP_E_DUPLICATE, "trust update: anchor \"%s\" added twice",
                                   u->add[k].name);
        }
        if (rc == SECUP_OK)
            u->n_add++;
    }
    json_array_foreach(retire, i, o) {
        if (rc != SECUP_OK)
            break;
        char where[48];
        snprintf(where, sizeof(where), "trust update: retire[%zu]", i);
        json_t *holder = json_pack("{s:O}", "name", o);
        rc = get_name(holder, "name", u->retire[u->n_retire], where, err);
        json_decref(holder);
        for (uint32_t k = 0; rc == SECUP_OK && k < u->n_retire; k++) {
            if (strcmp(u->retire[k], u->retire[u->n_retire]) == 0)
                rc = secup_err_set(err, SECUP_E_DUPLICATE, "trust update: \"%s\" retired twice",
                                   u->retire[k]);
        }
        if (rc == SECUP_OK)
            u->n_retire++;
    }
    json_decref(root);
    if (rc != SECUP_OK)
        memset(u, 0, sizeof(*u));
    return rc;
}

static secup_rc key_id_of(const struct agent_anchor *a, uint8_t id[32], struct secup_err *err)
{
    struct secup_key *k = NULL;
    secup_rc rc = trust_anchor_key(a, &k, err);
    if (rc == SECUP_OK)
        rc = secup_key_id(k, id, err);
    secup_key_free(k);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "trust anchor \"%s\"", a->name);
    return rc;
}

static bool slot_needs(const struct agent_config *cfg, const struct agent_state *st,
                       const char *name)
{
    for (uint32_t c = 0; c < cfg->n_components; c++) {
        for (int s = 0; s < 2; s++) {
            if (st->comp[c].slot[s].valid && strcmp(st->comp[c].slot[s].anchor, name) == 0)
                return true;
        }
    }
    return false;
}

static void set_floor(struct trust_store *ts, const char *name, uint64_t seq)
{
    for (uint32_t i = 0; i < ts->n_floors; i++) {
        if (strcmp(ts->floors[i].anchor, name) == 0) {
            ts->floors[i].seq = seq;
            return;
        }
    }
    if (ts->n_floors < AGENT_MAX_ALL_ANCHORS) {
        memcpy(ts->floors[ts->n_floors].anchor, name, strlen(name) + 1);
        ts->floors[ts->n_floors].seq = seq;
        ts->n_floors++;
    }
}

static uint64_t get_floor(const struct trust_store *ts, const char *name)
{
    for (uint32_t i = 0; i < ts->n_floors; i++) {
        if (strcmp(ts->floors[i].anchor, name) == 0)
            return ts->floors[i].seq;
    }
    return 0;
}

static secup_rc check_add(const struct trust_added *t, const struct trust_store *ts,
                          const struct agent_anchor *anchors, uint32_t n_anchors,
                          const uint8_t (*ids)[32], const struct agent_anchor *signer,
                          struct secup_err *err)
{
    uint8_t id[32];
    struct agent_anchor tmp;
    memset(&tmp, 0, sizeof(tmp));
    memcpy(tmp.name, t->name, sizeof(tmp.name));
    tmp.pem = t->pem;
    secup_rc rc = key_id_of(&tmp, id, err);
    if (rc != SECUP_OK)
        return rc;
    for (uint32_t i = 0; i < n_anchors; i++) {
        if (anchors[i].retired)
            continue; /* below, with every retired anchor */
        if (strcmp(anchors[i].name, t->name) == 0)
            return secup_err_set(err, SECUP_E_DUPLICATE, "trust update: an anchor named \"%s\" exists",
                                 t->name);
        if (memcmp(ids[i], id, 32) == 0)
            return secup_err_set(err, SECUP_E_DUPLICATE, "trust update: \"%s\" has the key of anchor \"%s\"",
                                 t->name, anchors[i].name);
    }
    for (uint32_t i = 0; i < ts->n_retired; i++) {
        if (strcmp(ts->retired[i].name, t->name) == 0)
            return secup_err_set(err, SECUP_E_DUPLICATE,
                                 "trust update: \"%s\" is the name of a retired anchor; names are never reused",
                                 t->name);
        if (memcmp(ts->retired[i].key_id, id, 32) == 0)
            return secup_err_set(err, SECUP_E_DUPLICATE,
                                 "trust update: \"%s\" has the key of retired anchor \"%s\"; a retired key never returns",
                                 t->name, ts->retired[i].name);
    }
    (void)signer; /* an anchor that may rotate may grant any component (an offline root
                   * key typically signs for none itself) */
    return SECUP_OK;
}

secup_rc trust_update_apply(const struct agent_config *cfg, struct trust_store *ts,
                            const struct agent_anchor *anchors, uint32_t n_anchors,
                            uint32_t signer_index, uint64_t seq, const struct trust_update *u,
                            const struct agent_state *st, uint32_t *retired_now,
                            struct secup_err *err)
{
    static struct trust_store next;
    uint8_t ids[AGENT_MAX_ALL_ANCHORS][32];
    *retired_now = 0;
    if (signer_index >= n_anchors)
        return secup_err_set(err, SECUP_E_ARG, "no such signer");
    const struct agent_anchor *signer = &anchors[signer_index];
    if (!signer->rotate || signer->retired)
        return secup_err_set(err, SECUP_E_POLICY, "trust anchor \"%s\" may not sign trust updates",
                             signer->name);
    uint64_t floor = get_floor(ts, signer->name);
    if (seq <= floor)
        return secup_err_set(err, SECUP_E_ROLLBACK,
                             "trust update: sequence number %llu is not greater than %llu (the last one \"%s\" signed)",
                             (unsigned long long)seq, (unsigned long long)floor, signer->name);
    for (uint32_t i = 0; i < n_anchors; i++) {
        secup_rc rc = key_id_of(&anchors[i], ids[i], err);
        if (rc != SECUP_OK)
            return rc;
    }
    next = *ts;
    for (uint32_t r = 0; r < u->n_retire; r++) {
        uint32_t i = 0;
        while (i < n_anchors && strcmp(anchors[i].name, u->retire[r]) != 0)
            i++;
        if (i == n_anchors || anchors[i].retired)
            return secup_err_set(err, SECUP_E_VALUE, "trust update: \"%s\" is not an anchor in force",
                                 u->retire[r]);
        if (next.n_retired >= TRUST_MAX_RETIRED)
            return secup_err_set(err, SECUP_E_LIMIT, "trust store: more than %d retired anchors",
                                 TRUST_MAX_RETIRED);
        struct trust_retired *t = &next.retired[next.n_retired++];
        memcpy(t->name, anchors[i].name, sizeof(t->name));
        memcpy(t->key_id, ids[i], 32);
        *retired_now |= UINT32_C(1) << i;
    }
    for (uint32_t k = 0; k < u->n_add; k++) {
        secup_rc rc = check_add(&u->add[k], ts, anchors, n_anchors, (const uint8_t(*)[32])ids,
                                signer, err);
        if (rc != SECUP_OK)
            return rc;
    }
    /* retired rotated-in anchors whose images are gone leave the store (their names and
     * key ids stay in the retired list) */
    uint32_t keep = 0;
    for (uint32_t i = 0; i < next.n_added; i++) {
        if (!trust_is_retired(&next, next.added[i].name) || slot_needs(cfg, st, next.added[i].name))
            next.added[keep++] = next.added[i];
    }
    next.n_added = keep;
    for (uint32_t k = 0; k < u->n_add; k++) {
        if (next.n_added >= TRUST_MAX_ADDED)
            return secup_err_set(err, SECUP_E_LIMIT, "trust store: more than %d rotated-in anchors",
                                 TRUST_MAX_ADDED);
        struct trust_added *t = &next.added[next.n_added++];
        *t = u->add[k];
        if (t->all_components)
            t->components = (UINT32_C(1) << cfg->n_components) - 1;
        t->all_components = false;
    }
    /* the rotation floors of retired anchors go: they sign nothing any more */
    keep = 0;
    for (uint32_t i = 0; i < next.n_floors; i++) {
        if (!trust_is_retired(&next, next.floors[i].anchor))
            next.floors[keep++] = next.floors[i];
    }
    next.n_floors = keep;
    if (!trust_is_retired(&next, signer->name))
        set_floor(&next, signer->name, seq);
    bool can_rotate = false;
    for (uint32_t i = 0; i < cfg->n_anchors; i++)
        can_rotate |= cfg->anchors[i].rotate && !trust_is_retired(&next, cfg->anchors[i].name);
    for (uint32_t i = 0; i < next.n_added; i++)
        can_rotate |= next.added[i].rotate && !trust_is_retired(&next, next.added[i].name);
    if (!can_rotate)
        return secup_err_set(err, SECUP_E_POLICY,
                             "trust update: it would leave no anchor that may sign trust updates");
    if (cfg->n_anchors + next.n_added > AGENT_MAX_ALL_ANCHORS)
        return secup_err_set(err, SECUP_E_LIMIT, "trust store: more than %d anchors in all",
                             AGENT_MAX_ALL_ANCHORS);
    *ts = next;
    return SECUP_OK;
}

uint32_t trust_count_signers(const struct agent_anchor *anchors, const uint8_t (*key_ids)[32],
                             uint32_t n_anchors, uint32_t signed_mask, uint32_t component,
                             uint32_t *first)
{
    uint32_t counted = 0; /* anchors[] indices counted, one per distinct key */
    uint32_t n = 0;
    if (first)
        *first = n_anchors;
    for (uint32_t i = 0; i < n_anchors && i < 32; i++) {
        if (!((signed_mask >> i) & 1u) || anchors[i].retired ||
            component >= 32 || !((anchors[i].components >> component) & 1u))
            continue;
        bool same_key = false;
        for (uint32_t j = 0; j < i && !same_key; j++)
            same_key = ((counted >> j) & 1u) && memcmp(key_ids[j], key_ids[i], 32) == 0;
        if (same_key)
            continue;
        counted |= UINT32_C(1) << i;
        n++;
        if (first && *first == n_anchors)
            *first = i;
    }
    return n;
}

uint64_t trust_threshold_floor(const struct agent_anchor *anchors, uint32_t n_anchors,
                               const struct agent_state *st, uint32_t component,
                               uint32_t *by)
{
    uint64_t floor = 0;
    uint32_t at = n_anchors;
    for (uint32_t i = 0; i < n_anchors && component < 32; i++) {
        if (anchors[i].retired || !((anchors[i].components >> component) & 1u))
            continue;
        uint64_t f = state_floor(st, component, anchors[i].name);
        if (at == n_anchors || f > floor) {
            floor = f;
            at = i;
        }
    }
    if (by)
        *by = at;
    return floor;
}
