/* zbench: the helpers behind bench/run.sh (built by it with gcc -O2).
 *
 *   zbench hog MIB READYFILE LIFETIME_S
 *       The workload.  Maps MIB MiB of private anonymous memory (4 KiB
 *       pages, as malloc gives), fills every byte with a non-zero pattern,
 *       times one full read pass over it (the "native scan"), writes
 *       "PID SCAN_US" to READYFILE and then idles: every millisecond it
 *       writes one 32-byte record to stdout holding its own CLOCK_MONOTONIC
 *       time.  When it finds that fd 1 is another file than before (it was
 *       restarted with a new stdout) it first writes a heartbeat, then
 *       checks every word of the heap and writes a "verify" record with the
 *       result and the time that pass took.  It exits on its own after
 *       LIFETIME_S seconds of wall time (CLOCK_REALTIME, which a restart
 *       does not reset), so nothing it leaves behind can live long; and it
 *       dies of SIGPIPE when its reader goes away.
 *
 *   zbench time TIMEOUT_S CMD...
 *       Runs CMD (stdout to /dev/null) and prints "USEC EXIT" where USEC is
 *       the wall time from just before fork to its exit.  Killed (its whole
 *       process group) after TIMEOUT_S; EXIT is then 124.
 *
 *   zbench restart [--file PATH] TIMEOUT_S CMD...
 *       Measures restart latency.  t0 = CLOCK_MONOTONIC just before fork.
 *       Default (pipe) mode: CMD's stdout is a fresh pipe; the first hog
 *       record arriving on it gives the hog's own clock at the moment its
 *       code ran again, so restart = record.ns - t0.  This is exact to the
 *       microsecond: it does not include the time the record spent in the
 *       pipe or our wake-up latency (printed separately as recv_us), and
 *       the hog's 1 ms sleep adds nothing because the restored thread comes
 *       back from an interrupted nanosleep (EINTR) and writes at once.
 *       With --file PATH (for tools that cannot hand a restored process a
 *       new stdout) the hog's stdout is the regular file PATH, polled every
 *       0.2 ms for a record stamped after t0; the stamp keeps the result
 *       exact despite the polling.  Prints key=value pairs:
 *       restart_us recv_us verify(ok|BAD|none) scan_us exit.
 *
 *   zbench base MIB DIR REPS
 *       Native baselines for MIB MiB, median of REPS: memcpy between two
 *       populated buffers; write() of a populated buffer to a new file in
 *       DIR; read() of that file into freshly mapped memory (mmap +
 *       MADV_POPULATE_WRITE + read, all timed: the least a restore has to
 *       do to bring N bytes back into a new process); and read() into a
 *       warm, already-populated buffer (pure copy out of the page cache).
 *       One warm-up pass before the REPS is not counted.  Also prints
 *       populate_us, the MADV_POPULATE_WRITE part of read_us, and
 *       readthp_us, the same as read_us into MADV_HUGEPAGE memory.
 *
 *   zbench stat V1 V2 ...     prints "median min max" of the numbers.
 *
 *   zbench netrecv IPV4 PORT FILE
 *       The native baseline of bench/migrate.sh: listens, takes one
 *       connection, writes what arrives into FILE (created anew), and
 *       prints "USEC BYTES": from the first byte to the last one written.
 *   zbench netsend IPV4 PORT FILE
 *       Connects and sends FILE with read() and write() of 1 MiB.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MAGIC 0x5a424852u /* "RHBZ" */
enum { REC_BEAT = 0, REC_VERIFY = 1 };
struct rec {
	uint32_t magic, kind;
	uint64_t ns;   /* CLOCK_MONOTONIC of the writer */
	uint64_t a, b; /* verify: ok flag, scan ns */
};

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static uint64_t mono(void) { return now_ns(CLOCK_MONOTONIC); }

static void die(const char *what)
{
	fprintf(stderr, "zbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- hog ---- */

static inline uint64_t pattern(uint64_t word) { return (word + 1) * 0x9e3779b97f4a7c15ull | 1; }

static void fill(uint64_t *p, size_t words)
{
	for (size_t i = 0; i < words; i++)
		p[i] = pattern(i);
}

static int check(const uint64_t *p, size_t words)
{
	uint64_t bad = 0;
	for (size_t i = 0; i < words; i++)
		bad |= p[i] ^ pattern(i);
	return bad == 0;
}

static int put(const struct rec *r)
{
	for (;;) {
		ssize_t n = write(1, r, sizeof(*r));
		if (n == (ssize_t)sizeof(*r))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static int hog(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	size_t bytes = (size_t)atol(argv[2]) << 20;
	const char *ready = argv[3];
	uint64_t end_rt = now_ns(CLOCK_REALTIME) + (uint64_t)atol(argv[4]) * 1000000000ull;
	uint64_t *heap = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (heap == MAP_FAILED)
		die("mmap");
	madvise(heap, bytes, MADV_POPULATE_WRITE); /* faster set-up only; same 4 KiB pages */
	size_t words = bytes / 8;
	fill(heap, words);
	uint64_t t = mono();
	if (!check(heap, words)) {
		fprintf(stderr, "zbench hog: heap check failed before any checkpoint\n");
		return 1;
	}
	uint64_t scan_ns = mono() - t;
	struct stat st0;
	if (fstat(1, &st0) < 0)
		die("fstat 1");
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	FILE *f = fopen(tmp, "w");
	if (!f)
		die(tmp);
	fprintf(f, "%d %llu\n", (int)getpid(), (unsigned long long)(scan_ns / 1000));
	if (fclose(f) != 0 || rename(tmp, ready) < 0)
		die(ready);
	struct rec r = {.magic = MAGIC};
	while (now_ns(CLOCK_REALTIME) < end_rt) {
		r.kind = REC_BEAT;
		r.ns = mono();
		if (put(&r) < 0)
			return 0; /* reader gone */
		struct stat st;
		if (fstat(1, &st) == 0 && (st.st_ino != st0.st_ino || st.st_dev != st0.st_dev)) {
			st0 = st; /* restarted with a new stdout: check the heap once */
			t = mono();
			r.a = check(heap, words);
			r.b = mono() - t;
			r.kind = REC_VERIFY;
			r.ns = mono();
			if (put(&r) < 0)
				return 0;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* ---- running commands, bounded ---- */

static pid_t spawn(char **cmd, int out_fd)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		setpgid(0, 0);
		if (out_fd >= 0 && out_fd != 1) {
			dup2(out_fd, 1);
			close(out_fd);
		}
		signal(SIGPIPE, SIG_DFL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "zbench: cannot run %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* Waits for pid until deadline (mono ns); kills its group after that.
 * Returns its exit code, 128+signal, or 124 on timeout. */
static int reap(pid_t pid, uint64_t deadline)
{
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return 125;
		if (mono() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 124;
		}
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int cmd_time(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	double timeout = atof(argv[2]);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	uint64_t t0 = mono();
	pid_t pid = spawn(argv + 3, null);
	int code = reap(pid, t0 + (uint64_t)(timeout * 1e9));
	uint64_t t1 = mono();
	printf("%llu %d\n", (unsigned long long)((t1 - t0) / 1000), code);
	return 0;
}

/* reads whole records from fd into r; returns 1 with one record, 0 at EOF,
 * -1 if none yet */
static int next_rec(int fd, struct rec *r, char *buf, size_t *have)
{
	for (;;) {
		if (*have >= sizeof(*r)) {
			memcpy(r, buf, sizeof(*r));
			memmove(buf, buf + sizeof(*r), *have - sizeof(*r));
			*have -= sizeof(*r);
			return 1;
		}
		ssize_t n = read(fd, buf + *have, 4096 - *have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		*have += (size_t)n;
	}
}

static int cmd_restart(int argc, char **argv)
{
	int i = 2;
	const char *file = NULL;
	if (i < argc && !strcmp(argv[i], "--file") && i + 1 < argc) {
		file = argv[i + 1];
		i += 2;
	}
	if (i + 1 >= argc)
		return 2;
	double timeout = atof(argv[i++]);
	char **cmd = argv + i;
	int p[2] = {-1, -1}, rfd;
	off_t off = 0;
	if (file) {
		rfd = open(file, O_RDONLY | O_CLOEXEC);
		if (rfd < 0)
			die(file);
		off = lseek(rfd, 0, SEEK_END); /* only records written after t0 count */
		off -= off % (off_t)sizeof(struct rec);
		lseek(rfd, off, SEEK_SET);
	} else {
		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe");
		rfd = p[0];
		fcntl(rfd, F_SETFL, O_NONBLOCK); /* our end only: the hog's writes block */
	}
	signal(SIGPIPE, SIG_IGN);
	uint64_t t0 = mono(), deadline = t0 + (uint64_t)(timeout * 1e9);
	pid_t pid = spawn(cmd, file ? -1 : p[1]);
	if (!file)
		close(p[1]);
	char buf[4096];
	size_t have = 0;
	struct rec r;
	uint64_t first = 0, recv = 0, scan = 0;
	int verify = -1, exited = 0, code = -1;
	/* the verify record follows the first heartbeat; in file mode there is
	 * none (the stdout file stays the same) */
	uint64_t gone_at = 0;
	while (mono() < deadline && (!first || (!file && verify < 0))) {
		int got = next_rec(rfd, &r, buf, &have);
		if (got == 1) {
			if (r.magic != MAGIC || r.ns < t0)
				continue;
			if (!first) {
				first = r.ns;
				recv = mono();
			}
			if (r.kind == REC_VERIFY) {
				verify = (int)r.a;
				scan = r.b;
			}
			continue;
		}
		if (got == 0 && !file)
			break; /* pipe closed: CMD and the program are gone */
		if (!exited) {
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				exited = 1;
				gone_at = mono();
				code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			}
		}
		/* CMD failed, and something else still holds the pipe: give up
		 * after a second.  (A detached restore, criu restore -d, exits at
		 * once by design: file mode polls on until the deadline.) */
		if (!file && exited && !first && mono() - gone_at > 1000000000ull)
			break;
		if (file) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		} else {
			struct pollfd pf = {rfd, POLLIN, 0};
			poll(&pf, 1, 5);
		}
	}
	close(rfd); /* the hog dies of SIGPIPE on its next write */
	if (!exited)
		code = reap(pid, mono() + 5000000000ull);
	kill(-pid, SIGKILL); /* whatever is left in its group */
	if (first)
		printf("restart_us=%llu recv_us=%llu verify=%s scan_us=%llu exit=%d\n",
		       (unsigned long long)((first - t0) / 1000), (unsigned long long)((recv - t0) / 1000),
		       verify < 0 ? "none" : verify ? "ok" : "BAD", (unsigned long long)(scan / 1000), code);
	else
		printf("restart_us=FAIL recv_us=FAIL verify=none scan_us=0 exit=%d\n", code);
	return 0;
}

/* ---- baselines ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void *populated(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	madvise(p, n, MADV_POPULATE_WRITE);
	memset(p, 0x5a, n); /* first user touch, so later passes are warm */
	return p;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		size_t c = n < (64u << 20) ? n : (64u << 20);
		ssize_t w = write(fd, p, c);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

static void read_all(int fd, char *p, size_t n)
{
	while (n) {
		size_t c = n < (64u << 20) ? n : (64u << 20);
		ssize_t r = read(fd, p, c);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("read");
		p += r;
		n -= (size_t)r;
	}
}

static int base(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	size_t n = (size_t)atol(argv[2]) << 20;
	const char *dir = argv[3];
	int reps = atoi(argv[4]);
	if (reps < 1 || reps > 64)
		reps = 3;
	char path[4200];
	snprintf(path, sizeof(path), "%s/zbench-base.%d", dir, (int)getpid());
	char *src = populated(n), *dst = populated(n);
	for (size_t i = 0; i < n; i += 8)
		*(uint64_t *)(src + i) = pattern(i);
	uint64_t mc[64], wr[64], rd[64], rw[64], pp[64], th[64], t;
	/* pass -1 warms up (fresh memory is much dearer on a VM) and is dropped */
	for (int k = -1; k < reps; k++) {
		uint64_t *sl[] = {mc, wr, rd, rw, pp, th}, junk[6];
		if (k < 0)
			for (int j = 0; j < 6; j++)
				sl[j] = junk + j;
		else
			for (int j = 0; j < 6; j++)
				sl[j] += k;
		t = mono();
		memcpy(dst, src, n);
		__asm__ volatile("" ::"r"(dst) : "memory");
		*sl[0] = mono() - t;

		unlink(path);
		t = mono();
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			die(path);
		write_all(fd, src, n);
		close(fd);
		*sl[1] = mono() - t;

		t = mono();
		fd = open(path, O_RDONLY | O_CLOEXEC);
		char *fresh = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fd < 0 || fresh == MAP_FAILED)
			die("read baseline");
		madvise(fresh, n, MADV_POPULATE_WRITE);
		*sl[4] = mono() - t;
		read_all(fd, fresh, n);
		close(fd);
		*sl[2] = mono() - t;
		if (memcmp(fresh, src, n))
			fprintf(stderr, "zbench base: read back differs\n");
		munmap(fresh, n);

		t = mono();
		fd = open(path, O_RDONLY | O_CLOEXEC);
		read_all(fd, dst, n);
		close(fd);
		*sl[3] = mono() - t;

		/* the same as "read", into transparent huge pages */
		size_t al = 2u << 20;
		t = mono();
		fd = open(path, O_RDONLY | O_CLOEXEC);
		char *raw = mmap(NULL, n + al, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fd < 0 || raw == MAP_FAILED)
			die("read baseline (THP)");
		char *huge = (char *)(((uintptr_t)raw + al - 1) & ~(uintptr_t)(al - 1));
		madvise(huge, n, MADV_HUGEPAGE);
		madvise(huge, n, MADV_POPULATE_WRITE);
		read_all(fd, huge, n);
		close(fd);
		*sl[5] = mono() - t;
		munmap(raw, n + al);
	}
	unlink(path);
	printf("memcpy_us=%llu write_us=%llu read_us=%llu readwarm_us=%llu populate_us=%llu readthp_us=%llu\n",
	       (unsigned long long)median(mc, reps) / 1000, (unsigned long long)median(wr, reps) / 1000,
	       (unsigned long long)median(rd, reps) / 1000, (unsigned long long)median(rw, reps) / 1000, (unsigned long long)median(pp, reps) / 1000,
	       (unsigned long long)median(th, reps) / 1000);
	return 0;
}

static int stat_cmd(int argc, char **argv)
{
	double v[256];
	int n = 0;
	for (int i = 2; i < argc && n < 256; i++) {
		char *end;
		double x = strtod(argv[i], &end);
		if (end != argv[i] && !*end)
			v[n++] = x;
	}
	if (!n) {
		printf("- - -\n");
		return 0;
	}
	for (int i = 1; i < n; i++) /* insertion sort */
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("%.0f %.0f %.0f\n", med, v[0], v[n - 1]);
	return 0;
}

static int net_socket(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -1;
	return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int netrecv(int argc, char **argv)
{
	struct sockaddr_in sa;
	int one = 1, l = argc == 5 ? net_socket(argv[2], argv[3], &sa) : -1;
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
		perror("zbench netrecv");
		return 1;
	}
	int c = accept(l, NULL, NULL), out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	static char buf[1 << 20];
	uint64_t bytes = 0, t0 = 0;
	ssize_t r;
	while (c >= 0 && out >= 0 && (r = read(c, buf, sizeof(buf))) > 0) {
		if (!t0)
			t0 = mono();
		if (write(out, buf, (size_t)r) != r)
			return 1;
		bytes += (uint64_t)r;
	}
	printf("%llu %llu\n", (unsigned long long)((mono() - t0) / 1000), (unsigned long long)bytes);
	return 0;
}

static int netsend(int argc, char **argv)
{
	struct sockaddr_in sa;
	int s = argc == 5 ? net_socket(argv[2], argv[3], &sa) : -1;
	int in = argc == 5 ? open(argv[4], O_RDONLY | O_CLOEXEC) : -1;
	for (int tries = 0; s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0; tries++) {
		if (tries == 500) { /* 5 s for the receiver to listen */
			perror("zbench netsend: connect");
			return 1;
		}
		usleep(10000);
	}
	static char buf[1 << 20];
	ssize_t r;
	while (s >= 0 && in >= 0 && (r = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t at = 0; at < r;) {
			ssize_t w = write(s, buf + at, (size_t)(r - at));
			if (w <= 0)
				return 1;
			at += w;
		}
	return s >= 0 && in >= 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "netrecv"))
		return netrecv(argc, argv);
	if (!strcmp(argv[1], "netsend"))
		return netsend(argc, argv);
	if (!strcmp(argv[1], "hog"))
		return hog(argc, argv);
	if (!strcmp(argv[1], "time"))
		return cmd_time(argc, argv);
	if (!strcmp(argv[1], "restart"))
		return cmd_restart(argc, argv);
	if (!strcmp(argv[1], "base"))
		return base(argc, argv);
	if (!strcmp(argv[1], "stat"))
		return stat_cmd(argc, argv);
usage:
	fprintf(stderr, "usage: zbench hog|time|restart|base|stat|netrecv|netsend ... (see bench/zbench.c)\n");
	return 2;
}
