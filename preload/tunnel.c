/* Tunnels through zap-proxy, the pod side (docs/design-notes.md, "The
 * connection keeper").  Only in a pod started with `zap run --proxy`
 * (ZAP_PROXY in the environment, kept across exec by exec.c).
 *
 * accept/accept4 on an exposed port take the proxy's handshake off the
 * new connection before the program sees it (HELLO, our CHALLENGE, its
 * OPEN MAC'd over both nonces: include/zap/tunnel.h), and remember fd ->
 * (tunnel id, client address); getpeername on it (sock.c) answers the
 * client's address.  A connection that says it is the proxy and fails is
 * closed, and the program never sees it.
 *
 * Before a checkpoint (every thread stopped) each tunnel records how many
 * stream bytes the program read (consumed = bytes_received - SIOCINQ) and,
 * once its send queue has drained into the proxy (SIOCOUTQ == 0, bounded),
 * how many it wrote (written = bytes_acked).  The table is in our memory,
 * so in the image.  After a restore each tunnel connects to the proxy
 * again, says RESUME (id, consumed, written), and the new socket takes the
 * old fd number; the proxy sends again what the program had not read.
 * Raw system calls only on those two paths: they run in the checkpoint
 * signal handler. */
#include "dump.h"
#include "preload.h"
#include "sys.h"
#include "util.h"
#include "zap/tunnel.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_TUNNELS 1024
#define HEADER_WAIT_MS 2000 /* the whole inbound handshake */
#define MSG_SIZE ((uint64_t)sizeof(struct zap_tun_msg))
#define DRAIN_NS (5ull * 1000000000ull)
#define TUN_RCVBUF (1 << 20) /* bounds what the proxy's ring must hold */
#define RESUME_TIMEOUT_S 10
#define MAX_EPOLL_REGS 4
#define FDINFO_MAX (4u << 20) /* an epoll fd's fdinfo: ~100 bytes per target */

struct tfd {
	int fd;                 /* -1: free slot */
	uint64_t ino;           /* the socket's inode: a closed and reused fd is not ours */
	uint64_t id;
	/* stream offsets: this socket's payload starts at off_in/off_out,
	 * after hdr_in/hdr_out bytes of our own protocol */
	uint64_t off_in, hdr_in, off_out, hdr_out;
	uint64_t consumed, written; /* at the last checkpoint */
	int saved, lossy, flags, cloexec;
	/* the epoll sets that watch it (the restorer cannot add the old
	 * socket to them: it comes back as /dev/null); put back after RESUME */
	struct ep_reg {
		int epfd;
		uint32_t events;
		uint64_t data;
	} ep[MAX_EPOLL_REGS];
	int nep;
	uint32_t peerlen;
	uint8_t peer[28];
};

static struct {
	int on;
	struct sockaddr_storage proxy;
	uint32_t proxylen;
	uint8_t key[ZAP_TUN_KEY]; /* the tunnel key, from ZAP_PROXY */
	char conf[256]; /* $pod/proxy, as `zap run --proxy` wrote it */
	uint16_t ports[ZAP_TUN_MAX_PORTS];
	int nports;
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	struct tfd t[MAX_TUNNELS]; /* only [0, nt) is ever read: untouched pages stay out of images */
	int nt; /* slots used so far */
} tn;

static long tcp_info(int fd, struct tcp_info *ti);
static void msg_init(struct zap_tun_msg *m, int type);

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ZAP_PROXY=ADDR:PORT/KEYHEX/PORT,PORT... (numeric, from `zap run`) */
static void parse_env(const char *v)
{
	char buf[512], *tok, *ports;
	zap_fmt(buf, sizeof(buf), "%s", v);
	if (!(tok = strchr(buf, '/')))
		return;
	*tok++ = 0;
	if ((ports = strchr(tok, '/')))
		*ports++ = 0;
	if (strlen(tok) != 2 * ZAP_TUN_KEY)
		return;
	zap_fmt(tn.conf, sizeof(tn.conf), "%s\n%s\n", buf, tok);
	for (int i = 0; i < ZAP_TUN_KEY; i++) {
		int hi = hexval(tok[2 * i]), lo = hexval(tok[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return;
		tn.key[i] = (uint8_t)(hi << 4 | lo);
	}
	char *host = buf, *port;
	if (host[0] == '[') {
		char *e = strchr(host, ']');
		if (!e || e[1] != ':')
			return;
		*e = 0;
		host++;
		port = e + 2;
	} else if ((port = strrchr(host, ':'))) {
		*port++ = 0;
	} else {
		return;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&tn.proxy;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&tn.proxy;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(port));
		tn.proxylen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(port));
		tn.proxylen = sizeof(*s6);
	} else {
		return;
	}
	for (char *p = ports; p && *p && tn.nports < ZAP_TUN_MAX_PORTS;) {
		long n = strtol(p, &p, 10);
		if (n > 0 && n < 65536)
			tn.ports[tn.nports++] = (uint16_t)n;
		if (*p != ',')
			break;
		p++;
	}
	tn.on = 1;
}

__attribute__((constructor)) static void tunnel_init(void)
{
	tn.accept4 = dlsym(RTLD_NEXT, "accept4");
	tn.connect = dlsym(RTLD_NEXT, "connect");
	const char *v = getenv(ZAP_ENV_PROXY);
	if (v && *v)
		parse_env(v);
}

/* For exec.c: the variable as we were given it, or NULL. */
const char *zap_tunnel_env(void)
{
	const char *v = tn.on ? getenv(ZAP_ENV_PROXY) : NULL;
	return v && *v ? v : NULL;
}

static uint64_t ino_of(int fd)
{
	struct zap_kstat st;
	return zap_fstat(fd, &st) < 0 ? 0 : st.ino;
}

static struct tfd *find(int fd)
{
	for (int i = 0; i < tn.nt; i++)
		if (tn.t[i].fd == fd)
			return ino_of(fd) == tn.t[i].ino ? &tn.t[i] : NULL;
	return NULL;
}

static int exposed(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	uint16_t port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
			: ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) : 0;
	for (int i = 0; i < tn.nports; i++)
		if (tn.ports[i] == port)
			return 1;
	return 0;
}

/* A nonce from the kernel (raw: the restore path uses it too): 0 or -1. */
static int nonce(uint8_t *p)
{
	for (size_t got = 0; got < ZAP_TUN_NONCE;) {
		long r = zsys3(SYS_getrandom, p + got, ZAP_TUN_NONCE - got, 0);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* n bytes of c into p (peek: left in the socket) by HEADER_WAIT_MS after
 * t0: the bytes there (n when complete), or -1 on EOF or an error. */
static long take(int c, void *p, size_t n, int peek, const struct timespec *t0)
{
	size_t got = 0;
	for (;;) {
		ssize_t r = recv(c, (char *)p + (peek ? 0 : got), peek ? n : n - got,
				 MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
		if (r > 0)
			got = peek ? (size_t)r : got + (size_t)r;
		if (got == n || (peek && got >= 4 && *(uint32_t *)p != ZAP_TUN_MAGIC))
			return (long)got;
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		long ms = ms_since(t0);
		if (ms >= HEADER_WAIT_MS)
			return (long)got;
		struct pollfd pf = {c, POLLIN, 0};
		if (peek && got) /* part of it peeked: poll would say so at once */
			z_nanosleep_ns(1000000);
		else
			poll(&pf, 1, (int)(HEADER_WAIT_MS - ms));
	}
}

/* The inbound handshake on a new connection c: 1 a tunnel (*m its OPEN),
 * 0 not the proxy (no magic within HEADER_WAIT_MS: the connection is left
 * as it came), -1 it said it was the proxy and failed (close it). */
static int read_open(int c, struct zap_tun_msg *m)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct zap_tun_msg hello, ch;
	long n = take(c, &hello, sizeof(hello), 1, &t0);
	if (n < 4 || hello.magic != ZAP_TUN_MAGIC)
		return 0; /* silent, closed at once, or not the proxy */
	if (n != (long)sizeof(hello) || take(c, &hello, sizeof(hello), 0, &t0) != (long)sizeof(hello) ||
	    !zap_tun_is(&hello, ZAP_TUN_HELLO))
		return -1;
	zap_tun_init(&ch, ZAP_TUN_CHALLENGE);
	if (nonce(ch.nonce) < 0 ||
	    send(c, &ch, sizeof(ch), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(ch) ||
	    take(c, m, sizeof(*m), 0, &t0) != (long)sizeof(*m))
		return -1;
	return m->type == ZAP_TUN_OPEN && zap_tun_check(tn.key, ch.nonce, hello.nonce, m) ? 1 : -1;
}

static void remember(int c, const struct zap_tun_msg *m, uint64_t hdr_in, uint64_t hdr_out)
{
	struct tfd *e = NULL;
	for (int i = 0; i < tn.nt && !e; i++)
		if (tn.t[i].fd < 0 || tn.t[i].fd == c || ino_of(tn.t[i].fd) != tn.t[i].ino)
			e = &tn.t[i];
	if (!e && tn.nt < MAX_TUNNELS)
		e = &tn.t[tn.nt++];
	if (!e)
		return; /* a plain connection then: it will not survive a move */
	memset(e, 0, sizeof(*e));
	e->fd = c;
	e->ino = ino_of(c);
	e->id = m->id;
	e->hdr_in = hdr_in;
	e->hdr_out = hdr_out;
	e->peerlen = m->addrlen <= sizeof(e->peer) ? m->addrlen : 0;
	memcpy(e->peer, m->addr, e->peerlen);
	int rcv = TUN_RCVBUF;
	setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}

static void fill_addr(const struct tfd *e, struct sockaddr *addr, socklen_t *len)
{
	if (!addr || !len)
		return;
	memcpy(addr, e->peer, *len < e->peerlen ? *len : e->peerlen);
	*len = e->peerlen;
}

ZAP_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	if (!tn.accept4)
		return errno = ENOSYS, -1;
	socklen_t cap = len ? *len : 0;
	for (;;) {
		int c = tn.accept4(fd, addr, len, flags);
		if (c < 0 || !tn.on || !exposed(fd))
			return c;
		int saved = errno;
		struct zap_tun_msg m;
		int r = read_open(c, &m);
		if (r < 0) { /* not for the program: the next connection, or EAGAIN */
			z_close(c);
			if (len)
				*len = cap;
			continue;
		}
		if (r > 0) {
			/* in: HELLO and OPEN; out: our CHALLENGE */
			remember(c, &m, 2 * MSG_SIZE, MSG_SIZE);
			struct tfd *e = find(c);
			if (e)
				fill_addr(e, addr, len);
		}
		errno = saved;
		return c;
	}
}

ZAP_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) { return accept4(fd, addr, len, 0); }

/* getpeername of a tunnel: the client's or the destination's address.
 * 0 answered, -1 not a tunnel (sock.c's getpeername asks us first). */
int zap_tunnel_peer(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct tfd *e = tn.on ? find(fd) : NULL;
	if (!e || !addr || !len)
		return -1;
	fill_addr(e, addr, len);
	return 0;
}

/* ---- outbound: connect() to an outside address goes through the proxy ---- */

/* Loopback stays direct; every other address (this host's own included:
 * after a move it is another host's) goes through the proxy. */
static int outside(const struct sockaddr *a, socklen_t len)
{
	if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const void *)a;
		uint32_t ip = ntohl(s->sin_addr.s_addr);
		return (ip >> 24) != 127 && ip != 0 &&
		       !(tn.proxy.ss_family == AF_INET && !memcmp(a, &tn.proxy, sizeof(*s)));
	}
	if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const void *)a;
		if (IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr))
			return 0;
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr) && s->sin6_addr.s6_addr[12] == 127)
			return 0;
		return !(tn.proxy.ss_family == AF_INET6 && !memcmp(&s->sin6_addr,
			 &((struct sockaddr_in6 *)&tn.proxy)->sin6_addr, 16) && s->sin6_port ==
			 ((struct sockaddr_in6 *)&tn.proxy)->sin6_port);
	}
	return 0;
}

static int is_tcp(int fd)
{
	int type = 0, proto = 0;
	socklen_t l1 = sizeof(type), l2 = sizeof(proto);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 && type == SOCK_STREAM &&
	       getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l2) == 0 && proto == IPPROTO_TCP;
}

/* Waits (bounded) for fd to be ready for events; 0 or an errno value. */
static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {fd, events, 0};
	for (;;) {
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return ETIMEDOUT;
		if (errno != EINTR)
			return errno;
	}
}

/* All n bytes to (out) or from non-blocking fd, each wait bounded by ms:
 * 0, or an errno value (ECONNREFUSED: the proxy went away). */
static int xfer(int fd, void *p, size_t n, int out, int ms)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = out ? send(fd, (char *)p + done, n - done, MSG_NOSIGNAL)
				: recv(fd, (char *)p + done, n - done, 0);
		int e;
		if (r > 0)
			done += (size_t)r;
		else if (r < 0 && errno == EAGAIN && (e = wait_fd(fd, out ? POLLOUT : POLLIN, ms)) != 0)
			return e;
		else if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return ECONNREFUSED;
	}
	return 0;
}

/* fd connects to the proxy and asks it for dest: 0, or an errno value. */
static int dial(int fd, const struct sockaddr *dest, socklen_t len)
{
	struct zap_tun_msg ch, m, r;
	uint8_t nc[ZAP_TUN_NONCE];
	msg_init(&m, ZAP_TUN_CONNECT);
	m.addrlen = len <= sizeof(m.addr) ? (uint32_t)len : 0;
	memcpy(m.addr, dest, m.addrlen);
	int e = 0;
	socklen_t el = sizeof(e);
	if (tn.connect(fd, (struct sockaddr *)&tn.proxy, tn.proxylen) < 0) {
		if (errno != EINPROGRESS)
			return ECONNREFUSED; /* no proxy: as if the destination refused */
		if ((e = wait_fd(fd, POLLOUT, RESUME_TIMEOUT_S * 1000)) != 0)
			return e;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
			return ECONNREFUSED;
	}
	if ((e = xfer(fd, &ch, sizeof(ch), 0, RESUME_TIMEOUT_S * 1000)) != 0)
		return e;
	if (nonce(nc) < 0 || zap_tun_answer(tn.key, &ch, nc, &m) < 0)
		return EPROTO;
	if ((e = xfer(fd, &m, sizeof(m), 1, RESUME_TIMEOUT_S * 1000)) != 0)
		return e;
	/* the proxy answers once the destination has (its own bound: 10 s) */
	if ((e = xfer(fd, &r, sizeof(r), 0, 3 * RESUME_TIMEOUT_S * 1000)) != 0)
		return e;
	if (!zap_tun_reply_ok(tn.key, &ch, &m, &r))
		return EACCES; /* not the proxy, or it refused our key */
	if (r.status)
		return r.status;
	struct tcp_info ti;
	uint64_t acked = tcp_info(fd, &ti) == 0 ? ti.tcpi_bytes_acked : MSG_SIZE + 1;
	memcpy(r.addr, dest, m.addrlen);
	r.addrlen = m.addrlen;
	/* in: CHALLENGE and REPLY; out: SYN and CONNECT, acked by the reply */
	remember(fd, &r, 2 * MSG_SIZE, acked);
	return 0;
}

ZAP_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!tn.connect)
		return errno = ENOSYS, -1;
	if (!tn.on || !addr || !outside(addr, len) || !is_tcp(fd))
		return tn.connect(fd, addr, len);
	/* done here at once, even for a non-blocking socket (then connect
	 * returns 0, which POSIX allows), bounded in time */
	int fl = fcntl(fd, F_GETFL);
	int saved = errno;
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int e = dial(fd, addr, len);
	fcntl(fd, F_SETFL, fl);
	if (e)
		return errno = e, -1;
	errno = saved;
	return 0;
}

/* ---- checkpoint: every thread stopped, raw system calls only ---- */

static long tcp_info(int fd, struct tcp_info *ti)
{
	uint32_t len = sizeof(*ti);
	memset(ti, 0, sizeof(*ti));
	return zsys5(SYS_getsockopt, fd, IPPROTO_TCP, TCP_INFO, ti, &len);
}

/* ---- epoll sets that watch a tunnel, from /proc/self/fdinfo ---- */

static uint64_t parse_num(const char **p, int base)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
	uint64_t v = 0;
	for (;; (*p)++) {
		int d = **p >= '0' && **p <= '9' ? **p - '0' : base == 16 && **p >= 'a' && **p <= 'f' ? **p - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v * (uint64_t)base + (uint64_t)d;
	}
}

static const char *after(const char *s, const char *end, const char *key)
{
	size_t k = strlen(key);
	for (; s + k <= end; s++)
		if (!memcmp(s, key, k))
			return s + k;
	return NULL;
}

/* "tfd: N events: E data: D  pos:P ino:I sdev:S" lines of epoll fd epfd */
static void note_epoll(int epfd, char *buf, size_t cap)
{
	char path[64];
	zap_fmt(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	long fd = z_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	long n = 0, r;
	while ((size_t)n < cap && (r = z_read((int)fd, buf + n, cap - (size_t)n)) > 0)
		n += r;
	z_close((int)fd);
	const char *end = buf + (n > 0 ? n : 0);
	for (const char *line = buf; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		const char *p = line[0] == 't' ? after(line, nl, "tfd:") : NULL;
		if (p) {
			int tfd = (int)parse_num(&p, 10);
			const char *q = after(p, nl, "events:"), *d = after(p, nl, "data:"), *i = after(p, nl, "ino:");
			uint32_t events = q ? (uint32_t)parse_num(&q, 16) : 0;
			uint64_t data = d ? parse_num(&d, 16) : 0, ino = i ? parse_num(&i, 16) : 0;
			for (int k = 0; k < tn.nt; k++) {
				struct tfd *e = &tn.t[k];
				if (e->fd == tfd && e->ino == ino && e->nep < MAX_EPOLL_REGS)
					e->ep[e->nep++] = (struct ep_reg){epfd, events, data};
			}
		}
		line = nl + 1;
	}
}

struct ep_scan {
	char *buf;
	size_t cap;
};

static int scan_fd(int dfd, const char *name, void *arg)
{
	(void)dfd;
	struct ep_scan *sc = arg;
	char path[64], link[64];
	zap_fmt(path, sizeof(path), "/proc/self/fd/%s", name);
	long n = z_readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		const char *p = name;
		if (!strcmp(link, "anon_inode:[eventpoll]"))
			note_epoll((int)zap_parse_dec(&p), sc->buf, sc->cap);
	}
	return 0;
}

static void find_epoll_regs(void)
{
	for (int i = 0; i < tn.nt; i++)
		tn.t[i].nep = 0;
	long buf = z_mmap(0, FDINFO_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf < 0 && buf > -4096)
		return;
	struct ep_scan sc = {(char *)buf, FDINFO_MAX};
	zap_dir_each("/proc/self/fd", scan_fd, &sc);
	z_munmap((uint64_t)buf, FDINFO_MAX);
}

static void put_epoll_regs(const struct tfd *e)
{
	for (int k = 0; k < e->nep; k++) {
		struct {
			uint32_t events;
			uint64_t data;
		} __attribute__((packed)) ev = {e->ep[k].events, e->ep[k].data};
		zsys4(SYS_epoll_ctl, e->ep[k].epfd, 1 /* EPOLL_CTL_ADD */, e->fd, &ev);
	}
}

void zap_tunnel_before_dump(void)
{
	if (!tn.on)
		return;
	uint64_t deadline = z_now_ns(1) + DRAIN_NS;
	for (int i = 0; i < tn.nt; i++) {
		struct tfd *e = &tn.t[i];
		if (e->fd < 0)
			continue;
		struct zap_kstat st;
		if (zap_fstat(e->fd, &st) < 0 || st.ino != e->ino) {
			e->fd = -1; /* the program closed it */
			continue;
		}
		/* what the program wrote must have reached the proxy: after a
		 * restore the socket that held it is gone */
		int outq = 1;
		while (zsys3(SYS_ioctl, e->fd, SIOCOUTQ, &outq) == 0 && outq > 0 && z_now_ns(1) < deadline)
			z_nanosleep_ns(1000000);
		int inq = 0;
		struct tcp_info ti;
		if (tcp_info(e->fd, &ti) < 0 || zsys3(SYS_ioctl, e->fd, SIOCINQ, &inq) < 0) {
			e->saved = 0;
			continue;
		}
		e->lossy = outq != 0;
		e->consumed = e->off_in + (ti.tcpi_bytes_received - e->hdr_in) - (uint64_t)inq;
		e->written = e->off_out + (ti.tcpi_bytes_acked - e->hdr_out);
		e->flags = (int)zsys2(SYS_fcntl, e->fd, F_GETFL);
		e->cloexec = (zsys2(SYS_fcntl, e->fd, F_GETFD) & FD_CLOEXEC) != 0;
		e->saved = 1;
	}
	if (tn.nt)
		find_epoll_regs();
}

static void msg_init(struct zap_tun_msg *m, int type)
{
	zap_tun_init(m, type);
	/* after a restore, before checkpoint.c takes the restored pod's name */
	const struct zap_restore_info *ri = &zap_restore_info;
	zap_fmt(m->name, sizeof(m->name), "%s",
		ri->magic == ZAP_RESTORE_MAGIC && ri->pod[0] ? ri->pod : zap_self.pod);
}

/* $pod/proxy on the host we came back on, so that its checkpoints and
 * migrations freeze the tunnels too (launcher/proxy-client.c reads it). */
static void write_conf(void)
{
	const struct zap_restore_info *ri = &zap_restore_info;
	const char *home = ri->zap_home[0] ? ri->zap_home : zap_self.home;
	const char *pod = ri->pod[0] ? ri->pod : zap_self.pod;
	char path[1200];
	zap_fmt(path, sizeof(path), "%s/pods/%s/%s", home, pod, ZAP_POD_PROXY);
	long fd = z_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	zsys2(SYS_fchmod, fd, 0600); /* it holds the tunnel key */
	z_write((int)fd, tn.conf, strlen(tn.conf));
	z_close((int)fd);
}

/* A blocking connection to the proxy, bounded in time; the fd or -errno. */
static long proxy_connect(void)
{
	long s = zsys3(SYS_socket, tn.proxy.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return s;
	struct timeval tv = {RESUME_TIMEOUT_S, 0};
	zsys5(SYS_setsockopt, s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	zsys5(SYS_setsockopt, s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	long e = zsys3(SYS_connect, s, &tn.proxy, tn.proxylen);
	if (e < 0) {
		z_close((int)s);
		return e;
	}
	return s;
}

static long recv_msg(long s, struct zap_tun_msg *m)
{
	return zsys6(SYS_recvfrom, s, (long)m, sizeof(*m), MSG_WAITALL, 0, 0) == (long)sizeof(*m) ? 0 : -EIO;
}

/* m to the proxy on s, answered to its challenge, and its reply checked:
 * 0, or -errno (the proxy's status when it said no). */
static long send_msg(long s, struct zap_tun_msg *m, struct zap_tun_msg *reply)
{
	struct zap_tun_msg ch;
	uint8_t nc[ZAP_TUN_NONCE];
	if (recv_msg(s, &ch) < 0 || nonce(nc) < 0 || zap_tun_answer(tn.key, &ch, nc, m) < 0)
		return -EPROTO;
	if (z_write((int)s, m, sizeof(*m)) != (long)sizeof(*m))
		return -EIO;
	if (recv_msg(s, reply) < 0 || !zap_tun_reply_ok(tn.key, &ch, m, reply))
		return -EPROTO;
	return reply->status ? -(long)reply->status : 0;
}

void zap_tunnel_after_restore(void)
{
	if (!tn.on)
		return;
	int reachable = 1;
	for (int i = 0; i < tn.nt; i++) {
		struct tfd *e = &tn.t[i];
		if (e->fd < 0 || !e->saved)
			continue;
		struct zap_tun_msg m, r;
		msg_init(&m, ZAP_TUN_RESUME);
		m.id = e->id;
		m.consumed = e->consumed;
		m.written = e->written;
		m.status = e->lossy; /* the proxy refuses a tunnel that lost bytes */
		long s = reachable ? proxy_connect() : -ECONNREFUSED;
		uint64_t acked = MSG_SIZE;
		struct tcp_info ti;
		if (s < 0) {
			reachable = 0;
			/* an unconnected socket: the program gets an error on it */
			s = zsys3(SYS_socket, tn.proxy.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s < 0)
				continue;
		} else if (send_msg(s, &m, &r) < 0) {
			/* refused: the proxy closes it, and the program reads EOF */
			zsys2(SYS_shutdown, s, SHUT_RDWR);
		} else if (tcp_info((int)s, &ti) == 0) {
			/* the reply acked our RESUME; an active open counts its
			 * SYN in bytes_acked too */
			acked = ti.tcpi_bytes_acked;
		}
		struct timeval none = {0, 0};
		int rcv = TUN_RCVBUF;
		zsys5(SYS_setsockopt, s, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
		zsys5(SYS_setsockopt, s, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
		zsys5(SYS_setsockopt, s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
		zsys3(SYS_dup3, s, e->fd, e->cloexec ? O_CLOEXEC : 0);
		z_close((int)s);
		zsys3(SYS_fcntl, e->fd, F_SETFL, e->flags);
		e->ino = ino_of(e->fd);
		put_epoll_regs(e);
		e->off_in = e->consumed;
		e->hdr_in = 2 * MSG_SIZE; /* the CHALLENGE and the REPLY */
		e->off_out = e->written;
		e->hdr_out = acked;
		e->saved = 0;
	}
	write_conf();
	/* the pod is back: the proxy learns where, and forwards to it again */
	struct zap_tun_msg m, r;
	msg_init(&m, ZAP_TUN_REGISTER);
	long s = reachable ? proxy_connect() : -1;
	if (s >= 0) {
		send_msg(s, &m, &r);
		z_close((int)s);
	}
}
