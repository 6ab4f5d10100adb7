/* Wrapper overhead: the same calls timed natively and with libzappre.so
 * preloaded (the caller runs this binary both ways).  Prints one line per
 * call: name and nanoseconds per call (median of 7 rounds). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static volatile long sink;

#define MEASURE(name, n, body)                                          \
	do {                                                            \
		double r[7];                                            \
		for (int k = 0; k < 7; k++) {                           \
			double t0 = now_ns();                           \
			for (long i = 0; i < (n); i++) {                \
				body;                                   \
			}                                               \
			r[k] = (now_ns() - t0) / (double)(n);           \
		}                                                       \
		qsort(r, 7, sizeof(r[0]), cmp);                         \
		printf("%s %.1f\n", name, r[3]);                        \
	} while (0)

int main(void)
{
	MEASURE("getpid", 2000000, sink += getpid());
	MEASURE("getppid", 200000, sink += getppid());
	MEASURE("waitpid(ECHILD)", 200000, sink += waitpid(-1, NULL, WNOHANG));
	MEASURE("open+close", 20000, { int fd = open("/dev/null", O_RDONLY); close(fd); });
	MEASURE("fork+_exit+wait", 200, {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
	});
	MEASURE("fork+exec+wait", 50, {
		pid_t p = fork();
		if (p == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	});
	return 0;
}
