/* spawn PROGRAM ARGS...: run PROGRAM as a child, reap it with wait4 and write
 * "wait-status wall-ns utime-us stime-us maxrss-kib\n" to fd 3.
 *
 * Why: a process forked (or vforked) from Python carries Python's RSS high-water mark through
 * exec, so ru_maxrss of a runtime spawned by the benchmark itself would read ~18 MiB for any
 * runtime. A child of this tiny static program starts from a tiny high-water mark instead.
 * Timing here also leaves the interpreter's own spawn overhead out of the wall time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execv(argv[1], argv + 1);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return 127;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dprintf(3, "%d %lld %lld %lld %ld\n", status,
		(long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
		(long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, ru.ru_maxrss);
	return 0;
}
