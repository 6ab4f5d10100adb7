/* UNIX socket pairs with both ends in the process (the self-pipe of event
 * loops such as Python's asyncio, made with socketpair).  The kernel's
 * sock_diag tells each socket's peer; two fds of ours that are each
 * other's peer are one pair.  The bytes waiting in each end's receive
 * queue are copied with MSG_PEEK (not taken).  Restore makes a socketpair,
 * puts the ends at their numbers and writes each end's bytes from the
 * other end.  Stream sockets keep their bytes; a datagram pair keeps only
 * its first waiting datagram per end.
 *
 * The UNIX side of the sockets that come back by themselves (sock.c) is
 * here too: a listener's backlog from sock_diag, binding a path again
 * (its stale socket file removed), and a connection to outside the pod,
 * which comes back as a socket whose peer has closed. */
#include "dump.h"
#include "restore.h"
#include "sock.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define Z_UDIAG_SHOW_NAME 1
#define Z_UDIAG_SHOW_PEER 4
#define Z_UDIAG_SHOW_RQLEN 0x10
#define Z_UNIX_DIAG_NAME 0
#define Z_UNIX_DIAG_PEER 2
#define Z_UNIX_DIAG_RQLEN 4

struct z_unix_diag_req {
	uint8_t family, protocol;
	uint16_t pad;
	uint32_t states, ino, show, cookie[2];
};
struct z_unix_diag_msg {
	uint8_t family, type, state, pad;
	uint32_t ino, cookie[2];
};
struct z_rtattr {
	uint16_t len, type;
};

/* What sock_diag says of one UNIX socket. */
struct unix_info {
	uint32_t peer;     /* the peer's inode, or 0 */
	int named;         /* bound */
	uint32_t backlog;  /* a listener's */
};

static void unix_answer(const void *msg, size_t len, void *arg)
{
	struct unix_info *u = arg;
	const char *buf = msg;
	for (size_t at = sizeof(struct z_unix_diag_msg); at + sizeof(struct z_rtattr) <= len;) {
		const struct z_rtattr *a = (const void *)(buf + at);
		if (a->len < sizeof(*a) || at + a->len > len)
			break;
		if (a->type == Z_UNIX_DIAG_PEER && a->len >= sizeof(*a) + 4)
			memcpy(&u->peer, buf + at + sizeof(*a), 4);
		if (a->type == Z_UNIX_DIAG_RQLEN && a->len >= sizeof(*a) + 8) /* rqueue, wqueue */
			memcpy(&u->backlog, buf + at + sizeof(*a) + 4, 4);
		if (a->type == Z_UNIX_DIAG_NAME)
			u->named = 1;
		at += (a->len + 3u) & ~3u;
	}
}

static struct unix_info unix_diag(int nl, uint32_t ino)
{
	struct {
		struct z_nlmsghdr h;
		struct z_unix_diag_req r;
	} q = {{sizeof(q), Z_SOCK_DIAG_BY_FAMILY, Z_NLM_F_REQUEST, 1, 0},
	       {AF_UNIX, 0, 0, ~0u, ino, Z_UDIAG_SHOW_PEER | Z_UDIAG_SHOW_NAME | Z_UDIAG_SHOW_RQLEN,
		{~0u, ~0u}}};
	struct unix_info u = {0, 0, 0};
	if (zap_sock_diag(nl, &q, sizeof(q), unix_answer, &u) < 0)
		u.peer = 0;
	return u;
}

/* Every UNIX socket's peer (aux[3]); two fds of ours that are each other's
 * peer and unnamed are a socketpair. */
void zap_fd_sock_pair(struct zap_dump *d)
{
	long nl = -1;
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct zap_img_fd *f = &d->fds[i];
		if (f->kind != ZAP_FD_CLOSED_ON_RESTORE || (f->mode & S_IFMT) != S_IFSOCK || f->dup_of >= 0)
			continue;
		if (nl == -1)
			nl = zsys3(SYS_socket, 16 /* AF_NETLINK */, SOCK_DGRAM | SOCK_CLOEXEC,
				   Z_NETLINK_SOCK_DIAG);
		if (nl < 0)
			return;
		struct unix_info u = unix_diag((int)nl, (uint32_t)f->aux[0]);
		f->aux[3] = u.peer;
		f->aux[2] = u.named; /* for the pairing below; sock.c rewrites aux[2] */
	}
	if (nl >= 0)
		z_close((int)nl);
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct zap_img_fd *a = &d->fds[i];
		if (a->kind != ZAP_FD_CLOSED_ON_RESTORE || !a->aux[3] || a->aux[2])
			continue;
		for (uint32_t k = i + 1; k < d->nfds; k++) {
			struct zap_img_fd *b = &d->fds[k];
			if (b->kind != ZAP_FD_CLOSED_ON_RESTORE || b->aux[0] != a->aux[3] ||
			    b->aux[3] != a->aux[0] || b->aux[2])
				continue;
			int type = 0;
			uint32_t len = sizeof(type);
			zsys5(SYS_getsockopt, a->fd, SOL_SOCKET, SO_TYPE, &type, &len);
			a->kind = b->kind = ZAP_FD_SOCKPAIR;
			a->aux[1] = (uint64_t)b->fd;
			b->aux[1] = (uint64_t)a->fd;
			a->aux[4] = b->aux[4] = (uint64_t)type;
			a->aux[2] = b->aux[2] = 0;
			break;
		}
	}
}

#define Z_SO_PEEK_OFF 42

size_t zap_sock_unix_peek(int fd, int type, char *buf, size_t cap)
{
	if (type == SOCK_STREAM) {
		long n = zsys6(SYS_recvfrom, fd, (long)buf, (long)cap, MSG_PEEK | MSG_DONTWAIT, 0, 0);
		return n > 0 ? (size_t)n : 0;
	}
	int off = 0, none = -1;
	if (zsys5(SYS_setsockopt, fd, SOL_SOCKET, Z_SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return 0;
	size_t used = 0;
	while (used + sizeof(uint32_t) < cap) {
		long n = zsys6(SYS_recvfrom, fd, (long)(buf + used + sizeof(uint32_t)),
			       (long)(cap - used - sizeof(uint32_t)), MSG_PEEK | MSG_DONTWAIT, 0, 0);
		if (n < 0)
			break;
		uint32_t len = (uint32_t)n;
		memcpy(buf + used, &len, sizeof(len));
		used += sizeof(len) + len;
	}
	zsys5(SYS_setsockopt, fd, SOL_SOCKET, Z_SO_PEEK_OFF, &none, sizeof(none));
	return used;
}

long zap_sock_each_message(const char *data, uint64_t len, long (*fn)(const char *m, uint32_t n, void *arg),
			   void *arg)
{
	for (uint64_t at = 0; at < len;) {
		uint32_t n;
		if (len - at < sizeof(n))
			return -74;
		memcpy(&n, data + at, sizeof(n));
		at += sizeof(n);
		if (n > len - at)
			return -74;
		long e = fn(data + at, n, arg);
		if (e < 0)
			return e;
		at += n;
	}
	return 0;
}

/* The bytes waiting to be received by this end, copied into FILEDATA. */
int zap_fd_sock_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor)
{
	static char buf[Z_MAX_PEEK]; /* leader only, every other thread parked */
	f->data_off = *cursor;
	f->data_len = zap_sock_unix_peek(f->fd, (int)f->aux[4], buf, sizeof(buf));
	f->data_sum = zap_sum_pages(buf, f->data_len, 0);
	if (f->data_len && z_pwrite_all(d->img_fd, buf, f->data_len, *cursor) < 0)
		return zap_dump_error(d, "cannot write the bytes waiting in socket fd %d", f->fd);
	*cursor += ZAP_PAGE_UP(f->data_len);
	return 0;
}

/* ---- restore ---- */

static long send_message(const char *m, uint32_t n, void *arg)
{
	long w = zsys6(SYS_sendto, *(int *)arg, (long)m, (long)n, MSG_DONTWAIT, 0, 0);
	return w == (long)n ? 0 : w < 0 ? w : -5;
}

/* Writes the bytes kept for end e's receive queue into its peer: a
 * stream's as they come, each datagram as one message. */
static long refill(struct zap_restore *r, const struct zap_img_fd *e, int peer)
{
	static char buf[Z_MAX_PEEK]; /* the restorer is single-threaded here */
	if (e->data_len > sizeof(buf))
		return -74;
	if (z_pread_all(r->img_fd, buf, e->data_len, e->data_off) < 0)
		return -5;
	if (zap_sum_pages(buf, e->data_len, 0) != e->data_sum)
		return -74;
	if (e->aux[4] != SOCK_STREAM)
		return zap_sock_each_message(buf, e->data_len, send_message, &peer);
	return send_message(buf, (uint32_t)e->data_len, &peer);
}

long zap_fd_sock_open(struct zap_restore *r, const struct zap_img_fd *f)
{
	if (zsys2(SYS_fcntl, f->fd, F_GETFD) >= 0) /* placed with its other end */
		return f->fd;
	const struct zap_img_fd *o = zap_fd_other_end(r, f);
	if (!o)
		return -9; /* EBADF */
	int sv[2];
	long e = zsys4(SYS_socketpair, AF_UNIX, (int)f->aux[4] | SOCK_CLOEXEC, 0, sv);
	if (e < 0)
		return e;
	/* a new socket's send buffer may be smaller than what the old one held */
	int sndbuf[2];
	for (int w = 0; w < 2; w++) {
		uint32_t len = sizeof(sndbuf[w]);
		zsys5(SYS_getsockopt, sv[w], SOL_SOCKET, SO_SNDBUF, &sndbuf[w], &len);
		int want = (int)((w ? f : o)->data_len * 2 + (256 << 10));
		if (zsys5(SYS_setsockopt, sv[w], SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
			zsys5(SYS_setsockopt, sv[w], SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	}
	e = refill(r, f, sv[1]);
	if (e == 0)
		e = refill(r, o, sv[0]);
	for (int w = 0; w < 2; w++) { /* the kernel doubles what it is given */
		int back = sndbuf[w] / 2;
		zsys5(SYS_setsockopt, sv[w], SOL_SOCKET, SO_SNDBUF, &back, sizeof(back));
	}
	if (e < 0) {
		z_close(sv[0]);
		z_close(sv[1]);
		return e;
	}
	return zap_fd_place_pair(sv[0], sv[1], f, o);
}

/* ---- UNIX sockets that come back by themselves (sock.c) ---- */

static uint32_t unix_backlog(int nl, int family, uint32_t ino)
{
	(void)family;
	return unix_diag(nl, ino).backlog;
}

/* A path socket's stale file (the old socket's, which nobody listens on
 * any more) goes first; anything else at the path stays, and bind says so.
 * A relative path was relative to the program's working directory. */
static long unix_bind(struct zap_restore *r, int s, const uint8_t *sa, uint32_t len)
{
	struct {
		uint16_t family;
		char path[108];
	} un;
	if (len <= 2 || len > sizeof(un))
		return len <= 2 ? 0 : -22; /* unnamed: autobind on use, as before */
	memset(&un, 0, sizeof(un));
	memcpy(&un, sa, len);
	if (un.path[0]) {
		if (un.path[0] != '/') /* proc.c goes there too, later */
			zsys1(SYS_chdir, zap_img_str(r->img, r->img->proc->cwd_str));
		struct zap_kstat st;
		if (zsys4(SYS_newfstatat, ZAT_FDCWD, un.path, &st, 0x100 /* AT_SYMLINK_NOFOLLOW */) == 0 &&
		    (st.mode & S_IFMT) == S_IFSOCK)
			zsys3(SYS_unlinkat, ZAT_FDCWD, un.path, 0);
	}
	return zsys3(SYS_bind, s, &un, len);
}

/* A connection to a process outside the pod: a stream or seqpacket socket
 * whose peer has closed (read gives 0, write EPIPE); a datagram socket is
 * bound and connected to the same peer again, if it still exists. */
static long unix_connected(struct zap_restore *r, const struct zap_img_fd *f, const struct zap_img_sock_addr *a)
{
	int type = (int)((f->aux[1] >> 16) & 0xffff);
	if (type == SOCK_DGRAM) {
		long s = zsys3(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return s;
		zap_sock_set_options((int)s, f);
		unix_bind(r, (int)s, a->local, a->local_len);
		if (a->peer_len > 2)
			zsys3(SYS_connect, s, a->peer, a->peer_len);
		return s;
	}
	int sv[2];
	long e = zsys4(SYS_socketpair, AF_UNIX, type | SOCK_CLOEXEC, 0, sv);
	if (e < 0)
		return e;
	z_close(sv[1]);
	zap_sock_set_options(sv[0], f);
	return sv[0];
}

const struct zap_sock_family_ops zap_sock_unix_ops = {
	.family = AF_UNIX,
	.backlog = unix_backlog,
	.bind = unix_bind,
	.connected = unix_connected,
};
