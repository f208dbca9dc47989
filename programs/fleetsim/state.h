/* A simulated device's state file (secup-fleetsim --state-dir, docs/fleetsim.md): what a
 * device keeps across runs of the simulator, as one JSON object:
 *   {"format": 1, "id": "sim-00001", "token": "...", "report-counter": N,
 *    "command-counter": N, "seq": N, "digest": "<64 hex>", "version": "1.0", "slot": 0|1,
 *    "last": {"id": "<64 hex>", "code": "OK", "reason": "...", "time": N}}
 * "token", "version", "last" and "reason" may be absent. Every key is known, every value
 * checked; a refusal leaves the output zeroed. */
#ifndef SECUP_FLEET_STATE_H
#define SECUP_FLEET_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secup/err.h"

#define FLEET_STATE_MAX (16u * 1024u) /* bytes of a state file */

struct fleet_dev_state {
    char id[64];
    char token[256];
    uint64_t report_counter;
    uint64_t cmd_counter;
    uint64_t seq;
    uint8_t digest[32];
    char version[64];
    uint32_t slot;
    bool has_last;
    uint8_t last_id[32];
    char last_code[48];
    char last_reason[200];
    uint64_t last_time;
};

/* Parses a state file's text; file names it in messages. SECUP_E_JSON (not JSON, or a
 * duplicate key), SECUP_E_CONFIG-style codes of jconf (an unknown key, a missing or bad
 * value), SECUP_E_UNSUPPORTED (a format other than 1). */
secup_rc fleet_state_parse(const char *file, const char *text, size_t len,
                           struct fleet_dev_state *st, struct secup_err *err);

/* Formats st (the inverse of fleet_state_parse()); *out is freed with free(). */
secup_rc fleet_state_format(const struct fleet_dev_state *st, char **out, size_t *len,
                            struct secup_err *err);

#endif /* SECUP_FLEET_STATE_H */
