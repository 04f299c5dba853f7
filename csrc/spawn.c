/* clone + namespaces + the parent's half of the sync protocol.
 *
 * Fast path (no namespace joined by path, no new user namespace): clone()
 * with CLONE_NEWPID alone, and the parent moves the child into its cgroups
 * and says go at once, with no request from the child to wait for: that write
 * runs while the child makes its other namespaces (unshare: a network
 * namespace alone takes ~0.35 ms here, paid in the parent's clone() before),
 * instead of after.  CLONE_NEWCGROUP is unshared once the parent's go says the
 * child is in its cgroups.  Join path: fork, setns (user first, mount last),
 * unshare, and fork again with CLONE_PARENT when the pid or time namespace
 * only applies to children. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rc.h"

extern char **environ;

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static pid_t raw_clone(unsigned long flags)
{
    /* raw syscall: no atfork handlers, and the child may not touch malloc */
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

static void write_self_file(int fd, const char *path, const char *data)
{
    int f = open(path, O_WRONLY | O_CLOEXEC);
    size_t len = strlen(data);
    if (f < 0 || write(f, data, len) != (ssize_t)len)
        rc_fail(fd, "namespace", errno, "write %s", path);
    close(f);
}

/* In a user namespace: the runtime opens the rootfs and the bind sources for us, in our
 * mount namespace (see rc_plan.host_fd), and passes them one message each. */
static void receive_host_fds(const struct rc_plan *p, int fd)
{
    struct rc_msg m;
    int got;
    if (rc_send(fd, RC_MSG_OPEN, 0) < 0)
        _exit(1);
    for (;;) {
        got = -1;
        if (rc_recv_fd(fd, &m, &got) <= 0)
            _exit(1);
        if (m.type == RC_MSG_GO)
            return;
        if (m.type != RC_MSG_FD || got < 0 || m.pid < 0 || m.pid > p->nmounts)
            rc_fail(fd, "rootfs", EPROTO, "unexpected message %d from the runtime", m.type);
        p->host_fd[m.pid] = got;
    }
}

static void child_namespaces(const struct rc_plan *p, int fd, int fast)
{
    struct rc_msg m;
    int i, rest, r;
    pid_t c2;

    if (fast) {
        /* the parent is writing cgroup.procs meanwhile (no SETUP request: it
         * needs nothing from us); the pid namespace came with the clone */
        rest = p->new_flags & ~(CLONE_NEWPID | CLONE_NEWCGROUP);
        if (rest && unshare(rest) < 0)
            rc_fail(fd, "namespace", errno, "unshare namespaces 0x%x", rest);
        r = rc_recv(fd, &m);
        if (r <= 0 || m.type != RC_MSG_GO)
            _exit(1);
        if ((p->new_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
            rc_fail(fd, "namespace", errno, "unshare cgroup namespace");
        return;
    }
    /* joined user namespace first: it decides what we may join next */
    for (i = 0; i < p->njoin; i++)
        if (p->join_type[i] == CLONE_NEWUSER && setns(p->join_fd[i], CLONE_NEWUSER) < 0)
            rc_fail(fd, "namespace", errno, "setns user namespace");
    if ((p->new_flags & CLONE_NEWUSER) && unshare(CLONE_NEWUSER) < 0)
        rc_fail(fd, "namespace", errno, "unshare user namespace");
    /* the parent writes id maps and cgroup.procs for us, then says go */
    if (rc_send(fd, RC_MSG_SETUP, 0) < 0)
        _exit(1);
    r = rc_recv(fd, &m);
    if (r <= 0 || m.type != RC_MSG_GO)
        _exit(1);
    if (p->new_flags & CLONE_NEWUSER) {
        if (setresgid(0, 0, 0) < 0)
            rc_fail(fd, "user namespace", errno, "setresgid 0");
        if (setresuid(0, 0, 0) < 0)
            rc_fail(fd, "user namespace", errno, "setresuid 0");
        /* the uid change left us non-dumpable, so our /proc files belong to the host's root
         * and the container's root may not write them (timens_offsets, oom_score_adj, sysctls
         * through /proc/self): dumpable again until the helper's exec (process.c clears it;
         * nothing else runs in these namespaces yet) */
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
            rc_fail(fd, "user namespace", errno, "set dumpable");
    }
    for (i = 0; i < p->njoin; i++) {
        int t = p->join_type[i];
        if (t == CLONE_NEWUSER || t == CLONE_NEWNS)
            continue;
        if (setns(p->join_fd[i], t) < 0)
            rc_fail(fd, "namespace", errno, "setns %s namespace",
                    t == CLONE_NEWNET ? "network" : t == CLONE_NEWPID ? "pid" :
                    t == CLONE_NEWIPC ? "ipc" : t == CLONE_NEWUTS ? "uts" :
                    t == CLONE_NEWCGROUP ? "cgroup" : "time");
    }
    rest = p->new_flags & ~CLONE_NEWUSER;
    if (rest && unshare(rest) < 0)
        rc_fail(fd, "namespace", errno, "unshare namespaces 0x%x", rest);
    for (i = 0; i < p->njoin; i++)
        if (p->join_type[i] == CLONE_NEWNS && setns(p->join_fd[i], CLONE_NEWNS) < 0)
            rc_fail(fd, "namespace", errno, "setns mount namespace");
    for (i = 0; i < p->njoin; i++)
        close(p->join_fd[i]);
    if (p->rootfs && !p->exec_mode)
        receive_host_fds(p, fd);
    /* pid and time namespaces apply to children only: fork once more, as a
     * sibling (CLONE_PARENT) so the runtime is its parent */
    {
        int need = (rest & (CLONE_NEWPID | CLONE_NEWTIME)) != 0;
        for (i = 0; i < p->njoin; i++)
            if (p->join_type[i] == CLONE_NEWPID || p->join_type[i] == CLONE_NEWTIME)
                need = 1;
        if (!need)
            return;
    }
    if ((rest & CLONE_NEWTIME) && p->timens_offsets)
        write_self_file(fd, "/proc/self/timens_offsets", p->timens_offsets);
    /* CLONE_PARENT: the child inherits our exit signal (SIGCHLD) and parent */
    c2 = (pid_t)syscall(SYS_clone, CLONE_PARENT, NULL, NULL, NULL, NULL);
    if (c2 < 0)
        rc_fail(fd, "namespace", errno, "fork into the pid namespace");
    if (c2 > 0) {
        rc_send(fd, RC_MSG_PID, c2);
        _exit(0);
    }
}

static void child_main(const struct rc_plan *p, int fd, int fast)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rc_trace(p, fd, "child: cloned");
    child_namespaces(p, fd, fast);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* again: the second fork resets it */
    rc_trace(p, fd, "child: namespaces, id maps, cgroup");
    rc_setup_process(p, fd);          /* never returns: execs the helper or fails */
    _exit(1);
}

static int write_file(const char *path, const char *data, struct rc_msg *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    size_t len = strlen(data);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
        err->err = errno;
        snprintf(err->stage, sizeof err->stage, "id mapping");
        snprintf(err->text, sizeof err->text, "write %s", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* newuidmap/newgidmap PID ID HOSTID SIZE...: the map's words, for a map the kernel does not let
 * us write (rootless, several ranges: the tools check /etc/subuid and /etc/subgid).  Run by
 * the parent (the runtime), not after clone in the child: allocating here is fine. */
static int run_map_tool(const char *tool, pid_t pid, const char *map, struct rc_msg *err)
{
    char num[16], *copy, *save = NULL, *w, **argv;
    size_t n, cap = strlen(map) / 2 + 4;
    pid_t h;
    int st = 0, rc, ok = 0;

    snprintf(err->stage, sizeof err->stage, "id mapping");
    copy = strdup(map);
    argv = calloc(cap, sizeof *argv);
    if (!copy || !argv) {
        err->err = ENOMEM;
        snprintf(err->text, sizeof err->text, "%s: allocate its arguments", tool);
        free(copy);
        free(argv);
        return -1;
    }
    snprintf(num, sizeof num, "%d", (int)pid);
    argv[0] = (char *)tool;
    argv[1] = num;
    n = 2;
    for (w = strtok_r(copy, " \n", &save); w && n + 1 < cap; w = strtok_r(NULL, " \n", &save))
        argv[n++] = w;
    argv[n] = NULL;
    rc = posix_spawn(&h, tool, NULL, NULL, argv, environ);
    if (rc != 0) {
        err->err = rc;
        snprintf(err->text, sizeof err->text, "run %s", tool);
    } else {
        while ((rc = waitpid(h, &st, 0)) < 0 && errno == EINTR)
            ;
        if (rc < 0) {
            err->err = errno;
            snprintf(err->text, sizeof err->text, "wait for %s", tool);
        } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            ok = 1;
        } else {
            err->err = 0;
            snprintf(err->text, sizeof err->text,
                     "%s %d: %s %d (the ranges must be the user's in /etc/subuid and /etc/subgid)",
                     tool, (int)pid, WIFEXITED(st) ? "exit status" : "killed by signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
    free(copy);
    free(argv);
    return ok ? 0 : -1;
}

/* /proc/<pid>/uid_map or gid_map: written directly; on EPERM (an unprivileged runtime, a map
 * that is not one mapping of its own id) through the setuid tool, as runc does */
static int write_map(pid_t pid, const char *file, const char *map, const char *tool,
                     struct rc_msg *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    if (write_file(path, map, err) == 0)
        return 0;
    if (err->err != EPERM || !tool)
        return -1;
    return run_map_tool(tool, pid, map, err);
}

/* set by the launcher's cgroup prewarm thread owner (csrc/launcher.c); weak:
 * absent when railcar._core is imported by a plain interpreter */
extern volatile int railcar_prewarm_done __attribute__((weak));

static int parent_setup(const struct rc_plan *p, struct rc_result *r)
{
    char path[64], num[16];
    int i, len;
    pid_t pid = r->first_pid;

    len = snprintf(num, sizeof num, "%d", pid);
    for (i = 0; i < p->ncgroup; i++) {
        if (write(p->cgroup_fd[i], num, len) != len) {
            r->msg.err = errno;
            snprintf(r->msg.stage, sizeof r->msg.stage, "cgroup");
            snprintf(r->msg.text, sizeof r->msg.text, "add pid %d to cgroup", pid);
            return -1;
        }
    }
    if (&railcar_prewarm_done)
        railcar_prewarm_done = 1;
    if (p->uid_map && write_map(pid, "uid_map", p->uid_map, p->uidmap_tool, &r->msg) < 0)
        return -1;
    if (p->gid_map && p->setgroups_deny) {
        snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
        if (write_file(path, "deny", &r->msg) < 0)
            return -1;
    }
    if (p->gid_map && write_map(pid, "gid_map", p->gid_map, p->gidmap_tool, &r->msg) < 0)
        return -1;
    return 0;
}

static int open_failed(struct rc_result *r, const char *what, const char *path)
{
    r->msg.type = RC_MSG_ERROR;
    r->msg.err = errno;
    snprintf(r->msg.stage, sizeof r->msg.stage, "rootfs");
    snprintf(r->msg.text, sizeof r->msg.text, "%s: open %s", what, path);
    return -1;
}

/* An id-mapped bind for a child in a user namespace, which may not id-map the host's
 * filesystems: a process of ours enters its mount namespace, makes the id-mapped clone of
 * the source there and passes it (as host_fd[k]); the child attaches it. */
static int send_idmapped_tree(struct rc_result *r, int k, const struct rc_mount *m)
{
    char path[64];
    int st = 0;
    pid_t h = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
    if (h < 0)
        return open_failed(r, m->field, "fork for the id-mapped mount");
    if (h == 0) {
        int ns, tree;
        snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)r->first_pid);
        ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNS) < 0)
            _exit(errno & 0xff);
        tree = rc_idmapped_tree(AT_FDCWD, m->source, m->idmap_fd, (m->flags & MS_REC) != 0,
                                m->idmap_recursive);
        if (tree < 0)
            _exit(errno & 0xff);
        _exit(rc_send_fd(r->sync_fd, RC_MSG_FD, k, tree) < 0 ? (errno & 0xff) : 0);
    }
    while (waitpid(h, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        errno = WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
        return open_failed(r, m->field, "an id-mapped clone of the source");
    }
    return 0;
}

/* The child asked (RC_MSG_OPEN): open, as the runtime and inside the child's mount
 * namespace (through /proc/<pid>/root, so each fd names the child's mounts), the rootfs
 * and every bind source, and pass them.  See rc_plan.host_fd. */
static int serve_open(struct rc_result *r)
{
    const struct rc_plan *p = r->plan;
    char path[8192];
    int k, f;
    for (k = 0; k <= p->nmounts; k++) {
        const struct rc_mount *m = k ? &p->mounts[k - 1] : NULL;
        const char *src = m ? m->source : p->rootfs;
        if (m && (m->is_symlink || !(m->flags & MS_BIND)))
            continue;
        if (!src || src[0] != '/')
            continue;
        if ((size_t)snprintf(path, sizeof path, "/proc/%d/root%s", r->first_pid, src) >= sizeof path) {
            errno = ENAMETOOLONG;
            return open_failed(r, m ? m->field : "root.path", src);
        }
        if (m && m->idmap_fd >= 0) {
            if (send_idmapped_tree(r, k, m) < 0)
                return -1;
            continue;
        }
        f = open(path, O_PATH | O_CLOEXEC | (m ? 0 : O_DIRECTORY));
        if (f < 0)
            return open_failed(r, m ? m->field : "root.path", src);
        if (rc_send_fd(r->sync_fd, RC_MSG_FD, k, f) < 0) {
            close(f);
            return open_failed(r, "sync", "send fd");
        }
        close(f);
    }
    if (rc_send(r->sync_fd, RC_MSG_GO, 0) < 0)
        return open_failed(r, "sync", "send go");
    return 0;
}

/* A failed cgroup write or go in the fast path may be the child's own failure
 * (an unshare refused, then exit): its (stage, errno, message) is already
 * queued then, and says more.  Never blocks: a live child is waiting for go. */
static void prefer_child_error(struct rc_result *r)
{
    struct rc_msg m;
    while (recv(r->sync_fd, &m, sizeof m, MSG_DONTWAIT) == (ssize_t)sizeof m) {
        if (m.type == RC_MSG_ERROR) {
            r->msg = m;
            return;
        }
        if (m.type == RC_MSG_TRACE)
            rc_keep_trace(r, &m);
    }
}

/* Drive the protocol until READY, a hooks pause, or an error. */
int rc_spawn_continue(struct rc_result *r)
{
    struct rc_msg m;
    int n;
    for (;;) {
        n = rc_recv_fd(r->sync_fd, &m, &r->passed_fd);
        if (n <= 0) {
            r->msg.type = RC_MSG_ERROR;
            r->msg.err = n < 0 ? errno : 0;
            snprintf(r->msg.stage, sizeof r->msg.stage, "start");
            snprintf(r->msg.text, sizeof r->msg.text, "container process exited before it was ready");
            return -1;
        }
        switch (m.type) {
        case RC_MSG_ERROR:
            r->msg = m;
            return -1;
        case RC_MSG_PID:
            r->pid = m.pid;
            break;
        case RC_MSG_HOOKS:
            return 1;
        case RC_MSG_READY:
            return 0;
        case RC_MSG_TRACE:
            rc_keep_trace(r, &m);
            break;
        case RC_MSG_OPEN:
            if (serve_open(r) < 0)
                return -1;
            break;
        default:
            break;
        }
    }
}

uint64_t rc_slice_orig;

/* A container's start is a chain of hand-offs between processes (runtime, child, helper, init,
 * process), each of which sleeps and is woken: on a busy machine every wake-up waits for the
 * running task's slice to end (EEVDF's default, 1.4 ms here), and the chain adds them up.  The
 * shortest slice (a latency hint since Linux 6.12; the share of CPU time is unchanged) lets each
 * wake-up preempt at once.  Only for a fair policy; the helper gives the init and the process
 * the slice we had (helper.c).  A hint: when the kernel refuses or ignores it (it reads back
 * otherwise), nothing is boosted and nothing is restored.  Once per runtime process, a
 * short-lived command whose whole work is this latency. */
static void boost_slice(void)
{
    struct rc_sched_attr a;
    uint64_t orig;
    static int tried;
    if (tried)
        return;
    tried = 1;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) < 0)
        return;
    if ((a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH) ||
        a.sched_runtime == 0 || a.sched_runtime <= RC_SLICE_NS)
        return;                   /* not a fair task, no slice reported (older kernels), or short */
    orig = a.sched_runtime;
    a.size = sizeof a;
    a.sched_flags &= RC_SCHED_RESET_ON_FORK;
    a.sched_runtime = RC_SLICE_NS;
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
        return;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) == 0 && a.sched_runtime == RC_SLICE_NS)
        rc_slice_orig = orig;
}

int rc_spawn(const struct rc_plan *p, struct rc_result *r)
{
    int sv[2];
    /* CLONE_NEWTIME shares bits with the exit signal in clone(): unshare it.
     * A new user namespace too: the others must be made by the container's
     * root after its maps are written, not by our credentials at clone time
     * (an ipc namespace's mqueue is owned by whoever created it: nobody,
     * seen from inside, if that is the host's root) */
    int fast = p->njoin == 0 && !(p->new_flags & (CLONE_NEWTIME | CLONE_NEWUSER));
    struct rc_msg m;
    pid_t pid;
    int n;

    boost_slice();
    memset(r, 0, sizeof *r);
    r->plan = p;
    r->sync_fd = -1;
    r->passed_fd = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r->msg.err = errno;
        snprintf(r->msg.stage, sizeof r->msg.stage, "spawn");
        snprintf(r->msg.text, sizeof r->msg.text, "socketpair");
        return -1;
    }
    pid = raw_clone(fast ? (unsigned long)(p->new_flags & CLONE_NEWPID) : 0);
    if (pid < 0) {
        r->msg.err = errno;
        snprintf(r->msg.stage, sizeof r->msg.stage, "spawn");
        snprintf(r->msg.text, sizeof r->msg.text, "clone");
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(p, sv[1], fast);
    }
    close(sv[1]);
    r->sync_fd = sv[0];
    r->pid = r->first_pid = pid;
    if (fast) {
        /* the child needs nothing from us first: into its cgroups now, while it unshares */
        if (parent_setup(p, r) < 0) {
            prefer_child_error(r);
            return -1;
        }
        if (rc_send(sv[0], RC_MSG_GO, 0) < 0) {
            r->msg.err = errno;
            snprintf(r->msg.stage, sizeof r->msg.stage, "spawn");
            snprintf(r->msg.text, sizeof r->msg.text, "sync");
            prefer_child_error(r);
            return -1;
        }
        return rc_spawn_continue(r);
    }
    /* SETUP request (or an early error) */
    memset(&m, 0, sizeof m);
    while ((n = rc_recv(sv[0], &m)) > 0 && m.type == RC_MSG_TRACE)
        rc_keep_trace(r, &m);
    if (n <= 0 || m.type != RC_MSG_SETUP) {
        if (n > 0 && m.type == RC_MSG_ERROR)
            r->msg = m;
        else {
            snprintf(r->msg.stage, sizeof r->msg.stage, "spawn");
            snprintf(r->msg.text, sizeof r->msg.text, "child exited during setup");
        }
        return -1;
    }
    if (parent_setup(p, r) < 0)
        return -1;
    if (rc_send(sv[0], RC_MSG_GO, 0) < 0) {
        r->msg.err = errno;
        snprintf(r->msg.stage, sizeof r->msg.stage, "spawn");
        snprintf(r->msg.text, sizeof r->msg.text, "sync");
        return -1;
    }
    return rc_spawn_continue(r);
}
