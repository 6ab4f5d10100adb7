/* IPv4 and IPv6 sockets (the family side of sock.c).
 *
 * A listener's backlog is the kernel's sk_max_ack_backlog, which
 * sock_diag reports as idiag_wqueue of a listening socket.  Binding again
 * takes the old address; when this host does not have it (EADDRNOTAVAIL:
 * a specific address of the old host) the socket binds the same port on
 * the wildcard address, and the preload keeps answering getsockname with
 * the old address (preload/sock.c).  A TCP connection to a peer zap does
 * not bring back comes back reset: the restorer connects the new socket to
 * a loopback listener made for the purpose and aborts the accepted end
 * (SO_LINGER 0), so the program reads ECONNRESET, then EOF, writes EPIPE,
 * and epoll reports EPOLLIN|EPOLLOUT|EPOLLERR|EPOLLHUP|EPOLLRDHUP
 * (docs/design-notes.md, as measured).  A connected UDP socket is bound
 * and connected to the same peer again: there is no connection to lose.
 *
 * A TCP connection whose other end is on this host is found with
 * sock_diag (the reversed 4-tuple looked up exactly); when that end is
 * another member's, the pod joins the two again (launcher/pod-fds.c) with
 * the bytes each had waiting.  The bytes its peer has sent and not had
 * acknowledged (idiag_wqueue) are still in the peer's send queue, out of
 * reach without TCP_REPAIR: the receiving end settles them first, its
 * receive buffer raised so that the window opens, and peeks until the
 * peer has none left (design-notes, "TCP between members"). */
#include "restore.h"
#include "sock.h"
#include "sys.h"
#include "util.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define Z_NLM_F_DUMP 0x300
#define Z_TCP_LISTEN 10
#define Z_EADDRNOTAVAIL (-99)

struct z_inet_diag_sockid {
	uint16_t sport, dport;
	uint32_t src[4], dst[4];
	uint32_t ifindex;
	uint32_t cookie[2];
};
struct z_inet_diag_req_v2 {
	uint8_t family, protocol, ext, pad;
	uint32_t states;
	struct z_inet_diag_sockid id;
};
struct z_inet_diag_msg {
	uint8_t family, state, timer, retrans;
	struct z_inet_diag_sockid id;
	uint32_t expires, rqueue, wqueue, uid, inode;
};

struct find_listener {
	uint32_t ino, backlog;
};

static void listener_answer(const void *msg, size_t len, void *arg)
{
	struct find_listener *q = arg;
	const struct z_inet_diag_msg *m = msg;
	if (len >= sizeof(*m) && m->inode == q->ino)
		q->backlog = m->wqueue;
}

/* One inet_diag request about TCP sockets of family: a dump of those in
 * states, or (id given) the one socket of that 4-tuple. */
static int inet_diag_ask(int nl, int family, uint32_t states, const struct z_inet_diag_sockid *id,
			 void (*each)(const void *msg, size_t len, void *arg), void *arg)
{
	struct {
		struct z_nlmsghdr h;
		struct z_inet_diag_req_v2 r;
	} q;
	memset(&q, 0, sizeof(q));
	q.h.len = sizeof(q);
	q.h.type = Z_SOCK_DIAG_BY_FAMILY;
	q.h.flags = Z_NLM_F_REQUEST | (id ? 0 : Z_NLM_F_DUMP);
	q.h.seq = id ? 3 : 2;
	q.r.family = (uint8_t)family;
	q.r.protocol = IPPROTO_TCP;
	q.r.states = states;
	if (id)
		q.r.id = *id;
	return zap_sock_diag(nl, &q, sizeof(q), each, arg);
}

static uint32_t inet_backlog(int nl, int family, uint32_t ino)
{
	struct find_listener f = {ino, 0};
	inet_diag_ask(nl, family, 1u << Z_TCP_LISTEN, NULL, listener_answer, &f);
	return f.backlog;
}

/* The socket at the other end of TCP connection fd, if it is on this
 * host: its inode and the bytes it has written that fd has not
 * acknowledged yet (write_seq - snd_una, its FIN included). */
struct tcp_peer {
	uint32_t ino, unacked;
};

static void peer_answer(const void *msg, size_t len, void *arg)
{
	struct tcp_peer *p = arg;
	const struct z_inet_diag_msg *m = msg;
	if (len >= sizeof(*m)) {
		p->ino = m->inode;
		p->unacked = m->wqueue;
	}
}

static struct tcp_peer tcp_peer_of(int nl, int fd)
{
	struct tcp_peer p = {0, 0};
	struct sockaddr_in6 me, them; /* the larger of the two */
	uint32_t ml = sizeof(me), tl = sizeof(them);
	if (zsys3(SYS_getsockname, fd, &me, &ml) < 0 || zsys3(SYS_getpeername, fd, &them, &tl) < 0 ||
	    me.sin6_family != them.sin6_family)
		return p;
	/* one socket, by its 4-tuple reversed: the peer's own view */
	struct z_inet_diag_sockid id;
	memset(&id, 0, sizeof(id));
	id.sport = them.sin6_port; /* the same place in sockaddr_in */
	id.dport = me.sin6_port;
	if (me.sin6_family == AF_INET) {
		memcpy(id.src, &((struct sockaddr_in *)&them)->sin_addr, 4);
		memcpy(id.dst, &((struct sockaddr_in *)&me)->sin_addr, 4);
	} else {
		memcpy(id.src, &them.sin6_addr, 16);
		memcpy(id.dst, &me.sin6_addr, 16);
	}
	id.cookie[0] = id.cookie[1] = ~0u; /* INET_DIAG_NOCOOKIE */
	if (inet_diag_ask(nl, me.sin6_family, ~0u, &id, peer_answer, &p) < 0)
		p.ino = p.unacked = 0;
	return p;
}

static uint32_t inet_peer(int nl, int fd)
{
	return tcp_peer_of(nl, fd).ino;
}

#define Z_SIOCINQ 0x541B
#define Z_SO_RCVBUFFORCE 33
#define Z_SETTLE_NS (3ull * 1000000000ull)
#define Z_STUCK_NS (500ull * 1000000ull)

static uint64_t inet_settle(int nl, int fd)
{
	struct tcp_peer p = tcp_peer_of(nl, fd);
	if (!p.ino || !p.unacked)
		return 0;
	int inq = 0, rcv = 0;
	uint32_t len = sizeof(rcv);
	zsys3(SYS_ioctl, fd, Z_SIOCINQ, &inq);
	zsys5(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len);
	/* the kernel doubles what it is given and counts buffers, not bytes:
	 * twice the bytes, and some, is what a loopback connection needs */
	uint64_t want = 2 * ((uint64_t)(uint32_t)inq + p.unacked) + (256u << 10);
	if (want > (1u << 30))
		want = 1u << 30;
	if ((uint64_t)(uint32_t)rcv < want) {
		int half = (int)(want / 2);
		if (zsys5(SYS_setsockopt, fd, SOL_SOCKET, Z_SO_RCVBUFFORCE, &half, sizeof(half)) < 0)
			zsys5(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half));
	}
	/* a peek tells the kernel the window may open: the peer's bytes come */
	uint64_t start = z_now_ns(1), moved = start;
	uint32_t last = p.unacked;
	while (p.unacked) {
		char c;
		zsys6(SYS_recvfrom, fd, (long)&c, 1, MSG_PEEK | MSG_DONTWAIT, 0, 0);
		z_nanosleep_ns(200000);
		p = tcp_peer_of(nl, fd);
		uint64_t t = z_now_ns(1);
		if (p.unacked != last) {
			last = p.unacked;
			moved = t;
		}
		if (t - start > Z_SETTLE_NS || t - moved > Z_STUCK_NS)
			break;
	}
	return p.unacked;
}

static long inet_bind(struct zap_restore *r, int s, const uint8_t *sa, uint32_t len)
{
	(void)r;
	struct sockaddr_in6 a; /* the larger of the two */
	if (len < sizeof(struct sockaddr_in) || len > sizeof(a))
		return -22;
	memset(&a, 0, sizeof(a));
	memcpy(&a, sa, len);
	long e = zsys3(SYS_bind, s, &a, len);
	if (e != Z_EADDRNOTAVAIL)
		return e;
	/* not an address of this host: the same port on all of them */
	if (a.sin6_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_addr.s_addr = 0;
	else
		memset(&a.sin6_addr, 0, sizeof(a.sin6_addr));
	return zsys3(SYS_bind, s, &a, len);
}

/* A TCP socket of family reset by its peer, or -errno. */
static long tcp_reset(int family, int proto)
{
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = __builtin_bswap32(0x7f000001)};
	uint32_t len = sizeof(lo);
	long l = zsys3(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s = -1, acc = -1, e;
	if (l < 0)
		return l;
	if ((e = zsys3(SYS_bind, l, &lo, sizeof(lo))) < 0 || (e = zsys2(SYS_listen, l, 1)) < 0 ||
	    (e = zsys3(SYS_getsockname, l, &lo, &len)) < 0)
		goto out;
	if ((s = e = zsys3(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, proto)) < 0)
		goto out;
	if (family == AF_INET6) { /* ::ffff:127.0.0.1 */
		struct sockaddr_in6 m = {.sin6_family = AF_INET6, .sin6_port = lo.sin_port};
		int off = 0;
		zsys5(SYS_setsockopt, s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&m.sin6_addr.s6_addr[12], &lo.sin_addr, 4);
		e = zsys3(SYS_connect, s, &m, sizeof(m));
	} else {
		e = zsys3(SYS_connect, s, &lo, sizeof(lo));
	}
	if (e < 0 || (acc = e = zsys4(SYS_accept4, l, 0, 0, SOCK_CLOEXEC)) < 0)
		goto out;
	struct {
		int onoff, linger;
	} lg = {1, 0};
	zsys5(SYS_setsockopt, acc, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	z_close((int)acc); /* sends RST */
	z_close((int)l);
	/* the reset is in once the socket says so (loopback: at once) */
	for (int i = 0; i < 1000; i++) {
		struct {
			int fd;
			short events, revents;
		} p = {(int)s, 0, 0};
		if (zsys3(SYS_poll, &p, 1, 0) > 0 && (p.revents & 0x10 /* POLLHUP */))
			break;
		z_nanosleep_ns(100000);
	}
	return s;
out:
	if (s >= 0)
		z_close((int)s);
	z_close((int)l);
	return e;
}

static long inet_connected(struct zap_restore *r, const struct zap_img_fd *f, const struct zap_img_sock_addr *a)
{
	int family = (int)(f->aux[1] & 0xffff), type = (int)((f->aux[1] >> 16) & 0xffff);
	int proto = (int)(uint32_t)(f->aux[1] >> 32);
	long s;
	if (type == SOCK_STREAM) {
		s = tcp_reset(family, proto);
		if (s < 0) /* no loopback: a socket never connected fails too (ENOTCONN, EPIPE) */
			s = zsys3(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, proto);
		if (s >= 0)
			zap_sock_set_options((int)s, f);
		return s;
	}
	s = zsys3(SYS_socket, family, type | SOCK_CLOEXEC, proto);
	if (s < 0)
		return s;
	zap_sock_set_options((int)s, f);
	if (a->local_len)
		inet_bind(r, (int)s, a->local, a->local_len);
	if (a->peer_len)
		zsys3(SYS_connect, s, a->peer, a->peer_len);
	return s;
}

const struct zap_sock_family_ops zap_sock_inet_ops = {
	.family = AF_INET,
	.backlog = inet_backlog,
	.bind = inet_bind,
	.connected = inet_connected,
	.peer = inet_peer,
	.settle = inet_settle,
};

const struct zap_sock_family_ops zap_sock_inet6_ops = {
	.family = AF_INET6,
	.backlog = inet_backlog,
	.bind = inet_bind,
	.connected = inet_connected,
	.peer = inet_peer,
	.settle = inet_settle,
};
