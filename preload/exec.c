/* exec keeps zap: whatever environment the program passes, the new image
 * gets LD_PRELOAD with this library and the pod's settings, so every
 * program a pod member execs joins the pod too.  No malloc here (a vfork
 * child runs this on its parent's memory): the new environment is built on
 * the stack. */
#include "preload.h"
#include "sys.h"
#include "util.h"
#include "zap/common.h"
#include "zap/tunnel.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

struct env_fix {
	char vpid[48];
	char preload[2048];
	char home[600];
	char pod[100];
	char sig[32];
	char proxy[600];
};

static size_t env_count(char *const envp[])
{
	size_t n = 0;
	while (envp && envp[n])
		n++;
	return n;
}

static int is_ours(const char *e)
{
	return zap_startswith(e, "LD_PRELOAD=") || zap_startswith(e, "ZAP_VPID=") ||
	       zap_startswith(e, ZAP_ENV_HOME "=") ||
	       zap_startswith(e, ZAP_ENV_POD "=") || zap_startswith(e, ZAP_ENV_SIGNAL "=") ||
	       zap_startswith(e, ZAP_ENV_PROXY "=");
}

/* out must have room for env_count(envp) + 7 entries. */
static char **env_build(char *const envp[], char **out, struct env_fix *fx)
{
	size_t k = 0;
	const char *old_preload = NULL;
	for (size_t i = 0; envp && envp[i]; i++) {
		if (zap_startswith(envp[i], "LD_PRELOAD="))
			old_preload = envp[i] + 11;
		if (!is_ours(envp[i]))
			out[k++] = envp[i];
	}
	if (!zap_self.lib_path[0]) {
		out[k] = NULL;
		return out;
	}
	if (old_preload && strstr(old_preload, zap_self.lib_path))
		zap_fmt(fx->preload, sizeof(fx->preload), "LD_PRELOAD=%s", old_preload);
	else if (old_preload && *old_preload)
		zap_fmt(fx->preload, sizeof(fx->preload), "LD_PRELOAD=%s:%s", zap_self.lib_path, old_preload);
	else
		zap_fmt(fx->preload, sizeof(fx->preload), "LD_PRELOAD=%s", zap_self.lib_path);
	zap_fmt(fx->home, sizeof(fx->home), ZAP_ENV_HOME "=%s", zap_self.home);
	zap_fmt(fx->pod, sizeof(fx->pod), ZAP_ENV_POD "=%s", zap_self.pod);
	zap_fmt(fx->sig, sizeof(fx->sig), ZAP_ENV_SIGNAL "=%d", zap_self.sig);
	out[k++] = fx->preload;
	out[k++] = fx->home;
	out[k++] = fx->pod;
	out[k++] = fx->sig;
	/* the process keeps its pid across exec, and so its vpid */
	zap_fmt(fx->vpid, sizeof(fx->vpid), "ZAP_VPID=%d:%d", (int)zap_pid_self_after_vfork(), (int)z_getpid());
	out[k++] = fx->vpid;
	if (zap_tunnel_env()) {
		zap_fmt(fx->proxy, sizeof(fx->proxy), ZAP_ENV_PROXY "=%s", zap_tunnel_env());
		out[k++] = fx->proxy;
	}
	out[k] = NULL;
	return out;
}

#define WITH_ENV(envp, fixed)                  \
	struct env_fix fx_;                    \
	char *fixed[env_count(envp) + 7];      \
	env_build((envp), fixed, &fx_)

/* The checkpoint signal is blocked across exec.  A pod checkpoint may
 * signal this process at any moment (a child found in /proc just after its
 * fork), and a signal that came while the new program is still loading,
 * with the default action (terminate) for it, would kill the program.
 * Blocked, it waits until the new program's preload has its handler and
 * unblocks it; a new program without the preload keeps it blocked, and
 * the checkpoint notices that it lost the preload. */
static uint64_t exec_begin(void)
{
	uint64_t set = 1ull << (zap_self.sig - 1), old = 0;
	zsys4(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8);
	return old;
}

static int exec_end(int rc, uint64_t old)
{
	int e = errno;
	zsys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
	errno = e;
	return rc;
}

#define EXEC_BLOCKED(call)                        \
	do {                                       \
		uint64_t mask_ = exec_begin();     \
		return exec_end((call), mask_);    \
	} while (0)

ZAP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	if (!zap_real.execve)
		return errno = ENOSYS, -1;
	WITH_ENV(envp, env);
	EXEC_BLOCKED(zap_real.execve(path, argv, env));
}

ZAP_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	if (!zap_real.execveat)
		return errno = ENOSYS, -1;
	WITH_ENV(envp, env);
	EXEC_BLOCKED(zap_real.execveat(dirfd, path, argv, env, flags));
}

ZAP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!zap_real.fexecve)
		return errno = ENOSYS, -1;
	WITH_ENV(envp, env);
	EXEC_BLOCKED(zap_real.fexecve(fd, argv, env));
}

ZAP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!zap_real.execvpe)
		return errno = ENOSYS, -1;
	WITH_ENV(envp, env);
	EXEC_BLOCKED(zap_real.execvpe(file, argv, env));
}

ZAP_EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
ZAP_EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

/* execl and friends: gather the variadic arguments into an argv. */
#define COLLECT_ARGS(first, ap, argv)                         \
	size_t argc_ = 1;                                     \
	va_start(ap, first);                                  \
	while (va_arg(ap, char *))                            \
		argc_++;                                      \
	va_end(ap);                                           \
	char *argv[argc_ + 1];                                \
	va_start(ap, first);                                  \
	argv[0] = (char *)(first);                            \
	for (size_t i_ = 1; i_ <= argc_; i_++)                \
		argv[i_] = va_arg(ap, char *);

ZAP_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execve(path, argv, environ);
}

ZAP_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execvpe(file, argv, environ);
}

ZAP_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

/* The child's vpid for the caller; the new program asks the table the
 * same at load (zap_pid_open_vtab), and gets the same answer. */
static int spawned(int rc, pid_t *pid)
{
	if (!rc && pid)
		*pid = zap_pid_adopt_child(*pid);
	return rc;
}

ZAP_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!zap_real.posix_spawn)
		return ENOSYS;
	WITH_ENV(envp, env);
	/* the child inherits the mask, unless attr sets its own */
	EXEC_BLOCKED(spawned(zap_real.posix_spawn(pid, path, fa, attr, argv, env), pid));
}

ZAP_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!zap_real.posix_spawnp)
		return ENOSYS;
	WITH_ENV(envp, env);
	EXEC_BLOCKED(spawned(zap_real.posix_spawnp(pid, file, fa, attr, argv, env), pid));
}
