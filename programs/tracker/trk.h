/* The running secup-tracker process. */
#ifndef SECUP_TRACKER_TRK_H
#define SECUP_TRACKER_TRK_H

#include <pthread.h>

#include "http/httpd.h"
#include "keycache.h"
#include "secup/status.h"
#include "tracker.h"

/* A consumer's long poll, parked until a manifest arrives or its deadline passes. */
struct trk_parked {
    struct trk_parked *next;
    struct trk *t;
    struct httpd_req *req;
    char consumer[TRK_ID_MAX + 1];
    uint64_t deadline_ms;
    bool listed;  /* still in the registry (not yet woken) */
};

/* An authenticated status report waiting for the committer (intake.c). */
struct trk_report {
    struct trk_report *next;
    struct trk *t;
    struct httpd_req *req;
    char consumer[TRK_ID_MAX + 1];
    int64_t counter, time;
    bool safe_mode;
    char *components_json;
    char *last_json;              /* NULL without a last result */
    bool has_last;
    char last_id[2 * 64 + 1];     /* hex */
    char last_code[64];
    char *report_hex;             /* the signed report as received */
    /* a downstream tracker's aggregate: reporter and signed report (hex) */
    size_t n_agg;
    char agg_reporter[SECUP_STATUS_MAX_AGGREGATE][TRK_ID_MAX + 1];
    char *agg_hex[SECUP_STATUS_MAX_AGGREGATE];
    /* ... and what each says it installed last, for divergence.c ("" when nothing OK) */
    char agg_last[SECUP_STATUS_MAX_AGGREGATE][65];
    int64_t agg_last_time[SECUP_STATUS_MAX_AGGREGATE];
    secup_rc rc;
    struct secup_err err;
};

/* The most consumer keys kept parsed (keycache.h): about 1 KiB each. */
#define TRK_KEY_CACHE 65536

struct trk {
    struct trk_config cfg;
    struct db_pool *pool;
    struct httpd *httpd;
    struct secup_key *sign_key;
    pthread_mutex_t park_lock;
    struct trk_parked *parked;
    pthread_t ticker;
    bool ticker_started;
    pthread_t upstream;
    bool upstream_started;
    pthread_t discovery;
    bool discovery_started;
    pthread_mutex_t disc_lock;
    pthread_cond_t disc_cond;
    bool disc_kick;      /* a poll asked for: look now */
    struct trk_keycache *keys;
    bool stopping;
    /* report intake (intake.c) */
    pthread_mutex_t intake_lock;
    pthread_cond_t intake_cond;
    struct trk_report *intake_head, *intake_tail;
    size_t intake_queued;
    pthread_t intake;
    bool intake_inited, intake_started, intake_stopping;
    /* "poll now" (pollnow.c): the thread that POSTs commands to callback URLs */
    pthread_t pusher;
    bool pusher_started;
    bool push_ready;              /* push_lock and push_cond are initialised */
    pthread_mutex_t push_lock;
    pthread_cond_t push_cond;
    bool push_kicked, push_stop;
};

/* GET /v1/commands?wait=S (commands.c). */
void trk_commands_get(struct trk *t, struct httpd_req *req);
/* Wakes every parked long poll (a manifest arrived, or the tracker stops). */
void trk_wake_all(struct trk *t);
/* The link to the upstream tracker (upstream.c): register, report, obey. */
void *trk_upstream(void *arg);
/* Wakes long polls whose deadline passed; the ticker thread. */
void *trk_ticker(void *arg);

/* Discovery (discovery.c): polls the servers with a url every poll-interval, and looks on
 * them for what consumers report running that the tracker does not know. */
void *trk_discovery(void *arg);
/* Makes the discovery thread look now (after a report; for "poll now"). */
void trk_discovery_kick(struct trk *t);
/* POST /v1/requests: a signed secup-request. */
void trk_requests_post(struct trk *t, struct httpd_req *req, const uint8_t *body, size_t len);
/* Fetches the manifest at url (with the tracker's server token), checks its digest when
 * want_digest is not NULL, verifies the Author's signature against the tracker's trust
 * anchors, and fills *m (uri = url). The one path by which every manifest the tracker
 * learns of is believed. */
secup_rc trk_manifest_fetch_verify(struct trk *t, const char *url, const uint8_t *want_digest,
                                   struct trk_manifest *m, struct secup_err *err);
/* Report intake (intake.c): submit parks req and answers it once r is stored (or
 * refused) together with the reports queued beside it; r is owned by the intake. */
secup_rc trk_intake_start(struct trk *t, struct secup_err *err);
void trk_intake_submit(struct trk *t, struct httpd_req *req, struct trk_report *r);
/* Stores and answers everything queued, then ends the committer. */
void trk_intake_stop(struct trk *t);
void trk_intake_destroy(struct trk *t);
void trk_report_free(struct trk_report *r);

void trk_handle(void *app, struct httpd_req *req);
/* What a poll of consumer would get now, without the "nothing to do" statement (*len 0
 * then), decided as for a poll (commands.c). */
secup_rc trk_command_decide(struct trk *t, const char *consumer, uint8_t *out, size_t cap,
                            size_t *len, struct secup_err *err);
/* A signed "report status now" (action 3) for consumer, in db's transaction (commands.c). */
secup_rc trk_command_report(struct trk *t, struct db *db, const char *consumer, uint8_t *out,
                            size_t cap, size_t *len, struct secup_err *err);

/* "Poll now" (pollnow.c). */
bool trk_is_parked(struct trk *t, const char *consumer);
/* PUT /v1/callback with the consumer's token: {"url": "https://..."}. */
void trk_callback_route(struct trk *t, struct httpd_req *req);
void trk_callback_put(struct trk *t, struct httpd_req *req, const char *consumer,
                      const uint8_t *p, size_t n);
/* The delivery thread: scans every callbacks.interval seconds or when kicked. */
void *trk_pusher(void *arg);
void trk_push_kick(struct trk *t);
void trk_push_stop(struct trk *t);
/* Signs a "report status now" for consumer, keeps it for delivery to its callback URL and
 * tries once at once (SECUP_E_STATE when it has no callback URL). *out tells how it went. */
secup_rc trk_poke(struct trk *t, struct db *db, const char *actor, const char *consumer,
                  json_t **out, struct secup_err *err);

/* The REST admin API (admin_rest.c): every /v1/admin/... request. */
struct req_route;
void trk_admin_route(struct trk *t, struct httpd_req *req, const struct req_route *r);
/* Receives a body of at most max bytes, then calls done with a0 and a1 (copied). */
typedef void (*trk_body_fn)(struct trk *t, struct httpd_req *req, const char *const *args,
                            const uint8_t *p, size_t n);
void trk_accept_json(struct trk *t, struct httpd_req *req, size_t max, trk_body_fn done,
                     const char *a0, const char *a1);
void trk_log(const char *fmt, ...) SECUP_PRINTF(1, 2);
/* Answers a refused request with err; a refusal of authentication or authorisation
 * (SECUP_E_AUTH, SECUP_E_FORBIDDEN) is also logged with the method and path (routes.c). */
void trk_refuse(struct httpd_req *req, const struct secup_err *err);
secup_rc trk_refuse_code(struct httpd_req *req, secup_rc rc, const char *fmt, ...) SECUP_PRINTF(3, 4);

/* Upstream divergence detection (divergence.c, THREATS.md U5). */
/* From an aggregated (unverified) report: the manifest digest (hex) of the last install it
 * reports as OK and its time; "" and 0 when there is none or the report does not parse. */
void trk_divergence_read(struct secup_bytes signed_report, char last[65], int64_t *last_time);
/* Inside the report's transaction: records (once) and logs each rollout targeting tracker
 * whose manifest differs from what reporter says it installed after the rollout began. */
secup_rc trk_divergence_check(struct db *db, const char *tracker, const char *reporter,
                              const char *reported, int64_t installed, int64_t now,
                              struct secup_err *err);

#endif /* SECUP_TRACKER_TRK_H */
