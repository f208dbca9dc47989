/* secup-author: the Author role of X.secup-iot (builds, signs and checks SUIT packages). */
#ifndef SECUP_AUTHOR_H
#define SECUP_AUTHOR_H

#include <stdbool.h>
#include <stdint.h>

#include "compid.h"
#include "secup/secup.h"

#define AUTHOR_MAX_ENVELOPE (64u * 1024 * 1024)

int cmd_keygen(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

/* Reads an envelope file (bounded) and decodes it into a heap envelope.
 * Ownership: free *buf with secup_file_free(*buf, *len) and *env with free(). */
secup_rc author_load_envelope(const char *path, uint8_t **buf, size_t *len,
                              struct secup_envelope **env, struct secup_err *err);

#endif /* SECUP_AUTHOR_H */
