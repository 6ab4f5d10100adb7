/* A client for the proxy tests: streams STREAM_UP to the server and checks
 * every byte of STREAM_DOWN it gets back, both ways at once, until told to
 * stop; then half-closes and reads to the server's EOF.
 *   streamclient [--rate MB/s] [--stop FILE] [--seconds S] ADDR:PORT
 *   streamclient --pingpong N [--stop FILE] ADDR:PORT   (against echosum --echo)
 *                                            N round trips, or fewer once FILE
 *                                            exists; max_us is the longest
 *   streamclient --connects N ADDR:PORT      N new connections, each timed from
 *                                            connect to its first echoed byte
 *   --raw: bytes only, no stream checks (for throughput, against echosum --raw
 *   or, to send only, --sink); --down: --raw, and only receive
 * Prints "local ADDR:PORT" first, then one result line; exits 0 only if no
 * error, no early EOF and no mismatch. */
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int pingpong(int c, long n, const char *stop)
{
	double *t = calloc((size_t)n, sizeof(double));
	char b = 'x';
	long i = 0;
	for (; i < n && !(stop && i % 256 == 0 && access(stop, F_OK) == 0); i++) {
		double t0 = now();
		if (write(c, &b, 1) != 1 || read(c, &b, 1) != 1) {
			printf("error: pingpong: %s\n", strerror(errno));
			return 1;
		}
		t[i] = (now() - t0) * 1e6;
	}
	if (i == 0) {
		printf("error: pingpong: stopped before the first round trip\n");
		return 1;
	}
	qsort(t, (size_t)i, sizeof(double), cmp_d);
	printf("pingpong n %ld median_us %.1f p99_us %.1f max_us %.1f ok\n", i, t[i / 2], t[i * 99 / 100],
	       t[i - 1]);
	return 0;
}

static int connect_to(const struct sockaddr_in *a)
{
	int c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		printf("error: connect: %s\n", strerror(errno));
		if (c >= 0)
			close(c);
		return -1;
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

/* Connection set-up: connect, one byte there and back, close (and wait for
 * the server's EOF, so that it is back in accept for the next one). */
static int connects(const struct sockaddr_in *a, long n)
{
	double *t = calloc((size_t)n, sizeof(double));
	char b = 'x';
	for (long i = 0; i < n; i++) {
		double t0 = now();
		int c = connect_to(a);
		if (c < 0)
			return 1;
		if (write(c, &b, 1) != 1 || read(c, &b, 1) != 1) {
			printf("error: connects: %s\n", strerror(errno));
			return 1;
		}
		t[i] = (now() - t0) * 1e6;
		shutdown(c, SHUT_WR);
		while (read(c, &b, 1) > 0)
			;
		close(c);
	}
	qsort(t, (size_t)n, sizeof(double), cmp_d);
	printf("connects n %ld median_us %.1f p99_us %.1f ok\n", n, t[n / 2], t[n * 99 / 100]);
	return 0;
}

int main(int argc, char **argv)
{
	double rate = 0, seconds = 0;
	const char *stop = NULL;
	long pp = 0, nconn = 0;
	int i = 1, raw = 0, down = 0;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--raw") || !strcmp(argv[i], "--down")) {
			raw = 1;
			down |= argv[i][2] == 'd';
			i--;
		} else if (!strcmp(argv[i], "--rate"))
			rate = atof(argv[i + 1]) * 1e6;
		else if (!strcmp(argv[i], "--stop"))
			stop = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--pingpong"))
			pp = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--connects"))
			nconn = atol(argv[i + 1]);
	}
	if (argc - i != 1) {
		fprintf(stderr, "usage: streamclient [--rate MB/s] [--stop FILE] [--seconds S] [--pingpong N]\n"
				"                    [--connects N] ADDR:PORT\n");
		return 2;
	}
	struct sockaddr_in a;
	if (stream_addr(argv[i], &a) < 0)
		return 2;
	if (nconn > 0)
		return connects(&a, nconn);
	int c = connect_to(&a);
	if (c < 0)
		return 1;
	struct sockaddr_in me;
	socklen_t mlen = sizeof(me);
	getsockname(c, (struct sockaddr *)&me, &mlen);
	char ma[32];
	inet_ntop(AF_INET, &me.sin_addr, ma, sizeof(ma));
	printf("local %s:%u\n", ma, ntohs(me.sin_port));
	fflush(stdout);
	if (pp)
		return pingpong(c, pp, stop);

	static unsigned char in[1 << 16], out[1 << 16];
	uint64_t rx = 0, tx = 0;
	int done_sending = 0;
	double t0 = now(), last_rx = 0, max_stall = 0, next_check = 0, t_end = 0, drain_by = 0;
	fcntl(c, F_SETFL, O_NONBLOCK);
	for (;;) {
		double t = now();
		if (!done_sending && t >= next_check) {
			next_check = t + 0.05;
			if ((stop && access(stop, F_OK) == 0) || (seconds > 0 && t - t0 >= seconds)) {
				shutdown(c, SHUT_WR);
				done_sending = 1;
				t_end = t;
				drain_by = t + 60;
			}
		}
		if (done_sending && t > drain_by) {
			printf("error: no EOF from the server within 60 s (sent %llu received %llu)\n",
			       (unsigned long long)tx, (unsigned long long)rx);
			return 1;
		}
		int may_send = !done_sending && !down && (rate <= 0 || (double)tx < rate * (t - t0));
		struct pollfd p = {c, POLLIN | (may_send ? POLLOUT : 0), 0};
		if (poll(&p, 1, may_send || rate <= 0 ? 100 : 2) < 0 && errno != EINTR)
			return 1;
		ssize_t n = read(c, in, sizeof(in));
		if (n > 0) {
			size_t at = raw ? (size_t)n : stream_check(STREAM_DOWN, rx, in, (size_t)n);
			if (at < (size_t)n) {
				printf("MISMATCH in the server's stream at byte %llu\n",
				       (unsigned long long)(rx + at));
				return 1;
			}
			rx += (uint64_t)n;
			if (last_rx && t - last_rx > max_stall)
				max_stall = t - last_rx;
			last_rx = t;
		} else if (n == 0) {
			if (!done_sending) {
				printf("error: EOF from the server after %llu bytes, while still sending\n",
				       (unsigned long long)rx);
				return 1;
			}
			break;
		} else if (errno != EAGAIN && errno != EINTR) {
			printf("error: read: %s (sent %llu received %llu)\n", strerror(errno),
			       (unsigned long long)tx, (unsigned long long)rx);
			return 1;
		}
		if (may_send) {
			size_t want = sizeof(out);
			if (!raw)
				stream_fill(STREAM_UP, tx, out, want);
			n = write(c, out, want);
			if (n > 0) {
				tx += (uint64_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				printf("error: write: %s (sent %llu received %llu)\n", strerror(errno),
				       (unsigned long long)tx, (unsigned long long)rx);
				return 1;
			}
		}
	}
	double dt = t_end - t0;
	printf("sent %llu received %llu up_MBps %.1f down_MBps %.1f max_stall_ms %.0f ok\n",
	       (unsigned long long)tx, (unsigned long long)rx, (double)tx / dt / 1e6, (double)rx / dt / 1e6,
	       max_stall * 1000);
	return 0;
}
