/* secup-agent: the Firmware Consumer's command line. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "online.h"
#include "run.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: secup-agent --config FILE <command> [options]\n\n"
            "The Firmware Consumer of secup: installs only what is authentic, newer and meant\n"
            "for this device, into the inactive slot, for one trial boot.\n\n"
            "commands:\n"
            "  install ENVELOPE [--payload [COMPONENT=]FILE ...]   local (offline) install\n"
            "  boot        the boot stage: verify, count the trial, health check, confirm or fall back\n"
            "  confirm     make the slots on trial permanent (raises the anti-rollback floors)\n"
            "  rollback    abandon the trial and return to the previous slot\n"
            "  status [--json]   what runs, what is on trial, the last result, safe mode\n"
            "  report [--out FILE]   write the signed status report (default <state-dir>/status.cose)\n"
            "  check-config      load the configuration and report what is wrong\n"
            "  run [--once]      online: register, report, poll the tracker for signed commands, act\n\n"
            "Exit status: 0 ok, 1 refused, 2 usage, 3 malformed input, 4 environment.\n"
            "The configuration format is described in docs/agent.md.\n");
}

static json_t *slot_json(const struct state_slot *s)
{
    char hex[65];
    secup_hex_encode(secup_bytes_of(s->digest, 32), hex, sizeof(hex));
    if (!s->valid)
        return json_pack("{s:b}", "valid", 0);
    return json_pack("{s:b, s:I, s:s, s:s, s:I, s:s}", "valid", 1, "seq", (json_int_t)s->seq,
                     "version", s->version, "digest", hex, "size", (json_int_t)s->size, "anchor",
                     s->anchor);
}

static int cmd_status(struct agent *a, bool as_json)
{
    json_t *comps = json_array();
    struct secup_err err;
    for (uint32_t c = 0; c < a->cfg.n_components; c++) {
        struct boot_state bs = { 0, BOOT_NO_SLOT, 0 };
        if (a->boot.ops->get(&a->boot, a->cfg.components[c].name, &bs, &err) != SECUP_OK)
            return cli_fail("status", &err);
        const struct state_component *sc = &a->st.comp[c];
        json_t *floors = json_object();
        for (uint32_t f = 0; f < sc->n_floors; f++)
            json_object_set_new(floors, sc->floors[f].anchor, json_integer((json_int_t)sc->floors[f].seq));
        const struct state_slot *run = &sc->slot[bs.active];
        json_array_append_new(
            comps, json_pack("{s:s, s:s, s:I, s:s, s:o, s:I, s:[o,o], s:o}", "name",
                             a->cfg.components[c].name, "active", bs.active ? "B" : "A", "running-seq",
                             (json_int_t)(run->valid ? run->seq : 0), "running-version",
                             run->valid ? run->version : "", "trial",
                             bs.trial == BOOT_NO_SLOT ? json_null() : json_string(bs.trial ? "B" : "A"),
                             "attempts-left", (json_int_t)bs.attempts, "slots", slot_json(&sc->slot[0]),
                             slot_json(&sc->slot[1]), "floors", floors));
    }
    json_t *trust = json_array();
    for (uint32_t i = 0; i < a->n_anchors; i++) {
        const struct agent_anchor *an = &a->anchors[i];
        json_t *names = json_array();
        for (uint32_t c = 0; c < a->cfg.n_components; c++) {
            if (an->components & (UINT32_C(1) << c))
                json_array_append_new(names, json_string(a->cfg.components[c].name));
        }
        json_array_append_new(trust, json_pack("{s:s, s:s, s:b, s:b, s:o}", "name", an->name, "origin",
                                               an->pem ? "rotation" : "configuration", "retired",
                                               an->retired, "rotate", an->rotate, "components", names));
    }
    json_t *root = json_pack("{s:s, s:b, s:s, s:{s:s, s:s, s:I, s:I, s:s}, s:o, s:o}", "device",
                             a->cfg.device_id, "safe-mode", a->st.safe_mode, "safe-reason",
                             a->st.safe_reason, "last-result", "code",
                             a->st.last.code[0] ? a->st.last.code : "NONE", "reason", a->st.last.reason,
                             "time", (json_int_t)a->st.last.time, "seq", (json_int_t)a->st.last.seq,
                             "manifest-digest", a->st.last.manifest_digest, "components", comps,
                             "trust", trust);
    /* secure time and freshness (THREATS.md T5, U3): stale once the newest freshness
     * statement has expired; never shown as up to date then */
    bool behind = false;
    uint64_t t = agent_secure_now(a, &behind);
    bool stale = a->st.fresh_until && t > a->st.fresh_until;
    json_object_set_new(root, "freshness",
                        json_pack("{s:I, s:I, s:I, s:s, s:b}", "secure-time", (json_int_t)t,
                                  "time-floor", (json_int_t)a->st.time_floor, "fresh-until",
                                  (json_int_t)a->st.fresh_until, "state",
                                  stale ? "STALE" : a->st.fresh_until ? "fresh" : "unknown",
                                  "clock-behind", behind));
    if (as_json) {
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else {
        printf("device %s%s\n", a->cfg.device_id, a->st.safe_mode ? "  ** SAFE MODE **" : "");
        if (a->st.safe_mode)
            printf("  safe mode: %s\n", a->st.safe_reason);
        printf("last result: %s%s%s (sequence %llu)\n", a->st.last.code[0] ? a->st.last.code : "none",
               a->st.last.reason[0] ? ": " : "", a->st.last.reason,
               (unsigned long long)a->st.last.seq);
        if (stale)
            printf("freshness: STALE: the tracker's newest statement expired at %llu (secure time %llu); "
                   "the device may lack updates it has not been told of\n",
                   (unsigned long long)a->st.fresh_until, (unsigned long long)t);
        else if (a->st.fresh_until)
            printf("freshness: fresh until %llu (secure time %llu)\n",
                   (unsigned long long)a->st.fresh_until, (unsigned long long)t);
        else
            printf("freshness: unknown (no statement from a tracker yet)\n");
        if (behind)
            printf("clock: the system clock is behind the secure-time floor %llu (set back?)\n",
                   (unsigned long long)a->st.time_floor);
        printf("trust anchors:");
        for (uint32_t i = 0; i < a->n_anchors; i++)
            printf(" %s%s%s", a->anchors[i].name, a->anchors[i].retired ? " (retired)" : "",
                   a->anchors[i].rotate && !a->anchors[i].retired ? " (rotates)" : "");
        printf("%s\n", a->trust_broken ? "  ** TRUST STORE DAMAGED **" : "");
        size_t i;
        json_t *c;
        json_array_foreach(comps, i, c) {
            json_t *trial = json_object_get(c, "trial");
            printf("%-12s runs slot %s: sequence %lld, version %s; trial %s (%lld attempts left)\n",
                   json_string_value(json_object_get(c, "name")),
                   json_string_value(json_object_get(c, "active")),
                   (long long)json_integer_value(json_object_get(c, "running-seq")),
                   json_string_value(json_object_get(c, "running-version"))[0]
                       ? json_string_value(json_object_get(c, "running-version"))
                       : "-",
                   json_is_null(trial) ? "none" : json_string_value(trial),
                   (long long)json_integer_value(json_object_get(c, "attempts-left")));
            for (int s = 0; s < 2; s++) {
                json_t *sl = json_array_get(json_object_get(c, "slots"), (size_t)s);
                if (!json_is_true(json_object_get(sl, "valid"))) {
                    printf("  slot %c: no verified image\n", 'A' + s);
                    continue;
                }
                printf("  slot %c: sequence %lld %s sha256 %.16s... %lld bytes, signed by %s\n", 'A' + s,
                       (long long)json_integer_value(json_object_get(sl, "seq")),
                       json_string_value(json_object_get(sl, "version")),
                       json_string_value(json_object_get(sl, "digest")),
                       (long long)json_integer_value(json_object_get(sl, "size")),
                       json_string_value(json_object_get(sl, "anchor")));
            }
        }
    }
    json_decref(root);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "payload", required_argument, NULL, 'p' },
        { "json", no_argument, NULL, 'j' },
        { "out", required_argument, NULL, 'o' },
        { "once", no_argument, NULL, '1' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    const char *payloads[AGENT_MAX_COMPONENTS];
    size_t n_payloads = 0;
    bool as_json = false;
    const char *out = NULL;
    bool once = false;
    int c;
    cli_init("secup-agent");
    while ((c = getopt_long(argc, argv, "c:p:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'p':
            if (n_payloads >= AGENT_MAX_COMPONENTS)
                return cli_usage("install", "too many --payload options");
            payloads[n_payloads++] = optarg;
            break;
        case 'j': as_json = true; break;
        case 'o': out = optarg; break;
        case '1': once = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("secup-agent %s\n", SECUP_VERSION_STRING); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    if (!config)
        return cli_usage(cmd, "--config FILE is required");
    static struct agent a;
    struct secup_err err;
    secup_err_clear(&err);
    if (agent_open(&a, config, &err) != SECUP_OK)
        return cli_fail(cmd, &err);
    if (a.state_note[0])
        cli_note("%s", a.state_note);
    int status = 0;
    secup_rc rc = SECUP_OK;
    if (strcmp(cmd, "install") == 0 || strcmp(cmd, "boot") == 0 || strcmp(cmd, "confirm") == 0 ||
        strcmp(cmd, "rollback") == 0 || strcmp(cmd, "report") == 0)
        agent_remove_temps(&a);
    if (strcmp(cmd, "check-config") == 0) {
        printf("%s: OK: device %s, %u components, %u trust anchors, bootloader %s\n", config,
               a.cfg.device_id, a.cfg.n_components, a.cfg.n_anchors, a.cfg.boot_type);
    } else if (strcmp(cmd, "run") == 0) {
        status = agent_online_run(&a, config, once);
    } else if (strcmp(cmd, "status") == 0) {
        status = cmd_status(&a, as_json);
    } else if (strcmp(cmd, "report") == 0) {
        rc = agent_report(&a, out, &err);
        if (rc == SECUP_OK)
            printf("signed status report %llu written\n", (unsigned long long)a.st.report_counter);
    } else if (strcmp(cmd, "install") == 0) {
        if (argc - optind != 1) {
            agent_close(&a);
            return cli_usage(cmd, "exactly one envelope file is needed");
        }
        rc = agent_install(&a, argv[optind], payloads, n_payloads, &err);
        if (rc == SECUP_OK && a.trust_updated)
            printf("%s (sequence %llu)\n", a.st.last.reason, (unsigned long long)a.st.last.seq);
        else if (rc == SECUP_OK)
            printf("installed sequence %llu; it runs on trial at the next boot\n",
                   (unsigned long long)a.st.last.seq);
    } else if (strcmp(cmd, "boot") == 0) {
        rc = agent_boot(&a, &err);
        if (rc == SECUP_OK)
            printf("boot: %s\n", a.st.last.reason[0] ? a.st.last.reason : "ok");
    } else if (strcmp(cmd, "confirm") == 0) {
        rc = agent_confirm(&a, &err);
        if (rc == SECUP_OK)
            printf("confirmed\n");
    } else if (strcmp(cmd, "rollback") == 0) {
        rc = agent_rollback(&a, "rolled back by request", &err);
        if (rc == SECUP_OK)
            printf("rolled back\n");
    } else {
        agent_close(&a);
        return cli_usage(cmd, "unknown command (see secup-agent --help)");
    }
    if (rc != SECUP_OK)
        status = cli_fail(cmd, &err);
    /* After every procedure the device's signed report is refreshed for its tracker; a
     * device without a signing key simply has none. */
    bool changed = strcmp(cmd, "install") == 0 || strcmp(cmd, "boot") == 0 ||
                   strcmp(cmd, "confirm") == 0 || strcmp(cmd, "rollback") == 0;
    if (changed && a.cfg.device_key[0]) {
        struct secup_err rerr;
        secup_rc rr = agent_report(&a, NULL, &rerr);
        if (rr != SECUP_OK && rr != SECUP_E_UNSUPPORTED)
            cli_note("status report not written: %s", rerr.msg);
    }
    agent_close(&a);
    return status;
}
