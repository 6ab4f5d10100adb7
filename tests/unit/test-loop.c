/* netproxy/loop.c, the epoll loop. */
#include "unit.h"
#include "loop.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct loop_seen {
	int reads, writes, ticks, fd;
	char got[16];
};

static void loop_on_read(struct zl *l, int fd, void *data, int mask)
{
	struct loop_seen *s = data;
	if (mask & ZL_READ) {
		s->reads++;
		ck_assert_int_eq(read(fd, s->got, sizeof(s->got)), 5);
		zl_unwatch(l, fd); /* from inside a handler */
		zl_stop(l);
	}
}

START_TEST(loop_read_and_stop)
{
	int sp[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	struct zl *l = zl_new();
	struct loop_seen s = {0};
	ck_assert_int_eq(zl_watch(l, sp[0], ZL_READ, loop_on_read, &s), 0);
	ck_assert_int_eq(write(sp[1], "hello", 5), 5);
	ck_assert_int_eq(zl_run(l), 0);
	ck_assert_int_eq(s.reads, 1);
	ck_assert(!memcmp(s.got, "hello", 5));
	zl_free(l);
	close(sp[0]);
	close(sp[1]);
}
END_TEST

static void loop_on_write(struct zl *l, int fd, void *data, int mask)
{
	struct loop_seen *s = data;
	(void)fd;
	if (mask & ZL_WRITE && ++s->writes == 3)
		zl_mask(l, fd, 0); /* nothing wanted: no more calls */
}

static void loop_on_tick(struct zl *l, void *data)
{
	struct loop_seen *s = data;
	if (++s->ticks == 3)
		zl_stop(l);
}

START_TEST(loop_mask_and_tick)
{
	int sp[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	struct zl *l = zl_new();
	struct loop_seen s = {0};
	ck_assert_int_eq(zl_watch(l, sp[0], ZL_WRITE, loop_on_write, &s), 0);
	ck_assert_int_eq(zl_mask(l, sp[0], ZL_WRITE), 0); /* unchanged: a no-op */
	zl_every(l, 10, loop_on_tick, &s);
	double t0 = zl_now();
	ck_assert_int_eq(zl_run(l), 0);
	ck_assert_int_eq(s.writes, 3);
	ck_assert_int_eq(s.ticks, 3);
	ck_assert_msg(zl_now() - t0 >= 0.025, "three 10 ms ticks took %.3f s", zl_now() - t0);
	ck_assert_int_eq(zl_mask(l, 9999, ZL_READ), -1); /* never watched */
	zl_free(l);
	close(sp[0]);
	close(sp[1]);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = zt_tcase(s, "loop", 0);
	tcase_add_test(tc, loop_read_and_stop);
	tcase_add_test(tc, loop_mask_and_tick);
	return s;
}
ZT_SUITE(loop_suite);
