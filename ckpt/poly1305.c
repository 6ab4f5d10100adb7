/* Poly1305: h = (h + block + 2^128) * r mod 2^130 - 5 for each 16-byte
 * block, tag = h + s mod 2^128.  Limbs of 44, 44 and 42 bits, so that three
 * products of a limb of h and one of r (or 20 r, below) add up in 128 bits.
 * About 2 GB/s here, three times HMAC-SHA256 with the SHA extensions, which
 * is why the bulk of a migration is authenticated with it. */
#include "poly1305.h"

#include <string.h>

#define M44 0xfffffffffffull
#define M42 0x3ffffffffffull

typedef unsigned __int128 u128;

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8); /* x86-64 and aarch64 here are little-endian */
	return v;
}

void zap_poly1305_init(struct zap_poly1305 *p, const uint8_t key[ZAP_POLY1305_KEY])
{
	/* r is "clamped": the top four bits of each 32-bit word and the low
	 * two of the upper three words cleared */
	uint64_t r0 = le64(key) & 0x0ffffffc0fffffffull;
	uint64_t r1 = le64(key + 8) & 0x0ffffffc0ffffffcull;
	p->r[0] = r0 & M44;
	p->r[1] = ((r0 >> 44) | (r1 << 20)) & M44;
	p->r[2] = (r1 >> 24) & M42;
	p->h[0] = p->h[1] = p->h[2] = 0;
	p->s[0] = le64(key + 16);
	p->s[1] = le64(key + 24);
	p->nbuf = 0;
}

/* d = h * r mod 2^130 - 5, partly reduced: 2^132 = 4 * 2^130 = 20 (mod
 * p), so a product landing past limb 2 comes back, times 20, two limbs down
 * (sr = 20 r, precomputed). */
#define POLY_MUL(d0, d1, d2, h0, h1, h2, r0, r1, r2, sr1, sr2)                    \
	do {                                                                      \
		d0 = (u128)(h0) * (r0) + (u128)(h1) * (sr2) + (u128)(h2) * (sr1); \
		d1 = (u128)(h0) * (r1) + (u128)(h1) * (r0) + (u128)(h2) * (sr2);  \
		d2 = (u128)(h0) * (r2) + (u128)(h1) * (r1) + (u128)(h2) * (r0);   \
	} while (0)

/* Carries d into 44/44/42-bit limbs (the top one's overflow times 5). */
static inline void poly_carry(u128 d0, u128 d1, u128 d2, uint64_t h[3])
{
	uint64_t c = (uint64_t)(d0 >> 44);
	h[0] = (uint64_t)d0 & M44;
	d1 += c;
	c = (uint64_t)(d1 >> 44);
	h[1] = (uint64_t)d1 & M44;
	d2 += c;
	c = (uint64_t)(d2 >> 42);
	h[2] = (uint64_t)d2 & M42;
	h[0] += c * 5; /* 2^130 = 5 */
	c = h[0] >> 44;
	h[0] &= M44;
	h[1] += c;
}

/* One 16-byte block as limbs, plus hibit in the top one: 2^128 (2^40
 * there), or 0 for the padded last block, which carries its own 1 byte. */
static inline void poly_load(const uint8_t *m, uint64_t hibit, uint64_t t[3])
{
	uint64_t a = le64(m), b = le64(m + 8);
	t[0] = a & M44;
	t[1] = ((a >> 44) | (b << 20)) & M44;
	t[2] = ((b >> 24) & M42) | hibit;
}

static void poly_blocks(struct zap_poly1305 *p, const uint8_t *m, size_t nblocks, uint64_t hibit)
{
	const uint64_t r0 = p->r[0], r1 = p->r[1], r2 = p->r[2];
	const uint64_t s1 = r1 * 20, s2 = r2 * 20;
	uint64_t h[3] = {p->h[0], p->h[1], p->h[2]}, t[3], u[3];
	u128 d0, d1, d2;
	if (nblocks >= 4) {
		/* two blocks a step: h = (h + m1) r^2 + m2 r, whose two
		 * products do not wait for each other */
		uint64_t q[3];
		POLY_MUL(d0, d1, d2, r0, r1, r2, r0, r1, r2, s1, s2);
		poly_carry(d0, d1, d2, q); /* r^2, below 2^130 + a little */
		const uint64_t q1s = q[1] * 20, q2s = q[2] * 20;
		for (; nblocks >= 2; nblocks -= 2, m += 32) {
			poly_load(m, hibit, t);
			poly_load(m + 16, hibit, u);
			uint64_t a0 = h[0] + t[0], a1 = h[1] + t[1], a2 = h[2] + t[2];
			u128 e0, e1, e2;
			POLY_MUL(d0, d1, d2, a0, a1, a2, q[0], q[1], q[2], q1s, q2s);
			POLY_MUL(e0, e1, e2, u[0], u[1], u[2], r0, r1, r2, s1, s2);
			poly_carry(d0 + e0, d1 + e1, d2 + e2, h);
		}
	}
	for (; nblocks; nblocks--, m += 16) {
		poly_load(m, hibit, t);
		POLY_MUL(d0, d1, d2, h[0] + t[0], h[1] + t[1], h[2] + t[2], r0, r1, r2, s1, s2);
		poly_carry(d0, d1, d2, h);
	}
	p->h[0] = h[0];
	p->h[1] = h[1];
	p->h[2] = h[2];
}

void zap_poly1305_update(struct zap_poly1305 *p, const void *msg, size_t n)
{
	const uint8_t *m = msg;
	if (p->nbuf) {
		size_t take = 16 - p->nbuf < n ? 16 - p->nbuf : n;
		memcpy(p->buf + p->nbuf, m, take);
		p->nbuf += take;
		m += take;
		n -= take;
		if (p->nbuf < 16)
			return;
		poly_blocks(p, p->buf, 1, 1ull << 40);
		p->nbuf = 0;
	}
	if (n >= 16) {
		poly_blocks(p, m, n / 16, 1ull << 40);
		m += n & ~(size_t)15;
		n &= 15;
	}
	if (n) {
		memcpy(p->buf, m, n);
		p->nbuf = n;
	}
}

void zap_poly1305_final(struct zap_poly1305 *p, uint8_t tag[ZAP_POLY1305_TAG])
{
	if (p->nbuf) {
		p->buf[p->nbuf] = 1;
		memset(p->buf + p->nbuf + 1, 0, 16 - p->nbuf - 1);
		poly_blocks(p, p->buf, 1, 0);
	}
	uint64_t h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], c;
	/* carry all the way round twice: h is then below 2^130 */
	for (int i = 0; i < 2; i++) {
		c = h1 >> 44;
		h1 &= M44;
		h2 += c;
		c = h2 >> 42;
		h2 &= M42;
		h0 += c * 5;
		c = h0 >> 44;
		h0 &= M44;
		h1 += c;
	}
	/* g = h + 5 - 2^130: if it does not go below zero, h >= p and g is h mod p */
	uint64_t g0 = h0 + 5;
	c = g0 >> 44;
	g0 &= M44;
	uint64_t g1 = h1 + c;
	c = g1 >> 44;
	g1 &= M44;
	uint64_t g2 = h2 + c - (1ull << 42);
	uint64_t keep_g = (g2 >> 63) - 1; /* all ones when g2 did not wrap */
	h0 = (h0 & ~keep_g) | (g0 & keep_g);
	h1 = (h1 & ~keep_g) | (g1 & keep_g);
	h2 = (h2 & ~keep_g) | (g2 & keep_g & M42);
	uint64_t lo = h0 | (h1 << 44);
	uint64_t hi = (h1 >> 20) | (h2 << 24);
	u128 t = (u128)lo + p->s[0];
	lo = (uint64_t)t;
	hi = hi + p->s[1] + (uint64_t)(t >> 64);
	memcpy(tag, &lo, 8);
	memcpy(tag + 8, &hi, 8);
	memset(p, 0, sizeof(*p)); /* the one-time key is spent */
}
