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

#endif /* SECUP_TESTUTIL_H */
