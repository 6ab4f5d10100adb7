/* A single-threaded counter: prints a running sum, one line per tick. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 50;
	long ms = argc > 2 ? atol(argv[2]) : 100;
	unsigned long long sum = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long i = 1; i <= n; i++) {
		sum = sum * 31 + (unsigned long long)i * i;
		printf("%ld %llu\n", i, sum);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
