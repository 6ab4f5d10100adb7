/* zap restart: bring a pod back from its image. */
#include "image.h"
#include "podfds.h"
#include "stream.h"
#include "restore.h"
#include "sysv.h"
#include "vtab.h"
#include "zap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
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

/* The restorers' reports on the status pipe: "ok VPID PID" as each member
 * is about to resume, anything else is an error. */
struct restart_status {
	struct zap_vtab *vt;
	pid_t reals[4096];
	int nreals;
	char errors[2048];
};

static void restart_parse(struct restart_status *st, char *text)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		int v, real;
		if (sscanf(line, "ok %d %d", &v, &real) == 2) {
			zap_vtab_set(st->vt, v, real);
			if (st->nreals < (int)(sizeof(st->reals) / sizeof(st->reals[0])))
				st->reals[st->nreals++] = real;
		} else if (strlen(st->errors) + strlen(line) + 2 < sizeof(st->errors)) {
			if (st->errors[0])
				strcat(st->errors, "\n");
			strcat(st->errors, line);
		}
	}
}

static int restart_exec(int argc, char **argv)
{
	const char *pod_arg = NULL, *image = NULL, *stream_arg = NULL;
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
		} else if (!strcmp(argv[i], "--stream") && i + 1 < argc) {
			stream_arg = argv[++i]; /* zapd's, docs/zap-restart.md */
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
	char dir[PATH_MAX], file[PATH_MAX + 64], pod[64], podfile[PATH_MAX + 16];
	static struct zap_img pod_img;
	/* an image still arriving: its page data is waited for, by us (memory
	 * members share) and by the restorers, which get the file's fd */
	const struct zap_stream *stream = NULL;
	int stream_fd = -1;
	if (stream_arg) {
		long e = -ENOENT;
		stream_fd = open(stream_arg, O_RDONLY); /* inherited by the restorers */
		if (stream_fd < 0 || (e = zap_stream_map(stream_fd, 0, &stream)) < 0) {
			zap_err("%s: %s", stream_arg, stream_fd < 0 ? strerror(errno) : strerror((int)-e));
			return ZAP_EXIT_FAIL;
		}
	}
	if (zap_image_open_pod(image, dir, sizeof(dir), &pod_img) < 0)
		return ZAP_EXIT_BAD_IMAGE;
	snprintf(podfile, sizeof(podfile), "%s/pod.img", dir);
	snprintf(pod, sizeof(pod), "%s", pod_arg ? pod_arg : pod_img.pod->name);
	int sig = (int)pod_img.pod->signal;
	/* every process file, checked before anything starts */
	uint64_t total = 0;
	const struct zap_img_member *main_m = NULL;
	for (uint32_t i = 0; i < pod_img.nmembers; i++) {
		const struct zap_img_member *m = &pod_img.members[i];
		if (m->flags & ZAP_MEMBER_ZOMBIE)
			continue;
		struct zap_img proc_img;
		if (zap_image_open_member(dir, m, &proc_img, file, sizeof(file)) < 0) {
			zap_image_free(&pod_img);
			return ZAP_EXIT_BAD_IMAGE;
		}
		zap_image_free(&proc_img);
		struct stat ist;
		total += stat(file, &ist) == 0 ? (uint64_t)ist.st_size : 0;
		if (!main_m)
			main_m = m; /* the pod file lists the main process first */
	}
	if (!pod[0])
		snprintf(pod, sizeof(pod), "restored-%d", (int)getpid());
	char restorer[PATH_MAX];
	if (zap_pod_create(pod, NULL) < 0 || zap_find_restorer(restorer, sizeof(restorer)) < 0) {
		zap_image_free(&pod_img);
		return ZAP_EXIT_FAIL;
	}
	zap_pod_set_signal(pod, sig ? sig : ZAP_DEFAULT_SIGNAL);

	/* the pod's id table, filled in as the members report back */
	char vtab_path[PATH_MAX + 16];
	zap_pod_dir(pod, vtab_path, sizeof(vtab_path));
	strncat(vtab_path, "/" ZAP_VTAB_FILE, sizeof(vtab_path) - strlen(vtab_path) - 1);
	long verr;
	static struct restart_status st;
	st.vt = zap_vtab_map(vtab_path, 1, &verr);
	if (!st.vt) {
		zap_err("cannot create %s: %s", vtab_path, strerror((int)-verr));
		zap_image_free(&pod_img);
		return ZAP_EXIT_FAIL;
	}
	char err[1024], pod_dir[PATH_MAX];
	zap_pod_dir(pod, pod_dir, sizeof(pod_dir));
	if (zap_sysv_restore(dir, pod_dir, st.vt, err, sizeof(err)) < 0) {
		zap_err("%s", err);
		zap_image_free(&pod_img);
		return ZAP_EXIT_FAIL;
	}
	/* the descriptions members share, opened once, inherited by all */
	int base = zap_pod_fds_top(dir, &pod_img) + 1, probe = dup(0);
	if (probe >= base)
		base = probe + 1;
	if (probe >= 0)
		close(probe);
	base += 16;
	int nshared = zap_pod_fds_open(dir, &pod_img, base, err, sizeof(err));
	if (nshared < 0) {
		zap_err("%s", err);
		zap_sysv_remove(pod_dir, err, sizeof(err));
		zap_image_free(&pod_img);
		return ZAP_EXIT_CHANGED;
	}
	/* and the memory they share, right after */
	int nshm = zap_pod_mem_open(dir, &pod_img, base + nshared, stream, err, sizeof(err));
	if (nshm < 0) {
		zap_err("%s", err);
		zap_sysv_remove(pod_dir, err, sizeof(err));
		zap_image_free(&pod_img);
		return ZAP_EXIT_BAD_IMAGE;
	}
	int status[2];
	pid_t child = zap_pod_fork(pod, sig, status);
	if (child < 0)
		return ZAP_EXIT_FAIL;
	if (child == 0) {
		/* without CLOEXEC, for the restorer */
		int fd = fcntl(status[1], F_DUPFD, base + nshared + nshm);
		struct zap_restorer_cmd cmd = {restorer, zap_home(), pod, podfile, fd, main_m->pid, base,
					       nshared, inherit, nshm, stream_fd, {{0}}, {0}};
		char **args = zap_restorer_argv(&cmd);
		execv(restorer, args);
		dprintf(fd, "cannot run %s: %s\n", restorer, strerror(errno));
		_exit(ZAP_EXIT_FAIL);
	}
	for (int k = 0; k < nshared + nshm; k++) /* the restorers have them now */
		close(base + k);
	uint32_t expected = pod_img.nmembers;
	zap_image_free(&pod_img);
	char msg[8192];
	size_t got = 0;
	/* on a terminal, a long restore says how far it has come: what the
	 * restorer has read so far (/proc/PID/io) against the image's size */
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
				uint64_t done = read_bytes(child);
				for (int k = 0; k < st.nreals; k++)
					if (st.reals[k] != child)
						done += read_bytes(st.reals[k]);
				fprintf(stderr, "\r%s: restoring %.0f of ~%.0f MiB (%.1f s) ", zap_cmd_name,
					(double)done / 1048576, (double)total / 1048576, el);
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
		msg[got] = 0;
		char *nl = strrchr(msg, '\n');
		if (nl) { /* whole lines now, the rest later */
			size_t keep = got - (size_t)(nl + 1 - msg);
			*nl = 0;
			restart_parse(&st, msg);
			memmove(msg, nl + 1, keep);
			got = keep;
		}
		if (got == sizeof(msg) - 1)
			break;
	}
	close(status[0]);
	if (shown)
		fprintf(stderr, "\r%*s\r", 70, "");
	msg[got] = 0;
	restart_parse(&st, msg);
	/* an image still arriving: the pod is not "running" (its pid file)
	 * before zapd has it all and authenticated it */
	long se = 0;
	if (!st.errors[0] && (uint32_t)st.nreals == expected && (se = zap_stream_wait_complete(stream)) < 0)
		snprintf(st.errors, sizeof(st.errors), "the image did not arrive whole: %s",
			 zap_stream_strerror(se));
	if (st.errors[0] || (uint32_t)st.nreals != expected) {
		/* nothing half-restored stays behind */
		for (int k = 0; k < st.nreals; k++)
			if (st.reals[k] != child)
				kill(st.reals[k], SIGKILL);
		kill(child, SIGKILL);
		zap_err("%s", st.errors[0] ? st.errors : "a process of the pod did not come back");
		zap_sysv_remove(pod_dir, err, sizeof(err));
		int st_child;
		waitpid(child, &st_child, 0);
		int code = WIFEXITED(st_child) ? WEXITSTATUS(st_child) : ZAP_EXIT_FAIL;
		zap_vtab_unmap(st.vt);
		return code ? code : ZAP_EXIT_FAIL;
	}
	zap_vtab_set_ready(st.vt);
	zap_vtab_unmap(st.vt);
	zap_pod_set_pid(pod, child);
	return zap_pod_wait(pod, child, interval);
}
