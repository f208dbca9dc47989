/* The CBOR codec seam. Only codec_libcbor.c includes <cbor.h>.
 *
 * Reading is a pull cursor over a caller's buffer: each call consumes one data item's head
 * (and, for strings, its content) and returns views into the buffer, so that the decoder
 * can keep the exact bytes of bstr-wrapped elements (the manifest digest covers them).
 * Writing emits deterministic CBOR (shortest-form heads, definite lengths) into a caller
 * buffer, or only counts bytes when the buffer is NULL.
 */
#ifndef SECUP_CBOR_CODEC_H
#define SECUP_CBOR_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/bytes.h"
#include "secup/err.h"

enum secup_cbor_type {
    SECUP_CBOR_UINT,
    SECUP_CBOR_NINT, /* value = -1 - u */
    SECUP_CBOR_BSTR,
    SECUP_CBOR_TSTR,
    SECUP_CBOR_ARRAY,
    SECUP_CBOR_MAP,
    SECUP_CBOR_TAG,
    SECUP_CBOR_FALSE,
    SECUP_CBOR_TRUE,
    SECUP_CBOR_NULL,
    SECUP_CBOR_UNDEFINED,
    SECUP_CBOR_FLOAT,
};

struct secup_cbor_item {
    enum secup_cbor_type type;
    uint64_t u;              /* UINT/NINT argument, ARRAY/MAP count, TAG number */
    struct secup_bytes str;  /* BSTR/TSTR content */
    size_t offset;           /* offset of the item's head in the reader's buffer */
    size_t head_len;         /* bytes of the head (for strings: before the content) */
};

struct secup_cbor_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    unsigned max_depth; /* bound for skip() and the well-formedness check */
};

void secup_cbor_reader_init(struct secup_cbor_reader *r, struct secup_bytes in, unsigned max_depth);
bool secup_cbor_at_end(const struct secup_cbor_reader *r);

/* Decodes the next item head; on success the cursor moves past it (and past string
 * content). Errors: SECUP_E_CBOR (malformed or truncated), SECUP_E_INDEFINITE. */
secup_rc secup_cbor_next(struct secup_cbor_reader *r, struct secup_cbor_item *it,
                         struct secup_err *err);
/* Like next() but does not move the cursor. */
secup_rc secup_cbor_peek(struct secup_cbor_reader *r, struct secup_cbor_item *it,
                         struct secup_err *err);
/* Skips one complete item (with everything nested in it), bounded by max_depth.
 * If raw is not NULL it receives a view of the item's whole encoding. */
secup_rc secup_cbor_skip(struct secup_cbor_reader *r, struct secup_bytes *raw,
                         struct secup_err *err);

/* Typed reads. `what` names the field for the error message. */
secup_rc secup_cbor_read_uint(struct secup_cbor_reader *r, uint64_t *out, const char *what,
                              struct secup_err *err);
/* Any integer that fits int64_t. */
secup_rc secup_cbor_read_int(struct secup_cbor_reader *r, int64_t *out, const char *what,
                             struct secup_err *err);
secup_rc secup_cbor_read_bstr(struct secup_cbor_reader *r, struct secup_bytes *out,
                              const char *what, struct secup_err *err);
secup_rc secup_cbor_read_tstr(struct secup_cbor_reader *r, struct secup_bytes *out,
                              const char *what, struct secup_err *err);
secup_rc secup_cbor_read_array(struct secup_cbor_reader *r, uint64_t *count, const char *what,
                               struct secup_err *err);
secup_rc secup_cbor_read_map(struct secup_cbor_reader *r, uint64_t *count, const char *what,
                             struct secup_err *err);
secup_rc secup_cbor_read_bool(struct secup_cbor_reader *r, bool *out, const char *what,
                              struct secup_err *err);
secup_rc secup_cbor_read_null(struct secup_cbor_reader *r, const char *what,
                              struct secup_err *err);

/* Reads a bstr and also returns, in wrapped, the view of the whole item (head + content):
 * SUIT digests are computed over the bstr-wrapped form. */
secup_rc secup_cbor_read_bstr_wrapped(struct secup_cbor_reader *r, struct secup_bytes *content,
                                      struct secup_bytes *wrapped, const char *what,
                                      struct secup_err *err);

/* Checks that in holds exactly one well-formed item within max_depth. */
secup_rc secup_cbor_check_item(struct secup_bytes in, unsigned max_depth, struct secup_err *err);

const char *secup_cbor_type_name(enum secup_cbor_type t);

struct secup_cbor_writer {
    uint8_t *buf; /* NULL: count only */
    size_t cap;
    size_t len;   /* bytes the encoding needs so far (may exceed cap) */
};

void secup_cbor_writer_init(struct secup_cbor_writer *w, uint8_t *buf, size_t cap);
void secup_cbor_put_uint(struct secup_cbor_writer *w, uint64_t v);
void secup_cbor_put_nint(struct secup_cbor_writer *w, uint64_t n); /* writes -1 - n */
void secup_cbor_put_int(struct secup_cbor_writer *w, int64_t v);
void secup_cbor_put_bstr(struct secup_cbor_writer *w, struct secup_bytes b);
void secup_cbor_put_bstr_head(struct secup_cbor_writer *w, size_t len);
void secup_cbor_put_tstr(struct secup_cbor_writer *w, struct secup_bytes s);
void secup_cbor_put_tstr_cstr(struct secup_cbor_writer *w, const char *s);
void secup_cbor_put_array(struct secup_cbor_writer *w, size_t count);
void secup_cbor_put_map(struct secup_cbor_writer *w, size_t count);
void secup_cbor_put_tag(struct secup_cbor_writer *w, uint64_t tag);
void secup_cbor_put_bool(struct secup_cbor_writer *w, bool v);
void secup_cbor_put_null(struct secup_cbor_writer *w);
void secup_cbor_put_raw(struct secup_cbor_writer *w, struct secup_bytes raw);
/* SECUP_OK, or SECUP_E_BUF_SMALL when the output did not fit. */
secup_rc secup_cbor_writer_finish(const struct secup_cbor_writer *w, struct secup_err *err);
/* Bytes actually written so far (for the view of a finished encoding). */
static inline struct secup_bytes secup_cbor_writer_bytes(const struct secup_cbor_writer *w)
{
    return secup_bytes_of(w->buf, w->len);
}

#endif /* SECUP_CBOR_CODEC_H */
