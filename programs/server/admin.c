/* secup-server admin DIR ...: the administrator's commands, run against the store
 * directly (docs/server.md). Every command has --json. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cache.h"
#include "cli.h"
#include "compid.h"
#include "reqparse.h"
#include "token.h"
#include "secup/file.h"
#include "secup/policy.h"

struct opts {
    bool json;
    const char *key;
    const char *vendor_domain;
    const char *vendor;
    const char *class_name;
    const char *class_id;
    const char *component;
    const char *region;
    const char *cert_sha256;
    const char *reason;
    const char *kind;
    const char *image;
    const char *device;
    const char *allow_regions;
    const char *deny_regions;
    const char *allow_nets;
    const char *deny_nets;
    bool all;
    uint64_t limit;
};

static void usage(void)
{
    printf(
        "usage: secup-server admin DIR <object> <verb> [options] [--json]\n\n"
        "  author add NAME --key PUB.pem          register an Author; prints its token\n"
        "  author grant|revoke NAME (--vendor-domain D | --vendor HEX)\n"
        "               [--class NAME | --class-id HEX | --class '*'] [--component ID|'*']\n"
        "  author ban|unban NAME\n"
        "  device add NAME (--vendor-domain D | --vendor HEX) (--class NAME | --class-id HEX)\n"
        "               [--region R] [--cert-sha256 HEX]\n"
        "                                         register a consumer; prints its token\n"
        "  tracker add NAME [--cert-sha256 HEX]   register a tracker; prints its token\n"
        "               (--cert-sha256: the client certificate that also authenticates it\n"
        "                under mutual TLS: openssl x509 -outform DER | sha256sum)\n"
        "  principal list [--kind author|device|tracker]\n"
        "  principal remove NAME\n"
        "  image list [--all] | show ID | quarantine ID [--reason TEXT] | release ID | remove ID\n"
        "  image policy ID [--allow-regions a,b] [--deny-regions a,b] [--allow-nets CIDR,..]\n"
        "               [--deny-nets CIDR,..]       location policy ('' clears a list)\n"
        "  history [--image ID] [--device NAME]   downloads\n"
        "  obsolete                               devices whose newest download is superseded\n"
        "  subscription list | remove ID\n"
        "  events [--limit N]                     the audit log\n");
}

static int fail(const char *cmd, struct secup_err *err)
{
    return cli_fail(cmd, err);
}

static void print_json(const json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s) {
        puts(s);
        free(s);
    }
}

/* vendor and class from --vendor-domain/--vendor and --class/--class-id, as hex. */
static secup_rc ids(const struct opts *o, bool class_wildcard_ok, char vendor[33], char cls[33],
                    struct secup_err *err)
{
    uint8_t v[16], c[16];
    size_t n = 0;
    if (o->vendor_domain) {
        secup_rc rc = secup_vendor_id(o->vendor_domain, v, err);
        if (rc != SECUP_OK)
            return rc;
    } else if (o->vendor) {
        if (!(secup_hex_decode(o->vendor, v, 16, &n) && n == 16) && !secup_uuid_parse(o->vendor, v))
            return secup_err_set(err, SECUP_E_ARG, "--vendor must be 32 hex digits or a UUID");
    } else {
        return secup_err_set(err, SECUP_E_USAGE, "give --vendor-domain or --vendor");
    }
    secup_hex_encode(secup_bytes_of(v, 16), vendor, 33);
    if (o->class_name && strcmp(o->class_name, "*") == 0) {
        if (!class_wildcard_ok)
            return secup_err_set(err, SECUP_E_USAGE, "a device has one class, not '*'");
        snprintf(cls, 33, "*");
        return SECUP_OK;
    }
    if (o->class_name) {
        secup_rc rc = secup_class_id(v, o->class_name, c, err);
        if (rc != SECUP_OK)
            return rc;
    } else if (o->class_id) {
        if (!(secup_hex_decode(o->class_id, c, 16, &n) && n == 16) && !secup_uuid_parse(o->class_id, c))
            return secup_err_set(err, SECUP_E_ARG, "--class-id must be 32 hex digits or a UUID");
    } else if (class_wildcard_ok) {
        snprintf(cls, 33, "*");
        return SECUP_OK;
    } else {
        return secup_err_set(err, SECUP_E_USAGE, "give --class or --class-id");
    }
    secup_hex_encode(secup_bytes_of(c, 16), cls, 33);
    return SECUP_OK;
}

static int print_token(const struct opts *o, const char *id, const char *kind, const char *token)
{
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "id", id, "kind", kind, "token", token);
        print_json(j);
        json_decref(j);
    } else {
        printf("%s\n", token);
        cli_note("registered %s '%s'; the token above is shown once and stored only hashed",
                 kind, id);
    }
    return 0;
}

static int add_principal(struct db *db, const struct opts *o, enum srv_kind kind,
                         const char *name)
{
    static const char *const kinds[] = { "", "author", "device", "tracker" };
    struct secup_err err;
    secup_err_clear(&err);
    if (!req_valid_name(name))
        return cli_usage("admin", "name '%s' must be 1 to %d characters of A-Z a-z 0-9 . _ -",
                         name, SRV_ID_MAX);
    struct srv_principal p;
    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "%s", name);
    p.kind = kind;
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    char *pem_text = NULL;
    secup_rc rc = SECUP_OK;
    if (kind == SRV_AUTHOR) {
        if (!o->key)
            return cli_usage("admin", "an Author needs --key PUB.pem");
        struct secup_key *k = NULL;
        rc = secup_key_load_pem(&k, o->key, &err);
        if (rc == SECUP_OK && secup_key_has_private(k))
            rc = secup_err_set(&err, SECUP_E_KEY_FORMAT,
                               "'%s' holds a private key: register the public key only", o->key);
        secup_key_free(k);
        if (rc == SECUP_OK)
            rc = secup_file_read(o->key, 64 * 1024, &pem, &pem_len, &err);
        if (rc == SECUP_OK) {
            pem_text = calloc(1, pem_len + 1);
            if (pem_text)
                memcpy(pem_text, pem, pem_len);
            else
                rc = secup_err_set(&err, SECUP_E_NOMEM, "key text");
        }
    }
    if (rc == SECUP_OK && kind == SRV_DEVICE) {
        rc = ids(o, false, p.vendor, p.class_id, &err);
        if (o->region)
            snprintf(p.region, sizeof(p.region), "%s", o->region);
    }
    char token[64], hash[SRV_HEX_ID];
    if (rc == SECUP_OK && o->cert_sha256) {
        size_t n = strlen(o->cert_sha256);
        for (size_t i = 0; i < n; i++)
            if (!((o->cert_sha256[i] >= '0' && o->cert_sha256[i] <= '9') ||
                  (o->cert_sha256[i] >= 'a' && o->cert_sha256[i] <= 'f')))
                n = 0;
        if (n != 64)
            rc = secup_err_set(&err, SECUP_E_ARG,
                               "--cert-sha256 is 64 lowercase hex digits (the SHA-256 of the DER certificate)");
    }
    if (rc == SECUP_OK)
        rc = token_new(token, &err);
    if (rc == SECUP_OK) {
        token_hash(token, hash);
        rc = store_principal_add(db, &p, hash, pem_text, o->cert_sha256, &err);
    }
    if (rc == SECUP_OK)
        rc = store_event(db, "admin", "add", name, kinds[kind], &err);
    if (pem)
        secup_file_free(pem, pem_len);
    free(pem_text);
    if (rc != SECUP_OK)
        return fail("admin", &err);
    return print_token(o, name, kinds[kind], token);
}

static int done(const struct opts *o, secup_rc rc, struct secup_err *err, const char *what)
{
    if (rc != SECUP_OK)
        return fail("admin", err);
    if (o->json) {
        json_t *j = json_pack("{s:b, s:s}", "ok", 1, "done", what);
        print_json(j);
        json_decref(j);
    } else {
        cli_note("%s", what);
    }
    return 0;
}

static int author_cmd(struct db *db, const struct opts *o, const char *verb, const char *name)
{
    struct secup_err err;
    secup_err_clear(&err);
    char msg[512];
    if (strcmp(verb, "add") == 0)
        return add_principal(db, o, SRV_AUTHOR, name);
    if (strcmp(verb, "ban") == 0 || strcmp(verb, "unban") == 0) {
        bool ban = verb[0] == 'b';
        secup_rc rc = store_set_banned(db, name, ban, &err);
        if (rc == SECUP_OK)
            rc = store_event(db, "admin", verb, name, NULL, &err);
        snprintf(msg, sizeof(msg), "'%s' %s", name, ban ? "banned" : "no longer banned");
        return done(o, rc, &err, msg);
    }
    if (strcmp(verb, "grant") == 0 || strcmp(verb, "revoke") == 0) {
        char vendor[33], cls[33], comp[256];
        struct srv_principal p;
        secup_rc rc = store_principal_get(db, name, &p, &err);
        if (rc == SECUP_OK && p.kind != SRV_AUTHOR)
            rc = secup_err_set(&err, SECUP_E_ARG, "'%s' is not an Author", name);
        if (rc == SECUP_OK)
            rc = ids(o, true, vendor, cls, &err);
        if (rc == SECUP_OK) {
            const char *c = o->component ? o->component : "*";
            if (strcmp(c, "*") == 0) {
                snprintf(comp, sizeof(comp), "*");
            } else {
                struct text_component_id t;
                rc = compid_parse(c, &t, &err);
                if (rc == SECUP_OK && !compid_format(&t.id, comp, sizeof(comp)))
                    rc = secup_err_set(&err, SECUP_E_LIMIT_BYTES, "component too long");
            }
        }
        bool add = verb[0] == 'g';
        if (rc == SECUP_OK)
            rc = store_grant(db, name, vendor, cls, comp, add, &err);
        snprintf(msg, sizeof(msg), "%s vendor %s class %s component %s", add ? "granted" : "revoked",
                 vendor, cls, comp);
        if (rc == SECUP_OK)
            rc = store_event(db, "admin", verb, name, msg, &err);
        return done(o, rc, &err, msg);
    }
    return cli_usage("admin", "author: unknown verb '%s'", verb);
}

static void print_principals(const json_t *list)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        printf("%-24s %-8s%s", json_string_value(json_object_get(p, "id")),
               json_string_value(json_object_get(p, "kind")),
               json_is_true(json_object_get(p, "banned")) ? " BANNED" : "");
        json_t *g = json_object_get(p, "grants");
        size_t k;
        json_t *e;
        json_array_foreach(g, k, e)
            printf("%s%s/%s/%s", k ? ", " : "  grants ", json_string_value(json_object_get(e, "vendor")),
                   json_string_value(json_object_get(e, "class")),
                   json_string_value(json_object_get(e, "component")));
        const char *cls = json_string_value(json_object_get(p, "class"));
        if (cls)
            printf("  class %s", cls);
        const char *region = json_string_value(json_object_get(p, "region"));
        if (region)
            printf("  region %s", region);
        printf("\n");
    }
}

static void print_images(const json_t *list)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        json_t *comps = json_object_get(p, "components");
        printf("%.16s  seq %-6" JSON_INTEGER_FORMAT " %-12s %-11s %-36s %s\n",
               json_string_value(json_object_get(p, "id")),
               json_integer_value(json_object_get(p, "sequence")),
               json_string_value(json_object_get(p, "version")) ? json_string_value(json_object_get(p, "version")) : "-",
               json_string_value(json_object_get(p, "status")),
               json_string_value(json_object_get(p, "profile")),
               json_string_value(json_object_get(json_array_get(comps, 0), "name")));
    }
}

static bool image_id_ok(const char *id)
{
    if (strlen(id) != 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static int image_cmd(struct db *db, const struct opts *o, const char *verb, const char *id)
{
    struct secup_err err;
    secup_err_clear(&err);
    if (strcmp(verb, "list") == 0) {
        json_t *list = NULL;
        secup_rc rc = store_image_list(db, NULL, NULL, NULL, !o->all, &list, &err);
        if (rc != SECUP_OK)
            return fail("admin", &err);
        if (o->json)
            print_json(list);
        else
            print_images(list);
        json_decref(list);
        return 0;
    }
    if (!id)
        return cli_usage("admin", "image %s needs an image id", verb);
    if (!image_id_ok(id))
        return cli_usage("admin", "an image id is 64 lowercase hex digits");
    struct srv_image *img = calloc(1, sizeof(*img));
    if (!img)
        return cli_usage("admin", "out of memory");
    secup_rc rc = store_image_get(db, id, img, &err);
    char msg[512];
    msg[0] = '\0';
    if (rc == SECUP_OK && strcmp(verb, "show") == 0) {
        json_t *j = store_image_json(img);
        print_json(j);
        json_decref(j);
        free(img);
        return 0;
    } else if (rc == SECUP_OK && (strcmp(verb, "quarantine") == 0 || strcmp(verb, "release") == 0 ||
                                  strcmp(verb, "remove") == 0)) {
        const char *status = verb[0] == 'q' ? "quarantined" : verb[0] == 'r' && verb[2] == 'l' ? "active" : "removed";
        rc = store_image_status(db, id, status, o->reason, &err);
        snprintf(msg, sizeof(msg), "image %.16s is %s", id, status);
    } else if (rc == SECUP_OK && strcmp(verb, "policy") == 0) {
        const char *vals[4] = { o->allow_regions, o->deny_regions, o->allow_nets, o->deny_nets };
        static const char *const fields[4] = { "regions_allow", "regions_deny", "nets_allow",
                                               "nets_deny" };
        for (size_t i = 0; rc == SECUP_OK && i < 4; i++)
            if (vals[i])
                rc = store_image_policy(db, id, fields[i], vals[i], &err);
        snprintf(msg, sizeof(msg), "location policy of image %.16s updated", id);
    } else if (rc == SECUP_OK) {
        free(img);
        return cli_usage("admin", "image: unknown verb '%s'", verb);
    }
    if (rc == SECUP_OK)
        rc = store_event(db, "admin", verb, id, o->reason ? o->reason : msg, &err);
    free(img);
    return done(o, rc, &err, msg);
}

static int list_out(const struct opts *o, secup_rc rc, json_t *list, struct secup_err *err)
{
    if (rc != SECUP_OK)
        return fail("admin", err);
    print_json(list);
    (void)o;
    json_decref(list);
    return 0;
}

static bool event_row(void *ctx, size_t n, const char *const *v)
{
    if (n < 5)
        return false;
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "time", v[0], "actor",
                                         v[1], "action", v[2], "object", v[3], "detail", v[4]));
    return true;
}

int srv_admin(int argc, char **argv)
{
    static const struct option lopts[] = {
        { "json", no_argument, NULL, 'j' },        { "key", required_argument, NULL, 'k' },
        { "vendor-domain", required_argument, NULL, 'D' },
        { "vendor", required_argument, NULL, 'V' }, { "class", required_argument, NULL, 'C' },
        { "class-id", required_argument, NULL, 'I' },
        { "component", required_argument, NULL, 'c' },
        { "region", required_argument, NULL, 'r' }, { "reason", required_argument, NULL, 'R' },
        { "cert-sha256", required_argument, NULL, 5 },
        { "kind", required_argument, NULL, 'K' },  { "image", required_argument, NULL, 'i' },
        { "device", required_argument, NULL, 'd' }, { "all", no_argument, NULL, 'a' },
        { "allow-regions", required_argument, NULL, 1 },
        { "deny-regions", required_argument, NULL, 2 },
        { "allow-nets", required_argument, NULL, 3 },
        { "deny-nets", required_argument, NULL, 4 },
        { "limit", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts o;
    memset(&o, 0, sizeof(o));
    o.limit = 100;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
        switch (c) {
        case 'j': o.json = true; break;
        case 'k': o.key = optarg; break;
        case 'D': o.vendor_domain = optarg; break;
        case 'V': o.vendor = optarg; break;
        case 'C': o.class_name = optarg; break;
        case 'I': o.class_id = optarg; break;
        case 'c': o.component = optarg; break;
        case 'r': o.region = optarg; break;
        case 'R': o.reason = optarg; break;
        case 'K': o.kind = optarg; break;
        case 'i': o.image = optarg; break;
        case 'd': o.device = optarg; break;
        case 'a': o.all = true; break;
        case 1: o.allow_regions = optarg; break;
        case 2: o.deny_regions = optarg; break;
        case 3: o.allow_nets = optarg; break;
        case 4: o.deny_nets = optarg; break;
        case 5: o.cert_sha256 = optarg; break;
        case 'n':
            if (!cli_parse_u64(optarg, &o.limit) || o.limit == 0 || o.limit > 100000)
                return cli_usage("admin", "--limit must be 1 to 100000");
            break;
        case 'h': usage(); return 0;
        default: return cli_usage("admin", "unknown option");
        }
    }
    /* GNU getopt moves the words behind the options, wherever they were given */
    char *words[4];
    size_t nw = 0;
    while (optind < argc) {
        if (nw >= 4)
            return cli_usage("admin", "too many words: '%s'", argv[optind]);
        words[nw++] = argv[optind++];
    }
    if (nw < 2) {
        usage();
        return 2;
    }
    const char *dir = words[0], *object = words[1];
    const char *verb = nw > 2 ? words[2] : NULL, *arg = nw > 3 ? words[3] : NULL;

    struct secup_err err;
    secup_err_clear(&err);
    struct srv_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return cli_usage("admin", "out of memory");
    struct db *db = NULL;
    secup_rc rc = srv_config_load(dir, cfg, &err);
    if (rc == SECUP_OK)
        rc = db_open(cfg->db_url, &db, &err);
    if (rc == SECUP_OK)
        rc = store_schema(db, &err);
    free(cfg);
    if (rc != SECUP_OK) {
        db_close(db);
        return fail("admin", &err);
    }
    int status;
    json_t *list = NULL;
    if (strcmp(object, "author") == 0 && verb && arg)
        status = author_cmd(db, &o, verb, arg);
    else if ((strcmp(object, "device") == 0 || strcmp(object, "tracker") == 0) && verb &&
             strcmp(verb, "add") == 0 && arg)
        status = add_principal(db, &o, object[0] == 'd' ? SRV_DEVICE : SRV_TRACKER, arg);
    else if ((strcmp(object, "principal") == 0 || strcmp(object, "author") == 0 ||
              strcmp(object, "device") == 0 || strcmp(object, "tracker") == 0) &&
             verb && strcmp(verb, "list") == 0) {
        const char *kind = object[0] != 'p' ? object : o.kind;
        enum srv_kind k = !kind ? 0 : strcmp(kind, "author") == 0 ? SRV_AUTHOR
                                  : strcmp(kind, "device") == 0 ? SRV_DEVICE
                                  : strcmp(kind, "tracker") == 0 ? SRV_TRACKER : (enum srv_kind)99;
        if (k == (enum srv_kind)99) {
            status = cli_usage("admin", "--kind is author, device or tracker");
        } else {
            rc = store_principal_list(db, k, &list, &err);
            if (rc == SECUP_OK && !o.json) {
                print_principals(list);
                json_decref(list);
                status = 0;
            } else {
                status = list_out(&o, rc, list, &err);
            }
        }
    } else if (strcmp(object, "principal") == 0 && verb && strcmp(verb, "remove") == 0 && arg) {
        rc = store_principal_remove(db, arg, &err);
        if (rc == SECUP_OK)
            rc = store_event(db, "admin", "remove", arg, NULL, &err);
        status = done(&o, rc, &err, "removed");
    } else if (strcmp(object, "image") == 0 && verb)
        status = image_cmd(db, &o, verb, arg);
    else if (strcmp(object, "history") == 0) {
        rc = store_download_list(db, o.image, o.device, &list, &err);
        status = list_out(&o, rc, list, &err);
    } else if (strcmp(object, "obsolete") == 0) {
        rc = store_obsolete(db, &list, &err);
        status = list_out(&o, rc, list, &err);
    } else if (strcmp(object, "subscription") == 0 && verb && strcmp(verb, "list") == 0) {
        rc = store_subscription_list(db, &list, &err);
        status = list_out(&o, rc, list, &err);
    } else if (strcmp(object, "subscription") == 0 && verb && strcmp(verb, "remove") == 0 && arg) {
        rc = store_unsubscribe(db, arg, &err);
        if (rc == SECUP_OK)
            rc = store_event(db, "admin", "unsubscribe", arg, NULL, &err);
        status = done(&o, rc, &err, "subscription removed");
    } else if (strcmp(object, "events") == 0) {
        list = json_array();
        struct db_value v[] = { DB_INT_V((int64_t)o.limit) };
        rc = db_exec(db, "SELECT time, actor, action, object, detail FROM events"
                         " ORDER BY time DESC LIMIT $1",
                     v, 1, event_row, list, NULL, &err);
        status = list_out(&o, rc, list, &err);
    } else {
        status = cli_usage("admin", "unknown command '%s%s%s' (see --help)", object,
                           verb ? " " : "", verb ? verb : "");
    }
    db_close(db);
    static const char *const mutations[] = { "add", "grant", "revoke", "ban", "unban",
                                             "remove", "quarantine", "release", "policy", NULL };
    for (size_t i = 0; status == 0 && verb && mutations[i]; i++) {
        if (strcmp(verb, mutations[i]) == 0) {
            cache_stamp_touch(dir); /* running servers forget what they cached */
            break;
        }
    }
    return status;
}
