/* SysV IPC keys, per pod.  A program names a shared memory segment,
 * semaphore set or message queue by a key; two pods on one host that use
 * the same key (a legacy program run twice) must not see each other's
 * objects.  The key a pod's process passes is turned into a key of the
 * pod's own: a hash of the pod's name and the program's key, the same in
 * every member, so no table needs to be shared.  IPC_PRIVATE stays
 * private.  Ids are the kernel's: saving the objects' contents in the
 * image, and giving them back their ids after a restart, comes with pods
 * of several processes. */
#include "preload.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

key_t zap_ipc_key(key_t key)
{
	if (key == IPC_PRIVATE || !zap_self.in_pod)
		return key;
	uint64_t h = zap_sum64(zap_self.pod, strlen(zap_self.pod), (uint64_t)(uint32_t)key);
	key_t k = (key_t)(uint32_t)(h ^ (h >> 32));
	return k == IPC_PRIVATE ? 1 : k;
}

ZAP_EXPORT int shmget(key_t key, size_t size, int flags)
{
	if (!zap_real.shmget)
		return errno = ENOSYS, -1;
	return zap_real.shmget(zap_ipc_key(key), size, flags);
}

ZAP_EXPORT int semget(key_t key, int nsems, int flags)
{
	if (!zap_real.semget)
		return errno = ENOSYS, -1;
	return zap_real.semget(zap_ipc_key(key), nsems, flags);
}

ZAP_EXPORT int msgget(key_t key, int flags)
{
	if (!zap_real.msgget)
		return errno = ENOSYS, -1;
	return zap_real.msgget(zap_ipc_key(key), flags);
}
