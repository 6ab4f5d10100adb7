/* zap-restart: the static restorer.
 *
 *   zap-restart [--status-fd N] [--inherit-stdio] [--home DIR] [--pod NAME] FILE
 *
 * `zap restart` runs this in the child that becomes the restored process.
 * It is linked with musl at ZAP_ARENA_START, far from where programs live,
 * and keeps everything it maps inside the arena, so it never collides with
 * the image whatever addresses ASLR gave it: its stack and vDSO, which the
 * kernel puts at random places, are moved into the arena before the old
 * address space is torn down.
 *
 * Until the commit point everything that can fail is checked and any
 * failure is reported on the status fd, with nothing changed.  After it the
 * restorer uses raw system calls only, and ends by resuming every thread of
 * the image inside its checkpoint handler. */
#include "dump.h"
#include "image.h"
#include "restore.h"
#include "stream.h"
#include "sys.h"
#include "thread.h"
#include "util.h"
#include "zap/common.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_HEAP (ZAP_ARENA_START + 0x100000000ull)
#define ARENA_HEAP_SIZE (1ull << 32)
#define ARENA_STACK (ZAP_ARENA_START + 0x4000000000ull)
#define ARENA_STACK_SIZE (8ull << 20)
#define ARENA_STREAM (ZAP_ARENA_START + 0xc000000000ull) /* zapd's progress file */

extern char **environ;
static struct zap_scratch heap;
static char home_arg[256], pod_arg[64];
/* a member of a pod: the pod file, which member, and where the shared
 * descriptions wait; the rest of our own command line, for our children */
static char pod_img_arg[4096];
static int member_arg, shared_base_arg, shared_count_arg, shm_count_arg, status_fd_arg = -1, inherit_arg;
static int stream_fd_arg = -1; /* zapd's progress file, for an image still arriving */

static void *heap_alloc(void *ctx, size_t n)
{
	(void)ctx;
	return zap_scratch_alloc(&heap, n);
}

static int usage(FILE *out)
{
	fprintf(out, "usage: zap-restart [--status-fd N] [--inherit-stdio] [--home DIR] [--pod NAME]\n"
		     "                   [--stream-fd N] FILE\n"
		     "       zap-restart [options] --pod-image POD.IMG --member VPID [--shared-base N --shared-count N]\n"
			"The static restorer behind `zap restart`; see docs/zap-restart-restorer.md.\n");
	return ZAP_EXIT_USAGE;
}

/* Moves our own fds above every fd of the image, and closes everything
 * else but stdio, so that the image's fds land on free numbers. */
static int clear_fds(struct zap_restore *r)
{
	int top = 2;
	for (uint32_t i = 0; i < r->img->nfds; i++)
		if (r->img->fds[i].fd > top)
			top = r->img->fds[i].fd;
	int nkeep = r->nshared + r->nshm_obj; /* the pod's shared fds and memory */
	if (nkeep && r->shared_base + nkeep - 1 > top)
		top = r->shared_base + nkeep - 1;
	long img = zsys3(SYS_fcntl, r->img_fd, F_DUPFD_CLOEXEC, top + 1);
	long st = r->status_fd >= 0 ? zsys3(SYS_fcntl, r->status_fd, F_DUPFD_CLOEXEC, img + 1) : -1;
	if (img < 0 || (r->status_fd >= 0 && st < 0))
		return zap_restore_error(r, "cannot move the restorer's own fds above %d", top);
	((struct zap_img *)r->img)->fd = (int)img;
	r->img_fd = (int)img;
	r->status_fd = (int)st;
	int low = (int)img;
	if (nkeep) { /* the pod's shared descriptions and memory stay, for later */
		zsys3(SYS_close_range, 3, r->shared_base - 1, 0);
		zsys3(SYS_close_range, r->shared_base + nkeep, low - 1, 0);
	} else {
		zsys3(SYS_close_range, 3, low - 1, 0);
	}
	zsys3(SYS_close_range, (st >= 0 ? st : img) + 1, ~0u, 0);
	return 0;
}

static void fill_restore_info(struct zap_restore *r)
{
	const struct zap_img_proc *p = r->img->proc;
	uint64_t at = p->restore_info;
	/* only inside a writable region of the image */
	int ok = 0;
	for (uint32_t i = 0; i < r->img->nregions; i++) {
		const struct zap_img_region *reg = &r->img->regions[i];
		if (at >= reg->start && at + sizeof(struct zap_restore_info) <= reg->end &&
		    (reg->prot & PROT_WRITE))
			ok = 1;
	}
	if (!ok)
		return;
	struct zap_restore_info *ri = (struct zap_restore_info *)at;
	ri->arena_start = ZAP_ARENA_START;
	ri->arena_end = ZAP_ARENA_END;
	ri->old_pid = p->pid;
	ri->new_pid = (int32_t)z_getpid();
	ri->nthreads = p->nthreads;
	ri->flags = r->mm_refused ? ZAP_RESTORE_NO_MM : 0;
	zap_fmt(ri->zap_home, sizeof(ri->zap_home), "%s", home_arg);
	zap_fmt(ri->pod, sizeof(ri->pod), "%s", pod_arg);
	ri->magic = ZAP_RESTORE_MAGIC;
}

/* ---- a member of a pod ---- */

static struct zap_img pod_img;

/* Our record in the pod file, whose directory holds our process file. */
static const struct zap_img_member *pod_member(struct zap_restore *r, char *file, size_t n)
{
	char err[512];
	if (zap_img_open(&pod_img, pod_img_arg, heap_alloc, NULL, err, sizeof(err)) < 0 ||
	    pod_img.hdr.kind != ZAP_IMG_KIND_POD) {
		zap_restore_error(r, "%s", pod_img.hdr.kind == ZAP_IMG_KIND_PROC ? "expected a pod file" : err);
		return NULL;
	}
	for (uint32_t i = 0; i < pod_img.nmembers; i++) {
		const struct zap_img_member *m = &pod_img.members[i];
		if (m->pid != member_arg || (m->flags & ZAP_MEMBER_ZOMBIE))
			continue;
		const char *slash = strrchr(pod_img_arg, '/');
		int dlen = slash ? (int)(slash - pod_img_arg) : 1;
		snprintf(file, n, "%.*s/%s", dlen, slash ? pod_img_arg : ".", m->file);
		r->vpid = m->pid;
		r->pod_fds = pod_img.pod_fds;
		r->npod_fds = pod_img.npod_fds;
		r->shared_base = shared_base_arg;
		r->nshared = shared_count_arg;
		r->pod_shm = pod_img.pod_shm;
		r->npod_shm = pod_img.npod_shm;
		r->nshm_obj = shm_count_arg;
		return m;
	}
	zap_restore_error(r, "%s: no process %d in the pod", pod_img_arg, member_arg);
	return NULL;
}

static void report(struct zap_restore *r, int32_t vpid, long pid)
{
	char line[64];
	size_t n = zap_fmt(line, sizeof(line), "ok %d %ld\n", (int)vpid, pid);
	if (r->status_fd >= 0)
		z_write(r->status_fd, line, n);
}

/* A zombie again: a child that ends at once the way the old one ended. */
static __attribute__((noreturn)) void become_zombie(int status)
{
	uint64_t none = 0;
	int sig = status & 0x7f;
	if (sig && sig != 0x7f) {
		struct { uint64_t handler, flags, restorer, mask; } dfl = {0, 0, 0, 0};
		zsys4(SYS_rt_sigaction, sig, &dfl, 0, 8);
		zsys4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
		zsys2(SYS_kill, z_getpid(), sig);
	}
	z_exit_group((status >> 8) & 0xff);
}

/* Our group and session first (children inherit them), then one child per
 * child member: a zombie made on the spot, or a restorer of its own. */
static int start_children(struct zap_restore *r, const struct zap_img_member *me)
{
	if (me->sid == me->pid) {
		if (zsys0(SYS_setsid) < 0)
			return zap_restore_error(r, "process %d: cannot start its session again", me->pid);
	} else if (me->pgid == me->pid) {
		zsys2(SYS_setpgid, 0, 0);
	}
	/* the main process (listed first) takes in the orphans too: processes
	 * whose parent had left the pod before the checkpoint */
	int is_main = me == &pod_img.members[0];
	for (uint32_t i = 0; i < pod_img.nmembers; i++) {
		const struct zap_img_member *c = &pod_img.members[i];
		if ((c->ppid != me->pid && !(is_main && c->ppid == 0)) || c->pid == me->pid)
			continue;
		long pid = zsys2(SYS_clone, SIGCHLD, 0);
		if (pid < 0)
			return zap_restore_error(r, "cannot fork process %d: %s", c->pid, zap_strerror(pid));
		if (pid > 0) {
			if (c->flags & ZAP_MEMBER_ZOMBIE)
				report(r, c->pid, pid);
			continue;
		}
		if (c->flags & ZAP_MEMBER_ZOMBIE)
			become_zombie(c->exit_status);
		struct zap_restorer_cmd cmd = {"zap-restart", home_arg, pod_arg, pod_img_arg, status_fd_arg,
					       c->pid, shared_base_arg, shared_count_arg, inherit_arg,
					       shm_count_arg, stream_fd_arg, {{0}}, {0}};
		char **args = zap_restorer_argv(&cmd);
		long e = zsys3(SYS_execve, "/proc/self/exe", args, environ);
		zap_restore_error(r, "cannot run the restorer for process %d: %s", c->pid, zap_strerror(e));
		z_exit_group(ZAP_EXIT_FAIL);
	}
	return 0;
}

/* Past the point of no return: on the arena stack, raw system calls. */
static long commit(void *arg)
{
	struct zap_restore *r = arg;
	if (zap_mem_park_vdso(r) < 0 || zap_mem_unmap_all(r) < 0)
		z_exit_group(ZAP_EXIT_FAIL);
	if (zap_mem_restore_regions(r) < 0)
		z_exit_group(r->exit_code ? r->exit_code : ZAP_EXIT_FAIL);
	if (r->nshm_obj) /* mapped now where they were */
		zsys3(SYS_close_range, r->shared_base + r->nshared,
		      r->shared_base + r->nshared + r->nshm_obj - 1, 0);
	if (zap_mem_place_vdso(r) < 0 || zap_proc_restore(r) < 0)
		z_exit_group(ZAP_EXIT_FAIL);
	fill_restore_info(r);
	z_close(r->img_fd);
	/* nothing of the program runs before zapd verified the whole stream */
	if (zap_stream_wait_complete(r->stream) < 0)
		z_exit_group(ZAP_EXIT_FAIL);
	zap_thread_resume_all(r);
}

int main(int argc, char **argv)
{
	static struct zap_restore r;
	static struct zap_img img;
	const char *file = NULL;
	r.status_fd = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--status-fd") && i + 1 < argc)
			r.status_fd = status_fd_arg = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--inherit-stdio"))
			r.inherit_stdio = inherit_arg = 1;
		else if (!strcmp(argv[i], "--pod-image") && i + 1 < argc)
			snprintf(pod_img_arg, sizeof(pod_img_arg), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--member") && i + 1 < argc)
			member_arg = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--shared-base") && i + 1 < argc)
			shared_base_arg = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--shared-count") && i + 1 < argc)
			shared_count_arg = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--shm-count") && i + 1 < argc)
			shm_count_arg = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--home") && i + 1 < argc)
			snprintf(home_arg, sizeof(home_arg), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--pod") && i + 1 < argc)
			snprintf(pod_arg, sizeof(pod_arg), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--stream-fd") && i + 1 < argc)
			stream_fd_arg = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout), 0;
		else if (argv[i][0] == '-' || file)
			return usage(stderr);
		else
			file = argv[i];
	}
	if (!file && !pod_img_arg[0])
		return usage(stderr);
	uint64_t all = ~0ull;
	zsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);

	if (zap_scratch_init(&heap, ARENA_HEAP, ARENA_HEAP_SIZE) < 0) {
		zap_restore_error(&r, "cannot map the restorer's heap at %lx", (unsigned long)ARENA_HEAP);
		return ZAP_EXIT_FAIL;
	}
	/* argv lives on the stack we unmap at the commit point: keep a copy */
	static char file_copy[4096];
	const struct zap_img_member *me = NULL;
	if (pod_img_arg[0]) {
		if (!(me = pod_member(&r, file_copy, sizeof(file_copy))))
			return ZAP_EXIT_BAD_IMAGE;
	} else {
		snprintf(file_copy, sizeof(file_copy), "%s", file);
	}
	file = file_copy;
	char err[512];
	if (zap_img_open(&img, file, heap_alloc, NULL, err, sizeof(err)) < 0 ||
	    img.hdr.kind != ZAP_IMG_KIND_PROC) {
		zap_restore_error(&r, "%s", img.hdr.kind == ZAP_IMG_KIND_POD ? "expected a process file" : err);
		return ZAP_EXIT_BAD_IMAGE;
	}
	r.img = &img;
	r.img_fd = img.fd;
	r.stream_file = -1;
	if (stream_fd_arg >= 0) {
		long e = zap_stream_map(stream_fd_arg, ARENA_STREAM, &r.stream);
		if (e < 0) {
			zap_restore_error(&r, "cannot map the stream's progress file (fd %d): %s",
					  stream_fd_arg, zap_strerror(e));
			return ZAP_EXIT_FAIL;
		}
		r.stream_file = zap_stream_find(r.stream, file);
	}
	if (zap_mem_check_arena(&r) < 0 || zap_mem_check_vdso(&r) < 0)
		return ZAP_EXIT_BAD_IMAGE;
	/* the pod's table names the SysV segments `zap restart` recreated; it
	 * is read now, while there is a libc and the table is mapped */
	static char vtab_path[sizeof(home_arg) + sizeof(pod_arg) + 16];
	if (home_arg[0] && pod_arg[0])
		snprintf(vtab_path, sizeof(vtab_path), "%s/pods/%s/vtab", home_arg, pod_arg);
	if (zap_mem_check_files(&r) < 0 || zap_mem_check_sysv(&r, vtab_path) < 0 || zap_fd_check(&r) < 0)
		return ZAP_EXIT_CHANGED;
	const char *cwd = zap_img_str(&img, img.proc->cwd_str);
	struct zap_kstat st;
	if (zap_stat(cwd, &st) < 0) {
		zap_restore_error(&r, "the program's working directory %s is gone", cwd);
		return ZAP_EXIT_CHANGED;
	}
	if (me && start_children(&r, me) < 0)
		return ZAP_EXIT_FAIL;
	if (clear_fds(&r) < 0 || zap_fd_restore(&r) < 0)
		return r.exit_code ? r.exit_code : ZAP_EXIT_FAIL;
	report(&r, me ? me->pid : img.proc->pid, z_getpid());

	long stack = z_mmap(ARENA_STACK, ARENA_STACK_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (stack < 0 && stack > -4096) {
		zap_restore_error(&r, "cannot map the restorer's stack");
		return ZAP_EXIT_FAIL;
	}
	zap_call_on_stack(commit, &r, (char *)stack + ARENA_STACK_SIZE);
	return ZAP_EXIT_FAIL; /* not reached */
}
