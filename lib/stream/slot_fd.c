/* A slot over a file descriptor: a regular file or a block device, written with pwrite at
 * explicit offsets and made durable with fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secup/stream.h"

static secup_rc fd_write(struct secup_slot *s, uint64_t offset, struct secup_bytes data,
                         struct secup_err *err)
{
    if (data.len > s->capacity || offset > s->capacity - data.len)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE,
                             "slot '%s': write of %zu bytes at %llu past its %llu bytes", s->path,
                             data.len, (unsigned long long)offset,
                             (unsigned long long)s->capacity);
    size_t done = 0;
    while (done < data.len) {
        ssize_t n = pwrite(s->fd, data.ptr + done, data.len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return secup_err_set(err, SECUP_E_IO, "slot '%s': write at %llu: %s", s->path,
                                 (unsigned long long)(offset + done),
                                 n < 0 ? strerror(errno) : "no progress");
        done += (size_t)n;
    }
    return SECUP_OK;
}

static secup_rc fd_read(struct secup_slot *s, uint64_t offset, uint8_t *buf, size_t len,
                        struct secup_err *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s->fd, buf + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return secup_err_set(err, SECUP_E_IO, "slot '%s': read at %llu: %s", s->path,
                                 (unsigned long long)(offset + done),
                                 n < 0 ? strerror(errno) : "end of slot");
        done += (size_t)n;
    }
    return SECUP_OK;
}

static secup_rc fd_sync(struct secup_slot *s, struct secup_err *err)
{
    if (fsync(s->fd) != 0)
        return secup_err_set(err, SECUP_E_IO, "slot '%s': fsync: %s", s->path, strerror(errno));
    return SECUP_OK;
}

static void fd_close(struct secup_slot *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static const struct secup_slot_ops slot_fd_ops = {
    .name = "fd",
    .write = fd_write,
    .read = fd_read,
    .sync = fd_sync,
    .close = fd_close,
};

secup_rc secup_slot_fd_open(struct secup_slot *s, const char *path, unsigned flags,
                            uint64_t capacity, struct secup_err *err)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (!path || strlen(path) >= sizeof(s->path))
        return secup_err_set(err, SECUP_E_ARG, "slot path missing or too long");
    snprintf(s->path, sizeof(s->path), "%s", path);
    int oflags = O_RDWR | O_CLOEXEC;
    if (flags & SECUP_SLOT_FILE_CREATE)
        oflags |= O_CREAT;
    int fd = open(path, oflags, 0600);
    if (fd < 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "cannot open slot '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return secup_err_set(err, SECUP_E_IO, "cannot stat slot '%s': %s", path, strerror(e));
    }
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        if (end < 0) {
            int e = errno;
            close(fd);
            return secup_err_set(err, SECUP_E_IO, "size of block device '%s': %s", path,
                                 strerror(e));
        }
        s->capacity = (uint64_t)end;
    } else if (S_ISREG(st.st_mode)) {
        if ((flags & SECUP_SLOT_FILE_TRUNCATE) && ftruncate(fd, 0) != 0) {
            int e = errno;
            close(fd);
            return secup_err_set(err, SECUP_E_IO, "cannot truncate slot '%s': %s", path,
                                 strerror(e));
        }
        s->capacity = capacity ? capacity : (uint64_t)INT64_MAX;
    } else {
        close(fd);
        return secup_err_set(err, SECUP_E_ARG, "slot '%s' is neither a regular file nor a block "
                             "device", path);
    }
    s->fd = fd;
    s->ops = &slot_fd_ops;
    return SECUP_OK;
}
