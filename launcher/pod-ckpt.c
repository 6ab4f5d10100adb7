/* A checkpoint of a pod of several processes, led by `zap checkpoint`.
 *
 * Every member writes its own process file from inside itself, as a single
 * process does; what this file adds is the one instant they all share:
 *
 *   1. the request names a temporary image directory and a control
 *      directory; every member is signalled, stops its threads and says so
 *      (ctl/stopped-PID);
 *   2. children that were forked too recently to have registered are found
 *      in /proc, by their parent, and signalled too; zombies are recorded;
 *   3. once everybody has stopped: ctl/sockets lists the inodes of the
 *      sockets the members hold (a TCP connection whose other end is one
 *      of them is joined again, ckpt/sock.c), then ctl/go.  Each member
 *      writes its file and says how it went (ctl/done-PID);
 *   4. the descriptions shared between members (pipes between them, files
 *      a parent shares with its children) are found (pod-fds.c), pod.img is
 *      written and the directory swapped into place;
 *   5. ctl/release, or SIGKILL for every member with --kill.
 *
 * zap_checkpoint_pod_hold() stops after step 4, with every member waiting
 * at the barrier, so that a caller (zap migrate) can act on the committed
 * image before it says release or kill (zap_pod_ckpt_release/_kill).
 *
 * Nobody runs on before everybody has stopped, and nobody writes before
 * then, so bytes in flight in a pipe between members are the same for the
 * writer and the reader.  A failure anywhere says ctl/abort: every member
 * runs on as if nothing happened, and the previous image stays. */
#include "image.h"
#include "imgdir.h"
#include "podfds.h"
#include "sysv.h"
#include "vtab.h"
#include "zap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 4096

struct ckpt_run {
	const char *pod;
	char dir[PATH_MAX];   /* the pod's state directory */
	char ctl[PATH_MAX];   /* control files */
	char tmp[PATH_MAX];   /* the image being written */
	char final[PATH_MAX];
	struct zap_pod_proc procs[MAX_PROCS];
	int nprocs;
	struct zap_vtab *vt;  /* after a restart: real pid -> vpid */
	int sig;
	double deadline;
	int replaced;         /* the commit replaced an image, now at tmp */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t vpid_of(const struct ckpt_run *c, pid_t real)
{
	pid_t v = c->vt ? zap_vtab_vpid(c->vt, real) : 0;
	return v > 0 ? v : real;
}

static struct zap_pod_proc *find_real(struct ckpt_run *c, pid_t real)
{
	for (int i = 0; i < c->nprocs; i++)
		if (c->procs[i].real == real)
			return &c->procs[i];
	return NULL;
}

/* State, parent and exit code from /proc/PID/stat (fields 3, 4, 52). */
static int add_member(struct ckpt_run *c, pid_t real)
{
	if (c->nprocs >= MAX_PROCS) {
		zap_err("pod '%s' has more than %d processes", c->pod, MAX_PROCS);
		return -1;
	}
	struct zap_pod_proc *p = &c->procs[c->nprocs++];
	memset(p, 0, sizeof(*p));
	p->real = real;
	p->vpid = vpid_of(c, real);
	return 0;
}

/* Signals the members found since the last call.  Nobody is signalled
 * before every process found so far has passed the checks: a member that
 * took the signal after a refusal had removed the request would start a
 * checkpoint of its own, and be refused again. */
static int signal_new(struct ckpt_run *c)
{
	for (int i = 0; i < c->nprocs; i++) {
		struct zap_pod_proc *p = &c->procs[i];
		if (p->zombie || p->signalled)
			continue;
		p->signalled = 1;
		if (kill(p->real, c->sig) < 0 && errno != ESRCH) {
			zap_err("cannot signal process %d: %s", (int)p->real, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static const char *exe_of(pid_t pid, char *buf, size_t n)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t k = readlink(link, buf, n - 1);
	snprintf(buf + (k > 0 ? k : 0), n - (size_t)(k > 0 ? k : 0), "%s", k > 0 ? "" : "?");
	return buf;
}

/* The members that registered (members/), alive, with the preload. */
static int list_members(struct ckpt_run *c)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", c->dir, ZAP_POD_MEMBERS);
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;
	while (d && rc == 0 && (e = readdir(d))) {
		pid_t m = (pid_t)atoi(e->d_name);
		if (m <= 0 || find_real(c, m) || !zap_pod_member_alive(m, c->pod))
			continue;
		if (!zap_pod_member_has_preload(c->pod, m)) {
			char exe[PATH_MAX];
			zap_err("process %d (%s) of pod '%s' does not have zap's preload loaded (it exec'd "
				"a static binary or a setuid program): the pod cannot be checkpointed",
				(int)m, exe_of(m, exe, sizeof(exe)), c->pod);
			rc = -1;
			break;
		}
		rc = add_member(c, m);
	}
	if (d)
		closedir(d);
	return rc;
}

/* Children of members that are not members yet: just forked (signalled
 * now), exited and unreaped (zombies, recorded), or without the preload
 * (the checkpoint cannot include them).  Returns how many were new. */
static int find_children(struct ckpt_run *c)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int fresh = 0;
	while (d && (e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);
		char state;
		pid_t ppid;
		int code;
		if (pid <= 0 || find_real(c, pid) || zap_proc_stat(pid, &state, &ppid, &code) < 0)
			continue;
		struct zap_pod_proc *parent = find_real(c, ppid);
		if (!parent || parent->zombie)
			continue;
		if (state == 'Z' || state == 'X') {
			if (c->nprocs >= MAX_PROCS)
				continue;
			struct zap_pod_proc *z = &c->procs[c->nprocs++];
			memset(z, 0, sizeof(*z));
			z->real = pid;
			z->vpid = vpid_of(c, pid);
			z->zombie = 1;
			z->exit_status = code;
			z->ppid_vpid = parent->vpid;
			fresh++;
		} else if (zap_pod_member_has_preload(c->pod, pid)) {
			if (add_member(c, pid) < 0) {
				fresh = -1;
				break;
			}
			fresh++;
		} else {
			char exe[PATH_MAX];
			zap_err("process %d (%s), a child of pod member %d, does not have zap's preload "
				"loaded (a static binary or a setuid program): the pod cannot be checkpointed",
				(int)pid, exe_of(pid, exe, sizeof(exe)), (int)ppid);
			fresh = -1;
			break;
		}
	}
	if (d)
		closedir(d);
	return fresh;
}

static int ctl_exists(const struct ckpt_run *c, const char *what, pid_t pid)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s-%d", c->ctl, what, (int)pid);
	return access(path, F_OK) == 0;
}

static void ctl_touch(const struct ckpt_run *c, const char *name)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", c->ctl, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

/* ctl/sockets: the inode of every socket a live member holds, one a line
 * (its members look their TCP peers up in it). */
static int write_sockets(const struct ckpt_run *c)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/sockets", c->ctl);
	snprintf(tmp, sizeof(tmp), "%s/.sockets", c->ctl);
	FILE *out = fopen(tmp, "we");
	if (!out) {
		zap_err("cannot write %s: %s", tmp, strerror(errno));
		return -1;
	}
	for (int i = 0; i < c->nprocs; i++) {
		char dir[64], link[PATH_MAX + 128], target[64];
		if (c->procs[i].zombie)
			continue;
		snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)c->procs[i].real);
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			unsigned long ino;
			if (n > 0 && (target[n] = 0, sscanf(target, "socket:[%lu]", &ino) == 1))
				fprintf(out, "%lu\n", ino);
		}
		if (d)
			closedir(d);
	}
	if (fclose(out) != 0 || rename(tmp, path) < 0) {
		zap_err("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Waits until every live member has written ctl/what-PID. */
static int wait_all(struct ckpt_run *c, const char *what, const char *doing, int quiet)
{
	for (long spin = 0;; spin++) {
		int missing = 0;
		for (int i = 0; i < c->nprocs; i++) {
			struct zap_pod_proc *p = &c->procs[i];
			if (p->zombie || ctl_exists(c, what, p->real))
				continue;
			char state;
			pid_t ppid;
			int code;
			if (!strcmp(what, "stopped") && zap_proc_stat(p->real, &state, &ppid, &code) == 0 &&
			    state == 'Z') {
				/* it ended before it took the signal: a zombie of the pod */
				struct zap_pod_proc *parent = find_real(c, ppid);
				if (parent) {
					p->zombie = 1;
					p->exit_status = code;
					p->ppid_vpid = parent->vpid;
					continue;
				}
			}
			/* a member that exec'd a program without the preload after
			 * it was signalled keeps the signal blocked: say so now
			 * rather than wait for the timeout */
			if (!strcmp(what, "stopped") && spin % 100 == 99 && kill(p->real, 0) == 0 &&
			    !zap_pod_member_has_preload(c->pod, p->real)) {
				if (!quiet) {
					char exe[PATH_MAX];
					zap_err("process %d of pod '%s' exec'd %s, which does not have zap's "
						"preload loaded (a static binary or a setuid program), during the "
						"checkpoint: the pod cannot be checkpointed",
						(int)p->real, c->pod, exe_of(p->real, exe, sizeof(exe)));
				}
				return -1;
			}
			if (kill(p->real, 0) < 0) {
				if (!quiet)
					zap_err("process %d of pod '%s' ended while %s", (int)p->real, c->pod,
						doing);
				return -1;
			}
			missing++;
		}
		if (!missing)
			return 0;
		if (now_s() > c->deadline) {
			if (quiet)
				return -1;
			zap_err("%d process%s of pod '%s' did not answer within the timeout while %s", missing,
				missing == 1 ? "" : "es", c->pod, doing);
			return -1;
		}
		usleep(spin < 200 ? 200 : 2000);
	}
}

/* A member's ctl/done-PID: its vpid and parent, group and session, and how
 * its write went. */
static int read_done(struct ckpt_run *c, struct zap_pod_proc *p, struct zap_result *res)
{
	char path[PATH_MAX + 64], buf[4096];
	snprintf(path, sizeof(path), "%s/done-%d", c->ctl, (int)p->real);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	int ok = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "status"))
			ok = !strcmp(v, "ok");
		else if (!strcmp(line, "error") && *v)
			zap_err("checkpoint of process %d of pod '%s' failed: %s", (int)p->real, c->pod, v);
		else if (!strcmp(line, "vpid"))
			p->vpid = atoi(v);
		else if (!strcmp(line, "ppid"))
			p->ppid_vpid = atoi(v);
		else if (!strcmp(line, "pgid"))
			p->pgid_vpid = atoi(v);
		else if (!strcmp(line, "sid"))
			p->sid_vpid = atoi(v);
		else if (!strcmp(line, "bytes"))
			res->bytes += strtoull(v, NULL, 10);
		else if (!strcmp(line, "pages"))
			res->pages += strtoull(v, NULL, 10);
		else if (!strcmp(line, "write_usec") && strtoull(v, NULL, 10) > res->write_usec)
			res->write_usec = strtoull(v, NULL, 10);
		else if (!strcmp(line, "warning") && *v)
			snprintf(p->warning, sizeof(p->warning), "%s", v);
	}
	return ok ? 0 : -1;
}

/* The pod file: members (the main process first), then the fds they share. */
static int write_pod_file(struct ckpt_run *c, pid_t main_pid, const struct zap_img_pod_fd *fds,
			  uint32_t nfds, const struct zap_img_pod_shm *shm, uint32_t nshm,
			  uint64_t generation)
{
	size_t len = sizeof(struct zap_img_pod) + (size_t)c->nprocs * sizeof(struct zap_img_member);
	char *buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	struct zap_img_pod *pod = (struct zap_img_pod *)buf;
	struct zap_img_member *m = (struct zap_img_member *)(buf + sizeof(*pod));
	snprintf(pod->name, sizeof(pod->name), "%s", c->pod);
	pod->nmembers = (uint32_t)c->nprocs;
	pod->signal = (uint32_t)c->sig;
	pod->generation = generation;
	int k = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < c->nprocs; i++) {
			const struct zap_pod_proc *p = &c->procs[i];
			if ((p->real == main_pid) != (pass == 0))
				continue;
			m[k].pid = p->vpid;
			m[k].ppid = p->ppid_vpid;
			m[k].flags = p->zombie ? ZAP_MEMBER_ZOMBIE : 0;
			m[k].exit_status = p->exit_status;
			m[k].pgid = p->pgid_vpid;
			m[k].sid = p->sid_vpid;
			if (!p->zombie)
				snprintf(m[k].file, sizeof(m[k].file), "%d.img", (int)p->vpid);
			k++;
		}
	/* parents, groups and sessions outside the pod are nobody's to restore */
	for (int i = 0; i < k; i++) {
		int ppid_in = 0, pgid_in = 0, sid_in = 0;
		for (int j = 0; j < k; j++) {
			if (m[j].flags & ZAP_MEMBER_ZOMBIE)
				continue;
			ppid_in |= m[j].pid == m[i].ppid;
			pgid_in |= m[j].pid == m[i].pgid;
			sid_in |= m[j].pid == m[i].sid;
		}
		m[i].ppid = ppid_in ? m[i].ppid : 0;
		m[i].pgid = pgid_in ? m[i].pgid : 0;
		m[i].sid = sid_in ? m[i].sid : 0;
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/pod.img", c->tmp);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	long e = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		struct zap_imgw w;
		zap_imgw_begin(&w, fd, ZAP_IMG_KIND_POD);
		e = zap_imgw_section(&w, ZAP_SECT_POD, pod->nmembers, buf, len);
		if (e == 0 && nfds)
			e = zap_imgw_section(&w, ZAP_SECT_POD_FDS, nfds, fds, nfds * sizeof(*fds));
		if (e == 0 && nshm)
			e = zap_imgw_section(&w, ZAP_SECT_POD_SHM, nshm, shm, nshm * sizeof(*shm));
		if (e == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			e = zap_imgw_finish(&w, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
		}
		close(fd);
	}
	free(buf);
	return (int)e;
}

/* The generation of the image being replaced, plus one. */
static uint64_t next_generation(const char *final)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/pod.img", final);
	struct zap_img img;
	char err[512];
	uint64_t g = 0;
	if (zap_img_open(&img, path, zap_image_alloc, NULL, err, sizeof(err)) == 0 && img.pod)
		g = img.pod->generation;
	zap_image_free(&img);
	return g + 1;
}

/* Drops the warnings about pipes that the pod joins again. */
static void join_warnings(struct ckpt_run *c, const struct zap_img_pod_fd *fds, uint32_t nfds,
			  char *out, size_t n)
{
	out[0] = 0;
	for (int i = 0; i < c->nprocs; i++) {
		char *w = c->procs[i].warning;
		for (char *item = strtok(w, ";"); item; item = strtok(NULL, ";")) {
			while (*item == ' ')
				item++;
			int fdno = -1, shared = 0;
			if (sscanf(item, "fd %d", &fdno) == 1)
				for (uint32_t k = 0; k < nfds; k++)
					shared |= fds[k].pid == c->procs[i].vpid && fds[k].fd == fdno;
			if (shared || strstr(out, item))
				continue;
			size_t at = strlen(out);
			snprintf(out + at, n - at, "%s%s", at ? "; " : "", item);
		}
	}
}

static int is_member_file(const struct ckpt_run *c, const char *name)
{
	for (int i = 0; i < c->nprocs; i++) {
		char mine[32];
		snprintf(mine, sizeof(mine), "%d.img", (int)c->procs[i].vpid);
		if (!c->procs[i].zombie && !strcmp(name, mine))
			return 1;
	}
	return 0;
}

/* A spare image (the one before last) became our temporary directory: its
 * process files are written over by members of the same vpid, and the
 * files of processes gone since are renamed for members that have none, so
 * that their pages are written over instead of allocated anew (several
 * times faster: design-notes, "the spare image").  What is left is
 * removed. */
static void hand_out_spare(struct ckpt_run *c)
{
	DIR *d = opendir(c->tmp);
	struct dirent *e;
	char old[PATH_MAX + 300], new_path[PATH_MAX + 64];
	int next = 0;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || is_member_file(c, e->d_name))
			continue;
		snprintf(old, sizeof(old), "%s/%s", c->tmp, e->d_name);
		int given = 0;
		for (; !given && next < c->nprocs && strstr(e->d_name, ".img") &&
		       strcmp(e->d_name, "pod.img") && strcmp(e->d_name, ZAP_SYSV_IMG);
		     next++) {
			if (c->procs[next].zombie)
				continue;
			snprintf(new_path, sizeof(new_path), "%s/%d.img", c->tmp, (int)c->procs[next].vpid);
			given = access(new_path, F_OK) < 0 && rename(old, new_path) == 0;
		}
		if (!given)
			unlink(old);
	}
	if (d)
		closedir(d);
}

static void remove_ctl(struct ckpt_run *c, int wait_resumed)
{
	/* members look for release until they see it: let them, briefly */
	double until = now_s() + 2;
	while (wait_resumed && now_s() < until) {
		int left = 0;
		for (int i = 0; i < c->nprocs; i++)
			left += !c->procs[i].zombie && kill(c->procs[i].real, 0) == 0 &&
				!ctl_exists(c, "resumed", c->procs[i].real);
		if (!left)
			break;
		usleep(1000);
	}
	/* a member that was late may still be putting a file in: try again,
	 * briefly, until the directory is gone */
	for (int tries = 0; tries < 100 && zap_imgdir_remove(c->ctl) < 0 && access(c->ctl, F_OK) == 0; tries++)
		usleep(10000);
}

/* Steps 1-4: on success the image is committed and every member waits at
 * the barrier for finish(). */
static int pod_ckpt_stop_and_write(struct ckpt_run *c, const char *pod, pid_t main_pid,
				   const char *out, int kill_after, double timeout_s,
				   struct zap_result *res)
{
	memset(c, 0, sizeof(*c));
	memset(res, 0, sizeof(*res));
	c->pod = pod;
	c->sig = zap_pod_signal(pod);
	c->deadline = now_s() + timeout_s;
	zap_pod_dir(pod, c->dir, sizeof(c->dir));
	if (out)
		snprintf(c->final, sizeof(c->final), "%s", out);
	else
		snprintf(c->final, sizeof(c->final), "%s/%s", c->dir, ZAP_POD_IMAGE);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", c->dir, ZAP_VTAB_FILE);
	long verr;
	c->vt = zap_vtab_map(path, 0, &verr);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t id = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	snprintf(c->ctl, sizeof(c->ctl), "%s/ckpt-%llu", c->dir, (unsigned long long)id);
	long e = zap_imgdir_begin_pod(c->final, c->tmp, sizeof(c->tmp));
	if (e < 0 || mkdir(c->ctl, 0700) < 0) {
		zap_err("cannot create %s: %s", e < 0 ? c->tmp : c->ctl, strerror(e < 0 ? (int)-e : errno));
		zap_vtab_unmap(c->vt);
		return -1;
	}
	char req[PATH_MAX * 3 + 256];
	/* sysv=1: SysV segments go into sysv.img, written here, not into
	 * every member's file */
	snprintf(req, sizeof(req),
		 "id=%llu\nkill=%d\nspare=0\nout=%s\ndir=%s\nctl=%s\ncoordinator=%d\nsysv=1\n",
		 (unsigned long long)id, kill_after, c->final, c->tmp, c->ctl, (int)getpid());
	char reqpath[PATH_MAX + 16];
	snprintf(reqpath, sizeof(reqpath), "%s/%s", c->dir, ZAP_POD_REQUEST);
	int rc = -1;
	char tmp_req[PATH_MAX + 32];
	snprintf(tmp_req, sizeof(tmp_req), "%s.tmp%d", reqpath, (int)getpid());
	FILE *rf = fopen(tmp_req, "we");
	if (!rf || fputs(req, rf) < 0 || fclose(rf) != 0 || rename(tmp_req, reqpath) < 0) {
		zap_err("cannot write %s: %s", reqpath, strerror(errno));
		goto abort;
	}

	/* 1-2: everybody stops, including children forked a moment ago */
	if (list_members(c) < 0 || signal_new(c) < 0)
		goto abort;
	for (int round = 0;; round++) {
		if (wait_all(c, "stopped", "stopping", 0) < 0)
			goto abort;
		int fresh = find_children(c);
		if (fresh < 0 || signal_new(c) < 0)
			goto abort;
		if (fresh == 0 && list_members(c) == 0 && signal_new(c) == 0 &&
		    wait_all(c, "stopped", "stopping", 0) == 0 && find_children(c) == 0)
			break;
		if (round > 1000) {
			zap_err("pod '%s' keeps creating processes; giving up", pod);
			goto abort;
		}
	}
	for (int i = 0; i < c->nprocs; i++) {
		char msg[600];
		snprintf(path, sizeof(path), "%s/stopped-%d", c->ctl, (int)c->procs[i].real);
		FILE *f = c->procs[i].zombie ? NULL : fopen(path, "re");
		if (f && fgets(msg, sizeof(msg), f) && !strncmp(msg, "error=", 6)) {
			msg[strcspn(msg, "\n")] = 0;
			zap_err("process %d of pod '%s' could not stop: %s", (int)c->procs[i].real, pod, msg + 6);
			fclose(f);
			goto abort;
		}
		if (f)
			fclose(f);
	}

	/* 3: everybody writes, over the spare's files where there are some */
	hand_out_spare(c);
	if (write_sockets(c) < 0)
		goto abort;
	ctl_touch(c, "go");
	if (wait_all(c, "done", "writing its image", 0) < 0)
		goto abort;
	int failed = 0;
	for (int i = 0; i < c->nprocs; i++)
		if (!c->procs[i].zombie && read_done(c, &c->procs[i], res) < 0)
			failed = 1;
	if (failed)
		goto abort;

	/* 4: SysV objects, what the members share, the pod file, the swap */
	struct zap_img_pod_fd *fds = NULL;
	uint32_t nfds = 0;
	char err[1024];
	if (zap_sysv_save(c->dir, c->tmp, err, sizeof(err)) < 0) {
		zap_err("%s", err);
		goto abort;
	}
	if (zap_pod_fds_collect(c->tmp, c->procs, c->nprocs, &fds, &nfds, err, sizeof(err)) < 0) {
		zap_err("%s", err);
		goto abort;
	}
	struct zap_img_pod_shm *shm = NULL;
	uint32_t nshm = 0;
	if (zap_pod_mem_collect(c->tmp, c->procs, c->nprocs, &shm, &nshm, err, sizeof(err)) < 0) {
		free(fds);
		zap_err("%s", err);
		goto abort;
	}
	join_warnings(c, fds, nfds, res->warning, sizeof(res->warning));
	e = write_pod_file(c, main_pid, fds, nfds, shm, nshm, next_generation(c->final));
	free(fds);
	free(shm);
	if (e < 0) {
		zap_err("cannot write %s/pod.img: %s", c->tmp, strerror((int)-e));
		goto abort;
	}
	e = zap_imgdir_commit(c->tmp, c->final);
	if (e < 0) {
		zap_err("cannot put the image in place at %s: %s", c->final, strerror((int)-e));
		goto abort;
	}
	snprintf(res->image, sizeof(res->image), "%s", c->final);
	res->ok = 1;
	res->kill = kill_after;
	res->pid = main_pid;
	res->id = id;
	c->replaced = e == 1;
	zap_result_write(pod, res);
	return 0;

abort:
	ctl_touch(c, "abort");
	/* every member signalled takes the request and sees the abort, rather
	 * than finding no request and starting a checkpoint of its own */
	c->deadline = now_s() + 2;
	for (int i = 0; i < c->nprocs; i++)
		c->procs[i].zombie |= !c->procs[i].signalled; /* nobody to wait for */
	wait_all(c, "stopped", "stopping", 1);
	unlink(reqpath);
	remove_ctl(c, 1);
	zap_imgdir_remove(c->tmp);
	zap_vtab_unmap(c->vt);
	return rc;
}

/* Step 5: on, or off. */
static void pod_ckpt_finish(struct ckpt_run *c, int kill_after)
{
	char reqpath[PATH_MAX + 16], err[1024];
	int released = 0;
	snprintf(reqpath, sizeof(reqpath), "%s/%s", c->dir, ZAP_POD_REQUEST);
	if (kill_after) {
		for (int i = 0; i < c->nprocs; i++)
			if (!c->procs[i].zombie)
				kill(c->procs[i].real, SIGKILL);
	} else {
		ctl_touch(c, "release");
		released = 1;
	}
	unlink(reqpath);
	remove_ctl(c, released);
	/* the replaced image, now at tmp: the next checkpoint's spare, or gone */
	if (c->replaced && (kill_after || zap_no_spare || zap_imgdir_keep_spare(c->tmp, c->final) < 0))
		zap_imgdir_remove(c->tmp);
	if (kill_after) { /* wait for them to go, bounded */
		for (int i = 0; i < c->nprocs; i++)
			while (!c->procs[i].zombie && kill(c->procs[i].real, 0) == 0 && now_s() < c->deadline) {
				char state;
				pid_t pp;
				int code;
				if (zap_proc_stat(c->procs[i].real, &state, &pp, &code) == 0 && state == 'Z')
					break;
				usleep(1000);
			}
		/* the image has the pod's SysV objects; the host need not */
		if (zap_sysv_remove(c->dir, err, sizeof(err)) < 0)
			zap_err("warning: %s", err);
	}
	zap_vtab_unmap(c->vt);
}

int zap_checkpoint_pod_members(const char *pod, pid_t main_pid, const char *out, int kill_after,
			       double timeout_s, struct zap_result *res)
{
	static struct ckpt_run run;
	if (pod_ckpt_stop_and_write(&run, pod, main_pid, out, kill_after, timeout_s, res) < 0)
		return -1;
	pod_ckpt_finish(&run, kill_after);
	return 0;
}

/* The held checkpoint: one at a time per process. */
struct zap_pod_hold {
	struct ckpt_run run;
	int busy;
};

struct zap_pod_hold *zap_checkpoint_pod_hold(const char *pod, pid_t main_pid, const char *out,
					     double timeout_s, struct zap_result *res)
{
	static struct zap_pod_hold hold;
	if (hold.busy) {
		zap_err("a held checkpoint of pod '%s' is not finished yet", hold.run.pod);
		return NULL;
	}
	/* the members are told kill=0: if we die while they wait, they run on */
	if (pod_ckpt_stop_and_write(&hold.run, pod, main_pid, out, 0, timeout_s, res) < 0)
		return NULL;
	/* the wait for the members to go, after a kill, has its own bound */
	hold.busy = 1;
	return &hold;
}

static void pod_hold_end(struct zap_pod_hold *h, int kill_after)
{
	h->run.deadline = now_s() + 30;
	pod_ckpt_finish(&h->run, kill_after);
	h->busy = 0;
}

void zap_pod_ckpt_release(struct zap_pod_hold *h)
{
	pod_hold_end(h, 0);
}

void zap_pod_ckpt_kill(struct zap_pod_hold *h)
{
	pod_hold_end(h, 1);
}
