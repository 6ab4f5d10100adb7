/* POSIX timers.  For SIGEV_SIGNAL, SIGEV_NONE and SIGEV_THREAD_ID timers
 * glibc hands the program the kernel's timer id, so a restart must create
 * each timer again under the same id: Linux 6.16's
 * PR_TIMER_CREATE_RESTORE_IDS makes timer_create take the id it is given.
 * We keep a table of the program's timers (in our memory, so it is part of
 * the image), fill in their remaining time just before a checkpoint, and
 * recreate and re-arm them after a restore.  SIGEV_THREAD timers (glibc runs
 * a helper thread for them) are not kept: the checkpoint warns. */
#include "preload.h"
#include "sys.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define MAX_TIMERS 256
#define Z_PR_TIMER_CREATE_RESTORE_IDS 77

struct kernel_sigevent { /* struct sigevent as the kernel lays it out */
	uint64_t value;
	int32_t signo, notify;
	int32_t tid;
	int32_t pad[11];
};

struct zk_itimerspec {
	struct z_timespec interval, value;
};

static struct {
	int lock;
	struct timer_rec {
		int used;
		int id;
		int clock;
		struct kernel_sigevent sev;
		struct zk_itimerspec left; /* at the last checkpoint */
	} t[MAX_TIMERS];
	int pid;           /* the process the table is of: a forked child has none */
	int thread_timers; /* SIGEV_THREAD timers we could not keep */
	int lost;          /* timers beyond MAX_TIMERS */
} tm;

static void tm_lock(void)
{
	while (__atomic_exchange_n(&tm.lock, 1, __ATOMIC_ACQUIRE))
		zsys0(SYS_sched_yield);
}
static void tm_unlock(void) { __atomic_store_n(&tm.lock, 0, __ATOMIC_RELEASE); }

ZAP_EXPORT int timer_create(clockid_t clock, struct sigevent *sev, timer_t *out)
{
	if (!zap_real.timer_create)
		return errno = ENOSYS, -1;
	struct sigevent real_sev;
	if (sev && (sev->sigev_notify & SIGEV_THREAD_ID)) { /* the program names a vtid */
		real_sev = *sev;
		real_sev._sigev_un._tid = zap_vpid_to_real(sev->_sigev_un._tid);
	}
	int r = zap_real.timer_create(clock, sev && (sev->sigev_notify & SIGEV_THREAD_ID) ? &real_sev : sev,
				      out);
	if (r != 0)
		return r;
	if (sev && sev->sigev_notify == SIGEV_THREAD) {
		__atomic_add_fetch(&tm.thread_timers, 1, __ATOMIC_RELAXED);
		return r;
	}
	tm_lock();
	if (tm.pid != (int)z_getpid()) { /* first timer of this process */
		int lock = tm.lock;
		memset(&tm, 0, sizeof(tm));
		tm.lock = lock;
		tm.pid = (int)z_getpid();
	}
	int kept = 0;
	for (int i = 0; i < MAX_TIMERS && !kept; i++) {
		if (tm.t[i].used)
			continue;
		kept = 1;
		memset(&tm.t[i], 0, sizeof(tm.t[i]));
		tm.t[i].used = 1;
		tm.t[i].id = (int)(intptr_t)*out;
		tm.t[i].clock = clock;
		if (sev) {
			memcpy(&tm.t[i].sev, sev, sizeof(tm.t[i].sev) < sizeof(*sev) ? sizeof(tm.t[i].sev) : sizeof(*sev));
		} else { /* the default: SIGALRM with the timer id as value */
			tm.t[i].sev.notify = SIGEV_SIGNAL;
			tm.t[i].sev.signo = SIGALRM;
			tm.t[i].sev.value = (uint64_t)tm.t[i].id;
		}
	}
	if (!kept) /* the table is full: this one will not come back */
		tm.lost++;
	tm_unlock();
	return r;
}

ZAP_EXPORT int timer_delete(timer_t id)
{
	if (!zap_real.timer_delete)
		return errno = ENOSYS, -1;
	int r = zap_real.timer_delete(id);
	tm_lock();
	for (int i = 0; i < MAX_TIMERS; i++)
		if (tm.t[i].used && tm.t[i].id == (int)(intptr_t)id)
			tm.t[i].used = 0;
	tm_unlock();
	return r;
}

/* In the checkpoint leader, every thread parked: no lock needed, and none
 * taken (a parked thread may hold it). */
int zap_timers_before_dump(void)
{
	if (tm.pid != (int)z_getpid()) { /* inherited from a parent: not ours */
		memset(&tm, 0, sizeof(tm));
		return 0;
	}
	for (int i = 0; i < MAX_TIMERS; i++)
		if (tm.t[i].used)
			zsys2(SYS_timer_gettime, tm.t[i].id, &tm.t[i].left);
	return tm.thread_timers + tm.lost;
}

/* After a restore, in the leader, before any thread returns to the
 * program.  new_tid maps the old tids of SIGEV_THREAD_ID targets. */
void zap_timers_after_restore(pid_t (*new_tid)(pid_t vtid))
{
	if (!tm.pid) /* this process never made a timer */
		return;
	tm.pid = (int)z_getpid();
	int any = 0;
	for (int i = 0; i < MAX_TIMERS; i++)
		any |= tm.t[i].used;
	if (!any)
		return;
	zsys5(SYS_prctl, Z_PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0);
	for (int i = 0; i < MAX_TIMERS; i++) {
		struct timer_rec *t = &tm.t[i];
		if (!t->used)
			continue;
		struct kernel_sigevent sev = t->sev;
		if (sev.notify & 4 /* SIGEV_THREAD_ID */)
			sev.tid = new_tid(sev.tid);
		int id = t->id;
		if (zsys3(SYS_timer_create, t->clock, &sev, &id) < 0) {
			t->used = 0; /* a kernel without restore ids: the timer is lost */
			continue;
		}
		if (t->left.value.sec || t->left.value.nsec)
			zsys4(SYS_timer_settime, id, 0, &t->left, 0);
	}
	zsys5(SYS_prctl, Z_PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
}

