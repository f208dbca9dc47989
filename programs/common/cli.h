/* Command-line conventions shared by the secup programs (STYLE.md section 4):
 *   <prog>: <command>: <message> [SECUP_E_NAME]
 * and exit statuses 0 ok, 1 refusal, 2 usage, 3 bad input, 4 environment. */
#ifndef SECUP_CLI_H
#define SECUP_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "secup/err.h"

void cli_init(const char *prog);
const char *cli_prog(void);

/* Prints the error line for err and returns the exit status for its code. */
int cli_fail(const char *cmd, const struct secup_err *err);
/* Prints a usage error ("see '<prog> <cmd> --help'") and returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) SECUP_PRINTF(2, 3);
/* Prints "hint: ..." to stderr. */
void cli_hint(const char *fmt, ...) SECUP_PRINTF(1, 2);
/* Progress and narration on stderr, silenced by cli_set_quiet(true). */
void cli_note(const char *fmt, ...) SECUP_PRINTF(1, 2);
void cli_set_quiet(bool quiet);

/* Parses a decimal unsigned integer (no sign, no trailing characters). */
bool cli_parse_u64(const char *s, uint64_t *out);

#endif /* SECUP_CLI_H */
