/* The server's metadata: one schema and every query, written once for SQLite and
 * PostgreSQL (programs/common/db/db.h). Binary values are lowercase hex text. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "secup/bytes.h"
#include "secup/manifest.h"
#include "server.h"
#include "token.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS principals ("
    " id TEXT PRIMARY KEY, kind BIGINT NOT NULL, token_hash TEXT NOT NULL UNIQUE,"
    " cert_sha256 TEXT UNIQUE,"
    " key_pem TEXT, vendor TEXT, class TEXT, region TEXT,"
    " banned BIGINT NOT NULL DEFAULT 0, flagged BIGINT NOT NULL DEFAULT 0,"
    " created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS grants ("
    " author TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,"
    " vendor TEXT NOT NULL, class TEXT NOT NULL, component TEXT NOT NULL,"
    " PRIMARY KEY (author, vendor, class, component));"
    "CREATE TABLE IF NOT EXISTS images ("
    " id TEXT PRIMARY KEY, author TEXT NOT NULL, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " seq BIGINT NOT NULL, version TEXT, profile TEXT NOT NULL,"
    " envelope_blob TEXT NOT NULL, envelope_size BIGINT NOT NULL,"
    " payload_blob TEXT, payload_size BIGINT NOT NULL, image_size BIGINT NOT NULL,"
    " encrypted BIGINT NOT NULL, status TEXT NOT NULL, reason TEXT,"
    " regions_allow TEXT NOT NULL DEFAULT '', regions_deny TEXT NOT NULL DEFAULT '',"
    " nets_allow TEXT NOT NULL DEFAULT '', nets_deny TEXT NOT NULL DEFAULT '',"
    " created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS image_components ("
    " image TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    " component TEXT NOT NULL, name TEXT NOT NULL, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " seq BIGINT NOT NULL, profile TEXT NOT NULL,"
    " PRIMARY KEY (image, component),"
    " UNIQUE (vendor, class, component, seq, profile));"
    "CREATE INDEX IF NOT EXISTS image_components_latest"
    " ON image_components (class, name, seq);"
    "CREATE TABLE IF NOT EXISTS downloads ("
    " image TEXT NOT NULL, device TEXT NOT NULL, what TEXT NOT NULL, bytes BIGINT NOT NULL,"
    " time BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS downloads_device ON downloads (device, time);"
    "CREATE TABLE IF NOT EXISTS subscriptions ("
    " id TEXT PRIMARY KEY, tracker TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,"
    " url TEXT NOT NULL, vendor TEXT NOT NULL, class TEXT NOT NULL, created BIGINT NOT NULL,"
    " UNIQUE (tracker, url, vendor, class));"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id TEXT PRIMARY KEY, subscription TEXT NOT NULL REFERENCES subscriptions(id)"
    " ON DELETE CASCADE, body TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,"
    " next_try BIGINT NOT NULL, last_error TEXT, delivered BIGINT NOT NULL DEFAULT 0,"
    " created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    DB_EVENTS_TABLE;

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

secup_rc store_schema(struct db *db, struct secup_err *err)
{
    return db_exec_script(db, schema, err);
}

secup_rc store_event(struct db *db, const char *actor, const char *action, const char *object,
                   const char *detail, struct secup_err *err)
{
    return db_event(db, actor, action, object, detail, err);
}

/* ---- principals ---- */

#define PRINCIPAL_COLS "id, kind, banned, flagged, vendor, class, region"

static bool principal_row(void *ctx, size_t n, const char *const *v)
{
    struct srv_principal *p = ctx;
    if (n < 7)
        return false;
    db_col_copy(p->id, sizeof(p->id), v[0]);
    p->kind = (enum srv_kind)db_col_int(v[1]);
    p->banned = db_col_int(v[2]) != 0;
    p->flagged = db_col_int(v[3]);
    db_col_copy(p->vendor, sizeof(p->vendor), v[4]);
    db_col_copy(p->class_id, sizeof(p->class_id), v[5]);
    db_col_copy(p->region, sizeof(p->region), v[6]);
    return false;
}

secup_rc store_principal_by_token_hash(struct db *db, const char *hash,
                                       struct srv_principal *p, struct secup_err *err)
{
    memset(p, 0, sizeof(*p));
    struct db_value v[] = { DB_TEXT_V(hash) };
    secup_rc rc = db_exec(db, "SELECT " PRINCIPAL_COLS " FROM principals WHERE token_hash = $1",
                          v, 1, principal_row, p, NULL, err);
    if (rc != SECUP_OK)
        return rc;
    if (!p->id[0])
        return secup_err_set(err, SECUP_E_AUTH, "unknown bearer token");
    return SECUP_OK;
}

secup_rc store_principal_by_cert(struct db *db, const char *sha256, struct srv_principal *p,
                                 struct secup_err *err)
{
    memset(p, 0, sizeof(*p));
    struct db_value v[] = { DB_TEXT_V(sha256) };
    secup_rc rc = db_exec(db, "SELECT " PRINCIPAL_COLS " FROM principals WHERE cert_sha256 = $1",
                          v, 1, principal_row, p, NULL, err);
    if (rc == SECUP_OK && !p->id[0])
        rc = secup_err_set(err, SECUP_E_AUTH, "the client certificate belongs to no principal");
    return rc;
}

secup_rc store_principal_get(struct db *db, const char *id, struct srv_principal *p,
                             struct secup_err *err)
{
    memset(p, 0, sizeof(*p));
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "SELECT " PRINCIPAL_COLS " FROM principals WHERE id = $1", v, 1,
                          principal_row, p, NULL, err);
    if (rc == SECUP_OK && !p->id[0])
        rc = secup_err_set(err, SECUP_E_NOENT, "no principal '%s'", id);
    return rc;
}

secup_rc store_principal_add(struct db *db, const struct srv_principal *p,
                             const char *token_hash, const char *key_pem,
                             const char *cert_sha256, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(p->id), DB_INT_V(p->kind), DB_TEXT_V(token_hash),
                            DB_TEXT_V(key_pem), DB_TEXT_V(p->vendor[0] ? p->vendor : NULL),
                            DB_TEXT_V(p->class_id[0] ? p->class_id : NULL),
                            DB_TEXT_V(p->region[0] ? p->region : NULL), DB_INT_V(now()),
                            DB_TEXT_V(cert_sha256) };
    secup_rc rc = db_exec(db, "INSERT INTO principals (id, kind, token_hash, key_pem, vendor,"
                              " class, region, created, cert_sha256)"
                              " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                          v, 9, NULL, NULL, NULL, err);
    if (rc == SECUP_E_EXISTS)
        secup_err_set(err, SECUP_E_EXISTS, "a principal named '%s' exists", p->id);
    return rc;
}

static secup_rc changed_one(secup_rc rc, int64_t changes, const char *id,
                            struct secup_err *err)
{
    if (rc == SECUP_OK && changes == 0)
        return secup_err_set(err, SECUP_E_NOENT, "no principal '%s'", id);
    return rc;
}

secup_rc store_set_banned(struct db *db, const char *id, bool banned, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_INT_V(banned ? 1 : 0), DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "UPDATE principals SET banned = $1 WHERE id = $2", v, 2, NULL,
                          NULL, &changes, err);
    return changed_one(rc, changes, id, err);
}

secup_rc store_flag(struct db *db, const char *id, int64_t *count, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id) };
    return db_query_int(db, "UPDATE principals SET flagged = flagged + 1 WHERE id = $1"
                            " RETURNING flagged",
                        v, 1, count, err);
}

secup_rc store_principal_remove(struct db *db, const char *id, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "DELETE FROM principals WHERE id = $1", v, 1, NULL, NULL,
                          &changes, err);
    return changed_one(rc, changes, id, err);
}

static const char *kind_name(int64_t k)
{
    return k == SRV_AUTHOR ? "author" : k == SRV_DEVICE ? "device" : "tracker";
}

static void set_opt_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static bool principal_json_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 8)
        return false;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(v[0]));
    json_object_set_new(o, "kind", json_string(kind_name(db_col_int(v[1]))));
    json_object_set_new(o, "banned", json_boolean(db_col_int(v[2]) != 0));
    json_object_set_new(o, "flagged", json_integer(db_col_int(v[3])));
    set_opt_str(o, "vendor", v[4]);
    set_opt_str(o, "class", v[5]);
    set_opt_str(o, "region", v[6]);
    json_object_set_new(o, "created", json_integer(db_col_int(v[7])));
    json_array_append_new(ctx, o);
    return true;
}

static bool grant_json_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 4)
        return false;
    json_t *list = ctx;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        if (strcmp(json_string_value(json_object_get(p, "id")), v[0]) != 0)
            continue;
        json_t *g = json_object_get(p, "grants");
        if (!g) {
            g = json_array();
            json_object_set_new(p, "grants", g);
        }
        json_array_append_new(g, json_pack("{s:s, s:s, s:s}", "vendor", v[1], "class", v[2],
                                           "component", v[3]));
    }
    return true;
}

secup_rc store_principal_list(struct db *db, enum srv_kind kind, json_t **out,
                              struct secup_err *err)
{
    json_t *list = json_array();
    struct db_value v[] = { DB_INT_V(kind) };
    secup_rc rc = db_exec(db, "SELECT " PRINCIPAL_COLS ", created FROM principals"
                              " WHERE CAST($1 AS BIGINT) = 0 OR kind = $1 ORDER BY id",
                          v, 1, principal_json_row, list, NULL, err);
    if (rc == SECUP_OK)
        rc = db_exec(db, "SELECT author, vendor, class, component FROM grants"
                         " ORDER BY author, vendor, class, component",
                     NULL, 0, grant_json_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

/* ---- grants ---- */

secup_rc store_grant(struct db *db, const char *author, const char *vendor,
                     const char *class_id, const char *component, bool add,
                     struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(author), DB_TEXT_V(vendor), DB_TEXT_V(class_id),
                            DB_TEXT_V(component) };
    int64_t changes = 0;
    secup_rc rc;
    if (add)
        rc = db_exec(db, "INSERT INTO grants (author, vendor, class, component)"
                         " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                     v, 4, NULL, NULL, &changes, err);
    else
        rc = db_exec(db, "DELETE FROM grants WHERE author = $1 AND vendor = $2 AND class = $3"
                         " AND component = $4",
                     v, 4, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && !add && changes == 0)
        rc = secup_err_set(err, SECUP_E_NOENT, "'%s' has no such grant", author);
    return rc;
}

secup_rc store_grant_check(struct db *db, const char *author, const char *vendor,
                           const char *class_id, const char *component, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(author), DB_TEXT_V(vendor), DB_TEXT_V(class_id),
                            DB_TEXT_V(component) };
    int64_t n = 0;
    secup_rc rc = db_query_int(db, "SELECT COUNT(*) FROM grants WHERE author = $1 AND vendor = $2"
                                   " AND (class = $3 OR class = '*')"
                                   " AND (component = $4 OR component = '*')",
                               v, 4, &n, err);
    if (rc == SECUP_OK && n == 0)
        rc = secup_err_set(err, SECUP_E_FORBIDDEN,
                           "Author '%s' may not publish component %s for vendor %s class %s",
                           author, component, vendor, class_id);
    return rc;
}

/* ---- images ---- */

secup_rc store_max_seq(struct db *db, const char *vendor, const char *class_id,
                       const char *component, int64_t *seq, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(vendor), DB_TEXT_V(class_id), DB_TEXT_V(component) };
    return db_query_int(db, "SELECT COALESCE(MAX(seq), 0) FROM image_components"
                            " WHERE vendor = $1 AND class = $2 AND component = $3",
                        v, 3, seq, err);
}

secup_rc store_variant_exists(struct db *db, const char *vendor, const char *class_id,
                              const char *component, int64_t seq, const char *profile,
                              bool *exists, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(vendor), DB_TEXT_V(class_id), DB_TEXT_V(component),
                            DB_INT_V(seq), DB_TEXT_V(profile) };
    int64_t n = 0;
    secup_rc rc = db_query_int(db, "SELECT COUNT(*) FROM image_components WHERE vendor = $1"
                                   " AND class = $2 AND component = $3 AND seq = $4"
                                   " AND profile = $5",
                               v, 5, &n, err);
    *exists = n > 0;
    return rc;
}

secup_rc store_image_add(struct db *db, const struct srv_image *img, struct secup_err *err)
{
    struct db_value v[] = {
        DB_TEXT_V(img->id), DB_TEXT_V(img->author), DB_TEXT_V(img->vendor),
        DB_TEXT_V(img->class_id), DB_INT_V(img->seq), DB_TEXT_V(img->version),
        DB_TEXT_V(img->profile), DB_TEXT_V(img->envelope_blob), DB_INT_V(img->envelope_size),
        DB_TEXT_V(img->payload_blob[0] ? img->payload_blob : NULL), DB_INT_V(img->payload_size),
        DB_INT_V(img->image_size), DB_INT_V(img->encrypted ? 1 : 0), DB_TEXT_V(img->status),
        DB_TEXT_V(img->regions_allow), DB_TEXT_V(img->regions_deny), DB_TEXT_V(img->nets_allow),
        DB_TEXT_V(img->nets_deny), DB_INT_V(img->created),
    };
    secup_rc rc = db_exec(db, "INSERT INTO images (id, author, vendor, class, seq, version,"
                              " profile, envelope_blob, envelope_size, payload_blob,"
                              " payload_size, image_size, encrypted, status, regions_allow,"
                              " regions_deny, nets_allow, nets_deny, created) VALUES ($1, $2,"
                              " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
                              " $17, $18, $19)",
                          v, 19, NULL, NULL, NULL, err);
    if (rc == SECUP_E_EXISTS)
        return secup_err_set(err, SECUP_E_EXISTS, "image %s was submitted before", img->id);
    for (uint32_t i = 0; rc == SECUP_OK && i < img->n_components; i++) {
        struct db_value c[] = { DB_TEXT_V(img->id), DB_TEXT_V(img->components[i]),
                                DB_TEXT_V(img->component_names[i]), DB_TEXT_V(img->vendor),
                                DB_TEXT_V(img->class_id), DB_INT_V(img->seq),
                                DB_TEXT_V(img->profile) };
        rc = db_exec(db, "INSERT INTO image_components (image, component, name, vendor, class,"
                         " seq, profile) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                     c, 7, NULL, NULL, NULL, err);
        if (rc == SECUP_E_EXISTS)
            rc = secup_err_set(err, SECUP_E_ROLLBACK,
                               "component %s already has sequence number %" PRId64
                               " with profile %s",
                               img->component_names[i], img->seq, img->profile);
    }
    return rc;
}

#define IMAGE_COLS                                                                            \
    "id, author, vendor, class, seq, version, profile, envelope_blob, envelope_size,"         \
    " payload_blob, payload_size, image_size, encrypted, status, reason, regions_allow,"      \
    " regions_deny, nets_allow, nets_deny, created"

static void image_from_row(struct srv_image *img, const char *const *v)
{
    memset(img, 0, sizeof(*img));
    db_col_copy(img->id, sizeof(img->id), v[0]);
    db_col_copy(img->author, sizeof(img->author), v[1]);
    db_col_copy(img->vendor, sizeof(img->vendor), v[2]);
    db_col_copy(img->class_id, sizeof(img->class_id), v[3]);
    img->seq = db_col_int(v[4]);
    db_col_copy(img->version, sizeof(img->version), v[5]);
    db_col_copy(img->profile, sizeof(img->profile), v[6]);
    db_col_copy(img->envelope_blob, sizeof(img->envelope_blob), v[7]);
    img->envelope_size = db_col_int(v[8]);
    db_col_copy(img->payload_blob, sizeof(img->payload_blob), v[9]);
    img->payload_size = db_col_int(v[10]);
    img->image_size = db_col_int(v[11]);
    img->encrypted = db_col_int(v[12]) != 0;
    db_col_copy(img->status, sizeof(img->status), v[13]);
    db_col_copy(img->reason, sizeof(img->reason), v[14]);
    db_col_copy(img->regions_allow, sizeof(img->regions_allow), v[15]);
    db_col_copy(img->regions_deny, sizeof(img->regions_deny), v[16]);
    db_col_copy(img->nets_allow, sizeof(img->nets_allow), v[17]);
    db_col_copy(img->nets_deny, sizeof(img->nets_deny), v[18]);
    img->created = db_col_int(v[19]);
}

static bool image_row(void *ctx, size_t n, const char *const *v)
{
    if (n >= 20)
        image_from_row(ctx, v);
    return false;
}

static bool component_row(void *ctx, size_t n, const char *const *v)
{
    struct srv_image *img = ctx;
    if (n < 2 || img->n_components >= SRV_MAX_COMPONENTS)
        return false;
    db_col_copy(img->components[img->n_components], sizeof(img->components[0]), v[0]);
    db_col_copy(img->component_names[img->n_components], sizeof(img->component_names[0]), v[1]);
    img->n_components++;
    return true;
}

static secup_rc load_components(struct db *db, struct srv_image *img, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(img->id) };
    img->n_components = 0;
    return db_exec(db, "SELECT component, name FROM image_components WHERE image = $1"
                       " ORDER BY name",
                   v, 1, component_row, img, NULL, err);
}

secup_rc store_image_get(struct db *db, const char *id, struct srv_image *img,
                         struct secup_err *err)
{
    memset(img, 0, sizeof(*img));
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "SELECT " IMAGE_COLS " FROM images WHERE id = $1", v, 1,
                          image_row, img, NULL, err);
    if (rc == SECUP_OK && !img->id[0])
        return secup_err_set(err, SECUP_E_NOENT, "no image %s", id);
    if (rc == SECUP_OK)
        rc = load_components(db, img, err);
    return rc;
}

secup_rc store_image_status(struct db *db, const char *id, const char *status,
                            const char *reason, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_TEXT_V(status), DB_TEXT_V(reason), DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "UPDATE images SET status = $1, reason = $2 WHERE id = $3", v, 3,
                          NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        rc = secup_err_set(err, SECUP_E_NOENT, "no image %s", id);
    return rc;
}

secup_rc store_image_policy(struct db *db, const char *id, const char *field,
                            const char *value, struct secup_err *err)
{
    static const char *const fields[] = { "regions_allow", "regions_deny", "nets_allow",
                                          "nets_deny" };
    static const char *const sql[] = {
        "UPDATE images SET regions_allow = $1 WHERE id = $2",
        "UPDATE images SET regions_deny = $1 WHERE id = $2",
        "UPDATE images SET nets_allow = $1 WHERE id = $2",
        "UPDATE images SET nets_deny = $1 WHERE id = $2",
    };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(field, fields[i]) != 0)
            continue;
        int64_t changes = 0;
        struct db_value v[] = { DB_TEXT_V(value), DB_TEXT_V(id) };
        secup_rc rc = db_exec(db, sql[i], v, 2, NULL, NULL, &changes, err);
        if (rc == SECUP_OK && changes == 0)
            rc = secup_err_set(err, SECUP_E_NOENT, "no image %s", id);
        return rc;
    }
    return secup_err_set(err, SECUP_E_ARG, "no policy field '%s'", field);
}

static json_t *csv_array(const char *s)
{
    json_t *a = json_array();
    while (s && *s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n)
            json_array_append_new(a, json_stringn(s, n));
        s = comma ? comma + 1 : NULL;
    }
    return a;
}

json_t *store_image_json(const struct srv_image *img)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(img->id));
    json_object_set_new(o, "author", json_string(img->author));
    json_object_set_new(o, "vendor", json_string(img->vendor));
    json_object_set_new(o, "class", json_string(img->class_id));
    json_t *comps = json_array();
    for (uint32_t i = 0; i < img->n_components; i++)
        json_array_append_new(comps, json_pack("{s:s, s:s}", "id", img->components[i], "name",
                                               img->component_names[i]));
    json_object_set_new(o, "components", comps);
    json_object_set_new(o, "sequence", json_integer(img->seq));
    set_opt_str(o, "version", img->version);
    json_object_set_new(o, "profile", json_string(img->profile));
    json_object_set_new(o, "envelope_size", json_integer(img->envelope_size));
    json_object_set_new(o, "payload", json_boolean(img->payload_blob[0] != '\0'));
    json_object_set_new(o, "payload_size", json_integer(img->payload_size));
    json_object_set_new(o, "image_size", json_integer(img->image_size));
    json_object_set_new(o, "encrypted", json_boolean(img->encrypted));
    json_object_set_new(o, "status", json_string(img->status));
    set_opt_str(o, "reason", img->reason);
    json_object_set_new(o, "created", json_integer(img->created));
    json_t *pol = json_object();
    json_object_set_new(pol, "regions_allow", csv_array(img->regions_allow));
    json_object_set_new(pol, "regions_deny", csv_array(img->regions_deny));
    json_object_set_new(pol, "nets_allow", csv_array(img->nets_allow));
    json_object_set_new(pol, "nets_deny", csv_array(img->nets_deny));
    json_object_set_new(o, "location_policy", pol);
    return o;
}

struct list_ctx {
    struct db *db;
    json_t *list;
    char ids[256][SRV_HEX_ID];
    size_t n;
};

static bool image_id_row(void *ctx, size_t n, const char *const *v)
{
    struct list_ctx *c = ctx;
    if (n < 1 || c->n >= 256)
        return false;
    db_col_copy(c->ids[c->n++], SRV_HEX_ID, v[0]);
    return true;
}

secup_rc store_image_list(struct db *db, const char *vendor, const char *class_id,
                          const char *component, bool active_only, json_t **out,
                          struct secup_err *err)
{
    struct list_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return secup_err_set(err, SECUP_E_NOMEM, "image list");
    struct db_value v[] = { DB_TEXT_V(vendor), DB_TEXT_V(class_id), DB_TEXT_V(component),
                            DB_INT_V(active_only ? 1 : 0) };
    secup_rc rc = db_exec(db, "SELECT DISTINCT i.id, i.seq, i.created FROM images i"
                              " JOIN image_components c ON c.image = i.id"
                              " WHERE (CAST($1 AS TEXT) IS NULL OR i.vendor = $1)"
                              " AND (CAST($2 AS TEXT) IS NULL OR i.class = $2)"
                              " AND (CAST($3 AS TEXT) IS NULL OR c.name = $3)"
                              " AND (CAST($4 AS BIGINT) = 0 OR i.status = 'active')"
                              " ORDER BY i.seq DESC, i.created DESC, i.id LIMIT 256",
                          v, 4, image_id_row, c, NULL, err);
    json_t *list = json_array();
    for (size_t i = 0; rc == SECUP_OK && i < c->n; i++) {
        struct srv_image img;
        rc = store_image_get(db, c->ids[i], &img, err);
        if (rc == SECUP_OK)
            json_array_append_new(list, store_image_json(&img));
    }
    free(c);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

secup_rc store_latest(struct db *db, const char *vendor, const char *class_id,
                      const char *component, const char *profile, struct srv_image *img,
                      struct secup_err *err)
{
    /* one statement: this is the query an idle device polls */
    memset(img, 0, sizeof(*img));
    struct db_value v[] = { DB_TEXT_V(vendor), DB_TEXT_V(class_id), DB_TEXT_V(component),
                            DB_TEXT_V(profile) };
    secup_rc rc = db_exec(db, "SELECT i.id, i.author, i.vendor, i.class, i.seq, i.version,"
                              " i.profile, i.envelope_blob, i.envelope_size, i.payload_blob,"
                              " i.payload_size, i.image_size, i.encrypted, i.status, i.reason,"
                              " i.regions_allow, i.regions_deny, i.nets_allow, i.nets_deny,"
                              " i.created FROM images i JOIN image_components c"
                              " ON c.image = i.id WHERE (CAST($1 AS TEXT) IS NULL OR i.vendor = $1)"
                              " AND i.class = $2 AND c.name = $3 AND i.status = 'active'"
                              " AND (CAST($4 AS TEXT) IS NULL OR i.profile = $4)"
                              " ORDER BY i.seq DESC, i.created ASC, i.id LIMIT 1",
                          v, 4, image_row, img, NULL, err);
    if (rc == SECUP_OK && !img->id[0])
        rc = secup_err_set(err, SECUP_E_NOENT, "no active image for this class and component");
    return rc;
}

/* ---- history ---- */

secup_rc store_download(struct db *db, const char *image, const char *device,
                        const char *what, int64_t bytes, int64_t time, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(image), DB_TEXT_V(device), DB_TEXT_V(what),
                            DB_INT_V(bytes), DB_INT_V(time) };
    return db_exec(db, "INSERT INTO downloads (image, device, what, bytes, time)"
                       " VALUES ($1, $2, $3, $4, $5)",
                   v, 5, NULL, NULL, NULL, err);
}

static bool download_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 5)
        return false;
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:I, s:I}", "image", v[0], "device",
                                         v[1], "what", v[2], "bytes", (json_int_t)db_col_int(v[3]),
                                         "time", (json_int_t)db_col_int(v[4])));
    return true;
}

secup_rc store_download_list(struct db *db, const char *image, const char *device,
                             json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    struct db_value v[] = { DB_TEXT_V(image), DB_TEXT_V(device) };
    secup_rc rc = db_exec(db, "SELECT image, device, what, bytes, time FROM downloads"
                              " WHERE (CAST($1 AS TEXT) IS NULL OR image = $1) AND (CAST($2 AS TEXT) IS NULL OR device = $2)"
                              " ORDER BY time DESC LIMIT 10000",
                          v, 2, download_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

static bool obsolete_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 5)
        return false;
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:I, s:I}", "device", v[0],
                                         "component", v[1], "image", v[2], "sequence",
                                         (json_int_t)db_col_int(v[3]), "latest",
                                         (json_int_t)db_col_int(v[4])));
    return true;
}

secup_rc store_obsolete(struct db *db, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    /* per device and component: the newest image it fetched, when a newer active one
     * exists for the same vendor, class and component */
    secup_rc rc = db_exec(
        db,
        "SELECT d.device, c.name, d.image, c.seq, newest.seq FROM"
        " (SELECT device, image FROM downloads WHERE what = 'payload' OR what = 'manifest'"
        "  GROUP BY device, image) d"
        " JOIN image_components c ON c.image = d.image"
        " JOIN (SELECT ic.vendor, ic.class, ic.component, MAX(ic.seq) AS seq"
        "  FROM image_components ic JOIN images i ON i.id = ic.image"
        "  WHERE i.status = 'active' GROUP BY ic.vendor, ic.class, ic.component) newest"
        " ON newest.vendor = c.vendor AND newest.class = c.class"
        " AND newest.component = c.component"
        " WHERE c.seq < newest.seq AND NOT EXISTS (SELECT 1 FROM downloads d2"
        "  JOIN image_components c2 ON c2.image = d2.image WHERE d2.device = d.device"
        "  AND c2.vendor = c.vendor AND c2.class = c.class AND c2.component = c.component"
        "  AND c2.seq > c.seq)"
        " ORDER BY d.device, c.name",
        NULL, 0, obsolete_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

/* ---- subscriptions and the outbox ---- */

secup_rc store_subscribe(struct db *db, const struct srv_subscription *s, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(s->id), DB_TEXT_V(s->tracker), DB_TEXT_V(s->url),
                            DB_TEXT_V(s->vendor), DB_TEXT_V(s->class_id), DB_INT_V(now()) };
    secup_rc rc = db_exec(db, "INSERT INTO subscriptions (id, tracker, url, vendor, class,"
                              " created) VALUES ($1, $2, $3, $4, $5, $6)",
                          v, 6, NULL, NULL, NULL, err);
    if (rc == SECUP_E_EXISTS)
        secup_err_set(err, SECUP_E_EXISTS, "tracker '%s' already subscribed %s for this vendor and class",
                      s->tracker, s->url);
    return rc;
}

secup_rc store_unsubscribe(struct db *db, const char *id, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "DELETE FROM subscriptions WHERE id = $1", v, 1, NULL, NULL,
                          &changes, err);
    if (rc == SECUP_OK && changes == 0)
        rc = secup_err_set(err, SECUP_E_NOENT, "no subscription %s", id);
    return rc;
}

static bool subscription_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 6)
        return false;
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", v[0],
                                         "tracker", v[1], "url", v[2], "vendor", v[3], "class",
                                         v[4], "created", (json_int_t)db_col_int(v[5])));
    return true;
}

secup_rc store_subscription_list(struct db *db, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    secup_rc rc = db_exec(db, "SELECT id, tracker, url, vendor, class, created"
                              " FROM subscriptions ORDER BY created, id",
                          NULL, 0, subscription_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

secup_rc store_outbox_add(struct db *db, const struct srv_image *img, const char *body_hex,
                          struct secup_err *err)
{
    /* one row per matching subscription; the row id is the subscription and image */
    struct db_value v[] = { DB_TEXT_V(img->id), DB_TEXT_V(body_hex), DB_INT_V(now()),
                            DB_TEXT_V(img->vendor), DB_TEXT_V(img->class_id) };
    return db_exec(db, "INSERT INTO outbox (id, subscription, body, next_try, created)"
                       " SELECT s.id || ':' || CAST($1 AS TEXT), s.id, CAST($2 AS TEXT), CAST($3 AS BIGINT),"
                       " CAST($3 AS BIGINT) FROM subscriptions s"
                       " WHERE (s.vendor = '*' OR s.vendor = CAST($4 AS TEXT))"
                       " AND (s.class = '*' OR s.class = CAST($5 AS TEXT)) ON CONFLICT DO NOTHING",
                   v, 5, NULL, NULL, NULL, err);
}

secup_rc store_next_counter(struct db *db, int64_t *counter, struct secup_err *err)
{
    return db_query_int(db, "INSERT INTO counters (name, value) VALUES ('notification', 1)"
                            " ON CONFLICT (name) DO UPDATE SET value = counters.value + 1"
                            " RETURNING value",
                        NULL, 0, counter, err);
}

secup_rc store_author_key(struct db *db, const char *author, char *pem, size_t cap,
                          struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(author), DB_INT_V(SRV_AUTHOR) };
    secup_rc rc = db_query_text(db, "SELECT key_pem FROM principals WHERE id = $1 AND kind = $2",
                                v, 2, pem, cap, err);
    if (rc == SECUP_E_NOENT)
        rc = secup_err_set(err, SECUP_E_AUTH, "'%s' is not a registered Author", author);
    return rc;
}

struct due_ctx {
    struct srv_outbox_item *items;
    size_t max;
    size_t n;
};

static bool due_row(void *ctx, size_t n, const char *const *v)
{
    struct due_ctx *c = ctx;
    if (n < 4 || c->n >= c->max)
        return false;
    struct srv_outbox_item *it = &c->items[c->n++];
    db_col_copy(it->id, sizeof(it->id), v[0]);
    db_col_copy(it->url, sizeof(it->url), v[1]);
    db_col_copy(it->body_hex, sizeof(it->body_hex), v[2]);
    it->attempts = db_col_int(v[3]);
    return true;
}

secup_rc store_outbox_due(struct db *db, struct srv_outbox_item *items, size_t max, size_t *n,
                          struct secup_err *err)
{
    struct due_ctx c = { items, max, 0 };
    struct db_value v[] = { DB_INT_V(now()), DB_INT_V((int64_t)max) };
    secup_rc rc = db_exec(db, "SELECT o.id, s.url, o.body, o.attempts FROM outbox o"
                              " JOIN subscriptions s ON s.id = o.subscription"
                              " WHERE o.delivered = 0 AND o.next_try <= $1"
                              " ORDER BY o.next_try, o.id LIMIT $2",
                          v, 2, due_row, &c, NULL, err);
    *n = c.n;
    return rc;
}

secup_rc store_outbox_result(struct db *db, const char *id, enum srv_delivery result,
                             int64_t next_try, const char *error, struct secup_err *err)
{
    struct db_value v[] = { DB_INT_V((int64_t)result), DB_INT_V(next_try), DB_TEXT_V(error),
                            DB_TEXT_V(id) };
    return db_exec(db, "UPDATE outbox SET delivered = $1, attempts = attempts + 1,"
                       " next_try = $2, last_error = $3 WHERE id = $4",
                   v, 4, NULL, NULL, NULL, err);
}
