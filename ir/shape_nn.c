/* ir/shape_nn.c: shape functions of the "neural network" ops of ir/ops.def (conv,
 * conv_transpose, normalizations, pools, matmul, gemm, softmax family), and the window
 * geometry (ir/shape_nn.h) that the conv/pool shape functions and reference kernels share.
 *
 * Conventions: a windowed op's input is [N, C, spatial...]; channel counts are checked
 * whenever both sides are known; unknown spatial sizes give unknown output sizes, while
 * the batch dim (with its symbol) and channel dims still come through. Errors are
 * D2_ERR_SHAPE with the op name in the message (the caller prefixes the node name).
 */
#include "shape_nn.h"

#include <string.h>

/* ======================================================================
 * Window geometry
 * ====================================================================== */

/* floor(a / b) for b > 0, also for negative a (C division truncates toward zero). */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return -floor_div(-a, b);
}

/* Per-spatial-dim attribute: empty means default_value for all; otherwise exactly
 * `spatial` values, each >= min_value. */
static enum d2_status read_spatial_ints(const char *op, const char *what, const struct d2_ints *v,
                                        int32_t spatial, int64_t default_value, int64_t min_value,
                                        int64_t *out, struct d2_error *err)
{
    if (v->count == 0) {
        for (int32_t i = 0; i < spatial; i++)
            out[i] = default_value;
        return D2_OK;
    }
    if (v->count != (uint32_t)spatial)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: %s has %u values but the input has %d spatial dims", op,
                         what, v->count, (int)spatial);
    for (int32_t i = 0; i < spatial; i++) {
        if (v->data[i] < min_value)
            return d2_errorf(err, D2_ERR_SHAPE, "%s: %s[%d] is %lld, must be >= %lld", op, what, (int)i,
                             (long long)v->data[i], (long long)min_value);
        out[i] = v->data[i];
    }
    return D2_OK;
}

/* The part every windowed op shares: kernel sizes (attribute, else W's dims),
 * strides, dilations and explicit pads [begins..., ends...]. */
static enum d2_status window_common(const char *op, int32_t spatial, const int64_t *in,
                                    const struct d2_ints *kernel_shape, const int64_t *w_kernel,
                                    bool kernel_required, const struct d2_ints *strides,
                                    const struct d2_ints *dilations, const struct d2_ints *pads,
                                    struct d2_window *w, struct d2_error *err)
{
    enum d2_status st;
    memset(w, 0, sizeof *w);
    if (spatial < 1 || spatial > D2_MAX_SPATIAL)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: input needs rank 3..%d ([N, C, spatial...]), got rank %d",
                         op, D2_MAX_RANK, (int)spatial + 2);
    w->spatial = spatial;
    for (int32_t i = 0; i < spatial; i++) {
        w->in[i] = in ? in[i] : D2_DIM_UNKNOWN;
        w->out[i] = D2_DIM_UNKNOWN;
    }
    if (kernel_shape->count == 0 && kernel_required)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: kernel_shape is required", op);
    if (kernel_shape->count != 0) {
        st = read_spatial_ints(op, "kernel_shape", kernel_shape, spatial, 1, 1, w->kernel, err);
        if (st != D2_OK)
            return st;
        for (int32_t i = 0; w_kernel && i < spatial; i++)
            if (w_kernel[i] >= 0 && w_kernel[i] != w->kernel[i])
                return d2_errorf(err, D2_ERR_SHAPE, "%s: kernel_shape[%d] is %lld but W's spatial dim is %lld",
                                 op, (int)i, (long long)w->kernel[i], (long long)w_kernel[i]);
    } else {
        for (int32_t i = 0; i < spatial; i++)
            w->kernel[i] = w_kernel ? w_kernel[i] : D2_DIM_UNKNOWN;
    }
    st = read_spatial_ints(op, "strides", strides, spatial, 1, 1, w->stride, err);
    if (st == D2_OK)
        st = read_spatial_ints(op, "dilations", dilations, spatial, 1, 1, w->dilation, err);
    if (st != D2_OK)
        return st;
    if (pads->count != 0 && pads->count != 2 * (uint32_t)spatial)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: pads has %u values, expected %d ([begins..., ends...])", op,
                         pads->count, 2 * (int)spatial);
    for (int32_t i = 0; i < spatial; i++) {
        w->pad_begin[i] = pads->count ? pads->data[i] : 0;
        w->pad_end[i] = pads->count ? pads->data[spatial + i] : 0;
        if (w->pad_begin[i] < 0 || w->pad_end[i] < 0)
            return d2_errorf(err, D2_ERR_SHAPE, "%s: pads of spatial dim %d are negative (%lld, %lld)", op,
                             (int)i, (long long)w->pad_begin[i], (long long)w->pad_end[i]);
    }
    return D2_OK;
}

static int64_t dilated_kernel(const struct d2_window *w, int32_t i)
{
    return (w->kernel[i] - 1) * w->dilation[i] + 1;
}

/* conv and pools: output size and paddings of spatial dim i (input and kernel known).
 * ceil_mode (pools) rounds the window count up, but the last window must start
 * inside the input or the left padding. auto_pad SAME/VALID give the same sizes in
 * both rounding modes, so ceil_mode does not affect them. */
static enum d2_status resolve_forward_dim(const char *op, int32_t auto_pad, bool ceil_mode,
                                          struct d2_window *w, int32_t i, struct d2_error *err)
{
    int64_t in = w->in[i], s = w->stride[i], dk = dilated_kernel(w, i);
    switch (auto_pad) {
    case D2_AUTO_PAD_SAME_UPPER:
    case D2_AUTO_PAD_SAME_LOWER: {
        int64_t out = ceil_div(in, s);
        int64_t total = (out - 1) * s + dk - in;
        if (total < 0)
            total = 0;
        /* SAME_UPPER puts the odd padding unit at the end, SAME_LOWER at the begin. */
        if (auto_pad == D2_AUTO_PAD_SAME_UPPER) {
            w->pad_begin[i] = total / 2;
            w->pad_end[i] = total - total / 2;
        } else {
            w->pad_end[i] = total / 2;
            w->pad_begin[i] = total - total / 2;
        }
        w->out[i] = out;
        return D2_OK;
    }
    case D2_AUTO_PAD_VALID:
        w->pad_begin[i] = w->pad_end[i] = 0;
        break;
    default:
        break;
    }
    int64_t span = in + w->pad_begin[i] + w->pad_end[i] - dk;
    if (span < 0)
        return d2_errorf(err, D2_ERR_SHAPE,
                         "%s: spatial dim %d: input size %lld plus pads %lld+%lld is smaller than the "
                         "dilated kernel %lld",
                         op, (int)i, (long long)in, (long long)w->pad_begin[i], (long long)w->pad_end[i],
                         (long long)dk);
    int64_t out = (ceil_mode ? ceil_div(span, s) : floor_div(span, s)) + 1;
    if (ceil_mode && (out - 1) * s >= in + w->pad_begin[i])
        out--;
    w->out[i] = out;
    return D2_OK;
}

enum d2_status d2_window_conv(const struct d2_attrs_conv *attrs, int32_t spatial, const int64_t *in,
                              const int64_t *w_kernel, struct d2_window *w, struct d2_error *err)
{
    enum d2_status st = window_common("conv", spatial, in, &attrs->kernel_shape, w_kernel, false,
                                      &attrs->strides, &attrs->dilations, &attrs->pads, w, err);
    for (int32_t i = 0; st == D2_OK && i < spatial; i++)
        if (w->in[i] >= 0 && w->kernel[i] >= 0)
            st = resolve_forward_dim("conv", attrs->auto_pad, false, w, i, err);
    return st;
}

enum d2_status d2_window_pool(const struct d2_attrs_pool *attrs, const char *op, int32_t spatial,
                              const int64_t *in, struct d2_window *w, struct d2_error *err)
{
    enum d2_status st = window_common(op, spatial, in, &attrs->kernel_shape, NULL, true, &attrs->strides,
                                      &attrs->dilations, &attrs->pads, w, err);
    for (int32_t i = 0; st == D2_OK && i < spatial; i++) {
        /* A pad as large as the window would let a window see only padding. */
        int64_t dk = dilated_kernel(w, i);
        if (attrs->auto_pad == D2_AUTO_PAD_NOTSET && (w->pad_begin[i] >= dk || w->pad_end[i] >= dk))
            return d2_errorf(err, D2_ERR_SHAPE, "%s: pads of spatial dim %d (%lld, %lld) must be smaller than "
                             "the dilated kernel %lld", op, (int)i, (long long)w->pad_begin[i],
                             (long long)w->pad_end[i], (long long)dk);
        if (w->in[i] >= 0)
            st = resolve_forward_dim(op, attrs->auto_pad, attrs->ceil_mode != 0, w, i, err);
    }
    return st;
}

enum d2_status d2_window_conv_transpose(const struct d2_attrs_conv_transpose *attrs, int32_t spatial,
                                        const int64_t *in, const int64_t *w_kernel,
                                        struct d2_window *w, struct d2_error *err)
{
    const char *op = "conv_transpose";
    int64_t output_padding[D2_MAX_SPATIAL];
    const int64_t *output_shape = NULL;
    enum d2_status st = window_common(op, spatial, in, &attrs->kernel_shape, w_kernel, false, &attrs->strides,
                                      &attrs->dilations, &attrs->pads, w, err);
    if (st == D2_OK)
        st = read_spatial_ints(op, "output_padding", &attrs->output_padding, spatial, 0, 0, output_padding, err);
    if (st != D2_OK)
        return st;
    /* output_shape lists the spatial sizes; some exporters also include N and C. */
    if (attrs->output_shape.count == (uint32_t)spatial)
        output_shape = attrs->output_shape.data;
    else if (attrs->output_shape.count == (uint32_t)spatial + 2)
        output_shape = attrs->output_shape.data + 2;
    else if (attrs->output_shape.count != 0)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: output_shape has %u values but the input has %d spatial dims",
                         op, attrs->output_shape.count, (int)spatial);
    for (int32_t i = 0; output_shape && i < spatial; i++)
        if (output_shape[i] < 0)
            return d2_errorf(err, D2_ERR_SHAPE, "%s: output_shape[%d] is negative (%lld)", op, (int)i,
                             (long long)output_shape[i]);

    for (int32_t i = 0; i < spatial; i++) {
        if (w->in[i] < 0 || w->kernel[i] < 0) {
            if (output_shape) /* the size is known even when the input's is not */
                w->out[i] = output_shape[i];
            continue;
        }
        /* The size a transposed conv produces with no padding at all. */
        int64_t full = w->stride[i] * (w->in[i] - 1) + output_padding[i] + dilated_kernel(w, i);
        int64_t target;
        if (output_shape)
            target = output_shape[i];
        else if (attrs->auto_pad == D2_AUTO_PAD_SAME_UPPER || attrs->auto_pad == D2_AUTO_PAD_SAME_LOWER)
            target = w->in[i] * w->stride[i];
        else if (attrs->auto_pad == D2_AUTO_PAD_VALID)
            target = full;
        else
            target = full - w->pad_begin[i] - w->pad_end[i];
        if (output_shape || attrs->auto_pad != D2_AUTO_PAD_NOTSET) {
            /* Derive the pads: the odd unit goes to the begin except for SAME_UPPER
             * (ONNX ConvTranspose's rule). A target larger than the full output is
             * not negative padding: the extra positions at the end get the bias only
             * (as onnxruntime and the ONNX node tests do). */
            int64_t total = full - target > 0 ? full - target : 0;
            if (attrs->auto_pad == D2_AUTO_PAD_SAME_UPPER) {
                w->pad_begin[i] = total / 2;
                w->pad_end[i] = total - total / 2;
            } else {
                w->pad_end[i] = total / 2;
                w->pad_begin[i] = total - total / 2;
            }
        }
        if (target < 0)
            return d2_errorf(err, D2_ERR_SHAPE, "%s: spatial dim %d: pads %lld+%lld exceed the full output size %lld",
                             op, (int)i, (long long)w->pad_begin[i], (long long)w->pad_end[i], (long long)full);
        w->out[i] = target;
    }
    return D2_OK;
}

/* ======================================================================
 * Helpers for the shape functions
 * ====================================================================== */

/* Copy dim j of `from` (size, symbol, upper bound) into dim i of `to`. */
static void copy_dim(struct d2_type *to, int32_t i, const struct d2_type *from, int32_t j)
{
    if (from && from->rank > j) {
        to->dims[i] = from->dims[j];
        to->symbols[i] = from->symbols[j];
        to->upper_bounds[i] = from->upper_bounds[j];
    } else {
        to->dims[i] = D2_DIM_UNKNOWN;
        to->symbols[i] = NULL;
        to->upper_bounds[i] = -1;
    }
}

static int64_t dim_or_unknown(const struct d2_type *t, int32_t i)
{
    return t && t->rank > i ? t->dims[i] : D2_DIM_UNKNOWN;
}

static const struct d2_type *optional_input(const struct d2_shape_ctx *ctx, uint32_t i)
{
    return i < ctx->num_inputs ? ctx->input_types[i] : NULL;
}

/* The input's dtype must be a float type (or still unknown). */
static enum d2_status require_float(const char *op, const char *what, const struct d2_type *t,
                                    struct d2_error *err)
{
    if (t && t->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(t->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "%s: %s must be a float tensor, got %s", op, what,
                         d2_dtype_name(t->dtype));
    return D2_OK;
}

/* Numeric (float or integer, not bool) or unknown. */
static enum d2_status require_numeric(const char *op, const char *what, const struct d2_type *t,
                                      struct d2_error *err)
{
    if (t && t->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_float(t->dtype) && !d2_dtype_is_integer(t->dtype))
        return d2_errorf(err, D2_ERR_SHAPE, "%s: %s must be numeric, got %s", op, what, d2_dtype_name(t->dtype));
    return D2_OK;
}

static enum d2_status require_same_dtype(const char *op, const char *what, const struct d2_type *a,
                                         const struct d2_type *b, struct d2_error *err)
{
    if (a && b && a->dtype != D2_DTYPE_UNDEFINED && b->dtype != D2_DTYPE_UNDEFINED && a->dtype != b->dtype)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: %s has dtype %s but X has %s", op, what,
                         d2_dtype_name(b->dtype), d2_dtype_name(a->dtype));
    return D2_OK;
}

/* A per-channel vector input (bias, scale, mean...): rank 1 with `channels` entries
 * when both are known. */
static enum d2_status require_channel_vector(const char *op, const char *what, const struct d2_type *t,
                                             int64_t channels, struct d2_error *err)
{
    if (!t || t->rank < 0)
        return D2_OK;
    if (t->rank != 1)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: %s must be 1-D, got rank %d", op, what, (int)t->rank);
    if (t->dims[0] >= 0 && channels >= 0 && t->dims[0] != channels)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: %s has %lld entries but there are %lld channels", op, what,
                         (long long)t->dims[0], (long long)channels);
    return D2_OK;
}

/* ======================================================================
 * conv, conv_transpose
 * ====================================================================== */

/* Shared by conv and conv_transpose: dtypes, ranks, the window, the output type. For
 * conv, W is [M, C/group, k...]; for conv_transpose, W is [C, M/group, k...]. */
static enum d2_status shape_conv_like(struct d2_shape_ctx *ctx, bool transpose)
{
    const char *op = transpose ? "conv_transpose" : "conv";
    const struct d2_type *x = ctx->input_types[0], *wt = ctx->input_types[1], *b = optional_input(ctx, 2);
    int64_t group = transpose ? ((const struct d2_attrs_conv_transpose *)ctx->node->attrs)->group
                              : ((const struct d2_attrs_conv *)ctx->node->attrs)->group;
    struct d2_type *y = &ctx->output_types[0];
    enum d2_status st;
    int32_t rank;

    if ((st = require_float(op, "X", x, ctx->err)) != D2_OK || (st = require_same_dtype(op, "W", x, wt, ctx->err)) ||
        (st = require_same_dtype(op, "B", x, b, ctx->err)))
        return st;
    if (group < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: group is %lld, must be >= 1", op, (long long)group);
    y->dtype = x->dtype != D2_DTYPE_UNDEFINED ? x->dtype : wt->dtype;
    rank = x->rank >= 0 ? x->rank : wt->rank;
    if (rank < 0)
        return D2_OK; /* nothing known about the ranks: unknown output rank */
    if (rank < 3)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X needs rank >= 3 ([N, C, spatial...]), got rank %d", op,
                         (int)rank);
    if (x->rank >= 0 && wt->rank >= 0 && x->rank != wt->rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X has rank %d but W has rank %d", op, (int)x->rank,
                         (int)wt->rank);

    int64_t channels = dim_or_unknown(x, 1);
    int64_t w0 = dim_or_unknown(wt, 0), w1 = dim_or_unknown(wt, 1);
    int64_t out_channels;
    if (!transpose) {
        if (channels >= 0 && w1 >= 0 && channels != w1 * group)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X has %lld channels but W expects %lld (group %lld)", op,
                             (long long)channels, (long long)(w1 * group), (long long)group);
        if (w0 >= 0 && w0 % group != 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: W has %lld output channels, not divisible by group %lld",
                             op, (long long)w0, (long long)group);
        out_channels = w0;
    } else {
        if (channels >= 0 && w0 >= 0 && channels != w0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X has %lld channels but W has %lld (W is [C, M/group, k...])",
                             op, (long long)channels, (long long)w0);
        if (w0 >= 0 && w0 % group != 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: W has %lld input channels, not divisible by group %lld", op,
                             (long long)w0, (long long)group);
        out_channels = w1 >= 0 ? w1 * group : D2_DIM_UNKNOWN;
    }
    if ((st = require_channel_vector(op, "B", b, out_channels, ctx->err)) != D2_OK)
        return st;
    if (out_channels < 0 && b && b->rank == 1)
        out_channels = b->dims[0];

    int32_t spatial = rank - 2;
    int64_t in[D2_MAX_SPATIAL], w_kernel[D2_MAX_SPATIAL];
    for (int32_t i = 0; i < spatial && i < D2_MAX_SPATIAL; i++) {
        in[i] = dim_or_unknown(x, i + 2);
        w_kernel[i] = dim_or_unknown(wt, i + 2);
    }
    struct d2_window w;
    if (transpose)
        st = d2_window_conv_transpose(ctx->node->attrs, spatial, in, wt->rank >= 0 ? w_kernel : NULL, &w, ctx->err);
    else
        st = d2_window_conv(ctx->node->attrs, spatial, in, wt->rank >= 0 ? w_kernel : NULL, &w, ctx->err);
    if (st != D2_OK)
        return st;

    enum d2_dtype dtype = y->dtype;
    d2_type_init(y, dtype, rank, NULL);
    copy_dim(y, 0, x, 0);
    y->dims[1] = out_channels;
    for (int32_t i = 0; i < spatial; i++)
        y->dims[i + 2] = w.out[i];
    return D2_OK;
}

enum d2_status d2_shape_conv(struct d2_shape_ctx *ctx)
{
    return shape_conv_like(ctx, false);
}

enum d2_status d2_shape_conv_transpose(struct d2_shape_ctx *ctx)
{
    return shape_conv_like(ctx, true);
}

/* ======================================================================
 * Normalizations
 * ====================================================================== */

/* batch_norm(X, scale, B, mean, var), instance_norm(X, scale, B): Y has X's type;
 * the other inputs are per-channel vectors. */
static enum d2_status shape_channel_norm(struct d2_shape_ctx *ctx, const char *op, int32_t min_rank)
{
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    const struct d2_type *x = ctx->input_types[0];
    enum d2_status st = require_float(op, "X", x, ctx->err);
    if (st != D2_OK)
        return st;
    if (x->rank >= 0 && x->rank < min_rank)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X needs rank >= %d ([N, C, ...]), got rank %d", op,
                         (int)min_rank, (int)x->rank);
    for (uint32_t i = 1; i < ctx->num_inputs && i < 5; i++) {
        if ((st = require_float(op, names[i], ctx->input_types[i], ctx->err)) != D2_OK ||
            (st = require_channel_vector(op, names[i], ctx->input_types[i], dim_or_unknown(x, 1), ctx->err)))
            return st;
    }
    ctx->output_types[0] = *x;
    return D2_OK;
}

enum d2_status d2_shape_batch_norm(struct d2_shape_ctx *ctx)
{
    return shape_channel_norm(ctx, "batch_norm", 2);
}

enum d2_status d2_shape_instance_norm(struct d2_shape_ctx *ctx)
{
    return shape_channel_norm(ctx, "instance_norm", 3);
}

enum d2_status d2_shape_lrn(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_attrs_lrn *a = ctx->node->attrs;
    enum d2_status st = require_float("lrn", "X", x, ctx->err);
    if (st != D2_OK)
        return st;
    if (a->size < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "lrn: size is %lld, must be >= 1", (long long)a->size);
    if (x->rank >= 0 && x->rank < 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "lrn: X needs rank >= 2 ([N, C, ...]), got rank %d", (int)x->rank);
    ctx->output_types[0] = *x;
    return D2_OK;
}

/* ======================================================================
 * Pools
 * ====================================================================== */

static enum d2_status shape_pool(struct d2_shape_ctx *ctx, const char *op, bool allow_integers)
{
    const struct d2_type *x = ctx->input_types[0];
    enum d2_status st = allow_integers ? require_numeric(op, "X", x, ctx->err) : require_float(op, "X", x, ctx->err);
    if (st != D2_OK)
        return st;
    if (x->rank < 0) {
        for (uint32_t i = 0; i < ctx->num_outputs; i++)
            ctx->output_types[i].dtype = i == 0 ? x->dtype : D2_DTYPE_I64;
        return D2_OK;
    }
    int32_t spatial = x->rank - 2;
    int64_t in[D2_MAX_SPATIAL];
    for (int32_t i = 0; i < spatial && i < D2_MAX_SPATIAL; i++)
        in[i] = x->dims[i + 2];
    struct d2_window w;
    if ((st = d2_window_pool(ctx->node->attrs, op, spatial, in, &w, ctx->err)) != D2_OK)
        return st;
    struct d2_type *y = &ctx->output_types[0];
    d2_type_init(y, x->dtype, x->rank, NULL);
    copy_dim(y, 0, x, 0);
    copy_dim(y, 1, x, 1);
    for (int32_t i = 0; i < spatial; i++)
        y->dims[i + 2] = w.out[i];
    if (ctx->num_outputs > 1) { /* max_pool's Indices: same shape, i64 */
        ctx->output_types[1] = *y;
        ctx->output_types[1].dtype = D2_DTYPE_I64;
    }
    return D2_OK;
}

enum d2_status d2_shape_max_pool(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_pool *a = ctx->node->attrs;
    if (a->storage_order != 0 && a->storage_order != 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "max_pool: storage_order is %lld, must be 0 or 1",
                         (long long)a->storage_order);
    return shape_pool(ctx, "max_pool", true);
}

enum d2_status d2_shape_average_pool(struct d2_shape_ctx *ctx)
{
    return shape_pool(ctx, "average_pool", false);
}

enum d2_status d2_shape_lp_pool(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_pool *a = ctx->node->attrs;
    if (a->p < 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "lp_pool: p is %lld, must be >= 1", (long long)a->p);
    return shape_pool(ctx, "lp_pool", false);
}

/* Global pools: [N, C, spatial...] -> [N, C, 1, ...]. */
static enum d2_status shape_global_pool(struct d2_shape_ctx *ctx, const char *op, bool allow_integers)
{
    const struct d2_type *x = ctx->input_types[0];
    enum d2_status st = allow_integers ? require_numeric(op, "X", x, ctx->err) : require_float(op, "X", x, ctx->err);
    if (st != D2_OK)
        return st;
    struct d2_type *y = &ctx->output_types[0];
    if (x->rank < 0) {
        y->dtype = x->dtype;
        return D2_OK;
    }
    if (x->rank < 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: X needs rank >= 2 ([N, C, spatial...]), got rank %d", op,
                         (int)x->rank);
    d2_type_init(y, x->dtype, x->rank, NULL);
    copy_dim(y, 0, x, 0);
    copy_dim(y, 1, x, 1);
    for (int32_t i = 2; i < x->rank; i++)
        y->dims[i] = 1;
    return D2_OK;
}

enum d2_status d2_shape_global_average_pool(struct d2_shape_ctx *ctx)
{
    return shape_global_pool(ctx, "global_average_pool", false);
}

enum d2_status d2_shape_global_max_pool(struct d2_shape_ctx *ctx)
{
    return shape_global_pool(ctx, "global_max_pool", true);
}

/* ======================================================================
 * matmul, gemm
 * ====================================================================== */

/* Inner dims agree (or one is unknown). */
static enum d2_status check_inner(const char *op, int64_t ka, int64_t kb, struct d2_error *err)
{
    if (ka >= 0 && kb >= 0 && ka != kb)
        return d2_errorf(err, D2_ERR_SHAPE, "%s: inner dims differ: A has %lld columns, B has %lld rows", op,
                         (long long)ka, (long long)kb);
    return D2_OK;
}

enum d2_status d2_shape_matmul(struct d2_shape_ctx *ctx)
{
    const struct d2_type *a = ctx->input_types[0], *b = ctx->input_types[1];
    struct d2_type *y = &ctx->output_types[0];
    enum d2_status st;
    if ((st = require_numeric("matmul", "A", a, ctx->err)) != D2_OK ||
        (st = require_same_dtype("matmul", "B", a, b, ctx->err)) != D2_OK)
        return st;
    y->dtype = a->dtype != D2_DTYPE_UNDEFINED ? a->dtype : b->dtype;
    if (a->rank == 0 || b->rank == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "matmul: inputs must have rank >= 1 (A rank %d, B rank %d)",
                         (int)a->rank, (int)b->rank);
    if (a->rank < 0 || b->rank < 0)
        return D2_OK;

    /* numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the added dim is
     * dropped from the result. Leading dims broadcast. */
    int64_t ka = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    if ((st = check_inner("matmul", ka, kb, ctx->err)) != D2_OK)
        return st;
    struct d2_type a_batch, b_batch, batch;
    d2_type_init(&a_batch, y->dtype, a->rank > 2 ? a->rank - 2 : 0, NULL);
    d2_type_init(&b_batch, y->dtype, b->rank > 2 ? b->rank - 2 : 0, NULL);
    for (int32_t i = 0; i < a_batch.rank; i++)
        copy_dim(&a_batch, i, a, i);
    for (int32_t i = 0; i < b_batch.rank; i++)
        copy_dim(&b_batch, i, b, i);
    batch.dtype = y->dtype;
    if ((st = d2_shape_broadcast(&a_batch, &b_batch, &batch, ctx->err)) != D2_OK)
        return st;
    int32_t rank = batch.rank + (a->rank > 1) + (b->rank > 1);
    if (rank > D2_MAX_RANK)
        return d2_errorf(ctx->err, D2_ERR_UNSUPPORTED, "matmul: result rank %d exceeds %d", (int)rank, D2_MAX_RANK);
    enum d2_dtype dtype = y->dtype;
    *y = batch;
    y->dtype = dtype;
    y->rank = rank;
    int32_t r = batch.rank;
    if (a->rank > 1)
        copy_dim(y, r++, a, a->rank - 2);
    if (b->rank > 1)
        copy_dim(y, r++, b, b->rank - 1);
    return D2_OK;
}

enum d2_status d2_shape_gemm(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_gemm *attrs = ctx->node->attrs;
    const struct d2_type *a = ctx->input_types[0], *b = ctx->input_types[1], *c = optional_input(ctx, 2);
    struct d2_type *y = &ctx->output_types[0];
    enum d2_status st;
    if ((st = require_numeric("gemm", "A", a, ctx->err)) != D2_OK ||
        (st = require_same_dtype("gemm", "B", a, b, ctx->err)) != D2_OK ||
        (st = require_same_dtype("gemm", "C", a, c, ctx->err)) != D2_OK)
        return st;
    y->dtype = a->dtype != D2_DTYPE_UNDEFINED ? a->dtype : b->dtype;
    if ((a->rank >= 0 && a->rank != 2) || (b->rank >= 0 && b->rank != 2))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "gemm: A and B must be 2-D (A rank %d, B rank %d)", (int)a->rank,
                         (int)b->rank);
    if (c && c->rank > 2)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "gemm: C must have rank <= 2, got rank %d", (int)c->rank);
    enum d2_dtype dtype = y->dtype;
    d2_type_init(y, dtype, 2, NULL);
    int32_t am = attrs->trans_a ? 1 : 0, bn = attrs->trans_b ? 0 : 1;
    copy_dim(y, 0, a->rank == 2 ? a : NULL, am);
    copy_dim(y, 1, b->rank == 2 ? b : NULL, bn);
    if ((st = check_inner("gemm", dim_or_unknown(a, 1 - am), dim_or_unknown(b, 1 - bn), ctx->err)) != D2_OK)
        return st;
    /* C broadcasts to [M, N] one way only: each of its dims is 1 or the output's. */
    for (int32_t i = 0; c && c->rank > 0 && i < c->rank; i++) {
        int32_t yi = i + 2 - c->rank;
        int64_t cd = c->dims[i];
        if (cd < 0 || cd == 1)
            continue;
        if (y->dims[yi] >= 0 && y->dims[yi] != cd)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "gemm: C dim %d is %lld, cannot broadcast to the output's %lld",
                             (int)i, (long long)cd, (long long)y->dims[yi]);
        if (y->dims[yi] < 0) { /* C pins the unknown output dim */
            y->dims[yi] = cd;
            y->symbols[yi] = NULL;
            y->upper_bounds[yi] = -1;
        }
    }
    return D2_OK;
}

/* ======================================================================
 * softmax, log_softmax, hardmax: same type as X, axis in range
 * ====================================================================== */

static enum d2_status shape_softmax_like(struct d2_shape_ctx *ctx, const char *op)
{
    const struct d2_type *x = ctx->input_types[0];
    int64_t axis = ((const struct d2_attrs_axis *)ctx->node->attrs)->axis, normalized;
    enum d2_status st = require_float(op, "X", x, ctx->err);
    if (st != D2_OK)
        return st;
    if (x->rank >= 0 && !d2_normalize_axis(axis, x->rank, &normalized))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "%s: axis %lld is out of range for rank %d", op, (long long)axis,
                         (int)x->rank);
    ctx->output_types[0] = *x;
    return D2_OK;
}

enum d2_status d2_shape_softmax(struct d2_shape_ctx *ctx)
{
    return shape_softmax_like(ctx, "softmax");
}

enum d2_status d2_shape_log_softmax(struct d2_shape_ctx *ctx)
{
    return shape_softmax_like(ctx, "log_softmax");
}

enum d2_status d2_shape_hardmax(struct d2_shape_ctx *ctx)
{
    return shape_softmax_like(ctx, "hardmax");
}
