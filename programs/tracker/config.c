/* The tracker's configuration, DIR/tracker.json (docs/tracker.md), and `init`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jconf.h"
#include "reqparse.h"
#include "secup/file.h"
#include "tracker.h"

#define MAX_CONFIG (64 * 1024)

static const char *const top_keys[] = { "id", "listen", "tls", "database", "signing-key",
                                        "unreachable-after", "command-ttl", "freshness-ttl",
                                        "max-wait", "auto-update", "report-quota",
                                        "report-history", "http", "upstream",
                                        "server", "trust", "callbacks", NULL };
static const char *const cb_keys[] = { "ca-file", "retry-initial", "retry-max", "interval", NULL };
static const char *const up_keys[] = { "url", "id", "key", "ca-file", "enrolment-token-file",
                                       "poll-wait", NULL };
static const char *const srv_keys[] = { "token-file", "ca-file", "poll-interval", NULL };
static const char *const tls_keys[] = { "cert", "key", NULL };
static const char *const http_keys[] = { "threads", "timeout", "connection-limit",
                                         "per-ip-limit", "min-rate", "rate-limits",
                                         "rate-table", NULL };
static const char *const rate_classes[] = { "poll", "report", "enrol", "other", NULL };

static secup_rc set_dir(const char *dir, struct trk_config *cfg, struct secup_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8543");
    cfg->unreachable_after = 3600;
    cfg->command_ttl = 86400;
    cfg->freshness_ttl = 600;
    cfg->max_wait = 60;
    cfg->auto_update = true;
    cfg->up_wait = 30;
    cfg->report_quota = 360;
    cfg->report_history = 1000;
    cfg->poll_interval = 300;
    cfg->timeout = 30;
    cfg->connection_limit = 4096;
    cfg->cb_retry_initial = 5;
    cfg->cb_retry_max = 300;
    cfg->cb_interval = 5;
    int n = snprintf(cfg->dir, sizeof(cfg->dir), "%s", dir);
    int m = snprintf(cfg->file, sizeof(cfg->file), "%s/tracker.json", dir);
    if (n < 0 || (size_t)n >= sizeof(cfg->dir) || m < 0 || (size_t)m >= sizeof(cfg->file))
        return secup_err_set(err, SECUP_E_ARG, "data directory path is too long");
    return SECUP_OK;
}

static secup_rc parse(struct jconf *c, json_t *root, struct trk_config *cfg)
{
    secup_rc rc = jconf_keys(c, root, "top level", top_keys);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "id", cfg->id, sizeof(cfg->id), true);
    if (rc == SECUP_OK && !req_valid_name(cfg->id))
        rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"id\" must be A-Z a-z 0-9 . _ -",
                           c->file);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "listen", cfg->listen, sizeof(cfg->listen), false);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "database", cfg->db_url, sizeof(cfg->db_url), true);
    if (rc == SECUP_OK)
        rc = jconf_path(c, root, "signing-key", cfg->signing_key, sizeof(cfg->signing_key), true);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "unreachable-after", 1, 365 * 86400, &cfg->unreachable_after,
                        false);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "command-ttl", 60, 30 * 86400, &cfg->command_ttl, false);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "freshness-ttl", 10, 86400, &cfg->freshness_ttl, false);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "max-wait", 0, 3600, &cfg->max_wait, false);
    if (rc == SECUP_OK)
        rc = jconf_bool(c, root, "auto-update", &cfg->auto_update);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "report-quota", 1, 1000000, &cfg->report_quota, false);
    if (rc == SECUP_OK)
        rc = jconf_uint(c, root, "report-history", 1, 1000000, &cfg->report_history, false);
    json_t *s = json_object_get(root, "tls");
    if (rc == SECUP_OK && s) {
        rc = jconf_keys(c, s, "tls", tls_keys);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "cert", cfg->cert, sizeof(cfg->cert), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "key", cfg->key, sizeof(cfg->key), true);
    }
    s = json_object_get(root, "upstream");
    if (rc == SECUP_OK && s) {
        rc = jconf_keys(c, s, "upstream", up_keys);
        if (rc == SECUP_OK)
            rc = jconf_str(c, s, "url", cfg->up_url, sizeof(cfg->up_url), true);
        if (rc == SECUP_OK)
            rc = jconf_str(c, s, "id", cfg->up_id, sizeof(cfg->up_id), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "key", cfg->up_key, sizeof(cfg->up_key), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "ca-file", cfg->up_ca, sizeof(cfg->up_ca), false);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "enrolment-token-file", cfg->up_enrol, sizeof(cfg->up_enrol),
                            false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "poll-wait", 0, 3600, &cfg->up_wait, false);
    }
    s = json_object_get(root, "server");
    if (rc == SECUP_OK && s) {
        rc = jconf_keys(c, s, "server", srv_keys);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "token-file", cfg->server_token, sizeof(cfg->server_token),
                            false);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "ca-file", cfg->server_ca, sizeof(cfg->server_ca), false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "poll-interval", 0, 7 * 86400, &cfg->poll_interval, false);
    }
    s = json_object_get(root, "callbacks");
    if (rc == SECUP_OK && s) {
        rc = jconf_keys(c, s, "callbacks", cb_keys);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "ca-file", cfg->cb_ca, sizeof(cfg->cb_ca), false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "retry-initial", 1, 3600, &cfg->cb_retry_initial, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "retry-max", 1, 86400, &cfg->cb_retry_max, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "interval", 1, 3600, &cfg->cb_interval, false);
        if (rc == SECUP_OK && cfg->cb_retry_max < cfg->cb_retry_initial)
            rc = secup_err_set(c->err, SECUP_E_VALUE,
                               "'%s': \"callbacks.retry-max\" is below \"retry-initial\"", c->file);
    }
    s = json_object_get(root, "trust");
    if (rc == SECUP_OK && s) {
        if (!json_is_array(s) || json_array_size(s) > 8)
            rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"trust\" is a list of at most 8 key files",
                               c->file);
        size_t i;
        json_t *k;
        json_array_foreach(s, i, k) {
            if (rc != SECUP_OK)
                break;
            json_t *wrap = json_pack("{s:O}", "key", k);
            rc = jconf_path(c, wrap, "key", cfg->trust[i], sizeof(cfg->trust[i]), true);
            json_decref(wrap);
            cfg->n_trust = i + 1;
        }
    }
    if (rc == SECUP_OK && cfg->up_url[0] && cfg->n_trust == 0)
        rc = secup_err_set(c->err, SECUP_E_VALUE,
                           "'%s': a tracker with an upstream needs \"trust\": the Author keys it "
                           "verifies manifests with", c->file);
    s = json_object_get(root, "http");
    if (rc == SECUP_OK && s) {
        rc = jconf_keys(c, s, "http", http_keys);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "threads", 0, 1024, &cfg->threads, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "timeout", 1, 3600, &cfg->timeout, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "connection-limit", 1, 1000000, &cfg->connection_limit, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "per-ip-limit", 0, 1000000, &cfg->per_ip_limit, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "min-rate", 1, 1ull << 30, &cfg->min_rate, false);
        if (rc == SECUP_OK)
            rc = jconf_rates(c, s, "rate-limits", rate_classes, cfg->rate);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "rate-table", 64, 1u << 24, &cfg->rate_table, false);
    }
    /* "sqlite:relative.db" is relative to DIR */
    if (rc == SECUP_OK && strncmp(cfg->db_url, "sqlite:", 7) == 0 && cfg->db_url[7] != '/' &&
        strcmp(cfg->db_url + 7, ":memory:") != 0) {
        char tmp[TRK_PATH];
        int n = snprintf(tmp, sizeof(tmp), "sqlite:%s/%s", cfg->dir, cfg->db_url + 7);
        if (n < 0 || (size_t)n >= sizeof(tmp))
            return secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"database\" path too long", c->file);
        memcpy(cfg->db_url, tmp, (size_t)n + 1);
    }
    return rc;
}

secup_rc trk_config_parse(const char *dir, const char *text, size_t len, struct trk_config *cfg,
                          struct secup_err *err)
{
    secup_rc rc = set_dir(dir, cfg, err);
    if (rc != SECUP_OK)
        return rc;
    json_error_t je;
    json_t *root = len <= MAX_CONFIG ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!root)
        return len > MAX_CONFIG
                   ? secup_err_set(err, SECUP_E_LIMIT_SIZE, "'%s': larger than %d bytes", cfg->file,
                                   MAX_CONFIG)
                   : secup_err_set(err, SECUP_E_JSON, "'%s': line %d column %d: %s", cfg->file,
                                   je.line, je.column, je.text);
    struct jconf c = { cfg->file, err };
    rc = json_is_object(root) ? parse(&c, root, cfg)
                              : secup_err_set(err, SECUP_E_JSON, "'%s': not an object", cfg->file);
    json_decref(root);
    if (rc != SECUP_OK) {
        struct secup_err ignored;
        set_dir(dir, cfg, &ignored);
    }
    return rc;
}

secup_rc trk_config_load(const char *dir, struct trk_config *cfg, struct secup_err *err)
{
    secup_rc rc = set_dir(dir, cfg, err);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rc == SECUP_OK)
        rc = secup_file_read(cfg->file, MAX_CONFIG, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    rc = trk_config_parse(dir, (const char *)buf, len, cfg, err);
    secup_file_free(buf, len);
    return rc;
}
