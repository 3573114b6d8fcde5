/* passes/rewrite.c: pattern-rewrite helpers (contract in passes/rewrite.h). */
#include "rewrite.h"

struct d2_node *d2_rewrite_producer(const struct d2_graph *g, d2_value_id v)
{
    if (v >= g->num_values || g->values[v].producer < 0)
        return NULL;
    return &g->nodes[g->values[v].producer];
}

bool d2_rewrite_const_scalar(const struct d2_graph *g, d2_value_id v, double *out)
{
    const struct d2_tensor *t = v < g->num_values ? d2_graph_constant_of(g, v) : NULL;
    if (!t || d2_tensor_numel(t) != 1 || t->dtype == D2_DTYPE_UNDEFINED || !t->data)
        return false;
    *out = d2_load_f64(t->data, t->dtype, 0);
    return true;
}

bool d2_rewrite_const_ints(const struct d2_graph *g, d2_value_id v, int64_t *out, uint32_t max, uint32_t *count)
{
    const struct d2_tensor *t = v < g->num_values ? d2_graph_constant_of(g, v) : NULL;
    int64_t n;
    if (!t || t->rank > 1 || !d2_dtype_is_integer(t->dtype))
        return false;
    n = d2_tensor_numel(t);
    if (n < 0 || n > (int64_t)max || (n > 0 && !t->data))
        return false;
    for (int64_t i = 0; i < n; i++)
        out[i] = d2_load_i64(t->data, t->dtype, (size_t)i);
    *count = (uint32_t)n;
    return true;
}

uint32_t *d2_rewrite_count_uses(const struct d2_graph *g, struct d2_error *err)
{
    uint32_t *uses = d2_calloc(g->alloc, g->num_values + 1, sizeof *uses);
    if (!uses) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory counting value uses");
        return NULL;
    }
    for (uint32_t n = 0; n < g->num_nodes; n++)
        for (uint32_t i = 0; i < g->nodes[n].num_inputs; i++)
            if (g->nodes[n].inputs[i] < g->num_values)
                uses[g->nodes[n].inputs[i]]++;
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i] < g->num_values)
            uses[g->outputs[i]]++;
    return uses;
}

void *d2_rewrite_retarget(struct d2_graph *g, struct d2_node *node, enum d2_op op, struct d2_error *err)
{
    const struct d2_op_info *info = d2_op_info(op);
    const struct d2_attr_schema *schema = info ? d2_attr_schema_get(info->attrs) : NULL;
    void *attrs = schema ? d2_arena_alloc(&g->arena, schema->size) : NULL;
    if (!attrs) {
        d2_errorf(err, D2_ERR_NOMEM, "node '%s' (%s): out of memory rewriting it as %s", node->name,
                  d2_op_name(node->op), d2_op_name(op));
        return NULL;
    }
    d2_attrs_set_defaults(info->attrs, attrs);
    node->op = op;
    node->attrs = attrs;
    return attrs;
}

d2_value_id d2_rewrite_add_i64_constant(struct d2_graph *g, const int64_t *values, uint32_t count,
                                        struct d2_error *err)
{
    struct d2_tensor t;
    int64_t dims[1] = { (int64_t)count };
    if (d2_tensor_alloc(&t, g->alloc, D2_DTYPE_I64, 1, dims, err) != D2_OK)
        return D2_NO_VALUE;
    for (uint32_t i = 0; i < count; i++)
        ((int64_t *)t.data)[i] = values[i];
    return d2_graph_add_constant(g, NULL, &t, err);
}
