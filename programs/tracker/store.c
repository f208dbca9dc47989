/* The tracker's inventory: one schema and every query, for SQLite and PostgreSQL. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tracker.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS consumers ("
    " id TEXT PRIMARY KEY, kind BIGINT NOT NULL, key_pem TEXT NOT NULL,"
    " token_hash TEXT NOT NULL UNIQUE, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " region TEXT, attrs TEXT, created BIGINT NOT NULL, last_seen BIGINT NOT NULL DEFAULT 0,"
    " last_counter BIGINT NOT NULL DEFAULT 0, safe_mode BIGINT NOT NULL DEFAULT 0,"
    " components TEXT, last_result TEXT, cmd_counter BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS enrolments ("
    " token_hash TEXT PRIMARY KEY, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " uses_left BIGINT NOT NULL, created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS reports ("
    " consumer TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,"
    " counter BIGINT NOT NULL, time BIGINT NOT NULL, received BIGINT NOT NULL,"
    " body TEXT NOT NULL, PRIMARY KEY (consumer, counter));"
    "CREATE TABLE IF NOT EXISTS servers ("
    " id TEXT PRIMARY KEY, key_pem TEXT NOT NULL, last_counter BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS manifests ("
    " digest TEXT PRIMARY KEY, server TEXT NOT NULL, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " component TEXT NOT NULL, seq BIGINT NOT NULL, uri TEXT NOT NULL, received BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS manifests_newest ON manifests (vendor, class, component, seq);"
    "CREATE TABLE IF NOT EXISTS commands ("
    " id TEXT PRIMARY KEY, consumer TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,"
    " counter BIGINT NOT NULL, action BIGINT NOT NULL, digest TEXT, seq BIGINT, component TEXT,"
    " issued BIGINT NOT NULL, expires BIGINT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,"
    " result TEXT);"
    "CREATE INDEX IF NOT EXISTS commands_open ON commands (consumer, state);"
    "CREATE TABLE IF NOT EXISTS events ("
    " time BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT,"
    " detail TEXT);";

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

secup_rc trk_schema(struct db *db, struct secup_err *err)
{
    return db_exec_script(db, schema, err);
}

secup_rc trk_event(struct db *db, const char *actor, const char *action, const char *object,
                   const char *detail, struct secup_err *err)
{
    struct db_value v[] = { DB_INT_V(now()), DB_TEXT_V(actor), DB_TEXT_V(action),
                            DB_TEXT_V(object), DB_TEXT_V(detail) };
    return db_exec(db, "INSERT INTO events (time, actor, action, object, detail)"
                       " VALUES ($1, $2, $3, $4, $5)",
                   v, 5, NULL, NULL, NULL, err);
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int64_t to_i64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

secup_rc trk_enrolment_add(struct db *db, const char *hash, const char *vendor,
                           const char *class_id, int64_t uses, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(hash), DB_TEXT_V(vendor), DB_TEXT_V(class_id),
                            DB_INT_V(uses), DB_INT_V(now()) };
    return db_exec(db, "INSERT INTO enrolments (token_hash, vendor, class, uses_left, created)"
                       " VALUES ($1, $2, $3, $4, $5)",
                   v, 5, NULL, NULL, NULL, err);
}

struct two {
    char *a, *b;
};

static bool two_row(void *ctx, size_t n, const char *const *v)
{
    struct two *t = ctx;
    if (n >= 2) {
        copy(t->a, 33, v[0]);
        copy(t->b, 33, v[1]);
    }
    return false;
}

secup_rc trk_enrolment_take(struct db *db, const char *hash, char vendor[33], char class_id[33],
                            struct secup_err *err)
{
    vendor[0] = class_id[0] = '\0';
    struct two t = { vendor, class_id };
    struct db_value v[] = { DB_TEXT_V(hash) };
    secup_rc rc = db_exec(db, "UPDATE enrolments SET uses_left = uses_left - 1"
                              " WHERE token_hash = $1 AND uses_left > 0 RETURNING vendor, class",
                          v, 1, two_row, &t, NULL, err);
    if (rc == SECUP_OK && !vendor[0])
        rc = secup_err_set(err, SECUP_E_AUTH, "unknown or used-up enrolment token");
    return rc;
}

secup_rc trk_consumer_add(struct db *db, const struct trk_consumer *c, const char *token_hash,
                          const char *key_pem, const char *attrs_json, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(c->id), DB_INT_V(c->kind), DB_TEXT_V(key_pem),
                            DB_TEXT_V(token_hash), DB_TEXT_V(c->vendor), DB_TEXT_V(c->class_id),
                            DB_TEXT_V(c->region[0] ? c->region : NULL), DB_TEXT_V(attrs_json),
                            DB_INT_V(now()) };
    secup_rc rc = db_exec(db, "INSERT INTO consumers (id, kind, key_pem, token_hash, vendor,"
                              " class, region, attrs, created) VALUES ($1, $2, $3, $4, $5, $6,"
                              " $7, $8, $9)",
                          v, 9, NULL, NULL, NULL, err);
    if (rc == SECUP_E_EXISTS)
        secup_err_set(err, SECUP_E_EXISTS, "a consumer named '%s' is registered", c->id);
    return rc;
}

static bool consumer_row(void *ctx, size_t n, const char *const *v)
{
    struct trk_consumer *c = ctx;
    if (n < 7)
        return false;
    copy(c->id, sizeof(c->id), v[0]);
    c->kind = (enum trk_kind)to_i64(v[1]);
    copy(c->vendor, sizeof(c->vendor), v[2]);
    copy(c->class_id, sizeof(c->class_id), v[3]);
    copy(c->region, sizeof(c->region), v[4]);
    c->last_counter = to_i64(v[5]);
    c->last_seen = to_i64(v[6]);
    return false;
}

secup_rc trk_consumer_by_token(struct db *db, const char *hash, struct trk_consumer *c,
                               struct secup_err *err)
{
    memset(c, 0, sizeof(*c));
    struct db_value v[] = { DB_TEXT_V(hash) };
    secup_rc rc = db_exec(db, "SELECT id, kind, vendor, class, region, last_counter, last_seen"
                              " FROM consumers WHERE token_hash = $1",
                          v, 1, consumer_row, c, NULL, err);
    if (rc == SECUP_OK && !c->id[0])
        rc = secup_err_set(err, SECUP_E_AUTH, "unknown bearer token");
    return rc;
}

secup_rc trk_consumer_key(struct db *db, const char *id, char *pem, size_t cap,
                          struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_query_text(db, "SELECT key_pem FROM consumers WHERE id = $1", v, 1, pem, cap,
                                err);
    if (rc == SECUP_E_NOENT)
        rc = secup_err_set(err, SECUP_E_NOENT, "no consumer '%s'", id);
    return rc;
}

secup_rc trk_report_store(struct db *db, const char *id, int64_t counter, int64_t time_,
                          bool safe_mode, const char *components_json,
                          const char *last_result_json, const char *report_hex,
                          struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_INT_V(counter), DB_INT_V(now()), DB_INT_V(safe_mode ? 1 : 0),
                            DB_TEXT_V(components_json), DB_TEXT_V(last_result_json),
                            DB_TEXT_V(id) };
    /* the counter only goes up: a replayed or reordered report changes nothing */
    secup_rc rc = db_exec(db, "UPDATE consumers SET last_counter = $1, last_seen = $2,"
                              " safe_mode = $3, components = $4,"
                              " last_result = COALESCE($5, last_result)"
                              " WHERE id = $6 AND last_counter < $1",
                          v, 6, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        return secup_err_set(err, SECUP_E_REPLAY,
                             "report counter %" PRId64 " of '%s' is not above the last one", counter,
                             id);
    struct db_value r[] = { DB_TEXT_V(id), DB_INT_V(counter), DB_INT_V(time_), DB_INT_V(now()),
                            DB_TEXT_V(report_hex) };
    if (rc == SECUP_OK)
        rc = db_exec(db, "INSERT INTO reports (consumer, counter, time, received, body)"
                         " VALUES ($1, $2, $3, $4, $5)",
                     r, 5, NULL, NULL, NULL, err);
    return rc;
}

secup_rc trk_consumer_remove(struct db *db, const char *id, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "DELETE FROM consumers WHERE id = $1", v, 1, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        rc = secup_err_set(err, SECUP_E_NOENT, "no consumer '%s'", id);
    return rc;
}

/* ---- judgement ---- */

struct inv {
    struct db *db;
    json_t *list;
    int64_t now, unreachable_after;
    const char *state;
    secup_rc rc;
    struct secup_err *err;
};

/* The newest known sequence of (vendor, class, component); 0 when none is known. */
static int64_t newest(struct db *db, const char *vendor, const char *cls, const char *comp,
                      struct secup_err *err)
{
    int64_t seq = 0;
    struct db_value v[] = { DB_TEXT_V(vendor), DB_TEXT_V(cls), DB_TEXT_V(comp) };
    if (db_query_int(db, "SELECT COALESCE(MAX(seq), 0) FROM manifests WHERE vendor = $1"
                         " AND class = $2 AND component = $3",
                     v, 3, &seq, err) != SECUP_OK)
        return 0;
    return seq;
}

static const char *judge(struct inv *in, const char *const *v, json_t *comps, json_t *last)
{
    int64_t last_seen = to_i64(v[6]);
    if (last_seen == 0)
        return "never-seen";
    if (in->now - last_seen > in->unreachable_after)
        return "unreachable";
    if (to_i64(v[7]) != 0)
        return "failed"; /* safe mode: no verified image */
    const char *code = json_string_value(json_object_get(last, "code"));
    bool failed = code && strcmp(code, "OK") != 0;
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        int64_t seq = (int64_t)json_integer_value(json_object_get(c, "sequence"));
        int64_t known = id ? newest(in->db, v[2], v[3], id, in->err) : 0;
        json_object_set_new(c, "newest_known", json_integer(known));
        if (known > seq)
            return failed ? "failed" : "obsolete";
    }
    return failed ? "failed" : "up-to-date";
}

static bool inv_row(void *ctx, size_t n, const char *const *v)
{
    struct inv *in = ctx;
    if (n < 10)
        return false;
    json_t *comps = v[8] ? json_loads(v[8], 0, NULL) : NULL;
    if (!json_is_array(comps)) {
        json_decref(comps);
        comps = json_array();
    }
    json_t *last = v[9] ? json_loads(v[9], 0, NULL) : NULL;
    const char *state = judge(in, v, comps, last);
    if (in->state && strcmp(in->state, state) != 0) {
        json_decref(comps);
        json_decref(last);
        return true;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:o}", "id", v[0], "kind",
                          to_i64(v[1]) == TRK_TRACKER ? "tracker" : "device", "vendor", v[2],
                          "class", v[3], "state", state, "last_seen", (json_int_t)to_i64(v[6]),
                          "last_counter", (json_int_t)to_i64(v[5]), "safe_mode",
                          to_i64(v[7]) != 0, "components", comps);
    if (v[4])
        json_object_set_new(o, "region", json_string(v[4]));
    if (last)
        json_object_set_new(o, "last_result", last);
    json_array_append_new(in->list, o);
    return true;
}

#define INV_SQL                                                                               \
    "SELECT id, kind, vendor, class, region, last_counter, last_seen, safe_mode, components," \
    " last_result FROM consumers"

secup_rc trk_inventory(struct db *db, int64_t now_, int64_t unreachable_after,
                       const char *state, const char *class_id, json_t **out,
                       struct secup_err *err)
{
    struct inv in = { db, json_array(), now_, unreachable_after, state, SECUP_OK, err };
    struct db_value v[] = { DB_TEXT_V(class_id) };
    secup_rc rc = db_exec(db, INV_SQL " WHERE CAST($1 AS TEXT) IS NULL OR class = $1 ORDER BY id",
                          v, 1, inv_row, &in, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(in.list);
        return rc;
    }
    *out = in.list;
    return SECUP_OK;
}

static bool report_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 3)
        return false;
    json_array_append_new(ctx, json_pack("{s:I, s:I, s:I}", "counter", (json_int_t)to_i64(v[0]),
                                         "time", (json_int_t)to_i64(v[1]), "received",
                                         (json_int_t)to_i64(v[2])));
    return true;
}

secup_rc trk_consumer_show(struct db *db, const char *id, int64_t now_, int64_t unreachable_after,
                           json_t **out, struct secup_err *err)
{
    struct inv in = { db, json_array(), now_, unreachable_after, NULL, SECUP_OK, err };
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, INV_SQL " WHERE id = $1", v, 1, inv_row, &in, NULL, err);
    if (rc == SECUP_OK && json_array_size(in.list) == 0)
        rc = secup_err_set(err, SECUP_E_NOENT, "no consumer '%s'", id);
    json_t *hist = json_array();
    if (rc == SECUP_OK)
        rc = db_exec(db, "SELECT counter, time, received FROM reports WHERE consumer = $1"
                         " ORDER BY counter DESC LIMIT 100",
                     v, 1, report_row, hist, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(in.list);
        json_decref(hist);
        return rc;
    }
    json_t *o = json_incref(json_array_get(in.list, 0));
    json_decref(in.list);
    json_object_set_new(o, "reports", hist);
    *out = o;
    return SECUP_OK;
}

/* ---- servers and manifests ---- */

secup_rc trk_server_add(struct db *db, const char *id, const char *key_pem, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id), DB_TEXT_V(key_pem) };
    secup_rc rc = db_exec(db, "INSERT INTO servers (id, key_pem) VALUES ($1, $2)", v, 2, NULL,
                          NULL, NULL, err);
    if (rc == SECUP_E_EXISTS)
        secup_err_set(err, SECUP_E_EXISTS, "server '%s' is known", id);
    return rc;
}

secup_rc trk_server_key(struct db *db, const char *id, char *pem, size_t cap,
                        struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_query_text(db, "SELECT key_pem FROM servers WHERE id = $1", v, 1, pem, cap,
                                err);
    if (rc == SECUP_E_NOENT)
        rc = secup_err_set(err, SECUP_E_KEY_UNKNOWN, "notification from unknown server '%s'", id);
    return rc;
}

secup_rc trk_manifest_add(struct db *db, const char *server, int64_t counter, const char *digest,
                          const char *vendor, const char *class_id, const char *component,
                          int64_t seq, const char *uri, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value c[] = { DB_INT_V(counter), DB_TEXT_V(server) };
    secup_rc rc = db_exec(db, "UPDATE servers SET last_counter = $1 WHERE id = $2"
                              " AND last_counter < $1",
                          c, 2, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        return secup_err_set(err, SECUP_E_REPLAY,
                             "notification counter %" PRId64 " of '%s' is not above the last one",
                             counter, server);
    struct db_value v[] = { DB_TEXT_V(digest), DB_TEXT_V(server), DB_TEXT_V(vendor),
                            DB_TEXT_V(class_id), DB_TEXT_V(component), DB_INT_V(seq),
                            DB_TEXT_V(uri), DB_INT_V(now()) };
    if (rc == SECUP_OK)
        rc = db_exec(db, "INSERT INTO manifests (digest, server, vendor, class, component, seq,"
                         " uri, received) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                         " ON CONFLICT DO NOTHING",
                     v, 8, NULL, NULL, NULL, err);
    return rc;
}

static bool manifest_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 7)
        return false;
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "digest", v[0],
                                         "server", v[1], "vendor", v[2], "class", v[3],
                                         "component", v[4], "sequence", (json_int_t)to_i64(v[5]),
                                         "uri", v[6]));
    return true;
}

secup_rc trk_manifest_list(struct db *db, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    secup_rc rc = db_exec(db, "SELECT digest, server, vendor, class, component, seq, uri"
                              " FROM manifests ORDER BY received DESC, digest LIMIT 1000",
                          NULL, 0, manifest_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

/* ---- commands ---- */

secup_rc trk_next_counter(struct db *db, const char *consumer, int64_t *counter,
                          struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(consumer) };
    return db_query_int(db, "UPDATE consumers SET cmd_counter = cmd_counter + 1 WHERE id = $1"
                            " RETURNING cmd_counter",
                        v, 1, counter, err);
}

secup_rc trk_command_add(struct db *db, const struct trk_command *c, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(c->id), DB_TEXT_V(c->consumer), DB_INT_V(c->counter),
                            DB_INT_V(c->action), DB_TEXT_V(c->digest[0] ? c->digest : NULL),
                            DB_INT_V(c->seq), DB_TEXT_V(c->component[0] ? c->component : NULL),
                            DB_INT_V(c->issued), DB_INT_V(c->expires), DB_TEXT_V(c->state),
                            DB_TEXT_V(c->body_hex) };
    return db_exec(db, "INSERT INTO commands (id, consumer, counter, action, digest, seq,"
                       " component, issued, expires, state, body) VALUES ($1, $2, $3, $4, $5,"
                       " $6, $7, $8, $9, $10, $11)",
                   v, 11, NULL, NULL, NULL, err);
}

static bool command_row(void *ctx, size_t n, const char *const *v)
{
    struct trk_command *c = ctx;
    if (n < 11)
        return false;
    copy(c->id, sizeof(c->id), v[0]);
    copy(c->consumer, sizeof(c->consumer), v[1]);
    c->counter = to_i64(v[2]);
    c->action = to_i64(v[3]);
    copy(c->digest, sizeof(c->digest), v[4]);
    c->seq = to_i64(v[5]);
    copy(c->component, sizeof(c->component), v[6]);
    c->issued = to_i64(v[7]);
    c->expires = to_i64(v[8]);
    copy(c->state, sizeof(c->state), v[9]);
    copy(c->body_hex, sizeof(c->body_hex), v[10]);
    return false;
}

secup_rc trk_command_open(struct db *db, const char *consumer, int64_t now_,
                          struct trk_command *c, bool *found, struct secup_err *err)
{
    memset(c, 0, sizeof(*c));
    struct db_value v[] = { DB_TEXT_V(consumer), DB_INT_V(now_) };
    secup_rc rc = db_exec(db, "SELECT id, consumer, counter, action, digest, seq, component,"
                              " issued, expires, state, body FROM commands WHERE consumer = $1"
                              " AND state = 'issued' AND expires > $2 ORDER BY counter DESC"
                              " LIMIT 1",
                          v, 2, command_row, c, NULL, err);
    *found = rc == SECUP_OK && c->id[0];
    return rc;
}

/* What the last report says about the open commands of a consumer: an install whose
 * sequence now runs is done; one the device reports as failed is failed; expired ones
 * expire. */
secup_rc trk_commands_settle(struct db *db, const char *consumer, const char *components_json,
                             const char *last_id, const char *last_code, int64_t now_,
                             struct secup_err *err)
{
    struct db_value e[] = { DB_TEXT_V(consumer), DB_INT_V(now_) };
    secup_rc rc = db_exec(db, "UPDATE commands SET state = 'expired' WHERE consumer = $1"
                              " AND state = 'issued' AND expires <= $2",
                          e, 2, NULL, NULL, NULL, err);
    if (rc == SECUP_OK && last_id && last_code && strcmp(last_code, "OK") != 0) {
        struct db_value f[] = { DB_TEXT_V(last_code), DB_TEXT_V(consumer), DB_TEXT_V(last_id) };
        rc = db_exec(db, "UPDATE commands SET state = 'failed', result = $1 WHERE consumer = $2"
                         " AND state = 'issued' AND (id = $3 OR digest = $3)",
                     f, 3, NULL, NULL, NULL, err);
    }
    json_t *comps = components_json ? json_loads(components_json, 0, NULL) : NULL;
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        if (rc != SECUP_OK)
            break;
        const char *id = json_string_value(json_object_get(c, "id"));
        json_int_t seq = json_integer_value(json_object_get(c, "sequence"));
        struct db_value d[] = { DB_TEXT_V(consumer), DB_TEXT_V(id), DB_INT_V(seq) };
        rc = db_exec(db, "UPDATE commands SET state = 'done', result = 'OK' WHERE consumer = $1"
                         " AND state IN ('issued', 'failed') AND component = $2 AND seq <= $3",
                     d, 3, NULL, NULL, NULL, err);
    }
    json_decref(comps);
    return rc;
}

struct manifest_pick {
    struct trk_need *need;
    bool hit;
};

static bool manifest_pick_row(void *ctx, size_t n, const char *const *v)
{
    struct manifest_pick *m = ctx;
    if (n < 4)
        return false;
    copy(m->need->digest, sizeof(m->need->digest), v[0]);
    m->need->seq = to_i64(v[1]);
    copy(m->need->uri, sizeof(m->need->uri), v[2]);
    copy(m->need->component, sizeof(m->need->component), v[3]);
    m->hit = true;
    return false;
}

/* The first component of the consumer that runs an older sequence than the newest known
 * manifest for it, and that manifest; *found false when the consumer is up to date. A
 * manifest the consumer already failed to install is not offered again. */
secup_rc trk_needed_install(struct db *db, const char *consumer, struct trk_need *need,
                            bool *found, struct secup_err *err)
{
    *found = false;
    memset(need, 0, sizeof(*need));
    char vendor[33] = "", cls[33] = "";
    char comps_text[16384] = "";
    struct two t = { vendor, cls };
    struct db_value v[] = { DB_TEXT_V(consumer) };
    secup_rc rc = db_exec(db, "SELECT vendor, class FROM consumers WHERE id = $1", v, 1, two_row,
                          &t, NULL, err);
    if (rc == SECUP_OK) {
        rc = db_query_text(db, "SELECT COALESCE(components, '[]') FROM consumers WHERE id = $1",
                           v, 1, comps_text, sizeof(comps_text), err);
    }
    if (rc != SECUP_OK)
        return rc;
    json_t *comps = json_loads(comps_text, 0, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        json_int_t seq = json_integer_value(json_object_get(c, "sequence"));
        if (!id)
            continue;
        struct manifest_pick m = { need, false };
        struct db_value q[] = { DB_TEXT_V(vendor), DB_TEXT_V(cls), DB_TEXT_V(id), DB_INT_V(seq),
                                DB_TEXT_V(consumer) };
        rc = db_exec(db, "SELECT digest, seq, uri, component FROM manifests WHERE vendor = $1"
                         " AND class = $2 AND component = $3 AND seq > $4 AND NOT EXISTS"
                         " (SELECT 1 FROM commands k WHERE k.consumer = $5 AND k.digest ="
                         " manifests.digest AND k.state = 'failed') ORDER BY seq DESC LIMIT 1",
                     q, 5, manifest_pick_row, &m, NULL, err);
        if (rc != SECUP_OK || m.hit) {
            *found = m.hit;
            break;
        }
    }
    json_decref(comps);
    return rc;
}
