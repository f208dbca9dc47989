/* The agent's configuration and durable state: every malformed configuration names what
 * is wrong; state survives a corrupted copy, detects when both are bad, and floors never
 * go down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"

static const char good_config[] =
    "{ \"device\": { \"id\": \"cam-1\", \"vendor-domain\": \"example.com\", \"class\": \"cam-v2\" },\n"
    "  \"state-dir\": \"state\",\n"
    "  \"bootloader\": { \"type\": \"statefile\", \"path\": \"state/boot\" },\n"
    "  \"health-check\": { \"command\": [\"/bin/true\", \"--quiet\"], \"timeout\": 5 },\n"
    "  \"components\": [ { \"name\": \"firmware\", \"slots\": [\"a.img\", \"b.img\"], \"slot-size\": 4096 },\n"
    "                    { \"name\": \"boot\", \"id\": \"0x00/boot\", \"slots\": [\"/x/a\", \"/x/b\"], \"slot-size\": 4096 } ],\n"
    "  \"trust\": [ { \"name\": \"release\", \"key\": \"author.pub.pem\" },\n"
    "             { \"name\": \"bootloader\", \"key\": \"/keys/boot.pub.pem\", \"components\": [\"boot\"] } ] }\n";

static struct agent_config *parse(const char *text, secup_rc want, const char *msg_part)
{
    static struct agent_config cfg;
    struct secup_err err;
    secup_err_clear(&err);
    secup_rc rc = agent_config_parse(&cfg, text, strlen(text), "/etc/secup/device.json", &err);
    if (rc != want)
        fail_msg("expected %s, got %s: %s", secup_rc_name(want), secup_rc_name(rc), err.msg);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
    return &cfg;
}

static void test_config_good_file_resolves_paths_and_defaults(void **state)
{
    (void)state;
    struct agent_config *cfg = parse(good_config, SECUP_OK, NULL);
    assert_string_equal(cfg->device_id, "cam-1");
    assert_string_equal(cfg->state_dir, "/etc/secup/state");
    assert_string_equal(cfg->components[0].slot_path[0], "/etc/secup/a.img");
    assert_string_equal(cfg->components[1].slot_path[1], "/x/b");
    assert_int_equal(cfg->components[1].id.id.n_parts, 2);
    assert_int_equal(cfg->components[1].id.id.parts[0].len, 1);
    assert_int_equal(cfg->components[1].id.id.parts[0].ptr[0], 0);
    assert_int_equal(cfg->boot_attempts, 3);
    assert_int_equal(cfg->health_timeout, 5);
    assert_string_equal(cfg->health_argv[1], "--quiet");
    assert_null(cfg->health_argv[2]);
    assert_int_equal(cfg->anchors[0].components, 3);
    assert_int_equal(cfg->anchors[1].components, 2);
    uint8_t vendor[16];
    assert_int_equal(secup_vendor_id("example.com", vendor, NULL), SECUP_OK);
    assert_memory_equal(cfg->vendor_id, vendor, 16);
    assert_int_equal(agent_config_find_component(cfg, &cfg->components[1].id.id), 1);
    assert_int_equal(cfg->n_keks, 0);
}

static void test_config_keks_are_kept_with_resolved_paths(void **state)
{
    (void)state;
    char text[4096];
    const char *at = strstr(good_config, "\"cam-1\"");
    snprintf(text, sizeof(text), "%.*s\"cam-1\", \"keks\": [ { \"kid\": \"fleet-1\", \"key\": \"k1.hex\" }, "
             "{ \"kid\": \"fleet-2\", \"key\": \"/k/2.hex\" } ]%s", (int)(at - good_config), good_config,
             at + strlen("\"cam-1\""));
    struct agent_config *cfg = parse(text, SECUP_OK, NULL);
    assert_int_equal(cfg->n_keks, 2);
    assert_string_equal(cfg->keks[0].kid, "fleet-1");
    assert_string_equal(cfg->keks[0].key_path, "/etc/secup/k1.hex");
    assert_string_equal(cfg->keks[1].key_path, "/k/2.hex");
}

struct bad_case {
    const char *from;
    const char *to;
    secup_rc rc;
    const char *msg;
};

static void test_config_each_mistake_is_named(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        { "\"state-dir\"", "\"state-dri\"", SECUP_E_JSON, "unknown key \"state-dri\"" },
        { "\"statefile\"", "\"lilo\"", SECUP_E_VALUE, "lilo" },
        { "\"b.img\"", "\"a.img\"", SECUP_E_VALUE, "same path" },
        { "\"slot-size\": 4096 },\n", "\"slot-size\": 0 },\n", SECUP_E_VALUE, "slot-size" },
        { "\"components\": [\"boot\"]", "\"components\": [\"kernel\"]", SECUP_E_VALUE, "unknown component" },
        { "\"name\": \"boot\"", "\"name\": \"firmware\"", SECUP_E_DUPLICATE, "twice" },
        { "\"name\": \"release\"", "\"name\": \"re lease\"", SECUP_E_VALUE, "letters" },
        { "\"timeout\": 5", "\"timeout\": \"5\"", SECUP_E_VALUE, "timeout" },
        { "\"id\": \"cam-1\", ", "", SECUP_E_JSON, "\"id\" is required" },
        { "[\"/bin/true\", \"--quiet\"]", "[]", SECUP_E_JSON, "command" },
        { "\"0x00/boot\"", "\"0xZZ/boot\"", SECUP_E_VALUE, "hex" },
        { "\"trust\": [", "\"trust\": 7, \"x\": [", SECUP_E_JSON, NULL },
        { "\"cam-1\"", "\"cam-1\", \"id\": \"cam-2\"", SECUP_E_JSON, "duplicate" },
        { "\"cam-1\"", "\"cam-1\", \"keks\": []", SECUP_E_JSON, "keks" },
        { "\"cam-1\"", "\"cam-1\", \"keks\": [ { \"kid\": \"k\" } ]", SECUP_E_JSON, "\"key\" is required" },
        { "\"cam-1\"", "\"cam-1\", \"keks\": [ { \"kid\": \"k\", \"key\": \"a\", \"alg\": 1 } ]", SECUP_E_JSON, "unknown key \"alg\"" },
        { "\"cam-1\"", "\"cam-1\", \"keks\": [ { \"kid\": \"k\", \"key\": \"a\" }, { \"kid\": \"k\", \"key\": \"b\" } ]", SECUP_E_DUPLICATE, "\"k\" twice" },
        { "\"cam-1\"", "\"cam-1\", \"keks\": [ { \"kid\": \"\", \"key\": \"a\" } ]", SECUP_E_VALUE, "kid" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[4096];
        const char *at = strstr(good_config, cases[i].from);
        assert_non_null(at);
        snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good_config), good_config,
                 cases[i].to, at + strlen(cases[i].from));
        parse(text, cases[i].rc, cases[i].msg);
    }
    parse("[1, 2]", SECUP_E_JSON, "top level");
    parse("{ \"device\": ", SECUP_E_JSON, "line");
}

static struct agent_config *cfg_in(const char *dir)
{
    static struct agent_config cfg;
    char path[512];
    struct secup_err err;
    snprintf(path, sizeof(path), "%s/device.json", dir);
    assert_int_equal(agent_config_parse(&cfg, good_config, strlen(good_config), path, &err), SECUP_OK);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s/state", dir);
    assert_int_equal(mkdir(cmd, 0700), 0);
    return &cfg;
}

static void flip_file(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    int ch = fgetc(f);
    assert_true(ch != EOF);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    fputc(ch ^ 0x04, f);
    fclose(f);
}

static void test_state_survives_one_corrupt_copy_and_detects_two(void **state)
{
    (void)state;
    char dir[] = "/tmp/secup-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct agent_config *cfg = cfg_in(dir);
    static struct agent_state st;
    static struct agent_state again;
    struct secup_err err;
    bool recovered = true;

    assert_int_equal(state_load(cfg, &st, &recovered, &err), SECUP_OK);
    assert_false(recovered);
    assert_int_equal(st.generation, 0);

    assert_int_equal(state_raise_floor(&st, 0, "release", 7, &err), SECUP_OK);
    st.comp[0].slot[1].valid = true;
    st.comp[0].slot[1].seq = 7;
    snprintf(st.comp[0].slot[1].version, sizeof(st.comp[0].slot[1].version), "1.2.3");
    st.comp[0].slot[1].digest[0] = 0xab;
    snprintf(st.last.code, sizeof(st.last.code), "OK");
    assert_int_equal(state_save(cfg, &st, &err), SECUP_OK);
    assert_int_equal(st.generation, 1);

    assert_int_equal(state_load(cfg, &again, &recovered, &err), SECUP_OK);
    assert_false(recovered);
    assert_int_equal(state_floor(&again, 0, "release"), 7);
    assert_int_equal(again.comp[0].slot[1].digest[0], 0xab);
    assert_string_equal(again.comp[0].slot[1].version, "1.2.3");

    char a[AGENT_PATH_MAX + 16];
    char b[AGENT_PATH_MAX + 16];
    snprintf(a, sizeof(a), "%.900s/state.A", cfg->state_dir);
    snprintf(b, sizeof(b), "%.900s/state.B", cfg->state_dir);
    flip_file(a, 40);
    assert_int_equal(state_load(cfg, &again, &recovered, &err), SECUP_OK);
    assert_true(recovered);
    assert_non_null(strstr(err.msg, "checksum"));
    assert_int_equal(state_floor(&again, 0, "release"), 7);

    flip_file(b, 100);
    assert_int_equal(state_load(cfg, &again, &recovered, &err), SECUP_E_DIGEST);

    /* a torn copy (cut short) is as good as corrupt */
    assert_int_equal(state_save(cfg, &st, &err), SECUP_OK);
    assert_int_equal(truncate(b, 50), 0);
    assert_int_equal(state_load(cfg, &again, &recovered, &err), SECUP_OK);
    assert_true(recovered);
    assert_int_equal(again.generation, 2);

    /* a crash between the two writes leaves B one generation behind: A wins */
    st.comp[0].floors[0].seq = 9;
    assert_int_equal(state_save(cfg, &st, &err), SECUP_OK);
    char old[8192];
    size_t n = 0;
    assert_int_equal(state_format(cfg, &again, old, sizeof(old), &n, &err), SECUP_OK);
    FILE *f = fopen(b, "wb");
    fwrite(old, 1, n, f);
    fclose(f);
    assert_int_equal(state_load(cfg, &again, &recovered, &err), SECUP_OK);
    assert_int_equal(state_floor(&again, 0, "release"), 9);

    assert_int_equal(unlink(a), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(rmdir(cfg->state_dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* A result's reason quotes untrusted input: bytes that are not UTF-8 (a flipped bit in a
 * manifest's text, found by tests/threats/campaign.sh) or a UTF-8 sequence cut at the
 * length limit must not make the result impossible to record (INV-5). */
static void test_state_reason_from_untrusted_bytes_is_recorded(void **state)
{
    (void)state;
    char dir[] = "/tmp/secup-state-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct agent_config *cfg = cfg_in(dir);
    static struct agent_state st;
    static struct agent_state again;
    struct secup_err err;
    memset(&st, 0, sizeof(st));
    snprintf(st.last.code, sizeof(st.last.code), "SECUP_E_VALUE");
    state_set_reason(&st.last, "integrated payload '#fi\xf2mware' \x1b[31m is not referenced");
    assert_string_equal(st.last.reason, "integrated payload '#fi?mware' ?[31m is not referenced");
    char doc[8192];
    size_t n = 0;
    assert_int_equal(state_format(cfg, &st, doc, sizeof(doc), &n, &err), SECUP_OK);
    assert_int_equal(state_parse(cfg, doc, n, &again, &err), SECUP_OK);
    assert_string_equal(again.last.reason, st.last.reason);

    char longer[400] = "";
    for (size_t i = 0; i + 2 < sizeof(longer); i += 2)
        memcpy(longer + i, "\xc3\xa9", 2); /* e-acute, cut anywhere by a byte limit */
    longer[sizeof(longer) - 1] = '\0';
    state_set_reason(&st.last, longer);
    assert_int_equal(strlen(st.last.reason), STATE_REASON_MAX - 1);
    assert_int_equal(state_format(cfg, &st, doc, sizeof(doc), &n, &err), SECUP_OK);

    snprintf(st.safe_reason, sizeof(st.safe_reason), "bad \xff byte");
    state_clean_text(st.safe_reason);
    assert_string_equal(st.safe_reason, "bad ? byte");
    (void)rmdir(cfg->state_dir);
    assert_int_equal(rmdir(dir), 0);
}

static void test_state_floors_never_go_down(void **state)
{
    (void)state;
    static struct agent_state st;
    struct secup_err err;
    memset(&st, 0, sizeof(st));
    assert_int_equal(state_floor(&st, 0, "release"), 0);
    assert_int_equal(state_raise_floor(&st, 0, "release", 5, &err), SECUP_OK);
    assert_int_equal(state_raise_floor(&st, 0, "release", 5, &err), SECUP_OK);
    assert_int_equal(state_raise_floor(&st, 0, "release", 4, &err), SECUP_E_ROLLBACK);
    assert_int_equal(state_floor(&st, 0, "release"), 5);
    /* another anchor (after a rotation) has its own floor */
    assert_int_equal(state_raise_floor(&st, 0, "release-2027", 1, &err), SECUP_OK);
    assert_int_equal(state_floor(&st, 0, "release-2027"), 1);
    assert_int_equal(state_floor(&st, 0, "release"), 5);
    assert_int_equal(state_floor(&st, 1, "release"), 0);
}

static void test_state_parse_refuses_garbage(void **state)
{
    (void)state;
    static struct agent_config cfg;
    static struct agent_state st;
    struct secup_err err;
    assert_int_equal(agent_config_parse(&cfg, good_config, strlen(good_config), "/x/d.json", &err), SECUP_OK);
    static const char *const inputs[] = { "", "\n", "{}\n", "{}\nsha256:00\n",
                                          "{}\nsha256:0000000000000000000000000000000000000000000000000000000000000000\n" };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        assert_int_equal(state_parse(&cfg, inputs[i], strlen(inputs[i]), &st, &err), SECUP_E_DIGEST);
    /* a correct checksum over a wrong document */
    static const char doc[] = "{\"format\": 2}";
    uint8_t h[32];
    char hex[65];
    char text[256];
    assert_int_equal(secup_sha256(secup_bytes_of(doc, strlen(doc)), h, &err), SECUP_OK);
    secup_hex_encode(secup_bytes_of(h, 32), hex, sizeof(hex));
    snprintf(text, sizeof(text), "%s\nsha256:%s\n", doc, hex);
    assert_int_equal(state_parse(&cfg, text, strlen(text), &st, &err), SECUP_E_UNSUPPORTED);
}

/* THREATS.md T8: the secure counter follows every save, never goes back, and a state below
 * it (an older copy restored), none where it is above 0, or a damaged counter is refused. */
static void test_state_secure_counter(void **state)
{
    (void)state;
    char dir[] = "/tmp/secup-counter-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct agent_config *cfg = cfg_in(dir);
    snprintf(cfg->counter_path, sizeof(cfg->counter_path), "%s/counter", dir);
    static struct agent_state st;
    static struct agent_state old;
    struct secup_err err;
    bool recovered = false;
    uint64_t v = 99;
    bool exists = true;
    assert_int_equal(counter_read(cfg, &v, &exists, &err), SECUP_OK);
    assert_false(exists);
    assert_int_equal(v, 0);
    assert_int_equal(state_load(cfg, &st, &recovered, &err), SECUP_OK);
    assert_int_equal(state_raise_floor(&st, 0, "release", 3, &err), SECUP_OK);
    assert_int_equal(state_save(cfg, &st, &err), SECUP_OK);
    assert_int_equal(counter_read(cfg, &v, &exists, &err), SECUP_OK);
    assert_true(exists);
    assert_int_equal(v, 1);
    old = st;
    char a[AGENT_PATH_MAX + 16], b[AGENT_PATH_MAX + 16], keep_a[AGENT_PATH_MAX + 32];
    snprintf(a, sizeof(a), "%.900s/state.A", cfg->state_dir);
    snprintf(b, sizeof(b), "%.900s/state.B", cfg->state_dir);
    snprintf(keep_a, sizeof(keep_a), "%s/old.A", dir);
    assert_int_equal(link(a, keep_a), 0); /* the old copy, kept aside */
    assert_int_equal(state_raise_floor(&st, 0, "release", 8, &err), SECUP_OK);
    assert_int_equal(state_save(cfg, &st, &err), SECUP_OK);
    assert_int_equal(counter_read(cfg, &v, &exists, &err), SECUP_OK);
    assert_int_equal(v, 2);

    /* never lowered */
    assert_int_equal(counter_raise(cfg, 1, &err), SECUP_E_STATE_ROLLBACK);
    assert_non_null(strstr(err.msg, "never goes back"));
    assert_int_equal(counter_raise(cfg, 2, &err), SECUP_OK);

    /* both copies restored from generation 1: refused, nothing loaded */
    assert_int_equal(rename(keep_a, a), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(link(a, b), 0);
    assert_int_equal(state_load(cfg, &st, &recovered, &err), SECUP_E_STATE_ROLLBACK);
    assert_non_null(strstr(err.msg, "generation 1, below the secure counter"));
    assert_int_equal(st.generation, 0);
    assert_int_equal(st.comp[0].n_floors, 0);
    /* an older state saved again (generation 0 + 1) cannot push the counter back */
    old.generation = 0;
    assert_int_equal(state_save(cfg, &old, &err), SECUP_E_STATE_ROLLBACK);
    assert_int_equal(counter_read(cfg, &v, &exists, &err), SECUP_OK);
    assert_int_equal(v, 2);

    /* no state at all, with the counter above 0 */
    assert_int_equal(unlink(a), 0);
    assert_int_equal(unlink(b), 0);
    assert_int_equal(state_load(cfg, &st, &recovered, &err), SECUP_E_STATE_ROLLBACK);
    assert_non_null(strstr(err.msg, "removed or lost"));

    /* a damaged counter */
    flip_file(cfg->counter_path, 5);
    assert_int_equal(counter_read(cfg, &v, &exists, &err), SECUP_E_STATE_ROLLBACK);
    assert_non_null(strstr(err.msg, "unusable"));
    assert_int_equal(state_load(cfg, &st, &recovered, &err), SECUP_E_STATE_ROLLBACK);

    assert_int_equal(unlink(cfg->counter_path), 0);
    assert_int_equal(rmdir(cfg->state_dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* THREATS.md F10: the failure streak counts failures of one manifest in a row. */
static void test_state_failure_streak(void **state)
{
    (void)state;
    static struct state_result l;
    memset(&l, 0, sizeof(l));
    const char *m1 = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *m2 = "2222222222222222222222222222222222222222222222222222222222222222";
    state_count_result(&l, false, m1);
    assert_int_equal(l.failures, 1);
    snprintf(l.manifest_digest, sizeof(l.manifest_digest), "%s", m1);
    state_count_result(&l, false, m1);
    assert_int_equal(l.failures, 2);
    state_count_result(&l, true, m1); /* installed, not yet confirmed: still counted */
    assert_int_equal(l.failures, 2);
    state_count_result(&l, false, m1);
    assert_int_equal(l.failures, 3);
    state_count_result(&l, false, m2); /* another manifest starts again */
    assert_int_equal(l.failures, 1);
    snprintf(l.manifest_digest, sizeof(l.manifest_digest), "%s", m2);
    state_count_result(&l, true, m1);
    assert_int_equal(l.failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_good_file_resolves_paths_and_defaults),
        cmocka_unit_test(test_config_each_mistake_is_named),
        cmocka_unit_test(test_config_keks_are_kept_with_resolved_paths),
        cmocka_unit_test(test_state_survives_one_corrupt_copy_and_detects_two),
        cmocka_unit_test(test_state_floors_never_go_down),
        cmocka_unit_test(test_state_reason_from_untrusted_bytes_is_recorded),
        cmocka_unit_test(test_state_parse_refuses_garbage),
        cmocka_unit_test(test_state_secure_counter),
        cmocka_unit_test(test_state_failure_streak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
