/* A parent and its child talking over UNIX socketpairs, with bytes in
 * flight both ways: the parent streams a pseudo-random byte sequence to the
 * child, which reads it slowly and sends back the running sum of every
 * 64 KiB it got; a datagram pair carries numbered messages.  Everything
 * printed is fixed by the arguments, so a run checkpointed and restarted
 * must print the same as one that was not.
 *
 *   podsock MIB */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static uint8_t byte_at(uint64_t i) { return (uint8_t)((i * 2654435761u) >> 13); }

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

static int read_all(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 8;
	uint64_t total = (uint64_t)mib << 20;
	int st[2], dg[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0)
		return perror("socketpair"), 1;
	pid_t child = fork();
	if (child < 0)
		return perror("fork"), 1;
	if (child == 0) {
		close(st[0]);
		close(dg[0]);
		static uint8_t buf[CHUNK];
		uint64_t sum = 0;
		for (uint64_t at = 0; at < total; at += CHUNK) {
			if (read_all(st[1], buf, CHUNK) < 0)
				return fprintf(stderr, "child: short read at %llu\n", (unsigned long long)at), 2;
			for (int i = 0; i < CHUNK; i++) {
				if (buf[i] != byte_at(at + (uint64_t)i))
					return fprintf(stderr, "child: wrong byte at %llu\n",
						       (unsigned long long)(at + (uint64_t)i)), 3;
				sum = sum * 31 + buf[i];
			}
			if (write(st[1], &sum, sizeof(sum)) != sizeof(sum))
				return 4;
			char msg[32];
			int n = snprintf(msg, sizeof(msg), "chunk %llu", (unsigned long long)(at / CHUNK));
			if (send(dg[1], msg, (size_t)n, 0) != n)
				return 5;
			nap_ms(20); /* slower than the parent: bytes wait in the socket */
		}
		return 0;
	}
	close(st[1]);
	close(dg[1]);
	static uint8_t buf[CHUNK];
	uint64_t sent = 0, chunks = 0;
	while (chunks < total / CHUNK) {
		if (sent < total) { /* keep the socket full */
			for (int i = 0; i < CHUNK; i++)
				buf[i] = byte_at(sent + (uint64_t)i);
			for (size_t w = 0; w < CHUNK;) {
				ssize_t r = write(st[0], buf + w, CHUNK - w);
				if (r <= 0)
					return perror("write"), 6;
				w += (size_t)r;
			}
			sent += CHUNK;
		}
		if (sent >= total || sent - chunks * CHUNK > 8 * CHUNK) {
			uint64_t sum;
			char msg[33] = {0};
			if (read_all(st[0], &sum, sizeof(sum)) < 0 || recv(dg[0], msg, 32, 0) <= 0)
				return fprintf(stderr, "parent: lost the child\n"), 7;
			printf("%s sum %016llx\n", msg, (unsigned long long)sum);
			fflush(stdout);
			chunks++;
		}
	}
	int status;
	if (waitpid(child, &status, 0) != child)
		return perror("waitpid"), 8;
	printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
