/* The descriptor-based slot I/O that both slot backends share (include/secup/slot.h):
 * defined in slot_file.c, used by slot_file.c and slot_blockdev.c. */
#ifndef SECUP_STREAM_SLOT_FILE_H
#define SECUP_STREAM_SLOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "secup/slot.h"

/* Resets s to a closed slot (ops NULL, fd -1) and copies path into it.
 * Returns SECUP_OK or SECUP_E_ARG (no path, empty, or too long). */
secup_rc secup_slot_fd_init(struct secup_slot *s, const char *path, struct secup_err *err);

/* Clears O_NONBLOCK, which the backends open with so that a FIFO given as a slot path is
 * refused instead of blocking the caller. Returns SECUP_OK or SECUP_E_IO. */
secup_rc secup_slot_fd_blocking(const struct secup_slot *s, int fd, struct secup_err *err);

/* The ops of both backends: bounded by s->capacity, EINTR and short transfers handled. */
secup_rc secup_slot_fd_write(struct secup_slot *s, uint64_t offset, struct secup_bytes data,
                             struct secup_err *err);
secup_rc secup_slot_fd_read(struct secup_slot *s, uint64_t offset, uint8_t *buf, size_t len,
                            struct secup_err *err);
secup_rc secup_slot_fd_sync(struct secup_slot *s, struct secup_err *err);
void secup_slot_fd_close(struct secup_slot *s);

#endif /* SECUP_STREAM_SLOT_FILE_H */
