/* Parsers of the REST admin API's and the callback registration's JSON bodies
 * (admin_req.c). */
#ifndef SECUP_TRACKER_ADMIN_REQ_H
#define SECUP_TRACKER_ADMIN_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "secup/err.h"

#define TRK_ROLLOUT_REQ_MAX 256
#define TRK_CALLBACK_URL_MAX 512

/* POST /v1/admin/rollouts: {"id", "digest", "canary", "max_failures", "consumers"}. The
 * strings point into root (trk_rollout_req_free). */
struct trk_rollout_req {
    json_t *root;
    const char *id, *digest;
    int64_t canary;           /* 0 to 1000000; 0 when absent */
    int64_t max_failure_pct;  /* 0 to 100; 20 when absent */
    const char *only[TRK_ROLLOUT_REQ_MAX];
    size_t n_only;            /* 0: the whole class */
};

/* SECUP_E_JSON for a body that is not such an object (unknown or duplicate keys, wrong
 * types, out-of-range counts); r is empty then. */
secup_rc trk_rollout_req_parse(const uint8_t *p, size_t n, struct trk_rollout_req *r,
                               struct secup_err *err);
void trk_rollout_req_free(struct trk_rollout_req *r);

/* An https:// URL of at most TRK_CALLBACK_URL_MAX printable ASCII characters. */
bool trk_callback_url_ok(const char *url);
/* PUT /v1/callback: {"url": "https://..."}; SECUP_E_JSON or SECUP_E_VALUE, url "" then. */
secup_rc trk_callback_req_parse(const uint8_t *p, size_t n, char url[TRK_CALLBACK_URL_MAX + 1],
                                struct secup_err *err);

#endif /* SECUP_TRACKER_ADMIN_REQ_H */
