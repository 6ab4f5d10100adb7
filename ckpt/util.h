/* Small helpers that work in a signal handler and in the static restorer:
 * no malloc, no locale, no errno.  A scratch arena replaces malloc, a tiny
 * formatter replaces snprintf, and a line reader replaces stdio. */
#ifndef ZAP_UTIL_H
#define ZAP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ZAP_PAGE 4096ull
#define ZAP_PAGE_UP(x) (((uint64_t)(x) + ZAP_PAGE - 1) & ~(ZAP_PAGE - 1))

/* Fast 64-bit checksum of a byte range (four independent lanes, so it runs
 * near memory bandwidth); seed chains calls. */
uint64_t zap_sum64(const void *p, size_t n, uint64_t seed);
/* The checksum of page data: zap_sum64 chained over ZAP_SUM_CHUNK pieces, so
 * a reader can verify it while streaming through a small buffer. */
#define ZAP_SUM_CHUNK 65536
uint64_t zap_sum_pages(const void *p, uint64_t n, uint64_t seed);

/* A pod's own SysV key for the key a program passes (preload/ipc.c says
 * why): a hash of the pod's name and the key; 0 (IPC_PRIVATE) stays 0. */
int32_t zap_ipc_pod_key(const char *pod, int32_t key);

/* A bump allocator over one anonymous mapping reserved with MAP_NORESERVE:
 * only the pages used are ever touched. */
struct zap_scratch {
	char *base;
	size_t used, cap;
};
int zap_scratch_init(struct zap_scratch *s, uint64_t hint, size_t cap);
void *zap_scratch_alloc(struct zap_scratch *s, size_t n);
void zap_scratch_free(struct zap_scratch *s);

/* Formatting: %s %d %u %ld %lu %x %lx %llu %llx %c %%; always terminates;
 * returns the length written. */
size_t zap_vfmt(char *buf, size_t n, const char *fmt, va_list ap);
size_t zap_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reads a file (a /proc file, usually) line by line through a fixed buffer. */
struct zap_lines {
	int fd;
	char buf[65536];
	size_t start, end;
	int eof;
	int discard; /* inside a line too long for buf, past its first part */
};
int zap_lines_open(struct zap_lines *l, const char *path);
/* Returns the next line without its newline (NUL-terminated, valid until the
 * next call), or NULL at end of file.  A line longer than the buffer is cut
 * to it and the rest of that line dropped. */
char *zap_lines_next(struct zap_lines *l);
void zap_lines_close(struct zap_lines *l);

/* Parsing helpers for /proc text; each advances *p past what it read. */
uint64_t zap_parse_hex(const char **p);
uint64_t zap_parse_dec(const char **p);
int zap_startswith(const char *s, const char *prefix);

/* Calls fn(dfd, name, arg) for every entry of directory path but "." and
 * "..", reading it with raw getdents64; fn returns nonzero to stop, and
 * that value is returned.  dfd is the directory's fd, open during the
 * walk.  Returns 0 at the end, or -errno if path cannot be opened. */
long zap_dir_each(const char *path, int (*fn)(int dfd, const char *name, void *arg), void *arg);

/* Whole small files. */
long zap_read_file(const char *path, char *buf, size_t n);           /* NUL-terminates */
long zap_write_file_atomic(const char *path, const char *data, size_t n); /* via path.tmp + rename */

/* "SIGUSR2", "USR2" or "12" -> 12; 0 when it is none of those. */
int zap_signal_parse(const char *s);
const char *zap_signal_name(int sig);

/* A short description of an errno value (either sign). */
const char *zap_strerror(long err);

#endif
