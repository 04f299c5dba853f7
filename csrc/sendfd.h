/* sendmsg of `data` with an fd (SCM_RIGHTS), or none when `passed` is negative: for the child
 * (sync.c), the console (console.c) and the helper (helper.c, a one-file static program, hence a
 * header).  0 when all of `data` went, -1 with errno. */
#ifndef RC_SENDFD_H
#define RC_SENDFD_H

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static inline int rc_sendmsg_fd(int sock, const void *data, size_t len, int passed)
{
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&u, 0, sizeof u);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (passed >= 0) {
        struct cmsghdr *c;
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof u.buf;
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &passed, sizeof passed);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

#endif
