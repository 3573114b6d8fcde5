/* passes/pass_util.h: graph edits the optimization passes share (fold_constants,
 * cse, fold_batch_norm, fuse_conv).
 *
 * Like passes/rewrite.h, these never delete nodes: a pass redirects the readers of a
 * value to a replacement (d2_pass_replace_uses) and leaves the producer unread; the
 * dce pass removes it later. Node order stays topological because a replacement is
 * always a constant or a value defined before the first reader.
 */
#ifndef D2_PASSES_PASS_UTIL_H
#define D2_PASSES_PASS_UTIL_H

#include "../ir/ir.h"

/* Make every reader of `from` (node inputs and graph outputs of g) read `to`. */
void d2_pass_replace_uses(struct d2_graph *g, d2_value_id from, d2_value_id to);

/* Add tensor *t (taken over, as d2_graph_add_constant) as a constant that replaces
 * value v: readers of v now read the constant, and the constant takes v's name (v
 * gets a generated one), so the printed IR keeps the model's names. Returns the
 * constant's id, or D2_NO_VALUE when out of memory (err set). */
d2_value_id d2_pass_replace_by_constant(struct d2_graph *g, d2_value_id v, struct d2_tensor *t,
                                        struct d2_error *err);

/* Compute node `node` of g on the CPU reference kernels. Each present input must be a
 * constant, except that a `shape` or `size` node may read any value whose type fixes
 * the result (its dims are read, never its data). outputs[0..num_outputs) receive
 * newly allocated tensors (released by the caller) on D2_OK. */
enum d2_status d2_pass_evaluate_node(const struct d2_graph *g, uint32_t node, struct d2_tensor *outputs,
                                     struct d2_error *err);

/* Readers per value counting live nodes only (a node is live when one of its outputs
 * reaches a graph output; the unread leftovers of earlier passes are not), graph
 * outputs included. Returns the counts (num_values entries) and, in *dead_out when
 * not NULL, a per-node flag (num_nodes entries) of the dead nodes; both d2_calloc'd
 * with g->alloc. NULL when out of memory (err set). */
uint32_t *d2_pass_count_live_uses(const struct d2_graph *g, bool **dead_out, struct d2_error *err);

/* Bytes of a static type (numel * dtype size), or -1 when not static or too large. */
int64_t d2_pass_type_bytes(const struct d2_type *t);

#endif
