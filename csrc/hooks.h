/* OCI hooks the runtime runs itself (prestart, createRuntime, createContainer,
 * poststart, poststop; startContainer hooks are helper.c's, inside the
 * container): clone and exec with nothing in between but syscalls, the state
 * on stdin, stdout and stderr collected, the timeout kept by the kernel
 * (a pidfd polled until a CLOCK_MONOTONIC deadline).  railcar/hooks.py drives
 * it through _core.Hook. */
#ifndef RC_HOOKS_H
#define RC_HOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What one hook's output keeps per stream; the rest is read and dropped
 * (a hook that writes without end cannot fill the runtime's memory). */
#define RC_HOOK_OUT_MAX (1 << 20)

enum {
    RC_HOOK_DONE = 0,      /* reaped: status holds its wait status */
    RC_HOOK_TIMEOUT = 1,   /* the deadline passed; still running (rc_hook_kill) */
    RC_HOOK_EINTR = 2,     /* a signal arrived: let the caller run its handlers, then call again */
};

struct rc_hook {
    const char *path;          /* executed as is (config validation made it absolute) */
    char *const *argv;         /* NULL-terminated */
    char *const *envp;         /* NULL-terminated; NULL: the runtime's own environment */
    int nns;
    const int *ns_fd;          /* setns into each, in order, before exec (createContainer);
                                * a plain fork then: a process sharing its memory cannot
                                * enter a user namespace */
};

struct rc_hook_buf {
    char *data;
    size_t len, cap;
};

struct rc_hook_run {
    pid_t pid;
    int pidfd, in_fd, out_fd, err_fd;  /* -1 once closed */
    const char *data;                  /* the state for stdin (the caller keeps it alive) */
    size_t len, off;
    int64_t deadline;                  /* CLOCK_MONOTONIC ns; 0: none or not yet set */
    struct rc_hook_buf out, err;
    int status;                        /* wait status, once reaped */
    int reaped;
    const char *stage;                 /* a failure: where, and errno */
    int err_no;
};

void rc_hook_init(struct rc_hook_run *r);
/* Start the hook: 0 once it has exec'd (r->pid, pipes and pidfd open); -1 with
 * r->stage and r->err_no when the runtime could not start it or the child failed
 * before its program ran (stage "exec": execve's errno); the child is reaped then. */
int rc_hook_spawn(const struct rc_hook *h, struct rc_hook_run *r);
/* Write the state, collect the output until both streams end, and wait for the
 * exit, until `timeout_s` seconds (0: none) after the first call:
 * RC_HOOK_DONE, RC_HOOK_TIMEOUT, RC_HOOK_EINTR, or -1 with stage and err_no. */
int rc_hook_communicate(struct rc_hook_run *r, long long timeout_s);
/* SIGKILL the hook's process group (it leads it and its session) and reap it. */
int rc_hook_kill(struct rc_hook_run *r);
/* Close what is open and free the output. */
void rc_hook_close(struct rc_hook_run *r);

#endif
