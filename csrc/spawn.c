/* clone + namespaces + the parent's half of the sync protocol.
 *
 * Fast path (no namespace joined by path): one clone() with every new
 * namespace flag but CLONE_NEWCGROUP, which is unshared after the parent has
 * moved the child into its cgroup.  Join path: fork, setns (user first, mount
 * last), unshare, and fork again with CLONE_PARENT when the pid or time
 * namespace only applies to children. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rc.h"

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

static void child_namespaces(const struct rc_plan *p, int fd, int fast)
{
    struct rc_msg m;
    int i, rest, r;
    pid_t c2;

    if (!fast) {
        /* joined user namespace first: it decides what we may join next */
        for (i = 0; i < p->njoin; i++)
            if (p->join_type[i] == CLONE_NEWUSER && setns(p->join_fd[i], CLONE_NEWUSER) < 0)
                rc_fail(fd, "namespace", errno, "setns user namespace");
        if ((p->new_flags & CLONE_NEWUSER) && unshare(CLONE_NEWUSER) < 0)
            rc_fail(fd, "namespace", errno, "unshare user namespace");
    }
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
    }
    if (fast) {
        if ((p->new_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
            rc_fail(fd, "namespace", errno, "unshare cgroup namespace");
        return;
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
    if (p->uid_map) {
        snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
        if (write_file(path, p->uid_map, &r->msg) < 0)
            return -1;
    }
    if (p->gid_map) {
        snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
        if (write_file(path, p->gid_map, &r->msg) < 0)
            return -1;
    }
    return 0;
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
        default:
            break;
        }
    }
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

    memset(r, 0, sizeof *r);
    r->sync_fd = -1;
    r->passed_fd = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r->msg.err = errno;
        snprintf(r->msg.stage, sizeof r->msg.stage, "spawn");
        snprintf(r->msg.text, sizeof r->msg.text, "socketpair");
        return -1;
    }
    pid = raw_clone(fast ? (unsigned long)(p->new_flags & ~CLONE_NEWCGROUP) : 0);
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
