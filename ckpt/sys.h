/* Raw system calls: no errno, no libc locks, no cancellation points.
 *
 * The checkpoint handler runs inside a signal handler that may have
 * interrupted libc anywhere, and the restorer runs after the libc it was
 * linked with has lost its memory; both call the kernel only through these.
 * Each returns the kernel's value: >= 0 on success, -errno on failure.
 */
#ifndef ZAP_SYS_H
#define ZAP_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

static inline long zsys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define zsys0(n) zsys6((n), 0, 0, 0, 0, 0, 0)
#define zsys1(n, a) zsys6((n), (long)(a), 0, 0, 0, 0, 0)
#define zsys2(n, a, b) zsys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define zsys3(n, a, b, c) zsys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define zsys4(n, a, b, c, d) zsys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define zsys5(n, a, b, c, d, e) \
	zsys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#define ZAT_FDCWD (-100)

static inline long z_open(const char *path, int flags, int mode)
{
	return zsys4(SYS_openat, ZAT_FDCWD, path, flags, mode);
}
static inline long z_close(int fd) { return zsys1(SYS_close, fd); }
static inline long z_read(int fd, void *buf, size_t n) { return zsys3(SYS_read, fd, buf, n); }
static inline long z_write(int fd, const void *buf, size_t n) { return zsys3(SYS_write, fd, buf, n); }
static inline long z_pread(int fd, void *buf, size_t n, uint64_t off)
{
	return zsys4(SYS_pread64, fd, buf, n, off);
}
static inline long z_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
	return zsys4(SYS_pwrite64, fd, buf, n, off);
}
static inline long z_lseek(int fd, long off, int whence) { return zsys3(SYS_lseek, fd, off, whence); }
static inline long z_mmap(uint64_t addr, size_t len, int prot, int flags, int fd, uint64_t off)
{
	return zsys6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
}
static inline long z_munmap(uint64_t addr, size_t len) { return zsys2(SYS_munmap, addr, len); }
static inline long z_mprotect(uint64_t addr, size_t len, int prot)
{
	return zsys3(SYS_mprotect, addr, len, prot);
}
static inline long z_getpid(void) { return zsys0(SYS_getpid); }
static inline long z_gettid(void) { return zsys0(SYS_gettid); }
static inline long z_tgkill(int pid, int tid, int sig) { return zsys3(SYS_tgkill, pid, tid, sig); }
static inline long z_readlink(const char *path, char *buf, size_t n)
{
	return zsys4(SYS_readlinkat, ZAT_FDCWD, path, buf, n);
}
static inline long z_futex(volatile int *uaddr, int op, int val, const void *timeout)
{
	return zsys4(SYS_futex, uaddr, op, val, timeout);
}
static inline __attribute__((noreturn)) void z_exit_group(int code)
{
	for (;;)
		zsys1(SYS_exit_group, code);
}

/* Kernel constants we need where no libc header can be trusted (musl has
 * no <linux/…> headers; Debian's are older than this kernel). */
#define Z_FUTEX_WAIT 0
#define Z_FUTEX_WAKE 1
#define Z_FUTEX_PRIVATE 128
#define Z_ARCH_SET_FS 0x1002
#define Z_ARCH_GET_FS 0x1003
#define Z_RSEQ_SIG 0x53053053u

struct z_timespec {
	long sec, nsec;
};

static inline void z_nanosleep_ns(long ns)
{
	struct z_timespec ts = {ns / 1000000000L, ns % 1000000000L};
	zsys2(SYS_nanosleep, &ts, 0);
}

static inline uint64_t z_now_ns(int clock)
{
	struct z_timespec ts;
	zsys2(SYS_clock_gettime, clock, &ts);
	return (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
}

/* Write all of buf at off; returns 0 or -errno. */
static inline long z_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	while (n) {
		long r = z_pwrite(fd, p, n, off);
		if (r == -4 /* EINTR */)
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			return -5; /* EIO */
		p += r, n -= (size_t)r, off += (uint64_t)r;
	}
	return 0;
}

/* Read all of buf from off; returns 0, -errno, or -61 (ENODATA) at EOF. */
static inline long z_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	char *p = buf;
	while (n) {
		long r = z_pread(fd, p, n, off);
		if (r == -4)
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			return -61;
		p += r, n -= (size_t)r, off += (uint64_t)r;
	}
	return 0;
}

#endif
