/* Symlink-safe paths inside the rootfs: every lookup goes through
 * openat2(RESOLVE_IN_ROOT), so ".." and absolute symlinks stay in the root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "rc.h"

int rc_open_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how;
    int fd;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    do {
        fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    } while (fd < 0 && errno == EAGAIN);
    return fd;
}

/* mkdir -p inside the root; the last component becomes an empty file when
 * last_is_file.  Each component is created relative to the fd of its
 * resolved parent, so a symlink swapped in cannot redirect it outside. */
int rc_mkdirall_in_root(int rootfd, const char *path, mode_t mode, int last_is_file)
{
    char buf[4096];
    size_t len = strlen(path), i;
    int fd, parent;

    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = rc_open_in_root(rootfd, path, O_PATH);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno != ENOENT)
        return -1;
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = 0;
    for (i = 1; i <= len; i++) {
        char saved, *name;
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        saved = buf[i];
        buf[i] = 0;
        fd = rc_open_in_root(rootfd, buf, O_PATH);
        if (fd >= 0) {
            close(fd);
            buf[i] = saved;
            continue;
        }
        if (errno != ENOENT)
            return -1;
        name = strrchr(buf, '/');
        *name = 0;
        parent = rc_open_in_root(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
        *name = '/';
        if (parent < 0)
            return -1;
        if (saved == 0 && last_is_file) {
            fd = openat(parent, name + 1, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
            if (fd >= 0)
                close(fd);
            else if (errno != EEXIST) {
                close(parent);
                return -1;
            }
        } else if (mkdirat(parent, name + 1, mode) < 0 && errno != EEXIST) {
            close(parent);
            return -1;
        }
        close(parent);
        buf[i] = saved;
    }
    return 0;
}

/* The parent directory of `path` inside the root, made if missing and opened (O_PATH), with
 * *leaf set to the last component: for what is created by name in it (devices, symlinks).
 * -1 and errno on failure, *what naming the step. */
int rc_open_parent_in_root(int rootfd, const char *path, const char **leaf, const char **what)
{
    char parent[4096];
    const char *slash = strrchr(path, '/');
    size_t plen;
    int pfd;
    if (!slash) {
        *what = "not an absolute path";
        errno = EINVAL;
        return -1;
    }
    plen = (size_t)(slash - path);
    if (plen >= sizeof parent) {
        *what = "path";
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(parent, path, plen);
    parent[plen] = 0;
    if (rc_mkdirall_in_root(rootfd, plen ? parent : "/", 0755, 0) < 0) {
        *what = "mkdir the parent of";
        return -1;
    }
    pfd = rc_open_in_root(rootfd, plen ? parent : "/", O_PATH | O_DIRECTORY);
    if (pfd < 0) {
        *what = "open the parent of";
        return -1;
    }
    *leaf = slash + 1;
    return pfd;
}
