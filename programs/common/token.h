/* Bearer tokens of the daemons: random, shown once, stored only as their SHA-256. */
#ifndef SECUP_TOKEN_H
#define SECUP_TOKEN_H

#include <stddef.h>

#include "secup/err.h"

#define TOKEN_HASH_HEX 65

/* Lowercase hex SHA-256 of a token: how tokens are stored and looked up. */
void token_hash(const char *token, char out[TOKEN_HASH_HEX]);
/* A new random token: 43 characters of base64url (258 bits). */
secup_rc token_new(char out[64], struct secup_err *err);
/* Reads a token file: one token of printable ASCII, surrounding white space ignored.
 * SECUP_E_VALUE when the file holds none, more than one, or one of cap bytes or more;
 * the file errors of secup_file_read() otherwise. */
secup_rc token_read_file(const char *path, char *out, size_t cap, struct secup_err *err);

#endif /* SECUP_TOKEN_H */
