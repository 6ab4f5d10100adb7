/* zap-proxy: the connection keeper (docs/zap-proxy.md).
 *
 * One epoll loop.  The control port takes one message per connection
 * (include/zap/tunnel.h), answered to the CHALLENGE it sends first and
 * MAC'd with the tunnel key: REGISTER makes a pod known and opens a public
 * listener on each port it exposes; FREEZE and THAW bracket a checkpoint;
 * RESUME turns the connection into the new pod side of a tunnel.  Clients
 * that connect to a public port get a tunnel to the pod (tun.c). */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CTL_TIMEOUT_S 10.0
#define MAX_PUBS 256

struct proxy_opts px_opts = {.hold_s = 600, .ring = 8u << 20, .buf = 256u << 10};
struct zl *px_loop;
uint8_t px_key[ZAP_TUN_KEY];

struct pub {
	int fd;
	uint16_t port;
	struct pod *pod;
	double paused_until; /* out of fds: try again then */
};

struct ctl {
	int fd;
	size_t got;
	double deadline;
	uint8_t ns[ZAP_TUN_NONCE]; /* our challenge */
	struct zap_tun_msg m;
	struct ctl *next, *prev;
};

static struct pod *pods;
static struct pub pubs[MAX_PUBS];
static int npubs;
static struct ctl *ctls;
static struct sockaddr_storage public_addr;
static socklen_t public_len;

static const char usage[] =
	"usage: zap-proxy --listen ADDR:PORT --key FILE [--public ADDR] [--hold SECS]\n"
	"                 [--ring BYTES] [--buffer BYTES] [-v]\n";
static const char help[] =
	"The connection keeper: a stable front door for the TCP connections of pods\n"
	"started with 'zap run --proxy', which holds their clients while a pod is\n"
	"checkpointed, restarted or moved.  Clients see a pause, never a reset, and no\n"
	"byte is lost or doubled.\n\n"
	"Options:\n"
	"  --listen ADDR:PORT  the control port, where pods register and reconnect\n"
	"  --key FILE          the shared key (zap keygen); every peer must know it\n"
	"  --public ADDR       address of the public ports a pod exposes (default: the\n"
	"                      --listen address); each is opened at the pod's port number\n"
	"  --hold SECS         how long a tunnel whose pod went away waits for it to come\n"
	"                      back, and how long a freeze may last (default 600)\n"
	"  --ring BYTES        bytes kept per tunnel to send again after a restore\n"
	"                      (default 8M; K, M, G suffixes)\n"
	"  --buffer BYTES      forwarding buffer per direction and tunnel (default 256K)\n"
	"  -v, --verbose       log every tunnel\n\n"
	"Logs go to stderr.  Exit status: 0 after SIGTERM or SIGINT, 1 on an error at\n"
	"start (the message names it), 2 for a bad command line.\n";

void px_log(const char *fmt, ...)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(ts, sizeof(ts), "%H:%M:%S", localtime_r(&now, &tm));
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "zap-proxy %s: ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int px_random(uint8_t *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			px_log("getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int px_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* "ADDR:PORT" or "[V6]:PORT" (port may be absent when want_port is 0). */
static int parse_addr(const char *s, int want_port, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], *port = NULL;
	snprintf(host, sizeof(host), "%s", s);
	char *h = host;
	if (h[0] == '[') {
		char *e = strchr(h, ']');
		if (!e)
			return -1;
		*e = 0;
		h++;
		if (e[1] == ':')
			port = e + 2;
	} else if ((port = strrchr(h, ':'))) {
		*port++ = 0;
	}
	if (want_port && (!port || !*port))
		return -1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
	if (getaddrinfo(h, port ? port : "0", &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN] = "?";
	const void *a = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
						 : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	inet_ntop(ss->ss_family, a, h, sizeof(h));
	snprintf(buf, n, "%s", h);
	return buf;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- pods and their public ports ---- */

static struct pod *pod_find(const char *name)
{
	for (struct pod *p = pods; p; p = p->next)
		if (!strncmp(p->name, name, sizeof(p->name)))
			return p;
	return NULL;
}

/* The pod of that name, made when it is new; NULL without memory. */
static struct pod *pod_get(const char *name)
{
	struct pod *pod = pod_find(name);
	if (!pod && (pod = calloc(1, sizeof(*pod)))) {
		snprintf(pod->name, sizeof(pod->name), "%s", name);
		pod->next = pods;
		pods = pod;
	}
	return pod;
}

static void pub_accept(struct zl *l, int fd, void *data, int mask);

static void pubs_pause(struct pod *pod, int paused)
{
	for (int i = 0; i < npubs; i++)
		if (pubs[i].pod == pod)
			zl_mask(px_loop, pubs[i].fd, paused ? 0 : ZL_READ);
}

static void pod_freeze(struct pod *pod, int frozen)
{
	pod->frozen = frozen;
	pod->thaw_by = zl_now() + px_opts.hold_s;
	pubs_pause(pod, frozen);
	tun_freeze_pod(pod, frozen);
}

static int pub_open(struct pod *pod, uint16_t port)
{
	for (int i = 0; i < npubs; i++)
		if (pubs[i].port == port) {
			if (pubs[i].pod != pod) {
				px_log("pod %s: port %u is already exposed by pod %s", pod->name, port,
				       pubs[i].pod->name);
				return EADDRINUSE;
			}
			return 0;
		}
	if (npubs == MAX_PUBS)
		return ENOSPC;
	struct sockaddr_storage ss = public_addr;
	set_port(&ss, port);
	int fd = listen_on(&ss, public_len);
	if (fd < 0) {
		int e = errno;
		px_log("pod %s: cannot open public port %u: %s", pod->name, port, strerror(e));
		return e;
	}
	pubs[npubs] = (struct pub){fd, port, pod, 0};
	zl_watch(px_loop, fd, pod->frozen ? 0 : ZL_READ, pub_accept, &pubs[npubs]);
	npubs++;
	px_log("pod %s: port %u open", pod->name, port);
	return 0;
}

static void pub_accept(struct zl *l, int fd, void *data, int mask)
{
	(void)mask;
	struct pub *p = data;
	for (int i = 0; i < 64 && !p->pod->frozen; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				px_log("out of file descriptors: not accepting for a while");
				zl_mask(l, fd, 0);
				p->paused_until = zl_now() + 0.1;
			}
			return; /* EAGAIN, ECONNABORTED, EINTR: the next event */
		}
		struct sockaddr_storage to = p->pod->host;
		set_port(&to, p->port);
		tun_open(p->pod, c, (struct sockaddr *)&to, p->pod->hostlen);
	}
}

/* ---- the control port ---- */

static void ctl_free(struct ctl *c, int close_fd)
{
	zl_unwatch(px_loop, c->fd);
	if (close_fd)
		close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static void ctl_reply(struct ctl *c, int status, uint64_t a)
{
	struct zap_tun_msg r;
	zap_tun_init(&r, ZAP_TUN_REPLY);
	r.status = status;
	r.consumed = a;
	memcpy(r.nonce, c->ns, sizeof(r.nonce));
	zap_tun_seal(px_key, c->ns, c->m.nonce, &r);
	/* a fresh connection's send buffer takes both messages at once */
	if (write(c->fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		px_log("cannot reply on the control port: %s", strerror(errno));
}

static int do_register(struct ctl *c, const struct zap_tun_msg *m)
{
	if (!m->name[0] || memchr(m->name, 0, sizeof(m->name)) == NULL)
		return EINVAL;
	struct pod *pod = pod_get(m->name);
	if (!pod)
		return ENOMEM;
	/* the pod's host is where this connection comes from */
	pod->hostlen = sizeof(pod->host);
	getpeername(c->fd, (struct sockaddr *)&pod->host, &pod->hostlen);
	set_port(&pod->host, 0);
	char h[64];
	px_log("pod %s registered from %s, %u port(s)%s", pod->name, addr_str(&pod->host, h, sizeof(h)),
	       m->nports, pod->frozen ? ", thawed" : "");
	if (pod->frozen)
		pod_freeze(pod, 0); /* a restored pod says it is back */
	int rc = 0;
	for (unsigned i = 0; i < m->nports && i < ZAP_TUN_MAX_PORTS; i++)
		if (m->ports[i] && (rc = pub_open(pod, m->ports[i])) != 0)
			break;
	return rc;
}

static void ctl_handle(struct ctl *c)
{
	const struct zap_tun_msg *m = &c->m;
	if (!zap_tun_check(px_key, c->ns, m->nonce, m)) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		char h[64] = "?";
		if (getpeername(c->fd, (struct sockaddr *)&peer, &plen) == 0)
			addr_str(&peer, h, sizeof(h));
		px_log("refused a control connection from %s: %s", h,
		       m->magic != ZAP_TUN_MAGIC ? "not the zap tunnel protocol"
		       : m->version != ZAP_TUN_VERSION ? "another protocol version"
		       : "authentication failed (a wrong key, or a message replayed)");
		ctl_reply(c, EACCES, 0);
		ctl_free(c, 1);
		return;
	}
	struct pod *pod = NULL;
	int rc;
	switch (m->type) {
	case ZAP_TUN_REGISTER:
		rc = do_register(c, m);
		break;
	case ZAP_TUN_FREEZE:
	case ZAP_TUN_THAW:
		pod = pod_find(m->name);
		rc = pod ? 0 : ENOENT;
		if (pod) {
			pod_freeze(pod, m->type == ZAP_TUN_FREEZE);
			px_log("pod %s %s, %zu tunnel(s)", pod->name,
			       m->type == ZAP_TUN_FREEZE ? "frozen" : "thawed", tun_count(pod));
		}
		break;
	case ZAP_TUN_RESUME: {
		int fd = c->fd;
		zl_unwatch(px_loop, fd);
		/* the pod may come back under another name (zap restart --pod) */
		pod = m->name[0] && memchr(m->name, 0, sizeof(m->name)) ? pod_get(m->name) : NULL;
		rc = tun_resume(fd, m, c->ns, &pod);
		if (rc == 0) { /* the connection is the tunnel's now */
			if (pod) {
				pod->hostlen = sizeof(pod->host);
				getpeername(fd, (struct sockaddr *)&pod->host, &pod->hostlen);
				set_port(&pod->host, 0);
			}
			c->fd = -1;
			ctl_free(c, 0);
			return;
		}
		px_log("RESUME of tunnel %llu refused: %s", (unsigned long long)m->id, strerror(rc));
		break;
	}
	case ZAP_TUN_CONNECT:
		pod = pod_find(m->name);
		rc = pod ? tun_dial(pod, c->fd, m, c->ns) : ENOENT;
		if (rc == 0) { /* the tunnel answers once the destination does */
			c->fd = -1;
			ctl_free(c, 0);
			return;
		}
		break;
	default:
		rc = EOPNOTSUPP;
	}
	ctl_reply(c, rc, pod ? tun_count(pod) : 0);
	ctl_free(c, 1);
}

static void ctl_read(struct zl *l, int fd, void *data, int mask)
{
	(void)l;
	(void)mask;
	struct ctl *c = data;
	ssize_t n = read(fd, (char *)&c->m + c->got, sizeof(c->m) - c->got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_free(c, 1);
		return;
	}
	c->got += (size_t)n;
	if (c->got == sizeof(c->m))
		ctl_handle(c);
}

static void ctl_accept(struct zl *l, int fd, void *data, int mask)
{
	(void)data;
	(void)mask;
	for (int i = 0; i < 64; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0)
			return;
		struct ctl *ct = calloc(1, sizeof(*ct));
		struct zap_tun_msg ch;
		zap_tun_init(&ch, ZAP_TUN_CHALLENGE);
		if (!ct || px_random(ct->ns, sizeof(ct->ns)) < 0) {
			free(ct);
			close(c);
			return;
		}
		memcpy(ch.nonce, ct->ns, sizeof(ch.nonce));
		/* a fresh connection's send buffer takes it at once */
		if (write(c, &ch, sizeof(ch)) != (ssize_t)sizeof(ch)) {
			free(ct);
			close(c);
			continue;
		}
		ct->fd = c;
		ct->deadline = zl_now() + CTL_TIMEOUT_S;
		ct->next = ctls;
		if (ctls)
			ctls->prev = ct;
		ctls = ct;
		zl_watch(l, c, ZL_READ, ctl_read, ct);
	}
}

static void tick(struct zl *l, void *data)
{
	(void)data;
	double now = zl_now();
	for (struct ctl *c = ctls, *next; c; c = next) {
		next = c->next;
		if (now > c->deadline)
			ctl_free(c, 1);
	}
	for (struct pod *p = pods; p; p = p->next)
		if (p->frozen && now > p->thaw_by) {
			px_log("pod %s: frozen for %.0f s and nobody thawed it: thawing", p->name,
			       px_opts.hold_s);
			pod_freeze(p, 0);
		}
	for (int i = 0; i < npubs; i++)
		if (pubs[i].paused_until && now > pubs[i].paused_until) {
			pubs[i].paused_until = 0;
			zl_mask(l, pubs[i].fd, pubs[i].pod->frozen ? 0 : ZL_READ);
		}
	tun_tick(now);
}

/* ---- start ---- */

static int read_key(const char *path)
{
	char key[4096];
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "zap-proxy: cannot read the key file %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = fread(key, 1, sizeof(key), f);
	fclose(f);
	if (n < 16) {
		fprintf(stderr, "zap-proxy: %s is not a key (under 16 bytes; make one with 'zap keygen')\n",
			path);
		return -1;
	}
	zap_tun_key(key, n, px_key);
	explicit_bzero(key, sizeof(key));
	return 0;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	double v = strtod(s, &end);
	double mul = *end == 'K' || *end == 'k' ? 1024.0 : *end == 'M' || *end == 'm' ? 1048576.0
		     : *end == 'G' || *end == 'g' ? 1073741824.0 : 1.0;
	if (mul > 1)
		end++;
	if (*end || v <= 0)
		return -1;
	*out = (size_t)(v * mul);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	zl_stop(px_loop);
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *key = NULL, *public_s = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("%s\n%s", usage, help);
			return 0;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			px_opts.verbose = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "zap-proxy: %s needs a value\n%s", a, usage);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--listen")) {
			listen_s = v;
		} else if (!strcmp(a, "--key")) {
			key = v;
		} else if (!strcmp(a, "--public")) {
			public_s = v;
		} else if (!strcmp(a, "--hold")) {
			char *end;
			px_opts.hold_s = strtod(v, &end);
			if (*end || px_opts.hold_s <= 0) {
				fprintf(stderr, "zap-proxy: --hold takes seconds, not '%s'\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--ring") || !strcmp(a, "--buffer")) {
			size_t *dst = a[2] == 'r' ? &px_opts.ring : &px_opts.buf;
			if (parse_size(v, dst) < 0 || *dst < 4096) {
				fprintf(stderr, "zap-proxy: %s takes a size of at least 4K, not '%s'\n", a, v);
				return 2;
			}
		} else {
			fprintf(stderr, "zap-proxy: unknown option '%s'\n%s", a, usage);
			return 2;
		}
	}
	if (!listen_s || !key) {
		fprintf(stderr, "zap-proxy: --listen and --key are required\n%s", usage);
		return 2;
	}
	struct sockaddr_storage ctl_addr;
	socklen_t ctl_len;
	if (parse_addr(listen_s, 1, &ctl_addr, &ctl_len) < 0) {
		fprintf(stderr, "zap-proxy: --listen wants ADDR:PORT, not '%s'\n", listen_s);
		return 2;
	}
	if (public_s ? parse_addr(public_s, 0, &public_addr, &public_len) < 0
		     : (public_addr = ctl_addr, public_len = ctl_len, 0)) {
		fprintf(stderr, "zap-proxy: --public wants an address, not '%s'\n", public_s);
		return 2;
	}
	if (read_key(key) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/* eight descriptors per tunnel (two sockets, three pipes): take all we may */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	px_loop = zl_new();
	int lfd = listen_on(&ctl_addr, ctl_len);
	if (!px_loop || lfd < 0) {
		fprintf(stderr, "zap-proxy: cannot listen on %s: %s\n", listen_s, strerror(errno));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	zl_watch(px_loop, lfd, ZL_READ, ctl_accept, NULL);
	zl_every(px_loop, 200, tick, NULL);
	px_log("listening on %s", listen_s);
	int rc = zl_run(px_loop);
	px_log("%s", rc == 0 ? "stopping" : "epoll failed");
	return rc == 0 ? 0 : 1;
}
