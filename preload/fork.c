/* Children: the calls that create processes and reap them, which hand the
 * program other processes' pids.
 *
 * Before a restart there is no pod table and every pid is real: these
 * wrappers add nothing but a pointer test.  After one, a new child's vpid
 * comes from the table (zap_pid_adopt_child in the parent, zap_pid_init in
 * the child: one lookup-or-insert under the table's lock, so both agree),
 * waits take and return vpids, and a reaped child leaves the table.
 *
 * vfork() is fork(): a wrapper cannot return twice from a vfork on one
 * stack, and a vfork child running on its parent's memory would also share
 * the parent's idea of its own pid (docs/libzappre.md). */
#include "preload.h"
#include "sys.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

ZAP_EXPORT pid_t fork(void)
{
	if (!zap_real.fork)
		return errno = ENOSYS, -1;
	pid_t r = zap_real.fork(); /* the child's side runs in our atfork handler */
	return r > 0 ? zap_pid_adopt_child(r) : r;
}
ZAP_EXPORT pid_t __fork(void) __attribute__((alias("fork"), nothrow));
ZAP_EXPORT pid_t vfork(void) __attribute__((alias("fork")));
ZAP_EXPORT pid_t __vfork(void) __attribute__((alias("fork"), nothrow));

/* glibc's fork without the atfork handlers: the child's side is ours to do. */
ZAP_EXPORT pid_t _Fork(void)
{
	if (!zap_real.Fork)
		return errno = ENOSYS, -1;
	pid_t r = zap_real.Fork();
	if (r == 0)
		zap_fork_child();
	return r > 0 ? zap_pid_adopt_child(r) : r;
}

/* A clone() child with memory of its own starts here, to learn its pid
 * first; its copy of the parent's stack holds the start block. */
struct clone_start {
	int (*fn)(void *);
	void *arg;
};

static int clone_child(void *p)
{
	struct clone_start *s = p;
	zap_fork_child();
	return s->fn(s->arg);
}

/* Threads (CLONE_THREAD) and children sharing our memory (CLONE_VM) are
 * passed as they are: a child in our memory shares our pid variables. */
ZAP_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg); /* as glibc: whatever is there, used only if flags say so */
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!zap_real.clone)
		return errno = ENOSYS, -1;
	int own = !(flags & (CLONE_VM | CLONE_THREAD));
	struct clone_start s = {fn, arg};
	int r = own ? zap_real.clone(clone_child, stack, flags, &s, ptid, tls, ctid)
		    : zap_real.clone(fn, stack, flags, arg, ptid, tls, ctid);
	if (r > 0 && !(flags & CLONE_THREAD)) {
		r = zap_pid_adopt_child(r);
		if ((flags & CLONE_PARENT_SETTID) && ptid)
			*ptid = r;
	}
	return r;
}
ZAP_EXPORT int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
	__attribute__((alias("clone"), nothrow, leaf));

/* ---- waits ---- */

/* A child a wait reported with status st: its vpid; a reaped one (not
 * stopped or continued) leaves the table. */
static pid_t waited(pid_t real, int st, int *status)
{
	if (status)
		*status = st;
	pid_t v = zap_real_to_vpid(real);
	if (WIFEXITED(st) || WIFSIGNALED(st))
		zap_pid_forget(real);
	return v;
}

static void waited_info(siginfo_t *si, int options)
{
	pid_t real = si->si_pid;
	if (real <= 0)
		return; /* WNOHANG and nothing to report */
	si->si_pid = zap_real_to_vpid(real);
	if (!(options & WNOWAIT) &&
	    (si->si_code == CLD_EXITED || si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED))
		zap_pid_forget(real);
}

static id_t waitid_id(int type, id_t id)
{
	return type == P_PID || type == P_PGID ? (id_t)zap_vpid_to_real((pid_t)id) : id;
}

/* Through libc's wait4 and waitid, which are cancellation points. */
ZAP_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	if (!zap_real.wait4)
		return errno = ENOSYS, -1;
	int st = 0;
	pid_t r = zap_real.wait4(zap_pid_arg_to_real(pid), &st, options, ru);
	return r > 0 ? waited(r, st, status) : r;
}

ZAP_EXPORT pid_t waitpid(pid_t pid, int *status, int options) { return wait4(pid, status, options, NULL); }
ZAP_EXPORT pid_t __waitpid(pid_t pid, int *status, int options) __attribute__((alias("waitpid")));
ZAP_EXPORT pid_t wait(int *status) { return wait4(-1, status, 0, NULL); }
ZAP_EXPORT pid_t __wait(int *status) __attribute__((alias("wait")));
ZAP_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	return wait4(-1, status, options, ru);
}

ZAP_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	if (!zap_real.waitid)
		return errno = ENOSYS, -1;
	siginfo_t own;
	siginfo_t *si = info ? info : &own; /* we need the pid even when the caller does not */
	si->si_pid = 0;
	int r = zap_real.waitid(type, waitid_id((int)type, id), si, options);
	if (r == 0)
		waited_info(si, options);
	return r;
}

/* syscall(SYS_wait4 / SYS_waitid): raw, -errno. */
long zap_sys_wait4(pid_t pid, int *status, int options, void *ru)
{
	int st = 0;
	long r = zsys4(SYS_wait4, zap_pid_arg_to_real(pid), &st, options, ru);
	return r > 0 ? waited((pid_t)r, st, status) : r;
}

long zap_sys_waitid(int type, pid_t id, siginfo_t *info, int options, void *ru)
{
	siginfo_t own;
	siginfo_t *si = info ? info : &own;
	si->si_pid = 0;
	long r = zsys5(SYS_waitid, type, waitid_id(type, (id_t)id), si, options, ru);
	if (r == 0)
		waited_info(si, options);
	return r;
}
