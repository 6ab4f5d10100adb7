/* zap ps: the pods running here and their processes. */
#include "zap.h"

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ps_exec(int argc, char **argv);

const struct zap_cmd zap_cmd_ps = {
	.name = "ps",
	.args = "[--json] [--all]",
	.summary = "list the pods running under zap",
	.help = "One line per process: pod, the pid the program sees (VPID: the same\n"
		"after a restart), the real pid, state (from /proc) and command.  A member\n"
		"that exec'd a program the preload cannot enter (static, setuid) is marked.\n\n"
		"Options:\n"
		"  --json   print a JSON array instead\n"
		"  --all    also list pods that are not running (they may have images)\n\n"
		"Exit status: 0; 2 bad usage.\n",
	.exec = ps_exec,
};

static void proc_info(pid_t pid, char *state, char *cmd, size_t n)
{
	char path[64], buf[4096];
	*state = '?';
	cmd[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			char *rp = strrchr(buf, ')');
			if (rp && rp[1])
				*state = rp[2];
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	if (f) {
		size_t k = fread(cmd, 1, n - 1, f);
		fclose(f);
		for (size_t i = 0; i < k; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		cmd[k] = 0;
		while (k && cmd[k - 1] == ' ')
			cmd[--k] = 0;
	}
}

static void print_member(const char *pod, pid_t pid, pid_t main_pid, int json, int *first)
{
	char state, cmd[1024];
	proc_info(pid, &state, cmd, sizeof(cmd));
	int pre = zap_pod_member_has_preload(pod, pid);
	if (json) {
		printf("%s{\"pod\":", *first ? "" : ",");
		zap_json_str(pod);
		printf(",\"vpid\":%d,\"pid\":%d,\"main\":%s,\"state\":\"%c\",\"preload\":%s,\"command\":",
		       (int)zap_pod_member_vpid(pod, pid), (int)pid, pid == main_pid ? "true" : "false", state,
		       pre ? "true" : "false");
		zap_json_str(cmd);
		printf("}");
	} else {
		printf("%-24s %8d %8d %5c  %s%s\n", pod, (int)zap_pod_member_vpid(pod, pid), (int)pid, state,
		       cmd, pre ? "" : "  [no preload: static or setuid program, cannot be checkpointed]");
	}
	*first = 0;
}

static int ps_exec(int argc, char **argv)
{
	int json = 0, all = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--all"))
			all = 1;
		else
			return zap_usage(&zap_cmd_ps);
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/pods", zap_home());
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	if (json)
		printf("[");
	else
		printf("%-24s %8s %8s %5s  %s\n", "POD", "VPID", "PID", "STATE", "COMMAND");
	int first = 1;
	for (int i = 0; i < n; i++) {
		const char *pod = names[i]->d_name;
		if (pod[0] == '.')
			continue;
		pid_t main_pid = zap_pod_pid(pod);
		static pid_t procs[4096];
		/* members, the main process (which the preload may never have
		 * entered) and their descendants */
		int nprocs = main_pid ? zap_pod_processes(pod, procs, 4096) : 0;
		for (int k = 0; k < nprocs; k++)
			print_member(pod, procs[k], main_pid, json, &first);
		int listed = nprocs > 0;
		if (!listed && all) {
			if (json) {
				printf("%s{\"pod\":", first ? "" : ",");
				zap_json_str(pod);
				printf(",\"pid\":null,\"state\":\"-\"}");
			} else {
				printf("%-24s %8s %8s %5s  %s\n", pod, "-", "-", "-", "(not running)");
			}
			first = 0;
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	if (n > 0)
		free(names);
	if (json)
		printf("]\n");
	return 0;
}
