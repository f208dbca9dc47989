/* secup-tracker: the Status Tracker (X.secup-iot §11.2). Module interfaces.
 *
 * This first part keeps the fleet inventory: consumers (agents and downstream trackers)
 * enrol with a public key, send signed status reports, and are judged up-to-date,
 * obsolete, failed, unreachable or never seen against the manifests the tracker learned
 * of from signed server notifications. Commands, cascading and rollouts build on it. */
#ifndef SECUP_TRACKER_H
#define SECUP_TRACKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "admin_req.h"
#include "db/db.h"
#include "http/ratelimit.h"
#include "secup/err.h"
#include "secup/keys.h"

#define TRK_PATH 4096
#define TRK_ID_MAX 64
#define TRK_HEX_ID 65

/* Request classes of http.rate-limits (routes.c names each request's class). */
enum trk_rate_class { TRK_RATE_POLL, TRK_RATE_REPORT, TRK_RATE_ENROL, TRK_RATE_OTHER,
                      TRK_RATE_CLASSES };

struct trk_config {
    char dir[TRK_PATH];
    char file[TRK_PATH];
    char id[TRK_ID_MAX + 1];
    char listen[128];
    char cert[TRK_PATH];
    char key[TRK_PATH];
    char db_url[TRK_PATH];
    char signing_key[TRK_PATH];
    uint64_t unreachable_after; /* seconds without a report */
    uint64_t command_ttl;       /* seconds an install command stays valid */
    uint64_t freshness_ttl;     /* seconds a "nothing to do" statement stays valid */
    uint64_t max_wait;          /* the longest long poll, seconds */
    bool auto_update;           /* manifests without a rollout go to every obsolete consumer */
    uint64_t report_quota;      /* reports a consumer may send per hour (THREATS.md S9) */
    uint64_t report_history;    /* reports kept per consumer */
    /* cascading: the upstream tracker this one obeys (empty url: none) */
    char up_url[1024];
    char up_id[TRK_ID_MAX + 1];
    char up_key[TRK_PATH];        /* the upstream's public signing key */
    char up_ca[TRK_PATH];
    char up_enrol[TRK_PATH];      /* file with the enrolment token for the upstream */
    uint64_t up_wait;
    char server_token[TRK_PATH];  /* file with this tracker's token at the Firmware Server */
    char server_ca[TRK_PATH];
    uint64_t poll_interval;       /* seconds between polls of the servers (0: never) */
    char trust[8][TRK_PATH];      /* Author keys: manifests are verified before they count */
    size_t n_trust;
    uint64_t threads;
    uint64_t timeout;
    uint64_t connection_limit;
    uint64_t per_ip_limit;        /* connections at once from one address; 0: no limit */
    uint64_t min_rate;            /* bytes/s of request bodies and answer reads; 0: 64 */
    struct ratelimit_class rate[TRK_RATE_CLASSES]; /* per-source request limits */
    uint64_t rate_table;          /* sources tracked; 0: 16384 */
    /* "poll now": signed commands POSTed to consumers' callback URLs (pollnow.c) */
    char cb_ca[TRK_PATH];         /* verify consumers' listeners with this CA; "": do not */
    uint64_t cb_retry_initial;    /* seconds of back-off after a failed delivery, doubled */
    uint64_t cb_retry_max;
    uint64_t cb_interval;         /* seconds between scans for commands to deliver */
};

secup_rc trk_config_load(const char *dir, struct trk_config *cfg, struct secup_err *err);
secup_rc trk_config_parse(const char *dir, const char *text, size_t len, struct trk_config *cfg,
                          struct secup_err *err);

struct trk_init_opts {
    const char *listen;
    const char *db_url;
    const char *id;
};
secup_rc trk_init(const char *dir, const struct trk_init_opts *o, struct secup_err *err);

/* ---- store (store.c) ---- */

enum trk_kind { TRK_DEVICE = 2, TRK_TRACKER = 3 };

struct trk_consumer {
    char id[TRK_ID_MAX + 1];
    enum trk_kind kind;
    char vendor[33];
    char class_id[33];
    char region[65];
    int64_t last_counter;
    int64_t last_seen;
};

secup_rc trk_schema(struct db *db, struct secup_err *err);
secup_rc trk_event(struct db *db, const char *actor, const char *action, const char *object,
                   const char *detail, struct secup_err *err);

/* Enrolment tokens: what a new consumer presents to register (vendor and class come with
 * the token, not from the consumer). */
secup_rc trk_enrolment_add(struct db *db, const char *hash, const char *vendor,
                           const char *class_id, int64_t uses, struct secup_err *err);
/* Takes one use of an enrolment token: SECUP_E_AUTH when unknown or used up. */
secup_rc trk_enrolment_take(struct db *db, const char *hash, char vendor[33], char class_id[33],
                            struct secup_err *err);

secup_rc trk_consumer_add(struct db *db, const struct trk_consumer *c, const char *token_hash,
                          const char *key_pem, const char *attrs_json, struct secup_err *err);
secup_rc trk_consumer_by_token(struct db *db, const char *hash, struct trk_consumer *c,
                               struct secup_err *err);
secup_rc trk_consumer_key(struct db *db, const char *id, char *pem, size_t cap,
                          struct secup_err *err);
/* SECUP_E_QUOTA when the consumer sent quota reports in the last hour. */
secup_rc trk_report_quota(struct db *db, const char *id, int64_t now, int64_t quota,
                          struct secup_err *err);
/* Keeps only the newest keep reports of the consumer. */
secup_rc trk_report_trim(struct db *db, const char *id, int64_t keep, struct secup_err *err);
/* Records a verified report: its counter must exceed the stored one (SECUP_E_REPLAY). */
/* The sender of a report, by its token hash: the consumer and its key (PEM) in one
 * query. SECUP_E_AUTH for an unknown token, SECUP_E_QUOTA past quota reports this hour. */
secup_rc trk_report_sender(struct db *db, const char *hash, int64_t now, int64_t quota,
                           struct trk_consumer *c, char *pem, size_t cap, struct secup_err *err);
secup_rc trk_report_store(struct db *db, const char *id, int64_t counter, int64_t time,
                          bool safe_mode, bool stale, int64_t quota, const char *components_json,
                          const char *last_result_json, const char *report_hex,
                          struct secup_err *err);
secup_rc trk_consumer_remove(struct db *db, const char *id, struct secup_err *err);

/* The inventory: consumers with their state (up-to-date, obsolete, updating, failed,
 * unreachable, stale, never-seen) judged against the known manifests at time now. state/class filters may be
 * NULL. */
secup_rc trk_inventory(struct db *db, int64_t now, int64_t unreachable_after,
                       const char *state, const char *class_id, json_t **out,
                       struct secup_err *err);
/* One consumer with its report history. */
secup_rc trk_consumer_show(struct db *db, const char *id, int64_t now, int64_t unreachable_after,
                           json_t **out, struct secup_err *err);

/* Servers whose signed notifications the tracker believes; with a url (may be NULL) the
 * tracker also polls them (discovery.c). */
secup_rc trk_server_add(struct db *db, const char *id, const char *key_pem, const char *url,
                        struct secup_err *err);
secup_rc trk_server_key(struct db *db, const char *id, char *pem, size_t cap,
                        struct secup_err *err);
/* A manifest the tracker learned of; the counter must increase per server. */
secup_rc trk_manifest_add(struct db *db, const char *server, int64_t counter, const char *digest,
                          const char *vendor, const char *class_id, const char *component,
                          int64_t seq, const char *uri, struct secup_err *err);
secup_rc trk_manifest_list(struct db *db, json_t **out, struct secup_err *err);

/* ---- commands ---- */

struct trk_command {
    char id[33];                /* hex of the 16-byte command id */
    char consumer[TRK_ID_MAX + 1];
    int64_t counter;
    int64_t action;
    char digest[TRK_HEX_ID];    /* install: the manifest digest */
    int64_t seq;
    char component[513];        /* hex of the CBOR component id */
    int64_t issued, expires;
    char state[16];             /* issued, done, failed, expired */
    char body_hex[2 * 4400 + 1];/* the signed command */
};

struct trk_need {
    char rollout[TRK_ID_MAX + 1]; /* the rollout it is part of, or "" */
    char digest[TRK_HEX_ID];
    int64_t seq;
    char uri[1025];
    char component[513];
};

secup_rc trk_next_counter(struct db *db, const char *consumer, int64_t *counter,
                          struct secup_err *err);
secup_rc trk_command_add(struct db *db, const struct trk_command *c, struct secup_err *err);
/* The newest issued, unexpired command of a consumer. */
secup_rc trk_command_open(struct db *db, const char *consumer, int64_t now,
                          struct trk_command *c, bool *found, struct secup_err *err);
secup_rc trk_commands_settle(struct db *db, const char *consumer, const char *components_json,
                             const char *last_id, const char *last_code, int64_t now,
                             struct secup_err *err);
secup_rc trk_needed_install(struct db *db, const char *consumer, bool auto_update,
                            struct trk_need *need, bool *found, struct secup_err *err);

/* ---- rollouts ---- */

/* Creates a rollout of a known manifest to the consumers of its class that run an older
 * sequence (or to those of only[] when n_only > 0): the first `canary` of them (by name)
 * form wave 1, the rest wave 2 (all in one wave when canary is 0). A consumer already in
 * an active or paused rollout of the same component refuses the new one (SECUP_E_EXISTS).
 * *targets receives the names. */
secup_rc trk_rollout_create(struct db *db, const char *id, const char *digest, int64_t canary,
                            int64_t max_failure_pct, const char *const *only, size_t n_only,
                            json_t **targets, struct secup_err *err);
/* to: "paused" (from active), "resume" (from paused), "cancelled" (from active, paused or
 * halted: its unsettled install commands are withdrawn). SECUP_E_STATE otherwise. */
secup_rc trk_rollout_set_state(struct db *db, const char *id, const char *to,
                               struct secup_err *err);
/* A withdrawn install of the consumer (its rollout id in rollout), marked as told. */
secup_rc trk_command_withdrawn(struct db *db, const char *consumer, char *rollout, size_t cap,
                               bool *found, struct secup_err *err);
/* Opens the next wave of rollouts whose wave is settled, halts those whose failures
 * exceed their bound, completes finished ones. */
secup_rc trk_rollouts_advance(struct db *db, struct secup_err *err);
secup_rc trk_rollout_list(struct db *db, json_t **out, struct secup_err *err);

/* ---- cascading (upstream.c) ---- */

/* Small persistent values of the upstream link (token, counters). */
secup_rc trk_kv_get(struct db *db, const char *name, char *out, size_t cap, struct secup_err *err);
secup_rc trk_kv_set(struct db *db, const char *name, const char *value, struct secup_err *err);
/* For a downstream tracker's own report: per component of the consumers of vendor/class,
 * the oldest sequence they run (JSON array of {id, sequence}). */
secup_rc trk_fleet_components(struct db *db, const char *vendor, const char *class_id,
                              json_t **out, struct secup_err *err);
/* The newest signed reports of consumers not yet passed upward (at most max, those seen
 * longest ago first), for an aggregate: a JSON array of {id, counter, body (hex)}. */
secup_rc trk_unsent_reports(struct db *db, size_t max, json_t **out, struct secup_err *err);
/* Marks a consumer's report up to counter as passed upward. */
secup_rc trk_report_sent(struct db *db, const char *id, int64_t counter, struct secup_err *err);

/* A manifest this tracker fetched and verified itself (Author signature against its
 * trust anchors): what it says, in the store's hex forms. */
struct trk_manifest {
    char digest[TRK_HEX_ID];
    char vendor[33];
    char class_id[33];
    char component[1025];
    int64_t seq;
    char uri[1025];
    char profile[64];  /* "suit-sha256-esp256", as the Firmware Server names it */
    bool has_size;
    int64_t size;      /* the image size of component 0 */
};

/* Records a verified manifest learned from source (an upstream, a server poll, a
 * request, a report); *added (may be NULL) is false when it was known. */
secup_rc trk_manifest_put(struct db *db, const char *source, const struct trk_manifest *m,
                          bool *added, struct secup_err *err);
/* Sets what a verified manifest says of its variant (size -1: unknown). */
secup_rc trk_manifest_describe(struct db *db, const char *digest, const char *profile,
                               int64_t size, struct secup_err *err);
secup_rc trk_manifest_newest(struct db *db, const char *vendor, const char *class_id,
                             const char *component, int64_t *seq, struct secup_err *err);
secup_rc trk_manifest_known(struct db *db, const char *digest, bool *known,
                            struct secup_err *err);

/* ---- discovery (discovery.c): polled servers, requesters, the fleet's components ---- */

struct trk_server_link {
    char id[TRK_ID_MAX + 1];
    char url[1025];
};
secup_rc trk_server_links(struct db *db, struct trk_server_link *out, size_t cap, size_t *n,
                          struct secup_err *err);
/* The ETag of the last answer for what ("" when none). */
secup_rc trk_poll_tag_get(struct db *db, const char *server, const char *what, char *etag,
                          size_t cap, struct secup_err *err);
secup_rc trk_poll_tag_set(struct db *db, const char *server, const char *what, const char *etag,
                          struct secup_err *err);
secup_rc trk_requester_add(struct db *db, const char *id, const char *key_pem,
                           struct secup_err *err);
/* SECUP_E_KEY_UNKNOWN for an unknown requester. */
secup_rc trk_requester_key(struct db *db, const char *id, char *pem, size_t cap,
                           int64_t *last_counter, struct secup_err *err);
/* Moves the requester's counter to counter: SECUP_E_REPLAY unless it is above the last. */
secup_rc trk_requester_advance(struct db *db, const char *id, int64_t counter,
                               struct secup_err *err);
/* Per (vendor, class, component) that consumers seen since seen_since report: the highest
 * sequence reported, by whom, its image digest, and the profiles those consumers declared
 * (JSON array of {vendor, class, component, sequence, consumer, digest, profiles}). */
secup_rc trk_fleet_tuples(struct db *db, int64_t seen_since, json_t **out, struct secup_err *err);
/* A downstream tracker's aggregate: its consumers' own signed reports, kept as received
 * (this tracker does not know their keys). */
secup_rc trk_aggregate_put(struct db *db, const char *tracker, const char *reporter,
                           const char *body_hex, struct secup_err *err);

/* ---- administrator tokens and callbacks (store_admin.c) ---- */

secup_rc trk_schema_admin(struct db *db, struct secup_err *err);
/* Upstream divergence detection (divergence.c): its table, and "divergences" (when any)
 * added to a downstream tracker's consumer record. */
secup_rc trk_schema_divergence(struct db *db, struct secup_err *err);
secup_rc trk_divergence_attach(struct db *db, const char *tracker, json_t *consumer,
                               struct secup_err *err);
/* The newest expiry of a signed statement (command) given to consumer: a consumer whose
 * statements all expired while it still reports is "stale" in the inventory. */
secup_rc trk_freshness_set(struct db *db, const char *consumer, int64_t until,
                           struct secup_err *err);
/* Administrator tokens of the REST admin API: stored as their SHA-256, revocable. */
secup_rc trk_admin_token_add(struct db *db, const char *name, const char *hash,
                             struct secup_err *err);
secup_rc trk_admin_token_revoke(struct db *db, const char *name, struct secup_err *err);
secup_rc trk_admin_token_list(struct db *db, json_t **out, struct secup_err *err);
/* The name of the live administrator token with this hash: SECUP_E_AUTH otherwise. */
secup_rc trk_admin_by_token(struct db *db, const char *hash, char name[TRK_ID_MAX + 1],
                            struct secup_err *err);

struct trk_callback {
    char consumer[TRK_ID_MAX + 1];
    char url[520];
    int64_t failures, next_try;
    char pushed[65];         /* SHA-256 of the last command delivered */
    bool has_pending;        /* a poke waits for delivery */
    int64_t pending_expires;
};


secup_rc trk_callback_set(struct db *db, const char *consumer, const char *url,
                          struct secup_err *err);
secup_rc trk_callback_get(struct db *db, const char *consumer, struct trk_callback *c,
                          bool *found, struct secup_err *err);
/* The hex of the poke waiting for delivery: SECUP_E_NOENT when none. */
secup_rc trk_callback_pending(struct db *db, const char *consumer, char *hex, size_t cap,
                              struct secup_err *err);
/* Consumers with a callback whose back-off has passed (at most max). */
secup_rc trk_callbacks_due(struct db *db, int64_t now, size_t max, json_t **out,
                           struct secup_err *err);
/* Keeps a signed poke for delivery: SECUP_E_STATE when the consumer has no callback. */
secup_rc trk_callback_queue(struct db *db, const char *consumer, const char *body_hex,
                            int64_t expires, struct secup_err *err);
/* The outcome of a delivery: success clears the back-off (and the poke when was_pending);
 * failure doubles it, from backoff_initial up to backoff_max seconds. */
secup_rc trk_callback_done(struct db *db, const char *consumer, bool delivered,
                           bool was_pending, const char *pushed, int64_t now,
                           int64_t backoff_initial, int64_t backoff_max, struct secup_err *err);
/* The targets of a rollout: [{consumer, wave}]. */
secup_rc trk_rollout_targets(struct db *db, const char *id, json_t **out, struct secup_err *err);
secup_rc trk_callback_drop_expired(struct db *db, int64_t now, struct secup_err *err);

/* ---- administrator actions (admin.c) ----
 * One function per action, called by the CLI (`secup-tracker admin`) and by the REST
 * admin API (admin_rest.c). Each writes the event log with actor: "admin" from the CLI,
 * "admin:NAME" over REST. */

/* The states the inventory judges: a filter must name one of them. */
bool trk_state_valid(const char *state);
secup_rc trk_op_consumer_list(struct db *db, const char *actor, int64_t unreachable_after,
                              const char *state, const char *class_id, json_t **out,
                              struct secup_err *err);
secup_rc trk_op_consumer_show(struct db *db, const char *actor, int64_t unreachable_after,
                              const char *id, json_t **out, struct secup_err *err);
secup_rc trk_op_manifest_list(struct db *db, const char *actor, json_t **out,
                              struct secup_err *err);
secup_rc trk_op_rollout_create(struct db *db, const char *actor, const char *id,
                               const char *digest, int64_t canary, int64_t max_failure_pct,
                               const char *const *only, size_t n_only, json_t **out,
                               struct secup_err *err);
secup_rc trk_op_rollout_list(struct db *db, const char *actor, json_t **out,
                             struct secup_err *err);
/* One rollout (as in the list) with its targets and their waves; SECUP_E_NOENT. */
secup_rc trk_op_rollout_show(struct db *db, const char *actor, const char *id, json_t **out,
                             struct secup_err *err);
/* verb: "pause", "resume" or "cancel". SECUP_E_NOENT for an unknown rollout,
 * SECUP_E_STATE when it cannot make that step. */
secup_rc trk_op_rollout_step(struct db *db, const char *actor, const char *id,
                             const char *verb, json_t **out, struct secup_err *err);

/* ---- the process ---- */
secup_rc trk_run(const char *dir, struct secup_err *err);
int trk_admin(int argc, char **argv);
/* `admin consumer poke NAME`: signs a "report status now" with the key of dir's
 * configuration and POSTs it to the consumer's callback URL (pollnow.c). */
secup_rc trk_poke_cli(const char *dir, struct db *db, const char *consumer, json_t **out,
                      struct secup_err *err);

#endif /* SECUP_TRACKER_H */
