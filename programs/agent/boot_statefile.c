/* The state file bootloader backend: the boot state of every component in one small text
 * file, for simulation, tests and bootloaders that read a file.
 *
 * The file ends with a SHA-256 of everything before it, and the checksum is checked before
 * any line is believed: a torn, truncated or bit-flipped file is reported as
 * SECUP_E_DIGEST instead of being misread as another slot. Each change rewrites the whole
 * file with secup_file_write_atomic() (temp + fsync + rename + fsync of the directory), so
 * a power cut leaves the old file or the new one. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "secup/file.h"
#include "secup/manifest.h"

#define SUM_PREFIX "sha256="
#define SUM_PREFIX_LEN 7
#define SUM_HEX_LEN 64
#define HEADER_PREFIX "secup-boot-state "

struct cursor {
    const char *p;
    const char *end;
    unsigned line;
};

static bool is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

static bool take(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

static secup_rc field_error(const struct cursor *c, const char *field, const char *expected,
                            struct secup_err *err)
{
    size_t rest = (size_t)(c->end - c->p);
    int show = (int)(rest > 24 ? 24 : rest);
    for (int i = 0; i < show; i++) {
        unsigned char ch = (unsigned char)c->p[i];
        if (ch < 0x20 || ch >= 0x7f) {
            show = i; /* the message stays one printable line */
            break;
        }
    }
    return secup_err_set(err, SECUP_E_VALUE, "line %u: %s: expected %s, found '%.*s'", c->line,
                         field, expected, show, c->p);
}

/* key is " active=" or " trial="; messages name it without the space. */
static secup_rc parse_slot_field(struct cursor *c, const char *key, bool allow_none, int *out,
                                 struct secup_err *err)
{
    if (!take(c, key))
        return field_error(
            c, key + 1,
            allow_none ? "' trial=' after 'active=N'" : "' active=' after the component name", err);
    if (c->p < c->end && (*c->p == '0' || *c->p == '1')) {
        *out = *c->p - '0';
    } else if (allow_none && c->p < c->end && *c->p == '-') {
        *out = BOOT_NO_SLOT;
    } else {
        return field_error(c, key + 1, allow_none ? "0, 1 or -" : "0 or 1", err);
    }
    c->p++;
    return SECUP_OK;
}

static secup_rc parse_line(struct cursor *c, struct boot_statefile_entry *e, struct secup_err *err)
{
    const char *name = c->p;
    while (c->p < c->end && is_name_char(*c->p))
        c->p++;
    size_t nlen = (size_t)(c->p - name);
    if (nlen == 0)
        return field_error(c, "component", "a name of letters, digits, '_' or '-'", err);
    if (nlen >= BOOT_MAX_NAME)
        return secup_err_set(err, SECUP_E_VALUE, "line %u: component name longer than %d bytes",
                             c->line, BOOT_MAX_NAME - 1);
    memcpy(e->comp, name, nlen);
    e->comp[nlen] = '\0';

    secup_rc rc = parse_slot_field(c, " active=", false, &e->st.active, err);
    if (rc == SECUP_OK)
        rc = parse_slot_field(c, " trial=", true, &e->st.trial, err);
    if (rc != SECUP_OK)
        return rc;
    if (!take(c, " attempts="))
        return field_error(c, "attempts=", "' attempts=' after 'trial=X'", err);
    if (!boot_parse_u32(c->p, (size_t)(c->end - c->p), &e->st.attempts))
        return field_error(c, "attempts=",
                           "a decimal number up to 4294967295 (no sign, no leading zero) ending "
                           "the line",
                           err);
    c->p = c->end;
    rc = boot_state_check(e->comp, &e->st, err);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "line %u", c->line);
    return rc;
}

/* Checks the final "sha256=" line against the bytes before it; *body_len is where it
 * starts. Everything that is wrong here is corruption, so it is all SECUP_E_DIGEST. */
static secup_rc check_sum(const char *text, size_t len, size_t *body_len, struct secup_err *err)
{
    if (len == 0)
        return secup_err_set(err, SECUP_E_DIGEST, "the file is empty (torn or corrupted)");
    if (text[len - 1] != '\n')
        return secup_err_set(err, SECUP_E_DIGEST,
                             "the file does not end with a newline (torn or truncated)");
    size_t start = len - 1;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    const char *sum = text + start;
    size_t slen = len - 1 - start;
    if (slen != SUM_PREFIX_LEN + SUM_HEX_LEN || memcmp(sum, SUM_PREFIX, SUM_PREFIX_LEN) != 0 ||
        !is_lower_hex(sum + SUM_PREFIX_LEN, SUM_HEX_LEN))
        return secup_err_set(err, SECUP_E_DIGEST,
                             "the last line is not 'sha256=<64 lower-case hex digits>' "
                             "(torn, truncated or corrupted)");
    uint8_t h[32];
    secup_rc rc = secup_sha256(secup_bytes_of(text, start), h, err);
    if (rc != SECUP_OK)
        return rc;
    char hex[SUM_HEX_LEN + 1];
    secup_hex_encode(secup_bytes_of(h, sizeof(h)), hex, sizeof(hex));
    if (!secup_bytes_equal(secup_bytes_of(hex, SUM_HEX_LEN),
                           secup_bytes_of(sum + SUM_PREFIX_LEN, SUM_HEX_LEN)))
        return secup_err_set(err, SECUP_E_DIGEST,
                             "checksum mismatch: the content was altered or corrupted "
                             "(computed sha256 %.16s..., stored %.16s...)",
                             hex, sum + SUM_PREFIX_LEN);
    *body_len = start;
    return SECUP_OK;
}

static secup_rc check_header(const char *line, size_t llen, struct secup_err *err)
{
    size_t mlen = strlen(BOOT_STATEFILE_MAGIC);
    if (llen == mlen && memcmp(line, BOOT_STATEFILE_MAGIC, mlen) == 0)
        return SECUP_OK;
    size_t plen = strlen(HEADER_PREFIX);
    if (llen > plen && memcmp(line, HEADER_PREFIX, plen) == 0)
        return secup_err_set(err, SECUP_E_UNSUPPORTED,
                             "line 1: format version '%.*s' is not supported (only 1)",
                             (int)(llen - plen > 16 ? 16 : llen - plen), line + plen);
    return secup_err_set(err, SECUP_E_VALUE, "line 1: expected '%s'", BOOT_STATEFILE_MAGIC);
}

secup_rc boot_statefile_parse(const char *text, size_t len, struct boot_statefile *out,
                              struct secup_err *err)
{
    memset(out, 0, sizeof(*out));
    if (len > BOOT_STATEFILE_MAX_SIZE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "%zu bytes, more than the limit of %d", len,
                             BOOT_STATEFILE_MAX_SIZE);
    size_t body_len = 0;
    secup_rc rc = check_sum(text, len, &body_len, err);
    if (rc != SECUP_OK)
        return rc;

    struct boot_statefile sf;
    memset(&sf, 0, sizeof(sf));
    size_t pos = 0;
    unsigned line = 0;
    while (pos < body_len) {
        line++;
        const char *p = text + pos;
        /* The body ends in '\n' (the checksum line starts after one). */
        const char *nl = memchr(p, '\n', body_len - pos);
        size_t llen = (size_t)(nl - p);
        pos += llen + 1;
        if (llen > BOOT_STATEFILE_MAX_LINE)
            return secup_err_set(err, SECUP_E_LIMIT, "line %u is longer than %d bytes", line,
                                 BOOT_STATEFILE_MAX_LINE);
        if (line == 1) {
            rc = check_header(p, llen, err);
            if (rc != SECUP_OK)
                return rc;
            continue;
        }
        if (sf.n == BOOT_STATEFILE_MAX_COMPONENTS)
            return secup_err_set(err, SECUP_E_LIMIT_COMPONENTS, "line %u: more than %d components",
                                 line, BOOT_STATEFILE_MAX_COMPONENTS);
        struct cursor c = {p, p + llen, line};
        rc = parse_line(&c, &sf.e[sf.n], err);
        if (rc != SECUP_OK)
            return rc;
        for (uint32_t k = 0; k < sf.n; k++) {
            if (strcmp(sf.e[k].comp, sf.e[sf.n].comp) == 0)
                return secup_err_set(err, SECUP_E_VALUE,
                                     "line %u: component '%s' appears a second time", line,
                                     sf.e[k].comp);
        }
        sf.n++;
    }
    if (line == 0)
        return secup_err_set(err, SECUP_E_VALUE, "line 1: expected '%s'", BOOT_STATEFILE_MAGIC);
    *out = sf;
    return SECUP_OK;
}

static secup_rc append(char *buf, size_t cap, size_t *len, struct secup_err *err, const char *fmt,
                       ...) SECUP_PRINTF(5, 6);

static secup_rc append(char *buf, size_t cap, size_t *len, struct secup_err *err, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "boot state does not fit in %zu bytes", cap);
    *len += (size_t)n;
    return SECUP_OK;
}

secup_rc boot_statefile_format(const struct boot_statefile *sf, char *buf, size_t cap, size_t *len,
                               struct secup_err *err)
{
    *len = 0;
    if (cap == 0)
        return secup_err_set(err, SECUP_E_BUF_SMALL, "no room for the boot state");
    buf[0] = '\0';
    if (sf->n > BOOT_STATEFILE_MAX_COMPONENTS)
        return secup_err_set(err, SECUP_E_LIMIT_COMPONENTS, "%u components, more than %d", sf->n,
                             BOOT_STATEFILE_MAX_COMPONENTS);
    size_t n = 0;
    secup_rc rc = append(buf, cap, &n, err, "%s\n", BOOT_STATEFILE_MAGIC);
    for (uint32_t i = 0; i < sf->n && rc == SECUP_OK; i++) {
        const struct boot_statefile_entry *e = &sf->e[i];
        if (!memchr(e->comp, '\0', sizeof(e->comp)) || !boot_is_valid_name(e->comp))
            return secup_err_set(err, SECUP_E_VALUE, "invalid component name '%.*s'",
                                 BOOT_MAX_NAME - 1, e->comp);
        rc = boot_state_check(e->comp, &e->st, err);
        for (uint32_t k = 0; k < i && rc == SECUP_OK; k++) {
            if (strcmp(sf->e[k].comp, e->comp) == 0)
                rc = secup_err_set(err, SECUP_E_VALUE, "component '%s' listed twice", e->comp);
        }
        char trial[2] = {e->st.trial == BOOT_NO_SLOT ? '-' : (char)('0' + e->st.trial), '\0'};
        if (rc == SECUP_OK)
            rc = append(buf, cap, &n, err, "%s active=%d trial=%s attempts=%u\n", e->comp,
                        e->st.active, trial, (unsigned)e->st.attempts);
    }
    if (rc != SECUP_OK)
        return rc;
    uint8_t h[32];
    char hex[SUM_HEX_LEN + 1];
    rc = secup_sha256(secup_bytes_of(buf, n), h, err);
    if (rc != SECUP_OK)
        return rc;
    secup_hex_encode(secup_bytes_of(h, sizeof(h)), hex, sizeof(hex));
    rc = append(buf, cap, &n, err, SUM_PREFIX "%s\n", hex);
    if (rc != SECUP_OK)
        return rc;
    *len = n;
    return SECUP_OK;
}

static secup_rc load(const char *path, struct boot_statefile *sf, struct secup_err *err)
{
    memset(sf, 0, sizeof(*sf));
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, BOOT_STATEFILE_MAX_SIZE, &buf, &len, err);
    if (rc == SECUP_E_NOENT)
        return SECUP_OK; /* never written: every component has the default state */
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "boot state file");
        return rc;
    }
    rc = boot_statefile_parse((const char *)buf, len, sf, err);
    secup_file_free(buf, len);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "boot state file '%s'", path);
    return rc;
}

static secup_rc statefile_get(struct boot_backend *b, const char *comp, struct boot_state *out,
                              struct secup_err *err)
{
    out->active = 0;
    out->trial = BOOT_NO_SLOT;
    out->attempts = 0;
    if (!boot_is_valid_name(comp))
        return secup_err_set(err, SECUP_E_ARG, "invalid component name '%.*s'", BOOT_MAX_NAME - 1,
                             comp ? comp : "");
    struct boot_statefile sf;
    secup_rc rc = load(b->path, &sf, err);
    if (rc != SECUP_OK)
        return rc;
    for (uint32_t i = 0; i < sf.n; i++) {
        if (strcmp(sf.e[i].comp, comp) == 0)
            *out = sf.e[i].st;
    }
    return SECUP_OK;
}

static secup_rc statefile_set(struct boot_backend *b, const char *comp, const struct boot_state *st,
                              struct secup_err *err)
{
    if (!boot_is_valid_name(comp))
        return secup_err_set(err, SECUP_E_ARG, "invalid component name '%.*s'", BOOT_MAX_NAME - 1,
                             comp ? comp : "");
    secup_rc rc = boot_state_check(comp, st, err);
    if (rc != SECUP_OK)
        return rc;
    /* A corrupt file is not overwritten: it may hold the only record of which slot
     * another component runs from, and the caller must decide what to trust. */
    struct boot_statefile sf;
    rc = load(b->path, &sf, err);
    if (rc != SECUP_OK)
        return rc;
    uint32_t i = 0;
    while (i < sf.n && strcmp(sf.e[i].comp, comp) != 0)
        i++;
    if (i == sf.n) {
        if (sf.n == BOOT_STATEFILE_MAX_COMPONENTS)
            return secup_err_set(err, SECUP_E_LIMIT_COMPONENTS,
                                 "boot state file '%s' already holds %d components", b->path,
                                 BOOT_STATEFILE_MAX_COMPONENTS);
        memcpy(sf.e[i].comp, comp, strlen(comp) + 1);
        sf.n++;
    }
    sf.e[i].st = *st;
    char text[BOOT_STATEFILE_MAX_SIZE];
    size_t len = 0;
    rc = boot_statefile_format(&sf, text, sizeof(text), &len, err);
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(b->path, secup_bytes_of(text, len), 0600, err);
    if (rc != SECUP_OK)
        secup_err_prefix(err, "writing boot state file '%s'", b->path);
    return rc;
}

static void statefile_close(struct boot_backend *b)
{
    (void)b; /* nothing is held open between calls */
}

const struct boot_ops boot_statefile_ops = {
    .name = "statefile",
    .get = statefile_get,
    .set = statefile_set,
    .close = statefile_close,
};
