/* Running the bootloader's environment tools. No shell is involved (system() and popen()
 * are banned): the arguments reach the tool exactly as given, so a path with spaces or
 * quotes cannot change the command. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot_tool.h"

#define CMDLINE_MAX 512

struct run {
    int in[2];
    int out[2];
    int err[2];
    int exec[2]; /* the child reports a failed exec here; CLOEXEC closes it on success */
    long long timeout_ms;
};

enum stop { STOP_DONE, STOP_OVERFLOW, STOP_TIMEOUT, STOP_POLL, STOP_READ };

/* What became of one run. */
struct outcome {
    int exec_errno; /* 0: the tool was started */
    enum stop stop;
    int sys_errno; /* for STOP_POLL and STOP_READ */
    int status;    /* from waitpid */
    size_t out_len;
    size_t err_len;
    char errbuf[BOOT_TOOL_MAX_STDERR];
};

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void close_run(struct run *r)
{
    for (int i = 0; i < 2; i++) {
        close_fd(&r->in[i]);
        close_fd(&r->out[i]);
        close_fd(&r->err[i]);
        close_fd(&r->exec[i]);
    }
}

/* Pipe ends are kept above the standard descriptors: if the agent was started with
 * stdin, stdout or stderr closed, a pipe end could otherwise be 0, 1 or 2 and be
 * overwritten in the child by the dup2() of another one. */
static int make_pipe(int p[2])
{
    if (pipe(p) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (p[i] < 3) {
            int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
            if (fd < 0)
                return -1;
            close(p[i]);
            p[i] = fd;
        } else if (fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0) {
            return -1;
        }
    }
    return 0;
}

/* dup2() onto the standard descriptor; when fd already is that descriptor, dup2 is a no-op
 * that would leave FD_CLOEXEC set, so clear it instead. Async-signal-safe. */
static int move_fd(int fd, int target)
{
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void child_exec(const struct run *r, const char *exe, bool use_path,
                       const char *const argv[])
{
    int e = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGXFSZ, &sa, NULL);
    if (move_fd(r->in[0], 0) != 0 || move_fd(r->out[1], 1) != 0 || move_fd(r->err[1], 2) != 0) {
        e = errno;
    } else {
        if (use_path)
            execvp(argv[0], (char *const *)argv);
        else
            execv(exe, (char *const *)argv);
        e = errno;
    }
    ssize_t w = write(r->exec[1], &e, sizeof(e));
    (void)w;
    _exit(127);
}

static void cmdline(const char *const argv[], char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; argv[i]; i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= cap - len)
            return; /* truncated: still a useful message */
        len += (size_t)n;
    }
}

/* stderr as one line: newlines become "; ", other control bytes '?'. */
static void one_line(const char *s, size_t len, char *dst, size_t cap)
{
    size_t o = 0;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    for (size_t i = 0; i < len && o + 3 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') {
            dst[o++] = ';';
            dst[o++] = ' ';
        } else if (ch < 0x20 || ch == 0x7f) {
            dst[o++] = '?';
        } else {
            dst[o++] = (char)ch;
        }
    }
    dst[o] = '\0';
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads stdout and stderr until both reach end of file. */
static enum stop collect(struct run *r, char *out, size_t cap, struct outcome *o)
{
    long long deadline = now_ms() + r->timeout_ms;
    char scratch[4096];
    while (r->out[0] >= 0 || r->err[0] >= 0) {
        struct pollfd pfd[2] = {{r->out[0], POLLIN, 0}, {r->err[0], POLLIN, 0}};
        long long left = deadline - now_ms();
        if (left <= 0)
            return STOP_TIMEOUT;
        int n = poll(pfd, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            o->sys_errno = errno;
            return STOP_POLL;
        }
        for (int k = 0; k < 2; k++) {
            if (pfd[k].fd < 0 || pfd[k].revents == 0)
                continue;
            ssize_t got;
            if (k == 0) {
                if (o->out_len + 1 >= cap) {
                    /* One byte more than fits proves the overflow. */
                    got = read(pfd[k].fd, scratch, 1);
                    if (got > 0)
                        return STOP_OVERFLOW;
                } else {
                    got = read(pfd[k].fd, out + o->out_len, cap - 1 - o->out_len);
                    if (got > 0)
                        o->out_len += (size_t)got;
                }
            } else {
                got = read(pfd[k].fd, scratch, sizeof(scratch));
                if (got > 0 && o->err_len < BOOT_TOOL_MAX_STDERR) {
                    size_t keep = (size_t)got;
                    if (keep > BOOT_TOOL_MAX_STDERR - o->err_len)
                        keep = BOOT_TOOL_MAX_STDERR - o->err_len;
                    memcpy(o->errbuf + o->err_len, scratch, keep);
                    o->err_len += keep;
                }
            }
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                o->sys_errno = errno;
                return STOP_READ;
            }
            if (got == 0)
                close_fd(k == 0 ? &r->out[0] : &r->err[0]);
        }
    }
    return STOP_DONE;
}

static int reap(pid_t pid, int *status)
{
    for (;;) {
        pid_t w = waitpid(pid, status, 0);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -1;
    }
}

/* Creates the pipes, fills stdin and starts the tool; on success *pid is the child and
 * only the parent's ends stay open in r. */
static secup_rc start(struct run *r, const char *cmd, const char *exe, bool use_path,
                      const char *const argv[], struct secup_bytes input, pid_t *pid,
                      struct secup_err *err)
{
    if (make_pipe(r->in) != 0 || make_pipe(r->out) != 0 || make_pipe(r->err) != 0 ||
        make_pipe(r->exec) != 0)
        return secup_err_set(err, SECUP_E_IO, "running '%s': cannot create a pipe: %s", cmd,
                             strerror(errno));
    /* The input is small enough for the pipe's buffer, so writing it before the tool
     * runs cannot block. */
    size_t done = 0;
    while (done < input.len) {
        ssize_t w = write(r->in[1], input.ptr + done, input.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return secup_err_set(err, SECUP_E_IO, "running '%s': writing its input: %s", cmd,
                                 strerror(errno));
        done += (size_t)w;
    }
    close_fd(&r->in[1]);
    *pid = fork();
    if (*pid < 0)
        return secup_err_set(err, SECUP_E_IO, "running '%s': fork: %s", cmd, strerror(errno));
    if (*pid == 0)
        child_exec(r, exe, use_path, argv);
    close_fd(&r->in[0]);
    close_fd(&r->out[1]);
    close_fd(&r->err[1]);
    close_fd(&r->exec[1]);
    return SECUP_OK;
}

static secup_rc verdict(const struct outcome *o, const char *cmd, const char *const argv[],
                        const char *tool_dir, const char *pkg, size_t cap, long long timeout_ms,
                        struct secup_err *err)
{
    bool use_path = !tool_dir || tool_dir[0] == '\0';
    if (o->exec_errno != 0)
        return secup_err_set(err, o->exec_errno == ENOENT ? SECUP_E_NOENT : SECUP_E_IO,
                             "cannot run '%s'%s%s: %s%s%s%s", argv[0], use_path ? "" : " from ",
                             use_path ? "" : tool_dir, strerror(o->exec_errno),
                             pkg ? " (it comes with the Debian package " : "", pkg ? pkg : "",
                             pkg ? ")" : "");
    switch (o->stop) {
    case STOP_OVERFLOW:
        return secup_err_set(err, SECUP_E_LIMIT_SIZE, "'%s' printed more than %zu bytes; killed",
                             cmd, cap - 1);
    case STOP_TIMEOUT:
        return secup_err_set(err, SECUP_E_IO, "'%s' did not finish within %lld s; killed", cmd,
                             timeout_ms / 1000);
    case STOP_POLL:
    case STOP_READ:
        return secup_err_set(err, SECUP_E_IO, "running '%s': %s: %s", cmd,
                             o->stop == STOP_POLL ? "poll" : "read", strerror(o->sys_errno));
    case STOP_DONE:
        break;
    }
    char line[BOOT_TOOL_MAX_STDERR + 64];
    one_line(o->errbuf, o->err_len, line, sizeof(line));
    if (WIFSIGNALED(o->status))
        return secup_err_set(err, SECUP_E_IO, "'%s' was killed by signal %d%s%s", cmd,
                             WTERMSIG(o->status), line[0] ? ": " : "", line);
    if (!WIFEXITED(o->status) || WEXITSTATUS(o->status) != 0)
        return secup_err_set(err, SECUP_E_IO, "'%s' exited with status %d%s%s", cmd,
                             WIFEXITED(o->status) ? WEXITSTATUS(o->status) : -1,
                             line[0] ? ": " : " (no message)", line);
    return SECUP_OK;
}

secup_rc boot_tool_run(const char *tool_dir, const char *pkg, const char *const argv[],
                       struct secup_bytes input, char *out, size_t cap, size_t *out_len,
                       struct secup_err *err)
{
    return boot_tool_run_timeout(tool_dir, pkg, argv, input, out, cap, out_len,
                                 BOOT_TOOL_TIMEOUT_MS, err);
}

secup_rc boot_tool_run_timeout(const char *tool_dir, const char *pkg, const char *const argv[],
                               struct secup_bytes input, char *out, size_t cap, size_t *out_len,
                               long long timeout_ms, struct secup_err *err)
{
    *out_len = 0;
    if (cap == 0 || !argv || !argv[0] || input.len > BOOT_TOOL_MAX_INPUT)
        return secup_err_set(err, SECUP_E_ARG, "boot_tool_run: invalid arguments");
    out[0] = '\0';
    char cmd[CMDLINE_MAX];
    cmdline(argv, cmd, sizeof(cmd));
    char exe[4096 + 64];
    exe[0] = '\0';
    bool use_path = !tool_dir || tool_dir[0] == '\0';
    if (!use_path) {
        int n = snprintf(exe, sizeof(exe), "%s/%s", tool_dir, argv[0]);
        if (n < 0 || (size_t)n >= sizeof(exe))
            return secup_err_set(err, SECUP_E_ARG, "tool directory too long: '%s'", tool_dir);
    }

    struct run r = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}, timeout_ms};
    pid_t pid = -1;
    secup_rc rc = start(&r, cmd, exe, use_path, argv, input, &pid, err);
    if (rc != SECUP_OK) {
        close_run(&r);
        return rc;
    }
    struct outcome o;
    memset(&o, 0, sizeof(o));
    int exec_errno = 0;
    ssize_t got = -1;
    /* The exec pipe reports end-of-file when the child has run the program; the wait is
     * bounded too (a write end left open by a failed close would otherwise block the
     * boot stage for ever: found under random I/O errors, THREATS.md F6). */
    struct pollfd epf = { r.exec[0], POLLIN, 0 };
    long long edeadline = now_ms() + r.timeout_ms;
    int en;
    do {
        long long left = edeadline - now_ms();
        en = left > 0 ? poll(&epf, 1, (int)left) : 0;
    } while (en < 0 && errno == EINTR);
    if (en > 0) {
        do {
            got = read(r.exec[0], &exec_errno, sizeof(exec_errno));
        } while (got < 0 && errno == EINTR);
    }
    if (got == (ssize_t)sizeof(exec_errno))
        o.exec_errno = exec_errno ? exec_errno : EIO;
    o.stop = en > 0 ? collect(&r, out, cap, &o) : en == 0 ? STOP_TIMEOUT : STOP_POLL;
    if (en < 0)
        o.sys_errno = errno;
    if (o.stop != STOP_DONE)
        kill(pid, SIGKILL);
    close_run(&r);
    if (reap(pid, &o.status) != 0)
        return secup_err_set(err, SECUP_E_IO, "running '%s': waitpid: %s", cmd, strerror(errno));
    rc = verdict(&o, cmd, argv, tool_dir, pkg, cap, timeout_ms, err);
    if (rc == SECUP_OK) {
        *out_len = o.out_len;
        out[o.out_len] = '\0';
    } else {
        out[0] = '\0';
    }
    return rc;
}

static bool parse_slot(const char *s, size_t len, bool allow_none, int *out)
{
    if (len == 0 && allow_none) {
        *out = BOOT_NO_SLOT;
        return true;
    }
    if (len != 1 || (s[0] != '0' && s[0] != '1'))
        return false;
    *out = s[0] - '0';
    return true;
}

secup_rc boot_env_parse(const char *text, size_t len, const char *comp, const char *what,
                        struct boot_state *out, struct secup_err *err)
{
    static const char *const field[3] = {"active", "trial", "attempts"};
    struct boot_state st = {0, BOOT_NO_SLOT, 0};
    *out = st;
    bool seen[3] = {false, false, false};
    char prefix[BOOT_MAX_NAME + 16];
    int pn = snprintf(prefix, sizeof(prefix), "secup_%s_", comp);
    if (pn < 0 || (size_t)pn >= sizeof(prefix))
        return secup_err_set(err, SECUP_E_ARG, "component name too long: '%s'", comp);
    size_t plen = (size_t)pn;

    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl ? 1 : 0);
        if (llen <= plen || memcmp(line, prefix, plen) != 0)
            continue;
        const char *eq = memchr(line + plen, '=', llen - plen);
        if (!eq)
            continue;
        size_t nlen = (size_t)(eq - (line + plen));
        const char *val = eq + 1;
        size_t vlen = llen - (size_t)(val - line);
        for (int f = 0; f < 3; f++) {
            if (nlen != strlen(field[f]) || memcmp(line + plen, field[f], nlen) != 0)
                continue;
            if (seen[f])
                return secup_err_set(err, SECUP_E_VALUE, "%s: secup_%s_%s is listed twice", what,
                                     comp, field[f]);
            seen[f] = true;
            bool ok = f == 0   ? parse_slot(val, vlen, false, &st.active)
                      : f == 1 ? parse_slot(val, vlen, true, &st.trial)
                               : boot_parse_u32(val, vlen, &st.attempts);
            if (!ok)
                return secup_err_set(err, SECUP_E_VALUE, "%s: secup_%s_%s=%.*s: expected %s", what,
                                     comp, field[f], (int)(vlen > 64 ? 64 : vlen), val,
                                     f == 0   ? "0 or 1"
                                     : f == 1 ? "0, 1 or nothing"
                                              : "a decimal number up to 4294967295");
        }
    }
    secup_rc rc = boot_state_check(comp, &st, err);
    if (rc != SECUP_OK) {
        secup_err_prefix(err, "%s", what);
        return rc;
    }
    *out = st;
    return SECUP_OK;
}
