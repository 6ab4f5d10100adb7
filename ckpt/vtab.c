/* The pod's virtual id table: one file, mapped shared by every member after
 * a restart (include/zap/vtab.h says why and when). */
#include "vtab.h"
#include "sys.h"

#include <fcntl.h>
#include <sys/mman.h>

#define Z_FUTEX_WAIT_SHARED 0
#define Z_FUTEX_WAKE_SHARED 1

static void vt_lock(struct zap_vtab *t)
{
	while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
		zsys0(SYS_sched_yield);
}

static void vt_unlock(struct zap_vtab *t) { __atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE); }

struct zap_vtab *zap_vtab_map(const char *path, int create, long *err)
{
	long fd = z_open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
	if (fd < 0) {
		*err = fd;
		return 0;
	}
	long e = create ? zsys2(SYS_ftruncate, fd, sizeof(struct zap_vtab)) : 0;
	long p = e < 0 ? e
		       : z_mmap(0, sizeof(struct zap_vtab), PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
	z_close((int)fd);
	if (p < 0 && p > -4096) {
		*err = p;
		return 0;
	}
	struct zap_vtab *t = (struct zap_vtab *)p;
	if (create) {
		t->magic = ZAP_VTAB_MAGIC;
		t->next_high = ZAP_VTAB_HIGH_VPID;
	} else if (t->magic != ZAP_VTAB_MAGIC) {
		z_munmap((uint64_t)p, sizeof(struct zap_vtab));
		*err = -22; /* EINVAL */
		return 0;
	}
	*err = 0;
	return t;
}

void zap_vtab_unmap(struct zap_vtab *t)
{
	if (t)
		z_munmap((uint64_t)t, sizeof(*t));
}

static uint32_t npids(const struct zap_vtab *t)
{
	uint32_t n = __atomic_load_n(&t->npids, __ATOMIC_ACQUIRE);
	return n < ZAP_VTAB_PIDS ? n : ZAP_VTAB_PIDS;
}

int32_t zap_vtab_real(const struct zap_vtab *t, int32_t vpid)
{
	for (uint32_t i = 0, n = npids(t); i < n; i++)
		if (t->pids[i].vpid == vpid)
			return t->pids[i].real;
	return 0;
}

int32_t zap_vtab_vpid(const struct zap_vtab *t, int32_t real)
{
	for (uint32_t i = 0, n = npids(t); i < n; i++)
		if (t->pids[i].real == real)
			return t->pids[i].vpid;
	return 0;
}

/* Under the lock: a free slot, dropping the entries of processes that no
 * longer exist when the table is full. */
static struct zap_vtab_pid *free_slot(struct zap_vtab *t)
{
	if (t->npids >= ZAP_VTAB_PIDS) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < ZAP_VTAB_PIDS; i++)
			if (t->pids[i].real > 0 && zsys2(SYS_kill, t->pids[i].real, 0) != -3 /* ESRCH */)
				t->pids[k++] = t->pids[i];
		__atomic_store_n(&t->npids, k, __ATOMIC_RELEASE);
		if (k >= ZAP_VTAB_PIDS)
			return 0;
	}
	return &t->pids[t->npids];
}

static void publish(struct zap_vtab *t) { __atomic_add_fetch(&t->npids, 1, __ATOMIC_RELEASE); }

int32_t zap_vtab_adopt(struct zap_vtab *t, int32_t real)
{
	vt_lock(t);
	int32_t v = zap_vtab_vpid(t, real);
	if (!v) {
		v = real;
		while (zap_vtab_real(t, v))
			v = t->next_high++;
		struct zap_vtab_pid *e = free_slot(t);
		if (e) {
			e->vpid = v;
			e->real = real;
			publish(t);
		}
	}
	vt_unlock(t);
	return v;
}

int zap_vtab_set(struct zap_vtab *t, int32_t vpid, int32_t real)
{
	int rc = 0;
	vt_lock(t);
	uint32_t i, n = npids(t);
	for (i = 0; i < n && t->pids[i].vpid != vpid; i++)
		;
	if (vpid >= t->next_high) /* a high vpid from before a restart: never hand it out again */
		t->next_high = vpid + 1;
	if (i < n) {
		__atomic_store_n(&t->pids[i].real, real, __ATOMIC_RELEASE);
	} else {
		struct zap_vtab_pid *e = free_slot(t);
		if (e) {
			e->vpid = vpid;
			e->real = real;
			publish(t);
		} else {
			rc = -1;
		}
	}
	vt_unlock(t);
	return rc;
}

void zap_vtab_drop_real(struct zap_vtab *t, int32_t real)
{
	vt_lock(t);
	uint32_t n = npids(t);
	for (uint32_t i = 0; i < n; i++)
		if (t->pids[i].real == real) {
			t->pids[i] = t->pids[n - 1];
			__atomic_store_n(&t->npids, n - 1, __ATOMIC_RELEASE);
			break;
		}
	vt_unlock(t);
}

static uint32_t nipcs(const struct zap_vtab *t)
{
	uint32_t n = __atomic_load_n(&t->nipcs, __ATOMIC_ACQUIRE);
	return n < ZAP_VTAB_IPCS ? n : ZAP_VTAB_IPCS;
}

int32_t zap_vtab_ipc_real(const struct zap_vtab *t, int kind, int32_t vid)
{
	for (uint32_t i = 0, n = nipcs(t); i < n; i++)
		if (t->ipcs[i].kind == kind && t->ipcs[i].vid == vid)
			return t->ipcs[i].real;
	return -1;
}

int32_t zap_vtab_ipc_vid(const struct zap_vtab *t, int kind, int32_t real)
{
	for (uint32_t i = 0, n = nipcs(t); i < n; i++)
		if (t->ipcs[i].kind == kind && t->ipcs[i].real == real)
			return t->ipcs[i].vid;
	return -1;
}

int zap_vtab_ipc_set(struct zap_vtab *t, int kind, int32_t vid, int32_t real)
{
	int rc = 0;
	vt_lock(t);
	uint32_t i, n = nipcs(t);
	for (i = 0; i < n && !(t->ipcs[i].kind == kind && t->ipcs[i].vid == vid); i++)
		;
	if (i < n) {
		t->ipcs[i].real = real;
	} else if (n < ZAP_VTAB_IPCS) {
		t->ipcs[n].kind = kind;
		t->ipcs[n].vid = vid;
		t->ipcs[n].real = real;
		__atomic_store_n(&t->nipcs, n + 1, __ATOMIC_RELEASE);
	} else {
		rc = -1;
	}
	vt_unlock(t);
	return rc;
}

/* Under the lock: a slot for a new entry, reusing one that was dropped
 * (kind 0); NULL when full. */
static struct zap_vtab_ipc *ipc_slot(struct zap_vtab *t)
{
	uint32_t n = nipcs(t);
	for (uint32_t i = 0; i < n; i++)
		if (!t->ipcs[i].kind)
			return &t->ipcs[i];
	if (n >= ZAP_VTAB_IPCS)
		return 0;
	t->ipcs[n].kind = 0;
	__atomic_store_n(&t->nipcs, n + 1, __ATOMIC_RELEASE);
	return &t->ipcs[n];
}

int32_t zap_vtab_ipc_adopt(struct zap_vtab *t, int kind, int32_t real)
{
	vt_lock(t);
	int32_t v = zap_vtab_ipc_vid(t, kind, real);
	struct zap_vtab_ipc *e = v < 0 ? ipc_slot(t) : 0;
	if (e) {
		v = real;
		if (zap_vtab_ipc_real(t, kind, v) >= 0)
			for (v = ZAP_VTAB_HIGH_VID; zap_vtab_ipc_real(t, kind, v) >= 0; v++)
				;
		e->vid = v;
		e->real = real;
		__atomic_store_n(&e->kind, kind, __ATOMIC_RELEASE); /* readers see it whole */
	}
	vt_unlock(t);
	return v < 0 ? real : v;
}

/* The entry is emptied in place, not moved: lookups take no lock, and a
 * moved entry could slip past one. */
void zap_vtab_ipc_drop(struct zap_vtab *t, int kind, int32_t vid)
{
	vt_lock(t);
	for (uint32_t i = 0, n = nipcs(t); i < n; i++)
		if (t->ipcs[i].kind == kind && t->ipcs[i].vid == vid)
			__atomic_store_n(&t->ipcs[i].kind, 0, __ATOMIC_RELEASE);
	vt_unlock(t);
}

void zap_vtab_set_ready(struct zap_vtab *t)
{
	__atomic_store_n(&t->ready, 1, __ATOMIC_RELEASE);
	zsys3(SYS_futex, &t->ready, Z_FUTEX_WAKE_SHARED, 0x7fffffff);
}

int zap_vtab_wait_ready(struct zap_vtab *t, long timeout_ms)
{
	uint64_t deadline = z_now_ns(1) + (uint64_t)timeout_ms * 1000000ull;
	while (!__atomic_load_n(&t->ready, __ATOMIC_ACQUIRE)) {
		uint64_t now = z_now_ns(1);
		if (now >= deadline)
			return -1;
		struct z_timespec ts = {0, 10 * 1000000L}; /* re-check: a wake may come before the wait */
		zsys4(SYS_futex, &t->ready, Z_FUTEX_WAIT_SHARED, 0, &ts);
	}
	return 0;
}
