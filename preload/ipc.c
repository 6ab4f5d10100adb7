/* SysV IPC: keys and ids, per pod.
 *
 * Keys.  A program names a shared memory segment, semaphore set or message
 * queue by a key; two pods on one host that use the same key (a legacy
 * program run twice) must not see each other's objects.  The key a pod's
 * process passes is turned into a key of the pod's own: a hash of the
 * pod's name and the program's key, the same in every member, so no table
 * needs to be shared.  IPC_PRIVATE stays private.
 *
 * Ids.  Before the pod's first restart an object's id is the kernel's and
 * every call passes straight through.  A restart recreates the objects
 * (launcher/sysv.c) with new kernel ids and writes old id -> new id into
 * the pod's table (ckpt/vtab.c); from then on every call that takes an id
 * translates it (an id the table does not know passes through), and every
 * call that returns one gives the program its virtual id: the real id for
 * an object made after the restart, unless that number is the virtual id
 * of a restored object.  shmdt takes an address, not an id: not wrapped.
 *
 * Membership.  The get calls append "shm|sem|msg ID KEY PKEY" (the real
 * id, the kernel's key and the program's key) to $ZAP_HOME/pods/<pod>/ipc,
 * one O_APPEND write each time an object is made or opened: the list the
 * checkpoint coordinator saves from (docs/libzappre.md). */
#include "preload.h"
#include "sys.h"
#include "util.h"
#include "vtab.h"
#include "zap/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif
#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

/* The fourth argument of semctl, which the caller defines (SUSv2). */
union ipc_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	void *info;
};

key_t zap_ipc_key(key_t key)
{
	return zap_self.in_pod ? zap_ipc_pod_key(zap_self.pod, key) : key;
}

/* ---- ids ---- */

/* The program's id -> the kernel's. */
static int ipc_real(int kind, int id)
{
	struct zap_vtab *t = zap_pid_vtab();
	if (!t || id < 0)
		return id;
	int32_t r = zap_vtab_ipc_real(t, kind, id);
	return r < 0 ? id : r;
}

/* The kernel's id of an object the pod made or opened -> the program's. */
static int ipc_adopt(int kind, int real)
{
	struct zap_vtab *t = zap_pid_vtab();
	return t && real >= 0 ? zap_vtab_ipc_adopt(t, kind, real) : real;
}

/* The kernel's id of some object (*_STAT by index) -> the program's. */
static int ipc_virtual(int kind, int real)
{
	struct zap_vtab *t = zap_pid_vtab();
	int32_t v = t && real >= 0 ? zap_vtab_ipc_vid(t, kind, real) : -1;
	return v < 0 ? real : v;
}

static void ipc_removed(int kind, int vid)
{
	struct zap_vtab *t = zap_pid_vtab();
	if (t)
		zap_vtab_ipc_drop(t, kind, vid);
}

static void ipc_record(const char *kind, int real, key_t key, key_t pkey)
{
	if (!zap_self.in_pod || real < 0)
		return;
	char path[sizeof(zap_self.pod_dir) + 8], line[96];
	zap_fmt(path, sizeof(path), "%s/%s", zap_self.pod_dir, ZAP_POD_IPC);
	size_t n = zap_fmt(line, sizeof(line), "%s %d 0x%x 0x%x\n", kind, real, (unsigned)key,
			   (unsigned)pkey);
	long fd = z_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		z_write((int)fd, line, n);
		z_close((int)fd);
	}
}

#define NEED(fn, fail)                              \
	do {                                        \
		if (!zap_real.fn)                   \
			return errno = ENOSYS, fail; \
	} while (0)

/* ---- the get calls ---- */

ZAP_EXPORT int shmget(key_t key, size_t size, int flags)
{
	NEED(shmget, -1);
	key_t k = zap_ipc_key(key);
	int r = zap_real.shmget(k, size, flags);
	ipc_record("shm", r, k, key);
	return ipc_adopt(ZAP_IPC_SHM, r);
}

ZAP_EXPORT int semget(key_t key, int nsems, int flags)
{
	NEED(semget, -1);
	key_t k = zap_ipc_key(key);
	int r = zap_real.semget(k, nsems, flags);
	ipc_record("sem", r, k, key);
	return ipc_adopt(ZAP_IPC_SEM, r);
}

ZAP_EXPORT int msgget(key_t key, int flags)
{
	NEED(msgget, -1);
	key_t k = zap_ipc_key(key);
	int r = zap_real.msgget(k, flags);
	ipc_record("msg", r, k, key);
	return ipc_adopt(ZAP_IPC_MSG, r);
}

/* ---- shared memory ---- */

ZAP_EXPORT void *shmat(int id, const void *addr, int flags)
{
	NEED(shmat, (void *)-1);
	return zap_real.shmat(ipc_real(ZAP_IPC_SHM, id), addr, flags);
}

ZAP_EXPORT int shmctl(int id, int cmd, struct shmid_ds *buf)
{
	NEED(shmctl, -1);
	int by_index = cmd == SHM_STAT || cmd == SHM_STAT_ANY;
	int info = cmd == IPC_INFO || cmd == SHM_INFO;
	int r = zap_real.shmctl(by_index || info ? id : ipc_real(ZAP_IPC_SHM, id), cmd, buf);
	if (r < 0)
		return r;
	if ((cmd == IPC_STAT || by_index) && buf) {
		buf->shm_cpid = zap_real_to_vpid(buf->shm_cpid);
		buf->shm_lpid = zap_real_to_vpid(buf->shm_lpid);
	}
	/* a segment marked removed lives on while attached: its entry stays */
	return by_index ? ipc_virtual(ZAP_IPC_SHM, r) : r;
}

/* ---- semaphores ---- */

ZAP_EXPORT int semop(int id, struct sembuf *ops, size_t n)
{
	NEED(semop, -1);
	return zap_real.semop(ipc_real(ZAP_IPC_SEM, id), ops, n);
}

ZAP_EXPORT int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *timeout)
{
	NEED(semtimedop, -1);
	return zap_real.semtimedop(ipc_real(ZAP_IPC_SEM, id), ops, n, timeout);
}

ZAP_EXPORT int semctl(int id, int num, int cmd, ...)
{
	NEED(semctl, -1);
	union ipc_semun arg = {0};
	switch (cmd) { /* the commands that take the fourth argument, as glibc reads it */
	case IPC_STAT:
	case IPC_SET:
	case GETALL:
	case SETALL:
	case SETVAL:
	case IPC_INFO:
	case SEM_INFO:
	case SEM_STAT:
	case SEM_STAT_ANY: {
		va_list ap;
		va_start(ap, cmd);
		arg = va_arg(ap, union ipc_semun);
		va_end(ap);
		break;
	}
	default:
		break;
	}
	int by_index = cmd == SEM_STAT || cmd == SEM_STAT_ANY;
	int info = cmd == IPC_INFO || cmd == SEM_INFO;
	int r = zap_real.semctl(by_index || info ? id : ipc_real(ZAP_IPC_SEM, id), num, cmd, arg);
	if (r < 0)
		return r;
	if (cmd == GETPID)
		return zap_real_to_vpid(r);
	if (cmd == IPC_RMID)
		ipc_removed(ZAP_IPC_SEM, id);
	return by_index ? ipc_virtual(ZAP_IPC_SEM, r) : r;
}

/* ---- message queues ---- */

ZAP_EXPORT int msgsnd(int id, const void *msg, size_t n, int flags)
{
	NEED(msgsnd, -1);
	return zap_real.msgsnd(ipc_real(ZAP_IPC_MSG, id), msg, n, flags);
}

ZAP_EXPORT ssize_t msgrcv(int id, void *msg, size_t n, long type, int flags)
{
	NEED(msgrcv, -1);
	return zap_real.msgrcv(ipc_real(ZAP_IPC_MSG, id), msg, n, type, flags);
}

ZAP_EXPORT int msgctl(int id, int cmd, struct msqid_ds *buf)
{
	NEED(msgctl, -1);
	int by_index = cmd == MSG_STAT || cmd == MSG_STAT_ANY;
	int info = cmd == IPC_INFO || cmd == MSG_INFO;
	int r = zap_real.msgctl(by_index || info ? id : ipc_real(ZAP_IPC_MSG, id), cmd, buf);
	if (r < 0)
		return r;
	if ((cmd == IPC_STAT || by_index) && buf) {
		buf->msg_lspid = zap_real_to_vpid(buf->msg_lspid);
		buf->msg_lrpid = zap_real_to_vpid(buf->msg_lrpid);
	}
	if (cmd == IPC_RMID)
		ipc_removed(ZAP_IPC_MSG, id);
	return by_index ? ipc_virtual(ZAP_IPC_MSG, r) : r;
}
