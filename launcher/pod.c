/* Pod state on disk, shared by the subcommands:
 *
 *   $ZAP_HOME/pods/<name>/pid       main process, decimal
 *   $ZAP_HOME/pods/<name>/cmd       command line
 *   $ZAP_HOME/pods/<name>/members/  one file per member pid (the preload)
 *   $ZAP_HOME/pods/<name>/request   next checkpoint's orders (zap checkpoint)
 *   $ZAP_HOME/pods/<name>/result    last checkpoint's outcome (the preload)
 *   $ZAP_HOME/pods/<name>/image/    the default image directory
 */
#include "imgdir.h"
#include "zap.h"
#include "zap/vtab.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

const char *zap_home(void)
{
	static char home[PATH_MAX];
	if (home[0])
		return home;
	const char *h = getenv(ZAP_ENV_HOME);
	if (h && *h) {
		if (h[0] == '/') {
			snprintf(home, sizeof(home), "%s", h);
		} else {
			char cwd[PATH_MAX];
			snprintf(home, sizeof(home), "%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : ".", h);
		}
	} else {
		snprintf(home, sizeof(home), "%s/.zap", getenv("HOME") ? getenv("HOME") : "/tmp");
	}
	char pods[PATH_MAX + 8];
	snprintf(pods, sizeof(pods), "%s/pods", home);
	if (mkdir_p(pods, 0755) < 0)
		zap_err("cannot create %s: %s", pods, strerror(errno));
	return home;
}

int zap_pod_dir(const char *pod, char *buf, size_t n)
{
	return snprintf(buf, n, "%s/pods/%s", zap_home(), pod) < (int)n ? 0 : -1;
}

int zap_pod_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > 48 || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

static int read_small(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t got = fread(buf, 1, n - 1, f);
	buf[got] = 0;
	fclose(f);
	return (int)got;
}

static int write_small(const char *path, const char *data)
{
	char tmp[PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -1;
	fputs(data, f);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* A pid is the pod's while it lives and still carries the pod in its
 * environment (pids are reused). */
int zap_pod_member_alive(pid_t pid, const char *pod)
{
	if (pid <= 0 || kill(pid, 0) < 0)
		return 0;
	char path[64], env[65536];
	/* a zombie waiting for its parent is no longer a member */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *st = fopen(path, "re");
	if (st) {
		char *rp = fgets(env, 4096, st) ? strrchr(env, ')') : NULL;
		fclose(st);
		if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
			return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1; /* not ours to read: trust the pid file */
	ssize_t n = read(fd, env, sizeof(env) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	env[n] = 0;
	char want[128];
	snprintf(want, sizeof(want), ZAP_ENV_POD "=%s", pod);
	for (char *p = env; p < env + n; p += strlen(p) + 1)
		if (!strcmp(p, want))
			return 1;
	/* a restored process has the environment of its checkpoint: its own
	 * pod name may differ if restarted with --pod, so accept a members file */
	char member[PATH_MAX];
	snprintf(member, sizeof(member), "%s/pods/%s/%s/%d", zap_home(), pod, ZAP_POD_MEMBERS, (int)pid);
	return access(member, F_OK) == 0;
}

pid_t zap_pod_pid(const char *pod)
{
	char path[PATH_MAX], buf[32];
	if (zap_pod_dir(pod, path, sizeof(path)) < 0)
		return 0;
	strncat(path, "/" ZAP_POD_PID, sizeof(path) - strlen(path) - 1);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	pid_t pid = (pid_t)atoi(buf);
	return zap_pod_member_alive(pid, pod) ? pid : 0;
}

int zap_pod_signal(const char *pod)
{
	char path[PATH_MAX], buf[32];
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/" ZAP_POD_SIGNAL, sizeof(path) - strlen(path) - 1);
	int sig = read_small(path, buf, sizeof(buf)) > 0 ? atoi(buf) : 0;
	return sig > 0 && sig <= 64 ? sig : ZAP_DEFAULT_SIGNAL;
}

int zap_pod_set_signal(const char *pod, int sig)
{
	char path[PATH_MAX], buf[32];
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/" ZAP_POD_SIGNAL, sizeof(path) - strlen(path) - 1);
	snprintf(buf, sizeof(buf), "%d\n", sig);
	return write_small(path, buf);
}

int zap_pod_set_pid(const char *pod, pid_t pid)
{
	char path[PATH_MAX], buf[32];
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/" ZAP_POD_PID, sizeof(path) - strlen(path) - 1);
	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	return write_small(path, buf);
}

int zap_pod_name_check(const char *name)
{
	if (zap_pod_name_ok(name))
		return 1;
	zap_err("bad pod name '%s': use letters, digits, '-', '_' and '.', at most 48", name);
	return 0;
}

int zap_pod_create(const char *pod, char *const argv[])
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	if (!zap_pod_name_check(pod))
		return -1;
	pid_t running = zap_pod_pid(pod);
	if (running) {
		zap_err("pod '%s' is running already (pid %d)", pod, (int)running);
		return -1;
	}
	zap_pod_dir(pod, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, ZAP_POD_MEMBERS);
	if (mkdir_p(path, 0755) < 0) {
		zap_err("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	/* members of an earlier life of this pod are gone */
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			char m[PATH_MAX + 400];
			snprintf(m, sizeof(m), "%s/%s", path, e->d_name);
			unlink(m);
		}
	if (d)
		closedir(d);
	char cmd[4096] = "";
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i)
			strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
		strncat(cmd, argv[i], sizeof(cmd) - strlen(cmd) - 1);
	}
	strncat(cmd, "\n", sizeof(cmd) - strlen(cmd) - 1);
	snprintf(path, sizeof(path), "%s/%s", dir, ZAP_POD_CMD);
	if (argv)
		write_small(path, cmd);
	snprintf(path, sizeof(path), "%s/%s", dir, ZAP_POD_PID);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, ZAP_VTAB_FILE); /* an earlier life's ids */
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, ZAP_POD_IPC); /* and SysV objects */
	unlink(path);
	return 0;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int zap_pod_resolve(const char *what, char *pod, size_t n, pid_t *pid)
{
	if (!all_digits(what)) {
		if (!zap_pod_name_ok(what)) {
			zap_err("'%s' is neither a pod name nor a pid", what);
			return -1;
		}
		snprintf(pod, n, "%s", what);
		*pid = zap_pod_pid(pod);
		if (!*pid) {
			char dir[PATH_MAX];
			zap_pod_dir(pod, dir, sizeof(dir));
			if (access(dir, F_OK) == 0)
				zap_err("pod '%s' is not running", pod);
			else
				zap_err("no pod named '%s' (see 'zap ps')", pod);
			return -1;
		}
		return 0;
	}
	pid_t want = (pid_t)atoi(what);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/pods", zap_home());
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char member[PATH_MAX + 600];
		snprintf(member, sizeof(member), "%s/%s/%s/%d", dir, e->d_name, ZAP_POD_MEMBERS, (int)want);
		int found = access(member, F_OK) == 0 && zap_pod_member_alive(want, e->d_name);
		if (!found) { /* a forked child of a member */
			static pid_t all[4096];
			int k = zap_pod_processes(e->d_name, all, 4096);
			for (int i = 0; i < k && !found; i++)
				found = all[i] == want;
		}
		if (found) {
			snprintf(pod, n, "%s", e->d_name);
			*pid = want;
			closedir(d);
			return 0;
		}
	}
	if (d)
		closedir(d);
	if (kill(want, 0) < 0)
		zap_err("no process %d", (int)want);
	else
		zap_err("process %d is not running under zap (see 'zap ps')", (int)want);
	return -1;
}

static int find_next_to_self(const char *rel, const char *env, char *buf, size_t n)
{
	const char *e = getenv(env);
	if (e && *e) {
		snprintf(buf, n, "%s", e);
		if (access(buf, R_OK) == 0)
			return 0;
		zap_err("%s=%s: %s", env, e, strerror(errno));
		return -2;
	}
	char self[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (k < 0)
		return -1;
	self[k] = 0;
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	snprintf(buf, n, "%s/%s", self, rel);
	char real[PATH_MAX];
	if (!realpath(buf, real))
		return -1;
	snprintf(buf, n, "%s", real);
	return 0;
}

int zap_find_preload(char *buf, size_t n)
{
	int r = find_next_to_self("../lib/zap/libzappre.so", ZAP_ENV_PRELOAD, buf, n);
	if (r == -1)
		zap_err("cannot find libzappre.so next to zap (../lib/zap/); set " ZAP_ENV_PRELOAD);
	if (r < 0)
		return -1;
	return 0;
}

int zap_find_restorer(char *buf, size_t n)
{
	int r = find_next_to_self("zap-restart", ZAP_ENV_RESTORER, buf, n);
	if (r == -1)
		zap_err("cannot find zap-restart next to zap; set " ZAP_ENV_RESTORER);
	if (r < 0)
		return -1;
	return 0;
}

int zap_result_read(const char *pod, struct zap_result *res)
{
	char path[PATH_MAX], buf[4096];
	memset(res, 0, sizeof(*res));
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/" ZAP_POD_RESULT, sizeof(path) - strlen(path) - 1);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "id"))
			res->id = strtoull(v, NULL, 10);
		else if (!strcmp(line, "status"))
			res->ok = !strcmp(v, "ok");
		else if (!strcmp(line, "kill"))
			res->kill = atoi(v);
		else if (!strcmp(line, "pid"))
			res->pid = atoi(v);
		else if (!strcmp(line, "image"))
			snprintf(res->image, sizeof(res->image), "%s", v);
		else if (!strcmp(line, "error"))
			snprintf(res->error, sizeof(res->error), "%s", v);
		else if (!strcmp(line, "old"))
			snprintf(res->old, sizeof(res->old), "%s", v);
		else if (!strcmp(line, "warning"))
			snprintf(res->warning, sizeof(res->warning), "%s", v);
		else if (!strcmp(line, "bytes"))
			res->bytes = strtoull(v, NULL, 10);
		else if (!strcmp(line, "pages"))
			res->pages = strtoull(v, NULL, 10);
		else if (!strcmp(line, "write_usec"))
			res->write_usec = strtoull(v, NULL, 10);
		else if (!strcmp(line, "stop_usec"))
			res->stop_usec = strtoull(v, NULL, 10);
		else if (!strcmp(line, "migrated"))
			snprintf(res->migrated, sizeof(res->migrated), "%s", v);
	}
	return 0;
}

int zap_result_write(const char *pod, const struct zap_result *res)
{
	char path[PATH_MAX], buf[8192];
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/" ZAP_POD_RESULT, sizeof(path) - strlen(path) - 1);
	snprintf(buf, sizeof(buf),
		 "id=%llu\nstatus=%s\npid=%d\nimage=%s\nkill=%d\nerror=%s\nbytes=%llu\npages=%llu\n"
		 "write_usec=%llu\nstop_usec=%llu\nwarning=%s\nold=\nmigrated=%s\n",
		 (unsigned long long)res->id, res->ok ? "ok" : "error", (int)res->pid, res->image,
		 res->kill, res->error, (unsigned long long)res->bytes, (unsigned long long)res->pages,
		 (unsigned long long)res->write_usec, (unsigned long long)res->stop_usec, res->warning,
		 res->migrated);
	return write_small(path, buf);
}

int zap_no_spare;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int zap_pod_maps_have_preload(pid_t pid)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	int found = 0;
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libzappre.so") != NULL;
	if (f)
		fclose(f);
	return found;
}

/* Whether libzappre.so runs in pid: without it the checkpoint signal would
 * kill the program instead.  Only the preload writes the members file (at
 * load and after a restore, when its pages are no longer a mapped file). */
static int exe_of_pid(pid_t pid, char *buf, size_t n)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t k = readlink(link, buf, n - 1);
	if (k < 0)
		return -1;
	buf[k] = 0;
	return 0;
}

/* A process without a members file: a forked child.  Its maps show the
 * preload's file when it has just been loaded; a restored process keeps
 * the preload in memory with no file behind it, and so do its forked
 * children: a child that runs its parent's executable (it forked and did
 * not exec) has what its parent has. */
static int unregistered_has_preload(const char *pod, pid_t pid, int depth)
{
	if (zap_pod_maps_have_preload(pid))
		return 1;
	char path[64], buf[512], mine[PATH_MAX], theirs[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	const char *rp = read_small(path, buf, sizeof(buf)) > 0 ? strrchr(buf, ')') : NULL;
	char state;
	int ppid = 0;
	if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid <= 1 || depth > 64)
		return 0;
	if (exe_of_pid(pid, mine, sizeof(mine)) < 0 || exe_of_pid(ppid, theirs, sizeof(theirs)) < 0 ||
	    strcmp(mine, theirs))
		return 0;
	char member[PATH_MAX + 64];
	snprintf(member, sizeof(member), "%s/pods/%s/%s/%d", zap_home(), pod, ZAP_POD_MEMBERS, ppid);
	if (access(member, F_OK) == 0)
		return zap_pod_member_has_preload(pod, ppid);
	return unregistered_has_preload(pod, ppid, depth + 1);
}

int zap_pod_member_has_preload(const char *pod, pid_t pid)
{
	char path[PATH_MAX], registered[PATH_MAX], now[PATH_MAX];
	snprintf(path, sizeof(path), "%s/pods/%s/%s/%d", zap_home(), pod, ZAP_POD_MEMBERS, (int)pid);
	int n = read_small(path, registered, sizeof(registered));
	if (n < 0) /* a forked child, which writes no members file */
		return unregistered_has_preload(pod, pid, 0);
	registered[strcspn(registered, "\n")] = 0; /* the first line */
	/* the preload wrote the executable it ran in; a later exec of a
	 * program it could not enter changed that */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t k = readlink(path, now, sizeof(now) - 1);
	if (n == 0 || k < 0)
		return 1; /* cannot tell */
	now[k] = 0;
	/* an executable deleted since is still the same one */
	if (k > 10 && !strcmp(now + k - 10, " (deleted)") && strncmp(registered, now, (size_t)k - 10) == 0)
		return registered[k - 10] == 0;
	return strcmp(now, registered) == 0;
}

/* The parent and state of every process, from /proc/PID/stat. */
struct proc_entry {
	pid_t pid, ppid;
	char state;
};

int zap_proc_stat(pid_t pid, char *state, pid_t *ppid, int *exit_code)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	/* the name may hold spaces and parentheses: the fields start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	int field = 3;
	long v[53] = {0};
	for (char *tok = strtok(p, " "); tok && field <= 52; tok = strtok(NULL, " "), field++)
		v[field] = field == 3 ? 0 : strtol(tok, NULL, 10);
	*ppid = (pid_t)v[4];
	if (exit_code)
		*exit_code = (int)v[52];
	return 0;
}

static int scan_procs(struct proc_entry **out)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0, cap = 0;
	*out = NULL;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		struct proc_entry p = {(pid_t)atoi(e->d_name), 0, 0};
		if (zap_proc_stat(p.pid, &p.state, &p.ppid, NULL) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 512;
			struct proc_entry *np = realloc(*out, (size_t)cap * sizeof(**out));
			if (!np)
				break;
			*out = np;
		}
		(*out)[n++] = p;
	}
	if (d)
		closedir(d);
	return n;
}

int zap_pod_processes(const char *pod, pid_t *out, int max)
{
	char dir[PATH_MAX];
	zap_pod_dir(pod, dir, sizeof(dir));
	strncat(dir, "/" ZAP_POD_MEMBERS, sizeof(dir) - strlen(dir) - 1);
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && n < max && (e = readdir(d))) {
		pid_t m = (pid_t)atoi(e->d_name);
		if (m > 0 && zap_pod_member_alive(m, pod))
			out[n++] = m;
	}
	if (d)
		closedir(d);
	pid_t main_pid = zap_pod_pid(pod);
	int have_main = 0;
	for (int i = 0; i < n; i++)
		have_main |= out[i] == main_pid;
	if (main_pid && !have_main && n < max)
		out[n++] = main_pid;
	if (!n)
		return 0;
	/* and their descendants: forked children write no members file */
	struct proc_entry *ps;
	int np = scan_procs(&ps);
	for (int grown = 1; grown && n < max;) {
		grown = 0;
		for (int i = 0; i < np && n < max; i++) {
			if (ps[i].state == 'Z' || ps[i].state == 'X')
				continue;
			int known = 0, parent = 0;
			for (int k = 0; k < n; k++) {
				known |= out[k] == ps[i].pid;
				parent |= out[k] == ps[i].ppid;
			}
			if (!known && parent) {
				out[n++] = ps[i].pid;
				grown = 1;
			}
		}
	}
	free(ps);
	return n;
}

/* Live processes of the pod besides pid, listed into buf; returns how many. */
static int other_members(const char *pod, pid_t pid, char *buf, size_t n)
{
	pid_t all[4096];
	int count = 0, k = zap_pod_processes(pod, all, 4096);
	buf[0] = 0;
	for (int i = 0; i < k; i++) {
		if (all[i] == pid)
			continue;
		char one[16];
		snprintf(one, sizeof(one), "%s%d", count ? ", " : "", (int)all[i]);
		strncat(buf, one, n - strlen(buf) - 1);
		count++;
	}
	return count;
}

/* Whether pid has children, live or zombie: a child not registered yet, or
 * one that ended and waits for its parent, makes the pod's own checkpoint
 * necessary even when pid is its only live member. */
static int has_children(pid_t pid)
{
	struct proc_entry *ps;
	int np = scan_procs(&ps), found = 0;
	for (int i = 0; i < np && !found; i++)
		found = ps[i].ppid == pid;
	free(ps);
	return found;
}

/* Resident memory of pid in bytes: roughly what a checkpoint writes. */
pid_t zap_pod_member_vpid(const char *pod, pid_t pid)
{
	char path[PATH_MAX], text[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/pods/%s/%s/%d", zap_home(), pod, ZAP_POD_MEMBERS, (int)pid);
	if (read_small(path, text, sizeof(text)) <= 0)
		return pid;
	const char *v = strstr(text, "\nvpid ");
	return v ? (pid_t)atoi(v + 6) : pid;
}

uint64_t zap_rss_bytes(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	uint64_t kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu kB", (unsigned long long *)&kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* On a terminal, a line that says how far a long checkpoint has come: the
 * image file grows as the process writes it. */
static void show_progress(const char *final, pid_t pid, uint64_t total, double elapsed)
{
	char path[PATH_MAX + 64];
	struct stat st;
	snprintf(path, sizeof(path), "%s.tmp-%d/%d.img", final, (int)pid, (int)pid);
	uint64_t done = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	fprintf(stderr, "\r%s: writing %.0f of ~%.0f MiB (%.1f s) ", zap_cmd_name,
		(double)done / 1048576, (double)total / 1048576, elapsed);
}

static void progress_clear(int *shown)
{
	if (*shown)
		fprintf(stderr, "\r%*s\r", 70, "");
	*shown = 0;
}

int zap_pod_lock(const char *pod, double timeout_s)
{
	char path[PATH_MAX + 16];
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/lock", sizeof(path) - strlen(path) - 1);
	int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	double deadline = now_s() + timeout_s;
	while (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0) {
		if (now_s() > deadline) {
			zap_err("another checkpoint of pod '%s' is still running", pod);
			close(lock);
			return -2;
		}
		usleep(10000);
	}
	return lock;
}

int zap_checkpoint_pod(const char *pod, pid_t pid, const char *out, int kill_after, double timeout_s,
		       struct zap_result *res)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], req[PATH_MAX + 128];
	zap_pod_dir(pod, dir, sizeof(dir));
	if (!zap_pod_member_has_preload(pod, pid)) {
		zap_err("process %d does not have zap's preload loaded (a static binary, a setuid "
			"program, or one that dropped LD_PRELOAD before exec): it cannot be checkpointed",
			(int)pid);
		return -1;
	}
	double deadline = now_s() + timeout_s;
	int lock = zap_pod_lock(pod, timeout_s);
	if (lock == -2)
		return -1;
	char others[256], ipc[PATH_MAX + 16];
	struct stat ist;
	snprintf(ipc, sizeof(ipc), "%s/%s", dir, ZAP_POD_IPC);
	/* several processes, or SysV objects (saved by us, not by the
	 * process): the pod's own checkpoint */
	if (other_members(pod, pid, others, sizeof(others)) > 0 || has_children(pid) ||
	    (stat(ipc, &ist) == 0 && ist.st_size > 0)) {
		/* the main process of the pod leads the image, whichever was named */
		pid_t main_pid = zap_pod_pid(pod);
		int rc = zap_checkpoint_pod_members(pod, main_pid ? main_pid : pid, out, kill_after,
						    timeout_s, res);
		if (rc == 0 && res->warning[0])
			zap_err("warning: %s (docs/limitations.md)", res->warning);
		if (lock >= 0)
			close(lock);
		return rc;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t id = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	snprintf(req, sizeof(req), "id=%llu\nkill=%d\nspare=%d\nout=%s\n", (unsigned long long)id,
		 kill_after, !zap_no_spare, out ? out : "");
	snprintf(path, sizeof(path), "%s/%s", dir, ZAP_POD_REQUEST);
	int rc = -1, ino = -1;
	if (write_small(path, req) < 0) {
		zap_err("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	int sig = zap_pod_signal(pod);
	/* the preload renames its answer into place: wake on that, not on a timer */
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino >= 0)
		inotify_add_watch(ino, dir, IN_MOVED_TO);
	if (kill(pid, sig) < 0) {
		zap_err("cannot signal process %d: %s", (int)pid, strerror(errno));
		unlink(path);
		goto out;
	}
	double started = now_s();
	int progress = isatty(2);
	uint64_t total = progress ? zap_rss_bytes(pid) : 0;
	char final[PATH_MAX + 16];
	if (out)
		snprintf(final, sizeof(final), "%s", out);
	else
		snprintf(final, sizeof(final), "%s/%s", dir, ZAP_POD_IMAGE);
	int shown = 0;
	for (;;) {
		if (zap_result_read(pod, res) == 0 && res->id == id)
			break;
		if (progress && now_s() - started > 0.5) {
			show_progress(final, pid, total, now_s() - started);
			shown = 1;
		}
		if (kill(pid, 0) < 0 && !(zap_result_read(pod, res) == 0 && res->id == id)) {
			progress_clear(&shown);
			zap_err("process %d ended before it finished the checkpoint", (int)pid);
			unlink(path);
			goto out;
		}
		if (now_s() > deadline) {
			progress_clear(&shown);
			zap_err("no answer from process %d within %.0f s (is it stopped, or not under zap?)",
				(int)pid, timeout_s);
			unlink(path);
			goto out;
		}
		/* the inotify fd, or a 20 ms tick without one; 100 ms at most
		 * between checks that the process still lives */
		struct pollfd pfd = {.fd = ino, .events = POLLIN};
		if (ino >= 0 && poll(&pfd, 1, 100) > 0) {
			char ev[4096];
			while (read(ino, ev, sizeof(ev)) > 0)
				;
		} else if (ino < 0) {
			usleep(20000);
		}
	}
	progress_clear(&shown);
	if (!res->ok) {
		zap_err("checkpoint of pod '%s' failed: %s", pod, res->error);
		goto out;
	}
	if (res->warning[0])
		zap_err("warning: %s (docs/limitations.md)", res->warning);
	if (res->old[0]) /* the replaced image, freed now that the program runs */
		zap_imgdir_remove(res->old);
	if (kill_after) { /* it kills itself after writing; wait for that, bounded */
		while (kill(pid, 0) == 0 && now_s() < deadline) {
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
			usleep(2000);
		}
	}
	rc = 0;
out:
	if (ino >= 0)
		close(ino);
	if (lock >= 0)
		close(lock);
	return rc;
}

static volatile sig_atomic_t forward_sig;
/* TERM and HUP are passed on; INT and QUIT only when somebody sent them to
 * us alone (kill), since the terminal sends them to the program already. */
static void on_forward(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	if ((sig == SIGINT || sig == SIGQUIT) && info->si_code != SI_USER && info->si_code != SI_QUEUE)
		return;
	forward_sig = sig;
}

int zap_pod_wait(const char *pod, pid_t child, double interval_s)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_forward;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	double next = interval_s > 0 ? now_s() + interval_s : 0;
	int st;
	for (;;) {
		pid_t w = waitpid(child, &st, interval_s > 0 ? WNOHANG : 0);
		if (w == child)
			break;
		if (w < 0 && errno != EINTR) {
			zap_err("lost track of process %d: %s", (int)child, strerror(errno));
			return ZAP_EXIT_FAIL;
		}
		if (forward_sig) {
			kill(child, forward_sig);
			forward_sig = 0;
		}
		if (interval_s > 0) {
			if (now_s() >= next) {
				struct zap_result res;
				if (zap_checkpoint_kept(pod, child, NULL, 0, 600, &res) == 0)
					fprintf(stderr, "zap: checkpoint of %s written to %s\n", pod, res.image);
				next = now_s() + interval_s;
			}
			usleep(20000);
		}
	}
	char path[PATH_MAX];
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/" ZAP_POD_IMAGE ".spare", sizeof(path) - strlen(path) - 1);
	zap_imgdir_remove(path); /* no next checkpoint will write over it */
	zap_pod_dir(pod, path, sizeof(path));
	strncat(path, "/" ZAP_POD_PID, sizeof(path) - strlen(path) - 1);
	unlink(path);
	struct zap_result res;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && zap_result_read(pod, &res) == 0 && res.kill &&
	    res.pid == child && res.migrated[0]) {
		fprintf(stderr, "zap: %s migrated to %s\n", pod, res.migrated);
		return ZAP_EXIT_MIGRATED;
	}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && zap_result_read(pod, &res) == 0 && res.kill &&
	    res.pid == child) {
		fprintf(stderr, "zap: %s was checkpointed to %s and stopped\n", pod, res.image);
		return ZAP_EXIT_CHECKPOINTED;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

pid_t zap_pod_fork(const char *pod, int sig, int pipefd[2])
{
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		zap_err("pipe: %s", strerror(errno));
		return -1;
	}
	pid_t child = fork();
	if (child < 0) {
		zap_err("fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (child == 0) {
		char sigbuf[16];
		snprintf(sigbuf, sizeof(sigbuf), "%d", sig);
		setenv(ZAP_ENV_HOME, zap_home(), 1);
		setenv(ZAP_ENV_POD, pod, 1);
		setenv(ZAP_ENV_SIGNAL, sigbuf, 1);
		close(pipefd[0]);
	} else {
		close(pipefd[1]);
	}
	return child;
}
