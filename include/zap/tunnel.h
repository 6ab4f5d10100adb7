/* The connection keeper's wire format (zap-proxy, the preload's tunnels,
 * `zap run --proxy` and the checkpoint coordinator).  One fixed-size
 * message, little-endian, the same in every direction; docs/zap-proxy.md.
 * Bump ZAP_TUN_VERSION when it changes. */
#ifndef ZAP_TUNNEL_H
#define ZAP_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#define ZAP_TUN_MAGIC 0x4e55545au /* "ZTUN" */
#define ZAP_TUN_VERSION 1
#define ZAP_TUN_MAX_PORTS 16
#define ZAP_TUN_TOKEN 16

/* Set by `zap run --proxy` for the pod: ADDR:PORT/TOKENHEX/PORT,PORT... */
#define ZAP_ENV_PROXY "ZAP_PROXY"
/* $ZAP_HOME/pods/NAME/proxy: "ADDR:PORT\nTOKENHEX\n", written by `zap run
 * --proxy` and by a restored member; read by `zap checkpoint`/`zap migrate` */
#define ZAP_POD_PROXY "proxy"

enum zap_tun_type {
	ZAP_TUN_OPEN = 1,  /* proxy -> pod, first bytes of an inbound tunnel: id, client address */
	ZAP_TUN_RESUME,    /* pod -> proxy, a restored tunnel: id, consumed, written */
	ZAP_TUN_REGISTER,  /* launcher or restored pod -> proxy: name, exposed ports */
	ZAP_TUN_FREEZE,    /* coordinator -> proxy: hold the pod's tunnels (before a checkpoint) */
	ZAP_TUN_THAW,      /* coordinator -> proxy: forward again (the pod ran on) */
	ZAP_TUN_CONNECT,   /* pod -> proxy: an outbound tunnel to addr (reserved, docs/limitations.md) */
	ZAP_TUN_REPLY,     /* proxy -> anyone: status, and for RESUME the proxy's counts */
};

struct zap_tun_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint8_t token[ZAP_TUN_TOKEN]; /* zap_tun_token() of the shared key */
	uint64_t id;                  /* tunnel id, chosen by the proxy */
	uint64_t consumed;            /* RESUME: stream bytes the program read; REPLY: proxy's sent */
	uint64_t written;             /* RESUME: stream bytes the proxy acked; REPLY: proxy's received */
	int32_t status;               /* REPLY: 0, or an errno value */
	uint16_t nports;
	uint16_t ports[ZAP_TUN_MAX_PORTS];
	uint16_t pad;
	uint32_t addrlen;             /* OPEN: the client's address; CONNECT: the destination */
	uint8_t addr[28];             /* a struct sockaddr_in or sockaddr_in6 */
	char name[64];                /* pod name */
};
_Static_assert(sizeof(struct zap_tun_msg) == 184, "zap_tun_msg is part of the wire format");

/* The shared-key check, kept in this one function so that it can become
 * the HMAC-SHA256 challenge of include/zap/proto.h (branch migrate) when
 * that is merged: for now a peer proves it read the key file by sending a
 * 128-bit digest of it (two FNV-1a-64 passes with different seeds).  It
 * keeps strangers and mistakes out; it is no defence against someone who
 * can read the traffic (docs/limitations.md). */
static inline void zap_tun_token(const void *key, size_t n, uint8_t out[ZAP_TUN_TOKEN])
{
	const uint8_t *k = key;
	uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
	for (int r = 0; r < 2; r++) {
		for (int round = 0; round < 4; round++)
			for (size_t i = 0; i < n; i++) {
				h[r] ^= k[i] ^ (uint8_t)(round * 31 + r);
				h[r] *= 0x100000001b3ull;
			}
		for (int b = 0; b < 8; b++)
			out[r * 8 + b] = (uint8_t)(h[r] >> (8 * b));
	}
}

/* Constant-time comparison of two tokens. */
static inline int zap_tun_token_eq(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	for (int i = 0; i < ZAP_TUN_TOKEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

#endif
