/* A parent that listens on 127.0.0.1 and forks workers that connect to it:
 * each connection carries a stream both ways, every byte of which its
 * reader checks.  Each reader stops reading for a while after every 8 MiB
 * (a slow consumer), so a checkpoint taken then finds bytes waiting in
 * the receive queues and several MiB still in the senders' queues.  The
 * parent's ends have a small receive buffer set (SO_RCVBUF) and
 * TCP_NODELAY; the workers' SO_KEEPALIVE.  When a stream has all been
 * sent, its writer shuts down writing; its reader reads to EOF.
 *
 *   podtcp WORKERS MIB
 *
 * Prints "listening", "pause NAME K" when NAME's reader stops for the K-th
 * time, and at the end one line per stream "NAME got BYTES sum HEX" and
 * "NAME names same" (getsockname/getpeername as at the start) or
 * "NAME names changed".  Exits 0 when every stream came whole. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUND (8u << 20)
#define PAUSE_S 1.0
#define CHUNK (64u << 10)

struct conn {
	char name[16];
	int fd, out_seed, in_seed;
	uint64_t sent, got, total, sum, next_pause;
	int pauses, wr_shut, eof, changed;
	double pause_until;
	struct sockaddr_in me, them;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t byte_at(int seed, uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + (uint64_t)seed * 0x632be59bd9b4e019ull;
	return (uint8_t)(x >> 29 ^ x >> 47);
}

static void names(int fd, struct sockaddr_in *me, struct sockaddr_in *them)
{
	socklen_t l = sizeof(*me);
	getsockname(fd, (struct sockaddr *)me, &l);
	l = sizeof(*them);
	getpeername(fd, (struct sockaddr *)them, &l);
}

/* The addresses are the ones of the start (checked while the connection is
 * open: once both ends shut down, there is no peer to name). */
static void check_names(struct conn *c)
{
	struct sockaddr_in me, them;
	names(c->fd, &me, &them);
	c->changed |= memcmp(&me, &c->me, sizeof(me)) || memcmp(&them, &c->them, sizeof(them));
}

static void setup(struct conn *c, int fd, const char *name, int out_seed, int in_seed, uint64_t total)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->fd = fd;
	c->out_seed = out_seed;
	c->in_seed = in_seed;
	c->total = total;
	c->sum = 1469598103934665603ull;
	c->next_pause = ROUND;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	names(fd, &c->me, &c->them);
	printf("%s %s:%d -> ", name, inet_ntoa(c->me.sin_addr), ntohs(c->me.sin_port));
	printf("%s:%d\n", inet_ntoa(c->them.sin_addr), ntohs(c->them.sin_port));
}

/* One step of connection c: writes what fits, reads what is there (unless
 * its reader is pausing).  -1 on a wrong byte or an error. */
static int step(struct conn *c, short revents)
{
	static uint8_t buf[CHUNK];
	if ((revents & POLLOUT) && c->sent < c->total) {
		size_t n = c->total - c->sent < CHUNK ? (size_t)(c->total - c->sent) : CHUNK;
		for (size_t i = 0; i < n; i++)
			buf[i] = byte_at(c->out_seed, c->sent + i);
		ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN) {
			printf("%s send: %s\n", c->name, strerror(errno));
			return -1;
		}
		c->sent += w > 0 ? (uint64_t)w : 0;
	}
	if (c->sent == c->total && !c->wr_shut) {
		check_names(c);
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = 1;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)) || c->eof || now_s() < c->pause_until)
		return 0;
	ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
	if (r < 0 && errno == EAGAIN)
		return 0;
	if (r < 0) {
		printf("%s recv: %s\n", c->name, strerror(errno));
		return -1;
	}
	if (r == 0) {
		c->eof = 1;
		return 0;
	}
	for (ssize_t i = 0; i < r; i++) {
		if (buf[i] != byte_at(c->in_seed, c->got + (uint64_t)i)) {
			printf("%s: wrong byte at %llu\n", c->name, (unsigned long long)(c->got + (uint64_t)i));
			return -1;
		}
		c->sum = (c->sum ^ buf[i]) * 1099511628211ull;
	}
	c->got += (uint64_t)r;
	if (c->got >= c->next_pause && c->got < c->total) {
		c->next_pause += ROUND;
		c->pause_until = now_s() + PAUSE_S;
		check_names(c);
		printf("pause %s %d\n", c->name, ++c->pauses);
	}
	return 0;
}

/* Runs connections cs until every stream is done both ways. */
static int run(struct conn *cs, int n)
{
	for (;;) {
		struct pollfd p[16];
		int live = 0;
		for (int i = 0; i < n; i++) {
			p[i].fd = cs[i].fd;
			p[i].events = (short)((cs[i].sent < cs[i].total ? POLLOUT : 0) |
					      (cs[i].eof || now_s() < cs[i].pause_until ? 0 : POLLIN));
			p[i].revents = 0;
			live += !cs[i].eof || !cs[i].wr_shut;
		}
		if (!live)
			break;
		if (poll(p, (nfds_t)n, 20) < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++)
			if (step(&cs[i], p[i].revents) < 0)
				return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		int same = !cs[i].changed;
		printf("%s got %llu sum %016llx\n%s names %s\n", cs[i].name, (unsigned long long)cs[i].got,
		       (unsigned long long)cs[i].sum, cs[i].name, same ? "same" : "changed");
		rc |= cs[i].got != cs[i].total || !same;
	}
	return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
	int workers = argc > 1 ? atoi(argv[1]) : 2;
	uint64_t total = (uint64_t)(argc > 2 ? atoi(argv[2]) : 40) << 20;
	if (workers < 1 || workers > 8)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 8) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0) {
		perror("listen");
		return 1;
	}
	printf("listening\n");
	for (int w = 0; w < workers; w++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			close(l);
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rcv = 1 << 20;
			setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
			setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
			if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
				perror("connect");
				_exit(1);
			}
			struct conn c;
			char name[16];
			snprintf(name, sizeof(name), "w%d", w);
			setup(&c, s, name, 100 + w, 200 + w, total);
			_exit(run(&c, 1) < 0 ? 1 : 0);
		}
	}
	struct conn cs[8];
	for (int w = 0; w < workers; w++) {
		int s = accept4(l, NULL, NULL, SOCK_CLOEXEC), rcv = 256 << 10;
		if (s < 0) {
			perror("accept");
			return 1;
		}
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
		/* which worker: the first byte of its stream tells */
		uint8_t first;
		struct pollfd p = {s, POLLIN, 0};
		if (poll(&p, 1, 10000) != 1 || recv(s, &first, 1, MSG_PEEK) != 1)
			return 1;
		int k = 0;
		while (k < workers && byte_at(100 + k, 0) != first)
			k++;
		char name[16];
		snprintf(name, sizeof(name), "p%d", k);
		setup(&cs[w], s, name, 200 + k, 100 + k, total);
	}
	int rc = run(cs, workers);
	int bad = 0;
	for (int w = 0; w < workers; w++) {
		int st;
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	}
	printf("parent %s\n", rc == 0 && !bad ? "ok" : "FAILED");
	return rc == 0 && !bad ? 0 : 1;
}
