/* Pipes with both ends in the process (the self-pipe trick of event loops,
 * a pipe a program keeps to itself).  Capture pairs the read and write
 * ends by inode and copies the bytes waiting in the pipe without taking
 * them: tee(2) duplicates them into a scratch pipe, which we read.  Restore
 * makes a pipe, puts its ends at their numbers and writes the bytes back.
 * A pipe with only one end here (to another process) keeps the bytes
 * waiting in its read end too: when the other end is in another member of
 * the pod, the pod's restart joins them again (launcher/pod-fds.c); alone,
 * it comes back as /dev/null (fd.c warns of it). */
#include "dump.h"
#include "restore.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define Z_SPLICE_F_NONBLOCK 2
#define Z_F_GETPIPE_SZ 1032
#define Z_F_SETPIPE_SZ 1031

/* Called once every fd is classified: turns the ends of pipes that have
 * both ends here from "closed on restore" into pipe ends. */
void zap_fd_pipe_pair(struct zap_dump *d)
{
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct zap_img_fd *r = &d->fds[i];
		if (r->kind != ZAP_FD_CLOSED_ON_RESTORE || (r->mode & S_IFMT) != S_IFIFO ||
		    (r->open_flags & O_ACCMODE) != O_RDONLY || r->dup_of >= 0)
			continue;
		for (uint32_t k = 0; k < d->nfds; k++) {
			struct zap_img_fd *w = &d->fds[k];
			if (w->kind != ZAP_FD_CLOSED_ON_RESTORE || (w->mode & S_IFMT) != S_IFIFO ||
			    (w->open_flags & O_ACCMODE) != O_WRONLY || w->dup_of >= 0 ||
			    w->aux[0] != r->aux[0] /* inode */)
				continue;
			r->kind = ZAP_FD_PIPE_READ;
			w->kind = ZAP_FD_PIPE_WRITE;
			r->aux[1] = (uint64_t)w->fd; /* the other end */
			w->aux[1] = (uint64_t)r->fd;
			long sz = zsys2(SYS_fcntl, r->fd, Z_F_GETPIPE_SZ);
			r->aux[2] = sz > 0 ? (uint64_t)sz : 0;
			break;
		}
	}
}

/* The read end of a pipe whose other end is elsewhere (in another member
 * of the pod, or outside it): its bytes are kept too, for a pod restart
 * that joins the pipe's ends again.  Only the pod knows which it is. */
static int lone_read_end(const struct zap_img_fd *f)
{
	return (f->kind == ZAP_FD_CLOSED_ON_RESTORE || f->kind == ZAP_FD_INHERIT) &&
	       (f->mode & S_IFMT) == S_IFIFO && (f->open_flags & O_ACCMODE) == O_RDONLY &&
	       f->dup_of < 0;
}

void zap_fd_pipe_lone_ends(struct zap_dump *d)
{
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct zap_img_fd *f = &d->fds[i];
		if (!lone_read_end(f) || !zap_startswith(d->strings + f->path_str, "pipe:"))
			continue;
		long sz = zsys2(SYS_fcntl, f->fd, Z_F_GETPIPE_SZ);
		f->aux[2] = sz > 0 ? (uint64_t)sz : 0;
		f->aux[3] = 1; /* its bytes are in FILEDATA */
	}
}

/* The bytes waiting in a pipe, copied (not taken) into FILEDATA at *cursor. */
int zap_fd_pipe_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor)
{
	int p[2];
	f->data_off = *cursor;
	f->data_len = 0;
	if (zsys2(SYS_pipe2, p, O_CLOEXEC | O_NONBLOCK) < 0)
		return zap_dump_error(d, "cannot make a pipe to copy fd %d", f->fd);
	if (f->aux[2])
		zsys3(SYS_fcntl, p[1], Z_F_SETPIPE_SZ, f->aux[2]);
	long n = zsys6(SYS_tee, f->fd, p[1], 1 << 30, Z_SPLICE_F_NONBLOCK, 0, 0);
	char buf[ZAP_SUM_CHUNK];
	uint64_t sum = 0;
	while (n > 0 && f->data_len < (uint64_t)n) {
		long r = z_read(p[0], buf, sizeof(buf));
		if (r <= 0)
			break;
		sum = zap_sum64(buf, (size_t)r, sum);
		if (z_pwrite_all(d->img_fd, buf, (size_t)r, *cursor + f->data_len) < 0) {
			z_close(p[0]);
			z_close(p[1]);
			return zap_dump_error(d, "cannot write the bytes in pipe fd %d", f->fd);
		}
		f->data_len += (uint64_t)r;
	}
	z_close(p[0]);
	z_close(p[1]);
	f->data_sum = sum;
	*cursor += ZAP_PAGE_UP(f->data_len);
	return 0;
}

/* ---- restore ---- */

/* write(2) until all of buf is in (a pipe has no offset for pwrite). */
static long write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		long r = z_write(fd, buf, n);
		if (r == -4)
			continue;
		if (r <= 0)
			return r < 0 ? r : -5;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Whichever end comes first makes the pipe, puts the other end at its
 * number too (it is free: fds are restored in order and the restorer's own
 * sit above them) and writes the waiting bytes back; the other end's record
 * then finds its fd in place. */
long zap_fd_pipe_open(struct zap_restore *r, const struct zap_img_fd *f)
{
	if (zsys2(SYS_fcntl, f->fd, F_GETFD) >= 0) /* placed with its other end */
		return f->fd;
	const struct zap_img_fd *o = zap_fd_other_end(r, f);
	if (!o)
		return -9; /* EBADF */
	const struct zap_img_fd *rd = f->kind == ZAP_FD_PIPE_READ ? f : o;
	int p[2];
	long e = zsys2(SYS_pipe2, p, O_CLOEXEC);
	if (e < 0)
		return e;
	if (rd->aux[2])
		zsys3(SYS_fcntl, p[1], Z_F_SETPIPE_SZ, rd->aux[2]);
	/* the bytes that were waiting, checked as they go back in */
	char buf[ZAP_SUM_CHUNK];
	uint64_t sum = 0;
	e = 0;
	for (uint64_t done = 0; done < rd->data_len && !e;) {
		size_t n = rd->data_len - done < sizeof(buf) ? rd->data_len - done : sizeof(buf);
		if (z_pread_all(r->img_fd, buf, n, rd->data_off + done) < 0 || write_all(p[1], buf, n) < 0)
			e = -5;
		sum = zap_sum64(buf, n, sum);
		done += n;
	}
	if (!e && sum != rd->data_sum)
		e = -74; /* EBADMSG */
	if (e) {
		z_close(p[0]);
		z_close(p[1]);
		return e;
	}
	int mine = f == rd ? p[0] : p[1], other = f == rd ? p[1] : p[0];
	return zap_fd_place_pair(mine, other, f, o);
}
