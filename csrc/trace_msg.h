/* --trace-startup: one RC_MSG_TRACE, `stage` timed now on CLOCK_MONOTONIC (the
 * runtime's clock), sent by the child (sync.c) and the helper (helper.c).  No
 * allocation; a failed send is ignored (nobody may be reading any more). */
#ifndef RC_TRACE_MSG_H
#define RC_TRACE_MSG_H

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "rc.h"

static inline void rc_send_trace(int fd, const char *stage)
{
    struct rc_msg m;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    memset(&m, 0, sizeof m);
    m.type = RC_MSG_TRACE;
    m.ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    snprintf(m.stage, sizeof m.stage, "%s", stage);
    send(fd, &m, sizeof m, MSG_NOSIGNAL);
}

#endif
