/* The connection keeper's wire format (zap-proxy, the preload's tunnels,
 * `zap run --proxy` and the checkpoint coordinator).  One fixed-size
 * message, little-endian, the same in every direction; docs/zap-proxy.md.
 * Bump ZAP_TUN_VERSION when it changes.
 *
 * Every exchange is authenticated with HMAC-SHA256 over fresh nonces, as
 * the migration protocol's handshake (include/zap/proto.h), with the
 * tunnel key zap_tun_key() of the key file; the key never crosses the wire.
 * The side that is asked sends a CHALLENGE (its nonce Ns) first; the asking
 * side answers with its message, its own nonce Nc in `nonce` and, in `mac`,
 * HMAC(key, label of the type | Ns | Nc | the message with `mac` zeroed);
 * the REPLY is MAC'd the same way over the same nonces:
 *
 *   control port   asker -> proxy: connect   proxy -> asker: CHALLENGE Ns
 *                  asker -> proxy: REGISTER|FREEZE|THAW|RESUME|CONNECT, Nc, mac
 *                  proxy -> asker: REPLY, mac   (RESUME, CONNECT: the tunnel follows)
 *   inbound        proxy -> pod: HELLO Nc   pod -> proxy: CHALLENGE Ns
 *                  proxy -> pod: OPEN, Nc, mac, then the client's bytes
 *
 * (the proxy speaks first toward the pod only to say that it is the proxy:
 * a connection that does not start with the magic is not challenged, and
 * reaches the program as it came). */
#ifndef ZAP_TUNNEL_H
#define ZAP_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sha256.h"

#define ZAP_TUN_MAGIC 0x4e55545au /* "ZTUN" */
#define ZAP_TUN_VERSION 2
#define ZAP_TUN_MAX_PORTS 16
#define ZAP_TUN_NONCE ZAP_NONCE_LEN
#define ZAP_TUN_MAC ZAP_SHA256_LEN
#define ZAP_TUN_KEY ZAP_SHA256_LEN /* the tunnel key, zap_tun_key() of the key file */

/* Set by `zap run --proxy` for the pod: ADDR:PORT/KEYHEX/PORT,PORT... */
#define ZAP_ENV_PROXY "ZAP_PROXY"
/* $ZAP_HOME/pods/NAME/proxy, mode 0600: "ADDR:PORT\nKEYHEX\n", written by
 * `zap run --proxy` and by a restored member; read by `zap checkpoint`/`zap migrate` */
#define ZAP_POD_PROXY "proxy"

enum zap_tun_type {
	ZAP_TUN_OPEN = 1,  /* proxy -> pod, an inbound tunnel: id, client address */
	ZAP_TUN_RESUME,    /* pod -> proxy, a restored tunnel: id, consumed, written */
	ZAP_TUN_REGISTER,  /* launcher or restored pod -> proxy: name, exposed ports */
	ZAP_TUN_FREEZE,    /* coordinator -> proxy: hold the pod's tunnels (before a checkpoint) */
	ZAP_TUN_THAW,      /* coordinator -> proxy: forward again (the pod ran on) */
	ZAP_TUN_CONNECT,   /* pod -> proxy: an outbound tunnel to addr */
	ZAP_TUN_REPLY,     /* proxy -> asker: status, and for RESUME the proxy's counts */
	ZAP_TUN_CHALLENGE, /* the asked side, first: its nonce; no mac */
	ZAP_TUN_HELLO,     /* proxy -> pod, first bytes of an inbound tunnel: its nonce; no mac */
	ZAP_TUN_NTYPES
};

struct zap_tun_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint8_t nonce[ZAP_TUN_NONCE]; /* the sender's nonce: Ns in CHALLENGE, Nc in the rest */
	uint8_t mac[ZAP_TUN_MAC];     /* zap_tun_mac(); zero in CHALLENGE and HELLO */
	uint64_t id;                  /* tunnel id, chosen by the proxy */
	uint64_t consumed;            /* RESUME: stream bytes the program read; REPLY: proxy's sent */
	uint64_t written;             /* RESUME: stream bytes the proxy acked; REPLY: proxy's received */
	int32_t status;               /* REPLY: 0, or an errno value; RESUME: 1 when bytes were lost */
	uint16_t nports;
	uint16_t ports[ZAP_TUN_MAX_PORTS];
	uint16_t pad;
	uint32_t addrlen;             /* OPEN: the client's address; CONNECT: the destination */
	uint8_t addr[28];             /* a struct sockaddr_in or sockaddr_in6 */
	char name[64];                /* pod name */
};
_Static_assert(sizeof(struct zap_tun_msg) == 232, "zap_tun_msg is part of the wire format");

/* The tunnel key: HMAC(the key file's bytes, "zap-tun-2 key").  The pod
 * holds only this (in ZAP_PROXY and $pod/proxy), never the file. */
static inline void zap_tun_key(const void *file, size_t n, uint8_t key[ZAP_TUN_KEY])
{
	static const char label[] = "zap-tun-2 key";
	zap_hmac_sha256(file, n, label, sizeof(label) - 1, key);
}

/* The label a message's MAC starts with: one per kind and direction, so
 * that no MAC is ever valid as another kind's ("" for the two without). */
static inline const char *zap_tun_label(unsigned type)
{
	static const char *const labels[ZAP_TUN_NTYPES] = {
		[ZAP_TUN_OPEN] = "zap-tun-2 open, proxy to pod",
		[ZAP_TUN_RESUME] = "zap-tun-2 resume, pod to proxy",
		[ZAP_TUN_REGISTER] = "zap-tun-2 register, to proxy",
		[ZAP_TUN_FREEZE] = "zap-tun-2 freeze, to proxy",
		[ZAP_TUN_THAW] = "zap-tun-2 thaw, to proxy",
		[ZAP_TUN_CONNECT] = "zap-tun-2 connect, pod to proxy",
		[ZAP_TUN_REPLY] = "zap-tun-2 reply, from proxy",
	};
	return type < ZAP_TUN_NTYPES && labels[type] ? labels[type] : "";
}

/* HMAC(key, label(m->type) | ns | nc | m with its mac zeroed). */
static inline void zap_tun_mac(const uint8_t key[ZAP_TUN_KEY], const uint8_t *ns, const uint8_t *nc,
			       const struct zap_tun_msg *m, uint8_t out[ZAP_TUN_MAC])
{
	struct zap_tun_msg c = *m;
	memset(c.mac, 0, sizeof(c.mac));
	zap_hmac_proof(key, ZAP_TUN_KEY, zap_tun_label(c.type), ns, nc, &c, sizeof(c), out);
}

/* A message of this version with the given type, the rest zero. */
static inline void zap_tun_init(struct zap_tun_msg *m, int type)
{
	memset(m, 0, sizeof(*m));
	m->magic = ZAP_TUN_MAGIC;
	m->version = ZAP_TUN_VERSION;
	m->type = (uint16_t)type;
}

/* Sets m's mac for the exchange of nonces ns (asked side) and nc (asker). */
static inline void zap_tun_seal(const uint8_t key[ZAP_TUN_KEY], const uint8_t *ns, const uint8_t *nc,
				struct zap_tun_msg *m)
{
	zap_tun_mac(key, ns, nc, m, m->mac);
}

/* 1 when m is a message of this version whose mac is right for ns and nc
 * (compared in constant time), 0 otherwise.  A CHALLENGE or HELLO never is. */
static inline int zap_tun_check(const uint8_t key[ZAP_TUN_KEY], const uint8_t *ns, const uint8_t *nc,
				const struct zap_tun_msg *m)
{
	uint8_t want[ZAP_TUN_MAC];
	if (m->magic != ZAP_TUN_MAGIC || m->version != ZAP_TUN_VERSION || !zap_tun_label(m->type)[0])
		return 0;
	zap_tun_mac(key, ns, nc, m, want);
	return zap_digest_eq(want, m->mac, sizeof(want));
}

/* 1 when ch is a CHALLENGE (or, for the proxy's side of OPEN, HELLO) of
 * this version. */
static inline int zap_tun_is(const struct zap_tun_msg *ch, int type)
{
	return ch->magic == ZAP_TUN_MAGIC && ch->version == ZAP_TUN_VERSION && ch->type == type;
}

/* The asking side's answer to challenge ch: m (type and fields set) gets
 * its nonce nc (fresh from getrandom) and its mac.  -1 when ch is not a
 * CHALLENGE of this version (m is left unsealed). */
static inline int zap_tun_answer(const uint8_t key[ZAP_TUN_KEY], const struct zap_tun_msg *ch,
				 const uint8_t *nc, struct zap_tun_msg *m)
{
	if (!zap_tun_is(ch, ZAP_TUN_CHALLENGE))
		return -1;
	memcpy(m->nonce, nc, ZAP_TUN_NONCE);
	zap_tun_seal(key, ch->nonce, nc, m);
	return 0;
}

/* 1 when r is the proxy's REPLY to m, answered to challenge ch. */
static inline int zap_tun_reply_ok(const uint8_t key[ZAP_TUN_KEY], const struct zap_tun_msg *ch,
				   const struct zap_tun_msg *m, const struct zap_tun_msg *r)
{
	return r->type == ZAP_TUN_REPLY && zap_tun_check(key, ch->nonce, m->nonce, r);
}

#endif
