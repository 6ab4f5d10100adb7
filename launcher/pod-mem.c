/* Memory shared between the members of a pod without a file: a
 * MAP_SHARED | MAP_ANONYMOUS mapping made before a fork (a server's
 * scoreboard, a worker pool's counters), or a memfd two members map.
 *
 * Each member stores the pages of such a region in its own process file,
 * with the inode of the shmem object it maps (zap_img_region.shm_ino).
 * Checkpoint: regions of different members with one inode are one object
 * (POD_SHM in pod.img).  Restart: `zap restart` makes each object once, a
 * memfd filled with the pages the members stored, at fds every restorer
 * inherits; each restorer maps it at its region's address instead of
 * restoring the pages, so that the members share the memory again. */
#include "image.h"
#include "podfds.h"
#include "stream.h"
#include "util.h"
#include "zap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int shared_anon(const struct zap_img_region *r)
{
	return (r->flags & ZAP_REG_SHARED) && r->shm_ino && !(r->flags & (ZAP_REG_SYSV | ZAP_REG_FILE));
}

int zap_pod_mem_collect(const char *dir, const struct zap_pod_proc *procs, int nprocs,
			struct zap_img_pod_shm **out, uint32_t *nout, char *err, size_t errlen)
{
	struct cand {
		int proc;
		uint32_t region;
		uint64_t ino, end_off;
	} *c = NULL;
	size_t n = 0, cap = 0;
	*out = NULL;
	*nout = 0;
	for (int p = 0; p < nprocs; p++) {
		if (procs[p].zombie)
			continue;
		struct zap_img img;
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/%d.img", dir, (int)procs[p].vpid);
		if (zap_img_open(&img, path, zap_image_alloc, NULL, err, errlen) < 0) {
			zap_image_free(&img);
			free(c);
			return -1;
		}
		for (uint32_t i = 0; i < img.nregions; i++) {
			const struct zap_img_region *r = &img.regions[i];
			if (!shared_anon(r))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				struct cand *nc = realloc(c, cap * sizeof(*c));
				if (!nc) {
					zap_image_free(&img);
					free(c);
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				c = nc;
			}
			c[n++] = (struct cand){p, i, r->shm_ino, r->pgoff + (r->end - r->start)};
		}
		zap_image_free(&img);
	}
	struct zap_img_pod_shm *recs = calloc(n ? n : 1, sizeof(*recs));
	if (!recs) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint32_t nrec = 0, nobj = 0;
	for (size_t i = 0; i < n; i++) {
		int first = 1, spans = 0;
		uint64_t size = 0;
		for (size_t k = 0; k < n; k++) {
			if (c[k].ino != c[i].ino)
				continue;
			first &= k >= i;
			spans |= c[k].proc != c[i].proc;
			size = c[k].end_off > size ? c[k].end_off : size;
		}
		if (!first || !spans)
			continue;
		for (size_t k = i; k < n; k++)
			if (c[k].ino == c[i].ino)
				recs[nrec++] = (struct zap_img_pod_shm){procs[c[k].proc].vpid, c[k].region, nobj, 0,
									 ZAP_PAGE_UP(size)};
		nobj++;
	}
	free(c);
	*out = recs;
	*nout = nrec;
	return 0;
}

/* Writes the pages one member stored for region reg into the object at fd,
 * at their offsets in it; checks each run. */
static int fill_from(const struct zap_img *img, const struct zap_img_region *reg, int fd,
		     const struct zap_stream *stream)
{
	static char buf[ZAP_SUM_CHUNK];
	int sidx = stream ? zap_stream_find(stream, img->path) : -1;
	for (uint32_t k = 0; k < reg->nruns; k++) {
		const struct zap_img_run *run = &img->runs[reg->first_run + k];
		uint64_t len = run->npages * ZAP_IMG_PAGE, sum = run->addr;
		uint64_t at = reg->pgoff + (run->addr - reg->start);
		for (uint64_t done = 0; done < len;) {
			size_t m = len - done < sizeof(buf) ? len - done : sizeof(buf);
			long e = zap_stream_wait(stream, sidx, run->data_off + done + m);
			if (e < 0)
				return (int)e;
			if (pread(img->fd, buf, m, (off_t)(run->data_off + done)) != (ssize_t)m ||
			    pwrite(fd, buf, m, (off_t)(at + done)) != (ssize_t)m)
				return -EIO;
			sum = zap_sum64(buf, m, sum);
			done += m;
		}
		if (sum != run->sum)
			return -EBADMSG;
	}
	return 0;
}

int zap_pod_mem_open(const char *dir, const struct zap_img *pod, int base,
		     const struct zap_stream *stream, char *err, size_t errlen)
{
	uint32_t nobj = 0;
	for (uint32_t i = 0; i < pod->npod_shm; i++)
		if (pod->pod_shm[i].object + 1 > nobj)
			nobj = pod->pod_shm[i].object + 1;
	int made = 0, rc = 0;
	for (uint32_t k = 0; k < nobj && rc == 0; k++) {
		int fd = memfd_create("zap-pod-shm", 0);
		if (fd < 0) {
			snprintf(err, errlen, "cannot make the pod's shared memory: %s", strerror(errno));
			rc = -1;
			break;
		}
		for (uint32_t i = 0; i < pod->npod_shm && rc == 0; i++) {
			const struct zap_img_pod_shm *m = &pod->pod_shm[i];
			if (m->object != k)
				continue;
			if (ftruncate(fd, (off_t)m->size) < 0) {
				snprintf(err, errlen, "cannot make %lu bytes of the pod's shared memory: %s",
					 (unsigned long)m->size, strerror(errno));
				rc = -1;
				break;
			}
			/* every member's stored pages: they are the same memory */
			const struct zap_img_member *mem = NULL;
			for (uint32_t j = 0; j < pod->nmembers; j++)
				if (pod->members[j].pid == m->pid)
					mem = &pod->members[j];
			struct zap_img img;
			char path[PATH_MAX + 64];
			snprintf(path, sizeof(path), "%s/%s", dir, mem ? mem->file : "?");
			if (zap_img_open(&img, path, zap_image_alloc, NULL, err, errlen) < 0) {
				rc = -1;
			} else if (m->region >= img.nregions) {
				snprintf(err, errlen, "%s/pod.img: section POD_SHM: region %u of %s does not exist",
					 dir, m->region, path);
				rc = -1;
			} else {
				int e = fill_from(&img, &img.regions[m->region], fd, stream);
				if (e)
					snprintf(err, errlen, "%s: section PAGES: %s in the pod's shared memory", path,
						 e == -EBADMSG	       ? "checksum mismatch"
						 : e == -ECANCELED || e == -ETIMEDOUT ? zap_stream_strerror(e)
										     : strerror(-e));
				rc = e ? -1 : 0;
			}
			zap_image_free(&img);
		}
		if (rc == 0 && dup2(fd, base + (int)k) < 0) {
			snprintf(err, errlen, "cannot place the pod's shared memory: %s", strerror(errno));
			rc = -1;
		}
		if (fd != base + (int)k)
			close(fd);
		made += rc == 0;
	}
	if (rc < 0) {
		for (int k = 0; k < made; k++)
			close(base + k);
		return -1;
	}
	return (int)nobj;
}
