/* secup — slot storage: the two storage areas (A/B) of a component on a device.
 *
 * A slot is written from offset 0 in order (the streaming pipeline's sink), read back for
 * verification, and synced. Backends (STYLE.md section 6): a regular file (simulation, tests,
 * devices that keep images on a file system) and a block device, both below; tests add
 * memory slots of their own. The agent opens only the inactive slot for writing.
 *
 * The two backends share one positioned I/O: reads and writes are bounded by the slot's
 * capacity (SECUP_E_LIMIT_SIZE past it, checked before any byte moves), retried on EINTR and
 * continued after a short transfer; a full device (ENOSPC, EDQUOT) or a file size limit
 * (EFBIG) is SECUP_E_IO with a message that says so. A closed slot answers SECUP_E_STATE. */
#ifndef SECUP_SLOT_H
#define SECUP_SLOT_H

#include <stdint.h>
#include <sys/types.h>

#include "secup/bytes.h"
#include "secup/err.h"

struct secup_slot;

struct secup_slot_ops {
    const char *name;
    /* pwrite-like: writes all of data at offset; SECUP_E_IO (with errno text), or
     * SECUP_E_LIMIT_SIZE past the slot's capacity */
    secup_rc (*write)(struct secup_slot *s, uint64_t offset, struct secup_bytes data,
                      struct secup_err *err);
    /* reads exactly len bytes at offset into buf */
    secup_rc (*read)(struct secup_slot *s, uint64_t offset, uint8_t *buf, size_t len,
                     struct secup_err *err);
    /* makes everything written durable (fsync) */
    secup_rc (*sync)(struct secup_slot *s, struct secup_err *err);
    void (*close)(struct secup_slot *s);
};

struct secup_slot {
    const struct secup_slot_ops *ops;
    int fd;
    uint64_t capacity;   /* bytes the slot can hold */
    char path[4096];
};

/* Flags of secup_slot_file_open() and secup_slot_blockdev_open(). */
enum {
    SECUP_SLOT_WRITABLE = 1 << 0, /* open read-write; without it the slot is read-only */
    SECUP_SLOT_CREATE = 1 << 1,   /* create a missing file (mode 0600, directory fsynced);
                                   * needs SECUP_SLOT_WRITABLE; no effect on a device */
    SECUP_SLOT_TRUNCATE = 1 << 2, /* empty the file (a fresh install, not a resume); needs
                                   * SECUP_SLOT_WRITABLE; no effect on a device */
};

/* Opens a regular file as a slot of `capacity` bytes.
 *   s         out: the slot; on failure s->ops is NULL and s->fd is -1
 *   path      in: the file; at most sizeof(s->path) - 1 bytes
 *   capacity  in: the most bytes the slot holds, 1 .. INT64_MAX. There is no "unlimited":
 *             a file slot is bounded like every other size (the agent's slot-size)
 *   flags     in: SECUP_SLOT_WRITABLE, SECUP_SLOT_CREATE, SECUP_SLOT_TRUNCATE. Without
 *             CREATE the file must exist; without TRUNCATE its bytes are kept (a resume)
 *   err       out, optional: detail, naming the path and strerror
 * Ownership: the path is copied; close with s->ops->close(s) (closing twice is harmless).
 * Returns SECUP_OK; SECUP_E_ARG (no or too long path, capacity out of range, unknown flags,
 * CREATE or TRUNCATE without WRITABLE); SECUP_E_NOENT (missing and no CREATE, or no such
 * directory); SECUP_E_VALUE (not a regular file: a block device needs
 * secup_slot_blockdev_open()); SECUP_E_IO (anything else, with strerror). */
SECUP_API SECUP_NODISCARD secup_rc secup_slot_file_open(struct secup_slot *s, const char *path,
                                                        uint64_t capacity, unsigned flags,
                                                        struct secup_err *err);

/* Opens a block device (a partition or a whole device) as a slot; its capacity is the
 * device size (ioctl BLKGETSIZE64). Writable opens are exclusive (O_EXCL): a device that is
 * mounted or held by another exclusive opener is refused, which keeps the agent off the slot
 * it runs from.
 *   s      out: the slot; on failure s->ops is NULL and s->fd is -1
 *   path   in: the device node; at most sizeof(s->path) - 1 bytes
 *   flags  in: SECUP_SLOT_WRITABLE or 0. CREATE and TRUNCATE are accepted with WRITABLE
 *          (so that one set of flags opens either backend) and do nothing: a device must
 *          exist, and keeps its size and any bytes past what is written
 *   err    out, optional: detail, naming the path and strerror
 * Ownership: the path is copied; close with s->ops->close(s) (closing twice is harmless).
 * Returns SECUP_OK; SECUP_E_ARG (no or too long path, unknown flags, CREATE or TRUNCATE
 * without WRITABLE);
 * SECUP_E_NOENT (missing); SECUP_E_VALUE (not a block device, or size 0); SECUP_E_IO (in
 * use, no permission, ..., with strerror). */
SECUP_API SECUP_NODISCARD secup_rc secup_slot_blockdev_open(struct secup_slot *s, const char *path,
                                                            unsigned flags, struct secup_err *err);

#endif /* SECUP_SLOT_H */
