/* Loading: find the real functions, learn glibc's thread layout, read our
 * settings from the environment once, install the checkpoint handler and
 * join the pod.  Nothing here prints or exits: an interposer that fails
 * leaves the program running without checkpoints rather than breaking it. */
#include "preload.h"
#include "sys.h"
#include "util.h"
#include "zap/common.h"

#include <dlfcn.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct zap_self zap_self;

/* glibc caches each thread's tid in its thread descriptor, which starts at
 * the thread pointer; find the offset by looking for our tid there. */
static long find_tid_offset(void)
{
	uint64_t fs = 0;
	zsys2(SYS_arch_prctl, Z_ARCH_GET_FS, &fs);
	int tid = (int)z_gettid();
	if (!fs)
		return -1;
	for (long off = 0; off < 4096; off += 4)
		if (*(volatile int *)(fs + (uint64_t)off) == tid)
			return off;
	return -1;
}

static void find_layout(void)
{
	zap_self.layout.tid_offset = find_tid_offset();
	const long *off = dlsym(RTLD_DEFAULT, "__rseq_offset");
	const unsigned *size = dlsym(RTLD_DEFAULT, "__rseq_size");
	zap_self.curbrk = dlsym(RTLD_DEFAULT, "__curbrk");
	if (off && size && *size) {
		zap_self.layout.rseq_offset = *off;
		zap_self.layout.rseq_size = *size;
	}
}

static void read_settings(void)
{
	const char *home = getenv(ZAP_ENV_HOME), *pod = getenv(ZAP_ENV_POD);
	const char *sig = getenv(ZAP_ENV_SIGNAL);
	zap_self.sig = sig ? zap_signal_parse(sig) : ZAP_DEFAULT_SIGNAL;
	if (!zap_self.sig)
		zap_self.sig = ZAP_DEFAULT_SIGNAL;
	if (home && home[0] == '/')
		zap_fmt(zap_self.home, sizeof(zap_self.home), "%s", home);
	else
		zap_fmt(zap_self.home, sizeof(zap_self.home), "%s/.zap",
			getenv("HOME") ? getenv("HOME") : "/tmp");
	zap_self.in_pod = pod && *pod && !strchr(pod, '/');
	if (zap_self.in_pod)
		zap_fmt(zap_self.pod, sizeof(zap_self.pod), "%s", pod);
	else
		zap_fmt(zap_self.pod, sizeof(zap_self.pod), "pid-%d", (int)getpid());
	zap_fmt(zap_self.pod_dir, sizeof(zap_self.pod_dir), "%s/pods/%s", zap_self.home, zap_self.pod);
	long n = z_readlink("/proc/self/exe", zap_self.exe, sizeof(zap_self.exe) - 1);
	zap_self.exe[n > 0 ? n : 0] = 0;
	memcpy(zap_self.exe_now, zap_self.exe, sizeof(zap_self.exe_now));
	/* canonical, as /proc/self/maps names it (LD_PRELOAD may hold "..") */
	char real[PATH_MAX];
	const char *name = zap_own_object()->name;
	if (name && name[0])
		zap_fmt(zap_self.lib_path, sizeof(zap_self.lib_path), "%s", realpath(name, real) ? real : name);
}

/* $ZAP_HOME/pods/<pod>/members/<pid>: how `zap ps` and `zap checkpoint PID`
 * find us.  Only under `zap run`, which made the pod directory. */
void zap_pod_register_member(void)
{
	char path[800];
	zap_fmt(path, sizeof(path), "%s/%s", zap_self.pod_dir, ZAP_POD_MEMBERS);
	zsys3(SYS_mkdirat, ZAT_FDCWD, path, 0755);
	zap_fmt(path, sizeof(path), "%s/%s/%d", zap_self.pod_dir, ZAP_POD_MEMBERS, (int)z_getpid());
	/* "EXE\nvpid N\n": the executable we run in (a process that later
	 * execs a program the preload cannot enter, static or setuid, keeps
	 * its pid, and `zap checkpoint` tells it by the changed executable),
	 * and the pid the program sees, for `zap ps`.  No readlink here: this
	 * runs in every fork. */
	char text[600];
	size_t n = zap_fmt(text, sizeof(text), "%s\nvpid %d\n", zap_self.exe_now, (int)zap_pid_self());
	long fd = z_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		z_pwrite_all((int)fd, text, n, 0);
		z_close((int)fd);
	}
}

/* A forked child writes no members file: the file system calls and the
 * copy-on-write faults they cost made fork 1.35x native under a pod
 * directory (bench/wrappers.sh), and the tools find children through
 * /proc, by their parent (zap_pod_processes, launcher/pod.c). */
void zap_fork_child(void)
{
	zap_pid_init(); /* a new process: its own pid */
}

__attribute__((constructor)) static void zap_preload_init(void)
{
	zap_real_init();
	zap_pid_init();
	zap_pid_inherit(getenv("ZAP_VPID"));
	read_settings();
	if (zap_self.in_pod)
		zap_pid_open_vtab(zap_self.pod_dir);
	find_layout();
	zap_signal_install();
	zap_pod_register_member(); /* a no-op outside `zap run`: no pod directory */
	pthread_atfork(NULL, NULL, zap_fork_child);
	zap_self.ready = 1;
}
