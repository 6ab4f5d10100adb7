/* The checkpoint trigger: a stop-the-world barrier inside the signal
 * handler.
 *
 * The first thread to take the checkpoint signal becomes the leader: it
 * sends the signal to every other thread, waits until each has recorded its
 * state and parked, writes the image on a stack of its own, then releases
 * them (or kills the process, for `checkpoint --kill`).  Each thread saves a
 * resume point with zap_ctx_save() before parking; the restorer resumes
 * every thread there, and the same barrier then runs once more so that the
 * leader can tidy up (unmap the restorer) before anyone returns to the
 * program.  Only raw system calls here: the signal may have interrupted libc
 * anywhere. */
#include "dump.h"
#include "imgdir.h"
#include "preload.h"
#include "sys.h"
#include "util.h"
#include "vtab.h"
#include "zap/common.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>

struct zap_restore_info zap_restore_info;

#define MAX_THREADS ZAP_RESTORE_MAX_THREADS
#define STOP_TIMEOUT_NS (10ull * 1000000000ull)
#define LEADER_STACK (1u << 20)

static struct {
	int busy;
	int arrived;  /* followers parked at checkpoint time */
	int restored; /* followers back after a restore */
	int release;  /* futex word: bumped to let followers go */
	uint32_t nslots;
	struct zap_img_thread slot[MAX_THREADS];
	int signaled[MAX_THREADS];
	int new_tid[MAX_THREADS]; /* after a restore, by slot */
	int vtid[MAX_THREADS];    /* each slot's virtual tid */
	uint32_t nsignaled;
	/* a thread stopped in a wait4/waitid that the kernel will restart
	 * with the pid it was given, which is a real pid: which register holds
	 * it, and the vpid it stood for (0: none) */
	struct wait_fix {
		int reg, vpid, negative;
	} wait_fix[MAX_THREADS];
} ck;

struct request {
	uint64_t id;
	int kill;
	int spare; /* keep the replaced image for the next checkpoint to write over */
	int sysv;  /* the coordinator writes sysv.img: SysV segments are not stored here */
	char out[1024];
	/* a checkpoint of a pod of several processes, run by `zap checkpoint`
	 * (launcher/pod-ckpt.c): our file goes into dir, and ctl is where we
	 * say we stopped and wrote it, and learn when to go on */
	char dir[1024];
	char ctl[1024];
	int coordinator;
};

static int load(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static void futex_wait_ms(int *word, int val, long ms)
{
	struct z_timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	zsys4(SYS_futex, word, Z_FUTEX_WAIT | Z_FUTEX_PRIVATE, val, &ts);
}

static void futex_wake_all(int *word)
{
	zsys3(SYS_futex, word, Z_FUTEX_WAKE | Z_FUTEX_PRIVATE, 0x7fffffff);
}

/* ---- the request from `zap checkpoint`, and our answer ---- */

static void read_request(struct request *rq)
{
	char path[768], buf[2048];
	memset(rq, 0, sizeof(*rq));
	rq->spare = 1;
	zap_fmt(path, sizeof(path), "%s/%s", zap_self.pod_dir, ZAP_POD_REQUEST);
	if (zap_read_file(path, buf, sizeof(buf)) > 0) {
		if (!strstr(buf, "\nctl=")) /* a pod's request is for every member */
			zsys3(SYS_unlinkat, ZAT_FDCWD, path, 0);
		for (char *p = buf; p && *p;) {
			char *nl = strchr(p, '\n');
			if (nl)
				*nl = 0;
			const char *v = p;
			if (zap_startswith(p, "id=")) {
				v += 3;
				rq->id = zap_parse_dec(&v);
			} else if (zap_startswith(p, "kill=")) {
				rq->kill = p[5] == '1';
			} else if (zap_startswith(p, "spare=")) {
				rq->spare = p[6] == '1';
			} else if (zap_startswith(p, "sysv=")) {
				rq->sysv = p[5] == '1';
			} else if (zap_startswith(p, "out=")) {
				zap_fmt(rq->out, sizeof(rq->out), "%s", p + 4);
			} else if (zap_startswith(p, "dir=")) {
				zap_fmt(rq->dir, sizeof(rq->dir), "%s", p + 4);
			} else if (zap_startswith(p, "ctl=")) {
				zap_fmt(rq->ctl, sizeof(rq->ctl), "%s", p + 4);
			} else if (zap_startswith(p, "coordinator=")) {
				v += 12;
				rq->coordinator = (int)zap_parse_dec(&v);
			}
			p = nl ? nl + 1 : NULL;
		}
	}
	if (!rq->out[0])
		zap_fmt(rq->out, sizeof(rq->out), "%s/%s", zap_self.pod_dir, ZAP_POD_IMAGE);
}

static void write_result(const struct request *rq, int ok, const char *err,
			 const struct zap_dump_stats *st, uint64_t stop_usec, const char *warnings,
			 const char *old)
{
	char path[768], buf[4096];
	zap_fmt(path, sizeof(path), "%s/%s", zap_self.pod_dir, ZAP_POD_RESULT);
	size_t n = zap_fmt(buf, sizeof(buf),
			   "id=%lu\nstatus=%s\npid=%d\nimage=%s\nkill=%d\nerror=%s\nbytes=%lu\npages=%lu\n"
			   "regions=%lu\nwrite_usec=%lu\nstop_usec=%lu\ngeneration=%lu\nwarning=%s\nold=%s\n",
			   (unsigned long)rq->id, ok ? "ok" : "error", (int)z_getpid(), rq->out,
			   rq->kill && ok, ok ? "" : err, (unsigned long)st->bytes_written,
			   (unsigned long)st->pages_stored, (unsigned long)st->regions,
			   (unsigned long)st->usec, (unsigned long)stop_usec,
			   (unsigned long)zap_self.generation, warnings ? warnings : "", old ? old : "");
	zap_write_file_atomic(path, buf, n);
}

/* ---- stopping every thread ---- */

static int was_signaled(int tid)
{
	for (uint32_t i = 0; i < ck.nsignaled; i++)
		if (ck.signaled[i] == tid)
			return 1;
	return 0;
}

struct signal_walk {
	int pid, me, fresh;
};

static int signal_one(int dfd, const char *name, void *arg)
{
	(void)dfd;
	struct signal_walk *w = arg;
	const char *p = name;
	if (*p < '0' || *p > '9')
		return 0;
	int tid = (int)zap_parse_dec(&p);
	if (tid == w->me || was_signaled(tid) || ck.nsignaled >= MAX_THREADS)
		return 0;
	if (z_tgkill(w->pid, tid, zap_self.sig) == 0) {
		ck.signaled[ck.nsignaled++] = tid;
		w->fresh++;
	}
	return 0;
}

/* Signals every thread not yet signaled; returns how many were new. */
static int signal_new_threads(int pid, int me)
{
	struct signal_walk w = {pid, me, 0};
	if (zap_dir_each("/proc/self/task", signal_one, &w) < 0)
		return -1;
	return w.fresh;
}

/* Threads that exited after we signaled them never arrive. */
static int still_alive(int pid)
{
	int alive = 0;
	for (uint32_t i = 0; i < ck.nsignaled; i++)
		if (z_tgkill(pid, ck.signaled[i], 0) == 0)
			alive++;
	return alive;
}

static int stop_all_threads(char *err, size_t errlen)
{
	int pid = (int)z_getpid(), me = (int)z_gettid();
	uint64_t deadline = z_now_ns(1) + STOP_TIMEOUT_NS;
	for (;;) {
		if (signal_new_threads(pid, me) < 0) {
			zap_fmt(err, errlen, "cannot list /proc/self/task");
			return -1;
		}
		for (;;) {
			int got = load(&ck.arrived);
			if ((uint32_t)got >= ck.nsignaled || got >= still_alive(pid))
				break;
			if (z_now_ns(1) > deadline) {
				zap_fmt(err, errlen,
					"%d of %u threads did not stop within 10 s (the checkpoint signal blocked by a raw system call, or a thread stuck in the kernel)",
					(int)ck.nsignaled - got, ck.nsignaled + 1);
				return -1;
			}
			futex_wait_ms(&ck.arrived, got, 1);
		}
		/* a thread created meanwhile is signaled on the next pass */
		if (signal_new_threads(pid, me) == 0)
			return 0;
	}
}

static void release_followers(void)
{
	__atomic_add_fetch(&ck.release, 1, __ATOMIC_RELEASE);
	futex_wake_all(&ck.release);
}

/* ---- followers ---- */

static void follower(void *uc)
{
	uint32_t i = __atomic_fetch_add(&ck.nslots, 1, __ATOMIC_ACQ_REL);
	if (i >= MAX_THREADS)
		return; /* the leader reports "too many threads" */
	struct zap_img_thread *t = &ck.slot[i];
	zap_thread_capture(t, &zap_self.layout);
	t->ucontext = (uint64_t)uc;
	ck.vtid[i] = zap_pid_self_vtid(); /* fixed now, kept across the restore */
	int gen = load(&ck.release);
	if (zap_ctx_save(&t->ctx) == 0) {
		__atomic_add_fetch(&ck.arrived, 1, __ATOMIC_RELEASE);
		futex_wake_all(&ck.arrived);
	} else {
		/* restored: the leader waits for us before it unmaps the restorer */
		ck.new_tid[i] = (int)z_gettid();
		gen = load(&ck.release);
		__atomic_add_fetch(&ck.restored, 1, __ATOMIC_RELEASE);
		futex_wake_all(&ck.restored);
	}
	/* no timeout: a thread that woke up would write to its stack and maybe
	 * its rseq area while the leader checksums and copies them */
	while (load(&ck.release) == gen)
		zsys4(SYS_futex, &ck.release, Z_FUTEX_WAIT | Z_FUTEX_PRIVATE, gen, 0);
}

/* ---- the leader ---- */

struct leader_job {
	struct request rq;
	char old[1200]; /* the replaced image, still to be removed */
	char sockets[1200]; /* a pod's: ctl/sockets, the members' socket inodes */
	struct zap_dump d;
	uint64_t stack_lo, stack_hi;
	int ok;
};

/* What the dump of this process is to write, and to leave out: our memory
 * that is not the program's (the leader's stack; the pod's table, which a
 * restart writes anew and maps again). */
static void dump_settings(struct leader_job *job, const char *path)
{
	struct zap_dump *d = &job->d;
	d->path = path;
	d->threads = ck.slot;
	d->nthreads = ck.nslots;
	d->restore_info_addr = (uint64_t)&zap_restore_info;
	d->signal = (uint32_t)zap_self.sig;
	d->own_lib = zap_self.lib_path;
	d->sysv_external = job->rq.sysv; /* the coordinator keeps SysV segments */
	d->vtab = zap_pid_vtab();
	d->pod_sockets = NULL;
	if (job->rq.ctl[0]) {
		zap_fmt(job->sockets, sizeof(job->sockets), "%s/sockets", job->rq.ctl);
		d->pod_sockets = job->sockets;
	}
	d->exclude[0][0] = job->stack_lo;
	d->exclude[0][1] = job->stack_hi;
	d->nexclude = 1;
	struct zap_vtab *vt = zap_pid_vtab();
	if (vt) {
		d->exclude[1][0] = (uint64_t)vt;
		d->exclude[1][1] = ZAP_PAGE_UP((uint64_t)vt + sizeof(*vt));
		d->nexclude = 2;
	}
}

/* ---- a pod of several processes: `zap checkpoint` leads ----
 *
 * Every member stops its threads and says so (ctl/stopped-PID); once all
 * have, the coordinator says go (ctl/go), and each writes its process file
 * into the image directory and says how it went (ctl/done-PID); once all
 * have, the coordinator commits the pod image and says release (ctl/release)
 * or kills every member.  Nobody runs on before everybody has stopped, and
 * nobody writes before then, so the bytes in pipes between members are the
 * same for all.  A coordinator that dies or says abort lets us run on. */

#define POD_WAIT_NS (600ull * 1000000000ull)

static void ctl_write(const struct request *rq, const char *what, const char *text, size_t n)
{
	char path[1200];
	zap_fmt(path, sizeof(path), "%s/%s-%d", rq->ctl, what, (int)z_getpid());
	zap_write_file_atomic(path, text, n);
}

/* 1 once ctl/name exists; 0 on ctl/abort, a dead coordinator or timeout. */
static int ctl_wait(const struct request *rq, const char *name)
{
	char path[1200], abort_path[1200];
	zap_fmt(path, sizeof(path), "%s/%s", rq->ctl, name);
	zap_fmt(abort_path, sizeof(abort_path), "%s/abort", rq->ctl);
	uint64_t deadline = z_now_ns(1) + POD_WAIT_NS;
	for (long spin = 0;; spin++) {
		if (zsys4(SYS_faccessat, ZAT_FDCWD, path, 0, 0) == 0)
			return 1;
		if (zsys4(SYS_faccessat, ZAT_FDCWD, abort_path, 0, 0) == 0 ||
		    zsys2(SYS_kill, rq->coordinator, 0) == -3 /* ESRCH */ || z_now_ns(1) > deadline)
			return 0;
		z_nanosleep_ns(spin < 100 ? 100000 : 1000000);
	}
}

static long write_member_image(void *arg)
{
	struct leader_job *job = arg;
	struct zap_dump *d = &job->d;
	char path[1200];
	zap_fmt(path, sizeof(path), "%s/%d.img", job->rq.dir, (int)zap_pid_self());
	dump_settings(job, path);
	return zap_dump_process(d);
}

/* Our part of a pod checkpoint, with every thread stopped. */
static void pod_member(struct leader_job *job, const struct zap_img_thread *me)
{
	char abort_path[1200];
	zap_fmt(abort_path, sizeof(abort_path), "%s/abort", job->rq.ctl);
	if (zsys4(SYS_faccessat, ZAT_FDCWD, abort_path, 0, 0) == 0)
		return; /* too late: the coordinator gave up already */
	ctl_write(&job->rq, "stopped", "", 0);
	if (!ctl_wait(&job->rq, "go"))
		return;
	if (me->rseq_len) /* as in the single-process case, below */
		zsys4(SYS_rseq, me->rseq_addr, me->rseq_len, 1, me->rseq_sig);
	long r = zap_call_on_stack(write_member_image, job, (void *)job->stack_hi);
	if (me->rseq_len)
		zsys4(SYS_rseq, me->rseq_addr, me->rseq_len, 0, me->rseq_sig);
	const struct zap_dump *d = &job->d;
	char text[2600];
	size_t n = zap_fmt(text, sizeof(text),
			   "status=%s\nerror=%s\nvpid=%d\nppid=%d\npgid=%d\nsid=%d\nbytes=%lu\npages=%lu\n"
			   "write_usec=%lu\nwarning=%s\n",
			   r == 0 ? "ok" : "error", r == 0 ? "" : d->err, (int)zap_pid_self(),
			   (int)zap_real_to_vpid((pid_t)zsys0(SYS_getppid)),
			   (int)zap_real_to_vpid((pid_t)zsys1(SYS_getpgid, 0)),
			   (int)zap_real_to_vpid((pid_t)zsys1(SYS_getsid, 0)),
			   (unsigned long)d->stats.bytes_written, (unsigned long)d->stats.pages_stored,
			   (unsigned long)d->stats.usec, d->warnings);
	ctl_write(&job->rq, "done", text, n);
	if (ctl_wait(&job->rq, "release")) /* or the coordinator kills us */
		ctl_write(&job->rq, "resumed", "", 0);
}

/* ---- the checkpoint signal sent to one member of a pod ----
 *
 * A member of a pod that gets the signal with no request waiting must not
 * write an image of itself alone, since it cannot tell cheaply whether it
 * is alone (forked children have no members file): it starts
 * `zap checkpoint POD`, which checkpoints the whole pod, or just us (and
 * signals us again, with a request).  The command is started through two vfork-like
 * clones so that it is nobody's child in the pod (the middle one exits and
 * is reaped here; the command's parent becomes init), with the pod's fds
 * closed on exec (a pipe end held by it would keep a reader from seeing
 * EOF) and its output in the pod's checkpoint.log. */

static struct {
	char zap[600], log[800], home[600];
	char *argv[4], *envp[3];
	char stack[2][16384] __attribute__((aligned(16)));
} trig;

static void trigger_exec(void *arg)
{
	(void)arg;
	long null = z_open("/dev/null", O_RDWR, 0);
	long log = z_open(trig.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (null >= 0) {
		zsys2(SYS_dup2, null, 0);
		zsys2(SYS_dup2, null, 1);
	}
	zsys2(SYS_dup2, log >= 0 ? log : null, 2);
	zsys3(SYS_close_range, 3, ~0u, 4 /* CLOSE_RANGE_CLOEXEC */);
	zsys3(SYS_execve, trig.zap, trig.argv, trig.envp);
}

static void trigger_middle(void *arg)
{
	(void)arg;
	uint64_t none = 0;
	zsys4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
	zap_clone_thread(CLONE_VM | CLONE_VFORK | SIGCHLD, trig.stack[1] + sizeof(trig.stack[1]),
			 trigger_exec, NULL, NULL);
}

static void start_pod_checkpoint(void)
{
	/* the zap command sits in bin/ beside our lib/zap/ */
	zap_fmt(trig.zap, sizeof(trig.zap), "%s", zap_self.lib_path);
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(trig.zap, '/');
		if (!slash)
			return;
		*slash = 0;
	}
	size_t n = strlen(trig.zap);
	zap_fmt(trig.zap + n, sizeof(trig.zap) - n, "/bin/zap");
	zap_fmt(trig.log, sizeof(trig.log), "%s/checkpoint.log", zap_self.pod_dir);
	zap_fmt(trig.home, sizeof(trig.home), "ZAP_HOME=%s", zap_self.home);
	trig.argv[0] = trig.zap;
	trig.argv[1] = "checkpoint";
	trig.argv[2] = zap_self.pod;
	trig.argv[3] = NULL;
	trig.envp[0] = trig.home;
	trig.envp[1] = "PATH=/usr/bin:/bin";
	trig.envp[2] = NULL;
	long pid = zap_clone_thread(CLONE_VM | CLONE_VFORK, trig.stack[0] + sizeof(trig.stack[0]),
				    trigger_middle, NULL, NULL);
	if (pid > 0) /* no exit signal: reaped here, and nobody else sees it */
		zsys4(SYS_wait4, pid, 0, 0x80000000 /* __WCLONE */, 0);
}

static long write_image(void *arg)
{
	struct leader_job *job = arg;
	struct zap_dump *d = &job->d;
	char tmp[1200], path[1400];
	int pid = (int)z_getpid();
	/* outside `zap run` nobody made the pod's directory */
	char dir[700];
	zap_fmt(dir, sizeof(dir), "%s/pods", zap_self.home);
	zsys3(SYS_mkdirat, ZAT_FDCWD, zap_self.home, 0755);
	zsys3(SYS_mkdirat, ZAT_FDCWD, dir, 0755);
	zsys3(SYS_mkdirat, ZAT_FDCWD, zap_self.pod_dir, 0755);
	long e = zap_imgdir_begin(job->rq.out, tmp, sizeof(tmp));
	if (e < 0) {
		zap_dump_error(d, "cannot create %s: %s", tmp, zap_strerror(e));
		return -1;
	}
	zap_fmt(path, sizeof(path), "%s/%d.img", tmp, pid);
	dump_settings(job, path);
	if (zap_dump_process(d) < 0) {
		zap_imgdir_remove(tmp);
		return -1;
	}
	struct zap_img_pod pod;
	struct zap_img_member m;
	memset(&pod, 0, sizeof(pod));
	memset(&m, 0, sizeof(m));
	zap_fmt(pod.name, sizeof(pod.name), "%s", zap_self.pod);
	pod.nmembers = 1;
	pod.signal = (uint32_t)zap_self.sig;
	pod.generation = zap_self.generation;
	m.pid = (int32_t)zap_pid_self(); /* alone in its pod: nobody else's parent */
	zap_fmt(m.file, sizeof(m.file), "%d.img", pid);
	if ((e = zap_imgdir_write_pod(tmp, &pod, &m)) < 0 || (e = zap_imgdir_commit(tmp, job->rq.out)) < 0) {
		zap_dump_error(d, "cannot put the image in place at %s: %s", job->rq.out, zap_strerror(e));
		zap_imgdir_remove(tmp);
		return -1;
	}
	/* the replaced image: kept as the next checkpoint's spare, or, when the
	 * process ends or wants no spare, freed by `zap checkpoint` once we run
	 * again (a checkpoint by signal alone leaves it for the next one) */
	if (e == 1 && !(job->rq.spare && !job->rq.kill && zap_imgdir_keep_spare(tmp, job->rq.out) == 0))
		zap_fmt(job->old, sizeof(job->old), "%s", tmp);
	return 0;
}

/* ---- system calls the kernel restarts with a pid in them ----
 *
 * A thread that took the signal inside wait4() or waitid() with SA_RESTART
 * goes back into the same system call when the handler returns, with the
 * same registers: the kernel has already pointed its saved rip back at
 * the `syscall` instruction and rax at the call's number.  The pid in
 * them is the real pid of the child it waits for, which is another one
 * after a restore: note the vpid before the image is written, and put the
 * new real pid in after a restore. */

static void note_restartable_wait(uint32_t i)
{
	ucontext_t *uc = (ucontext_t *)ck.slot[i].ucontext;
	ck.wait_fix[i].vpid = 0;
	if (!uc)
		return;
	greg_t *g = uc->uc_mcontext.gregs;
	const unsigned char *ip = (const unsigned char *)g[REG_RIP];
	int reg;
	if (ip[0] != 0x0f || ip[1] != 0x05) /* not sitting on a syscall instruction */
		return;
	if (g[REG_RAX] == SYS_wait4)
		reg = REG_RDI;
	else if (g[REG_RAX] == SYS_waitid && (g[REG_RDI] == P_PID || g[REG_RDI] == P_PGID))
		reg = REG_RSI;
	else
		return;
	pid_t pid = (pid_t)g[reg];
	int negative = reg == REG_RDI && pid < -1;
	if (negative)
		pid = -pid;
	if (pid <= 0)
		return;
	ck.wait_fix[i] = (struct wait_fix){reg, zap_real_to_vpid(pid), negative};
}

static void fix_restartable_waits(void)
{
	for (uint32_t i = 0; i < ck.nslots && i < MAX_THREADS; i++) {
		struct wait_fix *w = &ck.wait_fix[i];
		ucontext_t *uc = (ucontext_t *)ck.slot[i].ucontext;
		if (!w->vpid || !uc)
			continue;
		pid_t real = zap_vpid_to_real(w->vpid);
		uc->uc_mcontext.gregs[w->reg] = w->negative ? -(greg_t)real : (greg_t)real;
	}
}

/* After a restore: the restorer's memory goes, and the process learns its
 * new identity. */
static void after_restore(void)
{
	struct zap_restore_info *ri = &zap_restore_info;
	if (ri->magic != ZAP_RESTORE_MAGIC)
		return;
	uint64_t deadline = z_now_ns(1) + STOP_TIMEOUT_NS;
	while ((uint32_t)load(&ck.restored) + 1 < ck.nslots && z_now_ns(1) < deadline)
		futex_wait_ms(&ck.restored, load(&ck.restored), 1);
	z_munmap(ri->arena_start, ri->arena_end - ri->arena_start);
	ck.new_tid[0] = (int)z_gettid();
	zap_pid_attach_vtab(NULL); /* the old table was not in the image */
	zap_pid_restored(ck.vtid, ck.new_tid, ck.nslots < MAX_THREADS ? ck.nslots : MAX_THREADS);
	/* /proc/self/exe: the program again, not zap-restart (now unmapped);
	 * without CAP_CHECKPOINT_RESTORE it stays zap-restart */
	if (zap_self.exe[0] && !(ri->flags & ZAP_RESTORE_NO_MM))
		zap_proc_set_exe(zap_self.exe);
	long n = z_readlink("/proc/self/exe", zap_self.exe_now, sizeof(zap_self.exe_now) - 1);
	zap_self.exe_now[n > 0 ? n : 0] = 0;
	zap_timers_after_restore(zap_vpid_to_real);
	zap_tunnel_after_restore(); /* first: sock.c then sees the tunnels' new sockets */
	zap_sock_after_restore();
	if (ri->zap_home[0])
		zap_fmt(zap_self.home, sizeof(zap_self.home), "%s", ri->zap_home);
	if (ri->pod[0]) {
		zap_fmt(zap_self.pod, sizeof(zap_self.pod), "%s", ri->pod);
		zap_self.in_pod = 1;
	}
	zap_fmt(zap_self.pod_dir, sizeof(zap_self.pod_dir), "%s/pods/%s", zap_self.home, zap_self.pod);
	/* the pod's table, which `zap restart` fills as the members come back:
	 * nobody returns to the program before it knows everybody's pid */
	zap_pid_open_vtab(zap_self.pod_dir);
	struct zap_vtab *vt = zap_pid_vtab();
	int ready = vt && zap_vtab_wait_ready(vt, 60000) == 0;
	fix_restartable_waits();
	if (ready && zap_self.pgid_vpid &&
	    zap_self.pgid_vpid != zap_pid_self()) {
		/* a group led by a member that is not our ancestor (a shell's job) */
		pid_t want = zap_vpid_to_real(zap_self.pgid_vpid);
		if (want != zsys1(SYS_getpgid, 0))
			zsys2(SYS_setpgid, 0, want);
	}
	if ((ri->flags & ZAP_RESTORE_NO_MM) && zap_self.curbrk)
		/* the kernel's break is the restorer's, above the old heap: make
		 * glibc grow from there rather than believe in the old one */
		*zap_self.curbrk = (void *)zsys1(SYS_brk, 0);
	ri->magic = 0;
	zap_pod_register_member();
}

static void leader(void *uc)
{
	uint64_t t0 = z_now_ns(1);
	ck.nslots = 1;
	ck.nsignaled = 0;
	__atomic_store_n(&ck.arrived, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&ck.restored, 0, __ATOMIC_RELEASE);
	struct zap_img_thread *me = &ck.slot[0];
	zap_thread_capture(me, &zap_self.layout);
	me->flags |= ZAP_THREAD_LEADER;
	me->ucontext = (uint64_t)uc;
	ck.vtid[0] = zap_pid_self_vtid();

	/* the job and its stack live outside the image */
	long stack = z_mmap(0, LEADER_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack < 0 && stack > -4096)
		return; /* no memory: no checkpoint, and the program goes on */
	struct leader_job *job = (struct leader_job *)stack;
	memset(job, 0, sizeof(*job));
	job->stack_lo = (uint64_t)stack;
	job->stack_hi = (uint64_t)stack + LEADER_STACK;
	read_request(&job->rq);
	if (!job->rq.id && zap_self.in_pod) {
		start_pod_checkpoint();
		z_munmap((uint64_t)stack, LEADER_STACK);
		return;
	}

	char err[512];
	int stopped = stop_all_threads(err, sizeof(err)) == 0;
	uint64_t stop_usec = (z_now_ns(1) - t0) / 1000;
	if (stopped && ck.nslots > MAX_THREADS) {
		zap_fmt(err, sizeof(err), "more than %d threads", MAX_THREADS);
		stopped = 0;
	}
	if (!stopped && job->rq.ctl[0]) {
		char text[600];
		ctl_write(&job->rq, "stopped", text, zap_fmt(text, sizeof(text), "error=%s\n", err));
	} else if (!stopped) {
		write_result(&job->rq, 0, err, &job->d.stats, stop_usec, NULL, NULL);
	} else {
		zap_sock_before_dump();
		if (zap_timers_before_dump())
			zap_fmt(job->d.warnings, sizeof(job->d.warnings),
				"some POSIX timers (SIGEV_THREAD, or beyond 256) do not come back");
		zap_tunnel_before_dump();
		zap_self.generation++;
		if (zap_ctx_save(&me->ctx) != 0) {
			/* restored: the job memory is gone with the old process */
			after_restore();
			release_followers();
			return;
		}
		zap_self.pgid_vpid = zap_real_to_vpid((pid_t)zsys1(SYS_getpgid, 0));
		for (uint32_t i = 0; i < ck.nslots && i < MAX_THREADS; i++)
			note_restartable_wait(i);
		if (job->rq.ctl[0]) {
			pod_member(job, me);
			z_munmap((uint64_t)stack, LEADER_STACK);
			release_followers();
			return;
		}
		/* the kernel writes our rseq area whenever we move between CPUs,
		 * which would change memory between its checksum and its copy:
		 * let go of it while we write (the restorer registers it again) */
		if (me->rseq_len)
			zsys4(SYS_rseq, me->rseq_addr, me->rseq_len, 1 /* UNREGISTER */, me->rseq_sig);
		long r = zap_call_on_stack(write_image, job, (void *)job->stack_hi);
		if (me->rseq_len)
			zsys4(SYS_rseq, me->rseq_addr, me->rseq_len, 0, me->rseq_sig);
		write_result(&job->rq, r == 0, job->d.err, &job->d.stats, stop_usec, job->d.warnings,
			     job->old);
		if (r == 0 && job->rq.kill)
			zsys2(SYS_kill, z_getpid(), 9);
	}
	z_munmap((uint64_t)stack, LEADER_STACK);
	release_followers();
}

void zap_checkpoint_handler(int sig, siginfo_t *info, void *uc)
{
	(void)sig;
	(void)info;
	int saved_errno = errno;
	int expected = 0;
	/* a pod checkpoint signals children it finds in /proc, which may take
	 * the signal before their atfork handler ran: they must not write an
	 * image under their parent's pid */
	if (zap_pid_is_stale())
		zap_fork_child();
	if (__atomic_compare_exchange_n(&ck.busy, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		leader(uc);
		__atomic_store_n(&ck.busy, 0, __ATOMIC_RELEASE);
	} else {
		follower(uc);
	}
	errno = saved_errno;
}
