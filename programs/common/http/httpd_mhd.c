/* The HTTP server seam on libmicrohttpd 0.9.75 (GnuTLS for TLS). The only file that
 * includes <microhttpd.h> and <gnutls/...>.
 *
 * Threads: a pool of MHD workers, each with its own epoll set, and one watchdog thread of
 * ours that enforces what MHD 0.9.75 cannot: a deadline for request heads (a slow-headers
 * client resets MHD's inactivity timer with every byte) and a minimum body rate.
 *
 * Request lifecycle: the URI log callback allocates the request (so that MHD reports its
 * end through NOTIFY_COMPLETED, whatever happens); the first access-handler call (head
 * complete) runs the application's handler; body calls feed the sink; the last call runs
 * done(); NOTIFY_COMPLETED runs the sink's cleanup() unless a refusal already did, and
 * frees the request. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (glibc's lacks it) */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "httpd.h"
#include "secup/file.h"

#define HDR_MAX 16
#define QUERY_MAX 32
#define PP_BUFFER (64u * 1024u)
#define PEM_MAX (1024u * 1024u)
#define WATCH_PERIOD_MS 250u
#define LOG_PER_SECOND 10u

/* One TCP connection, as the watchdog sees it. Guarded by httpd.lock. */
enum conn_phase { PHASE_HEAD, PHASE_BODY, PHASE_ANSWER, PHASE_OTHER };
struct conn {
    struct conn *prev, *next;
    int fd;
    enum conn_phase phase;
    uint64_t phase_start_ms;
    uint64_t window_start_ms;
    uint64_t window_bytes;
    uint64_t window_acked; /* PHASE_ANSWER: the peer's acknowledged bytes at window start */
    unsigned eof_ticks; /* watchdog ticks that found the peer gone */
    bool draining;      /* PHASE_HEAD, but the last answer is still in the socket */
    uint64_t answer_start_ms; /* PHASE_ANSWER or draining: since when */
    uint64_t mark_ms, mark_acked; /* half a second later (once the client's receive buffer
                                   * has filled), and the acked bytes then; 0: not yet */
    bool killed;
};

struct httpd {
    struct MHD_Daemon *mhd;
    int listen_fd;
    uint16_t port;
    bool tls;
    httpd_handler_fn handler;
    void *app;
    uint64_t max_body;
    uint64_t timeout_ms;
    uint64_t min_window_bytes;
    uint64_t min_read_window_bytes;
    uint64_t min_read_rate;
    unsigned slow_reads_reset; /* slow readers reset at close since the last tick (lock) */
    struct ratelimit *limits;
    void (*log)(void *log_ctx, const char *line);
    void *log_ctx;
    _Atomic uint64_t log_second;    /* libmicrohttpd's own messages: at most */
    _Atomic unsigned log_in_second; /* LOG_PER_SECOND a second (a flood logs per connection) */
    _Atomic unsigned log_dropped;
    char *cert_pem, *key_pem, *ca_pem;
    size_t key_len;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t watchdog;
    bool watchdog_started;
    bool stopping;
    struct conn *conns;
};

enum req_state { REQ_NEW, REQ_ANSWERED, REQ_BODY, REQ_DRAIN, REQ_DONE, REQ_PARKED };

struct httpd_req {
    struct httpd *d;
    struct MHD_Connection *mc;
    struct conn *c;
    enum req_state state;
    char *raw_uri;
    const char *method;
    char *path;
    char *query_buf;
    const char *qkey[QUERY_MAX], *qval[QUERY_MAX];
    size_t nquery;
    bool has_cl;
    uint64_t cl;

    /* the answer */
    bool answered;
    unsigned status;
    struct MHD_Response *resp;
    char *hname[HDR_MAX], *hvalue[HDR_MAX];
    size_t nhdr;

    /* the body */
    const struct httpd_body_ops *ops;
    void *ctx;
    bool multipart;
    struct MHD_PostProcessor *pp;
    uint64_t max_body, received, drained;
    bool cleanup_done, park_cleanup_done, completed, in_body;
    struct secup_err body_err;  /* the refusal answered once the body has ended */
    struct secup_err part_err;  /* set by the post-processor iterator */

    bool deferred;  /* answered with the head; queued at the next call (keep-alive) */
    /* a parked request (long poll): suspended until httpd_req_wake() */
    const struct httpd_park_ops *park_ops;
    void *park_ctx;
    _Atomic bool woken;
    bool cert_checked, has_cert;
    char cert_sha256[65];
};

/* ------------------------------------------------------------------------------------- */
/* small helpers */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void dlog(const struct httpd *d, const char *fmt, ...) SECUP_PRINTF(2, 3);
static void dlog(const struct httpd *d, const char *fmt, ...)
{
    if (!d->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    d->log(d->log_ctx, line);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) SECUP_PRINTF(2, 0);
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct httpd *d = cls;
    if (!d->log)
        return;
    uint64_t sec = now_ms() / 1000u;
    uint64_t was = atomic_load(&d->log_second);
    if (was != sec && atomic_compare_exchange_strong(&d->log_second, &was, sec)) {
        atomic_store(&d->log_in_second, 0);
        unsigned dropped = atomic_exchange(&d->log_dropped, 0);
        if (dropped)
            dlog(d, "(%u more libmicrohttpd messages not logged)", dropped);
    }
    if (atomic_fetch_add(&d->log_in_second, 1) >= LOG_PER_SECOND) {
        atomic_fetch_add(&d->log_dropped, 1);
        return;
    }
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    d->log(d->log_ctx, line);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (n + 1 bytes), refusing %00, bad escapes and control
 * characters. plus: '+' means a space (query strings). */
static bool pct_decode(const char *s, size_t n, bool plus, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

/* Splits the raw request target into the decoded path and query parameters. */
static bool parse_target(struct httpd_req *r, struct secup_err *err)
{
    const char *raw = r->raw_uri;
    if (raw[0] != '/')
        return secup_err_set(err, SECUP_E_HTTP, "request target is not an absolute path"), false;
    if (strchr(raw, '#'))
        return secup_err_set(err, SECUP_E_HTTP, "request target holds a fragment"), false;
    const char *q = strchr(raw, '?');
    size_t plen = q ? (size_t)(q - raw) : strlen(raw);
    r->path = malloc(plen + 1);
    if (!r->path)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory"), false;
    if (!pct_decode(raw, plen, false, r->path))
        return secup_err_set(err, SECUP_E_HTTP,
                             "request path has a bad percent escape or a control character"),
               false;
    if (!q)
        return true;
    const char *qs = q + 1;
    size_t qlen = strlen(qs);
    /* each parameter takes its decoded text plus two NULs (key and value), which for a
     * key without '=' is one byte more than its text: 2 * qlen + 2 always suffices */
    r->query_buf = malloc(2 * qlen + 2);
    if (!r->query_buf)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory"), false;
    char *out = r->query_buf;
    const char *p = qs;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 0) {
            if (r->nquery >= QUERY_MAX)
                return secup_err_set(err, SECUP_E_HTTP, "more than %d query parameters",
                                     QUERY_MAX),
                       false;
            const char *eq = memchr(p, '=', n);
            size_t klen = eq ? (size_t)(eq - p) : n;
            if (!pct_decode(p, klen, true, out))
                return secup_err_set(err, SECUP_E_HTTP,
                                     "query has a bad percent escape or a control character"),
                       false;
            r->qkey[r->nquery] = out;
            out += strlen(out) + 1;
            if (eq) {
                if (!pct_decode(eq + 1, n - klen - 1, true, out))
                    return secup_err_set(err, SECUP_E_HTTP, "query has a bad percent escape "
                                                            "or a control character"),
                           false;
            } else {
                *out = '\0';
            }
            r->qval[r->nquery++] = out;
            out += strlen(out) + 1;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return true;
}

/* ------------------------------------------------------------------------------------- */
/* the watchdog */

/* Bytes of this connection the peer has acknowledged; false if the kernel cannot tell. */
static bool acked_bytes(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
        return false;
    *out = ti.tcpi_bytes_acked;
    return true;
}

/* Answer bytes in the socket the peer has not acknowledged yet. */
static int unacked_bytes(int fd)
{
    int n = 0;
    return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

static void conn_set_phase(struct httpd *d, struct conn *c, enum conn_phase phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->phase = phase;
    c->phase_start_ms = now_ms();
    c->window_start_ms = c->phase_start_ms;
    c->window_bytes = 0;
    c->window_acked = 0;
    c->draining = false;
    c->answer_start_ms = c->phase_start_ms;
    c->mark_ms = 0;
    if (phase == PHASE_ANSWER)
        (void)acked_bytes(c->fd, &c->window_acked);
    c->eof_ticks = 0;
    pthread_mutex_unlock(&d->lock);
}

static void conn_body_bytes(struct httpd *d, struct conn *c, size_t n)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->window_bytes += n;
    pthread_mutex_unlock(&d->lock);
}

static void *watchdog_main(void *arg)
{
    struct httpd *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)WATCH_PERIOD_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        if (d->stopping)
            break;
        uint64_t now = now_ms();
        /* one log line per reason and tick, not one per connection: an attack that
         * opens thousands of slow connections must not flood the log too */
        static const char *const reasons[] = {
            "request head not complete in time", "request body slower than the minimum rate",
            "the client reads the answer slower than the minimum rate", "the client has gone",
        };
        unsigned closed[4] = { 0, 0, d->slow_reads_reset, 0 };
        d->slow_reads_reset = 0;
        for (struct conn *c = d->conns; c; c = c->next) {
            if (c->killed)
                continue;
            const char *why = NULL;
            /* libmicrohttpd ends a request once the whole answer is in the socket: while
             * it drains from there the client is still reading it, so the read rate
             * applies, and the deadline of the next head starts when it has drained */
            bool answering = c->phase == PHASE_ANSWER;
            if (c->phase == PHASE_HEAD) {
                if (unacked_bytes(c->fd) > 0) {
                    if (!c->draining) {
                        c->draining = true;
                        c->window_start_ms = c->answer_start_ms = now;
                        c->window_acked = 0;
                        (void)acked_bytes(c->fd, &c->window_acked);
                        c->mark_ms = 0;
                    }
                    c->phase_start_ms = now;
                    answering = true;
                } else {
                    c->draining = false;
                }
            }
            if (answering && !c->mark_ms && now - c->answer_start_ms >= 500 &&
                acked_bytes(c->fd, &c->mark_acked))
                c->mark_ms = now;
            if (c->phase == PHASE_HEAD && !answering && now - c->phase_start_ms > d->timeout_ms) {
                why = reasons[0];
            } else if (c->phase == PHASE_BODY && now - c->window_start_ms >= d->timeout_ms) {
                if (c->window_bytes < d->min_window_bytes)
                    why = reasons[1];
                c->window_start_ms = now;
                c->window_bytes = 0;
            } else if (answering && now - c->window_start_ms >= d->timeout_ms) {
                /* slow read: answer bytes wait in the socket and the peer took fewer than
                 * the minimum in this window (an answer fully handed over waits for
                 * nothing, and neither does a client that read it all) */
                uint64_t acked = 0;
                if (acked_bytes(c->fd, &acked)) {
                    if (acked - c->window_acked < d->min_read_window_bytes &&
                        unacked_bytes(c->fd) > 0)
                        why = reasons[2];
                    c->window_acked = acked;
                }
                c->window_start_ms = now;
            }
            /* MHD 0.9.75 on epoll misses an end of stream that arrives together with the
             * last data (one edge for both, and a short read clears its read-ready flag),
             * and would wait for the timeout: a connection that still waits for a head or
             * a body, and whose peer has gone (readable, nothing to read) for two ticks,
             * is closed. While it is being answered it is left alone (a half-close there
             * is a client waiting for the answer). */
            if (!why && !answering && (c->phase == PHASE_HEAD || c->phase == PHASE_BODY)) {
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                int avail = -1;
                if (poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR)) &&
                    ioctl(c->fd, FIONREAD, &avail) == 0 && avail == 0) {
                    if (++c->eof_ticks >= 2)
                        why = reasons[3];
                } else {
                    c->eof_ticks = 0;
                }
            }
            if (why) {
                /* The connection is still listed, so MHD has not closed its socket yet
                 * (NOTIFY_CONNECTION CLOSED comes first and takes this lock): the fd is
                 * still this connection's. MHD sees the shutdown as a reset and closes. */
                c->killed = true;
                if (why == reasons[2]) {
                    /* the answer waiting for a slow reader is dropped with a reset when MHD
                     * closes, instead of staying in the kernel behind an orphaned socket */
                    struct linger lg = { 1, 0 };
                    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                }
                shutdown(c->fd, SHUT_RDWR);
                for (size_t i = 0; i < 4; i++)
                    closed[i] += why == reasons[i];
            }
        }
        /* "the client has gone" is housekeeping, not an attack: not logged */
        for (size_t i = 0; i < 3; i++)
            if (closed[i])
                dlog(d, "closed %u connection%s: %s", closed[i], closed[i] == 1 ? "" : "s",
                     reasons[i]);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct httpd *d = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn *c = calloc(1, sizeof(*c));
        *socket_context = c;
        if (!c || !ci) {
            free(c);
            *socket_context = NULL;
            return;
        }
        c->fd = ci->connect_fd;
        c->phase = PHASE_HEAD;
        c->phase_start_ms = now_ms();
        pthread_mutex_lock(&d->lock);
        c->next = d->conns;
        if (d->conns)
            d->conns->prev = c;
        d->conns = c;
        pthread_mutex_unlock(&d->lock);
        return;
    }
    struct conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    if ((c->draining || c->phase == PHASE_ANSWER) && !c->killed && unacked_bytes(c->fd) > 0) {
        /* MHD closes (idle: it could not write for its timeout, or the answer was
         * handed over long ago) while answer bytes still wait in the socket. A client
         * reading at the minimum rate gets the rest before the end of stream, as after
         * any close; a slower one would keep an orphaned socket and its buffer in the
         * kernel: a reset drops them. The rate counts from half a second into the
         * answer, once the client's receive buffer has filled. */
        uint64_t now = now_ms(), acked = 0;
        if (c->mark_ms && now - c->mark_ms >= 1000 && acked_bytes(c->fd, &acked) &&
            (acked - c->mark_acked) * 1000u < d->min_read_rate * (now - c->mark_ms)) {
            struct linger lg = { 1, 0 };
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            d->slow_reads_reset++;
        }
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&d->lock);
    free(c);
    *socket_context = NULL;
}

/* ------------------------------------------------------------------------------------- */
/* answers */

static void req_cleanup(struct httpd_req *r, bool completed)
{
    if (r->ops && !r->cleanup_done) {
        r->cleanup_done = true;
        if (r->ops->cleanup)
            r->ops->cleanup(r->ctx, completed);
    }
    if (r->park_ops && !r->park_cleanup_done) {
        r->park_cleanup_done = true;
        if (r->park_ops->cleanup)
            r->park_ops->cleanup(r->park_ctx, completed);
    }
}

void httpd_req_park(struct httpd_req *req, const struct httpd_park_ops *ops, void *ctx)
{
    if (req->answered || (req->state != REQ_NEW && req->state != REQ_DONE))
        return;
    req->park_ops = ops;
    req->park_ctx = ctx;
    req->state = REQ_PARKED;
    conn_set_phase(req->d, req->c, PHASE_OTHER); /* no body deadline while parked */
    /* suspended before the application can hand the request to another thread, so a
     * wake can never come before the suspension */
    MHD_suspend_connection(req->mc);
}

void httpd_req_wake(struct httpd_req *req)
{
    bool expected = false;
    if (atomic_compare_exchange_strong(&req->woken, &expected, true))
        MHD_resume_connection(req->mc);
}

static void set_answer(struct httpd_req *r, unsigned status, struct MHD_Response *resp,
                       const char *content_type)
{
    if (!resp) {
        /* out of memory: a bare 500 is the best that can be done */
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 500;
        if (!resp)
            return;
    } else {
        if (content_type)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        for (size_t i = 0; i < r->nhdr; i++)
            MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    }
    r->answered = true;
    r->status = status;
    r->resp = resp;
}

void httpd_set_header(struct httpd_req *req, const char *name, const char *value)
{
    if (!req || req->answered || req->nhdr >= HDR_MAX || !name || !value)
        return;
    /* no header splitting */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return;
    char *n = dup_str(name), *v = dup_str(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    req->hname[req->nhdr] = n;
    req->hvalue[req->nhdr++] = v;
}

bool httpd_req_limit(struct httpd_req *req, unsigned cls)
{
    struct sockaddr_storage ss;
    unsigned retry = 0;
    if (!req || !req->d->limits || !httpd_req_peer(req, &ss) ||
        ratelimit_take(req->d->limits, &ss, cls, now_ms(), &retry))
        return true;
    char v[16];
    snprintf(v, sizeof(v), "%u", retry);
    httpd_set_header(req, "Retry-After", v);
    httpd_respond_error(req, SECUP_E_RATE,
                        "too many requests from this address: again in %u s", retry);
    return false;
}

void httpd_respond(struct httpd_req *req, unsigned status, const char *content_type,
                   const void *body, size_t len)
{
    if (!req || req->answered)
        return;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)(len ? body : ""),
                                        MHD_RESPMEM_MUST_COPY);
    set_answer(req, status, resp, content_type);
}

void httpd_respond_json(struct httpd_req *req, unsigned status, const json_t *body)
{
    if (!req || req->answered)
        return;
    char *s = json_dumps(body, JSON_COMPACT);
    if (!s) {
        httpd_respond_error(req, SECUP_E_NOMEM, "cannot encode the JSON answer");
        return;
    }
    httpd_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

static void respond_error_msg(struct httpd_req *req, secup_rc rc, const char *msg)
{
    char clean[SECUP_ERR_MSG_MAX];
    size_t i = 0;
    /* ASCII only, so that the message is valid UTF-8 whatever a client put into it */
    for (; msg[i] && i + 1 < sizeof(clean); i++) {
        unsigned char c = (unsigned char)msg[i];
        clean[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    clean[i] = '\0';
    json_t *o = json_pack("{s:s,s:s}", "error", secup_rc_name(rc), "message", clean);
    if (!o) {
        httpd_respond(req, 500, "application/json", "{}", 2);
        return;
    }
    httpd_respond_json(req, httpd_status_for_rc(rc), o);
    json_decref(o);
}

void httpd_respond_error(struct httpd_req *req, secup_rc rc, const char *fmt, ...)
{
    if (!req || req->answered)
        return;
    char msg[SECUP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    respond_error_msg(req, rc, msg);
}

void httpd_respond_err(struct httpd_req *req, const struct secup_err *err)
{
    if (!req || req->answered)
        return;
    if (!err || err->rc == SECUP_OK) {
        respond_error_msg(req, SECUP_E_STATE, "internal error without detail");
        return;
    }
    respond_error_msg(req, err->rc, err->msg);
}

void httpd_respond_fd(struct httpd_req *req, unsigned status, const char *content_type, int fd,
                      uint64_t offset, uint64_t len)
{
    if (!req || req->answered) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!resp) {
        close(fd);
        httpd_respond_error(req, SECUP_E_NOMEM, "cannot create a file response");
        return;
    }
    set_answer(req, status, resp, content_type);
}

/* Queues the recorded answer. Called from the access handler only. */
static enum MHD_Result queue_answer(struct httpd_req *r)
{
    if (!r->answered)
        respond_error_msg(r, SECUP_E_STATE, "the request was not answered");
    if (!r->resp)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(r->mc, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    conn_set_phase(r->d, r->c, PHASE_ANSWER);
    return ret;
}

/* ------------------------------------------------------------------------------------- */
/* request head */

const char *httpd_req_method(const struct httpd_req *req)
{
    return req->method;
}

const char *httpd_req_path(const struct httpd_req *req)
{
    return req->path;
}

const char *httpd_req_query(const struct httpd_req *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->qkey[i], key) == 0)
            return req->qval[i];
    return NULL;
}

const char *httpd_req_header(const struct httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, name);
}

bool httpd_req_content_length(const struct httpd_req *req, uint64_t *len)
{
    *len = req->cl;
    return req->has_cl;
}

bool httpd_req_peer(const struct httpd_req *req, struct sockaddr_storage *addr)
{
    memset(addr, 0, sizeof(*addr));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    size_t n;
    if (ci->client_addr->sa_family == AF_INET)
        n = sizeof(struct sockaddr_in);
    else if (ci->client_addr->sa_family == AF_INET6)
        n = sizeof(struct sockaddr_in6);
    else
        return false;
    memcpy(addr, ci->client_addr, n);
    return true;
}

bool httpd_req_client_cert_sha256(const struct httpd_req *req, char out[65])
{
    struct httpd_req *r = (struct httpd_req *)(uintptr_t)req;
    out[0] = '\0';
    if (!r->cert_checked) {
        r->cert_checked = true;
        if (!r->d->tls || !r->d->ca_pem)
            return false;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
            return false;
        gnutls_session_t s = (gnutls_session_t)ci->tls_session;
        unsigned status = 0;
        unsigned n = 0;
        /* chain, validity period and signature against the configured client CA */
        if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0)
            return false;
        const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
        if (!certs || n == 0)
            return false;
        uint8_t md[32];
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, md) != 0)
            return false;
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < sizeof(md); i++) {
            r->cert_sha256[2 * i] = hex[md[i] >> 4];
            r->cert_sha256[2 * i + 1] = hex[md[i] & 15];
        }
        r->cert_sha256[64] = '\0';
        r->has_cert = true;
    }
    if (!r->has_cert)
        return false;
    memcpy(out, r->cert_sha256, 65);
    return true;
}

/* ------------------------------------------------------------------------------------- */
/* bodies */

/* Ends reception with err. Before the body (in the handler): answered at once. During the
 * body: the sink is cleaned up now and the rest of the body is discarded (REQ_DRAIN). */
static void refuse(struct httpd_req *r, const struct secup_err *err)
{
    req_cleanup(r, false);
    if (r->pp) {
        MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
    }
    if (!r->in_body) {
        httpd_respond_err(r, err);
        r->state = REQ_ANSWERED;
        return;
    }
    r->body_err = *err;
    r->state = REQ_DRAIN;
}

static bool starts_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char a = *s;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != *prefix)
            return false;
    }
    return true;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    struct httpd_req *r = cls;
    (void)kind;
    (void)transfer_encoding;
    if (r->state != REQ_BODY)
        return MHD_NO;
    if (!r->ops->part)
        return MHD_YES;
    struct httpd_part part = {
        .name = key ? key : "",
        .filename = filename,
        .content_type = content_type,
        .offset = off,
    };
    secup_err_clear(&r->part_err);
    secup_rc rc = r->ops->part(r->ctx, r, &part, (const uint8_t *)data, size, &r->part_err);
    if (rc != SECUP_OK) {
        if (r->part_err.rc == SECUP_OK)
            secup_err_set(&r->part_err, rc, "part '%s' refused", part.name);
        r->part_err.rc = rc;
        return MHD_NO;
    }
    return MHD_YES;
}

static void accept_common(struct httpd_req *req, uint64_t max_body,
                          const struct httpd_body_ops *ops, void *ctx, bool multipart)
{
    if (!req || !ops)
        return;
    if (req->ops || req->answered || req->state != REQ_NEW) {
        /* already answered or accepted: this sink gets its one cleanup now */
        if (ops->cleanup)
            ops->cleanup(ctx, false);
        return;
    }
    struct httpd *d = req->d;
    struct secup_err err;
    req->ops = ops;
    req->ctx = ctx;
    req->multipart = multipart;
    req->max_body = max_body ? max_body : d->max_body;
    if (req->has_cl && req->cl > req->max_body) {
        secup_err_set(&err, SECUP_E_LIMIT_BODY,
                      "request body of %llu bytes is over the limit of %llu bytes",
                      (unsigned long long)req->cl, (unsigned long long)req->max_body);
        refuse(req, &err);
        return;
    }
    if (multipart) {
        const char *ct = httpd_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!ct || !starts_nocase(ct, "multipart/form-data")) {
            secup_err_set(&err, SECUP_E_HTTP, "expected a multipart/form-data body, got '%.64s'",
                          ct ? ct : "no Content-Type");
            refuse(req, &err);
            return;
        }
        req->pp = MHD_create_post_processor(req->mc, PP_BUFFER, on_part, req);
        if (!req->pp) {
            secup_err_set(&err, SECUP_E_HTTP,
                          "multipart/form-data body without a usable boundary");
            refuse(req, &err);
            return;
        }
    }
    req->state = REQ_BODY;
}

void httpd_req_accept_body(struct httpd_req *req, uint64_t max_body,
                           const struct httpd_body_ops *ops, void *ctx)
{
    accept_common(req, max_body, ops, ctx, false);
}

void httpd_req_accept_multipart(struct httpd_req *req, uint64_t max_body,
                                const struct httpd_body_ops *ops, void *ctx)
{
    accept_common(req, max_body, ops, ctx, true);
}

/* The next chunk of the body. MHD_NO closes the connection. */
static enum MHD_Result body_chunk(struct httpd_req *r, const char *p, size_t n)
{
    conn_body_bytes(r->d, r->c, n);
    if (r->state == REQ_DRAIN) {
        r->drained += n;
        return r->drained > HTTPD_DRAIN_MAX ? MHD_NO : MHD_YES;
    }
    if (r->state != REQ_BODY)
        return MHD_YES;
    struct secup_err err;
    secup_err_clear(&err);
    if (n > r->max_body - r->received) {
        secup_err_set(&err, SECUP_E_LIMIT_BODY, "request body is over the limit of %llu bytes",
                      (unsigned long long)r->max_body);
        r->received += n;
        refuse(r, &err);
        r->drained = n;
        return MHD_YES;
    }
    r->received += n;
    if (r->multipart) {
        if (MHD_post_process(r->pp, p, n) != MHD_YES) {
            if (r->part_err.rc != SECUP_OK)
                err = r->part_err;
            else
                secup_err_set(&err, SECUP_E_HTTP, "malformed multipart/form-data body");
            refuse(r, &err);
        }
    } else if (r->ops->data) {
        secup_rc rc = r->ops->data(r->ctx, r, (const uint8_t *)p, n, &err);
        if (rc != SECUP_OK) {
            if (err.rc == SECUP_OK)
                secup_err_set(&err, rc, "request body refused");
            err.rc = rc;
            refuse(r, &err);
        }
    }
    if (r->state == REQ_DRAIN && r->has_cl && r->cl > r->received &&
        r->cl - r->received > HTTPD_DRAIN_MAX)
        return MHD_NO; /* too much left to discard: close now */
    return MHD_YES;
}

/* The whole body arrived. */
static enum MHD_Result body_end(struct httpd_req *r)
{
    if (r->state == REQ_BODY && r->pp) {
        enum MHD_Result ok = MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
        if (ok != MHD_YES) {
            struct secup_err err;
            secup_err_set(&err, SECUP_E_HTTP,
                          "multipart/form-data body ends before its closing boundary");
            refuse(r, &err);
        }
    }
    if (r->state == REQ_DRAIN) {
        r->state = REQ_DONE;
        httpd_respond_err(r, &r->body_err);
        return queue_answer(r);
    }
    r->state = REQ_DONE;
    r->completed = true;
    if (r->ops->done)
        r->ops->done(r->ctx, r);
    if (r->state == REQ_PARKED)
        return MHD_YES; /* parked by done(): answered when woken */
    return queue_answer(r);
}

/* ------------------------------------------------------------------------------------- */
/* MHD callbacks */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct httpd *d = cls;
    struct httpd_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->d = d;
    r->mc = mc;
    r->raw_uri = dup_str(uri ? uri : "");
    return r;
}

static bool parse_content_length(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned dgt = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - dgt) / 10u)
            return false;
        v = v * 10u + dgt;
    }
    *out = v;
    return true;
}

/* A body will follow the head, the client will not wait for 100 Continue, and it is small
 * enough to be discarded. */
static bool body_follows(const struct httpd_req *r)
{
    const char *expect = MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_EXPECT);
    if (expect && starts_nocase(expect, "100-continue"))
        return false;
    if (r->has_cl)
        return r->cl > 0 && r->cl <= HTTPD_DRAIN_MAX;
    const char *te = MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te && starts_nocase(te, "chunked");
}

static enum MHD_Result on_head(struct httpd_req *r, const char *method)
{
    struct httpd *d = r->d;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->c = ci ? ci->socket_context : NULL;
    conn_set_phase(d, r->c, PHASE_OTHER);
    r->method = method;
    r->state = REQ_NEW;

    struct secup_err err;
    secup_err_clear(&err);
    const char *cl = MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        r->has_cl = parse_content_length(cl, &r->cl);
        if (!r->has_cl)
            secup_err_set(&err, SECUP_E_HTTP, "malformed Content-Length");
    }
    if (err.rc == SECUP_OK && !r->raw_uri)
        secup_err_set(&err, SECUP_E_NOMEM, "out of memory");
    if (err.rc == SECUP_OK)
        parse_target(r, &err);
    if (err.rc != SECUP_OK) {
        httpd_respond_err(r, &err);
        r->state = REQ_ANSWERED;
        return queue_answer(r);
    }

    d->handler(d->app, r);

    if (r->state == REQ_PARKED)
        return MHD_YES; /* suspended: answered when woken */
    if (r->state == REQ_BODY && !r->answered) {
        conn_set_phase(d, r->c, PHASE_BODY);
        r->in_body = true;
        return MHD_YES; /* MHD sends 100 Continue if asked, and reads the body */
    }
    if (r->state == REQ_BODY) { /* accepted, then answered: the body is not wanted */
        req_cleanup(r, false);
        if (r->pp) {
            MHD_destroy_post_processor(r->pp);
            r->pp = NULL;
        }
    }
    if (r->status != 413 && body_follows(r)) {
        /* Answered before the body (a refusal at the head): a client that sends its body
         * without waiting for 100 Continue would meet a reset instead of the answer, so a
         * body of at most HTTPD_DRAIN_MAX is read and discarded and the answer queued at
         * its end. A 413 is answered at once: that body is the one not to read. */
        conn_set_phase(d, r->c, PHASE_BODY);
        r->in_body = true;
        r->state = REQ_DRAIN;
        return MHD_YES;
    }
    r->state = REQ_ANSWERED;
    if (!r->has_cl || r->cl == 0) {
        /* No body: the answer is queued at MHD's next call. libmicrohttpd 0.9.75 closes the
         * connection after an answer queued with the head, so answering here would cost
         * every keep-alive client a new connection (and a TLS handshake) per request. */
        const char *te = MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (!te) {
            r->deferred = true;
            return MHD_YES;
        }
    }
    return queue_answer(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct httpd *d = cls;
    struct httpd_req *r = *con_cls;
    (void)version;
    if (!r) {
        /* the URI log callback could not allocate */
        r = on_uri(d, url, mc);
        if (!r)
            return MHD_NO;
        *con_cls = r;
    }
    r->mc = mc;
    if (!r->method)
        return on_head(r, method);

    size_t n = *upload_data_size;
    *upload_data_size = 0;
    switch (r->state) {
    case REQ_BODY:
    case REQ_DRAIN:
        if (n > 0)
            return body_chunk(r, upload_data, n);
        return body_end(r);
    case REQ_PARKED:
        if (!atomic_load(&r->woken))
            return MHD_YES;
        r->state = REQ_ANSWERED;
        r->completed = true;
        if (r->park_ops && r->park_ops->wake)
            r->park_ops->wake(r->park_ctx, r);
        return queue_answer(r);
    default:
        if (r->deferred && n == 0) {
            r->deferred = false;
            return queue_answer(r);
        }
        return MHD_YES; /* answered: whatever still arrives is discarded */
    }
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct httpd *d = cls;
    struct httpd_req *r = *con_cls;
    (void)mc;
    if (!r)
        return;
    *con_cls = NULL;
    req_cleanup(r, r->completed);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->ops)
        dlog(d, "%s %s ended early (%d)", r->method ? r->method : "?",
             r->path ? r->path : "?", (int)toe);
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->resp)
        MHD_destroy_response(r->resp);
    /* the next request on this connection has a head deadline again (a request that
     * ended otherwise ends its connection, which keeps its phase for on_connection) */
    if (r->c && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        conn_set_phase(d, r->c, PHASE_HEAD);
    for (size_t i = 0; i < r->nhdr; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    free(r->raw_uri);
    free(r->path);
    free(r->query_buf);
    free(r);
}

/* ------------------------------------------------------------------------------------- */
/* start and stop */

static secup_rc parse_listen(const char *listen_addr, struct sockaddr_storage *ss,
                             socklen_t *len, struct secup_err *err)
{
    char host[64];
    const char *colon;
    const char *port_s;
    memset(ss, 0, sizeof(*ss));
    if (!listen_addr)
        return secup_err_set(err, SECUP_E_ARG, "no listen address");
    if (listen_addr[0] == '[') {
        const char *end = strchr(listen_addr, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen_addr - 1) >= sizeof(host))
            return secup_err_set(err, SECUP_E_ARG,
                                 "listen address '%s' is not [IPv6]:port", listen_addr);
        memcpy(host, listen_addr + 1, (size_t)(end - listen_addr - 1));
        host[end - listen_addr - 1] = '\0';
        port_s = end + 2;
    } else {
        colon = strrchr(listen_addr, ':');
        if (!colon || (size_t)(colon - listen_addr) >= sizeof(host))
            return secup_err_set(err, SECUP_E_ARG, "listen address '%s' is not host:port",
                                 listen_addr);
        memcpy(host, listen_addr, (size_t)(colon - listen_addr));
        host[colon - listen_addr] = '\0';
        port_s = colon + 1;
    }
    uint64_t port;
    if (!parse_content_length(port_s, &port) || port > 65535)
        return secup_err_set(err, SECUP_E_ARG, "listen address '%s' has a bad port",
                             listen_addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
    } else {
        return secup_err_set(err, SECUP_E_ARG,
                             "listen address '%s': '%s' is not a numeric IP address",
                             listen_addr, host);
    }
    return SECUP_OK;
}

static secup_rc read_pem(const char *path, const char *what, char **out, size_t *out_len,
                         struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, PEM_MAX, &buf, &len, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "reading the %s '%s'", what, path);
        return rc == SECUP_E_NOMEM ? rc : SECUP_E_KEY_FORMAT;
    }
    char *s = malloc(len + 1);
    if (!s) {
        secup_file_free(buf, len);
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory");
    }
    memcpy(s, buf, len);
    s[len] = '\0';
    secup_file_free(buf, len);
    if (strlen(s) != len) {
        memset(s, 0, len);
        free(s);
        return secup_err_set(err, SECUP_E_KEY_FORMAT, "the %s '%s' is not PEM text", what,
                             path);
    }
    *out = s;
    *out_len = len;
    return SECUP_OK;
}

/* Checks the PEM files with GnuTLS, so that a bad file is named precisely (MHD would only
 * fail to start). */
static secup_rc check_tls_files(struct httpd *d, const struct httpd_config *cfg,
                                struct secup_err *err)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory");
    secup_rc rc = SECUP_OK;
    gnutls_datum_t cert = { (unsigned char *)d->cert_pem, (unsigned)strlen(d->cert_pem) };
    gnutls_datum_t key = { (unsigned char *)d->key_pem, (unsigned)strlen(d->key_pem) };
    int ret = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        rc = secup_err_set(err, SECUP_E_KEY_FORMAT,
                           "certificate '%s' with key '%s' cannot be used: %s", cfg->cert_file,
                           cfg->key_file, gnutls_strerror(ret));
    } else if (d->ca_pem) {
        gnutls_datum_t ca = { (unsigned char *)d->ca_pem, (unsigned)strlen(d->ca_pem) };
        ret = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
        if (ret <= 0)
            rc = secup_err_set(err, SECUP_E_KEY_FORMAT,
                               "client CA file '%s' holds no usable certificate%s%s",
                               cfg->client_ca_file, ret < 0 ? ": " : "",
                               ret < 0 ? gnutls_strerror(ret) : "");
    }
    gnutls_certificate_free_credentials(cred);
    return rc;
}

static void free_daemon(struct httpd *d)
{
    free(d->cert_pem);
    if (d->key_pem) {
        memset(d->key_pem, 0, d->key_len);
        free(d->key_pem);
    }
    free(d->ca_pem);
    ratelimit_free(d->limits);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

secup_rc httpd_start(const struct httpd_config *cfg, httpd_handler_fn handler, void *app,
                     struct httpd **out, struct secup_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    size_t len;
    *out = NULL;
    if (!cfg || !handler)
        return secup_err_set(err, SECUP_E_ARG, "httpd_start: no configuration or handler");
    secup_rc rc = parse_listen(cfg->listen, &ss, &sslen, err);
    if (rc != SECUP_OK)
        return rc;
    if (!cfg->cert_file != !cfg->key_file)
        return secup_err_set(err, SECUP_E_ARG, "TLS needs both a certificate and a key file");
    if (cfg->client_ca_file && !cfg->cert_file)
        return secup_err_set(err, SECUP_E_ARG, "client certificates need TLS");

    struct httpd *d = calloc(1, sizeof(*d));
    if (!d)
        return secup_err_set(err, SECUP_E_NOMEM, "out of memory");
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    d->listen_fd = -1;
    d->handler = handler;
    d->app = app;
    d->max_body = cfg->max_body ? cfg->max_body : 64u * 1024u * 1024u;
    unsigned timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
    d->timeout_ms = (uint64_t)timeout_s * 1000u;
    d->min_window_bytes = (uint64_t)(cfg->min_body_rate ? cfg->min_body_rate : 64) * timeout_s;
    d->min_read_rate = cfg->min_read_rate ? cfg->min_read_rate : 64;
    d->min_read_window_bytes = d->min_read_rate * timeout_s;
    d->log = cfg->log;
    d->log_ctx = cfg->log_ctx;
    if (cfg->n_rate_classes > 0) {
        if (cfg->n_rate_classes > RATELIMIT_CLASSES || !cfg->rate_classes) {
            free_daemon(d);
            return secup_err_set(err, SECUP_E_ARG, "at most %d request-rate classes",
                                 RATELIMIT_CLASSES);
        }
        d->limits = ratelimit_new(cfg->rate_table, cfg->rate_classes, cfg->n_rate_classes);
        if (!d->limits) {
            free_daemon(d);
            return secup_err_set(err, SECUP_E_NOMEM, "out of memory for the request-rate table");
        }
    }

    if (cfg->cert_file) {
        d->tls = true;
        rc = read_pem(cfg->cert_file, "certificate", &d->cert_pem, &len, err);
        if (rc == SECUP_OK)
            rc = read_pem(cfg->key_file, "key", &d->key_pem, &d->key_len, err);
        if (rc == SECUP_OK && cfg->client_ca_file)
            rc = read_pem(cfg->client_ca_file, "client CA file", &d->ca_pem, &len, err);
        if (rc == SECUP_OK)
            rc = check_tls_files(d, cfg, err);
        if (rc != SECUP_OK) {
            free_daemon(d);
            return rc;
        }
    }

    /* MHD's threads block SIGPIPE; the application's own threads (and sendfile, which MHD
     * uses on plain HTTP) must not die of it either. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }

    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        free_daemon(d);
        return secup_err_set(err, SECUP_E_NET, "cannot listen on %s: %s", cfg->listen,
                             strerror(e));
    }
    d->listen_fd = fd;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        d->port = ntohs(bound.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&bound)->sin6_port
                            : ((struct sockaddr_in *)&bound)->sin_port);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg->threads ? cfg->threads : (unsigned)(cpus > 0 ? cpus * 2 : 2);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (d->tls)
        flags |= MHD_USE_TLS;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;

    struct MHD_OptionItem opts[20];
    size_t n = 0;
#define OPT(o, v, p) (opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) })
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, d); /* first: it logs the others */
    OPT(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    if (threads > 1)
        OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->connection_limit ? cfg->connection_limit : 1024, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL);
    /* each connection's buffer: a file sent over TLS is read into it and encrypted from
     * it, so a larger one means fewer reads and records per MiB; plain HTTP sends files
     * with sendfile and keeps MHD's default (32 KiB), which is cleared per request */
    if (d->tls)
        OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_CONN_MEMORY_TLS, NULL);
    if (cfg->per_ip_limit)
        OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_limit, NULL);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, d);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, d);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, d);
    if (d->tls) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, d->cert_pem);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, d->key_pem);
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
            (void *)(uintptr_t) "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
        if (d->ca_pem)
            OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, d->ca_pem);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

    d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_access, d, MHD_OPTION_ARRAY, opts,
                              MHD_OPTION_END);
    if (!d->mhd) {
        close(fd);
        free_daemon(d);
        return secup_err_set(err, SECUP_E_NET, "cannot start the HTTP server on %s",
                             cfg->listen);
    }
    if (pthread_create(&d->watchdog, NULL, watchdog_main, d) == 0)
        d->watchdog_started = true;
    dlog(d, "listening on %s (port %u, %s, %u threads)", cfg->listen, (unsigned)d->port,
         d->tls ? "TLS" : "plain HTTP", threads);
    *out = d;
    return SECUP_OK;
}

uint16_t httpd_port(const struct httpd *d)
{
    return d ? d->port : 0;
}

void httpd_stop(struct httpd *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (d->watchdog_started)
        pthread_join(d->watchdog, NULL);
    /* stop accepting first; MHD returns the listening socket, which stays ours */
    MHD_socket lfd = MHD_quiesce_daemon(d->mhd);
    MHD_stop_daemon(d->mhd);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    free_daemon(d);
}
