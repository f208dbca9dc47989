/* Helpers of the bootloader backends that drive an external tool (fw_printenv/fw_setenv,
 * grub-editenv): running it without a shell, and reading the name=value listing it prints.
 * Private to programs/agent (the bootloader backends and the health check). */
#ifndef SECUP_AGENT_BOOT_TOOL_H
#define SECUP_AGENT_BOOT_TOOL_H

#include <stddef.h>

#include "boot.h"
#include "secup/bytes.h"

#define BOOT_TOOL_MAX_OUTPUT (64 * 1024) /* stdout kept; more fails the call */
#define BOOT_TOOL_MAX_INPUT 4096         /* stdin given; fits a pipe without blocking */
#define BOOT_TOOL_MAX_STDERR 1024        /* stderr kept for the error message */
#define BOOT_TOOL_TIMEOUT_MS 30000       /* a tool still running then is killed */
#define BOOT_TOOL_MAX_ARGS 16

/* Runs argv[0] with arguments argv[1..] (NULL-terminated) by fork + exec, from tool_dir
 * if it is non-empty, else through PATH. input is written to its stdin (at most
 * BOOT_TOOL_MAX_INPUT bytes). Its stdout goes into out (at most cap - 1 bytes, then a NUL;
 * *out_len is the length); stderr is kept for the message.
 * pkg names the package that provides the tool, for the message when it is missing
 * (NULL: none named).
 * Returns SECUP_OK when the tool exited with status 0; SECUP_E_NOENT when it could not be
 * started because it does not exist; SECUP_E_LIMIT_SIZE when it printed more than fits;
 * SECUP_E_IO for any other failure (exit status, signal, timeout), with its stderr. */
secup_rc boot_tool_run(const char *tool_dir, const char *pkg, const char *const argv[],
                       struct secup_bytes input, char *out, size_t cap, size_t *out_len,
                       struct secup_err *err);

/* As boot_tool_run() with another time limit (the health check's). */
secup_rc boot_tool_run_timeout(const char *tool_dir, const char *pkg, const char *const argv[],
                               struct secup_bytes input, char *out, size_t cap, size_t *out_len,
                               long long timeout_ms, struct secup_err *err);

/* Reads secup_<comp>_active, _trial and _attempts from a "name=value" listing (one per line,
 * as fw_printenv and grub-editenv list print). An absent variable keeps its default (active
 * 0, trial none, attempts 0); an empty trial is none. `what` names the environment in
 * messages. SECUP_E_VALUE for a malformed value, a variable listed twice or a state that
 * boot_state_check() refuses. */
secup_rc boot_env_parse(const char *text, size_t len, const char *comp, const char *what,
                        struct boot_state *out, struct secup_err *err);

#endif /* SECUP_AGENT_BOOT_TOOL_H */
