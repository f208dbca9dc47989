/* lib/suit/decode.c against its bounds and malformed fields: every bound of
 * include/secup/manifest.h and struct secup_limits, once exceeded, yields its own error
 * code (and the same input just at the bound is accepted); every malformed field yields
 * its code; and a failed decode leaves the envelope zeroed ("changes no stored state").
 *
 * Inputs are described as small CBOR trees (struct node, below), encoded with the codec
 * writer of lib/cbor/codec.h into heap buffers of exactly their size, and wrapped into an
 * envelope {2: bstr([bstr(digest), *auth]), 3: bstr(manifest), *extra} whose digest is
 * computed over the bstr-wrapped manifest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbor/codec.h"
#include "crypto/crypto.h"
#include "testutil.h"

/* ---- a tiny CBOR tree description ---- */

enum nk {
    N_NONE, /* emits nothing */
    N_UINT, /* u */
    N_NINT, /* -1 - u */
    N_BSTR, /* p, len */
    N_TSTR, /* p, len */
    N_ARR,  /* kids; the count is the number of items the kids emit */
    N_MAP,  /* kids as key, value, ...; count = items / 2 */
    N_TAG,  /* tag u over kids[0] */
    N_WRAP, /* bstr holding the encoding of the kids */
    N_NULL,
    N_TRUE,
    N_RAW,     /* p, len as they are */
    N_FILLB,   /* bstr of u bytes */
    N_FILLT,   /* tstr of u bytes */
    N_REP,     /* the kids, u times, spliced into the enclosing container */
    N_REPKV,   /* u pairs: integer key i + j * step, value kids[0] */
    N_NEST,    /* u levels of array(1) around kids[0] */
    N_SEQNEST, /* u levels of command sequences [i, <next level>] around kids[0]; i is
                * try-each (15: [bstr(next)]) or run-sequence (32: bstr(next)) */
};

struct node {
    enum nk k;
    uint64_t u;
    int64_t i;
    int64_t step;
    const uint8_t *p;
    size_t len;
    const struct node *kids;
    size_t n;
};

#define KIDS(...)                                                                                  \
    .kids = (const struct node[]){__VA_ARGS__},                                                    \
    .n = sizeof((const struct node[]){__VA_ARGS__}) / sizeof(struct node)
#define NONE                                                                                       \
    {                                                                                              \
        .k = N_NONE                                                                                \
    }
#define U(x)                                                                                       \
    {                                                                                              \
        .k = N_UINT, .u = (x)                                                                      \
    }
#define NEG(x)                                                                                     \
    {                                                                                              \
        .k = N_NINT, .u = (uint64_t)(-1 - (int64_t)(x))                                            \
    }
#define B(...)                                                                                     \
    {                                                                                              \
        .k = N_BSTR, .p = (const uint8_t[]){__VA_ARGS__},                                          \
        .len = sizeof((const uint8_t[]){__VA_ARGS__})                                              \
    }
#define B0                                                                                         \
    {                                                                                              \
        .k = N_BSTR                                                                                \
    }
#define T(s)                                                                                       \
    {                                                                                              \
        .k = N_TSTR, .p = (const uint8_t *)(s), .len = sizeof(s) - 1                               \
    }
#define RAWB(...)                                                                                  \
    {                                                                                              \
        .k = N_RAW, .p = (const uint8_t[]){__VA_ARGS__},                                           \
        .len = sizeof((const uint8_t[]){__VA_ARGS__})                                              \
    }
#define ARR(...)                                                                                   \
    {                                                                                              \
        .k = N_ARR, KIDS(__VA_ARGS__)                                                              \
    }
#define ARR0                                                                                       \
    {                                                                                              \
        .k = N_ARR                                                                                 \
    }
#define MAP(...)                                                                                   \
    {                                                                                              \
        .k = N_MAP, KIDS(__VA_ARGS__)                                                              \
    }
#define MAP0                                                                                       \
    {                                                                                              \
        .k = N_MAP                                                                                 \
    }
#define TAG(t, x)                                                                                  \
    {                                                                                              \
        .k = N_TAG, .u = (t), KIDS(x)                                                              \
    }
#define WRAP(...)                                                                                  \
    {                                                                                              \
        .k = N_WRAP, KIDS(__VA_ARGS__)                                                             \
    }
#define NUL                                                                                        \
    {                                                                                              \
        .k = N_NULL                                                                                \
    }
#define TRU                                                                                        \
    {                                                                                              \
        .k = N_TRUE                                                                                \
    }
#define FILLB(n)                                                                                   \
    {                                                                                              \
        .k = N_FILLB, .u = (n)                                                                     \
    }
#define FILLT(n)                                                                                   \
    {                                                                                              \
        .k = N_FILLT, .u = (n)                                                                     \
    }
#define REP(cnt, ...)                                                                              \
    {                                                                                              \
        .k = N_REP, .u = (cnt), KIDS(__VA_ARGS__)                                                  \
    }
#define LIST(...) REP(1, __VA_ARGS__)
#define REPKV(start, st, cnt, v)                                                                   \
    {                                                                                              \
        .k = N_REPKV, .i = (start), .step = (st), .u = (cnt), KIDS(v)                              \
    }
#define NEST(levels, x)                                                                            \
    {                                                                                              \
        .k = N_NEST, .u = (levels), KIDS(x)                                                        \
    }
#define SEQNEST(code, levels, x)                                                                   \
    {                                                                                              \
        .k = N_SEQNEST, .i = (code), .u = (levels), KIDS(x)                                        \
    }

#define FILL_MAX (256u * 1024)
static uint8_t fill[FILL_MAX];

static void emit(struct secup_cbor_writer *w, const struct node *n);

static uint64_t items_of(const struct node *n)
{
    uint64_t sum = 0;
    switch (n->k) {
    case N_NONE:
        return 0;
    case N_REP:
        for (size_t i = 0; i < n->n; i++)
            sum += items_of(&n->kids[i]);
        return sum * n->u;
    case N_REPKV:
        return 2 * n->u;
    default:
        return 1;
    }
}

static uint64_t kid_items(const struct node *n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n->n; i++)
        sum += items_of(&n->kids[i]);
    return sum;
}

static void emit_kids(struct secup_cbor_writer *w, const struct node *n)
{
    for (size_t i = 0; i < n->n; i++)
        emit(w, &n->kids[i]);
}

static void emit_wrapped_kids(struct secup_cbor_writer *w, const struct node *n)
{
    struct secup_cbor_writer count;
    secup_cbor_writer_init(&count, NULL, 0);
    emit_kids(&count, n);
    secup_cbor_put_bstr_head(w, count.len);
    emit_kids(w, n);
}

/* Built from the inside out, so that each level is encoded once. */
static void emit_seqnest(struct secup_cbor_writer *w, int64_t code, uint64_t levels,
                         const struct node *inner)
{
    struct secup_cbor_writer c;
    secup_cbor_writer_init(&c, NULL, 0);
    emit(&c, inner);
    size_t len = c.len;
    uint8_t *cur = malloc(len);
    assert_non_null(cur);
    secup_cbor_writer_init(&c, cur, len);
    emit(&c, inner);
    for (uint64_t l = 0; l < levels; l++) {
        size_t next_len = len + 32;
        uint8_t *next = malloc(next_len);
        assert_non_null(next);
        secup_cbor_writer_init(&c, next, next_len);
        secup_cbor_put_array(&c, 2);
        secup_cbor_put_int(&c, code);
        if (code == SECUP_SUIT_DIR_TRY_EACH)
            secup_cbor_put_array(&c, 1);
        secup_cbor_put_bstr(&c, secup_bytes_of(cur, len));
        assert_int_equal(secup_cbor_writer_finish(&c, NULL), SECUP_OK);
        free(cur);
        cur = next;
        len = c.len;
    }
    secup_cbor_put_raw(w, secup_bytes_of(cur, len));
    free(cur);
}

static void emit(struct secup_cbor_writer *w, const struct node *n)
{
    switch (n->k) {
    case N_NONE:
        break;
    case N_UINT:
        secup_cbor_put_uint(w, n->u);
        break;
    case N_NINT:
        secup_cbor_put_nint(w, n->u);
        break;
    case N_BSTR:
        secup_cbor_put_bstr(w, secup_bytes_of(n->p, n->len));
        break;
    case N_TSTR:
        secup_cbor_put_tstr(w, secup_bytes_of(n->p, n->len));
        break;
    case N_ARR:
        secup_cbor_put_array(w, (size_t)kid_items(n));
        emit_kids(w, n);
        break;
    case N_MAP:
        secup_cbor_put_map(w, (size_t)(kid_items(n) / 2));
        emit_kids(w, n);
        break;
    case N_TAG:
        secup_cbor_put_tag(w, n->u);
        emit_kids(w, n);
        break;
    case N_WRAP:
        emit_wrapped_kids(w, n);
        break;
    case N_NULL:
        secup_cbor_put_null(w);
        break;
    case N_TRUE:
        secup_cbor_put_bool(w, true);
        break;
    case N_RAW:
        secup_cbor_put_raw(w, secup_bytes_of(n->p, n->len));
        break;
    case N_FILLB:
        assert_true(n->u <= FILL_MAX);
        secup_cbor_put_bstr(w, secup_bytes_of(fill, (size_t)n->u));
        break;
    case N_FILLT:
        assert_true(n->u <= FILL_MAX);
        secup_cbor_put_tstr(w, secup_bytes_of(fill, (size_t)n->u));
        break;
    case N_REP:
        for (uint64_t j = 0; j < n->u; j++)
            emit_kids(w, n);
        break;
    case N_REPKV:
        for (uint64_t j = 0; j < n->u; j++) {
            secup_cbor_put_int(w, n->i + (int64_t)j * n->step);
            emit(w, &n->kids[0]);
        }
        break;
    case N_NEST:
        for (uint64_t j = 0; j < n->u; j++)
            secup_cbor_put_array(w, 1);
        emit(w, &n->kids[0]);
        break;
    case N_SEQNEST:
        emit_seqnest(w, n->i, n->u, &n->kids[0]);
        break;
    }
}

/* The encoding of n in a heap buffer of exactly its size. Free with free(). */
static uint8_t *encode(const struct node *n, size_t *len)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, NULL, 0);
    emit(&w, n);
    *len = w.len;
    uint8_t *buf = malloc(w.len ? w.len : 1);
    assert_non_null(buf);
    secup_cbor_writer_init(&w, buf, *len);
    emit(&w, n);
    assert_int_equal(secup_cbor_writer_finish(&w, NULL), SECUP_OK);
    assert_int_equal(w.len, *len);
    return buf;
}

/* ---- envelopes ---- */

struct env_spec {
    struct node manifest; /* the manifest item (key 3 holds its encoding) */
    struct node auth;     /* authentication blocks after the digest (a LIST) */
    struct node extra;    /* more envelope entries, key and value (a LIST) */
    struct node wrapper;  /* N_NONE: [bstr(digest), auth]; otherwise this wrapper array */
    int tag;              /* 0: tag 107; -1: untagged; else that tag */
    bool trailing;        /* one byte after the envelope */
};

static uint8_t *make_envelope(const struct env_spec *s, size_t *len)
{
    size_t mlen = 0;
    uint8_t *m = encode(&s->manifest, &mlen);

    uint8_t wrapped[16 + 64 * 1024];
    struct secup_cbor_writer w;
    uint8_t digest[SECUP_SHA256_LEN];
    secup_cbor_writer_init(&w, NULL, 0);
    secup_cbor_put_bstr(&w, secup_bytes_of(m, mlen));
    if (w.len <= sizeof(wrapped)) {
        secup_cbor_writer_init(&w, wrapped, sizeof(wrapped));
        secup_cbor_put_bstr(&w, secup_bytes_of(m, mlen));
        assert_int_equal(secup_crypto_sha256(secup_cbor_writer_bytes(&w), digest, NULL), SECUP_OK);
    } else {
        memset(digest, 0, sizeof(digest)); /* too large to matter: decode never checks it */
    }

    struct node dig_kids[2] = {NEG(-16), {.k = N_BSTR, .p = digest, .len = sizeof(digest)}};
    struct node dig = {.k = N_ARR, .kids = dig_kids, .n = 2};
    struct node wrapper_kids[2] = {{.k = N_WRAP, .kids = &dig, .n = 1}, s->auth};
    struct node wrapper = {.k = N_ARR, .kids = wrapper_kids, .n = 2};
    const struct node *wr = s->wrapper.k != N_NONE ? &s->wrapper : &wrapper;
    struct node map_kids[5] = {
        U(2), {.k = N_WRAP, .kids = wr, .n = 1}, U(3), {.k = N_BSTR, .p = m, .len = mlen}, s->extra,
    };
    struct node map = {.k = N_MAP, .kids = map_kids, .n = 5};
    struct node top = {.k = N_TAG, .u = s->tag > 0 ? (uint64_t)s->tag : 107, .kids = &map, .n = 1};

    uint8_t *env = encode(s->tag < 0 ? &map : &top, len);
    free(m);
    if (s->trailing) {
        uint8_t *more = realloc(env, *len + 1);
        assert_non_null(more);
        more[(*len)++] = 0x00;
        env = more;
    }
    return env;
}

/* ---- fixture and checks ---- */

static struct secup_envelope *env_new(void)
{
    struct secup_envelope *env = malloc(sizeof(*env));
    assert_non_null(env);
    return env;
}

static int setup(void **state)
{
    memset(fill, 'a', sizeof(fill));
    *state = env_new();
    return 0;
}

/* The input of the last check_spec(): the decoded envelope's views point into it. */
static uint8_t *last_in;

static int teardown(void **state)
{
    free(last_in);
    last_in = NULL;
    free(*state);
    return 0;
}

/* Empty when every byte of env is zero (the struct was filled with 0xa5 before the
 * call); otherwise a description of the first stale byte. */
static bool env_is_zeroed(const struct secup_envelope *env, char *why, size_t cap)
{
    /* A few fields by name, for a readable message ... */
    if (env->n_auth || env->n_integrated || env->tagged || env->manifest_bytes.ptr ||
        env->digest.bytes.ptr || env->manifest.sequence_number || env->manifest.n_components ||
        env->manifest.n_commands || env->manifest.n_params || env->manifest.n_seqs) {
        snprintf(why, cap, "fields left set (n_auth %u, seq %llu, components %u)", env->n_auth,
                 (unsigned long long)env->manifest.sequence_number, env->manifest.n_components);
        return false;
    }
    /* ... and then every byte. */
    const uint8_t *b = (const uint8_t *)env;
    for (size_t i = 0; i < sizeof(*env); i++) {
        if (b[i] != 0) {
            snprintf(why, cap, "byte %zu is 0x%02x", i, b[i]);
            return false;
        }
    }
    return true;
}

static void assert_env_zeroed(const struct secup_envelope *env, const char *what)
{
    char why[128];
    if (!env_is_zeroed(env, why, sizeof(why)))
        fail_msg("%s: after a failed decode the envelope is not zeroed: %s", what, why);
}

/* Decodes; true when the code is the wanted one and, on failure, the error detail is set
 * and the envelope is zeroed. Mismatches are printed, so a table reports all of them. */
static bool check_spec(struct secup_envelope *env, const struct env_spec *s,
                       const struct secup_limits *lim, secup_rc want, const char *what)
{
    size_t len = 0;
    uint8_t *in = make_envelope(s, &len);
    struct secup_err err;
    secup_err_clear(&err);
    memset(env, 0xa5, sizeof(*env));
    secup_rc rc = secup_envelope_decode(env, secup_bytes_of(in, len), lim, &err);
    free(last_in);
    last_in = in;
    bool ok = true;
    char why[128];
    if (rc != want) {
        print_error("  %s: got %s (%s), expected %s\n", what, secup_rc_name(rc), err.msg,
                    secup_rc_name(want));
        ok = false;
    } else if (rc != SECUP_OK && (err.rc != rc || err.msg[0] == '\0')) {
        print_error("  %s: no error detail for %s\n", what, secup_rc_name(rc));
        ok = false;
    } else if (rc != SECUP_OK && !env_is_zeroed(env, why, sizeof(why))) {
        print_error("  %s: envelope not zeroed after %s: %s\n", what, secup_rc_name(rc), why);
        ok = false;
    }
    return ok;
}

static secup_rc decode_spec(struct secup_envelope *env, const struct env_spec *s,
                            const struct secup_limits *lim, secup_rc want, const char *what)
{
    if (!check_spec(env, s, lim, want, what))
        fail_msg("%s", what);
    return want;
}

#define RUN_TABLE(env, table, lim_of, want_of)                                                     \
    do {                                                                                           \
        size_t failed_ = 0;                                                                        \
        for (size_t i_ = 0; i_ < ARRAY_SIZE(table); i_++) {                                        \
            if (!check_spec(env, &table[i_].s, lim_of, want_of, table[i_].what))                   \
                failed_++;                                                                         \
        }                                                                                          \
        if (failed_)                                                                               \
            fail_msg("%zu of %zu cases failed (listed above)", failed_, ARRAY_SIZE(table));        \
    } while (0)

/* ---- the pieces of a valid manifest ---- */

#define VENDOR_ID                                                                                  \
    B(0xfa, 0x6b, 0x4a, 0x53, 0xd5, 0xad, 0x5f, 0xdf, 0xbe, 0x9d, 0xe6, 0x63, 0xe4, 0xd4, 0x1f,    \
      0xfe)
#define CLASS_ID                                                                                   \
    B(0x9d, 0xc4, 0xe2, 0x8b, 0x98, 0xb2, 0x52, 0xbb, 0x96, 0x9f, 0x42, 0x21, 0x9d, 0x93, 0x2d,    \
      0xfb)
#define COMPONENTS_OK ARR(ARR(B(0x00)))
#define SHARED(...) WRAP(ARR(__VA_ARGS__))
#define SHARED_OK SHARED(U(20), MAP(U(1), VENDOR_ID, U(2), CLASS_ID), U(1), U(15), U(2), U(15))
#define COMMON(shared) WRAP(MAP(U(2), COMPONENTS_OK, U(4), shared))
#define COMMON_OK COMMON(SHARED_OK)
/* {1: 1, 2: 5, 3: common, ...more} */
#define MANIFEST_WITH(...) MAP(U(1), U(1), U(2), U(5), U(3), COMMON_OK, __VA_ARGS__)
#define MANIFEST_OK MANIFEST_WITH(NONE)
#define MANIFEST_SHARED(...) MAP(U(1), U(1), U(2), U(5), U(3), COMMON(SHARED(__VA_ARGS__)))
#define SEQ(...) WRAP(ARR(__VA_ARGS__))
#define SEQ_OK SEQ(U(1), U(15))
/* A COSE_Sign1 block that decodes (its signature is never checked by decode). */
#define SIGN1(protected_map, unprotected_map)                                                      \
    WRAP(TAG(18, ARR(WRAP(protected_map), unprotected_map, NUL, FILLB(64))))
#define SIGN1_OK SIGN1(MAP(U(1), NEG(-9)), MAP0)

static void test_suit_limits_base_envelope_decodes(void **state)
{
    struct secup_envelope *env = *state;
    const struct env_spec s = {.manifest = MANIFEST_OK, .auth = LIST(SIGN1_OK)};
    assert_int_equal(decode_spec(env, &s, NULL, SECUP_OK, "base"), SECUP_OK);
    assert_true(env->tagged);
    assert_int_equal(env->n_auth, 1);
    assert_int_equal(env->auth[0].alg, SECUP_COSE_ALG_ESP256);
    assert_int_equal(env->manifest.version, 1);
    assert_int_equal(env->manifest.sequence_number, 5);
    assert_int_equal(env->manifest.n_components, 1);
    assert_true(env->manifest.has_shared);
    assert_int_equal(env->manifest.seqs[env->manifest.shared_seq].count, 3);
}

/* ---- bounds: just beyond gives its own code ---- */

static const struct secup_limits lim_items_1024 = {16u << 20, 4096, 65536, 1024};
static const struct secup_limits lim_items_4 = {16u << 20, 4096, 65536, 4};
static const struct secup_limits lim_tstr_8 = {16u << 20, 8, 65536, 256};
static const struct secup_limits lim_bstr_64 = {16u << 20, 4096, 64, 256};
static const struct secup_limits lim_envelope_64 = {64, 4096, 65536, 256};

#define TEXT_FOR(x) ARR(B(x)), MAP(U(1), T("t"))

static const struct {
    const char *what;
    struct env_spec s;
    const struct secup_limits *lim;
    secup_rc want;
} beyond[] = {
    {"envelope larger than max_envelope",
     {.manifest = MANIFEST_OK},
     &lim_envelope_64,
     SECUP_E_LIMIT_SIZE},
    {"CBOR nesting in an unprotected header",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(1), NEG(-9)), MAP(U(99), NEST(20, U(0)))))},
     NULL,
     SECUP_E_LIMIT_DEPTH},
    {"CBOR nesting in component-metadata",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(30), WRAP(MAP(U(1), NEST(20, U(0))))))},
     NULL,
     SECUP_E_LIMIT_DEPTH},
    {"CBOR nesting in a CoSWID",
     {.manifest = MANIFEST_WITH(U(14), WRAP(NEST(20, U(0))))},
     NULL,
     SECUP_E_LIMIT_DEPTH},
    {"17 components",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), ARR(REP(17, ARR(B(0x00)))))))},
     NULL,
     SECUP_E_LIMIT_COMPONENTS},
    {"129 commands in one sequence, max_items 1024",
     {.manifest = MANIFEST_SHARED(REP(129, U(1), U(15)))},
     &lim_items_1024,
     SECUP_E_LIMIT_COMMANDS},
    {"more than 512 commands in the manifest",
     {.manifest =
          MANIFEST_WITH(U(7), SEQ(REP(128, U(1), U(15))), U(8), SEQ(REP(128, U(1), U(15))), U(9),
                        SEQ(REP(128, U(1), U(15))), U(24), SEQ(REP(128, U(1), U(15))))},
     NULL,
     SECUP_E_LIMIT_COMMANDS},
    {"text string of 4097 bytes",
     {.manifest = MANIFEST_WITH(U(4), FILLT(4097))},
     NULL,
     SECUP_E_LIMIT_STRING},
    {"text string over max_tstr 8",
     {.manifest = MANIFEST_WITH(U(4), FILLT(9))},
     &lim_tstr_8,
     SECUP_E_LIMIT_STRING},
    {"byte string of 65537 bytes",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), ARR(ARR(FILLB(65537))))))},
     NULL,
     SECUP_E_LIMIT_BYTES},
    {"byte string over max_bstr 64",
     {.manifest = MANIFEST_SHARED(U(20), MAP(NEG(-1), FILLB(65)))},
     &lim_bstr_64,
     SECUP_E_LIMIT_BYTES},
    {"65 parameters in one map",
     {.manifest = MANIFEST_SHARED(U(20), MAP(REPKV(-1, -1, 65, U(0))))},
     NULL,
     SECUP_E_LIMIT_PARAMS},
    {"more than 512 parameters in the manifest",
     {.manifest = MANIFEST_SHARED(REP(9, U(20), MAP(REPKV(-1, -1, 64, U(0)))))},
     NULL,
     SECUP_E_LIMIT_PARAMS},
    {"5 authentication blocks",
     {.manifest = MANIFEST_OK, .auth = LIST(REP(5, SIGN1_OK))},
     NULL,
     SECUP_E_LIMIT_AUTH},
    {"array of 257 items",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(28), WRAP(ARR(U(1), ARR(REP(257, U(1)))))))},
     NULL,
     SECUP_E_LIMIT_ITEMS},
    {"map of 257 entries",
     {.manifest = MANIFEST_WITH(U(7), SEQ(U(34), MAP(REPKV(0, 1, 257, MAP(NEG(-1), U(0))))))},
     NULL,
     SECUP_E_LIMIT_ITEMS},
    {"text map of 257 entries",
     {.manifest = MANIFEST_WITH(U(23), WRAP(MAP(T("en"), MAP(REPKV(1, 1, 257, T("x"))))))},
     NULL,
     SECUP_E_LIMIT_ITEMS},
    {"set-version of 129 integers",
     {.manifest = MANIFEST_WITH(U(6), WRAP(ARR(REP(129, U(1)))))},
     NULL,
     SECUP_E_LIMIT_ITEMS},
    {"array over max_items 4",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), ARR(REP(5, ARR(B(0x00)))))))},
     &lim_items_4,
     SECUP_E_LIMIT_ITEMS},
    {"65 text entries",
     {.manifest = MANIFEST_WITH(U(23), WRAP(MAP(T("en"), MAP(REPKV(1, 1, 65, T("x"))))))},
     NULL,
     SECUP_E_LIMIT_TEXT},
    {"65 text entries for one component",
     {.manifest = MANIFEST_WITH(
          U(23), WRAP(MAP(T("en"), MAP(ARR(B(0x00)), MAP(REPKV(1, 1, 65, T("x")))))))},
     NULL,
     SECUP_E_LIMIT_TEXT},
    {"65 text entries over two languages",
     {.manifest = MANIFEST_WITH(U(23), WRAP(MAP(T("en"), MAP(REPKV(1, 1, 40, T("x"))), T("de"),
                                                MAP(REPKV(1, 1, 25, T("x"))))))},
     NULL,
     SECUP_E_LIMIT_TEXT},
    {"text for 17 components",
     {.manifest = MANIFEST_WITH(
          U(23),
          WRAP(MAP(T("en"), MAP(TEXT_FOR(0), TEXT_FOR(1), TEXT_FOR(2), TEXT_FOR(3), TEXT_FOR(4),
                                TEXT_FOR(5), TEXT_FOR(6), TEXT_FOR(7), TEXT_FOR(8), TEXT_FOR(9),
                                TEXT_FOR(10), TEXT_FOR(11), TEXT_FOR(12), TEXT_FOR(13),
                                TEXT_FOR(14), TEXT_FOR(15), TEXT_FOR(16)))))},
     NULL,
     SECUP_E_LIMIT_TEXT},
    {"9 integrated payloads",
     {.manifest = MANIFEST_OK,
      .extra = LIST(T("#0"), B0, T("#1"), B0, T("#2"), B0, T("#3"), B0, T("#4"), B0, T("#5"), B0,
                    T("#6"), B0, T("#7"), B0, T("#8"), B0)},
     NULL,
     SECUP_E_LIMIT_DEPENDENCIES},
    {"9 dependencies",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3),
                      WRAP(MAP(U(1), MAP(REPKV(0, 1, 9, MAP0)), U(2), COMPONENTS_OK)))},
     NULL,
     SECUP_E_LIMIT_DEPENDENCIES},
    {"try-each nested 7 deep",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3),
                      COMMON(WRAP(SEQNEST(15, SECUP_MAX_SEQ_DEPTH + 1, ARR(U(1), U(15))))))},
     NULL,
     SECUP_E_LIMIT_DEPTH},
    {"run-sequence nested 7 deep",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3),
                      COMMON(WRAP(SEQNEST(32, SECUP_MAX_SEQ_DEPTH + 1, ARR(U(1), U(15))))))},
     NULL,
     SECUP_E_LIMIT_DEPTH},
    {"try-each nested 40 deep",
     {.manifest = MANIFEST_WITH(U(7), WRAP(SEQNEST(15, 40, ARR(U(1), U(15)))))},
     NULL,
     SECUP_E_LIMIT_DEPTH},
};

static void test_suit_limits_each_bound_exceeded_gives_its_own_code(void **state)
{
    struct secup_envelope *env = *state;
    RUN_TABLE(env, beyond, beyond[i_].lim, beyond[i_].want);
}

/* SECUP_MAX_SEQ_LEN is 128 commands, i.e. 256 array items, and the default max_items is
 * 256: a sequence one command longer must still be reported as too many commands, not as
 * a generic over-long array (manifest.h: "exceeding one is an error with its own code"). */
static void test_suit_limits_sequence_of_129_commands_gives_limit_commands_by_default(void **state)
{
    struct secup_envelope *env = *state;
    const struct env_spec s = {.manifest =
                                   MANIFEST_SHARED(REP(SECUP_MAX_SEQ_LEN + 1, U(1), U(15)))};
    (void)decode_spec(env, &s, NULL, SECUP_E_LIMIT_COMMANDS, "129 commands, default limits");
}

/* ---- bounds: just at the bound is accepted ---- */

#define URI_OVERRIDE(x) U(20), MAP(U(21), T(x))

static const struct {
    const char *what;
    struct env_spec s;
    const struct secup_limits *lim;
} at_bound[] = {
    {"CBOR nesting of 12 levels in an unprotected header",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(1), NEG(-9)), MAP(U(99), NEST(10, U(0)))))},
     NULL},
    {"16 components",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), ARR(REP(16, ARR(B(0x00)))))))},
     NULL},
    {"128 commands in one sequence", {.manifest = MANIFEST_SHARED(REP(128, U(1), U(15)))}, NULL},
    {"512 commands in the manifest",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), COMMON(SHARED(REP(128, U(1), U(15)))), U(7),
                      SEQ(REP(128, U(1), U(15))), U(8), SEQ(REP(128, U(1), U(15))), U(9),
                      SEQ(REP(128, U(1), U(15))))},
     NULL},
    {"text string of 4096 bytes", {.manifest = MANIFEST_WITH(U(4), FILLT(4096))}, NULL},
    {"text string of max_tstr 8", {.manifest = MANIFEST_WITH(U(4), FILLT(8))}, &lim_tstr_8},
    {"64 parameters in one map",
     {.manifest = MANIFEST_SHARED(U(20), MAP(REPKV(-1, -1, 64, U(0))))},
     NULL},
    {"512 parameters in the manifest",
     {.manifest = MANIFEST_SHARED(REP(8, U(20), MAP(REPKV(-1, -1, 64, U(0)))))},
     NULL},
    {"4 authentication blocks", {.manifest = MANIFEST_OK, .auth = LIST(REP(4, SIGN1_OK))}, NULL},
    {"array of 256 items",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(28), WRAP(ARR(U(1), ARR(REP(256, U(1)))))))},
     NULL},
    {"map of 256 entries",
     {.manifest = MANIFEST_WITH(U(7), SEQ(U(34), MAP(REPKV(0, 1, 256, MAP(NEG(-1), U(0))))))},
     NULL},
    {"set-version of 128 integers",
     {.manifest = MANIFEST_WITH(U(6), WRAP(ARR(REP(128, U(1)))))},
     NULL},
    {"64 text entries",
     {.manifest = MANIFEST_WITH(U(23), WRAP(MAP(T("en"), MAP(REPKV(1, 1, 64, T("x"))))))},
     NULL},
    {"text for 16 components",
     {.manifest = MANIFEST_WITH(
          U(23), WRAP(MAP(T("en"), MAP(TEXT_FOR(0), TEXT_FOR(1), TEXT_FOR(2), TEXT_FOR(3),
                                       TEXT_FOR(4), TEXT_FOR(5), TEXT_FOR(6), TEXT_FOR(7),
                                       TEXT_FOR(8), TEXT_FOR(9), TEXT_FOR(10), TEXT_FOR(11),
                                       TEXT_FOR(12), TEXT_FOR(13), TEXT_FOR(14), TEXT_FOR(15)))))},
     NULL},
    {"8 integrated payloads, each referenced",
     {.manifest = MANIFEST_SHARED(URI_OVERRIDE("#0"), URI_OVERRIDE("#1"), URI_OVERRIDE("#2"),
                                  URI_OVERRIDE("#3"), URI_OVERRIDE("#4"), URI_OVERRIDE("#5"),
                                  URI_OVERRIDE("#6"), URI_OVERRIDE("#7")),
      .extra = LIST(T("#0"), B0, T("#1"), B0, T("#2"), B0, T("#3"), B0, T("#4"), B0, T("#5"), B0,
                    T("#6"), B0, T("#7"), B0)},
     NULL},
    {"8 dependencies",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3),
                      WRAP(MAP(U(1), MAP(REPKV(0, 1, 8, MAP0)), U(2), COMPONENTS_OK)))},
     NULL},
    {"try-each nested 5 deep",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3),
                      COMMON(WRAP(SEQNEST(15, SECUP_MAX_SEQ_DEPTH - 1, ARR(U(1), U(15))))))},
     NULL},
    {"run-sequence nested 5 deep",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3),
                      COMMON(WRAP(SEQNEST(32, SECUP_MAX_SEQ_DEPTH - 1, ARR(U(1), U(15))))))},
     NULL},
};

static void test_suit_limits_input_at_each_bound_is_accepted(void **state)
{
    struct secup_envelope *env = *state;
    RUN_TABLE(env, at_bound, at_bound[i_].lim, SECUP_OK);
}

static void test_suit_limits_envelope_of_exactly_max_envelope_is_accepted(void **state)
{
    struct secup_envelope *env = *state;
    const struct env_spec s = {.manifest = MANIFEST_OK};
    size_t len = 0;
    uint8_t *in = make_envelope(&s, &len);
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = len;
    assert_int_equal(secup_envelope_decode(env, secup_bytes_of(in, len), &lim, NULL), SECUP_OK);
    lim.max_envelope = len - 1;
    assert_int_equal(secup_envelope_decode(env, secup_bytes_of(in, len), &lim, NULL),
                     SECUP_E_LIMIT_SIZE);
    free(in);
}

static void test_suit_limits_default_max_envelope_refuses_one_byte_more(void **state)
{
    struct secup_envelope *env = *state;
    struct secup_limits def = secup_limits_default();
    size_t len = def.max_envelope + 1;
    uint8_t *in = calloc(1, len);
    assert_non_null(in);
    memset(env, 0xa5, sizeof(*env));
    assert_int_equal(secup_envelope_decode(env, secup_bytes_of(in, len), NULL, NULL),
                     SECUP_E_LIMIT_SIZE);
    assert_env_zeroed(env, "default max_envelope + 1");
    /* At the bound the size is not the problem (the content is). */
    assert_int_not_equal(secup_envelope_decode(env, secup_bytes_of(in, len - 1), NULL, NULL),
                         SECUP_E_LIMIT_SIZE);
    free(in);
}

static void test_suit_limits_bare_manifest_over_max_envelope_gives_limit_size(void **state)
{
    (void)state;
    const struct node man = MANIFEST_OK;
    size_t len = 0;
    uint8_t *in = encode(&man, &len);
    struct secup_manifest *m = malloc(sizeof(*m));
    assert_non_null(m);
    assert_int_equal(secup_manifest_decode(m, secup_bytes_of(in, len), NULL, NULL), SECUP_OK);
    assert_int_equal(m->sequence_number, 5);
    struct secup_limits lim = secup_limits_default();
    lim.max_envelope = len - 1;
    memset(m, 0xa5, sizeof(*m));
    assert_int_equal(secup_manifest_decode(m, secup_bytes_of(in, len), &lim, NULL),
                     SECUP_E_LIMIT_SIZE);
    const uint8_t *b = (const uint8_t *)m;
    for (size_t i = 0; i < sizeof(*m); i++)
        assert_int_equal(b[i], 0);
    free(m);
    free(in);
}

/* With max_items lifted, a declared count is still bounded by the bytes left: maps of
 * 2^63 + 1 entries (whose pair count wraps around to 2) must not be taken at their word. */
static void
test_suit_limits_declared_counts_beyond_the_input_give_cbor_without_max_items(void **state)
{
    struct secup_envelope *env = *state;
    struct secup_limits lim = secup_limits_default();
    lim.max_items = SIZE_MAX;
    const struct {
        const char *what;
        struct node manifest;
    } cases[] = {
        {"manifest map of 2^63 + 1", RAWB(0xbb, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x01, 0x02, 0x05)},
        {"manifest map of 2^64 - 1",
         RAWB(0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01)},
        {"component list of 2^64 - 1", MAP(U(1), U(1), U(2), U(5), U(3),
                                           WRAP(MAP(U(2), RAWB(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                               0xff, 0xff, 0xff, 0x81, 0x40))))},
        {"text map of 2^63 + 1",
         MANIFEST_WITH(U(23), WRAP(RAWB(0xbb, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x62, 'e', 'n', 0xa1, 0x01,
                                        0x61, 'x')))},
    };
    size_t failed = 0;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct env_spec s = {.manifest = cases[i].manifest};
        if (!check_spec(env, &s, &lim, SECUP_E_CBOR, cases[i].what))
            failed++;
    }
    if (failed)
        fail_msg("%zu of %zu cases failed (listed above)", failed, ARRAY_SIZE(cases));
}

/* ---- one negative case per malformed field ---- */

static const struct {
    const char *what;
    struct env_spec s;
    secup_rc want;
} malformed[] = {
    /* manifest */
    {"manifest version 2",
     {.manifest = MAP(U(1), U(2), U(2), U(5), U(3), COMMON_OK)},
     SECUP_E_UNSUPPORTED},
    {"manifest version as text",
     {.manifest = MAP(U(1), T("1"), U(2), U(5), U(3), COMMON_OK)},
     SECUP_E_TYPE},
    {"no manifest version", {.manifest = MAP(U(2), U(5), U(3), COMMON_OK)}, SECUP_E_MISSING},
    {"no sequence number", {.manifest = MAP(U(1), U(1), U(3), COMMON_OK)}, SECUP_E_MISSING},
    {"no common section", {.manifest = MAP(U(1), U(1), U(2), U(5))}, SECUP_E_MISSING},
    {"duplicate manifest key",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(2), U(5), U(3), COMMON_OK)},
     SECUP_E_DUPLICATE},
    {"duplicate manifest section key",
     {.manifest = MANIFEST_WITH(U(7), SEQ_OK, U(7), SEQ_OK)},
     SECUP_E_DUPLICATE},
    {"unknown manifest key 10", {.manifest = MANIFEST_WITH(U(10), B0)}, SECUP_E_UNKNOWN_KEY},
    {"unknown manifest key -1", {.manifest = MANIFEST_WITH(NEG(-1), B0)}, SECUP_E_UNKNOWN_KEY},
    {"text manifest key", {.manifest = MANIFEST_WITH(T("x"), B0)}, SECUP_E_TYPE},
    {"sequence number as text",
     {.manifest = MAP(U(1), U(1), U(2), T("5"), U(3), COMMON_OK)},
     SECUP_E_TYPE},
    {"negative sequence number",
     {.manifest = MAP(U(1), U(1), U(2), NEG(-1), U(3), COMMON_OK)},
     SECUP_E_TYPE},
    {"manifest is an array", {.manifest = ARR(U(1), U(1))}, SECUP_E_TYPE},
    {"manifest tag 1071", {.manifest = TAG(1071, MANIFEST_OK)}, SECUP_E_VALUE},
    {"indefinite-length manifest map",
     {.manifest = RAWB(0xbf, 0x01, 0x01, 0x02, 0x05, 0xff)},
     SECUP_E_INDEFINITE},
    {"trailing bytes inside the manifest bstr",
     {.manifest = LIST(MANIFEST_OK, U(0))},
     SECUP_E_TRAILING},
    {"reference-uri as bytes", {.manifest = MANIFEST_WITH(U(4), B0)}, SECUP_E_TYPE},
    {"set-version empty", {.manifest = MANIFEST_WITH(U(6), WRAP(ARR0))}, SECUP_E_VALUE},
    /* common */
    {"common not a bstr",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), MAP(U(2), COMPONENTS_OK))},
     SECUP_E_TYPE},
    {"common unknown key 3",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), COMPONENTS_OK, U(3), U(0))))},
     SECUP_E_UNKNOWN_KEY},
    {"common duplicate key",
     {.manifest =
          MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), COMPONENTS_OK, U(2), COMPONENTS_OK)))},
     SECUP_E_DUPLICATE},
    {"trailing bytes inside the common bstr",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), COMPONENTS_OK), U(0)))},
     SECUP_E_TRAILING},
    {"empty component list",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), ARR0)))},
     SECUP_E_VALUE},
    {"component identifier part not a bstr",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), ARR(ARR(U(0))))))},
     SECUP_E_TYPE},
    {"component identifier of 9 parts",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), WRAP(MAP(U(2), ARR(ARR(REP(9, B0))))))},
     SECUP_E_LIMIT_ITEMS},
    {"dependency metadata unknown key",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3),
                      WRAP(MAP(U(1), MAP(U(0), MAP(U(2), U(0))), U(2), COMPONENTS_OK)))},
     SECUP_E_UNKNOWN_KEY},
    /* command sequences */
    {"unknown command", {.manifest = MANIFEST_WITH(U(7), SEQ(U(99), U(0)))}, SECUP_E_UNSUPPORTED},
    {"unknown parameter",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(99), U(0)))},
     SECUP_E_UNSUPPORTED},
    {"odd-length command sequence",
     {.manifest = MANIFEST_SHARED(U(1), U(15), U(2))},
     SECUP_E_VALUE},
    {"empty command sequence",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), COMMON(WRAP(ARR0)))},
     SECUP_E_VALUE},
    {"command sequence not an array",
     {.manifest = MAP(U(1), U(1), U(2), U(5), U(3), COMMON(WRAP(MAP0)))},
     SECUP_E_TYPE},
    {"directive fetch in the shared sequence",
     {.manifest = MANIFEST_SHARED(U(21), U(15))},
     SECUP_E_VALUE},
    {"directive set-parameters in the shared sequence",
     {.manifest = MANIFEST_SHARED(U(19), MAP(U(1), VENDOR_ID))},
     SECUP_E_VALUE},
    {"command code as text", {.manifest = MANIFEST_SHARED(T("x"), U(15))}, SECUP_E_TYPE},
    {"reporting policy as text", {.manifest = MANIFEST_SHARED(U(1), T("x"))}, SECUP_E_TYPE},
    {"empty set-component-index list", {.manifest = MANIFEST_SHARED(U(12), ARR0)}, SECUP_E_VALUE},
    {"set-component-index as text", {.manifest = MANIFEST_SHARED(U(12), T("0"))}, SECUP_E_TYPE},
    {"empty try-each", {.manifest = MANIFEST_SHARED(U(15), ARR0)}, SECUP_E_VALUE},
    {"try-each alternative not a bstr",
     {.manifest = MANIFEST_SHARED(U(15), ARR(ARR(U(1), U(15))))},
     SECUP_E_TYPE},
    {"run-sequence not a bstr",
     {.manifest = MANIFEST_SHARED(U(32), ARR(U(1), U(15)))},
     SECUP_E_TYPE},
    /* parameters */
    {"class-id of 15 bytes",
     {.manifest = MANIFEST_SHARED(
          U(20), MAP(U(2), B(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)), U(2), U(15))},
     SECUP_E_VALUE},
    {"vendor-id of 17 bytes",
     {.manifest = MANIFEST_SHARED(
          U(20), MAP(U(1), B(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)))},
     SECUP_E_VALUE},
    {"vendor-id under tag 111",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(1), TAG(111, B(1))))},
     SECUP_E_VALUE},
    {"class-id as text", {.manifest = MANIFEST_SHARED(U(20), MAP(U(2), FILLT(16)))}, SECUP_E_TYPE},
    {"duplicate parameter in one map",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(1), VENDOR_ID, U(1), VENDOR_ID))},
     SECUP_E_DUPLICATE},
    {"empty parameter map", {.manifest = MANIFEST_SHARED(U(20), MAP0)}, SECUP_E_VALUE},
    {"strict-order not a bool",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(12), U(1)))},
     SECUP_E_TYPE},
    {"image-size negative",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(14), NEG(-1)))},
     SECUP_E_TYPE},
    {"image-digest SHA-256 of 31 bytes",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(3), WRAP(ARR(NEG(-16), FILLB(31)))))},
     SECUP_E_VALUE},
    {"version comparison type 6",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(28), WRAP(ARR(U(6), ARR(U(1))))))},
     SECUP_E_VALUE},
    {"uri as bytes", {.manifest = MANIFEST_SHARED(U(20), MAP(U(21), B0))}, SECUP_E_TYPE},
    {"component-metadata not wrapping a map",
     {.manifest = MANIFEST_SHARED(U(20), MAP(U(30), WRAP(ARR0)))},
     SECUP_E_TYPE},
    /* text */
    {"text language twice",
     {.manifest =
          MANIFEST_WITH(U(23), WRAP(MAP(T("en"), MAP(U(1), T("a")), T("en"), MAP(U(2), T("b")))))},
     SECUP_E_DUPLICATE},
    {"text value as bytes",
     {.manifest = MANIFEST_WITH(U(23), WRAP(MAP(T("en"), MAP(U(1), B0))))},
     SECUP_E_TYPE},
    /* envelope */
    {"envelope key 1 (delegation)",
     {.manifest = MANIFEST_OK, .extra = LIST(U(1), B0)},
     SECUP_E_UNKNOWN_KEY},
    {"envelope key 99", {.manifest = MANIFEST_OK, .extra = LIST(U(99), B0)}, SECUP_E_UNKNOWN_KEY},
    {"envelope key 3 twice", {.manifest = MANIFEST_OK, .extra = LIST(U(3), B0)}, SECUP_E_DUPLICATE},
    {"envelope tag 108", {.manifest = MANIFEST_OK, .tag = 108}, SECUP_E_VALUE},
    {"trailing bytes after the envelope",
     {.manifest = MANIFEST_OK, .trailing = true},
     SECUP_E_TRAILING},
    {"empty authentication wrapper", {.manifest = MANIFEST_OK, .wrapper = ARR0}, SECUP_E_MISSING},
    {"manifest digest not bstr-wrapped",
     {.manifest = MANIFEST_OK, .wrapper = ARR(ARR(NEG(-16), FILLB(32)))},
     SECUP_E_TYPE},
    {"manifest digest SHA-256 of 31 bytes",
     {.manifest = MANIFEST_OK, .wrapper = ARR(WRAP(ARR(NEG(-16), FILLB(31))))},
     SECUP_E_VALUE},
    {"manifest digest of 3 elements",
     {.manifest = MANIFEST_OK, .wrapper = ARR(WRAP(ARR(NEG(-16), FILLB(32), U(0))))},
     SECUP_E_UNSUPPORTED},
    /* COSE blocks */
    {"COSE_Sign (tag 98) block",
     {.manifest = MANIFEST_OK,
      .auth = LIST(WRAP(TAG(98, ARR(WRAP(MAP(U(1), NEG(-7))), MAP0, NUL, ARR0))))},
     SECUP_E_UNSUPPORTED},
    {"COSE_Mac (tag 97) block",
     {.manifest = MANIFEST_OK,
      .auth = LIST(WRAP(TAG(97, ARR(WRAP(MAP(U(1), U(5))), MAP0, NUL, FILLB(32), ARR0))))},
     SECUP_E_UNSUPPORTED},
    {"block under tag 19",
     {.manifest = MANIFEST_OK,
      .auth = LIST(WRAP(TAG(19, ARR(WRAP(MAP(U(1), NEG(-9))), MAP0, NUL, FILLB(64)))))},
     SECUP_E_VALUE},
    {"untagged block",
     {.manifest = MANIFEST_OK,
      .auth = LIST(WRAP(ARR(WRAP(MAP(U(1), NEG(-9))), MAP0, NUL, FILLB(64))))},
     SECUP_E_TYPE},
    {"block of 3 elements",
     {.manifest = MANIFEST_OK,
      .auth = LIST(WRAP(TAG(18, ARR(WRAP(MAP(U(1), NEG(-9))), MAP0, FILLB(64)))))},
     SECUP_E_VALUE},
    {"crit header",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(1), NEG(-9), U(2), ARR(U(99))), MAP0))},
     SECUP_E_UNSUPPORTED},
    {"crit header in the unprotected map",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(1), NEG(-9)), MAP(U(2), ARR(U(99)))))},
     SECUP_E_UNSUPPORTED},
    {"alg only in the unprotected header",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP0, MAP(U(1), NEG(-9))))},
     SECUP_E_MISSING},
    {"no alg at all",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(4), B(1)), MAP0))},
     SECUP_E_MISSING},
    {"alg as text",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(1), T("ES256")), MAP0))},
     SECUP_E_UNSUPPORTED},
    {"alg label twice",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(1), NEG(-9), U(1), NEG(-7)), MAP0))},
     SECUP_E_DUPLICATE},
    {"protected header not a map",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(ARR(U(1), NEG(-9)), MAP0))},
     SECUP_E_TYPE},
    {"unprotected header not a map",
     {.manifest = MANIFEST_OK, .auth = LIST(SIGN1(MAP(U(1), NEG(-9)), ARR0))},
     SECUP_E_TYPE},
    {"signature not a bstr",
     {.manifest = MANIFEST_OK,
      .auth = LIST(WRAP(TAG(18, ARR(WRAP(MAP(U(1), NEG(-9))), MAP0, NUL, FILLT(64)))))},
     SECUP_E_TYPE},
    {"block not bstr-wrapped",
     {.manifest = MANIFEST_OK,
      .auth = LIST(TAG(18, ARR(WRAP(MAP(U(1), NEG(-9))), MAP0, NUL, FILLB(64))))},
     SECUP_E_TYPE},
    /* severed members and integrated payloads */
    {"severed install whose envelope copy does not match the digest",
     {.manifest = MANIFEST_WITH(U(20), ARR(NEG(-16), FILLB(32))), .extra = LIST(U(20), SEQ_OK)},
     SECUP_E_DIGEST},
    {"severed install with an unsupported digest algorithm",
     {.manifest = MANIFEST_WITH(U(20), ARR(NEG(-43), FILLB(48))), .extra = LIST(U(20), SEQ_OK)},
     SECUP_E_UNSUPPORTED},
    {"envelope copy of a member the manifest holds in place",
     {.manifest = MANIFEST_WITH(U(20), SEQ_OK), .extra = LIST(U(20), SEQ_OK)},
     SECUP_E_VALUE},
    {"envelope copy of a member the manifest does not name",
     {.manifest = MANIFEST_OK, .extra = LIST(U(16), SEQ_OK)},
     SECUP_E_VALUE},
    {"severed copy of an unseverable member",
     {.manifest = MANIFEST_WITH(U(7), ARR(NEG(-16), FILLB(32)))},
     SECUP_E_TYPE},
    {"integrated payload not referenced by a uri",
     {.manifest = MANIFEST_OK, .extra = LIST(T("#firmware"), B(1, 2, 3))},
     SECUP_E_VALUE},
    {"integrated payload referenced by another name",
     {.manifest = MANIFEST_SHARED(URI_OVERRIDE("#firmwarE")),
      .extra = LIST(T("#firmware"), B(1, 2, 3))},
     SECUP_E_VALUE},
    {"integrated payload twice",
     {.manifest = MANIFEST_SHARED(URI_OVERRIDE("#fw")),
      .extra = LIST(T("#fw"), B(1), T("#fw"), B(2))},
     SECUP_E_DUPLICATE},
    {"integrated payload as text",
     {.manifest = MANIFEST_SHARED(URI_OVERRIDE("#fw")), .extra = LIST(T("#fw"), T("x"))},
     SECUP_E_TYPE},
};

static void
test_suit_limits_each_malformed_field_gives_its_code_and_zeroes_the_envelope(void **state)
{
    struct secup_envelope *env = *state;
    RUN_TABLE(env, malformed, NULL, malformed[i_].want);
}

/* The positive twins of the cases above that need a computed digest or a reference. */
static void test_suit_limits_matching_severed_copy_and_referenced_payload_decode(void **state)
{
    struct secup_envelope *env = *state;
    const struct node seq = SEQ_OK;
    size_t len = 0;
    uint8_t *wrapped = encode(&seq, &len);
    uint8_t digest[SECUP_SHA256_LEN];
    assert_int_equal(secup_crypto_sha256(secup_bytes_of(wrapped, len), digest, NULL), SECUP_OK);

    struct node dkids[2] = {NEG(-16), {.k = N_BSTR, .p = digest, .len = sizeof(digest)}};
    struct node mkids[] = {U(1),  U(1),
                           U(2),  U(5),
                           U(3),  COMMON(SHARED(URI_OVERRIDE("#fw"))),
                           U(20), {.k = N_ARR, .kids = dkids, .n = 2}};
    struct env_spec s = {
        .manifest = {.k = N_MAP, .kids = mkids, .n = ARRAY_SIZE(mkids)},
        .extra = LIST(U(20), SEQ_OK, T("#fw"), B(1, 2, 3)),
    };
    assert_int_equal(decode_spec(env, &s, NULL, SECUP_OK, "severed install"), SECUP_OK);
    const struct secup_member *inst = &env->manifest.members[SECUP_SECTION_INSTALL];
    assert_int_equal(inst->state, SECUP_MEMBER_SEVERED);
    assert_true(inst->available);
    struct secup_bytes data;
    assert_true(secup_envelope_find_integrated(env, secup_bytes_of("#fw", 3), &data));
    assert_int_equal(data.len, 3);

    /* The same digest with one bit changed: the copy no longer matches. */
    digest[31] ^= 1;
    (void)decode_spec(env, &s, NULL, SECUP_E_DIGEST, "severed install, digest changed");
    /* Without the copy, the severed member is known by digest only. */
    digest[31] ^= 1;
    s.extra = (struct node)LIST(T("#fw"), B(1, 2, 3));
    assert_int_equal(decode_spec(env, &s, NULL, SECUP_OK, "severed install absent"), SECUP_OK);
    assert_int_equal(env->manifest.members[SECUP_SECTION_INSTALL].state, SECUP_MEMBER_SEVERED);
    assert_false(env->manifest.members[SECUP_SECTION_INSTALL].available);
    free(wrapped);
}

static void test_suit_limits_every_truncation_of_an_envelope_is_refused_and_zeroes(void **state)
{
    struct secup_envelope *env = *state;
    const struct env_spec s = {.manifest =
                                   MANIFEST_WITH(U(23), WRAP(MAP(T("en"), MAP(U(1), T("x"))))),
                               .auth = LIST(SIGN1_OK)};
    size_t len = 0;
    uint8_t *full = make_envelope(&s, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *in = malloc(n ? n : 1);
        assert_non_null(in);
        memcpy(in, full, n);
        memset(env, 0xa5, sizeof(*env));
        secup_rc rc = secup_envelope_decode(env, secup_bytes_of(in, n), NULL, NULL);
        if (rc == SECUP_OK || rc / 100 != 2)
            fail_msg("prefix of %zu of %zu bytes: %s", n, len, secup_rc_name(rc));
        assert_env_zeroed(env, "truncated envelope");
        free(in);
    }
    free(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suit_limits_base_envelope_decodes),
        cmocka_unit_test(test_suit_limits_each_bound_exceeded_gives_its_own_code),
        cmocka_unit_test(test_suit_limits_sequence_of_129_commands_gives_limit_commands_by_default),
        cmocka_unit_test(test_suit_limits_input_at_each_bound_is_accepted),
        cmocka_unit_test(test_suit_limits_envelope_of_exactly_max_envelope_is_accepted),
        cmocka_unit_test(test_suit_limits_default_max_envelope_refuses_one_byte_more),
        cmocka_unit_test(test_suit_limits_bare_manifest_over_max_envelope_gives_limit_size),
        cmocka_unit_test(
            test_suit_limits_declared_counts_beyond_the_input_give_cbor_without_max_items),
        cmocka_unit_test(
            test_suit_limits_each_malformed_field_gives_its_code_and_zeroes_the_envelope),
        cmocka_unit_test(test_suit_limits_matching_severed_copy_and_referenced_payload_decode),
        cmocka_unit_test(test_suit_limits_every_truncation_of_an_envelope_is_refused_and_zeroes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
