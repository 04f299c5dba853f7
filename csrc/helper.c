/* railcar-init: the sealed-memfd helper, built static.  The container child
 * execs it after pivot_root, so no process in the container ever has the
 * host's python as /proc/<pid>/exe (CVE-2019-5736).  It applies the user,
 * capabilities, no_new_privs, reports READY, waits for `start` on the exec
 * fifo, loads seccomp and execs the user program.  In init mode it forks
 * first and stays as the container's pid 1: reaps zombies, forwards every
 * signal, exits with the process's status.  Once the process is cloned the
 * init drops every capability but CAP_KILL and sets no_new_privs
 * (init_drop_privileges).
 *
 * argv: railcar-init <plan-fd> <exe> <sync-fd> <tty-fd> */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include "rc.h"
#include "helper_plan.h"
#include "trace_msg.h"
#include "sendfd.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef CAP_KILL
#define CAP_KILL 5
#endif

struct hplan {
    int init, nnp, has_caps, tty;
    uint32_t uid, gid, last_cap, preserve, seccomp_flags;
    uint32_t *groups;
    size_t ngroups;
    uint64_t caps[5];              /* bounding, effective, permitted, inheritable, ambient */
    char **argv, **env;
    struct sock_filter *filter;
    size_t nfilter;
    int notify;                    /* NOTIFY: the listener fd goes to the runtime with READY */
    int listener_fd;
    const char *lsm_path, *lsm_value;
    char *hooks;                   /* startContainer hooks: HP_START_HOOKS records */
    size_t hooks_len;
    int sync_fd, fifo_fd, tty_fd;
    const char *exe;
    int trace;                     /* --trace-startup: stages go to trace_fd */
    int trace_fd;                  /* the sync socket, kept past READY when tracing */
    int filtered;                  /* a seccomp filter is loaded: send nothing more */
    uint64_t slice;                /* spawn shortened our slice from this one (rc.h): restore it */
};

static struct hplan P;

static void fail(const char *stage, int err, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* (stage, errno, message) to the runtime on `sync_fd`, or to stderr when
 * nobody listens there any more */
static void report(int sync_fd, const char *stage, int err, const char *fmt, va_list ap)
{
    struct rc_msg m;
    memset(&m, 0, sizeof m);
    m.type = RC_MSG_ERROR;
    m.err = err;
    snprintf(m.stage, sizeof m.stage, "%s", stage);
    vsnprintf(m.text, sizeof m.text, fmt, ap);
    if (sync_fd < 0 || send(sync_fd, &m, sizeof m, MSG_NOSIGNAL) < 0) {
        /* after READY nobody listens on the sync socket: the user sees stderr */
        dprintf(2, "railcar: %s: %s: %s\n", m.stage, m.text, err ? strerror(err) : "failed");
    }
}

static void fail(const char *stage, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(P.sync_fd, stage, err, fmt, ap);
    va_end(ap);
    _exit(err == ENOENT ? 127 : 126);
}

/* Memory the container is charged for: the helper touches no heap in the
 * common case (no brk, no malloc arena: fewer pages and page tables in the
 * container's cgroup), so small things live in .bss and the plan is mapped. */
static char *argv_small[256];
static char state_small[16384];

static char **split_strings(const char *data, size_t len)
{
    size_t n = 0, i, k = 0;
    char **v;
    for (i = 0; i < len; i++)
        if (data[i] == 0)
            n++;
    v = n + 1 <= sizeof argv_small / sizeof *argv_small ? argv_small : calloc(n + 1, sizeof *v);
    if (!v)
        fail("helper", ENOMEM, "plan");
    for (i = 0; i < len && k < n; k++) {
        v[k] = (char *)data + i;
        i += strlen(data + i) + 1;
    }
    return v;
}

/* a fixed-size plan field: exactly its size, or the plan is refused (never a read past it) */
#define FIELD(dst) do {                                                     \
        if (len != sizeof(dst))                                             \
            fail("helper", EINVAL, "plan: field %u has %u bytes, not %zu", \
                 tag, len, sizeof(dst));                                    \
        memcpy(&(dst), d, sizeof(dst));                                     \
    } while (0)

static void read_plan(int fd)
{
    struct stat st;
    char *buf;
    size_t off = 0, got = 0;
    if (fstat(fd, &st) < 0)
        fail("helper", errno, "stat plan");
    if (st.st_size <= 0)
        fail("helper", EINVAL, "empty plan");
    /* the sealed plan memfd's pages are the runtime's: mapping them charges
     * the container nothing, where a copy would */
    buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (buf == MAP_FAILED)
        fail("helper", errno, "map plan");
    got = (size_t)st.st_size;
    close(fd);
    while (off + 8 <= got) {
        uint32_t tag, len;
        char *d;
        memcpy(&tag, buf + off, 4);
        memcpy(&len, buf + off + 4, 4);
        d = buf + off + 8;
        if (len > got - off - 8)
            fail("helper", EINVAL, "truncated plan");
        switch (tag) {
        case HP_INIT: FIELD(P.init); break;
        case HP_ARGV: P.argv = split_strings(d, len); break;
        case HP_UID: FIELD(P.uid); break;
        case HP_GID: FIELD(P.gid); break;
        case HP_GROUPS: P.groups = (uint32_t *)d; P.ngroups = len / 4; break;
        case HP_CAPS: FIELD(P.caps); P.has_caps = 1; break;
        case HP_NNP: FIELD(P.nnp); break;
        case HP_SECCOMP: P.filter = (struct sock_filter *)d; P.nfilter = len / 8; break;
        case HP_SECCOMP_FLAGS: FIELD(P.seccomp_flags); break;
        case HP_SECCOMP_LISTENER: P.notify = 1; break;
        case HP_START_HOOKS: P.hooks = d; P.hooks_len = len; break;
        case HP_LSM_EXEC:          /* two strings, each NUL-terminated inside the field */
            if (!len || !memchr(d, 0, len) || !memchr(d + strlen(d) + 1, 0, len - strlen(d) - 1))
                fail("helper", EINVAL, "plan: malformed field %u", tag);
            P.lsm_path = d;
            P.lsm_value = d + strlen(d) + 1;
            break;
        case HP_FIFO_FD: FIELD(P.fifo_fd); break;
        case HP_PRESERVE_FDS: FIELD(P.preserve); break;
        case HP_LAST_CAP: FIELD(P.last_cap); break;
        case HP_TRACE: FIELD(P.trace); break;
        default: break;           /* newer railcar, older helper: ignore */
        }
        off += 8 + ((len + 7) & ~7u);
    }
}

static int capset_all(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    d[0].effective = (uint32_t)eff;
    d[1].effective = (uint32_t)(eff >> 32);
    d[0].permitted = (uint32_t)prm;
    d[1].permitted = (uint32_t)(prm >> 32);
    d[0].inheritable = (uint32_t)inh;
    d[1].inheritable = (uint32_t)(inh >> 32);
    return (int)syscall(SYS_capset, &h, d);
}

static void drop_bounding(uint64_t keep)
{
    uint32_t c;
    for (c = 0; c <= P.last_cap; c++)
        if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            fail("capabilities", errno, "drop capability %u from the bounding set", c);
}

/* In init mode the init drops its privileges while the process sets itself
 * up, and the process waits on this word (the two share memory) before its
 * first step that cannot wait: a seccomp filter (which may forbid futex) or
 * READY.  A failed drop is thus reported before READY, and create fails
 * instead of making a container whose pid 1 kept the runtime's capabilities.
 * The drop takes microseconds, the setup before either step far longer: the
 * wait is a load of a word that is already 1. */
static int init_gate = 1;       /* run_init sets 0 before the clone, 1 after the drop */

static void wait_for_init(void)
{
    while (__atomic_load_n(&init_gate, __ATOMIC_ACQUIRE) == 0) {
        if (syscall(SYS_futex, &init_gate, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) < 0 &&
            errno != EAGAIN && errno != EINTR)
            fail("init", errno, "wait for the init to drop its privileges");
    }
}

/* the process: before its first step that is the container's (a seccomp filter, which may
 * forbid sched_setattr; a startContainer hook; the exec) */
static void process_restore_slice(void)
{
    if (!P.slice)
        return;
    if (rc_restore_slice(P.slice) < 0)
        fail("scheduler", errno, "restore the scheduler slice (%llu ns)", (unsigned long long)P.slice);
    P.slice = 0;
}

static void load_seccomp(void)
{
    struct sock_fprog prog;
    long r;
    if (!P.nfilter)
        return;
    process_restore_slice();
    wait_for_init();
    prog.len = (unsigned short)P.nfilter;
    prog.filter = P.filter;
    r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, P.seccomp_flags, &prog);
    if (r < 0)
        fail("seccomp", errno, "load seccomp filter");
    if (P.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
        P.listener_fd = (int)r;   /* sent to the runtime with READY */
    P.filtered = 1;
}

/* --trace-startup: a stage and its CLOCK_MONOTONIC time to the runtime.
 * Never under a seccomp filter, which may forbid the send (or kill for it). */
static void htrace(const char *stage)
{
    if (P.trace && P.trace_fd >= 0 && !P.filtered)
        rc_send_trace(P.trace_fd, stage);
}

/* Blocks until `start` writes into the exec fifo: a u32 length and the
 * state JSON that startContainer hooks get on stdin. */
static char *wait_start(size_t *len)
{
    uint32_t n = 0;
    size_t got = 0;
    char *buf;
    if (P.fifo_fd < 0)
        return NULL;              /* exec: nothing to wait for */
    while (got < 4) {
        ssize_t r = read(P.fifo_fd, (char *)&n + got, 4 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            _exit(1);             /* start never came: the runtime is deleting us */
        got += (size_t)r;
    }
    buf = n < sizeof state_small ? state_small : malloc(n + 1);
    if (!buf)
        _exit(1);
    for (got = 0; got < n;) {
        ssize_t r = read(P.fifo_fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            _exit(1);
        got += (size_t)r;
    }
    buf[n] = 0;
    close(P.fifo_fd);
    *len = n;
    return buf;
}

/* Wait for a hook, killing it at its timeout (0: none).  The kernel keeps the
 * time: poll on a pidfd until the deadline of CLOCK_MONOTONIC. */
static int wait_hook(pid_t pid, unsigned timeout, int *st)
{
    struct timespec now, end;
    struct pollfd pfd;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        fail("startContainer hook", errno, "pidfd_open");
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout;
    pfd.fd = fd;
    pfd.events = POLLIN;
    for (;;) {
        long ms = -1;
        int r;
        if (timeout) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
            if (ms <= 0) {
                close(fd);
                return -1;
            }
        }
        r = poll(&pfd, 1, (int)ms);
        if (r < 0 && errno != EINTR)
            fail("startContainer hook", errno, "poll");
        if (r > 0)
            break;
    }
    close(fd);
    if (waitpid(pid, st, 0) < 0)
        fail("startContainer hook", errno, "waitpid");
    return 0;
}

/* One hook: state on stdin, killed at its timeout; a failure stops the
 * container (its stderr is the container's). */
static void run_hook(char *path, char **args, char **env, unsigned timeout, const char *state, size_t len)
{
    int pfd[2];
    pid_t pid;
    int st;
    if (pipe2(pfd, O_CLOEXEC) < 0)
        fail("startContainer hook", errno, "pipe");
    pid = fork();
    if (pid < 0)
        fail("startContainer hook", errno, "fork");
    if (pid == 0) {
        dup2(pfd[0], 0);
        execve(path, args, env);
        dprintf(2, "railcar: startContainer hook %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(pfd[0]);
    signal(SIGPIPE, SIG_IGN);
    if (write(pfd[1], state, len) < 0) { /* the hook may not read stdin */ }
    close(pfd[1]);
    if (wait_hook(pid, timeout, &st) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        dprintf(2, "railcar: startContainer hook %s: timed out after %us\n", path, timeout);
        _exit(1);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        dprintf(2, "railcar: startContainer hook %s failed (status %d)\n", path, st);
        _exit(1);
    }
}

/* The next NUL-terminated string of a record, which must end before `end`. */
static char *next_string(char **p, const char *end)
{
    char *s = *p, *nul = memchr(s, 0, (size_t)(end - s));
    if (s >= end || !nul)
        fail("helper", EINVAL, "plan: malformed startContainer hook record");
    *p = nul + 1;
    return s;
}

static void run_start_hooks(const char *state, size_t len)
{
    char *p = P.hooks, *end = P.hooks + P.hooks_len;
    while (p && p + 12 <= end) {
        uint32_t timeout, nargs, nenv, i;
        char **args, **env, *path;
        memcpy(&timeout, p, 4);
        memcpy(&nargs, p + 4, 4);
        memcpy(&nenv, p + 8, 4);
        p += 12;
        if (nargs > P.hooks_len || nenv > P.hooks_len)   /* each takes a byte at least */
            fail("helper", EINVAL, "plan: malformed startContainer hook record");
        path = next_string(&p, end);
        args = calloc(nargs + 2, sizeof *args);
        env = calloc(nenv + 1, sizeof *env);
        if (!args || !env)
            fail("startContainer hook", ENOMEM, "alloc");
        for (i = 0; i < nargs; i++)
            args[i] = next_string(&p, end);
        if (!nargs)
            args[0] = path;
        for (i = 0; i < nenv; i++)
            env[i] = next_string(&p, end);
        run_hook(path, args, env, timeout, state, len);
        free(args);
        free(env);
    }
}

/* The process: user, caps, nnp, READY, wait for start, seccomp, exec. */
static void become_process(void)
{
    uint64_t *c = P.caps;

    if (P.tty) {
        if (getsid(0) != getpid() && setsid() < 0)   /* main made the container's first one */
            fail("console", errno, "setsid");
        if (ioctl(P.tty_fd, TIOCSCTTY, 0) < 0)
            fail("console", errno, "set controlling terminal");
        if (fchown(P.tty_fd, P.uid, (gid_t)-1) < 0)
            fail("console", errno, "chown the pty");
        if (dup2(P.tty_fd, 0) < 0 || dup2(P.tty_fd, 1) < 0 || dup2(P.tty_fd, 2) < 0)
            fail("console", errno, "dup2 the pty");
        if (P.tty_fd > 2)
            close(P.tty_fd);
    }
    /* without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
     * before the user switch (runc's order); with it, last, before exec */
    if (!P.nnp)
        load_seccomp();
    if (P.has_caps)
        drop_bounding(c[0]);
    if (setgroups(P.ngroups, (gid_t *)P.groups) < 0 && errno != EPERM)
        fail("user", errno, "setgroups");
    if (P.has_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        fail("capabilities", errno, "keep capabilities");
    if (setresgid(P.gid, P.gid, P.gid) < 0)
        fail("user", errno, "setgid %u", P.gid);
    if (setresuid(P.uid, P.uid, P.uid) < 0)
        fail("user", errno, "setuid %u", P.uid);
    if (P.has_caps) {
        uint32_t k;
        if (capset_all(c[1], c[2], c[3]) < 0)
            fail("capabilities", errno, "capset (effective 0x%llx permitted 0x%llx inheritable 0x%llx)",
                 (unsigned long long)c[1], (unsigned long long)c[2], (unsigned long long)c[3]);
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        /* the kernel only lets a capability into the ambient set when it is
         * permitted and inheritable; runc skips the rest, and so do we */
        for (k = 0; k <= P.last_cap; k++)
            if ((c[4] & c[2] & c[3] & (1ULL << k)) &&
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, k, 0, 0) < 0)
                fail("capabilities", errno, "raise ambient capability %u", k);
    }
    if (P.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail("no_new_privileges", errno, "prctl");

    /* NOTIFY: load now, while the runtime still listens, so it can hand the
     * listener fd to the agent (the rest of the way is read, close, exec) */
    if (P.nnp && P.notify) {
        load_seccomp();
        P.nfilter = 0;
    }
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);   /* create returns now: outlive it */
    {
        struct rc_msg m;
        memset(&m, 0, sizeof m);
        m.type = RC_MSG_READY;
        m.pid = getpid();
        wait_for_init();
        htrace("helper: user, caps, no_new_privs");
        /* READY, with the seccomp listener when there is one; a runtime that is gone sees the
         * socket close instead */
        rc_sendmsg_fd(P.sync_fd, &m, sizeof m, P.listener_fd);
        /* errors after READY go to stderr (fail); with --trace-startup the
         * socket stays open for the last stages and closes at the exec */
        if (P.trace && fcntl(P.sync_fd, F_SETFD, FD_CLOEXEC) == 0)
            P.trace_fd = P.sync_fd;
        else
            close(P.sync_fd);
        P.sync_fd = -1;
        if (P.listener_fd >= 0)
            close(P.listener_fd);
    }
    {
        size_t len = 0;
        char *state = wait_start(&len);
        process_restore_slice();
        htrace("helper: start received");
        if (state && P.hooks) {
            run_start_hooks(state, len);
            htrace("helper: startContainer hooks");
        }
        if (state != state_small)
            free(state);
    }
    if (P.lsm_path) {
        /* the label the kernel gives the process at its exec */
        int f = open(P.lsm_path, O_WRONLY | O_CLOEXEC);
        size_t n = strlen(P.lsm_value);
        if (f < 0 || write(f, P.lsm_value, n) != (ssize_t)n) {
            dprintf(2, "railcar: set %s to \"%s\": %s\n", P.lsm_path, P.lsm_value, strerror(errno));
            _exit(1);
        }
        close(f);
    }
    if (P.nnp)
        load_seccomp();
    htrace("helper: exec the program");
    syscall(SYS_close_range, 3 + P.preserve, ~0U, CLOSE_RANGE_CLOEXEC);
    /* still not dumpable: in init mode this process shares the init's memory
     * until execve, which sets dumpability for the new image itself */
    execve(P.exe, P.argv, P.env);
    fail("exec", errno, "exec %s", P.exe);
}

static sigset_t init_mask;     /* the mask the process starts with */

static int process_main(void *arg)
{
    (void)arg;
    sigprocmask(SIG_SETMASK, &init_mask, NULL);
    become_process();
    return 1;
}

static void init_fail(int sync_fd, pid_t child, const char *stage, int err, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 5, 6)));

/* The process has not passed the gate: report, then take it down with us. */
static void init_fail(int sync_fd, pid_t child, const char *stage, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(sync_fd, stage, err, fmt, ap);
    va_end(ap);
    kill(child, SIGKILL);       /* best effort: create kills the cgroup too */
    _exit(126);
}

/* What pid 1 keeps once the process is cloned: no capability but CAP_KILL,
 * in no set but effective and permitted, and no_new_privs.
 *
 * All it does from here on is close and dup2 fds it owns, wait for signals,
 * reap children, forward signals to the process and exit: none of it needs a
 * privilege except the forwarding.  kill(2) of a process with another uid
 * (user.uid 1000, or a program that changes its uids later) needs CAP_KILL
 * (pidfd_send_signal makes the same check), and switching the init to the
 * process's uid instead would fail the moment the program changes uids, and
 * let every process of that uid signal the init.  So the init stays uid 0
 * with CAP_KILL alone.  The capabilities are those of the init's user
 * namespace: with a new user namespace CAP_KILL reaches only the container's
 * processes; without one, the processes the init can name by pid (its pid
 * namespace's, when it has one).  Bounding, inheritable and ambient are
 * emptied (the init never execs; with no_new_privs nothing can be gained). */
static void init_drop_privileges(int sync_fd, pid_t child, uint32_t last_cap)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    uint64_t keep;
    uint32_t c;

    if (syscall(SYS_capget, &h, d) < 0)
        init_fail(sync_fd, child, "init", errno, "capget");
    keep = ((uint64_t)d[1].permitted << 32 | d[0].permitted) & (1ULL << CAP_KILL);
    /* the bounding set first: dropping from it needs CAP_SETPCAP, which capset
     * removes.  Every capability up to the kernel's last (the plan's
     * cap_last_cap), dropped without reading it first: dropping one already
     * out of the set succeeds, and the loop's end does not hang on errno,
     * which this process shares with the process until its exec (CLONE_VM,
     * one thread area) */
    for (c = 0; c <= (last_cap ? last_cap : 63u) && c < 64; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (!last_cap && errno == EINVAL)
                break;          /* a plan without cap_last_cap: past the kernel's last */
            init_fail(sync_fd, child, "init", errno, "drop capability %u from the bounding set", c);
        }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        init_fail(sync_fd, child, "init", errno, "clear the ambient capabilities");
    if (capset_all(keep, keep, 0) < 0)
        init_fail(sync_fd, child, "init", errno, "capset (effective and permitted 0x%llx, inheritable 0)",
                  (unsigned long long)keep);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        init_fail(sync_fd, child, "init", errno, "set no_new_privs");
}

/* pid 1: start the process, then reap and forward until it exits.
 *
 * The process is cloned with CLONE_VM: until its execve it runs in the
 * init's memory, on a stack of its own, instead of in a copy. Every page
 * and page table of a copy would be charged to the container's memory
 * cgroup at the moment the user program's image is built: this keeps the
 * smallest memory limit a container starts under lower.  The two share
 * nothing else (files, signal handlers, credentials are the process's own),
 * the init only waits in sigwaitinfo, and the process stays non-dumpable
 * (no ptrace into the shared memory) until its execve. */
static void run_init(void)
{
    sigset_t all;
    pid_t child;
    int status = 0;
    int sync_fd = P.sync_fd, fifo_fd = P.fifo_fd, tty_fd = P.tty_fd;  /* P is shared from now */
    uint32_t last_cap = P.last_cap;
    uint64_t slice = P.slice;
    size_t stack_size = 256 * 1024;
    char *stack;

    /* before the fork: the child's READY lets create exit, and our parent
     * death signal (set against a runtime crash) must not follow */
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &init_mask);
    if (getpid() != 1)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    __atomic_store_n(&init_gate, 0, __ATOMIC_RELEASE);   /* the process waits for the drop */
    /* only the pages the process touches are charged (MAP_NORESERVE) */
    stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED)
        fail("init", errno, "map the process's stack");
    child = clone(process_main, stack + stack_size, CLONE_VM | SIGCHLD, NULL);
    if (child < 0)
        fail("init", errno, "clone the process");
    /* the process has its own credentials now (a copy of ours): ours can go.
     * Errors go to our own copy of the sync socket (P is shared from now) */
    init_drop_privileges(sync_fd, child, last_cap);
    /* pid 1 lives as long as the container: the default slice, as any of its processes */
    if (slice && rc_restore_slice(slice) < 0)
        init_fail(sync_fd, child, "init", errno, "restore the scheduler slice (%llu ns)",
                  (unsigned long long)slice);
    __atomic_store_n(&init_gate, 1, __ATOMIC_RELEASE);
    if (syscall(SYS_futex, &init_gate, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
        init_fail(sync_fd, child, "init", errno, "wake the process");
    /* the child owns the sync socket, fifo and tty now; keep none of them,
     * so their state tells the truth about the process */
    close(sync_fd);
    if (fifo_fd >= 0)
        close(fifo_fd);
    if (tty_fd >= 0) {
        /* with a terminal the container's stdio is the pty: the stdio create
         * ran with (a shim's pipes) must not stay open here, or whoever reads
         * them to the end waits as long as the container lives */
        dup2(tty_fd, 0);
        dup2(tty_fd, 1);
        dup2(tty_fd, 2);
        if (tty_fd > 2)
            close(tty_fd);
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            /* ESRCH: it exited and its SIGCHLD is on the way.  Anything else
             * is a bug; stderr is the container's, the only place left */
            if (kill(child, sig) < 0 && errno != ESRCH)
                dprintf(2, "railcar-init: forward signal %d to pid %d: %s\n", sig, child, strerror(errno));
            continue;
        }
        for (;;) {
            pid_t w = waitpid(-1, &status, WNOHANG);
            if (w <= 0)
                break;
            if (w == child)
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}

int main(int argc, char **argv, char **envp)
{
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NAME, "railcar-init", 0, 0, 0);  /* not "memfd:railcar-i" in ps */
    P.sync_fd = P.fifo_fd = P.tty_fd = P.listener_fd = -1;
    if (argc < 5) {
        dprintf(2, "railcar-init: internal helper of railcar, not to be run by hand\n");
        return 2;
    }
    P.sync_fd = atoi(argv[3]);
    if (argc > 5 && strncmp(argv[5], "slice=", 6) == 0)
        P.slice = strtoull(argv[5] + 6, NULL, 10);
    P.trace_fd = P.sync_fd;
    read_plan(atoi(argv[1]));
    htrace("helper: running from the sealed memfd");
    P.exe = argv[2];
    P.tty_fd = atoi(argv[4]);
    P.tty = P.tty_fd >= 0;
    if (!P.argv || !P.argv[0])
        fail("helper", EINVAL, "plan has no process.args");
    P.env = envp;                 /* the child passed the process's environment */
    /* a session of its own, as runc's init (nsexec stage 2): the container must
     * not stay in the caller's session and process group (a ^C at create's
     * terminal, CRIU's "session leader outside of its pid namespace") */
    if (setsid() < 0)
        fail("init", errno, "setsid");
    if (P.init)
        run_init();
    become_process();
    return 1;
}
