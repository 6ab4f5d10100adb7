/* The wire protocol between zap and zapd (docs/protocol.md): framed
 * messages over TCP, authenticated both ways by HMAC-SHA256 over fresh
 * nonces with a shared key, and a pod image streamed file by file under an
 * end-to-end Poly1305 tag whose one-time key is HMAC-SHA256(key, label |
 * both nonces).  All integers little-endian.
 *
 * Bump ZAP_PROTO_VERSION when anything here changes. */
#ifndef ZAP_PROTO_H
#define ZAP_PROTO_H

#include <stdint.h>

#define ZAP_PROTO_VERSION 2
#define ZAP_PROTO_MAGIC 0x3150415au   /* the bytes "ZAP1" */
#define ZAP_PROTO_PORT 7207           /* zapd's port when ADDR has none */
#define ZAP_PROTO_HDR 12              /* magic u32, type u16, flags u16, len u32 */
#define ZAP_PROTO_MAX_PAYLOAD (1u << 20)
#define ZAP_PROTO_DATA_CHUNK 65536    /* DATA payloads: ZAP_SUM_CHUNK, so a file's sum is zap_sum_pages */
#define ZAP_PROTO_NONCE 32
#define ZAP_PROTO_MAC 32
#define ZAP_PROTO_TAG 16             /* the stream's Poly1305 tag */
#define ZAP_PROTO_KEY_LEN 32          /* zap keygen; keys of 16..1024 bytes are accepted */

/* The strings each side's MAC starts with, so one side's answer is never
 * valid as the other's. */
#define ZAP_PROTO_LABEL_SERVER "zap-proto-1 server"
#define ZAP_PROTO_LABEL_CLIENT "zap-proto-1 client"
#define ZAP_PROTO_LABEL_STREAM "zap-proto-2 stream key"
#define ZAP_PROTO_LABEL_META "zap-proto-2 meta"

enum zap_msg {
	/* handshake */
	ZAP_MSG_HELLO = 1,     /* c->s: u32 version, nonce_c[32] */
	ZAP_MSG_CHALLENGE = 2, /* s->c: u32 version, nonce_s[32], HMAC(key, LABEL_SERVER|nonce_c|nonce_s) */
	ZAP_MSG_AUTH = 3,      /* c->s: HMAC(key, LABEL_CLIENT|nonce_s|nonce_c) */
	ZAP_MSG_OK = 4,        /* s->c: text (key=value lines), may be empty */
	ZAP_MSG_ERROR = 5,     /* either way: text, then the sender closes */
	/* requests, after OK */
	ZAP_MSG_STATUS = 6,    /* c->s: empty; s->c: text: load1= load5= load15= cpus= mem_total_kib= mem_available_kib= pods= */
	ZAP_MSG_BEGIN = 7,     /* c->s: text: pod= files= bytes=; s->c: OK "id=ID" or ERROR */
	ZAP_MSG_FILE = 8,      /* c->s: u64 size, then the name (no '/', not "." or "..") */
	ZAP_MSG_DATA = 9,      /* c->s: the next bytes of the file, ZAP_PROTO_DATA_CHUNK but the last */
	ZAP_MSG_FILE_END = 10, /* c->s: u64 zap_sum_pages(file, size, 0) */
	ZAP_MSG_END = 11,      /* c->s: Poly1305(HMAC(key, LABEL_STREAM|nonce_c|nonce_s), every frame from BEGIN on, header included) */
	ZAP_MSG_RESULT = 12,   /* s->c: i32 code (0: running), i32 pid there, text (the restart's last stderr lines) */
	ZAP_MSG_PLACE = 13,    /* c->s: u32 file index (order of FILE), u32 0, u64 offset: where DATA goes on */
	ZAP_MSG_META = 14,     /* c->s: HMAC(key, LABEL_META|nonce_c|nonce_s|every frame from BEGIN on):
				* all but page data is in; zapd may start the restart */
};

#endif
