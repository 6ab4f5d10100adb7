#include "image.h"
#include "sys.h"
#include "util.h"
#include "zap/vtab.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const sect_names[ZAP_SECT_MAX] = {
	[ZAP_SECT_POD] = "POD",	    [ZAP_SECT_PROC] = "PROC",	  [ZAP_SECT_THREADS] = "THREADS",
	[ZAP_SECT_REGIONS] = "REGIONS", [ZAP_SECT_RUNS] = "RUNS",	  [ZAP_SECT_FDS] = "FDS",
	[ZAP_SECT_STRINGS] = "STRINGS", [ZAP_SECT_PAGES] = "PAGES", [ZAP_SECT_FILEDATA] = "FILEDATA",
	[ZAP_SECT_POD_FDS] = "POD_FDS",	    [ZAP_SECT_POD_SHM] = "POD_SHM",
	[ZAP_SECT_SYSV] = "SYSV",	    [ZAP_SECT_SYSV_DATA] = "SYSV_DATA",
};

const char *zap_sect_name(uint32_t type)
{
	return type < ZAP_SECT_MAX && sect_names[type] ? sect_names[type] : "UNKNOWN";
}

/* Record size of each metadata section; 0 = bytes, not records. */
static const uint32_t sect_recsize[ZAP_SECT_MAX] = {
	[ZAP_SECT_POD] = 0, /* header + members, checked by hand */
	[ZAP_SECT_PROC] = sizeof(struct zap_img_proc),
	[ZAP_SECT_THREADS] = sizeof(struct zap_img_thread),
	[ZAP_SECT_REGIONS] = sizeof(struct zap_img_region),
	[ZAP_SECT_RUNS] = sizeof(struct zap_img_run),
	[ZAP_SECT_FDS] = sizeof(struct zap_img_fd),
	[ZAP_SECT_POD_FDS] = sizeof(struct zap_img_pod_fd),
	[ZAP_SECT_POD_SHM] = sizeof(struct zap_img_pod_shm),
	[ZAP_SECT_SYSV] = sizeof(struct zap_img_sysv),
};

/* Sections of bytes that stay in the file (checksummed piecewise). */
static int sect_in_file(uint32_t type)
{
	return type == ZAP_SECT_PAGES || type == ZAP_SECT_FILEDATA || type == ZAP_SECT_SYSV_DATA;
}

/* ---- writer ---- */

void zap_imgw_begin(struct zap_imgw *w, int fd, uint32_t kind)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->kind = kind;
	w->off = ZAP_IMG_PAGE;
}

static struct zap_img_section *imgw_add(struct zap_imgw *w, uint32_t type)
{
	struct zap_img_section *s = &w->sect[w->nsect++];
	s->type = type;
	return s;
}

long zap_imgw_section(struct zap_imgw *w, uint32_t type, uint32_t count, const void *data,
		      uint64_t len)
{
	if (w->nsect >= ZAP_SECT_MAX)
		return -22;
	uint64_t off = (w->off + 7) & ~7ull;
	long r = z_pwrite_all(w->fd, data, len, off);
	if (r < 0)
		return r;
	struct zap_img_section *s = imgw_add(w, type);
	s->count = count;
	s->off = off;
	s->len = len;
	s->sum = zap_sum64(data, len, type);
	w->off = off + len;
	return 0;
}

long zap_imgw_declare(struct zap_imgw *w, uint32_t type, uint64_t off, uint64_t len)
{
	if (w->nsect >= ZAP_SECT_MAX)
		return -22; /* EINVAL */
	struct zap_img_section *s = imgw_add(w, type);
	s->off = off;
	s->len = len;
	if (off + len > w->off)
		w->off = off + len;
	return 0;
}

uint32_t zap_img_header_sum(const struct zap_img_header *h, const struct zap_img_section *t,
			   uint32_t n)
{
	struct zap_img_header copy = *h;
	copy.header_sum = 0;
	uint64_t s = zap_sum64(&copy, sizeof(copy), 0);
	s = zap_sum64(t, n * sizeof(*t), s);
	return (uint32_t)(s ^ (s >> 32));
}

long zap_imgw_finish(struct zap_imgw *w, uint64_t created_ns)
{
	char page[ZAP_IMG_PAGE];
	memset(page, 0, sizeof(page));
	struct zap_img_header *h = (struct zap_img_header *)page;
	memcpy(h->magic, ZAP_IMG_MAGIC, 8);
	h->version = ZAP_IMG_VERSION;
	h->arch = ZAP_IMG_ARCH_X86_64;
	h->page_size = ZAP_IMG_PAGE;
	h->kind = w->kind;
	h->nsect = w->nsect;
	h->sect_off = sizeof(*h);
	h->file_size = w->off;
	h->created_ns = created_ns;
	memcpy(page + sizeof(*h), w->sect, w->nsect * sizeof(w->sect[0]));
	h->header_sum = zap_img_header_sum(h, w->sect, w->nsect);
	/* the file must reach file_size even when it ends in a hole */
	long r = zsys2(SYS_ftruncate, w->fd, w->off);
	if (r < 0)
		return r;
	return z_pwrite_all(w->fd, page, sizeof(page), 0);
}

/* ---- reader ---- */

static int fail(char *err, size_t n, const char *path, const char *sect, const char *msg,
		uint64_t a, uint64_t b)
{
	char m[256];
	zap_fmt(m, sizeof(m), msg, a, b);
	if (sect)
		zap_fmt(err, n, "%s: section %s: %s", path, sect, m);
	else
		zap_fmt(err, n, "%s: %s", path, m);
	return -1;
}

#define FAIL(sect, ...) fail(err, errlen, path, sect, __VA_ARGS__, 0ull, 0ull)
#define FAIL2(sect, msg, a, b) fail(err, errlen, path, sect, msg, (uint64_t)(a), (uint64_t)(b))

static int str_ok(const struct zap_img *img, uint32_t off)
{
	return off == 0 || off < img->strings_len;
}

static int check_regions(struct zap_img *img, const char *path, char *err, size_t errlen)
{
	const struct zap_img_section *pages = &img->sect[ZAP_SECT_PAGES];
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < img->nregions; i++) {
		const struct zap_img_region *r = &img->regions[i];
		if (r->start >= r->end || (r->start | r->end) % ZAP_IMG_PAGE)
			return FAIL2("REGIONS", "region %lu has a bad range (start %lx)", i, r->start);
		if (r->start < prev_end)
			return FAIL2("REGIONS", "region %lu at %lx overlaps the one before", i, r->start);
		if (r->end > 0x800000000000ull)
			return FAIL2("REGIONS", "region %lu ends at %lx, above user space", i, r->end);
		prev_end = r->end;
		if (!str_ok(img, r->path_str))
			return FAIL2("REGIONS", "region %lu names string %lu, out of range", i, r->path_str);
		if (r->first_run > img->nruns || r->nruns > img->nruns - r->first_run)
			return FAIL2("REGIONS", "region %lu refers to runs past the end (%lu)", i,
				     r->first_run + r->nruns);
		uint64_t run_prev = r->start;
		for (uint32_t k = 0; k < r->nruns; k++) {
			const struct zap_img_run *run = &img->runs[r->first_run + k];
			uint64_t len = run->npages * ZAP_IMG_PAGE;
			if (run->addr % ZAP_IMG_PAGE || run->addr < run_prev || !run->npages ||
			    run->npages > (r->end - run->addr) / ZAP_IMG_PAGE || run->addr >= r->end)
				return FAIL2("RUNS", "run at %lx lies outside region %lu", run->addr, i);
			run_prev = run->addr + len;
			if (run->data_off % ZAP_IMG_PAGE || run->data_off < pages->off ||
			    run->data_off > pages->off + pages->len ||
			    len > pages->off + pages->len - run->data_off)
				return FAIL2("RUNS", "run at %lx points outside the page data (offset %lx)",
					     run->addr, run->data_off);
		}
	}
	return 0;
}

static int check_proc(struct zap_img *img, const char *path, char *err, size_t errlen)
{
	static const uint32_t needed[] = {ZAP_SECT_PROC, ZAP_SECT_THREADS, ZAP_SECT_REGIONS,
					  ZAP_SECT_RUNS, ZAP_SECT_STRINGS, ZAP_SECT_PAGES};
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!img->data[needed[i]] && needed[i] != ZAP_SECT_PAGES)
			return FAIL(zap_sect_name(needed[i]), "missing");
	if (img->sect[ZAP_SECT_PROC].count != 1)
		return FAIL("PROC", "expected one record");
	img->proc = img->data[ZAP_SECT_PROC];
	img->threads = img->data[ZAP_SECT_THREADS];
	img->nthreads = img->sect[ZAP_SECT_THREADS].count;
	img->regions = img->data[ZAP_SECT_REGIONS];
	img->nregions = img->sect[ZAP_SECT_REGIONS].count;
	img->runs = img->data[ZAP_SECT_RUNS];
	img->nruns = img->sect[ZAP_SECT_RUNS].count;
	img->fds = img->data[ZAP_SECT_FDS];
	img->nfds = img->sect[ZAP_SECT_FDS].count;
	img->strings = img->data[ZAP_SECT_STRINGS];
	img->strings_len = img->sect[ZAP_SECT_STRINGS].len;
	if (!img->strings_len || img->strings[img->strings_len - 1])
		return FAIL("STRINGS", "not NUL-terminated");
	if (img->nthreads == 0 || img->nthreads > ZAP_RESTORE_MAX_THREADS ||
	    img->proc->nthreads != img->nthreads)
		return FAIL2("THREADS", "%lu threads recorded, process says %lu", img->nthreads,
			     img->proc->nthreads);
	if (!str_ok(img, img->proc->cwd_str) || !str_ok(img, img->proc->exe_str))
		return FAIL("PROC", "string offset out of range");
	if (!memchr(img->proc->comm, 0, sizeof(img->proc->comm)))
		return FAIL("PROC", "command name not terminated");
	if (img->proc->auxv_words > ZAP_AUXV_WORDS)
		return FAIL("PROC", "auxv too long");
	int mains = 0;
	for (uint32_t i = 0; i < img->nthreads; i++)
		if (img->threads[i].flags & ZAP_THREAD_MAIN)
			mains++;
	if (mains != 1)
		return FAIL2("THREADS", "%lu main threads, expected 1", mains, 0);
	const struct zap_img_section *fdata = &img->sect[ZAP_SECT_FILEDATA];
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		if (f->fd < 0 || !str_ok(img, f->path_str) || f->kind < ZAP_FD_INHERIT ||
		    f->kind > ZAP_FD_KIND_MAX)
			return FAIL2("FDS", "record %lu is malformed (fd %ld)", i, f->fd);
		/* a dup names an earlier fd; records are sorted by fd */
		if (f->dup_of >= 0 && (i == 0 || f->dup_of >= f->fd))
			return FAIL2("FDS", "fd %lu claims to share fd %lu, which does not come first", f->fd,
				     f->dup_of);
		if (i && f->fd <= img->fds[i - 1].fd)
			return FAIL2("FDS", "fd %lu is out of order", f->fd, 0);
		if ((f->kind == ZAP_FD_DELETED || f->kind == ZAP_FD_EPOLL || f->kind == ZAP_FD_PIPE_READ ||
		     f->kind == ZAP_FD_SOCKPAIR || f->kind == ZAP_FD_SOCKET) && f->data_len &&
		    (f->data_off < fdata->off || f->data_off > fdata->off + fdata->len ||
		     f->data_len > fdata->off + fdata->len - f->data_off))
			return FAIL2("FDS", "fd %lu: file data outside FILEDATA (at %lx)", f->fd, f->data_off);
		if (f->kind == ZAP_FD_SOCKET && f->dup_of < 0 &&
		    (f->data_len < sizeof(struct zap_img_sock_addr) ||
		     (uint32_t)f->aux[2] < ZAP_SOCK_UNBOUND || (uint32_t)f->aux[2] > ZAP_SOCK_CONNECTED))
			return FAIL2("FDS", "fd %lu: socket record is malformed (state %lu)", f->fd,
				     (uint32_t)f->aux[2]);
	}
	return check_regions(img, path, err, errlen);
}

static int zombie_only(const struct zap_img *img)
{
	for (uint32_t i = 0; i < img->nmembers; i++)
		if (!(img->members[i].flags & ZAP_MEMBER_ZOMBIE))
			return 0;
	return 1;
}

static int member_of(const struct zap_img *img, int32_t pid)
{
	for (uint32_t i = 0; i < img->nmembers; i++)
		if (img->members[i].pid == pid && !(img->members[i].flags & ZAP_MEMBER_ZOMBIE))
			return 1;
	return 0;
}

static int check_pod(struct zap_img *img, const char *path, char *err, size_t errlen)
{
	const struct zap_img_section *s = &img->sect[ZAP_SECT_POD];
	if (!img->data[ZAP_SECT_POD] || s->len < sizeof(struct zap_img_pod))
		return FAIL("POD", "missing or too short");
	img->pod = img->data[ZAP_SECT_POD];
	img->members = (const void *)((const char *)img->data[ZAP_SECT_POD] + sizeof(*img->pod));
	img->nmembers = img->pod->nmembers;
	if (img->nmembers == 0 ||
	    (s->len - sizeof(*img->pod)) / sizeof(struct zap_img_member) != img->nmembers ||
	    (s->len - sizeof(*img->pod)) % sizeof(struct zap_img_member))
		return FAIL2("POD", "%lu members recorded in %lu bytes", img->nmembers, s->len);
	if (memchr(img->pod->name, 0, sizeof(img->pod->name)) == NULL)
		return FAIL("POD", "pod name not terminated");
	for (uint32_t i = 0; i < img->nmembers; i++) {
		const struct zap_img_member *m = &img->members[i];
		int zombie = (m->flags & ZAP_MEMBER_ZOMBIE) != 0;
		if (!memchr(m->file, 0, sizeof(m->file)) || (m->file[0] == 0) != zombie || strchr(m->file, '/'))
			return FAIL2("POD", "member %lu has a bad file name", i, 0);
		if (m->pid <= 0 || m->ppid < 0)
			return FAIL2("POD", "member %lu has a bad pid %ld", i, m->pid);
		for (uint32_t k = 0; k < i; k++)
			if (img->members[k].pid == m->pid)
				return FAIL2("POD", "pid %lu is recorded twice", m->pid, 0);
	}
	if (zombie_only(img))
		return FAIL("POD", "no live member");
	img->pod_fds = img->data[ZAP_SECT_POD_FDS];
	img->npod_fds = img->pod_fds ? img->sect[ZAP_SECT_POD_FDS].count : 0;
	for (uint32_t i = 0; i < img->npod_fds; i++) {
		const struct zap_img_pod_fd *f = &img->pod_fds[i];
		if (f->fd < 0 || f->object >= img->npod_fds || !member_of(img, f->pid))
			return FAIL2("POD_FDS", "record %lu is malformed (fd %ld)", i, f->fd);
	}
	img->pod_shm = img->data[ZAP_SECT_POD_SHM];
	img->npod_shm = img->pod_shm ? img->sect[ZAP_SECT_POD_SHM].count : 0;
	for (uint32_t i = 0; i < img->npod_shm; i++) {
		const struct zap_img_pod_shm *m = &img->pod_shm[i];
		if (m->object >= img->npod_shm || !member_of(img, m->pid) || m->size % ZAP_IMG_PAGE ||
		    !m->size || m->size > (1ull << 46))
			return FAIL2("POD_SHM", "record %lu is malformed (size %lu)", i, m->size);
	}
	return 0;
}

/* sysv.img: each object's kind and size agree with its bytes, which lie
 * inside SYSV_DATA; no (kind, id) twice, no more than the pod's table holds. */
static int check_sysv(struct zap_img *img, const char *path, char *err, size_t errlen)
{
	if (!img->data[ZAP_SECT_SYSV])
		return FAIL("SYSV", "missing");
	const struct zap_img_section *data = &img->sect[ZAP_SECT_SYSV_DATA];
	img->sysv = img->data[ZAP_SECT_SYSV];
	img->nsysv = img->sect[ZAP_SECT_SYSV].count;
	if (img->nsysv > ZAP_VTAB_IPCS)
		return FAIL2("SYSV", "%lu objects, more than a pod holds (%lu)", img->nsysv, ZAP_VTAB_IPCS);
	for (uint32_t i = 0; i < img->nsysv; i++) {
		const struct zap_img_sysv *o = &img->sysv[i];
		uint64_t want;
		if (o->kind == ZAP_IPC_SHM)
			want = o->size;
		else if (o->kind == ZAP_IPC_SEM)
			want = o->size * 2;
		else if (o->kind == ZAP_IPC_MSG)
			want = o->size * 16; /* at least the headers */
		else
			return FAIL2("SYSV", "object %lu has unknown kind %lu", i, o->kind);
		if (o->vid < 0 || (!o->size && o->kind != ZAP_IPC_MSG) || o->size > (1ull << 40) ||
		    (o->kind == ZAP_IPC_SEM && o->size > 65535) ||
		    (o->kind == ZAP_IPC_MSG ? o->data_len < want : o->data_len != want))
			return FAIL2("SYSV", "object %lu (id %lu) is malformed", i, (uint32_t)o->vid);
		if ((o->kind == ZAP_IPC_SHM && o->data_off % ZAP_IMG_PAGE) || o->data_off < data->off ||
		    o->data_off > data->off + data->len || o->data_len > data->off + data->len - o->data_off)
			return FAIL2("SYSV", "object %lu (id %lu): its bytes lie outside SYSV_DATA", i,
				     (uint32_t)o->vid);
		for (uint32_t k = 0; k < i; k++)
			if (img->sysv[k].kind == o->kind && img->sysv[k].vid == o->vid)
				return FAIL2("SYSV", "id %lu appears twice", (uint32_t)o->vid, 0);
	}
	return 0;
}

int zap_img_open(struct zap_img *img, const char *path, zap_alloc_fn alloc, void *ctx, char *err,
		 size_t errlen)
{
	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->path = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		zap_fmt(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	img->fd = fd;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return FAIL(NULL, "not a regular file");
	char page[ZAP_IMG_PAGE];
	ssize_t got = pread(fd, page, sizeof(page), 0);
	if (got < (ssize_t)sizeof(struct zap_img_header))
		return FAIL2(NULL, "truncated: %lu bytes, too short for a header", got < 0 ? 0 : got, 0);
	memcpy(&img->hdr, page, sizeof(img->hdr));
	const struct zap_img_header *h = &img->hdr;
	if (memcmp(h->magic, ZAP_IMG_MAGIC, 8))
		return FAIL(NULL, "not a zap image (bad magic)");
	if (h->version != ZAP_IMG_VERSION)
		return FAIL2(NULL, "image format version %lu is not supported (this zap reads version %lu)",
			     h->version, ZAP_IMG_VERSION);
	if (h->arch != ZAP_IMG_ARCH_X86_64)
		return FAIL2(NULL, "image is for machine type %lu, this is x86-64 (%lu)", h->arch,
			     ZAP_IMG_ARCH_X86_64);
	if (h->page_size != ZAP_IMG_PAGE)
		return FAIL2(NULL, "image page size %lu, this machine uses %lu", h->page_size, ZAP_IMG_PAGE);
	if ((uint64_t)st.st_size < h->file_size)
		return FAIL2(NULL, "truncated: %lu bytes, the header says %lu", st.st_size, h->file_size);
	if (h->nsect > ZAP_SECT_MAX || h->sect_off != sizeof(*h) || got < (ssize_t)sizeof(page))
		return FAIL(NULL, "corrupt header (section table)");
	const struct zap_img_section *table = (const void *)(page + h->sect_off);
	if (zap_img_header_sum(h, table, h->nsect) != h->header_sum)
		return FAIL(NULL, "header checksum mismatch (corrupt header)");
	for (uint32_t i = 0; i < h->nsect; i++) {
		const struct zap_img_section *s = &table[i];
		const char *name = zap_sect_name(s->type);
		if (s->type == 0 || s->type >= ZAP_SECT_MAX)
			return FAIL2(NULL, "unknown section type %lu", s->type, 0);
		if (img->sect[s->type].off)
			return FAIL(name, "appears twice");
		if (s->off < ZAP_IMG_PAGE || s->off > h->file_size || s->len > h->file_size - s->off)
			return FAIL2(name, "lies outside the file (offset %lu, %lu bytes)", s->off, s->len);
		img->sect[s->type] = *s;
		if (sect_in_file(s->type))
			continue;
		uint32_t rs = sect_recsize[s->type];
		if (rs && (uint64_t)s->count * rs != s->len)
			return FAIL2(name, "%lu records do not fill %lu bytes", s->count, s->len);
		if (s->len > (1ull << 31))
			return FAIL2(name, "implausibly large (%lu bytes)", s->len, 0);
		void *buf = alloc(ctx, s->len + 1);
		if (!buf)
			return FAIL2(name, "out of memory loading %lu bytes", s->len, 0);
		img->data[s->type] = buf; /* the caller frees it, whatever happens next */
		if (s->len && z_pread_all(fd, buf, s->len, s->off) < 0)
			return FAIL(name, "read error");
		((char *)buf)[s->len] = 0;
		if (zap_sum64(buf, s->len, s->type) != s->sum)
			return FAIL(name, "checksum mismatch (the image is corrupt)");
	}
	if (h->kind == ZAP_IMG_KIND_PROC)
		return check_proc(img, path, err, errlen);
	if (h->kind == ZAP_IMG_KIND_POD)
		return check_pod(img, path, err, errlen);
	if (h->kind == ZAP_IMG_KIND_SYSV)
		return check_sysv(img, path, err, errlen);
	return FAIL2(NULL, "unknown image kind %lu", h->kind, 0);
}

void zap_img_close(struct zap_img *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

const char *zap_img_str(const struct zap_img *img, uint32_t off)
{
	if (!img->strings || off >= img->strings_len)
		return "";
	return img->strings + off;
}

int zap_img_check_run(const struct zap_img *img, const struct zap_img_run *run, char *err,
		      size_t errlen)
{
	const char *path = img->path;
	char buf[ZAP_SUM_CHUNK];
	uint64_t left = run->npages * ZAP_IMG_PAGE, off = run->data_off, sum = run->addr;
	/* chained per chunk, exactly as zap_sum_pages computes it */
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);
		if (z_pread_all(img->fd, buf, n, off) < 0)
			return FAIL2("PAGES", "read error at offset %lu", off, 0);
		sum = zap_sum64(buf, n, sum);
		off += n;
		left -= n;
	}
	if (sum != run->sum)
		return FAIL2("PAGES", "checksum mismatch in the pages at %lx (%lu pages)", run->addr,
			     run->npages);
	return 0;
}
