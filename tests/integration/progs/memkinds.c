#define _GNU_SOURCE
/* Every kind of memory a checkpoint must bring back, changed a little at
 * each step and summed: private and shared anonymous memory, a private
 * file mapping with some pages written (copy-on-write), a shared file
 * mapping, a memfd, a region the program made PROT_NONE after filling it,
 * a MAP_GROWSDOWN region, and heap grown with sbrk.
 *
 *   memkinds DIR [STEPS] [MS] */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
#define N 64 /* pages per region */

static uint64_t sum(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	return h;
}

static char *map(int prot, int flags, int fd)
{
	char *p = mmap(NULL, N * PG, prot, flags, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fprintf(stderr, "usage: memkinds DIR [STEPS] [MS]\n"), 2;
	int steps = argc > 2 ? atoi(argv[2]) : 30;
	long ms = argc > 3 ? atol(argv[3]) : 80;
	setvbuf(stdout, NULL, _IOLBF, 0);
	char path[4096], page[PG];
	snprintf(path, sizeof(path), "%s/private.dat", argv[1]);
	int pf = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	snprintf(path, sizeof(path), "%s/shared.dat", argv[1]);
	int sf = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	int mf = memfd_create("memkinds", 0);
	for (int i = 0; i < N; i++) {
		memset(page, 'a' + i % 26, PG);
		write(pf, page, PG);
		write(sf, page, PG);
	}
	ftruncate(mf, N * PG);
	char *anon = map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	char *shanon = map(PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	char *priv = map(PROT_READ | PROT_WRITE, MAP_PRIVATE, pf);
	char *shfile = map(PROT_READ | PROT_WRITE, MAP_SHARED, sf);
	char *memfd = map(PROT_READ | PROT_WRITE, MAP_SHARED, mf);
	char *hidden = map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	char *down = map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1);
	char *heap = sbrk(N * PG);
	for (int i = 0; i < N * PG; i += 64) {
		anon[i] = (char)i;
		shanon[i] = (char)(i >> 3);
		memfd[i] = (char)(i >> 5);
		hidden[i] = (char)(i * 7);
		down[i] = (char)(i * 3);
		heap[i] = (char)(i * 5);
	}
	mprotect(hidden, N * PG, PROT_NONE);
	for (int s = 0; s < steps; s++) {
		size_t at = (size_t)(s * 997 % (N * PG));
		anon[at]++;
		shanon[at] += 2;
		priv[(size_t)(s % 8) * PG + 5]++; /* copy-on-write pages */
		shfile[at] += 3;
		memfd[at] += 4;
		down[at] += 5;
		heap[at] += 6;
		mprotect(hidden, N * PG, PROT_READ);
		uint64_t h = sum(hidden, N * PG);
		mprotect(hidden, N * PG, PROT_NONE);
		printf("step %d anon %016llx shanon %016llx priv %016llx shfile %016llx memfd %016llx "
		       "hidden %016llx down %016llx heap %016llx\n",
		       s, (unsigned long long)sum(anon, N * PG), (unsigned long long)sum(shanon, N * PG),
		       (unsigned long long)sum(priv, N * PG), (unsigned long long)sum(shfile, N * PG),
		       (unsigned long long)sum(memfd, N * PG), (unsigned long long)h,
		       (unsigned long long)sum(down, N * PG), (unsigned long long)sum(heap, N * PG));
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
