/* zapsend ADDR:PORT KEYFILE MODE POD FILE...: a zap client for tests that
 * sends FILEs to a zapd as an image stream and damages it on purpose, to
 * check that zapd refuses it.  MODE:
 *   flip      a byte of the first file altered after the MAC saw it (its
 *             checksum matches the altered bytes: only the MAC can tell)
 *   badsum    the first file's checksum wrong
 *   long      more data than the first file's announced length
 *   truncate  END after half of the first file
 *   replay    the MAC of another session (other nonces)
 * and, sending the page data of process files after META as zap migrate
 * does (zapd then restarts the pod before the pages are in):
 *   split-meta  META with a wrong MAC
 *   split-flip  a byte of the page data altered after META (its checksum
 *               made to match): zapd has begun the restart and must stop it
 *   split-over  after META, bytes written over the part META authenticated
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
		zap_poly1305_update(&c->stream, h, sizeof(h));
		zap_poly1305_update(&c->stream, mac_view, alen);
		c->streaming = 0;
		int r = zap_conn_send(c, type, a, alen, NULL, 0, zs_err, sizeof(zs_err));
		c->streaming = 1;
		return r;
	}
	return zap_conn_send(c, type, a, alen, NULL, 0, zs_err, sizeof(zs_err));
}

/* DATA frames of bytes [off, off + len) of fd; with flip, one byte in the
 * middle altered for the wire but not for the MAC. */
static void zs_range(struct zap_conn *c, int fd, uint64_t off, uint64_t len, uint64_t *sum, int flip)
{
	static uint8_t buf[ZAP_PROTO_DATA_CHUNK], orig[ZAP_PROTO_DATA_CHUNK];
	uint64_t flip_at = off + len / 2;
	while (len) {
		ssize_t r = pread(fd, buf, len < sizeof(buf) ? len : sizeof(buf), (off_t)off);
		if (r <= 0)
			exit(2);
		memcpy(orig, buf, (size_t)r);
		if (flip && flip_at >= off && flip_at < off + (uint64_t)r)
			buf[flip_at - off] ^= 0x40;
		*sum = zap_sum64(buf, (size_t)r, *sum);
		zs_send(c, ZAP_MSG_DATA, buf, (uint32_t)r, orig);
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
}

static void zs_place(struct zap_conn *c, int index, uint64_t off)
{
	uint8_t pl[16];
	zap_put_u32(pl, (uint32_t)index);
	zap_put_u32(pl + 4, 0);
	zap_put_u64(pl + 8, off);
	zs_send(c, ZAP_MSG_PLACE, pl, sizeof(pl), NULL);
}

/* The two passes of zap migrate (launcher/cmd-migrate.c), damaged. */
static int zs_split(struct zap_conn *c, const char *how, int nfiles, char **files)
{
	int fds[64];
	uint64_t size[64], hole[64], hole_len[64], sum[64];
	if (nfiles > 64)
		return 2;
	uint8_t head[8 + 256];
	for (int i = 0; i < nfiles; i++) {
		fds[i] = open(files[i], O_RDONLY);
		off_t sz = fds[i] < 0 ? -1 : lseek(fds[i], 0, SEEK_END);
		if (sz <= 0) {
			fprintf(stderr, "zapsend: %s: missing or empty\n", files[i]);
			return 2;
		}
		size[i] = (uint64_t)sz;
		sum[i] = 0;
		zap_proto_pages_span(fds[i], size[i], &hole[i], &hole_len[i]);
		const char *name = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
		zap_put_u64(head, size[i]);
		memcpy(head + 8, name, strlen(name));
		zs_send(c, ZAP_MSG_FILE, head, 8 + (uint32_t)strlen(name), NULL);
		uint64_t first = hole_len[i] ? hole[i] : size[i];
		zs_range(c, fds[i], 0, first, &sum[i], 0);
		if (hole_len[i]) {
			zs_place(c, i, hole[i] + hole_len[i]);
			zs_range(c, fds[i], hole[i] + hole_len[i], size[i] - hole[i] - hole_len[i], &sum[i], 0);
		} else {
			zap_put_u64(head, sum[i]);
			zs_send(c, ZAP_MSG_FILE_END, head, 8, NULL);
		}
	}
	uint8_t meta[ZAP_PROTO_MAC];
	zap_hmac_final(&c->meta, meta);
	c->meta_on = 0;
	if (!strcmp(how, "meta"))
		meta[0] ^= 1;
	zs_send(c, ZAP_MSG_META, meta, sizeof(meta), NULL);
	int flipped = 0;
	for (int i = 0; i < nfiles && !strcmp(how, "over"); i++)
		if (hole_len[i]) { /* the file's header page, again */
			zs_place(c, i, 0);
			zs_range(c, fds[i], 0, 4096, &sum[i], 0);
			break;
		}
	for (int i = 0; i < nfiles; i++) {
		if (!hole_len[i])
			continue;
		zs_place(c, i, hole[i]);
		zs_range(c, fds[i], hole[i], hole_len[i], &sum[i], !strcmp(how, "flip") && !flipped++);
		zap_put_u64(head, sum[i]);
		zs_send(c, ZAP_MSG_FILE_END, head, 8, NULL);
	}
	uint8_t mac[ZAP_PROTO_TAG];
	zap_poly1305_final(&c->stream, mac);
	c->streaming = 0;
	zs_send(c, ZAP_MSG_END, mac, sizeof(mac), NULL);
	char answer[4096];
	uint16_t type;
	uint32_t len;
	if (zap_conn_recv(c, &type, answer, sizeof(answer) - 1, &len, 10, zs_err, sizeof(zs_err)) < 0) {
		printf("%s\n", zs_err);
		return strstr(zs_err, "zapd at") && !strstr(zs_err, "closed") ? 0 : 1;
	}
	printf("zapd answered %u without refusing\n", type);
	return 1;
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
	c.meta_on = !strncmp(mode, "split-", 6);
	if (c.meta_on)
		zap_proto_meta_init(&c.meta, &key, c.nc, c.ns);
	char text[128], answer[4096];
	uint16_t type;
	uint32_t len;
	snprintf(text, sizeof(text), "pod=%s\n%s", argv[4], c.meta_on ? "meta=1\n" : "");
	if (zs_send(&c, ZAP_MSG_BEGIN, text, (uint32_t)strlen(text), NULL) < 0 ||
	    zap_conn_recv(&c, &type, answer, sizeof(answer) - 1, &len, 0, zs_err, sizeof(zs_err)) < 0) {
		fprintf(stderr, "zapsend: %s\n", zs_err);
		return 2;
	}
	if (!strncmp(mode, "split-", 6))
		return zs_split(&c, mode + 6, argc - 5, argv + 5);
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
	uint8_t mac[ZAP_PROTO_TAG];
	zap_poly1305_final(&c.stream, mac);
	c.streaming = 0;
	if (!strcmp(mode, "replay")) { /* a tag made under other nonces' key */
		uint8_t other[ZAP_PROTO_NONCE] = {1};
		struct zap_poly1305 m;
		zap_proto_stream_init(&m, &key, other, c.ns);
		zap_poly1305_final(&m, mac);
	}
	zs_send(&c, ZAP_MSG_END, mac, sizeof(mac), NULL);
	if (zap_conn_recv(&c, &type, answer, sizeof(answer) - 1, &len, 10, zs_err, sizeof(zs_err)) < 0) {
		printf("%s\n", zs_err);
		return strstr(zs_err, "zapd at") && !strstr(zs_err, "closed") ? 0 : 1;
	}
	printf("zapd answered %u without refusing\n", type);
	return 1;
}
