/* secup-fleetsim: N simulated devices against real trackers and servers (fleet.h,
 * docs/fleetsim.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fleet.h"
#include "log.h"
#include "secup/file.h"
#include "token.h"

#define PROG "secup-fleetsim"

static volatile sig_atomic_t stop_requested, wake_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_usr1(int sig)
{
    (void)sig;
    wake_requested = 1;
}

uint64_t fleet_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t fleet_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fleet_log(const struct fleet *f, const char *fmt, ...)
{
    (void)f;
    va_list ap;
    va_start(ap, fmt);
    log_vline(PROG, fmt, ap);
    va_end(ap);
}

void lat_add(struct lat *l, uint64_t ms)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 1024;
        uint32_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(const struct lat *l, double p)
{
    if (!l->n)
        return 0;
    size_t i = (size_t)ceil(p * (double)l->n) - 1;
    if (i >= l->n)
        i = l->n - 1;
    return l->v[i];
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: " PROG " --devices N --tracker URL --tracker-id ID --tracker-key PUB.pem\n"
        "                      --token FILE --server URL --server-token FILE --initial V1.suit\n"
        "                      --trust AUTHOR.pub.pem --vendor-domain D --class C [options]\n"
        "       " PROG " --download-only MANIFEST-URL [--payload-url URL] --devices N ...\n"
        "\n"
        "Runs N simulated devices in one process, each with its own P-256 key, id, counters\n"
        "and simulated A/B slots, speaking the real protocol over HTTPS: register with the\n"
        "enrolment token, signed status reports, long polls for signed commands (verified\n"
        "against the tracker's key), manifests verified against the Author's keys, payloads\n"
        "downloaded and checked against their digest, results reported.\n"
        "\n"
        "the fleet:\n"
        "  --devices N           simulated devices (default 10)\n"
        "  --prefix P            device ids P-00001, P-00002, ... (default sim)\n"
        "  --initial FILE        the manifest every device runs at the start (component, sequence,\n"
        "                        digest, version); verified like any other\n"
        "  --vendor-domain D, --class C   the devices' identifiers (manifests must check them)\n"
        "  --vendor D            the same as --vendor-domain\n"
        "  --trust FILE          an Author's public key (repeatable): the trust anchors\n"
        "  --slot-size BYTES     simulated slot capacity (default 64 MiB)\n"
        "  --state-dir DIR       keep each device's key and state (token, counters, slots, last\n"
        "                        result) there, and start from them when they exist\n"
        "scenarios:\n"
        "  --fail-ratio R        this share of the devices (every 1/R-th) fail the health check\n"
        "                        of a new image and fall back (default 0)\n"
        "  --fail LIST           these devices fail too (numbers from 1: 3,7-9)\n"
        "  --offline LIST        these devices register, report once, then go off line until\n"
        "                        SIGUSR1 or --offline-for seconds\n"
        "  --offline-for S       bring the off-line devices back after S seconds\n"
        "  --duration S          stop after S seconds (default: until a stop condition or signal)\n"
        "  --until-seq N         stop once every on-line device has reported sequence N, or a\n"
        "                        failed install, to the tracker\n"
        "  --download-only URL   the baseline: no tracker; every device fetches this manifest and\n"
        "                        its payload, verifies both, and stops\n"
        "  --payload-url URL     the payload for --download-only (default: beside a server's\n"
        "                        .../manifest, else the manifest's uri)\n"
        "the network:\n"
        "  --tracker URL         the tracker the devices enrol with\n"
        "  --tracker-id ID, --tracker-key FILE   who signs the commands (the tracker's public key)\n"
        "  --tracker-ca FILE     CA for the tracker's certificate\n"
        "  --token FILE          the enrolment token (one for the whole fleet: enough --uses)\n"
        "  --server URL          the Firmware Server: URI paths resolve against it\n"
        "  --server-ca FILE      CA for the server's certificate\n"
        "  --server-token FILE   the device token at the server (one for the whole fleet)\n"
        "  --poll-wait S         long-poll wait (default 30)\n"
        "  --report-interval S   report at least this often (default 600)\n"
        "  --ramp-ms MS          start the devices spread over this (default 2000)\n"
        "  --attempts N          tries per download (default 4)\n"
        "  --max-connections N   open connections at most (default: devices + 64)\n"
        "  --connections MODE    per-request (default): every request opens its own connection\n"
        "                        and TLS session, as secup-agent does; shared: the fleet shares\n"
        "                        one pool of kept-alive connections (cheaper load generation)\n"
        "output:\n"
        "  --json FILE           the summary as JSON (\"-\": stdout) at the end\n"
        "  -v, --verbose         a log line per device event\n"
        "Signals: SIGTERM/SIGINT stop (the summary is still written), SIGUSR1 brings the\n"
        "off-line devices back. Exit status: 0 done (or stopped, without --until-seq and\n"
        "--download-only), 1 --until-seq or --download-only not reached before --duration or\n"
        "a signal, 2 usage, 3 bad input, 4 environment.\n");
}

static int usage_err(const char *fmt, ...) SECUP_PRINTF(1, 2);
static int usage_err(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " [%s]\nhint: see '" PROG " --help'\n", secup_rc_name(SECUP_E_USAGE));
    return secup_rc_exit_status(SECUP_E_USAGE);
}

static int fail_err(const struct secup_err *err)
{
    secup_rc rc = err->rc == SECUP_OK ? SECUP_E_STATE : err->rc;
    fprintf(stderr, PROG ": %s [%s]\n", err->msg[0] ? err->msg : secup_rc_str(rc), secup_rc_name(rc));
    return secup_rc_exit_status(rc);
}


secup_rc fleet_initial(struct fleet *f, struct secup_err *err)
{
    secup_rc rc = secup_file_read(f->o.initial, 1024 * 1024, &f->comp_src, &f->comp_src_len, err);
    if (rc != SECUP_OK)
        return rc;
    struct secup_envelope *env = malloc(sizeof(*env));
    if (!env)
        return secup_err_set(err, SECUP_E_NOMEM, "no memory for the envelope");
    rc = secup_envelope_decode(env, secup_bytes_of(f->comp_src, f->comp_src_len), NULL, err);
    struct secup_device_policy pol = f->policy;
    pol.sequence_floor = 0;
    if (rc == SECUP_OK)
        rc = secup_policy_check(env, f->trust, &pol, NULL, err);
    struct secup_image_info info;
    if (rc == SECUP_OK && env->manifest.n_components != 1)
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "the simulated devices have one component; the manifest has %u",
                           env->manifest.n_components);
    if (rc == SECUP_OK)
        rc = secup_manifest_image_info(&env->manifest, 0, &info, err);
    if (rc == SECUP_OK && (!info.has_digest || info.digest.bytes.len != 32))
        rc = secup_err_set(err, SECUP_E_UNSUPPORTED, "the image digest is not SHA-256");
    size_t n = 0;
    if (rc == SECUP_OK) {
        f->comp = env->manifest.components[0]; /* views into comp_src */
        rc = secup_component_id_encode(&f->comp, f->comp_id, sizeof(f->comp_id), &n, err);
    }
    if (rc == SECUP_OK) {
        f->comp_id_len = n;
        f->init_seq = env->manifest.sequence_number;
        memcpy(f->init_digest, info.digest.bytes.ptr, 32);
        secup_manifest_version_text(&env->manifest, &f->comp, f->init_version, sizeof(f->init_version));
    } else {
        secup_err_prefix(err, "--initial '%s'", f->o.initial);
    }
    free(env);
    return rc;
}

static bool parse_u64(const char *s, const char *opt, uint64_t max, uint64_t *out)
{
    if (!cli_parse_u64(s, out) || *out > max) {
        usage_err("%s wants a number up to %llu, not '%s'", opt, (unsigned long long)max, s);
        return false;
    }
    return true;
}

static void counts(const struct fleet *f, uint32_t *online, uint32_t *settled, uint32_t *dark,
                   uint32_t *busy, uint32_t *registered)
{
    *online = *settled = *dark = *busy = *registered = 0;
    for (uint32_t i = 0; i < f->o.devices; i++) {
        const struct dev *d = &f->devs[i];
        if (d->dark)
            (*dark)++;
        else
            (*online)++;
        if (!d->dark && dev_settled(d))
            (*settled)++;
        if (d->ins)
            (*busy)++;
        if (d->token[0])
            (*registered)++;
    }
}

static void json_lat(FILE *out, const char *name, struct lat *l, bool last)
{
    if (l->n)
        qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
    fprintf(out, "    \"%s\": {\"n\": %u, \"p50\": %u, \"p99\": %u, \"max\": %u}%s\n", name, l->n,
            pct(l, 0.5), pct(l, 0.99), l->n ? l->v[l->n - 1] : 0, last ? "" : ",");
}

static int write_summary(struct fleet *f, uint64_t end_ms)
{
    FILE *out = strcmp(f->o.json, "-") == 0 ? stdout : fopen(f->o.json, "w");
    if (!out) {
        fprintf(stderr, PROG ": cannot write '%s': %s\n", f->o.json, strerror(errno));
        return 4;
    }
    /* devices by what they run, failed, off line, unregistered */
    uint64_t seqs[16] = { 0 }, nseq[16] = { 0 };
    uint32_t ns = 0, failed = 0, dark = 0, unreg = 0, settled = 0;
    for (uint32_t i = 0; i < f->o.devices; i++) {
        const struct dev *d = &f->devs[i];
        uint32_t k = 0;
        while (k < ns && seqs[k] != d->seq)
            k++;
        if (k == ns && ns < 16)
            seqs[ns++] = d->seq;
        if (k < 16)
            nseq[k]++;
        failed += d->has_last && strcmp(d->last_code, "OK") != 0;
        dark += d->dark;
        unreg += !d->token[0] && !f->o.download_manifest;
        settled += dev_settled(d);
    }
    fprintf(out, "{\n  \"devices\": %u,\n  \"mode\": \"%s\",\n", f->o.devices,
            f->o.download_manifest ? "download-only" : "tracker");
    fprintf(out, "  \"running\": {");
    for (uint32_t k = 0; k < ns; k++)
        fprintf(out, "%s\"%llu\": %llu", k ? ", " : "", (unsigned long long)seqs[k],
                (unsigned long long)nseq[k]);
    fprintf(out, "},\n");
    fprintf(out, "  \"states\": {\"settled\": %u, \"failed\": %u, \"offline\": %u, \"unregistered\": %u},\n",
            settled, failed, dark, unreg);
    fprintf(out, "  \"installs\": {\"ok\": %llu, \"failed\": %llu, \"fell_back\": %llu},\n",
            (unsigned long long)f->installs_ok, (unsigned long long)f->installs_failed,
            (unsigned long long)f->fell_back);
    fprintf(out, "  \"commands\": {\"install\": %llu, \"nothing\": %llu, \"report\": %llu, \"cancel\": %llu, \"refused\": %llu},\n",
            (unsigned long long)f->cmds[1], (unsigned long long)f->cmds[2],
            (unsigned long long)f->cmds[3], (unsigned long long)f->cmds[4],
            (unsigned long long)f->cmds[0]);
    fprintf(out, "  \"requests\": {\"register\": %llu, \"report\": %llu, \"poll\": %llu, \"manifest\": %llu, \"payload\": %llu},\n",
            (unsigned long long)f->requests[STEP_REGISTER], (unsigned long long)f->requests[STEP_REPORT],
            (unsigned long long)f->requests[STEP_POLL], (unsigned long long)f->requests[STEP_MANIFEST],
            (unsigned long long)f->requests[STEP_PAYLOAD]);
    fprintf(out, "  \"errors\": %llu,\n", (unsigned long long)f->errors);
    fprintf(out, "  \"bytes\": {\"payload\": %llu, \"manifest\": %llu},\n",
            (unsigned long long)f->bytes_payload, (unsigned long long)f->bytes_manifest);
    fprintf(out, "  \"times_ms\": {\"started_at\": %llu, \"elapsed\": %llu, \"first_install_command_at\": %llu, "
                 "\"last_install_command_at\": %llu, \"last_update_reported_at\": %llu, \"last_download_done_at\": %llu},\n",
            (unsigned long long)f->start_epoch_ms, (unsigned long long)(end_ms - f->start_ms),
            (unsigned long long)f->first_cmd_epoch_ms, (unsigned long long)f->last_cmd_epoch_ms,
            (unsigned long long)f->last_update_epoch_ms, (unsigned long long)f->last_done_epoch_ms);
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    fprintf(out, "  \"cpu_s\": %.2f,\n", cpu);
    fprintf(out, "  \"latency_ms\": {\n");
    json_lat(out, "update", &f->l_update, false);
    json_lat(out, "download", &f->l_download, false);
    json_lat(out, "register", &f->l_step[STEP_REGISTER], false);
    json_lat(out, "report", &f->l_step[STEP_REPORT], false);
    json_lat(out, "manifest", &f->l_step[STEP_MANIFEST], false);
    json_lat(out, "payload", &f->l_step[STEP_PAYLOAD], true);
    fprintf(out, "  }\n}\n");
    if (out != stdout && fclose(out) != 0) {
        fprintf(stderr, PROG ": writing '%s': %s\n", f->o.json, strerror(errno));
        return 4;
    }
    fflush(stdout);
    return 0;
}

static struct fleet fl;

int main(int argc, char **argv)
{
    cli_init(PROG);
    struct fleet *f = &fl;
    struct fleet_opts *o = &f->o;
    o->devices = 10;
    o->prefix = "sim";
    o->poll_wait = 30;
    o->report_interval = 600;
    o->ramp_ms = 2000;
    o->attempts = 4;
    o->slot_size = 64u * 1024u * 1024u;
    enum { O_TRACKER = 256, O_TID, O_TKEY, O_TCA, O_SERVER, O_SCA, O_STOKEN, O_TOKEN, O_VENDOR,
           O_CLASS, O_INITIAL, O_TRUST, O_FAILR, O_FAIL, O_OFFLINE, O_OFFFOR, O_DURATION,
           O_UNTIL, O_POLL, O_REPORT, O_RAMP, O_ATTEMPTS, O_MAXCONN, O_SLOT, O_JSON, O_DL,
           O_DLP, O_PREFIX, O_DEVICES, O_CONN, O_STATE };
    static const struct option opts[] = {
        { "devices", required_argument, NULL, O_DEVICES },
        { "prefix", required_argument, NULL, O_PREFIX },
        { "tracker", required_argument, NULL, O_TRACKER },
        { "tracker-id", required_argument, NULL, O_TID },
        { "tracker-key", required_argument, NULL, O_TKEY },
        { "tracker-ca", required_argument, NULL, O_TCA },
        { "server", required_argument, NULL, O_SERVER },
        { "server-ca", required_argument, NULL, O_SCA },
        { "server-token", required_argument, NULL, O_STOKEN },
        { "token", required_argument, NULL, O_TOKEN },
        { "vendor-domain", required_argument, NULL, O_VENDOR },
        { "vendor", required_argument, NULL, O_VENDOR },
        { "class", required_argument, NULL, O_CLASS },
        { "initial", required_argument, NULL, O_INITIAL },
        { "trust", required_argument, NULL, O_TRUST },
        { "fail-ratio", required_argument, NULL, O_FAILR },
        { "fail", required_argument, NULL, O_FAIL },
        { "offline", required_argument, NULL, O_OFFLINE },
        { "offline-for", required_argument, NULL, O_OFFFOR },
        { "duration", required_argument, NULL, O_DURATION },
        { "until-seq", required_argument, NULL, O_UNTIL },
        { "poll-wait", required_argument, NULL, O_POLL },
        { "report-interval", required_argument, NULL, O_REPORT },
        { "ramp-ms", required_argument, NULL, O_RAMP },
        { "attempts", required_argument, NULL, O_ATTEMPTS },
        { "max-connections", required_argument, NULL, O_MAXCONN },
        { "slot-size", required_argument, NULL, O_SLOT },
        { "json", required_argument, NULL, O_JSON },
        { "download-only", required_argument, NULL, O_DL },
        { "payload-url", required_argument, NULL, O_DLP },
        { "connections", required_argument, NULL, O_CONN },
        { "state-dir", required_argument, NULL, O_STATE },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (ch) {
        case O_DEVICES:
            if (!parse_u64(optarg, "--devices", 1000000, &v) || v == 0)
                return v == 0 ? usage_err("--devices wants at least 1") : 2;
            o->devices = (uint32_t)v;
            break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_TRACKER: o->tracker_url = optarg; break;
        case O_TID: o->tracker_id = optarg; break;
        case O_TKEY: o->tracker_key = optarg; break;
        case O_TCA: o->tracker_ca = optarg; break;
        case O_SERVER: o->server_url = optarg; break;
        case O_SCA: o->server_ca = optarg; break;
        case O_STOKEN: o->server_token = optarg; break;
        case O_TOKEN: o->token = optarg; break;
        case O_VENDOR: o->vendor_domain = optarg; break;
        case O_CLASS: o->class_name = optarg; break;
        case O_INITIAL: o->initial = optarg; break;
        case O_TRUST:
            if (o->n_trust == sizeof(o->trust) / sizeof(o->trust[0]))
                return usage_err("at most %zu --trust keys", sizeof(o->trust) / sizeof(o->trust[0]));
            o->trust[o->n_trust++] = optarg;
            break;
        case O_FAILR: {
            char *end;
            errno = 0;
            o->fail_ratio = strtod(optarg, &end);
            if (errno || *end || !(o->fail_ratio >= 0 && o->fail_ratio <= 1))
                return usage_err("--fail-ratio wants a number from 0 to 1, not '%s'", optarg);
            break;
        }
        case O_FAIL:
        case O_OFFLINE:
            if (strspn(optarg, "0123456789,-") != strlen(optarg) || !optarg[0])
                return usage_err("%s wants device numbers like 3,7-9, not '%s'",
                                 ch == O_FAIL ? "--fail" : "--offline", optarg);
            *(ch == O_FAIL ? &o->fail_list : &o->offline_list) = optarg;
            break;
        case O_OFFFOR:
            if (!parse_u64(optarg, "--offline-for", 1000000, &o->offline_for))
                return 2;
            break;
        case O_DURATION:
            if (!parse_u64(optarg, "--duration", 10000000, &o->duration))
                return 2;
            break;
        case O_UNTIL:
            if (!parse_u64(optarg, "--until-seq", UINT64_MAX, &o->until_seq))
                return 2;
            break;
        case O_POLL:
            if (!parse_u64(optarg, "--poll-wait", 3600, &v))
                return 2;
            o->poll_wait = (uint32_t)v;
            break;
        case O_REPORT:
            if (!parse_u64(optarg, "--report-interval", 86400, &v) || v == 0)
                return v == 0 ? usage_err("--report-interval wants at least 1") : 2;
            o->report_interval = (uint32_t)v;
            break;
        case O_RAMP:
            if (!parse_u64(optarg, "--ramp-ms", 3600000, &v))
                return 2;
            o->ramp_ms = (uint32_t)v;
            break;
        case O_ATTEMPTS:
            if (!parse_u64(optarg, "--attempts", 1000, &v) || v == 0)
                return v == 0 ? usage_err("--attempts wants at least 1") : 2;
            o->attempts = (uint32_t)v;
            break;
        case O_MAXCONN:
            if (!parse_u64(optarg, "--max-connections", 1000000, &v))
                return 2;
            o->max_connections = (uint32_t)v;
            break;
        case O_SLOT:
            if (!parse_u64(optarg, "--slot-size", INT64_MAX, &o->slot_size) || o->slot_size == 0)
                return o->slot_size == 0 ? usage_err("--slot-size wants at least 1") : 2;
            break;
        case O_JSON: o->json = optarg; break;
        case O_STATE: o->state_dir = optarg; break;
        case O_DL: o->download_manifest = optarg; break;
        case O_DLP: o->download_payload = optarg; break;
        case O_CONN:
            if (strcmp(optarg, "shared") == 0)
                o->shared_connections = true;
            else if (strcmp(optarg, "per-request") == 0)
                o->shared_connections = false;
            else
                return usage_err("--connections is per-request or shared, not '%s'", optarg);
            break;
        case 'v': o->verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: return usage_err("unknown option");
        }
    }
    if (optind < argc)
        return usage_err("unexpected argument '%s'", argv[optind]);
    if (!o->vendor_domain || !o->class_name || !o->n_trust)
        return usage_err("--vendor-domain, --class and at least one --trust are needed");
    if (!o->download_manifest && (!o->tracker_url || !o->tracker_id || !o->tracker_key || !o->token || !o->initial))
        return usage_err("--tracker, --tracker-id, --tracker-key, --token and --initial are needed (or --download-only)");
    if (o->download_manifest && o->tracker_url)
        return usage_err("--download-only runs without a tracker");
    if (o->until_seq && o->download_manifest)
        return usage_err("--until-seq is for a fleet with a tracker; --download-only stops when every download is done");

    struct secup_err err;
    secup_err_clear(&err);
    secup_rc rc = SECUP_OK;
    /* trust anchors, identifiers, the tracker's key, tokens */
    rc = secup_trust_new(&f->trust, &err);
    for (uint32_t i = 0; rc == SECUP_OK && i < o->n_trust; i++) {
        struct secup_key *k = NULL;
        rc = secup_key_load_pem(&k, o->trust[i], &err);
        if (rc == SECUP_OK) {
            rc = secup_trust_add(f->trust, k, o->trust[i], &err);
            if (rc != SECUP_OK)
                secup_key_free(k);
        }
        if (rc != SECUP_OK)
            secup_err_prefix(&err, "--trust '%s'", o->trust[i]);
    }
    if (rc == SECUP_OK)
        rc = secup_vendor_id(o->vendor_domain, f->policy.vendor_id, &err);
    if (rc == SECUP_OK)
        rc = secup_class_id(f->policy.vendor_id, o->class_name, f->policy.class_id, &err);
    if (rc == SECUP_OK && o->tracker_key) {
        rc = secup_key_load_pem(&f->tracker_key, o->tracker_key, &err);
        if (rc != SECUP_OK)
            secup_err_prefix(&err, "--tracker-key");
    }
    if (rc == SECUP_OK && o->token)
        rc = token_read_file(o->token, f->enrol_token, sizeof(f->enrol_token), &err);
    if (rc == SECUP_OK && o->server_token)
        rc = token_read_file(o->server_token, f->server_token, sizeof(f->server_token), &err);
    if (rc == SECUP_OK && o->initial)
        rc = fleet_initial(f, &err);
    if (rc == SECUP_OK && !o->initial) {
        /* download-only without --initial: the manifest's first component is simulated */
        f->comp.n_parts = 0;
    }
    if (rc != SECUP_OK)
        return fail_err(&err);

    /* every device holds connections: the descriptors must suffice */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)o->devices + 64) {
        secup_err_set(&err, SECUP_E_LIMIT, "%u devices need about %u file descriptors; the limit is %llu",
                      o->devices, o->devices + 64, (unsigned long long)rl.rlim_cur);
        return fail_err(&err);
    }
    f->tracker_http.ca_file = o->tracker_ca;
    f->tracker_http.timeout_s = 60;
    f->poll_http = f->tracker_http;
    f->poll_http.timeout_s = o->poll_wait + 30;
    f->poll_http.low_speed_time_s = o->poll_wait + 30; /* a long poll is silent by design */
    f->server_http.ca_file = o->server_ca;
    f->server_http.timeout_s = 600;
    f->tracker_http.fresh_connection = !o->shared_connections;
    f->poll_http.fresh_connection = !o->shared_connections;
    f->server_http.fresh_connection = !o->shared_connections;
    rc = httpc_multi_new(&f->multi, o->max_connections ? o->max_connections : o->devices + 64, &err);
    if (rc != SECUP_OK)
        return fail_err(&err);

    snprintf(f->keydir, sizeof(f->keydir), "%s/secup-fleetsim.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!o->download_manifest && !mkdtemp(f->keydir)) {
        secup_err_set(&err, SECUP_E_IO, "cannot create a directory for the keys '%s': %s", f->keydir,
                      strerror(errno));
        return fail_err(&err);
    }
    if (o->state_dir && o->download_manifest)
        return usage_err("--state-dir is for a fleet with a tracker");
    if (o->state_dir && mkdir(o->state_dir, 0700) != 0 && errno != EEXIST) {
        secup_err_set(&err, SECUP_E_IO, "cannot create --state-dir '%s': %s", o->state_dir, strerror(errno));
        return fail_err(&err);
    }
    f->devs = calloc(o->devices, sizeof(*f->devs));
    if (!f->devs) {
        secup_err_set(&err, SECUP_E_NOMEM, "no memory for %u devices", o->devices);
        return fail_err(&err);
    }
    f->start_ms = fleet_now_ms();
    for (uint32_t i = 0; rc == SECUP_OK && i < o->devices; i++)
        rc = dev_init(f, &f->devs[i], i, &err);
    if (!o->download_manifest)
        (void)rmdir(f->keydir);
    if (rc != SECUP_OK)
        return fail_err(&err);
    f->start_ms = fleet_now_ms();
    f->start_epoch_ms = fleet_epoch_ms();
    for (uint32_t i = 0; i < o->devices; i++) /* the ramp starts now, not before the keys */
        f->devs[i].wake_ms = f->start_ms + (o->devices > 1 ? (uint64_t)o->ramp_ms * i / (o->devices - 1) : 0);
    if (o->download_manifest)
        fleet_log(f, "%u devices: download-only from %s", o->devices, o->download_manifest);
    else
        fleet_log(f, "%u devices (%s-00001 ...) under %s, running sequence %llu", o->devices, o->prefix,
                  o->tracker_url, (unsigned long long)f->init_seq);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = 0;
    uint64_t last_progress = f->start_ms;
    for (;;) {
        uint64_t now = fleet_now_ms();
        if (stop_requested) {
            fleet_log(f, "stopped by a signal");
            status = o->until_seq || o->download_manifest ? 1 : 0; /* not done */
            break;
        }
        if (wake_requested) {
            wake_requested = 0;
            uint32_t n = 0;
            for (uint32_t i = 0; i < o->devices; i++) {
                if (f->devs[i].dark_until_ms) {
                    f->devs[i].dark_until_ms = 0;
                    n++;
                }
            }
            fleet_log(f, "SIGUSR1: %u off-line devices come back", n);
        }
        for (uint32_t i = 0; i < o->devices; i++)
            dev_step(&f->devs[i]);
        uint32_t online, settled, dark, busy, registered;
        counts(f, &online, &settled, &dark, &busy, &registered);
        bool done = o->download_manifest ? settled == o->devices
                    : o->until_seq && settled == online && online > 0;
        if (done) {
            fleet_log(f, "%s: %u devices settled%s", o->download_manifest ? "every download done" : "done",
                      settled, dark ? " (the off-line ones not counted)" : "");
            break;
        }
        if (o->duration && now - f->start_ms >= o->duration * 1000u) {
            fleet_log(f, "--duration %llu s reached", (unsigned long long)o->duration);
            status = o->until_seq || o->download_manifest ? 1 : 0;
            break;
        }
        if (now - last_progress >= 5000) {
            last_progress = now;
            fleet_log(f, "t=%llus registered %u, installing %u, settled %u of %u on line, off line %u, installs %llu ok %llu failed, errors %llu",
                      (unsigned long long)((now - f->start_ms) / 1000), registered, busy, settled, online,
                      dark, (unsigned long long)f->installs_ok, (unsigned long long)f->installs_failed,
                      (unsigned long long)f->errors);
        }
        rc = httpc_multi_run(f->multi, 20, &err);
        if (rc != SECUP_OK) {
            fleet_log(f, "%s [%s]", err.msg, secup_rc_name(rc));
            status = 4;
            break;
        }
    }
    uint64_t end = fleet_now_ms();
    httpc_multi_free(f->multi);
    if (o->json) {
        int s = write_summary(f, end);
        if (s && !status)
            status = s;
    }
    for (uint32_t i = 0; i < o->devices; i++)
        dev_free(&f->devs[i]);
    free(f->devs);
    for (int i = 0; i < STEP_COUNT; i++)
        free(f->l_step[i].v);
    free(f->l_update.v);
    free(f->l_download.v);
    secup_trust_free(f->trust);
    secup_key_free(f->tracker_key);
    secup_file_free(f->comp_src, f->comp_src_len);
    secup_wipe(f->enrol_token, sizeof(f->enrol_token));
    secup_wipe(f->server_token, sizeof(f->server_token));
    return status;
}
