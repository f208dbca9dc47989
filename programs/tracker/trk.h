/* The running secup-tracker process. */
#ifndef SECUP_TRACKER_TRK_H
#define SECUP_TRACKER_TRK_H

#include "http/httpd.h"
#include "tracker.h"

struct trk {
    struct trk_config cfg;
    struct db_pool *pool;
    struct httpd *httpd;
    struct secup_key *sign_key;
};

void trk_handle(void *app, struct httpd_req *req);
void trk_log(const char *fmt, ...) SECUP_PRINTF(1, 2);

#endif /* SECUP_TRACKER_TRK_H */
