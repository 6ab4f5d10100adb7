/* getsockname and getpeername after a restart: the addresses the program
 * saw before.
 *
 * A restored socket can have new addresses: a TCP connection that came
 * back reset has a loopback address and no peer, a listener whose address
 * this host lacks is bound to the wildcard (ckpt/sock-inet.c).  Just
 * before each checkpoint, with every thread stopped, the preload notes the
 * addresses of every socket in a table of its own memory, so the table is
 * in the image.  After a restore it keeps the entries whose socket answers
 * differently now, keyed by the new socket's inode (a dup, or a later fd
 * number, finds it too; a closed and reused fd number does not), and the
 * wrappers answer from it.  Until a restore leaves something in the table
 * they cost one load and a system call, as without zap. */
#include "dump.h"
#include "preload.h"
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define SOCK_MAX 4096
#define ADDR_MAX 112

struct saved {
	int32_t fd;
	uint32_t local_len, peer_len;
	uint64_t ino;            /* after a restore: the socket's inode now; 0 unused */
	uint8_t local[ADDR_MAX], peer[ADDR_MAX];
	uint8_t local_changed, peer_changed;
};

static struct saved *table; /* mmap'd at each checkpoint (in the image) */
static uint32_t nsaved;
static int active;           /* entries answer the wrappers */

struct collect {
	struct saved *to;
	uint32_t n;
};

static int note_one(int dfd, const char *name, void *arg)
{
	(void)dfd;
	struct collect *c = arg;
	if (name[0] < '0' || name[0] > '9' || c->n >= SOCK_MAX)
		return 0;
	const char *p = name;
	int fd = (int)zap_parse_dec(&p);
	struct zap_kstat st;
	if (zap_fstat(fd, &st) < 0 || (st.mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct saved *s = &c->to[c->n++];
	for (uint32_t i = 0; active && i < nsaved; i++)
		if (table[i].ino == st.ino && table[i].fd == fd) {
			/* restored before: the program still sees the old answers */
			*s = table[i];
			return 0;
		}
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->local_len = s->peer_len = ADDR_MAX;
	if (zsys3(SYS_getsockname, fd, s->local, &s->local_len) < 0 || s->local_len > ADDR_MAX)
		s->local_len = 0;
	if (zsys3(SYS_getpeername, fd, s->peer, &s->peer_len) < 0 || s->peer_len > ADDR_MAX)
		s->peer_len = 0;
	return 0;
}

/* Called by the checkpoint leader with every other thread stopped. */
void zap_sock_before_dump(void)
{
	long m = z_mmap(0, SOCK_MAX * sizeof(struct saved), 3 /* PROT_READ|PROT_WRITE */,
			0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
	if (m < 0 && m > -4096)
		return;
	struct collect c = {(struct saved *)m, 0};
	zap_dir_each("/proc/self/fd", note_one, &c);
	if (table)
		z_munmap((uint64_t)table, SOCK_MAX * sizeof(struct saved));
	table = c.to;
	nsaved = c.n;
}

static int same(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

void zap_sock_after_restore(void)
{
	int any = 0;
	for (uint32_t i = 0; table && i < nsaved; i++) {
		struct saved *s = &table[i];
		struct zap_kstat st;
		uint8_t now[ADDR_MAX];
		uint32_t len = ADDR_MAX;
		s->ino = 0;
		if (zap_fstat(s->fd, &st) < 0 || (st.mode & S_IFMT) != S_IFSOCK)
			continue;
		if (zsys3(SYS_getsockname, s->fd, now, &len) < 0)
			len = 0;
		s->local_changed = !same(now, len, s->local, s->local_len);
		len = ADDR_MAX;
		if (zsys3(SYS_getpeername, s->fd, now, &len) < 0)
			len = 0;
		s->peer_changed = s->peer_len && !same(now, len, s->peer, s->peer_len);
		if (s->local_changed || s->peer_changed) {
			s->ino = st.ino;
			any = 1;
		}
	}
	__atomic_store_n(&active, any, __ATOMIC_RELEASE);
}

static const struct saved *find(int fd)
{
	struct zap_kstat st;
	if (zap_fstat(fd, &st) < 0)
		return NULL;
	for (uint32_t i = 0; i < nsaved; i++)
		if (table[i].ino == st.ino)
			return &table[i];
	return NULL;
}

static int answer(const uint8_t *sa, uint32_t n, struct sockaddr *addr, socklen_t *len)
{
	if (!addr || !len) {
		errno = EFAULT;
		return -1;
	}
	memcpy(addr, sa, n < *len ? n : *len);
	*len = n;
	return 0;
}

/* getsockname (peer 0) or getpeername (peer 1). */
static int name_of(int peer, int fd, struct sockaddr *addr, socklen_t *len)
{
	if (peer && zap_tunnel_peer(fd, addr, len) == 0) /* through zap-proxy (tunnel.c) */
		return 0;
	if (__atomic_load_n(&active, __ATOMIC_ACQUIRE)) {
		const struct saved *s = find(fd);
		if (s && (peer ? s->peer_changed : s->local_changed))
			return answer(peer ? s->peer : s->local, peer ? s->peer_len : s->local_len, addr, len);
	}
	long r = zsys3(peer ? SYS_getpeername : SYS_getsockname, fd, addr, len);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}

ZAP_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len) { return name_of(0, fd, addr, len); }

ZAP_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len) { return name_of(1, fd, addr, len); }
