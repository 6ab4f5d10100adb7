/* builtin.c: the table of functions an expression can call: f00 .. f25
 * (one per generated module), plus mix and crc. */
#include "minicalc.h"

#include <string.h>

static mc_val mix_fn(mc_val x)
{
	return mc_mix(x);
}

static mc_val crc_fn(mc_val x)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(x >> (8 * i));
	return mc_crc32(0, b, sizeof(b));
}

static const struct mc_module mix_mod = { "mix", mix_fn, NULL };
static const struct mc_module crc_mod = { "crc", crc_fn, NULL };

static const struct mc_module *const all[] = {
	&mc_mod00, &mc_mod01, &mc_mod02, &mc_mod03, &mc_mod04, &mc_mod05,
	&mc_mod06, &mc_mod07, &mc_mod08, &mc_mod09, &mc_mod10, &mc_mod11,
	&mc_mod12, &mc_mod13, &mc_mod14, &mc_mod15, &mc_mod16, &mc_mod17,
	&mc_mod18, &mc_mod19, &mc_mod20, &mc_mod21, &mc_mod22, &mc_mod23,
	&mc_mod24, &mc_mod25, &mix_mod, &crc_mod,
};

const struct mc_module *mc_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}

int mc_builtin_count(void)
{
	return (int)(sizeof(all) / sizeof(all[0]));
}
