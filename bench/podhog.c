/* podhog: the workload of bench/pod.sh (built by it with gcc -O2).
 *
 *   podhog NPROC MIB READYFILE LIFETIME_S
 *
 * Forks NPROC-1 children; each of the NPROC processes maps MIB/NPROC MiB of
 * private anonymous memory (4 KiB pages) and fills every byte with a
 * non-zero pattern.  When all have done so it writes "PID NPROC" to
 * READYFILE (through a rename, so a reader never sees half of it), and all
 * of them idle.  Every process exits on its own after LIFETIME_S seconds of
 * wall time (CLOCK_REALTIME), a child also when its parent is gone, so
 * nothing it leaves behind lives long.  No pipe or socket stays open
 * between the processes once they are ready: the pod is made of memory
 * only. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double end_time;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fill(size_t bytes, unsigned who)
{
	if (!bytes)
		return;
	uint64_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("podhog: mmap");
		exit(1);
	}
	madvise(p, bytes, MADV_NOHUGEPAGE);
	uint64_t v = 0x9e3779b97f4a7c15ULL * (who + 1);
	for (size_t i = 0; i < bytes / sizeof(*p); i++)
		p[i] = (v += 0x632be59bd9b4e019ULL) | 1;
}

static void idle(pid_t parent)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	while (now() < end_time && (!parent || getppid() == parent))
		nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: podhog NPROC MIB READYFILE LIFETIME_S\n");
		return 2;
	}
	int nproc = atoi(argv[1]);
	size_t mib = strtoul(argv[2], NULL, 10);
	if (nproc < 1 || nproc > 64) {
		fprintf(stderr, "podhog: NPROC must be 1..64\n");
		return 2;
	}
	end_time = now() + atof(argv[4]);
	size_t per = (mib << 20) / (size_t)nproc & ~(size_t)4095;
	pid_t self = getpid(), kids[64];
	int p[2];
	if (pipe(p) < 0) {
		perror("podhog: pipe");
		return 1;
	}
	for (int i = 1; i < nproc; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("podhog: fork");
			return 1;
		}
		if (kids[i] == 0) {
			close(p[0]);
			fill(per, (unsigned)i);
			if (write(p[1], "x", 1) != 1)
				_exit(1);
			close(p[1]);
			idle(self);
			_exit(0);
		}
	}
	close(p[1]);
	fill(per, 0);
	char c;
	for (int got = 0; got < nproc - 1;) {
		ssize_t n = read(p[0], &c, 1);
		if (n <= 0) {
			fprintf(stderr, "podhog: a child died before it was ready\n");
			return 1;
		}
		got++;
	}
	close(p[0]);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[3]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d %d\n", (int)self, nproc) < 0 || fclose(f) != 0 || rename(tmp, argv[3]) < 0) {
		perror(argv[3]);
		return 1;
	}
	idle(0);
	for (int i = 1; i < nproc; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
