/* bench_verify: SUIT envelopes verified per second (secup_envelope_decode() +
 * secup_envelope_verify()) for ESP256 and Ed25519 signed manifests, printed beside the raw
 * OpenSSL verification rate of the very same signature over the very same COSE
 * Sig_structure, measured in the same run. Goal: at least 0.90 of the raw rate, i.e.
 * decoding and the COSE framing cost less than a tenth of the signature check.
 *
 * The machine this runs on is shared, so secup and the raw loop are timed in alternating
 * slices of 25 ms (a disturbance then hits both alike), in several rounds whose median is
 * reported. Every rate uses CLOCK_MONOTONIC wall time. A missed goal
 * is reported, never turned into a failing exit status; only a broken setup (a signature
 * that does not verify) exits nonzero.
 *
 * OpenSSL is included here although STYLE.md keeps it inside lib/crypto: the baseline must
 * be OpenSSL itself, without secup in between, and bench/ is not part of libsecup.
 *
 * Usage: bench_verify [--seconds S] [--rounds N]
 *   S: seconds per main rate (default 2.0): secup and raw each run S seconds per round;
 *      the auxiliary rates (verify only, decode only, memset) run S/4 each.
 *   N: rounds per measurement, the median is reported (default 3, odd values advised).
 */
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "secup/cose.h"
#include "secup/keys.h"
#include "secup/manifest.h"
#include "secup/policy.h"

#define GOAL_RATIO 0.90
#define MAX_ROUNDS 15
#define TBS_CAP 256
#define BATCH 8       /* iterations between clock reads */
#define SLICE_S 0.025 /* seconds per slice of an interleaved measurement */
#define GROUP_MAX 4   /* operations in one interleaved group */

/* COSE algorithm identifiers (RFC 9053, draft-ietf-jose-fully-specified-algorithms). */
#define COSE_ALG_ESP256 (-9)
#define COSE_ALG_ED25519 (-19)

struct subject {
    const char *name;
    enum secup_key_type type;
    int64_t cose_alg;
    uint8_t *envelope;           /* from secup_envelope_seal(), secup_buffer_free() */
    size_t envelope_len;
    struct secup_trust *trust;   /* the public key only, loaded back from PEM */
    EVP_PKEY *pkey;              /* the same public key, for the raw loop */
    const EVP_MD *md;            /* SHA-256 for ECDSA, NULL for EdDSA */
    uint8_t tbs[TBS_CAP];        /* the COSE Sig_structure the signature covers */
    size_t tbs_len;
    uint8_t sig[80];             /* the signature as OpenSSL wants it (DER for ECDSA) */
    size_t sig_len;
    struct secup_envelope *env;  /* decode target, reused by every iteration */
    struct secup_envelope *pre;  /* decoded once, for the verify-only rate */
    /* ops/s per round; the main group is {full, raw}, the auxiliary one
     * {verify, raw_aux, decode, memset_env}, each group timed in interleaved slices */
    double full[MAX_ROUNDS];
    double raw[MAX_ROUNDS];
    double full_cpu[MAX_ROUNDS]; /* the same two, per second of CPU time */
    double raw_cpu[MAX_ROUNDS];
    double verify[MAX_ROUNDS];
    double raw_aux[MAX_ROUNDS];
    double decode[MAX_ROUNDS];
    double memset_env[MAX_ROUNDS];
};

/* Volatile so that the compiler cannot drop the memset of a buffer nobody reads. */
static void *(*volatile memset_fn)(void *, int, size_t) = memset;

static void die(const char *what, const struct secup_err *err)
{
    if (err)
        fprintf(stderr, "bench_verify: %s: %s [%s]\n", what, err->msg, secup_rc_name(err->rc));
    else
        fprintf(stderr, "bench_verify: %s\n", what);
    exit(EXIT_FAILURE);
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

/* ---- the operations being timed; each returns false on an unexpected result ---- */

typedef bool (*op_fn)(struct subject *s);

static bool op_full(struct subject *s)
{
    struct secup_bytes in = secup_bytes_of(s->envelope, s->envelope_len);
    if (secup_envelope_decode(s->env, in, NULL, NULL) != SECUP_OK)
        return false;
    return secup_envelope_verify(s->env, s->trust, NULL, NULL) == SECUP_OK;
}

static bool op_decode(struct subject *s)
{
    struct secup_bytes in = secup_bytes_of(s->envelope, s->envelope_len);
    return secup_envelope_decode(s->env, in, NULL, NULL) == SECUP_OK;
}

static bool op_verify(struct subject *s)
{
    return secup_envelope_verify(s->pre, s->trust, NULL, NULL) == SECUP_OK;
}

/* What an application calling OpenSSL directly does for one signature: a fresh context,
 * init with the key, one-shot verify (ECDSA: hashing included; EdDSA: PureEdDSA). */
static bool op_raw(struct subject *s)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return false;
    bool ok = EVP_DigestVerifyInit(ctx, NULL, s->md, NULL, s->pkey) == 1 &&
              EVP_DigestVerify(ctx, s->sig, s->sig_len, s->tbs, s->tbs_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool op_memset(struct subject *s)
{
    memset_fn(s->env, 0, sizeof(*s->env));
    return true;
}

/* Runs op for about `slice` seconds; adds the operations done, the wall time taken and the
 * CPU time this thread got meanwhile (read at the slice ends only: the CPU clock is a
 * system call, too slow to read per batch of the fast operations). */
static void run_slice(op_fn op, struct subject *s, double slice, unsigned long long *n,
                      double *elapsed, double *cpu)
{
    double cpu_start = clock_s(CLOCK_THREAD_CPUTIME_ID);
    double start = now_s();
    double end = start + slice;
    double t = start;
    while (t < end) {
        for (int i = 0; i < BATCH; i++) {
            if (!op(s))
                die("an operation failed while timing", NULL);
        }
        *n += BATCH;
        t = now_s();
    }
    *elapsed += t - start;
    *cpu += clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
}

/* Operations per second of each of n ops, measured in alternating slices of SLICE_S until
 * each has run for about `seconds`. Neighbours on a shared machine come and go over
 * seconds; slicing finely makes a disturbance hit every op in the group alike, which is
 * what a ratio between them needs. `first` rotates the order between rounds. rates get
 * ops per wall-clock second, cpu_rates ops per second of CPU time of this thread. */
static void measure_group(const op_fn *ops, size_t n, struct subject *s, double seconds,
                          size_t first, double *rates, double *cpu_rates)
{
    unsigned long long count[GROUP_MAX] = { 0 };
    double elapsed[GROUP_MAX] = { 0 };
    double cpu[GROUP_MAX] = { 0 };
    for (size_t k = 0; k < n; k++) {
        if (!ops[k](s)) /* warm-up, and a check that the setup is sound */
            die("an operation failed before timing started", NULL);
    }
    size_t slices = (size_t)(seconds / SLICE_S + 0.5);
    if (slices == 0)
        slices = 1;
    double slice = seconds / (double)slices;
    for (size_t i = 0; i < slices; i++) {
        for (size_t k = 0; k < n; k++) {
            size_t j = (first + k + i) % n;
            run_slice(ops[j], s, slice, &count[j], &elapsed[j], &cpu[j]);
        }
    }
    for (size_t k = 0; k < n; k++) {
        rates[k] = (double)count[k] / elapsed[k];
        cpu_rates[k] = (double)count[k] / cpu[k];
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, unsigned n)
{
    double tmp[MAX_ROUNDS];
    memcpy(tmp, v, n * sizeof(*v));
    qsort(tmp, n, sizeof(*tmp), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
}

/* ---- setup ---- */

static void check(secup_rc rc, const char *what, const struct secup_err *err)
{
    if (rc != SECUP_OK)
        die(what, err);
}

static struct secup_param param_bstr(int64_t key, const void *ptr, size_t len)
{
    struct secup_param p;
    memset(&p, 0, sizeof(p));
    p.key = key;
    p.value.kind = SECUP_VAL_BSTR;
    p.value.bytes = secup_bytes_of(ptr, len);
    return p;
}

/* Shared sequence: override-parameters {vendor-id, class-id, image-digest, image-size},
 * then the vendor and class conditions. Views point into static storage. */
static void build_shared(struct secup_manifest *m, struct secup_err *err)
{
    static uint8_t vendor[16];
    static uint8_t class_id[16];
    static uint8_t digest_bytes[32];
    static uint8_t digest_enc[48];
    size_t digest_enc_len = 0;
    uint32_t seq = 0;

    check(secup_vendor_id("example.com", vendor, err), "vendor id", err);
    check(secup_class_id(vendor, "bench-board", class_id, err), "class id", err);
    for (size_t i = 0; i < sizeof(digest_bytes); i++) /* a stand-in image digest */
        digest_bytes[i] = (uint8_t)(0xa5u ^ (i * 7u));
    struct secup_digest dg = { -16, secup_bytes_of(digest_bytes, sizeof(digest_bytes)) };
    check(secup_digest_encode(&dg, digest_enc, sizeof(digest_enc), &digest_enc_len, err),
          "digest encode", err);

    struct secup_param p[4] = {
        param_bstr(SECUP_SUIT_PARAM_VENDOR_ID, vendor, sizeof(vendor)),
        param_bstr(SECUP_SUIT_PARAM_CLASS_ID, class_id, sizeof(class_id)),
        param_bstr(SECUP_SUIT_PARAM_IMAGE_DIGEST, digest_enc, digest_enc_len),
        param_bstr(SECUP_SUIT_PARAM_IMAGE_SIZE, NULL, 0),
    };
    p[3].value.kind = SECUP_VAL_UINT;
    p[3].value.u = 262144;

    check(secup_manifest_begin_seq(m, &seq, err), "shared sequence", err);
    check(secup_manifest_append_params(m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, p, 4, err),
          "shared parameters", err);
    check(secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_VENDOR_ID, 15, err), "vendor",
          err);
    check(secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_CLASS_ID, 15, err), "class", err);
    m->has_shared = true;
    m->shared_seq = seq;
}

/* The builders fill the pools; the encoder learns which sections exist from members[]. */
static void set_section(struct secup_manifest *m, enum secup_section section, uint32_t seq)
{
    m->members[section].state = SECUP_MEMBER_PRESENT;
    m->members[section].available = true;
    m->members[section].seq = seq;
}

/* A realistic single-component manifest: the shared sequence checks vendor and class,
 * validate matches the image, install fetches it from a URI and matches it again. */
static void build_manifest(struct secup_manifest *m)
{
    static const char component[] = "app";
    static const char uri[] = "https://updates.example.com/bench-board/app-2.4.1.bin";
    struct secup_err err;
    uint32_t seq = 0;

    secup_err_clear(&err);
    secup_manifest_init(m);
    m->sequence_number = 20240601;
    struct secup_component_id id = { 1, { secup_bytes_of(component, sizeof(component) - 1) } };
    check(secup_manifest_add_component(m, &id, &err), "add component", &err);

    build_shared(m, &err);

    check(secup_manifest_begin_seq(m, &seq, &err), "validate sequence", &err);
    check(secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_IMAGE_MATCH, 15, &err),
          "image-match", &err);
    set_section(m, SECUP_SECTION_VALIDATE, seq);

    struct secup_param p = param_bstr(SECUP_SUIT_PARAM_URI, uri, sizeof(uri) - 1);
    p.value.kind = SECUP_VAL_TSTR;
    check(secup_manifest_begin_seq(m, &seq, &err), "install sequence", &err);
    check(secup_manifest_append_params(m, seq, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, &p, 1, &err),
          "install parameters", &err);
    check(secup_manifest_append_policy(m, seq, SECUP_SUIT_DIR_FETCH, 2, &err), "fetch", &err);
    check(secup_manifest_append_policy(m, seq, SECUP_SUIT_COND_IMAGE_MATCH, 15, &err),
          "image-match", &err);
    set_section(m, SECUP_SECTION_INSTALL, seq);
}

/* Loads the public key into a trust store (through secup, as a device would) and into an
 * EVP_PKEY (for the raw loop), both from the same SPKI PEM file. */
static void load_public(struct subject *s, const struct secup_key *pair)
{
    char dir[] = "/tmp/bench_verify.XXXXXX";
    char path[sizeof(dir) + 16];
    struct secup_err err;
    struct secup_key *pub = NULL;

    secup_err_clear(&err);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_verify: mkdtemp: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    snprintf(path, sizeof(path), "%s/pub.pem", dir);
    check(secup_key_save_public(pair, path, &err), "saving the public key", &err);
    check(secup_key_load_pem(&pub, path, &err), "loading the public key", &err);
    check(secup_trust_new(&s->trust, &err), "trust store", &err);
    check(secup_trust_add(s->trust, pub, s->name, &err), "trust anchor", &err);
    FILE *f = fopen(path, "r");
    if (f) {
        s->pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        fclose(f);
    }
    unlink(path);
    rmdir(dir);
    if (!s->pkey)
        die("OpenSSL could not read the public key back", NULL);
}

static size_t put_bstr_head(uint8_t *p, size_t len)
{
    if (len < 24) {
        p[0] = (uint8_t)(0x40u | len);
        return 1;
    }
    p[0] = 0x58;
    p[1] = (uint8_t)len;
    return 2;
}

/* Sig_structure = ["Signature1", protected, external_aad h'', payload] (RFC 9052 4.4),
 * rebuilt here from the decoded envelope so that the raw loop checks the same bytes. */
static void build_tbs(struct subject *s)
{
    const struct secup_auth_block *a = &s->pre->auth[0];
    struct secup_bytes pay = s->pre->digest_bstr;
    static const char label[] = "Signature1";
    if (a->protected_hdr.len > 100 || pay.len > 100)
        die("unexpected COSE header or payload size", NULL);
    uint8_t *p = s->tbs;
    *p++ = 0x84;
    *p++ = (uint8_t)(0x60u | (sizeof(label) - 1));
    memcpy(p, label, sizeof(label) - 1);
    p += sizeof(label) - 1;
    p += put_bstr_head(p, a->protected_hdr.len);
    memcpy(p, a->protected_hdr.ptr, a->protected_hdr.len);
    p += a->protected_hdr.len;
    *p++ = 0x40;
    p += put_bstr_head(p, pay.len);
    memcpy(p, pay.ptr, pay.len);
    p += pay.len;
    s->tbs_len = (size_t)(p - s->tbs);
}

/* COSE carries ECDSA as r||s (RFC 9053 2.1); OpenSSL's one-shot verify wants DER. The
 * conversion is done once here: it is part of secup's cost, not of the raw baseline. */
static void set_raw_sig(struct subject *s)
{
    struct secup_bytes tag = s->pre->auth[0].tag;
    if (s->type == SECUP_KEY_ED25519) {
        if (tag.len > sizeof(s->sig))
            die("unexpected signature size", NULL);
        memcpy(s->sig, tag.ptr, tag.len);
        s->sig_len = tag.len;
        return;
    }
    if (tag.len != 64)
        die("unexpected ECDSA signature size", NULL);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(tag.ptr, 32, NULL);
    BIGNUM *sv = BN_bin2bn(tag.ptr + 32, 32, NULL);
    if (!es || !r || !sv || ECDSA_SIG_set0(es, r, sv) != 1)
        die("ECDSA signature conversion", NULL);
    unsigned char *der = s->sig;
    int n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || (size_t)n > sizeof(s->sig) || i2d_ECDSA_SIG(es, &der) != n)
        die("ECDSA signature encoding", NULL);
    s->sig_len = (size_t)n;
    ECDSA_SIG_free(es);
}

static void setup(struct subject *s, const struct secup_manifest *m)
{
    struct secup_err err;
    struct secup_key *pair = NULL;

    secup_err_clear(&err);
    check(secup_key_generate(&pair, s->type, &err), "key generation", &err);
    const struct secup_key *keys[1] = { pair };
    check(secup_envelope_seal(m, keys, 1, NULL, &s->envelope, &s->envelope_len, &err), "seal",
          &err);
    load_public(s, pair);
    secup_key_free(pair);

    s->env = calloc(1, sizeof(*s->env));
    s->pre = calloc(1, sizeof(*s->pre));
    if (!s->env || !s->pre)
        die("out of memory", NULL);
    check(secup_envelope_decode(s->pre, secup_bytes_of(s->envelope, s->envelope_len), NULL,
                                &err), "decode", &err);
    struct secup_verify_info info;
    check(secup_envelope_verify(s->pre, s->trust, &info, &err), "verify", &err);
    if (s->pre->n_auth != 1 || s->pre->auth[0].alg != s->cose_alg || info.alg != s->cose_alg)
        die("the envelope does not carry the expected single signature", NULL);

    /* The manifest must pass a device's checks, or it would not be a realistic input. */
    struct secup_device_policy dev;
    memset(&dev, 0, sizeof(dev));
    check(secup_vendor_id("example.com", dev.vendor_id, &err), "vendor id", &err);
    check(secup_class_id(dev.vendor_id, "bench-board", dev.class_id, &err), "class id", &err);
    check(secup_policy_check(s->pre, s->trust, &dev, NULL, &err), "policy check", &err);

    s->md = s->type == SECUP_KEY_P256 ? EVP_sha256() : NULL;
    build_tbs(s);
    set_raw_sig(s);
    if (!op_raw(s))
        die("OpenSSL does not verify the rebuilt Sig_structure: the baseline would be wrong",
            NULL);
}

static void teardown(struct subject *s)
{
    secup_buffer_free(s->envelope);
    secup_trust_free(s->trust);
    EVP_PKEY_free(s->pkey);
    free(s->env);
    free(s->pre);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_verify [--seconds S] [--rounds N]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, double *seconds, unsigned *rounds)
{
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            *seconds = strtod(argv[++i], &end);
            if (*end != '\0' || !(*seconds >= 0.01 && *seconds <= 600.0))
                usage();
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > MAX_ROUNDS)
                usage();
            *rounds = (unsigned)v;
        } else {
            usage();
        }
    }
}

static void run_rounds(struct subject *subjects, size_t n, double seconds, double aux,
                       unsigned rounds)
{
    static const op_fn main_ops[] = { op_full, op_raw };
    static const op_fn aux_ops[] = { op_verify, op_raw, op_decode, op_memset };
    for (unsigned r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            struct subject *s = &subjects[i];
            double v[GROUP_MAX];
            double c[GROUP_MAX];
            measure_group(main_ops, 2, s, seconds, r, v, c);
            s->full[r] = v[0];
            s->raw[r] = v[1];
            s->full_cpu[r] = c[0];
            s->raw_cpu[r] = c[1];
            measure_group(aux_ops, 4, s, aux, r, v, c);
            s->verify[r] = v[0];
            s->raw_aux[r] = v[1];
            s->decode[r] = v[2];
            s->memset_env[r] = v[3];
        }
    }
}

/* Median over the rounds of a[r] / b[r]: each round's pair was timed interleaved, so the
 * per-round ratio is steadier than the ratio of two medians. */
static double median_ratio(const double *a, const double *b, unsigned rounds)
{
    double q[MAX_ROUNDS];
    for (unsigned r = 0; r < rounds; r++)
        q[r] = a[r] / b[r];
    return median(q, rounds);
}

static void print_table(const struct subject *subjects, size_t n, unsigned rounds)
{
    printf("\n%-8s | %18s | %13s | %6s | %11s\n", "alg", "secup envelopes/s", "raw verify/s",
           "ratio", "(cpu ratio)");
    printf("---------+--------------------+---------------+--------+------------\n");
    for (size_t i = 0; i < n; i++) {
        const struct subject *s = &subjects[i];
        printf("%-8s | %18.0f | %13.0f | %6.3f | %11.3f\n", s->name, median(s->full, rounds),
               median(s->raw, rounds), median_ratio(s->full, s->raw, rounds),
               median_ratio(s->full_cpu, s->raw_cpu, rounds));
    }
    printf("(wall-clock rates: medians over rounds; ratio: median of the per-round ratios;\n"
           " cpu ratio: the same on this thread's CPU time, for comparison on a busy machine)\n\n");
    for (size_t i = 0; i < n; i++) {
        const struct subject *s = &subjects[i];
        double ratio = median_ratio(s->full, s->raw, rounds);
        printf("%-8s goal >= %.2f: %s (%.3f)\n", s->name, GOAL_RATIO,
               ratio >= GOAL_RATIO ? "met" : "not met", ratio);
    }
}

static void print_breakdown(const struct subject *subjects, size_t n, unsigned rounds)
{
    printf("\nwhere the time goes (medians; us per operation; share of one raw verify):\n");
    for (size_t i = 0; i < n; i++) {
        const struct subject *s = &subjects[i];
        double raw_us = 1e6 / median(s->raw, rounds);
        double full_over = 1.0 / median_ratio(s->full, s->raw, rounds) - 1.0;
        double verify_over = 1.0 / median_ratio(s->verify, s->raw_aux, rounds) - 1.0;
        double dec = median(s->decode, rounds);
        double ms = median(s->memset_env, rounds);
        printf("  %s\n", s->name);
        printf("    raw EVP verify          %9.2f us\n", raw_us);
        printf("    secup decode + verify   %9.2f us  (%+5.1f%% over raw)\n",
               1e6 / median(s->full, rounds), 100.0 * full_over);
        printf("    secup verify only       %9.2f us  (%+5.1f%% over raw)  %9.0f verifies/s\n",
               1e6 / median(s->verify, rounds), 100.0 * verify_over, median(s->verify, rounds));
        printf("    secup decode only       %9.2f us  (%5.1f%% of raw)   %9.0f decodes/s\n",
               1e6 / dec, 100.0 * (1e6 / dec) / raw_us, dec);
        printf("    memset of the envelope  %9.2f us  (%5.1f%% of raw, %.0f%% of decode; %zu "
               "bytes)\n", 1e6 / ms, 100.0 * (1e6 / ms) / raw_us, 100.0 * dec / ms,
               sizeof(struct secup_envelope));
    }
}

static void print_row(const char *what, const double *v, unsigned n)
{
    printf("    %-22s", what);
    for (unsigned i = 0; i < n; i++)
        printf(" %10.0f", v[i]);
    printf("\n");
}

static void print_rounds(const struct subject *subjects, size_t n, unsigned rounds)
{
    printf("\nper round (ops/s):\n");
    for (size_t i = 0; i < n; i++) {
        const struct subject *s = &subjects[i];
        printf("  %s\n", s->name);
        print_row("secup decode + verify", s->full, rounds);
        print_row("raw verify", s->raw, rounds);
        print_row("secup d+v (cpu time)", s->full_cpu, rounds);
        print_row("raw verify (cpu time)", s->raw_cpu, rounds);
        print_row("secup verify only", s->verify, rounds);
        print_row("raw verify (aux)", s->raw_aux, rounds);
        print_row("secup decode only", s->decode, rounds);
        print_row("memset envelope", s->memset_env, rounds);
    }
}

int main(int argc, char **argv)
{
    double seconds = 2.0;
    unsigned rounds = 3;
    parse_args(argc, argv, &seconds, &rounds);
    double aux = seconds / 4.0;

    static struct secup_manifest m;
    build_manifest(&m);

    struct subject subjects[2];
    memset(subjects, 0, sizeof(subjects));
    subjects[0].name = "ESP256";
    subjects[0].type = SECUP_KEY_P256;
    subjects[0].cose_alg = COSE_ALG_ESP256;
    subjects[1].name = "Ed25519";
    subjects[1].type = SECUP_KEY_ED25519;
    subjects[1].cose_alg = COSE_ALG_ED25519;
    const size_t n = sizeof(subjects) / sizeof(subjects[0]);
    for (size_t i = 0; i < n; i++)
        setup(&subjects[i], &m);

    printf("bench_verify: %s; %u round(s), each %.2f s per main rate and %.2f s per "
           "auxiliary rate, in interleaved slices of %.0f ms\n",
           OpenSSL_version(OPENSSL_VERSION), rounds, seconds, aux, SLICE_S * 1000.0);
    printf("manifest: 1 component; shared (override-params, vendor, class), validate "
           "(image-match), install (uri, fetch, image-match)\n");
    for (size_t i = 0; i < n; i++) {
        const struct subject *s = &subjects[i];
        printf("  %-8s envelope %zu bytes, manifest %zu bytes, Sig_structure %zu bytes\n",
               s->name, s->envelope_len, s->pre->manifest_wrapped.len, s->tbs_len);
    }
    fflush(stdout);

    run_rounds(subjects, n, seconds, aux, rounds);
    print_table(subjects, n, rounds);
    print_breakdown(subjects, n, rounds);
    print_rounds(subjects, n, rounds);

    for (size_t i = 0; i < n; i++)
        teardown(&subjects[i]);
    return 0;
}
