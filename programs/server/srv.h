/* The running secup-server process: shared by server.c, routes.c and notify.c. */
#ifndef SECUP_SERVER_SRV_H
#define SECUP_SERVER_SRV_H

#include <pthread.h>
#include <signal.h>

#include "cache.h"
#include "http/httpd.h"
#include "server.h"

/* A download to record in the history. */
struct srv_download {
    char image[SRV_HEX_ID];
    char device[SRV_ID_MAX + 1];
    char what[16];
    int64_t bytes;
    int64_t time;
};

#define SRV_HISTORY_QUEUE 8192

struct srv {
    struct srv_config cfg;
    struct db_pool *pool;
    struct httpd *httpd;
    struct secup_key *sign_key;       /* notifications */
    struct secup_key *inspection_key; /* optional */
    pthread_t notifier;
    bool notifier_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    /* downloads waiting to be written, by the notifier thread, once a second in one
     * transaction: a download costs no fsync of its own */
    /* caches of routes.c (cache.h), cleared when admin.stamp changes */
    struct cache *principals;
    struct cache *latest;
    struct cache *images;
    _Atomic uint64_t stamp;
    pthread_mutex_t hist_lock;
    struct srv_download *hist;
    size_t n_hist;
    uint64_t hist_dropped;
};

/* The request handler (routes.c). */
void srv_handle(void *app, struct httpd_req *req);

/* Queues the signed notification of a newly accepted image for every matching
 * subscription (notify.c); called inside the submission's transaction. */
secup_rc srv_notify_queue(struct srv *s, struct db *db, const struct srv_image *img,
                          struct secup_err *err);
/* The delivery thread (notify.c). */
void *srv_notifier(void *arg);
void srv_notifier_wake(struct srv *s);

/* Queues a download for the history (never blocks on the database). */
void srv_history_add(struct srv *s, const char *image, const char *device, const char *what,
                     int64_t bytes);
/* Writes the queued downloads (notify.c; also at shutdown). */
void srv_history_flush(struct srv *s);

/* One line on stderr with a timestamp. */
void srv_log(const char *fmt, ...) SECUP_PRINTF(1, 2);

#endif /* SECUP_SERVER_SRV_H */
