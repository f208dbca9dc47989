/* A slot on a block device (a partition or a whole device on the target). The I/O is the
 * same as for a file slot (slot_file.c); only opening differs. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slot.h"

secup_rc slot_blockdev_open(struct secup_slot *s, const char *path, bool writable,
                            struct secup_err *err)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (!path || path[0] == '\0')
        return secup_err_set(err, SECUP_E_ARG, "slot: no path given");
    size_t n = strlen(path);
    if (n >= sizeof(s->path))
        return secup_err_set(err, SECUP_E_ARG, "slot path too long (%zu bytes)", n);
    memcpy(s->path, path, n + 1);

    /* O_EXCL without O_CREAT on a block device asks the kernel for an exclusive open: it
     * fails with EBUSY while the device is mounted, so the agent cannot write over the
     * file system it runs from. (On other file types Linux ignores it; fstat refuses them
     * below.) */
    int fd = open(path, (writable ? O_RDWR | O_EXCL : O_RDONLY) | O_CLOEXEC);
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
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return secup_err_set(err, SECUP_E_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISBLK(sb.st_mode)) {
        close(fd);
        return secup_err_set(err, SECUP_E_VALUE,
                             "slot '%s' is not a block device (a regular file needs slot type "
                             "\"file\")",
                             path);
    }
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
        int e = errno;
        close(fd);
        return secup_err_set(err, SECUP_E_IO,
                             "cannot get the size of block device '%s' "
                             "(BLKGETSIZE64): %s",
                             path, strerror(e));
    }
    if (size == 0 || size > (uint64_t)INT64_MAX) {
        close(fd);
        return secup_err_set(err, SECUP_E_VALUE,
                             "block device '%s' has an unusable size of %llu bytes", path,
                             (unsigned long long)size);
    }
    s->ops = &slot_blockdev_ops;
    s->fd = fd;
    s->capacity = size;
    return SECUP_OK;
}

const struct secup_slot_ops slot_blockdev_ops = {
    .name = "blockdev",
    .write = slot_fd_write,
    .read = slot_fd_read,
    .sync = slot_fd_sync,
    .close = slot_fd_close,
};
