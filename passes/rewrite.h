/* passes/rewrite.h: helpers for passes that match a pattern of nodes and rewrite it.
 *
 * The rewriting passes (lower_roi_align, lower_nms, roialign_aligned) share these.
 * Their discipline keeps the graph valid without moving nodes:
 *   - a pattern is replaced by turning nodes of the pattern into the new ops in place
 *     (d2_rewrite_retarget): a node keeps its position, so node order stays
 *     topological as long as the new inputs are defined before that node;
 *   - nodes the rewrite leaves unread are not deleted here: the dce pass, later in the
 *     pipeline, removes them;
 *   - after a rewrite the pass re-runs shape inference over the whole graph, so every
 *     stored type agrees with the ops again (the verifier checks exactly that).
 * Matching only looks at the graph it is given; values captured by a region are that
 * region's inputs, so a pattern never crosses a region boundary.
 */
#ifndef D2_PASSES_REWRITE_H
#define D2_PASSES_REWRITE_H

#include "../ir/ir.h"

/* The node producing v in g, or NULL (graph input, constant, omitted input). */
struct d2_node *d2_rewrite_producer(const struct d2_graph *g, d2_value_id v);

/* When v is a constant of exactly one element (any rank, any numeric dtype), its
 * value as a double. */
bool d2_rewrite_const_scalar(const struct d2_graph *g, d2_value_id v, double *out);

/* When v is an integer constant of rank 0 or 1 with at most max elements: its
 * elements in out[] and their number in *count. */
bool d2_rewrite_const_ints(const struct d2_graph *g, d2_value_id v, int64_t *out, uint32_t max, uint32_t *count);

/* How many times each value of g is read: node inputs plus graph outputs (a value
 * listed twice as an output counts twice). d2_calloc'd with g->alloc, num_values
 * entries; NULL when out of memory (err set). */
uint32_t *d2_rewrite_count_uses(const struct d2_graph *g, struct d2_error *err);

/* Make node (of g) an `op` node with default attributes, allocated in g's arena;
 * inputs, outputs and name stay. Returns the new attribute struct, or NULL when out
 * of memory (err set). The old attributes stay valid (arena memory), so a caller can
 * restore them: node->op = old_op; node->attrs = old_attrs. */
void *d2_rewrite_retarget(struct d2_graph *g, struct d2_node *node, enum d2_op op, struct d2_error *err);

/* A new 1-D i64 constant in g holding values[0..count). D2_NO_VALUE when out of memory. */
d2_value_id d2_rewrite_add_i64_constant(struct d2_graph *g, const int64_t *values, uint32_t count,
                                        struct d2_error *err);

#endif
