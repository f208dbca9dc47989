/* The REST API of secup-server (docs/api.md): routing, authentication, authorisation,
 * submissions, distribution. Every refusal is a JSON error with a result-code name. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compid.h"
#include "gate.h"
#include "secup/manifest.h"
#include "secup/policy.h"
#include "reqparse.h"
#include "srv.h"
#include "token.h"

#define MAX_JSON_BODY (16 * 1024)

/* ---- request helpers ---- */






/* Authenticates the bearer token; kinds is a mask of 1 << srv_kind allowed here. */
static secup_rc authenticate(struct srv *s, struct db *db, struct httpd_req *req,
                             unsigned kinds, struct srv_principal *p, struct secup_err *err)
{
    const char *h = httpd_req_header(req, "Authorization");
    char fp[65];
    char key[80];
    char hash[SRV_HEX_ID];
    bool by_cert = !h && httpd_req_client_cert_sha256(req, fp);
    if (by_cert) {
        /* mutual TLS: the verified client certificate names the principal */
        snprintf(key, sizeof(key), "c:%s", fp);
    } else {
        if (!h)
            return secup_err_set(err, SECUP_E_AUTH,
                                 "this route needs a bearer token or a client certificate");
        if (strncmp(h, "Bearer ", 7) != 0)
            return secup_err_set(err, SECUP_E_AUTH,
                                 "the Authorization header is not 'Bearer <token>'");
        if (!req_token_ok(h + 7))
            return secup_err_set(err, SECUP_E_AUTH, "malformed bearer token");
        token_hash(h + 7, hash);
        snprintf(key, sizeof(key), "t:%s", hash);
    }
    if (!cache_get(s->principals, key, p)) {
        secup_rc rc = by_cert ? store_principal_by_cert(db, fp, p, err)
                              : store_principal_by_token_hash(db, hash, p, err);
        if (rc != SECUP_OK)
            return rc;
        cache_put(s->principals, key, p);
    }
    if (p->banned)
        return secup_err_set(err, SECUP_E_BANNED, "'%s' is banned", p->id);
    if (!(kinds & (1u << p->kind)))
        return secup_err_set(err, SECUP_E_FORBIDDEN, "'%s' may not use this route", p->id);
    return SECUP_OK;
}

#define K(kind) (1u << (kind))



static void respond_rc(struct httpd_req *req, const struct secup_err *err)
{
    httpd_respond_err(req, err);
}

/* ---- location policy (§11.3.8) ---- */




static secup_rc location_check(struct httpd_req *req, const struct srv_image *img,
                               const struct srv_principal *p, struct secup_err *err)
{
    if (img->regions_deny[0] && p->region[0] && req_in_csv(img->regions_deny, p->region))
        return secup_err_set(err, SECUP_E_LOCATION, "image %.12s is not distributed to region '%s'",
                             img->id, p->region);
    if (img->regions_allow[0] && !req_in_csv(img->regions_allow, p->region))
        return secup_err_set(err, SECUP_E_LOCATION,
                             "image %.12s is distributed only to regions %s (device region '%s')",
                             img->id, img->regions_allow, p->region);
    if (img->nets_allow[0] || img->nets_deny[0]) {
        struct sockaddr_storage a;
        if (!httpd_req_peer(req, &a))
            return secup_err_set(err, SECUP_E_LOCATION, "the client address is unknown");
        if (img->nets_deny[0] && req_in_nets(img->nets_deny, &a))
            return secup_err_set(err, SECUP_E_LOCATION,
                                 "image %.12s is not distributed to this network", img->id);
        if (img->nets_allow[0] && !req_in_nets(img->nets_allow, &a))
            return secup_err_set(err, SECUP_E_LOCATION,
                                 "image %.12s is distributed only to networks %s", img->id,
                                 img->nets_allow);
    }
    return SECUP_OK;
}

/* May this principal have the image at all? */
static secup_rc right_to(struct httpd_req *req, const struct srv_image *img,
                         const struct srv_principal *p, struct secup_err *err)
{
    if (strcmp(img->status, "active") != 0)
        return secup_err_set(err, SECUP_E_QUARANTINED, "image %.12s is %s", img->id, img->status);
    if (p->kind == SRV_DEVICE) {
        if (strcmp(p->vendor, img->vendor) != 0 || strcmp(p->class_id, img->class_id) != 0)
            return secup_err_set(err, SECUP_E_FORBIDDEN,
                                 "image %.12s is for another vendor or class than device '%s'",
                                 img->id, p->id);
        return location_check(req, img, p, err);
    }
    return SECUP_OK;
}

/* ---- GET: images, manifests, payloads, latest ---- */

/* Answers with a blob; returns the bytes of it being sent (0 for a 304 or an error). */
static uint64_t send_blob(struct srv *s, struct httpd_req *req, const char *hex,
                          const char *type, struct secup_err *err)
{
    char path[SRV_PATH];
    if (!blob_path(s->cfg.blobs, hex, path, sizeof(path))) {
        secup_err_set(err, SECUP_E_IO, "stored blob name is malformed");
        respond_rc(req, err);
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        secup_err_set(err, SECUP_E_IO, "blob %.12s is missing from the store", hex);
        srv_log("ERROR %s", err->msg);
        respond_rc(req, err);
        return 0;
    }
    char etag[70];
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    httpd_set_header(req, "ETag", etag);
    httpd_set_header(req, "Accept-Ranges", "bytes");
    httpd_set_header(req, "Cache-Control", "private, max-age=0");
    const char *inm = httpd_req_header(req, "If-None-Match");
    if (inm && httpd_etag_matches(inm, etag)) {
        close(fd);
        httpd_respond(req, 304, NULL, NULL, 0);
        return 0;
    }
    uint64_t size = (uint64_t)st.st_size, off = 0, len = size;
    unsigned status = httpd_parse_range(httpd_req_header(req, "Range"), size, &off, &len);
    if (status == 416) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
        httpd_set_header(req, "Content-Range", cr);
        char msg[96];
        snprintf(msg, sizeof(msg), "range not satisfiable for %" PRIu64 " bytes", size);
        json_t *o = json_pack("{s:s, s:s}", "error", secup_rc_name(SECUP_E_VALUE), "message", msg);
        httpd_respond_json(req, 416, o);
        json_decref(o);
        return 0;
    }
    if (status == 206) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1,
                 size);
        httpd_set_header(req, "Content-Range", cr);
    }
    httpd_respond_fd(req, status, type, fd, off, len);
    return len;
}

static void get_image(struct srv *s, struct db *db, struct httpd_req *req, const char *id,
                      const char *what)
{
    struct secup_err err;
    struct srv_principal p;
    unsigned kinds = strcmp(what, "payload") == 0 ? K(SRV_DEVICE) | K(SRV_TRACKER)
                                                  : K(SRV_DEVICE) | K(SRV_TRACKER) | K(SRV_AUTHOR);
    secup_rc rc = authenticate(s, db, req, kinds, &p, &err);
    struct srv_image *img = calloc(1, sizeof(*img));
    if (rc == SECUP_OK && !img)
        rc = secup_err_set(&err, SECUP_E_NOMEM, "image record");
    if (rc == SECUP_OK && !req_is_hex(id, 64))
        rc = secup_err_set(&err, SECUP_E_HTTP, "an image id is 64 lowercase hex digits");
    if (rc == SECUP_OK && !cache_get(s->images, id, img)) {
        rc = store_image_get(db, id, img, &err);
        if (rc == SECUP_OK)
            cache_put(s->images, id, img);
    }
    if (rc == SECUP_OK && !(p.kind == SRV_AUTHOR && strcmp(p.id, img->author) == 0))
        rc = right_to(req, img, &p, &err);
    if (rc == SECUP_OK && p.kind == SRV_AUTHOR && strcmp(p.id, img->author) != 0)
        rc = secup_err_set(&err, SECUP_E_FORBIDDEN, "an Author reads only its own images");
    if (rc != SECUP_OK) {
        respond_rc(req, &err);
        free(img);
        return;
    }
    if (strcmp(what, "info") == 0) {
        json_t *o = store_image_json(img);
        httpd_respond_json(req, 200, o);
        json_decref(o);
    } else if (strcmp(what, "manifest") == 0) {
        uint64_t sent = send_blob(s, req, img->envelope_blob, "application/suit-envelope+cose",
                                  &err);
        if (p.kind == SRV_DEVICE && sent)
            srv_history_add(s, img->id, p.id, "manifest", (int64_t)sent);
    } else {
        if (!img->payload_blob[0]) {
            secup_err_set(&err, SECUP_E_NOENT, "image %.12s has no detached payload here", id);
            respond_rc(req, &err);
        } else {
            uint64_t sent = send_blob(s, req, img->payload_blob, "application/octet-stream", &err);
            if (p.kind == SRV_DEVICE && sent)
                srv_history_add(s, img->id, p.id, "payload", (int64_t)sent);
        }
    }
    free(img);
}

static secup_rc query_filters(struct httpd_req *req, const struct srv_principal *p,
                              char vendor[33], char cls[33], char *comp, size_t cap,
                              struct secup_err *err)
{
    const char *v = httpd_req_query(req, "vendor");
    const char *c = httpd_req_query(req, "class");
    const char *k = httpd_req_query(req, "component");
    vendor[0] = cls[0] = comp[0] = '\0';
    if (v && !req_parse_id16(v, vendor))
        return secup_err_set(err, SECUP_E_HTTP, "vendor must be 32 hex digits or a UUID");
    if (c && !req_parse_id16(c, cls))
        return secup_err_set(err, SECUP_E_HTTP, "class must be 32 hex digits or a UUID");
    if (k && !req_parse_component(k, comp, cap))
        return secup_err_set(err, SECUP_E_HTTP, "component '%.64s' is not a component identifier", k);
    if (p->kind == SRV_DEVICE) {
        if ((vendor[0] && strcmp(vendor, p->vendor) != 0) ||
            (cls[0] && strcmp(cls, p->class_id) != 0))
            return secup_err_set(err, SECUP_E_FORBIDDEN, "a device sees only its own class");
        snprintf(vendor, 33, "%s", p->vendor);
        snprintf(cls, 33, "%s", p->class_id);
    }
    return SECUP_OK;
}

static void list_images(struct srv *s, struct db *db, struct httpd_req *req)
{
    struct secup_err err;
    struct srv_principal p;
    char vendor[33], cls[33], comp[256];
    secup_rc rc = authenticate(s, db, req, K(SRV_DEVICE) | K(SRV_TRACKER) | K(SRV_AUTHOR), &p, &err);
    if (rc == SECUP_OK)
        rc = query_filters(req, &p, vendor, cls, comp, sizeof(comp), &err);
    json_t *list = NULL;
    if (rc == SECUP_OK)
        rc = store_image_list(db, vendor[0] ? vendor : NULL, cls[0] ? cls : NULL,
                              comp[0] ? comp : NULL, true, &list, &err);
    if (rc != SECUP_OK) {
        respond_rc(req, &err);
        return;
    }
    json_t *o = json_pack("{s:o}", "images", list);
    httpd_respond_json(req, 200, o);
    json_decref(o);
}

static void latest(struct srv *s, struct db *db, struct httpd_req *req)
{
    struct secup_err err;
    struct srv_principal p;
    char vendor[33], cls[33], comp[256];
    secup_rc rc = authenticate(s, db, req, K(SRV_DEVICE) | K(SRV_TRACKER), &p, &err);
    if (rc == SECUP_OK)
        rc = query_filters(req, &p, vendor, cls, comp, sizeof(comp), &err);
    if (rc == SECUP_OK && (!cls[0] || !comp[0]))
        rc = secup_err_set(&err, SECUP_E_HTTP, "latest needs class and component");
    struct srv_image *img = rc == SECUP_OK ? calloc(1, sizeof(*img)) : NULL;
    if (rc == SECUP_OK && !img)
        rc = secup_err_set(&err, SECUP_E_NOMEM, "image record");
    const char *profile = httpd_req_query(req, "profile");
    if (rc == SECUP_OK && profile && (strlen(profile) > 63 || !req_safe_segment(profile)))
        rc = secup_err_set(&err, SECUP_E_HTTP, "profile must be a profile name");
    char key[CACHE_KEY_MAX];
    snprintf(key, sizeof(key), "%s|%s|%.100s|%s", vendor, cls, comp, profile ? profile : "");
    if (rc == SECUP_OK && !cache_get(s->latest, key, img)) {
        rc = store_latest(db, vendor[0] ? vendor : NULL, cls, comp, profile, img, &err);
        if (rc == SECUP_OK)
            cache_put(s->latest, key, img);
    }
    if (rc == SECUP_OK && p.kind == SRV_DEVICE)
        rc = location_check(req, img, &p, &err);
    if (rc != SECUP_OK) {
        respond_rc(req, &err);
        free(img);
        return;
    }
    char etag[70];
    snprintf(etag, sizeof(etag), "\"%s\"", img->id);
    httpd_set_header(req, "ETag", etag);
    httpd_set_header(req, "Cache-Control", "private, max-age=0");
    const char *inm = httpd_req_header(req, "If-None-Match");
    if (inm && httpd_etag_matches(inm, etag)) {
        httpd_respond(req, 304, NULL, NULL, 0);
        free(img);
        return;
    }
    char murl[128], purl[128];
    snprintf(murl, sizeof(murl), "/v1/images/%s/manifest", img->id);
    snprintf(purl, sizeof(purl), "/v1/images/%s/payload", img->id);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "id", img->id, "sequence",
                          (json_int_t)img->seq, "version", img->version, "profile", img->profile,
                          "manifest", murl, "payload_size", (json_int_t)img->payload_size,
                          "image_size", (json_int_t)img->image_size);
    if (img->payload_blob[0])
        json_object_set_new(o, "payload", json_string(purl));
    httpd_respond_json(req, 200, o);
    json_decref(o);
    free(img);
}

/* ---- POST /v1/images: a submission ---- */

struct upload {
    struct srv *s;
    struct srv_principal author;
    uint8_t *env;
    size_t env_len;
    struct blob_writer *payload;
    bool payload_done;
};

static secup_rc upload_part(void *ctx, struct httpd_req *req, const struct httpd_part *part,
                            const uint8_t *p, size_t n, struct secup_err *err)
{
    (void)req;
    struct upload *u = ctx;
    if (strcmp(part->name, "envelope") == 0) {
        if (n > u->s->cfg.max_envelope - u->env_len)
            return secup_err_set(err, SECUP_E_LIMIT_SIZE, "envelope larger than %" PRIu64 " bytes",
                                 u->s->cfg.max_envelope);
        if (!u->env) {
            u->env = malloc(u->s->cfg.max_envelope);
            if (!u->env)
                return secup_err_set(err, SECUP_E_NOMEM, "envelope buffer");
        }
        memcpy(u->env + u->env_len, p, n);
        u->env_len += n;
        return SECUP_OK;
    }
    if (strcmp(part->name, "payload") == 0) {
        if (!u->payload) {
            if (part->offset != 0)
                return secup_err_set(err, SECUP_E_HTTP, "payload part given twice");
            secup_rc rc = blob_begin(u->s->cfg.blobs, u->s->cfg.max_payload, &u->payload, err);
            if (rc != SECUP_OK)
                return rc;
        }
        secup_rc rc = blob_write(u->payload, p, n, err);
        if (rc == SECUP_E_LIMIT_BODY)
            secup_err_set(err, SECUP_E_LIMIT_BODY, "payload larger than %" PRIu64 " bytes",
                          u->s->cfg.max_payload);
        return rc;
    }
    return secup_err_set(err, SECUP_E_HTTP, "unknown form field '%.64s' (envelope, payload)",
                         part->name);
}

static void upload_cleanup(void *ctx, bool completed)
{
    (void)completed;
    struct upload *u = ctx;
    free(u->env);
    blob_discard(u->payload);
    free(u);
}

/* Stores the envelope as a blob and commits the payload blob: both durable before the
 * metadata that names them. */
static secup_rc store_blobs(struct upload *u, struct srv_image *img, struct secup_err *err)
{
    struct blob_writer *w = NULL;
    secup_rc rc = blob_begin(u->s->cfg.blobs, u->env_len, &w, err);
    if (rc == SECUP_OK)
        rc = blob_write(w, u->env, u->env_len, err);
    if (rc == SECUP_OK)
        rc = blob_finish(w, err);
    if (rc == SECUP_OK) {
        snprintf(img->envelope_blob, sizeof(img->envelope_blob), "%s", blob_digest_hex(w));
        rc = blob_commit(w, err);
    }
    blob_discard(w);
    if (rc == SECUP_OK && u->payload)
        rc = blob_commit(u->payload, err);
    return rc;
}

static secup_rc record(struct upload *u, struct db *db, struct srv_image *img, bool flagged,
                       bool *banned, struct secup_err *err)
{
    secup_rc rc = db_begin(db, err);
    if (rc != SECUP_OK)
        return rc;
    /* the sequence number again, now under the write lock */
    for (uint32_t k = 0; rc == SECUP_OK && !flagged && k < img->n_components; k++) {
        int64_t max = 0;
        rc = store_max_seq(db, img->vendor, img->class_id, img->components[k], &max, err);
        if (rc == SECUP_OK && img->seq < max)
            rc = secup_err_set(err, SECUP_E_ROLLBACK,
                               "component %s: sequence number %" PRId64
                               " is not greater than the stored %" PRId64,
                               img->component_names[k], img->seq, max);
    }
    if (rc == SECUP_OK)
        rc = store_image_add(db, img, err);
    char detail[512];
    snprintf(detail, sizeof(detail), "seq %" PRId64 " %s%s%s", img->seq, img->profile,
             flagged ? ": " : "", flagged ? img->reason : "");
    if (rc == SECUP_OK)
        rc = store_event(db, u->author.id, flagged ? "quarantine" : "submit", img->id, detail, err);
    if (rc == SECUP_OK && flagged) {
        int64_t count = 0;
        rc = store_flag(db, u->author.id, &count, err);
        if (rc == SECUP_OK && (uint64_t)count >= u->s->cfg.ban_after) {
            rc = store_set_banned(db, u->author.id, true, err);
            if (rc == SECUP_OK)
                rc = store_event(db, "server", "ban", u->author.id,
                                 "flagged submissions reached the limit", err);
            *banned = true;
        }
    }
    if (rc == SECUP_OK && !flagged)
        rc = srv_notify_queue(u->s, db, img, err);
    if (rc == SECUP_OK)
        rc = db_commit(db, err);
    if (rc != SECUP_OK) {
        db_rollback(db);
        return rc;
    }
    cache_clear(u->s->latest);
    cache_clear(u->s->images);
    if (*banned)
        cache_clear(u->s->principals);
    return rc;
}

static void upload_done(void *ctx, struct httpd_req *req)
{
    struct upload *u = ctx;
    struct secup_err err;
    secup_err_clear(&err);
    if (!u->env_len) {
        httpd_respond_error(req, SECUP_E_MISSING, "the form has no 'envelope' part");
        return;
    }
    secup_rc rc = SECUP_OK;
    if (u->payload)
        rc = blob_finish(u->payload, &err);
    struct srv_image *img = calloc(1, sizeof(*img));
    if (rc == SECUP_OK && !img)
        rc = secup_err_set(&err, SECUP_E_NOMEM, "image record");
    struct db *db = db_pool_get(u->s->pool);
    struct gate_out out;
    if (rc == SECUP_OK) {
        struct gate_in in = { &u->s->cfg, &u->author, secup_bytes_of(u->env, u->env_len),
                              u->payload, u->s->inspection_key };
        rc = gate_check(&in, db, img, &out, &err);
    }
    bool flagged = rc == SECUP_E_FLAGGED;
    bool banned = false;
    if (rc == SECUP_OK || flagged) {
        secup_rc r2 = store_blobs(u, img, &err);
        if (r2 == SECUP_OK)
            r2 = record(u, db, img, flagged, &banned, &err);
        if (r2 != SECUP_OK)
            rc = r2;
    }
    db_pool_put(u->s->pool, db);
    if (rc == SECUP_OK) {
        srv_log("accepted image %s from '%s': seq %" PRId64 ", %s", img->id, u->author.id,
                img->seq, img->profile);
        json_t *o = store_image_json(img);
        httpd_set_header(req, "Location", "/v1/images");
        httpd_respond_json(req, 201, o);
        json_decref(o);
    } else {
        if (flagged) {
            srv_log("quarantined image %s from '%s': %s%s", img->id, u->author.id, out.reason,
                    banned ? "; the Author is now banned" : "");
            secup_err_set(&err, SECUP_E_FLAGGED, "image %s quarantined: %s%s", img->id,
                          out.reason, banned ? "; the Author is banned" : "");
        } else {
            srv_log("refused a submission from '%s': %s [%s]", u->author.id, err.msg,
                    secup_rc_name(err.rc));
        }
        respond_rc(req, &err);
    }
    free(img);
}

static const struct httpd_body_ops upload_ops = { NULL, upload_part, upload_done, upload_cleanup };

static void submit(struct srv *s, struct db *db, struct httpd_req *req)
{
    struct secup_err err;
    struct upload *u = calloc(1, sizeof(*u));
    if (!u) {
        httpd_respond_error(req, SECUP_E_NOMEM, "upload state");
        return;
    }
    u->s = s;
    secup_rc rc = authenticate(s, db, req, K(SRV_AUTHOR), &u->author, &err);
    const char *ct = httpd_req_header(req, "Content-Type");
    if (rc == SECUP_OK && (!ct || strncmp(ct, "multipart/form-data", 19) != 0))
        rc = secup_err_set(&err, SECUP_E_HTTP,
                           "a submission is multipart/form-data with parts 'envelope' and 'payload'");
    uint64_t declared = 0;
    if (rc == SECUP_OK && s->cfg.storage_quota && httpd_req_content_length(req, &declared) &&
        blob_usage(s->cfg.blobs) + declared > s->cfg.storage_quota)
        rc = secup_err_set(&err, SECUP_E_NOSPACE, "the storage quota of %" PRIu64 " bytes is reached",
                           s->cfg.storage_quota);
    if (rc != SECUP_OK) {
        free(u);
        respond_rc(req, &err);
        return;
    }
    httpd_req_accept_multipart(req, s->cfg.max_envelope + s->cfg.max_payload + 64 * 1024,
                               &upload_ops, u);
}

/* ---- POST /v1/subscriptions ---- */

struct jbody {
    struct srv *s;
    struct srv_principal p;
    char buf[MAX_JSON_BODY];
    size_t len;
};

static secup_rc jbody_data(void *ctx, struct httpd_req *req, const uint8_t *p, size_t n,
                           struct secup_err *err)
{
    (void)req;
    struct jbody *b = ctx;
    if (n >= sizeof(b->buf) - b->len)
        return secup_err_set(err, SECUP_E_LIMIT_BODY, "body larger than %d bytes", MAX_JSON_BODY);
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return SECUP_OK;
}

static void jbody_cleanup(void *ctx, bool completed)
{
    (void)completed;
    free(ctx);
}

static secup_rc sub_field(json_t *o, const char *key, char out[33], struct secup_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        snprintf(out, 33, "*");
        return SECUP_OK;
    }
    if (!json_is_string(v) || (strcmp(json_string_value(v), "*") != 0 &&
                               !req_parse_id16(json_string_value(v), out)))
        return secup_err_set(err, SECUP_E_JSON, "\"%s\" must be \"*\", 32 hex digits or a UUID", key);
    if (strcmp(json_string_value(v), "*") == 0)
        snprintf(out, 33, "*");
    return SECUP_OK;
}

static void subscribe_done(void *ctx, struct httpd_req *req)
{
    struct jbody *b = ctx;
    struct secup_err err;
    json_error_t je;
    json_t *o = json_loadb(b->buf, b->len, JSON_REJECT_DUPLICATES, &je);
    struct srv_subscription sub;
    memset(&sub, 0, sizeof(sub));
    secup_rc rc = o && json_is_object(o) ? SECUP_OK
                                         : secup_err_set(&err, SECUP_E_JSON, "body: %s",
                                                         o ? "not an object" : je.text);
    const char *key;
    json_t *v;
    if (rc == SECUP_OK) {
        json_object_foreach(o, key, v) {
            if (strcmp(key, "url") && strcmp(key, "vendor") && strcmp(key, "class")) {
                rc = secup_err_set(&err, SECUP_E_JSON, "unknown key \"%.32s\"", key);
                break;
            }
        }
    }
    const char *url = rc == SECUP_OK ? json_string_value(json_object_get(o, "url")) : NULL;
    if (rc == SECUP_OK && (!url || strlen(url) >= sizeof(sub.url) ||
                           (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)))
        rc = secup_err_set(&err, SECUP_E_JSON, "\"url\" must be an http(s) URL of fewer than %zu characters",
                           sizeof(sub.url));
    if (rc == SECUP_OK)
        rc = sub_field(o, "vendor", sub.vendor, &err);
    if (rc == SECUP_OK)
        rc = sub_field(o, "class", sub.class_id, &err);
    if (rc == SECUP_OK) {
        snprintf(sub.url, sizeof(sub.url), "%s", url);
        snprintf(sub.tracker, sizeof(sub.tracker), "%s", b->p.id);
        uint8_t d[32];
        char seed[2048];
        snprintf(seed, sizeof(seed), "%s\n%s\n%s\n%s", sub.tracker, sub.url, sub.vendor,
                 sub.class_id);
        rc = secup_sha256(secup_bytes_of(seed, strlen(seed)), d, &err);
        secup_hex_encode(secup_bytes_of(d, 16), sub.id, sizeof(sub.id));
    }
    json_decref(o);
    if (rc == SECUP_OK) {
        struct db *db = db_pool_get(b->s->pool);
        rc = store_subscribe(db, &sub, &err);
        if (rc == SECUP_OK)
            rc = store_event(db, sub.tracker, "subscribe", sub.id, sub.url, &err);
        db_pool_put(b->s->pool, db);
    }
    if (rc != SECUP_OK) {
        respond_rc(req, &err);
        return;
    }
    json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "id", sub.id, "url", sub.url, "vendor",
                          sub.vendor, "class", sub.class_id);
    httpd_respond_json(req, 201, r);
    json_decref(r);
}

static const struct httpd_body_ops subscribe_ops = { jbody_data, NULL, subscribe_done,
                                                     jbody_cleanup };

static void subscribe(struct srv *s, struct db *db, struct httpd_req *req)
{
    struct secup_err err;
    struct jbody *b = calloc(1, sizeof(*b));
    if (!b) {
        httpd_respond_error(req, SECUP_E_NOMEM, "body buffer");
        return;
    }
    b->s = s;
    secup_rc rc = authenticate(s, db, req, K(SRV_TRACKER), &b->p, &err);
    if (rc != SECUP_OK) {
        free(b);
        respond_rc(req, &err);
        return;
    }
    httpd_req_accept_body(req, MAX_JSON_BODY, &subscribe_ops, b);
}

/* ---- the router ---- */

void srv_handle(void *app, struct httpd_req *req)
{
    struct srv *s = app;
    struct req_route r;
    r.method = httpd_req_method(req);
    if (!req_split_path(httpd_req_path(req), &r)) {
        if (httpd_req_limit(req, SRV_RATE_OTHER))
            httpd_respond_error(req, SECUP_E_HTTP, "malformed path: segments are A-Z a-z 0-9 . _ -");
        return;
    }
    static const char *const health[] = { "v1", "health" };
    static const char *const images[] = { "v1", "images" };
    static const char *const image[] = { "v1", "images", NULL };
    static const char *const manifest[] = { "v1", "images", NULL, "manifest" };
    static const char *const payload[] = { "v1", "images", NULL, "payload" };
    static const char *const latest_p[] = { "v1", "latest" };
    static const char *const subs[] = { "v1", "subscriptions" };

    bool download = req_match(&r, "GET", 4, manifest) || req_match(&r, "GET", 4, payload) ||
                    req_match(&r, "GET", 3, image) || req_match(&r, "GET", 2, latest_p);
    if (!httpd_req_limit(req, download ? SRV_RATE_DOWNLOAD
                              : req_match(&r, "POST", 2, images) ? SRV_RATE_UPLOAD
                                                                 : SRV_RATE_OTHER))
        return; /* 429 with Retry-After */
    if (req_match(&r, "GET", 2, health)) {
        json_t *o = json_pack("{s:s, s:s}", "status", "ok", "server", s->cfg.id);
        httpd_respond_json(req, 200, o);
        json_decref(o);
        return;
    }
    if (cache_stamp_changed(s->cfg.dir, &s->stamp)) {
        /* the administrator changed the store: forget what was cached */
        cache_clear(s->principals);
        cache_clear(s->latest);
        cache_clear(s->images);
    }
    struct db *db = db_pool_get(s->pool);
    if (req_match(&r, "POST", 2, images))
        submit(s, db, req);
    else if (req_match(&r, "GET", 2, images))
        list_images(s, db, req);
    else if (req_match(&r, "GET", 3, image))
        get_image(s, db, req, r.seg[2], "info");
    else if (req_match(&r, "GET", 4, manifest))
        get_image(s, db, req, r.seg[2], "manifest");
    else if (req_match(&r, "GET", 4, payload))
        get_image(s, db, req, r.seg[2], "payload");
    else if (req_match(&r, "GET", 2, latest_p))
        latest(s, db, req);
    else if (req_match(&r, "POST", 2, subs))
        subscribe(s, db, req);
    else
        httpd_respond_error(req, SECUP_E_NOENT, "no route %s %.200s", r.method,
                            httpd_req_path(req));
    db_pool_put(s->pool, db);
}
