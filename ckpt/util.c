#include "util.h"
#include "sys.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

/* ---- checksum ---- */

#define SUM_P1 0x9E3779B185EBCA87ull
#define SUM_P2 0xC2B2AE3D27D4EB4Full
#define SUM_P3 0x165667B19E3779F9ull

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t sum_round(uint64_t acc, uint64_t in)
{
	acc += in * SUM_P2;
	return rotl64(acc, 31) * SUM_P1;
}
static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8); /* one load, even where memcpy is not a builtin */
	return v;
}

uint64_t zap_sum64(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data, *end = p + n;
	uint64_t a = seed + SUM_P1 + SUM_P2, b = seed + SUM_P2, c = seed, d = seed - SUM_P1;
	while (end - p >= 32) {
		a = sum_round(a, load64(p));
		b = sum_round(b, load64(p + 8));
		c = sum_round(c, load64(p + 16));
		d = sum_round(d, load64(p + 24));
		p += 32;
	}
	uint64_t h = rotl64(a, 1) + rotl64(b, 7) + rotl64(c, 12) + rotl64(d, 18) + (uint64_t)n;
	while (end - p >= 8) {
		h ^= sum_round(0, load64(p));
		h = rotl64(h, 27) * SUM_P1 + SUM_P3;
		p += 8;
	}
	while (p < end) {
		h ^= (*p++) * SUM_P3;
		h = rotl64(h, 11) * SUM_P1;
	}
	h ^= h >> 33;
	h *= SUM_P2;
	h ^= h >> 29;
	h *= SUM_P3;
	h ^= h >> 32;
	return h;
}

uint64_t zap_sum_pages(const void *data, uint64_t n, uint64_t seed)
{
	const char *p = data;
	while (n) {
		size_t k = n < ZAP_SUM_CHUNK ? n : ZAP_SUM_CHUNK;
		seed = zap_sum64(p, k, seed);
		p += k;
		n -= k;
	}
	return seed;
}

int32_t zap_ipc_pod_key(const char *pod, int32_t key)
{
	if (key == 0)
		return 0;
	size_t n = 0;
	while (pod[n])
		n++;
	uint64_t h = zap_sum64(pod, n, (uint64_t)(uint32_t)key);
	int32_t k = (int32_t)(uint32_t)(h ^ (h >> 32));
	return k == 0 ? 1 : k;
}

/* ---- scratch arena ---- */

int zap_scratch_init(struct zap_scratch *s, uint64_t hint, size_t cap)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	if (hint)
		flags |= MAP_FIXED_NOREPLACE;
	long r = z_mmap(hint, cap, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (r < 0 && r > -4096)
		return (int)r;
	s->base = (char *)r;
	s->used = 0;
	s->cap = cap;
	return 0;
}

void *zap_scratch_alloc(struct zap_scratch *s, size_t n)
{
	size_t at = (s->used + 15) & ~(size_t)15;
	if (at + n > s->cap || at + n < at)
		return NULL;
	s->used = at + n;
	return s->base + at;
}

void zap_scratch_free(struct zap_scratch *s)
{
	if (s->base)
		z_munmap((uint64_t)s->base, s->cap);
	s->base = NULL;
	s->used = s->cap = 0;
}

/* ---- formatting ---- */

static size_t put_num(char *buf, size_t n, size_t at, unsigned long long v, int base, int neg)
{
	char tmp[24];
	int k = 0;
	do {
		tmp[k++] = "0123456789abcdef"[v % (unsigned)base];
		v /= (unsigned)base;
	} while (v);
	if (neg && at + 1 < n)
		buf[at++] = '-';
	while (k && at + 1 < n)
		buf[at++] = tmp[--k];
	return at;
}

size_t zap_vfmt(char *buf, size_t n, const char *fmt, va_list ap)
{
	size_t at = 0;
	if (!n)
		return 0;
	for (const char *f = fmt; *f && at + 1 < n; f++) {
		if (*f != '%') {
			buf[at++] = *f;
			continue;
		}
		f++;
		int longs = 0;
		while (*f == 'l') {
			longs++;
			f++;
		}
		if (*f == 'z') {
			longs = 1;
			f++;
		}
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			while (*s && at + 1 < n)
				buf[at++] = *s++;
			break;
		}
		case 'c':
			buf[at++] = (char)va_arg(ap, int);
			break;
		case 'd': {
			long long v = longs ? va_arg(ap, long) : va_arg(ap, int);
			/* negate as unsigned: -LLONG_MIN does not fit a long long */
			unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
			at = put_num(buf, n, at, mag, 10, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			at = put_num(buf, n, at, v, *f == 'x' ? 16 : 10, 0);
			break;
		}
		case '%':
			buf[at++] = '%';
			break;
		case 0:
			f--;
			break;
		default:
			buf[at++] = '?';
		}
	}
	buf[at] = 0;
	return at;
}

size_t zap_fmt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t r = zap_vfmt(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- line reader ---- */

int zap_lines_open(struct zap_lines *l, const char *path)
{
	long fd = z_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return (int)fd;
	l->fd = (int)fd;
	l->start = l->end = 0;
	l->eof = l->discard = 0;
	return 0;
}

char *zap_lines_next(struct zap_lines *l)
{
	for (;;) {
		char *nl = memchr(l->buf + l->start, '\n', l->end - l->start);
		if (nl) {
			size_t at = l->start;
			l->start = (size_t)(nl - l->buf) + 1;
			if (l->discard) { /* the tail of a line we cut */
				l->discard = 0;
				continue;
			}
			*nl = 0;
			return l->buf + at;
		}
		if (l->eof) {
			char *line = l->buf + l->start;
			int have = l->start < l->end && !l->discard;
			l->buf[l->end] = 0; /* end < sizeof(buf): reads leave a byte */
			l->start = l->end;
			return have ? line : NULL; /* a last line without newline */
		}
		if (l->start > 0) {
			memmove(l->buf, l->buf + l->start, l->end - l->start);
			l->end -= l->start;
			l->start = 0;
		}
		if (l->end == sizeof(l->buf) - 1) {
			/* a line longer than the buffer: hand out its start, drop the rest */
			int first = !l->discard;
			l->buf[l->end] = 0;
			l->start = l->end = 0;
			l->discard = 1;
			if (first)
				return l->buf;
			continue;
		}
		long r = z_read(l->fd, l->buf + l->end, sizeof(l->buf) - 1 - l->end);
		if (r == -4)
			continue;
		if (r <= 0)
			l->eof = 1;
		else
			l->end += (size_t)r;
	}
}

void zap_lines_close(struct zap_lines *l)
{
	if (l->fd >= 0)
		z_close(l->fd);
	l->fd = -1;
}

/* ---- parsing ---- */

uint64_t zap_parse_hex(const char **p)
{
	uint64_t v = 0;
	const char *s = *p;
	for (;; s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		v = v * 16 + (uint64_t)d;
	}
	*p = s;
	return v;
}

uint64_t zap_parse_dec(const char **p)
{
	uint64_t v = 0;
	const char *s = *p;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	*p = s;
	return v;
}

int zap_startswith(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

/* ---- directories ---- */

struct zk_dirent64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

long zap_dir_each(const char *path, int (*fn)(int dfd, const char *name, void *arg), void *arg)
{
	long dfd = z_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd < 0)
		return dfd;
	char buf[8192];
	int stop = 0;
	while (!stop) {
		long n = zsys3(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (long at = 0; at < n && !stop;) {
			struct zk_dirent64 *e = (struct zk_dirent64 *)(buf + at);
			at += e->reclen;
			if (strcmp(e->name, ".") && strcmp(e->name, ".."))
				stop = fn((int)dfd, e->name, arg);
		}
	}
	z_close((int)dfd);
	return stop;
}

/* ---- small files ---- */

long zap_read_file(const char *path, char *buf, size_t n)
{
	long fd = z_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	size_t got = 0;
	while (got + 1 < n) {
		long r = z_read((int)fd, buf + got, n - 1 - got);
		if (r == -4)
			continue;
		if (r < 0) {
			z_close((int)fd);
			return r;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = 0;
	z_close((int)fd);
	return (long)got;
}

long zap_write_file_atomic(const char *path, const char *data, size_t n)
{
	char tmp[4096];
	zap_fmt(tmp, sizeof(tmp), "%s.tmp%d", path, (int)z_gettid());
	long fd = z_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fd;
	long r = z_pwrite_all((int)fd, data, n, 0);
	z_close((int)fd);
	if (r == 0)
		r = zsys4(SYS_renameat, ZAT_FDCWD, tmp, ZAT_FDCWD, path);
	if (r < 0)
		zsys3(SYS_unlinkat, ZAT_FDCWD, tmp, 0);
	return r;
}

/* ---- signal names ---- */

static const char *const sig_names[] = {
	[1] = "HUP",   [2] = "INT",	[3] = "QUIT",	[4] = "ILL",	[5] = "TRAP",	  [6] = "ABRT",
	[7] = "BUS",   [8] = "FPE",	[9] = "KILL",	[10] = "USR1",	[11] = "SEGV",	  [12] = "USR2",
	[13] = "PIPE", [14] = "ALRM",	[15] = "TERM",	[16] = "STKFLT", [17] = "CHLD",	  [18] = "CONT",
	[19] = "STOP", [20] = "TSTP",	[21] = "TTIN",	[22] = "TTOU",	[23] = "URG",	  [24] = "XCPU",
	[25] = "XFSZ", [26] = "VTALRM", [27] = "PROF", [28] = "WINCH", [29] = "IO",	  [30] = "PWR",
	[31] = "SYS",
};

const char *zap_signal_name(int sig)
{
	static const char *const rt[] = {"RTMIN",    "RTMIN+1",	 "RTMIN+2",  "RTMIN+3",  "RTMIN+4",
					  "RTMIN+5",  "RTMIN+6",	 "RTMIN+7",  "RTMIN+8",  "RTMIN+9",
					  "RTMIN+10", "RTMIN+11", "RTMIN+12", "RTMIN+13", "RTMIN+14",
					  "RTMIN+15", "RTMIN+16", "RTMIN+17", "RTMIN+18", "RTMIN+19",
					  "RTMIN+20", "RTMIN+21", "RTMIN+22", "RTMIN+23", "RTMIN+24",
					  "RTMIN+25", "RTMIN+26", "RTMIN+27", "RTMIN+28", "RTMIN+29",
					  "RTMAX"};
	if (sig > 0 && sig < (int)(sizeof(sig_names) / sizeof(sig_names[0])))
		return sig_names[sig];
	if (sig >= 34 && sig <= 64)
		return rt[sig - 34];
	return "?";
}

int zap_signal_parse(const char *s)
{
	if (!s || !*s)
		return 0;
	if (*s >= '0' && *s <= '9') {
		const char *p = s;
		uint64_t v = zap_parse_dec(&p);
		return (*p || p - s > 2 || v < 1 || v > 64) ? 0 : (int)v;
	}
	if (zap_startswith(s, "SIG"))
		s += 3;
	for (int i = 1; i < (int)(sizeof(sig_names) / sizeof(sig_names[0])); i++)
		if (!strcmp(s, sig_names[i]))
			return i;
	if (zap_startswith(s, "RTMIN+")) {
		const char *p = s + 6;
		uint64_t v = zap_parse_dec(&p);
		return (*p || p == s + 6 || p - s > 8 || v > 30) ? 0 : 34 + (int)v;
	}
	return 0;
}

/* ---- errno names ---- */

/* strerror() is neither async-signal-safe nor in the restorer after its
 * commit point: the common ones, by hand. */
const char *zap_strerror(long err)
{
	static const char *const names[] = {
		[1] = "operation not permitted",    [2] = "no such file or directory",
		[3] = "no such process",            [4] = "interrupted",
		[5] = "input/output error",         [7] = "argument list too long",
		[9] = "bad file descriptor",        [11] = "resource temporarily unavailable",
		[12] = "out of memory",             [13] = "permission denied",
		[14] = "bad address",               [16] = "device or resource busy",
		[17] = "file exists",               [18] = "cross-device link",
		[20] = "not a directory",           [21] = "is a directory",
		[22] = "invalid argument",          [23] = "too many open files in system",
		[24] = "too many open files",       [26] = "text file busy",
		[27] = "file too large",            [28] = "no space left on device",
		[30] = "read-only file system",     [36] = "file name too long",
		[38] = "function not implemented",  [39] = "directory not empty",
		[61] = "unexpected end of file",    [74] = "bad message (checksum mismatch)",
		[95] = "operation not supported",   [122] = "disk quota exceeded",
	};
	if (err < 0)
		err = -err;
	if (err > 0 && err < (long)(sizeof(names) / sizeof(names[0])) && names[err])
		return names[err];
	static char buf[32]; /* rare: only for errors we never name */
	zap_fmt(buf, sizeof(buf), "error %ld", err);
	return buf;
}
