/* The agent's trust store: the trust anchors a signed rotation added to the configured
 * ones, the anchors it retired, and per signing anchor the sequence number of the last
 * rotation it signed (docs/decisions/0004-trust-anchor-rotation.md).
 *
 * Kept like the state: two copies (trust.A, trust.B) in the state directory, each a JSON
 * document with a generation number and a SHA-256 line, written atomically (temp, fsync,
 * rename, fsync of the directory), A first. No copy at all means no rotation happened
 * yet: the configured anchors. Copies that exist but are all damaged are never replaced
 * by the configuration's view (which might bring a retired key back): the agent then
 * installs nothing (THREATS.md INV-4, F13). */
#ifndef SECUP_AGENT_TRUST_H
#define SECUP_AGENT_TRUST_H

#include "state.h"

#define TRUST_MAX_ADDED (AGENT_MAX_ALL_ANCHORS - AGENT_MAX_ANCHORS)
#define TRUST_MAX_RETIRED 32
#define TRUST_PEM_MAX 1024
#define TRUST_MAX_UPDATE (16 * 1024)  /* bytes of a trust-update document */
#define TRUST_UPDATE_FORMAT 1

struct trust_added {
    char name[AGENT_NAME_MAX];
    char pem[TRUST_PEM_MAX];         /* the public key, SubjectPublicKeyInfo PEM */
    uint32_t components;             /* bit i: may sign for configured component i */
    bool rotate;                     /* may sign trust updates */
    bool all_components;             /* update documents only: no "components" given */
};

struct trust_retired {
    char name[AGENT_NAME_MAX];
    uint8_t key_id[32];              /* secup_key_id(): the key never returns, by any name */
};

struct trust_store {
    uint64_t generation;
    uint32_t n_added;                /* rotated in; a retired one stays while a slot
                                      * still holds an image it signed (the boot stage
                                      * re-verifies that image's envelope) */
    struct trust_added added[TRUST_MAX_ADDED];
    uint32_t n_retired;
    struct trust_retired retired[TRUST_MAX_RETIRED];
    uint32_t n_floors;               /* per signing anchor: its last rotation's sequence */
    struct state_floor floors[AGENT_MAX_ALL_ANCHORS];
};

/* A trust-update document (the payload of a manifest for AGENT_TRUST_COMPONENT):
 *   { "secup-trust-update": 1,
 *     "add": [ { "name": N, "key": PEM, "components": [names], "rotate": bool } ],
 *     "retire": [ names ] }                                    (docs/agent.md) */
struct trust_update {
    uint32_t n_add;
    struct trust_added add[TRUST_MAX_ADDED];
    uint32_t n_retire;
    char retire[AGENT_MAX_ALL_ANCHORS][AGENT_NAME_MAX];
};

/* Serialisation of the store, exposed for tests and fuzzing. Component names that the
 * configuration no longer has are dropped when parsing. */
secup_rc trust_format(const struct agent_config *cfg, const struct trust_store *ts, char *buf,
                      size_t cap, size_t *len, struct secup_err *err);
secup_rc trust_parse(const struct agent_config *cfg, const char *text, size_t len,
                     struct trust_store *ts, struct secup_err *err);

/* Loads the store: no copy is an empty store; one bad copy is survived (*recovered);
 * copies that exist but none usable: SECUP_E_DIGEST. */
secup_rc trust_load(const struct agent_config *cfg, struct trust_store *ts, bool *recovered,
                    struct secup_err *err);
/* Increments the generation and writes both copies (A then B). */
secup_rc trust_save(const struct agent_config *cfg, struct trust_store *ts, struct secup_err *err);

/* The effective anchors: the configured ones, then the rotated-in ones, each marked
 * retired when the store says so. out holds AGENT_MAX_ALL_ANCHORS. */
void trust_anchors(const struct agent_config *cfg, const struct trust_store *ts,
                   struct agent_anchor *out, uint32_t *n);

/* True when the anchor of this name is retired. */
bool trust_is_retired(const struct trust_store *ts, const char *name);

/* Parses a trust-update document. SECUP_E_JSON / SECUP_E_VALUE / SECUP_E_LIMIT /
 * SECUP_E_DUPLICATE / SECUP_E_KEY_FORMAT / SECUP_E_UNSUPPORTED, naming what is wrong. */
secup_rc trust_update_parse(const struct agent_config *cfg, const char *text, size_t len,
                            struct trust_update *u, struct secup_err *err);

/* Applies an update signed by anchors[signer] with sequence number seq to ts (only on
 * success). The signer must be allowed to rotate (SECUP_E_POLICY) and seq must exceed its
 * last rotation (SECUP_E_ROLLBACK); an added anchor needs a new name and a key no anchor
 * ever had (SECUP_E_DUPLICATE); a
 * retired name must be an anchor in force (SECUP_E_VALUE); at least one anchor that may
 * rotate must remain (SECUP_E_POLICY). st: which retired anchors slots still need.
 * *retired_now receives a bit per anchors[] index retired by this update. */
secup_rc trust_update_apply(const struct agent_config *cfg, struct trust_store *ts,
                            const struct agent_anchor *anchors, uint32_t n_anchors,
                            uint32_t signer, uint64_t seq, const struct trust_update *u,
                            const struct agent_state *st, uint32_t *retired_now,
                            struct secup_err *err);

/* Loads the public key of an anchor (its file or its PEM). Freed with secup_key_free(). */
secup_rc trust_anchor_key(const struct agent_anchor *a, struct secup_key **out,
                          struct secup_err *err);

/* k-of-n thresholds (docs/agent.md "Thresholds"). Bit i of signed_mask: a signature by
 * anchors[i] verified. Counted for component are the anchors in force (not retired) that
 * may sign for it, each distinct key once (key_ids[i]: secup_key_id() of anchors[i]'s key;
 * two anchors holding one key are one signer). Returns the count; *first (may be NULL)
 * receives the lowest anchors[] index counted, n_anchors when none. */
uint32_t trust_count_signers(const struct agent_anchor *anchors, const uint8_t (*key_ids)[32],
                             uint32_t n_anchors, uint32_t signed_mask, uint32_t component,
                             uint32_t *first);

/* The anti-rollback floor of a component whose threshold exceeds 1: the highest floor of
 * any anchor in force that may sign for it (a replayed manifest signed by another subset
 * of the anchors must not slip under the floor its newer sibling raised). *by (may be
 * NULL) receives that anchor's index, n_anchors when no anchor may sign for it. */
uint64_t trust_threshold_floor(const struct agent_anchor *anchors, uint32_t n_anchors,
                               const struct agent_state *st, uint32_t component,
                               uint32_t *by);

#endif /* SECUP_AGENT_TRUST_H */
