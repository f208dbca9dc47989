/* The GRUB environment backend, through grub-editenv (Debian package grub-common).
 *
 * Per component: secup_<comp>_active (0|1), secup_<comp>_trial (0|1; unset = none) and
 * secup_<comp>_attempts (decimal); grub.cfg reads them after `load_env`.
 *
 * grub-editenv rewrites the block in place (open with O_TRUNC, write, fsync), so a power
 * cut in between can leave an empty file. Changes are therefore made on a copy: the block
 * is copied into an unlinked temporary file, grub-editenv edits that copy through
 * /proc/self/fd/N, and the result replaces the grubenv with secup_file_write_atomic()
 * (temp + fsync + rename + fsync of the directory). GRUB looks the file up by name at every
 * boot, so the new inode is what it reads, and its own save_env keeps working on it.
 *
 * A component name with '-' is valid here but awkward to reference from grub.cfg. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_tool.h"
#include "secup/file.h"

#define GRUB_PKG "grub-common"
#define GRUB_MAX_ENV                                                                               \
    (64 * 1024) /* a grubenv block is 1024 bytes; anything far larger is not one                   \
                 */

static secup_rc check_comp(const char *comp, struct secup_err *err)
{
    if (!boot_is_valid_name(comp))
        return secup_err_set(err, SECUP_E_ARG, "invalid component name '%.*s'", BOOT_MAX_NAME - 1,
                             comp ? comp : "");
    return SECUP_OK;
}

/* grub-editenv creates a missing file even for `list`, so existence is checked first: a
 * wrong path must not quietly become a new, empty environment the bootloader never reads. */
static secup_rc check_file(const char *path, mode_t *mode, struct secup_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "GRUB environment block '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return secup_err_set(err, SECUP_E_VALUE,
                             "GRUB environment block '%s' is not a regular file", path);
    *mode = sb.st_mode & 07777;
    return SECUP_OK;
}

static secup_rc grub_get(struct boot_backend *b, const char *comp, struct boot_state *out,
                         struct secup_err *err)
{
    out->active = 0;
    out->trial = BOOT_NO_SLOT;
    out->attempts = 0;
    mode_t mode = 0;
    secup_rc rc = check_comp(comp, err);
    if (rc == SECUP_OK)
        rc = check_file(b->path, &mode, err);
    if (rc != SECUP_OK)
        return rc;
    /* A leading '-' would be read as an option. */
    char arg[sizeof(b->path) + 2];
    snprintf(arg, sizeof(arg), "%s%s", b->path[0] == '-' ? "./" : "", b->path);
    char *text = malloc(BOOT_TOOL_MAX_OUTPUT + 1);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory to read the GRUB environment");
    const char *const argv[] = {"grub-editenv", arg, "list", NULL};
    size_t len = 0;
    rc = boot_tool_run(b->tool_dir, GRUB_PKG, argv, secup_bytes_of(NULL, 0), text,
                       BOOT_TOOL_MAX_OUTPUT + 1, &len, err);
    if (rc == SECUP_OK) {
        char what[sizeof(b->path) + 48];
        snprintf(what, sizeof(what), "GRUB environment '%s'", b->path);
        rc = boot_env_parse(text, len, comp, what, out, err);
    } else {
        secup_err_prefix(err, "reading the GRUB environment");
    }
    free(text);
    return rc;
}

/* Returns 0 or the errno of the failure. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        done += (size_t)w;
    }
    return 0;
}

/* Reads the whole edited copy back (at most GRUB_MAX_ENV bytes) into *out (malloc). */
static secup_rc read_copy(int fd, uint8_t **out, size_t *len, struct secup_err *err)
{
    *out = NULL;
    *len = 0;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return secup_err_set(err, SECUP_E_IO, "stat of the edited copy: %s", strerror(errno));
    if (sb.st_size <= 0 || sb.st_size > GRUB_MAX_ENV)
        return secup_err_set(err, SECUP_E_IO, "grub-editenv left a copy of %lld bytes",
                             (long long)sb.st_size);
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = malloc(size);
    if (!buf)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the GRUB environment");
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return secup_err_set(err, SECUP_E_IO, "reading the edited copy: %s",
                                 n < 0 ? strerror(errno) : "it shrank");
        }
        got += (size_t)n;
    }
    *out = buf;
    *len = size;
    return SECUP_OK;
}

static secup_rc edit(struct boot_backend *b, const char *comp, const struct boot_state *st, int fd,
                     struct secup_err *err)
{
    char fdpath[64];
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    char active[BOOT_MAX_NAME + 32];
    char attempts[BOOT_MAX_NAME + 32];
    char trial[BOOT_MAX_NAME + 32];
    snprintf(active, sizeof(active), "secup_%s_active=%d", comp, st->active);
    snprintf(attempts, sizeof(attempts), "secup_%s_attempts=%u", comp, (unsigned)st->attempts);
    if (st->trial == BOOT_NO_SLOT)
        snprintf(trial, sizeof(trial), "secup_%s_trial", comp);
    else
        snprintf(trial, sizeof(trial), "secup_%s_trial=%d", comp, st->trial);
    const char *const set[] = {"grub-editenv",
                               fdpath,
                               "set",
                               active,
                               attempts,
                               st->trial == BOOT_NO_SLOT ? NULL : trial,
                               NULL};
    const char *const unset[] = {"grub-editenv", fdpath, "unset", trial, NULL};
    char out[1024];
    size_t len = 0;
    secup_rc rc = boot_tool_run(b->tool_dir, GRUB_PKG, set, secup_bytes_of(NULL, 0), out,
                                sizeof(out), &len, err);
    if (rc == SECUP_OK && st->trial == BOOT_NO_SLOT)
        rc = boot_tool_run(b->tool_dir, GRUB_PKG, unset, secup_bytes_of(NULL, 0), out, sizeof(out),
                           &len, err);
    return rc;
}

/* Copies the block into a new, already unlinked file beside it: the copy exists under a
 * name only for an instant, so a crash cannot leave it behind. *fd is the copy. */
static secup_rc make_copy(const char *path, int *fd, struct secup_err *err)
{
    *fd = -1;
    uint8_t *orig = NULL;
    size_t orig_len = 0;
    secup_rc rc = secup_file_read(path, GRUB_MAX_ENV, &orig, &orig_len, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "GRUB environment block");
        return rc;
    }
    char tmpl[4096 + 32];
    snprintf(tmpl, sizeof(tmpl), "%s.secup-edit.XXXXXX", path);
    int cfd = mkstemp(tmpl);
    int e = errno;
    if (cfd >= 0) {
        unlink(tmpl);
        /* With stdin, stdout or stderr closed the copy could be 0, 1 or 2, which the
         * tool's standard streams take over: its /proc/self/fd/N would be a pipe. */
        if (cfd < 3) {
            int moved = fcntl(cfd, F_DUPFD, 3);
            e = errno;
            close(cfd);
            cfd = moved;
        }
    }
    if (cfd >= 0) {
        e = write_all(cfd, orig, orig_len);
        if (e != 0) {
            close(cfd);
            cfd = -1;
        }
    }
    secup_file_free(orig, orig_len);
    if (cfd < 0)
        return secup_err_set(err, SECUP_E_IO, "cannot make a working copy beside '%s': %s", path,
                             strerror(e));
    *fd = cfd;
    return SECUP_OK;
}

static secup_rc grub_set(struct boot_backend *b, const char *comp, const struct boot_state *st,
                         struct secup_err *err)
{
    mode_t mode = 0;
    secup_rc rc = check_comp(comp, err);
    if (rc == SECUP_OK)
        rc = boot_state_check(comp, st, err);
    if (rc == SECUP_OK)
        rc = check_file(b->path, &mode, err);
    int fd = -1;
    if (rc == SECUP_OK)
        rc = make_copy(b->path, &fd, err);
    if (rc != SECUP_OK)
        return rc;
    rc = edit(b, comp, st, fd, err);
    uint8_t *edited = NULL;
    size_t edited_len = 0;
    if (rc == SECUP_OK)
        rc = read_copy(fd, &edited, &edited_len, err);
    close(fd);
    if (rc == SECUP_OK)
        rc = secup_file_write_atomic(b->path, secup_bytes_of(edited, edited_len), mode, err);
    free(edited);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "writing the GRUB environment '%s'", b->path);
        return rc;
    }

    struct boot_state back;
    rc = grub_get(b, comp, &back, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "reading back what grub-editenv wrote");
        return rc;
    }
    if (back.active != st->active || back.trial != st->trial || back.attempts != st->attempts)
        return secup_err_set(err, SECUP_E_IO,
                             "GRUB environment '%s' holds active=%d trial=%d attempts=%u for "
                             "'%s' after writing %d/%d/%u",
                             b->path, back.active, back.trial, (unsigned)back.attempts, comp,
                             st->active, st->trial, (unsigned)st->attempts);
    return SECUP_OK;
}

static void grub_close(struct boot_backend *b)
{
    (void)b; /* nothing is held open between calls */
}

const struct boot_ops boot_grub_ops = {
    .name = "grub",
    .get = grub_get,
    .set = grub_set,
    .close = grub_close,
};
