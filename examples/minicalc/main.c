/* minicalc: reads expressions, one a line, from the file named on the
 * command line (or stdin) and prints each value; then a CRC-32 of all the
 * values, so one line tells whether a run printed what it should.
 *
 *   x = 6 * 7
 *   f03(x) ^ 3 + mix(x)    # comments start with '#'
 */
#include "minicalc.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	FILE *in = stdin;
	if (argc > 2 || (argc == 2 && !strcmp(argv[1], "--help"))) {
		fprintf(stderr, "usage: minicalc [FILE]\n");
		return 2;
	}
	if (argc == 2 && !(in = fopen(argv[1], "r"))) {
		perror(argv[1]);
		return 2;
	}
	char line[1024], err[128], buf[64];
	uint32_t sum = 0;
	int lineno = 0, nvals = 0, nerr = 0;
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		char *s = mc_trim(line);
		err[0] = '\0';
		struct mc_node *n = mc_parse(s, err, sizeof(err));
		if (!n) {
			if (err[0]) {
				printf("%d: error: %s\n", lineno, err);
				nerr++;
			}
			continue;
		}
		mc_val v;
		if (mc_eval(n, &v, err, sizeof(err)) < 0) {
			printf("%d: error: %s\n", lineno, err);
			nerr++;
		} else {
			mc_fmt_val(buf, sizeof(buf), v);
			printf("%d: %s\n", lineno, buf);
			unsigned char b[8];
			for (int i = 0; i < 8; i++)
				b[i] = (unsigned char)(v >> (8 * i));
			sum = mc_crc32(sum, b, sizeof(b));
			nvals++;
		}
		mc_node_free(n);
	}
	printf("%d values, %d errors, %d variables, %d functions, crc32 %08x\n",
	       nvals, nerr, mc_var_count(), mc_builtin_count(), sum);
	return nerr ? 1 : 0;
}
