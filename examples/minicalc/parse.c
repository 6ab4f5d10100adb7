/* parse.c: recursive descent, C precedence for | & << >> + - * / %, with ^
 * as power (right-associative) and unary - and ~.
 *
 *   line   := NAME '=' expr | expr
 *   expr   := and ('|' and)*
 *   and    := shift ('&' shift)*
 *   shift  := sum (('<<' | '>>') sum)*
 *   sum    := prod (('+' | '-') prod)*
 *   prod   := unary (('*' | '/' | '%') unary)*
 *   unary  := ('-' | '~') unary | power
 *   power  := atom ('^' unary)?
 *   atom   := NUM | NAME | NAME '(' expr ')' | '(' expr ')'
 */
#include "minicalc.h"

#include <stdio.h>
#include <string.h>

struct parser {
	struct mc_lexer lx;
	char *err;
	size_t errlen;
	int failed;
};

static struct mc_node *expr(struct parser *p);
static struct mc_node *unary(struct parser *p);

static struct mc_node *fail(struct parser *p, const char *what)
{
	if (!p->failed)
		snprintf(p->err, p->errlen, "%s at column %zu (found %s)", what,
			 p->lx.pos, mc_tok_name(p->lx.tok));
	p->failed = 1;
	return NULL;
}

static struct mc_node *bin(enum mc_tok op, struct mc_node *a, struct mc_node *b)
{
	struct mc_node *n = mc_node_new(N_BIN);
	n->op = op;
	n->a = a;
	n->b = b;
	return n;
}

static struct mc_node *atom(struct parser *p)
{
	struct mc_lexer *lx = &p->lx;
	struct mc_node *n;
	switch (lx->tok) {
	case T_NUM:
		n = mc_node_new(N_NUM);
		n->num = lx->num;
		mc_lex_next(lx);
		return n;
	case T_NAME:
		n = mc_node_new(N_VAR);
		memcpy(n->name, lx->name, sizeof(n->name));
		if (mc_lex_next(lx) == T_LP) {
			n->kind = N_CALL;
			mc_lex_next(lx);
			n->a = expr(p);
			if (lx->tok != T_RP) {
				mc_node_free(n);
				return fail(p, "expected ')'");
			}
			mc_lex_next(lx);
		}
		return n;
	case T_LP:
		mc_lex_next(lx);
		n = expr(p);
		if (lx->tok != T_RP) {
			mc_node_free(n);
			return fail(p, "expected ')'");
		}
		mc_lex_next(lx);
		return n;
	default:
		return fail(p, "expected a value");
	}
}

static struct mc_node *power(struct parser *p)
{
	struct mc_node *a = atom(p);
	if (a && p->lx.tok == T_CARET) {
		mc_lex_next(&p->lx);
		return bin(T_CARET, a, unary(p));
	}
	return a;
}

static struct mc_node *unary(struct parser *p)
{
	enum mc_tok t = p->lx.tok;
	if (t == T_MINUS || t == T_TILDE) {
		mc_lex_next(&p->lx);
		struct mc_node *n = mc_node_new(t == T_MINUS ? N_NEG : N_NOT);
		n->a = unary(p);
		return n;
	}
	return power(p);
}

#define LEVEL(name, next, cond)                                    \
	static struct mc_node *name(struct parser *p)              \
	{                                                          \
		struct mc_node *a = next(p);                       \
		for (;;) {                                         \
			enum mc_tok t = p->lx.tok;                 \
			if (!(cond))                               \
				return a;                          \
			mc_lex_next(&p->lx);                       \
			a = bin(t, a, next(p));                    \
		}                                                  \
	}

LEVEL(prod, unary, t == T_STAR || t == T_SLASH || t == T_PCT)
LEVEL(sum, prod, t == T_PLUS || t == T_MINUS)
LEVEL(shift, sum, t == T_SHL || t == T_SHR)
LEVEL(and, shift, t == T_AMP)
LEVEL(or, and, t == T_BAR)

static struct mc_node *expr(struct parser *p)
{
	return or(p);
}

struct mc_node *mc_parse(const char *line, char *err, size_t errlen)
{
	struct parser p = { .err = err, .errlen = errlen };
	mc_lex_init(&p.lx, line);
	if (p.lx.tok == T_END)
		return NULL;
	struct mc_node *n;
	/* NAME '=' ...: look ahead one token on a copy of the lexer */
	struct mc_lexer save = p.lx;
	if (p.lx.tok == T_NAME && mc_lex_next(&p.lx) == T_ASSIGN) {
		n = mc_node_new(N_ASSIGN);
		memcpy(n->name, save.name, sizeof(n->name));
		mc_lex_next(&p.lx);
		n->a = expr(&p);
	} else {
		p.lx = save;
		n = expr(&p);
	}
	if (!p.failed && p.lx.tok != T_END)
		fail(&p, "unexpected token");
	if (p.failed) {
		mc_node_free(n);
		return NULL;
	}
	return n;
}
