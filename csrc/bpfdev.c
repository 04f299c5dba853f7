/* The cgroup v2 device filter's syscalls: load an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE and attach it to a cgroup directory with BPF_F_ALLOW_MULTI (as runc
 * does, so that filters of parent cgroups still apply). The program is assembled in Python
 * (railcar/cgroups/devices/program.py); bpf(2) is reached through the libc's syscall numbers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpfdev.h"

static int sys_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* 0, or -errno with *step naming the call that failed. */
int rc_bpf_attach_device_filter(const char *dir, const void *insns, unsigned int ninsns, const char **step)
{
    union bpf_attr attr;
    int prog, dfd, r, err;

    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = ninsns;
    attr.license = (uint64_t)(uintptr_t)"Apache";
    prog = sys_bpf(BPF_PROG_LOAD, &attr);
    if (prog < 0) {
        *step = "BPF_PROG_LOAD";
        return -errno;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        err = errno;
        close(prog);
        *step = "open";
        return -err;
    }
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)dfd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    r = sys_bpf(BPF_PROG_ATTACH, &attr);
    err = errno;
    close(dfd);
    close(prog);
    if (r < 0) {
        *step = "BPF_PROG_ATTACH";
        return -err;
    }
    return 0;
}
