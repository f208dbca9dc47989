/* The HTTP seams (programs/common/http): httpd on libmicrohttpd, httpc on libcurl, talking
 * to each other over loopback, with certificates made here with OpenSSL (a CA, a server
 * certificate for 127.0.0.1, a client certificate, and a CA nobody trusts).
 *
 * Three servers: TLS with optional client certificates, plain HTTP (raw-socket cases and
 * sendfile), and plain HTTP with a 2 s timeout for the slow-client cases. Bodies are
 * checked through SHA-256 digests; every sink records its cleanup under the request's
 * X-Test-Id so that "exactly once, with completed=false" can be checked per request. */
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info (glibc hides its own without _DEFAULT_SOURCE) */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "httpc.h"
#include "httpd.h"
#include "testutil.h"

#define FILE_SIZE (1024u * 1024u)
#define RANGE_SIZE 1000u
#define SMALL_LIMIT 1024u
#define UPLOAD_LIMIT (16u * 1024u * 1024u)

/* ------------------------------------------------------------------------------------- */
/* certificates */

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial, const char *san, const char *eku)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &ctx, NID_basic_constraints, issuer ? "critical,CA:FALSE" : "critical,CA:TRUE");
    add_ext(x, &ctx, NID_key_usage,
            issuer ? "critical,digitalSignature" : "critical,keyCertSign,cRLSign");
    add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (issuer)
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    if (san)
        add_ext(x, &ctx, NID_subject_alt_name, san);
    if (eku)
        add_ext(x, &ctx, NID_ext_key_usage, eku);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t md[32];
    unsigned len = 0;
    assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
    hex(md, 32, out);
}

/* ------------------------------------------------------------------------------------- */
/* what the sinks saw, by X-Test-Id */

#define MAX_RECORDS 256
struct record {
    char id[32];
    unsigned cleanups;
    bool completed;
    uint64_t bytes;
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
static struct record records[MAX_RECORDS];
static size_t n_records;

static void record_cleanup(const char *id, bool completed, uint64_t bytes)
{
    pthread_mutex_lock(&rec_lock);
    struct record *r = NULL;
    for (size_t i = 0; i < n_records; i++)
        if (strcmp(records[i].id, id) == 0)
            r = &records[i];
    if (!r && n_records < MAX_RECORDS) {
        r = &records[n_records++];
        snprintf(r->id, sizeof(r->id), "%s", id);
    }
    if (r) {
        r->cleanups++;
        r->completed = completed;
        r->bytes = bytes;
    }
    pthread_cond_broadcast(&rec_cond);
    pthread_mutex_unlock(&rec_lock);
}

/* Waits (at most 30 s: a generous bound, not a timing assertion) for id's cleanup. */
static struct record wait_record(const char *id)
{
    struct record out;
    memset(&out, 0, sizeof(out));
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&rec_lock);
    for (;;) {
        bool found = false;
        for (size_t i = 0; i < n_records; i++)
            if (strcmp(records[i].id, id) == 0) {
                out = records[i];
                found = true;
            }
        if (found || pthread_cond_timedwait(&rec_cond, &rec_lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&rec_lock);
    return out;
}

/* ------------------------------------------------------------------------------------- */
/* the application under test */

struct part_digest {
    char name[32];
    char filename[64];
    EVP_MD_CTX *md;
    uint64_t len;
};

struct sink {
    char id[32];
    EVP_MD_CTX *md;
    uint64_t bytes;
    struct part_digest parts[4];
    size_t nparts;
    int last_part;
};

static struct sink *sink_new(struct httpd_req *req)
{
    struct sink *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    const char *id = httpd_req_header(req, "X-Test-Id");
    snprintf(s->id, sizeof(s->id), "%s", id ? id : "-");
    s->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
    s->last_part = -1;
    return s;
}

static secup_rc sink_data(void *ctx, struct httpd_req *req, const uint8_t *p, size_t n,
                          struct secup_err *err)
{
    struct sink *s = ctx;
    (void)req;
    (void)err;
    s->bytes += n;
    EVP_DigestUpdate(s->md, p, n);
    return SECUP_OK;
}

static secup_rc sink_part(void *ctx, struct httpd_req *req, const struct httpd_part *part,
                          const uint8_t *p, size_t n, struct secup_err *err)
{
    struct sink *s = ctx;
    (void)req;
    if (strcmp(part->name, "evil") == 0)
        return secup_err_set(err, SECUP_E_FORBIDDEN, "part 'evil' is not allowed");
    struct part_digest *pd = NULL;
    for (size_t i = 0; i < s->nparts; i++)
        if (strcmp(s->parts[i].name, part->name) == 0)
            pd = &s->parts[i];
    if (!pd) {
        if (s->nparts >= 4)
            return secup_err_set(err, SECUP_E_LIMIT, "too many parts");
        pd = &s->parts[s->nparts++];
        snprintf(pd->name, sizeof(pd->name), "%s", part->name);
        snprintf(pd->filename, sizeof(pd->filename), "%s", part->filename ? part->filename : "");
        pd->md = EVP_MD_CTX_new();
        EVP_DigestInit_ex(pd->md, EVP_sha256(), NULL);
    }
    if (part->offset != pd->len)
        return secup_err_set(err, SECUP_E_STATE, "part offset %llu, expected %llu",
                             (unsigned long long)part->offset, (unsigned long long)pd->len);
    pd->len += n;
    s->bytes += n;
    EVP_DigestUpdate(pd->md, p, n);
    return SECUP_OK;
}

/* A body's done() may park the request too: answered by the waker, after the body. */
static _Atomic int body_park_cleanups;

static void body_park_wake(void *ctx, struct httpd_req *req)
{
    struct sink *s = ctx;
    json_t *o = json_pack("{s:s,s:I}", "woken", "after-body", "len", (json_int_t)s->bytes);
    httpd_respond_json(req, 200, o);
    json_decref(o);
}

static void body_park_cleanup(void *ctx, bool completed)
{
    (void)ctx;
    if (completed)
        atomic_fetch_add(&body_park_cleanups, 1);
}

static const struct httpd_park_ops body_park_ops = { body_park_wake, body_park_cleanup };

static void *short_waker(void *arg)
{
    struct timespec ts = { 0, 300 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    httpd_req_wake(arg);
    return NULL;
}

static void sink_done(void *ctx, struct httpd_req *req)
{
    struct sink *s = ctx;
    uint8_t md[32];
    char h[65];
    if (strcmp(httpd_req_path(req), "/park-body") == 0) {
        httpd_req_park(req, &body_park_ops, s);
        pthread_t t;
        if (pthread_create(&t, NULL, short_waker, req) == 0)
            pthread_detach(t);
        return;
    }
    json_t *o = json_object();
    if (strcmp(httpd_req_path(req), "/v1/images") == 0) {
        char id[80] = "img-";
        for (size_t i = 0; i < s->nparts; i++) {
            EVP_DigestFinal_ex(s->parts[i].md, md, NULL);
            hex(md, 32, h);
            if (strcmp(s->parts[i].name, "envelope") == 0 && s->parts[i].len == 3) {
                httpd_respond_error(req, SECUP_E_SIG, "envelope signature does not verify");
                json_decref(o);
                return;
            }
            snprintf(id + strlen(id), sizeof(id) - strlen(id), "%s%.8s", i ? "-" : "", h);
        }
        json_object_set_new(o, "id", json_string(id));
        json_object_set_new(o, "parts", json_integer((json_int_t)s->nparts));
    } else if (strcmp(httpd_req_path(req), "/multipart") == 0) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->nparts; i++) {
            EVP_DigestFinal_ex(s->parts[i].md, md, NULL);
            hex(md, 32, h);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:s}", "name", s->parts[i].name,
                                                 "filename", s->parts[i].filename, "len",
                                                 (json_int_t)s->parts[i].len, "sha256", h));
        }
        json_object_set_new(o, "parts", arr);
    } else {
        EVP_DigestFinal_ex(s->md, md, NULL);
        hex(md, 32, h);
        json_object_set_new(o, "sha256", json_string(h));
        json_object_set_new(o, "len", json_integer((json_int_t)s->bytes));
    }
    httpd_respond_json(req, 201, o);
    json_decref(o);
}

static void sink_cleanup(void *ctx, bool completed)
{
    struct sink *s = ctx;
    record_cleanup(s->id, completed, s->bytes);
    EVP_MD_CTX_free(s->md);
    for (size_t i = 0; i < s->nparts; i++)
        EVP_MD_CTX_free(s->parts[i].md);
    free(s);
}

static const struct httpd_body_ops sink_ops = {
    .data = sink_data,
    .part = sink_part,
    .done = sink_done,
    .cleanup = sink_cleanup,
};

struct fixture {
    char dir[64];
    char ca[128], cert[128], key[128], client_cert[128], client_key[128], other_ca[128];
    char file[128];
    char file_sha256[65];
    struct httpd *tls, *plain, *slow;
    uint16_t tls_port, plain_port, slow_port;
    uint8_t range_data[RANGE_SIZE];
    char client_sha256[65];
};

static struct fixture *fx;

/* Long polls: a parked request is woken by another thread after a short while. */
static void park_wake(void *ctx, struct httpd_req *req)
{
    (void)ctx;
    httpd_respond(req, 200, "text/plain", "woken", 5);
}

static void park_cleanup(void *ctx, bool completed)
{
    (void)ctx;
    (void)completed;
}

static const struct httpd_park_ops park_ops = { park_wake, park_cleanup };

static void *waker(void *arg)
{
    struct timespec ts = { 3, 0 };
    nanosleep(&ts, NULL);
    httpd_req_wake(arg);
    return NULL;
}

static void park_request(struct httpd_req *req)
{
    httpd_req_park(req, &park_ops, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, waker, req) == 0)
        pthread_detach(t);
}

static void app_handler(void *app, struct httpd_req *req)
{
    struct fixture *f = app;
    const char *path = httpd_req_path(req);
    const char *method = httpd_req_method(req);

    if (strcmp(path, "/json") == 0) {
        const char *name = httpd_req_query(req, "name");
        json_t *o = json_pack("{s:s,s:s,s:s}", "hello", name ? name : "", "method", method,
                              "path", path);
        httpd_respond_json(req, 200, o);
        json_decref(o);
    } else if (strncmp(path, "/error/", 7) == 0) {
        secup_rc rc;
        if (!secup_rc_from_name(path + 7, &rc))
            rc = SECUP_E_ARG;
        httpd_respond_error(req, rc, "refused for the test (%s)", path + 7);
    } else if (strcmp(path, "/notjson") == 0) {
        httpd_respond(req, 502, "text/plain", "bad gateway", 11);
    } else if (strcmp(path, "/park") == 0) {
        park_request(req);
    } else if (strcmp(path, "/etag") == 0) {
        static const char etag[] = "\"v1\"";
        httpd_set_header(req, "ETag", etag);
        if (httpd_etag_matches(httpd_req_header(req, "If-None-Match"), etag))
            httpd_respond(req, 304, NULL, NULL, 0);
        else
            httpd_respond(req, 200, "text/plain", "version 1", 9);
    } else if (strcmp(path, "/range") == 0) {
        uint64_t off, len;
        char cr[64];
        unsigned st = httpd_parse_range(httpd_req_header(req, "Range"), RANGE_SIZE, &off, &len);
        if (st == 416) {
            snprintf(cr, sizeof(cr), "bytes */%u", RANGE_SIZE);
            httpd_set_header(req, "Content-Range", cr);
            json_t *e = json_pack("{s:s,s:s}", "error", "SECUP_E_VALUE", "message",
                                  "range not satisfiable");
            httpd_respond_json(req, 416, e);
            json_decref(e);
            return;
        }
        if (st == 206) {
            snprintf(cr, sizeof(cr), "bytes %llu-%llu/%u", (unsigned long long)off,
                     (unsigned long long)(off + len - 1), RANGE_SIZE);
            httpd_set_header(req, "Content-Range", cr);
        }
        httpd_set_header(req, "Accept-Ranges", "bytes");
        httpd_respond(req, st, "application/octet-stream", f->range_data + off, (size_t)len);
    } else if (strcmp(path, "/file") == 0) {
        int fd = open(f->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            httpd_respond_error(req, SECUP_E_NOENT, "no file");
            return;
        }
        httpd_respond_fd(req, 200, "application/octet-stream", fd, 0, FILE_SIZE);
    } else if (strcmp(path, "/upload") == 0) {
        httpd_req_accept_body(req, UPLOAD_LIMIT, &sink_ops, sink_new(req));
    } else if (strcmp(path, "/park-body") == 0) {
        httpd_req_accept_body(req, UPLOAD_LIMIT, &sink_ops, sink_new(req));
    } else if (strcmp(path, "/small") == 0) {
        httpd_req_accept_body(req, SMALL_LIMIT, &sink_ops, sink_new(req));
    } else if (strcmp(path, "/multipart") == 0) {
        httpd_req_accept_multipart(req, 0, &sink_ops, sink_new(req));
    } else if (strcmp(path, "/v1/images") == 0) {
        /* a stand-in for the Firmware Server's submission route */
        const char *auth = httpd_req_header(req, "Authorization");
        if (!auth || strcmp(auth, "Bearer t0ken") != 0) {
            httpd_respond_error(req, SECUP_E_AUTH, "no valid Author token");
            return;
        }
        httpd_req_accept_multipart(req, 0, &sink_ops, sink_new(req));
    } else if (strcmp(path, "/cert") == 0) {
        char fp[65];
        json_t *o = json_object();
        bool has = httpd_req_client_cert_sha256(req, fp);
        json_object_set_new(o, "cert", has ? json_string(fp) : json_null());
        httpd_respond_json(req, 200, o);
        json_decref(o);
    } else {
        httpd_respond_error(req, SECUP_E_NOENT, "no route for %s %s", method, path);
    }
}

static void test_log(void *ctx, const char *line)
{
    fprintf(stderr, "# httpd %s: %s\n", (const char *)ctx, line);
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    snprintf(f.dir, sizeof(f.dir), "/tmp/secup-http-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
#define P(field, name) snprintf(f.field, sizeof(f.field), "%s/" name, f.dir)
    P(ca, "ca.pem");
    P(cert, "server.pem");
    P(key, "server.key");
    P(client_cert, "client.pem");
    P(client_key, "client.key");
    P(other_ca, "other-ca.pem");
    P(file, "file.bin");
#undef P

    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256");
    EVP_PKEY *cli_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
    assert_non_null(ca_key);
    X509 *ca = make_cert(ca_key, "secup test CA", NULL, NULL, 1, NULL, NULL);
    X509 *srv = make_cert(srv_key, "127.0.0.1", ca, ca_key, 2, "IP:127.0.0.1,DNS:localhost",
                          "serverAuth");
    X509 *cli = make_cert(cli_key, "device-1", ca, ca_key, 3, NULL, "clientAuth");
    X509 *other = make_cert(other_key, "nobody's CA", NULL, NULL, 4, NULL, NULL);
    write_cert(f.ca, ca);
    write_cert(f.cert, srv);
    write_key(f.key, srv_key);
    write_cert(f.client_cert, cli);
    write_key(f.client_key, cli_key);
    write_cert(f.other_ca, other);
    uint8_t md[32];
    unsigned mdlen = 0;
    assert_int_equal(X509_digest(cli, EVP_sha256(), md, &mdlen), 1);
    hex(md, 32, f.client_sha256);
    X509_free(ca);
    X509_free(srv);
    X509_free(cli);
    X509_free(other);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(cli_key);
    EVP_PKEY_free(other_key);

    /* a 1 MiB file with a fixed pattern (seeded, printed) */
    unsigned seed = 20240601u;
    printf("# seed %u\n", seed);
    uint8_t *buf = malloc(FILE_SIZE);
    assert_non_null(buf);
    for (size_t i = 0; i < FILE_SIZE; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    FILE *fp = fopen(f.file, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, FILE_SIZE, fp), FILE_SIZE);
    fclose(fp);
    sha256_hex(buf, FILE_SIZE, f.file_sha256);
    free(buf);
    for (size_t i = 0; i < RANGE_SIZE; i++)
        f.range_data[i] = (uint8_t)(i * 7 + 3);

    struct secup_err err;
    struct httpd_config tls_cfg = {
        .listen = "127.0.0.1:0",
        .cert_file = f.cert,
        .key_file = f.key,
        .client_ca_file = f.ca,
        .threads = 4,
    };
    assert_int_equal(httpd_start(&tls_cfg, app_handler, &f, &f.tls, &err), SECUP_OK);
    struct httpd_config plain_cfg = { .listen = "127.0.0.1:0", .threads = 2, .log = test_log,
                                      .log_ctx = (void *)"plain" };
    assert_int_equal(httpd_start(&plain_cfg, app_handler, &f, &f.plain, &err), SECUP_OK);
    struct httpd_config slow_cfg = { .listen = "127.0.0.1:0", .threads = 2, .timeout_s = 2,
                                     .log = test_log, .log_ctx = (void *)"slow" };
    assert_int_equal(httpd_start(&slow_cfg, app_handler, &f, &f.slow, &err), SECUP_OK);
    f.tls_port = httpd_port(f.tls);
    f.plain_port = httpd_port(f.plain);
    f.slow_port = httpd_port(f.slow);
    assert_true(f.tls_port != 0 && f.plain_port != 0 && f.slow_port != 0);
    fx = &f;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    httpd_stop(f->tls);
    httpd_stop(f->plain);
    httpd_stop(f->slow);
    const char *files[] = { f->ca, f->cert, f->key, f->client_cert, f->client_key, f->other_ca,
                            f->file };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        unlink(files[i]);
    rmdir(f->dir);
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* client helpers */

static void url_of(char *out, size_t cap, bool tls, uint16_t port, const char *path)
{
    snprintf(out, cap, "%s://127.0.0.1:%u%s", tls ? "https" : "http", (unsigned)port, path);
}

static secup_rc get_tls(const char *path, const char *const *headers,
                        struct httpc_response *resp, struct secup_err *err)
{
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, path);
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_request req = { .url = url, .headers = headers };
    return httpc_perform(&cfg, &req, resp, err);
}

static json_t *body_json(const struct httpc_response *resp)
{
    json_t *o = json_loadb((const char *)resp->body, resp->body_len, 0, NULL);
    assert_non_null(o);
    return o;
}

static int raw_connect(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = { .tv_sec = 30 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return s;
}

/* Sends everything it can; false once the peer closed. */
static bool raw_send(int s, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(s, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads until the peer closes (or 30 s pass); returns the bytes read. */
static size_t raw_read_all(int s, char *out, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(s, out + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    return n;
}

static unsigned status_of(const char *resp)
{
    unsigned st = 0;
    if (sscanf(resp, "HTTP/1.%*d %u", &st) != 1)
        return 0;
    return st;
}

/* ------------------------------------------------------------------------------------- */
/* parsers */

static void test_http_parse_range_table(void **state)
{
    (void)state;
    static const struct {
        const char *h;
        uint64_t size;
        unsigned st;
        uint64_t off, len;
    } cases[] = {
        { NULL, 100, 200, 0, 100 },
        { "bytes=0-9", 100, 206, 0, 10 },
        { "bytes=10-", 100, 206, 10, 90 },
        { "bytes=-10", 100, 206, 90, 10 },
        { "bytes=-1000", 100, 206, 0, 100 },
        { "bytes=90-1000", 100, 206, 90, 10 },
        { "bytes=99-99", 100, 206, 99, 1 },
        { " bytes = 5-6 ", 100, 206, 5, 2 },
        { "BYTES=5-6", 100, 206, 5, 2 },
        { "bytes=100-", 100, 416, 0, 100 },
        { "bytes=100-200", 100, 416, 0, 100 },
        { "bytes=-0", 100, 416, 0, 100 },
        { "bytes=0-", 0, 416, 0, 0 },
        { "bytes=-5", 0, 416, 0, 0 },
        { "bytes=99999999999999999999999-", 100, 416, 0, 100 },
        { "bytes=0-99999999999999999999999", 100, 206, 0, 100 },
        { "bytes=9-5", 100, 200, 0, 100 },
        { "bytes=0-1,5-6", 100, 200, 0, 100 },
        { "bytes=-", 100, 200, 0, 100 },
        { "bytes=", 100, 200, 0, 100 },
        { "bytes=a-b", 100, 200, 0, 100 },
        { "bytes=1-2x", 100, 200, 0, 100 },
        { "bytes 1-2", 100, 200, 0, 100 },
        { "items=0-1", 100, 200, 0, 100 },
        { "bytes=+1-2", 100, 200, 0, 100 },
        { "bytes=1--2", 100, 200, 0, 100 },
        { "", 100, 200, 0, 100 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t off = 77, len = 77;
        unsigned st = httpd_parse_range(cases[i].h, cases[i].size, &off, &len);
        printf("# range '%s' size %llu -> %u\n", cases[i].h ? cases[i].h : "(null)",
               (unsigned long long)cases[i].size, st);
        assert_int_equal(st, cases[i].st);
        if (st == 206) {
            assert_int_equal(off, cases[i].off);
            assert_int_equal(len, cases[i].len);
        }
    }
}

static void test_http_etag_matches_table(void **state)
{
    (void)state;
    static const struct {
        const char *inm, *etag;
        bool match;
    } cases[] = {
        { "\"v1\"", "\"v1\"", true },
        { "W/\"v1\"", "\"v1\"", true },
        { "\"v1\"", "W/\"v1\"", true },
        { "\"v0\", \"v1\"", "\"v1\"", true },
        { "\"v0\",\"v1\" ,", "\"v1\"", true },
        { " , \"v1\"", "\"v1\"", true },
        { "*", "\"v1\"", true },
        { " * ", "\"v1\"", true },
        { "\"v0\"", "\"v1\"", false },
        { "\"V1\"", "\"v1\"", false },
        { "v1", "\"v1\"", false },
        { "\"v1", "\"v1\"", false },
        { "\"v0\" \"v1\"", "\"v1\"", false },
        { "*, \"v1\"", "\"v1\"", false },
        { "w/\"v1\"", "\"v1\"", false },
        { "", "\"v1\"", false },
        { NULL, "\"v1\"", false },
        { "\"v1\"", NULL, false },
        { "\"v1\"", "v1", false },
        { "\"a b\"", "\"a b\"", false },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        printf("# if-none-match '%s' etag '%s'\n", cases[i].inm ? cases[i].inm : "(null)",
               cases[i].etag ? cases[i].etag : "(null)");
        assert_int_equal(httpd_etag_matches(cases[i].inm, cases[i].etag), cases[i].match);
    }
}

static void test_http_status_for_rc_table(void **state)
{
    (void)state;
    static const struct {
        secup_rc rc;
        unsigned st;
    } cases[] = {
        { SECUP_OK, 200 },           { SECUP_E_AUTH, 401 },        { SECUP_E_FORBIDDEN, 403 },
        { SECUP_E_BANNED, 403 },     { SECUP_E_NOENT, 404 },       { SECUP_E_EXISTS, 409 },
        { SECUP_E_ROLLBACK, 409 },   { SECUP_E_QUARANTINED, 410 }, { SECUP_E_LIMIT_BODY, 413 },
        { SECUP_E_LIMIT_SIZE, 413 }, { SECUP_E_LOCATION, 451 },    { SECUP_E_NOSPACE, 507 },
        { SECUP_E_UNAVAILABLE, 503 }, { SECUP_E_TIMEOUT, 408 },    { SECUP_E_ARG, 400 },
        { SECUP_E_HTTP, 400 },       { SECUP_E_CBOR, 400 },        { SECUP_E_JSON, 400 },
        { SECUP_E_SIG, 422 },        { SECUP_E_DIGEST, 422 },      { SECUP_E_EXPIRED, 422 },
        { SECUP_E_NOMEM, 500 },      { SECUP_E_IO, 500 },          { SECUP_E_DB, 500 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        assert_int_equal(httpd_status_for_rc(cases[i].rc), cases[i].st);
}

/* ------------------------------------------------------------------------------------- */
/* requests */

static void test_http_get_json_over_tls_decodes_path_and_query(void **state)
{
    (void)state;
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(get_tls("/j%73on?name=a%20b+c&x", NULL, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, "application/json");
    json_t *o = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(o, "hello")), "a b c");
    assert_string_equal(json_string_value(json_object_get(o, "path")), "/json");
    assert_string_equal(json_string_value(json_object_get(o, "method")), "GET");
    json_decref(o);
    httpc_response_free(&resp);
    /* keys without '=' need one byte more than their text (found by ASan) */
    static const char *const bare[] = { "/json?x", "/json?a&b&c", "/json?name", "/json?&&x&" };
    for (size_t i = 0; i < ARRAY_SIZE(bare); i++) {
        assert_int_equal(get_tls(bare[i], NULL, &resp, &err), SECUP_OK);
        assert_int_equal(resp.status, 200);
        httpc_response_free(&resp);
    }
}

struct park_client {
    long status;
    char body[16];
};

static _Atomic int parks_answered;

static void *park_client_main(void *arg)
{
    struct park_client *pc = arg;
    char url[256];
    url_of(url, sizeof(url), false, fx->plain_port, "/park");
    struct httpc_config cfg = { 0 };
    struct httpc_request req = { .url = url };
    struct httpc_response resp;
    struct secup_err err;
    if (httpc_perform(&cfg, &req, &resp, &err) == SECUP_OK) {
        pc->status = resp.status;
        snprintf(pc->body, sizeof(pc->body), "%s", resp.body ? (const char *)resp.body : "");
        httpc_response_free(&resp);
    }
    atomic_fetch_add(&parks_answered, 1);
    return NULL;
}

/* Parked requests hold no server thread: with 2 threads, 20 parked requests still leave
 * the server answering others, and every parked one is answered when woken. */
static void test_http_parked_requests_hold_no_thread_and_are_answered_when_woken(void **state)
{
    (void)state;
    enum { N = 20 };
    pthread_t t[N];
    struct park_client pc[N];
    memset(pc, 0, sizeof(pc));
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, park_client_main, &pc[i]), 0);
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    char url[256];
    url_of(url, sizeof(url), false, fx->plain_port, "/json?name=meanwhile");
    struct httpc_config cfg = { 0 };
    struct httpc_request req = { .url = url };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    httpc_response_free(&resp);
    /* answered while all 20 were still parked (they are woken only after 3 s) */
    assert_int_equal(atomic_load(&parks_answered), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(pc[i].status, 200);
        assert_string_equal(pc[i].body, "woken");
    }
}

static void test_http_error_answers_map_to_result_codes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        long status;
    } cases[] = {
        { "SECUP_E_AUTH", 401 },   { "SECUP_E_FORBIDDEN", 403 }, { "SECUP_E_NOENT", 404 },
        { "SECUP_E_SIG", 422 },    { "SECUP_E_LOCATION", 451 },  { "SECUP_E_NOSPACE", 507 },
        { "SECUP_E_CBOR", 400 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char path[64];
        struct httpc_response resp;
        struct secup_err err;
        snprintf(path, sizeof(path), "/error/%s", cases[i].name);
        assert_int_equal(get_tls(path, NULL, &resp, &err), SECUP_OK);
        assert_int_equal(resp.status, cases[i].status);
        secup_rc rc = httpc_response_error(&resp, &err);
        assert_string_equal(secup_rc_name(rc), cases[i].name);
        assert_int_equal(err.rc, rc);
        assert_non_null(strstr(err.msg, "refused for the test"));
        httpc_response_free(&resp);
    }
    /* no route: 404 SECUP_E_NOENT from the application */
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(get_tls("/nothing/here", NULL, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 404);
    assert_int_equal(httpc_response_error(&resp, &err), SECUP_E_NOENT);
    httpc_response_free(&resp);
    /* not an error body: SECUP_E_NET naming the status */
    assert_int_equal(get_tls("/notjson", NULL, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 502);
    assert_int_equal(httpc_response_error(&resp, &err), SECUP_E_NET);
    assert_non_null(strstr(err.msg, "502"));
    httpc_response_free(&resp);
}

static void test_http_bad_request_targets_get_400(void **state)
{
    (void)state;
    static const char *const targets[] = { "/a%00b", "/a%zzb", "/a%2", "/json?name=%00",
                                           "/a%0ab" };
    for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
        char req[256], resp[4096];
        int s = raw_connect(fx->plain_port);
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 targets[i]);
        assert_true(raw_send(s, req, strlen(req)));
        raw_read_all(s, resp, sizeof(resp));
        close(s);
        printf("# %s\n", targets[i]);
        assert_int_equal(status_of(resp), 400);
        assert_non_null(strstr(resp, "SECUP_E_HTTP"));
    }
}

static void test_http_if_none_match_gives_304_with_etag(void **state)
{
    (void)state;
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(get_tls("/etag", NULL, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.etag, "\"v1\"");
    httpc_response_free(&resp);

    const char *const hdrs[] = { "If-None-Match: \"v0\", W/\"v1\"", NULL };
    assert_int_equal(get_tls("/etag", hdrs, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 304);
    assert_string_equal(resp.etag, "\"v1\"");
    assert_int_equal(resp.body_len, 0);
    httpc_response_free(&resp);
}

static void test_http_range_gives_206_and_416(void **state)
{
    (void)state;
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/range");
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_response resp;
    struct secup_err err;

    struct httpc_request req = { .url = url, .resume_from = 100 };
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 206);
    assert_int_equal(resp.body_len, RANGE_SIZE - 100);
    assert_memory_equal(resp.body, fx->range_data + 100, RANGE_SIZE - 100);
    httpc_response_free(&resp);

    const char *const hdrs[] = { "Range: bytes=-10", NULL };
    assert_int_equal(get_tls("/range", hdrs, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 206);
    assert_int_equal(resp.body_len, 10);
    assert_memory_equal(resp.body, fx->range_data + RANGE_SIZE - 10, 10);
    httpc_response_free(&resp);

    req.resume_from = RANGE_SIZE;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 416);
    assert_int_equal(httpc_response_error(&resp, &err), SECUP_E_VALUE);
    httpc_response_free(&resp);

    assert_int_equal(get_tls("/range", NULL, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, RANGE_SIZE);
    httpc_response_free(&resp);
}

struct digest_sink {
    EVP_MD_CTX *md;
    uint64_t n;
    uint64_t progress_calls;
};

static bool digest_sink(void *ctx, const uint8_t *p, size_t n, struct secup_err *err)
{
    struct digest_sink *d = ctx;
    (void)err;
    EVP_DigestUpdate(d->md, p, n);
    d->n += n;
    return true;
}

static void count_progress(void *ctx, uint64_t done, uint64_t total, bool upload)
{
    struct digest_sink *d = ctx;
    (void)upload;
    assert_true(total == 0 || done <= total);
    d->progress_calls++;
}

static void fetch_file(bool tls, uint16_t port)
{
    char url[256], h[65];
    uint8_t md[32];
    url_of(url, sizeof(url), tls, port, "/file");
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct digest_sink ds = { .md = EVP_MD_CTX_new() };
    EVP_DigestInit_ex(ds.md, EVP_sha256(), NULL);
    struct httpc_request req = { .url = url, .sink = digest_sink, .sink_ctx = &ds,
                                 .progress = count_progress, .progress_ctx = &ds };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.content_length, FILE_SIZE);
    assert_int_equal(ds.n, FILE_SIZE);
    assert_true(ds.progress_calls >= 1);
    EVP_DigestFinal_ex(ds.md, md, NULL);
    hex(md, 32, h);
    assert_string_equal(h, fx->file_sha256);
    EVP_MD_CTX_free(ds.md);
    httpc_response_free(&resp);
}

static void test_http_fd_response_of_1mib_arrives_whole(void **state)
{
    (void)state;
    fetch_file(true, fx->tls_port);
    fetch_file(false, fx->plain_port); /* sendfile */
}

static void test_http_response_over_max_response_is_limit_body(void **state)
{
    (void)state;
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/file");
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_request req = { .url = url, .max_response = 4096 };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_E_LIMIT_BODY);
    assert_null(resp.body);
}

static void test_http_plain_upload_arrives_whole(void **state)
{
    (void)state;
    size_t n = 3u * 1024u * 1024u + 17u;
    uint8_t *body = malloc(n);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (uint8_t)(i * 31u + (i >> 12));
    char url[256], want[65];
    sha256_hex(body, n, want);
    url_of(url, sizeof(url), true, fx->tls_port, "/upload");
    const char *const hdrs[] = { "X-Test-Id: plain-upload", NULL };
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct digest_sink ds = { 0 };
    struct httpc_request req = { .url = url, .headers = hdrs, .body = body, .body_len = n,
                                 .content_type = "application/octet-stream",
                                 .progress = count_progress, .progress_ctx = &ds };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 201);
    json_t *o = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(o, "sha256")), want);
    assert_int_equal(json_integer_value(json_object_get(o, "len")), (json_int_t)n);
    json_decref(o);
    httpc_response_free(&resp);
    struct record r = wait_record("plain-upload");
    assert_int_equal(r.cleanups, 1);
    assert_true(r.completed);
    free(body);
}

/* A request parked from its body's done() is answered when woken, over TLS, and both
 * the body's and the park's cleanups run once. */
static void test_http_request_parked_after_its_body_is_answered_when_woken(void **state)
{
    (void)state;
    size_t n = 200u * 1024u + 5u;
    uint8_t *body = malloc(n);
    assert_non_null(body);
    memset(body, 0x5a, n);
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/park-body");
    const char *const hdrs[] = { "X-Test-Id: park-body", NULL };
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_request req = { .url = url, .headers = hdrs, .body = body, .body_len = n,
                                 .content_type = "application/octet-stream" };
    struct httpc_response resp;
    struct secup_err err;
    int before = atomic_load(&body_park_cleanups);
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    json_t *o = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(o, "woken")), "after-body");
    assert_int_equal(json_integer_value(json_object_get(o, "len")), (json_int_t)n);
    json_decref(o);
    httpc_response_free(&resp);
    struct record r = wait_record("park-body");
    assert_int_equal(r.cleanups, 1);
    assert_true(r.completed);
    for (int i = 0; i < 100 && atomic_load(&body_park_cleanups) == before; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&body_park_cleanups), before + 1);
    free(body);
}

static void test_http_multipart_binary_parts_arrive_whole(void **state)
{
    (void)state;
    /* a payload file of 5 MiB + 3 with boundary-like bytes all through it */
    size_t n = 5u * 1024u * 1024u + 3u;
    uint8_t *payload = malloc(n);
    assert_non_null(payload);
    unsigned seed = 7u;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        payload[i] = (uint8_t)(seed >> 24);
    }
    static const char trap[] = "\r\n--------------------------\r\nContent-Disposition: x\r\n\r\n";
    for (size_t off = 1000; off + sizeof(trap) < n; off += 65536 + 13)
        memcpy(payload + off, trap, sizeof(trap) - 1);
    char path[192], want_payload[65], want_env[65];
    snprintf(path, sizeof(path), "%s/payload.bin", fx->dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(payload, 1, n, f), n);
    fclose(f);
    sha256_hex(payload, n, want_payload);
    static const uint8_t envelope[] = { 0xd8, 0x6b, 0xa2, 0x00, '\r', '\n', '-', '-', 0xff, 0x00 };
    sha256_hex(envelope, sizeof(envelope), want_env);

    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/multipart");
    const char *const hdrs[] = { "X-Test-Id: multipart", NULL };
    struct httpc_part parts[] = {
        { .name = "envelope", .data = envelope, .len = sizeof(envelope),
          .content_type = "application/suit-envelope+cose" },
        { .name = "payload", .file = path, .content_type = "application/octet-stream" },
    };
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_request req = { .url = url, .headers = hdrs, .parts = parts, .nparts = 2 };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 201);
    json_t *o = body_json(&resp);
    json_t *arr = json_object_get(o, "parts");
    assert_int_equal(json_array_size(arr), 2);
    json_t *p0 = json_array_get(arr, 0), *p1 = json_array_get(arr, 1);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "envelope");
    assert_int_equal(json_integer_value(json_object_get(p0, "len")), sizeof(envelope));
    assert_string_equal(json_string_value(json_object_get(p0, "sha256")), want_env);
    assert_string_equal(json_string_value(json_object_get(p1, "name")), "payload");
    assert_string_equal(json_string_value(json_object_get(p1, "filename")), "payload.bin");
    assert_int_equal(json_integer_value(json_object_get(p1, "len")), (json_int_t)n);
    assert_string_equal(json_string_value(json_object_get(p1, "sha256")), want_payload);
    json_decref(o);
    httpc_response_free(&resp);
    struct record r = wait_record("multipart");
    assert_int_equal(r.cleanups, 1);
    assert_true(r.completed);
    unlink(path);
    free(payload);
}

static void test_http_multipart_part_error_is_answered(void **state)
{
    (void)state;
    static const uint8_t data[] = "abc";
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/multipart");
    const char *const hdrs[] = { "X-Test-Id: evil-part", NULL };
    struct httpc_part parts[] = { { .name = "evil", .data = data, .len = 3 } };
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_request req = { .url = url, .headers = hdrs, .parts = parts, .nparts = 1 };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 403);
    assert_int_equal(httpc_response_error(&resp, &err), SECUP_E_FORBIDDEN);
    assert_non_null(strstr(err.msg, "evil"));
    httpc_response_free(&resp);
    struct record r = wait_record("evil-part");
    assert_int_equal(r.cleanups, 1);
    assert_false(r.completed);
}

static void test_http_multipart_without_boundary_is_400(void **state)
{
    (void)state;
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/multipart");
    const char *const hdrs[] = { "X-Test-Id: not-multipart", NULL };
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_request req = { .url = url, .headers = hdrs, .body = (const uint8_t *)"x=1",
                                 .body_len = 3, .content_type = "text/plain" };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 400);
    assert_int_equal(httpc_response_error(&resp, &err), SECUP_E_HTTP);
    httpc_response_free(&resp);
    struct record r = wait_record("not-multipart");
    assert_int_equal(r.cleanups, 1);
    assert_false(r.completed);
    assert_int_equal(r.bytes, 0);
}

static void test_http_declared_length_over_limit_is_413_before_the_body(void **state)
{
    (void)state;
    /* raw: the head alone gets the answer; the body is never sent */
    char resp[4096];
    int s = raw_connect(fx->plain_port);
    static const char head[] = "POST /small HTTP/1.1\r\nHost: x\r\nX-Test-Id: cl-raw\r\n"
                               "Content-Length: 100000\r\n\r\n";
    assert_true(raw_send(s, head, strlen(head)));
    raw_read_all(s, resp, sizeof(resp));
    close(s);
    assert_int_equal(status_of(resp), 413);
    assert_non_null(strstr(resp, "SECUP_E_LIMIT_BODY"));
    struct record r = wait_record("cl-raw");
    assert_int_equal(r.cleanups, 1);
    assert_false(r.completed);
    assert_int_equal(r.bytes, 0);

    /* through httpc and TLS, with Expect: 100-continue */
    size_t n = 2u * 1024u * 1024u;
    uint8_t *body = calloc(1, n);
    assert_non_null(body);
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/small");
    const char *const hdrs[] = { "X-Test-Id: cl-httpc", "Expect: 100-continue", NULL };
    struct httpc_config cfg = { .ca_file = fx->ca };
    struct httpc_request req = { .url = url, .headers = hdrs, .body = body, .body_len = n };
    struct httpc_response hr;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &hr, &err), SECUP_OK);
    assert_int_equal(hr.status, 413);
    assert_int_equal(httpc_response_error(&hr, &err), SECUP_E_LIMIT_BODY);
    httpc_response_free(&hr);
    r = wait_record("cl-httpc");
    assert_int_equal(r.cleanups, 1);
    assert_false(r.completed);
    assert_int_equal(r.bytes, 0);
    free(body);
}

static bool send_chunked(int s, size_t total, size_t chunk)
{
    static uint8_t buf[8192];
    char line[32];
    memset(buf, 'z', sizeof(buf));
    for (size_t sent = 0; sent < total; sent += chunk) {
        size_t c = total - sent < chunk ? total - sent : chunk;
        snprintf(line, sizeof(line), "%zx\r\n", c);
        if (!raw_send(s, line, strlen(line)) || !raw_send(s, buf, c) || !raw_send(s, "\r\n", 2))
            return false;
    }
    return raw_send(s, "0\r\n\r\n", 5);
}

static void test_http_chunked_body_over_limit_is_413_at_its_end(void **state)
{
    (void)state;
    char resp[4096];
    int s = raw_connect(fx->plain_port);
    static const char head[] = "POST /small HTTP/1.1\r\nHost: x\r\nX-Test-Id: chunked-413\r\n"
                               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    assert_true(raw_send(s, head, strlen(head)));
    assert_true(send_chunked(s, 64u * 1024u, 4096));
    raw_read_all(s, resp, sizeof(resp));
    close(s);
    assert_int_equal(status_of(resp), 413);
    assert_non_null(strstr(resp, "SECUP_E_LIMIT_BODY"));
    struct record r = wait_record("chunked-413");
    assert_int_equal(r.cleanups, 1);
    assert_false(r.completed);
    assert_true(r.bytes <= SMALL_LIMIT);
}

static void test_http_chunked_body_far_over_limit_is_closed(void **state)
{
    (void)state;
    char resp[4096];
    int s = raw_connect(fx->plain_port);
    static const char head[] = "POST /small HTTP/1.1\r\nHost: x\r\nX-Test-Id: chunked-close\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    assert_true(raw_send(s, head, strlen(head)));
    /* more than HTTPD_DRAIN_MAX: the server stops reading and closes */
    bool all_sent = send_chunked(s, 8u * HTTPD_DRAIN_MAX, 8192);
    raw_read_all(s, resp, sizeof(resp));
    close(s);
    printf("# all sent: %d, answer: %u\n", all_sent, status_of(resp));
    assert_true(status_of(resp) != 200 && status_of(resp) != 201);
    struct record r = wait_record("chunked-close");
    assert_int_equal(r.cleanups, 1);
    assert_false(r.completed);
    assert_true(r.bytes <= SMALL_LIMIT);
}

static void test_http_client_gone_mid_upload_cleans_up_once(void **state)
{
    (void)state;
    /* gone right after the head, after a little of the body, after much of it */
    static const size_t sent[] = { 0, 1000, 100 * 1024 };
    static uint8_t part[100 * 1024];
    for (size_t i = 0; i < ARRAY_SIZE(sent); i++) {
        char head[256], id[32];
        snprintf(id, sizeof(id), "gone-%zu", sent[i]);
        snprintf(head, sizeof(head),
                 "POST /upload HTTP/1.1\r\nHost: x\r\nX-Test-Id: %s\r\n"
                 "Content-Length: 1048576\r\n\r\n", id);
        int s = raw_connect(fx->plain_port);
        assert_true(raw_send(s, head, strlen(head)));
        assert_true(raw_send(s, part, sent[i]));
        close(s);
        struct record r = wait_record(id);
        printf("# %s\n", id);
        assert_int_equal(r.cleanups, 1);
        assert_false(r.completed);
        assert_true(r.bytes <= sent[i]);
    }
}

static void test_http_untrusted_server_certificate_fails(void **state)
{
    (void)state;
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/json");
    struct httpc_config cfg = { .ca_file = fx->other_ca };
    struct httpc_request req = { .url = url };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_E_NET);
    printf("# %s\n", err.msg);
    assert_non_null(strstr(err.msg, url));
    assert_int_equal(resp.status, 0);

    /* --insecure, when asked for */
    struct httpc_config insecure = { .insecure = true };
    assert_int_equal(httpc_perform(&insecure, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    httpc_response_free(&resp);
}

static void test_http_mutual_tls_gives_client_fingerprint(void **state)
{
    (void)state;
    char url[256];
    url_of(url, sizeof(url), true, fx->tls_port, "/cert");
    struct httpc_config cfg = { .ca_file = fx->ca, .client_cert = fx->client_cert,
                                .client_key = fx->client_key };
    struct httpc_request req = { .url = url };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(&cfg, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    json_t *o = body_json(&resp);
    assert_string_equal(json_string_value(json_object_get(o, "cert")), fx->client_sha256);
    json_decref(o);
    httpc_response_free(&resp);

    /* no client certificate: no fingerprint */
    assert_int_equal(get_tls("/cert", NULL, &resp, &err), SECUP_OK);
    o = body_json(&resp);
    assert_true(json_is_null(json_object_get(o, "cert")));
    json_decref(o);
    httpc_response_free(&resp);

}

static bool wait_closed(int s, time_t *closed_after)
{
    time_t start = time(NULL);
    for (int i = 0; i < 60; i++) { /* a byte a second, 60 s at most */
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, 1000) > 0) {
            char c;
            ssize_t r = recv(s, &c, 1, MSG_DONTWAIT);
            if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
                *closed_after = time(NULL) - start;
                return true;
            }
        }
        if (!raw_send(s, "a", 1)) {
            *closed_after = time(NULL) - start;
            return true;
        }
    }
    return false;
}

static void test_http_slow_headers_are_closed_while_others_are_served(void **state)
{
    (void)state;
    int s = raw_connect(fx->slow_port);
    assert_true(raw_send(s, "GET /json HTTP/1.1\r\nX-Slow: ", 28));

    /* a normal client is served meanwhile */
    char url[256];
    url_of(url, sizeof(url), false, fx->slow_port, "/json?name=fast");
    struct httpc_request req = { .url = url };
    struct httpc_response resp;
    struct secup_err err;
    assert_int_equal(httpc_perform(NULL, &req, &resp, &err), SECUP_OK);
    assert_int_equal(resp.status, 200);
    httpc_response_free(&resp);

    time_t after = 0;
    assert_true(wait_closed(s, &after));
    printf("# slow headers closed after about %lld s\n", (long long)after);
    close(s);
}

static void test_http_slow_body_is_closed(void **state)
{
    (void)state;
    int s = raw_connect(fx->slow_port);
    static const char head[] = "POST /upload HTTP/1.1\r\nHost: x\r\nX-Test-Id: slow-body\r\n"
                               "Content-Length: 100000\r\n\r\n";
    assert_true(raw_send(s, head, strlen(head)));
    time_t after = 0;
    assert_true(wait_closed(s, &after));
    printf("# slow body closed after about %lld s\n", (long long)after);
    close(s);
    struct record r = wait_record("slow-body");
    assert_int_equal(r.cleanups, 1);
    assert_false(r.completed);
}

/* Slow read (THREATS.md S2): a client with a small receive window that takes the 1 MiB
 * answer a byte a second is closed by the server (min_read_rate, 64 B/s by default). */
static void test_http_slow_reader_is_closed(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    int small = 1024;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fx->slow_port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    static const char head[] = "GET /file HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(raw_send(s, head, strlen(head)));
    time_t start = time(NULL);
    bool closed = false;
    for (int i = 0; i < 60 && !closed; i++) { /* a byte a second, 60 s at most */
        struct timespec ts = { 1, 0 };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        char c;
        (void)recv(s, &c, 1, MSG_DONTWAIT);
        /* a reset is read only after what is buffered: ask the socket's state instead */
        struct tcp_info ti;
        socklen_t len = sizeof(ti);
        closed = getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
                 ti.tcpi_state != 1; /* TCP_ESTABLISHED */
    }
    assert_true(closed);
    printf("# slow reader closed after about %lld s\n", (long long)(time(NULL) - start));
    close(s);
}

#define CLIENT_THREADS 8
#define REQUESTS_PER_THREAD 16

static void *client_thread(void *arg)
{
    intptr_t id = (intptr_t)arg;
    intptr_t ok = 0;
    for (int i = 0; i < REQUESTS_PER_THREAD; i++) {
        char path[64], want[32];
        snprintf(want, sizeof(want), "t%ld-%d", (long)id, i);
        snprintf(path, sizeof(path), "/json?name=%s", want);
        struct httpc_response resp;
        struct secup_err err;
        if (get_tls(path, NULL, &resp, &err) != SECUP_OK)
            continue;
        json_t *o = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
        const char *got = json_string_value(json_object_get(o, "hello"));
        if (resp.status == 200 && got && strcmp(got, want) == 0)
            ok++;
        json_decref(o);
        httpc_response_free(&resp);
    }
    return (void *)ok;
}

static void test_http_concurrent_requests_are_all_served(void **state)
{
    (void)state;
    pthread_t t[CLIENT_THREADS];
    for (intptr_t i = 0; i < CLIENT_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, client_thread, (void *)i), 0);
    intptr_t total = 0;
    for (int i = 0; i < CLIENT_THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (intptr_t)r;
    }
    assert_int_equal(total, CLIENT_THREADS * REQUESTS_PER_THREAD);
}

static void test_http_per_address_limit_refuses_the_extra_connection(void **state)
{
    (void)state;
    struct httpd *d = NULL;
    struct secup_err err;
    struct httpd_config cfg = { .listen = "127.0.0.1:0", .threads = 2, .per_ip_limit = 1 };
    assert_int_equal(httpd_start(&cfg, app_handler, fx, &d, &err), SECUP_OK);
    char url[256];
    url_of(url, sizeof(url), false, httpd_port(d), "/json");
    struct httpc_request req = { .url = url };
    struct httpc_response resp;

    int s = raw_connect(httpd_port(d)); /* holds the one connection 127.0.0.1 may have */
    assert_true(raw_send(s, "GET /json HTTP/1.1\r\n", 20));
    assert_int_equal(httpc_perform(NULL, &req, &resp, &err), SECUP_E_NET);
    close(s);

    /* once it is gone, the address is served again (the server notices within a moment) */
    secup_rc rc = SECUP_E_NET;
    for (int i = 0; i < 100 && rc != SECUP_OK; i++) {
        rc = httpc_perform(NULL, &req, &resp, &err);
        if (rc != SECUP_OK)
            nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
    }
    assert_int_equal(rc, SECUP_OK);
    assert_int_equal(resp.status, 200);
    httpc_response_free(&resp);
    httpd_stop(d);
}

static void test_http_start_refuses_bad_configuration(void **state)
{
    (void)state;
    struct httpd *d = NULL;
    struct secup_err err;
    static const char *const bad_listen[] = { "127.0.0.1", "localhost:80", "1.2.3.4:99999",
                                              "[::1:80", "127.0.0.1:8x" };
    for (size_t i = 0; i < ARRAY_SIZE(bad_listen); i++) {
        struct httpd_config cfg = { .listen = bad_listen[i] };
        assert_int_equal(httpd_start(&cfg, app_handler, fx, &d, &err), SECUP_E_ARG);
        assert_null(d);
    }
    char port_in_use[64];
    snprintf(port_in_use, sizeof(port_in_use), "127.0.0.1:%u", (unsigned)fx->plain_port);
    struct httpd_config busy = { .listen = port_in_use };
    assert_int_equal(httpd_start(&busy, app_handler, fx, &d, &err), SECUP_E_NET);
    assert_non_null(strstr(err.msg, port_in_use));

    struct httpd_config missing = { .listen = "127.0.0.1:0", .cert_file = "/nonexistent.pem",
                                    .key_file = fx->key };
    assert_int_equal(httpd_start(&missing, app_handler, fx, &d, &err), SECUP_E_KEY_FORMAT);
    assert_non_null(strstr(err.msg, "/nonexistent.pem"));
    /* a certificate with another certificate's key */
    struct httpd_config mismatch = { .listen = "127.0.0.1:0", .cert_file = fx->cert,
                                     .key_file = fx->client_key };
    assert_int_equal(httpd_start(&mismatch, app_handler, fx, &d, &err), SECUP_E_KEY_FORMAT);
    /* not PEM at all */
    struct httpd_config garbage = { .listen = "127.0.0.1:0", .cert_file = fx->cert,
                                    .key_file = fx->file };
    assert_int_equal(httpd_start(&garbage, app_handler, fx, &d, &err), SECUP_E_KEY_FORMAT);
    assert_null(d);

    /* IPv6 loopback works where the host has it */
    struct httpd_config v6 = { .listen = "[::1]:0", .threads = 1 };
    if (httpd_start(&v6, app_handler, fx, &d, &err) == SECUP_OK) {
        assert_true(httpd_port(d) != 0);
        httpd_stop(d);
    } else {
        printf("# no IPv6 loopback: %s\n", err.msg);
    }
}

#ifdef SECUP_AUTHOR_BIN
extern char **environ;

/* Runs secup-author with args; its exit status, stdout and stderr (NUL-terminated). */
static int run_author(const char *const *args, char *out, size_t out_cap, char *errs,
                      size_t err_cap)
{
    char out_path[160], err_path[160];
    snprintf(out_path, sizeof(out_path), "%s/stdout", fx->dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", fx->dir);
    char *argv[16];
    size_t n = 0;
    argv[n++] = (char *)(uintptr_t)SECUP_AUTHOR_BIN;
    for (; args[n - 1] && n < ARRAY_SIZE(argv) - 1; n++)
        argv[n] = (char *)(uintptr_t)args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, SECUP_AUTHOR_BIN, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    const char *paths[2] = { out_path, err_path };
    char *bufs[2] = { out, errs };
    size_t caps[2] = { out_cap, err_cap };
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "rb");
        assert_non_null(f);
        size_t got = fread(bufs[i], 1, caps[i] - 1, f);
        bufs[i][got] = '\0';
        fclose(f);
        unlink(paths[i]);
    }
    printf("# secup-author upload: exit %d, stdout '%s', stderr '%s'\n", WEXITSTATUS(status), out,
           errs);
    return WEXITSTATUS(status);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_http_author_upload_prints_the_image_id(void **state)
{
    (void)state;
    char server[128], env[160], bad[160], token_file[160], out[4096], errs[4096];
    snprintf(server, sizeof(server), "https://127.0.0.1:%u/", (unsigned)fx->tls_port);
    snprintf(env, sizeof(env), "%s/fw.suit", fx->dir);
    snprintf(bad, sizeof(bad), "%s/bad.suit", fx->dir);
    snprintf(token_file, sizeof(token_file), "%s/token", fx->dir);
    write_file(env, "\xd8\x6b\xa1\x02\x40", 5);
    write_file(bad, "bad", 3);
    write_file(token_file, "t0ken\n", 6);
    char want_id[80], h[65];
    sha256_hex("\xd8\x6b\xa1\x02\x40", 5, h);
    snprintf(want_id, sizeof(want_id), "img-%.8s", h);

    /* envelope and payload (the 1 MiB file), token on the command line */
    const char *a1[] = { "upload", "--server", server, "--token", "t0ken", "--cacert", fx->ca,
                         env, "--payload", fx->file, NULL };
    assert_int_equal(run_author(a1, out, sizeof(out), errs, sizeof(errs)), 0);
    assert_true(strncmp(out, want_id, strlen(want_id)) == 0);
    assert_string_equal(errs, ""); /* stderr is no terminal: no progress bar */

    /* --json, token from a file */
    const char *a2[] = { "upload", "--server", server, "--token-file", token_file, "--cacert",
                         fx->ca, "--json", env, NULL };
    assert_int_equal(run_author(a2, out, sizeof(out), errs, sizeof(errs)), 0);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), want_id);
    assert_int_equal(json_integer_value(json_object_get(o, "parts")), 1);
    json_decref(o);

    /* refusals: the server's reason and code, the exit status of the code */
    const char *a3[] = { "upload", "--server", server, "--token", "wrong", "--cacert", fx->ca,
                         env, NULL };
    assert_int_equal(run_author(a3, out, sizeof(out), errs, sizeof(errs)), 1);
    assert_non_null(strstr(errs, "secup-author: upload: "));
    assert_non_null(strstr(errs, "answered 401: no valid Author token [SECUP_E_AUTH]"));
    const char *a4[] = { "upload", "--server", server, "--token", "t0ken", "--cacert", fx->ca,
                         bad, NULL };
    assert_int_equal(run_author(a4, out, sizeof(out), errs, sizeof(errs)), 1);
    assert_non_null(strstr(errs, "envelope signature does not verify [SECUP_E_SIG]"));
    /* an untrusted server certificate, a missing file, bad usage */
    const char *a5[] = { "upload", "--server", server, "--token", "t0ken", "--cacert",
                         fx->other_ca, env, NULL };
    assert_int_equal(run_author(a5, out, sizeof(out), errs, sizeof(errs)), 4);
    assert_non_null(strstr(errs, "[SECUP_E_NET]"));
    const char *a6[] = { "upload", "--server", server, "--token", "t0ken", "--cacert", fx->ca,
                         env, "--payload", "/nonexistent/fw.enc", NULL };
    assert_int_equal(run_author(a6, out, sizeof(out), errs, sizeof(errs)), 4);
    assert_non_null(strstr(errs, "/nonexistent/fw.enc"));
    const char *a7[] = { "upload", "--token", "t0ken", env, NULL };
    assert_int_equal(run_author(a7, out, sizeof(out), errs, sizeof(errs)), 2);
    unlink(env);
    unlink(bad);
    unlink(token_file);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_parse_range_table),
        cmocka_unit_test(test_http_etag_matches_table),
        cmocka_unit_test(test_http_status_for_rc_table),
        cmocka_unit_test(test_http_get_json_over_tls_decodes_path_and_query),
        cmocka_unit_test(test_http_parked_requests_hold_no_thread_and_are_answered_when_woken),
        cmocka_unit_test(test_http_error_answers_map_to_result_codes),
        cmocka_unit_test(test_http_bad_request_targets_get_400),
        cmocka_unit_test(test_http_if_none_match_gives_304_with_etag),
        cmocka_unit_test(test_http_range_gives_206_and_416),
        cmocka_unit_test(test_http_fd_response_of_1mib_arrives_whole),
        cmocka_unit_test(test_http_response_over_max_response_is_limit_body),
        cmocka_unit_test(test_http_plain_upload_arrives_whole),
        cmocka_unit_test(test_http_request_parked_after_its_body_is_answered_when_woken),
        cmocka_unit_test(test_http_multipart_binary_parts_arrive_whole),
        cmocka_unit_test(test_http_multipart_part_error_is_answered),
        cmocka_unit_test(test_http_multipart_without_boundary_is_400),
        cmocka_unit_test(test_http_declared_length_over_limit_is_413_before_the_body),
        cmocka_unit_test(test_http_chunked_body_over_limit_is_413_at_its_end),
        cmocka_unit_test(test_http_chunked_body_far_over_limit_is_closed),
        cmocka_unit_test(test_http_client_gone_mid_upload_cleans_up_once),
        cmocka_unit_test(test_http_untrusted_server_certificate_fails),
        cmocka_unit_test(test_http_mutual_tls_gives_client_fingerprint),
        cmocka_unit_test(test_http_slow_headers_are_closed_while_others_are_served),
        cmocka_unit_test(test_http_slow_body_is_closed),
        cmocka_unit_test(test_http_slow_reader_is_closed),
        cmocka_unit_test(test_http_concurrent_requests_are_all_served),
        cmocka_unit_test(test_http_per_address_limit_refuses_the_extra_connection),
        cmocka_unit_test(test_http_start_refuses_bad_configuration),
#ifdef SECUP_AUTHOR_BIN
        cmocka_unit_test(test_http_author_upload_prints_the_image_id),
#endif
    };
    const char *filter = getenv("SECUP_TEST_FILTER"); /* e.g. "*slow*" */
    if (filter)
        cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, setup, teardown);
}
