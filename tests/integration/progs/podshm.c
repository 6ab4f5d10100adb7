/* A parent and three workers sharing memory without a file: a
 * MAP_SHARED | MAP_ANONYMOUS page made before the forks, and a memfd all of
 * them map.  Each worker counts up its own slot in both, slowly; the parent
 * watches the slots move and, once the workers are done, prints what it
 * sees.  If a restart gave each process a private copy, the parent would
 * see the counts stop where the checkpoint was.
 *
 *   podshm ITERATIONS */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 3

static void nap_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 2000;
	long *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int mfd = memfd_create("podshm", 0);
	if (anon == MAP_FAILED || mfd < 0 || ftruncate(mfd, 1 << 20) < 0)
		return perror("setup"), 1;
	long *mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (mem == MAP_FAILED)
		return perror("mmap memfd"), 1;
	close(mfd); /* the mapping is all that is left of it */
	pid_t kids[WORKERS];
	for (int w = 0; w < WORKERS; w++) {
		kids[w] = fork();
		if (kids[w] < 0)
			return perror("fork"), 1;
		if (kids[w] == 0) {
			for (long i = 0; i < iters; i++) {
				__atomic_add_fetch(&anon[w], 1, __ATOMIC_SEQ_CST);
				__atomic_add_fetch(&mem[w * 1000 + 7], 2, __ATOMIC_SEQ_CST);
				nap_us(1000);
			}
			return 0;
		}
	}
	/* the parent sees the workers' counts move, in its own mapping: a line
	 * for every quarter of the work, whatever the pace */
	long total = (long)WORKERS * iters, shown = 0;
	for (int round = 0; round < 10000; round++) { /* 20 s at most */
		long now = 0;
		for (int w = 0; w < WORKERS; w++)
			now += __atomic_load_n(&anon[w], __ATOMIC_SEQ_CST);
		for (; shown < now * 4 / total; shown++)
			printf("progress %ld/4\n", shown + 1);
		fflush(stdout);
		if (now == total)
			break;
		nap_us(2000);
	}
	int ok = 1;
	for (int w = 0; w < WORKERS; w++) {
		int st;
		ok &= waitpid(kids[w], &st, 0) == kids[w] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	for (int w = 0; w < WORKERS; w++)
		printf("worker %d: anonymous %ld, memfd %ld\n", w, anon[w], mem[w * 1000 + 7]);
	printf("workers %s\n", ok ? "done" : "FAILED");
	return 0;
}
