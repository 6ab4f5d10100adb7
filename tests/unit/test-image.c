/* ckpt/image.c: the writer and the reader.  Images are built from the
 * sample in sample-image.c with the real writer, spoiled in one place,
 * and the reader must refuse each with a message that names the file and
 * the section (include/zap/image.h, ckpt/image.h). */
#include "sample-image.h"
#include "unit.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct zt_image image_im; /* large: kept out of the test's stack frame */
static struct zt_heap image_heap;
static char image_err[512];

/* Writes im to <zt_dir>/name; the path is left in path. */
static const char *image_write(struct zt_image *im, const char *name, char *path, size_t n)
{
	zt_path(path, n, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "cannot create %s", path);
	long e = zt_image_write(im, fd);
	ck_assert_msg(e == 0, "writing %s: error %ld", path, -e);
	close(fd);
	return path;
}

static int image_open(struct zap_img *img, const char *path)
{
	image_err[0] = 0;
	return zap_img_open(img, path, zt_heap_alloc, &image_heap, image_err, sizeof(image_err));
}

static void image_close(struct zap_img *img)
{
	zap_img_close(img);
	zt_heap_release(&image_heap);
}

static void image_flip_byte(const char *path, uint64_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

/* The reader must refuse path (spoiled as what says) with a message that
 * starts with the path, names section sect (unless NULL) and says phrase. */
static void image_expect_reject(const char *what, const char *path, const char *sect,
				const char *phrase)
{
	struct zap_img img;
	int r = image_open(&img, path);
	image_close(&img);
	ck_assert_msg(r == -1, "%s: accepted; expected \"%s\"", what, phrase);
	size_t n = strlen(path);
	ck_assert_msg(!strncmp(image_err, path, n) && image_err[n] == ':',
		      "%s: message does not start with the path: %s", what, image_err);
	if (sect) {
		char want[64];
		snprintf(want, sizeof(want), ": section %s: ", sect);
		ck_assert_msg(strstr(image_err, want) != NULL, "%s: message does not name %s: %s",
			      what, sect, image_err);
	}
	ck_assert_msg(strstr(image_err, phrase) != NULL, "%s: message lacks \"%s\": %s", what,
		      phrase, image_err);
}

/* Writes the unspoiled sample of kind to <zt_dir>/name and opens it. */
static void image_sample_open(uint32_t kind, const char *name, char *path, size_t n,
			      struct zap_img *img)
{
	if (kind == ZAP_IMG_KIND_POD)
		zt_image_pod(&image_im);
	else
		zt_image_proc(&image_im);
	image_write(&image_im, name, path, n);
	ck_assert_msg(image_open(img, path) == 0, "%s", image_err);
}

/* ---- round trip ---- */

static void image_check_header(const struct zap_img *img, const struct zt_image *im,
			       const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_mem_eq(img->hdr.magic, ZAP_IMG_MAGIC, 8);
	ck_assert_uint_eq(img->hdr.version, ZAP_IMG_VERSION);
	ck_assert_uint_eq(img->hdr.arch, ZAP_IMG_ARCH_X86_64);
	ck_assert_uint_eq(img->hdr.page_size, ZAP_IMG_PAGE);
	ck_assert_uint_eq(img->hdr.kind, im->kind);
	ck_assert_uint_eq(img->hdr.nsect, im->w.nsect);
	ck_assert_uint_eq(img->hdr.file_size, (uint64_t)st.st_size);
	ck_assert_uint_eq(img->hdr.created_ns, im->created_ns);
	for (uint32_t i = 0; i < im->w.nsect; i++) {
		const struct zap_img_section *s = &im->w.sect[i];
		ck_assert_mem_eq(&img->sect[s->type], s, sizeof(*s));
	}
}

START_TEST(image_round_trip_proc)
{
	char path[PATH_MAX];
	struct zap_img img;
	image_sample_open(ZAP_IMG_KIND_PROC, "1000.img", path, sizeof(path), &img);
	const struct zt_image *im = &image_im;
	image_check_header(&img, im, path);
	ck_assert_uint_eq(im->w.nsect, 8); /* all but POD */
	ck_assert_ptr_eq(img.path, path);
	ck_assert_ptr_null(img.pod);
	ck_assert_uint_eq(img.nmembers, 0);
	ck_assert_mem_eq(img.proc, &im->proc, sizeof(im->proc));
	ck_assert_uint_eq(img.nthreads, ZT_NTHREADS);
	ck_assert_mem_eq(img.threads, im->threads, sizeof(im->threads));
	ck_assert_uint_eq(img.nregions, ZT_NREGIONS);
	ck_assert_mem_eq(img.regions, im->regions, sizeof(im->regions));
	ck_assert_uint_eq(img.nruns, ZT_NRUNS);
	ck_assert_mem_eq(img.runs, im->runs, sizeof(im->runs));
	ck_assert_uint_eq(img.nfds, ZT_NFDS);
	ck_assert_mem_eq(img.fds, im->fds, sizeof(im->fds));
	ck_assert_uint_eq(img.strings_len, im->strings_len);
	ck_assert_mem_eq(img.strings, im->strings, im->strings_len);
	ck_assert_uint_eq(img.sect[ZAP_SECT_PAGES].off, im->pages_off);
	ck_assert_uint_eq(img.sect[ZAP_SECT_PAGES].len, ZT_NPAGES * ZAP_IMG_PAGE);
	ck_assert_uint_eq(img.sect[ZAP_SECT_FILEDATA].off, im->filedata_off);
	ck_assert_uint_eq(img.sect[ZAP_SECT_FILEDATA].len, ZAP_PAGE_UP(ZT_FILEDATA_LEN));
	ck_assert_str_eq(zap_img_str(&img, img.proc->cwd_str), "/home/zap");
	ck_assert_str_eq(zap_img_str(&img, img.proc->exe_str), "/usr/bin/prog");
	ck_assert_str_eq(zap_img_str(&img, img.fds[ZT_FD_DELETED].path_str),
			 "/tmp/scratch (deleted)");
	ck_assert_str_eq(zap_img_str(&img, 0), "");
	ck_assert_str_eq(zap_img_str(&img, (uint32_t)img.strings_len), ""); /* out of range */
	for (uint32_t i = 0; i < img.nruns; i++) {
		int r = zap_img_check_run(&img, &img.runs[i], image_err, sizeof(image_err));
		ck_assert_msg(r == 0, "run %u: %s", i, image_err);
	}
	/* the deleted file's bytes, where the fd record says */
	unsigned char buf[ZT_FILEDATA_LEN];
	const struct zap_img_fd *f = &img.fds[ZT_FD_DELETED];
	ck_assert_int_eq(pread(img.fd, buf, f->data_len, (off_t)f->data_off), (ssize_t)f->data_len);
	ck_assert_mem_eq(buf, im->filedata, sizeof(buf));
	image_close(&img);
}
END_TEST

START_TEST(image_round_trip_pod)
{
	char path[PATH_MAX];
	struct zap_img img;
	image_sample_open(ZAP_IMG_KIND_POD, "pod.img", path, sizeof(path), &img);
	image_check_header(&img, &image_im, path);
	ck_assert_uint_eq(image_im.w.nsect, 1);
	ck_assert_ptr_null(img.proc);
	ck_assert_uint_eq(img.nthreads + img.nregions + img.nruns + img.nfds, 0);
	ck_assert_mem_eq(img.pod, &image_im.pod, sizeof(image_im.pod));
	ck_assert_uint_eq(img.nmembers, ZT_NMEMBERS);
	ck_assert_mem_eq(img.members, image_im.members, sizeof(image_im.members));
	ck_assert_str_eq(img.members[1].file, "1001.img");
	image_close(&img);
}
END_TEST

START_TEST(image_sect_names)
{
	ck_assert_str_eq(zap_sect_name(ZAP_SECT_POD), "POD");
	ck_assert_str_eq(zap_sect_name(ZAP_SECT_REGIONS), "REGIONS");
	ck_assert_str_eq(zap_sect_name(ZAP_SECT_FILEDATA), "FILEDATA");
	ck_assert_str_eq(zap_sect_name(0), "UNKNOWN");
	ck_assert_str_eq(zap_sect_name(ZAP_SECT_MAX), "UNKNOWN");
	ck_assert_str_eq(zap_sect_name(UINT32_MAX), "UNKNOWN");
}
END_TEST

/* ---- refused: records spoiled before writing, or the section table ---- */

static struct zap_img_section *image_entry(struct zap_imgw *w, uint32_t type)
{
	for (uint32_t i = 0; i < w->nsect; i++)
		if (w->sect[i].type == type)
			return &w->sect[i];
	ck_abort_msg("the writer made no %s section", zap_sect_name(type));
	return NULL;
}

static void spoil_overlap(struct zt_image *im)
{
	im->regions[1].start = im->regions[0].end - ZAP_IMG_PAGE;
}
static void spoil_unaligned(struct zt_image *im)
{
	im->regions[1].start += 0x800;
}
static void spoil_empty_region(struct zt_image *im)
{
	im->regions[2].end = im->regions[2].start;
}
static void spoil_region_path(struct zt_image *im)
{
	im->regions[0].path_str = im->strings_len + 4;
}
static void spoil_runs_past_end(struct zt_image *im)
{
	im->regions[2].nruns = 2;
}
static void spoil_run_past_region(struct zt_image *im)
{
	im->runs[3].addr = im->regions[2].end;
}
static void spoil_run_too_long(struct zt_image *im)
{
	im->runs[3].npages = 3;
}
static void spoil_run_before_prev(struct zt_image *im)
{
	im->runs[2].addr = im->runs[1].addr;
}
static void spoil_run_no_pages(struct zt_image *im)
{
	im->runs[0].npages = 0;
}
static void spoil_run_data_after(struct zt_image *im)
{
	im->runs[3].data_off = im->pages_off + im->pages_len;
}
static void spoil_run_data_before(struct zt_image *im)
{
	im->runs[0].data_off = 0;
}
static void spoil_run_data_unaligned(struct zt_image *im)
{
	im->runs[1].data_off += 8;
}
static void spoil_strings_unterminated(struct zt_image *im)
{
	im->strings[im->strings_len - 1] = 'x';
}
static void spoil_strings_empty(struct zt_image *im)
{
	im->strings_len = 0;
}
static void spoil_cwd_offset(struct zt_image *im)
{
	im->proc.cwd_str = im->strings_len;
}
static void spoil_auxv(struct zt_image *im)
{
	im->proc.auxv_words = ZAP_AUXV_WORDS + 1;
}
static void spoil_thread_count(struct zt_image *im)
{
	im->proc.nthreads = ZT_NTHREADS - 1;
}
static void spoil_no_threads(struct zt_image *im)
{
	im->nthreads = 0;
}
static void spoil_no_main(struct zt_image *im)
{
	im->threads[0].flags = ZAP_THREAD_LEADER;
}
static void spoil_two_mains(struct zt_image *im)
{
	im->threads[2].flags |= ZAP_THREAD_MAIN;
}
static void spoil_fd_data_long(struct zt_image *im)
{
	im->fds[ZT_FD_DELETED].data_len = im->filedata_len + 1;
}
static void spoil_fd_data_before(struct zt_image *im)
{
	im->fds[ZT_FD_DELETED].data_off = im->filedata_off - ZAP_IMG_PAGE;
}
static void spoil_fd_negative(struct zt_image *im)
{
	im->fds[1].fd = -3;
}
static void spoil_member_slash(struct zt_image *im)
{
	memcpy(im->members[1].file, "../1001.img", 12);
}
static void spoil_member_empty(struct zt_image *im)
{
	im->members[0].file[0] = 0;
}
static void spoil_member_unterminated(struct zt_image *im)
{
	memset(im->members[1].file, 'a', sizeof(im->members[1].file));
}
static void spoil_member_count(struct zt_image *im)
{
	im->pod.nmembers = ZT_NMEMBERS + 1;
}
static void spoil_pod_name(struct zt_image *im)
{
	memset(im->pod.name, 'x', sizeof(im->pod.name));
}

static void edit_duplicate(struct zap_imgw *w, void *arg)
{
	(void)arg;
	w->sect[w->nsect] = *image_entry(w, ZAP_SECT_REGIONS);
	w->nsect++;
}
static void edit_past_end(struct zap_imgw *w, void *arg)
{
	(void)arg;
	image_entry(w, ZAP_SECT_STRINGS)->len += ZAP_IMG_PAGE;
}
static void edit_huge_len(struct zap_imgw *w, void *arg)
{
	(void)arg;
	image_entry(w, ZAP_SECT_PAGES)->len = UINT64_MAX;
}
static void edit_beyond_file(struct zap_imgw *w, void *arg)
{
	(void)arg;
	image_entry(w, ZAP_SECT_FILEDATA)->off = w->off + ZAP_IMG_PAGE;
}
static void edit_in_header(struct zap_imgw *w, void *arg)
{
	(void)arg;
	image_entry(w, ZAP_SECT_THREADS)->off = 0;
}
static void edit_count(struct zap_imgw *w, void *arg)
{
	(void)arg;
	image_entry(w, ZAP_SECT_THREADS)->count++;
}
static void edit_drop_runs(struct zap_imgw *w, void *arg)
{
	(void)arg;
	*image_entry(w, ZAP_SECT_RUNS) = w->sect[--w->nsect];
}
static void edit_unknown_type(struct zap_imgw *w, void *arg)
{
	(void)arg;
	image_entry(w, ZAP_SECT_FDS)->type = 42;
}

static const struct image_case {
	const char *what;
	uint32_t kind;
	void (*spoil)(struct zt_image *im);
	void (*edit)(struct zap_imgw *w, void *arg);
	const char *sect, *phrase;
} image_cases[] = {
	{"overlapping regions", ZAP_IMG_KIND_PROC, spoil_overlap, NULL, "REGIONS",
	 "region 1 at 402000 overlaps"},
	{"region not page-aligned", ZAP_IMG_KIND_PROC, spoil_unaligned, NULL, "REGIONS",
	 "region 1 has a bad range"},
	{"empty region", ZAP_IMG_KIND_PROC, spoil_empty_region, NULL, "REGIONS",
	 "region 2 has a bad range"},
	{"region path offset", ZAP_IMG_KIND_PROC, spoil_region_path, NULL, "REGIONS",
	 "out of range"},
	{"region runs past the end", ZAP_IMG_KIND_PROC, spoil_runs_past_end, NULL, "REGIONS",
	 "runs past the end"},
	{"run after its region", ZAP_IMG_KIND_PROC, spoil_run_past_region, NULL, "RUNS",
	 "outside region 2"},
	{"run longer than its region", ZAP_IMG_KIND_PROC, spoil_run_too_long, NULL, "RUNS",
	 "outside region 2"},
	{"run before the previous one", ZAP_IMG_KIND_PROC, spoil_run_before_prev, NULL, "RUNS",
	 "outside region 1"},
	{"run of no pages", ZAP_IMG_KIND_PROC, spoil_run_no_pages, NULL, "RUNS",
	 "outside region 0"},
	{"run data after PAGES", ZAP_IMG_KIND_PROC, spoil_run_data_after, NULL, "RUNS",
	 "outside the page data"},
	{"run data before PAGES", ZAP_IMG_KIND_PROC, spoil_run_data_before, NULL, "RUNS",
	 "outside the page data"},
	{"run data unaligned", ZAP_IMG_KIND_PROC, spoil_run_data_unaligned, NULL, "RUNS",
	 "outside the page data"},
	{"strings not terminated", ZAP_IMG_KIND_PROC, spoil_strings_unterminated, NULL, "STRINGS",
	 "not NUL-terminated"},
	{"strings empty", ZAP_IMG_KIND_PROC, spoil_strings_empty, NULL, "STRINGS",
	 "not NUL-terminated"},
	{"cwd offset out of range", ZAP_IMG_KIND_PROC, spoil_cwd_offset, NULL, "PROC",
	 "string offset out of range"},
	{"auxv too long", ZAP_IMG_KIND_PROC, spoil_auxv, NULL, "PROC", "auxv too long"},
	{"thread count mismatch", ZAP_IMG_KIND_PROC, spoil_thread_count, NULL, "THREADS",
	 "3 threads recorded, process says 2"},
	{"no threads", ZAP_IMG_KIND_PROC, spoil_no_threads, NULL, "THREADS", "0 threads recorded"},
	{"no main thread", ZAP_IMG_KIND_PROC, spoil_no_main, NULL, "THREADS", "0 main threads"},
	{"two main threads", ZAP_IMG_KIND_PROC, spoil_two_mains, NULL, "THREADS", "2 main threads"},
	{"fd data longer than FILEDATA", ZAP_IMG_KIND_PROC, spoil_fd_data_long, NULL, "FDS",
	 "outside FILEDATA"},
	{"fd data before FILEDATA", ZAP_IMG_KIND_PROC, spoil_fd_data_before, NULL, "FDS",
	 "outside FILEDATA"},
	{"negative fd", ZAP_IMG_KIND_PROC, spoil_fd_negative, NULL, "FDS", "malformed"},
	{"member file with a slash", ZAP_IMG_KIND_POD, spoil_member_slash, NULL, "POD",
	 "member 1 has a bad file name"},
	{"member file empty", ZAP_IMG_KIND_POD, spoil_member_empty, NULL, "POD",
	 "member 0 has a bad file name"},
	{"member file unterminated", ZAP_IMG_KIND_POD, spoil_member_unterminated, NULL, "POD",
	 "member 1 has a bad file name"},
	{"member count", ZAP_IMG_KIND_POD, spoil_member_count, NULL, "POD", "3 members recorded"},
	{"pod name unterminated", ZAP_IMG_KIND_POD, spoil_pod_name, NULL, "POD", "not terminated"},
	{"duplicate section", ZAP_IMG_KIND_PROC, NULL, edit_duplicate, "REGIONS", "appears twice"},
	{"section past the end", ZAP_IMG_KIND_PROC, NULL, edit_past_end, "STRINGS",
	 "outside the file"},
	{"section of 2^64-1 bytes", ZAP_IMG_KIND_PROC, NULL, edit_huge_len, "PAGES",
	 "outside the file"},
	{"section beyond the file", ZAP_IMG_KIND_PROC, NULL, edit_beyond_file, "FILEDATA",
	 "outside the file"},
	{"section in the header page", ZAP_IMG_KIND_PROC, NULL, edit_in_header, "THREADS",
	 "outside the file"},
	{"record count mismatch", ZAP_IMG_KIND_PROC, NULL, edit_count, "THREADS",
	 "4 records do not fill"},
	{"missing section", ZAP_IMG_KIND_PROC, NULL, edit_drop_runs, "RUNS", "missing"},
	{"unknown section type", ZAP_IMG_KIND_PROC, NULL, edit_unknown_type, NULL,
	 "unknown section type 42"},
};

START_TEST(image_rejects_case)
{
	const struct image_case *c = &image_cases[_i];
	char path[PATH_MAX];
	if (c->kind == ZAP_IMG_KIND_POD)
		zt_image_pod(&image_im);
	else
		zt_image_proc(&image_im);
	if (c->spoil)
		c->spoil(&image_im);
	image_im.edit_table = c->edit;
	image_write(&image_im, "bad.img", path, sizeof(path));
	image_expect_reject(c->what, path, c->sect, c->phrase);
}
END_TEST

/* ---- refused: the file patched after writing ---- */

/* Sets one 4-byte header field and, with fix_sum, makes the header checksum
 * right again: an image well-formed but from elsewhere. */
static void image_patch_header(const char *path, size_t off, uint32_t value, int fix_sum)
{
	unsigned char page[ZAP_IMG_PAGE];
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, page, sizeof(page), 0), (ssize_t)sizeof(page));
	memcpy(page + off, &value, sizeof(value));
	if (fix_sum) {
		struct zap_img_header h;
		struct zap_img_section t[ZAP_SECT_MAX];
		memcpy(&h, page, sizeof(h));
		ck_assert_uint_le(h.nsect, ZAP_SECT_MAX);
		memcpy(t, page + sizeof(h), h.nsect * sizeof(t[0]));
		h.header_sum = zap_img_header_sum(&h, t, h.nsect);
		memcpy(page, &h, sizeof(h));
	}
	ck_assert_int_eq(pwrite(fd, page, sizeof(page), 0), (ssize_t)sizeof(page));
	close(fd);
}

static const struct image_hdr_case {
	const char *what;
	size_t off;
	uint32_t value;
	int fix_sum;
	const char *sect, *phrase;
} image_hdr_cases[] = {
	{"bad magic", offsetof(struct zap_img_header, magic), 0x474d4950 /* "PIMG" */, 1, NULL,
	 "bad magic"},
	{"version 7", offsetof(struct zap_img_header, version), 7, 1, NULL,
	 "version 7 is not supported"},
	{"arch 3", offsetof(struct zap_img_header, arch), 3, 1, NULL, "machine type 3"},
	{"page size 8192", offsetof(struct zap_img_header, page_size), 8192, 1, NULL,
	 "page size 8192"},
	{"version 7, sum not fixed", offsetof(struct zap_img_header, version), 7, 0, NULL,
	 "version 7"},
	{"nsect too large", offsetof(struct zap_img_header, nsect), ZAP_SECT_MAX + 1, 0, NULL,
	 "corrupt header"},
	{"sect_off moved", offsetof(struct zap_img_header, sect_off), 96, 1, NULL,
	 "corrupt header"},
	{"unknown kind", offsetof(struct zap_img_header, kind), 9, 1, NULL, "unknown image kind 9"},
	{"process file said to be a pod", offsetof(struct zap_img_header, kind), ZAP_IMG_KIND_POD,
	 1, "POD", "missing"},
};

START_TEST(image_rejects_header)
{
	const struct image_hdr_case *c = &image_hdr_cases[_i];
	char path[PATH_MAX];
	zt_image_proc(&image_im);
	image_write(&image_im, "hdr.img", path, sizeof(path));
	image_patch_header(path, c->off, c->value, c->fix_sum);
	image_expect_reject(c->what, path, c->sect, c->phrase);
}
END_TEST

START_TEST(image_rejects_header_sum)
{
	char path[PATH_MAX];
	zt_image_pod(&image_im);
	image_write(&image_im, "sum.img", path, sizeof(path));
	image_flip_byte(path, offsetof(struct zap_img_header, header_sum));
	image_expect_reject("header_sum flipped", path, NULL, "header checksum mismatch");
	/* a byte of the section table is covered by the same sum */
	image_flip_byte(path, offsetof(struct zap_img_header, header_sum));
	image_flip_byte(path,
			sizeof(struct zap_img_header) + offsetof(struct zap_img_section, sum));
	image_expect_reject("table entry flipped", path, NULL, "header checksum mismatch");
	/* and so is a header field checked after it */
	image_flip_byte(path,
			sizeof(struct zap_img_header) + offsetof(struct zap_img_section, sum));
	image_flip_byte(path, offsetof(struct zap_img_header, kind));
	image_expect_reject("kind flipped", path, NULL, "header checksum mismatch");
}
END_TEST

/* Cut points: inside the header, inside the header page, inside the page
 * data, at FILEDATA, inside the metadata, one byte short. */
static uint64_t image_cut_point(const struct zt_image *im, uint64_t size, int i)
{
	const uint64_t cuts[] = {0,
				 1,
				 sizeof(struct zap_img_header) - 1,
				 sizeof(struct zap_img_header),
				 2048,
				 ZAP_IMG_PAGE - 1,
				 ZAP_IMG_PAGE,
				 im->pages_off + 100,
				 im->filedata_off,
				 size - 100,
				 size - 1};
	return cuts[i];
}
#define IMAGE_NCUTS 11

START_TEST(image_rejects_truncated)
{
	char path[PATH_MAX];
	zt_image_proc(&image_im);
	image_write(&image_im, "cut.img", path, sizeof(path));
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	uint64_t cut = image_cut_point(&image_im, (uint64_t)st.st_size, _i);
	ck_assert_uint_lt(cut, (uint64_t)st.st_size);
	ck_assert_int_eq(truncate(path, (off_t)cut), 0);
	char what[64];
	snprintf(what, sizeof(what), "cut at %lu", (unsigned long)cut);
	image_expect_reject(what, path, NULL, "truncated");
}
END_TEST

static const uint32_t image_meta_types[] = {ZAP_SECT_PROC, ZAP_SECT_THREADS, ZAP_SECT_REGIONS,
					    ZAP_SECT_RUNS, ZAP_SECT_FDS,     ZAP_SECT_STRINGS,
					    ZAP_SECT_POD};
#define IMAGE_NMETA (sizeof(image_meta_types) / sizeof(image_meta_types[0]))

/* One byte flipped in each metadata section: its first, middle or last. */
START_TEST(image_rejects_flipped_section)
{
	uint32_t type = image_meta_types[_i / 3];
	char path[PATH_MAX];
	if (type == ZAP_SECT_POD)
		zt_image_pod(&image_im);
	else
		zt_image_proc(&image_im);
	image_write(&image_im, "flip.img", path, sizeof(path));
	const struct zap_img_section *s = zt_image_section(&image_im, type);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(s->len, 0);
	uint64_t at[3] = {s->off, s->off + s->len / 2, s->off + s->len - 1};
	image_flip_byte(path, at[_i % 3]);
	char what[64];
	snprintf(what, sizeof(what), "byte %lu flipped", (unsigned long)at[_i % 3]);
	image_expect_reject(what, path, zap_sect_name(type), "checksum mismatch");
}
END_TEST

START_TEST(image_rejects_not_a_file)
{
	char path[PATH_MAX];
	image_expect_reject("a directory", zt_dir, NULL, "not a regular file");
	zt_path(path, sizeof(path), "absent.img");
	image_expect_reject("no such file", path, NULL, "cannot open");
}
END_TEST

/* ---- page data ---- */

/* Each run: intact it passes; one byte flipped in its last page fails
 * (naming the file, PAGES and the run's address) and no other run does. */
START_TEST(image_check_run_flip)
{
	char path[PATH_MAX];
	zt_image_proc(&image_im);
	image_write(&image_im, "pages.img", path, sizeof(path));
	const struct zap_img_run *bad = &image_im.runs[_i];
	image_flip_byte(path, bad->data_off + bad->npages * ZAP_IMG_PAGE - 1000);
	struct zap_img img;
	ck_assert_msg(image_open(&img, path) == 0, "%s",
		      image_err); /* pages are not read at open */
	for (uint32_t i = 0; i < img.nruns; i++) {
		int r = zap_img_check_run(&img, &img.runs[i], image_err, sizeof(image_err));
		if (i != (uint32_t)_i) {
			ck_assert_msg(r == 0, "run %u: %s", i, image_err);
			continue;
		}
		char addr[32];
		snprintf(addr, sizeof(addr), "%lx", (unsigned long)bad->addr);
		ck_assert_int_eq(r, -1);
		ck_assert_msg(!strncmp(image_err, path, strlen(path)), "%s", image_err);
		ck_assert_msg(strstr(image_err, "section PAGES: checksum mismatch"), "%s",
			      image_err);
		ck_assert_msg(strstr(image_err, addr), "%s lacks %s", image_err, addr);
	}
	image_close(&img);
	image_flip_byte(path, bad->data_off + bad->npages * ZAP_IMG_PAGE - 1000);
	ck_assert_msg(image_open(&img, path) == 0, "%s", image_err);
	ck_assert_msg(zap_img_check_run(&img, &img.runs[_i], image_err, sizeof(image_err)) == 0,
		      "%s", image_err);
	image_close(&img);
}
END_TEST

/* A run whose pages the file no longer holds is a read error, not a hang. */
START_TEST(image_check_run_short_file)
{
	char path[PATH_MAX];
	struct zap_img img;
	image_sample_open(ZAP_IMG_KIND_PROC, "short.img", path, sizeof(path), &img);
	ck_assert_int_eq(truncate(path, (off_t)img.runs[3].data_off), 0);
	ck_assert_int_eq(zap_img_check_run(&img, &img.runs[3], image_err, sizeof(image_err)), -1);
	ck_assert_msg(strstr(image_err, "section PAGES: read error"), "%s", image_err);
	image_close(&img);
}
END_TEST

static Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = zt_tcase(s, "round-trip", ZT_WITH_DIR);
	tcase_add_test(tc, image_round_trip_proc);
	tcase_add_test(tc, image_round_trip_pod);
	tcase_add_test(tc, image_sect_names);

	tc = zt_tcase(s, "reject", ZT_WITH_DIR);
	tcase_add_loop_test(tc, image_rejects_case, 0,
			    sizeof(image_cases) / sizeof(image_cases[0]));
	tcase_add_loop_test(tc, image_rejects_header, 0,
			    sizeof(image_hdr_cases) / sizeof(image_hdr_cases[0]));
	tcase_add_test(tc, image_rejects_header_sum);
	tcase_add_loop_test(tc, image_rejects_truncated, 0, IMAGE_NCUTS);
	tcase_add_loop_test(tc, image_rejects_flipped_section, 0, 3 * IMAGE_NMETA);
	tcase_add_test(tc, image_rejects_not_a_file);

	tc = zt_tcase(s, "pages", ZT_WITH_DIR);
	tcase_add_loop_test(tc, image_check_run_flip, 0, ZT_NRUNS);
	tcase_add_test(tc, image_check_run_short_file);
	return s;
}
ZT_SUITE(image_suite);
