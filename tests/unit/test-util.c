/* ckpt/util.c: checksums, the formatter, signal names, the line reader,
 * /proc number parsing and the scratch arena. */
#include "unit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- checksums ---- */

static unsigned char util_buf[3 * ZAP_SUM_CHUNK + 5000];

static void util_fill(unsigned char *p, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

START_TEST(util_sum_seed)
{
	util_fill(util_buf, 256);
	uint64_t seen[64];
	for (int i = 0; i < 64; i++) {
		seen[i] = zap_sum64(util_buf, 256, (uint64_t)i);
		for (int k = 0; k < i; k++)
			ck_assert_msg(seen[k] != seen[i], "seeds %d and %d give the same sum", k,
				      i);
	}
	/* the seed matters for empty input too: runs start from their address */
	ck_assert_uint_ne(zap_sum64(util_buf, 0, 0x400000), zap_sum64(util_buf, 0, 0x401000));
	ck_assert_uint_eq(zap_sum64(util_buf, 256, 7), zap_sum64(util_buf, 256, 7));
}
END_TEST

/* Lengths 0..100, over data and over zeros (where only the length tells
 * a range from one a byte longer). */
START_TEST(util_sum_lengths)
{
	static unsigned char zeros[101];
	util_fill(util_buf, 101);
	for (size_t n = 0; n < 100; n++) {
		ck_assert_msg(zap_sum64(util_buf, n, 0) != zap_sum64(util_buf, n + 1, 0),
			      "data: length %zu and %zu give the same sum", n, n + 1);
		ck_assert_msg(zap_sum64(zeros, n, 0) != zap_sum64(zeros, n + 1, 0),
			      "zeros: length %zu and %zu give the same sum", n, n + 1);
	}
}
END_TEST

/* Every single-bit change of a 100-byte range changes the sum (each of
 * the four lanes and the 8- and 1-byte tails). */
START_TEST(util_sum_bits)
{
	util_fill(util_buf, 100);
	uint64_t ref = zap_sum64(util_buf, 100, 0);
	for (size_t bit = 0; bit < 100 * 8; bit++) {
		util_buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		uint64_t s = zap_sum64(util_buf, 100, 0);
		util_buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ck_assert_msg(s != ref, "flipping bit %zu leaves the sum unchanged", bit);
	}
}
END_TEST

START_TEST(util_sum_pages_chunks)
{
	util_fill(util_buf, sizeof(util_buf));
	const uint64_t lens[] = {0,
				 1,
				 4096,
				 ZAP_SUM_CHUNK - 1,
				 ZAP_SUM_CHUNK,
				 ZAP_SUM_CHUNK + 1,
				 3 * ZAP_SUM_CHUNK,
				 sizeof(util_buf)};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t seed = 0x7f0000000000ull + i * 4096, want = seed;
		for (uint64_t at = 0; at < lens[i]; at += ZAP_SUM_CHUNK) {
			uint64_t n = lens[i] - at < ZAP_SUM_CHUNK ? lens[i] - at : ZAP_SUM_CHUNK;
			want = zap_sum64(util_buf + at, n, want);
		}
		ck_assert_msg(zap_sum_pages(util_buf, lens[i], seed) == want, "length %lu",
			      (unsigned long)lens[i]);
	}
	/* one pass over the whole range is a different sum once it spans chunks */
	ck_assert_uint_ne(zap_sum_pages(util_buf, sizeof(util_buf), 0),
			  zap_sum64(util_buf, sizeof(util_buf), 0));
}
END_TEST

/* ---- formatting ---- */

static const char *const util_fmt_want[] = {
	"s=zap d=-42 u=4294967295 lu=18446744073709551615",
	"x=deadbeef lx=7fffffffffff c=Z %=% end",
	"d=-2147483648 d=2147483647 ld=-9223372036854775807 zu=0",
};
#define UTIL_NFMT (sizeof(util_fmt_want) / sizeof(util_fmt_want[0]))

static size_t util_fmt_case(char *buf, size_t n, int i)
{
	switch (i) {
	case 0:
		return zap_fmt(buf, n, "s=%s d=%d u=%u lu=%lu", "zap", -42, UINT_MAX, ULONG_MAX);
	case 1:
		return zap_fmt(buf, n, "x=%x lx=%lx c=%c %%=%% %s", 0xdeadbeefu, 0x7fffffffffffUL,
			       'Z', "end");
	default:
		return zap_fmt(buf, n, "d=%d d=%d ld=%ld zu=%zu", INT_MIN, INT_MAX, -LONG_MAX,
			       (size_t)0);
	}
}

START_TEST(util_fmt_conversions)
{
	char buf[128];
	size_t n = util_fmt_case(buf, sizeof(buf), _i);
	ck_assert_str_eq(buf, util_fmt_want[_i]);
	ck_assert_uint_eq(n, strlen(util_fmt_want[_i]));
}
END_TEST

/* Every buffer size from 0 to one past the full length: the result is the
 * longest prefix that fits, NUL-terminated, its length returned, and not a
 * byte written past the buffer. */
START_TEST(util_fmt_truncation)
{
	const char *full = util_fmt_want[_i];
	size_t len = strlen(full);
	for (size_t n = 0; n <= len + 1; n++) {
		char buf[128];
		memset(buf, '#', sizeof(buf));
		size_t got = util_fmt_case(buf, n, _i);
		size_t want = n ? (n - 1 < len ? n - 1 : len) : 0;
		ck_assert_msg(got == want, "size %zu: returned %zu, want %zu", n, got, want);
		if (n) {
			ck_assert_msg(buf[got] == 0, "size %zu: not terminated", n);
			ck_assert_msg(!memcmp(buf, full, got), "size %zu: %.*s", n, (int)got, buf);
		}
		for (size_t k = n; k < sizeof(buf); k++)
			ck_assert_msg(buf[k] == '#', "size %zu: wrote byte %zu", n, k);
	}
}
END_TEST

/* zap_fmt without the compiler's format check, for formats it would refuse. */
static size_t util_fmt_unchecked(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t r = zap_vfmt(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

START_TEST(util_fmt_edges)
{
	char buf[16];
	ck_assert_uint_eq(zap_fmt(buf, sizeof(buf), "%s", ""), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(zap_fmt(buf, sizeof(buf), "%d%u%x", 0, 0u, 0u), 3);
	ck_assert_str_eq(buf, "000");
	ck_assert_uint_eq(util_fmt_unchecked(buf, sizeof(buf), "100%"), 3); /* lone % at the end */
	ck_assert_str_eq(buf, "100");
	ck_assert_uint_eq(util_fmt_unchecked(buf, sizeof(buf), "<%s>", (char *)NULL), 8);
	ck_assert_str_eq(buf, "<(null)>");
	ck_assert_uint_eq(zap_fmt(buf, 1, "abc"), 0);
	ck_assert_str_eq(buf, "");
	/* a number cut by the buffer keeps its leading digits and sign */
	ck_assert_uint_eq(zap_fmt(buf, 4, "%d", -12345), 3);
	ck_assert_str_eq(buf, "-12");
}
END_TEST

/* ---- signals ---- */

static const struct util_sig_case {
	const char *s;
	int sig;
} util_sig_cases[] = {
	{"SIGUSR2", 12}, {"USR2", 12},	  {"12", 12},	      {"SIGKILL", 9},
	{"HUP", 1},	 {"SYS", 31},	  {"1", 1},	      {"64", 64},
	{"RTMIN+0", 34}, {"RTMIN+1", 35}, {"SIGRTMIN+1", 35}, {"RTMIN+30", 64},
	{"RTMIN+31", 0}, {"65", 0},	  {"0", 0},	      {"", 0},
	{"junk", 0},	 {"SIG", 0},	  {"12x", 0},	      {"-12", 0},
	{"SIGUSR2 ", 0}, {"RTMIN+1x", 0}, {"USR", 0},
};

START_TEST(util_signal_parse)
{
	const struct util_sig_case *c = &util_sig_cases[_i];
	ck_assert_msg(zap_signal_parse(c->s) == c->sig, "\"%s\" gives %d, want %d", c->s,
		      zap_signal_parse(c->s), c->sig);
}
END_TEST

START_TEST(util_signal_names)
{
	ck_assert_int_eq(zap_signal_parse(NULL), 0);
	ck_assert_str_eq(zap_signal_name(12), "USR2");
	ck_assert_str_eq(zap_signal_name(9), "KILL");
	ck_assert_str_eq(zap_signal_name(31), "SYS");
	ck_assert_str_eq(zap_signal_name(0), "?");
	ck_assert_str_eq(zap_signal_name(-1), "?");
	ck_assert_str_eq(zap_signal_name(65), "?");
	for (int sig = 1; sig <= 31; sig++) {
		char full[16];
		const char *name = zap_signal_name(sig);
		snprintf(full, sizeof(full), "SIG%s", name);
		ck_assert_msg(zap_signal_parse(name) == sig, "%d: %s", sig, name);
		ck_assert_msg(zap_signal_parse(full) == sig, "%d: %s", sig, full);
	}
}
END_TEST

/* ---- line reader ---- */

static const char *util_write_file(const char *name, const char *data, size_t n)
{
	static char path[PATH_MAX];
	zt_path(path, sizeof(path), name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

START_TEST(util_lines_short)
{
	static const char text[] = "first\n\nthird line\nlast, no newline";
	static const char *const want[] = {"first", "", "third line", "last, no newline"};
	struct zap_lines *l = malloc(sizeof(*l));
	ck_assert_int_eq(zap_lines_open(l, util_write_file("short", text, sizeof(text) - 1)), 0);
	for (size_t i = 0; i < 4; i++) {
		char *line = zap_lines_next(l);
		ck_assert_ptr_nonnull(line);
		ck_assert_str_eq(line, want[i]);
	}
	ck_assert_ptr_null(zap_lines_next(l));
	ck_assert_ptr_null(zap_lines_next(l)); /* and stays at the end */
	zap_lines_close(l);
	free(l);
}
END_TEST

START_TEST(util_lines_empty)
{
	struct zap_lines *l = malloc(sizeof(*l));
	ck_assert_int_eq(zap_lines_open(l, util_write_file("empty", "", 0)), 0);
	ck_assert_ptr_null(zap_lines_next(l));
	zap_lines_close(l);
	ck_assert_int_eq(zap_lines_open(l, util_write_file("newline", "\n", 1)), 0);
	ck_assert_str_eq(zap_lines_next(l), "");
	ck_assert_ptr_null(zap_lines_next(l));
	zap_lines_close(l);
	char path[PATH_MAX];
	ck_assert_int_eq(zap_lines_open(l, zt_path(path, sizeof(path), "absent")), -ENOENT);
	free(l);
}
END_TEST

/* A line longer than the reader's buffer comes back cut to the buffer and
 * the rest of it is dropped; the lines around it are untouched, and a line
 * of exactly the buffer's size brings no empty line after it. */
START_TEST(util_lines_long)
{
	enum { LONG = 200000 };
	char *text = malloc(LONG + 64);
	size_t n = 0;
	n += (size_t)sprintf(text, "before\n");
	for (size_t i = 0; i < LONG; i++)
		text[n++] = (char)('a' + i % 26);
	n += (size_t)sprintf(text + n, "\nafter");
	struct zap_lines *l = malloc(sizeof(*l));
	ck_assert_int_eq(zap_lines_open(l, util_write_file("long", text, n)), 0);
	ck_assert_str_eq(zap_lines_next(l), "before");
	char *line = zap_lines_next(l);
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_eq(strlen(line), sizeof(l->buf) - 1);
	ck_assert_mem_eq(line, text + 7, sizeof(l->buf) - 1);
	ck_assert_str_eq(zap_lines_next(l), "after");
	ck_assert_ptr_null(zap_lines_next(l));
	zap_lines_close(l);

	size_t exact = sizeof(l->buf) - 1;
	n = 0;
	for (size_t i = 0; i < exact; i++)
		text[n++] = 'x';
	n += (size_t)sprintf(text + n, "\nnext\n");
	ck_assert_int_eq(zap_lines_open(l, util_write_file("exact", text, n)), 0);
	line = zap_lines_next(l);
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_eq(strlen(line), exact);
	ck_assert_str_eq(zap_lines_next(l), "next");
	ck_assert_ptr_null(zap_lines_next(l));
	zap_lines_close(l);
	free(l);
	free(text);
}
END_TEST

/* ---- parsing ---- */

START_TEST(util_parse_numbers)
{
	const char *p = "7f12ab000-7F12AC000 r-xp";
	ck_assert_uint_eq(zap_parse_hex(&p), 0x7f12ab000ull);
	ck_assert_int_eq(*p, '-');
	p++;
	ck_assert_uint_eq(zap_parse_hex(&p), 0x7f12ac000ull);
	ck_assert_str_eq(p, " r-xp");
	p = "ffffffffffffffff";
	ck_assert_uint_eq(zap_parse_hex(&p), UINT64_MAX);
	ck_assert_int_eq(*p, 0);
	const char *s = "xyz";
	p = s;
	ck_assert_uint_eq(zap_parse_hex(&p), 0);
	ck_assert_ptr_eq(p, s); /* nothing read, nothing skipped */

	p = "12345 678";
	ck_assert_uint_eq(zap_parse_dec(&p), 12345);
	ck_assert_str_eq(p, " 678");
	p = "18446744073709551615";
	ck_assert_uint_eq(zap_parse_dec(&p), UINT64_MAX);
	p = "0";
	ck_assert_uint_eq(zap_parse_dec(&p), 0);
	ck_assert_int_eq(*p, 0);
	p = s = "-5";
	ck_assert_uint_eq(zap_parse_dec(&p), 0);
	ck_assert_ptr_eq(p, s);
	p = "a1";
	ck_assert_uint_eq(zap_parse_dec(&p), 0); /* hex digits are not decimal */

	ck_assert(zap_startswith("VmRSS:\t100 kB", "VmRSS:"));
	ck_assert(zap_startswith("abc", ""));
	ck_assert(!zap_startswith("Vm", "VmRSS"));
}
END_TEST

/* ---- scratch arena ---- */

START_TEST(util_scratch_alloc)
{
	struct zap_scratch s;
	const size_t cap = 1 << 20;
	ck_assert_int_eq(zap_scratch_init(&s, 0, cap), 0);
	ck_assert_ptr_nonnull(s.base);
	char *prev_end = s.base;
	const size_t sizes[] = {1, 3, 16, 17, 0, 4096, 5, 100};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *p = zap_scratch_alloc(&s, sizes[i]);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg((uintptr_t)p % 16 == 0, "allocation %zu at %p is not 16-aligned", i,
			      p);
		ck_assert_msg(p >= prev_end, "allocation %zu overlaps the one before", i);
		memset(p, 0xa5, sizes[i]); /* usable */
		prev_end = p + sizes[i];
	}
	/* exhaustion: exactly what is left fits, then nothing does */
	size_t at = (s.used + 15) & ~(size_t)15;
	ck_assert_ptr_nonnull(zap_scratch_alloc(&s, cap - at));
	ck_assert_uint_eq(s.used, cap);
	ck_assert_ptr_null(zap_scratch_alloc(&s, 1));
	ck_assert_ptr_null(zap_scratch_alloc(&s, SIZE_MAX));
	zap_scratch_free(&s);
	ck_assert_ptr_null(s.base);
	ck_assert_ptr_null(zap_scratch_alloc(&s, 1)); /* freed: cap 0 */
}
END_TEST

START_TEST(util_scratch_overflow)
{
	struct zap_scratch s;
	ck_assert_int_eq(zap_scratch_init(&s, 0, 4096), 0);
	ck_assert_ptr_nonnull(zap_scratch_alloc(&s, 1));
	/* used rounds up to 16: a size that wraps past the top must fail */
	ck_assert_ptr_null(zap_scratch_alloc(&s, SIZE_MAX - 8));
	ck_assert_ptr_null(zap_scratch_alloc(&s, SIZE_MAX - 15));
	ck_assert_ptr_nonnull(zap_scratch_alloc(&s, 4096 - 16));
	zap_scratch_free(&s);
}
END_TEST

/* The restorer maps its heap at a fixed address; one already taken is an
 * error, not a silent replacement. */
START_TEST(util_scratch_fixed)
{
	const uint64_t hint =
		0x5a5000000000ull; /* far from the program, the heap and ASan's shadow */
	struct zap_scratch a, b;
	ck_assert_int_eq(zap_scratch_init(&a, hint, 1 << 16), 0);
	ck_assert_ptr_eq(a.base, (void *)hint);
	*(volatile char *)a.base = 1;
	ck_assert_int_eq(zap_scratch_init(&b, hint, 1 << 16), -EEXIST);
	ck_assert_int_eq(*(volatile char *)a.base, 1);
	zap_scratch_free(&a);
}
END_TEST

/* ---- directories and errno names ---- */

struct util_walk {
	int seen, dots, stop_after;
	char names[8][32];
};

static int util_walk_one(int dfd, const char *name, void *arg)
{
	struct util_walk *w = arg;
	ck_assert_int_ge(dfd, 0);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		w->dots++;
	else if (w->seen < 8)
		snprintf(w->names[w->seen], sizeof(w->names[0]), "%s", name);
	w->seen++;
	return w->stop_after && w->seen == w->stop_after ? 7 : 0;
}

/* Every entry but "." and "..", once; a nonzero return stops the walk and
 * comes back; a missing directory is -ENOENT. */
START_TEST(util_dir_each)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	zt_path(dir, sizeof(dir), "walk");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		close(open(path, O_CREAT | O_WRONLY, 0600));
	}
	struct util_walk w = {0};
	ck_assert_int_eq(zap_dir_each(dir, util_walk_one, &w), 0);
	ck_assert_int_eq(w.seen, 5);
	ck_assert_int_eq(w.dots, 0);
	int mask = 0;
	for (int i = 0; i < 5; i++)
		mask |= 1 << (w.names[i][1] - '0');
	ck_assert_int_eq(mask, 0x1f);
	struct util_walk w2 = {.stop_after = 2};
	ck_assert_int_eq(zap_dir_each(dir, util_walk_one, &w2), 7);
	ck_assert_int_eq(w2.seen, 2);
	snprintf(path, sizeof(path), "%s/nosuch", dir);
	ck_assert_int_eq(zap_dir_each(path, util_walk_one, &w), -ENOENT);
}
END_TEST

START_TEST(util_strerror_names)
{
	ck_assert_str_eq(zap_strerror(-ENOENT), "no such file or directory");
	ck_assert_str_eq(zap_strerror(EACCES), "permission denied");
	ck_assert_str_eq(zap_strerror(-74), "bad message (checksum mismatch)");
	ck_assert_str_eq(zap_strerror(-6), "error 6"); /* no name: its number */
	ck_assert_str_eq(zap_strerror(-100000), "error 100000");
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = zt_tcase(s, "checksum", 0);
	tcase_add_test(tc, util_sum_seed);
	tcase_add_test(tc, util_sum_lengths);
	tcase_add_test(tc, util_sum_bits);
	tcase_add_test(tc, util_sum_pages_chunks);

	tc = zt_tcase(s, "fmt", 0);
	tcase_add_loop_test(tc, util_fmt_conversions, 0, UTIL_NFMT);
	tcase_add_loop_test(tc, util_fmt_truncation, 0, UTIL_NFMT);
	tcase_add_test(tc, util_fmt_edges);

	tc = zt_tcase(s, "signal", 0);
	tcase_add_loop_test(tc, util_signal_parse, 0,
			    sizeof(util_sig_cases) / sizeof(util_sig_cases[0]));
	tcase_add_test(tc, util_signal_names);

	tc = zt_tcase(s, "lines", ZT_WITH_DIR);
	tcase_add_test(tc, util_lines_short);
	tcase_add_test(tc, util_lines_empty);
	tcase_add_test(tc, util_lines_long);

	tcase_add_test(zt_tcase(s, "parse", 0), util_parse_numbers);

	tc = zt_tcase(s, "scratch", 0);
	tcase_add_test(tc, util_scratch_alloc);
	tcase_add_test(tc, util_scratch_overflow);
	tcase_add_test(tc, util_scratch_fixed);

	tc = zt_tcase(s, "dir", ZT_WITH_DIR);
	tcase_add_test(tc, util_dir_each);
	tcase_add_test(zt_tcase(s, "strerror", 0), util_strerror_names);
	return s;
}
ZT_SUITE(util_suite);
