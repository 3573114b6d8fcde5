/* backends/cpu/ref_resize.c: reference kernel of resize (ONNX Resize, opset 19).
 *
 * Output sizes and per-axis scales come from d2_resize_make_plan (ir/shape_detect.h),
 * the same rules the shape function uses. Each resized axis maps output coordinate
 * x_r to an input coordinate x (coordinate_transformation_mode, below), then:
 *   nearest: take element round(x) (nearest_mode), clamped into the axis. Elements
 *     are copied bit for bit, so every dtype works.
 *   linear / cubic: a weighted sum of the taps around x. Let base = ceil(x) - 1 and
 *     ratio = x - base, in (0, 1] (an integer x counts as ratio 1 of the pixel to its
 *     left, as ONNX's reference does). Tap j is input index base + start + j with
 *     weight K((start + j - ratio) * s), where K is the triangle 1 - |d| (linear) or
 *     Keys' cubic with a = cubic_coeff_a, s = min(scale, 1) with antialias (the
 *     kernel stretched over the downsampling footprint, weights then normalized to
 *     sum 1) or 1 without, and start = floor(-support / s) + 1 for support 1 (linear)
 *     or 2 (cubic). Taps outside the axis read the edge element, or with
 *     exclude_outside get weight 0 (the others renormalized).
 *     The interpolation is separable: one pass per resized axis, in double.
 *     Integer outputs are rounded to nearest (ties to even) and saturated.
 * tf_crop_and_resize: a coordinate outside [0, in - 1] gives extrapolation_value.
 *
 * Coordinate transforms (scale from the plan, in/out the axis lengths, and
 * out_f = scale * in, the unrounded output length, used where ONNX's reference
 * implementation uses it):
 *   half_pixel            (x_r + 0.5) / scale - 0.5
 *   half_pixel_symmetric  c (1 - out / out_f) + (x_r + 0.5) / scale - 0.5, c = in / 2
 *   pytorch_half_pixel    out > 1 ? (x_r + 0.5) / scale - 0.5 : 0
 *   align_corners         out_f == 1 ? 0 : x_r (in - 1) / (out_f - 1)
 *   asymmetric            x_r / scale
 *   tf_crop_and_resize    start (in - 1) + x_r (end - start)(in - 1) / (out_f - 1)
 *                         (out_f == 1: (end - start)(in - 1) / 2 + start (in - 1)) */
#include "ref_resize.h"

#include <math.h>
#include <string.h>

enum d2_status d2_cpu_ref_resize(struct d2_kernel_ctx *ctx);

/* Where output coordinate j of one axis reads from. */

static enum d2_status oom(struct d2_kernel_ctx *ctx)
{
    return d2_errorf(ctx->err, D2_ERR_NOMEM, "node '%s' (resize): out of memory", ctx->node->name);
}

static double original_coordinate(const struct d2_attrs_resize *a, const struct d2_resize_plan *plan,
                                  int32_t axis, int64_t in, double x_r)
{
    double scale = plan->scale[axis], out_f = scale * (double)in;
    int64_t out = plan->out[axis];
    switch (a->coordinate_transformation_mode) {
    case D2_COORD_MODE_HALF_PIXEL_SYMMETRIC: {
        double center = (double)in / 2.0;
        return center * (1.0 - (double)out / out_f) + (x_r + 0.5) / scale - 0.5;
    }
    case D2_COORD_MODE_PYTORCH_HALF_PIXEL:
        return out > 1 ? (x_r + 0.5) / scale - 0.5 : 0.0;
    case D2_COORD_MODE_ALIGN_CORNERS:
        return out_f == 1.0 ? 0.0 : x_r * (double)(in - 1) / (out_f - 1.0);
    case D2_COORD_MODE_ASYMMETRIC:
        return x_r / scale;
    case D2_COORD_MODE_TF_CROP_AND_RESIZE: {
        double start = plan->roi_start[axis], end = plan->roi_end[axis];
        double x = out_f == 1.0 ? (end - start) * (double)(in - 1) / 2.0
                                : x_r * (end - start) * (double)(in - 1) / (out_f - 1.0);
        return x + start * (double)(in - 1);
    }
    default: /* half_pixel */
        return (x_r + 0.5) / scale - 0.5;
    }
}

/* Keys' cubic convolution kernel. */
static double cubic_kernel(double d, double A)
{
    d = fabs(d);
    if (d <= 1.0)
        return ((A + 2.0) * d - (A + 3.0)) * d * d + 1.0;
    if (d < 2.0)
        return ((A * d - 5.0 * A) * d + 8.0 * A) * d - 4.0 * A;
    return 0.0;
}

/* Input index nearest to x under nearest_mode (before clamping). */
static int64_t nearest_index(int32_t mode, double x)
{
    double f = floor(x), ratio = x - f;
    if (ratio == 0.0)
        return (int64_t)f;
    switch (mode) {
    case D2_NEAREST_MODE_ROUND_PREFER_CEIL: return (int64_t)f + (ratio >= 0.5);
    case D2_NEAREST_MODE_FLOOR: return (int64_t)f;
    case D2_NEAREST_MODE_CEIL: return (int64_t)f + 1;
    default: return (int64_t)f + (ratio > 0.5); /* round_prefer_floor */
    }
}

static int64_t clamp_index(int64_t i, int64_t in)
{
    return i < 0 ? 0 : (i >= in ? in - 1 : i);
}

/* Build the taps of one axis. */
enum d2_status d2_resize_make_taps(struct d2_kernel_ctx *ctx, const struct d2_resize_plan *plan, int32_t axis,
                                   int64_t in, struct d2_resize_taps *t)
{
    const struct d2_attrs_resize *a = ctx->node->attrs;
    int64_t out = plan->out[axis];
    double s = 1.0, support = a->mode == D2_RESIZE_MODE_CUBIC ? 2.0 : 1.0;
    int64_t start = 0;

    if (a->mode == D2_RESIZE_MODE_NEAREST || !plan->resized[axis]) {
        t->taps = 1;
    } else {
        if (a->antialias && plan->scale[axis] < 1.0)
            s = plan->scale[axis];
        start = (int64_t)floor(-support / s) + 1;
        t->taps = 2 - 2 * start;
    }
    size_t n = (size_t)(out > 0 ? out : 1) * (size_t)t->taps;
    t->index = d2_alloc(ctx->alloc, n * sizeof *t->index);
    t->weight = d2_alloc(ctx->alloc, n * sizeof *t->weight);
    t->extrapolate = d2_calloc(ctx->alloc, (size_t)(out > 0 ? out : 1), sizeof *t->extrapolate);
    if (!t->index || !t->weight || !t->extrapolate)
        return oom(ctx);
    for (int64_t j = 0; j < out; j++) {
        double x = original_coordinate(a, plan, axis, in, (double)j);
        int64_t *index = t->index + j * t->taps;
        double *weight = t->weight + j * t->taps;
        if (a->coordinate_transformation_mode == D2_COORD_MODE_TF_CROP_AND_RESIZE &&
            (x < 0.0 || x > (double)(in - 1)))
            t->extrapolate[j] = true;
        if (!plan->resized[axis]) { /* an axis not listed in axes: identity */
            index[0] = j;
            weight[0] = 1.0;
            t->extrapolate[j] = false;
            continue;
        }
        if (a->mode == D2_RESIZE_MODE_NEAREST) {
            index[0] = clamp_index(nearest_index(a->nearest_mode, x), in);
            weight[0] = 1.0;
            continue;
        }
        double base = ceil(x) - 1.0, ratio = x - base, sum = 0.0;
        for (int64_t k = 0; k < t->taps; k++) {
            double d = ((double)(start + k) - ratio) * s;
            double w = a->mode == D2_RESIZE_MODE_CUBIC ? cubic_kernel(d, a->cubic_coeff_a) : fmax(0.0, 1.0 - fabs(d));
            int64_t i = (int64_t)base + start + k;
            if (a->exclude_outside && (i < 0 || i >= in))
                w = 0.0;
            index[k] = clamp_index(i, in);
            weight[k] = w;
            sum += w;
        }
        /* ONNX normalizes the antialias kernels, and renormalizes after dropping
         * outside taps; the plain kernels already sum to 1. */
        if ((a->antialias || a->exclude_outside) && sum != 0.0)
            for (int64_t k = 0; k < t->taps; k++)
                weight[k] /= sum;
    }
    return D2_OK;
}

void d2_resize_free_taps(struct d2_kernel_ctx *ctx, struct d2_resize_taps *t)
{
    d2_free(ctx->alloc, t->index);
    d2_free(ctx->alloc, t->weight);
    d2_free(ctx->alloc, t->extrapolate);
}

/* Store v into an output of dtype t: integers round to nearest even and saturate. */
static void store_value(void *data, enum d2_dtype t, size_t i, double v)
{
    if (d2_dtype_is_float(t)) {
        d2_store_f64(data, t, i, v);
        return;
    }
    double lo = 0, hi = 0;
    switch (t) {
    case D2_DTYPE_I8: lo = INT8_MIN; hi = INT8_MAX; break;
    case D2_DTYPE_I16: lo = INT16_MIN; hi = INT16_MAX; break;
    case D2_DTYPE_I32: lo = INT32_MIN; hi = INT32_MAX; break;
    case D2_DTYPE_U8: hi = UINT8_MAX; break;
    case D2_DTYPE_U16: hi = UINT16_MAX; break;
    case D2_DTYPE_U32: hi = UINT32_MAX; break;
    case D2_DTYPE_U64: hi = 18446744073709551615.0; break;
    default: lo = -9223372036854775808.0; hi = 9223372036854775807.0; break; /* i64 */
    }
    v = nearbyint(v);
    d2_store_f64(data, t, i, isnan(v) ? 0.0 : fmin(fmax(v, lo), hi));
}

/* Nearest: gather each output element from the input, bit for bit. */
static void resize_nearest(struct d2_kernel_ctx *ctx, const struct d2_tensor *x, struct d2_tensor *y,
                           const struct d2_resize_taps *taps)
{
    const struct d2_attrs_resize *a = ctx->node->attrs;
    int64_t in_strides[D2_MAX_RANK], numel = d2_tensor_numel(y);
    size_t elem = d2_dtype_size(x->dtype);
    d2_strides(x->rank, x->dims, in_strides);
    for (int64_t o = 0; o < numel; o++) {
        int64_t rem = o, src = 0;
        bool extrapolate = false;
        for (int32_t d = y->rank - 1; d >= 0; d--) {
            int64_t j = rem % y->dims[d];
            rem /= y->dims[d];
            src += taps[d].index[j] * in_strides[d];
            extrapolate = extrapolate || taps[d].extrapolate[j];
        }
        if (extrapolate)
            store_value(y->data, y->dtype, (size_t)o, a->extrapolation_value);
        else
            memcpy((unsigned char *)y->data + (size_t)o * elem, (const unsigned char *)x->data + (size_t)src * elem,
                   elem);
    }
}

/* One separable pass: resample `axis` of buffer src (dims) into dst. */
static void resize_pass(const double *src, double *dst, const int64_t *dims, int32_t rank, int32_t axis,
                        int64_t out, const struct d2_resize_taps *t, double extrapolation_value)
{
    int64_t outer = 1, inner = 1, in = dims[axis];
    for (int32_t i = 0; i < axis; i++)
        outer *= dims[i];
    for (int32_t i = axis + 1; i < rank; i++)
        inner *= dims[i];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < out; j++) {
            double *row = dst + (o * out + j) * inner;
            if (t->extrapolate[j]) {
                for (int64_t i = 0; i < inner; i++)
                    row[i] = extrapolation_value;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) {
                double acc = 0.0;
                for (int64_t k = 0; k < t->taps; k++)
                    acc += t->weight[j * t->taps + k] * src[(o * in + t->index[j * t->taps + k]) * inner + i];
                row[i] = acc;
            }
        }
    }
}

static enum d2_status resize_interpolate(struct d2_kernel_ctx *ctx, const struct d2_tensor *x, struct d2_tensor *y,
                                         const struct d2_resize_plan *plan, const struct d2_resize_taps *taps)
{
    const struct d2_attrs_resize *a = ctx->node->attrs;
    int64_t dims[D2_MAX_RANK], numel = d2_tensor_numel(x);
    double *cur = d2_alloc(ctx->alloc, (size_t)(numel > 0 ? numel : 1) * sizeof *cur);
    if (!cur)
        return oom(ctx);
    for (int64_t i = 0; i < numel; i++)
        cur[i] = d2_load_f64(x->data, x->dtype, (size_t)i);
    memcpy(dims, x->dims, sizeof dims);
    for (int32_t d = 0; d < x->rank; d++) {
        bool identity = plan->scale[d] == 1.0 && plan->out[d] == dims[d] &&
                        a->coordinate_transformation_mode != D2_COORD_MODE_TF_CROP_AND_RESIZE;
        if (!plan->resized[d] || identity)
            continue;
        int64_t in = dims[d];
        dims[d] = plan->out[d];
        int64_t next_numel = d2_dims_numel(x->rank, dims);
        double *next = d2_alloc(ctx->alloc, (size_t)(next_numel > 0 ? next_numel : 1) * sizeof *next);
        if (!next) {
            d2_free(ctx->alloc, cur);
            return oom(ctx);
        }
        dims[d] = in;
        resize_pass(cur, next, dims, x->rank, d, plan->out[d], &taps[d], a->extrapolation_value);
        dims[d] = plan->out[d];
        d2_free(ctx->alloc, cur);
        cur = next;
    }
    int64_t out_numel = d2_tensor_numel(y);
    for (int64_t i = 0; i < out_numel; i++)
        store_value(y->data, y->dtype, (size_t)i, cur[i]);
    d2_free(ctx->alloc, cur);
    return D2_OK;
}

enum d2_status d2_cpu_ref_resize(struct d2_kernel_ctx *ctx)
{
    const struct d2_attrs_resize *a = ctx->node->attrs;
    const struct d2_tensor *x = ctx->inputs[0];
    struct d2_type x_type, opt_types[3];
    const struct d2_type *opt_type_ptr[3];
    struct d2_resize_plan plan;
    struct d2_resize_taps taps[D2_MAX_RANK];
    enum d2_status st;

    for (int i = 0; i < 3; i++) {
        const struct d2_tensor *t = (uint32_t)(i + 1) < ctx->num_inputs ? ctx->inputs[i + 1] : NULL;
        if (t)
            d2_type_from_tensor(&opt_types[i], t);
        opt_type_ptr[i] = t ? &opt_types[i] : NULL;
    }
    d2_type_from_tensor(&x_type, x);
    st = d2_resize_make_plan(a, &x_type, opt_type_ptr[0], opt_type_ptr[0] ? ctx->inputs[1] : NULL, opt_type_ptr[1],
                             opt_type_ptr[1] ? ctx->inputs[2] : NULL, opt_type_ptr[2],
                             opt_type_ptr[2] ? ctx->inputs[3] : NULL, &plan, ctx->err);
    if (st != D2_OK) {
        d2_error_prefix(ctx->err, "node '%s' (resize): ", ctx->node->name);
        return st;
    }
    if (a->mode != D2_RESIZE_MODE_NEAREST && x->dtype == D2_DTYPE_BOOL)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "node '%s' (resize): linear/cubic on bool", ctx->node->name);

    struct d2_tensor *y = &ctx->outputs[0];
    bool same = y->dtype == x->dtype && y->rank == x->rank && (y->data || d2_dims_numel(x->rank, plan.out) == 0);
    for (int32_t d = 0; same && d < x->rank; d++)
        same = y->dims[d] == plan.out[d];
    if (!same) {
        st = d2_kernel_alloc_output(ctx, 0, x->dtype, x->rank, plan.out);
        if (st != D2_OK)
            return st;
    }
    if (d2_tensor_numel(y) == 0)
        return D2_OK;
    for (int32_t d = 0; d < x->rank; d++)
        if (x->dims[d] == 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "node '%s' (resize): cannot resample the empty axis %d",
                             ctx->node->name, (int)d);

    memset(taps, 0, sizeof taps);
    for (int32_t d = 0; d < x->rank && st == D2_OK; d++)
        st = d2_resize_make_taps(ctx, &plan, d, x->dims[d], &taps[d]);
    if (st == D2_OK) {
        if (a->mode == D2_RESIZE_MODE_NEAREST)
            resize_nearest(ctx, x, y, taps);
        else
            st = resize_interpolate(ctx, x, y, &plan, taps);
    }
    for (int32_t d = 0; d < x->rank; d++)
        d2_resize_free_taps(ctx, &taps[d]);
    return st;
}
