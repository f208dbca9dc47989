/* bench_tracker: signed status reports ingested per second by secup-tracker from many
 * concurrent clients (issue [tracker], the benchmark's first half), and the raw
 * signature-verification rate of the same key type, for bench/run-tracker.sh.
 *
 *   bench_tracker enrol  --url http://H:P --token ENROLMENT-TOKEN --dir DIR
 *                        [--alg esp256|ed25519] [--count N] [--prefix P] [--threads T]
 *       generates N consumer key pairs, registers each (POST /v1/register, kind device)
 *       and keeps what load needs: DIR/consumers.tsv ("id<TAB>token") and DIR/keys/ID.pem.
 *   bench_tracker load   --url http://H:P --dir DIR [--conns C] [--seconds D]
 *                        [--threads T] [--warmup W] [--pid TRACKER-PID]
 *       C keep-alive connections (the concurrent clients), each owning every C-th
 *       consumer of DIR, send POST /v1/status with the consumer's bearer token and a
 *       signed secup-status whose counter increases per consumer, one request at a time
 *       per connection, for D seconds. The connections are driven by T event-loop
 *       threads (default 1, epoll), so that on a machine whose cores the client shares
 *       with the tracker the client takes as little CPU as it can. Every report is signed
 *       before the timed section (the client measures the tracker, not its own signing):
 *       a warm-up of W seconds (default 1, not counted) estimates the rate, then six
 *       times the reports that rate needs for D seconds are signed. Prints reports/s answered
 *       200 in the window, every other answer by status (with the first error bodies),
 *       latency percentiles and, with --pid, the tracker's CPU time in the window.
 *   bench_tracker verify [--alg esp256|ed25519] [--threads T] [--seconds S]
 *       the baseline, on T threads at once, over one report of the same shape:
 *       raw     OpenSSL one-shot verify of the report's COSE Sig_structure (fresh context,
 *               ECDSA hashing included), without secup in between;
 *       status  secup_status_verify() with the key parsed once;
 *       path    what the tracker does per report before its database: peek the kid,
 *               parse the consumer's PEM key, secup_status_verify().
 *
 * Plain HTTP over raw sockets (no TLS, no libcurl): the client's cost per request is a
 * write and a read. Each mode ends with one "RESULT key=value ..." line for the script.
 * Timing never decides the exit status: only a broken setup (no tracker, a refused
 * enrolment, a signature OpenSSL does not verify) exits nonzero.
 *
 * OpenSSL is included here, as in bench_verify.c: the baseline must be OpenSSL itself. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "secup/keys.h"
#include "secup/status.h"

#define ID_MAX 64
#define TOKEN_MAX 128
#define REQ_CAP (SECUP_STATUS_MAX_SIGNED_SIZE + 512)
#define IN_CAP 8192
#define MAX_ERR_SHOWN 5
#define MAX_REPORTS_TOTAL 400000u /* pre-signed reports kept in memory at most */

/* ---- small helpers ---- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_tracker: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(EXIT_FAILURE);
}

static void check(secup_rc rc, const char *what, const struct secup_err *err)
{
    if (rc != SECUP_OK)
        die("%s: %s [%s]", what, err->msg, secup_rc_name(err->rc));
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static char *read_text(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = xcalloc(cap, 1);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                die("out of memory");
            buf = nb;
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static enum secup_key_type parse_alg(const char *s)
{
    if (strcmp(s, "esp256") == 0 || strcmp(s, "p256") == 0)
        return SECUP_KEY_P256;
    if (strcmp(s, "ed25519") == 0)
        return SECUP_KEY_ED25519;
    die("--alg is esp256 or ed25519, not '%s'", s);
}

static const char *alg_name(enum secup_key_type t)
{
    return t == SECUP_KEY_P256 ? "ESP256" : "Ed25519";
}

static unsigned long parse_ulong(const char *s, unsigned long lo, unsigned long hi, const char *opt)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        die("%s must be an integer from %lu to %lu", opt, lo, hi);
    return v;
}

static double parse_double(const char *s, double lo, double hi, const char *opt)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!end || *end || !(v >= lo && v <= hi))
        die("%s must be a number from %g to %g", opt, lo, hi);
    return v;
}

/* ---- the report every consumer sends: what secup-agent report writes for one
 * component that runs sequence 1 after a successful install ---- */

static const uint8_t component_id[] = { 0x81, 0x48, 'f', 'i', 'r', 'm', 'w', 'a', 'r', 'e' };
static const uint8_t image_digest[32] = { 0x5e, 0xc0, 0x9d, 0x1a, 0x77, 0x21, 0x43, 0x08,
                                          0x9b, 0x3f, 0x60, 0xe2, 0x11, 0xa4, 0xc7, 0x5d,
                                          0x02, 0x8e, 0x39, 0xf1, 0x6b, 0xd4, 0x90, 0x13,
                                          0x4a, 0xac, 0x57, 0x2e, 0xf8, 0x66, 0x0b, 0xc3 };

static size_t sign_report(const struct secup_key *key, const char *id, uint64_t counter,
                          uint8_t *buf, size_t cap)
{
    static const char version[] = "1.0.0";
    static const char ok[] = "OK";
    static const char reason[] = "";
    static _Thread_local struct secup_status st;
    struct secup_err err;
    secup_err_clear(&err);
    memset(&st, 0, sizeof(st));
    uint64_t t = (uint64_t)time(NULL);
    st.reporter = secup_bytes_of(id, strlen(id));
    st.counter = counter;
    st.time = t;
    st.n_components = 1;
    st.components[0].id = secup_bytes_of(component_id, sizeof(component_id));
    st.components[0].seq = 1;
    st.components[0].version = secup_bytes_of(version, sizeof(version) - 1);
    st.components[0].slot = 0;
    memcpy(st.components[0].digest, image_digest, 32);
    st.has_last = true;
    st.last_id = secup_bytes_of(image_digest, 32);
    st.last_code = secup_bytes_of(ok, sizeof(ok) - 1);
    st.last_reason = secup_bytes_of(reason, 0);
    st.last_time = t - 60;
    size_t len = 0;
    check(secup_status_sign(&st, key, buf, cap, &len, &err), "signing a status report", &err);
    return len;
}

/* ---- plain HTTP/1.1 over raw sockets ---- */

struct target {
    char host[256];
    char port[16];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int family;
};

static void parse_url(const char *url, struct target *t)
{
    if (strncmp(url, "http://", 7) != 0)
        die("--url must be http://HOST:PORT (plain HTTP), not '%s'", url);
    const char *h = url + 7;
    const char *colon = strrchr(h, ':');
    const char *slash = strchr(h, '/');
    if (!colon || (slash && slash < colon))
        die("--url must name a port: http://HOST:PORT");
    size_t hl = (size_t)(colon - h);
    size_t pl = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
    if (hl == 0 || hl >= sizeof(t->host) || pl == 0 || pl >= sizeof(t->port))
        die("bad --url '%s'", url);
    memcpy(t->host, h, hl);
    t->host[hl] = '\0';
    memcpy(t->port, colon + 1, pl);
    t->port[pl] = '\0';
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int r = getaddrinfo(t->host, t->port, &hints, &res);
    if (r != 0 || !res)
        die("%s:%s: %s", t->host, t->port, gai_strerror(r));
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addr_len = res->ai_addrlen;
    t->family = res->ai_family;
    freeaddrinfo(res);
}

static int connect_to(const struct target *t)
{
    int fd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addr_len) != 0)
        die("connect %s:%s: %s", t->host, t->port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static size_t build_request(char *out, size_t cap, const char *path, const char *host,
                            const char *bearer, const char *ctype, const uint8_t *body,
                            size_t body_len)
{
    int n = snprintf(out, cap,
                     "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     path, host, bearer, ctype, body_len);
    if (n < 0 || (size_t)n + body_len > cap)
        die("request larger than %zu bytes", cap);
    memcpy(out + n, body, body_len);
    return (size_t)n + body_len;
}

static bool header_is(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':')
        return false;
    for (size_t i = 0; i < nl; i++) {
        char c = line[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return false;
    }
    return true;
}

struct response {
    int status;
    size_t total;      /* bytes of the whole response */
    size_t body_off;
    size_t body_len;
    bool close;        /* Connection: close */
};

/* 1: a complete response in buf[0..len); 0: incomplete; -1: malformed. */
static int parse_response(const char *buf, size_t len, struct response *r)
{
    const char *end = NULL;
    for (size_t i = 3; i < len; i++) {
        if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n') {
            end = buf + i + 1;
            break;
        }
    }
    if (!end)
        return len >= IN_CAP ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    memset(r, 0, sizeof(*r));
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    size_t clen = 0;
    bool have_len = false, chunked = false;
    const char *p = (const char *)memchr(buf, '\n', (size_t)(end - buf)) + 1;
    while (p < end - 2) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)(nl - p);
        if (header_is(p, ll, "content-length")) {
            clen = (size_t)strtoul(p + 15, NULL, 10);
            have_len = true;
        } else if (header_is(p, ll, "transfer-encoding")) {
            chunked = true;
        } else if (header_is(p, ll, "connection")) {
            for (size_t i = 11; i + 5 <= ll; i++)
                if (strncmp(p + i, "close", 5) == 0)
                    r->close = true;
        }
        p = nl + 1;
    }
    r->body_off = (size_t)(end - buf);
    if (chunked) { /* small JSON answers: wait for the last chunk */
        for (size_t i = r->body_off; i + 5 <= len; i++) {
            if (memcmp(buf + i, "0\r\n\r\n", 5) == 0 && (i == r->body_off || buf[i - 1] == '\n')) {
                r->body_len = i - r->body_off;
                r->total = i + 5;
                return 1;
            }
        }
        return len >= IN_CAP ? -1 : 0;
    }
    if (!have_len)
        clen = 0;
    if (r->body_off + clen > IN_CAP)
        return -1;
    if (len < r->body_off + clen)
        return 0;
    r->body_len = clen;
    r->total = r->body_off + clen;
    return 1;
}

/* A blocking exchange on fd (enrol); reconnects once when the server closed. */
static int exchange(const struct target *t, int *fd, const char *req, size_t req_len, char *in,
                    struct response *r)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*fd < 0)
            *fd = connect_to(t);
        size_t off = 0;
        bool broken = false;
        while (off < req_len) {
            ssize_t n = write(*fd, req + off, req_len - off);
            if (n <= 0) {
                broken = true;
                break;
            }
            off += (size_t)n;
        }
        size_t len = 0;
        int pr = 0;
        while (!broken && (pr = parse_response(in, len, r)) == 0) {
            ssize_t n = read(*fd, in + len, IN_CAP - 1 - len);
            if (n <= 0) {
                broken = true;
                break;
            }
            len += (size_t)n;
            in[len] = '\0';
        }
        if (!broken && pr < 0)
            die("malformed HTTP answer: %.200s", in);
        if (!broken) {
            if (r->close) {
                close(*fd);
                *fd = -1;
            }
            return r->status;
        }
        close(*fd);
        *fd = -1;
    }
    die("the tracker at %s:%s closed the connection twice", t->host, t->port);
}

/* ---- enrol ---- */

struct enrol_job {
    const struct target *t;
    const char *dir;
    const char *prefix;
    const char *token;
    enum secup_key_type type;
    unsigned from, to;  /* consumer numbers [from, to) */
    char (*tokens)[TOKEN_MAX];
};

static void json_escape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 3 < cap; in++) {
        if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (*in == '"' || *in == '\\') {
            out[o++] = '\\';
            out[o++] = *in;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

static void *enrol_thread(void *arg)
{
    struct enrol_job *j = arg;
    int fd = -1;
    static _Thread_local char req[16384], in[IN_CAP], body[8192], esc[4096], path[4096];
    for (unsigned i = j->from; i < j->to; i++) {
        struct secup_err err;
        secup_err_clear(&err);
        char id[ID_MAX];
        snprintf(id, sizeof(id), "%s%05u", j->prefix, i);
        struct secup_key *k = NULL;
        check(secup_key_generate(&k, j->type, &err), "key generation", &err);
        snprintf(path, sizeof(path), "%s/keys/%s.pem", j->dir, id);
        check(secup_key_save_private(k, path, &err), "saving a consumer key", &err);
        snprintf(path, sizeof(path), "%s/keys/%s.pub.pem", j->dir, id);
        check(secup_key_save_public(k, path, &err), "saving a consumer public key", &err);
        secup_key_free(k);
        char *pem = read_text(path, NULL);
        json_escape(pem, esc, sizeof(esc));
        free(pem);
        int bl = snprintf(body, sizeof(body), "{\"id\": \"%s\", \"kind\": \"device\", \"key\": \"%s\"}",
                          id, esc);
        if (bl < 0 || (size_t)bl >= sizeof(body))
            die("registration body too large");
        size_t rl = build_request(req, sizeof(req), "/v1/register", j->t->host, j->token,
                                  "application/json", (const uint8_t *)body, (size_t)bl);
        struct response r;
        int st = exchange(j->t, &fd, req, rl, in, &r);
        if (st != 201)
            die("registering %s: HTTP %d: %.300s", id, st, in + r.body_off);
        const char *tk = strstr(in + r.body_off, "\"token\"");
        tk = tk ? strchr(tk + 7, '"') : NULL;
        const char *te = tk ? strchr(tk + 1, '"') : NULL;
        if (!tk || !te || (size_t)(te - tk - 1) >= TOKEN_MAX)
            die("registering %s: no token in the answer: %.300s", id, in + r.body_off);
        memcpy(j->tokens[i], tk + 1, (size_t)(te - tk - 1));
        j->tokens[i][te - tk - 1] = '\0';
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmd_enrol(int argc, char **argv)
{
    const char *url = NULL, *token = NULL, *dir = NULL, *prefix = NULL;
    enum secup_key_type type = SECUP_KEY_P256;
    unsigned count = 1000, threads = 4;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("enrol: %s needs a value", a);
        i++;
        if (strcmp(a, "--url") == 0) url = v;
        else if (strcmp(a, "--token") == 0) token = v;
        else if (strcmp(a, "--dir") == 0) dir = v;
        else if (strcmp(a, "--prefix") == 0) prefix = v;
        else if (strcmp(a, "--alg") == 0) type = parse_alg(v);
        else if (strcmp(a, "--count") == 0) count = (unsigned)parse_ulong(v, 1, 99999, a);
        else if (strcmp(a, "--threads") == 0) threads = (unsigned)parse_ulong(v, 1, 64, a);
        else die("enrol: unknown option %s", a);
    }
    if (!url || !token || !dir)
        die("enrol needs --url, --token and --dir");
    if (!prefix)
        prefix = type == SECUP_KEY_P256 ? "p256-" : "ed25519-";
    struct target t;
    parse_url(url, &t);
    char path[4096];
    snprintf(path, sizeof(path), "%s/keys", dir);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(path, 0700) != 0 && errno != EEXIST))
        die("%s: %s", path, strerror(errno));
    if (threads > count)
        threads = count;
    char(*tokens)[TOKEN_MAX] = xcalloc(count, TOKEN_MAX);
    struct enrol_job *jobs = xcalloc(threads, sizeof(*jobs));
    pthread_t *tid = xcalloc(threads, sizeof(*tid));
    double t0 = now_s();
    for (unsigned k = 0; k < threads; k++) {
        jobs[k] = (struct enrol_job){ &t, dir, prefix, token, type, count * k / threads,
                                      count * (k + 1) / threads, tokens };
        if (pthread_create(&tid[k], NULL, enrol_thread, &jobs[k]) != 0)
            die("pthread_create failed");
    }
    for (unsigned k = 0; k < threads; k++)
        pthread_join(tid[k], NULL);
    double el = now_s() - t0;
    snprintf(path, sizeof(path), "%s/consumers.tsv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die("%s: %s", path, strerror(errno));
    fprintf(f, "# alg %s\n", alg_name(type));
    for (unsigned i = 0; i < count; i++)
        fprintf(f, "%s%05u\t%s\n", prefix, i, tokens[i]);
    if (fclose(f) != 0)
        die("%s: write failed", path);
    printf("enrolled %u %s consumers in %.2f s (%.0f registrations/s, %u connections)\n", count,
           alg_name(type), el, count / el, threads);
    printf("RESULT mode=enrol alg=%s count=%u seconds=%.3f\n", alg_name(type), count, el);
    free(tokens);
    free(jobs);
    free(tid);
    return 0;
}

/* ---- load ---- */

struct consumer {
    char id[ID_MAX];
    char token[TOKEN_MAX];
    struct secup_key *key;
    uint64_t next_counter;  /* the next counter to sign */
    char **reqs;            /* pre-built requests (headers + signed body) */
    size_t *req_len;
    unsigned n_reqs, next;  /* signed, and the next to send */
};

struct conn {
    int fd;
    unsigned *own;          /* indices of the consumers this connection owns */
    unsigned n_own, rr;
    const char *out;
    size_t out_len, out_off;
    char in[IN_CAP];
    size_t in_len;
    double sent_at;
    bool busy, done;
};

struct loop;

struct run {               /* one phase (warm-up or timed) */
    double start, end;     /* window [start, end) on CLOCK_MONOTONIC */
};

struct stats {
    uint64_t ok, other, reconnects, exhausted_conns;
    uint64_t by_status[600];
    char first_err[MAX_ERR_SHOWN][200];
    unsigned n_err;
    double *lat;            /* latency of each 200 in the window, seconds */
    size_t n_lat, cap_lat;
};

struct loop {
    const struct target *t;
    struct consumer *cs;
    struct conn *conns;
    unsigned n_conns;
    struct run *run;
    struct stats st;
    int ep;
};

static void stats_reset(struct stats *s)
{
    double *lat = s->lat;
    size_t cap = s->cap_lat;
    memset(s, 0, sizeof(*s));
    s->lat = lat;
    s->cap_lat = cap;
}

static void lat_push(struct stats *s, double v)
{
    if (s->n_lat == s->cap_lat) {
        size_t nc = s->cap_lat ? 2 * s->cap_lat : 65536;
        double *n = realloc(s->lat, nc * sizeof(double));
        if (!n)
            die("out of memory");
        s->lat = n;
        s->cap_lat = nc;
    }
    s->lat[s->n_lat++] = v;
}

static void conn_open(struct loop *l, struct conn *c)
{
    c->fd = connect_to(l->t);
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
        die("non-blocking socket: %s", strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void conn_close(struct loop *l, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
}

static void conn_flush(struct loop *l, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
            epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        return; /* the read side will see the broken connection */
    }
}

/* Sends the next pre-signed report of the connection's next consumer; false when none is
 * left (the connection stops). */
static bool conn_send(struct loop *l, struct conn *c)
{
    for (unsigned k = 0; k < c->n_own; k++) {
        struct consumer *cs = &l->cs[c->own[c->rr++ % c->n_own]];
        if (cs->next < cs->n_reqs) {
            c->out = cs->reqs[cs->next];
            c->out_len = cs->req_len[cs->next];
            cs->next++;
            c->out_off = 0;
            c->in_len = 0;
            c->busy = true;
            c->sent_at = now_s();
            conn_flush(l, c);
            return true;
        }
    }
    c->busy = false;
    return false;
}

static void on_response(struct loop *l, struct conn *c, const struct response *r, double t)
{
    struct stats *s = &l->st;
    bool in_window = t >= l->run->start && t < l->run->end;
    if (!in_window)
        return;
    if (r->status == 200) {
        s->ok++;
        lat_push(s, t - c->sent_at);
        return;
    }
    s->other++;
    if (r->status > 0 && r->status < 600)
        s->by_status[r->status]++;
    if (s->n_err < MAX_ERR_SHOWN) {
        snprintf(s->first_err[s->n_err++], sizeof(s->first_err[0]), "HTTP %d %.*s", r->status,
                 (int)(r->body_len < 150 ? r->body_len : 150), c->in + r->body_off);
    }
}

static void conn_readable(struct loop *l, struct conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - 1 - c->in_len);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) { /* closed under us: reconnect, go on with the next report */
            l->st.reconnects++;
            conn_close(l, c);
            if (now_s() < l->run->end) {
                conn_open(l, c);
                if (!conn_send(l, c))
                    c->done = true;
            } else {
                c->done = true;
            }
            return;
        }
        c->in_len += (size_t)n;
        c->in[c->in_len] = '\0';
        struct response r;
        int pr = parse_response(c->in, c->in_len, &r);
        if (pr == 0)
            continue;
        if (pr < 0)
            die("malformed HTTP answer: %.200s", c->in);
        double t = now_s();
        on_response(l, c, &r, t);
        c->busy = false;
        if (r.close) {
            conn_close(l, c);
            if (t < l->run->end)
                conn_open(l, c);
        }
        if (t < l->run->end && c->fd >= 0) {
            if (!conn_send(l, c)) {
                c->done = true;
                l->st.exhausted_conns++;
            }
        } else {
            c->done = true;
        }
        return;
    }
}

static void *loop_thread(void *arg)
{
    struct loop *l = arg;
    struct epoll_event evs[256];
    for (unsigned i = 0; i < l->n_conns; i++) {
        l->conns[i].done = false;
        if (l->conns[i].fd < 0)
            conn_open(l, &l->conns[i]);
        if (!conn_send(l, &l->conns[i]))
            l->conns[i].done = true;
    }
    double drain_until = l->run->end + 10.0;
    for (;;) {
        unsigned open = 0;
        for (unsigned i = 0; i < l->n_conns; i++)
            open += !l->conns[i].done;
        if (open == 0 || now_s() > drain_until)
            break;
        int n = epoll_wait(l->ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT) {
                conn_flush(l, c);
                if (c->out_off == c->out_len) {
                    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_readable(l, c);
        }
    }
    return NULL;
}

/* Signs `more` further reports for every consumer (counters continue). */
static void presign(struct consumer *cs, unsigned n_cs, unsigned more, const char *host)
{
    static uint8_t body[SECUP_STATUS_MAX_SIGNED_SIZE];
    char req[REQ_CAP];
    for (unsigned i = 0; i < n_cs; i++) {
        struct consumer *c = &cs[i];
        /* what was sent is no longer needed */
        for (unsigned k = 0; k < c->next; k++)
            free(c->reqs[k]);
        unsigned left = c->n_reqs - c->next;
        memmove(c->reqs, c->reqs + c->next, left * sizeof(char *));
        memmove(c->req_len, c->req_len + c->next, left * sizeof(size_t));
        c->n_reqs = left;
        c->next = 0;
        char **nr = realloc(c->reqs, (left + more) * sizeof(char *));
        size_t *nl = realloc(c->req_len, (left + more) * sizeof(size_t));
        if (!nr || !nl)
            die("out of memory");
        c->reqs = nr;
        c->req_len = nl;
        for (unsigned k = 0; k < more; k++) {
            size_t bl = sign_report(c->key, c->id, c->next_counter++, body, sizeof(body));
            size_t rl = build_request(req, sizeof(req), "/v1/status", host, c->token,
                                      "application/cose", body, bl);
            c->reqs[c->n_reqs] = malloc(rl);
            if (!c->reqs[c->n_reqs])
                die("out of memory");
            memcpy(c->reqs[c->n_reqs], req, rl);
            c->req_len[c->n_reqs++] = rl;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* utime + stime of a process, in seconds (all its threads), or -1. */
static double proc_cpu_s(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[2048];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, stt = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
        return -1;
    return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* Runs one phase of `seconds` on every loop; each loop keeps its own stats. */
static void run_phase(struct loop *loops, unsigned n_loops, struct run *run, double seconds)
{
    pthread_t *tid = xcalloc(n_loops, sizeof(*tid));
    run->start = now_s();
    run->end = run->start + seconds;
    for (unsigned k = 0; k < n_loops; k++) {
        stats_reset(&loops[k].st);
        if (pthread_create(&tid[k], NULL, loop_thread, &loops[k]) != 0)
            die("pthread_create failed");
    }
    for (unsigned k = 0; k < n_loops; k++)
        pthread_join(tid[k], NULL);
    free(tid);
}

static int cmd_load(int argc, char **argv)
{
    const char *url = NULL, *dir = NULL;
    unsigned conns = 50, threads = 1;
    double seconds = 10.0, warmup = 1.0;
    long pid = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("load: %s needs a value", a);
        i++;
        if (strcmp(a, "--url") == 0) url = v;
        else if (strcmp(a, "--dir") == 0) dir = v;
        else if (strcmp(a, "--conns") == 0) conns = (unsigned)parse_ulong(v, 1, 20000, a);
        else if (strcmp(a, "--threads") == 0) threads = (unsigned)parse_ulong(v, 1, 64, a);
        else if (strcmp(a, "--seconds") == 0) seconds = parse_double(v, 0.1, 3600, a);
        else if (strcmp(a, "--warmup") == 0) warmup = parse_double(v, 0.1, 600, a);
        else if (strcmp(a, "--pid") == 0) pid = (long)parse_ulong(v, 1, 1u << 30, a);
        else die("load: unknown option %s", a);
    }
    if (!url || !dir)
        die("load needs --url and --dir");
    struct target t;
    parse_url(url, &t);

    /* the consumers */
    char path[4096];
    snprintf(path, sizeof(path), "%s/consumers.tsv", dir);
    char *tsv = read_text(path, NULL);
    unsigned n_cs = 0;
    for (char *p = tsv; *p; p++)
        n_cs += *p == '\n';
    struct consumer *cs = xcalloc(n_cs, sizeof(*cs));
    n_cs = 0;
    enum secup_key_type type = SECUP_KEY_NONE;
    for (char *line = tsv, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        if (line[0] == '#' || !line[0])
            continue;
        char *tab = strchr(line, '\t');
        if (!tab || (size_t)(tab - line) >= ID_MAX || strlen(tab + 1) >= TOKEN_MAX)
            die("%s: bad line '%s'", path, line);
        struct consumer *c = &cs[n_cs++];
        memcpy(c->id, line, (size_t)(tab - line));
        memcpy(c->token, tab + 1, strlen(tab + 1) + 1);
        char kp[4096];
        snprintf(kp, sizeof(kp), "%s/keys/%s.pem", dir, c->id);
        struct secup_err err;
        secup_err_clear(&err);
        check(secup_key_load_pem(&c->key, kp, &err), "loading a consumer key", &err);
        type = secup_key_type(c->key);
        /* counters above anything an earlier run sent: seconds since 1970 << 20 */
        c->next_counter = ((uint64_t)time(NULL) << 20) + 1;
    }
    free(tsv);
    if (n_cs == 0)
        die("%s: no consumers", path);
    if (conns > n_cs)
        die("--conns %u is more than the %u consumers (each connection owns at least one)", conns,
            n_cs);
    if (threads > conns)
        threads = conns;

    /* the connections and their event loops */
    struct conn *cn = xcalloc(conns, sizeof(*cn));
    for (unsigned i = 0; i < conns; i++) {
        cn[i].fd = -1;
        cn[i].own = xcalloc(n_cs / conns + 1, sizeof(unsigned));
    }
    for (unsigned i = 0; i < n_cs; i++) {
        struct conn *c = &cn[i % conns];
        c->own[c->n_own++] = i;
    }
    struct run run = { 0 };
    struct loop *loops = xcalloc(threads, sizeof(*loops));
    for (unsigned k = 0; k < threads; k++) {
        unsigned from = conns * k / threads, to = conns * (k + 1) / threads;
        loops[k] = (struct loop){ .t = &t, .cs = cs, .conns = cn + from, .n_conns = to - from,
                                  .run = &run };
        loops[k].ep = epoll_create1(EPOLL_CLOEXEC);
        if (loops[k].ep < 0)
            die("epoll_create1: %s", strerror(errno));
    }
    /* connect now; the sockets are non-blocking from here on */
    for (unsigned k = 0; k < threads; k++) {
        for (unsigned i = 0; i < loops[k].n_conns; i++) {
            struct conn *c = &loops[k].conns[i];
            conn_open(&loops[k], c);
        }
    }

    /* warm-up: a few reports per consumer, to estimate the rate */
    unsigned per = 2 + (unsigned)(20000.0 * warmup / n_cs);
    if (per > MAX_REPORTS_TOTAL / n_cs)
        per = MAX_REPORTS_TOTAL / n_cs;
    double s0 = now_s();
    presign(cs, n_cs, per, t.host);
    double sign_s = now_s() - s0;
    run_phase(loops, threads, &run, warmup);
    uint64_t wok = 0, wother = 0, wexh = 0;
    for (unsigned k = 0; k < threads; k++) {
        wok += loops[k].st.ok;
        wother += loops[k].st.other;
        wexh += loops[k].st.exhausted_conns;
    }
    double wrate = (double)wok / warmup;
    if (wok == 0)
        fprintf(stderr, "bench_tracker: the warm-up got no 200 answer (%llu others)\n",
                (unsigned long long)wother);

    /* the timed phase: twice what the warm-up rate needs, within the memory cap */
    /* per consumer: a connection owning the fewest consumers (n_cs / conns) uses its
     * consumers' reports fastest, and the tracker serves some connections several times
     * faster than the average (seen at 500 connections) */
    double need = (wexh ? 12.0 : 6.0) * (wrate > 100 ? wrate : 100) * seconds /
                  ((double)conns * (double)(n_cs / conns));
    unsigned more = 4 + (unsigned)need;
    if (more > MAX_REPORTS_TOTAL / n_cs)
        more = MAX_REPORTS_TOTAL / n_cs;
    s0 = now_s();
    presign(cs, n_cs, more, t.host);
    sign_s += now_s() - s0;

    double tc0 = pid ? proc_cpu_s(pid) : -1, mc0 = self_cpu_s();
    run_phase(loops, threads, &run, seconds);
    double tc1 = pid ? proc_cpu_s(pid) : -1, mc1 = self_cpu_s();

    struct stats sum;
    memset(&sum, 0, sizeof(sum));
    for (unsigned k = 0; k < threads; k++) {
        struct stats *s = &loops[k].st;
        sum.ok += s->ok;
        sum.other += s->other;
        sum.reconnects += s->reconnects;
        sum.exhausted_conns += s->exhausted_conns;
        for (int st = 0; st < 600; st++)
            sum.by_status[st] += s->by_status[st];
        for (unsigned e = 0; e < s->n_err && sum.n_err < MAX_ERR_SHOWN; e++)
            memcpy(sum.first_err[sum.n_err++], s->first_err[e], sizeof(s->first_err[e]));
        for (size_t i = 0; i < s->n_lat; i++)
            lat_push(&sum, s->lat[i]);
    }
    qsort(sum.lat, sum.n_lat, sizeof(double), cmp_double);
    double p50 = sum.n_lat ? sum.lat[sum.n_lat / 2] : 0;
    double p99 = sum.n_lat ? sum.lat[(size_t)((double)sum.n_lat * 0.99)] : 0;
    double rate = (double)sum.ok / seconds;
    double tcpu = tc0 >= 0 && tc1 >= 0 ? tc1 - tc0 : -1;

    printf("load: %u %s consumers, %u connections (%u client thread(s)), %.1f s after a %.1f s "
           "warm-up (%.0f reports/s); %.2f s spent signing beforehand\n",
           n_cs, alg_name(type), conns, threads, seconds, warmup, wrate, sign_s);
    printf("  200 answers        %12llu  (%.1f reports/s)\n", (unsigned long long)sum.ok, rate);
    printf("  other answers      %12llu\n", (unsigned long long)sum.other);
    for (int st = 0; st < 600; st++)
        if (sum.by_status[st])
            printf("    HTTP %d         %12llu\n", st, (unsigned long long)sum.by_status[st]);
    for (unsigned e = 0; e < sum.n_err; e++)
        printf("    e.g. %s\n", sum.first_err[e]);
    printf("  reconnects         %12llu\n", (unsigned long long)sum.reconnects);
    if (sum.exhausted_conns)
        printf("  WARNING: %llu connection(s) ran out of pre-signed reports: the rate is a lower "
               "bound\n", (unsigned long long)sum.exhausted_conns);
    printf("  latency p50 / p99  %9.2f / %.2f ms\n", p50 * 1e3, p99 * 1e3);
    if (tcpu >= 0)
        printf("  tracker CPU        %12.2f s  (%.0f%% of one core; %.1f us per report)\n", tcpu,
               100.0 * tcpu / seconds, sum.ok ? 1e6 * tcpu / (double)sum.ok : 0.0);
    printf("  client CPU         %12.2f s  (%.0f%% of one core)\n", mc1 - mc0,
           100.0 * (mc1 - mc0) / seconds);
    printf("RESULT mode=load alg=%s conns=%u seconds=%.3f ok=%llu rate=%.1f other=%llu "
           "reconnects=%llu exhausted=%llu p50_ms=%.3f p99_ms=%.3f tracker_cpu_s=%.3f "
           "client_cpu_s=%.3f\n",
           alg_name(type), conns, seconds, (unsigned long long)sum.ok, rate,
           (unsigned long long)sum.other, (unsigned long long)sum.reconnects,
           (unsigned long long)sum.exhausted_conns, p50 * 1e3, p99 * 1e3, tcpu, mc1 - mc0);
    return 0;
}

/* ---- verify: the baseline ---- */

/* A CBOR head at p (RFC 8949 3): major type, argument; bytes used, or 0 if malformed. */
static size_t cbor_head(const uint8_t *p, size_t n, unsigned *major, uint64_t *arg)
{
    if (n < 1)
        return 0;
    *major = p[0] >> 5;
    unsigned ai = p[0] & 31u;
    if (ai < 24) {
        *arg = ai;
        return 1;
    }
    if (ai > 27)
        return 0;
    size_t len = (size_t)1 << (ai - 24);
    if (n < 1 + len)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = (v << 8) | p[1 + i];
    *arg = v;
    return 1 + len;
}

/* Bytes of the whole data item at p (no tags, floats or indefinite lengths), 0 if bad. */
static size_t cbor_skip(const uint8_t *p, size_t n, unsigned depth)
{
    unsigned major;
    uint64_t arg;
    size_t h = cbor_head(p, n, &major, &arg);
    if (!h || depth > 8)
        return 0;
    if (major == 0 || major == 1 || major == 7)
        return h;
    if (major == 2 || major == 3)
        return arg <= n - h ? h + (size_t)arg : 0;
    if (major == 4 || major == 5) {
        uint64_t items = major == 5 ? 2 * arg : arg;
        size_t off = h;
        for (uint64_t i = 0; i < items; i++) {
            size_t k = cbor_skip(p + off, n - off, depth + 1);
            if (!k)
                return 0;
            off += k;
        }
        return off;
    }
    return 0;
}

struct vsubject {
    enum secup_key_type type;
    char id[ID_MAX];
    uint8_t report[SECUP_STATUS_MAX_SIGNED_SIZE];
    size_t report_len;
    char *pem;                /* the public key as the tracker stores it */
    struct secup_key *pub;    /* parsed once, for the status rate */
    EVP_PKEY *pkey;           /* the same key, for the raw loop */
    const EVP_MD *md;
    uint8_t tbs[SECUP_STATUS_MAX_SIGNED_SIZE + 64];
    size_t tbs_len;
    uint8_t sig[80];          /* DER for ECDSA */
    size_t sig_len;
};

static bool op_raw(const struct vsubject *s)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return false;
    bool ok = EVP_DigestVerifyInit(ctx, NULL, s->md, NULL, s->pkey) == 1 &&
              EVP_DigestVerify(ctx, s->sig, s->sig_len, s->tbs, s->tbs_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool op_status(const struct vsubject *s)
{
    static _Thread_local struct secup_status st;
    return secup_status_verify(secup_bytes_of(s->report, s->report_len), s->pub, &st, NULL) ==
           SECUP_OK;
}

/* The tracker's per-report work before the database (programs/tracker/routes.c). */
static bool op_path(const struct vsubject *s)
{
    static _Thread_local struct secup_status st;
    struct secup_bytes in = secup_bytes_of(s->report, s->report_len), who;
    struct secup_key *k = NULL;
    bool ok = secup_status_peek_reporter(in, &who, NULL) == SECUP_OK &&
              who.len == strlen(s->id) && memcmp(who.ptr, s->id, who.len) == 0 &&
              secup_key_parse_pem(&k, secup_bytes_of(s->pem, strlen(s->pem)), NULL) == SECUP_OK &&
              secup_status_verify(in, k, &st, NULL) == SECUP_OK;
    secup_key_free(k);
    return ok;
}

/* Builds the Sig_structure ["Signature1", protected, h'', payload] (RFC 9052 4.4) from the
 * signed report, and the signature as OpenSSL wants it. */
static void vsubject_raw(struct vsubject *s)
{
    const uint8_t *p = s->report;
    size_t n = s->report_len, off = 0, h;
    unsigned major;
    uint64_t arg;
    if (n < 2 || p[0] != 0xd2 || p[1] != 0x84)
        die("the signed report is not a tagged COSE_Sign1");
    off = 2;
    size_t prot_off = off, prot_len = cbor_skip(p + off, n - off, 0); /* bstr, head included */
    off += prot_len;
    off += cbor_skip(p + off, n - off, 0); /* unprotected map */
    size_t pay_off = off, pay_len = cbor_skip(p + off, n - off, 0);
    off += pay_len;
    h = cbor_head(p + off, n - off, &major, &arg);
    if (!prot_len || !pay_len || !h || major != 2 || off + h + arg != n)
        die("cannot take the signed report apart");
    const uint8_t *sig = p + off + h;
    size_t sig_len = (size_t)arg;
    uint8_t *t = s->tbs;
    static const char label[] = "Signature1";
    *t++ = 0x84;
    *t++ = (uint8_t)(0x60u | (sizeof(label) - 1));
    memcpy(t, label, sizeof(label) - 1);
    t += sizeof(label) - 1;
    memcpy(t, p + prot_off, prot_len);
    t += prot_len;
    *t++ = 0x40;
    memcpy(t, p + pay_off, pay_len);
    t += pay_len;
    s->tbs_len = (size_t)(t - s->tbs);
    if (s->type == SECUP_KEY_ED25519) {
        if (sig_len > sizeof(s->sig))
            die("unexpected signature size");
        memcpy(s->sig, sig, sig_len);
        s->sig_len = sig_len;
        return;
    }
    if (sig_len != 64)
        die("unexpected ECDSA signature size %zu", sig_len);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !sv || ECDSA_SIG_set0(es, r, sv) != 1)
        die("ECDSA signature conversion");
    unsigned char *der = s->sig;
    int dl = i2d_ECDSA_SIG(es, NULL);
    if (dl <= 0 || (size_t)dl > sizeof(s->sig) || i2d_ECDSA_SIG(es, &der) != dl)
        die("ECDSA signature encoding");
    s->sig_len = (size_t)dl;
    ECDSA_SIG_free(es);
}

static void vsubject_setup(struct vsubject *s, enum secup_key_type type)
{
    struct secup_err err;
    secup_err_clear(&err);
    s->type = type;
    snprintf(s->id, sizeof(s->id), "bench-verify-00000");
    struct secup_key *pair = NULL;
    check(secup_key_generate(&pair, type, &err), "key generation", &err);
    s->report_len = sign_report(pair, s->id, 1, s->report, sizeof(s->report));
    char dir[] = "/tmp/bench_tracker.XXXXXX", path[sizeof(dir) + 16];
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof(path), "%s/pub.pem", dir);
    check(secup_key_save_public(pair, path, &err), "saving the public key", &err);
    secup_key_free(pair);
    s->pem = read_text(path, NULL);
    unlink(path);
    rmdir(dir);
    check(secup_key_parse_pem(&s->pub, secup_bytes_of(s->pem, strlen(s->pem)), &err),
          "parsing the public key", &err);
    BIO *bio = BIO_new_mem_buf(s->pem, -1);
    s->pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!s->pkey)
        die("OpenSSL could not read the public key");
    s->md = type == SECUP_KEY_P256 ? EVP_sha256() : NULL;
    vsubject_raw(s);
    if (!op_raw(s))
        die("OpenSSL does not verify the report's Sig_structure: the baseline would be wrong");
    if (!op_status(s) || !op_path(s))
        die("secup does not verify its own report");
}

struct vjob {
    const struct vsubject *s;
    bool (*op)(const struct vsubject *);
    double seconds;
    uint64_t ops;
    double cpu;
};

static void *verify_thread(void *arg)
{
    struct vjob *j = arg;
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    double end = now_s() + j->seconds;
    uint64_t n = 0;
    do {
        for (int i = 0; i < 8; i++) {
            if (!j->op(j->s))
                die("a verification failed");
        }
        n += 8;
    } while (now_s() < end);
    j->ops = n;
    j->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

/* ops/s over all threads (wall), and ops per CPU-second (*per_cpu). */
static double measure(const struct vsubject *s, bool (*op)(const struct vsubject *),
                      unsigned threads, double seconds, double *per_cpu)
{
    struct vjob *jobs = xcalloc(threads, sizeof(*jobs));
    pthread_t *tid = xcalloc(threads, sizeof(*tid));
    double t0 = now_s();
    for (unsigned k = 0; k < threads; k++) {
        jobs[k] = (struct vjob){ s, op, seconds, 0, 0 };
        if (pthread_create(&tid[k], NULL, verify_thread, &jobs[k]) != 0)
            die("pthread_create failed");
    }
    uint64_t ops = 0;
    double cpu = 0;
    for (unsigned k = 0; k < threads; k++) {
        pthread_join(tid[k], NULL);
        ops += jobs[k].ops;
        cpu += jobs[k].cpu;
    }
    double el = now_s() - t0;
    free(jobs);
    free(tid);
    *per_cpu = cpu > 0 ? (double)ops / cpu : 0;
    return (double)ops / el;
}

static int cmd_verify(int argc, char **argv)
{
    enum secup_key_type type = SECUP_KEY_P256;
    unsigned threads = 1;
    double seconds = 2.0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("verify: %s needs a value", a);
        i++;
        if (strcmp(a, "--alg") == 0) type = parse_alg(v);
        else if (strcmp(a, "--threads") == 0) threads = (unsigned)parse_ulong(v, 1, 256, a);
        else if (strcmp(a, "--seconds") == 0) seconds = parse_double(v, 0.05, 600, a);
        else die("verify: unknown option %s", a);
    }
    static struct vsubject s;
    vsubject_setup(&s, type);
    double raw_c, st_c, path_c;
    double raw = measure(&s, op_raw, threads, seconds, &raw_c);
    double st = measure(&s, op_status, threads, seconds, &st_c);
    double path = measure(&s, op_path, threads, seconds, &path_c);
    printf("verify: %s, report %zu bytes (Sig_structure %zu), %u thread(s), %.2f s each\n",
           alg_name(type), s.report_len, s.tbs_len, threads, seconds);
    printf("  raw OpenSSL verify          %10.0f /s  (%8.0f per CPU-second)\n", raw, raw_c);
    printf("  secup_status_verify         %10.0f /s  (%8.0f per CPU-second)\n", st, st_c);
    printf("  tracker path (PEM + verify) %10.0f /s  (%8.0f per CPU-second)\n", path, path_c);
    printf("RESULT mode=verify alg=%s threads=%u raw=%.1f raw_cpu=%.1f status=%.1f status_cpu=%.1f "
           "path=%.1f path_cpu=%.1f\n",
           alg_name(type), threads, raw, raw_c, st, st_c, path, path_c);
    EVP_PKEY_free(s.pkey);
    secup_key_free(s.pub);
    free(s.pem);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tracker enrol|load|verify [options] (see the source's "
                        "header)\n");
        return 2;
    }
    if (strcmp(argv[1], "enrol") == 0)
        return cmd_enrol(argc - 2, argv + 2);
    if (strcmp(argv[1], "load") == 0)
        return cmd_load(argc - 2, argv + 2);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 2, argv + 2);
    fprintf(stderr, "bench_tracker: unknown mode '%s'\n", argv[1]);
    return 2;
}
