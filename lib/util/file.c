#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "secup/file.h"

secup_rc secup_file_read(const char *path, size_t max, uint8_t **out, size_t *len,
                         struct secup_err *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return secup_err_set(err, SECUP_E_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return secup_err_set(err, SECUP_E_IO, "'%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        close(fd);
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "'%s' is %lld bytes, more than the limit of %zu",
                             path, (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = secup_alloc(size + 1);
    if (!buf) {
        close(fd);
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for '%s' (%zu bytes)", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            close(fd);
            secup_file_free(buf, size + 1);
            return secup_err_set(err, SECUP_E_IO, "reading '%s': %s", path,
                                 e ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = size;
    return SECUP_OK;
}

void secup_file_free(uint8_t *buf, size_t len)
{
    if (!buf)
        return;
    secup_wipe(buf, len);
    secup_free(buf);
}

secup_rc secup_file_sync_dir(const char *path, struct secup_err *err)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(dir))
        return secup_err_set(err, SECUP_E_ARG, "path too long: '%s'", path);
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash)
        memcpy(dir, ".", 2);
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return secup_err_set(err, SECUP_E_IO, "cannot open directory '%s': %s", dir,
                             strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return secup_err_set(err, SECUP_E_IO, "fsync of directory '%s': %s", dir, strerror(e));
    return SECUP_OK;
}

secup_rc secup_file_write_atomic(const char *path, struct secup_bytes data, mode_t mode,
                                 struct secup_err *err)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return secup_err_set(err, SECUP_E_ARG, "path too long: '%s'", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "cannot create a file beside '%s': %s", path, strerror(errno));
    secup_rc rc = SECUP_OK;
    if (fchmod(fd, mode) != 0) {
        rc = secup_err_set(err, SECUP_E_IO, "chmod '%s': %s", tmp, strerror(errno));
        goto out_unlink;
    }
    size_t done = 0;
    while (done < data.len) {
        ssize_t w = write(fd, data.ptr + done, data.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = secup_err_set(err, SECUP_E_IO, "writing '%s': %s", tmp, strerror(errno));
            goto out_unlink;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = secup_err_set(err, SECUP_E_IO, "fsync '%s': %s", tmp, strerror(errno));
        goto out_unlink;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = secup_err_set(err, SECUP_E_IO, "closing '%s': %s", tmp, strerror(errno));
        goto out_unlink;
    }
    fd = -1;
    rc = secup_file_commit(tmp, path, err);
    if (rc != SECUP_OK)
        goto out_unlink;
    return SECUP_OK;

out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

secup_rc secup_file_map(const char *path, struct secup_bytes *out, struct secup_err *err)
{
    *out = secup_bytes_of(NULL, 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return secup_err_set(err, SECUP_E_IO, "'%s' is not a readable regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return SECUP_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return secup_err_set(err, SECUP_E_IO, "cannot map '%s': %s", path, strerror(e));
    *out = secup_bytes_of(p, (size_t)st.st_size);
    return SECUP_OK;
}

void secup_file_unmap(struct secup_bytes view)
{
    if (view.ptr && view.len)
        munmap((void *)(uintptr_t)view.ptr, view.len);
}

secup_rc secup_file_commit(const char *tmp, const char *path, struct secup_err *err)
{
    if (rename(tmp, path) != 0)
        return secup_err_set(err, SECUP_E_IO, "renaming '%s' to '%s': %s", tmp, path,
                             strerror(errno));
    return secup_file_sync_dir(path, err);
}
