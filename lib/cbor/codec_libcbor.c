/* The CBOR codec seam on libcbor: its streaming decoder gives one head per call, which is
 * what a pull cursor needs; its encoders write shortest-form heads. Nothing here allocates. */
#include <cbor.h>
#include <string.h>

#include "codec.h"

enum { EV_NONE, EV_OK, EV_INDEF };

struct decode_ctx {
    int event;
    struct secup_cbor_item *it;
};

static void set(struct decode_ctx *c, enum secup_cbor_type t, uint64_t u)
{
    c->event = EV_OK;
    c->it->type = t;
    c->it->u = u;
}

static void on_u8(void *ctx, uint8_t v) { set(ctx, SECUP_CBOR_UINT, v); }
static void on_u16(void *ctx, uint16_t v) { set(ctx, SECUP_CBOR_UINT, v); }
static void on_u32(void *ctx, uint32_t v) { set(ctx, SECUP_CBOR_UINT, v); }
static void on_u64(void *ctx, uint64_t v) { set(ctx, SECUP_CBOR_UINT, v); }
static void on_n8(void *ctx, uint8_t v) { set(ctx, SECUP_CBOR_NINT, v); }
static void on_n16(void *ctx, uint16_t v) { set(ctx, SECUP_CBOR_NINT, v); }
static void on_n32(void *ctx, uint32_t v) { set(ctx, SECUP_CBOR_NINT, v); }
static void on_n64(void *ctx, uint64_t v) { set(ctx, SECUP_CBOR_NINT, v); }

static void on_string(struct decode_ctx *c, enum secup_cbor_type t, cbor_data d, size_t n)
{
    set(c, t, n);
    c->it->str = secup_bytes_of(d, n);
}
static void on_bstr(void *ctx, cbor_data d, size_t n) { on_string(ctx, SECUP_CBOR_BSTR, d, n); }
static void on_tstr(void *ctx, cbor_data d, size_t n) { on_string(ctx, SECUP_CBOR_TSTR, d, n); }
static void on_array(void *ctx, size_t n) { set(ctx, SECUP_CBOR_ARRAY, n); }
static void on_map(void *ctx, size_t n) { set(ctx, SECUP_CBOR_MAP, n); }
static void on_tag(void *ctx, uint64_t v) { set(ctx, SECUP_CBOR_TAG, v); }
static void on_f4(void *ctx, float v) { (void)v; set(ctx, SECUP_CBOR_FLOAT, 0); }
static void on_f8(void *ctx, double v) { (void)v; set(ctx, SECUP_CBOR_FLOAT, 0); }
static void on_null(void *ctx) { set(ctx, SECUP_CBOR_NULL, 0); }
static void on_undef(void *ctx) { set(ctx, SECUP_CBOR_UNDEFINED, 0); }
static void on_bool(void *ctx, bool v) { set(ctx, v ? SECUP_CBOR_TRUE : SECUP_CBOR_FALSE, 0); }
static void on_indef(void *ctx) { ((struct decode_ctx *)ctx)->event = EV_INDEF; }

static const struct cbor_callbacks callbacks = {
    .uint8 = on_u8,
    .uint16 = on_u16,
    .uint32 = on_u32,
    .uint64 = on_u64,
    .negint8 = on_n8,
    .negint16 = on_n16,
    .negint32 = on_n32,
    .negint64 = on_n64,
    .byte_string = on_bstr,
    .byte_string_start = on_indef,
    .string = on_tstr,
    .string_start = on_indef,
    .array_start = on_array,
    .indef_array_start = on_indef,
    .map_start = on_map,
    .indef_map_start = on_indef,
    .tag = on_tag,
    .float2 = on_f4,
    .float4 = on_f4,
    .float8 = on_f8,
    .undefined = on_undef,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_indef,
};

void secup_cbor_reader_init(struct secup_cbor_reader *r, struct secup_bytes in, unsigned max_depth)
{
    r->buf = in.ptr;
    r->len = in.ptr ? in.len : 0;
    r->pos = 0;
    r->max_depth = max_depth;
}

bool secup_cbor_at_end(const struct secup_cbor_reader *r)
{
    return r->pos >= r->len;
}

const char *secup_cbor_type_name(enum secup_cbor_type t)
{
    switch (t) {
    case SECUP_CBOR_UINT: return "unsigned integer";
    case SECUP_CBOR_NINT: return "negative integer";
    case SECUP_CBOR_BSTR: return "byte string";
    case SECUP_CBOR_TSTR: return "text string";
    case SECUP_CBOR_ARRAY: return "array";
    case SECUP_CBOR_MAP: return "map";
    case SECUP_CBOR_TAG: return "tag";
    case SECUP_CBOR_FALSE: return "false";
    case SECUP_CBOR_TRUE: return "true";
    case SECUP_CBOR_NULL: return "null";
    case SECUP_CBOR_UNDEFINED: return "undefined";
    case SECUP_CBOR_FLOAT: return "float";
    }
    return "unknown";
}

/* libcbor 0.8 (Debian 12) refuses the tags 6..20 that are encoded in the initial byte
 * (0xc6..0xd4) as "unassigned", and COSE_Mac0 (17) and COSE_Sign1 (18) are among them.
 * Tag heads are therefore decoded here; everything else goes through libcbor. */
static secup_rc decode_tag_head(const struct secup_cbor_reader *r, struct secup_cbor_item *it,
                                size_t *consumed, struct secup_err *err)
{
    const uint8_t *p = r->buf + r->pos;
    size_t avail = r->len - r->pos;
    unsigned info = p[0] & 0x1f;
    size_t extra = info < 24 ? 0 : info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 9;
    if (extra == 9)
        return secup_err_set(err, SECUP_E_CBOR, "malformed CBOR tag at offset %zu (byte 0x%02x)",
                             r->pos, p[0]);
    if (avail < 1 + extra)
        return secup_err_set(err, SECUP_E_CBOR, "truncated CBOR tag at offset %zu", r->pos);
    uint64_t v = info < 24 ? info : 0;
    for (size_t i = 0; i < extra; i++)
        v = v << 8 | p[1 + i];
    it->type = SECUP_CBOR_TAG;
    it->u = v;
    it->head_len = 1 + extra;
    *consumed = 1 + extra;
    return SECUP_OK;
}

static secup_rc decode_head(const struct secup_cbor_reader *r, struct secup_cbor_item *it,
                            size_t *consumed, struct secup_err *err)
{
    memset(it, 0, sizeof(*it));
    it->offset = r->pos;
    if (r->pos >= r->len)
        return secup_err_set(err, SECUP_E_CBOR, "truncated CBOR: item expected at offset %zu",
                             r->pos);
    if ((r->buf[r->pos] >> 5) == 6)
        return decode_tag_head(r, it, consumed, err);
    struct decode_ctx c = { EV_NONE, it };
    size_t avail = r->len - r->pos;
    struct cbor_decoder_result res = cbor_stream_decode(r->buf + r->pos, avail, &callbacks, &c);
    if (res.status == CBOR_DECODER_NEDATA)
        return secup_err_set(err, SECUP_E_CBOR, "truncated CBOR item at offset %zu", r->pos);
    if (res.status != CBOR_DECODER_FINISHED || c.event == EV_NONE)
        return secup_err_set(err, SECUP_E_CBOR, "malformed CBOR item at offset %zu (byte 0x%02x)",
                             r->pos, r->buf[r->pos]);
    if (c.event == EV_INDEF)
        return secup_err_set(err, SECUP_E_INDEFINITE,
                             "indefinite-length CBOR item at offset %zu", r->pos);
    /* libcbor computes "head + length" itself; re-check so that a huge declared string
     * length can never be taken for a short one. */
    if (res.read == 0 || res.read > avail)
        return secup_err_set(err, SECUP_E_CBOR, "truncated CBOR item at offset %zu", r->pos);
    if (it->type == SECUP_CBOR_BSTR || it->type == SECUP_CBOR_TSTR) {
        if (it->str.len > res.read || (size_t)(it->str.ptr - (r->buf + r->pos)) + it->str.len != res.read)
            return secup_err_set(err, SECUP_E_CBOR, "inconsistent string length at offset %zu",
                                 r->pos);
        it->head_len = res.read - it->str.len;
    } else {
        it->head_len = res.read;
    }
    *consumed = res.read;
    return SECUP_OK;
}

secup_rc secup_cbor_next(struct secup_cbor_reader *r, struct secup_cbor_item *it,
                         struct secup_err *err)
{
    size_t n = 0;
    secup_rc rc = decode_head(r, it, &n, err);
    if (rc == SECUP_OK)
        r->pos += n;
    return rc;
}

secup_rc secup_cbor_peek(struct secup_cbor_reader *r, struct secup_cbor_item *it,
                         struct secup_err *err)
{
    size_t n = 0;
    return decode_head(r, it, &n, err);
}

/* Skips iteratively: `pending` counts the items still owed at each open level, so that
 * nesting costs no C stack and the depth bound is checked before descending. */
secup_rc secup_cbor_skip(struct secup_cbor_reader *r, struct secup_bytes *raw,
                         struct secup_err *err)
{
    enum { MAX_LEVELS = 64 };
    uint64_t pending[MAX_LEVELS];
    unsigned depth = 0;
    unsigned limit = r->max_depth < MAX_LEVELS ? r->max_depth : MAX_LEVELS;
    size_t start = r->pos;
    uint64_t todo = 1;

    for (;;) {
        while (todo == 0) {
            if (depth == 0)
                goto done;
            todo = pending[--depth];
        }
        todo--;
        struct secup_cbor_item it;
        secup_rc rc = secup_cbor_next(r, &it, err);
        if (rc != SECUP_OK)
            return rc;
        uint64_t children = 0;
        if (it.type == SECUP_CBOR_ARRAY) {
            children = it.u;
        } else if (it.type == SECUP_CBOR_MAP) {
            if (it.u > UINT64_MAX / 2)
                return secup_err_set(err, SECUP_E_CBOR, "map size overflow at offset %zu",
                                     it.offset);
            children = it.u * 2;
        } else if (it.type == SECUP_CBOR_TAG) {
            children = 1;
        }
        if (children == 0)
            continue;
        /* Every child needs at least one byte: refuse counts the input cannot hold before
         * looping over them. */
        if (children > r->len - r->pos)
            return secup_err_set(err, SECUP_E_CBOR,
                                 "%s at offset %zu declares %llu entries but the input ends",
                                 secup_cbor_type_name(it.type), it.offset,
                                 (unsigned long long)it.u);
        if (depth + 1 >= limit)
            return secup_err_set(err, SECUP_E_LIMIT_DEPTH,
                                 "CBOR nesting deeper than %u at offset %zu", limit, it.offset);
        pending[depth++] = todo;
        todo = children;
    }
done:
    if (raw)
        *raw = secup_bytes_of(r->buf + start, r->pos - start);
    return SECUP_OK;
}

secup_rc secup_cbor_check_item(struct secup_bytes in, unsigned max_depth, struct secup_err *err)
{
    struct secup_cbor_reader r;
    secup_cbor_reader_init(&r, in, max_depth);
    secup_rc rc = secup_cbor_skip(&r, NULL, err);
    if (rc != SECUP_OK)
        return rc;
    if (!secup_cbor_at_end(&r))
        return secup_err_set(err, SECUP_E_TRAILING, "%zu trailing bytes after the CBOR item",
                             r.len - r.pos);
    return SECUP_OK;
}

static secup_rc expect(struct secup_cbor_reader *r, struct secup_cbor_item *it,
                       enum secup_cbor_type t, const char *what, struct secup_err *err)
{
    secup_rc rc = secup_cbor_next(r, it, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s", what);
        return rc;
    }
    if (it->type != t)
        return secup_err_set(err, SECUP_E_TYPE, "%s: expected %s, found %s at offset %zu", what,
                             secup_cbor_type_name(t), secup_cbor_type_name(it->type), it->offset);
    return SECUP_OK;
}

secup_rc secup_cbor_read_uint(struct secup_cbor_reader *r, uint64_t *out, const char *what,
                              struct secup_err *err)
{
    struct secup_cbor_item it;
    *out = 0;
    secup_rc rc = expect(r, &it, SECUP_CBOR_UINT, what, err);
    if (rc == SECUP_OK)
        *out = it.u;
    return rc;
}

secup_rc secup_cbor_read_int(struct secup_cbor_reader *r, int64_t *out, const char *what,
                             struct secup_err *err)
{
    struct secup_cbor_item it;
    *out = 0;
    secup_rc rc = secup_cbor_next(r, &it, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s", what);
        return rc;
    }
    if (it.type != SECUP_CBOR_UINT && it.type != SECUP_CBOR_NINT)
        return secup_err_set(err, SECUP_E_TYPE, "%s: expected integer, found %s at offset %zu",
                             what, secup_cbor_type_name(it.type), it.offset);
    if (it.u > (uint64_t)INT64_MAX)
        return secup_err_set(err, SECUP_E_VALUE, "%s: integer out of range at offset %zu", what,
                             it.offset);
    *out = it.type == SECUP_CBOR_UINT ? (int64_t)it.u : -1 - (int64_t)it.u;
    return SECUP_OK;
}

secup_rc secup_cbor_read_bstr(struct secup_cbor_reader *r, struct secup_bytes *out,
                              const char *what, struct secup_err *err)
{
    struct secup_cbor_item it;
    *out = secup_bytes_of(NULL, 0);
    secup_rc rc = expect(r, &it, SECUP_CBOR_BSTR, what, err);
    if (rc == SECUP_OK)
        *out = it.str;
    return rc;
}

secup_rc secup_cbor_read_bstr_wrapped(struct secup_cbor_reader *r, struct secup_bytes *content,
                                      struct secup_bytes *wrapped, const char *what,
                                      struct secup_err *err)
{
    struct secup_cbor_item it;
    *content = secup_bytes_of(NULL, 0);
    *wrapped = secup_bytes_of(NULL, 0);
    secup_rc rc = expect(r, &it, SECUP_CBOR_BSTR, what, err);
    if (rc == SECUP_OK) {
        *content = it.str;
        *wrapped = secup_bytes_of(r->buf + it.offset, it.head_len + it.str.len);
    }
    return rc;
}

secup_rc secup_cbor_read_tstr(struct secup_cbor_reader *r, struct secup_bytes *out,
                              const char *what, struct secup_err *err)
{
    struct secup_cbor_item it;
    *out = secup_bytes_of(NULL, 0);
    secup_rc rc = expect(r, &it, SECUP_CBOR_TSTR, what, err);
    if (rc == SECUP_OK)
        *out = it.str;
    return rc;
}

secup_rc secup_cbor_read_array(struct secup_cbor_reader *r, uint64_t *count, const char *what,
                               struct secup_err *err)
{
    struct secup_cbor_item it;
    *count = 0;
    secup_rc rc = expect(r, &it, SECUP_CBOR_ARRAY, what, err);
    if (rc == SECUP_OK)
        *count = it.u;
    return rc;
}

secup_rc secup_cbor_read_map(struct secup_cbor_reader *r, uint64_t *count, const char *what,
                             struct secup_err *err)
{
    struct secup_cbor_item it;
    *count = 0;
    secup_rc rc = expect(r, &it, SECUP_CBOR_MAP, what, err);
    if (rc == SECUP_OK)
        *count = it.u;
    return rc;
}

secup_rc secup_cbor_read_bool(struct secup_cbor_reader *r, bool *out, const char *what,
                              struct secup_err *err)
{
    struct secup_cbor_item it;
    *out = false;
    secup_rc rc = secup_cbor_next(r, &it, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s", what);
        return rc;
    }
    if (it.type != SECUP_CBOR_TRUE && it.type != SECUP_CBOR_FALSE)
        return secup_err_set(err, SECUP_E_TYPE, "%s: expected bool, found %s at offset %zu", what,
                             secup_cbor_type_name(it.type), it.offset);
    *out = it.type == SECUP_CBOR_TRUE;
    return SECUP_OK;
}

secup_rc secup_cbor_read_null(struct secup_cbor_reader *r, const char *what,
                              struct secup_err *err)
{
    struct secup_cbor_item it;
    return expect(r, &it, SECUP_CBOR_NULL, what, err);
}

void secup_cbor_writer_init(struct secup_cbor_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
}

/* Encodes into the output when it fits, and always advances len, so that a NULL or
 * short buffer yields the size the caller needs. */
static void emit(struct secup_cbor_writer *w, size_t (*enc)(uint64_t, unsigned char *, size_t),
                 uint64_t v)
{
    unsigned char tmp[9];
    size_t n = enc(v, tmp, sizeof(tmp));
    if (w->buf && w->len <= w->cap && n <= w->cap - w->len)
        memcpy(w->buf + w->len, tmp, n);
    w->len += n;
}

static size_t enc_bstr_head(uint64_t n, unsigned char *b, size_t cap)
{
    return cbor_encode_bytestring_start((size_t)n, b, cap);
}
static size_t enc_tstr_head(uint64_t n, unsigned char *b, size_t cap)
{
    return cbor_encode_string_start((size_t)n, b, cap);
}
static size_t enc_array(uint64_t n, unsigned char *b, size_t cap)
{
    return cbor_encode_array_start((size_t)n, b, cap);
}
static size_t enc_map(uint64_t n, unsigned char *b, size_t cap)
{
    return cbor_encode_map_start((size_t)n, b, cap);
}
static size_t enc_simple(uint64_t v, unsigned char *b, size_t cap)
{
    if (v == 0)
        return cbor_encode_bool(false, b, cap);
    if (v == 1)
        return cbor_encode_bool(true, b, cap);
    return cbor_encode_null(b, cap);
}

void secup_cbor_put_uint(struct secup_cbor_writer *w, uint64_t v)
{
    emit(w, cbor_encode_uint, v);
}

void secup_cbor_put_nint(struct secup_cbor_writer *w, uint64_t n)
{
    emit(w, cbor_encode_negint, n);
}

void secup_cbor_put_int(struct secup_cbor_writer *w, int64_t v)
{
    if (v >= 0)
        emit(w, cbor_encode_uint, (uint64_t)v);
    else
        emit(w, cbor_encode_negint, (uint64_t)(-1 - v));
}

void secup_cbor_put_raw(struct secup_cbor_writer *w, struct secup_bytes raw)
{
    if (raw.len == 0)
        return;
    if (w->buf && w->len <= w->cap && raw.len <= w->cap - w->len)
        memcpy(w->buf + w->len, raw.ptr, raw.len);
    w->len += raw.len;
}

void secup_cbor_put_bstr_head(struct secup_cbor_writer *w, size_t len)
{
    emit(w, enc_bstr_head, len);
}

void secup_cbor_put_bstr(struct secup_cbor_writer *w, struct secup_bytes b)
{
    emit(w, enc_bstr_head, b.len);
    secup_cbor_put_raw(w, b);
}

void secup_cbor_put_tstr(struct secup_cbor_writer *w, struct secup_bytes s)
{
    emit(w, enc_tstr_head, s.len);
    secup_cbor_put_raw(w, s);
}

void secup_cbor_put_tstr_cstr(struct secup_cbor_writer *w, const char *s)
{
    secup_cbor_put_tstr(w, secup_bytes_of(s, strlen(s)));
}

void secup_cbor_put_array(struct secup_cbor_writer *w, size_t count)
{
    emit(w, enc_array, count);
}

void secup_cbor_put_map(struct secup_cbor_writer *w, size_t count)
{
    emit(w, enc_map, count);
}

void secup_cbor_put_tag(struct secup_cbor_writer *w, uint64_t tag)
{
    emit(w, cbor_encode_tag, tag);
}

void secup_cbor_put_bool(struct secup_cbor_writer *w, bool v)
{
    emit(w, enc_simple, v ? 1 : 0);
}

void secup_cbor_put_null(struct secup_cbor_writer *w)
{
    emit(w, enc_simple, 2);
}

secup_rc secup_cbor_writer_finish(const struct secup_cbor_writer *w, struct secup_err *err)
{
    if (!w->buf || w->len > w->cap)
        return secup_err_set(err, SECUP_E_BUF_SMALL,
                             "CBOR output needs %zu bytes, buffer holds %zu", w->len, w->cap);
    return SECUP_OK;
}
