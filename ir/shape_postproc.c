/* ir/shape_postproc.c: shape functions of the "detection post-processing" ops of ops.def.
 *
 *   paste_masks(masks [n, Mh, Mw] or [n, 1, Mh, Mw] float, boxes [n, 4] float, size? [2] int)
 *     {threshold, height, width}: [n, H, W], bool when threshold >= 0, else u8. (H, W) is the
 *     size input when given (its value may be unknown until run time: then H and W are
 *     unknown), else the attributes height and width (both must be >= 1).
 *   heatmaps_to_keypoints(heatmaps [n, K, Sh, Sw] float, boxes [n, 4] float): heatmaps' dtype,
 *     [n, K, 3].
 *   upsample(X [N, C, d1..dk] (k = 1..3), sizes? [k] int) {mode, align_corners, scales}:
 *     X's dtype, [N, C, o1..ok] with o_i = sizes[i] when sizes is given, else
 *     floor(d_i * scales[i]) (torch's rule, in double). scales, when given, has k entries > 0.
 *     linear and cubic need a float X; nearest copies any dtype.
 * Semantics of the kernels: backends/cpu/ref_postproc.h.
 */
#include "ir.h"

#include <math.h>

enum d2_status d2_shape_paste_masks(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_heatmaps_to_keypoints(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_upsample(struct d2_shape_ctx *ctx);

static const struct d2_type *optional_type(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_types[i] : NULL;
}

static const struct d2_tensor *optional_value(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_values[i] : NULL;
}

static enum d2_status expect_float(struct d2_shape_ctx *ctx, const struct d2_type *t, const char *what)
{
    if (t->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(t->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s must be a float tensor, got %s", what,
                         d2_dtype_name(t->dtype));
    return D2_OK;
}

/* boxes must be [n, 4]; n must agree with `n` (the leading dim of the other input) when
 * both are known. Returns the better-known n through *n. */
static enum d2_status check_boxes(struct d2_shape_ctx *ctx, const struct d2_type *boxes, int64_t *n)
{
    enum d2_status st = expect_float(ctx, boxes, "boxes");
    if (st != D2_OK)
        return st;
    if (boxes->rank < 0)
        return D2_OK;
    if (boxes->rank != 2 || (boxes->dims[1] >= 0 && boxes->dims[1] != 4))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "boxes must be [n, 4] (x0, y0, x1, y1)");
    if (boxes->dims[0] >= 0 && *n >= 0 && boxes->dims[0] != *n)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%lld boxes for %lld maps", (long long)boxes->dims[0],
                         (long long)*n);
    if (*n < 0)
        *n = boxes->dims[0];
    return D2_OK;
}

enum d2_status d2_shape_paste_masks(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_paste_masks *a = ctx->node->attrs;
    const struct d2_type *masks = ctx->input_types[0], *boxes = ctx->input_types[1];
    const struct d2_type *size_type = optional_type(ctx, 2);
    const struct d2_tensor *size = optional_value(ctx, 2);
    int64_t dims[3] = { D2_DIM_UNKNOWN, D2_DIM_UNKNOWN, D2_DIM_UNKNOWN };
    enum d2_status st;

    st = expect_float(ctx, masks, "masks");
    if (st != D2_OK)
        return st;
    if (masks->rank >= 0) {
        if (masks->rank != 3 && masks->rank != 4)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "masks must be [n, M, M] or [n, 1, M, M], got rank %d",
                             (int)masks->rank);
        if (masks->rank == 4 && masks->dims[1] >= 0 && masks->dims[1] != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "masks [n, c, M, M] must have c = 1, got %lld",
                             (long long)masks->dims[1]);
        dims[0] = masks->dims[0];
    }
    st = check_boxes(ctx, boxes, &dims[0]);
    if (st != D2_OK)
        return st;
    if (isnan(a->threshold))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "threshold is NaN");
    if (size_type) {
        if (size_type->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_integer(size_type->dtype))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "size must be integers, got %s",
                             d2_dtype_name(size_type->dtype));
        if (size_type->rank >= 0 && (size_type->rank != 1 || (size_type->dims[0] >= 0 && size_type->dims[0] < 2)))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "size must be 1-D (height, width[, ...])");
        if (size) {
            if (d2_tensor_numel(size) < 2)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "size must hold (height, width)");
            dims[1] = d2_tensor_get_i64(size, 0);
            dims[2] = d2_tensor_get_i64(size, 1);
            if (dims[1] < 0 || dims[2] < 0)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "negative output size %lld x %lld", (long long)dims[1],
                                 (long long)dims[2]);
        }
    } else {
        if (a->height < 1 || a->width < 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE,
                             "without a size input, attributes height and width must be >= 1 (got %lld, %lld)",
                             (long long)a->height, (long long)a->width);
        dims[1] = a->height;
        dims[2] = a->width;
    }
    d2_type_init(&ctx->output_types[0], a->threshold >= 0 ? D2_DTYPE_BOOL : D2_DTYPE_U8, 3, dims);
    return D2_OK;
}

enum d2_status d2_shape_heatmaps_to_keypoints(struct d2_shape_ctx *ctx)
{
    const struct d2_type *maps = ctx->input_types[0], *boxes = ctx->input_types[1];
    int64_t dims[3] = { D2_DIM_UNKNOWN, D2_DIM_UNKNOWN, 3 };
    enum d2_status st = expect_float(ctx, maps, "heatmaps");
    if (st != D2_OK)
        return st;
    if (maps->rank >= 0) {
        if (maps->rank != 4)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "heatmaps must be [n, K, S, S], got rank %d", (int)maps->rank);
        if (maps->dims[2] == 0 || maps->dims[3] == 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "heatmaps have an empty spatial size");
        dims[0] = maps->dims[0];
        dims[1] = maps->dims[1];
    }
    st = check_boxes(ctx, boxes, &dims[0]);
    if (st != D2_OK)
        return st;
    d2_type_init(&ctx->output_types[0], maps->dtype, 3, dims);
    return D2_OK;
}

enum d2_status d2_shape_upsample(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_upsample *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *sizes_type = optional_type(ctx, 1);
    const struct d2_tensor *sizes = optional_value(ctx, 1);
    struct d2_type *out = &ctx->output_types[0];

    out->dtype = x->dtype;
    if (a->mode != D2_RESIZE_MODE_NEAREST && x->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "linear and cubic upsampling need a float X, got %s",
                         d2_dtype_name(x->dtype));
    if (a->align_corners && a->mode == D2_RESIZE_MODE_NEAREST)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "align_corners only applies to linear and cubic modes");
    if (!sizes_type && a->scales.count == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "neither a sizes input nor scales is given");
    for (uint32_t i = 0; i < a->scales.count; i++)
        if (!(a->scales.data[i] > 0.0) || isinf(a->scales.data[i]))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "scales[%u] = %g must be a positive number", i,
                             a->scales.data[i]);
    if (sizes_type && sizes_type->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_integer(sizes_type->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "sizes must be integers, got %s", d2_dtype_name(sizes_type->dtype));
    if (sizes_type && sizes_type->rank >= 0 && sizes_type->rank != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "sizes must be 1-D, got rank %d", (int)sizes_type->rank);
    if (x->rank < 0)
        return D2_OK;
    if (x->rank < 3 || x->rank > 5)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X must be [N, C, d1..dk] with k = 1..3, got rank %d",
                         (int)x->rank);
    int32_t k = x->rank - 2;
    if (a->scales.count != 0 && a->scales.count != (uint32_t)k)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%u scales for %d spatial dims", a->scales.count, (int)k);
    if (sizes_type && sizes_type->rank == 1 && sizes_type->dims[0] >= 0 && sizes_type->dims[0] != k)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "sizes has %lld entries for %d spatial dims",
                         (long long)sizes_type->dims[0], (int)k);
    *out = *x;
    out->dtype = x->dtype;
    for (int32_t i = 0; i < k; i++) {
        int32_t d = i + 2;
        out->symbols[d] = NULL;
        out->upper_bounds[d] = -1;
        if (sizes_type) {
            out->dims[d] = D2_DIM_UNKNOWN;
            if (sizes) {
                if (d2_tensor_numel(sizes) != k)
                    return d2_errorf(ctx->err, D2_ERR_SHAPE, "sizes has %lld entries for %d spatial dims",
                                     (long long)d2_tensor_numel(sizes), (int)k);
                out->dims[d] = d2_tensor_get_i64(sizes, (size_t)i);
                if (out->dims[d] < 0)
                    return d2_errorf(ctx->err, D2_ERR_SHAPE, "sizes[%d] = %lld is negative", (int)i,
                                     (long long)out->dims[d]);
            }
        } else if (x->dims[d] >= 0) {
            double o = floor((double)x->dims[d] * a->scales.data[i]);
            if (o > 9.0e15)
                return d2_errorf(ctx->err, D2_ERR_SHAPE, "output dim %d is too large", (int)d);
            out->dims[d] = (int64_t)o;
        } else {
            out->dims[d] = D2_DIM_UNKNOWN;
        }
        if (out->dims[d] == 0 || x->dims[d] == 0) /* torch refuses these too */
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "spatial dim %d: input %lld, output %lld (must be > 0)",
                             (int)d, (long long)x->dims[d], (long long)out->dims[d]);
    }
    return D2_OK;
}
