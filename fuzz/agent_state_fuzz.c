/* Fuzz target: the agent's durable documents (programs/agent/state.c, trust.c): the state
 * copies, the trust store copies and trust-update documents.
 *
 * Byte 0 selects the parser; the rest is its input:
 *   0 / 2  a state / trust store copy as stored (its sha256 line must match)
 *   1 / 3  a state / trust store JSON body, sealed here with its correct checksum line so
 *          that the fuzzer reaches the JSON checks behind the checksum
 *   4      a trust-update document
 * Invariants: a refusal carries its code and message and leaves the output zeroed; an
 * accepted state or store re-formats to a text that parses to the same document and
 * formats to the same bytes again (a fixed point); accepted values stay inside their
 * bounds. */
/* THREAT: P8 */
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "trust.h"

static struct agent_config cfg;

static void init(void)
{
    static bool done;
    static const char text[] =
        "{ \"device\": { \"id\": \"f\", \"vendor-domain\": \"example.com\", \"class\": \"c\" },"
        "  \"state-dir\": \"/s\", \"bootloader\": { \"type\": \"statefile\", \"path\": \"/s/boot\" },"
        "  \"components\": [ { \"name\": \"firmware\", \"slots\": [\"/a\", \"/b\"], \"slot-size\": 4096 },"
        "                    { \"name\": \"data\", \"slots\": [\"/c\", \"/d\"], \"slot-size\": 4096 } ],"
        "  \"trust\": [ { \"name\": \"release\", \"key\": \"/k.pem\" } ] }";
    struct secup_err err;
    if (done)
        return;
    if (agent_config_parse(&cfg, text, strlen(text), "/etc/secup/device.json", &err) != SECUP_OK)
        fuzz_common_fail("fixed configuration: %s", err.msg);
    done = true;
}

static bool is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i])
            return false;
    }
    return true;
}

static void check_state(const struct agent_state *st)
{
    static char buf[64 * 1024];
    static char buf2[64 * 1024];
    static struct agent_state again;
    struct secup_err err;
    size_t len = 0;
    size_t len2 = 0;
    if (st->pending >> AGENT_MAX_COMPONENTS || st->confirming >> AGENT_MAX_COMPONENTS ||
        st->falling_back >> AGENT_MAX_COMPONENTS)
        fuzz_common_fail("a journal names unknown components");
    for (uint32_t c = 0; c < AGENT_MAX_COMPONENTS; c++) {
        if (st->comp[c].n_floors > AGENT_MAX_ALL_ANCHORS)
            fuzz_common_fail("%u floors", st->comp[c].n_floors);
        if (c >= cfg.n_components && !is_zero(&st->comp[c], sizeof(st->comp[c])))
            fuzz_common_fail("a component the configuration lacks was kept");
    }
    secup_rc rc = state_format(&cfg, st, buf, sizeof(buf), &len, &err);
    if (rc == SECUP_E_BUF_SMALL)
        return;
    if (rc != SECUP_OK)
        fuzz_common_fail("an accepted state does not format: %s", err.msg);
    if (state_parse(&cfg, buf, len, &again, &err) != SECUP_OK)
        fuzz_common_fail("a formatted state does not parse: %s", err.msg);
    if (state_format(&cfg, &again, buf2, sizeof(buf2), &len2, &err) != SECUP_OK || len != len2 ||
        memcmp(buf, buf2, len) != 0)
        fuzz_common_fail("the state format is not a fixed point");
    if (again.generation != st->generation || again.report_counter != st->report_counter)
        fuzz_common_fail("a round trip changed the generation or the report counter");
}

static void check_store(const struct trust_store *ts)
{
    static char buf[64 * 1024];
    static char buf2[64 * 1024];
    static struct trust_store again;
    struct secup_err err;
    size_t len = 0;
    size_t len2 = 0;
    if (ts->n_added > TRUST_MAX_ADDED || ts->n_retired > TRUST_MAX_RETIRED ||
        ts->n_floors > AGENT_MAX_ALL_ANCHORS)
        fuzz_common_fail("a trust store over its bounds was accepted");
    for (uint32_t i = 0; i < ts->n_added; i++) {
        if (ts->added[i].components >> cfg.n_components)
            fuzz_common_fail("an added anchor names unknown components");
    }
    secup_rc rc = trust_format(&cfg, ts, buf, sizeof(buf), &len, &err);
    if (rc == SECUP_E_BUF_SMALL)
        return;
    if (rc != SECUP_OK)
        fuzz_common_fail("an accepted trust store does not format: %s", err.msg);
    if (trust_parse(&cfg, buf, len, &again, &err) != SECUP_OK)
        fuzz_common_fail("a formatted trust store does not parse: %s", err.msg);
    if (trust_format(&cfg, &again, buf2, sizeof(buf2), &len2, &err) != SECUP_OK || len != len2 ||
        memcmp(buf, buf2, len) != 0)
        fuzz_common_fail("the trust store format is not a fixed point");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct agent_state st;
    static struct trust_store ts;
    static struct trust_update u;
    static char sealed[80 * 1024];
    struct secup_err err;
    init();
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 5;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (mode == 1 || mode == 3) {
        size_t n = 0;
        if (state_seal(text, len, sealed, sizeof(sealed), &n, &err) != SECUP_OK)
            return 0;
        text = sealed;
        len = n;
    }
    secup_rc rc;
    switch (mode) {
    case 0:
    case 1:
        rc = state_parse(&cfg, text, len, &st, &err);
        if (rc != SECUP_OK) {
            fuzz_common_check_failure(rc, &err, "state_parse");
            if (!is_zero(&st, sizeof(st)))
                fuzz_common_fail("a refused state was left behind");
        } else {
            check_state(&st);
        }
        break;
    case 2:
    case 3:
        rc = trust_parse(&cfg, text, len, &ts, &err);
        if (rc != SECUP_OK) {
            fuzz_common_check_failure(rc, &err, "trust_parse");
            if (!is_zero(&ts, sizeof(ts)))
                fuzz_common_fail("a refused trust store was left behind");
        } else {
            check_store(&ts);
        }
        break;
    default:
        rc = trust_update_parse(&cfg, text, len, &u, &err);
        if (rc != SECUP_OK) {
            fuzz_common_check_failure(rc, &err, "trust_update_parse");
            if (!is_zero(&u, sizeof(u)))
                fuzz_common_fail("a refused trust update was left behind");
        } else if (u.n_add + u.n_retire == 0 || u.n_add > TRUST_MAX_ADDED ||
                   u.n_retire > AGENT_MAX_ALL_ANCHORS) {
            fuzz_common_fail("a trust update with %u additions and %u retirements", u.n_add, u.n_retire);
        }
        break;
    }
    return 0;
}
