/* The agent's online mode, the parts without a network: the "tracker" and "server"
 * configuration sections (defaults, refusals) and the online state (token, per-issuer
 * command counters) that survives one damaged copy, detects two and never lowers a
 * counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "online.h"

#define BASE \
    "{ \"device\": { \"id\": \"cam-1\", \"vendor-domain\": \"example.com\", \"class\": \"cam-v2\" },\n" \
    "  \"state-dir\": \"%s\",\n" \
    "  \"bootloader\": { \"type\": \"statefile\", \"path\": \"boot\" },\n" \
    "  \"components\": [ { \"name\": \"firmware\", \"slots\": [\"a\", \"b\"], \"slot-size\": 4096 } ],\n" \
    "  \"trust\": [ { \"name\": \"release\", \"key\": \"author.pub.pem\" } ]%s }\n"

static struct agent_config *parse(const char *dir, const char *extra, secup_rc want,
                                  const char *msg_part)
{
    static struct agent_config cfg;
    static char text[4096];
    struct secup_err err;
    secup_err_clear(&err);
    snprintf(text, sizeof(text), BASE, dir, extra);
    secup_rc rc = agent_config_parse(&cfg, text, strlen(text), "/etc/secup/device.json", &err);
    if (rc != want)
        fail_msg("expected %s, got %s: %s", secup_rc_name(want), secup_rc_name(rc), err.msg);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
    return &cfg;
}

static void test_config_sections(void **state)
{
    (void)state;
    struct agent_config *c = parse("/var/lib/secup", "", SECUP_OK, NULL);
    assert_false(c->online.tracker);
    c = parse("/var/lib/secup",
              ", \"tracker\": { \"url\": \"https://trk:8543/\", \"id\": \"trk1\", \"key\": \"trk.pub.pem\","
              " \"enrolment-token-file\": \"enrol.tok\" },"
              " \"server\": { \"url\": \"https://fw1:8443\", \"token-file\": \"/etc/secup/srv.tok\" }",
              SECUP_OK, NULL);
    assert_true(c->online.tracker);
    assert_string_equal(c->online.tracker_url, "https://trk:8543");
    assert_string_equal(c->online.tracker_id, "trk1");
    assert_string_equal(c->online.tracker_key, "/etc/secup/trk.pub.pem");
    assert_string_equal(c->online.enrolment_token_file, "/etc/secup/enrol.tok");
    assert_string_equal(c->online.server_token_file, "/etc/secup/srv.tok");
    assert_int_equal(c->online.poll_wait, 30);
    assert_int_equal(c->online.retry_initial, 5);
    assert_int_equal(c->online.retry_max, 300);
    assert_int_equal(c->online.attempts, 8);
    assert_int_equal(c->online.low_speed_time, 60);

    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"key\": \"k\" }", SECUP_E_JSON, "id");
    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\" }", SECUP_E_JSON, "key");
    parse("/s", ", \"tracker\": { \"url\": \"ftp://t\", \"id\": \"t\", \"key\": \"k\" }", SECUP_E_VALUE,
          "tracker.url");
    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\", \"poll-wait\": 3601 }",
          SECUP_E_VALUE, "poll-wait");
    /* the listener of "poll now" */
    c = parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\", \"poll-wait\": 0,"
              " \"poll-interval\": 600, \"listen\": { \"address\": \"127.0.0.1:0\","
              " \"url\": \"https://dev-1.local:{port}/v1/command\" } }",
              SECUP_OK, NULL);
    assert_int_equal(c->online.poll_wait, 0);
    assert_int_equal(c->online.poll_interval, 600);
    assert_string_equal(c->online.listen_addr, "127.0.0.1:0");
    assert_string_equal(c->online.listen_cert, "");
    assert_string_equal(c->online.callback_url, "https://dev-1.local:{port}/v1/command");
    c = parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\","
              " \"listen\": { \"address\": \"[::1]:9443\", \"cert\": \"c.pem\", \"key\": \"k.pem\" } }",
              SECUP_OK, NULL);
    assert_string_equal(c->online.listen_cert, "/etc/secup/c.pem");
    assert_string_equal(c->online.listen_key, "/etc/secup/k.pem");
    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\","
          " \"listen\": { \"address\": \"127.0.0.1:0\", \"cert\": \"c.pem\" } }",
          SECUP_E_VALUE, "neither");
    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\","
          " \"listen\": { \"address\": \"127.0.0.1:0\", \"url\": \"http://x/\" } }",
          SECUP_E_VALUE, "listen.url");
    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\","
          " \"listen\": { \"url\": \"https://x/\" } }",
          SECUP_E_JSON, "address");
    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\","
          " \"listen\": { \"address\": \"127.0.0.1:0\", \"port\": 1 } }",
          SECUP_E_JSON, "port");
    parse("/s", ", \"tracker\": { \"url\": \"https://t\", \"id\": \"t\", \"key\": \"k\", \"token\": \"x\" }",
          SECUP_E_JSON, "token");
    parse("/s", ", \"server\": { \"retry-initial\": 10, \"retry-max\": 5 }", SECUP_E_VALUE, "retry-max");
    parse("/s", ", \"server\": [1]", SECUP_E_JSON, "server");
}

static void flip(const char *path)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 20, SEEK_SET), 0);
    int ch = fgetc(f);
    assert_int_equal(fseek(f, 20, SEEK_SET), 0);
    fputc(ch ^ 0x04, f);
    fclose(f);
}

static void test_state_counters_and_copies(void **state)
{
    (void)state;
    char dir[] = "/tmp/secup-online-XXXXXX";
    char path[128];
    assert_non_null(mkdtemp(dir));
    struct agent_config *cfg = parse(dir, "", SECUP_OK, NULL);
    static struct online_state os;
    static struct online_state again;
    struct secup_err err;
    bool recovered = true;
    assert_int_equal(online_state_load(cfg, &os, &recovered, &err), SECUP_OK);
    assert_false(recovered);
    assert_int_equal(online_state_counter(&os, "trk1"), 0);

    snprintf(os.token, sizeof(os.token), "secret-token");
    assert_int_equal(online_state_set_counter(&os, "trk1", 7, &err), SECUP_OK);
    assert_int_equal(online_state_set_counter(&os, "trk1", 3, &err), SECUP_OK);
    assert_int_equal(online_state_counter(&os, "trk1"), 7); /* never lowered */
    assert_int_equal(online_state_set_counter(&os, "trk2", 1, &err), SECUP_OK);
    assert_int_equal(online_state_save(cfg, &os, &err), SECUP_OK);

    assert_int_equal(online_state_load(cfg, &again, &recovered, &err), SECUP_OK);
    assert_false(recovered);
    assert_string_equal(again.token, "secret-token");
    assert_int_equal(online_state_counter(&again, "trk1"), 7);
    assert_int_equal(online_state_counter(&again, "trk2"), 1);
    assert_int_equal(again.generation, 1);

    snprintf(path, sizeof(path), "%s/online.A", dir);
    flip(path);
    assert_int_equal(online_state_load(cfg, &again, &recovered, &err), SECUP_OK);
    assert_true(recovered);
    assert_int_equal(online_state_counter(&again, "trk1"), 7);
    snprintf(path, sizeof(path), "%s/online.B", dir);
    flip(path);
    assert_int_equal(online_state_load(cfg, &again, &recovered, &err), SECUP_E_DIGEST);

    for (int i = 0; i < ONLINE_MAX_ISSUERS - 2; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t%d", i);
        assert_int_equal(online_state_set_counter(&os, name, 1, &err), SECUP_OK);
    }
    assert_int_equal(online_state_set_counter(&os, "one-too-many", 1, &err), SECUP_E_LIMIT);

    snprintf(path, sizeof(path), "%s/online.A", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/online.B", dir);
    unlink(path);
    rmdir(dir);
}

static void test_state_parse_refuses_garbage(void **state)
{
    (void)state;
    static struct online_state os;
    static char buf[4096];
    size_t len = 0;
    struct secup_err err;
    const char *bad = "{\"generation\": 1, \"tracker-token\": 5, \"counters\": []}";
    assert_int_equal(state_seal(bad, strlen(bad), buf, sizeof(buf), &len, &err), SECUP_OK);
    assert_int_equal(online_state_parse(buf, len, &os, &err), SECUP_E_JSON);
    bad = "{\"generation\": 1, \"tracker-token\": \"\", \"counters\": [{\"issuer\": \"\", \"counter\": 1}]}";
    assert_int_equal(state_seal(bad, strlen(bad), buf, sizeof(buf), &len, &err), SECUP_OK);
    assert_int_equal(online_state_parse(buf, len, &os, &err), SECUP_E_JSON);
    assert_int_equal(online_state_parse(bad, strlen(bad), &os, &err), SECUP_E_DIGEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_sections),
        cmocka_unit_test(test_state_counters_and_copies),
        cmocka_unit_test(test_state_parse_refuses_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
