/* ckpt/vtab.c: the pod's shared table of virtual ids. */
#include "unit.h"
#include "vtab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Real pids no process can have (above PID_MAX_LIMIT), for entries of
 * processes that are gone. */
#define VT_GONE 4194400

static struct zap_vtab *vt_new(const char *name)
{
	char path[PATH_MAX];
	long err = 1;
	struct zap_vtab *t = zap_vtab_map(zt_path(path, sizeof(path), name), 1, &err);
	ck_assert_msg(t != NULL, "zap_vtab_map(%s, create): %ld", path, err);
	ck_assert_int_eq(err, 0);
	return t;
}

START_TEST(vtab_map)
{
	char path[PATH_MAX];
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_uint_eq(t->npids, 0);
	ck_assert_int_eq(t->next_high, ZAP_VTAB_HIGH_VPID);
	ck_assert_int_eq(zap_vtab_set(t, 10, 20), 0);
	/* a second mapping of the file is the same table */
	long err = 1;
	struct zap_vtab *u = zap_vtab_map(zt_path(path, sizeof(path), "vtab"), 0, &err);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(zap_vtab_real(u, 10), 20);
	ck_assert_int_eq(zap_vtab_set(u, 11, 21), 0);
	ck_assert_int_eq(zap_vtab_real(t, 11), 21);
	zap_vtab_unmap(u);
	zap_vtab_unmap(t);

	ck_assert_ptr_null(zap_vtab_map(zt_path(path, sizeof(path), "none"), 0, &err));
	ck_assert_int_eq(err, -ENOENT);
	int fd = open(zt_path(path, sizeof(path), "junk"), O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, sizeof(struct zap_vtab)), 0);
	close(fd);
	ck_assert_ptr_null(zap_vtab_map(path, 0, &err));
	ck_assert_int_eq(err, -EINVAL);
	zap_vtab_unmap(NULL);
}
END_TEST

START_TEST(vtab_adopt)
{
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_int_eq(zap_vtab_adopt(t, 500), 500);
	ck_assert_int_eq(zap_vtab_adopt(t, 500), 500); /* a lookup the second time */
	ck_assert_uint_eq(t->npids, 1);
	ck_assert_int_eq(zap_vtab_real(t, 500), 500);
	ck_assert_int_eq(zap_vtab_vpid(t, 500), 500);
	ck_assert_int_eq(zap_vtab_real(t, 501), 0);
	ck_assert_int_eq(zap_vtab_vpid(t, 501), 0);
	zap_vtab_unmap(t);
}
END_TEST

/* A new real pid that is another member's vpid gets a vpid no real pid
 * can take, and the next one the one after. */
START_TEST(vtab_collision)
{
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_int_eq(zap_vtab_set(t, 100, 900), 0);
	ck_assert_int_eq(zap_vtab_set(t, 101, 901), 0);
	ck_assert_int_eq(zap_vtab_adopt(t, 100), ZAP_VTAB_HIGH_VPID);
	ck_assert_int_eq(zap_vtab_adopt(t, 101), ZAP_VTAB_HIGH_VPID + 1);
	ck_assert_int_eq(zap_vtab_adopt(t, 100), ZAP_VTAB_HIGH_VPID);
	ck_assert_int_eq(zap_vtab_real(t, 100), 900);
	ck_assert_int_eq(zap_vtab_real(t, ZAP_VTAB_HIGH_VPID), 100);
	ck_assert_int_eq(zap_vtab_vpid(t, 100), ZAP_VTAB_HIGH_VPID);
	ck_assert_int_eq(zap_vtab_vpid(t, 900), 100);
	/* the old member's real pid is its own vpid nowhere else: no collision */
	ck_assert_int_eq(zap_vtab_adopt(t, 902), 902);
	ck_assert_uint_eq(t->npids, 5);
	zap_vtab_unmap(t);
}
END_TEST

/* High vpids from before a restart (set by zap restart) are never handed
 * out again. */
START_TEST(vtab_collision_restored_high)
{
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_int_eq(zap_vtab_set(t, 200, 800), 0);
	ck_assert_int_eq(zap_vtab_set(t, ZAP_VTAB_HIGH_VPID, 801), 0);
	ck_assert_int_eq(zap_vtab_set(t, ZAP_VTAB_HIGH_VPID + 1, 802), 0);
	int32_t v = zap_vtab_adopt(t, 200);
	ck_assert_int_eq(v, ZAP_VTAB_HIGH_VPID + 2);
	ck_assert_int_eq(zap_vtab_real(t, ZAP_VTAB_HIGH_VPID), 801);
	zap_vtab_unmap(t);
}
END_TEST

START_TEST(vtab_set_replace)
{
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_int_eq(zap_vtab_set(t, 7, 70), 0);
	ck_assert_int_eq(zap_vtab_set(t, 7, 71), 0);
	ck_assert_uint_eq(t->npids, 1);
	ck_assert_int_eq(zap_vtab_real(t, 7), 71);
	ck_assert_int_eq(zap_vtab_vpid(t, 71), 7);
	ck_assert_int_eq(zap_vtab_vpid(t, 70), 0);
	zap_vtab_unmap(t);
}
END_TEST

START_TEST(vtab_drop)
{
	struct zap_vtab *t = vt_new("vtab");
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(zap_vtab_set(t, 10 + i, 20 + i), 0);
	zap_vtab_drop_real(t, 21);   /* from the middle */
	zap_vtab_drop_real(t, 24);   /* the last */
	zap_vtab_drop_real(t, 999);  /* not there: nothing */
	ck_assert_uint_eq(t->npids, 3);
	ck_assert_int_eq(zap_vtab_real(t, 11), 0);
	ck_assert_int_eq(zap_vtab_real(t, 14), 0);
	ck_assert_int_eq(zap_vtab_real(t, 10), 20);
	ck_assert_int_eq(zap_vtab_real(t, 12), 22);
	ck_assert_int_eq(zap_vtab_real(t, 13), 23);
	/* a dropped real pid that comes back is new */
	ck_assert_int_eq(zap_vtab_adopt(t, 21), 21);
	zap_vtab_unmap(t);
}
END_TEST

/* A full table makes room by dropping the entries of processes that are
 * gone, and keeps the live ones. */
START_TEST(vtab_full_gc)
{
	struct zap_vtab *t = vt_new("vtab");
	pid_t me = getpid();
	ck_assert_int_eq(zap_vtab_set(t, 1, me), 0);
	for (int i = 1; i < ZAP_VTAB_PIDS; i++)
		ck_assert_int_eq(zap_vtab_set(t, 1 + i, VT_GONE + i), 0);
	ck_assert_uint_eq(t->npids, ZAP_VTAB_PIDS);
	ck_assert_int_eq(zap_vtab_adopt(t, 77777), 77777);
	ck_assert_uint_eq(t->npids, 2);
	ck_assert_int_eq(zap_vtab_real(t, 1), me);
	ck_assert_int_eq(zap_vtab_real(t, 77777), 77777);
	ck_assert_int_eq(zap_vtab_real(t, 2), 0);
	zap_vtab_unmap(t);
}
END_TEST

/* Full of live processes: set fails, adopt answers but keeps nothing. */
START_TEST(vtab_full_live)
{
	struct zap_vtab *t = vt_new("vtab");
	pid_t me = getpid();
	for (int i = 0; i < ZAP_VTAB_PIDS; i++)
		ck_assert_int_eq(zap_vtab_set(t, 1 + i, me), 0);
	ck_assert_int_eq(zap_vtab_set(t, 99999, 5), -1);
	ck_assert_int_eq(zap_vtab_set(t, 3, 5), 0); /* replacing needs no room */
	ck_assert_int_eq(zap_vtab_adopt(t, 99999), 99999);
	ck_assert_int_eq(zap_vtab_real(t, 99999), 0);
	ck_assert_uint_eq(t->npids, ZAP_VTAB_PIDS);
	zap_vtab_unmap(t);
}
END_TEST

/* Parent and child adopt the same new pid at once, from two processes:
 * one entry, one answer. */
START_TEST(vtab_adopt_shared)
{
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_int_eq(zap_vtab_set(t, 3000, VT_GONE), 0); /* 3000 is taken as a vpid */
	for (int round = 0; round < 50; round++) {
		int32_t real = 3000 + round * 7;
		pid_t kid = fork();
		ck_assert_int_ge(kid, 0);
		if (kid == 0)
			_exit(zap_vtab_adopt(t, real) == zap_vtab_vpid(t, real) ? 0 : 1);
		int32_t v = zap_vtab_adopt(t, real);
		int st;
		ck_assert_int_eq(waitpid(kid, &st, 0), kid);
		ck_assert_int_eq(st, 0);
		ck_assert_int_eq(zap_vtab_vpid(t, real), v);
		ck_assert_int_eq(v, round ? real : ZAP_VTAB_HIGH_VPID);
	}
	ck_assert_uint_eq(t->npids, 51);
	zap_vtab_unmap(t);
}
END_TEST

START_TEST(vtab_ipc)
{
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_int_eq(zap_vtab_ipc_real(t, ZAP_IPC_SHM, 0), -1);
	ck_assert_int_eq(zap_vtab_ipc_set(t, ZAP_IPC_SHM, 0, 5), 0); /* 0 is an id */
	ck_assert_int_eq(zap_vtab_ipc_set(t, ZAP_IPC_SEM, 0, 6), 0); /* per kind */
	ck_assert_int_eq(zap_vtab_ipc_real(t, ZAP_IPC_SHM, 0), 5);
	ck_assert_int_eq(zap_vtab_ipc_real(t, ZAP_IPC_SEM, 0), 6);
	ck_assert_int_eq(zap_vtab_ipc_real(t, ZAP_IPC_MSG, 0), -1);
	ck_assert_int_eq(zap_vtab_ipc_vid(t, ZAP_IPC_SHM, 5), 0);
	ck_assert_int_eq(zap_vtab_ipc_vid(t, ZAP_IPC_SHM, 6), -1);
	ck_assert_int_eq(zap_vtab_ipc_set(t, ZAP_IPC_SHM, 0, 8), 0);
	ck_assert_int_eq(zap_vtab_ipc_real(t, ZAP_IPC_SHM, 0), 8);
	ck_assert_uint_eq(t->nipcs, 2);
	for (int i = 2; i < ZAP_VTAB_IPCS; i++)
		ck_assert_int_eq(zap_vtab_ipc_set(t, ZAP_IPC_MSG, i, 100 + i), 0);
	ck_assert_int_eq(zap_vtab_ipc_set(t, ZAP_IPC_MSG, 99999, 1), -1);
	ck_assert_int_eq(zap_vtab_ipc_set(t, ZAP_IPC_MSG, 2, 1), 0);
	ck_assert_int_eq(zap_vtab_ipc_real(t, ZAP_IPC_MSG, 2), 1);
	zap_vtab_unmap(t);
}
END_TEST

START_TEST(vtab_ready)
{
	struct zap_vtab *t = vt_new("vtab");
	ck_assert_int_eq(zap_vtab_wait_ready(t, 0), -1);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0)
		_exit(zap_vtab_wait_ready(t, 10000) == 0 ? 0 : 1);
	usleep(20000);
	zap_vtab_set_ready(t);
	int st;
	ck_assert_int_eq(waitpid(kid, &st, 0), kid);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(zap_vtab_wait_ready(t, 0), 0);
	zap_vtab_unmap(t);
}
END_TEST

static Suite *vtab_suite(void)
{
	Suite *s = suite_create("vtab");
	TCase *tc = zt_tcase(s, "pids", ZT_WITH_DIR);
	tcase_add_test(tc, vtab_map);
	tcase_add_test(tc, vtab_adopt);
	tcase_add_test(tc, vtab_collision);
	tcase_add_test(tc, vtab_collision_restored_high);
	tcase_add_test(tc, vtab_set_replace);
	tcase_add_test(tc, vtab_drop);
	tcase_add_test(tc, vtab_full_gc);
	tcase_add_test(tc, vtab_full_live);
	tcase_add_test(tc, vtab_adopt_shared);
	tc = zt_tcase(s, "ipc", ZT_WITH_DIR);
	tcase_add_test(tc, vtab_ipc);
	tc = zt_tcase(s, "ready", ZT_WITH_DIR);
	tcase_add_test(tc, vtab_ready);
	return s;
}
ZT_SUITE(vtab_suite);
