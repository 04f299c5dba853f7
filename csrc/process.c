/* The child's sequence after its namespaces exist: everything that can be
 * done before the user switch, then exec of the sealed helper. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/close_range.h>
#include "rc.h"

static void write_proc(int fd, const char *stage, const char *field, const char *path, const char *value)
{
    int f = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    size_t len = strlen(value);
    if (f < 0 || write(f, value, len) != (ssize_t)len)
        rc_fail(fd, stage, errno, "%s: write %s", field, path);
    close(f);
}

/* exec.LookPath semantics, as runc: a name with a slash is used as is,
 * otherwise the first executable regular file along PATH. */
void rc_lookup_exe(const struct rc_plan *p, int fd, char *out, size_t outlen)
{
    const char *name = p->exe, *dir = p->path_env, *end;
    struct stat st;

    if (strchr(name, '/')) {
        if (stat(name, &st) < 0)
            rc_fail(fd, "exec", errno, "exec: \"%s\": stat %s", name, name);
        if (S_ISDIR(st.st_mode))
            rc_fail(fd, "exec", EACCES, "exec: \"%s\": is a directory", name);
        if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
            rc_fail(fd, "exec", EACCES, "exec: \"%s\"", name);
        snprintf(out, outlen, "%s", name);
        return;
    }
    while (dir) {
        size_t dlen;
        end = strchr(dir, ':');
        dlen = end ? (size_t)(end - dir) : strlen(dir);
        if (dlen == 0)
            snprintf(out, outlen, "./%s", name);
        else
            snprintf(out, outlen, "%.*s/%s", (int)dlen, dir, name);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
            return;
        dir = end ? end + 1 : NULL;
    }
    rc_fail(fd, "exec", ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

/* runc's rule: without HOME in the environment, the user's home from the
 * container's /etc/passwd, else "/".  Read after pivot_root, into `out`. */
static void lookup_home(long uid, char *out, size_t outlen)
{
    char buf[65536];
    ssize_t n = 0, r;
    int f = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    char *line, *end;

    snprintf(out, outlen, "HOME=/");
    if (f < 0)
        return;
    while (n < (ssize_t)sizeof buf - 1 && (r = read(f, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    close(f);
    buf[n] = 0;
    for (line = buf; line && *line; line = end ? end + 1 : NULL) {
        char *field[7];
        int k = 0;
        char *c = line;
        end = strchr(line, '\n');
        if (end)
            *end = 0;
        field[k++] = c;
        while (k < 7 && (c = strchr(c, ':'))) {
            *c++ = 0;
            field[k++] = c;
        }
        if (k >= 6 && strtol(field[2], NULL, 10) == uid && field[2][0]) {
            snprintf(out, outlen, "HOME=%s", field[5][0] ? field[5] : "/");
            return;
        }
    }
}

static void clear_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0)
        fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

/* The process's oom_score_adj and rlimits: the container's, and an exec's (runc gives every
 * exec the container's score). */
static void process_limits(const struct rc_plan *p, int fd)
{
    int i;
    if (p->oom_score_adj)
        write_proc(fd, "oomScoreAdj", "process.oomScoreAdj", "/proc/self/oom_score_adj", p->oom_score_adj);
    for (i = 0; i < p->nrlimits; i++) {
        struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
        if (setrlimit(p->rlimits[i].resource, &rl) < 0)
            rc_fail(fd, "rlimit", errno, "setrlimit %d (soft %llu, hard %llu)",
                    p->rlimits[i].resource, (unsigned long long)rl.rlim_cur,
                    (unsigned long long)rl.rlim_max);
    }
}

void rc_setup_process(const struct rc_plan *p, int fd)
{
    char exe[4096], planfd[16], syncfd[16], ttyfd[16], slice[32];
    char *argv[7], home[4096];
    char *envp[p->nenv + 2];
    int i, slave;

    if (p->exec_mode)
        goto process;
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
        rc_fail(fd, "hostname", errno, "sethostname %s", p->hostname);
    if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0)
        rc_fail(fd, "domainname", errno, "setdomainname %s", p->domainname);
    process_limits(p, fd);
    if (p->new_flags & CLONE_NEWNET)
        rc_loopback_up(fd);
    rc_trace(p, fd, "child: hostname, rlimits, lo up");
    rc_setup_rootfs(p, fd);
    rc_setup_console(p, fd, &slave);
    /* before /proc/sys is made read-only, which docker's config does */
    for (i = 0; i < p->nsysctl; i++)
        write_proc(fd, "sysctl", p->sysctl[i].field, p->sysctl[i].key, p->sysctl[i].value);
    if (p->nsysctl || p->terminal)
        rc_trace(p, fd, "child: console, sysctl");
    if (p->cwd) {
        /* created while the root may still be written */
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rc_mkdirall_in_root(root, p->cwd, 0755, 0) < 0)
            rc_fail(fd, "cwd", errno, "create cwd %s", p->cwd);
        close(root);
    }
    rc_finish_rootfs(p, fd);
process:
    if (p->exec_mode)
        process_limits(p, fd);
    if (p->exec_root && (chroot(p->exec_root) < 0 || chdir("/") < 0))
        rc_fail(fd, "rootfs", errno, "chroot %s", p->exec_root);
    if (p->umask_ >= 0)
        umask((mode_t)p->umask_);
    if (p->cwd && chdir(p->cwd) < 0)
        rc_fail(fd, "cwd", errno, "chdir to cwd (\"%s\") set in config.json", p->cwd);
    if (p->exec_mode)
        rc_setup_console(p, fd, &slave);
    rc_lookup_exe(p, fd, exe, sizeof exe);

    /* fd hygiene (CVE-2024-21626): everything from 3+preserve up is closed at
     * exec, except what the helper needs; the preserved ones stay open */
    if (syscall(SYS_close_range, 3 + p->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        rc_fail(fd, "fds", errno, "close_range");
    for (i = 3; i < 3 + p->preserve_fds; i++)
        clear_cloexec(i);
    clear_cloexec(fd);
    clear_cloexec(p->helper_plan_fd);
    if (p->fifo_fd >= 0)
        clear_cloexec(p->fifo_fd);
    if (slave >= 0)
        clear_cloexec(slave);

    snprintf(planfd, sizeof planfd, "%d", p->helper_plan_fd);
    snprintf(syncfd, sizeof syncfd, "%d", fd);
    snprintf(ttyfd, sizeof ttyfd, "%d", slave);
    argv[0] = (char *)"railcar-init";
    argv[1] = planfd;
    argv[2] = exe;
    argv[3] = syncfd;
    argv[4] = ttyfd;
    snprintf(slice, sizeof slice, "slice=%llu", (unsigned long long)rc_slice_orig);
    argv[5] = rc_slice_orig ? slice : NULL;   /* the helper restores it (rc.h) */
    argv[6] = NULL;
    for (i = 0; i < p->nenv; i++)
        envp[i] = p->envp[i];
    if (p->home_uid >= 0) {
        lookup_home(p->home_uid, home, sizeof home);
        envp[i++] = home;
    }
    envp[i] = NULL;
    /* not dumpable until the user program runs: the helper sets it again */
    prctl(PR_SET_DUMPABLE, 0);
    rc_trace(p, fd, "child: exec the helper");
    syscall(SYS_execveat, p->helper_fd, "", argv, envp, AT_EMPTY_PATH);
    rc_fail(fd, "exec", errno, "exec the railcar helper");
}
