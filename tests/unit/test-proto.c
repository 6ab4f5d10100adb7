/* launcher/proto.c: key files, addresses, frame headers, the MACs. */
#include "proto.h"
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void proto_write(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

START_TEST(proto_keygen)
{
	char path[4096], err[512];
	zt_path(path, sizeof(path), "k");
	ck_assert_int_eq(zap_key_write(path, 0, err, sizeof(err)), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, 65);
	struct zap_key a, b;
	ck_assert_int_eq(zap_key_load(path, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.n, 32);
	/* refused without --force, replaced with it, and a new key each time */
	ck_assert_int_eq(zap_key_write(path, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "exists"));
	ck_assert_int_eq(zap_key_write(path, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(zap_key_load(path, &b, err, sizeof(err)), 0);
	ck_assert(memcmp(a.b, b.b, 32) != 0);
}
END_TEST

START_TEST(proto_key_refused)
{
	char path[4096], err[512];
	struct zap_key k;
	zt_path(path, sizeof(path), "k");
	proto_write(path, "00112233445566778899aabbccddeeff\n", 0644);
	ck_assert_int_eq(zap_key_load(path, &k, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	proto_write(path, "0011223344\n", 0600);
	ck_assert_int_eq(zap_key_load(path, &k, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too short"));
	proto_write(path, "00112233445566778899aabbccddeeff0\n", 0600);
	ck_assert_int_eq(zap_key_load(path, &k, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "odd number"));
	proto_write(path, "not a key at all, not at all......\n", 0600);
	ck_assert_int_eq(zap_key_load(path, &k, err, sizeof(err)), -1);
	proto_write(path, "00112233 44556677\n8899AABB ccddeeff\n", 0600);
	ck_assert_int_eq(zap_key_load(path, &k, err, sizeof(err)), 0);
	ck_assert_uint_eq(k.n, 16);
	ck_assert_uint_eq(k.b[8], 0x88);
}
END_TEST

START_TEST(proto_addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[512], text[128];
	static const char *good[][2] = {
		{"10.231.0.2:7300", "10.231.0.2:7300"}, {"10.231.0.2", "10.231.0.2:7207"},
		{"[::1]:80", "[::1]:80"},                {"localhost:9", "127.0.0.1:9"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(zap_addr_parse(good[i][0], &ss, &sl, err, sizeof(err)) == 0, "%s: %s",
			      good[i][0], err);
		zap_addr_str((struct sockaddr *)&ss, text, sizeof(text));
		ck_assert_str_eq(text, good[i][1]);
	}
	static const char *bad[] = {"", "host.example:1", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:x",
				    "::1:80", "[::1", "1.2.3.4:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(zap_addr_parse(bad[i], &ss, &sl, err, sizeof(err)) == -1, "'%s' accepted",
			      bad[i]);
}
END_TEST

START_TEST(proto_header)
{
	uint8_t h[ZAP_PROTO_HDR];
	uint16_t type;
	uint32_t len;
	char err[256];
	zap_proto_hdr_put(h, ZAP_MSG_RESULT, 1234);
	ck_assert(!memcmp(h, "ZAP1", 4));
	ck_assert_int_eq(zap_proto_hdr_get(h, &type, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(type, ZAP_MSG_RESULT);
	ck_assert_uint_eq(len, 1234);
	zap_proto_hdr_put(h, ZAP_MSG_DATA, ZAP_PROTO_MAX_PAYLOAD + 1);
	ck_assert_int_eq(zap_proto_hdr_get(h, &type, &len, err, sizeof(err)), -1);
	h[0] = 'X';
	ck_assert_int_eq(zap_proto_hdr_get(h, &type, &len, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "magic"));
}
END_TEST

/* The two proofs differ, depend on both nonces and on the key. */
START_TEST(proto_macs)
{
	struct zap_key k = {.n = 32}, k2 = {.n = 32};
	memset(k.b, 7, 32);
	memset(k2.b, 8, 32);
	uint8_t nc[32] = {1}, ns[32] = {2}, a[32], b[32];
	zap_proto_mac(&k, ZAP_PROTO_LABEL_SERVER, nc, ns, a);
	zap_proto_mac(&k, ZAP_PROTO_LABEL_CLIENT, ns, nc, b);
	ck_assert(!zap_digest_eq(a, b, 32));
	zap_proto_mac(&k, ZAP_PROTO_LABEL_CLIENT, nc, ns, b);
	ck_assert(!zap_digest_eq(a, b, 32));
	zap_proto_mac(&k2, ZAP_PROTO_LABEL_SERVER, nc, ns, b);
	ck_assert(!zap_digest_eq(a, b, 32));
	zap_proto_mac(&k, ZAP_PROTO_LABEL_SERVER, nc, ns, b);
	ck_assert(zap_digest_eq(a, b, 32));
	/* the value, so that both ends of another build agree with this one */
	struct zap_hmac m;
	uint8_t want[32];
	zap_hmac_init(&m, k.b, k.n);
	zap_hmac_update(&m, ZAP_PROTO_LABEL_SERVER, strlen(ZAP_PROTO_LABEL_SERVER));
	zap_hmac_update(&m, nc, 32);
	zap_hmac_update(&m, ns, 32);
	zap_hmac_final(&m, want);
	ck_assert(zap_digest_eq(a, want, 32));
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = zt_tcase(s, "keys", ZT_WITH_DIR);
	tcase_add_test(tc, proto_keygen);
	tcase_add_test(tc, proto_key_refused);
	tc = zt_tcase(s, "wire", 0);
	tcase_add_test(tc, proto_addr);
	tcase_add_test(tc, proto_header);
	tcase_add_test(tc, proto_macs);
	return s;
}
ZT_SUITE(proto_suite);
