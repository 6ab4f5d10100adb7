/* The pod's virtual id table (format: include/zap/vtab.h).  Raw system
 * calls only: used in the checkpoint handler, in fork children, in the
 * restorer and in the tools.  Lookups take no lock (entries are written
 * whole, and only appended or changed under the lock). */
#ifndef ZAP_CKPT_VTAB_H
#define ZAP_CKPT_VTAB_H

#include <stdint.h>

#include "zap/vtab.h"

/* Maps the table at path (MAP_SHARED).  create: make a new, empty one
 * (replacing any).  The mapping, or NULL with *err = -errno. */
struct zap_vtab *zap_vtab_map(const char *path, int create, long *err);
void zap_vtab_unmap(struct zap_vtab *t);

/* 0 when the id is not in the table. */
int32_t zap_vtab_real(const struct zap_vtab *t, int32_t vpid);
int32_t zap_vtab_vpid(const struct zap_vtab *t, int32_t real);
/* The vpid of a process with this real pid, adding it when it is new: the
 * real pid itself unless another member holds that vpid. */
int32_t zap_vtab_adopt(struct zap_vtab *t, int32_t real);
/* Sets vpid -> real (replacing the vpid's entry).  0, or -1 when full. */
int zap_vtab_set(struct zap_vtab *t, int32_t vpid, int32_t real);
/* Forgets the entry of a process that was reaped. */
void zap_vtab_drop_real(struct zap_vtab *t, int32_t real);

/* SysV ids, by enum zap_vtab_ipc_kind; 0 ... is a valid id, so these
 * return -1 when the id is not in the table. */
int32_t zap_vtab_ipc_real(const struct zap_vtab *t, int kind, int32_t vid);
int32_t zap_vtab_ipc_vid(const struct zap_vtab *t, int kind, int32_t real);
int zap_vtab_ipc_set(struct zap_vtab *t, int kind, int32_t vid, int32_t real);
/* The virtual id of an object with this real id, adding it when it is new:
 * the real id itself unless that is another object's virtual id, else a
 * free one from ZAP_VTAB_HIGH_VID up.  The real id when the table is full. */
int32_t zap_vtab_ipc_adopt(struct zap_vtab *t, int kind, int32_t real);
/* Forgets the object with this virtual id (removed). */
void zap_vtab_ipc_drop(struct zap_vtab *t, int kind, int32_t vid);

/* Wakes every process waiting in zap_vtab_wait_ready. */
void zap_vtab_set_ready(struct zap_vtab *t);
/* Waits (at most timeout_ms) until the table is ready; 0 or -1. */
int zap_vtab_wait_ready(struct zap_vtab *t, long timeout_ms);

#endif
