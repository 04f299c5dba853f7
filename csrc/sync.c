/* The child's only way to talk: fixed-size messages on the sync socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "rc.h"
#include "sendfd.h"
#include "trace_msg.h"

int rc_send(int fd, int type, int pid)
{
    struct rc_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.pid = pid;
    return send(fd, &m, sizeof m, MSG_NOSIGNAL) == (ssize_t)sizeof m ? 0 : -1;
}

int rc_recv(int fd, struct rc_msg *m)
{
    return rc_recv_fd(fd, m, NULL);
}

/* A message, and the fd passed with it (SCM_RIGHTS) when `passed` is given. */
int rc_recv_fd(int fd, struct rc_msg *m, int *passed)
{
    struct iovec iov = { .iov_base = m, .iov_len = sizeof *m };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr msg;
    struct cmsghdr *c;
    ssize_t n;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    do {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    for (c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int got;
            memcpy(&got, CMSG_DATA(c), sizeof got);
            if (passed)
                *passed = got;
            else
                close(got);
        }
    }
    if (n == 0)
        return 0;                       /* peer gone */
    if (n != (ssize_t)sizeof *m)
        return -1;
    return 1;
}

/* A sync message with an fd. */
int rc_send_fd(int fd, int type, int pid, int passed)
{
    struct rc_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.pid = pid;
    return rc_sendmsg_fd(fd, &m, sizeof m, passed);
}

/* Report (stage, errno, message) to the parent and die.  vsnprintf does not
 * allocate for the %s/%d formats used here. */
void rc_fail(int sync_fd, const char *stage, int err, const char *fmt, ...)
{
    struct rc_msg m;
    va_list ap;
    memset(&m, 0, sizeof m);
    m.type = RC_MSG_ERROR;
    m.err = err;
    snprintf(m.stage, sizeof m.stage, "%s", stage);
    va_start(ap, fmt);
    vsnprintf(m.text, sizeof m.text, fmt, ap);
    va_end(ap);
    send(sync_fd, &m, sizeof m, MSG_NOSIGNAL);
    _exit(1);
}

/* --trace-startup: the child's stages (nothing when tracing is off) */
void rc_trace(const struct rc_plan *p, int fd, const char *stage)
{
    if (p->trace)
        rc_send_trace(fd, stage);
}

/* parent side: keep a TRACE message for the report (the first RC_MAX_TRACE) */
void rc_keep_trace(struct rc_result *r, const struct rc_msg *m)
{
    if (r->ntrace >= RC_MAX_TRACE)
        return;
    memcpy(r->trace[r->ntrace].stage, m->stage, sizeof r->trace[0].stage);
    r->trace[r->ntrace].stage[sizeof r->trace[0].stage - 1] = 0;
    r->trace[r->ntrace].ns = m->ns;
    r->ntrace++;
}
