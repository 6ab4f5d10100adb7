/* zap inspect: print an image for a person (or, with --json, a script). */
#include "image.h"
#include "sock.h"
#include "stacks.h"
#include "util.h"
#include "zap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static int inspect_exec(int argc, char **argv);

const struct zap_cmd zap_cmd_inspect = {
	.name = "inspect",
	.args = "[--json] [--verify] [--stacks] IMAGE",
	.summary = "show what an image holds",
	.help = "Prints the pod and, for each process, its threads, memory regions (with\n"
		"their sizes, what backs them and how much of them is stored), open files\n"
		"and signal handlers.\n\n"
		"Options:\n"
		"  --json     print one JSON object instead\n"
		"  --verify   also check every page against its checksum\n"
		"  --stacks   under each thread, the backtrace of the code the checkpoint\n"
		"             signal interrupted, unwound from the image (and the files it\n"
		"             maps) with libunwind: frame, ip, function+offset, file\n\n"
		"Exit status: 0; 4 the image is missing, truncated, corrupt or for another\n"
		"machine (the message names the file and the section); 2 bad usage.\n",
	.exec = inspect_exec,
};

static void human_size(uint64_t b, char *buf, size_t n)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4)
		v /= 1024, i++;
	snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* A socket's kind, state and addresses (a dup's from its first fd); 0 when f is no socket. */
static size_t socket_desc(const struct zap_img *img, const struct zap_img_fd *f, char *buf, size_t n)
{
	if (f->kind != ZAP_FD_SOCKET)
		return 0;
	for (uint32_t i = 0; f->dup_of >= 0 && i < img->nfds; i++)
		if (img->fds[i].fd == f->dup_of)
			f = &img->fds[i];
	return zap_sock_describe(img->fd, f, buf, n);
}

static const char *fd_kind(uint32_t k)
{
	switch (k) {
	case ZAP_FD_INHERIT: return "stdio";
	case ZAP_FD_REG: return "file";
	case ZAP_FD_DIR: return "dir";
	case ZAP_FD_CHR: return "device";
	case ZAP_FD_DELETED: return "deleted";
	case ZAP_FD_CLOSED_ON_RESTORE: return "unsupported";
	case ZAP_FD_EVENTFD: return "eventfd";
	case ZAP_FD_TIMERFD: return "timerfd";
	case ZAP_FD_SIGNALFD: return "signalfd";
	case ZAP_FD_EPOLL: return "epoll";
	case ZAP_FD_PIPE_READ: return "pipe-read";
	case ZAP_FD_PIPE_WRITE: return "pipe-write";
	case ZAP_FD_SOCKPAIR: return "socketpair";
	case ZAP_FD_SOCKET: return "socket";
	}
	return "?";
}

static void region_desc(const struct zap_img *img, const struct zap_img_region *r, char *buf, size_t n)
{
	const char *what = r->flags & ZAP_REG_HEAP ? "[heap]" : r->flags & ZAP_REG_STACK ? "[stack]" : NULL;
	if (!what && r->path_str)
		what = zap_img_str(img, r->path_str);
	snprintf(buf, n, "%s%s", what ? what : (r->flags & ZAP_REG_SHARED ? "[shared anon]" : "[anon]"),
		 r->flags & ZAP_REG_DELETED ? " (stored whole)" : "");
}

static void json_str_or_null(const char *s)
{
	if (*s)
		zap_json_str(s);
	else
		printf("null");
}

static uint64_t stored_pages(const struct zap_img *img, const struct zap_img_region *r)
{
	uint64_t n = 0;
	for (uint32_t k = 0; k < r->nruns; k++)
		n += img->runs[r->first_run + k].npages;
	return n;
}

static void print_stack_text(const struct zap_img *img, const struct zap_img_thread *t)
{
	struct zap_frame f[ZAP_STACK_MAX];
	char why[512], fn[300];
	int n = zap_stack_unwind(img, t, f, ZAP_STACK_MAX, why, sizeof(why));
	for (int i = 0; i < n; i++) {
		snprintf(fn, sizeof(fn), f[i].function[0] ? "%s+%#llx" : "??", f[i].function,
			 (unsigned long long)f[i].offset);
		printf("      #%-2d 0x%012llx %-32s %s\n", i, (unsigned long long)f[i].ip, fn,
		       f[i].file[0] ? f[i].file : "?");
	}
	if (why[0])
		printf("      (%s)\n", why);
}

static void print_stack_json(const struct zap_img *img, const struct zap_img_thread *t)
{
	struct zap_frame f[ZAP_STACK_MAX];
	char why[512];
	int n = zap_stack_unwind(img, t, f, ZAP_STACK_MAX, why, sizeof(why));
	printf(",\"stack\":[");
	for (int i = 0; i < n; i++) {
		printf("%s{\"ip\":%llu,\"function\":", i ? "," : "", (unsigned long long)f[i].ip);
		json_str_or_null(f[i].function);
		printf(",\"offset\":%llu,\"file\":", (unsigned long long)f[i].offset);
		json_str_or_null(f[i].file);
		putchar('}');
	}
	putchar(']');
	if (why[0]) {
		printf(",\"stack_error\":");
		zap_json_str(why);
	}
}

/* The pod-wide description a member's fd shares with other members, or -1. */
static int pod_object(const struct zap_img *pod, int32_t vpid, int32_t fd)
{
	for (uint32_t i = 0; i < pod->npod_fds; i++)
		if (pod->pod_fds[i].pid == vpid && pod->pod_fds[i].fd == fd)
			return (int)pod->pod_fds[i].object;
	return -1;
}

/* A process as the pod saw it: its vpid and its parent's (0: outside). */
static void print_proc_text(const struct zap_img *pod, const struct zap_img_member *m,
			    const struct zap_img *img, int stacks)
{
	const struct zap_img_proc *p = img->proc;
	char a[32], b[32];
	printf("process %d (%s), parent %d%s", m->pid, p->comm, m->ppid, m->ppid ? "" : " (outside the pod)");
	if (p->pid != m->pid)
		printf(", real pid %d when checkpointed", p->pid);
	putchar('\n');
	printf("  exe   %s\n  cwd   %s\n  umask %03o\n", zap_img_str(img, p->exe_str),
	       zap_img_str(img, p->cwd_str), p->umask);
	printf("  threads: %u\n", img->nthreads);
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct zap_img_thread *t = &img->threads[i];
		printf("    tid %-7d%s%s fs %#llx  resume %#llx  sigmask %#llx%s\n", t->tid,
		       t->flags & ZAP_THREAD_MAIN ? " main" : "     ",
		       t->flags & ZAP_THREAD_LEADER ? " leader" : "       ", (unsigned long long)t->fs_base,
		       (unsigned long long)t->ctx.rip, (unsigned long long)t->sigmask,
		       t->rseq_len ? "  rseq" : "");
		if (stacks)
			print_stack_text(img, t);
	}
	uint64_t total = 0, stored = 0;
	printf("  memory: %u regions\n", img->nregions);
	for (uint32_t i = 0; i < img->nregions; i++) {
		const struct zap_img_region *r = &img->regions[i];
		char desc[PATH_MAX + 32];
		uint64_t st = stored_pages(img, r) * ZAP_IMG_PAGE;
		region_desc(img, r, desc, sizeof(desc));
		human_size(r->end - r->start, a, sizeof(a));
		human_size(st, b, sizeof(b));
		printf("    %012llx-%012llx %c%c%c%c %10s  stored %10s  %s", (unsigned long long)r->start,
		       (unsigned long long)r->end, r->prot & PROT_READ ? 'r' : '-',
		       r->prot & PROT_WRITE ? 'w' : '-', r->prot & PROT_EXEC ? 'x' : '-',
		       r->flags & ZAP_REG_SHARED ? 's' : 'p', a, b, desc);
		for (uint32_t k = 0; k < pod->npod_shm; k++)
			if (pod->pod_shm[k].pid == m->pid && pod->pod_shm[k].region == i)
				printf(" (shared in the pod: memory #%u)", pod->pod_shm[k].object);
		putchar('\n');
		total += r->end - r->start;
		stored += st;
	}
	human_size(total, a, sizeof(a));
	human_size(stored, b, sizeof(b));
	printf("  mapped %s, stored %s in %u runs\n", a, b, img->nruns);
	printf("  files: %u\n", img->nfds);
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		printf("    %3d %-11s flags %06o pos %-10llu %s", f->fd, fd_kind(f->kind), f->open_flags,
		       (unsigned long long)f->pos, zap_img_str(img, f->path_str));
		char sock[512];
		if (socket_desc(img, f, sock, sizeof(sock)))
			printf(" %s", sock);
		if (f->dup_of >= 0)
			printf(" (same as fd %d)", f->dup_of);
		int obj = pod_object(pod, m->pid, f->fd);
		if (obj >= 0)
			printf(" (shared in the pod: #%d)", obj);
		putchar('\n');
	}
	printf("  signal handlers:");
	int any = 0;
	for (int s = 1; s <= ZAP_NSIG; s++) {
		uint64_t h = p->sigactions[s - 1].handler;
		if (h > 1 && (uint32_t)s != p->signal) {
			printf(" %s%s", s < 32 ? "SIG" : "", s < 32 ? zap_signal_name(s) : "");
			if (s >= 32)
				printf("%d", s);
			any = 1;
		}
	}
	printf("%s\n", any ? "" : " none");
	for (int w = 0; w < 3; w++) {
		const struct zap_img_timer *t = &p->itimers[w];
		if (t->value_sec || t->value_usec)
			printf("  itimer %s: %lld.%06llds left, every %lld.%06llds\n",
			       (const char *[]){"REAL", "VIRTUAL", "PROF"}[w], (long long)t->value_sec,
			       (long long)t->value_usec, (long long)t->interval_sec,
			       (long long)t->interval_usec);
	}
}

static void print_proc_json(const struct zap_img *pod, const struct zap_img_member *m,
			    const struct zap_img *img, int stacks)
{
	const struct zap_img_proc *p = img->proc;
	printf("{\"pid\":%d,\"ppid\":%d,\"real_pid\":%d,\"pgid\":%d,\"sid\":%d,\"comm\":", m->pid,
	       m->ppid, p->pid, m->pgid, m->sid);
	zap_json_str(p->comm);
	printf(",\"exe\":");
	zap_json_str(zap_img_str(img, p->exe_str));
	printf(",\"cwd\":");
	zap_json_str(zap_img_str(img, p->cwd_str));
	printf(",\"threads\":[");
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct zap_img_thread *t = &img->threads[i];
		printf("%s{\"tid\":%d,\"main\":%s,\"fs_base\":%llu,\"rip\":%llu", i ? "," : "", t->tid,
		       t->flags & ZAP_THREAD_MAIN ? "true" : "false", (unsigned long long)t->fs_base,
		       (unsigned long long)t->ctx.rip);
		if (stacks)
			print_stack_json(img, t);
		putchar('}');
	}
	printf("],\"regions\":[");
	for (uint32_t i = 0; i < img->nregions; i++) {
		const struct zap_img_region *r = &img->regions[i];
		char desc[PATH_MAX + 32];
		region_desc(img, r, desc, sizeof(desc));
		printf("%s{\"start\":%llu,\"end\":%llu,\"prot\":%u,\"shared\":%s,\"stored_bytes\":%llu,\"what\":",
		       i ? "," : "", (unsigned long long)r->start, (unsigned long long)r->end, r->prot,
		       r->flags & ZAP_REG_SHARED ? "true" : "false",
		       (unsigned long long)(stored_pages(img, r) * ZAP_IMG_PAGE));
		zap_json_str(desc);
		putchar('}');
	}
	printf("],\"fds\":[");
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		printf("%s{\"fd\":%d,\"kind\":\"%s\",\"flags\":%u,\"pos\":%llu,\"shared\":%d,\"path\":",
		       i ? "," : "", f->fd, fd_kind(f->kind), f->open_flags, (unsigned long long)f->pos,
		       pod_object(pod, m->pid, f->fd));
		zap_json_str(zap_img_str(img, f->path_str));
		char sock[512];
		if (socket_desc(img, f, sock, sizeof(sock))) {
			printf(",\"socket\":");
			zap_json_str(sock);
		}
		putchar('}');
	}
	printf("]}");
}

static int inspect_exec(int argc, char **argv)
{
	int json = 0, verify = 0, stacks = 0;
	const char *image = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--verify"))
			verify = 1;
		else if (!strcmp(argv[i], "--stacks"))
			stacks = 1;
		else if (argv[i][0] == '-' || image)
			return zap_usage(&zap_cmd_inspect);
		else
			image = argv[i];
	}
	if (!image)
		return zap_usage(&zap_cmd_inspect);
	char dir[PATH_MAX], path[PATH_MAX + 64], err[1024];
	struct zap_img pod;
	if (zap_image_open_pod(image, dir, sizeof(dir), &pod) < 0)
		return ZAP_EXIT_BAD_IMAGE;
	time_t when = (time_t)(pod.hdr.created_ns / 1000000000ull);
	char date[64];
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&when));
	if (json) {
		printf("{\"pod\":");
		zap_json_str(pod.pod->name);
		printf(",\"generation\":%llu,\"signal\":%u,\"created\":%llu,\"processes\":[",
		       (unsigned long long)pod.pod->generation, pod.pod->signal,
		       (unsigned long long)(pod.hdr.created_ns / 1000000000ull));
	} else {
		printf("pod %s: %u process%s, checkpoint %llu, taken %s, signal SIG%s\n", pod.pod->name,
		       pod.nmembers, pod.nmembers == 1 ? "" : "es", (unsigned long long)pod.pod->generation,
		       date, zap_signal_name((int)pod.pod->signal));
	}
	int rc = 0;
	for (uint32_t m = 0; m < pod.nmembers; m++) {
		const struct zap_img_member *mem = &pod.members[m];
		if (mem->flags & ZAP_MEMBER_ZOMBIE) { /* no file: it had ended */
			int es = mem->exit_status;
			if (json)
				printf("%s{\"pid\":%d,\"ppid\":%d,\"zombie\":true,\"exit_status\":%d}",
				       m ? "," : "", mem->pid, mem->ppid, es);
			else if (es & 0x7f)
				printf("process %d: ended by signal %d, not yet reaped by its parent %d\n",
				       mem->pid, es & 0x7f, mem->ppid);
			else
				printf("process %d: exited with status %d, not yet reaped by its parent %d\n",
				       mem->pid, (es >> 8) & 0xff, mem->ppid);
			continue;
		}
		struct zap_img proc;
		if (zap_image_open_member(dir, mem, &proc, path, sizeof(path)) < 0) {
			rc = ZAP_EXIT_BAD_IMAGE;
			break;
		}
		for (uint32_t r = 0; verify && r < proc.nruns; r++)
			if (zap_img_check_run(&proc, &proc.runs[r], err, sizeof(err)) < 0) {
				zap_err("%s", err);
				rc = ZAP_EXIT_BAD_IMAGE;
				break;
			}
		if (json) {
			if (m)
				putchar(',');
			print_proc_json(&pod, mem, &proc, stacks);
		} else {
			print_proc_text(&pod, mem, &proc, stacks);
		}
		zap_image_free(&proc);
		if (rc)
			break;
	}
	if (json)
		printf("]}\n");
	else if (verify && !rc)
		printf("all pages match their checksums\n");
	zap_image_free(&pod);
	return rc;
}
