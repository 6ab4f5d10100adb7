/* zap keygen: a new key shared by zap and the zapd it migrates to. */
#include "proto.h"
#include "zap.h"

#include <stdio.h>
#include <string.h>

static int keygen_exec(int argc, char **argv);

const struct zap_cmd zap_cmd_keygen = {
	.name = "keygen",
	.args = "[--force] FILE",
	.summary = "write a new random key for zap migrate and zapd",
	.help = "Writes 32 random bytes (getrandom) as hex text to FILE, mode 0600.  Give the\n"
		"same file to 'zapd --key' on every host and to 'zap migrate --key'; peers\n"
		"prove to each other that they hold it (HMAC-SHA256 over fresh nonces) and\n"
		"the key itself never crosses the network.\n\n"
		"Options:\n"
		"  --force   replace FILE if it exists (by default an existing file is kept)\n\n"
		"Exit status: 0 written; 1 FILE exists or cannot be written; 2 bad usage.\n",
	.exec = keygen_exec,
};

static int keygen_exec(int argc, char **argv)
{
	int force = 0;
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f")) {
			force = 1;
		} else if (argv[i][0] == '-' || file) {
			zap_err("unexpected argument '%s'", argv[i]);
			return zap_usage(&zap_cmd_keygen);
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return zap_usage(&zap_cmd_keygen);
	char err[4200];
	if (zap_key_write(file, force, err, sizeof(err)) < 0) {
		zap_err("%s", err);
		return ZAP_EXIT_FAIL;
	}
	return 0;
}
