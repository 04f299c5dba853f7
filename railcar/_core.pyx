# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=False
"""The bridge: a launch plan (railcar.plan.LaunchPlan, plain data) into C
structs, then the fork-to-exec critical section in csrc/ with the GIL
released.  Nothing else lives here."""

from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport errno
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset, strlen
from posix.types cimport mode_t, dev_t, uid_t, gid_t

cdef extern from "rc.h":
    enum:
        RC_MSG_TRACE
    struct rc_msg:
        int type
        int err
        int pid
        char stage[40]
        char text[460]
        int64_t ns
    struct rc_trace_mark:
        char stage[40]
        int64_t ns
    struct rc_mount:
        const char *source
        const char *dest
        const char *fstype
        const char *data
        unsigned long flags
        unsigned long remount
        unsigned long propagation
        uint64_t attr_set
        uint64_t attr_clr
        int is_file
        int is_symlink
        int copyup
        const char *field
        int idmap_fd
        int idmap_recursive
    struct rc_device:
        const char *path
        const char *host_path
        mode_t mode
        dev_t dev
        uid_t uid
        gid_t gid
    struct rc_rlimit:
        int resource
        uint64_t soft
        uint64_t hard
    struct rc_kv:
        const char *key
        const char *value
        const char *field
    struct rc_plan:
        int new_flags
        int njoin
        const int *join_fd
        const int *join_type
        const char *uid_map
        const char *gid_map
        int setgroups_deny
        const char *uidmap_tool
        const char *gidmap_tool
        const char *timens_offsets
        int ncgroup
        const int *cgroup_fd
        const char *rootfs
        unsigned long root_propagation
        int host_mounts
        const char *exec_root
        int no_pivot
        int readonly_root
        int nmounts
        const rc_mount *mounts
        int *host_fd
        int ndevices
        const rc_device *devices
        int devices_bind
        int nmasked
        int nreadonly
        const char *const *masked
        const char *const *readonly
        int hooks_pause
        int nsysctl
        const rc_kv *sysctl
        const char *hostname
        const char *domainname
        int nrlimits
        const rc_rlimit *rlimits
        const char *oom_score_adj
        int umask_
        const char *cwd
        const char *exe
        const char *path_env
        int terminal
        int console_fd
        unsigned short rows
        unsigned short cols
        int helper_fd
        int helper_plan_fd
        int fifo_fd
        int preserve_fds
        char *const *envp
        int nenv
        long home_uid
        int init
        int exec_mode
        int trace
    struct rc_result:
        int pid
        int sync_fd
        int first_pid
        int passed_fd
        rc_msg msg
        int ntrace
        rc_trace_mark trace[32]
    int rc_recv(int fd, rc_msg *m) nogil
    int rc_idmap_userns(const char *uid_map, const char *gid_map, const char **what) nogil
    int rc_spawn(const rc_plan *p, rc_result *r) nogil
    int rc_spawn_continue(rc_result *r) nogil

cdef extern from "helper_blob.h":
    const unsigned char rc_helper_blob[]
    const unsigned char rc_helper_blob_end[]

cdef extern from "memfd_seal.h":
    int rc_sealed_memfd(const char *name, const void *data, size_t len) nogil
    int rc_data_memfd(const char *name, const void *data, size_t len) nogil


def helper_memfd():
    """A sealed memfd (close-on-exec) holding the static helper; -1 on failure."""
    cdef size_t n = <size_t>(rc_helper_blob_end - rc_helper_blob)
    cdef int fd
    with nogil:
        fd = rc_sealed_memfd(b"railcar-init", rc_helper_blob, n)
    if fd < 0:
        raise OSError(errno, "memfd for the railcar helper")
    return fd


def idmap_userns(bytes uid_map, bytes gid_map):
    """A user namespace holding an id-mapped mount's maps ("<container> <host> <size>" lines):
    its fd (close-on-exec); OSError naming the step that failed."""
    cdef const char *u = uid_map
    cdef const char *g = gid_map
    cdef const char *what = NULL
    cdef int fd
    with nogil:
        fd = rc_idmap_userns(u, g, &what)
    if fd < 0:
        raise OSError(errno, (<bytes>what).decode() if what != NULL else "user namespace")
    return fd


def data_memfd(bytes data):
    """A sealed memfd (close-on-exec; the child clears it) reading `data`."""
    cdef const char *p = data
    cdef size_t n = len(data)
    cdef int fd
    with nogil:
        fd = rc_data_memfd(b"railcar-plan", p, n)
    if fd < 0:
        raise OSError(errno, "memfd for the helper plan")
    return fd


cdef const char *_s(object b, list keep):
    if b is None:
        return NULL
    keep.append(b)
    return <const char *>(<bytes>b)


cdef class Spawn:
    """One container process being started; holds the C plan memory until done."""
    cdef rc_plan plan
    cdef rc_result res
    cdef list keep
    cdef rc_mount *mounts
    cdef rc_device *devices
    cdef rc_rlimit *rlimits
    cdef rc_kv *sysctl
    cdef const char **masked
    cdef const char **readonly
    cdef char **envp
    cdef int *join_fd
    cdef int *join_type
    cdef int *cgroup_fd
    cdef int *host_fd

    def __cinit__(self):
        self.keep = []

    def __dealloc__(self):
        free(self.mounts)
        free(self.devices)
        free(self.rlimits)
        free(self.sysctl)
        free(self.masked)
        free(self.readonly)
        free(self.envp)
        free(self.join_fd)
        free(self.join_type)
        free(self.cgroup_fd)
        free(self.host_fd)

    def start(self, lp):
        """Fill the C plan from the launch plan, clone, run to READY or a hooks pause.
        Returns 0 (ready), 1 (hooks pause) or -1 (error: see .error())."""
        cdef rc_plan *p = &self.plan
        cdef int i, r
        cdef list keep = self.keep
        memset(p, 0, sizeof(rc_plan))
        p.new_flags = lp.new_flags
        # every array sized to its list (boundscheck is off: no fixed array to overrun)
        p.njoin = len(lp.joins)
        self.join_fd = <int *>calloc(p.njoin + 1, sizeof(int))
        self.join_type = <int *>calloc(p.njoin + 1, sizeof(int))
        if self.join_fd == NULL or self.join_type == NULL:
            raise MemoryError()
        for i, (fd, t) in enumerate(lp.joins):
            self.join_fd[i] = fd
            self.join_type[i] = t
        p.join_fd = self.join_fd
        p.join_type = self.join_type
        p.uid_map = _s(lp.uid_map, keep)
        p.gid_map = _s(lp.gid_map, keep)
        p.setgroups_deny = lp.setgroups_deny
        p.uidmap_tool = _s(lp.uidmap_tool, keep)
        p.gidmap_tool = _s(lp.gidmap_tool, keep)
        p.timens_offsets = _s(lp.timens_offsets, keep)
        p.ncgroup = len(lp.cgroup_fds)
        self.cgroup_fd = <int *>calloc(p.ncgroup + 1, sizeof(int))
        if self.cgroup_fd == NULL:
            raise MemoryError()
        for i, fd in enumerate(lp.cgroup_fds):
            self.cgroup_fd[i] = fd
        p.cgroup_fd = self.cgroup_fd
        p.rootfs = _s(lp.rootfs, keep)
        p.root_propagation = lp.root_propagation
        p.host_mounts = lp.host_mounts
        p.exec_root = _s(lp.exec_root, keep)
        p.no_pivot = lp.no_pivot
        p.readonly_root = lp.readonly_root
        p.nmounts = len(lp.mounts)
        self.mounts = <rc_mount *>calloc(p.nmounts + 1, sizeof(rc_mount))
        if self.mounts == NULL:
            raise MemoryError()
        for i, m in enumerate(lp.mounts):  # plan.Mount and plan.Symlink records
            self.mounts[i].field = _s(m.field, keep)
            self.mounts[i].idmap_fd = -1
            if type(m).__name__ == "Symlink":
                self.mounts[i].is_symlink = 1
                self.mounts[i].source = _s(m.target, keep)
                self.mounts[i].dest = _s(m.link, keep)
                continue
            self.mounts[i].source = _s(m.source, keep)
            self.mounts[i].dest = _s(m.dest, keep)
            self.mounts[i].fstype = _s(m.fstype, keep)
            self.mounts[i].data = _s(m.data, keep)
            self.mounts[i].flags = m.flags
            self.mounts[i].remount = m.remount
            self.mounts[i].propagation = m.propagation
            self.mounts[i].attr_set = m.attr_set
            self.mounts[i].attr_clr = m.attr_clr
            self.mounts[i].is_file = m.is_file
            self.mounts[i].copyup = m.copyup
            self.mounts[i].idmap_fd = m.idmap_fd
            self.mounts[i].idmap_recursive = m.idmap_recursive
        p.mounts = self.mounts
        # the child's copy receives here the rootfs and bind sources the parent opens for it
        self.host_fd = <int *>calloc(p.nmounts + 1, sizeof(int))
        if self.host_fd == NULL:
            raise MemoryError()
        for i in range(p.nmounts + 1):
            self.host_fd[i] = -1
        p.host_fd = self.host_fd
        p.ndevices = len(lp.devices)
        self.devices = <rc_device *>calloc(p.ndevices + 1, sizeof(rc_device))
        for i, d in enumerate(lp.devices):
            (path, host, mode, dev, uid, gid) = d
            self.devices[i].path = _s(path, keep)
            self.devices[i].host_path = _s(host, keep)
            self.devices[i].mode = mode
            self.devices[i].dev = dev
            self.devices[i].uid = uid
            self.devices[i].gid = gid
        p.devices = self.devices
        p.devices_bind = lp.devices_bind
        p.nmasked = len(lp.masked)
        self.masked = <const char **>calloc(p.nmasked + 1, sizeof(char *))
        for i, s in enumerate(lp.masked):
            self.masked[i] = _s(s, keep)
        p.masked = self.masked
        p.nreadonly = len(lp.readonly)
        self.readonly = <const char **>calloc(p.nreadonly + 1, sizeof(char *))
        for i, s in enumerate(lp.readonly):
            self.readonly[i] = _s(s, keep)
        p.readonly = self.readonly
        p.hooks_pause = lp.hooks_pause
        p.nsysctl = len(lp.sysctl)
        self.sysctl = <rc_kv *>calloc(p.nsysctl + 1, sizeof(rc_kv))
        for i, (k, v, f) in enumerate(lp.sysctl):
            self.sysctl[i].key = _s(k, keep)
            self.sysctl[i].value = _s(v, keep)
            self.sysctl[i].field = _s(f, keep)
        p.sysctl = self.sysctl
        p.hostname = _s(lp.hostname, keep)
        p.domainname = _s(lp.domainname, keep)
        p.nrlimits = len(lp.rlimits)
        self.rlimits = <rc_rlimit *>calloc(p.nrlimits + 1, sizeof(rc_rlimit))
        for i, (res, soft, hard) in enumerate(lp.rlimits):
            self.rlimits[i].resource = res
            self.rlimits[i].soft = soft
            self.rlimits[i].hard = hard
        p.rlimits = self.rlimits
        p.oom_score_adj = _s(lp.oom_score_adj, keep)
        p.umask_ = lp.umask
        p.cwd = _s(lp.cwd, keep)
        p.exe = _s(lp.exe, keep)
        p.path_env = _s(lp.path_env, keep)
        p.terminal = lp.terminal
        p.console_fd = lp.console_fd
        p.rows = lp.rows
        p.cols = lp.cols
        p.helper_fd = lp.helper_fd
        p.helper_plan_fd = lp.helper_plan_fd
        p.fifo_fd = lp.fifo_fd
        p.preserve_fds = lp.preserve_fds
        self.envp = <char **>calloc(len(lp.env) + 1, sizeof(char *))
        for i, s in enumerate(lp.env):
            self.envp[i] = <char *>_s(s, keep)
        p.envp = self.envp
        p.nenv = len(lp.env)
        p.home_uid = lp.home_uid
        p.init = lp.init
        p.exec_mode = lp.exec_mode
        p.trace = lp.trace
        with nogil:
            r = rc_spawn(p, &self.res)
        return r

    def resume(self):
        """After a hooks pause: let the child go on to READY."""
        cdef int r
        cdef rc_msg go
        import posix  # not os: on the hooks path of create, which imports no os
        memset(&go, 0, sizeof(rc_msg))
        go.type = 3
        posix.write(self.res.sync_fd, (<char *>&go)[:sizeof(rc_msg)])
        with nogil:
            r = rc_spawn_continue(&self.res)
        return r

    @property
    def pid(self):
        return self.res.pid

    @property
    def first_pid(self):
        return self.res.first_pid

    @property
    def passed_fd(self):
        return self.res.passed_fd

    @property
    def sync_fd(self):
        return self.res.sync_fd

    def trace_marks(self):
        """--trace-startup: the child's stages so far, as (name, CLOCK_MONOTONIC ns)."""
        return [(self.res.trace[i].stage.decode("utf-8", "replace"), self.res.trace[i].ns)
                for i in range(self.res.ntrace)]

    def error(self):
        """(stage, errno, text) of the failure."""
        return (self.res.msg.stage.decode("utf-8", "replace"), self.res.msg.err,
                self.res.msg.text.decode("utf-8", "replace"))


cdef extern from "sys/mount.h":
    int c_mount "mount"(const char *source, const char *target, const char *fstype,
                        unsigned long flags, const void *data) nogil
    int c_umount2 "umount2"(const char *target, int flags) nogil

cdef extern from "sys/syscall.h":
    long syscall(long number, ...) nogil
    long SYS_seccomp


def mount(bytes source, bytes target, unsigned long flags):
    """mount(2) without a filesystem type or data (binds, remounts); OSError on failure."""
    cdef int r
    cdef const char *src = source
    cdef const char *dst = target
    with nogil:
        r = c_mount(src, dst, NULL, flags, NULL)
    if r < 0:
        raise OSError(errno, "mount", target.decode("utf-8", "surrogateescape"))


def umount(bytes target, int flags):
    cdef int r
    cdef const char *dst = target
    with nogil:
        r = c_umount2(dst, flags)
    if r < 0:
        raise OSError(errno, "umount", target.decode("utf-8", "surrogateescape"))


cdef extern from "sys/vfs.h":
    struct statfs:
        long f_type
    int c_statfs "statfs"(const char *path, statfs *buf) nogil


def fs_magic(bytes path):
    """statfs(2)'s f_type of the filesystem holding `path` (TMPFS_MAGIC 0x01021994, ...)."""
    cdef statfs buf
    cdef const char *p = path
    if c_statfs(p, &buf) < 0:
        raise OSError(errno, "statfs", path.decode("utf-8", "surrogateescape"))
    return buf.f_type


def seccomp_flags_accepted(unsigned long flags):
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL): EFAULT means the kernel accepted the flags
    (the program pointer is read after they are checked: nothing is installed), EINVAL not."""
    cdef long r
    with nogil:
        r = syscall(SYS_seccomp, <long>1, <long>flags, <void *>NULL)
    return r == -1 and errno == 14  # EFAULT


cdef extern from "sys/inotify.h":
    int inotify_init1(int flags) nogil
    int inotify_add_watch(int fd, const char *path, unsigned int mask) nogil
    enum:
        IN_CLOEXEC
        IN_NONBLOCK
        IN_MODIFY


def inotify_modified(bytes path):
    """An inotify fd (close-on-exec, non-blocking) readable when the file at `path` is modified
    (cgroup v2's memory.events, which the kernel marks modified on every event)."""
    cdef int fd
    cdef const char *p = path
    fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
    if fd < 0:
        raise OSError(errno, "inotify_init1")
    if inotify_add_watch(fd, p, IN_MODIFY) < 0:
        import os
        e = errno
        os.close(fd)
        raise OSError(e, "inotify_add_watch", path.decode("utf-8", "surrogateescape"))
    return fd


cdef extern from "hooks.h":
    enum:
        RC_HOOK_DONE
        RC_HOOK_TIMEOUT
        RC_HOOK_EINTR
    struct rc_hook:
        const char *path
        char *const *argv
        char *const *envp
        int nns
        const int *ns_fd
    struct rc_hook_buf:
        char *data
        size_t len
    struct rc_hook_run:
        int pid
        const char *data
        size_t len
        rc_hook_buf out
        rc_hook_buf err
        int status
        int reaped
        const char *stage
        int err_no
    void rc_hook_init(rc_hook_run *r) nogil
    int rc_hook_spawn(const rc_hook *h, rc_hook_run *r) nogil
    int rc_hook_communicate(rc_hook_run *r, long long timeout_s) nogil
    int rc_hook_kill(rc_hook_run *r) nogil
    void rc_hook_close(rc_hook_run *r) nogil


cdef char **_argv(list items, list keep) except NULL:
    cdef char **v = <char **>calloc(len(items) + 1, sizeof(char *))
    cdef Py_ssize_t i
    if v == NULL:
        raise MemoryError()
    for i, b in enumerate(items):
        keep.append(b)
        v[i] = <char *>(<bytes>b)
    return v


cdef class Hook:
    """One OCI hook run by the C core (csrc/hooks.c): spawn (its own session, dying with the
    runtime, stdin/stdout/stderr pipes, every other fd closed), then communicate (the state in,
    the output out, the exit awaited within the timeout, the GIL released)."""
    cdef rc_hook_run run
    cdef bytes data

    def __cinit__(self):
        rc_hook_init(&self.run)

    def __dealloc__(self):
        with nogil:
            rc_hook_kill(&self.run)
            rc_hook_close(&self.run)

    def spawn(self, bytes path, list args, list env, list ns_fds, bytes data):
        """Start `path` with `args` (bytes), `env` (bytes "K=V"; None: the runtime's own),
        after setns into each of `ns_fds` in order; `data` goes to its stdin. OSError(errno,
        stage) when it could not start: stage "exec" for execve's own failure."""
        cdef rc_hook h
        cdef list keep = []
        cdef int *fds = NULL
        cdef int r, i
        memset(&h, 0, sizeof(h))
        h.path = path
        try:
            h.argv = _argv(args, keep)
            if env is not None:
                h.envp = _argv(env, keep)
            if ns_fds:
                fds = <int *>calloc(len(ns_fds), sizeof(int))
                if fds == NULL:
                    raise MemoryError()
                for i in range(len(ns_fds)):
                    fds[i] = ns_fds[i]
                h.nns = len(ns_fds)
                h.ns_fd = fds
            self.data = data
            self.run.data = self.data
            self.run.len = len(data)
            with nogil:
                r = rc_hook_spawn(&h, &self.run)
        finally:
            free(<void *>h.argv)
            free(<void *>h.envp)
            free(fds)
        if r < 0:
            raise OSError(self.run.err_no, self.run.stage.decode())

    def communicate(self, long long timeout):
        """Until the hook has exited (True) or `timeout` seconds (0: none) have passed (False);
        Python signal handlers run meanwhile (KeyboardInterrupt propagates)."""
        cdef int r
        while True:
            with nogil:
                r = rc_hook_communicate(&self.run, timeout)
            if r == RC_HOOK_DONE:
                return True
            if r == RC_HOOK_TIMEOUT:
                return False
            if r == RC_HOOK_EINTR:
                PyErr_CheckSignals()
                continue
            raise OSError(self.run.err_no, self.run.stage.decode())

    def kill(self):
        """SIGKILL the hook's session and reap it (nothing if it is reaped already)."""
        cdef int r
        with nogil:
            r = rc_hook_kill(&self.run)
        if r < 0:
            raise OSError(self.run.err_no, self.run.stage.decode())

    @property
    def pid(self):
        return self.run.pid

    @property
    def returncode(self):
        """subprocess's: None while running, the exit status, or -signal."""
        cdef int st = self.run.status
        if not self.run.reaped:
            return None
        if st & 0x7f == 0:
            return (st >> 8) & 0xff
        return -(st & 0x7f)

    def output(self):
        """(stdout, stderr) as read, each up to RC_HOOK_OUT_MAX bytes."""
        return (self.run.out.data[:self.run.out.len] if self.run.out.len else b"",
                self.run.err.data[:self.run.err.len] if self.run.err.len else b"")


cdef extern from "poll.h":
    enum:
        POLLIN
    struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout) nogil


def drain_trace(int fd, int timeout_ms):
    """--trace-startup: the helper's last stages, read from the sync socket until it
    closes (at the program's exec) or timeout_ms passes without a message."""
    cdef rc_msg m
    cdef pollfd pfd
    cdef int n
    marks = []
    pfd.fd = fd
    pfd.events = POLLIN
    while True:
        with nogil:
            n = poll(&pfd, 1, timeout_ms)
            if n > 0:
                n = rc_recv(fd, &m)
        if n <= 0:
            return marks
        if m.type == RC_MSG_TRACE:
            marks.append((m.stage.decode("utf-8", "replace"), m.ns))


cdef extern from "bpfdev.h":
    int rc_bpf_attach_device_filter(const char *dir, const void *insns, unsigned int ninsns,
                                    const char **step) nogil


def attach_device_filter(str path, bytes program):
    """cgroup v2 devices: load `program` (eBPF instructions, 8 bytes each) as a
    BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to the cgroup directory `path`;
    OSError(errno, "<call>: <path>") when a step fails."""
    cdef bytes p = path.encode("utf-8", "surrogateescape")
    cdef const char *cp = p
    cdef const char *insns = program
    cdef unsigned int n = <unsigned int>(len(program) // 8)
    cdef const char *step = NULL
    cdef int r
    with nogil:
        r = rc_bpf_attach_device_filter(cp, insns, n, &step)
    if r < 0:
        raise OSError(-r, f"{step.decode()}: {path}")


cdef extern from "json.h":
    object rc_json_loads(object s)
    object rc_json_dumps(object obj, object dflt, Py_ssize_t indent)


def json_loads(s):
    """json.loads(s) for a str (strict, no NaN/Infinity) by csrc/json.c, the GIL held: object
    work. ValueError on bad input (worded by railcar.jsonfast), RecursionError when nested deeper
    than the recursion limit allows."""
    return rc_json_loads(s)


def json_dumps(obj, default, Py_ssize_t indent=-1):
    """json.dumps(obj, separators=(",", ":")) (ensure_ascii) by csrc/json.c, `default(o)` for any
    other type; with indent >= 0, railcar.jsonfast's indented form."""
    return rc_json_dumps(obj, default, indent)
