/* Content-addressed blobs: blobs/sha256/<2 hex>/<64 hex>. A blob is written to blobs/tmp,
 * hashed on the way, fsynced, and renamed to its address; the directory is fsynced, so an
 * acknowledged blob survives a crash and a half-written one is never at an address. */
#define _GNU_SOURCE /* mkostemp */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "secup/file.h"
#include "secup/hash.h"
#include "server.h"

struct blob_writer {
    char blobs[SRV_PATH];
    char tmp[SRV_PATH];
    int fd;
    uint64_t max;
    uint64_t size;
    bool finished;
    struct secup_sha256_ctx *h;
    char hex[SRV_HEX_ID];
};

static secup_rc io_fail(struct secup_err *err, const char *what, const char *path)
{
    int e = errno;
    if (e == ENOSPC || e == EDQUOT)
        return secup_err_set(err, SECUP_E_NOSPACE, "%s '%s': storage full (%s)", what, path,
                             strerror(e));
    return secup_err_set(err, SECUP_E_IO, "%s '%s': %s", what, path, strerror(e));
}

static secup_rc mkdirs(const char *path, struct secup_err *err)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return io_fail(err, "cannot create", path);
    return SECUP_OK;
}

secup_rc blob_begin(const char *blobs, uint64_t max, struct blob_writer **out,
                    struct secup_err *err)
{
    struct blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return secup_err_set(err, SECUP_E_NOMEM, "blob writer");
    w->fd = -1;
    w->max = max;
    snprintf(w->blobs, sizeof(w->blobs), "%s", blobs);
    char dir[SRV_PATH + 128];
    snprintf(dir, sizeof(dir), "%s/tmp", blobs);
    secup_rc rc = mkdirs(blobs, err);
    if (rc == SECUP_OK)
        rc = mkdirs(dir, err);
    if (rc == SECUP_OK)
        rc = secup_sha256_new(&w->h, err);
    if (rc != SECUP_OK) {
        blob_discard(w);
        return rc;
    }
    int n = snprintf(w->tmp, sizeof(w->tmp), "%s/up-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(w->tmp)) {
        blob_discard(w);
        return secup_err_set(err, SECUP_E_ARG, "blob directory path too long");
    }
    w->fd = mkostemp(w->tmp, O_CLOEXEC);
    if (w->fd < 0) {
        rc = io_fail(err, "cannot create a temporary blob in", dir);
        w->tmp[0] = '\0';
        blob_discard(w);
        return rc;
    }
    *out = w;
    return SECUP_OK;
}

secup_rc blob_write(struct blob_writer *w, const uint8_t *p, size_t n, struct secup_err *err)
{
    if (w->finished)
        return secup_err_set(err, SECUP_E_STATE, "blob already finished");
    if (n > w->max - w->size)
        return secup_err_set(err, SECUP_E_LIMIT_BODY, "more than %llu bytes",
                             (unsigned long long)w->max);
    secup_rc rc = secup_sha256_update(w->h, secup_bytes_of(p, n), err);
    if (rc != SECUP_OK)
        return rc;
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(w->fd, p + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return io_fail(err, "cannot write", w->tmp);
        }
        done += (size_t)k;
    }
    w->size += n;
    return SECUP_OK;
}

secup_rc blob_finish(struct blob_writer *w, struct secup_err *err)
{
    if (w->finished)
        return SECUP_OK;
    if (fsync(w->fd) != 0)
        return io_fail(err, "cannot sync", w->tmp);
    uint8_t d[32];
    secup_rc rc = secup_sha256_final(w->h, d, err);
    if (rc != SECUP_OK)
        return rc;
    secup_hex_encode(secup_bytes_of(d, 32), w->hex, sizeof(w->hex));
    w->finished = true;
    return SECUP_OK;
}

const char *blob_tmp_path(const struct blob_writer *w)
{
    return w->tmp;
}

const char *blob_digest_hex(const struct blob_writer *w)
{
    return w->hex;
}

uint64_t blob_size(const struct blob_writer *w)
{
    return w->size;
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    }
    return n == 64;
}

bool blob_path(const char *blobs, const char *hex, char *out, size_t cap)
{
    if (!is_hex64(hex))
        return false;
    int n = snprintf(out, cap, "%s/sha256/%.2s/%s", blobs, hex, hex);
    return n > 0 && (size_t)n < cap;
}

secup_rc blob_commit(struct blob_writer *w, struct secup_err *err)
{
    if (!w->finished)
        return secup_err_set(err, SECUP_E_STATE, "blob not finished");
    char dir[SRV_PATH + 128], dst[SRV_PATH + 128];
    snprintf(dir, sizeof(dir), "%s/sha256", w->blobs);
    secup_rc rc = mkdirs(dir, err);
    if (rc != SECUP_OK)
        return rc;
    snprintf(dir, sizeof(dir), "%s/sha256/%.2s", w->blobs, w->hex);
    rc = mkdirs(dir, err);
    if (rc != SECUP_OK)
        return rc;
    if (!blob_path(w->blobs, w->hex, dst, sizeof(dst)))
        return secup_err_set(err, SECUP_E_ARG, "blob path too long");
    if (rename(w->tmp, dst) != 0)
        return io_fail(err, "cannot move the blob to", dst);
    w->tmp[0] = '\0';
    rc = secup_file_sync_dir(dst, err);
    if (rc == SECUP_OK)
        rc = secup_file_sync_dir(dir, err); /* the fan-out directory's own entry */
    return rc;
}

void blob_discard(struct blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0])
        unlink(w->tmp);
    secup_sha256_free(w->h);
    free(w);
}

size_t blob_sweep_tmp(const char *blobs, uint64_t max_age)
{
    char dir[SRV_PATH + 128];
    snprintf(dir, sizeof(dir), "%s/tmp", blobs);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t gone = 0;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "up-", 3) != 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (uint64_t)(now - st.st_mtime) >= max_age && unlinkat(dirfd(d), e->d_name, 0) == 0)
            gone++;
    }
    closedir(d);
    return gone;
}

uint64_t blob_usage(const char *blobs)
{
    char top[SRV_PATH + 128];
    snprintf(top, sizeof(top), "%s/sha256", blobs);
    DIR *d = opendir(top);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int sub_fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub_fd < 0)
            continue;
        DIR *s = fdopendir(sub_fd);
        if (!s) {
            close(sub_fd);
            continue;
        }
        struct dirent *f;
        while ((f = readdir(s)) != NULL) {
            struct stat st;
            if (f->d_name[0] != '.' && fstatat(dirfd(s), f->d_name, &st, 0) == 0)
                total += (uint64_t)st.st_size;
        }
        closedir(s);
    }
    closedir(d);
    return total;
}
