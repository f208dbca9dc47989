/* secup power-cut shim (THREATS.md harness PRE, rows F1-F5): an LD_PRELOAD library that
 * counts the mutating file-system calls a process makes under one directory and "cuts
 * the power" at the k-th of them: the process dies with _exit(99) at once (no atexit
 * handlers, no stdio flush, no cleanup), leaving the files exactly as the kernel has them.
 *
 * Environment (all optional; without SECUP_CUT_DIR nothing is counted):
 *   SECUP_CUT_DIR=<dir>       count only calls on files at or below <dir> (the device
 *                             directory), so stdout, stderr, logs and inputs do not count
 *   SECUP_CUT_COUNT=<file>    the running total of counted calls, read at start and
 *                             rewritten at every counted call (so it survives a cut); one
 *                             file shared by the successive processes of a scenario makes
 *                             the count continue across them
 *   SECUP_CUT_AT=<k>          cut at the k-th counted call (k >= 1; counted across the
 *                             processes sharing SECUP_CUT_COUNT)
 *   SECUP_CUT_MODE=before     the k-th call is not done (default)
 *                  torn       a write/pwrite/writev is done for half its length first;
 *                             any other call is done completely first ("after")
 *                  after      the k-th call is done completely, then the cut
 *                  unsynced   the k-th call is not done, and the page cache is lost with
 *                             the power: every write, truncation, creation, rename and
 *                             unlink this process made under the directory that no fsync
 *                             made durable is undone (see "unsynced" below)
 *   SECUP_CUT_VERBOSE=1       log every counted call ("secup-cut: #k op path [bytes]")
 *                             and the cut itself
 *   SECUP_CUT_LOG=<file>      where the log goes (appended); default stderr
 *   SECUP_CUT_GUARD=<p>[:<p>] files that must not be modified (INV-2, the running slot):
 *                             any write, truncation, rename or unlink of one is logged as
 *                             "secup-cut: GUARD ..." to SECUP_CUT_GUARD_LOG (default: the
 *                             log). The call is still carried out; the harness decides.
 *
 * Counted calls: write, pwrite, pwrite64, writev, fsync, fdatasync, ftruncate(64),
 * truncate(64), rename, renameat, renameat2, unlink, unlinkat, creat, open/open64/
 * openat/openat64 with O_CREAT or O_TRUNC, mkstemp/mkstemp64/mkostemp/mkostemp64 (the file
 * creation of a temporary). glibc's own internal calls (stdio flushing, mkstemp's open) do
 * not go through these symbols; stdio streams and shared writable mappings of device files
 * are therefore not seen: secup-agent uses neither for device files (strace -f shows
 * openat/pwrite64/write/fsync/rename only).
 *
 * Mode "unsynced" (the page cache lost at the cut): the shim keeps an undo log of the
 * process's changes under SECUP_CUT_DIR. A write or truncation records the bytes and the
 * size it replaces (on a private duplicate of the descriptor, so the inode stays
 * reachable whatever happens to its name); fsync/fdatasync of a file makes its records
 * durable (dropped). A creation, rename or unlink records the directory entry it changes
 * (a replaced or unlinked file is first hard-linked into a stash directory beside
 * SECUP_CUT_DIR); an fsync of the directory makes those durable. At the cut the log is
 * undone newest first: the worst case of a file system that keeps nothing unsynced. A
 * process that ends normally with records left logs each as "secup-cut: UNSYNCED ..." (the
 * harness treats that as a broken durability promise: the process reported a result that
 * a power cut could still take back).
 *
 * Which process counts: the first process that loads the shim with no SECUP_CUT_OWNER in
 * its environment becomes the owner and puts its pid there. Processes it starts inherit
 * the variable (and LD_PRELOAD) and only observe (guard), never count or cut; so a health
 * check or a bootloader tool started by the agent does not shift the cut points, and the
 * child of a fork() does not count either (its pid differs from the owner's). A harness
 * must not set SECUP_CUT_OWNER itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define CUT_EXIT 99
#define MAX_GUARD 16

enum cut_mode { MODE_BEFORE, MODE_TORN, MODE_AFTER, MODE_UNSYNCED };
enum act { ACT_GO, ACT_TEAR, ACT_DIE_AFTER };

static struct {
    int ready;
    int counting; /* this process is the owner and a directory is given */
    pid_t owner;
    char dir[PATH_MAX];
    size_t dir_len;
    unsigned long long count;
    unsigned long long cut_at;
    enum cut_mode mode;
    int verbose;
    int count_fd;
    int log_fd;
    int guard_fd;
    int n_guard;
    char guard[MAX_GUARD][PATH_MAX];
} g = { .count_fd = -1, .log_fd = 2, .guard_fd = 2 };

/* ---- raw helpers: never through the wrapped symbols ---- */

static void raw_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        long n = syscall(SYS_write, fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void logf_to(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_to(int fd, const char *fmt, ...)
{
    char line[2 * PATH_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
    line[len++] = '\n';
    raw_write_all(fd, line, len);
}

static int raw_open(const char *path, int flags, mode_t mode)
{
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode);
}

static void *next_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        logf_to(2, "secup-cut: cannot find the real %s", name);
        _exit(127);
    }
    return p;
}

/* Object pointer to function pointer without a cast ISO C frowns on. */
#define REAL(ret, name, params)                                                              \
    static ret(*real_##name) params;                                                         \
    if (!real_##name) {                                                                      \
        void *p_ = next_sym(#name);                                                          \
        memcpy(&real_##name, &p_, sizeof(p_));                                               \
    }

/* ---- paths ---- */

/* Lexical normalisation of an absolute path: removes ".", ".." and repeated slashes. */
static void normalise(const char *in, char *out, size_t cap)
{
    size_t len = 0;
    const char *p = in;
    out[0] = '\0';
    while (*p) {
        while (*p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0 || (n == 1 && s[0] == '.'))
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            out[len] = '\0';
            continue;
        }
        if (len + 1 + n + 1 > cap)
            break;
        out[len++] = '/';
        memcpy(out + len, s, n);
        len += n;
        out[len] = '\0';
    }
    if (len == 0 && cap > 1) {
        out[0] = '/';
        out[1] = '\0';
    }
}

static int fd_path(int fd, char *out, size_t cap)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return 0;
}

static int at_path(int dirfd, const char *path, char *out, size_t cap)
{
    char base[PATH_MAX];
    char joined[2 * PATH_MAX + 2];
    out[0] = '\0';
    if (!path)
        return -1;
    if (path[0] == '/') {
        normalise(path, out, cap);
        return 0;
    }
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof(base)))
            return -1;
    } else if (fd_path(dirfd, base, sizeof(base)) != 0) {
        return -1;
    }
    snprintf(joined, sizeof(joined), "%s/%s", base, path);
    normalise(joined, out, cap);
    return 0;
}

static int under_dir(const char *path)
{
    return g.dir_len > 0 && strncmp(path, g.dir, g.dir_len) == 0 &&
           (path[g.dir_len] == '\0' || path[g.dir_len] == '/');
}

/* ---- set-up ---- */

static unsigned long long parse_ull(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    return errno || (end && *end && *end != '\n') ? 0 : v;
}

static void store_count(void)
{
    if (g.count_fd < 0)
        return;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%020llu\n", g.count);
    if (n > 0)
        (void)syscall(SYS_pwrite64, g.count_fd, buf, (size_t)n, (off_t)0);
}

static void init(void)
{
    if (g.ready)
        return;
    g.ready = 1;
    g.verbose = getenv("SECUP_CUT_VERBOSE") && strcmp(getenv("SECUP_CUT_VERBOSE"), "0") != 0;
    const char *log = getenv("SECUP_CUT_LOG");
    if (log && *log) {
        int fd = raw_open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd >= 0)
            g.log_fd = g.guard_fd = fd;
    }
    const char *glog = getenv("SECUP_CUT_GUARD_LOG");
    if (glog && *glog) {
        int fd = raw_open(glog, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd >= 0)
            g.guard_fd = fd;
    }
    const char *guard = getenv("SECUP_CUT_GUARD");
    while (guard && *guard && g.n_guard < MAX_GUARD) {
        const char *end = strchr(guard, ':');
        size_t n = end ? (size_t)(end - guard) : strlen(guard);
        char one[PATH_MAX];
        if (n > 0 && n < sizeof(one)) {
            memcpy(one, guard, n);
            one[n] = '\0';
            char full[PATH_MAX];
            if (at_path(AT_FDCWD, one, full, sizeof(full)) == 0)
                memcpy(g.guard[g.n_guard++], full, sizeof(full));
        }
        guard = end ? end + 1 : NULL;
    }

    /* Only the first process of a tree counts (see the header). */
    const char *owner = getenv("SECUP_CUT_OWNER");
    if (owner && *owner)
        return;
    char pid[24];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("SECUP_CUT_OWNER", pid, 1);

    const char *dir = getenv("SECUP_CUT_DIR");
    if (!dir || !*dir)
        return;
    char real[PATH_MAX];
    if (!realpath(dir, real)) {
        logf_to(2, "secup-cut: SECUP_CUT_DIR '%s': %s", dir, strerror(errno));
        _exit(127);
    }
    normalise(real, g.dir, sizeof(g.dir));
    g.dir_len = strlen(g.dir);
    const char *mode = getenv("SECUP_CUT_MODE");
    if (!mode || !*mode || strcmp(mode, "before") == 0) {
        g.mode = MODE_BEFORE;
    } else if (strcmp(mode, "torn") == 0) {
        g.mode = MODE_TORN;
    } else if (strcmp(mode, "after") == 0) {
        g.mode = MODE_AFTER;
    } else if (strcmp(mode, "unsynced") == 0) {
        g.mode = MODE_UNSYNCED;
    } else {
        logf_to(2, "secup-cut: SECUP_CUT_MODE '%s' is not before, torn, after or unsynced", mode);
        _exit(127);
    }
    g.cut_at = parse_ull(getenv("SECUP_CUT_AT"));
    const char *count = getenv("SECUP_CUT_COUNT");
    if (count && *count) {
        g.count_fd = raw_open(count, O_RDWR | O_CREAT, 0644);
        if (g.count_fd < 0) {
            logf_to(2, "secup-cut: SECUP_CUT_COUNT '%s': %s", count, strerror(errno));
            _exit(127);
        }
        char buf[32] = "";
        long n = syscall(SYS_pread64, g.count_fd, buf, sizeof(buf) - 1, (off_t)0);
        if (n > 0) {
            buf[n] = '\0';
            g.count = parse_ull(buf);
        }
    }
    g.owner = getpid();
    g.counting = 1;
}

__attribute__((constructor)) static void cutter_init(void)
{
    int e = errno;
    init();
    errno = e;
}


/* ---- mode "unsynced": the undo log of what no fsync made durable ---- */

enum undo_kind { U_WRITE, U_CREATE, U_RENAME, U_UNLINK };

struct undo {
    enum undo_kind kind;
    int fd;                /* U_WRITE: our duplicate of the descriptor (the inode) */
    dev_t dev;
    ino_t ino;
    off_t off;             /* U_WRITE: where the old bytes go back */
    unsigned char *old;    /* and the bytes (within the old size) */
    size_t old_len;
    off_t old_size;        /* the file's size before the change */
    char *path;            /* dir ops: the name changed (rename: the new name) */
    char *path2;           /* U_RENAME: the old name */
    char *stash;           /* the file a rename replaced or an unlink removed, or NULL */
    int live;
};

static struct {
    struct undo *v;
    size_t n;
    size_t cap;
    unsigned long stash_seq;
    char stash_dir[PATH_MAX + 64];
} u;

static int tracking(const char *path)
{
    return g.mode == MODE_UNSYNCED && g.counting && getpid() == g.owner && path && under_dir(path);
}

static struct undo *undo_push(enum undo_kind kind)
{
    if (u.n == u.cap) {
        size_t cap = u.cap ? 2 * u.cap : 256;
        struct undo *v = realloc(u.v, cap * sizeof(*v));
        if (!v) {
            logf_to(2, "secup-cut: out of memory for the undo log");
            _exit(127);
        }
        u.v = v;
        u.cap = cap;
    }
    struct undo *e = &u.v[u.n++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->fd = -1;
    e->live = 1;
    return e;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p)
        _exit(127);
    memcpy(p, s, n);
    return p;
}

static void undo_free(struct undo *e)
{
    if (e->stash)
        (void)syscall(SYS_unlinkat, AT_FDCWD, e->stash, 0);
    if (e->fd >= 0)
        (void)syscall(SYS_close, e->fd);
    free(e->old);
    free(e->path);
    free(e->path2);
    free(e->stash);
    e->old = NULL;
    e->path = e->path2 = e->stash = NULL;
    e->fd = -1;
    e->live = 0;
}

/* Before a write of n bytes at off (-1: the descriptor's position) or a truncation to
 * new_size (n == 0, new_size >= 0). */
static void track_data(int fd, off_t off, size_t n, off_t new_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    if (new_size >= 0) {
        off = new_size < st.st_size ? new_size : st.st_size;
        n = new_size < st.st_size ? (size_t)(st.st_size - new_size) : 0;
    } else if (off < 0) {
        int fl = fcntl(fd, F_GETFL);
        off = (fl >= 0 && (fl & O_APPEND)) ? st.st_size : lseek(fd, 0, SEEK_CUR);
        if (off < 0)
            return;
    }
    struct undo *e = undo_push(U_WRITE);
    e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 512);
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    e->off = off;
    e->old_size = st.st_size;
    if (off < st.st_size && n > 0) {
        size_t keep = (size_t)(st.st_size - off) < n ? (size_t)(st.st_size - off) : n;
        e->old = malloc(keep);
        if (!e->old)
            _exit(127);
        /* the descriptor may be write-only: read through a fresh one on the same inode */
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        int rd = raw_open(link, O_RDONLY, 0);
        long r = rd >= 0 ? syscall(SYS_pread64, rd, e->old, keep, off) : -1;
        if (rd >= 0)
            (void)syscall(SYS_close, rd);
        if (r != (long)keep) {
            logf_to(2, "secup-cut: cannot save the bytes a write replaces");
            _exit(127);
        }
        e->old_len = keep;
    }
}

static void track_dir(enum undo_kind kind, const char *path, const char *path2)
{
    struct stat st;
    struct undo *e = undo_push(kind);
    e->path = dup_str(path);
    if (path2)
        e->path2 = dup_str(path2);
    /* a file the change removes from its name: kept reachable for the undo */
    if ((kind == U_RENAME || kind == U_UNLINK) && lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        if (!u.stash_dir[0]) {
            char parent[PATH_MAX];
            memcpy(parent, g.dir, sizeof(parent));
            char *slash = strrchr(parent, '/');
            if (slash && slash != parent)
                *slash = '\0';
            snprintf(u.stash_dir, sizeof(u.stash_dir), "%s/.secup-cut-stash.%ld", parent,
                     (long)getpid());
            (void)syscall(SYS_mkdirat, AT_FDCWD, u.stash_dir, 0700);
        }
        char stash[PATH_MAX + 128];
        snprintf(stash, sizeof(stash), "%s/%lu", u.stash_dir, ++u.stash_seq);
        if (syscall(SYS_linkat, AT_FDCWD, path, AT_FDCWD, stash, 0) == 0)
            e->stash = dup_str(stash);
    }
}

static void drop_last_if_failed(int r)
{
    if (r != 0 && u.n > 0 && u.v[u.n - 1].live) {
        undo_free(&u.v[u.n - 1]);
        u.n--;
    }
}

static int parent_is(const char *path, const char *dir)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0)
        return strcmp(dir, "/") == 0;
    return strlen(dir) == n && strncmp(path, dir, n) == 0;
}

/* After a successful fsync/fdatasync of fd: what it made durable leaves the log. */
static void track_sync(int fd, const char *path)
{
    struct stat st;
    if (g.mode != MODE_UNSYNCED || fstat(fd, &st) != 0)
        return;
    for (size_t i = 0; i < u.n; i++) {
        struct undo *e = &u.v[i];
        if (!e->live)
            continue;
        if (S_ISDIR(st.st_mode) ? (e->kind != U_WRITE && parent_is(e->path, path))
                                : (e->kind == U_WRITE && e->dev == st.st_dev && e->ino == st.st_ino))
            undo_free(e);
    }
}

/* The cut in mode "unsynced": newest first, everything no fsync made durable is undone. */
static void revert_all(void)
{
    for (size_t i = u.n; i-- > 0;) {
        struct undo *e = &u.v[i];
        if (!e->live)
            continue;
        switch (e->kind) {
        case U_WRITE:
            if (e->fd >= 0) {
                (void)syscall(SYS_ftruncate, e->fd, e->old_size);
                if (e->old_len)
                    (void)syscall(SYS_pwrite64, e->fd, e->old, e->old_len, e->off);
            }
            break;
        case U_CREATE:
            (void)syscall(SYS_unlinkat, AT_FDCWD, e->path, 0);
            break;
        case U_RENAME:
            (void)syscall(SYS_renameat, AT_FDCWD, e->path, AT_FDCWD, e->path2);
            break;
        case U_UNLINK:
            break;
        }
        if (e->stash) {
            (void)syscall(SYS_renameat, AT_FDCWD, e->stash, AT_FDCWD, e->path);
            free(e->stash);
            e->stash = NULL;
        }
        if (g.verbose) {
            char fpath[PATH_MAX] = "";
            if (e->kind == U_WRITE && e->fd >= 0)
                fd_path(e->fd, fpath, sizeof(fpath));
            logf_to(g.log_fd, "secup-cut: lost (not synced): %s %s%s%s",
                    e->kind == U_WRITE ? "write to" : e->kind == U_CREATE ? "creation of"
                                       : e->kind == U_RENAME ? "rename to" : "unlink of",
                    e->kind == U_WRITE ? fpath : e->path, e->path2 ? " from " : "",
                    e->path2 ? e->path2 : "");
        }
    }
    if (u.stash_dir[0])
        (void)syscall(SYS_unlinkat, AT_FDCWD, u.stash_dir, AT_REMOVEDIR);
}

__attribute__((destructor)) static void cutter_fini(void)
{
    if (g.mode != MODE_UNSYNCED || !g.counting || getpid() != g.owner)
        return;
    for (size_t i = 0; i < u.n; i++) {
        struct undo *e = &u.v[i];
        if (!e->live)
            continue;
        char path[PATH_MAX] = "";
        if (e->kind == U_WRITE && e->fd >= 0)
            fd_path(e->fd, path, sizeof(path));
        logf_to(g.log_fd, "secup-cut: UNSYNCED at exit: %s %s%s%s",
                e->kind == U_WRITE ? "write to" : e->kind == U_CREATE ? "creation of"
                                    : e->kind == U_RENAME ? "rename to" : "unlink of",
                e->kind == U_WRITE ? path : e->path, e->path2 ? " from " : "",
                e->path2 ? e->path2 : "");
        undo_free(e);
    }
    if (u.stash_dir[0])
        (void)syscall(SYS_unlinkat, AT_FDCWD, u.stash_dir, AT_REMOVEDIR);
}

/* ---- the decision at every mutating call ---- */

static void guard_check(const char *op, const char *path)
{
    for (int i = 0; i < g.n_guard; i++) {
        if (strcmp(path, g.guard[i]) == 0)
            logf_to(g.guard_fd, "secup-cut: GUARD pid %ld %s %s", (long)getpid(), op, path);
    }
}

/* path: the file concerned, already absolute and normalised; bytes: for writes. */
static enum act decide(const char *op, const char *path, const char *path2, long long bytes,
                       int mutates_content)
{
    init();
    if (g.n_guard > 0) {
        if (mutates_content && path[0])
            guard_check(op, path);
        if (path2 && path2[0])
            guard_check(op, path2);
    }
    if (!g.counting)
        return ACT_GO;
    if (getpid() != g.owner)
        return ACT_GO; /* a fork()ed child before its exec */
    if (!under_dir(path) && !(path2 && under_dir(path2)))
        return ACT_GO;
    g.count++;
    store_count();
    if (g.verbose) {
        if (bytes >= 0)
            logf_to(g.log_fd, "secup-cut: #%llu %s %s%s%s %lld bytes", g.count, op, path,
                    path2 ? " -> " : "", path2 ? path2 : "", bytes);
        else
            logf_to(g.log_fd, "secup-cut: #%llu %s %s%s%s", g.count, op, path, path2 ? " -> " : "",
                    path2 ? path2 : "");
    }
    if (g.cut_at == 0 || g.count != g.cut_at)
        return ACT_GO;
    static const char *const names[] = { "before", "torn", "after", "unsynced" };
    enum act a = ACT_DIE_AFTER;
    if (g.mode == MODE_BEFORE || g.mode == MODE_UNSYNCED)
        a = ACT_GO; /* unused: dies below */
    else if (g.mode == MODE_TORN && bytes >= 0)
        a = ACT_TEAR;
    if (g.verbose)
        logf_to(g.log_fd, "secup-cut: power cut at #%llu (%s%s): %s %s", g.count, names[g.mode],
                g.mode == MODE_TORN && a == ACT_DIE_AFTER ? ", not a write: after" : "", op, path);
    if (g.mode == MODE_UNSYNCED) {
        revert_all();
        _exit(CUT_EXIT);
    }
    if (g.mode == MODE_BEFORE)
        _exit(CUT_EXIT);
    return a;
}

static void die(void)
{
    _exit(CUT_EXIT);
}

/* The absolute path of what fd refers to; false for pipes, sockets and the like. */
static int fd_abs_path(int fd, char *path, size_t cap)
{
    if (fd_path(fd, path, cap) != 0)
        path[0] = '\0';
    return path[0] == '/';
}

/* ---- the wrappers ---- */

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(ssize_t, write, (int, const void *, size_t))
    char path[PATH_MAX];
    if (!fd_abs_path(fd, path, sizeof(path)))
        return real_write(fd, buf, n);
    enum act a = decide("write", path, NULL, (long long)n, 1);
    if (a == ACT_TEAR) {
        (void)real_write(fd, buf, n / 2);
        die();
    }
    if (tracking(path))
        track_data(fd, -1, n, -1);
    ssize_t r = real_write(fd, buf, n);
    if (a == ACT_DIE_AFTER)
        die();
    return r;
}

static ssize_t pwrite_common(const char *op, int fd, const void *buf, size_t n, off_t off)
{
    REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t))
    char path[PATH_MAX];
    if (!fd_abs_path(fd, path, sizeof(path)))
        return real_pwrite64(fd, buf, n, off);
    enum act a = decide(op, path, NULL, (long long)n, 1);
    if (a == ACT_TEAR) {
        (void)real_pwrite64(fd, buf, n / 2, off);
        die();
    }
    if (tracking(path))
        track_data(fd, off, n, -1);
    ssize_t r = real_pwrite64(fd, buf, n, off);
    if (a == ACT_DIE_AFTER)
        die();
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite_common("pwrite", fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite_common("pwrite64", fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(ssize_t, writev, (int, const struct iovec *, int))
    char path[PATH_MAX];
    if (cnt <= 0 || !fd_abs_path(fd, path, sizeof(path)))
        return real_writev(fd, iov, cnt);
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    enum act a = decide("writev", path, NULL, (long long)total, 1);
    if (a == ACT_TEAR) {
        REAL(ssize_t, write, (int, const void *, size_t))
        size_t left = total / 2;
        for (int i = 0; i < cnt && left > 0; i++) {
            size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
            (void)real_write(fd, iov[i].iov_base, n);
            left -= n;
        }
        die();
    }
    if (tracking(path))
        track_data(fd, -1, total, -1);
    ssize_t r = real_writev(fd, iov, cnt);
    if (a == ACT_DIE_AFTER)
        die();
    return r;
}

/* hook: 0 nothing, 1 a sync (durable afterwards), 2 a truncation to the second argument */
#define FD_OP(name, proto_args, call_args, mutates, hook, new_len)                           \
    int name proto_args                                                                      \
    {                                                                                        \
        REAL(int, name, proto_args)                                                        \
        char path[PATH_MAX];                                                                 \
        if (!fd_abs_path(fd, path, sizeof(path)))                                          \
            return real_##name call_args;                                                    \
        enum act a = decide(#name, path, NULL, -1, mutates);                                 \
        if ((hook) == 2 && tracking(path))                                                   \
            track_data(fd, 0, 0, (off_t)(new_len));                                          \
        int r = real_##name call_args;                                                       \
        if ((hook) == 1 && r == 0 && tracking(path))                                         \
            track_sync(fd, path);                                                            \
        if (a == ACT_DIE_AFTER)                                                              \
            die();                                                                           \
        return r;                                                                            \
    }

FD_OP(fsync, (int fd), (fd), 0, 1, 0)
FD_OP(fdatasync, (int fd), (fd), 0, 1, 0)
FD_OP(ftruncate, (int fd, off_t len), (fd, len), 1, 2, len)
FD_OP(ftruncate64, (int fd, off64_t len), (fd, len), 1, 2, len)

/* unlinks (not of directories) are undoable; a truncation by path is not tracked (nothing
 * in secup-agent uses one) */
#define PATH_OP(name, proto_args, call_args, path_expr, mutates, is_unlink)                  \
    int name proto_args                                                                      \
    {                                                                                        \
        REAL(int, name, proto_args)                                                        \
        char abs_[PATH_MAX];                                                                 \
        if (at_path path_expr != 0)                                                          \
            return real_##name call_args;                                                    \
        enum act a = decide(#name, abs_, NULL, -1, mutates);                                 \
        int tracked_ = (is_unlink) && tracking(abs_);                                        \
        if (tracked_)                                                                        \
            track_dir(U_UNLINK, abs_, NULL);                                                 \
        int r = real_##name call_args;                                                       \
        if (tracked_)                                                                        \
            drop_last_if_failed(r);                                                          \
        if (a == ACT_DIE_AFTER)                                                              \
            die();                                                                           \
        return r;                                                                            \
    }

PATH_OP(unlink, (const char *p), (p), (AT_FDCWD, p, abs_, sizeof(abs_)), 1, 1)
PATH_OP(unlinkat, (int dfd, const char *p, int fl), (dfd, p, fl), (dfd, p, abs_, sizeof(abs_)), 1,
        !(fl & AT_REMOVEDIR))
PATH_OP(truncate, (const char *p, off_t len), (p, len), (AT_FDCWD, p, abs_, sizeof(abs_)), 1, 0)
PATH_OP(truncate64, (const char *p, off64_t len), (p, len), (AT_FDCWD, p, abs_, sizeof(abs_)), 1, 0)

#define RENAME_OP(name, proto_args, call_args, from_fd, from, to_fd, to)                     \
    int name proto_args                                                                      \
    {                                                                                        \
        REAL(int, name, proto_args)                                                        \
        char a_[PATH_MAX];                                                                   \
        char b_[PATH_MAX];                                                                   \
        if (at_path(from_fd, from, a_, sizeof(a_)) != 0 ||                                   \
            at_path(to_fd, to, b_, sizeof(b_)) != 0)                                         \
            return real_##name call_args;                                                    \
        enum act a = decide(#name, a_, b_, -1, 1);                                           \
        int tracked_ = tracking(a_) || tracking(b_);                                         \
        if (tracked_)                                                                        \
            track_dir(U_RENAME, b_, a_);                                                     \
        int r = real_##name call_args;                                                       \
        if (tracked_)                                                                        \
            drop_last_if_failed(r);                                                          \
        if (a == ACT_DIE_AFTER)                                                              \
            die();                                                                           \
        return r;                                                                            \
    }

RENAME_OP(rename, (const char *o, const char *n), (o, n), AT_FDCWD, o, AT_FDCWD, n)
RENAME_OP(renameat, (int ofd, const char *o, int nfd, const char *n), (ofd, o, nfd, n), ofd, o,
          nfd, n)
RENAME_OP(renameat2, (int ofd, const char *o, int nfd, const char *n, unsigned fl),
          (ofd, o, nfd, n, fl), ofd, o, nfd, n)

/* open and friends: only a call that may create or truncate is a mutating call. */
static int open_common(const char *op, int dirfd, const char *p, int flags, mode_t mode,
                       int (*real)(int, const char *, int, ...))
{
    char abs_[PATH_MAX];
    if (!(flags & (O_CREAT | O_TRUNC)) || at_path(dirfd, p, abs_, sizeof(abs_)) != 0)
        return real(dirfd, p, flags, mode);
    enum act a = decide(op, abs_, NULL, -1, (flags & O_TRUNC) != 0);
    struct stat st;
    int created = (flags & O_CREAT) && tracking(abs_) && lstat(abs_, &st) != 0;
    if ((flags & O_TRUNC) && !created && tracking(abs_)) {
        /* what the truncation removes, recorded before it happens */
        int fd = raw_open(abs_, O_RDWR, 0);
        if (fd >= 0) {
            track_data(fd, 0, 0, 0);
            (void)syscall(SYS_close, fd);
        }
    }
    int r = real(dirfd, p, flags, mode);
    if (created && r >= 0)
        track_dir(U_CREATE, abs_, NULL);
    if (a == ACT_DIE_AFTER)
        die();
    return r;
}

static int (*real_openat_fn(void))(int, const char *, int, ...)
{
    REAL(int, openat, (int, const char *, int, ...))
    return real_openat;
}

static int (*real_openat64_fn(void))(int, const char *, int, ...)
{
    REAL(int, openat64, (int, const char *, int, ...))
    return real_openat64;
}

static mode_t mode_arg(int flags, va_list ap)
{
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        return (mode_t)va_arg(ap, unsigned int);
    return 0;
}

int open(const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return open_common("open", AT_FDCWD, p, flags, m, real_openat_fn());
}

int open64(const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return open_common("open64", AT_FDCWD, p, flags, m, real_openat64_fn());
}

int openat(int dfd, const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return open_common("openat", dfd, p, flags, m, real_openat_fn());
}

int openat64(int dfd, const char *p, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    return open_common("openat64", dfd, p, flags, m, real_openat64_fn());
}

int creat(const char *p, mode_t mode)
{
    return open_common("creat", AT_FDCWD, p, O_CREAT | O_WRONLY | O_TRUNC, mode, real_openat_fn());
}

int creat64(const char *p, mode_t mode)
{
    return open_common("creat64", AT_FDCWD, p, O_CREAT | O_WRONLY | O_TRUNC, mode,
                       real_openat64_fn());
}

/* mkstemp's own open is internal to glibc: the creation is counted here, on the template
 * (the X's are not filled in yet when the cut is before the call). */
#define MKSTEMP_OP(name, proto_args, call_args)                                              \
    int name proto_args                                                                      \
    {                                                                                        \
        REAL(int, name, proto_args)                                                        \
        char abs_[PATH_MAX];                                                                 \
        if (at_path(AT_FDCWD, tmpl, abs_, sizeof(abs_)) != 0)                                \
            return real_##name call_args;                                                    \
        enum act a = decide(#name, abs_, NULL, -1, 0);                                       \
        int r = real_##name call_args;                                                       \
        if (r >= 0 && at_path(AT_FDCWD, tmpl, abs_, sizeof(abs_)) == 0 && tracking(abs_))   \
            track_dir(U_CREATE, abs_, NULL);                                                 \
        if (a == ACT_DIE_AFTER)                                                              \
            die();                                                                           \
        return r;                                                                            \
    }

MKSTEMP_OP(mkstemp, (char *tmpl), (tmpl))
MKSTEMP_OP(mkstemp64, (char *tmpl), (tmpl))
MKSTEMP_OP(mkostemp, (char *tmpl, int fl), (tmpl, fl))
MKSTEMP_OP(mkostemp64, (char *tmpl, int fl), (tmpl, fl))
