/* secup — slot storage: the two storage areas (A/B) of a component on a device.
 *
 * A slot is written from offset 0 in order (the streaming pipeline's sink), read back for
 * verification, and synced. Backends: a regular file (simulation and tests) and a block
 * device. The agent opens only the inactive slot for writing. */
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
    /* makes everything written durable (fsync / BLKFLSBUF) */
    secup_rc (*sync)(struct secup_slot *s, struct secup_err *err);
    void (*close)(struct secup_slot *s);
};

struct secup_slot {
    const struct secup_slot_ops *ops;
    int fd;
    uint64_t capacity;   /* bytes the slot can hold */
    char path[4096];
};

#endif /* SECUP_SLOT_H */
