/* Id-mapped mounts (mounts[].uidMappings/gidMappings, options idmap/ridmap): the user
 * namespace that holds a mount's idmapping, and the detached, id-mapped clone of a bind
 * source that is then attached where the mount goes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sched.h>
#include "rc.h"
#include "mount_api.h"


static int write_map(pid_t pid, const char *name, const char *map)
{
    char path[64];
    size_t len = strlen(map);
    int fd, ok;
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ok = write(fd, map, len) == (ssize_t)len;
    if (!ok) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

/* A user namespace with these maps, held by the returned fd (-1 and errno on failure; `what`
 * says which step).  A child is cloned into a new user namespace only to hold it while the
 * maps are written and the namespace opened; it exits at once after. */
int rc_idmap_userns(const char *uid_map, const char *gid_map, const char **what)
{
    int p[2], fd = -1, e = 0;
    char path[64], c;
    pid_t pid;
    if (pipe2(p, O_CLOEXEC) < 0) {
        *what = "pipe";
        return -1;
    }
    pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        e = errno;
        *what = "clone a user namespace";
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {             /* hold the namespace until the parent closes its end */
        close(p[1]);
        while (read(p[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(p[0]);
    if (write_map(pid, "uid_map", uid_map) < 0) {
        e = errno;
        *what = "write uid_map";
    } else if (write_map(pid, "gid_map", gid_map) < 0) {
        e = errno;
        *what = "write gid_map";
    } else {
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            e = errno;
            *what = "open the user namespace";
        }
    }
    close(p[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    errno = e;
    return fd;
}

/* The bind source at (dirfd, path) cloned as a detached tree (the whole tree when `rec`),
 * id-mapped through userns_fd (every mount of it when `idmap_rec`): an fd to attach with
 * move_mount, or -1 and errno.  Needs CAP_SYS_ADMIN over the source's filesystem, so a
 * container in a user namespace gets it made by the runtime (spawn.c). */
int rc_idmapped_tree(int dirfd, const char *path, int userns_fd, int rec, int idmap_rec)
{
    struct mount_attr a;
    int tree, e;
    tree = (int)syscall(SYS_open_tree, dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                        (rec ? AT_RECURSIVE : 0) | (path[0] ? 0 : AT_EMPTY_PATH));
    if (tree < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.attr_set = MOUNT_ATTR_IDMAP;
    a.userns_fd = (unsigned long long)userns_fd;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (idmap_rec ? AT_RECURSIVE : 0),
                &a, sizeof a) < 0) {
        e = errno;
        close(tree);
        errno = e;
        return -1;
    }
    return tree;
}
