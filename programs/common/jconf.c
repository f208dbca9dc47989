/* Strict JSON configuration files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jconf.h"
#include "secup/file.h"

secup_rc jconf_load(const char *path, size_t max, json_t **out, struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, max, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    json_error_t je;
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    secup_file_free(buf, len);
    if (!root)
        return secup_err_set(err, SECUP_E_JSON, "'%s': line %d column %d: %s", path, je.line,
                             je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return secup_err_set(err, SECUP_E_JSON, "'%s': the top level must be an object", path);
    }
    *out = root;
    return SECUP_OK;
}

static secup_rc bad(struct jconf *c, const char *key, const char *what)
{
    return secup_err_set(c->err, SECUP_E_JSON, "'%s': \"%s\" %s", c->file, key, what);
}

secup_rc jconf_keys(struct jconf *c, json_t *obj, const char *where, const char *const *allowed)
{
    if (!json_is_object(obj))
        return bad(c, where, "must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok)
            return secup_err_set(c->err, SECUP_E_JSON, "'%s': %s: unknown key \"%s\"", c->file,
                                 where, key);
    }
    return SECUP_OK;
}

static secup_rc copy_str(struct jconf *c, const char *key, json_t *v, char *dst, size_t cap)
{
    if (!json_is_string(v))
        return bad(c, key, "must be a string");
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap)
        return secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"%s\" must be 1 to %zu characters",
                             c->file, key, cap - 1);
    if (strlen(json_string_value(v)) != n)
        return bad(c, key, "contains a NUL character");
    memcpy(dst, json_string_value(v), n + 1);
    return SECUP_OK;
}

secup_rc jconf_str(struct jconf *c, json_t *obj, const char *key, char *dst, size_t cap,
                   bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return required ? bad(c, key, "is required") : SECUP_OK;
    return copy_str(c, key, v, dst, cap);
}

secup_rc jconf_path(struct jconf *c, json_t *obj, const char *key, char *dst, size_t cap,
                    bool required)
{
    char raw[4096];
    raw[0] = '\0';
    secup_rc rc = jconf_str(c, obj, key, raw, sizeof(raw), required);
    if (rc != SECUP_OK || raw[0] == '\0')
        return rc;
    const char *slash = strrchr(c->file, '/');
    int n = raw[0] == '/' || !slash ? snprintf(dst, cap, "%s", raw)
                                    : snprintf(dst, cap, "%.*s/%s", (int)(slash - c->file),
                                               c->file, raw);
    if (n < 0 || (size_t)n >= cap)
        return bad(c, key, "is too long");
    return SECUP_OK;
}

secup_rc jconf_uint(struct jconf *c, json_t *obj, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out, bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? bad(c, key, "is required") : SECUP_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
        return secup_err_set(c->err, SECUP_E_VALUE,
                             "'%s': \"%s\" must be an integer from %llu to %llu", c->file, key,
                             (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return SECUP_OK;
}

secup_rc jconf_bool(struct jconf *c, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return SECUP_OK;
    if (!json_is_boolean(v))
        return bad(c, key, "must be true or false");
    *out = json_is_true(v);
    return SECUP_OK;
}

secup_rc jconf_strv(struct jconf *c, json_t *obj, const char *key, char **argv, size_t max,
                    char *buf, size_t cap, size_t *n)
{
    *n = 0;
    argv[0] = NULL;
    json_t *arr = json_object_get(obj, key);
    if (!arr || json_is_null(arr))
        return SECUP_OK;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > max)
        return secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"%s\" must be a list of 1 to %zu strings",
                             c->file, key, max);
    size_t used = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        secup_rc rc = copy_str(c, key, v, buf + used, cap - used);
        if (rc != SECUP_OK)
            return rc;
        argv[i] = buf + used;
        used += strlen(buf + used) + 1;
    }
    *n = json_array_size(arr);
    argv[*n] = NULL;
    return SECUP_OK;
}

secup_rc jconf_rates(struct jconf *c, json_t *obj, const char *key, const char *const *names,
                     struct ratelimit_class *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return SECUP_OK;
    if (!json_is_object(v))
        return bad(c, key, "must be an object of request classes");
    const char *name;
    json_t *cv;
    json_object_foreach(v, name, cv) {
        size_t i = 0;
        while (names[i] && strcmp(names[i], name) != 0)
            i++;
        if (!names[i])
            return secup_err_set(c->err, SECUP_E_VALUE,
                                 "'%s': \"%s\" has an unknown request class \"%.64s\"", c->file,
                                 key, name);
        static const char *const keys[] = { "rate", "burst", NULL };
        secup_rc rc = jconf_keys(c, cv, name, keys);
        if (rc != SECUP_OK)
            return rc;
        json_t *r = json_object_get(cv, "rate");
        if (!json_is_number(r) || json_number_value(r) < 0 || json_number_value(r) > 1e6)
            return secup_err_set(c->err, SECUP_E_VALUE,
                                 "'%s': \"%s.%s.rate\" must be a number of requests per second "
                                 "from 0 to 1000000", c->file, key, name);
        uint64_t burst = 0;
        rc = jconf_uint(c, cv, "burst", 0, 1000000, &burst, false);
        if (rc != SECUP_OK)
            return rc;
        out[i].rate = json_number_value(r);
        out[i].burst = (unsigned)burst;
    }
    return SECUP_OK;
}
