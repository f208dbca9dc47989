/* Bootloader backends of secup-agent: programs/agent/boot*.c.
 *
 * The state file parser gets the parser treatment of STYLE.md section 9 (one case per
 * malformed field, truncation and bit-flip sweeps). The U-Boot and GRUB backends run
 * against real environments made by the real tools: mkenvimage and fw_printenv/fw_setenv
 * (u-boot-tools, libubootenv-tool) and grub-editenv (grub-common). When those tools are
 * missing these tests fail, on purpose: CI installs them with `scripts/deps --test`. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot.h"
#include "boot_tool.h"
#include "testutil.h"

#define TOOLS_HINT "(install libubootenv-tool u-boot-tools grub-common: scripts/deps --test)"

struct fx {
    char dir[256];
    char sub[300];    /* dir/a b'c: a space and a quote, which reach the tools unharmed */
    char path[600];   /* state file, fw_env.config or grubenv */
    char env[2][600]; /* U-Boot environment copies */
    struct boot_backend b;
};

/* ---- helpers ---- */

static const char *package_of(const char *tool)
{
    if (strcmp(tool, "mkenvimage") == 0)
        return "u-boot-tools";
    if (strncmp(tool, "fw_", 3) == 0)
        return "libubootenv-tool";
    if (strcmp(tool, "grub-editenv") == 0)
        return "grub-common";
    return NULL;
}

static void run_ok(const char *const argv[], const char *input, char *out, size_t cap)
{
    struct secup_err err;
    char scratch[4096];
    size_t len = 0;
    if (!out) {
        out = scratch;
        cap = sizeof(scratch);
    }
    secup_rc rc =
        boot_tool_run("", package_of(argv[0]), argv,
                      secup_bytes_of(input, input ? strlen(input) : 0), out, cap, &len, &err);
    if (rc != SECUP_OK)
        fail_msg("%s %s", err.msg, TOOLS_HINT);
}

/* For fixtures: cmocka skips the teardown when a setup fails, so a setup reports a
 * failure by returning instead of asserting, after cleaning up. */
static bool run_setup(const char *const argv[], const char *input)
{
    struct secup_err err;
    char out[4096];
    size_t len = 0;
    secup_rc rc = boot_tool_run("", package_of(argv[0]), argv,
                                secup_bytes_of(input, input ? strlen(input) : 0), out, sizeof(out),
                                &len, &err);
    if (rc != SECUP_OK)
        print_error("%s %s\n", err.msg, TOOLS_HINT);
    return rc == SECUP_OK;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static char *read_all(const char *path, size_t *len)
{
    return (char *)tu_read(path, len);
}

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *data = read_all(from, &len);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    free(data);
}

static void patch_file(const char *path, off_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

static unsigned count_entries(const char *dir)
{
    char out[4096];
    const char *const argv[] = {"ls", "-A", dir, NULL};
    run_ok(argv, NULL, out, sizeof(out));
    unsigned n = 0;
    for (const char *p = out; *p; p++)
        n += *p == '\n';
    return n;
}

/* The real location of a tool, found through PATH, or fail. */
static void which(const char *tool, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
    for (char *p = buf; p && *p;) {
        char *colon = strchr(p, ':');
        if (colon)
            *colon = '\0';
        int n = snprintf(out, cap, "%s/%s", p, tool);
        if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0)
            return;
        p = colon ? colon + 1 : NULL;
    }
    fail_msg("%s not found in PATH %s", tool, TOOLS_HINT);
}

/* A directory of fake tools: name -> shell script body; "=real" links the real tool. */
static void fake_tool(struct fx *f, const char *name, const char *script)
{
    snprintf(f->b.tool_dir, sizeof(f->b.tool_dir), "%s/bin", f->sub);
    mkdir(f->b.tool_dir, 0700);
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", f->b.tool_dir, name);
    if (strcmp(script, "=real") == 0) {
        char real[4096];
        which(name, real, sizeof(real));
        assert_int_equal(symlink(real, p), 0);
        return;
    }
    char text[1024];
    snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", script);
    write_text(p, text, 0755);
}

static bool open_setup(struct fx *f, const char *name)
{
    struct secup_err err;
    if (boot_open(&f->b, name, f->path, &err) != SECUP_OK) {
        print_error("boot_open(%s, %s): %s\n", name, f->path, err.msg);
        return false;
    }
    return strcmp(f->b.ops->name, name) == 0;
}

static void get_ok(struct fx *f, const char *comp, struct boot_state *st)
{
    struct secup_err err;
    if (f->b.ops->get(&f->b, comp, st, &err) != SECUP_OK)
        fail_msg("get(%s): %s [%s]", comp, err.msg, secup_rc_name(err.rc));
}

static void set_ok(struct fx *f, const char *comp, int active, int trial, uint32_t attempts)
{
    struct secup_err err;
    struct boot_state st = {active, trial, attempts};
    if (f->b.ops->set(&f->b, comp, &st, &err) != SECUP_OK)
        fail_msg("set(%s): %s [%s]", comp, err.msg, secup_rc_name(err.rc));
}

static void assert_state(struct fx *f, const char *comp, int active, int trial, uint32_t attempts)
{
    struct boot_state st = {9, 9, 9};
    get_ok(f, comp, &st);
    assert_int_equal(st.active, active);
    assert_int_equal(st.trial, trial);
    assert_int_equal(st.attempts, attempts);
}

/* ---- fixtures ---- */

static int setup_dir(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/secup-boot-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    /* No shell sits between the backends and the tools, so a path with a space and a
     * quote must work. (Not for the environment devices themselves: fw_env.config is
     * whitespace-separated.) */
    snprintf(f->sub, sizeof(f->sub), "%s/a b'c", f->dir);
    assert_int_equal(mkdir(f->sub, 0700), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->b.ops)
        f->b.ops->close(&f->b);
    const char *const argv[] = {"rm", "-rf", "--", f->dir, NULL};
    char out[64];
    size_t len = 0;
    (void)boot_tool_run("", NULL, argv, secup_bytes_of(NULL, 0), out, sizeof(out), &len, NULL);
    free(f);
    return 0;
}

static int setup_done(void **state, bool ok)
{
    if (ok)
        return 0;
    teardown(state);
    return -1;
}

static int setup_statefile(void **state)
{
    setup_dir(state);
    struct fx *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/bootstate", f->sub);
    return setup_done(state, open_setup(f, "statefile"));
}

static bool make_uboot_env(const char *path, bool redundant)
{
    const char *const argv[] = {"mkenvimage", "-s", "0x4000", "-o", path, "-", NULL};
    const char *const argv_r[] = {"mkenvimage", "-r", "-s", "0x4000", "-o", path, "-", NULL};
    return run_setup(redundant ? argv_r : argv, "bootcmd=run secupboot\nbootdelay=0\n");
}

static int setup_uboot(void **state)
{
    setup_dir(state);
    struct fx *f = *state;
    snprintf(f->env[0], sizeof(f->env[0]), "%s/uboot.env", f->dir);
    snprintf(f->path, sizeof(f->path), "%s/fw_env.config", f->sub);
    if (!make_uboot_env(f->env[0], false))
        return setup_done(state, false);
    char cfg[1400];
    snprintf(cfg, sizeof(cfg), "# device offset size\n%s 0x0000 0x4000\n", f->env[0]);
    write_text(f->path, cfg, 0644);
    return setup_done(state, open_setup(f, "uboot"));
}

static int setup_uboot_redundant(void **state)
{
    setup_dir(state);
    struct fx *f = *state;
    snprintf(f->env[0], sizeof(f->env[0]), "%s/uboot.env", f->dir);
    snprintf(f->env[1], sizeof(f->env[1]), "%s/uboot-redund.env", f->dir);
    snprintf(f->path, sizeof(f->path), "%s/fw_env.config", f->sub);
    if (!make_uboot_env(f->env[0], true))
        return setup_done(state, false);
    copy_file(f->env[0], f->env[1]);
    char cfg[1400];
    snprintf(cfg, sizeof(cfg), "%s 0x0000 0x4000\n%s 0x0000 0x4000\n", f->env[0], f->env[1]);
    write_text(f->path, cfg, 0644);
    return setup_done(state, open_setup(f, "uboot"));
}

static int setup_grub(void **state)
{
    setup_dir(state);
    struct fx *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/grubenv", f->sub);
    const char *const create[] = {"grub-editenv", f->path, "create", NULL};
    const char *const set[] = {"grub-editenv", f->path, "set", "saved_entry=secup-test", NULL};
    bool ok = run_setup(create, NULL) && run_setup(set, NULL) && open_setup(f, "grub");
    return setup_done(state, ok);
}

/* ---- the same behaviour from every backend ---- */

static void check_unwritten_reads_default(void **state)
{
    struct fx *f = *state;
    assert_state(f, "rootfs", 0, BOOT_NO_SLOT, 0);
}

static void check_set_then_get_round_trips(void **state)
{
    struct fx *f = *state;
    static const struct boot_state cases[] = {
        {0, 1, 3},
        {1, BOOT_NO_SLOT, 0},
        {1, 0, UINT32_MAX},
        {0, BOOT_NO_SLOT, 7},
        {0, BOOT_NO_SLOT, 0},
    };
    set_ok(f, "app", 1, 0, 2);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        set_ok(f, "rootfs", cases[i].active, cases[i].trial, cases[i].attempts);
        assert_state(f, "rootfs", cases[i].active, cases[i].trial, cases[i].attempts);
    }
    assert_state(f, "app", 1, 0, 2); /* untouched by changes of another component */
    assert_state(f, "other", 0, BOOT_NO_SLOT, 0);
}

/* The boot stage's life cycle: install marks B for three trial boots, each boot uses one,
 * and when none are left the agent falls back to A. */
static void check_attempts_count_down_then_fall_back(void **state)
{
    struct fx *f = *state;
    set_ok(f, "rootfs", 0, 1, 3);
    for (uint32_t left = 3; left > 0; left--) {
        struct boot_state st;
        get_ok(f, "rootfs", &st);
        assert_int_equal(st.trial, 1);
        assert_int_equal(st.attempts, left);
        set_ok(f, "rootfs", st.active, st.trial, st.attempts - 1);
    }
    assert_state(f, "rootfs", 0, 1, 0);
    set_ok(f, "rootfs", 0, BOOT_NO_SLOT, 0);
    assert_state(f, "rootfs", 0, BOOT_NO_SLOT, 0);
    /* and a confirmed trial makes B active */
    set_ok(f, "rootfs", 0, 1, 1);
    set_ok(f, "rootfs", 1, BOOT_NO_SLOT, 0);
    assert_state(f, "rootfs", 1, BOOT_NO_SLOT, 0);
}

static void check_invalid_state_refused_and_state_kept(void **state)
{
    struct fx *f = *state;
    static const struct boot_state bad[] = {
        {2, BOOT_NO_SLOT, 0}, {-1, BOOT_NO_SLOT, 0}, {0, 2, 1}, {0, -2, 1}, {0, 0, 1}, {1, 1, 0},
    };
    set_ok(f, "rootfs", 1, 0, 2);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct secup_err err;
        assert_int_equal(f->b.ops->set(&f->b, "rootfs", &bad[i], &err), SECUP_E_VALUE);
        assert_non_null(strstr(err.msg, "rootfs"));
    }
    assert_state(f, "rootfs", 1, 0, 2);
}

static void check_invalid_name_returns_arg(void **state)
{
    struct fx *f = *state;
    static const char *const names[] = {
        "",
        "a b",
        "a=b",
        "x/y",
        "a\nb",
        "tab\t",
        "dollar$",
        "ü",
        "a123456789012345678901234567890123456789012345678901234567890123", /* 64 chars */
    };
    struct boot_state st = {0, BOOT_NO_SLOT, 0};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct secup_err err;
        assert_int_equal(f->b.ops->get(&f->b, names[i], &st, &err), SECUP_E_ARG);
        assert_int_equal(f->b.ops->set(&f->b, names[i], &st, &err), SECUP_E_ARG);
    }
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, NULL, &st, &err), SECUP_E_ARG);
    /* the longest valid name works */
    set_ok(f, "a12345678901234567890123456789012345678901234567890123456789012", 1, 0, 1);
}

#define EACH_BACKEND(check, what)                                                                  \
    static void test_boot_statefile_##what(void **state)                                           \
    {                                                                                              \
        check(state);                                                                              \
    }                                                                                              \
    static void test_boot_uboot_##what(void **state)                                               \
    {                                                                                              \
        check(state);                                                                              \
    }                                                                                              \
    static void test_boot_uboot_redundant_##what(void **state)                                     \
    {                                                                                              \
        check(state);                                                                              \
    }                                                                                              \
    static void test_boot_grub_##what(void **state)                                                \
    {                                                                                              \
        check(state);                                                                              \
    }

EACH_BACKEND(check_unwritten_reads_default, unwritten_component_returns_default)
EACH_BACKEND(check_set_then_get_round_trips, set_then_get_returns_same_state)
EACH_BACKEND(check_attempts_count_down_then_fall_back, attempts_count_down_then_fall_back)
EACH_BACKEND(check_invalid_state_refused_and_state_kept, invalid_state_returns_value)
EACH_BACKEND(check_invalid_name_returns_arg, invalid_component_name_returns_arg)

/* ---- boot_open ---- */

static void test_boot_open_unknown_backend_returns_value(void **state)
{
    (void)state;
    struct boot_backend b;
    struct secup_err err;
    assert_int_equal(boot_open(&b, "lilo", "/tmp/x", &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "lilo"));
    assert_null(b.ops);
    assert_int_equal(boot_open(&b, NULL, "/tmp/x", &err), SECUP_E_ARG);
    assert_int_equal(boot_open(&b, "statefile", "", &err), SECUP_E_ARG);
    static char longpath[5000];
    memset(longpath, 'a', sizeof(longpath) - 1);
    assert_int_equal(boot_open(&b, "statefile", longpath, &err), SECUP_E_ARG);
}

static void test_boot_open_missing_environment_returns_noent(void **state)
{
    struct fx *f = *state;
    struct boot_backend b;
    struct secup_err err;
    char p[700];
    snprintf(p, sizeof(p), "%s/missing", f->dir);
    assert_int_equal(boot_open(&b, "uboot", p, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, "fw_env.config"));
    assert_int_equal(boot_open(&b, "grub", p, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, "grub-editenv FILE create"));
    assert_int_equal(boot_open(&b, "grub", f->dir, &err), SECUP_E_VALUE);
    assert_int_equal(access(p, F_OK), -1);
    /* a state file need not exist yet */
    assert_int_equal(boot_open(&b, "statefile", p, &err), SECUP_OK);
    assert_string_equal(b.tool_dir, "");
}

/* ---- state file format ---- */

/* Body text + its correct checksum line. */
static size_t with_sum(const char *body, char *out, size_t cap)
{
    uint8_t h[32];
    char hex[65];
    assert_int_equal(secup_sha256(secup_bytes_of(body, strlen(body)), h, NULL), SECUP_OK);
    assert_true(secup_hex_encode(secup_bytes_of(h, 32), hex, sizeof(hex)));
    int n = snprintf(out, cap, "%ssha256=%s\n", body, hex);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static const char GOOD_BODY[] = "secup-boot-state 1\n"
                                "rootfs active=1 trial=0 attempts=2\n"
                                "app active=0 trial=- attempts=0\n";

static void test_boot_statefile_parse_valid_returns_entries(void **state)
{
    (void)state;
    char text[1024];
    size_t len = with_sum(GOOD_BODY, text, sizeof(text));
    struct boot_statefile sf;
    struct secup_err err;
    assert_int_equal(boot_statefile_parse(text, len, &sf, &err), SECUP_OK);
    assert_int_equal(sf.n, 2);
    assert_string_equal(sf.e[0].comp, "rootfs");
    assert_int_equal(sf.e[0].st.active, 1);
    assert_int_equal(sf.e[0].st.trial, 0);
    assert_int_equal(sf.e[0].st.attempts, 2);
    assert_string_equal(sf.e[1].comp, "app");
    assert_int_equal(sf.e[1].st.trial, BOOT_NO_SLOT);

    /* format gives back the very same text */
    char again[1024];
    size_t again_len = 0;
    assert_int_equal(boot_statefile_format(&sf, again, sizeof(again), &again_len, &err), SECUP_OK);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, text, len);

    /* no components at all is a valid file too */
    len = with_sum("secup-boot-state 1\n", text, sizeof(text));
    assert_int_equal(boot_statefile_parse(text, len, &sf, &err), SECUP_OK);
    assert_int_equal(sf.n, 0);
}

/* line: a component line without its '\n' (malformed-line cases) or a whole body (header
 * cases); msg must appear in the error message. */
struct bad_line {
    const char *line;
    secup_rc rc;
    const char *msg;
};

static void test_boot_statefile_parse_each_malformed_line_returns_precise_error(void **state)
{
    (void)state;
    static const struct bad_line cases[] = {
        {"rootfs active=2 trial=- attempts=0", SECUP_E_VALUE,
         "line 2: active=: expected 0 or 1, found '2"},
        {"rootfs active= trial=- attempts=0", SECUP_E_VALUE, "active=: expected 0 or 1"},
        {"rootfs active=0 trial=x attempts=0", SECUP_E_VALUE, "trial=: expected 0, 1 or -"},
        {"rootfs active=0 trial=0 attempts=1", SECUP_E_VALUE,
         "line 2: component 'rootfs': trial slot 0 is the active slot"},
        {"rootfs active=1 trial=1 attempts=1", SECUP_E_VALUE, "is the active slot"},
        {"rootfs active=0 trial=- attempts=", SECUP_E_VALUE, "attempts=: expected a decimal"},
        {"rootfs active=0 trial=- attempts=01", SECUP_E_VALUE, "no leading zero"},
        {"rootfs active=0 trial=- attempts=-1", SECUP_E_VALUE, "attempts=: expected"},
        {"rootfs active=0 trial=- attempts=+1", SECUP_E_VALUE, "attempts=: expected"},
        {"rootfs active=0 trial=- attempts=4294967296", SECUP_E_VALUE, "up to 4294967295"},
        {"rootfs active=0 trial=- attempts=99999999999", SECUP_E_VALUE, "up to 4294967295"},
        {"rootfs active=0 trial=- attempts=0x10", SECUP_E_VALUE, "attempts=: expected"},
        {"rootfs active=0 trial=- attempts=1 ", SECUP_E_VALUE, "attempts=: expected"},
        {"rootfs active=0 trial=- attempts=1\r", SECUP_E_VALUE, "attempts=: expected"},
        {"rootfs  active=0 trial=- attempts=0", SECUP_E_VALUE, "' active='"},
        {"rootfs active=0  trial=- attempts=0", SECUP_E_VALUE,
         "line 2: trial=: expected ' trial=' after 'active=N', found '  trial"},
        {"rootfs active=0\ttrial=- attempts=0", SECUP_E_VALUE, "trial="},
        {"rootfs active=0 attempts=0 trial=-", SECUP_E_VALUE, "trial="},
        {"rootfs trial=- active=0 attempts=0", SECUP_E_VALUE, "active="},
        {"rootfs active=0 trial=-", SECUP_E_VALUE, "' attempts='"},
        {"rootfs active=0 trial=- attempts=0 extra=1", SECUP_E_VALUE, "attempts="},
        {"rootfs active=0 trial=- tries=0", SECUP_E_VALUE, "' attempts='"},
        {"rootfs", SECUP_E_VALUE, "' active='"},
        {" active=0 trial=- attempts=0", SECUP_E_VALUE, "line 2: component: expected a name"},
        {"", SECUP_E_VALUE, "line 2: component: expected a name"},
        {"root/fs active=0 trial=- attempts=0", SECUP_E_VALUE, "found '/fs"},
        {"röot active=0 trial=- attempts=0", SECUP_E_VALUE, "active="},
        {"Rootfs=1 active=0 trial=- attempts=0", SECUP_E_VALUE, "active="},
        {"a123456789012345678901234567890123456789012345678901234567890123 active=0 trial=- "
         "attempts=0",
         SECUP_E_VALUE, "longer than 63 bytes"},
        {"rootfs active=0 trial=- attempts=0\nrootfs active=1 trial=- attempts=0", SECUP_E_VALUE,
         "line 3: component 'rootfs' appears a second time"},
        {"rootfs active=0 trial=- "
         "attempts="
         "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "00000000000",
         SECUP_E_LIMIT, "line 2 is longer than 128 bytes"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char body[1024];
        snprintf(body, sizeof(body), "secup-boot-state 1\n%s\n", cases[i].line);
        char text[1200];
        size_t len = with_sum(body, text, sizeof(text));
        struct boot_statefile sf;
        struct secup_err err;
        secup_rc rc = boot_statefile_parse(text, len, &sf, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu '%s': got %s '%s', want %s '%s'", i, cases[i].line,
                     secup_rc_name(rc), rc ? err.msg : "", secup_rc_name(cases[i].rc),
                     cases[i].msg);
        assert_int_equal(sf.n, 0); /* nothing half-parsed comes out */
    }
}

static void test_boot_statefile_parse_nul_byte_returns_value(void **state)
{
    (void)state;
    char body[] = "secup-boot-state 1\nrootfs active=0 trial=- attempts=0\n";
    body[sizeof("secup-boot-state 1\nroot") - 1] = '\0'; /* "root\0s active=..." */
    uint8_t h[32];
    char hex[65];
    size_t blen = sizeof(body) - 1;
    assert_int_equal(secup_sha256(secup_bytes_of(body, blen), h, NULL), SECUP_OK);
    secup_hex_encode(secup_bytes_of(h, 32), hex, sizeof(hex));
    char text[256];
    memcpy(text, body, blen);
    int n = snprintf(text + blen, sizeof(text) - blen, "sha256=%s\n", hex);
    struct boot_statefile sf;
    struct secup_err err;
    assert_int_equal(boot_statefile_parse(text, blen + (size_t)n, &sf, &err), SECUP_E_VALUE);
    assert_non_null(
        strstr(err.msg, "line 2: active=: expected ' active=' after the component name, found ''"));
}

static void test_boot_statefile_parse_bad_header_returns_error(void **state)
{
    (void)state;
    static const struct bad_line cases[] = {
        {"secup-boot-state 2\n", SECUP_E_UNSUPPORTED, "format version '2' is not supported"},
        {"secup-boot-state 1.0\n", SECUP_E_UNSUPPORTED, "version '1.0'"},
        {"secup-boot-state\n", SECUP_E_VALUE, "line 1: expected 'secup-boot-state 1'"},
        {"secup-boot-state 1 \n", SECUP_E_UNSUPPORTED, "version '1 '"},
        {"rootfs active=0 trial=- attempts=0\n", SECUP_E_VALUE, "line 1: expected"},
        {"\n", SECUP_E_VALUE, "line 1: expected"},
        {"", SECUP_E_VALUE, "line 1: expected"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char text[256];
        size_t len = with_sum(cases[i].line, text, sizeof(text));
        struct boot_statefile sf;
        struct secup_err err;
        secup_rc rc = boot_statefile_parse(text, len, &sf, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %s '%s', want %s '%s'", i, secup_rc_name(rc), err.msg,
                     secup_rc_name(cases[i].rc), cases[i].msg);
    }
}

static void test_boot_statefile_parse_bad_checksum_line_returns_digest(void **state)
{
    (void)state;
    char good[1024];
    size_t len = with_sum(GOOD_BODY, good, sizeof(good));
    char *sum = strstr(good, "sha256=") + 7;
    char text[1200];
    struct boot_statefile sf;
    struct secup_err err;

    /* no checksum line at all */
    assert_int_equal(boot_statefile_parse(GOOD_BODY, strlen(GOOD_BODY), &sf, &err), SECUP_E_DIGEST);
    assert_non_null(strstr(err.msg, "not 'sha256=<64 lower-case hex digits>'"));
    /* upper-case hex: same digest value, but not the canonical form */
    memcpy(text, good, len);
    for (size_t i = (size_t)(sum - good); i < len; i++)
        text[i] = (text[i] >= 'a' && text[i] <= 'f') ? (char)(text[i] - 32) : text[i];
    assert_int_equal(boot_statefile_parse(text, len, &sf, &err), SECUP_E_DIGEST);
    /* a wrong but well-formed checksum */
    memcpy(text, good, len);
    text[sum - good] = text[sum - good] == '0' ? '1' : '0';
    assert_int_equal(boot_statefile_parse(text, len, &sf, &err), SECUP_E_DIGEST);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    /* something after the checksum line */
    memcpy(text, good, len);
    memcpy(text + len, "x\n", 2);
    assert_int_equal(boot_statefile_parse(text, len + 2, &sf, &err), SECUP_E_DIGEST);
    /* a second checksum line */
    memcpy(text, good, len);
    memcpy(text + len, good + (sum - 7 - good), 72);
    assert_int_equal(boot_statefile_parse(text, len + 72, &sf, &err), SECUP_E_DIGEST);
    /* no final newline */
    assert_int_equal(boot_statefile_parse(good, len - 1, &sf, &err), SECUP_E_DIGEST);
    assert_non_null(strstr(err.msg, "does not end with a newline"));
    /* empty */
    assert_int_equal(boot_statefile_parse(good, 0, &sf, &err), SECUP_E_DIGEST);
    assert_non_null(strstr(err.msg, "empty"));
}

static void test_boot_statefile_parse_every_truncation_returns_digest(void **state)
{
    (void)state;
    char text[1024];
    size_t len = with_sum(GOOD_BODY, text, sizeof(text));
    for (size_t cut = 0; cut < len; cut++) {
        struct boot_statefile sf;
        struct secup_err err;
        secup_rc rc = boot_statefile_parse(text, cut, &sf, &err);
        if (rc != SECUP_E_DIGEST)
            fail_msg("prefix of %zu bytes: %s %s", cut, secup_rc_name(rc), err.msg);
    }
}

static void test_boot_statefile_parse_every_bit_flip_returns_digest(void **state)
{
    (void)state;
    char text[1024];
    size_t len = with_sum(GOOD_BODY, text, sizeof(text));
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            text[i] = (char)(text[i] ^ (1 << bit));
            struct boot_statefile sf;
            struct secup_err err;
            secup_rc rc = boot_statefile_parse(text, len, &sf, &err);
            if (rc != SECUP_E_DIGEST)
                fail_msg("bit %d of byte %zu: %s %s", bit, i, secup_rc_name(rc), err.msg);
            text[i] = (char)(text[i] ^ (1 << bit));
        }
    }
}

static void test_boot_statefile_parse_over_limits_returns_limit(void **state)
{
    (void)state;
    static char body[BOOT_STATEFILE_MAX_SIZE + 256];
    static char text[BOOT_STATEFILE_MAX_SIZE + 512];
    struct boot_statefile sf;
    struct secup_err err;
    /* 33 components */
    size_t n = (size_t)snprintf(body, sizeof(body), "secup-boot-state 1\n");
    for (int i = 0; i <= BOOT_STATEFILE_MAX_COMPONENTS; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "c%d active=0 trial=- attempts=0\n", i);
    size_t len = with_sum(body, text, sizeof(text));
    assert_int_equal(boot_statefile_parse(text, len, &sf, &err), SECUP_E_LIMIT_COMPONENTS);
    assert_non_null(strstr(err.msg, "line 34: more than 32 components"));
    /* the largest allowed file: 32 components with the longest names and numbers */
    n = (size_t)snprintf(body, sizeof(body), "secup-boot-state 1\n");
    for (int i = 0; i < BOOT_STATEFILE_MAX_COMPONENTS; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "%061d%02d active=1 trial=0 attempts=4294967295\n", 0, i);
    len = with_sum(body, text, sizeof(text));
    assert_true(len <= BOOT_STATEFILE_MAX_SIZE);
    assert_int_equal(boot_statefile_parse(text, len, &sf, &err), SECUP_OK);
    assert_int_equal(sf.n, BOOT_STATEFILE_MAX_COMPONENTS);
    /* too large as a whole, checked before anything else */
    memset(text, '\n', BOOT_STATEFILE_MAX_SIZE + 1);
    assert_int_equal(boot_statefile_parse(text, BOOT_STATEFILE_MAX_SIZE + 1, &sf, &err),
                     SECUP_E_LIMIT_SIZE);
}

static void test_boot_statefile_format_refuses_bad_input(void **state)
{
    (void)state;
    struct boot_statefile sf;
    memset(&sf, 0, sizeof(sf));
    sf.n = 1;
    memcpy(sf.e[0].comp, "rootfs", 7);
    sf.e[0].st.trial = BOOT_NO_SLOT;
    char buf[512];
    size_t len = 99;
    struct secup_err err;
    assert_int_equal(boot_statefile_format(&sf, buf, 20, &len, &err), SECUP_E_BUF_SMALL);
    assert_int_equal(len, 0);
    assert_int_equal(boot_statefile_format(&sf, buf, 60, &len, &err), SECUP_E_BUF_SMALL);
    assert_int_equal(boot_statefile_format(&sf, buf, sizeof(buf), &len, &err), SECUP_OK);
    sf.e[0].st.active = 3;
    assert_int_equal(boot_statefile_format(&sf, buf, sizeof(buf), &len, &err), SECUP_E_VALUE);
    sf.e[0].st.active = 0;
    memcpy(sf.e[0].comp, "ro ot", 6);
    assert_int_equal(boot_statefile_format(&sf, buf, sizeof(buf), &len, &err), SECUP_E_VALUE);
    memcpy(sf.e[0].comp, "rootfs", 7);
    sf.n = 2;
    sf.e[1] = sf.e[0];
    assert_int_equal(boot_statefile_format(&sf, buf, sizeof(buf), &len, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "twice"));
    sf.n = BOOT_STATEFILE_MAX_COMPONENTS + 1;
    assert_int_equal(boot_statefile_format(&sf, buf, sizeof(buf), &len, &err),
                     SECUP_E_LIMIT_COMPONENTS);
}

/* ---- state file backend on disk ---- */

static void test_boot_statefile_file_holds_exact_text_mode_0600_no_leftovers(void **state)
{
    struct fx *f = *state;
    set_ok(f, "rootfs", 1, 0, 2);
    set_ok(f, "app", 0, BOOT_NO_SLOT, 0);
    char want[1024];
    size_t want_len = with_sum(GOOD_BODY, want, sizeof(want));
    size_t len = 0;
    char *got = read_all(f->path, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    free(got);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(count_entries(f->sub), 1); /* no temporary file left behind */
}

static void test_boot_statefile_flipped_bit_on_disk_returns_digest_and_is_kept(void **state)
{
    struct fx *f = *state;
    set_ok(f, "rootfs", 1, 0, 2);
    size_t len = 0;
    char *orig = read_all(f->path, &len);
    /* "trial=0" -> "trial=1" is one bit, and would silently boot the other slot */
    char *p = strstr(orig, "trial=0");
    assert_non_null(p);
    patch_file(f->path, (off_t)(p - orig) + 6, "1", 1);
    size_t flipped_len = 0;
    char *flipped = read_all(f->path, &flipped_len);

    struct boot_state st = {5, 5, 5};
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_DIGEST);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(st.active, 0); /* out-parameter reset, not half-filled */
    /* a corrupt file is not overwritten by a change of another component */
    struct boot_state next = {0, BOOT_NO_SLOT, 0};
    assert_int_equal(f->b.ops->set(&f->b, "app", &next, &err), SECUP_E_DIGEST);
    size_t now_len = 0;
    char *now = read_all(f->path, &now_len);
    assert_int_equal(now_len, flipped_len);
    assert_memory_equal(now, flipped, now_len);
    assert_int_equal(flipped_len, len);
    free(now);
    free(flipped);
    free(orig);
}

static void test_boot_statefile_torn_file_on_disk_returns_digest(void **state)
{
    struct fx *f = *state;
    set_ok(f, "rootfs", 1, 0, 2);
    set_ok(f, "app", 0, BOOT_NO_SLOT, 0);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    for (off_t cut = 0; cut < sb.st_size; cut += 13) {
        assert_int_equal(truncate(f->path, cut), 0);
        struct boot_state st;
        struct secup_err err;
        assert_int_equal(f->b.ops->get(&f->b, "app", &st, &err), SECUP_E_DIGEST);
        assert_non_null(strstr(err.msg, "boot state file"));
    }
}

static void test_boot_statefile_missing_directory_returns_noent(void **state)
{
    struct fx *f = *state;
    snprintf(f->b.path, sizeof(f->b.path), "%s/nodir/bootstate", f->dir);
    struct boot_state st = {1, BOOT_NO_SLOT, 0};
    struct secup_err err;
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &st, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, "nodir"));
    assert_state(f, "rootfs", 0, BOOT_NO_SLOT, 0); /* still "never written" */
}

static void test_boot_statefile_component_limit_returns_limit_components(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < BOOT_STATEFILE_MAX_COMPONENTS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        set_ok(f, name, i & 1, BOOT_NO_SLOT, 0);
    }
    struct boot_state st = {0, BOOT_NO_SLOT, 0};
    struct secup_err err;
    assert_int_equal(f->b.ops->set(&f->b, "onemore", &st, &err), SECUP_E_LIMIT_COMPONENTS);
    set_ok(f, "c31", 0, 1, 1); /* an existing one still changes */
    assert_state(f, "c31", 0, 1, 1);
    assert_state(f, "c30", 0, BOOT_NO_SLOT, 0);
}

/* ---- U-Boot ---- */

static void printenv(struct fx *f, const char *var, char *out, size_t cap)
{
    const char *const argv[] = {"fw_printenv", "-c", f->path, "-n", var, NULL};
    run_ok(argv, NULL, out, cap);
}

static void test_boot_uboot_values_visible_to_fw_printenv(void **state)
{
    struct fx *f = *state;
    set_ok(f, "rootfs", 0, 1, 3);
    char out[256];
    printenv(f, "secup_rootfs_active", out, sizeof(out));
    assert_string_equal(out, "0\n");
    printenv(f, "secup_rootfs_trial", out, sizeof(out));
    assert_string_equal(out, "1\n");
    printenv(f, "secup_rootfs_attempts", out, sizeof(out));
    assert_string_equal(out, "3\n");
    printenv(f, "bootcmd", out, sizeof(out));
    assert_string_equal(out, "run secupboot\n"); /* the rest of the environment is kept */

    set_ok(f, "rootfs", 1, BOOT_NO_SLOT, 0);
    char all[8192];
    const char *const argv[] = {"fw_printenv", "-c", f->path, NULL};
    run_ok(argv, NULL, all, sizeof(all));
    assert_non_null(strstr(all, "secup_rootfs_active=1\n"));
    assert_non_null(strstr(all, "secup_rootfs_attempts=0\n"));
    assert_null(strstr(all, "secup_rootfs_trial")); /* none = not set */
    assert_non_null(strstr(all, "bootdelay=0\n"));
}

/* Written by someone else (a boot script, a person): read strictly. */
static void test_boot_uboot_malformed_value_returns_value(void **state)
{
    struct fx *f = *state;
    const char *const argv[] = {"fw_setenv", "-c", f->path, "secup_rootfs_active", "7", NULL};
    run_ok(argv, NULL, NULL, 0);
    struct boot_state st;
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "secup_rootfs_active=7: expected 0 or 1"));
    assert_non_null(strstr(err.msg, f->path));
    const char *const argv2[] = {"fw_setenv", "-c", f->path, "secup_rootfs_active", "1", NULL};
    run_ok(argv2, NULL, NULL, 0);
    const char *const argv3[] = {"fw_setenv", "-c", f->path, "secup_rootfs_trial", "1", NULL};
    run_ok(argv3, NULL, NULL, 0);
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "is the active slot"));
}

static void test_boot_uboot_unreadable_environment_returns_io_with_tool_message(void **state)
{
    struct fx *f = *state;
    set_ok(f, "rootfs", 1, BOOT_NO_SLOT, 0);
    static const uint8_t zeros[64] = {0};
    patch_file(f->env[0], 0, zeros, sizeof(zeros)); /* CRC and data destroyed */
    struct boot_state st;
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "fw_printenv -c"));
    assert_non_null(strstr(err.msg, "exited with status"));
    assert_non_null(strstr(err.msg, "Cannot read environment"));
    /* fw_setenv refuses to start from an unreadable environment, and says why */
    st.active = 1;
    st.trial = BOOT_NO_SLOT;
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &st, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "fw_setenv -c"));
}

/* libubootenv writes the older copy and then marks it current: a torn write leaves the
 * previous environment readable. Simulated by corrupting the newest copy. */
static void test_boot_uboot_redundant_corrupt_newest_copy_returns_previous_state(void **state)
{
    struct fx *f = *state;
    set_ok(f, "rootfs", 0, 1, 3);
    set_ok(f, "rootfs", 0, 1, 2);
    int newest = -1;
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        char *data = read_all(f->env[i], &len);
        for (size_t k = 0; k + 23 <= len; k++) {
            if (memcmp(data + k, "secup_rootfs_attempts=2", 23) == 0)
                newest = i;
        }
        free(data);
    }
    assert_true(newest >= 0);
    patch_file(f->env[newest], 8, "torn write", 10);
    assert_state(f, "rootfs", 0, 1, 3);
    set_ok(f, "rootfs", 1, BOOT_NO_SLOT, 0); /* and the device goes on */
    assert_state(f, "rootfs", 1, BOOT_NO_SLOT, 0);
    char out[64];
    printenv(f, "bootcmd", out, sizeof(out));
    assert_string_equal(out, "run secupboot\n");
}

static void test_boot_uboot_missing_tool_returns_noent_naming_package(void **state)
{
    struct fx *f = *state;
    snprintf(f->b.tool_dir, sizeof(f->b.tool_dir), "%s/empty", f->dir);
    assert_int_equal(mkdir(f->b.tool_dir, 0700), 0);
    struct boot_state st = {1, BOOT_NO_SLOT, 0};
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, "cannot run 'fw_printenv'"));
    assert_non_null(strstr(err.msg, "libubootenv-tool"));
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &st, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, "cannot run 'fw_setenv'"));
}

static void test_boot_uboot_failing_tool_returns_io_with_stderr(void **state)
{
    struct fx *f = *state;
    fake_tool(f, "fw_printenv", "echo 'first problem' >&2\necho 'second problem' >&2\nexit 3");
    struct boot_state st;
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "exited with status 3: first problem; second problem"));
    fake_tool(f, "fw_setenv", "kill -9 $$");
    struct boot_state next = {1, BOOT_NO_SLOT, 0};
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &next, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "killed by signal 9"));
}

/* fw_setenv -s exits 0 even when it could not apply the script: the read-back catches it. */
static void test_boot_uboot_silent_setenv_failure_returns_io(void **state)
{
    struct fx *f = *state;
    fake_tool(f, "fw_printenv", "=real");
    fake_tool(f, "fw_setenv", "cat >/dev/null; exit 0");
    struct boot_state st = {1, BOOT_NO_SLOT, 0};
    struct secup_err err;
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &st, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "reported success"));
}

static void test_boot_uboot_flooding_tool_is_killed_returns_limit_size(void **state)
{
    struct fx *f = *state;
    fake_tool(f, "fw_printenv", "exec yes secup_rootfs_active=0");
    struct boot_state st;
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_LIMIT_SIZE);
    assert_non_null(strstr(err.msg, "printed more than 65536 bytes"));
}

/* ---- GRUB ---- */

static void test_boot_grub_values_visible_to_grub_editenv_and_block_kept(void **state)
{
    struct fx *f = *state;
    assert_int_equal(chmod(f->path, 0640), 0);
    set_ok(f, "rootfs", 0, 1, 3);
    char out[2048];
    const char *const list[] = {"grub-editenv", f->path, "list", NULL};
    run_ok(list, NULL, out, sizeof(out));
    assert_non_null(strstr(out, "saved_entry=secup-test\n"));
    assert_non_null(strstr(out, "secup_rootfs_active=0\n"));
    assert_non_null(strstr(out, "secup_rootfs_trial=1\n"));
    assert_non_null(strstr(out, "secup_rootfs_attempts=3\n"));

    set_ok(f, "rootfs", 1, BOOT_NO_SLOT, 0);
    run_ok(list, NULL, out, sizeof(out));
    assert_non_null(strstr(out, "secup_rootfs_active=1\n"));
    assert_null(strstr(out, "secup_rootfs_trial"));
    assert_non_null(strstr(out, "saved_entry=secup-test\n"));

    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_size, 1024); /* still a GRUB environment block */
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(count_entries(f->sub), 1); /* no working copy left behind */
}

static void test_boot_grub_deleted_block_returns_noent_and_is_not_recreated(void **state)
{
    struct fx *f = *state;
    assert_int_equal(unlink(f->path), 0);
    struct boot_state st = {1, BOOT_NO_SLOT, 0};
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_NOENT);
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &st, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_boot_grub_malformed_value_returns_value(void **state)
{
    struct fx *f = *state;
    const char *const set[] = {"grub-editenv", f->path, "set", "secup_rootfs_attempts=3x", NULL};
    run_ok(set, NULL, NULL, 0);
    struct boot_state st;
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "secup_rootfs_attempts=3x: expected a decimal number"));
    /* an empty trial is "none" */
    const char *const set2[] = {"grub-editenv",        f->path, "set", "secup_rootfs_attempts=3",
                                "secup_rootfs_trial=", NULL};
    run_ok(set2, NULL, NULL, 0);
    assert_state(f, "rootfs", 0, BOOT_NO_SLOT, 3);
}

static void test_boot_grub_full_block_returns_io_and_keeps_file(void **state)
{
    struct fx *f = *state;
    char big[1000];
    memcpy(big, "filler=", 7);
    memset(big + 7, 'x', 880);
    big[887] = '\0';
    const char *const set[] = {"grub-editenv", f->path, "set", big, NULL};
    run_ok(set, NULL, NULL, 0);
    size_t len = 0;
    char *before = read_all(f->path, &len);
    struct boot_state st = {0, 1, 3};
    struct secup_err err;
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &st, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "grub-editenv"));
    size_t after_len = 0;
    char *after = read_all(f->path, &after_len);
    assert_int_equal(after_len, len);
    assert_memory_equal(after, before, len);
    free(before);
    free(after);
    assert_int_equal(count_entries(f->sub), 1);
}

/* A daemon may run with stdin, stdout and stderr closed: the descriptors the backend
 * creates then start at 0, and must not collide with the tool's standard streams. */
static void test_boot_grub_with_standard_streams_closed_still_works(void **state)
{
    struct fx *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(0);
        close(1);
        close(2);
        struct boot_state st = {0, 1, 5};
        struct boot_state back = {9, 9, 9};
        bool ok = f->b.ops->set(&f->b, "rootfs", &st, NULL) == SECUP_OK &&
                  f->b.ops->get(&f->b, "rootfs", &back, NULL) == SECUP_OK && back.active == 0 &&
                  back.trial == 1 && back.attempts == 5;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_state(f, "rootfs", 0, 1, 5);
}

static void test_boot_grub_missing_tool_returns_noent_naming_package(void **state)
{
    struct fx *f = *state;
    snprintf(f->b.tool_dir, sizeof(f->b.tool_dir), "%s/empty", f->dir);
    assert_int_equal(mkdir(f->b.tool_dir, 0700), 0);
    struct boot_state st = {1, BOOT_NO_SLOT, 0};
    struct secup_err err;
    assert_int_equal(f->b.ops->get(&f->b, "rootfs", &st, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, "grub-common"));
    assert_int_equal(f->b.ops->set(&f->b, "rootfs", &st, &err), SECUP_E_NOENT);
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)
#define ALL_BACKENDS(what)                                                                         \
    T(test_boot_statefile_##what, setup_statefile), T(test_boot_uboot_##what, setup_uboot),        \
        T(test_boot_uboot_redundant_##what, setup_uboot_redundant),                                \
        T(test_boot_grub_##what, setup_grub)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ALL_BACKENDS(unwritten_component_returns_default),
        ALL_BACKENDS(set_then_get_returns_same_state),
        ALL_BACKENDS(attempts_count_down_then_fall_back),
        ALL_BACKENDS(invalid_state_returns_value),
        ALL_BACKENDS(invalid_component_name_returns_arg),

        cmocka_unit_test(test_boot_open_unknown_backend_returns_value),
        T(test_boot_open_missing_environment_returns_noent, setup_dir),

        cmocka_unit_test(test_boot_statefile_parse_valid_returns_entries),
        cmocka_unit_test(test_boot_statefile_parse_each_malformed_line_returns_precise_error),
        cmocka_unit_test(test_boot_statefile_parse_nul_byte_returns_value),
        cmocka_unit_test(test_boot_statefile_parse_bad_header_returns_error),
        cmocka_unit_test(test_boot_statefile_parse_bad_checksum_line_returns_digest),
        cmocka_unit_test(test_boot_statefile_parse_every_truncation_returns_digest),
        cmocka_unit_test(test_boot_statefile_parse_every_bit_flip_returns_digest),
        cmocka_unit_test(test_boot_statefile_parse_over_limits_returns_limit),
        cmocka_unit_test(test_boot_statefile_format_refuses_bad_input),
        T(test_boot_statefile_file_holds_exact_text_mode_0600_no_leftovers, setup_statefile),
        T(test_boot_statefile_flipped_bit_on_disk_returns_digest_and_is_kept, setup_statefile),
        T(test_boot_statefile_torn_file_on_disk_returns_digest, setup_statefile),
        T(test_boot_statefile_missing_directory_returns_noent, setup_statefile),
        T(test_boot_statefile_component_limit_returns_limit_components, setup_statefile),

        T(test_boot_uboot_values_visible_to_fw_printenv, setup_uboot),
        T(test_boot_uboot_malformed_value_returns_value, setup_uboot),
        T(test_boot_uboot_unreadable_environment_returns_io_with_tool_message, setup_uboot),
        T(test_boot_uboot_redundant_corrupt_newest_copy_returns_previous_state,
          setup_uboot_redundant),
        T(test_boot_uboot_missing_tool_returns_noent_naming_package, setup_uboot),
        T(test_boot_uboot_failing_tool_returns_io_with_stderr, setup_uboot),
        T(test_boot_uboot_silent_setenv_failure_returns_io, setup_uboot),
        T(test_boot_uboot_flooding_tool_is_killed_returns_limit_size, setup_uboot),

        T(test_boot_grub_values_visible_to_grub_editenv_and_block_kept, setup_grub),
        T(test_boot_grub_deleted_block_returns_noent_and_is_not_recreated, setup_grub),
        T(test_boot_grub_malformed_value_returns_value, setup_grub),
        T(test_boot_grub_full_block_returns_io_and_keeps_file, setup_grub),
        T(test_boot_grub_with_standard_streams_closed_still_works, setup_grub),
        T(test_boot_grub_missing_tool_returns_noent_naming_package, setup_grub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
