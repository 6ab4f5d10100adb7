/* Open file descriptions shared between the members of a pod.
 *
 * Each member's process file describes its own fds; a pipe from one member
 * to another, or a file a parent opened before forking its children (they
 * share its offset), is one description with fds in several processes.
 * Checkpoint: with every member stopped, fds of different members are
 * matched (pipes by inode and direction, other files by kcmp(KCMP_FILE)),
 * and the pod file lists every fd of every description that spans members
 * (POD_FDS).  Restart: `zap restart` opens each such description once,
 * before the first restorer runs, at fds every restorer inherits; each
 * restorer puts the ones its process had at their numbers (and closes the
 * rest), so the members share them again, bytes in pipes included.
 *
 * A connection between two members (a UNIX socketpair or connection, or a
 * TCP connection over this host's loopback) is made again as a new pair
 * joined the same way: a socketpair, or for TCP a connection through a
 * listener of the moment on the loopback address, each end with the bytes
 * that were waiting for it sent from the other end, then its options and
 * its shutdown.  The preload answers getsockname and getpeername with the
 * old addresses (preload/sock.c). */
#include "image.h"
#include "podfds.h"
#include "sock.h"
#include "util.h"
#include "zap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KCMP_FILE 0

struct ref {
	int proc;             /* index into procs */
	struct zap_img_fd f;
	int is_pipe;
	int is_sock;          /* one end of a connection: aux[0] its inode, aux[3] its peer's */
	dev_t dev;            /* files: from /proc/PID/fd/N */
	ino_t ino;
	int up;               /* union-find */
	int selected, object;
};

static int root(struct ref *r, int i)
{
	while (r[i].up != i)
		i = r[i].up = r[r[i].up].up;
	return i;
}

static void join(struct ref *r, int a, int b)
{
	a = root(r, a);
	b = root(r, b);
	if (a != b)
		r[a > b ? a : b].up = a < b ? a : b; /* the earlier ref stays the root */
}

static int shareable_file(uint32_t kind)
{
	return kind == ZAP_FD_REG || kind == ZAP_FD_DIR || kind == ZAP_FD_CHR || kind == ZAP_FD_DELETED;
}

/* A connected socket whose peer may be in another member: a socketpair's
 * end, a UNIX connection, a TCP connection to another member's socket. */
static int sock_end(const struct zap_img_fd *f)
{
	if ((f->mode & S_IFMT) != S_IFSOCK || !f->aux[3])
		return 0;
	if (f->kind == ZAP_FD_SOCKPAIR)
		return 1;
	return f->kind == ZAP_FD_SOCKET && (f->aux[2] & 0xffffffff) == ZAP_SOCK_CONNECTED;
}

static int sock_family(const struct zap_img_fd *f)
{
	return f->kind == ZAP_FD_SOCKPAIR ? AF_UNIX : (int)(f->aux[1] & 0xffff);
}

static int sock_type(const struct zap_img_fd *f)
{
	return f->kind == ZAP_FD_SOCKPAIR ? (int)f->aux[4] : (int)((f->aux[1] >> 16) & 0xffff);
}

/* Where the bytes waiting for a socket end start in its FILEDATA. */
static uint64_t sock_bytes_at(const struct zap_img_fd *f)
{
	return f->kind == ZAP_FD_SOCKET ? sizeof(struct zap_img_sock_addr) : 0;
}

static int open_member(const char *dir, int32_t vpid, struct zap_img *img, char *path, size_t n,
		       char *err, size_t errlen)
{
	snprintf(path, n, "%s/%d.img", dir, (int)vpid);
	return zap_img_open(img, path, zap_image_alloc, NULL, err, errlen);
}

int zap_pod_fds_collect(const char *dir, const struct zap_pod_proc *procs, int nprocs,
			struct zap_img_pod_fd **out, uint32_t *nout, char *err, size_t errlen)
{
	struct ref *refs = NULL;
	size_t nrefs = 0, cap = 0;
	*out = NULL;
	*nout = 0;
	for (int p = 0; p < nprocs; p++) {
		if (procs[p].zombie)
			continue;
		struct zap_img img;
		char path[PATH_MAX + 32];
		if (open_member(dir, procs[p].vpid, &img, path, sizeof(path), err, errlen) < 0) {
			zap_image_free(&img);
			free(refs);
			return -1;
		}
		for (uint32_t i = 0; i < img.nfds; i++) {
			const struct zap_img_fd *f = &img.fds[i];
			int is_pipe = (f->mode & S_IFMT) == S_IFIFO &&
				      !strncmp(zap_img_str(&img, f->path_str), "pipe:", 5);
			int is_sock = sock_end(f);
			if (!is_pipe && !is_sock && !shareable_file(f->kind))
				continue;
			if (nrefs == cap) {
				cap = cap ? cap * 2 : 256;
				struct ref *nr = realloc(refs, cap * sizeof(*refs));
				if (!nr) {
					zap_image_free(&img);
					free(refs);
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				refs = nr;
			}
			struct ref *r = &refs[nrefs];
			memset(r, 0, sizeof(*r));
			r->proc = p;
			r->f = *f;
			r->is_pipe = is_pipe;
			r->is_sock = is_sock;
			r->up = (int)nrefs;
			struct stat st;
			char link[64];
			snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)procs[p].real, (int)f->fd);
			if (!is_pipe && !is_sock && stat(link, &st) == 0) {
				r->dev = st.st_dev;
				r->ino = st.st_ino;
			}
			nrefs++;
		}
		zap_image_free(&img);
	}
	for (size_t i = 0; i < nrefs; i++)
		for (size_t k = 0; k < i; k++) {
			struct ref *a = &refs[k], *b = &refs[i];
			if (a->is_pipe != b->is_pipe || a->is_sock != b->is_sock)
				continue;
			if (a->proc == b->proc) {
				if (b->f.dup_of == a->f.fd)
					join(refs, (int)k, (int)i);
				continue;
			}
			if (a->is_sock) { /* one socket, held by several members */
				if (a->f.aux[0] == b->f.aux[0])
					join(refs, (int)k, (int)i);
			} else if (a->is_pipe) {
				if (a->f.aux[0] == b->f.aux[0] &&
				    (a->f.open_flags & O_ACCMODE) == (b->f.open_flags & O_ACCMODE))
					join(refs, (int)k, (int)i);
			} else if (a->ino && a->ino == b->ino && a->dev == b->dev &&
				   root(refs, (int)k) != root(refs, (int)i) &&
				   syscall(SYS_kcmp, procs[a->proc].real, procs[b->proc].real, KCMP_FILE,
					   a->f.fd, b->f.fd) == 0) {
				join(refs, (int)k, (int)i);
			}
		}
	/* what spans members: a pipe with both ends in the pod, in two members
	 * or more; a file description in two members or more */
	for (size_t i = 0; i < nrefs; i++) {
		int procs_seen = 0, readers = 0, writers = 0, first_proc = -1;
		const struct zap_img_fd *fi = &refs[i].f;
		for (size_t k = 0; k < nrefs; k++) {
			const struct zap_img_fd *fk = &refs[k].f;
			int same;
			if (refs[i].is_pipe) /* both ends of the pipe */
				same = refs[k].is_pipe && fk->aux[0] == fi->aux[0];
			else if (refs[i].is_sock) /* both ends of the connection */
				same = refs[k].is_sock && (fk->aux[0] == fi->aux[0] || fk->aux[0] == fi->aux[3]);
			else
				same = root(refs, (int)k) == root(refs, (int)i);
			if (!same)
				continue;
			if (first_proc < 0)
				first_proc = refs[k].proc;
			procs_seen |= refs[k].proc != first_proc;
			if (refs[i].is_sock) {
				readers |= fk->aux[0] == fi->aux[0];
				writers |= fk->aux[0] == fi->aux[3];
			} else {
				readers |= (fk->open_flags & O_ACCMODE) == O_RDONLY;
				writers |= (fk->open_flags & O_ACCMODE) == O_WRONLY;
			}
		}
		refs[i].selected = procs_seen && (!refs[i].is_pipe && !refs[i].is_sock ? 1 : readers && writers);
	}
	uint32_t nobj = 0, n = 0;
	for (size_t i = 0; i < nrefs; i++)
		refs[i].object = -1;
	struct zap_img_pod_fd *recs = calloc(nrefs ? nrefs : 1, sizeof(*recs));
	if (!recs) {
		free(refs);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nrefs; i++) {
		if (!refs[i].selected)
			continue;
		int rt = root(refs, (int)i);
		if (refs[rt].object < 0)
			refs[rt].object = (int)nobj++;
		recs[n].pid = procs[refs[i].proc].vpid;
		recs[n].fd = refs[i].f.fd;
		recs[n].object = (uint32_t)refs[rt].object;
		n++;
	}
	free(refs);
	*out = recs;
	*nout = n;
	return 0;
}

/* ---- restart ---- */

struct member_img {
	int32_t vpid;
	struct zap_img img;
	char path[PATH_MAX + 32];
};

static const struct zap_img_fd *fd_record(const struct member_img *m, int32_t fd)
{
	for (uint32_t i = 0; i < m->img.nfds; i++)
		if (m->img.fds[i].fd == fd)
			return &m->img.fds[i];
	return NULL;
}

static const struct member_img *member(const struct member_img *ms, int n, int32_t vpid)
{
	for (int i = 0; i < n; i++)
		if (ms[i].vpid == vpid)
			return &ms[i];
	return NULL;
}

/* The first record of object k: the fd that describes it. */
static const struct zap_img_fd *describe(const struct zap_img *pod, const struct member_img *ms,
					 int n, uint32_t k, const struct member_img **owner)
{
	for (uint32_t i = 0; i < pod->npod_fds; i++)
		if (pod->pod_fds[i].object == k) {
			*owner = member(ms, n, pod->pod_fds[i].pid);
			return *owner ? fd_record(*owner, pod->pod_fds[i].fd) : NULL;
		}
	return NULL;
}

static long send_message(const char *m, uint32_t n, void *arg)
{
	ssize_t w = send(*(int *)arg, m, n, MSG_DONTWAIT);
	return w == (ssize_t)n ? 0 : w < 0 ? -errno : -EIO;
}

#define COPY_WAIT_MS 10000

/* How copy_bytes writes: into a file at the same offsets, down a pipe, or
 * as one message (a datagram socket's waiting datagram). */
enum copy_how { COPY_FILE, COPY_STREAM, COPY_SOCKET, COPY_MESSAGE };

/* Copies f's FILEDATA from from's image into fd, all but its first skip
 * bytes (a socket's addresses); checks the sum of all of it. */
static int copy_bytes(const struct member_img *from, const struct zap_img_fd *f, int fd,
		      enum copy_how how, uint64_t skip)
{
	static char buf[ZAP_SUM_CHUNK * 17]; /* a socket's messages, up to 1 MiB, whole */
	uint64_t sum = 0;
	int waited = 0;
	if (f->data_len > sizeof(buf) && how == COPY_MESSAGE)
		return -EMSGSIZE;
	for (uint64_t done = 0; done < f->data_len;) {
		size_t n = f->data_len - done < ZAP_SUM_CHUNK ? f->data_len - done : ZAP_SUM_CHUNK;
		char *p = how == COPY_MESSAGE ? buf + done : buf;
		if (pread(from->img.fd, p, n, (off_t)(f->data_off + done)) != (ssize_t)n)
			return -EIO;
		sum = zap_sum64(p, n, sum);
		done += n;
		if (how == COPY_MESSAGE)
			continue;
		size_t from_at = done - n < skip ? (size_t)(skip - (done - n) < n ? skip - (done - n) : n) : 0;
		for (size_t w = from_at; w < n;) {
			/* a socket's peer was made to hold it all: a TCP window
			 * takes a moment to open, nothing waits for long */
			ssize_t r = how == COPY_STREAM ? write(fd, p + w, n - w)
				    : how == COPY_SOCKET ? send(fd, p + w, n - w, MSG_DONTWAIT)
							 : pwrite(fd, p + w, n - w, (off_t)(done - n + w));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN && how == COPY_SOCKET && waited++ < COPY_WAIT_MS) {
				struct pollfd pf = {fd, POLLOUT, 0};
				poll(&pf, 1, 1);
				continue;
			}
			if (r <= 0)
				return r < 0 ? -errno : -EIO;
			w += (size_t)r;
		}
	}
	if (sum != f->data_sum)
		return -EBADMSG;
	if (how == COPY_MESSAGE && f->data_len > skip) {
		long e = zap_sock_each_message(buf + skip, f->data_len - skip, send_message, &fd);
		return e == -74 ? -EBADMSG : (int)e;
	}
	return 0;
}

static int place(int fd, int at)
{
	if (fd == at)
		return 0;
	int r = dup2(fd, at) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Both ends of the pipe that object k is one end of; its other end's
 * object, if the pod has one, gets its end too. */
static int open_pipe(const struct zap_img *pod, const struct member_img *ms, int n, uint32_t k,
		     const struct zap_img_fd *f, int base, unsigned char *done)
{
	int p[2];
	if (pipe(p) < 0)
		return -errno;
	int ends[2] = {-1, -1}; /* objects of the read and the write end */
	const struct zap_img_fd *ends_f[2] = {NULL, NULL};
	const struct member_img *reader = NULL;
	for (uint32_t j = 0; j < pod->npod_fds && j < 1u << 30; j++) {
		uint32_t obj = pod->pod_fds[j].object;
		const struct member_img *o;
		const struct zap_img_fd *g = describe(pod, ms, n, obj, &o);
		if (!g || g->aux[0] != f->aux[0] || (g->mode & S_IFMT) != S_IFIFO)
			continue;
		int w = (g->open_flags & O_ACCMODE) == O_WRONLY;
		if (ends[w] < 0) {
			ends[w] = (int)obj;
			ends_f[w] = g;
		}
		/* the bytes waiting: any read end that kept them */
		const struct member_img *m = member(ms, n, pod->pod_fds[j].pid);
		const struct zap_img_fd *h = m ? fd_record(m, pod->pod_fds[j].fd) : NULL;
		if (h && !w && h->data_len && !reader) {
			reader = m;
			ends_f[0] = h;
		}
	}
	(void)k;
	const struct zap_img_fd *rd = ends_f[0];
	if (rd && rd->aux[2])
		fcntl(p[1], F_SETPIPE_SZ, (int)rd->aux[2]);
	int e = reader ? copy_bytes(reader, rd, p[1], COPY_STREAM, 0) : 0;
	for (int w = 0; w < 2 && e == 0; w++) {
		if (ends[w] < 0) {
			close(p[w]);
			continue;
		}
		if (ends_f[w]->open_flags & O_NONBLOCK)
			fcntl(p[w], F_SETFL, O_NONBLOCK);
		e = place(p[w], base + ends[w]);
		done[ends[w]] = 1;
	}
	if (e) {
		close(p[0]);
		close(p[1]);
	}
	return e;
}

/* A loopback address of family for a socket of family peer to reach (an
 * IPv6 socket and an IPv4 one meet at ::ffff:127.0.0.1), port 0. */
static socklen_t loopback(int family, int peer, struct sockaddr_in6 *a)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)a;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*in);
	}
	a->sin6_family = AF_INET6;
	if (peer == AF_INET6) {
		a->sin6_addr = in6addr_loopback;
	} else {
		a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
		a->sin6_addr.s6_addr[12] = 127;
		a->sin6_addr.s6_addr[15] = 1;
	}
	return sizeof(*a);
}

/* The receive buffer end f needs to hold the bytes it had waiting (the
 * kernel doubles what it is given and counts buffers, not bytes); 0 when
 * a fresh socket's will do. */
static int rcvbuf_for(const struct zap_img_fd *f)
{
	uint64_t bytes = f->data_len - sock_bytes_at(f);
	uint64_t want = bytes < (32u << 10) ? 0 : bytes + (128u << 10);
	return want > (1u << 30) ? 1 << 30 : (int)want;
}

static void set_rcvbuf(int s, int want)
{
	if (want && setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
}

/* A new TCP connection over loopback between a socket like ends[0] (sv[0],
 * accepted) and one like ends[1] (sv[1], connecting), each with a receive
 * buffer for the bytes it will hold.  0 or -errno. */
static int tcp_pair(const struct zap_img_fd *const ends[2], int sv[2])
{
	int fam[2] = {sock_family(ends[0]), sock_family(ends[1])};
	struct sockaddr_in6 at;
	socklen_t len = loopback(fam[0], fam[1], &at);
	int l = socket(fam[0], SOCK_STREAM | SOCK_CLOEXEC, 0), off = 0, e = 0;
	sv[0] = sv[1] = -1;
	if (l < 0)
		return -errno;
	if (fam[0] == AF_INET6)
		setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	set_rcvbuf(l, rcvbuf_for(ends[0])); /* the accepted socket inherits it */
	if (bind(l, (struct sockaddr *)&at, len) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&at, &len) < 0 || (sv[1] = socket(fam[1], SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto err;
	in_port_t port = at.sin6_port; /* the same place in sockaddr_in */
	len = loopback(fam[1], fam[0], &at);
	at.sin6_port = port;
	if (fam[1] == AF_INET6)
		setsockopt(sv[1], IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	set_rcvbuf(sv[1], rcvbuf_for(ends[1]));
	if (connect(sv[1], (struct sockaddr *)&at, len) < 0 || (sv[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		goto err;
	close(l);
	return 0;
err:
	e = -errno;
	if (sv[1] >= 0)
		close(sv[1]);
	close(l);
	sv[1] = -1;
	return e;
}

/* Both ends of the connection that object k is one end of, as a new pair
 * (a socketpair, or a TCP connection over loopback), each with the bytes
 * that were waiting for it. */
static int open_sock_pair(const struct zap_img *pod, const struct member_img *ms, int n,
			  const struct zap_img_fd *f, int base, unsigned char *done)
{
	int objs[2] = {-1, -1};  /* the objects of this end and of its peer */
	const struct zap_img_fd *ends[2] = {NULL, NULL};
	const struct member_img *owners[2] = {NULL, NULL};
	for (uint32_t j = 0; j < pod->npod_fds; j++) {
		const struct member_img *m = member(ms, n, pod->pod_fds[j].pid);
		const struct zap_img_fd *g = m ? fd_record(m, pod->pod_fds[j].fd) : NULL;
		if (!g || !sock_end(g))
			continue;
		int w = g->aux[0] == f->aux[0] ? 0 : g->aux[0] == f->aux[3] ? 1 : -1;
		if (w < 0)
			continue;
		if (objs[w] < 0)
			objs[w] = (int)pod->pod_fds[j].object;
		if (!ends[w] || (g->data_len > sock_bytes_at(g) && ends[w]->data_len <= sock_bytes_at(ends[w]))) {
			ends[w] = g; /* the record that kept the waiting bytes, if any did */
			owners[w] = m;
		}
	}
	if (objs[0] < 0 || objs[1] < 0)
		return -ENOTCONN;
	int sv[2], type = sock_type(f), family = sock_family(f), e;
	int tcp = family == AF_INET || family == AF_INET6;
	if (tcp)
		e = tcp_pair(ends, sv);
	else
		e = socketpair(AF_UNIX, type, 0, sv) < 0 ? -errno : 0;
	if (e)
		return e;
	enum copy_how how = type == SOCK_STREAM ? COPY_SOCKET : COPY_MESSAGE;
	/* what end 0 had waiting is written from end 1, and the other way; a
	 * new UNIX socket's send buffer may be smaller than what the old one
	 * held (a TCP end's receive buffer was sized for it instead) */
	int sndbuf[2];
	for (int w = 0; w < 2 && !tcp; w++) {
		socklen_t len = sizeof(sndbuf[w]);
		getsockopt(sv[w], SOL_SOCKET, SO_SNDBUF, &sndbuf[w], &len);
		int want = (int)(ends[1 - w]->data_len * 2 + (256 << 10));
		if (setsockopt(sv[w], SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
			setsockopt(sv[w], SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	}
	e = copy_bytes(owners[0], ends[0], sv[1], how, sock_bytes_at(ends[0]));
	if (!e)
		e = copy_bytes(owners[1], ends[1], sv[0], how, sock_bytes_at(ends[1]));
	for (int w = 0; w < 2 && !tcp; w++) { /* the kernel doubles what it is given */
		int back = sndbuf[w] / 2;
		setsockopt(sv[w], SOL_SOCKET, SO_SNDBUF, &back, sizeof(back));
	}
	for (int w = 0; w < 2 && tcp && !e; w++) { /* after the bytes: a FIN goes last */
		zap_sock_set_options(sv[w], ends[w]);
		if ((ends[w]->aux[4] & ZAP_SOCKOPT_SENT_FIN) && shutdown(sv[w], SHUT_WR) < 0)
			e = -errno;
	}
	for (int w = 0; w < 2 && !e; w++) {
		if (ends[w]->open_flags & O_NONBLOCK)
			fcntl(sv[w], F_SETFL, O_NONBLOCK);
		e = place(sv[w], base + objs[w]);
		done[objs[w]] = 1;
	}
	if (e) {
		close(sv[0]);
		close(sv[1]);
	}
	return e;
}

static int open_file(const struct member_img *owner, const struct zap_img_fd *f)
{
	const char *path = zap_img_str(&owner->img, f->path_str);
	int flags = (int)(f->open_flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC));
	if (f->kind == ZAP_FD_DELETED) {
		int t = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (t < 0)
			return -errno;
		int e = copy_bytes(owner, f, t, COPY_FILE, 0);
		char link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", t);
		int fd = e ? e : open(link, flags);
		if (fd < 0 && !e)
			fd = -errno;
		close(t);
		if (fd >= 0 && !(f->open_flags & O_APPEND))
			lseek(fd, (off_t)f->pos, SEEK_SET);
		return fd;
	}
	int fd = open(path, f->kind == ZAP_FD_DIR ? O_RDONLY | O_DIRECTORY : flags);
	if (fd < 0)
		return -errno;
	if (f->kind == ZAP_FD_REG && !(f->open_flags & O_APPEND))
		lseek(fd, (off_t)f->pos, SEEK_SET);
	return fd;
}

int zap_pod_fds_open(const char *dir, const struct zap_img *pod, int base, char *err, size_t errlen)
{
	uint32_t nobj = 0;
	for (uint32_t i = 0; i < pod->npod_fds; i++)
		if (pod->pod_fds[i].object + 1 > nobj)
			nobj = pod->pod_fds[i].object + 1;
	if (!nobj)
		return 0;
	struct member_img *ms = calloc(pod->nmembers, sizeof(*ms));
	unsigned char *done = calloc(nobj, 1);
	int n = 0, rc = (int)nobj;
	for (uint32_t i = 0; ms && done && i < pod->nmembers && rc >= 0; i++) {
		const struct zap_img_member *m = &pod->members[i];
		if (m->flags & ZAP_MEMBER_ZOMBIE)
			continue;
		ms[n].vpid = m->pid;
		snprintf(ms[n].path, sizeof(ms[n].path), "%s/%s", dir, m->file);
		if (zap_img_open(&ms[n].img, ms[n].path, zap_image_alloc, NULL, err, errlen) < 0)
			rc = -1;
		n++;
	}
	if (!ms || !done) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	for (uint32_t k = 0; rc >= 0 && k < nobj; k++) {
		if (done[k])
			continue;
		const struct member_img *owner;
		const struct zap_img_fd *f = describe(pod, ms, n, k, &owner);
		if (!f) {
			snprintf(err, errlen, "%s/pod.img: section POD_FDS: object %u names no fd of its member",
				 dir, k);
			rc = -1;
			break;
		}
		int e;
		if ((f->mode & S_IFMT) == S_IFIFO) {
			e = open_pipe(pod, ms, n, k, f, base, done);
		} else if (sock_end(f)) {
			e = open_sock_pair(pod, ms, n, f, base, done);
		} else {
			int fd = open_file(owner, f);
			e = fd < 0 ? fd : place(fd, base + (int)k);
			done[k] = 1;
		}
		if (e) {
			snprintf(err, errlen, "%s: cannot reopen fd %d (%s), which the pod's processes share: %s",
				 owner->path, (int)f->fd, zap_img_str(&owner->img, f->path_str),
				 e == -EBADMSG ? "its bytes fail their checksum" : strerror(-e));
			rc = -1;
		}
	}
	for (int i = 0; i < n; i++)
		zap_image_free(&ms[i].img);
	free(ms);
	free(done);
	if (rc < 0)
		for (uint32_t k = 0; k < nobj; k++)
			close(base + (int)k);
	return rc;
}

int zap_pod_fds_top(const char *dir, const struct zap_img *pod)
{
	int top = 2;
	for (uint32_t i = 0; i < pod->nmembers; i++) {
		const struct zap_img_member *m = &pod->members[i];
		if (m->flags & ZAP_MEMBER_ZOMBIE)
			continue;
		struct zap_img img;
		char path[PATH_MAX + 64], err[512];
		snprintf(path, sizeof(path), "%s/%s", dir, m->file);
		if (zap_img_open(&img, path, zap_image_alloc, NULL, err, sizeof(err)) == 0)
			for (uint32_t k = 0; k < img.nfds; k++)
				if (img.fds[k].fd > top)
					top = img.fds[k].fd;
		zap_image_free(&img);
	}
	return top;
}
