/* The real libc functions, found once at load time.  A wrapper that could
 * not find its real function would loop into itself, so a missing one is
 * left NULL and its wrapper fails with ENOSYS instead. */
#include "preload.h"

#include <dlfcn.h>

struct zap_real zap_real;

static void *find(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	Dl_info self, got;
	/* never resolve back to ourselves */
	if (p && dladdr((void *)zap_real_init, &self) && dladdr(p, &got) &&
	    self.dli_fbase == got.dli_fbase)
		return NULL;
	return p;
}

void zap_real_init(void)
{
	zap_real.sigaction = find("sigaction");
	zap_real.sigprocmask = find("sigprocmask");
	zap_real.pthread_sigmask = find("pthread_sigmask");
	zap_real.sigsuspend = find("sigsuspend");
	zap_real.execve = find("execve");
	zap_real.execveat = find("execveat");
	zap_real.fexecve = find("fexecve");
	zap_real.execvpe = find("execvpe");
	zap_real.posix_spawn = find("posix_spawn");
	zap_real.posix_spawnp = find("posix_spawnp");
	zap_real.signal = find("signal");
	zap_real.sysv_signal = find("sysv_signal");
	zap_real.bsd_signal = find("bsd_signal");
	zap_real.sigset = find("sigset");
	zap_real.timer_create = find("timer_create");
	zap_real.timer_delete = find("timer_delete");
	zap_real.open = find("open");
	zap_real.openat = find("openat");
	zap_real.fopen = find("fopen");
	zap_real.opendir = find("opendir");
	zap_real.shmget = find("shmget");
	zap_real.semget = find("semget");
	zap_real.msgget = find("msgget");
	zap_real.shmat = find("shmat");
	zap_real.shmctl = find("shmctl");
	zap_real.semop = find("semop");
	zap_real.semtimedop = find("semtimedop");
	zap_real.semctl = find("semctl");
	zap_real.msgsnd = find("msgsnd");
	zap_real.msgrcv = find("msgrcv");
	zap_real.msgctl = find("msgctl");
	zap_real.sighold = find("sighold");
	zap_real.sigrelse = find("sigrelse");
	zap_real.sigignore = find("sigignore");
	zap_real.fork = find("fork");
	zap_real.Fork = find("_Fork");
	zap_real.clone = find("clone");
	zap_real.wait4 = find("wait4");
	zap_real.waitid = find("waitid");
	zap_real.sigwaitinfo = find("sigwaitinfo");
	zap_real.sigtimedwait = find("sigtimedwait");
}
