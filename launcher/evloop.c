/* The small epoll loop (evloop.h). */
#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static long ev_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int zap_ev_init(struct zap_ev *ev, int tick_ms, zap_ev_fn tick, void *tick_arg)
{
	memset(ev, 0, sizeof(*ev));
	ev->tick_ms = tick_ms;
	ev->tick = tick;
	ev->tick_arg = tick_arg;
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	return ev->epfd < 0 ? -1 : 0;
}

int zap_ev_set(struct zap_ev *ev, int fd, uint32_t events, zap_ev_fn fn, void *arg)
{
	if (fd >= ev->nslots) {
		int n = fd + 64;
		struct zap_ev_slot *s = realloc(ev->slots, (size_t)n * sizeof(*s));
		if (!s)
			return -1;
		memset(s + ev->nslots, 0, (size_t)(n - ev->nslots) * sizeof(*s));
		ev->slots = s;
		ev->nslots = n;
	}
	struct epoll_event e = {.events = events, .data.fd = fd};
	int op = ev->slots[fd].fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(ev->epfd, op, fd, &e) < 0)
		return -1;
	ev->slots[fd].fn = fn;
	ev->slots[fd].arg = arg;
	return 0;
}

void zap_ev_del(struct zap_ev *ev, int fd)
{
	if (fd < 0 || fd >= ev->nslots || !ev->slots[fd].fn)
		return;
	epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
	ev->slots[fd].fn = NULL;
	ev->slots[fd].arg = NULL;
}

int zap_ev_run(struct zap_ev *ev)
{
	struct epoll_event evs[64];
	long last = ev_now_ms();
	while (!ev->stop) {
		/* from the last tick, with tick_ms as it is now */
		long wait = last + ev->tick_ms - ev_now_ms();
		int n = epoll_wait(ev->epfd, evs, 64, wait < 0 ? 0 : (int)wait);
		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			/* an earlier handler may have closed it */
			if (fd < ev->nslots && ev->slots[fd].fn)
				ev->slots[fd].fn(ev, fd, evs[i].events, ev->slots[fd].arg);
		}
		if (ev->tick && ev_now_ms() >= last + ev->tick_ms) {
			ev->tick(ev, -1, 0, ev->tick_arg);
			last = ev_now_ms();
		}
	}
	return 0;
}
