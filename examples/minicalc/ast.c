/* ast.c: expression tree nodes. */
#include "minicalc.h"

#include <stdlib.h>
#include <string.h>

struct mc_node *mc_node_new(enum mc_kind kind)
{
	struct mc_node *n = mc_xmalloc(sizeof(*n));
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	return n;
}

void mc_node_free(struct mc_node *n)
{
	if (!n)
		return;
	mc_node_free(n->a);
	mc_node_free(n->b);
	free(n);
}

int mc_node_count(const struct mc_node *n)
{
	return n ? 1 + mc_node_count(n->a) + mc_node_count(n->b) : 0;
}
