/* The secup-command message (PROTOCOL.md): encode, decode, sign, verify, and the
 * receiver's acceptance check (audience, order, freshness; THREATS.md S7, S8). */
#include <string.h>

#include "cbor/codec.h"
#include "cose/cose.h"
#include "msg/fields.h"
#include "secup/command.h"

/* Keys of secup-command. */
enum {
    K_FORMAT = 1,
    K_ID = 2,
    K_ISSUER = 3,
    K_TARGET = 4,
    K_COUNTER = 5,
    K_ISSUED = 6,
    K_EXPIRES = 7,
    K_ACTION = 8,
    K_URI = 9,
    K_DIGEST = 10,
    K_SEQ = 11,
    K_ROLLOUT = 12,
    K_URIS = 13,
};

#define BIT(k) (UINT32_C(1) << (k))
#define REQUIRED                                                                             \
    (BIT(K_FORMAT) | BIT(K_ID) | BIT(K_ISSUER) | BIT(K_TARGET) | BIT(K_COUNTER) |            \
     BIT(K_ISSUED) | BIT(K_EXPIRES) | BIT(K_ACTION))

static bool is_action(uint64_t a)
{
    return a >= SECUP_COMMAND_INSTALL && a <= SECUP_COMMAND_CANCEL;
}

const char *secup_command_action_name(enum secup_command_action a)
{
    switch (a) {
    case SECUP_COMMAND_INSTALL: return "install";
    case SECUP_COMMAND_NOTHING: return "nothing";
    case SECUP_COMMAND_REPORT: return "report";
    case SECUP_COMMAND_CANCEL: return "cancel";
    }
    return NULL;
}

static bool text_ok(struct secup_bytes b)
{
    return b.len > 0 && b.len <= SECUP_COMMAND_MAX_TEXT && b.ptr != NULL;
}

static bool opt_text_ok(struct secup_bytes b)
{
    return b.len == 0 || text_ok(b);
}

/* What the decoder refuses, the encoder refuses too: a command that signs also decodes. */
static secup_rc check_for_encode(const struct secup_command_msg *c, struct secup_err *err)
{
    if (!is_action((uint64_t)c->action))
        return secup_err_set(err, SECUP_E_ARG, "command action %d", (int)c->action);
    if (!text_ok(c->issuer) || !text_ok(c->target))
        return secup_err_set(err, SECUP_E_ARG, "command issuer and target must be 1..%d bytes",
                             SECUP_COMMAND_MAX_TEXT);
    if (!opt_text_ok(c->manifest_uri) || !opt_text_ok(c->rollout))
        return secup_err_set(err, SECUP_E_ARG, "command manifest uri or rollout id over %d bytes",
                             SECUP_COMMAND_MAX_TEXT);
    if (c->n_uris > SECUP_COMMAND_MAX_URIS)
        return secup_err_set(err, SECUP_E_ARG, "command with %u payload uris", c->n_uris);
    for (uint32_t i = 0; i < c->n_uris; i++)
        if (!text_ok(c->uris[i]))
            return secup_err_set(err, SECUP_E_ARG, "command payload uri %u is empty or too long",
                                 i);
    if (c->action == SECUP_COMMAND_INSTALL &&
        (c->manifest_uri.len == 0 || !c->has_digest || !c->has_seq))
        return secup_err_set(err, SECUP_E_ARG,
                             "an install command needs a manifest uri, digest and sequence number");
    if (c->action == SECUP_COMMAND_CANCEL && c->rollout.len == 0)
        return secup_err_set(err, SECUP_E_ARG, "a cancel command needs a rollout id");
    return SECUP_OK;
}

secup_rc secup_command_encode(const struct secup_command_msg *c, uint8_t *buf, size_t cap,
                              size_t *len, struct secup_err *err)
{
    *len = 0;
    secup_rc rc = check_for_encode(c, err);
    if (rc != SECUP_OK)
        return rc;
    size_t n = 8 + (c->manifest_uri.len ? 1 : 0) + (c->has_digest ? 1 : 0) +
               (c->has_seq ? 1 : 0) + (c->rollout.len ? 1 : 0) + (c->n_uris ? 1 : 0);
    struct secup_cbor_writer w;
    secup_cbor_writer_init(&w, buf, cap);
    secup_cbor_put_map(&w, n);
    secup_cbor_put_uint(&w, K_FORMAT);
    secup_cbor_put_uint(&w, 1);
    secup_cbor_put_uint(&w, K_ID);
    secup_cbor_put_bstr(&w, secup_bytes_of(c->id, sizeof(c->id)));
    secup_cbor_put_uint(&w, K_ISSUER);
    secup_cbor_put_tstr(&w, c->issuer);
    secup_cbor_put_uint(&w, K_TARGET);
    secup_cbor_put_tstr(&w, c->target);
    secup_cbor_put_uint(&w, K_COUNTER);
    secup_cbor_put_uint(&w, c->counter);
    secup_cbor_put_uint(&w, K_ISSUED);
    secup_cbor_put_uint(&w, c->issued_at);
    secup_cbor_put_uint(&w, K_EXPIRES);
    secup_cbor_put_uint(&w, c->expires_at);
    secup_cbor_put_uint(&w, K_ACTION);
    secup_cbor_put_uint(&w, (uint64_t)c->action);
    if (c->manifest_uri.len) {
        secup_cbor_put_uint(&w, K_URI);
        secup_cbor_put_tstr(&w, c->manifest_uri);
    }
    if (c->has_digest) {
        secup_cbor_put_uint(&w, K_DIGEST);
        secup_msg_put_digest(&w, c->digest);
    }
    if (c->has_seq) {
        secup_cbor_put_uint(&w, K_SEQ);
        secup_cbor_put_uint(&w, c->seq);
    }
    if (c->rollout.len) {
        secup_cbor_put_uint(&w, K_ROLLOUT);
        secup_cbor_put_tstr(&w, c->rollout);
    }
    if (c->n_uris) {
        secup_cbor_put_uint(&w, K_URIS);
        secup_cbor_put_array(&w, c->n_uris);
        for (uint32_t i = 0; i < c->n_uris; i++)
            secup_cbor_put_tstr(&w, c->uris[i]);
    }
    *len = w.len;
    return secup_cbor_writer_finish(&w, err);
}

/* A non-empty text of at most SECUP_COMMAND_MAX_TEXT bytes. An empty one is refused so
 * that "absent" has exactly one encoding. */
static secup_rc text(struct secup_cbor_reader *r, struct secup_bytes *out, const char *what,
                     struct secup_err *err)
{
    secup_rc rc = secup_cbor_read_tstr(r, out, what, err);
    if (rc == SECUP_OK && out->len > SECUP_COMMAND_MAX_TEXT)
        rc = secup_err_set(err, SECUP_E_LIMIT_STRING, "%s: %zu bytes", what, out->len);
    if (rc == SECUP_OK && out->len == 0)
        rc = secup_err_set(err, SECUP_E_VALUE, "%s is empty", what);
    return rc;
}

static secup_rc read_uris(struct secup_cbor_reader *r, struct secup_command_msg *c,
                          struct secup_err *err)
{
    uint64_t m = 0;
    secup_rc rc = secup_cbor_read_array(r, &m, "payload uris", err);
    if (rc == SECUP_OK && m > SECUP_COMMAND_MAX_URIS)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "command with %llu payload uris",
                           (unsigned long long)m);
    if (rc == SECUP_OK && m == 0)
        rc = secup_err_set(err, SECUP_E_VALUE, "command with an empty payload uri list");
    for (uint64_t i = 0; rc == SECUP_OK && i < m; i++)
        rc = text(r, &c->uris[i], "payload uri", err);
    if (rc == SECUP_OK)
        c->n_uris = (uint32_t)m;
    return rc;
}

static secup_rc read_field(struct secup_cbor_reader *r, int64_t key, struct secup_command_msg *c,
                           struct secup_err *err)
{
    secup_rc rc;
    uint64_t v = 0;
    struct secup_bytes b;
    switch (key) {
    case K_FORMAT:
        rc = secup_cbor_read_uint(r, &v, "format version", err);
        if (rc == SECUP_OK && v != 1)
            rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "command format %llu",
                               (unsigned long long)v);
        return rc;
    case K_ID:
        rc = secup_cbor_read_bstr(r, &b, "command id", err);
        if (rc == SECUP_OK && b.len != sizeof(c->id))
            rc = secup_err_set(err, SECUP_E_VALUE, "command id is %zu bytes, not 16", b.len);
        if (rc == SECUP_OK)
            memcpy(c->id, b.ptr, sizeof(c->id));
        return rc;
    case K_ISSUER: return text(r, &c->issuer, "issuer", err);
    case K_TARGET: return text(r, &c->target, "target", err);
    case K_COUNTER: return secup_cbor_read_uint(r, &c->counter, "counter", err);
    case K_ISSUED: return secup_cbor_read_uint(r, &c->issued_at, "issued-at", err);
    case K_EXPIRES: return secup_cbor_read_uint(r, &c->expires_at, "expires-at", err);
    case K_ACTION:
        rc = secup_cbor_read_uint(r, &v, "action", err);
        if (rc == SECUP_OK && !is_action(v))
            rc = secup_err_set(err, SECUP_E_VALUE, "command action %llu", (unsigned long long)v);
        if (rc == SECUP_OK)
            c->action = (enum secup_command_action)v;
        return rc;
    case K_URI: return text(r, &c->manifest_uri, "manifest uri", err);
    case K_DIGEST:
        c->has_digest = true;
        return secup_msg_read_digest(r, c->digest, "manifest digest", err);
    case K_SEQ:
        c->has_seq = true;
        return secup_cbor_read_uint(r, &c->seq, "sequence number", err);
    case K_ROLLOUT: return text(r, &c->rollout, "rollout id", err);
    case K_URIS: return read_uris(r, c, err);
    default:
        return secup_err_set(err, SECUP_E_UNKNOWN_KEY, "command: key %lld is not defined",
                             (long long)key);
    }
}

secup_rc secup_command_decode(struct secup_command_msg *c, struct secup_bytes in,
                              struct secup_err *err)
{
    struct secup_cbor_reader r;
    uint64_t n = 0;
    uint32_t seen = 0;
    memset(c, 0, sizeof(*c));
    if (in.len > SECUP_COMMAND_MAX_SIZE)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "command of %zu bytes", in.len);
    secup_cbor_reader_init(&r, in, 4);
    secup_rc rc = secup_cbor_read_map(&r, &n, "command", err);
    if (rc == SECUP_OK && n > K_URIS)
        rc = secup_err_set(err, SECUP_E_LIMIT_ITEMS, "command with %llu entries",
                           (unsigned long long)n);
    for (uint64_t i = 0; rc == SECUP_OK && i < n; i++) {
        int64_t key = 0;
        rc = secup_cbor_read_int(&r, &key, "command key", err);
        if (rc == SECUP_OK)
            rc = secup_msg_seen_once(&seen, key, "command", err);
        if (rc == SECUP_OK)
            rc = read_field(&r, key, c, err);
    }
    if (rc == SECUP_OK && (seen & REQUIRED) != REQUIRED)
        rc = secup_err_set(err, SECUP_E_MISSING, "command lacks a required field");
    if (rc == SECUP_OK && c->action == SECUP_COMMAND_INSTALL &&
        (seen & (BIT(K_URI) | BIT(K_DIGEST) | BIT(K_SEQ))) !=
            (BIT(K_URI) | BIT(K_DIGEST) | BIT(K_SEQ)))
        rc = secup_err_set(err, SECUP_E_MISSING,
                           "an install command lacks its manifest uri, digest or sequence number");
    if (rc == SECUP_OK && c->action == SECUP_COMMAND_CANCEL && !(seen & BIT(K_ROLLOUT)))
        rc = secup_err_set(err, SECUP_E_MISSING, "a cancel command lacks its rollout id");
    if (rc == SECUP_OK && !secup_cbor_at_end(&r))
        rc = secup_err_set(err, SECUP_E_TRAILING, "trailing bytes after the command");
    if (rc != SECUP_OK)
        memset(c, 0, sizeof(*c));
    return rc;
}

secup_rc secup_command_sign(const struct secup_command_msg *c, const struct secup_key *key,
                            uint8_t *buf, size_t cap, size_t *len, struct secup_err *err)
{
    uint8_t payload[SECUP_COMMAND_MAX_SIZE];
    size_t n = 0;
    *len = 0;
    secup_rc rc = secup_command_encode(c, payload, sizeof(payload), &n, err);
    if (rc == SECUP_E_BUF_SMALL)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "command of %zu bytes (at most %d)", n,
                             SECUP_COMMAND_MAX_SIZE);
    if (rc != SECUP_OK)
        return rc;
    return secup_cose_sign1_attached(key, secup_bytes_of(payload, n), c->issuer, buf, cap, len,
                                     err);
}

/* The payload bound plus room for the COSE_Sign1 framing, headers and signature. */
#define MAX_SIGNED (SECUP_COMMAND_MAX_SIZE + 256)

secup_rc secup_command_peek_issuer(struct secup_bytes signed_cmd, struct secup_bytes *issuer,
                                   struct secup_err *err)
{
    return secup_msg_peek_kid(signed_cmd, MAX_SIGNED, "command", issuer, err);
}

secup_rc secup_command_verify(struct secup_bytes signed_cmd, const struct secup_key *key,
                              struct secup_command_msg *c, struct secup_err *err)
{
    struct secup_bytes payload;
    struct secup_bytes kid;
    memset(c, 0, sizeof(*c));
    secup_rc rc = secup_msg_verify_attached(signed_cmd, MAX_SIGNED, "command", key, &payload,
                                            &kid, err);
    if (rc == SECUP_OK)
        rc = secup_command_decode(c, payload, err);
    /* the kid sits in the unprotected header: only its equality with the signed issuer
     * binds it */
    if (rc == SECUP_OK && !secup_bytes_equal(kid, c->issuer)) {
        memset(c, 0, sizeof(*c));
        rc = secup_err_set(err, SECUP_E_VALUE, "the command's kid and its issuer differ");
    }
    return rc;
}

secup_rc secup_command_accept(const struct secup_command_msg *c, const char *my_id, uint64_t now,
                              uint64_t last_counter, uint64_t max_clock_skew,
                              struct secup_err *err)
{
    if (c == NULL || my_id == NULL)
        return secup_err_set(err, SECUP_E_ARG, "command acceptance without a command or an id");
    /* S7/S8: a command captured for one party must not act on another */
    if (!secup_bytes_equal(c->target, secup_bytes_of(my_id, strlen(my_id))))
        return secup_err_set(err, SECUP_E_AUDIENCE, "command %llu is not for '%s'",
                             (unsigned long long)c->counter, my_id);
    /* S7: equal is a replay, lower a reorder; both refused */
    if (c->counter <= last_counter)
        return secup_err_set(err, SECUP_E_REPLAY,
                             "command counter %llu is not greater than the last %llu",
                             (unsigned long long)c->counter, (unsigned long long)last_counter);
    if (c->expires_at <= c->issued_at)
        return secup_err_set(err, SECUP_E_EXPIRED, "command expires (%llu) before it is issued "
                             "(%llu)", (unsigned long long)c->expires_at,
                             (unsigned long long)c->issued_at);
    /* written without now + skew, which could wrap */
    if (c->issued_at > now && c->issued_at - now > max_clock_skew)
        return secup_err_set(err, SECUP_E_EXPIRED,
                             "command issued at %llu, %llu s ahead of the clock (skew %llu)",
                             (unsigned long long)c->issued_at,
                             (unsigned long long)(c->issued_at - now),
                             (unsigned long long)max_clock_skew);
    if (now > c->expires_at)
        return secup_err_set(err, SECUP_E_EXPIRED, "command expired at %llu (now %llu)",
                             (unsigned long long)c->expires_at, (unsigned long long)now);
    return SECUP_OK;
}
