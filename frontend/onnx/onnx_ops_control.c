/* frontend/onnx/onnx_ops_control.c: Constant, If and Loop.
 *
 * Constant nodes become graph constants named like their output (no IR node).
 * If and Loop become IR control-flow nodes whose regions are built from the ONNX
 * bodies; the values a body reads from enclosing graphs become explicit captures
 * (extra node inputs mirrored by region inputs), see docs/IR.md.
 */
#include "frontend/onnx/onnx_internal.h"

#include <string.h>

static enum d2_status fail(struct onnx_node_ctx *ctx)
{
    return ctx->imp->err->code != D2_OK ? ctx->imp->err->code : D2_ERR_INTERNAL;
}

/* ---- Constant ---- */

static enum d2_status scalar_or_list(struct onnx_node_ctx *ctx, const Onnx__AttributeProto *a, struct d2_tensor *t)
{
    bool is_float = strncmp(a->name, "value_float", 11) == 0;
    bool is_list = a->name[strlen(a->name) - 1] == 's';
    size_t n = is_list ? (is_float ? a->n_floats : a->n_ints) : 1;
    int64_t dims[1] = {(int64_t)n};
    if ((is_float && !is_list && !a->has_f) || (!is_float && !is_list && !a->has_i))
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute '%s' has no value", a->name);
    if (d2_tensor_alloc(t, ctx->g->alloc, is_float ? D2_DTYPE_F32 : D2_DTYPE_I64, is_list ? 1 : 0, dims,
                        ctx->imp->err) != D2_OK)
        return fail(ctx);
    for (size_t i = 0; i < n; i++) {
        if (is_float)
            ((float *)t->data)[i] = is_list ? a->floats[i] : a->f;
        else
            ((int64_t *)t->data)[i] = is_list ? a->ints[i] : a->i;
    }
    return D2_OK;
}

enum d2_status onnx_convert_constant(struct onnx_node_ctx *ctx)
{
    const Onnx__AttributeProto *value = NULL;
    struct d2_tensor t;
    enum d2_status st;
    if (ctx->num_outputs != 1 || !ctx->proto->output[0] || !*ctx->proto->output[0])
        return onnx_node_error(ctx, D2_ERR_PARSE, "Constant needs exactly one named output");
    if (ctx->proto->n_attribute != 1)
        return onnx_node_error(ctx, D2_ERR_PARSE, "Constant needs exactly one value attribute, has %zu",
                               ctx->proto->n_attribute);
    value = ctx->proto->attribute[0];
    const char *name = value->name ? value->name : "";
    if (strcmp(name, "value") == 0) {
        if (!value->t)
            return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'value' should be a tensor");
        st = onnx_tensor_decode(value->t, ctx->imp->base_dir, ctx->g->alloc, &t, "Constant value", ctx->imp->err);
        if (st != D2_OK) {
            char msg[D2_ERROR_MESSAGE_MAX];
            memcpy(msg, ctx->imp->err->message, sizeof msg);
            d2_error_clear(ctx->imp->err);
            return onnx_node_error(ctx, st, "%s", msg);
        }
    } else if (strcmp(name, "value_float") == 0 || strcmp(name, "value_floats") == 0 ||
               strcmp(name, "value_int") == 0 || strcmp(name, "value_ints") == 0) {
        if ((st = scalar_or_list(ctx, value, &t)) != D2_OK)
            return st;
    } else if (strcmp(name, "value_string") == 0 || strcmp(name, "value_strings") == 0) {
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "string constants are not supported");
    } else if (strcmp(name, "sparse_value") == 0) {
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "sparse constants are not supported");
    } else {
        return onnx_node_error(ctx, D2_ERR_PARSE, "unknown attribute '%s'", name);
    }
    ctx->outputs[0] = d2_graph_add_constant(ctx->g, ctx->proto->output[0], &t, ctx->imp->err);
    return ctx->outputs[0] == D2_NO_VALUE ? fail(ctx) : D2_OK;
}

/* ---- If, Loop ---- */

static const Onnx__GraphProto *graph_attr(struct onnx_node_ctx *ctx, const char *name)
{
    const Onnx__AttributeProto *a = onnx_attr(ctx, name);
    if (!a || !a->g) {
        onnx_node_error(ctx, D2_ERR_PARSE, "graph attribute '%s' is missing", name);
        return NULL;
    }
    return a->g;
}

enum d2_status onnx_convert_if(struct onnx_node_ctx *ctx)
{
    const Onnx__GraphProto *then_g = graph_attr(ctx, "then_branch");
    const Onnx__GraphProto *else_g = then_g ? graph_attr(ctx, "else_branch") : NULL;
    d2_value_id *caps = NULL, *ins = NULL;
    uint32_t ncap = 0, cap = 0;
    enum d2_status st;
    if (!then_g || !else_g)
        return fail(ctx);
    if (ctx->num_inputs != 1 || ctx->inputs[0] == D2_NO_VALUE)
        return onnx_node_error(ctx, D2_ERR_PARSE, "If takes exactly one input (cond)");
    if (then_g->n_output != ctx->num_outputs || else_g->n_output != ctx->num_outputs)
        return onnx_node_error(ctx, D2_ERR_PARSE, "branches return %zu and %zu values, the node has %u outputs",
                               then_g->n_output, else_g->n_output, ctx->num_outputs);
    if ((st = onnx_collect_captures(ctx, then_g, &caps, &ncap, &cap)) != D2_OK ||
        (st = onnx_collect_captures(ctx, else_g, &caps, &ncap, &cap)) != D2_OK)
        goto done;
    ins = d2_calloc(ctx->imp->alloc, ncap + 1u, sizeof *ins);
    if (!ins) {
        st = d2_errorf(ctx->imp->err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    ins[0] = ctx->inputs[0];
    for (uint32_t i = 0; i < ncap; i++)
        ins[1 + i] = caps[i];
    if (!onnx_emit_main(ctx, D2_OP_IF, 1 + ncap, ins, ctx->num_outputs)) {
        st = fail(ctx);
        goto done;
    }
    struct d2_node *node = &ctx->g->nodes[ctx->main_node];
    struct d2_graph *then_r = node->regions[0], *else_r = node->regions[1];
    if ((st = onnx_build_region(ctx, then_g, then_r, 0, NULL, ncap, caps)) != D2_OK ||
        (st = onnx_build_region(ctx, else_g, else_r, 0, NULL, ncap, caps)) != D2_OK)
        goto done;
done:
    d2_free(ctx->imp->alloc, caps);
    d2_free(ctx->imp->alloc, ins);
    return st;
}

enum d2_status onnx_convert_loop(struct onnx_node_ctx *ctx)
{
    const Onnx__GraphProto *body = graph_attr(ctx, "body");
    d2_value_id *caps = NULL, *ins = NULL;
    struct d2_type *formal = NULL;
    uint32_t ncap = 0, cap = 0;
    enum d2_status st;
    if (!body)
        return fail(ctx);
    if (ctx->num_inputs < 2)
        return onnx_node_error(ctx, D2_ERR_PARSE, "Loop needs inputs M and cond (possibly empty)");
    uint32_t carried = ctx->num_inputs - 2;
    if (body->n_input != 2u + carried)
        return onnx_node_error(ctx, D2_ERR_PARSE, "body has %zu inputs, expected %u (iteration, cond, %u carried)",
                               body->n_input, 2u + carried, carried);
    if (body->n_output < 1u + carried || body->n_output - 1u != ctx->num_outputs)
        return onnx_node_error(ctx, D2_ERR_PARSE, "body has %zu outputs, expected 1 + %u node outputs",
                               body->n_output, ctx->num_outputs);
    if (ctx->num_outputs < carried)
        return onnx_node_error(ctx, D2_ERR_PARSE, "fewer outputs than loop-carried values");
    if ((st = onnx_collect_captures(ctx, body, &caps, &ncap, &cap)) != D2_OK)
        goto done;
    ins = d2_calloc(ctx->imp->alloc, ctx->num_inputs + ncap, sizeof *ins);
    formal = d2_calloc(ctx->imp->alloc, 2u + carried, sizeof *formal);
    if (!ins || !formal) {
        st = d2_errorf(ctx->imp->err, D2_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < ctx->num_inputs; i++)
        ins[i] = ctx->inputs[i];
    for (uint32_t i = 0; i < ncap; i++)
        ins[ctx->num_inputs + i] = caps[i];
    /* Body inputs the model leaves untyped: iteration i64[], cond bool[], carried
     * values typed like their initial values. */
    d2_type_init(&formal[0], D2_DTYPE_I64, 0, NULL);
    d2_type_init(&formal[1], D2_DTYPE_BOOL, 0, NULL);
    for (uint32_t i = 0; i < carried; i++) {
        d2_value_id v = ctx->inputs[2 + i];
        if (v == D2_NO_VALUE) {
            st = onnx_node_error(ctx, D2_ERR_PARSE, "loop-carried input %u is empty", i);
            goto done;
        }
        formal[2 + i] = ctx->g->values[v].type;
    }
    /* The IR loop has no omitted-slot trimming: keep M and cond positions as given. */
    int32_t n = onnx_emit(ctx, D2_OP_LOOP, ctx->num_inputs + ncap, ins, ctx->num_outputs, true);
    if (n < 0) {
        st = fail(ctx);
        goto done;
    }
    for (uint32_t i = 0; i < ctx->num_outputs; i++)
        ctx->outputs[i] = d2_node_output(ctx->g, n, i);
    ((struct d2_attrs_loop *)d2_node_attrs(ctx->g, n))->num_carried = carried;
    st = onnx_build_region(ctx, body, ctx->g->nodes[n].regions[0], 2u + carried, formal, ncap, caps);
    /* A loop-carried value may change shape from one iteration to the next (a list the
     * body appends to: torchvision's paste_masks loop). Exporters still declare the body
     * input with the initial value's dims (e.g. [0,128,160]), which holds only for
     * iteration 0, so only its dtype and rank are kept; inference derives the rest. */
    for (uint32_t i = 0; st == D2_OK && i < carried; i++) {
        struct d2_graph *body_g = ctx->g->nodes[n].regions[0];
        struct d2_type *t = &body_g->values[body_g->inputs[2 + i]].type;
        for (int32_t d = 0; d < t->rank; d++) {
            t->dims[d] = D2_DIM_UNKNOWN;
            t->symbols[d] = NULL;
            t->upper_bounds[d] = -1;
        }
    }
done:
    d2_free(ctx->imp->alloc, caps);
    d2_free(ctx->imp->alloc, ins);
    d2_free(ctx->imp->alloc, formal);
    return st;
}
