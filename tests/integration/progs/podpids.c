#define _GNU_SOURCE
/* A pod of two processes that use each other's pids: the parent forks a
 * child and keeps the pid fork() returned; every step the parent checks
 * that kill(child, 0) reaches it and that it is in our process group, and
 * the child that getpid() and getppid() say what they said at the start.
 * Each line is all 1s while the ids hold, so the output is the same with or
 * without restarts in between (sorted: the two processes interleave).  The
 * child exits with 42 after its steps, and the parent reaps it by that pid.
 *
 * podpids STEPS DIR: each process also keeps its real pid (what /proc/self
 * names) in DIR/real.parent or DIR/real.child, and the child its pid in
 * DIR/vpid.child, so that a test can see the real pids change. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static void put(const char *name, long v)
{
	char path[4096], tmp[4200], text[32];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int n = snprintf(text, sizeof(text), "%ld\n", v);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0)
		exit(3);
}

static long get(const char *name)
{
	char path[4096];
	long v = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static long real_pid(void)
{
	char b[32];
	ssize_t n = readlink("/proc/self", b, sizeof(b) - 1);
	b[n > 0 ? n : 0] = 0;
	return atol(b);
}

static void nap(void)
{
	struct timespec ts = {0, 100 * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: podpids STEPS DIR\n"), 2;
	int steps = atoi(argv[1]);
	dir = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid_t parent = getpid();
	put("real.parent", real_pid());
	pid_t kid = fork();
	if (kid < 0)
		return perror("fork"), 1;
	if (kid == 0) {
		pid_t me = getpid();
		put("vpid.child", me);
		for (int i = 0; i < steps + 10; i++) {
			put("real.child", real_pid());
			printf("child step %d pid=%d ppid=%d\n", i, getpid() == me, getppid() == parent);
			nap();
		}
		return 42;
	}
	for (int i = 0; i < 100 && get("vpid.child") < 0; i++)
		usleep(10000);
	int forked = get("vpid.child") == kid;
	for (int i = 0; i < steps; i++) {
		put("real.parent", real_pid());
		printf("parent step %d pid=%d forked=%d kill=%d pgid=%d\n", i, getpid() == parent, forked,
		       kill(kid, 0) == 0, getpgid(kid) == getpgrp());
		nap();
	}
	int st = 0;
	pid_t r;
	while ((r = waitpid(kid, &st, 0)) < 0 && errno == EINTR)
		;
	printf("parent reaped=%d status=%d\n", r == kid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
