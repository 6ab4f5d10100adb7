/* crc.c: CRC-32 (IEEE 802.3), table built on first use. */
#include "minicalc.h"

static uint32_t table[256];
static int ready;

static void build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	ready = 1;
}

uint32_t mc_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (!ready)
		build();
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
