/* The agent's durable state: what each slot holds, the anti-rollback floors, the result
 * of the last update, safe mode. Kept in two copies (state.A, state.B) in the state
 * directory, each written atomically and carrying a generation number and a SHA-256 of
 * its text: a torn or bit-flipped copy is detected and the other one used, and since
 * both copies carry the newest generation after every save, a floor never falls back. */
#ifndef SECUP_AGENT_STATE_H
#define SECUP_AGENT_STATE_H

#include <jansson.h>

#include "agent.h"

#define STATE_VERSION_MAX 64
#define STATE_REASON_MAX 256

struct state_slot {
    bool valid;                      /* a verified image is in the slot */
    uint64_t seq;                    /* its manifest's sequence number */
    char version[STATE_VERSION_MAX]; /* its human version ("" if none) */
    uint8_t digest[32];              /* SHA-256 of the image */
    uint64_t size;
    char anchor[AGENT_NAME_MAX];     /* the trust anchor that signed it */
};

struct state_floor {
    char anchor[AGENT_NAME_MAX];
    uint64_t seq;                    /* highest confirmed sequence number */
};

struct state_component {
    struct state_slot slot[2];
    uint32_t n_floors;
    struct state_floor floors[AGENT_MAX_ALL_ANCHORS];
};

struct state_result {
    char code[48];                   /* result-code name, "OK" on success */
    char reason[STATE_REASON_MAX];
    uint64_t time;
    uint64_t seq;
    char manifest_digest[65];        /* hex */
    uint32_t failures;               /* failed attempts in a row at this manifest */
};

struct agent_state {
    uint64_t generation;
    bool safe_mode;
    char safe_reason[STATE_REASON_MAX];
    uint64_t report_counter;         /* strictly increasing per signed status report */
    uint32_t pending;                /* components of an installed bundle not yet all on
                                      * trial: bit i = component i (all or none commit) */
    uint32_t confirming;             /* a trial being confirmed: finished at the next boot */
    uint32_t falling_back;           /* a trial being abandoned: finished at the next boot */
    struct state_result last;
    struct state_component comp[AGENT_MAX_COMPONENTS];
    /* secure time (THREATS.md section 0, decision 2; "secure-time" in the file, optional):
     * the floor is the newest signed time the agent has verified and accepted (a tracker
     * command's issued-at) and never decreases; fresh_until is the expires-at of the
     * newest freshness statement, the last command accepted (0: none yet) */
    uint64_t time_floor;
    uint64_t fresh_until;
};

/* Loads the state for cfg's components. No state directory content yet: an empty state
 * (generation 0). Both copies unreadable or corrupt: SECUP_E_DIGEST, and the caller
 * enters safe mode. *recovered is set when one copy was bad and the other used. */
secup_rc state_load(const struct agent_config *cfg, struct agent_state *st, bool *recovered,
                    struct secup_err *err);

/* Increments the generation and writes both copies (A then B). */
secup_rc state_save(const struct agent_config *cfg, struct agent_state *st, struct secup_err *err);

/* Serialisation, exposed for tests and fuzzing. */
secup_rc state_format(const struct agent_config *cfg, const struct agent_state *st, char *buf,
                      size_t cap, size_t *len, struct secup_err *err);
secup_rc state_parse(const struct agent_config *cfg, const char *text, size_t len,
                     struct agent_state *st, struct secup_err *err);

/* The checksummed framing shared by the state and the trust store: seal appends the line
 * "sha256:<hex>" over json (len bytes) into buf; unseal checks it and gives the length of
 * the JSON before it. Both SECUP_E_DIGEST for a torn or altered text. */
secup_rc state_seal(const char *json, size_t len, char *buf, size_t cap, size_t *out_len,
                    struct secup_err *err);
secup_rc state_unseal(const char *text, size_t len, size_t *json_len, struct secup_err *err);
/* Unseals text and parses the JSON object before the checksum: *root (the caller's to
 * json_decref) or an error naming `what` ("state", "trust store"): the codes of
 * state_unseal(), SECUP_E_JSON for JSON that does not parse or is not an object. */
secup_rc state_unseal_object(const char *text, size_t len, const char *what, json_t **root,
                             struct secup_err *err);

/* Sets the reason of a result: at most STATE_REASON_MAX - 1 bytes, every byte outside
 * printable ASCII replaced by '?'. A reason quotes untrusted input (a manifest's text), and
 * the state is JSON: bytes that are not UTF-8, or a sequence cut in half, would make the
 * result impossible to record. */
void state_set_reason(struct state_result *l, const char *reason);
/* The same replacement in place (for the safe-mode reason). */
void state_clean_text(char *s);

/* Drops the floors of an anchor (a retired one: it installs nothing any more). */
void state_drop_floors(struct agent_state *st, const char *anchor);

/* The floor of `anchor` for component c (0 if none yet). */
uint64_t state_floor(const struct agent_state *st, uint32_t c, const char *anchor);
/* Raises it (never lowers): SECUP_E_ROLLBACK if seq is below the current floor. */
secup_rc state_raise_floor(struct agent_state *st, uint32_t c, const char *anchor, uint64_t seq,
                           struct secup_err *err);

/* ---- the secure counter (THREATS.md T8) ----
 * A stand-in for a replay-protected monotonic counter (eMMC RPMB, OTP fuses, a TPM NV
 * counter): a small file outside the state directory (cfg->counter_path) holding the
 * highest state generation ever saved, in the checksummed framing of the state, written
 * atomically with fsync and never lowered. state_save raises it after both state copies
 * are written (a cut in between leaves the state ahead of the counter, which is fine);
 * state_load refuses a state whose generation is below it (SECUP_E_STATE_ROLLBACK): a copy
 * restored from an older backup, whose lower floors would let an older manifest in. */
secup_rc counter_format(uint64_t value, char *buf, size_t cap, size_t *len, struct secup_err *err);
secup_rc counter_parse(const char *text, size_t len, uint64_t *value, struct secup_err *err);
/* The counter's value; 0 with *exists false when the file is missing (a device configured
 * with a counter for the first time). Damaged: SECUP_E_STATE_ROLLBACK (the state can no
 * longer be proven current). */
secup_rc counter_read(const struct agent_config *cfg, uint64_t *value, bool *exists,
                      struct secup_err *err);
/* Raises the counter to value (nothing to do when it is there already); lowering it is
 * refused with SECUP_E_STATE_ROLLBACK. */
secup_rc counter_raise(const struct agent_config *cfg, uint64_t value, struct secup_err *err);

/* Counts a result into the failure streak: failed attempts in a row at one manifest
 * (THREATS.md F10). Call before the result's fields are replaced. A failure of the same
 * manifest adds one; another manifest starts again (1 for a failure, 0 for a success); a
 * success of the same manifest (installed, not yet confirmed) keeps the count, which a
 * confirmation clears. */
void state_count_result(struct state_result *l, bool ok, const char *manifest_digest_hex);

/* Secure time: max(system clock, the floor). *behind is set when the system clock lies
 * below the floor (set back, or a replayed time source). */
uint64_t state_secure_now(const struct agent_state *st, uint64_t system_now, bool *behind);
/* Raises the floor to t (never lowers it); true when it moved. */
bool state_raise_time_floor(struct agent_state *st, uint64_t t);

#endif /* SECUP_AGENT_STATE_H */
