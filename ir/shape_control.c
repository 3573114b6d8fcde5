/* ir/shape_control.c: shape functions of the control-flow ops `if` and `loop`.
 *
 * Semantics (docs/IR.md, ops.def): regions are self-contained graphs; the values they
 * read from the enclosing graph are passed as trailing node inputs ("captures").
 *   if(cond, captures...)              regions then/else take the captures, return
 *                                      one value per node output.
 *   loop(M?, cond?, v_1..v_N, caps...) body(i, cond, v_1..v_N, caps...) returns
 *                                      (cond, v_1'..v_N', scan_1..scan_K); the node
 *                                      outputs (v final, scans stacked on a new axis 0).
 * The output types come from the regions' (already inferred) output types. When the
 * branch taken is known (a constant condition, or any run-time call), `if` takes
 * that branch's types; otherwise the two branches' types are merged: what both agree
 * on stays, the rest becomes unknown. Loop-carried values may change shape from one
 * iteration to the next, so their type is the merge of the initial value and the body
 * result.
 */
#include "ir.h"

#include <string.h>

/* Looked up by name through the table in ir/shape.c. */
enum d2_status d2_shape_if(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_loop(struct d2_shape_ctx *ctx);

/* The type both a and b fit: agreeing dtype, rank and dims are kept. */
static void merge_types(const struct d2_type *a, const struct d2_type *b, struct d2_type *out)
{
    d2_type_init_unknown(out);
    if (a->dtype == b->dtype)
        out->dtype = a->dtype;
    else if (a->dtype == D2_DTYPE_UNDEFINED)
        out->dtype = b->dtype;
    else if (b->dtype == D2_DTYPE_UNDEFINED)
        out->dtype = a->dtype;
    if (a->rank != b->rank || a->rank < 0)
        return;
    out->rank = a->rank;
    for (int32_t d = 0; d < a->rank; d++) {
        if (a->dims[d] >= 0 && a->dims[d] == b->dims[d]) {
            out->dims[d] = a->dims[d];
        } else {
            out->dims[d] = D2_DIM_UNKNOWN;
            if (a->symbols[d] && b->symbols[d] && strcmp(a->symbols[d], b->symbols[d]) == 0)
                out->symbols[d] = a->symbols[d];
            if (a->upper_bounds[d] >= 0 || b->upper_bounds[d] >= 0) {
                int64_t ua = a->dims[d] >= 0 ? a->dims[d] : a->upper_bounds[d];
                int64_t ub = b->dims[d] >= 0 ? b->dims[d] : b->upper_bounds[d];
                if (ua >= 0 && ub >= 0)
                    out->upper_bounds[d] = ua > ub ? ua : ub;
            }
        }
    }
}

/* A condition is a bool (or number) tensor holding exactly one element. */
static enum d2_status check_condition(struct d2_shape_ctx *ctx, uint32_t input, const char *what)
{
    const struct d2_type *t = ctx->input_types[input];
    if (!t)
        return D2_OK;
    if (t->rank > 1 || (t->rank == 1 && t->dims[0] >= 0 && t->dims[0] != 1))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must hold a single element", what);
    return D2_OK;
}

static const struct d2_type *region_output_type(const struct d2_graph *r, uint32_t i)
{
    return &r->values[r->outputs[i]].type;
}

enum d2_status d2_shape_if(struct d2_shape_ctx *ctx)
{
    const struct d2_node *n = ctx->node;
    const struct d2_graph *then_g, *else_g;
    const struct d2_tensor *cond = ctx->input_values[0];
    uint32_t captures = ctx->num_inputs - 1;
    enum d2_status st;

    if (n->num_regions != 2 || !n->regions[0] || !n->regions[1])
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "if needs two regions (then, else), has %u", n->num_regions);
    if (!ctx->input_types[0])
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "if needs a condition input");
    st = check_condition(ctx, 0, "the condition");
    if (st != D2_OK)
        return st;
    then_g = n->regions[0];
    else_g = n->regions[1];
    for (int r = 0; r < 2; r++) {
        const struct d2_graph *region = n->regions[r];
        const char *which = r == 0 ? "then" : "else";
        if (region->num_inputs != captures)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "region '%s' takes %u inputs but the node passes %u captures",
                             which, region->num_inputs, captures);
        if (region->num_outputs != ctx->num_outputs)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "region '%s' returns %u values, the node has %u outputs", which,
                             region->num_outputs, ctx->num_outputs);
    }
    if (cond && d2_tensor_numel(cond) != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "the condition must hold a single element, has %lld",
                         (long long)d2_tensor_numel(cond));
    for (uint32_t i = 0; i < ctx->num_outputs; i++) {
        if (cond) {
            bool taken = d2_load_f64(cond->data, cond->dtype, 0) != 0;
            ctx->output_types[i] = *region_output_type(taken ? then_g : else_g, i);
        } else {
            merge_types(region_output_type(then_g, i), region_output_type(else_g, i), &ctx->output_types[i]);
        }
    }
    return D2_OK;
}

enum d2_status d2_shape_loop(struct d2_shape_ctx *ctx)
{
    const struct d2_node *n = ctx->node;
    const struct d2_attrs_loop *attrs = n->attrs;
    const struct d2_graph *body;
    int64_t carried = attrs->num_carried;
    int64_t scans;
    int64_t trip_bound = -1;
    enum d2_status st;

    if (n->num_regions != 1 || !n->regions[0])
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "loop needs one region (body), has %u", n->num_regions);
    body = n->regions[0];
    if (carried < 0 || carried > (int64_t)ctx->num_inputs - 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "num_carried=%lld does not fit the %u inputs", (long long)carried,
                         ctx->num_inputs);
    if (body->num_inputs != ctx->num_inputs)
        return d2_errorf(ctx->err, D2_ERR_SHAPE,
                         "the body takes %u inputs, expected %u (iteration, cond, %lld carried, %u captures)",
                         body->num_inputs, ctx->num_inputs, (long long)carried,
                         ctx->num_inputs - 2 - (uint32_t)carried);
    if (body->num_outputs < 1 + carried)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "the body returns %u values, needs at least %lld (cond, carried)",
                         body->num_outputs, (long long)(1 + carried));
    scans = (int64_t)body->num_outputs - 1 - carried;
    if ((int64_t)ctx->num_outputs != carried + scans)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "the node has %u outputs, the body yields %lld carried + %lld scans",
                         ctx->num_outputs, (long long)carried, (long long)scans);
    if (ctx->input_types[0]) {
        st = check_condition(ctx, 0, "the trip count M");
        if (st != D2_OK)
            return st;
        if (ctx->input_values[0] && d2_tensor_numel(ctx->input_values[0]) == 1) {
            trip_bound = d2_tensor_get_i64(ctx->input_values[0], 0);
            if (trip_bound < 0)
                trip_bound = 0;
        }
    }
    if (ctx->input_types[1]) {
        st = check_condition(ctx, 1, "the loop condition");
        if (st != D2_OK)
            return st;
    }
    for (int64_t i = 0; i < carried; i++) {
        const struct d2_type *init = ctx->input_types[2 + i];
        if (!init)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "loop-carried input %lld is missing", (long long)i);
        merge_types(init, region_output_type(body, (uint32_t)(1 + i)), &ctx->output_types[i]);
    }
    for (int64_t k = 0; k < scans; k++) {
        const struct d2_type *per_iter = region_output_type(body, (uint32_t)(1 + carried + k));
        struct d2_type *out = &ctx->output_types[carried + k];
        d2_type_init_unknown(out);
        out->dtype = per_iter->dtype;
        if (per_iter->rank < 0)
            continue;
        if (per_iter->rank + 1 > D2_MAX_RANK)
            return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "scan output %lld would have rank %d, above %d",
                             (long long)k, (int)per_iter->rank + 1, D2_MAX_RANK);
        out->rank = per_iter->rank + 1;
        out->dims[0] = D2_DIM_UNKNOWN;
        out->upper_bounds[0] = trip_bound;
        for (int32_t d = 0; d < per_iter->rank; d++) {
            out->dims[d + 1] = per_iter->dims[d];
            out->symbols[d + 1] = per_iter->symbols[d];
            out->upper_bounds[d + 1] = per_iter->upper_bounds[d];
        }
    }
    return D2_OK;
}
