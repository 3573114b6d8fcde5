/* ir/shape_reduce.c: shape functions of the "reductions and search" ops of ops.def:
 * reduce_* (ten of them, one rule), argmax, argmin, topk, non_zero, cum_sum.
 *
 * Contract (see struct d2_shape_ctx in ir/ir.h): set every output's dtype and as
 * many dims as the inputs allow. At compile time only constant inputs have values
 * (the reduce axes, topk's k); at run time all do, and the result is static.
 *   reduce_*(x, axes?) {keepdims, noop_with_empty_axes}: axes absent or empty means
 *     every axis, or the identity when noop_with_empty_axes = 1. Duplicate or
 *     out-of-range axes are errors.
 *   argmax/argmin(x) {axis, keepdims}: i64, the axis dropped or kept as 1; reducing a
 *     zero-size axis is an error (there is no index to return).
 *   topk(x, k): values (x's dtype) and i64 indices, dims[axis] = k; k must be a
 *     scalar or one-element integer tensor with 0 <= k <= dims[axis].
 *   non_zero(x): i64 [max(rank,1), n], n data dependent (upper bound numel).
 *   cum_sum(x, axis): x's type; axis is a scalar (or one-element) i32/i64 tensor.
 */
#include "ir.h"

#include <string.h>

/* Shape functions of this file (the table in ir/shape.c finds them by name). */
enum d2_status d2_shape_reduce_max(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_min(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_sum(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_mean(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_prod(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_l1(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_l2(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_sum_square(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_log_sum(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_reduce_log_sum_exp(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_argmax(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_argmin(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_topk(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_non_zero(struct d2_shape_ctx *ctx);
enum d2_status d2_shape_cum_sum(struct d2_shape_ctx *ctx);


/* Copy of the input type with its dtype replaced. */
static void copy_type(struct d2_type *out, const struct d2_type *in, enum d2_dtype dtype)
{
    *out = *in;
    out->dtype = dtype;
}

/* Reduced-axis mask of a reduce node. Sets *all_unknown when the axes are not known
 * yet (a non-constant axes input at compile time), *identity when the op is a no-op
 * (empty axes with noop_with_empty_axes). rank must be known. */
static enum d2_status reduce_axes_mask(struct d2_shape_ctx *ctx, int32_t rank, bool *mask,
                                       bool *all_unknown, bool *identity)
{
    const struct d2_attrs_reduce *a = ctx->node->attrs;
    const struct d2_type *axes_type = ctx->num_inputs > 1 ? ctx->input_types[1] : NULL;
    const struct d2_tensor *axes = ctx->num_inputs > 1 ? ctx->input_values[1] : NULL;
    *all_unknown = false;
    *identity = false;
    bool known_empty = axes_type && axes_type->rank == 1 && axes_type->dims[0] == 0;
    if (axes_type && !axes && !known_empty) {
        *all_unknown = true;
        return D2_OK;
    }
    if (axes && !d2_dtype_is_integer(axes->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axes must be an integer tensor, got %s",
                         d2_dtype_name(axes->dtype));
    if (axes && axes->rank > 1)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axes must be 1-D, got rank %d", (int)axes->rank);
    int64_t count = axes ? d2_tensor_numel(axes) : 0;
    if (count == 0) {
        for (int32_t i = 0; i < rank; i++)
            mask[i] = !a->noop_with_empty_axes;
        *identity = a->noop_with_empty_axes != 0;
        return D2_OK;
    }
    for (int32_t i = 0; i < rank; i++)
        mask[i] = false;
    for (int64_t i = 0; i < count; i++) {
        int64_t axis = d2_tensor_get_i64(axes, (size_t)i), norm;
        if (!d2_normalize_axis(axis, rank, &norm))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d",
                             (long long)axis, (int)rank);
        if (mask[norm])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is listed twice", (long long)axis);
        mask[norm] = true;
    }
    return D2_OK;
}

static enum d2_status shape_reduce(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_reduce *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    bool mask[D2_MAX_RANK], all_unknown, identity;
    enum d2_status st;

    out->dtype = x->dtype;
    if (x->rank < 0)
        return D2_OK;
    st = reduce_axes_mask(ctx, x->rank, mask, &all_unknown, &identity);
    if (st != D2_OK)
        return st;
    if (identity) {
        copy_type(out, x, x->dtype);
        return D2_OK;
    }
    if (all_unknown) {
        const struct d2_type *axes_type = ctx->input_types[1];
        if (a->keepdims && !a->noop_with_empty_axes) {
            /* Same rank; each dim stays or becomes 1. */
            d2_type_init(out, x->dtype, x->rank, NULL);
            for (int32_t i = 0; i < x->rank; i++) {
                out->dims[i] = x->dims[i] == 1 ? 1 : D2_DIM_UNKNOWN;
                out->upper_bounds[i] = x->dims[i] >= 0 ? x->dims[i] : -1;
            }
        } else if (!a->keepdims && axes_type->rank == 1 && axes_type->dims[0] > 0 &&
                   axes_type->dims[0] <= x->rank) {
            d2_type_init(out, x->dtype, x->rank - (int32_t)axes_type->dims[0], NULL);
        }
        return D2_OK;
    }
    int32_t rank = 0;
    int64_t dims[D2_MAX_RANK];
    const char *symbols[D2_MAX_RANK];
    int64_t bounds[D2_MAX_RANK];
    for (int32_t i = 0; i < x->rank; i++) {
        if (mask[i] && !a->keepdims)
            continue;
        dims[rank] = mask[i] ? 1 : x->dims[i];
        symbols[rank] = mask[i] ? NULL : x->symbols[i];
        bounds[rank] = mask[i] ? -1 : x->upper_bounds[i];
        rank++;
    }
    d2_type_init(out, x->dtype, rank, dims);
    for (int32_t i = 0; i < rank; i++) {
        out->symbols[i] = symbols[i];
        out->upper_bounds[i] = bounds[i];
    }
    return D2_OK;
}

enum d2_status d2_shape_reduce_max(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_min(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_sum(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_mean(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_prod(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_l1(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_l2(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_sum_square(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_log_sum(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }
enum d2_status d2_shape_reduce_log_sum_exp(struct d2_shape_ctx *ctx) { return shape_reduce(ctx); }

static enum d2_status shape_arg_reduce(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_arg_reduce *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    int64_t axis;

    out->dtype = D2_DTYPE_I64;
    if (x->rank < 0)
        return D2_OK;
    if (!d2_normalize_axis(a->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d",
                         (long long)a->axis, (int)x->rank);
    if (x->dims[axis] == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "cannot take the index of the extreme of a zero-size axis %lld",
                         (long long)axis);
    copy_type(out, x, D2_DTYPE_I64);
    if (a->keepdims) {
        out->dims[axis] = 1;
        out->symbols[axis] = NULL;
        out->upper_bounds[axis] = -1;
    } else {
        for (int32_t i = (int32_t)axis; i + 1 < x->rank; i++) {
            out->dims[i] = x->dims[i + 1];
            out->symbols[i] = x->symbols[i + 1];
            out->upper_bounds[i] = x->upper_bounds[i + 1];
        }
        out->rank = x->rank - 1;
    }
    return D2_OK;
}

enum d2_status d2_shape_argmax(struct d2_shape_ctx *ctx) { return shape_arg_reduce(ctx); }
enum d2_status d2_shape_argmin(struct d2_shape_ctx *ctx) { return shape_arg_reduce(ctx); }

enum d2_status d2_shape_topk(struct d2_shape_ctx *ctx)
{
    const struct d2_attrs_topk *a = ctx->node->attrs;
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_type *k_type = ctx->input_types[1];
    const struct d2_tensor *k_value = ctx->input_values[1];
    int64_t axis;

    ctx->output_types[0].dtype = x->dtype;
    ctx->output_types[1].dtype = D2_DTYPE_I64;
    if (k_type->dtype != D2_DTYPE_UNDEFINED && !d2_dtype_is_integer(k_type->dtype))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "k must be an integer tensor, got %s",
                         d2_dtype_name(k_type->dtype));
    if (x->rank < 0)
        return D2_OK;
    if (x->rank == 0)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "input must have rank >= 1");
    if (!d2_normalize_axis(a->axis, x->rank, &axis))
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d",
                         (long long)a->axis, (int)x->rank);
    copy_type(&ctx->output_types[0], x, x->dtype);
    ctx->output_types[0].symbols[axis] = NULL;
    if (k_value) {
        if (d2_tensor_numel(k_value) != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "k must have exactly one element, got %lld",
                             (long long)d2_tensor_numel(k_value));
        int64_t k = d2_tensor_get_i64(k_value, 0);
        if (k < 0)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "k = %lld is negative", (long long)k);
        if (x->dims[axis] >= 0 && k > x->dims[axis])
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "k = %lld is larger than axis %lld's size %lld",
                             (long long)k, (long long)axis, (long long)x->dims[axis]);
        ctx->output_types[0].dims[axis] = k;
        ctx->output_types[0].upper_bounds[axis] = -1;
    } else {
        ctx->output_types[0].dims[axis] = D2_DIM_UNKNOWN;
        ctx->output_types[0].upper_bounds[axis] = x->dims[axis] >= 0 ? x->dims[axis] : x->upper_bounds[axis];
    }
    copy_type(&ctx->output_types[1], &ctx->output_types[0], D2_DTYPE_I64);
    return D2_OK;
}

enum d2_status d2_shape_non_zero(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    struct d2_type *out = &ctx->output_types[0];
    int64_t dims[2];

    out->dtype = D2_DTYPE_I64;
    if (x->rank < 0)
        return D2_OK;
    /* A scalar is treated as a 1-element vector (numpy's nonzero does the same). */
    dims[0] = x->rank > 0 ? x->rank : 1;
    dims[1] = D2_DIM_UNKNOWN;
    d2_type_init(out, D2_DTYPE_I64, 2, dims);
    out->upper_bounds[1] = d2_type_numel(x);
    if (out->upper_bounds[1] == 0)
        out->dims[1] = 0;
    return D2_OK;
}

enum d2_status d2_shape_cum_sum(struct d2_shape_ctx *ctx)
{
    const struct d2_type *x = ctx->input_types[0];
    const struct d2_type *axis_type = ctx->input_types[1];
    const struct d2_tensor *axis_value = ctx->input_values[1];

    if (axis_type->dtype != D2_DTYPE_UNDEFINED && axis_type->dtype != D2_DTYPE_I32 &&
        axis_type->dtype != D2_DTYPE_I64)
        return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis must be i32 or i64, got %s",
                         d2_dtype_name(axis_type->dtype));
    if (axis_value && x->rank >= 0) {
        int64_t axis;
        if (d2_tensor_numel(axis_value) != 1)
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis must be a scalar, got %lld elements",
                             (long long)d2_tensor_numel(axis_value));
        int64_t raw = d2_tensor_get_i64(axis_value, 0);
        if (!d2_normalize_axis(raw, x->rank > 0 ? x->rank : 1, &axis))
            return d2_errorf(ctx->err, D2_ERR_SHAPE, "axis %lld is out of range for rank %d",
                             (long long)raw, (int)x->rank);
    }
    copy_type(&ctx->output_types[0], x, x->dtype);
    return D2_OK;
}
