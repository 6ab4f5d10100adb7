/* Capturing one process into a process image file, from inside it.
 *
 * zap_dump_process() runs in the checkpoint leader's signal handler while
 * every other thread of the process is parked in the same handler.  It only
 * makes raw system calls and allocates from a scratch mapping, which it
 * leaves out of the image.  Each resource kind has its own file with its
 * capture and restore sides next to each other: mem.c, thread.c, proc.c,
 * fd.c. */
#ifndef ZAP_CKPT_DUMP_H
#define ZAP_CKPT_DUMP_H

#include <stdint.h>

#include "image.h"
#include "util.h"

struct zap_vtab;

#define ZAP_DUMP_MAX_EXCLUDE 8

struct zap_dump_stats {
	uint64_t regions, runs, pages_stored, bytes_written;
	uint64_t usec;
};

struct zap_dump {
	/* in */
	const char *path;            /* the process file to write */
	struct zap_img_thread *threads;
	uint32_t nthreads;
	uint64_t restore_info_addr;
	uint32_t signal;
	const char *own_lib;         /* libzappre.so: stored, not mapped from its file */
	uint64_t exclude[ZAP_DUMP_MAX_EXCLUDE][2]; /* ranges left out (our own memory) */
	uint32_t nexclude;
	int sysv_external;           /* the coordinator saves the pod's SysV objects
	                              * (sysv.img): segments are recorded, not stored */
	const struct zap_vtab *vtab; /* the pod's id table, after a restart (or NULL) */
	const char *pod_sockets;     /* a pod's member: the file listing the inodes of every
	                              * socket the members hold (launcher/pod-ckpt.c), or NULL */
	/* working state */
	struct zap_scratch scratch;
	char *strings;
	uint32_t strings_len, strings_cap;
	struct zap_img_proc proc;
	struct zap_img_region *regions;
	uint32_t nregions, regions_cap;
	struct zap_img_run *runs;
	uint32_t nruns, runs_cap;
	struct zap_img_fd *fds;
	uint32_t nfds, fds_cap;
	struct zap_img_epoll_target *epoll; /* registrations of epoll fds (fd-anon.c) */
	uint32_t nepoll, epoll_cap;
	uint64_t filedata_len;
	int img_fd;
	/* out */
	struct zap_dump_stats stats;
	char err[512];
	char warnings[1024];         /* "; "-separated: what a restart will not bring back */
};

/* 0 on success; -1 with d->err set. */
int zap_dump_process(struct zap_dump *d);

/* Adds a string to the STRINGS section being built; returns its offset
 * (0 = the empty string), or 0 when out of room. */
uint32_t zap_dump_string(struct zap_dump *d, const char *s);
int zap_dump_error(struct zap_dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The capture side of each resource kind. */
int zap_mem_collect(struct zap_dump *d);
int zap_mem_write_pages(struct zap_dump *d, uint64_t *cursor);
int zap_proc_collect(struct zap_dump *d);
/* In a restored process: point /proc/self/exe at exe.  0 or -errno. */
long zap_proc_set_exe(const char *exe);
int zap_fd_collect(struct zap_dump *d);
int zap_fd_write_data(struct zap_dump *d, uint64_t *cursor);
/* eventfd, timerfd, signalfd, epoll (fd-anon.c): 1 when fd is one of them. */
int zap_fd_anon_classify(struct zap_dump *d, int fd, struct zap_img_fd *f, const char *target);
int zap_fd_anon_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor);
/* pipes with both ends here (fd-pipe.c) */
void zap_fd_pipe_pair(struct zap_dump *d);
/* pipe read ends whose write end is elsewhere: their bytes are kept too
 * (aux[3] = 1), for a pod restart */
void zap_fd_pipe_lone_ends(struct zap_dump *d);
/* UNIX socketpairs with both ends here (sock-unix.c) */
void zap_fd_sock_pair(struct zap_dump *d);
int zap_fd_sock_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor);
/* every other socket (sock.c): after zap_fd_sock_pair; -1 with d->err set
 * when bytes in flight to one of them cannot be kept */
int zap_sock_collect(struct zap_dump *d);
int zap_sock_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor);
int zap_fd_pipe_write(struct zap_dump *d, struct zap_img_fd *f, uint64_t *cursor);

/* stat(2) as the x86-64 kernel lays it out (libc structs differ). */
struct zap_kstat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	uint64_t atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec;
	int64_t unused[3];
};
long zap_stat(const char *path, struct zap_kstat *st);
long zap_fstat(int fd, struct zap_kstat *st);

#endif
