/* zap run: start a program in a new pod, under the preload. */
#include "util.h"
#include "zap.h"
#include "zap/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_exec(int argc, char **argv);

const struct zap_cmd zap_cmd_run = {
	.name = "run",
	.args = "[--pod NAME] [--signal SIG] [--interval SECS] [--proxy ADDR:PORT --key FILE]\n"
		"               [--expose PORT]... -- PROG [ARGS...]",
	.summary = "run a program under zap, so that it can be checkpointed",
	.help = "Runs PROG in the foreground in a new pod and exits with its status.  Every\n"
		"process it starts joins the pod.  Checkpoint it with 'zap checkpoint NAME'\n"
		"or by sending it the checkpoint signal.\n\n"
		"Options:\n"
		"  --pod NAME        name the pod (default: PROG-PID)\n"
		"  --signal SIG      checkpoint signal (default SIGUSR2); the program never sees it\n"
		"  --interval SECS   take a checkpoint every SECS seconds\n"
		"  --proxy ADDR:PORT keep the pod's clients connected through the zap-proxy\n"
		"                    whose control port this is, across checkpoints and moves\n"
		"  --key FILE        the proxy's shared key (with --proxy)\n"
		"  --expose PORT     clients reach the pod's PORT at the same port on the\n"
		"                    proxy's host (with --proxy; repeat for more ports)\n\n"
		"Exit status: the program's own; 128+N if signal N killed it; 3 if\n"
		"'zap checkpoint --kill' stopped it; 7 if 'zap migrate' moved it to\n"
		"another host; 127 if it could not be started;\n"
		"1 or 2 for zap's own errors (see docs/exit-codes.md).\n",
	.exec = run_exec,
};

static int run_exec(int argc, char **argv)
{
	const char *pod_arg = NULL;
	int sig = ZAP_DEFAULT_SIGNAL;
	double interval = 0;
	const char *proxy = NULL, *key = NULL;
	uint16_t ports[ZAP_TUN_MAX_PORTS];
	int nports = 0;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (i + 1 >= argc)
			return zap_usage(&zap_cmd_run);
		if (!strcmp(a, "--pod")) {
			pod_arg = argv[++i];
		} else if (!strcmp(a, "--signal")) {
			sig = zap_signal_parse(argv[++i]);
			if (!sig || sig == 9 || sig == 19) {
				zap_err("'%s' is not a signal zap can use", argv[i]);
				return ZAP_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--interval")) {
			char *end;
			interval = strtod(argv[++i], &end);
			if (*end || interval <= 0) {
				zap_err("--interval takes a number of seconds, not '%s'", argv[i]);
				return ZAP_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--proxy")) {
			proxy = argv[++i];
		} else if (!strcmp(a, "--key")) {
			key = argv[++i];
		} else if (!strcmp(a, "--expose")) {
			char *end;
			long port = strtol(argv[++i], &end, 10);
			if (*end || port <= 0 || port > 65535 || nports == ZAP_TUN_MAX_PORTS) {
				zap_err("--expose takes a port number (at most %d of them), not '%s'",
					ZAP_TUN_MAX_PORTS, argv[i]);
				return ZAP_EXIT_USAGE;
			}
			ports[nports++] = (uint16_t)port;
		} else {
			zap_err("unknown option '%s'", a);
			return zap_usage(&zap_cmd_run);
		}
	}
	if (i >= argc)
		return zap_usage(&zap_cmd_run);
	char **prog = argv + i;
	if ((nports || key) && !proxy) {
		zap_err("--expose and --key go with --proxy");
		return ZAP_EXIT_USAGE;
	}
	if (proxy && !key) {
		zap_err("--proxy needs --key FILE, the proxy's shared key");
		return ZAP_EXIT_USAGE;
	}
	char proxy_env[600] = "", num[160], hex[2 * ZAP_TUN_KEY + 1];
	if (proxy) {
		struct sockaddr_storage ss;
		unsigned len;
		if (zap_proxy_resolve(proxy, num, sizeof(num), &ss, &len) < 0 || zap_proxy_key(key, hex) < 0)
			return ZAP_EXIT_USAGE;
		int n = snprintf(proxy_env, sizeof(proxy_env), "%s/%s/", num, hex);
		for (int k = 0; k < nports; k++)
			n += snprintf(proxy_env + n, sizeof(proxy_env) - (size_t)n, "%s%u", k ? "," : "", ports[k]);
	}

	char preload[PATH_MAX];
	if (zap_find_preload(preload, sizeof(preload)) < 0)
		return ZAP_EXIT_FAIL;
	char pod[64];
	if (pod_arg && !zap_pod_name_check(pod_arg))
		return ZAP_EXIT_USAGE;
	if (pod_arg) {
		snprintf(pod, sizeof(pod), "%s", pod_arg);
	} else {
		const char *base = strrchr(prog[0], '/') ? strrchr(prog[0], '/') + 1 : prog[0];
		snprintf(pod, sizeof(pod), "%.40s-%d", base, (int)getpid());
		for (char *p = pod; *p; p++)
			if (!zap_pod_name_ok((char[]){*p, 0}))
				*p = '_';
	}
	if (zap_pod_create(pod, prog) < 0)
		return ZAP_EXIT_FAIL;
	zap_pod_set_signal(pod, sig);
	if (proxy && zap_proxy_register(pod, num, hex, ports, nports) < 0)
		return ZAP_EXIT_FAIL;
	if (!proxy)
		zap_proxy_forget(pod); /* an earlier pod of that name had one */

	int errpipe[2];
	pid_t child = zap_pod_fork(pod, sig, errpipe);
	if (child < 0)
		return ZAP_EXIT_FAIL;
	if (child == 0) {
		const char *old = getenv("LD_PRELOAD");
		char env[PATH_MAX * 2];
		if (old && *old)
			snprintf(env, sizeof(env), "%s:%s", preload, old);
		else
			snprintf(env, sizeof(env), "%s", preload);
		setenv("LD_PRELOAD", env, 1);
		if (proxy_env[0])
			setenv(ZAP_ENV_PROXY, proxy_env, 1);
		execvp(prog[0], prog);
		int e = errno;
		if (write(errpipe[1], &e, sizeof(e)) < 0)
			_exit(ZAP_EXIT_NOT_RUN);
		_exit(ZAP_EXIT_NOT_RUN);
	}
	int e = 0;
	if (read(errpipe[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		close(errpipe[0]);
		zap_err("cannot run %s: %s", prog[0], strerror(e));
		zap_pod_wait(pod, child, 0);
		return ZAP_EXIT_NOT_RUN;
	}
	close(errpipe[0]);
	zap_pod_set_pid(pod, child);
	if (isatty(2))
		fprintf(stderr, "zap: pod %s, pid %d\n", pod, (int)child);
	return zap_pod_wait(pod, child, interval);
}
