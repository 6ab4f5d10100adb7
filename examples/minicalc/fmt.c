/* fmt.c: a value as "decimal (0xhex)". */
#include "minicalc.h"

#include <inttypes.h>
#include <stdio.h>

void mc_fmt_val(char *buf, size_t len, mc_val v)
{
	snprintf(buf, len, "%" PRIu64 " (0x%016" PRIx64 ")", v, v);
}
