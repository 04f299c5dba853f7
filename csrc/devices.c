/* Device nodes in the container's /dev: mknod, or a bind of the host's node
 * when in a user namespace (mknod is not allowed there). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rc.h"

void rc_create_devices(const struct rc_plan *p, int rootfd, int fd)
{
    int i;
    for (i = 0; i < p->ndevices; i++) {
        const struct rc_device *d = &p->devices[i];
        char parent[4096], tpath[64];
        const char *slash = strrchr(d->path, '/');
        size_t plen = (size_t)(slash - d->path);
        int pfd, t;

        if (plen >= sizeof parent)
            rc_fail(fd, "device", ENAMETOOLONG, "%s", d->path);
        memcpy(parent, d->path, plen);
        parent[plen] = 0;
        if (rc_mkdirall_in_root(rootfd, plen ? parent : "/", 0755, 0) < 0)
            rc_fail(fd, "device", errno, "mkdir %s", parent);
        pfd = rc_open_in_root(rootfd, plen ? parent : "/", O_PATH | O_DIRECTORY);
        if (pfd < 0)
            rc_fail(fd, "device", errno, "open %s", parent);
        if (p->devices_bind) {
            t = openat(pfd, slash + 1, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0000);
            if (t < 0)
                rc_fail(fd, "device", errno, "create %s", d->path);
            close(t);
            t = rc_open_in_root(rootfd, d->path, O_PATH);
            snprintf(tpath, sizeof tpath, "/proc/self/fd/%d", t);
            if (t < 0 || mount(d->host_path, tpath, NULL, MS_BIND, NULL) < 0)
                rc_fail(fd, "device", errno, "bind %s to %s", d->host_path, d->path);
            close(t);
        } else {
            /* an existing node (from the image, or a second mention) is replaced */
            if (mknodat(pfd, slash + 1, d->mode, d->dev) < 0) {
                if (errno != EEXIST || unlinkat(pfd, slash + 1, 0) < 0 ||
                    mknodat(pfd, slash + 1, d->mode, d->dev) < 0)
                    rc_fail(fd, "device", errno, "mknod %s", d->path);
            }
            /* mknod is subject to the umask: set the mode exactly */
            if (fchmodat(pfd, slash + 1, d->mode & 07777, 0) < 0)
                rc_fail(fd, "device", errno, "chmod %s", d->path);
            if (fchownat(pfd, slash + 1, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
                rc_fail(fd, "device", errno, "chown %s", d->path);
        }
        close(pfd);
    }
}
