/* Many connections at once, for the proxy tests.
 *   manyecho serve ADDR:PORT          an epoll echo server for any number of clients
 *   manyecho client N ADDR:PORT STOP  N connections, each with one 16-byte message
 *                                     in flight at a time, checked when it comes
 *                                     back, until the file STOP exists
 * The client prints "conns N roundtrips R ok", or what went wrong, and exits
 * 0 only if every connection stayed up and every echo was right. */
#define _GNU_SOURCE
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 16

static int serve(const char *addr)
{
	struct sockaddr_in a;
	if (stream_addr(addr, &a) < 0)
		return 2;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0) {
		fprintf(stderr, "manyecho: cannot listen on %s: %s\n", addr, strerror(errno));
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event got[256];
		int n = epoll_wait(ep, got, 256, 1000);
		for (int i = 0; i < n; i++) {
			int fd = got[i].data.fd;
			if (fd == l) {
				int c;
				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
				}
				continue;
			}
			char buf[4096];
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				close(fd); /* leaves the epoll set with it */
				continue;
			}
			/* 16-byte messages, one in flight per client: the send
			 * buffer always has room */
			if (r > 0 && write(fd, buf, (size_t)r) != r)
				fprintf(stderr, "manyecho: short echo\n");
		}
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void message(char *m, int conn, unsigned long seq)
{
	snprintf(m, MSG + 1, "%06u:%09lu", (unsigned)conn % 1000000u, seq % 1000000000ul);
}

static int client(int n, const char *addr, const char *stop)
{
	struct sockaddr_in a;
	if (stream_addr(addr, &a) < 0)
		return 2;
	int *fd = calloc((size_t)n, sizeof(int));
	unsigned long *seq = calloc((size_t)n, sizeof(unsigned long));
	size_t *got = calloc((size_t)n, sizeof(size_t));
	char (*in)[MSG] = calloc((size_t)n, MSG);
	int ep = epoll_create1(0), one = 1;
	for (int i = 0; i < n; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
			printf("error: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
		setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
		char m[MSG + 1];
		message(m, i, 0);
		if (write(fd[i], m, MSG) != MSG) {
			printf("error: connection %d: first write\n", i);
			return 1;
		}
	}
	printf("connected %d\n", n);
	fflush(stdout);
	unsigned long total = 0;
	double next_check = 0;
	for (;;) {
		double t = now();
		if (t >= next_check) {
			next_check = t + 0.05;
			if (access(stop, F_OK) == 0)
				break;
		}
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 50);
		for (int e = 0; e < k; e++) {
			int i = (int)evs[e].data.u32;
			ssize_t r = read(fd[i], in[i] + got[i], MSG - got[i]);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				printf("error: connection %d %s after %lu round trips\n", i,
				       r == 0 ? "got EOF" : strerror(errno), seq[i]);
				return 1;
			}
			if (r < 0)
				continue;
			got[i] += (size_t)r;
			if (got[i] < MSG)
				continue;
			char want[MSG + 1];
			message(want, i, seq[i]);
			if (memcmp(in[i], want, MSG)) {
				printf("MISMATCH on connection %d at round trip %lu: %.16s for %.16s\n", i, seq[i],
				       in[i], want);
				return 1;
			}
			got[i] = 0;
			seq[i]++;
			total++;
			message(want, i, seq[i]);
			if (write(fd[i], want, MSG) != MSG) {
				printf("error: connection %d: write: %s\n", i, strerror(errno));
				return 1;
			}
		}
	}
	unsigned long least = seq[0];
	for (int i = 1; i < n; i++)
		if (seq[i] < least)
			least = seq[i];
	printf("conns %d roundtrips %lu least %lu ok\n", n, total, least);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]), argv[3], argv[4]);
	fprintf(stderr, "usage: manyecho serve ADDR:PORT | manyecho client N ADDR:PORT STOPFILE\n");
	return 2;
}
