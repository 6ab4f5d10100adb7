/* The epoll loop (loop.h). */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct zl_fd {
	zl_fd_fn *fn;
	void *data;
	int mask;
	int used;
};

struct zl {
	int ep;
	int stop;
	struct zl_fd *fds;
	int nfds; /* size of fds[], indexed by fd */
	zl_tick_fn *tick;
	void *tick_data;
	int tick_ms;
	double next_tick;
};

double zl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct zl *zl_new(void)
{
	struct zl *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void zl_free(struct zl *l)
{
	if (!l)
		return;
	close(l->ep);
	free(l->fds);
	free(l);
}

static int grow(struct zl *l, int fd)
{
	if (fd < l->nfds)
		return 0;
	int n = l->nfds ? l->nfds : 256;
	while (n <= fd)
		n *= 2;
	struct zl_fd *p = realloc(l->fds, (size_t)n * sizeof(*p));
	if (!p)
		return -1;
	memset(p + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*p));
	l->fds = p;
	l->nfds = n;
	return 0;
}

static uint32_t events_of(int mask)
{
	return (mask & ZL_READ ? EPOLLIN : 0) | (mask & ZL_WRITE ? EPOLLOUT : 0);
}

int zl_watch(struct zl *l, int fd, int mask, zl_fd_fn *fn, void *data)
{
	if (fd < 0 || grow(l, fd) < 0)
		return errno = fd < 0 ? EBADF : ENOMEM, -1;
	struct zl_fd *f = &l->fds[fd];
	struct epoll_event ev = {.events = events_of(mask), .data.fd = fd};
	if (epoll_ctl(l->ep, f->used ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	*f = (struct zl_fd){fn, data, mask, 1};
	return 0;
}

int zl_mask(struct zl *l, int fd, int mask)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
		return errno = EBADF, -1;
	struct zl_fd *f = &l->fds[fd];
	if (f->mask == mask)
		return 0;
	struct epoll_event ev = {.events = events_of(mask), .data.fd = fd};
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -1;
	f->mask = mask;
	return 0;
}

void zl_unwatch(struct zl *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].used)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->fds[fd], 0, sizeof(l->fds[fd]));
}

void zl_every(struct zl *l, int ms, zl_tick_fn *fn, void *data)
{
	l->tick = fn;
	l->tick_data = data;
	l->tick_ms = ms;
	l->next_tick = zl_now() + ms / 1000.0;
}

void zl_stop(struct zl *l) { l->stop = 1; }

int zl_run(struct zl *l)
{
	struct epoll_event ev[256];
	while (!l->stop) {
		int wait = -1;
		if (l->tick) {
			double left = l->next_tick - zl_now();
			wait = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		int n = epoll_wait(l->ep, ev, 256, wait);
		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd >= l->nfds || !l->fds[fd].used)
				continue; /* closed by an earlier handler in this batch */
			uint32_t e = ev[i].events;
			int mask = (e & (EPOLLIN | EPOLLERR | EPOLLHUP) ? ZL_READ : 0) |
				   (e & (EPOLLOUT | EPOLLERR | EPOLLHUP) ? ZL_WRITE : 0);
			struct zl_fd *f = &l->fds[fd];
			f->fn(l, fd, f->data, mask & (f->mask ? f->mask : mask));
		}
		if (l->tick && zl_now() >= l->next_tick) {
			l->next_tick = zl_now() + l->tick_ms / 1000.0;
			l->tick(l, l->tick_data);
		}
	}
	return 0;
}
