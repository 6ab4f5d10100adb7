/* The restore side of each resource kind, called by the static restorer
 * (launcher/restorer.c) after it has read and validated the image.  These
 * run with musl, but from the moment the restorer unmaps the old address
 * space they may only make raw system calls. */
#ifndef ZAP_CKPT_RESTORE_H
#define ZAP_CKPT_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* The restorer's own memory: everything it maps lies in here, and nothing
 * of an image may (zap_mem_check_arena).  The text is linked at its start. */
#define ZAP_ARENA_START 0x6a0000000000ull
#define ZAP_ARENA_END 0x6b0000000000ull

#define ZAP_RESTORE_MAX_SHM 256

struct zap_stream;

struct zap_restore {
	const struct zap_img *img;
	int img_fd;
	int status_fd;            /* messages for `zap restart`; -1 once resumed */
	int inherit_stdio;        /* bind 0-2 to ours whatever the image says */
	int exit_code;            /* what a failure found so far should exit with */
	int mm_refused;           /* PR_SET_MM_MAP failed: brk is the restorer's */
	char err[512];
	/* the restorer's vDSO block, moved out of the way */
	uint64_t vdso_tmp, vdso_len;
	/* a member of a pod: the descriptions it shares with other members
	 * wait at fds shared_base.. (opened by `zap restart`) */
	int32_t vpid;
	const struct zap_img_pod_fd *pod_fds;
	uint32_t npod_fds;
	int shared_base, nshared;
	/* memory it shares with other members: objects at fds
	 * shared_base + nshared.. (pod-mem.c), mapped instead of filled */
	const struct zap_img_pod_shm *pod_shm;
	uint32_t npod_shm;
	int nshm_obj;
	/* SysV segments to attach (ZAP_REG_SYSV regions), found before the
	 * commit point: the segment's id now, and its size */
	struct zap_restore_shm {
		uint32_t region;
		int32_t real;
		uint64_t seg_len;
	} shm[ZAP_RESTORE_MAX_SHM];
	uint32_t nshm;
	/* an image still arriving (include/zap/stream.h): page data is read
	 * only once it is there, and the program runs only once all of it was
	 * authenticated; NULL for an image that is all there */
	const struct zap_stream *stream;
	int stream_file; /* this process file's entry in it, or -1 */
};

int zap_restore_error(struct zap_restore *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The restorer's command line for one member of a pod image: `zap restart`
 * starts the main member's, and each restorer its children's. */
struct zap_restorer_cmd {
	const char *path, *home, *pod, *pod_image;
	int status_fd, member, shared_base, shared_count, inherit_stdio, shm_count;
	int stream_fd; /* -1: none */
	char num[6][16];
	char *argv[22];
};
char **zap_restorer_argv(struct zap_restorer_cmd *c);
/* What a resource's open returns when it has reported its failure itself. */
#define ZAP_ERR_REPORTED (-100000L)

/* mem.c */
int zap_mem_check_arena(struct zap_restore *r);
int zap_mem_check_vdso(struct zap_restore *r);
int zap_mem_check_files(struct zap_restore *r);
/* Finds the segment of every ZAP_REG_SYSV region: its id in the pod's
 * table (vtab_path, which `zap restart` filled in from sysv.img), or the
 * same id when the table does not know it; checks that it exists and is
 * large enough. */
int zap_mem_check_sysv(struct zap_restore *r, const char *vtab_path);
int zap_mem_park_vdso(struct zap_restore *r);
int zap_mem_unmap_all(struct zap_restore *r);
int zap_mem_restore_regions(struct zap_restore *r);
int zap_mem_place_vdso(struct zap_restore *r);
/* proc.c */
int zap_proc_restore(struct zap_restore *r);
/* fd.c */
int zap_fd_check(struct zap_restore *r);
int zap_fd_restore(struct zap_restore *r);
long zap_fd_anon_open(struct zap_restore *r, const struct zap_img_fd *f);
int zap_fd_anon_finish(struct zap_restore *r);
long zap_fd_pipe_open(struct zap_restore *r, const struct zap_img_fd *f);
/* For the two ends of a pipe or socketpair, both in the process: the
 * record of f's other end; and, once both ends exist (mine for f, other
 * for o), their O_NONBLOCK, other put at o's number.  mine or -errno (both
 * closed then). */
const struct zap_img_fd *zap_fd_other_end(const struct zap_restore *r, const struct zap_img_fd *f);
long zap_fd_place_pair(int mine, int other, const struct zap_img_fd *f, const struct zap_img_fd *o);
long zap_fd_sock_open(struct zap_restore *r, const struct zap_img_fd *f);
/* sock.c: a ZAP_FD_SOCKET made again; a socket fd, -errno or ZAP_ERR_REPORTED */
long zap_sock_open(struct zap_restore *r, const struct zap_img_fd *f);
/* thread.c */
__attribute__((noreturn)) void zap_thread_resume_all(struct zap_restore *r);

#endif
