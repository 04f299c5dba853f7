/* The `railcar` command: starts an isolated CPython (no site, no
 * environment, explicit sys.path) and calls railcar.main.main().  As fast as
 * `python3 -SI`, with no shebang or PATH lookup, and the entry point of the
 * static build.
 *
 * Build-time settings (see setup.py):
 *   RC_PYHOME     the interpreter's prefix (sys.base_prefix)
 *   RC_STDLIB     stdlib directories, ':'-separated
 *   RC_PKGPATHS   where railcar and its libraries live, ':'-separated, each
 *                 absolute or relative to the directory of this executable */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RC_PYHOME
#error RC_PYHOME must be defined
#endif

static void fatal(PyConfig *c, PyStatus st)
{
    PyConfig_Clear(c);
    if (PyStatus_IsExit(st))
        exit(st.exitcode);
    fprintf(stderr, "railcar: cannot start the interpreter: %s\n",
            st.err_msg ? st.err_msg : "unknown error");
    exit(255);
}

static void add_paths(PyConfig *c, const char *list, const char *exedir)
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
        w = Py_DecodeLocale(buf, NULL);
        if (w) {
            PyWideStringList_Append(&c->module_search_paths, w);
            PyMem_RawFree(w);
        }
        p = end ? end + 1 : NULL;
    }
}

int main(int argc, char **argv)
{
    PyConfig c;
    PyStatus st;
    char exe[PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n <= 0) {
        fprintf(stderr, "railcar: cannot read /proc/self/exe\n");
        return 255;
    }
    exe[n] = 0;
    slash = strrchr(exe, '/');
    *slash = 0;

    PyConfig_InitIsolatedConfig(&c);
    c.site_import = 0;
    c.parse_argv = 0;
    c.install_signal_handlers = 1;
    c.module_search_paths_set = 1;
    add_paths(&c, RC_PKGPATHS, exe);
    add_paths(&c, RC_STDLIB, exe);
    st = PyConfig_SetBytesString(&c, &c.home, RC_PYHOME);
    if (PyStatus_Exception(st))
        fatal(&c, st);
    st = PyConfig_SetBytesArgv(&c, argc, argv);
    if (PyStatus_Exception(st))
        fatal(&c, st);
    st = PyConfig_SetString(&c, &c.run_command, L"import railcar.main\nrailcar.main.main()\n");
    if (PyStatus_Exception(st))
        fatal(&c, st);
    st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st))
        fatal(&c, st);
    return Py_RunMain();
}
