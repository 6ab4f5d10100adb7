/* zap restart: bring a pod back from its image. */
#include "image.h"
#include "zap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static int restart_exec(int argc, char **argv);

const struct zap_cmd zap_cmd_restart = {
	.name = "restart",
	.args = "[--pod NAME] [--inherit-stdio] [--interval SECS] IMAGE",
	.summary = "restart a program from an image, where it stopped",
	.help = "Recreates the process of IMAGE (a directory written by 'zap checkpoint')\n"
		"with its threads, memory, files and signal state, and resumes every thread\n"
		"at the instruction where it stopped.  Runs in the foreground; a terminal,\n"
		"pipe or socket the program had as stdin/stdout/stderr becomes this\n"
		"command's own; a regular file is reopened at its offset.\n\n"
		"Options:\n"
		"  --pod NAME        the restarted pod's name (default: the one in the image)\n"
		"  --inherit-stdio   use this command's stdio for fds 0-2 whatever they were\n"
		"  --interval SECS   take a checkpoint every SECS seconds, as 'zap run' does\n\n"
		"Exit status: the program's own, as for 'zap run'; 4 the image is missing,\n"
		"truncated, corrupt or for another machine; 6 a file the image needs changed\n"
		"or vanished; 1 other failures (stderr says why).  Nothing is left running\n"
		"when the restart fails.\n",
	.exec = restart_exec,
};

/* Bytes pid has read, from /proc/PID/io. */
static uint64_t read_bytes(pid_t pid)
{
	char path[64], line[128];
	unsigned long long v = 0;
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static int restart_exec(int argc, char **argv)
{
	const char *pod_arg = NULL, *image = NULL;
	int inherit = 0;
	double interval = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pod") && i + 1 < argc) {
			pod_arg = argv[++i];
		} else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			char *end;
			interval = strtod(argv[++i], &end);
			if (*end || interval <= 0) {
				zap_err("--interval takes a number of seconds, not '%s'", argv[i]);
				return ZAP_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--inherit-stdio")) {
			inherit = 1;
		} else if (argv[i][0] == '-' || image) {
			return zap_usage(&zap_cmd_restart);
		} else {
			image = argv[i];
		}
	}
	if (!image)
		return zap_usage(&zap_cmd_restart);
	if (pod_arg && !zap_pod_name_check(pod_arg))
		return ZAP_EXIT_USAGE;
	char dir[PATH_MAX], file[PATH_MAX + 64], pod[64];
	struct zap_img pod_img, proc_img;
	if (zap_image_open_pod(image, dir, sizeof(dir), &pod_img) < 0)
		return ZAP_EXIT_BAD_IMAGE;
	if (pod_img.nmembers != 1) {
		zap_err("%s holds %u processes; restarting several processes at once is not supported yet",
			image, pod_img.nmembers);
		zap_image_free(&pod_img);
		return ZAP_EXIT_FAIL;
	}
	snprintf(pod, sizeof(pod), "%s", pod_arg ? pod_arg : pod_img.pod->name);
	int sig = (int)pod_img.pod->signal;
	int bad = zap_image_open_member(dir, &pod_img.members[0], &proc_img, file, sizeof(file)) < 0;
	zap_image_free(&pod_img);
	if (bad)
		return ZAP_EXIT_BAD_IMAGE;
	zap_image_free(&proc_img);
	if (!pod[0])
		snprintf(pod, sizeof(pod), "restored-%d", (int)getpid());
	if (zap_pod_create(pod, NULL) < 0)
		return ZAP_EXIT_FAIL;
	zap_pod_set_signal(pod, sig ? sig : ZAP_DEFAULT_SIGNAL);
	char restorer[PATH_MAX];
	if (zap_find_restorer(restorer, sizeof(restorer)) < 0)
		return ZAP_EXIT_FAIL;

	int status[2];
	pid_t child = zap_pod_fork(pod, sig, status);
	if (child < 0)
		return ZAP_EXIT_FAIL;
	if (child == 0) {
		int fd = fcntl(status[1], F_DUPFD, 3); /* without CLOEXEC, for the restorer */
		char fdbuf[16];
		snprintf(fdbuf, sizeof(fdbuf), "%d", fd);
		char *args[12];
		int k = 0;
		args[k++] = restorer;
		args[k++] = "--status-fd";
		args[k++] = fdbuf;
		args[k++] = "--home";
		args[k++] = (char *)zap_home();
		args[k++] = "--pod";
		args[k++] = pod;
		if (inherit)
			args[k++] = "--inherit-stdio";
		args[k++] = file;
		args[k] = NULL;
		execv(restorer, args);
		dprintf(fd, "cannot run %s: %s\n", restorer, strerror(errno));
		_exit(ZAP_EXIT_FAIL);
	}
	char msg[2048];
	size_t got = 0;
	/* on a terminal, a long restore says how far it has come: what the
	 * restorer has read so far (/proc/PID/io) against the image's size */
	struct stat ist;
	uint64_t total = stat(file, &ist) == 0 ? (uint64_t)ist.st_size : 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int shown = 0;
	for (;;) {
		struct pollfd pfd = {.fd = status[0], .events = POLLIN};
		if (isatty(2) && poll(&pfd, 1, 200) == 0) {
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
			if (el > 0.5) {
				fprintf(stderr, "\r%s: restoring %.0f of ~%.0f MiB (%.1f s) ", zap_cmd_name,
					(double)read_bytes(child) / 1048576, (double)total / 1048576, el);
				shown = 1;
			}
			continue;
		}
		ssize_t n = read(status[0], msg + got, sizeof(msg) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(msg) - 1)
			break;
	}
	close(status[0]);
	if (shown)
		fprintf(stderr, "\r%*s\r", 70, "");
	msg[got] = 0;
	if (got) {
		while (got && msg[got - 1] == '\n')
			msg[--got] = 0;
		zap_err("%s", msg);
		int st_child;
		waitpid(child, &st_child, 0);
		int code = WIFEXITED(st_child) ? WEXITSTATUS(st_child) : ZAP_EXIT_FAIL;
		return code ? code : ZAP_EXIT_FAIL;
	}
	zap_pod_set_pid(pod, child);
	return zap_pod_wait(pod, child, interval);
}
