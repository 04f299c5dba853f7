/* tmpcopyup: a tmpfs mounted over a directory of the image starts with a
 * copy of what that directory held (podman --tmpfs, --read-only).  The
 * source is an fd opened on the directory before the tmpfs covered it, so
 * no staging directory is needed.  No allocation: buffers are on the stack,
 * the depth is bounded. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include "rc.h"

#define MAX_DEPTH 64

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int copy_data(int in, int out, off_t size)
{
    char buf[16384];
    while (size > 0) {
        ssize_t n = sendfile(out, in, NULL, size > (1 << 30) ? (1 << 30) : (size_t)size);
        if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
            n = read(in, buf, sizeof buf);
            if (n > 0 && write(out, buf, (size_t)n) != n)
                return -1;
        }
        if (n < 0)
            return -1;
        if (n == 0)
            break;                /* the file shrank */
        size -= n;
    }
    return 0;
}

/* owner and mode (after chown: chown clears setuid) and times of one entry */
static int copy_meta(int dfd, const char *name, const struct stat *st)
{
    struct timespec ts[2] = { st->st_atim, st->st_mtim };
    if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL)
        return -1;                /* EINVAL: the id is not mapped in this user namespace */
    if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
        return -1;
    return utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* copy what src holds into dst; on error *what names the entry */
static int copy_dir(int src, int dst, int depth, const char **what)
{
    char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, src, buf, sizeof buf);
        long off;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        for (off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            const char *name = d->d_name;
            struct stat st;
            off += d->d_reclen;
            if (!strcmp(name, ".") || !strcmp(name, ".."))
                continue;
            *what = name;
            if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -1;
            if (S_ISDIR(st.st_mode)) {
                int s, t, r;
                if (depth >= MAX_DEPTH) {
                    errno = ELOOP;
                    return -1;
                }
                if (mkdirat(dst, name, 0700) < 0)
                    return -1;
                s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                t = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (s < 0 || t < 0) {
                    int e = errno;
                    if (s >= 0) close(s);
                    if (t >= 0) close(t);
                    errno = e;
                    return -1;
                }
                r = copy_dir(s, t, depth + 1, what);
                close(s);
                close(t);
                if (r < 0)
                    return -1;
                *what = name;
            } else if (S_ISREG(st.st_mode)) {
                int s = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                int t = s < 0 ? -1 : openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                int r = (s < 0 || t < 0) ? -1 : copy_data(s, t, st.st_size);
                int e = errno;
                if (s >= 0) close(s);
                if (t >= 0) close(t);
                errno = e;
                if (r < 0)
                    return -1;
            } else if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t len = readlinkat(src, name, target, sizeof target - 1);
                if (len < 0)
                    return -1;
                target[len] = 0;
                if (symlinkat(target, dst, name) < 0)
                    return -1;
            } else if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
                return -1;        /* fifo, socket, device node */
            }
            if (copy_meta(dst, name, &st) < 0)
                return -1;
        }
    }
}

int rc_copyup(int src, int dst, int take_mode, const char **what)
{
    struct stat st;
    struct timespec ts[2];
    *what = ".";
    if (copy_dir(src, dst, 0, what) < 0)
        return -1;
    /* the tmpfs root takes the directory's owner, and its mode unless the
     * options gave one (mode=) */
    *what = ".";
    if (fstat(src, &st) < 0)
        return -1;
    if (fchown(dst, st.st_uid, st.st_gid) < 0 && errno != EINVAL)
        return -1;
    if (take_mode && fchmod(dst, st.st_mode & 07777) < 0)
        return -1;
    ts[0] = st.st_atim;
    ts[1] = st.st_mtim;
    return futimens(dst, ts);
}
