/* secup-server run: the daemon. Loads DIR, opens the store, serves HTTPS until SIGINT or
 * SIGTERM, and delivers notifications in the background. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srv.h"

static secup_rc open_all(struct srv *s, const char *dir, struct secup_err *err)
{
    secup_rc rc = srv_config_load(dir, &s->cfg, err);
    if (rc != SECUP_OK)
        return rc;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = s->cfg.threads ? (unsigned)s->cfg.threads
                                      : (unsigned)(2 * (ncpu > 0 ? ncpu : 1));
    s->cfg.threads = threads;
    rc = db_pool_open(s->cfg.db_url, threads + 2, &s->pool, err);
    if (rc == SECUP_OK) {
        struct db *db = db_pool_get(s->pool);
        rc = store_schema(db, err);
        db_pool_put(s->pool, db);
    }
    if (rc == SECUP_OK)
        rc = secup_key_load_pem(&s->sign_key, s->cfg.signing_key, err);
    if (rc == SECUP_OK && !secup_key_has_private(s->sign_key))
        rc = secup_err_set(err, SECUP_E_KEY_FORMAT, "'%s' holds no private key",
                           s->cfg.signing_key);
    if (rc == SECUP_OK && s->cfg.inspection_key[0])
        rc = secup_key_load_pem(&s->inspection_key, s->cfg.inspection_key, err);
    return rc;
}

/* The HTTP seam's diagnostics: connections closed by the time limits, libmicrohttpd. */
static void http_log(void *ctx, const char *line)
{
    (void)ctx;
    srv_log("http: %s", line);
}

secup_rc srv_run(const char *dir, struct secup_err *err)
{
    struct srv *s = calloc(1, sizeof(*s));
    if (!s)
        return secup_err_set(err, SECUP_E_NOMEM, "server state");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_mutex_init(&s->hist_lock, NULL);
    s->hist = calloc(SRV_HISTORY_QUEUE, sizeof(*s->hist));
    if (!s->hist) {
        free(s);
        return secup_err_set(err, SECUP_E_NOMEM, "history queue");
    }

    /* the signals are taken by sigwait() below, in every thread */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    secup_rc rc = open_all(s, dir, err);
    if (rc == SECUP_OK) {
        s->principals = cache_new(1024, sizeof(struct srv_principal), s->cfg.cache_ttl_ms);
        s->latest = cache_new(128, sizeof(struct srv_image), s->cfg.cache_ttl_ms);
        s->images = cache_new(128, sizeof(struct srv_image), s->cfg.cache_ttl_ms);
        if (!s->principals || !s->latest || !s->images)
            rc = secup_err_set(err, SECUP_E_NOMEM, "caches");
        else
            (void)cache_stamp_changed(s->cfg.dir, &s->stamp);
    }
    if (rc == SECUP_OK) {
        size_t gone = blob_sweep_tmp(s->cfg.blobs, s->cfg.upload_expiry);
        if (gone)
            srv_log("removed %zu abandoned upload(s) older than %llu s", gone,
                    (unsigned long long)s->cfg.upload_expiry);
        struct httpd_config hc = { 0 };
        hc.listen = s->cfg.listen;
        hc.cert_file = s->cfg.cert[0] ? s->cfg.cert : NULL;
        hc.key_file = s->cfg.key[0] ? s->cfg.key : NULL;
        hc.client_ca_file = s->cfg.client_ca[0] ? s->cfg.client_ca : NULL;
        hc.threads = (unsigned)s->cfg.threads;
        hc.connection_limit = (unsigned)s->cfg.connection_limit;
        hc.per_ip_limit = (unsigned)s->cfg.per_ip_limit;
        hc.timeout_s = (unsigned)s->cfg.timeout;
        hc.min_body_rate = hc.min_read_rate = (unsigned)s->cfg.min_rate;
        hc.log = http_log;
        hc.rate_classes = s->cfg.rate;
        hc.n_rate_classes = SRV_RATE_CLASSES;
        hc.rate_table = (size_t)s->cfg.rate_table;
        hc.max_body = s->cfg.max_envelope + s->cfg.max_payload + 64 * 1024;
        rc = httpd_start(&hc, srv_handle, s, &s->httpd, err);
    }
    if (rc == SECUP_OK && s->cfg.public_url_auto) {
        /* the port actually bound (the configuration may say 0) */
        const char *colon = strrchr(s->cfg.listen, ':');
        int host_len = colon ? (int)(colon - s->cfg.listen) : (int)strlen(s->cfg.listen);
        snprintf(s->cfg.public_url, sizeof(s->cfg.public_url), "%s://%.*s:%u",
                 s->cfg.cert[0] ? "https" : "http", host_len, s->cfg.listen, httpd_port(s->httpd));
    }
    if (rc == SECUP_OK) {
        if (pthread_create(&s->notifier, NULL, srv_notifier, s) == 0)
            s->notifier_started = true;
        srv_log("serving %s on %s (port %u, %s, %u threads, store %s)", s->cfg.id,
                s->cfg.listen, httpd_port(s->httpd), s->cfg.cert[0] ? "TLS" : "plain HTTP",
                (unsigned)s->cfg.threads, s->cfg.db_url[0] == 's' ? "SQLite" : "PostgreSQL");
        /* a test harness reads the port from here when it asked for port 0 */
        char portfile[SRV_PATH + 32];
        snprintf(portfile, sizeof(portfile), "%s/server.port", s->cfg.dir);
        FILE *f = fopen(portfile, "w");
        if (f) {
            fprintf(f, "%u\n", httpd_port(s->httpd));
            fclose(f);
        }
        int sig = 0;
        sigwait(&set, &sig);
        srv_log("signal %d: stopping", sig);
        unlink(portfile);
    }
    if (s->httpd)
        httpd_stop(s->httpd);
    if (s->notifier_started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->notifier, NULL);
    }
    if (s->pool) {
        srv_history_flush(s); /* what the last requests fetched */
        db_pool_close(s->pool);
    }
    free(s->hist);
    cache_free(s->principals);
    cache_free(s->latest);
    cache_free(s->images);
    pthread_mutex_destroy(&s->hist_lock);
    secup_key_free(s->sign_key);
    secup_key_free(s->inspection_key);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}
