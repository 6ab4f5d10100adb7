/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), written from the specs:
 * the digest that authenticates peers and image streams (docs/protocol.md). */
#ifndef ZAP_CKPT_SHA256_H
#define ZAP_CKPT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ZAP_SHA256_LEN 32
#define ZAP_SHA256_BLOCK 64

struct zap_sha256 {
	uint32_t h[8];
	uint64_t len;        /* bytes hashed so far */
	uint8_t buf[ZAP_SHA256_BLOCK];
	size_t nbuf;
};

void zap_sha256_init(struct zap_sha256 *s);
void zap_sha256_update(struct zap_sha256 *s, const void *p, size_t n);
void zap_sha256_final(struct zap_sha256 *s, uint8_t out[ZAP_SHA256_LEN]);
void zap_sha256(const void *p, size_t n, uint8_t out[ZAP_SHA256_LEN]);

struct zap_hmac {
	struct zap_sha256 inner, outer;
};

void zap_hmac_init(struct zap_hmac *m, const void *key, size_t keylen);
void zap_hmac_update(struct zap_hmac *m, const void *p, size_t n);
void zap_hmac_final(struct zap_hmac *m, uint8_t out[ZAP_SHA256_LEN]);
void zap_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
		     uint8_t out[ZAP_SHA256_LEN]);

/* The proof both zap handshakes exchange (zap <-> zapd, docs/protocol.md;
 * zap-proxy and its peers, docs/zap-proxy.md): HMAC(key, label | na | nb |
 * msg), na and nb nonces of ZAP_NONCE_LEN bytes, msg n bytes (n may be 0). */
#define ZAP_NONCE_LEN 32
void zap_hmac_proof(const void *key, size_t keylen, const char *label, const uint8_t *na,
		    const uint8_t *nb, const void *msg, size_t n, uint8_t out[ZAP_SHA256_LEN]);

/* Set (by the unit tests) to skip the CPU's SHA extensions. */
extern int zap_sha256_portable;

/* Compares two digests in time that does not depend on where they differ. */
int zap_digest_eq(const uint8_t *a, const uint8_t *b, size_t n);

#endif
