/* The running secup-server process: shared by server.c, routes.c and notify.c. */
#ifndef SECUP_SERVER_SRV_H
#define SECUP_SERVER_SRV_H

#include <pthread.h>
#include <signal.h>

#include "http/httpd.h"
#include "server.h"

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

/* One line on stderr with a timestamp. */
void srv_log(const char *fmt, ...) SECUP_PRINTF(1, 2);

#endif /* SECUP_SERVER_SRV_H */
