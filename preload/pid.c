/* Virtual pids and tids.
 *
 * A process's vpid is the pid it had when it started under zap, and each
 * thread's vtid the tid it had when it first asked; neither changes when
 * the process is restarted with other real ids.  So getpid() and gettid()
 * answer from memory (no system call), and every call that takes a pid or
 * tid from the program translates it to the real one: kill, killpg,
 * tgkill, sigqueue, the process-group calls, syscall() for those numbers,
 * and "/proc/<vpid>/..." paths.  The answers live in our memory, which is
 * part of the image: after a restore only the real side needs updating.
 *
 * This process's own ids (itself, its threads) live here; the ids of the
 * pod's other processes live in the pod's table (ckpt/vtab.c), which
 * exists only after a restart: before one, every vpid equals its real id
 * and ids of other processes pass through unchanged. */
#include "preload.h"
#include "sys.h"
#include "util.h"
#include "vtab.h"
#include "zap/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#define MAX_TIDS 4096

static struct {
	pid_t vpid, real;            /* this process */
	int lock;
	uint32_t ntids;
	struct { pid_t vtid, real; } tids[MAX_TIDS]; /* threads whose ids differ */
} pt;

/* the pod's table, once there is one (after a restart) */
static struct zap_vtab *vt;

static __thread pid_t my_vtid __attribute__((tls_model("initial-exec")));

static void pt_lock(void)
{
	while (__atomic_exchange_n(&pt.lock, 1, __ATOMIC_ACQUIRE))
		zsys0(SYS_sched_yield);
}
static void pt_unlock(void) { __atomic_store_n(&pt.lock, 0, __ATOMIC_RELEASE); }

void zap_pid_init(void)
{
	pt.vpid = pt.real = (pid_t)z_getpid();
	pt.ntids = 0;
	if (vt) /* a child forked after a restart: the table says who it is */
		pt.vpid = zap_vtab_adopt(vt, pt.real);
	my_vtid = pt.vpid; /* the main thread's tid is the pid */
}

void zap_pid_attach_vtab(struct zap_vtab *t)
{
	vt = t;
	if (vt && pt.vpid == pt.real) /* not told otherwise (ZAP_VPID, a restore) */
		pt.vpid = my_vtid = zap_vtab_adopt(vt, pt.real);
}

struct zap_vtab *zap_pid_vtab(void) { return vt; }

void zap_pid_open_vtab(const char *pod_dir)
{
	char path[800];
	long err;
	zap_fmt(path, sizeof(path), "%s/%s", pod_dir, ZAP_VTAB_FILE);
	struct zap_vtab *t = zap_vtab_map(path, 0, &err);
	if (t)
		zap_pid_attach_vtab(t);
}

pid_t zap_pid_self_vtid(void)
{
	if (!my_vtid)
		my_vtid = (pid_t)z_gettid();
	return my_vtid;
}

/* After a restore, once every thread is back: the threads that exist now,
 * each with its vtid (unchanged) and its new real tid. */
void zap_pid_restored(const pid_t *vtids, const pid_t *reals, uint32_t n)
{
	pt_lock();
	pt.real = (pid_t)z_getpid();
	pt.ntids = 0;
	for (uint32_t i = 0; i < n && pt.ntids < MAX_TIDS; i++)
		if (vtids[i] != reals[i] && vtids[i] != pt.vpid) {
			pt.tids[pt.ntids].vtid = vtids[i];
			pt.tids[pt.ntids++].real = reals[i];
		}
	pt_unlock();
}

/* After exec: the pid the process had before, when the launcher (or the
 * process before exec) says so through ZAP_VPID=vpid:real. */
void zap_pid_inherit(const char *env)
{
	if (!env)
		return;
	const char *p = env;
	pid_t v = (pid_t)zap_parse_dec(&p);
	if (*p++ != ':')
		return;
	pid_t r = (pid_t)zap_parse_dec(&p);
	if (!*p && r == pt.real && v > 0)
		pt.vpid = my_vtid = v;
}

pid_t zap_pid_self(void) { return pt.vpid; }

int zap_pid_is_stale(void) { return pt.real != (pid_t)z_getpid(); }

pid_t zap_pid_self_after_vfork(void)
{
	pid_t real = (pid_t)z_getpid();
	if (real == pt.real)
		return pt.vpid;
	/* a vfork child runs on its parent's memory, where nothing says who it
	 * is (atfork handlers do not run): it must not write pt */
	return vt ? zap_vtab_adopt(vt, real) : real;
}

pid_t zap_vpid_to_real(pid_t v)
{
	if (v <= 0)
		return v;
	if (v == pt.vpid)
		return pt.real;
	for (uint32_t i = 0; i < pt.ntids; i++)
		if (pt.tids[i].vtid == v)
			return pt.tids[i].real;
	pid_t r = vt ? zap_vtab_real(vt, v) : 0;
	return r > 0 ? r : v;
}

pid_t zap_real_to_vpid(pid_t r)
{
	if (r <= 0)
		return r;
	if (r == pt.real)
		return pt.vpid;
	for (uint32_t i = 0; i < pt.ntids; i++)
		if (pt.tids[i].real == r)
			return pt.tids[i].vtid;
	pid_t v = vt ? zap_vtab_vpid(vt, r) : 0;
	return v > 0 ? v : r;
}

/* kill()'s and waitpid()'s pid: >0 a process, <-1 a process group, 0 and
 * -1 as they are. */
pid_t zap_pid_arg_to_real(pid_t pid)
{
	if (pid > 0)
		return zap_vpid_to_real(pid);
	if (pid < -1)
		return -zap_vpid_to_real(-pid);
	return pid;
}

/* A child this process just created (fork, clone, posix_spawn): its vpid.
 * The child asks the table the same question (zap_pid_init, or the
 * constructor after exec) and the table answers both alike. */
pid_t zap_pid_adopt_child(pid_t real)
{
	return vt && real > 0 ? zap_vtab_adopt(vt, real) : real;
}

/* A child that was reaped: its entry goes (its real pid may be reused). */
void zap_pid_forget(pid_t real)
{
	if (real <= 0)
		return;
	if (vt)
		zap_vtab_drop_real(vt, real);
	/* its members file too: a pod that forks all day (make) would grow
	 * members/ without end */
	if (zap_self.in_pod) {
		char path[800];
		zap_fmt(path, sizeof(path), "%s/%s/%d", zap_self.pod_dir, ZAP_POD_MEMBERS, (int)real);
		zsys3(SYS_unlinkat, ZAT_FDCWD, path, 0);
	}
}

/* "/proc/<vpid>/..." -> "/proc/<real>/...", in buf; the path itself when
 * it needs nothing. */
const char *zap_pid_path(const char *path, char *buf, size_t n)
{
	if (!path || strncmp(path, "/proc/", 6) || path[6] < '1' || path[6] > '9')
		return path;
	const char *p = path + 6;
	uint64_t v = zap_parse_dec(&p);
	if (*p && *p != '/')
		return path;
	pid_t real = zap_vpid_to_real((pid_t)v);
	if (real == (pid_t)v)
		return path;
	zap_fmt(buf, n, "/proc/%d%s", (int)real, p);
	return buf;
}

/* ---- the wrappers ---- */

ZAP_EXPORT pid_t getpid(void) { return pt.vpid ? pt.vpid : (pid_t)z_getpid(); }
ZAP_EXPORT pid_t gettid(void) { return zap_pid_self_vtid(); }
/* The parent's vpid when it is in the pod; a parent outside the pod (zap
 * run, zap restart, init after the parent died) shows its real pid. */
ZAP_EXPORT pid_t getppid(void) { return zap_real_to_vpid((pid_t)zsys0(SYS_getppid)); }

ZAP_EXPORT int kill(pid_t pid, int sig)
{
	long r = zsys2(SYS_kill, zap_pid_arg_to_real(pid), sig);
	return r < 0 ? (errno = (int)-r, -1) : 0;
}

ZAP_EXPORT int killpg(pid_t pgrp, int sig)
{
	if (pgrp <= 1)
		return errno = EINVAL, -1;
	return kill(-pgrp, sig);
}

ZAP_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig)
{
	long r = zsys3(SYS_tgkill, zap_vpid_to_real(tgid), zap_vpid_to_real(tid), sig);
	return r < 0 ? (errno = (int)-r, -1) : 0;
}

ZAP_EXPORT int sigqueue(pid_t pid, int sig, const union sigval value)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = (pid_t)z_getpid(); /* real, as the kernel's own: receivers translate */
	si.si_uid = (uid_t)zsys0(SYS_getuid);
	si.si_value = value;
	long r = zsys3(SYS_rt_sigqueueinfo, zap_vpid_to_real(pid), sig, &si);
	return r < 0 ? (errno = (int)-r, -1) : 0;
}

#define RET_PID(expr)                                   \
	do {                                            \
		long r_ = (expr);                       \
		if (r_ < 0)                             \
			return errno = (int)-r_, -1;    \
		return zap_real_to_vpid((pid_t)r_);     \
	} while (0)

ZAP_EXPORT pid_t getpgid(pid_t pid) { RET_PID(zsys1(SYS_getpgid, zap_vpid_to_real(pid))); }
ZAP_EXPORT pid_t getpgrp(void) { RET_PID(zsys1(SYS_getpgid, 0)); }
ZAP_EXPORT pid_t getsid(pid_t pid) { RET_PID(zsys1(SYS_getsid, zap_vpid_to_real(pid))); }
ZAP_EXPORT pid_t setsid(void) { RET_PID(zsys0(SYS_setsid)); }

ZAP_EXPORT int setpgid(pid_t pid, pid_t pgid)
{
	long r = zsys2(SYS_setpgid, zap_vpid_to_real(pid), zap_vpid_to_real(pgid));
	return r < 0 ? (errno = (int)-r, -1) : 0;
}

ZAP_EXPORT pid_t tcgetpgrp(int fd)
{
	pid_t pgrp;
	long r = zsys3(SYS_ioctl, fd, TIOCGPGRP, &pgrp);
	if (r < 0)
		return errno = (int)-r, -1;
	return zap_real_to_vpid(pgrp);
}

ZAP_EXPORT int tcsetpgrp(int fd, pid_t pgrp)
{
	pid_t real = zap_vpid_to_real(pgrp);
	long r = zsys3(SYS_ioctl, fd, TIOCSPGRP, &real);
	return r < 0 ? (errno = (int)-r, -1) : 0;
}

/* syscall(): the numbers above, translated; the rest as they are. */
ZAP_EXPORT long syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	long r;
	switch (n) {
	case SYS_getpid:
		return getpid();
	case SYS_gettid:
		return gettid();
	case SYS_getppid:
		return getppid();
	case SYS_fork:
	case SYS_vfork: /* glibc's fork, as vfork() (fork.c) */
		return fork();
	case SYS_wait4:
		r = zap_sys_wait4((pid_t)a, (int *)b, (int)c, (void *)d);
		break;
	case SYS_waitid:
		r = zap_sys_waitid((int)a, (pid_t)b, (siginfo_t *)c, (int)d, (void *)e);
		break;
	case SYS_kill:
		r = zsys2(SYS_kill, zap_pid_arg_to_real((pid_t)a), b);
		break;
	case SYS_tgkill:
		r = zsys3(SYS_tgkill, zap_vpid_to_real((pid_t)a), zap_vpid_to_real((pid_t)b), c);
		break;
	case SYS_tkill:
		r = zsys2(SYS_tkill, zap_vpid_to_real((pid_t)a), b);
		break;
	case SYS_rt_sigqueueinfo:
		r = zsys3(SYS_rt_sigqueueinfo, zap_vpid_to_real((pid_t)a), b, c);
		break;
	case SYS_getpgid:
	case SYS_getsid:
		r = zsys1(n, zap_vpid_to_real((pid_t)a));
		if (r > 0)
			r = zap_real_to_vpid((pid_t)r);
		break;
	default:
		r = zsys6(n, a, b, c, d, e, f);
	}
	return r < 0 && r > -4096 ? (errno = (int)-r, -1) : r;
}

/* "/proc/<vpid>" paths. */
#define PATH_ARG(path)                    \
	char pbuf_[64 + 4096];            \
	path = zap_pid_path(path, pbuf_, sizeof(pbuf_))

ZAP_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;
	va_end(ap);
	PATH_ARG(path);
	return zap_real.open ? zap_real.open(path, flags, mode) : (errno = ENOSYS, -1);
}
ZAP_EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));

ZAP_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;
	va_end(ap);
	PATH_ARG(path);
	return zap_real.openat ? zap_real.openat(dirfd, path, flags, mode) : (errno = ENOSYS, -1);
}
ZAP_EXPORT int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

/* _FORTIFY_SOURCE builds call these instead. */
ZAP_EXPORT int __open_2(const char *path, int flags) { return open(path, flags); }
ZAP_EXPORT int __open64_2(const char *path, int flags) { return open(path, flags); }
ZAP_EXPORT int __openat_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }
ZAP_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

ZAP_EXPORT FILE *fopen(const char *path, const char *mode)
{
	PATH_ARG(path);
	return zap_real.fopen ? zap_real.fopen(path, mode) : (errno = ENOSYS, NULL);
}
ZAP_EXPORT FILE *fopen64(const char *path, const char *mode) __attribute__((alias("fopen")));

ZAP_EXPORT int access(const char *path, int mode)
{
	PATH_ARG(path);
	long r = zsys4(SYS_faccessat, ZAT_FDCWD, path, mode, 0);
	return r < 0 ? (errno = (int)-r, -1) : 0;
}

ZAP_EXPORT ssize_t readlink(const char *path, char *buf, size_t n)
{
	PATH_ARG(path);
	long r = z_readlink(path, buf, n);
	return r < 0 ? (errno = (int)-r, -1) : r;
}

ZAP_EXPORT int stat(const char *path, struct stat *st)
{
	PATH_ARG(path);
	long r = zsys4(SYS_newfstatat, ZAT_FDCWD, path, st, 0);
	return r < 0 ? (errno = (int)-r, -1) : 0;
}
ZAP_EXPORT int stat64(const char *path, struct stat64 *st) /* the same layout on x86-64 */
{
	return stat(path, (struct stat *)st);
}

ZAP_EXPORT int lstat(const char *path, struct stat *st)
{
	PATH_ARG(path);
	long r = zsys4(SYS_newfstatat, ZAT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? (errno = (int)-r, -1) : 0;
}
ZAP_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	return lstat(path, (struct stat *)st);
}

ZAP_EXPORT void *opendir(const char *path)
{
	PATH_ARG(path);
	return zap_real.opendir ? zap_real.opendir(path) : (errno = ENOSYS, NULL);
}
