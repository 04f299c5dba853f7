/* memfds for the helper (sealed: nothing can change the binary once it is
 * there) and for the helper plan. */
#ifndef RC_MEMFD_SEAL_H
#define RC_MEMFD_SEAL_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static int rc_write_all(int fd, const void *data, size_t len)
{
    const char *p = (const char *)data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* data into fd, then sealed against any change; fd closed on failure. */
static int rc_fill_and_seal(int fd, const void *data, size_t len)
{
    if (fd < 0)
        return -1;
    if (rc_write_all(fd, data, len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int rc_sealed_memfd(const char *name, const void *data, size_t len)
{
    /* MFD_EXEC: kernels with vm.memfd_noexec would otherwise refuse execveat */
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)
        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    return rc_fill_and_seal(fd, data, len);
}

static int rc_data_memfd(const char *name, const void *data, size_t len)
{
    return rc_fill_and_seal(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), data, len);
}
#endif
