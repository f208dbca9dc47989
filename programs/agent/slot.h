/* Slot backends of secup-agent (include/secup/slot.h): a regular file and a block device.
 *
 * Both keep a file descriptor in struct secup_slot and share the same positioned I/O:
 * writes and reads are bounded by the slot's capacity (SECUP_E_LIMIT_SIZE past it),
 * retried on EINTR and continued after a short transfer; a full device (ENOSPC, EDQUOT)
 * or a file size limit (EFBIG) is SECUP_E_IO with a message that says so. */
#ifndef SECUP_AGENT_SLOT_H
#define SECUP_AGENT_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/slot.h"

/* Opens a regular file as a slot of `capacity` bytes (1 .. INT64_MAX). Writable: the file
 * is created (mode 0600, and its directory fsynced) when missing, and is never truncated;
 * read-only: it must exist.
 * Ownership: close with s->ops->close(s); the slot borrows nothing.
 * Returns SECUP_OK; SECUP_E_ARG (empty or too long path, capacity 0 or too large);
 * SECUP_E_NOENT (read-only and missing, or no such directory); SECUP_E_VALUE (not a regular
 * file); SECUP_E_IO (anything else, with strerror). */
secup_rc slot_file_open(struct secup_slot *s, const char *path, uint64_t capacity, bool writable,
                        struct secup_err *err);

/* Opens a block device as a slot; its capacity is the device size (ioctl BLKGETSIZE64).
 * Writable opens are exclusive (O_EXCL): a device that is mounted or held by another
 * exclusive opener is refused, which keeps the agent off a running slot.
 * Ownership: close with s->ops->close(s).
 * Returns SECUP_OK; SECUP_E_ARG (empty or too long path); SECUP_E_NOENT (missing);
 * SECUP_E_VALUE (not a block device, or size 0); SECUP_E_IO (in use, no permission, ...). */
secup_rc slot_blockdev_open(struct secup_slot *s, const char *path, bool writable,
                            struct secup_err *err);

extern const struct secup_slot_ops slot_file_ops;
extern const struct secup_slot_ops slot_blockdev_ops;

/* The descriptor-based operations both backends use (defined in slot_file.c). */
secup_rc slot_fd_write(struct secup_slot *s, uint64_t offset, struct secup_bytes data,
                       struct secup_err *err);
secup_rc slot_fd_read(struct secup_slot *s, uint64_t offset, uint8_t *buf, size_t len,
                      struct secup_err *err);
secup_rc slot_fd_sync(struct secup_slot *s, struct secup_err *err);
void slot_fd_close(struct secup_slot *s);

#endif /* SECUP_AGENT_SLOT_H */
