/* secup-agent's online mode (`secup-agent run`, docs/agent.md "Online"): register with the
 * Status Tracker, report, long-poll for signed commands, verify them, act, report again.
 *
 * The agent's online state — its tracker token and, per issuing tracker, the counter of the
 * last command it acted on — is kept like the agent state: two checksummed copies
 * (online.A, online.B) in the state directory, each written atomically (temporary file,
 * fsync, rename, fsync of the directory), A first, with a generation number. */
#ifndef SECUP_AGENT_ONLINE_H
#define SECUP_AGENT_ONLINE_H

#include <jansson.h>

#include "jconf.h"
#include "run.h"

#define ONLINE_TOKEN_MAX 256     /* bytes of a tracker or server token */
#define ONLINE_MAX_ISSUERS 8     /* issuers whose last counter is kept */

struct online_counter {
    char issuer[AGENT_NAME_MAX];
    uint64_t counter;            /* the highest counter acted on */
};

struct online_state {
    uint64_t generation;
    char token[ONLINE_TOKEN_MAX]; /* the tracker token from registration; "" : none yet */
    uint32_t n_counters;
    struct online_counter counters[ONLINE_MAX_ISSUERS];
};

/* Parses the "tracker" and "server" sections (either may be NULL: absent) into o with its
 * defaults. Called by agent_config_parse(). */
secup_rc online_config_parse(struct jconf *c, struct agent_online_config *o, json_t *tracker,
                             json_t *server);

/* Serialisation of the online state, exposed for tests and fuzzing. */
secup_rc online_state_format(const struct online_state *os, char *buf, size_t cap, size_t *len,
                             struct secup_err *err);
secup_rc online_state_parse(const char *text, size_t len, struct online_state *os,
                            struct secup_err *err);
/* No copy: an empty state. One bad copy is survived (*recovered); both bad: SECUP_E_DIGEST
 * (the caller must not act on commands then: the counters are lost). */
secup_rc online_state_load(const struct agent_config *cfg, struct online_state *os,
                           bool *recovered, struct secup_err *err);
/* Increments the generation and writes both copies (A then B). */
secup_rc online_state_save(const struct agent_config *cfg, struct online_state *os,
                           struct secup_err *err);
/* The last counter acted on for issuer (0: none). */
uint64_t online_state_counter(const struct online_state *os, const char *issuer);
/* Records counter for issuer (never lowers it): SECUP_E_LIMIT with too many issuers. */
secup_rc online_state_set_counter(struct online_state *os, const char *issuer, uint64_t counter,
                                  struct secup_err *err);

/* `secup-agent run [--once]`: the daemon. a is open; config is its file (reopened for the
 * simulated reboot after an install). Returns the exit status. */
int agent_online_run(struct agent *a, const char *config, bool once);

#endif /* SECUP_AGENT_ONLINE_H */
