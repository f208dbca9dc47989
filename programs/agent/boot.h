/* Bootloader backends of secup-agent: where the boot stage reads which slot to start.
 *
 * Every backend keeps, per component, three facts: the active (confirmed) slot, the slot
 * on trial (or none), and the boot attempts left for the trial. The agent changes them
 * only through this interface; a backend writes each change durably before returning
 * (state file: temp + fsync + rename + fsync dir; U-Boot: fw_setenv, which writes the
 * redundant environment copy; GRUB: grub-editenv on a copy of the grubenv block, which
 * then replaces it by rename). */
#ifndef SECUP_AGENT_BOOT_H
#define SECUP_AGENT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/err.h"

#define BOOT_NO_SLOT (-1)
#define BOOT_MAX_NAME 64

struct boot_state {
    int active;        /* 0 (A) or 1 (B) */
    int trial;         /* 0, 1, or BOOT_NO_SLOT */
    uint32_t attempts; /* boot attempts left for the trial slot */
};

struct boot_backend;

struct boot_ops {
    const char *name; /* "statefile", "uboot", "grub" */
    /* Reads the state of component `comp` (a short name: letters, digits, '_' '-').
     * A component never written reads as { active 0, trial none, attempts 0 }. */
    secup_rc (*get)(struct boot_backend *b, const char *comp, struct boot_state *out,
                    struct secup_err *err);
    /* Writes it durably. */
    secup_rc (*set)(struct boot_backend *b, const char *comp, const struct boot_state *st,
                    struct secup_err *err);
    void (*close)(struct boot_backend *b);
};

struct boot_backend {
    const struct boot_ops *ops;
    char path[4096];      /* state file, U-Boot env config (fw_env.config), or grubenv */
    char tool_dir[4096];  /* where fw_printenv/fw_setenv/grub-editenv live ("" = PATH) */
};

/* Opens a backend by name: "statefile" (path = the state file), "uboot" (path = the
 * fw_env.config file naming the environment; fw_printenv/fw_setenv -c path), "grub"
 * (path = the grubenv file; grub-editenv). SECUP_E_VALUE for an unknown name.
 * Also: SECUP_E_ARG for an empty or too long path; SECUP_E_NOENT when the fw_env.config or
 * grubenv file does not exist (the agent never creates a bootloader environment; a missing
 * state file is fine and reads as "never written"). tool_dir starts empty (use PATH). */
secup_rc boot_open(struct boot_backend *b, const char *name, const char *path,
                   struct secup_err *err);

/* True for a usable component name: 1 to BOOT_MAX_NAME-1 letters, digits, '_' or '-'
 * (the same rule as the agent configuration; it becomes part of variable names). */
bool boot_is_valid_name(const char *comp);

/* Parses canonical decimal text of len bytes (no sign, no leading zero) up to UINT32_MAX. */
bool boot_parse_u32(const char *s, size_t len, uint32_t *out);

/* Checks that st is a state a backend may store: active 0 or 1; trial 0, 1 or BOOT_NO_SLOT
 * and never the active slot. SECUP_E_VALUE (naming comp) otherwise. */
secup_rc boot_state_check(const char *comp, const struct boot_state *st, struct secup_err *err);

/* The state file backend's format, exposed for tests and fuzzing:
 *
 *   secup-boot-state 1
 *   <comp> active=<0|1> trial=<0|1|-> attempts=<n>      (one line per component)
 *   sha256=<64 lower-case hex digits: SHA-256 of every byte before this line>
 *
 * Every line ends in '\n'; single spaces; fields in this order; n is canonical decimal
 * (no sign, no leading zero) up to UINT32_MAX. */
#define BOOT_STATEFILE_MAGIC "secup-boot-state 1"
#define BOOT_STATEFILE_MAX_COMPONENTS 32
#define BOOT_STATEFILE_MAX_LINE 128  /* bytes, without the '\n' */
#define BOOT_STATEFILE_MAX_SIZE 8192 /* bytes of a whole file */

struct boot_statefile_entry {
    char comp[BOOT_MAX_NAME];
    struct boot_state st;
};

struct boot_statefile {
    uint32_t n;
    struct boot_statefile_entry e[BOOT_STATEFILE_MAX_COMPONENTS];
};

/* Parses state file text (len bytes, need not be NUL-terminated) into out. The checksum is
 * checked before anything else is believed.
 * Returns SECUP_OK; SECUP_E_DIGEST for a missing, malformed or wrong checksum line (a torn,
 * truncated or bit-flipped file); SECUP_E_LIMIT_SIZE, SECUP_E_LIMIT or
 * SECUP_E_LIMIT_COMPONENTS over a bound; SECUP_E_UNSUPPORTED for another format version;
 * SECUP_E_VALUE for a malformed line (the message names the line and the field). */
secup_rc boot_statefile_parse(const char *text, size_t len, struct boot_statefile *out,
                              struct secup_err *err);

/* Formats sf (with its checksum) into buf; *len is the text's length (a NUL follows).
 * SECUP_E_BUF_SMALL if cap is too small; SECUP_E_VALUE for an invalid name or state. */
secup_rc boot_statefile_format(const struct boot_statefile *sf, char *buf, size_t cap,
                               size_t *len, struct secup_err *err);

extern const struct boot_ops boot_statefile_ops;
extern const struct boot_ops boot_uboot_ops;
extern const struct boot_ops boot_grub_ops;

#endif /* SECUP_AGENT_BOOT_H */
