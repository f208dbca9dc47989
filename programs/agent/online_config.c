/* The "tracker" and "server" sections of the agent's configuration (docs/agent.md). */
#include <string.h>

#include "online.h"

static const char *const tracker_keys[] = { "url", "id", "key", "ca-file", "enrolment-token-file",
                                            "poll-wait", "report-interval", "poll-interval",
                                            "listen", NULL };
static const char *const listen_keys[] = { "address", "cert", "key", "url", NULL };
static const char *const server_keys[] = { "url", "token-file", "ca-file", "retry-initial",
                                           "retry-max", "attempts", "low-speed-time",
                                           "low-speed-limit", "timeout", NULL };

static bool is_http_url(const char *u)
{
    return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
}

static secup_rc get_u32(struct jconf *c, json_t *o, const char *key, uint64_t min, uint64_t max,
                        uint32_t *out)
{
    uint64_t v = *out;
    secup_rc rc = jconf_uint(c, o, key, min, max, &v, false);
    *out = (uint32_t)v;
    return rc;
}

static secup_rc parse_url(struct jconf *c, json_t *o, const char *where, char *dst, size_t cap,
                          bool required)
{
    secup_rc rc = jconf_str(c, o, "url", dst, cap, required);
    if (rc != SECUP_OK || !dst[0])
        return rc;
    if (!is_http_url(dst))
        return secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"%s.url\" must start with https:// or http://",
                             c->file, where);
    size_t n = strlen(dst);
    while (n > 0 && dst[n - 1] == '/')
        dst[--n] = '\0'; /* paths are appended as "/v1/..." */
    return SECUP_OK;
}

secup_rc online_config_parse(struct jconf *c, struct agent_online_config *o, json_t *tracker,
                             json_t *server)
{
    o->poll_wait = 30;
    o->report_interval = 900;
    o->retry_initial = 5;
    o->retry_max = 300;
    o->attempts = 8;
    o->low_speed_time = 60;
    o->low_speed_limit = 100;
    o->transfer_timeout = 0;
    secup_rc rc = SECUP_OK;
    if (tracker) {
        if (!json_is_object(tracker))
            return secup_err_set(c->err, SECUP_E_JSON, "'%s': \"tracker\" must be an object", c->file);
        o->tracker = true;
        rc = jconf_keys(c, tracker, "tracker", tracker_keys);
        if (rc == SECUP_OK)
            rc = parse_url(c, tracker, "tracker", o->tracker_url, sizeof(o->tracker_url), true);
        if (rc == SECUP_OK)
            rc = jconf_str(c, tracker, "id", o->tracker_id, sizeof(o->tracker_id), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, tracker, "key", o->tracker_key, sizeof(o->tracker_key), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, tracker, "ca-file", o->tracker_ca, sizeof(o->tracker_ca), false);
        if (rc == SECUP_OK)
            rc = jconf_path(c, tracker, "enrolment-token-file", o->enrolment_token_file,
                            sizeof(o->enrolment_token_file), false);
        if (rc == SECUP_OK)
            rc = get_u32(c, tracker, "poll-wait", 0, 3600, &o->poll_wait);
        if (rc == SECUP_OK)
            rc = get_u32(c, tracker, "poll-interval", 0, 7 * 86400, &o->poll_interval);
        json_t *l = json_object_get(tracker, "listen");
        if (rc == SECUP_OK && l) {
            if (!json_is_object(l))
                return secup_err_set(c->err, SECUP_E_JSON, "'%s': \"tracker.listen\" must be an object",
                                     c->file);
            rc = jconf_keys(c, l, "tracker.listen", listen_keys);
            if (rc == SECUP_OK)
                rc = jconf_str(c, l, "address", o->listen_addr, sizeof(o->listen_addr), true);
            if (rc == SECUP_OK)
                rc = jconf_path(c, l, "cert", o->listen_cert, sizeof(o->listen_cert), false);
            if (rc == SECUP_OK)
                rc = jconf_path(c, l, "key", o->listen_key, sizeof(o->listen_key), false);
            if (rc == SECUP_OK && !o->listen_cert[0] != !o->listen_key[0])
                rc = secup_err_set(c->err, SECUP_E_VALUE,
                                   "'%s': \"tracker.listen\" takes both \"cert\" and \"key\", or neither",
                                   c->file);
            if (rc == SECUP_OK)
                rc = jconf_str(c, l, "url", o->callback_url, sizeof(o->callback_url), false);
            if (rc == SECUP_OK && o->callback_url[0] && strncmp(o->callback_url, "https://", 8) != 0)
                rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"tracker.listen.url\" must start with https://",
                                   c->file);
        }
        if (rc == SECUP_OK)
            rc = get_u32(c, tracker, "report-interval", 1, 7 * 86400, &o->report_interval);
    }
    if (rc == SECUP_OK && server) {
        if (!json_is_object(server))
            return secup_err_set(c->err, SECUP_E_JSON, "'%s': \"server\" must be an object", c->file);
        rc = jconf_keys(c, server, "server", server_keys);
        if (rc == SECUP_OK)
            rc = parse_url(c, server, "server", o->server_url, sizeof(o->server_url), false);
        if (rc == SECUP_OK)
            rc = jconf_path(c, server, "token-file", o->server_token_file,
                            sizeof(o->server_token_file), false);
        if (rc == SECUP_OK)
            rc = jconf_path(c, server, "ca-file", o->server_ca, sizeof(o->server_ca), false);
        if (rc == SECUP_OK)
            rc = get_u32(c, server, "retry-initial", 1, 3600, &o->retry_initial);
        if (rc == SECUP_OK)
            rc = get_u32(c, server, "retry-max", 1, 86400, &o->retry_max);
        if (rc == SECUP_OK)
            rc = get_u32(c, server, "attempts", 1, 100, &o->attempts);
        if (rc == SECUP_OK)
            rc = get_u32(c, server, "low-speed-time", 1, 3600, &o->low_speed_time);
        if (rc == SECUP_OK)
            rc = get_u32(c, server, "low-speed-limit", 1, 1u << 30, &o->low_speed_limit);
        if (rc == SECUP_OK)
            rc = get_u32(c, server, "timeout", 0, 86400, &o->transfer_timeout);
        if (rc == SECUP_OK && o->retry_max < o->retry_initial)
            rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"server.retry-max\" is below \"retry-initial\"",
                               c->file);
    }
    return rc;
}
