/* The container's pty: opened from the container's own devpts (after
 * pivot_root), master sent over the console socket with SCM_RIGHTS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include "rc.h"
#include "sendfd.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* runc's console protocol: the pty master with its name, "/dev/ptmx" */
static int send_fd(int sock, int fd)
{
    static const char name[] = "/dev/ptmx";
    return rc_sendmsg_fd(sock, name, sizeof name - 1, fd);
}

void rc_setup_console(const struct rc_plan *p, int fd, int *slave)
{
    int master, unlock = 0;
    *slave = -1;
    if (!p->terminal)
        return;
    master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        rc_fail(fd, "console", errno, "open /dev/ptmx");
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        rc_fail(fd, "console", errno, "unlock pty");
    *slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (*slave < 0)
        rc_fail(fd, "console", errno, "open pty peer");
    if (p->rows || p->cols) {
        struct winsize ws;
        memset(&ws, 0, sizeof ws);
        ws.ws_row = p->rows;
        ws.ws_col = p->cols;
        if (ioctl(master, TIOCSWINSZ, &ws) < 0)
            rc_fail(fd, "console", errno, "set console size");
    }
    /* /dev/console is the pty, as in runc: bind the slave over it (not for
     * exec: the container's /dev/console stays its own) */
    if (!p->exec_mode) {
        char src[64];
        int c = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (c < 0)
            rc_fail(fd, "console", errno, "create /dev/console");
        close(c);
        snprintf(src, sizeof src, "/proc/self/fd/%d", *slave);
        if (mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0)
            rc_fail(fd, "console", errno, "bind the pty over /dev/console");
    }
    if (send_fd(p->console_fd, master) < 0)
        rc_fail(fd, "console", errno, "send pty master over the console socket");
    close(master);
    close(p->console_fd);
}
