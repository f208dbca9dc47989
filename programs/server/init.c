/* secup-server init: a data directory that `secup-server run` can start from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "secup/file.h"
#include "reqparse.h"
#include "server.h"

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

secup_rc srv_init(const char *dir, const struct srv_init_opts *o, struct secup_err *err)
{
    const char *id = o->id ? o->id : "secup-server";
    if (!req_valid_name(id))
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

    /* the configuration as run will read it (so init writes nothing run refuses), and the
     * schema before server.json, so that an unreachable database leaves none */
    struct srv_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return secup_err_set(err, SECUP_E_NOMEM, "configuration");
    rc = srv_config_parse(dir, body, (size_t)n, cfg, err);
    struct db *db = NULL;
    if (rc == SECUP_OK)
        rc = db_open(cfg->db_url, &db, err);
    free(cfg);
    if (rc == SECUP_OK)
        rc = store_schema(db, err);
    if (rc == SECUP_OK)
        rc = store_event(db, "admin", "init", id, NULL, err);
    db_close(db);
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(conf, secup_bytes_of(body, (size_t)n), 0640, err);
    return rc;
}
