/* The launcher's side of zap-proxy: `zap run --proxy` registers the pod
 * and notes the proxy in the pod's directory ($pod/proxy); a checkpoint
 * of such a pod is bracketed by FREEZE and THAW (docs/zap-proxy.md).  Each
 * message answers the proxy's challenge, and its reply is checked. */
#include "zap.h"
#include "zap/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define PROXY_TIMEOUT_S 10

int zap_proxy_key(const char *key_file, char hex[2 * ZAP_TUN_KEY + 1])
{
	char key[4096];
	FILE *f = fopen(key_file, "re");
	if (!f) {
		zap_err("cannot read the key file %s: %s", key_file, strerror(errno));
		return -1;
	}
	size_t n = fread(key, 1, sizeof(key), f);
	fclose(f);
	if (n < 16) {
		zap_err("%s is not a key (under 16 bytes)", key_file);
		return -1;
	}
	uint8_t k[ZAP_TUN_KEY];
	zap_tun_key(key, n, k);
	for (int i = 0; i < ZAP_TUN_KEY; i++)
		snprintf(hex + 2 * i, 3, "%02x", k[i]);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(k, sizeof(k));
	return 0;
}

/* "HOST:PORT" -> numeric "ADDR:PORT" (or "[V6]:PORT") and the address. */
int zap_proxy_resolve(const char *spec, char *num, size_t n, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", spec);
	char *h = host, *port;
	if (h[0] == '[' && (port = strchr(h, ']')) && port[1] == ':') {
		*port = 0;
		h++;
		port += 2;
	} else if ((port = strrchr(h, ':'))) {
		*port++ = 0;
	}
	/* numeric only: zap is linked statically, where getaddrinfo needs the
	 * very shared libraries it avoids */
	char *end;
	long pn = port ? strtol(port, &end, 10) : 0;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (!strcmp(h, "localhost"))
		h = "127.0.0.1";
	if (pn <= 0 || pn > 65535 || *end) {
		zap_err("--proxy wants ADDR:PORT, not '%s'", spec);
		return -1;
	}
	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)pn);
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)pn);
		*len = sizeof(*s6);
	} else {
		zap_err("--proxy wants a numeric address, not '%s'", h);
		return -1;
	}
	char a[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
		snprintf(num, n, "[%s]:%u", a, ntohs(((struct sockaddr_in6 *)ss)->sin6_port));
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
		snprintf(num, n, "%s:%u", a, ntohs(((struct sockaddr_in *)ss)->sin_port));
	}
	return 0;
}

static int hex_key(const char *hex, uint8_t *k)
{
	if (strlen(hex) != 2 * ZAP_TUN_KEY)
		return -1;
	for (int i = 0; i < ZAP_TUN_KEY; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		k[i] = (uint8_t)v;
	}
	return 0;
}

/* Exactly n bytes (the socket's timeouts bound it): 0, or -1. */
static int recv_all(int fd, void *p, size_t n)
{
	errno = 0;
	return recv(fd, p, n, MSG_WAITALL) == (ssize_t)n ? 0 : -1;
}

/* One message to the proxy and its reply: the reply's status (0 or an
 * errno value), or -1 when the proxy could not be reached or did not
 * prove it holds the key (said). */
static int call(const char *num, const char *hex, struct zap_tun_msg *m)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char again[128];
	uint8_t key[ZAP_TUN_KEY], nc[ZAP_TUN_NONCE];
	if (zap_proxy_resolve(num, again, sizeof(again), &ss, &len) < 0)
		return -1;
	m->magic = ZAP_TUN_MAGIC;
	m->version = ZAP_TUN_VERSION;
	if (hex_key(hex, key) < 0) {
		zap_err("the proxy's key in the pod's directory is damaged");
		return -1;
	}
	if (getrandom(nc, sizeof(nc), 0) != (ssize_t)sizeof(nc)) {
		zap_err("getrandom: %s", strerror(errno));
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {PROXY_TIMEOUT_S, 0};
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	struct zap_tun_msg ch, r;
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
		zap_err("cannot reach zap-proxy at %s: %s", num, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int rc = -1;
	if (recv_all(fd, &ch, sizeof(ch)) < 0) {
		zap_err("zap-proxy at %s sent no challenge: %s", num, errno ? strerror(errno) : "connection closed");
	} else if (zap_tun_answer(key, &ch, nc, m) < 0) {
		zap_err("zap-proxy at %s: %s", num, ch.magic != ZAP_TUN_MAGIC ? "not a zap-proxy"
			: "another version of the tunnel protocol");
	} else if (write(fd, m, sizeof(*m)) != (ssize_t)sizeof(*m) || recv_all(fd, &r, sizeof(r)) < 0) {
		zap_err("zap-proxy at %s did not answer: %s", num, errno ? strerror(errno) : "short reply");
	} else if (!zap_tun_reply_ok(key, &ch, m, &r)) {
		/* it refused us (EACCES, MAC'd with its key), or it is not the proxy */
		zap_err("zap-proxy at %s: authentication failed: it holds another key (wrong key)", num);
	} else {
		rc = r.status;
	}
	close(fd);
	explicit_bzero(key, sizeof(key));
	return rc;
}

int zap_proxy_register(const char *pod, const char *num, const char *hex, const uint16_t *ports, int nports)
{
	struct zap_tun_msg m;
	memset(&m, 0, sizeof(m));
	m.type = ZAP_TUN_REGISTER;
	snprintf(m.name, sizeof(m.name), "%s", pod);
	for (int i = 0; i < nports && i < ZAP_TUN_MAX_PORTS; i++)
		m.ports[m.nports++] = ports[i];
	int rc = call(num, hex, &m);
	if (rc > 0)
		zap_err("zap-proxy at %s would not take pod '%s': %s", num, pod, strerror(rc));
	if (rc != 0)
		return -1;
	char path[PATH_MAX];
	zap_pod_dir(pod, path, sizeof(path));
	size_t n = strlen(path);
	snprintf(path + n, sizeof(path) - n, "/%s", ZAP_POD_PROXY);
	/* the tunnel key: for the owner only */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
	if (!f || fprintf(f, "%s\n%s\n", num, hex) < 0 || fclose(f) != 0) {
		zap_err("cannot write %s: %s", path, strerror(errno));
		if (!f && fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

void zap_proxy_forget(const char *pod)
{
	char path[PATH_MAX];
	zap_pod_dir(pod, path, sizeof(path));
	size_t n = strlen(path);
	snprintf(path + n, sizeof(path) - n, "/%s", ZAP_POD_PROXY);
	unlink(path);
}

/* FREEZE or THAW, when the pod was started with --proxy: 1 done, 0 not a
 * proxy pod, -1 failed (said). */
static int freeze(const char *pod, int type)
{
	char path[PATH_MAX], num[160] = "", hex[80] = "";
	zap_pod_dir(pod, path, sizeof(path));
	size_t n = strlen(path);
	snprintf(path + n, sizeof(path) - n, "/%s", ZAP_POD_PROXY);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int ok = fscanf(f, "%159s %79s", num, hex) == 2;
	fclose(f);
	if (!ok)
		return 0;
	struct zap_tun_msg m;
	memset(&m, 0, sizeof(m));
	m.type = (uint16_t)type;
	snprintf(m.name, sizeof(m.name), "%s", pod);
	int rc = call(num, hex, &m);
	if (rc > 0)
		zap_err("zap-proxy at %s: %s of pod '%s' failed: %s", num,
			type == ZAP_TUN_FREEZE ? "freeze" : "thaw", pod, strerror(rc));
	return rc == 0 ? 1 : -1;
}

int zap_proxy_freeze(const char *pod, int on)
{
	return freeze(pod, on ? ZAP_TUN_FREEZE : ZAP_TUN_THAW);
}

int zap_checkpoint_kept(const char *pod, pid_t pid, const char *out, int kill_after, double timeout_s,
			struct zap_result *res)
{
	/* without the freeze the checkpoint still keeps every byte, as long
	 * as the clients read what the pod sends (docs/zap-proxy.md) */
	int frozen = freeze(pod, ZAP_TUN_FREEZE);
	if (frozen < 0)
		zap_err("warning: checkpointing pod '%s' without freezing its connections", pod);
	int rc = zap_checkpoint_pod(pod, pid, out, kill_after, timeout_s, res);
	if (frozen > 0 && (rc < 0 || !kill_after))
		freeze(pod, ZAP_TUN_THAW);
	return rc;
}
