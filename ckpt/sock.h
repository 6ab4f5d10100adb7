/* Sockets (sock.c, sock-inet.c, sock-unix.c): what the families share. */
#ifndef ZAP_CKPT_SOCK_H
#define ZAP_CKPT_SOCK_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct zap_dump;
struct zap_restore;

#define Z_NETLINK_SOCK_DIAG 4
#define Z_SOCK_DIAG_BY_FAMILY 20
#define Z_NLM_F_REQUEST 1

struct z_nlmsghdr {
	uint32_t len;
	uint16_t type, flags;
	uint32_t seq, pid;
};

/* What differs between families; every function returns a socket fd or
 * 0 / -errno. */
struct zap_sock_family_ops {
	int family;
	/* a listener's backlog from sock_diag (nl), or 0 when unknown */
	uint32_t (*backlog)(int nl, int family, uint32_t ino);
	/* binds s to the address it had */
	long (*bind)(struct zap_restore *r, int s, const uint8_t *sa, uint32_t len);
	/* a connection to a peer zap does not bring back: a socket of the same
	 * kind on which the program gets an error, not a hang */
	long (*connected)(struct zap_restore *r, const struct zap_img_fd *f, const struct zap_img_sock_addr *a);
	/* the inode of connection fd's other end when it is on this host (0:
	 * elsewhere, or the family's peers are found otherwise); NULL: none */
	uint32_t (*peer)(int nl, int fd);
	/* with connection fd's peer stopped: makes what the peer has sent and
	 * fd has not received yet come in; the bytes still on the way */
	uint64_t (*settle)(int nl, int fd);
};
extern const struct zap_sock_family_ops zap_sock_unix_ops, zap_sock_inet_ops, zap_sock_inet6_ops;

/* The bytes waiting to be received by UNIX socket fd, copied (not taken)
 * into buf: a stream's as they are; a datagram or seqpacket socket's as
 * one record per message, a uint32_t length and the bytes, every message
 * of the queue (SO_PEEK_OFF walks past the first).  The length used. */
#define Z_MAX_PEEK (1u << 20)
size_t zap_sock_unix_peek(int fd, int type, char *buf, size_t cap);
/* Calls fn for each message kept by zap_sock_unix_peek in data (len
 * bytes); 0, or -74 (EBADMSG) when the records do not fill it. */
long zap_sock_each_message(const char *data, uint64_t len, long (*fn)(const char *m, uint32_t n, void *arg),
			   void *arg);

/* Sends one sock_diag request on nl and calls each answer with its
 * payload (after the netlink header), to the end of a dump, so that nl is
 * ready for the next request.  0, or -1 on a netlink error. */
int zap_sock_diag(int nl, const void *req, size_t len,
		  void (*each)(const void *msg, size_t len, void *arg), void *arg);

/* The options of record f (aux[4], aux[5]) on the new socket s. */
void zap_sock_set_options(int s, const struct zap_img_fd *f);
/* The addresses at the start of f's FILEDATA, checked: 0 or -errno. */
long zap_sock_read_addr(int img_fd, const struct zap_img_fd *f, struct zap_img_sock_addr *a);
/* A sockaddr for a person: 1.2.3.4:80, [::1]:80, /path, @abstract. */
size_t zap_sock_addr_str(const void *sa, uint32_t len, char *buf, size_t n);
/* A ZAP_FD_SOCKET record for a person ("ipv4 tcp listening backlog 128
 * 127.0.0.1:8080"), its addresses read from img_fd. */
size_t zap_sock_describe(int img_fd, const struct zap_img_fd *f, char *buf, size_t n);

#endif
