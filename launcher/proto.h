/* Both ends of the wire protocol (include/zap/proto.h, docs/protocol.md):
 * keys, addresses, frames, the MACs; and the client side, blocking with a
 * timeout on every operation.  Errors go into a caller's buffer, as
 * "what: why", and the functions return -1. */
#ifndef ZAP_LAUNCHER_PROTO_H
#define ZAP_LAUNCHER_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "poly1305.h"
#include "sha256.h"
#include "zap/proto.h"

#define ZAP_KEY_MAX 1024

struct zap_key {
	uint8_t b[ZAP_KEY_MAX];
	size_t n;
};

/* Reads a key file (hex text); refuses one that others can read. */
int zap_key_load(const char *path, struct zap_key *k, char *err, size_t n);
/* A new key file from getrandom(), mode 0600; refuses to replace one. */
int zap_key_write(const char *path, int force, char *err, size_t n);

/* "A.B.C.D:PORT", "[V6]:PORT", or either without the port (ZAP_PROTO_PORT). */
int zap_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t n);
/* The peer's address as text. */
void zap_addr_str(const struct sockaddr *sa, char *buf, size_t n);

/* Frame headers. */
void zap_proto_hdr_put(uint8_t h[ZAP_PROTO_HDR], uint16_t type, uint32_t len);
/* 0, or -1 with the cause (bad magic, too long). */
int zap_proto_hdr_get(const uint8_t h[ZAP_PROTO_HDR], uint16_t *type, uint32_t *len, char *err,
		      size_t n);
/* HMAC(key, label | a | b), the handshake's proofs. */
void zap_proto_mac(const struct zap_key *k, const char *label, const uint8_t *a, const uint8_t *b,
		   uint8_t out[ZAP_PROTO_MAC]);
/* The stream's authenticator, started: Poly1305 under the one-time key
 * HMAC(key, LABEL_STREAM | nonce_c | nonce_s), fresh for every connection. */
void zap_proto_stream_init(struct zap_poly1305 *m, const struct zap_key *k, const uint8_t *nc,
			   const uint8_t *ns);
/* The MAC of everything up to META: HMAC(key, LABEL_META | nonce_c | nonce_s ...). */
void zap_proto_meta_init(struct zap_hmac *m, const struct zap_key *k, const uint8_t *nc,
			 const uint8_t *ns);
/* Where the process file at fd (size bytes) keeps its page data (its PAGES
 * section), when that is worth sending after META (ZAP_PROTO_SPLIT_MIN or
 * more): *off and *len, else both 0.  zapd starts the restart once the
 * rest is in, and the restorers fill memory while the pages arrive. */
#define ZAP_PROTO_SPLIT_MIN (1u << 20)
void zap_proto_pages_span(int fd, uint64_t size, uint64_t *off, uint64_t *len);
void zap_put_u32(uint8_t *p, uint32_t v);
void zap_put_u64(uint8_t *p, uint64_t v);
uint32_t zap_get_u32(const uint8_t *p);
uint64_t zap_get_u64(const uint8_t *p);

/* ---- the client ---- */
struct zap_conn {
	int fd;
	char where[128];        /* "ADDR:PORT", for messages */
	double timeout_s;       /* bound on every single read or write */
	struct zap_key key;
	uint8_t nc[ZAP_PROTO_NONCE], ns[ZAP_PROTO_NONCE];
	struct zap_poly1305 stream; /* running over what is sent, once streaming */
	int streaming;
	struct zap_hmac meta;       /* and over what is sent until META */
	int meta_on;
	uint64_t sent, received;
};

/* Connects (bounded by timeout_s) and authenticates both ways. */
int zap_conn_open(struct zap_conn *c, const char *addr, const struct zap_key *k, double timeout_s,
		  char *err, size_t n);
/* Sends one frame (the payload in two pieces: either may be empty). */
int zap_conn_send(struct zap_conn *c, uint16_t type, const void *a, uint32_t alen, const void *b,
		  uint32_t blen, char *err, size_t n);
/* Receives one frame into buf (cap bytes; a longer payload is an error);
 * an ERROR frame from the peer becomes -1 with its text.  Waits up to
 * wait_s (the per-operation timeout when 0). */
int zap_conn_recv(struct zap_conn *c, uint16_t *type, void *buf, uint32_t cap, uint32_t *len,
		  double wait_s, char *err, size_t n);
void zap_conn_close(struct zap_conn *c);

#endif
