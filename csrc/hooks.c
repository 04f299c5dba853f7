/* OCI hooks run by the runtime: see hooks.h.  The child is cloned with
 * CLONE_VM|CLONE_VFORK (no copy of the runtime's memory: the parent sleeps until
 * the exec) unless it must enter namespaces, on a stack in the parent's frame;
 * it makes only syscalls until execve: no allocation, no Python.  What fails in
 * it travels back on a close-on-exec pipe as (stage, errno), as subprocess does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>
#include "hooks.h"
#include "rc.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

extern char **environ;

/* Stages of the child, named to the parent by index. */
static const char *const child_stage[] = {
    "exec", "signals", "prctl PR_SET_PDEATHSIG", "setsid", "setns", "dup2", "close_range",
    "sigprocmask", "restore the scheduler slice",
};
enum { ST_EXEC, ST_SIGNALS, ST_PDEATHSIG, ST_SETSID, ST_SETNS, ST_DUP2, ST_CLOSE_RANGE, ST_SIGMASK, ST_SLICE };

struct child_fail { int32_t stage, err; };

struct child_arg {
    const struct rc_hook *h;
    pid_t parent;
    int in_r, out_w, err_w, report;
    sigset_t mask;             /* the runtime's signal mask, restored before exec */
};

static __attribute__((noreturn)) void child_failed(int fd, int stage, int err)
{
    struct child_fail f = { stage, err };
    if (write(fd, &f, sizeof f) < 0) { /* the parent sees a silent exit 127 */ }
    _exit(127);
}

static int hook_child(void *p)
{
    const struct child_arg *a = p;
    struct sigaction dfl, cur;
    int i;

    /* Handlers are the runtime's (Python's, in memory this child may share):
     * back to the default before signals are unblocked; SIGPIPE and SIGXFSZ too,
     * which the interpreter ignores (subprocess's restore_signals). */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (i = 1; i < _NSIG; i++) {
        if (i == SIGKILL || i == SIGSTOP || sigaction(i, NULL, &cur) < 0)
            continue;          /* EINVAL: the C library's own signals */
        if ((cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN) || i == SIGPIPE || i == SIGXFSZ)
            if (sigaction(i, &dfl, NULL) < 0)
                child_failed(a->report, ST_SIGNALS, errno);
    }
    /* die with the runtime; if it died already (the clone raced it), now */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        child_failed(a->report, ST_PDEATHSIG, errno);
    /* a hook runs during the start spawn shortened the runtime's slice for (rc.h) */
    if (rc_slice_orig && rc_restore_slice(rc_slice_orig) < 0)
        child_failed(a->report, ST_SLICE, errno);
    if (getppid() != a->parent)
        _exit(137);
    if (setsid() < 0)
        child_failed(a->report, ST_SETSID, errno);
    for (i = 0; i < a->h->nns; i++)
        if (setns(a->h->ns_fd[i], 0) < 0)
            child_failed(a->report, ST_SETNS, errno);
    /* every pipe end is above 2 (rc_hook_spawn): no dup2 clobbers another */
    if (dup2(a->in_r, 0) < 0 || dup2(a->out_w, 1) < 0 || dup2(a->err_w, 2) < 0)
        child_failed(a->report, ST_DUP2, errno);
    /* nothing of the runtime's beyond 0-2 reaches the hook (the report pipe
     * closes at the exec, which is how the parent learns it happened) */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        child_failed(a->report, ST_CLOSE_RANGE, errno);
    if (sigprocmask(SIG_SETMASK, &a->mask, NULL) < 0)
        child_failed(a->report, ST_SIGMASK, errno);
    execve(a->h->path, a->h->argv, a->h->envp ? a->h->envp : environ);
    child_failed(a->report, ST_EXEC, errno);
}

static int fail(struct rc_hook_run *r, const char *stage, int err)
{
    r->stage = stage;
    r->err_no = err;
    return -1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* A pipe whose ends are both above 2, close-on-exec: the runtime's own 0-2
 * may be closed, and the child's dup2 onto 0-2 must not overwrite an end. */
static int hook_pipe(int p[2])
{
    int i;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    for (i = 0; i < 2; i++) {
        if (p[i] <= 2) {
            int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
            if (fd < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                errno = e;
                return -1;
            }
            close(p[i]);
            p[i] = fd;
        }
    }
    return 0;
}

void rc_hook_init(struct rc_hook_run *r)
{
    memset(r, 0, sizeof *r);
    r->pid = -1;
    r->pidfd = r->in_fd = r->out_fd = r->err_fd = -1;
}

static int reap(struct rc_hook_run *r)
{
    pid_t w;
    do
        w = waitpid(r->pid, &r->status, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return fail(r, "waitpid", errno);
    r->reaped = 1;
    close_fd(&r->pidfd);
    return 0;
}

int rc_hook_spawn(const struct rc_hook *h, struct rc_hook_run *r)
{
    /* the child's stack: in this frame, which the parent does not touch while a
     * CLONE_VFORK child runs (a plain fork's child has its own copy) */
    enum { stack_size = 32768 };
    char stack[stack_size] __attribute__((aligned(16)));
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
    struct child_arg a;
    struct child_fail f;
    sigset_t all;
    int flags, pidfd = -1, e;
    ssize_t n;
    pid_t pid;

    if (hook_pipe(in) < 0 || hook_pipe(out) < 0 || hook_pipe(err) < 0 || hook_pipe(rep) < 0) {
        e = errno;
        close_fd(&in[0]), close_fd(&in[1]), close_fd(&out[0]), close_fd(&out[1]);
        close_fd(&err[0]), close_fd(&err[1]);
        return fail(r, "pipe2", e);
    }
    memset(&a, 0, sizeof a);
    a.h = h;
    a.parent = getpid();
    a.in_r = in[0];
    a.out_w = out[1];
    a.err_w = err[1];
    a.report = rep[1];
    /* no handler may run in the child before it resets them */
    sigfillset(&all);
    if ((e = pthread_sigmask(SIG_SETMASK, &all, &a.mask)) != 0) {
        close_fd(&in[0]), close_fd(&in[1]), close_fd(&out[0]), close_fd(&out[1]);
        close_fd(&err[0]), close_fd(&err[1]), close_fd(&rep[0]), close_fd(&rep[1]);
        return fail(r, "pthread_sigmask", e);
    }
    flags = CLONE_PIDFD | SIGCHLD | (h->nns ? 0 : CLONE_VM | CLONE_VFORK);
    pid = clone(hook_child, stack + stack_size, flags, &a, &pidfd);
    e = errno;
    pthread_sigmask(SIG_SETMASK, &a.mask, NULL);   /* restoring a mask it gave cannot fail */
    close_fd(&in[0]), close_fd(&out[1]), close_fd(&err[1]), close_fd(&rep[1]);
    if (pid < 0) {
        close_fd(&in[1]), close_fd(&out[0]), close_fd(&err[0]), close_fd(&rep[0]);
        return fail(r, "clone", e);
    }
    r->pid = pid;
    r->pidfd = pidfd;
    r->in_fd = in[1];
    r->out_fd = out[0];
    r->err_fd = err[0];
    /* end of file: the exec happened (or the child died without a word) */
    do
        n = read(rep[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    e = errno;
    close_fd(&rep[0]);
    if (n < 0 || (n > 0 && n != (ssize_t)sizeof f)) {
        rc_hook_kill(r);
        return fail(r, "read the hook's exec status", n < 0 ? e : EPROTO);
    }
    if (n == (ssize_t)sizeof f) {
        reap(r);
        close_fd(&r->in_fd), close_fd(&r->out_fd), close_fd(&r->err_fd);
        if (f.stage < 0 || f.stage >= (int)(sizeof child_stage / sizeof *child_stage))
            return fail(r, "hook child", f.err);
        return fail(r, child_stage[f.stage], f.err);
    }
    if (fcntl(r->in_fd, F_SETFL, O_NONBLOCK) < 0) {
        e = errno;
        rc_hook_kill(r);
        return fail(r, "fcntl O_NONBLOCK", e);
    }
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* One read of a stream poll found ready (blocking: one read does not block):
 * 0, or -1 with errno; the fd is closed at its end. */
static int drain(int *fd, struct rc_hook_buf *b)
{
    char scratch[4096], *to = scratch;
    size_t room = sizeof scratch;
    ssize_t n;
    if (b->len < RC_HOOK_OUT_MAX) {
        if (b->cap - b->len < 4096) {
            size_t cap = b->cap ? b->cap * 2 : 8192;
            char *d = realloc(b->data, cap);
            if (d) {
                b->data = d;
                b->cap = cap;
            }
        }
        if (b->cap - b->len >= 4096) {   /* else (no memory) read to drop */
            to = b->data + b->len;
            room = b->cap - b->len;
            if (room > RC_HOOK_OUT_MAX - b->len)
                room = RC_HOOK_OUT_MAX - b->len;
        }
    }
    n = read(*fd, to, room);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        close_fd(fd);
    else if (to != scratch)
        b->len += (size_t)n;
    return 0;
}

int rc_hook_communicate(struct rc_hook_run *r, long long timeout_s)
{
    if (r->reaped)
        return RC_HOOK_DONE;
    if (timeout_s > 0 && !r->deadline) {
        if (timeout_s > 1000000000LL)
            timeout_s = 1000000000LL;
        r->deadline = now_ns() + timeout_s * 1000000000LL;
    }
    if (r->in_fd >= 0 && r->off >= r->len)
        close_fd(&r->in_fd);
    for (;;) {
        struct pollfd p[3];
        int n = 0, ms = -1, k, i;
        if (r->in_fd >= 0)
            p[n++] = (struct pollfd){ .fd = r->in_fd, .events = POLLOUT };
        if (r->out_fd >= 0)
            p[n++] = (struct pollfd){ .fd = r->out_fd, .events = POLLIN };
        if (r->err_fd >= 0)
            p[n++] = (struct pollfd){ .fd = r->err_fd, .events = POLLIN };
        if (n == 0)            /* both streams ended: wait for the exit */
            p[n++] = (struct pollfd){ .fd = r->pidfd, .events = POLLIN };
        if (r->deadline) {
            int64_t left = r->deadline - now_ns();
            if (left <= 0)
                return RC_HOOK_TIMEOUT;
            /* a timeout of years still fits poll's int milliseconds: wake once in ~24 days */
            ms = left / 1000000 >= INT_MAX ? INT_MAX : (int)((left + 999999) / 1000000);
        }
        k = poll(p, (nfds_t)n, ms);
        if (k < 0)
            return errno == EINTR ? RC_HOOK_EINTR : fail(r, "poll", errno);
        for (i = 0; i < n; i++) {
            if (!p[i].revents)
                continue;
            if (p[i].fd == r->in_fd) {
                ssize_t w = write(r->in_fd, r->data + r->off, r->len - r->off);
                if (w < 0 && errno == EPIPE) {
                    close_fd(&r->in_fd);   /* the hook need not read its stdin */
                } else if (w < 0) {
                    if (errno != EAGAIN && errno != EINTR)
                        return fail(r, "write the state to the hook", errno);
                } else if ((r->off += (size_t)w) >= r->len) {
                    close_fd(&r->in_fd);
                }
            } else if (p[i].fd == r->out_fd) {
                if (drain(&r->out_fd, &r->out) < 0)
                    return fail(r, "read the hook's stdout", errno);
            } else if (p[i].fd == r->err_fd) {
                if (drain(&r->err_fd, &r->err) < 0)
                    return fail(r, "read the hook's stderr", errno);
            } else if (p[i].fd == r->pidfd) {
                return reap(r) < 0 ? -1 : RC_HOOK_DONE;
            }
        }
    }
}

int rc_hook_kill(struct rc_hook_run *r)
{
    if (r->pid <= 0 || r->reaped)
        return 0;
    /* the hook leads its session and its process group; a pid not yet reaped is not reused, as a
     * process group id either.  What moved itself to another group survives this; delete finds
     * it by the session recorded in the container's hook file (hooks.py, kill_recorded) */
    if (kill(-r->pid, SIGKILL) < 0 && errno != ESRCH)
        return fail(r, "kill", errno);
    return reap(r);
}

void rc_hook_close(struct rc_hook_run *r)
{
    close_fd(&r->pidfd);
    close_fd(&r->in_fd);
    close_fd(&r->out_fd);
    close_fd(&r->err_fd);
    free(r->out.data);
    free(r->err.data);
    r->out.data = r->err.data = NULL;
    r->out.len = r->out.cap = r->err.len = r->err.cap = 0;
}
