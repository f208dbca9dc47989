/* Fuzz target: the CBOR codec seam (lib/cbor/codec.h) on arbitrary bytes.
 *
 * Three passes over the input:
 *  1. secup_cbor_check_item() at the decoder's depth and at a deeper one: an item that is
 *     well-formed within the smaller bound is well-formed within the larger one;
 *  2. a walk with secup_cbor_skip() over the top-level items: every skipped item is a view
 *     of exactly the bytes consumed and passes check_item() on its own, and the input is
 *     one item exactly when check_item() said so;
 *  3. a walk over every head with secup_cbor_next(): the cursor moves by the head plus the
 *     string content, the typed reads agree with the head, and the writer re-encodes the
 *     head in shortest form to bytes that read back as the same item, refusing to write
 *     past a buffer one byte too small. */
/* THREAT: P1 */
#include <stdlib.h>
#include <string.h>

#include "cbor/codec.h"
#include "fuzz_common.h"

enum { DEPTH = SECUP_MAX_CBOR_DEPTH, DEEP = 64 };

static void check_rc(secup_rc rc, const struct secup_err *err, const char *call)
{
    if (rc != SECUP_OK)
        fuzz_common_check_failure(rc, err, call);
}

static void pass_check_item(struct secup_bytes in, secup_rc *one_item)
{
    struct secup_err err;
    secup_rc rc = secup_cbor_check_item(in, DEPTH, &err);
    check_rc(rc, &err, "secup_cbor_check_item");
    secup_rc deep = secup_cbor_check_item(in, DEEP, &err);
    check_rc(deep, &err, "secup_cbor_check_item (deep)");
    if (rc == SECUP_OK && deep != SECUP_OK)
        fuzz_common_fail("well-formed within depth %d but not within %d: %s", DEPTH, DEEP,
                         err.msg);
    *one_item = rc;
}

static void pass_skip(struct secup_bytes in, secup_rc one_item)
{
    struct secup_cbor_reader r;
    struct secup_err err;
    size_t items = 0;
    secup_rc rc = SECUP_OK;
    secup_cbor_reader_init(&r, in, DEPTH);
    while (!secup_cbor_at_end(&r)) {
        size_t before = r.pos;
        struct secup_bytes raw = { NULL, 0 };
        rc = secup_cbor_skip(&r, &raw, &err);
        if (rc != SECUP_OK) {
            check_rc(rc, &err, "secup_cbor_skip");
            break;
        }
        items++;
        if (r.pos <= before || r.pos > in.len)
            fuzz_common_fail("skip moved the cursor from %zu to %zu of %zu", before, r.pos,
                             in.len);
        if (raw.ptr != in.ptr + before || raw.len != r.pos - before)
            fuzz_common_fail("skip's raw view is not the %zu bytes consumed at %zu",
                             r.pos - before, before);
        rc = secup_cbor_check_item(raw, DEPTH, &err);
        if (rc != SECUP_OK)
            fuzz_common_fail("an item skip accepted fails check_item: %s [%s]", err.msg,
                             secup_rc_name(rc));
    }
    bool walk_says_one = rc == SECUP_OK && items == 1;
    if (walk_says_one != (one_item == SECUP_OK))
        fuzz_common_fail("check_item says %s, a skip walk found %zu item(s) (%s)",
                         secup_rc_name(one_item), items, secup_rc_name(rc));
}

/* The typed reads must agree with the head that peek() saw. */
static void check_typed_read(const struct secup_cbor_reader *at, const struct secup_cbor_item *it)
{
    struct secup_cbor_reader r = *at;
    struct secup_err err;
    secup_rc rc = SECUP_OK;
    uint64_t u = 0;
    int64_t i = 0;
    bool b = false;
    struct secup_bytes s = { NULL, 0 };
    struct secup_bytes wrapped = { NULL, 0 };
    switch (it->type) {
    case SECUP_CBOR_UINT:
        rc = secup_cbor_read_uint(&r, &u, "uint", &err);
        if (rc == SECUP_OK && u != it->u)
            fuzz_common_fail("read_uint gave %llu, the head says %llu", (unsigned long long)u,
                             (unsigned long long)it->u);
        r = *at;
        rc = secup_cbor_read_int(&r, &i, "int", &err);
        if (rc == SECUP_OK && (it->u > INT64_MAX || (uint64_t)i != it->u))
            fuzz_common_fail("read_int disagrees with the head");
        break;
    case SECUP_CBOR_NINT:
        rc = secup_cbor_read_int(&r, &i, "int", &err);
        if (rc == SECUP_OK && (it->u > INT64_MAX || i != -1 - (int64_t)it->u))
            fuzz_common_fail("read_int disagrees with a negative head");
        break;
    case SECUP_CBOR_BSTR:
        rc = secup_cbor_read_bstr_wrapped(&r, &s, &wrapped, "bstr", &err);
        if (rc == SECUP_OK &&
            (s.len != it->str.len || s.ptr != it->str.ptr ||
             wrapped.ptr != at->buf + it->offset || wrapped.len != it->head_len + s.len))
            fuzz_common_fail("read_bstr_wrapped disagrees with the head");
        break;
    case SECUP_CBOR_TSTR:
        rc = secup_cbor_read_tstr(&r, &s, "tstr", &err);
        if (rc == SECUP_OK && (s.len != it->str.len || s.ptr != it->str.ptr))
            fuzz_common_fail("read_tstr disagrees with the head");
        break;
    case SECUP_CBOR_ARRAY:
        rc = secup_cbor_read_array(&r, &u, "array", &err);
        if (rc == SECUP_OK && u != it->u)
            fuzz_common_fail("read_array disagrees with the head");
        break;
    case SECUP_CBOR_MAP:
        rc = secup_cbor_read_map(&r, &u, "map", &err);
        if (rc == SECUP_OK && u != it->u)
            fuzz_common_fail("read_map disagrees with the head");
        break;
    case SECUP_CBOR_TRUE:
    case SECUP_CBOR_FALSE:
        rc = secup_cbor_read_bool(&r, &b, "bool", &err);
        if (rc == SECUP_OK && b != (it->type == SECUP_CBOR_TRUE))
            fuzz_common_fail("read_bool disagrees with the head");
        break;
    case SECUP_CBOR_NULL:
        rc = secup_cbor_read_null(&r, "null", &err);
        break;
    default:
        /* A read of the wrong type must refuse with SECUP_E_TYPE. */
        rc = secup_cbor_read_uint(&r, &u, "uint", &err);
        if (rc != SECUP_E_TYPE)
            fuzz_common_fail("read_uint on a %s returned %s", secup_cbor_type_name(it->type),
                             secup_rc_name(rc));
        return;
    }
    /* The head decoded, so a read of its own type must succeed (a negative integer beyond
     * int64_t is the only allowed refusal). */
    if (rc != SECUP_OK && !(rc == SECUP_E_VALUE && it->u > INT64_MAX))
        fuzz_common_fail("typed read of a %s returned %s: %s", secup_cbor_type_name(it->type),
                         secup_rc_name(rc), err.msg);
}

static void put_head(struct secup_cbor_writer *w, const struct secup_cbor_item *it)
{
    switch (it->type) {
    case SECUP_CBOR_UINT: secup_cbor_put_uint(w, it->u); break;
    case SECUP_CBOR_NINT: secup_cbor_put_nint(w, it->u); break;
    case SECUP_CBOR_BSTR: secup_cbor_put_bstr(w, it->str); break;
    case SECUP_CBOR_TSTR: secup_cbor_put_tstr(w, it->str); break;
    case SECUP_CBOR_ARRAY: secup_cbor_put_array(w, (size_t)it->u); break;
    case SECUP_CBOR_MAP: secup_cbor_put_map(w, (size_t)it->u); break;
    case SECUP_CBOR_TAG: secup_cbor_put_tag(w, it->u); break;
    case SECUP_CBOR_TRUE: secup_cbor_put_bool(w, true); break;
    case SECUP_CBOR_FALSE: secup_cbor_put_bool(w, false); break;
    case SECUP_CBOR_NULL: secup_cbor_put_null(w); break;
    case SECUP_CBOR_UNDEFINED:
    case SECUP_CBOR_FLOAT: break;
    }
}

static void check_rewrite(const struct secup_cbor_item *it)
{
    if (it->type == SECUP_CBOR_UNDEFINED || it->type == SECUP_CBOR_FLOAT)
        return; /* the writer has no call for these */
    if ((it->type == SECUP_CBOR_ARRAY || it->type == SECUP_CBOR_MAP) &&
        (uint64_t)(size_t)it->u != it->u)
        return; /* a count the writer's size_t cannot take (32-bit hosts) */
    struct secup_err err;
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, NULL, 0);
    put_head(&w, it);
    size_t need = w.len;
    size_t str_len = it->type == SECUP_CBOR_BSTR || it->type == SECUP_CBOR_TSTR ? it->str.len : 0;
    if (need <= str_len || need - str_len > it->head_len)
        fuzz_common_fail("the writer needs %zu bytes for a %s whose head took %zu", need,
                         secup_cbor_type_name(it->type), it->head_len);

    /* One byte short: the writer must report it and stay inside the buffer (ASan). */
    uint8_t *small = malloc(need - 1 ? need - 1 : 1);
    uint8_t *buf = malloc(need);
    if (!small || !buf)
        fuzz_common_fail("out of memory");
    secup_cbor_writer_init(&w, small, need - 1);
    put_head(&w, it);
    if (secup_cbor_writer_finish(&w, &err) != SECUP_E_BUF_SMALL)
        fuzz_common_fail("the writer did not notice a buffer one byte too small");

    secup_cbor_writer_init(&w, buf, need);
    put_head(&w, it);
    secup_rc rc = secup_cbor_writer_finish(&w, &err);
    if (rc != SECUP_OK || w.len != need)
        fuzz_common_fail("writing %zu bytes: %s, %zu written", need, secup_rc_name(rc), w.len);

    struct secup_cbor_reader r;
    struct secup_cbor_item back;
    secup_cbor_reader_init(&r, secup_bytes_of(buf, need), DEPTH);
    rc = secup_cbor_next(&r, &back, &err);
    if (rc != SECUP_OK)
        fuzz_common_fail("the writer's %s does not read back: %s [%s]",
                         secup_cbor_type_name(it->type), err.msg, secup_rc_name(rc));
    if (back.type != it->type || back.u != it->u || back.str.len != str_len ||
        !secup_cbor_at_end(&r) ||
        (str_len && memcmp(back.str.ptr, it->str.ptr, str_len) != 0))
        fuzz_common_fail("the writer's %s reads back as another item",
                         secup_cbor_type_name(it->type));
    free(buf);
    free(small);
}

static void pass_heads(struct secup_bytes in)
{
    struct secup_cbor_reader r;
    struct secup_err err;
    secup_cbor_reader_init(&r, in, DEPTH);
    while (!secup_cbor_at_end(&r)) {
        struct secup_cbor_item peeked;
        struct secup_cbor_item it;
        size_t before = r.pos;
        secup_rc rc = secup_cbor_peek(&r, &peeked, &err);
        if (rc != SECUP_OK) {
            check_rc(rc, &err, "secup_cbor_peek");
            return;
        }
        if (r.pos != before)
            fuzz_common_fail("peek moved the cursor");
        check_typed_read(&r, &peeked);
        rc = secup_cbor_next(&r, &it, &err);
        if (rc != SECUP_OK)
            fuzz_common_fail("next failed where peek succeeded: %s", err.msg);
        if (it.type != peeked.type || it.u != peeked.u || it.offset != before ||
            it.head_len == 0)
            fuzz_common_fail("next and peek disagree at offset %zu", before);
        size_t str_len = 0;
        if (it.type == SECUP_CBOR_BSTR || it.type == SECUP_CBOR_TSTR) {
            str_len = it.str.len;
            if (it.str.ptr != in.ptr + before + it.head_len)
                fuzz_common_fail("string content does not follow its head at offset %zu",
                                 before);
        }
        if (r.pos - before != it.head_len + str_len || r.pos > in.len)
            fuzz_common_fail("next consumed %zu bytes for a head of %zu and %zu content bytes",
                             r.pos - before, it.head_len, str_len);
        check_rewrite(&it);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct secup_bytes in = secup_bytes_of(data, size);
    secup_rc one_item = SECUP_OK;
    pass_check_item(in, &one_item);
    pass_skip(in, one_item);
    pass_heads(in);
    return 0;
}
