/* The container's filesystem: propagation, the config's mounts (targets
 * resolved inside the rootfs), devices, pivot_root, masked and read-only
 * paths, read-only root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "rc.h"
#include "mount_api.h"



#define FDPATH(buf, fd) snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd)

/* A bind remount may not clear flags the kernel locked (nodev, nosuid,
 * noexec, atime in a user namespace): keep whatever the mount already has. */
static unsigned long locked_flags(const char *path)
{
    struct statvfs st;
    unsigned long f = 0;
    if (statvfs(path, &st) < 0)
        return 0;
    if (st.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) f |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

static int bind_remount(const char *path, unsigned long flags)
{
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
        return 0;
    if (errno != EPERM)
        return -1;
    return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags | locked_flags(path), NULL);
}

/* A bind onto procfs could replace what the kernel reads as the container's
 * own (/proc/self/attr/..., CVE-2019-16884; /proc/sys/kernel/core_pattern):
 * refused, as runc, but for the files lxcfs emulates.  Asked of the resolved
 * target, so a symlink into /proc does not get around it. */
static int bind_into_proc_refused(int tfd, const char *dest)
{
    static const char *const lxcfs[] = {
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
        "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
        "/proc/sys/kernel/ns_last_pid",
    };
    struct statfs st;
    size_t i;
    if (fstatfs(tfd, &st) < 0 || st.f_type != 0x9fa0)   /* PROC_SUPER_MAGIC */
        return 0;
    for (i = 0; i < sizeof lxcfs / sizeof lxcfs[0]; i++)
        if (!strcmp(dest, lxcfs[i]))
            return 0;
    return 1;
}

/* A symlink step (plan.Symlink): dest -> source, made in the resolved parent. */
static void make_symlink(int rootfd, const struct rc_mount *m, int fd)
{
    const char *name, *what;
    int pfd = rc_open_parent_in_root(rootfd, m->dest, &name, &what);
    if (pfd < 0)
        rc_fail(fd, "symlink", errno, "%s: %s %s", m->field, what, m->dest);
    if (symlinkat(m->source, pfd, name) < 0 && errno != EEXIST)
        rc_fail(fd, "symlink", errno, "symlink %s to %s", m->source, m->dest);
    close(pfd);
}

/* An id-mapped bind: a detached clone of the source, id-mapped, attached on the target.  In
 * a user namespace the runtime made the clone (host_fd); otherwise it is made here. */
static void attach_idmapped(const struct rc_plan *p, int i, int tfd, int fd)
{
    const struct rc_mount *m = &p->mounts[i];
    int tree = p->host_fd ? p->host_fd[i + 1] : -1;
    if (tree < 0) {
        tree = rc_idmapped_tree(AT_FDCWD, m->source, m->idmap_fd, (m->flags & MS_REC) != 0,
                                m->idmap_recursive);
        if (tree < 0)
            rc_fail(fd, "mount", errno, "%s: id-mapped clone of %s", m->field, m->source);
    }
    if (syscall(SYS_move_mount, tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        rc_fail(fd, "mount", errno, "%s: attach the id-mapped %s to %s", m->field, m->source, m->dest);
    close(tree);
}

static void do_mount(const struct rc_plan *p, int rootfd, int i, int fd)
{
    const struct rc_mount *m = &p->mounts[i];
    char tpath[64], spath[64];
    const char *source = m->source;
    int tfd, below = -1;

    if (p->host_fd && p->host_fd[i + 1] >= 0 && m->idmap_fd < 0) {   /* opened for us by the runtime */
        FDPATH(spath, p->host_fd[i + 1]);
        source = spath;
    }

    if (!m->source && !m->fstype && !m->flags)
        goto attributes;          /* only change an earlier mount's flags */
    /* an existing target is opened once; a missing one made, then opened */
    tfd = rc_open_in_root(rootfd, m->dest, O_PATH);
    if (tfd < 0 && errno != ENOENT)
        rc_fail(fd, "mount", errno, "%s.destination: create %s", m->field, m->dest);
    if (tfd < 0) {
        if (rc_make_missing_in_root(rootfd, m->dest, 0755, m->is_file) < 0)
            rc_fail(fd, "mount", errno, "%s.destination: create %s", m->field, m->dest);
        tfd = rc_open_in_root(rootfd, m->dest, O_PATH);
        if (tfd < 0)
            rc_fail(fd, "mount", errno, "%s.destination: open %s", m->field, m->dest);
    }
    if ((m->flags & MS_BIND) && bind_into_proc_refused(tfd, m->dest))
        rc_fail(fd, "mount", 0, "%s.destination: %s cannot be mounted because it is inside /proc",
                m->field, m->dest);
    FDPATH(tpath, tfd);
    if (m->copyup) {
        /* the directory as it is before the tmpfs covers it */
        below = rc_open_in_root(rootfd, m->dest, O_RDONLY | O_DIRECTORY);
        if (below < 0)
            rc_fail(fd, "mount", errno, "%s: tmpcopyup: open %s", m->field, m->dest);
    }
    if (m->idmap_fd >= 0)
        attach_idmapped(p, i, tfd, fd);
    else if (mount(source, tpath, m->fstype, m->flags, m->data) < 0)
        rc_fail(fd, "mount", errno, "%s: mount %s to %s (type %s)", m->field,
                m->source ? m->source : "none", m->dest, m->fstype ? m->fstype : "bind");
    close(tfd);
    if (below >= 0) {
        const char *what;
        int top = rc_open_in_root(rootfd, m->dest, O_RDONLY | O_DIRECTORY);
        if (top < 0)
            rc_fail(fd, "mount", errno, "%s: tmpcopyup: open the tmpfs on %s", m->field, m->dest);
        if (rc_copyup(below, top, m->copyup == 2, &what) < 0)
            rc_fail(fd, "mount", errno, "%s: tmpcopyup: copy %s/%s", m->field, m->dest, what);
        close(top);
        close(below);
    }
    if (!m->remount && !m->propagation && !m->attr_set && !m->attr_clr)
        return;
attributes:
    /* reopen: the new mount now covers the path */
    tfd = rc_open_in_root(rootfd, m->dest, O_PATH);
    if (tfd < 0)
        rc_fail(fd, "mount", errno, "%s: reopen %s", m->field, m->dest);
    FDPATH(tpath, tfd);
    if (m->remount && bind_remount(tpath, m->remount) < 0)
        rc_fail(fd, "mount", errno, "%s: remount %s", m->field, m->dest);
    if (m->attr_set || m->attr_clr) {
        struct mount_attr a;
        memset(&a, 0, sizeof a);
        a.attr_set = m->attr_set;
        a.attr_clr = m->attr_clr;
        if (syscall(SYS_mount_setattr, tfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
            rc_fail(fd, "mount", errno, "%s: set attributes of %s", m->field, m->dest);
    }
    if (m->propagation && mount(NULL, tpath, NULL, m->propagation, NULL) < 0)
        rc_fail(fd, "mount", errno, "%s: set propagation of %s", m->field, m->dest);
    close(tfd);
    (void)p;
}

/* newroot: the rootfs mount's root (its bind onto itself) */
static void pivot(const struct rc_plan *p, int newroot, int fd)
{
    int oldroot;
    if (p->host_mounts) {          /* the runtime's mount namespace: its root stays */
        if (fchdir(newroot) < 0 || chroot(".") < 0 || chdir("/") < 0)
            rc_fail(fd, "rootfs", errno, "chroot %s", p->rootfs);
        return;
    }
    if (p->no_pivot) {
        if (fchdir(newroot) < 0)
            rc_fail(fd, "rootfs", errno, "chdir %s", p->rootfs);
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            rc_fail(fd, "rootfs", errno, "move %s to /", p->rootfs);
        if (chroot(".") < 0)
            rc_fail(fd, "rootfs", errno, "chroot");
        if (chdir("/") < 0)
            rc_fail(fd, "rootfs", errno, "chdir /");
        return;
    }
    /* pivot_root(".", "."): the old root ends up stacked on "/" and is
     * detached without needing a directory for it in the rootfs */
    oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0)
        rc_fail(fd, "pivot_root", errno, "open /");
    if (fchdir(newroot) < 0)
        rc_fail(fd, "pivot_root", errno, "chdir %s", p->rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        rc_fail(fd, "pivot_root", errno, "pivot_root %s", p->rootfs);
    if (fchdir(oldroot) < 0)
        rc_fail(fd, "pivot_root", errno, "chdir old root");
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        rc_fail(fd, "pivot_root", errno, "make old root rslave");
    if (umount2(".", MNT_DETACH) < 0)
        rc_fail(fd, "pivot_root", errno, "unmount old root");
    if (chdir("/") < 0)
        rc_fail(fd, "pivot_root", errno, "chdir /");
    close(oldroot);
}

/* runc's order: read-only paths, then masks (which may lie below them) */
static void mask_paths(const struct rc_plan *p, int fd)
{
    int i, rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    char tpath[64];
    struct stat st;
    for (i = 0; i < p->nreadonly; i++) {
        int t = rc_open_in_root(rootfd, p->readonly[i], O_PATH);
        if (t < 0) {
            if (errno == ENOENT)
                continue;
            rc_fail(fd, "readonly path", errno, "open %s", p->readonly[i]);
        }
        FDPATH(tpath, t);
        if (mount(tpath, tpath, NULL, MS_BIND | MS_REC, NULL) < 0)
            rc_fail(fd, "readonly path", errno, "bind %s", p->readonly[i]);
        close(t);
        t = rc_open_in_root(rootfd, p->readonly[i], O_PATH);
        FDPATH(tpath, t);
        if (t < 0 || bind_remount(tpath, MS_RDONLY | MS_REC) < 0)
            rc_fail(fd, "readonly path", errno, "remount %s read-only", p->readonly[i]);
        close(t);
    }
    for (i = 0; i < p->nmasked; i++) {
        int t = rc_open_in_root(rootfd, p->masked[i], O_PATH);
        if (t < 0) {
            if (errno == ENOENT)
                continue;
            rc_fail(fd, "masked path", errno, "open %s", p->masked[i]);
        }
        FDPATH(tpath, t);
        if (fstat(t, &st) < 0)
            rc_fail(fd, "masked path", errno, "stat %s", p->masked[i]);
        if (S_ISDIR(st.st_mode)) {
            if (mount("tmpfs", tpath, "tmpfs", MS_RDONLY, NULL) < 0)
                rc_fail(fd, "masked path", errno, "mount tmpfs on %s", p->masked[i]);
        } else if (mount("/dev/null", tpath, NULL, MS_BIND, NULL) < 0) {
            rc_fail(fd, "masked path", errno, "bind /dev/null on %s", p->masked[i]);
        }
        close(t);
    }
    close(rootfd);
}

static int late_propagation(const struct rc_plan *p)
{
    return (p->root_propagation & (MS_SHARED | MS_UNBINDABLE)) != 0;
}

static void set_root_propagation(const struct rc_plan *p, int fd)
{
    if (mount(NULL, "/", NULL, p->root_propagation, NULL) < 0)
        rc_fail(fd, "rootfs", errno, "set propagation of / after pivot_root");
}

/* The rootfs bound onto itself (pivot_root wants a mount), and an fd on the new
 * mount's root.  With an fd the runtime opened (host_fd[0]): a recursive clone of
 * that tree attached over it, by fd alone, so no path is walked as the container's
 * root; the clone's fd is then the new mount's root. */
static int bind_rootfs(const struct rc_plan *p, int fd)
{
    int rootfd;
    if (p->host_mounts) {          /* no mount namespace: nothing to bind, chroot later */
        rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
            rc_fail(fd, "rootfs", errno, "open %s", p->rootfs);
        return rootfd;
    }
    if (p->host_fd && p->host_fd[0] >= 0) {
        rootfd = (int)syscall(SYS_open_tree, p->host_fd[0], "",
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (rootfd < 0)
            rc_fail(fd, "rootfs", errno, "clone the mount tree of %s", p->rootfs);
        if (syscall(SYS_move_mount, rootfd, "", p->host_fd[0], "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            rc_fail(fd, "rootfs", errno, "bind mount %s", p->rootfs);
        return rootfd;
    }
    if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        rc_fail(fd, "rootfs", errno, "bind mount %s", p->rootfs);
    rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        rc_fail(fd, "rootfs", errno, "open %s", p->rootfs);
    return rootfd;
}

int rc_setup_rootfs(const struct rc_plan *p, int fd)
{
    int i, rootfd;
    struct rc_msg m;

    /* nothing we mount may propagate back to the host; a shared root is made
     * shared only after pivot_root (pivot_root refuses a shared parent), an
     * unbindable one only then too (the rootfs could not be bound onto itself) */
    if (!p->host_mounts &&
        mount(NULL, "/", NULL, late_propagation(p) ? MS_PRIVATE | MS_REC : p->root_propagation,
              NULL) < 0)
        rc_fail(fd, "rootfs", errno, "set propagation of /");
    rootfd = bind_rootfs(p, fd);
    for (i = 0; i < p->nmounts; i++) {
        if (p->mounts[i].is_symlink)
            make_symlink(rootfd, &p->mounts[i], fd);
        else
            do_mount(p, rootfd, i, fd);
    }
    rc_trace(p, fd, "child: mounts");
    rc_create_devices(p, rootfd, fd);
    rc_trace(p, fd, "child: devices");
    if (p->hooks_pause) {
        if (rc_send(fd, RC_MSG_HOOKS, 0) < 0 || rc_recv(fd, &m) <= 0 || m.type != RC_MSG_GO)
            _exit(1);
    }
    pivot(p, rootfd, fd);
    close(rootfd);
    if (p->root_propagation & MS_SHARED)
        set_root_propagation(p, fd);
    rc_trace(p, fd, p->no_pivot ? "child: chroot" : "child: pivot_root");
    return 0;
}

/* after sysctls and the console: what makes parts of the rootfs read-only */
void rc_finish_rootfs(const struct rc_plan *p, int fd)
{
    mask_paths(p, fd);
    if (p->readonly_root && bind_remount("/", MS_RDONLY) < 0)
        rc_fail(fd, "rootfs", errno, "remount / read-only");
    /* last: masked and read-only paths are binds, which an unbindable tree refuses */
    if (p->root_propagation & MS_UNBINDABLE)
        set_root_propagation(p, fd);
    rc_trace(p, fd, "child: masked and read-only paths");
}
