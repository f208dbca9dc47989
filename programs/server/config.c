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
                                         "per-ip-limit", "cache-ttl-ms", NULL };
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
            rc = jconf_uint(c, s, "upload-expiry", 60, 30 * 86400, &cfg->upload_expiry, false);
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

secup_rc srv_config_load(const char *dir, struct srv_config *cfg, struct secup_err *err)
{
    defaults(cfg);
    int n = snprintf(cfg->dir, sizeof(cfg->dir), "%s", dir);
    int m = snprintf(cfg->file, sizeof(cfg->file), "%s/server.json", dir);
    if (n < 0 || (size_t)n >= sizeof(cfg->dir) || m < 0 || (size_t)m >= sizeof(cfg->file))
        return secup_err_set(err, SECUP_E_ARG, "data directory path is too long");
    json_t *root = NULL;
    secup_rc rc = jconf_load(cfg->file, MAX_CONFIG, &root, err);
    if (rc != SECUP_OK)
        return rc;
    struct jconf c = { cfg->file, err };
    rc = parse(&c, root, cfg);
    json_decref(root);
    if (rc == SECUP_OK && cfg->notify_retry_max < cfg->notify_retry_initial)
        rc = secup_err_set(err, SECUP_E_VALUE, "'%s': notify retry-max is below retry-initial",
                           cfg->file);
    if (rc == SECUP_OK)
        rc = resolve_db(cfg, err);
    if (rc == SECUP_OK && !cfg->public_url[0])
        snprintf(cfg->public_url, sizeof(cfg->public_url), "%s://%s",
                 cfg->cert[0] ? "https" : "http", cfg->listen);
    return rc;
}

static secup_rc make_dir(const char *path, struct secup_err *err)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return secup_err_set(err, SECUP_E_IO, "cannot create '%s': %s", path, strerror(errno));
    return SECUP_OK;
}

static secup_rc join(char *out, size_t cap, const char *dir, const char *name,
                     struct secup_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return secup_err_set(err, SECUP_E_ARG, "path '%s/%s' is too long", dir, name);
    return SECUP_OK;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SRV_ID_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

secup_rc srv_init(const char *dir, const struct srv_init_opts *o, struct secup_err *err)
{
    const char *id = o->id ? o->id : "secup-server";
    if (!valid_id(id))
        return secup_err_set(err, SECUP_E_VALUE,
                             "server id '%s' must be 1 to %d characters of A-Z a-z 0-9 . _ -", id,
                             SRV_ID_MAX);
    char conf[SRV_PATH], path[SRV_PATH];
    secup_rc rc = join(conf, sizeof(conf), dir, "server.json", err);
    if (rc != SECUP_OK)
        return rc;
    struct stat st;
    if (stat(conf, &st) == 0)
        return secup_err_set(err, SECUP_E_EXISTS, "'%s' exists: this directory is initialised",
                             conf);
    rc = make_dir(dir, err);
    if (rc == SECUP_OK)
        rc = join(path, sizeof(path), dir, "tls", err);
    if (rc == SECUP_OK)
        rc = make_dir(path, err);
    if (rc == SECUP_OK)
        rc = join(path, sizeof(path), dir, "blobs", err);
    if (rc == SECUP_OK)
        rc = make_dir(path, err);
    if (rc != SECUP_OK)
        return rc;

    struct secup_key *key = NULL;
    rc = secup_key_generate(&key, SECUP_KEY_P256, err);
    if (rc == SECUP_OK)
        rc = join(path, sizeof(path), dir, "server-key.pem", err);
    if (rc == SECUP_OK)
        rc = secup_key_save_private(key, path, err);
    if (rc == SECUP_OK)
        rc = join(path, sizeof(path), dir, "server-key.pub.pem", err);
    if (rc == SECUP_OK)
        rc = secup_key_save_public(key, path, err);
    secup_key_free(key);
    key = NULL;
    /* the TLS key is a separate key: the notification key never sits in a TLS stack */
    if (rc == SECUP_OK)
        rc = secup_key_generate(&key, SECUP_KEY_P256, err);
    if (rc == SECUP_OK)
        rc = join(path, sizeof(path), dir, "tls/key.pem", err);
    if (rc == SECUP_OK)
        rc = secup_key_save_private(key, path, err);
    if (rc == SECUP_OK)
        rc = join(path, sizeof(path), dir, "tls/cert.pem", err);
    if (rc == SECUP_OK)
        rc = secup_key_save_self_signed_cert(key, "localhost", 825, path, err);
    secup_key_free(key);
    if (rc != SECUP_OK)
        return rc;

    json_t *root = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:{s:I, s:I, s:I}}",
                             "id", id, "listen", o->listen ? o->listen : "127.0.0.1:8443", "tls",
                             "cert", "tls/cert.pem", "key", "tls/key.pem", "database",
                             o->db_url ? o->db_url : "sqlite:server.db", "blobs", "blobs",
                             "signing-key", "server-key.pem", "limits", "max-envelope",
                             (json_int_t)(1024 * 1024), "max-payload",
                             (json_int_t)(1024ll * 1024 * 1024), "storage-quota", (json_int_t)0);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "cannot build the configuration");
    char body[8192];
    int n = snprintf(body, sizeof(body), "%s\n", text);
    free(text);
    if (n < 0 || (size_t)n >= sizeof(body))
        return secup_err_set(err, SECUP_E_LIMIT, "configuration too long");

    /* the schema first, so that a database that cannot be reached leaves no server.json */
    struct srv_config cfg;
    defaults(&cfg);
    snprintf(cfg.dir, sizeof(cfg.dir), "%s", dir);
    snprintf(cfg.file, sizeof(cfg.file), "%s", conf);
    snprintf(cfg.db_url, sizeof(cfg.db_url), "%s", o->db_url ? o->db_url : "sqlite:server.db");
    rc = resolve_db(&cfg, err);
    struct db *db = NULL;
    if (rc == SECUP_OK)
        rc = db_open(cfg.db_url, &db, err);
    if (rc == SECUP_OK)
        rc = store_schema(db, err);
    if (rc == SECUP_OK)
        rc = store_event(db, "admin", "init", id, NULL, err);
    db_close(db);
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(conf, secup_bytes_of(body, (size_t)n), 0640, err);
    return rc;
}
