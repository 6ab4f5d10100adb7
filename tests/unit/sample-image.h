/* Sample images for the unit tests and the fuzz target: a small process
 * (threads, regions with page runs, fds, strings, page data, the bytes of a
 * deleted file) and a small pod, kept as plain records so that a test can
 * spoil one field and write the result with the real writer (zap_imgw_*),
 * which then gets every checksum right except where the test says. */
#ifndef ZT_SAMPLE_IMAGE_H
#define ZT_SAMPLE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

#define ZT_NTHREADS 3
#define ZT_NREGIONS 3
#define ZT_NRUNS 4
#define ZT_NFDS 4
#define ZT_NMEMBERS 2
#define ZT_NPAGES 6	     /* pages over all runs */
#define ZT_FILEDATA_LEN 5000 /* the deleted file's bytes */
#define ZT_STRINGS_MAX 256

/* Indexes of the records some tests single out. */
#define ZT_FD_DELETED 2 /* fds[] entry whose bytes are in FILEDATA */

struct zt_image {
	uint32_t kind; /* enum zap_img_kind */
	uint64_t created_ns;

	/* ZAP_IMG_KIND_PROC; the n* counts are what the writer records, apart
	 * from proc.nthreads, so the two can be made to disagree */
	struct zap_img_proc proc;
	struct zap_img_thread threads[ZT_NTHREADS];
	struct zap_img_region regions[ZT_NREGIONS];
	struct zap_img_run runs[ZT_NRUNS];
	struct zap_img_fd fds[ZT_NFDS];
	uint32_t nthreads, nregions, nruns, nfds;
	char strings[ZT_STRINGS_MAX];
	uint32_t strings_len;
	unsigned char pages[ZT_NPAGES * ZAP_IMG_PAGE];
	unsigned char filedata[ZT_FILEDATA_LEN];
	uint64_t pages_off, pages_len, filedata_off, filedata_len; /* PAGES, FILEDATA */

	/* ZAP_IMG_KIND_POD */
	struct zap_img_pod pod;
	struct zap_img_member members[ZT_NMEMBERS];
	uint32_t nmembers;

	/* Called after the sections are written and before the header is, so
	 * a test can edit the section table and still get a valid header
	 * checksum.  NULL: no edit. */
	void (*edit_table)(struct zap_imgw *w, void *arg);
	void *edit_arg;

	/* The writer's state after zt_image_write: where each section went. */
	struct zap_imgw w;
};

/* Fills im with the sample process / pod; offsets and checksums of page
 * and file data are laid out already (zt_image_layout). */
void zt_image_proc(struct zt_image *im);
void zt_image_pod(struct zt_image *im);
/* Recomputes data offsets and checksums of runs and of the deleted file
 * from pages[] and filedata[], after a test changed them. */
void zt_image_layout(struct zt_image *im);
/* Writes im to fd (from offset 0; fd should be empty).  0 or -errno. */
long zt_image_write(struct zt_image *im, int fd);
/* The table entry of a section type after zt_image_write, NULL if absent. */
const struct zap_img_section *zt_image_section(const struct zt_image *im, uint32_t type);

/* An allocator for zap_img_open that remembers what it handed out, so
 * that a test or the fuzzer can free everything, including buffers the
 * reader dropped when it rejected a section. */
#define ZT_HEAP_MAX 32
struct zt_heap {
	void *ptr[ZT_HEAP_MAX];
	unsigned n;
};
void *zt_heap_alloc(void *heap, size_t n); /* a zap_alloc_fn; heap is a struct zt_heap */
void zt_heap_release(struct zt_heap *h);

#endif
