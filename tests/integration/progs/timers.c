/* POSIX timers across a checkpoint: a process-directed timer (SIGEV_SIGNAL)
 * and one aimed at a thread (SIGEV_THREAD_ID) tick every 20 ms; each step
 * waits for four more ticks of each, then prints.  A timer that does not
 * come back after a restart makes it wait forever. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t proc_ticks, thread_ticks;
static volatile pid_t worker_tid;

static void on_proc(int sig) { (void)sig; proc_ticks++; }
static void on_thread(int sig) { (void)sig; thread_ticks++; }

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = (pid_t)syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

static timer_t make_timer(int notify, int sig, pid_t tid)
{
	struct sigevent sev = {0};
	sev.sigev_notify = notify;
	sev.sigev_signo = sig;
	sev._sigev_un._tid = tid;
	timer_t t;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0) {
		perror("timer_create");
		exit(1);
	}
	struct itimerspec its = {{0, 20000000}, {0, 20000000}};
	timer_settime(t, 0, &its, NULL);
	return t;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 40;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGRTMIN, on_proc);
	signal(SIGRTMIN + 1, on_thread);
	/* only the worker takes the thread timer's signal, only main the other */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	while (!worker_tid)
		usleep(1000);
	timer_t a = make_timer(SIGEV_SIGNAL, SIGRTMIN, 0);
	timer_t b = make_timer(SIGEV_THREAD_ID, SIGRTMIN + 1, worker_tid);
	for (int i = 0; i < steps; i++) {
		int p0 = proc_ticks, t0 = thread_ticks;
		while (proc_ticks < p0 + 4 || thread_ticks < t0 + 4)
			usleep(2000);
		printf("step %d: both timers ticked 4 more times\n", i);
	}
	timer_delete(a);
	timer_delete(b);
	return 0;
}
