/* Cascading (X.secup-iot §8.2, requirement 4B): a tracker started with an upstream
 * registers there as a downstream tracker, reports its fleet upward (signed, with its
 * consumers' own signed reports as the aggregate), long-polls for commands, obeys only
 * commands its upstream signed for it, and for an install verifies the manifest itself
 * (the Author's signature against its own trust anchors) before its consumers are offered
 * it; commands for them are then judged and signed by this tracker. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/httpc.h"
#include "secup/command.h"
#include "secup/cose.h"
#include "secup/file.h"
#include "secup/manifest.h"
#include "secup/policy.h"
#include "secup/status.h"
#include "trk.h"
#include "token.h"

#define AGGREGATE_MAX 16

static bool stopping(struct trk *t)
{
    pthread_mutex_lock(&t->park_lock);
    bool s = t->stopping;
    pthread_mutex_unlock(&t->park_lock);
    return s;
}

static void nap(struct trk *t, unsigned seconds)
{
    for (unsigned i = 0; i < seconds * 10 && !stopping(t); i++) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}


static struct httpc_config up_cfg(const struct trk *t)
{
    struct httpc_config c = { 0 };
    c.ca_file = t->cfg.up_ca[0] ? t->cfg.up_ca : NULL;
    c.timeout_s = (unsigned)t->cfg.up_wait + 30;
    return c;
}

static secup_rc kv(struct trk *t, const char *name, char *out, size_t cap, struct secup_err *err)
{
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_kv_get(db, name, out, cap, err);
    db_pool_put(t->pool, db);
    return rc;
}

static secup_rc kv_set(struct trk *t, const char *name, const char *value, struct secup_err *err)
{
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_kv_set(db, name, value, err);
    db_pool_put(t->pool, db);
    return rc;
}

/* Registers with the upstream once; the token, vendor and class are kept in the store. */
static secup_rc ensure_registered(struct trk *t, char token[128], struct secup_err *err)
{
    struct secup_err none;
    if (kv(t, "up.token", token, 128, &none) == SECUP_OK)
        return SECUP_OK;
    if (!t->cfg.up_enrol[0])
        return secup_err_set(err, SECUP_E_AUTH, "not registered upstream and no enrolment token");
    char enrol[128];
    secup_rc rc = token_read_file(t->cfg.up_enrol, enrol, sizeof(enrol), err);
    char pub[TRK_PATH + 16];
    snprintf(pub, sizeof(pub), "%.*s.pub.pem", (int)(strlen(t->cfg.signing_key) - 4),
             t->cfg.signing_key);
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    if (rc == SECUP_OK)
        rc = secup_file_read(pub, 64 * 1024, &pem, &pem_len, err);
    if (rc != SECUP_OK)
        return rc;
    json_t *body = json_pack("{s:s, s:s, s:s%}", "id", t->cfg.id, "kind", "tracker", "key",
                             (const char *)pem, pem_len);
    secup_file_free(pem, pem_len);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char url[1100];
    snprintf(url, sizeof(url), "%s/v1/register", t->cfg.up_url);
    struct httpc_config hc = up_cfg(t);
    struct httpc_request rq = { .method = "POST", .url = url, .bearer = enrol,
                                .body = (const uint8_t *)text, .body_len = text ? strlen(text) : 0,
                                .content_type = "application/json" };
    struct httpc_response resp;
    memset(&resp, 0, sizeof(resp));
    rc = text ? httpc_perform(&hc, &rq, &resp, err) : secup_err_set(err, SECUP_E_NOMEM, "body");
    free(text);
    if (rc == SECUP_OK && resp.status != 201)
        rc = httpc_response_error(&resp, err);
    json_t *o = rc == SECUP_OK ? json_loadb((const char *)resp.body, resp.body_len, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(o, "token"));
    const char *vendor = json_string_value(json_object_get(o, "vendor"));
    const char *cls = json_string_value(json_object_get(o, "class"));
    if (rc == SECUP_OK && (!tok || !vendor || !cls || strlen(tok) >= 128))
        rc = secup_err_set(err, SECUP_E_NET, "upstream registration answer lacks token or class");
    if (rc == SECUP_OK)
        rc = kv_set(t, "up.vendor", vendor, err);
    if (rc == SECUP_OK)
        rc = kv_set(t, "up.class", cls, err);
    if (rc == SECUP_OK)
        rc = kv_set(t, "up.token", tok, err);
    if (rc == SECUP_OK) {
        snprintf(token, 128, "%s", tok);
        trk_log("registered at upstream '%s' (class %s)", t->cfg.up_id, cls);
    }
    json_decref(o);
    httpc_response_free(&resp);
    return rc;
}

static uint64_t next_counter(struct trk *t, const char *name, struct secup_err *err)
{
    char v[32] = "0";
    struct secup_err none; /* no counter yet: 0 */
    (void)kv(t, name, v, sizeof(v), &none);
    uint64_t n = strtoull(v, NULL, 10) + 1;
    snprintf(v, sizeof(v), "%" PRIu64, n);
    return kv_set(t, name, v, err) == SECUP_OK ? n : 0;
}

/* Our own signed report upward: the oldest sequence our consumers of the enrolled class run
 * per component, and as the aggregate the latest signed reports of consumers that the
 * upstream tracker has not had yet (oldest first, as many as fit). *more is set when some are
 * still waiting, so that the caller reports again at once and every consumer's newest report
 * reaches the upstream tracker, however large the fleet. */
static secup_rc report_up(struct trk *t, const char *token, bool *more, struct secup_err *err)
{
    *more = false;
    char vendor[33] = "", cls[33] = "";
    secup_rc rc = kv(t, "up.vendor", vendor, sizeof(vendor), err);
    if (rc == SECUP_OK)
        rc = kv(t, "up.class", cls, sizeof(cls), err);
    json_t *comps = NULL, *reports = NULL;
    struct db *db = db_pool_get(t->pool);
    if (rc == SECUP_OK)
        rc = trk_fleet_components(db, vendor, cls, &comps, err);
    if (rc == SECUP_OK)
        rc = trk_unsent_reports(db, AGGREGATE_MAX + 1, &reports, err);
    db_pool_put(t->pool, db);
    if (rc != SECUP_OK) {
        json_decref(comps);
        return rc;
    }
    static _Thread_local struct secup_status st;
    static _Thread_local uint8_t ids[SECUP_STATUS_MAX_COMPONENTS][256];
    static _Thread_local uint8_t agg[AGGREGATE_MAX][SECUP_STATUS_MAX_SIZE + 256];
    memset(&st, 0, sizeof(st));
    st.reporter = secup_bytes_of(t->cfg.id, strlen(t->cfg.id));
    st.counter = next_counter(t, "up.report_counter", err);
    st.time = (uint64_t)time(NULL);
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) {
        if (st.n_components >= SECUP_STATUS_MAX_COMPONENTS)
            break;
        size_t n = 0;
        if (!secup_hex_decode(json_string_value(json_object_get(c, "id")), ids[st.n_components],
                              sizeof(ids[0]), &n))
            continue;
        struct secup_status_component *sc = &st.components[st.n_components++];
        sc->id = secup_bytes_of(ids[st.n_components - 1], n);
        sc->seq = (uint64_t)json_integer_value(json_object_get(c, "sequence"));
        /* a fleet summary: no slot, no single image (the digest is all zero) */
    }
    json_decref(comps);
    st.has_aggregate = true;
    size_t taken = 0; /* reports of the list carried (or skipped as undecodable) */
    json_array_foreach(reports, i, c) {
        if (st.n_aggregate >= AGGREGATE_MAX)
            break;
        size_t n = 0;
        uint32_t k = st.n_aggregate;
        if (secup_hex_decode(json_string_value(json_object_get(c, "body")), agg[k],
                             sizeof(agg[0]), &n)) {
            st.aggregate[k] = secup_bytes_of(agg[k], n);
            st.n_aggregate = k + 1;
        }
        taken = i + 1;
    }
    static _Thread_local uint8_t out[SECUP_STATUS_MAX_SIZE + 512];
    size_t len = 0;
    /* the payload has a size limit: carry fewer until it fits (at least the fleet summary) */
    for (;;) {
        rc = secup_status_sign(&st, t->sign_key, out, sizeof(out), &len, err);
        if ((rc != SECUP_E_LIMIT_SIZE && rc != SECUP_E_BUF_SMALL) || st.n_aggregate == 0)
            break;
        st.n_aggregate /= 2;
        taken = st.n_aggregate;
    }
    if (rc == SECUP_OK && taken == 0 && json_array_size(reports) > 0) {
        /* one report alone is too large to carry beside the summary: never passed upward */
        trk_log("upstream '%s': the report of '%s' is too large to pass upward; skipped",
                t->cfg.up_id, json_string_value(json_object_get(json_array_get(reports, 0), "id")));
        taken = 1;
    }
    if (rc != SECUP_OK) {
        json_decref(reports);
        return rc;
    }
    char url[1100];
    snprintf(url, sizeof(url), "%s/v1/status", t->cfg.up_url);
    struct httpc_config hc = up_cfg(t);
    struct httpc_request rq = { .method = "POST", .url = url, .bearer = token, .body = out,
                                .body_len = len, .content_type = "application/cose" };
    struct httpc_response resp;
    memset(&resp, 0, sizeof(resp));
    rc = httpc_perform(&hc, &rq, &resp, err);
    if (rc == SECUP_OK && resp.status != 200)
        rc = httpc_response_error(&resp, err);
    httpc_response_free(&resp);
    if (rc == SECUP_OK && taken > 0) {
        /* the upstream tracker stored them: mark them passed (a failure here only means they
         * are carried again, which the upstream tracker takes as the same report) */
        db = db_pool_get(t->pool);
        for (i = 0; rc == SECUP_OK && i < taken; i++) {
            c = json_array_get(reports, i);
            rc = trk_report_sent(db, json_string_value(json_object_get(c, "id")),
                                 (int64_t)json_integer_value(json_object_get(c, "counter")), err);
        }
        db_pool_put(t->pool, db);
        *more = rc == SECUP_OK && json_array_size(reports) > taken;
    }
    json_decref(reports);
    return rc;
}

/* The manifest an install command names, fetched and verified here before any consumer of
 * this tracker is offered it: the digest the command names, an Author this tracker
 * trusts, the sequence number the command says. */
static secup_rc adopt_manifest(struct trk *t, const struct secup_command_msg *c,
                               struct secup_err *err)
{
    char url[SECUP_COMMAND_MAX_TEXT + 1];
    snprintf(url, sizeof(url), "%.*s", (int)c->manifest_uri.len,
             (const char *)c->manifest_uri.ptr);
    struct trk_manifest m;
    secup_rc rc = trk_manifest_fetch_verify(t, url, c->digest, &m, err);
    if (rc == SECUP_OK && (uint64_t)m.seq != c->seq)
        rc = secup_err_set(err, SECUP_E_VALUE, "the manifest has sequence %" PRId64 ", the command %" PRIu64,
                           m.seq, c->seq);
    if (rc == SECUP_OK) {
        char source[TRK_ID_MAX + 16];
        snprintf(source, sizeof(source), "upstream:%s", t->cfg.up_id);
        struct db *db = db_pool_get(t->pool);
        rc = trk_manifest_put(db, source, &m, NULL, err);
        db_pool_put(t->pool, db);
        if (rc == SECUP_OK)
            trk_log("upstream '%s': install sequence %" PRIu64 " (%.16s), verified here", t->cfg.up_id,
                    c->seq, m.digest);
    }
    return rc;
}

/* One long poll at the upstream and what follows from it. *again is set when the upstream
 * sent once more the very command this tracker last acted on (an install stays open at the
 * upstream until this tracker's whole fleet runs it, and is re-sent at each poll): nothing
 * to do, and no replay to complain of, but the caller waits a poll period before asking again. */
static secup_rc poll_up(struct trk *t, const char *token, bool *report, bool *again,
                        struct secup_err *err)
{
    *again = false;
    char url[1100];
    snprintf(url, sizeof(url), "%s/v1/commands?wait=%" PRIu64, t->cfg.up_url, t->cfg.up_wait);
    struct httpc_config hc = up_cfg(t);
    struct httpc_request rq = { .url = url, .bearer = token, .max_response = SECUP_COMMAND_MAX_SIZE + 512 };
    struct httpc_response resp;
    memset(&resp, 0, sizeof(resp));
    secup_rc rc = httpc_perform(&hc, &rq, &resp, err);
    if (rc == SECUP_OK && resp.status == 204) {
        httpc_response_free(&resp);
        return SECUP_OK;
    }
    if (rc == SECUP_OK && resp.status != 200)
        rc = httpc_response_error(&resp, err);
    struct secup_bytes in = secup_bytes_of(resp.body, resp.body_len);
    struct secup_bytes issuer;
    struct secup_command_msg c;
    struct secup_key *k = NULL;
    if (rc == SECUP_OK)
        rc = secup_command_peek_issuer(in, &issuer, err);
    if (rc == SECUP_OK && (issuer.len != strlen(t->cfg.up_id) ||
                           memcmp(issuer.ptr, t->cfg.up_id, issuer.len) != 0))
        rc = secup_err_set(err, SECUP_E_KEY_UNKNOWN, "a command from '%.*s', not from upstream '%s'",
                           (int)issuer.len, (const char *)issuer.ptr, t->cfg.up_id);
    if (rc == SECUP_OK)
        rc = secup_key_load_pem(&k, t->cfg.up_key, err);
    if (rc == SECUP_OK)
        rc = secup_command_verify(in, k, &c, err);
    secup_key_free(k);
    char last[32] = "0", last_id[2 * 16 + 1] = "", id_hex[2 * 16 + 1];
    struct secup_err none; /* no counter yet: 0 */
    (void)kv(t, "up.counter", last, sizeof(last), &none);
    (void)kv(t, "up.last_id", last_id, sizeof(last_id), &none);
    if (rc == SECUP_OK)
        secup_hex_encode(secup_bytes_of(c.id, sizeof(c.id)), id_hex, sizeof(id_hex));
    if (rc == SECUP_OK && c.counter == strtoull(last, NULL, 10) && strcmp(id_hex, last_id) == 0) {
        *again = true; /* verified, and already acted on */
        static char logged[2 * 16 + 1]; /* said once per command: the upstream repeats it */
        if (strcmp(logged, id_hex) != 0) {
            trk_log("upstream '%s': command %" PRIu64 " sent again; already acted on, not again"
                    " (asking again in %" PRIu64 " s)",
                    t->cfg.up_id, c.counter, t->cfg.up_wait ? t->cfg.up_wait : 1);
            snprintf(logged, sizeof(logged), "%s", id_hex);
        }
        httpc_response_free(&resp);
        return SECUP_OK;
    }
    if (rc == SECUP_OK)
        rc = secup_command_accept(&c, t->cfg.id, (uint64_t)time(NULL), strtoull(last, NULL, 10),
                                  300, err);
    if (rc != SECUP_OK) {
        httpc_response_free(&resp);
        return rc;
    }
    if (c.action == SECUP_COMMAND_INSTALL)
        rc = adopt_manifest(t, &c, err);
    else if (c.action == SECUP_COMMAND_REPORT)
        *report = true;
    /* acted on (or refused on its merits): the counter moves only now */
    snprintf(last, sizeof(last), "%" PRIu64, c.counter);
    secup_rc r2 = kv_set(t, "up.counter", last, err);
    if (r2 == SECUP_OK)
        r2 = kv_set(t, "up.last_id", id_hex, err);
    if (rc == SECUP_OK && c.action == SECUP_COMMAND_INSTALL) {
        trk_wake_all(t); /* waiting consumers may have something to install now */
        *report = true;
    }
    httpc_response_free(&resp);
    return rc != SECUP_OK ? rc : r2;
}

void *trk_upstream(void *arg)
{
    struct trk *t = arg;
    unsigned backoff = 1;
    char token[128];
    while (!stopping(t)) {
        struct secup_err err;
        secup_err_clear(&err);
        secup_rc rc = ensure_registered(t, token, &err);
        bool more = true;
        for (unsigned round = 0; rc == SECUP_OK && more && round < 64; round++)
            rc = report_up(t, token, &more, &err);
        bool report = false, again = false;
        if (rc == SECUP_OK)
            rc = poll_up(t, token, &report, &again, &err);
        if (rc == SECUP_OK && report)
            rc = report_up(t, token, &more, &err);
        if (rc == SECUP_OK) {
            backoff = 1;
            if (again)
                nap(t, t->cfg.up_wait ? (unsigned)t->cfg.up_wait : 1);
            continue;
        }
        trk_log("upstream '%s': %s [%s]; again in %u s", t->cfg.up_id, err.msg,
                secup_rc_name(rc), backoff);
        nap(t, backoff);
        backoff = backoff < 60 ? backoff * 2 : 60;
    }
    return NULL;
}
