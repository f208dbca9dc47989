/* The server's configuration, DIR/server.json (docs/server.md), and `secup-server init`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "jconf.h"
#include "secup/file.h"
#include "server.h"

#define MAX_CONFIG (256 * 1024)

static const char *const top_keys[] = { "id", "listen", "tls", "database", "blobs",
                                        "signing-key", "inspection-key", "limits", "scanner",
                                        "http", "notify", "public-url", NULL };
static const char *const tls_keys[] = { "cert", "key", "client-ca", NULL };
static const char *const limit_keys[] = { "max-envelope", "max-payload", "storage-quota",
                                          "upload-expiry", NULL };
static const char *const scanner_keys[] = { "command", "timeout", "ban-after", NULL };
static const char *const http_keys[] = { "threads", "timeout", "connection-limit",
                                         "per-ip-limit", "cache-ttl-ms", "min-rate",
                                         "rate-limits", "rate-table", NULL };
static const char *const rate_classes[] = { "download", "upload", "other", NULL };
static const char *const notify_keys[] = { "retry-initial", "retry-max", "ca-file", NULL };

static void defaults(struct srv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8443");
    cfg->max_envelope = 1024 * 1024;
    cfg->max_payload = 1024ull * 1024 * 1024;
    cfg->scanner_timeout = 120;
    cfg->ban_after = 3;
    cfg->timeout = 30;
    cfg->connection_limit = 1024;
    cfg->notify_retry_initial = 5;
    cfg->notify_retry_max = 3600;
    cfg->upload_expiry = 86400;
    cfg->cache_ttl_ms = 1000;
}

static secup_rc section(struct jconf *c, json_t *root, const char *name,
                        const char *const *keys, json_t **out)
{
    *out = json_object_get(root, name);
    if (!*out)
        return SECUP_OK;
    return jconf_keys(c, *out, name, keys);
}

static secup_rc parse(struct jconf *c, json_t *root, struct srv_config *cfg)
{
    secup_rc rc = jconf_keys(c, root, "top level", top_keys);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "id", cfg->id, sizeof(cfg->id), true);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "listen", cfg->listen, sizeof(cfg->listen), false);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "public-url", cfg->public_url, sizeof(cfg->public_url), false);
    if (rc == SECUP_OK)
        rc = jconf_str(c, root, "database", cfg->db_url, sizeof(cfg->db_url), true);
    if (rc == SECUP_OK)
        rc = jconf_path(c, root, "blobs", cfg->blobs, sizeof(cfg->blobs), true);
    if (rc == SECUP_OK)
        rc = jconf_path(c, root, "signing-key", cfg->signing_key, sizeof(cfg->signing_key), true);
    if (rc == SECUP_OK)
        rc = jconf_path(c, root, "inspection-key", cfg->inspection_key,
                        sizeof(cfg->inspection_key), false);
    json_t *s = NULL;
    if (rc == SECUP_OK)
        rc = section(c, root, "tls", tls_keys, &s);
    if (rc == SECUP_OK && s) {
        rc = jconf_path(c, s, "cert", cfg->cert, sizeof(cfg->cert), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "key", cfg->key, sizeof(cfg->key), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "client-ca", cfg->client_ca, sizeof(cfg->client_ca), false);
    }
    if (rc == SECUP_OK)
        rc = section(c, root, "limits", limit_keys, &s);
    if (rc == SECUP_OK && s) {
        rc = jconf_uint(c, s, "max-envelope", 1024, 64ull << 20, &cfg->max_envelope, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "max-payload", 1, 1ull << 40, &cfg->max_payload, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "storage-quota", 0, UINT64_MAX >> 1, &cfg->storage_quota, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "upload-expiry", 1, 30 * 86400, &cfg->upload_expiry, false);
    }
    if (rc == SECUP_OK)
        rc = section(c, root, "scanner", scanner_keys, &s);
    if (rc == SECUP_OK && s) {
        size_t n = 0;
        rc = jconf_strv(c, s, "command", cfg->scanner, SRV_SCANNER_ARGS, cfg->scanner_buf,
                        sizeof(cfg->scanner_buf), &n);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "timeout", 1, 86400, &cfg->scanner_timeout, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "ban-after", 1, 1000000, &cfg->ban_after, false);
    }
    if (rc == SECUP_OK)
        rc = section(c, root, "http", http_keys, &s);
    if (rc == SECUP_OK && s) {
        rc = jconf_uint(c, s, "threads", 0, 1024, &cfg->threads, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "timeout", 1, 3600, &cfg->timeout, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "connection-limit", 1, 1000000, &cfg->connection_limit, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "per-ip-limit", 0, 1000000, &cfg->per_ip_limit, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "cache-ttl-ms", 0, 60000, &cfg->cache_ttl_ms, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "min-rate", 1, 1ull << 30, &cfg->min_rate, false);
        if (rc == SECUP_OK)
            rc = jconf_rates(c, s, "rate-limits", rate_classes, cfg->rate);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "rate-table", 64, 1u << 24, &cfg->rate_table, false);
    }
    if (rc == SECUP_OK)
        rc = section(c, root, "notify", notify_keys, &s);
    if (rc == SECUP_OK && s) {
        rc = jconf_uint(c, s, "retry-initial", 1, 86400, &cfg->notify_retry_initial, false);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, s, "retry-max", 1, 7 * 86400, &cfg->notify_retry_max, false);
        if (rc == SECUP_OK)
            rc = jconf_path(c, s, "ca-file", cfg->notify_ca, sizeof(cfg->notify_ca), false);
    }
    return rc;
}

/* "sqlite:relative.db" is relative to DIR like every other path. */
static secup_rc resolve_db(struct srv_config *cfg, struct secup_err *err)
{
    static const char pre[] = "sqlite:";
    if (strncmp(cfg->db_url, pre, sizeof(pre) - 1) != 0)
        return SECUP_OK;
    const char *p = cfg->db_url + sizeof(pre) - 1;
    if (p[0] == '/' || strcmp(p, ":memory:") == 0)
        return SECUP_OK;
    char tmp[SRV_PATH];
    int n = snprintf(tmp, sizeof(tmp), "sqlite:%s/%s", cfg->dir, p);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return secup_err_set(err, SECUP_E_VALUE, "'%s': \"database\" path is too long", cfg->file);
    memcpy(cfg->db_url, tmp, (size_t)n + 1);
    return SECUP_OK;
}

static secup_rc finish(struct srv_config *cfg, struct secup_err *err)
{
    secup_rc rc = SECUP_OK;
    if (cfg->notify_retry_max < cfg->notify_retry_initial)
        rc = secup_err_set(err, SECUP_E_VALUE, "'%s': notify retry-max is below retry-initial",
                           cfg->file);
    if (rc == SECUP_OK)
        rc = resolve_db(cfg, err);
    if (rc == SECUP_OK && !cfg->public_url[0]) {
        cfg->public_url_auto = true;
        snprintf(cfg->public_url, sizeof(cfg->public_url), "%s://%s",
                 cfg->cert[0] ? "https" : "http", cfg->listen);
    }
    return rc;
}

static secup_rc set_dir(const char *dir, struct srv_config *cfg, struct secup_err *err)
{
    defaults(cfg);
    int n = snprintf(cfg->dir, sizeof(cfg->dir), "%s", dir);
    int m = snprintf(cfg->file, sizeof(cfg->file), "%s/server.json", dir);
    if (n < 0 || (size_t)n >= sizeof(cfg->dir) || m < 0 || (size_t)m >= sizeof(cfg->file))
        return secup_err_set(err, SECUP_E_ARG, "data directory path is too long");
    return SECUP_OK;
}

secup_rc srv_config_parse(const char *dir, const char *text, size_t len, struct srv_config *cfg,
                          struct secup_err *err)
{
    secup_rc rc = set_dir(dir, cfg, err);
    if (rc != SECUP_OK)
        return rc;
    if (len > MAX_CONFIG)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "'%s': larger than %d bytes", cfg->file,
                             MAX_CONFIG);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return secup_err_set(err, SECUP_E_JSON, "'%s': line %d column %d: %s", cfg->file,
                             je.line, je.column, je.text);
    struct jconf c = { cfg->file, err };
    rc = json_is_object(root) ? parse(&c, root, cfg)
                              : secup_err_set(err, SECUP_E_JSON,
                                              "'%s': the top level must be an object", cfg->file);
    json_decref(root);
    if (rc == SECUP_OK)
        rc = finish(cfg, err);
    if (rc != SECUP_OK) {
        struct secup_err ignored;
        set_dir(dir, cfg, &ignored); /* no half-filled configuration */
    }
    return rc;
}

secup_rc srv_config_load(const char *dir, struct srv_config *cfg, struct secup_err *err)
{
    secup_rc rc = set_dir(dir, cfg, err);
    if (rc != SECUP_OK)
        return rc;
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = secup_file_read(cfg->file, MAX_CONFIG, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    rc = srv_config_parse(dir, (const char *)buf, len, cfg, err);
    secup_file_free(buf, len);
    return rc;
}
