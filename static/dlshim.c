/* dlopen/dlsym for the static railcar.  musl's static libc answers every dlopen with an error,
 * which breaks ctypes.CDLL(None) -- the way railcar makes its few raw syscalls (bpf(2) for the
 * cgroup v2 device filter, seccomp(2) flag probes).  Here the process itself (NULL, or any libc
 * name) "opens" to a fixed table of libc functions linked into the executable; other libraries
 * cannot be loaded.  These strong definitions keep musl's stubs out of the link. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

struct sym { const char *name; void *addr; };

static const struct sym table[] = {
    { "syscall", (void *)syscall },
    { "prctl", (void *)prctl },
    { "ioctl", (void *)ioctl },
    { "mount", (void *)mount },
    { "umount2", (void *)umount2 },
    { "unshare", (void *)unshare },
    { "setns", (void *)setns },
    { "getpid", (void *)getpid },
    { "malloc", (void *)malloc },
    { "free", (void *)free },
    { "__errno_location", (void *)__errno_location },
};

static char self;                       /* the one handle */
static char err[160];
static int have_err;

static void set_err(const char *fmt, const char *what)
{
    snprintf(err, sizeof err, fmt, what);
    have_err = 1;
}

void *dlopen(const char *file, int mode)
{
    (void)mode;
    if (!file || strncmp(file, "libc.", 5) == 0 || strncmp(file, "libc-", 5) == 0)
        return &self;
    set_err("%s: cannot load shared libraries in the static railcar", file);
    return NULL;
}

void *dlsym(void *restrict handle, const char *restrict name)
{
    size_t i;
    if (handle == &self || handle == RTLD_DEFAULT)
        for (i = 0; i < sizeof table / sizeof table[0]; i++)
            if (strcmp(table[i].name, name) == 0)
                return table[i].addr;
    set_err("%s: not in the static railcar's symbol table (static/dlshim.c)", name);
    return NULL;
}

int dlclose(void *handle)
{
    return handle == &self ? 0 : -1;
}

char *dlerror(void)
{
    if (!have_err)
        return NULL;
    have_err = 0;
    return err;
}
