/* A small server for t-sockets.sh:
 *
 *   socks TCP_PORT UNIX_PATH ABSTRACT_NAME UDP_PORT OUTSIDE_PORT
 *
 * listens on 127.0.0.1:TCP_PORT (and [::1]:TCP_PORT when the host has
 * IPv6), on the UNIX path and the abstract name (seqpacket), has UDP bound
 * to 127.0.0.1:UDP_PORT, and a TCP connection to 127.0.0.1:OUTSIDE_PORT.
 * Every client that connects to a listener gets one line, "NAME ADDRS",
 * where ADDRS are getsockname of every socket and getpeername of the
 * outside connection; a UDP datagram gets the same line back.  When the
 * outside connection reports an event it prints what epoll, read and write
 * said ("outside: events ... read ... write ...") and forgets it.  Runs
 * until killed; prints "ready" once set up. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { L_TCP, L_TCP6, L_UNIX, L_ABS, S_UDP, S_OUT, N };
static int fds[N] = {-1, -1, -1, -1, -1, -1};
static const char *names[N] = {"tcp", "tcp6", "unix", "abstract", "udp", "outside"};

static void die(const char *what)
{
	printf("error: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void addr_str(const struct sockaddr_storage *sa, socklen_t len, char *buf, size_t n)
{
	char ip[64];
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		snprintf(buf, n, "%s:%d", inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)), ntohs(in->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const void *)sa;
		snprintf(buf, n, "[%s]:%d", inet_ntop(AF_INET6, &in->sin6_addr, ip, sizeof(ip)), ntohs(in->sin6_port));
	} else if (sa->ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)sa;
		if (len <= sizeof(sa_family_t))
			snprintf(buf, n, "unnamed");
		else if (un->sun_path[0])
			snprintf(buf, n, "%s", un->sun_path);
		else
			snprintf(buf, n, "@%.*s", (int)(len - sizeof(sa_family_t) - 1), un->sun_path + 1);
	} else {
		snprintf(buf, n, "?");
	}
}

static void describe(char *line, size_t n)
{
	size_t at = 0;
	for (int i = 0; i < N; i++) {
		if (fds[i] < 0)
			continue;
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		char a[160] = "-";
		if (getsockname(fds[i], (struct sockaddr *)&sa, &len) == 0)
			addr_str(&sa, len, a, sizeof(a));
		at += (size_t)snprintf(line + at, n - at, " %s=%s", names[i], a);
		if (i == S_OUT) {
			len = sizeof(sa);
			if (getpeername(fds[i], (struct sockaddr *)&sa, &len) == 0)
				addr_str(&sa, len, a, sizeof(a));
			else
				snprintf(a, sizeof(a), "%s", strerror(errno));
			at += (size_t)snprintf(line + at, n - at, " outside-peer=%s", a);
		}
		if (at >= n)
			break;
	}
}

static int listen_on(int family, int type, const void *sa, socklen_t len, int backlog)
{
	int s = socket(family, type | SOCK_CLOEXEC, 0);
	int one = 1;
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s, sa, len) < 0 || (type != SOCK_DGRAM && listen(s, backlog) < 0)) {
		close(s);
		return -1;
	}
	return s;
}

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "ok";
	case ECONNRESET: return "ECONNRESET";
	case EPIPE: return "EPIPE";
	case ENOTCONN: return "ENOTCONN";
	case EAGAIN: return "EAGAIN";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: socks TCP_PORT UNIX_PATH ABSTRACT UDP_PORT OUTSIDE_PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	if ((fds[L_TCP] = listen_on(AF_INET, SOCK_STREAM, &in, sizeof(in), 7)) < 0)
		die("tcp listener");
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = in.sin_port, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	fds[L_TCP6] = listen_on(AF_INET6, SOCK_STREAM, &in6, sizeof(in6), 9); /* -1 without IPv6 */
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", argv[2]);
	unlink(argv[2]);
	if ((fds[L_UNIX] = listen_on(AF_UNIX, SOCK_STREAM, &un, sizeof(un), 5)) < 0)
		die("unix listener");
	struct sockaddr_un ab = {.sun_family = AF_UNIX};
	size_t alen = strlen(argv[3]);
	memcpy(ab.sun_path + 1, argv[3], alen);
	if ((fds[L_ABS] = listen_on(AF_UNIX, SOCK_SEQPACKET, &ab,
				    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + alen), 5)) < 0)
		die("abstract listener");
	struct sockaddr_in udp = in;
	udp.sin_port = htons((uint16_t)atoi(argv[4]));
	if ((fds[S_UDP] = listen_on(AF_INET, SOCK_DGRAM, &udp, sizeof(udp), 0)) < 0)
		die("udp");
	struct sockaddr_in out = in;
	out.sin_port = htons((uint16_t)atoi(argv[5]));
	fds[S_OUT] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[S_OUT] < 0 || connect(fds[S_OUT], (struct sockaddr *)&out, sizeof(out)) < 0)
		die("outside connection");
	int one = 1;
	setsockopt(fds[S_OUT], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < N; i++) {
		struct epoll_event ev = {.events = EPOLLIN | (i == S_OUT ? EPOLLRDHUP : 0), .data.u32 = (uint32_t)i};
		if (fds[i] >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			die("epoll_ctl");
	}
	char line[2048];
	describe(line, sizeof(line));
	printf("ready%s\n", line);
	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			describe(line, sizeof(line));
			if (i == S_OUT) {
				char c;
				ssize_t r = read(fds[i], &c, 1);
				int re = r < 0 ? errno : 0;
				ssize_t r2 = read(fds[i], &c, 1);
				int re2 = r2 < 0 ? errno : 0;
				ssize_t w = write(fds[i], "x", 1);
				int we = w < 0 ? errno : 0;
				printf("outside: events%s%s%s%s%s read %zd %s, again %zd %s, write %zd %s;%s\n",
				       evs[k].events & EPOLLIN ? " IN" : "", evs[k].events & EPOLLOUT ? " OUT" : "",
				       evs[k].events & EPOLLERR ? " ERR" : "", evs[k].events & EPOLLHUP ? " HUP" : "",
				       evs[k].events & EPOLLRDHUP ? " RDHUP" : "", r, err_name(re), r2, err_name(re2), w,
				       err_name(we), line);
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
			} else if (i == S_UDP) {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				char buf[64];
				ssize_t r = recvfrom(fds[i], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
				if (r >= 0) {
					char reply[2100];
					int len = snprintf(reply, sizeof(reply), "udp%s\n", line);
					sendto(fds[i], reply, (size_t)len, 0, (struct sockaddr *)&from, fl);
				}
			} else {
				int c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
				if (c < 0)
					continue;
				char reply[2100];
				int len = snprintf(reply, sizeof(reply), "%s%s\n", names[i], line);
				if (write(c, reply, (size_t)len) < 0)
					perror("write");
				close(c);
			}
		}
	}
}
