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

/* One signed message type of lib/msg (status report, notification, command, request), for
 * the invariants all of them share. The wrappers take the type's struct as void *. */
struct fuzz_signed_type {
    const char *name;  /* "request": names the calls in failure messages */
    size_t max_size;   /* its largest payload (SECUP_<TYPE>_MAX_SIZE) */
    secup_rc (*decode)(void *msg, struct secup_bytes in, struct secup_err *err);
    secup_rc (*encode)(const void *msg, uint8_t *out, size_t cap, size_t *len,
                       struct secup_err *err);
    secup_rc (*verify)(struct secup_bytes in, const struct secup_key *key, void *msg,
                       struct secup_err *err);
    /* reads the signer's id before anything is trusted; NULL when the type has none */
    secup_rc (*peek)(struct secup_bytes in, struct secup_bytes *who, struct secup_err *err);
};

/* Defines `static const struct fuzz_signed_type var` for the lib/msg type `name` (status,
 * notification, command, request) whose payload struct is T, largest payload MAX, and whose
 * signer is read by peek_fn: the four wrappers that take T as void *. */
#define FUZZ_SIGNED_TYPE(var, name, T, MAX, peek_fn)                                           \
    static secup_rc var##_decode(void *m, struct secup_bytes in, struct secup_err *err)        \
    {                                                                                          \
        return secup_##name##_decode((T *)m, in, err);                                         \
    }                                                                                          \
    static secup_rc var##_encode(const void *m, uint8_t *out, size_t cap, size_t *len,         \
                                 struct secup_err *err)                                        \
    {                                                                                          \
        return secup_##name##_encode((const T *)m, out, cap, len, err);                        \
    }                                                                                          \
    static secup_rc var##_verify(struct secup_bytes in, const struct secup_key *k, void *m,    \
                                 struct secup_err *err)                                        \
    {                                                                                          \
        return secup_##name##_verify(in, k, (T *)m, err);                                      \
    }                                                                                          \
    static secup_rc var##_peek(struct secup_bytes in, struct secup_bytes *who,                 \
                               struct secup_err *err)                                          \
    {                                                                                          \
        return peek_fn(in, who, err);                                                          \
    }                                                                                          \
    static const struct fuzz_signed_type var = { #name,        MAX,         var##_decode,      \
                                                 var##_encode, var##_verify, var##_peek }

/* The input as a bare payload: a refusal carries its code and message; an accepted one
 * encodes again, and the re-encoding of that re-encoding is a fixed point (the decoders
 * take any key order and non-shortest heads). Returns true when it decoded, into msg;
 * scratch is a second struct of the type. Aborts on a broken invariant. */
bool fuzz_common_payload_round_trip(const struct fuzz_signed_type *type, struct secup_bytes in,
                                    void *msg, void *scratch);

/* The input as a signed message: the peek and the verification with key either refuse by
 * the contract of fuzz_common_check_failure() or verify; and what verifies says exactly what
 * `good` (the message signed with key by the target) says: the unprotected header is not
 * signed, so other bytes may verify, never another message. Returns the verification's code,
 * with the message in msg; scratch as above. */
secup_rc fuzz_common_signed_check(const struct fuzz_signed_type *type, struct secup_bytes in,
                                  const struct secup_key *key, struct secup_bytes good,
                                  void *msg, void *scratch);

#endif /* SECUP_FUZZ_COMMON_H */
