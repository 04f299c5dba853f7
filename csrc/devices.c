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
        char tpath[64];
        const char *name, *what;
        int pfd = rc_open_parent_in_root(rootfd, d->path, &name, &what), t;

        if (pfd < 0)
            rc_fail(fd, "device", errno, "%s %s", what, d->path);
        if (p->devices_bind) {
            t = openat(pfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0000);
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
            if (mknodat(pfd, name, d->mode, d->dev) < 0) {
                if (errno != EEXIST || unlinkat(pfd, name, 0) < 0 ||
                    mknodat(pfd, name, d->mode, d->dev) < 0)
                    rc_fail(fd, "device", errno, "mknod %s", d->path);
            }
            /* mknod is subject to the umask: set the mode exactly */
            if (fchmodat(pfd, name, d->mode & 07777, 0) < 0)
                rc_fail(fd, "device", errno, "chmod %s", d->path);
            if (fchownat(pfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
                rc_fail(fd, "device", errno, "chown %s", d->path);
        }
        close(pfd);
    }
}
