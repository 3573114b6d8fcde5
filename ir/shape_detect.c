/* ir/shape_detect.c: shape functions of the "detection" ops of ops.def:
 * non_max_suppression, roi_align, resize; and resize's plan (ir/shape_detect.h).
 *
 *   non_max_suppression(boxes [B,N,4], scores [B,C,N], max_output_boxes_per_class?,
 *     iou_threshold?, score_threshold?): i64 [n, 3], n data dependent, at most
 *     B*C*min(N, max_output_boxes_per_class).
 *   roi_align(X [N,C,H,W], rois [R,4], batch_indices [R]): X's dtype,
 *     [R, C, output_height, output_width].
 *   resize(X, roi?, scales?, sizes?): X's dtype and rank, dims by the plan.
 */
#include "shape_detect.h"

#include <math.h>
#include <string.h>

/* Shape functions of this file (the table in ir/shape.c finds them by name). */
enum d2_status d2_shape_non_max_suppression(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_roi_align(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_resize(struct d2_shape_ctx *ctx);

static const struct d2_type *optional_type(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_types[i] : NULL;
}

static const struct d2_tensor *optional_value(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_values[i] : NULL;
}

/* Check that a known dim equals an expected known value. */
static enum d2_status expect_dim(struct d2_shape_ctx *ctx, const struct d2_type *t, int32_t d, int64_t want,
                                 const char *what)
{
    if (t->rank > d && t->dims[d] >= 0 && want >= 0 && t->dims[d] != want)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s dim %d is %lld, expected %lld", what, (int)d,
                         (long long)t->dims[d], (long long)want);
    return D2_OK;
}

enum d2_status d2_shape_non_max_suppression(struct d2_shape_ctx *ctx)
{
    const struct d2_type *boxes = ctx->input_types[0], *scores = ctx->input_types[1];
    const struct d2_tensor *max_out = optional_value(ctx, 2);
    struct d2_type *out = &ctx->output_types[0];
    int64_t dims[2] = { D2_DIM_UNKNOWN, 3 };
    enum d2_status st;

    if (boxes->rank >= 0 && boxes->rank != 3)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "boxes must be [batch, boxes, 4], got rank %d", (int)boxes->rank);
    if (scores->rank >= 0 && scores->rank != 3)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "scores must be [batch, classes, boxes], got rank %d",
                         (int)scores->rank);
    st = expect_dim(ctx, boxes, 2, 4, "boxes");
    if (st == D2_OK && boxes->rank == 3)
        st = expect_dim(ctx, scores, 0, boxes->dims[0], "scores");
    if (st == D2_OK && boxes->rank == 3)
        st = expect_dim(ctx, scores, 2, boxes->dims[1], "scores");
    if (st != D2_OK)
        return st;
    d2_type_init(out, D2_DTYPE_I64, 2, dims);
    if (scores->rank == 3 && scores->dims[0] >= 0 && scores->dims[1] >= 0 && scores->dims[2] >= 0) {
        int64_t per_class = scores->dims[2];
        if (!optional_type(ctx, 2))
            per_class = 0; /* no max_output_boxes_per_class: nothing is selected */
        else if (max_out && d2_tensor_numel(max_out) >= 1) {
            int64_t m = d2_tensor_get_i64(max_out, 0);
            per_class = m < 0 ? 0 : (m < per_class ? m : per_class);
        }
        out->upper_bounds[0] = scores->dims[0] * scores->dims[1] * per_class;
        if (out->upper_bounds[0] == 0)
            out->dims[0] = 0;
    }
    return D2_OK;
}

enum d2_status d2_shape_roi_align(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_roi_align *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0], *rois = ctx->input_types[1], *batch = ctx->input_types[2];
    struct d2_type *out = &ctx->output_types[0];
    int64_t dims[4];
    enum d2_status st;

    out->dtype = x->dtype;
    if (x->rank >= 0 && x->rank != 4)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X must be [N, C, H, W], got rank %d", (int)x->rank);
    if (rois->rank >= 0 && rois->rank != 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "rois must be [num_rois, 4], got rank %d", (int)rois->rank);
    if (batch->rank >= 0 && batch->rank != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "batch_indices must be 1-D, got rank %d", (int)batch->rank);
    if (batch->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_integer(batch->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "batch_indices must be integers, got %s",
                         d2_dtype_name(batch->dtype));
    if (x->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(x->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "X must be a float tensor, got %s", d2_dtype_name(x->dtype));
    if (a->output_height < 1 || a->output_width < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "output_height and output_width must be >= 1, got %lld, %lld",
                         (long long)a->output_height, (long long)a->output_width);
    if (a->sampling_ratio < 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "sampling_ratio %lld is negative", (long long)a->sampling_ratio);
    st = expect_dim(ctx, rois, 1, 4, "rois");
    if (st == D2_OK && rois->rank == 2 && batch->rank == 1)
        st = expect_dim(ctx, batch, 0, rois->dims[0], "batch_indices");
    if (st != D2_OK)
        return st;
    dims[0] = rois->rank == 2 ? rois->dims[0] : D2_DIM_UNKNOWN;
    if (dims[0] < 0 && batch->rank == 1)
        dims[0] = batch->dims[0];
    dims[1] = x->rank == 4 ? x->dims[1] : D2_DIM_UNKNOWN;
    dims[2] = a->output_height;
    dims[3] = a->output_width;
    d2_type_init(out, x->dtype, 4, dims);
    if (dims[0] < 0 && rois->rank == 2)
        out->symbols[0] = rois->symbols[0];
    if (x->rank == 4)
        out->symbols[1] = x->symbols[1];
    return D2_OK;
}

/* Is an optional resize input given? An omitted input or a known-empty tensor is not. */
static bool resize_input_given(const struct d2_type *t, const struct d2_tensor *v)
{
    if (!t)
        return false;
    if (v)
        return d2_tensor_numel(v) > 0;
    return !(t->rank == 1 && t->dims[0] == 0);
}

enum d2_status d2_resize_make_plan(const struct d2_attrs_resize *a, const struct d2_type *x,
                                   const struct d2_type *roi_type, const struct d2_tensor *roi,
                                   const struct d2_type *scales_type, const struct d2_tensor *scales,
                                   const struct d2_type *sizes_type, const struct d2_tensor *sizes,
                                   struct d2_resize_plan *plan, struct d2_error *err)
{
    int64_t axes[D2_MAX_RANK];
    int32_t num_axes = 0, rank = x->rank;
    bool have_scales = resize_input_given(scales_type, scales);
    bool have_sizes = resize_input_given(sizes_type, sizes);

    memset(plan, 0, sizeof *plan);
    plan->rank = rank;
    for (int32_t i = 0; i < rank; i++) {
        plan->out[i] = x->dims[i];
        plan->scale[i] = 1.0;
        plan->roi_end[i] = 1.0;
    }
    if (a->axes.count == 0) {
        for (int32_t i = 0; i < rank; i++)
            axes[num_axes++] = i;
    } else {
        if (a->axes.count > (uint32_t)rank)
            return d2_errorf(err, D2_ERR_SHAPE, "%u axes for rank %d", a->axes.count, (int)rank);
        for (uint32_t i = 0; i < a->axes.count; i++) {
            int64_t axis;
            if (!d2_normalize_axis(a->axes.data[i], rank, &axis))
                return d2_errorf(err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d",
                                 (long long)a->axes.data[i], (int)rank);
            for (int32_t j = 0; j < num_axes; j++)
                if (axes[j] == axis)
                    return d2_errorf(err, D2_ERR_SHAPE, "axis %lld is listed twice", (long long)axis);
            axes[num_axes++] = axis;
        }
    }
    for (int32_t i = 0; i < num_axes; i++)
        plan->resized[axes[i]] = true;
    if (have_scales == have_sizes)
        return d2_errorf(err, D2_ERR_SHAPE, "exactly one of scales and sizes must be given (got %s)",
                         have_scales ? "both" : "neither");
    const struct d2_type *given_type = have_scales ? scales_type : sizes_type;
    const struct d2_tensor *given = have_scales ? scales : sizes;
    const char *given_name = have_scales ? "scales" : "sizes";
    if (given_type->rank >= 0 && given_type->rank != 1)
        return d2_errorf(err, D2_ERR_SHAPE, "%s must be 1-D, got rank %d", given_name, (int)given_type->rank);
    if (given_type->rank == 1 && given_type->dims[0] >= 0 && given_type->dims[0] != num_axes)
        return d2_errorf(err, D2_ERR_SHAPE, "%s has %lld entries for %d axes", given_name,
                         (long long)given_type->dims[0], (int)num_axes);
    if (have_scales && given_type->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(given_type->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "scales must be floats, got %s", d2_dtype_name(given_type->dtype));
    if (have_sizes && given_type->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_integer(given_type->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "sizes must be integers, got %s", d2_dtype_name(given_type->dtype));

    /* roi: only the crop mode reads it. */
    if (a->coordinate_transformation_mode == D2_COORD_MODE_TF_CROP_AND_RESIZE && roi &&
        d2_tensor_numel(roi) > 0) {
        int64_t n = d2_tensor_numel(roi);
        if (n != 2 * num_axes)
            return d2_errorf(err, D2_ERR_SHAPE, "roi has %lld entries, expected %d (starts and ends of %d axes)",
                             (long long)n, 2 * (int)num_axes, (int)num_axes);
        for (int32_t i = 0; i < num_axes; i++) {
            plan->roi_start[axes[i]] = d2_load_f64(roi->data, roi->dtype, (size_t)i);
            plan->roi_end[axes[i]] = d2_load_f64(roi->data, roi->dtype, (size_t)(num_axes + i));
        }
    }
    (void)roi_type;

    for (int32_t i = 0; i < num_axes; i++) {
        plan->out[axes[i]] = D2_DIM_UNKNOWN;
        plan->scale[axes[i]] = 0.0;
    }
    if (!given)
        return D2_OK; /* not known before run time */
    if (d2_tensor_numel(given) != num_axes)
        return d2_errorf(err, D2_ERR_SHAPE, "%s has %lld entries for %d axes", given_name,
                         (long long)d2_tensor_numel(given), (int)num_axes);

    if (have_scales) {
        for (int32_t i = 0; i < num_axes; i++) {
            int64_t d = axes[i];
            double s = d2_load_f64(given->data, given->dtype, (size_t)i);
            if (!(s > 0) || isinf(s))
                return d2_errorf(err, D2_ERR_SHAPE, "scale %g for axis %lld must be positive and finite", s,
                                 (long long)d);
            plan->scale[d] = s;
            if (s == 1.0) {
                plan->out[d] = x->dims[d]; /* floor(in * 1) = in, even when in is unknown */
            } else if (x->dims[d] >= 0) {
                double out = floor((double)x->dims[d] * s);
                if (out > 1e15)
                    return d2_errorf(err, D2_ERR_SHAPE, "scale %g makes axis %lld too large", s, (long long)d);
                plan->out[d] = (int64_t)out;
            }
        }
        return D2_OK;
    }

    double requested[D2_MAX_RANK];
    bool all_inputs_known = true;
    for (int32_t i = 0; i < num_axes; i++) {
        int64_t d = axes[i];
        int64_t size = d2_tensor_get_i64(given, (size_t)i);
        if (size < 0)
            return d2_errorf(err, D2_ERR_SHAPE, "size %lld for axis %lld is negative", (long long)size, (long long)d);
        if (a->keep_aspect_ratio_policy == D2_ASPECT_POLICY_STRETCH)
            plan->out[d] = size; /* known even when the input dim is not */
        if (x->dims[d] < 0) {
            all_inputs_known = false;
            requested[i] = 0;
            continue;
        }
        if (x->dims[d] == 0 && size > 0)
            return d2_errorf(err, D2_ERR_SHAPE, "cannot resize the empty axis %lld to %lld", (long long)d,
                             (long long)size);
        requested[i] = x->dims[d] > 0 ? (double)size / (double)x->dims[d] : 1.0;
        if (a->keep_aspect_ratio_policy == D2_ASPECT_POLICY_STRETCH) {
            plan->out[d] = size;
            plan->scale[d] = requested[i];
        }
    }
    if (a->keep_aspect_ratio_policy == D2_ASPECT_POLICY_STRETCH || !all_inputs_known)
        return D2_OK;
    double s = requested[0];
    for (int32_t i = 1; i < num_axes; i++) {
        if (a->keep_aspect_ratio_policy == D2_ASPECT_POLICY_NOT_LARGER)
            s = requested[i] < s ? requested[i] : s;
        else
            s = requested[i] > s ? requested[i] : s;
    }
    for (int32_t i = 0; i < num_axes; i++) {
        plan->scale[axes[i]] = s;
        plan->out[axes[i]] = (int64_t)floor(s * (double)x->dims[axes[i]] + 0.5);
    }
    return D2_OK;
}

enum d2_status d2_shape_resize(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_resize *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    struct d2_resize_plan plan;
    enum d2_status st;

    out->dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    if (a->mode != D2_RESIZE_MODE_NEAREST && x->dtype == D2_DTYPE_BOOL)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "linear and cubic modes need a numeric input, got bool");
    st = d2_resize_make_plan(a, x, optional_type(ctx, 1), optional_value(ctx, 1), optional_type(ctx, 2),
                             optional_value(ctx, 2), optional_type(ctx, 3), optional_value(ctx, 3), &plan,
                             ctx->err);
    if (st != D2_OK)
        return st;
    *out = *x;
    for (int32_t i = 0; i < x->rank; i++) {
        /* Not resized, or scaled by exactly 1: the input dim (and its symbol) stays. */
        if (!plan.resized[i] || (plan.scale[i] == 1.0 && plan.out[i] == x->dims[i]))
            continue;
        out->dims[i] = plan.out[i];
        out->symbols[i] = NULL;
        out->upper_bounds[i] = -1;
    }
    return D2_OK;
}
