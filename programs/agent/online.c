/* `secup-agent run`: the agent online (docs/agent.md "Online"). One cycle:
 *   register (once: the tracker token is kept in the online state),
 *   report (the signed status report `secup-agent report` writes),
 *   long-poll GET /v1/commands, verify the command (issuer, signature, audience, order,
 *   freshness: THREATS.md S7, S8), act on it, store its counter, report.
 * An install fetches the manifest and payload from the Firmware Server (resuming with
 * Range, retrying with capped exponential back-off), then runs the local install path,
 * which verifies everything again, and the boot stage as a simulated reboot. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "http/httpd.h"
#include "httpc.h"
#include "log.h"
#include "online.h"
#include "secup/command.h"
#include "token.h"

#define MAX_CLOCK_SKEW 300 /* seconds a command's issued-at may lie ahead of the device */
#define MAX_CLOCK_AHEAD 86400 /* a fresh command older than this by the clock: named ahead */
#define STATUS_MAX_FILE (256 * 1024)

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct online {
    struct agent *a;
    const char *config;
    const struct agent_online_config *cfg;
    struct online_state os;
    struct secup_key *tracker_key;
    char server_token[ONLINE_TOKEN_MAX];
    struct httpc_config tracker_http;
    struct httpc_config server_http;
    bool stale_logged;      /* the stale feed (the state's fresh_until passed) is logged */
    bool behind_logged;     /* the clock below the secure-time floor is logged */
    uint64_t time_floor;    /* a copy of the state's floor for the listener (under lock) */
    char mirror_note[512];  /* mirrors that failed during the current install (T6) */
    uint64_t last_report;   /* time of the last report accepted by the tracker */
    bool report_due;
    /* "poll now": the listener; a verified command waits in the mailbox for the main loop */
    struct httpd *listener;
    char callback[AGENT_URL_MAX + 32];
    bool callback_sent;
    pthread_mutex_t lock;   /* the counters of os, the mailbox */
    uint8_t box[SECUP_COMMAND_MAX_SIZE + 1024];
    size_t box_len;
    char tracker_id[AGENT_NAME_MAX]; /* copies the listener reads while the main loop */
    char device_id[AGENT_NAME_MAX];  /* reopens the configuration after an install */
    uint32_t retry_after;   /* Retry-After of the last "later" answer (s): the next wait */
};

static uint64_t now(void)
{
    return (uint64_t)time(NULL);
}

static void say(const char *fmt, ...) SECUP_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
    /* messages quote what the tracker or a mirror sent: escaped (log.h) */
    char line[1024], safe[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "secup-agent: run: %s\n", log_escape(line, safe, sizeof(safe)));
}

/* Sleeps s seconds unless a stop is requested (the signal interrupts the sleep). */
static void pause_for(uint32_t s)
{
    struct timespec ts = { (time_t)s, 0 };
    while (!stop_requested && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool mailbox_full(void *ctx)
{
    struct online *o = ctx;
    pthread_mutex_lock(&o->lock);
    bool full = o->box_len > 0;
    pthread_mutex_unlock(&o->lock);
    return full || stop_requested;
}

/* Sleeps s seconds, or less when a command arrives at the listener or a stop is asked. */
static void wait_for(struct online *o, uint32_t s)
{
    for (uint64_t ms = 0; ms < (uint64_t)s * 1000u && !mailbox_full(o); ms += 200) {
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* The wait before the next attempt: the back-off, or longer when the last answer said so
 * (429/503 with Retry-After, THREATS.md U6); the hint is used once. */
static uint32_t wait_after(struct online *o, uint32_t delay)
{
    uint32_t w = o->retry_after > delay ? o->retry_after : delay;
    o->retry_after = 0;
    return w;
}

static uint32_t next_delay(const struct agent_online_config *c, uint32_t d)
{
    uint64_t n = (uint64_t)d * 2;
    return n > c->retry_max ? c->retry_max : (uint32_t)n;
}

/* A token file: its first line, without surrounding white space. */

static void tracker_url(const struct online *o, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", o->cfg->tracker_url, path);
}

/* An error answer into err, prefixed with what was asked. */
static secup_rc answer_error(struct online *o, const struct httpc_response *resp,
                             const char *what, struct secup_err *err)
{
    if (resp->retry_after_s > o->retry_after)
        o->retry_after = resp->retry_after_s;
    secup_rc rc = httpc_response_error(resp, err);
    secup_err_prefix(err, "%s: HTTP %ld", what, resp->status);
    return rc;
}

/* Worth another attempt: a transport failure (no answer, a cut, a stall) ... */
static bool is_transient_transport(secup_rc rc)
{
    return rc == SECUP_E_NET || rc == SECUP_E_TIMEOUT || rc == SECUP_E_UNAVAILABLE;
}

/* ... or an answer saying "later"; other answers are final. */
static bool is_transient_status(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

/* ---- register and report ---- */

static secup_rc public_key_pem(struct online *o, char **pem, size_t *len, struct secup_err *err)
{
    const struct agent_config *cfg = &o->a->cfg;
    struct secup_key *key = NULL;
    char path[AGENT_PATH_MAX + 32];
    uint8_t *buf = NULL;
    if (!cfg->device_key[0])
        return secup_err_set(err, SECUP_E_STATE, "no device key configured (device.key): the agent cannot register");
    secup_rc rc = secup_key_load_pem(&key, cfg->device_key, err);
    if (rc != SECUP_OK)
        return rc;
    enum secup_key_type t = secup_key_type(key);
    if (t != SECUP_KEY_P256 && t != SECUP_KEY_ED25519)
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED,
                           "the device key is %s; the tracker needs a P-256 or Ed25519 key (it signs status reports)",
                           secup_key_type_name(t));
    snprintf(path, sizeof(path), "%s/device.pub.pem", cfg->state_dir);
    if (rc == SECUP_OK)
        rc = secup_key_save_public(key, path, err);
    secup_key_free(key);
    if (rc == SECUP_OK)
        rc = secup_file_read(path, 16 * 1024, &buf, len, err);
    if (rc != SECUP_OK)
        return rc;
    *pem = (char *)buf;
    return SECUP_OK;
}

static secup_rc do_register(struct online *o, struct secup_err *err)
{
    char enrol[ONLINE_TOKEN_MAX];
    char url[AGENT_URL_MAX + 32];
    char *pem = NULL;
    size_t pem_len = 0;
    if (!o->cfg->enrolment_token_file[0])
        return secup_err_set(err, SECUP_E_AUTH,
                             "no tracker token yet and no \"tracker.enrolment-token-file\" to register with");
    secup_rc rc = token_read_file(o->cfg->enrolment_token_file, enrol, sizeof(enrol), err);
    if (rc == SECUP_OK)
        rc = public_key_pem(o, &pem, &pem_len, err);
    if (rc != SECUP_OK)
        return rc;
    json_t *body = json_pack("{s:s, s:s%, s:s}", "id", o->a->cfg.device_id, "key", pem, pem_len,
                             "kind", "device");
    secup_file_free((uint8_t *)pem, pem_len);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        secup_wipe(enrol, sizeof(enrol));
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the registration");
    }
    tracker_url(o, "/v1/register", url, sizeof(url));
    struct httpc_request req = {
        .method = "POST", .url = url, .bearer = enrol, .body = (const uint8_t *)text,
        .body_len = strlen(text), .content_type = "application/json",
    };
    struct httpc_response resp;
    rc = httpc_perform(&o->tracker_http, &req, &resp, err);
    secup_wipe(enrol, sizeof(enrol));
    free(text);
    if (rc != SECUP_OK)
        return rc;
    if (resp.status != 201) {
        rc = answer_error(o, &resp, "register", err);
        httpc_response_free(&resp);
        return rc;
    }
    json_t *root = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
    const char *token = json_string_value(json_object_get(root, "token"));
    if (!token || strlen(token) >= sizeof(o->os.token) || !token[0]) {
        rc = secup_err_set(err, SECUP_E_JSON, "register: the tracker answered 201 without a usable token");
    } else {
        memcpy(o->os.token, token, strlen(token) + 1);
        rc = online_state_save(&o->a->cfg, &o->os, err);
    }
    json_decref(root);
    httpc_response_free(&resp);
    if (rc == SECUP_OK)
        say("registered with %s as %s", o->cfg->tracker_url, o->a->cfg.device_id);
    return rc;
}

static secup_rc do_report(struct online *o, struct secup_err *err)
{
    char path[AGENT_PATH_MAX + 32];
    char url[AGENT_URL_MAX + 32];
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = agent_report(o->a, NULL, err);
    snprintf(path, sizeof(path), "%s/status.cose", o->a->cfg.state_dir);
    if (rc == SECUP_OK)
        rc = secup_file_read(path, STATUS_MAX_FILE, &buf, &len, err);
    if (rc != SECUP_OK)
        return rc;
    tracker_url(o, "/v1/status", url, sizeof(url));
    struct httpc_request req = {
        .method = "POST", .url = url, .bearer = o->os.token, .body = buf, .body_len = len,
        .content_type = "application/cose",
    };
    struct httpc_response resp;
    rc = httpc_perform(&o->tracker_http, &req, &resp, err);
    secup_file_free(buf, len);
    if (rc != SECUP_OK)
        return rc;
    if (resp.status != 200)
        rc = answer_error(o, &resp, "status report", err);
    httpc_response_free(&resp);
    if (rc == SECUP_OK) {
        o->last_report = now();
        o->report_due = false;
        say("status report %llu sent", (unsigned long long)o->a->st.report_counter);
    }
    return rc;
}

/* ---- downloads ---- */

/* The URL of a URI from a command: absolute, or a path on the configured server. */
static secup_rc resolve(const struct online *o, struct secup_bytes uri, char *out, size_t cap,
                        struct secup_err *err)
{
    if (uri.len == 0 || memchr(uri.ptr, '\0', uri.len))
        return secup_err_set(err, SECUP_E_VALUE, "an empty URI");
    int n;
    if (uri.len > 0 && uri.ptr[0] == '/' && o->cfg->server_url[0])
        n = snprintf(out, cap, "%s%.*s", o->cfg->server_url, (int)uri.len, (const char *)uri.ptr);
    else
        n = snprintf(out, cap, "%.*s", (int)uri.len, (const char *)uri.ptr);
    if (n < 0 || (size_t)n >= cap)
        return secup_err_set(err, SECUP_E_LIMIT, "a URI of %zu bytes", uri.len);
    if (strncmp(out, "https://", 8) != 0 && strncmp(out, "http://", 7) != 0)
        return secup_err_set(err, SECUP_E_VALUE, "'%s' is neither an http(s) URL nor a path on the configured server",
                             out);
    return SECUP_OK;
}

/* The server token goes only to the configured server (any URL when none is configured). */
static const char *token_for(const struct online *o, const char *url)
{
    if (!o->server_token[0])
        return NULL;
    size_t n = strlen(o->cfg->server_url);
    if (n == 0)
        return o->server_token;
    if (strncmp(url, o->cfg->server_url, n) == 0 && (url[n] == '/' || url[n] == '\0'))
        return o->server_token;
    return NULL;
}

struct file_sink {
    int fd;
    uint64_t offset;                     /* where this response's bytes go */
    uint64_t cap;                        /* the file never grows past this (THREATS.md T2) */
    const struct httpc_response *resp;   /* its status is known when the body starts */
    bool started;
};

static bool sink_file(void *ctx, const uint8_t *p, size_t n, struct secup_err *err)
{
    struct file_sink *s = ctx;
    if (!s->started) {
        s->started = true;
        if (s->offset > 0 && s->resp->status != 206) {
            /* the server ignored the Range: the whole file comes again */
            if (ftruncate(s->fd, 0) != 0) {
                secup_err_set(err, SECUP_E_IO, "cannot truncate the partial download");
                return false;
            }
            s->offset = 0;
        }
    }
    if (n > s->cap || s->offset > s->cap - n) {
        secup_err_set(err, SECUP_E_LIMIT_BODY,
                      "the payload is over the limit of %llu bytes (the largest slot and its "
                      "encoding overhead)", (unsigned long long)s->cap);
        return false;
    }
    while (n > 0) {
        ssize_t w = pwrite(s->fd, p, n, (off_t)s->offset);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            secup_err_set(err, errno == ENOSPC ? SECUP_E_NOSPACE : SECUP_E_IO,
                          "writing the download: %s", strerror(errno));
            return false;
        }
        p += w;
        n -= (size_t)w;
        s->offset += (uint64_t)w;
    }
    return !stop_requested;
}

/* One attempt at a payload download into fd, resuming after what it holds. */
static secup_rc fetch_file_once(struct online *o, const char *url, int fd, uint64_t cap,
                                bool *again, struct secup_err *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return secup_err_set(err, SECUP_E_IO, "download file: %s", strerror(errno));
    struct httpc_response resp;
    memset(&resp, 0, sizeof(resp));
    struct file_sink s = { fd, (uint64_t)sb.st_size, cap, &resp, false };
    struct httpc_request req = {
        .url = url, .bearer = token_for(o, url), .resume_from = s.offset,
        .sink = sink_file, .sink_ctx = &s,
    };
    if (s.offset > 0)
        say("resuming '%s' at byte %llu", url, (unsigned long long)s.offset);
    secup_rc rc = httpc_perform(&o->server_http, &req, &resp, err);
    *again = rc != SECUP_OK && is_transient_transport(rc);
    /* keep what arrived for the next attempt, durably */
    if (fsync(fd) != 0 && rc == SECUP_OK)
        rc = secup_err_set(err, SECUP_E_IO, "download file: fsync: %s", strerror(errno));
    if (rc == SECUP_OK && resp.status == 416 && s.offset > 0) {
        /* the partial file does not fit this resource: start again */
        if (ftruncate(fd, 0) != 0)
            rc = secup_err_set(err, SECUP_E_IO, "cannot truncate the partial download");
        else
            rc = secup_err_set(err, SECUP_E_NET, "'%s': the partial download does not fit; starting again", url);
        *again = true;
    } else if (rc == SECUP_OK && (resp.status < 200 || resp.status >= 300)) {
        *again = is_transient_status(resp.status);
        rc = answer_error(o, &resp, url, err);
    }
    httpc_response_free(&resp);
    return rc;
}

/* One attempt at a small download into memory. */
static secup_rc fetch_mem_once(struct online *o, const char *url, uint64_t max,
                               struct httpc_response *resp, bool *again, struct secup_err *err)
{
    struct httpc_request req = { .url = url, .bearer = token_for(o, url), .max_response = max };
    secup_rc rc = httpc_perform(&o->server_http, &req, resp, err);
    *again = rc != SECUP_OK && is_transient_transport(rc);
    if (rc == SECUP_OK && resp->status != 200) {
        *again = is_transient_status(resp->status);
        rc = answer_error(o, resp, url, err);
        httpc_response_free(resp);
    }
    return rc;
}

/* Notes a mirror that failed (THREATS.md T6): its URL, the HTTP status of an error answer
 * (answer_error() put it in msg) and the code go into the result of the install, and so
 * into the next status report. Each URL once. */
static void note_mirror(struct online *o, const char *url, secup_rc rc, const char *msg)
{
    char item[AGENT_URL_MAX + 64];
    const char *h = msg ? strstr(msg, ": HTTP ") : NULL;
    long status = h ? strtol(h + 7, NULL, 10) : 0;
    if (status >= 100 && status <= 599)
        snprintf(item, sizeof(item), "%s [HTTP %ld %s]", url, status, secup_rc_name(rc));
    else
        snprintf(item, sizeof(item), "%s [%s]", url, secup_rc_name(rc));
    char needle[AGENT_URL_MAX + 4];
    snprintf(needle, sizeof(needle), "%s [", url);
    if (strstr(o->mirror_note, needle))
        return;
    size_t used = strlen(o->mirror_note);
    snprintf(o->mirror_note + used, sizeof(o->mirror_note) - used, "%s%s", used ? ", " : "", item);
}

/* The failed mirrors appended to the recorded result (saved), then forgotten. */
static void record_mirrors(struct online *o)
{
    if (!o->mirror_note[0])
        return;
    struct state_result *l = &o->a->st.last;
    char reason[STATE_REASON_MAX + sizeof(o->mirror_note) + 32];
    /* the mirrors first: a long reason is cut at its end */
    snprintf(reason, sizeof(reason), "failed mirror: %s%s%s", o->mirror_note, l->reason[0] ? "; " : "",
             l->reason);
    state_set_reason(l, reason);
    struct secup_err serr;
    if (state_save(&o->a->cfg, &o->a->st, &serr) != SECUP_OK)
        say("could not record the failed mirrors: %s", serr.msg);
    o->mirror_note[0] = '\0';
}

/* Retries a download with capped exponential back-off: urls are mirrors, tried in turn
 * (a final answer from one mirror moves on to the next one not yet tried: THREATS.md T6).
 * fd >= 0: into that file (resumed), at most max bytes; else into *mem. */
static secup_rc fetch(struct online *o, char (*urls)[AGENT_URL_MAX], uint32_t n_urls, int fd,
                      uint64_t max, struct httpc_response *mem, uint32_t *used,
                      struct secup_err *err)
{
    uint32_t delay = o->cfg->retry_initial;
    secup_rc rc = SECUP_E_NET;
    for (uint32_t attempt = 1;; attempt++) {
        const char *url = urls[(attempt - 1) % n_urls];
        bool again = false;
        if (fd >= 0)
            rc = fetch_file_once(o, url, fd, max, &again, err);
        else
            rc = fetch_mem_once(o, url, max, mem, &again, err);
        if (rc == SECUP_OK) {
            if (used)
                *used = (attempt - 1) % n_urls;
            return SECUP_OK;
        }
        if (stop_requested)
            return secup_err_set(err, SECUP_E_STATE, "stopped during a download");
        note_mirror(o, url, rc, err->msg);
        if (rc == SECUP_E_LIMIT_BODY || attempt >= o->cfg->attempts ||
            (!again && attempt >= n_urls))
            return rc;
        uint32_t wait = wait_after(o, delay);
        say("attempt %u of %u failed: %s [%s]; again in %u s", attempt, o->cfg->attempts, err->msg,
            secup_rc_name(rc), wait);
        pause_for(wait);
        if (stop_requested)
            return secup_err_set(err, SECUP_E_STATE, "stopped during a download");
        delay = next_delay(o->cfg, delay);
    }
}

/* ---- acting on a command ---- */

static void download_dir(const struct agent *a, char *out, size_t cap)
{
    snprintf(out, cap, "%s/download", a->cfg.state_dir);
}

/* The result of an install that never reached the install path (a download failed, the
 * manifest is not the one named): recorded like any refused install. */
static void record_failure(struct agent *a, const struct secup_command_msg *c, secup_rc rc,
                           const char *reason)
{
    struct state_result *l = &a->st.last;
    struct secup_err serr;
    char hex[65];
    secup_hex_encode(secup_bytes_of(c->digest, 32), hex, sizeof(hex));
    state_count_result(l, false, hex);
    snprintf(l->code, sizeof(l->code), "%s", secup_rc_name(rc));
    state_set_reason(l, reason);
    l->time = agent_secure_now(a, NULL);
    l->seq = c->seq;
    memcpy(l->manifest_digest, hex, sizeof(l->manifest_digest));
    if (state_save(&a->cfg, &a->st, &serr) != SECUP_OK)
        say("could not record the failed install: %s", serr.msg);
}

/* Fetches the manifest and checks that it is the one the command names (the install path
 * verifies its signature and everything else). */
static secup_rc fetch_manifest(struct online *o, const struct secup_command_msg *c,
                               const char *path, struct secup_err *err)
{
    static char urls[1][AGENT_URL_MAX];
    struct httpc_response resp;
    memset(&resp, 0, sizeof(resp));
    secup_rc rc = resolve(o, c->manifest_uri, urls[0], sizeof(urls[0]), err);
    if (rc == SECUP_OK)
        rc = fetch(o, urls, 1, -1, o->a->cfg.max_envelope, &resp, NULL, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_envelope *env = malloc(sizeof(*env));
    if (!env) {
        httpc_response_free(&resp);
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the envelope");
    }
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = o->a->cfg.max_envelope;
    rc = secup_envelope_decode(env, secup_bytes_of(resp.body, resp.body_len), &lim, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "the manifest from '%s'", urls[0]);
    } else if (env->digest.alg != -16 || env->digest.bytes.len != 32 ||
               memcmp(env->digest.bytes.ptr, c->digest, 32) != 0) {
        rc = secup_err_set(err, SECUP_E_DIGEST, "the manifest from '%s' is not the one the command names (digest)",
                           urls[0]);
    } else if (env->manifest.sequence_number != c->seq) {
        rc = secup_err_set(err, SECUP_E_VALUE, "the manifest from '%s' has sequence number %llu, the command names %llu",
                           urls[0], (unsigned long long)env->manifest.sequence_number,
                           (unsigned long long)c->seq);
    }
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(path, secup_bytes_of(resp.body, resp.body_len), 0600, err);
    free(env);
    httpc_response_free(&resp);
    return rc;
}

/* The most a payload download may hold: the largest file slot, plus what compression and
 * encryption may add to an image that fits it (zstd's bound is n/256 and a few bytes per
 * block; AEAD adds a tag), plus 64 KiB. With a block-device slot (whose size the
 * configuration does not give) 4 GiB. */
static uint64_t payload_cap(const struct agent_config *cfg)
{
    uint64_t largest = 0;
    for (uint32_t i = 0; i < cfg->n_components; i++) {
        if (strcmp(cfg->components[i].slot_type, "file") != 0)
            return UINT64_C(4) << 30;
        if (cfg->components[i].slot_size > largest)
            largest = cfg->components[i].slot_size;
    }
    return largest + largest / 64 + 65536;
}

/* The payload goes to download/payload; download/payload.for names the manifest digest it
 * belongs to, so that a partial file is resumed only for the same image. */
static secup_rc fetch_payload(struct online *o, const struct secup_command_msg *c, const char *dir,
                              uint32_t first, uint32_t *used, char *path, size_t cap,
                              struct secup_err *err)
{
    static char urls[SECUP_COMMAND_MAX_URIS][AGENT_URL_MAX];
    char hex[65];
    char mark[AGENT_PATH_MAX + 32];
    uint8_t *old = NULL;
    size_t old_len = 0;
    secup_rc rc = SECUP_OK;
    for (uint32_t i = 0; rc == SECUP_OK && i < c->n_uris; i++)
        rc = resolve(o, c->uris[(first + i) % c->n_uris], urls[i], sizeof(urls[i]), err);
    if (rc != SECUP_OK)
        return rc;
    secup_hex_encode(secup_bytes_of(c->digest, 32), hex, sizeof(hex));
    snprintf(path, cap, "%s/payload", dir);
    snprintf(mark, sizeof(mark), "%s/payload.for", dir);
    bool same = secup_file_read(mark, 128, &old, &old_len, err) == SECUP_OK && old_len == 64 &&
                memcmp(old, hex, 64) == 0;
    secup_file_free(old, old_len);
    if (!same) {
        if (unlink(path) != 0 && errno != ENOENT)
            return secup_err_set(err, SECUP_E_IO, "cannot remove '%s': %s", path, strerror(errno));
        rc = secup_file_write_atomic(mark, secup_bytes_of(hex, 64), 0600, err);
        if (rc != SECUP_OK)
            return rc;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return secup_err_set(err, SECUP_E_IO, "cannot open '%s': %s", path, strerror(errno));
    rc = fetch(o, urls, c->n_uris, fd, payload_cap(&o->a->cfg), NULL, used, err);
    *used = (first + *used) % c->n_uris; /* the index in the command's list */
    if (close(fd) != 0 && rc == SECUP_OK)
        rc = secup_err_set(err, SECUP_E_IO, "closing '%s': %s", path, strerror(errno));
    if (rc == SECUP_E_LIMIT_BODY)
        (void)unlink(path); /* nothing of an oversized answer is kept for a resume */
    if (rc == SECUP_OK)
        rc = secup_file_sync_dir(path, err);
    return rc;
}

static void remove_downloads(const char *dir)
{
    static const char *const names[] = { "manifest.suit", "payload", "payload.for" };
    char path[AGENT_PATH_MAX + 32];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)unlink(path);
    }
}

/* Whether an install failed on the payload's bytes (so that another mirror may have good
 * ones), not on the manifest or the device. */
static bool payload_rejected(secup_rc rc)
{
    return rc == SECUP_E_DIGEST || rc == SECUP_E_TRUNCATED || rc == SECUP_E_OVERLONG ||
           rc == SECUP_E_SIZE || rc == SECUP_E_TAG || rc == SECUP_E_COMPRESSED ||
           rc == SECUP_E_BOMB;
}

/* The install command: download, install (verifying everything again), reboot (the boot
 * stage, simulated), and the result recorded in the state for the report. A payload that
 * fails verification is fetched again from the next mirror of the command, if any
 * (THREATS.md T6: a mirror serving garbage does not prevent the update). */
static secup_rc act_install(struct online *o, const struct secup_command_msg *c,
                            struct secup_err *err)
{
    char dir[AGENT_PATH_MAX + 16];
    char manifest[AGENT_PATH_MAX + 48];
    char payload[AGENT_PATH_MAX + 48];
    const char *payloads[1] = { payload };
    download_dir(o->a, dir, sizeof(dir));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return secup_err_set(err, SECUP_E_IO, "cannot create '%s': %s", dir, strerror(errno));
    snprintf(manifest, sizeof(manifest), "%s/manifest.suit", dir);
    o->mirror_note[0] = '\0'; /* what an interrupted install noted is not this one's */
    /* THREATS.md F10 (Mender's error loop): a manifest that failed max-failures times in a
     * row is not tried again, however often it is commanded; another manifest is */
    const struct state_result *l = &o->a->st.last;
    char hex[65];
    secup_hex_encode(secup_bytes_of(c->digest, 32), hex, sizeof(hex));
    if (l->failures >= o->a->cfg.max_failures && strcmp(l->manifest_digest, hex) == 0) {
        if (strcmp(l->code, secup_rc_name(SECUP_E_GAVE_UP)) == 0) /* recorded already */
            return secup_err_set(err, SECUP_E_GAVE_UP, "%s", l->reason);
        char why[48];
        snprintf(why, sizeof(why), "%s", l->code);
        secup_err_set(err, SECUP_E_GAVE_UP,
                      "sequence %llu (manifest %.16s...) failed %u times in a row, last with %s; not tried "
                      "again (max-failures %u) until another manifest is commanded",
                      (unsigned long long)c->seq, hex, l->failures, why, o->a->cfg.max_failures);
        record_failure(o->a, c, SECUP_E_GAVE_UP, err->msg);
        return SECUP_E_GAVE_UP;
    }
    say("install: sequence %llu from '%.*s'", (unsigned long long)c->seq, (int)c->manifest_uri.len,
        (const char *)c->manifest_uri.ptr);
    secup_rc rc = fetch_manifest(o, c, manifest, err);
    uint32_t first = 0, used = 0;
    for (uint32_t round = 1;; round++) {
        if (rc == SECUP_OK && c->n_uris > 0)
            rc = fetch_payload(o, c, dir, first, &used, payload, sizeof(payload), err);
        if (rc != SECUP_OK) {
            if (!stop_requested) {
                record_failure(o->a, c, rc, err->msg);
                record_mirrors(o);
            }
            return rc;
        }
        agent_remove_temps(o->a);
        /* policy.require-approval: this verified, unexpired command names the manifest */
        o->a->approved = true;
        memcpy(o->a->approved_digest, c->digest, 32);
        o->a->approved_until = c->expires_at;
        rc = agent_install(o->a, manifest, payloads, c->n_uris > 0 ? 1 : 0, err);
        o->a->approved = false;
        if (rc != SECUP_OK && payload_rejected(rc) && round < c->n_uris && !stop_requested) {
            say("the payload from '%.*s' failed verification: %s [%s]; the next mirror",
                (int)c->uris[used].len, (const char *)c->uris[used].ptr, err->msg,
                secup_rc_name(rc));
            char bad[AGENT_URL_MAX];
            snprintf(bad, sizeof(bad), "%.*s", (int)c->uris[used].len, (const char *)c->uris[used].ptr);
            note_mirror(o, bad, rc, NULL);
            (void)unlink(payload);
            first = (used + 1) % c->n_uris;
            rc = SECUP_OK;
            continue;
        }
        break;
    }
    remove_downloads(dir);
    if (rc != SECUP_OK) {
        record_mirrors(o);
        return rc;
    }
    say("installed sequence %llu; rebooting into it (simulated: the boot stage)",
        (unsigned long long)c->seq);
    /* the simulated reboot: everything is read again from disk, as at a real start */
    agent_close(o->a);
    rc = agent_open(o->a, o->config, err);
    if (rc != SECUP_OK)
        return rc;
    if (o->a->state_note[0])
        say("%s", o->a->state_note);
    agent_remove_temps(o->a);
    rc = agent_boot(o->a, err);
    if (rc == SECUP_OK)
        say("boot: %s", o->a->st.last.reason[0] ? o->a->st.last.reason : "ok");
    record_mirrors(o);
    return rc;
}

/* Verifies a signed command: its issuer, its signature by the tracker's key, its target,
 * freshness and counter (THREATS.md S7, S8). The one check of a polled command and of one
 * POSTed to the listener. */
static secup_rc command_check(struct online *o, struct secup_bytes signed_cmd,
                              struct secup_command_msg *c, struct secup_err *err)
{
    struct secup_bytes issuer;
    secup_rc rc = secup_command_peek_issuer(signed_cmd, &issuer, err);
    if (rc != SECUP_OK)
        return rc;
    size_t idn = strlen(o->tracker_id);
    if (issuer.len != idn || memcmp(issuer.ptr, o->tracker_id, idn) != 0)
        return secup_err_set(err, SECUP_E_AUTH, "a command issued by '%.*s', not by the configured tracker '%s'",
                             (int)(issuer.len > 64 ? 64 : issuer.len), (const char *)issuer.ptr,
                             o->tracker_id);
    rc = secup_command_verify(signed_cmd, o->tracker_key, c, err);
    if (rc != SECUP_OK)
        return rc;
    pthread_mutex_lock(&o->lock);
    uint64_t last = online_state_counter(&o->os, o->tracker_id);
    uint64_t floor = o->time_floor;
    pthread_mutex_unlock(&o->lock);
    /* secure time (THREATS.md U3): a clock set back below the floor counts as the floor */
    uint64_t t = now();
    rc = secup_command_accept(c, o->device_id, t > floor ? t : floor, last, MAX_CLOCK_SKEW, err);
    if (rc == SECUP_E_EXPIRED && t < floor)
        secup_err_prefix(err, "the system clock (%llu) is behind the secure-time floor (%llu), which is used",
                         (unsigned long long)t, (unsigned long long)floor);
    else if (rc == SECUP_E_EXPIRED && c->issued_at && t > c->expires_at &&
             t - c->issued_at > MAX_CLOCK_AHEAD)
        secup_err_prefix(err, "the system clock (%llu) is more than a day past the command's issue time (%llu): "
                         "is it set ahead? Nothing is changed; the device goes on",
                         (unsigned long long)t, (unsigned long long)c->issued_at);
    return rc;
}

/* Verifies a signed command and acts on it. Returns SECUP_OK when it was acted on (an
 * install that failed counts: its result is reported), else the refusal. */
static secup_rc handle_command(struct online *o, struct secup_bytes signed_cmd, bool *acted,
                               struct secup_err *err)
{
    static struct secup_command_msg c;
    *acted = false;
    secup_rc rc = command_check(o, signed_cmd, &c, err);
    if (rc != SECUP_OK)
        return rc;
    const char *name = secup_command_action_name(c.action);
    say("command %llu from %s: %s", (unsigned long long)c.counter, o->cfg->tracker_id, name);
    /* a verified, accepted command: its issue time raises the secure-time floor, its
     * expiry is the freshness of the feed; both kept durably before it is acted on */
    bool moved = state_raise_time_floor(&o->a->st, c.issued_at);
    if (c.expires_at != o->a->st.fresh_until) { /* the newest statement (by counter) counts */
        o->a->st.fresh_until = c.expires_at;
        o->stale_logged = false;
        moved = true;
    }
    if (moved) {
        rc = state_save(&o->a->cfg, &o->a->st, err);
        if (rc != SECUP_OK)
            return rc;
        pthread_mutex_lock(&o->lock);
        o->time_floor = o->a->st.time_floor;
        pthread_mutex_unlock(&o->lock);
    }
    secup_rc act = SECUP_OK;
    struct secup_err aerr;
    secup_err_clear(&aerr);
    switch (c.action) {
    case SECUP_COMMAND_INSTALL:
        act = act_install(o, &c, &aerr);
        if (act != SECUP_OK)
            say("install failed: %s [%s]", aerr.msg, secup_rc_name(act));
        o->report_due = true;
        break;
    case SECUP_COMMAND_REPORT:
        o->report_due = true;
        break;
    case SECUP_COMMAND_NOTHING:
        break;
    case SECUP_COMMAND_CANCEL:
        say("cancel of rollout '%.*s': nothing to cancel on the device", (int)c.rollout.len,
            (const char *)c.rollout.ptr);
        break;
    }
    if (stop_requested && act != SECUP_OK) {
        /* interrupted, not finished: the tracker sends the command again */
        *err = aerr;
        return act;
    }
    /* acted on (an install: its result is known and recorded): only now the counter */
    pthread_mutex_lock(&o->lock);
    rc = online_state_set_counter(&o->os, o->cfg->tracker_id, c.counter, err);
    if (rc == SECUP_OK)
        rc = online_state_save(&o->a->cfg, &o->os, err);
    pthread_mutex_unlock(&o->lock);
    if (rc != SECUP_OK)
        return rc;
    *acted = true;
    if (act != SECUP_OK) {
        *err = aerr;
        return act;
    }
    return SECUP_OK;
}

/* One long poll: SECUP_OK with *got set when a command came and was handled. */
static secup_rc poll_once(struct online *o, bool *refused, struct secup_err *err)
{
    char url[AGENT_URL_MAX + 64];
    char path[48];
    *refused = false;
    snprintf(path, sizeof(path), "/v1/commands?wait=%u", o->cfg->poll_wait);
    tracker_url(o, path, url, sizeof(url));
    struct httpc_config hc = o->tracker_http;
    hc.timeout_s = o->cfg->poll_wait + 30;
    hc.low_speed_time_s = o->cfg->poll_wait + 30; /* a long poll is silent by design */
    struct httpc_request req = {
        .url = url, .bearer = o->os.token, .max_response = SECUP_COMMAND_MAX_SIZE + 1024,
        .cancel = o->listener ? mailbox_full : NULL, .cancel_ctx = o,
    };
    struct httpc_response resp;
    secup_rc rc = httpc_perform(&hc, &req, &resp, err);
    if (rc != SECUP_OK && o->listener && mailbox_full(o))
        return SECUP_OK; /* a command came to the listener: it goes first */
    if (rc != SECUP_OK)
        return rc;
    if (resp.status == 204) {
        httpc_response_free(&resp);
        return SECUP_OK;
    }
    if (resp.status != 200) {
        rc = answer_error(o, &resp, "commands", err);
        httpc_response_free(&resp);
        return rc;
    }
    bool acted = false;
    struct secup_err cerr;
    secup_err_clear(&cerr);
    secup_rc crc = handle_command(o, secup_bytes_of(resp.body, resp.body_len), &acted, &cerr);
    httpc_response_free(&resp);
    if (crc != SECUP_OK && !acted) {
        say("command refused: %s [%s]", cerr.msg, secup_rc_name(crc));
        *refused = true;
    } else if (crc != SECUP_OK) {
        *refused = true; /* acted on, but failed: reported */
    }
    return SECUP_OK;
}

/* ---- "poll now": the listener ---- */

struct lbody {
    struct online *o;
    size_t len;
    uint8_t buf[SECUP_COMMAND_MAX_SIZE + 1024];
};

static secup_rc lbody_data(void *ctx, struct httpd_req *req, const uint8_t *p, size_t n,
                           struct secup_err *err)
{
    (void)req;
    struct lbody *b = ctx;
    if (n > sizeof(b->buf) - b->len)
        return secup_err_set(err, SECUP_E_LIMIT_BODY, "a command is at most %zu bytes",
                             sizeof(b->buf));
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return SECUP_OK;
}

/* Verified here exactly as a polled command (command_check), answered, and handed to the
 * main loop, which checks it again as it acts (the counter may have moved meanwhile). */
static void lbody_done(void *ctx, struct httpd_req *req)
{
    struct lbody *b = ctx;
    struct online *o = b->o;
    struct secup_err err;
    secup_err_clear(&err);
    struct secup_command_msg c;
    secup_rc rc = command_check(o, secup_bytes_of(b->buf, b->len), &c, &err);
    if (rc == SECUP_OK) {
        pthread_mutex_lock(&o->lock);
        if (o->box_len > 0)
            rc = secup_err_set(&err, SECUP_E_UNAVAILABLE, "a command is being handled; again later");
        else {
            memcpy(o->box, b->buf, b->len);
            o->box_len = b->len;
        }
        pthread_mutex_unlock(&o->lock);
    }
    if (rc != SECUP_OK) {
        say("listener: command refused: %s [%s]", err.msg, secup_rc_name(rc));
        httpd_respond_err(req, &err);
        return;
    }
    say("listener: command %llu (%s) accepted", (unsigned long long)c.counter,
        secup_command_action_name(c.action));
    json_t *r = json_pack("{s:I, s:s}", "accepted", (json_int_t)c.counter, "action",
                          secup_command_action_name(c.action));
    httpd_respond_json(req, 202, r);
    json_decref(r);
}

static void lbody_cleanup(void *ctx, bool completed)
{
    (void)completed;
    free(ctx);
}

static const struct httpd_body_ops lbody_ops = { lbody_data, NULL, lbody_done, lbody_cleanup };

static void listener_handle(void *app, struct httpd_req *req)
{
    struct online *o = app;
    if (strcmp(httpd_req_path(req), "/v1/command") != 0) {
        httpd_respond_error(req, SECUP_E_NOENT, "no route %.200s: commands are POSTed to /v1/command",
                            httpd_req_path(req));
        return;
    }
    if (strcmp(httpd_req_method(req), "POST") != 0) {
        httpd_respond_error(req, SECUP_E_HTTP, "commands are POSTed");
        return;
    }
    struct lbody *b = calloc(1, sizeof(*b));
    if (!b) {
        httpd_respond_error(req, SECUP_E_NOMEM, "no memory for a command");
        return;
    }
    b->o = o;
    httpd_req_accept_body(req, sizeof(b->buf), &lbody_ops, b);
}

/* The listener's TLS key and certificate: configured, or made at the first start. */
static secup_rc listener_tls(struct online *o, char *cert, char *key, size_t cap,
                             struct secup_err *err)
{
    if (o->cfg->listen_cert[0]) {
        snprintf(cert, cap, "%s", o->cfg->listen_cert);
        snprintf(key, cap, "%s", o->cfg->listen_key);
        return SECUP_OK;
    }
    snprintf(cert, cap, "%s/listen-cert.pem", o->a->cfg.state_dir);
    snprintf(key, cap, "%s/listen-key.pem", o->a->cfg.state_dir);
    struct stat sb;
    if (stat(cert, &sb) == 0 && stat(key, &sb) == 0)
        return SECUP_OK;
    struct secup_key *k = NULL;
    secup_rc rc = secup_key_generate(&k, SECUP_KEY_P256, err);
    if (rc == SECUP_OK)
        rc = secup_key_save_private(k, key, err);
    if (rc == SECUP_OK)
        rc = secup_key_save_self_signed_cert(k, "localhost", 825, cert, err);
    secup_key_free(k);
    if (rc == SECUP_OK)
        say("made a TLS key and a self-signed certificate for the listener: %s", cert);
    return rc;
}

static secup_rc listener_start(struct online *o, struct secup_err *err)
{
    char cert[AGENT_PATH_MAX + 32], key[AGENT_PATH_MAX + 32];
    secup_rc rc = listener_tls(o, cert, key, sizeof(cert), err);
    if (rc != SECUP_OK)
        return rc;
    struct httpd_config hc;
    memset(&hc, 0, sizeof(hc));
    hc.listen = o->cfg->listen_addr;
    hc.cert_file = cert;
    hc.key_file = key;
    hc.threads = 2;
    hc.connection_limit = 16;
    hc.timeout_s = 10;
    hc.max_body = sizeof(o->box);
    /* the signals of a stop go to the main loop, not to the listener's threads */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    rc = httpd_start(&hc, listener_handle, o, &o->listener, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "tracker.listen");
        return rc;
    }
    unsigned port = httpd_port(o->listener);
    const char *u = o->cfg->callback_url;
    const char *ph = strstr(u, "{port}");
    if (u[0] && ph) {
        snprintf(o->callback, sizeof(o->callback), "%.*s%u%s", (int)(ph - u), u, port, ph + 6);
    } else if (u[0]) {
        snprintf(o->callback, sizeof(o->callback), "%s", u);
    } else {
        const char *a = o->cfg->listen_addr;
        const char *colon = strrchr(a, ':');
        int hl = colon ? (int)(colon - a) : (int)strlen(a);
        if ((hl == 7 && strncmp(a, "0.0.0.0", 7) == 0) || (hl == 4 && strncmp(a, "[::]", 4) == 0))
            return secup_err_set(err, SECUP_E_VALUE,
                                 "tracker.listen: listening on every address, the agent cannot tell the tracker where: give \"url\"");
        snprintf(o->callback, sizeof(o->callback), "https://%.*s:%u/v1/command", hl, a, port);
    }
    say("listening for commands on %s (port %u)", o->callback, port);
    return SECUP_OK;
}

/* Tells the tracker where the listener is (PUT /v1/callback). */
static secup_rc send_callback(struct online *o, struct secup_err *err)
{
    char url[AGENT_URL_MAX + 32];
    tracker_url(o, "/v1/callback", url, sizeof(url));
    json_t *body = json_pack("{s:s}", "url", o->callback);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the callback");
    struct httpc_request req = {
        .method = "PUT", .url = url, .bearer = o->os.token, .body = (const uint8_t *)text,
        .body_len = strlen(text), .content_type = "application/json",
    };
    struct httpc_response resp;
    secup_rc rc = httpc_perform(&o->tracker_http, &req, &resp, err);
    free(text);
    if (rc != SECUP_OK)
        return rc;
    if (resp.status != 200)
        rc = answer_error(o, &resp, "callback", err);
    httpc_response_free(&resp);
    if (rc == SECUP_OK) {
        o->callback_sent = true;
        say("the tracker will POST commands to %s", o->callback);
    }
    return rc;
}

/* A command the listener accepted: acted on as a polled one, then reported. */
static secup_rc take_mailbox(struct online *o, struct secup_err *err)
{
    static uint8_t cmd[SECUP_COMMAND_MAX_SIZE + 1024];
    pthread_mutex_lock(&o->lock);
    size_t len = o->box_len;
    memcpy(cmd, o->box, len);
    pthread_mutex_unlock(&o->lock);
    if (len == 0)
        return SECUP_OK;
    bool acted = false;
    struct secup_err cerr;
    secup_err_clear(&cerr);
    secup_rc crc = handle_command(o, secup_bytes_of(cmd, len), &acted, &cerr);
    pthread_mutex_lock(&o->lock);
    o->box_len = 0; /* emptied only now: the listener takes no second command meanwhile */
    pthread_mutex_unlock(&o->lock);
    if (crc != SECUP_OK && !acted)
        say("command from the listener refused: %s [%s]", cerr.msg, secup_rc_name(crc));
    if (o->report_due && !stop_requested)
        return do_report(o, err);
    return SECUP_OK;
}

/* T5 and U3: a feed whose newest statement expired is stale (logged once; the status
 * report carries it); a system clock below the secure-time floor is logged as such. */
static void check_freshness(struct online *o)
{
    bool behind = false;
    uint64_t t = agent_secure_now(o->a, &behind);
    uint64_t fresh_until = o->a->st.fresh_until;
    if (fresh_until && t > fresh_until && !o->stale_logged) {
        say("the tracker's feed is stale: no fresh command since expires-at %llu (secure time %llu)",
            (unsigned long long)fresh_until, (unsigned long long)t);
        o->stale_logged = true;
        o->report_due = true; /* the tracker learns it from the next report */
    }
    if (behind && !o->behind_logged)
        say("the system clock (%llu) is behind the secure-time floor (%llu): set back or replayed; "
            "the floor is used for every expiry", (unsigned long long)now(),
            (unsigned long long)o->a->st.time_floor);
    o->behind_logged = behind;
}

static secup_rc online_open(struct online *o, struct secup_err *err)
{
    bool recovered = false;
    secup_rc rc = online_state_load(&o->a->cfg, &o->os, &recovered, err);
    if (rc != SECUP_OK)
        return rc; /* the counters are lost: acting on commands could replay old ones */
    if (recovered)
        say("one online state copy was bad: %s", err->msg);
    o->time_floor = o->a->st.time_floor;
    rc = secup_key_load_pem(&o->tracker_key, o->cfg->tracker_key, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "tracker.key");
        return rc;
    }
    if (o->cfg->server_token_file[0]) {
        rc = token_read_file(o->cfg->server_token_file, o->server_token, sizeof(o->server_token), err);
        if (rc != SECUP_OK)
            return rc;
    }
    o->tracker_http.ca_file = o->cfg->tracker_ca[0] ? o->cfg->tracker_ca : NULL;
    o->tracker_http.timeout_s = 60;
    o->server_http.ca_file = o->cfg->server_ca[0] ? o->cfg->server_ca : NULL;
    o->server_http.low_speed_time_s = o->cfg->low_speed_time;
    o->server_http.low_speed_limit = o->cfg->low_speed_limit;
    o->server_http.timeout_s = o->cfg->transfer_timeout;
    if (o->cfg->listen_addr[0])
        return listener_start(o, err);
    return SECUP_OK;
}

/* One cycle: register if needed, report if due, poll, act. */
static secup_rc cycle(struct online *o, bool *refused, struct secup_err *err)
{
    secup_rc rc = SECUP_OK;
    *refused = false;
    if (!o->os.token[0]) {
        rc = do_register(o, err);
        if (rc != SECUP_OK)
            return rc;
        o->report_due = true;
    }
    if (o->listener && !o->callback_sent && !stop_requested) {
        struct secup_err cerr;
        if (send_callback(o, &cerr) != SECUP_OK)
            say("the tracker does not know the listener yet: %s [%s]", cerr.msg,
                secup_rc_name(cerr.rc)); /* polls still work; again next cycle */
    }
    if (stop_requested)
        return SECUP_OK;
    check_freshness(o);
    rc = take_mailbox(o, err);
    if (rc != SECUP_OK)
        return rc;
    if (o->report_due || now() >= o->last_report + o->cfg->report_interval) {
        rc = do_report(o, err);
        if (rc != SECUP_OK)
            return rc;
    }
    if (stop_requested)
        return SECUP_OK;
    rc = poll_once(o, refused, err);
    if (rc == SECUP_OK && o->report_due && !stop_requested)
        rc = do_report(o, err);
    if (rc == SECUP_OK && !stop_requested)
        rc = take_mailbox(o, err);
    check_freshness(o);
    return rc;
}

int agent_online_run(struct agent *a, const char *config, bool once)
{
    static struct online o;
    struct secup_err err;
    secup_err_clear(&err);
    memset(&o, 0, sizeof(o));
    o.a = a;
    o.config = config;
    o.cfg = &a->cfg.online;
    o.report_due = true;
    pthread_mutex_init(&o.lock, NULL);
    snprintf(o.tracker_id, sizeof(o.tracker_id), "%s", o.cfg->tracker_id);
    snprintf(o.device_id, sizeof(o.device_id), "%s", a->cfg.device_id);
    if (!o.cfg->tracker) {
        fprintf(stderr, "secup-agent: run: no \"tracker\" section in '%s' (docs/agent.md)\n", config);
        return 4;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    agent_remove_temps(a);
    secup_rc rc = online_open(&o, &err);
    if (rc != SECUP_OK) {
        fprintf(stderr, "secup-agent: run: %s [%s]\n", err.msg, secup_rc_name(rc));
        if (o.listener)
            httpd_stop(o.listener);
        secup_key_free(o.tracker_key);
        return rc == SECUP_E_NOENT || rc == SECUP_E_IO ? 4 : 1;
    }
    say("online: device %s, tracker %s (%s)", a->cfg.device_id, o.cfg->tracker_id, o.cfg->tracker_url);
    int status = 0;
    uint32_t delay = o.cfg->retry_initial;
    while (!stop_requested) {
        bool refused = false;
        secup_err_clear(&err);
        rc = cycle(&o, &refused, &err);
        if (rc != SECUP_OK)
            say("%s [%s]", err.msg, secup_rc_name(rc));
        if (once) {
            status = rc != SECUP_OK ? ((int)rc >= 400 ? 4 : 1) : refused ? 1 : 0;
            break;
        }
        if (rc != SECUP_OK || refused) {
            /* the tracker unreachable, or a command it keeps sending that is refused */
            uint32_t wait = wait_after(&o, delay);
            say("again in %u s", wait);
            if (o.listener)
                wait_for(&o, wait); /* a command at the listener ends the wait */
            else
                pause_for(wait);
            delay = next_delay(o.cfg, delay);
        } else {
            delay = o.cfg->retry_initial;
            if (o.cfg->poll_interval)
                wait_for(&o, o.cfg->poll_interval);
        }
    }
    if (stop_requested)
        say("stopped");
    if (o.listener)
        httpd_stop(o.listener);
    pthread_mutex_destroy(&o.lock);
    secup_key_free(o.tracker_key);
    secup_wipe(o.server_token, sizeof(o.server_token));
    secup_wipe(o.os.token, sizeof(o.os.token));
    return status;
}
