/* A slot in a regular file (simulation, tests, devices that keep images on a file system),
 * and the descriptor-based I/O that the block device backend shares (slot_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secup/file.h"
#include "slot_file.h"

/* pwrite/pread move at most about 2 GiB per call on Linux; asking for less keeps the
 * ssize_t result exact everywhere. */
#define SLOT_IO_MAX ((size_t)1 << 30)

#define SLOT_FILE_FLAGS (SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE)

secup_rc secup_slot_fd_init(struct secup_slot *s, const char *path, struct secup_err *err)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (!path || path[0] == '\0')
        return secup_err_set(err, SECUP_E_ARG, "slot: no path given");
    size_t n = strlen(path);
    if (n >= sizeof(s->path))
        return secup_err_set(err, SECUP_E_ARG, "slot path too long (%zu bytes)", n);
    memcpy(s->path, path, n + 1);
    return SECUP_OK;
}

secup_rc secup_slot_fd_blocking(const struct secup_slot *s, int fd, struct secup_err *err)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        return secup_err_set(err, SECUP_E_IO, "slot '%s': fcntl: %s", s->path, strerror(errno));
    return SECUP_OK;
}

static secup_rc write_error(const struct secup_slot *s, int e, uint64_t offset, size_t len,
                            struct secup_err *err)
{
    unsigned long long off = (unsigned long long)offset;
    if (e == ENOSPC || e == EDQUOT)
        return secup_err_set(err, SECUP_E_IO,
                             "no space left on the device of slot '%s' writing %zu bytes at "
                             "offset %llu: %s",
                             s->path, len, off, strerror(e));
    if (e == EFBIG)
        return secup_err_set(err, SECUP_E_IO,
                             "file size limit reached writing slot '%s' at offset %llu "
                             "(RLIMIT_FSIZE or the file system's maximum): %s",
                             s->path, off, strerror(e));
    if (e == EBADF)
        return secup_err_set(err, SECUP_E_IO, "slot '%s' is not open for writing", s->path);
    return secup_err_set(err, SECUP_E_IO, "writing %zu bytes at offset %llu of slot '%s': %s", len,
                         off, s->path, strerror(e));
}

/* The whole range is checked before the first byte moves, so a refused write leaves the
 * slot as it was. capacity <= INT64_MAX (checked at open) keeps offset + len a valid off_t. */
static secup_rc check_range(const struct secup_slot *s, const char *what, uint64_t offset,
                            size_t len, struct secup_err *err)
{
    if (s->fd < 0)
        return secup_err_set(err, SECUP_E_STATE, "slot '%s' is not open", s->path);
    if (offset > s->capacity || (uint64_t)len > s->capacity - offset)
        return secup_err_set(err, SECUP_E_LIMIT_SIZE,
                             "%s %zu bytes at offset %llu of slot '%s' goes past its capacity "
                             "of %llu bytes",
                             what, len, (unsigned long long)offset, s->path,
                             (unsigned long long)s->capacity);
    return SECUP_OK;
}

secup_rc secup_slot_fd_write(struct secup_slot *s, uint64_t offset, struct secup_bytes data,
                             struct secup_err *err)
{
    secup_rc rc = check_range(s, "writing", offset, data.len, err);
    if (rc != SECUP_OK)
        return rc;
    size_t done = 0;
    while (done < data.len) {
        size_t chunk = data.len - done;
        if (chunk > SLOT_IO_MAX)
            chunk = SLOT_IO_MAX;
        ssize_t n = pwrite(s->fd, data.ptr + done, chunk, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return write_error(s, errno, offset + done, data.len - done, err);
        if (n == 0)
            return secup_err_set(err, SECUP_E_IO,
                                 "writing slot '%s' at offset %llu: the device accepted nothing",
                                 s->path, (unsigned long long)(offset + done));
        done += (size_t)n;
    }
    return SECUP_OK;
}

secup_rc secup_slot_fd_read(struct secup_slot *s, uint64_t offset, uint8_t *buf, size_t len,
                            struct secup_err *err)
{
    secup_rc rc = check_range(s, "reading", offset, len, err);
    if (rc != SECUP_OK)
        return rc;
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done;
        if (chunk > SLOT_IO_MAX)
            chunk = SLOT_IO_MAX;
        ssize_t n = pread(s->fd, buf + done, chunk, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return secup_err_set(err, SECUP_E_IO,
                                 "reading %zu bytes at offset %llu of slot '%s': %s", len - done,
                                 (unsigned long long)(offset + done), s->path, strerror(errno));
        if (n == 0)
            return secup_err_set(err, SECUP_E_IO,
                                 "slot '%s' ends at offset %llu, but %zu bytes at offset %llu "
                                 "were asked for",
                                 s->path, (unsigned long long)(offset + done), len,
                                 (unsigned long long)offset);
        done += (size_t)n;
    }
    return SECUP_OK;
}

secup_rc secup_slot_fd_sync(struct secup_slot *s, struct secup_err *err)
{
    if (s->fd < 0)
        return secup_err_set(err, SECUP_E_STATE, "slot '%s' is not open", s->path);
    /* No retry on failure: after a failed fsync the kernel may have dropped the dirty
     * pages, so a second fsync that succeeds proves nothing. */
    if (fsync(s->fd) != 0) {
        int e = errno;
        if (e == ENOSPC || e == EDQUOT)
            return secup_err_set(err, SECUP_E_IO,
                                 "no space left on the device of slot '%s' "
                                 "(fsync): %s",
                                 s->path, strerror(e));
        return secup_err_set(err, SECUP_E_IO, "fsync of slot '%s': %s", s->path, strerror(e));
    }
    return SECUP_OK;
}

void secup_slot_fd_close(struct secup_slot *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static const struct secup_slot_ops slot_file_ops = {
    .name = "file",
    .write = secup_slot_fd_write,
    .read = secup_slot_fd_read,
    .sync = secup_slot_fd_sync,
    .close = secup_slot_fd_close,
};

/* Opens path, creating it when missing and flags allow. errno is kept for the caller. */
static int open_file(const char *path, unsigned flags, bool *created)
{
    int mode = ((flags & SECUP_SLOT_WRITABLE) ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC;
    *created = false;
    int fd = open(path, mode);
    if (fd < 0 && errno == ENOENT && (flags & SECUP_SLOT_CREATE)) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC, 0600);
        if (fd >= 0)
            *created = true;
        else if (errno == EEXIST) /* another process created it in between */
            fd = open(path, mode);
    }
    return fd;
}

static secup_rc fail_closing(int fd, secup_rc rc)
{
    close(fd);
    return rc;
}

secup_rc secup_slot_file_open(struct secup_slot *s, const char *path, uint64_t capacity,
                              unsigned flags, struct secup_err *err)
{
    secup_rc rc = secup_slot_fd_init(s, path, err);
    if (rc != SECUP_OK)
        return rc;
    if ((flags & ~(unsigned)SLOT_FILE_FLAGS) != 0 ||
        ((flags & (SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE)) && !(flags & SECUP_SLOT_WRITABLE)))
        return secup_err_set(err, SECUP_E_ARG,
                             "slot '%s': flags 0x%x (create and truncate need writable)", path,
                             flags);
    if (capacity == 0 || capacity > (uint64_t)INT64_MAX)
        return secup_err_set(err, SECUP_E_ARG, "slot '%s': capacity %llu is not 1 .. 2^63-1", path,
                             (unsigned long long)capacity);
    bool writable = (flags & SECUP_SLOT_WRITABLE) != 0;
    bool created = false;
    int fd = open_file(path, flags, &created);
    if (fd < 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "cannot open slot file '%s'%s: %s", path,
                             writable ? " for writing" : "", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return fail_closing(fd, secup_err_set(err, SECUP_E_IO, "cannot stat slot file '%s': %s",
                                              path, strerror(errno)));
    if (!S_ISREG(sb.st_mode))
        return fail_closing(fd, secup_err_set(err, SECUP_E_VALUE,
                                              "slot '%s' is not a regular file (a block device "
                                              "needs the \"blockdev\" slot backend)",
                                              path));
    rc = secup_slot_fd_blocking(s, fd, err);
    if (rc != SECUP_OK)
        return fail_closing(fd, rc);
    if ((flags & SECUP_SLOT_TRUNCATE) && !created && ftruncate(fd, 0) != 0)
        return fail_closing(fd, secup_err_set(err, SECUP_E_IO, "cannot truncate slot file '%s': %s",
                                              path, strerror(errno)));
    /* A new file's name must survive a power cut as well as its content. */
    if (created) {
        rc = secup_file_sync_dir(s->path, err);
        if (rc != SECUP_OK) {
            secup_err_prefix(err, "creating slot file '%s'", path);
            return fail_closing(fd, rc);
        }
    }
    s->ops = &slot_file_ops;
    s->fd = fd;
    s->capacity = capacity;
    return SECUP_OK;
}
