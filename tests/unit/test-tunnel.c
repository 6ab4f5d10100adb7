/* The tunnel protocol's authentication (include/zap/tunnel.h): the tunnel
 * key, the labels, sealing and checking a message, and a whole exchange
 * in memory, replays and forgeries included. */
#include "unit.h"
#include "zap/tunnel.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char tun_file[] = "0123456789abcdef0123456789abcdef\n";

static void tun_nonce(uint8_t *n, int seed)
{
	for (int i = 0; i < ZAP_TUN_NONCE; i++)
		n[i] = (uint8_t)(seed * 37 + i * 11);
}

/* A REGISTER as `zap run --proxy` makes one. */
static void tun_register(struct zap_tun_msg *m)
{
	zap_tun_init(m, ZAP_TUN_REGISTER);
	snprintf(m->name, sizeof(m->name), "web");
	m->nports = 2;
	m->ports[0] = 8080, m->ports[1] = 8443;
}

START_TEST(tun_wire_format)
{
	ck_assert_uint_eq(sizeof(struct zap_tun_msg), 232);
	ck_assert_uint_eq(offsetof(struct zap_tun_msg, nonce), 8);
	ck_assert_uint_eq(offsetof(struct zap_tun_msg, mac), 40);
	ck_assert_uint_eq(offsetof(struct zap_tun_msg, id), 72);
	ck_assert_uint_eq(offsetof(struct zap_tun_msg, status), 96);
	ck_assert_uint_eq(offsetof(struct zap_tun_msg, addr), 140);
	ck_assert_uint_eq(offsetof(struct zap_tun_msg, name), 168);
	ck_assert_uint_eq(ZAP_TUN_VERSION, 2);
}
END_TEST

START_TEST(tun_key_derived)
{
	uint8_t a[ZAP_TUN_KEY], b[ZAP_TUN_KEY], c[ZAP_TUN_KEY], want[ZAP_TUN_KEY];
	char other[sizeof(tun_file)];
	memcpy(other, tun_file, sizeof(other));
	other[31] ^= 1;
	zap_tun_key(tun_file, strlen(tun_file), a);
	zap_tun_key(tun_file, strlen(tun_file), b);
	zap_tun_key(other, strlen(other), c);
	ck_assert(zap_digest_eq(a, b, sizeof(a)));
	ck_assert(!zap_digest_eq(a, c, sizeof(a))); /* one bit of the file */
	zap_hmac_sha256(tun_file, strlen(tun_file), "zap-tun-2 key", 13, want);
	ck_assert(zap_digest_eq(a, want, sizeof(a)));
	ck_assert(memcmp(a, tun_file, sizeof(a)) != 0); /* not the file itself */
}
END_TEST

START_TEST(tun_labels)
{
	for (unsigned t = 0; t < ZAP_TUN_NTYPES + 2; t++) {
		const char *l = zap_tun_label(t);
		int macd = t >= ZAP_TUN_OPEN && t <= ZAP_TUN_REPLY;
		ck_assert_msg(macd == (l[0] != 0), "type %u: label '%s'", t, l);
		for (unsigned u = 0; macd && u < t; u++)
			ck_assert_msg(strcmp(l, zap_tun_label(u)), "types %u and %u share a label", t, u);
	}
}
END_TEST

/* The MAC is HMAC(key, label | ns | nc | the message, mac zeroed). */
START_TEST(tun_mac_construction)
{
	uint8_t key[ZAP_TUN_KEY], ns[ZAP_TUN_NONCE], nc[ZAP_TUN_NONCE], want[ZAP_TUN_MAC];
	zap_tun_key(tun_file, strlen(tun_file), key);
	tun_nonce(ns, 1), tun_nonce(nc, 2);
	struct zap_tun_msg m;
	tun_register(&m);
	memcpy(m.nonce, nc, sizeof(nc));
	uint8_t all[512];
	size_t n = 0;
	const char *label = zap_tun_label(ZAP_TUN_REGISTER);
	memcpy(all + n, label, strlen(label)), n += strlen(label);
	memcpy(all + n, ns, sizeof(ns)), n += sizeof(ns);
	memcpy(all + n, nc, sizeof(nc)), n += sizeof(nc);
	memcpy(all + n, &m, sizeof(m)), n += sizeof(m);
	zap_hmac_sha256(key, sizeof(key), all, n, want);
	zap_tun_seal(key, ns, nc, &m);
	ck_assert(zap_digest_eq(want, m.mac, sizeof(want)));
	ck_assert(zap_tun_check(key, ns, nc, &m));
}
END_TEST

/* Any change to the message, the nonces or the key makes the check fail. */
START_TEST(tun_check_refuses)
{
	uint8_t key[ZAP_TUN_KEY], bad[ZAP_TUN_KEY], ns[ZAP_TUN_NONCE], nc[ZAP_TUN_NONCE],
		ns2[ZAP_TUN_NONCE];
	zap_tun_key(tun_file, strlen(tun_file), key);
	zap_tun_key("another key file, as long", 25, bad);
	tun_nonce(ns, 1), tun_nonce(nc, 2), tun_nonce(ns2, 3);
	struct zap_tun_msg m, x;
	tun_register(&m);
	memcpy(m.nonce, nc, sizeof(nc));
	zap_tun_seal(key, ns, nc, &m);
	ck_assert(zap_tun_check(key, ns, nc, &m));
	ck_assert(!zap_tun_check(bad, ns, nc, &m));  /* a wrong key */
	ck_assert(!zap_tun_check(key, ns2, nc, &m)); /* replayed to another challenge */
	ck_assert(!zap_tun_check(key, nc, ns, &m));  /* the nonces swapped */
	for (size_t i = 0; i < sizeof(m); i++) {
		x = m;
		((uint8_t *)&x)[i] ^= 0x01;
		ck_assert_msg(!zap_tun_check(key, ns, nc, &x), "byte %zu changed, still valid", i);
	}
	/* the same fields under another type (and so another label) */
	x = m;
	x.type = ZAP_TUN_FREEZE;
	ck_assert(!zap_tun_check(key, ns, nc, &x));
	zap_tun_seal(key, ns, nc, &x);
	ck_assert(zap_tun_check(key, ns, nc, &x));
	ck_assert(memcmp(x.mac, m.mac, sizeof(m.mac)) != 0);
	/* messages without a MAC never pass, whatever their mac says */
	zap_tun_init(&x, ZAP_TUN_CHALLENGE);
	zap_tun_seal(key, ns, nc, &x);
	ck_assert(!zap_tun_check(key, ns, nc, &x));
	x.type = ZAP_TUN_HELLO;
	zap_tun_seal(key, ns, nc, &x);
	ck_assert(!zap_tun_check(key, ns, nc, &x));
	/* an old version, sealed right, is still refused */
	x = m;
	x.version = 1;
	zap_tun_seal(key, ns, nc, &x);
	ck_assert(!zap_tun_check(key, ns, nc, &x));
}
END_TEST

/* A control exchange as the proxy and `zap checkpoint` make it: challenge,
 * answer, check, reply, reply check; then the same answer replayed. */
START_TEST(tun_exchange)
{
	uint8_t key[ZAP_TUN_KEY], bad[ZAP_TUN_KEY], nc[ZAP_TUN_NONCE];
	zap_tun_key(tun_file, strlen(tun_file), key);
	zap_tun_key("another key file, as long", 25, bad);
	struct zap_tun_msg ch, m, r, ch2, r2;
	zap_tun_init(&ch, ZAP_TUN_CHALLENGE);
	tun_nonce(ch.nonce, 5);
	tun_nonce(nc, 6);
	tun_register(&m);
	ck_assert_int_eq(zap_tun_answer(key, &ch, nc, &m), 0);
	ck_assert(!memcmp(m.nonce, nc, sizeof(nc)));
	/* the proxy's side */
	ck_assert(zap_tun_check(key, ch.nonce, m.nonce, &m));
	zap_tun_init(&r, ZAP_TUN_REPLY);
	r.status = 0;
	memcpy(r.nonce, ch.nonce, sizeof(r.nonce));
	zap_tun_seal(key, ch.nonce, m.nonce, &r);
	ck_assert(zap_tun_reply_ok(key, &ch, &m, &r));
	ck_assert(!zap_tun_reply_ok(bad, &ch, &m, &r)); /* not the real proxy */
	/* a reply is not valid as the request, nor the request as a reply */
	ck_assert(!zap_tun_reply_ok(key, &ch, &m, &m));
	struct zap_tun_msg x = r;
	x.type = ZAP_TUN_REGISTER;
	ck_assert(!zap_tun_check(key, ch.nonce, m.nonce, &x));
	/* a refusal is MAC'd too: it cannot be turned into a yes */
	x = r;
	x.status = 13;
	ck_assert(!zap_tun_reply_ok(key, &ch, &m, &x));
	/* replayed: the next connection has another challenge */
	ch2 = ch;
	tun_nonce(ch2.nonce, 7);
	ck_assert(!zap_tun_check(key, ch2.nonce, m.nonce, &m));
	/* and an old reply does not answer a new request */
	struct zap_tun_msg m2;
	tun_register(&m2);
	tun_nonce(nc, 8);
	ck_assert_int_eq(zap_tun_answer(key, &ch2, nc, &m2), 0);
	ck_assert(!zap_tun_reply_ok(key, &ch2, &m2, &r));
	r2 = r;
	zap_tun_seal(key, ch2.nonce, m2.nonce, &r2);
	ck_assert(zap_tun_reply_ok(key, &ch2, &m2, &r2));
	/* only a CHALLENGE is answered */
	x = ch;
	x.type = ZAP_TUN_HELLO;
	ck_assert_int_eq(zap_tun_answer(key, &x, nc, &m2), -1);
	x = ch;
	x.version = 1;
	ck_assert_int_eq(zap_tun_answer(key, &x, nc, &m2), -1);
	ck_assert(zap_tun_is(&ch, ZAP_TUN_CHALLENGE));
	ck_assert(!zap_tun_is(&ch, ZAP_TUN_HELLO));
}
END_TEST

/* The inbound order: the proxy's HELLO carries Nc, the pod's CHALLENGE Ns,
 * and the OPEN is checked against the HELLO's nonce, not its own field. */
START_TEST(tun_open_exchange)
{
	uint8_t key[ZAP_TUN_KEY];
	zap_tun_key(tun_file, strlen(tun_file), key);
	struct zap_tun_msg hello, ch, m;
	zap_tun_init(&hello, ZAP_TUN_HELLO);
	tun_nonce(hello.nonce, 9);
	zap_tun_init(&ch, ZAP_TUN_CHALLENGE);
	tun_nonce(ch.nonce, 10);
	zap_tun_init(&m, ZAP_TUN_OPEN);
	m.id = 42;
	memcpy(m.nonce, hello.nonce, sizeof(m.nonce));
	zap_tun_seal(key, ch.nonce, hello.nonce, &m);
	ck_assert(zap_tun_check(key, ch.nonce, hello.nonce, &m));
	uint8_t other[ZAP_TUN_NONCE];
	tun_nonce(other, 11);
	ck_assert(!zap_tun_check(key, ch.nonce, other, &m));
	ck_assert(!zap_tun_check(key, other, hello.nonce, &m)); /* an OPEN replayed to a new challenge */
}
END_TEST

static Suite *tunnel_suite(void)
{
	Suite *s = suite_create("tunnel");
	TCase *tc = zt_tcase(s, "auth", 0);
	tcase_add_test(tc, tun_wire_format);
	tcase_add_test(tc, tun_key_derived);
	tcase_add_test(tc, tun_labels);
	tcase_add_test(tc, tun_mac_construction);
	tcase_add_test(tc, tun_check_refuses);
	tcase_add_test(tc, tun_exchange);
	tcase_add_test(tc, tun_open_exchange);
	return s;
}
ZT_SUITE(tunnel_suite);
