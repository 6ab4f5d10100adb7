/* util.c: allocation that cannot fail, and trimming. */
#include "minicalc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *mc_xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fprintf(stderr, "minicalc: out of memory\n");
		exit(2);
	}
	return p;
}

char *mc_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}
