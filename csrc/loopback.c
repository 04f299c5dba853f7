/* A new network namespace starts with "lo" down; runc brings it up, and
 * programs expect 127.0.0.1 to work, so do the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "rc.h"

void rc_loopback_up(int fd)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        rc_fail(fd, "network", errno, "socket to bring up lo");
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        rc_fail(fd, "network", errno, "get flags of lo");
    if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            rc_fail(fd, "network", errno, "bring up lo");
    }
    close(s);
}
