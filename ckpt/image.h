/* Writing and reading image files (format: include/zap/image.h).
 *
 * The writer runs in the checkpoint signal handler: it only calls pwrite.
 * The reader runs in the tools and in the static restorer: it validates
 * everything it hands out (magic, version, architecture, truncation,
 * checksums, record counts, string offsets, region order, run bounds), so
 * that code using a struct zap_img never has to check again, and it never
 * crashes on bad input (tests/fuzz feeds it garbage). */
#ifndef ZAP_CKPT_IMAGE_H
#define ZAP_CKPT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "zap/image.h"

/* ---- writer ---- */
struct zap_imgw {
	int fd;
	uint32_t kind;
	uint32_t nsect;
	struct zap_img_section sect[ZAP_SECT_MAX];
	uint64_t off; /* where the next section goes */
};

/* Page data starts at 4096, right after the header page. */
void zap_imgw_begin(struct zap_imgw *w, int fd, uint32_t kind);
/* Appends a metadata section (8-byte aligned).  0 or -errno. */
long zap_imgw_section(struct zap_imgw *w, uint32_t type, uint32_t count, const void *data,
		      uint64_t len);
/* Declares a byte range already written at [off, off+len) as a section
 * (PAGES, FILEDATA, SYSV_DATA); sum 0 means "checksummed inside". */
long zap_imgw_declare(struct zap_imgw *w, uint32_t type, uint64_t off, uint64_t len);
/* Writes the header and section table.  0 or -errno. */
long zap_imgw_finish(struct zap_imgw *w, uint64_t created_ns);

/* ---- reader ---- */
typedef void *(*zap_alloc_fn)(void *ctx, size_t n);

struct zap_img {
	int fd;
	const char *path;
	struct zap_img_header hdr;
	struct zap_img_section sect[ZAP_SECT_MAX]; /* by type; len 0 when absent */
	void *data[ZAP_SECT_MAX];                  /* loaded metadata sections */
	/* views into data[], valid after zap_img_open */
	const struct zap_img_pod *pod;
	const struct zap_img_member *members;
	const struct zap_img_proc *proc;
	const struct zap_img_thread *threads;
	const struct zap_img_region *regions;
	const struct zap_img_run *runs;
	const struct zap_img_fd *fds;
	const struct zap_img_pod_fd *pod_fds;
	const struct zap_img_pod_shm *pod_shm;
	const char *strings;
	const struct zap_img_sysv *sysv;           /* ZAP_IMG_KIND_SYSV */
	uint32_t nthreads, nregions, nruns, nfds, nmembers, npod_fds, npod_shm, nsysv;
	uint64_t strings_len;
};

/* Opens and validates path.  On failure returns -1 and writes into err a
 * message that names the file and the section ("IMAGE: section REGIONS:
 * checksum mismatch"); the caller adds nothing.  Either way the caller
 * frees the loaded sections (data[]) and calls zap_img_close. */
int zap_img_open(struct zap_img *img, const char *path, zap_alloc_fn alloc, void *ctx, char *err,
		 size_t errlen);
void zap_img_close(struct zap_img *img);
/* A string from STRINGS ("" for offset 0). */
const char *zap_img_str(const struct zap_img *img, uint32_t off);
/* Verifies the page data of one run against its checksum (reads it). */
int zap_img_check_run(const struct zap_img *img, const struct zap_img_run *run, char *err,
		      size_t errlen);

const char *zap_sect_name(uint32_t type);
/* The header checksum: of the header (with header_sum 0) and the table. */
uint32_t zap_img_header_sum(const struct zap_img_header *h, const struct zap_img_section *t,
			    uint32_t n);

#endif
