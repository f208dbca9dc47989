/* The agent's configuration: one JSON file (docs/agent.md). Every key is known, every
 * value checked, every path resolved against the file's directory. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "jconf.h"
#include "online.h"

#define MAX_CONFIG_FILE (256 * 1024)


static secup_rc bad(struct jconf *c, const char *key, const char *what)
{
    return secup_err_set(c->err, SECUP_E_JSON, "'%s': \"%s\" %s", c->file, key, what);
}



/* A path relative to the configuration file's directory becomes absolute-ish. */


static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static const char *const top_keys[] = { "device", "state-dir", "bootloader", "health-check",
                                        "boot-attempts", "limits", "trust", "components",
                                        "tracker", "server", "secure-counter", "max-failures",
                                        NULL };
static const char *const device_keys[] = { "id", "key", "keks", "vendor-domain", "class", NULL };
static const char *const kek_keys[] = { "kid", "key", NULL };
static const char *const boot_keys[] = { "type", "path", NULL };
static const char *const health_keys[] = { "command", "timeout", NULL };
static const char *const limit_keys[] = { "max-envelope", NULL };
static const char *const trust_keys[] = { "name", "key", "components", "rotate", NULL };
static const char *const comp_keys[] = { "name", "id", "slots", "slot-type", "slot-size", "staging",
                                         "threshold", NULL };

static secup_rc parse_keks(struct jconf *c, struct agent_config *cfg, json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return bad(c, "keks", "must be a non-empty array of { \"kid\", \"key\" }");
    if (json_array_size(arr) > AGENT_MAX_KEKS)
        return secup_err_set(c->err, SECUP_E_LIMIT, "'%s': more than %d key-encryption keys",
                             c->file, AGENT_MAX_KEKS);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        struct agent_kek *k = &cfg->keks[cfg->n_keks];
        if (!json_is_object(o))
            return bad(c, "keks", "entries must be objects");
        secup_rc rc = jconf_keys(c, o, "device.keks[]", kek_keys);
        if (rc == SECUP_OK)
            rc = jconf_str(c, o, "kid", k->kid, sizeof(k->kid), true);
        if (rc == SECUP_OK)
            rc = jconf_path(c, o, "key", k->key_path, sizeof(k->key_path), true);
        if (rc != SECUP_OK)
            return rc;
        for (uint32_t j = 0; j < cfg->n_keks; j++) {
            if (strcmp(cfg->keks[j].kid, k->kid) == 0)
                return secup_err_set(c->err, SECUP_E_DUPLICATE,
                                     "'%s': key-encryption key id \"%s\" twice", c->file, k->kid);
        }
        cfg->n_keks++;
    }
    return SECUP_OK;
}

static secup_rc parse_device(struct jconf *c, struct agent_config *cfg, json_t *dev)
{
    if (!json_is_object(dev))
        return bad(c, "device", "must be an object");
    secup_rc rc = jconf_keys(c, dev, "device", device_keys);
    if (rc == SECUP_OK)
        rc = jconf_str(c, dev, "id", cfg->device_id, sizeof(cfg->device_id), true);
    if (rc == SECUP_OK)
        rc = jconf_path(c, dev, "key", cfg->device_key, sizeof(cfg->device_key), false);
    if (rc == SECUP_OK && json_object_get(dev, "keks"))
        rc = parse_keks(c, cfg, json_object_get(dev, "keks"));
    if (rc == SECUP_OK)
        rc = jconf_str(c, dev, "vendor-domain", cfg->vendor_domain, sizeof(cfg->vendor_domain), true);
    if (rc == SECUP_OK)
        rc = jconf_str(c, dev, "class", cfg->class_name, sizeof(cfg->class_name), true);
    if (rc == SECUP_OK)
        rc = secup_vendor_id(cfg->vendor_domain, cfg->vendor_id, c->err);
    if (rc == SECUP_OK)
        rc = secup_class_id(cfg->vendor_id, cfg->class_name, cfg->class_id, c->err);
    return rc;
}

static secup_rc parse_components(struct jconf *c, struct agent_config *cfg, json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return bad(c, "components", "must be a non-empty array");
    if (json_array_size(arr) > AGENT_MAX_COMPONENTS)
        return secup_err_set(c->err, SECUP_E_LIMIT_COMPONENTS, "'%s': more than %d components",
                             c->file, AGENT_MAX_COMPONENTS);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        struct agent_component *comp = &cfg->components[cfg->n_components];
        char id[512] = "";
        if (!json_is_object(o))
            return bad(c, "components", "entries must be objects");
        secup_rc rc = jconf_keys(c, o, "components[]", comp_keys);
        if (rc == SECUP_OK)
            rc = jconf_str(c, o, "name", comp->name, sizeof(comp->name), true);
        if (rc == SECUP_OK && !valid_name(comp->name))
            rc = secup_err_set(c->err, SECUP_E_VALUE,
                               "'%s': component name \"%s\" may hold only letters, digits, '_' and '-'",
                               c->file, comp->name);
        if (rc == SECUP_OK)
            rc = jconf_str(c, o, "id", id, sizeof(id), false);
        if (rc == SECUP_OK) {
            struct secup_err ie;
            rc = compid_parse(id[0] ? id : comp->name, &comp->id, &ie);
            /* bad input in a file, not a caller's mistake: never the 1xx band */
            if (rc != SECUP_OK)
                rc = secup_err_set(c->err, rc == SECUP_E_ARG ? SECUP_E_VALUE : rc,
                                   "'%s': component \"%s\": \"id\": %s", c->file, comp->name, ie.msg);
        }
        if (rc != SECUP_OK)
            return rc;
        if (agent_is_trust_component(&comp->id.id))
            return secup_err_set(c->err, SECUP_E_VALUE,
                                 "'%s': component \"%s\": the identifier \"%s\" is reserved for trust-anchor updates",
                                 c->file, comp->name, AGENT_TRUST_COMPONENT);
        json_t *slots = json_object_get(o, "slots");
        if (!json_is_array(slots) || json_array_size(slots) != 2)
            return secup_err_set(c->err, SECUP_E_JSON, "'%s': component \"%s\": \"slots\" must list two paths (A and B)",
                                 c->file, comp->name);
        for (size_t s = 0; s < 2; s++) {
            json_t *holder = json_pack("{s:O}", "slot", json_array_get(slots, s));
            rc = jconf_path(c, holder, "slot", comp->slot_path[s], sizeof(comp->slot_path[s]), true);
            json_decref(holder);
            if (rc != SECUP_OK)
                return rc;
        }
        if (strcmp(comp->slot_path[0], comp->slot_path[1]) == 0)
            return secup_err_set(c->err, SECUP_E_VALUE, "'%s': component \"%s\": slots A and B are the same path",
                                 c->file, comp->name);
        memcpy(comp->slot_type, "file", 5);
        rc = jconf_str(c, o, "slot-type", comp->slot_type, sizeof(comp->slot_type), false);
        if (rc == SECUP_OK && strcmp(comp->slot_type, "file") != 0 &&
            strcmp(comp->slot_type, "blockdev") != 0)
            rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': \"slot-type\" must be \"file\" or \"blockdev\"",
                               c->file);
        if (rc == SECUP_OK)
            rc = jconf_uint(c, o, "slot-size", 1, UINT64_C(1) << 40, &comp->slot_size,
                          strcmp(comp->slot_type, "file") == 0);
        if (rc != SECUP_OK)
            return rc;
        json_t *staging = json_object_get(o, "staging");
        if (staging && !json_is_boolean(staging))
            return secup_err_set(c->err, SECUP_E_VALUE, "'%s': component \"%s\": \"staging\" must be true or false",
                                 c->file, comp->name);
        comp->staging = json_is_true(staging);
        uint64_t threshold = 1;
        rc = jconf_uint(c, o, "threshold", 1, AGENT_MAX_ALL_ANCHORS, &threshold, false);
        if (rc != SECUP_OK)
            return rc;
        comp->threshold = (uint32_t)threshold;
        for (uint32_t k = 0; k < cfg->n_components; k++) {
            if (strcmp(cfg->components[k].name, comp->name) == 0 ||
                secup_component_id_equal(&cfg->components[k].id.id, &comp->id.id))
                return secup_err_set(c->err, SECUP_E_DUPLICATE, "'%s': component \"%s\" twice",
                                     c->file, comp->name);
        }
        cfg->n_components++;
    }
    return SECUP_OK;
}

static secup_rc parse_trust(struct jconf *c, struct agent_config *cfg, json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return bad(c, "trust", "must be a non-empty array of trust anchors");
    if (json_array_size(arr) > AGENT_MAX_ANCHORS)
        return secup_err_set(c->err, SECUP_E_LIMIT, "'%s': more than %d trust anchors", c->file,
                             AGENT_MAX_ANCHORS);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        struct agent_anchor *a = &cfg->anchors[cfg->n_anchors];
        if (!json_is_object(o))
            return bad(c, "trust", "entries must be objects");
        secup_rc rc = jconf_keys(c, o, "trust[]", trust_keys);
        if (rc == SECUP_OK)
            rc = jconf_str(c, o, "name", a->name, sizeof(a->name), true);
        if (rc == SECUP_OK && !valid_name(a->name))
            rc = secup_err_set(c->err, SECUP_E_VALUE, "'%s': trust anchor name \"%s\" may hold only letters, digits, '_' and '-'",
                               c->file, a->name);
        if (rc == SECUP_OK)
            rc = jconf_path(c, o, "key", a->key_path, sizeof(a->key_path), true);
        if (rc != SECUP_OK)
            return rc;
        json_t *rot = json_object_get(o, "rotate");
        if (rot && !json_is_boolean(rot))
            return bad(c, "rotate", "must be true or false");
        a->rotate = json_is_true(rot);
        json_t *comps = json_object_get(o, "components");
        if (!comps) {
            a->components = (UINT32_C(1) << cfg->n_components) - 1; /* all */
        } else {
            if (!json_is_array(comps))
                return bad(c, "components", "of a trust anchor must be an array of component names");
            size_t k;
            json_t *name;
            json_array_foreach(comps, k, name) {
                int found = -1;
                for (uint32_t j = 0; json_is_string(name) && j < cfg->n_components; j++) {
                    if (strcmp(cfg->components[j].name, json_string_value(name)) == 0)
                        found = (int)j;
                }
                if (found < 0)
                    return secup_err_set(c->err, SECUP_E_VALUE, "'%s': trust anchor \"%s\" names an unknown component",
                                         c->file, a->name);
                a->components |= UINT32_C(1) << found;
            }
        }
        for (uint32_t k = 0; k < cfg->n_anchors; k++) {
            if (strcmp(cfg->anchors[k].name, a->name) == 0)
                return secup_err_set(c->err, SECUP_E_DUPLICATE, "'%s': trust anchor \"%s\" twice",
                                     c->file, a->name);
        }
        cfg->n_anchors++;
    }
    /* A threshold no set of configured anchors can reach would lock the component. */
    for (uint32_t k = 0; k < cfg->n_components; k++) {
        uint32_t n = 0;
        for (uint32_t j = 0; j < cfg->n_anchors; j++)
            n += (cfg->anchors[j].components >> k) & 1u;
        if (cfg->components[k].threshold > n)
            return secup_err_set(c->err, SECUP_E_VALUE,
                                 "'%s': component \"%s\": \"threshold\" %u exceeds the %u trust anchors that may sign for it",
                                 c->file, cfg->components[k].name, cfg->components[k].threshold, n);
    }
    return SECUP_OK;
}

static secup_rc parse_health(struct jconf *c, struct agent_config *cfg, json_t *h)
{
    if (!json_is_object(h))
        return bad(c, "health-check", "must be an object");
    secup_rc rc = jconf_keys(c, h, "health-check", health_keys);
    if (rc != SECUP_OK)
        return rc;
    json_t *cmd = json_object_get(h, "command");
    if (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > AGENT_MAX_ARGV)
        return secup_err_set(c->err, SECUP_E_JSON,
                             "'%s': \"command\" must be an array of 1 to %d strings (program and arguments)",
                             c->file, AGENT_MAX_ARGV);
    size_t used = 0;
    size_t i;
    json_t *arg;
    json_array_foreach(cmd, i, arg) {
        if (!json_is_string(arg))
            return bad(c, "command", "entries must be strings");
        size_t n = strlen(json_string_value(arg));
        if (used + n + 1 > sizeof(cfg->health_storage))
            return bad(c, "command", "is too long");
        memcpy(cfg->health_storage + used, json_string_value(arg), n + 1);
        cfg->health_argv[i] = cfg->health_storage + used;
        used += n + 1;
    }
    cfg->health_argv[json_array_size(cmd)] = NULL;
    uint64_t t = cfg->health_timeout;
    rc = jconf_uint(c, h, "timeout", 1, 3600, &t, false);
    cfg->health_timeout = (uint32_t)t;
    return rc;
}

/* Whether path is dir or inside it (by name: the paths are as configured, resolved
 * against the configuration's directory). */
static bool path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Where images go is the configuration's alone (THREATS.md C4): a slot is no other
 * component's slot, nor the bootloader's record, a key or the secure counter; the secure counter is outside the state directory (a restored copy of the
 * directory must not bring an old counter back with it). */
static secup_rc check_locations(struct jconf *c, const struct agent_config *cfg)
{
    for (uint32_t i = 0; i < cfg->n_components; i++) {
        const struct agent_component *ci = &cfg->components[i];
        for (int s = 0; s < 2; s++) {
            const char *p = ci->slot_path[s];
            for (uint32_t j = i + 1; j < cfg->n_components; j++) {
                if (strcmp(p, cfg->components[j].slot_path[0]) == 0 ||
                    strcmp(p, cfg->components[j].slot_path[1]) == 0)
                    return secup_err_set(c->err, SECUP_E_VALUE,
                                         "'%s': components \"%s\" and \"%s\" share the slot '%s'",
                                         c->file, ci->name, cfg->components[j].name, p);
            }
            const char *what = NULL;
            if (strcmp(p, cfg->boot_path) == 0)
                what = "the bootloader's record";
            else if (cfg->device_key[0] && strcmp(p, cfg->device_key) == 0)
                what = "the device key";
            else if (cfg->counter_path[0] && strcmp(p, cfg->counter_path) == 0)
                what = "the secure counter";
            for (uint32_t k = 0; !what && k < cfg->n_anchors; k++) {
                if (strcmp(p, cfg->anchors[k].key_path) == 0)
                    what = "a trust anchor's key";
            }
            for (uint32_t k = 0; !what && k < cfg->n_keks; k++) {
                if (strcmp(p, cfg->keks[k].key_path) == 0)
                    what = "a key-encryption key";
            }
            if (what)
                return secup_err_set(c->err, SECUP_E_VALUE, "'%s': slot %c of component \"%s\" ('%s') is %s",
                                     c->file, 'A' + s, ci->name, p, what);
        }
    }
    if (cfg->counter_path[0] && path_within(cfg->counter_path, cfg->state_dir))
        return secup_err_set(c->err, SECUP_E_VALUE,
                             "'%s': \"secure-counter\" '%s' is inside the state directory; it must be "
                             "kept apart from the state it guards", c->file, cfg->counter_path);
    return SECUP_OK;
}

secup_rc agent_config_parse(struct agent_config *cfg, const char *text, size_t len,
                            const char *base, struct secup_err *err)
{
    struct jconf c = { base, err };
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->path, sizeof(cfg->path), "%s", base);
    cfg->boot_attempts = 3;
    cfg->health_timeout = 60;
    cfg->max_envelope = 1024 * 1024;
    cfg->max_failures = 3;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        memset(cfg, 0, sizeof(*cfg));
        return secup_err_set(err, SECUP_E_JSON, "'%s' line %d column %d: %s", base, je.line,
                             je.column, je.text);
    }
    secup_rc rc = SECUP_OK;
    if (!json_is_object(root)) {
        rc = secup_err_set(err, SECUP_E_JSON, "'%s': the top level must be an object", base);
        goto out;
    }
    rc = jconf_keys(&c, root, "top level", top_keys);
    if (rc == SECUP_OK)
        rc = parse_device(&c, cfg, json_object_get(root, "device"));
    if (rc == SECUP_OK)
        rc = jconf_path(&c, root, "state-dir", cfg->state_dir, sizeof(cfg->state_dir), true);
    if (rc != SECUP_OK)
        goto out;
    json_t *boot = json_object_get(root, "bootloader");
    if (!json_is_object(boot)) {
        rc = bad(&c, "bootloader", "must be an object with \"type\" and \"path\"");
        goto out;
    }
    rc = jconf_keys(&c, boot, "bootloader", boot_keys);
    if (rc == SECUP_OK)
        rc = jconf_str(&c, boot, "type", cfg->boot_type, sizeof(cfg->boot_type), true);
    if (rc == SECUP_OK && strcmp(cfg->boot_type, "statefile") != 0 &&
        strcmp(cfg->boot_type, "uboot") != 0 && strcmp(cfg->boot_type, "grub") != 0)
        rc = secup_err_set(err, SECUP_E_VALUE,
                           "'%s': bootloader type \"%s\" is not statefile, uboot or grub", base,
                           cfg->boot_type);
    if (rc == SECUP_OK)
        rc = jconf_path(&c, boot, "path", cfg->boot_path, sizeof(cfg->boot_path), true);
    json_t *h = json_object_get(root, "health-check");
    if (rc == SECUP_OK && h)
        rc = parse_health(&c, cfg, h);
    uint64_t attempts = cfg->boot_attempts;
    if (rc == SECUP_OK)
        rc = jconf_uint(&c, root, "boot-attempts", 1, 100, &attempts, false);
    cfg->boot_attempts = (uint32_t)attempts;
    json_t *lim = json_object_get(root, "limits");
    if (rc == SECUP_OK && lim) {
        if (!json_is_object(lim))
            rc = bad(&c, "limits", "must be an object");
        if (rc == SECUP_OK)
            rc = jconf_keys(&c, lim, "limits", limit_keys);
        if (rc == SECUP_OK)
            rc = jconf_uint(&c, lim, "max-envelope", 1024, UINT64_C(64) << 20, &cfg->max_envelope, false);
    }
    if (rc == SECUP_OK)
        rc = parse_components(&c, cfg, json_object_get(root, "components"));
    if (rc == SECUP_OK)
        rc = parse_trust(&c, cfg, json_object_get(root, "trust"));
    if (rc == SECUP_OK)
        rc = online_config_parse(&c, &cfg->online, json_object_get(root, "tracker"),
                                 json_object_get(root, "server"));
    if (rc == SECUP_OK)
        rc = jconf_path(&c, root, "secure-counter", cfg->counter_path, sizeof(cfg->counter_path), false);
    uint64_t failures = cfg->max_failures;
    if (rc == SECUP_OK)
        rc = jconf_uint(&c, root, "max-failures", 1, 1000, &failures, false);
    cfg->max_failures = (uint32_t)failures;
    if (rc == SECUP_OK)
        rc = check_locations(&c, cfg);
out:
    json_decref(root);
    if (rc != SECUP_OK)
        memset(cfg, 0, sizeof(*cfg));
    return rc;
}

secup_rc agent_config_load(struct agent_config *cfg, const char *path, struct secup_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    secup_rc rc = secup_file_read(path, MAX_CONFIG_FILE, &buf, &len, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "configuration");
        return rc;
    }
    rc = agent_config_parse(cfg, (const char *)buf, len, path, err);
    secup_file_free(buf, len);
    return rc;
}

bool agent_is_trust_component(const struct secup_component_id *id)
{
    static const char part0[] = "secup";
    static const char part1[] = "trust-anchors";
    return id->n_parts == 2 && id->parts[0].len == sizeof(part0) - 1 &&
           memcmp(id->parts[0].ptr, part0, sizeof(part0) - 1) == 0 &&
           id->parts[1].len == sizeof(part1) - 1 &&
           memcmp(id->parts[1].ptr, part1, sizeof(part1) - 1) == 0;
}

int agent_config_find_component(const struct agent_config *cfg,
                                const struct secup_component_id *id)
{
    for (uint32_t i = 0; i < cfg->n_components; i++) {
        if (secup_component_id_equal(&cfg->components[i].id.id, id))
            return (int)i;
    }
    return -1;
}
