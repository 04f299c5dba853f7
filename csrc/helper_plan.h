/* The helper plan: what the memfd helper (helper.c) needs after the child
 * execs it.  Written by railcar/plan.py as records: u32 tag, u32 len, data
 * padded to 8 bytes.  Strings lists are NUL-terminated strings back to back.
 * railcar/helperplan.py holds the same numbers (tests/unit/test_plan.py compares
 * them); a retired number is never reused. */
#ifndef RC_HELPER_PLAN_H
#define RC_HELPER_PLAN_H

enum rc_hp_tag {
    HP_INIT = 1,          /* u32: 1 = run as init (fork, reap, forward signals) */
    HP_ARGV = 2,
    HP_UID = 4,           /* u32 */
    HP_GID = 5,           /* u32 */
    HP_GROUPS = 6,        /* u32[] */
    HP_CAPS = 7,          /* u64[5]: bounding, effective, permitted, inheritable, ambient */
    HP_NNP = 8,           /* u32 */
    HP_SECCOMP = 9,       /* struct sock_filter[] */
    HP_SECCOMP_FLAGS = 10,/* u32 */
    HP_SECCOMP_LISTENER = 11, /* u32 1: NOTIFY, send the listener fd to the runtime with READY */
    HP_FIFO_FD = 13,      /* i32 */
    HP_PRESERVE_FDS = 14, /* u32 */
    HP_LAST_CAP = 17,     /* u32: highest capability number the host kernel knows */
    HP_START_HOOKS = 18,  /* records: u32 timeout, u32 nargs, u32 nenv, path, args, env (NUL-ended) */
    HP_LSM_EXEC = 19,     /* path NUL value NUL: LSM label for the exec (apparmor, selinux) */
    HP_TRACE = 20,        /* u32 1: --trace-startup, report stages on the sync socket */
};

#endif
