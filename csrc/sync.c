/* The child's only way to talk: fixed-size messages on the sync socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "rc.h"

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
    ssize_t n;
    do {
        n = recv(fd, m, sizeof *m, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;                       /* peer gone */
    if (n != (ssize_t)sizeof *m)
        return -1;
    return 1;
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
