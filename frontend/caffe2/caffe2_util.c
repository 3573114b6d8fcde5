/* frontend/caffe2/caffe2_util.c: the Caffe2 converters' toolbox: errors that name the
 * operator, typed argument access with Caffe2's leniency, and helpers that emit IR
 * nodes and constants (see caffe2_internal.h). */
#include "frontend/caffe2/caffe2_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- errors ---- */

enum d2_status c2_error(struct c2_op_ctx *ctx, enum d2_status code, const char *fmt, ...)
{
    char reason[D2_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return d2_errorf(ctx->err, code, "%s: %s", ctx->where, reason);
}

/* ---- arguments ---- */

const struct c2_arg *c2_arg(const struct c2_op_ctx *ctx, const char *name)
{
    for (uint32_t i = 0; i < ctx->num_args; i++)
        if (ctx->args[i].name && strcmp(ctx->args[i].name, name) == 0)
            return &ctx->args[i];
    return NULL;
}

static enum d2_status wrong_kind(struct c2_op_ctx *ctx, const char *name, const char *want)
{
    return c2_error(ctx, D2_ERR_PARSE, "argument '%s' should be %s", name, want);
}

enum d2_status c2_arg_int(struct c2_op_ctx *ctx, const char *name, int64_t def, int64_t *out)
{
    const struct c2_arg *a = c2_arg(ctx, name);
    *out = def;
    if (!a)
        return D2_OK;
    if (a->kind == C2_ARG_INT) {
        *out = a->i;
        return D2_OK;
    }
    /* Writers sometimes store a whole-number value as a float (ONNX-converted nets). */
    if (a->kind == C2_ARG_FLOAT && a->f == floor(a->f) && fabs(a->f) < 9.0e15) {
        *out = (int64_t)a->f;
        return D2_OK;
    }
    return wrong_kind(ctx, name, "an int");
}

enum d2_status c2_arg_float(struct c2_op_ctx *ctx, const char *name, double def, double *out)
{
    const struct c2_arg *a = c2_arg(ctx, name);
    *out = def;
    if (!a)
        return D2_OK;
    if (a->kind == C2_ARG_FLOAT)
        *out = a->f;
    else if (a->kind == C2_ARG_INT) /* e.g. roi_canonical_scale i: 224 */
        *out = (double)a->i;
    else
        return wrong_kind(ctx, name, "a float");
    return D2_OK;
}

enum d2_status c2_arg_string(struct c2_op_ctx *ctx, const char *name, const char *def, const char **out)
{
    const struct c2_arg *a = c2_arg(ctx, name);
    *out = def;
    if (!a)
        return D2_OK;
    if (a->kind != C2_ARG_STRING)
        return wrong_kind(ctx, name, "a string");
    if (a->s.len && memchr(a->s.data, 0, a->s.len))
        return c2_error(ctx, D2_ERR_PARSE, "argument '%s' contains a NUL byte", name);
    *out = d2_arena_strndup(&ctx->g->arena, a->s.len ? (const char *)a->s.data : "", a->s.len);
    if (!*out)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "out of memory");
    return D2_OK;
}

enum d2_status c2_arg_ints(struct c2_op_ctx *ctx, const char *name, int64_t *out, uint32_t cap, uint32_t *count)
{
    const struct c2_arg *a = c2_arg(ctx, name);
    *count = 0;
    if (!a || a->kind == C2_ARG_EMPTY)
        return D2_OK;
    if (a->kind == C2_ARG_INT) {
        if (cap < 1)
            return c2_error(ctx, D2_ERR_UNSUPPORTED, "argument '%s' has too many values", name);
        out[0] = a->i;
        *count = 1;
        return D2_OK;
    }
    if (a->kind != C2_ARG_INTS)
        return wrong_kind(ctx, name, "a list of ints");
    if (a->count > cap)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "argument '%s' has %zu values, at most %u are supported", name,
                        a->count, cap);
    memcpy(out, a->ints, a->count * sizeof *out);
    *count = (uint32_t)a->count;
    return D2_OK;
}

enum d2_status c2_arg_floats(struct c2_op_ctx *ctx, const char *name, double *out, uint32_t cap, uint32_t *count)
{
    const struct c2_arg *a = c2_arg(ctx, name);
    *count = 0;
    if (!a || a->kind == C2_ARG_EMPTY)
        return D2_OK;
    if (a->kind != C2_ARG_FLOATS)
        return wrong_kind(ctx, name, "a list of floats");
    if (a->count > cap)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "argument '%s' has %zu values, at most %u are supported", name,
                        a->count, cap);
    for (size_t i = 0; i < a->count; i++)
        out[i] = a->floats[i];
    *count = (uint32_t)a->count;
    return D2_OK;
}

enum d2_status c2_arg_require(struct c2_op_ctx *ctx, const char *name, int64_t allowed, int64_t def)
{
    int64_t v;
    C2_TRY(c2_arg_int(ctx, name, def, &v));
    if (v != allowed)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "%s=%lld is not supported (only %lld)", name, (long long)v,
                        (long long)allowed);
    return D2_OK;
}

enum d2_status c2_require_nchw(struct c2_op_ctx *ctx)
{
    const char *order;
    C2_TRY(c2_arg_string(ctx, "order", "NCHW", &order));
    if (strcmp(order, "NCHW") != 0)
        return c2_error(ctx, D2_ERR_UNSUPPORTED, "order='%s' is not supported (only NCHW)", order);
    return D2_OK;
}

enum d2_status c2_check_arity(struct c2_op_ctx *ctx, uint32_t min_in, uint32_t max_in, uint32_t min_out,
                              uint32_t max_out)
{
    if (ctx->num_inputs < min_in || ctx->num_inputs > max_in)
        return c2_error(ctx, D2_ERR_PARSE, "%u inputs, expected %u to %u", ctx->num_inputs, min_in, max_in);
    if (ctx->num_outputs < min_out || ctx->num_outputs > max_out)
        return c2_error(ctx, D2_ERR_PARSE, "%u outputs, expected %u to %u", ctx->num_outputs, min_out, max_out);
    return D2_OK;
}

/* ---- emitting ---- */

int32_t c2_emit(struct c2_op_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                uint32_t num_outputs, const char *const *names, void **attrs_out)
{
    int32_t node = d2_graph_add_node(ctx->g, op, ctx->node_name ? ctx->node_name : "", num_inputs, inputs,
                                     num_outputs, names, ctx->err);
    if (node >= 0 && attrs_out)
        *attrs_out = d2_node_attrs(ctx->g, node);
    return node;
}

d2_value_id c2_node(struct c2_op_ctx *ctx, enum d2_op op, uint32_t num_inputs, const d2_value_id *inputs,
                    void **attrs_out)
{
    int32_t node = c2_emit(ctx, op, num_inputs, inputs, 1, NULL, attrs_out);
    return node < 0 ? D2_NO_VALUE : d2_node_output(ctx->g, node, 0);
}

d2_value_id c2_node_named(struct c2_op_ctx *ctx, uint32_t slot, enum d2_op op, uint32_t num_inputs,
                          const d2_value_id *inputs, void **attrs_out)
{
    const char *name = ctx->output_names && slot < ctx->num_outputs ? ctx->output_names[slot] : NULL;
    int32_t node = c2_emit(ctx, op, num_inputs, inputs, 1, &name, attrs_out);
    if (node < 0)
        return D2_NO_VALUE;
    d2_value_id v = d2_node_output(ctx->g, node, 0);
    if (slot < ctx->num_outputs)
        ctx->outputs[slot] = v;
    return v;
}

d2_value_id c2_identity_named(struct c2_op_ctx *ctx, uint32_t slot, d2_value_id x)
{
    return c2_node_named(ctx, slot, D2_OP_IDENTITY, 1, &x, NULL);
}

enum d2_status c2_infer_pending(struct c2_op_ctx *ctx)
{
    for (uint32_t n = ctx->first_node; n < ctx->g->num_nodes; n++) {
        enum d2_status st = d2_infer_node(ctx->g, (int32_t)n, ctx->err);
        if (st != D2_OK) {
            d2_error_prefix(ctx->err, "%s: ", ctx->where);
            return st;
        }
    }
    ctx->first_node = ctx->g->num_nodes;
    return D2_OK;
}

/* ---- constants ---- */

static d2_value_id add_const(struct c2_op_ctx *ctx, enum d2_dtype dtype, int32_t rank, int64_t count,
                             const void *data)
{
    struct d2_tensor t;
    int64_t dims[1] = { count };
    if (d2_tensor_alloc(&t, ctx->g->alloc, dtype, rank, dims, ctx->err) != D2_OK)
        return D2_NO_VALUE;
    if (t.nbytes)
        memcpy(t.data, data, t.nbytes);
    return d2_graph_add_constant(ctx->g, NULL, &t, ctx->err);
}

d2_value_id c2_const_i64(struct c2_op_ctx *ctx, const int64_t *vals, uint32_t count)
{
    return add_const(ctx, D2_DTYPE_I64, 1, count, vals);
}

d2_value_id c2_const_i64_scalar(struct c2_op_ctx *ctx, int64_t v)
{
    return add_const(ctx, D2_DTYPE_I64, 0, 1, &v);
}

d2_value_id c2_const_f32(struct c2_op_ctx *ctx, const float *vals, uint32_t count)
{
    return add_const(ctx, D2_DTYPE_F32, 1, count, vals);
}

d2_value_id c2_const_scalar(struct c2_op_ctx *ctx, enum d2_dtype dtype, double v)
{
    struct d2_tensor t;
    if (d2_tensor_alloc(&t, ctx->g->alloc, dtype, 0, NULL, ctx->err) != D2_OK)
        return D2_NO_VALUE;
    if (d2_dtype_is_float(dtype))
        d2_store_f64(t.data, dtype, 0, v);
    else
        d2_store_i64(t.data, dtype, 0, (int64_t)v);
    return d2_graph_add_constant(ctx->g, NULL, &t, ctx->err);
}

/* ---- small compositions ---- */

d2_value_id c2_cast(struct c2_op_ctx *ctx, d2_value_id x, enum d2_dtype to)
{
    struct d2_attrs_cast *a;
    if (x == D2_NO_VALUE)
        return D2_NO_VALUE;
    d2_value_id y = c2_node(ctx, D2_OP_CAST, 1, &x, (void **)&a);
    if (y != D2_NO_VALUE)
        a->to = to;
    return y;
}

d2_value_id c2_slice(struct c2_op_ctx *ctx, d2_value_id x, int64_t axis, int64_t begin, int64_t end)
{
    d2_value_id in[4] = { x, c2_const_i64(ctx, &begin, 1), c2_const_i64(ctx, &end, 1), c2_const_i64(ctx, &axis, 1) };
    if (x == D2_NO_VALUE || in[1] == D2_NO_VALUE || in[2] == D2_NO_VALUE || in[3] == D2_NO_VALUE)
        return D2_NO_VALUE;
    return c2_node(ctx, D2_OP_SLICE, 4, in, NULL);
}

d2_value_id c2_reshape(struct c2_op_ctx *ctx, d2_value_id x, const int64_t *shape, uint32_t rank)
{
    d2_value_id in[2] = { x, c2_const_i64(ctx, shape, rank) };
    if (x == D2_NO_VALUE || in[1] == D2_NO_VALUE)
        return D2_NO_VALUE;
    return c2_node(ctx, D2_OP_RESHAPE, 2, in, NULL);
}

d2_value_id c2_gather(struct c2_op_ctx *ctx, d2_value_id x, d2_value_id indices, int64_t axis)
{
    struct d2_attrs_axis *a;
    d2_value_id in[2] = { x, indices };
    if (x == D2_NO_VALUE || indices == D2_NO_VALUE)
        return D2_NO_VALUE;
    d2_value_id y = c2_node(ctx, D2_OP_GATHER, 2, in, (void **)&a);
    if (y != D2_NO_VALUE)
        a->axis = axis;
    return y;
}

d2_value_id c2_binary(struct c2_op_ctx *ctx, enum d2_op op, d2_value_id a, d2_value_id b)
{
    d2_value_id in[2] = { a, b };
    if (a == D2_NO_VALUE || b == D2_NO_VALUE)
        return D2_NO_VALUE;
    return c2_node(ctx, op, 2, in, NULL);
}

d2_value_id c2_unary(struct c2_op_ctx *ctx, enum d2_op op, d2_value_id x)
{
    if (x == D2_NO_VALUE)
        return D2_NO_VALUE;
    return c2_node(ctx, op, 1, &x, NULL);
}

d2_value_id c2_dim(struct c2_op_ctx *ctx, d2_value_id x, int64_t axis)
{
    const struct d2_type *t = c2_type(ctx, x);
    int64_t ax = axis;
    if (t->rank >= 0 && d2_normalize_axis(axis, t->rank, &ax) && t->dims[ax] >= 0)
        return c2_const_i64(ctx, &t->dims[ax], 1);
    struct d2_attrs_shape *a;
    d2_value_id s = c2_node(ctx, D2_OP_SHAPE, 1, &x, (void **)&a);
    if (s == D2_NO_VALUE)
        return D2_NO_VALUE;
    a->start = axis;
    a->end = axis == -1 ? INT64_MAX : axis + 1;
    return s;
}
