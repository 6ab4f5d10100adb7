/* launcher/sysv.c: a pod's SysV objects go into sysv.img and come back,
 * with their contents, under new ids that the pod's table maps. */
#include "image.h"
#include "sample-image.h"
#include "sysv.h"
#include "unit.h"
#include "util.h"
#include "vtab.h"
#include "zap/common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define SV_PKEY 0x1234
#define SV_SHM_SIZE 10000
#define SV_NSEMS 3

/* Every object a test made, removed at teardown whatever happened. */
static struct {
	int kind, id;
} sv_made[64];
static unsigned sv_nmade;
static char sv_pod[64], sv_pod_dir[PATH_MAX], sv_img_dir[PATH_MAX];

static int sv_note(int kind, int id)
{
	ck_assert_msg(id >= 0, "creating a SysV object: %s", strerror(errno));
	if (sv_nmade < 64)
		sv_made[sv_nmade].kind = kind, sv_made[sv_nmade++].id = id;
	return id;
}

static void sv_rmid(int kind, int id)
{
	if (kind == ZAP_IPC_SHM)
		shmctl(id, IPC_RMID, NULL);
	else if (kind == ZAP_IPC_SEM)
		semctl(id, 0, IPC_RMID);
	else
		msgctl(id, IPC_RMID, NULL);
}

static void sv_setup(void)
{
	char path[PATH_MAX + 16];
	sv_nmade = 0;
	snprintf(sv_pod, sizeof(sv_pod), "unit-sysv-%d", (int)getpid());
	snprintf(sv_pod_dir, sizeof(sv_pod_dir), "%s/%s", zt_dir, sv_pod);
	snprintf(sv_img_dir, sizeof(sv_img_dir), "%s/image", zt_dir);
	ck_assert_int_eq(mkdir(sv_pod_dir, 0755), 0);
	ck_assert_int_eq(mkdir(sv_img_dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s", sv_pod_dir, ZAP_POD_MEMBERS);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void sv_teardown(void)
{
	char err[256];
	zap_sysv_remove(sv_pod_dir, err, sizeof(err));
	for (unsigned i = 0; i < sv_nmade; i++)
		sv_rmid(sv_made[i].kind, sv_made[i].id);
	sv_nmade = 0;
}

static void sv_list(const char *kind, int id, key_t key, key_t pkey)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", sv_pod_dir, ZAP_POD_IPC);
	FILE *f = fopen(path, "a");
	ck_assert(f != NULL);
	fprintf(f, "%s %d 0x%x 0x%x\n", kind, id, (unsigned)key, (unsigned)pkey);
	fclose(f);
}

static unsigned char sv_byte(size_t i) { return (unsigned char)(i * 7 + 3); }

/* The objects: a keyed segment, a private one attached here and listed
 * nowhere (as if made outside the pod), a keyed semaphore set that has
 * seen a semop, a private queue with three messages; and a stale line. */
struct sv_objs {
	int shm, shm_out, sem, msg;
	key_t shm_key, sem_key;
	void *att;
};

static void sv_make(struct sv_objs *o)
{
	o->shm_key = zap_ipc_pod_key(sv_pod, SV_PKEY);
	o->sem_key = zap_ipc_pod_key(sv_pod, SV_PKEY + 1);
	o->shm = sv_note(ZAP_IPC_SHM, shmget(o->shm_key, SV_SHM_SIZE, IPC_CREAT | IPC_EXCL | 0640));
	unsigned char *p = shmat(o->shm, NULL, 0);
	ck_assert(p != (void *)-1);
	for (size_t i = 0; i < SV_SHM_SIZE; i++)
		p[i] = sv_byte(i);
	shmdt(p);
	o->shm_out = sv_note(ZAP_IPC_SHM, shmget(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600));
	o->att = shmat(o->shm_out, NULL, 0);
	ck_assert(o->att != (void *)-1);
	memcpy(o->att, "outside", 8);
	o->sem = sv_note(ZAP_IPC_SEM, semget(o->sem_key, SV_NSEMS, IPC_CREAT | IPC_EXCL | 0600));
	unsigned short vals[SV_NSEMS] = {1, 5, 0};
	ck_assert_int_eq(semctl(o->sem, 0, SETALL, vals), 0);
	struct sembuf op = {1, -1, 0};
	ck_assert_int_eq(semop(o->sem, &op, 1), 0); /* 1, 4, 0 */
	o->msg = sv_note(ZAP_IPC_MSG, msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	static struct {
		long type;
		char text[5000];
	} m;
	for (int i = 0; i < 3; i++) {
		m.type = i == 1 ? 2 : 1;
		size_t n = i == 0 ? 0 : i == 1 ? 100 : 5000;
		memset(m.text, 'a' + i, n);
		ck_assert_int_eq(msgsnd(o->msg, &m, n, IPC_NOWAIT), 0);
	}
	sv_list("shm", o->shm, o->shm_key, SV_PKEY);
	sv_list("sem", o->sem, o->sem_key, SV_PKEY + 1);
	sv_list("sem", o->sem, o->sem_key, SV_PKEY + 1); /* listed twice: opened again */
	sv_list("msg", o->msg, 0, 0);
	sv_list("msg", 0x7ffffff0, 0, 0); /* gone */
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s/%d", sv_pod_dir, ZAP_POD_MEMBERS, (int)getpid());
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}

static void sv_remove_originals(struct sv_objs *o)
{
	shmdt(o->att);
	sv_rmid(ZAP_IPC_SHM, o->shm);
	sv_rmid(ZAP_IPC_SHM, o->shm_out);
	sv_rmid(ZAP_IPC_SEM, o->sem);
	sv_rmid(ZAP_IPC_MSG, o->msg);
}

static struct zap_vtab *sv_vtab(const char *name)
{
	char path[PATH_MAX + 16];
	long e;
	struct zap_vtab *vt = zap_vtab_map(zt_path(path, sizeof(path), name), 1, &e);
	ck_assert_msg(vt != NULL, "vtab: %ld", e);
	return vt;
}

static int sv_new_id(struct zap_vtab *vt, int kind, int old)
{
	int id = zap_vtab_ipc_real(vt, kind, old);
	ck_assert_msg(id >= 0, "the table has no %d:%d", kind, old);
	return sv_note(kind, id);
}

/* The recreated objects hold what the originals held. */
static void sv_check(struct zap_vtab *vt, const struct sv_objs *o)
{
	struct shmid_ds ds;
	int shm = sv_new_id(vt, ZAP_IPC_SHM, o->shm);
	ck_assert_int_eq(shmctl(shm, IPC_STAT, &ds), 0);
	ck_assert_int_eq(ds.shm_perm.__key, o->shm_key);
	ck_assert_uint_eq(ds.shm_perm.mode & 0777, 0640);
	ck_assert_uint_eq(ds.shm_segsz, SV_SHM_SIZE);
	unsigned char *p = shmat(shm, NULL, SHM_RDONLY);
	ck_assert(p != (void *)-1);
	size_t bad = SV_SHM_SIZE;
	for (size_t i = 0; i < SV_SHM_SIZE && bad == SV_SHM_SIZE; i++)
		if (p[i] != sv_byte(i))
			bad = i;
	shmdt(p);
	ck_assert_msg(bad == SV_SHM_SIZE, "segment differs at byte %zu", bad);

	int out = sv_new_id(vt, ZAP_IPC_SHM, o->shm_out);
	ck_assert_int_eq(shmctl(out, IPC_STAT, &ds), 0);
	ck_assert_int_eq(ds.shm_perm.__key, IPC_PRIVATE);
	p = shmat(out, NULL, SHM_RDONLY);
	ck_assert(p != (void *)-1);
	ck_assert_str_eq((char *)p, "outside");
	shmdt(p);

	int sem = sv_new_id(vt, ZAP_IPC_SEM, o->sem);
	unsigned short vals[SV_NSEMS];
	ck_assert_int_eq(semctl(sem, 0, GETALL, vals), 0);
	ck_assert_uint_eq(vals[0], 1);
	ck_assert_uint_eq(vals[1], 4);
	ck_assert_uint_eq(vals[2], 0);
	struct semid_ds sds;
	ck_assert_int_eq(semctl(sem, 0, IPC_STAT, &sds), 0);
	ck_assert_int_eq(sds.sem_perm.__key, o->sem_key);
	ck_assert_msg(sds.sem_otime != 0, "sem_otime is 0 after a restore of a used set");

	int msg = sv_new_id(vt, ZAP_IPC_MSG, o->msg);
	static struct {
		long type;
		char text[8192];
	} m;
	for (int i = 0; i < 3; i++) {
		ssize_t n = msgrcv(msg, &m, sizeof(m.text), 0, IPC_NOWAIT);
		ck_assert_int_eq(n, i == 0 ? 0 : i == 1 ? 100 : 5000);
		ck_assert_int_eq(m.type, i == 1 ? 2 : 1);
		for (ssize_t k = 0; k < n; k++)
			ck_assert_int_eq(m.text[k], 'a' + i);
	}
	ck_assert_int_lt(msgrcv(msg, &m, sizeof(m.text), 0, IPC_NOWAIT), 0);
}

static int sv_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

START_TEST(sysv_round_trip)
{
	struct sv_objs o;
	char err[512], path[PATH_MAX + 32];
	sv_make(&o);
	ck_assert_msg(zap_sysv_save(sv_pod_dir, sv_img_dir, err, sizeof(err)) == 0, "save: %s", err);
	/* the file is a valid image with the four live objects */
	struct zap_img img;
	struct zt_heap heap = {0};
	snprintf(path, sizeof(path), "%s/%s", sv_img_dir, ZAP_SYSV_IMG);
	int opened = zap_img_open(&img, path, zt_heap_alloc, &heap, err, sizeof(err));
	uint32_t kind = img.hdr.kind, n = img.nsysv;
	zap_img_close(&img);
	zt_heap_release(&heap);
	ck_assert_msg(opened == 0, "%s", err);
	ck_assert_uint_eq(kind, ZAP_IMG_KIND_SYSV);
	ck_assert_uint_eq(n, 4);
	sv_remove_originals(&o);

	struct zap_vtab *vt = sv_vtab("vtab");
	ck_assert_msg(zap_sysv_restore(sv_img_dir, sv_pod_dir, vt, err, sizeof(err)) == 0, "restore: %s",
		      err);
	sv_check(vt, &o);
	snprintf(path, sizeof(path), "%s/%s", sv_pod_dir, ZAP_POD_IPC);
	ck_assert_int_eq(sv_lines(path), 4); /* the list names the new objects only */
	zap_vtab_unmap(vt);
}
END_TEST

/* A leftover of the pod's earlier life under one of its keys is replaced;
 * one that a process has attached is not, and the error names the key. */
START_TEST(sysv_leftovers)
{
	struct sv_objs o;
	char err[512];
	sv_make(&o);
	ck_assert_msg(zap_sysv_save(sv_pod_dir, sv_img_dir, err, sizeof(err)) == 0, "save: %s", err);
	shmdt(o.att);
	/* the originals stay: keyed ones are leftovers now */
	struct zap_vtab *vt = sv_vtab("vtab1");
	ck_assert_msg(zap_sysv_restore(sv_img_dir, sv_pod_dir, vt, err, sizeof(err)) == 0, "restore: %s",
		      err);
	sv_check(vt, &o);
	ck_assert_int_lt(semctl(o.sem, 0, GETVAL), 0); /* the leftover went */
	int shm = zap_vtab_ipc_real(vt, ZAP_IPC_SHM, o.shm);
	void *p = shmat(shm, NULL, 0);
	ck_assert(p != (void *)-1);
	zap_vtab_unmap(vt);

	struct zap_vtab *vt2 = sv_vtab("vtab2");
	ck_assert_int_eq(zap_sysv_restore(sv_img_dir, sv_pod_dir, vt2, err, sizeof(err)), -1);
	char want[32];
	snprintf(want, sizeof(want), "key 0x%x", (unsigned)o.shm_key);
	ck_assert_msg(strstr(err, want) && strstr(err, "attached"), "error: %s", err);
	shmdt(p);
	zap_vtab_unmap(vt2);
	ck_assert_int_ge(zap_sysv_remove(sv_pod_dir, err, sizeof(err)), 4);
	ck_assert_int_lt(shmctl(shm, IPC_STAT, &(struct shmid_ds){0}), 0);
}
END_TEST

/* Spoilt contents are refused before anything is made. */
START_TEST(sysv_corrupt_data)
{
	struct sv_objs o;
	char err[512], path[PATH_MAX + 32];
	sv_make(&o);
	ck_assert_msg(zap_sysv_save(sv_pod_dir, sv_img_dir, err, sizeof(err)) == 0, "save: %s", err);
	sv_remove_originals(&o);
	snprintf(path, sizeof(path), "%s/%s", sv_img_dir, ZAP_SYSV_IMG);
	int fd = open(path, O_RDWR);
	unsigned char c;
	ck_assert_int_eq(pread(fd, &c, 1, 4096 + 17), 1);
	c ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &c, 1, 4096 + 17), 1);
	close(fd);
	struct zap_vtab *vt = sv_vtab("vtab");
	ck_assert_int_eq(zap_sysv_restore(sv_img_dir, sv_pod_dir, vt, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "SYSV_DATA: checksum mismatch"), "error: %s", err);
	ck_assert_int_lt(shmget(o.shm_key, 0, 0), 0);
	zap_vtab_unmap(vt);
}
END_TEST

/* No objects: no file, and an old one (a reused spare) goes. */
START_TEST(sysv_none)
{
	char err[512], path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", sv_img_dir, ZAP_SYSV_IMG);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	ck_assert_int_eq(zap_sysv_save(sv_pod_dir, sv_img_dir, err, sizeof(err)), 0);
	ck_assert_int_lt(access(path, F_OK), 0);
	ck_assert_int_eq(zap_sysv_restore(sv_img_dir, sv_pod_dir, NULL, err, sizeof(err)), 0);
}
END_TEST

static Suite *sysv_suite(void)
{
	Suite *s = suite_create("sysv");
	TCase *tc = zt_tcase(s, "objects", ZT_WITH_DIR);
	tcase_add_checked_fixture(tc, sv_setup, sv_teardown);
	tcase_add_test(tc, sysv_round_trip);
	tcase_add_test(tc, sysv_leftovers);
	tcase_add_test(tc, sysv_corrupt_data);
	tcase_add_test(tc, sysv_none);
	return s;
}
ZT_SUITE(sysv_suite);
