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
    " components TEXT, last_result TEXT, cmd_counter BIGINT NOT NULL DEFAULT 0,"
    " window_start BIGINT NOT NULL DEFAULT 0, window_count BIGINT NOT NULL DEFAULT 0,"
    " hold TEXT);"
    "CREATE TABLE IF NOT EXISTS enrolments ("
    " token_hash TEXT PRIMARY KEY, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " uses_left BIGINT NOT NULL, created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS reports ("
    " consumer TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,"
    " counter BIGINT NOT NULL, time BIGINT NOT NULL, received BIGINT NOT NULL,"
    " body TEXT NOT NULL, PRIMARY KEY (consumer, counter));"
    "CREATE TABLE IF NOT EXISTS servers ("
    " id TEXT PRIMARY KEY, key_pem TEXT NOT NULL, last_counter BIGINT NOT NULL DEFAULT 0,"
    " url TEXT);"
    "CREATE TABLE IF NOT EXISTS poll_tags ("
    " server TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE, what TEXT NOT NULL,"
    " etag TEXT NOT NULL, PRIMARY KEY (server, what));"
    "CREATE TABLE IF NOT EXISTS requesters ("
    " id TEXT PRIMARY KEY, key_pem TEXT NOT NULL, last_counter BIGINT NOT NULL DEFAULT 0,"
    " created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS manifests ("
    " digest TEXT PRIMARY KEY, server TEXT NOT NULL, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " component TEXT NOT NULL, seq BIGINT NOT NULL, uri TEXT NOT NULL, received BIGINT NOT NULL,"
    " profile TEXT, size BIGINT);"
    "CREATE INDEX IF NOT EXISTS manifests_newest ON manifests (vendor, class, component, seq);"
    "CREATE TABLE IF NOT EXISTS commands ("
    " id TEXT PRIMARY KEY, consumer TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,"
    " counter BIGINT NOT NULL, action BIGINT NOT NULL, digest TEXT, seq BIGINT, component TEXT,"
    " issued BIGINT NOT NULL, expires BIGINT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,"
    " result TEXT);"
    "CREATE INDEX IF NOT EXISTS commands_open ON commands (consumer, state);"
    "CREATE TABLE IF NOT EXISTS rollouts ("
    " id TEXT PRIMARY KEY, digest TEXT NOT NULL, vendor TEXT NOT NULL, class TEXT NOT NULL,"
    " component TEXT NOT NULL, seq BIGINT NOT NULL, state TEXT NOT NULL, wave BIGINT NOT NULL,"
    " max_failure_pct BIGINT NOT NULL, created BIGINT NOT NULL, reason TEXT);"
    "CREATE TABLE IF NOT EXISTS rollout_targets ("
    " rollout TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,"
    " consumer TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE, wave BIGINT NOT NULL,"
    " PRIMARY KEY (rollout, consumer));"
    "CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS aggregates ("
    " tracker TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE, reporter TEXT NOT NULL,"
    " body TEXT NOT NULL, received BIGINT NOT NULL, PRIMARY KEY (tracker, reporter));"
    DB_EVENTS_TABLE;

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

/* Columns added since the first schema: a database made by an older tracker gets them. */
static const struct {
    const char *table, *column, *type;
} added_columns[] = {
    { "consumers", "hold", "TEXT" },
    { "servers", "url", "TEXT" },
    { "manifests", "profile", "TEXT" },
    { "manifests", "size", "BIGINT" },
    { "consumers", "up_sent", "BIGINT" }, /* the last report counter passed upward */
};

secup_rc trk_schema(struct db *db, struct secup_err *err)
{
    secup_rc rc = db_exec_script(db, schema, err);
    for (size_t i = 0; rc == SECUP_OK && i < sizeof(added_columns) / sizeof(added_columns[0]); i++)
        rc = db_add_column(db, added_columns[i].table, added_columns[i].column,
                           added_columns[i].type, err);
    if (rc == SECUP_OK)
        rc = trk_schema_admin(db, err);
    return rc == SECUP_OK ? trk_schema_divergence(db, err) : rc;
}

secup_rc trk_event(struct db *db, const char *actor, const char *action, const char *object,
                   const char *detail, struct secup_err *err)
{
    return db_event(db, actor, action, object, detail, err);
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
        db_col_copy(t->a, 33, v[0]);
        db_col_copy(t->b, 33, v[1]);
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
    db_col_copy(c->id, sizeof(c->id), v[0]);
    c->kind = (enum trk_kind)db_col_int(v[1]);
    db_col_copy(c->vendor, sizeof(c->vendor), v[2]);
    db_col_copy(c->class_id, sizeof(c->class_id), v[3]);
    db_col_copy(c->region, sizeof(c->region), v[4]);
    c->last_counter = db_col_int(v[5]);
    c->last_seen = db_col_int(v[6]);
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

struct sender_row {
    struct trk_consumer *c;
    char *pem;
    size_t cap;
    int64_t window;
    bool pem_fits;
};

static bool sender_row(void *ctx, size_t n, const char *const *v)
{
    struct sender_row *s = ctx;
    if (n < 9)
        return false;
    consumer_row(s->c, 7, v);
    s->pem_fits = v[7] && strlen(v[7]) < s->cap;
    db_col_copy(s->pem, s->cap, s->pem_fits ? v[7] : NULL);
    s->window = db_col_int(v[8]);
    return false;
}

secup_rc trk_report_sender(struct db *db, const char *hash, int64_t now_, int64_t quota,
                           struct trk_consumer *c, char *pem, size_t cap, struct secup_err *err)
{
    memset(c, 0, sizeof(*c));
    struct sender_row s = { c, pem, cap, 0, false };
    struct db_value v[] = { DB_TEXT_V(hash), DB_INT_V(now_) };
    secup_rc rc = db_exec(db, "SELECT id, kind, vendor, class, region, last_counter, last_seen,"
                              " key_pem, CASE WHEN $2 - window_start >= 3600 THEN 0"
                              " ELSE window_count END FROM consumers WHERE token_hash = $1",
                          v, 2, sender_row, &s, NULL, err);
    if (rc == SECUP_OK && !c->id[0])
        rc = secup_err_set(err, SECUP_E_AUTH, "unknown bearer token");
    if (rc == SECUP_OK && s.window >= quota)
        rc = secup_err_set(err, SECUP_E_QUOTA,
                           "'%s' sent %" PRId64 " reports within the hour (quota %" PRId64 ")", c->id,
                           s.window, quota);
    if (rc == SECUP_OK && !s.pem_fits)
        rc = secup_err_set(err, SECUP_E_KEY_FORMAT, "the stored key of '%s' is unusable", c->id);
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
                          bool safe_mode, int64_t quota, const char *components_json,
                          const char *last_result_json, const char *report_hex,
                          struct secup_err *err)
{
    int64_t changes = 0;
    int64_t t = now();
    struct db_value v[] = { DB_INT_V(counter), DB_INT_V(t), DB_INT_V(safe_mode ? 1 : 0),
                            DB_TEXT_V(components_json), DB_TEXT_V(last_result_json),
                            DB_TEXT_V(id), DB_INT_V(quota) };
    /* the counter only goes up: a replayed or reordered report changes nothing; nor does
     * one past the hourly quota (checked here again: reports of one batch count too) */
    secup_rc rc = db_exec(db, "UPDATE consumers SET last_counter = $1, last_seen = $2,"
                              " safe_mode = $3, components = $4,"
                              " last_result = COALESCE($5, last_result),"
                              " window_count = CASE WHEN $2 - window_start >= 3600 THEN 1"
                              "  ELSE window_count + 1 END,"
                              " window_start = CASE WHEN $2 - window_start >= 3600 THEN $2"
                              "  ELSE window_start END"
                              " WHERE id = $6 AND last_counter < $1 AND"
                              " (CASE WHEN $2 - window_start >= 3600 THEN 0"
                              "  ELSE window_count END) < $7",
                          v, 7, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0) {
        rc = trk_report_quota(db, id, t, quota, err);
        if (rc == SECUP_OK)
            rc = secup_err_set(err, SECUP_E_REPLAY,
                               "report counter %" PRId64 " of '%s' is not above the last one",
                               counter, id);
        return rc;
    }
    struct db_value r[] = { DB_TEXT_V(id), DB_INT_V(counter), DB_INT_V(time_), DB_INT_V(t),
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
    int64_t last_seen = db_col_int(v[6]);
    if (last_seen == 0)
        return "never-seen";
    if (in->now - last_seen > in->unreachable_after)
        return "unreachable";
    int64_t fresh_until = db_col_int(v[11]);
    if (fresh_until > 0 && in->now > fresh_until)
        return "stale"; /* reports, but holds no valid statement: it stopped polling */
    if (db_col_int(v[7]) != 0)
        return "failed"; /* safe mode: no verified image */
    const char *code = json_string_value(json_object_get(last, "code"));
    bool failed = code && strcmp(code, "OK") != 0;
    int64_t open_installs = 0;
    struct db_value q[] = { DB_TEXT_V(v[0]), DB_INT_V(in->now) };
    if (db_query_int(in->db, "SELECT COUNT(*) FROM commands WHERE consumer = $1"
                             " AND state = 'issued' AND expires > $2",
                     q, 2, &open_installs, in->err) == SECUP_OK && open_installs > 0)
        return "updating"; /* told to install, not settled yet */
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        int64_t seq = (int64_t)json_integer_value(json_object_get(c, "sequence"));
        int64_t known = id ? newest(in->db, v[2], v[3], id, in->err) : 0;
        json_object_set_new(c, "newest_known", json_integer(known));
        if (known > seq)
            return failed ? "failed" : v[10] ? "no-variant" : "obsolete";
    }
    return failed ? "failed" : "up-to-date";
}

static bool inv_row(void *ctx, size_t n, const char *const *v)
{
    struct inv *in = ctx;
    if (n < 12)
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
                          db_col_int(v[1]) == TRK_TRACKER ? "tracker" : "device", "vendor", v[2],
                          "class", v[3], "state", state, "last_seen", (json_int_t)db_col_int(v[6]),
                          "last_counter", (json_int_t)db_col_int(v[5]), "safe_mode",
                          db_col_int(v[7]) != 0, "components", comps);
    if (v[4])
        json_object_set_new(o, "region", json_string(v[4]));
    if (last)
        json_object_set_new(o, "last_result", last);
    if (v[10])
        json_object_set_new(o, "hold", json_string(v[10]));
    json_array_append_new(in->list, o);
    return true;
}

#define INV_SQL                                                                               \
    "SELECT id, kind, vendor, class, region, last_counter, last_seen, safe_mode, components," \
    " last_result, hold,"                                                                    \
    " (SELECT fresh_until FROM freshness f WHERE f.consumer = consumers.id)"                 \
    " FROM consumers"

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
    json_array_append_new(ctx, json_pack("{s:I, s:I, s:I}", "counter", (json_int_t)db_col_int(v[0]),
                                         "time", (json_int_t)db_col_int(v[1]), "received",
                                         (json_int_t)db_col_int(v[2])));
    return true;
}

static bool body_row(void *ctx, size_t n, const char *const *v)
{
    if (n >= 1 && v[0])
        json_array_append_new(ctx, json_string(v[0]));
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
    json_t *agg = json_array();
    if (rc == SECUP_OK)
        rc = db_exec(db, "SELECT reporter FROM aggregates WHERE tracker = $1 ORDER BY reporter",
                     v, 1, body_row, agg, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(in.list);
        json_decref(hist);
        json_decref(agg);
        return rc;
    }
    json_t *o = json_incref(json_array_get(in.list, 0));
    json_decref(in.list);
    json_object_set_new(o, "reports", hist);
    if (json_array_size(agg))
        json_object_set_new(o, "aggregate", agg); /* a downstream tracker's consumers */
    else
        json_decref(agg);
    *out = o;
    return SECUP_OK;
}

/* ---- servers and manifests ---- */

secup_rc trk_server_add(struct db *db, const char *id, const char *key_pem, const char *url,
                        struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id), DB_TEXT_V(key_pem), DB_TEXT_V(url) };
    secup_rc rc = db_exec(db, "INSERT INTO servers (id, key_pem, url) VALUES ($1, $2, $3)", v, 3,
                          NULL, NULL, NULL, err);
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
    if (n < 9)
        return false;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "digest", v[0], "server", v[1],
                          "vendor", v[2], "class", v[3], "component", v[4], "sequence",
                          (json_int_t)db_col_int(v[5]), "uri", v[6]);
    if (v[7]) /* what the tracker read in the verified manifest; absent for notifications */
        json_object_set_new(o, "profile", json_string(v[7]));
    if (v[8])
        json_object_set_new(o, "size", json_integer(db_col_int(v[8])));
    json_array_append_new(ctx, o);
    return true;
}

secup_rc trk_manifest_list(struct db *db, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    secup_rc rc = db_exec(db, "SELECT digest, server, vendor, class, component, seq, uri,"
                              " profile, size FROM manifests ORDER BY received DESC, digest"
                              " LIMIT 1000",
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
    db_col_copy(c->id, sizeof(c->id), v[0]);
    db_col_copy(c->consumer, sizeof(c->consumer), v[1]);
    c->counter = db_col_int(v[2]);
    c->action = db_col_int(v[3]);
    db_col_copy(c->digest, sizeof(c->digest), v[4]);
    c->seq = db_col_int(v[5]);
    db_col_copy(c->component, sizeof(c->component), v[6]);
    c->issued = db_col_int(v[7]);
    c->expires = db_col_int(v[8]);
    db_col_copy(c->state, sizeof(c->state), v[9]);
    db_col_copy(c->body_hex, sizeof(c->body_hex), v[10]);
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
    int64_t open = 0;
    struct db_value o[] = { DB_TEXT_V(consumer) };
    secup_rc rc = db_query_int(db, "SELECT COUNT(*) FROM commands WHERE consumer = $1"
                                   " AND state IN ('issued', 'failed')",
                               o, 1, &open, err);
    if (rc != SECUP_OK || open == 0)
        return rc; /* the common case: no command to settle */
    struct db_value e[] = { DB_TEXT_V(consumer), DB_INT_V(now_) };
    rc = db_exec(db, "UPDATE commands SET state = 'expired' WHERE consumer = $1"
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

/* Candidate manifests of one component, newest first. */
#define PICK_MAX 32

struct manifest_pick {
    struct trk_need cand[PICK_MAX];
    char profile[PICK_MAX][64];
    int64_t size[PICK_MAX]; /* -1: unknown */
    size_t n;
};

static bool manifest_pick_row(void *ctx, size_t n, const char *const *v)
{
    struct manifest_pick *m = ctx;
    if (n < 6 || m->n >= PICK_MAX)
        return false;
    struct trk_need *c = &m->cand[m->n];
    db_col_copy(c->digest, sizeof(c->digest), v[0]);
    c->seq = db_col_int(v[1]);
    db_col_copy(c->uri, sizeof(c->uri), v[2]);
    db_col_copy(c->component, sizeof(c->component), v[3]);
    db_col_copy(m->profile[m->n], sizeof(m->profile[0]), v[4]);
    m->size[m->n] = v[5] ? db_col_int(v[5]) : -1;
    m->n++;
    return true;
}

/* Does a variant fit the consumer: a profile it declared (or a manifest of unknown profile,
 * or a consumer that declared none), and an image that fits its slot (or sizes unknown)? */
static bool variant_fits(const json_t *attrs, const char *profile, int64_t size, char *why,
                         size_t cap)
{
    const json_t *profiles = json_object_get(attrs, "profiles");
    if (profile[0] && json_is_array(profiles) && json_array_size(profiles) > 0) {
        bool ok = false;
        size_t i;
        const json_t *p;
        json_array_foreach(profiles, i, p)
            ok = ok || (json_is_string(p) && strcmp(json_string_value(p), profile) == 0);
        if (!ok) {
            snprintf(why, cap, "profile %s is not one the consumer declared", profile);
            return false;
        }
    }
    const json_t *slot = json_object_get(attrs, "slot-size");
    if (size >= 0 && json_is_integer(slot) && size > json_integer_value(slot)) {
        snprintf(why, cap, "a %" PRId64 "-byte image does not fit the %" PRId64 "-byte slot", size,
                 (int64_t)json_integer_value(slot));
        return false;
    }
    return true;
}

/* The first component of the consumer that runs an older sequence than a known manifest
 * whose variant fits it (profile and slot size), and the newest such manifest; *found false
 * when there is none. A manifest the consumer already failed to install is not offered
 * again. When newer manifests exist but none fits, the reason is kept in the consumer's
 * hold (docs/tracker.md) and no command is issued. */
secup_rc trk_needed_install(struct db *db, const char *consumer, bool auto_update,
                            struct trk_need *need, bool *found, struct secup_err *err)
{
    *found = false;
    memset(need, 0, sizeof(*need));
    char vendor[33] = "", cls[33] = "";
    char comps_text[16384] = "", attrs_text[8192] = "";
    struct two t = { vendor, cls };
    struct db_value v[] = { DB_TEXT_V(consumer) };
    secup_rc rc = db_exec(db, "SELECT vendor, class FROM consumers WHERE id = $1", v, 1, two_row,
                          &t, NULL, err);
    if (rc == SECUP_OK) {
        rc = db_query_text(db, "SELECT COALESCE(components, '[]') FROM consumers WHERE id = $1",
                           v, 1, comps_text, sizeof(comps_text), err);
    }
    if (rc == SECUP_OK)
        rc = db_query_text(db, "SELECT COALESCE(attrs, '{}') FROM consumers WHERE id = $1", v, 1,
                           attrs_text, sizeof(attrs_text), err);
    if (rc != SECUP_OK)
        return rc;
    json_t *comps = json_loads(comps_text, 0, NULL);
    json_t *attrs = json_loads(attrs_text, 0, NULL);
    struct manifest_pick *m = calloc(1, sizeof(*m));
    if (!m) {
        json_decref(comps);
        json_decref(attrs);
        return secup_err_set(err, SECUP_E_NOMEM, "manifest candidates");
    }
    char hold[512] = "";
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        json_int_t seq = json_integer_value(json_object_get(c, "sequence"));
        if (!id)
            continue;
        m->n = 0;
        struct db_value q[] = { DB_TEXT_V(vendor), DB_TEXT_V(cls), DB_TEXT_V(id), DB_INT_V(seq),
                                DB_TEXT_V(consumer), DB_INT_V(auto_update ? 1 : 0) };
        /* a manifest under a rollout goes only to targets of an open wave of an active
         * rollout; one without a rollout goes to everyone when auto-update is on */
        rc = db_exec(db, "SELECT digest, seq, uri, component, profile, size FROM manifests"
                         " WHERE vendor = $1"
                         " AND class = $2 AND component = $3 AND seq > $4 AND NOT EXISTS"
                         " (SELECT 1 FROM commands k WHERE k.consumer = $5 AND k.digest ="
                         " manifests.digest AND k.state = 'failed') AND ("
                         " (CAST($6 AS BIGINT) = 1 AND NOT EXISTS (SELECT 1 FROM rollouts r"
                         "  WHERE r.digest = manifests.digest))"
                         " OR EXISTS (SELECT 1 FROM rollouts r JOIN rollout_targets g"
                         "  ON g.rollout = r.id WHERE r.digest = manifests.digest"
                         "  AND r.state = 'active' AND g.consumer = $5 AND g.wave <= r.wave))"
                         " ORDER BY seq DESC, digest LIMIT 32",
                     q, 6, manifest_pick_row, m, NULL, err);
        bool hit = false;
        for (size_t k = 0; rc == SECUP_OK && k < m->n && !hit; k++) {
            char why[256];
            if (variant_fits(attrs, m->profile[k], m->size[k], why, sizeof(why))) {
                *need = m->cand[k];
                hit = true;
            } else if (!hold[0]) {
                snprintf(hold, sizeof(hold), "sequence %" PRId64 " (%.16s): %s", m->cand[k].seq,
                         m->cand[k].digest, why);
            }
        }
        if (rc == SECUP_OK && hit) {
            struct db_value rq[] = { DB_TEXT_V(need->digest), DB_TEXT_V(consumer) };
            char rid[TRK_ID_MAX + 1] = "";
            if (db_query_text(db, "SELECT r.id FROM rollouts r JOIN rollout_targets g"
                                  " ON g.rollout = r.id WHERE r.digest = $1 AND g.consumer = $2"
                                  " AND r.state = 'active'",
                              rq, 2, rid, sizeof(rid), err) == SECUP_OK)
                snprintf(need->rollout, sizeof(need->rollout), "%s", rid);
        }
        if (rc != SECUP_OK || hit) {
            *found = hit;
            break;
        }
    }
    free(m);
    json_decref(comps);
    json_decref(attrs);
    if (rc == SECUP_OK) {
        /* why nothing fits (or nothing: cleared), for the inventory */
        struct db_value h[] = { DB_TEXT_V(*found || !hold[0] ? NULL : hold), DB_TEXT_V(consumer) };
        rc = db_exec(db, "UPDATE consumers SET hold = $1 WHERE id = $2 AND"
                         " COALESCE(hold, '') <> COALESCE(CAST($1 AS TEXT), '')",
                     h, 2, NULL, NULL, NULL, err);
    }
    return rc;
}

/* ---- rollouts ---- */

static bool target_row(void *ctx, size_t n, const char *const *v)
{
    json_t *list = ctx;
    if (n >= 1)
        json_array_append_new(list, json_string(v[0]));
    return true;
}

secup_rc trk_rollout_create(struct db *db, const char *id, const char *digest, int64_t canary,
                            int64_t max_failure_pct, const char *const *only, size_t n_only,
                            json_t **targets, struct secup_err *err)
{
    /* the manifest it rolls out: known, and its class and component */
    char vendor[33] = "", cls[33] = "";
    char comp[513] = "";
    int64_t seq = 0;
    struct two t = { vendor, cls };
    struct db_value d[] = { DB_TEXT_V(digest) };
    secup_rc rc = db_exec(db, "SELECT vendor, class FROM manifests WHERE digest = $1", d, 1,
                          two_row, &t, NULL, err);
    if (rc == SECUP_OK && !vendor[0])
        return secup_err_set(err, SECUP_E_NOENT, "the tracker knows no manifest %.64s", digest);
    if (rc == SECUP_OK)
        rc = db_query_text(db, "SELECT component FROM manifests WHERE digest = $1", d, 1, comp,
                           sizeof(comp), err);
    if (rc == SECUP_OK)
        rc = db_query_int(db, "SELECT seq FROM manifests WHERE digest = $1", d, 1, &seq, err);
    if (rc != SECUP_OK)
        return rc;
    /* the targets: consumers of that class that run an older sequence of the component */
    json_t *cand = json_array();
    struct db_value q[] = { DB_TEXT_V(vendor), DB_TEXT_V(cls) };
    rc = db_exec(db, "SELECT id FROM consumers WHERE vendor = $1 AND class = $2 ORDER BY id", q, 2,
                 target_row, cand, NULL, err);
    json_t *list = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(cand, i, c) {
        if (rc != SECUP_OK)
            break;
        const char *cid = json_string_value(c);
        bool listed = n_only == 0;
        for (size_t k = 0; k < n_only && !listed; k++)
            listed = strcmp(only[k], cid) == 0;
        if (!listed)
            continue;
        /* another active or paused rollout of the same component has it: refused, so that
         * a consumer never gets two installs (the first rollout wins) */
        char other[TRK_ID_MAX + 1] = "";
        struct db_value o[] = { DB_TEXT_V(cid), DB_TEXT_V(comp) };
        secup_rc r2 = db_query_text(db, "SELECT r.id FROM rollouts r JOIN rollout_targets g"
                                        " ON g.rollout = r.id WHERE g.consumer = $1"
                                        " AND r.component = $2 AND r.state IN ('active', 'paused')",
                                    o, 2, other, sizeof(other), err);
        if (r2 == SECUP_OK) {
            rc = secup_err_set(err, SECUP_E_EXISTS,
                               "consumer '%s' is already in rollout '%s' of this component", cid,
                               other);
            break;
        }
        if (r2 != SECUP_E_NOENT) {
            rc = r2;
            break;
        }
        json_array_append(list, c);
    }
    json_decref(cand);
    if (rc == SECUP_OK && n_only && json_array_size(list) != n_only)
        rc = secup_err_set(err, SECUP_E_VALUE,
                           "%zu of the %zu consumers named are not of the manifest's class",
                           n_only - json_array_size(list), n_only);
    if (rc == SECUP_OK && json_array_size(list) == 0)
        rc = secup_err_set(err, SECUP_E_VALUE, "no consumer of the manifest's class to roll out to");
    struct db_value r[] = { DB_TEXT_V(id), DB_TEXT_V(digest), DB_TEXT_V(vendor), DB_TEXT_V(cls),
                            DB_TEXT_V(comp), DB_INT_V(seq), DB_INT_V(canary > 0 ? 1 : 2),
                            DB_INT_V(max_failure_pct), DB_INT_V(now()) };
    if (rc == SECUP_OK)
        rc = db_exec(db, "INSERT INTO rollouts (id, digest, vendor, class, component, seq, state,"
                         " wave, max_failure_pct, created) VALUES ($1, $2, $3, $4, $5, $6,"
                         " 'active', $7, $8, $9)",
                     r, 9, NULL, NULL, NULL, err);
    if (rc == SECUP_E_EXISTS && err->msg[0] && !strstr(err->msg, "already in rollout"))
        secup_err_set(err, SECUP_E_EXISTS, "a rollout named '%s' exists", id);
    json_array_foreach(list, i, c) {
        if (rc != SECUP_OK)
            break;
        struct db_value g[] = { DB_TEXT_V(id), DB_TEXT_V(json_string_value(c)),
                                DB_INT_V((int64_t)i < canary ? 1 : 2) };
        rc = db_exec(db, "INSERT INTO rollout_targets (rollout, consumer, wave) VALUES ($1, $2, $3)",
                     g, 3, NULL, NULL, NULL, err);
    }
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *targets = list;
    return SECUP_OK;
}

secup_rc trk_rollout_set_state(struct db *db, const char *id, const char *to,
                               struct secup_err *err)
{
    /* the transitions: pause from active, resume from paused, cancel from any live state */
    const char *from[3] = { "active", "active", "active" };
    const char *target = to;
    if (strcmp(to, "resume") == 0) {
        from[0] = from[1] = from[2] = "paused";
        target = "active";
    } else if (strcmp(to, "cancelled") == 0) {
        from[1] = "paused";
        from[2] = "halted";
    } else if (strcmp(to, "paused") != 0) {
        return secup_err_set(err, SECUP_E_ARG, "no rollout transition to '%s'", to);
    }
    int64_t changes = 0;
    struct db_value v[] = { DB_TEXT_V(target), DB_TEXT_V(id), DB_TEXT_V(from[0]),
                            DB_TEXT_V(from[1]), DB_TEXT_V(from[2]) };
    secup_rc rc = db_exec(db, "UPDATE rollouts SET state = $1 WHERE id = $2"
                              " AND state IN ($3, $4, $5)",
                          v, 5, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        rc = secup_err_set(err, SECUP_E_STATE, "rollout '%s' does not exist or cannot go to %s", id,
                           target);
    if (rc == SECUP_OK && strcmp(to, "cancelled") == 0) {
        /* its install commands not yet settled are withdrawn; their consumers are told */
        struct db_value c[] = { DB_TEXT_V(id) };
        rc = db_exec(db, "UPDATE commands SET state = 'withdrawn', result = $1"
                         " WHERE state = 'issued'"
                         " AND digest = (SELECT digest FROM rollouts WHERE id = $1)"
                         " AND consumer IN (SELECT consumer FROM rollout_targets WHERE rollout = $1)",
                     c, 1, NULL, NULL, NULL, err);
    }
    return rc;
}

secup_rc trk_command_withdrawn(struct db *db, const char *consumer, char *rollout, size_t cap,
                               bool *found, struct secup_err *err)
{
    *found = false;
    struct db_value v[] = { DB_TEXT_V(consumer) };
    secup_rc rc = db_query_text(db, "SELECT result FROM commands WHERE consumer = $1"
                                    " AND state = 'withdrawn' LIMIT 1",
                                v, 1, rollout, cap, err);
    if (rc == SECUP_E_NOENT)
        return SECUP_OK;
    if (rc == SECUP_OK) {
        *found = true;
        rc = db_exec(db, "UPDATE commands SET state = 'cancel-sent' WHERE consumer = $1"
                         " AND state = 'withdrawn'",
                     v, 1, NULL, NULL, NULL, err);
    }
    return rc;
}

struct counts {
    int64_t total, done, failed;
};

static bool counts_row(void *ctx, size_t n, const char *const *v)
{
    struct counts *c = ctx;
    if (n >= 3) {
        c->total = db_col_int(v[0]);
        c->done = db_col_int(v[1]);
        c->failed = db_col_int(v[2]);
    }
    return false;
}

static secup_rc wave_counts(struct db *db, const char *rollout, int64_t wave, struct counts *c,
                            struct secup_err *err)
{
    memset(c, 0, sizeof(*c));
    struct db_value v[] = { DB_TEXT_V(rollout), DB_INT_V(wave) };
    return db_exec(db, "SELECT COUNT(*),"
                       " SUM(CASE WHEN EXISTS (SELECT 1 FROM commands k JOIN rollouts r"
                       "  ON r.id = g.rollout WHERE k.consumer = g.consumer AND k.digest = r.digest"
                       "  AND k.state = 'done') THEN 1 ELSE 0 END),"
                       " SUM(CASE WHEN EXISTS (SELECT 1 FROM commands k JOIN rollouts r"
                       "  ON r.id = g.rollout WHERE k.consumer = g.consumer AND k.digest = r.digest"
                       "  AND k.state = 'failed') THEN 1 ELSE 0 END)"
                       " FROM rollout_targets g WHERE g.rollout = $1 AND g.wave = $2",
                   v, 2, counts_row, c, NULL, err);
}

struct rl {
    char id[TRK_ID_MAX + 1];
    int64_t wave, max_pct;
};

static bool rl_row(void *ctx, size_t n, const char *const *v)
{
    struct rl *list = ctx;
    if (n < 3)
        return false;
    for (size_t i = 0; i < 64; i++) {
        if (!list[i].id[0]) {
            db_col_copy(list[i].id, sizeof(list[i].id), v[0]);
            list[i].wave = db_col_int(v[1]);
            list[i].max_pct = db_col_int(v[2]);
            return i + 1 < 64;
        }
    }
    return false;
}

secup_rc trk_rollouts_advance(struct db *db, struct secup_err *err)
{
    struct rl list[64];
    memset(list, 0, sizeof(list));
    secup_rc rc = db_exec(db, "SELECT id, wave, max_failure_pct FROM rollouts"
                              " WHERE state = 'active' ORDER BY created LIMIT 64",
                          NULL, 0, rl_row, list, NULL, err);
    for (size_t i = 0; rc == SECUP_OK && i < 64 && list[i].id[0]; i++) {
        struct counts c;
        rc = wave_counts(db, list[i].id, list[i].wave, &c, err);
        if (rc != SECUP_OK || c.total == 0)
            continue;
        /* halt as soon as the failures alone exceed the bound */
        if (c.failed * 100 > list[i].max_pct * c.total) {
            char why[160];
            snprintf(why, sizeof(why), "wave %" PRId64 ": %" PRId64 " of %" PRId64 " failed (bound %" PRId64 "%%)",
                     list[i].wave, c.failed, c.total, list[i].max_pct);
            struct db_value h[] = { DB_TEXT_V(why), DB_TEXT_V(list[i].id) };
            rc = db_exec(db, "UPDATE rollouts SET state = 'halted', reason = $1 WHERE id = $2", h,
                         2, NULL, NULL, NULL, err);
            if (rc == SECUP_OK)
                rc = trk_event(db, "tracker", "halt", list[i].id, why, err);
            continue;
        }
        if (c.done + c.failed < c.total)
            continue; /* the wave is still running */
        struct db_value w[] = { DB_TEXT_V(list[i].id) };
        if (list[i].wave == 1)
            rc = db_exec(db, "UPDATE rollouts SET wave = 2 WHERE id = $1", w, 1, NULL, NULL,
                         NULL, err);
        else
            rc = db_exec(db, "UPDATE rollouts SET state = 'completed' WHERE id = $1", w, 1, NULL,
                         NULL, NULL, err);
        if (rc == SECUP_OK)
            rc = trk_event(db, "tracker", list[i].wave == 1 ? "next-wave" : "completed",
                           list[i].id, NULL, err);
    }
    return rc;
}

static bool rollout_json_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 9)
        return false;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "id", v[0], "digest", v[1],
                          "class", v[2], "sequence", (json_int_t)db_col_int(v[3]), "state", v[4],
                          "wave", (json_int_t)db_col_int(v[5]), "max_failure_pct",
                          (json_int_t)db_col_int(v[6]), "created", (json_int_t)db_col_int(v[7]));
    if (v[8])
        json_object_set_new(o, "reason", json_string(v[8]));
    json_array_append_new(ctx, o);
    return true;
}

secup_rc trk_rollout_list(struct db *db, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    secup_rc rc = db_exec(db, "SELECT id, digest, class, seq, state, wave, max_failure_pct,"
                              " created, reason FROM rollouts ORDER BY created, id",
                          NULL, 0, rollout_json_row, list, NULL, err);
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        if (rc != SECUP_OK)
            break;
        const char *id = json_string_value(json_object_get(o, "id"));
        for (int64_t w = 1; w <= 2 && rc == SECUP_OK; w++) {
            struct counts c;
            rc = wave_counts(db, id, w, &c, err);
            json_object_set_new(o, w == 1 ? "wave1" : "wave2",
                                json_pack("{s:I, s:I, s:I}", "targets", (json_int_t)c.total, "done",
                                          (json_int_t)c.done, "failed", (json_int_t)c.failed));
        }
    }
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

/* ---- cascading ---- */

secup_rc trk_kv_get(struct db *db, const char *name, char *out, size_t cap, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(name) };
    return db_query_text(db, "SELECT value FROM kv WHERE name = $1", v, 1, out, cap, err);
}

secup_rc trk_kv_set(struct db *db, const char *name, const char *value, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(name), DB_TEXT_V(value) };
    return db_exec(db, "INSERT INTO kv (name, value) VALUES ($1, $2)"
                       " ON CONFLICT (name) DO UPDATE SET value = $2",
                   v, 2, NULL, NULL, NULL, err);
}

static bool comps_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 1 || !v[0])
        return true;
    json_t *acc = ctx;
    json_t *comps = json_loads(v[0], 0, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        json_int_t seq = json_integer_value(json_object_get(c, "sequence"));
        if (!id)
            continue;
        json_t *have = json_object_get(acc, id);
        if (!have || json_integer_value(have) > seq)
            json_object_set_new(acc, id, json_integer(seq));
    }
    json_decref(comps);
    return true;
}

secup_rc trk_fleet_components(struct db *db, const char *vendor, const char *class_id,
                              json_t **out, struct secup_err *err)
{
    json_t *acc = json_object();
    struct db_value v[] = { DB_TEXT_V(vendor), DB_TEXT_V(class_id) };
    secup_rc rc = db_exec(db, "SELECT components FROM consumers WHERE vendor = $1 AND class = $2"
                              " AND components IS NOT NULL",
                          v, 2, comps_row, acc, NULL, err);
    json_t *list = json_array();
    const char *k;
    json_t *val;
    json_object_foreach(acc, k, val)
        json_array_append_new(list, json_pack("{s:s, s:O}", "id", k, "sequence", val));
    json_decref(acc);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}


static bool unsent_row(void *ctx, size_t n, const char *const *v)
{
    if (n >= 3 && v[0] && v[1] && v[2])
        json_array_append_new(ctx, json_pack("{s:s, s:I, s:s}", "id", v[0], "counter",
                                             (json_int_t)strtoll(v[1], NULL, 10), "body", v[2]));
    return true;
}

secup_rc trk_unsent_reports(struct db *db, size_t max, json_t **out, struct secup_err *err)
{
    json_t *list = json_array();
    struct db_value v[] = { DB_INT_V((int64_t)max) };
    secup_rc rc = db_exec(db, "SELECT c.id, c.last_counter, r.body FROM reports r"
                              " JOIN consumers c ON c.id = r.consumer"
                              " AND r.counter = c.last_counter"
                              " WHERE c.up_sent IS NULL OR c.up_sent < c.last_counter"
                              " ORDER BY c.last_seen, c.id LIMIT $1",
                          v, 1, unsent_row, list, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

secup_rc trk_report_sent(struct db *db, const char *id, int64_t counter, struct secup_err *err)
{
    struct db_value v[] = { DB_INT_V(counter), DB_TEXT_V(id) };
    return db_exec(db, "UPDATE consumers SET up_sent = $1 WHERE id = $2"
                       " AND (up_sent IS NULL OR up_sent < $1)",
                   v, 2, NULL, NULL, NULL, err);
}

secup_rc trk_manifest_put(struct db *db, const char *source, const struct trk_manifest *m,
                          bool *added, struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_TEXT_V(m->digest), DB_TEXT_V(source), DB_TEXT_V(m->vendor),
                            DB_TEXT_V(m->class_id), DB_TEXT_V(m->component), DB_INT_V(m->seq),
                            DB_TEXT_V(m->uri), DB_INT_V(now()), DB_TEXT_V(m->profile),
                            m->has_size ? DB_INT_V(m->size) : DB_TEXT_V(NULL) };
    secup_rc rc = db_exec(db, "INSERT INTO manifests (digest, server, vendor, class, component,"
                              " seq, uri, received, profile, size) VALUES ($1, $2, $3, $4, $5,"
                              " $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                          v, 10, NULL, NULL, &changes, err);
    if (added)
        *added = rc == SECUP_OK && changes > 0;
    return rc;
}

secup_rc trk_manifest_describe(struct db *db, const char *digest, const char *profile,
                               int64_t size, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(profile), size >= 0 ? DB_INT_V(size) : DB_TEXT_V(NULL),
                            DB_TEXT_V(digest) };
    return db_exec(db, "UPDATE manifests SET profile = $1, size = $2 WHERE digest = $3", v, 3,
                   NULL, NULL, NULL, err);
}

secup_rc trk_manifest_newest(struct db *db, const char *vendor, const char *class_id,
                             const char *component, int64_t *seq, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(vendor), DB_TEXT_V(class_id), DB_TEXT_V(component) };
    return db_query_int(db, "SELECT COALESCE(MAX(seq), 0) FROM manifests WHERE vendor = $1"
                            " AND class = $2 AND component = $3",
                        v, 3, seq, err);
}

secup_rc trk_manifest_known(struct db *db, const char *digest, bool *known, struct secup_err *err)
{
    int64_t n = 0;
    struct db_value v[] = { DB_TEXT_V(digest) };
    secup_rc rc = db_query_int(db, "SELECT COUNT(*) FROM manifests WHERE digest = $1", v, 1, &n,
                               err);
    *known = rc == SECUP_OK && n > 0;
    return rc;
}

/* ---- discovery: servers to poll, their tags, requesters ---- */

struct links {
    struct trk_server_link *out;
    size_t cap, n;
};

static bool link_row(void *ctx, size_t n, const char *const *v)
{
    struct links *l = ctx;
    if (n < 2 || l->n >= l->cap)
        return false;
    db_col_copy(l->out[l->n].id, sizeof(l->out[l->n].id), v[0]);
    db_col_copy(l->out[l->n].url, sizeof(l->out[l->n].url), v[1]);
    l->n++;
    return true;
}

secup_rc trk_server_links(struct db *db, struct trk_server_link *out, size_t cap, size_t *n,
                          struct secup_err *err)
{
    struct links l = { out, cap, 0 };
    secup_rc rc = db_exec(db, "SELECT id, url FROM servers WHERE url IS NOT NULL ORDER BY id",
                          NULL, 0, link_row, &l, NULL, err);
    *n = l.n;
    return rc;
}

secup_rc trk_poll_tag_get(struct db *db, const char *server, const char *what, char *etag,
                          size_t cap, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(server), DB_TEXT_V(what) };
    secup_rc rc = db_query_text(db, "SELECT etag FROM poll_tags WHERE server = $1 AND what = $2",
                                v, 2, etag, cap, err);
    if (rc == SECUP_E_NOENT || rc == SECUP_E_BUF_SMALL) {
        etag[0] = '\0';
        rc = SECUP_OK;
    }
    return rc;
}

secup_rc trk_poll_tag_set(struct db *db, const char *server, const char *what, const char *etag,
                          struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(server), DB_TEXT_V(what), DB_TEXT_V(etag) };
    return db_exec(db, "INSERT INTO poll_tags (server, what, etag) VALUES ($1, $2, $3)"
                       " ON CONFLICT (server, what) DO UPDATE SET etag = excluded.etag",
                   v, 3, NULL, NULL, NULL, err);
}

secup_rc trk_requester_add(struct db *db, const char *id, const char *key_pem,
                           struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id), DB_TEXT_V(key_pem), DB_INT_V(now()) };
    secup_rc rc = db_exec(db, "INSERT INTO requesters (id, key_pem, created) VALUES ($1, $2, $3)",
                          v, 3, NULL, NULL, NULL, err);
    if (rc == SECUP_E_EXISTS)
        secup_err_set(err, SECUP_E_EXISTS, "requester '%s' is known", id);
    return rc;
}

secup_rc trk_requester_key(struct db *db, const char *id, char *pem, size_t cap,
                           int64_t *last_counter, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_query_text(db, "SELECT key_pem FROM requesters WHERE id = $1", v, 1, pem, cap,
                                err);
    if (rc == SECUP_OK)
        rc = db_query_int(db, "SELECT last_counter FROM requesters WHERE id = $1", v, 1,
                          last_counter, err);
    if (rc == SECUP_E_NOENT)
        rc = secup_err_set(err, SECUP_E_KEY_UNKNOWN, "request from unknown requester '%s'", id);
    return rc;
}

secup_rc trk_requester_advance(struct db *db, const char *id, int64_t counter,
                               struct secup_err *err)
{
    int64_t changes = 0;
    struct db_value v[] = { DB_INT_V(counter), DB_TEXT_V(id) };
    secup_rc rc = db_exec(db, "UPDATE requesters SET last_counter = $1 WHERE id = $2"
                              " AND last_counter < $1",
                          v, 2, NULL, NULL, &changes, err);
    if (rc == SECUP_OK && changes == 0)
        rc = secup_err_set(err, SECUP_E_REPLAY,
                           "request counter %" PRId64 " of '%s' is not above the last one",
                           counter, id);
    return rc;
}

struct tuples {
    json_t *seen; /* "vendor|class|component" -> {vendor, class, component, sequence, consumer} */
};

/* Adds the profiles the consumer declared (attrs) to the tuple's "profiles". */
static void add_profiles(json_t *tuple, const char *attrs_text)
{
    json_t *attrs = attrs_text ? json_loads(attrs_text, 0, NULL) : NULL;
    json_t *have = json_object_get(tuple, "profiles");
    size_t i, j;
    json_t *p, *q;
    json_array_foreach(json_object_get(attrs, "profiles"), i, p) {
        bool dup = !json_is_string(p) || json_string_length(p) > 63;
        json_array_foreach(have, j, q)
            dup = dup || json_equal(p, q);
        if (!dup && json_array_size(have) < 16)
            json_array_append(have, p);
    }
    json_decref(attrs);
}

static bool tuple_row(void *ctx, size_t n, const char *const *v)
{
    struct tuples *t = ctx;
    if (n < 5)
        return false;
    json_t *comps = v[3] ? json_loads(v[3], 0, NULL) : NULL;
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        json_int_t seq = json_integer_value(json_object_get(c, "sequence"));
        const char *dg = json_string_value(json_object_get(c, "digest"));
        if (!id)
            continue;
        char key[1200];
        snprintf(key, sizeof(key), "%s|%s|%.1100s", v[1], v[2], id);
        json_t *o = json_object_get(t->seen, key);
        if (!o || json_integer_value(json_object_get(o, "sequence")) < seq) {
            json_t *profiles = o ? json_incref(json_object_get(o, "profiles")) : json_array();
            o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "vendor", v[1], "class", v[2],
                          "component", id, "sequence", seq, "consumer", v[0], "digest",
                          dg ? dg : "", "profiles", profiles);
            json_object_set_new(t->seen, key, o);
        }
        add_profiles(o, v[4]);
    }
    json_decref(comps);
    return true;
}

secup_rc trk_fleet_tuples(struct db *db, int64_t seen_since, json_t **out, struct secup_err *err)
{
    struct tuples t = { json_object() };
    struct db_value v[] = { DB_INT_V(seen_since) };
    secup_rc rc = db_exec(db, "SELECT id, vendor, class, components, attrs FROM consumers"
                              " WHERE last_seen >= $1 AND components IS NOT NULL ORDER BY id",
                          v, 1, tuple_row, &t, NULL, err);
    json_t *list = json_array();
    const char *k;
    json_t *o;
    json_object_foreach(t.seen, k, o)
        json_array_append(list, o);
    json_decref(t.seen);
    if (rc != SECUP_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return SECUP_OK;
}

secup_rc trk_aggregate_put(struct db *db, const char *tracker, const char *reporter,
                           const char *body_hex, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(tracker), DB_TEXT_V(reporter), DB_TEXT_V(body_hex),
                            DB_INT_V(now()) };
    return db_exec(db, "INSERT INTO aggregates (tracker, reporter, body, received)"
                       " VALUES ($1, $2, $3, $4) ON CONFLICT (tracker, reporter)"
                       " DO UPDATE SET body = $3, received = $4",
                   v, 4, NULL, NULL, NULL, err);
}

secup_rc trk_report_quota(struct db *db, const char *id, int64_t now_, int64_t quota,
                          struct secup_err *err)
{
    int64_t n = 0;
    struct db_value v[] = { DB_TEXT_V(id), DB_INT_V(now_) };
    secup_rc rc = db_query_int(db, "SELECT CASE WHEN $2 - window_start >= 3600 THEN 0"
                                   " ELSE window_count END FROM consumers WHERE id = $1",
                               v, 2, &n, err);
    if (rc == SECUP_OK && n >= quota)
        rc = secup_err_set(err, SECUP_E_QUOTA,
                           "'%s' sent %" PRId64 " reports within the hour (quota %" PRId64 ")", id, n,
                           quota);
    return rc;
}

secup_rc trk_report_trim(struct db *db, const char *id, int64_t keep, struct secup_err *err)
{
    struct db_value v[] = { DB_TEXT_V(id), DB_INT_V(keep) };
    return db_exec(db, "DELETE FROM reports WHERE consumer = $1 AND counter < (SELECT MIN(counter)"
                       " FROM (SELECT counter FROM reports WHERE consumer = $1"
                       " ORDER BY counter DESC LIMIT $2) AS newest)",
                   v, 2, NULL, NULL, NULL, err);
}
