/* A server for the proxy tests: for each client, checks the stream it
 * sends byte by byte (STREAM_UP) and sends its own stream back
 * (STREAM_DOWN) until the client's EOF, then writes a report and closes.
 *   echosum [--echo] [--once] ADDR:PORT REPORT
 * --echo: send back what it reads instead (for latency), no checks.
 * --raw: no stream and no checks, only bytes (for throughput).
 * --sink: only read (--raw, for throughput one way).
 * --epoll: wait in epoll_wait (level-triggered) rather than poll.
 * --slow: a slow reader: 20 ms of sleep after each read (of 64 KiB at most),
 *         so that its socket's receive queue stays full.
 * The report: "peer ADDR:PORT received N sent M ok" or "... MISMATCH at N". */
#include "stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int raw, sink, use_epoll, slow;

static int serve(int c, const char *report, int echo)
{
	static unsigned char in[1 << 16], out[1 << 16];
	uint64_t rx = 0, tx = 0, bad = UINT64_MAX;
	size_t out_len = 0, out_off = 0;
	int eof = 0;
	fcntl(c, F_SETFL, O_NONBLOCK);
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	char who[64] = "?";
	if (getpeername(c, (struct sockaddr *)&peer, &plen) == 0 && peer.sin_family == AF_INET) {
		char a[32];
		inet_ntop(AF_INET, &peer.sin_addr, a, sizeof(a));
		snprintf(who, sizeof(who), "%s:%u", a, ntohs(peer.sin_port));
	}
	int ep = -1;
	if (use_epoll) { /* as event-loop servers do: the socket in an epoll set */
		ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
	}
	while (!eof || (echo && out_len > out_off)) {
		if (!echo && !sink && out_off == out_len) {
			if (!raw)
				stream_fill(STREAM_DOWN, tx, out, sizeof(out));
			out_len = sizeof(out);
			out_off = 0;
		}
		struct pollfd p = {c, (eof ? 0 : POLLIN) | (out_len > out_off ? POLLOUT : 0), 0};
		struct epoll_event got;
		if (ep >= 0 ? epoll_wait(ep, &got, 1, 1000) < 0 && errno != EINTR
			    : poll(&p, 1, 1000) < 0 && errno != EINTR)
			return 1;
		ssize_t n = eof || (echo && out_len > out_off) ? -1 : read(c, in, sizeof(in));
		if (n == 0) {
			eof = 1;
		} else if (n > 0) {
			if (echo) {
				memcpy(out, in, (size_t)n);
				out_len = (size_t)n;
				out_off = 0;
			} else if (bad == UINT64_MAX && !raw) {
				size_t at = stream_check(STREAM_UP, rx, in, (size_t)n);
				if (at < (size_t)n)
					bad = rx + at;
			}
			rx += (uint64_t)n;
			if (slow)
				usleep(20000);
		} else if (errno != EAGAIN && errno != EINTR && errno != 0) {
			fprintf(stderr, "echosum: read: %s\n", strerror(errno));
			return 1;
		}
		if (out_len > out_off && !eof) {
			n = write(c, out + out_off, out_len - out_off);
			if (n > 0) {
				out_off += (size_t)n;
				tx += (uint64_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "echosum: write: %s\n", strerror(errno));
				return 1;
			}
		}
		errno = 0;
	}
	FILE *f = fopen(report, "a");
	if (f) {
		if (bad == UINT64_MAX)
			fprintf(f, "peer %s received %llu sent %llu ok\n", who, (unsigned long long)rx,
				(unsigned long long)tx);
		else
			fprintf(f, "peer %s received %llu sent %llu MISMATCH at %llu\n", who,
				(unsigned long long)rx, (unsigned long long)tx, (unsigned long long)bad);
		fclose(f);
	}
	close(c);
	if (ep >= 0)
		close(ep);
	return bad == UINT64_MAX ? 0 : 1;
}

int main(int argc, char **argv)
{
	int echo = 0, once = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--echo"))
			echo = 1;
		else if (!strcmp(argv[i], "--once"))
			once = 1;
		else if (!strcmp(argv[i], "--raw"))
			raw = 1;
		else if (!strcmp(argv[i], "--epoll"))
			use_epoll = 1;
		else if (!strcmp(argv[i], "--slow"))
			slow = 1;
		else if (!strcmp(argv[i], "--sink"))
			sink = raw = 1;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: echosum [--echo] [--raw|--sink] [--once] ADDR:PORT REPORT\n");
		return 2;
	}
	struct sockaddr_in a;
	if (stream_addr(argv[i], &a) < 0)
		return 2;
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0) {
		fprintf(stderr, "echosum: cannot listen on %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	int rc = 0;
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			/* after a restore without re-bound listeners (docs/limitations.md) */
			return rc;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		rc |= serve(c, argv[i + 1], echo);
		if (once)
			return rc;
	}
}
