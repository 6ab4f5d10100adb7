/* Names and numbers every zap piece agrees on: environment variables,
 * the pod state directory layout, exit codes (docs/exit-codes.md). */
#ifndef ZAP_COMMON_H
#define ZAP_COMMON_H

/* Environment the launcher gives a pod's processes (the preload keeps them
 * across exec even when the program rewrites its environment). */
#define ZAP_ENV_HOME "ZAP_HOME"     /* state directory, default ~/.zap */
#define ZAP_ENV_POD "ZAP_POD"       /* pod name */
#define ZAP_ENV_SIGNAL "ZAP_SIGNAL" /* checkpoint signal, name or number */
#define ZAP_ENV_PRELOAD "ZAP_PRELOAD"   /* override: path of libzappre.so */
#define ZAP_ENV_RESTORER "ZAP_RESTORER" /* override: path of zap-restart */

#define ZAP_DEFAULT_SIGNAL 12 /* SIGUSR2 */

/* Under $ZAP_HOME/pods/<name>/: */
#define ZAP_POD_PID "pid"         /* the pod's main process, decimal */
#define ZAP_POD_CMD "cmd"         /* its command line, for zap ps */
#define ZAP_POD_SIGNAL "signal"   /* its checkpoint signal, decimal */
#define ZAP_POD_REQUEST "request" /* what the next checkpoint should do */
#define ZAP_POD_RESULT "result"   /* what the last checkpoint did */
#define ZAP_POD_IMAGE "image"     /* the default image directory */
#define ZAP_POD_MEMBERS "members" /* one empty file per member pid */
#define ZAP_POD_IPC "ipc"         /* the SysV objects the pod made or opened (preload/ipc.c) */

/* Exit codes of zap commands (the program's own status passes through
 * `zap run` and `zap restart`; a signal N gives 128+N). */
enum zap_exit {
	ZAP_EXIT_OK = 0,
	ZAP_EXIT_FAIL = 1,          /* the operation failed; stderr says why */
	ZAP_EXIT_USAGE = 2,         /* bad command line */
	ZAP_EXIT_CHECKPOINTED = 3,  /* run/restart: the program was stopped by checkpoint --kill */
	ZAP_EXIT_BAD_IMAGE = 4,     /* the image is missing, truncated, corrupt or for another machine */
	ZAP_EXIT_NOT_FOUND = 5,     /* no such pod or process under zap */
	ZAP_EXIT_CHANGED = 6,       /* a file the image needs changed or vanished */
	ZAP_EXIT_MIGRATED = 7,      /* run/restart: the pod moved to another host (zap migrate) */
	ZAP_EXIT_NOT_RUN = 127,     /* run: the program could not be started */
};

#endif
