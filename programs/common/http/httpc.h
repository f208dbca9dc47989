/* The HTTP client seam (libcurl) of secup-author, secup-agent, secup-server (tracker
 * notifications) and secup-tracker. httpc_curl.c is the only file that includes
 * <curl/curl.h>. It never links libmicrohttpd, so the agent can use it. */
#ifndef SECUP_HTTPC_H
#define SECUP_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "secup/err.h"

struct httpc_config {
    const char *ca_file;          /* trust these CAs (PEM) instead of the system store */
    bool insecure;                /* do not verify the server certificate (development only) */
    const char *client_cert;      /* optional client certificate (mutual TLS), PEM */
    const char *client_key;
    unsigned connect_timeout_s;   /* 0: 10 */
    unsigned timeout_s;           /* whole transfer; 0: none (the low-speed limit applies) */
    unsigned low_speed_time_s;    /* abort below low_speed_limit for this long; 0: 60 */
    unsigned low_speed_limit;     /* bytes per second; 0: 1 */
    bool fresh_connection;        /* httpc_multi_start(): a connection of its own, closed
                                   * after the request (httpc_perform() always opens one) */
};

struct httpc_part {
    const char *name;          /* form field */
    const char *file;          /* stream this file ... */
    const uint8_t *data;       /* ... or these bytes */
    size_t len;
    const char *content_type;  /* may be NULL */
};

struct httpc_request {
    const char *method;             /* NULL: GET, or POST when there is a body */
    const char *url;
    const char *const *headers;     /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *bearer;             /* Authorization: Bearer <token>; may be NULL */
    const uint8_t *body;            /* a plain body ... */
    size_t body_len;
    const char *content_type;
    const struct httpc_part *parts; /* ... or multipart/form-data parts */
    size_t nparts;
    uint64_t resume_from;           /* > 0: Range: bytes=<resume_from>- */
    /* The response body goes to sink when set (return false to abort: SECUP_E_NET
     * unless the sink set err), else into memory up to max_response bytes (0: 1 MiB;
     * more is SECUP_E_LIMIT_BODY). Only a 2xx body reaches the sink: any other answer is
     * kept in memory (at most 64 KiB) for httpc_response_error(). resp->status holds the
     * answer's status from the first body byte on, so a sink may look at it (206 or 200
     * for a request with resume_from). */
    bool (*sink)(void *ctx, const uint8_t *p, size_t n, struct secup_err *err);
    void *sink_ctx;
    uint64_t max_response;
    /* Called as bytes move (upload or download), at most about 10 times a second. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total, bool upload);
    void *progress_ctx;
    /* Polled about once a second while the transfer runs (a long poll too): true ends it
     * at once with SECUP_E_STATE ("cancelled"). */
    bool (*cancel)(void *ctx);
    void *cancel_ctx;
};

struct httpc_response {
    long status;
    uint8_t *body;           /* when no sink: the body, NUL-terminated (not counted) */
    size_t body_len;
    char etag[130];          /* the ETag header, as sent (quotes included); "" if none */
    char content_type[128];
    uint64_t content_length; /* of this response; 0 if unknown */
    unsigned retry_after_s;  /* a Retry-After header (seconds, or an HTTP date turned into
                              * seconds from now; at most HTTPC_RETRY_AFTER_MAX); 0 if none */
};

/* The longest Retry-After honoured: a larger one counts as this. */
#define HTTPC_RETRY_AFTER_MAX 86400u

/* Performs one request. A transport failure is SECUP_E_NET (SECUP_E_TIMEOUT for a
 * timeout); any HTTP status is success here: look at resp->status. */
secup_rc httpc_perform(const struct httpc_config *cfg, const struct httpc_request *req,
                       struct httpc_response *resp, struct secup_err *err);
void httpc_response_free(struct httpc_response *resp);

/* Turns an error answer ({"error": "SECUP_E_...", "message": "..."}) into err and
 * returns its code; a body that is not one gives SECUP_E_NET with the status. */
secup_rc httpc_response_error(const struct httpc_response *resp, struct secup_err *err);

/* ---- Many requests at once (curl multi), for one thread that drives many clients ----
 *
 * httpc_multi_start() queues a request; httpc_multi_run() moves every queued transfer
 * along, waiting at most timeout_ms for activity, and calls each finished transfer's
 * done() from inside it (never from elsewhere). A done() may start new transfers.
 * Requests are plain: a method, a bearer token, headers, a body from memory (copied),
 * the response into memory or a sink, as for httpc_perform(); no multipart, no progress,
 * no resume. The transfers of one multi share its connection pool: a kept-alive
 * connection one request opened may carry a later one to the same host, unless the
 * request's httpc_config says fresh_connection.
 * One multi belongs to one thread. */
struct httpc_multi;

/* rc is SECUP_OK when an answer came (any status: look at resp->status), else the
 * transport failure with err, as for httpc_perform(). resp and err are valid during the
 * call only: resp->body is freed afterwards unless done() takes it (sets resp->body to
 * NULL and frees it later with free()). */
typedef void (*httpc_done_fn)(void *ctx, secup_rc rc, struct httpc_response *resp,
                              struct secup_err *err);

/* max_connections: open connections at most (0: no limit); more transfers wait. */
secup_rc httpc_multi_new(struct httpc_multi **out, unsigned max_connections,
                         struct secup_err *err);
/* Queues one request. cfg, the URL, bearer, headers, content type and body are copied;
 * a sink and its context must live until done() is called. SECUP_E_ARG for a request
 * this interface does not carry (parts, resume), SECUP_E_NOMEM. */
secup_rc httpc_multi_start(struct httpc_multi *m, const struct httpc_config *cfg,
                           const struct httpc_request *req, httpc_done_fn done, void *ctx,
                           struct secup_err *err);
/* Runs transfers for up to timeout_ms (less when one finishes); SECUP_E_NET when libcurl
 * fails as a whole. */
secup_rc httpc_multi_run(struct httpc_multi *m, unsigned timeout_ms, struct secup_err *err);
/* Transfers queued or running. */
unsigned httpc_multi_active(const struct httpc_multi *m);
/* Abandons every transfer without calling done() (their sinks see nothing more). */
void httpc_multi_free(struct httpc_multi *m);

/* ---- the answer-header parsers (httpc_parse.c; fuzzed by fuzz/http_client_fuzz.c) ---- */

/* A Retry-After value (RFC 9110 section 10.2.3): delay-seconds, or an HTTP date turned
 * into seconds after now; at most HTTPC_RETRY_AFTER_MAX; 0 for anything else or a date
 * that has passed. */
unsigned httpc_parse_retry_after(const char *v, size_t n, time_t now);
/* A Content-Length value the client takes: 1 to 18 decimal digits (below 10^18 bytes),
 * no sign, nothing else (THREATS.md P5). */
bool httpc_content_length_ok(const char *v, size_t n);

#endif /* SECUP_HTTPC_H */
