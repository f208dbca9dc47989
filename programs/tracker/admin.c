/* secup-tracker admin DIR ...: enrolment tokens, servers, the inventory (docs/tracker.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "reqparse.h"
#include "secup/file.h"
#include "secup/policy.h"
#include "token.h"
#include "tracker.h"

static void usage(void)
{
    printf("usage: secup-tracker admin DIR <object> <verb> [options] [--json]\n\n"
           "  enrolment add (--vendor-domain D | --vendor HEX) (--class NAME | --class-id HEX)\n"
           "               [--uses N]              a token consumers register with (printed once)\n"
           "  server add NAME --key PUB.pem [--url URL]\n"
           "                                        believe signed notifications of this server;\n"
           "                                        with --url, also poll it for new manifests\n"
           "  requester add NAME --pub PUB.pem      believe signed manifest requests of NAME\n"
           "  consumer list [--state S] [--class-id HEX]\n"
           "               states: up-to-date, obsolete, no-variant, updating, failed,\n"
           "               unreachable, stale, never-seen\n"
           "  consumer show NAME                    one consumer and its report history\n"
           "  consumer remove NAME\n"
           "  consumer poke NAME                    POST a signed \"report status now\" to its callback\n"
           "  token add NAME                        an administrator token for the REST admin API\n"
           "                                        (printed once, stored hashed)\n"
           "  token list | token revoke NAME\n"
           "  manifest list                         manifests learned from notifications\n"
           "  rollout create NAME --digest HEX [--canary N] [--max-failures PCT]\n"
           "               [--consumers a,b,...]    roll a known manifest out in two waves\n"
           "  rollout list | rollout show NAME\n"
           "  rollout pause|resume|cancel NAME\n");
}

static void print_json(const json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s) {
        puts(s);
        free(s);
    }
}

static secup_rc ids(const char *domain, const char *vhex, const char *cname, const char *chex,
                    char vendor[33], char cls[33], struct secup_err *err)
{
    uint8_t v[16], c[16];
    size_t n = 0;
    secup_rc rc = SECUP_OK;
    if (domain)
        rc = secup_vendor_id(domain, v, err);
    else if (!vhex || !((secup_hex_decode(vhex, v, 16, &n) && n == 16) || secup_uuid_parse(vhex, v)))
        return secup_err_set(err, SECUP_E_USAGE, "give --vendor-domain or --vendor (32 hex digits)");
    if (rc == SECUP_OK && cname)
        rc = secup_class_id(v, cname, c, err);
    else if (rc == SECUP_OK &&
             (!chex || !((secup_hex_decode(chex, c, 16, &n) && n == 16) || secup_uuid_parse(chex, c))))
        return secup_err_set(err, SECUP_E_USAGE, "give --class or --class-id (32 hex digits)");
    if (rc == SECUP_OK) {
        secup_hex_encode(secup_bytes_of(v, 16), vendor, 33);
        secup_hex_encode(secup_bytes_of(c, 16), cls, 33);
    }
    return rc;
}

/* The PEM text of a public key file (a private key is refused). */
static secup_rc public_pem(const char *path, char **text, struct secup_err *err)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    struct secup_key *k = NULL;
    *text = NULL;
    secup_rc rc = secup_key_load_pem(&k, path, err);
    if (rc == SECUP_OK && secup_key_has_private(k))
        rc = secup_err_set(err, SECUP_E_KEY_FORMAT, "'%s' holds a private key", path);
    secup_key_free(k);
    if (rc == SECUP_OK)
        rc = secup_file_read(path, 64 * 1024, &pem, &len, err);
    if (rc == SECUP_OK) {
        *text = calloc(1, len + 1);
        if (*text)
            memcpy(*text, pem, len);
        else
            rc = secup_err_set(err, SECUP_E_NOMEM, "key");
    }
    if (pem)
        secup_file_free(pem, len);
    return rc;
}

/* ---- the administrator actions, shared with the REST admin API (admin_rest.c) ---- */

static const char *const states[] = { "up-to-date", "obsolete", "no-variant", "updating",
                                      "failed", "unreachable", "stale", "never-seen", NULL };

bool trk_state_valid(const char *state)
{
    for (size_t i = 0; states[i]; i++)
        if (strcmp(state, states[i]) == 0)
            return true;
    return false;
}

/* Runs a read and records that the actor made it. */
static secup_rc logged(struct db *db, const char *actor, const char *action, const char *object,
                       secup_rc rc, json_t **out, struct secup_err *err)
{
    if (rc == SECUP_OK)
        rc = trk_event(db, actor, action, object, NULL, err);
    if (rc != SECUP_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

secup_rc trk_op_consumer_list(struct db *db, const char *actor, int64_t unreachable_after,
                              const char *state, const char *class_id, json_t **out,
                              struct secup_err *err)
{
    *out = NULL;
    if (state && !trk_state_valid(state))
        return secup_err_set(err, SECUP_E_VALUE,
                             "state '%.40s' is none of up-to-date, obsolete, no-variant, updating, failed, unreachable, stale, never-seen",
                             state);
    if (class_id && !req_is_hex(class_id, 32))
        return secup_err_set(err, SECUP_E_VALUE, "a class id is 32 lowercase hex digits");
    secup_rc rc = trk_inventory(db, (int64_t)time(NULL), unreachable_after, state, class_id, out,
                                err);
    return logged(db, actor, "consumer-list", state ? state : "all", rc, out, err);
}

secup_rc trk_op_consumer_show(struct db *db, const char *actor, int64_t unreachable_after,
                              const char *id, json_t **out, struct secup_err *err)
{
    *out = NULL;
    if (!req_valid_name(id))
        return secup_err_set(err, SECUP_E_VALUE, "a consumer name is A-Z a-z 0-9 . _ -");
    secup_rc rc = trk_consumer_show(db, id, (int64_t)time(NULL), unreachable_after, out, err);
    if (rc == SECUP_OK)
        rc = trk_divergence_attach(db, id, *out, err);
    return logged(db, actor, "consumer-show", id, rc, out, err);
}

secup_rc trk_op_manifest_list(struct db *db, const char *actor, json_t **out,
                              struct secup_err *err)
{
    *out = NULL;
    secup_rc rc = trk_manifest_list(db, out, err);
    return logged(db, actor, "manifest-list", "all", rc, out, err);
}

secup_rc trk_op_rollout_create(struct db *db, const char *actor, const char *id,
                               const char *digest, int64_t canary, int64_t max_failure_pct,
                               const char *const *only, size_t n_only, json_t **out,
                               struct secup_err *err)
{
    *out = NULL;
    if (!id || !req_valid_name(id))
        return secup_err_set(err, SECUP_E_VALUE, "a rollout name is 1 to 64 characters of A-Z a-z 0-9 . _ -");
    if (!digest || !req_is_hex(digest, 64))
        return secup_err_set(err, SECUP_E_VALUE, "the digest is the manifest digest, 64 lowercase hex digits");
    if (canary < 0 || canary > 1000000)
        return secup_err_set(err, SECUP_E_VALUE, "the canary count is 0 to 1000000");
    if (max_failure_pct < 0 || max_failure_pct > 100)
        return secup_err_set(err, SECUP_E_VALUE, "the failure bound is a percentage, 0 to 100");
    for (size_t i = 0; i < n_only; i++)
        if (!req_valid_name(only[i]))
            return secup_err_set(err, SECUP_E_VALUE, "consumer name %zu is not A-Z a-z 0-9 . _ -", i + 1);
    json_t *targets = NULL;
    secup_rc rc = db_begin(db, err);
    if (rc != SECUP_OK)
        return rc;
    rc = trk_rollout_create(db, id, digest, canary, max_failure_pct, only, n_only, &targets, err);
    if (rc == SECUP_OK)
        rc = trk_event(db, actor, "rollout", id, digest, err);
    if (rc == SECUP_OK)
        rc = db_commit(db, err);
    else
        db_rollback(db);
    if (rc != SECUP_OK) {
        json_decref(targets);
        return rc;
    }
    *out = json_pack("{s:s, s:s, s:o, s:I, s:I}", "rollout", id, "digest", digest, "targets",
                     targets, "canary", (json_int_t)canary, "max_failure_pct",
                     (json_int_t)max_failure_pct);
    return SECUP_OK;
}

secup_rc trk_op_rollout_list(struct db *db, const char *actor, json_t **out,
                             struct secup_err *err)
{
    *out = NULL;
    secup_rc rc = trk_rollout_list(db, out, err);
    return logged(db, actor, "rollout-list", "all", rc, out, err);
}

secup_rc trk_op_rollout_show(struct db *db, const char *actor, const char *id, json_t **out,
                             struct secup_err *err)
{
    *out = NULL;
    if (!req_valid_name(id))
        return secup_err_set(err, SECUP_E_VALUE, "a rollout name is A-Z a-z 0-9 . _ -");
    json_t *list = NULL, *targets = NULL;
    secup_rc rc = trk_rollout_list(db, &list, err);
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0) {
            *out = json_incref(o);
            break;
        }
    }
    json_decref(list);
    if (rc == SECUP_OK && !*out)
        rc = secup_err_set(err, SECUP_E_NOENT, "no rollout '%s'", id);
    if (rc == SECUP_OK)
        rc = trk_rollout_targets(db, id, &targets, err);
    if (rc == SECUP_OK)
        json_object_set_new(*out, "targets", targets);
    return logged(db, actor, "rollout-show", id, rc, out, err);
}

secup_rc trk_op_rollout_step(struct db *db, const char *actor, const char *id,
                             const char *verb, json_t **out, struct secup_err *err)
{
    *out = NULL;
    const char *to = strcmp(verb, "pause") == 0    ? "paused"
                     : strcmp(verb, "resume") == 0 ? "resume"
                     : strcmp(verb, "cancel") == 0 ? "cancelled"
                                                   : NULL;
    if (!to)
        return secup_err_set(err, SECUP_E_VALUE, "a rollout is paused, resumed or cancelled, not '%.32s'",
                             verb);
    if (!req_valid_name(id))
        return secup_err_set(err, SECUP_E_VALUE, "a rollout name is A-Z a-z 0-9 . _ -");
    char state[32];
    struct db_value v[] = { DB_TEXT_V(id) };
    secup_rc rc = db_begin(db, err);
    if (rc != SECUP_OK)
        return rc;
    rc = db_query_text(db, "SELECT state FROM rollouts WHERE id = $1", v, 1, state, sizeof(state),
                       err);
    if (rc == SECUP_E_NOENT)
        rc = secup_err_set(err, SECUP_E_NOENT, "no rollout '%s'", id);
    if (rc == SECUP_OK)
        rc = trk_rollout_set_state(db, id, to, err);
    if (rc == SECUP_E_STATE)
        secup_err_set(err, SECUP_E_STATE, "rollout '%s' is %s: it cannot be %s", id, state,
                      verb[0] == 'p' ? "paused" : verb[0] == 'r' ? "resumed" : "cancelled");
    if (rc == SECUP_OK)
        rc = trk_event(db, actor, verb, id, NULL, err);
    if (rc == SECUP_OK)
        rc = db_commit(db, err);
    else
        db_rollback(db);
    if (rc == SECUP_OK)
        *out = json_pack("{s:b, s:s, s:s}", "ok", 1, "rollout", id, "done", verb);
    return rc;
}

int trk_admin(int argc, char **argv)
{
    static const struct option lopts[] = {
        { "json", no_argument, NULL, 'j' },          { "key", required_argument, NULL, 'k' },
        { "vendor-domain", required_argument, NULL, 'D' },
        { "vendor", required_argument, NULL, 'V' },   { "class", required_argument, NULL, 'C' },
        { "class-id", required_argument, NULL, 'I' }, { "uses", required_argument, NULL, 'u' },
        { "state", required_argument, NULL, 's' },    { "help", no_argument, NULL, 'h' },
        { "digest", required_argument, NULL, 'g' },   { "canary", required_argument, NULL, 'c' },
        { "max-failures", required_argument, NULL, 'm' },
        { "consumers", required_argument, NULL, 'n' },
        { "url", required_argument, NULL, 'U' },      { "pub", required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false;
    const char *key = NULL, *domain = NULL, *vhex = NULL, *cname = NULL, *chex = NULL,
               *state = NULL;
    uint64_t uses = 1, canary = 0, max_failures = 20;
    const char *digest = NULL, *consumers = NULL, *url = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'k': key = optarg; break;
        case 'D': domain = optarg; break;
        case 'V': vhex = optarg; break;
        case 'C': cname = optarg; break;
        case 'I': chex = optarg; break;
        case 's': state = optarg; break;
        case 'g': digest = optarg; break;
        case 'n': consumers = optarg; break;
        case 'U': url = optarg; break;
        case 'c':
            if (!cli_parse_u64(optarg, &canary) || canary > 1000000)
                return cli_usage("admin", "--canary must be 0 to 1000000");
            break;
        case 'm':
            if (!cli_parse_u64(optarg, &max_failures) || max_failures > 100)
                return cli_usage("admin", "--max-failures is a percentage, 0 to 100");
            break;
        case 'u':
            if (!cli_parse_u64(optarg, &uses) || uses == 0 || uses > 1000000)
                return cli_usage("admin", "--uses must be 1 to 1000000");
            break;
        case 'h': usage(); return 0;
        default: return cli_usage("admin", "unknown option");
        }
    }
    if (argc - optind < 3) {
        usage();
        return 2;
    }
    const char *dir = argv[optind], *object = argv[optind + 1], *verb = argv[optind + 2];
    const char *arg = argc - optind > 3 ? argv[optind + 3] : NULL;
    struct secup_err err;
    secup_err_clear(&err);
    struct trk_config *cfg = calloc(1, sizeof(*cfg));
    struct db *db = NULL;
    secup_rc rc = cfg ? trk_config_load(dir, cfg, &err) : secup_err_set(&err, SECUP_E_NOMEM, "config");
    if (rc == SECUP_OK)
        rc = db_open(cfg->db_url, &db, &err);
    if (rc == SECUP_OK)
        rc = trk_schema(db, &err);
    int64_t unreachable = cfg ? (int64_t)cfg->unreachable_after : 3600;
    free(cfg);
    if (rc != SECUP_OK) {
        db_close(db);
        return cli_fail("admin", &err);
    }
    int status = 0;
    json_t *out = NULL;
    if (strcmp(object, "enrolment") == 0 && strcmp(verb, "add") == 0) {
        char vendor[33], cls[33], token[64], hash[TOKEN_HASH_HEX];
        rc = ids(domain, vhex, cname, chex, vendor, cls, &err);
        if (rc == SECUP_OK)
            rc = token_new(token, &err);
        token_hash(token, hash);
        if (rc == SECUP_OK)
            rc = trk_enrolment_add(db, hash, vendor, cls, (int64_t)uses, &err);
        if (rc == SECUP_OK)
            rc = trk_event(db, "admin", "enrolment", cls, NULL, &err);
        if (rc == SECUP_OK)
            out = json_pack("{s:s, s:s, s:s, s:I}", "token", token, "vendor", vendor, "class", cls,
                            "uses", (json_int_t)uses);
        if (rc == SECUP_OK && !json) {
            printf("%s\n", token);
            cli_note("enrolment token for class %s, %llu use(s); shown once", cls,
                     (unsigned long long)uses);
            json_decref(out);
            out = NULL;
        }
    } else if ((strcmp(object, "server") == 0 || strcmp(object, "requester") == 0) &&
               strcmp(verb, "add") == 0 && arg) {
        bool server = object[0] == 's';
        char *text = NULL;
        if (!req_valid_name(arg))
            rc = secup_err_set(&err, SECUP_E_USAGE, "%s name '%s' must be A-Z a-z 0-9 . _ -",
                               object, arg);
        else if (!key)
            rc = secup_err_set(&err, SECUP_E_USAGE, "give --key (or --pub) with the %s's public key",
                               object);
        else if (url && (!server || (strncmp(url, "https://", 8) != 0 &&
                                     strncmp(url, "http://", 7) != 0) || strlen(url) > 1000))
            rc = secup_err_set(&err, SECUP_E_USAGE, "--url is a server's http(s) base URL");
        if (rc == SECUP_OK)
            rc = public_pem(key, &text, &err);
        if (rc == SECUP_OK && server)
            rc = trk_server_add(db, arg, text, url, &err);
        else if (rc == SECUP_OK)
            rc = trk_requester_add(db, arg, text, &err);
        free(text);
        if (rc == SECUP_OK)
            rc = trk_event(db, "admin", object, arg, url, &err);
        if (rc == SECUP_OK)
            out = json_pack("{s:b, s:s}", "ok", 1, object, arg);
    } else if (strcmp(object, "token") == 0 && strcmp(verb, "add") == 0 && arg) {
        char token[64], hash[TOKEN_HASH_HEX];
        if (!req_valid_name(arg))
            rc = secup_err_set(&err, SECUP_E_USAGE, "token name '%s' must be A-Z a-z 0-9 . _ -", arg);
        if (rc == SECUP_OK)
            rc = token_new(token, &err);
        token_hash(token, hash);
        if (rc == SECUP_OK)
            rc = trk_admin_token_add(db, arg, hash, &err);
        if (rc == SECUP_OK)
            rc = trk_event(db, "admin", "token-add", arg, NULL, &err);
        if (rc == SECUP_OK && json)
            out = json_pack("{s:s, s:s}", "name", arg, "token", token);
        else if (rc == SECUP_OK) {
            printf("%s\n", token);
            cli_note("administrator token '%s' for the REST admin API; shown once, stored hashed",
                     arg);
        }
        secup_wipe(token, sizeof(token));
    } else if (strcmp(object, "token") == 0 && strcmp(verb, "revoke") == 0 && arg) {
        rc = trk_admin_token_revoke(db, arg, &err);
        if (rc == SECUP_OK)
            rc = trk_event(db, "admin", "token-revoke", arg, NULL, &err);
        if (rc == SECUP_OK)
            out = json_pack("{s:b, s:s}", "ok", 1, "revoked", arg);
    } else if (strcmp(object, "token") == 0 && strcmp(verb, "list") == 0) {
        rc = trk_admin_token_list(db, &out, &err);
    } else if (strcmp(object, "consumer") == 0 && strcmp(verb, "list") == 0) {
        rc = trk_op_consumer_list(db, "admin", unreachable, state, chex, &out, &err);
        if (rc == SECUP_OK && !json) {
            size_t i;
            json_t *o;
            json_array_foreach(out, i, o)
                printf("%-24s %-8s %-12s class %s\n", json_string_value(json_object_get(o, "id")),
                       json_string_value(json_object_get(o, "kind")),
                       json_string_value(json_object_get(o, "state")),
                       json_string_value(json_object_get(o, "class")));
            json_decref(out);
            out = NULL;
        }
    } else if (strcmp(object, "consumer") == 0 && strcmp(verb, "show") == 0 && arg) {
        rc = trk_op_consumer_show(db, "admin", unreachable, arg, &out, &err);
    } else if (strcmp(object, "consumer") == 0 && strcmp(verb, "remove") == 0 && arg) {
        rc = trk_consumer_remove(db, arg, &err);
        if (rc == SECUP_OK)
            rc = trk_event(db, "admin", "remove", arg, NULL, &err);
        if (rc == SECUP_OK)
            out = json_pack("{s:b}", "ok", 1);
    } else if (strcmp(object, "consumer") == 0 && strcmp(verb, "poke") == 0 && arg) {
        rc = trk_poke_cli(dir, db, arg, &out, &err);
    } else if (strcmp(object, "manifest") == 0 && strcmp(verb, "list") == 0) {
        rc = trk_op_manifest_list(db, "admin", &out, &err);
    } else if (strcmp(object, "rollout") == 0 && strcmp(verb, "create") == 0 && arg) {
        char names[4096];
        const char *only[256];
        size_t n_only = 0;
        if (!digest)
            rc = secup_err_set(&err, SECUP_E_USAGE, "--digest is the manifest digest, 64 hex digits");
        if (rc == SECUP_OK && consumers) {
            snprintf(names, sizeof(names), "%s", consumers);
            for (char *p = names; p && *p && n_only < 256;) {
                char *comma = strchr(p, ',');
                if (comma)
                    *comma = '\0';
                if (*p)
                    only[n_only++] = p;
                p = comma ? comma + 1 : NULL;
            }
        }
        if (rc == SECUP_OK)
            rc = trk_op_rollout_create(db, "admin", arg, digest, (int64_t)canary,
                                       (int64_t)max_failures, only, n_only, &out, &err);
    } else if (strcmp(object, "rollout") == 0 && strcmp(verb, "list") == 0) {
        rc = trk_op_rollout_list(db, "admin", &out, &err);
    } else if (strcmp(object, "rollout") == 0 && strcmp(verb, "show") == 0 && arg) {
        rc = trk_op_rollout_show(db, "admin", arg, &out, &err);
    } else if (strcmp(object, "rollout") == 0 && arg &&
               (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0 ||
                strcmp(verb, "cancel") == 0)) {
        rc = trk_op_rollout_step(db, "admin", arg, verb, &out, &err);
    } else {
        status = cli_usage("admin", "unknown command '%s %s' (see --help)", object, verb);
    }
    db_close(db);
    if (rc != SECUP_OK) {
        json_decref(out);
        return cli_fail("admin", &err);
    }
    if (out) {
        print_json(out);
        json_decref(out);
    }
    return status;
}
