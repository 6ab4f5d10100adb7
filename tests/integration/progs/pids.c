#define _GNU_SOURCE
/* A program that remembers its pid and tids and uses them: it signals
 * itself and a thread by them, reads /proc/<pid>, and compares what
 * getpid(), gettid() and syscall(SYS_getpid) say now with what they said at
 * the start.  Each line is all 1s while the ids hold, before and after a
 * restart that gives the process other real ids. */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static pid_t worker_tid;
static volatile int worker_same = 1;

static void on_usr1(int sig) { (void)sig; hits++; }

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = gettid();
	for (;;) {
		if (gettid() != worker_tid)
			worker_same = 0;
		usleep(5000);
	}
	return NULL;
}

static int proc_ok(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	/* the path names our pid; what /proc says inside is the real one */
	int ok = fgets(buf, sizeof(buf), f) && strstr(buf, "(pids)");
	fclose(f);
	return ok;
}

static int wait_hit(int before)
{
	for (int i = 0; i < 200 && hits == before; i++)
		usleep(1000);
	return hits > before;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 30;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	pid_t p0 = getpid(), t0 = gettid();
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	while (!worker_tid)
		usleep(1000);
	for (int i = 0; i < steps; i++) {
		int h = hits;
		int kill_ok = kill(getpid(), SIGUSR1) == 0 && wait_hit(h);
		h = hits;
		int tgkill_ok = tgkill(getpid(), worker_tid, SIGUSR1) == 0 && wait_hit(h);
		printf("step %d pid=%d tid=%d syscall=%d kill=%d tgkill=%d proc=%d pgid=%d thread=%d\n", i,
		       getpid() == p0, gettid() == t0, syscall(SYS_getpid) == p0, kill_ok, tgkill_ok,
		       proc_ok(getpid()), getpgid(0) == getpgrp(), worker_same);
		struct timespec ts = {0, 60 * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
