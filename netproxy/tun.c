/* Tunnels: one client connection and one connection to the pod, spliced
 * through two bounded buffers, and the byte accounting that lets the pod
 * side go away and come back (docs/design-notes.md, "The connection
 * keeper").
 *
 *   sent      stream bytes written to the pod side (headers not counted)
 *   received  stream bytes read from the pod side
 *   ring      the last px_opts.ring bytes sent, so that what the program
 *             had not read when it stopped can be sent again
 *
 * A frozen tunnel neither reads its client nor writes its pod side, but
 * keeps reading the pod side, so the program's send queue drains into the
 * proxy (and on to the client).  When the pod side closes while frozen,
 * the pod has stopped to move: the tunnel is held, client open, until a
 * RESUME brings a new pod side, or --hold runs out.
 *
 * An inbound tunnel's pod side starts with our HELLO; the pod's preload
 * answers with a CHALLENGE when the program accepts, and only then does
 * the OPEN (MAC'd over both nonces) go, with the client's bytes after it.
 * Headers (HELLO, OPEN, REPLY) go out even while frozen: they are not
 * stream bytes, and a pod stopping for a checkpoint counts none of them. */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#define FROZEN_BUF_MAX (64u << 20) /* the pod's send queue, drained while frozen */
#define CONNECT_TIMEOUT_S 10.0
#define POD_SNDBUF (1 << 20)       /* bounds what the ring must hold (docs) */
/* what the pod may have acknowledged and not read: the preload fixes
 * SO_RCVBUF of its tunnel sockets at 1 MiB, which the kernel doubles */
#define POD_RCVQ_MAX ((2u << 20) + (256u << 10))
#define PIPE_SIZE (1 << 20)
#define NO_PIPE (-2)

static struct tun *tuns;
static uint64_t next_id;

static void client_ev(struct zl *l, int fd, void *data, int mask);
static void dial_done(struct tun *t);
static void dial_failed(struct tun *t, int err);
static int pod_write(struct tun *t);
static int pipe_open(int p[2], size_t *cap);
static void pod_ev(struct zl *l, int fd, void *data, int mask);

/* ---- buffers ---- */

static int buf_room(struct buf *b, size_t want)
{
	if (b->off + b->len + want <= b->cap)
		return 0;
	if (b->off) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	if (b->len + want <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + want)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (buf_room(b, n) < 0)
		return -1;
	memcpy(b->p + b->off + b->len, data, n);
	b->len += n;
	return 0;
}

static void buf_take(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Read into b, at most max bytes in all: >0, 0 at EOF, -errno. */
static long buf_read(int fd, struct buf *b, size_t max)
{
	if (b->len >= max)
		return -EAGAIN;
	size_t want = max - b->len;
	if (want > px_opts.buf)
		want = px_opts.buf;
	if (buf_room(b, want) < 0)
		return -ENOMEM;
	ssize_t n = read(fd, b->p + b->off + b->len, want);
	if (n < 0)
		return -errno;
	b->len += (size_t)n;
	return n;
}

/* ---- the ring of bytes sent to the pod ----
 *
 * Bytes toward the pod come through the pipe up[] and are teed into the
 * pipe rp[]: the ring's newest part is references to the pages the bytes
 * came in, not a copy.  Its oldest bytes leave it for /dev/null (no copy)
 * once the pod has surely read them: they are older than --ring, or the
 * pod's kernel acknowledged them (SIOCOUTQ of the pod side) and are more
 * than a receive queue (POD_RCVQ_MAX) behind.  They are copied into the
 * memory ring only when rp[] is out of room for pages while the pod may
 * still need them, before bytes from c2p are put in, and at a RESUME. */

static int devnull = -1;

/* The oldest stream offset the ring still holds. */
static uint64_t ring_start(const struct tun *t)
{
	uint64_t w = t->ring_end > px_opts.ring ? t->ring_end - px_opts.ring : 0;
	return t->rstart > w ? t->rstart : w;
}

/* Bytes before this need not be kept. */
static uint64_t ring_need(struct tun *t)
{
	uint64_t from = ring_start(t);
	int outq;
	if (t->pfd >= 0 && !t->connecting && ioctl(t->pfd, SIOCOUTQ, &outq) == 0 && outq >= 0 &&
	    t->sent >= (uint64_t)outq + POD_RCVQ_MAX && t->sent - (uint64_t)outq - POD_RCVQ_MAX > from)
		from = t->sent - (uint64_t)outq - POD_RCVQ_MAX;
	return from;
}

/* The n oldest bytes of rp[] dropped. */
static int ring_drop(struct tun *t, size_t n)
{
	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	while (n) {
		ssize_t k = splice(t->rp[0], NULL, devnull, NULL, n, SPLICE_F_NONBLOCK);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		n -= (size_t)k;
		t->rlen -= (size_t)k;
	}
	return 0;
}

/* Room in rp[]: its oldest bytes dropped while they need not be kept,
 * then at least copy more of them (all: SIZE_MAX) copied into memory. */
static int ring_evict(struct tun *t, size_t copy)
{
	size_t cap = px_opts.ring;
	uint64_t head = t->ring_end - t->rlen, need = ring_need(t);
	if (need > head) {
		size_t n = need - head < t->rlen ? (size_t)(need - head) : t->rlen;
		if (ring_drop(t, n) < 0)
			return -1;
		head += n;
		if (t->rstart < head)
			t->rstart = head; /* what memory holds is older: not next to it */
	}
	if (copy > t->rlen)
		copy = t->rlen;
	if (copy && !t->ring && !(t->ring = malloc(cap)))
		return -1;
	while (copy) {
		size_t at = (size_t)(head % cap), room = cap - at;
		ssize_t r = read(t->rp[0], t->ring + at, copy < room ? copy : room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		head += (uint64_t)r;
		copy -= (size_t)r;
		t->rlen -= (size_t)r;
	}
	return 0;
}

/* The head of up[] (nothing of it in the ring yet) teed into rp[]: all of
 * it, or as much as rp[] takes; the rest once that part is sent. */
static int ring_tee(struct tun *t)
{
	if (ring_evict(t, 0) < 0)
		return -1;
	ssize_t k;
	/* rp[] out of slots: its oldest bytes into memory, until it takes some */
	while ((k = tee(t->up[0], t->rp[1], t->uplen, SPLICE_F_NONBLOCK)) < 0 && errno == EAGAIN && t->rlen)
		if (ring_evict(t, t->uplen > (64u << 10) ? t->uplen : 64u << 10) < 0)
			return -1;
	if (k <= 0)
		return -1;
	t->upteed = (size_t)k;
	t->rlen += (size_t)k;
	t->ring_end += (uint64_t)k;
	return 0;
}

/* Bytes from stream offset off into the ring; ring_end moves past them. */
static int ring_put(struct tun *t, uint64_t off, const char *p, size_t n)
{
	size_t cap = px_opts.ring;
	if (ring_evict(t, SIZE_MAX) < 0 || (!t->ring && !(t->ring = malloc(cap))))
		return -1;
	if (n > cap) {
		p += n - cap;
		off += n - cap;
		n = cap;
	}
	size_t at = (size_t)(off % cap), first = cap - at < n ? cap - at : n;
	memcpy(t->ring + at, p, first);
	memcpy(t->ring, p + first, n - first);
	if (off + n > t->ring_end)
		t->ring_end = off + n;
	return 0;
}

/* Bytes [from, t->sent) from the ring, appended to b. */
static int ring_get(struct tun *t, uint64_t from, struct buf *b)
{
	size_t n = (size_t)(t->sent - from), cap = px_opts.ring;
	if (!n)
		return 0;
	if (ring_evict(t, SIZE_MAX) < 0 || !t->ring || n > cap || buf_room(b, n) < 0)
		return -1;
	size_t at = (size_t)(from % cap), first = cap - at < n ? cap - at : n;
	memcpy(b->p + b->off + b->len, t->ring + at, first);
	memcpy(b->p + b->off + b->len + first, t->ring, n - first);
	b->len += n;
	return 0;
}

/* ---- life ---- */

struct tun *tun_find(uint64_t id)
{
	for (struct tun *t = tuns; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

size_t tun_count(struct pod *pod)
{
	size_t n = 0;
	for (struct tun *t = tuns; t; t = t->next)
		n += t->pod == pod;
	return n;
}

static void close_fd(int *fd)
{
	if (*fd < 0)
		return;
	zl_unwatch(px_loop, *fd);
	close(*fd);
	*fd = -1;
}

static void tun_close(struct tun *t, const char *why)
{
	if (px_opts.verbose || why[0] == '!')
		px_log("tunnel %llu of pod %s closed: %s (sent %llu, received %llu)",
		       (unsigned long long)t->id, t->pod->name, why[0] == '!' ? why + 1 : why,
		       (unsigned long long)t->sent, (unsigned long long)t->received);
	if (t->cfd >= 0) {
		/* EOF rather than a reset: a socket closed with bytes unread
		 * sends RST, so what the client sent and nobody will read goes */
		char sink[16384];
		shutdown(t->cfd, SHUT_WR);
		for (int i = 0; i < 64 && read(t->cfd, sink, sizeof(sink)) > 0; i++)
			;
	}
	close_fd(&t->cfd);
	close_fd(&t->pfd);
	for (int i = 0; i < 2; i++) {
		if (t->pp[i] >= 0)
			close(t->pp[i]);
		if (t->up[i] >= 0)
			close(t->up[i]);
		if (t->rp[i] >= 0)
			close(t->rp[i]);
	}
	buf_free(&t->pre);
	buf_free(&t->c2p);
	buf_free(&t->p2c);
	free(t->ring);
	if (t->prev)
		t->prev->next = t->next;
	else
		tuns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
}

/* The pod side went away while frozen: hold the client for a RESUME. */
static void pod_gone(struct tun *t)
{
	close_fd(&t->pfd);
	t->connecting = 0;
	t->p_shut = 0;
	t->deadline = zl_now() + px_opts.hold_s;
	if (px_opts.verbose)
		px_log("tunnel %llu of pod %s: pod side gone, holding (sent %llu, received %llu)",
		       (unsigned long long)t->id, t->pod->name, (unsigned long long)t->sent,
		       (unsigned long long)t->received);
}

/* Shut-downs, the end, and what each side should be watched for.
 * Returns 0 when the tunnel was closed (t is gone). */
static int tun_update(struct tun *t)
{
	if (t->pfd >= 0 && !t->frozen && !t->connecting && !t->awaiting && t->c_eof && !t->c2p.len &&
	    !t->pre.len && !t->uplen && !t->p_shut) {
		shutdown(t->pfd, SHUT_WR);
		t->p_shut = 1;
	}
	if (t->cfd >= 0 && t->p_eof && !t->p2c.len && !t->pplen && !t->c_shut) {
		shutdown(t->cfd, SHUT_WR);
		t->c_shut = 1;
	}
	if (t->c_shut && t->p_shut && t->p_eof && t->c_eof) {
		tun_close(t, "both sides done");
		return 0;
	}
	if (t->dialing) {
		zl_mask(px_loop, t->cfd, ZL_WRITE);
		zl_mask(px_loop, t->pfd, 0);
		return 1;
	}
	if (t->cfd >= 0) {
		int m = 0;
		if (!t->c_eof && !t->frozen && !t->uplen && t->c2p.len < px_opts.buf)
			m |= ZL_READ;
		if (t->p2c.len || t->pplen)
			m |= ZL_WRITE;
		zl_mask(px_loop, t->cfd, m);
	}
	if (t->pfd >= 0) {
		int m = 0;
		if (t->connecting) {
			m = ZL_WRITE;
		} else {
			if (t->awaiting || (!t->p_eof && (t->frozen ? t->p2c.len < FROZEN_BUF_MAX
				     : t->p2c.len ? t->p2c.len < px_opts.buf : t->pp[0] < 0 || t->pplen < t->ppcap)))
				m |= ZL_READ;
			if (t->pre.len || (!t->frozen && !t->awaiting && (t->c2p.len || t->uplen)))
				m |= ZL_WRITE;
		}
		zl_mask(px_loop, t->pfd, m);
	}
	return 1;
}

static void set_sockopts(int fd, int pod_side)
{
	int one = 1, sndbuf = POD_SNDBUF;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (pod_side)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

static void header(struct zap_tun_msg *m, int type, const struct tun *t)
{
	zap_tun_init(m, type);
	m->id = t->id;
	snprintf(m->name, sizeof(m->name), "%s", t->pod->name);
}

/* The MAC of a header with its fields set: over the nonces of the pod
 * side's exchange (OPEN: ours, as the asker; REPLY: the challenge's). */
static void seal(const struct tun *t, struct zap_tun_msg *m)
{
	memcpy(m->nonce, m->type == ZAP_TUN_REPLY ? t->ns : t->nc, sizeof(m->nonce));
	zap_tun_seal(px_key, t->ns, t->nc, m);
}

/* The pod's CHALLENGE, complete in t->ch: the OPEN goes.  0, or -1 when
 * the tunnel closed. */
static int challenged(struct tun *t)
{
	if (!zap_tun_is(&t->ch, ZAP_TUN_CHALLENGE)) {
		tun_close(t, "!the pod answered no challenge (not a zap pod, or another version)");
		return -1;
	}
	memcpy(t->ns, t->ch.nonce, sizeof(t->ns));
	struct zap_tun_msg m;
	header(&m, ZAP_TUN_OPEN, t);
	m.addrlen = t->calen <= sizeof(m.addr) ? (uint32_t)t->calen : 0;
	memcpy(m.addr, &t->caddr, m.addrlen);
	seal(t, &m);
	if (buf_add(&t->pre, &m, sizeof(m)) < 0) {
		tun_close(t, "!no memory");
		return -1;
	}
	t->awaiting = 0;
	return 0;
}

static struct tun *tun_new(struct pod *pod, int cfd, int pfd)
{
	struct tun *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (!next_id) /* ids from a clock, so a restarted proxy does not reuse them */
		next_id = (uint64_t)(zl_now() * 1000) << 20;
	t->id = ++next_id;
	t->pod = pod;
	t->cfd = cfd;
	t->pfd = pfd;
	t->pp[0] = t->pp[1] = t->up[0] = t->up[1] = t->rp[0] = t->rp[1] = -1;
	t->ce = (struct tun_end){t, 0};
	t->pe = (struct tun_end){t, 1};
	t->next = tuns;
	if (tuns)
		tuns->prev = t;
	tuns = t;
	return t;
}

struct tun *tun_open(struct pod *pod, int cfd, const struct sockaddr *pod_addr, socklen_t len)
{
	struct tun *t = tun_new(pod, cfd, -1);
	if (!t) {
		close(cfd);
		return NULL;
	}
	t->calen = sizeof(t->caddr);
	getpeername(cfd, (struct sockaddr *)&t->caddr, &t->calen);
	px_nonblock(cfd);
	set_sockopts(cfd, 0);
	struct zap_tun_msg m;
	zap_tun_init(&m, ZAP_TUN_HELLO);
	t->pfd = socket(pod_addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->pfd < 0 || px_random(t->nc, sizeof(t->nc)) < 0 ||
	    (memcpy(m.nonce, t->nc, sizeof(m.nonce)), buf_add(&t->pre, &m, sizeof(m)) < 0)) {
		tun_close(t, "!no socket, random bytes or memory");
		return NULL;
	}
	t->awaiting = 1;
	set_sockopts(t->pfd, 1);
	if (connect(t->pfd, pod_addr, len) < 0 && errno != EINPROGRESS) {
		px_log("pod %s: cannot connect to it: %s", pod->name, strerror(errno));
		tun_close(t, "pod unreachable");
		return NULL;
	}
	t->connecting = 1;
	t->deadline = zl_now() + CONNECT_TIMEOUT_S;
	if (zl_watch(px_loop, t->cfd, 0, client_ev, &t->ce) < 0 ||
	    zl_watch(px_loop, t->pfd, 0, pod_ev, &t->pe) < 0) {
		tun_close(t, "!cannot watch");
		return NULL;
	}
	tun_update(t);
	return t;
}

/* ---- outbound: the pod's connect() to an outside address ---- */

static void dial_reply(struct tun *t, int status)
{
	struct zap_tun_msg r;
	header(&r, ZAP_TUN_REPLY, t);
	r.status = status;
	seal(t, &r);
	buf_add(&t->pre, &r, sizeof(r));
}

static void dial_failed(struct tun *t, int err)
{
	struct zap_tun_msg r;
	header(&r, ZAP_TUN_REPLY, t);
	r.status = err;
	seal(t, &r);
	/* the connection has sent only its challenge: the reply fits at once */
	if (write(t->pfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		px_log("pod %s: cannot say the connect failed: %s", t->pod->name, strerror(errno));
	tun_close(t, err == ETIMEDOUT ? "destination did not answer" : "destination refused");
}

static void dial_done(struct tun *t)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(t->cfd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		dial_failed(t, err);
		return;
	}
	t->dialing = 0;
	dial_reply(t, 0);
	if (pod_write(t) == 0)
		tun_update(t);
}

int tun_dial(struct pod *pod, int fd, const struct zap_tun_msg *m, const uint8_t *ns)
{
	const struct sockaddr *to = (const struct sockaddr *)m->addr;
	if (m->addrlen < sizeof(struct sockaddr_in) || m->addrlen > sizeof(m->addr) ||
	    (to->sa_family != AF_INET && to->sa_family != AF_INET6))
		return EINVAL;
	int c = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c < 0)
		return errno;
	if (connect(c, to, m->addrlen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(c);
		return e;
	}
	struct tun *t = tun_new(pod, c, fd);
	if (!t) {
		close(c);
		return ENOMEM;
	}
	t->calen = m->addrlen;
	memcpy(&t->caddr, m->addr, m->addrlen);
	memcpy(t->ns, ns, sizeof(t->ns));
	memcpy(t->nc, m->nonce, sizeof(t->nc));
	t->dialing = 1;
	t->deadline = zl_now() + CONNECT_TIMEOUT_S;
	px_nonblock(fd);
	set_sockopts(fd, 1);
	set_sockopts(c, 0);
	if (zl_watch(px_loop, c, ZL_WRITE, client_ev, &t->ce) < 0 ||
	    zl_watch(px_loop, fd, 0, pod_ev, &t->pe) < 0) {
		t->pfd = -1; /* the caller still owns fd */
		tun_close(t, "!cannot watch");
		return ENOMEM;
	}
	if (px_opts.verbose)
		px_log("tunnel %llu of pod %s: outbound", (unsigned long long)t->id, pod->name);
	return 0;
}

/* ---- forwarding ---- */

/* Writes what waits for the pod side.  0, or -1 when the tunnel closed. */
static int pod_write(struct tun *t)
{
	while (t->pfd >= 0 && !t->connecting &&
	       (t->pre.len || (!t->frozen && !t->awaiting && (t->c2p.len || t->uplen)))) {
		int piped = !t->pre.len && !t->c2p.len; /* the pipe, after what waits in buffers */
		struct buf *b = t->pre.len ? &t->pre : &t->c2p;
		if (piped && !t->upteed && ring_tee(t) < 0) {
			tun_close(t, "!the ring failed");
			return -1;
		}
		ssize_t n = piped ? splice(t->up[0], NULL, t->pfd, NULL, t->upteed, SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
				  : write(t->pfd, b->p + b->off, b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			tun_close(t, "pod side write failed");
			return -1;
		}
		if (piped) { /* in the ring since ring_tee */
			t->upteed -= (size_t)n;
			t->uplen -= (size_t)n;
			t->sent += (uint64_t)n;
			continue;
		}
		if (b == &t->c2p) {
			/* bytes sent again after a RESUME are in the ring already */
			uint64_t end = t->sent + (uint64_t)n;
			if (end > t->ring_end) {
				size_t skip = t->ring_end > t->sent ? (size_t)(t->ring_end - t->sent) : 0;
				if (ring_put(t, t->sent + skip, b->p + b->off + skip, (size_t)n - skip) < 0) {
					tun_close(t, "!no memory for the ring");
					return -1;
				}
			}
			t->sent = end;
		}
		buf_take(b, (size_t)n);
	}
	return 0;
}

/* The pod side's bytes through the pipe: spliced, not copied.  Only when
 * nothing waits in p2c, so that the bytes keep their order. */
static long pipe_read(struct tun *t)
{
	if (t->pp[0] == -1 && pipe_open(t->pp, &t->ppcap) < 0)
		return -EAGAIN;
	if (t->pplen >= t->ppcap)
		return -EAGAIN;
	ssize_t n = splice(t->pfd, NULL, t->pp[1], NULL, t->ppcap - t->pplen, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n < 0)
		return -errno;
	t->pplen += (size_t)n;
	return n;
}

static int pipe_open(int p[2], size_t *cap)
{
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		p[0] = p[1] = NO_PIPE;
		return -1;
	}
	fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
	long sz = fcntl(p[1], F_GETPIPE_SZ);
	if (cap)
		*cap = sz > 0 ? (size_t)sz : 65536;
	return 0;
}

/* The client's bytes through a pipe: spliced in, teed into the ring's
 * pipe (no copy) and spliced out to the pod by pod_write.  Only when the
 * pipe and c2p are empty, so that the ring gets them in order: >0, 0 at
 * EOF, -errno (-EAGAIN: use the buffer). */
static long up_read(struct tun *t)
{
	if (t->up[0] == -1 && (pipe_open(t->up, &t->upcap) < 0 || pipe_open(t->rp, NULL) < 0)) {
		for (int i = 0; i < 2; i++)
			if (t->up[i] >= 0)
				close(t->up[i]);
		t->up[0] = t->up[1] = NO_PIPE;
	}
	if (t->up[0] == NO_PIPE || t->uplen || t->c2p.len)
		return -EAGAIN;
	ssize_t n = splice(t->cfd, NULL, t->up[1], NULL, t->upcap, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	t->uplen = (size_t)n;
	t->upteed = 0;
	return n;
}

static int client_write(struct tun *t)
{
	while (t->cfd >= 0 && t->pplen) {
		ssize_t n = splice(t->pp[0], NULL, t->cfd, NULL, t->pplen, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			tun_close(t, "client went away");
			return -1;
		}
		t->pplen -= (size_t)n;
	}
	while (t->cfd >= 0 && t->p2c.len) {
		ssize_t n = write(t->cfd, t->p2c.p + t->p2c.off, t->p2c.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			tun_close(t, "client went away");
			return -1;
		}
		buf_take(&t->p2c, (size_t)n);
	}
	return 0;
}

static void client_ev(struct zl *l, int fd, void *data, int mask)
{
	(void)l;
	(void)fd;
	struct tun *t = ((struct tun_end *)data)->t;
	if (t->dialing) {
		if (mask & ZL_WRITE)
			dial_done(t);
		return;
	}
	if (mask & ZL_READ) {
		if (t->frozen || t->c_eof) {
			/* an error or hang-up while we are not reading: a client
			 * that leaves during a freeze is closed cleanly */
			int err = 0;
			socklen_t len = sizeof(err);
			getsockopt(t->cfd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err) {
				tun_close(t, "client reset");
				return;
			}
		} else {
			long n = up_read(t);
			if (n == -EAGAIN && !t->uplen)
				n = buf_read(t->cfd, &t->c2p, px_opts.buf);
			if (n == 0) {
				t->c_eof = 1;
			} else if (n < 0 && n != -EAGAIN && n != -EINTR) {
				tun_close(t, "client read failed");
				return;
			}
			if (pod_write(t) < 0)
				return;
		}
	}
	if ((mask & ZL_WRITE) && client_write(t) < 0)
		return;
	tun_update(t);
}

static void pod_ev(struct zl *l, int fd, void *data, int mask)
{
	(void)l;
	(void)fd;
	struct tun *t = ((struct tun_end *)data)->t;
	if (t->connecting) {
		if (!(mask & ZL_WRITE))
			return;
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(t->pfd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			px_log("pod %s: cannot connect to it: %s", t->pod->name, strerror(err));
			tun_close(t, "pod unreachable");
			return;
		}
		t->connecting = 0;
		if (t->awaiting) /* the pod's program may take its time to accept */
			t->deadline = zl_now() + px_opts.hold_s;
	}
	if ((mask & ZL_READ) && t->awaiting) {
		ssize_t n = read(t->pfd, (char *)&t->ch + t->chgot, sizeof(t->ch) - t->chgot);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			tun_close(t, "!the pod closed the connection before its challenge");
			return;
		}
		if (n > 0 && (t->chgot += (size_t)n) == sizeof(t->ch) && (challenged(t) < 0 || pod_write(t) < 0))
			return;
	} else if (mask & ZL_READ) {
		long n = -EAGAIN;
		if (!t->frozen && !t->p2c.len && t->pp[0] != NO_PIPE)
			n = pipe_read(t);
		if (n == -EAGAIN && (t->frozen || t->p2c.len || t->pp[0] == NO_PIPE))
			n = buf_read(t->pfd, &t->p2c, t->frozen ? FROZEN_BUF_MAX : px_opts.buf);
		if (n > 0) {
			t->received += (uint64_t)n;
		} else if (n == 0 || (n != -EAGAIN && n != -EINTR)) {
			if (t->frozen) {
				pod_gone(t);
			} else if (n == 0) {
				t->p_eof = 1;
			} else {
				tun_close(t, "pod side read failed");
				return;
			}
		}
		if (client_write(t) < 0)
			return;
	}
	if ((mask & ZL_WRITE) && pod_write(t) < 0)
		return;
	tun_update(t);
}

/* ---- freeze, thaw, resume ---- */

void tun_freeze_pod(struct pod *pod, int frozen)
{
	for (struct tun *t = tuns, *next; t; t = next) {
		next = t->next;
		if (t->pod != pod)
			continue;
		if (frozen)
			t->frozen = 1;
		else if (t->pfd >= 0)
			t->frozen = 0; /* held ones wait for their RESUME */
		tun_update(t);
		if (!frozen && pod_write(t) == 0)
			client_write(t);
	}
}

int tun_resume(int fd, const struct zap_tun_msg *m, const uint8_t *ns, struct pod **pod)
{
	struct tun *t = tun_find(m->id);
	if (!t)
		return ENOENT;
	if (*pod)
		t->pod = *pod; /* the name it came back under */
	*pod = t->pod;
	if (t->pfd >= 0) {
		/* the old pod side has not been seen closing yet: take what it
		 * still holds (the program wrote it before it stopped) */
		for (;;) {
			long n = buf_read(t->pfd, &t->p2c, FROZEN_BUF_MAX);
			if (n <= 0)
				break;
			t->received += (uint64_t)n;
		}
		close_fd(&t->pfd);
	}
	if (m->written != t->received || m->consumed > t->sent || m->consumed < ring_start(t)) {
		px_log("tunnel %llu of pod %s: cannot resume: the program wrote %llu and read %llu "
		       "bytes, the proxy received %llu and sent %llu (ring %zu)",
		       (unsigned long long)t->id, t->pod->name, (unsigned long long)m->written,
		       (unsigned long long)m->consumed, (unsigned long long)t->received,
		       (unsigned long long)t->sent, px_opts.ring);
		tun_close(t, "!lost bytes");
		return EPROTO;
	}
	/* what the program had not read goes again, before what waits */
	struct buf again = {0};
	if (ring_get(t, m->consumed, &again) < 0 || buf_add(&again, t->c2p.p + t->c2p.off, t->c2p.len) < 0) {
		buf_free(&again);
		tun_close(t, "!no memory");
		return ENOMEM;
	}
	buf_free(&t->c2p);
	t->c2p = again;
	uint64_t resent = t->sent - m->consumed;
	t->sent = m->consumed;
	memcpy(t->ns, ns, sizeof(t->ns));
	memcpy(t->nc, m->nonce, sizeof(t->nc));
	struct zap_tun_msg r;
	header(&r, ZAP_TUN_REPLY, t);
	r.consumed = t->sent;
	r.written = t->received;
	seal(t, &r);
	buf_free(&t->pre);
	if (buf_add(&t->pre, &r, sizeof(r)) < 0) {
		tun_close(t, "!no memory");
		return ENOMEM;
	}
	t->pfd = fd;
	t->frozen = 0;
	t->p_eof = t->p_shut = 0;
	t->connecting = t->awaiting = 0;
	px_nonblock(fd);
	set_sockopts(fd, 1);
	if (zl_watch(px_loop, fd, 0, pod_ev, &t->pe) < 0) {
		t->pfd = -1;
		tun_close(t, "!cannot watch");
		return ENOMEM;
	}
	if (px_opts.verbose)
		px_log("tunnel %llu of pod %s resumed: %llu bytes sent again", (unsigned long long)t->id,
		       t->pod->name, (unsigned long long)resent);
	if (pod_write(t) == 0)
		tun_update(t);
	return 0;
}

void tun_tick(double now)
{
	for (struct tun *t = tuns, *next; t; t = next) {
		next = t->next;
		if (t->connecting && now > t->deadline)
			tun_close(t, "!the pod did not answer");
		else if (t->awaiting && now > t->deadline)
			tun_close(t, "!the pod did not take the connection (no challenge within --hold)");
		else if (t->dialing && now > t->deadline)
			dial_failed(t, ETIMEDOUT);
		else if (t->pfd < 0 && now > t->deadline)
			tun_close(t, "!the pod did not come back (--hold)");
	}
}
