/* A small epoll loop (redis's ae, in spirit): a handler per fd and one
 * periodic tick.  Meant to be shared by zapd, zap-proxy and zap-schedd. */
#ifndef ZAP_EVLOOP_H
#define ZAP_EVLOOP_H

#include <stdint.h>

struct zap_ev;
typedef void (*zap_ev_fn)(struct zap_ev *ev, int fd, uint32_t events, void *arg);

struct zap_ev_slot {
	zap_ev_fn fn;
	void *arg;
};

struct zap_ev {
	int epfd;
	int stop;
	int tick_ms;            /* may be changed, by the tick too */
	zap_ev_fn tick;         /* called with fd -1 every tick_ms */
	void *tick_arg;
	struct zap_ev_slot *slots; /* indexed by fd */
	int nslots;
};

int zap_ev_init(struct zap_ev *ev, int tick_ms, zap_ev_fn tick, void *tick_arg);
/* Watches fd for events (EPOLLIN, EPOLLOUT...), replacing what it had. */
int zap_ev_set(struct zap_ev *ev, int fd, uint32_t events, zap_ev_fn fn, void *arg);
void zap_ev_del(struct zap_ev *ev, int fd);
/* Runs until ev->stop is set; -1 if epoll_wait fails. */
int zap_ev_run(struct zap_ev *ev);

#endif
