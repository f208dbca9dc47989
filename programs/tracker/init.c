/* secup-tracker init: a data directory that `secup-tracker run` can start from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "secup/file.h"
#include "tracker.h"

static secup_rc make_dir(const char *path, struct secup_err *err)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return secup_err_set(err, SECUP_E_IO, "cannot create '%s': %s", path, strerror(errno));
    return SECUP_OK;
}

secup_rc trk_init(const char *dir, const struct trk_init_opts *o, struct secup_err *err)
{
    const char *id = o->id ? o->id : "secup-tracker";
    char path[TRK_PATH + 64];
    snprintf(path, sizeof(path), "%s/tracker.json", dir);
    struct stat st;
    if (stat(path, &st) == 0)
        return secup_err_set(err, SECUP_E_EXISTS, "'%s' exists: this directory is initialised",
                             path);
    json_t *root = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:I}", "id", id, "listen",
                             o->listen ? o->listen : "127.0.0.1:8543", "tls", "cert",
                             "tls/cert.pem", "key", "tls/key.pem", "database",
                             o->db_url ? o->db_url : "sqlite:tracker.db", "signing-key",
                             "tracker-key.pem", "unreachable-after", (json_int_t)3600);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "configuration");
    struct trk_config *cfg = calloc(1, sizeof(*cfg));
    secup_rc rc = cfg ? make_dir(dir, err) : secup_err_set(err, SECUP_E_NOMEM, "configuration");
    if (rc == SECUP_OK)
        rc = trk_config_parse(dir, text, strlen(text), cfg, err);
    if (rc == SECUP_OK) {
        snprintf(path, sizeof(path), "%s/tls", dir);
        rc = make_dir(path, err);
    }
    struct secup_key *key = NULL;
    for (int i = 0; rc == SECUP_OK && i < 2; i++) {
        rc = secup_key_generate(&key, SECUP_KEY_P256, err);
        if (rc == SECUP_OK && i == 0) { /* signs commands and aggregated reports */
            snprintf(path, sizeof(path), "%s/tracker-key.pem", dir);
            rc = secup_key_save_private(key, path, err);
            snprintf(path, sizeof(path), "%s/tracker-key.pub.pem", dir);
            if (rc == SECUP_OK)
                rc = secup_key_save_public(key, path, err);
        } else if (rc == SECUP_OK) { /* TLS, a key of its own */
            snprintf(path, sizeof(path), "%s/tls/key.pem", dir);
            rc = secup_key_save_private(key, path, err);
            snprintf(path, sizeof(path), "%s/tls/cert.pem", dir);
            if (rc == SECUP_OK)
                rc = secup_key_save_self_signed_cert(key, "localhost", 825, path, err);
        }
        secup_key_free(key);
        key = NULL;
    }
    struct db *db = NULL;
    if (rc == SECUP_OK)
        rc = db_open(cfg->db_url, &db, err);
    if (rc == SECUP_OK)
        rc = trk_schema(db, err);
    if (rc == SECUP_OK)
        rc = trk_event(db, "admin", "init", id, NULL, err);
    db_close(db);
    free(cfg);
    if (rc == SECUP_OK) {
        char body[8192];
        int n = snprintf(body, sizeof(body), "%s\n", text);
        snprintf(path, sizeof(path), "%s/tracker.json", dir);
        rc = n > 0 && (size_t)n < sizeof(body)
                 ? secup_file_write_atomic(path, secup_bytes_of(body, (size_t)n), 0640, err)
                 : secup_err_set(err, SECUP_E_LIMIT, "configuration too long");
    }
    free(text);
    return rc;
}
