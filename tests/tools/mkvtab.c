/* mkvtab PATH COMMAND...: makes or edits a pod's id table (ckpt/vtab.c) by
 * hand, so that tests can run the preload's pid wrappers under a table
 * without a restart.  Commands, done in order:
 *   create          a new, empty table (replacing any)
 *   set VPID REAL   an entry
 *   fill-next N     the next N pids the kernel will hand out (from
 *                   ns_last_pid, wrapping at pid_max) are taken as vpids by
 *                   processes that are gone, so that new processes collide
 *                   and get vpids above any real pid
 *   dump            prints "VPID REAL" per entry */
#include "vtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* real pids no process can have (above PID_MAX_LIMIT, below the high vpids) */
#define GONE_BASE 4194400
#define GONE_MAX (ZAP_VTAB_HIGH_VPID - GONE_BASE)

static long read_num(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (!f || fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

static int fill_next(struct zap_vtab *t, long n)
{
	long last = read_num("/proc/sys/kernel/ns_last_pid");
	long max = read_num("/proc/sys/kernel/pid_max");
	if (last < 0 || max < 0 || n < 0 || n > GONE_MAX) {
		fprintf(stderr, "mkvtab: cannot read ns_last_pid/pid_max, or N above %d\n", GONE_MAX);
		return -1;
	}
	long p = last;
	for (long i = 0; i < n; i++) {
		if (++p >= max)
			p = 301; /* where the kernel starts again */
		if (zap_vtab_set(t, (int32_t)p, (int32_t)(GONE_BASE + i)) < 0) {
			fprintf(stderr, "mkvtab: the table is full\n");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mkvtab PATH create | set VPID REAL | fill-next N | dump ...\n");
		return 2;
	}
	struct zap_vtab *t = NULL;
	long err = 0;
	for (int i = 2; i < argc; i++) {
		if (!t) {
			t = zap_vtab_map(argv[1], !strcmp(argv[i], "create"), &err);
			if (!t) {
				fprintf(stderr, "mkvtab: %s: error %ld\n", argv[1], -err);
				return 1;
			}
		}
		if (!strcmp(argv[i], "create")) {
			continue;
		} else if (!strcmp(argv[i], "set") && i + 2 < argc) {
			if (zap_vtab_set(t, atoi(argv[i + 1]), atoi(argv[i + 2])) < 0)
				return fprintf(stderr, "mkvtab: the table is full\n"), 1;
			i += 2;
		} else if (!strcmp(argv[i], "fill-next") && i + 1 < argc) {
			if (fill_next(t, atol(argv[++i])) < 0)
				return 1;
		} else if (!strcmp(argv[i], "dump")) {
			for (uint32_t k = 0; k < t->npids && k < ZAP_VTAB_PIDS; k++)
				printf("%d %d\n", t->pids[k].vpid, t->pids[k].real);
		} else {
			fprintf(stderr, "mkvtab: bad command %s\n", argv[i]);
			return 2;
		}
	}
	return 0;
}
