/* A program that wants SIGUSR2 for itself: installs a handler, blocks the
 * signal, and later asks what it set.  Under zap (checkpoint signal
 * SIGUSR2) its calls are answered as if they worked, and checkpoints still
 * happen; it prints what it sees, which must match a run without zap. */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_usr2(int sig) { (void)sig; }

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 30;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t s, cur;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	signal(SIGUSR1, SIG_IGN);
	for (int i = 0; i < n; i++) {
		sigaction(SIGUSR2, NULL, &old);
		sigprocmask(SIG_BLOCK, NULL, &cur);
		printf("%d handler-is-mine=%d usr2-blocked=%d\n", i, old.sa_handler == on_usr2,
		       sigismember(&cur, SIGUSR2));
		struct timespec ts = {0, 60 * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
