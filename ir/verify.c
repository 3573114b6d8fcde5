/* ir/verify.c: the IR verifier (d2_verify_graph).
 *
 * Checks the invariants every pass and backend relies on, and reports the first
 * violation as D2_ERR_INTERNAL with a message naming the node, its op and the
 * problem (a broken graph coming out of a pass is a d2rt bug, not a user error):
 *   - SSA: value ids in range; every value has exactly one producer (a node output,
 *     a graph input or a constant) and the value's producer/constant/input_index
 *     fields agree with the node, constant and input tables; value names are
 *     non-empty and unique within their graph; uses come after definitions in node
 *     order; graph outputs are defined values.
 *   - ops: input/output counts within ops.def's bounds, required inputs present,
 *     region count, region signatures of `if` and `loop` (docs/IR.md), enum and
 *     dtype attribute fields in range.
 *   - constants: the tensor matches its value's type and holds its bytes.
 *   - types: where the op has a shape function, re-running it on the stored input
 *     types (and constant values) agrees with each stored output type wherever both
 *     know a fact (dtype, rank, a dim).
 * Regions are verified recursively. The graph is not modified.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

/* Error prefix for a node: "node 'conv1' #3 (conv): ". */
#define NODE_FMT "node '%s' #%u (%s): "
#define NODE_ARGS(node, index) ((node)->name ? (node)->name : ""), (unsigned)(index), d2_op_name((node)->op)

static enum d2_status fail(struct d2_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum d2_status fail(struct d2_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d2_verrorf(err, D2_ERR_INTERNAL, fmt, ap);
    va_end(ap);
    return D2_ERR_INTERNAL;
}

static const char *value_name(const struct d2_graph *g, d2_value_id v)
{
    return v < g->num_values && g->values[v].name ? g->values[v].name : "?";
}

/* ---- values and producers ---------------------------------------------------- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static enum d2_status check_value_names(const struct d2_graph *g, struct d2_error *err)
{
    const char **names;
    enum d2_status st = D2_OK;
    if (g->num_values == 0)
        return D2_OK;
    for (uint32_t v = 0; v < g->num_values; v++)
        if (!g->values[v].name || !g->values[v].name[0])
            return fail(err, "value %u has no name", v);
    names = d2_calloc(g->alloc, g->num_values, sizeof *names);
    if (!names)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory verifying the graph");
    for (uint32_t v = 0; v < g->num_values; v++)
        names[v] = g->values[v].name;
    qsort(names, g->num_values, sizeof *names, compare_names);
    for (uint32_t i = 1; i < g->num_values && st == D2_OK; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            st = fail(err, "value name '%s' is used by more than one value", names[i]);
    d2_free(g->alloc, (void *)names);
    return st;
}

static enum d2_status check_constant(const struct d2_graph *g, d2_value_id v, struct d2_error *err)
{
    const struct d2_value *value = &g->values[v];
    const struct d2_tensor *t = &g->constants[value->constant];
    int64_t numel = d2_tensor_numel(t);
    if (t->rank < 0 || t->rank > D2_MAX_RANK || numel < 0 || d2_dtype_size(t->dtype) == 0)
        return fail(err, "constant %%%s has an invalid dtype or shape", value->name);
    if (t->nbytes != (size_t)numel * d2_dtype_size(t->dtype) || (t->nbytes > 0 && !t->data))
        return fail(err, "constant %%%s holds %zu bytes, its shape needs %zu", value->name, t->nbytes,
                    (size_t)numel * d2_dtype_size(t->dtype));
    if (value->type.dtype != t->dtype || value->type.rank != t->rank)
        return fail(err, "constant %%%s: value type disagrees with the tensor's dtype or rank", value->name);
    for (int32_t d = 0; d < t->rank; d++)
        if (value->type.dims[d] != t->dims[d])
            return fail(err, "constant %%%s: value type dim %d is %lld, the tensor's is %lld", value->name,
                        (int)d, (long long)value->type.dims[d], (long long)t->dims[d]);
    return D2_OK;
}

/* Every value has exactly one producer, and the tables agree in both directions. */
static enum d2_status check_producers(const struct d2_graph *g, struct d2_error *err)
{
    enum d2_status st;
    for (uint32_t v = 0; v < g->num_values; v++) {
        const struct d2_value *value = &g->values[v];
        int kinds = (value->producer >= 0) + (value->constant >= 0) + (value->input_index >= 0);
        if (kinds != 1)
            return fail(err, "value %%%s has %d producers (node output, constant, graph input); needs exactly 1",
                        value->name, kinds);
        if (value->producer >= 0) {
            const struct d2_node *node;
            if ((uint32_t)value->producer >= g->num_nodes)
                return fail(err, "value %%%s names producer node %d of %u", value->name, value->producer,
                            g->num_nodes);
            node = &g->nodes[value->producer];
            if (value->producer_output >= node->num_outputs || node->outputs[value->producer_output] != v)
                return fail(err, NODE_FMT "value %%%s claims to be its output %u, but it is not",
                            NODE_ARGS(node, value->producer), value->name, value->producer_output);
        } else if (value->constant >= 0) {
            if ((uint32_t)value->constant >= g->num_constants)
                return fail(err, "value %%%s names constant %d of %u", value->name, value->constant,
                            g->num_constants);
            if ((st = check_constant(g, v, err)) != D2_OK)
                return st;
        } else if ((uint32_t)value->input_index >= g->num_inputs || g->inputs[value->input_index] != v) {
            return fail(err, "value %%%s claims to be graph input %d, but it is not", value->name,
                        value->input_index);
        }
    }
    for (uint32_t i = 0; i < g->num_inputs; i++)
        if (g->inputs[i] >= g->num_values || g->values[g->inputs[i]].input_index != (int32_t)i)
            return fail(err, "graph input %u refers to value %u, which does not know it is that input", i,
                        g->inputs[i]);
    /* Each constant belongs to exactly one value. */
    if (g->num_constants > 0) {
        uint32_t *owners = d2_calloc(g->alloc, g->num_constants, sizeof *owners);
        if (!owners)
            return d2_errorf(err, D2_ERR_NOMEM, "out of memory verifying the graph");
        st = D2_OK;
        for (uint32_t v = 0; v < g->num_values; v++)
            if (g->values[v].constant >= 0)
                owners[g->values[v].constant]++;
        for (uint32_t c = 0; c < g->num_constants && st == D2_OK; c++)
            if (owners[c] != 1)
                st = fail(err, "constant %u belongs to %u values; needs exactly 1", c, owners[c]);
        d2_free(g->alloc, owners);
        if (st != D2_OK)
            return st;
    }
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        const struct d2_node *node = &g->nodes[n];
        for (uint32_t i = 0; i < node->num_outputs; i++) {
            d2_value_id v = node->outputs[i];
            if (v >= g->num_values)
                return fail(err, NODE_FMT "output %u is value %u of %u", NODE_ARGS(node, n), i, v, g->num_values);
            if (g->values[v].producer != (int32_t)n || g->values[v].producer_output != i)
                return fail(err, NODE_FMT "output %u %%%s is produced elsewhere (node %d output %u)",
                            NODE_ARGS(node, n), i, value_name(g, v), g->values[v].producer,
                            g->values[v].producer_output);
        }
    }
    return D2_OK;
}

/* ---- nodes ---------------------------------------------------------------------- */

static enum d2_status check_attributes(const struct d2_node *node, uint32_t n, const struct d2_op_info *info,
                                       struct d2_error *err)
{
    const struct d2_attr_schema *schema = d2_attr_schema_get(info->attrs);
    if (!node->attrs)
        return fail(err, NODE_FMT "has no attribute struct", NODE_ARGS(node, n));
    for (uint32_t i = 0; schema && i < schema->num_fields; i++) {
        const struct d2_attr_field *f = &schema->fields[i];
        const char *slot = (const char *)node->attrs + f->offset;
        if (f->kind == D2_FIELD_ENUM) {
            int32_t v;
            memcpy(&v, slot, sizeof v);
            if (!d2_attr_enum_name(f, v))
                return fail(err, NODE_FMT "attribute %s = %d is not a valid enum value", NODE_ARGS(node, n),
                            f->name, (int)v);
        } else if (f->kind == D2_FIELD_DTYPE) {
            enum d2_dtype v;
            memcpy(&v, slot, sizeof v);
            if ((unsigned)v >= D2_DTYPE_COUNT)
                return fail(err, NODE_FMT "attribute %s = %d is not a dtype", NODE_ARGS(node, n), f->name, (int)v);
        } else if (f->kind == D2_FIELD_INTS || f->kind == D2_FIELD_FLOATS) {
            struct d2_ints v; /* same layout as d2_floats: pointer then count */
            const void *data;
            uint32_t count;
            if (f->kind == D2_FIELD_INTS) {
                memcpy(&v, slot, sizeof v);
                data = v.data, count = v.count;
            } else {
                struct d2_floats fv;
                memcpy(&fv, slot, sizeof fv);
                data = fv.data, count = fv.count;
            }
            if (count > 0 && !data)
                return fail(err, NODE_FMT "attribute %s has %u elements but no data", NODE_ARGS(node, n), f->name,
                            count);
        }
    }
    return D2_OK;
}

/* Region signatures of the control-flow ops (docs/IR.md "Model"). */
static enum d2_status check_region_signatures(const struct d2_node *node, uint32_t n, struct d2_error *err)
{
    if (node->op == D2_OP_IF) {
        for (uint32_t r = 0; r < 2; r++) {
            const struct d2_graph *region = node->regions[r];
            if (region->num_inputs != node->num_inputs - 1 || region->num_outputs != node->num_outputs)
                return fail(err, NODE_FMT "region %s takes %u inputs and returns %u outputs; the node has "
                                 "%u captures and %u outputs",
                            NODE_ARGS(node, n), r == 0 ? "then" : "else", region->num_inputs, region->num_outputs,
                            node->num_inputs - 1, node->num_outputs);
        }
    } else if (node->op == D2_OP_LOOP) {
        const struct d2_graph *body = node->regions[0];
        int64_t carried = ((const struct d2_attrs_loop *)node->attrs)->num_carried;
        if (carried < 0 || carried > (int64_t)node->num_inputs - 2 || carried > node->num_outputs)
            return fail(err, NODE_FMT "num_carried=%lld does not fit %u inputs and %u outputs", NODE_ARGS(node, n),
                        (long long)carried, node->num_inputs, node->num_outputs);
        if (body->num_inputs != node->num_inputs || body->num_outputs != node->num_outputs + 1)
            return fail(err, NODE_FMT "body takes %u inputs and returns %u outputs; expected %u and %u",
                        NODE_ARGS(node, n), body->num_inputs, body->num_outputs, node->num_inputs,
                        node->num_outputs + 1);
    }
    return D2_OK;
}

static enum d2_status check_arity(const struct d2_graph *g, const struct d2_node *node, uint32_t n,
                                  const struct d2_op_info *info, struct d2_error *err)
{
    if (node->num_inputs < info->min_inputs ||
        (info->max_inputs != D2_VARIADIC && node->num_inputs > info->max_inputs))
        return fail(err, NODE_FMT "has %u inputs; the op takes %u to %s", NODE_ARGS(node, n), node->num_inputs,
                    info->min_inputs, info->max_inputs == D2_VARIADIC ? "any number" : "the maximum in ops.def");
    if (node->num_outputs < info->min_outputs ||
        (info->max_outputs != D2_VARIADIC && node->num_outputs > info->max_outputs))
        return fail(err, NODE_FMT "has %u outputs; the op produces %u to %s", NODE_ARGS(node, n), node->num_outputs,
                    info->min_outputs, info->max_outputs == D2_VARIADIC ? "any number" : "the maximum in ops.def");
    if (node->num_regions != info->num_regions)
        return fail(err, NODE_FMT "has %u regions; the op needs %u", NODE_ARGS(node, n), node->num_regions,
                    info->num_regions);
    for (uint32_t r = 0; r < node->num_regions; r++)
        if (!node->regions || !node->regions[r] || node->regions[r]->parent != g)
            return fail(err, NODE_FMT "region %u is missing or has the wrong parent", NODE_ARGS(node, n), r);
    for (uint32_t i = 0; i < node->num_inputs; i++) {
        /* Loop's M and cond are optional although they hold positions 0 and 1; the
         * variadic tails (captures, carried values, concat inputs) are never omitted. */
        bool optional = node->op == D2_OP_LOOP ? i < 2 : i >= info->min_inputs && info->max_inputs != D2_VARIADIC;
        if (node->inputs[i] == D2_NO_VALUE && !optional)
            return fail(err, NODE_FMT "required input %u is missing", NODE_ARGS(node, n), i);
    }
    return D2_OK;
}

/* Re-run the op's shape function on the stored input types; every fact both the
 * result and the stored output type know must agree. */
static enum d2_status check_types(const struct d2_graph *g, const struct d2_node *node, uint32_t n,
                                  struct d2_error *err)
{
    d2_shape_fn fn = d2_shape_function(node->op);
    const struct d2_type **in_types;
    const struct d2_tensor **in_values;
    struct d2_type *out_types;
    struct d2_shape_ctx ctx;
    struct d2_error shape_err = { D2_OK, "" };
    enum d2_status st = D2_OK;
    if (!fn)
        return D2_OK;
    in_types = d2_calloc(g->alloc, node->num_inputs + 1, sizeof *in_types);
    in_values = d2_calloc(g->alloc, node->num_inputs + 1, sizeof *in_values);
    out_types = d2_calloc(g->alloc, node->num_outputs + 1, sizeof *out_types);
    if (!in_types || !in_values || !out_types) {
        st = d2_errorf(err, D2_ERR_NOMEM, "out of memory verifying the graph");
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
    ctx.err = &shape_err;
    if (fn(&ctx) != D2_OK) {
        /* Inside a region (an if branch or a loop body) the inputs may be ones the
         * region never sees at run time; d2_infer_graph defers such errors, so does
         * the verifier (the executor reports them if the region runs). */
        if (g->parent && shape_err.code == D2_ERR_SHAPE)
            goto done;
        st = fail(err, NODE_FMT "shape inference fails on the stored input types: %s", NODE_ARGS(node, n),
                  shape_err.message);
        goto done;
    }
    for (uint32_t i = 0; i < node->num_outputs && st == D2_OK; i++) {
        const struct d2_type *stored = &g->values[node->outputs[i]].type, *inferred = &out_types[i];
        if (stored->dtype != D2_DTYPE_UNDEFINED && inferred->dtype != D2_DTYPE_UNDEFINED &&
            stored->dtype != inferred->dtype) {
            st = fail(err, NODE_FMT "output %%%s is stored as %s, shape inference says %s", NODE_ARGS(node, n),
                      value_name(g, node->outputs[i]), d2_dtype_name(stored->dtype), d2_dtype_name(inferred->dtype));
        } else if (stored->rank >= 0 && inferred->rank >= 0 && stored->rank != inferred->rank) {
            st = fail(err, NODE_FMT "output %%%s is stored with rank %d, shape inference says %d",
                      NODE_ARGS(node, n), value_name(g, node->outputs[i]), (int)stored->rank, (int)inferred->rank);
        } else if (stored->rank >= 0 && inferred->rank >= 0) {
            for (int32_t d = 0; d < stored->rank && st == D2_OK; d++)
                if (stored->dims[d] >= 0 && inferred->dims[d] >= 0 && stored->dims[d] != inferred->dims[d])
                    st = fail(err, NODE_FMT "output %%%s dim %d is stored as %lld, shape inference says %lld",
                              NODE_ARGS(node, n), value_name(g, node->outputs[i]), (int)d,
                              (long long)stored->dims[d], (long long)inferred->dims[d]);
        }
    }
done:
    d2_free(g->alloc, (void *)in_types);
    d2_free(g->alloc, (void *)in_values);
    d2_free(g->alloc, out_types);
    return st;
}

/* ---- graph ---------------------------------------------------------------------- */

static enum d2_status verify_graph(const struct d2_graph *g, int depth, struct d2_error *err)
{
    bool *defined = NULL;
    enum d2_status st;
    if (depth > 64)
        return fail(err, "regions nested deeper than 64");
    if ((st = check_value_names(g, err)) != D2_OK || (st = check_producers(g, err)) != D2_OK)
        return st;
    defined = d2_calloc(g->alloc, g->num_values + 1, sizeof *defined);
    if (!defined)
        return d2_errorf(err, D2_ERR_NOMEM, "out of memory verifying the graph");
    for (uint32_t v = 0; v < g->num_values; v++)
        defined[v] = g->values[v].producer < 0; /* inputs and constants: defined up front */
    for (uint32_t n = 0; n < g->num_nodes && st == D2_OK; n++) {
        const struct d2_node *node = &g->nodes[n];
        const struct d2_op_info *info = d2_op_info(node->op);
        if (!info) {
            st = fail(err, "node '%s' #%u has invalid op %d", node->name ? node->name : "", n, (int)node->op);
            break;
        }
        for (uint32_t i = 0; i < node->num_inputs && st == D2_OK; i++) {
            d2_value_id v = node->inputs[i];
            if (v == D2_NO_VALUE)
                continue;
            if (v >= g->num_values)
                st = fail(err, NODE_FMT "input %u is value %u of %u", NODE_ARGS(node, n), i, v, g->num_values);
            else if (!defined[v])
                st = fail(err, NODE_FMT "input %u %%%s is used before it is defined", NODE_ARGS(node, n), i,
                          g->values[v].name);
        }
        if (st == D2_OK)
            st = check_arity(g, node, n, info, err);
        if (st == D2_OK)
            st = check_attributes(node, n, info, err);
        if (st == D2_OK)
            st = check_region_signatures(node, n, err);
        for (uint32_t r = 0; r < node->num_regions && st == D2_OK; r++) {
            st = verify_graph(node->regions[r], depth + 1, err);
            if (st != D2_OK)
                d2_error_prefix(err, NODE_FMT "region %u: ", NODE_ARGS(node, n), r);
        }
        if (st == D2_OK)
            st = check_types(g, node, n, err);
        for (uint32_t i = 0; i < node->num_outputs; i++)
            defined[node->outputs[i]] = true;
    }
    for (uint32_t i = 0; i < g->num_outputs && st == D2_OK; i++)
        if (g->outputs[i] >= g->num_values)
            st = fail(err, "graph output %u is value %u of %u", i, g->outputs[i], g->num_values);
    d2_free(g->alloc, defined);
    return st;
}

enum d2_status d2_verify_graph(const struct d2_graph *g, struct d2_error *err)
{
    if (!g)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "d2_verify_graph: graph is NULL");
    return verify_graph(g, 0, err);
}
