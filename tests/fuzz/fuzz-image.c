/* Fuzzing the image reader (zap_img_open, zap_img_str, zap_img_check_run).
 *
 * Random bytes almost never get past the magic and the checksums, so the
 * input is a small program instead: which sample image to start from
 * (tests/unit/sample-image.c) and a list of edits.  Edits to the records
 * and to the section table are made before the real writer runs, so the
 * checksums come out right and the reader's deeper checks are reached;
 * edits to the file (bit flips, field overwrites, header fields,
 * truncation, checksums recomputed over edited bytes) come after it.
 * After a successful open every record the reader vouches for is read,
 * so a view that reaches past its buffer trips AddressSanitizer.
 *
 * Two builds of this one file:
 *   standalone (gcc, -DFUZZ_STANDALONE): generates the programs from a
 *     fixed seed and runs a bounded number of them in forked batches; prints
 *     "N passed, N failed" last.  `fuzz-image ITERATIONS [SEED]`, or
 *     `fuzz-image --one I [SEED]` to rerun iteration I in this process.
 *   libFuzzer (clang -fsanitize=fuzzer): the input is the program; an
 *     input whose first byte is 0xff is taken as an image file as it is.
 */
#include "image.h"
#include "sample-image.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the program ---- */

enum fuzz_opcode {
	FUZZ_REC_SET,	/* overwrite a field of a record (before writing) */
	FUZZ_REC_FLIP,	/* flip a bit of a record */
	FUZZ_COUNT_SET, /* change how many records a section gets */
	FUZZ_TAB_SET,	/* overwrite a field of a section table entry */
	FUZZ_TAB_DUP,	/* append a copy of an entry */
	FUZZ_TAB_DROP,	/* remove an entry */
	FUZZ_TAB_SWAP,	/* swap two entries */
	FUZZ_RAW_FLIP,	/* flip a bit of the written file */
	FUZZ_RAW_SET,	/* overwrite 4 or 8 bytes of the file */
	FUZZ_HDR_SET,	/* overwrite a header field, maybe fixing the header sum */
	FUZZ_TRUNC,	/* cut the file */
	FUZZ_FIX_SUMS,	/* recompute section and header sums over the file as it is */
	FUZZ_NOPS
};

/* How often each edit comes up, out of 256: record and table edits get
 * past the checksums, so they get most of the turns. */
static const uint8_t fuzz_weight[FUZZ_NOPS] = {
	[FUZZ_REC_SET] = 64, [FUZZ_REC_FLIP] = 28, [FUZZ_COUNT_SET] = 12, [FUZZ_TAB_SET] = 30,
	[FUZZ_TAB_DUP] = 8,  [FUZZ_TAB_DROP] = 8,  [FUZZ_TAB_SWAP] = 8,	  [FUZZ_RAW_FLIP] = 24,
	[FUZZ_RAW_SET] = 20, [FUZZ_HDR_SET] = 16,  [FUZZ_TRUNC] = 10,	  [FUZZ_FIX_SUMS] = 28,
};

/* One edit as it is read from the input: fixed size, so any byte string
 * is a program. */
struct fuzz_op {
	uint8_t op, a, b, sel;
	uint16_t off;
	uint64_t raw;
};
#define FUZZ_OP_BYTES 14
#define FUZZ_MAX_OPS 16

struct fuzz_prog {
	uint8_t kind_byte;
	unsigned nops;
	struct fuzz_op ops[FUZZ_MAX_OPS];
};

static uint64_t fuzz_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void fuzz_decode(const uint8_t *p, size_t n, struct fuzz_prog *prog)
{
	memset(prog, 0, sizeof(*prog));
	if (!n)
		return;
	prog->kind_byte = p[0];
	p++, n--;
	for (; n >= FUZZ_OP_BYTES && prog->nops < FUZZ_MAX_OPS;
	     p += FUZZ_OP_BYTES, n -= FUZZ_OP_BYTES) {
		struct fuzz_op *o = &prog->ops[prog->nops++];
		unsigned pick = p[0], op = 0;
		while (pick >= fuzz_weight[op]) /* the weights sum to 256 */
			pick -= fuzz_weight[op++];
		o->op = (uint8_t)op;
		o->a = p[1];
		o->b = p[2];
		o->sel = p[3];
		o->off = (uint16_t)fuzz_le(p + 4, 2);
		o->raw = fuzz_le(p + 6, 8);
	}
}

/* ---- values ---- */

static const uint64_t fuzz_bounds[] = {
	0,
	1,
	2,
	3,
	7,
	8,
	15,
	16,
	31,
	32,
	63,
	64,
	65,
	0xff,
	0x100,
	0xfff,
	0x1000,
	0x1001,
	0x2000,
	0xffff,
	0x10000,
	ZAP_RESTORE_MAX_THREADS,
	ZAP_RESTORE_MAX_THREADS + 1,
	0x7fffffff,
	0x80000000,
	0xfffffffe,
	0xffffffff,
	0x100000000,
	0x7ffffffff000,
	0x800000000000,
	0x800000001000,
	0x7fffffffffffffff,
	0x8000000000000000,
	0xfffffffffffff000,
	0xffffffffffffffff,
	1ull << 31,
	(1ull << 31) + 1,
};
#define FUZZ_NBOUNDS (sizeof(fuzz_bounds) / sizeof(fuzz_bounds[0]))

/* Offsets and sizes of the image being built, for values near them. */
struct fuzz_ctx {
	uint64_t ref[8];
};

static void fuzz_ctx_image(struct fuzz_ctx *c, const struct zt_image *im, uint64_t file_size)
{
	const uint64_t ref[8] = {file_size,
				 im->pages_off,
				 im->pages_off + im->pages_len,
				 im->filedata_off,
				 im->filedata_off + im->filedata_len,
				 im->strings_len,
				 im->nruns,
				 sizeof(struct zap_img_header) +
					 ZAP_SECT_MAX * sizeof(struct zap_img_section)};
	memcpy(c->ref, ref, sizeof(ref));
}

/* A value for a field that holds old: a boundary, one near an offset of
 * this image, old nudged, or the raw bits from the input. */
static uint64_t fuzz_value(const struct fuzz_op *o, uint64_t old, const struct fuzz_ctx *c)
{
	static const int64_t nudge[8] = {1, -1, 8, -8, 4096, -4096, 1ll << 32, -(1ll << 32)};
	static const int64_t near[4] = {0, 1, -1, 4096};
	switch (o->sel >> 6) {
	case 0:
		return fuzz_bounds[(o->sel & 63) % FUZZ_NBOUNDS];
	case 1:
		return c->ref[o->sel & 7] + (uint64_t)near[(o->sel >> 3) & 3];
	case 2:
		return old + (uint64_t)nudge[o->sel & 7];
	default:
		return o->raw;
	}
}

static uint64_t fuzz_get(const unsigned char *p, unsigned width)
{
	uint64_t v = 0;
	memcpy(&v, p, width);
	return v;
}

static void fuzz_put(unsigned char *p, unsigned width, uint64_t v)
{
	memcpy(p, &v, width); /* little-endian: the low bytes */
}

/* ---- edits before writing ---- */

struct fuzz_part {
	void *p;
	size_t n;
};

static unsigned fuzz_parts(struct zt_image *im, struct fuzz_part *parts)
{
	if (im->kind == ZAP_IMG_KIND_POD) {
		parts[0] = (struct fuzz_part){&im->pod, sizeof(im->pod)};
		parts[1] = (struct fuzz_part){im->members, sizeof(im->members)};
		return 2;
	}
	parts[0] = (struct fuzz_part){&im->proc, sizeof(im->proc)};
	parts[1] = (struct fuzz_part){im->threads, sizeof(im->threads)};
	parts[2] = (struct fuzz_part){im->regions, sizeof(im->regions)};
	parts[3] = (struct fuzz_part){im->runs, sizeof(im->runs)};
	parts[4] = (struct fuzz_part){im->fds, sizeof(im->fds)};
	parts[5] = (struct fuzz_part){im->strings, sizeof(im->strings)};
	return 6;
}

static void fuzz_set_count(struct zt_image *im, const struct fuzz_op *o)
{
	unsigned v = o->b;
	switch (o->a % 6) {
	case 0:
		im->nthreads = v % (ZT_NTHREADS + 1);
		break;
	case 1:
		im->nregions = v % (ZT_NREGIONS + 1);
		break;
	case 2:
		im->nruns = v % (ZT_NRUNS + 1);
		break;
	case 3:
		im->nfds = v % (ZT_NFDS + 1);
		break;
	case 4:
		im->nmembers = v % (ZT_NMEMBERS + 1);
		break;
	default:
		im->strings_len = (uint32_t)(o->off % (ZT_STRINGS_MAX + 1));
		break;
	}
}

static void fuzz_edit_records(struct zt_image *im, const struct fuzz_prog *prog)
{
	struct fuzz_part parts[6];
	unsigned nparts = fuzz_parts(im, parts);
	struct fuzz_ctx c;
	fuzz_ctx_image(&c, im, 0);
	for (unsigned i = 0; i < prog->nops; i++) {
		const struct fuzz_op *o = &prog->ops[i];
		const struct fuzz_part *part = &parts[o->a % nparts];
		unsigned char *p = part->p;
		if (o->op == FUZZ_REC_SET) {
			unsigned width = o->b & 1 ? 8 : 4;
			size_t at = (o->off % (part->n - width + 1)) & ~(size_t)(width - 1);
			fuzz_put(p + at, width, fuzz_value(o, fuzz_get(p + at, width), &c));
		} else if (o->op == FUZZ_REC_FLIP) {
			size_t bit = o->off % (part->n * 8);
			p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		} else if (o->op == FUZZ_COUNT_SET) {
			fuzz_set_count(im, o);
		}
	}
}

/* ---- edits to the section table, between the sections and the header ---- */

struct fuzz_table_arg {
	const struct fuzz_prog *prog;
	const struct zt_image *im;
};

static void fuzz_edit_table(struct zap_imgw *w, void *arg)
{
	const struct fuzz_table_arg *t = arg;
	struct fuzz_ctx c;
	fuzz_ctx_image(&c, t->im, w->off);
	for (unsigned i = 0; i < t->prog->nops; i++) {
		const struct fuzz_op *o = &t->prog->ops[i];
		if (!w->nsect)
			return;
		struct zap_img_section *s = &w->sect[o->a % w->nsect];
		switch (o->op) {
		case FUZZ_TAB_SET: {
			unsigned field = o->b % 5;
			if (field == 0)
				s->type = (uint32_t)fuzz_value(o, s->type, &c);
			else if (field == 1)
				s->count = (uint32_t)fuzz_value(o, s->count, &c);
			else if (field == 2)
				s->off = fuzz_value(o, s->off, &c);
			else if (field == 3)
				s->len = fuzz_value(o, s->len, &c);
			else
				s->sum = fuzz_value(o, s->sum, &c);
			break;
		}
		case FUZZ_TAB_DUP:
			if (w->nsect < ZAP_SECT_MAX)
				w->sect[w->nsect++] = *s;
			break;
		case FUZZ_TAB_DROP:
			*s = w->sect[--w->nsect];
			break;
		case FUZZ_TAB_SWAP: {
			struct zap_img_section *u = &w->sect[o->b % w->nsect], tmp = *s;
			*s = *u;
			*u = tmp;
			break;
		}
		default:
			break;
		}
	}
}

/* ---- edits to the written file ---- */

/* The header fields an edit can set, with their width. */
static const struct {
	uint16_t off, width;
} fuzz_hdr_fields[] = {
	{offsetof(struct zap_img_header, version), 4},
	{offsetof(struct zap_img_header, arch), 4},
	{offsetof(struct zap_img_header, page_size), 4},
	{offsetof(struct zap_img_header, kind), 4},
	{offsetof(struct zap_img_header, nsect), 4},
	{offsetof(struct zap_img_header, header_sum), 4},
	{offsetof(struct zap_img_header, sect_off), 8},
	{offsetof(struct zap_img_header, file_size), 8},
};
#define FUZZ_NHDR (sizeof(fuzz_hdr_fields) / sizeof(fuzz_hdr_fields[0]))

/* Makes the header checksum right for the header and table as they are,
 * when they are shaped so that the reader would look at the sum at all. */
static void fuzz_fix_header(unsigned char *page)
{
	struct zap_img_header h;
	memcpy(&h, page, sizeof(h));
	if (h.nsect > ZAP_SECT_MAX || h.sect_off != sizeof(h))
		return;
	struct zap_img_section t[ZAP_SECT_MAX];
	memcpy(t, page + sizeof(h), h.nsect * sizeof(t[0]));
	h.header_sum = zap_img_header_sum(&h, t, h.nsect);
	memcpy(page, &h, sizeof(h));
}

/* Recomputes each metadata section's checksum over the bytes now in the
 * file, then the header's: edits to the bytes then reach the reader's
 * checks of the records instead of stopping at a checksum. */
static void fuzz_fix_sums(unsigned char *file, uint64_t size)
{
	if (size < ZAP_IMG_PAGE)
		return;
	struct zap_img_header h;
	memcpy(&h, file, sizeof(h));
	if (h.nsect > ZAP_SECT_MAX || h.sect_off != sizeof(h))
		return;
	for (uint32_t i = 0; i < h.nsect; i++) {
		struct zap_img_section s;
		unsigned char *at = file + sizeof(h) + i * sizeof(s);
		memcpy(&s, at, sizeof(s));
		if (s.type == ZAP_SECT_PAGES || s.type == ZAP_SECT_FILEDATA || s.off > size ||
		    s.len > size - s.off)
			continue;
		s.sum = zap_sum64(file + s.off, s.len, s.type);
		memcpy(at, &s, sizeof(s));
	}
	fuzz_fix_header(file);
}

/* Applies the file edits to the image held in memory; returns its new size. */
static uint64_t fuzz_edit_file(unsigned char *file, uint64_t size, const struct zt_image *im,
			       const struct fuzz_prog *prog)
{
	for (unsigned i = 0; i < prog->nops && size; i++) {
		const struct fuzz_op *o = &prog->ops[i];
		struct fuzz_ctx c;
		fuzz_ctx_image(&c, im, size);
		switch (o->op) {
		case FUZZ_RAW_FLIP: {
			uint64_t bit = (((uint64_t)o->off << 3) | (o->a & 7)) % (size * 8);
			file[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			break;
		}
		case FUZZ_RAW_SET: {
			unsigned width = o->b & 1 ? 8 : 4;
			if (size < width)
				break;
			uint64_t at =
				((o->raw >> 32) % (size - width + 1)) & ~(uint64_t)(width - 1);
			fuzz_put(file + at, width, fuzz_value(o, fuzz_get(file + at, width), &c));
			break;
		}
		case FUZZ_HDR_SET: {
			unsigned f = o->a % FUZZ_NHDR, width = fuzz_hdr_fields[f].width;
			unsigned char *p = file + fuzz_hdr_fields[f].off;
			if (size < ZAP_IMG_PAGE)
				break;
			fuzz_put(p, width, fuzz_value(o, fuzz_get(p, width), &c));
			if (o->b & 1)
				fuzz_fix_header(file);
			break;
		}
		case FUZZ_TRUNC:
			size = o->raw % size;
			break;
		case FUZZ_FIX_SUMS:
			fuzz_fix_sums(file, size);
			break;
		default:
			break;
		}
	}
	return size;
}

/* ---- one run ---- */

#define FUZZ_FILE_MAX (256 * 1024)

static struct fuzz_stats {
	uint64_t opened, rejected,
		deep; /* deep: refused by a record check, not a sum or the header */
} fuzz_stats_local, *fuzz_stats = &fuzz_stats_local;

static __attribute__((noreturn)) void fuzz_broken(const char *path, const char *what)
{
	fprintf(stderr, "fuzz-image: %s: %s\n", path, what);
	abort();
}

/* A new file each time: truncating one that has data makes some file
 * systems (ext4's auto_da_alloc) flush it at close, which is most of the
 * run time. */
static int fuzz_create(const char *path, int flags)
{
	unlink(path);
	return open(path, flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

static int fuzz_write_file(const char *path, const void *p, size_t n)
{
	int fd = fuzz_create(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t r = n ? write(fd, p, n) : 0;
	close(fd);
	return r == (ssize_t)n ? 0 : -1;
}

/* Builds the image the program describes at path; 0, or -1 when the
 * temporary file cannot be written (not a finding). */
static int fuzz_build(const struct fuzz_prog *prog, const char *path)
{
	static struct zt_image proc_seed, pod_seed, im;
	static unsigned char file[FUZZ_FILE_MAX];
	static int seeded;
	if (!seeded) {
		zt_image_proc(&proc_seed);
		zt_image_pod(&pod_seed);
		seeded = 1;
	}
	im = prog->kind_byte & 1 ? pod_seed : proc_seed;
	fuzz_edit_records(&im, prog);
	struct fuzz_table_arg targ = {prog, &im};
	im.edit_table = fuzz_edit_table;
	im.edit_arg = &targ;
	int fd = fuzz_create(path, O_RDWR);
	if (fd < 0)
		return -1;
	long e = zt_image_write(&im, fd);
	ssize_t size = e == 0 ? pread(fd, file, sizeof(file), 0) : -1;
	close(fd);
	if (size < 0 || size == (ssize_t)sizeof(file))
		return -1;
	uint64_t n = fuzz_edit_file(file, (uint64_t)size, &im, prog);
	return fuzz_write_file(path, file, n);
}

/* What the tools and the restorer take for granted once an image opened
 * (ckpt/image.h: "code using a struct zap_img never has to check
 * again").  Restated here from the format, not from the reader's code, so
 * an image that slips through any gap in the reader's checks stops here. */
static const char *fuzz_pod_contract(const struct zap_img *img)
{
	if (!img->pod || !img->members || !img->nmembers)
		return "accepted a pod without members";
	if (!memchr(img->pod->name, 0, sizeof(img->pod->name)))
		return "accepted an unterminated pod name";
	for (uint32_t i = 0; i < img->nmembers; i++) {
		const char *f = img->members[i].file; /* joined to the image directory */
		int zombie = (img->members[i].flags & ZAP_MEMBER_ZOMBIE) != 0;
		if (!memchr(f, 0, sizeof(img->members[i].file)) || (f[0] == 0) != zombie || strchr(f, '/'))
			return "accepted a member file name that is not a plain name";
	}
	return NULL;
}

static const char *fuzz_regions_contract(const struct zap_img *img)
{
	const struct zap_img_section *pages = &img->sect[ZAP_SECT_PAGES];
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < img->nregions; i++) {
		const struct zap_img_region *r = &img->regions[i];
		if (r->start >= r->end || r->start % ZAP_IMG_PAGE || r->end % ZAP_IMG_PAGE ||
		    r->start < prev_end || r->end > 0x800000000000ull)
			return "accepted regions out of order, unaligned or above user space";
		prev_end = r->end;
		if ((uint64_t)r->first_run + r->nruns > img->nruns)
			return "accepted a region whose runs are past the end";
		uint64_t at = r->start;
		for (uint32_t k = 0; k < r->nruns; k++) {
			const struct zap_img_run *run = &img->runs[r->first_run + k];
			if (run->addr < at || run->addr % ZAP_IMG_PAGE || !run->npages ||
			    run->npages > (r->end - run->addr) / ZAP_IMG_PAGE)
				return "accepted a run outside its region";
			at = run->addr + run->npages * ZAP_IMG_PAGE;
			if (run->data_off % ZAP_IMG_PAGE || run->data_off < pages->off ||
			    run->data_off - pages->off > pages->len ||
			    run->npages * ZAP_IMG_PAGE > pages->len - (run->data_off - pages->off))
				return "accepted a run whose data is outside PAGES";
		}
	}
	return NULL;
}

static const char *fuzz_proc_contract(const struct zap_img *img)
{
	const struct zap_img_proc *p = img->proc;
	if (!p || !img->threads || !img->regions || !img->runs || !img->strings)
		return "accepted a process without its records";
	if (!img->nthreads || img->nthreads > ZAP_RESTORE_MAX_THREADS ||
	    p->nthreads != img->nthreads)
		return "accepted a wrong thread count";
	uint32_t mains = 0;
	for (uint32_t i = 0; i < img->nthreads; i++)
		mains += (img->threads[i].flags & ZAP_THREAD_MAIN) != 0;
	if (mains != 1)
		return "accepted a process without exactly one main thread";
	if (p->auxv_words > ZAP_AUXV_WORDS)
		return "accepted an auxv longer than its array";
	if (!img->strings_len || img->strings[img->strings_len - 1])
		return "accepted unterminated strings";
	const struct zap_img_section *fdata = &img->sect[ZAP_SECT_FILEDATA];
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		if (f->fd < 0)
			return "accepted a negative fd";
		if (f->kind == ZAP_FD_DELETED &&
		    (f->data_off < fdata->off || f->data_off - fdata->off > fdata->len ||
		     f->data_len > fdata->len - (f->data_off - fdata->off)))
			return "accepted a deleted file's bytes outside FILEDATA";
	}
	return fuzz_regions_contract(img);
}

/* Reads everything the reader handed out, the way zap inspect --verify
 * and the restorer do, after checking the contract above. */
static void fuzz_consume(struct zap_img *img, const char *path)
{
	volatile uint64_t acc = 0; /* keeps the reads */
	char err[512];
	struct stat st;
	if (fstat(img->fd, &st) < 0 || (uint64_t)st.st_size < img->hdr.file_size)
		fuzz_broken(path, "accepted a file shorter than its header says");
	for (uint32_t t = 1; t < ZAP_SECT_MAX; t++)
		if (img->sect[t].off + img->sect[t].len > img->hdr.file_size)
			fuzz_broken(path, "accepted a section outside the file");
	const char *broken = img->hdr.kind == ZAP_IMG_KIND_POD ? fuzz_pod_contract(img)
							       : fuzz_proc_contract(img);
	if (broken)
		fuzz_broken(path, broken);
	if (img->hdr.kind == ZAP_IMG_KIND_POD) {
		acc += strlen(img->pod->name) + img->pod->generation;
		for (uint32_t i = 0; i < img->nmembers; i++)
			acc += strlen(img->members[i].file) + (uint64_t)img->members[i].pid;
		return;
	}
	const struct zap_img_proc *p = img->proc;
	acc += strnlen(p->comm, sizeof(p->comm)) + p->auxv[p->auxv_words ? p->auxv_words - 1 : 0];
	acc += strlen(zap_img_str(img, p->cwd_str)) + strlen(zap_img_str(img, p->exe_str));
	for (uint32_t i = 0; i < img->nthreads; i++)
		acc += img->threads[i].flags + img->threads[i].fs_base;
	for (uint32_t i = 0; i < img->nregions; i++) {
		const struct zap_img_region *r = &img->regions[i];
		acc += strlen(zap_img_str(img, r->path_str));
		for (uint32_t k = 0; k < r->nruns; k++) {
			const struct zap_img_run *run = &img->runs[r->first_run + k];
			/* a sum may not match, but the pages must be there */
			if (zap_img_check_run(img, run, err, sizeof(err)) < 0 &&
			    strstr(err, "read error"))
				fuzz_broken(path, "a region's run lies past the end of the file");
		}
	}
	for (uint32_t i = 0; i < img->nruns; i++) /* as inspect --verify does */
		acc += (uint64_t)zap_img_check_run(img, &img->runs[i], err, sizeof(err));
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct zap_img_fd *f = &img->fds[i];
		acc += strlen(zap_img_str(img, f->path_str));
		if (f->kind == ZAP_FD_DELETED && f->data_len) {
			char buf[4096];
			size_t n = f->data_len < sizeof(buf) ? f->data_len : sizeof(buf);
			uint64_t at = f->data_off + f->data_len - n; /* the last bytes */
			if (pread(img->fd, buf, n, (off_t)at) != (ssize_t)n)
				fuzz_broken(path,
					    "a deleted file's bytes lie past the end of the file");
			acc += (uint64_t)buf[0];
		}
	}
	(void)acc;
}

static int fuzz_is_shallow(const char *err)
{
	static const char *const shallow[] = {
		"checksum mismatch", "truncated",      "bad magic", "corrupt header",
		"not supported",     "machine type",   "page size", "outside the file",
		"appears twice",     "unknown section"};
	for (size_t i = 0; i < sizeof(shallow) / sizeof(shallow[0]); i++)
		if (strstr(err, shallow[i]))
			return 1;
	return 0;
}

static void fuzz_open(const char *path)
{
	struct zt_heap heap = {0};
	struct zap_img img;
	char err[512];
	memset(err, 0x55, sizeof(err));
	if (zap_img_open(&img, path, zt_heap_alloc, &heap, err, sizeof(err)) == 0) {
		fuzz_stats->opened++;
		fuzz_consume(&img, path);
	} else {
		size_t n = strlen(path);
		if (!memchr(err, 0, sizeof(err)) || strncmp(err, path, n) || err[n] != ':')
			fuzz_broken(path, "refused without a message naming the file");
		fuzz_stats->rejected++;
		fuzz_stats->deep += !fuzz_is_shallow(err);
	}
	zap_img_close(&img);
	zt_heap_release(&heap);
}

/* One input: a program, or (first byte 0xff) an image file as it is. */
static void fuzz_one(const uint8_t *data, size_t n, const char *path)
{
	if (n && data[0] == 0xff) {
		if (fuzz_write_file(path, data + 1, n - 1) == 0)
			fuzz_open(path);
		return;
	}
	struct fuzz_prog prog;
	fuzz_decode(data, n, &prog);
	if (fuzz_build(&prog, path) == 0)
		fuzz_open(path);
}

/* The temporary directory and file every run writes. */
static char fuzz_dir[4096], fuzz_path[4200];

static int fuzz_tmp_make(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/zap-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fuzz_dir)) {
		perror("fuzz-image: mkdtemp");
		return -1;
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/image.img", fuzz_dir);
	return 0;
}

static void fuzz_tmp_remove(void)
{
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

#ifdef FUZZ_STANDALONE
/* ---- the standalone driver ---- */
#include <sys/mman.h>
#include <sys/wait.h>

#define FUZZ_DEFAULT_SEED 0x7a617066757a7a31ull /* "zapfuzz1" */

static uint64_t fuzz_rng(uint64_t *s)
{
	/* splitmix64: every iteration's program comes from (seed, index) */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Iterations 0 and 1 are the unedited samples, which must open. */
static size_t fuzz_program(uint64_t seed, uint64_t iter, uint8_t *buf)
{
	uint64_t s = seed ^ (iter * 0xd1342543de82ef95ull);
	buf[0] = (uint8_t)(iter < 2 ? iter : fuzz_rng(&s));
	if (iter < 2)
		return 1;
	size_t nops = 1 + fuzz_rng(&s) % 8, n = 1 + nops * FUZZ_OP_BYTES;
	for (size_t i = 1; i < n; i++)
		buf[i] = (uint8_t)fuzz_rng(&s);
	return n;
}

static void fuzz_iteration(uint64_t seed, uint64_t iter)
{
	uint8_t buf[1 + FUZZ_MAX_OPS * FUZZ_OP_BYTES];
	size_t n = fuzz_program(seed, iter, buf);
	uint64_t opened = fuzz_stats->opened;
	alarm(10); /* a hang is a failure too */
	fuzz_one(buf, n, fuzz_path);
	alarm(0);
	if (iter < 2 && fuzz_stats->opened == opened)
		fuzz_broken(fuzz_path, "the unedited sample image does not open");
}

struct fuzz_shared {
	volatile uint64_t current; /* the iteration a batch child is in */
	struct fuzz_stats stats;
};

int main(int argc, char **argv)
{
	uint64_t iters = 20000, seed = FUZZ_DEFAULT_SEED, one = UINT64_MAX;
	int a = 1;
	if (a < argc && !strcmp(argv[a], "--one") && a + 1 < argc) {
		one = strtoull(argv[a + 1], NULL, 0);
		a += 2;
	} else if (a < argc) {
		iters = strtoull(argv[a++], NULL, 0);
	}
	if (a < argc)
		seed = strtoull(argv[a], NULL, 0);
	if (fuzz_tmp_make() < 0)
		return 2;
	if (one != UINT64_MAX) { /* in this process, so the sanitizer report comes straight out */
		fuzz_iteration(seed, one);
		printf("iteration %llu: %s\n", (unsigned long long)one,
		       fuzz_stats->opened ? "opened" : "refused");
		fuzz_tmp_remove();
		return 0;
	}
	struct fuzz_shared *sh =
		mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	fuzz_stats = &sh->stats;
	uint64_t passed = 0, failed = 0;
	/* Batches in a forked child: a crash ends the batch, the parent counts
	 * it against the iteration the child was in and goes on after it. */
	for (uint64_t start = 0; start < iters;) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fuzz-image: fork");
			return 2;
		}
		if (pid == 0) {
			for (uint64_t i = start; i < iters; i++) {
				sh->current = i;
				fuzz_iteration(seed, i);
			}
			sh->current = iters;
			exit(0); /* exit, not _exit: LeakSanitizer runs at exit */
		}
		int status;
		while (waitpid(pid, &status, 0) < 0)
			;
		uint64_t at = sh->current;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && at == iters) {
			passed += iters - start;
			break;
		}
		passed += at - start;
		failed++;
		if (at >= iters) { /* a report at exit, after the last iteration */
			fprintf(stderr,
				"fuzz-image: the batch from %llu failed at exit (status %#x)\n",
				(unsigned long long)start, status);
			break;
		}
		char keep[4300];
		snprintf(keep, sizeof(keep), "%s/crash-%llu.img", fuzz_dir, (unsigned long long)at);
		rename(fuzz_path, keep);
		fprintf(stderr,
			"fuzz-image: iteration %llu failed (%s %d); image kept as %s; "
			"rerun: %s --one %llu %#llx\n",
			(unsigned long long)at, WIFSIGNALED(status) ? "signal" : "exit",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), keep, argv[0],
			(unsigned long long)at, (unsigned long long)seed);
		start = at + 1;
	}
	if (!failed)
		fuzz_tmp_remove();
	printf("fuzz-image: seed %#llx: %llu images opened, %llu refused (%llu by a record "
	       "check)\n",
	       (unsigned long long)seed, (unsigned long long)sh->stats.opened,
	       (unsigned long long)sh->stats.rejected, (unsigned long long)sh->stats.deep);
	printf("%llu passed, %llu failed\n", (unsigned long long)passed,
	       (unsigned long long)failed);
	return failed ? 1 : 0;
}

#else
/* ---- libFuzzer ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	if (!fuzz_path[0]) {
		if (fuzz_tmp_make() < 0)
			abort();
		atexit(fuzz_tmp_remove);
	}
	fuzz_one(data, n, fuzz_path);
	return 0;
}
#endif
