/* Sockets that come back by themselves (ZAP_FD_SOCKET): every socket that
 * is not one end of a socketpair kept in the process (sock-unix.c).
 *
 * Capture records the socket's family, type and protocol, what it was
 * doing (listening, bound, connected, nothing), its addresses, its backlog
 * (sock_diag), the common options, and for a UNIX connection, or a TCP
 * connection to another member of the pod, its peer and the bytes waiting
 * in it (a pod restart joins it to its peer again, launcher/pod-fds.c).  Restore makes a new socket of the same kind with
 * the same options: a listener is bound to its address again and listens
 * (connections waiting in its backlog are lost), a bound socket is bound
 * again (datagrams waiting are lost), and a connection comes back failed
 * in the way its family fails (sock-inet.c: a TCP reset; sock-unix.c: a
 * peer that closed), never as something that blocks forever.  The
 * family-specific parts sit behind one small table. */
#include "dump.h"
#include "restore.h"
#include "sock.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define Z_TCP_LISTEN 10
#define Z_TCP_CLOSE 7
#define Z_DEFAULT_BACKLOG 128
#define Z_SIOCINQ 0x541B

static const struct zap_sock_family_ops *const families[] = {
	&zap_sock_unix_ops,
	&zap_sock_inet_ops,
	&zap_sock_inet6_ops,
};

static const struct zap_sock_family_ops *family_ops(int family)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (families[i]->family == family)
			return families[i];
	return NULL; /* netlink, packet …: a fresh socket of the kind */
}

static int get_int(int fd, int level, int name)
{
	int v = 0;
	uint32_t len = sizeof(v);
	if (zsys5(SYS_getsockopt, fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

static void set_int(int fd, int level, int name, int v)
{
	zsys5(SYS_setsockopt, fd, level, name, &v, sizeof(v));
}

/* The options zap keeps: which level and name each bit of aux[4] is. */
static const struct {
	uint32_t bit;
	int level, name;
} opts[] = {
	{ZAP_SOCKOPT_REUSEADDR, SOL_SOCKET, SO_REUSEADDR},
	{ZAP_SOCKOPT_REUSEPORT, SOL_SOCKET, SO_REUSEPORT},
	{ZAP_SOCKOPT_KEEPALIVE, SOL_SOCKET, SO_KEEPALIVE},
	{ZAP_SOCKOPT_BROADCAST, SOL_SOCKET, SO_BROADCAST},
	{ZAP_SOCKOPT_PASSCRED, SOL_SOCKET, SO_PASSCRED},
	{ZAP_SOCKOPT_NODELAY, IPPROTO_TCP, TCP_NODELAY},
	{ZAP_SOCKOPT_V6ONLY, IPPROTO_IPV6, IPV6_V6ONLY},
};

static int opt_applies(size_t i, int family, int type)
{
	if (opts[i].level == IPPROTO_TCP)
		return (family == AF_INET || family == AF_INET6) && type == SOCK_STREAM;
	if (opts[i].level == IPPROTO_IPV6)
		return family == AF_INET6;
	if (opts[i].name == SO_PASSCRED)
		return family == AF_UNIX;
	return 1;
}

/* SO_RCVBUF | SO_SNDBUF << 32 when either differs from what a fresh socket
 * of the kind gets (the program set it), else 0: setting it when it did not
 * would turn off the kernel's autotuning. */
static uint64_t buffers(int fd, int family, int type, int proto)
{
	long fresh = zsys3(SYS_socket, family, type | SOCK_CLOEXEC, proto);
	if (fresh < 0)
		return 0;
	int rcv = get_int(fd, SOL_SOCKET, SO_RCVBUF), snd = get_int(fd, SOL_SOCKET, SO_SNDBUF);
	int rcv0 = get_int((int)fresh, SOL_SOCKET, SO_RCVBUF), snd0 = get_int((int)fresh, SOL_SOCKET, SO_SNDBUF);
	z_close((int)fresh);
	if (rcv <= 0 || snd <= 0 || (rcv == rcv0 && snd == snd0))
		return 0;
	return (uint64_t)(uint32_t)rcv | (uint64_t)(uint32_t)snd << 32;
}

static int has_address(int family, const struct sockaddr_storage *sa, uint32_t len)
{
	if (family == AF_UNIX)
		return len > sizeof(sa_family_t);
	if (family == AF_INET)
		return len >= sizeof(struct sockaddr_in) && ((const struct sockaddr_in *)sa)->sin_port;
	if (family == AF_INET6)
		return len >= sizeof(struct sockaddr_in6) && ((const struct sockaddr_in6 *)sa)->sin6_port;
	return 0;
}

/* What a socket is doing, from the socket itself (and TCP_INFO for TCP,
 * whose connect in progress has no peer name yet). */
static uint32_t sock_state(int fd, int family, int type, int proto)
{
	struct sockaddr_storage sa;
	uint32_t len = sizeof(sa);
	if (get_int(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1)
		return ZAP_SOCK_LISTEN;
	if ((family == AF_INET || family == AF_INET6) && type == SOCK_STREAM &&
	    (proto == 0 || proto == IPPROTO_TCP)) {
		uint8_t info[8] = {0}; /* tcpi_state first */
		uint32_t il = sizeof(info);
		if (zsys5(SYS_getsockopt, fd, IPPROTO_TCP, TCP_INFO, info, &il) == 0 &&
		    info[0] != Z_TCP_CLOSE && info[0] != Z_TCP_LISTEN)
			return ZAP_SOCK_CONNECTED;
	}
	if (zsys3(SYS_getpeername, fd, &sa, &len) == 0)
		return ZAP_SOCK_CONNECTED;
	len = sizeof(sa);
	if (zsys3(SYS_getsockname, fd, &sa, &len) == 0 && has_address(family, &sa, len))
		return ZAP_SOCK_BOUND;
	return ZAP_SOCK_UNBOUND;
}

/* Which ends of a TCP connection have shut down writing, from its state. */
static uint32_t tcp_fins(int fd)
{
	enum { FIN_WAIT1 = 4, FIN_WAIT2, CLOSE_WAIT = 8, LAST_ACK, CLOSING = 11 };
	uint8_t info[8] = {0};
	uint32_t il = sizeof(info);
	if (zsys5(SYS_getsockopt, fd, IPPROTO_TCP, TCP_INFO, info, &il) < 0)
		return 0;
	uint32_t bits = 0;
	if (info[0] == FIN_WAIT1 || info[0] == FIN_WAIT2 || info[0] == LAST_ACK || info[0] == CLOSING)
		bits |= ZAP_SOCKOPT_SENT_FIN;
	if (info[0] == CLOSE_WAIT || info[0] == LAST_ACK || info[0] == CLOSING)
		bits |= ZAP_SOCKOPT_GOT_FIN;
	return bits;
}

#define Z_NLMSG_ERROR 2
#define Z_NLMSG_DONE 3
#define Z_NLM_F_MULTI 2

int zap_sock_diag(int nl, const void *req, size_t len,
		  void (*each)(const void *msg, size_t len, void *arg), void *arg)
{
	if (z_write(nl, req, len) != (long)len)
		return -1;
	char buf[16384] __attribute__((aligned(8)));
	for (int rounds = 0; rounds < 100000; rounds++) {
		long n = z_read(nl, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		for (long at = 0; at + (long)sizeof(struct z_nlmsghdr) <= n;) {
			const struct z_nlmsghdr *h = (const void *)(buf + at);
			if (h->len < sizeof(*h) || at + (long)h->len > n)
				return -1;
			if (h->type == Z_NLMSG_DONE)
				return 0;
			if (h->type == Z_NLMSG_ERROR)
				return -1;
			each(h + 1, h->len - sizeof(*h), arg);
			if (!(h->flags & Z_NLM_F_MULTI))
				return 0;
			at += (h->len + 3) & ~3u;
		}
	}
	return -1;
}

static void warn(struct zap_dump *d, const struct zap_img_fd *f, const char *what)
{
	size_t at = strlen(d->warnings);
	if (at + 80 < sizeof(d->warnings))
		zap_fmt(d->warnings + at, sizeof(d->warnings) - at, "%sfd %d (%s) %s", at ? "; " : "", f->fd,
			d->strings + f->path_str, what);
}

/* The inodes of the sockets the pod's members hold, from d->pod_sockets
 * (one a line), in scratch memory; the count, 0 when there is none. */
static uint32_t pod_sockets(struct zap_dump *d, uint32_t **out)
{
	static char text[1 << 18]; /* leader only */
	*out = NULL;
	long fd = d->pod_sockets ? z_open(d->pod_sockets, O_RDONLY | O_CLOEXEC, 0) : -1;
	if (fd < 0)
		return 0;
	long n = z_read((int)fd, text, sizeof(text) - 1);
	z_close((int)fd);
	if (n <= 0)
		return 0;
	text[n] = 0;
	uint32_t cap = (uint32_t)(n / 2) + 1, k = 0;
	uint32_t *inos = zap_scratch_alloc(&d->scratch, cap * sizeof(*inos));
	for (const char *p = text; inos && *p && k < cap;) {
		uint64_t v = zap_parse_dec(&p);
		if (v)
			inos[k++] = (uint32_t)v;
		while (*p && (*p < '0' || *p > '9'))
			p++;
	}
	*out = inos;
	return inos ? k : 0;
}

/* A TCP connection whose other end is another member's socket: its peer
 * (aux[3]) is kept, and what the peer sent it and it has not received is
 * made to come in, so that the peek of zap_sock_write finds every byte. */
static int tcp_member_peer(struct zap_dump *d, struct zap_img_fd *f, const struct zap_sock_family_ops *ops,
			   int nl, const uint32_t *members, uint32_t nmembers)
{
	uint32_t peer = ops->peer(nl, f->fd);
	int member = 0;
	for (uint32_t k = 0; peer && k < nmembers; k++)
		member |= members[k] == peer;
	for (uint32_t k = 0; member && k < d->nfds; k++) /* both ends here: comes back reset */
		member = (d->fds[k].mode & S_IFMT) != S_IFSOCK || d->fds[k].aux[0] != peer;
	if (!member)
		return 0;
	f->aux[3] = peer;
	uint64_t left = ops->settle(nl, f->fd);
	if (!left)
		return 0;
	int rcv = 0;
	uint32_t len = sizeof(rcv);
	zsys5(SYS_getsockopt, f->fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len);
	return zap_dump_error(d,
			      "fd %d (%s): %lu bytes another member of the pod sent it over TCP are still in "
			      "the sender's queue and cannot be saved without privileges (this end's receive "
			      "buffer holds %d bytes at most: SO_RCVBUF is limited by net.core.rmem_max); the "
			      "checkpoint would lose them: try again once the reader has caught up, or raise "
			      "net.core.rmem_max",
			      f->fd, d->strings + f->path_str, (unsigned long)left, rcv);
}

int zap_sock_collect(struct zap_dump *d)
{
	long nl = -2;
	uint32_t *members = NULL, nmembers = pod_sockets(d, &members);
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct zap_img_fd *f = &d->fds[i];
		if (f->kind != ZAP_FD_CLOSED_ON_RESTORE || (f->mode & S_IFMT) != S_IFSOCK || f->dup_of >= 0)
			continue;
		int family = get_int(f->fd, SOL_SOCKET, SO_DOMAIN);
		int type = get_int(f->fd, SOL_SOCKET, SO_TYPE);
		int proto = get_int(f->fd, SOL_SOCKET, SO_PROTOCOL);
		if (family < 0 || type < 0 || proto < 0) {
			f->aux[2] = 0;
			continue; /* stays closed on restore, with its warning */
		}
		uint32_t state = sock_state(f->fd, family, type, proto);
		const struct zap_sock_family_ops *ops = family_ops(family);
		if (!ops) /* netlink, packet …: its address is the kernel's to give */
			state = ZAP_SOCK_UNBOUND;
		uint32_t backlog = 0;
		int tcp = (family == AF_INET || family == AF_INET6) && type == SOCK_STREAM;
		if (nl == -2 && (state == ZAP_SOCK_LISTEN || (tcp && state == ZAP_SOCK_CONNECTED && nmembers)))
			nl = zsys3(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, Z_NETLINK_SOCK_DIAG);
		if (state == ZAP_SOCK_LISTEN) {
			if (nl >= 0 && ops->backlog)
				backlog = ops->backlog((int)nl, family, (uint32_t)f->aux[0]);
			if (!backlog)
				backlog = Z_DEFAULT_BACKLOG;
		}
		uint32_t bits = 0;
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (opt_applies(k, family, type) && get_int(f->fd, opts[k].level, opts[k].name) > 0)
				bits |= opts[k].bit;
		f->kind = ZAP_FD_SOCKET;
		f->aux[1] = (uint64_t)(uint32_t)family | (uint64_t)(uint32_t)type << 16 |
			    (uint64_t)(uint32_t)proto << 32;
		f->aux[2] = state | (uint64_t)backlog << 32;
		if (family != AF_UNIX || state != ZAP_SOCK_CONNECTED)
			f->aux[3] = 0; /* a UNIX peer is what a pod can join again */
		/* options and buffers first: a settle below may raise SO_RCVBUF */
		if (tcp && state == ZAP_SOCK_CONNECTED)
			bits |= tcp_fins(f->fd);
		f->aux[4] = bits;
		f->aux[5] = buffers(f->fd, family, type, proto);
		if (tcp && state == ZAP_SOCK_CONNECTED && nl >= 0 && ops->peer &&
		    tcp_member_peer(d, f, ops, (int)nl, members, nmembers) < 0) {
			z_close((int)nl);
			return -1;
		}
		d->filedata_len += ZAP_PAGE_UP(sizeof(struct zap_img_sock_addr));
		if (state == ZAP_SOCK_CONNECTED && !f->aux[3] && type == SOCK_STREAM)
			warn(d, f, family == AF_UNIX ? "comes back closed by its peer" : "comes back reset");
	}
	if (nl >= 0)
		z_close((int)nl);
	/* a dup is the same socket: it says so, for `zap inspect` and pods */
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct zap_img_fd *f = &d->fds[i];
		if (f->dup_of < 0 || f->kind != ZAP_FD_CLOSED_ON_RESTORE || (f->mode & S_IFMT) != S_IFSOCK)
			continue;
		for (uint32_t k = 0; k < i; k++)
			if (d->fds[k].fd == f->dup_of && d->fds[k].kind == ZAP_FD_SOCKET) {
				f->kind = ZAP_FD_SOCKET;
				memcpy(f->aux, d->fds[k].aux, sizeof(f->aux));
			}
	}
	return 0;
}

/* The bytes waiting in TCP connection fd, copied (MSG_PEEK) into a
 * mapping of their own (*cap bytes) after room for the addresses: its
 * address, and the length used in *len; NULL when nothing could be mapped. */
static char *tcp_peek(int fd, size_t room, size_t *len, size_t *cap_out)
{
	int inq = 0;
	zsys3(SYS_ioctl, fd, Z_SIOCINQ, &inq);
	size_t cap = ZAP_PAGE_UP(room + (size_t)(inq > 0 ? inq : 0) + 1);
	long m = z_mmap(0, cap, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
	if (m < 0 && m > -4096)
		return NULL;
	char *buf = (char *)m;
	long n = inq > 0 ? zsys6(SYS_recvfrom, fd, (long)(buf + room), (long)(cap - room), MSG_PEEK | MSG_DONTWAIT, 0, 0)
			 : 0;
	*len = room + (n > 0 ? (size_t)n : 0);
	*len = *len > cap ? cap : *len;
	*cap_out = cap;
	return buf;
}

/* The addresses at the start of FILEDATA; for a connection a pod may join
 * again, the bytes waiting in it after them (copied with MSG_PEEK, not
 * taken). */
int zap_sock_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor)
{
	static char small[sizeof(struct zap_img_sock_addr) + Z_MAX_PEEK]; /* leader only */
	int family = (int)(f->aux[1] & 0xffff), connected = (uint32_t)f->aux[2] == ZAP_SOCK_CONNECTED;
	size_t tcp_len = 0, tcp_cap = 0;
	char *tcp = family != AF_UNIX && connected && f->aux[3]
			    ? tcp_peek(f->fd, sizeof(struct zap_img_sock_addr), &tcp_len, &tcp_cap)
			    : NULL;
	if (family != AF_UNIX && connected && f->aux[3] && !tcp)
		return zap_dump_error(d, "cannot map memory for the bytes waiting in socket fd %d", f->fd);
	char *buf = tcp ? tcp : small;
	struct zap_img_sock_addr *a = (void *)buf;
	memset(a, 0, sizeof(*a));
	a->local_len = a->peer_len = ZAP_SOCKADDR_MAX;
	if (zsys3(SYS_getsockname, f->fd, a->local, &a->local_len) < 0 || a->local_len > ZAP_SOCKADDR_MAX)
		a->local_len = 0;
	if (zsys3(SYS_getpeername, f->fd, a->peer, &a->peer_len) < 0 || a->peer_len > ZAP_SOCKADDR_MAX)
		a->peer_len = 0;
	f->data_off = *cursor;
	f->data_len = tcp ? tcp_len : sizeof(*a);
	if (family == AF_UNIX && connected)
		f->data_len += zap_sock_unix_peek(f->fd, (int)((f->aux[1] >> 16) & 0xffff), buf + sizeof(*a),
						  Z_MAX_PEEK);
	if (tcp && f->aux[5]) { /* the program set the buffer a settle may have raised */
		int rcv = (int)(uint32_t)f->aux[5];
		if (get_int(f->fd, SOL_SOCKET, SO_RCVBUF) != rcv)
			set_int(f->fd, SOL_SOCKET, SO_RCVBUF, rcv / 2);
	}
	f->data_sum = zap_sum_pages(buf, f->data_len, 0);
	int rc = 0;
	if (z_pwrite_all(d->img_fd, buf, f->data_len, *cursor) < 0)
		rc = zap_dump_error(d, "cannot write the state of socket fd %d", f->fd);
	*cursor += ZAP_PAGE_UP(f->data_len);
	if (tcp)
		z_munmap((uint64_t)tcp, tcp_cap);
	return rc;
}

/* ---- restore ---- */

long zap_sock_read_addr(int img_fd, const struct zap_img_fd *f, struct zap_img_sock_addr *a)
{
	if (f->data_len < sizeof(*a))
		return -74;
	long e = z_pread_all(img_fd, a, sizeof(*a), f->data_off);
	if (e < 0)
		return e;
	if (a->local_len > ZAP_SOCKADDR_MAX || a->peer_len > ZAP_SOCKADDR_MAX)
		return -74; /* EBADMSG */
	return 0;
}

/* Checks the bytes of f's FILEDATA against their sum (they are few). */
static long check_sum(struct zap_restore *r, const struct zap_img_fd *f)
{
	char buf[ZAP_SUM_CHUNK];
	uint64_t sum = 0;
	for (uint64_t done = 0; done < f->data_len;) {
		size_t n = f->data_len - done < sizeof(buf) ? f->data_len - done : sizeof(buf);
		if (z_pread_all(r->img_fd, buf, n, f->data_off + done) < 0)
			return -5;
		sum = zap_sum64(buf, n, sum);
		done += n;
	}
	return sum == f->data_sum ? 0 : -74;
}

void zap_sock_set_options(int s, const struct zap_img_fd *f)
{
	int family = (int)(f->aux[1] & 0xffff), type = (int)((f->aux[1] >> 16) & 0xffff);
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		if (opt_applies(k, family, type) && (f->aux[4] & opts[k].bit))
			set_int(s, opts[k].level, opts[k].name, 1);
	if (family == AF_INET6 && !(f->aux[4] & ZAP_SOCKOPT_V6ONLY))
		set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, 0); /* whatever this host's default */
	if (f->aux[5]) { /* the kernel doubles what it is given */
		set_int(s, SOL_SOCKET, SO_RCVBUF, (int)(uint32_t)f->aux[5] / 2);
		set_int(s, SOL_SOCKET, SO_SNDBUF, (int)(uint32_t)(f->aux[5] >> 32) / 2);
	}
}

long zap_sock_open(struct zap_restore *r, const struct zap_img_fd *f)
{
	struct zap_img_sock_addr a;
	long e = check_sum(r, f);
	if (e == 0)
		e = zap_sock_read_addr(r->img_fd, f, &a);
	if (e < 0)
		return e;
	int family = (int)(f->aux[1] & 0xffff), type = (int)((f->aux[1] >> 16) & 0xffff);
	int proto = (int)(uint32_t)(f->aux[1] >> 32);
	uint32_t state = (uint32_t)f->aux[2], backlog = (uint32_t)(f->aux[2] >> 32);
	const struct zap_sock_family_ops *ops = family_ops(family);
	long s;
	if (state == ZAP_SOCK_CONNECTED && ops) {
		s = ops->connected(r, f, &a);
	} else {
		s = zsys3(SYS_socket, family, type | SOCK_CLOEXEC, proto);
		if (s < 0)
			return s;
		zap_sock_set_options((int)s, f);
		if ((state == ZAP_SOCK_BOUND || state == ZAP_SOCK_LISTEN) && ops) {
			e = ops->bind(r, (int)s, a.local, a.local_len);
			if (e == 0 && state == ZAP_SOCK_LISTEN)
				e = zsys2(SYS_listen, s, backlog ? backlog : Z_DEFAULT_BACKLOG);
			if (e < 0) {
				char name[160];
				zap_sock_addr_str(a.local, a.local_len, name, sizeof(name));
				z_close((int)s);
				zap_restore_error(r, "%s: fd %d: cannot %s %s again: %s", r->img->path, f->fd,
						  state == ZAP_SOCK_LISTEN ? "listen on" : "bind to", name,
						  zap_strerror(e));
				return ZAP_ERR_REPORTED;
			}
		}
	}
	if (s >= 0 && (f->open_flags & O_NONBLOCK))
		zsys3(SYS_fcntl, s, F_SETFL, O_NONBLOCK);
	return s;
}

/* ---- for people ---- */

size_t zap_sock_addr_str(const void *sa, uint32_t len, char *buf, size_t n)
{
	const uint8_t *p = sa;
	uint16_t family = 0;
	if (len >= 2)
		memcpy(&family, p, 2);
	if (!len)
		return zap_fmt(buf, n, "-");
	if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const uint8_t *ip = p + 4;
		return zap_fmt(buf, n, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3], (unsigned)(p[2] << 8 | p[3]));
	}
	if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const uint8_t *ip = p + 8;
		unsigned g[8];
		int best = -1, bestlen = 1;
		for (int i = 0; i < 8; i++)
			g[i] = (unsigned)(ip[2 * i] << 8 | ip[2 * i + 1]);
		for (int i = 0; i < 8; i++) { /* the longest run of zeros becomes :: */
			int k = i;
			while (k < 8 && !g[k])
				k++;
			if (k - i > bestlen)
				best = i, bestlen = k - i;
		}
		size_t at = zap_fmt(buf, n, "[");
		for (int i = 0; i < 8 && at < n; i++) {
			if (i == best) {
				at += zap_fmt(buf + at, n - at, "::");
				i += bestlen - 1;
				continue;
			}
			if (i && i != best + bestlen)
				at += zap_fmt(buf + at, n - at, ":");
			at += zap_fmt(buf + at, n - at, "%x", g[i]);
		}
		return at + zap_fmt(buf + at, n - at, "]:%u", (unsigned)(p[2] << 8 | p[3]));
	}
	if (family == AF_UNIX) {
		if (len <= 2)
			return zap_fmt(buf, n, "unnamed");
		size_t at = 0;
		const char *path = (const char *)p + 2;
		size_t plen = len - 2;
		if (path[0] == 0) { /* abstract: @name, bytes not printable as \xNN */
			at = zap_fmt(buf, n, "@");
			for (size_t i = 1; i < plen && at + 5 < n; i++) {
				unsigned char c = (unsigned char)path[i];
				at += c >= 32 && c < 127 ? zap_fmt(buf + at, n - at, "%c", c)
							 : zap_fmt(buf + at, n - at, "\\x%x", c);
			}
			return at;
		}
		for (size_t i = 0; i < plen && path[i] && at + 1 < n; i++)
			at += zap_fmt(buf + at, n - at, "%c", path[i]);
		return at;
	}
	return zap_fmt(buf, n, "family %u", family);
}

size_t zap_sock_describe(int img_fd, const struct zap_img_fd *f, char *buf, size_t n)
{
	static const char *const states[] = {"?", "unbound", "bound", "listening", "connected"};
	int family = (int)(f->aux[1] & 0xffff), type = (int)((f->aux[1] >> 16) & 0xffff);
	uint32_t state = (uint32_t)f->aux[2];
	const char *fam = family == AF_UNIX ? "unix" : family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : NULL;
	const char *ty = type == SOCK_STREAM ? (family == AF_UNIX ? "stream" : "tcp")
			 : type == SOCK_DGRAM ? (family == AF_UNIX ? "dgram" : "udp")
			 : type == SOCK_SEQPACKET ? "seqpacket" : type == SOCK_RAW ? "raw" : "?";
	size_t at = fam ? zap_fmt(buf, n, "%s %s %s", fam, ty, states[state <= 4 ? state : 0])
			: zap_fmt(buf, n, "family %d type %d %s", family, type, states[state <= 4 ? state : 0]);
	if (state == ZAP_SOCK_LISTEN)
		at += zap_fmt(buf + at, n - at, " backlog %u", (uint32_t)(f->aux[2] >> 32));
	struct zap_img_sock_addr a;
	if (f->data_len && zap_sock_read_addr(img_fd, f, &a) == 0) {
		if (a.local_len && at + 2 < n) {
			at += zap_fmt(buf + at, n - at, " ");
			at += zap_sock_addr_str(a.local, a.local_len, buf + at, n - at);
		}
		if (a.peer_len && at + 4 < n) {
			at += zap_fmt(buf + at, n - at, " -> ");
			at += zap_sock_addr_str(a.peer, a.peer_len, buf + at, n - at);
		}
		if (f->data_len > sizeof(a))
			at += zap_fmt(buf + at, n - at, ", %lu bytes waiting", (unsigned long)(f->data_len - sizeof(a)));
	}
	return at;
}
