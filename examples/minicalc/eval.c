/* eval.c: evaluates an expression tree. */
#include "minicalc.h"

#include <stdio.h>

int mc_eval(const struct mc_node *n, mc_val *out, char *err, size_t errlen)
{
	mc_val a = 0, b = 0;
	int ok = 1;
	if (!n) {
		snprintf(err, errlen, "missing operand");
		return -1;
	}
	switch (n->kind) {
	case N_NUM:
		*out = n->num;
		return 0;
	case N_VAR:
		if (mc_var_get(n->name, out) < 0) {
			snprintf(err, errlen, "unknown variable '%s'", n->name);
			return -1;
		}
		return 0;
	case N_NEG:
	case N_NOT:
		if (mc_eval(n->a, &a, err, errlen) < 0)
			return -1;
		*out = n->kind == N_NEG ? (mc_val)0 - a : ~a;
		return 0;
	case N_CALL: {
		const struct mc_module *m = mc_builtin(n->name);
		if (!m) {
			snprintf(err, errlen, "unknown function '%s'", n->name);
			return -1;
		}
		if (mc_eval(n->a, &a, err, errlen) < 0)
			return -1;
		*out = m->apply(a);
		return 0;
	}
	case N_ASSIGN:
		if (mc_eval(n->a, &a, err, errlen) < 0)
			return -1;
		if (mc_var_set(n->name, a) < 0) {
			snprintf(err, errlen, "too many variables");
			return -1;
		}
		*out = a;
		return 0;
	case N_BIN:
		if (mc_eval(n->a, &a, err, errlen) < 0 || mc_eval(n->b, &b, err, errlen) < 0)
			return -1;
		switch (n->op) {
		case T_PLUS: *out = a + b; break;
		case T_MINUS: *out = a - b; break;
		case T_STAR: *out = a * b; break;
		case T_SLASH: *out = mc_div(a, b, &ok); break;
		case T_PCT: *out = mc_mod(a, b, &ok); break;
		case T_CARET: *out = mc_pow(a, b); break;
		case T_AMP: *out = a & b; break;
		case T_BAR: *out = a | b; break;
		case T_SHL: *out = b >= 64 ? 0 : a << b; break;
		case T_SHR: *out = b >= 64 ? 0 : a >> b; break;
		default:
			snprintf(err, errlen, "bad operator %s", mc_tok_name(n->op));
			return -1;
		}
		if (!ok) {
			snprintf(err, errlen, "division by zero");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "bad node");
	return -1;
}
