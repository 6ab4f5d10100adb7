/* zap: the user's command.  One table of subcommands; each lives in its
 * own cmd-*.c file. */
#include "zap.h"
#include "zap/image.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct zap_cmd *const cmd_table[] = {
	&zap_cmd_run, &zap_cmd_checkpoint, &zap_cmd_restart, &zap_cmd_migrate,
	&zap_cmd_inspect, &zap_cmd_ps, &zap_cmd_keygen,
};
#define NCMDS (sizeof(cmd_table) / sizeof(cmd_table[0]))

const char *zap_cmd_name = "zap";

void zap_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", zap_cmd_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int zap_usage(const struct zap_cmd *cmd)
{
	fprintf(stderr, "usage: zap %s %s\nTry 'zap %s --help'.\n", cmd->name, cmd->args, cmd->name);
	return ZAP_EXIT_USAGE;
}

int zap_wants_help(const struct zap_cmd *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		/* `zap run PROG --help` is PROG's --help */
		if (cmd == &zap_cmd_run && argv[i][0] != '-' && (i == 1 || argv[i - 1][0] != '-'))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: zap %s %s\n\n%s\n\n%s", cmd->name, cmd->args, cmd->summary, cmd->help);
			return 1;
		}
	}
	return 0;
}

static void usage_all(FILE *f)
{
	fprintf(f, "usage: zap COMMAND [ARGS]\n\n"
		   "zap checkpoints running Linux programs and restarts them, here or elsewhere.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-11s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
	fprintf(f, "\n'zap COMMAND --help' tells more; docs/ has the manual pages and exit codes.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_all(stderr);
		return ZAP_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage_all(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("zap 0.1 (image format %d)\n", ZAP_IMG_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(argv[1], cmd_table[i]->name))
			continue;
		static char name[64];
		snprintf(name, sizeof(name), "zap %s", cmd_table[i]->name);
		zap_cmd_name = name;
		if (zap_wants_help(cmd_table[i], argc - 1, argv + 1))
			return 0;
		return cmd_table[i]->exec(argc - 1, argv + 1);
	}
	fprintf(stderr, "zap: unknown command '%s'\nTry 'zap --help'.\n", argv[1]);
	return ZAP_EXIT_USAGE;
}
