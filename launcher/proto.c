/* Both ends of the wire protocol: keys, addresses, frames, MACs, and the
 * client's blocking side (launcher/proto.h, docs/protocol.md). */
#include "proto.h"
#include "image.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- keys ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int zap_key_load(const char *path, struct zap_key *k, char *err, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, n, "cannot read key file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, n, "key file %s is open to others (mode %04o): chmod 600 it", path,
			 (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	char text[2 * ZAP_KEY_MAX + 64];
	ssize_t got = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (got < 0) {
		snprintf(err, n, "cannot read key file %s: %s", path, strerror(errno));
		return -1;
	}
	text[got] = 0;
	k->n = 0;
	int hi = -1;
	for (ssize_t i = 0; i < got; i++) {
		if (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')
			continue;
		int v = hexval((unsigned char)text[i]);
		if (v < 0 || (hi < 0 && k->n == ZAP_KEY_MAX)) {
			snprintf(err, n, "key file %s is not a key (hex text, as 'zap keygen' writes)", path);
			return -1;
		}
		if (hi < 0) {
			hi = v;
		} else {
			k->b[k->n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0 || k->n < 16) {
		snprintf(err, n, "key file %s holds %s: a key is at least 16 bytes of hex text",
			 path, hi >= 0 ? "an odd number of hex digits" : "too short a key");
		return -1;
	}
	return 0;
}

int zap_key_write(const char *path, int force, char *err, size_t n)
{
	uint8_t key[ZAP_PROTO_KEY_LEN];
	for (size_t got = 0; got < sizeof(key);) {
		ssize_t r = getrandom(key + got, sizeof(key) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, n, "getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	char text[2 * sizeof(key) + 2];
	for (size_t i = 0; i < sizeof(key); i++)
		sprintf(text + 2 * i, "%02x", key[i]);
	strcat(text, "\n");
	/* a new file next to it, renamed over: never a half-written key, and
	 * O_EXCL on the name itself unless --force */
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	if (!force && access(path, F_OK) == 0) {
		snprintf(err, n, "%s exists; refusing to overwrite it (--force replaces it)", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, n, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	ssize_t w = write(fd, text, strlen(text));
	int bad = w != (ssize_t)strlen(text) || fsync(fd) < 0;
	int e = errno;
	close(fd);
	if (!bad && !force && link(tmp, path) < 0) { /* atomic no-replace */
		e = errno;
		bad = 1;
	} else if (!bad && force && rename(tmp, path) < 0) {
		e = errno;
		bad = 1;
	}
	unlink(tmp);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(text, sizeof(text));
	if (bad) {
		snprintf(err, n, "cannot write %s: %s", path,
			 e == EEXIST ? "it exists (--force replaces it)" : strerror(e));
		return -1;
	}
	return 0;
}

/* ---- addresses ---- */

int zap_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t n)
{
	char host[256];
	const char *port = NULL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close_b = strchr(s, ']');
		if (!close_b || (size_t)(close_b - s - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close_b - s - 1), s + 1);
		if (close_b[1] == ':')
			port = close_b + 2;
		else if (close_b[1])
			goto bad;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			goto bad; /* a bare IPv6 address: it needs [] */
		snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
		port = colon ? colon + 1 : NULL;
	}
	long p = ZAP_PROTO_PORT;
	if (port) {
		char *end;
		p = strtol(port, &end, 10);
		if (!*port || *end || p <= 0 || p > 65535)
			goto bad;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*v6);
		return 0;
	}
bad:
	snprintf(err, n, "'%s' is not an address: use A.B.C.D:PORT or [IPV6]:PORT (numeric, no host names)", s);
	return -1;
}

void zap_addr_str(const struct sockaddr *sa, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
		snprintf(buf, n, "%s:%d", ip, ntohs(v4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, n, "[%s]:%d", ip, ntohs(v6->sin6_port));
	} else {
		snprintf(buf, n, "?");
	}
}

/* ---- frames and MACs ---- */

void zap_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void zap_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t zap_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t zap_get_u64(const uint8_t *p)
{
	return (uint64_t)zap_get_u32(p) | (uint64_t)zap_get_u32(p + 4) << 32;
}

void zap_proto_hdr_put(uint8_t h[ZAP_PROTO_HDR], uint16_t type, uint32_t len)
{
	zap_put_u32(h, ZAP_PROTO_MAGIC);
	h[4] = (uint8_t)type;
	h[5] = (uint8_t)(type >> 8);
	h[6] = h[7] = 0;
	zap_put_u32(h + 8, len);
}

int zap_proto_hdr_get(const uint8_t h[ZAP_PROTO_HDR], uint16_t *type, uint32_t *len, char *err,
		      size_t n)
{
	if (zap_get_u32(h) != ZAP_PROTO_MAGIC) {
		snprintf(err, n, "not the zap protocol (bad frame magic)");
		return -1;
	}
	*type = (uint16_t)(h[4] | h[5] << 8);
	*len = zap_get_u32(h + 8);
	if (*len > ZAP_PROTO_MAX_PAYLOAD) {
		snprintf(err, n, "a frame of %u bytes (at most %u)", *len, ZAP_PROTO_MAX_PAYLOAD);
		return -1;
	}
	return 0;
}

_Static_assert(ZAP_PROTO_NONCE == ZAP_NONCE_LEN && ZAP_PROTO_MAC == ZAP_SHA256_LEN,
	       "the handshake's proof is zap_hmac_proof");

void zap_proto_mac(const struct zap_key *k, const char *label, const uint8_t *a, const uint8_t *b,
		   uint8_t out[ZAP_PROTO_MAC])
{
	zap_hmac_proof(k->b, k->n, label, a, b, NULL, 0, out);
}

void zap_proto_meta_init(struct zap_hmac *m, const struct zap_key *k, const uint8_t *nc,
			 const uint8_t *ns)
{
	zap_hmac_init(m, k->b, k->n);
	zap_hmac_update(m, ZAP_PROTO_LABEL_META, strlen(ZAP_PROTO_LABEL_META));
	zap_hmac_update(m, nc, ZAP_PROTO_NONCE);
	zap_hmac_update(m, ns, ZAP_PROTO_NONCE);
}

void zap_proto_stream_init(struct zap_poly1305 *m, const struct zap_key *k, const uint8_t *nc,
			   const uint8_t *ns)
{
	uint8_t one_time[ZAP_PROTO_MAC];
	zap_proto_mac(k, ZAP_PROTO_LABEL_STREAM, nc, ns, one_time);
	_Static_assert(ZAP_PROTO_MAC == ZAP_POLY1305_KEY, "the stream key is one HMAC");
	zap_poly1305_init(m, one_time);
	explicit_bzero(one_time, sizeof(one_time));
}

void zap_proto_pages_span(int fd, uint64_t size, uint64_t *off, uint64_t *len)
{
	struct zap_img_header h;
	*off = *len = 0;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h.magic, ZAP_IMG_MAGIC, 8) ||
	    h.kind != ZAP_IMG_KIND_PROC || h.nsect > 64)
		return;
	struct zap_img_section sect[64];
	size_t n = h.nsect * sizeof(sect[0]);
	if (pread(fd, sect, n, (off_t)h.sect_off) != (ssize_t)n)
		return;
	for (uint32_t i = 0; i < h.nsect; i++)
		if (sect[i].type == ZAP_SECT_PAGES && sect[i].len >= ZAP_PROTO_SPLIT_MIN &&
		    sect[i].off >= sizeof(h) && sect[i].off + sect[i].len <= size) {
			*off = sect[i].off;
			*len = sect[i].len;
		}
}

/* ---- the client ---- */

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for events on the socket, up to wait_s. */
static int conn_wait(struct zap_conn *c, short events, double wait_s, const char *doing, char *err,
		     size_t n)
{
	double until = mono_s() + wait_s;
	for (;;) {
		int ms = (int)((until - mono_s()) * 1000);
		struct pollfd p = {.fd = c->fd, .events = events};
		int r = poll(&p, 1, ms < 0 ? 0 : ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, n, "zapd at %s: poll: %s", c->where, strerror(errno));
			return -1;
		}
		snprintf(err, n, "zapd at %s: no progress within %.0f s while %s", c->where, wait_s, doing);
		return -1;
	}
}

static int conn_writev(struct zap_conn *c, struct iovec *iov, int cnt, char *err, size_t n)
{
	while (cnt > 0) {
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
		ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL); /* EPIPE, not SIGPIPE */
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (conn_wait(c, POLLOUT, c->timeout_s, "sending", err, n) < 0)
				return -1;
			continue;
		}
		if (w < 0) {
			snprintf(err, n, "zapd at %s: connection lost while sending (%s)", c->where,
				 strerror(errno));
			return -1;
		}
		c->sent += (uint64_t)w;
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++, cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int conn_read(struct zap_conn *c, void *buf, size_t len, double wait_s, char *err, size_t n)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(c->fd, (char *)buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (conn_wait(c, POLLIN, wait_s, "waiting for an answer", err, n) < 0)
				return -1;
			continue;
		}
		if (r <= 0) {
			snprintf(err, n, "zapd at %s closed the connection%s%s", c->where, r < 0 ? ": " : "",
				 r < 0 ? strerror(errno) : "");
			return -1;
		}
		got += (size_t)r;
		c->received += (uint64_t)r;
	}
	return 0;
}

int zap_conn_send(struct zap_conn *c, uint16_t type, const void *a, uint32_t alen, const void *b,
		  uint32_t blen, char *err, size_t n)
{
	uint8_t h[ZAP_PROTO_HDR];
	zap_proto_hdr_put(h, type, alen + blen);
	if (c->streaming) {
		zap_poly1305_update(&c->stream, h, sizeof(h));
		zap_poly1305_update(&c->stream, a, alen);
		zap_poly1305_update(&c->stream, b, blen);
	}
	if (c->meta_on) {
		zap_hmac_update(&c->meta, h, sizeof(h));
		zap_hmac_update(&c->meta, a, alen);
		zap_hmac_update(&c->meta, b, blen);
	}
	struct iovec iov[3] = {{h, sizeof(h)}, {(void *)a, alen}, {(void *)b, blen}};
	return conn_writev(c, iov, 3, err, n);
}

int zap_conn_recv(struct zap_conn *c, uint16_t *type, void *buf, uint32_t cap, uint32_t *len,
		  double wait_s, char *err, size_t n)
{
	uint8_t h[ZAP_PROTO_HDR];
	char why[256];
	if (wait_s <= 0)
		wait_s = c->timeout_s;
	if (conn_read(c, h, sizeof(h), wait_s, err, n) < 0)
		return -1;
	if (zap_proto_hdr_get(h, type, len, why, sizeof(why)) < 0) {
		snprintf(err, n, "zapd at %s: %s", c->where, why);
		return -1;
	}
	if (*type == ZAP_MSG_ERROR && *len < 4096) {
		char text[4096];
		if (conn_read(c, text, *len, c->timeout_s, err, n) < 0)
			return -1;
		text[*len] = 0;
		snprintf(err, n, "zapd at %s: %s", c->where, text);
		return -1;
	}
	if (*len > cap) {
		snprintf(err, n, "zapd at %s: an answer of %u bytes (type %u), more than expected",
			 c->where, *len, *type);
		return -1;
	}
	return conn_read(c, buf, *len, c->timeout_s, err, n);
}

void zap_conn_close(struct zap_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	explicit_bzero(&c->key, sizeof(c->key));
}

static int conn_connect(struct zap_conn *c, const char *addr, char *err, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (zap_addr_parse(addr, &ss, &sl, err, n) < 0)
		return -1;
	zap_addr_str((struct sockaddr *)&ss, c->where, sizeof(c->where));
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(err, n, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		snprintf(err, n, "cannot reach zapd at %s: %s", c->where, strerror(errno));
		return -1;
	}
	if (conn_wait(c, POLLOUT, c->timeout_s, "connecting", err, n) < 0)
		return -1;
	int soerr = 0;
	socklen_t el = sizeof(soerr);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
	if (soerr) {
		snprintf(err, n, "cannot reach zapd at %s: %s", c->where, strerror(soerr));
		return -1;
	}
	return 0;
}

int zap_conn_open(struct zap_conn *c, const char *addr, const struct zap_key *k, double timeout_s,
		  char *err, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_s = timeout_s;
	c->key = *k;
	if (conn_connect(c, addr, err, n) < 0)
		goto fail;
	uint8_t hello[4 + ZAP_PROTO_NONCE], ch[4 + ZAP_PROTO_NONCE + ZAP_PROTO_MAC], mac[ZAP_PROTO_MAC];
	if (getrandom(c->nc, sizeof(c->nc), 0) != (ssize_t)sizeof(c->nc)) {
		snprintf(err, n, "getrandom: %s", strerror(errno));
		goto fail;
	}
	zap_put_u32(hello, ZAP_PROTO_VERSION);
	memcpy(hello + 4, c->nc, sizeof(c->nc));
	uint16_t type;
	uint32_t len;
	if (zap_conn_send(c, ZAP_MSG_HELLO, hello, sizeof(hello), NULL, 0, err, n) < 0 ||
	    zap_conn_recv(c, &type, ch, sizeof(ch), &len, 0, err, n) < 0)
		goto fail;
	if (type != ZAP_MSG_CHALLENGE || len != sizeof(ch)) {
		snprintf(err, n, "zapd at %s: not a zapd (unexpected answer to hello)", c->where);
		goto fail;
	}
	if (zap_get_u32(ch) != ZAP_PROTO_VERSION) {
		snprintf(err, n, "zapd at %s speaks protocol version %u, this zap %u", c->where,
			 zap_get_u32(ch), ZAP_PROTO_VERSION);
		goto fail;
	}
	memcpy(c->ns, ch + 4, sizeof(c->ns));
	/* our proof first, so that zapd can log a wrong key; then its own */
	zap_proto_mac(k, ZAP_PROTO_LABEL_CLIENT, c->ns, c->nc, mac);
	if (zap_conn_send(c, ZAP_MSG_AUTH, mac, sizeof(mac), NULL, 0, err, n) < 0)
		goto fail;
	zap_proto_mac(k, ZAP_PROTO_LABEL_SERVER, c->nc, c->ns, mac);
	if (!zap_digest_eq(mac, ch + 4 + ZAP_PROTO_NONCE, sizeof(mac))) {
		snprintf(err, n, "zapd at %s: authentication failed: it holds another key (wrong key)", c->where);
		goto fail;
	}
	char ok[512];
	if (zap_conn_recv(c, &type, ok, sizeof(ok) - 1, &len, 0, err, n) < 0)
		goto fail;
	if (type != ZAP_MSG_OK) {
		snprintf(err, n, "zapd at %s: unexpected answer to authentication", c->where);
		goto fail;
	}
	return 0;
fail:
	zap_conn_close(c);
	return -1;
}
