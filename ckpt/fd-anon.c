/* Descriptors with no file behind them: eventfd, timerfd, signalfd and
 * epoll.  The kernel tells their whole state in /proc/self/fdinfo (the
 * counter; the clock, interval, time left and ticks; the mask; each
 * registration's fd, events and data), so capture reads it there and
 * restore makes a new one with that state.  An epoll fd is made after
 * every other fd, since its registrations name them. */
#include "dump.h"
#include "restore.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>

#define Z_EFD_SEMAPHORE 1

/* The value after "name" on a line of text (spaces and tabs skipped). */
static const char *field(const char *text, const char *name)
{
	const char *p = strstr(text, name);
	if (!p)
		return NULL;
	p += strlen(name);
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int64_t parse_signed(const char **p)
{
	int neg = **p == '-';
	if (neg)
		(*p)++;
	int64_t v = (int64_t)zap_parse_dec(p);
	return neg ? -v : v;
}

/* "(sec, nsec)" as fdinfo prints a timespec. */
static void parse_pair(const char *p, uint64_t *a, uint64_t *b)
{
	if (!p || *p++ != '(')
		return;
	*a = (uint64_t)parse_signed(&p);
	while (*p == ',' || *p == ' ')
		p++;
	*b = (uint64_t)parse_signed(&p);
}

static void read_info(int fd, char *buf, size_t n)
{
	char path[64];
	zap_fmt(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zap_read_file(path, buf, n) < 0)
		buf[0] = 0;
}

int zap_fd_anon_classify(struct zap_dump *d, int fd, struct zap_img_fd *f, const char *target)
{
	static char info[65536]; /* leader only, every other thread parked */
	const char *p;
	if (!zap_startswith(target, "anon_inode:"))
		return 0;
	read_info(fd, info, sizeof(info));
	if (!strcmp(target, "anon_inode:[eventfd]")) {
		f->kind = ZAP_FD_EVENTFD;
		if ((p = field(info, "eventfd-count:")))
			f->aux[0] = zap_parse_hex(&p);
		if ((p = field(info, "eventfd-semaphore:")))
			f->aux[1] = zap_parse_dec(&p);
		return 1;
	}
	if (!strcmp(target, "anon_inode:[timerfd]")) {
		f->kind = ZAP_FD_TIMERFD;
		if ((p = field(info, "clockid:")))
			f->aux[0] = zap_parse_dec(&p);
		parse_pair(field(info, "it_interval:"), &f->aux[1], &f->aux[2]);
		parse_pair(field(info, "it_value:"), &f->aux[3], &f->aux[4]);
		if ((p = field(info, "ticks:")))
			f->aux[5] = zap_parse_dec(&p);
		return 1;
	}
	if (!strcmp(target, "anon_inode:[signalfd]")) {
		f->kind = ZAP_FD_SIGNALFD;
		if ((p = field(info, "sigmask:")))
			f->aux[0] = zap_parse_hex(&p);
		return 1;
	}
	if (!strcmp(target, "anon_inode:[eventpoll]")) {
		/* "tfd: N events: HEX data: HEX ..." per registration, kept in
		 * scratch until the fd data is written */
		f->kind = ZAP_FD_EPOLL;
		f->aux[0] = d->nepoll;
		for (p = info; (p = strstr(p, "tfd:"));) {
			const char *q = p + 4;
			while (*q == ' ')
				q++;
			struct zap_img_epoll_target t = {0};
			t.fd = (int32_t)zap_parse_dec(&q);
			const char *e = field(q, "events:"), *dt = field(q, "data:");
			if (e)
				t.events = (uint32_t)zap_parse_hex(&e);
			if (dt)
				t.data = zap_parse_hex(&dt);
			if (d->nepoll < d->epoll_cap)
				d->epoll[d->nepoll++] = t;
			p = q;
		}
		f->aux[1] = d->nepoll - f->aux[0];
		f->data_len = f->aux[1] * sizeof(struct zap_img_epoll_target);
		d->filedata_len += ZAP_PAGE_UP(f->data_len);
		return 1;
	}
	return 0;
}

/* The registrations of an epoll fd go to FILEDATA like a deleted file's
 * bytes. */
int zap_fd_anon_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor)
{
	const struct zap_img_epoll_target *t = &d->epoll[f->aux[0]];
	f->data_off = *cursor;
	f->data_sum = zap_sum_pages(t, f->data_len, 0);
	if (f->data_len && z_pwrite_all(d->img_fd, t, f->data_len, *cursor) < 0)
		return zap_dump_error(d, "cannot write the registrations of epoll fd %d", f->fd);
	*cursor += ZAP_PAGE_UP(f->data_len);
	return 0;
}

/* ---- restore ---- */

struct zk_itimerspec {
	int64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

long zap_fd_anon_open(struct zap_restore *r, const struct zap_img_fd *f)
{
	int nonblock = f->open_flags & O_NONBLOCK;
	long fd;
	switch (f->kind) {
	case ZAP_FD_EVENTFD:
		return zsys2(SYS_eventfd2, (unsigned)f->aux[0],
			     (f->aux[1] ? Z_EFD_SEMAPHORE : 0) | nonblock | O_CLOEXEC);
	case ZAP_FD_TIMERFD: {
		fd = zsys2(SYS_timerfd_create, (int)f->aux[0], nonblock | O_CLOEXEC);
		if (fd < 0)
			return fd;
		struct zk_itimerspec its = {(int64_t)f->aux[1], (int64_t)f->aux[2], (int64_t)f->aux[3],
					    (int64_t)f->aux[4]};
		/* expirations not read yet: at least one comes at once */
		if (f->aux[5] && !its.value_sec && !its.value_nsec)
			its.value_nsec = 1;
		if (its.value_sec || its.value_nsec)
			zsys4(SYS_timerfd_settime, fd, 0, &its, 0);
		return fd;
	}
	case ZAP_FD_SIGNALFD: {
		uint64_t mask = f->aux[0];
		return zsys4(SYS_signalfd4, -1, &mask, 8, nonblock | O_CLOEXEC);
	}
	case ZAP_FD_EPOLL:
		return zsys1(SYS_epoll_create1, O_CLOEXEC);
	}
	(void)r;
	return -22;
}

/* After every fd is in place: the registrations of the epoll fds. */
int zap_fd_anon_finish(struct zap_restore *r)
{
	const struct zap_img *img = r->img;
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		if (f->kind != ZAP_FD_EPOLL || f->dup_of >= 0)
			continue;
		/* read and checked in the pieces zap_sum_pages sums */
		struct zap_img_epoll_target t[ZAP_SUM_CHUNK / sizeof(struct zap_img_epoll_target)];
		uint64_t sum = 0;
		for (uint64_t done = 0; done < f->data_len;) {
			uint64_t n = f->data_len - done < sizeof(t) ? f->data_len - done : sizeof(t);
			if (z_pread_all(r->img_fd, t, n, f->data_off + done) < 0)
				return zap_restore_error(r, "%s: cannot read the registrations of epoll fd %d",
							 img->path, f->fd);
			sum = zap_sum64(t, n, sum);
			done += n;
		}
		if (sum != f->data_sum) {
			r->exit_code = 4;
			return zap_restore_error(r, "%s: section FILEDATA: checksum mismatch in epoll fd %d",
						 img->path, f->fd);
		}
		for (uint64_t done = 0; done < f->data_len;) {
			uint64_t n = f->data_len - done < sizeof(t) ? f->data_len - done : sizeof(t);
			z_pread_all(r->img_fd, t, n, f->data_off + done);
			for (uint64_t k = 0; k < n / sizeof(t[0]); k++) {
				struct {
					uint32_t events;
					uint64_t data;
				} __attribute__((packed)) ev = {t[k].events, t[k].data};
				/* targets zap could not bring back are left out */
				zsys4(SYS_epoll_ctl, f->fd, 1 /* EPOLL_CTL_ADD */, t[k].fd, &ev);
			}
			done += n;
		}
	}
	return 0;
}
