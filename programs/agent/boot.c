/* Choosing a bootloader backend, and the rules every backend shares. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "boot.h"

bool boot_is_valid_name(const char *comp)
{
    size_t n = comp ? strlen(comp) : 0;
    if (n == 0 || n >= BOOT_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = comp[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

bool boot_parse_u32(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

secup_rc boot_state_check(const char *comp, const struct boot_state *st, struct secup_err *err)
{
    if (st->active != 0 && st->active != 1)
        return secup_err_set(err, SECUP_E_VALUE, "component '%s': active slot %d is not 0 or 1",
                             comp, st->active);
    if (st->trial != 0 && st->trial != 1 && st->trial != BOOT_NO_SLOT)
        return secup_err_set(err, SECUP_E_VALUE,
                             "component '%s': trial slot %d is not 0, 1 or none", comp, st->trial);
    /* Trying the slot that is already confirmed means the state was mixed up somewhere;
     * refusing it keeps "boot the trial slot, else the active one" unambiguous. */
    if (st->trial == st->active)
        return secup_err_set(err, SECUP_E_VALUE, "component '%s': trial slot %d is the active slot",
                             comp, st->trial);
    return SECUP_OK;
}

/* The agent never creates a bootloader environment: a wrong path must not silently become
 * a fresh, empty environment the bootloader never reads. */
static secup_rc need_file(const char *path, const char *what, const char *hint,
                          struct secup_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return secup_err_set(err, errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO, "%s '%s': %s%s",
                             what, path, strerror(errno), hint);
    if (!S_ISREG(sb.st_mode))
        return secup_err_set(err, SECUP_E_VALUE, "%s '%s' is not a regular file", what, path);
    return SECUP_OK;
}

secup_rc boot_open(struct boot_backend *b, const char *name, const char *path,
                   struct secup_err *err)
{
    memset(b, 0, sizeof(*b));
    if (!name || !path || path[0] == '\0')
        return secup_err_set(err, SECUP_E_ARG, "bootloader backend: no name or path given");
    size_t n = strlen(path);
    if (n >= sizeof(b->path))
        return secup_err_set(err, SECUP_E_ARG, "bootloader backend '%s': path too long (%zu bytes)",
                             name, n);
    secup_rc rc = SECUP_OK;
    const struct boot_ops *ops = NULL;
    if (strcmp(name, "statefile") == 0) {
        ops = &boot_statefile_ops;
    } else if (strcmp(name, "uboot") == 0) {
        ops = &boot_uboot_ops;
        rc = need_file(path, "U-Boot environment configuration (fw_env.config)", "", err);
    } else if (strcmp(name, "grub") == 0) {
        ops = &boot_grub_ops;
        rc = need_file(path, "GRUB environment block",
                       " (create it with 'grub-editenv FILE create')", err);
    } else {
        return secup_err_set(err, SECUP_E_VALUE,
                             "unknown bootloader backend '%s' (statefile, uboot or grub)", name);
    }
    if (rc != SECUP_OK)
        return rc;
    memcpy(b->path, path, n + 1);
    b->ops = ops;
    return SECUP_OK;
}
