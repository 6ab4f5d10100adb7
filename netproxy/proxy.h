/* zap-proxy internals: pods and their public ports (proxy.c), tunnels and
 * their byte accounting (tun.c). */
#ifndef ZAP_PROXY_H
#define ZAP_PROXY_H

#include "loop.h"
#include "zap/tunnel.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct proxy_opts {
	double hold_s;        /* a tunnel whose pod went away is kept this long */
	size_t ring;          /* bytes of replay kept per tunnel */
	size_t buf;           /* forwarding buffer per direction */
	int verbose;
};
extern struct proxy_opts px_opts;
extern struct zl *px_loop;
extern uint8_t px_key[ZAP_TUN_KEY]; /* zap_tun_key() of --key */

struct pod {
	char name[64];
	struct sockaddr_storage host; /* where the pod's host is reached (port 0) */
	socklen_t hostlen;
	int frozen;
	double thaw_by;               /* a freeze nobody ends ends by itself */
	struct pod *next;
};

struct buf {
	char *p;
	size_t off, len, cap; /* bytes at p+off .. p+off+len */
};

struct tun;
struct tun_end {
	struct tun *t;
	int side; /* 0: client (or outbound destination), 1: pod */
};

struct tun {
	uint64_t id;
	struct pod *pod;
	int cfd, pfd;          /* client side, pod side (-1: gone) */
	struct tun_end ce, pe;
	struct buf pre;        /* header or reply for the pod side, not counted */
	struct buf c2p, p2c;   /* waiting to be written to the pod / to the client */
	int pp[2];             /* pod -> client through a pipe (splice), before p2c */
	size_t pplen, ppcap;   /* bytes in it, its size */
	int up[2];             /* client -> pod through a pipe (after c2p) */
	size_t uplen, upcap;   /* bytes in up[], and its size */
	size_t upteed;         /* the first upteed bytes of up[] are in the ring */
	uint64_t sent;         /* stream bytes written to the pod side */
	uint64_t received;     /* stream bytes read from the pod side */
	/* The ring: stream bytes [ring_start(), ring_end) (tun.c).  The newest
	 * rlen of them are in the pipe rp[], teed from up[] (references to the
	 * pages, no copy); older ones were copied to ring, at offset % --ring */
	uint64_t ring_end;     /* sent + upteed, or more after a RESUME */
	uint64_t rstart;       /* nothing before it is kept */
	int rp[2];
	size_t rlen;           /* bytes in rp[] */
	uint8_t *ring;
	int connecting;        /* pod side: a connect in progress */
	int awaiting;          /* inbound: HELLO sent, the pod's CHALLENGE not in yet */
	size_t chgot;          /* bytes of it read so far, into ch */
	struct zap_tun_msg ch;
	uint8_t ns[ZAP_TUN_NONCE], nc[ZAP_TUN_NONCE]; /* the exchange that made the pod side */
	int dialing;           /* outbound: the connect to the destination in progress */
	int frozen;
	int c_eof, p_eof;      /* that side sent FIN */
	int c_shut, p_shut;    /* we shut down writing to that side */
	double deadline;       /* connecting, or held without a pod side: give up then */
	struct sockaddr_storage caddr;
	socklen_t calen;
	struct tun *next, *prev;
};

/* tun.c */
struct tun *tun_open(struct pod *pod, int cfd, const struct sockaddr *pod_addr, socklen_t len);
/* An outbound tunnel: fd (the pod's CONNECT) to the destination m->addr.
 * 0 and fd is the tunnel's, or an errno value. */
int tun_dial(struct pod *pod, int fd, const struct zap_tun_msg *m, const uint8_t *ns);
struct tun *tun_find(uint64_t id);
void tun_freeze_pod(struct pod *pod, int frozen);
/* A RESUME on fd: 0 and fd belongs to the tunnel, or an errno value.
 * *pod: the pod it comes back as (NULL: as before); then the tunnel's.
 * ns: the challenge m answered (CONNECT too), for the REPLY's MAC. */
int tun_resume(int fd, const struct zap_tun_msg *m, const uint8_t *ns, struct pod **pod);
void tun_tick(double now);
size_t tun_count(struct pod *pod);

/* proxy.c */
void px_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int px_nonblock(int fd);
int px_random(uint8_t *p, size_t n); /* getrandom: 0, or -1 (logged) */

#endif
