/* Upstream divergence detection (THREATS.md U5, docs/tracker.md "Divergence"): a tracker
 * that rolled a manifest out to a downstream tracker reads the reports that tracker
 * carries up for its consumers (their own signed reports, the aggregate) and flags every
 * consumer whose last successful install names another manifest of the rolled-out
 * component, installed after the rollout was created: the intermediate tracker gave it
 * something the rollout did not name. Each such consumer is recorded once per rollout (the
 * divergences table), with an event and a log line; `consumer show` of the downstream
 * tracker lists them. The aggregated reports are read without their signature being
 * checked (this tracker does not hold the downstream consumers' keys): see the docs for
 * what that means. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "secup/status.h"
#include "trk.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS divergences ("
    " tracker TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE,"
    " reporter TEXT NOT NULL, rollout TEXT NOT NULL, expected TEXT NOT NULL,"
    " reported TEXT NOT NULL, installed BIGINT NOT NULL, seen BIGINT NOT NULL,"
    " PRIMARY KEY (tracker, reporter, rollout));";

secup_rc trk_schema_divergence(struct db *db, struct secup_err *err)
{
    return db_exec_script(db, schema, err);
}

void trk_divergence_read(struct secup_bytes signed_report, char last[65], int64_t *last_time)
{
    static _Thread_local struct secup_status st;
    struct secup_err err;
    last[0] = '\0';
    *last_time = 0;
    if (secup_status_peek(signed_report, &st, &err) != SECUP_OK || !st.has_last ||
        st.last_id.len != 32 || st.last_code.len != 2 || memcmp(st.last_code.ptr, "OK", 2) != 0 ||
        st.last_time > INT64_MAX)
        return;
    if (!secup_hex_encode(st.last_id, last, 65))
        last[0] = '\0';
    else
        *last_time = (int64_t)st.last_time;
}

/* The newest rollout per component that targets the downstream tracker. */
#define DIV_ROLLOUTS 16
struct div_rollout {
    char id[TRK_ID_MAX + 1];
    char digest[65];
    char component[513];
    int64_t created;
};
struct div_rollouts {
    struct div_rollout r[DIV_ROLLOUTS];
    size_t n;
};

static bool rollout_row(void *ctx, size_t n, const char *const *v)
{
    struct div_rollouts *rs = ctx;
    if (n < 4)
        return true;
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->r[i].component, v[2] ? v[2] : "") == 0)
            return true; /* an older rollout of a component already taken */
    if (rs->n == DIV_ROLLOUTS)
        return false;
    struct div_rollout *r = &rs->r[rs->n++];
    db_col_copy(r->id, sizeof(r->id), v[0]);
    db_col_copy(r->digest, sizeof(r->digest), v[1]);
    db_col_copy(r->component, sizeof(r->component), v[2]);
    r->created = db_col_int(v[3]);
    return true;
}

secup_rc trk_divergence_check(struct db *db, const char *tracker, const char *reporter,
                              const char *reported, int64_t installed, int64_t now,
                              struct secup_err *err)
{
    if (!reported[0])
        return SECUP_OK;
    struct div_rollouts rs;
    rs.n = 0;
    struct db_value t[] = { DB_TEXT_V(tracker) };
    secup_rc rc = db_exec(db, "SELECT r.id, r.digest, r.component, r.created FROM rollouts r"
                              " JOIN rollout_targets g ON g.rollout = r.id WHERE g.consumer = $1"
                              " AND r.state IN ('active', 'paused', 'completed')"
                              " ORDER BY r.created DESC, r.id",
                          t, 1, rollout_row, &rs, NULL, err);
    for (size_t i = 0; rc == SECUP_OK && i < rs.n; i++) {
        const struct div_rollout *r = &rs.r[i];
        if (strcmp(r->digest, reported) == 0 || installed < r->created)
            continue;
        /* a manifest this tracker knows for another component is no divergence from
         * this rollout; one it does not know, or of the same component, is */
        char comp[513] = "";
        struct db_value m[] = { DB_TEXT_V(reported) };
        secup_rc q = db_query_text(db, "SELECT component FROM manifests WHERE digest = $1", m, 1,
                                   comp, sizeof(comp), err);
        if (q == SECUP_OK && strcmp(comp, r->component) != 0)
            continue;
        if (q != SECUP_OK && q != SECUP_E_NOENT) {
            rc = q;
            break;
        }
        struct db_value k[] = { DB_TEXT_V(tracker), DB_TEXT_V(reporter), DB_TEXT_V(r->id) };
        char known[65] = "";
        q = db_query_text(db, "SELECT reported FROM divergences WHERE tracker = $1"
                              " AND reporter = $2 AND rollout = $3",
                          k, 3, known, sizeof(known), err);
        if (q == SECUP_OK && strcmp(known, reported) == 0)
            continue; /* recorded already */
        if (q != SECUP_OK && q != SECUP_E_NOENT) {
            rc = q;
            break;
        }
        struct db_value d[] = { DB_TEXT_V(tracker), DB_TEXT_V(reporter), DB_TEXT_V(r->id),
                                DB_TEXT_V(r->digest), DB_TEXT_V(reported), DB_INT_V(installed),
                                DB_INT_V(now) };
        rc = db_exec(db, "INSERT INTO divergences (tracker, reporter, rollout, expected, reported,"
                         " installed, seen) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                         " ON CONFLICT (tracker, reporter, rollout) DO UPDATE SET"
                         " reported = $5, installed = $6, seen = $7",
                     d, 7, NULL, NULL, NULL, err);
        char detail[512];
        snprintf(detail, sizeof(detail), "via '%s': rollout '%s' named %s, it reports %s", tracker,
                 r->id, r->digest, reported);
        if (rc == SECUP_OK)
            rc = trk_event(db, "tracker", "divergence", reporter, detail, err);
        if (rc == SECUP_OK)
            trk_log("divergence: consumer '%s' %s", reporter, detail);
    }
    return rc;
}

static bool div_row(void *ctx, size_t n, const char *const *v)
{
    if (n >= 6)
        json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "consumer", v[0],
                                             "rollout", v[1], "expected", v[2], "reported", v[3],
                                             "installed", (json_int_t)db_col_int(v[4]), "seen",
                                             (json_int_t)db_col_int(v[5])));
    return true;
}

secup_rc trk_divergence_attach(struct db *db, const char *tracker, json_t *consumer,
                               struct secup_err *err)
{
    json_t *list = json_array();
    struct db_value t[] = { DB_TEXT_V(tracker) };
    secup_rc rc = db_exec(db, "SELECT reporter, rollout, expected, reported, installed, seen"
                              " FROM divergences WHERE tracker = $1 ORDER BY reporter, rollout",
                          t, 1, div_row, list, NULL, err);
    if (rc == SECUP_OK && json_array_size(list))
        json_object_set_new(consumer, "divergences", list);
    else
        json_decref(list);
    return rc;
}
