/* minicalc: a small integer expression calculator.
 *
 * Every value is a 64-bit unsigned integer and every operation wraps, so a
 * given input always prints the same output on every machine. */
#ifndef MINICALC_H
#define MINICALC_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t mc_val;

/* lex.c */
enum mc_tok {
	T_END, T_NUM, T_NAME, T_LP, T_RP, T_COMMA, T_ASSIGN,
	T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT, T_CARET, T_AMP, T_BAR,
	T_SHL, T_SHR, T_TILDE, T_BAD
};
struct mc_lexer {
	const char *s;
	size_t pos;
	enum mc_tok tok;
	mc_val num;
	char name[32];
};
void mc_lex_init(struct mc_lexer *lx, const char *s);
enum mc_tok mc_lex_next(struct mc_lexer *lx);
const char *mc_tok_name(enum mc_tok t);

/* ast.c */
enum mc_kind { N_NUM, N_VAR, N_NEG, N_NOT, N_BIN, N_CALL, N_ASSIGN };
struct mc_node {
	enum mc_kind kind;
	enum mc_tok op;
	mc_val num;
	char name[32];
	struct mc_node *a, *b;
};
struct mc_node *mc_node_new(enum mc_kind kind);
void mc_node_free(struct mc_node *n);
int mc_node_count(const struct mc_node *n);

/* parse.c */
struct mc_node *mc_parse(const char *line, char *err, size_t errlen);

/* eval.c */
int mc_eval(const struct mc_node *n, mc_val *out, char *err, size_t errlen);

/* num.c */
mc_val mc_pow(mc_val b, mc_val e);
mc_val mc_div(mc_val a, mc_val b, int *ok);
mc_val mc_mod(mc_val a, mc_val b, int *ok);
mc_val mc_rotl(mc_val x, unsigned r);
mc_val mc_mix(mc_val x);

/* symtab.c */
int mc_var_get(const char *name, mc_val *v);
int mc_var_set(const char *name, mc_val v);
int mc_var_count(void);

/* crc.c */
uint32_t mc_crc32(uint32_t crc, const void *buf, size_t len);

/* fmt.c */
void mc_fmt_val(char *buf, size_t len, mc_val v);

/* builtin.c: the function table (fNN from the modules, and a few more) */
typedef mc_val (*mc_fn)(mc_val);
struct mc_module {
	const char *name;
	mc_fn apply;
	const uint32_t *table; /* 256 entries */
};
const struct mc_module *mc_builtin(const char *name);
int mc_builtin_count(void);

/* util.c */
void *mc_xmalloc(size_t n);
char *mc_trim(char *s);

/* the generated modules (mod00.c .. mod25.c) */
#define MC_NMODS 26
extern const struct mc_module mc_mod00, mc_mod01, mc_mod02, mc_mod03, mc_mod04,
	mc_mod05, mc_mod06, mc_mod07, mc_mod08, mc_mod09, mc_mod10, mc_mod11,
	mc_mod12, mc_mod13, mc_mod14, mc_mod15, mc_mod16, mc_mod17, mc_mod18,
	mc_mod19, mc_mod20, mc_mod21, mc_mod22, mc_mod23, mc_mod24, mc_mod25;

#endif
