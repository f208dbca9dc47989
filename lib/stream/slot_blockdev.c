/* A slot on a block device (a partition or a whole device on the target). The I/O is the
 * same as for a file slot (slot_file.c); only opening differs. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slot_file.h"

#define SLOT_FLAGS (SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE)

static const struct secup_slot_ops slot_blockdev_ops = {
    .name = "blockdev",
    .write = secup_slot_fd_write,
    .read = secup_slot_fd_read,
    .sync = secup_slot_fd_sync,
    .close = secup_slot_fd_close,
};

static secup_rc fail_closing(int fd, secup_rc rc)
{
    close(fd);
    return rc;
}

secup_rc secup_slot_blockdev_open(struct secup_slot *s, const char *path, unsigned flags,
                                  struct secup_err *err)
{
    secup_rc rc = secup_slot_fd_init(s, path, err);
    if (rc != SECUP_OK)
        return rc;
    /* CREATE and TRUNCATE are accepted so that callers can open either backend with the
     * same flags; a device exists and keeps its size, and an install is bounded by its image
     * size, not by where the device ends. */
    if ((flags & ~(unsigned)SLOT_FLAGS) != 0 ||
        ((flags & (SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE)) && !(flags & SECUP_SLOT_WRITABLE)))
        return secup_err_set(err, SECUP_E_ARG,
                             "block device '%s': flags 0x%x (create and truncate need writable)",
                             path, flags);
    bool writable = (flags & SECUP_SLOT_WRITABLE) != 0;

    /* O_EXCL without O_CREAT on a block device asks the kernel for an exclusive open: it
     * fails with EBUSY while the device is mounted, so the agent cannot write over the
     * file system it runs from. (On other file types Linux ignores it; fstat refuses them
     * below.) */
    int fd = open(path, (writable ? O_RDWR | O_EXCL : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EBUSY)
            return secup_err_set(err, SECUP_E_IO,
                                 "block device '%s' is in use (mounted or opened exclusively); "
                                 "refusing to write to it",
                                 path);
        return secup_err_set(err, e == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "cannot open block device '%s'%s: %s", path,
                             writable ? " for writing" : "", strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return fail_closing(
            fd, secup_err_set(err, SECUP_E_IO, "cannot stat '%s': %s", path, strerror(errno)));
    if (!S_ISBLK(sb.st_mode))
        return fail_closing(fd, secup_err_set(err, SECUP_E_VALUE,
                                              "slot '%s' is not a block device (a regular file "
                                              "needs the \"file\" slot backend)",
                                              path));
    rc = secup_slot_fd_blocking(s, fd, err);
    if (rc != SECUP_OK)
        return fail_closing(fd, rc);
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) != 0)
        return fail_closing(fd, secup_err_set(err, SECUP_E_IO,
                                              "cannot get the size of block device '%s' "
                                              "(BLKGETSIZE64): %s",
                                              path, strerror(errno)));
    if (size == 0 || size > (uint64_t)INT64_MAX)
        return fail_closing(fd, secup_err_set(err, SECUP_E_VALUE,
                                              "block device '%s' has an unusable size of %llu "
                                              "bytes",
                                              path, (unsigned long long)size));
    s->ops = &slot_blockdev_ops;
    s->fd = fd;
    s->capacity = size;
    return SECUP_OK;
}
