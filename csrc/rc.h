/* railcar C core: the launch plan (filled by _core.pyx before clone) and the
 * child->parent sync protocol.  After clone the child touches nothing but this
 * plan (already in its copy of memory) and the stack: no malloc, no Python. */
#ifndef RC_H
#define RC_H

#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/types.h>

/* Messages on the SOCK_SEQPACKET sync pair.  Fixed size: one read, one message. */
enum rc_msg_type {
    RC_MSG_ERROR = 1,     /* child failed: stage, err, text */
    RC_MSG_SETUP = 2,     /* child -> parent: write maps and cgroup.procs for me */
    RC_MSG_GO = 3,        /* parent -> child: continue */
    RC_MSG_PID = 4,       /* child -> parent: the container process is `pid` (after pid-ns fork) */
    RC_MSG_HOOKS = 5,     /* child -> parent: rootfs ready, run prestart/createRuntime hooks */
    RC_MSG_READY = 6,     /* helper -> parent: blocked waiting for start */
    RC_MSG_TRACE = 7,     /* child/helper -> parent: `stage` reached at `ns` (--trace-startup) */
    RC_MSG_OPEN = 8,      /* child -> parent: open the rootfs and bind sources in my mount ns */
    RC_MSG_FD = 9,        /* parent -> child: host_fd[pid] is the fd passed with this message */
};

struct rc_msg {
    int32_t type;
    int32_t err;          /* errno, 0 if none */
    int32_t pid;
    char stage[40];
    char text[460];
    int64_t ns;           /* TRACE: CLOCK_MONOTONIC */
};

struct rc_mount {
    const char *source;        /* host path for binds, fs source otherwise; may be NULL */
    const char *dest;          /* absolute path inside the rootfs */
    const char *fstype;        /* NULL for binds */
    const char *data;          /* unknown options, comma-joined; may be NULL */
    unsigned long flags;       /* MS_* for the mount (MS_BIND|MS_REC for rbind) */
    unsigned long remount;     /* for binds: flags needing a MS_REMOUNT (MS_RDONLY, MS_NOSUID...) */
    unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE, |MS_REC; 0 = none */
    uint64_t attr_set, attr_clr; /* mount_setattr attributes applied recursively (rbind ro) */
    int is_file;               /* bind of a non-directory: target is created as a file */
    int is_symlink;            /* not a mount: create symlink dest -> source inside the rootfs */
    int copyup;                /* tmpfs over a directory: copy its contents in; 2: and its mode */
    const char *field;         /* config.json field, for errors: "mounts[3]" */
    int idmap_fd;              /* id-mapped bind: the user namespace with its idmapping; -1 */
    int idmap_recursive;       /* ridmap: every mount of an rbind tree is id-mapped */
};

struct rc_device {
    const char *path;          /* absolute inside the rootfs */
    const char *host_path;     /* for bind-mounting in a user namespace */
    mode_t mode;               /* S_IFCHR/S_IFBLK/S_IFIFO | perms */
    dev_t dev;
    uid_t uid;
    gid_t gid;
};

struct rc_rlimit { int resource; uint64_t soft, hard; };
struct rc_kv { const char *key; const char *value; const char *field; };

struct rc_plan {
    /* namespaces */
    int new_flags;                 /* CLONE_NEW* to create */
    /* arrays the parent allocates to their counts (_core.pyx): no fixed size that a host
     * with many cgroup hierarchies or a config with many namespace paths could overflow */
    int njoin;
    const int *join_fd;            /* ordered by the planner: user first, mount last */
    const int *join_type;
    const char *uid_map, *gid_map; /* contents, written by the parent; NULL if none */
    /* rootless (railcar/rootless.py): "deny" into setgroups before gid_map, as the kernel asks
     * of an unprivileged writer; maps the kernel refuses (EPERM) go through these setuid
     * tools (newuidmap/newgidmap), run by the parent; NULL: no fallback */
    int setgroups_deny;
    const char *uidmap_tool, *gidmap_tool;
    const char *timens_offsets;    /* written after unshare(CLONE_NEWTIME); NULL if none */
    int ncgroup;
    const int *cgroup_fd;          /* open cgroup.procs files: the parent writes the pid */

    /* rootfs */
    const char *rootfs;            /* absolute host path */
    unsigned long root_propagation;/* applied to "/" of the new mount ns */
    int host_mounts;               /* no mount namespace of its own: mounts are made in the
                                    * runtime's (delete unmounts them), chroot, no pivot_root */
    const char *exec_root;         /* exec into such a container: chroot here first */
    int no_pivot;
    int readonly_root;
    int nmounts;
    const struct rc_mount *mounts;
    /* With a user namespace, the runtime opens the rootfs ([0]) and each bind source
     * ([1 + i]) for the child, inside the child's mount namespace through
     * /proc/<pid>/root, and passes the fds: the container's mapped root need not be
     * able to walk their paths (a bundle under a 0700 directory).  Allocated by the
     * parent to nmounts + 1, filled in the child's copy; -1 where none. */
    int *host_fd;
    int ndevices;
    const struct rc_device *devices;
    int devices_bind;              /* user namespace: bind host nodes instead of mknod */
    int nmasked, nreadonly;
    const char *const *masked;
    const char *const *readonly;
    int hooks_pause;               /* stop before pivot_root for prestart/createRuntime hooks */

    /* process environment set up by the child */
    int nsysctl;
    const struct rc_kv *sysctl;    /* key is the /proc/sys path */
    const char *hostname, *domainname;
    int nrlimits;
    const struct rc_rlimit *rlimits;
    const char *oom_score_adj;
    int umask_;                    /* -1: leave */
    const char *cwd;
    const char *exe;               /* process.args[0] */
    const char *path_env;          /* PATH used for the lookup */
    int terminal;
    int console_fd;                /* unix socket to send the pty master to; -1 */
    unsigned short rows, cols;

    /* the helper */
    int helper_fd;                 /* sealed memfd of the helper binary */
    int helper_plan_fd;            /* memfd with the helper plan */
    int fifo_fd;                   /* exec fifo, O_RDWR: the helper blocks reading it */
    int preserve_fds;
    char *const *envp;             /* process.env */
    int nenv;
    long home_uid;                 /* >= 0: HOME is unset, take it from /etc/passwd */
    int init;                      /* 1: helper runs as init and forks the process */
    int exec_mode;                 /* exec into a running container: no rootfs setup */
    int trace;                     /* --trace-startup: the child reports its stages */
};

#define RC_MAX_TRACE 32
struct rc_trace_mark { char stage[40]; int64_t ns; };

struct rc_result {
    const struct rc_plan *plan;    /* what the parent's half of the protocol serves */
    int pid;                       /* container process (host pid) */
    int sync_fd;                   /* parent end of the sync pair */
    int first_pid;                 /* the first child, when a second fork happened */
    int passed_fd;                 /* an fd sent with READY (seccomp listener), or -1 */
    struct rc_msg msg;             /* the error, when one happened */
    int ntrace;                    /* the child's stages, for --trace-startup */
    struct rc_trace_mark trace[RC_MAX_TRACE];
};

/* spawn.c: returns 0 when READY, 1 when the child waits for hooks, -1 on error. */
/* The EEVDF latency hint (Linux 6.12+: sched_attr.sched_runtime of a SCHED_OTHER task is its
 * slice): spawn gives the runtime's thread, and so the child, helper, init and process, the
 * shortest slice while a container starts; the helper gives the init and the process back the
 * slice the runtime had before anything of the container's runs (helper.c, restore_slice).
 * rc_slice_orig: that slice, when spawn shortened it (0: not), passed to the helper as an
 * extra argument "slice=<ns>". */
#define RC_SLICE_NS 100000ULL
#define RC_SCHED_RESET_ON_FORK 0x01ULL   /* SCHED_FLAG_RESET_ON_FORK */
struct rc_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};
extern uint64_t rc_slice_orig;

/* Give the calling thread back the slice `orig` when it still has spawn's short one: the kernel
 * default first, then `orig` when that differs.  For the helper (the init and the process) and
 * for hooks (hooks.c): nothing of the container's or the user's runs with the short slice.
 * -1 with errno on failure. */
static inline int rc_restore_slice(uint64_t orig)
{
    struct rc_sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) < 0)
        return -1;
    if (a.sched_runtime != RC_SLICE_NS)
        return 0;
    a.size = sizeof a;
    a.sched_flags &= RC_SCHED_RESET_ON_FORK;
    a.sched_runtime = 0;
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
        return -1;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) < 0)
        return -1;
    if (a.sched_runtime == orig)
        return 0;
    a.size = sizeof a;
    a.sched_flags &= RC_SCHED_RESET_ON_FORK;
    a.sched_runtime = orig;
    return (int)syscall(SYS_sched_setattr, 0, &a, 0);
}
int rc_spawn(const struct rc_plan *p, struct rc_result *r);
int rc_spawn_continue(struct rc_result *r);

/* child side, one file each */
void rc_fail(int sync_fd, const char *stage, int err, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));
int rc_send(int fd, int type, int pid);
int rc_recv(int fd, struct rc_msg *m);
int rc_recv_fd(int fd, struct rc_msg *m, int *passed);
int rc_send_fd(int fd, int type, int pid, int passed);
void rc_trace(const struct rc_plan *p, int fd, const char *stage);
void rc_keep_trace(struct rc_result *r, const struct rc_msg *m);

int rc_setup_rootfs(const struct rc_plan *p, int sync_fd);        /* rootfs.c */
int rc_idmap_userns(const char *uid_map, const char *gid_map, const char **what); /* idmap.c */
int rc_idmapped_tree(int dirfd, const char *path, int userns_fd, int rec, int idmap_rec);
int rc_open_in_root(int rootfd, const char *path, int flags);     /* pathres.c */
int rc_mkdirall_in_root(int rootfd, const char *path, mode_t mode, int last_is_file);
int rc_mkdirall_open_in_root(int rootfd, const char *path, mode_t mode, int last_is_file, int flags);
int rc_make_missing_in_root(int rootfd, const char *path, mode_t mode, int last_is_file);
int rc_open_parent_in_root(int rootfd, const char *path, const char **leaf, const char **what);
void rc_create_devices(const struct rc_plan *p, int rootfd, int sync_fd); /* devices.c */
void rc_setup_console(const struct rc_plan *p, int sync_fd, int *slave);  /* console.c */
void rc_setup_process(const struct rc_plan *p, int sync_fd);      /* process.c */
void rc_finish_rootfs(const struct rc_plan *p, int sync_fd);      /* rootfs.c */
int rc_copyup(int src, int dst, int take_mode, const char **what); /* copyup.c */
void rc_loopback_up(int sync_fd);                                 /* loopback.c */
void rc_lookup_exe(const struct rc_plan *p, int sync_fd, char *out, size_t outlen);

/* pidfd_open: the same number on every architecture; older libc headers may not name it */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#endif
