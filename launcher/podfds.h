/* Pods of several processes in the tools: their checkpoint (pod-ckpt.c) and
 * the descriptions their members share (pod-fds.c). */
#ifndef ZAP_LAUNCHER_PODFDS_H
#define ZAP_LAUNCHER_PODFDS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zap/image.h"

/* One process of a pod being checkpointed. */
struct zap_pod_proc {
	pid_t real, vpid;
	pid_t ppid_vpid, pgid_vpid, sid_vpid;
	int zombie, exit_status;
	int signalled;
	char warning[1024];
};

/* With every member stopped and its process file in dir: the fds that
 * share an open file description with fds of other members (pipes between
 * members, files inherited from a parent), found with kcmp.  *out is
 * malloc'd.  0, or -1 with err set. */
int zap_pod_fds_collect(const char *dir, const struct zap_pod_proc *procs, int nprocs,
			struct zap_img_pod_fd **out, uint32_t *nout, char *err, size_t errlen);

/* At restart, before the first restorer runs: opens every shared
 * description of the pod image in dir (pod = its pod.img, opened) at fds
 * base, base+1, ... (without close-on-exec, so the restorers inherit them).
 * The number of objects, or -1 with err set. */
int zap_pod_fds_open(const char *dir, const struct zap_img *pod, int base, char *err, size_t errlen);

/* Memory shared between members without a file (pod-mem.c): with every
 * member's process file in dir, the regions that map one shmem object in
 * two members or more.  *out is malloc'd.  0, or -1 with err set. */
int zap_pod_mem_collect(const char *dir, const struct zap_pod_proc *procs, int nprocs,
			struct zap_img_pod_shm **out, uint32_t *nout, char *err, size_t errlen);
/* At restart: each such object made once (a memfd filled with the pages
 * the members stored) at fds base, base+1, ..., inherited by the restorers,
 * which map it where their regions were.  How many, or -1 with err set. */
struct zap_stream;
int zap_pod_mem_open(const char *dir, const struct zap_img *pod, int base,
		     const struct zap_stream *stream, char *err, size_t errlen);

/* The highest fd any member's process file uses. */
int zap_pod_fds_top(const char *dir, const struct zap_img *pod);

#endif
