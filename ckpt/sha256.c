/* SHA-256 from FIPS 180-4 section 6.2, HMAC from RFC 2104.  On x86-64
 * CPUs with the SHA extensions the compression runs on them (Intel's "SHA
 * extensions" reference, section 5: the same rounds four at a time, the
 * state kept as ABEF/CDGH), several times faster; the portable code is the
 * rest, and the unit tests run whichever this CPU takes. */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ROR(x, 2) ^ ROR(x, 13) ^ ROR(x, 22))
#define BSIG1(x) (ROR(x, 6) ^ ROR(x, 11) ^ ROR(x, 25))
#define SSIG0(x) (ROR(x, 7) ^ ROR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROR(x, 17) ^ ROR(x, 19) ^ ((x) >> 10))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int t = 0; t < 16; t++)
		w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
		       (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
	for (int t = 16; t < 64; t++)
		w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t t1 = k + BSIG1(e) + CH(e, f, g) + sha256_k[t] + w[t];
		uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

#if defined(__x86_64__)
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_blocks_ni(uint32_t h[8],
									   const uint8_t *p,
									   size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xb1); /* CDAB */
	__m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1b); /* EFGH */
	__m128i st0 = _mm_alignr_epi8(tmp, st1, 8);                                    /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xf0);                                         /* CDGH */
	for (; nblocks; nblocks--, p += ZAP_SHA256_BLOCK) {
		__m128i save0 = st0, save1 = st1, w[4];
		for (int i = 0; i < 16; i++) {
			__m128i *wi = &w[i & 3];
			if (i < 4) {
				*wi = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
			} else {
				/* W[t-16] + s0(W[t-15]), + W[t-7], + s1(W[t-2]) */
				__m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
				x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
				*wi = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
			}
			__m128i msg = _mm_add_epi32(*wi, _mm_loadu_si128((const __m128i *)&sha256_k[4 * i]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
			st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(msg, 0x0e));
		}
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
	}
	tmp = _mm_shuffle_epi32(st0, 0x1b);                                 /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xb1);                                 /* DCHG */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(tmp, st1, 0xf0)); /* DCBA */
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(st1, tmp, 8));    /* HGFE */
}

static int sha256_have_ni(void)
{
	static int have = -1;
	if (have < 0) {
		unsigned a, b, c, d;
		int sse = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) && (c & bit_SSSE3);
		have = sse && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
	}
	return have;
}
#endif

int zap_sha256_portable;

static void sha256_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
#if defined(__x86_64__)
	if (!zap_sha256_portable && sha256_have_ni()) {
		sha256_blocks_ni(h, p, nblocks);
		return;
	}
#endif
	for (; nblocks; nblocks--, p += ZAP_SHA256_BLOCK)
		sha256_block(h, p);
}

void zap_sha256_init(struct zap_sha256 *s)
{
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
	s->nbuf = 0;
}

void zap_sha256_update(struct zap_sha256 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (!n)
		return; /* data may be NULL then */
	s->len += n;
	if (s->nbuf) {
		size_t take = ZAP_SHA256_BLOCK - s->nbuf < n ? ZAP_SHA256_BLOCK - s->nbuf : n;
		memcpy(s->buf + s->nbuf, p, take);
		s->nbuf += take, p += take, n -= take;
		if (s->nbuf < ZAP_SHA256_BLOCK)
			return;
		sha256_blocks(s->h, s->buf, 1);
		s->nbuf = 0;
	}
	size_t whole = n / ZAP_SHA256_BLOCK;
	sha256_blocks(s->h, p, whole);
	p += whole * ZAP_SHA256_BLOCK;
	n -= whole * ZAP_SHA256_BLOCK;
	memcpy(s->buf, p, n);
	s->nbuf = n;
}

void zap_sha256_final(struct zap_sha256 *s, uint8_t out[ZAP_SHA256_LEN])
{
	uint64_t bits = s->len * 8;
	/* a one bit, zeros up to 56 mod 64, the length in bits big-endian */
	s->buf[s->nbuf++] = 0x80;
	if (s->nbuf > 56) {
		memset(s->buf + s->nbuf, 0, ZAP_SHA256_BLOCK - s->nbuf);
		sha256_blocks(s->h, s->buf, 1);
		s->nbuf = 0;
	}
	memset(s->buf + s->nbuf, 0, 56 - s->nbuf);
	for (int i = 0; i < 8; i++)
		s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_blocks(s->h, s->buf, 1);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void zap_sha256(const void *p, size_t n, uint8_t out[ZAP_SHA256_LEN])
{
	struct zap_sha256 s;
	zap_sha256_init(&s);
	zap_sha256_update(&s, p, n);
	zap_sha256_final(&s, out);
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)), a key longer than a
 * block hashed first. */
void zap_hmac_init(struct zap_hmac *m, const void *key, size_t keylen)
{
	uint8_t k[ZAP_SHA256_BLOCK] = {0}, pad[ZAP_SHA256_BLOCK];
	if (keylen > ZAP_SHA256_BLOCK)
		zap_sha256(key, keylen, k);
	else if (keylen)
		memcpy(k, key, keylen);
	for (int i = 0; i < ZAP_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	zap_sha256_init(&m->inner);
	zap_sha256_update(&m->inner, pad, sizeof(pad));
	for (int i = 0; i < ZAP_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	zap_sha256_init(&m->outer);
	zap_sha256_update(&m->outer, pad, sizeof(pad));
}

void zap_hmac_update(struct zap_hmac *m, const void *p, size_t n)
{
	zap_sha256_update(&m->inner, p, n);
}

void zap_hmac_final(struct zap_hmac *m, uint8_t out[ZAP_SHA256_LEN])
{
	uint8_t ih[ZAP_SHA256_LEN];
	zap_sha256_final(&m->inner, ih);
	zap_sha256_update(&m->outer, ih, sizeof(ih));
	zap_sha256_final(&m->outer, out);
}

void zap_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
		     uint8_t out[ZAP_SHA256_LEN])
{
	struct zap_hmac m;
	zap_hmac_init(&m, key, keylen);
	zap_hmac_update(&m, p, n);
	zap_hmac_final(&m, out);
}

void zap_hmac_proof(const void *key, size_t keylen, const char *label, const uint8_t *na,
		    const uint8_t *nb, const void *msg, size_t n, uint8_t out[ZAP_SHA256_LEN])
{
	struct zap_hmac m;
	zap_hmac_init(&m, key, keylen);
	zap_hmac_update(&m, label, strlen(label));
	zap_hmac_update(&m, na, ZAP_NONCE_LEN);
	zap_hmac_update(&m, nb, ZAP_NONCE_LEN);
	zap_hmac_update(&m, msg, n);
	zap_hmac_final(&m, out);
}

int zap_digest_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}
