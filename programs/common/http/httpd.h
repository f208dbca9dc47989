/* The HTTP server seam of secup-server and secup-tracker (STYLE.md section 6).
 * httpd_mhd.c is the only file that includes <microhttpd.h>.
 *
 * A request reaches the application once, when its head is complete: the handler
 * either answers at once (httpd_respond*), or accepts a body (plain or
 * multipart/form-data) through a sink whose done() answers. Every request ends with
 * the sink's cleanup(), also when the client went away or timed out, so that a half
 * received upload never leaves anything behind.
 *
 * Errors are answered as JSON: {"error": "<SECUP_E_NAME>", "message": "..."} with the
 * HTTP status httpd_status_for_rc() gives. */
#ifndef SECUP_HTTPD_H
#define SECUP_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "ratelimit.h"
#include "secup/err.h"

struct httpd;
struct httpd_req;

/* Memory of one TLS connection (request head, answer buffer). */
#define HTTPD_CONN_MEMORY_TLS (128u * 1024u)

struct httpd_config {
    const char *listen;          /* "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:0" (port 0: any) */
    const char *cert_file;       /* PEM certificate chain; NULL with key_file NULL: plain HTTP */
    const char *key_file;        /* PEM private key */
    const char *client_ca_file;  /* optional: ask for client certificates (mutual TLS) */
    unsigned threads;            /* worker threads (thread pool); 0: 2 per CPU */
    unsigned connection_limit;   /* 0: 1024 */
    unsigned per_ip_limit;       /* 0: no per-address limit */
    unsigned timeout_s;          /* inactivity timeout of a connection; 0: 30 */
    uint64_t max_body;           /* default body limit of httpd_req_accept_*; 0: 64 MiB */
    /* Additions of httpd_mhd.c (zero keeps the defaults): */
    unsigned min_body_rate;      /* bytes/s a body must average over each timeout_s window
                                  * (slow POST); 0: 64 */
    void (*log)(void *log_ctx, const char *line); /* server diagnostics; NULL: silent */
    void *log_ctx;
    unsigned min_read_rate;      /* bytes/s a client must take an answer at, over each
                                  * timeout_s window while the answer waits in the socket
                                  * (slow read); 0: 64 */
    /* Per-source request limits (THREATS.md U6), by the class a handler names in
     * httpd_req_limit(); n_rate_classes 0: no limit. */
    const struct ratelimit_class *rate_classes;
    size_t n_rate_classes;
    size_t rate_table;           /* sources tracked at once (fixed memory); 0: 16384 */
};

/* Time limits (httpd_mhd.c): a connection is closed when it is idle for timeout_s, when a
 * request head is not complete timeout_s after the connection opened or the previous
 * request ended (slow headers), when a body arrives slower than min_body_rate, or when
 * the client acknowledges an answer slower than min_read_rate while answer bytes wait in
 * the socket (slow read; measured with TCP_INFO).
 *
 * Over-limit and refused bodies: libmicrohttpd 0.9.75 only lets an answer be queued when
 * the head is complete or after the whole body. A declared Content-Length over the limit
 * is answered 413 at once and the body is never read. A body refused later (no
 * Content-Length and grown past the limit, or a sink error) is not kept: cleanup(false)
 * runs at once, the rest of the body is read and discarded, and the error is answered at
 * its end; when more than HTTPD_DRAIN_MAX bytes would have to be discarded, the connection
 * is closed instead, without an answer. */
#define HTTPD_DRAIN_MAX (1024u * 1024u)

/* Called once per request when the head is complete. */
typedef void (*httpd_handler_fn)(void *app, struct httpd_req *req);

struct httpd_part {
    const char *name;          /* form field name */
    const char *filename;      /* may be NULL */
    const char *content_type;  /* may be NULL */
    uint64_t offset;           /* offset of this chunk within the part */
};

struct httpd_body_ops {
    /* Plain body (httpd_req_accept_body): the next chunk. */
    secup_rc (*data)(void *ctx, struct httpd_req *req, const uint8_t *p, size_t n,
                     struct secup_err *err);
    /* multipart/form-data (httpd_req_accept_multipart): the next chunk of a part. */
    secup_rc (*part)(void *ctx, struct httpd_req *req, const struct httpd_part *part,
                     const uint8_t *p, size_t n, struct secup_err *err);
    /* The whole body arrived and every chunk was accepted: must answer. */
    void (*done)(void *ctx, struct httpd_req *req);
    /* Called exactly once when the request ends, answered or not (completed is false
     * when the body was refused, the client went away or the connection timed out; it is
     * true once done() ran, even if the client then left before reading the answer).
     * After a refusal it runs at once, before the rest of the body is discarded. */
    void (*cleanup)(void *ctx, bool completed);
};

/* Starts listening. Errors: SECUP_E_ARG (bad listen address), SECUP_E_KEY_FORMAT
 * (certificate or key unreadable), SECUP_E_NET (cannot bind). */
secup_rc httpd_start(const struct httpd_config *cfg, httpd_handler_fn handler, void *app,
                     struct httpd **out, struct secup_err *err);
/* The bound port (useful after listening on port 0). */
uint16_t httpd_port(const struct httpd *d);
/* Stops accepting, finishes or aborts the connections, joins the threads. */
void httpd_stop(struct httpd *d);

/* Request head. The path is percent-decoded by the server and never contains a query. */
const char *httpd_req_method(const struct httpd_req *req);
const char *httpd_req_path(const struct httpd_req *req);
const char *httpd_req_query(const struct httpd_req *req, const char *key);  /* NULL if absent */
const char *httpd_req_header(const struct httpd_req *req, const char *name); /* NULL if absent */
/* Content-Length when the client sent one. */
bool httpd_req_content_length(const struct httpd_req *req, uint64_t *len);
/* The client's address; false if unknown. */
bool httpd_req_peer(const struct httpd_req *req, struct sockaddr_storage *addr);
/* The SHA-256 fingerprint (64 hex digits) of the verified client certificate under
 * mutual TLS; false without one. */
bool httpd_req_client_cert_sha256(const struct httpd_req *req, char out[65]);

/* Receives the body through ops. A Content-Length above max_body (0: the configured
 * default) is answered 413 SECUP_E_LIMIT_BODY before any byte is read; a body without
 * Content-Length that grows beyond it is refused the same way without being kept.
 * A data()/part() error ends reception and is answered with that error. */
void httpd_req_accept_body(struct httpd_req *req, uint64_t max_body,
                           const struct httpd_body_ops *ops, void *ctx);
void httpd_req_accept_multipart(struct httpd_req *req, uint64_t max_body,
                                const struct httpd_body_ops *ops, void *ctx);

/* Long polls and deferred answers. Instead of answering, the handler, or a body sink's
 * done(), may park the request; later, from any thread, httpd_req_wake() makes the server
 * call ops->wake() on one of its threads, which must answer then. A parked request holds
 * no thread. The application wakes every parked request exactly once (at the latest at
 * its own deadline, and before httpd_stop()); ops->cleanup() follows as for every request
 * (after the body sink's cleanup when there was a body). */
struct httpd_park_ops {
    void (*wake)(void *ctx, struct httpd_req *req);
    void (*cleanup)(void *ctx, bool completed);
};
void httpd_req_park(struct httpd_req *req, const struct httpd_park_ops *ops, void *ctx);
void httpd_req_wake(struct httpd_req *req);

/* Counts one request of class cls (an index into httpd_config.rate_classes) against the
 * client's source address. True: go on. False: over the limit; the request has been
 * answered 429 SECUP_E_RATE with a Retry-After header (whole seconds) and the handler must
 * return without answering. Without limits, or for a class without one: always true. */
bool httpd_req_limit(struct httpd_req *req, unsigned cls);

/* Adds a header to the response that follows (at most 16 per response). */
void httpd_set_header(struct httpd_req *req, const char *name, const char *value);

/* Answers. Exactly one answer per request; later calls are ignored. Answers are given
 * from inside the handler or the sink's done() (the thread that called them). */
void httpd_respond(struct httpd_req *req, unsigned status, const char *content_type,
                   const void *body, size_t len);                  /* copies body */
void httpd_respond_json(struct httpd_req *req, unsigned status, const json_t *body);
void httpd_respond_error(struct httpd_req *req, secup_rc rc, const char *fmt, ...)
    SECUP_PRINTF(3, 4);
void httpd_respond_err(struct httpd_req *req, const struct secup_err *err);
/* len bytes of fd from offset, sent without copying through user space where the
 * transport allows (plain HTTP: sendfile). Takes ownership of fd. */
void httpd_respond_fd(struct httpd_req *req, unsigned status, const char *content_type,
                      int fd, uint64_t offset, uint64_t len);

/* The HTTP status for a result code: SECUP_E_AUTH 401; _FORBIDDEN, _BANNED 403;
 * _NOENT 404; _EXISTS, _ROLLBACK, _REPLAY 409; _AUDIENCE 403; _QUOTA, _RATE 429; _QUARANTINED 410; _LIMIT_BODY, _LIMIT_SIZE 413;
 * _LOCATION 451; _NOSPACE 507; _UNAVAILABLE 503; _TIMEOUT 408; other 1xx/2xx input
 * codes 400; other 3xx refusals 422; 4xx environment codes 500. */
unsigned httpd_status_for_rc(secup_rc rc);

/* Parses a Range header ("bytes=a-b", "bytes=a-", "bytes=-n"; one range only) against
 * a resource of size bytes. Returns 200 (no or ignorable header: whole resource),
 * 206 (*off, *len set) or 416 (unsatisfiable). Multi-range requests get 200. */
unsigned httpd_parse_range(const char *header, uint64_t size, uint64_t *off, uint64_t *len);

/* True if an If-None-Match header value matches etag (a quoted entity tag, "*" or a
 * list; weak comparison). */
bool httpd_etag_matches(const char *if_none_match, const char *etag);

#endif /* SECUP_HTTPD_H */
