/* Waiting for page data zapd has not received yet.  A reader checks the
 * condition, reads the generation, checks again, and sleeps on the
 * generation; zapd bumps it and wakes everybody after every change, so no
 * wake-up is lost between the check and the sleep. */
#include "stream.h"
#include "sys.h"

#include <errno.h>
#include <sys/mman.h>

#define Z_FUTEX_WAIT_SHARED 0

long zap_stream_map(int fd, uint64_t addr, const struct zap_stream **out)
{
	long p = z_mmap(addr, sizeof(struct zap_stream), PROT_READ,
			MAP_SHARED | (addr ? MAP_FIXED_NOREPLACE : 0), fd, 0);
	if (p < 0 && p > -4096)
		return p;
	const struct zap_stream *s = (const struct zap_stream *)p;
	if (s->magic != ZAP_STREAM_MAGIC || s->nfiles > ZAP_STREAM_MAX_FILES) {
		z_munmap((uint64_t)p, sizeof(struct zap_stream));
		return -EBADMSG;
	}
	*out = s;
	return 0;
}

int zap_stream_find(const struct zap_stream *s, const char *path)
{
	const char *base = path;
	for (const char *c = path; *c; c++)
		if (*c == '/')
			base = c + 1;
	uint32_t n = __atomic_load_n(&s->nfiles, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++) {
		const char *a = s->file[i].name, *b = base;
		int k = 0;
		while (k < ZAP_STREAM_NAME && a[k] && a[k] == b[k])
			k++;
		if (k < ZAP_STREAM_NAME && a[k] == b[k])
			return (int)i;
	}
	return -1;
}

/* Sleeps until the generation moves from gen, at most one second (so that
 * a writer that died is noticed within a second or two). */
static void stream_sleep(const struct zap_stream *s, uint32_t gen)
{
	struct { long sec, nsec; } one = {1, 0};
	zsys4(SYS_futex, &s->gen, Z_FUTEX_WAIT_SHARED, gen, &one);
}

/* ready(s, idx, end): the condition waited for; 1 when met. */
static long stream_wait_for(const struct zap_stream *s, int (*ready)(const struct zap_stream *, int, uint64_t),
			    int idx, uint64_t end)
{
	int idle = 0;
	uint32_t last = __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
	for (;;) {
		uint32_t gen = __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
		if (ready(s, idx, end))
			return 0;
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == ZAP_STREAM_ABORTED)
			return -ECANCELED;
		if (gen != last) {
			last = gen;
			idle = 0;
		} else if (idle++ >= ZAP_STREAM_WAIT_S) {
			return -ETIMEDOUT;
		} else if (s->writer > 0 && zsys2(SYS_kill, s->writer, 0) == -ESRCH) {
			return -ECANCELED; /* zapd died: nobody will finish or abort it */
		}
		stream_sleep(s, gen);
	}
}

static int file_ready(const struct zap_stream *s, int idx, uint64_t end)
{
	return __atomic_load_n(&s->file[idx].avail, __ATOMIC_ACQUIRE) >= end ||
	       __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == ZAP_STREAM_COMPLETE;
}

static int all_ready(const struct zap_stream *s, int idx, uint64_t end)
{
	(void)idx, (void)end;
	return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == ZAP_STREAM_COMPLETE;
}

long zap_stream_wait(const struct zap_stream *s, int idx, uint64_t end)
{
	if (!s || idx < 0 || file_ready(s, idx, end))
		return 0;
	return stream_wait_for(s, file_ready, idx, end);
}

long zap_stream_wait_complete(const struct zap_stream *s)
{
	return s ? stream_wait_for(s, all_ready, 0, 0) : 0;
}

const char *zap_stream_strerror(long e)
{
#define STREAM_STR2(x) #x
#define STREAM_STR(x) STREAM_STR2(x)
	return e == -ECANCELED ? "the transfer was aborted"
	       : e == -ETIMEDOUT ? "nothing arrived for " STREAM_STR(ZAP_STREAM_WAIT_S) " s"
			       : "the progress file is unreadable";
}
