/* Component identifiers written as text on command lines and in configuration files:
 * parts separated by '/', each part text or, with a 0x prefix, hex bytes
 * ("flash/app", "0x00"). */
#ifndef SECUP_COMPID_H
#define SECUP_COMPID_H

#include "secup/manifest.h"

struct text_component_id {
    struct secup_component_id id;
    uint8_t storage[256];
};

secup_rc compid_parse(const char *text, struct text_component_id *out, struct secup_err *err);

/* Rebases the views of a parsed identifier after the struct was copied elsewhere. */
void compid_rebase(struct text_component_id *dst, const struct text_component_id *src);

/* Writes id as text: printable parts (A-Z a-z 0-9 . _ - and not starting with "0x") as
 * they are, others as 0x-hex, joined by '/'; the inverse of compid_parse(). False when
 * it does not fit in cap. */
bool compid_format(const struct secup_component_id *id, char *out, size_t cap);

/* Reads an encoded component identifier (a CBOR array of 1 to SECUP_MAX_ID_PARTS byte
 * strings, shortest heads, nothing after it) into out; false when it is not one. */
bool compid_from_cbor(struct secup_bytes in, struct text_component_id *out);

#endif /* SECUP_COMPID_H */
