/* Memory: which regions a process has, which of their pages to store, and
 * how to bring them back.
 *
 * Capture reads /proc/self/smaps for the regions and their flags, and asks
 * PAGEMAP_SCAN (falling back to /proc/self/pagemap) which pages exist.
 * Pages never touched are not stored; pages of a private file mapping that
 * were never written still come from the file and are not stored either;
 * shared file mappings are mapped again from their file.  Restore maps each
 * region at its address and reads its stored pages into place. */
#include "dump.h"
#include "restore.h"
#include "stream.h"
#include "sys.h"
#include "thread.h"
#include "util.h"
#include "vtab.h"

#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

#ifndef SHM_DEST
#define SHM_DEST 01000
#endif
#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* PAGEMAP_SCAN (Linux 6.7); Debian's headers are older. */
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PFNZERO (1 << 5)
struct zap_page_region {
	uint64_t start, end, categories;
};
struct zap_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
		category_mask, category_anyof_mask, return_mask;
};
#define ZAP_PAGEMAP_SCAN 0xc0606610ul /* _IOWR('f', 16, struct pm_scan_arg) */

/* What to store of a region. */
enum store_mode {
	STORE_NONE,      /* shared file mapping: the file has it */
	STORE_ANON,      /* private: pages that are anonymous now */
	STORE_PRESENT,   /* shared memory without a file: every page that exists */
	STORE_ALL,       /* its file is gone: every page */
};

long zap_stat(const char *path, struct zap_kstat *st) { return zsys4(SYS_newfstatat, ZAT_FDCWD, path, st, 0); }
long zap_fstat(int fd, struct zap_kstat *st) { return zsys2(SYS_fstat, fd, st); }

/* ---- capture ---- */

/* Cuts our own memory (scratch, the leader's stack) out of [*start, *end).
 * The kernel may have merged it with a neighbour of the program's, so a
 * VMA can lose a piece at either end or in the middle: the part after a
 * middle hole goes to rest.  Returns 0 when nothing is left. */
static int trim_excluded(const struct zap_dump *d, uint64_t *start, uint64_t *end,
			 uint64_t rest[2])
{
	rest[0] = rest[1] = 0;
	for (uint32_t i = 0; i < d->nexclude; i++) {
		uint64_t lo = d->exclude[i][0], hi = d->exclude[i][1];
		if (hi <= *start || lo >= *end)
			continue;
		if (lo > *start && hi < *end) { /* a hole in the middle */
			rest[0] = hi;
			rest[1] = *end;
			*end = lo;
		} else if (lo <= *start) {
			*start = hi < *end ? hi : *end;
		} else {
			*end = lo;
		}
	}
	return *start < *end;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !memcmp(s + a - b, suffix, b);
}

/* Shared memory with no file of its own: anonymous shared mappings, SysV
 * segments and memfds, which smaps shows as deleted files. */
static int is_shmem_name(const char *path)
{
	return zap_startswith(path, "/dev/zero") || zap_startswith(path, "/SYSV") ||
	       zap_startswith(path, "/memfd:");
}

static struct zap_img_run *new_run(struct zap_dump *d)
{
	if (d->nruns == d->runs_cap)
		return NULL;
	return &d->runs[d->nruns++];
}

/* Adds [start, end) to the runs of the region being built, merging with the
 * previous run when they touch. */
static int add_run(struct zap_dump *d, struct zap_img_region *reg, uint64_t start, uint64_t end)
{
	if (reg->nruns) {
		struct zap_img_run *last = &d->runs[d->nruns - 1];
		if (last->addr + last->npages * ZAP_PAGE == start) {
			last->npages += (end - start) / ZAP_PAGE;
			return 0;
		}
	}
	struct zap_img_run *run = new_run(d);
	if (!run)
		return zap_dump_error(d, "too many page runs (more than %u)", d->runs_cap);
	run->addr = start;
	run->npages = (end - start) / ZAP_PAGE;
	reg->nruns++;
	return 0;
}

static int keep_page(enum store_mode mode, uint64_t cat)
{
	if (cat & PAGE_IS_PFNZERO)
		return 0;
	if (mode == STORE_ANON)
		return !(cat & PAGE_IS_FILE);
	return 1;
}

static int scan_with_pagemap_scan(struct zap_dump *d, int pm, struct zap_img_region *reg,
				  enum store_mode mode)
{
	enum { VEC = 1024 };
	struct zap_page_region vec[VEC];
	struct zap_pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = reg->start,
		.end = reg->end,
		.vec = (uint64_t)vec,
		.vec_len = VEC,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_PFNZERO,
	};
	/* walk_end can stop short of end even when vec is not full: loop */
	while (arg.start < reg->end) {
		long n = zsys3(SYS_ioctl, pm, ZAP_PAGEMAP_SCAN, &arg);
		if (n < 0)
			return (int)n;
		for (long i = 0; i < n; i++)
			if (keep_page(mode, vec[i].categories) &&
			    add_run(d, reg, vec[i].start, vec[i].end) < 0)
				return -1000;
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	return 0;
}

/* The same answer from /proc/self/pagemap, 8 bytes per page, for kernels
 * without PAGEMAP_SCAN. */
static int scan_with_pagemap(struct zap_dump *d, int pm, struct zap_img_region *reg,
			     enum store_mode mode)
{
	uint64_t ent[512];
	for (uint64_t a = reg->start; a < reg->end;) {
		uint64_t n = (reg->end - a) / ZAP_PAGE;
		if (n > 512)
			n = 512;
		if (z_pread_all(pm, ent, n * 8, a / ZAP_PAGE * 8) < 0)
			return zap_dump_error(d, "cannot read /proc/self/pagemap");
		for (uint64_t i = 0; i < n; i++, a += ZAP_PAGE) {
			uint64_t cat = 0;
			if (ent[i] >> 63 & 1)
				cat |= PAGE_IS_PRESENT;
			if (ent[i] >> 62 & 1)
				cat |= PAGE_IS_SWAPPED;
			if (ent[i] >> 61 & 1)
				cat |= PAGE_IS_FILE;
			if ((cat & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) && keep_page(mode, cat) &&
			    add_run(d, reg, a, a + ZAP_PAGE) < 0)
				return -1;
		}
	}
	return 0;
}

static int scan_pages(struct zap_dump *d, int pm, int *use_scan, struct zap_img_region *reg,
		      enum store_mode mode)
{
	reg->first_run = d->nruns;
	reg->nruns = 0;
	if (mode == STORE_NONE)
		return 0;
	if (mode == STORE_ALL)
		return add_run(d, reg, reg->start, reg->end);
	if (*use_scan) {
		int r = scan_with_pagemap_scan(d, pm, reg, mode);
		if (r == 0 || r == -1000)
			return r ? -1 : 0;
		*use_scan = 0; /* ENOTTY/EINVAL: an older kernel */
		d->nruns = reg->first_run;
		reg->nruns = 0;
	}
	return scan_with_pagemap(d, pm, reg, mode);
}

/* Parses "start-end perms offset maj:min inode   path". */
static int parse_vma_header(const char *line, struct zap_img_region *reg, uint64_t *ino,
			    const char **path)
{
	const char *p = line;
	reg->start = zap_parse_hex(&p);
	if (*p++ != '-')
		return -1;
	reg->end = zap_parse_hex(&p);
	if (*p++ != ' ' || strlen(p) < 5)
		return -1;
	reg->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
		    (p[2] == 'x' ? PROT_EXEC : 0);
	reg->flags = p[3] == 's' ? ZAP_REG_SHARED : 0;
	p += 5;
	reg->pgoff = zap_parse_hex(&p);
	p++;
	zap_parse_hex(&p); /* major */
	p++;
	zap_parse_hex(&p); /* minor */
	p++;
	*ino = zap_parse_dec(&p);
	while (*p == ' ')
		p++;
	*path = p;
	return 0;
}

static void parse_vmflags(const char *p, struct zap_img_region *reg, int *unsupported)
{
	while (*p) {
		while (*p == ' ')
			p++;
		if (!p[0] || !p[1])
			break;
		char a = p[0], b = p[1];
		if (a == 'g' && b == 'd')
			reg->flags |= ZAP_REG_GROWSDOWN;
		else if (a == 'h' && b == 'g')
			reg->flags |= ZAP_REG_HUGEPAGE;
		else if (a == 'n' && b == 'h')
			reg->flags |= ZAP_REG_NOHUGEPAGE;
		else if (a == 'd' && b == 'c')
			reg->flags |= ZAP_REG_DONTFORK;
		else if (a == 'l' && b == 'o')
			reg->flags |= ZAP_REG_LOCKED;
		else if ((a == 'i' && b == 'o') || (a == 'p' && b == 'f'))
			*unsupported = 1; /* device memory: not ours to copy */
		p += 2;
	}
}

/* A SysV segment (smaps names it "/SYSV<key> (deleted)", its inode is the
 * shm id) whose contents the coordinator saves in sysv.img: recorded with
 * the id the program knows, no pages. */
static int classify_sysv(struct zap_dump *d, struct zap_img_region *reg, const char *name,
			 uint64_t ino)
{
	int32_t v = d->vtab ? zap_vtab_ipc_vid(d->vtab, ZAP_IPC_SHM, (int32_t)ino) : -1;
	struct shmid_ds ds;
	reg->flags |= ZAP_REG_SYSV;
	reg->sysv_id = v < 0 ? (int32_t)ino : v;
	if (zsys3(SYS_shmctl, ino, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST))
		reg->flags |= ZAP_REG_SYSV_DEST;
	reg->path_str = zap_dump_string(d, name);
	return STORE_NONE;
}

/* Decides what a region is, from its name; returns the store mode or -1 to
 * leave the region out. */
static int classify(struct zap_dump *d, struct zap_img_region *reg, const char *path, uint64_t ino)
{
	if (!strcmp(path, "[vvar]") || !strcmp(path, "[vvar_vclock]") || !strcmp(path, "[vdso]")) {
		struct zap_img_proc *p = &d->proc;
		if (!p->vdso_block_start || reg->start < p->vdso_block_start)
			p->vdso_block_start = reg->start;
		if (reg->end > p->vdso_block_end)
			p->vdso_block_end = reg->end;
		if (!strcmp(path, "[vdso]"))
			p->vdso_start = reg->start;
		return -1;
	}
	if (!strcmp(path, "[vsyscall]") || !strcmp(path, "[uprobes]"))
		return -1;
	int shared = reg->flags & ZAP_REG_SHARED;
	if (path[0] != '/') { /* anonymous, [heap], [stack], [anon:name] */
		if (!strcmp(path, "[heap]"))
			reg->flags |= ZAP_REG_HEAP;
		else if (!strcmp(path, "[stack]"))
			reg->flags |= ZAP_REG_STACK;
		if (shared)
			reg->shm_ino = ino;
		return shared ? STORE_PRESENT : STORE_ANON;
	}
	char name[4096];
	size_t n = strlen(path);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, path, n);
	name[n] = 0;
	int deleted = ends_with(name, " (deleted)");
	if (deleted)
		name[n - 10] = 0;
	if (shared && deleted && zap_startswith(name, "/SYSV") && d->sysv_external)
		return classify_sysv(d, reg, name, ino);
	if (shared && is_shmem_name(name)) {
		reg->shm_ino = ino; /* a pod joins other members' mappings of it */
		return STORE_PRESENT;
	}
	struct zap_kstat st;
	if (!deleted && (zap_stat(name, &st) < 0 || st.ino != ino))
		deleted = 1; /* replaced since it was mapped: keep the bytes we have */
	/* zap's own library is stored whole: rebuilding or upgrading zap must
	 * not make every image refer to a file that changed */
	if (d->own_lib && !strcmp(name, d->own_lib))
		deleted = 1;
	reg->path_str = zap_dump_string(d, name);
	if (deleted) {
		reg->flags |= ZAP_REG_DELETED;
		return STORE_ALL;
	}
	reg->flags |= ZAP_REG_FILE;
	reg->file_size = (uint64_t)st.size;
	reg->mtime_sec = (int64_t)st.mtime;
	reg->mtime_nsec = (int64_t)st.mtime_nsec;
	return shared ? STORE_NONE : STORE_ANON;
}

int zap_mem_collect(struct zap_dump *d)
{
	struct zap_lines *l = zap_scratch_alloc(&d->scratch, sizeof(*l));
	if (!l)
		return zap_dump_error(d, "out of scratch memory");
	if (zap_lines_open(l, "/proc/self/smaps") < 0)
		return zap_dump_error(d, "cannot read /proc/self/smaps");
	long pm = z_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	if (pm < 0) {
		zap_lines_close(l);
		return zap_dump_error(d, "cannot open /proc/self/pagemap");
	}
	int use_scan = 1, rc = 0;
	/* the pieces of the current VMA we keep (more than one when our own
	 * memory sits inside it), finished when its VmFlags line comes */
	uint32_t first = 0, npieces = 0;
	enum store_mode mode = STORE_NONE;
	char *line;
	while ((line = zap_lines_next(l)) && rc == 0) {
		if (zap_startswith(line, "VmFlags:")) {
			int unsupported = 0;
			for (uint32_t k = 0; k < npieces; k++)
				parse_vmflags(line + 8, &d->regions[first + k], &unsupported);
			if (unsupported) { /* device memory is left out */
				d->nregions = first;
				npieces = 0;
			}
			for (uint32_t k = 0; k < npieces && rc == 0; k++)
				if (scan_pages(d, (int)pm, &use_scan, &d->regions[first + k], mode) < 0)
					rc = -1;
			npieces = 0;
			continue;
		}
		/* attribute lines start with a capital letter; VMA lines with a hex digit */
		char c = line[0];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			continue;
		struct zap_img_region tmp;
		memset(&tmp, 0, sizeof(tmp));
		uint64_t ino;
		const char *path;
		npieces = 0;
		if (parse_vma_header(line, &tmp, &ino, &path) < 0)
			continue;
		uint64_t vma_start = tmp.start, rest[2];
		if (!trim_excluded(d, &tmp.start, &tmp.end, rest))
			continue;
		int m = classify(d, &tmp, path, ino);
		if (m < 0)
			continue;
		if (d->nregions + 2 > d->regions_cap) {
			rc = zap_dump_error(d, "too many memory regions (more than %u)", d->regions_cap);
			break;
		}
		/* a trimmed piece of a file mapping starts further into the file */
		tmp.pgoff += tmp.start - vma_start;
		mode = (enum store_mode)m;
		first = d->nregions;
		d->regions[d->nregions++] = tmp;
		npieces = 1;
		if (rest[1]) {
			struct zap_img_region *r2 = &d->regions[d->nregions++];
			*r2 = tmp;
			r2->pgoff += rest[0] - tmp.start;
			r2->start = rest[0];
			r2->end = rest[1];
			npieces = 2;
		}
	}
	z_close((int)pm);
	zap_lines_close(l);
	for (uint32_t i = 0; i < d->nruns; i++)
		d->stats.pages_stored += d->runs[i].npages;
	d->stats.regions = d->nregions;
	d->stats.runs = d->nruns;
	return rc;
}

/* The checksums of the runs, computed by a second thread while the leader
 * writes: on two cores a checkpoint then takes as long as the kernel's copy
 * into the image, not that plus a pass over the memory (design-notes,
 * "checkpoint speed").  Every other thread of the process is parked in the
 * kernel and the leader touches only memory left out of the image, so
 * private memory holds still.  Shared memory may not (another process can
 * write it): its runs are copied through a buffer and summed there. */
struct sum_job {
	const struct zap_dump *d;
	int tid; /* the kernel clears it when the thread exits */
};

static int bounced(const struct zap_img_region *reg) { return reg->flags & ZAP_REG_SHARED; }

static void sum_runs(void *arg)
{
	struct sum_job *job = arg;
	const struct zap_dump *d = job->d;
	for (uint32_t i = 0; i < d->nregions; i++) {
		const struct zap_img_region *reg = &d->regions[i];
		for (uint32_t k = 0; k < reg->nruns && !bounced(reg); k++) {
			struct zap_img_run *run = &d->runs[reg->first_run + k];
			run->sum = zap_sum_pages((const void *)run->addr, run->npages * ZAP_PAGE, run->addr);
		}
	}
}

static int sum_start(struct zap_dump *d, struct sum_job *job)
{
	enum { STACK = 64 << 10 };
	uint64_t stored = 0;
	for (uint32_t i = 0; i < d->nruns; i++)
		stored += d->runs[i].npages;
	char *stack = stored >= 256 ? zap_scratch_alloc(&d->scratch, STACK) : NULL;
	if (!stack) /* small: not worth a thread */
		return 0;
	job->d = d;
	unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			      CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	return zap_clone_thread(flags, stack + STACK, sum_runs, job, &job->tid) > 0;
}

static void sum_wait(struct sum_job *job)
{
	int tid;
	while ((tid = __atomic_load_n(&job->tid, __ATOMIC_ACQUIRE)) != 0)
		z_futex(&job->tid, Z_FUTEX_WAIT, tid, 0);
}

/* Regions the program cannot read (PROT_NONE with pages in them) are made
 * readable for the copy, and put back. */
static int set_readable(struct zap_dump *d, int readable)
{
	for (uint32_t i = 0; i < d->nregions; i++) {
		struct zap_img_region *reg = &d->regions[i];
		if (!reg->nruns || (reg->prot & PROT_READ))
			continue;
		long e = z_mprotect(reg->start, reg->end - reg->start, readable ? PROT_READ : (int)reg->prot);
		if (e < 0 && readable)
			return zap_dump_error(d, "cannot read region %lx-%lx: %s", (unsigned long)reg->start,
					      (unsigned long)reg->end, zap_strerror(e));
	}
	return 0;
}

enum { WRITE_CHUNK = 1 << 20 };

/* One run: its pages go to *cursor; summed here unless the helper does. */
static int write_run(struct zap_dump *d, const struct zap_img_region *reg, struct zap_img_run *run,
		     uint64_t *cursor, int helper, char *bounce)
{
	uint64_t len = run->npages * ZAP_PAGE, sum = run->addr;
	run->data_off = *cursor;
	for (uint64_t done = 0; done < len; done += WRITE_CHUNK) {
		uint64_t n = len - done < WRITE_CHUNK ? len - done : WRITE_CHUNK;
		const char *src = (const char *)(run->addr + done);
		if (bounced(reg)) { /* a stable copy, so that sum and bytes agree */
			memcpy(bounce, src, n);
			src = bounce;
		}
		if (!helper || bounced(reg)) /* summed just before the copy, in cache */
			sum = zap_sum_pages(src, n, sum);
		long r = z_pwrite_all(d->img_fd, src, n, *cursor + done);
		if (r < 0)
			return zap_dump_error(d, "writing pages at %lx: %s", (unsigned long)run->addr,
					      zap_strerror(r));
	}
	if (!helper || bounced(reg))
		run->sum = sum;
	*cursor += len;
	d->stats.bytes_written += len;
	return 0;
}

/* Writes every run's pages, page aligned, from *cursor on, in the order of
 * the runs. */
int zap_mem_write_pages(struct zap_dump *d, uint64_t *cursor)
{
	char *bounce = zap_scratch_alloc(&d->scratch, WRITE_CHUNK);
	if (!bounce)
		return zap_dump_error(d, "out of scratch memory");
	if (set_readable(d, 1) < 0) {
		set_readable(d, 0);
		return -1;
	}
	struct sum_job job = {0};
	int helper = sum_start(d, &job);
	int rc = 0;
	for (uint32_t i = 0; i < d->nregions && rc == 0; i++) {
		const struct zap_img_region *reg = &d->regions[i];
		for (uint32_t k = 0; k < reg->nruns && rc == 0; k++)
			rc = write_run(d, reg, &d->runs[reg->first_run + k], cursor, helper, bounce);
	}
	if (helper)
		sum_wait(&job);
	set_readable(d, 0);
	return rc;
}

/* ---- restore ---- */

int zap_mem_check_arena(struct zap_restore *r)
{
	const struct zap_img *img = r->img;
	for (uint32_t i = 0; i < img->nregions; i++) {
		const struct zap_img_region *reg = &img->regions[i];
		if (reg->start < ZAP_ARENA_END && reg->end > ZAP_ARENA_START)
			return zap_restore_error(
				r, "%s: region %lx-%lx lies in the range the restorer uses (%lx-%lx)",
				img->path, (unsigned long)reg->start, (unsigned long)reg->end,
				(unsigned long)ZAP_ARENA_START, (unsigned long)ZAP_ARENA_END);
	}
	const struct zap_img_proc *p = img->proc;
	if (p->vdso_block_start < ZAP_ARENA_END && p->vdso_block_end > ZAP_ARENA_START)
		return zap_restore_error(r, "%s: the vDSO lies in the restorer's range", img->path);
	return 0;
}

/* The files that private and shared file mappings come from must be the
 * ones the image saw: same size and modification time. */
int zap_mem_check_files(struct zap_restore *r)
{
	const struct zap_img *img = r->img;
	for (uint32_t i = 0; i < img->nregions; i++) {
		const struct zap_img_region *reg = &img->regions[i];
		if (!(reg->flags & ZAP_REG_FILE))
			continue;
		const char *path = zap_img_str(img, reg->path_str);
		struct zap_kstat st;
		long e = zap_stat(path, &st);
		if (e < 0)
			return zap_restore_error(r, "%s: the program mapped %s, which is gone now (%s)",
						 img->path, path, zap_strerror(e));
		if ((uint64_t)st.size != reg->file_size || (int64_t)st.mtime != reg->mtime_sec ||
		    (int64_t)st.mtime_nsec != reg->mtime_nsec)
			return zap_restore_error(
				r, "%s: %s changed since the checkpoint (size %lu, now %lu; modified at %ld, now %ld)",
				img->path, path, (unsigned long)reg->file_size, (unsigned long)st.size,
				(long)reg->mtime_sec, (long)st.mtime);
	}
	return 0;
}

/* The segment's size as the kernel maps it, or -errno. */
static long shm_len(int32_t id)
{
	struct shmid_ds ds;
	long e = zsys3(SYS_shmctl, id, IPC_STAT, &ds);
	return e < 0 ? e : (long)ZAP_PAGE_UP(ds.shm_segsz);
}

int zap_mem_check_sysv(struct zap_restore *r, const char *vtab_path)
{
	const struct zap_img *img = r->img;
	struct zap_vtab *vt = 0;
	int rc = 0;
	r->nshm = 0;
	for (uint32_t i = 0; i < img->nregions && rc == 0; i++) {
		const struct zap_img_region *reg = &img->regions[i];
		if (!(reg->flags & ZAP_REG_SYSV))
			continue;
		long err;
		if (!vt && vtab_path && vtab_path[0])
			vt = zap_vtab_map(vtab_path, 0, &err);
		int32_t real = vt ? zap_vtab_ipc_real(vt, ZAP_IPC_SHM, reg->sysv_id) : -1;
		if (real < 0)
			real = reg->sysv_id; /* not recreated: the same segment, if it still exists */
		long len = shm_len(real);
		if (r->nshm == ZAP_RESTORE_MAX_SHM)
			rc = zap_restore_error(r, "%s: more than %u SysV segment mappings", img->path,
					       ZAP_RESTORE_MAX_SHM);
		else if (len < 0)
			rc = zap_restore_error(
				r, "%s: the SysV segment %d mapped at %lx is gone (%s); was the pod's sysv.img restored?",
				img->path, (int)reg->sysv_id, (unsigned long)reg->start, zap_strerror(len));
		else if (reg->pgoff > (uint64_t)len || reg->end - reg->start > (uint64_t)len - reg->pgoff)
			rc = zap_restore_error(r, "%s: the SysV segment %d is %lu bytes now, too small for %lx-%lx",
					       img->path, (int)reg->sysv_id, (unsigned long)len,
					       (unsigned long)reg->start, (unsigned long)reg->end);
		else
			r->shm[r->nshm++] = (struct zap_restore_shm){i, real, (uint64_t)len};
	}
	zap_vtab_unmap(vt);
	return rc;
}

/* The vDSO block ([vvar], [vvar_vclock], [vdso]) must end up exactly where
 * the image had it, because the program's libc cached its addresses.  We
 * move ours into the arena first so nothing of the image lands on it. */
static int find_vdso_block(uint64_t *start, uint64_t *end, uint64_t *vdso)
{
	struct zap_lines l;
	*start = *end = *vdso = 0;
	if (zap_lines_open(&l, "/proc/self/maps") < 0)
		return -1;
	char *line;
	while ((line = zap_lines_next(&l))) {
		struct zap_img_region reg;
		uint64_t ino;
		const char *path;
		if (parse_vma_header(line, &reg, &ino, &path) < 0)
			continue;
		if (strcmp(path, "[vvar]") && strcmp(path, "[vvar_vclock]") && strcmp(path, "[vdso]"))
			continue;
		if (!*start || reg.start < *start)
			*start = reg.start;
		if (reg.end > *end)
			*end = reg.end;
		if (!strcmp(path, "[vdso]"))
			*vdso = reg.start;
	}
	zap_lines_close(&l);
	return *start ? 0 : -1;
}

int zap_mem_check_vdso(struct zap_restore *r)
{
	const struct zap_img_proc *p = r->img->proc;
	uint64_t start, end, vdso;
	if (find_vdso_block(&start, &end, &vdso) < 0)
		return zap_restore_error(r, "cannot find this process's vDSO in /proc/self/maps");
	if (end - start != p->vdso_block_end - p->vdso_block_start ||
	    vdso - start != p->vdso_start - p->vdso_block_start) {
		r->exit_code = 4; /* ZAP_EXIT_BAD_IMAGE: from another kernel */
		return zap_restore_error(
			r, "%s: this kernel's vDSO block is %lu bytes with the vDSO at +%lu, the image's is %lu bytes with the vDSO at +%lu; the image must be restarted on a kernel of the same build",
			r->img->path, (unsigned long)(end - start), (unsigned long)(vdso - start),
			(unsigned long)(p->vdso_block_end - p->vdso_block_start),
			(unsigned long)(p->vdso_start - p->vdso_block_start));
	}
	return 0;
}

/* Moves each VMA inside [from, from + len) to the same offset from `to`,
 * one mremap per VMA (the block is several VMAs: vvar, vvar_vclock, vdso). */
static int move_block(struct zap_restore *r, uint64_t from, uint64_t len, uint64_t to)
{
	struct zap_lines l;
	if (zap_lines_open(&l, "/proc/self/maps") < 0)
		return zap_restore_error(r, "cannot read /proc/self/maps");
	uint64_t moves[8][2];
	int n = 0;
	char *line;
	while ((line = zap_lines_next(&l)) && n < 8) {
		struct zap_img_region reg;
		uint64_t ino;
		const char *path;
		if (parse_vma_header(line, &reg, &ino, &path) == 0 && reg.start >= from &&
		    reg.end <= from + len)
			moves[n][0] = reg.start, moves[n++][1] = reg.end;
	}
	zap_lines_close(&l);
	for (int i = 0; i < n; i++) {
		uint64_t vlen = moves[i][1] - moves[i][0], dst = to + (moves[i][0] - from);
		long e = zsys5(SYS_mremap, moves[i][0], vlen, vlen, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		if (e < 0 && e > -4096)
			return zap_restore_error(r, "cannot move the vDSO to %lx (%s)", (unsigned long)dst,
						 zap_strerror(e));
	}
	return 0;
}

int zap_mem_park_vdso(struct zap_restore *r)
{
	uint64_t start, end, vdso;
	if (find_vdso_block(&start, &end, &vdso) < 0)
		return zap_restore_error(r, "cannot find this process's vDSO in /proc/self/maps");
	r->vdso_tmp = ZAP_ARENA_END - 0x100000000ull;
	r->vdso_len = end - start;
	return move_block(r, start, end - start, r->vdso_tmp);
}

int zap_mem_place_vdso(struct zap_restore *r)
{
	return move_block(r, r->vdso_tmp, r->vdso_len, r->img->proc->vdso_block_start);
}

/* Unmaps everything outside the arena and the parked vDSO: the restorer's
 * stack, its auxv and environment, whatever the kernel put there. */
int zap_mem_unmap_all(struct zap_restore *r)
{
	for (int pass = 0; pass < 4; pass++) {
		struct zap_lines l;
		if (zap_lines_open(&l, "/proc/self/maps") < 0)
			return zap_restore_error(r, "cannot read /proc/self/maps");
		uint64_t todo[64][2];
		int n = 0;
		char *line;
		while ((line = zap_lines_next(&l)) && n < 64) {
			struct zap_img_region reg;
			uint64_t ino;
			const char *path;
			if (parse_vma_header(line, &reg, &ino, &path) < 0)
				continue;
			if (reg.start >= ZAP_ARENA_START && reg.end <= ZAP_ARENA_END)
				continue;
			if (!strcmp(path, "[vsyscall]"))
				continue;
			todo[n][0] = reg.start, todo[n++][1] = reg.end;
		}
		zap_lines_close(&l);
		if (!n)
			return 0;
		for (int i = 0; i < n; i++)
			z_munmap(todo[i][0], todo[i][1] - todo[i][0]);
	}
	return zap_restore_error(r, "cannot clear the address space");
}

static int open_region_file(struct zap_restore *r, const struct zap_img_region *reg)
{
	const char *path = zap_img_str(r->img, reg->path_str);
	int shared_w = (reg->flags & ZAP_REG_SHARED) && (reg->prot & PROT_WRITE);
	long fd = z_open(path, (shared_w ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	if (fd < 0)
		return zap_restore_error(r, "cannot open %s (%s)", path, zap_strerror(fd));
	return (int)fd;
}

/* Reads one run into place and checks it.  A piece at a time, so that the
 * checksum reads what pread just wrote while it is still in cache. */
static int fill_run(struct zap_restore *r, const struct zap_img_run *run)
{
	enum { CHUNK = 2 << 20 };
	const struct zap_img *img = r->img;
	uint64_t len = run->npages * ZAP_PAGE, sum = run->addr;
	/* fault the pages in the kernel, all at once, before copying */
	zsys3(SYS_madvise, run->addr, len, MADV_POPULATE_WRITE);
	for (uint64_t done = 0; done < len; done += CHUNK) {
		uint64_t n = len - done < CHUNK ? len - done : CHUNK;
		char *dst = (char *)(run->addr + done);
		long e = zap_stream_wait(r->stream, r->stream_file, run->data_off + done + n);
		if (e < 0)
			return zap_restore_error(r, "%s: the pages at %lx did not arrive: %s", img->path,
						 (unsigned long)run->addr, zap_stream_strerror(e));
		e = z_pread_all(r->img_fd, dst, n, run->data_off + done);
		if (e < 0)
			return zap_restore_error(r, "%s: cannot read the pages at %lx (%s)",
						 img->path, (unsigned long)run->addr, zap_strerror(e));
		sum = zap_sum_pages(dst, n, sum);
	}
	if (sum != run->sum) {
		r->exit_code = 4; /* ZAP_EXIT_BAD_IMAGE */
		return zap_restore_error(r, "%s: section PAGES: checksum mismatch in the pages at %lx (%lu pages)",
					 img->path, (unsigned long)run->addr, (unsigned long)run->npages);
	}
	return 0;
}

/* Large, densely stored anonymous regions are filled through huge pages:
 * on this kind of host every 4 KiB page costs a shadow page-table fill the
 * first time user code touches it, a 2 MiB page costs one
 * (docs/design-notes.md, "restore speed").  The region keeps MADV_HUGEPAGE. */
static int wants_hugepages(const struct zap_img *img, const struct zap_img_region *reg)
{
	if ((reg->flags & (ZAP_REG_FILE | ZAP_REG_SHARED | ZAP_REG_NOHUGEPAGE)) ||
	    reg->end - reg->start < (8u << 20))
		return 0;
	uint64_t stored = 0;
	for (uint32_t k = 0; k < reg->nruns; k++)
		stored += img->runs[reg->first_run + k].npages * ZAP_PAGE;
	return stored >= (8u << 20) && stored * 2 >= reg->end - reg->start;
}

static int fill_runs(struct zap_restore *r, const struct zap_img_region *reg)
{
	if (wants_hugepages(r->img, reg))
		zsys3(SYS_madvise, reg->start, reg->end - reg->start, MADV_HUGEPAGE);
	for (uint32_t k = 0; k < reg->nruns; k++)
		if (fill_run(r, &r->img->runs[reg->first_run + k]) < 0)
			return -1;
	return 0;
}

/* madvise and mlock as the region had them. */
static void restore_advice(const struct zap_img_region *reg)
{
	uint64_t len = reg->end - reg->start;
	if (reg->flags & ZAP_REG_HUGEPAGE)
		zsys3(SYS_madvise, reg->start, len, MADV_HUGEPAGE);
	if (reg->flags & ZAP_REG_NOHUGEPAGE)
		zsys3(SYS_madvise, reg->start, len, MADV_NOHUGEPAGE);
	if (reg->flags & ZAP_REG_DONTFORK)
		zsys3(SYS_madvise, reg->start, len, MADV_DONTFORK);
	if (reg->flags & ZAP_REG_LOCKED)
		zsys2(SYS_mlock, reg->start, len); /* best effort: RLIMIT_MEMLOCK may say no */
}

/* Whether region j continues the attachment that region i starts. */
static int same_attach(const struct zap_img *img, uint32_t i, uint32_t j)
{
	const struct zap_img_region *a = &img->regions[i], *b = &img->regions[j];
	return (b->flags & ZAP_REG_SYSV) && b->sysv_id == a->sysv_id && b->start == img->regions[j - 1].end &&
	       b->pgoff == a->pgoff + (b->start - a->start);
}

/* Attaches a SysV segment again (ZAP_REG_SYSV): at the region's address
 * when the region starts at the segment's start, with the regions that
 * follow it in the same attachment (mprotect splits one into several);
 * a piece from further in is attached anywhere and moved into place.
 * Returns the index of the next region to restore, or -1. */
static long restore_shm(struct zap_restore *r, uint32_t i)
{
	const struct zap_img *img = r->img;
	const struct zap_img_region *reg = &img->regions[i];
	const struct zap_restore_shm *s = 0;
	for (uint32_t k = 0; k < r->nshm; k++)
		if (r->shm[k].region == i)
			s = &r->shm[k];
	if (!s)
		return zap_restore_error(r, "SysV segment at %lx: not looked up", (unsigned long)reg->start);
	uint32_t last = i;
	uint32_t prot = reg->prot;
	while (reg->pgoff == 0 && last + 1 < img->nregions && same_attach(img, i, last + 1))
		prot |= img->regions[++last].prot;
	uint64_t len = img->regions[last].end - reg->start;
	int flags = (prot & PROT_WRITE ? 0 : SHM_RDONLY) | (prot & PROT_EXEC ? SHM_EXEC : 0);
	long a = zsys3(SYS_shmat, s->real, reg->pgoff ? 0 : reg->start, flags);
	if (a < 0 && a > -4096)
		return zap_restore_error(r, "cannot attach SysV segment %d at %lx (%s)", (int)s->real,
					 (unsigned long)reg->start, zap_strerror(a));
	if (reg->pgoff) {
		long m = zsys5(SYS_mremap, a + reg->pgoff, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			       reg->start);
		if (m < 0 && m > -4096)
			return zap_restore_error(r, "cannot move SysV segment %d to %lx (%s)", (int)s->real,
						 (unsigned long)reg->start, zap_strerror(m));
		z_munmap((uint64_t)a, reg->pgoff);
	}
	uint64_t tail = (uint64_t)a + reg->pgoff + len, seg_end = (uint64_t)a + s->seg_len;
	if (tail < seg_end) /* the rest of the segment was not mapped here */
		z_munmap(tail, seg_end - tail);
	int attached = PROT_READ | (prot & PROT_WRITE) | (prot & PROT_EXEC);
	for (uint32_t k = i; k <= last; k++) {
		const struct zap_img_region *p = &img->regions[k];
		if ((int)p->prot != attached)
			z_mprotect(p->start, p->end - p->start, (int)p->prot);
		restore_advice(p);
	}
	/* marked removed before: again, now that it is attached (it lives on
	 * while any process has it attached) */
	if (reg->flags & ZAP_REG_SYSV_DEST)
		zsys3(SYS_shmctl, s->real, IPC_RMID, 0);
	return last + 1;
}

/* The pod-wide object a region of ours maps (pod-mem.c), or -1. */
static int pod_shm_object(const struct zap_restore *r, uint32_t region)
{
	for (uint32_t i = 0; i < r->npod_shm; i++)
		if (r->pod_shm[i].pid == r->vpid && r->pod_shm[i].region == region &&
		    (int)r->pod_shm[i].object < r->nshm_obj)
			return (int)r->pod_shm[i].object;
	return -1;
}

static int restore_region(struct zap_restore *r, uint32_t index)
{
	const struct zap_img_region *reg = &r->img->regions[index];
	uint64_t len = reg->end - reg->start;
	int obj = pod_shm_object(r, index);
	int fill = reg->nruns > 0 && obj < 0; /* a pod object is filled already */
	int prot = fill ? PROT_READ | PROT_WRITE : (int)reg->prot;
	int flags = MAP_FIXED_NOREPLACE;
	int fd = -1;
	uint64_t off = 0;
	flags |= (reg->flags & ZAP_REG_SHARED) ? MAP_SHARED : MAP_PRIVATE;
	if (obj >= 0) { /* memory this member shares with others: theirs too */
		fd = (int)zsys3(SYS_fcntl, r->shared_base + r->nshared + obj, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return zap_restore_error(r, "the pod's shared memory %d is missing", obj);
		off = reg->pgoff;
	} else if (reg->flags & ZAP_REG_FILE) {
		fd = open_region_file(r, reg);
		if (fd < 0)
			return -1;
		off = reg->pgoff;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	if (reg->flags & ZAP_REG_GROWSDOWN)
		flags |= MAP_GROWSDOWN;
	long a = z_mmap(reg->start, len, prot, flags, fd, off);
	if (fd >= 0)
		z_close(fd);
	if (a < 0 && a > -4096)
		return zap_restore_error(r, "cannot map %lx-%lx (%s)", (unsigned long)reg->start,
					 (unsigned long)reg->end, zap_strerror(a));
	if ((uint64_t)a != reg->start)
		return zap_restore_error(r, "region %lx mapped at %lx instead", (unsigned long)reg->start,
					 (unsigned long)a);
	if (fill && fill_runs(r, reg) < 0)
		return -1;
	restore_advice(reg);
	if (fill && (int)reg->prot != prot) {
		long e = z_mprotect(reg->start, len, (int)reg->prot);
		if (e < 0)
			return zap_restore_error(r, "cannot protect %lx (%s)",
						 (unsigned long)reg->start, zap_strerror(e));
	}
	return 0;
}

int zap_mem_restore_regions(struct zap_restore *r)
{
	for (uint32_t i = 0; i < r->img->nregions;) {
		if (r->img->regions[i].flags & ZAP_REG_SYSV) {
			long next = restore_shm(r, i);
			if (next < 0)
				return -1;
			i = (uint32_t)next;
		} else if (restore_region(r, i++) < 0) {
			return -1;
		}
	}
	return 0;
}
