/* symtab.c: variables, in a small open-addressing table. */
#include "minicalc.h"

#include <string.h>

#define NVARS 64

static struct {
	char name[32];
	mc_val v;
	int used;
} vars[NVARS];
static int nvars;

static unsigned slot(const char *name)
{
	return mc_crc32(0, name, strlen(name)) % NVARS;
}

int mc_var_get(const char *name, mc_val *v)
{
	unsigned i = slot(name);
	for (int k = 0; k < NVARS; k++, i = (i + 1) % NVARS) {
		if (!vars[i].used)
			return -1;
		if (!strcmp(vars[i].name, name)) {
			*v = vars[i].v;
			return 0;
		}
	}
	return -1;
}

int mc_var_set(const char *name, mc_val v)
{
	unsigned i = slot(name);
	for (int k = 0; k < NVARS; k++, i = (i + 1) % NVARS) {
		if (!vars[i].used) {
			if (nvars == NVARS - 1)
				return -1;
			vars[i].used = 1;
			strncpy(vars[i].name, name, sizeof(vars[i].name) - 1);
			nvars++;
		}
		if (!strcmp(vars[i].name, name)) {
			vars[i].v = v;
			return 0;
		}
	}
	return -1;
}

int mc_var_count(void)
{
	return nvars;
}
