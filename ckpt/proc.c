/* Process-wide state: identity, cwd, umask, name, signal dispositions and
 * pending signals, interval timers, resource limits, and the mm fields
 * (brk, stack, argv/env, auxv) the kernel keeps for /proc and for brk(). */
#include "dump.h"
#include "restore.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#define Z_SIGKILL 9
#define Z_SIGSTOP 19

struct zk_sigaction {
	uint64_t handler, flags, restorer, mask;
};

/* "Name:\tvalue" fields of a /proc status file, as hex (SigPnd) or
 * octal (Umask). */
static uint64_t status_field(const char *text, const char *name, int base)
{
	size_t n = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, name, n) || p[n] != ':')
			continue;
		p += n + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (base == 16)
			return zap_parse_hex(&p);
		uint64_t v = 0;
		while (*p >= '0' && *p <= '7')
			v = v * 8 + (uint64_t)(*p++ - '0');
		return v;
	}
	return 0;
}

/* /proc/self/stat: fields 26-28 and 45-51 hold the mm addresses.  The
 * command name (field 2) may contain spaces and parentheses: count from
 * the last ')'. */
static void read_mm(struct zap_img_mm *mm)
{
	char buf[2048];
	if (zap_read_file("/proc/self/stat", buf, sizeof(buf)) <= 0)
		return;
	const char *p = strrchr(buf, ')');
	if (!p)
		return;
	p += 2; /* field 3 */
	uint64_t f[53] = {0};
	for (int i = 3; i <= 52 && *p; i++) {
		if (*p == '-')
			p++;
		const char *q = p;
		if (*p >= '0' && *p <= '9')
			f[i] = zap_parse_dec(&q);
		else
			while (*q && *q != ' ')
				q++;
		p = *q ? q + 1 : q;
	}
	mm->start_code = f[26];
	mm->end_code = f[27];
	mm->start_stack = f[28];
	mm->start_data = f[45];
	mm->end_data = f[46];
	mm->start_brk = f[47];
	mm->arg_start = f[48];
	mm->arg_end = f[49];
	mm->env_start = f[50];
	mm->env_end = f[51];
	mm->brk = (uint64_t)zsys1(SYS_brk, 0);
}

int zap_proc_collect(struct zap_dump *d)
{
	struct zap_img_proc *p = &d->proc;
	char buf[4096];
	p->pid = (int32_t)z_getpid();
	p->ppid = (int32_t)zsys0(SYS_getppid);
	p->signal = d->signal;
	p->nthreads = d->nthreads;
	p->restore_info = d->restore_info_addr;
	zsys2(SYS_prctl, PR_GET_NAME, p->comm);
	long n = z_readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
	if (n < 0)
		return zap_dump_error(d, "cannot read the working directory");
	buf[n] = 0;
	p->cwd_str = zap_dump_string(d, buf);
	n = z_readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	p->exe_str = zap_dump_string(d, buf);

	if (zap_read_file("/proc/self/status", buf, sizeof(buf)) > 0) {
		p->umask = (uint32_t)status_field(buf, "Umask", 8);
		p->pending_shared = status_field(buf, "ShdPnd", 16);
	}
	for (uint32_t i = 0; i < d->nthreads; i++) {
		char path[64];
		zap_fmt(path, sizeof(path), "/proc/self/task/%d/status", d->threads[i].tid);
		if (zap_read_file(path, buf, sizeof(buf)) > 0)
			d->threads[i].pending = status_field(buf, "SigPnd", 16);
	}
	/* the checkpoint signal that got us here is not the program's */
	uint64_t ours = 1ull << (d->signal - 1);
	p->pending_shared &= ~ours;
	for (uint32_t i = 0; i < d->nthreads; i++)
		d->threads[i].pending &= ~ours;

	for (int sig = 1; sig <= ZAP_NSIG; sig++) {
		struct zk_sigaction old;
		if (sig == Z_SIGKILL || sig == Z_SIGSTOP)
			continue;
		if (zsys4(SYS_rt_sigaction, sig, 0, &old, 8) == 0)
			memcpy(&p->sigactions[sig - 1], &old, sizeof(old));
	}
	for (int w = 0; w < 3; w++)
		zsys2(SYS_getitimer, w, &p->itimers[w]);
	for (int i = 0; i < ZAP_NRLIMIT; i++)
		zsys4(SYS_prlimit64, 0, i, 0, &p->rlimits[i]);
	read_mm(&p->mm);
	long fd = z_open("/proc/self/auxv", 0, 0);
	if (fd >= 0) {
		long got = z_read((int)fd, p->auxv, sizeof(p->auxv));
		z_close((int)fd);
		p->auxv_words = got > 0 ? (uint32_t)(got / 8) : 0;
	}
	return 0;
}

/* ---- restore ---- */

struct zk_prctl_mm_map {
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start,
		arg_end, env_start, env_end;
	uint64_t auxv;
	uint32_t auxv_size;
	uint32_t exe_fd;
};
#define Z_PR_SET_MM 35
#define Z_PR_SET_MM_MAP 14

int zap_proc_restore(struct zap_restore *r)
{
	const struct zap_img_proc *p = r->img->proc;
	const char *cwd = zap_img_str(r->img, p->cwd_str);
	long e = zsys1(SYS_chdir, cwd);
	if (e < 0)
		return zap_restore_error(r, "cannot enter the program's working directory %s (%s)",
					 cwd, zap_strerror(e));
	zsys1(SYS_umask, p->umask);
	zsys2(SYS_prctl, PR_SET_NAME, p->comm);
	for (int sig = 1; sig <= ZAP_NSIG; sig++) {
		if (sig == Z_SIGKILL || sig == Z_SIGSTOP)
			continue;
		struct zk_sigaction act;
		memcpy(&act, &p->sigactions[sig - 1], sizeof(act));
		zsys4(SYS_rt_sigaction, sig, &act, 0, 8);
	}
	for (int w = 0; w < 3; w++)
		zsys3(SYS_setitimer, w, &p->itimers[w], 0);
	/* limits: a hard limit above ours needs privilege; keep what we may */
	for (int i = 0; i < ZAP_NRLIMIT; i++)
		zsys4(SYS_prlimit64, 0, i, &p->rlimits[i], 0);
	/* brk, [stack], argv and auxv for /proc and brk().  The kernel allows it
	 * to any process (CONFIG_CHECKPOINT_RESTORE), but a seccomp filter or an
	 * older kernel may say no: then glibc's idea of the break is wrong, and
	 * the preload points it at the kernel's (ZAP_RESTORE_NO_MM). */
	struct zk_prctl_mm_map map = {
		.start_code = p->mm.start_code,
		.end_code = p->mm.end_code,
		.start_data = p->mm.start_data,
		.end_data = p->mm.end_data,
		.start_brk = p->mm.start_brk,
		.brk = p->mm.brk,
		.start_stack = p->mm.start_stack,
		.arg_start = p->mm.arg_start,
		.arg_end = p->mm.arg_end,
		.env_start = p->mm.env_start,
		.env_end = p->mm.env_end,
		.auxv = (uint64_t)p->auxv,
		.auxv_size = p->auxv_words * 8,
		.exe_fd = (uint32_t)-1,
	};
	if (!map.start_code || map.brk < map.start_brk ||
	    zsys5(SYS_prctl, Z_PR_SET_MM, Z_PR_SET_MM_MAP, &map, sizeof(map), 0) < 0)
		r->mm_refused = 1;
	/* pending signals stay pending: every thread blocks everything until
	 * the checkpoint handler returns into the program */
	for (int sig = 1; sig <= ZAP_NSIG; sig++)
		if (p->pending_shared >> (sig - 1) & 1)
			zsys2(SYS_kill, z_getpid(), sig);
	return 0;
}

/* After a restore, in the restored process: /proc/self/exe names the
 * program again instead of zap-restart.  PR_SET_MM_EXE_FILE would need
 * CAP_SYS_RESOURCE; PR_SET_MM_MAP with exe_fd needs only
 * CAP_CHECKPOINT_RESTORE, and the kernel refuses either while the old
 * executable is still mapped, so the restorer must be gone first. */
long zap_proc_set_exe(const char *exe)
{
	struct zap_img_mm mm;
	uint64_t auxv[ZAP_AUXV_WORDS];
	memset(&mm, 0, sizeof(mm));
	read_mm(&mm);
	long afd = z_open("/proc/self/auxv", 0, 0);
	long got = afd >= 0 ? z_read((int)afd, auxv, sizeof(auxv)) : -1;
	if (afd >= 0)
		z_close((int)afd);
	long fd = z_open(exe, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	struct zk_prctl_mm_map map = {
		.start_code = mm.start_code,
		.end_code = mm.end_code,
		.start_data = mm.start_data,
		.end_data = mm.end_data,
		.start_brk = mm.start_brk,
		.brk = mm.brk,
		.start_stack = mm.start_stack,
		.arg_start = mm.arg_start,
		.arg_end = mm.arg_end,
		.env_start = mm.env_start,
		.env_end = mm.env_end,
		.auxv = (uint64_t)auxv,
		.auxv_size = got > 0 ? (uint32_t)got : 0,
		.exe_fd = (uint32_t)fd,
	};
	long e = zsys5(SYS_prctl, Z_PR_SET_MM, Z_PR_SET_MM_MAP, &map, sizeof(map), 0);
	z_close((int)fd);
	return e;
}
