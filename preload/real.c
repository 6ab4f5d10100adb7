/* The real libc functions, found once at load time.  A wrapper that could
 * not find its real function would loop into itself, so a missing one is
 * left NULL and its wrapper fails with ENOSYS instead. */
#include "preload.h"

#include <dlfcn.h>
#include <link.h>

struct zap_real zap_real;

/* Which loaded object holds this code: its file name and the addresses
 * it spans.  Not dladdr(), which walks every symbol of libc to name the
 * nearest one: 80 calls of it were 94% of the instructions a program ran
 * before main under the preload (callgrind, /bin/true). */
static int find_own_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct zap_own_object *o = arg;
	uintptr_t pc = (uintptr_t)find_own_object, lo = ~(uintptr_t)0, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		lo = a < lo ? a : lo;
		hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
	}
	if (pc < lo || pc >= hi)
		return 0;
	o->name = info->dlpi_name;
	o->lo = lo;
	o->hi = hi;
	return 1;
}

const struct zap_own_object *zap_own_object(void)
{
	static struct zap_own_object own;
	if (!own.hi)
		dl_iterate_phdr(find_own_object, &own);
	return &own;
}

static void *find(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	const struct zap_own_object *own = zap_own_object();
	/* never resolve back to ourselves */
	if (p && (uintptr_t)p >= own->lo && (uintptr_t)p < own->hi)
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
