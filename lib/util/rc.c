/* The strings of every result code. tests/unit/lib/test_rc.c checks that none is missing. */
#include <string.h>

#include "secup/rc.h"

struct rc_entry {
    secup_rc rc;
    const char *name;
    const char *str;
};

#define RC(code, text) { code, #code, text }

static const struct rc_entry rc_table[] = {
    RC(SECUP_OK, "success"),
    RC(SECUP_E_ARG, "invalid argument"),
    RC(SECUP_E_STATE, "operation not valid in the current state"),
    RC(SECUP_E_BUF_SMALL, "output buffer too small"),
    RC(SECUP_E_USAGE, "command-line usage error"),
    RC(SECUP_E_CBOR, "malformed CBOR"),
    RC(SECUP_E_LIMIT, "a limit was exceeded"),
    RC(SECUP_E_UNSUPPORTED, "not supported"),
    RC(SECUP_E_TYPE, "wrong CBOR type"),
    RC(SECUP_E_MISSING, "required field missing"),
    RC(SECUP_E_DUPLICATE, "duplicate map key"),
    RC(SECUP_E_TRAILING, "trailing bytes after the item"),
    RC(SECUP_E_INDEFINITE, "indefinite-length CBOR item not allowed"),
    RC(SECUP_E_UNKNOWN_KEY, "unknown map key"),
    RC(SECUP_E_VALUE, "value out of range"),
    RC(SECUP_E_LIMIT_SIZE, "input larger than the maximum size"),
    RC(SECUP_E_LIMIT_DEPTH, "nesting deeper than the maximum depth"),
    RC(SECUP_E_LIMIT_COMPONENTS, "more components than allowed"),
    RC(SECUP_E_LIMIT_COMMANDS, "command sequence longer than allowed"),
    RC(SECUP_E_LIMIT_STRING, "text string longer than allowed"),
    RC(SECUP_E_LIMIT_BYTES, "byte string longer than allowed"),
    RC(SECUP_E_LIMIT_PARAMS, "more parameters than allowed"),
    RC(SECUP_E_LIMIT_AUTH, "more authentication blocks than allowed"),
    RC(SECUP_E_LIMIT_ITEMS, "array or map with more entries than allowed"),
    RC(SECUP_E_JSON, "malformed or invalid JSON"),
    RC(SECUP_E_KEY_FORMAT, "key file cannot be parsed"),
    RC(SECUP_E_SEVERED, "severed element not present in the envelope"),
    RC(SECUP_E_LIMIT_TEXT, "more text entries than allowed"),
    RC(SECUP_E_LIMIT_DEPENDENCIES, "more dependencies or integrated payloads than allowed"),
    RC(SECUP_E_TRUNCATED, "payload ends before its declared size"),
    RC(SECUP_E_OVERLONG, "bytes appended after the declared end of the payload"),
    RC(SECUP_E_COMPRESSED, "malformed compressed data"),
    RC(SECUP_E_BOMB, "decompressed data larger than the declared image size"),
    RC(SECUP_E_HTTP, "malformed HTTP request"),
    RC(SECUP_E_LIMIT_BODY, "body larger than allowed"),
    RC(SECUP_E_SIG, "signature or MAC does not verify"),
    RC(SECUP_E_DIGEST, "digest mismatch"),
    RC(SECUP_E_KEY_UNKNOWN, "no trusted key for this signer"),
    RC(SECUP_E_ROLLBACK, "sequence number not newer than the installed one"),
    RC(SECUP_E_VENDOR, "vendor identifier missing or not matching"),
    RC(SECUP_E_CLASS, "class identifier missing or not matching"),
    RC(SECUP_E_SIZE, "size mismatch"),
    RC(SECUP_E_UNSIGNED, "no authentication block"),
    RC(SECUP_E_POLICY, "refused by policy"),
    RC(SECUP_E_UNWRAP, "wrapped content key does not unwrap with this key"),
    RC(SECUP_E_TAG, "authentication tag does not verify"),
    RC(SECUP_E_NO_RECIPIENT, "no recipient in the encryption info for this key"),
    RC(SECUP_E_CONDITION, "a manifest condition does not hold"),
    RC(SECUP_E_AUTH, "missing, malformed or unknown credential"),
    RC(SECUP_E_FORBIDDEN, "not allowed for this principal"),
    RC(SECUP_E_BANNED, "principal is banned"),
    RC(SECUP_E_LOCATION, "outside the image's location policy"),
    RC(SECUP_E_QUARANTINED, "image quarantined or removed from distribution"),
    RC(SECUP_E_FLAGGED, "image flagged by the scanner"),
    RC(SECUP_E_REPLAY, "counter not increasing: replayed or reordered message"),
    RC(SECUP_E_EXPIRED, "message expired or not yet valid"),
    RC(SECUP_E_AUDIENCE, "message meant for another party"),
    RC(SECUP_E_QUOTA, "quota exceeded"),
    RC(SECUP_E_STATE_ROLLBACK, "device state older than its secure counter (a restored copy)"),
    RC(SECUP_E_THRESHOLD, "too few distinct authorised signatures"),
    RC(SECUP_E_GAVE_UP, "the same update failed too often; not tried again"),
    RC(SECUP_E_UNAPPROVED, "not approved by the device's tracker"),
    RC(SECUP_E_NOMEM, "out of memory"),
    RC(SECUP_E_IO, "I/O error"),
    RC(SECUP_E_NET, "network error"),
    RC(SECUP_E_DB, "database error"),
    RC(SECUP_E_CRYPTO, "cryptographic backend failure"),
    RC(SECUP_E_NOENT, "no such file or object"),
    RC(SECUP_E_EXISTS, "already exists"),
    RC(SECUP_E_NOSPACE, "storage full"),
    RC(SECUP_E_TIMEOUT, "timed out"),
    RC(SECUP_E_UNAVAILABLE, "service unavailable"),
    RC(SECUP_E_KEY_EXPOSED, "private key file readable or writable by others"),
    RC(SECUP_E_RATE, "too many requests from this address"),
};

static const struct rc_entry *find(secup_rc rc)
{
    for (size_t i = 0; i < sizeof(rc_table) / sizeof(rc_table[0]); i++) {
        if (rc_table[i].rc == rc)
            return &rc_table[i];
    }
    return NULL;
}

const char *secup_rc_str(secup_rc rc)
{
    const struct rc_entry *e = find(rc);
    return e ? e->str : "unknown result code";
}

const char *secup_rc_name(secup_rc rc)
{
    const struct rc_entry *e = find(rc);
    return e ? e->name : "SECUP_E_UNKNOWN_CODE";
}

int secup_rc_exit_status(secup_rc rc)
{
    if (rc == SECUP_OK)
        return 0;
    if (rc >= 100 && rc < 200)
        return 2;
    if (rc >= 200 && rc < 300)
        return 3;
    if (rc >= 300 && rc < 400)
        return 1;
    return 4;
}

_Bool secup_rc_from_name(const char *name, secup_rc *out)
{
    for (size_t i = 0; i < sizeof(rc_table) / sizeof(rc_table[0]); i++) {
        if (strcmp(rc_table[i].name, name) == 0) {
            *out = rc_table[i].rc;
            return 1;
        }
    }
    return 0;
}
