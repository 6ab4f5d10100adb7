/* bigmem MIB [TICKS]: fills MIB MiB of heap with a pattern, then prints a
 * checksum of it every 50 ms for TICKS ticks (default: forever), changing a
 * few bytes each tick.  Used where a test needs a checkpoint that takes a
 * while to write. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 64;
	long ticks = argc > 2 ? atol(argv[2]) : -1;
	size_t n = mib << 20;
	uint64_t *p = malloc(n);
	if (!p)
		return 1;
	for (size_t i = 0; i < n / 8; i++)
		p[i] = i * 0x9e3779b97f4a7c15ull;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long t = 0; ticks < 0 || t < ticks; t++) {
		p[(t * 4099) % (n / 8)] ^= (uint64_t)t;
		uint64_t sum = 0;
		for (size_t i = 0; i < n / 8; i += 512)
			sum += p[i];
		printf("tick %ld sum %016llx\n", t, (unsigned long long)sum);
		struct timespec ts = {0, 50 * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
