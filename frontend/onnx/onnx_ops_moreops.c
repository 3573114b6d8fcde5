/* frontend/onnx/onnx_ops_moreops.c: converters of the "more ops" family: each emits
 * the IR op of the same meaning and sets every attribute explicitly with the ONNX
 * op's own default (the IR structs' defaults are not relied upon).
 *
 * Older forms handled here:
 *   - GridSample-16 names its modes bilinear/bicubic, opset 20 linear/cubic (both
 *     spellings are accepted at every opset);
 *   - GroupNormalization-18 has per-group scale/bias ([num_groups]); opset 21 per
 *     channel ([C]). The IR op takes either (ops.def), so the inputs pass as they are;
 *   - stash_type (an ONNX DataType number) becomes the IR dtype of the statistics.
 * The ops without attributes (Tan, ..., BitwiseAnd) are PLAIN rows in onnx_ops.c.
 */
#include "frontend/onnx/onnx_ops_moreops.h"

#include <string.h>

#define TRY(expr)                                 \
    do {                                          \
        enum d2_status st_ = (expr);              \
        if (st_ != D2_OK)                         \
            return st_;                           \
    } while (0)

static enum d2_status fail(struct onnx_node_ctx *ctx)
{
    return ctx->imp->err->code != D2_OK ? ctx->imp->err->code : D2_ERR_INTERNAL;
}

/* Emit the node's IR op with all its ONNX inputs and `outputs` outputs. */
static void *emit(struct onnx_node_ctx *ctx, uint32_t outputs)
{
    return onnx_emit_main(ctx, ctx->entry->op, ctx->num_inputs, ctx->inputs, outputs);
}

enum d2_status onnx_moreops_celu(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_celu *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_float(ctx, "alpha", 1.0, &a->alpha));
    if (a->alpha == 0.0)
        return onnx_node_error(ctx, D2_ERR_PARSE, "alpha must not be 0");
    return D2_OK;
}

enum d2_status onnx_moreops_thresholded_relu(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_thresholded_relu *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    return onnx_attr_float(ctx, "alpha", 1.0, &a->alpha);
}

enum d2_status onnx_moreops_shrink(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_shrink *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_float(ctx, "bias", 0.0, &a->bias));
    return onnx_attr_float(ctx, "lambd", 0.5, &a->lambd);
}

enum d2_status onnx_moreops_swish(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_swish *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    return onnx_attr_float(ctx, "alpha", 1.0, &a->alpha);
}

enum d2_status onnx_moreops_bit_shift(struct onnx_node_ctx *ctx)
{
    const char *direction;
    struct d2_attrs_bit_shift *a;
    TRY(onnx_attr_string(ctx, "direction", "", &direction));
    if (strcmp(direction, "LEFT") != 0 && strcmp(direction, "RIGHT") != 0)
        return onnx_node_error(ctx, D2_ERR_PARSE, "direction must be LEFT or RIGHT, not '%s'", direction);
    a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    a->direction = strcmp(direction, "LEFT") == 0 ? D2_BIT_SHIFT_LEFT : D2_BIT_SHIFT_RIGHT;
    return D2_OK;
}

enum d2_status onnx_moreops_cum_prod(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_cum_sum *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "exclusive", 0, &a->exclusive));
    return onnx_attr_int(ctx, "reverse", 0, &a->reverse);
}

/* stash_type attribute (ONNX DataType, default float) -> IR float dtype. */
static enum d2_status stash_type(struct onnx_node_ctx *ctx, enum d2_dtype *out)
{
    int64_t t;
    const char *name = "?";
    TRY(onnx_attr_int(ctx, "stash_type", 1, &t));
    if (t < 0 || t > INT32_MAX || !onnx_dtype_to_d2((int32_t)t, out, &name) || !d2_dtype_is_float(*out))
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "stash_type %lld (%s) is not supported", (long long)t, name);
    return D2_OK;
}

enum d2_status onnx_moreops_layer_norm(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_layer_norm *a = emit(ctx, ctx->num_outputs);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "axis", -1, &a->axis));
    TRY(onnx_attr_float(ctx, "epsilon", 1e-5, &a->epsilon));
    return stash_type(ctx, &a->stash_type);
}

enum d2_status onnx_moreops_rms_norm(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_layer_norm *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "axis", -1, &a->axis));
    TRY(onnx_attr_float(ctx, "epsilon", 1e-5, &a->epsilon));
    return stash_type(ctx, &a->stash_type);
}

enum d2_status onnx_moreops_group_norm(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_group_norm *a;
    if (!onnx_attr(ctx, "num_groups"))
        return onnx_node_error(ctx, D2_ERR_PARSE, "attribute 'num_groups' is required");
    a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "num_groups", 1, &a->num_groups));
    TRY(onnx_attr_float(ctx, "epsilon", 1e-5, &a->epsilon));
    return stash_type(ctx, &a->stash_type);
}

enum d2_status onnx_moreops_mvn(struct onnx_node_ctx *ctx)
{
    static const int64_t default_axes[3] = {0, 2, 3};
    struct d2_attrs_mvn *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_to_ints(ctx, "axes", &a->axes));
    if (a->axes.count == 0)
        return d2_graph_set_ints(ctx->g, &a->axes, default_axes, 3, ctx->imp->err);
    return D2_OK;
}

enum d2_status onnx_moreops_lp_norm(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_lp_norm *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_int(ctx, "axis", -1, &a->axis));
    TRY(onnx_attr_int(ctx, "p", 2, &a->p));
    if (a->p != 1 && a->p != 2)
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "p=%lld is not supported (1 or 2)", (long long)a->p);
    return D2_OK;
}

enum d2_status onnx_moreops_grid_sample(struct onnx_node_ctx *ctx)
{
    const char *mode, *padding;
    struct d2_attrs_grid_sample *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    TRY(onnx_attr_string(ctx, "mode", ctx->opset < 20 ? "bilinear" : "linear", &mode));
    if (strcmp(mode, "bilinear") == 0 || strcmp(mode, "linear") == 0)
        a->mode = D2_GRID_SAMPLE_LINEAR;
    else if (strcmp(mode, "nearest") == 0)
        a->mode = D2_GRID_SAMPLE_NEAREST;
    else if (strcmp(mode, "bicubic") == 0 || strcmp(mode, "cubic") == 0)
        a->mode = D2_GRID_SAMPLE_CUBIC;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "mode='%s' is not supported", mode);
    TRY(onnx_attr_string(ctx, "padding_mode", "zeros", &padding));
    if (strcmp(padding, "zeros") == 0)
        a->padding_mode = D2_GRID_SAMPLE_PAD_ZEROS;
    else if (strcmp(padding, "border") == 0)
        a->padding_mode = D2_GRID_SAMPLE_PAD_BORDER;
    else if (strcmp(padding, "reflection") == 0)
        a->padding_mode = D2_GRID_SAMPLE_PAD_REFLECTION;
    else
        return onnx_node_error(ctx, D2_ERR_UNSUPPORTED, "padding_mode='%s' is not supported", padding);
    return onnx_attr_int(ctx, "align_corners", 0, &a->align_corners);
}

enum d2_status onnx_moreops_center_crop_pad(struct onnx_node_ctx *ctx)
{
    struct d2_attrs_center_crop_pad *a = emit(ctx, 1);
    if (!a)
        return fail(ctx);
    return onnx_attr_to_ints(ctx, "axes", &a->axes);
}
