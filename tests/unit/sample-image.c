#include "sample-image.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends s to the sample's STRINGS and returns its offset. */
static uint32_t zt_add_string(struct zt_image *im, const char *s)
{
	uint32_t off = im->strings_len;
	size_t n = strlen(s) + 1;
	memcpy(im->strings + off, s, n);
	im->strings_len += (uint32_t)n;
	return off;
}

static void zt_sample_threads(struct zt_image *im)
{
	for (uint32_t i = 0; i < ZT_NTHREADS; i++) {
		struct zap_img_thread *t = &im->threads[i];
		uint64_t base = 0x7f1200000000ull + i * 0x100000ull;
		t->tid = 1000 + (int32_t)i;
		t->flags = i == 0 ? ZAP_THREAD_MAIN | ZAP_THREAD_LEADER : 0;
		t->fs_base = base + 0x700;
		t->ctx = (struct zap_img_ctx){base + 1, base + 2, base + 3,	 base + 4,
					      base + 5, base + 6, base + 0x8000, 0x401234 + i};
		t->sigmask = 1ull << 11;
		t->pending = i == 2 ? 1ull << 9 : 0;
		t->ss_sp = base + 0x10000;
		t->ss_size = 0x4000;
		t->ss_flags = 0;
		t->rseq_len = 32;
		t->rseq_addr = base + 0x9a0;
		t->rseq_sig = 0x53053053u;
		t->robust_head = base + 0x720;
		t->robust_len = 24;
		t->tid_addr = base + 0x2d0;
		t->ucontext = base + 0x7e00;
	}
	im->nthreads = ZT_NTHREADS;
}

/* Three regions: a file-backed text page, a heap with two runs, a stack. */
static void zt_sample_regions(struct zt_image *im, uint32_t exe)
{
	static const struct {
		uint64_t start, end;
		uint32_t prot, flags;
	} reg[ZT_NREGIONS] = {
		{0x400000, 0x403000, 5, ZAP_REG_FILE},
		{0x600000, 0x608000, 3, ZAP_REG_HEAP},
		{0x7ffd00000000ull, 0x7ffd00004000ull, 3, ZAP_REG_STACK | ZAP_REG_GROWSDOWN},
	};
	static const struct {
		uint64_t addr, npages;
	} run[ZT_NRUNS] = {
		{0x400000, 1},
		{0x600000, 2},
		{0x605000, 1},
		{0x7ffd00002000ull, 2},
	};
	static const uint32_t first_run[ZT_NREGIONS] = {0, 1, 3}, nruns[ZT_NREGIONS] = {1, 2, 1};
	for (uint32_t i = 0; i < ZT_NREGIONS; i++) {
		struct zap_img_region *r = &im->regions[i];
		r->start = reg[i].start;
		r->end = reg[i].end;
		r->prot = reg[i].prot;
		r->flags = reg[i].flags;
		r->first_run = first_run[i];
		r->nruns = nruns[i];
		if (reg[i].flags & ZAP_REG_FILE) {
			r->path_str = exe;
			r->file_size = 0x5123;
			r->mtime_sec = 1700000000;
			r->mtime_nsec = 123456789;
		}
	}
	for (uint32_t i = 0; i < ZT_NRUNS; i++) {
		im->runs[i].addr = run[i].addr;
		im->runs[i].npages = run[i].npages;
	}
	im->nregions = ZT_NREGIONS;
	im->nruns = ZT_NRUNS;
}

static void zt_sample_fds(struct zt_image *im, uint32_t log, uint32_t deleted, uint32_t tty)
{
	struct zap_img_fd *f = im->fds;
	f[0] = (struct zap_img_fd){.fd = 0,
				   .kind = ZAP_FD_INHERIT,
				   .open_flags = O_RDWR,
				   .dup_of = -1,
				   .path_str = tty,
				   .mode = 020620};
	f[1] = (struct zap_img_fd){.fd = 3,
				   .kind = ZAP_FD_REG,
				   .open_flags = O_WRONLY | O_APPEND,
				   .fd_flags = FD_CLOEXEC,
				   .dup_of = -1,
				   .pos = 123,
				   .path_str = log,
				   .mode = 0100644,
				   .file_size = 4567,
				   .mtime_sec = 1700000100,
				   .mtime_nsec = 5};
	f[ZT_FD_DELETED] = (struct zap_img_fd){.fd = 4,
					       .kind = ZAP_FD_DELETED,
					       .open_flags = O_RDWR,
					       .dup_of = -1,
					       .pos = 77,
					       .path_str = deleted,
					       .mode = 0100600,
					       .data_len = ZT_FILEDATA_LEN,
					       .file_size = ZT_FILEDATA_LEN};
	f[3] = f[1];
	f[3].fd = 5;
	f[3].dup_of = 3;
	im->nfds = ZT_NFDS;
}

static void zt_sample_proc(struct zt_image *im, uint32_t cwd, uint32_t exe)
{
	struct zap_img_proc *p = &im->proc;
	p->pid = 1000;
	p->ppid = 1;
	p->umask = 022;
	p->nthreads = ZT_NTHREADS;
	memcpy(p->comm, "prog", 5);
	p->cwd_str = cwd;
	p->exe_str = exe;
	p->restore_info = 0x7f1300001000ull;
	p->vdso_block_start = 0x7ffd10000000ull;
	p->vdso_block_end = 0x7ffd10006000ull;
	p->vdso_start = 0x7ffd10004000ull;
	p->pending_shared = 1ull << 13;
	p->mm = (struct zap_img_mm){0x400000,	       0x401000,	  0x600000,
				    0x601000,	       0x602000,	  0x608000,
				    0x7ffd00003f00ull, 0x7ffd00003f10ull, 0x7ffd00003f20ull,
				    0x7ffd00003f20ull, 0x7ffd00003f80ull};
	static const uint64_t auxv[] = {6, 4096, 25, 0x7ffd00003e00ull, 0, 0};
	memcpy(p->auxv, auxv, sizeof(auxv));
	p->auxv_words = sizeof(auxv) / sizeof(auxv[0]);
	p->signal = 12;
	p->sigactions[11] =
		(struct zap_img_sigaction){0x7f1300002000ull, 0x14000004, 0x7f1300003000ull, ~0ull};
	p->sigactions[1].handler = 1; /* SIG_IGN */
	p->itimers[0] = (struct zap_img_timer){1, 500000, 0, 250000};
	for (int i = 0; i < ZAP_NRLIMIT; i++)
		p->rlimits[i] = (struct zap_img_rlimit){1000u + (unsigned)i, ~0ull};
}

void zt_image_proc(struct zt_image *im)
{
	memset(im, 0, sizeof(*im));
	im->kind = ZAP_IMG_KIND_PROC;
	im->created_ns = 1700000123456789000ull;
	im->strings_len = 1; /* offset 0 is the empty string: "no string" */
	uint32_t cwd = zt_add_string(im, "/home/zap");
	uint32_t exe = zt_add_string(im, "/usr/bin/prog");
	uint32_t log = zt_add_string(im, "/var/log/prog.log");
	uint32_t deleted = zt_add_string(im, "/tmp/scratch (deleted)");
	uint32_t tty = zt_add_string(im, "/dev/pts/0");
	zt_sample_proc(im, cwd, exe);
	zt_sample_threads(im);
	zt_sample_regions(im, exe);
	zt_sample_fds(im, log, deleted, tty);
	/* page and file bytes that differ from page to page and from zero */
	for (size_t i = 0; i < sizeof(im->pages); i++)
		im->pages[i] = (unsigned char)(i * 131 + i / ZAP_IMG_PAGE * 7 + 1);
	for (size_t i = 0; i < sizeof(im->filedata); i++)
		im->filedata[i] = (unsigned char)(i * 17 + 3);
	zt_image_layout(im);
}

void zt_image_layout(struct zt_image *im)
{
	/* as the dumper lays them out: page data right after the header
	 * page, then each deleted file's bytes rounded up to a page */
	im->pages_off = ZAP_IMG_PAGE;
	uint64_t at = im->pages_off;
	for (uint32_t i = 0; i < ZT_NRUNS; i++) {
		struct zap_img_run *r = &im->runs[i];
		uint64_t len = r->npages * ZAP_IMG_PAGE;
		r->data_off = at;
		r->sum = zap_sum_pages(im->pages + (at - im->pages_off), len, r->addr);
		at += len;
	}
	im->pages_len = at - im->pages_off;
	im->filedata_off = at;
	struct zap_img_fd *f = &im->fds[ZT_FD_DELETED];
	f->data_off = im->filedata_off;
	f->data_sum = zap_sum_pages(im->filedata, f->data_len, 0);
	im->filedata_len = ZAP_PAGE_UP(f->data_len);
}

void zt_image_pod(struct zt_image *im)
{
	memset(im, 0, sizeof(*im));
	im->kind = ZAP_IMG_KIND_POD;
	im->created_ns = 1700000999000000000ull;
	memcpy(im->pod.name, "demo", 5);
	im->pod.nmembers = ZT_NMEMBERS;
	im->pod.signal = 12;
	im->pod.generation = 7;
	im->members[0] = (struct zap_img_member){.pid = 1000, .ppid = 1, .file = "1000.img"};
	im->members[1] = (struct zap_img_member){.pid = 1001, .ppid = 1000, .file = "1001.img"};
	im->nmembers = ZT_NMEMBERS;
}

static long zt_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);
		if (r <= 0)
			return -1;
		p = (const char *)p + r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static long zt_write_proc(struct zt_image *im, struct zap_imgw *w, int fd)
{
	if (zt_pwrite_all(fd, im->pages, im->pages_len, im->pages_off) < 0 ||
	    zt_pwrite_all(fd, im->filedata, sizeof(im->filedata), im->filedata_off) < 0)
		return -5;
	zap_imgw_declare(w, ZAP_SECT_PAGES, im->pages_off, im->pages_len);
	zap_imgw_declare(w, ZAP_SECT_FILEDATA, im->filedata_off, im->filedata_len);
	w->off = im->filedata_off + im->filedata_len;
	long e;
	if ((e = zap_imgw_section(w, ZAP_SECT_PROC, 1, &im->proc, sizeof(im->proc))) < 0 ||
	    (e = zap_imgw_section(w, ZAP_SECT_THREADS, im->nthreads, im->threads,
				  im->nthreads * sizeof(im->threads[0]))) < 0 ||
	    (e = zap_imgw_section(w, ZAP_SECT_REGIONS, im->nregions, im->regions,
				  im->nregions * sizeof(im->regions[0]))) < 0 ||
	    (e = zap_imgw_section(w, ZAP_SECT_RUNS, im->nruns, im->runs,
				  im->nruns * sizeof(im->runs[0]))) < 0 ||
	    (e = zap_imgw_section(w, ZAP_SECT_FDS, im->nfds, im->fds,
				  im->nfds * sizeof(im->fds[0]))) < 0)
		return e;
	return zap_imgw_section(w, ZAP_SECT_STRINGS, 0, im->strings, im->strings_len);
}

static long zt_write_pod(struct zt_image *im, struct zap_imgw *w)
{
	/* the pod record and its members are one section */
	char buf[sizeof(im->pod) + sizeof(im->members)];
	size_t len = sizeof(im->pod) + im->nmembers * sizeof(im->members[0]);
	memcpy(buf, &im->pod, sizeof(im->pod));
	memcpy(buf + sizeof(im->pod), im->members, im->nmembers * sizeof(im->members[0]));
	return zap_imgw_section(w, ZAP_SECT_POD, im->nmembers, buf, len);
}

long zt_image_write(struct zt_image *im, int fd)
{
	struct zap_imgw *w = &im->w;
	zap_imgw_begin(w, fd, im->kind);
	long e = im->kind == ZAP_IMG_KIND_POD ? zt_write_pod(im, w) : zt_write_proc(im, w, fd);
	if (e < 0)
		return e;
	if (im->edit_table)
		im->edit_table(w, im->edit_arg);
	return zap_imgw_finish(w, im->created_ns);
}

const struct zap_img_section *zt_image_section(const struct zt_image *im, uint32_t type)
{
	for (uint32_t i = 0; i < im->w.nsect; i++)
		if (im->w.sect[i].type == type)
			return &im->w.sect[i];
	return NULL;
}

void *zt_heap_alloc(void *heap, size_t n)
{
	struct zt_heap *h = heap;
	if (h->n == ZT_HEAP_MAX)
		return NULL;
	void *p = malloc(n);
	if (p)
		h->ptr[h->n++] = p;
	return p;
}

void zt_heap_release(struct zt_heap *h)
{
	while (h->n)
		free(h->ptr[--h->n]);
}
