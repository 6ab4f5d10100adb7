/* The checkpoint signal belongs to zap: the program's own sigaction,
 * signal, sigset and mask calls on it are recorded and answered as if they
 * had taken effect, but the kernel keeps our handler and never blocks the
 * signal, so nothing the program does can disable checkpointing.  Every
 * other signal goes to libc, with one change: an SA_SIGINFO handler is
 * called through siginfo_tramp, which shows it the sender's vpid in
 * si_pid, as sigwaitinfo and sigtimedwait do too. */
#include "preload.h"

#include <errno.h>
#include <string.h>

/* The program's idea of the checkpoint signal's disposition and, per
 * thread, whether it thinks the signal is blocked. */
static struct sigaction virt_action; /* SIG_DFL until the program sets one */
static __thread int virt_blocked __attribute__((tls_model("initial-exec")));

void zap_signal_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = zap_checkpoint_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask); /* nothing interrupts a checkpoint */
	if (zap_real.sigaction)
		zap_real.sigaction(zap_self.sig, &sa, NULL);
	/* a checkpoint signal blocked by whoever exec'd us would be ours */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, zap_self.sig);
	if (zap_real.sigprocmask)
		zap_real.sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static int is_ours(int sig) { return zap_self.sig && sig == zap_self.sig; }

/* ---- si_pid ---- */

/* The kernel puts the sender's real pid in si_pid for these codes only. */
static int has_pid(int sig, int code)
{
	switch (code) {
	case SI_USER:
	case SI_QUEUE:
	case SI_TKILL:
	case SI_MESGQ:
		return 1;
	}
	return sig == SIGCHLD && code >= CLD_EXITED && code <= CLD_CONTINUED;
}

/* Async-signal-safe: a few compares before a restart (no table, the pid
 * is our own or passes through), a table lookup after one. */
static void fix_siginfo(int sig, siginfo_t *info)
{
	if (info && has_pid(sig, info->si_code))
		info->si_pid = zap_real_to_vpid(info->si_pid);
}

typedef void (*zap_sigaction_fn)(int, siginfo_t *, void *);
static zap_sigaction_fn prog_handler[_NSIG]; /* the program's, where the kernel has ours */

static void siginfo_tramp(int sig, siginfo_t *info, void *uc)
{
	zap_sigaction_fn h = __atomic_load_n(&prog_handler[sig], __ATOMIC_ACQUIRE);
	fix_siginfo(sig, info);
	if (h)
		h(sig, info, uc);
}

static int wants_tramp(const struct sigaction *act)
{
	return act && (act->sa_flags & SA_SIGINFO) && act->sa_handler != SIG_DFL &&
	       act->sa_handler != SIG_IGN;
}

/* What the program installed, in place of our trampoline. */
static __sighandler_t prog_view(int sig, __sighandler_t h)
{
	union { __sighandler_t h; zap_sigaction_fn a; } u = {.h = h}; /* sa_handler's union */
	if (u.a == siginfo_tramp && sig > 0 && sig < _NSIG)
		u.a = prog_handler[sig];
	return u.h;
}

/* Every other signal's sigaction. */
static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig <= 0 || sig >= _NSIG)
		return zap_real.sigaction(sig, act, old);
	struct sigaction wrapped;
	zap_sigaction_fn prev = prog_handler[sig];
	if (wants_tramp(act)) {
		wrapped = *act;
		wrapped.sa_sigaction = siginfo_tramp;
		__atomic_store_n(&prog_handler[sig], act->sa_sigaction, __ATOMIC_RELEASE);
		act = &wrapped;
	}
	int r = zap_real.sigaction(sig, act, old);
	if (r < 0)
		__atomic_store_n(&prog_handler[sig], prev, __ATOMIC_RELEASE);
	else if (old && old->sa_sigaction == siginfo_tramp)
		old->sa_sigaction = prev;
	return r;
}

ZAP_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	if (!zap_real.sigwaitinfo)
		return errno = ENOSYS, -1;
	int r = zap_real.sigwaitinfo(set, info);
	if (r > 0)
		fix_siginfo(r, info);
	return r;
}

ZAP_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
	if (!zap_real.sigtimedwait)
		return errno = ENOSYS, -1;
	int r = zap_real.sigtimedwait(set, info, ts);
	if (r > 0)
		fix_siginfo(r, info);
	return r;
}

/* ---- dispositions ---- */

int zap_signal_virtual_action(const struct sigaction *act, struct sigaction *old)
{
	if (old)
		*old = virt_action;
	if (act)
		virt_action = *act;
	return 0;
}

ZAP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (is_ours(sig))
		return zap_signal_virtual_action(act, old);
	if (!zap_real.sigaction) {
		errno = ENOSYS;
		return -1;
	}
	return real_sigaction(sig, act, old);
}
ZAP_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return sigaction(sig, act, old);
}

/* signal()-style setters for our signal: BSD semantics, as glibc's. */
static __sighandler_t virt_signal(__sighandler_t h, int flags)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof(act));
	act.sa_handler = h;
	act.sa_flags = flags;
	sigemptyset(&act.sa_mask);
	zap_signal_virtual_action(&act, &old);
	return old.sa_handler;
}

#define SIGNAL_WRAPPER(name, flags)                                   \
	ZAP_EXPORT __sighandler_t name(int sig, __sighandler_t h)     \
	{                                                             \
		if (is_ours(sig))                                     \
			return virt_signal(h, flags);                 \
		if (!zap_real.name) {                                 \
			errno = ENOSYS;                               \
			return SIG_ERR;                               \
		}                                                     \
		return prog_view(sig, zap_real.name(sig, h));         \
	}
SIGNAL_WRAPPER(signal, SA_RESTART)
SIGNAL_WRAPPER(bsd_signal, SA_RESTART)
SIGNAL_WRAPPER(sysv_signal, SA_RESETHAND | SA_NODEFER)

ZAP_EXPORT __sighandler_t sigset(int sig, __sighandler_t h)
{
	if (is_ours(sig)) {
		if (h == SIG_HOLD) {
			virt_blocked = 1;
			return virt_action.sa_handler;
		}
		virt_blocked = 0;
		return virt_signal(h, 0);
	}
	return zap_real.sigset ? prog_view(sig, zap_real.sigset(sig, h)) : SIG_ERR;
}

ZAP_EXPORT int sighold(int sig)
{
	if (is_ours(sig))
		return virt_blocked = 1, 0;
	return zap_real.sighold ? zap_real.sighold(sig) : -1;
}

ZAP_EXPORT int sigrelse(int sig)
{
	if (is_ours(sig))
		return virt_blocked = 0, 0;
	return zap_real.sigrelse ? zap_real.sigrelse(sig) : -1;
}

ZAP_EXPORT int sigignore(int sig)
{
	if (is_ours(sig))
		return virt_signal(SIG_IGN, 0), 0;
	return zap_real.sigignore ? zap_real.sigignore(sig) : -1;
}

/* Masks: strip our signal from what reaches the kernel, and keep the
 * program's wish in virt_blocked so that it reads back what it set. */
static int mask_call(int (*real)(int, const sigset_t *, sigset_t *), int how, const sigset_t *set,
		     sigset_t *old)
{
	if (!real)
		return ENOSYS;
	int was = virt_blocked;
	sigset_t copy;
	const sigset_t *pass = set;
	if (set && zap_self.sig) {
		int member = sigismember(set, zap_self.sig) == 1;
		if (how == SIG_BLOCK && member)
			virt_blocked = 1;
		else if (how == SIG_UNBLOCK && member)
			virt_blocked = 0;
		else if (how == SIG_SETMASK)
			virt_blocked = member;
		if (member) {
			copy = *set;
			sigdelset(&copy, zap_self.sig);
			pass = &copy;
		}
	}
	int r = real(how, pass, old);
	if (old && was && zap_self.sig)
		sigaddset(old, zap_self.sig);
	return r;
}

ZAP_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int r = mask_call(zap_real.sigprocmask, how, set, old);
	if (r == ENOSYS && !zap_real.sigprocmask) {
		errno = ENOSYS;
		return -1;
	}
	return r;
}

ZAP_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return mask_call(zap_real.pthread_sigmask, how, set, old);
}

ZAP_EXPORT int sigsuspend(const sigset_t *mask)
{
	if (!zap_real.sigsuspend) {
		errno = ENOSYS;
		return -1;
	}
	sigset_t copy = *mask;
	if (zap_self.sig)
		sigdelset(&copy, zap_self.sig);
	return zap_real.sigsuspend(&copy);
}
