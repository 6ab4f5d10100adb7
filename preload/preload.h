/* libzappre.so internals.  Everything is hidden (-fvisibility=hidden) but
 * the wrappers marked ZAP_EXPORT; tests/check-exports.sh keeps it so. */
#ifndef ZAP_PRELOAD_H
#define ZAP_PRELOAD_H

#include <signal.h>
#include <stdio.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

struct shmid_ds;
struct msqid_ds;
struct sembuf;

#include "thread.h"
#include "zap/image.h"

#define ZAP_EXPORT __attribute__((visibility("default")))

/* The real libc functions we wrap, found once at load time. */
struct zap_real {
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*sigprocmask)(int, const sigset_t *, sigset_t *);
	int (*pthread_sigmask)(int, const sigset_t *, sigset_t *);
	int (*sigsuspend)(const sigset_t *);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);
	int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[], char *const[]);
	__sighandler_t (*signal)(int, __sighandler_t);
	__sighandler_t (*sysv_signal)(int, __sighandler_t);
	__sighandler_t (*bsd_signal)(int, __sighandler_t);
	__sighandler_t (*sigset)(int, __sighandler_t);
	int (*timer_create)(clockid_t, struct sigevent *, timer_t *);
	int (*timer_delete)(timer_t);
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	FILE *(*fopen)(const char *, const char *);
	void *(*opendir)(const char *);
	int (*shmget)(key_t, size_t, int);
	int (*semget)(key_t, int, int);
	int (*msgget)(key_t, int);
	void *(*shmat)(int, const void *, int);
	int (*shmctl)(int, int, struct shmid_ds *);
	int (*semop)(int, struct sembuf *, size_t);
	int (*semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
	int (*semctl)(int, int, int, ...);
	int (*msgsnd)(int, const void *, size_t, int);
	ssize_t (*msgrcv)(int, void *, size_t, long, int);
	int (*msgctl)(int, int, struct msqid_ds *);
	int (*sighold)(int);
	int (*sigrelse)(int);
	int (*sigignore)(int);
	pid_t (*fork)(void);
	pid_t (*Fork)(void); /* _Fork, glibc 2.34 */
	int (*clone)(int (*)(void *), void *, int, void *, ...);
	pid_t (*wait4)(pid_t, int *, int, struct rusage *);
	int (*waitid)(idtype_t, id_t, siginfo_t *, int);
	int (*sigwaitinfo)(const sigset_t *, siginfo_t *);
	int (*sigtimedwait)(const sigset_t *, siginfo_t *, const struct timespec *);
};
extern struct zap_real zap_real;

/* What the preload knows about itself and its pod, fixed at load time so
 * that nothing the program does to its environment changes it. */
struct zap_self {
	int ready;               /* 0 until the constructor finished */
	int sig;                 /* the checkpoint signal */
	char home[512];          /* $ZAP_HOME, absolute */
	char pod[64];            /* pod name; "pid-PID" when run outside `zap run` */
	int in_pod;              /* started by `zap run` or `zap restart` (ZAP_POD set) */
	char pod_dir[640];       /* $ZAP_HOME/pods/<pod> */
	char lib_path[512];      /* this library, for LD_PRELOAD after exec */
	char exe[512];           /* the program, as /proc/self/exe named it at load */
	char exe_now[512];       /* what /proc/self/exe says now (zap-restart after a
	                          * restore without CAP_CHECKPOINT_RESTORE) */
	struct zap_thread_layout layout;
	uint64_t generation;     /* checkpoints taken of this process so far */
	void **curbrk;           /* glibc's __curbrk, fixed after a restore without brk */
	pid_t pgid_vpid;         /* our process group at the last checkpoint */
};
extern struct zap_self zap_self;

/* The restorer writes here inside a restored process. */
extern struct zap_restore_info zap_restore_info;

void zap_real_init(void);
/* This library as the dynamic loader has it: its file name (as LD_PRELOAD
 * named it) and the addresses it spans. */
struct zap_own_object {
	const char *name;
	uintptr_t lo, hi;
};
const struct zap_own_object *zap_own_object(void);
void zap_signal_install(void);
void zap_checkpoint_handler(int sig, siginfo_t *info, void *uc);
void zap_pod_register_member(void);
void zap_fork_child(void); /* a new process's first steps (atfork, _Fork, clone) */

/* POSIX timers (timer.c).  before_dump returns how many timers it cannot
 * keep (SIGEV_THREAD). */
int zap_timers_before_dump(void);
void zap_timers_after_restore(pid_t (*new_tid)(pid_t vtid));

/* Socket addresses (sock.c): noted before a dump, answered after a restore. */
void zap_sock_before_dump(void);
void zap_sock_after_restore(void);

/* Virtual pids (pid.c). */
void zap_pid_init(void);
void zap_pid_inherit(const char *env); /* ZAP_VPID=vpid:real */
pid_t zap_pid_self(void);
/* A child forked a moment ago whose atfork handler has not run yet: what
 * we know of our pid is still the parent's. */
int zap_pid_is_stale(void);
/* The same, correct in a vfork child too (costs a getpid). */
pid_t zap_pid_self_after_vfork(void);
pid_t zap_pid_self_vtid(void);
pid_t zap_vpid_to_real(pid_t v);
pid_t zap_real_to_vpid(pid_t r);
void zap_pid_restored(const pid_t *vtids, const pid_t *reals, uint32_t n);
const char *zap_pid_path(const char *path, char *buf, size_t n);
pid_t zap_pid_arg_to_real(pid_t pid); /* kill/waitpid form: groups as -pgid */
pid_t zap_pid_adopt_child(pid_t real); /* a new child's vpid */
void zap_pid_forget(pid_t real);       /* a reaped child */
/* Children (fork.c): syscall() for wait4 and waitid, -errno. */
long zap_sys_wait4(pid_t pid, int *status, int options, void *ru);
long zap_sys_waitid(int type, pid_t id, siginfo_t *info, int options, void *ru);
/* The pod's table of other members' ids (ckpt/vtab.c), after a restart. */
struct zap_vtab;
void zap_pid_open_vtab(const char *pod_dir);  /* maps it if it exists */
void zap_pid_attach_vtab(struct zap_vtab *t);
struct zap_vtab *zap_pid_vtab(void);

/* Tunnels through zap-proxy (tunnel.c): around a checkpoint, and the
 * ZAP_PROXY variable for exec (NULL outside a --proxy pod). */
void zap_tunnel_before_dump(void);
void zap_tunnel_after_restore(void);
const char *zap_tunnel_env(void);
struct sockaddr;
int zap_tunnel_peer(int fd, struct sockaddr *addr, unsigned *len); /* 0, or -1: not a tunnel */

/* The program's view of the checkpoint signal (signal.c). */
int zap_signal_virtual_action(const struct sigaction *act, struct sigaction *old);

#endif
