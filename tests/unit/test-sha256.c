/* ckpt/sha256.c: SHA-256 against the FIPS 180-2 examples (appendix B) and
 * HMAC-SHA256 against RFC 4231's test cases 1-7. */
#include "sha256.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

static void sha_hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static const struct {
	const char *msg;
	const char *digest;
} sha_cases[] = {
	{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
};

START_TEST(sha_fips)
{
	uint8_t d[32];
	char hex[65];
	zap_sha256(sha_cases[_i].msg, strlen(sha_cases[_i].msg), d);
	sha_hex(d, 32, hex);
	ck_assert_str_eq(hex, sha_cases[_i].digest);
}
END_TEST

/* B.3: a million 'a', fed in pieces of every size from 1 to 200 bytes, so
 * every split of a block is crossed. */
START_TEST(sha_million)
{
	static char a[1000000];
	memset(a, 'a', sizeof(a));
	struct zap_sha256 s;
	zap_sha256_init(&s);
	size_t at = 0, step = 1;
	while (at < sizeof(a)) {
		size_t n = sizeof(a) - at < step ? sizeof(a) - at : step;
		zap_sha256_update(&s, a + at, n);
		at += n;
		step = step % 200 + 1;
	}
	uint8_t d[32];
	char hex[65];
	zap_sha256_final(&s, d);
	sha_hex(d, 32, hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* Lengths around the padding boundary (55, 56, 63, 64, 65): one update
 * and byte-by-byte updates agree. */
START_TEST(sha_split)
{
	static const size_t lens[] = {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000};
	unsigned char buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint8_t one[32], many[32];
		zap_sha256(buf, lens[k], one);
		struct zap_sha256 s;
		zap_sha256_init(&s);
		for (size_t i = 0; i < lens[k]; i++)
			zap_sha256_update(&s, buf + i, 1);
		zap_sha256_final(&s, many);
		ck_assert_msg(!memcmp(one, many, 32), "length %zu: split updates differ", lens[k]);
	}
}
END_TEST

/* The SHA extensions and the portable rounds agree, over many lengths;
 * then the vectors again with the portable code. */
START_TEST(sha_paths_agree)
{
	static unsigned char buf[5000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 7));
	for (size_t n = 0; n < sizeof(buf); n += 37) {
		uint8_t a[32], b[32];
		zap_sha256(buf, n, a);
		zap_sha256_portable = 1;
		zap_sha256(buf, n, b);
		zap_sha256_portable = 0;
		ck_assert_msg(!memcmp(a, b, 32), "length %zu: the two ways differ", n);
	}
	uint8_t d[32];
	char hex[65];
	zap_sha256_portable = 1;
	zap_sha256("abc", 3, d);
	zap_sha256_portable = 0;
	sha_hex(d, 32, hex);
	ck_assert_str_eq(hex, sha_cases[0].digest);
}
END_TEST

struct hmac_case {
	unsigned char key[131];
	size_t keylen;
	unsigned char data[160];
	size_t datalen;
	const char *mac; /* hex; case 5 is truncated to 128 bits */
};

static struct hmac_case hmac_cases[7];

static void hmac_fill(void)
{
	struct hmac_case *c = hmac_cases;
	memset(c[0].key, 0x0b, 20), c[0].keylen = 20;
	memcpy(c[0].data, "Hi There", 8), c[0].datalen = 8;
	c[0].mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
	memcpy(c[1].key, "Jefe", 4), c[1].keylen = 4;
	memcpy(c[1].data, "what do ya want for nothing?", 28), c[1].datalen = 28;
	c[1].mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	memset(c[2].key, 0xaa, 20), c[2].keylen = 20;
	memset(c[2].data, 0xdd, 50), c[2].datalen = 50;
	c[2].mac = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
	for (int i = 0; i < 25; i++)
		c[3].key[i] = (unsigned char)(i + 1);
	c[3].keylen = 25;
	memset(c[3].data, 0xcd, 50), c[3].datalen = 50;
	c[3].mac = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
	memset(c[4].key, 0x0c, 20), c[4].keylen = 20;
	memcpy(c[4].data, "Test With Truncation", 20), c[4].datalen = 20;
	c[4].mac = "a3b6167473100ee06e0c796c2955552b";
	memset(c[5].key, 0xaa, 131), c[5].keylen = 131;
	const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	memcpy(c[5].data, d6, strlen(d6)), c[5].datalen = strlen(d6);
	c[5].mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
	memset(c[6].key, 0xaa, 131), c[6].keylen = 131;
	const char *d7 = "This is a test using a larger than block-size key and a larger than block-size "
			 "data. The key needs to be hashed before being used by the HMAC algorithm.";
	memcpy(c[6].data, d7, strlen(d7)), c[6].datalen = strlen(d7);
	c[6].mac = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";
}

START_TEST(sha_hmac_rfc4231)
{
	hmac_fill();
	const struct hmac_case *c = &hmac_cases[_i];
	uint8_t d[32];
	char hex[65];
	zap_hmac_sha256(c->key, c->keylen, c->data, c->datalen, d);
	sha_hex(d, 32, hex);
	hex[strlen(c->mac)] = 0;
	ck_assert_msg(!strcmp(hex, c->mac), "RFC 4231 case %d: %s, want %s", _i + 1, hex, c->mac);
	/* streamed in two pieces, the same */
	struct zap_hmac m;
	zap_hmac_init(&m, c->key, c->keylen);
	zap_hmac_update(&m, c->data, c->datalen / 3);
	zap_hmac_update(&m, c->data + c->datalen / 3, c->datalen - c->datalen / 3);
	uint8_t d2[32];
	zap_hmac_final(&m, d2);
	ck_assert(zap_digest_eq(d, d2, 32));
}
END_TEST

START_TEST(sha_digest_eq)
{
	uint8_t a[32] = {0}, b[32] = {0};
	ck_assert(zap_digest_eq(a, b, 32));
	b[31] = 1;
	ck_assert(!zap_digest_eq(a, b, 32));
	b[31] = 0, b[0] = 0x80;
	ck_assert(!zap_digest_eq(a, b, 32));
}
END_TEST

/* The handshakes' proof is the HMAC of label | na | nb | msg, whatever
 * pieces it is given in. */
START_TEST(sha_hmac_proof)
{
	const char key[] = "a key of some thirty-two bytes..", label[] = "a label";
	uint8_t na[ZAP_NONCE_LEN], nb[ZAP_NONCE_LEN], all[256], want[32], got[32];
	for (int i = 0; i < ZAP_NONCE_LEN; i++)
		na[i] = (uint8_t)i, nb[i] = (uint8_t)(0xff - i);
	const char msg[] = "the message";
	size_t n = 0;
	memcpy(all + n, label, strlen(label)), n += strlen(label);
	memcpy(all + n, na, sizeof(na)), n += sizeof(na);
	memcpy(all + n, nb, sizeof(nb)), n += sizeof(nb);
	zap_hmac_sha256(key, strlen(key), all, n, want);
	zap_hmac_proof(key, strlen(key), label, na, nb, NULL, 0, got);
	ck_assert(zap_digest_eq(want, got, 32));
	memcpy(all + n, msg, strlen(msg)), n += strlen(msg);
	zap_hmac_sha256(key, strlen(key), all, n, want);
	zap_hmac_proof(key, strlen(key), label, na, nb, msg, strlen(msg), got);
	ck_assert(zap_digest_eq(want, got, 32));
	/* the nonces' order matters */
	zap_hmac_proof(key, strlen(key), label, nb, na, msg, strlen(msg), got);
	ck_assert(!zap_digest_eq(want, got, 32));
}
END_TEST

static Suite *sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = zt_tcase(s, "sha256", 0);
	tcase_add_loop_test(tc, sha_fips, 0, sizeof(sha_cases) / sizeof(sha_cases[0]));
	tcase_add_test(tc, sha_million);
	tcase_add_test(tc, sha_split);
	tcase_add_test(tc, sha_paths_agree);
	tc = zt_tcase(s, "hmac", 0);
	tcase_add_loop_test(tc, sha_hmac_rfc4231, 0, 7);
	tcase_add_test(tc, sha_digest_eq);
	tcase_add_test(tc, sha_hmac_proof);
	return s;
}
ZT_SUITE(sha256_suite);
