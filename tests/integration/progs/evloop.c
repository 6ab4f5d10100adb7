/* An event loop over an epoll fd that watches a timerfd, an eventfd and a
 * signalfd.  Each step waits for the timer, then signals itself through the
 * eventfd and through a real signal, and waits for each to come back out
 * of epoll; it prints a line when all three did.  After a restart that
 * lost any of them, a step errs or never ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int ep;

/* epoll_wait until fd is ready. */
static int wait_for(int fd)
{
	for (;;) {
		struct epoll_event ev[8];
		int n = epoll_wait(ep, ev, 8, 5000);
		if (n < 0 && errno == EINTR) /* a signal handler ran, as any program expects */
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return -2;
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 == (uint64_t)fd)
				return 0;
	}
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 40;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	int sfd = signalfd(-1, &m, SFD_NONBLOCK);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_SEMAPHORE);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct itimerspec its = {{0, 60000000}, {0, 60000000}};
	timerfd_settime(tfd, 0, &its, NULL);
	ep = epoll_create1(0);
	int fds[] = {sfd, efd, tfd};
	for (int i = 0; i < 3; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fds[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	for (int s = 0; s < steps; s++) {
		uint64_t v;
		int t = wait_for(tfd);
		if (t == 0)
			while (read(tfd, &v, 8) == 8)
				;
		uint64_t one = 1;
		write(efd, &one, 8);
		int e = wait_for(efd);
		uint64_t got = 0;
		if (e == 0)
			read(efd, &got, 8);
		kill(getpid(), SIGUSR1);
		int g = wait_for(sfd);
		struct signalfd_siginfo si = {0};
		if (g == 0)
			read(sfd, &si, sizeof(si));
		printf("step %d timer %d eventfd %d/%llu signalfd %d/%u\n", s, t, e, (unsigned long long)got,
		       g, si.ssi_signo);
	}
	return 0;
}
