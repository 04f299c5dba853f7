/* The launcher's fast path: `state`, `start`, `kill` and `delete` of a
 * stopped container answered in C, without starting Python (~10 ms here,
 * where runc's whole `state` takes 4 ms).  It reads `<root>/<id>/fast`,
 * written by railcar.state.write_fast at create, and derives the status as
 * railcar.state.Container.status does.  Anything it is not sure of (an
 * unknown flag, an error to word, hooks to run, a live container to delete,
 * --all) returns "not handled" and Python does the work, so every error text
 * has one home.  RAILCAR_FASTPATH=0 turns it off. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include "fastpath.h"

#define NOT_HANDLED (-1)

struct fast {
    long pid;
    unsigned long long start;
    int poststart, poststop;
    int freezer_kind;
    char freezer[4096];
    char cgroups[16][4096];
    int ncgroups;
    char *compact, *pretty;          /* point into buf */
    char buf[65536];
};

static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n, got = 0;
    if (fd < 0)
        return -1;
    while ((size_t)got < len - 1 && (n = read(fd, buf + got, len - 1 - (size_t)got)) > 0)
        got += n;
    close(fd);
    buf[got] = 0;
    return (size_t)got >= len - 1 ? -1 : (int)got;    /* too big: not ours to handle */
}

static int load(const char *dir, struct fast *f)
{
    char path[8400], *line, *next;
    snprintf(path, sizeof path, "%s/fast", dir);
    if (read_file(path, f->buf, sizeof f->buf) < 0)
        return -1;
    if (strncmp(f->buf, "railcar-fast 1\n", 15))
        return -1;
    f->compact = f->pretty = NULL;
    f->ncgroups = 0;
    for (line = f->buf + 15; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (!strncmp(line, "pid ", 4)) {
            if (sscanf(line + 4, "%ld %llu", &f->pid, &f->start) != 2)
                return -1;
        } else if (!strncmp(line, "hooks ", 6)) {
            if (sscanf(line + 6, "%d %d", &f->poststart, &f->poststop) != 2)
                return -1;
        } else if (!strncmp(line, "freezer ", 8)) {
            if (sscanf(line + 8, "%d %4095s", &f->freezer_kind, f->freezer) != 2)
                return -1;
        } else if (!strncmp(line, "cgroup ", 7)) {
            if (f->ncgroups == 16)
                return -1;
            snprintf(f->cgroups[f->ncgroups++], sizeof f->cgroups[0], "%s", line + 7);
        } else if (!strncmp(line, "compact ", 8)) {
            f->compact = line + 8;
        } else if (!strcmp(line, "pretty")) {
            f->pretty = next;         /* the rest of the file */
            break;
        }
    }
    return f->compact && f->pretty && f->pid > 0 ? 0 : -1;
}

/* 1 alive (ours), 0 gone, as Container.alive(): not a zombie, same start time */
static int alive(const struct fast *f)
{
    char path[64], buf[1024], *p;
    unsigned long long start = 0;
    int i;
    snprintf(path, sizeof path, "/proc/%ld/stat", f->pid);
    if (read_file(path, buf, sizeof buf) < 0)
        return 0;
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return 0;
    for (i = 0; i < 19 && p; i++) {   /* field 3 is the state; start time is field 22 */
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p || sscanf(p, "%llu", &start) != 1)
        return 0;
    return start == f->start;
}

/* "stopped" "created" "running" "paused", or NULL when unsure */
static const char *status(const char *dir, const struct fast *f)
{
    char path[8400], st[64];
    if (!alive(f))
        return "stopped";
    /* paused first, as runc: a created container can be frozen too */
    if (f->freezer_kind != 0) {
        if (read_file(f->freezer, st, sizeof st) < 0)
            return NULL;
        if (f->freezer_kind == 1) {
            if (strncmp(st, "THAWED", 6)) {
                if (strncmp(st, "FROZEN", 6))
                    return NULL;      /* FREEZING: Python decides */
                return "paused";
            }
        } else if (st[0] == '1') {
            return "paused";
        }
    }
    snprintf(path, sizeof path, "%s/exec.fifo", dir);
    return access(path, F_OK) == 0 ? "created" : "running";
}

/* The template with @STATUS@ and "@PID@" filled in. */
static int render(const char *tpl, const char *st, long pid, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = tpl;
    while (*p) {
        const char *a = strstr(p, "@STATUS@"), *b = strstr(p, "\"@PID@\""), *q;
        size_t n;
        int w;
        q = a && (!b || a < b) ? a : b;
        n = q ? (size_t)(q - p) : strlen(p);
        if (o + n >= outlen)
            return -1;
        memcpy(out + o, p, n);
        o += n;
        if (!q)
            break;
        w = q == a ? snprintf(out + o, outlen - o, "%s", st) : snprintf(out + o, outlen - o, "%ld", pid);
        if (w < 0 || o + (size_t)w >= outlen)
            return -1;
        o += (size_t)w;
        p = q + (q == a ? 8 : 7);
    }
    out[o] = 0;
    return (int)o;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int do_state(const char *dir)
{
    static struct fast f;
    static char out[65536];
    const char *st;
    int n;
    if (load(dir, &f) < 0 || !(st = status(dir, &f)))
        return NOT_HANDLED;
    n = render(f.pretty, st, strcmp(st, "stopped") ? f.pid : 0, out, sizeof out);
    if (n < 0)
        return NOT_HANDLED;
    return write_all(1, out, (size_t)n) < 0 ? 1 : 0;
}

static int lock_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int do_start(const char *dir)
{
    static struct fast f;
    static char out[65536];
    char path[8400];
    const char *st;
    uint32_t len;
    int lk, fd, n, rc = NOT_HANDLED;
    if ((lk = lock_dir(dir)) < 0)
        return NOT_HANDLED;
    if (load(dir, &f) < 0 || f.poststart || !(st = status(dir, &f)) || strcmp(st, "created"))
        goto out;
    n = render(f.compact, "created", f.pid, out + 4, sizeof out - 4);
    if (n < 0)
        goto out;
    snprintf(path, sizeof path, "%s/exec.fifo", dir);
    fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        goto out;                 /* ENXIO etc: Python words it */
    len = (uint32_t)n;
    memcpy(out, &len, 4);
    rc = write_all(fd, out, (size_t)n + 4) < 0 ? NOT_HANDLED : 0;
    close(fd);
    if (rc == 0)
        unlink(path);
out:
    close(lk);
    return rc;
}

static const struct { const char *name; int sig; } SIGS[] = {
    {"HUP", 1}, {"INT", 2}, {"QUIT", 3}, {"ILL", 4}, {"TRAP", 5}, {"ABRT", 6}, {"IOT", 6}, {"BUS", 7},
    {"FPE", 8}, {"KILL", 9}, {"USR1", 10}, {"SEGV", 11}, {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14},
    {"TERM", 15}, {"STKFLT", 16}, {"CHLD", 17}, {"CONT", 18}, {"STOP", 19}, {"TSTP", 20}, {"TTIN", 21},
    {"TTOU", 22}, {"URG", 23}, {"XCPU", 24}, {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27}, {"WINCH", 28},
    {"IO", 29}, {"POLL", 29}, {"PWR", 30}, {"SYS", 31},
};

static int parse_signal(const char *s)
{
    size_t i;
    char *end;
    long n;
    if (!s)
        return 15;
    if (*s >= '0' && *s <= '9') {
        n = strtol(s, &end, 10);
        return (*end || n < 1 || n > 64) ? -1 : (int)n;
    }
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++)
        if (!strcasecmp(s, SIGS[i].name))
            return SIGS[i].sig;
    return -1;                    /* RTMIN+n and errors: Python */
}

static int do_kill(const char *dir, const char *sigstr)
{
    static struct fast f;
    int sig = parse_signal(sigstr);
    const char *st;
    if (sig < 0 || load(dir, &f) < 0 || !alive(&f))
        return NOT_HANDLED;
    /* SIGKILL to a frozen container: Python kills and thaws, or it never dies */
    if (sig == 9 && (!(st = status(dir, &f)) || !strcmp(st, "paused")))
        return NOT_HANDLED;
    return kill((pid_t)f.pid, sig) < 0 ? NOT_HANDLED : 0;
}

static int do_delete(const char *dir)
{
    static struct fast f;
    const char *st;
    DIR *d;
    struct dirent *e;
    int lk, i, rc = NOT_HANDLED;
    if ((lk = lock_dir(dir)) < 0)
        return NOT_HANDLED;
    if (load(dir, &f) < 0 || f.poststop || !(st = status(dir, &f)) || strcmp(st, "stopped"))
        goto out;
    for (i = f.ncgroups - 1; i >= 0; i--)
        if (rmdir(f.cgroups[i]) < 0 && errno != ENOENT)
            goto out;             /* busy or has children: Python retries and kills */
    d = opendir(dir);
    if (!d)
        goto out;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || (e->d_name[1] && (e->d_name[1] != '.' || e->d_name[2])))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rc = rmdir(dir) < 0 ? NOT_HANDLED : 0;
out:
    close(lk);
    return rc;
}

static int valid_id(const char *id)
{
    const char *p;
    if (!*id || !strcmp(id, ".") || strstr(id, ".."))
        return 0;
    for (p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_+-.", *p)))
            return 0;
    return 1;
}

static int known_log_format(const char *f)
{
    return !strcmp(f, "text") || !strcmp(f, "json");
}

/* runc's userns.RunningInUserNS: the uid map is not the initial namespace's identity map */
static int in_userns(void)
{
    char buf[128];
    unsigned a = 1, b = 1;
    unsigned long c = 0;
    ssize_t n;
    int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return !(sscanf(buf, "%u %u %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL);
}

/* The default --root, by railcar.rootless.default_root's rule (runc's): $XDG_RUNTIME_DIR/railcar
 * for a non-root user, and for root in a user namespace unless $USER is root; else
 * /run/railcar.  NULL when the directory would have to be made first (Python does that). */
static const char *default_root(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *user;
    struct stat st;
    if (!xdg || !*xdg)
        return "/run/railcar";
    if (geteuid() == 0) {
        if (!in_userns())
            return "/run/railcar";
        user = getenv("USER");
        if (user && !strcmp(user, "root"))
            return "/run/railcar";
    }
    if ((size_t)snprintf(buf, size, "%s/railcar", xdg) >= size || stat(buf, &st) < 0)
        return NULL;
    return buf;
}

int rc_fastpath(int argc, char **argv)
{
    static char xdg_root[4096];
    const char *root = NULL, *log = NULL, *verb = NULL, *id = NULL, *sig = NULL;
    const char *e = getenv("RAILCAR_FASTPATH");
    char dir[4200];
    size_t need;
    int i, force = 0, rc;
    if (e && !strcmp(e, "0"))
        return NOT_HANDLED;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--root") || !strcmp(a, "--log") || !strcmp(a, "--log-format")) {
            if (i + 1 >= argc)
                return NOT_HANDLED;
            if (a[2] == 'r')
                root = argv[i + 1];
            else if (a[5] == 0)
                log = argv[i + 1];
            else if (!known_log_format(argv[i + 1]))
                return NOT_HANDLED;   /* Python words the error */
            i++;
        } else if (!strncmp(a, "--root=", 7)) {
            root = a + 7;
        } else if (!strncmp(a, "--log=", 6)) {
            log = a + 6;
        } else if (!strncmp(a, "--log-format=", 13)) {
            if (!known_log_format(a + 13))
                return NOT_HANDLED;
        } else if (strcmp(a, "--systemd-cgroup") && strcmp(a, "--no-init") && strcmp(a, "--no-prewarm")) {
            return NOT_HANDLED;   /* --debug, --trace-startup, unknown: Python */
        }
    }
    if (i >= argc)
        return NOT_HANDLED;
    verb = argv[i++];
    for (; i < argc; i++) {
        if (!strcmp(verb, "delete") && (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f")))
            force = 1;
        else if (argv[i][0] == '-')
            return NOT_HANDLED;
        else if (!id)
            id = argv[i];
        else if (!strcmp(verb, "kill") && !sig)
            sig = argv[i];
        else
            return NOT_HANDLED;
    }
    (void)force;                  /* a stopped container needs no force; a live one goes to Python */
    if (!id || !valid_id(id))
        return NOT_HANDLED;
    if (!root && !(root = default_root(xdg_root, sizeof xdg_root)))
        return NOT_HANDLED;
    need = (size_t)snprintf(dir, sizeof dir, "%.4000s/%.190s", root, id);
    if (need >= 4096 || strlen(root) > 4000 || strlen(id) > 190)
        return NOT_HANDLED;
    if (strcmp(verb, "state") && strcmp(verb, "start") && strcmp(verb, "kill") && strcmp(verb, "delete"))
        return NOT_HANDLED;
    if (log) {
        /* before acting, as runc: a log that cannot be opened is an error (Python words it);
         * containerd expects the file to exist even when nothing failed */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return NOT_HANDLED;
        close(fd);
    }
    if (!strcmp(verb, "state"))
        rc = do_state(dir);
    else if (!strcmp(verb, "start"))
        rc = do_start(dir);
    else if (!strcmp(verb, "kill"))
        rc = do_kill(dir, sig);
    else
        rc = do_delete(dir);
    return rc;
}
