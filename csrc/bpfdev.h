/* The cgroup v2 device filter's syscalls (bpfdev.c). */
#ifndef RC_BPFDEV_H
#define RC_BPFDEV_H

int rc_bpf_attach_device_filter(const char *dir, const void *insns, unsigned int ninsns, const char **step);

#endif
