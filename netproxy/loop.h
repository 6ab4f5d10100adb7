/* One small epoll loop (after redis' ae.c): a handler per fd, one periodic
 * timer, level-triggered.  Shared by zap-proxy and zapd, and meant for
 * zap-schedd too. */
#ifndef ZAP_LOOP_H
#define ZAP_LOOP_H

#define ZL_READ 1
#define ZL_WRITE 2

struct zl;
/* mask: what is ready; errors and hang-ups come as ZL_READ|ZL_WRITE, so
 * the handler finds them in its read or write. */
typedef void zl_fd_fn(struct zl *l, int fd, void *data, int mask);
typedef void zl_tick_fn(struct zl *l, void *data);

struct zl *zl_new(void);
void zl_free(struct zl *l);
/* Watch fd for mask (0: registered, nothing wanted); replaces the fd's
 * previous handler and mask.  0, or -1 with errno. */
int zl_watch(struct zl *l, int fd, int mask, zl_fd_fn *fn, void *data);
/* Only the mask; a no-op when it is unchanged. */
int zl_mask(struct zl *l, int fd, int mask);
void zl_unwatch(struct zl *l, int fd);
void zl_every(struct zl *l, int ms, zl_tick_fn *fn, void *data);
/* Runs until zl_stop; returns 0, or -1 if epoll failed. */
int zl_run(struct zl *l);
void zl_stop(struct zl *l);
double zl_now(void); /* monotonic seconds */

#endif
