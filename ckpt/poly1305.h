/* Poly1305 (RFC 8439 section 2.5), written from the RFC's arithmetic: the
 * one-time authenticator over an image stream (docs/protocol.md).  Its key
 * must never authenticate two messages: the stream's key is derived with
 * HMAC-SHA256 from the shared key and both sides' fresh nonces. */
#ifndef ZAP_CKPT_POLY1305_H
#define ZAP_CKPT_POLY1305_H

#include <stddef.h>
#include <stdint.h>

#define ZAP_POLY1305_KEY 32
#define ZAP_POLY1305_TAG 16

struct zap_poly1305 {
	uint64_t r[3], h[3]; /* r and the accumulator in 44/44/42-bit limbs */
	uint64_t s[2];       /* the key's second half, added at the end */
	uint8_t buf[16];     /* a block not yet complete */
	size_t nbuf;
};

void zap_poly1305_init(struct zap_poly1305 *p, const uint8_t key[ZAP_POLY1305_KEY]);
void zap_poly1305_update(struct zap_poly1305 *p, const void *m, size_t n);
void zap_poly1305_final(struct zap_poly1305 *p, uint8_t tag[ZAP_POLY1305_TAG]);

#endif
