/* Slot backends of libsecup: lib/stream/slot_file.c and slot_blockdev.c.
 *
 * pwrite and pread are wrapped (-Wl,--wrap, see tests/unit/CMakeLists.txt) so that
 * interrupted, short and failing transfers can be injected; everything else runs on real
 * files. A full device is also produced for real: on a 64 KiB tmpfs when mounting is allowed
 * (root), and always through RLIMIT_FSIZE. The block device backend runs on a loop device
 * when losetup works (root), and its refusal of a regular file is tested everywhere. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "secup/slot.h"
#include "testutil.h"

/* ---- injected I/O faults ---- */

struct inject {
    unsigned calls;   /* pwrite or pread calls seen */
    unsigned eintr;   /* fail this many calls with EINTR first */
    size_t max_chunk; /* move at most this many bytes per call (0: no limit) */
    int fail_errno;   /* after `fail_after` good calls, fail with this errno */
    unsigned fail_after;
    bool zero; /* return 0 (nothing moved) */
};

static struct inject inj;

ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);

static bool injected(ssize_t *ret, size_t *n)
{
    inj.calls++;
    if (inj.eintr > 0) {
        inj.eintr--;
        errno = EINTR;
        *ret = -1;
        return true;
    }
    if (inj.fail_errno != 0) {
        if (inj.fail_after == 0) {
            errno = inj.fail_errno;
            *ret = -1;
            return true;
        }
        inj.fail_after--;
    }
    if (inj.zero) {
        *ret = 0;
        return true;
    }
    if (inj.max_chunk && *n > inj.max_chunk)
        *n = inj.max_chunk;
    return false;
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t ret = 0;
    if (injected(&ret, &n))
        return ret;
    return __real_pwrite(fd, buf, n, off);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t ret = 0;
    if (injected(&ret, &n))
        return ret;
    return __real_pread(fd, buf, n, off);
}

/* ---- fixture ---- */

struct fx {
    char dir[128];
    char path[512];
    char mnt[256]; /* a tmpfs mounted here, or "" */
    char loop[64]; /* a loop device set up, or "" */
    struct secup_slot s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/secup-slot-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/slot.img", f->dir);
    f->s.fd = -1;
    memset(&inj, 0, sizeof(inj));
    *state = f;
    return 0;
}

/* Runs a tool (rm, losetup) with stdin and stderr on /dev/null, its stdout (at most cap - 1
 * bytes, NUL-terminated) in out. True when it exited with status 0. */
static bool run_tool(const char *const argv[], char *out, size_t cap)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return false;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return false;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(pfd[1], STDOUT_FILENO) < 0 ||
            dup2(null, STDERR_FILENO) < 0)
            _exit(127);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    char sink[256];
    for (;;) {
        char *dst = len + 1 < cap ? out + len : sink;
        size_t room = len + 1 < cap ? cap - 1 - len : sizeof(sink);
        ssize_t n = read(pfd[0], dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != sink)
            len += (size_t)n;
    }
    close(pfd[0]);
    if (cap > 0)
        out[len] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void run_quiet(const char *const argv[])
{
    char out[256];
    (void)run_tool(argv, out, sizeof(out));
}

static void remove_tree(const char *dir)
{
    const char *const argv[] = {"rm", "-rf", "--", dir, NULL};
    run_quiet(argv);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    memset(&inj, 0, sizeof(inj));
    if (f->s.ops)
        f->s.ops->close(&f->s);
    if (f->loop[0]) {
        const char *const argv[] = {"losetup", "-d", f->loop, NULL};
        run_quiet(argv);
    }
    if (f->mnt[0])
        umount(f->mnt);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

static void open_file(struct fx *f, uint64_t cap)
{
    struct secup_err err;
    secup_rc rc =
        secup_slot_file_open(&f->s, f->path, cap, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE, &err);
    if (rc != SECUP_OK)
        fail_msg("secup_slot_file_open: %s", err.msg);
}

/* ---- slot_file ---- */

static void test_slot_file_write_read_round_trip_returns_same_bytes_for_any_chunking(void **state)
{
    struct fx *f = *state;
    static const size_t chunks[] = {1, 7, 4096, SIZE_MAX};
    enum { N = 20000 };
    static uint8_t data[N];
    static uint8_t back[N];
    fill(data, N, 1);
    struct secup_err err;
    for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
        open_file(f, N);
        assert_string_equal(f->s.ops->name, "file");
        assert_int_equal(f->s.capacity, N);
        for (size_t off = 0; off < N;) {
            size_t n = chunks[c] < N - off ? chunks[c] : N - off;
            assert_int_equal(f->s.ops->write(&f->s, off, secup_bytes_of(data + off, n), &err),
                             SECUP_OK);
            off += n;
        }
        assert_int_equal(f->s.ops->sync(&f->s, &err), SECUP_OK);
        f->s.ops->close(&f->s);
        assert_int_equal(f->s.fd, -1);

        assert_int_equal(secup_slot_file_open(&f->s, f->path, N, 0, &err), SECUP_OK);
        memset(back, 0, N);
        assert_int_equal(f->s.ops->read(&f->s, 0, back, N, &err), SECUP_OK);
        assert_memory_equal(back, data, N);
        f->s.ops->close(&f->s);
        unlink(f->path);
        fill(data, N, (unsigned)c + 2);
    }
}

static void test_slot_file_open_missing_with_create_creates_file_0600(void **state)
{
    struct fx *f = *state;
    open_file(f, 100);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 0);
}

static void test_slot_file_open_missing_without_create_returns_noent(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    assert_int_equal(secup_slot_file_open(&f->s, f->path, 100, SECUP_SLOT_WRITABLE, &err),
                     SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, "for writing"));
    assert_int_equal(access(f->path, F_OK), -1);
    assert_int_equal(
        secup_slot_file_open(&f->s, f->path, 100, SECUP_SLOT_WRITABLE | SECUP_SLOT_TRUNCATE, &err),
        SECUP_E_NOENT);
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_slot_file_open_existing_does_not_truncate(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    open_file(f, 100);
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of("abcdef", 6), &err), SECUP_OK);
    f->s.ops->close(&f->s);
    open_file(f, 100);
    uint8_t back[6];
    assert_int_equal(f->s.ops->read(&f->s, 0, back, 6, &err), SECUP_OK);
    assert_memory_equal(back, "abcdef", 6);
}

/* A fresh install starts from an empty file; an existing file's mode is left alone. */
static void test_slot_file_open_truncate_empties_existing_file(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    open_file(f, 100);
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of("abcdef", 6), &err), SECUP_OK);
    f->s.ops->close(&f->s);
    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(
        secup_slot_file_open(&f->s, f->path, 100, SECUP_SLOT_WRITABLE | SECUP_SLOT_TRUNCATE, &err),
        SECUP_OK);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    uint8_t b;
    assert_int_equal(f->s.ops->read(&f->s, 0, &b, 1, &err), SECUP_E_IO);
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of("xy", 2), &err), SECUP_OK);
    f->s.ops->close(&f->s);
    /* With CREATE too, on a file that exists. */
    assert_int_equal(
        secup_slot_file_open(&f->s, f->path, 100,
                             SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE, &err),
        SECUP_OK);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
}

/* A FIFO opened read-only would block until a writer came; the slot refuses it at once. */
static void test_slot_file_open_fifo_returns_value_without_blocking(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    assert_int_equal(mkfifo(f->path, 0600), 0);
    assert_int_equal(secup_slot_file_open(&f->s, f->path, 100, 0, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(secup_slot_file_open(&f->s, f->path, 100, SECUP_SLOT_WRITABLE, &err),
                     SECUP_E_VALUE);
    assert_int_equal(secup_slot_blockdev_open(&f->s, f->path, 0, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "not a block device"));
    assert_int_equal(f->s.fd, -1);
}

static void test_slot_file_open_missing_readonly_returns_noent(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    assert_int_equal(secup_slot_file_open(&f->s, f->path, 100, 0, &err), SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, f->path));
    assert_non_null(strstr(err.msg, "No such file"));
    assert_int_equal(f->s.fd, -1);
    assert_null(f->s.ops);
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_slot_file_open_in_missing_directory_returns_noent(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    char p[300];
    snprintf(p, sizeof(p), "%s/nodir/slot.img", f->dir);
    assert_int_equal(
        secup_slot_file_open(&f->s, p, 100, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE, &err),
        SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, p));
}

static void test_slot_file_open_directory_returns_value(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    assert_int_equal(secup_slot_file_open(&f->s, f->dir, 100, 0, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(f->s.fd, -1);
}

static void test_slot_file_open_bad_arguments_return_arg(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    static const struct {
        uint64_t capacity;
        unsigned flags;
    } bad[] = {
        {0, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE}, /* no "unlimited" capacity */
        {(uint64_t)INT64_MAX + 1, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE},
        {UINT64_MAX, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE},
        {10, SECUP_SLOT_CREATE}, /* create and truncate need writable */
        {10, SECUP_SLOT_TRUNCATE},
        {10, SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE},
        {10, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | (1u << 3)}, /* unknown flag */
        {10, 1u << 31},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(secup_slot_file_open(&f->s, f->path, bad[i].capacity, bad[i].flags, &err),
                         SECUP_E_ARG);
        assert_null(f->s.ops);
        assert_int_equal(f->s.fd, -1);
    }
    assert_int_equal(secup_slot_file_open(&f->s, f->path, (uint64_t)INT64_MAX,
                                          SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE, &err),
                     SECUP_OK); /* the largest capacity is accepted */
    f->s.ops->close(&f->s);
    unlink(f->path);
    unsigned wc = SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE;
    assert_int_equal(secup_slot_file_open(&f->s, "", 10, wc, &err), SECUP_E_ARG);
    assert_int_equal(secup_slot_file_open(&f->s, NULL, 10, wc, &err), SECUP_E_ARG);
    assert_int_equal(secup_slot_file_open(&f->s, f->path, 10, wc, NULL), SECUP_OK); /* err NULL */
    f->s.ops->close(&f->s);
    unlink(f->path);
    static char longpath[5000];
    memset(longpath, 'a', sizeof(longpath) - 1);
    assert_int_equal(secup_slot_file_open(&f->s, longpath, 10, wc, &err), SECUP_E_ARG);
    assert_non_null(strstr(err.msg, "too long"));
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_slot_file_write_past_capacity_returns_limit_size(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    uint8_t buf[16] = {0};
    open_file(f, 10);
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of(buf, 10), &err), SECUP_OK);
    assert_int_equal(f->s.ops->write(&f->s, 10, secup_bytes_of(buf, 0), &err), SECUP_OK);
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of(buf, 11), &err), SECUP_E_LIMIT_SIZE);
    assert_non_null(strstr(err.msg, "capacity of 10 bytes"));
    assert_int_equal(f->s.ops->write(&f->s, 9, secup_bytes_of(buf, 2), &err), SECUP_E_LIMIT_SIZE);
    assert_int_equal(f->s.ops->write(&f->s, 11, secup_bytes_of(buf, 0), &err), SECUP_E_LIMIT_SIZE);
    /* offset + len would wrap around */
    assert_int_equal(f->s.ops->write(&f->s, UINT64_MAX - 2, secup_bytes_of(buf, 8), &err),
                     SECUP_E_LIMIT_SIZE);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_size, 10); /* nothing of a refused write reached the file */
}

static void test_slot_file_read_past_capacity_returns_limit_size(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    uint8_t buf[16];
    open_file(f, 10);
    assert_int_equal(f->s.ops->read(&f->s, 5, buf, 6, &err), SECUP_E_LIMIT_SIZE);
    assert_int_equal(f->s.ops->read(&f->s, UINT64_MAX, buf, 2, &err), SECUP_E_LIMIT_SIZE);
}

static void test_slot_file_read_past_written_data_returns_io(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    uint8_t buf[16];
    open_file(f, 100);
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of("0123456789", 10), &err), SECUP_OK);
    assert_int_equal(f->s.ops->read(&f->s, 4, buf, 6, &err), SECUP_OK);
    assert_memory_equal(buf, "456789", 6);
    assert_int_equal(f->s.ops->read(&f->s, 4, buf, 7, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "ends at offset 10"));
}

static void test_slot_file_write_on_readonly_slot_returns_io(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    open_file(f, 100);
    f->s.ops->close(&f->s);
    assert_int_equal(secup_slot_file_open(&f->s, f->path, 100, 0, &err), SECUP_OK);
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of("x", 1), &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "not open for writing"));
}

static void test_slot_file_closed_slot_returns_state(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    uint8_t b;
    open_file(f, 100);
    f->s.ops->close(&f->s);
    f->s.ops->close(&f->s); /* twice is harmless */
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of("x", 1), &err), SECUP_E_STATE);
    assert_int_equal(f->s.ops->read(&f->s, 0, &b, 1, &err), SECUP_E_STATE);
    assert_int_equal(f->s.ops->sync(&f->s, &err), SECUP_E_STATE);
}

static void test_slot_file_interrupted_and_short_writes_complete(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    enum { N = 1000 };
    uint8_t data[N];
    uint8_t back[N];
    fill(data, N, 7);
    open_file(f, N);
    inj.eintr = 3;
    inj.max_chunk = 7;
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of(data, N), &err), SECUP_OK);
    assert_int_equal(inj.calls, 3 + (N + 6) / 7);
    memset(&inj, 0, sizeof(inj));
    inj.eintr = 2;
    inj.max_chunk = 13;
    assert_int_equal(f->s.ops->read(&f->s, 0, back, N, &err), SECUP_OK);
    assert_int_equal(inj.calls, 2 + (N + 12) / 13);
    assert_memory_equal(back, data, N);
}

static void test_slot_file_device_accepting_nothing_returns_io(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    open_file(f, 100);
    inj.zero = true;
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of("abc", 3), &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "accepted nothing"));
    assert_int_equal(inj.calls, 1); /* no endless loop */
}

static void test_slot_file_injected_enospc_returns_io_no_space(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    uint8_t data[100] = {0};
    open_file(f, 100);
    inj.max_chunk = 30;
    inj.fail_errno = ENOSPC;
    inj.fail_after = 2;
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of(data, 100), &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, "no space left"));
    assert_non_null(strstr(err.msg, "offset 60"));
    assert_non_null(strstr(err.msg, f->path));
}

static void test_slot_file_injected_eio_returns_io_with_strerror(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    uint8_t b = 0;
    open_file(f, 100);
    inj.fail_errno = EIO;
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of(&b, 1), &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, strerror(EIO)));
    memset(&inj, 0, sizeof(inj));
    inj.fail_errno = EIO;
    assert_int_equal(f->s.ops->read(&f->s, 0, &b, 1, &err), SECUP_E_IO);
    assert_non_null(strstr(err.msg, strerror(EIO)));
}

/* A real full file system. Mounting needs privileges; without them the test says so and
 * is skipped, and test_slot_file_size_limit_returns_io_size_limit still runs. */
static void test_slot_file_full_tmpfs_returns_io_no_space(void **state)
{
    struct fx *f = *state;
    snprintf(f->mnt, sizeof(f->mnt), "%s/mnt", f->dir);
    assert_int_equal(mkdir(f->mnt, 0700), 0);
    if (mount("tmpfs", f->mnt, "tmpfs", 0, "size=64k") != 0) {
        print_message("cannot mount a tmpfs (%s); the RLIMIT_FSIZE test covers a full slot\n",
                      strerror(errno));
        f->mnt[0] = '\0';
        skip();
    }
    snprintf(f->path, sizeof(f->path), "%s/slot.img", f->mnt);
    struct secup_err err;
    enum { N = 256 * 1024 };
    uint8_t *data = calloc(1, N);
    assert_non_null(data);
    open_file(f, N);
    secup_rc rc = SECUP_OK;
    size_t off = 0;
    while (rc == SECUP_OK && off < N) {
        rc = f->s.ops->write(&f->s, off, secup_bytes_of(data + off, 4096), &err);
        off += 4096;
    }
    free(data);
    assert_int_equal(rc, SECUP_E_IO);
    assert_non_null(strstr(err.msg, "no space left"));
    assert_non_null(strstr(err.msg, f->path));
    f->s.ops->close(&f->s);
}

static void test_slot_file_size_limit_returns_io_size_limit(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    enum { N = 64 * 1024, LIMIT = 10000 };
    uint8_t *data = calloc(1, N);
    assert_non_null(data);
    open_file(f, N);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit lim = {LIMIT, old.rlim_max};
    struct sigaction ign;
    struct sigaction prev;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGXFSZ, &ign, &prev), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    secup_rc rc = f->s.ops->write(&f->s, 0, secup_bytes_of(data, N), &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(sigaction(SIGXFSZ, &prev, NULL), 0);
    free(data);
    assert_int_equal(rc, SECUP_E_IO);
    assert_non_null(strstr(err.msg, "file size limit"));
    assert_non_null(strstr(err.msg, "offset 10000")); /* the short write before was continued */
}

/* ---- slot_blockdev ---- */

static void test_slot_blockdev_regular_file_is_refused_returns_value(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    open_file(f, 100);
    f->s.ops->close(&f->s);
    assert_int_equal(secup_slot_blockdev_open(&f->s, f->path, 0, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "not a block device"));
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(secup_slot_blockdev_open(&f->s, f->path, SECUP_SLOT_WRITABLE, &err),
                     SECUP_E_VALUE);
    assert_int_equal(f->s.fd, -1);
    assert_null(f->s.ops);
}

static void test_slot_blockdev_missing_returns_noent(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    assert_int_equal(secup_slot_blockdev_open(&f->s, f->path, SECUP_SLOT_WRITABLE, &err),
                     SECUP_E_NOENT);
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(access(f->path, F_OK), -1); /* never created */
    assert_int_equal(
        secup_slot_blockdev_open(
            &f->s, f->path, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE, &err),
        SECUP_E_NOENT);
    assert_int_equal(access(f->path, F_OK), -1); /* CREATE does not create a device */
    assert_int_equal(secup_slot_blockdev_open(&f->s, "", SECUP_SLOT_WRITABLE, &err), SECUP_E_ARG);
}

static void test_slot_blockdev_bad_flags_return_arg(void **state)
{
    struct fx *f = *state;
    struct secup_err err;
    static const unsigned bad[] = {
        SECUP_SLOT_CREATE,
        SECUP_SLOT_TRUNCATE,
        SECUP_SLOT_WRITABLE | (1u << 3),
        1u << 31,
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(secup_slot_blockdev_open(&f->s, "/dev/null", bad[i], &err), SECUP_E_ARG);
        assert_null(f->s.ops);
        assert_int_equal(f->s.fd, -1);
    }
    assert_int_equal(secup_slot_blockdev_open(&f->s, NULL, 0, &err), SECUP_E_ARG);
    /* A character device is not a block device. */
    assert_int_equal(secup_slot_blockdev_open(&f->s, "/dev/null", 0, &err), SECUP_E_VALUE);
}

/* A real block device: a loop device over a 1 MiB file. Setting one up needs privileges;
 * without them the test says so and is skipped. */
static void test_slot_blockdev_loop_device_round_trip_and_capacity(void **state)
{
    struct fx *f = *state;
    enum { SIZE = 1024 * 1024 };
    char backing[300];
    snprintf(backing, sizeof(backing), "%s/backing.img", f->dir);
    int fd = open(backing, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, SIZE), 0);
    close(fd);
    const char *const argv[] = {"losetup", "-f", "--show", backing, NULL};
    struct secup_err err;
    if (!run_tool(argv, f->loop, sizeof(f->loop)) || f->loop[0] != '/') {
        print_message("losetup is not usable here; skipping the loop device test\n");
        f->loop[0] = '\0';
        skip();
    }
    size_t len = strlen(f->loop);
    while (len > 0 && f->loop[len - 1] == '\n')
        f->loop[--len] = '\0';

    assert_int_equal(secup_slot_blockdev_open(&f->s, f->loop, SECUP_SLOT_WRITABLE, &err), SECUP_OK);
    assert_string_equal(f->s.ops->name, "blockdev");
    assert_int_equal(f->s.capacity, SIZE);

    /* A second writer is refused while the first holds the device exclusively. */
    struct secup_slot other;
    assert_int_equal(secup_slot_blockdev_open(&other, f->loop, SECUP_SLOT_WRITABLE, &err),
                     SECUP_E_IO);
    assert_non_null(strstr(err.msg, "in use"));

    static uint8_t data[SIZE];
    static uint8_t back[SIZE];
    fill(data, SIZE, 3);
    inj.max_chunk = 100000; /* short writes on a real device too */
    assert_int_equal(f->s.ops->write(&f->s, 0, secup_bytes_of(data, SIZE), &err), SECUP_OK);
    inj.max_chunk = 0;
    assert_int_equal(f->s.ops->write(&f->s, SIZE - 1, secup_bytes_of(data, 2), &err),
                     SECUP_E_LIMIT_SIZE);
    assert_int_equal(f->s.ops->sync(&f->s, &err), SECUP_OK);
    f->s.ops->close(&f->s);

    assert_int_equal(secup_slot_blockdev_open(&f->s, f->loop, 0, &err), SECUP_OK);
    assert_int_equal(f->s.ops->read(&f->s, 0, back, SIZE, &err), SECUP_OK);
    assert_memory_equal(back, data, SIZE);
    f->s.ops->close(&f->s);

    /* The flags of a fresh file install open a device too, and leave it as it is. */
    assert_int_equal(
        secup_slot_blockdev_open(
            &f->s, f->loop, SECUP_SLOT_WRITABLE | SECUP_SLOT_CREATE | SECUP_SLOT_TRUNCATE, &err),
        SECUP_OK);
    assert_int_equal(f->s.capacity, SIZE);
    memset(back, 0, SIZE);
    assert_int_equal(f->s.ops->read(&f->s, 0, back, SIZE, &err), SECUP_OK);
    assert_memory_equal(back, data, SIZE);
    f->s.ops->close(&f->s);

    /* The bytes are in the backing file: the device really was written. */
    fd = open(backing, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(__real_pread(fd, back, SIZE, 0), SIZE);
    close(fd);
    assert_memory_equal(back, data, SIZE);

    /* The file backend refuses the device, and says which type to use. */
    assert_int_equal(secup_slot_file_open(&f->s, f->loop, SIZE, 0, &err), SECUP_E_VALUE);
    assert_non_null(strstr(err.msg, "blockdev"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_slot_file_write_read_round_trip_returns_same_bytes_for_any_chunking),
        T(test_slot_file_open_missing_with_create_creates_file_0600),
        T(test_slot_file_open_missing_without_create_returns_noent),
        T(test_slot_file_open_truncate_empties_existing_file),
        T(test_slot_file_open_fifo_returns_value_without_blocking),
        T(test_slot_file_open_existing_does_not_truncate),
        T(test_slot_file_open_missing_readonly_returns_noent),
        T(test_slot_file_open_in_missing_directory_returns_noent),
        T(test_slot_file_open_directory_returns_value),
        T(test_slot_file_open_bad_arguments_return_arg),
        T(test_slot_file_write_past_capacity_returns_limit_size),
        T(test_slot_file_read_past_capacity_returns_limit_size),
        T(test_slot_file_read_past_written_data_returns_io),
        T(test_slot_file_write_on_readonly_slot_returns_io),
        T(test_slot_file_closed_slot_returns_state),
        T(test_slot_file_interrupted_and_short_writes_complete),
        T(test_slot_file_device_accepting_nothing_returns_io),
        T(test_slot_file_injected_enospc_returns_io_no_space),
        T(test_slot_file_injected_eio_returns_io_with_strerror),
        T(test_slot_file_full_tmpfs_returns_io_no_space),
        T(test_slot_file_size_limit_returns_io_size_limit),
        T(test_slot_blockdev_regular_file_is_refused_returns_value),
        T(test_slot_blockdev_missing_returns_noent),
        T(test_slot_blockdev_bad_flags_return_arg),
        T(test_slot_blockdev_loop_device_round_trip_and_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
