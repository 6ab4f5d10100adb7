#define _GNU_SOURCE
/* Children and their pids, as the wrappers show them: every way to create
 * a process (fork, vfork, _Fork, clone, posix_spawn, fork+exec,
 * syscall(SYS_fork)) must return the pid the child sees as its own, the
 * child's getppid() must be our getpid(), and every wait (wait, waitpid by
 * pid and by group, wait3, wait4, waitid, syscall(SYS_wait4)) must take and
 * return those pids, as must si_pid in SA_SIGINFO handlers (SIGCHLD,
 * sigqueue, kill) and sigtimedwait.
 *
 * Runs natively, under the preload, and under the preload with a pod table
 * (tests/tools/mkvtab).  With "high" as argument the children must also
 * have vpids above any real pid (the table the test made holds every pid
 * the kernel will hand out next).  Prints "ok NAME" per check, "FAIL ..."
 * for a failed one, "reaped REAL" for each child reaped, and exits 1 when a
 * check failed. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define HIGH_VPID 4200000 /* ZAP_VTAB_HIGH_VPID */

extern char **environ;
static int failures, want_high;
static const char *self_exe;

static void check(int ok, const char *name, const char *fmt, ...)
{
	if (ok) {
		printf("ok %s\n", name);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL %s: ", name);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

/* what the kernel calls us: /proc/self names the real pid */
static pid_t real_pid(void)
{
	char b[32];
	ssize_t n = readlink("/proc/self", b, sizeof(b) - 1);
	b[n > 0 ? n : 0] = 0;
	return atoi(b);
}

struct who {
	pid_t vpid, real, ppid, pgrp;
};

static void tell(int fd)
{
	struct who w = {getpid(), real_pid(), getppid(), getpgrp()};
	if (write(fd, &w, sizeof(w)) != sizeof(w))
		_exit(99);
}

static struct who hear(int fd)
{
	struct who w = {0, 0, 0, 0};
	if (read(fd, &w, sizeof(w)) != sizeof(w))
		memset(&w, 0, sizeof(w));
	return w;
}

/* p is what the creating call returned; w what the child said. */
static void check_child(const char *name, pid_t p, struct who w)
{
	char n[64];
	snprintf(n, sizeof(n), "%s-pid", name);
	check(p > 0 && p == w.vpid, n, "returned %d, the child's getpid() %d", p, w.vpid);
	snprintf(n, sizeof(n), "%s-ppid", name);
	check(w.ppid == getpid(), n, "child's getppid() %d, our getpid() %d", w.ppid, getpid());
	snprintf(n, sizeof(n), "%s-vpid", name);
	if (want_high)
		check(p >= HIGH_VPID && w.real != p, n, "vpid %d real %d: no collision", p, w.real);
	else
		check(p == w.real, n, "vpid %d but real %d without a table", p, w.real);
}

static void reaped(struct who w) { printf("reaped %d\n", w.real); }

/* st by address: r is the wait's result, evaluated before *st is read */
static void check_status(const char *name, pid_t r, pid_t p, const int *st, int code)
{
	check(r == p && WIFEXITED(*st) && WEXITSTATUS(*st) == code, name,
	      "returned %d (want %d), status %#x (want exit %d)", r, p, *st, code);
}

/* fork; the child tells who it is and exits with code. */
static pid_t fork_telling(int *fd, int code)
{
	int pp[2];
	if (pipe(pp) < 0)
		exit(2);
	pid_t p = fork();
	if (p == 0) {
		close(pp[0]);
		tell(pp[1]);
		_exit(code);
	}
	close(pp[1]);
	*fd = pp[0];
	return p;
}

static void t_fork_waits(void)
{
	int fd, st = 0;
	struct rusage ru;
	pid_t p = fork_telling(&fd, 7);
	struct who w = hear(fd);
	check_child("fork", p, w);
	check(kill(p, 0) == 0, "fork-kill", "kill(%d, 0): %s", p, strerror(errno));
	check_status("waitpid", waitpid(p, &st, 0), p, &st, 7);
	reaped(w);
	check(kill(p, 0) < 0 && errno == ESRCH, "reaped-gone", "kill(%d, 0) after reaping", p);

	p = fork_telling(&fd, 3);
	w = hear(fd);
	check_status("wait", wait(&st), p, &st, 3);
	reaped(w);

	p = fork_telling(&fd, 4);
	w = hear(fd);
	check_status("wait3", wait3(&st, 0, &ru), p, &st, 4);
	reaped(w);

	p = fork_telling(&fd, 5);
	w = hear(fd);
	pid_t r;
	while ((r = wait4(p, &st, WNOHANG, &ru)) == 0)
		usleep(1000);
	check_status("wait4-wnohang", r, p, &st, 5);
	reaped(w);

	p = fork_telling(&fd, 6);
	w = hear(fd);
	check(waitpid(p, NULL, 0) == p, "waitpid-null-status", "");
	reaped(w);

	p = fork_telling(&fd, 8);
	w = hear(fd);
	check_status("syscall-wait4", (pid_t)syscall(SYS_wait4, p, &st, 0, NULL), p, &st, 8);
	reaped(w);
	close(fd);
}

static void t_waitid(void)
{
	int fd;
	siginfo_t si;
	pid_t p = fork_telling(&fd, 9);
	struct who w = hear(fd);
	memset(&si, 0, sizeof(si));
	int r = waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT);
	check(r == 0 && si.si_pid == p && si.si_code == CLD_EXITED && si.si_status == 9,
	      "waitid-nowait", "r %d si_pid %d (want %d) code %d status %d", r, si.si_pid, p,
	      si.si_code, si.si_status);
	check(kill(p, 0) == 0, "waitid-nowait-kept", "kill(%d, 0) after WNOWAIT: %s", p,
	      strerror(errno));
	memset(&si, 0, sizeof(si));
	r = waitid(P_PID, (id_t)p, &si, WEXITED);
	check(r == 0 && si.si_pid == p && si.si_status == 9, "waitid", "r %d si_pid %d (want %d)", r,
	      si.si_pid, p);
	reaped(w);
	close(fd);
}

/* A child in its own process group, waited for by the group. */
static void t_groups(void)
{
	int tellp[2], go[2], st;
	if (pipe(tellp) < 0 || pipe(go) < 0)
		exit(2);
	pid_t p = fork();
	if (p == 0) {
		char c;
		close(go[1]);
		setpgid(0, 0);
		tell(tellp[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(98);
		_exit(11);
	}
	struct who w = hear(tellp[0]);
	check(w.pgrp == p && getpgid(p) == p, "pgid", "child's getpgrp() %d, getpgid(%d) %d", w.pgrp,
	      p, getpgid(p));
	close(go[1]);
	check_status("waitpid-group", waitpid(-p, &st, 0), p, &st, 11);
	reaped(w);

	/* stopped and continued children keep their entry */
	if (pipe(go) < 0)
		exit(2);
	p = fork();
	if (p == 0) {
		char c;
		close(go[1]);
		tell(tellp[1]);
		raise(SIGSTOP);
		if (read(go[0], &c, 1) < 0)
			_exit(98);
		_exit(12);
	}
	close(go[0]);
	w = hear(tellp[0]);
	pid_t r = waitpid(p, &st, WUNTRACED);
	check(r == p && WIFSTOPPED(st), "waitpid-stopped", "returned %d, status %#x", r, st);
	check(kill(p, SIGCONT) == 0, "kill-stopped", "kill(%d, SIGCONT): %s", p, strerror(errno));
	r = waitpid(p, &st, WCONTINUED);
	check(r == p && WIFCONTINUED(st), "waitpid-continued", "returned %d, status %#x", r, st);
	close(go[1]);
	check_status("waitpid-after-stop", waitpid(p, &st, 0), p, &st, 12);
	reaped(w);
	close(tellp[0]);
	close(tellp[1]);
}

static volatile sig_atomic_t chld_pid, chld_code, usr_pid, usr_code, rt_pid, rt_code, rt_value;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	chld_pid = si->si_pid;
	chld_code = si->si_code;
}

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	usr_pid = si->si_pid;
	usr_code = si->si_code;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	rt_pid = si->si_pid;
	rt_code = si->si_code;
	rt_value = si->si_value.sival_int;
}

static void wait_flag(volatile sig_atomic_t *f)
{
	for (int i = 0; i < 3000 && !*f; i++)
		usleep(1000);
}

static void t_siginfo(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sa.sa_sigaction = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_sigaction = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_sigaction = on_rt;
	sigaction(SIGRTMIN, &sa, NULL);
	memset(&old, 0, sizeof(old));
	sigaction(SIGCHLD, NULL, &old);
	check(old.sa_sigaction == on_chld && (old.sa_flags & SA_SIGINFO), "sigaction-readback",
	      "old handler %p, want %p", (void *)old.sa_sigaction, (void *)on_chld);

	int st;
	pid_t p = fork();
	if (p == 0) {
		union sigval v = {.sival_int = 42};
		sigqueue(getppid(), SIGRTMIN, v);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	wait_flag(&chld_pid);
	wait_flag(&usr_pid);
	wait_flag(&rt_pid);
	check(chld_pid == p && chld_code == CLD_EXITED, "sigchld-si_pid", "si_pid %d (want %d) code %d",
	      (int)chld_pid, p, (int)chld_code);
	check(usr_pid == p && usr_code == SI_USER, "kill-si_pid", "si_pid %d (want %d) code %d",
	      (int)usr_pid, p, (int)usr_code);
	check(rt_pid == p && rt_code == SI_QUEUE && rt_value == 42, "sigqueue-si_pid",
	      "si_pid %d (want %d) code %d value %d", (int)rt_pid, p, (int)rt_code, (int)rt_value);
	check_status("waitpid-sigchld", waitpid(p, &st, 0), p, &st, 0);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	p = fork();
	if (p == 0) {
		kill(getppid(), SIGRTMIN + 1);
		_exit(0);
	}
	siginfo_t si;
	struct timespec ts = {5, 0};
	memset(&si, 0, sizeof(si));
	int r = sigtimedwait(&set, &si, &ts);
	check(r == SIGRTMIN + 1 && si.si_pid == p, "sigtimedwait-si_pid", "r %d si_pid %d (want %d)", r,
	      si.si_pid, p);
	waitpid(p, &st, 0);

	sa.sa_flags = 0;
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, &old);
	check(old.sa_sigaction == on_chld, "sigaction-old", "old handler %p", (void *)old.sa_sigaction);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGRTMIN, &sa, NULL);
}

/* Children that exec this program with "report FD". */
static void t_exec(void)
{
	int pp[2], st;
	char fdarg[16];
	if (pipe(pp) < 0)
		exit(2);
	snprintf(fdarg, sizeof(fdarg), "%d", pp[1]);
	char *argv[] = {(char *)"vtabkids", (char *)"report", fdarg, NULL};

	pid_t p = 0;
	int rc = posix_spawn(&p, self_exe, NULL, NULL, argv, environ);
	check(rc == 0, "posix_spawn", "rc %d", rc);
	struct who w = hear(pp[0]);
	check_child("posix_spawn", p, w);
	check_status("posix_spawn-wait", waitpid(p, &st, 0), p, &st, 4);
	reaped(w);

	p = fork();
	if (p == 0) {
		execv(self_exe, argv);
		_exit(97);
	}
	w = hear(pp[0]);
	check_child("fork-exec", p, w);
	check_status("fork-exec-wait", waitpid(p, &st, 0), p, &st, 4);
	reaped(w);

	p = vfork();
	if (p == 0) {
		execv(self_exe, argv);
		_exit(97);
	}
	w = hear(pp[0]);
	check_child("vfork-exec", p, w);
	check_status("vfork-exec-wait", waitpid(p, &st, 0), p, &st, 4);
	reaped(w);
	close(pp[0]);
	close(pp[1]);
}

static int clone_fn(void *arg)
{
	tell(*(int *)arg);
	return 6;
}

static void t_other_forks(void)
{
	int pp[2], st;
	if (pipe(pp) < 0)
		exit(2);
	size_t ssz = 256 * 1024;
	char *stack = malloc(ssz);
	pid_t p = clone(clone_fn, stack + ssz, SIGCHLD, &pp[1]);
	struct who w = hear(pp[0]);
	check_child("clone", p, w);
	check_status("clone-wait", waitpid(p, &st, 0), p, &st, 6);
	reaped(w);
	free(stack);

	p = _Fork();
	if (p == 0) {
		tell(pp[1]);
		_exit(5);
	}
	w = hear(pp[0]);
	check_child("_Fork", p, w);
	check_status("_Fork-wait", waitpid(p, &st, 0), p, &st, 5);
	reaped(w);

	p = (pid_t)syscall(SYS_fork);
	if (p == 0) {
		tell(pp[1]);
		_exit(syscall(SYS_getppid) == getppid() ? 2 : 3);
	}
	w = hear(pp[0]);
	check_child("syscall-fork", p, w);
	check_status("syscall-fork-wait", waitpid(p, &st, 0), p, &st, 2);
	reaped(w);
	close(pp[0]);
	close(pp[1]);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "report")) {
		tell(atoi(argv[2]));
		return 4;
	}
	want_high = argc > 1 && !strcmp(argv[1], "high");
	static char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	self_exe = exe;
	printf("self vpid %d real %d\n", getpid(), real_pid());
	t_fork_waits();
	t_waitid();
	t_groups();
	t_siginfo();
	t_exec();
	t_other_forks();
	printf("done, %d failed\n", failures);
	return failures ? 1 : 0;
}
