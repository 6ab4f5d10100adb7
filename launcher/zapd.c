/* zapd: the host agent.  Listens on a TCP port, authenticates every peer
 * (docs/protocol.md), answers status requests with the host's load, and
 * receives pod images into $ZAP_HOME/incoming/ID/, verifies them end to
 * end, restarts them with `zap restart` and tells the migrating side when
 * the pod runs (or why it does not).  One epoll loop (netproxy/loop.c, the
 * one zap-proxy runs on); every
 * peer is a small state machine fed by whole frames. */
#include "loop.h"
#include "imgdir.h"
#include "proto.h"
#include "util.h"
#include "zap/common.h"
#include "zap/stream.h"

#include <dirent.h>
#include <linux/futex.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZAPD_IDLE_S 60.0     /* a peer that sends nothing for this long is dropped */
#define ZAPD_RESTART_S 120.0 /* bound on one `zap restart` reaching "running" */
#define ZAPD_TICK_MS 100     /* the loop's tick, idle */
#define ZAPD_TICK_BUSY_MS 2  /* while a restart runs: how soon "it runs" is seen */
#define ZAPD_LOG_TAIL 2048   /* bytes of the restart's log sent back on failure */

static const char zapd_usage_text[] =
	"usage: zapd --listen ADDR:PORT --key FILE\n\n"
	"The zap host agent: receives pods that 'zap migrate' sends and restarts them.\n\n"
	"Every peer proves that it holds the key in FILE (HMAC-SHA256 challenge and\n"
	"response, both ways); a peer without it is refused and logged with its\n"
	"address.  A received image is checked file by file (length, checksum) and\n"
	"as a whole (a Poly1305 tag over the stream, under a key fresh for each\n"
	"connection) before 'zap restart' runs it, detached, under this zapd's\n"
	"$ZAP_HOME (default ~/.zap), with its output in\n"
	"$ZAP_HOME/pods/NAME/restart.log.  The sender hears back only once the pod\n"
	"runs here, or why it does not.  Logs go to stderr, one line per event.\n\n"
	"Options:\n"
	"  --listen ADDR:PORT  where to listen (numeric IPv4, or [IPv6]; port 7207 if none)\n"
	"  --key FILE          the shared key, mode 0600 ('zap keygen FILE')\n\n"
	"Environment: ZAP_HOME (state), ZAPD_ZAP (the zap binary; default: next to\n"
	"zapd), ZAPD_TEST_EXIT_AFTER=N (tests only: exit abruptly once N bytes of an\n"
	"image have arrived).\n\n"
	"Exit status: 0 after SIGTERM or SIGINT; 1 cannot listen, or a bad key file;\n"
	"2 bad usage.  See docs/zapd.md.\n";

enum peer_state { P_HELLO, P_AUTH, P_READY, P_RECV, P_RESTART, P_CLOSING };

/* A file of an image being received. */
struct rfile {
	int fd; /* -1 once complete */
	char name[256];
	uint64_t size, got, sum;
	uint64_t prefix; /* bytes [0, prefix) written: what a restorer may read */
};

struct peer {
	int fd;
	char addr[96];
	enum peer_state state;
	uint8_t nc[ZAP_PROTO_NONCE], ns[ZAP_PROTO_NONCE];
	uint8_t *in;
	size_t nin;
	uint8_t out[16384];
	size_t nout;
	double last;
	/* a transfer */
	char id[48], pod[64], dir[PATH_MAX], image[PATH_MAX + 16];
	struct zap_poly1305 stream;
	struct zap_hmac meta; /* until META, if the sender said it sends one */
	int meta_on, after_meta;
	struct rfile *file;   /* ZAP_STREAM_MAX_FILES of them, from BEGIN on */
	int nfiles, cur;      /* files announced; the one DATA goes to (-1: none) */
	uint64_t pos;         /* where in it */
	uint64_t bytes;
	int files;            /* files complete and checked */
	double started;
	/* restarted while the pages arrive (after META): the progress file
	 * the restorers wait on, beside the image */
	struct zap_stream *sp;
	char sp_path[PATH_MAX + 16];
	/* its restart */
	pid_t child;
	double restart_deadline;
	/* closing: the answer out, then a half-close, and what still comes in
	 * read and dropped for a moment, so the peer reads the answer instead
	 * of a reset */
	int shut;
	double close_at;
	struct peer *next;
};

static struct {
	struct zap_key key;
	char home[PATH_MAX];
	char zap[PATH_MAX];
	char listen_addr[128];
	int lfd;
	struct peer *peers;
	uint64_t exit_after; /* ZAPD_TEST_EXIT_AFTER */
	uint64_t received;   /* image bytes, all peers */
	struct zl *loop;
} zd;

static volatile sig_atomic_t zapd_stop;

static double zapd_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void zapd_log(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void zapd_log(const char *who, const char *fmt, ...)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "zapd: %s %s%s", when, who ? who : "", who ? ": " : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- small file helpers ---- */

static int zapd_mkdir(const char *path)
{
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* incoming/ID/zapd.pid names the zapd receiving into it, so that a zapd
 * starting later removes what one that died left behind, and nothing of a
 * zapd that runs (several may share a ZAP_HOME, on other ports). */
#define ZAPD_OWNER "zapd.pid"

static int incoming_claim(const char *dir)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/" ZAPD_OWNER, dir);
	FILE *f = fopen(path, "wxe");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
}

static void incoming_release(const char *dir)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/" ZAPD_OWNER, dir);
	unlink(path);
	rmdir(dir);
}

static void incoming_sweep(void)
{
	char top[PATH_MAX + 16];
	snprintf(top, sizeof(top), "%s/incoming", zd.home);
	DIR *d = opendir(top);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char dir[PATH_MAX + 300], path[PATH_MAX + 320];
		snprintf(dir, sizeof(dir), "%s/%s", top, e->d_name);
		snprintf(path, sizeof(path), "%s/" ZAPD_OWNER, dir);
		FILE *f = fopen(path, "re");
		int owner = 0;
		if (f && fscanf(f, "%d", &owner) != 1)
			owner = 0;
		if (f)
			fclose(f);
		if (owner > 0 && (kill(owner, 0) == 0 || errno != ESRCH))
			continue;
		char sub[PATH_MAX + 320];
		snprintf(sub, sizeof(sub), "%s/image", dir);
		zap_imgdir_remove(sub);
		snprintf(sub, sizeof(sub), "%s/stream", dir);
		unlink(sub);
		incoming_release(dir);
		zapd_log(NULL, "removed %s, left by a zapd that ended during a transfer", dir);
	}
	if (d)
		closedir(d);
}

static pid_t pod_running(const char *pod)
{
	char path[PATH_MAX + 128], buf[32];
	snprintf(path, sizeof(path), "%s/pods/%s/%s", zd.home, pod, ZAP_POD_PID);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	pid_t pid = (pid_t)atoi(buf);
	return pid > 0 && kill(pid, 0) == 0 ? pid : 0;
}

/* The pod's main process runs its program again: it registered itself in
 * members/ once its restorer let it go, which is after every page was
 * checked and the whole stream authenticated. */
static pid_t pod_resumed(const char *pod)
{
	pid_t pid = pod_running(pod);
	char path[PATH_MAX + 160];
	snprintf(path, sizeof(path), "%s/pods/%s/%s/%d", zd.home, pod, ZAP_POD_MEMBERS, (int)pid);
	return pid && access(path, F_OK) == 0 ? pid : 0;
}

static int pods_running(void)
{
	char path[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/pods", zd.home);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && pod_running(e->d_name))
			n++;
	if (d)
		closedir(d);
	return n;
}

static int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n > max || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* ---- peers ---- */

static void peer_flush(struct peer *p)
{
	while (p->nout) {
		ssize_t w = send(p->fd, p->out, p->nout, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				p->nout = 0; /* gone: nothing more to tell it */
			break;
		}
		memmove(p->out, p->out + w, p->nout - (size_t)w);
		p->nout -= (size_t)w;
	}
}

static void peer_send(struct peer *p, uint16_t type, const void *a, uint32_t alen, const void *b,
		      uint32_t blen)
{
	if (p->nout + ZAP_PROTO_HDR + alen + blen > sizeof(p->out))
		return; /* answers are small; a peer that does not read them loses them */
	zap_proto_hdr_put(p->out + p->nout, type, alen + blen);
	if (alen)
		memcpy(p->out + p->nout + ZAP_PROTO_HDR, a, alen);
	if (blen)
		memcpy(p->out + p->nout + ZAP_PROTO_HDR + alen, b, blen);
	p->nout += ZAP_PROTO_HDR + alen + blen;
	peer_flush(p);
}

/* Kills a restart that must not go on: its `zap restart` (a session of its
 * own), and every member that already came back. */
static void restart_kill(struct peer *p)
{
	kill(-p->child, SIGKILL);
	kill(p->child, SIGKILL);
	char path[PATH_MAX + 128];
	snprintf(path, sizeof(path), "%s/pods/%s/%s", zd.home, p->pod, ZAP_POD_MEMBERS);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		pid_t m = (pid_t)atoi(e->d_name);
		if (m > 0)
			kill(m, SIGKILL);
	}
	if (d)
		closedir(d);
	p->child = 0;
}

/* ---- the progress file of a restart that begins before the pages are in
 * (include/zap/stream.h) ---- */

static void stream_wake(struct zap_stream *s)
{
	__atomic_add_fetch(&s->gen, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &s->gen, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static void stream_set_state(struct peer *p, uint32_t state)
{
	if (!p->sp)
		return;
	__atomic_store_n(&p->sp->state, state, __ATOMIC_RELEASE);
	stream_wake(p->sp);
}

/* What file i has in one piece from its start, for its restorer: every
 * ZAPD_PUBLISH_STEP, and when the file is complete, so that a restorer
 * waiting for a 2 MiB piece is woken a few times, not once per frame. */
#define ZAPD_PUBLISH_STEP (512u << 10)
static void stream_publish(struct peer *p, int i)
{
	if (!p->sp || i >= (int)p->sp->nfiles)
		return;
	struct rfile *f = &p->file[i];
	if (f->prefix < f->size && f->prefix - p->sp->file[i].avail < ZAPD_PUBLISH_STEP)
		return;
	__atomic_store_n(&p->sp->file[i].avail, f->prefix, __ATOMIC_RELEASE);
	stream_wake(p->sp);
}

static void stream_unmap(struct peer *p)
{
	if (p->sp)
		munmap(p->sp, sizeof(*p->sp));
	p->sp = NULL;
	if (p->sp_path[0])
		unlink(p->sp_path);
	p->sp_path[0] = 0;
}

/* The progress file, beside the image: every file by name, with what of it
 * is in.  -1 when a name does not fit (the restart then waits for END). */
static int stream_create(struct peer *p)
{
	for (int i = 0; i < p->nfiles; i++)
		if (strlen(p->file[i].name) >= ZAP_STREAM_NAME)
			return -1;
	snprintf(p->sp_path, sizeof(p->sp_path), "%s/stream", p->dir);
	int fd = open(p->sp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(struct zap_stream)) < 0) {
		if (fd >= 0)
			close(fd);
		p->sp_path[0] = 0;
		return -1;
	}
	void *m = mmap(NULL, sizeof(struct zap_stream), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		unlink(p->sp_path);
		p->sp_path[0] = 0;
		return -1;
	}
	p->sp = m;
	for (int i = 0; i < p->nfiles; i++) {
		memcpy(p->sp->file[i].name, p->file[i].name, strlen(p->file[i].name) + 1);
		p->sp->file[i].avail = p->file[i].prefix;
	}
	p->sp->nfiles = (uint32_t)p->nfiles;
	p->sp->state = ZAP_STREAM_RECEIVING;
	p->sp->writer = (int32_t)getpid();
	__atomic_store_n(&p->sp->magic, ZAP_STREAM_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Drops a transfer's files (a failed or refused one). */
static void peer_drop_transfer(struct peer *p)
{
	if (p->sp && p->state == P_RECV && p->child > 0) {
		/* a restart that began on META: its restorers stop waiting */
		stream_set_state(p, ZAP_STREAM_ABORTED);
		restart_kill(p);
	}
	stream_unmap(p);
	for (int i = 0; i < p->nfiles; i++)
		if (p->file[i].fd >= 0)
			close(p->file[i].fd);
	free(p->file);
	p->file = NULL;
	p->nfiles = 0;
	p->cur = -1;
	if (p->image[0])
		zap_imgdir_remove(p->image);
	if (p->dir[0])
		incoming_release(p->dir);
	p->image[0] = p->dir[0] = 0;
}

/* Says why and closes once the answer is out. */
static void peer_fail(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_fail(struct peer *p, const char *fmt, ...)
{
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	zapd_log(p->addr, "%s", text);
	peer_send(p, ZAP_MSG_ERROR, text, (uint32_t)strlen(text), NULL, 0);
	peer_drop_transfer(p);
	p->state = P_CLOSING;
}

/* Ends a restart that must not go on, and its transfer. */
static void restart_abort(struct peer *p)
{
	restart_kill(p);
	peer_drop_transfer(p);
}

static void peer_free(struct peer *p)
{
	if (p->state == P_RECV)
		zapd_log(p->addr, "the connection ended during the transfer of pod '%s' (%llu bytes in): "
			 "dropped", p->pod, (unsigned long long)p->bytes);
	if (p->state == P_RESTART) {
		/* the sender gave up and runs the pod on: it must not run here too */
		zapd_log(p->addr, "the connection ended before pod '%s' ran here: its restart is killed",
			 p->pod);
		restart_abort(p);
	}
	peer_drop_transfer(p);
	zl_unwatch(zd.loop, p->fd);
	close(p->fd);
	for (struct peer **pp = &zd.peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p->in);
	free(p);
}

/* ---- requests ---- */

static void do_status(struct peer *p)
{
	char text[1024], load[128] = "", host[256] = "?";
	double l1 = 0, l5 = 0, l15 = 0;
	unsigned long long total = 0, avail = 0;
	FILE *f = fopen("/proc/loadavg", "re");
	if (f && fgets(load, sizeof(load), f))
		sscanf(load, "%lf %lf %lf", &l1, &l5, &l15);
	if (f)
		fclose(f);
	f = fopen("/proc/meminfo", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "MemTotal: %llu kB", &total);
		sscanf(line, "MemAvailable: %llu kB", &avail);
	}
	if (f)
		fclose(f);
	gethostname(host, sizeof(host) - 1);
	snprintf(text, sizeof(text),
		 "host=%s\nversion=%d\nload1=%.2f\nload5=%.2f\nload15=%.2f\ncpus=%ld\n"
		 "mem_total_kib=%llu\nmem_available_kib=%llu\npods=%d\n",
		 host, ZAP_PROTO_VERSION, l1, l5, l15, sysconf(_SC_NPROCESSORS_ONLN), total, avail,
		 pods_running());
	peer_send(p, ZAP_MSG_STATUS, text, (uint32_t)strlen(text), NULL, 0);
}

static void do_begin(struct peer *p, const uint8_t *frame, uint32_t len)
{
	char text[512];
	snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) - 1 ? len : sizeof(text) - 1),
		 (const char *)frame + ZAP_PROTO_HDR);
	/* meta=1: a META frame will come, after all but the page data */
	int meta = strstr(text, "\nmeta=1\n") != NULL;
	char *pod = strstr(text, "pod=");
	if (pod) {
		pod += 4;
		pod[strcspn(pod, "\n")] = 0;
	}
	if (!pod || !name_ok(pod, 48)) {
		peer_fail(p, "refused: bad pod name");
		return;
	}
	snprintf(p->pod, sizeof(p->pod), "%s", pod);
	pid_t there = pod_running(pod);
	if (there) {
		peer_fail(p, "refused: a pod named '%s' runs on this host already (pid %d)", pod, (int)there);
		return;
	}
	for (struct peer *q = zd.peers; q; q = q->next)
		if (q != p && (q->state == P_RECV || q->state == P_RESTART) && !strcmp(q->pod, pod)) {
			peer_fail(p, "refused: pod '%s' is being received from %s already", pod, q->addr);
			return;
		}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(p->id, sizeof(p->id), "%s-%llu", pod,
		 (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
	snprintf(p->dir, sizeof(p->dir), "%s/incoming/%s", zd.home, p->id);
	snprintf(p->image, sizeof(p->image), "%s/image", p->dir);
	if (zapd_mkdir(p->dir) < 0 || incoming_claim(p->dir) < 0 || mkdir(p->image, 0700) < 0) {
		int e = errno;
		p->image[0] = 0;
		peer_fail(p, "refused: cannot create %s: %s", p->dir, strerror(e));
		return;
	}
	p->file = calloc(ZAP_STREAM_MAX_FILES, sizeof(*p->file));
	if (!p->file) {
		peer_fail(p, "refused: out of memory");
		return;
	}
	p->nfiles = 0;
	p->cur = -1;
	zap_proto_stream_init(&p->stream, &zd.key, p->nc, p->ns);
	zap_poly1305_update(&p->stream, frame, ZAP_PROTO_HDR + len);
	p->meta_on = meta;
	p->after_meta = 0;
	if (p->meta_on) {
		zap_proto_meta_init(&p->meta, &zd.key, p->nc, p->ns);
		zap_hmac_update(&p->meta, frame, ZAP_PROTO_HDR + len);
	}
	p->state = P_RECV;
	p->started = zapd_now();
	p->bytes = 0;
	p->files = 0;
	zapd_log(p->addr, "receiving pod '%s' into %s", pod, p->dir);
	snprintf(text, sizeof(text), "id=%s\n", p->id);
	peer_send(p, ZAP_MSG_OK, text, (uint32_t)strlen(text), NULL, 0);
}

static void on_tick(struct zl *l, void *arg);

static void restart_start(struct peer *p)
{
	char poddir[PATH_MAX + 128], log[PATH_MAX + 160];
	snprintf(poddir, sizeof(poddir), "%s/pods", zd.home);
	zapd_mkdir(poddir);
	snprintf(poddir, sizeof(poddir), "%s/pods/%s", zd.home, p->pod);
	zapd_mkdir(poddir);
	/* an earlier life's members: a restart that must be stopped kills
	 * the pids listed there, so only the new ones may be */
	char members[PATH_MAX + 160];
	snprintf(members, sizeof(members), "%s/%s", poddir, ZAP_POD_MEMBERS);
	zap_imgdir_remove(members);
	snprintf(log, sizeof(log), "%s/restart.log", poddir);
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		peer_fail(p, "cannot create %s: %s", log, strerror(errno));
		return;
	}
	pid_t child = fork();
	if (child < 0) {
		close(logfd);
		peer_fail(p, "fork: %s", strerror(errno));
		return;
	}
	if (child == 0) {
		setsid();
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		setenv(ZAP_ENV_HOME, zd.home, 1);
		signal(SIGPIPE, SIG_DFL);
		char *args[] = {zd.zap, "restart", "--pod", p->pod, p->image, NULL, NULL, NULL};
		if (p->sp) {
			args[4] = "--stream";
			args[5] = p->sp_path;
			args[6] = p->image;
		}
		execv(zd.zap, args);
		dprintf(2, "zapd: cannot run %s: %s\n", zd.zap, strerror(errno));
		_exit(127);
	}
	close(logfd);
	p->child = child;
	p->restart_deadline = zapd_now() + ZAPD_RESTART_S;
	zl_every(zd.loop, ZAPD_TICK_BUSY_MS, on_tick, NULL);
	if (p->sp)
		zapd_log(p->addr, "pod '%s': all but its page data in and verified in %.2f s; restarting while "
			 "the pages arrive (zap restart, pid %d, log %s)", p->pod, zapd_now() - p->started,
			 (int)child, log);
	else
		zapd_log(p->addr, "pod '%s': %llu bytes in %d files verified in %.2f s; restarting (zap "
			 "restart, pid %d, log %s)", p->pod, (unsigned long long)p->bytes, p->files,
			 zapd_now() - p->started, (int)child, log);
}

static struct rfile *cur_file(struct peer *p)
{
	return p->cur >= 0 && p->cur < p->nfiles && p->file[p->cur].fd >= 0 ? &p->file[p->cur] : NULL;
}

/* One frame of a transfer: FILE, PLACE, DATA, FILE_END, META or END. */
static void do_transfer(struct peer *p, uint16_t type, const uint8_t *frame, uint32_t len)
{
	const uint8_t *pl = frame + ZAP_PROTO_HDR;
	struct rfile *f = cur_file(p);
	if (type != ZAP_MSG_END)
		zap_poly1305_update(&p->stream, frame, ZAP_PROTO_HDR + len);
	if (p->meta_on && type != ZAP_MSG_META)
		zap_hmac_update(&p->meta, frame, ZAP_PROTO_HDR + len);
	switch (type) {
	case ZAP_MSG_FILE: {
		char name[256];
		if (len < 9 || len - 8 >= sizeof(name) || p->after_meta) {
			peer_fail(p, "pod '%s': a bad FILE frame", p->pod);
			return;
		}
		if (p->nfiles == ZAP_STREAM_MAX_FILES) {
			peer_fail(p, "pod '%s': more than %d files in the image", p->pod, ZAP_STREAM_MAX_FILES);
			return;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(len - 8), (const char *)pl + 8);
		if (!name_ok(name, 255)) {
			peer_fail(p, "pod '%s': refused the file name '%s'", p->pod, name);
			return;
		}
		char path[PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", p->image, name);
		f = &p->file[p->nfiles];
		f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f->fd < 0) {
			peer_fail(p, "pod '%s': cannot create %s: %s", p->pod, path, strerror(errno));
			return;
		}
		snprintf(f->name, sizeof(f->name), "%s", name);
		f->size = zap_get_u64(pl);
		f->got = f->sum = f->prefix = 0;
		p->cur = p->nfiles++;
		p->pos = 0;
		return;
	}
	case ZAP_MSG_PLACE: {
		uint32_t i = len == 16 ? zap_get_u32(pl) : UINT32_MAX;
		if (i >= (uint32_t)p->nfiles || p->file[i].fd < 0 || zap_get_u64(pl + 8) > p->file[i].size) {
			peer_fail(p, "pod '%s': a bad PLACE frame", p->pod);
			return;
		}
		p->cur = (int)i;
		p->pos = zap_get_u64(pl + 8);
		return;
	}
	case ZAP_MSG_DATA:
		if (!f || p->pos + len > f->size || f->got + len > f->size) {
			peer_fail(p, "pod '%s': data beyond the announced length of %s", p->pod,
				  f ? f->name : "a file");
			return;
		}
		/* after META only the holes are filled, each from its start and in
		 * order: what META authenticated, which the restart has read, can
		 * no longer be written over before END is checked */
		if (p->after_meta && p->pos != f->prefix) {
			peer_fail(p, "pod '%s': data after META outside the page data of %s", p->pod, f->name);
			return;
		}
		for (uint32_t at = 0; at < len;) {
			ssize_t w = pwrite(f->fd, pl + at, len - at, (off_t)(p->pos + at));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				peer_fail(p, "pod '%s': cannot write %s/%s: %s", p->pod, p->image, f->name,
					  strerror(w < 0 ? errno : EIO));
				return;
			}
			at += (uint32_t)w;
		}
		f->sum = zap_sum64(pl, len, f->sum);
		if (p->pos == f->prefix)
			f->prefix += len;
		p->pos += len;
		f->got += len;
		p->bytes += len;
		zd.received += len;
		stream_publish(p, p->cur);
		if (zd.exit_after && zd.received >= zd.exit_after) {
			zapd_log(p->addr, "test: exiting after %llu bytes (ZAPD_TEST_EXIT_AFTER)",
				 (unsigned long long)zd.received);
			_exit(99);
		}
		return;
	case ZAP_MSG_FILE_END:
		if (!f || len != 8) {
			peer_fail(p, "pod '%s': a bad FILE_END frame", p->pod);
			return;
		}
		close(f->fd);
		f->fd = -1;
		if (f->got != f->size) {
			peer_fail(p, "pod '%s': %s is %llu bytes, %llu were announced (truncated)", p->pod,
				  f->name, (unsigned long long)f->got, (unsigned long long)f->size);
			return;
		}
		if (zap_get_u64(pl) != f->sum) {
			peer_fail(p, "pod '%s': %s fails its checksum (corrupted on the way)", p->pod, f->name);
			return;
		}
		f->prefix = f->size;
		stream_publish(p, p->cur);
		p->cur = -1;
		p->files++;
		return;
	case ZAP_MSG_META: {
		uint8_t mac[ZAP_PROTO_MAC];
		zap_hmac_final(&p->meta, mac);
		if (!p->meta_on || len != ZAP_PROTO_MAC || !zap_digest_eq(mac, pl, sizeof(mac))) {
			peer_fail(p, "pod '%s': the image stream fails its digest at META (altered): refused",
				  p->pod);
			return;
		}
		p->meta_on = 0;
		p->after_meta = 1;
		if (stream_create(p) == 0)
			restart_start(p);
		return;
	}
	case ZAP_MSG_END: {
		uint8_t mac[ZAP_PROTO_TAG];
		zap_poly1305_final(&p->stream, mac);
		int open_files = 0;
		for (int i = 0; i < p->nfiles; i++)
			open_files += p->file[i].fd >= 0;
		if (len != ZAP_PROTO_TAG || open_files || !zap_digest_eq(mac, pl, sizeof(mac))) {
			peer_fail(p, "pod '%s': the image stream fails its end-to-end digest (altered or "
				  "truncated): refused", p->pod);
			return;
		}
		p->state = P_RESTART;
		if (p->sp) /* the restorers may let the program run now */
			stream_set_state(p, ZAP_STREAM_COMPLETE);
		else
			restart_start(p);
		return;
	}
	default:
		peer_fail(p, "pod '%s': unexpected message %u during the transfer", p->pod, type);
	}
}

static void peer_frame(struct peer *p, uint16_t type, const uint8_t *frame, uint32_t len)
{
	const uint8_t *pl = frame + ZAP_PROTO_HDR;
	switch (p->state) {
	case P_HELLO: {
		if (type != ZAP_MSG_HELLO || len != 4 + ZAP_PROTO_NONCE) {
			peer_fail(p, "refused: no hello (not a zap client?)");
			return;
		}
		if (zap_get_u32(pl) != ZAP_PROTO_VERSION) {
			peer_fail(p, "refused: protocol version %u, this zapd speaks %u", zap_get_u32(pl),
				  ZAP_PROTO_VERSION);
			return;
		}
		memcpy(p->nc, pl + 4, ZAP_PROTO_NONCE);
		uint8_t ch[4 + ZAP_PROTO_NONCE + ZAP_PROTO_MAC];
		zap_put_u32(ch, ZAP_PROTO_VERSION);
		memcpy(ch + 4, p->ns, ZAP_PROTO_NONCE);
		zap_proto_mac(&zd.key, ZAP_PROTO_LABEL_SERVER, p->nc, p->ns, ch + 4 + ZAP_PROTO_NONCE);
		peer_send(p, ZAP_MSG_CHALLENGE, ch, sizeof(ch), NULL, 0);
		p->state = P_AUTH;
		return;
	}
	case P_AUTH: {
		uint8_t want[ZAP_PROTO_MAC];
		zap_proto_mac(&zd.key, ZAP_PROTO_LABEL_CLIENT, p->ns, p->nc, want);
		if (type != ZAP_MSG_AUTH || len != ZAP_PROTO_MAC || !zap_digest_eq(want, pl, sizeof(want))) {
			peer_fail(p, "refused: authentication failed (the peer does not hold this zapd's key)");
			return;
		}
		zapd_log(p->addr, "authenticated");
		peer_send(p, ZAP_MSG_OK, NULL, 0, NULL, 0);
		p->state = P_READY;
		return;
	}
	case P_READY:
		if (type == ZAP_MSG_STATUS)
			do_status(p);
		else if (type == ZAP_MSG_BEGIN)
			do_begin(p, frame, len);
		else
			peer_fail(p, "unexpected message %u", type);
		return;
	case P_RECV:
		do_transfer(p, type, frame, len);
		return;
	case P_RESTART:
	case P_CLOSING:
		return; /* nothing more is expected */
	}
}

/* 1 when the peer is gone (freed). */
static int peer_closing(struct peer *p)
{
	if (p->state != P_CLOSING || p->nout)
		return 0;
	if (!p->shut) {
		shutdown(p->fd, SHUT_WR);
		p->shut = 1;
		p->close_at = zapd_now() + 2;
		p->nin = 0;
	}
	if (zapd_now() < p->close_at)
		return 0;
	peer_free(p);
	return 1;
}

static void on_peer(struct zl *l, int fd, void *arg, int mask)
{
	(void)l;
	(void)fd;
	struct peer *p = arg;
	if (mask & ZL_WRITE)
		peer_flush(p);
	const size_t cap = ZAP_PROTO_HDR + ZAP_PROTO_MAX_PAYLOAD;
	/* a few MiB per wake-up, so one sender does not starve the others */
	for (int round = 0; round < 8; round++) {
		ssize_t r = read(p->fd, p->in + p->nin, cap - p->nin);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			peer_free(p);
			return;
		}
		if (p->state == P_CLOSING)
			continue; /* dropped */
		p->nin += (size_t)r;
		p->last = zapd_now();
		size_t at = 0;
		while (p->state != P_CLOSING && p->nin - at >= ZAP_PROTO_HDR) {
			uint16_t type;
			uint32_t len;
			char why[128];
			if (zap_proto_hdr_get(p->in + at, &type, &len, why, sizeof(why)) < 0) {
				peer_fail(p, "refused: %s", why);
				break;
			}
			if (p->nin - at < ZAP_PROTO_HDR + len)
				break;
			peer_frame(p, type, p->in + at, len);
			at += ZAP_PROTO_HDR + len;
		}
		memmove(p->in, p->in + at, p->nin - at);
		p->nin -= at;
	}
	if (peer_closing(p))
		return;
	zl_mask(zd.loop, p->fd, ZL_READ | (p->nout ? ZL_WRITE : 0));
}

static void on_listen(struct zl *l, int fd, void *arg, int mask)
{
	(void)mask;
	(void)arg;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				zapd_log(NULL, "accept: %s", strerror(errno));
			return;
		}
		struct peer *p = calloc(1, sizeof(*p));
		uint8_t *in = malloc(ZAP_PROTO_HDR + ZAP_PROTO_MAX_PAYLOAD);
		if (!p || !in || getrandom(p->ns, sizeof(p->ns), 0) != (ssize_t)sizeof(p->ns)) {
			zapd_log(NULL, "out of memory or randomness: dropped a connection");
			free(p);
			free(in);
			close(c);
			continue;
		}
		p->fd = c;
		p->in = in;
		p->cur = -1;
		p->last = zapd_now();
		zap_addr_str((struct sockaddr *)&ss, p->addr, sizeof(p->addr));
		p->next = zd.peers;
		zd.peers = p;
		if (zl_watch(l, c, ZL_READ, on_peer, p) < 0) {
			zapd_log(p->addr, "epoll: %s", strerror(errno));
			peer_free(p);
		}
	}
}

/* ---- restarts, time-outs ---- */

static void restart_tail(const char *pod, char *out, size_t n)
{
	char path[PATH_MAX + 160];
	snprintf(path, sizeof(path), "%s/pods/%s/restart.log", zd.home, pod);
	out[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)n - 1 ? size - (off_t)n + 1 : 0;
	ssize_t r = pread(fd, out, n - 1, from);
	close(fd);
	out[r > 0 ? r : 0] = 0;
	if (from > 0) { /* whole lines only */
		char *nl = strchr(out, '\n');
		if (nl)
			memmove(out, nl + 1, strlen(nl + 1) + 1);
	}
}

static void restart_answer(struct peer *p, int code, pid_t pid, const char *text)
{
	uint8_t head[8];
	zap_put_u32(head, (uint32_t)code);
	zap_put_u32(head + 4, (uint32_t)pid);
	peer_send(p, ZAP_MSG_RESULT, head, 8, text, (uint32_t)strlen(text));
	p->state = P_CLOSING;
	p->child = 0;
}

/* The pod runs: its image becomes pods/NAME/image, as after a local
 * checkpoint, and incoming/ID goes. */
static void restart_done(struct peer *p, pid_t pid)
{
	char image[PATH_MAX + 128];
	snprintf(image, sizeof(image), "%s/pods/%s/%s", zd.home, p->pod, ZAP_POD_IMAGE);
	zap_imgdir_remove(image);
	if (rename(p->image, image) < 0)
		zap_imgdir_remove(p->image);
	stream_unmap(p);
	incoming_release(p->dir);
	p->image[0] = p->dir[0] = 0;
	zapd_log(p->addr, "pod '%s' runs here (pid %d), %.2f s after the transfer began", p->pod,
		 (int)pid, zapd_now() - p->started);
	restart_answer(p, 0, pid, "");
}

static void on_tick(struct zl *l, void *arg)
{
	(void)arg;
	if (zapd_stop)
		zl_stop(l);
	int st;
	pid_t w;
	while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
		struct peer *p = zd.peers;
		while (p && !((p->state == P_RESTART || p->state == P_RECV) && p->child == w))
			p = p->next;
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (!p) {
			zapd_log(NULL, "zap restart %d ended (status %d)", (int)w, code);
			continue;
		}
		char tail[ZAPD_LOG_TAIL];
		restart_tail(p->pod, tail, sizeof(tail));
		zapd_log(p->addr, "pod '%s': zap restart exited %d before the pod ran", p->pod, code);
		p->child = 0;
		peer_drop_transfer(p);
		restart_answer(p, code ? code : ZAP_EXIT_FAIL, 0, tail);
	}
	double now = zapd_now();
	int tick_ms = ZAPD_TICK_MS;
	for (struct peer *p = zd.peers, *next; p; p = next) {
		next = p->next;
		if (p->state == P_RECV && p->child > 0) {
			tick_ms = ZAPD_TICK_BUSY_MS; /* a restart during the transfer: its end is news */
		} else if (p->state == P_RESTART) {
			tick_ms = ZAPD_TICK_BUSY_MS;
			pid_t pid = pod_resumed(p->pod);
			if (pid) {
				restart_done(p, pid);
			} else if (now > p->restart_deadline) {
				restart_abort(p);
				zapd_log(p->addr, "pod '%s': not running %.0f s after its restart began: killed",
					 p->pod, ZAPD_RESTART_S);
				restart_answer(p, 124, 0, "the restart did not finish in time");
			}
		} else if (p->state != P_CLOSING && now - p->last > ZAPD_IDLE_S) {
			peer_fail(p, "nothing received for %.0f s: closed", ZAPD_IDLE_S);
		}
		if (p->nout)
			peer_flush(p);
		if (p->state == P_CLOSING && p->nout && now - p->last > ZAPD_IDLE_S)
			p->nout = 0; /* it does not read its answer */
		if (!peer_closing(p) && p->nout)
			zl_mask(l, p->fd, ZL_READ | ZL_WRITE);
	}
	zl_every(l, tick_ms, on_tick, NULL);
}

/* ---- set-up ---- */

static void on_signal(int sig)
{
	(void)sig;
	zapd_stop = 1;
}

static int zapd_listen(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[512];
	if (zap_addr_parse(addr, &ss, &sl, err, sizeof(err)) < 0) {
		fprintf(stderr, "zapd: %s\n", err);
		return -1;
	}
	zap_addr_str((struct sockaddr *)&ss, zd.listen_addr, sizeof(zd.listen_addr));
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "zapd: cannot listen on %s: %s\n", zd.listen_addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int zapd_paths(void)
{
	const char *h = getenv(ZAP_ENV_HOME);
	char cwd[PATH_MAX];
	if (h && *h && h[0] != '/')
		snprintf(zd.home, sizeof(zd.home), "%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : ".", h);
	else if (h && *h)
		snprintf(zd.home, sizeof(zd.home), "%s", h);
	else
		snprintf(zd.home, sizeof(zd.home), "%s/.zap", getenv("HOME") ? getenv("HOME") : "/tmp");
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/incoming", zd.home);
	if ((zapd_mkdir(zd.home) < 0) | (zapd_mkdir(path) < 0)) {
		fprintf(stderr, "zapd: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	const char *z = getenv("ZAPD_ZAP");
	if (z && *z) {
		snprintf(zd.zap, sizeof(zd.zap), "%s", z);
	} else {
		char self[PATH_MAX];
		ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[k > 0 ? k : 0] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		snprintf(zd.zap, sizeof(zd.zap), "%s/zap", self);
	}
	if (access(zd.zap, X_OK) < 0) {
		fprintf(stderr, "zapd: cannot run %s: %s (set ZAPD_ZAP)\n", zd.zap, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen_on = NULL, *keyfile = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(zapd_usage_text, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen_on = argv[++i];
		} else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			keyfile = argv[++i];
		} else {
			fprintf(stderr, "zapd: unexpected argument '%s'\nTry 'zapd --help'.\n", argv[i]);
			return ZAP_EXIT_USAGE;
		}
	}
	if (!listen_on || !keyfile) {
		fprintf(stderr, "usage: zapd --listen ADDR:PORT --key FILE\nTry 'zapd --help'.\n");
		return ZAP_EXIT_USAGE;
	}
	char err[4200];
	if (zap_key_load(keyfile, &zd.key, err, sizeof(err)) < 0) {
		fprintf(stderr, "zapd: %s\n", err);
		return ZAP_EXIT_FAIL;
	}
	const char *ea = getenv("ZAPD_TEST_EXIT_AFTER");
	zd.exit_after = ea && *ea ? strtoull(ea, NULL, 10) : 0;
	if (zapd_paths() < 0)
		return ZAP_EXIT_FAIL;
	incoming_sweep();
	zd.lfd = zapd_listen(listen_on);
	if (zd.lfd < 0)
		return ZAP_EXIT_FAIL;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	zd.loop = zl_new();
	if (!zd.loop || zl_watch(zd.loop, zd.lfd, ZL_READ, on_listen, NULL) < 0) {
		fprintf(stderr, "zapd: epoll: %s\n", strerror(errno));
		return ZAP_EXIT_FAIL;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	zapd_log(NULL, "listening on %s, state in %s", zd.listen_addr, zd.home);
	zl_every(zd.loop, ZAPD_TICK_MS, on_tick, NULL);
	if (zl_run(zd.loop) < 0) {
		zapd_log(NULL, "epoll_wait: %s", strerror(errno));
		return ZAP_EXIT_FAIL;
	}
	zapd_log(NULL, "stopping (pods restarted here run on)");
	while (zd.peers)
		peer_free(zd.peers);
	return 0;
}
