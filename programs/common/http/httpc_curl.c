/* The HTTP client seam on libcurl (OpenSSL flavour). The only file of the common code that
 * includes <curl/curl.h>; it never links libmicrohttpd, so the agent can use it.
 *
 * One easy handle per call: no state is shared between calls except curl's global
 * initialisation, done once (pthread_once) because curl_global_init is not thread-safe. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "httpc.h"

#define DEFAULT_MAX_RESPONSE (1024u * 1024u)
/* An answer that is not 2xx goes to memory, not to the sink, so that an error page never
 * lands in a slot and httpc_response_error() can read it. */
#define ERROR_BODY_MAX (64u * 1024u)
#define PROGRESS_PERIOD_MS 100u
/* The header block of one answer: more is an attack on the client (THREATS.md P5), and
 * libcurl 7.88 bounds only each line (100 KiB). */
#define HEADERS_MAX (64u * 1024u)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct xfer {
    const struct httpc_request *req;
    struct httpc_response *resp;
    struct secup_err *err;
    bool own_err_set;       /* a callback set err: keep it */
    long header_status;     /* status of the response whose headers are arriving */
    size_t header_bytes;    /* of that response's header block */
    bool headers_done;      /* the blank line ending a final answer's header block came */
    bool to_sink;           /* decided with the first body byte */
    bool body_started;
    size_t cap;
    uint64_t limit;
    uint64_t last_progress_ms;
    bool cancelled;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool name_is(const char *line, size_t n, const char *name, const char **value,
                    size_t *vlen)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':')
        return false;
    for (size_t i = 0; i < k; i++) {
        char a = line[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != name[i])
            return false;
    }
    const char *v = line + k + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return true;
}

static void store(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap) { /* a truncated ETag would be a wrong one */
        dst[0] = '\0';
        return;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nitems;
    const char *v;
    size_t vlen;
    if (!(n >= 5 && memcmp(line, "HTTP/", 5) == 0) && n > HEADERS_MAX - x->header_bytes) {
        secup_err_set(x->err, SECUP_E_NET, "the answer's headers are larger than %u bytes",
                      HEADERS_MAX);
        x->own_err_set = true;
        return 0;
    }
    x->header_bytes += n;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue, for example): forget the earlier headers */
        const char *sp = memchr(line, ' ', n);
        long status = 0;
        if (sp)
            for (const char *p = sp + 1; p < line + n && *p >= '0' && *p <= '9'; p++)
                status = status * 10 + (*p - '0');
        x->header_status = status;
        x->header_bytes = 0;
        x->headers_done = false;
        x->resp->etag[0] = '\0';
        x->resp->content_type[0] = '\0';
        x->resp->retry_after_s = 0;
    } else if ((n == 2 && line[0] == '\r' && line[1] == '\n') || (n == 1 && line[0] == '\n')) {
        x->headers_done = x->header_status >= 200;
    } else if (name_is(line, n, "etag", &v, &vlen)) {
        store(x->resp->etag, sizeof(x->resp->etag), v, vlen);
    } else if (name_is(line, n, "content-type", &v, &vlen)) {
        store(x->resp->content_type, sizeof(x->resp->content_type), v, vlen);
    } else if (name_is(line, n, "retry-after", &v, &vlen)) {
        x->resp->retry_after_s = httpc_parse_retry_after(v, vlen, time(NULL));
    } else if (name_is(line, n, "content-length", &v, &vlen) && !httpc_content_length_ok(v, vlen)) {
        /* libcurl 7.88 reads an overflowing length as "until the end" and a number with
         * garbage after it as the number: the answer's framing is a lie, not an answer
         * (THREATS.md P5) */
        secup_err_set(x->err, SECUP_E_NET,
                      "the answer's Content-Length '%.40s' is not a length (malformed framing)",
                      vlen ? v : "");
        x->own_err_set = true;
        return 0;
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;
    const struct httpc_request *req = x->req;
    if (!x->body_started) {
        x->body_started = true;
        x->resp->status = x->header_status; /* a sink may look at it (httpc.h) */
        x->to_sink = req->sink && x->header_status >= 200 && x->header_status < 300;
        x->limit = x->to_sink ? 0
                   : req->sink ? ERROR_BODY_MAX
                   : req->max_response ? req->max_response
                                       : DEFAULT_MAX_RESPONSE;
    }
    if (x->to_sink) {
        if (!req->sink(req->sink_ctx, (const uint8_t *)p, n, x->err)) {
            if (!x->err || x->err->rc == SECUP_OK)
                secup_err_set(x->err, SECUP_E_NET, "the response sink refused the data");
            x->own_err_set = true;
            return 0;
        }
        x->resp->body_len += n;
        return n;
    }
    struct httpc_response *r = x->resp;
    if (n > x->limit - r->body_len) {
        secup_err_set(x->err, SECUP_E_LIMIT_BODY,
                      "response body from '%s' is over the limit of %llu bytes", req->url,
                      (unsigned long long)x->limit);
        x->own_err_set = true;
        return 0;
    }
    if (r->body_len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        uint8_t *nb = realloc(r->body, cap);
        if (!nb) {
            secup_err_set(x->err, SECUP_E_NOMEM, "out of memory for the response body");
            x->own_err_set = true;
            return 0;
        }
        r->body = nb;
        x->cap = cap;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = userdata;
    if (x->req->cancel && x->req->cancel(x->req->cancel_ctx)) {
        x->cancelled = true;
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    }
    if (!x->req->progress)
        return 0;
    uint64_t now = now_ms();
    if (now - x->last_progress_ms < PROGRESS_PERIOD_MS)
        return 0;
    bool upload = ultotal > 0 && ulnow < ultotal && dlnow == 0;
    if (!upload && dlnow == 0 && ulnow == 0)
        return 0;
    x->last_progress_ms = now;
    if (upload || (ultotal > 0 && dlnow == 0))
        x->req->progress(x->req->progress_ctx, (uint64_t)ulnow, (uint64_t)ultotal, true);
    else
        x->req->progress(x->req->progress_ctx, (uint64_t)dlnow,
                         dltotal > 0 ? (uint64_t)dltotal : 0, false);
    return 0;
}

/* In-memory multipart parts are read through a callback, so they are not copied. */
struct mem_part {
    const uint8_t *data;
    size_t len, pos;
};

static size_t mem_part_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct mem_part *m = arg;
    size_t n = size * nitems;
    if (n > m->len - m->pos)
        n = m->len - m->pos;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static int mem_part_seek(void *arg, curl_off_t offset, int origin)
{
    struct mem_part *m = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > m->len)
        return CURL_SEEKFUNC_FAIL;
    m->pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static secup_rc map_curl_error(CURLcode cc, const char *url, const char *detail,
                               struct secup_err *err)
{
    const char *why = detail && detail[0] ? detail : curl_easy_strerror(cc);
    secup_rc rc;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT: rc = SECUP_E_TIMEOUT; break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: rc = SECUP_E_ARG; break;
    case CURLE_OUT_OF_MEMORY: rc = SECUP_E_NOMEM; break;
    case CURLE_READ_ERROR: rc = SECUP_E_IO; break;
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE: rc = SECUP_E_KEY_FORMAT; break;
    default: rc = SECUP_E_NET; break;
    }
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return secup_err_set(err, rc, "'%s': the server certificate does not verify: %s", url,
                             why);
    return secup_err_set(err, rc, "'%s': %s", url, why);
}

static secup_rc check_file(const char *path, const char *what, struct secup_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "%s '%s': %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return secup_err_set(err, SECUP_E_IO, "%s '%s' is not a regular file", what, path);
    return SECUP_OK;
}

/* The options every transfer gets, one-shot (httpc_perform) or in a multi: protocols,
 * timeouts and the low-speed limit, TLS verification and the client certificate, and the
 * header and body callbacks on x. */
static CURLcode apply_config(CURL *h, const struct httpc_config *cfg, struct xfer *x,
                             char *errbuf)
{
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                           \
    do {                                        \
        if (cc == CURLE_OK)                     \
            cc = curl_easy_setopt(h, opt, val); \
    } while (0)
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CONNECTTIMEOUT, (long)(cfg->connect_timeout_s ? cfg->connect_timeout_s : 10));
    if (cfg->timeout_s)
        SET(CURLOPT_TIMEOUT, (long)cfg->timeout_s);
    SET(CURLOPT_LOW_SPEED_LIMIT, (long)(cfg->low_speed_limit ? cfg->low_speed_limit : 1));
    SET(CURLOPT_LOW_SPEED_TIME, (long)(cfg->low_speed_time_s ? cfg->low_speed_time_s : 60));
    SET(CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
    if (cfg->ca_file)
        SET(CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->client_cert) {
        SET(CURLOPT_SSLCERT, cfg->client_cert);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (cfg->client_key) {
        SET(CURLOPT_SSLKEY, cfg->client_key);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
#undef SET
    return cc;
}

/* The method, for a request whose body (if any) is already set: HEAD has none, GET and
 * POST are libcurl's own, any other is sent as given. */
static CURLcode apply_method(CURL *h, const char *method)
{
    if (!method || strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0)
        return CURLE_OK;
    if (strcmp(method, "HEAD") == 0)
        return curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

secup_rc httpc_perform(const struct httpc_config *cfg, const struct httpc_request *req,
                       struct httpc_response *resp, struct secup_err *err)
{
    static const struct httpc_config defaults;
    memset(resp, 0, sizeof(*resp));
    if (!req || !req->url)
        return secup_err_set(err, SECUP_E_ARG, "httpc_perform: no request or URL");
    if (!cfg)
        cfg = &defaults;
    if (req->nparts > 0 && req->body)
        return secup_err_set(err, SECUP_E_ARG, "a request has a plain body or parts, not both");
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return secup_err_set(err, SECUP_E_NET, "cannot initialise libcurl: %s",
                             curl_easy_strerror(global_rc));
    for (size_t i = 0; i < req->nparts; i++) {
        if (req->parts[i].file) {
            secup_rc rc = check_file(req->parts[i].file, "upload file", err);
            if (rc != SECUP_OK)
                return rc;
        }
    }

    CURL *h = curl_easy_init();
    if (!h)
        return secup_err_set(err, SECUP_E_NOMEM, "cannot create a libcurl handle");
    struct curl_slist *headers = NULL;
    curl_mime *mime = NULL;
    struct mem_part *mem_parts = NULL;
    char *bearer = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct secup_err local;
    secup_err_clear(&local);
    struct xfer x = { .req = req, .resp = resp, .err = err ? err : &local };
    secup_err_clear(x.err);
    secup_rc rc = SECUP_OK;
    CURLcode cc = CURLE_OK;

#define SET(opt, val)                           \
    do {                                        \
        if (cc == CURLE_OK)                     \
            cc = curl_easy_setopt(h, opt, val); \
    } while (0)
    SET(CURLOPT_URL, req->url);
    if (cc == CURLE_OK)
        cc = apply_config(h, cfg, &x, errbuf);
    if (req->progress || req->cancel) {
        SET(CURLOPT_NOPROGRESS, 0L);
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, &x);
    }
    if (cc != CURLE_OK) {
        rc = secup_err_set(x.err, SECUP_E_NET, "libcurl refused an option: %s",
                           curl_easy_strerror(cc));
        goto out;
    }

    /* headers */
    for (const char *const *hp = req->headers; hp && *hp; hp++) {
        if (strpbrk(*hp, "\r\n")) {
            rc = secup_err_set(x.err, SECUP_E_ARG, "a request header holds a line break");
            goto out;
        }
        struct curl_slist *nh = curl_slist_append(headers, *hp);
        if (!nh)
            goto nomem;
        headers = nh;
    }
    if (req->bearer) {
        if (strpbrk(req->bearer, "\r\n")) {
            rc = secup_err_set(x.err, SECUP_E_ARG, "the bearer token holds a line break");
            goto out;
        }
        size_t n = strlen("Authorization: Bearer ") + strlen(req->bearer) + 1;
        bearer = malloc(n);
        if (!bearer)
            goto nomem;
        snprintf(bearer, n, "Authorization: Bearer %s", req->bearer);
        struct curl_slist *nh = curl_slist_append(headers, bearer);
        if (!nh)
            goto nomem;
        headers = nh;
    }

    /* body */
    if (req->nparts > 0) {
        mime = curl_mime_init(h);
        mem_parts = calloc(req->nparts, sizeof(*mem_parts));
        if (!mime || !mem_parts)
            goto nomem;
        for (size_t i = 0; i < req->nparts && cc == CURLE_OK; i++) {
            const struct httpc_part *p = &req->parts[i];
            curl_mimepart *mp = curl_mime_addpart(mime);
            if (!mp)
                goto nomem;
            cc = curl_mime_name(mp, p->name);
            if (cc == CURLE_OK && p->file) {
                cc = curl_mime_filedata(mp, p->file);
            } else if (cc == CURLE_OK) {
                mem_parts[i] = (struct mem_part){ .data = p->data, .len = p->len };
                cc = curl_mime_data_cb(mp, (curl_off_t)p->len, mem_part_read, mem_part_seek,
                                       NULL, &mem_parts[i]);
            }
            if (cc == CURLE_OK && p->content_type)
                cc = curl_mime_type(mp, p->content_type);
        }
        SET(CURLOPT_MIMEPOST, mime);
    } else if (req->body || (req->method && strcmp(req->method, "POST") == 0)) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        if (req->content_type) {
            size_t n = strlen("Content-Type: ") + strlen(req->content_type) + 1;
            char *ct = malloc(n);
            if (!ct)
                goto nomem;
            snprintf(ct, n, "Content-Type: %s", req->content_type);
            struct curl_slist *nh = curl_slist_append(headers, ct);
            free(ct);
            if (!nh)
                goto nomem;
            headers = nh;
        }
    }
    if (cc == CURLE_OK)
        cc = apply_method(h, req->method);
    char range[32];
    if (req->resume_from > 0) {
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)req->resume_from);
        SET(CURLOPT_RANGE, range);
    }
    if (headers)
        SET(CURLOPT_HTTPHEADER, headers);
    if (cc != CURLE_OK) {
        rc = map_curl_error(cc, req->url, NULL, x.err);
        goto out;
    }

    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (x.cancelled) {
            rc = secup_err_set(x.err, SECUP_E_STATE, "'%s': cancelled", req->url);
        } else if (x.own_err_set && x.err->rc != SECUP_OK) {
            rc = x.err->rc;
            secup_err_prefix(x.err, "'%s'", req->url);
        } else {
            rc = map_curl_error(cc, req->url, errbuf, x.err);
        }
        goto out;
    }
    if (!x.headers_done) {
        /* libcurl takes a connection closed inside the header block as the end of an
         * answer with an empty body: that is a cut, not an answer (THREATS.md F9) */
        rc = secup_err_set(x.err, SECUP_E_NET,
                           "'%s': the connection closed inside the answer's headers", req->url);
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_off_t cl = -1;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0)
        resp->content_length = (uint64_t)cl;
    if (req->progress) {
        curl_off_t up = 0, down = 0;
        curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up);
        curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &down);
        if (up > 0)
            req->progress(req->progress_ctx, (uint64_t)up, (uint64_t)up, true);
        req->progress(req->progress_ctx, (uint64_t)down, (uint64_t)down, false);
    }
    goto out;

nomem:
    rc = secup_err_set(x.err, SECUP_E_NOMEM, "out of memory preparing the request to '%s'",
                       req->url);
out:
#undef SET
    if (rc != SECUP_OK) {
        free(resp->body);
        long keep = resp->status;
        memset(resp, 0, sizeof(*resp));
        resp->status = keep;
    }
    curl_easy_cleanup(h);
    curl_mime_free(mime);
    free(mem_parts);
    curl_slist_free_all(headers);
    if (bearer) {
        memset(bearer, 0, strlen(bearer));
        free(bearer);
    }
    return rc;
}

void httpc_response_free(struct httpc_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

secup_rc httpc_response_error(const struct httpc_response *resp, struct secup_err *err)
{
    secup_rc rc = SECUP_E_NET;
    const char *name = NULL, *msg = NULL;
    json_t *root = NULL;
    if (resp->body && resp->body_len > 0) {
        root = json_loadb((const char *)resp->body, resp->body_len, 0, NULL);
        if (json_is_object(root)) {
            name = json_string_value(json_object_get(root, "error"));
            msg = json_string_value(json_object_get(root, "message"));
        }
    }
    secup_rc code;
    if (name && secup_rc_from_name(name, &code) && code != SECUP_OK) {
        char clean[SECUP_ERR_MSG_MAX];
        size_t i = 0;
        for (; msg && msg[i] && i + 1 < sizeof(clean); i++)
            clean[i] = (msg[i] == '\n' || msg[i] == '\r') ? ' ' : msg[i];
        clean[i] = '\0';
        rc = secup_err_set(err, code, "%s", i ? clean : secup_rc_str(code));
    } else if (resp->status >= 200 && resp->status < 300) {
        rc = secup_err_set(err, SECUP_E_NET, "HTTP %ld is not an error answer", resp->status);
    } else {
        rc = secup_err_set(err, SECUP_E_NET, "the server answered HTTP %ld%s", resp->status,
                           name ? " with an unknown error code" : " without an error body");
    }
    json_decref(root);
    return rc;
}

/* ---- many requests at once: curl multi ---- */

struct mxfer;

struct httpc_multi {
    CURLM *m;
    unsigned active;
    struct mxfer *list; /* the transfers queued or running */
};

struct mxfer {
    struct xfer x;               /* the callbacks of httpc_perform(), on this copy: */
    struct httpc_request req;    /* url, bearer, body owned below */
    struct httpc_response resp;
    struct secup_err err;
    CURL *h;
    char *url;
    uint8_t *body;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    httpc_done_fn done;
    void *ctx;
    struct mxfer *prev, *next;
};

static void mxfer_free(struct mxfer *t)
{
    if (!t)
        return;
    if (t->h)
        curl_easy_cleanup(t->h);
    for (struct curl_slist *l = t->headers; l; l = l->next) /* the bearer line */
        memset(l->data, 0, strlen(l->data));
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t->body);
    free(t->resp.body);
    free(t);
}

secup_rc httpc_multi_new(struct httpc_multi **out, unsigned max_connections,
                         struct secup_err *err)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return secup_err_set(err, SECUP_E_NET, "cannot initialise libcurl: %s",
                             curl_easy_strerror(global_rc));
    struct httpc_multi *m = calloc(1, sizeof(*m));
    if (!m || !(m->m = curl_multi_init())) {
        free(m);
        return secup_err_set(err, SECUP_E_NOMEM, "cannot create a libcurl multi handle");
    }
    if (max_connections) {
        curl_multi_setopt(m->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_connections);
        curl_multi_setopt(m->m, CURLMOPT_MAXCONNECTS, (long)max_connections);
    }
    *out = m;
    return SECUP_OK;
}

/* A header line "Name: value" appended, refusing line breaks. */
static secup_rc add_header(struct curl_slist **list, const char *name, const char *value,
                           struct secup_err *err)
{
    if (strpbrk(value, "\r\n"))
        return secup_err_set(err, SECUP_E_ARG, "the %s header holds a line break", name);
    size_t n = strlen(name) + 2 + strlen(value) + 1;
    char *line = malloc(n);
    if (!line)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory for a request header");
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *nl = curl_slist_append(*list, line);
    memset(line, 0, n);
    free(line);
    if (!nl)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory for a request header");
    *list = nl;
    return SECUP_OK;
}

secup_rc httpc_multi_start(struct httpc_multi *m, const struct httpc_config *cfg,
                           const struct httpc_request *req, httpc_done_fn done, void *ctx,
                           struct secup_err *err)
{
    static const struct httpc_config defaults;
    if (!m || !req || !req->url || !done)
        return secup_err_set(err, SECUP_E_ARG, "httpc_multi_start: no multi, request, URL or done()");
    if (req->nparts > 0 || req->resume_from > 0 || req->progress)
        return secup_err_set(err, SECUP_E_ARG,
                             "httpc_multi_start: multipart bodies, resumes and progress are httpc_perform()'s");
    if (!cfg)
        cfg = &defaults;
    struct mxfer *t = calloc(1, sizeof(*t));
    if (!t)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory for a transfer");
    t->req = *req;
    t->req.headers = NULL;
    t->req.content_type = NULL;
    t->req.bearer = NULL;
    t->done = done;
    t->ctx = ctx;
    t->url = strdup(req->url);
    t->req.url = t->url;
    if (req->body_len > 0) {
        t->body = malloc(req->body_len);
        if (t->body)
            memcpy(t->body, req->body, req->body_len);
        t->req.body = t->body;
    }
    t->h = curl_easy_init();
    if (!t->url || !t->h || (req->body_len > 0 && !t->body)) {
        mxfer_free(t);
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory for a transfer");
    }
    t->x = (struct xfer){ .req = &t->req, .resp = &t->resp, .err = &t->err };
    secup_rc rc = SECUP_OK;
    for (const char *const *hp = req->headers; rc == SECUP_OK && hp && *hp; hp++) {
        if (strpbrk(*hp, "\r\n")) {
            rc = secup_err_set(err, SECUP_E_ARG, "a request header holds a line break");
        } else {
            struct curl_slist *nl = curl_slist_append(t->headers, *hp);
            if (!nl)
                rc = secup_err_set(err, SECUP_E_NOMEM, "out of memory for a request header");
            else
                t->headers = nl;
        }
    }
    if (rc == SECUP_OK && req->bearer) {
        size_t n = strlen("Bearer ") + strlen(req->bearer) + 1;
        char *v = malloc(n);
        if (!v) {
            rc = secup_err_set(err, SECUP_E_NOMEM, "out of memory for a request header");
        } else {
            snprintf(v, n, "Bearer %s", req->bearer);
            rc = add_header(&t->headers, "Authorization", v, err);
            memset(v, 0, n);
            free(v);
        }
    }
    bool post = req->body || (req->method && strcmp(req->method, "POST") == 0);
    if (rc == SECUP_OK && post && req->content_type)
        rc = add_header(&t->headers, "Content-Type", req->content_type, err);
    if (rc != SECUP_OK) {
        mxfer_free(t);
        return rc;
    }
    CURL *h = t->h;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                           \
    do {                                        \
        if (cc == CURLE_OK)                     \
            cc = curl_easy_setopt(h, opt, val); \
    } while (0)
    SET(CURLOPT_URL, t->url);
    SET(CURLOPT_PRIVATE, t);
    if (cfg->fresh_connection) {
        SET(CURLOPT_FRESH_CONNECT, 1L);
        SET(CURLOPT_FORBID_REUSE, 1L);
    }
    if (cc == CURLE_OK)
        cc = apply_config(h, cfg, &t->x, t->errbuf);
    if (post) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, t->body ? (const char *)t->body : "");
    }
    if (cc == CURLE_OK)
        cc = apply_method(h, req->method);
    if (t->headers)
        SET(CURLOPT_HTTPHEADER, t->headers);
#undef SET
    if (cc != CURLE_OK) {
        rc = map_curl_error(cc, req->url, NULL, err);
        mxfer_free(t);
        return rc;
    }
    CURLMcode mc = curl_multi_add_handle(m->m, h);
    if (mc != CURLM_OK) {
        mxfer_free(t);
        return secup_err_set(err, SECUP_E_NET, "libcurl refused a transfer: %s", curl_multi_strerror(mc));
    }
    m->active++;
    t->next = m->list;
    if (m->list)
        m->list->prev = t;
    m->list = t;
    return SECUP_OK;
}

/* Hands every finished transfer to its done(). */
static void multi_collect(struct httpc_multi *m)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(m->m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *h = msg->easy_handle;
        CURLcode cc = msg->data.result;
        struct mxfer *t = NULL;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(m->m, h);
        m->active--;
        if (t->prev)
            t->prev->next = t->next;
        else
            m->list = t->next;
        if (t->next)
            t->next->prev = t->prev;
        secup_rc rc = SECUP_OK;
        if (cc != CURLE_OK) {
            if (t->x.own_err_set && t->err.rc != SECUP_OK) {
                rc = t->err.rc;
                secup_err_prefix(&t->err, "'%s'", t->url);
            } else {
                rc = map_curl_error(cc, t->url, t->errbuf, &t->err);
            }
            long keep = t->resp.status;
            free(t->resp.body);
            memset(&t->resp, 0, sizeof(t->resp));
            t->resp.status = keep;
        } else {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->resp.status);
            curl_off_t cl = -1;
            if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0)
                t->resp.content_length = (uint64_t)cl;
        }
        t->done(t->ctx, rc, &t->resp, &t->err);
        mxfer_free(t);
    }
}

secup_rc httpc_multi_run(struct httpc_multi *m, unsigned timeout_ms, struct secup_err *err)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(m->m, &running);
    if (mc == CURLM_OK) {
        multi_collect(m);
        mc = curl_multi_poll(m->m, NULL, 0, (int)timeout_ms, NULL);
    }
    if (mc == CURLM_OK)
        mc = curl_multi_perform(m->m, &running);
    if (mc == CURLM_OK)
        multi_collect(m);
    if (mc != CURLM_OK)
        return secup_err_set(err, SECUP_E_NET, "libcurl: %s", curl_multi_strerror(mc));
    return SECUP_OK;
}

unsigned httpc_multi_active(const struct httpc_multi *m)
{
    return m ? m->active : 0;
}

void httpc_multi_free(struct httpc_multi *m)
{
    if (!m)
        return;
    while (m->list) {
        struct mxfer *t = m->list;
        m->list = t->next;
        curl_multi_remove_handle(m->m, t->h);
        mxfer_free(t);
    }
    curl_multi_cleanup(m->m);
    free(m);
}
