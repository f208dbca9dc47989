/* secup-tracker run: the daemon. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "trk.h"

void trk_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vline("secup-tracker", fmt, ap);
    va_end(ap);
}

/* The HTTP seam's diagnostics: connections closed by the time limits, libmicrohttpd. */
static void http_log(void *ctx, const char *line)
{
    (void)ctx;
    trk_log("http: %s", line);
}

secup_rc trk_run(const char *dir, struct secup_err *err)
{
    struct trk *t = calloc(1, sizeof(*t));
    if (!t)
        return secup_err_set(err, SECUP_E_NOMEM, "tracker state");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_mutex_init(&t->park_lock, NULL);
    pthread_mutex_init(&t->disc_lock, NULL);
    pthread_cond_init(&t->disc_cond, NULL);
    secup_rc rc = trk_keycache_new(TRK_KEY_CACHE, &t->keys, err);
    if (rc != SECUP_OK) {
        pthread_cond_destroy(&t->disc_cond);
        pthread_mutex_destroy(&t->disc_lock);
        free(t);
        return rc;
    }
    pthread_mutex_init(&t->push_lock, NULL);
    pthread_cond_init(&t->push_cond, NULL);
    t->push_ready = true;
    rc = trk_config_load(dir, &t->cfg, err);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = t->cfg.threads ? (unsigned)t->cfg.threads
                                      : (unsigned)(2 * (ncpu > 0 ? ncpu : 1));
    if (rc == SECUP_OK)
        /* + the committer, the ticker, upstream, discovery and the pusher of "poll now" */
        rc = db_pool_open(t->cfg.db_url, threads + 5, &t->pool, err);
    if (rc == SECUP_OK) {
        struct db *db = db_pool_get(t->pool);
        rc = trk_schema(db, err);
        db_pool_put(t->pool, db);
    }
    if (rc == SECUP_OK)
        rc = secup_key_load_pem(&t->sign_key, t->cfg.signing_key, err);
    if (rc == SECUP_OK)
        rc = trk_intake_start(t, err);
    if (rc == SECUP_OK) {
        struct httpd_config hc = { 0 };
        hc.listen = t->cfg.listen;
        hc.cert_file = t->cfg.cert[0] ? t->cfg.cert : NULL;
        hc.key_file = t->cfg.key[0] ? t->cfg.key : NULL;
        hc.threads = threads;
        hc.connection_limit = (unsigned)t->cfg.connection_limit;
        hc.timeout_s = (unsigned)t->cfg.timeout;
        hc.per_ip_limit = (unsigned)t->cfg.per_ip_limit;
        hc.min_body_rate = hc.min_read_rate = (unsigned)t->cfg.min_rate;
        hc.log = http_log;
        hc.rate_classes = t->cfg.rate;
        hc.n_rate_classes = TRK_RATE_CLASSES;
        hc.rate_table = (size_t)t->cfg.rate_table;
        rc = httpd_start(&hc, trk_handle, t, &t->httpd, err);
    }
    if (rc == SECUP_OK && pthread_create(&t->ticker, NULL, trk_ticker, t) == 0)
        t->ticker_started = true;
    if (rc == SECUP_OK && pthread_create(&t->discovery, NULL, trk_discovery, t) == 0)
        t->discovery_started = true;
    if (rc == SECUP_OK && pthread_create(&t->pusher, NULL, trk_pusher, t) == 0)
        t->pusher_started = true;
    if (rc == SECUP_OK && t->cfg.up_url[0] &&
        pthread_create(&t->upstream, NULL, trk_upstream, t) == 0)
        t->upstream_started = true;
    if (rc == SECUP_OK) {
        trk_log("serving %s on %s (port %u, %s, %u threads)", t->cfg.id, t->cfg.listen,
                httpd_port(t->httpd), t->cfg.cert[0] ? "TLS" : "plain HTTP", threads);
        char portfile[TRK_PATH + 32];
        snprintf(portfile, sizeof(portfile), "%s/tracker.port", t->cfg.dir);
        FILE *f = fopen(portfile, "w");
        if (f) {
            fprintf(f, "%u\n", httpd_port(t->httpd));
            fclose(f);
        }
        int sig = 0;
        sigwait(&set, &sig);
        trk_log("signal %d: stopping", sig);
        unlink(portfile);
    }
    /* parked long polls are answered before the server stops */
    pthread_mutex_lock(&t->park_lock);
    t->stopping = true;
    pthread_mutex_unlock(&t->park_lock);
    trk_wake_all(t);
    trk_intake_stop(t); /* queued reports are stored and answered; later ones get 503 */
    if (t->ticker_started)
        pthread_join(t->ticker, NULL);
    trk_push_stop(t);
    if (t->pusher_started)
        pthread_join(t->pusher, NULL); /* a delivery under way ends within its 15 s timeout */
    if (t->upstream_started)
        pthread_join(t->upstream, NULL); /* its long poll ends within poll-wait + 30 s */
    if (t->discovery_started) {
        trk_discovery_kick(t);
        pthread_join(t->discovery, NULL); /* a fetch in progress ends within 60 s */
    }
    if (t->httpd) {
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL); /* let the woken polls be answered */
        httpd_stop(t->httpd);
    }
    trk_intake_destroy(t);
    if (t->pool)
        db_pool_close(t->pool);
    secup_key_free(t->sign_key);
    trk_keycache_free(t->keys);
    pthread_cond_destroy(&t->disc_cond);
    pthread_mutex_destroy(&t->disc_lock);
    pthread_mutex_destroy(&t->park_lock);
    pthread_cond_destroy(&t->push_cond);
    pthread_mutex_destroy(&t->push_lock);
    free(t);
    return rc;
}
