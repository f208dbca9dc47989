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
    pthread_t discovery;
    bool discovery_started;
    pthread_mutex_t disc_lock;
    pthread_cond_t disc_cond;
    bool disc_kick;      /* a report, or a poll asked for: look now */
    pthread_mutex_t keys_lock;
    struct trk_key_slot *keys;
    struct secup_key **retired;
    size_t n_retired;
    bool stopping;
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

void trk_handle(void *app, struct httpd_req *req);
/* The parsed key of a consumer whose stored PEM is pem (routes.c). The caller frees it
 * only when *owned (it could not be cached). */
secup_rc trk_consumer_parsed_key(struct trk *t, const char *id, const char *pem,
                                 const struct secup_key **out, bool *owned,
                                 struct secup_err *err);
void trk_keys_free(struct trk *t);
void trk_log(const char *fmt, ...) SECUP_PRINTF(1, 2);

#endif /* SECUP_TRACKER_TRK_H */
