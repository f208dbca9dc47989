/* The SUIT processor against a simulated device: the specification's examples (A/B
 * selection by try-each, fetch + copy + load + invoke across three components, two
 * images, write with encryption info) and the failure rules (identity conditions, soft
 * failure, try-each with and without nil, missing parameters, unknown components). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secup/process.h"
#include "testutil.h"

#define NCOMP SECUP_PROC_MAX_INDEX

/* A component's storage holds bytes and the digest that stands for them: the examples use
 * placeholder digests, so the simulated storage carries the digest its source declared. */
struct store {
    uint8_t data[128];
    size_t len;
    uint8_t digest[32];
    bool present;
};

struct remote {
    const char *uri;
    size_t len;           /* simulated image size */
    const char *digest;   /* hex of the digest the manifest expects for it */
};

struct device {
    struct store comp[NCOMP];
    uint64_t slot[NCOMP];        /* the slot each component currently runs from */
    const struct remote *remotes;
    size_t n_remotes;
    char log[2048];
    int invoked;
};

static void logf_(struct device *d, const char *fmt, ...)
{
    size_t n = strlen(d->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->log + n, sizeof(d->log) - n, fmt, ap);
    va_end(ap);
}

static void hex32(const char *hex, uint8_t out[32])
{
    size_t n = 0;
    assert_true(secup_hex_decode(hex, out, 32, &n));
    assert_int_equal(n, 32);
}

static secup_rc dev_image_match(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct device *d = ctx;
    struct secup_digest dg;
    const struct store *s = &d->comp[p->index];
    logf_(d, "match(%u) ", p->index);
    if (secup_digest_decode(&dg, p->v[SECUP_SUIT_PARAM_IMAGE_DIGEST].bytes, err) != SECUP_OK)
        return SECUP_E_VALUE;
    if (!s->present || !secup_bytes_equal(dg.bytes, secup_bytes_of(s->digest, 32)))
        return secup_err_set(err, SECUP_E_DIGEST, "component %u: digest differs", p->index);
    if (secup_proc_has(p, SECUP_SUIT_PARAM_IMAGE_SIZE) && p->v[SECUP_SUIT_PARAM_IMAGE_SIZE].u != s->len)
        return secup_err_set(err, SECUP_E_SIZE, "component %u: size differs", p->index);
    return SECUP_OK;
}

static secup_rc dev_component_slot(void *ctx, const struct secup_proc_params *p, uint64_t slot,
                                   struct secup_err *err)
{
    struct device *d = ctx;
    logf_(d, "slot(%u)=%llu? ", p->index, (unsigned long long)slot);
    if (d->slot[p->index] != slot)
        return secup_err_set(err, SECUP_E_CONDITION, "not slot %llu", (unsigned long long)slot);
    return SECUP_OK;
}

static secup_rc dev_fetch(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct device *d = ctx;
    struct secup_bytes uri = p->v[SECUP_SUIT_PARAM_URI].bytes;
    logf_(d, "fetch(%u,%.*s) ", p->index, (int)uri.len, (const char *)uri.ptr);
    for (size_t i = 0; i < d->n_remotes; i++) {
        if (uri.len == strlen(d->remotes[i].uri) && memcmp(uri.ptr, d->remotes[i].uri, uri.len) == 0) {
            struct store *s = &d->comp[p->index];
            s->len = d->remotes[i].len;
            hex32(d->remotes[i].digest, s->digest);
            s->present = true;
            return SECUP_OK;
        }
    }
    return secup_err_set(err, SECUP_E_NET, "no such resource");
}

static secup_rc dev_write(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct device *d = ctx;
    struct secup_bytes c = p->v[SECUP_SUIT_PARAM_CONTENT].bytes;
    struct store *s = &d->comp[p->index];
    logf_(d, "write(%u,%zu%s) ", p->index, c.len,
          secup_proc_has(p, SECUP_SUIT_PARAM_ENCRYPTION_INFO) ? ",encrypted" : "");
    if (c.len > sizeof(s->data))
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "too big");
    memcpy(s->data, c.ptr, c.len);
    s->len = c.len;
    s->present = true;
    return secup_sha256(c, s->digest, err);
}

static secup_rc dev_copy(void *ctx, const struct secup_proc_params *dst,
                         const struct secup_proc_params *src, struct secup_err *err)
{
    struct device *d = ctx;
    logf_(d, "copy(%u<-%u) ", dst->index, src->index);
    if (!d->comp[src->index].present)
        return secup_err_set(err, SECUP_E_NOENT, "source empty");
    d->comp[dst->index] = d->comp[src->index];
    return SECUP_OK;
}

static secup_rc dev_invoke(void *ctx, const struct secup_proc_params *p, struct secup_err *err)
{
    struct device *d = ctx;
    (void)err;
    logf_(d, "invoke(%u) ", p->index);
    d->invoked = (int)p->index;
    return SECUP_OK;
}

static const struct secup_proc_ops dev_ops = {
    .image_match = dev_image_match,
    .component_slot = dev_component_slot,
    .fetch = dev_fetch,
    .write = dev_write,
    .copy = dev_copy,
    .invoke = dev_invoke,
};

/* arm.com vendor and the examples' class */
static uint8_t vendor[16];
static uint8_t cls[16];

static struct secup_proc_identity identity(void)
{
    assert_true(secup_uuid_parse("fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe", vendor));
    assert_true(secup_uuid_parse("1492af14-2569-5e48-bf42-9b2d51f2ab45", cls));
    struct secup_proc_identity id = { 0 };
    id.vendor_ids[0] = secup_bytes_of(vendor, 16);
    id.n_vendor_ids = 1;
    id.class_ids[0] = secup_bytes_of(cls, 16);
    id.n_class_ids = 1;
    return id;
}

struct fx {
    struct secup_envelope env;
    struct secup_processor proc;
    struct device dev;
    uint8_t *buf;
};

static struct fx *load(const char *name)
{
    struct fx *f = calloc(1, sizeof(*f));
    char path[256];
    size_t len = 0;
    struct secup_err err;
    snprintf(path, sizeof(path), VECTORS "%s", name);
    f->buf = tu_read(path, &len);
    assert_int_equal(secup_envelope_decode(&f->env, secup_bytes_of(f->buf, len), NULL, &err), SECUP_OK);
    f->dev.invoked = -1;
    return f;
}

static void unload(struct fx *f)
{
    free(f->buf);
    free(f);
}

static secup_rc run(struct fx *f, enum secup_section s, const struct secup_proc_identity *id,
                    struct secup_err *err)
{
    return secup_process(&f->proc, &f->env.manifest, s, &dev_ops, &f->dev, id, err);
}

static const char *const DIGEST_A = "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";
static const char *const DIGEST_B = "0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff";

static void test_process_secure_boot_checks_identity_and_image(void **state)
{
    (void)state;
    struct fx *f = load("manifest37-ex0-signed.cbor");
    struct secup_proc_identity id = identity();
    struct secup_err err;
    /* the running image is the one the manifest describes */
    hex32(DIGEST_A, f->dev.comp[0].digest);
    f->dev.comp[0].len = 34768;
    f->dev.comp[0].present = true;
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &id, &err), SECUP_OK);
    assert_int_equal(run(f, SECUP_SECTION_INVOKE, &id, &err), SECUP_OK);
    assert_int_equal(f->dev.invoked, 0);

    f->dev.comp[0].digest[5] ^= 1;
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &id, &err), SECUP_E_DIGEST);
    assert_non_null(strstr(err.msg, "validate"));
    f->dev.comp[0].digest[5] ^= 1;
    f->dev.comp[0].len = 34767;
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &id, &err), SECUP_E_SIZE);

    struct secup_proc_identity other = id;
    uint8_t wrong[16] = { 1 };
    other.vendor_ids[0] = secup_bytes_of(wrong, 16);
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &other, &err), SECUP_E_VENDOR);
    assert_non_null(strstr(err.msg, "shared sequence"));
    other = id;
    other.class_ids[0] = secup_bytes_of(wrong, 16);
    assert_int_equal(run(f, SECUP_SECTION_INVOKE, &other, &err), SECUP_E_CLASS);
    /* a device may match several class ids */
    other.class_ids[1] = secup_bytes_of(cls, 16);
    other.n_class_ids = 2;
    f->dev.comp[0].len = 34768;
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &other, &err), SECUP_OK);
    unload(f);
}

static void test_process_install_fetches_the_manifest_uri(void **state)
{
    (void)state;
    struct fx *f = load("manifest37-ex1-signed.cbor");
    struct secup_proc_identity id = identity();
    static const struct remote r[] = { { "http://example.com/file.bin", 34768, NULL } };
    struct remote rr = r[0];
    rr.digest = DIGEST_A;
    f->dev.remotes = &rr;
    f->dev.n_remotes = 1;
    struct secup_err err;
    assert_int_equal(run(f, SECUP_SECTION_INSTALL, &id, &err), SECUP_OK);
    assert_string_equal(f->dev.log, "fetch(0,http://example.com/file.bin) match(0) ");
    /* the server delivers something else: the install fails at image-match */
    rr.digest = DIGEST_B;
    f->dev.log[0] = '\0';
    assert_int_equal(run(f, SECUP_SECTION_INSTALL, &id, &err), SECUP_E_DIGEST);
    unload(f);
}

static void test_process_try_each_selects_the_slot_variant(void **state)
{
    (void)state;
    struct fx *f = load("manifest37-ex3-signed.cbor");
    struct secup_proc_identity id = identity();
    struct secup_err err;
    /* running from slot 1: the second alternative's digest applies */
    f->dev.slot[0] = 1;
    hex32(DIGEST_B, f->dev.comp[0].digest);
    f->dev.comp[0].len = 76834;
    f->dev.comp[0].present = true;
    secup_rc rc = run(f, SECUP_SECTION_VALIDATE, &id, &err);
    if (rc != SECUP_OK)
        fail_msg("%s [%s] log=%s", err.msg, secup_rc_name(rc), f->dev.log);
    assert_non_null(strstr(f->dev.log, "slot(0)=0? slot(0)=1?"));
    /* the same image in slot 0 does not match slot 0's digest */
    f->dev.slot[0] = 0;
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &id, &err), SECUP_E_DIGEST);
    /* a slot no alternative names: try-each has no nil, so it fails */
    f->dev.slot[0] = 7;
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &id, &err), SECUP_E_CONDITION);
    assert_non_null(strstr(err.msg, "try-each"));
    unload(f);
}

static void test_process_external_storage_fetch_copy_load_invoke(void **state)
{
    (void)state;
    struct fx *f = load("manifest37-ex4-signed.cbor");
    struct secup_proc_identity id = identity();
    struct remote rr = { "http://example.com/file.bin", 34768, NULL };
    rr.digest = DIGEST_A;
    f->dev.remotes = &rr;
    f->dev.n_remotes = 1;
    struct secup_err err;
    assert_int_equal(run(f, SECUP_SECTION_PAYLOAD_FETCH, &id, &err), SECUP_OK);
    assert_int_equal(run(f, SECUP_SECTION_INSTALL, &id, &err), SECUP_OK);
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &id, &err), SECUP_OK);
    assert_string_equal(f->dev.log,
                        "fetch(1,http://example.com/file.bin) match(1) copy(0<-1) match(0) match(0) ");
    /* load copies into component 2, whose digest (B) the copy does not produce */
    assert_int_equal(run(f, SECUP_SECTION_LOAD, &id, &err), SECUP_E_DIGEST);
    assert_int_equal(f->dev.invoked, -1);
    assert_int_equal(run(f, SECUP_SECTION_INVOKE, &id, &err), SECUP_OK);
    assert_int_equal(f->dev.invoked, 2);
    unload(f);
}

static void test_process_two_images_each_checked(void **state)
{
    (void)state;
    struct fx *f = load("manifest37-ex5-signed.cbor");
    struct secup_proc_identity id = identity();
    struct remote rr[2] = { { "http://example.com/file1.bin", 34768, NULL },
                            { "http://example.com/file2.bin", 76834, NULL } };
    rr[0].digest = DIGEST_A;
    rr[1].digest = DIGEST_B;
    f->dev.remotes = rr;
    f->dev.n_remotes = 2;
    struct secup_err err;
    secup_rc rc = run(f, SECUP_SECTION_INSTALL, &id, &err);
    if (rc != SECUP_OK)
        fail_msg("%s [%s] log=%s", err.msg, secup_rc_name(rc), f->dev.log);
    assert_int_equal(run(f, SECUP_SECTION_VALIDATE, &id, &err), SECUP_OK);
    /* swap the two payloads: component 1 no longer matches */
    rr[1].digest = DIGEST_A;
    assert_int_equal(run(f, SECUP_SECTION_INSTALL, &id, &err), SECUP_E_DIGEST);
    assert_non_null(strstr(err.msg, "component 1"));
    unload(f);
}

static void test_process_write_passes_content_and_encryption_info(void **state)
{
    (void)state;
    struct fx *f = load("enc-manifest-aes-kw-content.cbor");
    struct secup_proc_identity id = identity();
    struct secup_err err;
    /* the install only writes: AES-GCM's tag protects the content, so the device's
     * write operation receives the content together with its encryption info */
    assert_int_equal(run(f, SECUP_SECTION_INSTALL, &id, &err), SECUP_OK);
    assert_string_equal(f->dev.log, "write(0,46,encrypted) ");
    unload(f);
}

static void test_process_absent_and_severed_sections(void **state)
{
    (void)state;
    struct fx *f = load("manifest37-ex2-severed-signed.cbor");
    struct secup_proc_identity id = identity();
    struct secup_err err;
    assert_int_equal(run(f, SECUP_SECTION_INSTALL, &id, &err), SECUP_E_SEVERED);
    assert_int_equal(run(f, SECUP_SECTION_UNINSTALL, &id, &err), SECUP_OK);
    assert_int_equal(run(f, SECUP_SECTION_TEXT, &id, &err), SECUP_E_ARG);
    unload(f);
}

/* Manifests built here exercise the rules the examples do not. */
static struct secup_manifest *builder(void)
{
    struct secup_manifest *m = calloc(1, sizeof(*m));
    struct secup_err err;
    secup_manifest_init(m);
    static uint8_t part = 0;
    struct secup_component_id cid = { 1, { { &part, 1 } } };
    assert_int_equal(secup_manifest_add_component(m, &cid, &err), SECUP_OK);
    return m;
}

static void test_process_soft_failure_rules(void **state)
{
    (void)state;
    struct secup_manifest *m = builder();
    struct secup_err err;
    struct device *dev = calloc(1, sizeof(*dev));
    struct secup_processor *proc = malloc(sizeof(*proc));
    struct secup_proc_identity id = identity();
    uint32_t inner = 0;
    uint32_t outer = 0;

    /* run-sequence [override soft-failure=true, abort] then invoke: the soft failure only
     * halts the inner sequence */
    assert_int_equal(secup_manifest_begin_seq(m, &inner, &err), SECUP_OK);
    struct secup_param soft = { .key = SECUP_SUIT_PARAM_SOFT_FAILURE, .value = { .kind = SECUP_VAL_BOOL, .b = true } };
    assert_int_equal(secup_manifest_append_params(m, inner, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, &soft, 1, &err), SECUP_OK);
    assert_int_equal(secup_manifest_append_policy(m, inner, SECUP_SUIT_COND_ABORT, 0, &err), SECUP_OK);
    assert_int_equal(secup_manifest_begin_seq(m, &outer, &err), SECUP_OK);
    m->commands[m->n_commands] = (struct secup_command){ .code = SECUP_SUIT_DIR_RUN_SEQUENCE, .kind = SECUP_ARG_SEQUENCE, .first = inner, .count = 1 };
    m->n_commands++;
    m->seqs[outer].count++;
    assert_int_equal(secup_manifest_append_policy(m, outer, SECUP_SUIT_DIR_INVOKE, 0, &err), SECUP_OK);
    m->members[SECUP_SECTION_INVOKE] = (struct secup_member){ .state = SECUP_MEMBER_PRESENT, .available = true, .seq = outer };
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_INVOKE, &dev_ops, dev, &id, &err), SECUP_OK);
    assert_string_equal(dev->log, "invoke(0) ");

    /* without soft failure the abort propagates and nothing is invoked */
    m->params[m->commands[m->seqs[inner].first].first].value.b = false;
    dev->log[0] = '\0';
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_INVOKE, &dev_ops, dev, &id, &err), SECUP_E_CONDITION);
    assert_string_equal(dev->log, "");

    /* soft-failure set directly in a top-level sequence is refused */
    uint32_t top = 0;
    assert_int_equal(secup_manifest_begin_seq(m, &top, &err), SECUP_OK);
    assert_int_equal(secup_manifest_append_params(m, top, SECUP_SUIT_DIR_OVERRIDE_PARAMETERS, &soft, 1, &err), SECUP_OK);
    m->members[SECUP_SECTION_LOAD] = (struct secup_member){ .state = SECUP_MEMBER_PRESENT, .available = true, .seq = top };
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_LOAD, &dev_ops, dev, &id, &err), SECUP_E_VALUE);

    /* a directive that needs a parameter nobody set */
    uint32_t fetch = 0;
    assert_int_equal(secup_manifest_begin_seq(m, &fetch, &err), SECUP_OK);
    assert_int_equal(secup_manifest_append_policy(m, fetch, SECUP_SUIT_DIR_FETCH, 0, &err), SECUP_OK);
    m->members[SECUP_SECTION_PAYLOAD_FETCH] = (struct secup_member){ .state = SECUP_MEMBER_PRESENT, .available = true, .seq = fetch };
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_PAYLOAD_FETCH, &dev_ops, dev, &id, &err), SECUP_E_MISSING);
    assert_non_null(strstr(err.msg, "uri"));

    /* an index that names no component */
    uint32_t bad = 0;
    assert_int_equal(secup_manifest_begin_seq(m, &bad, &err), SECUP_OK);
    assert_int_equal(secup_manifest_append_index(m, bad, 3, &err), SECUP_OK);
    m->members[SECUP_SECTION_UNINSTALL] = (struct secup_member){ .state = SECUP_MEMBER_PRESENT, .available = true, .seq = bad };
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_UNINSTALL, &dev_ops, dev, &id, &err), SECUP_E_VALUE);

    /* an operation the device does not offer */
    uint32_t unl = 0;
    assert_int_equal(secup_manifest_begin_seq(m, &unl, &err), SECUP_OK);
    assert_int_equal(secup_manifest_append_policy(m, unl, SECUP_SUIT_DIR_UNLINK, 0, &err), SECUP_OK);
    m->members[SECUP_SECTION_CANDIDATE_VERIFICATION] = (struct secup_member){ .state = SECUP_MEMBER_PRESENT, .available = true, .seq = unl };
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_CANDIDATE_VERIFICATION, &dev_ops, dev, &id, &err), SECUP_E_UNSUPPORTED);
    free(proc);
    free(dev);
    free(m);
}

static void test_process_try_each_nil_means_nothing_to_do(void **state)
{
    (void)state;
    struct secup_manifest *m = builder();
    struct secup_err err;
    struct device *dev = calloc(1, sizeof(*dev));
    struct secup_processor *proc = malloc(sizeof(*proc));
    struct secup_proc_identity id = identity();
    uint32_t a = 0;
    uint32_t b = 0;
    uint32_t top = 0;
    /* two sequences, allocated adjacently: each just aborts */
    assert_int_equal(secup_manifest_begin_seq(m, &a, &err), SECUP_OK);
    assert_int_equal(secup_manifest_append_policy(m, a, SECUP_SUIT_COND_ABORT, 0, &err), SECUP_OK);
    assert_int_equal(secup_manifest_begin_seq(m, &b, &err), SECUP_OK);
    assert_int_equal(secup_manifest_append_policy(m, b, SECUP_SUIT_COND_ABORT, 0, &err), SECUP_OK);
    assert_int_equal(b, a + 1);
    assert_int_equal(secup_manifest_begin_seq(m, &top, &err), SECUP_OK);
    m->commands[m->n_commands] = (struct secup_command){ .code = SECUP_SUIT_DIR_TRY_EACH, .kind = SECUP_ARG_TRY_EACH, .first = a, .count = 2, .try_each_nil = true };
    m->n_commands++;
    m->seqs[top].count++;
    assert_int_equal(secup_manifest_append_policy(m, top, SECUP_SUIT_DIR_INVOKE, 0, &err), SECUP_OK);
    m->members[SECUP_SECTION_INVOKE] = (struct secup_member){ .state = SECUP_MEMBER_PRESENT, .available = true, .seq = top };
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_INVOKE, &dev_ops, dev, &id, &err), SECUP_OK);
    assert_string_equal(dev->log, "invoke(0) ");
    m->commands[m->seqs[top].first].try_each_nil = false;
    assert_int_equal(secup_process(proc, m, SECUP_SECTION_INVOKE, &dev_ops, dev, &id, &err), SECUP_E_CONDITION);
    free(proc);
    free(dev);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_secure_boot_checks_identity_and_image),
        cmocka_unit_test(test_process_install_fetches_the_manifest_uri),
        cmocka_unit_test(test_process_try_each_selects_the_slot_variant),
        cmocka_unit_test(test_process_external_storage_fetch_copy_load_invoke),
        cmocka_unit_test(test_process_two_images_each_checked),
        cmocka_unit_test(test_process_write_passes_content_and_encryption_info),
        cmocka_unit_test(test_process_absent_and_severed_sections),
        cmocka_unit_test(test_process_soft_failure_rules),
        cmocka_unit_test(test_process_try_each_nil_means_nothing_to_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
