/* Helpers shared by the fuzz targets and by replay_main.c.
 *
 * Every target is built twice: with -fsanitize=fuzzer (clang, preset "fuzz") and with
 * replay_main.c, which feeds it the files of its corpus under ctest with any compiler
 * (STYLE.md section 9). A target reports a broken invariant by calling fuzz_common_fail(),
 * which prints the reason and aborts, so that both drivers see a crash. */
#ifndef SECUP_FUZZ_COMMON_H
#define SECUP_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/secup.h"

/* The libFuzzer entry point that every <target>_fuzz.c defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The vectors and keys the targets load, relative to the source tree. */
#define FUZZ_VECTORS "tests/vectors/suit/"

/* Prints "fuzz: <message>" to stderr and aborts. */
_Noreturn void fuzz_common_fail(const char *fmt, ...) SECUP_PRINTF(1, 2);

/* Reads a whole file. Ownership: the result is freed with free(); NULL on failure (with
 * errno set). A zero-length file gives a non-NULL one-byte allocation and *len = 0. */
uint8_t *fuzz_common_read_file(const char *path, size_t *len);

/* Reads a file of the source tree: path relative to the working directory first (ctest
 * runs in the source tree), then under the source directory the build was configured
 * from. Aborts when neither exists: a target without its keys would test nothing.
 * Ownership: freed with free(). */
uint8_t *fuzz_common_read_source_file(const char *rel_path, size_t *len);

/* A trust store with the example P-256 public key and the HMAC secret of the SUIT vectors,
 * loaded on the first call and kept for the life of the process. Aborts on failure. */
const struct secup_trust *fuzz_common_vector_trust(void);

/* Checks that a decoded manifest's ranges stay inside its pools and that every view it
 * holds points into `in`, the buffer it was decoded from: what every consumer of the
 * model relies on. Aborts with the broken rule otherwise. */
void fuzz_common_check_manifest(const struct secup_manifest *m, struct secup_bytes in);

/* As fuzz_common_check_manifest(), for the envelope-level views and counts too. */
void fuzz_common_check_envelope(const struct secup_envelope *env, struct secup_bytes in);

/* Checks the contract of a failed call: the code is a known one outside the "caller
 * misuse" band (1xx), and err carries the same code and a message. Aborts otherwise. */
void fuzz_common_check_failure(secup_rc rc, const struct secup_err *err, const char *call);

#endif /* SECUP_FUZZ_COMMON_H */
