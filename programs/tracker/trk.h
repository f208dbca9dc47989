/* The running secup-tracker process. */
#ifndef SECUP_TRACKER_TRK_H
#define SECUP_TRACKER_TRK_H

#include <pthread.h>

#include "http/httpd.h"
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

/* Parsed consumer keys, by consumer id: parsing a PEM key costs many times a
 * verification. A slot holds the PEM it was parsed from, so a changed key is parsed anew;
 * a replaced key is kept until the tracker stops (a report may still be using it). */
#define TRK_KEY_SLOTS 1024
#define TRK_KEY_RETIRED 4096

struct trk_key_slot {
    char id[TRK_ID_MAX + 1];
    char pem[600];
    struct secup_key *key;
};

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
    pthread_mutex_t keys_lock;
    struct trk_key_slot *keys;
    struct secup_key **retired;
    size_t n_retired;
    bool stopping;
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

void trk_handle(void *app, struct httpd_req *req);
/* The parsed key of a consumer whose stored PEM is pem (routes.c). The caller frees it
 * only when *owned (it could not be cached). */
secup_rc trk_consumer_parsed_key(struct trk *t, const char *id, const char *pem,
                                 const struct secup_key **out, bool *owned,
                                 struct secup_err *err);
void trk_keys_free(struct trk *t);

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

#endif /* SECUP_TRACKER_TRK_H */
