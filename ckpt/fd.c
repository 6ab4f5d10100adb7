/* File descriptors: regular files (path, flags, offset), directories,
 * devices, deleted-but-open files (their bytes go into the image), and
 * stdio, which a restart binds to the restarting command's own stdio unless
 * it was a regular file (then it is reopened at its offset, like any file).  Descriptors that share one open file
 * description (dup) are found with kcmp and shared again on restore.
 * Pipes (fd-pipe.c), sockets (sock.c, sock-unix.c, sock-inet.c), epoll and
 * friends (fd-anon.c) have their own files; what none of them takes comes
 * back as /dev/null, with a warning (docs/limitations.md). */
#include "dump.h"
#include "restore.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define Z_KCMP_FILE 0
#define Z_TCGETS 0x5401
#define Z_TCSETS 0x5402
#define Z_O_CLOEXEC_FDINFO 02000000

static struct zap_img_fd *new_fd(struct zap_dump *d)
{
	if (d->nfds == d->fds_cap)
		return NULL;
	struct zap_img_fd *f = &d->fds[d->nfds++];
	memset(f, 0, sizeof(*f));
	f->dup_of = -1;
	return f;
}

static int skip_fd(const struct zap_dump *d, int fd)
{
	(void)d;
	return fd == d->img_fd;
}

/* Fills pos and flags from /proc/self/fdinfo/N. */
static void read_fdinfo(int fd, struct zap_img_fd *f)
{
	char path[64], buf[1024];
	zap_fmt(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zap_read_file(path, buf, sizeof(buf)) <= 0)
		return;
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (zap_startswith(p, "pos:")) {
			const char *q = p + 4;
			while (*q == ' ' || *q == '\t')
				q++;
			f->pos = zap_parse_dec(&q);
		} else if (zap_startswith(p, "flags:")) {
			const char *q = p + 6;
			while (*q == ' ' || *q == '\t')
				q++;
			uint32_t v = 0;
			while (*q >= '0' && *q <= '7')
				v = v * 8 + (uint32_t)(*q++ - '0');
			f->open_flags = v & ~(uint32_t)Z_O_CLOEXEC_FDINFO;
			f->fd_flags = (v & Z_O_CLOEXEC_FDINFO) ? FD_CLOEXEC : 0;
		}
	}
}

/* Copies a deleted file's bytes into the image at *cursor later: here we
 * only note its size. */
static int classify_fd(struct zap_dump *d, int fd, struct zap_img_fd *f)
{
	char link[64], target[4096];
	zap_fmt(link, sizeof(link), "/proc/self/fd/%d", fd);
	long n = z_readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = 0;
	struct zap_kstat st;
	if (zap_fstat(fd, &st) < 0)
		return -1;
	f->mode = st.mode;
	f->file_size = (uint64_t)st.size;
	f->mtime_sec = (int64_t)st.mtime;
	f->mtime_nsec = (int64_t)st.mtime_nsec;
	read_fdinfo(fd, f);
	uint32_t type = st.mode & S_IFMT;
	if (fd <= 2 && type != S_IFREG) { /* terminal, pipe, socket, /dev/null */
		f->kind = ZAP_FD_INHERIT;
		f->aux[0] = st.ino; /* a pipe may join two members of a pod */
		f->path_str = zap_dump_string(d, target);
		/* a program that set its terminal up (raw mode, no echo) expects
		 * it so after a restart, on whatever terminal that is */
		if (type == S_IFCHR && zsys3(SYS_ioctl, fd, Z_TCGETS, f->tty) == 0)
			f->has_tty = 1;
		return 0;
	}
	if (type == S_IFREG && n > 10 && !strcmp(target + n - 10, " (deleted)")) {
		target[n - 10] = 0;
		f->kind = ZAP_FD_DELETED;
		f->data_len = (uint64_t)st.size;
		d->filedata_len += ZAP_PAGE_UP(st.size);
	} else if (type == S_IFREG && target[0] == '/') {
		f->kind = ZAP_FD_REG;
	} else if (type == S_IFDIR) {
		f->kind = ZAP_FD_DIR;
	} else if (type == S_IFCHR && target[0] == '/') {
		f->kind = ZAP_FD_CHR;
	} else if (zap_fd_anon_classify(d, fd, f, target)) {
		/* eventfd, timerfd, signalfd, epoll */
	} else {
		f->kind = ZAP_FD_CLOSED_ON_RESTORE; /* pipe, socket, anon inode … */
		f->aux[0] = st.ino; /* pipes are paired by it; the rest is warned of */
	}
	f->path_str = zap_dump_string(d, target);
	return 0;
}

/* Warns of the fds that come back as /dev/null, once every kind that can
 * pair fds up (pipes, socketpairs) has had its say. */
static void warn_unsupported(struct zap_dump *d)
{
	for (uint32_t i = 0; i < d->nfds; i++) {
		const struct zap_img_fd *f = &d->fds[i];
		if (f->kind != ZAP_FD_CLOSED_ON_RESTORE || f->dup_of >= 0)
			continue;
		size_t at = strlen(d->warnings);
		if (at + 80 < sizeof(d->warnings))
			zap_fmt(d->warnings + at, sizeof(d->warnings) - at, "%sfd %d (%s) comes back as /dev/null",
				at ? "; " : "", f->fd, d->strings + f->path_str);
		else if (!strstr(d->warnings, "; more fds"))
			zap_fmt(d->warnings + at, sizeof(d->warnings) - at, "; more fds too");
	}
}

static int collect_one(int dfd, const char *name, void *arg)
{
	struct zap_dump *d = arg;
	if (name[0] < '0' || name[0] > '9')
		return 0;
	const char *p = name;
	int fd = (int)zap_parse_dec(&p);
	if (fd == dfd || skip_fd(d, fd))
		return 0;
	struct zap_img_fd *f = new_fd(d);
	if (!f)
		return zap_dump_error(d, "too many open files (more than %u)", d->fds_cap);
	f->fd = fd;
	if (classify_fd(d, fd, f) < 0)
		d->nfds--; /* closed under us */
	return 0;
}

int zap_fd_collect(struct zap_dump *d)
{
	int pid = (int)z_getpid();
	long r = zap_dir_each("/proc/self/fd", collect_one, d);
	if (r < -1)
		return zap_dump_error(d, "cannot list /proc/self/fd: %s", zap_strerror(r));
	if (r == -1)
		return -1;
	/* sort by fd so that dup_of always names an fd restored before */
	for (uint32_t i = 1; i < d->nfds; i++)
		for (uint32_t k = i; k > 0 && d->fds[k - 1].fd > d->fds[k].fd; k--) {
			struct zap_img_fd t = d->fds[k];
			d->fds[k] = d->fds[k - 1];
			d->fds[k - 1] = t;
		}
	for (uint32_t i = 0; i < d->nfds; i++)
		for (uint32_t k = 0; k < i; k++)
			if (d->fds[k].dup_of < 0 && d->fds[k].kind == d->fds[i].kind &&
			    zsys5(SYS_kcmp, pid, pid, Z_KCMP_FILE, d->fds[k].fd, d->fds[i].fd) == 0) {
				d->fds[i].dup_of = d->fds[k].fd;
				break;
			}
	zap_fd_sock_pair(d);
	if (zap_sock_collect(d) < 0)
		return -1;
	zap_fd_pipe_pair(d);
	zap_fd_pipe_lone_ends(d);
	warn_unsupported(d);
	return 0;
}

int zap_fd_write_data(struct zap_dump *d, uint64_t *cursor)
{
	char buf[65536];
	for (uint32_t i = 0; i < d->nfds; i++) {
		struct zap_img_fd *f = &d->fds[i];
		if (f->kind == ZAP_FD_EPOLL && f->dup_of < 0) {
			if (zap_fd_anon_write(d, f, cursor) < 0)
				return -1;
			continue;
		}
		if (f->kind == ZAP_FD_SOCKPAIR && f->dup_of < 0) {
			if (zap_fd_sock_write(d, f, cursor) < 0)
				return -1;
			continue;
		}
		if (f->kind == ZAP_FD_SOCKET && f->dup_of < 0) {
			if (zap_sock_write(d, f, cursor) < 0)
				return -1;
			continue;
		}
		if ((f->kind == ZAP_FD_PIPE_READ || f->aux[3] == 1) && f->dup_of < 0 &&
		    (f->mode & S_IFMT) == S_IFIFO) {
			if (zap_fd_pipe_write(d, f, cursor) < 0)
				return -1;
			continue;
		}
		if (f->kind != ZAP_FD_DELETED || f->dup_of >= 0)
			continue;
		f->data_off = *cursor;
		uint64_t sum = 0;
		/* whole 64 KiB pieces, as the restore side sums them */
		for (uint64_t done = 0; done < f->data_len;) {
			size_t want = f->data_len - done < sizeof(buf) ? f->data_len - done : sizeof(buf);
			size_t got = 0;
			while (got < want) {
				long r = z_pread(f->fd, buf + got, want - got, done + got);
				if (r == -4)
					continue;
				if (r <= 0)
					break;
				got += (size_t)r;
			}
			if (got < want) /* it shrank under us: keep what we read */
				f->data_len = done + got;
			sum = zap_sum64(buf, got, sum);
			if (z_pwrite_all(d->img_fd, buf, got, *cursor + done) < 0)
				return zap_dump_error(d, "cannot write the bytes of deleted file fd %d", f->fd);
			done += got;
			if (got < want)
				break;
		}
		f->data_sum = sum;
		*cursor += ZAP_PAGE_UP(f->data_len);
	}
	return 0;
}

/* ---- restore ---- */

const struct zap_img_fd *zap_fd_other_end(const struct zap_restore *r, const struct zap_img_fd *f)
{
	for (uint32_t i = 0; i < r->img->nfds; i++)
		if (r->img->fds[i].fd == (int32_t)f->aux[1])
			return &r->img->fds[i];
	return NULL;
}

long zap_fd_place_pair(int mine, int other, const struct zap_img_fd *f, const struct zap_img_fd *o)
{
	if (f->open_flags & O_NONBLOCK)
		zsys3(SYS_fcntl, mine, F_SETFL, O_NONBLOCK);
	if (o->open_flags & O_NONBLOCK)
		zsys3(SYS_fcntl, other, F_SETFL, O_NONBLOCK);
	long e;
	if (other == o->fd) /* the kernel's choice was already right */
		e = zsys3(SYS_fcntl, other, F_SETFD, o->fd_flags & FD_CLOEXEC);
	else
		e = zsys3(SYS_dup3, other, o->fd, (o->fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
	if (other != o->fd)
		z_close(other);
	if (e < 0) {
		z_close(mine);
		return e;
	}
	return mine;
}

static int reopen_flags(const struct zap_img_fd *f)
{
	return (int)(f->open_flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)) | O_CLOEXEC;
}

/* Everything that can fail is checked before the restorer touches anything:
 * files the program had open must still be there. */
int zap_fd_check(struct zap_restore *r)
{
	const struct zap_img *img = r->img;
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		if (f->dup_of >= 0 || (f->kind != ZAP_FD_REG && f->kind != ZAP_FD_DIR))
			continue;
		const char *path = zap_img_str(img, f->path_str);
		struct zap_kstat st;
		long e = zap_stat(path, &st);
		if (e < 0)
			return zap_restore_error(r, "%s: fd %d was %s, which is gone now (%s)",
						 img->path, f->fd, path, zap_strerror(e));
	}
	return 0;
}

static long materialize_deleted(struct zap_restore *r, const struct zap_img_fd *f)
{
	/* an unnamed file again, like the one the program had */
	long tfd = z_open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (tfd < 0)
		return tfd;
	char buf[65536];
	uint64_t sum = 0;
	for (uint64_t done = 0; done < f->data_len;) {
		size_t n = f->data_len - done < sizeof(buf) ? f->data_len - done : sizeof(buf);
		long e = z_pread_all(r->img_fd, buf, n, f->data_off + done);
		if (e == 0)
			e = z_pwrite_all((int)tfd, buf, n, done);
		if (e < 0) {
			z_close((int)tfd);
			return e;
		}
		sum = zap_sum64(buf, n, sum);
		done += n;
	}
	if (sum != f->data_sum) {
		z_close((int)tfd);
		return -74; /* EBADMSG */
	}
	char path[64];
	zap_fmt(path, sizeof(path), "/proc/self/fd/%d", (int)tfd);
	long fd = z_open(path, reopen_flags(f), 0);
	z_close((int)tfd);
	return fd;
}

/* The pod-wide description fd shares with other members' fds, or -1. */
static int shared_object(const struct zap_restore *r, int32_t fd)
{
	for (uint32_t i = 0; i < r->npod_fds; i++)
		if (r->pod_fds[i].pid == r->vpid && r->pod_fds[i].fd == fd &&
		    (int)r->pod_fds[i].object < r->nshared)
			return (int)r->pod_fds[i].object;
	return -1;
}

int zap_fd_restore(struct zap_restore *r)
{
	const struct zap_img *img = r->img;
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		const char *path = zap_img_str(img, f->path_str);
		long fd;
		/* --inherit-stdio takes over stdio the members share with the
		 * outside (a file), never a pipe or socket between members */
		int between = (f->mode & S_IFMT) == S_IFIFO || (f->mode & S_IFMT) == S_IFSOCK;
		int obj = r->inherit_stdio && f->fd <= 2 && !between ? -1 : shared_object(r, f->fd);
		if (obj >= 0) { /* opened once by `zap restart`, for every member */
			long e = zsys3(SYS_dup3, r->shared_base + obj, f->fd,
				       (f->fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
			if (e < 0)
				return zap_restore_error(r, "cannot place fd %d (%s)", f->fd, zap_strerror(e));
			continue;
		}
		if (f->kind == ZAP_FD_INHERIT || (r->inherit_stdio && f->fd <= 2)) {
			if (zsys2(SYS_fcntl, f->fd, F_GETFD) >= 0) {
				uint8_t now[36];
				if (f->has_tty && zsys3(SYS_ioctl, f->fd, Z_TCGETS, now) == 0)
					zsys3(SYS_ioctl, f->fd, Z_TCSETS, f->tty);
				continue;
			}
			fd = z_open("/dev/null", O_RDWR | O_CLOEXEC, 0);
		} else if (f->dup_of >= 0) {
			fd = zsys3(SYS_fcntl, f->dup_of, F_DUPFD_CLOEXEC, 0);
		} else if (f->kind == ZAP_FD_DELETED) {
			fd = materialize_deleted(r, f);
		} else if (f->kind == ZAP_FD_CLOSED_ON_RESTORE) {
			fd = z_open("/dev/null", O_RDWR | O_CLOEXEC, 0);
		} else if (f->kind == ZAP_FD_PIPE_READ || f->kind == ZAP_FD_PIPE_WRITE ||
			   f->kind == ZAP_FD_SOCKPAIR) {
			fd = f->kind == ZAP_FD_SOCKPAIR ? zap_fd_sock_open(r, f) : zap_fd_pipe_open(r, f);
			if (fd == f->fd)
				continue; /* already in place, with its other end */
		} else if (f->kind == ZAP_FD_SOCKET) {
			fd = zap_sock_open(r, f);
			if (fd == ZAP_ERR_REPORTED)
				return -1;
		} else if (f->kind >= ZAP_FD_EVENTFD) {
			fd = zap_fd_anon_open(r, f);
		} else {
			fd = z_open(path, reopen_flags(f), 0);
		}
		if (fd == -74) { /* EBADMSG: the bytes kept for it fail their checksum */
			r->exit_code = 4;
			return zap_restore_error(r, "%s: section FILEDATA: checksum mismatch in the bytes of fd %d (%s)",
						 img->path, f->fd, path);
		}
		if (fd < 0)
			return zap_restore_error(r, "%s: cannot reopen fd %d (%s): %s", img->path,
						 f->fd, path[0] ? path : "?", zap_strerror(fd));
		if (f->dup_of < 0 && (f->kind == ZAP_FD_REG || f->kind == ZAP_FD_DELETED) &&
		    !(f->open_flags & O_APPEND))
			z_lseek((int)fd, (long)f->pos, 0);
		if (fd != f->fd) {
			long e = zsys3(SYS_dup3, fd, f->fd, (f->fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
			z_close((int)fd);
			if (e < 0)
				return zap_restore_error(r, "cannot place fd %d (%s)", f->fd, zap_strerror(e));
		} else if (!(f->fd_flags & FD_CLOEXEC)) {
			zsys3(SYS_fcntl, fd, F_SETFD, 0);
		}
	}
	if (r->nshared) /* the pod's other members' descriptions are theirs */
		zsys3(SYS_close_range, r->shared_base, r->shared_base + r->nshared - 1, 0);
	return zap_fd_anon_finish(r);
}
