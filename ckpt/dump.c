/* One process image file: the order in which the resource kinds are
 * captured and the layout of the file (header page, page data, deleted
 * files' bytes, then the metadata sections). */
#include "dump.h"
#include "sys.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>

/* Scratch reserve: only what is used is ever touched. */
#define SCRATCH_SIZE (1ull << 30)
#define MAX_REGIONS 70000   /* above vm.max_map_count's default */
#define MAX_RUNS (8u << 20)
#define MAX_FDS 65536
#define MAX_STRINGS (8u << 20)
#define MAX_EPOLL (1u << 20)

int zap_dump_error(struct zap_dump *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	zap_vfmt(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return -1;
}

uint32_t zap_dump_string(struct zap_dump *d, const char *s)
{
	size_t n = strlen(s) + 1;
	if (n == 1)
		return 0;
	if (d->strings_len + n > d->strings_cap)
		return 0;
	uint32_t at = d->strings_len;
	memcpy(d->strings + at, s, n);
	d->strings_len += (uint32_t)n;
	return at;
}

static int dump_setup(struct zap_dump *d)
{
	if (zap_scratch_init(&d->scratch, 0, SCRATCH_SIZE) < 0)
		return zap_dump_error(d, "cannot reserve scratch memory");
	if (d->nexclude < ZAP_DUMP_MAX_EXCLUDE) {
		d->exclude[d->nexclude][0] = (uint64_t)d->scratch.base;
		d->exclude[d->nexclude++][1] = (uint64_t)d->scratch.base + d->scratch.cap;
	}
	d->regions_cap = MAX_REGIONS;
	d->runs_cap = MAX_RUNS;
	d->fds_cap = MAX_FDS;
	d->strings_cap = MAX_STRINGS;
	d->epoll_cap = MAX_EPOLL;
	d->regions = zap_scratch_alloc(&d->scratch, sizeof(*d->regions) * d->regions_cap);
	d->runs = zap_scratch_alloc(&d->scratch, sizeof(*d->runs) * d->runs_cap);
	d->fds = zap_scratch_alloc(&d->scratch, sizeof(*d->fds) * d->fds_cap);
	d->strings = zap_scratch_alloc(&d->scratch, d->strings_cap);
	d->epoll = zap_scratch_alloc(&d->scratch, sizeof(*d->epoll) * d->epoll_cap);
	if (!d->regions || !d->runs || !d->fds || !d->strings || !d->epoll)
		return zap_dump_error(d, "scratch memory too small");
	d->strings[0] = 0;
	d->strings_len = 1;
	return 0;
}

static int dump_write(struct zap_dump *d)
{
	struct zap_imgw w;
	zap_imgw_begin(&w, d->img_fd, ZAP_IMG_KIND_PROC);
	uint64_t cursor = ZAP_IMG_PAGE;
	if (zap_mem_write_pages(d, &cursor) < 0)
		return -1;
	zap_imgw_declare(&w, ZAP_SECT_PAGES, ZAP_IMG_PAGE, cursor - ZAP_IMG_PAGE); /* table empty yet */
	uint64_t fdata = cursor;
	if (zap_fd_write_data(d, &cursor) < 0)
		return -1;
	if (cursor > fdata)
		zap_imgw_declare(&w, ZAP_SECT_FILEDATA, fdata, cursor - fdata);
	w.off = cursor;
	long e;
	if ((e = zap_imgw_section(&w, ZAP_SECT_PROC, 1, &d->proc, sizeof(d->proc))) < 0 ||
	    (e = zap_imgw_section(&w, ZAP_SECT_THREADS, d->nthreads, d->threads,
				  sizeof(*d->threads) * d->nthreads)) < 0 ||
	    (e = zap_imgw_section(&w, ZAP_SECT_REGIONS, d->nregions, d->regions,
				  sizeof(*d->regions) * d->nregions)) < 0 ||
	    (e = zap_imgw_section(&w, ZAP_SECT_RUNS, d->nruns, d->runs, sizeof(*d->runs) * d->nruns)) < 0 ||
	    (e = zap_imgw_section(&w, ZAP_SECT_FDS, d->nfds, d->fds, sizeof(*d->fds) * d->nfds)) < 0 ||
	    (e = zap_imgw_section(&w, ZAP_SECT_STRINGS, 0, d->strings, d->strings_len)) < 0 ||
	    (e = zap_imgw_finish(&w, z_now_ns(0))) < 0)
		return zap_dump_error(d, "cannot write %s: %s", d->path, zap_strerror(e));
	d->stats.bytes_written = w.off;
	return 0;
}

int zap_dump_process(struct zap_dump *d)
{
	uint64_t t0 = z_now_ns(1);
	d->img_fd = -1;
	int rc = dump_setup(d);
	if (rc == 0) {
		/* no O_TRUNC: a spare's pages are written over, not freed and
		 * allocated again; zap_imgw_finish sets the final size */
		long fd = z_open(d->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			rc = zap_dump_error(d, "cannot create %s: %s", d->path, zap_strerror(fd));
		else
			d->img_fd = (int)fd;
	}
	if (rc == 0)
		rc = zap_proc_collect(d);
	if (rc == 0)
		rc = zap_mem_collect(d);
	if (rc == 0)
		rc = zap_fd_collect(d);
	if (rc == 0)
		rc = dump_write(d);
	if (d->img_fd >= 0)
		z_close(d->img_fd);
	zap_scratch_free(&d->scratch);
	d->stats.usec = (z_now_ns(1) - t0) / 1000;
	return rc;
}
