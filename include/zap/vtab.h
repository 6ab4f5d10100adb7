/* The pod's virtual id table: $ZAP_HOME/pods/<pod>/vtab.
 *
 * Before a pod's first restart every virtual id equals the real one and no
 * table exists: nothing is looked up, nothing costs.  `zap restart` writes
 * the table (every member's vpid with its new real pid, every SysV object's
 * id in the image with its new one) and every restored member maps it
 * MAP_SHARED, so all members see one table, and the processes they create
 * afterwards inherit the mapping (fork) or map it again (exec).
 *
 * A process created after a restart keeps its real pid as its vpid unless
 * that number is another member's vpid already; then it gets a vpid above
 * any pid_max (ZAP_VTAB_HIGH_VPID), which no real pid can ever take.
 * Entries are added by whoever sees a new real id first (the parent after
 * fork, or the child), under the table's spinlock, so both agree.
 *
 * Shared by the preload, the restorer and the tools: <stdint.h> only. */
#ifndef ZAP_VTAB_H
#define ZAP_VTAB_H

#include <stdint.h>

#define ZAP_VTAB_FILE "vtab"
#define ZAP_VTAB_MAGIC 0x3162617470617a7aull /* "zzaptab1" */
#define ZAP_VTAB_PIDS 8192
#define ZAP_VTAB_IPCS 1024
#define ZAP_VTAB_HIGH_VPID 4200000 /* above PID_MAX_LIMIT (4194304) */
/* A SysV object made after a restart whose real id is the virtual id of
 * another gets one from here up (zap_vtab_ipc_adopt). */
#define ZAP_VTAB_HIGH_VID 0x7f000000

enum zap_vtab_ipc_kind {
	ZAP_IPC_SHM = 1,
	ZAP_IPC_SEM = 2,
	ZAP_IPC_MSG = 3,
};

struct zap_vtab_pid {
	int32_t vpid, real;
};

struct zap_vtab_ipc {
	int32_t kind, vid, real, pad;
};

struct zap_vtab {
	uint64_t magic;
	int32_t lock;       /* spinlock shared by every process that maps it */
	int32_t ready;      /* futex word: 1 once `zap restart` has every member back */
	uint32_t npids, nipcs;
	int32_t next_high;  /* next vpid handed out on a collision */
	int32_t pad;
	struct zap_vtab_pid pids[ZAP_VTAB_PIDS];
	struct zap_vtab_ipc ipcs[ZAP_VTAB_IPCS];
};

#endif
