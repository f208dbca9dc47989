/* The U-Boot environment backend, through fw_printenv/fw_setenv of libubootenv (Debian
 * package libubootenv-tool), configured by a fw_env.config file.
 *
 * Per component: secup_<comp>_active (0|1), secup_<comp>_trial (0|1; unset = none) and
 * secup_<comp>_attempts (decimal). A boot script reads them as ${secup_rootfs_active}.
 *
 * All three variables of a change go to fw_setenv in one script (-s), so they land in one
 * environment write: with a redundant environment (two lines in fw_env.config) libubootenv
 * writes the inactive copy, fsyncs it and flips the flags, and a power cut leaves the old
 * or the new environment. A single-copy environment has no such guarantee; that is U-Boot's
 * design, and why devices should configure the redundant one.
 *
 * fw_setenv -s exits 0 even when it ignores a script line or cannot open the script, so
 * every change is read back and compared before it is reported done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_tool.h"

#define UBOOT_PKG "libubootenv-tool"

static secup_rc check_comp(const char *comp, struct secup_err *err)
{
    if (!boot_is_valid_name(comp))
        return secup_err_set(err, SECUP_E_ARG, "invalid component name '%.*s'", BOOT_MAX_NAME - 1,
                             comp ? comp : "");
    return SECUP_OK;
}

static secup_rc uboot_get(struct boot_backend *b, const char *comp, struct boot_state *out,
                          struct secup_err *err)
{
    out->active = 0;
    out->trial = BOOT_NO_SLOT;
    out->attempts = 0;
    secup_rc rc = check_comp(comp, err);
    if (rc != SECUP_OK)
        return rc;
    char *text = malloc(BOOT_TOOL_MAX_OUTPUT + 1);
    if (!text)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory to read the U-Boot environment");
    /* All variables rather than the three by name: fw_printenv versions disagree on how
     * they report a variable that is not set. */
    const char *const argv[] = {"fw_printenv", "-c", b->path, NULL};
    size_t len = 0;
    rc = boot_tool_run(b->tool_dir, UBOOT_PKG, argv, secup_bytes_of(NULL, 0), text,
                       BOOT_TOOL_MAX_OUTPUT + 1, &len, err);
    if (rc == SECUP_OK) {
        char what[sizeof(b->path) + 48];
        snprintf(what, sizeof(what), "U-Boot environment of '%s'", b->path);
        rc = boot_env_parse(text, len, comp, what, out, err);
    } else {
        secup_err_prefix(err, "reading the U-Boot environment");
    }
    free(text);
    return rc;
}

static secup_rc uboot_set(struct boot_backend *b, const char *comp, const struct boot_state *st,
                          struct secup_err *err)
{
    secup_rc rc = check_comp(comp, err);
    if (rc == SECUP_OK)
        rc = boot_state_check(comp, st, err);
    if (rc != SECUP_OK)
        return rc;
    /* "name=" with nothing after it deletes the variable. */
    char trial[2] = {st->trial == BOOT_NO_SLOT ? '\0' : (char)('0' + st->trial), '\0'};
    char script[3 * (BOOT_MAX_NAME + 32)];
    int n = snprintf(script, sizeof(script),
                     "secup_%s_active=%d\nsecup_%s_trial=%s\nsecup_%s_attempts=%u\n", comp,
                     st->active, comp, trial, comp, (unsigned)st->attempts);
    if (n < 0 || (size_t)n >= sizeof(script))
        return secup_err_set(err, SECUP_E_ARG, "component name too long: '%s'", comp);
    /* The script comes through a pipe on stdin, so no temporary file is needed. */
    const char *const argv[] = {"fw_setenv", "-c", b->path, "-s", "/proc/self/fd/0", NULL};
    char out[1024];
    size_t len = 0;
    rc = boot_tool_run(b->tool_dir, UBOOT_PKG, argv, secup_bytes_of(script, (size_t)n), out,
                       sizeof(out), &len, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "writing the U-Boot environment");
        return rc;
    }
    struct boot_state back;
    rc = uboot_get(b, comp, &back, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "reading back what fw_setenv wrote");
        return rc;
    }
    if (back.active != st->active || back.trial != st->trial || back.attempts != st->attempts)
        return secup_err_set(err, SECUP_E_IO,
                             "fw_setenv -c '%s' reported success, but the environment holds "
                             "active=%d trial=%d attempts=%u for '%s' instead of %d/%d/%u "
                             "(check the device lines of the configuration)",
                             b->path, back.active, back.trial, (unsigned)back.attempts, comp,
                             st->active, st->trial, (unsigned)st->attempts);
    return SECUP_OK;
}

static void uboot_close(struct boot_backend *b)
{
    (void)b; /* nothing is held open between calls */
}

const struct boot_ops boot_uboot_ops = {
    .name = "uboot",
    .get = uboot_get,
    .set = uboot_set,
    .close = uboot_close,
};
