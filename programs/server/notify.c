/* Notifications to subscribed trackers (X.secup-iot §11.3.7): a signed hint per new image,
 * queued in the same transaction that accepts the image (so none is lost), delivered by
 * one thread with exponential back-off. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/httpc.h"
#include "log.h"
#include "secup/notification.h"
#include "srv.h"

#define BATCH 16

void srv_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vline("secup-server", fmt, ap);
    va_end(ap);
}

static bool unhex(const char *hex, uint8_t *out, size_t want)
{
    size_t n = 0;
    return secup_hex_decode(hex, out, want, &n) && n == want;
}

secup_rc srv_notify_queue(struct srv *s, struct db *db, const struct srv_image *img,
                          struct secup_err *err)
{
    struct secup_notification n;
    memset(&n, 0, sizeof(n));
    int64_t counter = 0;
    secup_rc rc = store_next_counter(db, &counter, err);
    if (rc != SECUP_OK)
        return rc;
    uint8_t comp[256];
    size_t comp_len = 0;
    char uri[700];
    snprintf(uri, sizeof(uri), "%s/v1/images/%s/manifest", s->cfg.public_url, img->id);
    if (!unhex(img->vendor, n.vendor_id, 16) || !unhex(img->class_id, n.class_id, 16) ||
        !unhex(img->id, n.digest, 32) ||
        !secup_hex_decode(img->components[0], comp, sizeof(comp), &comp_len))
        return secup_err_set(err, SECUP_E_VALUE, "image record with malformed hex");
    n.server = secup_bytes_of(s->cfg.id, strlen(s->cfg.id));
    n.counter = (uint64_t)counter;
    n.time = (uint64_t)time(NULL);
    n.component = secup_bytes_of(comp, comp_len);
    n.seq = (uint64_t)img->seq;
    n.uri = secup_bytes_of(uri, strlen(uri));
    uint8_t buf[SECUP_NOTIFICATION_MAX_SIZE + 256];
    size_t len = 0;
    rc = secup_notification_sign(&n, s->sign_key, buf, sizeof(buf), &len, err);
    if (rc != SECUP_OK)
        return rc;
    char hex[2 * sizeof(buf) + 1];
    secup_hex_encode(secup_bytes_of(buf, len), hex, sizeof(hex));
    rc = store_outbox_add(db, img, hex, err);
    if (rc == SECUP_OK)
        srv_notifier_wake(s);
    return rc;
}

void srv_history_add(struct srv *s, const char *image, const char *device, const char *what,
                     int64_t bytes)
{
    pthread_mutex_lock(&s->hist_lock);
    if (s->hist && s->n_hist < SRV_HISTORY_QUEUE) {
        struct srv_download *d = &s->hist[s->n_hist++];
        snprintf(d->image, sizeof(d->image), "%s", image);
        snprintf(d->device, sizeof(d->device), "%s", device);
        snprintf(d->what, sizeof(d->what), "%s", what);
        d->bytes = bytes;
        d->time = (int64_t)time(NULL);
    } else {
        s->hist_dropped++;
    }
    pthread_mutex_unlock(&s->hist_lock);
}

void srv_history_flush(struct srv *s)
{
    static struct srv_download batch[SRV_HISTORY_QUEUE];
    pthread_mutex_lock(&s->hist_lock);
    size_t n = s->n_hist;
    if (n)
        memcpy(batch, s->hist, n * sizeof(batch[0]));
    s->n_hist = 0;
    uint64_t dropped = s->hist_dropped;
    s->hist_dropped = 0;
    pthread_mutex_unlock(&s->hist_lock);
    if (dropped)
        srv_log("WARN history: %" PRIu64 " downloads not recorded (queue full)", dropped);
    if (!n)
        return;
    struct secup_err err;
    struct db *db = db_pool_get(s->pool);
    secup_rc rc = db_begin(db, &err);
    for (size_t i = 0; rc == SECUP_OK && i < n; i++)
        rc = store_download(db, batch[i].image, batch[i].device, batch[i].what, batch[i].bytes,
                            batch[i].time, &err);
    if (rc == SECUP_OK)
        rc = db_commit(db, &err);
    else
        db_rollback(db);
    db_pool_put(s->pool, db);
    if (rc != SECUP_OK)
        srv_log("WARN history: %zu downloads not recorded: %s [%s]", n, err.msg,
                secup_rc_name(rc));
}

void srv_notifier_wake(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* A 4xx answer means the tracker read the notification and refused it (an unknown server key,
 * an Author it does not trust, a replayed counter): the same signed bytes will be refused
 * again. 408, 425 and 429 ask the sender to come back later. */
static bool refused_for_good(long status)
{
    return status >= 400 && status < 500 && status != 408 && status != 425 && status != 429;
}

static enum srv_delivery deliver(struct srv *s, const struct srv_outbox_item *it, char *why,
                                 size_t cap)
{
    static uint8_t body[SECUP_NOTIFICATION_MAX_SIZE + 256];
    size_t len = 0;
    if (!secup_hex_decode(it->body_hex, body, sizeof(body), &len)) {
        snprintf(why, cap, "stored notification is malformed");
        return SRV_DELIVERY_REFUSED;
    }
    struct httpc_config hc = { 0 };
    hc.ca_file = s->cfg.notify_ca[0] ? s->cfg.notify_ca : NULL;
    hc.timeout_s = 30;
    struct httpc_request rq = { 0 };
    rq.method = "POST";
    rq.url = it->url;
    rq.body = body;
    rq.body_len = len;
    rq.content_type = "application/cose; cose-type=\"cose-sign1\"";
    rq.max_response = 64 * 1024;
    struct httpc_response resp;
    memset(&resp, 0, sizeof(resp));
    struct secup_err err;
    secup_rc rc = httpc_perform(&hc, &rq, &resp, &err);
    enum srv_delivery result = SRV_DELIVERY_RETRY;
    if (rc != SECUP_OK) {
        snprintf(why, cap, "%s [%s]", err.msg, secup_rc_name(rc));
    } else if (resp.status >= 200 && resp.status < 300) {
        result = SRV_DELIVERY_DONE;
    } else {
        /* the tracker's error body names the reason ({"error": CODE, "message": ...}) */
        size_t shown = resp.body_len < 200 ? resp.body_len : 200;
        int n = snprintf(why, cap, "HTTP %ld ", resp.status);
        for (size_t i = 0; n >= 0 && (size_t)n + 1 < cap && i < shown; i++)
            why[n++] = resp.body[i] >= 0x20 && resp.body[i] < 0x7f ? (char)resp.body[i] : '.';
        if (n >= 0 && (size_t)n < cap)
            why[n] = 0;
        if (refused_for_good(resp.status))
            result = SRV_DELIVERY_REFUSED;
    }
    httpc_response_free(&resp);
    return result;
}

void *srv_notifier(void *arg)
{
    struct srv *s = arg;
    static struct srv_outbox_item items[BATCH];
    time_t last_sweep = time(NULL);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        if (s->stopping) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;

        srv_history_flush(s);
        /* abandoned uploads: looked for every minute, or every upload-expiry if shorter */
        if ((uint64_t)(time(NULL) - last_sweep) >= (s->cfg.upload_expiry < 60 ? s->cfg.upload_expiry : 60)) {
            size_t gone = blob_sweep_tmp(s->cfg.blobs, s->cfg.upload_expiry);
            if (gone)
                srv_log("removed %zu abandoned upload(s) older than %llu s", gone,
                        (unsigned long long)s->cfg.upload_expiry);
            last_sweep = time(NULL);
        }
        struct secup_err err;
        size_t n = 0;
        struct db *db = db_pool_get(s->pool);
        secup_rc rc = store_outbox_due(db, items, BATCH, &n, &err);
        db_pool_put(s->pool, db);
        if (rc != SECUP_OK) {
            srv_log("notifier: %s [%s]", err.msg, secup_rc_name(rc));
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            char why[600] = "";
            enum srv_delivery result = deliver(s, &items[i], why, sizeof(why));
            uint64_t delay = s->cfg.notify_retry_initial;
            for (int64_t a = 0; a < items[i].attempts && delay < s->cfg.notify_retry_max; a++)
                delay *= 2;
            if (delay > s->cfg.notify_retry_max)
                delay = s->cfg.notify_retry_max;
            db = db_pool_get(s->pool);
            rc = store_outbox_result(db, items[i].id, result,
                                     (int64_t)time(NULL) + (int64_t)delay,
                                     result == SRV_DELIVERY_DONE ? NULL : why, &err);
            db_pool_put(s->pool, db);
            if (result == SRV_DELIVERY_DONE)
                srv_log("notified %s (%s)", items[i].url, items[i].id);
            else if (result == SRV_DELIVERY_REFUSED)
                srv_log("notification %s to %s refused for good (attempt %" PRId64
                        "), not retried: %s",
                        items[i].id, items[i].url, items[i].attempts + 1, why);
            else
                srv_log("notification %s to %s failed (attempt %" PRId64 "), retry in %" PRIu64
                        " s: %s",
                        items[i].id, items[i].url, items[i].attempts + 1, delay, why);
            if (rc != SECUP_OK)
                srv_log("notifier: %s", err.msg);
        }
    }
    return NULL;
}
