/* lib/cbor/codec.h on hand-made CBOR (RFC 8949): the pull reader decodes every major type
 * and tag heads itself, refuses indefinite lengths, truncation, impossible lengths and
 * deep nesting with the documented codes; the writer emits shortest-form heads, answers
 * size queries and never writes past its capacity.
 *
 * Every input is copied into a heap buffer of exactly its length, so that AddressSanitizer
 * reports any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cbor/codec.h"
#include "testutil.h"

#define DEPTH 16
#define CANARY 0xa5

struct hex {
    const uint8_t *p;
    size_t len;
};

#define H(...)                                                                                     \
    {                                                                                              \
        (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})                     \
    }

/* A heap copy of exactly len bytes (at least one allocated byte for len 0). */
static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    assert_non_null(b);
    if (len)
        memcpy(b, p, len);
    return b;
}

static secup_rc next_of(const uint8_t *p, size_t len, struct secup_cbor_item *it, size_t *pos)
{
    uint8_t *b = dup_exact(p, len);
    struct secup_cbor_reader r;
    struct secup_err err;
    secup_cbor_reader_init(&r, secup_bytes_of(b, len), DEPTH);
    secup_rc rc = secup_cbor_next(&r, it, &err);
    if (pos)
        *pos = r.pos;
    /* Views must not outlive b: keep offsets only. */
    if (rc == SECUP_OK && (it->type == SECUP_CBOR_BSTR || it->type == SECUP_CBOR_TSTR)) {
        assert_true(it->str.ptr >= b && it->str.ptr + it->str.len <= b + len);
        it->str.ptr = p + (it->str.ptr - b);
    }
    free(b);
    return rc;
}

static secup_rc check_of(const uint8_t *p, size_t len, unsigned depth)
{
    uint8_t *b = dup_exact(p, len);
    struct secup_err err;
    secup_rc rc = secup_cbor_check_item(secup_bytes_of(b, len), depth, &err);
    free(b);
    return rc;
}

/* ---- reader: one head of every kind ---- */

static const uint8_t str24[] = {0x58, 0x18, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                12,   13,   14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};

static const struct {
    const char *what;
    struct hex in;
    enum secup_cbor_type type;
    uint64_t u;
    size_t head_len;
    size_t consumed;
} heads[] = {
    {"uint 0", H(0x00), SECUP_CBOR_UINT, 0, 1, 1},
    {"uint 23", H(0x17), SECUP_CBOR_UINT, 23, 1, 1},
    {"uint 24", H(0x18, 0x18), SECUP_CBOR_UINT, 24, 2, 2},
    {"uint 255", H(0x18, 0xff), SECUP_CBOR_UINT, 255, 2, 2},
    {"uint 256", H(0x19, 0x01, 0x00), SECUP_CBOR_UINT, 256, 3, 3},
    {"uint 65536", H(0x1a, 0x00, 0x01, 0x00, 0x00), SECUP_CBOR_UINT, 65536, 5, 5},
    {"uint 2^32", H(0x1b, 0, 0, 0, 1, 0, 0, 0, 0), SECUP_CBOR_UINT, UINT64_C(1) << 32, 9, 9},
    {"uint max", H(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SECUP_CBOR_UINT,
     UINT64_MAX, 9, 9},
    {"nint -1", H(0x20), SECUP_CBOR_NINT, 0, 1, 1},
    {"nint -100", H(0x38, 0x63), SECUP_CBOR_NINT, 99, 2, 2},
    {"nint -1-max", H(0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SECUP_CBOR_NINT,
     UINT64_MAX, 9, 9},
    {"bstr empty", H(0x40), SECUP_CBOR_BSTR, 0, 1, 1},
    {"bstr 3", H(0x43, 0x01, 0x02, 0x03), SECUP_CBOR_BSTR, 3, 1, 4},
    {"bstr 24", {str24, sizeof(str24)}, SECUP_CBOR_BSTR, 24, 2, 26},
    {"bstr 2-byte length", H(0x59, 0x00, 0x01, 0xaa), SECUP_CBOR_BSTR, 1, 3, 4},
    {"tstr empty", H(0x60), SECUP_CBOR_TSTR, 0, 1, 1},
    {"tstr IETF", H(0x64, 'I', 'E', 'T', 'F'), SECUP_CBOR_TSTR, 4, 1, 5},
    {"array 0", H(0x80), SECUP_CBOR_ARRAY, 0, 1, 1},
    {"array 3 (head only)", H(0x83, 0x01, 0x02, 0x03), SECUP_CBOR_ARRAY, 3, 1, 1},
    {"array 25", H(0x98, 0x19), SECUP_CBOR_ARRAY, 25, 2, 2},
    {"map 0", H(0xa0), SECUP_CBOR_MAP, 0, 1, 1},
    {"map 1 (head only)", H(0xa1, 0x01, 0x02), SECUP_CBOR_MAP, 1, 1, 1},
    {"tag 0", H(0xc0, 0x60), SECUP_CBOR_TAG, 0, 1, 1},
    {"tag 1", H(0xc1, 0x00), SECUP_CBOR_TAG, 1, 1, 1},
    {"tag 17 COSE_Mac0", H(0xd1, 0x84), SECUP_CBOR_TAG, 17, 1, 1},
    {"tag 18 COSE_Sign1", H(0xd2, 0x84), SECUP_CBOR_TAG, 18, 1, 1},
    {"tag 23", H(0xd7, 0x40), SECUP_CBOR_TAG, 23, 1, 1},
    {"tag 24", H(0xd8, 0x18, 0x40), SECUP_CBOR_TAG, 24, 2, 2},
    {"tag 98 COSE_Sign", H(0xd8, 0x62, 0x84), SECUP_CBOR_TAG, 98, 2, 2},
    {"tag 107 SUIT envelope", H(0xd8, 0x6b, 0xa0), SECUP_CBOR_TAG, 107, 2, 2},
    {"tag 1070 SUIT manifest", H(0xd9, 0x04, 0x2e, 0xa0), SECUP_CBOR_TAG, 1070, 3, 3},
    {"tag 65536", H(0xda, 0x00, 0x01, 0x00, 0x00, 0x00), SECUP_CBOR_TAG, 65536, 5, 5},
    {"tag max", H(0xdb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00), SECUP_CBOR_TAG,
     UINT64_MAX, 9, 9},
    {"false", H(0xf4), SECUP_CBOR_FALSE, 0, 1, 1},
    {"true", H(0xf5), SECUP_CBOR_TRUE, 0, 1, 1},
    {"null", H(0xf6), SECUP_CBOR_NULL, 0, 1, 1},
    {"undefined", H(0xf7), SECUP_CBOR_UNDEFINED, 0, 1, 1},
    {"half float", H(0xf9, 0x3c, 0x00), SECUP_CBOR_FLOAT, 0, 3, 3},
    {"single float", H(0xfa, 0x47, 0xc3, 0x50, 0x00), SECUP_CBOR_FLOAT, 0, 5, 5},
    {"double float", H(0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a), SECUP_CBOR_FLOAT, 0,
     9, 9},
};

static void test_codec_next_decodes_every_major_type_head(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(heads); i++) {
        struct secup_cbor_item it;
        size_t pos = 0;
        secup_rc rc = next_of(heads[i].in.p, heads[i].in.len, &it, &pos);
        if (rc != SECUP_OK)
            fail_msg("%s: %s", heads[i].what, secup_rc_name(rc));
        if (it.type != heads[i].type || it.u != heads[i].u || it.head_len != heads[i].head_len ||
            pos != heads[i].consumed || it.offset != 0)
            fail_msg("%s: type %s u %llu head %zu consumed %zu", heads[i].what,
                     secup_cbor_type_name(it.type), (unsigned long long)it.u, it.head_len, pos);
        if (it.type == SECUP_CBOR_BSTR || it.type == SECUP_CBOR_TSTR) {
            assert_int_equal(it.str.len, it.u);
            assert_ptr_equal(it.str.ptr, heads[i].in.p + it.head_len);
        }
    }
}

/* libcbor 0.8 refuses the one-byte tag heads 0xc6..0xd4 as "unassigned"; COSE needs 17
 * and 18 among them, so every one-byte tag must decode. */
static void test_codec_next_decodes_every_one_byte_tag_head(void **state)
{
    (void)state;
    for (uint8_t t = 0; t < 24; t++) {
        const uint8_t in[2] = {(uint8_t)(0xc0 | t), 0x00};
        struct secup_cbor_item it;
        size_t pos = 0;
        secup_rc rc = next_of(in, sizeof(in), &it, &pos);
        if (rc != SECUP_OK || it.type != SECUP_CBOR_TAG || it.u != t || pos != 1)
            fail_msg("tag %u: %s", t, secup_rc_name(rc));
        assert_int_equal(check_of(in, sizeof(in), DEPTH), SECUP_OK);
    }
}

static void test_codec_peek_does_not_move_the_cursor(void **state)
{
    (void)state;
    static const uint8_t in[] = {0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40};
    struct secup_cbor_reader r;
    struct secup_cbor_item a;
    struct secup_cbor_item b;
    secup_cbor_reader_init(&r, secup_bytes_of(in, sizeof(in)), DEPTH);
    assert_int_equal(secup_cbor_peek(&r, &a, NULL), SECUP_OK);
    assert_int_equal(r.pos, 0);
    assert_int_equal(secup_cbor_next(&r, &b, NULL), SECUP_OK);
    assert_int_equal(a.type, b.type);
    assert_int_equal(a.u, b.u);
    assert_int_equal(r.pos, 1);
}

/* ---- reader: refusals ---- */

static const struct {
    const char *what;
    struct hex in;
    secup_rc want;
} bad_heads[] = {
    {"empty input", {(const uint8_t *)"", 0}, SECUP_E_CBOR},
    {"uint reserved 28", H(0x1c), SECUP_E_CBOR},
    {"uint reserved 29", H(0x1d), SECUP_E_CBOR},
    {"uint reserved 30", H(0x1e), SECUP_E_CBOR},
    {"uint info 31", H(0x1f), SECUP_E_CBOR},
    {"nint reserved 28", H(0x3c), SECUP_E_CBOR},
    {"tag reserved 28", H(0xdc, 0x00), SECUP_E_CBOR},
    {"tag reserved 30", H(0xde, 0x00), SECUP_E_CBOR},
    {"tag info 31", H(0xdf, 0x00), SECUP_E_CBOR},
    {"indefinite bstr", H(0x5f, 0x41, 0x00, 0xff), SECUP_E_INDEFINITE},
    {"indefinite tstr", H(0x7f, 0x61, 'a', 0xff), SECUP_E_INDEFINITE},
    {"indefinite array", H(0x9f, 0x01, 0xff), SECUP_E_INDEFINITE},
    {"indefinite map", H(0xbf, 0x01, 0x02, 0xff), SECUP_E_INDEFINITE},
    {"bstr 2^64-1 bytes", H(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SECUP_E_CBOR},
    {"bstr 2^64-1 bytes, some present",
     H(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4), SECUP_E_CBOR},
    {"bstr 2^63 bytes", H(0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2), SECUP_E_CBOR},
    {"bstr 2^64-9 bytes (head + length wraps)",
     H(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf7, 1, 2, 3), SECUP_E_CBOR},
    {"bstr 2^32 bytes", H(0x5b, 0, 0, 0, 1, 0, 0, 0, 0, 1), SECUP_E_CBOR},
    {"bstr 2^32-1 bytes", H(0x5a, 0xff, 0xff, 0xff, 0xff, 1), SECUP_E_CBOR},
    {"tstr 2^64-1 bytes", H(0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SECUP_E_CBOR},
    {"bstr one byte short", H(0x43, 0x01, 0x02), SECUP_E_CBOR},
    {"simple value 0", H(0xe0), SECUP_E_CBOR},
    {"simple value 19", H(0xf3), SECUP_E_CBOR},
    {"two-byte simple value", H(0xf8, 0x20), SECUP_E_CBOR},
    {"float info 28", H(0xfc), SECUP_E_CBOR},
};

static void test_codec_next_refuses_malformed_heads_with_their_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad_heads); i++) {
        struct secup_cbor_item it;
        secup_rc rc = next_of(bad_heads[i].in.p, bad_heads[i].in.len, &it, NULL);
        if (rc != bad_heads[i].want)
            fail_msg("%s: %s, expected %s", bad_heads[i].what, secup_rc_name(rc),
                     secup_rc_name(bad_heads[i].want));
        rc = check_of(bad_heads[i].in.p, bad_heads[i].in.len, DEPTH);
        if (rc != bad_heads[i].want)
            fail_msg("%s (check_item): %s, expected %s", bad_heads[i].what, secup_rc_name(rc),
                     secup_rc_name(bad_heads[i].want));
    }
}

static void test_codec_lone_break_is_refused(void **state)
{
    (void)state;
    static const uint8_t in[] = {0xff};
    struct secup_cbor_item it;
    secup_rc rc = next_of(in, sizeof(in), &it, NULL);
    assert_true(rc == SECUP_E_CBOR || rc == SECUP_E_INDEFINITE);
}

/* Counts that the input cannot hold are refused before anything loops over them. */
static const struct {
    const char *what;
    struct hex in;
} huge_counts[] = {
    {"array 2^64-1", H(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00)},
    {"array 2^32", H(0x9b, 0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0x00)},
    {"map 2^63", H(0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00)},
    {"map 2^64-1", H(0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00)},
    {"map 2^62", H(0xbb, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x00)},
    {"array 3 with 2 items", H(0x83, 0x01, 0x02)},
    {"map 2 with 3 items", H(0xa2, 0x01, 0x02, 0x03)},
    {"tag without content", H(0xd2)},
    {"nested array short", H(0x81, 0x82, 0x01)},
};

static void test_codec_check_item_refuses_counts_the_input_cannot_hold(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(huge_counts); i++) {
        secup_rc rc = check_of(huge_counts[i].in.p, huge_counts[i].in.len, DEPTH);
        if (rc != SECUP_E_CBOR)
            fail_msg("%s: %s", huge_counts[i].what, secup_rc_name(rc));
    }
}

/* One item using every major type, tags 17/18/107, nesting and multi-byte heads. */
static const uint8_t composite[] = {
    0xd8, 0x6b,                                                 /* 107( */
    0xa4,                                                       /* {4 pairs} */
    0x02, 0x84,                                                 /* 2: [ */
    0xd2, 0x84, 0x41, 0xa0, 0xa0, 0xf6, 0x40,                   /* 18([h'a0', {}, null, h'']), */
    0xd1, 0x84, 0x20,                                           /* 17([-1, */
    0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,       /* -2^64, */
    0xf5, 0x1b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* true, 2^32]), */
    0xf4, 0xf7,                                                 /* false, undefined ], */
    0x03, 0x64, 'S',  'U',  'I',  'T',                          /* 3: "SUIT", */
    0x19, 0x01, 0x00, 0x82, 0xf9, 0x3c, 0x00, 0x80,             /* 256: [1.0, []], */
    0x38, 0x18, 0x5a, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03, /* -25: h'010203' */
};

static void test_codec_composite_item_is_well_formed(void **state)
{
    (void)state;
    /* A self-check of the fixture, so the truncation sweep starts from a valid item. */
    assert_int_equal(check_of(composite, sizeof(composite), DEPTH), SECUP_OK);
    uint8_t *b = dup_exact(composite, sizeof(composite));
    struct secup_cbor_reader r;
    struct secup_bytes raw;
    secup_cbor_reader_init(&r, secup_bytes_of(b, sizeof(composite)), DEPTH);
    assert_int_equal(secup_cbor_skip(&r, &raw, NULL), SECUP_OK);
    assert_ptr_equal(raw.ptr, b);
    assert_int_equal(raw.len, sizeof(composite));
    assert_true(secup_cbor_at_end(&r));
    free(b);
}

static void test_codec_every_truncation_of_an_item_is_malformed(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof(composite); n++) {
        secup_rc rc = check_of(composite, n, DEPTH);
        if (rc != SECUP_E_CBOR)
            fail_msg("prefix of %zu bytes: %s", n, secup_rc_name(rc));
    }
}

static void test_codec_every_truncation_of_a_head_is_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(heads); i++) {
        for (size_t n = 0; n < heads[i].consumed; n++) {
            struct secup_cbor_item it;
            secup_rc rc = next_of(heads[i].in.p, n, &it, NULL);
            if (rc != SECUP_E_CBOR)
                fail_msg("%s cut to %zu bytes: %s", heads[i].what, n, secup_rc_name(rc));
        }
    }
}

/* ---- nesting ---- */

/* n nested containers of the given head byte (0x81 array(1), 0xa1 map(1) with key 0,
 * 0xc1 tag 1) around the integer 0. max_depth counts item levels: n containers around a
 * leaf are n + 1 levels. */
static uint8_t *nest(uint8_t head, size_t n, size_t *len)
{
    size_t per = head == 0xa1 ? 2 : 1;
    *len = n * per + 1;
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        b[i * per] = head;
        if (per == 2)
            b[i * per + 1] = 0x00;
    }
    b[*len - 1] = 0x00;
    return b;
}

static void test_codec_nesting_within_max_depth_is_accepted(void **state)
{
    (void)state;
    static const uint8_t kinds[] = {0x81, 0xa1, 0xc1};
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        for (unsigned depth = 2; depth <= 20; depth++) {
            size_t len = 0;
            uint8_t *b = nest(kinds[k], depth - 1, &len);
            secup_rc rc = secup_cbor_check_item(secup_bytes_of(b, len), depth, NULL);
            if (rc != SECUP_OK)
                fail_msg("head 0x%02x, %u levels, max_depth %u: %s", kinds[k], depth, depth,
                         secup_rc_name(rc));
            free(b);
        }
    }
}

static void test_codec_nesting_deeper_than_max_depth_gives_limit_depth(void **state)
{
    (void)state;
    static const uint8_t kinds[] = {0x81, 0xa1, 0xc1};
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        for (unsigned depth = 1; depth <= 20; depth++) {
            size_t len = 0;
            uint8_t *b = nest(kinds[k], depth, &len);
            secup_rc rc = secup_cbor_check_item(secup_bytes_of(b, len), depth, NULL);
            if (rc != SECUP_E_LIMIT_DEPTH)
                fail_msg("head 0x%02x, %u levels, max_depth %u: %s", kinds[k], depth + 1, depth,
                         secup_rc_name(rc));
            free(b);
        }
    }
}

static void test_codec_very_deep_nesting_gives_limit_depth_without_recursion(void **state)
{
    (void)state;
    /* Far beyond any C stack a recursive skip would survive, and beyond the skipper's own
     * level table even when the caller asks for a larger bound. */
    static const unsigned bounds[] = {DEPTH, 64, 65, 1000, 100000, 0xffffffffu};
    size_t len = 0;
    uint8_t *b = nest(0x81, 200000, &len);
    for (size_t i = 0; i < ARRAY_SIZE(bounds); i++) {
        secup_rc rc = secup_cbor_check_item(secup_bytes_of(b, len), bounds[i], NULL);
        if (rc != SECUP_E_LIMIT_DEPTH)
            fail_msg("max_depth %u: %s", bounds[i], secup_rc_name(rc));
    }
    free(b);
}

static void test_codec_check_item_trailing_bytes_give_trailing(void **state)
{
    (void)state;
    const struct {
        const char *what;
        struct hex in;
    } cases[] = {
        {"two integers", H(0x01, 0x02)},
        {"array then zero", H(0x81, 0x01, 0x00)},
        {"empty map then break", H(0xa0, 0xff)},
        {"tag item then byte", H(0xd2, 0x40, 0x40)},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        secup_rc rc = check_of(cases[i].in.p, cases[i].in.len, DEPTH);
        if (rc != SECUP_E_TRAILING)
            fail_msg("%s: %s", cases[i].what, secup_rc_name(rc));
    }
}

/* ---- typed reads ---- */

static void test_codec_typed_read_of_another_type_gives_type(void **state)
{
    (void)state;
    static const uint8_t tstr[] = {0x61, 'a'};
    static const uint8_t uint1[] = {0x01};
    struct secup_cbor_reader r;
    uint64_t u = 7;
    int64_t i = 7;
    bool b = true;
    struct secup_bytes s;
    struct secup_err err;

    secup_cbor_reader_init(&r, secup_bytes_of(tstr, sizeof(tstr)), DEPTH);
    assert_int_equal(secup_cbor_read_uint(&r, &u, "x", &err), SECUP_E_TYPE);
    assert_int_equal(u, 0);
    secup_cbor_reader_init(&r, secup_bytes_of(tstr, sizeof(tstr)), DEPTH);
    assert_int_equal(secup_cbor_read_int(&r, &i, "x", &err), SECUP_E_TYPE);
    secup_cbor_reader_init(&r, secup_bytes_of(tstr, sizeof(tstr)), DEPTH);
    assert_int_equal(secup_cbor_read_bstr(&r, &s, "x", &err), SECUP_E_TYPE);
    assert_null(s.ptr);
    secup_cbor_reader_init(&r, secup_bytes_of(uint1, sizeof(uint1)), DEPTH);
    assert_int_equal(secup_cbor_read_tstr(&r, &s, "x", &err), SECUP_E_TYPE);
    secup_cbor_reader_init(&r, secup_bytes_of(uint1, sizeof(uint1)), DEPTH);
    assert_int_equal(secup_cbor_read_array(&r, &u, "x", &err), SECUP_E_TYPE);
    secup_cbor_reader_init(&r, secup_bytes_of(uint1, sizeof(uint1)), DEPTH);
    assert_int_equal(secup_cbor_read_map(&r, &u, "x", &err), SECUP_E_TYPE);
    secup_cbor_reader_init(&r, secup_bytes_of(uint1, sizeof(uint1)), DEPTH);
    assert_int_equal(secup_cbor_read_bool(&r, &b, "x", &err), SECUP_E_TYPE);
    assert_false(b);
    secup_cbor_reader_init(&r, secup_bytes_of(uint1, sizeof(uint1)), DEPTH);
    assert_int_equal(secup_cbor_read_null(&r, "x", &err), SECUP_E_TYPE);
}

static void test_codec_read_int_covers_int64_and_refuses_beyond(void **state)
{
    (void)state;
    const struct {
        struct hex in;
        secup_rc want;
        int64_t value;
    } cases[] = {
        {H(0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SECUP_OK, INT64_MAX},
        {H(0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SECUP_OK, INT64_MIN},
        {H(0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0), SECUP_E_VALUE, 0},
        {H(0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0), SECUP_E_VALUE, 0},
        {H(0x38, 0x18), SECUP_OK, -25},
        {H(0x17), SECUP_OK, 23},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct secup_cbor_reader r;
        int64_t v = 99;
        secup_cbor_reader_init(&r, secup_bytes_of(cases[i].in.p, cases[i].in.len), DEPTH);
        assert_int_equal(secup_cbor_read_int(&r, &v, "x", NULL), cases[i].want);
        assert_true(v == cases[i].value);
    }
}

static void test_codec_read_bstr_wrapped_views_head_and_content(void **state)
{
    (void)state;
    struct secup_cbor_reader r;
    struct secup_bytes content;
    struct secup_bytes wrapped;
    secup_cbor_reader_init(&r, secup_bytes_of(str24, sizeof(str24)), DEPTH);
    assert_int_equal(secup_cbor_read_bstr_wrapped(&r, &content, &wrapped, "x", NULL), SECUP_OK);
    assert_ptr_equal(wrapped.ptr, str24);
    assert_int_equal(wrapped.len, sizeof(str24));
    assert_ptr_equal(content.ptr, str24 + 2);
    assert_int_equal(content.len, 24);
    assert_true(secup_cbor_at_end(&r));
}

/* ---- writer ---- */

typedef void (*put_fn)(struct secup_cbor_writer *w, uint64_t v);

static void put_uint(struct secup_cbor_writer *w, uint64_t v)
{
    secup_cbor_put_uint(w, v);
}
static void put_nint(struct secup_cbor_writer *w, uint64_t v)
{
    secup_cbor_put_nint(w, v);
}
static void put_int(struct secup_cbor_writer *w, uint64_t v)
{
    secup_cbor_put_int(w, (int64_t)v);
}
static void put_bstr_head(struct secup_cbor_writer *w, uint64_t v)
{
    secup_cbor_put_bstr_head(w, (size_t)v);
}
static void put_array(struct secup_cbor_writer *w, uint64_t v)
{
    secup_cbor_put_array(w, (size_t)v);
}
static void put_map(struct secup_cbor_writer *w, uint64_t v)
{
    secup_cbor_put_map(w, (size_t)v);
}
static void put_tag(struct secup_cbor_writer *w, uint64_t v)
{
    secup_cbor_put_tag(w, v);
}
static void put_simple(struct secup_cbor_writer *w, uint64_t v)
{
    if (v == 2)
        secup_cbor_put_null(w);
    else
        secup_cbor_put_bool(w, v == 1);
}

static const struct {
    const char *what;
    put_fn put;
    uint64_t v;
    struct hex want;
} writes[] = {
    {"uint 0", put_uint, 0, H(0x00)},
    {"uint 23", put_uint, 23, H(0x17)},
    {"uint 24", put_uint, 24, H(0x18, 0x18)},
    {"uint 255", put_uint, 255, H(0x18, 0xff)},
    {"uint 256", put_uint, 256, H(0x19, 0x01, 0x00)},
    {"uint 65535", put_uint, 65535, H(0x19, 0xff, 0xff)},
    {"uint 65536", put_uint, 65536, H(0x1a, 0x00, 0x01, 0x00, 0x00)},
    {"uint 2^32-1", put_uint, UINT32_MAX, H(0x1a, 0xff, 0xff, 0xff, 0xff)},
    {"uint 2^32", put_uint, UINT64_C(1) << 32, H(0x1b, 0, 0, 0, 1, 0, 0, 0, 0)},
    {"uint max", put_uint, UINT64_MAX, H(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
    {"nint -1", put_nint, 0, H(0x20)},
    {"nint -24", put_nint, 23, H(0x37)},
    {"nint -25", put_nint, 24, H(0x38, 0x18)},
    {"nint -256", put_nint, 255, H(0x38, 0xff)},
    {"nint -257", put_nint, 256, H(0x39, 0x01, 0x00)},
    {"nint -65537", put_nint, 65536, H(0x3a, 0x00, 0x01, 0x00, 0x00)},
    {"nint -2^32-1", put_nint, UINT64_C(1) << 32, H(0x3b, 0, 0, 0, 1, 0, 0, 0, 0)},
    {"nint -2^64", put_nint, UINT64_MAX, H(0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
    {"int -1", put_int, (uint64_t)INT64_C(-1), H(0x20)},
    {"int -7 (ES256)", put_int, (uint64_t)INT64_C(-7), H(0x26)},
    {"int -16 (SHA-256)", put_int, (uint64_t)INT64_C(-16), H(0x2f)},
    {"int -25", put_int, (uint64_t)INT64_C(-25), H(0x38, 0x18)},
    {"int min", put_int, (uint64_t)INT64_MIN,
     H(0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
    {"int max", put_int, (uint64_t)INT64_MAX,
     H(0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
    {"int 24", put_int, 24, H(0x18, 0x18)},
    {"bstr head 0", put_bstr_head, 0, H(0x40)},
    {"bstr head 23", put_bstr_head, 23, H(0x57)},
    {"bstr head 24", put_bstr_head, 24, H(0x58, 0x18)},
    {"bstr head 256", put_bstr_head, 256, H(0x59, 0x01, 0x00)},
    {"bstr head 65536", put_bstr_head, 65536, H(0x5a, 0x00, 0x01, 0x00, 0x00)},
    {"array 0", put_array, 0, H(0x80)},
    {"array 24", put_array, 24, H(0x98, 0x18)},
    {"array 65535", put_array, 65535, H(0x99, 0xff, 0xff)},
    {"map 1", put_map, 1, H(0xa1)},
    {"map 255", put_map, 255, H(0xb8, 0xff)},
    {"map 2^32", put_map, UINT64_C(1) << 32, H(0xbb, 0, 0, 0, 1, 0, 0, 0, 0)},
    {"tag 17", put_tag, 17, H(0xd1)},
    {"tag 18", put_tag, 18, H(0xd2)},
    {"tag 24", put_tag, 24, H(0xd8, 0x18)},
    {"tag 107", put_tag, 107, H(0xd8, 0x6b)},
    {"tag 1070", put_tag, 1070, H(0xd9, 0x04, 0x2e)},
    {"tag max", put_tag, UINT64_MAX, H(0xdb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
    {"false", put_simple, 0, H(0xf4)},
    {"true", put_simple, 1, H(0xf5)},
    {"null", put_simple, 2, H(0xf6)},
};

static void test_codec_writer_emits_shortest_form_heads_at_boundaries(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(writes); i++) {
        uint8_t buf[16];
        struct secup_cbor_writer w;
        secup_cbor_writer_init(&w, buf, sizeof(buf));
        writes[i].put(&w, writes[i].v);
        assert_int_equal(secup_cbor_writer_finish(&w, NULL), SECUP_OK);
        if (w.len != writes[i].want.len || memcmp(buf, writes[i].want.p, w.len) != 0)
            fail_msg("%s: %zu bytes, first 0x%02x", writes[i].what, w.len, buf[0]);
    }
}

static void test_codec_writer_heads_read_back_as_written(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(writes); i++) {
        if (writes[i].put == put_bstr_head || writes[i].put == put_int)
            continue; /* a bstr head alone is truncated; ints are covered by read_int */
        struct secup_cbor_item it;
        size_t pos = 0;
        secup_rc rc = next_of(writes[i].want.p, writes[i].want.len, &it, &pos);
        if (rc != SECUP_OK || pos != writes[i].want.len)
            fail_msg("%s: %s", writes[i].what, secup_rc_name(rc));
        if (writes[i].put != put_simple && it.u != writes[i].v)
            fail_msg("%s: read back %llu", writes[i].what, (unsigned long long)it.u);
    }
}

/* A document touching every writer call. */
static void put_doc(struct secup_cbor_writer *w)
{
    static const uint8_t bytes[300] = {1, 2, 3};
    secup_cbor_put_tag(w, 107);
    secup_cbor_put_map(w, 4);
    secup_cbor_put_uint(w, 2);
    secup_cbor_put_bstr(w, secup_bytes_of(bytes, sizeof(bytes)));
    secup_cbor_put_uint(w, 3);
    secup_cbor_put_array(w, 5);
    secup_cbor_put_int(w, -16);
    secup_cbor_put_nint(w, 1000);
    secup_cbor_put_bool(w, true);
    secup_cbor_put_null(w);
    secup_cbor_put_raw(w, secup_bytes_of((const uint8_t[]){0xa1, 0x01, 0x26}, 3));
    secup_cbor_put_tstr_cstr(w, "#payload");
    secup_cbor_put_tstr(w, secup_bytes_of("x", 1));
    secup_cbor_put_uint(w, UINT64_MAX);
    secup_cbor_put_bstr_head(w, 2);
    secup_cbor_put_raw(w, secup_bytes_of("ab", 2));
}

static size_t doc_len(void)
{
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, NULL, 0);
    put_doc(&w);
    return w.len;
}

static void test_codec_writer_size_query_with_null_buffer_equals_real_size(void **state)
{
    (void)state;
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, NULL, 12345);
    put_doc(&w);
    size_t query = w.len;
    assert_int_equal(secup_cbor_writer_finish(&w, NULL), SECUP_E_BUF_SMALL);

    uint8_t *buf = malloc(query);
    assert_non_null(buf);
    secup_cbor_writer_init(&w, buf, query);
    put_doc(&w);
    assert_int_equal(w.len, query);
    assert_int_equal(secup_cbor_writer_finish(&w, NULL), SECUP_OK);
    assert_int_equal(secup_cbor_check_item(secup_bytes_of(buf, query), DEPTH, NULL), SECUP_OK);
    free(buf);
}

static void test_codec_writer_short_capacity_gives_buf_small_and_no_write_past_cap(void **state)
{
    (void)state;
    size_t full = doc_len();
    uint8_t *good = malloc(full);
    assert_non_null(good);
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, good, full);
    put_doc(&w);
    assert_int_equal(secup_cbor_writer_finish(&w, NULL), SECUP_OK);

    uint8_t *buf = malloc(full + 32);
    assert_non_null(buf);
    for (size_t cap = 0; cap <= full; cap++) {
        memset(buf, CANARY, full + 32);
        secup_cbor_writer_init(&w, buf, cap);
        put_doc(&w);
        struct secup_err err;
        secup_rc rc = secup_cbor_writer_finish(&w, &err);
        assert_int_equal(w.len, full);
        if (cap < full) {
            if (rc != SECUP_E_BUF_SMALL)
                fail_msg("cap %zu of %zu: %s", cap, full, secup_rc_name(rc));
            assert_int_equal(err.rc, SECUP_E_BUF_SMALL);
        } else {
            assert_int_equal(rc, SECUP_OK);
            assert_memory_equal(buf, good, full);
        }
        for (size_t i = cap; i < full + 32; i++) {
            if (buf[i] != CANARY)
                fail_msg("cap %zu: byte %zu written", cap, i);
        }
        /* What was written is a prefix of the real encoding (never garbage). */
        for (size_t i = 0; i < cap; i++) {
            if (buf[i] != CANARY && buf[i] != good[i])
                fail_msg("cap %zu: byte %zu differs from the full encoding", cap, i);
        }
    }
    free(buf);
    free(good);
}

static void test_codec_writer_with_zero_capacity_buffer_writes_nothing(void **state)
{
    (void)state;
    uint8_t byte = CANARY;
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, &byte, 0);
    secup_cbor_put_uint(&w, 0);
    assert_int_equal(secup_cbor_writer_finish(&w, NULL), SECUP_E_BUF_SMALL);
    assert_int_equal(byte, CANARY);
    assert_int_equal(w.len, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_next_decodes_every_major_type_head),
        cmocka_unit_test(test_codec_next_decodes_every_one_byte_tag_head),
        cmocka_unit_test(test_codec_peek_does_not_move_the_cursor),
        cmocka_unit_test(test_codec_next_refuses_malformed_heads_with_their_code),
        cmocka_unit_test(test_codec_lone_break_is_refused),
        cmocka_unit_test(test_codec_check_item_refuses_counts_the_input_cannot_hold),
        cmocka_unit_test(test_codec_composite_item_is_well_formed),
        cmocka_unit_test(test_codec_every_truncation_of_an_item_is_malformed),
        cmocka_unit_test(test_codec_every_truncation_of_a_head_is_malformed),
        cmocka_unit_test(test_codec_nesting_within_max_depth_is_accepted),
        cmocka_unit_test(test_codec_nesting_deeper_than_max_depth_gives_limit_depth),
        cmocka_unit_test(test_codec_very_deep_nesting_gives_limit_depth_without_recursion),
        cmocka_unit_test(test_codec_check_item_trailing_bytes_give_trailing),
        cmocka_unit_test(test_codec_typed_read_of_another_type_gives_type),
        cmocka_unit_test(test_codec_read_int_covers_int64_and_refuses_beyond),
        cmocka_unit_test(test_codec_read_bstr_wrapped_views_head_and_content),
        cmocka_unit_test(test_codec_writer_emits_shortest_form_heads_at_boundaries),
        cmocka_unit_test(test_codec_writer_heads_read_back_as_written),
        cmocka_unit_test(test_codec_writer_size_query_with_null_buffer_equals_real_size),
        cmocka_unit_test(test_codec_writer_short_capacity_gives_buf_small_and_no_write_past_cap),
        cmocka_unit_test(test_codec_writer_with_zero_capacity_buffer_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
