/* frontend/onnx/onnx_ops_lower.c: converters that rewrite older ONNX op forms onto the
 * IR's (latest-opset) form.
 *
 * The recurring rewrite: an attribute that a later opset turned into an input (Slice
 * starts/ends/axes < 10, Split split < 13, Squeeze/Unsqueeze axes < 13, ReduceSum axes
 * < 13 and the other reductions < 18, Pad pads/value < 11, Clip min/max < 11, TopK k
 * < 10, Upsample scales < 9) becomes a constant input. Semantics that changed:
 *   - Softmax/LogSoftmax/Hardmax < 13 coerce the input to 2-D at `axis` (default 1):
 *     flatten(axis) -> op(axis=1) -> reshape to shape(x); when axis is the last dim
 *     (known rank) the two forms agree and the plain op is used.
 *   - Resize-10 and Upsample: asymmetric coordinates, nearest picks floor.
 *   - Dropout is inference-only: identity, and an all-ones mask if asked for (nothing
 *     is dropped; bool from opset 10, the input's type before).
 *   - BatchNormalization's training outputs equal the running statistics in
 *     inference mode; training_mode=1 is rejected.
 */
#include "frontend/onnx/onnx_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define TRY(expr)                                 \
    do {                                          \
        enum d2_status st_ = (expr);              \
        if (st_ != D2_OK)                         \
            return st_;                           \
    } while (0)

static d2_value_id in(const struct onnx_node_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->inputs[i] : D2_NO_VALUE;
}

static enum d2_status fail(struct onnx_node_ctx *ctx)
{
    return ctx->imp->err->code != D2_OK ? ctx->imp->err->code : D2_ERR_INTERNAL;
}

static enum d2_status need_input(struct onnx_node_ctx *ctx, uint32_t i, const char *what)
{
    if (in(ctx, i) == D2_NO_VALUE)
        return onnx_node_error(ctx, D2_ERR_PARSE, "input %u (%s) is required", i, what);
    return D2_OK;
}

/* Attribute (old opsets) or input (new opsets) -> the value for an IR input slot. */
static enum d2_status attr_input(struct onnx_node_ctx *ctx, bool from_attr, const char *attr, uint32_t input,
                                 d2_value_id *out)
{
    bool found;
    if (!from_attr) {
        *out = in(ctx, input);
        return D2_OK;
    }
    *out = onnx_attr_as_i64_input(ctx, attr, &found);
    if (found && *out == D2_NO_VALUE)
        return fail(ctx);
    return D2_OK;
}

/* The shape of x as an i64 vector: a constant when x's type is static (so inference
 * downstream sees exact dims), else a shape node. */
static d2_value_id shape_of(struct onnx_node_ctx *ctx, d2_value_id x)
{
    const struct d2_type *t = &ctx->g->values[x].type;
    if (d2_type_is_static(t))
        return onnx_const_i64(ctx, t->dims, (uint32_t)t->rank, false);
    return onnx_emit_aux(ctx, D2_OP_SHAPE, 1, &x, NULL);
}

/* ---- Softmax, LogSoftmax, Hardmax ---- */

enum d2_status onnx_convert_softmax_family(struct onnx_node_ctx *ctx)
{
    enum d2_op op = ctx->entry->op;
    bool legacy = ctx->opset < 13;
    int64_t axis;
    struct d2_attrs_axis *a;
    TRY(need_input(ctx, 0, "input"));
    TRY(onnx_attr_int(ctx, "axis", legacy ? 1 : -1, &axis));
    const struct d2_type *t = &ctx->g->values[in(ctx, 0)].type;
    int64_t norm;
    bool last_axis = t->rank >= 0 && d2_normalize_axis(axis, t->rank, &norm) && norm == t->rank - 1;
    if (!legacy || last_axis) {
        a = onnx_emit_main(ctx, op, 1, ctx->inputs, 1);
        if (!a)
            return fail(ctx);
        a->axis = axis;
        return D2_OK;
    }
    /* 2-D coercion: [prod(d[:axis]), prod(d[axis:])], normalize rows, restore shape. */
    struct d2_attrs_axis *fa;
    d2_value_id x = in(ctx, 0);
    d2_value_id flat = onnx_emit_aux(ctx, D2_OP_FLATTEN, 1, &x, (void **)&fa);
    if (flat == D2_NO_VALUE)
        return fail(ctx);
    fa->axis = axis;
    struct d2_attrs_axis *sa;
    d2_value_id y2 = onnx_emit_aux(ctx, op, 1, &flat, (void **)&sa);
    if (y2 == D2_NO_VALUE)
        return fail(ctx);
    sa->axis = 1;
    d2_value_id shape = shape_of(ctx, x);
    if (shape == D2_NO_VALUE)
        return fail(ctx);
    d2_value_id rin[2] = {y2, shape};
    if (!onnx_emit_main(ctx, D2_OP_RESHAPE, 2, rin, 1))
        return fail(ctx);
    return D2_OK;
}

/* ---- Slice, Split, Squeeze, Unsqueeze ---- */

enum d2_status onnx_convert_slice(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[5] = {in(ctx, 0), in(ctx, 1), in(ctx, 2), in(ctx, 3), in(ctx, 4)};
    if (ctx->opset < 10) {
        if (!onnx_attr(ctx, "starts") || !onnx_attr(ctx, "ends"))
            return onnx_node_error(ctx, D2_ERR_PARSE, "attributes 'starts' and 'ends' are required");
        TRY(attr_input(ctx, true, "starts", 1, &ins[1]));
        TRY(attr_input(ctx, true, "ends", 2, &ins[2]));
        TRY(attr_input(ctx, true, "axes", 3, &ins[3]));
        ins[4] = D2_NO_VALUE;
    }
    return onnx_emit_main(ctx, D2_OP_SLICE, 5, ins, 1) ? D2_OK : fail(ctx);
}

enum d2_status onnx_convert_split(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[2] = {in(ctx, 0), D2_NO_VALUE};
    struct d2_attrs_split *a;
    int64_t num_outputs;
    TRY(attr_input(ctx, ctx->opset < 13, "split", 1, &ins[1]));
    if (ctx->num_outputs == 0)
        return onnx_node_error(ctx, D2_ERR_PARSE, "Split has no outputs");
    a = onnx_emit_main(ctx, D2_OP_SPLIT, 2, ins, ctx->num_outputs);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "axis", 0, &a->axis));
    TRY(onnx_attr_int(ctx, "num_outputs", 0, &num_outputs));
    if (num_outputs && num_outputs != (int64_t)ctx->num_outputs)
        return onnx_node_error(ctx, D2_ERR_PARSE, "num_outputs=%lld but the node has %u outputs",
                               (long long)num_outputs, ctx->num_outputs);
    a->num_outputs = num_outputs;
    return D2_OK;
}

enum d2_status onnx_convert_squeeze(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[2] = {in(ctx, 0), in(ctx, 1)};
    TRY(attr_input(ctx, ctx->opset < 13, "axes", 1, &ins[1]));
    return onnx_emit_main(ctx, D2_OP_SQUEEZE, 2, ins, 1) ? D2_OK : fail(ctx);
}

enum d2_status onnx_convert_unsqueeze(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[2] = {in(ctx, 0), in(ctx, 1)};
    TRY(attr_input(ctx, ctx->opset < 13, "axes", 1, &ins[1]));
    if (ins[1] == D2_NO_VALUE)
        return onnx_node_error(ctx, D2_ERR_PARSE, "axes are required");
    return onnx_emit_main(ctx, D2_OP_UNSQUEEZE, 2, ins, 1) ? D2_OK : fail(ctx);
}

/* ---- reductions, TopK ---- */

enum d2_status onnx_convert_reduce(struct onnx_node_ctx *ctx)
{
    enum d2_op op = ctx->entry->op;
    /* ReduceSum took axes as an input from opset 13, the others from 18. */
    bool axes_attr = ctx->opset < (op == D2_OP_REDUCE_SUM ? 13 : 18);
    d2_value_id ins[2] = {in(ctx, 0), in(ctx, 1)};
    struct d2_attrs_reduce *a;
    TRY(attr_input(ctx, axes_attr, "axes", 1, &ins[1]));
    a = onnx_emit_main(ctx, op, 2, ins, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "keepdims", 1, &a->keepdims));
    return onnx_attr_int(ctx, "noop_with_empty_axes", 0, &a->noop_with_empty_axes);
}

enum d2_status onnx_convert_topk(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[2] = {in(ctx, 0), in(ctx, 1)};
    struct d2_attrs_topk *a;
    if (ctx->opset < 10) {
        int64_t k;
        TRY(onnx_attr_int(ctx, "k", -1, &k));
        if (k < 0)
            return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'k' is required");
        if ((ins[1] = onnx_const_i64(ctx, &k, 1, false)) == D2_NO_VALUE)
            return fail(ctx);
    }
    a = onnx_emit_main(ctx, D2_OP_TOPK, 2, ins, 2);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "axis", -1, &a->axis));
    TRY(onnx_attr_int(ctx, "largest", 1, &a->largest));
    return onnx_attr_int(ctx, "sorted", 1, &a->sorted);
}

/* ---- Pad, Clip ---- */

enum d2_status onnx_convert_pad(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[4] = {in(ctx, 0), in(ctx, 1), in(ctx, 2), in(ctx, 3)};
    struct d2_attrs_pad *a;
    const char *mode;
    TRY(need_input(ctx, 0, "data"));
    if (ctx->opset < 11) {
        double value;
        bool found;
        ins[1] = onnx_attr_as_i64_input(ctx, "pads", &found);
        if (!found)
            return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'pads' is required");
        if (ins[1] == D2_NO_VALUE)
            return fail(ctx);
        TRY(onnx_attr_float(ctx, "value", 0.0, &value));
        enum d2_dtype dt = onnx_value_dtype(ctx, ins[0]);
        ins[2] = value == 0.0 ? D2_NO_VALUE : onnx_const_scalar(ctx, dt ? dt : D2_DTYPE_F32, value);
        if (value != 0.0 && ins[2] == D2_NO_VALUE)
            return fail(ctx);
        ins[3] = D2_NO_VALUE;
    }
    a = onnx_emit_main(ctx, D2_OP_PAD, 4, ins, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_string(ctx, "mode", "constant", &mode));
    if (strcmp(mode, "constant") == 0)
        a->mode = D2_PAD_MODE_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        a->mode = D2_PAD_MODE_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        a->mode = D2_PAD_MODE_EDGE;
    else if (strcmp(mode, "wrap") == 0)
        a->mode = D2_PAD_MODE_WRAP;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "mode='%s' is not supported", mode);
    return D2_OK;
}

enum d2_status onnx_convert_clip(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[3] = {in(ctx, 0), in(ctx, 1), in(ctx, 2)};
    TRY(need_input(ctx, 0, "input"));
    if (ctx->opset < 11) {
        enum d2_dtype dt = onnx_value_dtype(ctx, ins[0]);
        const char *names[2] = {"min", "max"};
        for (int i = 0; i < 2; i++) {
            double v;
            ins[1 + i] = D2_NO_VALUE;
            if (!onnx_attr(ctx, names[i]))
                continue;
            TRY(onnx_attr_float(ctx, names[i], 0.0, &v));
            if ((ins[1 + i] = onnx_const_scalar(ctx, dt ? dt : D2_DTYPE_F32, v)) == D2_NO_VALUE)
                return fail(ctx);
        }
    }
    return onnx_emit_main(ctx, D2_OP_CLIP, 3, ins, 1) ? D2_OK : fail(ctx);
}

/* ---- Resize, Upsample ---- */

/* An input that is a constant with no elements means "not given" in Resize-11. */
static d2_value_id drop_empty(struct onnx_node_ctx *ctx, d2_value_id v)
{
    const struct d2_tensor *t = v == D2_NO_VALUE ? NULL : d2_graph_constant_of(ctx->g, v);
    return t && d2_tensor_numel(t) == 0 ? D2_NO_VALUE : v;
}

static enum d2_status set_resize_mode(struct onnx_node_ctx *ctx, struct d2_attrs_resize *a, const char *mode,
                                      bool legacy)
{
    if (strcmp(mode, "nearest") == 0)
        a->mode = D2_RESIZE_MODE_NEAREST;
    else if (strcmp(mode, "linear") == 0 || (legacy && strcmp(mode, "bilinear") == 0))
        a->mode = D2_RESIZE_MODE_LINEAR;
    else if (!legacy && strcmp(mode, "cubic") == 0)
        a->mode = D2_RESIZE_MODE_CUBIC;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "mode='%s' is not supported", mode);
    if (legacy) {
        /* Upsample and Resize-10: x_in = x_out / scale, nearest takes the floor. */
        a->coordinate_transformation_mode = D2_COORD_MODE_ASYMMETRIC;
        a->nearest_mode = D2_NEAREST_MODE_FLOOR;
    }
    return D2_OK;
}

static int32_t enum_index(const char *const *names, int32_t count, const char *s)
{
    for (int32_t i = 0; i < count; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

enum d2_status onnx_convert_resize(struct onnx_node_ctx *ctx)
{
    static const char *const coord_names[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                              "align_corners", "asymmetric", "tf_crop_and_resize"};
    static const char *const nearest_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    static const char *const policy_names[] = {"stretch", "not_larger", "not_smaller"};
    d2_value_id ins[4] = {in(ctx, 0), D2_NO_VALUE, D2_NO_VALUE, D2_NO_VALUE};
    struct d2_attrs_resize *a;
    const char *mode, *s;
    bool legacy = ctx->opset < 11;
    TRY(need_input(ctx, 0, "X"));
    if (legacy) {
        TRY(need_input(ctx, 1, "scales"));
        ins[2] = in(ctx, 1);
    } else {
        ins[1] = drop_empty(ctx, in(ctx, 1));
        ins[2] = drop_empty(ctx, in(ctx, 2));
        ins[3] = drop_empty(ctx, in(ctx, 3));
        if (ins[2] == D2_NO_VALUE && ins[3] == D2_NO_VALUE)
            return onnx_node_error(ctx, D2_ERR_PARSE, "neither scales nor sizes is given");
    }
    a = onnx_emit_main(ctx, D2_OP_RESIZE, 4, ins, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_string(ctx, "mode", "nearest", &mode));
    TRY(set_resize_mode(ctx, a, mode, legacy));
    if (legacy)
        return D2_OK;
    TRY(onnx_attr_string(ctx, "coordinate_transformation_mode", "half_pixel", &s));
    if ((a->coordinate_transformation_mode = enum_index(coord_names, 6, s)) < 0)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "coordinate_transformation_mode='%s' is not supported", s);
    TRY(onnx_attr_string(ctx, "nearest_mode", "round_prefer_floor", &s));
    if ((a->nearest_mode = enum_index(nearest_names, 4, s)) < 0)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "nearest_mode='%s' is not supported", s);
    TRY(onnx_attr_string(ctx, "keep_aspect_ratio_policy", "stretch", &s));
    if ((a->keep_aspect_ratio_policy = enum_index(policy_names, 3, s)) < 0)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "keep_aspect_ratio_policy='%s' is not supported", s);
    TRY(onnx_attr_float(ctx, "cubic_coeff_a", -0.75, &a->cubic_coeff_a));
    TRY(onnx_attr_int(ctx, "exclude_outside", 0, &a->exclude_outside));
    TRY(onnx_attr_float(ctx, "extrapolation_value", 0.0, &a->extrapolation_value));
    TRY(onnx_attr_int(ctx, "antialias", 0, &a->antialias));
    return onnx_attr_to_ints(ctx, "axes", &a->axes);
}

enum d2_status onnx_convert_upsample(struct onnx_node_ctx *ctx)
{
    d2_value_id ins[4] = {in(ctx, 0), D2_NO_VALUE, in(ctx, 1), D2_NO_VALUE};
    struct d2_attrs_resize *a;
    const char *mode;
    TRY(need_input(ctx, 0, "X"));
    if (ctx->opset < 9) {
        const float *scales;
        size_t n;
        bool found;
        TRY(onnx_attr_floats(ctx, "scales", &scales, &n, &found));
        if (!found || n == 0 || n > D2_MAX_RANK)
            return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'scales' is required");
        struct d2_tensor t;
        int64_t dims[1] = {(int64_t)n};
        TRY(d2_tensor_alloc(&t, ctx->g->alloc, D2_DTYPE_F32, 1, dims, ctx->imp->err));
        memcpy(t.data, scales, n * sizeof(float));
        if ((ins[2] = d2_graph_add_constant(ctx->g, NULL, &t, ctx->imp->err)) == D2_NO_VALUE)
            return fail(ctx);
    }
    TRY(need_input(ctx, ctx->opset < 9 ? 0 : 1, "scales"));
    a = onnx_emit_main(ctx, D2_OP_RESIZE, 4, ins, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_string(ctx, "mode", "nearest", &mode));
    return set_resize_mode(ctx, a, mode, true);
}

/* ---- Dropout, BatchNormalization, CastLike ---- */

enum d2_status onnx_convert_dropout(struct onnx_node_ctx *ctx)
{
    d2_value_id x = in(ctx, 0);
    TRY(need_input(ctx, 0, "data"));
    /* Dropout-12 takes training_mode as an input: a constant true cannot be honoured. */
    const struct d2_tensor *training = in(ctx, 2) == D2_NO_VALUE ? NULL : d2_graph_constant_of(ctx->g, in(ctx, 2));
    if (training && d2_tensor_numel(training) == 1 && d2_load_i64(training->data, training->dtype, 0) != 0)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "training_mode=true is not supported (inference only)");
    if (!onnx_emit_main(ctx, D2_OP_IDENTITY, 1, &x, 1))
        return fail(ctx);
    if (ctx->num_outputs > 1 && ctx->proto->output[1] && *ctx->proto->output[1]) {
        d2_value_id shape = shape_of(ctx, x);
        if (shape == D2_NO_VALUE)
            return fail(ctx);
        const char *name = ctx->proto->output[1];
        int32_t node = d2_graph_add_node(ctx->g, D2_OP_CONSTANT_OF_SHAPE, ctx->proto->name ? ctx->proto->name : "", 1,
                                         &shape, 1, &name, ctx->imp->err);
        if (node < 0)
            return fail(ctx);
        struct d2_attrs_constant_of_shape *a = d2_node_attrs(ctx->g, node);
        /* The mask is bool from opset 10, of the input's type before. */
        a->dtype = ctx->opset < 10 ? onnx_value_dtype(ctx, x) : D2_DTYPE_BOOL;
        if (a->dtype == D2_DTYPE_UNDEFINED)
            return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "the input's dtype is not known at import time");
        a->value = 1.0;
        ctx->outputs[1] = d2_node_output(ctx->g, node, 0);
    }
    return D2_OK;
}

enum d2_status onnx_convert_batch_norm(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_epsilon *a;
    int64_t training, spatial;
    TRY(onnx_attr_int(ctx, "training_mode", 0, &training));
    if (training)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "training_mode=1 is not supported (inference only)");
    TRY(onnx_attr_int(ctx, "spatial", 1, &spatial));
    if (!spatial)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "spatial=0 is not supported");
    a = onnx_emit_main(ctx, D2_OP_BATCH_NORM, ctx->num_inputs, ctx->inputs, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_float(ctx, "epsilon", 1e-5, &a->epsilon));
    /* Optional outputs 1..4 (running/saved mean and var): in inference mode the
     * statistics are not updated, so each equals the corresponding input. */
    for (uint32_t i = 1; i < ctx->num_outputs; i++) {
        const char *name = ctx->proto->output[i];
        if (!name || !*name)
            continue;
        d2_value_id src = in(ctx, i % 2 == 1 ? 3 : 4);
        int32_t node = d2_graph_add_node(ctx->g, D2_OP_IDENTITY, ctx->proto->name ? ctx->proto->name : "", 1, &src,
                                         1, &name, ctx->imp->err);
        if (node < 0)
            return fail(ctx);
        ctx->outputs[i] = d2_node_output(ctx->g, node, 0);
    }
    return D2_OK;
}

enum d2_status onnx_convert_cast_like(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_cast *a;
    TRY(need_input(ctx, 0, "input"));
    TRY(need_input(ctx, 1, "target_type"));
    enum d2_dtype to = onnx_value_dtype(ctx, in(ctx, 1));
    if (to == D2_DTYPE_UNDEFINED)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "the dtype of target_type is not known at import time");
    a = onnx_emit_main(ctx, D2_OP_CAST, 1, ctx->inputs, 1);
    if (!a)
        return fail(ctx);
    a->to = to;
    return onnx_attr_int(ctx, "saturate", 1, &a->saturate);
}
