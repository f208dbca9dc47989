#include <string.h>

#include "compid.h"

secup_rc compid_parse(const char *text, struct text_component_id *out, struct secup_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t used = 0;
    const char *p = text;
    if (!*text)
        return secup_err_set(err, SECUP_E_ARG, "empty component identifier");
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0)
            return secup_err_set(err, SECUP_E_ARG, "component identifier '%s' has an empty part",
                                 text);
        if (out->id.n_parts >= SECUP_MAX_ID_PARTS)
            return secup_err_set(err, SECUP_E_LIMIT_ITEMS,
                                 "component identifier '%s' has more than %d parts", text,
                                 SECUP_MAX_ID_PARTS);
        uint8_t *dst = out->storage + used;
        size_t len = 0;
        if (n > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
            char hex[2 * sizeof(out->storage) + 1]; /* every part compid_format() writes */
            if (n - 2 >= sizeof(hex))
                return secup_err_set(err, SECUP_E_LIMIT_BYTES, "component part too long");
            memcpy(hex, p + 2, n - 2);
            hex[n - 2] = '\0';
            if (!secup_hex_decode(hex, dst, sizeof(out->storage) - used, &len))
                return secup_err_set(err, SECUP_E_ARG,
                                     "component part '%s' is not valid hex (after 0x)", hex);
        } else {
            if (n > sizeof(out->storage) - used)
                return secup_err_set(err, SECUP_E_LIMIT_BYTES, "component identifier too long");
            memcpy(dst, p, n);
            len = n;
        }
        out->id.parts[out->id.n_parts++] = secup_bytes_of(dst, len);
        used += len;
        if (!slash)
            break;
        p = slash + 1;
    }
    return SECUP_OK;
}

void compid_rebase(struct text_component_id *dst, const struct text_component_id *src)
{
    for (uint32_t i = 0; i < dst->id.n_parts; i++) {
        size_t off = (size_t)(src->id.parts[i].ptr - src->storage);
        dst->id.parts[i].ptr = dst->storage + off;
    }
}

static bool printable(struct secup_bytes b)
{
    if (b.len == 0 || (b.len > 2 && b.ptr[0] == '0' && (b.ptr[1] == 'x' || b.ptr[1] == 'X')))
        return false;
    for (size_t i = 0; i < b.len; i++) {
        uint8_t c = b.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool compid_format(const struct secup_component_id *id, char *out, size_t cap)
{
    size_t used = 0;
    if (cap == 0)
        return false;
    out[0] = '\0';
    for (uint32_t i = 0; i < id->n_parts; i++) {
        struct secup_bytes b = id->parts[i];
        size_t need = (i ? 1 : 0) + (printable(b) ? b.len : 2 + 2 * b.len);
        if (need + 1 > cap - used)
            return false;
        if (i)
            out[used++] = '/';
        if (printable(b)) {
            memcpy(out + used, b.ptr, b.len);
            used += b.len;
        } else {
            out[used++] = '0';
            out[used++] = 'x';
            secup_hex_encode(b, out + used, cap - used);
            used += 2 * b.len;
        }
        out[used] = '\0';
    }
    return true;
}

/* One CBOR head of major type `major` with a length below 65536 at in[*pos]. */
static bool cbor_head(const uint8_t *in, size_t len, size_t *pos, unsigned major, size_t *n)
{
    if (*pos >= len || in[*pos] >> 5 != major)
        return false;
    unsigned info = in[*pos] & 0x1f;
    (*pos)++;
    if (info < 24) {
        *n = info;
    } else if (info == 24 && *pos + 1 <= len) {
        *n = in[*pos];
        *pos += 1;
        if (*n < 24)
            return false; /* not the shortest form */
    } else if (info == 25 && *pos + 2 <= len) {
        *n = (size_t)in[*pos] << 8 | in[*pos + 1];
        *pos += 2;
        if (*n < 256)
            return false;
    } else {
        return false;
    }
    return true;
}

bool compid_from_cbor(struct secup_bytes in, struct text_component_id *out)
{
    memset(out, 0, sizeof(*out));
    size_t pos = 0, count = 0, used = 0;
    if (!cbor_head(in.ptr, in.len, &pos, 4, &count) || count == 0 || count > SECUP_MAX_ID_PARTS)
        return false;
    for (size_t i = 0; i < count; i++) {
        size_t n = 0;
        if (!cbor_head(in.ptr, in.len, &pos, 2, &n) || n == 0 || n > in.len - pos ||
            n > sizeof(out->storage) - used)
            return false;
        memcpy(out->storage + used, in.ptr + pos, n);
        out->id.parts[out->id.n_parts++] = secup_bytes_of(out->storage + used, n);
        used += n;
        pos += n;
    }
    return pos == in.len;
}
