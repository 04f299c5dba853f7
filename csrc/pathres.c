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

/* Make the missing last component of buf[0..len) (and, first, its missing
 * parents): the parent is opened through the root and the component created
 * relative to that fd, so a symlink swapped in cannot redirect it outside.
 * An existing parent is found with one lookup, not a walk from the root. */
static int make_missing(int rootfd, char *buf, size_t len, mode_t mode, int last_is_file)
{
    char *name;
    int parent, fd;

    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = 0;
    name = strrchr(buf, '/');
    if (!name) {
        errno = EINVAL;
        return -1;
    }
    *name = 0;
    parent = rc_open_in_root(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
    if (parent < 0 && errno == ENOENT && buf[0]) {
        if (make_missing(rootfd, buf, (size_t)(name - buf), mode, 0) < 0) {
            *name = '/';
            return -1;
        }
        parent = rc_open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
    }
    *name = '/';
    if (parent < 0)
        return -1;
    if (last_is_file) {
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
    return 0;
}

/* mkdir -p of a path whose lookup through the root just failed with ENOENT */
int rc_make_missing_in_root(int rootfd, const char *path, mode_t mode, int last_is_file)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    return make_missing(rootfd, buf, len, mode, last_is_file);
}

/* mkdir -p inside the root, then the target opened with `flags` (O_PATH...) through the root;
 * the last component becomes an empty file when last_is_file.  The fd, or -1 and errno. */
int rc_mkdirall_open_in_root(int rootfd, const char *path, mode_t mode, int last_is_file, int flags)
{
    int fd = rc_open_in_root(rootfd, path, flags);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    if (rc_make_missing_in_root(rootfd, path, mode, last_is_file) < 0)
        return -1;
    return rc_open_in_root(rootfd, path, flags);
}

/* mkdir -p inside the root; the last component becomes an empty file when last_is_file */
int rc_mkdirall_in_root(int rootfd, const char *path, mode_t mode, int last_is_file)
{
    int fd = rc_mkdirall_open_in_root(rootfd, path, mode, last_is_file, O_PATH);
    if (fd < 0)
        return -1;
    close(fd);
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
    /* an existing parent (the common case) is one lookup */
    pfd = rc_open_in_root(rootfd, plen ? parent : "/", O_PATH | O_DIRECTORY);
    if (pfd < 0 && errno != ENOENT) {
        *what = "mkdir the parent of";
        return -1;
    }
    if (pfd < 0) {
        if (rc_make_missing_in_root(rootfd, parent, 0755, 0) < 0) {
            *what = "mkdir the parent of";
            return -1;
        }
        pfd = rc_open_in_root(rootfd, parent, O_PATH | O_DIRECTORY);
        if (pfd < 0) {
            *what = "open the parent of";
            return -1;
        }
    }
    *leaf = slash + 1;
    return pfd;
}
