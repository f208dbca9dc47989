#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "state.h"

#define STATE_MAX_FILE (64 * 1024)
#define SUM_PREFIX "sha256:"

static json_t *slot_json(const struct state_slot *s)
{
    char hex[65];
    secup_hex_encode(secup_bytes_of(s->digest, 32), hex, sizeof(hex));
    return json_pack("{s:b, s:I, s:s, s:s, s:I, s:s}", "valid", s->valid, "seq", (json_int_t)s->seq,
                     "version", s->version, "digest", hex, "size", (json_int_t)s->size, "anchor",
                     s->anchor);
}

secup_rc state_format(const struct agent_config *cfg, const struct agent_state *st, char *buf,
                      size_t cap, size_t *len, struct secup_err *err)
{
    json_t *comps = json_object();
    for (uint32_t i = 0; i < cfg->n_components; i++) {
        const struct state_component *c = &st->comp[i];
        json_t *floors = json_object();
        for (uint32_t f = 0; f < c->n_floors; f++)
            json_object_set_new(floors, c->floors[f].anchor, json_integer((json_int_t)c->floors[f].seq));
        json_object_set_new(comps, cfg->components[i].name,
                            json_pack("{s:[o,o], s:o}", "slots", slot_json(&c->slot[0]),
                                      slot_json(&c->slot[1]), "floors", floors));
    }
    json_t *root = json_pack(
        "{s:i, s:I, s:b, s:s, s:I, s:I, s:I, s:I, s:{s:s, s:s, s:I, s:I, s:s}, s:o}", "format", 1,
        "generation", (json_int_t)st->generation, "safe-mode", st->safe_mode, "safe-reason",
        st->safe_reason, "report-counter", (json_int_t)st->report_counter, "pending",
        (json_int_t)st->pending, "confirming", (json_int_t)st->confirming, "falling-back",
        (json_int_t)st->falling_back,
        "last", "code", st->last.code, "reason",
        st->last.reason, "time", (json_int_t)st->last.time, "seq", (json_int_t)st->last.seq,
        "manifest-digest", st->last.manifest_digest, "components", comps);
    if (root && (st->time_floor || st->fresh_until))
        json_object_set_new(root, "secure-time",
                            json_pack("{s:I, s:I}", "floor", (json_int_t)st->time_floor,
                                      "fresh-until", (json_int_t)st->fresh_until));
    if (!root)
        return secup_err_set(err, SECUP_E_NOMEM, "cannot build the state document");
    if (st->last.failures)
        json_object_set_new(json_object_get(root, "last"), "failures",
                            json_integer((json_int_t)st->last.failures));
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "cannot serialise the state");
    secup_rc rc = state_seal(text, strlen(text), buf, cap, len, err);
    free(text);
    return rc;
}

secup_rc state_seal(const char *json, size_t n, char *buf, size_t cap, size_t *len,
                    struct secup_err *err)
{
    uint8_t h[32];
    char hex[65];
    secup_rc rc = secup_sha256(secup_bytes_of(json, n), h, err);
    if (rc != SECUP_OK)
        return rc;
    secup_hex_encode(secup_bytes_of(h, 32), hex, sizeof(hex));
    int m = snprintf(buf, cap, "%.*s\n" SUM_PREFIX "%s\n", (int)n, json, hex);
    if (m < 0 || (size_t)m >= cap)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "a document of %d bytes does not fit", m);
    *len = (size_t)m;
    return SECUP_OK;
}

secup_rc state_unseal(const char *text, size_t len, size_t *json_len, struct secup_err *err)
{
    /* the last line holds the checksum of everything before it */
    if (len < sizeof(SUM_PREFIX) + 64 || text[len - 1] != '\n')
        return secup_err_set(err, SECUP_E_DIGEST, "truncated (no checksum line)");
    size_t sum_at = len - 1 - strlen(SUM_PREFIX) - 64;
    if (sum_at == 0 || text[sum_at - 1] != '\n' || memcmp(text + sum_at, SUM_PREFIX, strlen(SUM_PREFIX)) != 0)
        return secup_err_set(err, SECUP_E_DIGEST, "no checksum line");
    uint8_t want[32];
    uint8_t got[32];
    char hex[65];
    size_t n = 0;
    memcpy(hex, text + sum_at + strlen(SUM_PREFIX), 64);
    hex[64] = '\0';
    if (!secup_hex_decode(hex, want, sizeof(want), &n) || n != 32)
        return secup_err_set(err, SECUP_E_DIGEST, "malformed checksum");
    secup_rc rc = secup_sha256(secup_bytes_of(text, sum_at - 1), got, err);
    if (rc != SECUP_OK)
        return rc;
    if (!secup_ct_equal(secup_bytes_of(want, 32), secup_bytes_of(got, 32)))
        return secup_err_set(err, SECUP_E_DIGEST, "checksum mismatch (corrupted)");
    *json_len = sum_at - 1;
    return SECUP_OK;
}

secup_rc state_unseal_object(const char *text, size_t len, const char *what, json_t **root,
                             struct secup_err *err)
{
    size_t json_len = 0;
    *root = NULL;
    secup_rc rc = state_unseal(text, len, &json_len, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s", what);
        return rc;
    }
    json_error_t je;
    json_t *r = json_loadb(text, json_len, JSON_REJECT_DUPLICATES, &je);
    if (!r)
        return secup_err_set(err, SECUP_E_JSON, "%s: line %d: %s", what, je.line, je.text);
    if (!json_is_object(r)) {
        json_decref(r);
        return secup_err_set(err, SECUP_E_JSON, "%s: not a JSON object", what);
    }
    *root = r;
    return SECUP_OK;
}

static secup_rc get_u64(json_t *o, const char *key, uint64_t *out, struct secup_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return secup_err_set(err, SECUP_E_VALUE, "state: \"%s\" missing or not a non-negative integer", key);
    *out = (uint64_t)json_integer_value(v);
    return SECUP_OK;
}

static secup_rc get_text(json_t *o, const char *key, char *dst, size_t cap, struct secup_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || strlen(json_string_value(v)) >= cap)
        return secup_err_set(err, SECUP_E_VALUE, "state: \"%s\" missing, not text or too long", key);
    memcpy(dst, json_string_value(v), strlen(json_string_value(v)) + 1);
    return SECUP_OK;
}

static secup_rc parse_slot(json_t *o, struct state_slot *s, struct secup_err *err)
{
    char hex[80];
    uint64_t seq = 0;
    uint64_t size = 0;
    size_t n = 0;
    json_t *valid = json_object_get(o, "valid");
    if (!json_is_object(o) || !json_is_boolean(valid))
        return secup_err_set(err, SECUP_E_VALUE, "state: malformed slot entry");
    s->valid = json_is_true(valid);
    secup_rc rc = get_u64(o, "seq", &seq, err);
    if (rc == SECUP_OK)
        rc = get_u64(o, "size", &size, err);
    if (rc == SECUP_OK)
        rc = get_text(o, "version", s->version, sizeof(s->version), err);
    if (rc == SECUP_OK)
        rc = get_text(o, "anchor", s->anchor, sizeof(s->anchor), err);
    if (rc == SECUP_OK)
        rc = get_text(o, "digest", hex, sizeof(hex), err);
    if (rc == SECUP_OK && (!secup_hex_decode(hex, s->digest, 32, &n) || n != 32))
        rc = secup_err_set(err, SECUP_E_VALUE, "state: slot digest is not 32 bytes of hex");
    s->seq = seq;
    s->size = size;
    return rc;
}

secup_rc state_parse(const struct agent_config *cfg, const char *text, size_t len,
                     struct agent_state *st, struct secup_err *err)
{
    memset(st, 0, sizeof(*st));
    json_t *root = NULL;
    secup_rc rc = state_unseal_object(text, len, "state", &root, err);
    if (rc != SECUP_OK)
        return rc;
    uint64_t format = 0;
    json_t *safe = json_object_get(root, "safe-mode");
    json_t *last = json_object_get(root, "last");
    json_t *comps = json_object_get(root, "components");
    rc = get_u64(root, "format", &format, err);
    if (rc == SECUP_OK && format != 1)
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "state: format %llu", (unsigned long long)format);
    if (rc == SECUP_OK)
        rc = get_u64(root, "generation", &st->generation, err);
    if (rc == SECUP_OK)
        rc = get_u64(root, "report-counter", &st->report_counter, err);
    uint64_t pending = 0;
    if (rc == SECUP_OK)
        rc = get_u64(root, "pending", &pending, err);
    if (rc == SECUP_OK && pending >> AGENT_MAX_COMPONENTS)
        rc = secup_err_set(err, SECUP_E_VALUE, "state: \"pending\" names unknown components");
    st->pending = (uint32_t)pending;
    uint64_t confirming = 0;
    uint64_t falling_back = 0;
    if (rc == SECUP_OK)
        rc = get_u64(root, "confirming", &confirming, err);
    if (rc == SECUP_OK)
        rc = get_u64(root, "falling-back", &falling_back, err);
    if (rc == SECUP_OK && ((confirming | falling_back) >> AGENT_MAX_COMPONENTS))
        rc = secup_err_set(err, SECUP_E_VALUE, "state: a journal names unknown components");
    st->confirming = (uint32_t)confirming;
    st->falling_back = (uint32_t)falling_back;
    if (rc == SECUP_OK && !json_is_boolean(safe))
        rc = secup_err_set(err, SECUP_E_VALUE, "state: \"safe-mode\" is not a boolean");
    st->safe_mode = json_is_true(safe);
    if (rc == SECUP_OK)
        rc = get_text(root, "safe-reason", st->safe_reason, sizeof(st->safe_reason), err);
    if (rc == SECUP_OK && !json_is_object(last))
        rc = secup_err_set(err, SECUP_E_VALUE, "state: \"last\" is not an object");
    if (rc == SECUP_OK)
        rc = get_text(last, "code", st->last.code, sizeof(st->last.code), err);
    if (rc == SECUP_OK)
        rc = get_text(last, "reason", st->last.reason, sizeof(st->last.reason), err);
    if (rc == SECUP_OK)
        rc = get_u64(last, "time", &st->last.time, err);
    if (rc == SECUP_OK)
        rc = get_u64(last, "seq", &st->last.seq, err);
    if (rc == SECUP_OK)
        rc = get_text(last, "manifest-digest", st->last.manifest_digest, sizeof(st->last.manifest_digest), err);
    uint64_t failures = 0;
    if (rc == SECUP_OK && json_object_get(last, "failures")) /* absent in older states */
        rc = get_u64(last, "failures", &failures, err);
    if (rc == SECUP_OK && (failures == 0 || failures > UINT32_MAX) && json_object_get(last, "failures"))
        rc = secup_err_set(err, SECUP_E_VALUE, "state: \"failures\" out of range");
    st->last.failures = (uint32_t)failures;
    json_t *stime = json_object_get(root, "secure-time"); /* optional: older states lack it */
    if (rc == SECUP_OK && stime && !json_is_object(stime))
        rc = secup_err_set(err, SECUP_E_VALUE, "state: \"secure-time\" is not an object");
    if (rc == SECUP_OK && stime)
        rc = get_u64(stime, "floor", &st->time_floor, err);
    if (rc == SECUP_OK && stime)
        rc = get_u64(stime, "fresh-until", &st->fresh_until, err);
    if (rc == SECUP_OK && !json_is_object(comps))
        rc = secup_err_set(err, SECUP_E_VALUE, "state: \"components\" is not an object");
    /* components the configuration no longer names are dropped; new ones start empty */
    for (uint32_t i = 0; rc == SECUP_OK && i < cfg->n_components; i++) {
        json_t *c = json_object_get(comps, cfg->components[i].name);
        if (!c)
            continue;
        json_t *slots = json_object_get(c, "slots");
        json_t *floors = json_object_get(c, "floors");
        if (!json_is_array(slots) || json_array_size(slots) != 2 || !json_is_object(floors)) {
            rc = secup_err_set(err, SECUP_E_VALUE, "state: component \"%s\" malformed",
                               cfg->components[i].name);
            break;
        }
        for (size_t s = 0; rc == SECUP_OK && s < 2; s++)
            rc = parse_slot(json_array_get(slots, s), &st->comp[i].slot[s], err);
        const char *anchor;
        json_t *v;
        json_object_foreach(floors, anchor, v) {
            struct state_component *sc = &st->comp[i];
            if (rc != SECUP_OK)
                break;
            if (sc->n_floors >= AGENT_MAX_ALL_ANCHORS || strlen(anchor) >= AGENT_NAME_MAX ||
                !json_is_integer(v) || json_integer_value(v) < 0) {
                rc = secup_err_set(err, SECUP_E_VALUE, "state: bad floor for component \"%s\"",
                                   cfg->components[i].name);
                break;
            }
            memcpy(sc->floors[sc->n_floors].anchor, anchor, strlen(anchor) + 1);
            sc->floors[sc->n_floors].seq = (uint64_t)json_integer_value(v);
            sc->n_floors++;
        }
    }
    json_decref(root);
    if (rc != SECUP_OK)
        memset(st, 0, sizeof(*st));
    return rc;
}

static void copy_path(const struct agent_config *cfg, char which, char *out, size_t cap)
{
    snprintf(out, cap, "%s/state.%c", cfg->state_dir, which);
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

static secup_rc state_check_counter(const struct agent_config *cfg, struct agent_state *st,
                                    const char *none, struct secup_err *err)
{
    if (!cfg->counter_path[0])
        return SECUP_OK;
    uint64_t value = 0;
    bool exists = false;
    secup_rc rc = counter_read(cfg, &value, &exists, err);
    if (rc != SECUP_OK) {
        memset(st, 0, sizeof(*st));
        return rc;
    }
    if (st->generation >= value)
        return SECUP_OK;
    uint64_t gen = st->generation;
    memset(st, 0, sizeof(*st));
    if (none)
        return secup_err_set(err, SECUP_E_STATE_ROLLBACK,
                             "%s in '%s', but the secure counter '%s' is at %llu: the state was removed or "
                             "lost; refusing to start again from nothing (its floors would accept older "
                             "manifests)", none, cfg->state_dir, cfg->counter_path, (unsigned long long)value);
    return secup_err_set(err, SECUP_E_STATE_ROLLBACK,
                         "the state in '%s' has generation %llu, below the secure counter '%s' at %llu: "
                         "an older copy was restored; refused (its floors would accept older manifests)",
                         cfg->state_dir, (unsigned long long)gen, cfg->counter_path,
                         (unsigned long long)value);
}

static secup_rc load_copy(const struct agent_config *cfg, char which, struct agent_state *st,
                          struct secup_err *err)
{
    char path[AGENT_PATH_MAX + 16];
    uint8_t *buf = NULL;
    size_t len = 0;
    copy_path(cfg, which, path, sizeof(path));
    secup_rc rc = secup_file_read(path, STATE_MAX_FILE, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    rc = state_parse(cfg, (const char *)buf, len, st, err);
    secup_file_free(buf, len);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "'%s'", path);
    return rc;
}

secup_rc state_load(const struct agent_config *cfg, struct agent_state *st, bool *recovered,
                    struct secup_err *err)
{
    static struct agent_state b;
    struct secup_err ea;
    struct secup_err eb;
    *recovered = false;
    secup_rc ra = load_copy(cfg, 'A', st, &ea);
    secup_rc rb = load_copy(cfg, 'B', &b, &eb);
    if (ra != SECUP_OK && rb != SECUP_OK &&
        (copy_unreadable(cfg, 'A', ra) || copy_unreadable(cfg, 'B', rb))) {
        /* neither a new device nor a damaged store: nothing may start from an empty one */
        memset(st, 0, sizeof(*st));
        return secup_err_set(err, SECUP_E_IO, "no state copy could be read: %s; %s", ea.msg, eb.msg);
    }
    if (ra == SECUP_E_NOENT && rb == SECUP_E_NOENT) {
        memset(st, 0, sizeof(*st));
        return state_check_counter(cfg, st, "no state copy", err); /* a new device */
    }
    if (ra == SECUP_OK && rb == SECUP_OK) {
        if (b.generation > st->generation)
            *st = b;
        /* equal generations are identical: B is written after A from the same state */
        return state_check_counter(cfg, st, NULL, err);
    }
    if (ra == SECUP_OK || rb == SECUP_OK) {
        if (rb == SECUP_OK)
            *st = b;
        *recovered = true;
        secup_rc rc = state_check_counter(cfg, st, NULL, err);
        if (rc == SECUP_OK)
            secup_err_set(err, SECUP_OK, "%s", ra == SECUP_OK ? eb.msg : ea.msg);
        return rc;
    }
    memset(st, 0, sizeof(*st));
    /* no usable copy: with a secure counter past 0, starting again from an empty state
     * (floors 0) would let any older manifest in; refused */
    if (state_check_counter(cfg, st, "no usable state copy", err) != SECUP_OK)
        return SECUP_E_STATE_ROLLBACK;
    return secup_err_set(err, SECUP_E_DIGEST, "no usable state copy: %s; %s", ea.msg, eb.msg);
}

secup_rc state_save(const struct agent_config *cfg, struct agent_state *st, struct secup_err *err)
{
    static char buf[STATE_MAX_FILE];
    size_t len = 0;
    char path[AGENT_PATH_MAX + 16];
    st->generation++;
    secup_rc rc = state_format(cfg, st, buf, sizeof(buf), &len, err);
    for (int i = 0; rc == SECUP_OK && i < 2; i++) {
        copy_path(cfg, i == 0 ? 'A' : 'B', path, sizeof(path));
        rc = secup_file_write_atomic(path, secup_bytes_of(buf, len), 0600, err);
    }
    /* the counter after the copies: a cut in between leaves the state ahead of it */
    if (rc == SECUP_OK && cfg->counter_path[0])
        rc = counter_raise(cfg, st->generation, err);
    return rc;
}

/* ---- the secure counter ---- */

#define COUNTER_MAX_FILE 1024

secup_rc counter_format(uint64_t value, char *buf, size_t cap, size_t *len, struct secup_err *err)
{
    char json[96];
    int n = snprintf(json, sizeof(json), "{\"format\": 1, \"secure-counter\": %llu}",
                     (unsigned long long)value);
    if (n < 0 || (size_t)n >= sizeof(json))
        return secup_err_set(err, SECUP_E_BUF_SMALL, "secure counter: cannot format");
    return state_seal(json, (size_t)n, buf, cap, len, err);
}

secup_rc counter_parse(const char *text, size_t len, uint64_t *value, struct secup_err *err)
{
    *value = 0;
    json_t *root = NULL;
    secup_rc rc = state_unseal_object(text, len, "secure counter", &root, err);
    if (rc != SECUP_OK)
        return rc;
    uint64_t format = 0;
    uint64_t v = 0;
    rc = json_is_object(root) && json_object_size(root) == 2
             ? SECUP_OK
             : secup_err_set(err, SECUP_E_VALUE, "secure counter: not an object of \"format\" and \"secure-counter\"");
    if (rc == SECUP_OK)
        rc = get_u64(root, "format", &format, err);
    if (rc == SECUP_OK && format != 1)
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "secure counter: format %llu", (unsigned long long)format);
    if (rc == SECUP_OK)
        rc = get_u64(root, "secure-counter", &v, err);
    json_decref(root);
    if (rc == SECUP_OK)
        *value = v;
    return rc;
}

secup_rc counter_read(const struct agent_config *cfg, uint64_t *value, bool *exists,
                      struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    *value = 0;
    *exists = false;
    secup_rc rc = secup_file_read(cfg->counter_path, COUNTER_MAX_FILE, &buf, &len, err);
    if (rc == SECUP_E_NOENT)
        return SECUP_OK;
    if (rc == SECUP_OK)
        rc = counter_parse((const char *)buf, len, value, err);
    secup_file_free(buf, len);
    if (rc != SECUP_OK)
        return secup_err_set(err, SECUP_E_STATE_ROLLBACK,
                             "the secure counter '%s' is unusable (%s): the state cannot be proven current",
                             cfg->counter_path, err->msg);
    *exists = true;
    return SECUP_OK;
}

secup_rc counter_raise(const struct agent_config *cfg, uint64_t value, struct secup_err *err)
{
    uint64_t now = 0;
    bool exists = false;
    secup_rc rc = counter_read(cfg, &now, &exists, err);
    if (rc != SECUP_OK)
        return rc;
    if (value < now)
        return secup_err_set(err, SECUP_E_STATE_ROLLBACK,
                             "the secure counter '%s' is at %llu; it never goes back to %llu",
                             cfg->counter_path, (unsigned long long)now, (unsigned long long)value);
    if (value == now && exists)
        return SECUP_OK;
    char buf[COUNTER_MAX_FILE];
    size_t len = 0;
    rc = counter_format(value, buf, sizeof(buf), &len, err);
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(cfg->counter_path, secup_bytes_of(buf, len), 0600, err);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "secure counter");
    return rc;
}

void state_count_result(struct state_result *l, bool ok, const char *manifest_digest_hex)
{
    bool same = manifest_digest_hex && manifest_digest_hex[0] &&
                strcmp(l->manifest_digest, manifest_digest_hex) == 0;
    if (ok) {
        if (!same)
            l->failures = 0; /* the same manifest installed is not yet a success: its trial is */
        return;
    }
    l->failures = same && l->failures > 0 && l->failures < UINT32_MAX ? l->failures + 1 : 1;
}

void state_clean_text(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

void state_set_reason(struct state_result *l, const char *reason)
{
    size_t n = 0;
    for (const char *p = reason ? reason : ""; *p && n + 1 < sizeof(l->reason); p++, n++) {
        unsigned char ch = (unsigned char)*p;
        l->reason[n] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    l->reason[n] = '\0';
}

void state_drop_floors(struct agent_state *st, const char *anchor)
{
    for (uint32_t c = 0; c < AGENT_MAX_COMPONENTS; c++) {
        struct state_component *sc = &st->comp[c];
        uint32_t keep = 0;
        for (uint32_t i = 0; i < sc->n_floors; i++) {
            if (strcmp(sc->floors[i].anchor, anchor) != 0)
                sc->floors[keep++] = sc->floors[i];
        }
        sc->n_floors = keep;
    }
}

uint64_t state_floor(const struct agent_state *st, uint32_t c, const char *anchor)
{
    const struct state_component *sc = &st->comp[c];
    for (uint32_t i = 0; i < sc->n_floors; i++) {
        if (strcmp(sc->floors[i].anchor, anchor) == 0)
            return sc->floors[i].seq;
    }
    return 0;
}

secup_rc state_raise_floor(struct agent_state *st, uint32_t c, const char *anchor, uint64_t seq,
                           struct secup_err *err)
{
    struct state_component *sc = &st->comp[c];
    for (uint32_t i = 0; i < sc->n_floors; i++) {
        if (strcmp(sc->floors[i].anchor, anchor) != 0)
            continue;
        if (seq < sc->floors[i].seq)
            return secup_err_set(err, SECUP_E_ROLLBACK,
                                 "floor of anchor \"%s\" is %llu; refusing to lower it to %llu",
                                 anchor, (unsigned long long)sc->floors[i].seq,
                                 (unsigned long long)seq);
        sc->floors[i].seq = seq;
        return SECUP_OK;
    }
    if (sc->n_floors >= AGENT_MAX_ALL_ANCHORS)
        return secup_err_set(err, SECUP_E_LIMIT, "too many trust anchors with floors");
    size_t n = strlen(anchor);
    if (n >= AGENT_NAME_MAX)
        return secup_err_set(err, SECUP_E_ARG, "anchor name too long");
    memcpy(sc->floors[sc->n_floors].anchor, anchor, n + 1);
    sc->floors[sc->n_floors].seq = seq;
    sc->n_floors++;
    return SECUP_OK;
}

uint64_t state_secure_now(const struct agent_state *st, uint64_t system_now, bool *behind)
{
    bool b = system_now < st->time_floor;
    if (behind)
        *behind = b;
    return b ? st->time_floor : system_now;
}

bool state_raise_time_floor(struct agent_state *st, uint64_t t)
{
    if (t <= st->time_floor)
        return false;
    st->time_floor = t;
    return true;
}
