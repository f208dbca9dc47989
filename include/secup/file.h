/* secup — whole-file reads and crash-safe whole-file writes. */
#ifndef SECUP_FILE_H
#define SECUP_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "secup/bytes.h"
#include "secup/err.h"

/* Reads a whole file of at most max bytes. Larger: SECUP_E_LIMIT_SIZE; missing:
 * SECUP_E_NOENT; other failures: SECUP_E_IO. Ownership: *out is freed with
 * secup_file_free(*out, *len) (which wipes it). */
SECUP_API SECUP_NODISCARD secup_rc secup_file_read(const char *path, size_t max, uint8_t **out,
                                                   size_t *len, struct secup_err *err);

/* Wipes and frees a buffer returned by secup_file_read(). */
SECUP_API void secup_file_free(uint8_t *buf, size_t len);

/* Replaces path with data atomically: writes a temporary file beside it with the given
 * mode, fsyncs it, renames it over path and fsyncs the directory. On failure path is
 * unchanged and no temporary file is left. */
SECUP_API SECUP_NODISCARD secup_rc secup_file_write_atomic(const char *path,
                                                           struct secup_bytes data, mode_t mode,
                                                           struct secup_err *err);

/* Moves a finished, fsynced temporary file over path (rename) and fsyncs the directory,
 * so that path is either its old content or the new one after a crash. */
SECUP_API SECUP_NODISCARD secup_rc secup_file_commit(const char *tmp, const char *path,
                                                     struct secup_err *err);

/* fsyncs the directory that holds path, so that a file created or renamed there survives
 * a power cut. */
SECUP_API SECUP_NODISCARD secup_rc secup_file_sync_dir(const char *path, struct secup_err *err);

/* Maps a whole regular file read-only (an empty file gives an empty view).
 * Ownership: release with secup_file_unmap(). */
SECUP_API SECUP_NODISCARD secup_rc secup_file_map(const char *path, struct secup_bytes *out,
                                                  struct secup_err *err);
SECUP_API void secup_file_unmap(struct secup_bytes view);

#endif /* SECUP_FILE_H */
