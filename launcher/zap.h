/* The `zap` command: one file per subcommand (cmd-*.c), one table (zap.c),
 * and the pod state helpers they share (pod.c). */
#ifndef ZAP_LAUNCHER_H
#define ZAP_LAUNCHER_H

#include <stdint.h>
#include <sys/types.h>

#include "zap/common.h"

struct zap_cmd {
	const char *name;
	const char *args;     /* synopsis after the name */
	const char *summary;  /* one line */
	const char *help;     /* the rest of --help */
	int (*exec)(int argc, char **argv);
};

extern const struct zap_cmd zap_cmd_run, zap_cmd_checkpoint, zap_cmd_restart, zap_cmd_inspect,
	zap_cmd_ps, zap_cmd_keygen, zap_cmd_migrate;

/* Errors: "zap CMD: message" on stderr. */
extern const char *zap_cmd_name;
void zap_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints usage for cmd and returns ZAP_EXIT_USAGE. */
int zap_usage(const struct zap_cmd *cmd);
/* --help / -h anywhere before "--": prints the full help, returns 1. */
int zap_wants_help(const struct zap_cmd *cmd, int argc, char **argv);

/* ---- images (images.c) ---- */
struct zap_img;
struct zap_img_member;
/* IMAGE (the directory, or a file in it) -> its pod file, opened and
 * checked; dir gets the directory.  On failure prints why, returns -1. */
int zap_image_open_pod(const char *image, char *dir, size_t n, struct zap_img *pod);
/* A member's process file, opened and checked; path gets its name. */
int zap_image_open_member(const char *dir, const struct zap_img_member *m, struct zap_img *proc,
			  char *path, size_t n);
void zap_image_free(struct zap_img *img);
/* malloc, as the image reader wants it (zap_image_free frees). */
void *zap_image_alloc(void *ctx, size_t n);
/* A JSON string literal on stdout. */
void zap_json_str(const char *s);

/* ---- pods (pod.c) ---- */
const char *zap_home(void);                  /* $ZAP_HOME or ~/.zap, created */
int zap_pod_dir(const char *pod, char *buf, size_t n);
int zap_pod_name_ok(const char *name);
/* As zap_pod_name_ok, printing why a name is refused. */
int zap_pod_name_check(const char *name);
/* Creates the pod's state directory; fails if a live pod has the name. */
int zap_pod_create(const char *pod, char *const argv[]);
pid_t zap_pod_pid(const char *pod);          /* main pid if alive, else 0 */
/* pid lives, is no zombie, and belongs to the pod (pids are reused). */
int zap_pod_member_alive(pid_t pid, const char *pod);
uint64_t zap_rss_bytes(pid_t pid);          /* resident memory, from /proc */
/* Whether libzappre.so is mapped in pid: a child forked a moment ago has
 * no members file, but the preload. */
int zap_pod_maps_have_preload(pid_t pid);
/* The pod's live processes: its registered members, its main process and
 * all their live descendants (forked children register nowhere).  How
 * many were put in out. */
int zap_pod_processes(const char *pod, pid_t *out, int max);
/* Fields of /proc/PID/stat: state, parent, and (exit_code, may be NULL) the
 * exit status a zombie left. */
int zap_proc_stat(pid_t pid, char *state, pid_t *ppid, int *exit_code);
/* Whether the preload still runs in a member (not after it exec'd a
 * static or setuid program). */
int zap_pod_member_has_preload(const char *pod, pid_t pid);
/* The pid a member sees itself as (its vpid), from its members file. */
pid_t zap_pod_member_vpid(const char *pod, pid_t pid);
int zap_pod_set_pid(const char *pod, pid_t pid);
int zap_pod_signal(const char *pod);         /* the pod's checkpoint signal */
int zap_pod_set_signal(const char *pod, int sig);
/* NAME or PID -> pod name; 0 or -1 (message printed). */
int zap_pod_resolve(const char *what, char *pod, size_t n, pid_t *pid);
/* Paths of our other pieces: next to the zap binary, or the env overrides. */
int zap_find_preload(char *buf, size_t n);
int zap_find_restorer(char *buf, size_t n);

/* The last checkpoint result of a pod ($pod/result). */
struct zap_result {
	uint64_t id;
	int ok, kill;
	pid_t pid;
	char image[1024];
	char error[512];
	char warning[1024];
	char old[1200];      /* the image this one replaced, to remove */
	char migrated[256];  /* zap migrate: the host the pod went to */
	uint64_t bytes, pages, write_usec, stop_usec;
};
int zap_result_read(const char *pod, struct zap_result *res);
/* Writes $pod/result (what the preload writes for a single process). */
int zap_result_write(const char *pod, const struct zap_result *res);

/* Set by `zap checkpoint --no-spare`: do not keep the replaced image. */
extern int zap_no_spare;

/* A pod with several live processes: checkpointed together (pod-ckpt.c). */
int zap_checkpoint_pod_members(const char *pod, pid_t main_pid, const char *out, int kill,
			       double timeout_s, struct zap_result *res);

/* The same, stopping before release or kill: the image is committed and
 * every member waits at the barrier (they give up and run on after 600 s,
 * or as soon as this process dies) until one of the two calls below.
 * NULL on failure (said; the members run on). */
struct zap_pod_hold;
struct zap_pod_hold *zap_checkpoint_pod_hold(const char *pod, pid_t main_pid, const char *out,
					     double timeout_s, struct zap_result *res);
void zap_pod_ckpt_release(struct zap_pod_hold *h);
void zap_pod_ckpt_kill(struct zap_pod_hold *h);

/* One checkpoint of a pod at a time: an flock on $pod/lock, waited for up
 * to timeout_s.  The fd to close when done, -1 when there is no lock file
 * to take, -2 after the timeout (said). */
int zap_pod_lock(const char *pod, double timeout_s);

/* Asks the pod's process to checkpoint and waits (bounded) for its answer. */
int zap_checkpoint_pod(const char *pod, pid_t pid, const char *out, int kill, double timeout_s,
		       struct zap_result *res);

/* zap-proxy (proxy-client.c): the tunnel key (zap_tun_key() of the key
 * file) as hex; HOST:PORT resolved to a numeric ADDR:PORT; REGISTER (and
 * $pod/proxy written); and a checkpoint bracketed by FREEZE and THAW when
 * the pod has a proxy. */
struct sockaddr_storage;
int zap_proxy_key(const char *key_file, char hex[65]);
int zap_proxy_resolve(const char *spec, char *num, size_t n, struct sockaddr_storage *ss, unsigned *len);
int zap_proxy_register(const char *pod, const char *num, const char *hex, const uint16_t *ports, int nports);
void zap_proxy_forget(const char *pod); /* removes $pod/proxy */
/* FREEZE (on) or THAW the pod's tunnels: 1 done, 0 no proxy, -1 failed (said). */
int zap_proxy_freeze(const char *pod, int on);
int zap_checkpoint_kept(const char *pod, pid_t pid, const char *out, int kill, double timeout_s,
			struct zap_result *res);

/* Forks the pod's main process with a close-on-exec pipe from it (pipefd[1]
 * in the child, pipefd[0] here) and the pod's settings in its environment
 * (ZAP_HOME, ZAP_POD, ZAP_SIGNAL).  Child pid, 0 in the child, -1 (said). */
pid_t zap_pod_fork(const char *pod, int sig, int pipefd[2]);

/* Waits for the pod's main process (our child) and turns its end into our
 * exit status: its own, 128+N for signal N, or ZAP_EXIT_CHECKPOINTED when a
 * checkpoint --kill stopped it. */
int zap_pod_wait(const char *pod, pid_t child, double interval_s);

#endif
