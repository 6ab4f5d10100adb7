/* zap checkpoint: ask a pod to write its image. */
#include "zap.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int checkpoint_exec(int argc, char **argv);

const struct zap_cmd zap_cmd_checkpoint = {
	.name = "checkpoint",
	.args = "[--kill] [--no-spare] [--json] [-o DIR] [--timeout SECS] NAME|PID",
	.summary = "write an image of a running pod",
	.help = "Stops every thread of the pod's process at one barrier, writes its image\n"
		"and lets it run on (or stops it, with --kill).  The image is a directory;\n"
		"it replaces the previous one atomically, so a checkpoint interrupted at any\n"
		"point leaves the previous image whole.  Prints the image's path.\n\n"
		"Options:\n"
		"  -o DIR           write the image to DIR (default: the pod's state directory)\n"
		"  --kill           stop the program once the image is written\n"
		"  --no-spare       do not keep the replaced image as DIR.spare (by default\n"
		"                   it is kept and the next checkpoint writes over it, which\n"
		"                   is several times faster than writing new files, at the\n"
		"                   cost of twice the space)\n"
		"  --timeout SECS   give up waiting after SECS seconds (default 600)\n"
		"  --json           print {\"image\", \"bytes\", \"pages\", \"write_usec\",\n"
		"                   \"stop_usec\", \"warning\"} instead of the path\n\n"
		"Exit status: 0 written; 1 failed (stderr says why); 2 bad usage;\n"
		"5 no such pod or process under zap.\n",
	.exec = checkpoint_exec,
};

/* An existing -o DIR is replaced only if it is empty or a zap image. */
static int out_ok(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return 1;
	if (!S_ISDIR(st.st_mode)) {
		zap_err("%s exists and is not a directory", dir);
		return 0;
	}
	DIR *d = opendir(dir);
	struct dirent *e;
	int entries = 0, pod = 0;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		entries++;
		if (!strcmp(e->d_name, "pod.img"))
			pod = 1;
	}
	if (d)
		closedir(d);
	if (entries && !pod) {
		zap_err("%s is not empty and holds no zap image; refusing to replace it", dir);
		return 0;
	}
	return 1;
}

static int checkpoint_exec(int argc, char **argv)
{
	int kill_after = 0, json = 0;
	const char *out = NULL, *target = NULL;
	double timeout = 600;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--kill")) {
			kill_after = 1;
		} else if (!strcmp(argv[i], "--no-spare")) {
			zap_no_spare = 1;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			timeout = strtod(argv[++i], &end);
			if (*end || timeout <= 0) {
				zap_err("--timeout takes a number of seconds, not '%s'", argv[i]);
				return ZAP_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' || target) {
			zap_err("unexpected argument '%s'", argv[i]);
			return zap_usage(&zap_cmd_checkpoint);
		} else {
			target = argv[i];
		}
	}
	if (!target)
		return zap_usage(&zap_cmd_checkpoint);
	char pod[64];
	pid_t pid;
	if (zap_pod_resolve(target, pod, sizeof(pod), &pid) < 0)
		return ZAP_EXIT_NOT_FOUND;
	char abs[PATH_MAX * 2 + 2];
	if (out) {
		/* the process resolves paths from its own cwd: give it ours */
		if (out[0] == '/') {
			snprintf(abs, sizeof(abs), "%s", out);
		} else {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd))) {
				zap_err("getcwd: %s", strerror(errno));
				return ZAP_EXIT_FAIL;
			}
			snprintf(abs, sizeof(abs), "%s/%s", cwd, out);
		}
		size_t n = strlen(abs);
		while (n > 1 && abs[n - 1] == '/')
			abs[--n] = 0;
		if (!out_ok(abs))
			return ZAP_EXIT_FAIL;
		char parent[sizeof(abs)];
		snprintf(parent, sizeof(parent), "%s", abs);
		char *slash = strrchr(parent, '/');
		if (slash)
			slash[slash == parent ? 1 : 0] = 0; /* "/NAME" lives in "/" */
		if (access(parent, W_OK) < 0) {
			zap_err("cannot write into %s: %s", parent, strerror(errno));
			return ZAP_EXIT_FAIL;
		}
		out = abs;
	}
	struct zap_result res;
	if (zap_checkpoint_kept(pod, pid, out, kill_after, timeout, &res) < 0)
		return ZAP_EXIT_FAIL;
	if (!json) {
		printf("%s\n", res.image);
		return 0;
	}
	printf("{\"image\":");
	zap_json_str(res.image);
	printf(",\"bytes\":%llu,\"pages\":%llu,\"write_usec\":%llu,\"stop_usec\":%llu,\"warning\":",
	       (unsigned long long)res.bytes, (unsigned long long)res.pages,
	       (unsigned long long)res.write_usec, (unsigned long long)res.stop_usec);
	zap_json_str(res.warning);
	printf("}\n");
	return 0;
}
