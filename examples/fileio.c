/* Writes and reads files at offsets, step by step: a data file written
 * with pwrite and with lseek+write, an append-only log, a deleted temporary
 * file that only this process still holds, and a directory fd.  Each step
 * prints what it read back, so a restart that loses an offset, a file or
 * the deleted file's bytes changes the output.
 *
 *   fileio DIR [STEPS] [MS]   (defaults 40 steps, 100 ms apart) */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint32_t checksum(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: fileio DIR [STEPS] [MS]\n");
		return 2;
	}
	const char *dir = argv[1];
	int steps = argc > 2 ? atoi(argv[2]) : 40;
	long ms = argc > 3 ? atol(argv[3]) : 100;
	char path[4096];
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(path, sizeof(path), "%s/data.bin", dir);
	int data = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	snprintf(path, sizeof(path), "%s/log.txt", dir);
	int log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	snprintf(path, sizeof(path), "%s/scratch.tmp", dir);
	int tmp = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(path); /* deleted but open: its bytes live only in this process */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int dup_data = dup(data); /* shares data's offset */
	if (data < 0 || log < 0 || tmp < 0 || dfd < 0 || dup_data < 0) {
		perror("open");
		return 1;
	}
	char rec[64], back[64];
	for (int s = 0; s < steps; s++) {
		int n = snprintf(rec, sizeof(rec), "record %04d", s * 7919 % 10000);
		pwrite(data, rec, (size_t)n, (off_t)s * 100); /* at offsets */
		lseek(dup_data, (off_t)s * 100 + 50, SEEK_SET);
		write(data, "+", 1); /* through the shared offset */
		dprintf(log, "step %d\n", s);
		write(tmp, rec, (size_t)n); /* grows the deleted file */
		memset(back, 0, sizeof(back));
		pread(data, back, (size_t)n, (off_t)(s / 2) * 100);
		off_t tpos = lseek(tmp, 0, SEEK_CUR);
		char all[8192];
		ssize_t got = pread(tmp, all, sizeof(all), 0);
		struct stat st;
		fstatat(dfd, "log.txt", &st, 0);
		printf("step %d read '%s' data@%ld tmp@%ld tmpsum %08x log %ld\n", s, back,
		       (long)lseek(data, 0, SEEK_CUR), (long)tpos,
		       checksum(all, got > 0 ? (size_t)got : 0), (long)st.st_size);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
