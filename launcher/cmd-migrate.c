/* zap migrate: move a running pod to the zapd on another host.
 *
 * Connect and authenticate first (a missing zapd or a wrong key fails
 * before the pod is touched); checkpoint with every member held at the
 * barrier; stream the image (docs/protocol.md); wait for zapd to say the
 * pod runs there; only then kill the members here.  Any failure on the way
 * releases them, so the pod runs on where it was. */
#include "proto.h"
#include "imgdir.h"
#include "zap/stream.h"
#include "util.h"
#include "zap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int migrate_exec(int argc, char **argv);

const struct zap_cmd zap_cmd_migrate = {
	.name = "migrate",
	.args = "--key FILE [--timeout SECS] [--json] NAME ADDR:PORT\n"
		"       zap migrate --key FILE --status ADDR:PORT",
	.summary = "move a running pod to the zapd on another host",
	.help = "Connects to the zapd at ADDR:PORT and proves that both hold the key in FILE,\n"
		"then checkpoints pod NAME with every process held at the checkpoint barrier,\n"
		"streams the image (every file with its length and checksum, the whole under\n"
		"a MAC; zapd begins the restart before the page data is in), and waits until\n"
		"the pod runs there.  Only then are the processes here killed: their 'zap run'\n"
		"prints 'NAME migrated to ADDR:PORT' and exits 7.  On any failure (no zapd,\n"
		"wrong key, the connection lost, the restart failing there) the processes are\n"
		"released and the pod runs on here as if nothing happened.  Stop-and-copy: the\n"
		"pod is paused from the barrier until it runs on the target.  On a terminal,\n"
		"progress goes to stderr.\n\n"
		"Options:\n"
		"  --key FILE       the shared key ('zap keygen FILE'; mode 0600)\n"
		"  --timeout SECS   bound on the whole move, pause included (default 300, at\n"
		"                   most 540: held processes give up at the barrier after 600 s);\n"
		"                   every single network operation is bounded by 30 s too\n"
		"  --json           print {\"pod\", \"host\", \"pid\", \"bytes\", \"checkpoint_ms\",\n"
		"                   \"transfer_ms\", \"restart_ms\", \"pause_ms\", \"total_ms\"}\n"
		"  --status         ask the zapd for its host's load instead (key=value lines)\n\n"
		"Exit status: 0 the pod runs on ADDR:PORT and no longer here; 1 the move\n"
		"failed and the pod runs on here (stderr names the host and the cause); 2 bad\n"
		"usage; 5 no such pod running here.\n",
	.exec = migrate_exec,
};

#define MIGRATE_OP_TIMEOUT 30.0

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct migrate {
	const char *pod, *addr;
	struct zap_conn conn;
	char image[PATH_MAX];
	char err[4096];
	double deadline, t_start, t_stop, t_frozen, t_sent, t_running;
	uint64_t bytes, total;
	int progress, shown;
	double shown_at;
	int remote_pid;
};

static void migrate_progress(struct migrate *m, int last)
{
	double now = mono_s();
	if (!m->progress || (!last && now - m->shown_at < 0.2))
		return;
	double el = now - m->t_frozen;
	fprintf(stderr, "\r%s: %s: sent %.1f of %.1f MiB (%.0f MiB/s) ", zap_cmd_name, m->conn.where,
		(double)m->bytes / 1048576, (double)m->total / 1048576,
		el > 0 ? (double)m->bytes / 1048576 / el : 0.0);
	m->shown = 1;
	m->shown_at = now;
}

static void migrate_progress_clear(struct migrate *m)
{
	if (m->shown)
		fprintf(stderr, "\r%*s\r", 72, "");
	m->shown = 0;
}

/* Image files, sorted, so both ends see the same order; regular files only. */
static int image_files(struct migrate *m, char names[][256], int max, int *count)
{
	DIR *d = opendir(m->image);
	if (!d) {
		snprintf(m->err, sizeof(m->err), "cannot open %s: %s", m->image, strerror(errno));
		return -1;
	}
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[PATH_MAX + 300];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", m->image, e->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || n == max ||
		    strlen(e->d_name) >= 256) {
			snprintf(m->err, sizeof(m->err), "%s: %s", path,
				 n == max ? "too many files in the image" : "not a regular file");
			closedir(d);
			return -1;
		}
		snprintf(names[n++], 256, "%s", e->d_name);
		m->total += (uint64_t)st.st_size;
	}
	closedir(d);
	qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
	*count = n;
	return 0;
}

/* One file of the image on its way: what is sent of it and how. */
struct send_file {
	int fd;
	uint64_t size, sum;          /* the sum runs over the bytes in the order they are sent */
	uint64_t hole_off, hole_len; /* its page data, sent after META; 0 long: none */
};

/* zapd's RESULT (answer, len bytes, len >= 8): 0 when the pod runs there. */
static int migrate_result(struct migrate *m, char *answer, uint32_t len)
{
	answer[len] = 0;
	int code = (int)zap_get_u32((uint8_t *)answer);
	m->remote_pid = (int)zap_get_u32((uint8_t *)answer + 4);
	if (code == 0)
		return 0;
	char *lines = answer + 8;
	size_t k = strlen(lines);
	while (k && lines[k - 1] == '\n')
		lines[--k] = 0;
	snprintf(m->err, sizeof(m->err), "the restart failed on %s (zap restart exited %d)%s%s",
		 m->conn.where, code, *lines ? ":\n" : "", lines);
	return -1;
}

static int check_zapd(struct migrate *m)
{
	/* zapd says nothing during the transfer unless it refuses it, or the
	 * restart it began while the pages arrive failed */
	struct pollfd pf = {.fd = m->conn.fd, .events = POLLIN};
	if (poll(&pf, 1, 0) > 0) {
		uint16_t type;
		uint32_t len;
		static char answer[4096];
		if (zap_conn_recv(&m->conn, &type, answer, sizeof(answer) - 1, &len, 1, m->err,
				  sizeof(m->err)) < 0)
			return -1;
		if (type != ZAP_MSG_RESULT || len < 8 || migrate_result(m, answer, len) == 0)
			snprintf(m->err, sizeof(m->err), "zapd at %s: unexpected message %u during "
				 "the transfer", m->conn.where, type);
		return -1;
	}
	migrate_progress(m, 0);
	if (mono_s() > m->deadline) {
		snprintf(m->err, sizeof(m->err), "zapd at %s: the move took longer than --timeout",
			 m->conn.where);
		return -1;
	}
	return 0;
}

/* Bytes [off, off + len) of a file as DATA frames (zapd writes them where
 * the last FILE or PLACE left it). */
static int send_range(struct migrate *m, struct send_file *f, const char *name, uint64_t off,
		      uint64_t len, char *buf, size_t cap)
{
	while (len) {
		ssize_t r = pread(f->fd, buf, len < cap ? len : cap, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(m->err, sizeof(m->err), "cannot read %s/%s: %s", m->image, name,
				 r < 0 ? strerror(errno) : "it got shorter");
			return -1;
		}
		for (ssize_t at = 0; at < r; at += ZAP_PROTO_DATA_CHUNK) {
			uint32_t k = (uint32_t)(r - at < ZAP_PROTO_DATA_CHUNK ? r - at : ZAP_PROTO_DATA_CHUNK);
			f->sum = zap_sum64(buf + at, k, f->sum);
			if (zap_conn_send(&m->conn, ZAP_MSG_DATA, buf + at, k, NULL, 0, m->err,
					  sizeof(m->err)) < 0)
				return -1;
		}
		off += (uint64_t)r;
		len -= (uint64_t)r;
		m->bytes += (uint64_t)r;
		if (check_zapd(m) < 0)
			return -1;
	}
	return 0;
}

static int send_place(struct migrate *m, int index, uint64_t off)
{
	uint8_t pl[16];
	zap_put_u32(pl, (uint32_t)index);
	zap_put_u32(pl + 4, 0);
	zap_put_u64(pl + 8, off);
	return zap_conn_send(&m->conn, ZAP_MSG_PLACE, pl, sizeof(pl), NULL, 0, m->err, sizeof(m->err));
}

static int send_file_end(struct migrate *m, struct send_file *f)
{
	uint8_t head[8];
	zap_put_u64(head, f->sum);
	close(f->fd);
	f->fd = -1;
	return zap_conn_send(&m->conn, ZAP_MSG_FILE_END, head, 8, NULL, 0, m->err, sizeof(m->err));
}

/* The held checkpoint writes over the pages of an image the pod has no
 * more use for, instead of allocating new ones (several times faster on
 * tmpfs: design-notes, "the spare image"): the spare of its periodic
 * checkpoints, or else its last image, which the checkpoint about to be
 * taken supersedes.  After a move the pod has no image here (it runs
 * elsewhere: an image here could only give it a second life); after a
 * failed one the held checkpoint becomes its last image. */
static void migrate_take_spare(const char *pod, const char *image)
{
	char dir[PATH_MAX], spare[PATH_MAX + 16], from[PATH_MAX + 16];
	zap_pod_dir(pod, dir, sizeof(dir));
	snprintf(spare, sizeof(spare), "%s.spare", image);
	if (access(spare, F_OK) == 0)
		return;
	snprintf(from, sizeof(from), "%s/" ZAP_POD_IMAGE ".spare", dir);
	if (rename(from, spare) == 0)
		return;
	snprintf(from, sizeof(from), "%s/" ZAP_POD_IMAGE, dir);
	rename(from, spare);
}

static void migrate_keep_image(const char *pod, const char *image)
{
	char dir[PATH_MAX], last[PATH_MAX + 16];
	zap_pod_dir(pod, dir, sizeof(dir));
	snprintf(last, sizeof(last), "%s/" ZAP_POD_IMAGE, dir);
	if (access(image, F_OK) == 0 && access(last, F_OK) < 0)
		rename(image, last);
}

/* Page data after META, unless ZAP_MIGRATE_WHOLE=1 (bench/migrate.sh's
 * comparison): then every file goes whole and in order, and zapd restarts
 * the pod only after END. */
static int migrate_split(void)
{
	const char *whole = getenv("ZAP_MIGRATE_WHOLE");
	return !(whole && !strcmp(whole, "1"));
}

/* BEGIN, before the pod is touched: zapd may refuse the name. */
static int migrate_begin(struct migrate *m)
{
	zap_proto_stream_init(&m->conn.stream, &m->conn.key, m->conn.nc, m->conn.ns);
	m->conn.streaming = 1;
	/* meta=1: the page data comes after META, and zapd may restart the pod
	 * before it is in (migrate_stream) */
	m->conn.meta_on = migrate_split();
	if (m->conn.meta_on)
		zap_proto_meta_init(&m->conn.meta, &m->conn.key, m->conn.nc, m->conn.ns);
	char text[512], answer[4096];
	uint16_t type;
	uint32_t len;
	snprintf(text, sizeof(text), "pod=%s\n%s", m->pod, m->conn.meta_on ? "meta=1\n" : "");
	if (zap_conn_send(&m->conn, ZAP_MSG_BEGIN, text, (uint32_t)strlen(text), NULL, 0, m->err,
			  sizeof(m->err)) < 0 ||
	    zap_conn_recv(&m->conn, &type, answer, sizeof(answer) - 1, &len, 0, m->err,
			  sizeof(m->err)) < 0)
		return -1;
	if (type != ZAP_MSG_OK) {
		snprintf(m->err, sizeof(m->err), "zapd at %s: unexpected answer to BEGIN", m->conn.where);
		return -1;
	}
	return 0;
}

/* Every file, in two passes: all but the page data of the process files,
 * META, the page data, END; then zapd's RESULT.  Or every file whole
 * (migrate_split). */
static int migrate_stream(struct migrate *m)
{
	static char names[ZAP_STREAM_MAX_FILES][256];
	static struct send_file files[ZAP_STREAM_MAX_FILES];
	int count, ok = -1;
	uint16_t type;
	uint32_t len;
	char answer[4096];
	if (image_files(m, names, ZAP_STREAM_MAX_FILES, &count) < 0)
		return -1;
	int split = m->conn.meta_on;
	static char buf[1 << 20];
	for (int i = 0; i < count; i++)
		files[i].fd = -1;
	for (int i = 0; i < count; i++) {
		struct send_file *f = &files[i];
		char path[PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", m->image, names[i]);
		struct stat st;
		f->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0 || fstat(f->fd, &st) < 0) {
			snprintf(m->err, sizeof(m->err), "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		f->size = (uint64_t)st.st_size;
		f->sum = 0;
		f->hole_off = f->hole_len = 0;
		if (split)
			zap_proto_pages_span(f->fd, f->size, &f->hole_off, &f->hole_len);
		uint8_t head[8];
		zap_put_u64(head, f->size);
		uint64_t first = f->hole_len ? f->hole_off : f->size;
		if (zap_conn_send(&m->conn, ZAP_MSG_FILE, head, 8, names[i], (uint32_t)strlen(names[i]),
				  m->err, sizeof(m->err)) < 0 ||
		    send_range(m, f, names[i], 0, first, buf, sizeof(buf)) < 0)
			goto out;
		if (!f->hole_len) {
			if (send_file_end(m, f) < 0)
				goto out;
			continue;
		}
		uint64_t tail = f->hole_off + f->hole_len;
		if (send_place(m, i, tail) < 0 ||
		    send_range(m, f, names[i], tail, f->size - tail, buf, sizeof(buf)) < 0)
			goto out;
	}
	if (split) {
		uint8_t meta[ZAP_PROTO_MAC];
		zap_hmac_final(&m->conn.meta, meta);
		m->conn.meta_on = 0;
		if (zap_conn_send(&m->conn, ZAP_MSG_META, meta, sizeof(meta), NULL, 0, m->err,
				  sizeof(m->err)) < 0)
			goto out;
	}
	for (int i = 0; i < count; i++) {
		struct send_file *f = &files[i];
		if (f->fd < 0)
			continue;
		if (send_place(m, i, f->hole_off) < 0 ||
		    send_range(m, f, names[i], f->hole_off, f->hole_len, buf, sizeof(buf)) < 0 ||
		    send_file_end(m, f) < 0)
			goto out;
	}
	uint8_t mac[ZAP_PROTO_TAG];
	zap_poly1305_final(&m->conn.stream, mac);
	m->conn.streaming = 0;
	if (zap_conn_send(&m->conn, ZAP_MSG_END, mac, sizeof(mac), NULL, 0, m->err, sizeof(m->err)) < 0)
		goto out;
	ok = 0;
out:
	for (int i = 0; i < count; i++)
		if (files[i].fd >= 0)
			close(files[i].fd);
	if (ok < 0)
		return -1;
	migrate_progress(m, 1);
	m->t_sent = mono_s();
	/* zapd gives a restart 120 s; held members give up at 600 s */
	double wait = m->deadline - mono_s();
	wait = wait < 20 ? 20 : wait;
	if (mono_s() + wait > m->t_start + 570)
		wait = m->t_start + 570 - mono_s();
	if (zap_conn_recv(&m->conn, &type, answer, sizeof(answer) - 1, &len, wait > 1 ? wait : 1,
			  m->err, sizeof(m->err)) < 0)
		return -1;
	if (type != ZAP_MSG_RESULT || len < 8) {
		snprintf(m->err, sizeof(m->err), "zapd at %s: unexpected answer to the image", m->conn.where);
		return -1;
	}
	if (migrate_result(m, answer, len) < 0)
		return -1;
	m->t_running = mono_s();
	return 0;
}

static int migrate_status(const char *addr, const struct zap_key *k)
{
	struct zap_conn c;
	char err[4096], text[4096];
	uint16_t type;
	uint32_t len;
	if (zap_conn_open(&c, addr, k, MIGRATE_OP_TIMEOUT, err, sizeof(err)) < 0 ||
	    zap_conn_send(&c, ZAP_MSG_STATUS, NULL, 0, NULL, 0, err, sizeof(err)) < 0 ||
	    zap_conn_recv(&c, &type, text, sizeof(text) - 1, &len, 0, err, sizeof(err)) < 0) {
		zap_err("%s", err);
		zap_conn_close(&c);
		return ZAP_EXIT_FAIL;
	}
	zap_conn_close(&c);
	text[len] = 0;
	fputs(text, stdout);
	return 0;
}

static int migrate_exec(int argc, char **argv)
{
	const char *keyfile = NULL, *args[2] = {NULL, NULL};
	int nargs = 0, json = 0, status = 0;
	double timeout = 300;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			keyfile = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--status")) {
			status = 1;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			timeout = strtod(argv[++i], &end);
			if (*end || timeout <= 0 || timeout > 540) {
				zap_err("--timeout takes seconds, more than 0 and at most 540, not '%s'", argv[i]);
				return ZAP_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' || nargs == 2) {
			zap_err("unexpected argument '%s'", argv[i]);
			return zap_usage(&zap_cmd_migrate);
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (!keyfile) {
		zap_err("--key FILE is needed (make one with 'zap keygen FILE')");
		return zap_usage(&zap_cmd_migrate);
	}
	if (nargs != (status ? 1 : 2))
		return zap_usage(&zap_cmd_migrate);
	static struct zap_key key;
	char err[4200];
	if (zap_key_load(keyfile, &key, err, sizeof(err)) < 0) {
		zap_err("%s", err);
		return ZAP_EXIT_FAIL;
	}
	if (status)
		return migrate_status(args[0], &key);

	static struct migrate m;
	m.pod = args[0];
	m.addr = args[1];
	m.t_start = mono_s();
	m.deadline = m.t_start + timeout;
	m.progress = isatty(2);
	char pod[64];
	pid_t pid;
	struct sockaddr_storage ss;
	socklen_t sl;
	if (zap_addr_parse(m.addr, &ss, &sl, err, sizeof(err)) < 0) {
		zap_err("%s", err);
		return ZAP_EXIT_USAGE;
	}
	if (zap_pod_resolve(m.pod, pod, sizeof(pod), &pid) < 0)
		return ZAP_EXIT_NOT_FOUND;
	m.pod = pod;
	pid_t main_pid = zap_pod_pid(pod);
	if (zap_conn_open(&m.conn, m.addr, &key, MIGRATE_OP_TIMEOUT, m.err, sizeof(m.err)) < 0) {
		zap_err("%s; pod '%s' was not touched", m.err, pod);
		return ZAP_EXIT_FAIL;
	}
	if (migrate_begin(&m) < 0) {
		zap_err("%s; pod '%s' was not touched", m.err, pod);
		zap_conn_close(&m.conn);
		return ZAP_EXIT_FAIL;
	}
	int lock = zap_pod_lock(pod, 30);
	if (lock == -2) {
		zap_conn_close(&m.conn);
		return ZAP_EXIT_FAIL;
	}
	zap_pod_dir(pod, m.image, sizeof(m.image));
	strncat(m.image, "/migrate-image", sizeof(m.image) - strlen(m.image) - 1);
	zap_imgdir_remove(m.image); /* a failed move's */
	migrate_take_spare(pod, m.image);

	struct zap_result res;
	m.t_stop = mono_s();
	int frozen = zap_proxy_freeze(pod, 1); /* its clients wait at zap-proxy */
	struct zap_pod_hold *hold =
		zap_checkpoint_pod_hold(pod, main_pid ? main_pid : pid, m.image,
					m.deadline - mono_s(), &res);
	int rc = ZAP_EXIT_FAIL;
	if (!hold) {
		if (frozen > 0)
			zap_proxy_freeze(pod, 0);
		zap_err("the checkpoint failed; pod '%s' runs on here", pod);
		goto out;
	}
	if (res.warning[0])
		zap_err("warning: %s (docs/limitations.md)", res.warning);
	m.t_frozen = mono_s();
	if (migrate_stream(&m) < 0) {
		migrate_progress_clear(&m);
		/* zapd may have said why before it closed */
		char why[4096];
		uint16_t type;
		uint32_t len;
		if (m.conn.fd >= 0 &&
		    zap_conn_recv(&m.conn, &type, why, sizeof(why) - 1, &len, 1, why, sizeof(why)) < 0 &&
		    strstr(why, "closed the connection") == NULL && strstr(why, "no progress") == NULL)
			snprintf(m.err, sizeof(m.err), "%s", why);
		zap_pod_ckpt_release(hold);
		if (frozen > 0)
			zap_proxy_freeze(pod, 0);
		zap_err("%s\nzap migrate: pod '%s' was not moved and runs on here", m.err, pod);
		migrate_keep_image(pod, m.image);
		goto out;
	}
	migrate_progress_clear(&m);
	/* it runs there: the members here go, their zap run says where to */
	res.kill = 1;
	snprintf(res.migrated, sizeof(res.migrated), "%s", m.conn.where);
	zap_result_write(pod, &res);
	zap_pod_ckpt_kill(hold);
	rc = 0;
	double ms = 1000;
	if (json) {
		printf("{\"pod\":");
		zap_json_str(pod);
		printf(",\"host\":");
		zap_json_str(m.conn.where);
		printf(",\"pid\":%d,\"bytes\":%llu,\"checkpoint_ms\":%.1f,\"transfer_ms\":%.1f,"
		       "\"restart_ms\":%.1f,\"pause_ms\":%.1f,\"total_ms\":%.1f}\n",
		       m.remote_pid, (unsigned long long)m.total, (m.t_frozen - m.t_stop) * ms,
		       (m.t_sent - m.t_frozen) * ms, (m.t_running - m.t_sent) * ms,
		       (m.t_running - m.t_stop) * ms, (mono_s() - m.t_start) * ms);
	} else {
		printf("%s migrated to %s (pid %d there): %.1f MiB, paused %.0f ms\n", pod, m.conn.where,
		       m.remote_pid, (double)m.total / 1048576, (m.t_running - m.t_stop) * ms);
	}
out:
	zap_imgdir_remove(m.image);
	char spare[PATH_MAX + 16];
	snprintf(spare, sizeof(spare), "%s.spare", m.image);
	zap_imgdir_remove(spare);
	zap_conn_close(&m.conn);
	if (lock >= 0)
		close(lock);
	return rc;
}
