/* The agent's online state: its tracker token and the last command counter per issuer,
 * in two checksummed copies (online.A, online.B) written like the agent state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "online.h"

#define ONLINE_MAX_FILE (16 * 1024)

secup_rc online_state_format(const struct online_state *os, char *buf, size_t cap, size_t *len,
                             struct secup_err *err)
{
    json_t *counters = json_array();
    for (uint32_t i = 0; i < os->n_counters; i++)
        json_array_append_new(counters, json_pack("{s:s, s:I}", "issuer", os->counters[i].issuer,
                                                  "counter", (json_int_t)os->counters[i].counter));
    json_t *root = json_pack("{s:I, s:s, s:o}", "generation", (json_int_t)os->generation,
                             "tracker-token", os->token, "counters", counters);
    char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the online state");
    secup_rc rc = state_seal(text, strlen(text), buf, cap, len, err);
    secup_wipe(text, strlen(text));
    free(text);
    return rc;
}

static secup_rc get_uint(json_t *o, const char *key, uint64_t *out, struct secup_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return secup_err_set(err, SECUP_E_JSON, "online state: \"%s\" must be a non-negative integer", key);
    *out = (uint64_t)json_integer_value(v);
    return SECUP_OK;
}

static secup_rc get_text(json_t *o, const char *key, char *dst, size_t cap, bool empty_ok,
                         struct secup_err *err)
{
    json_t *v = json_object_get(o, key);
    size_t n = json_is_string(v) ? json_string_length(v) : cap;
    if (n >= cap || (!empty_ok && n == 0) || memchr(json_string_value(v), '\0', n))
        return secup_err_set(err, SECUP_E_JSON, "online state: \"%s\" must be a string of fewer than %zu bytes",
                             key, cap);
    memcpy(dst, json_string_value(v), n + 1);
    return SECUP_OK;
}

secup_rc online_state_parse(const char *text, size_t len, struct online_state *os,
                            struct secup_err *err)
{
    memset(os, 0, sizeof(*os));
    json_t *root = NULL;
    secup_rc rc = state_unseal_object(text, len, "online state", &root, err);
    if (rc != SECUP_OK)
        return rc;
    rc = get_uint(root, "generation", &os->generation, err);
    if (rc == SECUP_OK)
        rc = get_text(root, "tracker-token", os->token, sizeof(os->token), true, err);
    json_t *arr = json_object_get(root, "counters");
    if (rc == SECUP_OK && (!json_is_array(arr) || json_array_size(arr) > ONLINE_MAX_ISSUERS))
        rc = secup_err_set(err, SECUP_E_JSON, "online state: \"counters\" must be an array of at most %d",
                           ONLINE_MAX_ISSUERS);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (rc != SECUP_OK)
            break;
        struct online_counter *c = &os->counters[os->n_counters];
        rc = get_text(o, "issuer", c->issuer, sizeof(c->issuer), false, err);
        if (rc == SECUP_OK)
            rc = get_uint(o, "counter", &c->counter, err);
        if (rc == SECUP_OK)
            os->n_counters++;
    }
    json_decref(root);
    if (rc != SECUP_OK)
        memset(os, 0, sizeof(*os));
    return rc;
}

static void copy_path(const struct agent_config *cfg, char which, char *out, size_t cap)
{
    snprintf(out, cap, "%s/online.%c", cfg->state_dir, which);
}

static secup_rc load_copy(const struct agent_config *cfg, char which, struct online_state *os,
                          struct secup_err *err)
{
    char path[AGENT_PATH_MAX + 16];
    uint8_t *buf = NULL;
    size_t len = 0;
    copy_path(cfg, which, path, sizeof(path));
    secup_rc rc = secup_file_read(path, ONLINE_MAX_FILE, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    rc = online_state_parse((const char *)buf, len, os, err);
    secup_file_free(buf, len);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "'%s'", path);
    return rc;
}

secup_rc online_state_load(const struct agent_config *cfg, struct online_state *os,
                           bool *recovered, struct secup_err *err)
{
    static struct online_state b;
    struct secup_err ea;
    struct secup_err eb;
    *recovered = false;
    secup_rc ra = load_copy(cfg, 'A', os, &ea);
    secup_rc rb = load_copy(cfg, 'B', &b, &eb);
    if (ra == SECUP_E_NOENT && rb == SECUP_E_NOENT) {
        memset(os, 0, sizeof(*os));
        return SECUP_OK;
    }
    if (ra == SECUP_OK && rb == SECUP_OK) {
        if (b.generation > os->generation)
            *os = b;
        return SECUP_OK;
    }
    if (ra == SECUP_OK || rb == SECUP_OK) {
        if (rb == SECUP_OK)
            *os = b;
        *recovered = true;
        secup_err_set(err, SECUP_OK, "%s", ra == SECUP_OK ? eb.msg : ea.msg);
        return SECUP_OK;
    }
    memset(os, 0, sizeof(*os));
    return secup_err_set(err, SECUP_E_DIGEST, "no usable online state copy: %s; %s", ea.msg, eb.msg);
}

secup_rc online_state_save(const struct agent_config *cfg, struct online_state *os,
                           struct secup_err *err)
{
    static char buf[ONLINE_MAX_FILE];
    size_t len = 0;
    char path[AGENT_PATH_MAX + 16];
    os->generation++;
    secup_rc rc = online_state_format(os, buf, sizeof(buf), &len, err);
    for (int i = 0; rc == SECUP_OK && i < 2; i++) {
        copy_path(cfg, i == 0 ? 'A' : 'B', path, sizeof(path));
        rc = secup_file_write_atomic(path, secup_bytes_of(buf, len), 0600, err);
    }
    secup_wipe(buf, sizeof(buf));
    return rc;
}

uint64_t online_state_counter(const struct online_state *os, const char *issuer)
{
    for (uint32_t i = 0; i < os->n_counters; i++) {
        if (strcmp(os->counters[i].issuer, issuer) == 0)
            return os->counters[i].counter;
    }
    return 0;
}

secup_rc online_state_set_counter(struct online_state *os, const char *issuer, uint64_t counter,
                                  struct secup_err *err)
{
    for (uint32_t i = 0; i < os->n_counters; i++) {
        if (strcmp(os->counters[i].issuer, issuer) == 0) {
            if (counter > os->counters[i].counter)
                os->counters[i].counter = counter;
            return SECUP_OK;
        }
    }
    if (os->n_counters >= ONLINE_MAX_ISSUERS)
        return secup_err_set(err, SECUP_E_LIMIT, "more than %d command issuers", ONLINE_MAX_ISSUERS);
    size_t n = strlen(issuer);
    if (n == 0 || n >= AGENT_NAME_MAX)
        return secup_err_set(err, SECUP_E_VALUE, "an issuer id of %zu bytes", n);
    memcpy(os->counters[os->n_counters].issuer, issuer, n + 1);
    os->counters[os->n_counters].counter = counter;
    os->n_counters++;
    return SECUP_OK;
}
