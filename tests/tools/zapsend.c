/* zapsend ADDR:PORT KEYFILE MODE POD FILE...: a zap client for tests that
 * sends FILEs to a zapd as an image stream and damages it on purpose, to
 * check that zapd refuses it.  MODE:
 *   flip      a byte of the first file altered after the MAC saw it (its
 *             checksum matches the altered bytes: only the MAC can tell)
 *   badsum    the first file's checksum wrong
 *   long      more data than the first file's announced length
 *   truncate  END after half of the first file
 *   replay    the MAC of another session (other nonces)
 * Prints zapd's answer (the text of its ERROR) on stdout; exits 0 when zapd
 * refused the stream, 1 when it did not, 2 on a usage or set-up error. */
#include "proto.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char zs_err[4096];

static int zs_send(struct zap_conn *c, uint16_t type, const void *a, uint32_t alen,
		   const void *mac_view)
{
	/* the MAC sees mac_view (the bytes as they should be), the wire gets a */
	if (c->streaming && mac_view) {
		uint8_t h[ZAP_PROTO_HDR];
		zap_proto_hdr_put(h, type, alen);
		zap_hmac_update(&c->stream, h, sizeof(h));
		zap_hmac_update(&c->stream, mac_view, alen);
		c->streaming = 0;
		int r = zap_conn_send(c, type, a, alen, NULL, 0, zs_err, sizeof(zs_err));
		c->streaming = 1;
		return r;
	}
	return zap_conn_send(c, type, a, alen, NULL, 0, zs_err, sizeof(zs_err));
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: zapsend ADDR:PORT KEYFILE MODE POD FILE...\n");
		return 2;
	}
	const char *mode = argv[3];
	struct zap_key key;
	struct zap_conn c;
	if (zap_key_load(argv[2], &key, zs_err, sizeof(zs_err)) < 0 ||
	    zap_conn_open(&c, argv[1], &key, 10, zs_err, sizeof(zs_err)) < 0) {
		fprintf(stderr, "zapsend: %s\n", zs_err);
		return 2;
	}
	zap_proto_stream_init(&c.stream, &key, c.nc, c.ns);
	c.streaming = 1;
	char text[128], answer[4096];
	uint16_t type;
	uint32_t len;
	snprintf(text, sizeof(text), "pod=%s\n", argv[4]);
	if (zs_send(&c, ZAP_MSG_BEGIN, text, (uint32_t)strlen(text), NULL) < 0 ||
	    zap_conn_recv(&c, &type, answer, sizeof(answer) - 1, &len, 0, zs_err, sizeof(zs_err)) < 0) {
		fprintf(stderr, "zapsend: %s\n", zs_err);
		return 2;
	}
	static uint8_t buf[ZAP_PROTO_DATA_CHUNK], orig[ZAP_PROTO_DATA_CHUNK];
	for (int f = 5; f < argc; f++) {
		int fd = open(argv[f], O_RDONLY);
		off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
		if (size <= 0) {
			fprintf(stderr, "zapsend: %s: missing or empty\n", argv[f]);
			return 2;
		}
		lseek(fd, 0, SEEK_SET);
		const char *name = strrchr(argv[f], '/') ? strrchr(argv[f], '/') + 1 : argv[f];
		uint8_t head[8 + 256];
		zap_put_u64(head, (uint64_t)size);
		memcpy(head + 8, name, strlen(name));
		zs_send(&c, ZAP_MSG_FILE, head, 8 + (uint32_t)strlen(name), NULL);
		uint64_t sum = 0, sent = 0;
		ssize_t r;
		while ((r = read(fd, buf, sizeof(buf))) > 0) {
			int first = f == 5 && sent == 0;
			if (first && !strcmp(mode, "truncate") && sent >= (uint64_t)size / 2)
				break;
			memcpy(orig, buf, (size_t)r);
			if (first && !strcmp(mode, "flip"))
				buf[r / 2] ^= 0x40;
			sum = zap_sum64(buf, (size_t)r, sum);
			zs_send(&c, ZAP_MSG_DATA, buf, (uint32_t)r, orig);
			sent += (uint64_t)r;
			if (first && !strcmp(mode, "truncate"))
				break;
		}
		close(fd);
		if (f == 5 && !strcmp(mode, "truncate"))
			break;
		if (f == 5 && !strcmp(mode, "long"))
			zs_send(&c, ZAP_MSG_DATA, "x", 1, NULL);
		if (f == 5 && !strcmp(mode, "badsum"))
			sum ^= 1;
		zap_put_u64(head, sum);
		zs_send(&c, ZAP_MSG_FILE_END, head, 8, NULL);
	}
	uint8_t mac[ZAP_PROTO_MAC];
	zap_hmac_final(&c.stream, mac);
	c.streaming = 0;
	if (!strcmp(mode, "replay")) { /* a MAC made with other nonces */
		uint8_t other[ZAP_PROTO_NONCE] = {1};
		struct zap_hmac m;
		zap_proto_stream_init(&m, &key, other, c.ns);
		zap_hmac_final(&m, mac);
	}
	zs_send(&c, ZAP_MSG_END, mac, sizeof(mac), NULL);
	if (zap_conn_recv(&c, &type, answer, sizeof(answer) - 1, &len, 10, zs_err, sizeof(zs_err)) < 0) {
		printf("%s\n", zs_err);
		return strstr(zs_err, "zapd at") && !strstr(zs_err, "closed") ? 0 : 1;
	}
	printf("zapd answered %u without refusing\n", type);
	return 1;
}
