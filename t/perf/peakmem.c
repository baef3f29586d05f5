/* peakmem.c - runs a command and reports its CPU time and peak memory,
 * anonymous and file-backed apart (the benchmark's per-node figures).
 *
 *   peakmem -o FILE [-i MS] -- CMD [ARG...]
 *
 * Samples /proc/PID/status (RssAnon, RssFile, RssShmem) of CMD's process
 * every MS milliseconds (default 20) until it exits, then writes one line
 * to FILE:
 *
 *   wall_s=W cpu_s=C anon_kb=A file_kb=F shmem_kb=S hwm_kb=H
 *
 * cpu_s is user + system time of CMD and the children it waited for
 * (wait4); hwm_kb the kernel's own peak resident size (VmHWM, exact);
 * the other peaks are the largest sampled.  Pages of a staged file on a
 * tmpfs count as shmem, on a disk as file.  Exits with CMD's status (128
 * + signal when killed); SIGINT and SIGTERM are passed on to CMD.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

struct peaks {
	long anon, file, shmem, hwm;
};

/* Reads the fields of /proc/PID/status into p (keeping maxima). */
static void sample(pid_t pid, struct peaks *p)
{
	char path[64], line[256];
	FILE *f;
	long v;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %ld", &v) == 1 && v > p->anon)
			p->anon = v;
		else if (sscanf(line, "RssFile: %ld", &v) == 1 && v > p->file)
			p->file = v;
		else if (sscanf(line, "RssShmem: %ld", &v) == 1 && v > p->shmem)
			p->shmem = v;
		else if (sscanf(line, "VmHWM: %ld", &v) == 1 && v > p->hwm)
			p->hwm = v;
	}
	fclose(f);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: peakmem -o FILE [-i MS] -- CMD [ARG...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	struct peaks p = { 0 };
	struct rusage ru;
	struct timespec tick;
	double t0;
	long ms = 20;
	int c, status = 0;
	FILE *f;

	while ((c = getopt(argc, argv, "+o:i:")) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'i')
			ms = atol(optarg);
		else
			return usage();
	}
	if (!out || optind >= argc || ms <= 0)
		return usage();
	tick.tv_sec = ms / 1000;
	tick.tv_nsec = ms % 1000 * 1000000L;
	t0 = now();
	child = fork();
	if (child < 0) {
		fprintf(stderr, "peakmem: cannot fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "peakmem: cannot run '%s': %s\n", argv[optind],
			strerror(errno));
		_exit(127);
	}
	signal(SIGINT, forward);
	signal(SIGTERM, forward);
	for (;;) {
		pid_t r;

		sample(child, &p);
		r = wait4(child, &status, WNOHANG, &ru);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "peakmem: wait: %s\n", strerror(errno));
			return 1;
		}
		nanosleep(&tick, NULL);
	}
	f = fopen(out, "w");
	if (!f || fprintf(f, "wall_s=%.3f cpu_s=%.3f anon_kb=%ld file_kb=%ld "
			  "shmem_kb=%ld hwm_kb=%ld\n", now() - t0,
			  ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			  ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
			  p.anon, p.file, p.shmem,
			  p.hwm > ru.ru_maxrss ? p.hwm : ru.ru_maxrss) < 0 ||
	    fclose(f) != 0)
		fprintf(stderr, "peakmem: cannot write '%s': %s\n", out,
			strerror(errno));
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
