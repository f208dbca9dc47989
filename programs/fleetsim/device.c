/* One simulated device: its steps and what it does with each answer (fleet.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fleet.h"
#include "secup/file.h"
#include "secup/status.h"
#include "state.h"

#define MAX_CLOCK_SKEW 300
#define RETRY_MAX_S 30
#define MAX_ENVELOPE (1024u * 1024u)

struct install {
    uint8_t cmd[SECUP_COMMAND_MAX_SIZE + 1024];
    size_t cmd_len;
    struct secup_command_msg c;    /* views into cmd */
    bool from_command;             /* false: download-only */
    char manifest_url[FLEET_URL_MAX];
    char urls[SECUP_COMMAND_MAX_URIS][FLEET_URL_MAX];
    uint32_t n_urls, url_i, attempts;
    uint8_t *manifest;
    size_t manifest_len;
    struct secup_envelope *env;
    uint8_t digest[32];            /* the manifest's */
    uint64_t seq;
    struct secup_image_info info;
    struct secup_slot slot;
    struct secup_stream *stream;
    uint64_t started_ms;
};

/* ---- the slot that keeps nothing: the pipeline checks size and digest on the way ---- */

static secup_rc null_write(struct secup_slot *s, uint64_t off, struct secup_bytes d,
                           struct secup_err *err)
{
    if (off + d.len > s->capacity)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "the image is larger than the simulated slot (%llu bytes)",
                             (unsigned long long)s->capacity);
    return SECUP_OK;
}
static secup_rc null_read(struct secup_slot *s, uint64_t off, uint8_t *buf, size_t len,
                          struct secup_err *err)
{
    (void)s;
    (void)off;
    (void)buf;
    (void)len;
    return secup_err_set(err, SECUP_E_STATE, "a simulated slot keeps no bytes");
}
static secup_rc null_sync(struct secup_slot *s, struct secup_err *err)
{
    (void)s;
    (void)err;
    return SECUP_OK;
}
static void null_close(struct secup_slot *s)
{
    s->ops = NULL;
}
static const struct secup_slot_ops null_ops = { "simulated", null_write, null_read, null_sync,
                                                null_close };

/* ---- helpers ---- */

static void say(const struct dev *d, const char *fmt, ...) SECUP_PRINTF(2, 3);
static void say(const struct dev *d, const char *fmt, ...)
{
    if (!d->f->o.verbose)
        return;
    char line[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fleet_log(d->f, "%s: %s", d->id, line);
}

static void install_free(struct install *ins)
{
    if (!ins)
        return;
    secup_stream_free(ins->stream);
    free(ins->manifest);
    free(ins->env);
    free(ins);
}

/* Tries again later: transport failures and "later" answers, with capped back-off. */
static void retry_later(struct dev *d, const char *what, secup_rc rc, const char *msg)
{
    d->f->errors++;
    d->delay_s = d->delay_s ? d->delay_s * 2 : 1;
    if (d->delay_s > RETRY_MAX_S)
        d->delay_s = RETRY_MAX_S;
    /* a little spread so that a fleet does not come back in step */
    uint64_t jitter = (uint64_t)(d->idx * 7919u) % 1000u;
    d->wake_ms = fleet_now_ms() + (uint64_t)d->delay_s * 1000u + jitter;
    fleet_log(d->f, "%s: %s: %s [%s]; again in %u s", d->id, what, msg, secup_rc_name(rc), d->delay_s);
}

static void step_done(struct dev *d, enum dev_step s)
{
    d->busy = false;
    lat_add(&d->f->l_step[s], fleet_now_ms() - d->req_start_ms);
}

static bool start(struct dev *d, enum dev_step s, const struct httpc_config *hc,
                  const struct httpc_request *rq, httpc_done_fn done)
{
    struct secup_err err;
    d->f->requests[s]++;
    d->req_start_ms = fleet_now_ms();
    secup_rc rc = httpc_multi_start(d->f->multi, hc, rq, done, d, &err);
    if (rc != SECUP_OK) {
        retry_later(d, "request", rc, err.msg);
        return false;
    }
    d->busy = true;
    return true;
}

static void tracker_url(const struct dev *d, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", d->f->o.tracker_url, path);
}

/* The URL of a URI from a command: absolute, or a path on the configured server. */
static secup_rc resolve(const struct fleet *f, struct secup_bytes uri, char *out, size_t cap,
                        struct secup_err *err)
{
    if (uri.len == 0 || memchr(uri.ptr, '\0', uri.len))
        return secup_err_set(err, SECUP_E_VALUE, "an empty URI");
    int n;
    if (uri.ptr[0] == '/' && f->o.server_url)
        n = snprintf(out, cap, "%s%.*s", f->o.server_url, (int)uri.len, (const char *)uri.ptr);
    else
        n = snprintf(out, cap, "%.*s", (int)uri.len, (const char *)uri.ptr);
    if (n < 0 || (size_t)n >= cap)
        return secup_err_set(err, SECUP_E_LIMIT, "a URI of %zu bytes", uri.len);
    if (strncmp(out, "https://", 8) != 0 && strncmp(out, "http://", 7) != 0)
        return secup_err_set(err, SECUP_E_VALUE, "'%s' is neither an http(s) URL nor a path on the configured server",
                             out);
    return SECUP_OK;
}

/* The server token goes only to the configured server (anywhere when none is configured). */
static const char *token_for(const struct fleet *f, const char *url)
{
    if (!f->server_token[0])
        return NULL;
    if (!f->o.server_url)
        return f->server_token;
    size_t n = strlen(f->o.server_url);
    if (strncmp(url, f->o.server_url, n) == 0 && (url[n] == '/' || url[n] == '\0'))
        return f->server_token;
    return NULL;
}

/* The simulated component's index in m (n_components when it has none). Download-only
 * without --initial simulates the manifest's first component. */
static uint32_t comp_index(const struct fleet *f, const struct secup_manifest *m)
{
    if (f->comp.n_parts == 0)
        return m->n_components > 0 ? 0 : m->n_components;
    uint32_t k = 0;
    while (k < m->n_components && !secup_component_id_equal(&m->components[k], &f->comp))
        k++;
    return k;
}

/* ---- register ---- */

static void on_register(void *ctx, secup_rc rc, struct httpc_response *resp, struct secup_err *err)
{
    struct dev *d = ctx;
    step_done(d, STEP_REGISTER);
    if (rc != SECUP_OK) {
        retry_later(d, "register", rc, err->msg);
        return;
    }
    if (resp->status != 201) {
        struct secup_err e;
        rc = httpc_response_error(resp, &e);
        retry_later(d, "register", rc, e.msg);
        return;
    }
    json_t *root = json_loadb((const char *)resp->body, resp->body_len, 0, NULL);
    const char *token = json_string_value(json_object_get(root, "token"));
    if (!token || !token[0] || strlen(token) >= sizeof(d->token)) {
        json_decref(root);
        retry_later(d, "register", SECUP_E_JSON, "the tracker answered 201 without a usable token");
        return;
    }
    memcpy(d->token, token, strlen(token) + 1);
    json_decref(root);
    d->delay_s = 0;
    d->report_due = true;
    dev_save(d);
    say(d, "registered");
}

static void do_register(struct dev *d)
{
    char url[FLEET_URL_MAX];
    json_t *body = json_pack("{s:s, s:s, s:s}", "id", d->id, "key", d->pub_pem, "kind", "device");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        retry_later(d, "register", SECUP_E_NOMEM, "no memory for the registration");
        return;
    }
    tracker_url(d, "/v1/register", url, sizeof(url));
    struct httpc_request rq = { .method = "POST", .url = url, .bearer = d->f->enrol_token,
                                .body = (const uint8_t *)text, .body_len = strlen(text),
                                .content_type = "application/json" };
    start(d, STEP_REGISTER, &d->f->tracker_http, &rq, on_register);
    free(text);
}

/* ---- report ---- */

static void on_report(void *ctx, secup_rc rc, struct httpc_response *resp, struct secup_err *err)
{
    struct dev *d = ctx;
    struct fleet *f = d->f;
    step_done(d, STEP_REPORT);
    if (rc == SECUP_OK && resp->status != 200) {
        struct secup_err e;
        rc = httpc_response_error(resp, &e);
        if (resp->status == 409 && rc == SECUP_E_REPLAY) {
            /* a counter the tracker saw already (a lost answer): the next one is higher */
            d->report_due = true;
            f->errors++;
            return;
        }
        d->report_due = true; /* still to be said: before any poll */
        retry_later(d, "report", rc, e.msg);
        return;
    }
    if (rc != SECUP_OK) {
        d->report_due = true;
        retry_later(d, "report", rc, err->msg);
        return;
    }
    d->delay_s = 0;
    d->last_report_ms = fleet_now_ms();
    say(d, "report %llu accepted", (unsigned long long)d->report_counter);
    bool was_settled = dev_settled(d);
    d->reported_seq = d->seq;
    d->reported_failure = d->has_last && strcmp(d->last_code, "OK") != 0;
    if (d->cmd_at_ms && !d->ins) {
        /* the result of the install command is at the tracker now */
        lat_add(&f->l_update, d->last_report_ms - d->cmd_at_ms);
        d->cmd_at_ms = 0;
        f->last_update_epoch_ms = fleet_epoch_ms();
    }
    if (!was_settled && dev_settled(d))
        say(d, "settled: runs sequence %llu%s", (unsigned long long)d->seq,
            d->reported_failure ? " (its last install failed)" : "");
    if (d->dark_until_ms == UINT64_MAX || d->dark_until_ms > fleet_now_ms()) {
        if (!d->dark && d->dark_until_ms) {
            d->dark = true; /* registered and reported: now it goes off line */
            say(d, "goes off line");
        }
    }
}

static void do_report(struct dev *d)
{
    static struct secup_status st;
    static uint8_t out[SECUP_STATUS_MAX_SIGNED_SIZE + 512];
    struct fleet *f = d->f;
    struct secup_err err;
    memset(&st, 0, sizeof(st));
    st.reporter = secup_bytes_of(d->id, strlen(d->id));
    st.counter = ++d->report_counter;
    dev_save(d); /* a counter once used is never used again, even across runs */
    st.time = (uint64_t)time(NULL);
    st.n_components = 1;
    struct secup_status_component *sc = &st.components[0];
    sc->id = secup_bytes_of(f->comp_id, f->comp_id_len);
    sc->seq = d->seq;
    sc->version = secup_bytes_of(d->version, strlen(d->version));
    sc->slot = d->slot;
    memcpy(sc->digest, d->digest, 32);
    if (d->has_last) {
        st.has_last = true;
        st.last_id = secup_bytes_of(d->last_id, 32);
        st.last_code = secup_bytes_of(d->last_code, strlen(d->last_code));
        st.last_reason = secup_bytes_of(d->last_reason, strlen(d->last_reason));
        st.last_time = d->last_time;
    }
    size_t len = 0;
    secup_rc rc = secup_status_sign(&st, d->key, out, sizeof(out), &len, &err);
    if (rc != SECUP_OK) {
        retry_later(d, "signing the report", rc, err.msg);
        return;
    }
    char url[FLEET_URL_MAX];
    tracker_url(d, "/v1/status", url, sizeof(url));
    struct httpc_request rq = { .method = "POST", .url = url, .bearer = d->token, .body = out,
                                .body_len = len, .content_type = "application/cose" };
    d->report_due = false;
    if (!start(d, STEP_REPORT, &f->tracker_http, &rq, on_report))
        d->report_due = true;
}

/* ---- installing ---- */

/* The result of an install: recorded in the simulated state, and reported next. */
static void finish_install(struct dev *d, secup_rc rc, const char *reason)
{
    struct fleet *f = d->f;
    struct install *ins = d->ins;
    bool from_command = ins->from_command;
    lat_add(&f->l_download, fleet_now_ms() - ins->started_ms);
    d->has_last = true;
    memcpy(d->last_id, ins->digest, 32);
    d->last_time = (uint64_t)time(NULL);
    if (rc == SECUP_OK && d->fails) {
        /* the new image boots on trial, fails its health check, and the device falls
         * back to the slot it ran (the agent's boot stage, simulated) */
        snprintf(d->last_code, sizeof(d->last_code), "%s", secup_rc_name(SECUP_E_POLICY));
        snprintf(d->last_reason, sizeof(d->last_reason),
                 "health check failed (simulated) on sequence %llu; fell back to slot %c",
                 (unsigned long long)ins->seq, d->slot ? 'B' : 'A');
        f->fell_back++;
        f->installs_failed++;
        say(d, "sequence %llu failed its health check: fell back", (unsigned long long)ins->seq);
    } else if (rc == SECUP_OK) {
        d->slot ^= 1u;
        d->seq = ins->seq;
        memcpy(d->digest, ins->info.digest.bytes.ptr, 32);
        uint32_t k = comp_index(f, &ins->env->manifest);
        if (k < ins->env->manifest.n_components)
            secup_manifest_version_text(&ins->env->manifest, &ins->env->manifest.components[k],
                                    d->version, sizeof(d->version));
        snprintf(d->last_code, sizeof(d->last_code), "OK");
        d->last_reason[0] = '\0';
        f->installs_ok++;
        say(d, "installed sequence %llu into slot %c", (unsigned long long)d->seq, d->slot ? 'B' : 'A');
    } else {
        snprintf(d->last_code, sizeof(d->last_code), "%s", secup_rc_name(rc));
        snprintf(d->last_reason, sizeof(d->last_reason), "%.199s", reason);
        f->installs_failed++;
        fleet_log(f, "%s: install of sequence %llu failed: %s [%s]", d->id,
                  (unsigned long long)ins->seq, reason, secup_rc_name(rc));
    }
    if (from_command)
        d->cmd_counter = ins->c.counter; /* acted on: only now the counter (command.h) */
    install_free(ins);
    if (from_command)
        dev_save(d);
    d->ins = NULL;
    d->delay_s = 0;
    if (from_command) {
        d->report_due = true;
    } else {
        d->finished = true;
        f->last_done_epoch_ms = fleet_epoch_ms();
    }
}

/* A failed fetch: again (the next mirror, then with back-off) until the attempts are used. */
static void fetch_failed(struct dev *d, const char *what, secup_rc rc, const char *msg,
                         bool transient)
{
    struct install *ins = d->ins;
    if (transient && ++ins->attempts < d->f->o.attempts) {
        if (ins->n_urls)
            ins->url_i = (ins->url_i + 1) % ins->n_urls;
        retry_later(d, what, rc, msg);
        return;
    }
    char reason[300];
    snprintf(reason, sizeof(reason), "%s: %.280s", what, msg);
    finish_install(d, rc, reason);
}

static bool transient_status(long s)
{
    return s == 408 || s == 429 || s >= 500;
}

static bool sink_stream(void *ctx, const uint8_t *p, size_t n, struct secup_err *err)
{
    struct dev *d = ctx;
    d->f->bytes_payload += n;
    return secup_stream_write(d->ins->stream, secup_bytes_of(p, n), err) == SECUP_OK;
}

static void on_payload(void *ctx, secup_rc rc, struct httpc_response *resp, struct secup_err *err)
{
    struct dev *d = ctx;
    struct install *ins = d->ins;
    step_done(d, STEP_PAYLOAD);
    struct secup_err e;
    secup_err_clear(&e);
    if (rc != SECUP_OK) {
        bool transient = rc == SECUP_E_NET || rc == SECUP_E_TIMEOUT;
        secup_stream_free(ins->stream);
        ins->stream = NULL;
        fetch_failed(d, "payload", rc, err->msg, transient);
        return;
    }
    if (resp->status != 200) {
        rc = httpc_response_error(resp, &e);
        secup_stream_free(ins->stream);
        ins->stream = NULL;
        fetch_failed(d, "payload", rc, e.msg, transient_status(resp->status));
        return;
    }
    rc = secup_stream_finish(ins->stream, &e);
    finish_install(d, rc, e.msg);
}

static void fetch_payload(struct dev *d)
{
    struct install *ins = d->ins;
    struct secup_err err;
    struct secup_stream_cfg sc = { 0 };
    sc.chunk = 16u * 1024u;
    sc.compression = (enum secup_compression)ins->info.compression;
    sc.image_size = ins->info.size;
    sc.image_digest = ins->info.digest;
    ins->slot = (struct secup_slot){ .ops = &null_ops, .fd = -1, .capacity = d->f->o.slot_size };
    secup_rc rc = secup_stream_new(&ins->stream, &sc, &ins->slot, &err);
    if (rc != SECUP_OK) {
        finish_install(d, rc, err.msg);
        return;
    }
    const char *url = ins->urls[ins->url_i];
    struct httpc_request rq = { .url = url, .bearer = token_for(d->f, url), .sink = sink_stream,
                                .sink_ctx = d };
    if (!start(d, STEP_PAYLOAD, &d->f->server_http, &rq, on_payload)) {
        secup_stream_free(ins->stream);
        ins->stream = NULL;
    }
}

/* The manifest: the one the command names, authentic (the Author's signature against the
 * trust anchors), for this vendor and class, newer than what runs (secup_policy_check()),
 * with a SHA-256 image digest for the simulated component. Then the payload. */
static secup_rc check_manifest(struct dev *d, struct secup_err *err)
{
    struct fleet *f = d->f;
    struct install *ins = d->ins;
    ins->env = malloc(sizeof(*ins->env));
    if (!ins->env)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the envelope");
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = MAX_ENVELOPE;
    secup_rc rc = secup_envelope_decode(ins->env, secup_bytes_of(ins->manifest, ins->manifest_len),
                                        &lim, err);
    if (rc != SECUP_OK)
        return rc;
    const struct secup_envelope *env = ins->env;
    if (env->digest.alg != -16 || env->digest.bytes.len != 32)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "the manifest digest is not SHA-256");
    if (ins->from_command && memcmp(env->digest.bytes.ptr, ins->c.digest, 32) != 0)
        return secup_err_set(err, SECUP_E_DIGEST, "the manifest from '%s' is not the one the command names (digest)",
                             ins->manifest_url);
    if (ins->from_command && env->manifest.sequence_number != ins->c.seq)
        return secup_err_set(err, SECUP_E_VALUE, "the manifest from '%s' has sequence number %llu, the command names %llu",
                             ins->manifest_url, (unsigned long long)env->manifest.sequence_number,
                             (unsigned long long)ins->c.seq);
    memcpy(ins->digest, env->digest.bytes.ptr, 32);
    ins->seq = env->manifest.sequence_number;
    struct secup_device_policy pol = f->policy;
    pol.sequence_floor = ins->from_command ? d->seq : 0;
    rc = secup_policy_check(env, f->trust, &pol, NULL, err);
    if (rc != SECUP_OK)
        return rc;
    uint32_t k = comp_index(f, &env->manifest);
    if (k == env->manifest.n_components)
        return secup_err_set(err, SECUP_E_VALUE, "the manifest has no image for the simulated component");
    rc = secup_manifest_image_info(&env->manifest, k, &ins->info, err);
    if (rc != SECUP_OK)
        return rc;
    if (!ins->info.has_digest || ins->info.digest.alg != -16 || ins->info.digest.bytes.len != 32)
        return secup_err_set(err, SECUP_E_UNSUPPORTED, "the image digest is not SHA-256");
    if (ins->info.has_encryption)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "an encrypted payload: the simulated devices hold no decryption key");
    return SECUP_OK;
}

static void on_manifest(void *ctx, secup_rc rc, struct httpc_response *resp, struct secup_err *err)
{
    struct dev *d = ctx;
    struct install *ins = d->ins;
    step_done(d, STEP_MANIFEST);
    struct secup_err e;
    secup_err_clear(&e);
    if (rc != SECUP_OK) {
        fetch_failed(d, "manifest", rc, err->msg, rc == SECUP_E_NET || rc == SECUP_E_TIMEOUT);
        return;
    }
    if (resp->status != 200) {
        rc = httpc_response_error(resp, &e);
        fetch_failed(d, "manifest", rc, e.msg, transient_status(resp->status));
        return;
    }
    d->f->bytes_manifest += resp->body_len;
    ins->manifest = resp->body; /* taken (httpc.h) */
    ins->manifest_len = resp->body_len;
    resp->body = NULL;
    ins->attempts = 0;
    rc = check_manifest(d, &e);
    if (rc != SECUP_OK) {
        secup_err_prefix(&e, "the manifest");
        finish_install(d, rc, e.msg);
        return;
    }
    if (ins->n_urls == 0 && ins->info.has_uri) {
        rc = resolve(d->f, ins->info.uri, ins->urls[0], sizeof(ins->urls[0]), &e);
        if (rc == SECUP_OK)
            ins->n_urls = 1;
    }
    if (ins->n_urls == 0) {
        struct secup_bytes data;
        if (ins->info.has_uri && ins->info.uri.len > 0 && ins->info.uri.ptr[0] == '#' &&
            secup_envelope_find_integrated(ins->env, ins->info.uri, &data)) {
            /* an integrated payload: it came with the manifest */
            struct secup_stream_cfg sc = { .chunk = 16u * 1024u,
                                           .compression = (enum secup_compression)ins->info.compression,
                                           .image_size = ins->info.size,
                                           .image_digest = ins->info.digest };
            ins->slot = (struct secup_slot){ .ops = &null_ops, .fd = -1, .capacity = d->f->o.slot_size };
            rc = secup_stream_new(&ins->stream, &sc, &ins->slot, &e);
            if (rc == SECUP_OK)
                rc = secup_stream_write(ins->stream, data, &e);
            if (rc == SECUP_OK)
                rc = secup_stream_finish(ins->stream, &e);
            finish_install(d, rc, e.msg);
            return;
        }
        finish_install(d, rc != SECUP_OK ? rc : SECUP_E_MISSING,
                       rc != SECUP_OK ? e.msg : "neither the command nor the manifest names a payload");
        return;
    }
    fetch_payload(d);
}

static void fetch_manifest(struct dev *d)
{
    const char *url = d->ins->manifest_url;
    struct httpc_request rq = { .url = url, .bearer = token_for(d->f, url),
                                .max_response = MAX_ENVELOPE };
    start(d, STEP_MANIFEST, &d->f->server_http, &rq, on_manifest);
}

/* ---- commands ---- */

/* Verifies a signed command and acts on it (the agent's order: issuer, signature,
 * audience, counter, freshness). The body is copied into a new install first so that the
 * command's views outlive the answer. */
static void handle_command(struct dev *d, const uint8_t *body, size_t len)
{
    struct fleet *f = d->f;
    struct secup_err err;
    struct install *ins = calloc(1, sizeof(*ins));
    if (!ins) {
        retry_later(d, "command", SECUP_E_NOMEM, "no memory for a command");
        return;
    }
    secup_rc rc = SECUP_OK;
    if (len > sizeof(ins->cmd))
        rc = secup_err_set(&err, SECUP_E_LIMIT_SIZE, "a command of %zu bytes", len);
    struct secup_bytes issuer = { 0 };
    if (rc == SECUP_OK) {
        memcpy(ins->cmd, body, len);
        ins->cmd_len = len;
        rc = secup_command_peek_issuer(secup_bytes_of(ins->cmd, len), &issuer, &err);
    }
    size_t idn = strlen(f->o.tracker_id);
    if (rc == SECUP_OK && (issuer.len != idn || memcmp(issuer.ptr, f->o.tracker_id, idn) != 0))
        rc = secup_err_set(&err, SECUP_E_AUTH, "a command issued by '%.*s', not by the configured tracker '%s'",
                           (int)(issuer.len > 64 ? 64 : issuer.len), (const char *)issuer.ptr,
                           f->o.tracker_id);
    if (rc == SECUP_OK)
        rc = secup_command_verify(secup_bytes_of(ins->cmd, len), f->tracker_key, &ins->c, &err);
    if (rc == SECUP_OK)
        rc = secup_command_accept(&ins->c, d->id, (uint64_t)time(NULL), d->cmd_counter,
                                  MAX_CLOCK_SKEW, &err);
    if (rc != SECUP_OK) {
        f->cmds[0]++;
        install_free(ins);
        retry_later(d, "command refused", rc, err.msg);
        return;
    }
    const struct secup_command_msg *c = &ins->c;
    f->cmds[c->action]++;
    if (c->action != SECUP_COMMAND_INSTALL) {
        if (c->action == SECUP_COMMAND_REPORT)
            d->report_due = true;
        bool save = c->action != SECUP_COMMAND_NOTHING;
        d->cmd_counter = c->counter;
        install_free(ins);
        if (save)
            dev_save(d);
        return;
    }
    say(d, "command %llu: install sequence %llu", (unsigned long long)c->counter,
        (unsigned long long)c->seq);
    ins->from_command = true;
    ins->started_ms = fleet_now_ms();
    d->cmd_at_ms = ins->started_ms;
    f->last_cmd_epoch_ms = fleet_epoch_ms();
    if (!f->first_cmd_epoch_ms)
        f->first_cmd_epoch_ms = f->last_cmd_epoch_ms;
    d->ins = ins;
    rc = resolve(f, c->manifest_uri, ins->manifest_url, sizeof(ins->manifest_url), &err);
    for (uint32_t i = 0; rc == SECUP_OK && i < c->n_uris; i++)
        rc = resolve(f, c->uris[i], ins->urls[i], sizeof(ins->urls[i]), &err);
    ins->n_urls = rc == SECUP_OK ? c->n_uris : 0;
    if (rc != SECUP_OK) {
        finish_install(d, rc, err.msg);
        return;
    }
    memcpy(ins->digest, c->digest, 32);
    ins->seq = c->seq;
    fetch_manifest(d);
}

static void on_poll(void *ctx, secup_rc rc, struct httpc_response *resp, struct secup_err *err)
{
    struct dev *d = ctx;
    step_done(d, STEP_POLL);
    if (rc != SECUP_OK) {
        retry_later(d, "commands", rc, err->msg);
        return;
    }
    if (resp->status == 204) {
        d->delay_s = 0;
        return;
    }
    if (resp->status != 200) {
        struct secup_err e;
        rc = httpc_response_error(resp, &e);
        retry_later(d, "commands", rc, e.msg);
        return;
    }
    d->delay_s = 0;
    handle_command(d, resp->body, resp->body_len);
}

static void do_poll(struct dev *d)
{
    char url[FLEET_URL_MAX], path[48];
    snprintf(path, sizeof(path), "/v1/commands?wait=%u", d->f->o.poll_wait);
    tracker_url(d, path, url, sizeof(url));
    struct httpc_request rq = { .url = url, .bearer = d->token,
                                .max_response = SECUP_COMMAND_MAX_SIZE + 1024 };
    start(d, STEP_POLL, &d->f->poll_http, &rq, on_poll);
}

/* ---- download-only (the baseline: no tracker) ---- */

static void start_download_only(struct dev *d)
{
    struct fleet *f = d->f;
    struct install *ins = calloc(1, sizeof(*ins));
    if (!ins) {
        retry_later(d, "download", SECUP_E_NOMEM, "no memory");
        return;
    }
    ins->started_ms = fleet_now_ms();
    snprintf(ins->manifest_url, sizeof(ins->manifest_url), "%s", f->o.download_manifest);
    size_t n = strlen(f->o.download_manifest);
    if (f->o.download_payload) {
        snprintf(ins->urls[0], sizeof(ins->urls[0]), "%s", f->o.download_payload);
        ins->n_urls = 1;
    } else if (n > 9 && strcmp(f->o.download_manifest + n - 9, "/manifest") == 0) {
        /* a Firmware Server's /v1/images/<id>/manifest: the payload is beside it */
        snprintf(ins->urls[0], sizeof(ins->urls[0]), "%.*s/payload", (int)(n - 9), f->o.download_manifest);
        ins->n_urls = 1;
    }
    d->ins = ins;
    fetch_manifest(d);
}

/* ---- the step ---- */

bool dev_settled(const struct dev *d)
{
    if (d->f->o.download_manifest)
        return d->finished;
    return d->token[0] && !d->report_due && !d->ins &&
           (d->reported_seq >= d->f->o.until_seq || d->reported_failure);
}

void dev_step(struct dev *d)
{
    struct fleet *f = d->f;
    if (d->busy || d->finished)
        return;
    uint64_t now = fleet_now_ms();
    if (d->dark) {
        if (d->dark_until_ms > now)
            return;
        d->dark = false;
        d->dark_until_ms = 0;
        d->report_due = true;
        say(d, "back on line");
    }
    if (d->wake_ms > now)
        return;
    if (f->o.download_manifest) {
        if (d->ins)
            (d->ins->stream || d->ins->manifest) ? fetch_payload(d) : fetch_manifest(d);
        else
            start_download_only(d);
        return;
    }
    if (!d->token[0]) {
        do_register(d);
    } else if (d->ins) {
        /* an install under way whose last fetch is to be tried again */
        d->ins->manifest ? fetch_payload(d) : fetch_manifest(d);
    } else if (d->report_due || now >= d->last_report_ms + (uint64_t)f->o.report_interval * 1000u) {
        do_report(d);
    } else {
        do_poll(d);
    }
}

/* ---- setting up ---- */

static bool in_list(const char *list, uint32_t n)
{
    if (!list)
        return false;
    const char *p = list;
    while (*p) {
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (*end == '-')
            b = strtoul(end + 1, &end, 10);
        if (n >= a && n <= b)
            return true;
        if (*end != ',')
            break;
        p = end + 1;
    }
    return false;
}

void dev_save(struct dev *d)
{
    const struct fleet *f = d->f;
    if (!f->o.state_dir)
        return;
    static struct fleet_dev_state st;
    memset(&st, 0, sizeof(st));
    snprintf(st.id, sizeof(st.id), "%s", d->id);
    memcpy(st.token, d->token, sizeof(st.token));
    st.report_counter = d->report_counter;
    st.cmd_counter = d->cmd_counter;
    st.seq = d->seq;
    memcpy(st.digest, d->digest, 32);
    snprintf(st.version, sizeof(st.version), "%s", d->version);
    st.slot = d->slot;
    st.has_last = d->has_last;
    memcpy(st.last_id, d->last_id, 32);
    snprintf(st.last_code, sizeof(st.last_code), "%s", d->last_code);
    snprintf(st.last_reason, sizeof(st.last_reason), "%s", d->last_reason);
    st.last_time = d->last_time;
    char *text = NULL;
    size_t len = 0;
    struct secup_err err;
    char path[400], tmp[420];
    snprintf(path, sizeof(path), "%s/%s.json", f->o.state_dir, d->id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    secup_rc rc = fleet_state_format(&st, &text, &len, &err);
    secup_wipe(st.token, sizeof(st.token));
    if (rc != SECUP_OK) {
        fleet_log(f, "%s: state: %s [%s]", d->id, err.msg, secup_rc_name(rc));
        return;
    }
    /* replaced atomically, not synced: a simulator keeps no promise across power cuts */
    FILE *out = fopen(tmp, "w");
    bool ok = out && fwrite(text, 1, len, out) == len;
    if (out && fclose(out) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        fleet_log(f, "%s: cannot write '%s': %s", d->id, path, strerror(errno));
        (void)unlink(tmp);
    }
    secup_wipe(text, len);
    free(text);
}

/* The device's key and state from --state-dir, when it has been there before. */
static secup_rc dev_load(struct dev *d, bool *loaded, struct secup_err *err)
{
    const struct fleet *f = d->f;
    char path[400];
    uint8_t *buf = NULL;
    size_t len = 0;
    *loaded = false;
    snprintf(path, sizeof(path), "%s/%s.json", f->o.state_dir, d->id);
    secup_rc rc = secup_file_read(path, FLEET_STATE_MAX, &buf, &len, err);
    if (rc == SECUP_E_NOENT)
        return SECUP_OK; /* a new device */
    if (rc != SECUP_OK)
        return rc;
    static struct fleet_dev_state st;
    rc = fleet_state_parse(path, (const char *)buf, len, &st, err);
    secup_file_free(buf, len);
    if (rc == SECUP_OK && strcmp(st.id, d->id) != 0)
        rc = secup_err_set(err, SECUP_E_VALUE, "'%s' is the state of '%s'", path, st.id);
    if (rc == SECUP_OK) {
        snprintf(path, sizeof(path), "%s/%s.key.pem", f->o.state_dir, d->id);
        rc = secup_key_load_pem(&d->key, path, err);
        if (rc == SECUP_OK && (secup_key_type(d->key) != SECUP_KEY_P256 || !secup_key_has_private(d->key)))
            rc = secup_err_set(err, SECUP_E_KEY_FORMAT, "'%s' is not a P-256 private key", path);
    }
    if (rc == SECUP_OK) {
        memcpy(d->token, st.token, sizeof(d->token));
        d->report_counter = st.report_counter;
        d->cmd_counter = st.cmd_counter;
        d->seq = st.seq;
        memcpy(d->digest, st.digest, 32);
        snprintf(d->version, sizeof(d->version), "%s", st.version);
        d->slot = st.slot;
        d->has_last = st.has_last;
        memcpy(d->last_id, st.last_id, 32);
        snprintf(d->last_code, sizeof(d->last_code), "%s", st.last_code);
        snprintf(d->last_reason, sizeof(d->last_reason), "%s", st.last_reason);
        d->last_time = st.last_time;
        d->report_due = d->token[0] != '\0'; /* back: say what runs before anything else */
        *loaded = true;
    }
    secup_wipe(st.token, sizeof(st.token));
    return rc;
}

secup_rc dev_init(struct fleet *f, struct dev *d, uint32_t idx, struct secup_err *err)
{
    memset(d, 0, sizeof(*d));
    d->f = f;
    d->idx = idx;
    uint32_t n = idx + 1; /* devices are numbered from 1 */
    snprintf(d->id, sizeof(d->id), "%s-%05u", f->o.prefix, n);
    d->seq = f->init_seq;
    memcpy(d->digest, f->init_digest, 32);
    snprintf(d->version, sizeof(d->version), "%s", f->init_version);
    /* every 1/ratio-th device, spread evenly, plus the listed ones */
    double r = f->o.fail_ratio;
    d->fails = in_list(f->o.fail_list, n) || (r > 0 && (uint64_t)((double)n * r) > (uint64_t)((double)idx * r));
    if (in_list(f->o.offline_list, n))
        d->dark_until_ms = f->o.offline_for ? f->start_ms + f->o.offline_for * 1000u : UINT64_MAX;
    d->wake_ms = f->start_ms + (f->o.devices > 1 ? (uint64_t)f->o.ramp_ms * idx / (f->o.devices - 1) : 0);
    if (f->o.download_manifest)
        return SECUP_OK;
    char path[400];
    secup_rc rc = SECUP_OK;
    bool loaded = false;
    if (f->o.state_dir) {
        rc = dev_load(d, &loaded, err);
        if (rc != SECUP_OK)
            return rc;
    }
    /* its own key: P-256, as the agent's (the tracker keeps the public half) */
    if (!loaded)
        rc = secup_key_generate(&d->key, SECUP_KEY_P256, err);
    if (rc == SECUP_OK && f->o.state_dir && !loaded) {
        snprintf(path, sizeof(path), "%s/%s.key.pem", f->o.state_dir, d->id);
        rc = secup_key_save_private(d->key, path, err);
    }
    snprintf(path, sizeof(path), "%s/%s.pub.pem", f->o.state_dir ? f->o.state_dir : f->keydir, d->id);
    if (rc == SECUP_OK)
        rc = secup_key_save_public(d->key, path, err);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rc == SECUP_OK)
        rc = secup_file_read(path, 16 * 1024, &buf, &len, err);
    if (rc == SECUP_OK) {
        d->pub_pem = malloc(len + 1);
        if (!d->pub_pem)
            rc = secup_err_set(err, SECUP_E_NOMEM, "no memory for a key");
        else {
            memcpy(d->pub_pem, buf, len);
            d->pub_pem[len] = '\0';
        }
        secup_file_free(buf, len);
    }
    if (!f->o.state_dir)
        (void)unlink(path);
    if (rc == SECUP_OK && f->o.state_dir && !loaded)
        dev_save(d);
    return rc;
}

void dev_free(struct dev *d)
{
    install_free(d->ins);
    d->ins = NULL;
    secup_key_free(d->key);
    free(d->pub_pem);
    secup_wipe(d->token, sizeof(d->token));
}
