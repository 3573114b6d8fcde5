/* ir/shape.c: the shape-function table (from ops.def) and graph-level inference.
 *
 * Each op `name` has `enum d2_status d2_shape_<name>(struct d2_shape_ctx *)` in one of
 * the ir/shape_<family>.c files. The declarations are weak so that a missing function
 * leaves a NULL table entry (reported by d2_infer_node and by the coverage test)
 * instead of breaking the link. */
#include "ir.h"

#include <string.h>

#define D2_OP(ID, name, ...) enum d2_status d2_shape_##name(struct d2_shape_ctx *ctx) __attribute__((weak));
#include "ops.def"

d2_shape_fn d2_shape_function(enum d2_op op)
{
    static const d2_shape_fn table[D2_OP_COUNT] = {
#define D2_OP(ID, name, ...) [D2_OP_##ID] = d2_shape_##name,
#include "ops.def"
    };
    return (unsigned)op < D2_OP_COUNT ? table[op] : NULL;
}

enum d2_status d2_infer_node(struct d2_graph *g, int32_t index, struct d2_error *err)
{
    struct d2_node *node = &g->nodes[index];
    d2_shape_fn fn = d2_shape_function(node->op);
    const struct d2_type *input_types[64];
    const struct d2_tensor *input_values[64];
    struct d2_type output_types[64];
    const struct d2_type **in_types = input_types;
    const struct d2_tensor **in_values = input_values;
    struct d2_type *out_types = output_types;
    struct d2_shape_ctx ctx;
    enum d2_status st = D2_OK;

    if (!fn)
        return d2_errorf(err, D2_ERR_INTERNAL, "node '%s': op '%s' has no shape function", node->name,
                         d2_op_name(node->op));
    /* Variadic ops (concat of 200 inputs, say) outgrow the stack arrays. */
    if (node->num_inputs > 64) {
        in_types = d2_calloc(g->alloc, node->num_inputs, sizeof *in_types);
        in_values = d2_calloc(g->alloc, node->num_inputs, sizeof *in_values);
    }
    if (node->num_outputs > 64)
        out_types = d2_calloc(g->alloc, node->num_outputs, sizeof *out_types);
    if (!in_types || !in_values || !out_types) {
        st = d2_errorf(err, D2_ERR_NOMEM, "out of memory inferring shapes");
        goto done;
    }
    for (uint32_t i = 0; i < node->num_inputs; i++) {
        d2_value_id v = node->inputs[i];
        in_types[i] = v == D2_NO_VALUE ? NULL : &g->values[v].type;
        in_values[i] = v == D2_NO_VALUE ? NULL : d2_graph_constant_of(g, v);
    }
    for (uint32_t i = 0; i < node->num_outputs; i++)
        d2_type_init_unknown(&out_types[i]);
    ctx.node = node;
    ctx.num_inputs = node->num_inputs;
    ctx.input_types = in_types;
    ctx.input_values = in_values;
    ctx.num_outputs = node->num_outputs;
    ctx.output_types = out_types;
    ctx.err = err;
    st = fn(&ctx);
    if (st != D2_OK) {
        d2_error_prefix(err, "node '%s' (%s): ", node->name, d2_op_name(node->op));
        goto done;
    }
    for (uint32_t i = 0; i < node->num_outputs; i++) {
        struct d2_type *t = &g->values[node->outputs[i]].type;
        /* Keep a symbolic name the graph declared (e.g. from ONNX value_info) when
         * inference could not resolve the dim. */
        for (int32_t d = 0; d < out_types[i].rank && d < t->rank; d++)
            if (out_types[i].dims[d] < 0 && !out_types[i].symbols[d] && t->rank == out_types[i].rank)
                out_types[i].symbols[d] = t->symbols[d];
        *t = out_types[i];
    }
done:
    if (in_types != input_types)
        d2_free(g->alloc, (void *)in_types);
    if (in_values != input_values)
        d2_free(g->alloc, (void *)in_values);
    if (out_types != output_types)
        d2_free(g->alloc, out_types);
    return st;
}

enum d2_status d2_infer_graph(struct d2_graph *g, struct d2_error *err)
{
    for (uint32_t i = 0; i < g->num_nodes; i++) {
        struct d2_node *node = &g->nodes[i];
        /* Region bodies first: a control-flow node's shape function reads its
         * regions' output types. */
        for (uint32_t r = 0; r < node->num_regions; r++) {
            enum d2_status st = d2_infer_graph(node->regions[r], err);
            if (st != D2_OK)
                return st;
        }
        if (g->parent) {
            /* A region may never run (an if branch not taken, a loop with zero
             * iterations), and traced models carry such branches that would fail for
             * the shapes at hand. So a shape error inside a region is deferred to run
             * time: the node's outputs stay unknown and the executor reports the error
             * if the region actually runs. Other errors (out of memory...) still fail. */
            struct d2_error local = { D2_OK, "" };
            enum d2_status st = d2_infer_node(g, (int32_t)i, &local);
            if (st == D2_ERR_SHAPE) {
                for (uint32_t k = 0; k < node->num_outputs; k++)
                    d2_type_init_unknown(&g->values[node->outputs[k]].type);
                continue;
            }
            if (st != D2_OK)
                return d2_errorf(err, st, "%s", local.message);
            continue;
        }
        enum d2_status st = d2_infer_node(g, (int32_t)i, err);
        if (st != D2_OK)
            return st;
    }
    return D2_OK;
}
