/* Signed tracker commands: round trip of every field, deterministic encoding, both
 * signature algorithms, every byte flipped and every truncation refused, the kid bound to
 * the issuer, malformed payloads named, and the receiver's acceptance check (THREATS.md
 * S7: replay, reorder, expiry; S8: another device's command). */
/* THREAT: S7 S8 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cose/cose.h"
#include "testutil.h"

static const char *const mirrors[] = {
    "https://cdn1.example.com/p/fw.bin",
    "https://cdn2.example.com/p/fw.bin",
    "http://10.0.0.1/fw.bin",
    "coaps://[2001:db8::1]/fw",
};

static struct secup_command_msg sample(void)
{
    static const char uri[] = "https://fw.example.com/v1/images/ab/manifest";
    struct secup_command_msg c;
    memset(&c, 0, sizeof(c));
    for (int i = 0; i < 16; i++)
        c.id[i] = (uint8_t)(0xc0 + i);
    c.issuer = secup_bytes_of("trk-eu", 6);
    c.target = secup_bytes_of("cam-0001", 8);
    c.counter = 300;
    c.issued_at = 1795000000;
    c.expires_at = 1795086400;
    c.action = SECUP_COMMAND_INSTALL;
    c.manifest_uri = secup_bytes_of(uri, sizeof(uri) - 1);
    c.has_digest = true;
    for (int i = 0; i < 32; i++)
        c.digest[i] = (uint8_t)i;
    c.has_seq = true;
    c.seq = 42;
    c.rollout = secup_bytes_of("ro-2026-07", 10);
    c.n_uris = SECUP_COMMAND_MAX_URIS;
    for (uint32_t i = 0; i < SECUP_COMMAND_MAX_URIS; i++)
        c.uris[i] = secup_bytes_of(mirrors[i], strlen(mirrors[i]));
    return c;
}

static void test_command_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct secup_command_msg c = sample();
    struct secup_command_msg back;
    uint8_t buf[1024];
    uint8_t again[1024];
    size_t len = 0;
    size_t len2 = 0;
    struct secup_err err;
    assert_int_equal(secup_command_encode(&c, buf, sizeof(buf), &len, &err), SECUP_OK);
    assert_int_equal(secup_command_decode(&back, secup_bytes_of(buf, len), &err), SECUP_OK);
    assert_memory_equal(back.id, c.id, 16);
    assert_true(secup_bytes_equal(back.issuer, c.issuer));
    assert_true(secup_bytes_equal(back.target, c.target));
    assert_int_equal(back.counter, 300);
    assert_int_equal(back.issued_at, 1795000000);
    assert_int_equal(back.expires_at, 1795086400);
    assert_int_equal(back.action, SECUP_COMMAND_INSTALL);
    assert_true(secup_bytes_equal(back.manifest_uri, c.manifest_uri));
    assert_true(back.has_digest);
    assert_memory_equal(back.digest, c.digest, 32);
    assert_true(back.has_seq);
    assert_int_equal(back.seq, 42);
    assert_true(secup_bytes_equal(back.rollout, c.rollout));
    assert_int_equal(back.n_uris, SECUP_COMMAND_MAX_URIS);
    for (uint32_t i = 0; i < SECUP_COMMAND_MAX_URIS; i++)
        assert_true(secup_bytes_equal(back.uris[i], c.uris[i]));
    assert_int_equal(secup_command_encode(&back, again, sizeof(again), &len2, &err), SECUP_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);
    /* size query, and a buffer one byte short refused rather than overrun */
    assert_int_equal(secup_command_encode(&c, NULL, 0, &len2, &err), SECUP_E_BUF_SMALL);
    assert_int_equal(len2, len);
    assert_int_equal(secup_command_encode(&c, buf, len - 1, &len2, &err), SECUP_E_BUF_SMALL);
}

/* The CBOR of a minimal "nothing" command, written out by hand. */
#define CMD_ID "025000000000000000000000000000000000"
#define CMD_BASE7 "0101" CMD_ID "036169" "046174" "0501" "0602" "0703"
#define CMD_DIGEST "0a822f5820" \
    "0000000000000000000000000000000000000000000000000000000000000000"

static void test_command_encoding_is_deterministic(void **state)
{
    (void)state;
    struct secup_command_msg c;
    memset(&c, 0, sizeof(c));
    c.issuer = secup_bytes_of("i", 1);
    c.target = secup_bytes_of("t", 1);
    c.counter = 1;
    c.issued_at = 2;
    c.expires_at = 3;
    c.action = SECUP_COMMAND_NOTHING;
    uint8_t want[64];
    size_t want_len = 0;
    assert_true(secup_hex_decode("a8" CMD_BASE7 "0802", want, sizeof(want), &want_len));
    uint8_t buf[64];
    size_t len = 0;
    struct secup_err err;
    assert_int_equal(secup_command_encode(&c, buf, sizeof(buf), &len, &err), SECUP_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(buf, want, len);

    /* shortest heads for every integer width; encoding twice gives the same bytes */
    struct secup_command_msg big = sample();
    big.counter = UINT64_MAX;
    big.seq = 0x10000;
    big.issued_at = 0xff;
    uint8_t a[1024];
    uint8_t b[1024];
    size_t la = 0;
    size_t lb = 0;
    struct secup_command_msg back;
    assert_int_equal(secup_command_encode(&big, a, sizeof(a), &la, &err), SECUP_OK);
    assert_int_equal(secup_command_encode(&big, b, sizeof(b), &lb, &err), SECUP_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(secup_command_decode(&back, secup_bytes_of(a, la), &err), SECUP_OK);
    assert_true(back.counter == UINT64_MAX);
    assert_int_equal(back.seq, 0x10000);
}

static secup_rc verify_only(struct secup_bytes in, const struct secup_key *key,
                            struct secup_err *err)
{
    static struct secup_command_msg c;
    return secup_command_verify(in, key, &c, err);
}

static void sign_verify(enum secup_key_type type)
{
    struct secup_key *key = NULL;
    struct secup_key *other = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, type, &err), SECUP_OK);
    assert_int_equal(secup_key_generate(&other, type, &err), SECUP_OK);
    struct secup_command_msg c = sample();
    struct secup_command_msg got;
    uint8_t buf[2048];
    size_t len = 0;
    assert_int_equal(secup_command_sign(&c, key, buf, sizeof(buf), &len, &err), SECUP_OK);
    struct secup_bytes who;
    assert_int_equal(secup_command_peek_issuer(secup_bytes_of(buf, len), &who, &err), SECUP_OK);
    assert_true(secup_bytes_equal(who, c.issuer));
    assert_int_equal(secup_command_verify(secup_bytes_of(buf, len), key, &got, &err), SECUP_OK);
    assert_int_equal(got.counter, 300);
    assert_true(secup_bytes_equal(got.target, c.target));
    assert_int_equal(secup_command_verify(secup_bytes_of(buf, len), other, &got, &err),
                     SECUP_E_SIG);
    assert_int_equal(got.counter, 0); /* zeroed on failure */
    tu_every_change_refused(buf, len, key, verify_only);
    assert_int_equal(secup_command_verify(secup_bytes_of(buf, len), key, &got, &err), SECUP_OK);
    secup_key_free(key);
    secup_key_free(other);
}

static void test_command_p256_signature_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_P256);
}

static void test_command_ed25519_signature_verifies_and_refuses_changes(void **state)
{
    (void)state;
    sign_verify(SECUP_KEY_ED25519);
}

static void test_command_kid_other_than_issuer_is_refused(void **state)
{
    (void)state;
    struct secup_key *key = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, SECUP_KEY_ED25519, &err), SECUP_OK);
    struct secup_command_msg c = sample();
    struct secup_command_msg got;
    uint8_t payload[1024];
    size_t plen = 0;
    assert_int_equal(secup_command_encode(&c, payload, sizeof(payload), &plen, &err), SECUP_OK);
    /* a correct signature by the right key, under a kid that names another tracker, or none */
    static const char *const kids[] = { "trk-us", "trk-e", "trk-eu2", "" };
    for (size_t i = 0; i < ARRAY_SIZE(kids); i++) {
        uint8_t buf[2048];
        size_t len = 0;
        assert_int_equal(secup_cose_sign1_attached(key, secup_bytes_of(payload, plen),
                                                   secup_bytes_of(kids[i], strlen(kids[i])),
                                                   buf, sizeof(buf), &len, &err),
                         SECUP_OK);
        assert_int_equal(secup_command_verify(secup_bytes_of(buf, len), key, &got, &err),
                         SECUP_E_VALUE);
        assert_int_equal(got.counter, 0);
    }
    secup_key_free(key);
}

static void test_command_x25519_key_cannot_sign(void **state)
{
    (void)state;
    struct secup_key *key = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, SECUP_KEY_X25519, &err), SECUP_OK);
    struct secup_command_msg c = sample();
    uint8_t buf[2048];
    size_t len = 0;
    assert_int_equal(secup_command_sign(&c, key, buf, sizeof(buf), &len, &err), SECUP_E_ARG);
    secup_key_free(key);
}

static void test_command_encoder_refuses_what_decoder_refuses(void **state)
{
    (void)state;
    static char longtext[SECUP_COMMAND_MAX_TEXT + 1];
    memset(longtext, 'a', sizeof(longtext));
    struct secup_bytes too_long = secup_bytes_of(longtext, sizeof(longtext));
    struct secup_bytes empty = secup_bytes_of("", 0);
    for (int i = 0; i < 9; i++) {
        struct secup_command_msg c = sample();
        switch (i) {
        case 0: c.action = (enum secup_command_action)0; break;
        case 1: c.action = (enum secup_command_action)5; break;
        case 2: c.issuer = empty; break;
        case 3: c.target = too_long; break;
        case 4: c.has_digest = false; break;
        case 5: c.manifest_uri = empty; break;
        case 6: c.action = SECUP_COMMAND_CANCEL; c.rollout = empty; break;
        case 7: c.n_uris = SECUP_COMMAND_MAX_URIS + 1; break;
        case 8: c.uris[2] = empty; break;
        }
        uint8_t buf[2048];
        size_t len = 0;
        struct secup_err err;
        secup_rc rc = secup_command_encode(&c, buf, sizeof(buf), &len, &err);
        if (rc != SECUP_E_ARG)
            fail_msg("case %d: %s, expected SECUP_E_ARG", i, secup_rc_name(rc));
    }
    /* every field at its bound: the payload is over SECUP_COMMAND_MAX_SIZE */
    struct secup_key *key = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, SECUP_KEY_ED25519, &err), SECUP_OK);
    struct secup_command_msg c = sample();
    c.manifest_uri = secup_bytes_of(longtext, SECUP_COMMAND_MAX_TEXT);
    for (uint32_t i = 0; i < SECUP_COMMAND_MAX_URIS; i++)
        c.uris[i] = secup_bytes_of(longtext, SECUP_COMMAND_MAX_TEXT);
    static uint8_t big[2 * SECUP_COMMAND_MAX_SIZE];
    size_t len = 0;
    assert_int_equal(secup_command_sign(&c, key, big, sizeof(big), &len, &err),
                     SECUP_E_LIMIT_SIZE);
    secup_key_free(key);
}

static void test_command_malformed_payloads_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        secup_rc rc;
    } cases[] = {
        { "a8" CMD_BASE7 "0802", SECUP_OK },                      /* nothing */
        { "a8" CMD_BASE7 "0803", SECUP_OK },                      /* report */
        { "a9" CMD_BASE7 "0804" "0c6172", SECUP_OK },             /* cancel ro */
        { "ab" CMD_BASE7 "0801" "096175" CMD_DIGEST "0b01", SECUP_OK }, /* install */
        { "a8" "0802" CMD_BASE7, SECUP_OK },                      /* any key order */
        { "a0", SECUP_E_MISSING },                                /* {} */
        { "a7" CMD_BASE7, SECUP_E_MISSING },                      /* no action */
        { "a8" CMD_BASE7 "0801", SECUP_E_MISSING },               /* install, nothing else */
        { "aa" CMD_BASE7 "0801" "096175" "0b01", SECUP_E_MISSING },      /* no digest */
        { "aa" CMD_BASE7 "0801" CMD_DIGEST "0b01", SECUP_E_MISSING },    /* no uri */
        { "aa" CMD_BASE7 "0801" "096175" CMD_DIGEST, SECUP_E_MISSING },  /* no seq */
        { "a8" CMD_BASE7 "0804", SECUP_E_MISSING },               /* cancel, no rollout */
        { "a9" CMD_BASE7 "0802" "0802", SECUP_E_DUPLICATE },      /* action twice */
        { "a201010101", SECUP_E_DUPLICATE },                      /* {1: 1, 1: 1} */
        { "a9" CMD_BASE7 "0802" "0c", SECUP_E_CBOR },             /* truncated */
        { "a8" CMD_BASE7 "0802" "00", SECUP_E_TRAILING },         /* a byte after */
        { "a20101", SECUP_E_CBOR },                               /* truncated map */
        { "a10250", SECUP_E_CBOR },                               /* truncated id */
        { "80", SECUP_E_TYPE },                                   /* not a map */
        { "c0a0", SECUP_E_TYPE },                                 /* tagged map */
        { "ae", SECUP_E_LIMIT_ITEMS },                            /* 14 entries */
        { "a10102", SECUP_E_UNSUPPORTED },                        /* format 2 */
        { "a1016131", SECUP_E_TYPE },                             /* format "1" */
        { "a10e00", SECUP_E_UNKNOWN_KEY },                        /* {14: 0} */
        { "a1182000", SECUP_E_UNKNOWN_KEY },                      /* {32: 0} */
        { "a12000", SECUP_E_UNKNOWN_KEY },                        /* {-1: 0} */
        { "a1616100", SECUP_E_TYPE },                             /* {"a": 0} */
        { "a10201", SECUP_E_TYPE },                               /* id not bstr */
        { "a1024f000000000000000000000000000000", SECUP_E_VALUE }, /* id of 15 */
        { "a102510000000000000000000000000000000000", SECUP_E_VALUE }, /* id of 17 */
        { "a10341", SECUP_E_CBOR },                               /* truncated bstr */
        { "a1034169", SECUP_E_TYPE },                             /* issuer not text */
        { "a10360", SECUP_E_VALUE },                              /* issuer empty */
        { "a10460", SECUP_E_VALUE },                              /* target empty */
        { "a10401", SECUP_E_TYPE },                               /* target not text */
        { "a10520", SECUP_E_TYPE },                               /* counter -1 */
        { "a105f5", SECUP_E_TYPE },                               /* counter true */
        { "a10620", SECUP_E_TYPE },                               /* issued-at -1 */
        { "a10761", SECUP_E_CBOR },                               /* truncated text */
        { "a107fb0000000000000000", SECUP_E_TYPE },               /* expires-at 0.0 */
        { "a10800", SECUP_E_VALUE },                              /* action 0 */
        { "a10805", SECUP_E_VALUE },                              /* action 5 */
        { "a1081864", SECUP_E_VALUE },                            /* action 100 */
        { "a10820", SECUP_E_TYPE },                               /* action -1 */
        { "a10901", SECUP_E_TYPE },                               /* uri not text */
        { "a10960", SECUP_E_VALUE },                              /* uri empty */
        { "a10a01", SECUP_E_TYPE },                               /* digest not array */
        { "a10a820040", SECUP_E_UNSUPPORTED },                    /* digest [0, h''] */
        { "a10a81", SECUP_E_VALUE },                              /* digest [x] */
        { "a10b20", SECUP_E_TYPE },                               /* seq -1 */
        { "a10c60", SECUP_E_VALUE },                              /* rollout empty */
        { "a10c01", SECUP_E_TYPE },                               /* rollout not text */
        { "a10d80", SECUP_E_VALUE },                              /* no uris */
        { "a10d85", SECUP_E_LIMIT_ITEMS },                        /* 5 uris */
        { "a10d6161", SECUP_E_TYPE },                             /* uris not array */
        { "a10d8101", SECUP_E_TYPE },                             /* uri entry not text */
        { "a10d8160", SECUP_E_VALUE },                            /* uri entry empty */
        { "bf0101ff", SECUP_E_INDEFINITE },                       /* indefinite map */
        { "a1037f6169ff", SECUP_E_INDEFINITE },                   /* indefinite text */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint8_t in[256];
        size_t n = 0;
        struct secup_command_msg got;
        struct secup_err err;
        assert_true(secup_hex_decode(cases[i].hex, in, sizeof(in), &n));
        secup_rc rc = secup_command_decode(&got, secup_bytes_of(in, n), &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %s, expected %s: %s", i, cases[i].hex, secup_rc_name(rc),
                     secup_rc_name(cases[i].rc), err.msg);
    }
}

static void test_command_decode_enforces_text_and_size_bounds(void **state)
{
    (void)state;
    static uint8_t in[SECUP_COMMAND_MAX_SIZE + 16];
    struct secup_command_msg got;
    struct secup_err err;
    /* {4: tstr of MAX_TEXT + 1 bytes} */
    size_t n = 0;
    in[n++] = 0xa1;
    in[n++] = 0x04;
    in[n++] = 0x79;
    in[n++] = (uint8_t)((SECUP_COMMAND_MAX_TEXT + 1) >> 8);
    in[n++] = (uint8_t)((SECUP_COMMAND_MAX_TEXT + 1) & 0xff);
    memset(in + n, 'a', SECUP_COMMAND_MAX_TEXT + 1);
    n += SECUP_COMMAND_MAX_TEXT + 1;
    assert_int_equal(secup_command_decode(&got, secup_bytes_of(in, n), &err),
                     SECUP_E_LIMIT_STRING);
    /* at the bound, the text is taken (the rest is missing) */
    in[4] = (uint8_t)(SECUP_COMMAND_MAX_TEXT & 0xff);
    in[3] = (uint8_t)(SECUP_COMMAND_MAX_TEXT >> 8);
    assert_int_equal(secup_command_decode(&got, secup_bytes_of(in, n - 1), &err),
                     SECUP_E_MISSING);
    /* more than SECUP_COMMAND_MAX_SIZE bytes are refused before parsing */
    assert_int_equal(secup_command_decode(&got, secup_bytes_of(in, SECUP_COMMAND_MAX_SIZE + 1),
                                          &err),
                     SECUP_E_LIMIT_SIZE);
    struct secup_bytes who;
    static uint8_t huge[SECUP_COMMAND_MAX_SIZE + 512];
    assert_int_equal(secup_command_peek_issuer(secup_bytes_of(huge, sizeof(huge)), &who, &err),
                     SECUP_E_LIMIT_SIZE);
}

static struct secup_command_msg window(uint64_t issued, uint64_t expires)
{
    struct secup_command_msg c = sample();
    c.counter = 10;
    c.issued_at = issued;
    c.expires_at = expires;
    return c;
}

static void test_command_accept_checks_audience_order_and_time(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        const char *me;
        uint64_t issued, expires, now, last, skew;
        secup_rc rc;
    } cases[] = {
        { "inside the window", "cam-0001", 1000, 2000, 1500, 9, 60, SECUP_OK },
        { "first command ever", "cam-0001", 1000, 2000, 1500, 0, 60, SECUP_OK },
        { "at issue time", "cam-0001", 1000, 2000, 1000, 9, 0, SECUP_OK },
        { "at expiry", "cam-0001", 1000, 2000, 2000, 9, 60, SECUP_OK },
        { "ahead by the skew", "cam-0001", 1000, 2000, 940, 9, 60, SECUP_OK },
        { "other target", "cam-0002", 1000, 2000, 1500, 9, 60, SECUP_E_AUDIENCE },
        { "target prefix", "cam-000", 1000, 2000, 1500, 9, 60, SECUP_E_AUDIENCE },
        { "target extended", "cam-00010", 1000, 2000, 1500, 9, 60, SECUP_E_AUDIENCE },
        { "empty id", "", 1000, 2000, 1500, 9, 60, SECUP_E_AUDIENCE },
        { "replayed (equal)", "cam-0001", 1000, 2000, 1500, 10, 60, SECUP_E_REPLAY },
        { "reordered (lower)", "cam-0001", 1000, 2000, 1500, 11, 60, SECUP_E_REPLAY },
        { "far lower", "cam-0001", 1000, 2000, 1500, UINT64_MAX, 60, SECUP_E_REPLAY },
        { "expired", "cam-0001", 1000, 2000, 2001, 9, 60, SECUP_E_EXPIRED },
        { "long expired", "cam-0001", 1000, 2000, UINT64_MAX, 9, UINT64_MAX, SECUP_E_EXPIRED },
        { "not yet valid", "cam-0001", 1000, 2000, 939, 9, 60, SECUP_E_EXPIRED },
        { "not yet valid, no skew", "cam-0001", 1000, 2000, 999, 9, 0, SECUP_E_EXPIRED },
        { "expiry before issue", "cam-0001", 2000, 1000, 1500, 9, 60, SECUP_E_EXPIRED },
        { "expiry at issue", "cam-0001", 1000, 1000, 1000, 9, 60, SECUP_E_EXPIRED },
        { "skew does not wrap", "cam-0001", UINT64_MAX - 1, UINT64_MAX, 5, 9, UINT64_MAX - 6,
          SECUP_OK },
        { "skew does not wrap, short", "cam-0001", UINT64_MAX - 1, UINT64_MAX, 5, 9,
          UINT64_MAX - 7, SECUP_E_EXPIRED },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct secup_command_msg c = window(cases[i].issued, cases[i].expires);
        struct secup_err err;
        memset(&err, 0, sizeof(err));
        secup_rc rc = secup_command_accept(&c, cases[i].me, cases[i].now, cases[i].last,
                                           cases[i].skew, &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %s, expected %s: %s", i, cases[i].what, secup_rc_name(rc),
                     secup_rc_name(cases[i].rc), err.msg);
        if (rc != SECUP_OK && (err.rc != rc || err.msg[0] == '\0'))
            fail_msg("case %zu (%s): no detail", i, cases[i].what);
    }
    struct secup_command_msg c = window(1000, 2000);
    struct secup_err err;
    assert_int_equal(secup_command_accept(&c, NULL, 1500, 0, 0, &err), SECUP_E_ARG);
    assert_int_equal(secup_command_accept(NULL, "cam-0001", 1500, 0, 0, &err), SECUP_E_ARG);
    assert_int_equal(secup_command_accept(&c, "cam-0001", 1500, 0, 0, NULL), SECUP_OK);
}

/* The whole receiver path: a captured command replayed after it was acted on, or
 * presented to another device, is refused (THREATS.md S7, S8). */
static void test_command_receiver_refuses_replay_and_redirect(void **state)
{
    (void)state;
    struct secup_key *key = NULL;
    struct secup_err err;
    assert_int_equal(secup_key_generate(&key, SECUP_KEY_P256, &err), SECUP_OK);
    struct secup_command_msg c = sample();
    uint8_t wire[2048];
    size_t len = 0;
    assert_int_equal(secup_command_sign(&c, key, wire, sizeof(wire), &len, &err), SECUP_OK);
    uint64_t stored = 299;
    uint64_t now = c.issued_at + 10;
    struct secup_command_msg got;
    assert_int_equal(secup_command_verify(secup_bytes_of(wire, len), key, &got, &err), SECUP_OK);
    assert_int_equal(secup_command_accept(&got, "cam-0001", now, stored, 30, &err), SECUP_OK);
    stored = got.counter; /* acted on: only now the counter is stored */
    assert_int_equal(secup_command_verify(secup_bytes_of(wire, len), key, &got, &err), SECUP_OK);
    assert_int_equal(secup_command_accept(&got, "cam-0001", now + 1, stored, 30, &err),
                     SECUP_E_REPLAY);
    assert_int_equal(secup_command_accept(&got, "cam-0002", now + 1, 0, 30, &err),
                     SECUP_E_AUDIENCE);
    secup_key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_round_trip_keeps_every_field),
        cmocka_unit_test(test_command_encoding_is_deterministic),
        cmocka_unit_test(test_command_p256_signature_verifies_and_refuses_changes),
        cmocka_unit_test(test_command_ed25519_signature_verifies_and_refuses_changes),
        cmocka_unit_test(test_command_kid_other_than_issuer_is_refused),
        cmocka_unit_test(test_command_x25519_key_cannot_sign),
        cmocka_unit_test(test_command_encoder_refuses_what_decoder_refuses),
        cmocka_unit_test(test_command_malformed_payloads_are_named),
        cmocka_unit_test(test_command_decode_enforces_text_and_size_bounds),
        cmocka_unit_test(test_command_accept_checks_audience_order_and_time),
        cmocka_unit_test(test_command_receiver_refuses_replay_and_redirect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
