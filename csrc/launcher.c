/* The `railcar` command: starts an isolated CPython (no site, no
 * environment, explicit sys.path, the start-up codecs frozen in) and calls
 * railcar.main.main(), whose modules and C core are compiled in
 * (tools/hotpath.py, hotimport.c).  No shebang or PATH lookup; the entry point
 * of the static build too.
 *
 * Build-time settings (see setup.py):
 *   RC_PYHOME     the interpreter's prefix (sys.base_prefix)
 *   RC_STDLIB     stdlib directories, ':'-separated
 *   RC_PKGPATHS   where railcar and its libraries live, ':'-separated, each
 *                 absolute or relative to the directory of this executable
 *   RC_STATIC     the static build (build-static.sh): none of the above */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include "fastpath.h"
#include "hotimport.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(RC_PYHOME) && !defined(RC_STATIC)
#error RC_PYHOME must be defined
#endif

/* cgroup v1 prewarm.  The first cgroup migration after an idle spell waits
 * for an RCU grace period (cgroup_threadgroup_rwsem's rcu_sync): 8-16 ms on
 * this kind of VM, the largest single cost of `run`.  Any migration starts
 * it, even a no-op one, so for the commands that will move a process into a
 * cgroup a thread writes its own tid into its own cgroup while the
 * interpreter starts, and keeps doing so every millisecond (which holds the
 * fast state) until spawn has moved the container (_core sets the flag) or
 * 200 ms pass.  Nothing moves: the thread stays where it is. */
volatile int railcar_prewarm_done;

static char prewarm_tasks[PATH_MAX];

static int prewarm_find(void)
{
    char line[PATH_MAX];
    FILE *f = fopen("/proc/self/cgroup", "re");
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *ctrl = strchr(line, ':'), *path;
        if (!ctrl || !(path = strchr(++ctrl, ':')) || path == ctrl)
            continue;              /* cgroup v2 line ("0::/"): not v1 */
        *path++ = 0;
        path[strcspn(path, "\n")] = 0;
        if (strncmp(ctrl, "name=", 5) == 0)
            ctrl += 5;
        snprintf(prewarm_tasks, sizeof prewarm_tasks, "/sys/fs/cgroup/%s%s/tasks", ctrl,
                 strcmp(path, "/") ? path : "");
        found = access(prewarm_tasks, W_OK) == 0;
    }
    fclose(f);
    return found;
}

static void *prewarm(void *arg)
{
    char tid[24];
    int fd = open(prewarm_tasks, O_WRONLY | O_CLOEXEC), i;
    int len = snprintf(tid, sizeof tid, "%ld", (long)syscall(SYS_gettid));
    struct timespec ms = { 0, 1000000 };
    (void)arg;
    if (fd < 0)
        return NULL;
    for (i = 0; i < 200 && !railcar_prewarm_done; i++) {
        if (write(fd, tid, (size_t)len) < 0)
            break;
        nanosleep(&ms, NULL);
    }
    close(fd);
    return NULL;
}

static void maybe_prewarm(int argc, char **argv)
{
    pthread_t t;
    pthread_attr_t a;
    int i;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--no-prewarm") == 0)
            return;               /* bench/: the same run with and without it */
    for (i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        if (strcmp(argv[i], "create") && strcmp(argv[i], "run") && strcmp(argv[i], "exec"))
            continue;
        if (!prewarm_find())
            return;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 * 1024);
        pthread_create(&t, &a, prewarm, NULL);
        return;
    }
}

/* --preserve-fds N hands the container the caller's fds 3..3+N-1.  How many of them are open
 * is counted here, before this process opens anything (the prewarm thread's tasks file, the
 * interpreter's own files): a gap would otherwise be filled by an fd of the runtime's, and the
 * container would get it.  railcar.commands.create.preserve refuses N above this count. */
static long caller_fds_from3(int argc, char **argv)
{
    long n = 0;
    int i;
    for (i = 1; i < argc; i++)
        if (strncmp(argv[i], "--preserve-fds", 14) == 0)
            break;
    if (i == argc)
        return -1;                 /* not asked: nothing to count */
    while (n < INT_MAX - 3 && fcntl((int)(3 + n), F_GETFD) >= 0)
        n++;
    return n;
}

static void fatal(PyConfig *c, PyStatus st)
{
    PyConfig_Clear(c);
    if (PyStatus_IsExit(st))
        exit(st.exitcode);
    fprintf(stderr, "railcar: cannot start the interpreter: %s\n",
            st.err_msg ? st.err_msg : "unknown error");
    exit(255);
}

/* Where the railcar package's directory is (hotimport.c: the __path__ of its packages): the
 * first of RC_PKGPATHS, or the static binary's zip (which holds the stdlib too). */
static char rc_home[PATH_MAX * 2];

/* The stdlib modules the interpreter imports while it starts (the codecs), frozen: no directory
 * listed and no file read before railcar runs (static/mkzip.py writes the table; the static
 * binary's holds more). */
extern const struct _frozen rc_frozen_modules[];

#ifndef RC_STATIC
/* Each of `list` (':'-separated, relative to exedir unless absolute) onto sys.path; the first
 * into `first` when it is not NULL. */
static void add_paths(PyConfig *c, const char *list, const char *exedir, char *first, size_t size)
{
    char buf[PATH_MAX * 2];
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        wchar_t *w;
        if (p[0] == '/')
            snprintf(buf, sizeof buf, "%.*s", (int)n, p);
        else
            snprintf(buf, sizeof buf, "%s/%.*s", exedir, (int)n, p);
        if (first) {
            snprintf(first, size, "%s", buf);
            first = NULL;
        }
        w = Py_DecodeLocale(buf, NULL);
        if (w) {
            PyWideStringList_Append(&c->module_search_paths, w);
            PyMem_RawFree(w);
        }
        p = end ? end + 1 : NULL;
    }
}
#endif

#ifdef RC_STATIC
/* The static build: the stdlib, railcar and its pure-Python libraries are a zip appended to this
 * executable (zipimport reads it from sys.executable) or frozen into it, the C modules are built
 * in. */
PyMODINIT_FUNC PyInit_pyseccomp(void);
#include "rawalloc.h"

/* An empty chroot has no /proc: then argv[0], or its PATH match, names this file.  Absolute,
 * because zipimport reopens the archive by name after railcar may have changed directory. */
static int static_exe(char *exe, size_t size, const char *argv0)
{
    char cwd[PATH_MAX], cand[PATH_MAX * 2];
    const char *p, *path = getenv("PATH");
    ssize_t n = readlink("/proc/self/exe", exe, size - 1);

    if (n > 0) {
        exe[n] = 0;
        return 0;
    }
    if (!getcwd(cwd, sizeof cwd))
        strcpy(cwd, "/");
    if (strchr(argv0, '/')) {
        snprintf(cand, sizeof cand, "%s", argv0);
    } else {
        cand[0] = 0;
        for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
            size_t len = strcspn(p, ":");
            snprintf(cand, sizeof cand, "%.*s/%s", len ? (int)len : 1, len ? p : ".", argv0);
            if (access(cand, X_OK) == 0)
                break;
            cand[0] = 0;
            p += len + (p[len] == ':');
        }
        if (!cand[0])
            return -1;
    }
    if (cand[0] == '/')
        n = snprintf(exe, size, "%s", cand);
    else
        n = snprintf(exe, size, "%s/%s", strcmp(cwd, "/") ? cwd : "", cand);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

#endif


#ifdef RC_STATIC
/* The import system gives a frozen package its directory under sys._stdlib_dir, a directory on
 * disk: the static binary's codecs are in the zip at its end, so encodings gets that as __path__
 * and a codec not frozen (any but the start-up ones) is still found. */
static int frozen_codecs_path(void)
{
    PyObject *name = PyUnicode_FromString("encodings"), *enc, *dir, *path;
    int rc;
    if (!name)
        return -1;
    enc = PyImport_GetModule(name);
    Py_DECREF(name);
    if (!enc)
        return PyErr_Occurred() ? -1 : 0;
    dir = PyUnicode_FromFormat("%s/encodings", rc_home);
    path = dir ? PyList_New(1) : NULL;
    if (path) {
        PyList_SET_ITEM(path, 0, dir);
        dir = NULL;
    }
    rc = path ? PyObject_SetAttrString(enc, "__path__", path) : -1;
    Py_XDECREF(dir);
    Py_XDECREF(path);
    Py_DECREF(enc);
    return rc;
}
#endif

/* import railcar.main and call main(), which ends the process with os._exit: no __main__ code to
 * compile (Py_RunMain's run_command), no finalization.  The collector is off: a command lives
 * milliseconds and frees by reference counting; the long-lived ones (events) turn it back on. */
static int run_main(void)
{
    PyObject *mod, *r = NULL;
    if (rc_hotimport_install(rc_home) < 0) {
        PyErr_Print();
        return 255;
    }
    PyGC_Disable();
#ifdef RC_STATIC
    if (frozen_codecs_path() < 0) {
        PyErr_Print();
        return 255;
    }
#endif
    mod = PyImport_ImportModule("railcar.main");
    if (mod) {
        r = PyObject_CallMethod(mod, "main", NULL);
        Py_DECREF(mod);
    }
    if (!r) {
        PyErr_Print();          /* exits for SystemExit, with its code */
        return 1;
    }
    Py_DECREF(r);
    return 0;
}

int main(int argc, char **argv)
{
    PyConfig c;
    PyStatus st;
    char exe[PATH_MAX], *slash;
    struct timespec t0;
    ssize_t n;
    long fds3 = caller_fds_from3(argc, argv);   /* first: nothing of ours is open yet */

    clock_gettime(CLOCK_MONOTONIC, &t0);   /* for --trace-startup */
    {
        int rc = rc_fastpath(argc, argv);
        if (rc >= 0)
            return rc;
    }
#ifdef RC_STATIC
    rc_rawalloc_install();   /* before anything allocates: musl's malloc unmaps what is freed */
    if (static_exe(exe, sizeof exe, argc > 0 ? argv[0] : "railcar") != 0) {
        fprintf(stderr, "railcar: cannot find my own executable (no /proc, argv[0] not found)\n");
        return 255;
    }
    n = 1;
#else
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
#endif

    if (n <= 0) {
        fprintf(stderr, "railcar: cannot read /proc/self/exe\n");
        return 255;
    }
#ifndef RC_STATIC
    exe[n] = 0;
#endif
    maybe_prewarm(argc, argv);
    {
        /* UTF-8 mode, whatever the locale (an isolated config would take the
         * C locale's ASCII): arguments, paths and messages are UTF-8, and bytes
         * that are not pass through surrogate-escaped, unchanged, as in runc */
        PyPreConfig pre;
        PyPreConfig_InitIsolatedConfig(&pre);
        pre.utf8_mode = 1;
        st = Py_PreInitialize(&pre);
        if (PyStatus_Exception(st)) {
            fprintf(stderr, "railcar: cannot start the interpreter: %s\n",
                    st.err_msg ? st.err_msg : "unknown error");
            return 255;
        }
    }
    slash = strrchr(exe, '/');
#ifdef RC_STATIC
    {
        wchar_t *w = Py_DecodeLocale(exe, NULL);
        PyConfig_InitIsolatedConfig(&c);
        if (!w)
            fatal(&c, PyStatus_NoMemory());
        PyWideStringList_Append(&c.module_search_paths, w);  /* the zip at our end */
        snprintf(rc_home, sizeof rc_home, "%s", exe);
        st = PyConfig_SetString(&c, &c.executable, w);
        PyMem_RawFree(w);
        if (PyStatus_Exception(st))
            fatal(&c, st);
        *slash = 0;
        /* home = our directory: getpath looks for no stdlib on disk, and warns about none */
        st = PyConfig_SetBytesString(&c, &c.home, slash == exe ? "/" : exe);
        if (PyStatus_Exception(st))
            fatal(&c, st);
        c.pathconfig_warnings = 0;
        PyImport_AppendInittab("pyseccomp", PyInit_pyseccomp);
    }
#else
    *slash = 0;
#endif

#ifndef RC_STATIC
    PyConfig_InitIsolatedConfig(&c);
#endif
    c.site_import = 0;
    c.parse_argv = 0;
    c.install_signal_handlers = 1;
    c.module_search_paths_set = 1;
    /* the interpreter ignores the environment; this one switch is ours, for the
     * test that keeps heavy imports off the hot path (like -X importtime) */
    if (getenv("RAILCAR_IMPORTTIME"))
        c.import_time = 1;
#ifndef RC_STATIC
    /* the stdlib first: what the interpreter and railcar import by path is there (railcar's own
     * modules are built in), and no other directory is listed to find it */
    add_paths(&c, RC_STDLIB, exe, NULL, 0);
    add_paths(&c, RC_PKGPATHS, exe, rc_home, sizeof rc_home);
    st = PyConfig_SetBytesString(&c, &c.home, RC_PYHOME);
    if (PyStatus_Exception(st))
        fatal(&c, st);
#endif
    st = PyConfig_SetBytesArgv(&c, argc, argv);
    if (PyStatus_Exception(st))
        fatal(&c, st);
    /* railcar's modules and its C core, compiled in (tools/hotpath.py) */
    if (PyImport_ExtendInittab(rc_hot_modules) < 0)
        fatal(&c, PyStatus_NoMemory());
    PyImport_FrozenModules = rc_frozen_modules;
    st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st))
        fatal(&c, st);
    {
        PyObject *v = PyLong_FromLongLong((long long)t0.tv_sec * 1000000000LL + t0.tv_nsec);
        if (v) {
            PySys_SetObject("_railcar_t0", v);
            Py_DECREF(v);
        }
        v = fds3 >= 0 ? PyLong_FromLong(fds3) : NULL;
        if (v) {
            PySys_SetObject("_railcar_caller_fds", v);
            Py_DECREF(v);
        }
    }
    return run_main();
}
