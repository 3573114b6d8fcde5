/* passes/pass_util.c: shared graph edits of the optimization passes (contract in
 * passes/pass_util.h). */
#include "pass_util.h"

#include <string.h>

#include "../backends/cpu/cpu.h"

void d2_pass_replace_uses(struct d2_graph *g, d2_value_id from, d2_value_id to)
{
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t i = 0; i < g->nodes[n].num_inputs; i++)
            if (g->nodes[n].inputs[i] == from)
                g->nodes[n].inputs[i] = to;
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
}

d2_value_id d2_pass_replace_by_constant(struct d2_graph *g, d2_value_id v, struct d2_tensor *t,
                                        struct d2_error *err)
{
    d2_value_id c = d2_graph_add_constant(g, NULL, t, err);
    const char *name;
    if (c == D2_NO_VALUE)
        return c;
    /* Swap names: the constant carries the model's name from now on. */
    name = g->values[v].name;
    g->values[v].name = g->values[c].name;
    g->values[c].name = name;
    d2_pass_replace_uses(g, v, c);
    return c;
}

uint32_t *d2_pass_count_live_uses(const struct d2_graph *g, bool **dead_out, struct d2_error *err)
{
    uint32_t *uses = d2_calloc(g->alloc, g->num_values + 1, sizeof *uses);
    bool *live_value = d2_calloc(g->alloc, g->num_values + 1, sizeof *live_value);
    bool *dead = d2_calloc(g->alloc, g->num_nodes + 1, sizeof *dead);
    if (!uses || !live_value || !dead) {
        d2_free(g->alloc, uses);
        d2_free(g->alloc, live_value);
        d2_free(g->alloc, dead);
        d2_errorf(err, D2_ERR_NOMEM, "out of memory counting value uses");
        return NULL;
    }
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] < g->num_values) {
            live_value[g->outputs[i]] = true;
            uses[g->outputs[i]]++;
        }
    /* Reverse topological order: a node's readers are decided before it. */
    for (uint32_t n = g->num_nodes; n-- > 0;) {
        const struct d2_node *node = &g->nodes[n];
        bool live = false;
        for (uint32_t j = 0; j < node->num_outputs && !live; j++)
            live = node->outputs[j] < g->num_values && live_value[node->outputs[j]];
        dead[n] = !live;
        for (uint32_t i = 0; live && i < node->num_inputs; i++)
            if (node->inputs[i] < g->num_values) {
                live_value[node->inputs[i]] = true;
                uses[node->inputs[i]]++;
            }
    }
    d2_free(g->alloc, live_value);
    if (dead_out)
        *dead_out = dead;
    else
        d2_free(g->alloc, dead);
    return uses;
}

int64_t d2_pass_type_bytes(const struct d2_type *t)
{
    int64_t numel = d2_type_is_static(t) ? d2_type_numel(t) : -1;
    size_t esize = d2_dtype_size(t->dtype);
    if (numel < 0 || esize == 0 || numel > INT64_MAX / (int64_t)esize)
        return -1;
    return numel * (int64_t)esize;
}

/* A tensor that describes a value by its type only (no data): what `shape` and
 * `size` need. */
static bool describe_by_type(const struct d2_type *type, struct d2_tensor *t)
{
    if (type->rank < 0 || type->dtype == D2_DTYPE_UNDEFINED)
        return false;
    memset(t, 0, sizeof *t);
    t->dtype = type->dtype;
    t->rank = type->rank;
    for (int32_t d = 0; d < type->rank; d++)
        t->dims[d] = type->dims[d];
    return true;
}

enum d2_status d2_pass_evaluate_node(const struct d2_graph *g, uint32_t node, struct d2_tensor *outputs,
                                     struct d2_error *err)
{
    enum { MAX_IO = 64 };
    const struct d2_node *n = &g->nodes[node];
    const struct d2_tensor *in_ptrs[MAX_IO];
    struct d2_tensor described[MAX_IO];
    struct d2_type in_types[MAX_IO], out_types[MAX_IO];
    const struct d2_type *in_type_ptrs[MAX_IO];
    bool dims_only = n->op == D2_OP_SHAPE || n->op == D2_OP_SIZE;
    d2_cpu_kernel_fn kernel = d2_cpu_ref_kernel(n->op);
    d2_shape_fn shape_fn = d2_shape_function(n->op);
    struct d2_shape_ctx sctx;
    struct d2_kernel_ctx kctx;
    enum d2_status st;

    if (n->num_inputs > MAX_IO || n->num_outputs > MAX_IO || !kernel || !shape_fn || n->num_regions)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "node '%s' (%s): cannot be evaluated at compile time", n->name,
                         d2_op_name(n->op));
    for (uint32_t k = 0; k < n->num_inputs; k++) {
        d2_value_id v = n->inputs[k];
        in_ptrs[k] = NULL;
        in_type_ptrs[k] = NULL;
        if (v == D2_NO_VALUE)
            continue;
        in_ptrs[k] = d2_graph_constant_of(g, v);
        if (!in_ptrs[k] && dims_only && describe_by_type(&g->values[v].type, &described[k]))
            in_ptrs[k] = &described[k];
        if (!in_ptrs[k])
            return d2_errorf(err, D2_ERR_UNSUPPORTED, "node '%s' (%s): input %u is not a constant", n->name,
                             d2_op_name(n->op), k);
        d2_type_from_tensor(&in_types[k], in_ptrs[k]);
        in_type_ptrs[k] = &in_types[k];
    }
    for (uint32_t j = 0; j < n->num_outputs; j++) {
        d2_type_init_unknown(&out_types[j]);
        memset(&outputs[j], 0, sizeof outputs[j]);
    }
    memset(&sctx, 0, sizeof sctx);
    sctx.node = n;
    sctx.num_inputs = n->num_inputs;
    sctx.input_types = in_type_ptrs;
    sctx.input_values = in_ptrs;
    sctx.num_outputs = n->num_outputs;
    sctx.output_types = out_types;
    sctx.err = err;
    st = shape_fn(&sctx);
    /* Allocate what the shape function fixed (zeroed, as the executor does); the
     * kernel allocates data-dependent outputs itself. */
    for (uint32_t j = 0; st == D2_OK && j < n->num_outputs; j++) {
        const struct d2_type *t = &out_types[j];
        if (d2_type_is_static(t) && t->dtype != D2_DTYPE_UNDEFINED) {
            st = d2_tensor_alloc(&outputs[j], g->alloc, t->dtype, t->rank, t->dims, err);
        } else {
            outputs[j].dtype = t->dtype;
            outputs[j].rank = t->rank >= 0 ? t->rank : 0;
            for (int32_t d = 0; d < outputs[j].rank; d++)
                outputs[j].dims[d] = t->dims[d];
        }
    }
    if (st == D2_OK) {
        memset(&kctx, 0, sizeof kctx);
        kctx.node = n;
        kctx.alloc = g->alloc;
        kctx.err = err;
        kctx.num_inputs = n->num_inputs;
        kctx.inputs = in_ptrs;
        kctx.num_outputs = n->num_outputs;
        kctx.outputs = outputs;
        st = kernel(&kctx);
    }
    for (uint32_t j = 0; st == D2_OK && j < n->num_outputs; j++) {
        int64_t numel = d2_tensor_numel(&outputs[j]);
        if (d2_dtype_size(outputs[j].dtype) == 0 || numel < 0 || (outputs[j].nbytes && !outputs[j].data) ||
            outputs[j].nbytes != (size_t)numel * d2_dtype_size(outputs[j].dtype))
            st = d2_errorf(err, D2_ERR_INTERNAL, "node '%s' (%s): kernel left output %u without valid storage",
                           n->name, d2_op_name(n->op), j);
    }
    if (st != D2_OK)
        for (uint32_t j = 0; j < n->num_outputs; j++)
            d2_tensor_release(&outputs[j], g->alloc);
    return st;
}
