/* Fuzz target: the agent's configuration file (programs/agent/config.c).
 *
 * The input is configuration text, parsed as if read from /etc/secup/device.json.
 * Invariants: a refusal carries its code and message and leaves the configuration zeroed;
 * an accepted one stays inside its bounds (counts, names, argv, paths absolute, anchors
 * naming only known components), and parsing the same text twice gives the same result. */
/* THREAT: P8 */
#include <string.h>

#include "agent.h"
#include "fuzz_common.h"

static bool is_short_name(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == 0 || n == cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static void check_accepted(const struct agent_config *cfg)
{
    if (cfg->n_components == 0 || cfg->n_components > AGENT_MAX_COMPONENTS)
        fuzz_common_fail("%u components accepted", cfg->n_components);
    if (cfg->n_anchors == 0 || cfg->n_anchors > AGENT_MAX_ANCHORS)
        fuzz_common_fail("%u trust anchors accepted", cfg->n_anchors);
    if (cfg->n_keks > AGENT_MAX_KEKS)
        fuzz_common_fail("%u key-encryption keys accepted", cfg->n_keks);
    if (cfg->boot_attempts < 1 || cfg->boot_attempts > 100 || cfg->health_timeout < 1 ||
        cfg->health_timeout > 3600 || cfg->max_envelope < 1024)
        fuzz_common_fail("a number out of its range was accepted");
    if (cfg->state_dir[0] != '/' || cfg->boot_path[0] != '/')
        fuzz_common_fail("a path was not resolved against the configuration's directory");
    uint32_t all = (UINT32_C(1) << cfg->n_components) - 1;
    for (uint32_t i = 0; i < cfg->n_components; i++) {
        const struct agent_component *c = &cfg->components[i];
        if (!is_short_name(c->name, sizeof(c->name)))
            fuzz_common_fail("component name '%.64s' accepted", c->name);
        if (agent_is_trust_component(&c->id.id))
            fuzz_common_fail("the reserved trust-anchor identifier was accepted for a component");
        if (agent_config_find_component(cfg, &c->id.id) != (int)i)
            fuzz_common_fail("component identifiers are not unique");
        if (strcmp(c->slot_path[0], c->slot_path[1]) == 0 || c->slot_path[0][0] != '/')
            fuzz_common_fail("slot paths of %s accepted", c->name);
    }
    for (uint32_t i = 0; i < cfg->n_anchors; i++) {
        const struct agent_anchor *a = &cfg->anchors[i];
        if (!is_short_name(a->name, sizeof(a->name)) || (a->components & ~all) || a->pem ||
            a->retired || a->key_path[0] != '/')
            fuzz_common_fail("trust anchor %u accepted out of bounds", i);
        for (uint32_t k = 0; k < i; k++) {
            if (strcmp(cfg->anchors[k].name, a->name) == 0)
                fuzz_common_fail("trust anchor '%s' twice", a->name);
        }
    }
    for (uint32_t i = 0; i < cfg->n_keks; i++) {
        size_t n = strnlen(cfg->keks[i].kid, sizeof(cfg->keks[i].kid));
        if (n == 0 || n == sizeof(cfg->keks[i].kid) || cfg->keks[i].key_path[0] != '/')
            fuzz_common_fail("key-encryption key %u accepted out of bounds", i);
    }
    size_t argc = 0;
    while (argc <= AGENT_MAX_ARGV && cfg->health_argv[argc])
        argc++;
    if (argc > AGENT_MAX_ARGV)
        fuzz_common_fail("health-check argv is not terminated");
    for (size_t i = 0; i < argc; i++) {
        const char *p = cfg->health_argv[i];
        if (p < cfg->health_storage || p >= cfg->health_storage + sizeof(cfg->health_storage))
            fuzz_common_fail("health-check argument %zu points outside its storage", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct agent_config cfg;
    static struct agent_config again;
    static const struct agent_config zero;
    struct secup_err err;
    const char *base = "/etc/secup/device.json";
    secup_rc rc = agent_config_parse(&cfg, (const char *)data, size, base, &err);
    if (rc != SECUP_OK) {
        fuzz_common_check_failure(rc, &err, "agent_config_parse");
        if (memcmp(&cfg, &zero, sizeof(cfg)) != 0)
            fuzz_common_fail("a refused configuration was left behind");
        return 0;
    }
    check_accepted(&cfg);
    if (agent_config_parse(&again, (const char *)data, size, base, &err) != SECUP_OK)
        fuzz_common_fail("the same configuration was refused the second time: %s", err.msg);
    if (again.n_components != cfg.n_components || again.n_anchors != cfg.n_anchors ||
        strcmp(again.device_id, cfg.device_id) != 0 ||
        memcmp(again.vendor_id, cfg.vendor_id, 16) != 0 || memcmp(again.class_id, cfg.class_id, 16) != 0)
        fuzz_common_fail("parsing the same configuration twice gave different results");
    return 0;
}
