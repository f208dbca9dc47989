/* Discovery (X.secup-iot §9, issue [tracker]): how a tracker learns of manifests besides
 * server notifications and its upstream:
 *
 *  - polling: every `server.poll-interval` seconds, for each (vendor, class, component) its
 *    consumers run, it asks each server registered with a url for GET /v1/latest with the
 *    ETag of the last answer (If-None-Match): an unchanged answer is a 304 and costs
 *    nothing more. A changed one makes it read the server's listing of that component and
 *    take every variant newer than what it knows;
 *  - requests: POST /v1/requests, a secup-request signed by a registered requester (an
 *    Author or administrator) naming a manifest URI and digest;
 *  - reports: a consumer that reports running a sequence newer than any manifest the
 *    tracker knows for its component makes it look on its servers for that manifest.
 *
 * Whatever the source, a manifest counts only after trk_manifest_fetch_verify(): fetched
 * by the tracker, digest checked where one was named, and the Author's signature verified
 * against the tracker's own trust anchors (`trust` in tracker.json). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compid.h"
#include "reqparse.h"
#include "http/httpc.h"
#include "secup/cose.h"
#include "secup/encrypt.h"
#include "secup/file.h"
#include "secup/manifest.h"
#include "secup/policy.h"
#include "secup/request.h"
#include "trk.h"
#include "token.h"

#define MAX_ENVELOPE (1024 * 1024)
#define MAX_LISTING (4 * 1024 * 1024)
#define MAX_SERVERS 64
#define REQUEST_SKEW 300 /* seconds a request's time may lie ahead of the tracker's clock */


/* ---- one manifest, fetched and verified ---- */


/* A GET at a Firmware Server with the tracker's token there. */
static secup_rc server_get(struct trk *t, const char *url, const char *etag, uint64_t max,
                           struct httpc_response *resp, struct secup_err *err)
{
    char token[128] = "";
    secup_rc rc = t->cfg.server_token[0]
                      ? token_read_file(t->cfg.server_token, token, sizeof(token), err)
                      : SECUP_OK;
    struct httpc_config hc = { 0 };
    hc.ca_file = t->cfg.server_ca[0] ? t->cfg.server_ca : NULL;
    hc.timeout_s = 60;
    char inm[160];
    const char *headers[2] = { NULL, NULL };
    if (etag && etag[0]) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
        headers[0] = inm;
    }
    struct httpc_request rq = { .url = url, .bearer = token[0] ? token : NULL,
                                .headers = headers, .max_response = max };
    memset(resp, 0, sizeof(*resp));
    if (rc == SECUP_OK)
        rc = httpc_perform(&hc, &rq, resp, err);
    return rc;
}

/* The profile of a verified envelope, named as the Firmware Server names it
 * (secup_profile_describe), so that it can be compared with the profiles consumers declare. */
static void profile_of(const struct secup_envelope *env, char *out, size_t cap)
{
    int64_t auth = env->n_auth ? env->auth[0].alg : 0;
    struct secup_image_info info;
    struct secup_err none;
    if (secup_manifest_image_info(&env->manifest, 0, &info, &none) != SECUP_OK ||
        !info.has_encryption) {
        secup_profile_describe(auth, NULL, out, cap);
        return;
    }
    struct secup_enc_info *enc = calloc(1, sizeof(*enc));
    if (enc && secup_enc_info_decode(enc, info.encryption_info, &none) == SECUP_OK) {
        secup_profile_describe(auth, enc, out, cap);
    } else {
        static const char suffix[] = "-encrypted";
        secup_profile_describe(auth, NULL, out, cap);
        size_t n = strlen(out);
        if (n + sizeof(suffix) <= cap)
            memcpy(out + n, suffix, sizeof(suffix));
    }
    free(enc);
}

secup_rc trk_manifest_fetch_verify(struct trk *t, const char *url, const uint8_t *want_digest,
                                   struct trk_manifest *m, struct secup_err *err)
{
    memset(m, 0, sizeof(*m));
    if (t->cfg.n_trust == 0)
        return secup_err_set(err, SECUP_E_KEY_UNKNOWN,
                             "no \"trust\" anchors in tracker.json: no manifest can be verified");
    if (strlen(url) >= sizeof(m->uri))
        return secup_err_set(err, SECUP_E_LIMIT_STRING, "manifest URI of %zu bytes", strlen(url));
    struct httpc_response resp;
    secup_rc rc = server_get(t, url, NULL, MAX_ENVELOPE, &resp, err);
    if (rc == SECUP_OK && resp.status != 200)
        rc = httpc_response_error(&resp, err);
    struct secup_envelope *env = rc == SECUP_OK ? calloc(1, sizeof(*env)) : NULL;
    struct secup_trust *trust = NULL;
    if (rc == SECUP_OK && !env)
        rc = secup_err_set(err, SECUP_E_NOMEM, "envelope");
    if (rc == SECUP_OK)
        rc = secup_envelope_decode(env, secup_bytes_of(resp.body, resp.body_len), NULL, err);
    if (rc == SECUP_OK && env->digest.bytes.len != 32)
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "the manifest at %s has no SHA-256 digest", url);
    if (rc == SECUP_OK && want_digest && memcmp(env->digest.bytes.ptr, want_digest, 32) != 0)
        rc = secup_err_set(err, SECUP_E_DIGEST, "the manifest at %s is not the one named (digest)",
                           url);
    if (rc == SECUP_OK)
        rc = secup_trust_new(&trust, err);
    for (size_t i = 0; rc == SECUP_OK && i < t->cfg.n_trust; i++) {
        struct secup_key *k = NULL;
        rc = secup_key_load_pem(&k, t->cfg.trust[i], err);
        if (rc == SECUP_OK)
            rc = secup_trust_add(trust, k, "author", err);
        if (rc != SECUP_OK)
            secup_key_free(k);
    }
    if (rc == SECUP_OK)
        rc = secup_envelope_verify(env, trust, NULL, err);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "manifest at %.200s", url);
    uint8_t v[16], k16[16], comp[512];
    size_t comp_len = 0;
    if (rc == SECUP_OK)
        rc = secup_manifest_audience(&env->manifest, 0, v, k16, err);
    if (rc == SECUP_OK)
        rc = secup_component_id_encode(&env->manifest.components[0], comp, sizeof(comp), &comp_len,
                                       err);
    if (rc == SECUP_OK) {
        secup_hex_encode(env->digest.bytes, m->digest, sizeof(m->digest));
        secup_hex_encode(secup_bytes_of(v, 16), m->vendor, sizeof(m->vendor));
        secup_hex_encode(secup_bytes_of(k16, 16), m->class_id, sizeof(m->class_id));
        secup_hex_encode(secup_bytes_of(comp, comp_len), m->component, sizeof(m->component));
        m->seq = (int64_t)env->manifest.sequence_number;
        snprintf(m->uri, sizeof(m->uri), "%s", url);
        profile_of(env, m->profile, sizeof(m->profile));
        struct secup_image_info info;
        struct secup_err none;
        if (secup_manifest_image_info(&env->manifest, 0, &info, &none) == SECUP_OK &&
            info.has_size && info.size <= INT64_MAX) {
            m->has_size = true;
            m->size = (int64_t)info.size;
        }
        if (env->manifest.sequence_number > INT64_MAX)
            rc = secup_err_set(err, SECUP_E_VALUE, "sequence number too large");
    }
    secup_trust_free(trust);
    free(env);
    httpc_response_free(&resp);
    return rc;
}

/* Stores a verified manifest; logs and wakes the long polls when it is new. */
static secup_rc adopt(struct trk *t, const char *source, const struct trk_manifest *m,
                      const char *why, bool *added, struct secup_err *err)
{
    struct db *db = db_pool_get(t->pool);
    bool fresh = false;
    secup_rc rc = db_begin(db, err);
    if (rc == SECUP_OK)
        rc = trk_manifest_put(db, source, m, &fresh, err);
    if (rc == SECUP_OK && fresh)
        rc = trk_event(db, source, why, m->digest, m->uri, err);
    if (rc == SECUP_OK)
        rc = db_commit(db, err);
    else
        db_rollback(db);
    db_pool_put(t->pool, db);
    if (rc == SECUP_OK && fresh) {
        trk_log("%s '%s': learnt sequence %" PRId64 " (%s, %" PRId64 " bytes, %.16s) at %s, "
                "Author signature verified here", why, source, m->seq, m->profile,
                m->has_size ? m->size : -1, m->digest, m->uri);
        trk_wake_all(t);
    }
    if (added)
        *added = fresh;
    return rc;
}

/* ---- POST /v1/requests ---- */

void trk_requests_post(struct trk *t, struct httpd_req *req, const uint8_t *body, size_t len)
{
    struct secup_err err;
    secup_err_clear(&err);
    struct secup_bytes in = secup_bytes_of(body, len);
    struct secup_bytes kid = { 0 };
    struct secup_request r;
    char who[TRK_ID_MAX + 1] = "", pem[8192];
    int64_t last = 0;
    struct secup_key *k = NULL;
    /* the kid names the requester; nothing else is read before the signature verifies */
    secup_rc rc = secup_request_peek_requester(in, &kid, &err);
    if (rc == SECUP_OK && (kid.len == 0 || kid.len > TRK_ID_MAX))
        rc = secup_err_set(&err, SECUP_E_KEY_UNKNOWN, "request without a usable requester id");
    if (rc == SECUP_OK) {
        memcpy(who, kid.ptr, kid.len);
        who[kid.len] = '\0';
        struct db *db = db_pool_get(t->pool);
        rc = trk_requester_key(db, who, pem, sizeof(pem), &last, &err);
        db_pool_put(t->pool, db);
    }
    if (rc == SECUP_OK)
        rc = secup_key_parse_pem(&k, secup_bytes_of(pem, strlen(pem)), &err);
    if (rc == SECUP_OK)
        rc = secup_request_verify(in, k, &r, &err);
    secup_key_free(k);
    if (rc == SECUP_OK && r.counter > INT64_MAX)
        rc = secup_err_set(&err, SECUP_E_VALUE, "request counter too large");
    if (rc == SECUP_OK)
        rc = secup_request_accept(&r, t->cfg.id, (uint64_t)time(NULL), (uint64_t)last,
                                  REQUEST_SKEW, &err);
    char url[SECUP_REQUEST_MAX_TEXT + 1];
    struct trk_manifest m;
    if (rc == SECUP_OK) {
        snprintf(url, sizeof(url), "%.*s", (int)r.uri.len, (const char *)r.uri.ptr);
        if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
            rc = secup_err_set(&err, SECUP_E_VALUE, "the manifest URI is not http(s)");
    }
    /* the tracker believes the manifest only once it verified it itself */
    if (rc == SECUP_OK)
        rc = trk_manifest_fetch_verify(t, url, r.digest, &m, &err);
    bool fresh = false;
    if (rc == SECUP_OK) {
        struct db *db = db_pool_get(t->pool);
        rc = db_begin(db, &err);
        if (rc == SECUP_OK) /* a request replayed meanwhile loses here */
            rc = trk_requester_advance(db, who, (int64_t)r.counter, &err);
        if (rc == SECUP_OK)
            rc = trk_manifest_put(db, who, &m, &fresh, &err);
        if (rc == SECUP_OK)
            rc = trk_event(db, who, "request", m.digest, m.uri, &err);
        if (rc == SECUP_OK)
            rc = db_commit(db, &err);
        else
            db_rollback(db);
        db_pool_put(t->pool, db);
    }
    if (rc != SECUP_OK) {
        trk_log("refused a request%s%s: %s [%s]", who[0] ? " of " : "", who, err.msg,
                secup_rc_name(err.rc));
        httpd_respond_err(req, &err);
        return;
    }
    trk_log("request %" PRIu64 " of '%s': sequence %" PRId64 " (%s, %.16s) at %s, verified here%s",
            r.counter, who, m.seq, m.profile, m.digest, m.uri, fresh ? "" : " (already known)");
    if (fresh)
        trk_wake_all(t);
    json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:b}", "digest", m.digest, "sequence",
                          (json_int_t)m.seq, "profile", m.profile, "counter",
                          (json_int_t)r.counter, "new", fresh);
    httpd_respond_json(req, fresh ? 201 : 200, o);
    json_decref(o);
}

/* ---- polling and looking on the servers ---- */

/* base + path, for the relative URLs of a server's answers. */
static void join_url(const char *base, const char *path, char *out, size_t cap)
{
    if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0) {
        snprintf(out, cap, "%s", path);
        return;
    }
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(out, cap, "%.*s%s", (int)bl, base, path);
}

/* Reads the server's listing of (vendor, class, component) and adopts every variant newer
 * than min_seq that the tracker does not know yet. *found receives the highest sequence
 * adopted or already known among them. */
static secup_rc take_listing(struct trk *t, const struct trk_server_link *s, const char *vendor,
                             const char *cls, const char *comp_text, const char *comp_hex,
                             int64_t min_seq, const char *why, int64_t *found, size_t *adopted,
                             struct secup_err *err)
{
    char url[2048];
    char q[1400];
    snprintf(q, sizeof(q), "/v1/images?vendor=%s&class=%s&component=%s", vendor, cls, comp_text);
    join_url(s->url, q, url, sizeof(url));
    struct httpc_response resp;
    secup_rc rc = server_get(t, url, NULL, MAX_LISTING, &resp, err);
    if (rc == SECUP_OK && resp.status != 200)
        rc = httpc_response_error(&resp, err);
    json_t *o = rc == SECUP_OK ? json_loadb((const char *)resp.body, resp.body_len, 0, NULL) : NULL;
    httpc_response_free(&resp);
    json_t *images = json_object_get(o, "images");
    if (rc == SECUP_OK && !json_is_array(images))
        rc = secup_err_set(err, SECUP_E_NET, "server '%s': the image listing is not {\"images\": [...]}",
                           s->id);
    size_t i;
    json_t *img;
    json_array_foreach(images, i, img) {
        if (rc != SECUP_OK)
            break;
        const char *id = json_string_value(json_object_get(img, "id"));
        const char *profile = json_string_value(json_object_get(img, "profile"));
        json_int_t seq = json_integer_value(json_object_get(img, "sequence"));
        /* an image id is its manifest digest */
        uint8_t want[32];
        size_t wl = 0;
        if (!id || !profile || seq <= min_seq || strlen(id) != 64 ||
            !secup_hex_decode(id, want, sizeof(want), &wl) || wl != 32)
            continue;
        /* the listing is a hint: what is adopted is what the manifest says */
        bool known = false;
        struct db *db = db_pool_get(t->pool);
        secup_rc r2 = trk_manifest_known(db, id, &known, err);
        db_pool_put(t->pool, db);
        if (r2 == SECUP_OK && known) {
            *found = seq > *found ? seq : *found;
            continue;
        }
        char path[200], murl[2048];
        snprintf(path, sizeof(path), "/v1/images/%s/manifest", id);
        join_url(s->url, path, murl, sizeof(murl));
        struct trk_manifest m;
        struct secup_err e2;
        secup_err_clear(&e2);
        r2 = trk_manifest_fetch_verify(t, murl, want, &m, &e2);
        if (r2 == SECUP_OK && (strcmp(m.vendor, vendor) != 0 || strcmp(m.class_id, cls) != 0 ||
                               strcmp(m.component, comp_hex) != 0))
            r2 = secup_err_set(&e2, SECUP_E_VALUE, "it is for another vendor, class or component");
        bool fresh = false;
        if (r2 == SECUP_OK)
            r2 = adopt(t, s->id, &m, why, &fresh, &e2);
        if (r2 != SECUP_OK) {
            /* one bad image does not stop the others; it is not believed */
            trk_log("%s '%s': image %.16s not adopted: %s [%s]", why, s->id, id, e2.msg,
                    secup_rc_name(e2.rc));
            continue;
        }
        if (fresh)
            (*adopted)++;
        *found = m.seq > *found ? m.seq : *found;
    }
    json_decref(o);
    return rc;
}

/* One conditional GET /v1/latest (of one profile, or of any when profile is NULL); on a
 * changed answer, the listing. */
static secup_rc poll_one(struct trk *t, const struct trk_server_link *s, const char *vendor,
                         const char *cls, const char *comp_text, const char *comp_hex,
                         const char *profile, size_t *n304, size_t *adopted,
                         struct secup_err *err)
{
    char what[1300], etag[130] = "";
    snprintf(what, sizeof(what), "latest|%s|%s|%.1100s|%.63s", vendor, cls, comp_hex,
             profile ? profile : "");
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_poll_tag_get(db, s->id, what, etag, sizeof(etag), err);
    db_pool_put(t->pool, db);
    char q[1400], url[2048];
    snprintf(q, sizeof(q), "/v1/latest?vendor=%s&class=%s&component=%s%s%.63s", vendor, cls,
             comp_text, profile ? "&profile=" : "", profile ? profile : "");
    join_url(s->url, q, url, sizeof(url));
    struct httpc_response resp;
    if (rc == SECUP_OK)
        rc = server_get(t, url, etag, 64 * 1024, &resp, err);
    if (rc != SECUP_OK)
        return rc;
    long status = resp.status;
    char new_tag[130];
    snprintf(new_tag, sizeof(new_tag), "%s", resp.etag);
    if (status == 304) {
        httpc_response_free(&resp);
        (*n304)++;
        return SECUP_OK;
    }
    if (status == 404) { /* the server has nothing for it (yet) */
        httpc_response_free(&resp);
        return SECUP_OK;
    }
    if (status != 200) {
        rc = httpc_response_error(&resp, err);
        httpc_response_free(&resp);
        return rc;
    }
    json_t *o = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
    int64_t latest = (int64_t)json_integer_value(json_object_get(o, "sequence"));
    json_decref(o);
    httpc_response_free(&resp);
    int64_t newest = 0, found = 0;
    db = db_pool_get(t->pool);
    rc = trk_manifest_newest(db, vendor, cls, comp_hex, &newest, err);
    db_pool_put(t->pool, db);
    /* the newest release, every variant of it (the listing says which; what is adopted is
     * what the manifests say), and variants of the newest known sequence not yet known */
    int64_t from = newest > latest ? newest : latest;
    if (rc == SECUP_OK)
        rc = take_listing(t, s, vendor, cls, comp_text, comp_hex, from > 0 ? from - 1 : 0,
                          "poll", &found, adopted, err);
    /* the tag is kept only once the answer was acted on */
    if (rc == SECUP_OK && new_tag[0]) {
        db = db_pool_get(t->pool);
        rc = trk_poll_tag_set(db, s->id, what, new_tag, err);
        db_pool_put(t->pool, db);
    }
    return rc;
}

/* The text form of a stored (hex CBOR) component id, as the server's queries take it. */
static bool component_text(const char *hex, char *out, size_t cap)
{
    uint8_t raw[512];
    size_t n = 0;
    struct text_component_id id;
    return secup_hex_decode(hex, raw, sizeof(raw), &n) &&
           compid_from_cbor(secup_bytes_of(raw, n), &id) && compid_format(&id.id, out, cap);
}

static size_t server_links(struct trk *t, struct trk_server_link *links, struct secup_err *err)
{
    size_t n = 0;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_server_links(db, links, MAX_SERVERS, &n, err);
    db_pool_put(t->pool, db);
    return rc == SECUP_OK ? n : 0;
}

/* A poll of every server for every component the fleet runs. */
static void poll_all(struct trk *t)
{
    struct secup_err err;
    secup_err_clear(&err);
    static struct trk_server_link links[MAX_SERVERS];
    size_t n = server_links(t, links, &err);
    json_t *tuples = NULL;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_fleet_tuples(db, 0, &tuples, &err);
    db_pool_put(t->pool, db);
    if (rc != SECUP_OK) {
        trk_log("poll: %s [%s]", err.msg, secup_rc_name(rc));
        return;
    }
    size_t asked = 0, n304 = 0, adopted = 0;
    for (size_t s = 0; s < n; s++) {
        size_t i;
        json_t *o;
        json_array_foreach(tuples, i, o) {
            const char *v = json_string_value(json_object_get(o, "vendor"));
            const char *c = json_string_value(json_object_get(o, "class"));
            const char *k = json_string_value(json_object_get(o, "component"));
            char text[600];
            if (!v || !c || !k || !component_text(k, text, sizeof(text)))
                continue;
            /* the newest of any profile, and the newest of each profile consumers declared:
             * a new variant of a sequence need not change the first answer */
            json_t *profiles = json_object_get(o, "profiles");
            for (size_t p = 0; p <= json_array_size(profiles); p++) {
                const char *prof = p ? json_string_value(json_array_get(profiles, p - 1)) : NULL;
                if (p && (!prof || !req_safe_segment(prof)))
                    continue;
                asked++;
                secup_err_clear(&err);
                if (poll_one(t, &links[s], v, c, text, k, prof, &n304, &adopted, &err) !=
                    SECUP_OK)
                    trk_log("poll '%s' (%s%s%s): %s [%s]", links[s].id, text, prof ? ", " : "",
                            prof ? prof : "", err.msg, secup_rc_name(err.rc));
            }
        }
    }
    json_decref(tuples);
    if (asked)
        trk_log("polled %zu server(s): %zu question(s), %zu unchanged (304), %zu manifest(s) learnt",
                n, asked, n304, adopted);
}

/* Consumers seen since `since` that run a sequence newer than any the tracker knows: look
 * for it on the servers. What is not found and verified is not believed. */
/* Recent searches for reported sequences, so that a consumer that keeps claiming one the
 * servers do not have costs one search per LOOK_AGAIN seconds (discovery thread only). */
#define LOOKED_MAX 64
#define LOOK_AGAIN 10

static struct {
    char key[1300];
    time_t at;
} looked[LOOKED_MAX];
static size_t looked_next;

static bool looked_recently(const char *key)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < LOOKED_MAX; i++)
        if (looked[i].at && now - looked[i].at < LOOK_AGAIN && strcmp(looked[i].key, key) == 0)
            return true;
    snprintf(looked[looked_next].key, sizeof(looked[0].key), "%s", key);
    looked[looked_next].at = now;
    looked_next = (looked_next + 1) % LOOKED_MAX;
    return false;
}

static void look_for_reported(struct trk *t, int64_t since)
{
    struct secup_err err;
    secup_err_clear(&err);
    json_t *tuples = NULL;
    struct db *db = db_pool_get(t->pool);
    secup_rc rc = trk_fleet_tuples(db, since, &tuples, &err);
    db_pool_put(t->pool, db);
    if (rc != SECUP_OK)
        return;
    static struct trk_server_link links[MAX_SERVERS];
    size_t n = 0;
    bool listed = false;
    size_t i;
    json_t *o;
    json_array_foreach(tuples, i, o) {
        const char *v = json_string_value(json_object_get(o, "vendor"));
        const char *c = json_string_value(json_object_get(o, "class"));
        const char *k = json_string_value(json_object_get(o, "component"));
        const char *who = json_string_value(json_object_get(o, "consumer"));
        int64_t seq = (int64_t)json_integer_value(json_object_get(o, "sequence"));
        int64_t newest = 0;
        char text[600];
        if (!v || !c || !k || !who || !component_text(k, text, sizeof(text)))
            continue;
        db = db_pool_get(t->pool);
        rc = trk_manifest_newest(db, v, c, k, &newest, &err);
        db_pool_put(t->pool, db);
        if (rc != SECUP_OK || seq <= newest)
            continue;
        char key[1300];
        snprintf(key, sizeof(key), "%s|%s|%.1100s|%" PRId64, v, c, k, seq);
        if (looked_recently(key))
            continue;
        if (!listed) {
            n = server_links(t, links, &err);
            listed = true;
        }
        trk_log("consumer '%s' reports sequence %" PRId64 " of %s, newer than any known (%" PRId64
                "): looking on %zu server(s)",
                who, seq, text, newest, n);
        int64_t found = 0;
        size_t adopted = 0;
        for (size_t s = 0; s < n && found < seq; s++) {
            secup_err_clear(&err);
            if (take_listing(t, &links[s], v, c, text, k, newest, "report", &found, &adopted,
                             &err) != SECUP_OK)
                trk_log("report: server '%s' (%s): %s [%s]", links[s].id, text, err.msg,
                        secup_rc_name(err.rc));
        }
        if (found < seq)
            trk_log("consumer '%s': no verified manifest of sequence %" PRId64 " of %s found; "
                    "not believed", who, seq, text);
    }
    json_decref(tuples);
}

static bool stopping(struct trk *t)
{
    pthread_mutex_lock(&t->park_lock);
    bool s = t->stopping;
    pthread_mutex_unlock(&t->park_lock);
    return s;
}

void trk_discovery_kick(struct trk *t)
{
    pthread_mutex_lock(&t->disc_lock);
    t->disc_kick = true;
    pthread_cond_signal(&t->disc_cond);
    pthread_mutex_unlock(&t->disc_lock);
}

void *trk_discovery(void *arg)
{
    struct trk *t = arg;
    int64_t since = 0;             /* reports before this were looked at */
    time_t next_poll = time(NULL); /* a first poll at start */
    bool poll_now = false;
    while (!stopping(t)) {
        time_t now = time(NULL);
        if (poll_now || (t->cfg.poll_interval && now >= next_poll)) {
            poll_all(t);
            next_poll = time(NULL) + (time_t)t->cfg.poll_interval;
        }
        int64_t mark = (int64_t)time(NULL);
        look_for_reported(t, since);
        since = mark - 1; /* a report committed just after the mark is not missed */
        /* sleep until a kick or a second has passed (to notice reports and stopping) */
        pthread_mutex_lock(&t->disc_lock);
        if (!t->disc_kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&t->disc_cond, &t->disc_lock, &ts);
        }
        poll_now = t->disc_kick;
        t->disc_kick = false;
        pthread_mutex_unlock(&t->disc_lock);
    }
    return NULL;
}
