/* What secup-agent does: install (the Update Procedure), boot (the Invocation Procedure
 * played by the boot stage: trial, health check, fallback), confirm and rollback. */
#ifndef SECUP_AGENT_RUN_H
#define SECUP_AGENT_RUN_H

#include "boot.h"
#include "trust.h"

struct agent {
    struct agent_config cfg;
    struct agent_state st;
    struct trust_store trust;
    struct agent_anchor anchors[AGENT_MAX_ALL_ANCHORS]; /* configured, then rotated in */
    uint32_t n_anchors;
    bool trust_broken;            /* trust store copies exist but none is usable */
    bool trust_updated;           /* the last install was a trust-anchor update */
    struct boot_backend boot;
    bool state_recovered;
    char state_note[SECUP_ERR_MSG_MAX];
    /* policy.require-approval: set by the online mode for the install a verified tracker
     * command names (its manifest digest and expires-at), cleared after it */
    bool approved;
    uint8_t approved_digest[32];
    uint64_t approved_until;
};

/* The agent's secure time: max(system clock, the floor in the state); *behind (may be
 * NULL) is set when the system clock lies below the floor. */
uint64_t agent_secure_now(const struct agent *a, bool *behind);

/* Loads configuration, state and the bootloader backend. A state with no usable copy puts
 * the agent in safe mode (it still starts, to report and accept a signed local install). */
secup_rc agent_open(struct agent *a, const char *config, struct secup_err *err);
void agent_close(struct agent *a);

/* Installs an envelope from a file (local/offline install). payloads: NAME=FILE or FILE
 * entries giving the payloads the manifest fetches (integrated ones need none). */
secup_rc agent_install(struct agent *a, const char *envelope, const char *const *payloads,
                       size_t n_payloads, struct secup_err *err);

/* The boot stage: for every component, picks the slot, re-verifies it, counts a trial
 * attempt, runs the health check, confirms or falls back; enters safe mode when no slot
 * holds a verified image. */
secup_rc agent_boot(struct agent *a, struct secup_err *err);

/* Makes every slot on trial permanent and raises the anti-rollback floors. */
secup_rc agent_confirm(struct agent *a, struct secup_err *err);

/* Abandons every trial (or, with no trial, returns to the other slot if it holds a
 * verified image). */
secup_rc agent_rollback(struct agent *a, const char *reason, struct secup_err *err);

/* Removes leftovers of atomic writes a power cut interrupted (state copies, report,
 * state-file bootloader). Call before a procedure that writes. */
void agent_remove_temps(struct agent *a);

/* Writes the signed status report (PROTOCOL.md secup-status, COSE_Sign1 with the device
 * key, which must be P-256 or Ed25519) to out, or to <state-dir>/status.cose when out is
 * NULL. The report counter is raised and saved before the report is written, so no two
 * reports ever carry the same counter. */
secup_rc agent_report(struct agent *a, const char *out, struct secup_err *err);

#endif /* SECUP_AGENT_RUN_H */
