/* The byte streams of echosum and streamclient: byte i of stream SEED is a
 * function of i alone, so a reader checks every byte at its offset and a
 * byte lost or doubled anywhere shows at once. */
#ifndef STREAM_H
#define STREAM_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>

static inline uint64_t stream_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* n bytes of stream seed from offset off into p. */
static inline void stream_fill(uint64_t seed, uint64_t off, unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n && ((off + i) & 7)) { /* up to a word boundary */
		uint64_t w = stream_mix(seed ^ ((off + i) >> 3));
		p[i] = (unsigned char)(w >> (8 * ((off + i) & 7)));
		i++;
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t w = stream_mix(seed ^ ((off + i) >> 3));
		memcpy(p + i, &w, 8); /* little-endian: byte b is w >> 8b */
	}
	for (; i < n; i++) {
		uint64_t w = stream_mix(seed ^ ((off + i) >> 3));
		p[i] = (unsigned char)(w >> (8 * ((off + i) & 7)));
	}
}

/* Offset of the first byte of p that is not stream seed at off, or n. */
static inline size_t stream_check(uint64_t seed, uint64_t off, const unsigned char *p, size_t n)
{
	unsigned char want[4096];
	for (size_t i = 0; i < n; i += sizeof(want)) {
		size_t k = n - i < sizeof(want) ? n - i : sizeof(want);
		stream_fill(seed, off + i, want, k);
		if (memcmp(p + i, want, k) == 0)
			continue;
		for (size_t j = 0; j < k; j++)
			if (p[i + j] != want[j])
				return i + j;
	}
	return n;
}

/* "A.B.C.D:PORT" -> a; 0 or -1. */
static inline int stream_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	snprintf(host, sizeof(host), "%s", s);
	char *colon = strrchr(host, ':');
	if (!colon)
		return -1;
	*colon = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

#define STREAM_UP 0x75700001ull   /* client -> server */
#define STREAM_DOWN 0x646f0002ull /* server -> client */

#endif
