/* Parsers of the JSON bodies of the REST admin API and of a consumer's callback
 * registration (docs/tracker.md): shape and types only; the values are checked by the
 * administrator actions themselves (admin.c), as for the command line. Pure functions,
 * fuzzed by fuzz/tracker_admin_request_fuzz.c. */
#include <string.h>

#include "admin_req.h"

/* A JSON object body with only the keys in keys[]. */
static secup_rc parse_object(const uint8_t *p, size_t n, const char *const *keys, json_t **out,
                             struct secup_err *err)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return secup_err_set(err, SECUP_E_JSON, "body: %s", o ? "not a JSON object" : je.text);
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++)
            known = strcmp(key, keys[i]) == 0;
        if (!known) {
            secup_rc rc = secup_err_set(err, SECUP_E_JSON, "unknown key \"%.32s\"", key);
            json_decref(o); /* key is o's: the message is made first */
            return rc;
        }
    }
    *out = o;
    return SECUP_OK;
}

static secup_rc int_field(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out,
                          struct secup_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return SECUP_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return secup_err_set(err, SECUP_E_JSON, "\"%s\" must be an integer from %lld to %lld", key,
                             (long long)min, (long long)max);
    *out = (int64_t)json_integer_value(v);
    return SECUP_OK;
}

secup_rc trk_rollout_req_parse(const uint8_t *p, size_t n, struct trk_rollout_req *r,
                               struct secup_err *err)
{
    static const char *const keys[] = { "id", "digest", "canary", "max_failures", "consumers",
                                        NULL };
    memset(r, 0, sizeof(*r));
    r->max_failure_pct = 20;
    json_t *o = NULL;
    secup_rc rc = parse_object(p, n, keys, &o, err);
    if (rc != SECUP_OK)
        return rc;
    r->id = json_string_value(json_object_get(o, "id"));
    r->digest = json_string_value(json_object_get(o, "digest"));
    if (!r->id)
        rc = secup_err_set(err, SECUP_E_JSON, "\"id\" (the rollout's name) is a string");
    else if (!r->digest)
        rc = secup_err_set(err, SECUP_E_JSON, "\"digest\" (the manifest digest) is a string");
    if (rc == SECUP_OK)
        rc = int_field(o, "canary", 0, 1000000, &r->canary, err);
    if (rc == SECUP_OK)
        rc = int_field(o, "max_failures", 0, 100, &r->max_failure_pct, err);
    json_t *list = json_object_get(o, "consumers");
    if (rc == SECUP_OK && list &&
        (!json_is_array(list) || json_array_size(list) == 0 ||
         json_array_size(list) > TRK_ROLLOUT_REQ_MAX))
        rc = secup_err_set(err, SECUP_E_JSON, "\"consumers\" is a list of 1 to %d names",
                           TRK_ROLLOUT_REQ_MAX);
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        if (rc != SECUP_OK)
            break;
        if (!json_is_string(c))
            rc = secup_err_set(err, SECUP_E_JSON, "\"consumers\" holds names (strings)");
        else
            r->only[r->n_only++] = json_string_value(c);
    }
    if (rc != SECUP_OK) {
        json_decref(o);
        memset(r, 0, sizeof(*r));
        return rc;
    }
    r->root = o;
    return SECUP_OK;
}

void trk_rollout_req_free(struct trk_rollout_req *r)
{
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}

bool trk_callback_url_ok(const char *url)
{
    size_t n = strlen(url);
    if (n <= 8 || n > TRK_CALLBACK_URL_MAX || strncmp(url, "https://", 8) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >= 0x7f)
            return false;
    return true;
}

secup_rc trk_callback_req_parse(const uint8_t *p, size_t n, char url[TRK_CALLBACK_URL_MAX + 1],
                                struct secup_err *err)
{
    static const char *const keys[] = { "url", NULL };
    url[0] = '\0';
    json_t *o = NULL;
    secup_rc rc = parse_object(p, n, keys, &o, err);
    if (rc != SECUP_OK)
        return rc;
    const char *u = json_string_value(json_object_get(o, "url"));
    if (!u || !trk_callback_url_ok(u))
        rc = secup_err_set(err, SECUP_E_VALUE,
                           "\"url\" must be an https:// URL of at most %d printable characters",
                           TRK_CALLBACK_URL_MAX);
    else
        memcpy(url, u, strlen(u) + 1);
    json_decref(o);
    return rc;
}
