/* lex.c: turns one input line into tokens. */
#include "minicalc.h"

#include <ctype.h>
#include <string.h>

void mc_lex_init(struct mc_lexer *lx, const char *s)
{
	memset(lx, 0, sizeof(*lx));
	lx->s = s;
	mc_lex_next(lx);
}

static int digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

enum mc_tok mc_lex_next(struct mc_lexer *lx)
{
	const char *s = lx->s;
	size_t i = lx->pos;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	char c = s[i];
	enum mc_tok t;
	if (c == '\0' || c == '#' || c == '\n') {
		t = T_END;
	} else if (isdigit((unsigned char)c)) {
		unsigned base = 10;
		if (c == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
			base = 16;
			i += 2;
		}
		mc_val v = 0;
		int d;
		while ((d = digit_value((unsigned char)s[i])) < (int)base) {
			v = v * base + (mc_val)d;
			i++;
		}
		lx->num = v;
		t = T_NUM;
	} else if (isalpha((unsigned char)c) || c == '_') {
		size_t n = 0;
		while (isalnum((unsigned char)s[i]) || s[i] == '_') {
			if (n + 1 < sizeof(lx->name))
				lx->name[n++] = s[i];
			i++;
		}
		lx->name[n] = '\0';
		t = T_NAME;
	} else {
		i++;
		switch (c) {
		case '(': t = T_LP; break;
		case ')': t = T_RP; break;
		case ',': t = T_COMMA; break;
		case '=': t = T_ASSIGN; break;
		case '+': t = T_PLUS; break;
		case '-': t = T_MINUS; break;
		case '*': t = T_STAR; break;
		case '/': t = T_SLASH; break;
		case '%': t = T_PCT; break;
		case '^': t = T_CARET; break;
		case '&': t = T_AMP; break;
		case '|': t = T_BAR; break;
		case '~': t = T_TILDE; break;
		case '<':
			t = s[i] == '<' ? (i++, T_SHL) : T_BAD;
			break;
		case '>':
			t = s[i] == '>' ? (i++, T_SHR) : T_BAD;
			break;
		default: t = T_BAD; break;
		}
	}
	lx->pos = i;
	lx->tok = t;
	return t;
}

const char *mc_tok_name(enum mc_tok t)
{
	static const char *const names[] = {
		"end of line", "number", "name", "'('", "')'", "','", "'='",
		"'+'", "'-'", "'*'", "'/'", "'%'", "'^'", "'&'", "'|'",
		"'<<'", "'>>'", "'~'", "bad character",
	};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}
