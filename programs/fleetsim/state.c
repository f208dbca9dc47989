/* A simulated device's state file (state.h). */
#include <string.h>

#include <jansson.h>

#include "jconf.h"
#include "secup/bytes.h"
#include "state.h"

#define COUNTER_MAX ((uint64_t)INT64_MAX)

/* Printable ASCII without spaces (tokens and result-code names). */
static bool token_chars(const char *s)
{
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f)
            return false;
    return true;
}

static bool id_chars(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static secup_rc hex32(struct jconf *c, json_t *obj, const char *key, uint8_t out[32])
{
    char hex[65] = "";
    secup_rc rc = jconf_str(c, obj, key, hex, sizeof(hex), true);
    size_t n = 0;
    if (rc == SECUP_OK && (strlen(hex) != 64 || !secup_hex_decode(hex, out, 32, &n) || n != 32))
        rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"%s\" must be 64 hex digits", c->file, key);
    return rc;
}

static secup_rc parse(struct jconf *c, json_t *root, struct fleet_dev_state *st)
{
    static const char *const keys[] = { "format", "id", "token", "report-counter", "command-counter",
                                        "seq", "digest", "version", "slot", "last", NULL };
    static const char *const last_keys[] = { "id", "code", "reason", "time", NULL };
    if (!json_is_object(root))
        return secup_err_set(c->err, SECUP_E_JSON, "'%s': not a JSON object", c->file);
    secup_rc rc = jconf_keys(c, root, "the state", keys);
    uint64_t format = 0, slot = 0;
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "format", 0, UINT32_MAX, &format, true);
    if (rc == SECUP_OK && format != 1)
        rc = secup_err_set(c->err, SECUP_E_UNSUPPORTED, "'%s': state format %llu (this simulator writes 1)",
                           c->file, (unsigned long long)format);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "id", st->id, sizeof(st->id), true);
    if (rc == SECUP_OK && !id_chars(st->id))
        rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"id\" may hold only A-Z a-z 0-9 . _ -", c->file);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "token", st->token, sizeof(st->token), false);
    if (rc == SECUP_OK && !token_chars(st->token))
        rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"token\" holds a space or a control character",
                           c->file);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "report-counter", 0, COUNTER_MAX, &st->report_counter, true);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "command-counter", 0, COUNTER_MAX, &st->cmd_counter, true);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "seq", 0, COUNTER_MAX, &st->seq, true);
    if (rc == SECUP_OK)
        rc = hex32(c, root, "digest", st->digest);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "version", st->version, sizeof(st->version), false);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "slot", 0, 1, &slot, true);
    st->slot = (uint32_t)slot;
    json_t *last = json_object_get(root, "last");
    if (rc == SECUP_OK && last) {
        if (!json_is_object(last))
            return secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"last\" must be an object", c->file);
        st->has_last = true;
        rc = jconf_keys(c, last, "last", last_keys);
        if (rc == SECUP_OK)
            rc = hex32(c, last, "id", st->last_id);
        if (rc == SECUP_OK)
            rc = jconf_str(c, last, "code", st->last_code, sizeof(st->last_code), true);
        if (rc == SECUP_OK && !token_chars(st->last_code))
            rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"last\".\"code\" holds a space or a control character",
                               c->file);
        if (rc == SECUP_OK)
            rc = jconf_str(c, last, "reason", st->last_reason, sizeof(st->last_reason), false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, last, "time", 0, COUNTER_MAX, &st->last_time, true);
    }
    return rc;
}

secup_rc fleet_state_parse(const char *file, const char *text, size_t len,
                           struct fleet_dev_state *st, struct secup_err *err)
{
    memset(st, 0, sizeof(*st));
    if (len > FLEET_STATE_MAX)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "'%s': a state file of %zu bytes (at most %u)", file,
                             len, FLEET_STATE_MAX);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return secup_err_set(err, SECUP_E_JSON, "'%s': line %d: %s", file, je.line, je.text);
    struct jconf c = { file, err };
    secup_rc rc = parse(&c, root, st);
    json_decref(root);
    if (rc != SECUP_OK)
        memset(st, 0, sizeof(*st));
    return rc;
}

secup_rc fleet_state_format(const struct fleet_dev_state *st, char **out, size_t *len,
                            struct secup_err *err)
{
    char d[65], l[65];
    secup_hex_encode(secup_bytes_of(st->digest, 32), d, sizeof(d));
    json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:I, s:s, s:i}", "format", 1, "id", st->id,
                          "report-counter", (json_int_t)st->report_counter, "command-counter",
                          (json_int_t)st->cmd_counter, "seq", (json_int_t)st->seq, "digest", d,
                          "slot", (int)st->slot);
    if (o && st->token[0])
        json_object_set_new(o, "token", json_string(st->token));
    if (o && st->version[0])
        json_object_set_new(o, "version", json_string(st->version));
    if (o && st->has_last) {
        secup_hex_encode(secup_bytes_of(st->last_id, 32), l, sizeof(l));
        json_t *last = json_pack("{s:s, s:s, s:I}", "id", l, "code", st->last_code, "time",
                                 (json_int_t)st->last_time);
        if (last && st->last_reason[0])
            json_object_set_new(last, "reason", json_string(st->last_reason));
        if (!last || json_object_set_new(o, "last", last) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for a state file");
    *out = text;
    *len = strlen(text);
    return SECUP_OK;
}
