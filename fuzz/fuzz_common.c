/* Helpers shared by the fuzz targets: file loading, the vector trust store, and the
 * invariants of the decoded model that hold for every input the decoder accepts. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#ifndef FUZZ_SOURCE_DIR
#define FUZZ_SOURCE_DIR "."
#endif

void fuzz_common_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

uint8_t *fuzz_common_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096;
    size_t n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    fclose(f);
    if (!buf)
        return NULL;
    /* Shrink to the exact size so that ASan sees a read past the end of the input. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return NULL;
    }
    memcpy(exact, buf, n);
    free(buf);
    *len = n;
    return exact;
}

uint8_t *fuzz_common_read_source_file(const char *rel_path, size_t *len)
{
    uint8_t *data = fuzz_common_read_file(rel_path, len);
    if (data)
        return data;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", FUZZ_SOURCE_DIR, rel_path);
    if (n > 0 && (size_t)n < sizeof(path))
        data = fuzz_common_read_file(path, len);
    if (!data)
        fuzz_common_fail("cannot read '%s' (relative to the working directory or to %s): %s",
                         rel_path, FUZZ_SOURCE_DIR, strerror(errno));
    return data;
}

static struct secup_key *load_hmac_key(void)
{
    size_t len = 0;
    uint8_t *hex = fuzz_common_read_source_file(FUZZ_VECTORS "keys/enc-hmac256-key.hex", &len);
    char text[256];
    if (len >= sizeof(text))
        fuzz_common_fail("HMAC key file of %zu bytes is too long", len);
    memcpy(text, hex, len);
    text[len] = '\0';
    free(hex);
    uint8_t secret[64];
    size_t n = 0;
    if (!secup_hex_decode(text, secret, sizeof(secret), &n))
        fuzz_common_fail("HMAC key file is not hex");
    struct secup_key *key = NULL;
    struct secup_err err;
    secup_rc rc = secup_key_from_secret(&key, secup_bytes_of(secret, n), &err);
    secup_wipe(secret, sizeof(secret));
    secup_wipe(text, sizeof(text));
    if (rc != SECUP_OK)
        fuzz_common_fail("HMAC key: %s [%s]", err.msg, secup_rc_name(rc));
    return key;
}

const struct secup_trust *fuzz_common_vector_trust(void)
{
    static struct secup_trust *trust;
    if (trust)
        return trust;

    struct secup_err err;
    struct secup_key *p256 = NULL;
    size_t len = 0;
    uint8_t *pem =
        fuzz_common_read_source_file(FUZZ_VECTORS "keys/suit-example-p256-public.pem", &len);
    secup_rc rc = secup_key_parse_pem(&p256, secup_bytes_of(pem, len), &err);
    free(pem);
    if (rc != SECUP_OK)
        fuzz_common_fail("example P-256 key: %s [%s]", err.msg, secup_rc_name(rc));
    struct secup_key *hmac = load_hmac_key();

    struct secup_trust *t = NULL;
    rc = secup_trust_new(&t, &err);
    if (rc == SECUP_OK)
        rc = secup_trust_add(t, p256, "suit-example-p256", &err);
    if (rc == SECUP_OK)
        rc = secup_trust_add(t, hmac, "enc-hmac256", &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("trust store: %s [%s]", err.msg, secup_rc_name(rc));
    trust = t;
    return trust;
}

/* ---- model invariants ---- */

static void check_range(uint64_t first, uint64_t count, uint64_t n, const char *what)
{
    if (first + count > n)
        fuzz_common_fail("%s: range [%llu, +%llu) outside its pool of %llu", what,
                         (unsigned long long)first, (unsigned long long)count,
                         (unsigned long long)n);
}

static void check_view(struct secup_bytes v, struct secup_bytes in, const char *what)
{
    if (v.len == 0)
        return;
    uintptr_t lo = (uintptr_t)in.ptr;
    uintptr_t p = (uintptr_t)v.ptr;
    if (!v.ptr || !in.ptr || p < lo || v.len > in.len || p - lo > in.len - v.len)
        fuzz_common_fail("%s: view of %zu bytes does not point into the decoded input", what,
                         v.len);
}

static void check_id(const struct secup_component_id *id, struct secup_bytes in,
                     const char *what)
{
    if (id->n_parts > SECUP_MAX_ID_PARTS)
        fuzz_common_fail("%s: %u parts", what, id->n_parts);
    for (uint32_t i = 0; i < id->n_parts; i++)
        check_view(id->parts[i], in, what);
}

static void check_value(const struct secup_value *v, struct secup_bytes in, const char *what)
{
    switch (v->kind) {
    case SECUP_VAL_BSTR:
    case SECUP_VAL_TSTR:
    case SECUP_VAL_RAW:
        check_view(v->bytes, in, what);
        break;
    default:
        break;
    }
}

static bool is_command_section(int s)
{
    return s != SECUP_SECTION_TEXT && s != SECUP_SECTION_COSWID;
}

static void check_commands(const struct secup_manifest *m, struct secup_bytes in)
{
    for (uint32_t i = 0; i < m->n_seqs; i++)
        check_range(m->seqs[i].first, m->seqs[i].count, m->n_commands, "sequence");
    for (uint32_t i = 0; i < m->n_commands; i++) {
        const struct secup_command *c = &m->commands[i];
        switch (c->kind) {
        case SECUP_ARG_PARAMS:
        case SECUP_ARG_MULTI_PARAMS:
        case SECUP_ARG_COPY_PARAMS:
            check_range(c->first, c->count, m->n_params, "command parameters");
            break;
        case SECUP_ARG_SEQUENCE:
            check_range(c->first, 1, m->n_seqs, "run-sequence");
            break;
        case SECUP_ARG_TRY_EACH:
            check_range(c->first, c->count, m->n_seqs, "try-each");
            break;
        case SECUP_ARG_INDEX_LIST:
            check_range(c->first, c->count, m->n_ints, "component index list");
            break;
        case SECUP_ARG_VALUE:
            check_value(&c->value, in, "custom command argument");
            break;
        default:
            break;
        }
    }
    for (uint32_t i = 0; i < m->n_params; i++)
        check_value(&m->params[i].value, in, "parameter value");
}

void fuzz_common_check_manifest(const struct secup_manifest *m, struct secup_bytes in)
{
    if (m->n_components > SECUP_MAX_COMPONENTS || m->n_dependencies > SECUP_MAX_DEPENDENCIES ||
        m->n_text > SECUP_MAX_TEXT || m->n_text_ids > SECUP_MAX_COMPONENTS ||
        m->n_seqs > SECUP_MAX_SEQS || m->n_commands > SECUP_MAX_COMMANDS ||
        m->n_params > SECUP_MAX_PARAMS || m->n_ints > SECUP_MAX_INTS)
        fuzz_common_fail("a pool count exceeds its maximum");
    for (uint32_t i = 0; i < m->n_components; i++)
        check_id(&m->components[i], in, "component identifier");
    for (uint32_t i = 0; i < m->n_dependencies; i++)
        check_id(&m->dependencies[i].prefix, in, "dependency prefix");
    if (m->has_component_id)
        check_id(&m->component_id, in, "manifest component id");
    if (m->has_reference_uri)
        check_view(m->reference_uri, in, "reference-uri");
    if (m->has_shared)
        check_range(m->shared_seq, 1, m->n_seqs, "shared sequence");
    if (m->has_set_version)
        check_range(m->set_version_first, m->set_version_count, m->n_ints, "set-version");
    for (int s = 0; s < SECUP_SECTION_COUNT; s++) {
        const struct secup_member *mem = &m->members[s];
        const char *name = secup_section_name((enum secup_section)s);
        if (mem->state == SECUP_MEMBER_ABSENT) {
            if (mem->available)
                fuzz_common_fail("%s: absent but available", name);
            continue;
        }
        if (mem->state == SECUP_MEMBER_SEVERED)
            check_view(mem->digest.bytes, in, name);
        if (!mem->available)
            continue;
        check_view(mem->content, in, name);
        if (is_command_section(s))
            check_range(mem->seq, 1, m->n_seqs, name);
    }
    for (uint32_t i = 0; i < m->n_text; i++) {
        const struct secup_text *t = &m->text[i];
        if (t->component < -1 || (t->component >= 0 && (uint32_t)t->component >= m->n_text_ids))
            fuzz_common_fail("text entry %u: component %d of %u", i, t->component,
                             m->n_text_ids);
        check_view(t->lang, in, "text language");
        check_view(t->value, in, "text value");
    }
    for (uint32_t i = 0; i < m->n_text_ids; i++)
        check_id(&m->text_ids[i], in, "text component identifier");
    check_commands(m, in);
}

void fuzz_common_check_envelope(const struct secup_envelope *env, struct secup_bytes in)
{
    if (env->n_auth > SECUP_MAX_AUTH || env->n_integrated > SECUP_MAX_INTEGRATED)
        fuzz_common_fail("envelope: %u authentication blocks, %u integrated payloads",
                         env->n_auth, env->n_integrated);
    check_view(env->digest_bstr, in, "manifest digest");
    check_view(env->digest.bytes, in, "manifest digest bytes");
    check_view(env->manifest_wrapped, in, "manifest");
    check_view(env->manifest_bytes, in, "manifest content");
    for (uint32_t i = 0; i < env->n_auth; i++) {
        const struct secup_auth_block *a = &env->auth[i];
        if (a->type != SECUP_AUTH_SIGN1 && a->type != SECUP_AUTH_MAC0)
            fuzz_common_fail("authentication block %u: type %d", i, (int)a->type);
        check_view(a->protected_hdr, in, "COSE protected header");
        check_view(a->unprotected, in, "COSE unprotected header");
        check_view(a->payload, in, "COSE payload");
        check_view(a->tag, in, "COSE signature");
        check_view(a->kid, in, "COSE kid");
    }
    for (uint32_t i = 0; i < env->n_integrated; i++) {
        check_view(env->integrated[i].name, in, "integrated payload name");
        check_view(env->integrated[i].data, in, "integrated payload");
    }
    fuzz_common_check_manifest(&env->manifest, in);
}

void fuzz_common_check_failure(secup_rc rc, const struct secup_err *err, const char *call)
{
    int code = (int)rc;
    if (rc == SECUP_OK)
        fuzz_common_fail("%s: checked as a failure but returned SECUP_OK", call);
    if (strcmp(secup_rc_name(rc), "SECUP_E_UNKNOWN_CODE") == 0)
        fuzz_common_fail("%s: returned %d, which is not a secup_rc", call, code);
    if (code >= 100 && code < 200)
        fuzz_common_fail("%s: returned %s (caller misuse) for untrusted input: %s", call,
                         secup_rc_name(rc), err->msg);
    if (err->rc != rc)
        fuzz_common_fail("%s: returned %s but err holds %s (\"%s\")", call, secup_rc_name(rc),
                         secup_rc_name(err->rc), err->msg);
    if (err->msg[0] == '\0')
        fuzz_common_fail("%s: returned %s with an empty error message", call, secup_rc_name(rc));
}

/* Two encodings of one type, in buffers of its largest size. */
struct two_bufs {
    uint8_t *a, *b;
    size_t cap;
};

static struct two_bufs bufs_for(const struct fuzz_signed_type *type)
{
    struct two_bufs t = { malloc(type->max_size + 64), malloc(type->max_size + 64),
                          type->max_size + 64 };
    if (!t.a || !t.b)
        fuzz_common_fail("%s: out of memory", type->name);
    return t;
}

static void bufs_free(struct two_bufs *t)
{
    free(t->a);
    free(t->b);
}

bool fuzz_common_payload_round_trip(const struct fuzz_signed_type *type, struct secup_bytes in,
                                    void *msg, void *scratch)
{
    struct secup_err err;
    char call[64];
    snprintf(call, sizeof(call), "secup_%s_decode", type->name);
    secup_rc rc = type->decode(msg, in, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, call);
        return false;
    }
    struct two_bufs t = bufs_for(type);
    size_t len = 0, len2 = 0;
    if (type->encode(msg, t.a, t.cap, &len, &err) != SECUP_OK)
        fuzz_common_fail("re-encoding a decoded %s failed: %s", type->name, err.msg);
    if (type->decode(scratch, secup_bytes_of(t.a, len), &err) != SECUP_OK ||
        type->encode(scratch, t.b, t.cap, &len2, &err) != SECUP_OK || len2 != len ||
        memcmp(t.a, t.b, len) != 0)
        fuzz_common_fail("%s encoding is not a fixed point", type->name);
    bufs_free(&t);
    return true;
}

secup_rc fuzz_common_signed_check(const struct fuzz_signed_type *type, struct secup_bytes in,
                                  const struct secup_key *key, struct secup_bytes good,
                                  void *msg, void *scratch)
{
    struct secup_err err;
    char call[64];
    if (type->peek) {
        struct secup_bytes who;
        secup_rc prc = type->peek(in, &who, &err);
        snprintf(call, sizeof(call), "the peek of a %s", type->name);
        if (prc != SECUP_OK)
            fuzz_common_check_failure(prc, &err, call);
    }
    snprintf(call, sizeof(call), "secup_%s_verify", type->name);
    secup_rc rc = type->verify(in, key, msg, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, call);
        return rc;
    }
    struct two_bufs t = bufs_for(type);
    size_t la = 0, lb = 0;
    if (type->verify(good, key, scratch, &err) != SECUP_OK ||
        type->encode(msg, t.a, t.cap, &la, &err) != SECUP_OK ||
        type->encode(scratch, t.b, t.cap, &lb, &err) != SECUP_OK || la != lb ||
        memcmp(t.a, t.b, la) != 0)
        fuzz_common_fail("a %s other than the signed one verified", type->name);
    bufs_free(&t);
    return SECUP_OK;
}
