/* Helpers shared by the unit tests. */
#ifndef SECUP_TESTUTIL_H
#define SECUP_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "secup/secup.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VECTORS "tests/vectors/suit/"

/* Reads a whole file or fails the test. Free with free(). */
uint8_t *tu_read(const char *path, size_t *len);
/* Loads a PEM key or fails the test. */
struct secup_key *tu_key(const char *path);
/* A trust store holding the keys at the given paths (NULL-terminated). */
struct secup_trust *tu_trust(const char *first, ...);
/* A trust store holding the example P-256 key and the HMAC key of the vectors. */
struct secup_trust *tu_vector_trust(void);

/* A signed message's verification, for tu_every_change_refused(): SECUP_OK when in verifies
 * with key. A wrapper of secup_<type>_verify() that keeps the decoded message to itself. */
typedef secup_rc (*tu_verify_fn)(struct secup_bytes in, const struct secup_key *key,
                                 struct secup_err *err);
/* Fails the test unless verify() accepts buf as it is and refuses it with any one byte
 * changed (each of the given XOR masks in turn: a low bit, a high bit) and cut short at any
 * length. buf is changed during the check and restored. */
void tu_every_change_refused(uint8_t *buf, size_t len, const struct secup_key *key,
                             tu_verify_fn verify);

#endif /* SECUP_TESTUTIL_H */
