/* A pod's SysV IPC objects in its image: sysv.img (launcher/sysv.c). */
#ifndef ZAP_LAUNCHER_SYSV_H
#define ZAP_LAUNCHER_SYSV_H

#include <stddef.h>

struct zap_vtab;

/* Writes img_dir/sysv.img: every SysV object of the pod (pod_dir/ipc, and
 * segments the members in pod_dir/members have attached) with its
 * contents.  Run while every member is stopped.  No objects: no file (an
 * old one is removed).  0, or -1 with a message in err. */
int zap_sysv_save(const char *pod_dir, const char *img_dir, char *err, size_t errlen);

/* Recreates the objects of img_dir/sysv.img for the pod of pod_dir (its
 * keys are hashed with that pod's name), fills them, records each old id
 * -> new id in vt, and writes pod_dir/ipc afresh.  An object left on this
 * host under one of the pod's keys is removed first, unless a process has
 * it attached.  No sysv.img: nothing to do.  0, or -1 with a message in
 * err and nothing created. */
int zap_sysv_restore(const char *img_dir, const char *pod_dir, struct zap_vtab *vt, char *err,
		     size_t errlen);

/* Removes the objects listed in pod_dir/ipc that still exist (after
 * `checkpoint --kill` once every member is gone, or a failed restart).
 * How many were removed, or -1 with a message in err. */
int zap_sysv_remove(const char *pod_dir, char *err, size_t errlen);

#endif
